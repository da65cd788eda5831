/*
 * crashutil.h - what the crash suites share: pools with options, values whose square
 * shows a lost or doubled element, whole-array checks with a readable message, and
 * waiting for a killed process without reaping it (the pool must reap its workers).
 */
#ifndef MPROC_CRASHUTIL_H
#define MPROC_CRASHUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "testutil.h"

#define CU_N ((size_t)1 << 20) /* 10^6+ elements */
#define CU_MAP_LIMIT_S 5.0     /* a map that takes longer than this counts as a hang */

/* A pool with these options (max_retries < 0: the default); fails the test on error. */
mproc_pool *cu_pool(int workers, int caller_works, size_t chunk, int max_retries);
/* The pool's counters; fails the test on error. */
mproc_pool_stats cu_stats(const mproc_pool *p);

/* Fills n values of dtype (int8, int32 or float64) whose square, and the square of
 * that, differ from each other and from the value (wrapping included), so that an
 * element squared zero or two times shows. */
void cu_fill_values(mproc_dtype dtype, void *buf, size_t n, uint64_t seed);
/* Fails the test unless got equals want, naming the count of bad elements, the first
 * one and whether it was lost, doubled or torn (orig: the values before the square). */
void cu_check_all(const char *what, mproc_dtype dtype, const void *orig, const void *want,
                  const void *got, size_t n);
/* Waits (5 s at most) until pid is a zombie or gone, without reaping it. */
void cu_wait_dead(pid_t pid);

#endif /* MPROC_CRASHUTIL_H */
