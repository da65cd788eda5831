/*
 * test_wait.c - Event, Condition and Barrier across processes: set/wait/clear, timeouts
 * under EINTR, producer/consumer with wait_for and notify, notify_all, the lock rules of
 * wait, a 4-party barrier over several generations (each arrival index once per round),
 * a timeout breaking the barrier, abort and reset, and every invalid argument.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "ptu.h"

/* ---- Event -------------------------------------------------------------------------------- */

static int fn_event_waiter(void *arg)
{
    PTU_CHECK(mproc_event_wait(arg, 20000) == 0, 1);
    PTU_CHECK(mproc_event_is_set(arg) == 1, 2);
    return 0;
}

START_TEST(test_event_across_processes)
{
    mproc_event *e;
    tu_assert_rc(mproc_event_create(&e), 0);
    ck_assert_int_eq(mproc_event_is_set(e), 0);
    mproc_process *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = ptu_start(fn_event_waiter, e);
    tu_sleep_ms(100);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(mproc_process_is_alive(p[i]), 1); /* still waiting */
    tu_assert_rc(mproc_event_set(e), 0);
    for (int i = 0; i < 3; i++)
        ptu_join_expect(p[i], 0, 10);
    tu_assert_rc(mproc_event_wait(e, 0), 0);
    tu_assert_rc(mproc_event_set(e), 0); /* setting twice is fine */
    tu_assert_rc(mproc_event_clear(e), 0);
    ck_assert_int_eq(mproc_event_is_set(e), 0);
    tu_assert_rc(mproc_event_destroy(e), 0);
}
END_TEST

START_TEST(test_event_timeout_eintr)
{
    mproc_event *e;
    tu_assert_rc(mproc_event_create(&e), 0);
    tu_assert_rc(mproc_event_wait(e, 0), MPROC_ETIMEDOUT);
    ptu_interrupts(5);
    double t0 = tu_now();
    tu_assert_rc(mproc_event_wait(e, 200), MPROC_ETIMEDOUT);
    double dt = tu_now() - t0;
    ptu_interrupts(0);
    ck_assert_msg(dt >= 0.199 && dt < 1.5, "wait(200 ms) took %.3f s", dt);
    tu_assert_rc(mproc_event_destroy(e), 0);
}
END_TEST

/* ---- Condition ---------------------------------------------------------------------------- */

struct cond_ctx {
    mproc_condition *cond;
    int *items; /* shared, guarded by the condition's lock */
    int *go;
};

static int have_items(void *arg) { return *((struct cond_ctx *)arg)->items > 0; }
static int go_set(void *arg) { return *((struct cond_ctx *)arg)->go != 0; }

static int fn_consumer(void *arg)
{
    struct cond_ctx *c = arg;
    PTU_CHECK(mproc_condition_acquire(c->cond, -1) == 0, 1);
    PTU_CHECK(mproc_condition_wait_for(c->cond, have_items, c, 20000) == 0, 2);
    (*c->items)--;
    PTU_CHECK(mproc_condition_release(c->cond) == 0, 3);
    return 0;
}

static int fn_go_waiter(void *arg)
{
    struct cond_ctx *c = arg;
    PTU_CHECK(mproc_condition_acquire(c->cond, -1) == 0, 1);
    while (!*c->go) { /* the plain wait, in the loop it needs */
        int rc = mproc_condition_wait(c->cond, 20000);
        PTU_CHECK(rc == 0, 2);
    }
    PTU_CHECK(mproc_condition_release(c->cond) == 0, 3);
    return 0;
}

static struct cond_ctx cond_setup(void)
{
    struct cond_ctx c;
    tu_assert_rc(mproc_condition_create(&c.cond), 0);
    c.items = ptu_shared(4096);
    c.go = c.items + 1;
    return c;
}

static void cond_teardown(struct cond_ctx *c)
{
    tu_assert_rc(mproc_condition_destroy(c->cond), 0);
    munmap(c->items, 4096);
}

START_TEST(test_condition_producer_consumer)
{
    struct cond_ctx c = cond_setup();
    mproc_process *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = ptu_start(fn_consumer, &c);
    tu_sleep_ms(50);
    for (int i = 0; i < 3; i++) {
        tu_assert_rc(mproc_condition_acquire(c.cond, -1), 0);
        (*c.items)++;
        tu_assert_rc(mproc_condition_notify(c.cond), 0);
        tu_assert_rc(mproc_condition_release(c.cond), 0);
        tu_sleep_ms(20);
    }
    for (int i = 0; i < 3; i++)
        ptu_join_expect(p[i], 0, 30);
    ck_assert_int_eq(*c.items, 0);
    cond_teardown(&c);
}
END_TEST

START_TEST(test_condition_notify_all)
{
    struct cond_ctx c = cond_setup();
    mproc_process *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = ptu_start(i % 2 ? fn_go_waiter : fn_consumer, &c);
    tu_sleep_ms(100);
    tu_assert_rc(mproc_condition_acquire(c.cond, -1), 0);
    *c.go = 1;
    *c.items = 2; /* one for each fn_consumer */
    tu_assert_rc(mproc_condition_notify_all(c.cond), 0);
    tu_assert_rc(mproc_condition_release(c.cond), 0);
    for (int i = 0; i < 4; i++)
        ptu_join_expect(p[i], 0, 30);
    ck_assert_int_eq(*c.items, 0);
    cond_teardown(&c);
}
END_TEST

START_TEST(test_condition_lock_rules)
{
    struct cond_ctx c = cond_setup();
    tu_assert_rc(mproc_condition_wait(c.cond, 10), MPROC_ENOTOWNER);
    tu_assert_rc(mproc_condition_wait_for(c.cond, go_set, &c, 10), MPROC_ENOTOWNER);
    tu_assert_rc(mproc_condition_acquire(c.cond, -1), 0);
    tu_assert_rc(mproc_condition_acquire(c.cond, 10), -EDEADLK);
    ptu_interrupts(5);
    double t0 = tu_now();
    tu_assert_rc(mproc_condition_wait_for(c.cond, go_set, &c, 150), MPROC_ETIMEDOUT);
    double dt = tu_now() - t0;
    ck_assert_msg(dt >= 0.149 && dt < 1.5, "wait_for(150 ms) took %.3f s", dt);
    int rc = mproc_condition_wait(c.cond, 50);
    ck_assert_msg(rc == 0 || rc == MPROC_ETIMEDOUT, "wait: %s", tu_errname(rc));
    ptu_interrupts(0);
    *c.go = 1;
    tu_assert_rc(mproc_condition_wait_for(c.cond, go_set, &c, 0), 0);
    tu_assert_rc(mproc_condition_release(c.cond), 0); /* held after every wait */
    tu_assert_rc(mproc_condition_release(c.cond), MPROC_ENOTOWNER);
    tu_assert_rc(mproc_condition_notify(c.cond), 0); /* nobody waits: fine */
    cond_teardown(&c);
}
END_TEST

/* ---- Barrier ------------------------------------------------------------------------------ */

enum { PARTIES = 4, ROUNDS = 20 };

struct barrier_ctx {
    mproc_barrier *b;
    atomic_int *seen; /* [ROUNDS][PARTIES]: how often each index came out in each round */
};

static int fn_barrier_rounds(void *arg)
{
    struct barrier_ctx *c = arg;
    for (int r = 0; r < ROUNDS; r++) {
        unsigned idx = PARTIES;
        PTU_CHECK(mproc_barrier_wait(c->b, 20000, &idx) == 0, 1);
        PTU_CHECK(idx < PARTIES, 2);
        atomic_fetch_add(&c->seen[r * PARTIES + (int)idx], 1);
    }
    return 0;
}

START_TEST(test_barrier_four_parties)
{
    struct barrier_ctx c;
    tu_assert_rc(mproc_barrier_create(&c.b, PARTIES), 0);
    ck_assert_uint_eq(mproc_barrier_parties(c.b), PARTIES);
    c.seen = ptu_shared(sizeof(atomic_int) * ROUNDS * PARTIES);
    mproc_process *p[PARTIES];
    for (int i = 0; i < PARTIES; i++)
        p[i] = ptu_start(fn_barrier_rounds, &c);
    for (int i = 0; i < PARTIES; i++)
        ptu_join_expect(p[i], 0, 60);
    for (int i = 0; i < ROUNDS * PARTIES; i++)
        ck_assert_msg(atomic_load(&c.seen[i]) == 1, "round %d index %d came out %d times",
                      i / PARTIES, i % PARTIES, atomic_load(&c.seen[i]));
    ck_assert_int_eq(mproc_barrier_broken(c.b), 0);
    ck_assert_uint_eq(mproc_barrier_n_waiting(c.b), 0);
    tu_assert_rc(mproc_barrier_destroy(c.b), 0);
    munmap(c.seen, sizeof(atomic_int) * ROUNDS * PARTIES);
}
END_TEST

static int fn_barrier_expect_broken(void *arg)
{
    return mproc_barrier_wait(arg, 20000, NULL) == MPROC_EBROKEN ? 0 : 1;
}

static int fn_barrier_expect_ok(void *arg)
{
    return mproc_barrier_wait(arg, 20000, NULL) == 0 ? 0 : 1;
}

static void wait_n_waiting(mproc_barrier *b, unsigned n)
{
    double end = tu_now() + 10;
    while (mproc_barrier_n_waiting(b) != n && tu_now() < end)
        tu_sleep_ms(1);
    ck_assert_uint_eq(mproc_barrier_n_waiting(b), n);
}

START_TEST(test_barrier_timeout_breaks)
{
    mproc_barrier *b;
    tu_assert_rc(mproc_barrier_create(&b, PARTIES), 0);
    mproc_process *p[2];
    for (int i = 0; i < 2; i++)
        p[i] = ptu_start(fn_barrier_expect_broken, b);
    wait_n_waiting(b, 2);
    double t0 = tu_now();
    tu_assert_rc(mproc_barrier_wait(b, 200, NULL), MPROC_ETIMEDOUT); /* 3 of 4 came */
    ck_assert_msg(tu_now() - t0 >= 0.199, "timed out after %.3f s", tu_now() - t0);
    for (int i = 0; i < 2; i++)
        ptu_join_expect(p[i], 0, 10);
    ck_assert_int_eq(mproc_barrier_broken(b), 1);
    tu_assert_rc(mproc_barrier_wait(b, -1, NULL), MPROC_EBROKEN); /* at once */

    tu_assert_rc(mproc_barrier_reset(b), 0);
    ck_assert_int_eq(mproc_barrier_broken(b), 0);
    for (int i = 0; i < 2; i++)
        p[i] = ptu_start(fn_barrier_expect_ok, b);
    mproc_process *third = ptu_start(fn_barrier_expect_ok, b);
    unsigned idx = 99;
    tu_assert_rc(mproc_barrier_wait(b, 20000, &idx), 0);
    ck_assert_uint_lt(idx, PARTIES);
    for (int i = 0; i < 2; i++)
        ptu_join_expect(p[i], 0, 10);
    ptu_join_expect(third, 0, 10);
    tu_assert_rc(mproc_barrier_destroy(b), 0);
}
END_TEST

START_TEST(test_barrier_abort_and_reset)
{
    mproc_barrier *b;
    tu_assert_rc(mproc_barrier_create(&b, 3), 0);
    mproc_process *p = ptu_start(fn_barrier_expect_broken, b);
    wait_n_waiting(b, 1);
    tu_assert_rc(mproc_barrier_abort(b), 0);
    ptu_join_expect(p, 0, 10);
    tu_assert_rc(mproc_barrier_reset(b), 0);

    /* reset while someone waits: that waiter gets EBROKEN, the barrier is usable */
    p = ptu_start(fn_barrier_expect_broken, b);
    wait_n_waiting(b, 1);
    tu_assert_rc(mproc_barrier_reset(b), 0);
    ptu_join_expect(p, 0, 10);
    ck_assert_int_eq(mproc_barrier_broken(b), 0);
    ck_assert_uint_eq(mproc_barrier_n_waiting(b), 0);
    tu_assert_rc(mproc_barrier_destroy(b), 0);

    tu_assert_rc(mproc_barrier_create(&b, 1), 0); /* one party never waits */
    unsigned idx = 9;
    tu_assert_rc(mproc_barrier_wait(b, 0, &idx), 0);
    ck_assert_uint_eq(idx, 0);
    tu_assert_rc(mproc_barrier_destroy(b), 0);
}
END_TEST

/* ---- arguments ---------------------------------------------------------------------------- */

static int never(void *arg)
{
    (void)arg;
    return 0;
}

START_TEST(test_invalid_args)
{
    mproc_event *e = (mproc_event *)1;
    mproc_condition *c = (mproc_condition *)1;
    mproc_barrier *b = (mproc_barrier *)1;
    tu_assert_rc(mproc_event_create(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_event_set(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_event_clear(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_event_is_set(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_event_wait(NULL, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_event_destroy(NULL), 0);
    tu_assert_rc(mproc_condition_create(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_condition_acquire(NULL, -1), MPROC_EINVAL);
    tu_assert_rc(mproc_condition_release(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_condition_wait(NULL, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_condition_wait_for(NULL, never, NULL, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_condition_notify(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_condition_notify_all(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_condition_destroy(NULL), 0);
    tu_assert_rc(mproc_barrier_create(NULL, 2), MPROC_EINVAL);
    tu_assert_rc(mproc_barrier_create(&b, 0), MPROC_EINVAL);
    ck_assert_ptr_null(b);
    tu_assert_rc(mproc_barrier_wait(NULL, 0, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_barrier_abort(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_barrier_reset(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_barrier_broken(NULL), MPROC_EINVAL);
    ck_assert_uint_eq(mproc_barrier_parties(NULL), 0);
    ck_assert_uint_eq(mproc_barrier_n_waiting(NULL), 0);
    tu_assert_rc(mproc_barrier_destroy(NULL), 0);

    tu_assert_rc(mproc_event_create(&e), 0);
    tu_assert_rc(mproc_event_wait(e, -2), MPROC_EINVAL);
    tu_assert_rc(mproc_event_destroy(e), 0);
    tu_assert_rc(mproc_condition_create(&c), 0);
    tu_assert_rc(mproc_condition_acquire(c, -2), MPROC_EINVAL);
    tu_assert_rc(mproc_condition_acquire(c, -1), 0);
    tu_assert_rc(mproc_condition_wait(c, -2), MPROC_EINVAL);
    tu_assert_rc(mproc_condition_wait_for(c, NULL, NULL, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_condition_wait_for(c, never, NULL, -2), MPROC_EINVAL);
    tu_assert_rc(mproc_condition_destroy(c), MPROC_EBUSY);
    tu_assert_rc(mproc_condition_release(c), 0);
    tu_assert_rc(mproc_condition_destroy(c), 0);
    tu_assert_rc(mproc_barrier_create(&b, 2), 0);
    tu_assert_rc(mproc_barrier_wait(b, -2, NULL), MPROC_EINVAL);
    ck_assert_uint_eq(mproc_barrier_n_waiting(b), 0); /* the bad call did not arrive */
    tu_assert_rc(mproc_barrier_destroy(b), 0);
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
    Suite *s = suite_create("wait");
    TCase *t = tc(s, "event", 20);
    tcase_add_test(t, test_event_across_processes);
    tcase_add_test(t, test_event_timeout_eintr);

    t = tc(s, "condition", 30);
    tcase_add_test(t, test_condition_producer_consumer);
    tcase_add_test(t, test_condition_notify_all);
    tcase_add_test(t, test_condition_lock_rules);

    t = tc(s, "barrier", 60);
    tcase_add_test(t, test_barrier_four_parties);
    tcase_add_test(t, test_barrier_timeout_breaks);
    tcase_add_test(t, test_barrier_abort_and_reset);
    tcase_add_test(t, test_invalid_args);
    return tu_run(s);
}
