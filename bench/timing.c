/*
 * timing.c - the clock, the measurement loop and the result store of mproc-bench.
 *
 * A measurement: each method is called once (warm-up, first-touch and wake-up costs go
 * there), its batch size is calibrated so that one timed batch lasts about
 * g_opt.sample_s, one more untimed batch warms it at that size, and then `reps` rounds
 * run every method's batch in turn. A sample is the batch time divided by its calls; the
 * figures are the median and the minimum of the samples.
 */
#include "bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_sleep(double seconds)
{
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    if (n <= 0)
        return 0.0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double time_batch(const struct bench_method *m, long calls)
{
    double t0 = bench_now();
    for (long i = 0; i < calls; i++)
        m->call(m->ctx);
    return bench_now() - t0;
}

/* Pause between two different methods (longer after OpenMP ones, see bench.h). */
#define SWITCH_PAUSE_S 0.002
#define MAX_INNER 1000000L

/* The pause is a busy wait, not a sleep: on the 2-vCPU VMs this was written on, a vCPU
 * that halts even for 2 ms often runs the next tens of milliseconds about 1.8x slower
 * (the host seems to hand its core to someone else meanwhile), which would slow the
 * first calls of every batch. Sleeping is kept for the cold-start measurements. */
static void pause_between(const struct bench_method *prev)
{
    double until = bench_now() + (prev->pause_after > SWITCH_PAUSE_S ? prev->pause_after
                                                                      : SWITCH_PAUSE_S);
    while (bench_now() < until) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

static void summarize(struct bench_method *m, int reps)
{
    double tmp[BENCH_MAX_REPS];
    memcpy(tmp, m->samples, sizeof(double) * (size_t)reps);
    m->med = bench_median(tmp, reps);
    m->min = tmp[0];
    m->reps = reps;
}

/* ---------------------------------------------------------------- machine load */

static double clk_tck(void)
{
    static double hz;
    if (hz == 0) {
        long t = sysconf(_SC_CLK_TCK);
        hz = t > 0 ? (double)t : 100.0;
    }
    return hz;
}

/* utime + stime (+ cutime + cstime with `children`) of /proc/PID/stat, in ticks; and
 * its parent pid. */
static double proc_ticks(const char *path, int children, long *ppid)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL)
        return 0;
    long pp = 0;
    unsigned long long ut = 0, st = 0;
    long long cut = 0, cst = 0;
    if (sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &pp, &ut,
               &st, &cut, &cst) != 5)
        return 0;
    if (ppid)
        *ppid = pp;
    return (double)(ut + st) + (children ? (double)(cut + cst) : 0.0);
}

void cpu_snapshot(struct cpu_snap *s)
{
    memset(s, 0, sizeof *s);
    s->t = bench_now();
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]) != 8)
            memset(v, 0, sizeof v);
        fclose(f);
    }
    double hz = clk_tck();
    s->busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / hz; /* user nice system irq softirq */
    s->steal = (double)v[7] / hz;
    double own = proc_ticks("/proc/self/stat", 1, NULL);
    long me = (long)getpid();
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) { /* our children: the pools' workers */
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        long pp = 0;
        double t = proc_ticks(path, 0, &pp);
        if (pp == me)
            own += t;
    }
    if (d)
        closedir(d);
    s->own = own / hz;
}

double cpu_other_load(const struct cpu_snap *a, const struct cpu_snap *b)
{
    double dt = b->t - a->t;
    if (dt <= 0 || a->busy == 0)
        return -1;
    double other = (b->busy - a->busy) - (b->own - a->own) + (b->steal - a->steal);
    return other > 0 ? other / dt : 0.0;
}

static double retry_spent;
static int remeasured;

static void measure_once(struct bench_method *m, int count, int reps, double sample_s)
{
    for (int k = 0; k < count; k++) {
        if (count > 1 && k > 0)
            pause_between(&m[k - 1]);
        double t1 = time_batch(&m[k], 1); /* warm-up, not used */
        /* calibrate on a second call: the first may carry page faults or a wake-up */
        t1 = time_batch(&m[k], 1);
        long inner = 1;
        if (t1 < sample_s) {
            double want = sample_s / (t1 > 1e-8 ? t1 : 1e-8);
            inner = want > (double)MAX_INNER ? MAX_INNER : (long)want + 1;
            if (inner > 1) { /* refine on a short batch: single calls carry clock noise */
                long probe = inner / 8 + 1;
                double tp = time_batch(&m[k], probe) / (double)probe;
                want = sample_s / (tp > 1e-9 ? tp : 1e-9);
                inner = want > (double)MAX_INNER ? MAX_INNER : (long)want + 1;
            }
        }
        m[k].inner = inner;
    }
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < count; k++) {
            if (count > 1)
                pause_between(&m[k > 0 ? k - 1 : count - 1]);
            m[k].samples[r] = time_batch(&m[k], m[k].inner) / (double)m[k].inner;
        }
    }
    for (int k = 0; k < count; k++)
        summarize(&m[k], reps);
}

void bench_measure(struct bench_method *m, int count, int reps, double sample_s)
{
    if (reps > BENCH_MAX_REPS)
        reps = BENCH_MAX_REPS;
    struct bench_method best[8];
    double best_other = -2;
    for (int attempt = 0;; attempt++) {
        struct cpu_snap a, b;
        cpu_snapshot(&a);
        measure_once(m, count, reps, sample_s);
        cpu_snapshot(&b);
        double other = cpu_other_load(&a, &b);
        for (int k = 0; k < count; k++)
            m[k].other = other;
        if (count <= 8 && (best_other == -2 || other < best_other)) {
            memcpy(best, m, sizeof *m * (size_t)count);
            best_other = other;
        }
        if (other < BENCH_BUSY_THRESHOLD || attempt >= g_opt.retries ||
            retry_spent + (b.t - a.t) > g_opt.retry_budget_s)
            break;
        /* the machine was busy: let it settle, measure the whole group again */
        bench_log("  busy machine (%.2f other CPUs): measuring the group again", other);
        remeasured++;
        bench_sleep(0.5);
        retry_spent += b.t - a.t + 0.5;
    }
    if (count <= 8 && best_other != -2)
        memcpy(m, best, sizeof *m * (size_t)count); /* the quietest attempt */
}

void bench_measure_cold(struct bench_method *m, int samples, double idle_s)
{
    double *v = malloc(sizeof(double) * (size_t)samples);
    if (v == NULL)
        bench_die("out of memory");
    struct cpu_snap a, b;
    cpu_snapshot(&a);
    m->call(m->ctx);
    for (int i = 0; i < samples; i++) {
        bench_sleep(idle_s);
        v[i] = time_batch(m, 1);
    }
    cpu_snapshot(&b);
    m->other = cpu_other_load(&a, &b);
    m->med = bench_median(v, samples);
    m->min = v[0];
    m->reps = samples;
    m->inner = 1;
    int keep = samples < BENCH_MAX_REPS ? samples : BENCH_MAX_REPS;
    memcpy(m->samples, v, sizeof(double) * (size_t)keep);
    free(v);
}

/* ---------------------------------------------------------------- results */

static struct bench_result *results;
static int nresults, capresults;

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static struct bench_result *new_result(void)
{
    if (nresults == capresults) {
        int cap = capresults ? capresults * 2 : 128;
        struct bench_result *r = realloc(results, sizeof *r * (size_t)cap);
        if (r == NULL)
            bench_die("out of memory");
        results = r;
        capresults = cap;
    }
    struct bench_result *r = &results[nresults++];
    memset(r, 0, sizeof *r);
    return r;
}

void bench_record_raw(const char *section, const char *method, const char *dtype, size_t n,
                      int workers, double med, double min, int reps, double elems,
                      const char *note)
{
    struct bench_result *r = new_result();
    copy_str(r->section, sizeof r->section, section);
    copy_str(r->method, sizeof r->method, method);
    copy_str(r->dtype, sizeof r->dtype, dtype);
    copy_str(r->note, sizeof r->note, note);
    r->n = n;
    r->workers = workers;
    r->med = med;
    r->min = min;
    r->reps = reps;
    r->inner = 1;
    r->elems = elems;
    r->other = -1;
}

void bench_record(const char *section, const struct bench_method *m, const char *dtype,
                  size_t n, int workers, double bytes, double elems, const char *note)
{
    bench_record_raw(section, m->name, dtype, n, workers, m->med, m->min, m->reps, elems, note);
    struct bench_result *r = &results[nresults - 1];
    r->inner = m->inner;
    r->bytes = bytes;
    r->other = m->other;
}

void bench_busy_summary(double *worst, double *mean, int *flagged, int *remeasured_out)
{
    double sum = 0;
    int cnt = 0;
    *worst = 0;
    *flagged = 0;
    for (int i = 0; i < nresults; i++) {
        if (results[i].other < 0)
            continue;
        sum += results[i].other;
        cnt++;
        if (results[i].other > *worst)
            *worst = results[i].other;
        if (results[i].other >= BENCH_BUSY_THRESHOLD)
            (*flagged)++;
    }
    *mean = cnt ? sum / cnt : 0;
    *remeasured_out = remeasured;
}

const struct bench_result *bench_find(const char *section, const char *method,
                                      const char *dtype, size_t n, int workers)
{
    for (int i = nresults - 1; i >= 0; i--) {
        const struct bench_result *r = &results[i];
        if (strcmp(r->section, section) == 0 && strcmp(r->method, method) == 0 &&
            (dtype == NULL || strcmp(r->dtype, dtype) == 0) && (n == 0 || r->n == n) &&
            (workers < 0 || r->workers == workers))
            return r;
    }
    return NULL;
}

const struct bench_result *bench_fastest(const char *section, const char *method,
                                         const char *dtype, size_t n)
{
    const struct bench_result *best = NULL;
    for (int i = 0; i < nresults; i++) {
        const struct bench_result *r = &results[i];
        if (strcmp(r->section, section) == 0 && strcmp(r->method, method) == 0 &&
            (dtype == NULL || strcmp(r->dtype, dtype) == 0) && (n == 0 || r->n == n) &&
            r->med > 0 && (best == NULL || r->med < best->med))
            best = r;
    }
    return best;
}

const struct bench_result *bench_results(int *count)
{
    *count = nresults;
    return results;
}
