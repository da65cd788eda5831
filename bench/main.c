/*
 * main.c - mproc-bench: mproc against serial C, OpenMP, pthreads, the memory-bandwidth
 * limit and Python's multiprocessing, in one run (./dev bench [options]; see usage()).
 */
#include "bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

struct bench_opts g_opt;
mproc_pool_stats g_stats;

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fputs("mproc-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void bench_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("[bench] ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void bench_check(int rc, const char *what)
{
    if (rc != 0)
        bench_die("%s failed: %s (%d)", what, mproc_strerror(rc), rc);
}

static void usage(FILE *f)
{
    fputs("usage: mproc-bench [options]\n"
          "\n"
          "Measures mproc's in-place square against serial C, OpenMP, pthreads and the\n"
          "memory-bandwidth limit (OpenMP a[i] += 1), for n = 10^4 .. max-n int32 and every\n"
          "worker count 1..CPUs, plus float64; 64-element dispatch latency; a compute-bound\n"
          "kernel's scaling; pool and process start-up; and Python's multiprocessing on the\n"
          "seed programs' jobs. Prints a markdown report on stdout (progress on stderr),\n"
          "writes a CSV and, when gnuplot is on PATH, PNG plots.\n"
          "\n"
          "options:\n"
          "  --quick        small sizes (n <= 10^6), 3 repetitions: a smoke test\n"
          "  --full         n up to 10^9 int32 (4 GB of shared memory, 8 GB in all)\n"
          "  --max-n N      largest int32 n (default 10^8; 10^9 with --full)\n"
          "  --reps K       timed repetitions per figure (default 5, 3 with --quick)\n"
          "  --no-python    skip Python's multiprocessing\n"
          "  --no-plots     do not run gnuplot\n"
          "  --only LIST    only these sections, comma-separated: startup (pools,\n"
          "                 processes), dispatch, compute, int32, float64, python (mproc's\n"
          "                 tasks and maps beside Python's multiprocessing)\n"
          "  --out DIR      directory for the CSV and the plots (default bench-results)\n"
          "  --csv PATH     the CSV file (default DIR/results.csv)\n"
          "  -h, --help     this text\n",
          f);
}

static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end); /* accepts 1e9 as well as 1000000000 */
    if (errno || end == s || *end || v < 1 || v > 1e12)
        bench_die("bad number '%s'", s);
    return (size_t)v;
}

static void parse_args(int argc, char **argv)
{
    struct bench_opts *o = &g_opt;
    o->reps = 0;
    o->python = 1;
    o->plots = 1;
    o->out_dir = "bench-results";
    size_t len = 0;
    for (int i = 0; i < argc && len + 2 < sizeof o->cmdline; i++)
        len += (size_t)snprintf(o->cmdline + len, sizeof o->cmdline - len, "%s%s", i ? " " : "",
                                i == 0 ? "mproc-bench" : argv[i]);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--quick")) {
            o->quick = 1;
        } else if (!strcmp(a, "--full")) {
            o->full = 1;
        } else if (!strcmp(a, "--no-python")) {
            o->python = 0;
        } else if (!strcmp(a, "--no-plots")) {
            o->plots = 0;
        } else if (!strcmp(a, "--reps") || !strcmp(a, "--max-n") || !strcmp(a, "--out") ||
                   !strcmp(a, "--csv") || !strcmp(a, "--only")) {
            if (val == NULL)
                bench_die("%s needs a value", a);
            i++;
            if (!strcmp(a, "--reps")) {
                o->reps = (int)parse_size(val);
                if (o->reps > BENCH_MAX_REPS)
                    bench_die("--reps: at most %d", BENCH_MAX_REPS);
            } else if (!strcmp(a, "--max-n")) {
                o->max_n = parse_size(val);
            } else if (!strcmp(a, "--out")) {
                o->out_dir = val;
            } else if (!strcmp(a, "--only")) {
                o->only = val;
            } else {
                o->csv_path = val;
            }
        } else {
            usage(stderr);
            bench_die("unknown option '%s'", a);
        }
    }
}

static void plan(void)
{
    struct bench_opts *o = &g_opt;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->ncpu = ncpu < 1 ? 1 : (int)ncpu;
    /* worker counts: every count up to 8, then powers of two, and the CPU count */
    for (int w = 1; w <= o->ncpu && o->nw < BENCH_MAX_WCOUNTS - 1; w = w < 8 ? w + 1 : w * 2)
        o->wlist[o->nw++] = w;
    if (o->wlist[o->nw - 1] != o->ncpu)
        o->wlist[o->nw++] = o->ncpu;

    if (o->reps == 0)
        o->reps = o->quick ? 3 : 5;
    if (o->max_n == 0)
        o->max_n = o->quick ? 1000000 : o->full ? 1000000000 : 100000000;
    for (size_t n = 10000; n <= o->max_n && o->nsizes < BENCH_MAX_SIZES - 1; n *= 10)
        o->sizes[o->nsizes++] = n;
    if (o->nsizes == 0 || o->sizes[o->nsizes - 1] != o->max_n)
        o->sizes[o->nsizes++] = o->max_n;

    o->retries = o->quick ? 1 : 2;
    o->retry_budget_s = o->quick ? 3 : o->full ? 120 : 60;
    if (o->quick) {
        o->sample_s = 0.002;
        o->f64_sizes[o->nf64++] = o->max_n < 100000 ? o->max_n : 100000;
        o->compute_n = 1 << 13;
        o->dispatch_cold_samples = 10;
        o->py_array_n = 100000;
        o->py_map_n = 100000;
        o->py_apply_calls = 200;
    } else {
        o->sample_s = 0.02;
        o->f64_sizes[o->nf64++] = o->max_n < 1000000 ? o->max_n : 1000000;
        size_t big = o->max_n < 100000000 ? o->max_n : 100000000;
        if (big > 1000000)
            o->f64_sizes[o->nf64++] = big;
        o->compute_n = 1 << 18;
        o->dispatch_cold_samples = 100;
        o->py_array_n = 1000000;
        o->py_map_n = 1000000;
        o->py_apply_calls = 1000;
    }
}

static void read_first_line(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    out[0] = '\0';
    if (f == NULL)
        return;
    if (fgets(out, (int)size, f) == NULL)
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

static void machine(struct machine_info *mi)
{
    memset(mi, 0, sizeof *mi);
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(mi->cpu, sizeof mi->cpu, "unknown CPU");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p += 1 + (p[1] == ' ');
                p[strcspn(p, "\n")] = '\0';
                snprintf(mi->cpu, sizeof mi->cpu, "%s", p);
            }
            break;
        }
    }
    if (f)
        fclose(f);
    mi->ncpu = g_opt.ncpu;
    errno = 0;
    mi->nice = getpriority(PRIO_PROCESS, 0);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(mi->kernel, sizeof mi->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    read_first_line("/proc/loadavg", mi->load_start, sizeof mi->load_start);
    read_first_line("/sys/kernel/mm/transparent_hugepage/enabled", mi->thp, sizeof mi->thp);
    read_first_line("/sys/kernel/mm/transparent_hugepage/shmem_enabled", mi->shmem_thp,
                    sizeof mi->shmem_thp);
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    mi->mem_gib = (double)pages * (double)psz / 1073741824.0;
#ifdef __VERSION__
    snprintf(mi->compiler, sizeof mi->compiler, "gcc-compatible %s", __VERSION__);
#endif
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(mi->date, sizeof mi->date, "%Y-%m-%d %H:%M UTC", &tm);
}

static void mkdirs(const char *dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        bench_die("cannot create %s: %s", dir, strerror(errno));
}

/* Whether a section runs: all of them unless --only names some. */
static int want(const char *section)
{
    if (g_opt.only == NULL)
        return 1;
    size_t len = strlen(section);
    for (const char *p = g_opt.only; (p = strstr(p, section)) != NULL; p += len)
        if ((p == g_opt.only || p[-1] == ',') && (p[len] == '\0' || p[len] == ','))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    plan();
    double t0 = bench_now();
    struct machine_info mi;
    machine(&mi);
    mkdirs(g_opt.out_dir);
    char csv_default[4096];
    if (g_opt.csv_path == NULL) {
        snprintf(csv_default, sizeof csv_default, "%s/results.csv", g_opt.out_dir);
        g_opt.csv_path = csv_default;
    }
    bench_log("%s, %d CPUs, %s; mproc %s; %d reps", mi.cpu, mi.ncpu, mi.kernel, mproc_version(),
              g_opt.reps);

    /* start-up first, while this process is small (fork copies page tables) */
    if (want("startup")) {
        suite_startup();
        suite_process();
    }

    struct bench_pools pools;
    memset(&pools, 0, sizeof pools);
    for (int i = 0; i < g_opt.nw; i++) {
        mproc_pool_options o;
        mproc_pool_options_init(&o);
        o.workers = g_opt.wlist[i];
        bench_check(mproc_pool_create(&pools.pool[i], &o), "mproc_pool_create");
#if BENCH_HAVE_DIRECT
        o.commit_mode = MPROC_COMMIT_DIRECT;
        bench_check(mproc_pool_create(&pools.direct[i], &o), "mproc_pool_create");
#endif
        pools.tp[i] = tpool_create(g_opt.wlist[i]);
    }

    if (want("dispatch"))
        suite_dispatch(&pools);
    if (want("compute"))
        suite_compute(&pools);
    if (want("int32"))
        suite_square(&pools, MPROC_INT32, g_opt.sizes, g_opt.nsizes);
    if (want("float64"))
        suite_square(&pools, MPROC_FLOAT64, g_opt.f64_sizes, g_opt.nf64);
    if (want("python")) { /* mproc's side always; Python's when it is there */
        suite_python_mproc_side(&pools);
        suite_tasks();
    }
    if (g_opt.python && want("python")) {
        python_run(&g_py);
        if (!g_py.ok)
            bench_log("python peer: %s", g_py.error);
    } else {
        snprintf(g_py.error, sizeof g_py.error, "skipped (%s)",
                 g_opt.python ? "not in --only" : "--no-python");
    }

    for (int i = 0; i < g_opt.nw; i++) {
        for (int d = 0; d < 2; d++) {
            mproc_pool *pl = d ? pools.direct[i] : pools.pool[i];
            mproc_pool_stats st;
            if (pl && mproc_pool_get_stats(pl, &st) == 0) {
                g_stats.maps += st.maps;
                g_stats.worker_deaths += st.worker_deaths;
                g_stats.chunks_retried += st.chunks_retried;
                g_stats.chunks_failed += st.chunks_failed;
            }
        }
        bench_check(mproc_pool_destroy(pools.direct[i]), "mproc_pool_destroy");
        bench_check(mproc_pool_destroy(pools.pool[i]), "mproc_pool_destroy");
        tpool_destroy(pools.tp[i]);
    }

    read_first_line("/proc/loadavg", mi.load_end, sizeof mi.load_end);
    report_markdown(&mi, bench_now() - t0);
    if (report_csv(g_opt.csv_path) != 0)
        bench_die("cannot write %s", g_opt.csv_path);
    bench_log("CSV: %s", g_opt.csv_path);
    if (g_opt.plots)
        report_plots(g_opt.out_dir);
    return 0;
}
