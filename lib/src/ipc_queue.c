/*
 * ipc_queue.c - Queue: a bounded MPMC FIFO of byte messages in anonymous shared memory.
 *
 * A ring of `capacity` fixed-size slots under one robust mutex. head and tail are
 * 64-bit counters (never wrapping in practice): a message is in the queue iff
 * head <= index < tail. A put fills the slot first and then publishes it with the single
 * store tail + 1; a get copies the message out and then frees the slot with head + 1.
 * So a process killed anywhere inside put or get leaves the queue consistent: the next
 * locker takes the mutex over (EOWNERDEAD) and carries on, and at most the message that
 * process was putting or getting is lost.
 *
 * Waiting: getters sleep on put_seq, putters on get_seq (futex words bumped under the
 * mutex by every put / get / close). Not semaphores counting slots: a process that died
 * between taking a count and using the slot would leak it for ever.
 */
#include "sync_internal.h"

#include <limits.h>
#include <string.h>

struct slot {
    uint64_t len;
    unsigned char data[];
};

struct mproc_queue {
    struct mproc__shared sh;
    pthread_mutex_t mutex;
    _Atomic uint32_t put_seq; /* bumped by put and close: getters wait on it */
    _Atomic uint32_t get_seq; /* bumped by get and close: putters wait on it */
    uint32_t getters_waiting; /* only to skip futex_wake when nobody sleeps; a waiter */
    uint32_t putters_waiting; /* that died leaves a count that costs a useless wake */
    bool closed;
    size_t capacity;
    size_t max_msg;
    size_t stride; /* bytes per slot, a multiple of 8 */
    uint64_t head;
    uint64_t tail;
    _Alignas(8) unsigned char slots[];
};

MPROC_API int mproc_queue_create(mproc_queue **out, size_t capacity, size_t max_msg)
{
    if (out == NULL)
        return MPROC_EINVAL;
    *out = NULL;
    if (capacity == 0 || max_msg == 0)
        return MPROC_EINVAL;
    size_t stride, ring, total;
    if (__builtin_add_overflow(max_msg, sizeof(struct slot) + 7, &stride) ||
        __builtin_mul_overflow(stride & ~(size_t)7, capacity, &ring) ||
        __builtin_add_overflow(ring, sizeof(struct mproc_queue), &total))
        return MPROC_EOVERFLOW;
    mproc_queue *q;
    int rc = mproc__shared_alloc(total, (void **)&q);
    if (rc != 0)
        return rc;
    rc = mproc__mutex_init(&q->mutex, PTHREAD_MUTEX_ERRORCHECK);
    if (rc != 0) {
        mproc__shared_free(q);
        return rc;
    }
    q->capacity = capacity;
    q->max_msg = max_msg;
    q->stride = stride & ~(size_t)7;
    *out = q;
    return 0;
}

static struct slot *slot_at(mproc_queue *q, uint64_t index)
{
    return (struct slot *)(q->slots + (size_t)(index % q->capacity) * q->stride);
}

/* Called with the lock held: sleeps on *word (read under the lock) until it changes or
 * the deadline; returns with the lock held. 0 or MPROC_ETIMEDOUT. */
static int sleep_on(mproc_queue *q, _Atomic uint32_t *word, uint32_t *waiting,
                    const mproc__deadline *d)
{
    uint32_t seen = atomic_load(word);
    (*waiting)++;
    mproc__mutex_unlock(&q->mutex);
    int rc = mproc__futex_wait(word, seen, d);
    mproc__mutex_lock_internal(&q->mutex);
    if (*waiting > 0)
        (*waiting)--;
    return rc;
}

/* Called with the lock held: bumps *word, unlocks, and wakes one sleeper if any. A
 * second wake passes the turn on when the operation left room for another waiter of the
 * other kind (a woken waiter that died must not strand the rest). */
static void publish_unlock(mproc_queue *q, _Atomic uint32_t *word, bool wake,
                           _Atomic uint32_t *chain_word, bool chain)
{
    atomic_fetch_add(word, 1);
    if (chain)
        atomic_fetch_add(chain_word, 1);
    mproc__mutex_unlock(&q->mutex);
    if (wake)
        mproc__futex_wake(word, 1);
    if (chain)
        mproc__futex_wake(chain_word, 1);
}

MPROC_API int mproc_queue_put(mproc_queue *queue, const void *data, size_t len,
                              int timeout_ms)
{
    if (queue == NULL || (data == NULL && len > 0))
        return MPROC_EINVAL;
    if (len > queue->max_msg)
        return MPROC_ETOOBIG;
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    if (rc != 0)
        return rc;
    mproc_queue *q = queue;
    mproc__mutex_lock_internal(&q->mutex);
    for (;;) {
        if (q->closed) {
            mproc__mutex_unlock(&q->mutex);
            return MPROC_ECLOSED;
        }
        if (q->tail - q->head < q->capacity)
            break;
        if (mproc__deadline_passed(&d)) {
            mproc__mutex_unlock(&q->mutex);
            return MPROC_EFULL;
        }
        sleep_on(q, &q->get_seq, &q->putters_waiting, &d);
    }
    struct slot *s = slot_at(q, q->tail);
    if (len > 0)
        memcpy(s->data, data, len);
    s->len = len;
    q->tail++; /* the commit: the message exists from here on */
    bool chain = q->putters_waiting > 0 && q->tail - q->head < q->capacity;
    publish_unlock(q, &q->put_seq, q->getters_waiting > 0, &q->get_seq, chain);
    return 0;
}

MPROC_API int mproc_queue_put_nowait(mproc_queue *queue, const void *data, size_t len)
{
    return mproc_queue_put(queue, data, len, 0);
}

MPROC_API int mproc_queue_get(mproc_queue *queue, void *buf, size_t cap, size_t *len,
                              int timeout_ms)
{
    if (queue == NULL || len == NULL || (buf == NULL && cap > 0))
        return MPROC_EINVAL;
    mproc__deadline d;
    int rc = mproc__deadline_init(&d, timeout_ms);
    if (rc != 0)
        return rc;
    mproc_queue *q = queue;
    mproc__mutex_lock_internal(&q->mutex);
    for (;;) {
        if (q->tail != q->head)
            break;
        rc = q->closed ? MPROC_ECLOSED : mproc__deadline_passed(&d) ? MPROC_EEMPTY : 0;
        if (rc != 0) {
            mproc__mutex_unlock(&q->mutex);
            return rc;
        }
        sleep_on(q, &q->put_seq, &q->getters_waiting, &d);
    }
    struct slot *s = slot_at(q, q->head);
    *len = (size_t)s->len;
    if (s->len > cap) {
        mproc__mutex_unlock(&q->mutex);
        return MPROC_ETOOBIG; /* left at the head for a bigger buffer */
    }
    if (s->len > 0)
        memcpy(buf, s->data, (size_t)s->len);
    q->head++; /* the commit: the slot is free from here on */
    bool chain = q->getters_waiting > 0 && q->tail != q->head;
    publish_unlock(q, &q->get_seq, q->putters_waiting > 0, &q->put_seq, chain);
    return 0;
}

MPROC_API int mproc_queue_get_nowait(mproc_queue *queue, void *buf, size_t cap, size_t *len)
{
    return mproc_queue_get(queue, buf, cap, len, 0);
}

MPROC_API long mproc_queue_qsize(mproc_queue *queue)
{
    if (queue == NULL)
        return MPROC_EINVAL;
    mproc__mutex_lock_internal(&queue->mutex);
    uint64_t n = queue->tail - queue->head;
    mproc__mutex_unlock(&queue->mutex);
    return n > (uint64_t)LONG_MAX ? LONG_MAX : (long)n;
}

MPROC_API size_t mproc_queue_capacity(const mproc_queue *queue)
{
    return queue == NULL ? 0 : queue->capacity;
}

MPROC_API size_t mproc_queue_max_msg(const mproc_queue *queue)
{
    return queue == NULL ? 0 : queue->max_msg;
}

MPROC_API int mproc_queue_close(mproc_queue *queue)
{
    if (queue == NULL)
        return MPROC_EINVAL;
    mproc__mutex_lock_internal(&queue->mutex);
    queue->closed = true;
    atomic_fetch_add(&queue->put_seq, 1);
    atomic_fetch_add(&queue->get_seq, 1);
    mproc__mutex_unlock(&queue->mutex);
    mproc__futex_wake(&queue->put_seq, INT_MAX);
    mproc__futex_wake(&queue->get_seq, INT_MAX);
    return 0;
}

MPROC_API int mproc_queue_destroy(mproc_queue *queue)
{
    /* Its lock is only held inside the calls above. */
    return queue == NULL ? 0 : mproc__shared_free(queue);
}
