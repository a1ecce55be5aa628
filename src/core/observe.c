/* SPDX-License-Identifier: MIT */
/* observe.c — the core's side of the observer table: the out-of-line
 * hooks behind CIO__OBSERVE, and what being observed changes for tasks.
 *
 * Owns loop->observer, observer_arg and the observed run kind; calls the
 * table, never a particular observer (those are observe/'s).
 */
#include "internal.h"

#include "core/observe.h"
#include "loop.h"

#define CALL(loop, hook, ...)                                                                      \
    do {                                                                                           \
        const cio_observer *o_ = (loop)->observer;                                                 \
        if (o_->hook)                                                                              \
            o_->hook((loop)->observer_arg, __VA_ARGS__);                                           \
    } while (0)

void cio__observe_loop_iteration(cio_loop *loop)
{
    const cio_observer *o = loop->observer;
    if (o->loop_iteration)
        o->loop_iteration(loop->observer_arg);
}

void cio__observe_task_created(cio_loop *loop, cio_task *t, cio_task *creator)
{
    /* The core's own bookkeeping of an observed loop first: the run kind
     * that keeps the task's switches on the loop's path, and its creator
     * (for cio_dump_tasks' tree; in the task struct's padding). */
    t->run.kind = loop->observe_direct ? CIO__RUN_TASK_OBSERVED_DIRECT : CIO__RUN_TASK_OBSERVED;
    t->creator = creator ? (uint32_t)creator->id : 0;
    CALL(loop, task_created, t, creator);
}

void cio__observe_task_never_ran(cio_loop *loop, cio_task *t, int result)
{
    CALL(loop, task_never_ran, t, result);
}

void cio__observe_switch(cio_loop *loop, cio_task *from, bool from_dies, cio_task *to,
                         bool to_fresh)
{
    if (from && from_dies) {
        CALL(loop, task_finished, from, from->result);
    } else if (from) {
        const cio__waiter *w = from->live->waiter;
        CALL(loop, task_suspended, from, cio__sched_wait_kind_name(w ? w->kind : CIO__WAIT_YIELD));
    }
    /* The observer may have gone in the hook above. */
    if (!to || !loop->observer)
        return;
    if (to_fresh)
        CALL(loop, task_started, to);
    else
        CALL(loop, task_resumed, to);
}

void cio__observe_task_woken(cio_loop *loop, cio__waiter *w, int result)
{
    CALL(loop, task_woken, w->task, loop->current, result);
}

void cio__observe_poll_begin(cio_loop *loop, int64_t timeout_ns)
{
    CALL(loop, poll_begin, timeout_ns < 0 ? -1.0 : (double)timeout_ns / 1e9);
}

void cio__observe_poll_end(cio_loop *loop, int nready) { CALL(loop, poll_end, nready); }

void cio__observe_fd_reported(cio_loop *loop, int fd, unsigned events)
{
    CALL(loop, fd_reported, fd, events);
}

void cio__observe_timer_fired(cio_loop *loop, int64_t deadline_ns)
{
    CALL(loop, timer_fired, (double)deadline_ns / 1e9);
}

static void relabel(cio_task *t, void *arg)
{
    cio_loop *loop = arg;
    t->run.kind = !loop->observer        ? CIO__RUN_TASK
                  : loop->observe_direct ? CIO__RUN_TASK_OBSERVED_DIRECT
                                         : CIO__RUN_TASK_OBSERVED;
    /* Creators are recorded only while observed: one from before would be
     * stale (the struct may have been reused). */
    t->creator = 0;
}

void cio__observe_install(cio_loop *loop, const cio_observer *ops, void *arg)
{
    bool was = loop->observer != NULL;
    loop->observer = ops;
    loop->observer_arg = arg;
    if (was != (ops != NULL))
        cio__task_for_each(loop, relabel, loop);
}
