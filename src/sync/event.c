/* SPDX-License-Identifier: MIT */
/* event.c — cio_event, asyncio.Event: a flag that tasks wait to see set.
 *
 * Owns the flag and its waiters. Setting wakes every waiter at once (FIFO
 * order); a waiter woken by cio_event_set returns 0 even if the event is
 * cleared again before it runs, as asyncio's does.
 */
#include "internal.h"

#include "sync/waitq.h"

#define EVENT_MAGIC CIO__MAGIC('e', 'v', 'n', 't')

struct cio_event {
    /* cio_event_set was called, and cio_event_clear not since. */
    bool set;
    /* Tasks parked in cio_event_wait (cio__waiter.node), FIFO. */
    cio__list waiters;
    /* EVENT_MAGIC while live, CIO__MAGIC_FREED once freed (internal.h). */
    uint32_t magic;
};

cio_event *cio_event_new(void)
{
    cio_event *e = malloc(sizeof *e);
    if (!e)
        return NULL;
    e->magic = EVENT_MAGIC;
    e->set = false;
    cio__list_init(&e->waiters);
    return e;
}

void cio_event_free(cio_event *e)
{
    CIO__CHECK_LIVE(e, EVENT_MAGIC, "cio_event_free", "event");
    if (!e)
        return;
    cio__waitq_check_unused(&e->waiters, "cio_event_free");
    CIO__POISON(e);
    free(e);
}

void cio_event_set(cio_event *e)
{
    CIO__CHECK_LIVE(e, EVENT_MAGIC, "cio_event_set", "event");
    if (!e)
        return;
    e->set = true;
    cio__waitq_wake_all(&e->waiters, 0);
}

void cio_event_clear(cio_event *e)
{
    CIO__CHECK_LIVE(e, EVENT_MAGIC, "cio_event_clear", "event");
    if (e)
        e->set = false;
}

bool cio_event_is_set(const cio_event *e)
{
    CIO__CHECK_LIVE(e, EVENT_MAGIC, "cio_event_is_set", "event");
    return e && e->set;
}

int cio_event_wait(cio_event *e)
{
    CIO__CHECK_LIVE(e, EVENT_MAGIC, "cio_event_wait", "event");
    if (!e)
        return -EINVAL;
    int err = cio__checkpoint();
    if (err || e->set)
        return err;
    return cio__waitq_wait(&e->waiters, CIO__WAIT_EVENT, e);
}
