/*
 * sync_core.c - the pieces every IPC object is built from: anonymous shared mappings,
 * CLOCK_MONOTONIC deadlines, shared futexes and robust process-shared mutexes.
 *
 * Why futexes and not pthread condition variables for waiting: a process can die while
 * it waits. A futex waiter leaves nothing behind when it dies; glibc's process-shared
 * condition variables keep per-waiter group references that a dead waiter never gives
 * back, which can block later signallers.
 */
#include "sync_internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NSEC_PER_SEC 1000000000L

int mproc__deadline_init(mproc__deadline *d, int timeout_ms)
{
    if (timeout_ms < -1)
        return MPROC_EINVAL;
    d->forever = timeout_ms == -1;
    clock_gettime(CLOCK_MONOTONIC, &d->at);
    if (timeout_ms > 0) {
        d->at.tv_sec += timeout_ms / 1000;
        d->at.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (d->at.tv_nsec >= NSEC_PER_SEC) {
            d->at.tv_sec++;
            d->at.tv_nsec -= NSEC_PER_SEC;
        }
    }
    return 0;
}

int mproc__deadline_left_ms(const mproc__deadline *d)
{
    if (d->forever)
        return -1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ns = (int64_t)(d->at.tv_sec - now.tv_sec) * NSEC_PER_SEC +
                 (d->at.tv_nsec - now.tv_nsec);
    if (ns <= 0)
        return 0;
    int64_t ms = (ns + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

bool mproc__deadline_passed(const mproc__deadline *d)
{
    return !d->forever && mproc__deadline_left_ms(d) == 0;
}

int mproc__shared_alloc(size_t bytes, void **out)
{
    *out = NULL;
    long page = sysconf(_SC_PAGESIZE);
    size_t pg = page > 0 ? (size_t)page : 4096u, total;
    if (bytes < sizeof(struct mproc__shared))
        bytes = sizeof(struct mproc__shared);
    if (__builtin_add_overflow(bytes, pg - 1, &total) || total > (size_t)INT64_MAX)
        return MPROC_EOVERFLOW;
    total -= total % pg;
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return errno == ENOMEM ? MPROC_ENOMEM : mproc__neg_errno(errno);
    ((struct mproc__shared *)p)->map_bytes = total;
    *out = p;
    return 0;
}

int mproc__shared_free(void *obj)
{
    size_t bytes = ((struct mproc__shared *)obj)->map_bytes;
    return munmap(obj, bytes) == 0 ? 0 : mproc__neg_errno(errno);
}

int mproc__futex_wait(_Atomic uint32_t *word, uint32_t expected, const mproc__deadline *d)
{
    if (mproc__deadline_passed(d))
        return MPROC_ETIMEDOUT;
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time: a retry after EINTR
     * waits only for what is left. */
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, expected,
                     d->forever ? NULL : &d->at, NULL, FUTEX_BITSET_MATCH_ANY);
    if (r == -1 && errno == ETIMEDOUT)
        return MPROC_ETIMEDOUT;
    return 0; /* woken, EAGAIN (the value changed) or EINTR: the caller looks again */
}

void mproc__futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL, NULL, 0);
}

int mproc__mutex_init(pthread_mutex_t *m, int type)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc != 0)
        return mproc__neg_errno(rc);
    if ((rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) == 0 &&
        (rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) == 0 &&
        (rc = pthread_mutexattr_settype(&a, type)) == 0)
        rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return rc == 0 ? 0 : mproc__neg_errno(rc);
}

int mproc__mutex_lock(pthread_mutex_t *m, const mproc__deadline *d)
{
    int rc = d->forever ? pthread_mutex_lock(m)
                        : pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &d->at);
    switch (rc) {
    case 0:
        return 0;
    case EOWNERDEAD:
        /* We hold it now; make it usable again and tell the caller once. */
        pthread_mutex_consistent(m);
        return MPROC_EOWNERDEAD;
    case ETIMEDOUT:
        return MPROC_ETIMEDOUT;
    default:
        return mproc__neg_errno(rc);
    }
}

void mproc__mutex_lock_internal(pthread_mutex_t *m)
{
    if (pthread_mutex_lock(m) == EOWNERDEAD)
        pthread_mutex_consistent(m);
}

int mproc__mutex_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);
    if (rc == EPERM)
        return MPROC_ENOTOWNER;
    return rc == 0 ? 0 : mproc__neg_errno(rc);
}

/* A robust mutex's lock word is its owner's thread id plus flag bits (glibc). */
static pid_t mutex_owner(const pthread_mutex_t *m)
{
    int word = __atomic_load_n(&m->__data.__lock, __ATOMIC_ACQUIRE);
    return (pid_t)((unsigned)word & FUTEX_TID_MASK);
}

bool mproc__mutex_owned(const pthread_mutex_t *m)
{
    return mutex_owner(m) == gettid();
}

bool mproc__mutex_held_here(const pthread_mutex_t *m)
{
    pid_t tid = mutex_owner(m);
    if (tid == 0)
        return false;
    if (tid == gettid())
        return true;
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
    return stat(path, &st) == 0;
}
