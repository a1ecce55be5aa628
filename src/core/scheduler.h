/* SPDX-License-Identifier: MIT */
/* scheduler.h — tasks, the ready queue and the one wait primitive.
 *
 * Every suspending call in the library parks its task through cio__sched_wait and
 * is woken through cio__sched_wake (scheduler.c): that is where cancellation,
 * timeouts, and the choice of what runs next are handled, once.
 *
 * How a task leaves and gets the CPU (scheduler.c):
 *
 *   path            from -> to          when                         events
 *   direct switch   task -> task        switch_away: the head of the  none (CIO__RUN_TASK), or
 *                   (cio__ctx_jump)     ready queue is a task, the    emitted first on the
 *                                       budget lasts, and a new one   out-of-line path
 *                                       gets a cached stack           (..._OBSERVED_DIRECT)
 *   via the loop    task -> loop ->     anything else: a callback at  on the way to the loop
 *                   task                the head, budget spent, a     (switch_away) and back
 *                                       stack to map, an observed     (cio__sched_run_ready)
 *                                       loop (CIO__RUN_TASK_OBSERVED)
 *   stack hand-off  dying task -> new   the finishing task's next     none: only between
 *                   task on the same    in line is new, unobserved,   CIO__RUN_TASK tasks
 *                   stack               wants the same stack size
 *                   (cio__ctx_restart)
 *   finish          dying task -> any   cio__sched_exit_task: after   task_finished
 *                                       a failed hand-off, a switch
 *                                       like the others, with dying
 *
 * The invariant of a dead task's stack: a finished task's stack is never
 * given back while execution is on it. cio__sched_exit_task records the
 * task in loop->dead and switches away; whoever lands next — the loop
 * after its jump, a resumed task after switch_away, a new task in
 * cio__sched_entered — calls release_dead before anything else, and that
 * is the only place a started task's stack is freed (the hand-off gives it
 * to the successor instead, and never frees it).
 */
#ifndef CIO_SCHED_H
#define CIO_SCHED_H

#include "core/ctx.h"
#include "internal.h"
#include "list.h"
#include "core/stack.h"

/* Something the loop can run: a task to resume or a callback to call. The
 * ready queue is a singly-linked FIFO of these. */
typedef struct cio__runnable {
    /* Next in the ready queue (NULL at the tail). */
    struct cio__runnable *next;
    /* CIO__RUN_TASK or CIO__RUN_CALLBACK: which struct this is embedded in. */
    uint8_t kind;
} cio__runnable;

/* CIO__RUN_TASK_OBSERVED: a task of an observed loop (core/observe.c
 * marks it when it is created, or when the observer comes). It is never
 * switched to directly from another task, nor handed a stack, so every
 * switch in an observed loop passes through the loop, where the events
 * are emitted, and the direct path carries no test.
 * CIO__RUN_TASK_OBSERVED_DIRECT: the same with CIO_TRACE_DIRECT=1: it is
 * switched to directly, through an out-of-line path that emits the
 * switch's events first (never handed a stack either). */
enum {
    CIO__RUN_TASK = 1,
    CIO__RUN_CALLBACK = 2,
    CIO__RUN_TASK_OBSERVED = 3,
    CIO__RUN_TASK_OBSERVED_DIRECT = 4,
};

/* What a parked task waits on, and how traces, dumps and the deadlock
 * report name it: X(NAME, description, counts). An X-macro, so that the
 * enum, the names and the counts cannot drift apart. The comment beside
 * each says what the waiter's object is. `counts` is what cio__sched_wait keeps
 * for the deadlock check and the loop while a task is parked so:
 * CIO__COUNT_OS, the OS or another thread will end the wait
 * (loop->wake_sources), and CIO__COUNT_FD, the loop must ask the OS even
 * with work ready (loop->fd_waiters). A new kind of wait that only the OS
 * or another thread can end must say so here, or cio_run will call its
 * tasks deadlocked. */
#define CIO__WAIT_KINDS(X)                                                                         \
    X(YIELD, "nothing (it yielded)", 0)                   /* NULL: it is ready again */            \
    X(SLEEP, "a sleep", 0)                                /* NULL: its own timer */                \
    X(READABLE, "a readable descriptor", CIO__COUNT_FDS)  /* the fd, as intptr_t */                \
    X(WRITABLE, "a writable descriptor", CIO__COUNT_FDS)  /* the fd, as intptr_t */                \
    X(TASK, "a task", 0)                   /* the awaited task (or the first of several) */        \
    X(THREAD, "a thread-pool job", CIO__COUNT_OS)         /* the job */                            \
    X(IO, "an I/O operation", CIO__COUNT_FDS) /* the fd, as intptr_t (-1: none, an open) */        \
    X(EVENT, "an event", 0)                               /* the cio_event */                      \
    X(LOCK, "a lock", 0)                                  /* the cio_lock */                       \
    X(COND, "a condition", 0)                             /* the cio_cond */                       \
    X(SEM, "a semaphore", 0)                              /* the cio_sem */                        \
    X(BARRIER, "a barrier", 0)                            /* the cio_barrier */                    \
    X(QUEUE_GET, "a queue (get)", 0)                      /* the cio_queue */                      \
    X(QUEUE_PUT, "a queue (put)", 0)                      /* the cio_queue */                      \
    X(QUEUE_JOIN, "a queue (join)", 0)                    /* the cio_queue */                      \
    X(FUTURE, "a future", 0)                              /* the cio_future */                     \
    X(GROUP, "a task group's children", 0)                /* the cio_taskgroup */                  \
    X(TRANSFER, "an HTTP transfer", CIO__COUNT_OS)  /* the CURL easy handle (curl.c) */

enum { CIO__COUNT_OS = 1, CIO__COUNT_FD = 2, CIO__COUNT_FDS = CIO__COUNT_OS | CIO__COUNT_FD };

typedef enum cio__wait_kind {
#define CIO__WAIT_KIND_ENUM(name, text, counts) CIO__WAIT_##name,
    CIO__WAIT_KINDS(CIO__WAIT_KIND_ENUM)
#undef CIO__WAIT_KIND_ENUM
} cio__wait_kind;

/* "a lock", "a readable descriptor"...: the kind alone, for observers. */
const char *cio__sched_wait_kind_name(cio__wait_kind kind);

/* Why a task's suspending calls return -ECANCELED (cio_task.cancel_requested
 * is a set of these). CANCEL_TASK is cio_cancel, and stays. CANCEL_GROUP is
 * set while a task group this task created is failing and the task has not
 * yet reached cio_taskgroup_wait, which lifts it (group.c): the group
 * interrupts the parent's own work, not the parent itself. */
enum { CIO__CANCEL_TASK = 1, CIO__CANCEL_GROUP = 2 };

typedef struct cio__waiter cio__waiter;

/* One suspension of one task. It lives on the parked task's own stack, so a
 * wait allocates nothing. */
struct cio__waiter {
    /* The parked task. */
    struct cio_task *task;
    /* What it waits on, for traces and dumps. */
    cio__wait_kind kind;
    void *object;
    /* Links into the object's queue of waiters (fd readers, ...), when the
     * object keeps one. */
    cio__list node;
    /* Called when the wait ends by cancellation or timeout rather than by
     * the object: must take the waiter off the object's queue. NULL: the
     * object keeps no reference. */
    void (*unlink)(cio__waiter *w);
    /* Set by whoever wakes the task: what cio__sched_wait returns. */
    int result;
    /* False for waits that must not be interrupted (waiting for a cancelled
     * child or a thread-pool job to really finish). */
    bool cancellable;
    /* The waiter's own deadline (a sleep's end) and the scopes' deadline
     * when it parked, in ns (INT64_MAX: none), and the timer armed for the
     * earlier of the two (0: none armed). */
    int64_t own_deadline;
    int64_t scope_deadline;
    uint64_t timer;
};

typedef enum cio__task_state {
    CIO__TASK_NEW,     /* created, has not run yet: no stack */
    CIO__TASK_RUNNING, /* started (running, ready or parked); owns a stack */
    CIO__TASK_DONE,    /* finished; result is final */
} cio__task_state;

/* What only a started, unfinished task needs. It lives at the top of the
 * task's own stack (scheduler.c puts it there when the task starts), so a
 * task that has not started yet, or has finished, costs only its 64-byte
 * cio_task: a million tasks created at once fault in 64 MB, not 128. */
typedef struct cio__task_live {
    /* Saved registers' location while switched out. */
    cio__ctx ctx;
    /* The body and its argument, copied from the task when it starts. */
    cio_fn fn;
    void *arg;
    /* The effective deadline of the open timeout scopes, in ns (INT64_MAX:
     * none): the minimum over the scopes entered since the innermost
     * shield. */
    int64_t deadline;
    /* The innermost open scope (a cio_timeout or cio_shield), or NULL. */
    void *scope;
    /* The wait this task is parked in; NULL while running or ready. */
    cio__waiter *waiter;
    /* The stack this block lives on. */
    cio__stack stack;
    /* How many shields are open: cancellation is held back while > 0. */
    uint16_t shield_depth;
    /* How many task groups this task created are failing and not yet
     * waited: CIO__CANCEL_GROUP is set while > 0 (scheduler.c). */
    uint16_t failing_groups;
    /* A word the loop's observers keep for the task (observe/trace.c: the
     * index of the note that carries its last suspension to its
     * resumption). Zeroed when the task starts; the core never reads it. */
    uint32_t observer_note;
} cio__task_live;

struct cio_task {
    union {
        /* Ready-queue link; first, so a runnable of kind TASK is the task. */
        cio__runnable run;
        /* The same link, with the task's small state in what would be the
         * runnable's padding. */
        struct {
            struct cio__runnable *run_next_;
            uint8_t run_kind_;
            /* Life cycle (cio__task_state). */
            uint8_t state;
            /* Non-zero: every unshielded wait returns -ECANCELED.
             * CIO__CANCEL_TASK (cio_cancel was called) and/or
             * CIO__CANCEL_GROUP (see that enum). */
            uint8_t cancel_requested;
            /* cio_detach was called: free the task when it finishes. */
            bool detached;
            /* The stack size asked for (normalized): the stack it gets
             * when it starts. */
            uint32_t stack_size;
        };
    };
    union {
        /* Until it starts: the body and its argument. */
        struct {
            cio_fn fn;
            void *arg;
        };
        /* From then on: its live state, on its stack (NULL once the stack
         * is gone), and once done its position in the loop's order of
         * completion (for cio_gather). */
        struct {
            cio__task_live *live;
            uint64_t done_seq;
        };
    };
    /* Its return value, once done. */
    int result;
    /* While the loop is observed (core/observe.c): the low 32 bits of the
     * id of the task that created this one (0: made by cio_run or a
     * callback, or before the loop was observed), for the task tree of
     * cio_dump_tasks (dump.c). In what would be padding: the struct stays
     * 64 bytes. Set only then, so that creating a task costs no extra
     * store otherwise. */
    uint32_t creator;
    /* The waiter of the task that awaits this one (cio_await, cio_gather,
     * cio_wait_any), woken when this task finishes; for a task group's
     * child, the group's waiter (kind CIO__WAIT_GROUP), which is told
     * through cio__group_child_done instead. */
    cio__waiter *awaiter;
    /* Unique per loop, from 1; names "task-N". */
    uint64_t id;
    /* Malloc'd name: given in the options, or made on first cio_task_name. */
    char *name;
};

/* Parks the current task until cio__sched_wake(w, ...), a cancellation (if
 * w->cancellable and no shield is open), the scopes' deadline, or
 * w->own_deadline (ns; then the wait returns 0). Before parking it
 * checks cancellation and deadline, and returns at once if either already
 * holds; in every early or interrupted return w->unlink has been called.
 * The caller fills task, kind, object, unlink and cancellable (use
 * cio__waiter_init). Returns w->result, -ECANCELED or -ETIMEDOUT. */
CIO__COMPONENT int cio__sched_wait(cio__waiter *w);

/* Makes w's task ready with `result`, unless it was already woken. Does not
 * call w->unlink: the waker has taken w off its queue itself. */
CIO__COMPONENT void cio__sched_wake(cio__waiter *w, int result);

struct cio__text;
/* The one description of what a task waits on, used by the trace, the task
 * dump, the deadlock report and debug mode (through the dump). A wait is
 * its kind and one number, `what` (cio__sched_wait_what: the fd, the
 * awaited task's id, a sleep's deadline, or the object's address), so that
 * the trace can keep it past the wait. Written as "fd 5 readable", "timer
 * due at 12.345 ms", "task#3 to finish", "its turn (it yielded)", "a lock
 * (0x...)"...; times in ms since origin_ns (the loop's start). With text.h:
 * no allocation, no stdio (trace hooks run on small stacks). */
int64_t cio__sched_wait_what(const cio__waiter *w);
void cio__sched_put_wait_what(struct cio__text *s, cio__wait_kind kind, int64_t what,
                              int64_t origin_ns);
/* The same for a live waiter (NULL: a yield), followed by ", timeout at T
 * ms" when a timeout scope's deadline applies. */
void cio__sched_put_wait(struct cio__text *s, const cio__waiter *w, int64_t origin_ns);


/* The check every suspending call makes first: -EPERM outside a task,
 * -ECANCELED if cancelled (unshielded), -ETIMEDOUT past the scopes'
 * deadline, else 0. */
CIO__COMPONENT int cio__sched_checkpoint(void);

/* A task group that `parent` created started failing: the parent's
 * suspending calls return -ECANCELED, the current one included, until
 * cio__sched_group_lift. Counted, for nested groups. */
void cio__sched_group_cancel(struct cio_task *parent);
/* The parent reached cio_taskgroup_wait of a failing group: that group no
 * longer cancels it (a cio_cancel, or another failing group, still does). */
void cio__sched_group_lift(struct cio_task *parent);

/* Appends a runnable to the ready queue of loop, the running loop. The
 * caller passes the loop it has in hand: read again from the thread-local
 * after the caller's stores, it cost task creation two instructions. */
void cio__sched_push(struct cio_loop *loop, cio__runnable *r);

/* Runs the ready queue in FIFO order, what becomes ready meanwhile
 * included, until it is empty or the budget of runs between two looks at
 * the OS is spent. */
void cio__sched_run_ready(void);

/* True when something is ready to run (the loop must not block in the OS). */
bool cio__sched_has_ready(void);

/* The first thing a new task does on its own stack, after the sanitizer
 * hook: finishes what the switch that started it left to do. */
void cio__sched_entered(void);

/* The end of a task: switches away from it for good. Its stack is released
 * once execution has left it. */
__attribute__((noreturn)) void cio__sched_exit_task(struct cio_task *t);

#endif
