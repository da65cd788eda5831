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

#include <semaphore.h>

#define MPROC__LOCATOR_MAX (MPROC_NAME_MAX + 56)
#define MPROC__EVICT_RING 16

enum mproc__job_type { MPROC__JOB_NONE = 0, MPROC__JOB_MAP, MPROC__JOB_PREPARE };

/* How a worker finds an array: a path to open and the instance id it must carry. */
struct mproc__arrayref {
    char locator[MPROC__LOCATOR_MAX]; /* "/name" for shm_open, or "/proc/P/fd/N" */
    uint64_t instance_id;
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
    _Alignas(16) unsigned char ctx[MPROC_CTX_MAX];
};

/* One per forked worker, on its own cache lines. */
struct mproc__slot {
    _Alignas(MPROC__CACHELINE) _Atomic uint32_t inside;
    _Atomic uint32_t sleeping;
    _Atomic int32_t pid;
    sem_t wake;
    char pad[MPROC__CACHELINE];
};

struct mproc__ctl {
    _Alignas(MPROC__CACHELINE) _Atomic uint64_t gen;
    _Atomic uint32_t shutdown;
    int32_t creator_pid;
    uint64_t spin_ns;
    uint32_t nslots;

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

/* worker.c. `seen` is the generation current when the worker was forked: it must not
 * run that (finished) job, and must run every later one. */
_Noreturn void mproc__worker_main(struct mproc__ctl *ctl, uint32_t slot, uint64_t seen);
/* Claims and runs chunks of the current map until none are left. Used by workers and
 * by the caller (with its own mappings). */
void mproc__run_chunks(struct mproc__ctl *ctl, const struct mproc__job *job,
                       const char *src, char *dst);
void mproc__spin_pause(void);

#endif
