/* SPDX-License-Identifier: MIT */
/* observe.h — every event the runtime emits, and how the core emits it.
 *
 * The table of hooks is cio.h's cio_observer: the loop holds one
 * (loop->observer, NULL when nothing observes), and each event site is
 * CIO__OBSERVE(loop, event, args...): one test of that pointer, predicted
 * false, and an out-of-line cold call when it is set. The core names no
 * observer: the trace, the JSON timeline, debug mode and the application's
 * observers all sit behind one fan-out (observe/fanout.c), which is what
 * loop->observer points to.
 *
 * Where each event comes from:
 *   loop_iteration      loop.c, loop_iteration
 *   task_created        core/task.c, cio_create_task_opts
 *   task_started,
 *   task_resumed        core/scheduler.c, where the loop (or, with
 *                       CIO_TRACE_DIRECT, a suspending task) switches to it
 *   task_suspended,
 *   task_finished       core/scheduler.c, switch_away
 *   task_never_ran      core/scheduler.c, task_finish_unstarted
 *   task_woken          core/scheduler.c, cio__sched_wake (before the waiter is
 *                       cleared: an observer may still read what it was)
 *   poll_begin/end      loop.c, poll_os
 *   fd_reported         io/fd.c, cio__fd_ready (every readiness backend)
 *   timer_fired         core/callback.c, cio__callback_run_due_timers
 */
#ifndef CIO_CORE_OBSERVE_H
#define CIO_CORE_OBSERVE_H

#include "internal.h"

struct cio_loop;
struct cio__waiter;

/* Runs `event`'s hook, with the arguments after it, only while `loop` is
 * observed. */
#define CIO__OBSERVE(loop, event, ...)                                                             \
    do {                                                                                           \
        if (CIO__UNLIKELY((loop)->observer != NULL))                                               \
            cio__observe_##event((loop), ##__VA_ARGS__);                                           \
    } while (0)

#define CIO__OBSERVE_HOOK __attribute__((cold, noinline))

/* One per event of cio_observer; each calls the hook if the table has it. */
CIO__OBSERVE_HOOK void cio__observe_loop_iteration(struct cio_loop *loop);
CIO__OBSERVE_HOOK void cio__observe_task_created(struct cio_loop *loop, cio_task *t,
                                                 cio_task *creator);
CIO__OBSERVE_HOOK void cio__observe_task_never_ran(struct cio_loop *loop, cio_task *t, int result);
/* The CPU goes from `from` (NULL: the loop) to `to` (NULL: the loop);
 * from_dies: from has finished; to_fresh: to runs for the first time.
 * Emits from's task_finished or task_suspended, then to's task_started or
 * task_resumed. */
CIO__OBSERVE_HOOK void cio__observe_switch(struct cio_loop *loop, cio_task *from, bool from_dies,
                                           cio_task *to, bool to_fresh);
CIO__OBSERVE_HOOK void cio__observe_task_woken(struct cio_loop *loop, struct cio__waiter *w,
                                               int result);
CIO__OBSERVE_HOOK void cio__observe_poll_begin(struct cio_loop *loop, int64_t timeout_ns);
CIO__OBSERVE_HOOK void cio__observe_poll_end(struct cio_loop *loop, int nready);
CIO__OBSERVE_HOOK void cio__observe_fd_reported(struct cio_loop *loop, int fd, unsigned events);
CIO__OBSERVE_HOOK void cio__observe_timer_fired(struct cio_loop *loop, int64_t deadline_ns);

/* Installs `ops` (NULL: none) as the loop's observer, with `arg`. The core
 * decides what being observed changes: tasks of an observed loop get the
 * run kind that keeps every switch on the loop's path (unless
 * loop->observe_direct), and record their creator; tasks that exist when
 * the observer comes or goes are relabelled, and their creators
 * forgotten. Called by observe/fanout.c. */
void cio__observe_install(struct cio_loop *loop, const cio_observer *ops, void *arg);

#endif
