/* bad_kernels_lib.c - a kernel library with an invalid entry: loading it must fail
 * as a whole (MPROC_ELIBRARY) and register nothing. */
#include "mproc.h"

static int ok_kernel(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)src;
    (void)dst;
    (void)n;
    (void)ctx;
    return 0;
}

__attribute__((visibility("default"))) const mproc_kernel_def mproc_kernels[] = {
    {"fine_one", MPROC_INT32, ok_kernel},
    {"bad name!", MPROC_INT32, ok_kernel},
    {NULL, 0, NULL},
};
