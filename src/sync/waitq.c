/* SPDX-License-Identifier: MIT */
/* waitq.c — FIFO wait queues shared by the synchronisation objects: park
 * at the tail, wake from the head, refuse to free an object still waited
 * on. What each object hands over on a wake-up is that object's file.
 */
#include "internal.h"

#include "loop.h"
#include "sync/waitq.h"

void cio__waitq_unlink(cio__waiter *w) { cio__list_remove(&w->node); }

int cio__waitq_park(cio__list *q, cio__waiter *w)
{
    cio__list_push_back(q, &w->node);
    return cio__sched_wait(w);
}

int cio__waitq_wait(cio__list *q, cio__wait_kind kind, void *object)
{
    cio__waiter w;
    cio__waiter_init(&w, kind, object, cio__waitq_unlink);
    return cio__waitq_park(q, &w);
}

bool cio__waitq_wake_one(cio__list *q, int result)
{
    cio__waiter *w = cio__waitq_pop(q);
    if (!w)
        return false;
    cio__sched_wake(w, result);
    return true;
}

void cio__waitq_wake_all(cio__list *q, int result)
{
    while (cio__waitq_wake_one(q, result))
        ;
}

void cio__waitq_check_unused(const cio__list *q, const char *fn)
{
    if (CIO__LIKELY(cio__list_empty(q)))
        return;
    size_t n = 0;
    for (const cio__list *node = q->next; node != q; node = node->next)
        n++;
    const cio__waiter *first = CIO__CONTAINER_OF(q->next, cio__waiter, node);
    CIO__PANIC("%s: %zu task(s) still wait on %s %p (the first: '%s'); wake or cancel them "
               "before freeing it",
               fn, n, cio__sched_wait_kind_name(first->kind), first->object,
               cio_task_name(first->task));
}
