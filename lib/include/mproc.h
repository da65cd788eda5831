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
 * mproc_pool_create), or, with the spawn start method, fresh programs started with
 * posix_spawn, or processes that joined by hand (`mproc worker --pool NAME`). Shared arrays can be used from any process that has attached them.
 * A Process (mproc_process_*) is a forked child of its creator, and only the creator
 * joins it. The IPC objects (Lock, Queue, Value, ...) live in shared mappings made
 * before fork: processes forked after their creation share them.
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
    XX(EATTACH, -1011, "a worker could not attach to the array")                           \
    XX(EKERNELNAME, -1012, "no kernel of that name for this dtype")                         \
    XX(ELIBRARY, -1013, "kernel library cannot be loaded or has no mproc_kernels table")    \
    XX(ESPAWNED, -1014, "function pointers cannot reach spawned workers: use named kernels") \
    XX(ENOWORKER, -1015, "the pool has no live worker to run the job")                      \
    XX(EOWNERDEAD, -1100, "acquired; its previous holder died holding it")                 \
    XX(EBROKEN, -1101, "barrier is broken (aborted, or a wait timed out)")                 \
    XX(EFULL, -1102, "queue is full")                                                      \
    XX(EEMPTY, -1103, "queue is empty")                                                    \
    XX(ECLOSED, -1104, "queue or connection is closed")                                    \
    XX(ENOTOWNER, -1105, "lock is not held by the calling thread")                         \
    XX(ETOOBIG, -1106, "message too big (for the queue or pipe, or for the buffer given)") \
    XX(EOVERRELEASE, -1107, "semaphore released too many times (bounded semaphore)")       \
    XX(ETASK, -1200, "a task returned an error")                                           \
    XX(ETERMINATED, -1201, "the pool was terminated before the task finished")             \
    XX(ECANCELED, -1202, "task cancelled: another task of the same call failed")           \
    XX(EEXHAUSTED, -1203, "no more results: every task's result was returned")

/** Error codes: 0, and the MPROC_E* values of MPROC_ERROR_MAP (all negative). */
typedef enum mproc_error {
    MPROC_OK = 0,
#define MPROC__XX(name, value, msg) MPROC_##name = (value),
    MPROC_ERROR_MAP(MPROC__XX)
#undef MPROC__XX
} mproc_error;

/**
 * A message for an error code: the MPROC_E* codes and any -errno (through the C
 * library). Unknown codes, including unassigned ones at -1000 and below, give
 * "unknown error". 0 gives "success".
 * Cannot fail; the string is static.
 */
MPROC_API const char *mproc_strerror(int err);

/** The symbolic name of an mproc error ("MPROC_ETRUNCATED"), or NULL if it has none. */
MPROC_API const char *mproc_error_name(int err);

/* ------------------------------------------------------------------------------------ */
/* Dtypes                                                                                */
/* ------------------------------------------------------------------------------------ */

/** Element types of arrays and values. */
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

/** The number of dtypes: they are 1 .. MPROC_DTYPE_COUNT. */
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
 * Flags (offset 72): bit 0 is MPROC_ARRAY_KEEP (mproc_array_set_keep). The other bits
 * are reserved: written 0, and ignored by readers: attach and mproc_segment_stat accept
 * a header with reserved bits set (stat reports them in flags), and set_keep leaves them
 * as they are. A flag never changes the layout: a change that readers must understand
 * would be a new format version.
 *
 * A named array lives at /dev/shm/NAME until mproc_array_unlink(NAME). An anonymous
 * array (name NULL) has no name anywhere and cannot leak: its memory is freed when the
 * last process that maps it closes it or exits; pools reach it through the creating
 * process. Arrays are zero-filled on creation.
 */
typedef struct mproc_array mproc_array;

/** Where the elements start on systems with 4 KiB pages (the page size otherwise). */
#define MPROC_DATA_OFFSET 4096
/** The segment format version this library writes and accepts. */
#define MPROC_FORMAT_VERSION 1
/** Header flag (bit 0 of the u32 at offset 72): the array is made to outlive its creator
 * and only an explicit unlink removes it (see mproc_array_set_keep). */
#define MPROC_ARRAY_KEEP 0x1u
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
 * MPROC_EBADMAGIC (not an mproc segment: wrong magic, or not a regular file, e.g. a
 * symlink, FIFO or directory), MPROC_EVERSION (format version not 1),
 * MPROC_ECORRUPT (checksum, element size, offsets or sizes inconsistent),
 * MPROC_EDTYPE (expected is not MPROC_DTYPE_ANY and differs from the array's dtype, or
 * expected is not a dtype at all). Returns 0 on success.
 */
MPROC_API int mproc_array_attach(mproc_array **out, const char *name, mproc_dtype expected);

/**
 * Attaches to a named segment that has no mproc header (a raw one, such as Python's
 * multiprocessing.shared_memory.SharedMemory makes): `length` elements of `dtype` start
 * at offset 0. The segment may be bigger than that (a maker may round its size up to
 * whole pages, as Python does on macOS); the rest is ignored. length 0 is allowed. The handle works wherever an array
 * does (accessors, mproc_map and the other maps, mproc_pool_prepare, close), and
 * mproc_array_unlink(name) removes the segment like any other.
 *
 * Without a header nothing but the size can be checked: the caller vouches for the
 * dtype and length. The size is checked here, once, and again by each pool worker when
 * it maps the segment; the segment must not be shrunk while attached (touching memory
 * beyond its end is SIGBUS, in a worker a worker death). Pool workers know the segment
 * by its name and inode: if the name has been given to another segment meanwhile, a map
 * fails with MPROC_EATTACH rather than touching it. For in-place maps pass the same
 * handle as src and dst.
 *
 * Returns 0, or MPROC_EINVAL (NULL out or name), MPROC_ENAME, MPROC_EDTYPE (not a dtype),
 * MPROC_EOVERFLOW (length * element size too big), MPROC_ENOENT (no such name),
 * MPROC_EACCES (another user's segment), MPROC_EBADMAGIC (not a regular file: a symlink,
 * FIFO or directory), MPROC_ETRUNCATED (smaller than length * element size), MPROC_ENOMEM
 * or -errno.
 */
MPROC_API int mproc_array_attach_raw(mproc_array **out, const char *name, mproc_dtype dtype,
                                     size_t length);

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

/**
 * Marks the named array as kept (keep != 0) or not (keep == 0): sets or clears
 * MPROC_ARRAY_KEEP in the segment's header, which every process sees. A kept array is
 * made to outlive its creator: mproc_segment_reclaim (`mproc gc`) never removes it, even
 * when its creator is dead, and only mproc_array_unlink (`mproc rm`) does. An array that
 * is not kept is reclaimable once its creator is dead, which is what cleans up after a
 * crashed program; keep an array when it is finished (filled), so that one left half
 * made by a crash is still reclaimed. `mproc create` keeps the arrays it makes.
 *
 * Concurrency: the header is in shared memory, and attach validates its checksum. The
 * flags and the checksum are adjacent (offsets 72..79) and are written together, by one
 * aligned 8-byte atomic compare-and-swap, so that another process never sees new flags
 * with the old checksum: attaching, stat and reclaim are safe to run at the same time,
 * and of two concurrent set_keep calls the last one wins. Works across fork and on an
 * array that other processes have attached. Idempotent.
 *
 * Returns 0, or MPROC_EINVAL (NULL array; an anonymous array, which has no name to
 * outlive anyone with; or one from mproc_array_attach_raw, which has no header), or
 * MPROC_ECORRUPT (the header in shared memory no longer matches the one validated at
 * create or attach: someone rewrote it; nothing is written).
 */
MPROC_API int mproc_array_set_keep(mproc_array *array, int keep);

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
 * after it does not (load it with mproc_pool_load_kernels instead). Workers that were
 * not forked (spawned, or started by hand) find kernels by name: see "Kernels by name".
 * A kernel must not keep pointers into ctx, src or dst after it returns.
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

/*
 * Kernels by name. Workers of a spawned pool (MPROC_START_SPAWN) or started by hand
 * (MPROC_START_MANUAL) are fresh programs: a function pointer of the caller means
 * nothing to them, so what a map sends them is a kernel's name, and each worker finds
 * the kernel under that name in its own process. The names:
 *  - the built-in ops, for every dtype: "square", "cube", "negate", "abs", "add", "mul";
 *  - kernels registered with mproc_kernel_register in the worker's program (a program
 *    that is its own worker executable registers them before calling mproc_spawn_main);
 *  - kernels of a shared object loaded with mproc_pool_load_kernels (every worker loads
 *    it too) or mproc_kernel_load. Such a library exports a table named mproc_kernels:
 *
 *        const mproc_kernel_def mproc_kernels[] = {
 *            {"poly3", MPROC_FLOAT64, poly3_f64},
 *            {"clip", MPROC_DTYPE_ANY, clip_any},   // any dtype
 *            {NULL, 0, NULL},                       // the end
 *        };
 *
 * A name is 1..MPROC_KERNEL_NAME_MAX characters from [A-Za-z0-9_.-]. A lookup tries an
 * entry for the exact dtype before one for MPROC_DTYPE_ANY; later registrations of the
 * same name and dtype replace earlier ones; built-in names cannot be replaced.
 */
#define MPROC_KERNEL_NAME_MAX 63
#define MPROC_KERNEL_TABLE "mproc_kernels" /* the symbol a kernel library exports */

/** One entry of a kernel library's mproc_kernels table (ended by a NULL name). */
typedef struct mproc_kernel_def {
    const char *name;  /* the kernel's name; NULL ends a table */
    mproc_dtype dtype; /* the dtype it is for, or MPROC_DTYPE_ANY */
    mproc_kernel fn;   /* the kernel */
} mproc_kernel_def;

/**
 * Registers fn under name for dtype (MPROC_DTYPE_ANY: every dtype) in this process.
 * Processes forked afterwards inherit the registration. Thread-safe.
 * Returns 0, MPROC_EINVAL (NULL name or fn; a built-in op's name), MPROC_EKERNELNAME
 * (name empty, too long or with other characters), MPROC_EDTYPE or MPROC_ENOMEM.
 */
MPROC_API int mproc_kernel_register(const char *name, mproc_dtype dtype, mproc_kernel fn);

/**
 * Finds the kernel called name for dtype: a built-in op, else a registered kernel.
 * Returns 0, MPROC_EINVAL (NULL argument), MPROC_EDTYPE (not a dtype) or
 * MPROC_EKERNELNAME (no such kernel for that dtype).
 */
MPROC_API int mproc_kernel_find(const char *name, mproc_dtype dtype, mproc_kernel *out);

/**
 * Loads a kernel library into this process (dlopen with RTLD_NOW) and registers every
 * entry of its mproc_kernels table. Loading the same path twice registers once.
 * Returns 0, MPROC_EINVAL (NULL path), MPROC_ELIBRARY (dlopen failed: missing file,
 * unresolved symbol, wrong architecture; or the library has no mproc_kernels table, or
 * an entry with a bad name or dtype, in which case none of it is registered) or
 * MPROC_ENOMEM. The library is never unloaded.
 */
MPROC_API int mproc_kernel_load(const char *path);

/* ------------------------------------------------------------------------------------ */
/* Pool                                                                                  */
/* ------------------------------------------------------------------------------------ */

/*
 * A pool of worker processes, started once at creation (forked by default; see
 * start_method) and kept until destroy. A map splits [0, length) into chunks; the
 * participants (the workers and, by default, the caller) claim chunks with an atomic
 * fetch-add on a shared cursor (no lock) until none are left. Idle workers spin briefly on a generation counter, then sleep on a
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
 * orphaned. Workers reset the termination signals (SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
 * SIGUSR2, SIGALRM, SIGPIPE) to their defaults and ignore SIGINT, which the caller's
 * program handles; handlers of fault signals are kept.
 * The caller, when it works as worker 0, runs kernels in its own process: a
 * kernel that crashes it crashes the program, as a serial loop would; set
 * caller_works = 0 to keep untrusted kernels out of the calling process.
 */
typedef struct mproc_pool mproc_pool;

/** Options of mproc_pool_create; mproc_pool_options_init sets the defaults. */
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
    /* MPROC_COMMIT_EXACTLY_ONCE (default): a worker death never transforms an element
     * twice. Built-in kernels change in-place chunks in one pass, each block saved to a
     * scratch area first (as fast as writing directly at the memory's speed); other
     * kernels compute into the scratch, which is then copied back.
     * MPROC_COMMIT_DIRECT: workers write in place directly, a little faster for kernels
     * of your own; after a
     * death the chunk is run again from its start, so elements the dead worker had
     * written are transformed twice. Only for kernels that are safe to re-run on their
     * own output (abs, a copy, a fill) or maps from one array into another. */
    int commit_mode;
    /* Tasks (Python's Pool(initializer=, initargs=)): called as initializer(initarg)
     * in every forked worker when it starts, replacements included, before it runs
     * anything. initarg is passed as is: the worker sees its own copy of the memory it
     * points to, as of the fork. NULL (the default): none. */
    void (*initializer)(void *initarg);
    void *initarg; /* the argument of initializer */
    /* Tasks (Python's maxtasksperchild): a forked worker that has run this many tasks
     * (a chunk of a task map counts as one) exits cleanly and is replaced by a fresh
     * one. 0 (the default): no limit. Negative: MPROC_EINVAL. */
    int maxtasksperchild;
    /* How workers start (Python's start methods), one of:
     *  MPROC_START_DEFAULT (0, the default): the process-wide choice made with
     *      mproc_set_start_method, which is MPROC_START_FORK unless changed;
     *  MPROC_START_FORK: workers are forked children of the creator (the fastest start;
     *      kernels and tasks may be any function of the program);
     *  MPROC_START_SPAWN: workers are fresh programs started with posix_spawn (safe in
     *      a process that already runs threads, where fork is not): worker_exe, run as
     *      `worker_exe --mproc-worker ...`, attaches to the pool's control segment. Maps
     *      send kernels by name (see "Kernels by name"); tasks and initializer are not
     *      available (MPROC_ESPAWNED / MPROC_EINVAL);
     *  MPROC_START_MANUAL: the pool starts no worker: `workers` slots (minus the caller)
     *      wait for processes that join with `mproc worker --pool NAME` or
     *      mproc_worker_serve(NAME), and that may leave again; name is required. Maps
     *      as with SPAWN; see mproc_pool_wait_workers.
     * The crash guarantees of maps are the same for every method. */
    int start_method;
    /* The control segment's name (the rules of array names; it appears in /dev/shm while
     * the pool lives and is removed by mproc_pool_destroy), so that workers can join by
     * name. NULL (the default): anonymous; spawned workers then reach it through the
     * creator's /proc/PID/fd. Required for MPROC_START_MANUAL. */
    const char *name;
    /* The executable spawned workers run: NULL (the default) means $MPROC_WORKER_EXE when
     * set, else the `mproc` command installed with the library. A program of your own
     * (for example "/proc/self/exe", the caller's own program, which then has its own
     * registered kernels) must call mproc_spawn_main at the top of main. */
    const char *worker_exe;
} mproc_pool_options;

/** Values of mproc_pool_options.start_method (see there). */
#define MPROC_START_DEFAULT 0
#define MPROC_START_FORK 1
#define MPROC_START_SPAWN 2
#define MPROC_START_MANUAL 3

/** Values of mproc_pool_options.commit_mode (see there). */
#define MPROC_COMMIT_EXACTLY_ONCE 0
#define MPROC_COMMIT_DIRECT 1

/** The most participants a pool may have (mproc_pool_options.workers). */
#define MPROC_MAX_WORKERS 1024

/** Fills *opts with the defaults documented above. Does nothing for NULL. */
MPROC_API void mproc_pool_options_init(mproc_pool_options *opts);

/**
 * Creates a pool; opts NULL means the defaults. Workers are forked (or spawned) now;
 * each gets SIGKILL if its creator dies (prctl PR_SET_PDEATHSIG) and exits if it finds
 * itself orphaned; a spawned worker has attached and checked the control segment
 * before this returns. Returns 0, or MPROC_EINVAL (NULL out; workers, spin_us,
 * max_retries or start_method out of range; an initializer or no name where the start
 * method does not allow it), MPROC_ENAME, MPROC_EEXIST (options.name taken),
 * MPROC_ENOENT or MPROC_EACCES (the worker executable of a spawn pool is missing or
 * not executable), MPROC_EWORKER (a spawned worker exited instead of attaching: not a
 * worker program, or one of another mproc version), MPROC_ENOSPC, MPROC_ENOMEM, or
 * -errno (fork, posix_spawn, memfd_create, shm_open, mmap). On failure no process is
 * left running and nothing is left in /dev/shm.
 */
MPROC_API int mproc_pool_create(mproc_pool **out, const mproc_pool_options *opts);

/**
 * Stops the workers, waits for them (SIGKILL after a second for one that does not
 * exit) and frees the pool. NULL returns 0. Returns MPROC_ESTATE from another process
 * than the creator (a forked child must not destroy its parent's pool; it only frees
 * its own copy of the handle then).
 */
MPROC_API int mproc_pool_destroy(mproc_pool *pool);

/**
 * Sets the start method pools use when their options say MPROC_START_DEFAULT (Python's
 * multiprocessing.set_start_method): MPROC_START_FORK, MPROC_START_SPAWN or
 * MPROC_START_MANUAL. Process-wide; pools already created keep theirs. Returns 0 or
 * MPROC_EINVAL.
 */
MPROC_API int mproc_set_start_method(int method);

/** The start method MPROC_START_DEFAULT stands for now. Cannot fail. */
MPROC_API int mproc_get_start_method(void);

/** The start method a pool was created with (never DEFAULT); 0 for NULL. */
MPROC_API int mproc_pool_start_method(const mproc_pool *pool);

/** The pool's control segment name as given in options.name, or NULL. Cannot fail. */
MPROC_API const char *mproc_pool_name(const mproc_pool *pool);

/**
 * Waits until at least `count` workers are in the pool (joined by hand, for a
 * MPROC_START_MANUAL pool; forked and spawned pools have theirs from the start), for at
 * most timeout_ms milliseconds (negative: no limit). Returns 0, MPROC_EINVAL (NULL pool,
 * count below 0 or above the pool's worker slots), MPROC_ESTATE (not the creator) or
 * MPROC_ETIMEDOUT.
 */
MPROC_API int mproc_pool_wait_workers(mproc_pool *pool, int count, int timeout_ms);

/**
 * Loads a kernel library (see mproc_kernel_load) in the caller now, so that a missing
 * or broken library is reported here, and in every worker of the pool before its next
 * map (replacements and workers that join later included). At most 8 per pool.
 * Returns 0, MPROC_EINVAL (NULL argument, a path longer than 4095 bytes, or 8 already
 * loaded), MPROC_ESTATE, or the errors of mproc_kernel_load. A worker that cannot load
 * it fails the chunks it takes with MPROC_ELIBRARY.
 */
MPROC_API int mproc_pool_load_kernels(mproc_pool *pool, const char *path);

/**
 * Serves as a worker of the pool whose control segment is called pool_name (a
 * MPROC_START_MANUAL pool, or any pool created with a name that has a free worker slot):
 * takes a free slot, runs the pool's maps until the pool is destroyed, its creator dies,
 * or mproc_worker_stop is called, then leaves the slot free and returns. Leaving is
 * clean: a map in progress is finished first. A worker that dies instead is treated as
 * any dead worker (its chunk is recovered exactly once).
 * Returns 0 (left), MPROC_EINVAL (NULL), MPROC_ENAME, MPROC_ENOENT (no such pool),
 * MPROC_EACCES, MPROC_EBADMAGIC (not a pool's control segment), MPROC_EVERSION (a pool
 * of another mproc version or build), MPROC_EBUSY (every worker slot is taken),
 * MPROC_ELIBRARY (a kernel library of the pool cannot be loaded here) or -errno.
 */
MPROC_API int mproc_worker_serve(const char *pool_name);

/**
 * Asks mproc_worker_serve in this process to leave at its next idle moment.
 * Async-signal-safe (made for a SIGTERM / SIGINT handler). Cannot fail.
 */
MPROC_API void mproc_worker_stop(void);

/**
 * For programs that are a spawned pool's worker_exe: when this process was started as a
 * worker (argv[1] is "--mproc-worker"), serves the pool and exits (status 0 after the
 * pool shut down; 2 for bad worker arguments or a segment that is not a pool; 1 for
 * other failures) and never returns. Otherwise returns 0 at once and touches nothing.
 * Call it at the top of main, after registering the program's kernels.
 */
MPROC_API int mproc_spawn_main(int argc, char **argv);

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
 * returned non-zero: every other chunk was still done; the elements that kernel call
 * was given hold what it wrote to them when the caller or a MPROC_COMMIT_DIRECT pool
 * ran it, and are left as they were when a worker ran it through its scratch),
 * MPROC_EATTACH (a worker could not map an array; its chunks were not done),
 * MPROC_EWORKER (a chunk kept killing workers: see "What happens when a worker dies"
 * above; every other chunk was done exactly once), MPROC_ESPAWNED (a pool whose
 * workers were not forked, and a kernel that is neither built in nor registered by
 * name: see "Kernels by name"; nothing was done) or MPROC_ENOWORKER (a MANUAL pool with
 * no worker in it, and caller_works 0; or every worker left or died during the map:
 * the chunks not done are as they were).
 * A zero-length map returns 0 without waking anyone.
 */
MPROC_API int mproc_map(mproc_pool *pool, mproc_kernel kernel, const void *ctx,
                        size_t ctx_size, const mproc_array *src, mproc_array *dst);

/** The most bytes of ctx that mproc_map copies for the kernels. */
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

/**
 * mproc_map with the kernel called `kernel` for the arrays' dtype (see "Kernels by
 * name"), for pools of any start method. Same errors as mproc_map, plus
 * MPROC_EKERNELNAME when no kernel has that name here (in the caller: nothing was
 * done) and, from workers, MPROC_EKERNELNAME or MPROC_ELIBRARY for the chunks a worker
 * could not find the kernel for (those chunks are left as they were).
 */
MPROC_API int mproc_map_named(mproc_pool *pool, const char *kernel, const void *ctx,
                              size_t ctx_size, const mproc_array *src, mproc_array *dst);

/* ------------------------------------------------------------------------------------ */
/* Pool tasks: apply, map of byte blobs, async results                                   */
/* ------------------------------------------------------------------------------------ */
/* (section: tasks) */

/*
 * Tasks: Python's Pool.apply, apply_async, map, map_async, starmap, starmap_async, imap
 * and imap_unordered, on the same pool (and the same worker processes) as the array maps.
 * A task is a function called with a byte blob and writing a byte blob:
 *
 *     size_t size = capacity;
 *     int code = fn(arg, arg_size, result, &size);   // in a worker process
 *
 * Data. Arguments and results are copied through the pool's control segment (shared
 * memory): at most MPROC_TASK_ARG_MAX bytes of argument and MPROC_TASK_RESULT_MAX bytes
 * of result per task, each 16-byte aligned when the function sees it. Submitting a
 * bigger argument is MPROC_ETOOBIG; a task that reports a bigger result than its
 * capacity fails with MPROC_ETOOBIG. Big data travels in shared arrays (mproc_array):
 * pass their names or offsets in the blob, or use mproc_map.
 *
 * Task functions run in forked workers (a pool with another start method refuses
 * tasks with MPROC_ESPAWNED): a function of the program or of a library loaded before
 * mproc_pool_create works; one loaded with dlopen after it does not. They
 * see the memory of the creator as it was when the worker was forked (workers are
 * replaced after a death or after maxtasksperchild tasks: a replacement is a fresh fork).
 * Pointers inside blobs point into the creator's memory, not into shared memory.
 *
 * Workers. Tasks run only in the pool's forked workers (never in the calling thread):
 * options.workers counts the caller for maps, so for Python's Pool(processes=n) create
 * the pool with workers = n and caller_works = 0. A pool without forked workers
 * (workers = 1 with caller_works set) runs each task in the submitting thread, at
 * submission (the initializer runs there once, before the first task; maxtasksperchild
 * does not apply; a task that crashes crashes the caller). Sizes as in Python: workers
 * 0 means the number of CPUs (Python's processes=None), a negative count or a negative
 * maxtasksperchild is MPROC_EINVAL (Python's ValueError), chunksize 0 is automatic.
 *
 * Order. Tasks are taken in submission order (FIFO) by whichever worker is free. A
 * worker prefers a map's chunks over queued tasks: maps and tasks interleave, they are
 * not serialized. A map started while workers run long tasks gets them when they finish
 * their task (the caller works on the map meanwhile if caller_works is set).
 *
 * Results and errors. Every task has its own outcome: 0, or MPROC_ETASK (the function
 * returned non-zero: that code and its message, see mproc_task_fail, are in the
 * failure record), MPROC_ETOOBIG, MPROC_EWORKER (the worker died running it: the failure
 * record has the signal or exit status; the task is not run again, as in Python),
 * MPROC_ECANCELED (fail-fast, below), MPROC_ETERMINATED (the pool was terminated or
 * destroyed first) or MPROC_ENOMEM (its result could not be kept). A failing task does
 * not hurt its worker or the other tasks: a map runs every task and reports the first
 * failure, by index: the failed task with the lowest index (cancelled and terminated
 * tasks count only if no task failed otherwise), so that the report does not depend on
 * timing; with MPROC_TASK_FAIL_FAST it cancels the tasks of the call that have not
 * started instead. Python's map_async fails fast; mproc runs everything unless asked.
 *
 * What happens when a worker dies during a task (SIGKILL, SIGSEGV, _exit, the OOM
 * killer): the pool notices within about 20 ms (its result thread, or a running map,
 * reaps the worker), that task fails with MPROC_EWORKER and the signal (Python reports
 * the death the same way: the task is not retried, since running it again could kill
 * again or repeat its side effects), and the worker is replaced. In a chunk of a map,
 * the tasks the worker had finished keep their results and those after the fatal one
 * run again on other workers. Tasks queued behind continue on the other workers and on
 * the replacement; the pool stays usable for tasks and maps. A worker that dies idle is
 * replaced when tasks are outstanding (or at the next map). Deaths during tasks count in
 * mproc_pool_stats.worker_deaths; workers retired by maxtasksperchild do not.
 *
 * Callbacks (Python's callback / error_callback) run on the pool's result thread, a
 * thread the pool starts in the creator at the first task call: one at a time, in
 * completion order, before the result becomes ready (so get/wait/join return after the
 * callback has run). A callback must not block on the pool's results (get, wait, next,
 * join or terminate from a callback return MPROC_ESTATE) and should be short; it may
 * submit new tasks. Every async result gets exactly one call: callback when every task
 * of the call succeeded (also for an empty map), error_callback with the first failure
 * otherwise; none once the pool is terminated or destroyed (as in Python; also not for
 * results that had finished but whose callback had not run yet).
 *
 * Latency: the submitting thread writes the task into shared memory and wakes a worker
 * only if none is spinning; a get spins (up to 4 x options.spin_us, longer than a worker
 * takes to wake up) before it sleeps, so that apply_async + get costs about a
 * microsecond while the pool is busy, and a futex wake-up (tens of microseconds) after
 * the workers went to sleep or when the pool has more workers than CPUs (nobody spins
 * then). Use map with chunks for many small tasks.
 *
 * Processes and threads: only the pool's creator may submit tasks or wait for their
 * results (MPROC_ESTATE from another process). Any thread of it may, concurrently. The
 * creator becomes multi-threaded at the first task call (the result thread); workers
 * forked after that (replacements) are forks of a multi-threaded process, which is safe
 * for the library and for the C library's malloc and stdio (glibc), not for locks of
 * your own that other threads may hold.
 */

#define MPROC_TASK_ARG_MAX 65536    /* bytes of one task's argument */
#define MPROC_TASK_RESULT_MAX 65536 /* bytes of one task's result */
#define MPROC_TASK_MSG_MAX 256      /* bytes of a task's error message, with the NUL */
#define MPROC_TASK_CHUNK_MAX 1024   /* tasks in one chunk of a map, at most */
#define MPROC_STAR_ARGS_MAX 16      /* arguments of a starmap task, at most */

/**
 * A task. arg: the argument blob (arg_size bytes, 16-byte aligned; NULL when arg_size
 * is 0). result: where to write the result (16-byte aligned); *result_size holds its
 * capacity on entry (the per-task result_size of a map, the capacity given to apply, or
 * MPROC_TASK_RESULT_MAX) and must hold the bytes written on return (left as it is, the
 * whole capacity is the result). Return 0, or any non-zero code to make the task fail
 * with MPROC_ETASK; that code, and a message set with mproc_task_fail, reach the caller.
 * Writing more than the capacity is undefined (the shared segment of the pool is
 * overwritten); reporting more makes the task fail with MPROC_ETOOBIG.
 */
typedef int (*mproc_task_fn)(const void *arg, size_t arg_size, void *result,
                             size_t *result_size);

/**
 * A starmap task: Python's f(*args). argv[k] (arg_sizes[k] bytes, 16-byte aligned) is
 * the k-th argument, argc of them. Results and return value as for mproc_task_fn.
 */
typedef int (*mproc_star_fn)(int argc, const void *const *argv, const size_t *arg_sizes,
                             void *result, size_t *result_size);

/**
 * Inside a task: sets the message the caller gets with the failure (printf format,
 * truncated to MPROC_TASK_MSG_MAX - 1 bytes) and returns code, so that a task can end
 * with `return mproc_task_fail(7, "bad input %d", x);`. The message is kept only if
 * the task returns non-zero; a chunk of a map keeps the messages of its first 16 failed
 * tasks (later ones get "task returned CODE"). Outside a task it only returns code.
 * Cannot fail.
 */
MPROC_API int mproc_task_fail(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/** What went wrong with one task. */
typedef struct mproc_task_failure {
    size_t index;    /* the task's index in its call (0 for apply) */
    int error;       /* MPROC_ETASK, MPROC_ETOOBIG, MPROC_EWORKER, MPROC_ECANCELED,
                        MPROC_ETERMINATED or MPROC_ENOMEM */
    int code;        /* MPROC_ETASK: the task function's return value; else 0 */
    int signal;      /* MPROC_EWORKER: the signal that killed the worker, 0 if it exited */
    int exit_status; /* MPROC_EWORKER: the worker's exit status if it exited, else -1 */
    pid_t pid;       /* the worker that ran the task, 0 if none did */
    char message[MPROC_TASK_MSG_MAX]; /* mproc_task_fail's message, or a description */
} mproc_task_failure;

/**
 * An asynchronous result: Python's AsyncResult / MapResult, and the iterator of imap.
 * Owned by the caller: free it with mproc_async_free.
 */
typedef struct mproc_async mproc_async;

/** Options of a task call; NULL means the defaults (mproc_task_options_init). */
typedef struct mproc_task_options {
    /* Tasks per chunk of a map (Python's chunksize): a chunk is claimed and run by one
     * worker as one unit, which saves per-task overhead for small tasks. 0 (the
     * default): automatic for map / starmap, Python's rule (n / (4 * workers), rounded
     * up), and 1 for imap. Lowered as needed so that a chunk holds at most
     * MPROC_TASK_CHUNK_MAX tasks, MPROC_TASK_ARG_MAX bytes of arguments and
     * MPROC_TASK_RESULT_MAX bytes of results. Ignored by apply. */
    size_t chunksize;
    /* MPROC_TASK_FAIL_FAST: after the first failure, the call's tasks that have not
     * started are cancelled (MPROC_ECANCELED). Default 0: every task runs. */
    unsigned flags;
    /* Called on the result thread when every task of the call succeeded, with the
     * result: apply's blob, or a map's results buffer (n * result_size bytes; NULL if
     * the async was freed before). NULL: none. */
    void (*callback)(void *user, const void *result, size_t result_size);
    /* Called on the result thread with the first failure instead. NULL: none. */
    void (*error_callback)(void *user, const mproc_task_failure *failure);
    void *user; /* passed to the callbacks */
} mproc_task_options;

/** A flag of mproc_task_options.flags (see there). */
#define MPROC_TASK_FAIL_FAST 1u

/** Fills *opts with the defaults (all zero). Does nothing for NULL. */
MPROC_API void mproc_task_options_init(mproc_task_options *opts);

/**
 * Python's pool.apply(fn, (arg,)): runs one task in a worker and waits for it.
 *     size_t size = result_cap; code = fn(arg, arg_size, result, &size);
 * result_cap (at most MPROC_TASK_RESULT_MAX) is the task's capacity; result may be NULL
 * when it is 0; result_size (may be NULL) receives the result's size.
 * Returns 0 or the task's outcome (MPROC_ETASK, MPROC_ETOOBIG, MPROC_EWORKER,
 * MPROC_ETERMINATED); MPROC_EINVAL (NULL pool or fn, NULL arg with a size, NULL result
 * with a capacity); MPROC_ETOOBIG (arg_size or result_cap over the limits); MPROC_ESTATE
 * (not the creator, the pool is closed or terminated, or called from a callback);
 * MPROC_ENOMEM. For the failure's code and message use mproc_task_apply_async.
 */
MPROC_API int mproc_task_apply(mproc_pool *pool, mproc_task_fn fn, const void *arg,
                               size_t arg_size, void *result, size_t result_cap,
                               size_t *result_size);

/**
 * Python's pool.apply_async(fn, (arg,), callback=, error_callback=): queues one task and
 * returns at once. The argument is copied now. The result's capacity is
 * MPROC_TASK_RESULT_MAX. *out (NULL on failure) is the async result.
 * Returns 0; MPROC_EINVAL (NULL pool, fn or out, NULL arg with a size); MPROC_ETOOBIG;
 * MPROC_ESTATE (not the creator, pool closed or terminated); MPROC_ENOMEM; -errno
 * (the result thread could not be started).
 */
MPROC_API int mproc_task_apply_async(mproc_pool *pool, mproc_task_fn fn, const void *arg,
                                     size_t arg_size, const mproc_task_options *opts,
                                     mproc_async **out);

/**
 * Python's pool.map(fn, args): runs n tasks, one per item of a packed array, and waits.
 *     for (i = 0; i < n; i++) {
 *         size_t size = result_size;
 *         status[i] = fn(args + i * arg_size, arg_size, results + i * result_size, &size);
 *     }
 * args may be NULL when arg_size is 0 (n tasks without argument); results may be NULL
 * when result_size is 0. A task's result is copied to its place in results; bytes after
 * a shorter result are left as they were. Each task's capacity is result_size.
 * Returns 0 when every task succeeded, else the first failure's error (the other tasks
 * still ran, and their results are in place); MPROC_EINVAL (NULL pool or fn, NULL args
 * or results with a size); MPROC_ETOOBIG (arg_size > MPROC_TASK_ARG_MAX or result_size
 * > MPROC_TASK_RESULT_MAX); MPROC_ESTATE; MPROC_ENOMEM. n = 0 returns 0.
 */
MPROC_API int mproc_task_map(mproc_pool *pool, mproc_task_fn fn, const void *args,
                             size_t arg_size, size_t n, void *results, size_t result_size,
                             const mproc_task_options *opts);

/**
 * Python's pool.map_async: mproc_task_map without waiting. The arguments are copied now;
 * results must stay valid until the async result is ready or freed (results are written
 * there by the thread that collects them: get, wait, or the result thread). Same errors
 * as mproc_task_map, plus MPROC_EINVAL for a NULL out.
 */
MPROC_API int mproc_task_map_async(mproc_pool *pool, mproc_task_fn fn, const void *args,
                                   size_t arg_size, size_t n, void *results,
                                   size_t result_size, const mproc_task_options *opts,
                                   mproc_async **out);

/**
 * Python's pool.starmap(fn, zip(columns...)): task i gets argc arguments, the i-th
 * element of each column:
 *     for (i = 0; i < n; i++) {
 *         for (k = 0; k < argc; k++) argv[k] = columns[k] + i * arg_sizes[k];
 *         size_t size = result_size;
 *         status[i] = fn(argc, argv, arg_sizes, results + i * result_size, &size);
 *     }
 * argc is 1..MPROC_STAR_ARGS_MAX; a column may be NULL when its size is 0. The arguments
 * of one task, each rounded up to 16 bytes, must fit in MPROC_TASK_ARG_MAX (else
 * MPROC_ETOOBIG). Otherwise as mproc_task_map.
 */
MPROC_API int mproc_task_starmap(mproc_pool *pool, mproc_star_fn fn, int argc,
                                 const void *const *columns, const size_t *arg_sizes,
                                 size_t n, void *results, size_t result_size,
                                 const mproc_task_options *opts);

/** Python's pool.starmap_async: mproc_task_starmap without waiting (see map_async). */
MPROC_API int mproc_task_starmap_async(mproc_pool *pool, mproc_star_fn fn, int argc,
                                       const void *const *columns, const size_t *arg_sizes,
                                       size_t n, void *results, size_t result_size,
                                       const mproc_task_options *opts, mproc_async **out);

/**
 * Python's pool.imap(fn, args) (ordered) and pool.imap_unordered: queues n tasks as
 * mproc_task_map_async does and returns an iterator: mproc_imap_next gives the results
 * one by one, in order of index (imap) or of completion (imap_unordered), as they come.
 * result_cap (at most MPROC_TASK_RESULT_MAX) is each task's result capacity; results
 * may be shorter and are kept, at their own size, until they are returned (or the
 * iterator is freed). chunksize 0 means 1, as in Python. Callbacks are allowed (called
 * once when all are done, with a NULL result). Same errors as mproc_task_map_async.
 */
MPROC_API int mproc_task_imap(mproc_pool *pool, mproc_task_fn fn, const void *args,
                              size_t arg_size, size_t n, size_t result_cap,
                              const mproc_task_options *opts, mproc_async **out);
MPROC_API int mproc_task_imap_unordered(mproc_pool *pool, mproc_task_fn fn,
                                        const void *args, size_t arg_size, size_t n,
                                        size_t result_cap, const mproc_task_options *opts,
                                        mproc_async **out);

/**
 * The next result of an imap iterator: Python's next(it, timeout). Waits up to
 * timeout_ms (-1 forever, 0 only looks) for the next task (imap: the task with the next
 * index; imap_unordered: any task not yet returned), copies its result into result
 * (cap bytes) and sets *result_size and *index (either may be NULL).
 * Returns 0; the task's error (its result consumed; mproc_async_item gives the failure);
 * MPROC_EEXHAUSTED when all n were returned (Python's StopIteration); MPROC_ETIMEDOUT;
 * MPROC_ETOOBIG (cap too small: *result_size is the size needed; nothing is consumed);
 * MPROC_EINVAL (NULL it, not an imap iterator, NULL result with a cap, timeout below
 * -1); MPROC_ESTATE (not the creator; from a callback).
 */
MPROC_API int mproc_imap_next(mproc_async *it, int timeout_ms, void *result, size_t cap,
                              size_t *result_size, size_t *index);

/**
 * Python's AsyncResult.get(timeout): waits up to timeout_ms (-1 forever, 0 only looks)
 * until the result is ready, then returns its outcome. For apply_async the result is
 * copied into result (cap bytes) and *result_size (may be NULL) set; result may be NULL
 * with cap 0 to learn only the outcome and size. For map / starmap / imap the results
 * are in place and result must be NULL with cap 0.
 * Returns 0; the (first) failure's error (mproc_async_failure has the details);
 * MPROC_ETIMEDOUT (not ready: nothing changed, get may be called again); MPROC_ETOOBIG
 * (apply: cap too small, *result_size is the size needed; call again); MPROC_EINVAL
 * (NULL a, timeout below -1, result/cap inconsistent); MPROC_ESTATE (not the creator;
 * from a callback while not ready). get may be called any number of times.
 */
MPROC_API int mproc_async_get(mproc_async *a, int timeout_ms, void *result, size_t cap,
                              size_t *result_size);

/**
 * Python's AsyncResult.wait(timeout): waits up to timeout_ms (-1 forever) until ready.
 * Returns 0 once ready, MPROC_ETIMEDOUT, MPROC_EINVAL or MPROC_ESTATE (as get).
 */
MPROC_API int mproc_async_wait(mproc_async *a, int timeout_ms);

/** 1 if the result is ready (every task finished, callbacks run), 0 if not; MPROC_EINVAL
 * for NULL. Does not wait; collects finished results on the way. */
MPROC_API int mproc_async_ready(mproc_async *a);

/**
 * Python's AsyncResult.successful(): 1 if ready and every task succeeded, 0 if ready and
 * one failed, MPROC_ESTATE if not ready yet (Python's ValueError), MPROC_EINVAL for NULL.
 */
MPROC_API int mproc_async_successful(mproc_async *a);

/**
 * The call's reported failure (the failed task with the lowest index, see "Results and
 * errors"), also before it is ready (a lower-indexed failure may still come then).
 * Returns 0 and fills *out, MPROC_ENOENT if no task has failed (yet), MPROC_EINVAL,
 * MPROC_ESTATE (not the creator).
 */
MPROC_API int mproc_async_failure(mproc_async *a, mproc_task_failure *out);

/**
 * The outcome of task i of the call: 0 (succeeded; *result_size, may be NULL, is its
 * result's size), its error (*failure, may be NULL, filled), MPROC_EBUSY (not finished
 * yet) or MPROC_EINVAL (NULL a, i out of range).
 */
MPROC_API int mproc_async_item(mproc_async *a, size_t i, size_t *result_size,
                               mproc_task_failure *failure);

/**
 * Frees an async result: Python dropping its AsyncResult. Unfinished tasks still run
 * (join waits for them, their callbacks are still called) but their results are
 * dropped: nothing is written into a map's results buffer after this. NULL returns 0.
 * Returns 0, MPROC_ESTATE (from another process; nothing is freed).
 */
MPROC_API int mproc_async_free(mproc_async *a);

/**
 * Python's pool.close(): no more tasks may be submitted (MPROC_ESTATE afterwards);
 * queued ones still run. Maps are not affected. Returns 0, MPROC_EINVAL or
 * MPROC_ESTATE (not the creator).
 */
MPROC_API int mproc_pool_close(mproc_pool *pool);

/**
 * Python's pool.join(): waits until every submitted task has finished and every
 * callback has run. The pool must be closed or terminated first (MPROC_ESTATE
 * otherwise, as Python's ValueError). Workers stay alive for maps (destroy stops them).
 * Returns 0, MPROC_EINVAL or MPROC_ESTATE (also from a callback).
 */
MPROC_API int mproc_pool_join(mproc_pool *pool);

/**
 * Python's pool.terminate(): kills the workers now (SIGKILL; they are not replaced for
 * tasks), without running queued tasks. Results not finished fail with
 * MPROC_ETERMINATED, and become ready, without callbacks; results already finished are
 * kept. Further task calls return MPROC_ESTATE. Returns promptly however many tasks are
 * queued. A later mproc_map forks new workers (maps still work); mproc_pool_destroy
 * frees the pool. mproc_pool_destroy on a pool with unfinished tasks terminates it
 * first in the same way (Python's `with Pool() as p:` does the same on exit); async
 * results outlive their pool: they stay readable and must still be freed. Neither may
 * be called from a callback (destroy from a callback is undefined).
 * Returns 0, MPROC_EINVAL or MPROC_ESTATE (not the creator; from a callback).
 */
MPROC_API int mproc_pool_terminate(mproc_pool *pool);

/* ------------------------------------------------------------------------------------ */
/* Processes                                                                             */
/* ------------------------------------------------------------------------------------ */
/* (section: process) */

/*
 * A Process runs fn(arg) in a forked child: Python's Process(target=fn, args=...).start().
 *
 *  - The child is a fork of the calling process at the time of the call: it sees a copy
 *    of the caller's memory (arg may point anywhere in it) plus every shared mapping
 *    (arrays, Queue, Lock, ... created before the start). Buffered stdio is flushed
 *    before the fork, so nothing is written twice.
 *  - fn's return value is the exit status, as the kernel keeps it: status & 0xff. After
 *    fn returns the child flushes stdio and calls _exit: atexit handlers registered by
 *    the parent are not run in the child (a parent's cleanup must not run twice). fn may
 *    also call exit() or _exit() itself.
 *  - Exit codes follow Python: the exit status, or minus the signal number when a signal
 *    killed it (-15 after mproc_process_terminate, -9 after mproc_process_kill), or
 *    MPROC_EXITCODE_NONE while it has not finished.
 *  - A daemon process gets SIGKILL when the thread that started it exits (the creating
 *    process normally: PR_SET_PDEATHSIG, checked again after setting it, so a parent that
 *    died during the start is noticed). A non-daemon process is not touched when its
 *    parent exits: it runs on, reparented to init (or to a subreaper), and nobody reads
 *    its exit status; Python would join it at exit, C has no such hook: join it yourself.
 *  - Only the creating process may join, signal or query a process (it is the one that
 *    can wait for it). Do not reap it behind the library's back (waitpid(-1), SIGCHLD set
 *    to SIG_IGN): the exit code is then lost and join returns -ECHILD.
 *  - The child inherits signal dispositions and the signal mask, as a forked child does
 *    (a parent's SIGTERM handler also runs in the child on mproc_process_terminate).
 *  - Threads: fork copies only the calling thread. In a program with other threads the
 *    child should do little besides fn's own work (no locks those threads may hold).
 *  - A handle is used by one thread at a time.
 */
typedef struct mproc_process mproc_process;

/** The code a process runs; its return value becomes the exit status (& 0xff). */
typedef int (*mproc_process_fn)(void *arg);

/** Returned through mproc_process_exitcode while the process has not finished. */
#define MPROC_EXITCODE_NONE (-0x7fffffff - 1)

/** Options of mproc_process_start; mproc_process_options_init sets the defaults. */
typedef struct mproc_process_options {
    /* Copied at start; NULL (the default) names it "Process-N", N counting from 1 the
     * processes the calling process started, as Python does. */
    const char *name;
    /* Non-zero: a daemon, killed (SIGKILL) when its creator exits. Default 0. */
    int daemon;
} mproc_process_options;

/** Fills *opts with the defaults (no name, not a daemon). Does nothing for NULL. */
MPROC_API void mproc_process_options_init(mproc_process_options *opts);

/**
 * Forks a child that runs fn(arg) and exits with its return value; opts NULL means
 * the defaults. *out is the handle (NULL on failure).
 *
 * Returns 0, MPROC_EINVAL (NULL out or fn), MPROC_ENOMEM, or -errno (fork: -EAGAIN at
 * the process limit; pidfd_open or socketpair: -EMFILE). On failure no process is left
 * running (a child whose pidfd could not be opened is killed and reaped; it may have
 * started fn).
 */
MPROC_API int mproc_process_start(mproc_process **out, mproc_process_fn fn, void *arg,
                                  const mproc_process_options *opts);

/**
 * Waits until the process has finished and reaps it: Python's join(timeout).
 * timeout_ms: -1 waits forever, 0 only looks, > 0 waits at most that long (on
 * CLOCK_MONOTONIC; EINTR does not end the wait). Returns 0 once it has finished
 * (at once if it had already), MPROC_ETIMEDOUT, MPROC_EINVAL (NULL, timeout below -1),
 * MPROC_ESTATE (called from another process than the creator) or -ECHILD (the child was
 * reaped by someone else: its exit code is lost).
 */
MPROC_API int mproc_process_join(mproc_process *proc, int timeout_ms);

/**
 * 1 while the process is running (a zombie counts as finished), 0 once it has finished,
 * or MPROC_EINVAL / MPROC_ESTATE (not the creator) / -ECHILD. Reaps a finished child.
 */
MPROC_API int mproc_process_is_alive(mproc_process *proc);

/**
 * The exit code, Python's Process.exitcode: the status passed to exit (0..255), minus
 * the number of the signal that killed it, or MPROC_EXITCODE_NONE while it runs. Reaps
 * a finished child without waiting. Returns 0, MPROC_EINVAL, MPROC_ESTATE or -ECHILD.
 */
MPROC_API int mproc_process_exitcode(mproc_process *proc, int *exitcode);

/**
 * Sends SIGTERM (terminate) or SIGKILL (kill). A process that has already been found
 * finished is not signalled (its pid may belong to someone else by now): 0 then. A
 * zombie not yet reaped is signalled harmlessly. Returns 0, MPROC_EINVAL, MPROC_ESTATE
 * or -errno from kill. The signal is delivered asynchronously: join to wait for it.
 * SIGTERM can be caught or ignored by fn; SIGKILL cannot.
 */
MPROC_API int mproc_process_terminate(mproc_process *proc);
MPROC_API int mproc_process_kill(mproc_process *proc);

/** The child's pid (it stays known after the child finished); 0 for NULL. Cannot fail. */
MPROC_API pid_t mproc_process_pid(const mproc_process *proc);

/** The process's name ("Process-1" unless one was given); NULL for NULL. Cannot fail. */
MPROC_API const char *mproc_process_name(const mproc_process *proc);

/** 1 for a daemon process, 0 otherwise (and for NULL). Cannot fail. */
MPROC_API int mproc_process_daemon(const mproc_process *proc);

/**
 * Python's Process.sentinel: a file descriptor that becomes readable (POLLIN) when the
 * process ends, so that one poll/epoll can watch many processes. It is a pidfd
 * (pidfd_open, Linux 5.3+), or else one end of a socket pair whose other end only the
 * child holds (then it also becomes readable if the child closes that descriptor or
 * calls exec). It stays readable after the end. Owned by the handle: do not close or
 * read it; it is close-on-exec and valid until mproc_process_close. Returns the
 * descriptor (>= 0) or MPROC_EINVAL.
 */
MPROC_API int mproc_process_sentinel(const mproc_process *proc);

/**
 * Frees the handle and its descriptor: Python's Process.close(). Returns MPROC_EBUSY,
 * leaving everything as it was, while the process is running (join, terminate or kill
 * it first); reaps a finished one. In a forked child that inherited a copy of the handle
 * it frees that copy only and returns 0. NULL returns 0.
 */
MPROC_API int mproc_process_close(mproc_process *proc);

/* ------------------------------------------------------------------------------------ */
/* Synchronization and IPC: Lock, RLock, Semaphore, Event, Condition, Barrier, Value,     */
/* Queue, Pipe                                                                           */
/* ------------------------------------------------------------------------------------ */
/* (section: ipc) */

/*
 * Python's synchronization primitives and queues, for processes.
 *
 * Sharing: every object below except a Pipe's connections lives in one anonymous shared
 * mapping (MAP_SHARED | MAP_ANONYMOUS) that begins with the handle. Create it before
 * starting the processes (mproc_process_start, fork, a pool): each child inherits the
 * mapping at the same address, so the same pointer works in all of them. An object has
 * no name: a process that is not a descendant of the creator cannot reach it, and it
 * cannot leak: its memory goes when the last process that maps it destroys it or exits.
 *
 * Destroying (mproc_<object>_destroy) unmaps the object in the calling process only;
 * the other processes keep using theirs. Use no object after destroying it there.
 *
 * Timeouts: every blocking call takes timeout_ms: -1 waits forever, 0 does not wait
 * (one try), > 0 waits at most that many milliseconds. Deadlines are on CLOCK_MONOTONIC
 * (changes of the wall clock do not matter) and a signal handler that interrupts a wait
 * (EINTR) does not end it early. A timeout below -1 is MPROC_EINVAL.
 *
 * Crashes: Lock, RLock, Condition and Value are robust mutexes: when a process (or
 * thread) dies holding one, the next one to acquire it gets it together with
 * MPROC_EOWNERDEAD, once: the caller holds the lock then and must release it as usual;
 * the data the lock protects may be half-updated. The objects' own internal locks
 * (Queue, Barrier, BoundedSemaphore) recover silently: their state is always consistent.
 * A process that dies while waiting leaves nothing behind. A Semaphore has no owner: a
 * process that dies after acquiring one never releases it, and nothing can tell.
 *
 * Owners: Lock, RLock, Condition and Value locks belong to the thread that acquired
 * them (pthread robust mutexes): only it may release them (MPROC_ENOTOWNER otherwise),
 * unlike Python's Lock which any process may release. Semaphores have no owner. A child
 * forked while its parent holds a lock does not hold it.
 */
typedef struct mproc_lock mproc_lock;
typedef struct mproc_rlock mproc_rlock;
typedef struct mproc_semaphore mproc_semaphore;
typedef struct mproc_event mproc_event;
typedef struct mproc_condition mproc_condition;
typedef struct mproc_barrier mproc_barrier;
typedef struct mproc_value mproc_value;
typedef struct mproc_queue mproc_queue;
typedef struct mproc_conn mproc_conn;

/* ---- Lock ---------------------------------------------------------------------------- */

/** Creates an unlocked Lock. Returns 0, MPROC_EINVAL (NULL out), MPROC_ENOMEM, -errno. */
MPROC_API int mproc_lock_create(mproc_lock **out);

/**
 * Acquires the lock, waiting up to timeout_ms. Returns 0; MPROC_EOWNERDEAD (acquired:
 * the previous holder died holding it); MPROC_ETIMEDOUT; -EDEADLK (the calling thread
 * holds it already: a Lock is not recursive); MPROC_EINVAL.
 */
MPROC_API int mproc_lock_acquire(mproc_lock *lock, int timeout_ms);

/** Releases it. 0, MPROC_ENOTOWNER (the calling thread does not hold it), MPROC_EINVAL. */
MPROC_API int mproc_lock_release(mproc_lock *lock);

/**
 * Unmaps the lock in the calling process. NULL returns 0. MPROC_EBUSY, and nothing is
 * done, while a thread of the calling process holds it (it is on that thread's robust
 * list). Returns 0 or -errno from munmap. The same holds for the _destroy of RLock,
 * Condition and Value.
 */
MPROC_API int mproc_lock_destroy(mproc_lock *lock);

/* ---- RLock ---------------------------------------------------------------------------- */

/** Creates an unlocked recursive lock. 0, MPROC_EINVAL, MPROC_ENOMEM, -errno. */
MPROC_API int mproc_rlock_create(mproc_rlock **out);

/**
 * Acquires it; the thread that holds it may acquire it again (it must then release it
 * as many times). 0, MPROC_EOWNERDEAD, MPROC_ETIMEDOUT, MPROC_EINVAL, -EAGAIN (the
 * recursion count would overflow).
 */
MPROC_API int mproc_rlock_acquire(mproc_rlock *rlock, int timeout_ms);

/** Releases one level. 0, MPROC_ENOTOWNER (not held by the calling thread), EINVAL. */
MPROC_API int mproc_rlock_release(mproc_rlock *rlock);

/** As mproc_lock_destroy. */
MPROC_API int mproc_rlock_destroy(mproc_rlock *rlock);

/* ---- Semaphore and BoundedSemaphore ------------------------------------------------- */

/**
 * Creates a counting semaphore with an initial value (0..MPROC_SEM_VALUE_MAX): Python's
 * Semaphore(value). A process-shared POSIX sem_t inside the mapping (no /dev/shm file).
 * 0, MPROC_EINVAL (NULL out, value too large), MPROC_ENOMEM, -errno.
 */
MPROC_API int mproc_semaphore_create(mproc_semaphore **out, unsigned value);

/**
 * Python's BoundedSemaphore(value): like mproc_semaphore_create, but a release that
 * would raise the value above the initial one fails with MPROC_EOVERRELEASE.
 */
MPROC_API int mproc_bounded_semaphore_create(mproc_semaphore **out, unsigned value);

/** The largest value a semaphore can hold. */
#define MPROC_SEM_VALUE_MAX 0x7fffffff

/** Decrements it, waiting while it is 0. 0, MPROC_ETIMEDOUT, MPROC_EINVAL. */
MPROC_API int mproc_semaphore_acquire(mproc_semaphore *sem, int timeout_ms);

/**
 * Increments it, waking one waiter. 0, MPROC_EOVERRELEASE (bounded: the value is at its
 * initial value already; nothing is changed), -EOVERFLOW (at MPROC_SEM_VALUE_MAX),
 * MPROC_EINVAL.
 */
MPROC_API int mproc_semaphore_release(mproc_semaphore *sem);

/** The current value (a snapshot: others may change it). 0 or MPROC_EINVAL. */
MPROC_API int mproc_semaphore_get_value(mproc_semaphore *sem, int *value);

/** Unmaps it in the calling process. NULL returns 0. 0 or -errno. */
MPROC_API int mproc_semaphore_destroy(mproc_semaphore *sem);

/* ---- Event ------------------------------------------------------------------------------ */

/** Creates an Event, initially clear. 0, MPROC_EINVAL, MPROC_ENOMEM, -errno. */
MPROC_API int mproc_event_create(mproc_event **out);

/** Sets the flag and wakes every waiter. 0 or MPROC_EINVAL. */
MPROC_API int mproc_event_set(mproc_event *event);

/** Clears the flag. 0 or MPROC_EINVAL. */
MPROC_API int mproc_event_clear(mproc_event *event);

/** 1 if set, 0 if clear, MPROC_EINVAL for NULL. */
MPROC_API int mproc_event_is_set(const mproc_event *event);

/**
 * Waits until the flag is set: 0 (at once if it is set), MPROC_ETIMEDOUT (still clear
 * when the time was up), MPROC_EINVAL. Holds no lock: a waiter that dies is harmless.
 */
MPROC_API int mproc_event_wait(mproc_event *event, int timeout_ms);

/** Unmaps it in the calling process. NULL returns 0. 0 or -errno. */
MPROC_API int mproc_event_destroy(mproc_event *event);

/* ---- Condition -------------------------------------------------------------------------- */

/**
 * Creates a condition variable with its own lock: Python's Condition(Lock()). The lock is
 * a robust errorcheck mutex like mproc_lock (not recursive, unlike Python's default
 * RLock). Waiting is a futex on a sequence number, which dead waiters cannot disturb.
 * 0, MPROC_EINVAL, MPROC_ENOMEM, -errno.
 */
MPROC_API int mproc_condition_create(mproc_condition **out);

/** Acquires the condition's lock; as mproc_lock_acquire. */
MPROC_API int mproc_condition_acquire(mproc_condition *cond, int timeout_ms);

/** Releases the condition's lock; as mproc_lock_release. */
MPROC_API int mproc_condition_release(mproc_condition *cond);

/**
 * Releases the lock (which the calling thread must hold), waits for a notify or the
 * timeout, and acquires the lock again before returning. Wake-ups can be spurious, and
 * one notify can wake more than one waiter: check the predicate in a loop, or use
 * mproc_condition_wait_for. Returns 0 (notified, or spurious), MPROC_ETIMEDOUT,
 * MPROC_EOWNERDEAD (re-acquired from a holder that died; the lock is held in all three
 * cases), MPROC_ENOTOWNER (the lock was not held: nothing done) or MPROC_EINVAL.
 */
MPROC_API int mproc_condition_wait(mproc_condition *cond, int timeout_ms);

/**
 * Python's wait_for: with the lock held, waits until pred(ctx) returns non-zero, or the
 * timeout (one deadline for the whole call). Returns 0 (pred is true and the lock is
 * held), MPROC_ETIMEDOUT (pred still false), MPROC_EOWNERDEAD (returned at once, lock
 * held: look at the state before going on), MPROC_ENOTOWNER or MPROC_EINVAL.
 */
MPROC_API int mproc_condition_wait_for(mproc_condition *cond, int (*pred)(void *ctx),
                                       void *ctx, int timeout_ms);

/**
 * Wakes one waiter (notify) or all of them (notify_all). Unlike Python these may be
 * called without holding the lock (as pthread_cond_signal). 0 or MPROC_EINVAL.
 */
MPROC_API int mproc_condition_notify(mproc_condition *cond);
MPROC_API int mproc_condition_notify_all(mproc_condition *cond);

/** As mproc_lock_destroy. */
MPROC_API int mproc_condition_destroy(mproc_condition *cond);

/* ---- Barrier ---------------------------------------------------------------------------- */

/** Creates a barrier for `parties` (>= 1) processes: Python's Barrier(parties). */
MPROC_API int mproc_barrier_create(mproc_barrier **out, unsigned parties);

/**
 * Waits until `parties` callers have called wait, then releases all of them and starts
 * over. *index (may be NULL) gets the caller's arrival order, 0 .. parties - 1, as
 * Python's wait() returns it. Returns 0; MPROC_ETIMEDOUT (this caller's time ran out:
 * the barrier is now broken, as in Python); MPROC_EBROKEN (broken by a timeout or
 * mproc_barrier_abort, before or during this wait: every current and later waiter gets
 * it until mproc_barrier_reset); MPROC_EINVAL. A party that dies before arriving makes
 * the others wait for their timeouts; one that dies after arriving still counts.
 */
MPROC_API int mproc_barrier_wait(mproc_barrier *barrier, int timeout_ms, unsigned *index);

/** Breaks the barrier: current and later waiters get MPROC_EBROKEN. 0 or EINVAL. */
MPROC_API int mproc_barrier_abort(mproc_barrier *barrier);

/** Back to the empty, unbroken state; current waiters get MPROC_EBROKEN. 0 or EINVAL. */
MPROC_API int mproc_barrier_reset(mproc_barrier *barrier);

/** The number of parties; 0 for NULL. Cannot fail. */
MPROC_API unsigned mproc_barrier_parties(const mproc_barrier *barrier);

/** How many are waiting now (Python's n_waiting); 0 for NULL. Cannot fail. */
MPROC_API unsigned mproc_barrier_n_waiting(mproc_barrier *barrier);

/** 1 if broken, 0 if not, MPROC_EINVAL for NULL. */
MPROC_API int mproc_barrier_broken(mproc_barrier *barrier);

/** Unmaps it in the calling process. NULL returns 0. 0 or -errno. */
MPROC_API int mproc_barrier_destroy(mproc_barrier *barrier);

/* ---- Value ------------------------------------------------------------------------------ */

/**
 * A shared scalar of any dtype with its own recursive robust lock: Python's
 * Value(typecode, init). init points to one value of dtype, or is NULL for zero.
 * 0, MPROC_EINVAL (NULL out), MPROC_EDTYPE, MPROC_ENOMEM, -errno.
 */
MPROC_API int mproc_value_create(mproc_value **out, mproc_dtype dtype, const void *init);

/** The value's dtype; MPROC_DTYPE_ANY for NULL. Cannot fail. */
MPROC_API mproc_dtype mproc_value_dtype(const mproc_value *value);

/**
 * get copies the value to *out, set copies *in to it, add adds *delta (integers wrap
 * modulo 2^bits, floats follow IEEE) and copies the new value to *result if it is not
 * NULL; each under the value's lock, so concurrent adds are never lost. All pointers
 * point to one element of the value's dtype. Returns 0, MPROC_EINVAL, or
 * MPROC_EOWNERDEAD: the operation was done, but a process had died holding the lock
 * (e.g. in a compound update between mproc_value_lock and unlock).
 */
MPROC_API int mproc_value_get(mproc_value *value, void *out);
MPROC_API int mproc_value_set(mproc_value *value, const void *in);
MPROC_API int mproc_value_add(mproc_value *value, const void *delta, void *result);

/**
 * Python's `with v.get_lock():` for compound updates through mproc_value_ptr. The lock
 * is recursive: get/set/add work while holding it. lock: as mproc_rlock_acquire;
 * unlock: as mproc_rlock_release.
 */
MPROC_API int mproc_value_lock(mproc_value *value, int timeout_ms);
MPROC_API int mproc_value_unlock(mproc_value *value);

/** The shared scalar itself (aligned for its dtype), for use under the lock. NULL for
 * NULL. Cannot fail. */
MPROC_API void *mproc_value_ptr(mproc_value *value);

/** As mproc_lock_destroy. */
MPROC_API int mproc_value_destroy(mproc_value *value);

/* ---- Queue ------------------------------------------------------------------------------ */

/**
 * A bounded multi-producer multi-consumer FIFO of byte messages: Python's
 * Queue(maxsize), with a fixed message size limit. It holds up to `capacity` messages
 * of up to `max_msg` bytes each (both >= 1); its memory, about capacity * (max_msg + 8)
 * bytes, is allocated now. Messages are copied in and out; zero-length messages are
 * allowed. Any process that inherited it may put and get. A producer or consumer that
 * dies in the middle of a put or get loses at most that one message (the one it was
 * putting, or the one it was getting); the queue stays consistent.
 * 0, MPROC_EINVAL (NULL out, zero capacity or max_msg), MPROC_EOVERFLOW, MPROC_ENOMEM,
 * -errno.
 */
MPROC_API int mproc_queue_create(mproc_queue **out, size_t capacity, size_t max_msg);

/**
 * Copies len bytes at data (data may be NULL when len is 0) to the tail of the queue,
 * waiting while it is full. Returns 0; MPROC_EFULL (still full when the timeout was up,
 * e.g. at once with timeout 0: Python's queue.Full); MPROC_ECLOSED (closed);
 * MPROC_ETOOBIG (len > max_msg); MPROC_EINVAL.
 */
MPROC_API int mproc_queue_put(mproc_queue *queue, const void *data, size_t len,
                              int timeout_ms);

/** mproc_queue_put with timeout 0: MPROC_EFULL at once when full. */
MPROC_API int mproc_queue_put_nowait(mproc_queue *queue, const void *data, size_t len);

/**
 * Takes the message at the head, waiting while the queue is empty, and copies it to buf
 * (cap bytes; buf may be NULL when cap is 0); *len gets its length. Returns 0;
 * MPROC_EEMPTY (still empty when the timeout was up: Python's queue.Empty);
 * MPROC_ECLOSED (closed and empty: what was put before the close is still delivered);
 * MPROC_ETOOBIG (the message is longer than cap: it stays at the head, *len says how
 * long it is); MPROC_EINVAL.
 */
MPROC_API int mproc_queue_get(mproc_queue *queue, void *buf, size_t cap, size_t *len,
                              int timeout_ms);

/** mproc_queue_get with timeout 0: MPROC_EEMPTY at once when empty. */
MPROC_API int mproc_queue_get_nowait(mproc_queue *queue, void *buf, size_t cap, size_t *len);

/** Messages in the queue now (a snapshot: Python's qsize), or MPROC_EINVAL. */
MPROC_API long mproc_queue_qsize(mproc_queue *queue);

/** The capacity and message size limit given at creation; 0 for NULL. Cannot fail. */
MPROC_API size_t mproc_queue_capacity(const mproc_queue *queue);
MPROC_API size_t mproc_queue_max_msg(const mproc_queue *queue);

/**
 * Closes the queue for every process (unlike Python's per-process close): later puts
 * get MPROC_ECLOSED, gets drain what is left and then get MPROC_ECLOSED, and every
 * blocked put or get wakes up. Closing twice is fine. 0 or MPROC_EINVAL.
 */
MPROC_API int mproc_queue_close(mproc_queue *queue);

/** Unmaps it in the calling process (does not close it for others). NULL returns 0. */
MPROC_API int mproc_queue_destroy(mproc_queue *queue);

/* ---- Pipe ------------------------------------------------------------------------------- */

/**
 * Python's Pipe(duplex): two connected ends, an AF_UNIX SOCK_SEQPACKET socket pair
 * (message boundaries are kept). duplex non-zero: both ends send and receive; 0: *a only
 * receives and *b only sends, as in Python. Unlike the objects above, a connection is a
 * file descriptor plus a small handle in the calling process's memory: a forked child
 * inherits both, and each process closes its own copy (mproc_conn_close). The end of
 * the stream (MPROC_ECLOSED) comes only when every copy of the other end is closed, so
 * each process should close the ends it does not use: create, start the child, close
 * in the parent the child's end and in the child the parent's end.
 * 0, MPROC_EINVAL (NULL out), MPROC_ENOMEM, -errno.
 */
MPROC_API int mproc_pipe_create(mproc_conn **a, mproc_conn **b, int duplex);

/**
 * Sends one message of len bytes (data may be NULL when len is 0; at most
 * MPROC_PIPE_MSG_MAX), waiting while the socket's buffer is full; EINTR is retried.
 * Returns 0, MPROC_ECLOSED (the other end is closed everywhere; no SIGPIPE is raised),
 * MPROC_ETOOBIG, MPROC_EINVAL (NULL, or this end cannot send), or -errno. Two processes
 * that send on the same end at once do not mix their messages.
 */
MPROC_API int mproc_conn_send(mproc_conn *conn, const void *data, size_t len);

/* Largest message a connection carries. Bigger data belongs in a shared array. */
#define MPROC_PIPE_MSG_MAX 65536

/**
 * Receives one message into buf (cap bytes), waiting up to timeout_ms; *len gets its
 * length. Returns 0; MPROC_ETIMEDOUT; MPROC_ECLOSED (the other end is closed and nothing
 * is left: Python's EOFError); MPROC_ETOOBIG (the message is longer than cap: it stays
 * queued, *len says how long it is); MPROC_EINVAL (NULL, or this end cannot receive);
 * -errno. Use one end from one process (or thread) at a time for receiving.
 */
MPROC_API int mproc_conn_recv(mproc_conn *conn, void *buf, size_t cap, size_t *len,
                              int timeout_ms);

/**
 * Python's poll(timeout): 0 when a message (or the end of the stream) can be received
 * without waiting, MPROC_ETIMEDOUT if none came within timeout_ms, MPROC_EINVAL.
 */
MPROC_API int mproc_conn_poll(mproc_conn *conn, int timeout_ms);

/** The connection's descriptor, for poll/epoll (Python's fileno()); MPROC_EINVAL. */
MPROC_API int mproc_conn_fileno(const mproc_conn *conn);

/** Closes this process's copy of the end and frees the handle. NULL returns 0. */
MPROC_API int mproc_conn_close(mproc_conn *conn);

/* ------------------------------------------------------------------------------------ */
/* Segment inspection and cleanup (mproc ls / mproc gc)                                 */
/* ------------------------------------------------------------------------------------ */
/* (section: segments) */

/*
 * Named arrays outlive their creator on purpose (other processes may still use them),
 * so a crashed program can leave segments in /dev/shm. Each records its creator's pid
 * and start time (header offsets 56 and 64): together they tell whether the creator is
 * still running even after its pid was reused. These functions read and validate the
 * header with pread, never map the data, and are safe to run while the segment is in
 * use. They only ever consider segments of the calling user (effective uid).
 *
 * "Alive" means: a process with the creator's pid exists, is not a zombie, and has the
 * recorded start time. When that cannot be told (no /proc, a pid from another pid
 * namespace that happens to exist, a header written without a start time), the creator
 * counts as alive: reclaiming never removes a segment it is unsure about.
 *
 * An array made to outlive its creator on purpose (the arrays of `mproc create`, say) is
 * marked kept (mproc_array_set_keep): reclaiming leaves it alone whatever its creator's
 * state, and only an explicit unlink removes it.
 */

/** What mproc_segment_stat and mproc_segment_list report about a named array. */
typedef struct mproc_segment_info {
    char name[MPROC_NAME_MAX + 1]; /* without the leading '/' */
    uid_t owner;                   /* the segment's owner (always the caller's euid) */
    unsigned mode;                 /* permission bits (0600 as created) */
    uint64_t size;                 /* bytes of the segment in /dev/shm */
    mproc_dtype dtype;       /* the elements' dtype */
    size_t elem_size;        /* bytes per element */
    uint64_t length;         /* elements */
    uint64_t data_offset;    /* where the elements start */
    uint64_t data_bytes;     /* length * elem_size */
    uint32_t version;        /* format version (MPROC_FORMAT_VERSION) */
    uint32_t flags;          /* header flags: MPROC_ARRAY_KEEP, and any reserved bits set */
    uint64_t instance_id;    /* random id chosen at creation */
    pid_t creator_pid;       /* the process that created it */
    uint64_t creator_start;  /* its start time, clock ticks after boot (0: unknown) */
    int creator_alive;       /* 1 alive (or cannot be told), 0 dead */
    int keep;                /* 1 when MPROC_ARRAY_KEEP is set: reclaim never removes it */
} mproc_segment_info;

/**
 * Reads and validates the header of the named array without mapping it, and fills *out.
 * Returns 0, or MPROC_EINVAL (NULL argument), MPROC_ENAME, MPROC_ENOENT,
 * MPROC_EACCES (another user's segment, or not readable), MPROC_EBADMAGIC (not an
 * mproc segment, including anything that is not a regular file), MPROC_ETRUNCATED,
 * MPROC_EVERSION, MPROC_ECORRUPT, or -errno. *out is untouched on failure.
 */
MPROC_API int mproc_segment_stat(const char *name, mproc_segment_info *out);

/**
 * Lists the mproc segments of the calling user in /dev/shm: regular files owned by the
 * caller's euid whose name is a valid mproc name and whose header validates (anything
 * else, other users' segments and other programs' files, is skipped silently). On
 * success *out is a malloc'd array sorted by name (NULL when there are none; free it
 * with mproc_segment_list_free) and *count its length. Returns 0, MPROC_EINVAL (NULL
 * argument), MPROC_ENOMEM or -errno (opendir). Segments that appear or vanish while
 * the list is taken may or may not be in it.
 */
MPROC_API int mproc_segment_list(mproc_segment_info **out, size_t *count);

/** Frees a list from mproc_segment_list. NULL does nothing. Cannot fail. */
MPROC_API void mproc_segment_list_free(mproc_segment_info *list);

/**
 * Removes the named array from /dev/shm if, and only if, it is one of the caller's mproc
 * segments (as mproc_segment_stat validates it), it is not kept (MPROC_ARRAY_KEEP, see
 * mproc_array_set_keep) and its creator is dead: what `mproc gc` does for each segment.
 * The name is removed only if it still refers to the segment that was checked (same
 * inode). Processes that have it mapped keep their mapping.
 * Returns 0 (removed; *out, if not NULL, describes what was removed), MPROC_EBUSY (the
 * array is kept or its creator is alive; nothing done), or an error of
 * mproc_segment_stat, or -errno from shm_unlink (MPROC_ENOENT when someone else removed
 * it first).
 */
MPROC_API int mproc_segment_reclaim(const char *name, mproc_segment_info *out);

#ifdef __cplusplus
}
#endif

#endif /* MPROC_H */
