/* SPDX-License-Identifier: MIT */
/* scope.c — timeout and shield scopes on the caller's stack.
 *
 * Owns the chain of open scopes of a task and the task's effective
 * deadline, which it keeps up to date at every enter and exit so that a wait
 * reads one field instead of walking the chain. What a deadline does to a
 * wait is scheduler.c's business.
 */
#include "internal.h"

#include <math.h>

#include "loop.h"

enum { SCOPE_TIMEOUT = 1, SCOPE_SHIELD = 2 };

void cio_timeout_enter_at(cio_timeout *tm, double deadline)
{
    if (!tm)
        CIO__PANIC("cio_timeout_enter: the scope pointer is NULL");
    cio_task *t = cio_current_task();
    tm->kind = SCOPE_TIMEOUT;
    tm->task = t;
    tm->deadline = deadline;
    tm->error = 0;
    if (!t) {
        tm->error = -EPERM;
        return;
    }
    /* NaN is checked before it is converted: a NaN converted to an
     * integer is undefined behaviour. */
    int64_t ns = INT64_MIN;
    if (isnan(deadline)) {
        /* Expired at once, so that nothing inside can hang on a deadline
         * that was never a number. */
        tm->error = -EINVAL;
    } else {
        ns = cio__seconds_to_ns(deadline);
    }
    tm->outer = t->live->scope;
    tm->outer_deadline_ns = t->live->deadline;
    t->live->scope = tm;
    t->live->deadline = CIO__MIN(t->live->deadline, ns);
}

void cio_timeout_enter(cio_timeout *tm, double seconds)
{
    cio_timeout_enter_at(tm, isnan(seconds) ? seconds : cio_now() + seconds);
}

/* Leaves the innermost scope of its task, which must be `scope`. */
static void scope_leave(void *scope, cio_task *t, int64_t outer_deadline, void *outer,
                        const char *fn)
{
    if (t != cio_current_task())
        CIO__PANIC("%s: the scope was entered by another task", fn);
    if (t->live->scope != scope)
        CIO__PANIC("%s: scopes must be exited in reverse order of entering", fn);
    t->live->scope = outer;
    t->live->deadline = outer_deadline;
}

int cio_timeout_exit(cio_timeout *tm)
{
    if (!tm)
        CIO__PANIC("cio_timeout_exit: the scope pointer is NULL");
    if (tm->error == -EPERM)
        return -EPERM;
    scope_leave(tm, tm->task, tm->outer_deadline_ns, tm->outer, "cio_timeout_exit");
    if (tm->error)
        return tm->error;
    return cio__context_clock_ns() >= cio__seconds_to_ns(tm->deadline) ? -ETIMEDOUT : 0;
}

void cio_shield_enter(cio_shield *sh)
{
    if (!sh)
        CIO__PANIC("cio_shield_enter: the scope pointer is NULL");
    cio_task *t = cio_current_task();
    sh->kind = SCOPE_SHIELD;
    sh->task = t;
    if (!t)
        return;
    sh->outer = t->live->scope;
    sh->outer_deadline_ns = t->live->deadline;
    t->live->scope = sh;
    /* Outer timeouts are held back; timeouts entered inside still apply. */
    t->live->deadline = INT64_MAX;
    t->live->shield_depth++;
}

void cio_shield_exit(cio_shield *sh)
{
    if (!sh)
        CIO__PANIC("cio_shield_exit: the scope pointer is NULL");
    if (!sh->task)
        return;
    scope_leave(sh, sh->task, sh->outer_deadline_ns, sh->outer, "cio_shield_exit");
    sh->task->live->shield_depth--;
}
