/*
 * ptu.h - small helpers shared by the Process / sync / IPC suites (on top of testutil).
 *
 * Children report through their exit status (0 = every check passed, else the number
 * of the failed check): ck_assert must only run in the test's own process.
 */
#ifndef MPROC_PTU_H
#define MPROC_PTU_H

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "testutil.h"

/* In a child: exit with `code` unless cond holds. */
#define PTU_CHECK(cond, code)                                                                 \
    do {                                                                                      \
        if (!(cond))                                                                          \
            return (code);                                                                    \
    } while (0)

/* Starts fn(arg) and asserts success. */
static inline mproc_process *ptu_start(mproc_process_fn fn, void *arg)
{
    mproc_process *p = NULL;
    tu_assert_rc(mproc_process_start(&p, fn, arg, NULL), 0);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Joins (at most timeout_s), asserts the exit code and closes. */
static inline void ptu_join_expect(mproc_process *p, int want, double timeout_s)
{
    int rc = mproc_process_join(p, (int)(timeout_s * 1000));
    if (rc == MPROC_ETIMEDOUT)
        mproc_process_kill(p), mproc_process_join(p, -1);
    ck_assert_msg(rc == 0, "process %d (%s) not finished within %.1f s: %s",
                  (int)mproc_process_pid(p), mproc_process_name(p), timeout_s, tu_errname(rc));
    int code = 0;
    tu_assert_rc(mproc_process_exitcode(p, &code), 0);
    ck_assert_msg(code == want, "process %s: exit code %d, expected %d",
                  mproc_process_name(p), code, want);
    tu_assert_rc(mproc_process_close(p), 0);
}

/* Zero-filled shared memory for a test's own bookkeeping (inherited by children). */
static inline void *ptu_shared(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

static void ptu_on_alarm(int sig)
{
    (void)sig;
}

/* Interrupts the calling process with SIGALRM every period_ms (< 1000; a handler
 * without SA_RESTART, so blocking calls see EINTR), or stops that with period_ms 0 (the
 * handler stays: a late SIGALRM must not kill the test). */
static inline void ptu_interrupts(int period_ms)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    if (period_ms > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = ptu_on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        it.it_interval.tv_usec = it.it_value.tv_usec = period_ms * 1000L;
    }
    setitimer(ITIMER_REAL, &it, NULL);
}

#endif
