/* SPDX-License-Identifier: MIT */
/* loop.h — the state of one event loop (one per thread running cio_run).
 *
 * Every field has one owner file, named beside it; others go through that
 * file's functions.
 */
#ifndef CIO_LOOP_H
#define CIO_LOOP_H

#include <pthread.h>
#include <stdatomic.h>

#include "context.h"
#include "io/backend.h"
#include "core/callback.h"
#include "io/fd.h"
#include "core/scheduler.h"
#include "core/stack.h"
#include "core/task.h"
#include "core/timer.h"

/* What cio_loop_stats_get reports, as the loop counts it (see cio.h for
 * each figure's meaning). */
typedef struct cio__loop_counters {
    /* loop.c: when the loop started (ns). */
    int64_t started_ns;
    /* loop.c */
    uint64_t iterations;
    uint64_t polls;
    uint64_t fds_reported;
    /* loop.c: time spent in polls that could block (timeout not 0). */
    int64_t idle_ns;
    /* scheduler.c: ready-queue entries run (tasks and callbacks), and the
     * tasks among them that finished before they could start. */
    uint64_t runs;
    uint64_t unstarted;
    /* callback.c: ready-queue callbacks (cancelled ones included: they
     * take a run) and timers run. */
    uint64_t callbacks;
    uint64_t timers;
} cio__loop_counters;

struct cio_loop {
    /* scheduler.c: the loop's own context (the thread's stack), switched to
     * when no task can be switched to directly. */
    cio__ctx ctx;
    /* scheduler.c: the running task, NULL while the loop itself runs. */
    cio_task *current;
    /* scheduler.c: the ready queue (FIFO) and the runs left before the OS
     * must be polled again. */
    cio__runnable *ready_head, *ready_tail;
    unsigned runs_budget;
    /* core/observe.c: the observers' table (observe/fanout.c's, NULL while
     * nothing observes the loop) and its argument: every event site tests
     * `observer` (here, beside what a switch reads anyway). */
    const cio_observer *observer;
    void *observer_arg;
    /* loop.c (CIO_TRACE_DIRECT): an observed loop keeps direct switches. */
    bool observe_direct;
    /* scheduler.c: a finished task whose stack must be released once execution
     * has left that stack. */
    cio_task *dead;
    /* task.c: tasks not yet freed, how many of them have not finished,
     * and id / completion counters. */
    size_t live_tasks;
    size_t pending_tasks;
    uint64_t next_task_id;
    uint64_t next_done_seq;
    /* task.c: freed task structs, oldest first (linked through run.next,
     * appended through task_free_tail), reused FIFO and only once more than
     * CIO__TASK_QUARANTINE of them wait, so that a released handle is caught
     * rather than naming a new task; the blocks they come from, and the
     * unused rest of the newest block. */
    cio__runnable *task_free_list;
    /* The link the next freed struct goes into: the last one's run.next,
     * or &task_free_list while the list is empty (cio__task_init). */
    cio__runnable **task_free_tail;
    size_t task_nfree;
    void **task_blocks;
    size_t ntask_blocks;
    cio_task *task_bump, *task_bump_end;
    /* stack.c */
    cio__stack_pool stacks;
    /* loop.c: the clock as of this iteration (ns, CLOCK_MONOTONIC). */
    int64_t now_ns;
    /* timer.c / callback.c: timers and callback records. */
    cio__timer_heap timers;
    cio__callbacks callbacks;
    /* callback.c: callbacks posted from other threads. */
    cio__posted_queue posted;
    /* backend.c: the OS poller chosen for this loop. */
    const cio__backend_ops *backend;
    void *backend_data;
    /* fd.c: per-descriptor state, indexed by fd; and how many tasks are
     * parked on descriptors or the kernel's operations (counted by
     * cio__sched_wait, from the wait's kind) plus fd.c's standing watches (none:
     * a loop with work ready need not ask the OS). */
    cio__fd_table fds;
    size_t fd_waiters;
    /* loop.c: the task running main_fn. */
    cio_task *main_task;
    /* loop.c: set once main has returned and the rest are being cancelled. */
    bool closing;
    /* deadlock.c reads, cio__sched_wait counts (scheduler.c, from the wait's
     * kind: CIO__COUNT_OS in CIO__WAIT_KINDS): tasks parked in waits that
     * something outside the task graph will end — a descriptor, an
     * operation in the kernel, a thread-pool job, a curl transfer. A new
     * kind of such wait says so in CIO__WAIT_KINDS, or cio_run will call
     * its tasks deadlocked. Timers need no count: the loop sees its timer
     * heap. Loop thread only. */
    size_t wake_sources;
    /* deadlock.c: cio_loop_ref minus cio_loop_unref, from any thread. While
     * above zero, another thread has promised to post to the loop. */
    atomic_long refs;
    /* deadlock.c: set when a deadlock was found; cio_run then returns
     * -EDEADLK. */
    bool deadlocked;
    /* context.c: optional modules' state, closed at loop close. */
    cio__loop_addon *addons;
    /* loop.c: counters behind cio_loop_stats_get, kept whether or not the
     * loop is traced (each costs an increment where the loop already
     * works, never one per switch). */
    cio__loop_counters counters;
    /* observe/: the observers behind loop->observer (fanout.c), the trace
     * (trace.c; NULL: CIO_TRACE unset) and debug mode's state (debug.c;
     * NULL: CIO_DEBUG unset). */
    struct cio__fanout *fanout;
    struct cio__trace *trace;
    struct cio__debug *debug;
};

/* cio__sched_checkpoint with its common case inline (a running task, not
 * cancelled, no deadline): every suspending call starts with it, and
 * hand-offs and yields are hot paths. */
static inline int cio__checkpoint(void)
{
    cio_loop *loop = cio__context_loop;
    cio_task *t = loop ? loop->current : NULL;
    if (CIO__LIKELY(t && !t->cancel_requested && t->live->deadline == INT64_MAX))
        return 0;
    return cio__sched_checkpoint();
}

/* Fills a cancellable waiter with no deadline of its own for the current
 * task (which the caller knows exists). Inline: every wait does it. */
static inline void cio__waiter_init(cio__waiter *w, cio__wait_kind kind, void *object,
                                    void (*unlink)(cio__waiter *))
{
    w->task = cio__context_loop->current;
    w->kind = kind;
    w->object = object;
    cio__list_init(&w->node);
    w->unlink = unlink;
    w->result = 0;
    w->cancellable = true;
    w->own_deadline = INT64_MAX;
    w->scope_deadline = INT64_MAX;
    w->timer = 0;
}

#endif
