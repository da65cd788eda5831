/*
 * test_spawn.c - pools whose workers are not forked, and kernels by name:
 *  - the kernel registry: names, dtypes, built-ins, kernel libraries (good, missing,
 *    without a table, with a bad entry);
 *  - MPROC_START_SPAWN with the `mproc` command as the worker program: exact maps with
 *    built-ins and with a library kernel, a spawn pool made from a threaded process,
 *    what cannot cross (function pointers, tasks, initializer), a worker program that
 *    is missing or refuses;
 *  - MPROC_START_MANUAL: workers started by hand with `mproc worker --pool NAME` square
 *    an array exactly once, leave on SIGTERM, are killed mid-map and recovered from,
 *    leave when the pool is destroyed; joining errors.
 * (The whole pool, torture and deaths suites also run with spawned workers: see
 * MPROC_TEST_START in tests/meson.build.)
 *
 * Environment (set by meson): MPROC_WORKER_EXE, the built `mproc`;
 * MPROC_TEST_KERNELS and MPROC_TEST_BAD_KERNELS, the two test kernel libraries.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

static const char *env_path(const char *var)
{
    const char *p = getenv(var);
    ck_assert_msg(p != NULL && *p, "%s is not set (run through meson test)", var);
    return p;
}

static int twice_i64(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)ctx;
    const int64_t *s = src;
    int64_t *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = 2 * s[i];
    return 0;
}

static int other_kernel(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)src;
    (void)dst;
    (void)n;
    (void)ctx;
    return 0;
}

static int task_fn(const void *arg, size_t arg_size, void *result, size_t *result_size)
{
    (void)arg;
    (void)arg_size;
    (void)result;
    *result_size = 0;
    return 0;
}

static void noop_init(void *arg) { (void)arg; }

static mproc_array *iota_i32(size_t n)
{
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, NULL, MPROC_INT32, n), 0);
    int32_t *d = mproc_array_data(a);
    for (size_t i = 0; i < n; i++)
        d[i] = (int32_t)(i % 46000);
    return a;
}

static void check_squares(const mproc_array *a, size_t n)
{
    const int32_t *d = mproc_array_data(a);
    for (size_t i = 0; i < n; i++) {
        int64_t v = (int64_t)(i % 46000);
        if (d[i] != (int32_t)(uint32_t)(v * v))
            ck_abort_msg("element %zu is %d, not %lld squared (once)", i, d[i], (long long)v);
    }
}

/* ---- the registry ----------------------------------------------------------------- */

START_TEST(test_registry)
{
    mproc_kernel k = NULL, sq = NULL;
    tu_assert_rc(mproc_kernel_find("square", MPROC_INT32, &k), 0);
    tu_assert_rc(mproc_kernel_get(MPROC_OP_SQUARE, MPROC_INT32, &sq), 0);
    ck_assert(k == sq);
    tu_assert_rc(mproc_kernel_find("nope", MPROC_INT32, &k), MPROC_EKERNELNAME);
    tu_assert_rc(mproc_kernel_find(NULL, MPROC_INT32, &k), MPROC_EINVAL);
    tu_assert_rc(mproc_kernel_find("square", MPROC_INT32, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_kernel_find("square", (mproc_dtype)99, &k), MPROC_EDTYPE);

    tu_assert_rc(mproc_kernel_register("twice", MPROC_INT64, twice_i64), 0);
    tu_assert_rc(mproc_kernel_find("twice", MPROC_INT64, &k), 0);
    ck_assert(k == twice_i64);
    tu_assert_rc(mproc_kernel_find("twice", MPROC_INT32, &k), MPROC_EKERNELNAME);
    /* an ANY entry serves every dtype; the exact one wins */
    tu_assert_rc(mproc_kernel_register("twice", MPROC_DTYPE_ANY, other_kernel), 0);
    tu_assert_rc(mproc_kernel_find("twice", MPROC_INT32, &k), 0);
    ck_assert(k == other_kernel);
    tu_assert_rc(mproc_kernel_find("twice", MPROC_INT64, &k), 0);
    ck_assert(k == twice_i64);

    tu_assert_rc(mproc_kernel_register("square", MPROC_INT32, twice_i64), MPROC_EINVAL);
    tu_assert_rc(mproc_kernel_register(NULL, MPROC_INT32, twice_i64), MPROC_EINVAL);
    tu_assert_rc(mproc_kernel_register("x", MPROC_INT32, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_kernel_register("", MPROC_INT32, twice_i64), MPROC_EKERNELNAME);
    tu_assert_rc(mproc_kernel_register("a b", MPROC_INT32, twice_i64), MPROC_EKERNELNAME);
    tu_assert_rc(mproc_kernel_register("a/b", MPROC_INT32, twice_i64), MPROC_EKERNELNAME);
    char longname[MPROC_KERNEL_NAME_MAX + 2];
    memset(longname, 'k', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    tu_assert_rc(mproc_kernel_register(longname, MPROC_INT32, twice_i64), MPROC_EKERNELNAME);
    longname[MPROC_KERNEL_NAME_MAX] = '\0';
    tu_assert_rc(mproc_kernel_register(longname, MPROC_INT32, twice_i64), 0);
    tu_assert_rc(mproc_kernel_register("y", (mproc_dtype)42, twice_i64), MPROC_EDTYPE);
}
END_TEST

START_TEST(test_kernel_libraries)
{
    mproc_kernel k;
    tu_assert_rc(mproc_kernel_find("triple_plus_one", MPROC_INT32, &k), MPROC_EKERNELNAME);
    tu_assert_rc(mproc_kernel_load(env_path("MPROC_TEST_KERNELS")), 0);
    tu_assert_rc(mproc_kernel_load(env_path("MPROC_TEST_KERNELS")), 0); /* twice: once */
    tu_assert_rc(mproc_kernel_find("triple_plus_one", MPROC_INT32, &k), 0);
    int32_t in[3] = {0, 1, -1}, out[3];
    tu_assert_rc(k(in, out, 3, NULL), 0);
    ck_assert(out[0] == 1 && out[1] == 4 && out[2] == -2);
    tu_assert_rc(mproc_kernel_find("triple_plus_one", MPROC_FLOAT64, &k), MPROC_EKERNELNAME);
    tu_assert_rc(mproc_kernel_find("slow_copy64", MPROC_FLOAT64, &k), 0);

    tu_assert_rc(mproc_kernel_load("/nonexistent/libnope.so"), MPROC_ELIBRARY);
    tu_assert_rc(mproc_kernel_load("/etc/passwd"), MPROC_ELIBRARY);
    tu_assert_rc(mproc_kernel_load("libm.so.6"), MPROC_ELIBRARY); /* no mproc_kernels */
    tu_assert_rc(mproc_kernel_load(env_path("MPROC_TEST_BAD_KERNELS")), MPROC_ELIBRARY);
    tu_assert_rc(mproc_kernel_find("fine_one", MPROC_INT32, &k), MPROC_EKERNELNAME);
    tu_assert_rc(mproc_kernel_load(NULL), MPROC_EINVAL);
}
END_TEST

/* ---- spawned workers ----------------------------------------------------------------- */

static mproc_pool *spawn_pool(int workers, int caller_works)
{
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = workers;
    o.caller_works = caller_works;
    o.start_method = MPROC_START_SPAWN;
    mproc_pool *p = NULL;
    tu_assert_rc(mproc_pool_create(&p, &o), 0);
    ck_assert_int_eq(mproc_pool_start_method(p), MPROC_START_SPAWN);
    return p;
}

START_TEST(test_spawn_square_exact)
{
    mproc_pool *p = spawn_pool(3, 0);
    /* the workers are children running the mproc program */
    pid_t pids[3];
    ck_assert_int_eq(mproc_pool_worker_pids(p, pids, 3), 3);
    for (int i = 0; i < 3; i++) {
        char link[64], target[4096];
        snprintf(link, sizeof link, "/proc/%d/exe", (int)pids[i]);
        ssize_t len = readlink(link, target, sizeof target - 1);
        ck_assert(len > 0);
        target[len] = '\0';
        ck_assert_msg(strstr(target, "mproc") != NULL, "worker runs %s", target);
    }
    size_t n = 3000001;
    mproc_array *a = iota_i32(n);
    tu_assert_rc(mproc_square(p, a), 0);
    check_squares(a, n);
    /* a named array and src -> dst with a built-in op taking a scalar */
    char name[TU_NAME_LEN];
    mproc_array *b = NULL;
    tu_assert_rc(mproc_array_create(&b, tu_name(name, "dst"), MPROC_INT32, n), 0);
    int32_t k = 3;
    tu_assert_rc(mproc_map_op(p, MPROC_OP_MUL, &k, a, b), 0);
    const int32_t *ad = mproc_array_data(a), *bd = mproc_array_data(b);
    for (size_t i = 0; i < n; i++)
        ck_assert(bd[i] == (int32_t)((uint32_t)ad[i] * 3u));
    tu_assert_rc(mproc_array_close(b), 0);
    tu_assert_rc(mproc_array_unlink(name), 0);
    tu_assert_rc(mproc_array_close(a), 0);
    mproc_pool_stats st;
    tu_assert_rc(mproc_pool_get_stats(p, &st), 0);
    ck_assert_int_eq(st.worker_deaths, 0);
    tu_assert_rc(mproc_pool_destroy(p), 0);
}
END_TEST

START_TEST(test_spawn_library_kernel)
{
    mproc_pool *p = spawn_pool(2, 0);
    size_t n = 1000000;
    mproc_array *a = iota_i32(n);
    tu_assert_rc(mproc_map_named(p, "triple_plus_one", NULL, 0, a, a), MPROC_EKERNELNAME);
    tu_assert_rc(mproc_pool_load_kernels(p, env_path("MPROC_TEST_KERNELS")), 0);
    tu_assert_rc(mproc_map_named(p, "triple_plus_one", NULL, 0, a, a), 0);
    const int32_t *d = mproc_array_data(a);
    for (size_t i = 0; i < n; i++)
        ck_assert(d[i] == (int32_t)(3u * (uint32_t)(i % 46000) + 1u));
    /* by pointer: the caller knows its name now, so the workers get the name */
    mproc_kernel k;
    tu_assert_rc(mproc_kernel_find("triple_plus_one", MPROC_INT32, &k), 0);
    tu_assert_rc(mproc_map(p, k, NULL, 0, a, a), 0);
    ck_assert(d[5] == (int32_t)(3u * 16u + 1u));
    tu_assert_rc(mproc_pool_load_kernels(p, "/nonexistent/lib.so"), MPROC_ELIBRARY);
    tu_assert_rc(mproc_pool_load_kernels(p, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_pool_destroy(p), 0);
}
END_TEST

START_TEST(test_spawn_what_cannot_cross)
{
    mproc_pool *p = spawn_pool(2, 1);
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, NULL, MPROC_INT64, 100000), 0);
    /* an unregistered function pointer means nothing to a spawned worker */
    tu_assert_rc(mproc_map(p, twice_i64, NULL, 0, a, a), MPROC_ESPAWNED);
    mproc_async *r = NULL;
    tu_assert_rc(mproc_task_apply_async(p, task_fn, NULL, 0, NULL, &r), MPROC_ESPAWNED);
    ck_assert_ptr_null(r);
    /* registered: it crosses by name (this program's workers are `mproc`, which does
     * not have it: their chunks fail, the caller's are done) */
    tu_assert_rc(mproc_kernel_register("twice_i64", MPROC_INT64, twice_i64), 0);
    int rc = mproc_map(p, twice_i64, NULL, 0, a, a);
    ck_assert_msg(rc == 0 || rc == MPROC_EKERNELNAME, "map: %s", tu_errname(rc));
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_pool_destroy(p), 0);

    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 2;
    o.start_method = MPROC_START_SPAWN;
    o.initializer = noop_init;
    tu_assert_rc(mproc_pool_create(&p, &o), MPROC_EINVAL);
    o.initializer = NULL;
    o.worker_exe = "/nonexistent/mproc";
    tu_assert_rc(mproc_pool_create(&p, &o), MPROC_ENOENT);
    o.worker_exe = "/bin/true"; /* exits at once: not a worker */
    tu_assert_rc(mproc_pool_create(&p, &o), MPROC_EWORKER);
    ck_assert_ptr_null(p);
    o.start_method = 7;
    o.worker_exe = NULL;
    tu_assert_rc(mproc_pool_create(&p, &o), MPROC_EINVAL);
    tu_assert_rc(mproc_set_start_method(0), MPROC_EINVAL);
    tu_assert_rc(mproc_set_start_method(9), MPROC_EINVAL);
    ck_assert_int_eq(mproc_get_start_method(), MPROC_START_FORK);
}
END_TEST

static void *spin_thread(void *arg)
{
    volatile int *stop = arg;
    while (!*stop)
        tu_sleep_ms(1);
    return NULL;
}

/* Spawn is the start method for a process that already runs threads. */
START_TEST(test_spawn_from_threaded_process)
{
    volatile int stop = 0;
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, spin_thread, (void *)&stop), 0);
    tu_assert_rc(mproc_set_start_method(MPROC_START_SPAWN), 0);
    mproc_pool *p = NULL;
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 2;
    tu_assert_rc(mproc_pool_create(&p, &o), 0); /* DEFAULT means spawn now */
    ck_assert_int_eq(mproc_pool_start_method(p), MPROC_START_SPAWN);
    size_t n = 500000;
    mproc_array *a = iota_i32(n);
    tu_assert_rc(mproc_square(p, a), 0);
    check_squares(a, n);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_pool_destroy(p), 0);
    stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
}
END_TEST

START_TEST(test_spawn_worker_bad_args)
{
    const char *exe = env_path("MPROC_WORKER_EXE");
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "'%s' --mproc-worker 2>/dev/null", exe);
    int st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    snprintf(cmd, sizeof cmd, "'%s' --mproc-worker nosuchpool-x 0 0 2>/dev/null", exe);
    st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}
END_TEST

/* ---- workers started by hand ----------------------------------------------------------- */

static pid_t start_worker(const char *pool)
{
    const char *exe = env_path("MPROC_WORKER_EXE");
    char *argv[] = {(char *)exe, "worker", "--pool", (char *)pool, NULL};
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, exe, NULL, NULL, argv, environ), 0);
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st = tu_wait(pid, 10.0);
    ck_assert_msg(st >= 0, "worker %d did not exit", (int)pid);
    return st;
}

static mproc_pool *manual_pool(char *name, int workers, int caller_works)
{
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = workers;
    o.caller_works = caller_works;
    o.start_method = MPROC_START_MANUAL;
    o.name = tu_name(name, "pool");
    mproc_pool *p = NULL;
    tu_assert_rc(mproc_pool_create(&p, &o), 0);
    ck_assert(tu_shm_exists(name));
    ck_assert_str_eq(mproc_pool_name(p), name);
    ck_assert_int_eq(mproc_pool_start_method(p), MPROC_START_MANUAL);
    return p;
}

START_TEST(test_manual_exactly_once)
{
    char name[TU_NAME_LEN];
    mproc_pool *p = manual_pool(name, 2, 0);
    size_t n = 2000003;
    mproc_array *a = iota_i32(n);
    /* nobody has joined and the caller does not work */
    tu_assert_rc(mproc_square(p, a), MPROC_ENOWORKER);
    tu_assert_rc(mproc_pool_wait_workers(p, 1, 50), MPROC_ETIMEDOUT);
    pid_t w1 = start_worker(name), w2 = start_worker(name);
    tu_assert_rc(mproc_pool_wait_workers(p, 2, 10000), 0);
    tu_assert_rc(mproc_square(p, a), 0);
    check_squares(a, n);
    /* one leaves on SIGTERM (exit 0); the other carries on alone */
    kill(w1, SIGTERM);
    int st = wait_exit(w1);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    mproc_array *b = iota_i32(n);
    tu_assert_rc(mproc_square(p, b), 0);
    check_squares(b, n);
    /* a third joins the freed slot; destroying the pool makes both leave cleanly */
    pid_t w3 = start_worker(name);
    tu_assert_rc(mproc_pool_wait_workers(p, 2, 10000), 0);
    tu_assert_rc(mproc_pool_destroy(p), 0);
    ck_assert(!tu_shm_exists(name));
    st = wait_exit(w2);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = wait_exit(w3);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_close(b), 0);
}
END_TEST

/* A joined worker killed mid-map: its chunk is recovered exactly once by the others. */
START_TEST(test_manual_kill_mid_map)
{
    char name[TU_NAME_LEN];
    mproc_pool *p = manual_pool(name, 3, 0);
    tu_assert_rc(mproc_pool_load_kernels(p, env_path("MPROC_TEST_KERNELS")), 0);
    tu_assert_rc(mproc_pool_set_chunk(p, 1000), 0);
    pid_t w[3] = {start_worker(name), start_worker(name), start_worker(name)};
    tu_assert_rc(mproc_pool_wait_workers(p, 3, 10000), 0);
    size_t n = 300000; /* 300 chunks of 1 ms each over 3 workers: ~100 ms */
    mproc_array *a = iota_i32(n);
    pid_t victim = tu_fork();
    if (victim == 0) {
        tu_sleep_ms(30);
        kill(w[1], SIGKILL);
        _exit(0);
    }
    tu_assert_rc(mproc_map_named(p, "slow_square", NULL, 0, a, a), 0);
    tu_assert_child_ok(victim, 10);
    check_squares(a, n);
    int st = wait_exit(w[1]);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    mproc_pool_stats s;
    tu_assert_rc(mproc_pool_get_stats(p, &s), 0);
    ck_assert_int_eq(s.worker_deaths, 1);
    /* the dead worker's slot is free again for a newcomer */
    w[1] = start_worker(name);
    tu_assert_rc(mproc_pool_wait_workers(p, 3, 10000), 0);
    mproc_array *b = iota_i32(n);
    tu_assert_rc(mproc_map_named(p, "slow_square", NULL, 0, b, b), 0);
    check_squares(b, n);
    tu_assert_rc(mproc_pool_destroy(p), 0);
    for (int i = 0; i < 3; i++) {
        st = wait_exit(w[i]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_close(b), 0);
}
END_TEST

START_TEST(test_manual_join_errors)
{
    char name[TU_NAME_LEN], arr[TU_NAME_LEN];
    tu_assert_rc(mproc_worker_serve(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_worker_serve("bad/name"), MPROC_ENAME);
    tu_assert_rc(mproc_worker_serve(tu_name(name, "nopool")), MPROC_ENOENT);
    /* an array is not a pool */
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create(&a, tu_name(arr, "arr"), MPROC_INT32, 10), 0);
    tu_assert_rc(mproc_worker_serve(arr), MPROC_EBADMAGIC);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_array_unlink(arr), 0);

    /* one slot: the second joiner is told the pool is full (exit 1 from the CLI) */
    mproc_pool *p = manual_pool(name, 1, 0);
    pid_t w1 = start_worker(name);
    tu_assert_rc(mproc_pool_wait_workers(p, 1, 10000), 0);
    pid_t w2 = start_worker(name);
    int st = wait_exit(w2);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    tu_assert_rc(mproc_pool_wait_workers(p, 2, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_pool_wait_workers(NULL, 1, 0), MPROC_EINVAL);

    /* name required; a name taken */
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.start_method = MPROC_START_MANUAL;
    mproc_pool *q = NULL;
    tu_assert_rc(mproc_pool_create(&q, &o), MPROC_EINVAL);
    o.name = name;
    tu_assert_rc(mproc_pool_create(&q, &o), MPROC_EEXIST);
    o.name = "bad name";
    tu_assert_rc(mproc_pool_create(&q, &o), MPROC_ENAME);
    tu_assert_rc(mproc_pool_destroy(p), 0);
    st = wait_exit(w1);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

/* Segments that are not a pool of this build: refused before anything is trusted. */
START_TEST(test_manual_join_forged_segments)
{
    char name[TU_NAME_LEN];
    unsigned char hdr[64] = "MPROCPOL";
    hdr[8] = 99; /* version 99 */
    ck_assert_int_eq(tu_shm_create_raw(tu_name(name, "v99"), 4096, hdr, sizeof hdr), 0);
    tu_assert_rc(mproc_worker_serve(name), MPROC_EVERSION);
    ck_assert_int_eq(tu_shm_unlink(name), 0);
    ck_assert_int_eq(tu_shm_create_raw(tu_name(name, "short"), 5, "MPROC", 5), 0);
    tu_assert_rc(mproc_worker_serve(name), MPROC_EBADMAGIC);
    ck_assert_int_eq(tu_shm_unlink(name), 0);
}
END_TEST

/* A worker joined by hand leaves (exit 0) when the pool's creator dies without
 * destroying the pool. */
START_TEST(test_manual_worker_leaves_when_creator_dies)
{
    char name[TU_NAME_LEN];
    tu_name(name, "orphan");
    pid_t creator = tu_fork();
    if (creator == 0) {
        mproc_pool_options o;
        mproc_pool_options_init(&o);
        o.workers = 2;
        o.caller_works = 0;
        o.start_method = MPROC_START_MANUAL;
        o.name = name;
        mproc_pool *p = NULL;
        if (mproc_pool_create(&p, &o) != 0)
            _exit(1);
        if (mproc_pool_wait_workers(p, 1, 10000) != 0)
            _exit(2);
        _exit(0); /* dies with the pool alive */
    }
    for (int i = 0; i < 5000 && !tu_shm_exists(name); i++)
        tu_sleep_ms(1);
    ck_assert(tu_shm_exists(name));
    pid_t w = start_worker(name);
    tu_assert_child_ok(creator, 10);
    int st = wait_exit(w); /* it looks at the creator about once a second */
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_eq(tu_shm_unlink(name), 0); /* the dead creator's name: ours to remove */
}
END_TEST

/* A fork pool with a name: its control segment is visible while it lives, then gone. */
START_TEST(test_named_fork_pool)
{
    char name[TU_NAME_LEN];
    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = 2;
    o.start_method = MPROC_START_FORK;
    o.name = tu_name(name, "forkpool");
    mproc_pool *p = NULL;
    tu_assert_rc(mproc_pool_create(&p, &o), 0);
    ck_assert(tu_shm_exists(name));
    size_t n = 400000;
    mproc_array *a = iota_i32(n);
    tu_assert_rc(mproc_square(p, a), 0);
    check_squares(a, n);
    tu_assert_rc(mproc_array_close(a), 0);
    tu_assert_rc(mproc_pool_destroy(p), 0);
    ck_assert(!tu_shm_exists(name));
}
END_TEST

/* The command line: `mproc map NAME KERNEL --lib PATH --start spawn|fork` on a big
 * array, every element checked through an attach. */
static int run_cmd(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(test_cli_map_library)
{
    char name[TU_NAME_LEN], cmd[9000];
    const char *exe = env_path("MPROC_WORKER_EXE"), *lib = env_path("MPROC_TEST_KERNELS");
    tu_name(name, "cli");
    snprintf(cmd, sizeof cmd, "'%s' create %s --dtype int32 --n 1000000 --fill iota", exe, name);
    ck_assert_int_eq(run_cmd(cmd), 0);
    const char *starts[] = {"spawn", "fork"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "'%s' map %s triple_plus_one --workers 3 --lib '%s' --start %s",
                 exe, name, lib, starts[i]);
        ck_assert_int_eq(run_cmd(cmd), 0);
    }
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_attach(&a, name, MPROC_INT32), 0);
    const int32_t *d = mproc_array_data(a);
    for (size_t i = 0; i < 1000000; i++) {
        uint32_t once = 3u * (uint32_t)i + 1u;
        ck_assert_msg(d[i] == (int32_t)(3u * once + 1u), "element %zu is %d", i, d[i]);
    }
    tu_assert_rc(mproc_array_close(a), 0);
    /* an unknown kernel, a missing library, a bad start method: usage errors */
    snprintf(cmd, sizeof cmd, "'%s' map %s nope --lib '%s' 2>/dev/null", exe, name, lib);
    ck_assert_int_eq(run_cmd(cmd), 2);
    snprintf(cmd, sizeof cmd, "'%s' map %s triple_plus_one --lib /nonexistent.so 2>/dev/null",
             exe, name);
    ck_assert_int_eq(run_cmd(cmd), 2);
    snprintf(cmd, sizeof cmd, "'%s' map %s square --start vfork 2>/dev/null", exe, name);
    ck_assert_int_eq(run_cmd(cmd), 2);
    tu_assert_rc(mproc_array_unlink(name), 0);
}
END_TEST

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
    Suite *s = suite_create("spawn");
    TCase *t = tc(s, "names", 20);
    tcase_add_test(t, test_registry);
    tcase_add_test(t, test_kernel_libraries);
    t = tc(s, "spawn", 30);
    tcase_add_test(t, test_spawn_square_exact);
    tcase_add_test(t, test_spawn_library_kernel);
    tcase_add_test(t, test_spawn_what_cannot_cross);
    tcase_add_test(t, test_spawn_from_threaded_process);
    tcase_add_test(t, test_spawn_worker_bad_args);
    t = tc(s, "manual", 30);
    tcase_add_test(t, test_manual_exactly_once);
    tcase_add_test(t, test_manual_kill_mid_map);
    tcase_add_test(t, test_manual_join_errors);
    tcase_add_test(t, test_manual_join_forged_segments);
    tcase_add_test(t, test_manual_worker_leaves_when_creator_dies);
    tcase_add_test(t, test_named_fork_pool);
    tcase_add_test(t, test_cli_map_library);
    return tu_run(s);
}
