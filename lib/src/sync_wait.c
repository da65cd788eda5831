/*
 * sync_wait.c - Event, Condition and Barrier: waiting on shared futex words.
 *
 * The pattern everywhere: a waiter reads a sequence word while the state it depends on
 * cannot change (under the object's lock, or the state word itself), then sleeps on the
 * futex only while the word still has that value. Whoever changes the state bumps the
 * word before waking, so no wake-up is lost, and a waiter that dies leaves nothing
 * behind that others depend on.
 */
#include "sync_internal.h"

#include <limits.h>

struct mproc_event {
    struct mproc__shared sh;
    _Atomic uint32_t flag; /* the futex word itself: waiters sleep while it is 0 */
};

struct mproc_condition {
    struct mproc__shared sh;
    pthread_mutex_t mutex;
    _Atomic uint32_t seq; /* bumped by every notify */
};

struct mproc_barrier {
    struct mproc__shared sh;
    pthread_mutex_t mutex; /* internal: guards everything below except seq */
    _Atomic uint32_t seq;  /* bumped on every release, abort and reset */
    unsigned parties;
    unsigned count;       /* arrived in the current generation */
    uint32_t generation;  /* bumped when a generation ends (released or reset) */
    uint32_t reset_gen;   /* the last generation that a reset ended (its waiters fail) */
    bool reset_any;       /* reset_gen is meaningful */
    bool broken;
};

/* ---- Event --------------------------------------------------------------------------- */

MPROC_API int mproc_event_create(mproc_event **out)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    return mproc__shared_alloc(sizeof(struct mproc_event), (void **)out);
}

MPROC_API int mproc_event_set(mproc_event *event)
{
    if (event == NULL)
        return MPROC_EINVAL;
    atomic_store(&event->flag, 1);
    mproc__futex_wake(&event->flag, INT_MAX);
    return 0;
}

MPROC_API int mproc_event_clear(mproc_event *event)
{
    if (event == NULL)
        return MPROC_EINVAL;
    atomic_store(&event->flag, 0);
    return 0;
}

MPROC_API int mproc_event_is_set(const mproc_event *event)
{
    if (event == NULL)
        return MPROC_EINVAL;
    return atomic_load(&((struct mproc_event *)event)->flag) ? 1 : 0;
}

MPROC_API int mproc_event_wait(mproc_event *event, int timeout_ms)
{
    if (event == NULL)
        return MPROC_EINVAL;
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    if (rc != 0)
        return rc;
    while (atomic_load(&event->flag) == 0)
        if (mproc__futex_wait(&event->flag, 0, &d) == MPROC_ETIMEDOUT)
            return atomic_load(&event->flag) ? 0 : MPROC_ETIMEDOUT;
    return 0;
}

MPROC_API int mproc_event_destroy(mproc_event *event)
{
    return event == NULL ? 0 : mproc__shared_free(event);
}

/* ---- Condition ----------------------------------------------------------------------- */

MPROC_API int mproc_condition_create(mproc_condition **out)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    mproc_condition *c;
    int rc = mproc__shared_alloc(sizeof *c, (void **)&c);
    if (rc != 0)
        return rc;
    rc = mproc__mutex_init(&c->mutex, PTHREAD_MUTEX_ERRORCHECK);
    if (rc != 0) {
        mproc__shared_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

MPROC_API int mproc_condition_acquire(mproc_condition *cond, int timeout_ms)
{
    if (cond == NULL)
        return MPROC_EINVAL;
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    return rc != 0 ? rc : mproc__mutex_lock(&cond->mutex, &d);
}

MPROC_API int mproc_condition_release(mproc_condition *cond)
{
    return cond == NULL ? MPROC_EINVAL : mproc__mutex_unlock(&cond->mutex);
}

/* One sleep: releases the lock, waits for a notify, takes the lock back whatever the
 * deadline says (as pthread_cond_timedwait does). 0, MPROC_ETIMEDOUT, EOWNERDEAD. */
static int wait_once(mproc_condition *c, const mproc__deadline *d)
{
    uint32_t seq = atomic_load(&c->seq); /* read under the lock: no notify is missed */
    int rc = mproc__mutex_unlock(&c->mutex);
    if (rc != 0)
        return rc;
    int waited = mproc__futex_wait(&c->seq, seq, d);
    mproc__deadline forever;
    mproc__deadline_init(&forever, -1);
    rc = mproc__mutex_lock(&c->mutex, &forever);
    return rc != 0 ? rc : waited;
}

MPROC_API int mproc_condition_wait(mproc_condition *cond, int timeout_ms)
{
    if (cond == NULL)
        return MPROC_EINVAL;
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    return rc != 0 ? rc : wait_once(cond, &d);
}

MPROC_API int mproc_condition_wait_for(mproc_condition *cond, int (*pred)(void *ctx),
                                       void *ctx, int timeout_ms)
{
    if (cond == NULL || pred == NULL)
        return MPROC_EINVAL;
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    if (rc != 0)
        return rc;
    if (!mproc__mutex_owned(&cond->mutex))
        return MPROC_ENOTOWNER; /* pred must see the state under the lock */
    while (!pred(ctx)) {
        rc = wait_once(cond, &d);
        if (rc == MPROC_ETIMEDOUT)
            return pred(ctx) ? 0 : MPROC_ETIMEDOUT;
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int notify(mproc_condition *cond, int n)
{
    if (cond == NULL)
        return MPROC_EINVAL;
    atomic_fetch_add(&cond->seq, 1);
    mproc__futex_wake(&cond->seq, n);
    return 0;
}

MPROC_API int mproc_condition_notify(mproc_condition *cond)
{
    return notify(cond, 1);
}

MPROC_API int mproc_condition_notify_all(mproc_condition *cond)
{
    return notify(cond, INT_MAX);
}

MPROC_API int mproc_condition_destroy(mproc_condition *cond)
{
    if (cond == NULL)
        return 0;
    if (mproc__mutex_held_here(&cond->mutex))
        return MPROC_EBUSY;
    return mproc__shared_free(cond);
}

/* ---- Barrier ------------------------------------------------------------------------- */

MPROC_API int mproc_barrier_create(mproc_barrier **out, unsigned parties)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    if (parties == 0)
        return MPROC_EINVAL;
    mproc_barrier *b;
    int rc = mproc__shared_alloc(sizeof *b, (void **)&b);
    if (rc != 0)
        return rc;
    rc = mproc__mutex_init(&b->mutex, PTHREAD_MUTEX_ERRORCHECK);
    if (rc != 0) {
        mproc__shared_free(b);
        return rc;
    }
    b->parties = parties;
    *out = b;
    return 0;
}

/* Called with the lock held: publish a state change and wake everyone after unlock. */
static void barrier_changed_unlock(mproc_barrier *b)
{
    atomic_fetch_add(&b->seq, 1);
    mproc__mutex_unlock(&b->mutex);
    mproc__futex_wake(&b->seq, INT_MAX);
}

/* Sleeps until generation `gen` ends or the barrier breaks; called with the lock held,
 * returns with it released. */
static int barrier_sleep(mproc_barrier *b, uint32_t gen, const mproc__deadline *d)
{
    for (;;) {
        uint32_t seq = atomic_load(&b->seq);
        mproc__mutex_unlock(&b->mutex);
        int waited = mproc__futex_wait(&b->seq, seq, d);
        mproc__mutex_lock_internal(&b->mutex);
        int rc = 1;
        if (b->generation != gen)
            rc = b->reset_any && b->reset_gen == gen ? MPROC_EBROKEN : 0;
        else if (b->broken)
            rc = MPROC_EBROKEN;
        if (rc != 1) {
            mproc__mutex_unlock(&b->mutex);
            return rc;
        }
        if (waited == MPROC_ETIMEDOUT) {
            b->broken = true; /* Python: a timeout breaks the barrier for everyone */
            barrier_changed_unlock(b);
            return MPROC_ETIMEDOUT;
        }
    }
}

MPROC_API int mproc_barrier_wait(mproc_barrier *barrier, int timeout_ms, unsigned *index)
{
    if (barrier == NULL)
        return MPROC_EINVAL;
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    if (rc != 0)
        return rc;
    mproc_barrier *b = barrier;
    mproc__mutex_lock_internal(&b->mutex);
    if (b->broken) {
        mproc__mutex_unlock(&b->mutex);
        return MPROC_EBROKEN;
    }
    uint32_t gen = b->generation;
    unsigned arrived = b->count++;
    if (index != NULL)
        *index = arrived;
    if (b->count < b->parties)
        return barrier_sleep(b, gen, &d);
    b->count = 0; /* the last one in releases this generation */
    b->generation++;
    barrier_changed_unlock(b);
    return 0;
}

MPROC_API int mproc_barrier_abort(mproc_barrier *barrier)
{
    if (barrier == NULL)
        return MPROC_EINVAL;
    mproc__mutex_lock_internal(&barrier->mutex);
    barrier->broken = true;
    barrier_changed_unlock(barrier);
    return 0;
}

MPROC_API int mproc_barrier_reset(mproc_barrier *barrier)
{
    if (barrier == NULL)
        return MPROC_EINVAL;
    mproc_barrier *b = barrier;
    mproc__mutex_lock_internal(&b->mutex);
    if (b->count > 0) { /* end the current generation as broken for its waiters */
        b->reset_gen = b->generation;
        b->reset_any = true;
        b->generation++;
    }
    b->count = 0;
    b->broken = false;
    barrier_changed_unlock(b);
    return 0;
}

MPROC_API unsigned mproc_barrier_parties(const mproc_barrier *barrier)
{
    return barrier == NULL ? 0 : barrier->parties;
}

MPROC_API unsigned mproc_barrier_n_waiting(mproc_barrier *barrier)
{
    if (barrier == NULL)
        return 0;
    mproc__mutex_lock_internal(&barrier->mutex);
    unsigned n = barrier->broken ? 0 : barrier->count;
    mproc__mutex_unlock(&barrier->mutex);
    return n;
}

MPROC_API int mproc_barrier_broken(mproc_barrier *barrier)
{
    if (barrier == NULL)
        return MPROC_EINVAL;
    mproc__mutex_lock_internal(&barrier->mutex);
    int broken = barrier->broken ? 1 : 0;
    mproc__mutex_unlock(&barrier->mutex);
    return broken;
}

MPROC_API int mproc_barrier_destroy(mproc_barrier *barrier)
{
    /* Its lock is only held inside the calls above. */
    return barrier == NULL ? 0 : mproc__shared_free(barrier);
}
