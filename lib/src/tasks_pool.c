/*
 * tasks_pool.c - Pool tasks: the result thread (callbacks, worker supervision while
 * tasks are outstanding, results nobody waits for), waiting for results (get / wait /
 * next / join), close, terminate, and the end of a pool's tasks at destroy.
 */
#include "tasks_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLICE_NS (20u * 1000u * 1000u)  /* how often the result thread supervises */
#define IDLE_NS (1000u * 1000u * 1000u) /* its sleep while nothing is outstanding */
/* A waiter spins this many times the pool's spin time: longer than a sleeping worker
 * takes to wake up (tens of microseconds), so that it collects the result itself
 * instead of through the result thread (two more wake-ups). Otherwise one slow round
 * trip makes the next one slow as well: by then the worker's own spin has expired. */
#define WAIT_SPIN_FACTOR 4u

static void mono_deadline(struct timespec *ts, uint64_t at_ns)
{
    ts->tv_sec = (time_t)(at_ns / 1000000000u);
    ts->tv_nsec = (long)(at_ns % 1000000000u);
}

bool mproc__in_handler(const struct mproc__tasks *t)
{
    return t->handler_started && pthread_equal(pthread_self(), t->handler);
}

/* ---- the result thread ------------------------------------------------------------------ */

static bool retiring(struct mproc_pool *pool)
{
    for (int i = 0; i < pool->nslots; i++) {
        struct mproc__slot *s = &pool->ctl->slots[i];
        if (atomic_load(&s->retired) && atomic_load(&s->pid) > 0)
            return true;
    }
    return false;
}

/* Reaps dead and retired workers and replaces them. Skipped while a map holds the pool
 * lock: the map supervises then (and its hook fails the tasks of the dead). */
static void supervise(struct mproc__tasks *t)
{
    struct mproc_pool *pool = t->pool;
    if (pool->nslots == 0 || atomic_load(&t->q->stop) ||
        pthread_mutex_trylock(&pool->lock) != 0)
        return;
    /* A retiring worker is exiting: wait for it briefly rather than a whole slice. */
    for (int pass = 0; pass < 500 && retiring(pool); pass++) {
        for (int i = 0; i < pool->nslots; i++) {
            struct mproc__slot *s = &pool->ctl->slots[i];
            if (atomic_load(&s->retired) && atomic_load(&s->pid) > 0)
                mproc__worker_gone(pool, s);
        }
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    mproc__respawn_dead(pool); /* a fork that fails is tried again next time */
    pthread_mutex_unlock(&pool->lock);
}

/* Runs the queued callbacks, dropping the lock around each. */
static void run_callbacks(struct mproc__tasks *t)
{
    while (t->cb_head != NULL && !t->terminating) {
        struct mproc_async *a = t->cb_head;
        t->cb_head = a->cb_next;
        if (t->cb_head == NULL)
            t->cb_tail = NULL;
        const void *res = NULL;
        size_t size = 0;
        if (a->kind == MPROC__A_APPLY) {
            res = a->blobs[0];
            size = a->sizes[0];
        } else if (a->kind == MPROC__A_MAP && a->results != NULL) {
            res = a->results;
            size = a->n * a->res_stride;
        }
        mproc_task_failure f;
        if (a->err != 0)
            mproc__async_reported(a, &f);
        pthread_mutex_unlock(&t->lock);
        if (a->err == 0)
            a->opts.callback(a->opts.user, res, size);
        else
            a->opts.error_callback(a->opts.user, &f);
        pthread_mutex_lock(&t->lock);
        mproc__tasks_finish(t, a);
    }
}

static void *handler_main(void *arg)
{
    struct mproc__tasks *t = arg;
    struct mproc__tq *q = t->q;
    uint64_t submits = 0;
    pthread_mutex_lock(&t->lock);
    while (!t->handler_stop) {
        /* Idle (long sleeps) only after a whole slice without tasks: a submission wakes
         * an idle thread, which must not happen for every task of a busy caller. */
        bool active = t->outstanding > 0 || t->ninflight > 0 || t->submits != submits;
        submits = t->submits;
        t->handler_idle = !active;
        pthread_mutex_unlock(&t->lock);
        struct timespec ts;
        mono_deadline(&ts, mproc__now_ns() + (active ? SLICE_NS : IDLE_NS));
        while (sem_clockwait(&q->hsem, CLOCK_MONOTONIC, &ts) != 0 && errno == EINTR) {
        }
        atomic_store(&q->hwake, 0);
        pthread_mutex_lock(&t->lock);
        t->handler_idle = false;
        if (t->handler_stop)
            break;
        mproc__tasks_harvest(t);
        run_callbacks(t);
        active |= t->outstanding > 0 || t->ninflight > 0 || t->submits != submits;
        pthread_mutex_unlock(&t->lock);
        if (active || retiring(t->pool))
            supervise(t);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int mproc__tasks_start_handler(struct mproc__tasks *t)
{
    /* Signals are for the program's own threads, not for ours. (Workers it forks clear
     * their mask: worker.c.) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t->handler, NULL, handler_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return mproc__neg_errno(rc);
    t->handler_started = true;
    return 0;
}

static void stop_handler(struct mproc__tasks *t)
{
    if (!t->handler_started || t->handler_joined)
        return;
    pthread_mutex_lock(&t->lock);
    t->handler_stop = true;
    pthread_mutex_unlock(&t->lock);
    sem_post(&t->q->hsem);
    pthread_join(t->handler, NULL);
    t->handler_joined = true;
}

/* ---- waiting ------------------------------------------------------------------------------ */

/*
 * Waits until pred(t, a) holds (checked under the lock, after collecting results).
 * Spins for the pool's spin time, harvesting whenever a worker reports, then sleeps on
 * the condition variable in slices; while it sleeps `watch` makes every worker wake the
 * result thread, which collects and broadcasts.
 */
int mproc__tasks_wait(struct mproc__tasks *t, struct mproc_async *a, int timeout_ms,
                      bool (*pred)(struct mproc__tasks *, struct mproc_async *))
{
    struct mproc__tq *q = t->q;
    uint64_t now = mproc__now_ns();
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000000u;
    pthread_mutex_lock(&t->lock);
    mproc__tasks_harvest(t);
    bool ok = pred(t, a);
    pthread_mutex_unlock(&t->lock);
    if (ok)
        return 0;
    if (mproc__in_handler(t))
        return MPROC_ESTATE; /* a callback waiting for what only its thread can finish */
    if (timeout_ms == 0)
        return MPROC_ETIMEDOUT;
    uint64_t spin_end = now + WAIT_SPIN_FACTOR * t->pool->ctl->spin_ns;
    if (spin_end > deadline)
        spin_end = deadline;
    uint64_t seen = atomic_load(&q->done_seq);
    for (unsigned i = 1; t->pool->ctl->spin_ns > 0; i++) {
        uint64_t s = atomic_load(&q->done_seq);
        if (s != seen || (i & 255u) == 0) {
            seen = s;
            pthread_mutex_lock(&t->lock);
            mproc__tasks_harvest(t);
            ok = pred(t, a);
            pthread_mutex_unlock(&t->lock);
            if (ok)
                return 0;
            if (mproc__now_ns() >= spin_end)
                break;
        }
        mproc__spin_pause();
    }
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    atomic_fetch_add(&q->watch, 1);
    for (;;) {
        mproc__tasks_harvest(t);
        if (pred(t, a))
            break;
        now = mproc__now_ns();
        if (now >= deadline) {
            rc = MPROC_ETIMEDOUT;
            break;
        }
        struct timespec ts;
        mono_deadline(&ts, deadline - now < SLICE_NS ? deadline : now + SLICE_NS);
        pthread_cond_timedwait(&t->cond, &t->lock, &ts);
    }
    atomic_fetch_sub(&q->watch, 1);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static bool ready_pred(struct mproc__tasks *t, struct mproc_async *a)
{
    (void)t;
    return atomic_load(&a->ready) != 0;
}

static bool join_pred(struct mproc__tasks *t, struct mproc_async *a)
{
    (void)a;
    return t->outstanding == 0;
}

static bool next_pred(struct mproc__tasks *t, struct mproc_async *a)
{
    (void)t;
    if (a->next_index >= a->n)
        return true;
    if (a->kind == MPROC__A_IMAP)
        return a->status[a->next_index] != MPROC__ITEM_PENDING;
    return a->next_index < a->order_len;
}

/* 0 once a is ready (at once for a result whose pool is gone). */
static int wait_ready(mproc_async *a, int timeout_ms)
{
    struct mproc__tasks *t = a->t;
    if (t == NULL || atomic_load(&a->ready))
        return t == NULL || t->pool->creator == getpid() ? 0 : MPROC_ESTATE;
    if (t->pool->creator != getpid())
        return MPROC_ESTATE;
    return mproc__tasks_wait(t, a, timeout_ms, ready_pred);
}

/* ---- async results ---------------------------------------------------------------------- */

MPROC_API int mproc_async_get(mproc_async *a, int timeout_ms, void *result, size_t cap,
                              size_t *result_size)
{
    if (a == NULL || timeout_ms < -1 || (result == NULL && cap > 0) ||
        (a->kind != MPROC__A_APPLY && (result != NULL || cap > 0)))
        return MPROC_EINVAL;
    int rc = wait_ready(a, timeout_ms);
    if (rc != 0)
        return rc;
    if (a->kind != MPROC__A_APPLY)
        return a->err;
    if (a->status[0] != 0)
        return a->status[0];
    size_t size = a->sizes[0];
    if (result_size != NULL)
        *result_size = size;
    if (result == NULL)
        return 0;
    if (size > cap)
        return MPROC_ETOOBIG;
    if (size > 0)
        memcpy(result, a->blobs[0], size);
    return 0;
}

MPROC_API int mproc_async_wait(mproc_async *a, int timeout_ms)
{
    if (a == NULL || timeout_ms < -1)
        return MPROC_EINVAL;
    return wait_ready(a, timeout_ms);
}

/* Locks a's pool side if it has one and we may; false (with *rc) if we may not. */
static bool lock_async(mproc_async *a, int *rc)
{
    *rc = 0;
    if (a->t == NULL)
        return true;
    if (a->t->pool->creator != getpid()) {
        *rc = MPROC_ESTATE;
        return false;
    }
    pthread_mutex_lock(&a->t->lock);
    mproc__tasks_harvest(a->t);
    return true;
}

static void unlock_async(mproc_async *a)
{
    if (a->t != NULL)
        pthread_mutex_unlock(&a->t->lock);
}

MPROC_API int mproc_async_ready(mproc_async *a)
{
    if (a == NULL)
        return MPROC_EINVAL;
    int rc;
    if (!atomic_load(&a->ready)) {
        if (!lock_async(a, &rc))
            return rc;
        unlock_async(a);
    }
    return atomic_load(&a->ready) != 0;
}

MPROC_API int mproc_async_successful(mproc_async *a)
{
    int r = mproc_async_ready(a);
    if (r < 0)
        return r;
    return r == 0 ? MPROC_ESTATE : a->err == 0;
}

MPROC_API int mproc_async_failure(mproc_async *a, mproc_task_failure *out)
{
    if (a == NULL || out == NULL)
        return MPROC_EINVAL;
    int rc;
    if (!lock_async(a, &rc))
        return rc;
    rc = a->err != 0 ? 0 : MPROC_ENOENT;
    if (rc == 0)
        mproc__async_reported(a, out);
    unlock_async(a);
    return rc;
}

MPROC_API int mproc_async_item(mproc_async *a, size_t i, size_t *result_size,
                               mproc_task_failure *failure)
{
    if (a == NULL || i >= a->n)
        return MPROC_EINVAL;
    int rc;
    if (!lock_async(a, &rc))
        return rc;
    rc = a->status[i];
    if (rc == MPROC__ITEM_PENDING) {
        rc = MPROC_EBUSY;
    } else if (rc == 0) {
        if (result_size != NULL)
            *result_size = a->sizes[i];
    } else if (failure != NULL) {
        const struct mproc__failrec *f = a->failures;
        while (f != NULL && f->f.index != i)
            f = f->next;
        if (f != NULL) {
            *failure = f->f;
        } else { /* cancelled or terminated (or its record could not be allocated) */
            memset(failure, 0, sizeof *failure);
            failure->index = i;
            failure->error = rc;
            failure->exit_status = -1;
            snprintf(failure->message, sizeof failure->message, "%s", mproc_strerror(rc));
        }
    }
    unlock_async(a);
    return rc;
}

MPROC_API int mproc_imap_next(mproc_async *it, int timeout_ms, void *result, size_t cap,
                              size_t *result_size, size_t *index)
{
    if (it == NULL || timeout_ms < -1 || (result == NULL && cap > 0) ||
        (it->kind != MPROC__A_IMAP && it->kind != MPROC__A_IMAP_UNORDERED))
        return MPROC_EINVAL;
    int rc;
    if (it->t != NULL) {
        if (it->t->pool->creator != getpid())
            return MPROC_ESTATE;
        if ((rc = mproc__tasks_wait(it->t, it, timeout_ms, next_pred)) != 0)
            return rc;
    }
    if (!lock_async(it, &rc))
        return rc;
    if (it->next_index >= it->n) {
        unlock_async(it);
        return MPROC_EEXHAUSTED;
    }
    size_t i = it->kind == MPROC__A_IMAP ? it->next_index : it->order[it->next_index];
    rc = it->status[i];
    size_t size = rc == 0 ? it->sizes[i] : 0;
    if (result_size != NULL)
        *result_size = size;
    if (index != NULL)
        *index = i;
    if (size > cap) {
        unlock_async(it);
        return MPROC_ETOOBIG; /* not consumed: call again with a bigger buffer */
    }
    if (size > 0)
        memcpy(result, it->blobs[i], size);
    free(it->blobs[i]);
    it->blobs[i] = NULL;
    it->next_index++;
    unlock_async(it);
    return rc;
}

MPROC_API int mproc_async_free(mproc_async *a)
{
    if (a == NULL)
        return 0;
    struct mproc__tasks *t = a->t;
    if (t == NULL) {
        mproc__async_destroy(NULL, a);
        return 0;
    }
    if (t->pool->creator != getpid())
        return MPROC_ESTATE;
    pthread_mutex_lock(&t->lock);
    a->freed = true;
    a->results = NULL; /* nothing more is written into the caller's buffer */
    if (atomic_load(&a->ready))
        mproc__async_destroy(t, a);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

/* ---- close, join, terminate, destroy --------------------------------------------------------- */

static int pool_tasks(mproc_pool *pool, struct mproc__tasks **t)
{
    if (pool == NULL)
        return MPROC_EINVAL;
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    int rc = mproc__tasks_get(pool, t);
    if (rc == 0 && mproc__in_handler(*t))
        rc = MPROC_ESTATE;
    return rc;
}

MPROC_API int mproc_pool_close(mproc_pool *pool)
{
    struct mproc__tasks *t;
    if (pool == NULL)
        return MPROC_EINVAL;
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    int rc = mproc__tasks_get(pool, &t);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&t->lock);
    if (t->state == MPROC__P_RUN)
        t->state = MPROC__P_CLOSED;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

MPROC_API int mproc_pool_join(mproc_pool *pool)
{
    struct mproc__tasks *t;
    int rc = pool_tasks(pool, &t);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&t->lock);
    bool running = t->state == MPROC__P_RUN;
    pthread_mutex_unlock(&t->lock);
    return running ? MPROC_ESTATE : mproc__tasks_wait(t, NULL, -1, join_pred);
}

/* SIGKILLs every worker and reaps it (marked retired: terminated, not dead). */
static void kill_workers(struct mproc_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    for (int i = 0; i < pool->nslots; i++) {
        struct mproc__slot *s = &pool->ctl->slots[i];
        pid_t pid = (pid_t)atomic_load(&s->pid);
        if (pid > 0) {
            atomic_store(&s->retired, 1);
            kill(pid, SIGKILL);
        }
    }
    uint64_t deadline = mproc__now_ns() + 5000000000u;
    for (int i = 0; i < pool->nslots; i++) {
        struct mproc__slot *s = &pool->ctl->slots[i];
        while (atomic_load(&s->pid) > 0 && !mproc__worker_gone(pool, s) &&
               mproc__now_ns() < deadline) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    pthread_mutex_unlock(&pool->lock);
}

/* state is TERMINATED and terminating set: stop everything, fail what is unfinished. */
static void terminate_now(struct mproc__tasks *t)
{
    stop_handler(t);
    atomic_store(&t->q->stop, 1);
    kill_workers(t->pool);
    pthread_mutex_lock(&t->lock);
    while (t->inline_busy) /* a task running in a submitting thread */
        pthread_cond_wait(&t->cond, &t->lock);
    mproc__tasks_fail_rest(t, MPROC_ETERMINATED);
    while (t->cb_head != NULL) { /* finished, but their callbacks are not run */
        struct mproc_async *a = t->cb_head;
        t->cb_head = a->cb_next;
        mproc__tasks_finish(t, a);
    }
    t->cb_tail = NULL;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

MPROC_API int mproc_pool_terminate(mproc_pool *pool)
{
    struct mproc__tasks *t;
    int rc = pool_tasks(pool, &t);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&t->lock);
    bool first = t->state != MPROC__P_TERMINATED;
    t->state = MPROC__P_TERMINATED;
    t->terminating = true;
    pthread_mutex_unlock(&t->lock);
    if (first)
        terminate_now(t);
    return 0;
}

void mproc__tasks_destroy(struct mproc_pool *pool)
{
    struct mproc__tasks *t = pool->tasks;
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    bool unfinished = t->outstanding > 0 || t->ninflight > 0 || t->pend_head != NULL;
    bool was_terminated = t->state == MPROC__P_TERMINATED;
    t->state = MPROC__P_TERMINATED;
    if (unfinished)
        t->terminating = true;
    pthread_mutex_unlock(&t->lock);
    if (unfinished && !was_terminated)
        terminate_now(t);
    else
        stop_handler(t);
    /* What the caller still holds stays readable and freeable without the pool. */
    pthread_mutex_lock(&t->lock);
    for (struct mproc_async *a = t->live, *nx; a != NULL; a = nx) {
        nx = a->live_next;
        a->t = NULL;
        a->live_prev = a->live_next = NULL;
    }
    t->live = NULL;
    pthread_mutex_unlock(&t->lock);
    pool->tasks = NULL;
    mproc__tasks_free(t);
}
