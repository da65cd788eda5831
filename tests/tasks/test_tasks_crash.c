/*
 * test_tasks_crash.c - Pool tasks when workers die or are replaced: a worker killed by
 * SIGKILL / SIGSEGV / _exit during a task (that task reports MPROC_EWORKER and the
 * signal, the others complete, the pool stays usable), a death in the middle of a chunk,
 * a worker killed from outside, deaths while an array map runs, terminate with 10,000
 * queued sleeping tasks, destroy with tasks outstanding, maxtasksperchild (worker pids
 * change), the initializer (also in replacements), and workers killed at random while
 * thousands of tasks are claimed and reported.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "task_fns.h"

static void die_args(tf_die_arg *args, size_t n, size_t victim, int how, int ms)
{
    for (size_t i = 0; i < n; i++)
        args[i] = (tf_die_arg){.x = (int32_t)i, .how = i == victim ? how : TF_LIVE, .ms = ms};
}

static void assert_worker_death(mproc_async *a, size_t i, int signal, int exit_status)
{
    mproc_task_failure f;
    tu_assert_rc(mproc_async_item(a, i, NULL, &f), MPROC_EWORKER);
    ck_assert_uint_eq(f.index, i);
    ck_assert_int_eq(f.error, MPROC_EWORKER);
    ck_assert_int_eq(f.signal, signal);
    ck_assert_int_eq(f.exit_status, exit_status);
    ck_assert_int_gt(f.pid, 0);
    ck_assert_msg(strstr(f.message, "worker") != NULL, "message: %s", f.message);
}

/* ---- deaths during tasks ------------------------------------------------------------------- */

START_TEST(test_sigkill_during_task)
{
    mproc_pool *p = tf_pool(2);
    pid_t before[2];
    tf_wait_workers(p, before, 2);
    const size_t n = 20;
    tf_die_arg args[20];
    die_args(args, n, 7, TF_SIGKILL, 1);
    int32_t ys[20];
    memset(ys, 0, sizeof ys);
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.chunksize = 1;
    mproc_async *a;
    tu_assert_rc(mproc_task_map_async(p, tf_die, args, sizeof args[0], n, ys, 4, &o, &a), 0);
    tu_assert_rc(mproc_async_get(a, 10000, NULL, 0, NULL), MPROC_EWORKER);
    assert_worker_death(a, 7, SIGKILL, -1);
    mproc_task_failure f;
    tu_assert_rc(mproc_async_failure(a, &f), 0);
    ck_assert_uint_eq(f.index, 7);
    ck_assert(f.pid == before[0] || f.pid == before[1]);
    for (size_t i = 0; i < n; i++)
        if (i != 7) {
            tu_assert_rc(mproc_async_item(a, i, NULL, NULL), 0);
            ck_assert_int_eq(ys[i], (int32_t)i * 10);
        }
    mproc_async_free(a);
    /* the pool is usable, the dead worker replaced, the death counted once */
    int64_t y;
    tu_assert_rc(mproc_task_apply(p, tf_sqr, &(int64_t){9}, 8, &y, 8, NULL), 0);
    ck_assert_int_eq(y, 81);
    pid_t after[2];
    double t0 = tu_now();
    for (;;) {
        tf_wait_workers(p, after, 2);
        if ((after[0] != f.pid && after[1] != f.pid) || tu_now() - t0 > 5)
            break;
        tu_sleep_ms(5);
    }
    ck_assert(after[0] != f.pid && after[1] != f.pid);
    mproc_pool_stats st;
    mproc_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.worker_deaths, 1);
    ck_assert_int_eq(tu_children(NULL, 0), 2);
    tf_destroy(p);
}
END_TEST

START_TEST(test_segv_and_exit_during_task)
{
    mproc_pool *p = tf_pool(1);
    tf_die_arg segv = {.x = 1, .how = TF_SIGSEGV}, ex = {.x = 2, .how = TF_EXIT3};
    mproc_async *a;
    tu_assert_rc(mproc_task_apply_async(p, tf_die, &segv, sizeof segv, NULL, &a), 0);
    tu_assert_rc(mproc_async_get(a, 10000, NULL, 0, NULL), MPROC_EWORKER);
    assert_worker_death(a, 0, SIGSEGV, -1);
    mproc_async_free(a);
    tu_assert_rc(mproc_task_apply_async(p, tf_die, &ex, sizeof ex, NULL, &a), 0);
    tu_assert_rc(mproc_async_get(a, 10000, NULL, 0, NULL), MPROC_EWORKER);
    assert_worker_death(a, 0, 0, 3);
    mproc_async_free(a);
    /* blocking apply reports it as well, and the next one works */
    tu_assert_rc(mproc_task_apply(p, tf_die, &segv, sizeof segv, NULL, 0, NULL), MPROC_EWORKER);
    int32_t y;
    tu_assert_rc(mproc_task_apply(p, tf_die, &(tf_die_arg){.x = 4}, sizeof ex, &y, 4, NULL), 0);
    ck_assert_int_eq(y, 40);
    mproc_pool_stats st;
    mproc_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.worker_deaths, 3);
    tf_destroy(p);
}
END_TEST

START_TEST(test_death_mid_chunk)
{
    mproc_pool *p = tf_pool(2);
    const size_t n = 40;
    tf_die_arg args[40];
    die_args(args, n, 15, TF_SIGKILL, 0);
    int32_t ys[40];
    memset(ys, 0, sizeof ys);
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.chunksize = 10; /* chunk [10, 20) dies at its 6th task */
    mproc_async *a;
    tu_assert_rc(mproc_task_map_async(p, tf_die, args, sizeof args[0], n, ys, 4, &o, &a), 0);
    tu_assert_rc(mproc_async_get(a, 10000, NULL, 0, NULL), MPROC_EWORKER);
    assert_worker_death(a, 15, SIGKILL, -1);
    /* the chunk's tasks before the death were kept, those after it ran again elsewhere */
    for (size_t i = 0; i < n; i++)
        if (i != 15) {
            tu_assert_rc(mproc_async_item(a, i, NULL, NULL), 0);
            ck_assert_int_eq(ys[i], (int32_t)i * 10);
        }
    mproc_async_free(a);
    /* imap too */
    tu_assert_rc(mproc_task_imap(p, tf_die, args, sizeof args[0], n, 4, &o, &a), 0);
    for (size_t i = 0; i < n; i++) {
        int32_t y = -1;
        size_t idx;
        int rc = mproc_imap_next(a, 10000, &y, 4, NULL, &idx);
        ck_assert_uint_eq(idx, i);
        tu_assert_rc(rc, i == 15 ? MPROC_EWORKER : 0);
        if (i != 15)
            ck_assert_int_eq(y, (int32_t)i * 10);
    }
    mproc_async_free(a);
    tf_destroy(p);
}
END_TEST

START_TEST(test_killed_from_outside)
{
    mproc_pool *p = tf_pool(1);
    pid_t w[1];
    tf_wait_workers(p, w, 1);
    tf_sleep_arg slow = {.x = 3, .ms = 5000};
    mproc_async *a, *rest[5];
    tu_assert_rc(mproc_task_apply_async(p, tf_sqr_sleep, &slow, sizeof slow, NULL, &a), 0);
    for (int i = 0; i < 5; i++) /* queued behind it: they must run on the replacement */
        tu_assert_rc(mproc_task_apply_async(p, tf_sqr, &(int64_t){i}, 8, NULL, &rest[i]), 0);
    tu_sleep_ms(100);
    ck_assert_int_eq(kill(w[0], SIGKILL), 0);
    double t0 = tu_now();
    tu_assert_rc(mproc_async_get(a, 5000, NULL, 0, NULL), MPROC_EWORKER);
    ck_assert_msg(tu_now() - t0 < 1.0, "the death took %.3f s to be noticed", tu_now() - t0);
    assert_worker_death(a, 0, SIGKILL, -1);
    mproc_async_free(a);
    for (int i = 0; i < 5; i++) {
        int64_t y;
        tu_assert_rc(mproc_async_get(rest[i], 5000, &y, 8, NULL), 0);
        ck_assert_int_eq(y, i * i);
        mproc_async_free(rest[i]);
    }
    pid_t now[1];
    tf_wait_workers(p, now, 1);
    ck_assert_int_ne(now[0], w[0]);
    tf_destroy(p);
}
END_TEST

START_TEST(test_idle_and_all_workers_killed)
{
    mproc_pool *p = tf_pool(2);
    pid_t w[2];
    tf_wait_workers(p, w, 2);
    /* an idle worker dies: tasks still run, and it is replaced */
    kill(w[0], SIGKILL);
    pid_t dead = w[0];
    int64_t xs[50], ys[50];
    for (int i = 0; i < 50; i++)
        xs[i] = i;
    tu_assert_rc(mproc_task_map(p, tf_sqr, xs, 8, 50, ys, 8, NULL), 0);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(ys[i], i * i);
    double t0 = tu_now();
    do {
        int64_t y;
        tu_assert_rc(mproc_task_apply(p, tf_sqr, &(int64_t){1}, 8, &y, 8, NULL), 0);
        tf_wait_workers(p, w, 2);
        ck_assert_msg(tu_now() - t0 < 2.0, "the dead idle worker was not replaced in 2 s");
    } while (w[0] == dead);
    /* both die while tasks are running and queued: the running ones fail, the queued
     * ones complete on the replacements */
    tf_sleep_arg sl[10];
    for (int i = 0; i < 10; i++)
        sl[i] = (tf_sleep_arg){.x = i, .ms = i < 2 ? 3000 : 10};
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.chunksize = 1;
    mproc_async *a;
    tu_assert_rc(mproc_task_map_async(p, tf_sqr_sleep, sl, sizeof sl[0], 10, ys, 8, &o, &a), 0);
    tu_sleep_ms(150);
    tf_wait_workers(p, w, 2);
    kill(w[0], SIGKILL);
    kill(w[1], SIGKILL);
    tu_assert_rc(mproc_async_get(a, 10000, NULL, 0, NULL), MPROC_EWORKER);
    int deaths = 0;
    for (int i = 0; i < 10; i++) {
        int rc = mproc_async_item(a, (size_t)i, NULL, NULL);
        if (rc == MPROC_EWORKER)
            deaths++;
        else {
            tu_assert_rc(rc, 0);
            ck_assert_int_eq(ys[i], i * i);
        }
    }
    ck_assert_int_eq(deaths, 2);
    tu_assert_rc(mproc_async_item(a, 0, NULL, NULL), MPROC_EWORKER);
    tu_assert_rc(mproc_async_item(a, 1, NULL, NULL), MPROC_EWORKER);
    mproc_async_free(a);
    tf_destroy(p);
}
END_TEST

struct map_loop {
    mproc_pool *pool;
    mproc_array *arr;
    volatile int stop;
    int bad, maps;
};

static void *map_loop(void *v)
{
    struct map_loop *m = v;
    int64_t *d = mproc_array_data(m->arr);
    size_t n = mproc_array_length(m->arr);
    while (!m->stop) {
        for (size_t i = 0; i < n; i++)
            d[i] = (int64_t)i;
        if (mproc_square(m->pool, m->arr) != 0)
            m->bad++;
        for (size_t i = 0; i < n; i++)
            m->bad += d[i] != (int64_t)(i * i);
        m->maps++;
    }
    return NULL;
}

START_TEST(test_death_while_map_runs)
{
    /* the map thread holds the pool lock most of the time, so it is the map's
     * supervision that finds the dead worker: the task must still learn of it */
    mproc_pool_options po;
    mproc_pool_options_init(&po);
    po.workers = 3;
    mproc_pool *p = tf_pool_opts(&po);
    struct map_loop m = {.pool = p};
    tu_assert_rc(mproc_array_create(&m.arr, NULL, MPROC_INT64, 400000), 0);
    pthread_t th;
    pthread_create(&th, NULL, map_loop, &m);
    for (int k = 0; k < 3; k++) {
        tf_die_arg d = {.x = k, .how = TF_SIGKILL, .ms = 20};
        mproc_async *a;
        tu_assert_rc(mproc_task_apply_async(p, tf_die, &d, sizeof d, NULL, &a), 0);
        tu_assert_rc(mproc_async_get(a, 10000, NULL, 0, NULL), MPROC_EWORKER);
        assert_worker_death(a, 0, SIGKILL, -1);
        mproc_async_free(a);
        int32_t y;
        tu_assert_rc(mproc_task_apply(p, tf_die, &(tf_die_arg){.x = k}, sizeof d, &y, 4, NULL),
                     0);
        ck_assert_int_eq(y, k * 10);
    }
    m.stop = 1;
    pthread_join(th, NULL);
    ck_assert_int_eq(m.bad, 0);
    ck_assert_int_gt(m.maps, 0);
    mproc_array_close(m.arr);
    tf_destroy(p);
}
END_TEST

struct killer {
    mproc_pool *pool;
    mproc_async *a;
    int kills;
};

static void *killer_main(void *v)
{
    struct killer *k = v;
    uint64_t seed = 0x9e3779b97f4a7c15u;
    double t0 = tu_now();
    while (!mproc_async_ready(k->a) && tu_now() - t0 < 3.0) {
        pid_t pids[2];
        int n = mproc_pool_worker_pids(k->pool, pids, 2);
        pid_t victim = pids[tu_rand(&seed) % (uint64_t)n];
        if (victim > 0 && kill(victim, SIGKILL) == 0)
            k->kills++;
        tu_sleep_ms(2 + (unsigned)(tu_rand(&seed) % 4));
    }
    return NULL;
}

START_TEST(test_kill_torture)
{
    /* Workers killed at random while they claim, run and report tiny tasks (some in
     * chunks): every task gets exactly one outcome, 0 with the right result or
     * MPROC_EWORKER, never more failures than kills, and the pool carries on. */
    mproc_pool *p = tf_pool(2);
    const size_t n = 4000;
    tf_sleep_arg *sl = calloc(n, sizeof *sl);
    int64_t *ys = calloc(n, 8);
    for (size_t i = 0; i < n; i++)
        sl[i] = (tf_sleep_arg){.x = (int64_t)i, .ms = i % 64 == 0 ? 1 : 0};
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.chunksize = _i == 0 ? 1 : 3;
    struct killer k = {.pool = p};
    tu_assert_rc(mproc_task_map_async(p, tf_sqr_sleep, sl, sizeof *sl, n, ys, 8, &o, &k.a), 0);
    pthread_t th;
    pthread_create(&th, NULL, killer_main, &k);
    int rc = mproc_async_get(k.a, 30000, NULL, 0, NULL);
    pthread_join(th, NULL);
    ck_assert_msg(rc == 0 || rc == MPROC_EWORKER, "get: %s", tu_errname(rc));
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        int st = mproc_async_item(k.a, i, NULL, NULL);
        if (st == MPROC_EWORKER)
            failed++;
        else {
            tu_assert_rc(st, 0);
            ck_assert_msg(ys[i] == (int64_t)(i * i), "task %zu: %lld", i, (long long)ys[i]);
        }
    }
    ck_assert_msg(failed <= k.kills, "%d failed tasks for %d kills", failed, k.kills);
    mproc_async_free(k.a);
    memset(ys, 0, n * 8);
    tu_assert_rc(mproc_task_map(p, tf_sqr_sleep, sl, sizeof *sl, n, ys, 8, &o), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(ys[i], (int64_t)(i * i));
    fprintf(stderr, "kill torture (chunksize %zu): %d kills, %d tasks failed of %zu\n",
            o.chunksize, k.kills, failed, n);
    free(sl);
    free(ys);
    tf_destroy(p);
}
END_TEST

/* ---- terminate and destroy ------------------------------------------------------------------ */

static void count_cb(void *user, const void *r, size_t s)
{
    (void)r;
    (void)s;
    __atomic_fetch_add((int *)user, 1, __ATOMIC_SEQ_CST);
}

static void count_err(void *user, const mproc_task_failure *f)
{
    (void)f;
    __atomic_fetch_add((int *)user, 1, __ATOMIC_SEQ_CST);
}

START_TEST(test_terminate_10000)
{
    mproc_pool *p = tf_pool(2);
    const size_t n = 10000;
    int32_t *ms = malloc(n * sizeof *ms);
    for (size_t i = 0; i < n; i++)
        ms[i] = 1000;
    int calls = 0;
    mproc_task_options o;
    mproc_task_options_init(&o);
    o.chunksize = 1;
    o.callback = count_cb;
    o.error_callback = count_err;
    o.user = &calls;
    mproc_async *quick, *a;
    tu_assert_rc(mproc_task_apply_async(p, tf_sqr, &(int64_t){5}, 8, NULL, &quick), 0);
    tu_assert_rc(mproc_async_wait(quick, 5000), 0);
    tu_assert_rc(mproc_task_map_async(p, tf_sleep, ms, 4, n, NULL, 0, &o, &a), 0);
    tu_sleep_ms(100);
    double t0 = tu_now();
    tu_assert_rc(mproc_pool_terminate(p), 0);
    double took = tu_now() - t0;
    ck_assert_msg(took < 1.0, "terminate took %.3f s", took);
    t0 = tu_now();
    tu_assert_rc(mproc_pool_join(p), 0);
    ck_assert_msg(tu_now() - t0 < 0.5, "join after terminate took %.3f s", tu_now() - t0);
    ck_assert_int_eq(tu_children(NULL, 0), 0); /* the workers are gone */
    ck_assert_int_eq(mproc_async_ready(a), 1);
    tu_assert_rc(mproc_async_get(a, 0, NULL, 0, NULL), MPROC_ETERMINATED);
    tu_assert_rc(mproc_async_item(a, n - 1, NULL, NULL), MPROC_ETERMINATED);
    ck_assert_int_eq(calls, 0); /* no callbacks for terminated results */
    /* what had finished is kept */
    int64_t y;
    tu_assert_rc(mproc_async_get(quick, 0, &y, 8, NULL), 0);
    ck_assert_int_eq(y, 25);
    mproc_async_free(quick);
    mproc_async_free(a);
    /* no more tasks; terminate again is harmless */
    tu_assert_rc(mproc_task_apply(p, tf_sqr, &(int64_t){1}, 8, &y, 8, NULL), MPROC_ESTATE);
    tu_assert_rc(mproc_pool_terminate(p), 0);
    /* maps still work: they fork new workers */
    mproc_array *arr;
    tu_assert_rc(mproc_array_create_from(&arr, NULL, MPROC_INT32, (int32_t[]){2, 3}, 2), 0);
    tu_assert_rc(mproc_square(p, arr), 0);
    ck_assert_int_eq(((int32_t *)mproc_array_data(arr))[1], 9);
    mproc_array_close(arr);
    free(ms);
    tf_destroy(p);
}
END_TEST

START_TEST(test_destroy_with_outstanding)
{
    mproc_pool *p = tf_pool(2);
    const size_t n = 1000;
    int32_t *ms = malloc(n * sizeof *ms);
    for (size_t i = 0; i < n; i++)
        ms[i] = 2000;
    mproc_async *a, *b;
    tu_assert_rc(mproc_task_map_async(p, tf_sleep, ms, 4, n, NULL, 0, NULL, &a), 0);
    tu_assert_rc(mproc_task_apply_async(p, tf_sleep, ms, 4, NULL, &b), 0);
    tu_sleep_ms(50);
    tf_destroy(p); /* prompt: the running tasks' workers are killed */
    ck_assert_int_eq(tu_children(NULL, 0), 0);
    /* the results outlive the pool */
    ck_assert_int_eq(mproc_async_ready(a), 1);
    tu_assert_rc(mproc_async_get(a, -1, NULL, 0, NULL), MPROC_ETERMINATED);
    tu_assert_rc(mproc_async_get(b, -1, NULL, 0, NULL), MPROC_ETERMINATED);
    tu_assert_rc(mproc_async_free(a), 0);
    tu_assert_rc(mproc_async_free(b), 0);
    free(ms);
}
END_TEST

/* ---- maxtasksperchild, initializer --------------------------------------------------------- */

static int32_t init_value = 42;

START_TEST(test_maxtasksperchild)
{
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 3;
    o.caller_works = 0;
    o.maxtasksperchild = 10;
    mproc_pool *p = tf_pool_opts(&o);
    pid_t orig[3], fin[3];
    tf_wait_workers(p, orig, 3);
    mproc_async *as[100];
    for (int i = 0; i < 100; i++)
        tu_assert_rc(mproc_task_apply_async(p, tf_pid, NULL, 0, NULL, &as[i]), 0);
    int32_t pids[100];
    for (int i = 0; i < 100; i++) {
        tu_assert_rc(mproc_async_get(as[i], 10000, &pids[i], 4, NULL), 0);
        mproc_async_free(as[i]);
    }
    /* each process ran at most 10 tasks, so at least 10 processes ran them */
    int distinct = 0;
    for (int i = 0; i < 100; i++) {
        int count = 0;
        bool first = true;
        for (int j = 0; j < 100; j++) {
            count += pids[j] == pids[i];
            if (j < i && pids[j] == pids[i])
                first = false;
        }
        ck_assert_msg(count <= 10, "worker %d ran %d tasks", pids[i], count);
        distinct += first;
    }
    ck_assert_int_ge(distinct, 10);
    tf_wait_workers(p, fin, 3);
    bool changed = false;
    for (int i = 0; i < 3; i++)
        changed |= fin[i] != orig[i];
    ck_assert(changed);
    mproc_pool_stats st;
    mproc_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.worker_deaths, 0); /* retiring is not dying */
    /* a map counts one task per chunk */
    int32_t ys[200];
    mproc_task_options to;
    mproc_task_options_init(&to);
    to.chunksize = 20;
    tu_assert_rc(mproc_task_map(p, tf_pid, NULL, 0, 200, ys, 4, &to), 0);
    tf_destroy(p);
}
END_TEST

START_TEST(test_initializer)
{
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 2;
    o.caller_works = 0;
    o.initializer = tf_init;
    o.initarg = &init_value;
    o.maxtasksperchild = 3; /* replacements run it too */
    mproc_pool *p = tf_pool_opts(&o);
    tf_init_state s[30];
    mproc_task_options to;
    mproc_task_options_init(&to);
    to.chunksize = 1;
    tu_assert_rc(mproc_task_map(p, tf_global, NULL, 0, 30, s, sizeof s[0], &to), 0);
    for (int i = 0; i < 30; i++) {
        ck_assert_int_eq(s[i].value, 42);
        ck_assert_int_eq(s[i].calls, 1);
        ck_assert_int_gt(s[i].pid, 0); /* it ran in the process that runs the task */
        ck_assert_int_ne(s[i].pid, getpid());
    }
    tf_destroy(p);
}
END_TEST

/* ---- suite ------------------------------------------------------------------------------------- */

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
    Suite *s = suite_create("tasks_crash");
    TCase *t = tc(s, "deaths", 30);
    tcase_add_test(t, test_sigkill_during_task);
    tcase_add_test(t, test_segv_and_exit_during_task);
    tcase_add_test(t, test_death_mid_chunk);
    tcase_add_test(t, test_killed_from_outside);
    tcase_add_test(t, test_idle_and_all_workers_killed);
    tcase_add_test(t, test_death_while_map_runs);
    tcase_add_loop_test(t, test_kill_torture, 0, 2);
    t = tc(s, "terminate", 30);
    tcase_add_test(t, test_terminate_10000);
    tcase_add_test(t, test_destroy_with_outstanding);
    t = tc(s, "lifecycle", 30);
    tcase_add_test(t, test_maxtasksperchild);
    tcase_add_test(t, test_initializer);
    return tu_run(s);
}
