/* SPDX-License-Identifier: MIT */
/* deadlock.c — Go's "all goroutines are asleep": finding that no task can
 * ever be woken, saying who waits on what, and the promise other threads
 * give with cio_loop_ref.
 *
 * Owns the decision and the report; the loop (loop.c) asks just before it
 * would block in the OS without a timeout, and ends the run. What counts as
 * a wake source is the wait's kind, counted by cio__sched_wait (loop.h,
 * wake_sources).
 */
#include "internal.h"

#include "core/deadlock.h"
#include "loop.h"
#include "text.h"

int cio_loop_ref(cio_loop *loop)
{
    if (!loop)
        return -EINVAL;
    atomic_fetch_add(&loop->refs, 1);
    return 0;
}

int cio_loop_unref(cio_loop *loop)
{
    if (!loop)
        return -EINVAL;
    long old = atomic_load(&loop->refs);
    do {
        if (old <= 0)
            return -EINVAL;
    } while (!atomic_compare_exchange_weak(&loop->refs, &old, old - 1));
    return 0;
}

/* Something outside the tasks may still make one ready. The refs are read
 * before the posted queue: a thread posts before it unrefs, so a loop that
 * sees the count at zero also sees that thread's post. */
static bool can_be_woken(cio_loop *loop)
{
    if (loop->wake_sources || atomic_load(&loop->refs) > 0)
        return true;
    pthread_mutex_lock(&loop->posted.lock);
    bool posted = loop->posted.head != NULL;
    pthread_mutex_unlock(&loop->posted.lock);
    return posted;
}

/* One waiting task of the report: its label and what it waits on, in the
 * words of the trace and the task dump (cio__sched_put_wait). */
static void report_task(cio_task *t, void *arg)
{
    cio_loop *loop = arg;
    if (t->state == CIO__TASK_DONE)
        return;
    char label[32], buf[224];
    cio__text s = cio__text_on(buf, sizeof buf);
    cio__text_str(&s, "cio:   '");
    cio__text_str(&s, cio__task_label(t, label));
    cio__waiter *w = t->state == CIO__TASK_RUNNING ? t->live->waiter : NULL;
    if (!w) {
        cio__text_str(&s, "' is not parked (ready or running)");
    } else {
        cio__text_str(&s, "' waits for ");
        cio__sched_put_wait(&s, w, loop->counters.started_ns);
        if (!w->cancellable)
            cio__text_str(&s, ", uncancellably");
    }
    fprintf(stderr, "%s\n", cio__text_end(&s));
}

bool cio__deadlock_found(cio_loop *loop)
{
    if (can_be_woken(loop))
        return false;
    fprintf(stderr,
            "cio: deadlock: %zu task(s) wait and nothing can wake them (no ready task, timer, "
            "descriptor wait, thread-pool job, posted callback or cio_loop_ref):\n",
            loop->pending_tasks);
    cio__task_for_each(loop, report_task, loop);
    /* Shutting down already cancelled every task: these ones wait in a
     * shield or uncancellably, and nothing else can end it. */
    if (loop->closing)
        CIO__PANIC("deadlock while cio_run shuts down: the tasks above still wait after "
                   "being cancelled (in a shield, or uncancellably)");
    loop->deadlocked = true;
    return true;
}
