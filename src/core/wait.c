/* SPDX-License-Identifier: MIT */
/* wait.c — waiting for several tasks: cio_gather and cio_wait_any.
 *
 * Built on task.c's awaiter link; owns only the bookkeeping of many tasks at
 * once (completion order, one waiter registered with several tasks).
 */
#include "internal.h"

#include <math.h>

#include "loop.h"

int cio_gather(cio_task **tasks, size_t n, int *results)
{
    if (!tasks && n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int err = cio__task_check_awaitable(tasks[i], "cio_gather");
        if (err)
            return err;
    }
    if (!cio_current_task())
        return -EPERM;

    int interrupted = 0;
    for (size_t i = 0; i < n && !interrupted; i++)
        interrupted = cio__task_wait_done(tasks[i], true);
    if (interrupted) {
        /* The caller was cancelled or timed out: so are all of them, and
         * none is released before it has really finished. */
        for (size_t i = 0; i < n; i++)
            cio_cancel(tasks[i]);
        for (size_t i = 0; i < n; i++)
            cio__task_wait_done(tasks[i], false);
    }

    int first_error = 0;
    uint64_t first_seq = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        cio_task *t = tasks[i];
        if (results)
            results[i] = t->result;
        if (t->result < 0 && t->done_seq < first_seq) {
            first_seq = t->done_seq;
            first_error = t->result;
        }
        cio__task_free(t);
    }
    return interrupted ? interrupted : first_error;
}

static int first_done(cio_task **tasks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state == CIO__TASK_DONE)
            return (int)i;
    }
    return -1;
}

int cio_wait_any(cio_task **tasks, size_t n, double timeout)
{
    if (!tasks || n == 0 || n > INT32_MAX || isnan(timeout))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int err = cio__task_check_awaitable(tasks[i], "cio_wait_any");
        if (err)
            return err;
    }
    int index = first_done(tasks, n);
    if (index >= 0)
        return index;

    cio_timeout tm;
    if (timeout >= 0)
        cio_timeout_enter(&tm, timeout);
    cio__waiter w;
    /* No unlink hook: the waiter is taken off every task below, however
     * the wait ends. */
    cio__waiter_init(&w, CIO__WAIT_TASK, tasks[0], NULL);
    for (size_t i = 0; i < n; i++)
        tasks[i]->awaiter = &w;
    int err = cio__sched_wait(&w);
    /* Whichever task woke us cleared its own link; clear the others. */
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->awaiter == &w)
            tasks[i]->awaiter = NULL;
    }
    if (timeout >= 0)
        cio_timeout_exit(&tm);
    index = first_done(tasks, n);
    return index >= 0 ? index : err;
}
