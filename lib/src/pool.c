/*
 * pool.c - the caller's side of a pool's life: the control segment, forking and
 * supervising workers, the generation protocol that hands them jobs, prepare, and the
 * accessors. Maps and crash recovery are in map.c.
 */
#include "pool_internal.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Pools created by this process, so that closing an array can tell their workers. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mproc_pool *registry;

uint64_t mproc__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int mproc__sem_wait_ns(sem_t *sem, uint64_t ns)
{
    struct timespec ts;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 30))
    clock_gettime(CLOCK_MONOTONIC, &ts);
#else
    clock_gettime(CLOCK_REALTIME, &ts);
#endif
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec += (long)(ns % 1000000000u);
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 30))
    return sem_clockwait(sem, CLOCK_MONOTONIC, &ts);
#else
    return sem_timedwait(sem, &ts);
#endif
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
    opts->max_retries = 3;
    opts->commit_mode = MPROC_COMMIT_EXACTLY_ONCE;
    opts->initializer = NULL;
    opts->initarg = NULL;
    opts->maxtasksperchild = 0;
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

/* A worker is gone if it has exited (reaped here) or was reaped by someone else. */
bool mproc__worker_gone(struct mproc_pool *pool, struct mproc__slot *slot)
{
    pid_t pid = (pid_t)atomic_load(&slot->pid);
    if (pid <= 0)
        return true;
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
        slot->exit_status = r == pid ? status : -1;
        atomic_store(&slot->pid, 0);
        atomic_store(&slot->inside, 0);
        /* a worker retired after maxtasksperchild tasks did not die */
        if (!atomic_exchange(&slot->retired, 0))
            pool->stats.worker_deaths++;
        mproc__tasks_worker_gone(pool, (uint32_t)(slot - pool->ctl->slots), slot->exit_status);
        return true;
    }
    return false;
}

bool mproc__any_worker_gone(struct mproc_pool *pool)
{
    bool gone = false;
    for (int i = 0; i < pool->nforked; i++)
        gone |= mproc__worker_gone(pool, &pool->ctl->slots[i]);
    return gone;
}

static int spawn_worker(struct mproc_pool *pool, uint32_t index)
{
    struct mproc__slot *slot = &pool->ctl->slots[index];
    atomic_store(&slot->inside, 0);
    atomic_store(&slot->sleeping, 0);
    atomic_store(&slot->commit, MPROC__COMMIT(0, MPROC__IDLE));
    atomic_store(&slot->cur_task, 0);
    atomic_store(&slot->retired, 0);
    atomic_store(&slot->spinning, 0);
    /* a post meant for a dead predecessor must not wake the new worker */
    while (sem_trywait(&slot->wake) == 0) {
    }
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

/*
 * Replaces workers found dead. Called only while no job is open, before every job.
 * Slots already known dead (pid 0) are refilled at once; asking the kernel about the
 * others (a waitpid per worker) is done at most once per REAP_INTERVAL_NS, because on
 * back-to-back small maps those syscalls were a third of the dispatch cost. A worker
 * that died unnoticed costs nothing meanwhile: the others take its chunks, and a map
 * that needs it reaps it in its own wait.
 */
#define REAP_INTERVAL_NS 1000000u

int mproc__respawn_dead(struct mproc_pool *pool)
{
    uint64_t now = mproc__now_ns();
    bool ask_kernel = now >= pool->next_reap_ns;
    if (ask_kernel)
        pool->next_reap_ns = now + REAP_INTERVAL_NS;
    for (int i = 0; i < pool->nforked; i++) {
        struct mproc__slot *slot = &pool->ctl->slots[i];
        if (atomic_load(&slot->pid) == 0 || (ask_kernel && mproc__worker_gone(pool, slot))) {
            int rc = spawn_worker(pool, (uint32_t)i);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

static void stop_workers(struct mproc_pool *pool, int started)
{
    struct mproc__ctl *ctl = pool->ctl;
    atomic_store(&ctl->shutdown, 1);
    for (int i = 0; i < started; i++)
        sem_post(&ctl->slots[i].wake);
    uint64_t deadline = mproc__now_ns() + 1000000000u;
    for (int i = 0; i < started; i++) {
        struct mproc__slot *slot = &ctl->slots[i];
        pid_t pid;
        while ((pid = (pid_t)atomic_load(&slot->pid)) > 0 && !mproc__worker_gone(pool, slot)) {
            if (mproc__now_ns() > deadline) {
                kill(pid, SIGKILL);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
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
    for (int i = 0; i < initialized_slots; i++)
        sem_destroy(&pool->ctl->slots[i].wake);
    sem_destroy(&pool->ctl->done_sem);
    mproc__tasks_free_shared(pool->ctl);
    munmap(pool->ctl, pool->ctl_bytes);
    pool->ctl = NULL;
}

static size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

/* Control block, slots, chunk records, then the page-aligned scratch areas. Untouched
 * pages of a shared anonymous mapping cost nothing, so the reservation is generous. */
static int map_ctl(struct mproc_pool *pool)
{
    size_t slots_end = sizeof(struct mproc__ctl) + (size_t)pool->nforked * sizeof(struct mproc__slot);
    size_t chunks_off = round_up(slots_end, MPROC__CACHELINE);
    size_t chunks_end = chunks_off + MPROC__MAX_CHUNKS * sizeof(struct mproc__chunkrec);
    size_t scratch_off = round_up(chunks_end, 4096);
    size_t tasks_off = scratch_off + (size_t)pool->nforked * MPROC__SCRATCH_BYTES;
    pool->ctl_bytes = tasks_off + mproc__tasks_shared_bytes((uint32_t)pool->nforked);
    void *mem = mmap(NULL, pool->ctl_bytes, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED)
        return mproc__neg_errno(errno);
    pool->ctl = mem;
    pool->ctl->chunks_off = chunks_off;
    pool->ctl->scratch_off = scratch_off;
    pool->ctl->tasks_off = tasks_off;
    return 0;
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
    if (o.workers < 0 || o.workers > MPROC_MAX_WORKERS || o.spin_us > 1000000u ||
        o.max_retries < 0 || o.max_retries > 1000 ||
        (o.commit_mode != MPROC_COMMIT_EXACTLY_ONCE && o.commit_mode != MPROC_COMMIT_DIRECT) ||
        o.maxtasksperchild < 0)
        return MPROC_EINVAL;

    struct mproc_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return MPROC_ENOMEM;
    pool->participants = o.workers ? o.workers : online_cpus();
    pool->caller_works = o.caller_works != 0;
    pool->nforked = pool->participants - (pool->caller_works ? 1 : 0);
    pool->chunk = o.chunk;
    pool->max_retries = o.max_retries;
    pool->commit_direct = o.commit_mode == MPROC_COMMIT_DIRECT;
    pool->creator = getpid();
    int rc = map_ctl(pool);
    if (rc != 0) {
        free(pool);
        return rc;
    }
    pthread_mutex_init(&pool->lock, NULL);
    struct mproc__ctl *ctl = pool->ctl;
    ctl->creator_pid = (int32_t)pool->creator;
    ctl->nslots = (uint32_t)pool->nforked;
    /* Spinning only pays when every participant has a CPU of its own. */
    ctl->spin_ns = pool->participants > online_cpus() ? 0 : (uint64_t)o.spin_us * 1000u;
    sem_init(&ctl->done_sem, 1, 0);
    rc = mproc__tasks_init_shared(ctl, &o);
    if (rc != 0) {
        sem_destroy(&ctl->done_sem);
        munmap(pool->ctl, pool->ctl_bytes);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return rc;
    }
    int inited = 0, started = 0;
    for (; inited < pool->nforked; inited++) {
        if (sem_init(&ctl->slots[inited].wake, 1, 0) != 0) {
            rc = mproc__neg_errno(errno);
            break;
        }
    }
    for (; rc == 0 && started < pool->nforked; started++)
        rc = spawn_worker(pool, (uint32_t)started);
    if (rc != 0) {
        stop_workers(pool, started);
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
        mproc__tasks_destroy(pool); /* fails what is outstanding, kills task runners */
        stop_workers(pool, pool->nforked);
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

/* Closes the current generation (if open): afterwards no live worker reads the job. */
void mproc__begin_job(struct mproc_pool *pool)
{
    struct mproc__ctl *ctl = pool->ctl;
    uint64_t g = atomic_load(&ctl->gen);
    if (!(g & 1))
        atomic_store(&ctl->gen, g + 1); /* odd: being written */
    mproc__wait_workers_out(pool);
}

/* Waits until no live worker is inside a job (dead ones are reaped on the way). */
void mproc__wait_workers_out(struct mproc_pool *pool)
{
    for (int i = 0; i < pool->nforked; i++) {
        struct mproc__slot *slot = &pool->ctl->slots[i];
        for (unsigned n = 1; atomic_load(&slot->inside); n++) {
            if (n % 1024 == 0) {
                if (mproc__worker_gone(pool, slot))
                    break;
                sched_yield();
            } else {
                mproc__spin_pause();
            }
        }
    }
}

/* Opens the new generation and wakes up to `want` sleeping workers. */
void mproc__publish_job(struct mproc_pool *pool, uint64_t want)
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

void mproc__make_ref(struct mproc__arrayref *ref, const mproc_array *a)
{
    if (a->fd >= 0)
        snprintf(ref->locator, sizeof ref->locator, "/proc/%ld/fd/%d", (long)getpid(), a->fd);
    else
        snprintf(ref->locator, sizeof ref->locator, "/%s", a->name);
    ref->instance_id = a->map.hdr.instance_id;
    ref->raw = a->raw;
    ref->raw_bytes = a->raw ? a->map.hdr.data_bytes : 0;
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

MPROC_API int mproc_pool_get_stats(const mproc_pool *pool, mproc_pool_stats *out)
{
    if (pool == NULL || out == NULL)
        return MPROC_EINVAL;
    *out = pool->stats;
    return 0;
}

MPROC_API int mproc_pool_last_failure(const mproc_pool *pool, mproc_map_failure *out)
{
    if (pool == NULL || out == NULL)
        return MPROC_EINVAL;
    if (!pool->has_failure)
        return MPROC_ENOENT;
    *out = pool->failure;
    return 0;
}

MPROC_API int mproc_pool_worker_pids(const mproc_pool *pool, pid_t *pids, int cap)
{
    if (pool == NULL || (pids == NULL && cap > 0) || cap < 0)
        return MPROC_EINVAL;
    for (int i = 0; i < pool->nforked && i < cap; i++)
        pids[i] = (pid_t)atomic_load(&pool->ctl->slots[i].pid);
    return pool->nforked;
}
