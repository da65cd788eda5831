/*
 * test_ipc.c - Queue and Pipe. Queue: 4 producers x 10,000 numbered messages of varying
 * length through a small queue to 3 consumers, every number exactly once and each
 * producer's numbers in order; a producer SIGKILLed while putting leaves the queue
 * consistent; full/empty timeouts and the non-blocking variants; message size limits;
 * close semantics (drain, then MPROC_ECLOSED; blocked callers woken). Pipe: duplex
 * round trips of every size up to the limit, one-way pipes, closed peers (no SIGPIPE),
 * poll, EINTR, and every invalid argument.
 */
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "ptu.h"

enum { PRODUCERS = 4, CONSUMERS = 3, PER_PRODUCER = 10000, MSG_MAX = 64 };

/* A message: a 32-bit number, then (number % 50) bytes derived from it. */
static size_t make_msg(uint32_t n, unsigned char *buf)
{
    memcpy(buf, &n, sizeof n);
    size_t extra = n % 50;
    for (size_t i = 0; i < extra; i++)
        buf[sizeof n + i] = (unsigned char)(n * 31 + i);
    return sizeof n + extra;
}

/* The number in a message, or UINT32_MAX if the message is damaged. */
static uint32_t check_msg(const unsigned char *buf, size_t len)
{
    uint32_t n;
    if (len < sizeof n)
        return UINT32_MAX;
    memcpy(&n, buf, sizeof n);
    unsigned char want[MSG_MAX];
    return make_msg(n, want) == len && memcmp(want, buf, len) == 0 ? n : UINT32_MAX;
}

/* ---- contention ---------------------------------------------------------------------------- */

struct qctx {
    mproc_queue *q;
    int producer;
    atomic_int *seen; /* [PRODUCERS * PER_PRODUCER] */
};

static int fn_producer(void *arg)
{
    struct qctx *c = arg;
    unsigned char buf[MSG_MAX];
    for (uint32_t i = 0; i < PER_PRODUCER; i++) {
        size_t len = make_msg((uint32_t)c->producer * PER_PRODUCER + i, buf);
        PTU_CHECK(mproc_queue_put(c->q, buf, len, 30000) == 0, 1);
    }
    return 0;
}

static int fn_consumer(void *arg)
{
    struct qctx *c = arg;
    int64_t last[PRODUCERS] = {-1, -1, -1, -1};
    unsigned char buf[MSG_MAX];
    for (;;) {
        size_t len = 0;
        int rc = mproc_queue_get(c->q, buf, sizeof buf, &len, 30000);
        if (rc == MPROC_ECLOSED)
            return 0;
        PTU_CHECK(rc == 0, 1);
        uint32_t n = check_msg(buf, len);
        PTU_CHECK(n < PRODUCERS * PER_PRODUCER, 2);
        int from = (int)(n / PER_PRODUCER);
        PTU_CHECK((int64_t)(n % PER_PRODUCER) > last[from], 3); /* FIFO per producer */
        last[from] = n % PER_PRODUCER;
        atomic_fetch_add(&c->seen[n], 1);
    }
}

START_TEST(test_queue_contention)
{
    struct qctx c[PRODUCERS];
    mproc_queue *q;
    tu_assert_rc(mproc_queue_create(&q, 16, MSG_MAX), 0);
    size_t seen_bytes = sizeof(atomic_int) * PRODUCERS * PER_PRODUCER;
    atomic_int *seen = ptu_shared(seen_bytes);
    mproc_process *prod[PRODUCERS], *cons[CONSUMERS];
    for (int i = 0; i < PRODUCERS; i++) {
        c[i] = (struct qctx){q, i, seen};
        prod[i] = ptu_start(fn_producer, &c[i]);
    }
    for (int i = 0; i < CONSUMERS; i++)
        cons[i] = ptu_start(fn_consumer, &c[0]);
    for (int i = 0; i < PRODUCERS; i++)
        ptu_join_expect(prod[i], 0, 60);
    tu_assert_rc(mproc_queue_close(q), 0); /* consumers drain, then see ECLOSED */
    for (int i = 0; i < CONSUMERS; i++)
        ptu_join_expect(cons[i], 0, 60);
    int n = 0;
    while (n < PRODUCERS * PER_PRODUCER && atomic_load(&seen[n]) == 1)
        n++;
    ck_assert_msg(n == PRODUCERS * PER_PRODUCER, "message %d received %d times", n,
                  atomic_load(&seen[n]));
    ck_assert_int_eq(mproc_queue_qsize(q), 0);
    tu_assert_rc(mproc_queue_destroy(q), 0);
    munmap(seen, seen_bytes);
}
END_TEST

enum { KILLED_MSG = 1024 };

/* Puts 0, 1, 2, ... until killed (or blocked on a full queue); messages big enough that
 * it is sometimes killed in the middle of copying one. */
static int fn_endless_producer(void *arg)
{
    static unsigned char buf[KILLED_MSG];
    for (uint32_t i = 0;; i++) {
        memset(buf, (int)(i & 0xff), sizeof buf);
        memcpy(buf, &i, sizeof i);
        if (mproc_queue_put(arg, buf, sizeof buf, -1) != 0)
            return 1;
    }
}

START_TEST(test_queue_producer_killed)
{
    mproc_queue *q;
    tu_assert_rc(mproc_queue_create(&q, 8192, KILLED_MSG), 0);
    mproc_process *p = ptu_start(fn_endless_producer, q);
    tu_sleep_ms(30 + 7 * (unsigned)_i);
    mproc_process_kill(p);
    ptu_join_expect(p, -SIGKILL, 10);
    static unsigned char buf[KILLED_MSG];
    size_t len;
    uint32_t next = 0;
    while (mproc_queue_get_nowait(q, buf, sizeof buf, &len) == 0) {
        uint32_t n;
        memcpy(&n, buf, sizeof n);
        if (len != sizeof buf || n != next || buf[KILLED_MSG - 1] != (next & 0xff))
            ck_abort_msg("message %u: number %u, length %zu, last byte %u: gap, "
                         "duplicate or torn", next, n, len, buf[KILLED_MSG - 1]);
        next++;
    }
    ck_assert_uint_gt(next, 0);
    tu_assert_rc(mproc_queue_put(q, "after", 5, 0), 0); /* still works */
    tu_assert_rc(mproc_queue_get(q, buf, sizeof buf, &len, 0), 0);
    ck_assert_uint_eq(len, 5);
    tu_assert_rc(mproc_queue_destroy(q), 0);
}
END_TEST

/* ---- timeouts, sizes, close ---------------------------------------------------------------- */

START_TEST(test_queue_full_empty_timeouts)
{
    mproc_queue *q;
    tu_assert_rc(mproc_queue_create(&q, 2, 8), 0);
    ck_assert_uint_eq(mproc_queue_capacity(q), 2);
    ck_assert_uint_eq(mproc_queue_max_msg(q), 8);
    tu_assert_rc(mproc_queue_put(q, "a", 1, 0), 0);
    tu_assert_rc(mproc_queue_put_nowait(q, "bb", 2), 0);
    tu_assert_rc(mproc_queue_put_nowait(q, "c", 1), MPROC_EFULL);
    ck_assert_int_eq(mproc_queue_qsize(q), 2);
    ptu_interrupts(5);
    double t0 = tu_now();
    tu_assert_rc(mproc_queue_put(q, "c", 1, 150), MPROC_EFULL);
    double dt = tu_now() - t0;
    ck_assert_msg(dt >= 0.149 && dt < 1.5, "put(150 ms) on a full queue took %.3f s", dt);
    char buf[8];
    size_t len = 0;
    tu_assert_rc(mproc_queue_get(q, buf, sizeof buf, &len, -1), 0);
    ck_assert(len == 1 && buf[0] == 'a');
    tu_assert_rc(mproc_queue_get_nowait(q, buf, sizeof buf, &len), 0);
    ck_assert(len == 2 && memcmp(buf, "bb", 2) == 0);
    tu_assert_rc(mproc_queue_get_nowait(q, buf, sizeof buf, &len), MPROC_EEMPTY);
    t0 = tu_now();
    tu_assert_rc(mproc_queue_get(q, buf, sizeof buf, &len, 150), MPROC_EEMPTY);
    dt = tu_now() - t0;
    ptu_interrupts(0);
    ck_assert_msg(dt >= 0.149 && dt < 1.5, "get(150 ms) on an empty queue took %.3f s", dt);
    ck_assert_int_eq(mproc_queue_qsize(q), 0);
    tu_assert_rc(mproc_queue_destroy(q), 0);
}
END_TEST

START_TEST(test_queue_message_sizes)
{
    mproc_queue *q;
    tu_assert_rc(mproc_queue_create(&q, 4, 100), 0);
    unsigned char big[101] = {0}, buf[100];
    size_t len = 0;
    tu_assert_rc(mproc_queue_put(q, big, 101, 0), MPROC_ETOOBIG);
    tu_assert_rc(mproc_queue_put(q, NULL, 0, 0), 0); /* empty messages are messages */
    memset(big, 7, sizeof big);
    tu_assert_rc(mproc_queue_put(q, big, 100, 0), 0);
    tu_assert_rc(mproc_queue_get(q, NULL, 0, &len, 0), 0);
    ck_assert_uint_eq(len, 0);
    tu_assert_rc(mproc_queue_get(q, buf, 10, &len, 0), MPROC_ETOOBIG);
    ck_assert_uint_eq(len, 100); /* the length it needs; the message stays at the head */
    ck_assert_int_eq(mproc_queue_qsize(q), 1);
    tu_assert_rc(mproc_queue_get(q, buf, sizeof buf, &len, 0), 0);
    ck_assert(len == 100 && buf[0] == 7 && buf[99] == 7);
    tu_assert_rc(mproc_queue_destroy(q), 0);
}
END_TEST

static int fn_get_expect_closed(void *arg)
{
    size_t len;
    char buf[8];
    return mproc_queue_get(arg, buf, sizeof buf, &len, 20000) == MPROC_ECLOSED ? 0 : 1;
}

static int fn_put_expect_closed(void *arg)
{
    return mproc_queue_put(arg, "x", 1, 20000) == MPROC_ECLOSED ? 0 : 1;
}

START_TEST(test_queue_close)
{
    mproc_queue *empty, *full;
    tu_assert_rc(mproc_queue_create(&empty, 4, 8), 0);
    tu_assert_rc(mproc_queue_create(&full, 1, 8), 0);
    tu_assert_rc(mproc_queue_put(full, "f", 1, 0), 0);
    mproc_process *g = ptu_start(fn_get_expect_closed, empty);
    mproc_process *p = ptu_start(fn_put_expect_closed, full);
    tu_sleep_ms(100); /* both blocked */
    ck_assert_int_eq(mproc_process_is_alive(g), 1);
    ck_assert_int_eq(mproc_process_is_alive(p), 1);
    tu_assert_rc(mproc_queue_close(empty), 0);
    tu_assert_rc(mproc_queue_close(full), 0);
    tu_assert_rc(mproc_queue_close(full), 0); /* twice is fine */
    ptu_join_expect(g, 0, 10);
    ptu_join_expect(p, 0, 10);
    /* what was in the queue is still delivered, then ECLOSED */
    char buf[8];
    size_t len = 0;
    tu_assert_rc(mproc_queue_put(full, "y", 1, 0), MPROC_ECLOSED);
    tu_assert_rc(mproc_queue_get(full, buf, sizeof buf, &len, -1), 0);
    ck_assert(len == 1 && buf[0] == 'f');
    tu_assert_rc(mproc_queue_get(full, buf, sizeof buf, &len, -1), MPROC_ECLOSED);
    tu_assert_rc(mproc_queue_destroy(empty), 0);
    tu_assert_rc(mproc_queue_destroy(full), 0);
}
END_TEST

/* ---- Pipe --------------------------------------------------------------------------------- */

struct ends {
    mproc_conn *mine, *theirs;
};

/* Echoes every message back with each byte + 1, until the other end closes. */
static int fn_echo(void *arg)
{
    struct ends *e = arg;
    mproc_conn_close(e->theirs); /* else its own copy would keep the stream open */
    static unsigned char buf[MPROC_PIPE_MSG_MAX];
    for (;;) {
        size_t len = 0;
        int rc = mproc_conn_recv(e->mine, buf, sizeof buf, &len, 20000);
        if (rc == MPROC_ECLOSED)
            return 0;
        PTU_CHECK(rc == 0, 1);
        for (size_t i = 0; i < len; i++)
            buf[i]++;
        PTU_CHECK(mproc_conn_send(e->mine, buf, len) == 0, 2);
    }
}

START_TEST(test_pipe_duplex_round_trips)
{
    mproc_conn *a, *b;
    tu_assert_rc(mproc_pipe_create(&a, &b, 1), 0);
    struct ends e = {b, a};
    mproc_process *p = ptu_start(fn_echo, &e);
    tu_assert_rc(mproc_conn_close(b), 0); /* the child has its own copy */
    static unsigned char out[MPROC_PIPE_MSG_MAX], in[MPROC_PIPE_MSG_MAX];
    const size_t sizes[] = {0, 1, 2, 100, 4095, 4096, 65535, MPROC_PIPE_MSG_MAX};
    ptu_interrupts(3);
    for (int round = 0; round < 200; round++) {
        size_t n = sizes[round % (sizeof sizes / sizeof sizes[0])];
        for (size_t i = 0; i < n; i++)
            out[i] = (unsigned char)(i * 7 + (size_t)round);
        tu_assert_rc(mproc_conn_send(a, out, n), 0);
        size_t len = 12345;
        tu_assert_rc(mproc_conn_recv(a, in, sizeof in, &len, 20000), 0);
        ck_assert_uint_eq(len, n);
        size_t bad = 0; /* (one ck_assert per byte would be slow: each one is a write) */
        while (bad < n && in[bad] == (unsigned char)(out[bad] + 1))
            bad++;
        ck_assert_msg(bad == n, "round %d: byte %zu of %zu differs", round, bad, n);
    }
    ptu_interrupts(0);
    tu_assert_rc(mproc_conn_send(a, out, MPROC_PIPE_MSG_MAX + 1), MPROC_ETOOBIG);
    tu_assert_rc(mproc_conn_close(a), 0); /* the echo sees ECLOSED and exits 0 */
    ptu_join_expect(p, 0, 10);
}
END_TEST

START_TEST(test_pipe_one_way_and_closed)
{
    mproc_conn *r, *w;
    tu_assert_rc(mproc_pipe_create(&r, &w, 0), 0);
    tu_assert_rc(mproc_conn_send(r, "x", 1), MPROC_EINVAL); /* receive-only end */
    size_t len = 0;
    char buf[4];
    tu_assert_rc(mproc_conn_recv(w, buf, sizeof buf, &len, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_conn_poll(w, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_conn_poll(r, 0), MPROC_ETIMEDOUT);
    double t0 = tu_now();
    tu_assert_rc(mproc_conn_recv(r, buf, sizeof buf, &len, 100), MPROC_ETIMEDOUT);
    ck_assert_msg(tu_now() - t0 >= 0.099, "recv(100 ms) took %.3f s", tu_now() - t0);
    tu_assert_rc(mproc_conn_send(w, "abcd", 4), 0);
    tu_assert_rc(mproc_conn_send(w, "", 0), 0);
    tu_assert_rc(mproc_conn_poll(r, 0), 0);
    struct pollfd pfd = {.fd = mproc_conn_fileno(r), .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 0), 1);
    tu_assert_rc(mproc_conn_recv(r, buf, 2, &len, 0), MPROC_ETOOBIG);
    ck_assert_uint_eq(len, 4); /* still queued */
    tu_assert_rc(mproc_conn_recv(r, buf, sizeof buf, &len, 0), 0);
    ck_assert(len == 4 && memcmp(buf, "abcd", 4) == 0);
    tu_assert_rc(mproc_conn_close(w), 0);
    tu_assert_rc(mproc_conn_recv(r, buf, sizeof buf, &len, 0), 0); /* the empty one */
    ck_assert_uint_eq(len, 0);
    tu_assert_rc(mproc_conn_poll(r, 0), 0); /* end of stream is readable */
    tu_assert_rc(mproc_conn_recv(r, buf, sizeof buf, &len, -1), MPROC_ECLOSED);
    tu_assert_rc(mproc_conn_close(r), 0);

    /* sending to a closed peer: an error, not SIGPIPE */
    mproc_conn *a, *b;
    tu_assert_rc(mproc_pipe_create(&a, &b, 1), 0);
    tu_assert_rc(mproc_conn_close(b), 0);
    tu_assert_rc(mproc_conn_send(a, "x", 1), MPROC_ECLOSED);
    tu_assert_rc(mproc_conn_close(a), 0);
}
END_TEST

/* ---- arguments ------------------------------------------------------------------------------ */

START_TEST(test_invalid_args)
{
    mproc_queue *q = (mproc_queue *)1;
    size_t len = 0;
    char buf[4];
    tu_assert_rc(mproc_queue_create(NULL, 1, 1), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_create(&q, 0, 1), MPROC_EINVAL);
    ck_assert_ptr_null(q);
    tu_assert_rc(mproc_queue_create(&q, 1, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_create(&q, SIZE_MAX / 2, SIZE_MAX / 4), MPROC_EOVERFLOW);
    tu_assert_rc(mproc_queue_put(NULL, "x", 1, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_put_nowait(NULL, "x", 1), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_get(NULL, buf, 4, &len, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_get_nowait(NULL, buf, 4, &len), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_qsize(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_close(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_destroy(NULL), 0);
    ck_assert_uint_eq(mproc_queue_capacity(NULL), 0);
    ck_assert_uint_eq(mproc_queue_max_msg(NULL), 0);
    tu_assert_rc(mproc_queue_create(&q, 2, 4), 0);
    tu_assert_rc(mproc_queue_put(q, NULL, 1, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_put(q, "x", 1, -2), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_get(q, buf, 4, NULL, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_get(q, NULL, 4, &len, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_get(q, buf, 4, &len, -2), MPROC_EINVAL);
    tu_assert_rc(mproc_queue_destroy(q), 0);

    mproc_conn *a = (mproc_conn *)1, *b = (mproc_conn *)1;
    tu_assert_rc(mproc_pipe_create(NULL, &b, 1), MPROC_EINVAL);
    tu_assert_rc(mproc_pipe_create(&a, NULL, 1), MPROC_EINVAL);
    tu_assert_rc(mproc_conn_send(NULL, "x", 1), MPROC_EINVAL);
    tu_assert_rc(mproc_conn_recv(NULL, buf, 4, &len, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_conn_poll(NULL, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_conn_fileno(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_conn_close(NULL), 0);
    tu_assert_rc(mproc_pipe_create(&a, &b, 1), 0);
    tu_assert_rc(mproc_conn_send(a, NULL, 1), MPROC_EINVAL);
    tu_assert_rc(mproc_conn_recv(b, buf, 4, NULL, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_conn_recv(b, NULL, 4, &len, 0), MPROC_EINVAL);
    tu_assert_rc(mproc_conn_recv(b, buf, 4, &len, -2), MPROC_EINVAL);
    tu_assert_rc(mproc_conn_poll(b, -2), MPROC_EINVAL);
    ck_assert_int_ge(mproc_conn_fileno(a), 0);
    tu_assert_rc(mproc_conn_close(a), 0);
    tu_assert_rc(mproc_conn_close(b), 0);
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
    Suite *s = suite_create("ipc");
    TCase *t = tc(s, "queue-contention", 90);
    tcase_add_test(t, test_queue_contention);
    tcase_add_loop_test(t, test_queue_producer_killed, 0, 5);

    t = tc(s, "queue", 20);
    tcase_add_test(t, test_queue_full_empty_timeouts);
    tcase_add_test(t, test_queue_message_sizes);
    tcase_add_test(t, test_queue_close);

    t = tc(s, "pipe", 30);
    tcase_add_test(t, test_pipe_duplex_round_trips);
    tcase_add_test(t, test_pipe_one_way_and_closed);
    tcase_add_test(t, test_invalid_args);
    return tu_run(s);
}
