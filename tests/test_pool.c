/*
 * test_pool.c - the worker pool: maps against a serial reference for every dtype and the
 * chunk boundaries, src -> dst maps, worker counts (1, 2, more than CPUs, caller not
 * working), chunk sizes 1 .. n+1 and the exact chunk layout, arrays created after the
 * pool, a second process attaching by name, two pools at once, user kernels with ctx and
 * failing user kernels, argument errors, use from a forked child, prepare, many maps,
 * workers killed with SIGKILL, and workers dying with their creator.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define BAD_POOL ((mproc_pool *)(uintptr_t)0x1)

/* ---- helpers -------------------------------------------------------------------------------- */

static mproc_pool *make_pool(int workers, int caller_works, size_t chunk)
{
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = workers;
    o.caller_works = caller_works;
    o.chunk = chunk;
    mproc_pool *p = NULL;
    int rc = mproc_pool_create(&p, &o);
    ck_assert_msg(rc == 0, "mproc_pool_create(workers %d, caller_works %d, chunk %zu): %s",
                  workers, caller_works, chunk, tu_errname(rc));
    ck_assert_ptr_nonnull(p);
    return p;
}

static void destroy_pool(mproc_pool *p)
{
    double t0 = tu_now();
    tu_assert_rc(mproc_pool_destroy(p), 0);
    ck_assert_msg(tu_now() - t0 < 5.0, "mproc_pool_destroy took %.2f s", tu_now() - t0);
}

/* An array (anonymous if name is NULL) of n random values; *copy gets a malloc'd copy. */
static mproc_array *random_array(mproc_dtype dtype, size_t n, const char *name, uint64_t seed,
                                 void **copy)
{
    const tu_dtype_info *t = tu_dtype(dtype);
    void *vals = malloc(n * t->size + 1);
    ck_assert_ptr_nonnull(vals);
    tu_fill_random(dtype, vals, n, seed);
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create_from(&a, name, dtype, vals, n), 0);
    if (copy != NULL)
        *copy = vals;
    else
        free(vals);
    return a;
}

static void close_array(mproc_array *a)
{
    char name[TU_NAME_LEN] = "";
    if (mproc_array_name(a) != NULL)
        snprintf(name, sizeof name, "%s", mproc_array_name(a));
    tu_assert_rc(mproc_array_close(a), 0);
    if (name[0] != '\0')
        tu_assert_rc(mproc_array_unlink(name), 0);
}

/* Squares n random values of dtype in place with the pool and compares. */
static void square_and_check(mproc_pool *p, mproc_dtype dtype, size_t n, const char *name,
                             uint64_t seed)
{
    void *orig = NULL;
    mproc_array *a = random_array(dtype, n, name, seed, &orig);
    int rc = mproc_square(p, a);
    ck_assert_msg(rc == 0, "mproc_square(%s x %zu): %s", tu_dtype(dtype)->name, n,
                  tu_errname(rc));
    tu_assert_op_result(MPROC_OP_SQUARE, dtype, orig, mproc_array_data(a), n, NULL);
    free(orig);
    close_array(a);
}

/* int64 array with a[i] = i. */
static mproc_array *index_array(size_t n, const char *name)
{
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_INT64, n), 0);
    int64_t *d = mproc_array_data(a);
    for (size_t i = 0; i < n; i++)
        d[i] = (int64_t)i;
    return a;
}

/* ---- user kernels ----------------------------------------------------------------------------- */

/* dst[j] = getpid() */
static int pid_kernel(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)src;
    (void)ctx;
    int64_t *d = dst;
    int64_t pid = (int64_t)getpid();
    for (size_t j = 0; j < n; j++)
        d[j] = pid;
    return 0;
}

/* src holds indices; dst[j] = (first index of the chunk << 24) | chunk length. */
static int layout_kernel(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)ctx;
    const int64_t *s = src;
    int64_t *d = dst;
    if (n == 0)
        return 99;
    int64_t tag = (s[0] << 24) | (int64_t)n;
    for (size_t j = 0; j < n; j++)
        d[j] = tag;
    return 0;
}

struct affine {
    int64_t k, b;
};

/* dst = src * k + b (int64, wrapping) */
static int affine_kernel(const void *src, void *dst, size_t n, const void *ctx)
{
    if (ctx == NULL || (uintptr_t)ctx % 8 != 0)
        return 2;
    const struct affine *c = ctx;
    const int64_t *s = src;
    int64_t *d = dst;
    for (size_t j = 0; j < n; j++)
        d[j] = (int64_t)((uint64_t)s[j] * (uint64_t)c->k + (uint64_t)c->b);
    return 0;
}

/* ctx must be MPROC_CTX_MAX bytes with byte i == (i * 7 + 1) & 0xFF; copies src. */
static int ctx_pattern_kernel(const void *src, void *dst, size_t n, const void *ctx)
{
    if (ctx == NULL)
        return 1;
    const uint8_t *c = ctx;
    for (int i = 0; i < MPROC_CTX_MAX; i++)
        if (c[i] != (uint8_t)(i * 7 + 1))
            return 3;
    memmove(dst, src, n * sizeof(int64_t));
    return 0;
}

/* Fails (nothing written) when ctx is not NULL; else copies. */
static int no_ctx_kernel(const void *src, void *dst, size_t n, const void *ctx)
{
    if (ctx != NULL)
        return 1;
    memmove(dst, src, n * sizeof(int64_t));
    return 0;
}

/* Fails without writing anything (after a pause, so that every participant gets some). */
static int always_fail_kernel(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)src;
    (void)dst;
    (void)n;
    (void)ctx;
    usleep(200);
    return -1;
}

/* In-place int64 square on indices, failing (nothing written) on every chunk whose first
 * index / FAIL_CHUNK is 3 mod 7. */
#define FAIL_CHUNK 100
static int sometimes_fail_kernel(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)ctx;
    const int64_t *s = src;
    int64_t *d = dst;
    usleep(200); /* so that the workers get chunks too, not only the caller */
    if ((s[0] / FAIL_CHUNK) % 7 == 3)
        return 42;
    for (size_t j = 0; j < n; j++)
        d[j] = s[j] * s[j];
    return 0;
}

/* int64 square that takes a while per chunk (for killing a worker mid-map). */
static int slow_square_kernel(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)ctx;
    tu_sleep_ms(2);
    const int64_t *s = src;
    int64_t *d = dst;
    for (size_t j = 0; j < n; j++)
        d[j] = s[j] * s[j];
    return 0;
}

/* ---- options, create, destroy ------------------------------------------------------------------ */

START_TEST(test_options_and_defaults)
{
    mproc_pool_options o;
    memset(&o, 0x5A, sizeof o);
    mproc_pool_options_init(&o);
    ck_assert_int_eq(o.workers, 0);
    ck_assert_int_ne(o.caller_works, 0);
    ck_assert_uint_eq(o.chunk, 0);
    ck_assert_uint_eq(o.spin_us, 50);
    ck_assert_int_eq(o.max_retries, 3);
    ck_assert_int_eq(o.commit_mode, MPROC_COMMIT_EXACTLY_ONCE);
    mproc_pool_options_init(NULL); /* does nothing */

    mproc_pool *p = BAD_POOL;
    tu_assert_rc(mproc_pool_create(&p, NULL), 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(mproc_pool_workers(p), tu_nproc());
    ck_assert_int_eq(tu_children(NULL, 0), tu_nproc() - 1);
    square_and_check(p, MPROC_INT32, 100000, NULL, 1);
    destroy_pool(p);
    ck_assert_int_eq(tu_children(NULL, 0), 0);

    tu_assert_rc(mproc_pool_destroy(NULL), 0);
    ck_assert_int_eq(mproc_pool_workers(NULL), 0);
    ck_assert_uint_eq(mproc_pool_chunk_for(NULL, 1000, 4), 0);
}
END_TEST

START_TEST(test_create_errors)
{
    tu_assert_rc(mproc_pool_create(NULL, NULL), MPROC_EINVAL);
    const int bad_workers[] = {-1, -1000, MPROC_MAX_WORKERS + 1, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof bad_workers / sizeof bad_workers[0]; i++) {
        mproc_pool_options o;
        mproc_pool_options_init(&o);
        o.workers = bad_workers[i];
        mproc_pool *p = BAD_POOL;
        int rc = mproc_pool_create(&p, &o);
        ck_assert_msg(rc == MPROC_EINVAL, "workers = %d: %d (%s), expected MPROC_EINVAL",
                      bad_workers[i], rc, tu_errname(rc));
        ck_assert_ptr_null(p);
        ck_assert_int_eq(tu_children(NULL, 0), 0);
        tu_assert_rc(mproc_pool_create(NULL, &o), MPROC_EINVAL);
    }
    const int bad_retries[] = {-1, 1001, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof bad_retries / sizeof bad_retries[0]; i++) {
        mproc_pool_options o;
        mproc_pool_options_init(&o);
        o.workers = 2;
        o.max_retries = bad_retries[i];
        mproc_pool *p = BAD_POOL;
        int rc = mproc_pool_create(&p, &o);
        ck_assert_msg(rc == MPROC_EINVAL, "max_retries = %d: %d (%s), expected MPROC_EINVAL",
                      bad_retries[i], rc, tu_errname(rc));
        ck_assert_ptr_null(p);
        ck_assert_int_eq(tu_children(NULL, 0), 0);
    }
    /* the ends of the documented ranges are accepted */
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 2;
    o.max_retries = 1000;
    mproc_pool *p = NULL;
    tu_assert_rc(mproc_pool_create(&p, &o), 0);
    destroy_pool(p);
    o.max_retries = 0;
    tu_assert_rc(mproc_pool_create(&p, &o), 0);
    destroy_pool(p);
    ck_assert_int_eq(tu_children(NULL, 0), 0);
}
END_TEST

START_TEST(test_destroy_prompt_many_workers)
{
    const int w = 2 * tu_nproc() + 1;
    mproc_pool *p = make_pool(w, 1, 0);
    ck_assert_int_eq(tu_children(NULL, 0), w - 1);
    destroy_pool(p);
    ck_assert_int_eq(tu_children(NULL, 0), 0);
}
END_TEST

/* ---- squares against the reference -------------------------------------------------------------- */

START_TEST(test_square_lengths)
{
    const tu_dtype_info *t = &tu_dtypes[_i];
    mproc_pool *p = make_pool(0, 1, 0);
    const size_t c = mproc_pool_chunk_for(p, 1000000, t->size);
    ck_assert_uint_ge(c, 1);
    const size_t lens[] = {0, 1, 2, 7, 100, c - 1, c, c + 1, 2 * c - 1, 2 * c, 2 * c + 1,
                           3 * c + 7};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
        square_and_check(p, t->dtype, lens[l], NULL, 100 + l);

    /* With the chunk fixed, the boundaries are exact. */
    tu_assert_rc(mproc_pool_set_chunk(p, c), 0);
    ck_assert_uint_eq(mproc_pool_chunk_for(p, c + 1, t->size), c);
    const size_t fixed[] = {c - 1, c, c + 1, 4 * c - 1, 4 * c + 1};
    for (size_t l = 0; l < sizeof fixed / sizeof fixed[0]; l++)
        square_and_check(p, t->dtype, fixed[l], NULL, 200 + l);
    /* And for a small fixed chunk (7). */
    tu_assert_rc(mproc_pool_set_chunk(p, 7), 0);
    const size_t small[] = {6, 7, 8, 13, 14, 15, 1000};
    for (size_t l = 0; l < sizeof small / sizeof small[0]; l++)
        square_and_check(p, t->dtype, small[l], NULL, 300 + l);
    destroy_pool(p);

    /* The same with the caller not working: every chunk goes through a worker. */
    p = make_pool(2, 0, 0);
    const size_t cw = mproc_pool_chunk_for(p, 1000000, t->size);
    const size_t wl[] = {0, 1, 7, cw - 1, cw, cw + 1, 2 * cw + 1};
    for (size_t l = 0; l < sizeof wl / sizeof wl[0]; l++)
        square_and_check(p, t->dtype, wl[l], NULL, 400 + l);
    tu_assert_rc(mproc_pool_set_chunk(p, 3), 0);
    square_and_check(p, t->dtype, 1000, NULL, 500);
    destroy_pool(p);
}
END_TEST

START_TEST(test_square_1e6_random)
{
    const tu_dtype_info *t = &tu_dtypes[_i];
    const size_t n = 1000000;
    mproc_pool *p = make_pool(0, 1, 0);
    char name[TU_NAME_LEN];
    /* named for half the dtypes, anonymous for the others */
    const char *nm = (_i % 2) ? tu_name(name, t->short_name) : NULL;
    void *orig = NULL;
    mproc_array *a = random_array(t->dtype, n, nm, 7000 + (uint64_t)_i, &orig);
    tu_assert_rc(mproc_square(p, a), 0);
    tu_assert_op_result(MPROC_OP_SQUARE, t->dtype, orig, mproc_array_data(a), n, NULL);
    /* squaring again squares the squares (each element exactly once per map) */
    void *once = malloc(n * t->size);
    memcpy(once, mproc_array_data(a), n * t->size);
    tu_assert_rc(mproc_square(p, a), 0);
    tu_assert_op_result(MPROC_OP_SQUARE, t->dtype, once, mproc_array_data(a), n, NULL);
    free(once);
    free(orig);
    close_array(a);
    destroy_pool(p);
}
END_TEST

START_TEST(test_seed_program)
{
    const int32_t seed[7] = {2, 3, 4, 5, 6, 7, 8};
    const int32_t want[7] = {4, 9, 16, 25, 36, 49, 64};
    mproc_pool *p = make_pool(7, 1, 1); /* 7 processes, one element each */
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create_from(&a, NULL, MPROC_INT32, seed, 7), 0);
    tu_assert_rc(mproc_square(p, a), 0);
    ck_assert_mem_eq(mproc_array_data(a), want, sizeof want);
    close_array(a);
    destroy_pool(p);
}
END_TEST

START_TEST(test_all_ops_src_dst)
{
    const tu_dtype_info *t = &tu_dtypes[_i];
    const size_t n = 100003;
    mproc_pool *p = make_pool(2, (int)(_i % 2), 4099); /* caller working or not */
    char name[TU_NAME_LEN];
    void *orig = NULL;
    mproc_array *src = random_array(t->dtype, n, tu_name(name, "src"), 555 + (uint64_t)_i, &orig);
    uint8_t scalars[3 * 8];
    tu_fill_special(t->dtype, scalars, 3);         /* 0, +-0 / 1 ... */
    tu_fill_random(t->dtype, scalars + 2 * t->size, 1, 99 + (uint64_t)_i);

    for (int o = 0; o < TU_OP_COUNT; o++) {
        const mproc_op op = tu_ops[o];
        const bool takes_scalar = op == MPROC_OP_ADD || op == MPROC_OP_MUL;
        for (int s = 0; s < (takes_scalar ? 3 : 1); s++) {
            const void *scalar = takes_scalar ? scalars + (size_t)s * t->size : NULL;
            mproc_array *dst = NULL;
            tu_assert_rc(mproc_array_create(&dst, NULL, t->dtype, n), 0);
            int rc = mproc_map_op(p, op, scalar, src, dst);
            ck_assert_msg(rc == 0, "map_op %s %s: %s", mproc_op_name(op), t->name,
                          tu_errname(rc));
            tu_assert_op_result(op, t->dtype, orig, mproc_array_data(dst), n, scalar);
            ck_assert_msg(memcmp(mproc_array_data(src), orig, n * t->size) == 0,
                          "src changed by a src -> dst map (%s)", mproc_op_name(op));
            /* in place on the dst copy of the source */
            memcpy(mproc_array_data(dst), orig, n * t->size);
            tu_assert_rc(mproc_map_op(p, op, scalar, dst, dst), 0);
            tu_assert_op_result(op, t->dtype, orig, mproc_array_data(dst), n, scalar);
            close_array(dst);
        }
    }
    /* mproc_map with the built-in kernel is the same as mproc_map_op */
    mproc_kernel k = NULL;
    tu_assert_rc(mproc_kernel_get(MPROC_OP_MUL, t->dtype, &k), 0);
    mproc_array *dst = NULL;
    tu_assert_rc(mproc_array_create(&dst, NULL, t->dtype, n), 0);
    tu_assert_rc(mproc_map(p, k, scalars + 2 * t->size, t->size, src, dst), 0);
    tu_assert_op_result(MPROC_OP_MUL, t->dtype, orig, mproc_array_data(dst), n,
                        scalars + 2 * t->size);
    close_array(dst);
    free(orig);
    close_array(src);
    destroy_pool(p);
}
END_TEST

/* ---- workers ------------------------------------------------------------------------------------- */

static const struct {
    int workers; /* 0: number of CPUs; -1: 2 * CPUs + 1 */
    int caller_works;
} worker_cfgs[] = {{1, 1}, {2, 1}, {-1, 1}, {0, 1}, {1, 0}, {2, 0}, {3, 0}, {-1, 0}};

START_TEST(test_worker_counts)
{
    int w = worker_cfgs[_i].workers;
    const int cw = worker_cfgs[_i].caller_works;
    if (w == -1)
        w = 2 * tu_nproc() + 1;
    const int resolved = w == 0 ? tu_nproc() : w;
    mproc_pool *p = make_pool(w, cw, 64);
    ck_assert_int_eq(mproc_pool_workers(p), resolved);
    pid_t kids[2 * MPROC_MAX_WORKERS];
    const int nkids = tu_children(kids, 2 * MPROC_MAX_WORKERS);
    ck_assert_msg(nkids == (cw ? resolved - 1 : resolved),
                  "workers %d caller_works %d: %d worker processes", w, cw, nkids);
    /* mproc_pool_worker_pids names exactly those processes */
    pid_t pids[2 * MPROC_MAX_WORKERS];
    ck_assert_int_eq(mproc_pool_worker_pids(p, NULL, 0), nkids);
    ck_assert_int_eq(mproc_pool_worker_pids(p, pids, 2 * MPROC_MAX_WORKERS), nkids);
    for (int k = 0; k < nkids; k++) {
        bool found = false;
        for (int j = 0; j < nkids && !found; j++)
            found = pids[k] == kids[j];
        ck_assert_msg(found, "mproc_pool_worker_pids gave %d, not a child", (int)pids[k]);
    }

    /* Every element is done by a participant: the caller only if it works. */
    const size_t n = 50000;
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, NULL, MPROC_INT64, n), 0);
    tu_assert_rc(mproc_map(p, pid_kernel, NULL, 0, a, a), 0);
    const int64_t *d = mproc_array_data(a);
    size_t by_caller = 0;
    for (size_t i = 0; i < n; i++) {
        bool known = d[i] == (int64_t)getpid();
        by_caller += known;
        for (int k = 0; k < nkids && !known; k++)
            known = d[i] == (int64_t)kids[k];
        if (!known)
            ck_abort_msg("element %zu done by pid %lld, not a participant", i, (long long)d[i]);
    }
    if (!cw)
        ck_assert_msg(by_caller == 0, "caller_works = 0 but the caller did %zu elements",
                      by_caller);
    if (nkids == 0)
        ck_assert_uint_eq(by_caller, n);
    close_array(a);

    square_and_check(p, MPROC_INT32, 100003, NULL, 11);
    square_and_check(p, MPROC_FLOAT64, 30011, NULL, 12);
    ck_assert_int_eq(tu_children(NULL, 0), nkids); /* the same workers, none added */
    mproc_pool_stats st;
    memset(&st, 0xFF, sizeof st);
    tu_assert_rc(mproc_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.maps, 3);
    ck_assert_uint_eq(st.worker_deaths, 0);
    ck_assert_uint_eq(st.chunks_retried, 0);
    ck_assert_uint_eq(st.chunks_failed, 0);
    mproc_map_failure mf;
    tu_assert_rc(mproc_pool_last_failure(p, &mf), MPROC_ENOENT);
    destroy_pool(p);
}
END_TEST

/* ---- chunks --------------------------------------------------------------------------------------- */

/* Checks the chunks of a map are exactly [i, i + chunk) for i = 0, chunk, 2 chunk ...;
 * chunk 0: the automatic chunk, as chunk_for reports it. */
static void check_layout(mproc_pool *p, size_t n, size_t chunk)
{
    mproc_array *src = index_array(n, NULL), *dst = NULL;
    tu_assert_rc(mproc_array_create(&dst, NULL, MPROC_INT64, n), 0);
    tu_assert_rc(mproc_pool_set_chunk(p, chunk), 0);
    if (chunk == 0)
        chunk = mproc_pool_chunk_for(p, n, 8);
    ck_assert_uint_eq(mproc_pool_chunk_for(p, n, 8), chunk);
    int rc = mproc_map(p, layout_kernel, NULL, 0, src, dst);
    ck_assert_msg(rc == 0, "layout map n %zu chunk %zu: %s", n, chunk, tu_errname(rc));
    const int64_t *d = mproc_array_data(dst);
    for (size_t i = 0; i < n; i++) {
        size_t start = i - i % chunk;
        size_t len = n - start < chunk ? n - start : chunk;
        int64_t want = ((int64_t)start << 24) | (int64_t)len;
        if (d[i] != want)
            ck_abort_msg("n %zu chunk %zu: element %zu was in a chunk [%lld, +%lld), expected "
                         "[%zu, +%zu)",
                         n, chunk, i, (long long)(d[i] >> 24), (long long)(d[i] & 0xFFFFFF),
                         start, len);
    }
    close_array(src);
    close_array(dst);
}

START_TEST(test_chunk_sizes)
{
    mproc_pool *p = make_pool(3, 1, 0);
    const size_t n = 1009;
    const size_t chunks[] = {1, 2, 3, 1000, n - 1, n, n + 1, 5 * n};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        check_layout(p, n, chunks[c]);
        /* and a real square at that chunk, for a few dtypes */
        square_and_check(p, MPROC_INT32, n, NULL, 40 + c);
        square_and_check(p, MPROC_UINT8, n, NULL, 50 + c);
        square_and_check(p, MPROC_FLOAT32, n, NULL, 60 + c);
    }
    const size_t big = 100003;
    const size_t big_chunks[] = {7, 1000, 4096, big - 1, big, big + 1};
    for (size_t c = 0; c < sizeof big_chunks / sizeof big_chunks[0]; c++) {
        check_layout(p, big, big_chunks[c]);
        square_and_check(p, MPROC_INT64, big, NULL, 70 + c);
    }
    destroy_pool(p);
    /* chunks far larger than the automatic ones (8 MB of int64), done by workers only */
    p = make_pool(3, 0, 1000000);
    square_and_check(p, MPROC_INT64, 3000001, NULL, 80);
    square_and_check(p, MPROC_FLOAT32, 2999999, NULL, 81);
    check_layout(p, 2500000, 1000000);
    destroy_pool(p);
}
END_TEST

START_TEST(test_chunk_auto)
{
    mproc_pool *p = make_pool(0, 1, 0);
    const int w = mproc_pool_workers(p);
    for (int d = 0; d < MPROC_DTYPE_COUNT; d++) {
        const size_t es = tu_dtypes[d].size;
        size_t c = mproc_pool_chunk_for(p, 100000000, es);
        ck_assert_msg(c * es >= 16384 && c * es <= 524288,
                      "automatic chunk for 1e8 x %zu bytes: %zu elements (%zu bytes), not in "
                      "16 KiB .. 512 KiB",
                      es, c, c * es);
        c = mproc_pool_chunk_for(p, 4000000 / es, es); /* 4 MB */
        ck_assert_uint_ge(c, 1);
        if (4000000 / (2 * (size_t)w) >= 16384) /* room for several chunks of >= 16 KiB */
            ck_assert_msg((4000000 / es + c - 1) / c >= (size_t)(2 * w),
                      "automatic chunk %zu for 4 MB of %zu-byte elements gives fewer than 2 "
                      "chunks per participant (%d)",
                      c, es, w);
        for (size_t n = 1; n < 100; n += 7)
            ck_assert_uint_ge(mproc_pool_chunk_for(p, n, es), 1);
        ck_assert_uint_eq(mproc_pool_chunk_for(p, 1000, 0), 0);
    }
    size_t auto_c = mproc_pool_chunk_for(p, 1000000, 4);
    tu_assert_rc(mproc_pool_set_chunk(p, 777), 0);
    ck_assert_uint_eq(mproc_pool_chunk_for(p, 1000000, 4), 777);
    ck_assert_uint_eq(mproc_pool_chunk_for(p, 10, 8), 777);
    tu_assert_rc(mproc_pool_set_chunk(p, 0), 0);
    ck_assert_uint_eq(mproc_pool_chunk_for(p, 1000000, 4), auto_c);
    tu_assert_rc(mproc_pool_set_chunk(NULL, 5), MPROC_EINVAL);
    destroy_pool(p);

    p = make_pool(2, 1, 5);
    ck_assert_uint_eq(mproc_pool_chunk_for(p, 1000, 4), 5);
    /* a map never has more than 65536 chunks: a smaller fixed chunk is raised to
     * length / 65536 rounded up, and chunk_for says so */
    ck_assert_uint_eq(mproc_pool_chunk_for(p, 1000000, 4), 16);
    ck_assert_uint_eq(mproc_pool_chunk_for(p, 65536 * 5, 4), 5);
    ck_assert_uint_eq(mproc_pool_chunk_for(p, 65536 * 5 + 1, 4), 6);
    check_layout(p, 23, 5);
    tu_assert_rc(mproc_pool_set_chunk(p, 1), 0);
    ck_assert_uint_eq(mproc_pool_chunk_for(p, 200000, 8), 4);
    check_layout(p, 200000, 0); /* the raised chunk is the one used */
    destroy_pool(p);
    /* the automatic chunk that chunk_for reports is the one the map uses */
    p = make_pool(3, 1, 0);
    check_layout(p, 1000000, 0);
    check_layout(p, 100003, 0);
    destroy_pool(p);
}
END_TEST

/* ---- arrays and processes ----------------------------------------------------------------------- */

START_TEST(test_array_after_pool)
{
    mproc_array *before = NULL;
    void *orig_before = NULL;
    before = random_array(MPROC_INT32, 54321, NULL, 1, &orig_before);
    mproc_pool *p = make_pool(3, 1, 1000);
    char name[TU_NAME_LEN];
    /* anonymous and named, created after the pool */
    square_and_check(p, MPROC_INT32, 100000, NULL, 2);
    square_and_check(p, MPROC_INT16, 100000, tu_name(name, "after"), 3);
    /* the one from before */
    tu_assert_rc(mproc_square(p, before), 0);
    tu_assert_op_result(MPROC_OP_SQUARE, MPROC_INT32, orig_before, mproc_array_data(before),
                        54321, NULL);
    free(orig_before);
    close_array(before);
    /* Many short-lived arrays: a closed array's address or name may be reused by the
     * next one, which must not be confused with it. */
    for (int i = 0; i < 40; i++) {
        square_and_check(p, MPROC_INT32, 20000, NULL, 100 + (uint64_t)i);
        square_and_check(p, MPROC_INT32, 20000, tu_name(name, "reuse"), 200 + (uint64_t)i);
        square_and_check(p, (i % 2) ? MPROC_FLOAT64 : MPROC_UINT8, 20000 + (size_t)i * 1000,
                         NULL, 300 + (uint64_t)i);
    }
    destroy_pool(p);
}
END_TEST

START_TEST(test_named_seen_by_second_process)
{
    const size_t n = 300007;
    mproc_pool *p = make_pool(3, 1, 0);
    char name[TU_NAME_LEN];
    tu_name(name, "seen");
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_INT32, n), 0);
    int32_t *d = mproc_array_data(a);
    for (size_t i = 0; i < n; i++)
        d[i] = (int32_t)(i % 46341) - 20000;
    tu_assert_rc(mproc_square(p, a), 0);
    pid_t pid = tu_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        mproc_array *b = NULL;
        if (mproc_array_attach(&b, name, MPROC_INT32) != 0)
            _exit(10);
        if (mproc_array_length(b) != n)
            _exit(11);
        const int32_t *e = mproc_array_data(b);
        for (size_t i = 0; i < n; i++) {
            int32_t v = (int32_t)(i % 46341) - 20000;
            if (e[i] != v * v)
                _exit(12);
        }
        mproc_array_close(b);
        _exit(0);
    }
    tu_assert_child_ok(pid, 20);
    close_array(a);
    destroy_pool(p);
}
END_TEST

struct map_job {
    mproc_pool *pool;
    mproc_array *array;
    int rounds;
    int rc;
};

/* Adds 1 `rounds` times. */
static void *map_thread(void *arg)
{
    struct map_job *j = arg;
    int32_t one = 1;
    j->rc = 0;
    for (int r = 0; r < j->rounds && j->rc == 0; r++)
        j->rc = mproc_map_op(j->pool, MPROC_OP_ADD, &one, j->array, j->array);
    return NULL;
}

static void check_added(mproc_array *a, int32_t base_mul, int32_t added)
{
    const int32_t *d = mproc_array_data(a);
    tu_assert_each(i, mproc_array_length(a), d[i] == (int32_t)i * base_mul + added,
                   "element %zu = %d, expected %d", i, d[i], (int32_t)i * base_mul + added);
}

static mproc_array *linear_i32(size_t n, int32_t mul)
{
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, NULL, MPROC_INT32, n), 0);
    int32_t *d = mproc_array_data(a);
    for (size_t i = 0; i < n; i++)
        d[i] = (int32_t)i * mul;
    return a;
}

START_TEST(test_two_pools)
{
    mproc_pool *pa = make_pool(2, 1, 512);
    mproc_pool *pb = make_pool(3, 1, 300);
    ck_assert_int_eq(tu_children(NULL, 0), 1 + 2);
    mproc_array *x = linear_i32(200000, 1), *y = linear_i32(150001, 3);
    /* interleaved */
    int32_t one = 1;
    for (int r = 0; r < 10; r++) {
        tu_assert_rc(mproc_map_op(pa, MPROC_OP_ADD, &one, x, x), 0);
        tu_assert_rc(mproc_map_op(pb, MPROC_OP_ADD, &one, y, y), 0);
    }
    check_added(x, 1, 10);
    check_added(y, 3, 10);
    /* at the same time, from two threads */
    struct map_job ja = {pa, x, 100, -1}, jb = {pb, y, 100, -1};
    pthread_t ta, tb;
    ck_assert_int_eq(pthread_create(&ta, NULL, map_thread, &ja), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, map_thread, &jb), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    tu_assert_rc(ja.rc, 0);
    tu_assert_rc(jb.rc, 0);
    check_added(x, 1, 110);
    check_added(y, 3, 110);
    /* the same array through both pools in turn */
    tu_assert_rc(mproc_map_op(pb, MPROC_OP_ADD, &one, x, x), 0);
    tu_assert_rc(mproc_map_op(pa, MPROC_OP_ADD, &one, x, x), 0);
    check_added(x, 1, 112);
    /* destroying the first pool leaves the second working (its workers were forked
     * while the first pool existed) */
    destroy_pool(pa);
    ck_assert_int_eq(tu_children(NULL, 0), 2);
    tu_assert_rc(mproc_map_op(pb, MPROC_OP_ADD, &one, y, y), 0);
    check_added(y, 3, 111);
    square_and_check(pb, MPROC_UINT16, 77777, NULL, 5);
    destroy_pool(pb);
    close_array(x);
    close_array(y);
}
END_TEST

START_TEST(test_two_pools_destroy_second_first)
{
    mproc_pool *pa = make_pool(2, 1, 0);
    mproc_pool *pb = make_pool(2, 0, 0);
    square_and_check(pa, MPROC_INT32, 100000, NULL, 1);
    square_and_check(pb, MPROC_INT32, 100000, NULL, 2);
    destroy_pool(pb);
    square_and_check(pa, MPROC_INT64, 100000, NULL, 3);
    destroy_pool(pa);
}
END_TEST

START_TEST(test_one_pool_two_threads)
{
    mproc_pool *p = make_pool(3, 1, 256);
    mproc_array *x = linear_i32(100000, 2), *y = linear_i32(70001, 5);
    struct map_job ja = {p, x, 150, -1}, jb = {p, y, 150, -1};
    pthread_t ta, tb;
    ck_assert_int_eq(pthread_create(&ta, NULL, map_thread, &ja), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, map_thread, &jb), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    tu_assert_rc(ja.rc, 0);
    tu_assert_rc(jb.rc, 0);
    check_added(x, 2, 150);
    check_added(y, 5, 150);
    destroy_pool(p);
    close_array(x);
    close_array(y);
}
END_TEST

START_TEST(test_attached_and_aliased_handles)
{
    const size_t n = 200003;
    mproc_pool *p = make_pool(3, 0, 10000);
    char name[TU_NAME_LEN];
    tu_name(name, "alias");
    mproc_array *a = NULL, *b = NULL, *c = NULL;
    tu_assert_rc(mproc_array_create(&a, name, MPROC_INT32, n), 0);
    int32_t *da = mproc_array_data(a);
    for (size_t i = 0; i < n; i++)
        da[i] = (int32_t)(i % 40000);
    tu_assert_rc(mproc_array_attach(&b, name, MPROC_INT32), 0);
    tu_assert_rc(mproc_array_attach(&c, name, MPROC_INT32), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    /* a handle from attach, after the creating handle is closed */
    tu_assert_rc(mproc_square(p, b), 0);
    const int32_t *db = mproc_array_data(b);
    tu_assert_each(i, n, db[i] == (int32_t)((i % 40000) * (i % 40000)),
                   "attached handle: element %zu = %d", i, db[i]);
    /* src and dst: two handles of one array; still exactly once per element */
    int32_t one = 1;
    tu_assert_rc(mproc_map_op(p, MPROC_OP_ADD, &one, b, c), 0);
    tu_assert_each(i, n, db[i] == (int32_t)((i % 40000) * (i % 40000) + 1),
                   "aliased src/dst: element %zu = %d", i, db[i]);
    tu_assert_rc(mproc_array_close(b), 0);
    tu_assert_rc(mproc_array_close(c), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
    destroy_pool(p);
}
END_TEST

START_TEST(test_unlinked_named_array)
{
    /* The name is gone but the creator still has it mapped: the map either works
     * (MPROC_OK, all done) or reports MPROC_EATTACH with the workers' chunks untouched,
     * never garbage. */
    const size_t n = 100000;
    mproc_pool *p = make_pool(2, 0, 1000);
    char name[TU_NAME_LEN];
    void *orig = NULL;
    mproc_array *a = random_array(MPROC_INT32, n, tu_name(name, "gone"), 3, &orig);
    tu_assert_rc(mproc_array_unlink(name), 0);
    int rc = mproc_square(p, a);
    ck_assert_msg(rc == 0 || rc == MPROC_EATTACH, "square of an unlinked array: %d (%s)", rc,
                  tu_errname(rc));
    const int32_t *o = orig, *d = mproc_array_data(a);
    if (rc == 0)
        tu_assert_op_result(MPROC_OP_SQUARE, MPROC_INT32, orig, d, n, NULL);
    else
        tu_assert_each(i, n, d[i] == o[i] || d[i] == (int32_t)((uint32_t)o[i] * (uint32_t)o[i]),
                       "element %zu is neither the old value nor its square", i);
    tu_assert_rc(mproc_array_close(a), 0);
    free(orig);
    /* the pool is fine afterwards */
    square_and_check(p, MPROC_INT32, n, NULL, 4);
    destroy_pool(p);
}
END_TEST

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

START_TEST(test_signals_during_maps)
{
    /* The caller is interrupted by a signal (no SA_RESTART) every 200 us while it waits:
     * every blocking call must retry on EINTR. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
    mproc_pool *p = make_pool(2, 0, 2000);
    struct itimerval it = {{0, 200}, {0, 200}};
    ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
    mproc_array *x = linear_i32(100000, 1);
    int32_t one = 1;
    int r = 0;
    for (; r < 200 || (alarms < 50 && r < 100000); r++) {
        int rc = mproc_map_op(p, MPROC_OP_ADD, &one, x, x);
        if (rc != 0) {
            struct itimerval off = {{0, 0}, {0, 0}};
            setitimer(ITIMER_REAL, &off, NULL);
            ck_abort_msg("map %d under signals: %s", r, tu_errname(rc));
        }
    }
    square_and_check(p, MPROC_FLOAT64, 300000, NULL, 1);
    struct itimerval off = {{0, 0}, {0, 0}};
    ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
    ck_assert_int_ge(alarms, 50);
    check_added(x, 1, r);
    close_array(x);
    destroy_pool(p);
}
END_TEST

START_TEST(test_pool_cycles_no_leak)
{
    mproc_pool *p = make_pool(3, 1, 0);
    square_and_check(p, MPROC_INT32, 100000, NULL, 1);
    destroy_pool(p);
    const int fds = tu_count_fds();
    for (int i = 0; i < 30; i++) {
        p = make_pool(1 + i % 4, i % 2, (size_t)(i % 3) * 1000);
        square_and_check(p, MPROC_INT32, 50000, NULL, 10 + (uint64_t)i);
        destroy_pool(p);
        ck_assert_int_eq(tu_children(NULL, 0), 0);
    }
    ck_assert_int_eq(tu_count_fds(), fds);
}
END_TEST

START_TEST(test_commit_direct)
{
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 3;
    o.caller_works = 0;
    o.commit_mode = MPROC_COMMIT_DIRECT;
    o.chunk = 5000;
    mproc_pool *p = NULL;
    tu_assert_rc(mproc_pool_create(&p, &o), 0);
    for (int d = 0; d < MPROC_DTYPE_COUNT; d++)
        square_and_check(p, tu_dtypes[d].dtype, 100003, NULL, 20 + (uint64_t)d);
    /* a failing kernel leaves its chunk as the kernel left it (untouched here) */
    tu_assert_rc(mproc_pool_set_chunk(p, FAIL_CHUNK), 0);
    mproc_array *a = index_array(10000, NULL);
    tu_assert_rc(mproc_map(p, sometimes_fail_kernel, NULL, 0, a, a), MPROC_EKERNEL);
    const int64_t *d = mproc_array_data(a);
    tu_assert_each(i, 10000,
                   d[i] == (((i / FAIL_CHUNK) % 7 == 3) ? (int64_t)i : (int64_t)(i * i)),
                   "direct commit, failing kernel: element %zu = %lld", i, (long long)d[i]);
    close_array(a);
    destroy_pool(p);
}
END_TEST

START_TEST(test_spin_settings)
{
    const unsigned spins[] = {0, 1, 50, 1000};
    for (size_t i = 0; i < 4; i++) {
        mproc_pool_options o;
        mproc_pool_options_init(&o);
        o.workers = 3;
        o.spin_us = spins[i];
        mproc_pool *p = NULL;
        tu_assert_rc(mproc_pool_create(&p, &o), 0);
        for (int r = 0; r < 20; r++)
            square_and_check(p, MPROC_UINT32, 30000, NULL, 100 * i + (uint64_t)r);
        destroy_pool(p);
    }
}
END_TEST

/* ---- user kernels ---------------------------------------------------------------------------- */

START_TEST(test_user_kernel_ctx)
{
    const size_t n = 100003;
    mproc_pool *p = make_pool(3, 1, 1000);
    mproc_array *src = index_array(n, NULL), *dst = NULL;
    tu_assert_rc(mproc_array_create(&dst, NULL, MPROC_INT64, n), 0);
    struct affine c = {-7, 1000003};
    tu_assert_rc(mproc_map(p, affine_kernel, &c, sizeof c, src, dst), 0);
    const int64_t *d = mproc_array_data(dst), *s = mproc_array_data(src);
    tu_assert_each(i, n, d[i] == (int64_t)i * -7 + 1000003, "element %zu = %lld", i,
                   (long long)d[i]);
    tu_assert_each(i, n, s[i] == (int64_t)i, "src changed at %zu", i);
    /* the ctx is copied at the call: changing ours afterwards does not matter, and
     * a new map sees the new value */
    c.k = 3;
    c.b = -1;
    tu_assert_rc(mproc_map(p, affine_kernel, &c, sizeof c, src, dst), 0);
    tu_assert_each(i, n, d[i] == (int64_t)i * 3 - 1, "second map: element %zu = %lld", i,
                   (long long)d[i]);

    /* MPROC_CTX_MAX bytes arrive intact */
    uint8_t big[MPROC_CTX_MAX];
    for (int i = 0; i < MPROC_CTX_MAX; i++)
        big[i] = (uint8_t)(i * 7 + 1);
    memset(mproc_array_data(dst), 0, n * 8);
    int rc = mproc_map(p, ctx_pattern_kernel, big, sizeof big, src, dst);
    ck_assert_msg(rc == 0, "ctx of MPROC_CTX_MAX bytes: %s", tu_errname(rc));
    ck_assert_mem_eq(mproc_array_data(dst), mproc_array_data(src), n * 8);

    /* no ctx: the kernel gets NULL */
    memset(mproc_array_data(dst), 0, n * 8);
    rc = mproc_map(p, no_ctx_kernel, NULL, 0, src, dst);
    ck_assert_msg(rc == 0, "ctx NULL, size 0: %s (kernel saw a non-NULL ctx?)", tu_errname(rc));
    ck_assert_mem_eq(mproc_array_data(dst), mproc_array_data(src), n * 8);
    close_array(src);
    close_array(dst);
    destroy_pool(p);
}
END_TEST

START_TEST(test_user_kernel_fails)
{
    const size_t n = 10000;
    mproc_pool *p = make_pool(3, 1, FAIL_CHUNK);
    mproc_array *a = index_array(n, NULL);
    int rc = mproc_map(p, sometimes_fail_kernel, NULL, 0, a, a);
    tu_assert_rc(rc, MPROC_EKERNEL);
    const int64_t *d = mproc_array_data(a);
    for (size_t i = 0; i < n; i++) {
        bool failed_chunk = (i / FAIL_CHUNK) % 7 == 3;
        int64_t want = failed_chunk ? (int64_t)i : (int64_t)i * (int64_t)i;
        if (d[i] != want)
            ck_abort_msg("element %zu (%s chunk) = %lld, expected %lld", i,
                         failed_chunk ? "failing" : "good", (long long)d[i], (long long)want);
    }
    /* the pool is still usable */
    square_and_check(p, MPROC_INT32, 54321, NULL, 9);
    /* every chunk failing: nothing done, EKERNEL, still usable */
    mproc_array *b = index_array(n, NULL);
    tu_assert_rc(mproc_map(p, always_fail_kernel, NULL, 0, b, b), MPROC_EKERNEL);
    const int64_t *db = mproc_array_data(b);
    tu_assert_each(i, n, db[i] == (int64_t)i, "always failing kernel: element %zu changed", i);
    /* with the caller not working, the workers' failures are reported too */
    mproc_pool *q = make_pool(2, 0, FAIL_CHUNK);
    tu_assert_rc(mproc_map(q, always_fail_kernel, NULL, 0, b, b), MPROC_EKERNEL);
    tu_assert_rc(mproc_map(q, sometimes_fail_kernel, NULL, 0, b, b), MPROC_EKERNEL);
    tu_assert_each(i, n, db[i] == (((i / FAIL_CHUNK) % 7 == 3) ? (int64_t)i : (int64_t)(i * i)),
                   "caller not working: element %zu = %lld", i, (long long)db[i]);
    destroy_pool(q);
    square_and_check(p, MPROC_INT64, 1000, NULL, 10);
    close_array(a);
    close_array(b);
    destroy_pool(p);
}
END_TEST

START_TEST(test_zero_length_maps)
{
    mproc_pool *p = make_pool(2, 1, 0);
    mproc_array *a = NULL, *b = NULL;
    tu_assert_rc(mproc_array_create(&a, NULL, MPROC_INT64, 0), 0);
    tu_assert_rc(mproc_array_create(&b, NULL, MPROC_INT64, 0), 0);
    tu_assert_rc(mproc_square(p, a), 0);
    /* the kernel is never called */
    tu_assert_rc(mproc_map(p, always_fail_kernel, NULL, 0, a, a), 0);
    tu_assert_rc(mproc_map(p, always_fail_kernel, NULL, 0, a, b), 0);
    int64_t s = 5;
    tu_assert_rc(mproc_map_op(p, MPROC_OP_ADD, &s, a, b), 0);
    close_array(a);
    close_array(b);
    destroy_pool(p);
}
END_TEST

/* ---- errors ---------------------------------------------------------------------------------- */

START_TEST(test_map_errors)
{
    mproc_pool *p = make_pool(2, 1, 0);
    const size_t n = 1000;
    mproc_array *a = index_array(n, NULL), *b = index_array(n, NULL);
    mproc_array *shorter = index_array(n - 1, NULL), *u = NULL, *f = NULL;
    tu_assert_rc(mproc_array_create(&u, NULL, MPROC_UINT64, n), 0);
    tu_assert_rc(mproc_array_create(&f, NULL, MPROC_FLOAT64, n), 0);
    mproc_kernel sq = NULL;
    tu_assert_rc(mproc_kernel_get(MPROC_OP_SQUARE, MPROC_INT64, &sq), 0);
    int64_t scalar = 3;
    uint8_t big_ctx[MPROC_CTX_MAX + 1] = {0};

    tu_assert_rc(mproc_map(NULL, sq, NULL, 0, a, a), MPROC_EINVAL);
    tu_assert_rc(mproc_map(p, NULL, NULL, 0, a, a), MPROC_EINVAL);
    tu_assert_rc(mproc_map(p, sq, NULL, 0, NULL, a), MPROC_EINVAL);
    tu_assert_rc(mproc_map(p, sq, NULL, 0, a, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_map(p, sq, NULL, 8, a, a), MPROC_EINVAL);
    tu_assert_rc(mproc_map(p, sq, big_ctx, MPROC_CTX_MAX + 1, a, a), MPROC_EINVAL);
    tu_assert_rc(mproc_map(p, sq, big_ctx, SIZE_MAX, a, a), MPROC_EINVAL);
    tu_assert_rc(mproc_map(p, sq, NULL, 0, a, u), MPROC_EDTYPE);
    tu_assert_rc(mproc_map(p, sq, NULL, 0, f, a), MPROC_EDTYPE);
    tu_assert_rc(mproc_map(p, sq, NULL, 0, a, shorter), MPROC_ELENGTH);
    tu_assert_rc(mproc_map(p, sq, NULL, 0, shorter, a), MPROC_ELENGTH);

    tu_assert_rc(mproc_map_op(NULL, MPROC_OP_SQUARE, NULL, a, a), MPROC_EINVAL);
    tu_assert_rc(mproc_map_op(p, MPROC_OP_ADD, NULL, a, a), MPROC_EINVAL);
    tu_assert_rc(mproc_map_op(p, MPROC_OP_MUL, NULL, a, b), MPROC_EINVAL);
    tu_assert_rc(mproc_map_op(p, (mproc_op)0, NULL, a, a), MPROC_EINVAL);
    tu_assert_rc(mproc_map_op(p, (mproc_op)99, &scalar, a, a), MPROC_EINVAL);
    tu_assert_rc(mproc_map_op(p, MPROC_OP_SQUARE, NULL, NULL, a), MPROC_EINVAL);
    tu_assert_rc(mproc_map_op(p, MPROC_OP_SQUARE, NULL, a, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_map_op(p, MPROC_OP_SQUARE, NULL, a, u), MPROC_EDTYPE);
    tu_assert_rc(mproc_map_op(p, MPROC_OP_ADD, &scalar, a, shorter), MPROC_ELENGTH);
    tu_assert_rc(mproc_square(NULL, a), MPROC_EINVAL);
    tu_assert_rc(mproc_square(p, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_pool_prepare(NULL, a), MPROC_EINVAL);
    tu_assert_rc(mproc_pool_prepare(p, NULL), MPROC_EINVAL);
    mproc_pool_stats st;
    mproc_map_failure mf;
    tu_assert_rc(mproc_pool_get_stats(NULL, &st), MPROC_EINVAL);
    tu_assert_rc(mproc_pool_get_stats(p, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_pool_last_failure(NULL, &mf), MPROC_EINVAL);
    tu_assert_rc(mproc_pool_last_failure(p, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_pool_worker_pids(NULL, NULL, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_pool_worker_pids(p, NULL, 3), MPROC_EINVAL);

    /* nothing was touched */
    const int64_t *da = mproc_array_data(a), *db = mproc_array_data(b);
    const int64_t *ds = mproc_array_data(shorter);
    const uint64_t *du = mproc_array_data(u);
    tu_assert_each(i, n, da[i] == (int64_t)i && db[i] == (int64_t)i && du[i] == 0,
                   "a failed call changed element %zu", i);
    tu_assert_each(i, n - 1, ds[i] == (int64_t)i, "a failed call changed element %zu", i);

    /* MPROC_CTX_MAX itself is fine; the pool works after all those errors */
    tu_assert_rc(mproc_map(p, sq, big_ctx, MPROC_CTX_MAX, a, b), 0);
    tu_assert_each(i, n, db[i] == (int64_t)(i * i), "element %zu = %lld", i, (long long)db[i]);
    close_array(a);
    close_array(b);
    close_array(shorter);
    close_array(u);
    close_array(f);
    destroy_pool(p);
}
END_TEST

START_TEST(test_use_from_forked_child)
{
    mproc_pool *p = make_pool(3, 1, 100);
    char name[TU_NAME_LEN];
    mproc_array *a = index_array(10000, tu_name(name, "estate"));
    pid_t pid = tu_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int64_t one = 1;
        if (mproc_square(p, a) != MPROC_ESTATE)
            _exit(10);
        if (mproc_map_op(p, MPROC_OP_ADD, &one, a, a) != MPROC_ESTATE)
            _exit(11);
        if (mproc_map(p, pid_kernel, NULL, 0, a, a) != MPROC_ESTATE)
            _exit(12);
        if (mproc_pool_prepare(p, a) != MPROC_ESTATE)
            _exit(13);
        /* the child's copy of the handle is freed; the parent's pool lives on */
        if (mproc_pool_destroy(p) != MPROC_ESTATE)
            _exit(14);
        _exit(0);
    }
    tu_assert_child_ok(pid, 10);
    const int64_t *d = mproc_array_data(a);
    tu_assert_each(i, 10000, d[i] == (int64_t)i, "the child's refused calls changed element %zu",
                   i);
    ck_assert_int_eq(tu_children(NULL, 0), 2);
    tu_assert_rc(mproc_square(p, a), 0);
    tu_assert_each(i, 10000, d[i] == (int64_t)(i * i), "element %zu = %lld", i, (long long)d[i]);
    close_array(a);
    destroy_pool(p);
}
END_TEST

/* ---- prepare, many maps ----------------------------------------------------------------------- */

START_TEST(test_prepare)
{
    mproc_pool *p = make_pool(3, 1, 1000);
    char name[TU_NAME_LEN];
    void *o1 = NULL, *o2 = NULL;
    mproc_array *anon = random_array(MPROC_INT32, 200000, NULL, 1, &o1);
    mproc_array *named = random_array(MPROC_FLOAT32, 200000, tu_name(name, "prep"), 2, &o2);
    mproc_array *empty = NULL;
    tu_assert_rc(mproc_array_create(&empty, NULL, MPROC_INT8, 0), 0);
    tu_assert_rc(mproc_pool_prepare(p, anon), 0);
    tu_assert_rc(mproc_pool_prepare(p, named), 0);
    tu_assert_rc(mproc_pool_prepare(p, named), 0); /* twice is fine */
    tu_assert_rc(mproc_pool_prepare(p, empty), 0);
    tu_assert_rc(mproc_square(p, anon), 0);
    tu_assert_rc(mproc_square(p, named), 0);
    tu_assert_rc(mproc_square(p, empty), 0);
    tu_assert_op_result(MPROC_OP_SQUARE, MPROC_INT32, o1, mproc_array_data(anon), 200000, NULL);
    tu_assert_op_result(MPROC_OP_SQUARE, MPROC_FLOAT32, o2, mproc_array_data(named), 200000,
                        NULL);
    free(o1);
    free(o2);
    close_array(anon);
    close_array(named);
    close_array(empty);
    destroy_pool(p);
}
END_TEST

START_TEST(test_many_maps)
{
    mproc_pool *p = make_pool(2, 1, 16);
    char name[TU_NAME_LEN];
    mproc_array *a = linear_i32(64, 1), *b = NULL;
    tu_assert_rc(mproc_array_create(&b, tu_name(name, "many"), MPROC_INT32, 64), 0);
    int32_t one = 1, two = 2;
    tu_assert_rc(mproc_map_op(p, MPROC_OP_ADD, &one, a, a), 0); /* warm-up */
    const int fds = tu_count_fds();
    double t0 = tu_now();
    for (int r = 0; r < 2000; r++) {
        int rc = (r % 2) ? mproc_map_op(p, MPROC_OP_ADD, &two, b, b)
                         : mproc_map_op(p, MPROC_OP_ADD, &one, a, a);
        ck_assert_msg(rc == 0, "map %d: %s", r, tu_errname(rc));
    }
    double dt = tu_now() - t0;
    check_added(a, 1, 1001);
    const int32_t *d = mproc_array_data(b);
    tu_assert_each(i, 64, d[i] == 2000, "element %zu = %d, expected 2000", i, d[i]);
    ck_assert_int_eq(tu_count_fds(), fds);
    ck_assert_msg(dt < 20.0, "2000 small maps took %.1f s", dt);
    close_array(a);
    close_array(b);
    destroy_pool(p);
}
END_TEST

/* ---- dying workers ------------------------------------------------------------------------------ */

/* A map after one or more workers were killed: returns promptly, with 0 (recovered: then
 * the result must be right) or MPROC_EWORKER. */
static void map_after_kill(mproc_pool *p, size_t n, const char *what)
{
    void *orig = NULL;
    mproc_array *a = random_array(MPROC_INT32, n, NULL, 77, &orig);
    double t0 = tu_now();
    int rc = mproc_square(p, a);
    double dt = tu_now() - t0;
    ck_assert_msg(dt < 5.0, "%s: the map took %.2f s to return", what, dt);
    ck_assert_msg(rc == 0 || rc == MPROC_EWORKER, "%s: map returned %d (%s)", what, rc,
                  tu_errname(rc));
    if (rc == 0)
        tu_assert_op_result(MPROC_OP_SQUARE, MPROC_INT32, orig, mproc_array_data(a), n, NULL);
    free(orig);
    close_array(a);
}

START_TEST(test_kill_idle_worker)
{
    mproc_pool *p = make_pool(3, 1, 1000);
    square_and_check(p, MPROC_INT32, 100000, NULL, 1); /* the workers are up */
    pid_t kids[8];
    ck_assert_int_eq(tu_children(kids, 8), 2);
    ck_assert_int_eq(kill(kids[0], SIGKILL), 0);
    tu_sleep_ms(100);
    map_after_kill(p, 100000, "one of two workers killed");
    map_after_kill(p, 100000, "second map after the kill");
    destroy_pool(p);
}
END_TEST

START_TEST(test_kill_all_workers_caller_idle)
{
    mproc_pool *p = make_pool(2, 0, 1000);
    square_and_check(p, MPROC_INT32, 50000, NULL, 1);
    pid_t kids[8];
    int nk = tu_children(kids, 8);
    ck_assert_int_eq(nk, 2);
    for (int i = 0; i < nk; i++)
        ck_assert_int_eq(kill(kids[i], SIGKILL), 0);
    tu_sleep_ms(100);
    map_after_kill(p, 100000, "every worker killed, caller not working");
    map_after_kill(p, 1000, "again");
    destroy_pool(p);
}
END_TEST

static void *kill_later(void *arg)
{
    tu_sleep_ms(60);
    kill(*(pid_t *)arg, SIGKILL);
    return NULL;
}

START_TEST(test_kill_worker_mid_map)
{
    const size_t n = 20000;
    mproc_pool *p = make_pool(3, 1, 50); /* 400 chunks of ~2 ms each */
    mproc_array *a = index_array(n, NULL);
    square_and_check(p, MPROC_INT32, 1000, NULL, 1);
    pid_t kids[8];
    ck_assert_int_eq(tu_children(kids, 8), 2);
    pthread_t killer;
    ck_assert_int_eq(pthread_create(&killer, NULL, kill_later, &kids[1]), 0);
    double t0 = tu_now();
    int rc = mproc_map(p, slow_square_kernel, NULL, 0, a, a);
    double dt = tu_now() - t0;
    pthread_join(killer, NULL);
    ck_assert_msg(dt < 10.0, "the map took %.2f s to return", dt);
    ck_assert_msg(rc == 0 || rc == MPROC_EWORKER, "map returned %d (%s)", rc, tu_errname(rc));
    if (rc == 0) {
        const int64_t *d = mproc_array_data(a);
        tu_assert_each(i, n, d[i] == (int64_t)(i * i),
                          "map returned 0 after a worker died but element %zu = %lld", i,
                          (long long)d[i]);
    }
    map_after_kill(p, 10000, "map after the mid-map kill");
    close_array(a);
    destroy_pool(p);
}
END_TEST

START_TEST(test_workers_die_with_creator)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t creator = tu_fork();
    ck_assert_int_ge(creator, 0);
    if (creator == 0) {
        close(fds[0]);
        mproc_pool_options o;
        mproc_pool_options_init(&o);
        o.workers = 4;
        mproc_pool *p = NULL;
        if (mproc_pool_create(&p, &o) != 0)
            _exit(10);
        pid_t kids[8] = {0};
        int nk = tu_children(kids, 8);
        if (write(fds[1], &nk, sizeof nk) != sizeof nk ||
            write(fds[1], kids, sizeof kids) != sizeof kids)
            _exit(11);
        _exit(0); /* no destroy: the workers must go by themselves */
    }
    close(fds[1]);
    int nk = 0;
    pid_t kids[8];
    ck_assert_int_eq(read(fds[0], &nk, sizeof nk), sizeof nk);
    ck_assert_int_eq(read(fds[0], kids, sizeof kids), sizeof kids);
    close(fds[0]);
    tu_assert_child_ok(creator, 10);
    ck_assert_int_eq(nk, 3);
    /* We are a child subreaper, so the orphans come to us: reap them. */
    for (int i = 0; i < nk; i++) {
        int st = tu_wait(kids[i], 3.0);
        ck_assert_msg(st != -1, "worker %d outlived its creator by 3 s", (int)kids[i]);
    }
}
END_TEST

/* ---- suite --------------------------------------------------------------------------------------- */

static TCase *tc(Suite *s, const char *name, double timeout)
{
    TCase *t = tcase_create(name);
    tu_tcase_defaults(t, timeout);
    suite_add_tcase(s, t);
    return t;
}

/*
 * Run with MPROC_TEST_START=spawn, the whole suite runs on spawned workers: this very
 * program is their worker executable (mproc_spawn_main below), so the user kernels it
 * registers by name exist in them too, and mproc_map finds their names.
 */
static void register_kernels(void)
{
    static const struct {
        const char *name;
        mproc_kernel fn;
    } k[] = {
        {"pid", pid_kernel},
        {"layout", layout_kernel},
        {"affine", affine_kernel},
        {"ctx_pattern", ctx_pattern_kernel},
        {"no_ctx", no_ctx_kernel},
        {"always_fail", always_fail_kernel},
        {"sometimes_fail", sometimes_fail_kernel},
        {"slow_square", slow_square_kernel},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (mproc_kernel_register(k[i].name, MPROC_DTYPE_ANY, k[i].fn) != 0)
            abort();
}

int main(int argc, char **argv)
{
    register_kernels();
    bool spawn = tu_start_method_from_env(argc, argv);
    tu_init();
    Suite *s = suite_create(spawn ? "pool-spawn" : "pool");
    TCase *t;

    t = tc(s, "create", 20);
    tcase_add_test(t, test_options_and_defaults);
    tcase_add_test(t, test_create_errors);
    tcase_add_test(t, test_destroy_prompt_many_workers);

    t = tc(s, "square", 30);
    tcase_add_loop_test(t, test_square_lengths, 0, MPROC_DTYPE_COUNT);
    tcase_add_loop_test(t, test_square_1e6_random, 0, MPROC_DTYPE_COUNT);
    tcase_add_test(t, test_seed_program);
    tcase_add_loop_test(t, test_all_ops_src_dst, 0, MPROC_DTYPE_COUNT);

    t = tc(s, "workers", 30);
    tcase_add_loop_test(t, test_worker_counts, 0,
                        (int)(sizeof worker_cfgs / sizeof worker_cfgs[0]));

    t = tc(s, "chunks", 30);
    tcase_add_test(t, test_chunk_sizes);
    tcase_add_test(t, test_chunk_auto);

    t = tc(s, "arrays", 30);
    tcase_add_test(t, test_array_after_pool);
    tcase_add_test(t, test_named_seen_by_second_process);
    tcase_add_test(t, test_two_pools);
    tcase_add_test(t, test_two_pools_destroy_second_first);
    tcase_add_test(t, test_one_pool_two_threads);
    tcase_add_test(t, test_attached_and_aliased_handles);
    tcase_add_test(t, test_unlinked_named_array);
    tcase_add_test(t, test_signals_during_maps);
    tcase_add_test(t, test_pool_cycles_no_leak);
    tcase_add_test(t, test_spin_settings);
    tcase_add_test(t, test_commit_direct);

    t = tc(s, "kernels", 30);
    tcase_add_test(t, test_user_kernel_ctx);
    tcase_add_test(t, test_user_kernel_fails);
    tcase_add_test(t, test_zero_length_maps);

    t = tc(s, "errors", 20);
    tcase_add_test(t, test_map_errors);
    tcase_add_test(t, test_use_from_forked_child);
    tcase_add_test(t, test_prepare);
    tcase_add_test(t, test_many_maps);

    t = tc(s, "dying", 20);
    tcase_add_test(t, test_kill_idle_worker);
    tcase_add_test(t, test_kill_all_workers_caller_idle);
    tcase_add_test(t, test_kill_worker_mid_map);
    tcase_add_test(t, test_workers_die_with_creator);

    return tu_run(s);
}
