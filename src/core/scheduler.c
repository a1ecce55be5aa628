/* SPDX-License-Identifier: MIT */
/* scheduler.c — the ready queue, the one wait primitive, and switching.
 *
 * Owns what runs next and how the CPU gets there, and the wait primitive
 * with what interrupts it (cio_cancel, a failing task group's hold on its
 * parent, deadlines, sleep, yield). A task that suspends switches straight
 * to the next ready task when there is one in the current batch (one
 * context switch per hand-off), and to the loop otherwise. Does not own
 * what tasks are (task.c) nor what they wait on (each object's file).
 *
 * Budget: asyncio runs one batch (what was ready when the step began) and
 * then polls the OS. Here the ready queue runs on in FIFO order, which is
 * the same order, until RUN_BUDGET runs have happened, and only then polls.
 * That keeps a system call off the path of every yield, while I/O is still
 * looked at at least every RUN_BUDGET runs (as often as asyncio does with
 * that many ready tasks).
 */
#include "internal.h"

#include <math.h>

#include "core/observe.h"
#include "loop.h"
#include "text.h"

#define RUN_BUDGET 128

void cio__sched_push(cio_loop *loop, cio__runnable *r)
{
    r->next = NULL;
    if (loop->ready_tail)
        loop->ready_tail->next = r;
    else
        loop->ready_head = r;
    loop->ready_tail = r;
}

static cio__runnable *ready_pop(cio_loop *loop)
{
    cio__runnable *r = loop->ready_head;
    loop->ready_head = r->next;
    if (!loop->ready_head)
        loop->ready_tail = NULL;
    return r;
}

bool cio__sched_has_ready(void) { return cio__context_loop->ready_head != NULL; }

/* Takes the head of the ready queue while the budget of runs between two
 * looks at the OS lasts; NULL when the loop must take over. */
static inline __attribute__((always_inline)) cio__runnable *budget_next(cio_loop *loop)
{
    if (!loop->ready_head || loop->runs_budget == 0)
        return NULL;
    loop->runs_budget--;
    return ready_pop(loop);
}

/* Stack overflow with only a canary to catch it: stop, naming the task. */
__attribute__((noreturn, cold, noinline)) static void canary_overwritten(cio_task *t)
{
    char label[32];
    CIO__PANIC("stack overflow in task '%s' (stack size %zu bytes): the canary below its "
               "stack was overwritten; give it a larger cio_task_opts.stack_size",
               cio__task_label(t, label), cio__stack_size(&t->live->stack));
}

/* Inline: it runs at every switch, and for a guarded stack it is one test. */
static inline __attribute__((always_inline)) void check_canary(cio_task *t)
{
    if (CIO__UNLIKELY(!cio__stack_intact(&t->live->stack)))
        canary_overwritten(t);
}

/* Makes t, which has not started, running on `stack`: its live state goes
 * at the top of the stack, and its frames will start below it. Returns
 * where they start. Flattened: every task start passes here, and a call to
 * stack.c for the start address cost W1 1 % of its instructions. */
__attribute__((flatten)) static void *task_go_live(cio_task *t, const cio__stack *stack)
{
    char *start = cio__stack_start(stack);
    cio__task_live *live =
        (cio__task_live *)((uintptr_t)(start - sizeof(cio__task_live)) & ~(uintptr_t)15);
    live->fn = t->fn;
    live->arg = t->arg;
    live->deadline = INT64_MAX;
    live->scope = NULL;
    live->waiter = NULL;
    live->stack = *stack;
    live->shield_depth = 0;
    live->failing_groups = 0;
    live->observer_note = 0;
    t->live = live;
    t->state = CIO__TASK_RUNNING;
    return live;
}

/* A task that finishes without having run. Out of line: the common path
 * of task_make_startable then keeps fewer registers. */
static __attribute__((cold, noinline)) bool task_finish_unstarted(cio_loop *loop, cio_task *t,
                                                                  int result)
{
    loop->counters.unstarted++;
    CIO__OBSERVE(loop, task_never_ran, t, result);
    cio__task_finish(t, result);
    return false;
}

/* Gives a task a stack and a first frame, or finishes it at once if it was
 * cancelled before it ran (or no stack can be had). False if it finished. */
static bool task_make_startable(cio_loop *loop, cio_task *t)
{
    if (t->cancel_requested)
        return task_finish_unstarted(loop, t, -ECANCELED);
    cio__stack stack = {.size = t->stack_size};
    int err = cio__stack_alloc(&loop->stacks, &stack);
    if (err)
        return task_finish_unstarted(loop, t, err);
    void *frames = task_go_live(t, &stack);
    cio__task_live *live = t->live;
    live->ctx.sp = cio__ctx_prepare(frames, cio__task_entry, t);
#if CIO__ASAN
    live->ctx.asan_fake_stack = NULL;
    live->ctx.stack_bottom = cio__stack_low(&stack);
    live->ctx.stack_size = cio__stack_size(&stack);
#endif
#if CIO__TSAN
    live->ctx.tsan_fiber = __tsan_create_fiber(0);
#endif
    return true;
}

/* After every switch lands: a task that finished on the stack we just left
 * can now give that stack back. */
static inline void release_dead(cio_loop *loop)
{
    cio_task *t = loop->dead;
    if (CIO__LIKELY(!t))
        return;
    loop->dead = NULL;
    /* Copied out first: the live state is on the stack being given back. */
    cio__stack stack = t->live->stack;
#if CIO__TSAN
    __tsan_destroy_fiber(t->live->ctx.tsan_fiber);
#endif
    t->live = NULL;
    cio__stack_free(&loop->stacks, &stack);
    if (t->detached)
        cio__task_free(t);
}

/* next_task_direct for a task of an observed loop that keeps direct
 * switches (CIO_TRACE_DIRECT): the same choice, plus the events of the
 * switch, emitted here on the suspending task's stack before the jump.
 * Out of line, so that the unobserved direct path stays as it is. */
static __attribute__((cold, noinline)) cio_task *next_task_direct_observed(cio_loop *loop,
                                                                         cio_task *self,
                                                                         bool dying)
{
    if (loop->runs_budget == 0)
        return NULL;
    cio_task *t = (cio_task *)loop->ready_head;
    bool fresh = t->state != CIO__TASK_RUNNING;
    if (fresh && !t->cancel_requested && !cio__stack_cached(&loop->stacks, t->stack_size))
        return NULL;
    budget_next(loop);
    /* One that finishes unstarted instead: the loop takes the rest. */
    if (fresh && !task_make_startable(loop, t))
        return NULL;
    CIO__OBSERVE(loop, switch, self, dying, t, fresh);
    return t;
}

/* The next task that can be switched to directly from `self`, or NULL if
 * the loop must run next (batch over, budget spent, a callback is at the
 * head: callbacks run on the loop's stack, never on a task's; or a task of
 * an observed loop, whose switches pass through the loop). */
static inline cio_task *next_task_direct(cio_loop *loop, cio_task *self, bool dying)
{
    for (;;) {
        cio__runnable *head = loop->ready_head;
        if (!head || head->kind != CIO__RUN_TASK || loop->runs_budget == 0) {
            if (CIO__UNLIKELY(head && head->kind == CIO__RUN_TASK_OBSERVED_DIRECT))
                return next_task_direct_observed(loop, self, dying);
            return NULL;
        }
        /* Starting a task may need a fresh chunk of stacks (mmap, malloc):
         * too deep for a suspending task's possibly tiny stack. Only a
         * stack from the hot cache is taken here; otherwise the loop starts
         * it on its own stack. */
        cio_task *t = (cio_task *)head;
        if (CIO__LIKELY(t->state == CIO__TASK_RUNNING)) {
            budget_next(loop);
            return t;
        }
        if (!t->cancel_requested && !cio__stack_cached(&loop->stacks, t->stack_size))
            return NULL;
        budget_next(loop);
        if (task_make_startable(loop, t))
            return t;
    }
}

/* Switches away from the running task `self`, which has already queued
 * itself somewhere (or finished); returns when it is resumed. */
static inline __attribute__((always_inline)) void switch_away(cio_loop *loop, cio_task *self,
                                                          bool dying)
{
    check_canary(self);
    cio_task *next = next_task_direct(loop, self, dying);
    loop->current = next;
    /* A task that yields while nothing else is ready is next in line
     * itself: it just goes on. (Switching to itself would load the stack
     * pointer saved at its previous switch, not the current one.) */
    if (next == self)
        return;
    /* A direct switch is between unobserved tasks (CIO__RUN_TASK) or has
     * emitted its events already (CIO__RUN_TASK_OBSERVED_DIRECT): the
     * events' test is on the way to the loop alone. */
    if (next) {
        cio__ctx_jump(&self->live->ctx, &next->live->ctx, dying);
    } else {
        CIO__OBSERVE(loop, switch, self, dying, NULL, false);
        cio__ctx_jump(&self->live->ctx, &loop->ctx, dying);
    }
    release_dead(loop);
}

#if CIO__CTX_HAS_RESTART
/* A finishing task whose successor in the ready queue has not started yet
 * and wants a stack of the same size gives it its own: the successor
 * starts at the top of it, with no stack taken from the pool, none given
 * back, and no switch (a third of the cost of a short-lived task). */
static void hand_stack_to_successor(cio_loop *loop, cio_task *t)
{
    cio__runnable *head = loop->ready_head;
    /* Tasks of an observed loop are not CIO__RUN_TASK: a task's end and
     * the next one's start are then two events, on two stacks (debug mode
     * paints a fresh one). */
    if (!head || head->kind != CIO__RUN_TASK || loop->runs_budget == 0)
        return;
    cio_task *next = (cio_task *)head;
    if (next->state != CIO__TASK_NEW || next->cancel_requested || next->stack_size != t->stack_size)
        return;
    check_canary(t);
    budget_next(loop);
    cio__stack stack = t->live->stack;
    t->live = NULL;
    if (t->detached)
        cio__task_free(t);
    void *frames = task_go_live(next, &stack);
    loop->current = next;
    cio__ctx_restart(frames, cio__task_entry, next);
}
#endif

void cio__sched_exit_task(cio_task *t)
{
    cio_loop *loop = cio__context_loop;
#if CIO__CTX_HAS_RESTART
    hand_stack_to_successor(loop, t);
#endif
    loop->dead = t;
    switch_away(loop, t, true);
    CIO__PANIC("finished task '%s' was resumed", cio_task_name(t));
}

void cio__sched_entered(void) { release_dead(cio__context_loop); }

void cio__sched_run_ready(void)
{
    cio_loop *loop = cio__context_loop;
    loop->runs_budget = RUN_BUDGET;
    cio__runnable *r;
    while ((r = budget_next(loop))) {
        if (r->kind == CIO__RUN_CALLBACK) {
            cio__callback_run(r);
            continue;
        }
        cio_task *t = (cio_task *)r;
        bool fresh = t->state != CIO__TASK_RUNNING;
        if (fresh && !task_make_startable(loop, t))
            continue;
        loop->current = t;
        CIO__OBSERVE(loop, switch, NULL, false, t, fresh);
        cio__ctx_jump(&loop->ctx, &t->live->ctx, false);
        loop->current = NULL;
        release_dead(loop);
    }
    /* Runs are counted per batch rather than per switch: what the budget
     * lost is what ran. */
    loop->counters.runs += RUN_BUDGET - loop->runs_budget;
}

/* ------------------------------------------------------------- waiting */

int cio__sched_checkpoint(void)
{
    cio_loop *loop = cio__context_loop;
    cio_task *t = loop ? loop->current : NULL;
    if (!t)
        return -EPERM;
    if (t->cancel_requested && t->live->shield_depth == 0)
        return -ECANCELED;
    if (CIO__UNLIKELY(t->live->deadline != INT64_MAX) &&
        t->live->deadline <= cio__context_clock_ns())
        return -ETIMEDOUT;
    return 0;
}


static void end_wait_early(cio__waiter *w)
{
    if (w->unlink)
        w->unlink(w);
}

const char *cio__sched_wait_kind_name(cio__wait_kind kind)
{
    switch (kind) {
#define CIO__WAIT_KIND_NAME(name, text, counts)                                                    \
    case CIO__WAIT_##name:                                                                         \
        return text;
        CIO__WAIT_KINDS(CIO__WAIT_KIND_NAME)
#undef CIO__WAIT_KIND_NAME
    }
    return "something unknown";
}

int64_t cio__sched_wait_what(const cio__waiter *w)
{
    switch (w->kind) {
    case CIO__WAIT_TASK:
        return (int64_t)((const cio_task *)w->object)->id;
    case CIO__WAIT_SLEEP:
        return w->own_deadline;
    default:
        return (int64_t)(intptr_t)w->object;
    }
}

/* Milliseconds since origin, from ns. */
static void put_ms(cio__text *s, int64_t ns, int64_t origin_ns)
{
    cio__text_milli(s, (ns - origin_ns) / 1000, 0);
    cio__text_str(s, " ms");
}

void cio__sched_put_wait_what(cio__text *s, cio__wait_kind kind, int64_t what, int64_t origin_ns)
{
    switch (kind) {
    case CIO__WAIT_READABLE:
    case CIO__WAIT_WRITABLE:
        cio__text_str(s, "fd ");
        cio__text_i64(s, what);
        cio__text_str(s, kind == CIO__WAIT_READABLE ? " readable" : " writable");
        break;
    case CIO__WAIT_IO:
        /* A completion backend's operation: the kernel does it, the task
         * waits for its end. */
        cio__text_str(s, "fd ");
        cio__text_i64(s, what);
        cio__text_str(s, " (an operation in the kernel's hands)");
        break;
    case CIO__WAIT_SLEEP:
        cio__text_str(s, "timer due at ");
        put_ms(s, what, origin_ns);
        break;
    case CIO__WAIT_YIELD:
        cio__text_str(s, "its turn (it yielded)");
        break;
    case CIO__WAIT_TASK:
        cio__text_str(s, "task#");
        cio__text_i64(s, what);
        cio__text_str(s, " to finish");
        break;
    case CIO__WAIT_THREAD:
    case CIO__WAIT_GROUP:
        cio__text_str(s, cio__sched_wait_kind_name(kind));
        break;
    default:
        cio__text_str(s, cio__sched_wait_kind_name(kind));
        cio__text_str(s, " (");
        cio__text_hex(s, (uintptr_t)what);
        cio__text_char(s, ')');
        break;
    }
}

void cio__sched_put_wait(cio__text *s, const cio__waiter *w, int64_t origin_ns)
{
    if (!w) {
        cio__sched_put_wait_what(s, CIO__WAIT_YIELD, 0, origin_ns);
        return;
    }
    cio__sched_put_wait_what(s, w->kind, cio__sched_wait_what(w), origin_ns);
    if (w->scope_deadline != INT64_MAX && w->kind != CIO__WAIT_SLEEP) {
        cio__text_str(s, ", timeout at ");
        put_ms(s, w->scope_deadline, origin_ns);
    }
}

/* A wait's timer: the earlier of its own deadline (a sleep, which ends
 * normally) and the scopes' (a timeout). */
static void wait_timer_fired(void *arg)
{
    cio__waiter *w = arg;
    w->timer = 0;
    /* Woken by its object already, and not yet run (cio__sched_wait cancels the
     * timer once it runs): the wait has ended, and calling the unlink hook
     * again would undo what the waker did. */
    if (w->task->live->waiter != w)
        return;
    int result = w->own_deadline < w->scope_deadline ? 0 : -ETIMEDOUT;
    end_wait_early(w);
    cio__sched_wake(w, result);
}

/* What a wait of each kind counts while parked (CIO__WAIT_KINDS). */
static const uint8_t wait_counts[] = {
#define CIO__WAIT_KIND_COUNTS(name, text, counts) counts,
    CIO__WAIT_KINDS(CIO__WAIT_KIND_COUNTS)
#undef CIO__WAIT_KIND_COUNTS
};

int cio__sched_wait(cio__waiter *w)
{
    cio_loop *loop = cio__context_loop;
    cio_task *t = w->task;
    if (w->cancellable) {
        int err = cio__checkpoint();
        if (err) {
            end_wait_early(w);
            return err;
        }
        w->scope_deadline = t->live->deadline;
    }
    int64_t first = CIO__MIN(w->own_deadline, w->scope_deadline);
    if (first != INT64_MAX) {
        w->timer = cio__callback_timer_start(first, wait_timer_fired, w);
        if (!w->timer) {
            end_wait_early(w);
            return -ENOMEM;
        }
    }
    /* Counted only while parked, without a branch: the deadlock check reads
     * wake_sources, the loop fd_waiters. */
    unsigned counts = wait_counts[w->kind];
    loop->wake_sources += counts & CIO__COUNT_OS;
    loop->fd_waiters += (counts & CIO__COUNT_FD) >> 1;
    t->live->waiter = w;
    switch_away(loop, t, false);
    loop->wake_sources -= counts & CIO__COUNT_OS;
    loop->fd_waiters -= (counts & CIO__COUNT_FD) >> 1;
    if (w->timer) {
        cio__callback_cancel(w->timer);
        w->timer = 0;
    }
    /* Cancelled after a timeout woke it but before it ran again: both
     * hold, and the contract says cancellation wins. */
    if (CIO__UNLIKELY(w->result == -ETIMEDOUT) && w->cancellable && t->cancel_requested &&
        t->live->shield_depth == 0)
        return -ECANCELED;
    return w->result;
}

void cio__sched_wake(cio__waiter *w, int result)
{
    cio_task *t = w->task;
    if (t->live->waiter != w)
        return;
    /* Before the waiter is cleared: an observer may read what it was. */
    cio_loop *loop = cio__context_loop;
    CIO__OBSERVE(loop, task_woken, w, result);
    t->live->waiter = NULL;
    w->result = result;
    cio__sched_push(loop, &t->run);
}

int cio_yield(void)
{
    int err = cio__checkpoint();
    if (err)
        return err;
    cio_loop *loop = cio__context_loop;
    cio_task *t = loop->current;
    cio__sched_push(loop, &t->run);
    switch_away(loop, t, false);
    /* Cancelled while it sat in the ready queue: report it here, as asyncio
     * raises CancelledError out of sleep(0). */
    if (CIO__UNLIKELY(t->cancel_requested) && t->live->shield_depth == 0)
        return -ECANCELED;
    return 0;
}

int cio_sleep(double seconds)
{
    if (isnan(seconds) || seconds < 0)
        return cio__context_loop && cio__context_loop->current ? -EINVAL : -EPERM;
    if (seconds == 0)
        return cio_yield();
    int err = cio__sched_checkpoint();
    if (err)
        return err;
    cio__waiter w;
    cio__waiter_init(&w, CIO__WAIT_SLEEP, NULL, NULL);
    w.own_deadline = cio__deadline_after(seconds);
    return cio__sched_wait(&w);
}

/* Ends t's current wait with -ECANCELED, if it is parked in one that a
 * cancellation may interrupt. */
static void interrupt_wait(cio_task *t)
{
    if (t->state != CIO__TASK_RUNNING)
        return; /* not started: it finishes cancelled when its turn comes */
    cio__waiter *w = t->live->waiter;
    if (w && w->cancellable && t->live->shield_depth == 0) {
        end_wait_early(w);
        cio__sched_wake(w, -ECANCELED);
    }
}

int cio_cancel(cio_task *t)
{
    if (!t)
        return -EINVAL;
    cio__task_check_handle(t, "cio_cancel");
    if (t->state == CIO__TASK_DONE)
        return -EALREADY;
    t->cancel_requested |= CIO__CANCEL_TASK;
    interrupt_wait(t);
    return 0;
}

void cio__sched_group_cancel(cio_task *parent)
{
    /* A parent that returned without waiting for its group (a leak the
     * docs warn of) has nothing left to interrupt. */
    if (parent->state != CIO__TASK_RUNNING)
        return;
    parent->live->failing_groups++;
    parent->cancel_requested |= CIO__CANCEL_GROUP;
    interrupt_wait(parent);
}

void cio__sched_group_lift(cio_task *parent)
{
    CIO__ASSERT(parent->live->failing_groups > 0);
    if (--parent->live->failing_groups == 0)
        parent->cancel_requested &= (uint8_t)~CIO__CANCEL_GROUP;
}
