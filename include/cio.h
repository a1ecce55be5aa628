/* cio — asyncio for C.
 *
 * One event loop per thread; tasks are stackful coroutines; `await` is an
 * ordinary function call that suspends the calling task while the loop runs
 * others; the operating system (epoll, io_uring or poll) reports I/O back to
 * the loop. Every concept carries its asyncio name.
 *
 * Conventions, which hold for every declaration below unless it says
 * otherwise:
 *
 *  - Errors are values: 0 (or a non-negative count / descriptor) on success,
 *    a negative errno on failure. Constructors return NULL and set errno.
 *  - "Suspends: yes" means the calling task parks, the loop runs other tasks,
 *    and the call returns when its condition holds. Every suspending call
 *    returns -ECANCELED if the task has been cancelled (and is not inside a
 *    shield), -ETIMEDOUT if an enclosing cio_timeout has expired (when both
 *    hold: -ECANCELED), and -EPERM when called outside a task (from main()
 *    before cio_run, or from a callback).
 *  - Cancellation is level-triggered, as in Trio: once a task is cancelled,
 *    every later suspending call outside a shield returns -ECANCELED at once,
 *    so a task that ignores one error cannot stay blocked.
 *  - Time is double seconds on the loop's monotonic clock (CLOCK_MONOTONIC),
 *    as asyncio's loop.time().
 *  - Objects are opaque, except the scope structs (cio_timeout, cio_shield)
 *    which live on the caller's stack.
 */
#ifndef CIO_H
#define CIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CIO_EXTERN __attribute__((visibility("default")))
#else
#define CIO_EXTERN
#endif

/* ------------------------------------------------------------------ errors */

/* "The peer closed before the requested data arrived." Outside the errno
 * range, so it can never be confused with a system error. */
#define CIO_EOF (-4095 - 1)

/* A short English name for any code the library returns (negative errno,
 * CIO_EOF). Never NULL; unknown codes give "unknown error". */
CIO_EXTERN const char *cio_strerror(int code);

/* ----------------------------------------------------------------- running */

typedef int (*cio_fn)(void *arg);
typedef struct cio_loop cio_loop;

/* asyncio.run: makes a loop on the calling thread, runs main_fn(arg) as the
 * first task, and when that task returns cancels every task still pending,
 * lets them finish their cancellation, closes the loop and returns main's
 * result.
 * Deadlock detection (Go's "all goroutines are asleep"): when tasks wait and
 * nothing registered with the loop can ever wake one of them — no task is
 * ready, and there is no timer, no task waiting on a descriptor, no
 * thread-pool job in flight, no callback posted from another thread and no
 * cio_loop_ref — cio_run prints every waiting task and what it waits on to
 * stderr, then cancels every task as at the end of a run (each stuck wait
 * returns -ECANCELED, so the tasks can clean up), waits for them to finish
 * and returns -EDEADLK instead of main's result. If tasks still cannot
 * finish after that (they wait inside a shield), the process aborts with
 * the report rather than hang.
 * Returns: main's result; -EDEADLK (above); -EBUSY if this thread already
 *   runs a loop; -EINVAL if main_fn is NULL; -ENOMEM, or the backend's error
 *   (CIO_BACKEND names a backend the kernel refuses: -ENOSYS, -EPERM...), if
 *   the loop cannot start.
 * Suspends: no (it is the loop). */
CIO_EXTERN int cio_run(cio_fn main_fn, void *arg);

/* Keeps cio_run's deadlock detection from firing while another thread will
 * still wake the loop: a program whose tasks wait for something only other
 * threads complete (through cio_call_soon_threadsafe) takes a reference
 * before the tasks could be left waiting, and drops it once that thread has
 * posted its last callback. Counted (each ref needs one unref) and callable
 * from any thread while the loop runs. While the count is above zero the
 * loop sleeps instead of reporting a deadlock.
 * Returns: 0; -EINVAL for a NULL loop, or an unref without a ref.
 * Suspends: no. */
CIO_EXTERN int cio_loop_ref(cio_loop *loop);
CIO_EXTERN int cio_loop_unref(cio_loop *loop);

/* The loop's clock, in seconds (CLOCK_MONOTONIC). Works outside a loop too. */
CIO_EXTERN double cio_now(void);

/* The loop running on this thread, or NULL outside cio_run. */
CIO_EXTERN cio_loop *cio_running_loop(void);

/* The name of the backend the running loop uses ("epoll", "poll", ...), or
 * NULL outside a loop. */
CIO_EXTERN const char *cio_backend_name(void);

/* ------------------------------------------------------------------- tasks */

typedef struct cio_task cio_task;

typedef struct cio_task_opts {
    /* Copied; shown in traces and dumps. NULL: "task-N". */
    const char *name;
    /* Usable stack in bytes. 0: CIO_DEFAULT_STACK_SIZE. Rounded up to a
     * multiple of 64; honoured down to CIO_MIN_STACK_SIZE (smaller values
     * are raised to it); at most 1 GiB (more: EINVAL). Sanitizer builds
     * raise it to 256 KiB, since their instrumented frames are several
     * times larger, and builds on the portable ucontext switch to 16 KiB,
     * since each switch keeps two ucontext_t on the stack. */
    size_t stack_size;
} cio_task_opts;

#define CIO_DEFAULT_STACK_SIZE (64u * 1024u)
#define CIO_MIN_STACK_SIZE (2u * 1024u)

/* asyncio.create_task: schedules fn(arg) as a new task. It first runs when
 * the creator next suspends (not eagerly); ready tasks run in FIFO order.
 * The stack is taken only when the task first runs, and given back when it
 * finishes, so a million created-but-not-started tasks cost no stacks.
 * Stack overflow: stacks of 16 KiB and more get a guard page while the
 * process has room under vm.max_map_count (a quarter of it is used for
 * guards); an overflow into the guard page stops the process at once with a
 * message naming the task and its stack size. Smaller stacks, and stacks
 * made once that budget is spent, have a canary word below the stack
 * instead: the overflow is caught at the task's next switch (it may already
 * have overwritten a neighbouring task's stack by then, and an overflow that
 * skips the canary with a large frame is not caught at all).
 * Returns: the task handle; NULL with errno EPERM outside a loop, EINVAL if
 *   fn is NULL, ENOMEM.
 * Ownership: the caller must cio_await, cio_gather, cio_wait_for or
 *   cio_detach the handle exactly once. */
CIO_EXTERN cio_task *cio_create_task(cio_fn fn, void *arg);
CIO_EXTERN cio_task *cio_create_task_opts(cio_fn fn, void *arg, const cio_task_opts *opts);

/* Awaits t: suspends until t finishes, returns its result and releases t (the
 * handle is invalid afterwards, whatever is returned, except for -EINVAL,
 * -EPERM, -EBUSY and -EDEADLK, where nothing happened).
 * Returns: t's result; -EINVAL if t is NULL; -EPERM outside a task; -EDEADLK
 *   if t is the calling task; -EBUSY if another task already awaits t.
 * Cancellation: if the caller is cancelled or its timeout expires meanwhile,
 *   t is cancelled too, cio_await waits for t to finish and returns
 *   -ECANCELED (or -ETIMEDOUT). */
CIO_EXTERN int cio_await(cio_task *t);

/* Asks t to stop: its current suspension, and every later one outside a
 * shield, returns -ECANCELED. A task cancelled before it ever ran does not
 * run at all and finishes with -ECANCELED (as asyncio's). Cancelling the
 * running task itself is allowed.
 * Returns: 0; -EALREADY if t already finished; -EINVAL if t is NULL.
 * Suspends: no. */
CIO_EXTERN int cio_cancel(cio_task *t);

/* Gives up the handle: the task runs on and is freed when it ends. */
CIO_EXTERN void cio_detach(cio_task *t);

/* True once t has finished (returned, or was cancelled before it ran).
 * Aborts with a message if the handle was already released. */
CIO_EXTERN bool cio_task_done(const cio_task *t);

/* The task that is running, or NULL outside a task. */
CIO_EXTERN cio_task *cio_current_task(void);

/* The task's name: the one given in its options, or "task-N". Valid as long
 * as the handle is. NULL if t is NULL; aborts if the handle was released. */
CIO_EXTERN const char *cio_task_name(const cio_task *t);

/* The usable stack t has, or will have once it first runs: its
 * cio_task_opts.stack_size as the build honours it (rounded, raised to the
 * minimum). 0 if t is NULL. */
CIO_EXTERN size_t cio_task_stack_size(const cio_task *t);

/* asyncio.sleep. cio_sleep(0) lets every other ready task run once.
 * Returns: 0; -EINVAL for a negative or NaN duration.
 * Suspends: yes. */
CIO_EXTERN int cio_sleep(double seconds);

/* Lets every other ready task run once, then resumes. Suspends: yes. */
CIO_EXTERN int cio_yield(void);

/* ----------------------------------------- timeouts and shields (scopes) */

/* The fields every scope starts with, so the library can walk a task's
 * chain of open scopes. The library's; read none of them. */
#define CIO_SCOPE_FIELDS                                                                           \
    int kind;                   /* 1: a timeout, 2: a shield */                                    \
    void *outer;                /* the scope that was innermost before this one */                 \
    struct cio_task *task;      /* the task it belongs to; NULL: entered outside a task */         \
    int64_t outer_deadline_ns;  /* the task's effective deadline before it */

/* A timeout scope (asyncio.timeout, Trio's move_on_after) on the caller's
 * stack. */
typedef struct cio_timeout {
    CIO_SCOPE_FIELDS
    /* Absolute deadline on the loop clock, in seconds. */
    double deadline;
    /* 0, or -EINVAL for a NaN time, -EPERM outside a task. */
    int error;
} cio_timeout;

/* A shield scope (Trio's CancelScope(shield=True); asyncio.shield for a
 * block of code). */
typedef struct cio_shield {
    CIO_SCOPE_FIELDS
} cio_shield;

/* Enters a timeout scope: every suspending call until cio_timeout_exit
 * returns -ETIMEDOUT once the deadline (now + seconds) has passed. A
 * negative duration means a deadline already passed; a NaN one is an error
 * that cio_timeout_exit reports (-EINVAL), and the scope counts as expired
 * meanwhile so that nothing inside can hang. Scopes nest and are exited in
 * reverse order (anything else aborts with a message). */
CIO_EXTERN void cio_timeout_enter(cio_timeout *tm, double seconds);
CIO_EXTERN void cio_timeout_enter_at(cio_timeout *tm, double deadline);
/* Leaves the scope. Returns -ETIMEDOUT if its own deadline has passed (an
 * inner scope reports only its own expiry), -EINVAL / -EPERM for a scope
 * entered with a NaN time or outside a task, else 0. */
CIO_EXTERN int cio_timeout_exit(cio_timeout *tm);

/* Inside a shield, cancellation and the timeouts entered outside it are held
 * back until the shield exits (timeouts entered inside still apply), so that
 * cleanup can still do I/O. */
CIO_EXTERN void cio_shield_enter(cio_shield *sh);
CIO_EXTERN void cio_shield_exit(cio_shield *sh);

/* ---------------------------------------------- waiting for several tasks */

/* Awaits every task: writes each result to results[i] (results may be NULL),
 * releases every handle.
 * Returns: 0, or the first negative result in completion order; -EINVAL for
 *   a NULL array or element; -EPERM outside a task.
 * Cancellation: a failing task does not cancel the others. If the caller is
 *   cancelled (or times out), all are cancelled and awaited, and -ECANCELED
 *   (-ETIMEDOUT) is returned. */
CIO_EXTERN int cio_gather(cio_task **tasks, size_t n, int *results);

/* cio_await with a limit: on expiry it cancels t, waits for it to finish,
 * releases it and returns -ETIMEDOUT. Returns -EINVAL for a negative or NaN
 * timeout (t untouched). */
CIO_EXTERN int cio_wait_for(cio_task *t, double timeout);

/* Waits until one of the tasks has finished and returns its index (the
 * lowest if several are done); the handles stay valid. A negative timeout
 * waits without limit. Returns -ETIMEDOUT on expiry, -EINVAL for bad
 * arguments (n == 0, a NULL element, NaN), -EBUSY if another task already
 * awaits one of them. */
CIO_EXTERN int cio_wait_any(cio_task **tasks, size_t n, double timeout);

/* ------------------------------------------------------------ task groups */

/* asyncio.TaskGroup, Trio's nursery: a parent task's children, which it
 * waits for and which fail together. */
typedef struct cio_taskgroup cio_taskgroup;

/* Makes a group whose parent is the calling task. The parent must call
 * cio_taskgroup_wait exactly once, before it returns.
 * Returns: the group; NULL with errno EPERM outside a task, ENOMEM.
 * Suspends: no. */
CIO_EXTERN cio_taskgroup *cio_taskgroup_new(void);

/* Creates a child task in the group (scheduled as by cio_create_task; any
 * task may add children, the children themselves included). When a child
 * returns a negative result — except -ECANCELED from a child that was
 * cancelled, which asyncio does not count as a failure — the group fails:
 * every other child is cancelled, children not yet started never run, and
 * the parent's own suspending calls return -ECANCELED (outside shields)
 * until it reaches cio_taskgroup_wait, which lifts that. Only the group's
 * hold on the parent is lifted there: a real cio_cancel of the parent
 * stays.
 * Returns: 0; -ECANCELED if the group is failing or its parent's wait was
 *   interrupted; -EINVAL if g or fn is NULL (or opts is invalid); -EPERM
 *   outside a loop; -ENOMEM.
 * Suspends: no.
 * Ownership: the group owns the child; there is no handle to await. */
CIO_EXTERN int cio_taskgroup_create_task(cio_taskgroup *g, cio_fn fn, void *arg);
CIO_EXTERN int cio_taskgroup_create_task_opts(cio_taskgroup *g, cio_fn fn, void *arg,
                                              const cio_task_opts *opts);

/* Waits until every child has finished, then frees the group. Nothing
 * outlives it: children created while it waits are waited for too.
 * Returns: the group's first failure (the first negative child result, in
 *   completion order, as above) if there was one, else 0; if the parent is
 *   cancelled or its timeout expires while it waits, every child is
 *   cancelled and waited for, and the call returns -ECANCELED (-ETIMEDOUT)
 *   unless a child had failed, whose error wins (asyncio raises the
 *   children's errors over the parent's CancelledError). -EINVAL if g is
 *   NULL; -EPERM if the caller is not the group's parent (g is then not
 *   freed).
 * Suspends: yes, while children run.
 * Cancellation: cancelling the parent cancels the children when the parent
 *   reaches this call (as asyncio's TaskGroup, at `async with` exit); the
 *   call still waits for all of them, uninterruptibly.
 * Ownership: frees g (except on -EINVAL / -EPERM). */
CIO_EXTERN int cio_taskgroup_wait(cio_taskgroup *g);

/* ---------------------------------------------------------------- futures */

/* asyncio.Future with an int result: completed once, awaited by any number
 * of tasks. It may be completed from a task, from a callback (cio_call_later)
 * or from another thread by posting the completion with
 * cio_call_soon_threadsafe (a future itself is not thread-safe). */
typedef struct cio_future cio_future;

/* Returns: a pending future; NULL with errno ENOMEM. Works outside a loop.
 * Ownership: free it with cio_future_free. */
CIO_EXTERN cio_future *cio_future_new(void);

/* Completes f with `result` (any int; awaiters return it) and wakes every
 * awaiter in the order they came.
 * Returns: 0; -EALREADY if f is already done (set or cancelled); -EINVAL if
 *   f is NULL.
 * Suspends: no. */
CIO_EXTERN int cio_future_set_result(cio_future *f, int result);

/* Cancels f: every awaiter, present and future, gets -ECANCELED.
 * Returns: 0; -EALREADY if f is already done; -EINVAL if f is NULL.
 * Suspends: no. */
CIO_EXTERN int cio_future_cancel(cio_future *f);

/* True once f has a result or was cancelled; false for NULL. */
CIO_EXTERN bool cio_future_done(const cio_future *f);

/* Waits until f is done and returns its result (returns at once if it is).
 * Returns: f's result; -ECANCELED if f was cancelled; -EINVAL if f is NULL.
 * Suspends: yes, while f is pending.
 * Cancellation: a cancelled awaiter stops waiting; unlike asyncio's `await
 *   fut`, the future itself is not cancelled, since other tasks may await
 *   it too. Ownership: does not free f. */
CIO_EXTERN int cio_future_await(cio_future *f);

/* Frees f (NULL: no-op). Aborts with a message if tasks still await it. */
CIO_EXTERN void cio_future_free(cio_future *f);

/* -------------------------------------------------------- synchronisation */

/* asyncio's primitives. Common rules:
 *  - Waiters are served in the order they arrived (FIFO-fair).
 *  - Wake-ups are hand-offs: a release gives the lock (a permit, an item)
 *    directly to the first waiter, which therefore returns 0 even if it is
 *    cancelled between the hand-off and its next run (the cancellation then
 *    shows at its next suspending call). A waiter cancelled or timed out
 *    before that has already left the queue: it holds nothing, and the
 *    hand-off goes to the next waiter, so no wake-up is ever lost.
 *  - Waiting calls are checkpoints: a cancelled task (outside a shield) gets
 *    -ECANCELED even when it would not have had to wait.
 *  - An object belongs to the loop of the tasks that use it; none is
 *    thread-safe. Create them anywhere (they need no loop).
 *  - NULL objects: int calls return -EINVAL, bool queries false, void calls
 *    do nothing, constructors fail with errno EINVAL.
 *  - Freeing an object that tasks still wait on aborts with a message (it
 *    would leave them waiting on freed memory); the free functions accept
 *    NULL. */

/* asyncio.Event: a flag tasks wait to see set. */
typedef struct cio_event cio_event;
/* Returns: a clear event; NULL with errno ENOMEM. */
CIO_EXTERN cio_event *cio_event_new(void);
/* Sets the flag and wakes every waiter (each returns 0, even if the event is
 * cleared again before it runs). Suspends: no. */
CIO_EXTERN void cio_event_set(cio_event *e);
/* Clears the flag. Suspends: no. */
CIO_EXTERN void cio_event_clear(cio_event *e);
CIO_EXTERN bool cio_event_is_set(const cio_event *e);
/* Waits until the event is set (returns at once if it is).
 * Returns: 0; -EINVAL if e is NULL. Suspends: yes, while clear. */
CIO_EXTERN int cio_event_wait(cio_event *e);
CIO_EXTERN void cio_event_free(cio_event *e);

/* asyncio.Lock. Like asyncio's, it has no owner: any task may release it. */
typedef struct cio_lock cio_lock;
/* Returns: an unlocked lock; NULL with errno ENOMEM. */
CIO_EXTERN cio_lock *cio_lock_new(void);
/* Takes the lock, waiting while another task holds it.
 * Returns: 0 (the lock is held); -EINVAL if l is NULL.
 * Suspends: yes, while locked.
 * Cancellation: on -ECANCELED / -ETIMEDOUT the lock is not held. */
CIO_EXTERN int cio_lock_acquire(cio_lock *l);
/* Releases the lock, handing it to the first waiter if there is one.
 * Returns: 0; -EPERM if it is not locked; -EINVAL if l is NULL.
 * Suspends: no. */
CIO_EXTERN int cio_lock_release(cio_lock *l);
CIO_EXTERN bool cio_lock_locked(const cio_lock *l);
CIO_EXTERN void cio_lock_free(cio_lock *l);

/* asyncio.Condition, on a lock the caller provides. */
typedef struct cio_cond cio_cond;
/* Returns: a condition using l; NULL with errno EINVAL if l is NULL
 *   (asyncio makes its own lock; here pass one), ENOMEM.
 * Ownership: l stays the caller's; free the condition before it. */
CIO_EXTERN cio_cond *cio_cond_new(cio_lock *l);
/* Releases the lock, waits to be notified, and takes the lock again.
 * Returns: 0 when notified; -EPERM if the lock is not held (nothing
 *   happens); -EINVAL if c is NULL.
 * Suspends: yes.
 * Cancellation: -ECANCELED / -ETIMEDOUT end the wait, but like asyncio's the
 *   call takes the lock back before returning, uninterruptibly: the caller
 *   holds the lock whatever it returns (except -EPERM / -EINVAL). A waiter
 *   notified and then cancelled before it runs returns 0: the notification
 *   is never lost. */
CIO_EXTERN int cio_cond_wait(cio_cond *c);
/* Wakes up to n waiters, first come first. The caller should hold the lock
 * (asyncio insists; cio, single-threaded, does not check). Suspends: no. */
CIO_EXTERN void cio_cond_notify(cio_cond *c, size_t n);
/* Wakes every waiter. Suspends: no. */
CIO_EXTERN void cio_cond_notify_all(cio_cond *c);
CIO_EXTERN void cio_cond_free(cio_cond *c);

/* asyncio.Semaphore and asyncio.BoundedSemaphore. */
typedef struct cio_sem cio_sem;
/* Returns: a semaphore holding `value` permits; NULL with errno ENOMEM. A
 * bounded one refuses releases that would raise it above `value`. */
CIO_EXTERN cio_sem *cio_sem_new(unsigned value);
CIO_EXTERN cio_sem *cio_sem_new_bounded(unsigned value);
/* Takes a permit, waiting while there is none.
 * Returns: 0 (a permit is held); -EINVAL if s is NULL.
 * Suspends: yes, while no permit is free.
 * Cancellation: on -ECANCELED / -ETIMEDOUT no permit is held, and the permit
 *   a release would have given goes to the next waiter. */
CIO_EXTERN int cio_sem_acquire(cio_sem *s);
/* Gives a permit back: to the first waiter, else to the count.
 * Returns: 0; -EOVERFLOW for a bounded semaphore already at its start value
 *   (asyncio's ValueError), or a plain one at UINT_MAX; -EINVAL if s is NULL.
 * Suspends: no. */
CIO_EXTERN int cio_sem_release(cio_sem *s);
/* asyncio's locked(): true when no permit is free. */
CIO_EXTERN bool cio_sem_locked(const cio_sem *s);
/* The permits free now (0 for NULL). */
CIO_EXTERN unsigned cio_sem_value(const cio_sem *s);
CIO_EXTERN void cio_sem_free(cio_sem *s);

/* asyncio.Barrier: `parties` tasks wait until all have arrived. */
typedef struct cio_barrier cio_barrier;
/* Returns: a barrier; NULL with errno EINVAL for 0 parties (or more than
 *   INT32_MAX), ENOMEM. */
CIO_EXTERN cio_barrier *cio_barrier_new(unsigned parties);
/* Waits until `parties` tasks are waiting, then releases them all and
 * starts the next cycle at once.
 * Returns: the caller's index in order of arrival, 0 .. parties-1 (the last
 *   to arrive gets parties-1 and does not suspend); -EINVAL if b is NULL.
 * Suspends: yes, until the last party arrives.
 * Cancellation: a waiter cancelled or timed out before the release leaves
 *   the barrier (it no longer counts as arrived); one released and then
 *   cancelled before it runs still returns its index. */
CIO_EXTERN int cio_barrier_wait(cio_barrier *b);
/* Tasks waiting at the barrier in the current cycle (0 for NULL). */
CIO_EXTERN unsigned cio_barrier_n_waiting(const cio_barrier *b);
CIO_EXTERN void cio_barrier_free(cio_barrier *b);

/* ----------------------------------------------------------------- queues */

/* asyncio.Queue, LifoQueue and PriorityQueue of void * items, with
 * asyncio 3.13's shutdown. maxsize 0: unbounded. Storage grows by doubling,
 * so an allocation happens only when the queue reaches a new size. */
typedef struct cio_queue cio_queue;
/* Returns: a queue; NULL with errno ENOMEM (EINVAL for a NULL cmp). */
CIO_EXTERN cio_queue *cio_queue_new(size_t maxsize);
CIO_EXTERN cio_queue *cio_queue_new_lifo(size_t maxsize);
/* A priority queue: get returns the smallest item by cmp, which receives
 * the two items themselves (the void * put, not pointers to them) and
 * returns <0, 0 or >0 like strcmp. Items that compare equal come out in
 * the order they were put (stable). */
CIO_EXTERN cio_queue *cio_queue_new_priority(size_t maxsize,
                                             int (*cmp)(const void *a, const void *b));
/* Puts an item, waiting while the queue is full. A getter already waiting
 * receives it directly.
 * Returns: 0; -EPIPE once the queue is shut down (also for a put waiting
 *   when that happens: its item is not inserted); -ENOMEM; -EINVAL if q is
 *   NULL.
 * Suspends: yes, while full.
 * Cancellation: on -ECANCELED / -ETIMEDOUT the item was not inserted. */
CIO_EXTERN int cio_queue_put(cio_queue *q, void *item);
/* Takes the next item into *item, waiting while the queue is empty.
 * Returns: 0; -EPIPE once the queue is shut down and empty; -EINVAL if q or
 *   item is NULL.
 * Suspends: yes, while empty.
 * Cancellation: on -ECANCELED / -ETIMEDOUT no item was taken (none lost);
 *   a getter handed an item before it ran keeps it and returns 0. */
CIO_EXTERN int cio_queue_get(cio_queue *q, void **item);
/* put and get without waiting; also callable from callbacks.
 * Returns: as put / get, and -EAGAIN when full / empty. */
CIO_EXTERN int cio_queue_put_nowait(cio_queue *q, void *item);
CIO_EXTERN int cio_queue_get_nowait(cio_queue *q, void **item);
/* Items in the queue (0 for NULL). */
CIO_EXTERN size_t cio_queue_size(const cio_queue *q);
/* Marks one item taken by a get as processed (for cio_queue_join). Returns
 * int where the contract has void, to report misuse: 0; -EINVAL if called
 * more times than items were put (asyncio's ValueError) or q is NULL.
 * Suspends: no. */
CIO_EXTERN int cio_queue_task_done(cio_queue *q);
/* Waits until every item put has been marked done.
 * Returns: 0; -EINVAL if q is NULL. Suspends: yes, while items are
 * unfinished. */
CIO_EXTERN int cio_queue_join(cio_queue *q);
/* asyncio 3.13's Queue.shutdown: from now on puts return -EPIPE (waiting
 * putters too, their items not inserted), gets return what is left and then
 * -EPIPE (waiting getters at once). immediate: the items left are dropped
 * (counted as done, so join may return) and gets fail at once. Suspends:
 * no. */
CIO_EXTERN void cio_queue_shutdown(cio_queue *q, bool immediate);
/* Frees q (not the items in it). Aborts with a message if tasks still wait
 * on it. */
CIO_EXTERN void cio_queue_free(cio_queue *q);

/* ------------------------------------------- callbacks (no stack, no wait) */

typedef void (*cio_cb)(void *arg);

/* A scheduled callback. Its id is never reused while the loop lives; id 0
 * means "not scheduled" (the call failed and set errno). */
typedef struct cio_handle {
    uint64_t id;
} cio_handle;

/* Run cb(arg) on the loop soon (FIFO), after delay seconds, or at a time on
 * the loop clock (by deadline, then FIFO). Callbacks run on the loop's own
 * stack, never inside a task: they may not suspend (suspending calls made
 * there return -EPERM).
 * Returns: a handle; id 0 with errno EPERM outside a loop, EINVAL for a NULL
 *   cb or a NaN time, ENOMEM. A negative delay runs the callback as soon as
 *   timers are next checked. */
CIO_EXTERN cio_handle cio_call_soon(cio_cb cb, void *arg);
CIO_EXTERN cio_handle cio_call_later(double delay, cio_cb cb, void *arg);
CIO_EXTERN cio_handle cio_call_at(double when, cio_cb cb, void *arg);

/* Cancels a scheduled callback. A no-op if it already ran, was cancelled, or
 * belongs to no loop running on this thread. */
CIO_EXTERN void cio_handle_cancel(cio_handle h);

/* From any thread: run cb(arg) on loop soon, waking the loop if it is
 * blocked waiting for the OS. The loop must still be running. If tasks
 * wait for something only such a callback will do, hold a cio_loop_ref
 * meanwhile, or cio_run may find them deadlocked (see cio_run).
 * Returns: 0; -EINVAL for a NULL loop or cb; -ENOMEM. */
CIO_EXTERN int cio_call_soon_threadsafe(cio_loop *loop, cio_cb cb, void *arg);

/* --------------------------------------------------- I/O on descriptors */

/* Suspend until fd is readable / writable (or has an error or hang-up, which
 * the next read or write then reports). Returns 0; -EBADF if fd is not open
 * or is closed with cio_close meanwhile. Suspends: yes. */
CIO_EXTERN int cio_wait_readable(int fd);
CIO_EXTERN int cio_wait_writable(int fd);

/* Like read(2): up to n bytes, 0 at end of file. Works on sockets, pipes,
 * terminals and regular files; never blocks the loop (regular files and
 * block devices are read on the thread pool). Descriptors that are not
 * regular files are switched to O_NONBLOCK on first use.
 * Returns: the count; -errno (-EBADF, -EINVAL for a NULL buffer...).
 * Suspends: yes, when no data is there yet.
 * Cancellation: nothing has been read when -ECANCELED is returned. */
CIO_EXTERN ssize_t cio_read(int fd, void *buf, size_t n);

/* Like write(2), but writes all n bytes (retrying partial writes) or fails.
 * A peer that has gone away gives -EPIPE, never SIGPIPE.
 * Returns: n; -errno. If cancelled or timed out after part of the data went
 *   out, returns the error; how much was written is then unknown to the
 *   caller, as with any interrupted stream write. */
CIO_EXTERN ssize_t cio_write(int fd, const void *buf, size_t n);

/* pread/pwrite at an offset (regular files, on the thread pool; other
 * descriptors give -ESPIPE, as the system calls do). cio_pwrite writes all
 * n bytes or fails. */
CIO_EXTERN ssize_t cio_pread(int fd, void *buf, size_t n, off_t off);
CIO_EXTERN ssize_t cio_pwrite(int fd, const void *buf, size_t n, off_t off);

/* accept4 that suspends; the new descriptor is non-blocking and
 * close-on-exec. addr/len may be NULL. */
CIO_EXTERN int cio_accept(int listen_fd, struct sockaddr *addr, socklen_t *len);

/* connect that suspends until the connection is made or fails (-ECONNREFUSED,
 * -ETIMEDOUT...). fd is switched to non-blocking. */
CIO_EXTERN int cio_connect(int fd, const struct sockaddr *addr, socklen_t len);

/* recvfrom / sendto that suspend (datagrams: sendto sends one datagram). */
CIO_EXTERN ssize_t cio_recvfrom(int fd, void *buf, size_t n, struct sockaddr *addr,
                                socklen_t *len);
CIO_EXTERN ssize_t cio_sendto(int fd, const void *buf, size_t n, const struct sockaddr *addr,
                              socklen_t len);

/* Closes fd: tasks waiting on it wake with -EBADF, the backend forgets it.
 * Use it, not close(2), for descriptors cio has waited on or done I/O on:
 * the loop caches what kind of file a descriptor is.
 * Returns: 0; -EBADF. Suspends: no. */
CIO_EXTERN int cio_close(int fd);

/* ----------------------------------------------------------------- threads */

/* Runs fn(arg) on the thread pool while the loop runs other tasks, and
 * returns its result. The pool has CIO_THREADPOOL_SIZE workers (default 4,
 * at most 256), started on first use.
 * Returns: fn's result; -EINVAL if fn is NULL; -EPERM outside a task.
 * Cancellation: fn may use the caller's memory, so cio_to_thread still waits
 *   for it to finish, then returns -ECANCELED (or -ETIMEDOUT). */
CIO_EXTERN int cio_to_thread(cio_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* CIO_H */
