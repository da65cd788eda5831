/*
 * tasks.c - mproc's Python-style API beside Python's: Pool tasks (apply_async + get,
 * map over many small tasks) on a pool whose caller does not work (Python's Pool(2)),
 * and Process start + join. Results go in the "python" and "startup" sections.
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

struct tctx {
    mproc_pool *pool;
    int32_t *args, *results;
    size_t n;
    int32_t x;
};

/* Python's `def square(x): return x * x` as a task: an int32 in, an int32 out. */
static int task_square(const void *arg, size_t arg_size, void *result, size_t *result_size)
{
    if (arg_size != sizeof(int32_t) || *result_size < sizeof(int32_t))
        return 1;
    int32_t x;
    memcpy(&x, arg, sizeof x);
    x = (int32_t)((uint32_t)x * (uint32_t)x);
    memcpy(result, &x, sizeof x);
    *result_size = sizeof x;
    return 0;
}

static void call_apply_async_get(void *c_)
{
    struct tctx *c = c_;
    mproc_async *a;
    int32_t r = 0;
    c->x = (c->x + 1) & 0x7fff; /* squares fit in int32 */
    bench_check(mproc_task_apply_async(c->pool, task_square, &c->x, sizeof c->x, NULL, &a),
                "mproc_task_apply_async");
    bench_check(mproc_async_get(a, -1, &r, sizeof r, NULL), "mproc_async_get");
    bench_check(mproc_async_free(a), "mproc_async_free");
    if (r != c->x * c->x)
        bench_die("WRONG RESULT: apply_async(square, %d) gave %d", (int)c->x, (int)r);
}

static void call_task_map(void *c_)
{
    struct tctx *c = c_;
    bench_check(mproc_task_map(c->pool, task_square, c->args, sizeof(int32_t), c->n, c->results,
                               sizeof(int32_t), NULL),
                "mproc_task_map");
}

static int process_noop(void *arg)
{
    (void)arg;
    return 0;
}

static void call_process(void *c_)
{
    (void)c_;
    mproc_process *p;
    int code = -1;
    bench_check(mproc_process_start(&p, process_noop, NULL, NULL), "mproc_process_start");
    bench_check(mproc_process_join(p, -1), "mproc_process_join");
    bench_check(mproc_process_exitcode(p, &code), "mproc_process_exitcode");
    bench_check(mproc_process_close(p), "mproc_process_close");
    if (code != 0)
        bench_die("mproc_process: exit code %d, expected 0", code);
}

void suite_process(void)
{
    struct bench_method m;
    memset(&m, 0, sizeof m);
    m.name = "mproc_process_start+join";
    m.call = call_process;
    bench_measure(&m, 1, g_opt.reps, g_opt.sample_s);
    bench_record("startup", &m, "", 0, 1, 0, 0, "fn returns 0; start, join, close");
}

void suite_tasks(void)
{
    int w2 = g_opt.ncpu < 2 ? 1 : 2;
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = w2; /* Python's Pool(2): two worker processes, the caller only submits */
    o.caller_works = 0;
    struct tctx c;
    memset(&c, 0, sizeof c);
    bench_check(mproc_pool_create(&c.pool, &o), "mproc_pool_create");

    c.n = g_opt.py_map_n;
    c.args = malloc(c.n * sizeof *c.args);
    c.results = malloc(c.n * sizeof *c.results);
    if (c.args == NULL || c.results == NULL)
        bench_die("out of memory");
    for (size_t i = 0; i < c.n; i++) {
        c.args[i] = (int32_t)i;
        c.results[i] = -1;
    }
    call_task_map(&c); /* check once: Pool.map(square, range(N)) */
    for (size_t i = 0; i < c.n; i++)
        if (c.results[i] != (int32_t)((uint32_t)i * (uint32_t)i))
            bench_die("WRONG RESULT: mproc_task_map square at index %zu", i);

    bench_log("mproc tasks: apply_async+get, map of %zu tasks, on a pool of %d", c.n, w2);
    struct bench_method m[2];
    memset(m, 0, sizeof m);
    m[0].name = "mproc-task-apply-async-get";
    m[0].call = call_apply_async_get;
    m[0].ctx = &c;
    m[1].name = "mproc-task-map-square";
    m[1].call = call_task_map;
    m[1].ctx = &c;
    bench_measure(m, 2, g_opt.reps, g_opt.sample_s);
    bench_record("python", &m[0], "int32", 1, w2, 0, 1,
                 "mproc_task_apply_async + mproc_async_get + free, workers spinning");
    bench_record("python", &m[1], "int32", c.n, w2, 0, (double)c.n,
                 "mproc_task_map, one int32 task per element, automatic chunksize");

    struct bench_method cold = m[0];
    cold.name = "mproc-task-apply-async-get-after-idle";
    bench_measure_cold(&cold, g_opt.dispatch_cold_samples, BENCH_COLD_IDLE_S);
    bench_record("python", &cold, "int32", 1, w2, 0, 1, "after idle: the workers sleep");

    bench_check(mproc_pool_destroy(c.pool), "mproc_pool_destroy");
    free(c.args);
    free(c.results);
}
