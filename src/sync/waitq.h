/* SPDX-License-Identifier: MIT */
/* waitq.h — a FIFO of parked waiters: what every synchronisation object
 * (event, lock, condition, semaphore, barrier, queue, future) is built on.
 *
 * Wake-ups are hand-offs: the waker takes the head waiter off the queue and
 * wakes it with a result, and a woken waiter keeps that result even if it is
 * cancelled before it runs (scheduler.c). So whatever the waker gave (the
 * lock, a permit, an item) is never lost, and a waiter that was cancelled
 * or timed out first has already left the queue (its unlink hook) and is
 * never given anything.
 */
#ifndef CIO_WAITQ_H
#define CIO_WAITQ_H

#include "loop.h"
#include "core/scheduler.h"

/* The unlink hook of a waiter that is only linked in a wait queue. */
void cio__waitq_unlink(cio__waiter *w);

/* Links w (filled by cio__waiter_init) at the tail of q and parks the
 * current task in it. Returns what cio__sched_wait returns. */
int cio__waitq_park(cio__list *q, cio__waiter *w);

/* Parks the current task at the tail of q, in a cancellable waiter of the
 * given kind on its own stack. Returns what cio__sched_wait returns. */
int cio__waitq_wait(cio__list *q, cio__wait_kind kind, void *object);

/* Takes the head waiter off q (NULL if q is empty). The caller wakes it. */
static inline cio__waiter *cio__waitq_pop(cio__list *q)
{
    cio__list *n = cio__list_pop_front(q);
    return n ? CIO__CONTAINER_OF(n, cio__waiter, node) : NULL;
}

/* Wakes the head waiter with `result`; false if q was empty. */
bool cio__waitq_wake_one(cio__list *q, int result);

/* Wakes every waiter with `result`, in FIFO order. */
void cio__waitq_wake_all(cio__list *q, int result);

/* Aborts with a message if tasks still wait in q: fn (the free function)
 * was called on an object still in use. */
void cio__waitq_check_unused(const cio__list *q, const char *fn);

#endif
