/*
 * tasks.c - Pool tasks, the creator's side: the tasks object, async results, handing
 * entries to workers (refill), collecting what they report (harvest), and running tasks
 * in the caller for pools without forked workers. Everything here runs under the tasks
 * lock (t->lock) unless it says otherwise. The queue protocol is in tasks_internal.h;
 * the calls (apply, map, ...) are in tasks_submit.c; waiting, callbacks, close / join /
 * terminate in tasks_pool.c.
 */
#include "tasks_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t round16(size_t v) { return (v + 15u) & ~(size_t)15u; }

/* ---- the tasks object, created at the first task call ---------------------------------- */

void mproc__tasks_free(struct mproc__tasks *t)
{
    free(t->free_stack);
    free(t->inflight);
    free(t->inline_buf);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static int tasks_new(struct mproc_pool *pool, struct mproc__tasks **out)
{
    struct mproc__tasks *t = calloc(1, sizeof *t);
    if (t == NULL)
        return MPROC_ENOMEM;
    t->pool = pool;
    t->q = mproc__tq(pool->ctl);
    t->inline_mode = pool->nslots == 0;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    uint32_t n = t->q->nentries;
    t->free_stack = malloc(n * sizeof *t->free_stack);
    t->inflight = calloc(n, sizeof *t->inflight);
    if (t->inline_mode)
        t->inline_buf = malloc(sizeof(struct mproc__tmeta) +
                               MPROC_TASK_CHUNK_MAX * sizeof(struct mproc__titem) +
                               MPROC_TASK_ARG_MAX + MPROC_TASK_RESULT_MAX);
    if (t->free_stack == NULL || t->inflight == NULL || (t->inline_mode && !t->inline_buf)) {
        mproc__tasks_free(t);
        return MPROC_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        t->free_stack[i] = n - 1 - i; /* entry 0 first */
    t->nfree = n;
    int rc = mproc__tasks_start_handler(t);
    if (rc != 0) {
        mproc__tasks_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int mproc__tasks_get(struct mproc_pool *pool, struct mproc__tasks **out)
{
    struct mproc__tasks *t = __atomic_load_n(&pool->tasks, __ATOMIC_ACQUIRE);
    int rc = 0;
    if (t == NULL) {
        pthread_mutex_lock(&create_lock);
        t = pool->tasks;
        if (t == NULL && (rc = tasks_new(pool, &t)) == 0)
            __atomic_store_n(&pool->tasks, t, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&create_lock);
    }
    *out = t;
    return rc;
}

/* ---- async results ----------------------------------------------------------------------- */

struct mproc_async *mproc__async_new(int kind, size_t n)
{
    struct mproc_async *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->kind = (uint8_t)kind;
    a->n = n;
    if (kind == MPROC__A_APPLY) {
        a->status = &a->status1;
        a->sizes = &a->size1;
        a->blobs = &a->blob1;
        a->status1 = MPROC__ITEM_PENDING;
        return a;
    }
    size_t m = n ? n : 1;
    a->status = malloc(m * sizeof *a->status);
    a->sizes = calloc(m, sizeof *a->sizes);
    if (kind != MPROC__A_MAP)
        a->blobs = calloc(m, sizeof *a->blobs);
    if (kind == MPROC__A_IMAP_UNORDERED)
        a->order = malloc(m * sizeof *a->order);
    if (a->status == NULL || a->sizes == NULL || (kind != MPROC__A_MAP && !a->blobs) ||
        (kind == MPROC__A_IMAP_UNORDERED && !a->order)) {
        mproc__async_destroy(NULL, a);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        a->status[i] = MPROC__ITEM_PENDING;
    return a;
}

void mproc__async_destroy(struct mproc__tasks *t, struct mproc_async *a)
{
    if (t != NULL && (a->live_prev != NULL || t->live == a)) {
        if (a->live_prev)
            a->live_prev->live_next = a->live_next;
        else
            t->live = a->live_next;
        if (a->live_next)
            a->live_next->live_prev = a->live_prev;
    }
    if (a->args != (char *)a->small_arg)
        free(a->args);
    if (a->blobs != NULL)
        for (size_t i = 0; i < (a->kind == MPROC__A_APPLY ? 1 : a->n); i++)
            free(a->blobs[i]);
    if (a->kind != MPROC__A_APPLY) {
        free(a->status);
        free(a->sizes);
        free(a->blobs);
    }
    free(a->order);
    for (struct mproc__failrec *f = a->failures, *nx; f != NULL; f = nx) {
        nx = f->next;
        free(f);
    }
    for (struct mproc__range *r = a->retry, *nx; r != NULL; r = nx) {
        nx = r->next;
        free(r);
    }
    free(a);
}

/* The async is ready: wake waiters; a freed one goes now. */
void mproc__tasks_finish(struct mproc__tasks *t, struct mproc_async *a)
{
    atomic_store(&a->ready, 1);
    t->outstanding--;
    pthread_cond_broadcast(&t->cond);
    if (a->freed)
        mproc__async_destroy(t, a);
}

static bool has_callback(const struct mproc_async *a)
{
    return a->err == 0 ? a->opts.callback != NULL : a->opts.error_callback != NULL;
}

/* Every item is final: hand it to the result thread for its callback, or finish it. */
static void check_complete(struct mproc__tasks *t, struct mproc_async *a)
{
    if (a->completed || a->finished < a->n)
        return;
    a->completed = true;
    if (a->in_pend) { /* cancelled with its last items: nothing left to hand out */
        struct mproc_async **pp = &t->pend_head, *prev = NULL;
        while (*pp != a)
            prev = *pp, pp = &(*pp)->pend_next;
        *pp = a->pend_next;
        if (t->pend_tail == a)
            t->pend_tail = prev;
        a->in_pend = false;
    }
    if (!t->terminating && has_callback(a)) {
        a->cb_next = NULL;
        if (t->cb_tail)
            t->cb_tail->cb_next = a;
        else
            t->cb_head = a;
        t->cb_tail = a;
        mproc__tq_wake_handler(t->q);
    } else {
        mproc__tasks_finish(t, a);
    }
}

static void item_final(struct mproc_async *a, size_t i)
{
    a->finished++;
    if (a->kind == MPROC__A_IMAP_UNORDERED)
        a->order[a->order_len++] = i;
}

static void simple_failure(mproc_task_failure *f, int err)
{
    memset(f, 0, sizeof *f);
    f->error = err;
    f->exit_status = -1;
    snprintf(f->message, sizeof f->message, "%s", mproc_strerror(err));
}

static void cancel_rest(struct mproc__tasks *t, struct mproc_async *a, int err);

/*
 * Records task i's failure. Tasks that failed on their own get a record each; the
 * reported failure (get's error, error_callback, mproc_async_failure) is the one with
 * the lowest index, so that it does not depend on timing. Cancelled and terminated tasks
 * only count when nothing failed on its own.
 */
void mproc__tasks_deliver_failure(struct mproc__tasks *t, struct mproc_async *a, size_t i,
                                  const mproc_task_failure *f)
{
    a->status[i] = f->error;
    a->sizes[i] = 0;
    bool bulk = f->error == MPROC_ECANCELED || f->error == MPROC_ETERMINATED;
    struct mproc__failrec *r = bulk ? NULL : malloc(sizeof *r);
    if (r != NULL) {
        r->f = *f;
        r->f.index = i;
        r->next = a->failures;
        a->failures = r;
        if (a->first == NULL || i < a->first->f.index)
            a->first = r;
    } else if (a->bulk_err == 0 || i < a->bulk_index) {
        a->bulk_index = i;
        a->bulk_err = f->error;
    }
    a->err = a->first != NULL ? a->first->f.error : a->bulk_err;
    item_final(a, i);
    if (a->fail_fast && !a->cancelled && !bulk)
        cancel_rest(t, a, MPROC_ECANCELED);
}

void mproc__async_reported(const struct mproc_async *a, mproc_task_failure *out)
{
    if (a->first != NULL) {
        *out = a->first->f;
        return;
    }
    simple_failure(out, a->err);
    out->index = a->bulk_index;
}

static void deliver_ok(struct mproc__tasks *t, struct mproc_async *a, size_t i,
                       const char *data, uint32_t size)
{
    void *blob = NULL;
    if (a->kind != MPROC__A_MAP && size > 0 && (blob = malloc(size)) == NULL) {
        mproc_task_failure f;
        simple_failure(&f, MPROC_ENOMEM);
        mproc__tasks_deliver_failure(t, a, i, &f);
        return;
    }
    a->sizes[i] = size;
    a->status[i] = 0;
    if (blob != NULL) {
        memcpy(blob, data, size);
        a->blobs[i] = blob;
    } else if (a->kind == MPROC__A_MAP && a->results != NULL && size > 0) {
        memcpy(a->results + i * a->res_stride, data, size);
    }
    item_final(a, i);
}

static void fail_items(struct mproc__tasks *t, struct mproc_async *a, size_t first,
                       size_t count, int err)
{
    mproc_task_failure f;
    simple_failure(&f, err);
    for (size_t i = first; i < first + count; i++)
        if (a->status[i] == MPROC__ITEM_PENDING)
            mproc__tasks_deliver_failure(t, a, i, &f);
}

/* ---- entries ------------------------------------------------------------------------------ */

static void release_entry(struct mproc__tasks *t, uint32_t idx)
{
    struct mproc_async *a = t->inflight[idx].a;
    t->inflight[idx].a = NULL;
    atomic_store(mproc__tq_state(t->q, idx), MPROC__T_FREE);
    t->free_stack[t->nfree++] = idx;
    t->ninflight--;
    a->entries--;
}

static void add_retry(struct mproc__tasks *t, struct mproc_async *a, size_t first, size_t count)
{
    if (a->cancelled || t->terminating) {
        fail_items(t, a, first, count, t->terminating ? MPROC_ETERMINATED : MPROC_ECANCELED);
        return;
    }
    struct mproc__range *r = malloc(sizeof *r);
    if (r == NULL) {
        fail_items(t, a, first, count, MPROC_ENOMEM);
        return;
    }
    r->first = first;
    r->count = count;
    r->next = a->retry; /* retried before the rest of the call */
    a->retry = r;
    if (!a->in_pend) {
        a->in_pend = true;
        a->pend_next = t->pend_head; /* it was submitted earlier than what is pending */
        t->pend_head = a;
        if (t->pend_tail == NULL)
            t->pend_tail = a;
    }
}

/* Delivers items [from, to) of an entry whose item 0 is task `first` of a. */
static void deliver_items(struct mproc__tasks *t, struct mproc_async *a, size_t first,
                          const struct mproc__tmeta *m, const struct mproc__titem *items,
                          const char *res, uint32_t from, uint32_t to)
{
    for (uint32_t j = from; j < to; j++) {
        const struct mproc__titem *it = &items[j];
        if (it->code == 0 && it->size <= m->res_cap) {
            deliver_ok(t, a, first + j, res + (size_t)j * m->res_stride, it->size);
            continue;
        }
        mproc_task_failure f;
        memset(&f, 0, sizeof f);
        f.exit_status = -1;
        f.pid = m->pid;
        if (it->code != 0) {
            const char *msg = mproc__tq_msg(m, j);
            f.error = MPROC_ETASK;
            f.code = it->code;
            if (msg != NULL)
                snprintf(f.message, sizeof f.message, "%s", msg);
            else
                snprintf(f.message, sizeof f.message, "task returned %d", it->code);
        } else {
            f.error = MPROC_ETOOBIG;
            snprintf(f.message, sizeof f.message,
                     "task result of %u bytes exceeds its capacity of %u bytes",
                     (unsigned)it->size, (unsigned)m->res_cap);
        }
        mproc__tasks_deliver_failure(t, a, first + j, &f);
    }
}

/* What a worker reported for a finished or crashed entry. */
static void harvest_entry(struct mproc__tasks *t, uint32_t idx, uint32_t st)
{
    struct mproc__tq *q = t->q;
    struct mproc__tmeta *m = mproc__tq_meta(q, idx);
    struct mproc_async *a = t->inflight[idx].a;
    size_t first = t->inflight[idx].first;
    uint32_t prog = atomic_load_explicit(&m->progress, memory_order_acquire);
    if (prog > m->count)
        prog = m->count;
    deliver_items(t, a, first, m, mproc__tq_items(q, idx), mproc__tq_res(q, idx), m->start,
                  prog);
    if (st == MPROC__T_CRASHED && prog < m->count) {
        if (t->terminating) {
            fail_items(t, a, first + prog, m->count - prog, MPROC_ETERMINATED);
        } else {
            int ws = m->wstatus;
            mproc_task_failure f;
            memset(&f, 0, sizeof f);
            f.error = MPROC_EWORKER;
            f.pid = m->pid;
            f.signal = ws >= 0 && WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
            f.exit_status = ws >= 0 && WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
            if (f.signal)
                snprintf(f.message, sizeof f.message,
                         "worker %d was killed by signal %d (%s) running this task",
                         (int)f.pid, f.signal, strsignal(f.signal));
            else
                snprintf(f.message, sizeof f.message,
                         "worker %d exited with status %d running this task", (int)f.pid,
                         f.exit_status);
            mproc__tasks_deliver_failure(t, a, first + prog, &f);
            if (prog + 1 < m->count)
                add_retry(t, a, first + prog + 1, m->count - prog - 1);
        }
    }
    release_entry(t, idx);
    check_complete(t, a);
}

static void harvest_scan(struct mproc__tasks *t)
{
    for (uint32_t i = 0; i < t->q->nentries && t->ninflight > 0; i++) {
        if (t->inflight[i].a == NULL)
            continue;
        uint32_t st = MPROC__T_STATE(
            atomic_load_explicit(mproc__tq_state(t->q, i), memory_order_acquire));
        if (st == MPROC__T_DONE || st == MPROC__T_CRASHED)
            harvest_entry(t, i, st);
    }
}

/* Cancels what has not started: items not handed out, entries still queued. */
static void cancel_rest(struct mproc__tasks *t, struct mproc_async *a, int err)
{
    a->cancelled = true;
    for (struct mproc__range *r = a->retry, *nx; r != NULL; r = nx) {
        nx = r->next;
        fail_items(t, a, r->first, r->count, err);
        free(r);
    }
    a->retry = NULL;
    size_t from = a->submitted;
    a->submitted = a->n;
    fail_items(t, a, from, a->n - from, err);
    for (uint32_t i = 0; i < t->q->nentries && a->entries > 0; i++) {
        if (t->inflight[i].a != a)
            continue;
        uint32_t want = MPROC__T_QUEUED;
        if (!atomic_compare_exchange_strong(mproc__tq_state(t->q, i), &want,
                                            MPROC__T_CANCELLED))
            continue; /* running or done: it reports as usual */
        struct mproc__tmeta *m = mproc__tq_meta(t->q, i);
        fail_items(t, a, t->inflight[i].first + m->start, m->count - m->start, err);
        release_entry(t, i);
    }
}

/* The next range of items of a to hand out; false when it has none left. */
static bool next_range(struct mproc_async *a, size_t *first, size_t *count)
{
    struct mproc__range *r = a->retry;
    if (r != NULL) {
        *first = r->first;
        *count = r->count < a->chunk ? r->count : a->chunk;
        r->first += *count;
        r->count -= *count;
        if (r->count == 0) {
            a->retry = r->next;
            free(r);
        }
        return true;
    }
    if (a->submitted >= a->n)
        return false;
    *first = a->submitted;
    *count = a->n - a->submitted < a->chunk ? a->n - a->submitted : a->chunk;
    a->submitted += *count;
    return true;
}

/* Writes items [first, first + count) of a into an entry's description and arguments. */
static void fill_entry(struct mproc_async *a, struct mproc__tmeta *m, char *args, size_t first,
                       size_t count)
{
    m->kind = a->star ? MPROC__TK_STAR : MPROC__TK_PLAIN;
    m->count = (uint32_t)count;
    m->start = 0;
    m->notify = a->opts.callback != NULL || a->opts.error_callback != NULL;
    m->res_cap = (uint32_t)a->res_cap;
    m->res_stride = (uint32_t)round16(a->res_cap);
    m->fn = a->fn;
    m->nmsg = 0;
    m->pid = 0;
    m->wstatus = -1;
    atomic_store_explicit(&m->progress, 0, memory_order_relaxed);
    if (a->star) {
        m->argc = (uint32_t)a->argc;
        memcpy(m->arg_sizes, a->arg_sizes, sizeof m->arg_sizes);
        memcpy(m->arg_offs, a->arg_offs, sizeof m->arg_offs);
        m->arg_size = (uint32_t)a->arg_stride;
        m->arg_stride = (uint32_t)a->arg_stride;
        memcpy(args, a->args + first * a->arg_stride, count * a->arg_stride);
    } else {
        m->argc = 0;
        m->arg_size = (uint32_t)a->arg_size;
        m->arg_stride = (uint32_t)a->arg_stride;
        for (size_t j = 0; j < count && a->arg_size > 0; j++)
            memcpy(args + j * a->arg_stride, a->args + (first + j) * a->arg_size, a->arg_size);
    }
}

/* Posts to up to `want` sleeping workers, less those spinning idle (they see the new
 * tail by themselves; one that gives up meanwhile checks again after raising its
 * sleeping flag). A dead worker's stale flag only delays a task until it is replaced. */
static void wake_workers(struct mproc__tasks *t, unsigned want)
{
    struct mproc__ctl *ctl = t->pool->ctl;
    for (int i = 0; i < t->pool->nslots && want > 0; i++)
        if (atomic_load(&ctl->slots[i].spinning))
            want--;
    for (int i = 0; i < t->pool->nslots && want > 0; i++) {
        struct mproc__slot *s = &ctl->slots[i];
        if (atomic_load(&s->sleeping) && atomic_exchange(&s->sleeping, 0) == 1) {
            sem_post(&s->wake);
            want--;
        }
    }
}

/* Hands pending items to free entries, oldest call first, and wakes sleeping workers. */
static void refill(struct mproc__tasks *t)
{
    struct mproc__tq *q = t->q;
    _Atomic uint32_t *ring = mproc__tq_ring(q);
    unsigned pushed = 0;
    bool ring_full = false;
    while (t->pend_head != NULL && t->nfree > 0 && !t->terminating) {
        uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
        if (tail - atomic_load(&q->head) >= q->nring) {
            ring_full = true; /* cancelled entries not yet skipped by a worker */
            break;
        }
        struct mproc_async *a = t->pend_head;
        size_t first, count;
        if (!next_range(a, &first, &count)) {
            t->pend_head = a->pend_next;
            if (t->pend_head == NULL)
                t->pend_tail = NULL;
            a->in_pend = false;
            continue;
        }
        uint32_t idx = t->free_stack[--t->nfree];
        fill_entry(a, mproc__tq_meta(q, idx), mproc__tq_args(q, idx), first, count);
        t->inflight[idx].a = a;
        t->inflight[idx].first = first;
        t->ninflight++;
        a->entries++;
        atomic_store_explicit(mproc__tq_state(q, idx), MPROC__T_QUEUED, memory_order_release);
        atomic_store_explicit(&ring[tail % q->nring], idx, memory_order_relaxed);
        atomic_store(&q->tail, tail + 1);
        pushed++;
        if (a->retry == NULL && a->submitted >= a->n) { /* all handed out */
            t->pend_head = a->pend_next;
            if (t->pend_head == NULL)
                t->pend_tail = NULL;
            a->in_pend = false;
        }
    }
    if (atomic_load_explicit(&q->backlog, memory_order_relaxed) != (t->pend_head != NULL))
        atomic_store(&q->backlog, t->pend_head != NULL);
    if (pushed > 0 || ring_full)
        wake_workers(t, pushed ? pushed : 1);
}

void mproc__tasks_harvest(struct mproc__tasks *t)
{
    if (t->ninflight > 0) {
        uint64_t seq = atomic_load(&t->q->done_seq);
        if (seq != t->seen_seq) {
            t->seen_seq = seq;
            harvest_scan(t);
        }
    }
    refill(t);
}

/* Fails every unfinished item (terminate, destroy): the workers are gone. */
void mproc__tasks_fail_rest(struct mproc__tasks *t, int err)
{
    harvest_scan(t); /* what finished before is kept */
    for (uint32_t i = 0; i < t->q->nentries && t->ninflight > 0; i++) {
        struct mproc_async *a = t->inflight[i].a;
        if (a == NULL)
            continue;
        struct mproc__tmeta *m = mproc__tq_meta(t->q, i);
        fail_items(t, a, t->inflight[i].first + m->start, m->count - m->start, err);
        release_entry(t, i);
        check_complete(t, a);
    }
    while (t->pend_head != NULL) {
        struct mproc_async *a = t->pend_head;
        t->pend_head = a->pend_next;
        a->in_pend = false;
        cancel_rest(t, a, err);
        check_complete(t, a);
    }
    t->pend_tail = NULL;
    atomic_store(&t->q->head, atomic_load(&t->q->tail));
}

/* ---- running tasks in the caller (a pool without forked workers) -------------------------- */

static void run_inline(struct mproc__tasks *t, struct mproc_async *a)
{
    struct mproc__tmeta *m = (struct mproc__tmeta *)t->inline_buf;
    struct mproc__titem *items = (struct mproc__titem *)(m + 1);
    char *args = (char *)(items + MPROC_TASK_CHUNK_MAX);
    char *res = args + MPROC_TASK_ARG_MAX;
    size_t first, count;
    while (!t->terminating && next_range(a, &first, &count)) {
        fill_entry(a, m, args, first, count);
        m->pid = (int32_t)getpid();
        /* one inline entry at a time per pool: the buffer is the pool's */
        t->inline_busy = true;
        pthread_mutex_unlock(&t->lock);
        if (!t->inline_inited && t->q->initializer != NULL)
            t->q->initializer(t->q->initarg);
        t->inline_inited = true;
        mproc__tq_run_entry(m, args, res, items);
        pthread_mutex_lock(&t->lock);
        deliver_items(t, a, first, m, items, res, 0, m->count);
        t->inline_busy = false;
        pthread_cond_broadcast(&t->cond);
    }
    if (t->terminating)
        cancel_rest(t, a, MPROC_ETERMINATED);
}

/* ---- queueing ------------------------------------------------------------------------------ */

int mproc__tasks_enqueue(struct mproc__tasks *t, struct mproc_async *a)
{
    pthread_mutex_lock(&t->lock);
    if (t->state != MPROC__P_RUN) {
        pthread_mutex_unlock(&t->lock);
        return MPROC_ESTATE;
    }
    a->t = t;
    a->live_next = t->live;
    if (t->live)
        t->live->live_prev = a;
    t->live = a;
    t->outstanding++;
    t->submits++;
    if (t->handler_idle) { /* it sleeps long when idle: from now on it must supervise */
        t->handler_idle = false;
        mproc__tq_wake_handler(t->q);
    }
    if (t->inline_mode) {
        while (t->inline_busy)
            pthread_cond_wait(&t->cond, &t->lock);
        run_inline(t, a);
    } else if (a->n > 0) {
        a->in_pend = true;
        a->pend_next = NULL;
        if (t->pend_tail)
            t->pend_tail->pend_next = a;
        else
            t->pend_head = a;
        t->pend_tail = a;
        mproc__tasks_harvest(t); /* collects finished entries, then hands out ours */
    }
    check_complete(t, a);
    pthread_mutex_unlock(&t->lock);
    return 0;
}
