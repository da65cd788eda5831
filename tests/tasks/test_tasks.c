/*
 * test_tasks.c - Pool tasks, mirroring CPython's test_multiprocessing pool tests: apply,
 * map, starmap and their async forms with and without callbacks, timeouts on get, imap
 * order, imap_unordered completeness, empty inputs, errors inside tasks (the worker
 * survives), fail-fast, size limits, invalid arguments, close / join, maps and tasks on
 * the same pool, several submitting threads, more workers than CPUs, and a pool without
 * forked workers.
 * Crashes, terminate and maxtasksperchild are in test_tasks_crash.c.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "task_fns.h"

#define BAD_ASYNC ((mproc_async *)(uintptr_t)0x1)

static void check_squares(const int64_t *ys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(ys[i] == (int64_t)(i * i), "result %zu = %lld, expected %zu", i,
                      (long long)ys[i], i * i);
}

static int64_t *range64(size_t n)
{
    int64_t *xs = malloc((n ? n : 1) * sizeof *xs);
    ck_assert_ptr_nonnull(xs);
    for (size_t i = 0; i < n; i++)
        xs[i] = (int64_t)i;
    return xs;
}

/* ---- apply, map, starmap ----------------------------------------------------------------- */

START_TEST(test_apply)
{
    mproc_pool *p = tf_pool(2);
    int64_t x = 5, y = 0;
    size_t size = 0;
    tu_assert_rc(mproc_task_apply(p, tf_sqr, &x, sizeof x, &y, sizeof y, &size), 0);
    ck_assert_int_eq(y, 25);
    ck_assert_uint_eq(size, 8);
    /* a result capacity of 0 only learns the outcome */
    tu_assert_rc(mproc_task_apply(p, tf_sleep, &(int32_t){1}, 4, NULL, 0, NULL), 0);
    /* echo of every size class, up to the limits */
    static char in[MPROC_TASK_ARG_MAX], out[MPROC_TASK_RESULT_MAX];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (char)(i * 7 + 3);
    const size_t sizes[] = {0, 1, 15, 16, 17, 64, 65, 4095, 4096, 4097, MPROC_TASK_ARG_MAX};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        memset(out, 0, sizeof out);
        size = 12345;
        tu_assert_rc(mproc_task_apply(p, tf_echo, in, sizes[k], out, sizeof out, &size), 0);
        ck_assert_uint_eq(size, sizes[k]);
        ck_assert_msg(memcmp(in, out, sizes[k]) == 0, "echo of %zu bytes differs", sizes[k]);
    }
    /* the task runs in a worker, not in the caller */
    int32_t pid = 0;
    tu_assert_rc(mproc_task_apply(p, tf_pid, NULL, 0, &pid, sizeof pid, NULL), 0);
    ck_assert_int_ne(pid, getpid());
    pid_t pids[2];
    ck_assert_int_eq(mproc_pool_worker_pids(p, pids, 2), 2);
    ck_assert(pid == pids[0] || pid == pids[1]);
    tf_destroy(p);
}
END_TEST

START_TEST(test_map)
{
    mproc_pool *p = tf_pool(3);
    const size_t n = 1000;
    int64_t *xs = range64(n), *ys = malloc(n * sizeof *ys);
    const size_t chunks[] = {0, 1, 2, 7, 64, 999, 1000, 5000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        memset(ys, 0xff, n * sizeof *ys);
        mproc_task_options o;
        mproc_task_options_init(&o);
        o.chunksize = chunks[k];
        tu_assert_rc(mproc_task_map(p, tf_sqr, xs, 8, n, ys, 8, &o), 0);
        check_squares(ys, n);
    }
    /* a larger result slot than the results: bytes after each result stay as they were */
    int64_t wide[20][2];
    memset(wide, 0x11, sizeof wide);
    tu_assert_rc(mproc_task_map(p, tf_sqr, xs, 8, 20, wide, 16, NULL), 0);
    for (size_t i = 0; i < 20; i++) {
        ck_assert_int_eq(wide[i][0], (int64_t)(i * i));
        ck_assert_int_eq(wide[i][1], 0x1111111111111111LL);
    }
    /* tasks without arguments or results */
    int32_t pids[50];
    tu_assert_rc(mproc_task_map(p, tf_pid, NULL, 0, 50, pids, 4, NULL), 0);
    for (int i = 0; i < 50; i++)
        ck_assert_int_ne(pids[i], getpid());
    tu_assert_rc(mproc_task_map(p, tf_sleep, &(int32_t[]){0, 0, 0}, 4, 3, NULL, 0, NULL), 0);
    free(xs);
    free(ys);
    tf_destroy(p);
}
END_TEST

START_TEST(test_starmap)
{
    mproc_pool *p = tf_pool(2);
    const size_t n = 300;
    int64_t *a = range64(n), *b = range64(n), *out = calloc(n, 8);
    for (size_t i = 0; i < n; i++)
        b[i] = 3 * (int64_t)i - 7;
    const void *cols[2] = {a, b};
    const size_t sizes[2] = {8, 8};
    tu_assert_rc(mproc_task_starmap(p, tf_mul, 2, cols, sizes, n, out, 8, NULL), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(out[i], a[i] * b[i]);
    /* three string columns of different widths: each argument 16-byte aligned */
    char c1[4][3] = {"a", "bb", "cc", "d"}, c2[4][5] = {"x", "yyyy", "z", "w"};
    char c3[4][17] = {"one", "two", "sixteen-chars-xx", ""};
    const void *scols[3] = {c1, c2, c3};
    const size_t ssizes[3] = {3, 5, 17};
    char joined[4][32];
    mproc_async *as = NULL;
    tu_assert_rc(mproc_task_starmap_async(p, tf_join3, 3, scols, ssizes, 4, joined, 32, NULL,
                                          &as),
                 0);
    tu_assert_rc(mproc_async_get(as, 5000, NULL, 0, NULL), 0);
    ck_assert_str_eq(joined[0], "a-x-one");
    ck_assert_str_eq(joined[1], "bb-yyyy-two");
    ck_assert_str_eq(joined[2], "cc-z-sixteen-chars-xx");
    ck_assert_str_eq(joined[3], "d-w-");
    tu_assert_rc(mproc_async_free(as), 0);
    free(a);
    free(b);
    free(out);
    tf_destroy(p);
}
END_TEST

/* ---- async results, callbacks, timeouts ---------------------------------------------------- */

struct cb_record {
    pthread_mutex_t m;
    int calls, errors;
    pthread_t thread;
    int64_t first_value;
    size_t size;
    mproc_task_failure failure;
    mproc_pool *pool;   /* for callbacks that call back into the pool */
    int nested_rc, get_rc;
};

static void on_ok(void *user, const void *result, size_t size)
{
    struct cb_record *r = user;
    pthread_mutex_lock(&r->m);
    r->calls++;
    r->thread = pthread_self();
    r->size = size;
    if (result != NULL && size >= 8)
        memcpy(&r->first_value, result, 8);
    pthread_mutex_unlock(&r->m);
}

static void on_error(void *user, const mproc_task_failure *f)
{
    struct cb_record *r = user;
    pthread_mutex_lock(&r->m);
    r->errors++;
    r->thread = pthread_self();
    r->failure = *f;
    pthread_mutex_unlock(&r->m);
}

START_TEST(test_async_and_callbacks)
{
    mproc_pool *p = tf_pool(2);
    struct cb_record rec = {.m = PTHREAD_MUTEX_INITIALIZER};
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.callback = on_ok;
    o.error_callback = on_error;
    o.user = &rec;
    /* apply_async: get waits; the callback ran before get returns, on another thread */
    tf_sleep_arg sa = {.x = 7, .ms = 200};
    mproc_async *a = BAD_ASYNC;
    double t0 = tu_now();
    tu_assert_rc(mproc_task_apply_async(p, tf_sqr_sleep, &sa, sizeof sa, &o, &a), 0);
    ck_assert_msg(tu_now() - t0 < 0.1, "apply_async blocked");
    ck_assert_int_eq(mproc_async_ready(a), 0);
    tu_assert_rc(mproc_async_successful(a), MPROC_ESTATE);
    int64_t y = 0;
    size_t size = 0;
    tu_assert_rc(mproc_async_get(a, -1, &y, sizeof y, &size), 0);
    double took = tu_now() - t0;
    ck_assert_msg(took > 0.15 && took < 2.0, "get took %.3f s for a 0.2 s task", took);
    ck_assert_int_eq(y, 49);
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_int_eq(rec.errors, 0);
    ck_assert_int_eq(rec.first_value, 49);
    ck_assert_uint_eq(rec.size, 8);
    ck_assert(!pthread_equal(rec.thread, pthread_self()));
    ck_assert_int_eq(mproc_async_ready(a), 1);
    ck_assert_int_eq(mproc_async_successful(a), 1);
    tu_assert_rc(mproc_async_wait(a, 0), 0);
    /* get again, and with too small a buffer */
    tu_assert_rc(mproc_async_get(a, 0, &y, sizeof y, NULL), 0);
    int32_t small;
    size = 0;
    tu_assert_rc(mproc_async_get(a, 0, &small, sizeof small, &size), MPROC_ETOOBIG);
    ck_assert_uint_eq(size, 8);
    mproc_task_failure f;
    tu_assert_rc(mproc_async_failure(a, &f), MPROC_ENOENT);
    tu_assert_rc(mproc_async_free(a), 0);

    /* map_async: the callback gets the results buffer */
    const size_t n = 100;
    int64_t *xs = range64(n), *ys = calloc(n, 8);
    memset(&rec.failure, 0, sizeof rec.failure);
    rec.calls = 0;
    tu_assert_rc(mproc_task_map_async(p, tf_sqr, xs, 8, n, ys, 8, &o, &a), 0);
    tu_assert_rc(mproc_async_wait(a, -1), 0);
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_uint_eq(rec.size, n * 8);
    check_squares(ys, n);
    tu_assert_rc(mproc_async_get(a, 0, NULL, 0, NULL), 0);
    tu_assert_rc(mproc_async_get(a, 0, ys, 8, NULL), MPROC_EINVAL); /* results are in place */
    mproc_async_free(a);

    /* an error: the error callback, once, with the failure */
    int32_t bad = 9;
    tu_assert_rc(mproc_task_apply_async(p, tf_fail3, &bad, 4, &o, &a), 0);
    tu_assert_rc(mproc_async_get(a, -1, NULL, 0, NULL), MPROC_ETASK);
    ck_assert_int_eq(rec.errors, 1);
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_int_eq(rec.failure.error, MPROC_ETASK);
    ck_assert_int_eq(rec.failure.code, 109);
    ck_assert_str_eq(rec.failure.message, "bad input 9");
    ck_assert_int_eq(mproc_async_successful(a), 0);
    mproc_async_free(a);

    /* fire and forget: the callback still runs; join waits for it */
    rec.calls = 0;
    for (int i = 0; i < 20; i++) {
        tu_assert_rc(mproc_task_apply_async(p, tf_sqr, &(int64_t){i}, 8, &o, &a), 0);
        tu_assert_rc(mproc_async_free(a), 0);
    }
    tu_assert_rc(mproc_pool_close(p), 0);
    tu_assert_rc(mproc_pool_join(p), 0);
    ck_assert_int_eq(rec.calls, 20);
    free(xs);
    free(ys);
    tf_destroy(p);
}
END_TEST

/* A callback that calls into the pool: get must refuse, a new submission must work. */
static void nested_cb(void *user, const void *result, size_t size)
{
    (void)result;
    (void)size;
    struct cb_record *r = user;
    mproc_async *inner = NULL;
    r->nested_rc = mproc_task_apply_async(r->pool, tf_sqr, &(int64_t){3}, 8, NULL, &inner);
    if (inner != NULL) {
        r->get_rc = mproc_async_get(inner, 1000, NULL, 0, NULL);
        mproc_async_free(inner);
    }
    int64_t y;
    int rc = mproc_task_apply(r->pool, tf_sqr, &(int64_t){3}, 8, &y, 8, NULL);
    r->calls = rc == MPROC_ESTATE ? 1 : -1;
    r->errors = mproc_pool_join(r->pool) == MPROC_ESTATE ? 0 : -1;
}

START_TEST(test_callback_calls_pool)
{
    mproc_pool *p = tf_pool(2);
    struct cb_record rec = {.m = PTHREAD_MUTEX_INITIALIZER, .pool = p, .get_rc = 1};
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.callback = nested_cb;
    o.user = &rec;
    mproc_async *a;
    tu_assert_rc(mproc_task_apply_async(p, tf_sqr, &(int64_t){2}, 8, &o, &a), 0);
    tu_assert_rc(mproc_async_get(a, 5000, NULL, 0, NULL), 0);
    tu_assert_rc(rec.nested_rc, 0);
    ck_assert_msg(rec.get_rc == MPROC_ESTATE || rec.get_rc == 0, "get in callback: %s",
                  tu_errname(rec.get_rc));
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_int_eq(rec.errors, 0);
    mproc_async_free(a);
    tf_destroy(p);
}
END_TEST

START_TEST(test_get_timeout)
{
    mproc_pool *p = tf_pool(1);
    tf_sleep_arg sa = {.x = 6, .ms = 600};
    mproc_async *a;
    tu_assert_rc(mproc_task_apply_async(p, tf_sqr_sleep, &sa, sizeof sa, NULL, &a), 0);
    double t0 = tu_now();
    int64_t y = 0;
    tu_assert_rc(mproc_async_get(a, 150, &y, 8, NULL), MPROC_ETIMEDOUT);
    double took = tu_now() - t0;
    ck_assert_msg(took >= 0.14 && took < 0.5, "get(150 ms) took %.3f s", took);
    tu_assert_rc(mproc_async_wait(a, 0), MPROC_ETIMEDOUT);
    tu_assert_rc(mproc_async_get(a, 0, &y, 8, NULL), MPROC_ETIMEDOUT);
    ck_assert_int_eq(mproc_async_ready(a), 0);
    tu_assert_rc(mproc_async_wait(a, 5000), 0);
    tu_assert_rc(mproc_async_get(a, 0, &y, 8, NULL), 0);
    ck_assert_int_eq(y, 36);
    mproc_async_free(a);
    tf_destroy(p);
}
END_TEST

/* ---- imap ------------------------------------------------------------------------------------ */

START_TEST(test_imap)
{
    mproc_pool *p = tf_pool(3);
    const size_t n = 200;
    int64_t *xs = range64(n);
    const size_t chunks[] = {0, 1, 3, 50, 1000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        mproc_task_options o;
        mproc_task_options_init(&o);
        o.chunksize = chunks[k];
        mproc_async *it = NULL;
        tu_assert_rc(mproc_task_imap(p, tf_sqr, xs, 8, n, 8, &o, &it), 0);
        for (size_t i = 0; i < n; i++) {
            int64_t y = -1;
            size_t idx = 9999, size = 0;
            tu_assert_rc(mproc_imap_next(it, 5000, &y, sizeof y, &size, &idx), 0);
            ck_assert_uint_eq(idx, i);
            ck_assert_uint_eq(size, 8);
            ck_assert_int_eq(y, (int64_t)(i * i));
        }
        tu_assert_rc(mproc_imap_next(it, 0, NULL, 0, NULL, NULL), MPROC_EEXHAUSTED);
        tu_assert_rc(mproc_imap_next(it, -1, NULL, 0, NULL, NULL), MPROC_EEXHAUSTED);
        tu_assert_rc(mproc_async_get(it, 0, NULL, 0, NULL), 0);
        tu_assert_rc(mproc_async_free(it), 0);
    }
    /* next with a timeout on a slow first task; the rest come in order after it */
    tf_sleep_arg sl[3] = {{.x = 1, .ms = 400}, {.x = 2}, {.x = 3}};
    mproc_async *it;
    tu_assert_rc(mproc_task_imap(p, tf_sqr_sleep, sl, sizeof sl[0], 3, 8, NULL, &it), 0);
    int64_t y;
    double t0 = tu_now();
    tu_assert_rc(mproc_imap_next(it, 100, &y, 8, NULL, NULL), MPROC_ETIMEDOUT);
    ck_assert_msg(tu_now() - t0 < 0.35, "next(100 ms) took %.3f s", tu_now() - t0);
    size_t idx;
    for (int64_t want = 1; want <= 3; want++) {
        tu_assert_rc(mproc_imap_next(it, -1, &y, 8, NULL, &idx), 0);
        ck_assert_int_eq(y, want * want);
        ck_assert_uint_eq(idx, (size_t)(want - 1));
    }
    mproc_async_free(it);
    /* results of varying size, and a buffer too small (nothing consumed) */
    uint32_t lens[5] = {0, 1, 100, 5000, MPROC_TASK_RESULT_MAX};
    tu_assert_rc(mproc_task_imap(p, tf_fill, lens, 4, 5, MPROC_TASK_RESULT_MAX, NULL, &it), 0);
    static unsigned char buf[MPROC_TASK_RESULT_MAX];
    for (size_t i = 0; i < 5; i++) {
        size_t size = 0;
        if (lens[i] > 10) {
            tu_assert_rc(mproc_imap_next(it, -1, buf, 10, &size, &idx), MPROC_ETOOBIG);
            ck_assert_uint_eq(size, lens[i]);
        }
        tu_assert_rc(mproc_imap_next(it, -1, buf, sizeof buf, &size, &idx), 0);
        ck_assert_uint_eq(idx, i);
        ck_assert_uint_eq(size, lens[i]);
        for (size_t j = 0; j < size; j++)
            ck_assert_uint_eq(buf[j], lens[i] & 0xff);
    }
    mproc_async_free(it);
    free(xs);
    tf_destroy(p);
}
END_TEST

START_TEST(test_imap_unordered)
{
    mproc_pool *p = tf_pool(3);
    const size_t n = 300;
    tf_sleep_arg *sl = calloc(n, sizeof *sl);
    for (size_t i = 0; i < n; i++) {
        sl[i].x = (int64_t)i;
        sl[i].ms = (int32_t)(i % 7 == 0 ? 3 : 0); /* some finish late */
    }
    const size_t chunks[] = {0, 1, 4, 500};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        mproc_task_options o;
        mproc_task_options_init(&o);
        o.chunksize = chunks[k];
        mproc_async *it;
        tu_assert_rc(mproc_task_imap_unordered(p, tf_sqr_sleep, sl, sizeof *sl, n, 8, &o, &it),
                     0);
        char *seen = calloc(n, 1);
        for (size_t i = 0; i < n; i++) {
            int64_t y;
            size_t idx = n;
            tu_assert_rc(mproc_imap_next(it, 10000, &y, 8, NULL, &idx), 0);
            ck_assert_uint_lt(idx, n);
            ck_assert_msg(!seen[idx], "index %zu returned twice", idx);
            seen[idx] = 1;
            ck_assert_int_eq(y, (int64_t)(idx * idx));
        }
        tu_assert_rc(mproc_imap_next(it, 0, NULL, 0, NULL, NULL), MPROC_EEXHAUSTED);
        free(seen);
        mproc_async_free(it);
    }
    free(sl);
    tf_destroy(p);
}
END_TEST

START_TEST(test_empty_inputs)
{
    mproc_pool *p = tf_pool(2);
    struct cb_record rec = {.m = PTHREAD_MUTEX_INITIALIZER};
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.callback = on_ok;
    o.user = &rec;
    tu_assert_rc(mproc_task_map(p, tf_sqr, NULL, 8, 0, NULL, 8, NULL), 0);
    int64_t dummy;
    tu_assert_rc(mproc_task_map(p, tf_sqr, &dummy, 8, 0, &dummy, 8, NULL), 0);
    const void *cols[1] = {NULL};
    const size_t sizes[1] = {8};
    tu_assert_rc(mproc_task_starmap(p, tf_mul, 1, cols, sizes, 0, NULL, 8, NULL), 0);
    mproc_async *a;
    tu_assert_rc(mproc_task_map_async(p, tf_sqr, NULL, 8, 0, NULL, 8, &o, &a), 0);
    tu_assert_rc(mproc_async_get(a, 1000, NULL, 0, NULL), 0);
    ck_assert_int_eq(rec.calls, 1); /* every async gets its one callback */
    ck_assert_int_eq(mproc_async_successful(a), 1);
    mproc_async_free(a);
    tu_assert_rc(mproc_task_imap(p, tf_sqr, NULL, 8, 0, 8, NULL, &a), 0);
    tu_assert_rc(mproc_imap_next(a, -1, NULL, 0, NULL, NULL), MPROC_EEXHAUSTED);
    mproc_async_free(a);
    tu_assert_rc(mproc_task_imap_unordered(p, tf_sqr, NULL, 8, 0, 8, NULL, &a), 0);
    tu_assert_rc(mproc_imap_next(a, -1, NULL, 0, NULL, NULL), MPROC_EEXHAUSTED);
    mproc_async_free(a);
    tf_destroy(p);
}
END_TEST

/* ---- errors inside tasks ------------------------------------------------------------------- */

START_TEST(test_task_errors)
{
    mproc_pool *p = tf_pool(2);
    pid_t before[2], after[2];
    tf_wait_workers(p, before, 2);
    const size_t n = 100;
    int32_t *xs = malloc(n * 4), *ys = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        xs[i] = (int32_t)i + 1; /* fails at 3, 6, 9, ... */
    const size_t chunks[] = {1, 5, 0};
    for (size_t k = 0; k < 3; k++) {
        memset(ys, 0, n * 4);
        mproc_task_options o;
        mproc_task_options_init(&o);
        o.chunksize = chunks[k];
        mproc_async *a;
        tu_assert_rc(mproc_task_map_async(p, tf_fail3, xs, 4, n, ys, 4, &o, &a), 0);
        tu_assert_rc(mproc_async_get(a, -1, NULL, 0, NULL), MPROC_ETASK);
        /* the reported failure is the lowest index, whatever the timing */
        mproc_task_failure f;
        tu_assert_rc(mproc_async_failure(a, &f), 0);
        ck_assert_uint_eq(f.index, 2);
        ck_assert_int_eq(f.error, MPROC_ETASK);
        ck_assert_int_eq(f.code, 103);
        ck_assert_str_eq(f.message, "bad input 3");
        ck_assert_int_ne(f.pid, 0);
        /* every other task ran: a map keeps going */
        for (size_t i = 0; i < n; i++) {
            size_t size = 99;
            mproc_task_failure fi;
            int rc = mproc_async_item(a, i, &size, &fi);
            if (xs[i] % 3 == 0) {
                tu_assert_rc(rc, MPROC_ETASK);
                ck_assert_int_eq(fi.code, 100 + xs[i]);
                ck_assert_uint_eq(fi.index, i);
                char want[64];
                snprintf(want, sizeof want, "bad input %d", xs[i]);
                ck_assert_str_eq(fi.message, want);
            } else {
                tu_assert_rc(rc, 0);
                ck_assert_uint_eq(size, 4);
                ck_assert_int_eq(ys[i], 2 * xs[i]);
            }
        }
        tu_assert_rc(mproc_async_item(a, n, NULL, NULL), MPROC_EINVAL);
        mproc_async_free(a);
    }
    /* blocking forms report the error too */
    tu_assert_rc(mproc_task_map(p, tf_fail3, xs, 4, n, ys, 4, NULL), MPROC_ETASK);
    tu_assert_rc(mproc_task_apply(p, tf_fail3, &xs[2], 4, NULL, 0, NULL), MPROC_ETASK);
    /* a task that fails without a message gets a description */
    mproc_async *a;
    tu_assert_rc(mproc_task_apply_async(p, tf_sqr, xs, 4 /* wrong size */, NULL, &a), 0);
    tu_assert_rc(mproc_async_get(a, -1, NULL, 0, NULL), MPROC_ETASK);
    mproc_task_failure f;
    tu_assert_rc(mproc_async_failure(a, &f), 0);
    ck_assert_int_eq(f.code, -1);
    ck_assert_str_eq(f.message, "tf_sqr wants 8 bytes, got 4");
    mproc_async_free(a);
    /* imap gives each task's own error */
    tu_assert_rc(mproc_task_imap(p, tf_fail3, xs, 4, 10, 4, NULL, &a), 0);
    for (size_t i = 0; i < 10; i++) {
        int32_t y;
        size_t idx;
        int rc = mproc_imap_next(a, -1, &y, 4, NULL, &idx);
        ck_assert_uint_eq(idx, i);
        tu_assert_rc(rc, xs[i] % 3 == 0 ? MPROC_ETASK : 0);
    }
    mproc_async_free(a);
    /* the workers survived it all */
    tf_wait_workers(p, after, 2);
    ck_assert_int_eq(before[0], after[0]);
    ck_assert_int_eq(before[1], after[1]);
    mproc_pool_stats st;
    mproc_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.worker_deaths, 0);
    free(xs);
    free(ys);
    tf_destroy(p);
}
END_TEST

START_TEST(test_fail_fast)
{
    mproc_pool *p = tf_pool(1);
    const size_t n = 200;
    int32_t xs[200];
    for (size_t i = 0; i < n; i++)
        xs[i] = i == 10 ? 3 : 1; /* one failure, at index 10 */
    int32_t ys[200];
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.flags = MPROC_TASK_FAIL_FAST;
    o.chunksize = 1;
    mproc_async *a;
    tu_assert_rc(mproc_task_map_async(p, tf_fail3, xs, 4, n, ys, 4, &o, &a), 0);
    tu_assert_rc(mproc_async_get(a, 5000, NULL, 0, NULL), MPROC_ETASK);
    size_t cancelled = 0, ok = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = mproc_async_item(a, i, NULL, NULL);
        cancelled += rc == MPROC_ECANCELED;
        ok += rc == 0;
    }
    ck_assert_uint_eq(cancelled + ok + 1, n);
    ck_assert_msg(cancelled > 0, "fail-fast cancelled nothing");
    ck_assert_uint_ge(ok, 10);
    mproc_task_failure f;
    tu_assert_rc(mproc_async_failure(a, &f), 0);
    ck_assert_uint_eq(f.index, 10);
    mproc_async_free(a);
    /* without the flag every task runs */
    tu_assert_rc(mproc_task_map_async(p, tf_fail3, xs, 4, n, ys, 4, NULL, &a), 0);
    tu_assert_rc(mproc_async_get(a, 5000, NULL, 0, NULL), MPROC_ETASK);
    for (size_t i = 0; i < n; i++)
        tu_assert_rc(mproc_async_item(a, i, NULL, NULL), i == 10 ? MPROC_ETASK : 0);
    mproc_async_free(a);
    tf_destroy(p);
}
END_TEST

/* ---- limits and invalid arguments ---------------------------------------------------------- */

START_TEST(test_size_limits)
{
    mproc_pool *p = tf_pool(1);
    static char big[MPROC_TASK_ARG_MAX + 32];
    char out[64];
    mproc_async *a = BAD_ASYNC;
    tu_assert_rc(mproc_task_apply(p, tf_echo, big, MPROC_TASK_ARG_MAX + 1, out, 64, NULL),
                 MPROC_ETOOBIG);
    tu_assert_rc(mproc_task_apply_async(p, tf_echo, big, MPROC_TASK_ARG_MAX + 1, NULL, &a),
                 MPROC_ETOOBIG);
    ck_assert_ptr_null(a);
    tu_assert_rc(mproc_task_apply(p, tf_echo, big, 1, big, MPROC_TASK_RESULT_MAX + 1, NULL),
                 MPROC_ETOOBIG);
    tu_assert_rc(mproc_task_map(p, tf_echo, big, MPROC_TASK_ARG_MAX + 1, 1, out, 1, NULL),
                 MPROC_ETOOBIG);
    tu_assert_rc(mproc_task_map(p, tf_echo, big, 1, 1, big, MPROC_TASK_RESULT_MAX + 1, NULL),
                 MPROC_ETOOBIG);
    tu_assert_rc(mproc_task_imap(p, tf_echo, big, 1, 1, MPROC_TASK_RESULT_MAX + 1, NULL, &a),
                 MPROC_ETOOBIG);
    const void *cols[2] = {big, big};
    const size_t sizes[2] = {MPROC_TASK_ARG_MAX / 2, MPROC_TASK_ARG_MAX / 2 + 1};
    tu_assert_rc(mproc_task_starmap(p, tf_mul, 2, cols, sizes, 1, out, 8, NULL),
                 MPROC_ETOOBIG);
    /* a task that reports more than its capacity fails alone */
    int64_t ys[4];
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.chunksize = 4;
    tu_assert_rc(mproc_task_map_async(p, tf_too_big, NULL, 0, 4, ys, 8, &o, &a), 0);
    tu_assert_rc(mproc_async_get(a, -1, NULL, 0, NULL), MPROC_ETOOBIG);
    mproc_task_failure f;
    tu_assert_rc(mproc_async_item(a, 3, NULL, &f), MPROC_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(f.message, "9 bytes"));
    mproc_async_free(a);
    tu_assert_rc(mproc_task_apply(p, tf_too_big, NULL, 0, out, 16, NULL), MPROC_ETOOBIG);
    /* the pool is fine */
    int64_t y;
    tu_assert_rc(mproc_task_apply(p, tf_sqr, &(int64_t){12}, 8, &y, 8, NULL), 0);
    ck_assert_int_eq(y, 144);
    tf_destroy(p);
}
END_TEST

START_TEST(test_invalid_args)
{
    mproc_pool_options po;
    mproc_pool_options_init(&po);
    ck_assert_ptr_null((void *)(uintptr_t)po.initializer);
    ck_assert_int_eq(po.maxtasksperchild, 0);
    mproc_pool *bad = (mproc_pool *)(uintptr_t)0x1;
    po.maxtasksperchild = -1;
    tu_assert_rc(mproc_pool_create(&bad, &po), MPROC_EINVAL);
    ck_assert_ptr_null(bad);
    po.maxtasksperchild = 0;
    po.workers = -1; /* Python's Pool(processes=-1) */
    tu_assert_rc(mproc_pool_create(&bad, &po), MPROC_EINVAL);

    mproc_pool *p = tf_pool(1);
    int64_t x = 1, y;
    mproc_async *a = BAD_ASYNC;
    tu_assert_rc(mproc_task_apply(NULL, tf_sqr, &x, 8, &y, 8, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_task_apply(p, NULL, &x, 8, &y, 8, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_task_apply(p, tf_sqr, NULL, 8, &y, 8, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_task_apply(p, tf_sqr, &x, 8, NULL, 8, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_task_apply_async(p, tf_sqr, &x, 8, NULL, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_task_apply_async(NULL, tf_sqr, &x, 8, NULL, &a), MPROC_EINVAL);
    tu_assert_rc(mproc_task_map(p, tf_sqr, NULL, 8, 3, &y, 8, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_task_map(p, tf_sqr, &x, 8, 1, NULL, 8, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_task_map(p, NULL, &x, 8, 1, &y, 8, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_task_map(p, tf_sqr, &x, 8, SIZE_MAX / 4, &y, 0, NULL),
                 MPROC_EOVERFLOW);
    tu_assert_rc(mproc_task_map_async(p, tf_sqr, &x, 8, 1, &y, 8, NULL, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_task_imap(p, tf_sqr, &x, 8, 1, 8, NULL, NULL), MPROC_EINVAL);
    const void *cols[17] = {&x};
    const size_t sizes[17] = {8};
    tu_assert_rc(mproc_task_starmap(p, tf_mul, 0, cols, sizes, 1, &y, 8, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_task_starmap(p, tf_mul, 17, cols, sizes, 1, &y, 8, NULL),
                 MPROC_EINVAL);
    tu_assert_rc(mproc_task_starmap(p, tf_mul, 1, NULL, sizes, 1, &y, 8, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_task_starmap(p, tf_mul, 1, cols, NULL, 1, &y, 8, NULL), MPROC_EINVAL);
    /* a NULL column is fine when its size is 0 (tf_mul then fails: it wants two i64) */
    tu_assert_rc(mproc_task_starmap(p, tf_mul, 2, cols, sizes, 1, &y, 8, NULL), MPROC_ETASK);
    const size_t sizes2[2] = {8, 8};
    tu_assert_rc(mproc_task_starmap(p, tf_mul, 2, cols, sizes2, 1, &y, 8, NULL), MPROC_EINVAL);
    /* async calls */
    tu_assert_rc(mproc_async_get(NULL, 0, NULL, 0, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_async_wait(NULL, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_async_ready(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_async_successful(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_async_free(NULL), 0);
    tu_assert_rc(mproc_task_apply_async(p, tf_sqr, &x, 8, NULL, &a), 0);
    tu_assert_rc(mproc_async_get(a, -2, &y, 8, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_async_wait(a, -5), MPROC_EINVAL);
    tu_assert_rc(mproc_async_get(a, 0, NULL, 8, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_imap_next(a, 0, NULL, 0, NULL, NULL), MPROC_EINVAL); /* not imap */
    tu_assert_rc(mproc_async_get(a, -1, &y, 8, NULL), 0);
    tu_assert_rc(mproc_async_failure(a, NULL), MPROC_EINVAL);
    mproc_async_free(a);
    /* join before close, as Python's ValueError */
    tu_assert_rc(mproc_pool_join(p), MPROC_ESTATE);
    tu_assert_rc(mproc_pool_close(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_pool_join(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_pool_terminate(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_pool_close(p), 0);
    tu_assert_rc(mproc_pool_close(p), 0);
    tu_assert_rc(mproc_task_apply(p, tf_sqr, &x, 8, &y, 8, NULL), MPROC_ESTATE);
    tu_assert_rc(mproc_task_map_async(p, tf_sqr, &x, 8, 1, &y, 8, NULL, &a), MPROC_ESTATE);
    ck_assert_ptr_null(a);
    tu_assert_rc(mproc_pool_join(p), 0);
    tf_destroy(p);
}
END_TEST

START_TEST(test_forked_child_refused)
{
    mproc_pool *p = tf_pool(1);
    mproc_async *a;
    tu_assert_rc(mproc_task_apply_async(p, tf_sqr, &(int64_t){4}, 8, NULL, &a), 0);
    tu_assert_rc(mproc_async_wait(a, -1), 0);
    pid_t child = tu_fork();
    if (child == 0) {
        int64_t y;
        mproc_async *b = NULL;
        int bad = 0;
        bad |= mproc_task_apply(p, tf_sqr, &(int64_t){4}, 8, &y, 8, NULL) != MPROC_ESTATE;
        bad |= (mproc_task_apply_async(p, tf_sqr, &(int64_t){4}, 8, NULL, &b) !=
                MPROC_ESTATE) << 1;
        bad |= (mproc_async_get(a, 0, &y, 8, NULL) != MPROC_ESTATE) << 2;
        bad |= (mproc_async_free(a) != MPROC_ESTATE) << 3;
        bad |= (mproc_pool_terminate(p) != MPROC_ESTATE) << 4;
        _exit(bad);
    }
    tu_assert_child_ok(child, 10);
    int64_t y;
    tu_assert_rc(mproc_async_get(a, 0, &y, 8, NULL), 0);
    ck_assert_int_eq(y, 16);
    mproc_async_free(a);
    tf_destroy(p);
}
END_TEST

/* ---- close / join, maps and tasks on one pool, threads, inline pools ---------------------- */

START_TEST(test_close_join)
{
    mproc_pool *p = tf_pool(2);
    const size_t n = 40;
    mproc_async *as[40];
    for (size_t i = 0; i < n; i++) {
        tf_sleep_arg sa = {.x = (int64_t)i, .ms = 10};
        tu_assert_rc(mproc_task_apply_async(p, tf_sqr_sleep, &sa, sizeof sa, NULL, &as[i]), 0);
    }
    tu_assert_rc(mproc_pool_close(p), 0);
    double t0 = tu_now();
    tu_assert_rc(mproc_pool_join(p), 0);
    ck_assert_msg(tu_now() - t0 > 0.1, "join returned before the tasks ran");
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(mproc_async_ready(as[i]), 1);
        int64_t y;
        tu_assert_rc(mproc_async_get(as[i], 0, &y, 8, NULL), 0);
        ck_assert_int_eq(y, (int64_t)(i * i));
        mproc_async_free(as[i]);
    }
    /* maps still work on a closed pool */
    mproc_array *arr;
    tu_assert_rc(mproc_array_create_from(&arr, NULL, MPROC_INT32, (int32_t[]){2, 3, 4}, 3), 0);
    tu_assert_rc(mproc_square(p, arr), 0);
    ck_assert_int_eq(((int32_t *)mproc_array_data(arr))[2], 16);
    mproc_array_close(arr);
    tf_destroy(p);
}
END_TEST

START_TEST(test_free_unfinished)
{
    mproc_pool *p = tf_pool(1);
    tf_sleep_arg sl[4] = {{.x = 1, .ms = 100}, {.x = 2, .ms = 100}, {.x = 3}, {.x = 4}};
    int64_t ys[4] = {-1, -1, -1, -1};
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.chunksize = 1;
    mproc_async *a;
    tu_assert_rc(mproc_task_map_async(p, tf_sqr_sleep, sl, sizeof sl[0], 4, ys, 8, &o, &a), 0);
    tu_assert_rc(mproc_async_free(a), 0); /* tasks still run; results are dropped */
    tu_assert_rc(mproc_pool_close(p), 0);
    tu_assert_rc(mproc_pool_join(p), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ys[i], -1);
    tf_destroy(p);
}
END_TEST

START_TEST(test_maps_and_tasks)
{
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 3; /* the caller and 2 forked workers */
    mproc_pool *p = tf_pool_opts(&o);
    const size_t n = 200000;
    mproc_array *arr;
    tu_assert_rc(mproc_array_create(&arr, NULL, MPROC_INT64, n), 0);
    int64_t *d = mproc_array_data(arr);
    int64_t xs[100], ys[100];
    for (int i = 0; i < 100; i++)
        xs[i] = i;
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < n; i++)
            d[i] = (int64_t)i;
        tu_assert_rc(mproc_square(p, arr), 0);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(d[i] == (int64_t)(i * i), "round %d: element %zu", round, i);
        tu_assert_rc(mproc_task_map(p, tf_sqr, xs, 8, 100, ys, 8, NULL), 0);
        check_squares(ys, 100);
        int64_t y;
        tu_assert_rc(mproc_task_apply(p, tf_sqr, &(int64_t){round}, 8, &y, 8, NULL), 0);
        ck_assert_int_eq(y, round * round);
    }
    /* a map while tasks are still queued and running */
    tf_sleep_arg sl[8];
    for (int i = 0; i < 8; i++)
        sl[i] = (tf_sleep_arg){.x = i, .ms = 30};
    int64_t sy[8];
    mproc_async *a;
    mproc_task_options to;
    mproc_task_options_init(&to);
    to.chunksize = 1;
    tu_assert_rc(mproc_task_map_async(p, tf_sqr_sleep, sl, sizeof sl[0], 8, sy, 8, &to, &a), 0);
    for (size_t i = 0; i < n; i++)
        d[i] = 3;
    tu_assert_rc(mproc_square(p, arr), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(d[i], 9);
    tu_assert_rc(mproc_async_get(a, 5000, NULL, 0, NULL), 0);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(sy[i], i * i);
    mproc_async_free(a);
    mproc_pool_stats st;
    mproc_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.worker_deaths, 0);
    mproc_array_close(arr);
    tf_destroy(p);
}
END_TEST

struct thread_arg {
    mproc_pool *pool;
    int id, bad;
    mproc_array *arr;
};

static void *submitter(void *v)
{
    struct thread_arg *t = v;
    for (int i = 0; i < 300; i++) {
        int64_t x = t->id * 1000 + i, y = 0;
        mproc_async *a;
        if (mproc_task_apply_async(t->pool, tf_sqr, &x, 8, NULL, &a) != 0) {
            t->bad++;
            continue;
        }
        if (mproc_async_get(a, 10000, &y, 8, NULL) != 0 || y != x * x)
            t->bad++;
        mproc_async_free(a);
    }
    return NULL;
}

static void *mapper(void *v)
{
    struct thread_arg *t = v;
    int64_t *d = mproc_array_data(t->arr);
    size_t n = mproc_array_length(t->arr);
    for (int r = 0; r < 20; r++) {
        for (size_t i = 0; i < n; i++)
            d[i] = (int64_t)i;
        if (mproc_square(t->pool, t->arr) != 0)
            t->bad++;
        for (size_t i = 0; i < n; i++)
            t->bad += d[i] != (int64_t)(i * i);
    }
    return NULL;
}

START_TEST(test_threads)
{
    mproc_pool *p = tf_pool(2);
    mproc_array *arr;
    tu_assert_rc(mproc_array_create(&arr, NULL, MPROC_INT64, 100000), 0);
    pthread_t th[4];
    struct thread_arg ta[4];
    for (int i = 0; i < 4; i++) {
        ta[i] = (struct thread_arg){.pool = p, .id = i, .arr = arr};
        pthread_create(&th[i], NULL, i == 3 ? mapper : submitter, &ta[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(ta[i].bad == 0, "thread %d: %d bad results", i, ta[i].bad);
    }
    mproc_array_close(arr);
    tf_destroy(p);
}
END_TEST

START_TEST(test_oversubscribed)
{
    /* more workers than CPUs: nobody spins, every hand-off is a wake-up */
    mproc_pool *p = tf_pool(2 * tu_nproc() + 1);
    const size_t n = 2000;
    int64_t *xs = range64(n), *ys = calloc(n, 8);
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.chunksize = 1;
    tu_assert_rc(mproc_task_map(p, tf_sqr, xs, 8, n, ys, 8, &o), 0);
    check_squares(ys, n);
    for (int i = 0; i < 300; i++) {
        int64_t y;
        tu_assert_rc(mproc_task_apply(p, tf_sqr, &xs[i], 8, &y, 8, NULL), 0);
        ck_assert_int_eq(y, (int64_t)i * i);
    }
    mproc_async *it;
    tu_assert_rc(mproc_task_imap_unordered(p, tf_sqr, xs, 8, n, 8, &o, &it), 0);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t y;
        size_t idx;
        tu_assert_rc(mproc_imap_next(it, 10000, &y, 8, NULL, &idx), 0);
        ck_assert_int_eq(y, (int64_t)(idx * idx));
        sum += (int64_t)idx;
    }
    ck_assert_int_eq(sum, (int64_t)(n * (n - 1) / 2));
    tu_assert_rc(mproc_imap_next(it, 0, NULL, 0, NULL, NULL), MPROC_EEXHAUSTED);
    mproc_async_free(it);
    free(xs);
    free(ys);
    tf_destroy(p);
}
END_TEST

static int32_t init_value = 42;

START_TEST(test_inline_pool)
{
    /* workers = 1 with the caller working: no forked worker, tasks run in the caller */
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 1;
    o.initializer = tf_init;
    o.initarg = &init_value;
    mproc_pool *p = tf_pool_opts(&o);
    ck_assert_int_eq(tu_children(NULL, 0), 0);
    int32_t pid = 0;
    tu_assert_rc(mproc_task_apply(p, tf_pid, NULL, 0, &pid, 4, NULL), 0);
    ck_assert_int_eq(pid, getpid());
    tf_init_state s;
    tu_assert_rc(mproc_task_apply(p, tf_global, NULL, 0, &s, sizeof s, NULL), 0);
    ck_assert_int_eq(s.value, 42);
    ck_assert_int_eq(s.calls, 1);
    int64_t xs[50], ys[50];
    for (int i = 0; i < 50; i++)
        xs[i] = i;
    tu_assert_rc(mproc_task_map(p, tf_sqr, xs, 8, 50, ys, 8, NULL), 0);
    check_squares(ys, 50);
    struct cb_record rec = {.m = PTHREAD_MUTEX_INITIALIZER};
    mproc_task_options to;
    mproc_task_options_init(&to);
    to.callback = on_ok;
    to.user = &rec;
    mproc_async *a;
    tu_assert_rc(mproc_task_imap(p, tf_sqr, xs, 8, 50, 8, &to, &a), 0);
    for (int i = 0; i < 50; i++) {
        int64_t y;
        tu_assert_rc(mproc_imap_next(a, 0, &y, 8, NULL, NULL), 0);
        ck_assert_int_eq(y, i * i);
    }
    tu_assert_rc(mproc_async_wait(a, 1000), 0);
    ck_assert_int_eq(rec.calls, 1);
    mproc_async_free(a);
    tu_assert_rc(mproc_task_map(p, tf_fail3, &(int32_t[]){1, 3}, 4, 2, ys, 4, NULL),
                 MPROC_ETASK);
    tf_destroy(p);
}
END_TEST

/* ---- suite ------------------------------------------------------------------------------------ */

static TCase *tc(Suite *s, const char *name, double timeout)
{
    TCase *t = tcase_create(name);
    tu_tcase_defaults(t, timeout);
    suite_add_tcase(s, t);
    return t;
}

int main(void)
{
    tu_init();
    Suite *s = suite_create("tasks");
    TCase *t = tc(s, "basic", 30);
    tcase_add_test(t, test_apply);
    tcase_add_test(t, test_map);
    tcase_add_test(t, test_starmap);
    tcase_add_test(t, test_empty_inputs);
    t = tc(s, "async", 30);
    tcase_add_test(t, test_async_and_callbacks);
    tcase_add_test(t, test_callback_calls_pool);
    tcase_add_test(t, test_get_timeout);
    tcase_add_test(t, test_imap);
    tcase_add_test(t, test_imap_unordered);
    t = tc(s, "errors", 30);
    tcase_add_test(t, test_task_errors);
    tcase_add_test(t, test_fail_fast);
    tcase_add_test(t, test_size_limits);
    tcase_add_test(t, test_invalid_args);
    tcase_add_test(t, test_forked_child_refused);
    t = tc(s, "pool", 60);
    tcase_add_test(t, test_close_join);
    tcase_add_test(t, test_free_unfinished);
    tcase_add_test(t, test_maps_and_tasks);
    tcase_add_test(t, test_threads);
    tcase_add_test(t, test_oversubscribed);
    tcase_add_test(t, test_inline_pool);
    return tu_run(s);
}
