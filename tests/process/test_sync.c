/*
 * test_sync.c - Lock, RLock, Semaphore / BoundedSemaphore and Value: mutual exclusion
 * under contention (4 processes x 10,000 increments -> exact totals), holders killed
 * while holding (the next locker gets MPROC_EOWNERDEAD once, the lock works on), owner
 * rules, recursion, timeouts and EINTR, semaphore limits and over-release, Value for
 * every dtype, and every invalid argument.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "ptu.h"

enum { WORKERS = 4, INCREMENTS = 10000 };

/* ---- contention ----------------------------------------------------------------------------- */

struct counters {
    mproc_lock *lock;
    mproc_value *added;    /* mproc_value_add */
    mproc_value *compound; /* mproc_value_lock + ptr + unlock */
    long *plain;           /* shared memory guarded by `lock` only */
};

static int fn_increment(void *arg)
{
    struct counters *c = arg;
    const int64_t one = 1;
    for (int i = 0; i < INCREMENTS; i++) {
        PTU_CHECK(mproc_lock_acquire(c->lock, -1) == 0, 1);
        long seen = *(volatile long *)c->plain;
        *(volatile long *)c->plain = seen + 1; /* lost updates if the lock let two in */
        PTU_CHECK(mproc_lock_release(c->lock) == 0, 2);
        PTU_CHECK(mproc_value_add(c->added, &one, NULL) == 0, 3);
        PTU_CHECK(mproc_value_lock(c->compound, -1) == 0, 4);
        (*(int64_t *)mproc_value_ptr(c->compound))++;
        PTU_CHECK(mproc_value_unlock(c->compound) == 0, 5);
    }
    return 0;
}

START_TEST(test_counter_contention)
{
    struct counters c;
    c.plain = ptu_shared(4096);
    tu_assert_rc(mproc_lock_create(&c.lock), 0);
    tu_assert_rc(mproc_value_create(&c.added, MPROC_INT64, NULL), 0);
    tu_assert_rc(mproc_value_create(&c.compound, MPROC_INT64, NULL), 0);
    mproc_process *p[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        p[i] = ptu_start(fn_increment, &c);
    for (int i = 0; i < WORKERS; i++)
        ptu_join_expect(p[i], 0, 60);
    int64_t added = 0, compound = 0;
    tu_assert_rc(mproc_value_get(c.added, &added), 0);
    tu_assert_rc(mproc_value_get(c.compound, &compound), 0);
    ck_assert_int_eq(*c.plain, WORKERS * INCREMENTS);
    ck_assert_int_eq(added, WORKERS * INCREMENTS);
    ck_assert_int_eq(compound, WORKERS * INCREMENTS);
    tu_assert_rc(mproc_lock_destroy(c.lock), 0);
    tu_assert_rc(mproc_value_destroy(c.added), 0);
    tu_assert_rc(mproc_value_destroy(c.compound), 0);
    munmap(c.plain, 4096);
}
END_TEST

/* ---- holders that die -------------------------------------------------------------------- */

enum kind { K_LOCK, K_RLOCK, K_CONDITION, K_VALUE, K_KINDS };

struct holder {
    enum kind kind;
    void *obj;
    mproc_event *held;
    int exit_instead; /* return from fn while holding, instead of waiting to be killed */
};

static int take(enum kind k, void *obj, int timeout_ms)
{
    switch (k) {
    case K_LOCK: return mproc_lock_acquire(obj, timeout_ms);
    case K_RLOCK: return mproc_rlock_acquire(obj, timeout_ms);
    case K_CONDITION: return mproc_condition_acquire(obj, timeout_ms);
    default: return mproc_value_lock(obj, timeout_ms);
    }
}

static int give(enum kind k, void *obj)
{
    switch (k) {
    case K_LOCK: return mproc_lock_release(obj);
    case K_RLOCK: return mproc_rlock_release(obj);
    case K_CONDITION: return mproc_condition_release(obj);
    default: return mproc_value_unlock(obj);
    }
}

static void *make(enum kind k)
{
    void *obj = NULL;
    switch (k) {
    case K_LOCK: tu_assert_rc(mproc_lock_create((mproc_lock **)&obj), 0); break;
    case K_RLOCK: tu_assert_rc(mproc_rlock_create((mproc_rlock **)&obj), 0); break;
    case K_CONDITION: tu_assert_rc(mproc_condition_create((mproc_condition **)&obj), 0); break;
    default: tu_assert_rc(mproc_value_create((mproc_value **)&obj, MPROC_INT32, NULL), 0);
    }
    return obj;
}

static int destroy(enum kind k, void *obj)
{
    switch (k) {
    case K_LOCK: return mproc_lock_destroy(obj);
    case K_RLOCK: return mproc_rlock_destroy(obj);
    case K_CONDITION: return mproc_condition_destroy(obj);
    default: return mproc_value_destroy(obj);
    }
}

static int fn_hold(void *arg)
{
    struct holder *h = arg;
    PTU_CHECK(take(h->kind, h->obj, -1) == 0, 1);
    if (h->kind == K_RLOCK)
        PTU_CHECK(take(h->kind, h->obj, -1) == 0, 2); /* held twice: still recovered */
    mproc_event_set(h->held);
    if (h->exit_instead)
        return 0;
    for (;;)
        pause();
    return 0;
}

/* Waits for the lock that fn_hold holds: 0 if it gets it with MPROC_EOWNERDEAD. */
static int fn_wait_for_dead(void *arg)
{
    struct holder *h = arg;
    PTU_CHECK(take(h->kind, h->obj, 20000) == MPROC_EOWNERDEAD, 1);
    PTU_CHECK(give(h->kind, h->obj) == 0, 2);
    return 0;
}

/* _i: kind * 3 + how (0: killed, next locker is us; 1: killed, a waiter; 2: exits). */
START_TEST(test_holder_dies)
{
    struct holder h = {(enum kind)(_i / 3), NULL, NULL, _i % 3 == 2};
    h.obj = make(h.kind);
    tu_assert_rc(mproc_event_create(&h.held), 0);
    mproc_process *holder = ptu_start(fn_hold, &h);
    tu_assert_rc(mproc_event_wait(h.held, 10000), 0);
    if (!h.exit_instead) /* (one that exits may be gone already) */
        tu_assert_rc(take(h.kind, h.obj, 0), MPROC_ETIMEDOUT);
    if (h.exit_instead) {
        ptu_join_expect(holder, 0, 10);
    } else if (_i % 3 == 1) {
        mproc_process *waiter = ptu_start(fn_wait_for_dead, &h);
        tu_sleep_ms(100); /* let it block in acquire */
        mproc_process_kill(holder);
        ptu_join_expect(holder, -SIGKILL, 10);
        ptu_join_expect(waiter, 0, 30);
    } else {
        mproc_process_kill(holder);
        ptu_join_expect(holder, -SIGKILL, 10);
    }
    if (_i % 3 != 1) {
        if (h.kind == K_VALUE) { /* get takes the lock over, reports it, and works */
            int32_t v = -1;
            tu_assert_rc(mproc_value_get(h.obj, &v), MPROC_EOWNERDEAD);
            ck_assert_int_eq(v, 0);
        } else {
            tu_assert_rc(take(h.kind, h.obj, 5000), MPROC_EOWNERDEAD);
            tu_assert_rc(give(h.kind, h.obj), 0);
        }
    }
    /* Once only: from now on it is an ordinary lock. */
    tu_assert_rc(take(h.kind, h.obj, 5000), 0);
    tu_assert_rc(give(h.kind, h.obj), 0);
    tu_assert_rc(destroy(h.kind, h.obj), 0);
    tu_assert_rc(mproc_event_destroy(h.held), 0);
}
END_TEST

/* ---- owners, recursion, timeouts ----------------------------------------------------------- */

static int fn_release_foreign(void *arg)
{
    struct holder *h = arg;
    PTU_CHECK(give(h->kind, h->obj) == MPROC_ENOTOWNER, 1);
    PTU_CHECK(take(h->kind, h->obj, 100) == MPROC_ETIMEDOUT, 2);
    PTU_CHECK(take(h->kind, h->obj, 0) == MPROC_ETIMEDOUT, 3);
    return 0;
}

START_TEST(test_owner_rules)
{
    struct holder h = {(enum kind)_i, make((enum kind)_i), NULL, 0};
    tu_assert_rc(give(h.kind, h.obj), MPROC_ENOTOWNER); /* not held at all */
    tu_assert_rc(take(h.kind, h.obj, -1), 0);
    if (h.kind == K_LOCK || h.kind == K_CONDITION)
        tu_assert_rc(take(h.kind, h.obj, 100), -EDEADLK); /* not recursive */
    tu_assert_rc(destroy(h.kind, h.obj), MPROC_EBUSY);  /* held here */
    mproc_process *p = ptu_start(fn_release_foreign, &h);
    ptu_join_expect(p, 0, 10);
    tu_assert_rc(give(h.kind, h.obj), 0);
    tu_assert_rc(give(h.kind, h.obj), MPROC_ENOTOWNER);
    tu_assert_rc(destroy(h.kind, h.obj), 0);
}
END_TEST

START_TEST(test_rlock_recursion)
{
    mproc_rlock *r;
    tu_assert_rc(mproc_rlock_create(&r), 0);
    for (int i = 0; i < 3; i++)
        tu_assert_rc(mproc_rlock_acquire(r, -1), 0);
    struct holder h = {K_RLOCK, r, NULL, 0};
    for (int i = 0; i < 3; i++) {
        mproc_process *p = ptu_start(fn_release_foreign, &h);
        ptu_join_expect(p, 0, 10); /* still held after 0, 1, 2 releases */
        tu_assert_rc(mproc_rlock_release(r), 0);
    }
    tu_assert_rc(mproc_rlock_release(r), MPROC_ENOTOWNER);
    tu_assert_rc(mproc_rlock_acquire(r, 0), 0);
    tu_assert_rc(mproc_rlock_release(r), 0);
    tu_assert_rc(mproc_rlock_destroy(r), 0);
}
END_TEST

static int fn_hold_briefly(void *arg)
{
    struct holder *h = arg;
    PTU_CHECK(mproc_lock_acquire(h->obj, -1) == 0, 1);
    mproc_event_set(h->held);
    tu_sleep_ms(300);
    PTU_CHECK(mproc_lock_release(h->obj) == 0, 2);
    return 0;
}

START_TEST(test_lock_timeouts_eintr)
{
    struct holder h = {K_LOCK, make(K_LOCK), NULL, 0};
    tu_assert_rc(mproc_event_create(&h.held), 0);
    mproc_process *p = ptu_start(fn_hold_briefly, &h);
    tu_assert_rc(mproc_event_wait(h.held, 10000), 0);
    ptu_interrupts(5);
    double t0 = tu_now();
    tu_assert_rc(mproc_lock_acquire(h.obj, 100), MPROC_ETIMEDOUT);
    double dt = tu_now() - t0;
    ck_assert_msg(dt >= 0.099 && dt < 1.0, "acquire(100 ms) took %.3f s", dt);
    tu_assert_rc(mproc_lock_acquire(h.obj, -1), 0); /* once the holder lets go */
    ck_assert_msg(tu_now() - t0 > 0.15, "acquired while held");
    ptu_interrupts(0);
    tu_assert_rc(mproc_lock_release(h.obj), 0);
    ptu_join_expect(p, 0, 10);
    tu_assert_rc(mproc_lock_destroy(h.obj), 0);
    tu_assert_rc(mproc_event_destroy(h.held), 0);
}
END_TEST

/* ---- semaphores ------------------------------------------------------------------------------ */

struct sem_ctx {
    mproc_semaphore *sem;
    atomic_int *inside, *max_inside, *ok, *over;
};

static int fn_limited(void *arg)
{
    struct sem_ctx *c = arg;
    for (int i = 0; i < 200; i++) {
        PTU_CHECK(mproc_semaphore_acquire(c->sem, -1) == 0, 1);
        int now = atomic_fetch_add(c->inside, 1) + 1, max = atomic_load(c->max_inside);
        while (now > max && !atomic_compare_exchange_weak(c->max_inside, &max, now)) {
        }
        for (volatile int spin = 0; spin < 1000; spin++) {
        }
        atomic_fetch_sub(c->inside, 1);
        PTU_CHECK(mproc_semaphore_release(c->sem) == 0, 2);
    }
    return 0;
}

START_TEST(test_semaphore_limits)
{
    struct sem_ctx c;
    atomic_int *mem = ptu_shared(4096);
    c.inside = mem, c.max_inside = mem + 1;
    tu_assert_rc(mproc_semaphore_create(&c.sem, 2), 0);
    mproc_process *p[6];
    for (int i = 0; i < 6; i++)
        p[i] = ptu_start(fn_limited, &c);
    for (int i = 0; i < 6; i++)
        ptu_join_expect(p[i], 0, 60);
    ck_assert_int_le(atomic_load(c.max_inside), 2);
    ck_assert_int_ge(atomic_load(c.max_inside), 1);
    int v = -1;
    tu_assert_rc(mproc_semaphore_get_value(c.sem, &v), 0);
    ck_assert_int_eq(v, 2);
    tu_assert_rc(mproc_semaphore_destroy(c.sem), 0);
    munmap(mem, 4096);
}
END_TEST

static int fn_sem_release_later(void *arg)
{
    tu_sleep_ms(200);
    return mproc_semaphore_release(arg) == 0 ? 0 : 1;
}

START_TEST(test_semaphore_wait_timeout_eintr)
{
    mproc_semaphore *s;
    tu_assert_rc(mproc_semaphore_create(&s, 2), 0);
    tu_assert_rc(mproc_semaphore_acquire(s, 0), 0);
    tu_assert_rc(mproc_semaphore_acquire(s, 0), 0);
    tu_assert_rc(mproc_semaphore_acquire(s, 0), MPROC_ETIMEDOUT);
    ptu_interrupts(5);
    double t0 = tu_now();
    tu_assert_rc(mproc_semaphore_acquire(s, 150), MPROC_ETIMEDOUT);
    double dt = tu_now() - t0;
    ck_assert_msg(dt >= 0.149 && dt < 1.0, "acquire(150 ms) took %.3f s", dt);
    mproc_process *p = ptu_start(fn_sem_release_later, s);
    tu_assert_rc(mproc_semaphore_acquire(s, -1), 0);
    ptu_interrupts(0);
    ptu_join_expect(p, 0, 10);
    tu_assert_rc(mproc_semaphore_release(s), 0);
    tu_assert_rc(mproc_semaphore_release(s), 0);
    tu_assert_rc(mproc_semaphore_release(s), 0); /* unbounded: above the start is fine */
    int v = 0;
    tu_assert_rc(mproc_semaphore_get_value(s, &v), 0);
    ck_assert_int_eq(v, 3);
    tu_assert_rc(mproc_semaphore_destroy(s), 0);
}
END_TEST

static int fn_release_once(void *arg)
{
    struct sem_ctx *c = arg;
    int rc = mproc_semaphore_release(c->sem);
    atomic_fetch_add(rc == 0 ? c->ok : c->over, 1);
    return rc == 0 || rc == MPROC_EOVERRELEASE ? 0 : 1;
}

START_TEST(test_bounded_semaphore)
{
    mproc_semaphore *s;
    tu_assert_rc(mproc_bounded_semaphore_create(&s, 2), 0);
    tu_assert_rc(mproc_semaphore_release(s), MPROC_EOVERRELEASE);
    tu_assert_rc(mproc_semaphore_acquire(s, 0), 0);
    tu_assert_rc(mproc_semaphore_release(s), 0);
    tu_assert_rc(mproc_semaphore_release(s), MPROC_EOVERRELEASE);
    /* Eight processes race to release one missing count: exactly one wins. */
    tu_assert_rc(mproc_semaphore_acquire(s, 0), 0);
    struct sem_ctx c = {s, NULL, NULL, NULL, NULL};
    atomic_int *mem = ptu_shared(4096);
    c.ok = mem, c.over = mem + 1;
    mproc_process *p[8];
    for (int i = 0; i < 8; i++)
        p[i] = ptu_start(fn_release_once, &c);
    for (int i = 0; i < 8; i++)
        ptu_join_expect(p[i], 0, 10);
    ck_assert_int_eq(atomic_load(c.ok), 1);
    ck_assert_int_eq(atomic_load(c.over), 7);
    int v = 0;
    tu_assert_rc(mproc_semaphore_get_value(s, &v), 0);
    ck_assert_int_eq(v, 2);
    tu_assert_rc(mproc_semaphore_destroy(s), 0);
    munmap(mem, 4096);
}
END_TEST

/* ---- Value ------------------------------------------------------------------------------------ */

START_TEST(test_value_dtypes)
{
    const tu_dtype_info *t = &tu_dtypes[_i];
    uint64_t init = 0, delta = 0, want = 0, got = 0, result = 0;
    tu_fill_random(t->dtype, &init, 1, 7 + (uint64_t)_i);
    tu_fill_random(t->dtype, &delta, 1, 99 + (uint64_t)_i);
    mproc_value *v;
    tu_assert_rc(mproc_value_create(&v, t->dtype, &init), 0);
    ck_assert_int_eq(mproc_value_dtype(v), t->dtype);
    ck_assert_uint_eq((uintptr_t)mproc_value_ptr(v) % 8, 0);
    tu_assert_rc(mproc_value_get(v, &got), 0);
    ck_assert_int_eq(memcmp(&got, &init, t->size), 0);
    tu_assert_rc(mproc_value_add(v, &delta, &result), 0);
    tu_ref_apply(MPROC_OP_ADD, t->dtype, &init, &want, 1, &delta);
    ck_assert_uint_eq(tu_mismatch(MPROC_OP_ADD, t->dtype, &result, &want, 1), SIZE_MAX);
    tu_assert_rc(mproc_value_get(v, &got), 0);
    ck_assert_uint_eq(tu_mismatch(MPROC_OP_ADD, t->dtype, &got, &want, 1), SIZE_MAX);
    tu_assert_rc(mproc_value_set(v, &delta), 0);
    tu_assert_rc(mproc_value_get(v, &got), 0);
    ck_assert_int_eq(memcmp(&got, &delta, t->size), 0);
    /* the lock is recursive: get/set/add inside a compound update */
    tu_assert_rc(mproc_value_lock(v, -1), 0);
    tu_assert_rc(mproc_value_set(v, &init), 0);
    tu_assert_rc(mproc_value_add(v, &delta, NULL), 0);
    tu_assert_rc(mproc_value_unlock(v), 0);
    tu_assert_rc(mproc_value_unlock(v), MPROC_ENOTOWNER);
    tu_assert_rc(mproc_value_get(v, &got), 0);
    ck_assert_uint_eq(tu_mismatch(MPROC_OP_ADD, t->dtype, &got, &want, 1), SIZE_MAX);
    tu_assert_rc(mproc_value_destroy(v), 0);
}
END_TEST

START_TEST(test_value_wraps)
{
    mproc_value *v;
    int8_t i8 = 127, one8 = 1;
    tu_assert_rc(mproc_value_create(&v, MPROC_INT8, &i8), 0);
    tu_assert_rc(mproc_value_add(v, &one8, &i8), 0);
    ck_assert_int_eq(i8, -128);
    tu_assert_rc(mproc_value_destroy(v), 0);
    int32_t i32 = 0;
    tu_assert_rc(mproc_value_create(&v, MPROC_INT32, NULL), 0);
    tu_assert_rc(mproc_value_get(v, &i32), 0);
    ck_assert_int_eq(i32, 0);
    i32 = INT32_MAX;
    tu_assert_rc(mproc_value_set(v, &i32), 0);
    int32_t one = 1;
    tu_assert_rc(mproc_value_add(v, &one, &i32), 0);
    ck_assert_int_eq(i32, INT32_MIN);
    tu_assert_rc(mproc_value_destroy(v), 0);
}
END_TEST

/* ---- arguments ------------------------------------------------------------------------------- */

START_TEST(test_invalid_args)
{
    mproc_lock *l = (mproc_lock *)1;
    mproc_rlock *r = (mproc_rlock *)1;
    mproc_semaphore *s = (mproc_semaphore *)1;
    mproc_value *v = (mproc_value *)1;
    int x = 0;
    tu_assert_rc(mproc_lock_create(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_lock_acquire(NULL, -1), MPROC_EINVAL);
    tu_assert_rc(mproc_lock_release(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_lock_destroy(NULL), 0);
    tu_assert_rc(mproc_rlock_create(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_rlock_acquire(NULL, -1), MPROC_EINVAL);
    tu_assert_rc(mproc_rlock_release(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_rlock_destroy(NULL), 0);
    tu_assert_rc(mproc_semaphore_create(NULL, 1), MPROC_EINVAL);
    tu_assert_rc(mproc_bounded_semaphore_create(NULL, 1), MPROC_EINVAL);
    tu_assert_rc(mproc_semaphore_create(&s, 0x80000000u), MPROC_EINVAL);
    ck_assert_ptr_null(s);
    tu_assert_rc(mproc_semaphore_acquire(NULL, -1), MPROC_EINVAL);
    tu_assert_rc(mproc_semaphore_release(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_semaphore_get_value(NULL, &x), MPROC_EINVAL);
    tu_assert_rc(mproc_semaphore_destroy(NULL), 0);
    tu_assert_rc(mproc_value_create(NULL, MPROC_INT32, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_value_create(&v, MPROC_DTYPE_ANY, NULL), MPROC_EDTYPE);
    ck_assert_ptr_null(v);
    tu_assert_rc(mproc_value_create(&v, (mproc_dtype)99, NULL), MPROC_EDTYPE);
    tu_assert_rc(mproc_value_get(NULL, &x), MPROC_EINVAL);
    tu_assert_rc(mproc_value_set(NULL, &x), MPROC_EINVAL);
    tu_assert_rc(mproc_value_add(NULL, &x, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_value_lock(NULL, -1), MPROC_EINVAL);
    tu_assert_rc(mproc_value_unlock(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_value_destroy(NULL), 0);
    ck_assert_ptr_null(mproc_value_ptr(NULL));
    ck_assert_int_eq(mproc_value_dtype(NULL), MPROC_DTYPE_ANY);

    tu_assert_rc(mproc_lock_create(&l), 0);
    tu_assert_rc(mproc_lock_acquire(l, -2), MPROC_EINVAL);
    tu_assert_rc(mproc_lock_destroy(l), 0);
    tu_assert_rc(mproc_rlock_create(&r), 0);
    tu_assert_rc(mproc_rlock_acquire(r, -5), MPROC_EINVAL);
    tu_assert_rc(mproc_rlock_destroy(r), 0);
    tu_assert_rc(mproc_semaphore_create(&s, 1), 0);
    tu_assert_rc(mproc_semaphore_acquire(s, -2), MPROC_EINVAL);
    tu_assert_rc(mproc_semaphore_get_value(s, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_semaphore_destroy(s), 0);
    tu_assert_rc(mproc_value_create(&v, MPROC_FLOAT64, NULL), 0);
    tu_assert_rc(mproc_value_get(v, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_value_set(v, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_value_add(v, NULL, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_value_lock(v, -2), MPROC_EINVAL);
    tu_assert_rc(mproc_value_destroy(v), 0);
}
END_TEST

/* ---- suite ----------------------------------------------------------------------------------- */

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
    Suite *s = suite_create("sync");
    TCase *t = tc(s, "contention", 90);
    tcase_add_test(t, test_counter_contention);
    tcase_add_test(t, test_semaphore_limits);

    t = tc(s, "crash", 30);
    tcase_add_loop_test(t, test_holder_dies, 0, K_KINDS * 3);

    t = tc(s, "locks", 20);
    tcase_add_loop_test(t, test_owner_rules, 0, K_KINDS);
    tcase_add_test(t, test_rlock_recursion);
    tcase_add_test(t, test_lock_timeouts_eintr);

    t = tc(s, "semaphore", 20);
    tcase_add_test(t, test_semaphore_wait_timeout_eintr);
    tcase_add_test(t, test_bounded_semaphore);

    t = tc(s, "value", 20);
    tcase_add_loop_test(t, test_value_dtypes, 0, MPROC_DTYPE_COUNT);
    tcase_add_test(t, test_value_wraps);
    tcase_add_test(t, test_invalid_args);
    return tu_run(s);
}
