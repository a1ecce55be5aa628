/* SPDX-License-Identifier: MIT */
/* future.c — cio_future, asyncio.Future with an int result: completed
 * once (a result, or cancelled), awaited by any number of tasks.
 *
 * Owns the state and the awaiters. Completion wakes every awaiter with the
 * result (-ECANCELED for a cancelled future). It may come from a task, a
 * callback, or another thread through cio_call_soon_threadsafe (a future is
 * not itself thread-safe: complete it on its loop's thread).
 */
#include "internal.h"

#include "sync/waitq.h"

#define FUTURE_MAGIC CIO__MAGIC('f', 'u', 't', 'r')

struct cio_future {
    /* Set by cio_future_set_result or cio_future_cancel; final. */
    bool done;
    /* The result once done: the value set, or -ECANCELED. */
    int result;
    /* Tasks parked in cio_future_await (cio__waiter.node), FIFO. */
    cio__list awaiters;
    /* FUTURE_MAGIC while live, CIO__MAGIC_FREED once freed (internal.h). */
    uint32_t magic;
};

cio_future *cio_future_new(void)
{
    cio_future *f = malloc(sizeof *f);
    if (!f)
        return NULL;
    f->magic = FUTURE_MAGIC;
    f->done = false;
    f->result = 0;
    cio__list_init(&f->awaiters);
    return f;
}

void cio_future_free(cio_future *f)
{
    CIO__CHECK_LIVE(f, FUTURE_MAGIC, "cio_future_free", "future");
    if (!f)
        return;
    cio__waitq_check_unused(&f->awaiters, "cio_future_free");
    CIO__POISON(f);
    free(f);
}

static int future_complete(cio_future *f, int result)
{
    if (!f)
        return -EINVAL;
    if (f->done)
        return -EALREADY;
    f->done = true;
    f->result = result;
    cio__waitq_wake_all(&f->awaiters, result);
    return 0;
}

int cio_future_set_result(cio_future *f, int result)
{
    CIO__CHECK_LIVE(f, FUTURE_MAGIC, "cio_future_set_result", "future");
    return future_complete(f, result);
}

int cio_future_cancel(cio_future *f)
{
    CIO__CHECK_LIVE(f, FUTURE_MAGIC, "cio_future_cancel", "future");
    return future_complete(f, -ECANCELED);
}

bool cio_future_done(const cio_future *f)
{
    CIO__CHECK_LIVE(f, FUTURE_MAGIC, "cio_future_done", "future");
    return f && f->done;
}

int cio_future_await(cio_future *f)
{
    CIO__CHECK_LIVE(f, FUTURE_MAGIC, "cio_future_await", "future");
    if (!f)
        return -EINVAL;
    int err = cio__checkpoint();
    if (err)
        return err;
    if (f->done)
        return f->result;
    return cio__waitq_wait(&f->awaiters, CIO__WAIT_FUTURE, f);
}
