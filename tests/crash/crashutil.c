/* crashutil.c - helpers of the crash suites; see crashutil.h. */
#include "crashutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mproc_pool *cu_pool(int workers, int caller_works, size_t chunk, int max_retries)
{
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = workers;
    o.caller_works = caller_works;
    o.chunk = chunk;
    if (max_retries >= 0)
        o.max_retries = max_retries;
    mproc_pool *p = NULL;
    int rc = mproc_pool_create(&p, &o);
    ck_assert_msg(rc == 0, "mproc_pool_create(workers %d, caller_works %d): %s", workers,
                  caller_works, tu_errname(rc));
    return p;
}

mproc_pool_stats cu_stats(const mproc_pool *p)
{
    mproc_pool_stats s;
    tu_assert_rc(mproc_pool_get_stats(p, &s), 0);
    return s;
}

/* Values whose square, and square of the square, differ from each other and from the
 * value itself (wrapping included), so that a chunk done zero or two times shows. */
void cu_fill_values(mproc_dtype dtype, void *buf, size_t n, uint64_t seed)
{
    uint64_t st = seed | 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = tu_rand(&st);
        switch (dtype) {
        case MPROC_INT8: ((int8_t *)buf)[i] = (int8_t)(2 + r % 14); break;      /* 2..15 */
        case MPROC_INT32: ((int32_t *)buf)[i] = (int32_t)(2 + r % 46339); break; /* x^2 < 2^31 */
        case MPROC_FLOAT64: ((double *)buf)[i] = 1.5 + (double)(r % 1000000) / 1000.0; break;
        default: ck_abort_msg("fill_values: dtype %d not used here", (int)dtype);
        }
    }
}

/* Describes what element i holds: the value, its square, its square squared, other. */
static const char *classify(mproc_dtype dtype, const void *orig, const void *got, size_t i)
{
    size_t es = mproc_dtype_size(dtype);
    unsigned char once[8], twice[8];
    tu_ref_apply(MPROC_OP_SQUARE, dtype, (const char *)orig + i * es, once, 1, NULL);
    tu_ref_apply(MPROC_OP_SQUARE, dtype, once, twice, 1, NULL);
    const char *g = (const char *)got + i * es;
    if (memcmp(g, (const char *)orig + i * es, es) == 0)
        return "never squared (lost)";
    if (memcmp(g, twice, es) == 0)
        return "squared twice (doubled)";
    return "something else (torn or corrupt)";
}

/* Fails with the first bad element, the number of bad ones and what they hold. */
void cu_check_all(const char *what, mproc_dtype dtype, const void *orig, const void *want,
                  const void *got, size_t n)
{
    size_t es = mproc_dtype_size(dtype);
    if (memcmp(got, want, n * es) == 0)
        return;
    size_t first = SIZE_MAX, bad = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp((const char *)got + i * es, (const char *)want + i * es, es) != 0) {
            if (first == SIZE_MAX)
                first = i;
            bad++;
        }
    char a[64], b[64], c[64];
    ck_abort_msg("%s: %zu of %zu elements wrong; first at %zu: was %s, got %s, want %s: %s",
                 what, bad, n, first, tu_fmt(dtype, orig, first, a, sizeof a),
                 tu_fmt(dtype, got, first, b, sizeof b), tu_fmt(dtype, want, first, c, sizeof c),
                 classify(dtype, orig, got, first));
}

/* Waits until pid is a zombie or gone (the pool reaps it; we must not). */
void cu_wait_dead(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (double t0 = tu_now(); tu_now() - t0 < 5.0; tu_sleep_ms(1)) {
        FILE *f = fopen(path, "r");
        if (f == NULL)
            return;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = '\0';
        char *p = strrchr(buf, ')');
        if (p == NULL || p[2] == 'Z' || p[2] == 'X')
            return;
    }
    ck_abort_msg("process %d still running 5 s after SIGKILL", (int)pid);
}

