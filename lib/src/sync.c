/*
 * sync.c - Lock, RLock, Semaphore and BoundedSemaphore in anonymous shared memory.
 *
 * Lock and RLock are robust process-shared pthread mutexes (errorcheck and recursive):
 * the kernel marks a mutex whose holder died, and the next locker takes it over with
 * MPROC_EOWNERDEAD. Semaphores are process-shared sem_t: they have no owner, so nothing
 * can be recovered when a process dies after acquiring one, and nothing needs to be
 * when one dies while waiting.
 */
#include "sync_internal.h"

#include <errno.h>
#include <semaphore.h>

struct mproc_lock {
    struct mproc__shared sh;
    pthread_mutex_t mutex;
};

struct mproc_rlock {
    struct mproc__shared sh;
    pthread_mutex_t mutex;
};

struct mproc_semaphore {
    struct mproc__shared sh;
    sem_t sem;
    bool bounded;
    unsigned max;
    /* Bounded releases check and post under this lock, so two of them cannot both
     * see room for one more; acquirers only lower the value meanwhile. */
    pthread_mutex_t release_mutex;
};

/* Allocates a shared object of `size` bytes with a robust mutex at `mutex`'s offset. */
static int mutex_object(size_t size, size_t mutex_offset, int type, void **out)
{
    void *mem;
    int rc = mproc__shared_alloc(size, &mem);
    if (rc != 0)
        return rc;
    rc = mproc__mutex_init((pthread_mutex_t *)((char *)mem + mutex_offset), type);
    if (rc != 0) {
        mproc__shared_free(mem);
        return rc;
    }
    *out = mem;
    return 0;
}

static int timed_lock(pthread_mutex_t *m, int timeout_ms)
{
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    return rc != 0 ? rc : mproc__mutex_lock(m, &d);
}

/* Unmaps an object whose mutex may be held: refused if a thread here holds it. */
static int mutex_object_destroy(void *obj, const pthread_mutex_t *m)
{
    if (obj == NULL)
        return 0;
    if (mproc__mutex_held_here(m))
        return MPROC_EBUSY;
    return mproc__shared_free(obj);
}

/* ---- Lock ---------------------------------------------------------------------------- */

MPROC_API int mproc_lock_create(mproc_lock **out)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    return mutex_object(sizeof(struct mproc_lock), offsetof(struct mproc_lock, mutex),
                        PTHREAD_MUTEX_ERRORCHECK, (void **)out);
}

MPROC_API int mproc_lock_acquire(mproc_lock *lock, int timeout_ms)
{
    return lock == NULL ? MPROC_EINVAL : timed_lock(&lock->mutex, timeout_ms);
}

MPROC_API int mproc_lock_release(mproc_lock *lock)
{
    return lock == NULL ? MPROC_EINVAL : mproc__mutex_unlock(&lock->mutex);
}

MPROC_API int mproc_lock_destroy(mproc_lock *lock)
{
    return mutex_object_destroy(lock, lock ? &lock->mutex : NULL);
}

/* ---- RLock --------------------------------------------------------------------------- */

MPROC_API int mproc_rlock_create(mproc_rlock **out)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    return mutex_object(sizeof(struct mproc_rlock), offsetof(struct mproc_rlock, mutex),
                        PTHREAD_MUTEX_RECURSIVE, (void **)out);
}

MPROC_API int mproc_rlock_acquire(mproc_rlock *rlock, int timeout_ms)
{
    return rlock == NULL ? MPROC_EINVAL : timed_lock(&rlock->mutex, timeout_ms);
}

MPROC_API int mproc_rlock_release(mproc_rlock *rlock)
{
    return rlock == NULL ? MPROC_EINVAL : mproc__mutex_unlock(&rlock->mutex);
}

MPROC_API int mproc_rlock_destroy(mproc_rlock *rlock)
{
    return mutex_object_destroy(rlock, rlock ? &rlock->mutex : NULL);
}

/* ---- Semaphore ----------------------------------------------------------------------- */

static int semaphore_create(mproc_semaphore **out, unsigned value, bool bounded)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    if (value > MPROC_SEM_VALUE_MAX)
        return MPROC_EINVAL;
    mproc_semaphore *s;
    int rc = mutex_object(sizeof *s, offsetof(struct mproc_semaphore, release_mutex),
                          PTHREAD_MUTEX_ERRORCHECK, (void **)&s);
    if (rc != 0)
        return rc;
    if (sem_init(&s->sem, 1, value) != 0) {
        rc = mproc__neg_errno(errno);
        mproc__shared_free(s);
        return rc;
    }
    s->bounded = bounded;
    s->max = value;
    *out = s;
    return 0;
}

MPROC_API int mproc_semaphore_create(mproc_semaphore **out, unsigned value)
{
    return semaphore_create(out, value, false);
}

MPROC_API int mproc_bounded_semaphore_create(mproc_semaphore **out, unsigned value)
{
    return semaphore_create(out, value, true);
}

MPROC_API int mproc_semaphore_acquire(mproc_semaphore *sem, int timeout_ms)
{
    if (sem == NULL)
        return MPROC_EINVAL;
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    if (rc != 0)
        return rc;
    for (;;) {
        /* sem_clockwait (glibc 2.30+): an absolute CLOCK_MONOTONIC deadline, so that a
         * retry after EINTR waits only for what is left. */
        int r = d.forever ? sem_wait(&sem->sem)
                          : sem_clockwait(&sem->sem, CLOCK_MONOTONIC, &d.at);
        if (r == 0)
            return 0;
        if (errno == ETIMEDOUT)
            return MPROC_ETIMEDOUT;
        if (errno != EINTR)
            return mproc__neg_errno(errno);
    }
}

MPROC_API int mproc_semaphore_release(mproc_semaphore *sem)
{
    if (sem == NULL)
        return MPROC_EINVAL;
    if (!sem->bounded)
        return sem_post(&sem->sem) == 0 ? 0 : mproc__neg_errno(errno);
    mproc__mutex_lock_internal(&sem->release_mutex);
    int value = 0, rc;
    sem_getvalue(&sem->sem, &value);
    if (value >= (int)sem->max)
        rc = MPROC_EOVERRELEASE;
    else
        rc = sem_post(&sem->sem) == 0 ? 0 : mproc__neg_errno(errno);
    mproc__mutex_unlock(&sem->release_mutex);
    return rc;
}

MPROC_API int mproc_semaphore_get_value(mproc_semaphore *sem, int *value)
{
    if (sem == NULL || value == NULL)
        return MPROC_EINVAL;
    int v = 0;
    sem_getvalue(&sem->sem, &v);
    *value = v < 0 ? 0 : v; /* some implementations report waiters as a negative value */
    return 0;
}

MPROC_API int mproc_semaphore_destroy(mproc_semaphore *sem)
{
    /* The release mutex is only held inside mproc_semaphore_release. */
    return sem == NULL ? 0 : mproc__shared_free(sem);
}
