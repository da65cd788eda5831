/*
 * pool.c - the caller's side of a pool: fork and supervise workers, publish jobs,
 * work as worker 0, wait for completion without ever blocking forever.
 */
#include "pool_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIN_CHUNK_BYTES (16u * 1024u)
#define MAX_CHUNK_BYTES (512u * 1024u)
#define CHUNKS_PER_PARTICIPANT 8
#define WAIT_SLICE_NS (20u * 1000u * 1000u) /* how often a waiting caller checks workers */

struct mproc_pool {
    struct mproc__ctl *ctl;
    size_t ctl_bytes;
    int participants;
    int nforked;
    bool caller_works;
    size_t chunk; /* 0 = automatic */
    pid_t creator;
    pthread_mutex_t lock; /* one job at a time */
    struct mproc_pool *next_in_process;
};

/* Pools created by this process, so that closing an array can tell their workers. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mproc_pool *registry;

uint64_t mproc__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > MPROC_MAX_WORKERS ? MPROC_MAX_WORKERS : (int)n);
}

MPROC_API void mproc_pool_options_init(mproc_pool_options *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->workers = 0;
    opts->caller_works = 1;
    opts->chunk = 0;
    opts->spin_us = 50;
}

void mproc__pools_forget(uint64_t instance_id)
{
    pthread_mutex_lock(&registry_lock);
    for (struct mproc_pool *p = registry; p != NULL; p = p->next_in_process) {
        if (p->creator != getpid())
            continue;
        uint64_t seq = atomic_load(&p->ctl->evict_seq);
        atomic_store(&p->ctl->evict_ids[seq % MPROC__EVICT_RING], instance_id);
        atomic_store(&p->ctl->evict_seq, seq + 1);
    }
    pthread_mutex_unlock(&registry_lock);
}

/* A worker is gone if it has exited (reaped now) or was reaped by someone else. */
static bool worker_gone(struct mproc__slot *slot)
{
    pid_t pid = (pid_t)atomic_load(&slot->pid);
    if (pid <= 0)
        return true;
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
        atomic_store(&slot->pid, 0);
        atomic_store(&slot->inside, 0);
        return true;
    }
    return false;
}

static int spawn_worker(struct mproc_pool *pool, uint32_t index)
{
    struct mproc__slot *slot = &pool->ctl->slots[index];
    atomic_store(&slot->inside, 0);
    atomic_store(&slot->sleeping, 0);
    uint64_t seen = atomic_load(&pool->ctl->gen);
    fflush(NULL); /* buffered output must not be written twice */
    pid_t pid = fork();
    if (pid < 0)
        return mproc__neg_errno(errno);
    if (pid == 0)
        mproc__worker_main(pool->ctl, index, seen);
    atomic_store(&slot->pid, (int32_t)pid);
    return 0;
}

/* Replaces workers that died since the last job (crash recovery proper is per chunk). */
static int respawn_dead(struct mproc_pool *pool)
{
    for (int i = 0; i < pool->nforked; i++) {
        struct mproc__slot *slot = &pool->ctl->slots[i];
        if (worker_gone(slot)) {
            /* a semaphore may hold a post meant for the dead worker: start clean */
            while (sem_trywait(&slot->wake) == 0) {
            }
            int rc = spawn_worker(pool, (uint32_t)i);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

static void stop_workers(struct mproc_pool *pool)
{
    struct mproc__ctl *ctl = pool->ctl;
    atomic_store(&ctl->shutdown, 1);
    for (int i = 0; i < pool->nforked; i++)
        sem_post(&ctl->slots[i].wake);
    uint64_t deadline = mproc__now_ns() + 1000000000u;
    for (int i = 0; i < pool->nforked; i++) {
        struct mproc__slot *slot = &ctl->slots[i];
        while (!worker_gone(slot)) {
            if (mproc__now_ns() > deadline) {
                kill((pid_t)atomic_load(&slot->pid), SIGKILL);
                while (waitpid((pid_t)atomic_load(&slot->pid), NULL, 0) < 0 && errno == EINTR) {
                }
                atomic_store(&slot->pid, 0);
                break;
            }
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
}

static void free_ctl(struct mproc_pool *pool, int initialized_slots)
{
    if (pool->ctl == NULL)
        return;
    for (int i = 0; i < initialized_slots; i++)
        sem_destroy(&pool->ctl->slots[i].wake);
    sem_destroy(&pool->ctl->done_sem);
    munmap(pool->ctl, pool->ctl_bytes);
    pool->ctl = NULL;
}

MPROC_API int mproc_pool_create(mproc_pool **out, const mproc_pool_options *opts)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    if (opts != NULL)
        o = *opts;
    if (o.workers < 0 || o.workers > MPROC_MAX_WORKERS || o.spin_us > 1000000u)
        return MPROC_EINVAL;

    struct mproc_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return MPROC_ENOMEM;
    pool->participants = o.workers ? o.workers : online_cpus();
    pool->caller_works = o.caller_works != 0;
    pool->nforked = pool->participants - (pool->caller_works ? 1 : 0);
    pool->chunk = o.chunk;
    pool->creator = getpid();
    pthread_mutex_init(&pool->lock, NULL);

    pool->ctl_bytes = sizeof(struct mproc__ctl) + (size_t)pool->nforked * sizeof(struct mproc__slot);
    void *mem = mmap(NULL, pool->ctl_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        int rc = mproc__neg_errno(errno);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return rc;
    }
    struct mproc__ctl *ctl = pool->ctl = mem;
    ctl->creator_pid = (int32_t)pool->creator;
    ctl->nslots = (uint32_t)pool->nforked;
    /* Spinning only pays when every participant has a CPU of its own. */
    ctl->spin_ns = pool->participants > online_cpus() ? 0 : (uint64_t)o.spin_us * 1000u;
    sem_init(&ctl->done_sem, 1, 0);
    int rc = 0, inited = 0;
    for (; inited < pool->nforked; inited++) {
        if (sem_init(&ctl->slots[inited].wake, 1, 0) != 0) {
            rc = mproc__neg_errno(errno);
            break;
        }
    }
    for (int i = 0; rc == 0 && i < pool->nforked; i++)
        rc = spawn_worker(pool, (uint32_t)i);
    if (rc != 0) {
        stop_workers(pool);
        free_ctl(pool, inited);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return rc;
    }
    pthread_mutex_lock(&registry_lock);
    pool->next_in_process = registry;
    registry = pool;
    pthread_mutex_unlock(&registry_lock);
    *out = pool;
    return 0;
}

MPROC_API int mproc_pool_destroy(mproc_pool *pool)
{
    if (pool == NULL)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&registry_lock);
    for (struct mproc_pool **pp = &registry; *pp != NULL; pp = &(*pp)->next_in_process) {
        if (*pp == pool) {
            *pp = pool->next_in_process;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    if (pool->creator == getpid()) {
        stop_workers(pool);
        free_ctl(pool, pool->nforked);
    } else {
        /* A forked copy of the handle: drop our mapping, leave the workers alone. */
        munmap(pool->ctl, pool->ctl_bytes);
        rc = MPROC_ESTATE;
    }
    pthread_mutex_destroy(&pool->lock);
    free(pool);
    return rc;
}

MPROC_API int mproc_pool_workers(const mproc_pool *pool)
{
    return pool ? pool->participants : 0;
}

MPROC_API int mproc_pool_set_chunk(mproc_pool *pool, size_t chunk)
{
    if (pool == NULL)
        return MPROC_EINVAL;
    pthread_mutex_lock(&pool->lock);
    pool->chunk = chunk;
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

MPROC_API size_t mproc_pool_chunk_for(const mproc_pool *pool, size_t length, size_t elem_size)
{
    if (pool == NULL || elem_size == 0)
        return 0;
    if (pool->chunk != 0)
        return pool->chunk;
    size_t parts = (size_t)pool->participants * CHUNKS_PER_PARTICIPANT;
    size_t target = length / parts + (length % parts != 0);
    size_t bytes;
    if (__builtin_mul_overflow(target, elem_size, &bytes) || bytes > MAX_CHUNK_BYTES)
        bytes = MAX_CHUNK_BYTES;
    if (bytes < MIN_CHUNK_BYTES)
        bytes = MIN_CHUNK_BYTES;
    size_t chunk = bytes / elem_size;
    return chunk ? chunk : 1;
}

static void make_ref(struct mproc__arrayref *ref, const mproc_array *a)
{
    if (a->fd >= 0)
        snprintf(ref->locator, sizeof ref->locator, "/proc/%ld/fd/%d", (long)getpid(), a->fd);
    else
        snprintf(ref->locator, sizeof ref->locator, "/%s", a->name);
    ref->instance_id = a->map.hdr.instance_id;
}

/* Closes the current generation: afterwards no worker reads the job. */
static void begin_job(struct mproc_pool *pool)
{
    struct mproc__ctl *ctl = pool->ctl;
    atomic_store(&ctl->gen, atomic_load(&ctl->gen) + 1); /* odd: being written */
    for (int i = 0; i < pool->nforked; i++) {
        struct mproc__slot *slot = &ctl->slots[i];
        for (unsigned n = 1; atomic_load(&slot->inside); n++) {
            if (n % 1024 == 0) {
                if (worker_gone(slot))
                    break;
                sched_yield();
            } else {
                mproc__spin_pause();
            }
        }
    }
    atomic_store(&ctl->cursor, 0);
    atomic_store(&ctl->done, 0);
    atomic_store(&ctl->error, 0);
}

/* Opens the new generation and wakes up to `want` sleeping workers. */
static void publish_job(struct mproc_pool *pool, int want)
{
    struct mproc__ctl *ctl = pool->ctl;
    atomic_store(&ctl->gen, atomic_load(&ctl->gen) + 1); /* even: published */
    for (int i = 0; i < pool->nforked && want > 0; i++) {
        struct mproc__slot *slot = &ctl->slots[i];
        if (atomic_exchange(&slot->sleeping, 0) == 1) {
            sem_post(&slot->wake);
            want--;
        }
    }
}

static bool any_worker_gone(struct mproc_pool *pool)
{
    bool gone = false;
    for (int i = 0; i < pool->nforked; i++)
        gone |= worker_gone(&pool->ctl->slots[i]);
    return gone;
}

/* Waits until `total` chunks are done: spin, then sleep in slices, checking workers. */
static int wait_done(struct mproc_pool *pool, uint64_t total)
{
    struct mproc__ctl *ctl = pool->ctl;
    uint64_t deadline = ctl->spin_ns ? mproc__now_ns() + ctl->spin_ns : 0;
    for (unsigned i = 1; atomic_load(&ctl->done) < total; i++) {
        if (deadline != 0 && ((i & 127) != 0 || mproc__now_ns() < deadline)) {
            mproc__spin_pause();
            continue;
        }
        atomic_store(&ctl->caller_waiting, 1);
        if (atomic_load(&ctl->done) >= total)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WAIT_SLICE_NS;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        if (sem_timedwait(&ctl->done_sem, &ts) != 0 && errno == ETIMEDOUT &&
            atomic_load(&ctl->done) < total && any_worker_gone(pool)) {
            /* Its chunk may never finish: stop handing out chunks and let the others
             * leave. Recovering the chunk itself is the crash-safety layer's job. */
            atomic_store(&ctl->caller_waiting, 0);
            atomic_store(&ctl->cursor, UINT64_MAX / 2);
            return MPROC_EWORKER;
        }
    }
    atomic_store(&ctl->caller_waiting, 0);
    return atomic_load(&ctl->error);
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

/* A single chunk is not worth waking anyone for: the caller does it alone. */
static int map_inline(mproc_kernel kernel, const void *ctx, const mproc_array *src,
                      mproc_array *dst)
{
    return kernel(src->map.data, dst->map.data, src->length, ctx) != 0 ? MPROC_EKERNEL : 0;
}

MPROC_API int mproc_map(mproc_pool *pool, mproc_kernel kernel, const void *ctx,
                        size_t ctx_size, const mproc_array *src, mproc_array *dst)
{
    if (pool == NULL || kernel == NULL || ctx_size > MPROC_CTX_MAX || (ctx == NULL && ctx_size))
        return MPROC_EINVAL;
    int rc = check_pair(src, dst);
    if (rc != 0)
        return rc;
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    if (src->length == 0)
        return 0;

    pthread_mutex_lock(&pool->lock);
    struct mproc__ctl *ctl = pool->ctl;
    uint64_t chunk = mproc_pool_chunk_for(pool, src->length, src->elem_size);
    uint64_t nchunks = src->length / chunk + (src->length % chunk != 0);
    if (pool->caller_works && (nchunks == 1 || pool->nforked == 0) && nchunks < UINT64_MAX) {
        unsigned char ctx_copy[MPROC_CTX_MAX];
        if (ctx_size)
            memcpy(ctx_copy, ctx, ctx_size);
        rc = 0;
        if (nchunks == 1) {
            rc = map_inline(kernel, ctx_size ? ctx_copy : NULL, src, dst);
        } else {
            for (uint64_t c = 0; c < nchunks; c++) {
                size_t off = (size_t)(c * chunk), len = src->length - off < chunk ? src->length - off : chunk;
                if (kernel((const char *)src->map.data + off * src->elem_size,
                           (char *)dst->map.data + off * src->elem_size, len,
                           ctx_size ? ctx_copy : NULL) != 0)
                    rc = MPROC_EKERNEL;
            }
        }
        pthread_mutex_unlock(&pool->lock);
        return rc;
    }
    rc = respawn_dead(pool);
    if (rc != 0) {
        pthread_mutex_unlock(&pool->lock);
        return rc;
    }
    begin_job(pool);
    struct mproc__job *job = &ctl->job;
    job->type = MPROC__JOB_MAP;
    job->kernel = kernel;
    job->ctx_size = (uint32_t)ctx_size;
    if (ctx_size)
        memcpy(job->ctx, ctx, ctx_size);
    make_ref(&job->src, src);
    make_ref(&job->dst, dst);
    job->length = src->length;
    job->elem_size = src->elem_size;
    job->chunk = chunk;
    job->nchunks = nchunks;
    uint64_t helpers = pool->caller_works ? nchunks - 1 : nchunks;
    publish_job(pool, helpers > (uint64_t)pool->nforked ? pool->nforked : (int)helpers);
    if (pool->caller_works)
        mproc__run_chunks(ctl, job, src->map.data, dst->map.data);
    rc = wait_done(pool, nchunks);
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

MPROC_API int mproc_pool_prepare(mproc_pool *pool, const mproc_array *array)
{
    if (pool == NULL || array == NULL)
        return MPROC_EINVAL;
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    if (pool->nforked == 0)
        return 0;
    pthread_mutex_lock(&pool->lock);
    int rc = respawn_dead(pool);
    if (rc == 0) {
        begin_job(pool);
        struct mproc__job *job = &pool->ctl->job;
        memset(job, 0, offsetof(struct mproc__job, ctx));
        job->type = MPROC__JOB_PREPARE;
        make_ref(&job->dst, array);
        job->length = array->length;
        job->elem_size = array->elem_size;
        job->nchunks = (uint64_t)pool->nforked; /* each worker reports once */
        publish_job(pool, pool->nforked);
        rc = wait_done(pool, job->nchunks);
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
