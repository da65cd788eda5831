/*
 * suites.c - the measured sections of mproc-bench. Every section runs its peers
 * round-robin on the same memory (an mproc shared array) in this one process, after
 * checking each method's result once against the serial C result.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- calls */

struct ctx {
    mproc_dtype dtype;
    void *data;   /* the mproc array's elements */
    void *priv;   /* a private malloc'd copy (OpenMP on its own memory) */
    size_t n;
    int w;
    mproc_pool *pool;
    mproc_array *arr, *arr2;
    struct tpool *tp;
    int pool_workers, pool_caller_works;
};

static void call_limit(void *c_)
{
    struct ctx *c = c_;
    if (c->dtype == MPROC_INT32)
        omp_inc_i32(c->data, c->n, c->w);
    else
        omp_inc_f64(c->data, c->n, c->w);
}

static void call_serial(void *c_)
{
    struct ctx *c = c_;
    if (c->dtype == MPROC_INT32)
        serial_square_i32(c->data, c->n);
    else
        serial_square_f64(c->data, c->n);
}

static void call_omp(void *c_)
{
    struct ctx *c = c_;
    if (c->dtype == MPROC_INT32)
        omp_square_i32(c->data, c->n, c->w);
    else
        omp_square_f64(c->data, c->n, c->w);
}

static void call_omp_priv(void *c_)
{
    struct ctx *c = c_;
    if (c->dtype == MPROC_INT32)
        omp_square_i32(c->priv, c->n, c->w);
    else
        omp_square_f64(c->priv, c->n, c->w);
}

static void call_pthreads(void *c_)
{
    struct ctx *c = c_;
    tpool_run(c->tp, c->dtype == MPROC_INT32 ? tp_square_i32 : tp_square_f64, c->data, c->n);
}

static void call_mproc(void *c_)
{
    struct ctx *c = c_;
    bench_check(mproc_square(c->pool, c->arr), "mproc_square");
}

static void call_mproc_oop(void *c_)
{
    struct ctx *c = c_;
    bench_check(mproc_map_op(c->pool, MPROC_OP_SQUARE, NULL, c->arr, c->arr2), "mproc_map_op");
}

static void call_serial_compute(void *c_)
{
    struct ctx *c = c_;
    serial_compute(c->data, c->n);
}

static void call_omp_compute(void *c_)
{
    struct ctx *c = c_;
    omp_compute(c->data, c->n, c->w);
}

static void call_tp_compute(void *c_)
{
    struct ctx *c = c_;
    tpool_run(c->tp, tp_compute, c->data, c->n);
}

static void call_mproc_compute(void *c_)
{
    struct ctx *c = c_;
    bench_check(mproc_map(c->pool, kernel_compute, NULL, 0, c->arr, c->arr), "mproc_map");
}

static void call_pool_cd(void *c_)
{
    struct ctx *c = c_;
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = c->pool_workers;
    o.caller_works = c->pool_caller_works;
    mproc_pool *p;
    bench_check(mproc_pool_create(&p, &o), "mproc_pool_create");
    bench_check(mproc_pool_destroy(p), "mproc_pool_destroy");
}

static void call_fork(void *c_)
{
    (void)c_;
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork failed");
    if (pid == 0)
        _exit(0);
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        bench_die("waitpid failed");
}

static struct bench_method method(const char *name, bench_call call, void *ctx)
{
    struct bench_method m;
    memset(&m, 0, sizeof m);
    m.name = name;
    m.call = call;
    m.ctx = ctx;
    return m;
}

/* An OpenMP method: its idle threads keep spinning after it (see bench.h). */
static struct bench_method omp_method(const char *name, bench_call call, void *ctx)
{
    struct bench_method m = method(name, call, ctx);
    m.pause_after = BENCH_OMP_PAUSE;
    return m;
}

static mproc_array *new_array(mproc_dtype dtype, size_t n)
{
    mproc_array *a;
    bench_check(mproc_array_create(&a, NULL, dtype, n), "mproc_array_create");
    return a;
}

static double mem_available_bytes(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib * 1024.0;
}

static int widx(int w)
{
    for (int i = 0; i < g_opt.nw; i++)
        if (g_opt.wlist[i] == w)
            return i;
    return g_opt.nw - 1;
}

/* ---------------------------------------------------------------- startup */

void suite_startup(void)
{
    struct ctx c[3];
    memset(c, 0, sizeof c);
    int wmax = g_opt.ncpu, w2 = g_opt.ncpu < 2 ? g_opt.ncpu : 2;
    c[0].pool_workers = wmax;
    c[0].pool_caller_works = 1;
    c[1].pool_workers = w2; /* Python's Pool(2): two forked workers */
    c[1].pool_caller_works = 0;
    struct bench_method m[3] = {
        method("mproc_pool_create+destroy", call_pool_cd, &c[0]),
        method("fork+waitpid", call_fork, NULL),
        method("mproc_pool_create+destroy(2 forked)", call_pool_cd, &c[1]),
    };
    bench_log("startup: pool create+destroy, fork+waitpid");
    bench_measure(m, 3, g_opt.reps, g_opt.sample_s);
    bench_record("startup", &m[0], "", 0, wmax, 0, 0, "default pool: forks workers - 1");
    bench_record("startup", &m[1], "", 0, 1, 0, 0, "the floor: bare fork, child _exit(0), waitpid");
    bench_record("startup", &m[2], "", 0, w2, 0, 0, "caller_works = 0: forks 2, as Pool(2)");
}

/* ---------------------------------------------------------------- dispatch */

static void call_mark(void *c_)
{
    struct ctx *c = c_;
    bench_check(mproc_map(c->pool, kernel_mark_pid, NULL, 0, c->arr, c->arr), "mproc_map");
}

/* Share of a forced-dispatch map's chunks that a worker (not the caller) ran. */
static double worker_share(struct ctx *c, int calls, double idle_s)
{
    int32_t *d = c->data, me = (int32_t)getpid();
    long by_workers = 0, total = 0;
    for (int i = 0; i < calls; i++) {
        if (idle_s > 0)
            bench_sleep(idle_s);
        call_mark(c);
        for (size_t k = 0; k < c->n; k += 16, total++)
            by_workers += d[k] != me;
    }
    return total ? (double)by_workers / (double)total : 0.0;
}

void suite_dispatch(struct bench_pools *p)
{
    const size_t n = 64;
    int wmax = g_opt.wlist[g_opt.nw - 1];
    mproc_array *a = new_array(MPROC_INT32, n);
    mproc_pool *forced;
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = wmax;
    bench_check(mproc_pool_create(&forced, &o), "mproc_pool_create");
    bench_check(mproc_pool_set_chunk(forced, 16), "mproc_pool_set_chunk");
    bench_check(mproc_pool_prepare(forced, a), "mproc_pool_prepare");
    bench_check(mproc_pool_prepare(p->pool[g_opt.nw - 1], a), "mproc_pool_prepare");

    struct ctx base = {.dtype = MPROC_INT32, .data = mproc_array_data(a), .n = n, .w = wmax,
                       .arr = a, .tp = p->tp[g_opt.nw - 1]};
    struct ctx cdef = base, cforced = base;
    cdef.pool = p->pool[g_opt.nw - 1];
    cforced.pool = forced;
    omp_fill_i32(base.data, n, 7);

    bench_log("dispatch: 64-element maps, hot (back to back)");
    struct bench_method m[5] = {
        method("serial", call_serial, &base),
        omp_method("openmp", call_omp, &base),
        method("pthreads", call_pthreads, &base),
        method("mproc", call_mproc, &cdef),
        method("mproc-forced-4-chunks", call_mproc, &cforced),
    };
    bench_measure(m, 5, g_opt.reps, g_opt.sample_s);
    const char *notes[5] = {"", "parallel for, libgomp spin-waits", "2 barrier waits per call",
                            "one chunk: runs inline in the caller", ""};
    char share_note[96];
    double share = worker_share(&cforced, 2000, 0);
    snprintf(share_note, sizeof share_note, "chunk 16: %.0f%% of chunks run by workers",
             100.0 * share);
    notes[4] = share_note;
    for (int k = 0; k < 5; k++)
        bench_record("dispatch", &m[k], "int32", n, k == 0 ? 1 : wmax, 0, (double)n, notes[k]);

    bench_log("dispatch: 64-element maps, cold (after %.0f ms idle)", BENCH_COLD_IDLE_S * 1e3);
    int samples = g_opt.dispatch_cold_samples;
    struct bench_method cold[3] = {
        omp_method("openmp-after-idle", call_omp, &base),
        method("pthreads-after-idle", call_pthreads, &base),
        method("mproc-forced-after-idle", call_mproc, &cforced),
    };
    for (int k = 0; k < 3; k++)
        bench_measure_cold(&cold[k], samples, BENCH_COLD_IDLE_S);
    double share_cold = worker_share(&cforced, samples < 40 ? samples : 40, BENCH_COLD_IDLE_S);
    snprintf(share_note, sizeof share_note, "chunk 16: %.0f%% of chunks run by workers",
             100.0 * share_cold);
    bench_record("dispatch", &cold[0], "int32", n, wmax, 0, (double)n, "threads asleep (futex)");
    bench_record("dispatch", &cold[1], "int32", n, wmax, 0, (double)n, "threads asleep (futex)");
    bench_record("dispatch", &cold[2], "int32", n, wmax, 0, (double)n, share_note);

    bench_check(mproc_pool_destroy(forced), "mproc_pool_destroy");
    bench_check(mproc_array_close(a), "mproc_array_close");
}

/* ---------------------------------------------------------------- compute scaling */

static void fill_compute(double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = 0.05 + 0.9 * (double)(i % 1000) / 1000.0;
}

void suite_compute(struct bench_pools *p)
{
    size_t n = g_opt.compute_n;
    mproc_array *a = new_array(MPROC_FLOAT64, n);
    double *d = mproc_array_data(a);
    double *ref = malloc(n * sizeof *ref);
    if (ref == NULL)
        bench_die("out of memory");
    fill_compute(ref, n);
    serial_compute(ref, n);
    for (int i = 0; i < g_opt.nw; i++)
        bench_check(mproc_pool_prepare(p->pool[i], a), "mproc_pool_prepare");
    for (int i = 0; i < g_opt.nw; i++)
        if (p->direct[i] != NULL)
            bench_check(mproc_pool_prepare(p->direct[i], a), "mproc_pool_prepare");

    /* check: every mproc worker count, OpenMP and pthreads at all cores, bit for bit */
    for (int i = 0; i <= g_opt.nw + 1; i++) {
        struct ctx c = {.dtype = MPROC_FLOAT64, .data = d, .n = n, .arr = a,
                        .w = g_opt.wlist[g_opt.nw - 1], .tp = p->tp[g_opt.nw - 1]};
        const char *who = "mproc";
        fill_compute(d, n);
        if (i < g_opt.nw) {
            c.pool = p->pool[i];
            call_mproc_compute(&c);
        } else if (i == g_opt.nw) {
            who = "openmp";
            call_omp_compute(&c);
        } else {
            who = "pthreads";
            call_tp_compute(&c);
        }
        if (memcmp(d, ref, n * sizeof *d) != 0)
            bench_die("compute kernel: %s result differs from the serial result (workers %d)",
                      who, i < g_opt.nw ? g_opt.wlist[i] : c.w);
    }
    for (int i = 0; i < g_opt.nw; i++) {
        if (p->direct[i] == NULL)
            continue;
        struct ctx c = {.dtype = MPROC_FLOAT64, .data = d, .n = n, .arr = a,
                        .pool = p->direct[i]};
        fill_compute(d, n);
        call_mproc_compute(&c);
        if (memcmp(d, ref, n * sizeof *d) != 0)
            bench_die("compute kernel: mproc (direct commit) result differs from the serial "
                      "result (workers %d)", g_opt.wlist[i]);
    }
    free(ref);
    fill_compute(d, n);

    for (int i = 0; i < g_opt.nw; i++) {
        int w = g_opt.wlist[i];
        bench_log("compute: n=%zu, %d worker(s)", n, w);
        struct ctx c = {.dtype = MPROC_FLOAT64, .data = d, .n = n, .w = w, .pool = p->pool[i],
                        .arr = a, .tp = p->tp[i]};
        struct ctx cd = c;
        cd.pool = p->direct[i];
        struct bench_method m[5];
        int count = 0;
        m[count++] = omp_method("openmp", call_omp_compute, &c);
        m[count++] = method("pthreads", call_tp_compute, &c);
        m[count++] = method("mproc", call_mproc_compute, &c);
        if (cd.pool != NULL)
            m[count++] = method("mproc-direct", call_mproc_compute, &cd);
        m[count++] = method("serial", call_serial_compute, &c); /* in every group */
        bench_measure(m, count, g_opt.reps, g_opt.sample_s);
        for (int k = 0; k < count; k++)
            bench_record("compute", &m[k], "float64", n, w, 0, (double)n,
                         strcmp(m[k].name, "serial") ? "" : "one core, in this group");
    }
    bench_check(mproc_array_close(a), "mproc_array_close");
}

/* ---------------------------------------------------------------- square sweep */

static void verify_once(struct ctx *c, bench_call call, const char *who, int w)
{
    size_t bad;
    if (c->dtype == MPROC_INT32) {
        omp_fill_i32(c->data, c->n, (uint32_t)w * 77u + 1u);
        call(c);
        bad = omp_check_square_i32(c->data, c->n, (uint32_t)w * 77u + 1u);
    } else {
        omp_fill_f64(c->data, c->n);
        call(c);
        bad = omp_check_square_f64(c->data, c->n);
    }
    if (bad != c->n)
        bench_die("WRONG RESULT: %s square of %zu %s with %d worker(s) differs from the serial "
                  "result at index %zu",
                  who, c->n, mproc_dtype_name(c->dtype), w, bad);
}

void suite_square(struct bench_pools *p, mproc_dtype dtype, const size_t *sizes, int nsizes)
{
    const char *dt = mproc_dtype_name(dtype);
    size_t es = mproc_dtype_size(dtype);
    int wmax = g_opt.wlist[g_opt.nw - 1];
    for (int s = 0; s < nsizes; s++) {
        size_t n = sizes[s];
        double need = 2.0 * (double)n * (double)es, avail = mem_available_bytes();
        if (avail > 0 && need > 0.85 * avail) {
            bench_log("square %s n=%zu: skipped, needs %.1f GiB, %.1f GiB available", dt, n,
                      need / 1073741824.0, avail / 1073741824.0);
            bench_record_raw("skipped", "square", dt, n, 0, 0, 0, 0, 0, "not enough memory");
            continue;
        }
        bench_log("square %s n=%zu: allocate, prepare, verify", dt, n);
        mproc_array *a = new_array(dtype, n);
        void *priv = NULL;
        if (posix_memalign(&priv, 4096, n * es) != 0)
            bench_die("out of memory for the private OpenMP array (%zu elements)", n);
        for (int i = 0; i < g_opt.nw; i++) {
            bench_check(mproc_pool_prepare(p->pool[i], a), "mproc_pool_prepare");
            if (p->direct[i] != NULL)
                bench_check(mproc_pool_prepare(p->direct[i], a), "mproc_pool_prepare");
        }

        struct ctx c = {.dtype = dtype, .data = mproc_array_data(a), .priv = priv, .n = n,
                        .arr = a};
        for (int i = 0; i < g_opt.nw; i++) { /* mproc at every worker count, both modes */
            c.pool = p->pool[i];
            verify_once(&c, call_mproc, "mproc", g_opt.wlist[i]);
            if ((c.pool = p->direct[i]) != NULL && g_opt.wlist[i] > 1)
                verify_once(&c, call_mproc, "mproc (direct commit)", g_opt.wlist[i]);
        }
        c.w = wmax;
        c.tp = p->tp[g_opt.nw - 1];
        verify_once(&c, call_serial, "serial", 1);
        verify_once(&c, call_omp, "openmp", wmax);
        verify_once(&c, call_pthreads, "pthreads", wmax);
        if (dtype == MPROC_FLOAT64) { /* values whose squares stay 0 or 1: no inf, no denormals */
            omp_fill_unit_f64(c.data, n);
            omp_fill_unit_f64(priv, n);
        } else {
            omp_fill_i32(priv, n, 3);
        }

        for (int i = 0; i < g_opt.nw; i++) {
            int w = g_opt.wlist[i];
            bench_log("square %s n=%zu: %d worker(s)", dt, n, w);
            struct ctx cw = c, cd;
            cw.w = w;
            cw.pool = p->pool[i];
            cw.tp = p->tp[i];
            cd = cw;
            cd.pool = p->direct[i];
            struct bench_method m[8];
            int count = 0;
            m[count++] = omp_method("limit", call_limit, &cw);
            m[count++] = omp_method("openmp", call_omp, &cw);
            m[count++] = omp_method("openmp-own-array", call_omp_priv, &cw);
            m[count++] = method("pthreads", call_pthreads, &cw);
            m[count++] = method("mproc", call_mproc, &cw);
            if (cd.pool != NULL && w > 1) /* with one worker nothing is forked: no commit */
                m[count++] = method("mproc-direct", call_mproc, &cd);
            /* serial in every group: speedups compare figures taken at the same time */
            m[count++] = method("serial", call_serial, &cw);
            bench_measure(m, count, g_opt.reps, g_opt.sample_s);
            for (int k = 0; k < count; k++)
                bench_record("square", &m[k], dt, n, w, 2.0 * (double)n * (double)es, (double)n,
                             strcmp(m[k].name, "serial") ? "" : "one core, in this group");
        }
        free(priv);
        bench_check(mproc_array_close(a), "mproc_array_close");
    }
}

/* ---------------------------------------------------------------- mproc beside Python */

void suite_python_mproc_side(struct bench_pools *p)
{
    int w2 = g_opt.ncpu < 2 ? g_opt.ncpu : 2, i2 = widx(w2);
    mproc_pool *pool = p->pool[i2];
    w2 = g_opt.wlist[i2];

    /* the seed's shared Array('i') squared in place */
    size_t na = g_opt.py_array_n;
    mproc_array *a = new_array(MPROC_INT32, na);
    bench_check(mproc_pool_prepare(pool, a), "mproc_pool_prepare");
    struct ctx ca = {.dtype = MPROC_INT32, .data = mproc_array_data(a), .n = na, .w = w2,
                     .pool = pool, .arr = a};
    verify_once(&ca, call_mproc, "mproc", w2);

    /* Pool.map(square, range(N)): out of place, src -> dst */
    size_t nm = g_opt.py_map_n;
    mproc_array *src = new_array(MPROC_INT32, nm), *dst = new_array(MPROC_INT32, nm);
    bench_check(mproc_pool_prepare(pool, src), "mproc_pool_prepare");
    bench_check(mproc_pool_prepare(pool, dst), "mproc_pool_prepare");
    int32_t *s = mproc_array_data(src);
    for (size_t i = 0; i < nm; i++)
        s[i] = (int32_t)i;
    struct ctx cm = {.dtype = MPROC_INT32, .n = nm, .w = w2, .pool = pool, .arr = src,
                     .arr2 = dst};
    call_mproc_oop(&cm);
    const int32_t *dd = mproc_array_data(dst);
    for (size_t i = 0; i < nm; i++)
        if (dd[i] != (int32_t)((uint32_t)i * (uint32_t)i))
            bench_die("WRONG RESULT: mproc out-of-place square at index %zu", i);

    /* A round trip through a map: a one-element map on a pool whose caller does not
     * work, so that a worker process must run it (tasks.c measures apply_async) */
    mproc_pool *rt;
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 1;
    o.caller_works = 0;
    bench_check(mproc_pool_create(&rt, &o), "mproc_pool_create");
    mproc_array *one = new_array(MPROC_INT32, 1);
    bench_check(mproc_pool_prepare(rt, one), "mproc_pool_prepare");
    struct ctx cr = {.dtype = MPROC_INT32, .data = mproc_array_data(one), .n = 1, .w = 1,
                     .pool = rt, .arr = one};
    cr.arr = one;
    ((int32_t *)cr.data)[0] = 0;
    call_mark(&cr);
    if (((int32_t *)cr.data)[0] == (int32_t)getpid() || ((int32_t *)cr.data)[0] == 0)
        bench_die("round trip: the one-element map did not run in a worker");

    bench_log("mproc beside Python: Array square n=%zu, map n=%zu, round trip", na, nm);
    struct bench_method m[3] = {
        method("mproc-array-square", call_mproc, &ca),
        method("mproc-map-square", call_mproc_oop, &cm),
        method("mproc-1-element-map-by-worker", call_mproc, &cr),
    };
    bench_measure(m, 3, g_opt.reps, g_opt.sample_s);
    bench_record("python", &m[0], "int32", na, w2, 8.0 * (double)na, (double)na, "in place");
    bench_record("python", &m[1], "int32", nm, w2, 8.0 * (double)nm, (double)nm, "src -> dst");
    bench_record("python", &m[2], "int32", 1, 1, 0, 1,
                 "caller_works=0 pool of 1: a worker runs it");
    struct bench_method cold = method("mproc-1-element-map-by-worker-after-idle", call_mproc, &cr);
    bench_measure_cold(&cold, g_opt.dispatch_cold_samples, BENCH_COLD_IDLE_S);
    bench_record("python", &cold, "int32", 1, 1, 0, 1, "after idle: the worker sleeps");

    bench_check(mproc_pool_destroy(rt), "mproc_pool_destroy");
    bench_check(mproc_array_close(one), "mproc_array_close");
    bench_check(mproc_array_close(a), "mproc_array_close");
    bench_check(mproc_array_close(src), "mproc_array_close");
    bench_check(mproc_array_close(dst), "mproc_array_close");
}
