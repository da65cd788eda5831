/*
 * report.c - the outputs of mproc-bench: a markdown report on stdout (absolute figures and
 * ratios to the peers of the same run) and a CSV with every figure (plots: plots.c).
 *
 * Ratios are "times faster": peer time / mproc time (or mproc throughput / peer
 * throughput), so a ratio above 1.00 means mproc was faster.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char fbuf[16][48];
static int fnext;

static char *next_buf(void)
{
    fnext = (fnext + 1) % 16;
    return fbuf[fnext];
}

/* A duration with a unit that keeps 3 significant digits. */
static const char *ftime(double s)
{
    char *b = next_buf();
    if (s <= 0)
        snprintf(b, 48, "-");
    else if (s < 1e-6)
        snprintf(b, 48, "%.0f ns", s * 1e9);
    else if (s < 1e-3)
        snprintf(b, 48, "%.3g us", s * 1e6);
    else if (s < 1)
        snprintf(b, 48, "%.3g ms", s * 1e3);
    else
        snprintf(b, 48, "%.3g s", s);
    return b;
}

static const char *frate(double per_s)
{
    char *b = next_buf();
    if (per_s <= 0)
        snprintf(b, 48, "-");
    else if (per_s >= 1e9)
        snprintf(b, 48, "%.2f G/s", per_s / 1e9);
    else if (per_s >= 1e6)
        snprintf(b, 48, "%.1f M/s", per_s / 1e6);
    else
        snprintf(b, 48, "%.0f k/s", per_s / 1e3);
    return b;
}

static const char *fgbps(const struct bench_result *r)
{
    char *b = next_buf();
    if (r == NULL || r->med <= 0 || r->bytes <= 0)
        snprintf(b, 48, "-");
    else
        snprintf(b, 48, "%.1f", r->bytes / r->med / 1e9);
    return b;
}

/* CPUs other processes used while the figure was taken; marked when above threshold */
static const char *fbusy(const struct bench_result *r)
{
    char *b = next_buf();
    if (r == NULL || r->other < 0)
        snprintf(b, 48, "?");
    else
        snprintf(b, 48, r->other >= BENCH_BUSY_THRESHOLD ? "**%.2f**" : "%.2f", r->other);
    return b;
}

/* How many times faster `a` is than `b` (b's time / a's time). */
static double faster(const struct bench_result *a, const struct bench_result *b)
{
    return a && b && a->med > 0 && b->med > 0 ? b->med / a->med : 0.0;
}

static const char *fratio(double x)
{
    char *b = next_buf();
    if (x <= 0)
        snprintf(b, 48, "-");
    else if (x >= 100)
        snprintf(b, 48, "%.0fx", x);
    else
        snprintf(b, 48, "%.2fx", x);
    return b;
}

static const char *fsize(size_t n)
{
    char *b = next_buf();
    int e = 0;
    size_t m = n;
    while (m >= 10 && m % 10 == 0) {
        m /= 10;
        e++;
    }
    if (m == 1 && e >= 3)
        snprintf(b, 48, "10^%d", e);
    else
        snprintf(b, 48, "%zu", n);
    return b;
}

static void print_machine(const struct machine_info *mi, double elapsed)
{
    printf("# mproc-bench\n\n");
    printf("- **Machine**: %s, %d online CPUs, %.1f GiB RAM, %s\n", mi->cpu, mi->ncpu,
           mi->mem_gib, mi->kernel);
    printf("- **Transparent huge pages**: anonymous `%s`, shmem `%s`\n", mi->thp, mi->shmem_thp);
    printf("- **Build**: %s, OpenMP %d, mproc %s\n", mi->compiler, omp_version(),
           mproc_version());
    printf("- **Run**: `%s`, %s, %.0f s; every figure is the median (min where shown) of %d "
           "timed repetitions after a warm-up, peers interleaved round-robin on the same "
           "array in one process\n",
           g_opt.cmdline, mi->date, elapsed, g_opt.reps);
    if (mi->nice != 0)
        printf("- **Priority**: this run had nice %d (workers inherit it)\n", mi->nice);
    printf("- **Load** (/proc/loadavg, which counts this harness's earlier work too) at start "
           "`%s`, at end `%s`\n",
           mi->load_start, mi->load_end);
    double worst, mean;
    int flagged, again;
    bench_busy_summary(&worst, &mean, &flagged, &again);
    printf("- **Other processes** used %.2f CPUs on average (worst %.2f) while groups were "
           "measured; %d group(s) re-measured because the machine was busy; %d figure(s) still "
           "taken with more than %.2f CPUs busy elsewhere (column `busy`)%s\n",
           mean, worst, again, flagged, BENCH_BUSY_THRESHOLD,
           flagged ? " - **treat those figures as noisy**" : "");
    printf("- **Checked**: every size's result of mproc (every worker count, both commit "
           "modes), OpenMP, pthreads and serial C against the serial C square, once before "
           "timing; the compute kernel bit for bit against serial C\n");
    printf("- **mproc pool counters** over the sweep pools: %llu maps, %llu worker deaths, "
           "%llu chunks retried, %llu failed\n",
           (unsigned long long)g_stats.maps, (unsigned long long)g_stats.worker_deaths,
           (unsigned long long)g_stats.chunks_retried, (unsigned long long)g_stats.chunks_failed);
    printf("- **Ratios** are *times faster* (peer time / mproc time): above 1.00x mproc "
           "wins\n\n");
}

/* ---------------------------------------------------------------- targets */

static void target_row(const char *what, const char *measured, int pass, const char *goal)
{
    printf("| %s | %s | %s | %s |\n", what, measured, goal,
           pass < 0 ? "n/a" : pass ? "PASS" : "**FAIL**");
}

static void print_targets(void)
{
    int wmax = g_opt.wlist[g_opt.nw - 1];
    char buf[128];
    printf("## Targets of issue 5, as measured in this run\n\n");
    printf("| target | measured | goal | status |\n|---|---|---|---|\n");
    for (int s = 0; s < g_opt.nsizes; s++) {
        size_t n = g_opt.sizes[s];
        if (n < 100000000)
            continue;
        const struct bench_result *m = bench_find("square", "mproc", "int32", n, wmax);
        const struct bench_result *o = bench_find("square", "openmp", "int32", n, wmax);
        const struct bench_result *l = bench_find("square", "limit", "int32", n, wmax);
        if (m == NULL)
            continue;
        double r = faster(m, o);
        snprintf(buf, sizeof buf, "square %s int32, %d workers: vs OpenMP", fsize(n), wmax);
        target_row(buf, fratio(r), r >= 1.0, ">= 1.00x");
        r = faster(m, l);
        snprintf(buf, sizeof buf, "square %s int32, %d workers: of bandwidth limit", fsize(n),
                 wmax);
        char pct[32];
        snprintf(pct, sizeof pct, "%.0f%%", 100 * r);
        target_row(buf, pct, r >= 0.90, ">= 90%");
    }
    const struct bench_result *df = bench_find("dispatch", "mproc-forced-4-chunks", NULL, 0, -1);
    const struct bench_result *dd = bench_find("dispatch", "mproc", NULL, 0, -1);
    const struct bench_result *dO = bench_find("dispatch", "openmp", NULL, 0, -1);
    if (df && dO) {
        snprintf(buf, sizeof buf, "%s (%.1fx OpenMP's %s)", ftime(df->med), df->med / dO->med,
                 ftime(dO->med));
        target_row("64-element map, forced to 4 chunks (dispatched)", buf,
                   df->med <= 2 * dO->med, "<= 2x OpenMP");
    }
    if (dd && dO) {
        snprintf(buf, sizeof buf, "%s (%.2fx OpenMP's)", ftime(dd->med), dd->med / dO->med);
        target_row("64-element map, default (1 chunk, inline)", buf, dd->med <= 2 * dO->med,
                   "<= 2x OpenMP");
    }
    const struct bench_result *cs = bench_fastest("compute", "serial", NULL, 0);
    const struct bench_result *cm = bench_find("compute", "mproc", NULL, 0, 2);
    if (cs && cm) {
        double r = faster(cm, cs);
        target_row("compute-bound kernel, 2 workers: speedup vs serial", fratio(r), r >= 1.9,
                   ">= 1.90x");
    }
    const struct bench_result *rt = bench_find("python", "mproc-task-apply-async-get", NULL, 0, -1);
    const struct bench_result *pa = bench_find("python", "python-apply-async-get", NULL, 0, -1);
    if (rt) {
        target_row("apply_async + get round trip (workers spinning)", ftime(rt->med),
                   rt->med < 10e-6, "< 10 us");
        if (pa) {
            double r = faster(rt, pa);
            target_row("apply_async + get vs Python's", fratio(r), r >= 30, ">= 30x");
        }
    }
    const struct bench_result *ma = bench_find("python", "mproc-array-square", NULL, 0, -1);
    const struct bench_result *pya = bench_find("python", "python-array-square", NULL, 0, -1);
    if (ma && pya) {
        double r = (ma->elems / ma->med) / (pya->elems / pya->med);
        snprintf(buf, sizeof buf, "%s (%s vs %s elements)", fratio(r), frate(ma->elems / ma->med),
                 frate(pya->elems / pya->med));
        target_row("seed's shared array squared in place vs Python 2-process pool", buf, r >= 300,
                   ">= 300x");
    }
    printf("\n");
}

/* ---------------------------------------------------------------- square */

static void print_square(const char *dtype, const size_t *sizes, int nsizes)
{
    size_t es = strcmp(dtype, "int32") == 0 ? 4 : 8;
    printf("## In-place square, %s: throughput in GB/s (2 x n x %zu bytes / median time)\n\n",
           dtype, es);
    printf("`limit` is OpenMP `a[i] += 1` on the same array (the memory-bandwidth limit at "
           "that size); `OpenMP own array` runs on a private malloc'd array instead of the "
           "shared one; `pthreads` keeps its threads and dispatches with barriers; `serial` is "
           "one core, measured in every group; the table shows (and speedups use) its fastest "
           "median at that n. `mproc` is mproc_square with the default, crash-safe exactly-once commit "
           "(built-in kernels save each block of an in-place chunk to a scratch area, then "
           "change it in place); "
           "`mproc direct` is a pool with MPROC_COMMIT_DIRECT (workers write in place).\n\n");
    printf("| n | workers | limit | serial | OpenMP | OpenMP own array | pthreads | mproc | mproc "
           "time (min) | mproc direct | mproc/OpenMP | mproc/limit | mproc/pthreads | "
           "direct/OpenMP | speedup vs serial | busy |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int s = 0; s < nsizes; s++) {
        size_t n = sizes[s];
        if (bench_find("skipped", "square", dtype, n, -1)) {
            printf("| %s | - | skipped: not enough memory |||||||||||\n", fsize(n));
            continue;
        }
        for (int i = 0; i < g_opt.nw; i++) {
            int w = g_opt.wlist[i];
            const struct bench_result *ser = bench_fastest("square", "serial", dtype, n);
            const struct bench_result *l = bench_find("square", "limit", dtype, n, w),
                                      *o = bench_find("square", "openmp", dtype, n, w),
                                      *op = bench_find("square", "openmp-own-array", dtype, n, w),
                                      *t = bench_find("square", "pthreads", dtype, n, w),
                                      *m = bench_find("square", "mproc", dtype, n, w),
                                      *md = bench_find("square", "mproc-direct", dtype, n, w);
            if (m == NULL)
                continue;
            char tm[64];
            snprintf(tm, sizeof tm, "%s (%s)", ftime(m->med), ftime(m->min));
            printf("| %s | %d | %s | %s | %s | %s | %s | **%s** | %s | %s | %s | %s | %s | %s | "
                   "%s | %s |\n",
                   fsize(n), w, fgbps(l), fgbps(ser), fgbps(o), fgbps(op), fgbps(t), fgbps(m),
                   tm, fgbps(md), fratio(faster(m, o)), fratio(faster(m, l)),
                   fratio(faster(m, t)), fratio(faster(md, o)), fratio(faster(m, ser)),
                   fbusy(m));
        }
    }
    printf("\n");
}

/* ---------------------------------------------------------------- dispatch */

static void print_dispatch(void)
{
    static const char *rows[] = {"serial", "openmp", "pthreads", "mproc", "mproc-forced-4-chunks",
                                 "openmp-after-idle", "pthreads-after-idle",
                                 "mproc-forced-after-idle"};
    const struct bench_result *o = bench_find("dispatch", "openmp", NULL, 0, -1);
    const struct bench_result *oc = bench_find("dispatch", "openmp-after-idle", NULL, 0, -1);
    printf("## Dispatch latency: in-place square of 64 int32\n\n");
    printf("Hot: calls back to back (the median of batches); after idle: single calls, each "
           "after 20 ms asleep (longer than libgomp's ~8 ms of spinning: every peer's threads "
           "sleep). `mproc` runs a one-chunk map inline in the caller; "
           "`mproc-forced-4-chunks` uses mproc_pool_set_chunk(pool, 16) so that 4 chunks are "
           "handed out to the workers.\n\n");
    printf("| method | workers | time per call | min | time / OpenMP's (same state) | busy | "
           "note |\n|---|---:|---:|---:|---:|---:|---|\n");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct bench_result *r = bench_find("dispatch", rows[i], NULL, 0, -1);
        if (r == NULL)
            continue;
        const struct bench_result *peer = strstr(rows[i], "idle") ? oc : o;
        char vs[48];
        snprintf(vs, sizeof vs, "%.2fx", peer && peer->med > 0 ? r->med / peer->med : 0.0);
        printf("| %s | %d | %s | %s | %s | %s | %s |\n", r->method, r->workers, ftime(r->med),
               ftime(r->min), vs, fbusy(r), r->note);
    }
    printf("\n");
}

/* ---------------------------------------------------------------- compute */

static void print_compute(void)
{
    const struct bench_result *s1 = bench_find("compute", "serial", NULL, 0, 1);
    if (s1 == NULL)
        return;
    printf("## Compute-bound kernel: %d logistic-map steps per float64 (%d flops/element), "
           "n = %zu, in place\n\n",
           COMPUTE_ITERS, COMPUTE_FLOPS_PER_ELEM, s1->n);
    printf("`serial` is measured in every group; speedups use its fastest median of the run, so "
           "that a moment when this VM ran slowly never inflates them.\n\n");
    printf("| workers | serial | OpenMP | speedup | pthreads | speedup | mproc | speedup | "
           "mproc direct | speedup | mproc GFLOP/s | mproc/OpenMP | busy |\n"
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < g_opt.nw; i++) {
        int w = g_opt.wlist[i];
        const struct bench_result *o = bench_find("compute", "openmp", NULL, 0, w),
                                  *t = bench_find("compute", "pthreads", NULL, 0, w),
                                  *m = bench_find("compute", "mproc", NULL, 0, w),
                                  *md = bench_find("compute", "mproc-direct", NULL, 0, w),
                                  *s = bench_fastest("compute", "serial", NULL, 0);
        if (m == NULL || s == NULL)
            continue;
        printf("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %s | %s |\n", w,
               ftime(s->med), ftime(o ? o->med : 0), fratio(faster(o, s)), ftime(t ? t->med : 0),
               fratio(faster(t, s)), ftime(m->med), fratio(faster(m, s)), ftime(md ? md->med : 0),
               fratio(faster(md, s)),
               (double)m->n * COMPUTE_FLOPS_PER_ELEM / m->med / 1e9, fratio(faster(m, o)),
               fbusy(m));
    }
    printf("\n");
}

/* ---------------------------------------------------------------- start-up and Python */

static void py_row(const char *job, double py, const struct bench_result *m, int rate,
                   const char *how)
{
    if (m == NULL || m->med <= 0)
        return;
    double mp = rate ? m->elems / m->med : m->med;
    const char *pys = py <= 0 ? "-" : rate ? frate(py) : ftime(py);
    double ratio = py <= 0 ? 0 : rate ? mp / py : py / mp;
    printf("| %s | %s | %s | %s | %s | %s |\n", job, pys, rate ? frate(mp) : ftime(mp),
           fratio(ratio), fbusy(m), how);
}

static void print_startup_python(void)
{
    printf("## Start-up\n\n| what | workers | median | min | busy | note |\n"
           "|---|---:|---:|---:|---:|---|\n");
    int count;
    const struct bench_result *all = bench_results(&count);
    for (int i = 0; i < count; i++)
        if (strcmp(all[i].section, "startup") == 0)
            printf("| %s | %d | %s | %s | %s | %s |\n", all[i].method, all[i].workers,
                   ftime(all[i].med), ftime(all[i].min), fbusy(&all[i]), all[i].note);
    printf("\n");

    const struct bench_result *ma = bench_find("python", "mproc-array-square", NULL, 0, -1);
    if (ma == NULL)
        return;
    printf("## mproc against Python's multiprocessing on the seed programs' jobs\n\n");
    if (g_py.ok)
        printf("Python %s, start method `%s`, a %d-process Pool started before timing (its "
               "start is the last row); mproc pools of 2 (tasks: 2 workers, the caller only "
               "submits, as in Python). Throughputs in elements per second; mproc/Python is "
               "times faster.\n\n",
               g_py.version, g_py.start_method, g_py.procs);
    else
        printf("Python peer not run: %s. mproc's figures alone.\n\n", g_py.error);
    printf("| job | Python | mproc | mproc/Python | busy | mproc side |\n"
           "|---|---:|---:|---:|---:|---|\n");
    double pa = g_py.ok ? g_py.array_n / g_py.array_med : 0;
    double pm = g_py.ok ? g_py.map_n / g_py.map_med : 0;
    double pap = g_py.ok ? g_py.apply_med : 0, pp = g_py.ok ? g_py.process_med : 0;
    double ppool = g_py.ok ? g_py.pool_med : 0;
    char job[160];
    snprintf(job, sizeof job, "shared Array('i', %s) squared in place", fsize(ma->n));
    py_row(job, pa, ma, 1, "mproc_square on an mproc array (Python: Pool.map over slices)");
    const struct bench_result *tm = bench_find("python", "mproc-task-map-square", NULL, 0, -1);
    if (tm) {
        snprintf(job, sizeof job, "Pool.map(square, range(%s))", fsize(tm->n));
        py_row(job, pm, tm, 1, "mproc_task_map: one int32 task per element");
    }
    py_row("... the same job as an array map", pm,
           bench_find("python", "mproc-map-square", NULL, 0, -1), 1,
           "mproc_map_op(SQUARE) from one array into another");
    py_row("apply_async(f, (x,)).get() round trip", pap,
           bench_find("python", "mproc-task-apply-async-get", NULL, 0, -1), 0,
           "mproc_task_apply_async + mproc_async_get, back to back");
    py_row("... mproc's workers asleep (20 ms idle)", pap,
           bench_find("python", "mproc-task-apply-async-get-after-idle", NULL, 0, -1), 0,
           "the same after 20 ms idle: futex wake-ups");
    py_row("... as a one-element array map", pap,
           bench_find("python", "mproc-1-element-map-by-worker", NULL, 0, -1), 0,
           "mproc_map on a caller_works=0 pool of 1 (a map, not a task)");
    py_row("Process(target=f).start(); join()", pp,
           bench_find("startup", "mproc_process_start+join", NULL, 0, -1), 0,
           "mproc_process_start + join + close");
    py_row("... against a bare fork + waitpid", pp, bench_find("startup", "fork+waitpid", NULL, 0, -1),
           0, "the floor for any Process API");
    py_row("Pool(2) start + close + join", ppool,
           bench_find("startup", "mproc_pool_create+destroy(2 forked)", NULL, 0, -1), 0,
           "mproc_pool_create (2 workers, caller_works=0) + destroy");
    printf("\n");
}

void report_markdown(const struct machine_info *mi, double elapsed_s)
{
    print_machine(mi, elapsed_s);
    print_targets();
    print_square("int32", g_opt.sizes, g_opt.nsizes);
    print_square("float64", g_opt.f64_sizes, g_opt.nf64);
    print_dispatch();
    print_compute();
    print_startup_python();
    fflush(stdout);
}

/* ---------------------------------------------------------------- CSV */

int report_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "section,method,dtype,n,workers,median_s,min_s,reps,calls_per_rep,gbps_median,"
               "gbps_best,elements_per_s_median,other_cpus_busy,note\n");
    int count;
    const struct bench_result *r = bench_results(&count);
    for (int i = 0; i < count; i++, r++) {
        double gb = r->bytes > 0 && r->med > 0 ? r->bytes / r->med / 1e9 : 0;
        double gbb = r->bytes > 0 && r->min > 0 ? r->bytes / r->min / 1e9 : 0;
        double eps = r->elems > 0 && r->med > 0 ? r->elems / r->med : 0;
        fprintf(f, "%s,%s,%s,%zu,%d,%.9g,%.9g,%d,%ld,%.4f,%.4f,%.6g,%.3f,\"", r->section,
                r->method, r->dtype, r->n, r->workers, r->med, r->min, r->reps, r->inner, gb, gbb,
                eps, r->other);
        for (const char *p = r->note; *p; p++)
            fputs(*p == '"' ? "\"\"" : "", f), fputc(*p, f);
        fputs("\"\n", f);
    }
    return fclose(f) == 0 ? 0 : -1;
}
