/*
 * worker.c - the worker process: wait for a generation, attach the job's arrays (cached
 * across maps), find the kernel, claim chunks, repeat. Workers are forked children of
 * the pool's creator, spawned programs (spawn.c), or programs that joined by hand.
 */
#include "pool_internal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define CACHE_SLOTS 8

struct cached {
    uint64_t id;
    uint64_t last_use;
    struct mproc__mapping map;
};

static struct cached cache[CACHE_SLOTS];
static uint64_t cache_clock;
static uint64_t evict_seen;
static enum mproc__worker_kind my_kind;
static uint32_t libs_loaded; /* of ctl->libs */
static int libs_error;

void mproc__spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

static void cache_drop(struct cached *c)
{
    mproc__segment_unmap(&c->map);
    c->id = 0;
}

/* Applies the caller's array closes since we last looked. */
static void cache_evict(struct mproc__ctl *ctl)
{
    uint64_t seq = atomic_load(&ctl->evict_seq);
    if (seq == evict_seen)
        return;
    if (seq - evict_seen > MPROC__EVICT_RING) {
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (cache[i].id != 0)
                cache_drop(&cache[i]);
    } else {
        for (uint64_t s = evict_seen; s < seq; s++) {
            uint64_t id = atomic_load(&ctl->evict_ids[s % MPROC__EVICT_RING]);
            for (int i = 0; i < CACHE_SLOTS; i++)
                if (cache[i].id == id && id != 0)
                    cache_drop(&cache[i]);
        }
    }
    evict_seen = seq;
}

/* Finds or maps the array a job refers to. Returns its data or NULL. */
static char *attach(const struct mproc__arrayref *ref)
{
    struct cached *victim = &cache[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (cache[i].id == ref->instance_id && ref->instance_id != 0) {
            cache[i].last_use = ++cache_clock;
            return cache[i].map.data;
        }
        if (cache[i].last_use < victim->last_use)
            victim = &cache[i];
    }
    int fd = strncmp(ref->locator, "/proc/", 6) == 0
                 ? open(ref->locator, O_RDWR | O_CLOEXEC)
                 : shm_open(ref->locator, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    struct mproc__mapping m;
    int rc = ref->raw ? mproc__segment_map_raw(fd, ref->raw_bytes, &m)
                      : mproc__segment_map_fd(fd, MPROC_DTYPE_ANY, &m);
    close(fd);
    if (rc != 0)
        return NULL;
    if (m.hdr.instance_id != ref->instance_id) { /* a different segment reused the name */
        mproc__segment_unmap(&m);
        return NULL;
    }
    if (victim->id != 0)
        cache_drop(victim);
    victim->id = ref->instance_id;
    victim->map = m;
    victim->last_use = ++cache_clock;
    return m.data;
}

static void set_error(struct mproc__ctl *ctl, int err)
{
    int32_t zero = 0;
    atomic_compare_exchange_strong(&ctl->error, &zero, err);
}

/* The kernel of a job: the pointer in a forked worker, else the one its name finds
 * here (after loading the pool's kernel libraries). NULL with *err set if none. */
static mproc_kernel find_kernel(struct mproc__ctl *ctl, const struct mproc__job *job, int *err)
{
    if (job->kernel_name[0] == '\0') {
        if (job->kernel != NULL && my_kind == MPROC__FORKED)
            return job->kernel;
        *err = MPROC_ESPAWNED; /* the caller checks; this is only a last defence */
        return NULL;
    }
    for (uint32_t n = atomic_load(&ctl->nlibs); libs_loaded < n && libs_loaded < MPROC__LIBS_MAX;
         libs_loaded++) {
        char path[MPROC__PATH_MAX];
        memcpy(path, ctl->libs[libs_loaded], sizeof path);
        path[sizeof path - 1] = '\0';
        if (mproc_kernel_load(path) != 0)
            libs_error = MPROC_ELIBRARY;
    }
    mproc_kernel k;
    int rc = mproc_kernel_find(job->kernel_name, (mproc_dtype)job->dtype, &k);
    if (rc != 0) {
        *err = libs_error ? libs_error : rc;
        return NULL;
    }
    return k;
}

static void chunk_done(struct mproc__ctl *ctl, uint64_t target)
{
    if (atomic_fetch_add(&ctl->done, 1) + 1 == target && atomic_load(&ctl->caller_waiting))
        sem_post(&ctl->done_sem);
}

/*
 * Runs elements [p, end) of an in-place chunk through the worker's scratch, piece by
 * piece, publishing each step in the commit word (see pool_internal.h) so that the
 * caller can finish or redo exactly the right part if this process dies at any point.
 */
static int run_through_scratch(const struct mproc__job *job, mproc_kernel kernel, char *data, uint64_t p,
                               uint64_t end, struct mproc__slot *slot, char *scratch)
{
    const void *ctx = job->ctx_size ? job->ctx : NULL;
    uint64_t es = job->elem_size, cap = MPROC__PIECE_BYTES / es;
    int rc = 0;
    while (p < end) {
        uint64_t len = end - p < cap ? end - p : cap;
        atomic_store_explicit(&slot->commit, MPROC__COMMIT(p, MPROC__COMPUTING),
                              memory_order_release);
        if (kernel(data + p * es, scratch, (size_t)len, ctx) != 0) {
            /* The scratch holds whatever the kernel left there: commit none of it, so
             * that the piece stays as it was. */
            rc = MPROC_EKERNEL;
            p += len;
            continue;
        }
        atomic_store_explicit(&slot->piece, len, memory_order_relaxed);
        atomic_store_explicit(&slot->commit, MPROC__COMMIT(p, MPROC__COMMITTING),
                              memory_order_release);
        memcpy(data + p * es, scratch, (size_t)(len * es));
        p += len;
        atomic_store_explicit(&slot->commit, MPROC__COMMIT(p, MPROC__COMPUTING),
                              memory_order_release);
    }
    return rc;
}

/*
 * The same for a built-in kernel, in one pass: its saving twin changes the piece in place
 * after copying each block of it to the scratch and counting it in slot->piece, so that
 * the caller can put back the originals and redo the piece if this process dies.
 */
static int run_saving(const struct mproc__job *job, mproc__saving_kernel twin, char *data,
                      uint64_t p, uint64_t end, struct mproc__slot *slot, char *scratch)
{
    const void *ctx = job->ctx_size ? job->ctx : NULL;
    uint64_t es = job->elem_size, cap = MPROC__SAVE_PIECE_BYTES / es;
    int rc = 0;
    while (p < end) {
        uint64_t len = end - p < cap ? end - p : cap;
        atomic_store_explicit(&slot->piece, 0, memory_order_relaxed);
        atomic_store_explicit(&slot->commit, MPROC__COMMIT(p, MPROC__SAVING),
                              memory_order_release);
        if (twin(data + p * es, scratch, (size_t)len, ctx, &slot->piece) != 0) {
            /* Never from the built-ins; should it happen, leave the piece as it was. */
            uint64_t saved = atomic_load_explicit(&slot->piece, memory_order_relaxed);
            memcpy(data + p * es, scratch, (size_t)((saved < len ? saved : len) * es));
            rc = MPROC_EKERNEL;
        }
        p += len;
        atomic_store_explicit(&slot->commit, MPROC__COMMIT(p, MPROC__COMPUTING),
                              memory_order_release);
    }
    return rc;
}

void mproc__run_chunks(struct mproc__ctl *ctl, const struct mproc__job *job,
                       mproc_kernel kernel, const char *src, char *dst, int slot_index, int err)
{
    struct mproc__chunkrec *recs = mproc__chunks(ctl);
    struct mproc__slot *slot = slot_index >= 0 ? &ctl->slots[slot_index] : NULL;
    char *scratch = slot ? mproc__scratch(ctl, (uint32_t)slot_index) : NULL;
    const void *ctx = job->ctx_size ? job->ctx : NULL;
    uint64_t es = job->elem_size;
    mproc__saving_kernel twin = slot && job->in_place ? mproc__kernel_saving(kernel, job->dtype) : NULL;
    for (;;) {
        uint64_t c = atomic_fetch_add(&ctl->cursor, 1);
        if (c >= job->nchunks)
            return;
        struct mproc__chunkrec *rec = &recs[c];
        if (atomic_load(&rec->state) >= MPROC__CHUNK_DONE)
            continue; /* finished in an earlier round */
        if (slot)
            atomic_store(&slot->cur_chunk, c);
        atomic_store(&rec->state, MPROC__CHUNK_HELD);
        uint64_t start = c * job->chunk;
        uint64_t end = job->length - start < job->chunk ? job->length : start + job->chunk;
        uint64_t p = start + rec->resume;
        int rc = 0;
        if (err != 0) {
            rc = err; /* no array or no kernel here: data left untouched */
        } else if (twin) { /* only set for in-place chunks on a worker */
            rc = run_saving(job, twin, dst, p, end, slot, scratch);
        } else if (slot && job->in_place) {
            rc = run_through_scratch(job, kernel, dst, p, end, slot, scratch);
        } else {
            /* The caller, or src != dst: running it again is harmless, so a death
             * only means "redo from p". */
            if (slot)
                atomic_store(&slot->commit, MPROC__COMMIT(p, MPROC__COMPUTING));
            if (kernel(src + p * es, dst + p * es, (size_t)(end - p), ctx) != 0)
                rc = MPROC_EKERNEL;
        }
        if (rc != 0)
            set_error(ctl, rc);
        atomic_store(&rec->state, MPROC__CHUNK_DONE);
        if (slot)
            atomic_store(&slot->commit, MPROC__COMMIT(0, MPROC__IDLE));
        chunk_done(ctl, job->target);
    }
}

/* Maps the array and faults in its page tables now rather than during the first map. */
static void prepare(struct mproc__ctl *ctl, const struct mproc__job *job)
{
    char *data = attach(&job->dst);
    if (data == NULL) {
        set_error(ctl, MPROC_EATTACH);
    } else if (job->length * job->elem_size > 0) {
        size_t bytes = (size_t)(job->length * job->elem_size);
#ifdef MADV_POPULATE_WRITE
        if (madvise(data, bytes, MADV_POPULATE_WRITE) != 0)
#endif
        {
            long page = sysconf(_SC_PAGESIZE);
            for (size_t off = 0; off < bytes; off += (size_t)page)
                (void)*(volatile char *)(data + off);
        }
    }
    chunk_done(ctl, job->target);
}

/* A child whose creator is gone exits; a joined worker leaves (returns true). */
static bool orphaned(const struct mproc__ctl *ctl)
{
    if (my_kind == MPROC__JOINED)
        return !mproc__creator_alive(ctl);
    if (getppid() != ctl->creator_pid)
        _exit(0);
    return false;
}

/* Whether this worker should stop serving: the pool shuts down, or (joined workers)
 * leaving was asked for. */
static bool should_stop(struct mproc__ctl *ctl)
{
    return atomic_load(&ctl->shutdown) || (my_kind == MPROC__JOINED && mproc__stop_requested);
}

/* Work to do: a generation other than `seen` is published, shutdown, or tasks queued. */
static bool has_work(struct mproc__ctl *ctl, uint64_t seen)
{
    uint64_t g = atomic_load(&ctl->gen);
    return (g != seen && !(g & 1)) || should_stop(ctl) ||
           (my_kind == MPROC__FORKED && mproc__tasks_pending(ctl));
}

/* Waits until has_work. Whoever queues tasks or publishes a job wakes sleepers through
 * the same `sleeping` exchange, so checking both after raising the flag loses nothing. */
static void wait_for_job(struct mproc__ctl *ctl, struct mproc__slot *slot, uint64_t seen)
{
    /* The slots from spin_slots on sleep at once: the caller needs a CPU too. */
    bool may_spin = ctl->spin_ns != 0 && (uint32_t)(slot - ctl->slots) < ctl->spin_slots;
    uint64_t deadline = may_spin ? mproc__now_ns() + ctl->spin_ns : 0;
    /* Whoever queues tasks posts only to sleepers, and only for tasks that spinners
     * cannot take; a spinner that gives up checks again after raising `sleeping`. */
    atomic_store(&slot->spinning, deadline != 0);
    for (unsigned i = 1;; i++) {
        if (has_work(ctl, seen)) {
            atomic_store(&slot->spinning, 0);
            return;
        }
        if (deadline == 0 || ((i & 127) == 0 && mproc__now_ns() > deadline))
            break;
        mproc__spin_pause();
    }
    atomic_store(&slot->spinning, 0);
    for (;;) {
        atomic_store(&slot->sleeping, 1);
        if (has_work(ctl, seen)) {
            if (atomic_exchange(&slot->sleeping, 0) == 1)
                return;
            /* the caller took our flag and posts: consume that post below */
        }
        if (mproc__sem_wait_ns(&slot->wake, 1000000000u) == 0)
            return; /* whoever posted cleared `sleeping` */
        if (errno == ETIMEDOUT) {
            if (orphaned(ctl)) {
                mproc__stop_requested = 1;
                if (atomic_exchange(&slot->sleeping, 0) == 0) {
                    while (sem_wait(&slot->wake) != 0 && errno == EINTR) {
                    }
                }
                return;
            }
            if (atomic_exchange(&slot->sleeping, 0) == 0) {
                while (sem_wait(&slot->wake) != 0 && errno == EINTR) {
                }
                return;
            }
        }
        /* EINTR or timeout with our flag still ours: look again */
    }
}

_Noreturn void mproc__worker_main(struct mproc__ctl *ctl, uint32_t index, uint64_t seen)
{
    mproc__worker_loop(ctl, index, seen, MPROC__FORKED);
    fflush(NULL); /* what tasks printed (the buffers held nothing else after the fork) */
    _exit(0);
}

/* Children (forked or spawned) die with their creator and answer signals plainly. */
static void child_setup(struct mproc__ctl *ctl)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    orphaned(ctl); /* the creator may have died before prctl took effect */
    /* Handlers inherited from the caller (a CLI's cleanup handler, a test framework's
     * SIGTERM handler that signals its process group) must not run here: a worker told
     * to terminate terminates. Ctrl-C reaches the whole process group: the caller
     * handles it and stops us, so workers ignore SIGINT. Fault handlers (SIGSEGV, ...)
     * are left as the program set them. */
    static const int terminate_signals[] = {SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
                                            SIGALRM, SIGPIPE, SIGCHLD};
    for (size_t i = 0; i < sizeof terminate_signals / sizeof *terminate_signals; i++)
        signal(terminate_signals[i], SIG_DFL);
    signal(SIGINT, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

void mproc__worker_loop(struct mproc__ctl *ctl, uint32_t index, uint64_t seen,
                        enum mproc__worker_kind kind)
{
    struct mproc__slot *slot = &ctl->slots[index];
    my_kind = kind;
    if (kind != MPROC__JOINED)
        child_setup(ctl);
    memset(cache, 0, sizeof cache);
    libs_loaded = 0;
    libs_error = 0;
    evict_seen = atomic_load(&ctl->evict_seq);
    uint32_t max_tasks = 0, tasks_run = 0;
    if (kind == MPROC__FORKED) {
        mproc__tasks_worker_start(ctl); /* the pool's initializer, if any */
        max_tasks = mproc__tasks_max_per_child(ctl);
    }
    atomic_store(&slot->joined, 1);

    for (;;) {
        wait_for_job(ctl, slot, seen);
        if (should_stop(ctl))
            break;
        uint64_t g = atomic_load(&ctl->gen);
        if ((g & 1) || g == seen) {
            /* No new map: run a queued task (a map's chunks always go first). */
            if (kind == MPROC__FORKED && mproc__tasks_run_one(ctl, index) && max_tasks != 0 &&
                ++tasks_run >= max_tasks)
                mproc__tasks_retire(ctl, index);
            continue;
        }
        atomic_store(&slot->inside, 1);
        g = atomic_load(&ctl->gen);
        if ((g & 1) || g == seen) {
            atomic_store(&slot->inside, 0);
            continue;
        }
        seen = g;
        const struct mproc__job *job = &ctl->job;
        cache_evict(ctl);
        if (job->type == MPROC__JOB_MAP && job->nchunks > 0) {
            const char *src = attach(&job->src);
            char *dst = attach(&job->dst);
            int err = src == NULL || dst == NULL ? MPROC_EATTACH : 0;
            mproc_kernel kernel = err ? NULL : find_kernel(ctl, job, &err);
            mproc__run_chunks(ctl, job, kernel, src, dst, (int)index, err);
        } else if (job->type == MPROC__JOB_PREPARE) {
            prepare(ctl, job);
        }
        atomic_store(&slot->inside, 0);
    }
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].id != 0)
            cache_drop(&cache[i]);
}
