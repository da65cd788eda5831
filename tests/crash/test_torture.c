/*
 * test_torture.c - kill torture (issue 4, items 1 and 6).
 *
 * In a loop, an in-place square over 4 Mi int32 elements (16 MiB, > 10^6 elements) runs
 * while a killer thread of the test process sleeps a random time within the map's
 * measured duration and SIGKILLs a random worker (mproc_pool_worker_pids; mostly one
 * that is running). Every element is then checked against the serial square (an
 * element done twice or not at all shows: the values are chosen so that x, x^2 and x^4
 * all differ), every map must return 0 within seconds (and the case has a timeout), and
 * the pool's counters must show that kills landed mid-map (chunks retried in at least a
 * tenth of the rounds) and that every kill was noticed (deaths == workers killed). A
 * last map without kills checks that the pool still works. The hygiene fixture checks
 * after every case that no process and no /dev/shm entry is left.
 *
 * Variants: caller_works = 0, more workers than CPUs, float64, int8, a map from one array
 * into another, two kills per map (the second often hits the recovery round), 65536
 * tiny chunks (kills between claim, commit and done), and MPROC_COMMIT_DIRECT on a map
 * into another array.
 *
 * Rounds: MPROC_TORTURE_ROUNDS=N sets the rounds of the main int32 loop (default 200;
 * each variant runs a quarter of that, at least 10), e.g. for a long run:
 *     MPROC_TORTURE_ROUNDS=20000 build/tests/crash/test_torture
 * (the case timeouts grow with N; run the binary directly, meson's timeout is sized for
 * the default). MPROC_TORTURE_SEED=S repeats a run's random choices (every failure
 * message names its seed). The default run takes about 15 s on 2 CPUs (30 s under ASan).
 * Poison kernels, idle deaths and the death of a pool's creator are in test_deaths.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "crashutil.h"

#define TORTURE_BYTES ((size_t)16 << 20) /* arrays of the kill loops: long enough to aim at */
#define RECENT_VICTIMS 64 /* pids a killer remembers (to not count a zombie twice) */
#define DEFAULT_ROUNDS 200

static int main_rounds(void)
{
    const char *e = getenv("MPROC_TORTURE_ROUNDS");
    long v = e ? strtol(e, NULL, 10) : 0;
    return v > 0 ? (int)(v > 10000000 ? 10000000 : v) : DEFAULT_ROUNDS;
}

static uint64_t run_seed(void)
{
    const char *e = getenv("MPROC_TORTURE_SEED");
    if (e != NULL && *e != '\0')
        return strtoull(e, NULL, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
}

/* ---- the killer thread -------------------------------------------------------------- */

typedef struct killer {
    mproc_pool *pool;
    pthread_t thread;
    sem_t go, done;
    atomic_int quit;
    atomic_uint_fast64_t start_ns;     /* CLOCK_MONOTONIC when the map was started */
    atomic_uint_fast64_t max_delay_ns; /* kills come at start + uniform [0, this) */
    int per_round;                     /* kills per round */
    uint64_t rng;
    pid_t recent[RECENT_VICTIMS]; /* the last pids killed (read after killer_stop) */
    int kills;                    /* distinct workers killed */
    pid_t pids[MPROC_MAX_WORKERS];
} killer;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until_ns(uint64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* Whether pid was killed already (a zombie the pool has not reaped yet). */
static bool killed_before(const killer *k, pid_t pid)
{
    for (int i = 0; i < RECENT_VICTIMS; i++)
        if (k->recent[i] == pid)
            return true;
    return false;
}

/* Whether pid is running or runnable (state R in /proc/PID/stat): inside a map's work
 * rather than asleep waiting for one. open/read only: no allocation, no stdio. */
static bool running(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' && p[2] == 'R';
}

/* Kills one random worker: in three cases of four one that is running, if any (with
 * more workers than CPUs, most of them sleep at any moment). */
static void kill_one(killer *k)
{
    pid_t *pids = k->pids;
    int n = mproc_pool_worker_pids(k->pool, pids, MPROC_MAX_WORKERS);
    int live = 0;
    for (int i = 0; i < n && i < MPROC_MAX_WORKERS; i++)
        if (pids[i] > 0 && !killed_before(k, pids[i]))
            pids[live++] = pids[i];
    if (tu_rand(&k->rng) % 4 != 0) {
        int busy = 0;
        for (int i = 0; i < live; i++)
            if (running(pids[i])) {
                pid_t t = pids[busy];
                pids[busy++] = pids[i];
                pids[i] = t;
            }
        if (busy > 0)
            live = busy;
    }
    if (live > 0) {
        pid_t victim = pids[tu_rand(&k->rng) % (uint64_t)live];
        if (kill(victim, SIGKILL) == 0)
            k->recent[k->kills++ % RECENT_VICTIMS] = victim;
    }
}

/* Waits for `go`, then per_round times sleeps until a random moment of the map and
 * kills a worker; posts `done`. No allocation and no stdio here: the pool forks
 * replacements meanwhile. */
static void *killer_main(void *arg)
{
    killer *k = arg;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake on time, not up to 50 us late */
    /* With more busy processes than CPUs, a normal thread may wake milliseconds late;
     * a real-time one preempts at once (allowed to root; best effort otherwise). */
    struct sched_param sp = {.sched_priority = 1};
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    for (;;) {
        while (sem_wait(&k->go) != 0 && errno == EINTR) {
        }
        if (atomic_load(&k->quit))
            break;
        uint64_t max = atomic_load(&k->max_delay_ns), start = atomic_load(&k->start_ns);
        for (int j = 0; j < k->per_round; j++) {
            sleep_until_ns(start + (max ? tu_rand(&k->rng) % max : 0));
            kill_one(k);
        }
        sem_post(&k->done);
    }
    return NULL;
}

static killer *killer_start(mproc_pool *pool, uint64_t seed, int per_round)
{
    killer *k = calloc(1, sizeof *k);
    ck_assert_ptr_nonnull(k);
    k->pool = pool;
    k->rng = seed | 1;
    k->per_round = per_round;
    ck_assert_int_eq(sem_init(&k->go, 0, 0), 0);
    ck_assert_int_eq(sem_init(&k->done, 0, 0), 0);
    ck_assert_int_eq(pthread_create(&k->thread, NULL, killer_main, k), 0);
    return k;
}

/* Stops the thread; the killer's counts stay readable until free(). */
static void killer_stop(killer *k)
{
    atomic_store(&k->quit, 1);
    sem_post(&k->go);
    pthread_join(k->thread, NULL);
    sem_destroy(&k->go);
    sem_destroy(&k->done);
}

/* ---- kill torture ------------------------------------------------------------------- */

typedef struct tconf {
    const char *label;
    mproc_dtype dtype;
    size_t n;
    int workers; /* 0: the default (online CPUs) */
    int caller_works;
    int in_place;
    int rounds;
    int kills;       /* per round; 0 means 1 */
    size_t chunk;    /* 0: automatic */
    int commit_mode; /* MPROC_COMMIT_* */
    int rare_retries; /* kills mostly land between chunks: ask for fewer retried rounds */
} tconf;

/* Median duration of a few maps without kills, after a warm-up. */
static double measure_map(mproc_pool *pool, const mproc_array *src, mproc_array *dst,
                          const void *orig, size_t bytes)
{
    double t[7];
    for (int i = -2; i < 7; i++) {
        memcpy(mproc_array_data(dst), orig, bytes);
        tu_assert_rc(mproc_pool_prepare(pool, dst), 0);
        double t0 = tu_now();
        tu_assert_rc(mproc_map_op(pool, MPROC_OP_SQUARE, NULL, src, dst), 0);
        if (i >= 0)
            t[i] = tu_now() - t0;
    }
    for (int i = 1; i < 7; i++) /* insertion sort */
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return t[3];
}

static void torture(const tconf *c)
{
    uint64_t seed = run_seed();
    size_t es = mproc_dtype_size(c->dtype), bytes = c->n * es;
    void *orig = malloc(bytes), *want = malloc(bytes);
    ck_assert(orig != NULL && want != NULL);
    cu_fill_values(c->dtype, orig, c->n, seed);
    tu_ref_apply(MPROC_OP_SQUARE, c->dtype, orig, want, c->n, NULL);

    mproc_pool_options o;
    mproc_pool_options_init(&o);
    o.workers = c->workers;
    o.caller_works = c->caller_works;
    o.chunk = c->chunk;
    o.commit_mode = c->commit_mode;
    mproc_pool *pool = NULL;
    tu_assert_rc(mproc_pool_create(&pool, &o), 0);
    mproc_array *src = NULL, *dst = NULL;
    tu_assert_rc(mproc_array_create_from(&src, NULL, c->dtype, orig, c->n), 0);
    if (c->in_place)
        dst = src;
    else
        tu_assert_rc(mproc_array_create(&dst, NULL, c->dtype, c->n), 0);
    double dur = measure_map(pool, src, dst, orig, bytes);
    if (!c->in_place)
        cu_check_all(c->label, c->dtype, orig, want, mproc_array_data(dst), c->n);

    killer *k = killer_start(pool, seed, c->kills > 0 ? c->kills : 1);
    /* Aim inside the map (recovery makes a killed map longer than dur, so a kill after
     * 1.1 dur can still land in it, or hit an idle worker: both must be handled). */
    atomic_store(&k->max_delay_ns, (uint64_t)(dur * 1.1e9) + 1000);

    mproc_pool_stats before = cu_stats(pool);
    int mid_map = 0; /* rounds in which a chunk had to be retried */
    double worst = 0;
    char what[160];
    /* The proof that kills land inside maps: chunks retried in a tenth of the rounds.
     * On a loaded machine fewer kills land in time, so the loop goes on (up to four
     * times the rounds) until that many did. */
    int need = c->rounds / (c->rare_retries ? 50 : 10);
    need = need > 0 ? need : 1;
    int r = 0;
    for (; r < c->rounds || (mid_map < need && r < 4 * c->rounds); r++) {
        if (c->in_place)
            memcpy(mproc_array_data(dst), orig, bytes);
        else
            memset(mproc_array_data(dst), 0, bytes);
        /* Mostly with every worker attached and faulted in, so that kills land in
         * chunks; every fourth round a killed worker's replacement starts cold. */
        if (r % 4 != 3)
            tu_assert_rc(mproc_pool_prepare(pool, dst), 0);
        mproc_pool_stats s0 = cu_stats(pool);
        atomic_store(&k->start_ns, now_ns());
        sem_post(&k->go);
        double t0 = tu_now();
        int rc = mproc_map_op(pool, MPROC_OP_SQUARE, NULL, src, dst);
        double t = tu_now() - t0;
        while (sem_wait(&k->done) != 0 && errno == EINTR) {
        }
        snprintf(what, sizeof what, "%s, round %d, seed %#" PRIx64, c->label, r + 1, seed);
        ck_assert_msg(rc == 0, "%s: map returned %s", what, tu_errname(rc));
        ck_assert_msg(t < CU_MAP_LIMIT_S, "%s: map took %.2f s", what, t);
        worst = t > worst ? t : worst;
        cu_check_all(what, c->dtype, orig, want, mproc_array_data(dst), c->n);
        mproc_pool_stats s1 = cu_stats(pool);
        if (s1.chunks_retried > s0.chunks_retried)
            mid_map++;
        if (s1.worker_deaths == s0.worker_deaths) { /* follow the load: aim at maps as they are */
            dur = 0.8 * dur + 0.2 * t;
            atomic_store(&k->max_delay_ns, (uint64_t)(dur * 1.1e9) + 1000);
        }
        ck_assert_msg(s1.chunks_failed == s0.chunks_failed, "%s: a chunk failed", what);
    }
    killer_stop(k);

    /* A last map without kills: it must work, and it reaps the workers killed after
     * the previous map ended (once they are zombies), so that every kill is counted. */
    for (int i = 0; i < RECENT_VICTIMS && i < k->kills; i++)
        cu_wait_dead(k->recent[i]);
    if (c->in_place)
        memcpy(mproc_array_data(dst), orig, bytes);
    else
        memset(mproc_array_data(dst), 0, bytes);
    tu_assert_rc(mproc_map_op(pool, MPROC_OP_SQUARE, NULL, src, dst), 0);
    cu_check_all("after the torture", c->dtype, orig, want, mproc_array_data(dst), c->n);
    mproc_pool_stats after = cu_stats(pool);
    uint64_t deaths = after.worker_deaths - before.worker_deaths;
    uint64_t retried = after.chunks_retried - before.chunks_retried;
    int kills = k->kills;
    free(k);
    fprintf(stderr,
            "torture %s: %d rounds, map %.2f ms (worst %.1f ms with kills), %d kills, %" PRIu64
            " deaths, %" PRIu64 " chunks retried, %d rounds with kills mid-map, seed %#" PRIx64
            "\n",
            c->label, r, dur * 1e3, worst * 1e3, kills, deaths, retried, mid_map, seed);
    ck_assert_msg(deaths == (uint64_t)kills, "%s: %d workers killed but %" PRIu64
                  " deaths counted", c->label, kills, deaths);
    ck_assert_msg(after.chunks_failed == before.chunks_failed, "%s: chunks failed", c->label);
    ck_assert_msg(mid_map >= need,
                  "%s: only %d of %d rounds had a kill land mid-map (want >= %d): the test "
                  "did not test much",
                  c->label, mid_map, r, need);

    if (!c->in_place)
        mproc_array_close(dst);
    mproc_array_close(src);
    tu_assert_rc(mproc_pool_destroy(pool), 0);
    free(orig);
    free(want);
}

static int quarter(void)
{
    int r = main_rounds() / 4;
    return r > 10 ? r : 10;
}

START_TEST(test_torture_int32)
{
    tconf c = {.label = "int32 in place, default pool", .dtype = MPROC_INT32,
               .n = TORTURE_BYTES / 4, .caller_works = 1, .in_place = 1, .rounds = main_rounds()};
    torture(&c);
}
END_TEST

START_TEST(test_torture_caller_idle)
{
    tconf c = {.label = "int32 in place, caller_works 0", .dtype = MPROC_INT32,
               .n = TORTURE_BYTES / 4, .workers = 2, .caller_works = 0, .in_place = 1,
               .rounds = quarter()};
    torture(&c);
}
END_TEST

START_TEST(test_torture_oversubscribed)
{
    tconf c = {.label = "int32 in place, workers 2 x CPUs + 1", .dtype = MPROC_INT32,
               .n = TORTURE_BYTES / 4, .workers = 2 * tu_nproc() + 1, .caller_works = 1,
               .in_place = 1, .rounds = quarter()};
    torture(&c);
}
END_TEST

START_TEST(test_torture_float64)
{
    tconf c = {.label = "float64 in place", .dtype = MPROC_FLOAT64, .n = TORTURE_BYTES / 8,
               .workers = 3, .caller_works = 1, .in_place = 1, .rounds = quarter()};
    torture(&c);
}
END_TEST

START_TEST(test_torture_int8)
{
    tconf c = {.label = "int8 in place", .dtype = MPROC_INT8, .n = TORTURE_BYTES, .workers = 3,
               .caller_works = 1, .in_place = 1, .rounds = quarter()};
    torture(&c);
}
END_TEST

START_TEST(test_torture_src_dst)
{
    tconf c = {.label = "int32 src -> dst", .dtype = MPROC_INT32, .n = TORTURE_BYTES / 4,
               .workers = 3, .caller_works = 1, .in_place = 0, .rounds = quarter()};
    torture(&c);
}
END_TEST

/* Two kills per map: the second often lands in the recovery round, on a replacement. */
START_TEST(test_torture_two_kills)
{
    tconf c = {.label = "int32 in place, two kills per map", .dtype = MPROC_INT32,
               .n = TORTURE_BYTES / 4, .workers = 3, .caller_works = 1, .in_place = 1,
               .rounds = quarter(), .kills = 2};
    torture(&c);
}
END_TEST

/* Tiny chunks (the 65536-chunk limit): kills land between claim, commit and done. */
START_TEST(test_torture_tiny_chunks)
{
    tconf c = {.label = "int32 in place, 65536 chunks", .dtype = MPROC_INT32,
               .n = TORTURE_BYTES / 4, .workers = 3, .caller_works = 1, .in_place = 1,
               .rounds = quarter(), .chunk = 1, .rare_retries = 1};
    torture(&c);
}
END_TEST

/* MPROC_COMMIT_DIRECT is documented exact for maps from one array into another. */
START_TEST(test_torture_direct_src_dst)
{
    tconf c = {.label = "int32 src -> dst, commit direct", .dtype = MPROC_INT32,
               .n = TORTURE_BYTES / 4, .workers = 3, .caller_works = 1, .in_place = 0,
               .rounds = quarter(), .commit_mode = MPROC_COMMIT_DIRECT};
    torture(&c);
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
    bool spawn = tu_start_method_from_env(argc, argv);
    tu_init();
    Suite *s = suite_create(spawn ? "torture-spawn" : "torture");
    /* Seconds a round may take on average, allowing for 4 times the rounds on a loaded
     * machine (normally about 25 ms per round). */
    double round_s = 1.0;
    double t_main = 60 + round_s * main_rounds(), t_q = 60 + round_s * quarter();
    add(s, "torture_int32", test_torture_int32, t_main);
    add(s, "torture_caller_idle", test_torture_caller_idle, t_q);
    add(s, "torture_oversubscribed", test_torture_oversubscribed, t_q);
    add(s, "torture_float64", test_torture_float64, t_q);
    add(s, "torture_int8", test_torture_int8, t_q);
    add(s, "torture_src_dst", test_torture_src_dst, t_q);
    add(s, "torture_two_kills", test_torture_two_kills, t_q);
    add(s, "torture_tiny_chunks", test_torture_tiny_chunks, t_q);
    add(s, "torture_direct_src_dst", test_torture_direct_src_dst, t_q);
    return tu_run(s);
}
