/* SPDX-License-Identifier: MIT */
/* sem.c — cio_sem, asyncio.Semaphore and BoundedSemaphore: a counter of
 * permits that tasks take and give back.
 *
 * Owns the count and the FIFO of waiters. Release hands its permit straight
 * to the first waiter instead of raising the count, so the count is zero
 * whenever tasks wait, waiters are served in arrival order, and a waiter
 * that was cancelled or timed out first never receives (and so never
 * swallows) a permit: it has already left the queue.
 */
#include "internal.h"

#include <limits.h>

#include "sync/waitq.h"

#define SEM_MAGIC CIO__MAGIC('s', 'e', 'm', 'a')

struct cio_sem {
    /* Permits free now; 0 whenever waiters is not empty. */
    unsigned value;
    /* Bounded semaphores: the start value, which releases may not exceed.
     * UINT_MAX for plain ones (no bound but the counter's range). */
    unsigned bound;
    /* Tasks parked in acquire (cio__waiter.node), FIFO. */
    cio__list waiters;
    /* SEM_MAGIC while live, CIO__MAGIC_FREED once freed (internal.h). */
    uint32_t magic;
};

static cio_sem *sem_make(unsigned value, unsigned bound)
{
    cio_sem *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    s->magic = SEM_MAGIC;
    s->value = value;
    s->bound = bound;
    cio__list_init(&s->waiters);
    return s;
}

cio_sem *cio_sem_new(unsigned value) { return sem_make(value, UINT_MAX); }

cio_sem *cio_sem_new_bounded(unsigned value) { return sem_make(value, value); }

void cio_sem_free(cio_sem *s)
{
    CIO__CHECK_LIVE(s, SEM_MAGIC, "cio_sem_free", "sem");
    if (!s)
        return;
    cio__waitq_check_unused(&s->waiters, "cio_sem_free");
    CIO__POISON(s);
    free(s);
}

bool cio_sem_locked(const cio_sem *s)
{
    CIO__CHECK_LIVE(s, SEM_MAGIC, "cio_sem_locked", "sem");
    return s && s->value == 0;
}

unsigned cio_sem_value(const cio_sem *s)
{
    CIO__CHECK_LIVE(s, SEM_MAGIC, "cio_sem_value", "sem");
    return s ? s->value : 0;
}

int cio_sem_acquire(cio_sem *s)
{
    CIO__CHECK_LIVE(s, SEM_MAGIC, "cio_sem_acquire", "sem");
    if (!s)
        return -EINVAL;
    int err = cio__checkpoint();
    if (err)
        return err;
    if (s->value > 0) {
        s->value--;
        return 0;
    }
    return cio__waitq_wait(&s->waiters, CIO__WAIT_SEM, s);
}

int cio_sem_release(cio_sem *s)
{
    CIO__CHECK_LIVE(s, SEM_MAGIC, "cio_sem_release", "sem");
    if (!s)
        return -EINVAL;
    if (cio__waitq_wake_one(&s->waiters, 0))
        return 0;
    if (s->value >= s->bound)
        return -EOVERFLOW;
    s->value++;
    return 0;
}
