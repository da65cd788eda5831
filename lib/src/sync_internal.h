/*
 * sync_internal.h - what process.c, sync*.c and ipc_*.c share: anonymous shared
 * mappings, CLOCK_MONOTONIC deadlines, futex waits and robust process-shared mutexes.
 *
 * Every IPC object is one MAP_SHARED | MAP_ANONYMOUS mapping that starts with its
 * handle: the pointer a process holds is the same in every child forked after creation,
 * and the memory goes away when the last process that maps it unmaps it or exits.
 */
#ifndef MPROC_SYNC_INTERNAL_H
#define MPROC_SYNC_INTERNAL_H

#include "internal.h"

#include <pthread.h>
#include <time.h>

/* The first member of every shared IPC object: the size of its mapping, for munmap. */
struct mproc__shared {
    size_t map_bytes;
};

/* A timeout_ms turned into an absolute CLOCK_MONOTONIC time, so that retries after
 * EINTR or a spurious wake-up never extend the wait. */
typedef struct mproc__deadline {
    bool forever;
    struct timespec at;
} mproc__deadline;

/* -1: forever; 0: already due (try once); > 0: now + timeout. MPROC_EINVAL below -1. */
int mproc__deadline_init(mproc__deadline *d, int timeout_ms);
/* Milliseconds left, rounded up, for poll(): -1 when forever, 0 when due. */
int mproc__deadline_left_ms(const mproc__deadline *d);
bool mproc__deadline_passed(const mproc__deadline *d);

/* A zero-filled MAP_SHARED | MAP_ANONYMOUS mapping of at least `bytes`, with its
 * struct mproc__shared filled in. 0, MPROC_EOVERFLOW, MPROC_ENOMEM or -errno. */
int mproc__shared_alloc(size_t bytes, void **out);
/* Unmaps an object made by mproc__shared_alloc in the calling process only. */
int mproc__shared_free(void *obj);

/* Sleeps while *word == expected, until woken or the deadline. 0 (woken, value
 * changed, EINTR: the caller looks again) or MPROC_ETIMEDOUT. Shared (not private)
 * futexes: the words live in memory shared between processes. */
int mproc__futex_wait(_Atomic uint32_t *word, uint32_t expected, const mproc__deadline *d);
void mproc__futex_wake(_Atomic uint32_t *word, int n);

/* A robust, process-shared mutex: PTHREAD_MUTEX_ERRORCHECK or PTHREAD_MUTEX_RECURSIVE. */
int mproc__mutex_init(pthread_mutex_t *m, int type);
/* Locks until the deadline. 0, MPROC_EOWNERDEAD (locked, and already made consistent),
 * MPROC_ETIMEDOUT, -EDEADLK (errorcheck mutex already held by this thread) or -errno. */
int mproc__mutex_lock(pthread_mutex_t *m, const mproc__deadline *d);
/* For the library's own short critical sections, which commit with single stores and
 * so are consistent whatever point a dying holder reached: locks forever and takes an
 * owner-died lock over silently. */
void mproc__mutex_lock_internal(pthread_mutex_t *m);
/* 0, or MPROC_ENOTOWNER when the calling thread does not hold it. */
int mproc__mutex_unlock(pthread_mutex_t *m);
/* Whether a thread of the calling process holds m: such a mutex is on that thread's
 * robust list, and unmapping it would leave the list pointing at nothing. */
bool mproc__mutex_held_here(const pthread_mutex_t *m);
/* Whether the calling thread holds m. */
bool mproc__mutex_owned(const pthread_mutex_t *m);

/* process.c: tests switch the sentinel to the socket-pair fallback of kernels without
 * pidfd_open (true), or back to probing (false). Affects later starts only. */
void mproc__process_force_fallback(bool on);

#endif
