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
/* meson defines it as the installed `mproc`; builds outside meson (fuzz/run.sh) get this */
#ifndef MPROC__DEFAULT_WORKER_EXE
#define MPROC__DEFAULT_WORKER_EXE "/usr/local/bin/mproc"
#endif

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mproc_pool *registry;
static _Atomic int default_start_method = MPROC_START_FORK;

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
    opts->start_method = MPROC_START_DEFAULT;
    opts->name = NULL;
    opts->worker_exe = NULL;
}

MPROC_API int mproc_set_start_method(int method)
{
    if (method != MPROC_START_FORK && method != MPROC_START_SPAWN && method != MPROC_START_MANUAL)
        return MPROC_EINVAL;
    atomic_store(&default_start_method, method);
    return 0;
}

MPROC_API int mproc_get_start_method(void) { return atomic_load(&default_start_method); }

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

/* A joined worker (not our child) is gone when its slot's robust mutex says so. */
static bool joined_worker_gone(struct mproc__slot *slot)
{
    int r = pthread_mutex_trylock(&slot->alive);
    if (r == EBUSY)
        return false;
    if (r == EOWNERDEAD)
        pthread_mutex_consistent(&slot->alive);
    if (r == 0 || r == EOWNERDEAD)
        pthread_mutex_unlock(&slot->alive);
    /* r == 0: it left (or is leaving) cleanly; its commit word is idle. */
    return true;
}

/* A worker is gone if it has exited (reaped here) or was reaped by someone else. */
bool mproc__worker_gone(struct mproc_pool *pool, struct mproc__slot *slot)
{
    pid_t pid = (pid_t)atomic_load(&slot->pid);
    if (pid <= 0)
        return true;
    bool gone;
    int status = -1; /* -1: no exit status to be had (reaped elsewhere, or not our child) */
    if (pool->start_method == MPROC_START_MANUAL) {
        gone = joined_worker_gone(slot);
    } else {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        gone = r == pid || (r < 0 && errno == ECHILD);
        if (r == pid)
            status = st;
    }
    if (gone) {
        slot->exit_status = status;
        /* a free slot of a MANUAL pool could be joined at once: not before the caller
         * has salvaged what the dead worker left in it (mproc__respawn_dead frees it) */
        atomic_store(&slot->pid, pool->start_method == MPROC_START_MANUAL ? MPROC__PID_VACATING : 0);
        atomic_store(&slot->inside, 0);
        /* a worker retired after maxtasksperchild tasks did not die */
        if (!atomic_exchange(&slot->retired, 0))
            pool->stats.worker_deaths++;
        mproc__tasks_worker_gone(pool, (uint32_t)(slot - pool->ctl->slots), slot->exit_status);
        return true;
    }
    return false;
}

/*
 * Whether a job's round must be closed for recovery: a worker is gone (found dead now, or
 * earlier and not replaced yet: a slot the job was published without). In a MANUAL pool
 * an empty slot is no one's, not a death; there it is whether a serving worker is found
 * dead now, or none is left at all (workers may leave between jobs: the map must not
 * wait for them).
 */
bool mproc__any_worker_gone(struct mproc_pool *pool)
{
    bool manual = pool->start_method == MPROC_START_MANUAL;
    bool gone = false;
    int live = 0;
    for (int i = 0; i < pool->nslots; i++) {
        struct mproc__slot *slot = &pool->ctl->slots[i];
        if (atomic_load(&slot->pid) > 0) {
            if (mproc__worker_gone(pool, slot))
                gone = true;
            else
                live++;
        } else if (!manual) {
            gone = true;
        }
    }
    return gone || (manual && live == 0);
}

int mproc__live_workers(struct mproc_pool *pool)
{
    int live = 0;
    for (int i = 0; i < pool->nslots; i++)
        live += atomic_load(&pool->ctl->slots[i].pid) > 0;
    return live;
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
    atomic_store(&slot->joined, 0);
    /* a post meant for a dead predecessor must not wake the new worker */
    while (sem_trywait(&slot->wake) == 0) {
    }
    uint64_t seen = atomic_load(&pool->ctl->gen);
    if (pool->start_method == MPROC_START_SPAWN)
        return mproc__spawn_worker(pool, index, seen);
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
    if (pool->start_method == MPROC_START_MANUAL) {
        /* Nobody to start: free the slots of dead workers (salvaged by now) for joiners. */
        for (int i = 0; i < pool->nslots; i++) {
            struct mproc__slot *slot = &pool->ctl->slots[i];
            if (atomic_load(&slot->pid) > 0 && ask_kernel)
                mproc__worker_gone(pool, slot);
            int32_t vacating = MPROC__PID_VACATING;
            if (atomic_compare_exchange_strong(&slot->pid, &vacating, 0))
                atomic_store(&slot->commit, MPROC__COMMIT(0, MPROC__IDLE));
        }
        return 0;
    }
    for (int i = 0; i < pool->nslots; i++) {
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
            if (mproc__now_ns() > deadline && pool->start_method == MPROC_START_MANUAL)
                break; /* not ours to kill: it leaves when it next looks */
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
    /* Joined workers may still map it (a slow one that has not left): semaphores and
     * mutexes they could touch are not destroyed under them; the memory goes when the
     * last mapping does. */
    if (pool->start_method != MPROC_START_MANUAL) {
        for (int i = 0; i < initialized_slots; i++) {
            sem_destroy(&pool->ctl->slots[i].wake);
            pthread_mutex_destroy(&pool->ctl->slots[i].alive);
        }
        sem_destroy(&pool->ctl->done_sem);
        mproc__tasks_free_shared(pool->ctl);
    }
    munmap(pool->ctl, pool->ctl_bytes);
    pool->ctl = NULL;
    mproc__ctl_remove(pool);
}

static void free_handle(struct mproc_pool *pool)
{
    pthread_mutex_destroy(&pool->lock);
    free(pool->name);
    free(pool->worker_exe);
    free(pool);
}

static size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

/* Control block, slots, chunk records, then the page-aligned scratch areas. Untouched
 * pages of a shared anonymous mapping cost nothing, so the reservation is generous. */
static int map_ctl(struct mproc_pool *pool)
{
    size_t slots_end = sizeof(struct mproc__ctl) + (size_t)pool->nslots * sizeof(struct mproc__slot);
    size_t chunks_off = round_up(slots_end, MPROC__CACHELINE);
    size_t chunks_end = chunks_off + MPROC__MAX_CHUNKS * sizeof(struct mproc__chunkrec);
    size_t scratch_off = round_up(chunks_end, 4096);
    size_t tasks_off = scratch_off + (size_t)pool->nslots * MPROC__SCRATCH_BYTES;
    pool->ctl_bytes = tasks_off + mproc__tasks_shared_bytes((uint32_t)pool->nslots);
    if (pool->start_method != MPROC_START_FORK || pool->name != NULL) {
        /* the tasks area stays sparse: spawned workers run no tasks */
        int rc = mproc__ctl_create_fd(pool, pool->ctl_bytes, tasks_off);
        if (rc != 0)
            return rc;
    } else {
        void *mem = mmap(NULL, pool->ctl_bytes, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED)
            return mproc__neg_errno(errno);
        pool->ctl = mem;
    }
    struct mproc__ctlhdr *h = &pool->ctl->hdr;
    memcpy(h->magic, MPROC__CTL_MAGIC, sizeof h->magic);
    h->version = MPROC__CTL_VERSION;
    h->start_method = (uint32_t)pool->start_method;
    h->layout = mproc__ctl_layout();
    h->bytes = pool->ctl_bytes;
    h->creator_pid = (int64_t)getpid();
    if (mproc__proc_start_time(getpid(), &h->creator_start) != 0)
        h->creator_start = 0;
    pool->ctl->chunks_off = chunks_off;
    pool->ctl->scratch_off = scratch_off;
    pool->ctl->tasks_off = tasks_off;
    return 0;
}

static int init_slot_sync(struct mproc__slot *slot)
{
    if (sem_init(&slot->wake, 1, 0) != 0)
        return mproc__neg_errno(errno);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int r = pthread_mutex_init(&slot->alive, &attr);
    pthread_mutexattr_destroy(&attr);
    if (r != 0) {
        sem_destroy(&slot->wake);
        return mproc__neg_errno(r);
    }
    return 0;
}

/* The options a pool keeps, checked and resolved. */
static int take_options(struct mproc_pool *pool, const mproc_pool_options *o)
{
    if (o->workers < 0 || o->workers > MPROC_MAX_WORKERS || o->spin_us > 1000000u ||
        o->max_retries < 0 || o->max_retries > 1000 ||
        (o->commit_mode != MPROC_COMMIT_EXACTLY_ONCE && o->commit_mode != MPROC_COMMIT_DIRECT) ||
        o->maxtasksperchild < 0 || o->start_method < MPROC_START_DEFAULT ||
        o->start_method > MPROC_START_MANUAL)
        return MPROC_EINVAL;
    pool->start_method = o->start_method == MPROC_START_DEFAULT ? mproc_get_start_method()
                                                                 : o->start_method;
    bool forked = pool->start_method == MPROC_START_FORK;
    /* an initializer is a function pointer: only forked workers can call it */
    if (!forked && o->initializer != NULL)
        return MPROC_EINVAL;
    if (pool->start_method == MPROC_START_MANUAL && o->name == NULL)
        return MPROC_EINVAL;
    if (o->name != NULL) {
        char norm[MPROC_NAME_MAX + 2];
        int rc = mproc__name_normalize(o->name, norm);
        if (rc != 0)
            return rc;
        if ((pool->name = strdup(norm + 1)) == NULL)
            return MPROC_ENOMEM;
    }
    if (pool->start_method == MPROC_START_SPAWN) {
        const char *exe = o->worker_exe;
        if (exe == NULL || exe[0] == '\0')
            exe = getenv("MPROC_WORKER_EXE");
        if (exe == NULL || exe[0] == '\0')
            exe = MPROC__DEFAULT_WORKER_EXE;
        if (access(exe, X_OK) != 0)
            return mproc__neg_errno(errno); /* ENOENT or EACCES: said now, not per worker */
        if ((pool->worker_exe = strdup(exe)) == NULL)
            return MPROC_ENOMEM;
    }
    pool->participants = o->workers ? o->workers : online_cpus();
    pool->caller_works = o->caller_works != 0;
    pool->nslots = pool->participants - (pool->caller_works ? 1 : 0);
    pool->chunk = o->chunk;
    pool->max_retries = o->max_retries;
    pool->commit_direct = o->commit_mode == MPROC_COMMIT_DIRECT;
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

    struct mproc_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return MPROC_ENOMEM;
    pool->ctl_fd = -1;
    pool->creator = getpid();
    pthread_mutex_init(&pool->lock, NULL);
    int rc = take_options(pool, &o);
    if (rc == 0)
        rc = map_ctl(pool);
    if (rc != 0) {
        free_handle(pool);
        return rc;
    }
    struct mproc__ctl *ctl = pool->ctl;
    ctl->creator_pid = (int32_t)pool->creator;
    ctl->nslots = (uint32_t)pool->nslots;
    /* Spinning only pays when every participant has a CPU of its own. The caller waits
     * spinning too, working or not, so at most CPUs - 1 workers spin: with Pool(2)'s
     * shape on 2 CPUs (2 workers, caller_works=0) three spinners took turns on two
     * CPUs, and a round trip that waited for a descheduled one took a time slice (an
     * apply_async + get median of 0.8 us had a mean of 3-28 us, 63 us in one bench run). */
    int cpus = online_cpus();
    ctl->spin_ns = pool->participants > cpus || cpus < 2 ? 0 : (uint64_t)o.spin_us * 1000u;
    ctl->spin_slots = cpus > 1 ? (uint32_t)(cpus - 1) : 0;
    sem_init(&ctl->done_sem, 1, 0);
    rc = mproc__tasks_init_shared(ctl, &o);
    if (rc != 0) {
        sem_destroy(&ctl->done_sem);
        munmap(pool->ctl, pool->ctl_bytes);
        mproc__ctl_remove(pool);
        free_handle(pool);
        return rc;
    }
    int inited = 0, started = 0;
    for (; inited < pool->nslots && rc == 0; inited++)
        if ((rc = init_slot_sync(&ctl->slots[inited])) != 0)
            break;
    if (pool->start_method != MPROC_START_MANUAL)
        for (; rc == 0 && started < pool->nslots; started++)
            rc = spawn_worker(pool, (uint32_t)started);
    if (rc != 0) {
        stop_workers(pool, started);
        free_ctl(pool, inited);
        free_handle(pool);
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
        stop_workers(pool, pool->nslots);
        free_ctl(pool, pool->nslots);
    } else {
        /* A forked copy of the handle: drop our mapping, leave the workers alone. */
        munmap(pool->ctl, pool->ctl_bytes);
        if (pool->ctl_fd >= 0)
            close(pool->ctl_fd);
        rc = MPROC_ESTATE;
    }
    free_handle(pool);
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
    for (int i = 0; i < pool->nslots; i++) {
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
    for (int i = 0; i < pool->nslots && want > 0; i++) {
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
    for (int i = 0; i < pool->nslots && i < cap; i++) {
        pid_t pid = (pid_t)atomic_load(&pool->ctl->slots[i].pid);
        pids[i] = pid > 0 ? pid : 0;
    }
    return pool->nslots;
}

MPROC_API int mproc_pool_start_method(const mproc_pool *pool)
{
    return pool ? pool->start_method : 0;
}

MPROC_API const char *mproc_pool_name(const mproc_pool *pool)
{
    return pool ? pool->name : NULL;
}

MPROC_API int mproc_pool_wait_workers(mproc_pool *pool, int count, int timeout_ms)
{
    if (pool == NULL || count < 0 || count > pool->nslots)
        return MPROC_EINVAL;
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : mproc__now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        int rc = mproc__respawn_dead(pool); /* frees the slots of dead joiners */
        int live = mproc__live_workers(pool);
        pthread_mutex_unlock(&pool->lock);
        if (rc != 0)
            return rc;
        if (live >= count)
            return 0;
        if (mproc__now_ns() >= deadline)
            return MPROC_ETIMEDOUT;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

MPROC_API int mproc_pool_load_kernels(mproc_pool *pool, const char *path)
{
    if (pool == NULL || path == NULL || strlen(path) >= MPROC__PATH_MAX)
        return MPROC_EINVAL;
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    int rc = mproc_kernel_load(path);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&pool->lock);
    struct mproc__ctl *ctl = pool->ctl;
    uint32_t n = atomic_load(&ctl->nlibs);
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(ctl->libs[i], path) == 0) {
            pthread_mutex_unlock(&pool->lock);
            return 0;
        }
    }
    if (n == MPROC__LIBS_MAX) {
        rc = MPROC_EINVAL;
    } else {
        strcpy(ctl->libs[n], path);
        atomic_store(&ctl->nlibs, n + 1); /* workers read the path after seeing the count */
    }
    pthread_mutex_unlock(&pool->lock);
    return rc;
}
