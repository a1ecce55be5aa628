/* SPDX-License-Identifier: MIT */
/* cond.c — cio_cond, asyncio.Condition: tasks wait, holding a lock, for
 * another task to notify them.
 *
 * Owns the FIFO of waiters and the order of a wait: release the lock, park,
 * take the lock back. Notify hands each notification to one waiter; a
 * waiter cancelled or timed out before that has left the queue and takes
 * none, and one that was notified keeps the notification even if it is
 * cancelled before it runs, so a notification is never lost (asyncio 3.13
 * re-notifies for the same reason). The lock is lock.c's.
 */
#include "internal.h"

#include "sync/lock.h"
#include "sync/waitq.h"

#define COND_MAGIC CIO__MAGIC('c', 'o', 'n', 'd')

struct cio_cond {
    /* The lock a waiter must hold; the caller's, not freed with the
     * condition. */
    cio_lock *lock;
    /* Tasks parked in cio_cond_wait (cio__waiter.node), FIFO. */
    cio__list waiters;
    /* COND_MAGIC while live, CIO__MAGIC_FREED once freed (internal.h). */
    uint32_t magic;
};

cio_cond *cio_cond_new(cio_lock *l)
{
    if (!l) {
        errno = EINVAL;
        return NULL;
    }
    cio_cond *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    c->magic = COND_MAGIC;
    c->lock = l;
    cio__list_init(&c->waiters);
    return c;
}

void cio_cond_free(cio_cond *c)
{
    CIO__CHECK_LIVE(c, COND_MAGIC, "cio_cond_free", "cond");
    if (!c)
        return;
    cio__waitq_check_unused(&c->waiters, "cio_cond_free");
    CIO__POISON(c);
    free(c);
}

int cio_cond_wait(cio_cond *c)
{
    CIO__CHECK_LIVE(c, COND_MAGIC, "cio_cond_wait", "cond");
    if (!c)
        return -EINVAL;
    /* Already cancelled or timed out: return with the lock still held,
     * rather than give it up and queue for it again. */
    int err = cio__checkpoint();
    if (err)
        return err;
    if (!cio_lock_locked(c->lock))
        return -EPERM;
    cio_lock_release(c->lock);
    err = cio__waitq_wait(&c->waiters, CIO__WAIT_COND, c);
    /* Whatever ended the wait, the caller must hold the lock again when
     * this returns (asyncio retries the acquire through cancellations). */
    cio__lock_acquire_uncancellable(c->lock);
    return err;
}

void cio_cond_notify(cio_cond *c, size_t n)
{
    CIO__CHECK_LIVE(c, COND_MAGIC, "cio_cond_notify", "cond");
    if (!c)
        return;
    while (n > 0 && cio__waitq_wake_one(&c->waiters, 0))
        n--;
}

void cio_cond_notify_all(cio_cond *c)
{
    CIO__CHECK_LIVE(c, COND_MAGIC, "cio_cond_notify_all", "cond");
    if (c)
        cio__waitq_wake_all(&c->waiters, 0);
}
