/* task_fns.c - see task_fns.h. */
#include "task_fns.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int tf_sqr(const void *arg, size_t size, void *res, size_t *res_size)
{
    int64_t x;
    if (size != sizeof x)
        return mproc_task_fail(-1, "tf_sqr wants 8 bytes, got %zu", size);
    memcpy(&x, arg, sizeof x);
    uint64_t y = (uint64_t)x * (uint64_t)x;
    memcpy(res, &y, sizeof y);
    *res_size = sizeof y;
    return 0;
}

int tf_sqr_sleep(const void *arg, size_t size, void *res, size_t *res_size)
{
    (void)size;
    const tf_sleep_arg *a = arg;
    tu_sleep_ms((unsigned)a->ms);
    int64_t y = a->x * a->x;
    memcpy(res, &y, sizeof y);
    *res_size = sizeof y;
    return 0;
}

int tf_pid(const void *arg, size_t size, void *res, size_t *res_size)
{
    (void)arg;
    (void)size;
    int32_t pid = (int32_t)getpid();
    memcpy(res, &pid, sizeof pid);
    *res_size = sizeof pid;
    return 0;
}

int tf_fail3(const void *arg, size_t size, void *res, size_t *res_size)
{
    (void)size;
    int32_t x = *(const int32_t *)arg;
    if (x % 3 == 0)
        return mproc_task_fail(100 + x, "bad input %d", x);
    int32_t y = x * 2;
    memcpy(res, &y, sizeof y);
    *res_size = sizeof y;
    return 0;
}

int tf_die(const void *arg, size_t size, void *res, size_t *res_size)
{
    (void)size;
    const tf_die_arg *a = arg;
    if (a->ms > 0)
        tu_sleep_ms((unsigned)a->ms);
    switch (a->how) {
    case TF_SIGKILL:
        raise(SIGKILL);
        break;
    case TF_SIGSEGV:
        signal(SIGSEGV, SIG_DFL); /* also under a sanitizer's handler */
        raise(SIGSEGV);
        break;
    case TF_EXIT3:
        _exit(3);
    default:
        break;
    }
    int32_t y = a->x * 10;
    memcpy(res, &y, sizeof y);
    *res_size = sizeof y;
    return 0;
}

int tf_echo(const void *arg, size_t size, void *res, size_t *res_size)
{
    if (size > *res_size)
        return mproc_task_fail(-2, "echo: %zu bytes do not fit in %zu", size, *res_size);
    if (size > 0)
        memcpy(res, arg, size);
    *res_size = size;
    return 0;
}

int tf_sleep(const void *arg, size_t size, void *res, size_t *res_size)
{
    (void)size;
    (void)res;
    tu_sleep_ms((unsigned)*(const int32_t *)arg);
    *res_size = 0;
    return 0;
}

int tf_too_big(const void *arg, size_t size, void *res, size_t *res_size)
{
    (void)arg;
    (void)size;
    (void)res;
    *res_size += 1; /* claims one byte more than it may write */
    return 0;
}

int tf_fill(const void *arg, size_t size, void *res, size_t *res_size)
{
    (void)size;
    uint32_t n = *(const uint32_t *)arg;
    memset(res, (int)(n & 0xff), n);
    *res_size = n;
    return 0;
}

static tf_init_state init_state;

void tf_init(void *arg)
{
    init_state.value = *(const int32_t *)arg;
    init_state.calls++;
    init_state.pid = (int32_t)getpid();
}

int tf_global(const void *arg, size_t size, void *res, size_t *res_size)
{
    (void)arg;
    (void)size;
    tf_init_state s = init_state;
    s.pid = s.pid == (int32_t)getpid() ? s.pid : -1; /* -1: it ran in another process */
    memcpy(res, &s, sizeof s);
    *res_size = sizeof s;
    return 0;
}

int tf_mul(int argc, const void *const *argv, const size_t *sizes, void *res,
           size_t *res_size)
{
    if (argc != 2 || sizes[0] != 8 || sizes[1] != 8)
        return mproc_task_fail(-1, "tf_mul: argc %d", argc);
    int64_t a, b;
    memcpy(&a, argv[0], 8);
    memcpy(&b, argv[1], 8);
    int64_t y = a * b;
    memcpy(res, &y, 8);
    *res_size = 8;
    return 0;
}

int tf_join3(int argc, const void *const *argv, const size_t *sizes, void *res,
             size_t *res_size)
{
    size_t cap = *res_size, len = 0;
    char *out = res;
    for (int k = 0; k < argc; k++) {
        if (((uintptr_t)argv[k] & 15u) != 0)
            return mproc_task_fail(-3, "argument %d not 16-byte aligned", k);
        size_t n = strnlen(argv[k], sizes[k]);
        if (len + n + 2 > cap)
            return mproc_task_fail(-2, "too long");
        if (k > 0)
            out[len++] = '-';
        memcpy(out + len, argv[k], n);
        len += n;
    }
    out[len++] = '\0';
    *res_size = len;
    return 0;
}

mproc_pool *tf_pool_opts(const mproc_pool_options *o)
{
    mproc_pool *p = NULL;
    int rc = mproc_pool_create(&p, o);
    ck_assert_msg(rc == 0, "mproc_pool_create: %s", tu_errname(rc));
    return p;
}

mproc_pool *tf_pool(int workers)
{
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = workers;
    o.caller_works = 0;
    return tf_pool_opts(&o);
}

void tf_destroy(mproc_pool *p)
{
    double t0 = tu_now();
    tu_assert_rc(mproc_pool_destroy(p), 0);
    ck_assert_msg(tu_now() - t0 < 3.0, "mproc_pool_destroy took %.2f s", tu_now() - t0);
}

void tf_wait_workers(mproc_pool *p, pid_t *pids, int cap)
{
    double t0 = tu_now();
    for (;;) {
        int n = mproc_pool_worker_pids(p, pids, cap);
        ck_assert_int_ge(n, 0);
        bool all = true;
        for (int i = 0; i < n && i < cap; i++)
            all &= pids[i] > 0;
        if (all)
            return;
        ck_assert_msg(tu_now() - t0 < 5.0, "workers were not replaced within 5 s");
        tu_sleep_ms(5);
    }
}
