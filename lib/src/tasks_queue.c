/*
 * tasks_queue.c - the task queue in the pool's control segment (layout and protocol in
 * tasks_internal.h): its setup, the workers' side (claim, run, report, retire) and the
 * creator's hook that fails the task of a worker found dead.
 */
#include "tasks_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static _Thread_local char *current_msg; /* the running task's message buffer */

static size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

static uint32_t entries_for(uint32_t nslots)
{
    uint64_t n = (uint64_t)nslots * 4u;
    if (n < MPROC__TQ_MIN_ENTRIES)
        n = MPROC__TQ_MIN_ENTRIES;
    if (n > MPROC__TQ_MAX_ENTRIES)
        n = MPROC__TQ_MAX_ENTRIES;
    return (uint32_t)n;
}

/* Offsets of the queue's parts from its start; returns the total size. */
static size_t layout(uint32_t n, struct mproc__tq *q)
{
    size_t ring_off = round_up(sizeof(struct mproc__tq), MPROC__CACHELINE);
    size_t state_off = round_up(ring_off + 2u * n * sizeof(uint32_t), MPROC__CACHELINE);
    size_t meta_off = round_up(state_off + n * sizeof(uint32_t), MPROC__CACHELINE);
    size_t items_off = round_up(meta_off + n * sizeof(struct mproc__tmeta), MPROC__CACHELINE);
    size_t args_off = round_up(items_off + (size_t)n * MPROC_TASK_CHUNK_MAX *
                                               sizeof(struct mproc__titem), 4096);
    size_t res_off = args_off + (size_t)n * MPROC_TASK_ARG_MAX;
    if (q != NULL) {
        q->nentries = n;
        q->nring = 2u * n;
        q->ring_off = ring_off;
        q->state_off = state_off;
        q->meta_off = meta_off;
        q->items_off = items_off;
        q->args_off = args_off;
        q->res_off = res_off;
    }
    return res_off + (size_t)n * MPROC_TASK_RESULT_MAX;
}

size_t mproc__tasks_shared_bytes(uint32_t nslots)
{
    return layout(entries_for(nslots), NULL);
}

int mproc__tasks_init_shared(struct mproc__ctl *ctl, const mproc_pool_options *o)
{
    struct mproc__tq *q = mproc__tq(ctl);
    layout(entries_for(ctl->nslots), q);
    q->max_per_child = (uint32_t)o->maxtasksperchild;
    q->initializer = o->initializer;
    q->initarg = o->initarg;
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc == 0) {
        if ((rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) == 0 &&
            (rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) == 0)
            rc = pthread_mutex_init(&q->pop_lock, &attr);
        pthread_mutexattr_destroy(&attr);
    }
    if (rc != 0)
        return mproc__neg_errno(rc);
    if (sem_init(&q->hsem, 1, 0) != 0) {
        rc = mproc__neg_errno(errno);
        pthread_mutex_destroy(&q->pop_lock);
        return rc;
    }
    return 0;
}

void mproc__tasks_free_shared(struct mproc__ctl *ctl)
{
    struct mproc__tq *q = mproc__tq(ctl);
    sem_destroy(&q->hsem);
    pthread_mutex_destroy(&q->pop_lock); /* EBUSY if a killed worker held it: harmless */
}

void mproc__tq_wake_handler(struct mproc__tq *q)
{
    if (atomic_exchange(&q->hwake, 1) == 0)
        sem_post(&q->hsem);
}

MPROC_API int mproc_task_fail(int code, const char *fmt, ...)
{
    if (current_msg != NULL && fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(current_msg, MPROC_TASK_MSG_MAX, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void run_item(struct mproc__tmeta *m, const char *args, char *res, uint32_t i,
                     struct mproc__titem *item, char *msg)
{
    const char *arg = args + (size_t)i * m->arg_stride;
    char *out = res + (size_t)i * m->res_stride;
    size_t size = m->res_cap;
    int code;
    msg[0] = '\0';
    current_msg = msg;
    if (m->kind == MPROC__TK_STAR) {
        const void *argv[MPROC_STAR_ARGS_MAX];
        size_t sizes[MPROC_STAR_ARGS_MAX];
        for (uint32_t k = 0; k < m->argc; k++) {
            argv[k] = m->arg_sizes[k] ? arg + m->arg_offs[k] : NULL;
            sizes[k] = m->arg_sizes[k];
        }
        code = ((mproc_star_fn)m->fn)((int)m->argc, argv, sizes, out, &size);
    } else {
        code = ((mproc_task_fn)m->fn)(m->arg_size ? arg : NULL, m->arg_size, out, &size);
    }
    current_msg = NULL;
    item->code = code;
    item->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
}

void mproc__tq_run_entry(struct mproc__tmeta *m, const char *args, char *res,
                         struct mproc__titem *items)
{
    char msg[MPROC_TASK_MSG_MAX];
    for (uint32_t i = m->start; i < m->count; i++) {
        run_item(m, args, res, i, &items[i], msg);
        if (items[i].code != 0 && msg[0] != '\0' && m->nmsg < MPROC__TQ_MSGS) {
            memcpy(m->msg[m->nmsg], msg, sizeof msg);
            m->msg_item[m->nmsg++] = i;
        }
        atomic_store_explicit(&m->progress, i + 1, memory_order_release);
    }
}

const char *mproc__tq_msg(const struct mproc__tmeta *m, uint32_t j)
{
    uint32_t n = m->nmsg < MPROC__TQ_MSGS ? m->nmsg : MPROC__TQ_MSGS;
    for (uint32_t k = 0; k < n; k++)
        if (m->msg_item[k] == j)
            return m->msg[k];
    return NULL;
}

/* ---- workers -------------------------------------------------------------------------- */

void mproc__tasks_worker_start(struct mproc__ctl *ctl)
{
    struct mproc__tq *q = mproc__tq(ctl);
    if (q->initializer != NULL)
        q->initializer(q->initarg);
}

uint32_t mproc__tasks_max_per_child(struct mproc__ctl *ctl)
{
    return mproc__tq(ctl)->max_per_child;
}

bool mproc__tasks_pending(struct mproc__ctl *ctl)
{
    struct mproc__tq *q = mproc__tq(ctl);
    return atomic_load(&q->tail) != atomic_load(&q->head) && !atomic_load(&q->stop);
}

/* The claim lock: robust, so a worker that died holding it costs nothing. Spins a
 * little first: the critical section is a few loads and one CAS. */
static int lock_pop(struct mproc__tq *q)
{
    int rc = EBUSY;
    for (int i = 0; i < 200 && rc == EBUSY; i++) {
        rc = pthread_mutex_trylock(&q->pop_lock);
        if (rc == EBUSY)
            mproc__spin_pause();
    }
    if (rc == EBUSY)
        rc = pthread_mutex_lock(&q->pop_lock);
    if (rc == EOWNERDEAD) /* the claim protocol leaves nothing to repair */
        rc = pthread_mutex_consistent(&q->pop_lock);
    return rc;
}

/* Claims the oldest queued entry for `slot`; -1 if none. Entries the ring names that are
 * no longer QUEUED (cancelled, or claimed by a worker that died before it advanced head)
 * are skipped. */
static int64_t claim(struct mproc__tq *q, struct mproc__slot *slot, uint32_t slot_index)
{
    if (lock_pop(q) != 0)
        return -1;
    _Atomic uint32_t *ring = mproc__tq_ring(q);
    uint64_t h = atomic_load(&q->head), t = atomic_load(&q->tail);
    int64_t got = -1;
    while (h < t && got < 0) {
        uint32_t idx = atomic_load_explicit(&ring[h % q->nring], memory_order_relaxed);
        h++;
        if (idx >= q->nentries)
            continue;
        uint32_t want = MPROC__T_QUEUED;
        atomic_store(&slot->cur_task, idx + 1);
        if (atomic_compare_exchange_strong(mproc__tq_state(q, idx), &want,
                                           MPROC__T_RUNNING_BY(slot_index)))
            got = idx;
    }
    if (got < 0)
        atomic_store(&slot->cur_task, 0);
    atomic_store(&q->head, h);
    pthread_mutex_unlock(&q->pop_lock);
    return got;
}

bool mproc__tasks_run_one(struct mproc__ctl *ctl, uint32_t slot_index)
{
    struct mproc__tq *q = mproc__tq(ctl);
    struct mproc__slot *slot = &ctl->slots[slot_index];
    if (atomic_load(&q->stop))
        return false;
    int64_t got = claim(q, slot, slot_index);
    if (got < 0)
        return false;
    uint32_t idx = (uint32_t)got;
    struct mproc__tmeta *m = mproc__tq_meta(q, idx);
    struct mproc__titem *items = mproc__tq_items(q, idx);
    const char *args = mproc__tq_args(q, idx);
    char *res = mproc__tq_res(q, idx);
    m->pid = (int32_t)getpid();
    mproc__tq_run_entry(m, args, res, items);
    bool notify = m->notify != 0; /* read before DONE: the entry is reused after it */
    atomic_store(mproc__tq_state(q, idx), MPROC__T_DONE);
    atomic_store(&slot->cur_task, 0);
    atomic_fetch_add(&q->done_seq, 1);
    if (notify || atomic_load(&q->watch) != 0 || atomic_load(&q->backlog) != 0)
        mproc__tq_wake_handler(q);
    return true;
}

_Noreturn void mproc__tasks_retire(struct mproc__ctl *ctl, uint32_t slot)
{
    fflush(NULL);
    atomic_store(&ctl->slots[slot].retired, 1);
    mproc__tq_wake_handler(mproc__tq(ctl)); /* so that the creator replaces us at once */
    _exit(0);
}

/* ---- the creator: a worker was reaped ----------------------------------------------- */

void mproc__tasks_worker_gone(struct mproc_pool *pool, uint32_t slot_index, int status)
{
    struct mproc__tq *q = mproc__tq(pool->ctl);
    uint32_t cur = atomic_exchange(&pool->ctl->slots[slot_index].cur_task, 0);
    if (cur == 0 || cur > q->nentries)
        return;
    uint32_t idx = cur - 1, want = MPROC__T_RUNNING_BY(slot_index);
    /* DYING keeps harvesters away until wstatus is written */
    if (!atomic_compare_exchange_strong(mproc__tq_state(q, idx), &want, MPROC__T_DYING))
        return; /* it finished the entry (or never claimed it) before dying */
    mproc__tq_meta(q, idx)->wstatus = status;
    atomic_store(mproc__tq_state(q, idx), MPROC__T_CRASHED);
    atomic_fetch_add(&q->done_seq, 1);
    mproc__tq_wake_handler(q);
}
