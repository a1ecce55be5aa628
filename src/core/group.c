/* SPDX-License-Identifier: MIT */
/* group.c — cio_taskgroup, asyncio.TaskGroup / Trio's nursery: a parent
 * task's set of children that it waits for, and that fail together.
 *
 * Owns the children's handles and the group's failure: the first child to
 * fail cancels its siblings and holds back the parent's own work (through
 * the scheduler's CIO__CANCEL_GROUP) until the parent reaches
 * cio_taskgroup_wait. A child's awaiter link (task.c) points at the
 * group's waiter, which is how a finishing child reaches
 * cio__group_child_done; cancelling is scheduler.c's.
 */
#include "internal.h"

#include "core/group.h"
#include "loop.h"

#define TASKGROUP_MAGIC CIO__MAGIC('g', 'r', 'u', 'p')

struct cio_taskgroup {
    /* The task that made the group and must wait for it. */
    cio_task *parent;
    /* Every child's awaiter (kind CIO__WAIT_GROUP); the parent parks in it
     * inside cio_taskgroup_wait until no child is running. */
    cio__waiter waiter;
    /* The children's handles, owned by the group, in creation order.
     * Finished ones stay until the array must grow (then half or more
     * of them are freed) or the group is waited. */
    cio_task **children;
    size_t nchildren, cap;
    /* Children that have not finished yet, and finished ones still in
     * the array. */
    size_t running, finished;
    /* The first failure: a negative result of a child that was not
     * cancelled. 0 while none. */
    int first_error;
    /* The children are being cancelled (a child failed, or the parent's
     * wait was interrupted): no new child may start. */
    bool aborting;
    /* The parent has reached cio_taskgroup_wait. */
    bool waiting;
    /* The failure holds back the parent's work (cio__sched_group_cancel)
     * and the parent has not yet reached the wait that lifts it. */
    bool holds_parent;
    /* TASKGROUP_MAGIC while live, CIO__MAGIC_FREED once freed (internal.h). */
    uint32_t magic;
};

cio_task *cio__group_parent(const cio_taskgroup *g) { return g->parent; }

cio_taskgroup *cio_taskgroup_new(void)
{
    cio_task *self = cio_current_task();
    if (!self) {
        errno = EPERM;
        return NULL;
    }
    cio_taskgroup *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->magic = TASKGROUP_MAGIC;
    g->parent = self;
    cio__waiter_init(&g->waiter, CIO__WAIT_GROUP, g, NULL);
    return g;
}

/* Cancels every running child; while the parent has not reached the wait,
 * its own work too. */
static void group_abort(cio_taskgroup *g)
{
    if (g->aborting)
        return;
    g->aborting = true;
    for (size_t i = 0; i < g->nchildren; i++) {
        if (!cio_task_done(g->children[i]))
            cio_cancel(g->children[i]);
    }
    if (!g->waiting) {
        g->holds_parent = true;
        cio__sched_group_cancel(g->parent);
    }
}

void cio__group_child_done(cio__waiter *group_waiter, cio_task *child)
{
    cio_taskgroup *g = group_waiter->object;
    g->running--;
    g->finished++;
    int r = child->result;
    /* A child that was cancelled (by the group, or by cio_run's shutdown)
     * and says so has not failed: asyncio ignores CancelledError from a
     * cancelled child. Any other negative result is a failure. */
    bool cancelled = r == -ECANCELED && (child->cancel_requested & CIO__CANCEL_TASK);
    if (r < 0 && !cancelled && g->first_error == 0) {
        g->first_error = r;
        group_abort(g);
    }
    if (g->running == 0 && g->waiting)
        cio__sched_wake(&g->waiter, 0);
}

/* Room for one more handle: frees the finished children's handles if they
 * are half of the array or more, else doubles it. */
static int children_reserve(cio_taskgroup *g)
{
    if (g->nchildren < g->cap)
        return 0;
    if (g->finished > 0 && g->finished >= g->nchildren / 2) {
        size_t kept = 0;
        for (size_t i = 0; i < g->nchildren; i++) {
            cio_task *t = g->children[i];
            if (t->state == CIO__TASK_DONE)
                cio__task_free(t);
            else
                g->children[kept++] = t;
        }
        g->nchildren = kept;
        g->finished = 0;
        return 0;
    }
    size_t cap = g->cap ? g->cap * 2 : 8;
    cio_task **children = realloc(g->children, cap * sizeof *children);
    if (!children)
        return -ENOMEM;
    g->children = children;
    g->cap = cap;
    return 0;
}

int cio_taskgroup_create_task_opts(cio_taskgroup *g, cio_fn fn, void *arg,
                                   const cio_task_opts *opts)
{
    CIO__CHECK_LIVE(g, TASKGROUP_MAGIC, "cio_taskgroup_create_task_opts", "taskgroup");
    if (!g || !fn)
        return -EINVAL;
    if (!cio_running_loop())
        return -EPERM;
    if (g->aborting)
        return -ECANCELED;
    int err = children_reserve(g);
    if (err)
        return err;
    cio_task *t = cio_create_task_opts(fn, arg, opts);
    if (!t)
        return -errno;
    t->awaiter = &g->waiter;
    g->children[g->nchildren++] = t;
    g->running++;
    return 0;
}

int cio_taskgroup_create_task(cio_taskgroup *g, cio_fn fn, void *arg)
{
    CIO__CHECK_LIVE(g, TASKGROUP_MAGIC, "cio_taskgroup_create_task", "taskgroup");
    return cio_taskgroup_create_task_opts(g, fn, arg, NULL);
}

/* Parks the parent until no child is running. */
static int wait_children(cio_taskgroup *g, bool cancellable)
{
    if (g->running == 0)
        return 0;
    cio__waiter_init(&g->waiter, CIO__WAIT_GROUP, g, NULL);
    g->waiter.cancellable = cancellable;
    return cio__sched_wait(&g->waiter);
}

int cio_taskgroup_wait(cio_taskgroup *g)
{
    CIO__CHECK_LIVE(g, TASKGROUP_MAGIC, "cio_taskgroup_wait", "taskgroup");
    if (!g)
        return -EINVAL;
    if (cio_current_task() != g->parent)
        return -EPERM;
    g->waiting = true;
    if (g->holds_parent) {
        g->holds_parent = false;
        cio__sched_group_lift(g->parent);
    }
    int err = wait_children(g, true);
    if (err) {
        /* The parent was cancelled or timed out: so are the children, and
         * none outlives the group. */
        group_abort(g);
        wait_children(g, false);
    }
    int result = g->first_error ? g->first_error : err;
    for (size_t i = 0; i < g->nchildren; i++)
        cio__task_free(g->children[i]);
    free(g->children);
    CIO__POISON(g);
    free(g);
    return result;
}
