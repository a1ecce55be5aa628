/* SPDX-License-Identifier: MIT */
/* fanout.c — the loop's observers: cio_observer_add / cio_observer_remove,
 * and the table that passes each event on to every one of them.
 *
 * Owns the list of (table, argument) pairs and installs its own table as
 * the loop's observer while the list is not empty (core/observe.c decides
 * what being observed changes). Observers may be added or removed from
 * inside a hook: a removal takes effect at once (a removed observer is
 * not called again, not even for the rest of the current event), an
 * addition from the next event; the list is compacted once no event is
 * being passed on.
 */
#include "internal.h"

#include "core/observe.h"
#include "loop.h"
#include "observe/fanout.h"

typedef struct fanout_entry {
    /* NULL once removed while an event was being passed on. */
    const cio_observer *ops;
    void *arg;
} fanout_entry;

typedef struct cio__fanout {
    fanout_entry *v;
    size_t n, cap;
    /* Events being passed on right now (a hook's cio_observer_add or
     * _remove, or an event emitted from inside a hook). */
    unsigned depth;
    /* Entries removed while depth > 0, to compact away. */
    bool holes;
} cio__fanout;

static const cio_observer fanout_ops;

static void compact(cio__fanout *f)
{
    size_t j = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->v[i].ops)
            f->v[j++] = f->v[i];
    f->n = j;
    f->holes = false;
}

/* The entries of the fan-out that is arg, one by one: the count is taken
 * once (an observer added meanwhile waits for the next event), the array
 * read afresh at every step (an addition may move it). */
#define FOR_EACH(f, hook, ...)                                                                     \
    do {                                                                                           \
        cio__fanout *f_ = (f);                                                                     \
        size_t n_ = f_->n;                                                                         \
        f_->depth++;                                                                               \
        for (size_t i_ = 0; i_ < n_; i_++) {                                                       \
            const cio_observer *o_ = f_->v[i_].ops;                                                \
            if (o_ && o_->hook)                                                                    \
                o_->hook(f_->v[i_].arg, ##__VA_ARGS__);                                            \
        }                                                                                          \
        if (--f_->depth == 0 && f_->holes)                                                         \
            compact(f_);                                                                           \
    } while (0)

static void fan_loop_iteration(void *arg) { FOR_EACH(arg, loop_iteration); }
static void fan_task_created(void *arg, cio_task *t, cio_task *creator)
{
    FOR_EACH(arg, task_created, t, creator);
}
static void fan_task_started(void *arg, cio_task *t) { FOR_EACH(arg, task_started, t); }
static void fan_task_suspended(void *arg, cio_task *t, const char *waits_on)
{
    FOR_EACH(arg, task_suspended, t, waits_on);
}
static void fan_task_woken(void *arg, cio_task *t, cio_task *waker, int result)
{
    FOR_EACH(arg, task_woken, t, waker, result);
}
static void fan_task_resumed(void *arg, cio_task *t) { FOR_EACH(arg, task_resumed, t); }
static void fan_task_finished(void *arg, cio_task *t, int result)
{
    FOR_EACH(arg, task_finished, t, result);
}
static void fan_task_never_ran(void *arg, cio_task *t, int result)
{
    FOR_EACH(arg, task_never_ran, t, result);
}
static void fan_poll_begin(void *arg, double timeout) { FOR_EACH(arg, poll_begin, timeout); }
static void fan_poll_end(void *arg, int nready) { FOR_EACH(arg, poll_end, nready); }
static void fan_fd_reported(void *arg, int fd, unsigned events)
{
    FOR_EACH(arg, fd_reported, fd, events);
}
static void fan_timer_fired(void *arg, double deadline) { FOR_EACH(arg, timer_fired, deadline); }

static const cio_observer fanout_ops = {
    .loop_iteration = fan_loop_iteration,
    .task_created = fan_task_created,
    .task_started = fan_task_started,
    .task_suspended = fan_task_suspended,
    .task_woken = fan_task_woken,
    .task_resumed = fan_task_resumed,
    .task_finished = fan_task_finished,
    .task_never_ran = fan_task_never_ran,
    .poll_begin = fan_poll_begin,
    .poll_end = fan_poll_end,
    .fd_reported = fan_fd_reported,
    .timer_fired = fan_timer_fired,
};

static ptrdiff_t find(const cio__fanout *f, const cio_observer *ops, void *arg)
{
    for (size_t i = 0; f && i < f->n; i++)
        if (f->v[i].ops == ops && f->v[i].arg == arg)
            return (ptrdiff_t)i;
    return -1;
}

int cio__fanout_add(cio_loop *loop, const cio_observer *ops, void *arg)
{
    cio__fanout *f = loop->fanout;
    if (find(f, ops, arg) >= 0)
        return -EINVAL;
    if (!f) {
        f = calloc(1, sizeof *f);
        if (!f)
            return -ENOMEM;
        loop->fanout = f;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        fanout_entry *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (fanout_entry){ops, arg};
    if (!loop->observer)
        cio__observe_install(loop, &fanout_ops, f);
    return 0;
}

int cio__fanout_remove(cio_loop *loop, const cio_observer *ops, void *arg)
{
    cio__fanout *f = loop->fanout;
    ptrdiff_t i = find(f, ops, arg);
    if (i < 0)
        return -ENOENT;
    f->v[i].ops = NULL;
    f->holes = true;
    if (f->depth == 0)
        compact(f);
    bool any = false;
    for (size_t j = 0; j < f->n; j++)
        any |= f->v[j].ops != NULL;
    if (!any)
        cio__observe_install(loop, NULL, NULL);
    return 0;
}

void cio__fanout_close(cio_loop *loop)
{
    cio__fanout *f = loop->fanout;
    if (!f)
        return;
    cio__observe_install(loop, NULL, NULL);
    loop->fanout = NULL;
    free(f->v);
    free(f);
}

int cio_observer_add(const cio_observer *ops, void *arg)
{
    if (!ops)
        return -EINVAL;
    if (!cio__context_loop)
        return -EPERM;
    return cio__fanout_add(cio__context_loop, ops, arg);
}

int cio_observer_remove(const cio_observer *ops, void *arg)
{
    if (!ops)
        return -EINVAL;
    if (!cio__context_loop)
        return -EPERM;
    return cio__fanout_remove(cio__context_loop, ops, arg);
}
