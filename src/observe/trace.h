/* trace.h — the hooks through which the loop shows what it does: the
 * narrated trace and the Chrome trace-event JSON (CIO_TRACE, trace.c) and
 * debug mode (CIO_DEBUG, debug.c).
 *
 * Cheap when off: every hook site tests one flag of the loop
 * (loop->traced), predicted false — one compare with memory and a branch —
 * and calls an out-of-line cold function only when it is set, while the
 * loop runs with CIO_TRACE or CIO_DEBUG. A task's life costs four tests:
 * created, started (a switch), woken, finished (a switch).
 */
#ifndef CIO_TRACE_H
#define CIO_TRACE_H

#include "internal.h"
#include "core/scheduler.h"

struct cio_loop;
struct cio__fd_state;

/* `call` runs only while `loop` traces or debugs. */
#define CIO__TRACE(loop, call)                                                                     \
    do {                                                                                           \
        if (CIO__UNLIKELY((loop)->traced))                                                         \
            call;                                                                                  \
    } while (0)

#define CIO__TRACE_HOOK __attribute__((cold, noinline))

/* Called unconditionally (once per run): reads CIO_TRACE and CIO_DEBUG
 * when the loop opens, and ends both when it closes (before its tasks are
 * freed: the never-awaited list reads them). */
void cio__trace_loop_open(struct cio_loop *loop);
void cio__trace_loop_close(struct cio_loop *loop);

/* Hooks, through CIO__TRACE. */
CIO__TRACE_HOOK void cio__trace_iteration(struct cio_loop *loop);
CIO__TRACE_HOOK void cio__trace_task_created(cio_task *t);
/* t finishes with `result` without ever having run (cancelled first, or
 * no stack could be had). */
CIO__TRACE_HOOK void cio__trace_task_unstarted(cio_task *t, int result);
/* The CPU goes from `from` (NULL: the loop) to `to` (NULL: the loop);
 * `from_dies`: from has finished and never runs again. Also where a task's
 * first run and its end are seen (one hook for a task's whole run). */
CIO__TRACE_HOOK void cio__trace_switch(struct cio_loop *loop, cio_task *from, cio_task *to,
                                       bool from_dies);
/* w's task is made ready with `result` by the running task, or the loop. */
CIO__TRACE_HOOK void cio__trace_wake(cio__waiter *w, int result);
CIO__TRACE_HOOK void cio__trace_poll_begin(struct cio_loop *loop, int64_t timeout_ns);
CIO__TRACE_HOOK void cio__trace_poll_end(struct cio_loop *loop, int n);
/* The backend reported fd ready for `events` (CIO__EV_*); st is its state,
 * before its waiters are woken. */
CIO__TRACE_HOOK void cio__trace_fd_ready(struct cio_loop *loop, int fd, unsigned events,
                                         struct cio__fd_state *st);

/* "task-N" or the task's name, without allocating one (the trace must not
 * add a string per task). */
const char *cio__trace_task_label(const cio_task *t, char buf[32]);

#endif
