/* SPDX-License-Identifier: MIT */
/* callback.c — call_soon / call_later / call_at, handles, and callbacks
 * posted from other threads.
 *
 * Owns the slab of callback records and the handle ids that name them, the
 * running of due timers, and the cross-thread queue with its eventfd. The
 * heap itself is timer.c's; the ready queue is scheduler.c's.
 */
#include "internal.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/observe.h"
#include "loop.h"

struct cio__callback {
    /* Ready-queue link, used by call_soon records. */
    cio__runnable run;
    cio_cb cb;
    void *arg;
    /* The slot's current generation (the high half of its handle id). */
    uint32_t gen;
    /* This record's slot (the low half of its handle id). */
    uint32_t slot;
    /* Next free slot while on the free list. */
    uint32_t next_free;
    /* CB_FREE, CB_SOON (in the ready queue), CB_TIMER (in the heap),
     * CB_CANCELLED (a call_soon record cancelled while queued). */
    uint8_t state;
};

enum { CB_FREE, CB_SOON, CB_TIMER, CB_CANCELLED };

#define BLOCK_SHIFT 12
#define BLOCK_SLOTS (1u << BLOCK_SHIFT)

static inline cio__callback *record_at(cio__callbacks *cbs, uint32_t slot)
{
    return &cbs->blocks[slot >> BLOCK_SHIFT][slot & (BLOCK_SLOTS - 1)];
}

/* Handle id layout, high to low: the loop's tag, the slot's generation,
 * the slot. The tag makes a handle from another loop (or from an ended loop
 * on the same thread) name nothing here; generations make a handle whose
 * callback ran or was cancelled name nothing. */
#define SLOT_BITS 28
#define GEN_BITS 24
#define TAG_BITS 12
#define MAX_SLOTS ((uint32_t)1 << SLOT_BITS)
#define GEN_LIMIT ((uint32_t)1 << GEN_BITS)

static inline uint64_t make_id(uint32_t tag, uint32_t gen, uint32_t slot)
{
    return (uint64_t)tag << (GEN_BITS + SLOT_BITS) | (uint64_t)gen << SLOT_BITS | slot;
}

static inline uint64_t record_id(const cio__callbacks *cbs, const cio__callback *r)
{
    return make_id(cbs->tag, r->gen, r->slot);
}

/* The record an id names, if the id is still current; else NULL. */
static cio__callback *record_lookup(cio__callbacks *cbs, uint64_t id)
{
    uint32_t slot = (uint32_t)(id & (MAX_SLOTS - 1));
    if (slot == 0 || slot >= cbs->nslots)
        return NULL;
    cio__callback *r = record_at(cbs, slot);
    if (record_id(cbs, r) != id || r->state == CB_FREE)
        return NULL;
    return r;
}

static cio__callback *record_new(cio__callbacks *cbs, cio_cb cb, void *arg)
{
    cio__callback *r;
    if (cbs->free_head) {
        r = record_at(cbs, cbs->free_head);
        cbs->free_head = r->next_free;
    } else {
        if (cbs->nslots == MAX_SLOTS)
            return NULL;
        if ((cbs->nslots >> BLOCK_SHIFT) == cbs->nblocks) {
            cio__callback **blocks = realloc(cbs->blocks, (cbs->nblocks + 1) * sizeof *blocks);
            if (!blocks)
                return NULL;
            cbs->blocks = blocks;
            blocks[cbs->nblocks] = calloc(BLOCK_SLOTS, sizeof(cio__callback));
            if (!blocks[cbs->nblocks])
                return NULL;
            cbs->nblocks++;
        }
        r = record_at(cbs, cbs->nslots);
        r->slot = cbs->nslots++;
    }
    r->cb = cb;
    r->arg = arg;
    r->run.kind = CIO__RUN_CALLBACK;
    r->run.next = NULL;
    cbs->pending++;
    return r;
}

static void record_free(cio__callbacks *cbs, cio__callback *r)
{
    if (r->state != CB_CANCELLED)
        cbs->pending--;
    r->state = CB_FREE;
    /* A slot whose generation would wrap is retired rather than reused, so
     * that no id ever names two callbacks (one record lost per 16 million
     * reuses of a slot). */
    if (++r->gen == GEN_LIMIT)
        return;
    r->next_free = cbs->free_head;
    cbs->free_head = r->slot;
}

int cio__callback_init(cio_loop *loop)
{
    static atomic_uint loops_made;
    memset(&loop->callbacks, 0, sizeof loop->callbacks);
    loop->callbacks.tag = atomic_fetch_add(&loops_made, 1) & ((1u << TAG_BITS) - 1);
    loop->callbacks.nslots = 1;
    /* Slot 0 exists but is never handed out. */
    loop->callbacks.blocks = malloc(sizeof *loop->callbacks.blocks);
    if (!loop->callbacks.blocks)
        return -ENOMEM;
    loop->callbacks.blocks[0] = calloc(BLOCK_SLOTS, sizeof(cio__callback));
    if (!loop->callbacks.blocks[0]) {
        free(loop->callbacks.blocks);
        return -ENOMEM;
    }
    loop->callbacks.nblocks = 1;
    cio__timer_heap_init(&loop->timers);

    cio__posted_queue *q = &loop->posted;
    q->head = q->tail = NULL;
    q->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->wake_fd < 0) {
        int err = -errno;
        free(loop->callbacks.blocks[0]);
        free(loop->callbacks.blocks);
        return err;
    }
    pthread_mutex_init(&q->lock, NULL);
    return 0;
}

void cio__callback_fini(cio_loop *loop)
{
    cio__posted_queue *q = &loop->posted;
    /* Posted callbacks nobody will run: free what we own. */
    for (cio__posted *p = q->head, *next; p; p = next) {
        next = p->next;
        if (p->owned)
            free(p);
    }
    pthread_mutex_destroy(&q->lock);
    close(q->wake_fd);
    for (size_t i = 0; i < loop->callbacks.nblocks; i++)
        free(loop->callbacks.blocks[i]);
    free(loop->callbacks.blocks);
    cio__timer_heap_fini(&loop->timers);
}

/* ------------------------------------------------------------ scheduling */

uint64_t cio__callback_timer_start(int64_t when, cio_cb cb, void *arg)
{
    cio_loop *loop = cio__context_loop;
    cio__callback *r = record_new(&loop->callbacks, cb, arg);
    if (!r)
        return 0;
    r->state = CB_TIMER;
    uint64_t id = record_id(&loop->callbacks, r);
    if (cio__timer_push(&loop->timers, when, id) != 0) {
        record_free(&loop->callbacks, r);
        return 0;
    }
    return id;
}

static bool timer_is_live(uint64_t id)
{
    cio__callback *r = record_lookup(&cio__context_loop->callbacks, id);
    return r && r->state == CB_TIMER;
}

void cio__callback_cancel(uint64_t id)
{
    cio_loop *loop = cio__context_loop;
    cio__callback *r = record_lookup(&loop->callbacks, id);
    if (!r)
        return;
    if (r->state == CB_TIMER) {
        /* Freeing the record makes its heap entry stale; the heap drops it
         * when it surfaces, or in a rebuild. */
        record_free(&loop->callbacks, r);
        cio__timer_note_dead(&loop->timers, timer_is_live);
    } else if (r->state == CB_SOON) {
        /* Still linked in the ready queue: freed when it is dequeued. */
        r->state = CB_CANCELLED;
        loop->callbacks.pending--;
    }
}

void cio__callback_run(cio__runnable *run)
{
    cio__callback *r = CIO__CONTAINER_OF(run, cio__callback, run);
    cio_cb cb = r->cb;
    void *arg = r->arg;
    bool cancelled = r->state == CB_CANCELLED;
    /* Freed before the call, so cancelling its own handle inside cb is the
     * promised no-op. */
    record_free(&cio__context_loop->callbacks, r);
    cio__context_loop->counters.callbacks++;
    if (!cancelled)
        cb(arg);
}

void cio__callback_run_due_timers(void)
{
    cio_loop *loop = cio__context_loop;
    cio__timer_heap *h = &loop->timers;
    /* Timers set by the callbacks below wait for the next iteration, even
     * with a zero delay: otherwise one that re-arms itself would starve
     * the loop. */
    uint64_t seq_limit = h->next_seq;
    const cio__timer_entry *top;
    while ((top = cio__timer_top(h)) && top->when <= loop->now_ns && top->seq < seq_limit) {
        uint64_t id = top->handle;
        cio__timer_pop(h);
        cio__callback *r = record_lookup(&loop->callbacks, id);
        if (!r || r->state != CB_TIMER) {
            if (h->dead)
                h->dead--;
            continue;
        }
        int64_t when = top->when;
        cio_cb cb = r->cb;
        void *arg = r->arg;
        record_free(&loop->callbacks, r);
        loop->counters.timers++;
        CIO__OBSERVE(loop, timer_fired, when);
        cb(arg);
    }
}

int64_t cio__callback_next_deadline(void)
{
    cio_loop *loop = cio__context_loop;
    cio__timer_heap *h = &loop->timers;
    const cio__timer_entry *top;
    while ((top = cio__timer_top(h))) {
        if (timer_is_live(top->handle))
            return top->when;
        cio__timer_pop(h);
        if (h->dead)
            h->dead--;
    }
    return INT64_MAX;
}

/* ---------------------------------------------------------- public API */

/* The errno for a scheduling call that cannot be made, or 0. */
static int schedule_error(cio_cb cb)
{
    if (!cio__context_loop)
        return EPERM;
    return cb ? 0 : EINVAL;
}

static cio_handle no_handle(int err)
{
    errno = err;
    return (cio_handle){0};
}

static cio_handle schedule_at(int64_t when, cio_cb cb, void *arg)
{
    int err = schedule_error(cb);
    if (err)
        return no_handle(err);
    uint64_t id = cio__callback_timer_start(when, cb, arg);
    return id ? (cio_handle){id} : no_handle(ENOMEM);
}

cio_handle cio_call_soon(cio_cb cb, void *arg)
{
    int err = schedule_error(cb);
    if (err)
        return no_handle(err);
    cio_loop *loop = cio__context_loop;
    cio__callback *r = record_new(&loop->callbacks, cb, arg);
    if (!r)
        return no_handle(ENOMEM);
    r->state = CB_SOON;
    cio__sched_push(loop, &r->run);
    return (cio_handle){record_id(&loop->callbacks, r)};
}

cio_handle cio_call_later(double delay, cio_cb cb, void *arg)
{
    if (isnan(delay))
        return no_handle(EINVAL);
    return schedule_at(cio__deadline_after(CIO__MAX(delay, 0.0)), cb, arg);
}

cio_handle cio_call_at(double when, cio_cb cb, void *arg)
{
    if (isnan(when))
        return no_handle(EINVAL);
    return schedule_at(cio__seconds_to_ns(when), cb, arg);
}

void cio_handle_cancel(cio_handle h)
{
    if (cio__context_loop)
        cio__callback_cancel(h.id);
}

/* ------------------------------------------------- from other threads */

/* Lock order: posted.lock is a leaf; nothing else is taken while it is
 * held. Invariant: whenever the queue is non-empty, the eventfd has been
 * written since the loop last drained the queue, so a loop about to block
 * in the OS wakes up. */
int cio__callback_post(cio_loop *loop, cio__posted *node)
{
    cio__posted_queue *q = &loop->posted;
    node->next = NULL;
    pthread_mutex_lock(&q->lock);
    bool was_empty = q->head == NULL;
    if (q->tail)
        q->tail->next = node;
    else
        q->head = node;
    q->tail = node;
    if (was_empty) {
        uint64_t one = 1;
        /* EAGAIN means the counter is already non-zero: the loop will wake.
         * Written before the unlock: once the lock is released the loop may
         * run the callback, finish, close wake_fd and free itself, so the
         * poster must not touch the loop after that. */
        ssize_t n = write(q->wake_fd, &one, sizeof one);
        (void)n;
    }
    pthread_mutex_unlock(&q->lock);
    return 0;
}

int cio_call_soon_threadsafe(cio_loop *loop, cio_cb cb, void *arg)
{
    if (!loop || !cb)
        return -EINVAL;
    cio__posted *node = malloc(sizeof *node);
    if (!node)
        return -ENOMEM;
    node->cb = cb;
    node->arg = arg;
    node->owned = true;
    return cio__callback_post(loop, node);
}

void cio__callback_drain_wakeup(void)
{
    uint64_t count;
    ssize_t n = read(cio__context_loop->posted.wake_fd, &count, sizeof count);
    (void)n;
}

void cio__callback_run_posted(void)
{
    cio__posted_queue *q = &cio__context_loop->posted;
    pthread_mutex_lock(&q->lock);
    cio__posted *list = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    while (list) {
        cio__posted *next = list->next;
        cio_cb cb = list->cb;
        void *arg = list->arg;
        if (list->owned)
            free(list);
        cb(arg);
        list = next;
    }
}
