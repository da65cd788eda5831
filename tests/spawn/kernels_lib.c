/*
 * kernels_lib.c - a kernel library as users write one: a shared object with an
 * mproc_kernels table, loaded by mproc_pool_load_kernels in the caller and in every
 * spawned or joined worker. It needs mproc.h only for the types: nothing links back.
 */
#include <stdint.h>
#include <time.h>

#include "mproc.h"

/* int32: x -> 3x + 1 (wrapping) */
static int triple_plus_one(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)ctx;
    const uint32_t *s = src;
    uint32_t *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = 3u * s[i] + 1u;
    return 0;
}

/* any 8-byte dtype: copies, after 2 ms per call (for killing workers mid-map). */
static int slow_copy64(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)ctx;
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    const uint64_t *s = src;
    uint64_t *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
    return 0;
}

/* int32 square that takes 1 ms per call. */
static int slow_square32(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)ctx;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    const uint32_t *s = src;
    uint32_t *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = s[i] * s[i];
    return 0;
}

__attribute__((visibility("default"))) const mproc_kernel_def mproc_kernels[] = {
    {"triple_plus_one", MPROC_INT32, triple_plus_one},
    {"triple_plus_one", MPROC_UINT32, triple_plus_one},
    {"slow_copy64", MPROC_DTYPE_ANY, slow_copy64},
    {"slow_square", MPROC_INT32, slow_square32},
    {NULL, 0, NULL},
};
