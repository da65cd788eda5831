/*
 * pool_internal.h - the pool's control segment, shared by the caller (pool.c) and its
 * workers (worker.c). It is a MAP_SHARED mapping: anonymous for a fork pool; a memfd
 * (reached through /proc/PID/fd) or a named POSIX shm object for spawned and
 * hand-started workers, which map it themselves (spawn.c). Everything in it is either
 * written only while no worker reads it (the job, under the generation protocol below)
 * or accessed atomically.
 *
 * Generation protocol (a seqlock with per-worker presence flags):
 *   caller: gen = odd (seq_cst); wait until every live worker's `inside` is 0;
 *           write the job; gen = next even (seq_cst); wake sleepers.
 *   worker: inside = 1 (seq_cst); g = gen (seq_cst); if g is odd or already seen:
 *           inside = 0 and wait; else run job g; inside = 0.
 * Sequential consistency makes the two store-then-load pairs a Dekker handshake: a
 * worker either sees the odd generation and backs off, or the caller sees it inside and
 * waits, so the job is never read while it is being written.
 */
#ifndef MPROC_POOL_INTERNAL_H
#define MPROC_POOL_INTERNAL_H

#include "internal.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>

#define MPROC__LOCATOR_MAX (MPROC_NAME_MAX + 56)
#define MPROC__EVICT_RING 16
#define MPROC__MAX_CHUNKS 65536u            /* a map never has more chunks than this */
#define MPROC__SCRATCH_BYTES (512u * 1024u) /* per worker; also the largest auto chunk */
/* An in-place chunk goes through the scratch in pieces this big: the piece of the array
 * and its copy in the scratch both stay in L1 (48 KiB here) between the kernel and the
 * copy back. Measured, one core squaring 1e8 int32 through the scratch (2-core EPYC,
 * AVX-512 kernel): 4 KiB 49 GB/s, 8 KiB 52, 16 KiB 54-55, 32 KiB 45, 128 KiB 40,
 * 512 KiB 39.5; writing in place directly: 54-66. */
#define MPROC__PIECE_BYTES (16u * 1024u)
/* A built-in kernel's piece (see MPROC__SAVING below): its originals stay in L1. */
#define MPROC__SAVE_PIECE_BYTES (4u * 1024u)

/*
 * Exactly-once in-place maps. Each chunk has a record; each worker a scratch area and a
 * commit word (state + absolute element position), all in the control segment, so they
 * outlive the worker. An in-place chunk is computed piece by piece into the scratch
 * (COMPUTING: the array is untouched), then copied back (COMMITTING: the scratch holds
 * the result), then the position advances. After a worker dies the caller reads its
 * commit word: COMPUTING at p, the chunk resumes at p; COMMITTING at p, the caller
 * finishes the copy from the scratch and the chunk resumes after it. Chunks that are not
 * DONE run again in a recovery round, on workers only (never in the caller), and a chunk
 * that was being computed by max_retries + 1 dead workers fails, its rest left as it was.
 *
 * Built-in kernels take one pass instead (SAVING at p): their saving twin changes the
 * piece at p in place, block by block, each block copied to the scratch before it is
 * changed and counted in the slot's `piece` (see kernels.c). After a death in SAVING the
 * caller copies the first `piece` elements of the scratch back, which puts back every
 * element that may have changed, and the chunk resumes at p.
 */
enum mproc__commit_state {
    MPROC__IDLE = 0,
    MPROC__COMPUTING = 1,
    MPROC__COMMITTING = 2,
    MPROC__SAVING = 3,
};
#define MPROC__COMMIT(pos, state) (((uint64_t)(pos) << 2) | (uint64_t)(state))
#define MPROC__COMMIT_POS(w) ((w) >> 2)
#define MPROC__COMMIT_STATE(w) ((unsigned)((w)&3u))

enum mproc__chunk_state {
    MPROC__CHUNK_FREE = 0,   /* not started (or claimed by a worker that died at once) */
    MPROC__CHUNK_HELD = 1,   /* a worker is on it */
    MPROC__CHUNK_DONE = 2,
    MPROC__CHUNK_FAILED = 3, /* gave up after retries */
};

struct mproc__chunkrec {
    _Atomic uint32_t state; /* mproc__chunk_state */
    uint16_t deaths;        /* workers that died computing it */
    uint16_t last_signal;
    int32_t last_status; /* waitpid status of the last of them (-1: reaped elsewhere) */
    uint64_t resume; /* elements at the chunk's start already done (set by recovery) */
};

/*
 * Worker slots of a MANUAL pool are joined and left by processes that are not our
 * children, so waitpid cannot watch them. Each holds its slot's robust mutex `alive`
 * for as long as it serves: a trylock by the caller that returns EOWNERDEAD means it
 * died. slot->pid is 0 for a free slot, the worker's pid while it serves, and
 * MPROC__PID_VACATING after the caller found it dead and until the caller has salvaged
 * what it left (a joiner only takes free slots, so it cannot overwrite that).
 */
#define MPROC__PID_VACATING (-1)

enum mproc__job_type { MPROC__JOB_NONE = 0, MPROC__JOB_MAP, MPROC__JOB_PREPARE };

/* How a worker finds an array: a path to open and the instance id it must carry. */
struct mproc__arrayref {
    char locator[MPROC__LOCATOR_MAX]; /* "/name" for shm_open, or "/proc/P/fd/N" */
    uint64_t instance_id;
    uint32_t raw;       /* no header (mproc_array_attach_raw): map raw_bytes from offset 0 */
    uint64_t raw_bytes; /* the instance id is then the segment's inode's (segment.c) */
};

struct mproc__job {
    uint32_t type;
    uint32_t ctx_size;
    mproc_kernel kernel; /* for forked workers; the others find kernel_name */
    char kernel_name[MPROC_KERNEL_NAME_MAX + 1];
    uint32_t dtype;
    struct mproc__arrayref src, dst;
    uint64_t length;
    uint64_t elem_size;
    uint64_t chunk;
    uint64_t nchunks;
    uint64_t target;   /* chunks this round must finish (those not DONE or FAILED) */
    uint32_t in_place; /* src and dst are the same array: commit through the scratch */
    _Alignas(16) unsigned char ctx[MPROC_CTX_MAX];
};

/* One per forked worker, on its own cache lines. */
struct mproc__slot {
    _Alignas(MPROC__CACHELINE) _Atomic uint32_t inside;
    _Atomic uint32_t sleeping;
    _Atomic int32_t pid;
    _Atomic uint64_t commit;    /* MPROC__COMMIT(pos, state) */
    _Atomic uint64_t cur_chunk; /* the chunk the commit word is about */
    _Atomic uint64_t piece;     /* elements in the scratch while COMMITTING or SAVING */
    int32_t exit_status;        /* waitpid status of a dead worker (caller's use only) */
    _Atomic uint32_t cur_task;  /* tasks: 1 + the task entry it runs, 0 when none */
    _Atomic uint32_t retired;   /* tasks: set before a clean exit after maxtasksperchild */
    _Atomic uint32_t spinning;  /* idle and spinning: sees queued tasks without a post */
    _Atomic uint32_t joined;    /* set by a spawned or joined worker once it is ready */
    sem_t wake;
    pthread_mutex_t alive;      /* MANUAL pools: held by the worker in the slot */
    char pad[MPROC__CACHELINE];
};

/* The start of a control segment that other programs map: they check it first. */
#define MPROC__CTL_MAGIC "MPROCPOL"
#define MPROC__CTL_VERSION 1
#define MPROC__LIBS_MAX 8
#define MPROC__PATH_MAX 4096
struct mproc__ctlhdr {
    char magic[8];
    uint32_t version;
    uint32_t start_method;
    uint64_t layout;        /* mproc__ctl_layout(): a worker of another build refuses */
    uint64_t bytes;         /* the whole segment */
    int64_t creator_pid;
    uint64_t creator_start; /* /proc/PID/stat field 22, to tell a reused pid */
};

struct mproc__ctl {
    struct mproc__ctlhdr hdr;
    _Alignas(MPROC__CACHELINE) _Atomic uint64_t gen;
    _Atomic uint32_t shutdown;
    int32_t creator_pid;
    uint64_t spin_ns;
    uint32_t spin_slots;  /* workers in slots below this may spin (see wait_for_job) */
    uint32_t nslots;
    uint64_t chunks_off;  /* offset of struct mproc__chunkrec[MPROC__MAX_CHUNKS] */
    uint64_t scratch_off; /* offset of nslots scratch areas of MPROC__SCRATCH_BYTES */
    uint64_t tasks_off;   /* offset of the task queue (tasks_internal.h) */

    _Alignas(MPROC__CACHELINE) _Atomic uint64_t cursor; /* next chunk to claim */
    _Alignas(MPROC__CACHELINE) _Atomic uint64_t done;   /* chunks finished */
    _Atomic int32_t error;                               /* first error of the job */
    _Atomic uint32_t caller_waiting;
    sem_t done_sem;

    /* Instance ids of arrays closed by the caller: workers drop cached mappings. */
    _Alignas(MPROC__CACHELINE) _Atomic uint64_t evict_seq;
    _Atomic uint64_t evict_ids[MPROC__EVICT_RING];

    /* Kernel libraries every worker loads before its next job (mproc_pool_load_kernels). */
    _Atomic uint32_t nlibs;
    char libs[MPROC__LIBS_MAX][MPROC__PATH_MAX];

    _Alignas(MPROC__CACHELINE) struct mproc__job job;
    struct mproc__slot slots[];
};

static inline struct mproc__chunkrec *mproc__chunks(struct mproc__ctl *ctl)
{
    return (struct mproc__chunkrec *)((char *)ctl + ctl->chunks_off);
}

static inline char *mproc__scratch(struct mproc__ctl *ctl, uint32_t slot)
{
    return (char *)ctl + ctl->scratch_off + (size_t)slot * MPROC__SCRATCH_BYTES;
}

static inline uint64_t mproc__ctl_layout(void)
{
    return ((uint64_t)sizeof(struct mproc__ctl) << 32) ^
           ((uint64_t)sizeof(struct mproc__slot) << 16) ^ (uint64_t)sizeof(struct mproc__job);
}

/* The caller's handle (never in shared memory). */
struct mproc_pool {
    struct mproc__ctl *ctl;
    size_t ctl_bytes;
    int start_method;      /* MPROC_START_FORK, _SPAWN or _MANUAL */
    int ctl_fd;            /* the control segment's memfd or shm fd; -1 for a fork pool */
    char *name;            /* options.name without '/', or NULL */
    char locator[MPROC__LOCATOR_MAX]; /* how other programs open the control segment */
    char *worker_exe;      /* SPAWN: what to run */
    int participants;
    int nslots; /* worker slots: forked, spawned or joined by hand */
    bool caller_works;
    int max_retries;
    bool commit_direct; /* MPROC_COMMIT_DIRECT */
    size_t chunk; /* 0 = automatic */
    pid_t creator;
    pthread_mutex_t lock; /* one job at a time */
    uint64_t next_reap_ns; /* when mproc__respawn_dead next asks waitpid */
    mproc_pool_stats stats;
    bool has_failure;
    mproc_map_failure failure;
    struct mproc_pool *next_in_process;
    struct mproc__tasks *tasks; /* the caller's side of tasks, created at first use */
};

/* pool.c: waits on a semaphore for at most ns nanoseconds of CLOCK_MONOTONIC (a wall
 * clock step cannot stretch it). Returns 0 when it took a post, else -1 with errno
 * ETIMEDOUT or EINTR. */
int mproc__sem_wait_ns(sem_t *sem, uint64_t ns);

/* pool.c: supervision and the generation protocol, used by map.c. */
bool mproc__worker_gone(struct mproc_pool *pool, struct mproc__slot *slot);
bool mproc__any_worker_gone(struct mproc_pool *pool);
int mproc__live_workers(struct mproc_pool *pool);
int mproc__respawn_dead(struct mproc_pool *pool);
void mproc__begin_job(struct mproc_pool *pool);
void mproc__publish_job(struct mproc_pool *pool, uint64_t want);
void mproc__wait_workers_out(struct mproc_pool *pool);
void mproc__make_ref(struct mproc__arrayref *ref, const mproc_array *a);

/* tasks_queue.c: the task queue in the control segment (see tasks_internal.h). */
size_t mproc__tasks_shared_bytes(uint32_t nslots);
int mproc__tasks_init_shared(struct mproc__ctl *ctl, const mproc_pool_options *o);
void mproc__tasks_free_shared(struct mproc__ctl *ctl);
/* Called by mproc__worker_gone for each worker it reaps (under the supervision rule:
 * pool->lock held, or no other thread using the pool): fails the task it was running. */
void mproc__tasks_worker_gone(struct mproc_pool *pool, uint32_t slot, int status);
/* Worker side: runs the initializer; whether tasks are queued; runs one queued task
 * (true if it ran one); a clean exit after maxtasksperchild tasks. */
void mproc__tasks_worker_start(struct mproc__ctl *ctl);
bool mproc__tasks_pending(struct mproc__ctl *ctl);
bool mproc__tasks_run_one(struct mproc__ctl *ctl, uint32_t slot);
uint32_t mproc__tasks_max_per_child(struct mproc__ctl *ctl);
_Noreturn void mproc__tasks_retire(struct mproc__ctl *ctl, uint32_t slot);
/* tasks_pool.c: before the creator stops the pool's workers (a forked copy of the
 * handle leaves the tasks' side alone: its threads do not exist in the child). */
void mproc__tasks_destroy(struct mproc_pool *pool);

/* worker.c. `seen` is the generation current when the worker was started: it must not
 * run that (finished) job, and must run every later one. */
enum mproc__worker_kind { MPROC__FORKED, MPROC__SPAWNED, MPROC__JOINED };
_Noreturn void mproc__worker_main(struct mproc__ctl *ctl, uint32_t slot, uint64_t seen);
/* The loop itself: returns when the pool shuts down (or, for a joined worker, when
 * mproc_worker_stop was called or the creator died). */
void mproc__worker_loop(struct mproc__ctl *ctl, uint32_t slot, uint64_t seen,
                        enum mproc__worker_kind kind);
/* Claims and runs chunks of the current map until none are left. Used by workers
 * (slot >= 0) and by the caller (slot -1, with its own mappings: the caller cannot die
 * without the map dying with it, so it writes in place directly). A worker that could
 * not get the arrays or the kernel passes err != 0: its chunks are marked done with
 * that error and left untouched. */
void mproc__run_chunks(struct mproc__ctl *ctl, const struct mproc__job *job,
                       mproc_kernel kernel, const char *src, char *dst, int slot, int err);

/* spawn.c: control segments that other programs map, and starting workers that way. */
int mproc__ctl_create_fd(struct mproc_pool *pool, size_t bytes, size_t hot_bytes);
void mproc__ctl_remove(struct mproc_pool *pool);
int mproc__spawn_worker(struct mproc_pool *pool, uint32_t index, uint64_t seen);
bool mproc__creator_alive(const struct mproc__ctl *ctl);
extern volatile sig_atomic_t mproc__stop_requested;

/* kernel_names.c */
int mproc__kernel_name_check(const char *name);
int mproc__kernel_name_of(mproc_kernel fn, mproc_dtype dtype, char out[MPROC_KERNEL_NAME_MAX + 1]);
void mproc__spin_pause(void);

#endif
