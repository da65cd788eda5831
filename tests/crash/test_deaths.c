/*
 * test_deaths.c - workers that die of their kernel, workers that die idle, and the
 * death of a pool's creator (issue 4, items 1 and 3).
 *
 *  - Poison kernels: a kernel that dies (SIGSEGV, or _exit(3)) on one value fails its
 *    chunk after max_retries + 1 deaths (0, 3 and 5 retries): the map returns
 *    MPROC_EWORKER, mproc_pool_last_failure names the element range, the signal or exit
 *    status and the deaths; every other element is squared exactly once, the failed
 *    range is left as it was (with a chunk bigger than a worker's scratch, the pieces
 *    committed before the death stay squared once), and the pool works afterwards.
 *    caller_works = 0 throughout, so that the poison never runs in the test process.
 *  - A worker killed while idle between maps: the next map succeeds, counts the death,
 *    retries nothing and replaces that worker only.
 *  - The creator of a pool is SIGKILLed (idle, mid-map, many workers): its workers are
 *    gone within a second (the test process is a subreaper, so they are reparented to
 *    it and reaped here), and its named array stays, reclaimable because its creator is
 *    dead.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crashutil.h"

/* ---- poison kernels ------------------------------------------------------------------- */

#define POISON_VALUE (-123456789)

typedef struct poison_ctx {
    int32_t value; /* the element that kills */
    int mode;      /* 0: die of SIGSEGV; else _exit(mode) */
} poison_ctx;

/* Squares int32 elements, but dies on the poison value: a kernel with a bug. */
static int poison_square(const void *src, void *dst, size_t n, const void *ctx)
{
    const poison_ctx *p = ctx;
    const int32_t *s = src;
    int32_t *d = dst;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == p->value) {
            if (p->mode == 0) {
                signal(SIGSEGV, SIG_DFL); /* also under a sanitizer's handler */
                raise(SIGSEGV);
            }
            _exit(p->mode);
        }
        d[i] = (int32_t)((uint32_t)s[i] * (uint32_t)s[i]);
    }
    return 0;
}

typedef struct poison_case {
    int max_retries;
    int mode;     /* poison_ctx.mode */
    size_t chunk; /* 0: automatic */
    double where; /* poison index as a fraction of n */
} poison_case;

static void run_poison(const poison_case *pc)
{
    const size_t n = CU_N;
    int32_t *orig = malloc(n * sizeof *orig), *want = malloc(n * sizeof *want);
    ck_assert(orig != NULL && want != NULL);
    cu_fill_values(MPROC_INT32, orig, n, 7);
    size_t pi = (size_t)((double)n * pc->where);
    orig[pi] = POISON_VALUE;
    tu_ref_apply(MPROC_OP_SQUARE, MPROC_INT32, orig, want, n, NULL);

    /* caller_works = 0: the poison must kill workers, never the test process. */
    mproc_pool *pool = cu_pool(2, 0, pc->chunk, pc->max_retries);
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create_from(&a, NULL, MPROC_INT32, orig, n), 0);
    poison_ctx ctx = {POISON_VALUE, pc->mode};
    double t0 = tu_now();
    int rc = mproc_map(pool, poison_square, &ctx, sizeof ctx, a, a);
    double t = tu_now() - t0;
    tu_assert_rc(rc, MPROC_EWORKER);
    ck_assert_msg(t < CU_MAP_LIMIT_S, "the failing map took %.2f s", t);

    mproc_map_failure f;
    tu_assert_rc(mproc_pool_last_failure(pool, &f), 0);
    size_t chunk = mproc_pool_chunk_for(pool, n, sizeof(int32_t));
    size_t cstart = pi / chunk * chunk, cend = cstart + chunk < n ? cstart + chunk : n;
    fprintf(stderr,
            "poison (retries %d, mode %d, chunk %zu) at %zu: failure [%zu, %zu) signal %d "
            "exit %d deaths %d; chunk [%zu, %zu)\n",
            pc->max_retries, pc->mode, chunk, pi, f.start, f.end, f.signal, f.exit_status,
            f.deaths, cstart, cend);
    ck_assert_msg(f.start >= cstart && f.start <= pi && f.end == cend,
                  "failure [%zu, %zu) does not name the poisoned chunk's rest [%zu.., %zu) "
                  "holding %zu",
                  f.start, f.end, cstart, cend, pi);
    if (pc->mode == 0) {
        ck_assert_int_eq(f.signal, SIGSEGV);
        ck_assert_int_eq(f.exit_status, -1);
    } else {
        ck_assert_int_eq(f.signal, 0);
        ck_assert_int_eq(f.exit_status, pc->mode);
    }
    ck_assert_int_eq(f.deaths, pc->max_retries + 1);
    mproc_pool_stats s = cu_stats(pool);
    ck_assert_msg(s.worker_deaths == (uint64_t)pc->max_retries + 1,
                  "%" PRIu64 " worker deaths, want %d", s.worker_deaths, pc->max_retries + 1);
    ck_assert_msg(s.chunks_failed == 1, "%" PRIu64 " chunks failed", s.chunks_failed);

    /* Everything outside [f.start, f.end) squared exactly once, inside untouched. */
    const int32_t *got = mproc_array_data(a);
    for (size_t i = 0; i < n; i++) {
        int32_t w = (i >= f.start && i < f.end) ? orig[i] : want[i];
        if (got[i] != w)
            ck_abort_msg("element %zu: got %" PRId32 ", want %" PRId32 " (%s; failure [%zu, %zu))",
                         i, got[i], w, i >= f.start && i < f.end ? "failed range" : "outside",
                         f.start, f.end);
    }

    /* The pool is still usable: a good map on the same array finishes the job. */
    int32_t *data = mproc_array_data(a);
    memcpy(data, orig, n * sizeof *data);
    data[pi] = 5;
    tu_assert_rc(mproc_square(pool, a), 0);
    for (size_t i = 0; i < n; i++)
        if (data[i] != (i == pi ? 25 : want[i]))
            ck_abort_msg("after the failure, element %zu is %" PRId32, i, data[i]);
    tu_assert_rc(mproc_pool_last_failure(pool, &f), MPROC_ENOENT);
    pid_t pids[4];
    ck_assert_int_eq(mproc_pool_worker_pids(pool, pids, 4), 2);
    ck_assert_msg(pids[0] > 0 && pids[1] > 0, "workers not replaced: %d %d", (int)pids[0],
                  (int)pids[1]);

    mproc_array_close(a);
    tu_assert_rc(mproc_pool_destroy(pool), 0);
    free(orig);
    free(want);
}

START_TEST(test_poison_segv)
{
    poison_case pc = {3, 0, 0, 0.37};
    run_poison(&pc);
}
END_TEST

START_TEST(test_poison_exit3)
{
    poison_case pc = {3, 3, 0, 0.61};
    run_poison(&pc);
}
END_TEST

START_TEST(test_poison_retries_0)
{
    poison_case pc = {0, 0, 0, 0.5};
    run_poison(&pc);
}
END_TEST

START_TEST(test_poison_retries_5)
{
    poison_case pc = {5, 0, 0, 0.99};
    run_poison(&pc);
}
END_TEST

/* A chunk bigger than a worker's scratch is committed piece by piece: the failure must
 * name exactly the part not committed, and the committed part stays squared once. */
START_TEST(test_poison_big_chunk)
{
    poison_case pc = {2, 0, 400000, 0.30}; /* chunk 1.6 MB; poison in its third quarter */
    run_poison(&pc);
}
END_TEST

START_TEST(test_poison_first_and_last)
{
    poison_case first = {1, 0, 0, 0.0};
    run_poison(&first);
    poison_case last = {1, 4, 0, 1.0 - 1.0 / (double)CU_N};
    run_poison(&last);
}
END_TEST

/* Two chunks that kill their workers in different ways in the same round (chunk 0 by
 * _exit(3), chunk 1 by SIGSEGV): the failure reported is chunk 0's, with its own exit
 * status 3 (each chunk record keeps the wait status of the last worker that died on
 * it; this once reported the status of whichever dead slot was salvaged last). */
static int two_poisons(const void *src, void *dst, size_t n, const void *ctx)
{
    (void)ctx;
    const int32_t *s = src;
    int32_t *d = dst;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == -1)
            _exit(3);
        if (s[i] == -2) {
            signal(SIGSEGV, SIG_DFL);
            raise(SIGSEGV);
        }
        d[i] = s[i];
    }
    return 0;
}

START_TEST(test_two_poisons_own_status)
{
    for (int t = 0; t < 10; t++) {
        mproc_pool *pool = cu_pool(2, 0, 1000, 0);
        mproc_array *a = NULL;
        tu_assert_rc(mproc_array_create(&a, NULL, MPROC_INT32, 2000), 0);
        int32_t *d = mproc_array_data(a);
        d[10] = -1;
        d[1500] = -2;
        tu_assert_rc(mproc_map(pool, two_poisons, NULL, 0, a, a), MPROC_EWORKER);
        mproc_map_failure f;
        tu_assert_rc(mproc_pool_last_failure(pool, &f), 0);
        ck_assert_msg(f.start == 0 && f.end == 1000, "failure [%zu, %zu)", f.start, f.end);
        ck_assert_msg(f.signal == 0 && f.exit_status == 3,
                      "trial %d: chunk [0, 1000) died by _exit(3) but the failure says signal "
                      "%d, exit_status %d",
                      t, f.signal, f.exit_status);
        mproc_array_close(a);
        tu_assert_rc(mproc_pool_destroy(pool), 0);
    }
}
END_TEST

/* ---- idle deaths ---------------------------------------------------------------------- */

START_TEST(test_kill_idle_worker)
{
    const size_t n = CU_N;
    mproc_pool *pool = cu_pool(3, 1, 0, -1);
    int32_t *orig = malloc(n * sizeof *orig), *want = malloc(n * sizeof *want);
    ck_assert(orig && want);
    cu_fill_values(MPROC_INT32, orig, n, 11);
    tu_ref_apply(MPROC_OP_SQUARE, MPROC_INT32, orig, want, n, NULL);
    mproc_array *a = NULL;
    tu_assert_rc(mproc_array_create_from(&a, NULL, MPROC_INT32, orig, n), 0);
    tu_assert_rc(mproc_square(pool, a), 0);

    for (int round = 0; round < 3; round++) {
        pid_t before[2], after[2];
        ck_assert_int_eq(mproc_pool_worker_pids(pool, before, 2), 2);
        int victim = round % 2;
        ck_assert_int_gt(before[victim], 0);
        ck_assert_int_eq(kill(before[victim], SIGKILL), 0);
        cu_wait_dead(before[victim]);
        if (round == 2) { /* both */
            ck_assert_int_eq(kill(before[1 - victim], SIGKILL), 0);
            cu_wait_dead(before[1 - victim]);
        }
        mproc_pool_stats s0 = cu_stats(pool);
        memcpy(mproc_array_data(a), orig, n * sizeof *orig);
        tu_assert_rc(mproc_square(pool, a), 0);
        cu_check_all("after an idle kill", MPROC_INT32, orig, want, mproc_array_data(a), n);
        mproc_pool_stats s1 = cu_stats(pool);
        uint64_t killed = round == 2 ? 2 : 1;
        ck_assert_msg(s1.worker_deaths - s0.worker_deaths == killed,
                      "round %d: %" PRIu64 " deaths counted, want %" PRIu64, round,
                      s1.worker_deaths - s0.worker_deaths, killed);
        ck_assert_msg(s1.chunks_retried == s0.chunks_retried,
                      "an idle death made chunks retry");
        ck_assert_int_eq(mproc_pool_worker_pids(pool, after, 2), 2);
        ck_assert_msg(after[victim] > 0 && after[victim] != before[victim],
                      "worker %d not replaced (%d -> %d)", victim, (int)before[victim],
                      (int)after[victim]);
        if (round != 2)
            ck_assert_int_eq(after[1 - victim], before[1 - victim]);
    }
    mproc_array_close(a);
    tu_assert_rc(mproc_pool_destroy(pool), 0);
    free(orig);
    free(want);
}
END_TEST

/* ---- caller death ----------------------------------------------------------------------- */

/* Reaps the given (reparented) pids; true when all are gone within timeout_s. */
static bool all_gone_within(pid_t *pids, int n, double timeout_s, int *left)
{
    double deadline = tu_now() + timeout_s;
    for (;;) {
        int alive = 0;
        for (int i = 0; i < n; i++) {
            if (pids[i] <= 0)
                continue;
            pid_t r = waitpid(pids[i], NULL, WNOHANG);
            if (r == pids[i] || (r < 0 && errno == ECHILD && kill(pids[i], 0) != 0))
                pids[i] = 0;
            else
                alive++;
        }
        *left = alive;
        if (alive == 0)
            return true;
        if (tu_now() > deadline)
            return false;
        tu_sleep_ms(2);
    }
}

/*
 * A child creates a pool (workers forked by the child), reports the worker pids and a
 * named array through a pipe, then sleeps (busy = 0) or keeps running maps (busy = 1).
 * We SIGKILL the child: its workers must be gone within a second. As a subreaper (see
 * testutil) we inherit them, so "gone" means exited and reaped by us. The named array
 * must survive, with a dead creator that mproc_segment_reclaim removes.
 */
static void caller_death(int busy, int workers)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    char name[TU_NAME_LEN];
    tu_name(name, "caller-death");
    pid_t child = tu_fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(fds[0]);
        mproc_pool_options o;
        mproc_pool_options_init(&o);
        o.workers = workers;
        mproc_pool *pool = NULL;
        mproc_array *a = NULL;
        if (mproc_pool_create(&pool, &o) != 0 ||
            mproc_array_create(&a, name, MPROC_INT32, CU_N) != 0)
            _exit(1);
        pid_t pids[64] = {0};
        int n = mproc_pool_worker_pids(pool, pids, 64);
        if (write(fds[1], &n, sizeof n) != sizeof n ||
            write(fds[1], pids, sizeof pids) != sizeof pids)
            _exit(2);
        close(fds[1]);
        for (;;) {
            if (busy)
                mproc_square(pool, a);
            else
                pause();
        }
    }
    close(fds[1]);
    int n = 0;
    pid_t pids[64];
    ck_assert_int_eq(read(fds[0], &n, sizeof n), (ssize_t)sizeof n);
    ck_assert_int_eq(read(fds[0], pids, sizeof pids), (ssize_t)sizeof pids);
    close(fds[0]);
    ck_assert_int_eq(n, workers - 1);
    if (busy)
        tu_sleep_ms(30); /* let it be inside maps */
    ck_assert_int_eq(kill(child, SIGKILL), 0);
    int st = tu_wait(child, 5.0);
    ck_assert(st != -1 && WIFSIGNALED(st));
    double t0 = tu_now();
    int left = 0;
    bool gone = all_gone_within(pids, n, 1.0, &left);
    ck_assert_msg(gone, "%d of %d workers still running 1 s after their creator died", left, n);
    fprintf(stderr, "caller death (%s, %d workers): workers gone after %.1f ms\n",
            busy ? "mid-map" : "idle", n, (tu_now() - t0) * 1e3);
    ck_assert_int_eq(tu_children(NULL, 0), 0);

    mproc_segment_info info;
    tu_assert_rc(mproc_segment_stat(name, &info), 0);
    ck_assert_int_eq(info.creator_pid, child);
    ck_assert_int_eq(info.creator_alive, 0);
    tu_assert_rc(mproc_segment_reclaim(name, NULL), 0);
    ck_assert(!tu_shm_exists(name));
}

START_TEST(test_caller_death_idle)
{
    caller_death(0, 4);
}
END_TEST

START_TEST(test_caller_death_mid_map)
{
    caller_death(1, 3);
}
END_TEST

START_TEST(test_caller_death_many_workers)
{
    caller_death(0, 2 * tu_nproc() + 3);
}
END_TEST

/* ---- suite ------------------------------------------------------------------------------- */

static void add(Suite *s, const char *name, const TTest *fn, double timeout)
{
    TCase *tc = tcase_create(name);
    tu_tcase_defaults(tc, timeout);
    tcase_add_test(tc, fn);
    suite_add_tcase(s, tc);
}

int main(int argc, char **argv)
{
    /* by name too, for the run with spawned workers (MPROC_TEST_START=spawn) */
    if (mproc_kernel_register("poison_square", MPROC_INT32, poison_square) != 0 ||
        mproc_kernel_register("two_poisons", MPROC_DTYPE_ANY, two_poisons) != 0)
        abort();
    bool spawn = tu_start_method_from_env(argc, argv);
    tu_init();
    Suite *s = suite_create(spawn ? "deaths-spawn" : "deaths");
    add(s, "poison_segv", test_poison_segv, 30);
    add(s, "poison_exit3", test_poison_exit3, 30);
    add(s, "poison_retries_0", test_poison_retries_0, 30);
    add(s, "poison_retries_5", test_poison_retries_5, 30);
    add(s, "poison_big_chunk", test_poison_big_chunk, 30);
    add(s, "poison_first_and_last", test_poison_first_and_last, 30);
    add(s, "two_poisons_own_status", test_two_poisons_own_status, 30);
    add(s, "kill_idle_worker", test_kill_idle_worker, 30);
    add(s, "caller_death_idle", test_caller_death_idle, 30);
    add(s, "caller_death_mid_map", test_caller_death_mid_map, 30);
    add(s, "caller_death_many_workers", test_caller_death_many_workers, 30);
    return tu_run(s);
}
