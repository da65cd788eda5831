/*
 * process.c - Python's Process: fn(arg) in a forked child, join with a timeout, exit
 * codes with Python's meaning, terminate/kill, daemons, and a sentinel descriptor.
 *
 * The sentinel is a pidfd where the kernel has pidfd_open (5.3+): it becomes readable
 * exactly when the child is a zombie, and nothing but the kernel can make it so. Older
 * kernels get a socket pair whose other end only the child holds (a socket, not a pipe:
 * poll reports a closed peer as POLLIN, a pipe's as POLLHUP only). A grandchild or an
 * exec can keep or drop that end, so waiting on it is done in slices with waitpid.
 */
#include "sync_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif

#define FALLBACK_SLICE_MS 50 /* how often join looks with waitpid while it polls */
#define FALLBACK_EOF_SLEEP_MS 2

struct mproc_process {
    pid_t pid;
    pid_t creator; /* only this process can wait for the child */
    int fd;        /* pidfd, or our end of the socket pair */
    bool is_pidfd;
    bool peer_gone; /* fallback: the child's end is closed; polling again would spin */
    bool finished; /* reaped: pid may belong to someone else from now on */
    bool lost;     /* reaped by someone else (-ECHILD): exit code unknown */
    int daemon;
    int exitcode;
    char *name;
};

/* 0: not probed yet, 1: pidfd_open works, -1: use the socket pair. */
static _Atomic int pidfd_mode;
static _Atomic unsigned process_counter;

void mproc__process_force_fallback(bool on)
{
    atomic_store(&pidfd_mode, on ? -1 : 0);
}

static bool pidfd_available(void)
{
    int mode = atomic_load(&pidfd_mode);
    if (mode == 0) {
        int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        if (fd >= 0) {
            close(fd);
            mode = 1;
        } else if (errno == ENOSYS || errno == EPERM) { /* old kernel, or seccomp */
            mode = -1;
        } else {
            return true; /* EMFILE and the like: try again (and report) on this start */
        }
        atomic_store(&pidfd_mode, mode);
    }
    return mode == 1;
}

MPROC_API void mproc_process_options_init(mproc_process_options *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
}

static _Noreturn void child_main(mproc_process_fn fn, void *arg, int daemon, pid_t parent,
                                 int parent_end)
{
    if (parent_end >= 0)
        close(parent_end);
    if (daemon) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) /* the parent died before prctl: do what it would do */
            raise(SIGKILL);
    }
    int status = fn(arg);
    fflush(NULL); /* _exit does not flush, and exit would run the parent's atexit hooks */
    _exit(status & 0xff);
}

static int process_new(const mproc_process_options *o, mproc_process **out)
{
    mproc_process *p = calloc(1, sizeof *p);
    if (p == NULL)
        return MPROC_ENOMEM;
    p->fd = -1;
    p->daemon = o->daemon ? 1 : 0;
    p->exitcode = MPROC_EXITCODE_NONE;
    p->creator = getpid();
    if (o->name != NULL) {
        p->name = strdup(o->name);
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "Process-%u", atomic_fetch_add(&process_counter, 1) + 1);
        p->name = strdup(buf);
    }
    if (p->name == NULL) {
        free(p);
        return MPROC_ENOMEM;
    }
    *out = p;
    return 0;
}

static void process_free(mproc_process *p)
{
    if (p->fd >= 0)
        close(p->fd);
    free(p->name);
    free(p);
}

/* Kills and reaps a child we cannot keep track of. */
static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

MPROC_API int mproc_process_start(mproc_process **out, mproc_process_fn fn, void *arg,
                                  const mproc_process_options *opts)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    if (fn == NULL)
        return MPROC_EINVAL;
    mproc_process_options o;
    mproc_process_options_init(&o);
    if (opts != NULL)
        o = *opts;
    mproc_process *p;
    int rc = process_new(&o, &p);
    if (rc != 0)
        return rc;
    p->is_pidfd = pidfd_available();
    int pair[2] = {-1, -1};
    if (!p->is_pidfd && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        rc = mproc__neg_errno(errno);
        goto error;
    }
    fflush(NULL); /* buffered output must not be written twice */
    p->pid = fork();
    if (p->pid < 0) {
        rc = mproc__neg_errno(errno);
        goto error_pair;
    }
    if (p->pid == 0)
        child_main(fn, arg, p->daemon, p->creator, pair[0]);
    if (p->is_pidfd) {
        p->fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
        if (p->fd < 0) {
            rc = mproc__neg_errno(errno);
            kill_and_reap(p->pid);
            goto error;
        }
    } else {
        close(pair[1]); /* the child holds the only copy: EOF when it is gone */
        p->fd = pair[0];
    }
    *out = p;
    return 0;

error_pair:
    if (pair[0] >= 0) {
        close(pair[0]);
        close(pair[1]);
    }
error:
    process_free(p);
    return rc;
}

/* 1 if finished (exit code recorded), 0 if running, or -errno. Never blocks. */
static int reap(mproc_process *p)
{
    if (p->finished)
        return 1;
    int st = 0;
    pid_t r;
    do {
        r = waitpid(p->pid, &st, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r < 0) {
        if (errno != ECHILD)
            return mproc__neg_errno(errno);
        p->lost = true; /* someone else reaped it: it is gone, its status with it */
    } else {
        p->exitcode = WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
    }
    p->finished = true;
    return 1;
}

static int check_owner(const mproc_process *p)
{
    if (p == NULL)
        return MPROC_EINVAL;
    return p->creator == getpid() ? 0 : MPROC_ESTATE;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* EINTR: the caller looks again */
}

/* Sleeps until the sentinel may have changed, at most left_ms (-1: no limit). */
static void wait_sentinel(mproc_process *p, int left_ms)
{
    if (!p->is_pidfd && p->peer_gone) {
        /* EOF can come a moment before the exit status, or long before it if the child
         * closed its end: poll would return at once, so sleep briefly instead. */
        sleep_ms(left_ms < 0 || left_ms > FALLBACK_EOF_SLEEP_MS ? FALLBACK_EOF_SLEEP_MS
                                                                : left_ms);
        return;
    }
    if (!p->is_pidfd && (left_ms < 0 || left_ms > FALLBACK_SLICE_MS))
        left_ms = FALLBACK_SLICE_MS; /* a grandchild may hold the child's end open */
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    if (poll(&pfd, 1, left_ms) > 0 && !p->is_pidfd)
        p->peer_gone = true;
}

MPROC_API int mproc_process_join(mproc_process *proc, int timeout_ms)
{
    int rc = check_owner(proc);
    if (rc != 0)
        return rc;
    mproc__deadline d;
    if ((rc = mproc__deadline_init(&d, timeout_ms)) != 0)
        return rc;
    for (;;) {
        rc = reap(proc);
        if (rc != 0)
            return rc < 0 ? rc : proc->lost ? -ECHILD : 0;
        int left = mproc__deadline_left_ms(&d);
        if (left == 0)
            return MPROC_ETIMEDOUT;
        wait_sentinel(proc, left);
    }
}

MPROC_API int mproc_process_is_alive(mproc_process *proc)
{
    int rc = check_owner(proc);
    if (rc != 0)
        return rc;
    rc = reap(proc);
    return rc < 0 ? rc : rc == 0 ? 1 : 0;
}

MPROC_API int mproc_process_exitcode(mproc_process *proc, int *exitcode)
{
    int rc = check_owner(proc);
    if (rc != 0 || exitcode == NULL)
        return rc != 0 ? rc : MPROC_EINVAL;
    rc = reap(proc);
    if (rc < 0)
        return rc;
    if (proc->lost)
        return -ECHILD;
    *exitcode = proc->exitcode;
    return 0;
}

static int send_signal(mproc_process *p, int sig)
{
    int rc = check_owner(p);
    if (rc != 0)
        return rc;
    if (p->finished) /* reaped: the pid may have been reused */
        return 0;
    return kill(p->pid, sig) == 0 ? 0 : mproc__neg_errno(errno);
}

MPROC_API int mproc_process_terminate(mproc_process *proc)
{
    return send_signal(proc, SIGTERM);
}

MPROC_API int mproc_process_kill(mproc_process *proc)
{
    return send_signal(proc, SIGKILL);
}

MPROC_API pid_t mproc_process_pid(const mproc_process *proc)
{
    return proc == NULL ? 0 : proc->pid;
}

MPROC_API const char *mproc_process_name(const mproc_process *proc)
{
    return proc == NULL ? NULL : proc->name;
}

MPROC_API int mproc_process_daemon(const mproc_process *proc)
{
    return proc == NULL ? 0 : proc->daemon;
}

MPROC_API int mproc_process_sentinel(const mproc_process *proc)
{
    return proc == NULL ? MPROC_EINVAL : proc->fd;
}

MPROC_API int mproc_process_close(mproc_process *proc)
{
    if (proc == NULL)
        return 0;
    if (proc->creator == getpid()) {
        int rc = reap(proc);
        if (rc == 0)
            return MPROC_EBUSY;
        if (rc < 0)
            return rc;
    }
    process_free(proc); /* in a forked child: only its copy */
    return 0;
}
