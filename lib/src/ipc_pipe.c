/*
 * ipc_pipe.c - Pipe: two connected ends of an AF_UNIX SOCK_SEQPACKET socket pair.
 *
 * SEQPACKET keeps message boundaries and sends each message whole, so concurrent
 * senders never interleave. Every message goes out with a one-byte tag in front: an
 * empty message is then one byte on the wire, and a zero-byte read means only one
 * thing, that the other end is closed.
 */
#include "sync_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define TAG_MESSAGE 1

struct mproc_conn {
    int fd;
    bool can_send;
    bool can_recv;
};

static int conn_new(int fd, bool can_send, bool can_recv, mproc_conn **out)
{
    mproc_conn *c = malloc(sizeof *c);
    if (c == NULL)
        return MPROC_ENOMEM;
    c->fd = fd;
    c->can_send = can_send;
    c->can_recv = can_recv;
    *out = c;
    return 0;
}

MPROC_API int mproc_pipe_create(mproc_conn **a, mproc_conn **b, int duplex)
{
    if (a == NULL || b == NULL)
        return MPROC_EINVAL;
    *a = *b = NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return mproc__neg_errno(errno);
    /* Room for a few maximal messages: the kernel caps this at net.core.wmem_max. */
    int sndbuf = 4 * (MPROC_PIPE_MSG_MAX + 512);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    int rc = conn_new(sv[0], duplex != 0, true, a);
    if (rc == 0 && (rc = conn_new(sv[1], true, duplex != 0, b)) != 0) {
        free(*a);
        *a = NULL;
    }
    if (rc != 0) {
        close(sv[0]);
        close(sv[1]);
    }
    return rc;
}

MPROC_API int mproc_conn_send(mproc_conn *conn, const void *data, size_t len)
{
    if (conn == NULL || (data == NULL && len > 0) || !conn->can_send)
        return MPROC_EINVAL;
    if (len > MPROC_PIPE_MSG_MAX)
        return MPROC_ETOOBIG;
    unsigned char tag = TAG_MESSAGE;
    struct iovec iov[2] = {{&tag, 1}, {(void *)data, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1};
    ssize_t n;
    do {
        n = sendmsg(conn->fd, &mh, MSG_NOSIGNAL); /* a closed peer is EPIPE, not a signal */
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return 0;
    if (errno == EPIPE || errno == ECONNRESET)
        return MPROC_ECLOSED;
    return errno == EMSGSIZE ? MPROC_ETOOBIG : mproc__neg_errno(errno);
}

/* Waits until the socket is readable. 0, MPROC_ETIMEDOUT or -errno. */
static int wait_readable(int fd, const mproc__deadline *d)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, mproc__deadline_left_ms(d));
        if (n > 0)
            return 0; /* POLLIN, or POLLHUP at the end: recv tells which */
        if (n == 0)
            return MPROC_ETIMEDOUT;
        if (errno != EINTR)
            return mproc__neg_errno(errno);
    }
}

/* Receives the next message if there is one now. 0, MPROC_ECLOSED, MPROC_ETOOBIG,
 * -EAGAIN (another receiver took it first) or -errno. */
static int recv_now(int fd, void *buf, size_t cap, size_t *len)
{
    ssize_t n;
    do { /* MSG_TRUNC: the message's real length, without taking it */
        n = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == 0 || (n < 0 && errno == ECONNRESET))
        return MPROC_ECLOSED;
    if (n < 0)
        return mproc__neg_errno(errno);
    *len = (size_t)n - 1;
    if (*len > cap)
        return MPROC_ETOOBIG;
    unsigned char tag;
    struct iovec iov[2] = {{&tag, 1}, {buf, cap}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = cap > 0 ? 2 : 1};
    do {
        n = recvmsg(fd, &mh, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        return MPROC_ECLOSED;
    if (n < 0)
        return mproc__neg_errno(errno);
    *len = (size_t)n - 1;
    return 0;
}

MPROC_API int mproc_conn_recv(mproc_conn *conn, void *buf, size_t cap, size_t *len,
                              int timeout_ms)
{
    if (conn == NULL || len == NULL || (buf == NULL && cap > 0) || !conn->can_recv)
        return MPROC_EINVAL;
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    if (rc != 0)
        return rc;
    for (;;) {
        if ((rc = wait_readable(conn->fd, &d)) != 0)
            return rc;
        rc = recv_now(conn->fd, buf, cap, len);
        if (rc != -EAGAIN)
            return rc;
    }
}

MPROC_API int mproc_conn_poll(mproc_conn *conn, int timeout_ms)
{
    if (conn == NULL || !conn->can_recv)
        return MPROC_EINVAL;
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    return rc != 0 ? rc : wait_readable(conn->fd, &d);
}

MPROC_API int mproc_conn_fileno(const mproc_conn *conn)
{
    return conn == NULL ? MPROC_EINVAL : conn->fd;
}

MPROC_API int mproc_conn_close(mproc_conn *conn)
{
    if (conn == NULL)
        return 0;
    int rc = close(conn->fd) == 0 || errno == EINTR ? 0 : mproc__neg_errno(errno);
    free(conn);
    return rc;
}
