/*
 * peers.c - what mproc is measured against, all compiled with the same flags as the
 * library (meson's buildtype): serial C loops, OpenMP `parallel for` loops (schedule
 * static, meson's openmp dependency), and a plain pthreads pool. Also the fill/check
 * helpers and the user kernels handed to mproc_map.
 *
 * Integer squares are computed in uint32_t and converted back, as mproc's built-in
 * kernels do (wrapping, no undefined behaviour), so every peer does the same work.
 */
#include "bench.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* ---------------------------------------------------------------- serial */

void serial_square_i32(int32_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t x = (uint32_t)a[i];
        a[i] = (int32_t)(x * x);
    }
}

void serial_square_f64(double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = a[i] * a[i];
}

void serial_compute(double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = compute_elem(a[i]);
}

/* ---------------------------------------------------------------- OpenMP */

/*
 * The limit, `a[i] += 1`, is compiled for AVX-512, AVX2 and the baseline like mproc's
 * built-in kernels, so that it stays a ceiling: at the baseline it ran below mproc's
 * vectorized square at 10^8 (108-115% "of the limit"). The square peers stay as a user
 * would write them, compiled with the build's flags.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#define BENCH_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BENCH_CLONES
#endif

BENCH_CLONES void omp_inc_i32(int32_t *a, size_t n, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = (int32_t)((uint32_t)a[i] + 1u);
}

BENCH_CLONES void omp_inc_f64(double *a, size_t n, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] += 1.0;
}

void omp_square_i32(int32_t *a, size_t n, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) {
        uint32_t x = (uint32_t)a[i];
        a[i] = (int32_t)(x * x);
    }
}

void omp_square_f64(double *a, size_t n, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = a[i] * a[i];
}

void omp_compute(double *a, size_t n, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = compute_elem(a[i]);
}

static inline int32_t pattern_i32(size_t i, uint32_t seed)
{
    /* a multiplicative hash: every bit pattern, so wrapping squares are exercised */
    uint32_t x = (uint32_t)i * 2654435761u + seed;
    x ^= x >> 15;
    return (int32_t)x;
}

void omp_fill_i32(int32_t *a, size_t n, uint32_t seed)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = pattern_i32(i, seed);
}

size_t omp_check_square_i32(const int32_t *a, size_t n, uint32_t seed)
{
    size_t bad = n;
#pragma omp parallel for schedule(static) reduction(min : bad)
    for (size_t i = 0; i < n; i++) {
        uint32_t x = (uint32_t)pattern_i32(i, seed);
        if (a[i] != (int32_t)(x * x) && i < bad)
            bad = i;
    }
    return bad;
}

void omp_fill_f64(double *a, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = (double)(i % 4001) * 0.25 - 500.0; /* squares are exact in binary64 */
}

size_t omp_check_square_f64(const double *a, size_t n)
{
    size_t bad = n;
#pragma omp parallel for schedule(static) reduction(min : bad)
    for (size_t i = 0; i < n; i++) {
        double x = (double)(i % 4001) * 0.25 - 500.0;
        if (a[i] != x * x && i < bad)
            bad = i;
    }
    return bad;
}

void omp_fill_unit_f64(double *a, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = (double)((int)(i % 3) - 1);
}

int omp_max_threads(void)
{
    return omp_get_max_threads();
}

int omp_version(void)
{
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}

/* ---------------------------------------------------------------- mproc user kernels */

/* src -> dst that do not overlap (a map from one array into another, or mproc's
 * exactly-once commit, which computes an in-place chunk into a worker's scratch area).
 * Without `restrict` GCC does not vectorize this loop and it runs at half speed. */
static void compute_into(const double *restrict s, double *restrict d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = compute_elem(s[i]);
}

int kernel_compute(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)ctx;
    if (src == dst)
        serial_compute(dst, n); /* the very loop the serial peer runs */
    else
        compute_into(src, dst, n);
    return 0;
}

/* Writes the pid of the process that ran each chunk: who did the work. */
int kernel_mark_pid(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)src;
    (void)ctx;
    int32_t *d = dst;
    int32_t pid = (int32_t)getpid();
    for (size_t i = 0; i < n; i++)
        d[i] = pid;
    return 0;
}

int kernel_nop(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)src;
    (void)dst;
    (void)n;
    (void)ctx;
    return 0;
}

/* ---------------------------------------------------------------- pthreads pool */

struct tpool {
    int participants;
    pthread_t *tids;
    struct targ *args;
    pthread_barrier_t start, finish;
    tpool_fn fn;
    void *base;
    size_t n;
    int stop;
};

struct targ {
    struct tpool *tp;
    int index;
};

static void run_slice(struct tpool *tp, int index)
{
    size_t p = (size_t)tp->participants;
    size_t lo = tp->n * (size_t)index / p, hi = tp->n * ((size_t)index + 1) / p;
    if (hi > lo)
        tp->fn(tp->base, lo, hi);
}

static void *tpool_main(void *arg)
{
    struct targ *ta = arg;
    struct tpool *tp = ta->tp;
    for (;;) {
        pthread_barrier_wait(&tp->start);
        if (tp->stop)
            break;
        run_slice(tp, ta->index);
        pthread_barrier_wait(&tp->finish);
    }
    return NULL;
}

struct tpool *tpool_create(int participants)
{
    struct tpool *tp = calloc(1, sizeof *tp);
    if (tp == NULL)
        bench_die("out of memory");
    tp->participants = participants;
    if (participants <= 1)
        return tp;
    tp->tids = calloc((size_t)participants, sizeof *tp->tids);
    tp->args = calloc((size_t)participants, sizeof *tp->args);
    if (tp->tids == NULL || tp->args == NULL)
        bench_die("out of memory");
    pthread_barrier_init(&tp->start, NULL, (unsigned)participants);
    pthread_barrier_init(&tp->finish, NULL, (unsigned)participants);
    for (int i = 1; i < participants; i++) {
        tp->args[i].tp = tp;
        tp->args[i].index = i;
        if (pthread_create(&tp->tids[i], NULL, tpool_main, &tp->args[i]) != 0)
            bench_die("pthread_create failed");
    }
    return tp;
}

void tpool_run(struct tpool *tp, tpool_fn fn, void *base, size_t n)
{
    if (tp->participants <= 1) {
        fn(base, 0, n);
        return;
    }
    tp->fn = fn;
    tp->base = base;
    tp->n = n;
    pthread_barrier_wait(&tp->start); /* a full barrier: publishes the job */
    run_slice(tp, 0);
    pthread_barrier_wait(&tp->finish);
}

void tpool_destroy(struct tpool *tp)
{
    if (tp == NULL)
        return;
    if (tp->participants > 1) {
        tp->stop = 1;
        pthread_barrier_wait(&tp->start);
        for (int i = 1; i < tp->participants; i++)
            pthread_join(tp->tids[i], NULL);
        pthread_barrier_destroy(&tp->start);
        pthread_barrier_destroy(&tp->finish);
    }
    free(tp->tids);
    free(tp->args);
    free(tp);
}

void tp_square_i32(void *base, size_t lo, size_t hi)
{
    serial_square_i32((int32_t *)base + lo, hi - lo);
}

void tp_square_f64(void *base, size_t lo, size_t hi)
{
    serial_square_f64((double *)base + lo, hi - lo);
}

void tp_compute(void *base, size_t lo, size_t hi)
{
    serial_compute((double *)base + lo, hi - lo);
}
