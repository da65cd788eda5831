/*
 * pool_internal.h - the pool's control segment, shared by the caller (pool.c) and its
 * workers (worker.c). It lives in a MAP_SHARED mapping created before the workers are
 * forked; everything in it is either written only while no worker reads it (the job,
 * under the generation protocol below) or accessed atomically.
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

#define MPROC__LOCATOR_MAX (MPROC_NAME_MAX + 56)
#define MPROC__EVICT_RING 16
#define MPROC__MAX_CHUNKS 65536u            /* a map never has more chunks than this */
#define MPROC__SCRATCH_BYTES (512u * 1024u) /* per worker; also the largest auto chunk */

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
 */
enum mproc__commit_state { MPROC__IDLE = 0, MPROC__COMPUTING = 1, MPROC__COMMITTING = 2 };
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
    mproc_kernel kernel;
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
    _Atomic uint64_t piece;     /* elements in the scratch while COMMITTING */
    int32_t exit_status;        /* waitpid status of a dead worker (caller's use only) */
    _Atomic uint32_t cur_task;  /* tasks: 1 + the task entry it runs, 0 when none */
    _Atomic uint32_t retired;   /* tasks: set before a clean exit after maxtasksperchild */
    _Atomic uint32_t spinning;  /* idle and spinning: sees queued tasks without a post */
    sem_t wake;
    char pad[MPROC__CACHELINE];
};

struct mproc__ctl {
    _Alignas(MPROC__CACHELINE) _Atomic uint64_t gen;
    _Atomic uint32_t shutdown;
    int32_t creator_pid;
    uint64_t spin_ns;
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

/* The caller's handle (never in shared memory). */
struct mproc_pool {
    struct mproc__ctl *ctl;
    size_t ctl_bytes;
    int participants;
    int nforked;
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

/* worker.c. `seen` is the generation current when the worker was forked: it must not
 * run that (finished) job, and must run every later one. */
_Noreturn void mproc__worker_main(struct mproc__ctl *ctl, uint32_t slot, uint64_t seen);
/* Claims and runs chunks of the current map until none are left. Used by workers
 * (slot >= 0) and by the caller (slot -1, with its own mappings: the caller cannot die
 * without the map dying with it, so it writes in place directly). */
void mproc__run_chunks(struct mproc__ctl *ctl, const struct mproc__job *job,
                       const char *src, char *dst, int slot);
void mproc__spin_pause(void);

#endif
