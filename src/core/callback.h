/* SPDX-License-Identifier: MIT */
/* callback.h — callback records (call_soon/later/at, internal timers) and
 * the queue of callbacks posted from other threads.
 */
#ifndef CIO_CALLBACK_H
#define CIO_CALLBACK_H

#include <pthread.h>

#include "internal.h"
#include "core/scheduler.h"

typedef struct cio__callback cio__callback;

/* The slab of callback records. A handle id is (loop tag, generation,
 * slot): a slot's generation rises each time it is freed, and a slot whose
 * generation would wrap is retired, so an id is never reused while the loop
 * lives; the tag (one per loop made in the process, 4,096 before it wraps)
 * keeps another loop's handles from naming this loop's callbacks. */
typedef struct cio__callbacks {
    cio__callback **blocks;
    size_t nblocks;
    /* Slots handed out so far (slot 0 is never used: id 0 means none). */
    uint32_t nslots;
    /* Free slots, linked through the records. */
    uint32_t free_head;
    /* Records pending (scheduled and not cancelled), for deadlock checks. */
    size_t pending;
    /* This loop's tag in every handle id. */
    uint32_t tag;
} cio__callbacks;

/* A callback posted from another thread; embed it to post without
 * allocating (the thread pool does). */
typedef struct cio__posted {
    struct cio__posted *next;
    cio_cb cb;
    void *arg;
    /* Free the node with free() after running it (cio_call_soon_threadsafe). */
    bool owned;
} cio__posted;

typedef struct cio__posted_queue {
    pthread_mutex_t lock;
    cio__posted *head, *tail;
    /* eventfd that wakes the loop out of the OS poll. */
    int wake_fd;
} cio__posted_queue;

int cio__callback_init(struct cio_loop *loop);
void cio__callback_fini(struct cio_loop *loop);

/* Schedules cb(arg) at `when` (ns); returns the handle id, or 0 (-ENOMEM). */
CIO__COMPONENT uint64_t cio__callback_timer_start(int64_t when, cio_cb cb, void *arg);
CIO__COMPONENT void cio__callback_cancel(uint64_t id);

/* Runs a CALLBACK runnable that reached the head of the ready queue. */
void cio__callback_run(cio__runnable *r);

/* Runs every timer due at loop->now_ns that was set before this call. */
void cio__callback_run_due_timers(void);

/* The earliest live deadline (ns), or INT64_MAX if none. */
int64_t cio__callback_next_deadline(void);

/* Posts a node to a loop from any thread and wakes it. */
int cio__callback_post(struct cio_loop *loop, cio__posted *node);

/* Runs what other threads posted (called by the loop after polling). */
void cio__callback_run_posted(void);

/* Reads the wake eventfd empty (the backend reported it readable). */
void cio__callback_drain_wakeup(void);

#endif
