/* SPDX-License-Identifier: MIT */
/* loop.c — cio_run and the loop iteration.
 *
 * Owns the loop's life (open, run main, shut down, close) and the order of
 * the steps in one iteration:
 *
 *     update time → run due timers → run what is ready (scheduler.c)
 *         → compute the poll timeout (none: check for a deadlock,
 *           deadlock.c) → poll the OS → run what other threads posted
 *
 * Each step is one named function below, so the iteration reads like the
 * diagram in docs/design.md.
 */
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "core/observe.h"
#include "core/overflow.h"
#include "core/deadlock.h"
#include "io/fdio.h"
#include "loop.h"
#include "observe/debug.h"
#include "observe/fanout.h"
#include "observe/trace.h"

const char *cio_backend_name(void)
{
    return cio__context_loop ? cio__context_loop->backend->name : NULL;
}

/* ------------------------------------------------------------ iteration */

static void update_time(cio_loop *loop) { loop->now_ns = cio__context_clock_ns(); }

/* What cio_run is waiting for has happened: main has returned (or the
 * tasks are deadlocked), or, while shutting down, every task has finished. */
static bool run_finished(const cio_loop *loop)
{
    if (loop->closing)
        return loop->pending_tasks == 0;
    return loop->main_task->state == CIO__TASK_DONE || loop->deadlocked;
}

/* How long the OS may keep the loop waiting: not at all if something is
 * ready or the run is over, until the next timer if there is one, else
 * without limit. */
static int64_t poll_timeout(const cio_loop *loop)
{
    if (cio__sched_has_ready() || run_finished(loop))
        return 0;
    int64_t next = cio__callback_next_deadline();
    if (next == INT64_MAX)
        return -1;
    int64_t now = cio__context_clock_ns();
    return next > now ? next - now : 0;
}

/* Asks the OS. A poll that may block is the loop's idle time: timed with
 * two reads of the clock, negligible beside the system call. */
static void poll_os(cio_loop *loop, int64_t timeout_ns)
{
    CIO__OBSERVE(loop, poll_begin, timeout_ns);
    int64_t start = timeout_ns != 0 ? cio__context_clock_ns() : 0;
    int n = loop->backend->poll(loop, timeout_ns);
    if (n < 0)
        CIO__PANIC("%s backend failed to poll: %s", loop->backend->name, cio_strerror(n));
    if (timeout_ns != 0)
        loop->counters.idle_ns += cio__context_clock_ns() - start;
    loop->counters.polls++;
    loop->counters.fds_reported += (uint64_t)n;
    CIO__OBSERVE(loop, poll_end, n);
}

static void loop_iteration(cio_loop *loop)
{
    loop->counters.iterations++;
    CIO__OBSERVE(loop, loop_iteration);
    update_time(loop);
    cio__callback_run_due_timers();
    cio__sched_run_ready();
    int64_t timeout = poll_timeout(loop);
    /* Blocking without a timeout is safe only if something can end it. */
    if (timeout < 0 && cio__deadlock_found(loop))
        return;
    /* With work ready and no task waiting on a descriptor, the OS has
     * nothing to tell: skip the system call (what other threads post is
     * picked up below without it). */
    if (timeout != 0 || loop->fd_waiters)
        poll_os(loop, timeout);
    cio__callback_run_posted();
}

/* ----------------------------------------------------------- life cycle */

/* The observers the environment asks for: debug mode (CIO_DEBUG) and the
 * trace (CIO_TRACE), each added to the loop's fan-out. The loop's start
 * time is taken between the two: after debug mode's start-up (which loads
 * the unwinder), so that the trace begins near 0 ms. */
static void observers_open(cio_loop *loop)
{
    const char *direct = getenv("CIO_TRACE_DIRECT");
    loop->observe_direct = direct && strcmp(direct, "1") == 0;
    cio__debug_open(loop);
    loop->counters.started_ns = cio__context_clock_ns();
    cio__trace_open(loop);
}

/* Before the tasks are freed: debug mode lists those never awaited. The
 * application's observers go with the fan-out. */
static void observers_close(cio_loop *loop)
{
    cio__debug_close(loop);
    cio__trace_close(loop);
    cio__fanout_close(loop);
}

static int loop_open(cio_loop *loop)
{
    cio__stack_pool_init(&loop->stacks);
    cio__task_init(loop);
    cio__fd_table_init(&loop->fds);
    int err = cio__callback_init(loop);
    if (err)
        return err;
    err = cio__backend_open(loop);
    if (err)
        goto fail_callbacks;
    err = loop->backend->watch(loop, loop->posted.wake_fd, 0, CIO__EV_READ);
    if (err)
        goto fail_backend;
#if CIO__ASAN
    pthread_attr_t attr;
    pthread_getattr_np(pthread_self(), &attr);
    void *addr;
    size_t size;
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    loop->ctx.stack_bottom = addr;
    loop->ctx.stack_size = size;
#endif
#if CIO__TSAN
    loop->ctx.tsan_fiber = __tsan_get_current_fiber();
#endif
    observers_open(loop);
    return 0;

fail_backend:
    loop->backend->close(loop);
fail_callbacks:
    cio__callback_fini(loop);
    return err;
}

static void loop_close(cio_loop *loop)
{
    cio__context_addons_close(loop);
    observers_close(loop);
    cio__task_blocks_free(loop);
    loop->backend->close(loop);
    cio__callback_fini(loop);
    cio__fd_table_fini(&loop->fds);
    cio__stack_pool_fini(&loop->stacks);
}

/* asyncio.run's ending: cancel what is left and let it finish. Tasks in
 * uncancellable waits (a thread-pool job) are waited for. After a deadlock
 * this is also how the stuck tasks are unwound: each wait returns
 * -ECANCELED and the task may clean up. */
static void shut_down(cio_loop *loop)
{
    loop->closing = true;
    cio__task_cancel_all(loop);
    while (!run_finished(loop))
        loop_iteration(loop);
}

int cio_run(cio_fn main_fn, void *arg)
{
    if (cio__context_loop)
        return -EBUSY;
    if (!main_fn)
        return -EINVAL;
    cio_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return -ENOMEM;
    cio__context_loop = loop;
    int err = loop_open(loop);
    if (err) {
        cio__context_loop = NULL;
        free(loop);
        return err;
    }
    /* A write to a closed pipe raises SIGPIPE on the writing thread; held
     * blocked here, fdio.c takes it back off the pending set. One pending
     * before the loop is the application's, and stays. */
    sigset_t pipe_set, old_mask, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
    sigpending(&pending);
    bool pipe_was_pending = sigismember(&pending, SIGPIPE) == 1;
    cio__overflow_guard_begin();

    int result;
    cio_task *main_task = cio_create_task_opts(main_fn, arg, &(cio_task_opts){.name = "main"});
    if (!main_task) {
        result = -errno;
    } else {
        loop->main_task = main_task;
        while (!run_finished(loop))
            loop_iteration(loop);
        result = loop->deadlocked ? -EDEADLK : main_task->result;
        shut_down(loop);
    }

    cio__overflow_guard_end();
    /* Code in a task that calls write(2) itself (a third-party library)
     * raises SIGPIPE too, and nothing took it back: unblocked with the
     * old mask, it would kill the process as cio_run returns. */
    if (!pipe_was_pending)
        cio__fdio_consume_sigpipe();
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    loop_close(loop);
    cio__context_loop = NULL;
    free(loop);
    return result;
}

int cio_loop_stats_get(cio_loop *loop, cio_loop_stats *out)
{
    if (!loop || !out)
        return -EINVAL;
    if (loop != cio__context_loop)
        return -EPERM;
    const cio__loop_counters *c = &loop->counters;
    int64_t elapsed = cio__context_clock_ns() - c->started_ns;
    *out = (cio_loop_stats){
        .iterations = c->iterations,
        .switches = c->runs - c->callbacks - c->unstarted,
        .callbacks = c->callbacks + c->timers,
        .tasks_created = loop->next_task_id,
        .tasks_finished = loop->next_done_seq,
        .tasks_live = loop->live_tasks,
        .polls = c->polls,
        .fds_reported = c->fds_reported,
        .elapsed_ns = elapsed,
        .busy_ns = elapsed - c->idle_ns,
        .idle_ns = c->idle_ns,
    };
    return 0;
}
