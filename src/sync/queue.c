/* SPDX-License-Identifier: MIT */
/* queue.c — cio_queue, asyncio.Queue / LifoQueue / PriorityQueue: items
 * passed between tasks, bounded or not, with task_done/join and shutdown.
 *
 * Owns the items (a ring for FIFO, a stack for LIFO, a binary heap for
 * priority, one growable array for all three) and three FIFOs of waiters.
 * Hand-offs keep cancellation safe: a put finding a getter waiting gives
 * it the item directly, and a get that frees a slot moves the first waiting
 * putter's item in. A waiter that was cancelled or timed out first has left
 * its queue and is never given or taken an item; one that was handed an
 * item (or whose item was taken in) returns 0 even if cancelled before it
 * runs. So a cancelled get loses no item and a cancelled put inserts none.
 */
#include "internal.h"

#include <string.h>

#include "sync/waitq.h"

enum { QUEUE_FIFO, QUEUE_LIFO, QUEUE_PRIORITY };

/* One stored item and, for priority queues, its arrival number, which
 * orders items that compare equal (first in, first out). */
typedef struct queue_slot {
    void *item;
    uint64_t seq;
} queue_slot;

/* A parked get or put: the waiter and the item being passed. */
typedef struct queue_waiter {
    cio__waiter w;
    /* put: the item to insert; get: where the item handed over lands. */
    void *item;
} queue_waiter;

#define QUEUE_MAGIC CIO__MAGIC('q', 'u', 'e', 'u')

struct cio_queue {
    /* QUEUE_FIFO, QUEUE_LIFO or QUEUE_PRIORITY. */
    int kind;
    /* Most items held at once; 0: no limit. */
    size_t maxsize;
    /* Priority queues: orders two items (negative: a first). */
    int (*cmp)(const void *a, const void *b);
    /* The items: slots[0..cap), count of them in use. FIFO: a ring from
     * head; LIFO: a stack, top at count-1; priority: a min-heap. */
    queue_slot *slots;
    size_t cap, count, head;
    /* Priority queues: the next arrival number. */
    uint64_t next_seq;
    /* Items put and not yet marked done by cio_queue_task_done. */
    size_t unfinished;
    /* cio_queue_shutdown was called: puts fail, gets drain then fail. */
    bool shut_down;
    /* Parked tasks (cio__waiter.node), each FIFO: getters wait only while
     * the queue is empty, putters only while it is full. */
    cio__list getters, putters, joiners;
    /* QUEUE_MAGIC while live, CIO__MAGIC_FREED once freed (internal.h). */
    uint32_t magic;
};

static cio_queue *queue_make(int kind, size_t maxsize, int (*cmp)(const void *, const void *))
{
    cio_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->magic = QUEUE_MAGIC;
    q->kind = kind;
    q->maxsize = maxsize;
    q->cmp = cmp;
    cio__list_init(&q->getters);
    cio__list_init(&q->putters);
    cio__list_init(&q->joiners);
    return q;
}

cio_queue *cio_queue_new(size_t maxsize) { return queue_make(QUEUE_FIFO, maxsize, NULL); }

cio_queue *cio_queue_new_lifo(size_t maxsize) { return queue_make(QUEUE_LIFO, maxsize, NULL); }

cio_queue *cio_queue_new_priority(size_t maxsize, int (*cmp)(const void *a, const void *b))
{
    if (!cmp) {
        errno = EINVAL;
        return NULL;
    }
    return queue_make(QUEUE_PRIORITY, maxsize, cmp);
}

void cio_queue_free(cio_queue *q)
{
    CIO__CHECK_LIVE(q, QUEUE_MAGIC, "cio_queue_free", "queue");
    if (!q)
        return;
    cio__waitq_check_unused(&q->getters, "cio_queue_free");
    cio__waitq_check_unused(&q->putters, "cio_queue_free");
    cio__waitq_check_unused(&q->joiners, "cio_queue_free");
    free(q->slots);
    CIO__POISON(q);
    free(q);
}

size_t cio_queue_size(const cio_queue *q)
{
    CIO__CHECK_LIVE(q, QUEUE_MAGIC, "cio_queue_size", "queue");
    return q ? q->count : 0;
}

static bool queue_full(const cio_queue *q) { return q->maxsize && q->count >= q->maxsize; }

/* ------------------------------------------------------------- storage */

/* Room for one more item: the array doubles (a ring is unrolled to start
 * at 0), so storage costs an allocation only when the queue reaches a new
 * high-water mark. */
static int slots_reserve(cio_queue *q)
{
    if (q->count < q->cap)
        return 0;
    size_t cap = q->cap ? q->cap * 2 : 8;
    queue_slot *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return -ENOMEM;
    size_t first = q->kind == QUEUE_FIFO ? CIO__MIN(q->count, q->cap - q->head) : q->count;
    if (q->count) {
        memcpy(slots, q->slots + (q->kind == QUEUE_FIFO ? q->head : 0), first * sizeof *slots);
        memcpy(slots + first, q->slots, (q->count - first) * sizeof *slots);
    }
    free(q->slots);
    q->slots = slots;
    q->cap = cap;
    q->head = 0;
    return 0;
}

/* a before b in a priority queue: smaller, or equal and put earlier. */
static bool slot_before(const cio_queue *q, const queue_slot *a, const queue_slot *b)
{
    int c = q->cmp(a->item, b->item);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

static void heap_push(cio_queue *q, queue_slot s)
{
    size_t i = q->count;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!slot_before(q, &s, &q->slots[parent]))
            break;
        q->slots[i] = q->slots[parent];
        i = parent;
    }
    q->slots[i] = s;
}

static void *heap_pop(cio_queue *q)
{
    void *top = q->slots[0].item;
    queue_slot last = q->slots[q->count];
    size_t n = q->count, i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && slot_before(q, &q->slots[child + 1], &q->slots[child]))
            child++;
        if (!slot_before(q, &q->slots[child], &last))
            break;
        q->slots[i] = q->slots[child];
        i = child;
    }
    if (n)
        q->slots[i] = last;
    return top;
}

/* Stores an item (room was reserved). */
static void slots_push(cio_queue *q, void *item)
{
    queue_slot s = {item, q->next_seq++};
    if (q->kind == QUEUE_PRIORITY)
        heap_push(q, s);
    else if (q->kind == QUEUE_LIFO)
        q->slots[q->count] = s;
    else
        q->slots[(q->head + q->count) & (q->cap - 1)] = s;
    q->count++;
}

/* Takes the next item (there is one). */
static void *slots_pop(cio_queue *q)
{
    q->count--;
    if (q->kind == QUEUE_PRIORITY)
        return heap_pop(q);
    if (q->kind == QUEUE_LIFO)
        return q->slots[q->count].item;
    void *item = q->slots[q->head].item;
    q->head = (q->head + 1) & (q->cap - 1);
    return item;
}

/* ------------------------------------------------------------ put, get */

/* A put that does not wait: to a waiting getter, or into the queue.
 * Returns 0, -EPIPE (shut down), -EAGAIN (full) or -ENOMEM. */
static int try_put(cio_queue *q, void *item)
{
    if (q->shut_down)
        return -EPIPE;
    cio__waiter *w = cio__waitq_pop(&q->getters);
    if (w) {
        CIO__CONTAINER_OF(w, queue_waiter, w)->item = item;
        cio__sched_wake(w, 0);
    } else {
        if (queue_full(q))
            return -EAGAIN;
        int err = slots_reserve(q);
        if (err)
            return err;
        slots_push(q, item);
    }
    q->unfinished++;
    return 0;
}

/* A get that does not wait; the slot it frees goes to the first waiting
 * putter. Returns 0, -EPIPE (shut down and empty) or -EAGAIN (empty). */
static int try_get(cio_queue *q, void **item)
{
    if (q->count == 0)
        return q->shut_down ? -EPIPE : -EAGAIN;
    *item = slots_pop(q);
    cio__waiter *w = cio__waitq_pop(&q->putters);
    if (w) {
        /* The slot just freed is room enough: no allocation. */
        slots_push(q, CIO__CONTAINER_OF(w, queue_waiter, w)->item);
        q->unfinished++;
        cio__sched_wake(w, 0);
    }
    return 0;
}

/* Parks the current task in one of q's waiter lists with an item slot. */
static int queue_park(cio__list *list, cio__wait_kind kind, cio_queue *q, void **item)
{
    queue_waiter qw;
    cio__waiter_init(&qw.w, kind, q, cio__waitq_unlink);
    qw.item = *item;
    int err = cio__waitq_park(list, &qw.w);
    if (err == 0)
        *item = qw.item;
    return err;
}

int cio_queue_put_nowait(cio_queue *q, void *item)
{
    CIO__CHECK_LIVE(q, QUEUE_MAGIC, "cio_queue_put_nowait", "queue");
    if (!q)
        return -EINVAL;
    return try_put(q, item);
}

int cio_queue_get_nowait(cio_queue *q, void **item)
{
    CIO__CHECK_LIVE(q, QUEUE_MAGIC, "cio_queue_get_nowait", "queue");
    if (!q || !item)
        return -EINVAL;
    return try_get(q, item);
}

int cio_queue_put(cio_queue *q, void *item)
{
    CIO__CHECK_LIVE(q, QUEUE_MAGIC, "cio_queue_put", "queue");
    if (!q)
        return -EINVAL;
    int err = cio__checkpoint();
    if (err)
        return err;
    err = try_put(q, item);
    if (err != -EAGAIN)
        return err;
    return queue_park(&q->putters, CIO__WAIT_QUEUE_PUT, q, &item);
}

int cio_queue_get(cio_queue *q, void **item)
{
    CIO__CHECK_LIVE(q, QUEUE_MAGIC, "cio_queue_get", "queue");
    if (!q || !item)
        return -EINVAL;
    int err = cio__checkpoint();
    if (err)
        return err;
    err = try_get(q, item);
    if (err != -EAGAIN)
        return err;
    void *got = NULL;
    err = queue_park(&q->getters, CIO__WAIT_QUEUE_GET, q, &got);
    if (err == 0)
        *item = got;
    return err;
}

/* ---------------------------------------------------- join and shutdown */

int cio_queue_task_done(cio_queue *q)
{
    CIO__CHECK_LIVE(q, QUEUE_MAGIC, "cio_queue_task_done", "queue");
    if (!q)
        return -EINVAL;
    if (q->unfinished == 0)
        return -EINVAL;
    if (--q->unfinished == 0)
        cio__waitq_wake_all(&q->joiners, 0);
    return 0;
}

int cio_queue_join(cio_queue *q)
{
    CIO__CHECK_LIVE(q, QUEUE_MAGIC, "cio_queue_join", "queue");
    if (!q)
        return -EINVAL;
    int err = cio__checkpoint();
    if (err || q->unfinished == 0)
        return err;
    return cio__waitq_wait(&q->joiners, CIO__WAIT_QUEUE_JOIN, q);
}

void cio_queue_shutdown(cio_queue *q, bool immediate)
{
    CIO__CHECK_LIVE(q, QUEUE_MAGIC, "cio_queue_shutdown", "queue");
    if (!q)
        return;
    q->shut_down = true;
    if (immediate) {
        /* The items dropped will never be marked done: count them done. */
        q->unfinished -= CIO__MIN(q->unfinished, q->count);
        q->count = 0;
        q->head = 0;
        if (q->unfinished == 0)
            cio__waitq_wake_all(&q->joiners, 0);
    }
    cio__waitq_wake_all(&q->getters, -EPIPE);
    cio__waitq_wake_all(&q->putters, -EPIPE);
}
