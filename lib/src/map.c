/*
 * map.c - maps over shared arrays: chunking, the caller as worker 0, waiting without
 * ever blocking forever, and recovery rounds after a worker dies (the protocol is
 * described in pool_internal.h).
 */
#include "pool_internal.h"

#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define MIN_CHUNK_BYTES (16u * 1024u)
#define CHUNKS_PER_PARTICIPANT 8
#define WAIT_SLICE_NS (20u * 1000u * 1000u) /* how often a waiting caller checks workers */
#define MAX_ROUNDS 10000                    /* rounds of one map, whatever happens */

MPROC_API size_t mproc_pool_chunk_for(const mproc_pool *pool, size_t length, size_t elem_size)
{
    if (pool == NULL || elem_size == 0)
        return 0;
    size_t chunk = pool->chunk;
    if (chunk == 0) {
        size_t parts = (size_t)pool->participants * CHUNKS_PER_PARTICIPANT;
        size_t target = length / parts + (length % parts != 0);
        size_t bytes;
        if (__builtin_mul_overflow(target, elem_size, &bytes) || bytes > MPROC__SCRATCH_BYTES)
            bytes = MPROC__SCRATCH_BYTES;
        if (bytes < MIN_CHUNK_BYTES)
            bytes = MIN_CHUNK_BYTES;
        chunk = bytes / elem_size;
    }
    size_t least = length / MPROC__MAX_CHUNKS + (length % MPROC__MAX_CHUNKS != 0);
    if (chunk < least)
        chunk = least;
    return chunk ? chunk : 1;
}

static void sleep_slice(sem_t *sem)
{
    mproc__sem_wait_ns(sem, WAIT_SLICE_NS); /* a post, a timeout or EINTR: look again */
}

/*
 * Waits until `target` chunks are done (returns 0), or until a worker is found dead;
 * then closes the round, lets the live ones finish what they claimed, and returns
 * MPROC_EWORKER so that the caller recovers. Spins first, then sleeps in slices.
 */
static int wait_round(struct mproc_pool *pool, uint64_t target)
{
    struct mproc__ctl *ctl = pool->ctl;
    uint64_t deadline = ctl->spin_ns ? mproc__now_ns() + ctl->spin_ns : 0;
    for (unsigned i = 1; atomic_load(&ctl->done) < target; i++) {
        if (deadline != 0 && ((i & 127) != 0 || mproc__now_ns() < deadline)) {
            mproc__spin_pause();
            continue;
        }
        atomic_store(&ctl->caller_waiting, 1);
        if (atomic_load(&ctl->done) >= target)
            break;
        sleep_slice(&ctl->done_sem);
        if (atomic_load(&ctl->done) < target && mproc__any_worker_gone(pool)) {
            atomic_store(&ctl->caller_waiting, 0);
            mproc__begin_job(pool); /* close the round; the living finish their chunks */
            return MPROC_EWORKER;
        }
    }
    atomic_store(&ctl->caller_waiting, 0);
    return 0;
}

/* What a dead worker left: finish its commit from the scratch, note where to resume. */
static void salvage(struct mproc_pool *pool, uint32_t index, const struct mproc__job *job,
                    char *dst)
{
    struct mproc__ctl *ctl = pool->ctl;
    struct mproc__slot *slot = &ctl->slots[index];
    uint64_t w = atomic_load(&slot->commit), c = atomic_load(&slot->cur_chunk);
    atomic_store(&slot->commit, MPROC__COMMIT(0, MPROC__IDLE));
    if (MPROC__COMMIT_STATE(w) == MPROC__IDLE || c >= job->nchunks)
        return;
    struct mproc__chunkrec *rec = &mproc__chunks(ctl)[c];
    if (atomic_load(&rec->state) != MPROC__CHUNK_HELD)
        return; /* it died after finishing the chunk */
    uint64_t pos = MPROC__COMMIT_POS(w);
    unsigned state = MPROC__COMMIT_STATE(w);
    if (state == MPROC__COMMITTING || state == MPROC__SAVING) {
        /* COMMITTING: finish the copy of the results; SAVING: put the originals back,
         * then redo the piece. The piece never exceeds the scratch or the chunk; the
         * bound only keeps the copy inside both whatever the word says. */
        uint64_t piece = atomic_load(&slot->piece), start = c * job->chunk;
        uint64_t end = job->length - start < job->chunk ? job->length : start + job->chunk;
        uint64_t fits = MPROC__SCRATCH_BYTES / job->elem_size;
        if (pos >= start && pos <= end) {
            if (piece > end - pos)
                piece = end - pos;
            if (piece > fits)
                piece = fits;
            memcpy(dst + pos * job->elem_size, mproc__scratch(ctl, index),
                   (size_t)(piece * job->elem_size));
            if (state == MPROC__COMMITTING)
                pos += piece;
        }
    }
    rec->resume = pos - c * job->chunk;
    rec->deaths++;
    int st = slot->exit_status;
    rec->last_signal = (uint16_t)(st >= 0 && WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    rec->last_status = st;
    atomic_store(&rec->state, MPROC__CHUNK_FREE);
}

static void record_failure(struct mproc_pool *pool, const struct mproc__job *job, uint64_t c,
                           const struct mproc__chunkrec *rec)
{
    int exit_status = rec->last_status;
    pool->stats.chunks_failed++;
    if (pool->has_failure)
        return;
    uint64_t start = c * job->chunk;
    uint64_t end = job->length - start < job->chunk ? job->length : start + job->chunk;
    pool->has_failure = true;
    pool->failure.start = (size_t)(start + rec->resume);
    pool->failure.end = (size_t)end;
    pool->failure.signal = rec->last_signal;
    pool->failure.exit_status = rec->last_signal == 0 && exit_status >= 0 && WIFEXITED(exit_status)
                                    ? WEXITSTATUS(exit_status) : -1;
    pool->failure.deaths = rec->deaths;
}

/*
 * Between rounds (no worker inside the job): salvage the dead, decide which chunks run
 * again and which are given up. Returns the number of chunks for the next round.
 */
static uint64_t recover(struct mproc_pool *pool, struct mproc__job *job, char *dst)
{
    struct mproc__ctl *ctl = pool->ctl;
    for (int i = 0; i < pool->nslots; i++)
        if (atomic_load(&ctl->slots[i].pid) <= 0) /* dead (0, or VACATING in MANUAL pools) */
            salvage(pool, (uint32_t)i, job, dst);
    struct mproc__chunkrec *recs = mproc__chunks(ctl);
    uint64_t remaining = 0;
    for (uint64_t c = 0; c < job->nchunks; c++) {
        struct mproc__chunkrec *rec = &recs[c];
        uint32_t st = atomic_load(&rec->state);
        if (st == MPROC__CHUNK_DONE || st == MPROC__CHUNK_FAILED)
            continue;
        /* HELD here means a worker claimed it and died before computing anything. */
        bool retried = st == MPROC__CHUNK_HELD || rec->deaths > 0 || rec->resume > 0;
        if (rec->deaths > (uint16_t)pool->max_retries) {
            atomic_store(&rec->state, MPROC__CHUNK_FAILED);
            record_failure(pool, job, c, rec);
            continue;
        }
        atomic_store(&rec->state, MPROC__CHUNK_FREE);
        if (retried)
            pool->stats.chunks_retried++;
        remaining++;
    }
    return remaining;
}

static void reset_chunks(struct mproc__ctl *ctl, uint64_t nchunks)
{
    struct mproc__chunkrec *recs = mproc__chunks(ctl);
    for (uint64_t c = 0; c < nchunks; c++) {
        atomic_store_explicit(&recs[c].state, MPROC__CHUNK_FREE, memory_order_relaxed);
        recs[c].deaths = 0;
        recs[c].last_signal = 0;
        recs[c].last_status = -1;
        recs[c].resume = 0;
    }
}

static void open_round(struct mproc_pool *pool, uint64_t target, bool caller_helps)
{
    struct mproc__ctl *ctl = pool->ctl;
    ctl->job.target = target;
    atomic_store(&ctl->cursor, 0);
    atomic_store(&ctl->done, 0);
    uint64_t helpers = caller_helps ? target - 1 : target;
    mproc__publish_job(pool, helpers);
}

/* Runs a job already written to ctl->job (the generation is closed). */
static int run_rounds(struct mproc_pool *pool, mproc_kernel kernel, const mproc_array *src,
                      mproc_array *dst)
{
    struct mproc__ctl *ctl = pool->ctl;
    struct mproc__job *job = &ctl->job;
    reset_chunks(ctl, job->nchunks);
    atomic_store(&ctl->error, 0);
    open_round(pool, job->nchunks, pool->caller_works);
    if (pool->caller_works)
        mproc__run_chunks(ctl, job, kernel, src->map.data, dst->map.data, -1, 0);
    for (int round = 1; wait_round(pool, job->target) != 0; round++) {
        uint64_t remaining = recover(pool, job, dst->map.data);
        int rc = mproc__respawn_dead(pool);
        if (rc != 0)
            return rc;
        if (remaining == 0)
            break;
        if (round >= MAX_ROUNDS)
            return MPROC_EWORKER;
        if (pool->start_method == MPROC_START_MANUAL && mproc__live_workers(pool) == 0)
            return MPROC_ENOWORKER; /* every joined worker died or left; the rest is as it was */
        open_round(pool, remaining, false); /* retries run on workers only */
    }
    int err = atomic_load(&ctl->error);
    return err != 0 ? err : (pool->has_failure ? MPROC_EWORKER : 0);
}

static int check_pair(const mproc_array *src, const mproc_array *dst)
{
    if (src == NULL || dst == NULL)
        return MPROC_EINVAL;
    if (src->dtype != dst->dtype)
        return MPROC_EDTYPE;
    if (src->length != dst->length)
        return MPROC_ELENGTH;
    return 0;
}

/* Too little work to wake anyone for: the caller does it alone, chunk by chunk. */
static int map_inline(mproc_kernel kernel, const void *ctx, const mproc_array *src,
                      mproc_array *dst, size_t chunk)
{
    int rc = 0;
    size_t es = src->elem_size;
    for (size_t off = 0; off < src->length; off += chunk) {
        size_t len = src->length - off < chunk ? src->length - off : chunk;
        if (kernel((const char *)src->map.data + off * es, (char *)dst->map.data + off * es,
                   len, ctx) != 0)
            rc = MPROC_EKERNEL;
    }
    return rc;
}

/*
 * The map behind mproc_map, mproc_map_op and mproc_map_named. kernel is what the caller
 * runs; workers that were not forked get `name` (a forked one gets the pointer too,
 * unless the kernel was asked for by name: it may come from a library loaded after
 * the fork).
 */
static int map_common(mproc_pool *pool, mproc_kernel kernel, const char *name, bool by_name,
                      const void *ctx, size_t ctx_size, const mproc_array *src, mproc_array *dst)
{
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    if (src->length == 0)
        return 0;

    pthread_mutex_lock(&pool->lock);
    pool->stats.maps++;
    pool->has_failure = false;
    uint64_t chunk = mproc_pool_chunk_for(pool, src->length, src->elem_size);
    uint64_t nchunks = src->length / chunk + (src->length % chunk != 0);
    int rc = 0, helpers = pool->nslots;
    bool manual = pool->start_method == MPROC_START_MANUAL;
    if (manual) { /* who is in the pool right now decides */
        rc = mproc__respawn_dead(pool);
        helpers = mproc__live_workers(pool);
    }
    if (rc == 0 && pool->caller_works && (nchunks == 1 || helpers == 0)) {
        unsigned char ctx_copy[MPROC_CTX_MAX]; /* the same copy semantics as workers get */
        if (ctx_size)
            memcpy(ctx_copy, ctx, ctx_size);
        rc = map_inline(kernel, ctx_size ? ctx_copy : NULL, src, dst, (size_t)chunk);
        pthread_mutex_unlock(&pool->lock);
        return rc;
    }
    if (rc == 0 && !manual)
        rc = mproc__respawn_dead(pool);
    if (rc == 0 && helpers == 0)
        rc = MPROC_ENOWORKER; /* nobody has joined, and the caller does not work */
    if (rc == 0) {
        mproc__begin_job(pool);
        struct mproc__job *job = &pool->ctl->job;
        job->type = MPROC__JOB_MAP;
        job->kernel = by_name ? NULL : kernel;
        memset(job->kernel_name, 0, sizeof job->kernel_name);
        if (name != NULL)
            strcpy(job->kernel_name, name); /* checked: at most MPROC_KERNEL_NAME_MAX */
        job->dtype = (uint32_t)src->dtype;
        job->ctx_size = (uint32_t)ctx_size;
        if (ctx_size)
            memcpy(job->ctx, ctx, ctx_size);
        mproc__make_ref(&job->src, src);
        mproc__make_ref(&job->dst, dst);
        job->in_place = !pool->commit_direct &&
                        src->map.hdr.instance_id == dst->map.hdr.instance_id;
        job->length = src->length;
        job->elem_size = src->elem_size;
        job->chunk = chunk;
        job->nchunks = nchunks;
        rc = run_rounds(pool, kernel, src, dst);
    }
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

static int check_map_args(mproc_pool *pool, const void *ctx, size_t ctx_size,
                          const mproc_array *src, const mproc_array *dst)
{
    if (pool == NULL || ctx_size > MPROC_CTX_MAX || (ctx == NULL && ctx_size))
        return MPROC_EINVAL;
    return check_pair(src, dst);
}

MPROC_API int mproc_map(mproc_pool *pool, mproc_kernel kernel, const void *ctx,
                        size_t ctx_size, const mproc_array *src, mproc_array *dst)
{
    if (kernel == NULL)
        return MPROC_EINVAL;
    int rc = check_map_args(pool, ctx, ctx_size, src, dst);
    if (rc != 0)
        return rc;
    char name[MPROC_KERNEL_NAME_MAX + 1];
    bool forked = pool->start_method == MPROC_START_FORK;
    if (!forked && (rc = mproc__kernel_name_of(kernel, src->dtype, name)) != 0)
        return rc; /* MPROC_ESPAWNED: a pointer we cannot name */
    return map_common(pool, kernel, forked ? NULL : name, false, ctx, ctx_size, src, dst);
}

MPROC_API int mproc_map_named(mproc_pool *pool, const char *kernel, const void *ctx,
                              size_t ctx_size, const mproc_array *src, mproc_array *dst)
{
    if (kernel == NULL)
        return MPROC_EINVAL;
    int rc = check_map_args(pool, ctx, ctx_size, src, dst);
    if (rc != 0)
        return rc;
    mproc_kernel fn;
    if ((rc = mproc__kernel_name_check(kernel)) != 0 ||
        (rc = mproc_kernel_find(kernel, src->dtype, &fn)) != 0)
        return rc;
    mproc_op op;
    if (mproc_op_parse(kernel, &op) == 0) /* built-ins are in every worker: no lookup there */
        return mproc_map(pool, fn, ctx, ctx_size, src, dst);
    return map_common(pool, fn, kernel, true, ctx, ctx_size, src, dst);
}

MPROC_API int mproc_pool_prepare(mproc_pool *pool, const mproc_array *array)
{
    if (pool == NULL || array == NULL)
        return MPROC_EINVAL;
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    if (pool->nslots == 0)
        return 0;
    pthread_mutex_lock(&pool->lock);
    int rc = mproc__respawn_dead(pool);
    if (rc == 0) {
        mproc__begin_job(pool);
        struct mproc__job *job = &pool->ctl->job;
        memset(job, 0, offsetof(struct mproc__job, ctx));
        job->type = MPROC__JOB_PREPARE;
        mproc__make_ref(&job->dst, array);
        job->length = array->length;
        job->elem_size = array->elem_size;
        atomic_store(&pool->ctl->error, 0);
        open_round(pool, (uint64_t)pool->nslots, false); /* each worker reports once */
        /* A worker that dies here is replaced at the next job; preparing is only an
         * optimisation, so that is not an error. */
        rc = wait_round(pool, job->target) == 0 ? atomic_load(&pool->ctl->error) : 0;
    }
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

MPROC_API int mproc_map_op(mproc_pool *pool, mproc_op op, const void *scalar,
                           const mproc_array *src, mproc_array *dst)
{
    if (pool == NULL)
        return MPROC_EINVAL;
    int rc = check_pair(src, dst);
    if (rc != 0)
        return rc;
    mproc_kernel k;
    if ((rc = mproc_kernel_get(op, src->dtype, &k)) != 0)
        return rc;
    bool needs_scalar = op == MPROC_OP_ADD || op == MPROC_OP_MUL;
    if (needs_scalar && scalar == NULL)
        return MPROC_EINVAL;
    return mproc_map(pool, k, needs_scalar ? scalar : NULL, needs_scalar ? src->elem_size : 0,
                     src, dst);
}

MPROC_API int mproc_square(mproc_pool *pool, mproc_array *array)
{
    return mproc_map_op(pool, MPROC_OP_SQUARE, NULL, array, array);
}
