/* SPDX-License-Identifier: MIT */
/* barrier.c — cio_barrier, asyncio.Barrier: parties tasks wait until all
 * of them have arrived, then all go on together.
 *
 * Owns the count of arrivals and their FIFO. The last arrival wakes every
 * waiter with its index (its place in the order of arrival among the
 * waiters still there) and the barrier starts its next cycle at once: a
 * woken waiter keeps its index even if cancelled before it runs, so no
 * "draining" phase is needed. A waiter cancelled or timed out before the
 * last arrival leaves the barrier and no longer counts.
 */
#include "internal.h"

#include "sync/waitq.h"

#define BARRIER_MAGIC CIO__MAGIC('b', 'a', 'r', 'r')

struct cio_barrier {
    /* How many tasks must arrive to release them all. */
    unsigned parties;
    /* Tasks parked in this cycle (< parties). */
    unsigned waiting;
    /* Those tasks (cio__waiter.node), in order of arrival. */
    cio__list waiters;
    /* BARRIER_MAGIC while live, CIO__MAGIC_FREED once freed (internal.h). */
    uint32_t magic;
};

cio_barrier *cio_barrier_new(unsigned parties)
{
    if (parties == 0 || parties > INT32_MAX) {
        errno = EINVAL;
        return NULL;
    }
    cio_barrier *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->magic = BARRIER_MAGIC;
    b->parties = parties;
    b->waiting = 0;
    cio__list_init(&b->waiters);
    return b;
}

void cio_barrier_free(cio_barrier *b)
{
    CIO__CHECK_LIVE(b, BARRIER_MAGIC, "cio_barrier_free", "barrier");
    if (!b)
        return;
    cio__waitq_check_unused(&b->waiters, "cio_barrier_free");
    CIO__POISON(b);
    free(b);
}

unsigned cio_barrier_n_waiting(const cio_barrier *b)
{
    CIO__CHECK_LIVE(b, BARRIER_MAGIC, "cio_barrier_n_waiting", "barrier");
    return b ? b->waiting : 0;
}

/* A waiter leaving before the barrier released it: one fewer has arrived.
 * Called once at most, and only while the waiter is still queued. */
static void unlink_barrier_waiter(cio__waiter *w)
{
    cio_barrier *b = w->object;
    cio__list_remove(&w->node);
    b->waiting--;
}

int cio_barrier_wait(cio_barrier *b)
{
    CIO__CHECK_LIVE(b, BARRIER_MAGIC, "cio_barrier_wait", "barrier");
    if (!b)
        return -EINVAL;
    int err = cio__checkpoint();
    if (err)
        return err;
    if (b->waiting + 1 == b->parties) {
        int index = 0;
        cio__waiter *w;
        while ((w = cio__waitq_pop(&b->waiters)))
            cio__sched_wake(w, index++);
        b->waiting = 0;
        return index;
    }
    b->waiting++;
    cio__waiter w;
    cio__waiter_init(&w, CIO__WAIT_BARRIER, b, unlink_barrier_waiter);
    return cio__waitq_park(&b->waiters, &w);
}
