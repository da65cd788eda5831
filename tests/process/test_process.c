/*
 * test_process.c - Process: exit codes (normal, status, SIGTERM, SIGKILL, other
 * signals), join with a timeout and under EINTR, is_alive, 100 processes at once, the
 * sentinel (pidfd and the socket-pair fallback) readable at the end, daemons dying with
 * their parent (and non-daemons not), close refusing a live process, names, use from a
 * forked copy, stdio flushed once, start failing cleanly, and every invalid argument.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "ptu.h"

void mproc__process_force_fallback(bool on); /* internal test hook (lib/src/process.c) */

/* ---- child functions -------------------------------------------------------------------- */

static int fn_return(void *arg) { return (int)(intptr_t)arg; }
static int fn_underscore_exit(void *arg) { _exit((int)(intptr_t)arg); }
static int fn_exit(void *arg) { exit((int)(intptr_t)arg); }
static int fn_abort(void *arg) { (void)arg; abort(); }
static int fn_raise(void *arg) { raise((int)(intptr_t)arg); return 99; }

static int fn_sleep(void *arg)
{
    tu_sleep_ms((unsigned)(intptr_t)arg);
    return 0;
}

static int fn_pause(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return 0;
}

/* Check's SIGTERM handler (inherited through fork) would signal the test's process
 * group: a child that is to die of SIGTERM puts the default action back first, or
 * ignores it (arg2), and says so through the event. */
struct term_setup {
    mproc_event *ready;
    void (*action)(int);
};

static int fn_term_ready(void *arg)
{
    struct term_setup *t = arg;
    signal(SIGTERM, t->action);
    mproc_event_set(t->ready);
    return fn_pause(NULL);
}

/* Starts a pausing child whose SIGTERM action is `action`, once it is in place. */
static mproc_process *start_term_child(void (*action)(int))
{
    struct term_setup t = {NULL, action};
    tu_assert_rc(mproc_event_create(&t.ready), 0);
    mproc_process *p = ptu_start(fn_term_ready, &t);
    tu_assert_rc(mproc_event_wait(t.ready, 10000), 0);
    tu_assert_rc(mproc_event_destroy(t.ready), 0);
    return p;
}

/* ---- exit codes ---------------------------------------------------------------------------- */

static const struct {
    mproc_process_fn fn;
    intptr_t arg;
    int want;
} exit_cases[] = {
    {fn_return, 0, 0},           {fn_return, 3, 3},
    {fn_return, 255, 255},       {fn_return, 300, 300 & 0xff},
    {fn_underscore_exit, 7, 7},  {fn_exit, 9, 9},
    {fn_abort, 0, -SIGABRT},     {fn_raise, SIGUSR1, -SIGUSR1},
};

START_TEST(test_exit_codes)
{
    mproc_process *p = ptu_start(exit_cases[_i].fn, (void *)exit_cases[_i].arg);
    ptu_join_expect(p, exit_cases[_i].want, 10);
}
END_TEST

START_TEST(test_terminate_and_kill)
{
    mproc_process *p = start_term_child(SIG_DFL);
    tu_assert_rc(mproc_process_terminate(p), 0);
    ptu_join_expect(p, -SIGTERM, 10);

    p = ptu_start(fn_pause, NULL);
    tu_assert_rc(mproc_process_kill(p), 0);
    ptu_join_expect(p, -SIGKILL, 10);

    /* After the end: nothing is signalled, the exit code stays. */
    p = ptu_start(fn_return, (void *)5);
    tu_assert_rc(mproc_process_join(p, 10000), 0);
    tu_assert_rc(mproc_process_terminate(p), 0);
    tu_assert_rc(mproc_process_kill(p), 0);
    ptu_join_expect(p, 5, 1);
}
END_TEST

START_TEST(test_terminate_ignored)
{
    mproc_process *p = start_term_child(SIG_IGN);
    tu_assert_rc(mproc_process_terminate(p), 0);
    tu_assert_rc(mproc_process_join(p, 200), MPROC_ETIMEDOUT);
    ck_assert_int_eq(mproc_process_is_alive(p), 1);
    tu_assert_rc(mproc_process_kill(p), 0);
    ptu_join_expect(p, -SIGKILL, 10);
}
END_TEST

/* ---- join, is_alive ------------------------------------------------------------------------ */

START_TEST(test_join_timeout)
{
    mproc_process *p = ptu_start(fn_pause, NULL);
    double t0 = tu_now();
    tu_assert_rc(mproc_process_join(p, 150), MPROC_ETIMEDOUT);
    double dt = tu_now() - t0;
    ck_assert_msg(dt >= 0.149 && dt < 2.0, "join(150 ms) returned after %.3f s", dt);
    tu_assert_rc(mproc_process_join(p, 0), MPROC_ETIMEDOUT);
    int code = 0;
    tu_assert_rc(mproc_process_exitcode(p, &code), 0);
    ck_assert_int_eq(code, MPROC_EXITCODE_NONE);
    tu_assert_rc(mproc_process_kill(p), 0);
    ptu_join_expect(p, -SIGKILL, 10);
}
END_TEST

START_TEST(test_is_alive)
{
    mproc_process *p = ptu_start(fn_sleep, (void *)300);
    ck_assert_int_eq(mproc_process_is_alive(p), 1);
    tu_assert_rc(mproc_process_join(p, -1), 0);
    ck_assert_int_eq(mproc_process_is_alive(p), 0);
    tu_assert_rc(mproc_process_join(p, 0), 0); /* joining again is fine */
    ptu_join_expect(p, 0, 1);
}
END_TEST

/* Signals without SA_RESTART every 5 ms must not end or lengthen waits (both sentinels). */
START_TEST(test_join_eintr)
{
    mproc__process_force_fallback(_i == 1);
    ptu_interrupts(5);
    mproc_process *p = ptu_start(fn_sleep, (void *)300);
    double t0 = tu_now();
    tu_assert_rc(mproc_process_join(p, -1), 0);
    ck_assert_msg(tu_now() - t0 > 0.25, "join returned after %.3f s", tu_now() - t0);
    ptu_join_expect(p, 0, 1);

    p = ptu_start(fn_pause, NULL);
    t0 = tu_now();
    tu_assert_rc(mproc_process_join(p, 200), MPROC_ETIMEDOUT);
    double dt = tu_now() - t0;
    ck_assert_msg(dt >= 0.199 && dt < 1.5, "join(200 ms) returned after %.3f s", dt);
    ptu_interrupts(0);
    mproc_process_kill(p);
    ptu_join_expect(p, -SIGKILL, 10);
}
END_TEST

START_TEST(test_hundred_processes)
{
    enum { N = 100 };
    mproc_process *p[N];
    for (int i = 0; i < N; i++)
        p[i] = ptu_start(fn_return, (void *)(intptr_t)i);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < i; j++)
            ck_assert_int_ne(mproc_process_pid(p[i]), mproc_process_pid(p[j]));
    for (int i = N - 1; i >= 0; i--)
        ptu_join_expect(p[i], i, 30);
}
END_TEST

/* ---- sentinel ------------------------------------------------------------------------------ */

static short poll_one(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n;
    do {
        n = poll(&pfd, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? pfd.revents : 0;
}

START_TEST(test_sentinel_readable)
{
    mproc__process_force_fallback(_i == 1);
    mproc_process *p = ptu_start(fn_sleep, (void *)200);
    int fd = mproc_process_sentinel(p);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(poll_one(fd, 0), 0);
    ck_assert_msg(poll_one(fd, 10000) & POLLIN, "sentinel not readable");
    if (_i == 0) { /* a pidfd is readable once the exit status is there */
        int code = 1;
        tu_assert_rc(mproc_process_exitcode(p, &code), 0);
        ck_assert_int_eq(code, 0);
    }
    tu_assert_rc(mproc_process_join(p, 5000), 0);
    ck_assert_msg(poll_one(fd, 0) & POLLIN, "sentinel not readable after join");
    ptu_join_expect(p, 0, 1);
}
END_TEST

START_TEST(test_sentinel_poll_many)
{
    enum { N = 8 };
    mproc__process_force_fallback(_i == 1);
    mproc_process *p[N];
    struct pollfd pfd[N];
    for (int i = 0; i < N; i++) {
        p[i] = ptu_start(fn_sleep, (void *)(intptr_t)(30 * (N - i)));
        pfd[i] = (struct pollfd){.fd = mproc_process_sentinel(p[i]), .events = POLLIN};
    }
    int done = 0, order[N];
    double deadline = tu_now() + 10;
    while (done < N && tu_now() < deadline) {
        if (poll(pfd, N, 100) <= 0)
            continue;
        for (int i = 0; i < N; i++)
            if (pfd[i].fd >= 0 && (pfd[i].revents & POLLIN)) {
                order[done++] = i;
                pfd[i].fd = -1; /* poll ignores negative descriptors */
            }
    }
    ck_assert_int_eq(done, N);
    ck_assert_int_eq(order[0], N - 1); /* the shortest sleeper ends first */
    for (int i = 0; i < N; i++)
        ptu_join_expect(p[i], 0, 5);
}
END_TEST

/* ---- daemons ------------------------------------------------------------------------------- */

/* A middle process starts a child (daemon or not) that pauses, reports its pid, and
 * exits without joining. We are a subreaper: the orphan comes to us. */
START_TEST(test_daemon_dies_with_parent)
{
    bool daemon = _i == 1;
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t middle = tu_fork();
    ck_assert_int_ge(middle, 0);
    if (middle == 0) {
        close(fds[0]);
        mproc_process_options o;
        mproc_process_options_init(&o);
        o.daemon = daemon;
        mproc_process *p = NULL;
        if (mproc_process_start(&p, fn_pause, NULL, &o) != 0 ||
            mproc_process_daemon(p) != (int)daemon)
            _exit(10);
        pid_t pid = mproc_process_pid(p);
        _exit(write(fds[1], &pid, sizeof pid) == sizeof pid ? 0 : 11);
    }
    close(fds[1]);
    pid_t orphan = 0;
    ck_assert_int_eq(read(fds[0], &orphan, sizeof orphan), sizeof orphan);
    close(fds[0]);
    tu_assert_child_ok(middle, 10);
    if (daemon) {
        int st = tu_wait(orphan, 5.0);
        ck_assert_msg(st != -1, "daemon %d outlived its parent by 5 s", (int)orphan);
        ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    } else {
        tu_sleep_ms(300);
        ck_assert_msg(waitpid(orphan, NULL, WNOHANG) == 0, "non-daemon child ended");
        kill(orphan, SIGKILL);
        ck_assert_int_ne(tu_wait(orphan, 5.0), -1);
    }
}
END_TEST

/* ---- close, names, forked copies ----------------------------------------------------------- */

START_TEST(test_close_refuses_live)
{
    mproc_process *p = ptu_start(fn_pause, NULL);
    tu_assert_rc(mproc_process_close(p), MPROC_EBUSY);
    ck_assert_int_eq(mproc_process_is_alive(p), 1);
    ck_assert_int_ge(mproc_process_sentinel(p), 0);
    tu_assert_rc(mproc_process_kill(p), 0);
    tu_assert_rc(mproc_process_join(p, 10000), 0);
    tu_assert_rc(mproc_process_close(p), 0);

    /* A finished child that nobody joined: close reaps it. */
    p = ptu_start(fn_return, NULL);
    while (poll_one(mproc_process_sentinel(p), 10000) == 0) {
    }
    for (double end = tu_now() + 10; mproc_process_close(p) != 0 && tu_now() < end;)
        tu_sleep_ms(1); /* the fallback may report EOF a moment before the zombie */
}
END_TEST

START_TEST(test_names)
{
    mproc_process *a = ptu_start(fn_return, NULL), *b = ptu_start(fn_return, NULL);
    int na = 0, nb = 0;
    ck_assert_int_eq(sscanf(mproc_process_name(a), "Process-%d", &na), 1);
    ck_assert_int_eq(sscanf(mproc_process_name(b), "Process-%d", &nb), 1);
    ck_assert_int_eq(nb, na + 1);
    char name[32] = "worker-one";
    mproc_process_options o;
    mproc_process_options_init(&o);
    o.name = name;
    mproc_process *c = NULL;
    tu_assert_rc(mproc_process_start(&c, fn_return, NULL, &o), 0);
    name[0] = 'X'; /* the handle has its own copy */
    ck_assert_str_eq(mproc_process_name(c), "worker-one");
    ck_assert_int_eq(mproc_process_daemon(c), 0);
    ptu_join_expect(a, 0, 10);
    ptu_join_expect(b, 0, 10);
    ptu_join_expect(c, 0, 10);
}
END_TEST

START_TEST(test_forked_copy)
{
    mproc_process *p = ptu_start(fn_pause, NULL);
    pid_t child = tu_fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        int code = 0, bad = 0; /* one by one: close must come last */
        bad |= (mproc_process_join(p, 0) != MPROC_ESTATE) << 0;
        bad |= (mproc_process_is_alive(p) != MPROC_ESTATE) << 1;
        bad |= (mproc_process_kill(p) != MPROC_ESTATE) << 2;
        bad |= (mproc_process_exitcode(p, &code) != MPROC_ESTATE) << 3;
        bad |= (mproc_process_pid(p) <= 0) << 4;
        bad |= (mproc_process_close(p) != 0) << 5;
        _exit(bad);
    }
    tu_assert_child_ok(child, 10);
    ck_assert_int_eq(mproc_process_is_alive(p), 1);
    mproc_process_kill(p);
    ptu_join_expect(p, -SIGKILL, 10);
}
END_TEST

/* ---- memory, stdio, failures --------------------------------------------------------------- */

static int private_var;

static int fn_write_memory(void *arg)
{
    *(int *)arg = 42; /* shared mapping: the parent sees it */
    private_var = 42; /* private copy: it does not */
    return 0;
}

START_TEST(test_memory_semantics)
{
    int *shared = ptu_shared(4096);
    mproc_process *p = ptu_start(fn_write_memory, shared);
    ptu_join_expect(p, 0, 10);
    ck_assert_int_eq(*shared, 42);
    ck_assert_int_eq(private_var, 0);
    munmap(shared, 4096);
}
END_TEST

static int fn_print(void *arg)
{
    (void)arg;
    printf("child\n"); /* buffered: the child must flush before _exit */
    return 0;
}

START_TEST(test_stdio_flushed_once)
{
    fflush(stdout);
    int saved = dup(1), fd = memfd_create("ptu-stdout", 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, 1), 1);
    printf("before "); /* fully buffered now: would be written twice without the flush */
    mproc_process *p = ptu_start(fn_print, NULL);
    tu_assert_rc(mproc_process_join(p, 10000), 0);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    char buf[64] = "";
    ck_assert_int_gt(pread(fd, buf, sizeof buf - 1, 0), 0);
    close(fd);
    ck_assert_str_eq(buf, "before child\n");
    ptu_join_expect(p, 0, 1);
}
END_TEST

/* With no descriptor left, start fails (socketpair or pidfd_open) and leaves no child. */
START_TEST(test_start_out_of_fds)
{
    mproc__process_force_fallback(_i == 1);
    struct rlimit old, lim;
    getrlimit(RLIMIT_NOFILE, &old);
    lim = old;
    lim.rlim_cur = 64;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    int fds[64], n = 0;
    while (n < 64 && (fds[n] = dup(0)) >= 0)
        n++;
    mproc_process *p = (mproc_process *)1;
    int rc = mproc_process_start(&p, fn_return, NULL, NULL);
    while (n > 0)
        close(fds[--n]);
    setrlimit(RLIMIT_NOFILE, &old);
    tu_assert_rc(rc, -EMFILE);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(tu_children(NULL, 0), 0);
}
END_TEST

START_TEST(test_invalid_args)
{
    mproc_process *p = (mproc_process *)1;
    tu_assert_rc(mproc_process_start(NULL, fn_return, NULL, NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_process_start(&p, NULL, NULL, NULL), MPROC_EINVAL);
    ck_assert_ptr_null(p);
    int code = 0;
    tu_assert_rc(mproc_process_join(NULL, -1), MPROC_EINVAL);
    tu_assert_rc(mproc_process_is_alive(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_process_exitcode(NULL, &code), MPROC_EINVAL);
    tu_assert_rc(mproc_process_terminate(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_process_kill(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_process_sentinel(NULL), MPROC_EINVAL);
    tu_assert_rc(mproc_process_close(NULL), 0);
    ck_assert_int_eq(mproc_process_pid(NULL), 0);
    ck_assert_ptr_null(mproc_process_name(NULL));
    ck_assert_int_eq(mproc_process_daemon(NULL), 0);
    mproc_process_options_init(NULL);

    p = ptu_start(fn_return, NULL);
    tu_assert_rc(mproc_process_join(p, -2), MPROC_EINVAL);
    tu_assert_rc(mproc_process_exitcode(p, NULL), MPROC_EINVAL);
    ptu_join_expect(p, 0, 10);
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
    Suite *s = suite_create("process");
    TCase *t = tc(s, "exit", 20);
    tcase_add_loop_test(t, test_exit_codes, 0, (int)(sizeof exit_cases / sizeof exit_cases[0]));
    tcase_add_test(t, test_terminate_and_kill);
    tcase_add_test(t, test_terminate_ignored);

    t = tc(s, "join", 20);
    tcase_add_test(t, test_join_timeout);
    tcase_add_test(t, test_is_alive);
    tcase_add_loop_test(t, test_join_eintr, 0, 2);
    tcase_add_test(t, test_hundred_processes);

    t = tc(s, "sentinel", 20);
    tcase_add_loop_test(t, test_sentinel_readable, 0, 2);
    tcase_add_loop_test(t, test_sentinel_poll_many, 0, 2);

    t = tc(s, "lifetime", 20);
    tcase_add_loop_test(t, test_daemon_dies_with_parent, 0, 2);
    tcase_add_test(t, test_close_refuses_live);
    tcase_add_test(t, test_names);
    tcase_add_test(t, test_forked_copy);
    tcase_add_test(t, test_memory_semantics);
    tcase_add_test(t, test_stdio_flushed_once);
    tcase_add_loop_test(t, test_start_out_of_fds, 0, 2);
    tcase_add_test(t, test_invalid_args);
    return tu_run(s);
}
