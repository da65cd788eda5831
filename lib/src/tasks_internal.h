/*
 * tasks_internal.h - Pool tasks (apply / map / starmap / imap over byte blobs): the task
 * queue in the pool's control segment, shared by the creator and its workers, and the
 * creator's private bookkeeping.
 *
 * Shared part (at ctl->tasks_off, reserved with the control segment at pool creation;
 * untouched pages cost nothing):
 *   entries  N task entries, each with a state word, a description (struct mproc__tmeta),
 *            an argument area, a result area and per-item result headers. Only the
 *            creator allocates entries (under its tasks lock); an entry holds one task or
 *            a chunk of up to MPROC_TASK_CHUNK_MAX tasks of one map.
 *   ring     2N entry indices in FIFO order: the creator appends (it is the only
 *            producer) and bumps `tail`; workers take from `head` under `pop_lock`.
 *
 * Entry states (the state word; the owner's slot is in bits 8..):
 *   FREE -> QUEUED (creator wrote it, then appended it to the ring)
 *        -> RUNNING|slot (a worker claimed it: CAS under pop_lock, slot->cur_task set)
 *        -> DONE (the worker wrote every item's result)   -> FREE (creator harvested)
 *        -> CRASHED (the creator reaped the owner dead)    -> FREE (harvested)
 *   QUEUED -> CANCELLED (creator: fail-fast or terminate) -> FREE
 *
 * Crash safety. pop_lock is a robust process-shared mutex held only for a claim, never
 * across user code. A claim writes slot->cur_task, CASes the state QUEUED -> RUNNING|slot,
 * then advances head; a worker that dies anywhere in between leaves either a QUEUED entry
 * (the next claimer takes it: the task had not started) or a RUNNING one that the next
 * claimer skips (head is re-read after EOWNERDEAD). When the creator reaps a dead worker
 * (mproc__worker_gone -> mproc__tasks_worker_gone) it marks the entry that the slot's
 * cur_task names CRASHED if it is still RUNNING by that slot. Harvesting a CRASHED entry
 * delivers the items the worker finished (its `progress`), fails the one it was running
 * with MPROC_EWORKER and the signal (Python semantics: that task failed; it is not
 * retried), and queues the items after it again, as new entries.
 *
 * Wakeups. Workers find work by `tail != head` in the same spin/sleep loop that watches
 * the map generation (worker.c wait_for_job); the creator wakes sleeping workers with the
 * slots' `sleeping` exchange + wake semaphore. Workers wake the creator's result thread
 * through `hsem` only when asked: the entry has callbacks (`notify`), someone sleeps
 * waiting for results (`watch` > 0), or tasks wait for free entries (`backlog`: freeing
 * entries promptly keeps the workers fed). A caller spinning in get harvests by itself.
 */
#ifndef MPROC_TASKS_INTERNAL_H
#define MPROC_TASKS_INTERNAL_H

#include "pool_internal.h"

#define MPROC__TQ_MIN_ENTRIES 64u
#define MPROC__TQ_MAX_ENTRIES 4096u
#define MPROC__TQ_MSGS 16u /* failures of one entry that keep their own message */

enum mproc__tstate {
    MPROC__T_FREE = 0,
    MPROC__T_QUEUED = 1,
    MPROC__T_RUNNING = 2,
    MPROC__T_DONE = 3,
    MPROC__T_CRASHED = 4,
    MPROC__T_CANCELLED = 5,
    MPROC__T_DYING = 6, /* the creator is marking it CRASHED */
};
#define MPROC__T_STATE(w) ((w)&0xffu)
#define MPROC__T_OWNER(w) ((w) >> 8)
#define MPROC__T_RUNNING_BY(slot) (MPROC__T_RUNNING | ((uint32_t)(slot) << 8))

enum mproc__tkind { MPROC__TK_PLAIN = 0, MPROC__TK_STAR = 1 };

/* One entry's description (creator writes the inputs before QUEUED; the worker writes
 * the outputs before DONE). */
struct mproc__tmeta {
    /* inputs */
    uint32_t kind;       /* mproc__tkind */
    uint32_t count;      /* items in this entry (a chunk of a map) */
    uint32_t start;      /* first item to run */
    uint32_t notify;     /* post hsem when done (callbacks) */
    uint32_t arg_size;   /* PLAIN: bytes of each item's argument */
    uint32_t arg_stride; /* bytes from one item's arguments to the next (16-aligned) */
    uint32_t res_cap;    /* capacity of each item's result */
    uint32_t res_stride; /* bytes from one item's result to the next (16-aligned) */
    uint32_t argc;       /* STAR */
    uint32_t arg_sizes[MPROC_STAR_ARGS_MAX];
    uint32_t arg_offs[MPROC_STAR_ARGS_MAX];
    void (*fn)(void);    /* mproc_task_fn or mproc_star_fn */
    /* outputs */
    _Atomic uint32_t progress; /* items [start, progress) are finished */
    int32_t pid;               /* the worker that claimed it */
    int32_t wstatus;           /* CRASHED: the owner's waitpid status (creator) */
    uint32_t nmsg;             /* messages below, of items msg_item[0..nmsg) */
    uint32_t msg_item[MPROC__TQ_MSGS];
    char msg[MPROC__TQ_MSGS][MPROC_TASK_MSG_MAX];
};

/* Result header of one item. size > the entry's res_cap means "too big". */
struct mproc__titem {
    int32_t code;  /* the task function's return value */
    uint32_t size; /* bytes of result it reported */
};

struct mproc__tq {
    pthread_mutex_t pop_lock; /* robust, process-shared: a worker's claim */
    uint32_t nentries;
    uint32_t nring;
    uint32_t max_per_child;
    uint32_t pad0;
    void (*initializer)(void *);
    void *initarg;
    uint64_t ring_off, state_off, meta_off, items_off, args_off, res_off; /* from tq */
    sem_t hsem;              /* wakes the creator's result thread */
    _Atomic uint32_t hwake;  /* 1 once hsem was posted and not yet consumed */
    _Atomic uint32_t watch;  /* > 0: post hsem after every task */
    _Atomic uint32_t backlog; /* tasks wait for free entries: post hsem after every task */
    _Atomic uint32_t stop;   /* terminated: workers take nothing more */

    _Alignas(MPROC__CACHELINE) _Atomic uint64_t tail; /* creator only */
    _Alignas(MPROC__CACHELINE) _Atomic uint64_t head; /* under pop_lock */
    _Alignas(MPROC__CACHELINE) _Atomic uint64_t done_seq; /* bumped after DONE/CRASHED */
};

static inline struct mproc__tq *mproc__tq(struct mproc__ctl *ctl)
{
    return (struct mproc__tq *)((char *)ctl + ctl->tasks_off);
}
static inline _Atomic uint32_t *mproc__tq_ring(struct mproc__tq *q)
{
    return (_Atomic uint32_t *)((char *)q + q->ring_off);
}
static inline _Atomic uint32_t *mproc__tq_state(struct mproc__tq *q, uint32_t i)
{
    return (_Atomic uint32_t *)((char *)q + q->state_off) + i;
}
static inline struct mproc__tmeta *mproc__tq_meta(struct mproc__tq *q, uint32_t i)
{
    return (struct mproc__tmeta *)((char *)q + q->meta_off) + i;
}
static inline struct mproc__titem *mproc__tq_items(struct mproc__tq *q, uint32_t i)
{
    return (struct mproc__titem *)((char *)q + q->items_off) + (size_t)i * MPROC_TASK_CHUNK_MAX;
}
static inline char *mproc__tq_args(struct mproc__tq *q, uint32_t i)
{
    return (char *)q + q->args_off + (size_t)i * MPROC_TASK_ARG_MAX;
}
static inline char *mproc__tq_res(struct mproc__tq *q, uint32_t i)
{
    return (char *)q + q->res_off + (size_t)i * MPROC_TASK_RESULT_MAX;
}

/* Wakes the creator's result thread (at most one pending post). */
void mproc__tq_wake_handler(struct mproc__tq *q);
/* Runs items [m->start, m->count) of an entry (arguments at `args`, results into `res`
 * and `items`) in the calling process, advancing m->progress after each; used by
 * workers and by pools without forked workers. */
void mproc__tq_run_entry(struct mproc__tmeta *m, const char *args, char *res,
                         struct mproc__titem *items);
/* The message item j of the entry failed with, or NULL (it got no room or set none). */
const char *mproc__tq_msg(const struct mproc__tmeta *m, uint32_t j);

/* ---- the creator's side ------------------------------------------------------------- */

enum mproc__akind { MPROC__A_APPLY, MPROC__A_MAP, MPROC__A_IMAP, MPROC__A_IMAP_UNORDERED };
enum mproc__pstate { MPROC__P_RUN, MPROC__P_CLOSED, MPROC__P_TERMINATED };

#define MPROC__ITEM_PENDING 1 /* an item's status before it finished (errors are < 0) */

struct mproc__range {
    size_t first, count;
    struct mproc__range *next;
};

struct mproc__failrec {
    mproc_task_failure f;
    struct mproc__failrec *next;
};

struct mproc_async {
    struct mproc__tasks *t; /* NULL once the pool is gone (everything is final then) */
    uint8_t kind;           /* mproc__akind */
    bool star, fail_fast, cancelled, freed, completed, in_pend;
    _Atomic int ready;
    void (*fn)(void);
    mproc_task_options opts;
    /* the calls' arguments, copied at submission */
    size_t n, chunk;
    size_t arg_size;   /* PLAIN: each item's; STAR: the packed item */
    int argc;
    uint32_t arg_sizes[MPROC_STAR_ARGS_MAX], arg_offs[MPROC_STAR_ARGS_MAX];
    size_t arg_stride; /* bytes per item in `args` and in an entry */
    char *args;
    size_t submitted;  /* items [0, submitted) were handed out (except `retry`) */
    struct mproc__range *retry;
    /* results */
    size_t res_cap;      /* each item's capacity */
    char *results;       /* MAP: the caller's buffer (NULL after free) */
    size_t res_stride;   /* MAP: bytes between results in it */
    int32_t *status;     /* per item: 0, an error, or MPROC__ITEM_PENDING */
    uint32_t *sizes;     /* per item result size */
    void **blobs;        /* APPLY / IMAP: per item result copy */
    size_t finished;     /* items with a final status */
    size_t entries;      /* entries in flight */
    int err;             /* the reported failure's error (0: none yet) */
    struct mproc__failrec *failures; /* own failures (ETASK, ETOOBIG, EWORKER, ENOMEM) */
    struct mproc__failrec *first;    /* the one with the lowest index: the reported one */
    size_t bulk_index;   /* lowest cancelled / terminated item, if no own failure */
    int bulk_err;
    /* imap iteration */
    size_t next_index;          /* IMAP: next in order; UNORDERED: returned so far */
    size_t *order;              /* UNORDERED: indices in completion order */
    size_t order_len;
    /* inline storage for apply */
    int32_t status1;
    uint32_t size1;
    void *blob1;
    unsigned char small_arg[64];
    /* lists */
    struct mproc_async *pend_next, *cb_next, *live_prev, *live_next;
};

struct mproc__inflight {
    struct mproc_async *a; /* NULL: entry free */
    size_t first;          /* the item index of the entry's item 0 */
};

struct mproc__tasks {
    struct mproc_pool *pool;
    struct mproc__tq *q;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* an async became ready, or the pool changed state */
    int state;           /* mproc__pstate */
    bool inline_mode;    /* no forked workers: tasks run in the submitting thread */
    bool inline_inited;  /* the initializer ran in the caller */
    bool inline_busy;    /* inline_buf is in use (by a thread that dropped the lock) */
    bool terminating;
    bool handler_started, handler_stop, handler_joined;
    bool handler_idle; /* in its long sleep: a submission wakes it to supervise */
    uint64_t submits;  /* calls so far (the result thread idles after a quiet slice) */
    pthread_t handler;
    uint32_t *free_stack;
    uint32_t nfree;
    uint32_t ninflight;
    struct mproc__inflight *inflight;
    uint64_t seen_seq;
    struct mproc_async *pend_head, *pend_tail;
    struct mproc_async *cb_head, *cb_tail;
    struct mproc_async *live;
    uint64_t outstanding; /* asyncs not yet ready */
    char *inline_buf;     /* inline mode: an entry's description, items, args, results */
};

/* tasks.c */
struct mproc_async *mproc__async_new(int kind, size_t n);
/* Queues a (checked, built) async: MPROC_ESTATE if the pool no longer takes tasks. */
int mproc__tasks_enqueue(struct mproc__tasks *t, struct mproc_async *a);
int mproc__tasks_get(struct mproc_pool *pool, struct mproc__tasks **out);
void mproc__tasks_free(struct mproc__tasks *t);
void mproc__tasks_harvest(struct mproc__tasks *t);
void mproc__tasks_finish(struct mproc__tasks *t, struct mproc_async *a);
void mproc__tasks_deliver_failure(struct mproc__tasks *t, struct mproc_async *a, size_t i,
                                  const mproc_task_failure *f);
void mproc__tasks_fail_rest(struct mproc__tasks *t, int err);
/* The failure a reports (its lowest-indexed own failure, else the first cancelled). */
void mproc__async_reported(const struct mproc_async *a, mproc_task_failure *out);
void mproc__async_destroy(struct mproc__tasks *t, struct mproc_async *a);
/* tasks_pool.c */
int mproc__tasks_start_handler(struct mproc__tasks *t);
int mproc__tasks_wait(struct mproc__tasks *t, struct mproc_async *a, int timeout_ms,
                      bool (*pred)(struct mproc__tasks *, struct mproc_async *));
bool mproc__in_handler(const struct mproc__tasks *t);

#endif
