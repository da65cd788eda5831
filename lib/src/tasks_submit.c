/*
 * tasks_submit.c - Pool tasks: the calls (apply, apply_async, map, map_async, starmap,
 * starmap_async, imap, imap_unordered). Each checks its arguments, copies them into an
 * async result, picks the chunk size and queues it (tasks.c); the blocking forms wait
 * with mproc_async_get (tasks_pool.c).
 */
#include "tasks_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t round16(size_t v) { return (v + 15u) & ~(size_t)15u; }

MPROC_API void mproc_task_options_init(mproc_task_options *opts)
{
    if (opts != NULL)
        memset(opts, 0, sizeof *opts);
}

/* ---- submission ------------------------------------------------------------------------------ */

/* Python's chunksize rule, then the limits of an entry. */
static size_t pick_chunk(const struct mproc_async *a, int nworkers, size_t requested)
{
    size_t c = requested;
    if (c == 0) {
        if (a->kind != MPROC__A_MAP) {
            c = 1;
        } else {
            size_t parts = (size_t)(nworkers > 0 ? nworkers : 1) * 4u;
            c = a->n / parts + (a->n % parts != 0);
        }
    }
    if (c > MPROC_TASK_CHUNK_MAX)
        c = MPROC_TASK_CHUNK_MAX;
    if (a->arg_stride > 0 && c > MPROC_TASK_ARG_MAX / a->arg_stride)
        c = MPROC_TASK_ARG_MAX / a->arg_stride;
    size_t rs = round16(a->res_cap);
    if (rs > 0 && c > MPROC_TASK_RESULT_MAX / rs)
        c = MPROC_TASK_RESULT_MAX / rs;
    return c ? c : 1;
}

/* Queues a fully built async: the common tail of every task call. On failure the async
 * is destroyed. */
static int submit(mproc_pool *pool, struct mproc_async *a, const mproc_task_options *opts,
                  mproc_async **out)
{
    struct mproc__tasks *t;
    int rc = mproc__tasks_get(pool, &t);
    if (rc != 0) {
        mproc__async_destroy(NULL, a);
        return rc;
    }
    if (opts != NULL)
        a->opts = *opts;
    a->fail_fast = (a->opts.flags & MPROC_TASK_FAIL_FAST) != 0;
    a->chunk = pick_chunk(a, t->pool->nslots, a->opts.chunksize);
    if ((rc = mproc__tasks_enqueue(t, a)) != 0) {
        mproc__async_destroy(NULL, a);
        return rc;
    }
    *out = a;
    return 0;
}

static int check_caller(mproc_pool *pool)
{
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    struct mproc__tasks *t = __atomic_load_n(&pool->tasks, __ATOMIC_ACQUIRE);
    return t != NULL && mproc__in_handler(t) ? MPROC_ESTATE : 0;
}

static int apply_async(mproc_pool *pool, mproc_task_fn fn, const void *arg, size_t arg_size,
                       size_t cap, const mproc_task_options *opts, mproc_async **out)
{
    if (pool == NULL || fn == NULL || out == NULL || (arg == NULL && arg_size > 0))
        return MPROC_EINVAL;
    *out = NULL;
    if (arg_size > MPROC_TASK_ARG_MAX || cap > MPROC_TASK_RESULT_MAX)
        return MPROC_ETOOBIG;
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    if (pool->start_method != MPROC_START_FORK)
        return MPROC_ESPAWNED; /* a task is a function pointer */
    struct mproc_async *a = mproc__async_new(MPROC__A_APPLY, 1);
    if (a == NULL)
        return MPROC_ENOMEM;
    a->fn = (void (*)(void))fn;
    a->arg_size = arg_size;
    a->arg_stride = round16(arg_size);
    a->res_cap = cap;
    a->args = arg_size <= sizeof a->small_arg ? (char *)a->small_arg : malloc(arg_size);
    if (a->args == NULL) {
        mproc__async_destroy(NULL, a);
        return MPROC_ENOMEM;
    }
    if (arg_size > 0)
        memcpy(a->args, arg, arg_size);
    return submit(pool, a, opts, out);
}

MPROC_API int mproc_task_apply_async(mproc_pool *pool, mproc_task_fn fn, const void *arg,
                                     size_t arg_size, const mproc_task_options *opts,
                                     mproc_async **out)
{
    return apply_async(pool, fn, arg, arg_size, MPROC_TASK_RESULT_MAX, opts, out);
}

MPROC_API int mproc_task_apply(mproc_pool *pool, mproc_task_fn fn, const void *arg,
                               size_t arg_size, void *result, size_t result_cap,
                               size_t *result_size)
{
    if (pool == NULL || (result == NULL && result_cap > 0))
        return MPROC_EINVAL;
    int rc = check_caller(pool);
    if (rc != 0)
        return rc;
    mproc_async *a;
    if ((rc = apply_async(pool, fn, arg, arg_size, result_cap, NULL, &a)) != 0)
        return rc;
    rc = mproc_async_get(a, -1, result, result_cap, result_size);
    mproc_async_free(a);
    return rc;
}

/* Builds the async of a map / imap over a packed array of arguments. */
static int map_common(mproc_pool *pool, int kind, mproc_task_fn fn, const void *args,
                      size_t arg_size, size_t n, void *results, size_t result_size,
                      size_t cap, const mproc_task_options *opts, mproc_async **out)
{
    if (pool == NULL || fn == NULL || out == NULL || (args == NULL && arg_size > 0 && n > 0) ||
        (results == NULL && result_size > 0 && n > 0))
        return MPROC_EINVAL;
    *out = NULL;
    if (arg_size > MPROC_TASK_ARG_MAX || cap > MPROC_TASK_RESULT_MAX)
        return MPROC_ETOOBIG;
    size_t bytes;
    if (__builtin_mul_overflow(n, arg_size, &bytes))
        return MPROC_EOVERFLOW;
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    if (pool->start_method != MPROC_START_FORK)
        return MPROC_ESPAWNED; /* a task is a function pointer */
    struct mproc_async *a = mproc__async_new(kind, n);
    if (a == NULL)
        return MPROC_ENOMEM;
    a->fn = (void (*)(void))fn;
    a->arg_size = arg_size;
    a->arg_stride = round16(arg_size);
    a->res_cap = cap;
    a->results = results;
    a->res_stride = result_size;
    if (bytes > 0) {
        if ((a->args = malloc(bytes)) == NULL) {
            mproc__async_destroy(NULL, a);
            return MPROC_ENOMEM;
        }
        memcpy(a->args, args, bytes);
    }
    return submit(pool, a, opts, out);
}

MPROC_API int mproc_task_map_async(mproc_pool *pool, mproc_task_fn fn, const void *args,
                                   size_t arg_size, size_t n, void *results,
                                   size_t result_size, const mproc_task_options *opts,
                                   mproc_async **out)
{
    return map_common(pool, MPROC__A_MAP, fn, args, arg_size, n, results, result_size,
                      result_size, opts, out);
}

MPROC_API int mproc_task_imap(mproc_pool *pool, mproc_task_fn fn, const void *args,
                              size_t arg_size, size_t n, size_t result_cap,
                              const mproc_task_options *opts, mproc_async **out)
{
    return map_common(pool, MPROC__A_IMAP, fn, args, arg_size, n, NULL, 0, result_cap, opts,
                      out);
}

MPROC_API int mproc_task_imap_unordered(mproc_pool *pool, mproc_task_fn fn,
                                        const void *args, size_t arg_size, size_t n,
                                        size_t result_cap, const mproc_task_options *opts,
                                        mproc_async **out)
{
    return map_common(pool, MPROC__A_IMAP_UNORDERED, fn, args, arg_size, n, NULL, 0,
                      result_cap, opts, out);
}

/* Waits for a map-like async, then frees it. */
static int run_blocking(int rc, mproc_async *a)
{
    if (rc != 0)
        return rc;
    rc = mproc_async_get(a, -1, NULL, 0, NULL);
    mproc_async_free(a);
    return rc;
}

MPROC_API int mproc_task_map(mproc_pool *pool, mproc_task_fn fn, const void *args,
                             size_t arg_size, size_t n, void *results, size_t result_size,
                             const mproc_task_options *opts)
{
    if (pool == NULL)
        return MPROC_EINVAL;
    int rc = check_caller(pool);
    mproc_async *a = NULL;
    if (rc == 0)
        rc = mproc_task_map_async(pool, fn, args, arg_size, n, results, result_size, opts, &a);
    return run_blocking(rc, a);
}

MPROC_API int mproc_task_starmap_async(mproc_pool *pool, mproc_star_fn fn, int argc,
                                       const void *const *columns, const size_t *arg_sizes,
                                       size_t n, void *results, size_t result_size,
                                       const mproc_task_options *opts, mproc_async **out)
{
    if (pool == NULL || fn == NULL || out == NULL || argc < 1 || argc > MPROC_STAR_ARGS_MAX ||
        columns == NULL || arg_sizes == NULL || (results == NULL && result_size > 0 && n > 0))
        return MPROC_EINVAL;
    *out = NULL;
    size_t stride = 0;
    for (int k = 0; k < argc; k++) {
        if (columns[k] == NULL && arg_sizes[k] > 0 && n > 0)
            return MPROC_EINVAL;
        if (arg_sizes[k] > MPROC_TASK_ARG_MAX)
            return MPROC_ETOOBIG;
        stride += round16(arg_sizes[k]);
    }
    if (stride > MPROC_TASK_ARG_MAX || result_size > MPROC_TASK_RESULT_MAX)
        return MPROC_ETOOBIG;
    size_t bytes;
    if (__builtin_mul_overflow(n, stride, &bytes))
        return MPROC_EOVERFLOW;
    if (pool->creator != getpid())
        return MPROC_ESTATE;
    if (pool->start_method != MPROC_START_FORK)
        return MPROC_ESPAWNED; /* a task is a function pointer */
    struct mproc_async *a = mproc__async_new(MPROC__A_MAP, n);
    if (a == NULL)
        return MPROC_ENOMEM;
    a->star = true;
    a->fn = (void (*)(void))fn;
    a->argc = argc;
    a->arg_stride = stride;
    a->arg_size = stride;
    a->res_cap = result_size;
    a->results = results;
    a->res_stride = result_size;
    for (int k = 0, off = 0; k < argc; k++) {
        a->arg_sizes[k] = (uint32_t)arg_sizes[k];
        a->arg_offs[k] = (uint32_t)off;
        off += (int)round16(arg_sizes[k]);
    }
    if (bytes > 0) {
        if ((a->args = calloc(1, bytes)) == NULL) {
            mproc__async_destroy(NULL, a);
            return MPROC_ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < argc; k++)
                if (arg_sizes[k] > 0)
                    memcpy(a->args + i * stride + a->arg_offs[k],
                           (const char *)columns[k] + i * arg_sizes[k], arg_sizes[k]);
    }
    return submit(pool, a, opts, out);
}

MPROC_API int mproc_task_starmap(mproc_pool *pool, mproc_star_fn fn, int argc,
                                 const void *const *columns, const size_t *arg_sizes,
                                 size_t n, void *results, size_t result_size,
                                 const mproc_task_options *opts)
{
    if (pool == NULL)
        return MPROC_EINVAL;
    int rc = check_caller(pool);
    mproc_async *a = NULL;
    if (rc == 0)
        rc = mproc_task_starmap_async(pool, fn, argc, columns, arg_sizes, n, results,
                                      result_size, opts, &a);
    return run_blocking(rc, a);
}
