/*
 * mproc.h - Python's multiprocessing model for C numeric code.
 *
 * The one public header of libmproc. Everything here is prefixed mproc_ / MPROC_;
 * handles are opaque.
 *
 * Conventions (they hold for every function below unless its comment says otherwise):
 *  - Functions return 0 on success or a negative error code: one of the MPROC_E* values
 *    below, or -errno for a failing system call that has no better code. mproc_strerror()
 *    has a message for every one. Global errno is never the way an error is reported.
 *  - Constructors return the new object through an out-parameter, which is set to NULL
 *    on failure.
 *  - Every pointer argument is checked: NULL where a pointer is required is MPROC_EINVAL.
 *  - Nothing is lost on error: a failed call leaves its arguments as they were, except
 *    where it says so (a map that fails part-way has transformed the chunks it finished).
 *
 * Processes: a pool belongs to the process that created it; its workers are forked
 * children that die with it (they get SIGKILL when the creator exits, see
 * mproc_pool_create). Shared arrays can be used from any process that has attached them.
 */
#ifndef MPROC_H
#define MPROC_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mproc_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(MPROC_BUILDING)
#define MPROC_API __attribute__((visibility("default")))
#else
#define MPROC_API
#endif

/* ------------------------------------------------------------------------------------ */
/* Version                                                                               */
/* ------------------------------------------------------------------------------------ */

/** The library's version string at run time ("MAJOR.MINOR.PATCH"). Cannot fail. */
MPROC_API const char *mproc_version(void);

/** The library's version at run time as MPROC_VERSION_NUMBER encodes it. Cannot fail. */
MPROC_API int mproc_version_number(void);

/* ------------------------------------------------------------------------------------ */
/* Errors                                                                                */
/* ------------------------------------------------------------------------------------ */

/*
 * XX(name, value, message). Values that mirror errno are -errno, so that a failing
 * system call's error passes through unchanged; mproc's own codes are -1000 and below.
 */
#define MPROC_ERROR_MAP(XX)                                                                 \
    XX(EINVAL, -EINVAL, "invalid argument")                                                \
    XX(ENOMEM, -ENOMEM, "out of memory")                                                   \
    XX(ENOENT, -ENOENT, "no such shared segment")                                          \
    XX(EEXIST, -EEXIST, "a shared segment with that name already exists")                  \
    XX(EACCES, -EACCES, "permission denied (segment owned by another user or mode)")       \
    XX(ENOSPC, -ENOSPC, "no space left for shared memory (/dev/shm full)")                 \
    XX(EOVERFLOW, -EOVERFLOW, "size overflows (length * element size too large)")          \
    XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                                 \
    XX(EBUSY, -EBUSY, "resource busy")                                                     \
    XX(ETRUNCATED, -1001, "segment is smaller than its header says (truncated)")           \
    XX(EBADMAGIC, -1002, "not an mproc segment (bad magic)")                               \
    XX(EVERSION, -1003, "unsupported mproc segment format version")                        \
    XX(EDTYPE, -1004, "unknown dtype or dtype mismatch")                                   \
    XX(ECORRUPT, -1005, "segment header is inconsistent")                                  \
    XX(ELENGTH, -1006, "array lengths differ")                                             \
    XX(EWORKER, -1007, "a worker process died")                                            \
    XX(EKERNEL, -1008, "a kernel reported an error")                                       \
    XX(ENAME, -1009, "invalid segment name")                                               \
    XX(ESTATE, -1010, "object used from the wrong process or in the wrong state")          \
    XX(EATTACH, -1011, "a worker could not attach to the array")

typedef enum mproc_error {
    MPROC_OK = 0,
#define MPROC__XX(name, value, msg) MPROC_##name = (value),
    MPROC_ERROR_MAP(MPROC__XX)
#undef MPROC__XX
} mproc_error;

/**
 * A message for an error code: mproc's own codes, the MPROC_E* codes, and any -errno
 * (through the C library). Unknown codes give "unknown error". 0 gives "success".
 * Cannot fail; the string is static.
 */
MPROC_API const char *mproc_strerror(int err);

/** The symbolic name of an mproc error ("MPROC_ETRUNCATED"), or NULL if it has none. */
MPROC_API const char *mproc_error_name(int err);

/* ------------------------------------------------------------------------------------ */
/* Dtypes                                                                                */
/* ------------------------------------------------------------------------------------ */

typedef enum mproc_dtype {
    MPROC_DTYPE_ANY = 0, /* only as the `expected` argument of mproc_array_attach */
    MPROC_INT8 = 1,
    MPROC_UINT8,
    MPROC_INT16,
    MPROC_UINT16,
    MPROC_INT32,
    MPROC_UINT32,
    MPROC_INT64,
    MPROC_UINT64,
    MPROC_FLOAT32,
    MPROC_FLOAT64,
} mproc_dtype;

#define MPROC_DTYPE_COUNT 10

/**
 * Parses a dtype: the full names ("int32", "float64"), the short names ("i32", "u8",
 * "f64") or one of Python's array typecodes: b B h H i I l L q Q f d (l/L are 64-bit,
 * as on LP64 Linux). Returns 0, or MPROC_EINVAL (NULL argument) or MPROC_EDTYPE.
 */
MPROC_API int mproc_dtype_parse(const char *text, mproc_dtype *out);

/** The full name of a dtype ("int32"), or NULL for a value that is not a dtype. */
MPROC_API const char *mproc_dtype_name(mproc_dtype dtype);

/** The size in bytes of one element of a dtype, or 0 for a value that is not a dtype. */
MPROC_API size_t mproc_dtype_size(mproc_dtype dtype);

/* ------------------------------------------------------------------------------------ */
/* Shared arrays                                                                         */
/* ------------------------------------------------------------------------------------ */

/*
 * A typed array in shared memory. Layout of the segment (the format, version 1):
 *
 *   offset 0                one page of header (struct below, little-endian host order)
 *   offset data_offset      the elements, page aligned: MPROC_DATA_OFFSET (4096) on
 *                           systems with 4 KiB pages, the page size otherwise
 *
 * Header fields at fixed offsets, so that other languages can read them:
 *    0  char[8]  magic "MPROCARR"          8  u32 format version (1)
 *   12  u32      header bytes in use       16  u32 dtype (mproc_dtype value)
 *   20  u32      element size             24  u64 length (elements)
 *   32  u64      data offset              40  u64 data bytes (length * element size)
 *   48  u64      instance id (random)     56  i64 creator pid
 *   64  u64      creator start time (clock ticks after boot, /proc/PID/stat field 22)
 *   72  u32      flags                    76  u32 header checksum (FNV-1a of bytes 0..75)
 *
 * A named array lives at /dev/shm/NAME until mproc_array_unlink(NAME). An anonymous
 * array (name NULL) has no name anywhere and cannot leak: its memory is freed when the
 * last process that maps it closes it or exits; pools reach it through the creating
 * process. Arrays are zero-filled on creation.
 */
typedef struct mproc_array mproc_array;

#define MPROC_DATA_OFFSET 4096
#define MPROC_FORMAT_VERSION 1
#define MPROC_NAME_MAX 200 /* longest name accepted, without a leading '/' */

/**
 * Creates a zero-filled array of `length` elements of `dtype`.
 *
 * name: NULL for an anonymous array, or a name of 1..MPROC_NAME_MAX characters from
 *       [A-Za-z0-9._-], optionally after one leading '/'; the segment is created with
 *       O_EXCL and mode 0600. length 0 is allowed.
 * The memory is reserved at creation (posix_fallocate), so a full /dev/shm is reported
 * here as MPROC_ENOSPC and never later as a SIGBUS; a size beyond the memory the
 * machine has available (MemAvailable + SwapFree) is MPROC_ENOMEM, before any of it is
 * taken, rather than an invitation to the OOM killer.
 *
 * Returns 0, or MPROC_EINVAL (NULL out), MPROC_EDTYPE, MPROC_ENAME, MPROC_EOVERFLOW,
 * MPROC_EEXIST (name taken), MPROC_ENOSPC, MPROC_ENOMEM, MPROC_EACCES or -errno.
 * On failure nothing is left in /dev/shm.
 */
MPROC_API int mproc_array_create(mproc_array **out, const char *name, mproc_dtype dtype,
                                 size_t length);

/**
 * Like mproc_array_create, then copies `length` elements from `values` (which may be
 * NULL only when length is 0): Python's multiprocessing.Array(typecode, values).
 */
MPROC_API int mproc_array_create_from(mproc_array **out, const char *name, mproc_dtype dtype,
                                      const void *values, size_t length);

/**
 * Attaches to the named array from any process of the same user.
 *
 * Before touching the data, the header is validated against the segment's real size:
 * MPROC_ENOENT (no such name), MPROC_ENAME, MPROC_EACCES (another user's segment),
 * MPROC_ETRUNCATED (segment shorter than one header page or than header + data),
 * MPROC_EBADMAGIC (not an mproc segment), MPROC_EVERSION (format version not 1),
 * MPROC_ECORRUPT (checksum, element size, offsets or sizes inconsistent),
 * MPROC_EDTYPE (expected is not MPROC_DTYPE_ANY and differs from the array's dtype, or
 * expected is not a dtype at all). Returns 0 on success.
 */
MPROC_API int mproc_array_attach(mproc_array **out, const char *name, mproc_dtype expected);

/**
 * Unmaps the array and frees the handle. Does not unlink a named segment (other
 * processes may still use it); an anonymous array's memory goes when its last user
 * closes it. mproc_array_close(NULL) returns 0. Returns 0 or -errno from munmap.
 */
MPROC_API int mproc_array_close(mproc_array *array);

/**
 * Removes the name of a segment from /dev/shm. Processes that have it attached keep
 * their mapping. Returns 0, MPROC_EINVAL, MPROC_ENAME, MPROC_ENOENT or -errno.
 */
MPROC_API int mproc_array_unlink(const char *name);

/** Pointer to the first element (page aligned); NULL for a NULL array. Cannot fail. */
MPROC_API void *mproc_array_data(const mproc_array *array);

/** Number of elements; 0 for a NULL array. Cannot fail. */
MPROC_API size_t mproc_array_length(const mproc_array *array);

/** Element dtype; MPROC_DTYPE_ANY for a NULL array. Cannot fail. */
MPROC_API mproc_dtype mproc_array_dtype(const mproc_array *array);

/** The name given at creation or attach without the leading '/', or NULL if anonymous. */
MPROC_API const char *mproc_array_name(const mproc_array *array);

/* ------------------------------------------------------------------------------------ */
/* Kernels                                                                               */
/* ------------------------------------------------------------------------------------ */

/**
 * A range kernel: transforms n elements, reading src[0..n) and writing dst[0..n).
 * src == dst for an in-place map. ctx is the pool's copy of the bytes given to mproc_map
 * (NULL when none were). Return 0, or any non-zero value to report a failure: the map
 * then returns MPROC_EKERNEL after finishing every other chunk.
 *
 * Kernels run in worker processes forked from the pool's creator: a function of the
 * program or of a library loaded before mproc_pool_create works; one loaded with dlopen
 * after it does not. A kernel must not keep pointers into ctx, src or dst after it
 * returns.
 */
typedef int (*mproc_kernel)(const void *src, void *dst, size_t n, const void *ctx);

/**
 * Built-in operations, each provided for every dtype. Integer results wrap modulo
 * 2^bits (computed in unsigned arithmetic: no undefined behaviour, e.g. the square of
 * INT32_MIN is 0 and abs/negate of INT32_MIN is INT32_MIN). Float results follow IEEE.
 * ADD and MUL take a scalar of the array's dtype (the ctx of the kernel).
 */
typedef enum mproc_op {
    MPROC_OP_SQUARE = 1,
    MPROC_OP_CUBE,
    MPROC_OP_NEGATE,
    MPROC_OP_ABS,
    MPROC_OP_ADD,
    MPROC_OP_MUL,
} mproc_op;

/** Parses "square", "cube", "negate", "abs", "add", "mul". 0, MPROC_EINVAL. */
MPROC_API int mproc_op_parse(const char *text, mproc_op *out);

/** The name of an op ("square"), or NULL for a value that is not an op. */
MPROC_API const char *mproc_op_name(mproc_op op);

/**
 * The built-in kernel for op on dtype, for mproc_map or to call directly (serially).
 * Returns 0, MPROC_EINVAL (NULL out or unknown op) or MPROC_EDTYPE.
 */
MPROC_API int mproc_kernel_get(mproc_op op, mproc_dtype dtype, mproc_kernel *out);

/* ------------------------------------------------------------------------------------ */
/* Pool                                                                                  */
/* ------------------------------------------------------------------------------------ */

/*
 * A pool of worker processes, forked once at creation and kept until destroy. A map
 * splits [0, length) into chunks; the participants (the workers and, by default, the
 * caller) claim chunks with an atomic fetch-add on a shared cursor (no lock) until none
 * are left. Idle workers spin briefly on a generation counter, then sleep on a
 * process-shared semaphore in the pool's control segment.
 *
 * What happens when a worker dies (SIGKILL, SIGSEGV in a kernel, _exit in user code,
 * the OOM killer) during a map:
 *  - the caller notices within about 20 ms (it never waits without a timeout), lets the
 *    other participants finish what they can, replaces the worker, and runs the chunks
 *    that are not finished again, on workers only;
 *  - every element is transformed exactly once, also in place with a non-idempotent
 *    kernel such as square: a worker computes an in-place chunk into a scratch area in
 *    the control segment and records in shared memory whether it is computing (the array
 *    is untouched: the chunk is redone) or copying the result back (the caller finishes
 *    the copy from the scratch). Maps from one array into another simply redo the chunk;
 *  - a chunk that was being computed by max_retries + 1 workers that all died fails:
 *    the map still finishes every other chunk, leaves that chunk's remaining elements as
 *    they were, and returns MPROC_EWORKER; mproc_pool_last_failure names the element
 *    range and the signal.
 * Idle workers that die are replaced at the next map. If the caller dies, the workers
 * get SIGKILL (PR_SET_PDEATHSIG) and also exit within a second if they find themselves
 * orphaned. The caller, when it works as worker 0, runs kernels in its own process: a
 * kernel that crashes it crashes the program, as a serial loop would; set
 * caller_works = 0 to keep untrusted kernels out of the calling process.
 */
typedef struct mproc_pool mproc_pool;

typedef struct mproc_pool_options {
    /* Participants in a map, including the caller when caller_works is set: the pool
     * forks workers - 1 processes then (workers with caller_works = 0). 0 means the
     * number of online CPUs. Must be 0..MPROC_MAX_WORKERS. */
    int workers;
    /* Non-zero (the default): the calling thread works on chunks too, as worker 0. */
    int caller_works;
    /* Elements per chunk; 0 (the default) picks one so that each participant gets
     * several chunks of 16 KiB .. 512 KiB each. */
    size_t chunk;
    /* Microseconds an idle worker (and a waiting caller) spins before it sleeps;
     * default 50. Forced to 0 when the pool has more participants than online CPUs,
     * where spinning only steals time from the ones doing the work. */
    unsigned spin_us;
    /* How many times a chunk is retried after a worker died computing it; the next
     * death fails the chunk (see mproc_map). Default 3; 0..1000. */
    int max_retries;
    /* MPROC_COMMIT_EXACTLY_ONCE (default): in-place chunks are computed into a scratch
     * area and copied back, so that a worker death never transforms an element twice.
     * MPROC_COMMIT_DIRECT: workers write in place directly, a little faster; after a
     * death the chunk is run again from its start, so elements the dead worker had
     * written are transformed twice. Only for kernels that are safe to re-run on their
     * own output (abs, a copy, a fill) or maps from one array into another. */
    int commit_mode;
} mproc_pool_options;

#define MPROC_COMMIT_EXACTLY_ONCE 0
#define MPROC_COMMIT_DIRECT 1

#define MPROC_MAX_WORKERS 1024

/** Fills *opts with the defaults documented above. Does nothing for NULL. */
MPROC_API void mproc_pool_options_init(mproc_pool_options *opts);

/**
 * Creates a pool; opts NULL means the defaults. Workers are forked now; each gets
 * SIGKILL if its creator dies (prctl PR_SET_PDEATHSIG) and exits if it finds itself
 * orphaned. Returns 0, or MPROC_EINVAL (NULL out; workers, spin_us or max_retries out
 * of range),
 * MPROC_ENOMEM, or -errno (fork, memfd_create, mmap). On failure no process is left
 * running and nothing is left in /dev/shm.
 */
MPROC_API int mproc_pool_create(mproc_pool **out, const mproc_pool_options *opts);

/**
 * Stops the workers, waits for them (SIGKILL after a second for one that does not
 * exit) and frees the pool. NULL returns 0. Returns MPROC_ESTATE from another process
 * than the creator (a forked child must not destroy its parent's pool; it only frees
 * its own copy of the handle then).
 */
MPROC_API int mproc_pool_destroy(mproc_pool *pool);

/** Participants in a map (as options.workers resolved); 0 for NULL. Cannot fail. */
MPROC_API int mproc_pool_workers(const mproc_pool *pool);

/**
 * The chunk, in elements, that a map over `length` elements uses on this pool (the
 * fixed chunk if one was set, else the automatic choice for elem_size). 0 for NULL
 * pool or zero elem_size.
 */
MPROC_API size_t mproc_pool_chunk_for(const mproc_pool *pool, size_t length,
                                      size_t elem_size);

/**
 * Sets the chunk in elements for later maps (0 = automatic). A map never has more than
 * 65536 chunks: a smaller chunk is raised to length / 65536 (rounded up) for that map,
 * and mproc_pool_chunk_for reports the chunk actually used. Returns 0 or MPROC_EINVAL.
 */
MPROC_API int mproc_pool_set_chunk(mproc_pool *pool, size_t chunk);

/**
 * Lets every worker map `array` now and fault in its page tables, so that the first
 * map over it does not pay for that. Optional: maps attach on demand. Returns 0,
 * MPROC_EINVAL, MPROC_ESTATE, MPROC_EATTACH or MPROC_EWORKER.
 */
MPROC_API int mproc_pool_prepare(mproc_pool *pool, const mproc_array *array);

/**
 * Applies kernel to every element:
 *     for (i = 0; i < length; i += chunk)
 *         kernel(src_data + i, dst_data + i, min(chunk, length - i), ctx_copy);
 * with the chunks spread over the participants. src == dst is an in-place map.
 * ctx_size bytes at ctx (at most MPROC_CTX_MAX; ctx may be NULL when ctx_size is 0) are
 * copied into shared memory for the workers. Maps on one pool are serialized.
 *
 * Returns 0; MPROC_EINVAL (NULL pool/kernel/array, ctx_size too big, ctx NULL with a
 * size), MPROC_EDTYPE (dtypes differ), MPROC_ELENGTH (lengths differ), MPROC_ESTATE
 * (called from another process than the pool's creator), MPROC_EKERNEL (a kernel
 * returned non-zero: every other chunk was still done; that chunk holds what the kernel
 * wrote), MPROC_EATTACH (a worker could not map an array; its chunks were not done) or
 * MPROC_EWORKER (a chunk kept killing workers: see "What happens when a worker dies"
 * above; every other chunk was done exactly once).
 * A zero-length map returns 0 without waking anyone.
 */
MPROC_API int mproc_map(mproc_pool *pool, mproc_kernel kernel, const void *ctx,
                        size_t ctx_size, const mproc_array *src, mproc_array *dst);

#define MPROC_CTX_MAX 256

/** A chunk that a map gave up on because workers kept dying on it. */
typedef struct mproc_map_failure {
    size_t start;    /* first element left untransformed */
    size_t end;      /* one past the last; [start, end) is as it was before the map */
    int signal;      /* the signal that killed the last worker on it, 0 if it exited */
    int exit_status; /* its exit status if it exited, else -1 */
    int deaths;      /* workers that died computing this chunk */
} mproc_map_failure;

/**
 * The first chunk the last map on this pool gave up on. Returns 0 and fills *out, or
 * MPROC_ENOENT when the last map gave up on nothing, or MPROC_EINVAL for NULLs.
 */
MPROC_API int mproc_pool_last_failure(const mproc_pool *pool, mproc_map_failure *out);

/** Counters over a pool's life, for tests, monitoring and benchmarks. */
typedef struct mproc_pool_stats {
    uint64_t maps;           /* maps run (including inline ones) */
    uint64_t worker_deaths;  /* workers found dead (and replaced) */
    uint64_t chunks_retried; /* chunks run again after a death */
    uint64_t chunks_failed;  /* chunks given up on */
} mproc_pool_stats;

/** Copies the pool's counters. Returns 0 or MPROC_EINVAL. */
MPROC_API int mproc_pool_get_stats(const mproc_pool *pool, mproc_pool_stats *out);

/**
 * Writes up to `cap` pids of the pool's forked workers to pids (0 for a worker found
 * dead and not yet replaced) and returns how many workers the pool forks (which may
 * exceed cap), or MPROC_EINVAL (NULL pool, or NULL pids with cap > 0).
 */
MPROC_API int mproc_pool_worker_pids(const mproc_pool *pool, pid_t *pids, int cap);

/**
 * mproc_map with a built-in op. scalar points to one value of the array's dtype for
 * MPROC_OP_ADD and MPROC_OP_MUL (MPROC_EINVAL if NULL there) and is ignored otherwise.
 * Same errors as mproc_map, plus those of mproc_kernel_get.
 */
MPROC_API int mproc_map_op(mproc_pool *pool, mproc_op op, const void *scalar,
                           const mproc_array *src, mproc_array *dst);

/** Squares every element of `array` in place: mproc_map_op(pool, SQUARE, NULL, a, a). */
MPROC_API int mproc_square(mproc_pool *pool, mproc_array *array);

/* ------------------------------------------------------------------------------------ */
/* Pool tasks: apply, map of byte blobs, async results                                   */
/* ------------------------------------------------------------------------------------ */
/* (section: tasks) */

/* ------------------------------------------------------------------------------------ */
/* Processes                                                                             */
/* ------------------------------------------------------------------------------------ */
/* (section: process) */

/* ------------------------------------------------------------------------------------ */
/* Synchronization and IPC: Lock, RLock, Semaphore, Event, Condition, Barrier, Value,     */
/* Queue, Pipe                                                                           */
/* ------------------------------------------------------------------------------------ */
/* (section: ipc) */

/* ------------------------------------------------------------------------------------ */
/* Segment inspection and cleanup (mproc ls / mproc gc)                                 */
/* ------------------------------------------------------------------------------------ */
/* (section: segments) */

#ifdef __cplusplus
}
#endif

#endif /* MPROC_H */
