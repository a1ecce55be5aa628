/* SPDX-License-Identifier: MIT */
/* lock.c — cio_lock, asyncio.Lock: mutual exclusion between tasks.
 *
 * Owns the lock's state and its FIFO of waiters. Release hands the lock
 * straight to the first waiter (it stays locked), so the order of
 * acquisition is the order of arrival and a newcomer can never barge in
 * between. A waiter cancelled or timed out before the hand-off has left
 * the queue and holds nothing; one handed the lock holds it and its
 * acquire returns 0 (the cancellation shows at its next suspending call).
 * Like asyncio's, a lock has no owner: any task may release it.
 */
#include "internal.h"

#include "sync/lock.h"
#include "sync/waitq.h"

#define LOCK_MAGIC CIO__MAGIC('l', 'o', 'c', 'k')

struct cio_lock {
    /* Held by some task (or handed to a woken waiter that has not run yet). */
    bool locked;
    /* Tasks parked in acquire (cio__waiter.node), FIFO; empty while
     * unlocked. */
    cio__list waiters;
    /* LOCK_MAGIC while live, CIO__MAGIC_FREED once freed (internal.h). */
    uint32_t magic;
};

cio_lock *cio_lock_new(void)
{
    cio_lock *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    l->magic = LOCK_MAGIC;
    l->locked = false;
    cio__list_init(&l->waiters);
    return l;
}

void cio_lock_free(cio_lock *l)
{
    CIO__CHECK_LIVE(l, LOCK_MAGIC, "cio_lock_free", "lock");
    if (!l)
        return;
    cio__waitq_check_unused(&l->waiters, "cio_lock_free");
    CIO__POISON(l);
    free(l);
}

bool cio_lock_locked(const cio_lock *l)
{
    CIO__CHECK_LIVE(l, LOCK_MAGIC, "cio_lock_locked", "lock");
    return l && l->locked;
}

int cio_lock_acquire(cio_lock *l)
{
    CIO__CHECK_LIVE(l, LOCK_MAGIC, "cio_lock_acquire", "lock");
    if (!l)
        return -EINVAL;
    int err = cio__checkpoint();
    if (err)
        return err;
    if (!l->locked) {
        l->locked = true;
        return 0;
    }
    return cio__waitq_wait(&l->waiters, CIO__WAIT_LOCK, l);
}

int cio__lock_acquire_uncancellable(cio_lock *l)
{
    if (!l->locked) {
        l->locked = true;
        return 0;
    }
    cio__waiter w;
    cio__waiter_init(&w, CIO__WAIT_LOCK, l, cio__waitq_unlink);
    w.cancellable = false;
    return cio__waitq_park(&l->waiters, &w);
}

int cio_lock_release(cio_lock *l)
{
    CIO__CHECK_LIVE(l, LOCK_MAGIC, "cio_lock_release", "lock");
    if (!l)
        return -EINVAL;
    if (!l->locked)
        return -EPERM;
    /* Hand-off: with a waiter the lock stays locked, now on its behalf. */
    if (!cio__waitq_wake_one(&l->waiters, 0))
        l->locked = false;
    return 0;
}
