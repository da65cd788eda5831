/*
 * task_fns.h - task functions and helpers shared by the task suites. Task functions are
 * plain functions of the test program: forked workers have them at the same address.
 */
#ifndef MPROC_TEST_TASK_FNS_H
#define MPROC_TEST_TASK_FNS_H

#include "testutil.h"

#include <stdint.h>

/* A sleeping square: x * x after ms milliseconds. */
typedef struct tf_sleep_arg {
    int64_t x;
    int32_t ms;
    int32_t pad;
} tf_sleep_arg;

/* How tf_die dies on its victim index. */
enum { TF_LIVE = 0, TF_SIGKILL = 1, TF_SIGSEGV = 2, TF_EXIT3 = 3 };
typedef struct tf_die_arg {
    int32_t x;      /* the result is x * 10 */
    int32_t how;    /* TF_*: what to do (on this task) */
    int32_t ms;     /* sleep first */
    int32_t pad;
} tf_die_arg;

int tf_sqr(const void *arg, size_t size, void *res, size_t *res_size);       /* i64 */
int tf_sqr_sleep(const void *arg, size_t size, void *res, size_t *res_size); /* tf_sleep_arg */
int tf_pid(const void *arg, size_t size, void *res, size_t *res_size);       /* -> i32 pid */
int tf_fail3(const void *arg, size_t size, void *res, size_t *res_size);     /* i32 */
int tf_die(const void *arg, size_t size, void *res, size_t *res_size);       /* tf_die_arg */
int tf_echo(const void *arg, size_t size, void *res, size_t *res_size);      /* bytes */
int tf_sleep(const void *arg, size_t size, void *res, size_t *res_size);     /* i32 ms */
int tf_too_big(const void *arg, size_t size, void *res, size_t *res_size);
int tf_fill(const void *arg, size_t size, void *res, size_t *res_size); /* u32 n: n bytes */
int tf_global(const void *arg, size_t size, void *res, size_t *res_size); /* -> init state */
int tf_mul(int argc, const void *const *argv, const size_t *sizes, void *res,
           size_t *res_size); /* i64 * i64 */
int tf_join3(int argc, const void *const *argv, const size_t *sizes, void *res,
             size_t *res_size); /* three strings, joined with '-' */

/* The initializer: records initarg's value and counts its calls in this process. */
typedef struct tf_init_state {
    int32_t value;
    int32_t calls;
    int32_t pid;
    int32_t pad;
} tf_init_state;
void tf_init(void *arg); /* arg: const int32_t * */

/* A pool of `workers` forked workers (caller_works = 0), as Python's Pool(workers). */
mproc_pool *tf_pool(int workers);
mproc_pool *tf_pool_opts(const mproc_pool_options *o);
void tf_destroy(mproc_pool *p);
/* Waits (up to 5 s) until every worker of p has a pid again; returns them in pids. */
void tf_wait_workers(mproc_pool *p, pid_t *pids, int cap);

#endif
