/*
 * bench.h - what the files of mproc-bench share.
 *
 *   main.c      options, machine description, the order of the sections
 *   timing.c    clock, round-robin measurement (warm-up, batches, median/min), results
 *   peers.c     the peers: serial C, OpenMP, a kept pthreads pool, the kernels
 *   suites.c    the sections: square sweep, dispatch, compute scaling, startup
 *   tasks.c     mproc's Pool tasks (apply_async, task map) and Process start + join
 *   python.c    the Python multiprocessing peer (runs bench/py_peer.py, reads its JSON)
 *   report.c    markdown tables and the CSV
 *   plots.c     gnuplot plots
 */
#ifndef MPROC_BENCH_H
#define MPROC_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "mproc.h"

#define BENCH_MAX_REPS 64
#define BENCH_MAX_WCOUNTS 16
#define BENCH_MAX_SIZES 16

/* ---------------------------------------------------------------- options (main.c) */
struct bench_opts {
    int quick, full, reps, python, plots;
    size_t max_n;
    const char *out_dir;
    const char *csv_path;
    const char *only;            /* --only: comma-separated sections, or NULL for all */
    double sample_s;             /* target duration of one timed batch */
    int retries;                 /* re-measurements of a group taken on a busy machine */
    double retry_budget_s;       /* total time those may take */
    int ncpu;                    /* online CPUs */
    int wlist[BENCH_MAX_WCOUNTS]; /* worker counts measured: 1..ncpu */
    int nw;
    size_t sizes[BENCH_MAX_SIZES]; /* int32 sweep */
    int nsizes;
    size_t f64_sizes[4];
    int nf64;
    size_t compute_n;
    int dispatch_cold_samples;
    size_t py_array_n, py_map_n;
    int py_apply_calls;
    char cmdline[512];
};

extern struct bench_opts g_opt;
extern mproc_pool_stats g_stats; /* summed over the sweep pools at the end */

_Noreturn void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bench_check(int rc, const char *what); /* dies with mproc_strerror(rc) if rc != 0 */

/* ---------------------------------------------------------------- timing.c */
double bench_now(void);          /* seconds, CLOCK_MONOTONIC */
void bench_sleep(double seconds);

typedef void (*bench_call)(void *ctx);

/* One method in a round-robin measurement. Fill name/call/ctx; measure fills the rest. */
struct bench_method {
    const char *name;
    bench_call call;
    void *ctx;
    long inner;                    /* calls per timed batch (calibrated) */
    double samples[BENCH_MAX_REPS]; /* seconds per call, one per repetition */
    double med, min;               /* seconds per call */
    int reps;
    double other;                  /* CPUs busy with other processes meanwhile */
    double pause_after;            /* idle time the next method needs after this one */
};

/* CPU time that processes other than this one and its children used, so that a figure
 * taken while the machine was busy can be flagged (and re-measured). */
struct cpu_snap {
    double t;
    double busy, own, steal; /* seconds of CPU */
};
void cpu_snapshot(struct cpu_snap *s);
double cpu_other_load(const struct cpu_snap *a, const struct cpu_snap *b); /* CPUs */
#define BENCH_BUSY_THRESHOLD 0.15 /* other CPUs above which a group is re-measured */

/* Warm-up and calibration of each method, then `reps` rounds in which every method runs
 * one timed batch in turn, with a pause between methods so that one peer's idle spinning
 * does not steal a CPU from the next: 2 ms, or the method's pause_after (OpenMP's
 * threads spin about 8 ms after a parallel region before they sleep). */
#define BENCH_OMP_PAUSE 0.015
void bench_measure(struct bench_method *m, int count, int reps, double sample_s);
/* Times single calls, each after `idle_s` of sleep (a cold start): median and min. */
void bench_measure_cold(struct bench_method *m, int samples, double idle_s);
double bench_median(double *v, int n); /* sorts v */

/* Results: one row per (section, method, dtype, n, workers). */
struct bench_result {
    char section[16];
    char method[48];
    char dtype[12];
    size_t n;
    int workers;
    double med, min; /* seconds per call */
    int reps;
    long inner;
    double bytes;    /* bytes moved per call (0 if not a throughput figure) */
    double elems;    /* elements per call (0 if none) */
    double other;    /* CPUs used by other processes while measuring (-1 unknown) */
    char note[96];
};

void bench_record(const char *section, const struct bench_method *m, const char *dtype,
                  size_t n, int workers, double bytes, double elems, const char *note);
void bench_record_raw(const char *section, const char *method, const char *dtype, size_t n,
                      int workers, double med, double min, int reps, double elems,
                      const char *note);
const struct bench_result *bench_find(const char *section, const char *method,
                                      const char *dtype, size_t n, int workers);
/* The figure with the lowest median over all worker counts: serial is measured in every
 * group, and speedups use its fastest figure so that a slow moment never inflates them. */
const struct bench_result *bench_fastest(const char *section, const char *method,
                                         const char *dtype, size_t n);
const struct bench_result *bench_results(int *count);
void bench_busy_summary(double *worst, double *mean, int *flagged, int *remeasured);

/* ---------------------------------------------------------------- peers.c */
/* The kernels every peer runs (same code, same compiler flags as the bench). */
#define COMPUTE_ITERS 200
#define COMPUTE_FLOPS_PER_ELEM (3 * COMPUTE_ITERS)
static inline double compute_elem(double x)
{
    /* The logistic map at r = 3.9: bounded in (0, 1), no denormals, 3 flops a step. */
    for (int k = 0; k < COMPUTE_ITERS; k++)
        x = 3.9 * x * (1.0 - x);
    return x;
}

void serial_square_i32(int32_t *a, size_t n);
void serial_square_f64(double *a, size_t n);
void serial_compute(double *a, size_t n);

void omp_inc_i32(int32_t *a, size_t n, int threads);
void omp_inc_f64(double *a, size_t n, int threads);
void omp_square_i32(int32_t *a, size_t n, int threads);
void omp_square_f64(double *a, size_t n, int threads);
void omp_compute(double *a, size_t n, int threads);
void omp_fill_i32(int32_t *a, size_t n, uint32_t seed);
size_t omp_check_square_i32(const int32_t *a, size_t n, uint32_t seed); /* first bad or n */
void omp_fill_f64(double *a, size_t n);
size_t omp_check_square_f64(const double *a, size_t n); /* first bad index or n */
void omp_fill_unit_f64(double *a, size_t n); /* values whose squares stay put: 0, 1, -1 */
int omp_max_threads(void);
int omp_version(void);

/* Kernels for mproc_map. */
int kernel_compute(const void *src, void *dst, size_t n, const void *ctx);
int kernel_mark_pid(const void *src, void *dst, size_t n, const void *ctx);
int kernel_nop(const void *src, void *dst, size_t n, const void *ctx);

/* A plain pthreads pool: `participants - 1` threads created once and kept; the caller is
 * participant 0. A run hands out static slices and is dispatched by two
 * pthread_barrier_wait (futex based, no spinning): one to start, one to finish. */
struct tpool;
typedef void (*tpool_fn)(void *base, size_t lo, size_t hi);
struct tpool *tpool_create(int participants);
void tpool_destroy(struct tpool *tp);
void tpool_run(struct tpool *tp, tpool_fn fn, void *base, size_t n);
void tp_square_i32(void *base, size_t lo, size_t hi);
void tp_square_f64(void *base, size_t lo, size_t hi);
void tp_compute(void *base, size_t lo, size_t hi);

/* ---------------------------------------------------------------- suites.c */
/* MPROC_COMMIT_DIRECT (workers write in place, not crash-safe) where the library has it */
#ifdef MPROC_COMMIT_DIRECT
#define BENCH_HAVE_DIRECT 1
#else
#define BENCH_HAVE_DIRECT 0
#endif

struct bench_pools {
    mproc_pool *pool[BENCH_MAX_WCOUNTS];   /* one per g_opt.wlist entry, default options */
    mproc_pool *direct[BENCH_MAX_WCOUNTS]; /* the same with MPROC_COMMIT_DIRECT, or NULL */
    struct tpool *tp[BENCH_MAX_WCOUNTS];
};
void suite_startup(void);
void suite_dispatch(struct bench_pools *p);
void suite_compute(struct bench_pools *p);
void suite_square(struct bench_pools *p, mproc_dtype dtype, const size_t *sizes, int nsizes);
void suite_python_mproc_side(struct bench_pools *p); /* mproc's figures for the Python rows */
void suite_tasks(void);   /* tasks.c: apply_async + get, task map */
void suite_process(void); /* tasks.c: mproc_process_start + join */
/* Idle time before a cold call: longer than libgomp's ~8 ms of spinning and mproc's
 * 50 us, so that every peer's threads or workers are asleep. */
#define BENCH_COLD_IDLE_S 0.02

/* ---------------------------------------------------------------- python.c */
struct py_results {
    int ok;
    char version[32], start_method[16], error[200];
    int procs, array_tasks;
    double array_n, array_med, array_min;
    double map_n, map_med, map_min;
    double apply_calls, apply_med, apply_min; /* per call */
    double process_med, process_min;
    double pool_med, pool_min;
};
void python_run(struct py_results *out);
int bench_find_on_path(const char *prog, char *out, size_t size); /* 1 if found */
extern struct py_results g_py;

/* ---------------------------------------------------------------- report.c */
struct machine_info {
    char cpu[128], kernel[200], thp[64], shmem_thp[64], compiler[64], date[64];
    char load_start[64], load_end[64]; /* /proc/loadavg: other work on the machine */
    int ncpu, nice;
    double mem_gib;
};
void report_markdown(const struct machine_info *mi, double elapsed_s);
int report_csv(const char *path);
void report_plots(const char *dir);

#endif
