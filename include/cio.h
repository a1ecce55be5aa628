/* SPDX-License-Identifier: MIT */
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
 *  - Misuse that cannot be reported as a value stops the process with one
 *    line on stderr, "cio: fatal: <call>: <what>" (then abort()), rather
 *    than run on into a crash without a word or a wrong answer:
 *      - a call on an object after its release (a second cio_lock_free, a
 *        cio_stream_write after cio_stream_close, a second
 *        cio_taskgroup_wait...; every object with a _free or a closing
 *        call): "cio: fatal: cio_lock_free: the lock was already freed".
 *        Each object carries a magic word that its release overwrites; a
 *        call on memory that malloc has meanwhile handed out again to an
 *        object of the same type cannot be told apart (an ASan build
 *        reports that one as a heap-use-after-free);
 *      - a call on a released task handle (awaited, gathered, waited for,
 *        detached): "cio: fatal: cio_await: the task handle was already
 *        released". Handles are pointers, so they carry no generation of
 *        their own: instead a released task's struct is reused only after
 *        1024 more tasks have been released, and until then every call
 *        that takes a task catches the stale handle (without this a
 *        second cio_await after a cio_create_task waited for the new
 *        task);
 *      - a stack overflow (see cio_create_task).
 */
#ifndef CIO_H
#define CIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* ----------------------------------------------------------------- version */

/* The release this header belongs to: the one place the version is written.
 * CMake reads these three lines (project() takes its VERSION from them), and
 * cio.pc, the CMake package and the Debian packages take it from CMake.
 * Semantic versioning: PATCH for fixes, MINOR for additions, MAJOR for
 * changes that break programs written against an earlier release. */
#define CIO_VERSION_MAJOR 0
#define CIO_VERSION_MINOR 2
#define CIO_VERSION_PATCH 0
/* 0xMMmmpp, as libuv's UV_VERSION_HEX: compares as the versions do, e.g.
 * #if CIO_VERSION_HEX >= 0x000200. */
#define CIO_VERSION_HEX                                                                            \
    ((CIO_VERSION_MAJOR << 16) | (CIO_VERSION_MINOR << 8) | CIO_VERSION_PATCH)

/* The version of the library the program runs with, as CIO_VERSION_HEX
 * encodes it. It differs from CIO_VERSION_HEX when the program was built
 * against another release's header than the shared library it loaded.
 * Suspends: no. */
CIO_EXTERN unsigned cio_version(void);
/* The same as "MAJOR.MINOR.PATCH", e.g. "0.2.0": a static string.
 * Suspends: no. */
CIO_EXTERN const char *cio_version_string(void);

/* ------------------------------------------------------------------ errors */

/* "The peer closed before the requested data arrived." Outside the errno
 * range, so it can never be confused with a system error. */
#define CIO_EOF (-4095 - 1)

/* Name-resolution failures (getaddrinfo's EAI_* codes), as negative codes
 * below CIO_EOF: X(name, offset, description), so that the codes and the
 * names cio_strerror gives them are made from one list and cannot drift.
 * EAI_MEMORY and EAI_SYSTEM are reported as -ENOMEM and -errno instead. */
#define CIO_EAI_MAP(X)                                                                             \
    X(ADDRFAMILY, 1, "the host has no address in the requested family")                           \
    X(AGAIN, 2, "temporary failure in name resolution")                                           \
    X(BADFLAGS, 3, "invalid flags in the resolver hints")                                         \
    X(FAIL, 4, "non-recoverable failure in name resolution")                                      \
    X(FAMILY, 5, "address family not supported by the resolver")                                  \
    X(NODATA, 6, "the host has no address")                                                       \
    X(NONAME, 7, "name or service not known")                                                     \
    X(SERVICE, 8, "service not available for the socket type")                                    \
    X(SOCKTYPE, 9, "socket type not supported by the resolver")

#define CIO_EAI_ENUM_ENTRY(name, offset, text) CIO_EAI_##name = CIO_EOF - (offset),
enum cio_eai_code { CIO_EAI_MAP(CIO_EAI_ENUM_ENTRY) };
#undef CIO_EAI_ENUM_ENTRY

/* A short English name for any code the library returns (negative errno,
 * CIO_EOF, CIO_EAI_*). Never NULL; unknown codes give "unknown error". Suspends: no. */
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
 * On io_uring the thread keeps its ring (one descriptor) for its next loop
 * and closes it when it exits: closing an io_uring makes the kernel, tens
 * of milliseconds later, interrupt the thread's next blocking call (a read
 * with SO_RCVTIMEO, epoll_wait: EINTR), which cio_run must not leave behind.
 * A forked child closes its copy.
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

/* The loop's clock, in seconds (CLOCK_MONOTONIC). Works outside a loop too. Suspends: no. */
CIO_EXTERN double cio_now(void);

/* The loop running on this thread, or NULL outside cio_run. Suspends: no. */
CIO_EXTERN cio_loop *cio_running_loop(void);

/* The name of the backend the running loop uses ("epoll", "poll", ...), or
 * NULL outside a loop. Suspends: no. */
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
     * since each switch keeps two ucontext_t on the stack.
     * Compile task code with -fstack-clash-protection (GCC 8+, Clang 11+):
     * a frame larger than a page (a big local array, an alloca) then
     * touches its pages in order, so an overflow faults in the guard page
     * or runs through the canary instead of jumping over them into another
     * task's stack, where nothing can catch it. */
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
 * instead: the overflow is caught at the task's next switch, or, if it runs
 * on past the stacks packed below into memory that faults first, by the
 * SIGSEGV handler, which finds the running task's canary gone (or the fault
 * below its stack): either way the process stops with "cio: fatal: stack
 * overflow in task 'NAME' (stack size N bytes): ...". It may already have
 * overwritten a neighbouring task's stack by then, and an overflow that
 * skips the canary with a large frame and never faults is not caught (see
 * -fstack-clash-protection at cio_task_opts.stack_size). Sanitizer builds
 * leave SIGSEGV to the sanitizer.
 * Returns: the task handle; NULL with errno EPERM outside a loop, EINVAL if
 *   fn is NULL, ENOMEM.
 * Ownership: the caller must cio_await, cio_gather, cio_wait_for or
 *   cio_detach the handle exactly once. Suspends: no. */
CIO_EXTERN cio_task *cio_create_task(cio_fn fn, void *arg);
CIO_EXTERN cio_task *cio_create_task_opts(cio_fn fn, void *arg, const cio_task_opts *opts);

/* Awaits t: suspends until t finishes, returns its result and releases t (the
 * handle is invalid afterwards, whatever is returned, except for -EINVAL,
 * -EPERM, -EBUSY and -EDEADLK, where nothing happened).
 * Returns: t's result; -EINVAL if t is NULL; -EPERM outside a task; -EDEADLK
 *   if t is the calling task; -EBUSY if another task already awaits t.
 * Cancellation: if the caller is cancelled or its timeout expires meanwhile,
 *   t is cancelled too, cio_await waits for t to finish and returns
 *   -ECANCELED (or -ETIMEDOUT). Suspends: yes. */
CIO_EXTERN int cio_await(cio_task *t);

/* Asks t to stop: its current suspension, and every later one outside a
 * shield, returns -ECANCELED. A task cancelled before it ever ran does not
 * run at all and finishes with -ECANCELED (as asyncio's). Cancelling the
 * running task itself is allowed.
 * Returns: 0; -EALREADY if t already finished; -EINVAL if t is NULL.
 * Suspends: no. */
CIO_EXTERN int cio_cancel(cio_task *t);

/* Gives up the handle: the task runs on and is freed when it ends. Suspends: no. */
CIO_EXTERN void cio_detach(cio_task *t);

/* True once t has finished (returned, or was cancelled before it ran).
 * Aborts with a message if the handle was already released. Suspends: no. */
CIO_EXTERN bool cio_task_done(const cio_task *t);

/* The task that is running, or NULL outside a task. Suspends: no. */
CIO_EXTERN cio_task *cio_current_task(void);

/* The task's name: the one given in its options, or "task-N". Valid as long
 * as the handle is. NULL if t is NULL; aborts if the handle was released. Suspends: no. */
CIO_EXTERN const char *cio_task_name(const cio_task *t);

/* The usable stack t has, or will have once it first runs: its
 * cio_task_opts.stack_size as the build honours it (rounded, raised to the
 * minimum). 0 if t is NULL. Suspends: no. */
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
 * reverse order (anything else aborts with a message). Suspends: no. */
CIO_EXTERN void cio_timeout_enter(cio_timeout *tm, double seconds);
CIO_EXTERN void cio_timeout_enter_at(cio_timeout *tm, double deadline);
/* Leaves the scope. Returns -ETIMEDOUT if its own deadline has passed (an
 * inner scope reports only its own expiry), -EINVAL / -EPERM for a scope
 * entered with a NaN time or outside a task, else 0. Suspends: no. */
CIO_EXTERN int cio_timeout_exit(cio_timeout *tm);

/* Inside a shield, cancellation and the timeouts entered outside it are held
 * back until the shield exits (timeouts entered inside still apply), so that
 * cleanup can still do I/O. Suspends: no. */
CIO_EXTERN void cio_shield_enter(cio_shield *sh);
CIO_EXTERN void cio_shield_exit(cio_shield *sh);

/* ---------------------------------------------- waiting for several tasks */

/* Awaits every task: writes each result to results[i] (results may be NULL),
 * releases every handle.
 * Returns: 0, or the first negative result in completion order; -EINVAL for
 *   a NULL array or element; -EPERM outside a task.
 * Cancellation: a failing task does not cancel the others. If the caller is
 *   cancelled (or times out), all are cancelled and awaited, and -ECANCELED
 *   (-ETIMEDOUT) is returned. Suspends: yes. */
CIO_EXTERN int cio_gather(cio_task **tasks, size_t n, int *results);

/* cio_await with a limit: on expiry it cancels t, waits for it to finish,
 * releases it and returns -ETIMEDOUT. Returns -EINVAL for a negative or NaN
 * timeout (t untouched). Suspends: yes. */
CIO_EXTERN int cio_wait_for(cio_task *t, double timeout);

/* Waits until one of the tasks has finished and returns its index (the
 * lowest if several are done); the handles stay valid. A negative timeout
 * waits without limit. Returns -ETIMEDOUT on expiry, -EINVAL for bad
 * arguments (n == 0, a NULL element, NaN), -EBUSY if another task already
 * awaits one of them. Suspends: yes. */
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
 * Ownership: free it with cio_future_free. Suspends: no. */
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

/* True once f has a result or was cancelled; false for NULL. Suspends: no. */
CIO_EXTERN bool cio_future_done(const cio_future *f);

/* Waits until f is done and returns its result (returns at once if it is).
 * Returns: f's result; -ECANCELED if f was cancelled; -EINVAL if f is NULL.
 * Suspends: yes, while f is pending.
 * Cancellation: a cancelled awaiter stops waiting; unlike asyncio's `await
 *   fut`, the future itself is not cancelled, since other tasks may await
 *   it too. Ownership: does not free f. */
CIO_EXTERN int cio_future_await(cio_future *f);

/* Frees f (NULL: no-op). Aborts with a message if tasks still await it. Suspends: no. */
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
/* Returns: a clear event; NULL with errno ENOMEM. Suspends: no. */
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
/* Returns: an unlocked lock; NULL with errno ENOMEM. Suspends: no. */
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
 * Ownership: l stays the caller's; free the condition before it. Suspends: no. */
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
 * bounded one refuses releases that would raise it above `value`. Suspends: no. */
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
/* asyncio's locked(): true when no permit is free. Suspends: no. */
CIO_EXTERN bool cio_sem_locked(const cio_sem *s);
/* The permits free now (0 for NULL). Suspends: no. */
CIO_EXTERN unsigned cio_sem_value(const cio_sem *s);
CIO_EXTERN void cio_sem_free(cio_sem *s);

/* asyncio.Barrier: `parties` tasks wait until all have arrived. */
typedef struct cio_barrier cio_barrier;
/* Returns: a barrier; NULL with errno EINVAL for 0 parties (or more than
 *   INT32_MAX), ENOMEM. Suspends: no. */
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
/* Tasks waiting at the barrier in the current cycle (0 for NULL). Suspends: no. */
CIO_EXTERN unsigned cio_barrier_n_waiting(const cio_barrier *b);
CIO_EXTERN void cio_barrier_free(cio_barrier *b);

/* ----------------------------------------------------------------- queues */

/* asyncio.Queue, LifoQueue and PriorityQueue of void * items, with
 * asyncio 3.13's shutdown. maxsize 0: unbounded. Storage grows by doubling,
 * so an allocation happens only when the queue reaches a new size. */
typedef struct cio_queue cio_queue;
/* Returns: a queue; NULL with errno ENOMEM (EINVAL for a NULL cmp). Suspends: no. */
CIO_EXTERN cio_queue *cio_queue_new(size_t maxsize);
CIO_EXTERN cio_queue *cio_queue_new_lifo(size_t maxsize);
/* A priority queue: get returns the smallest item by cmp, which receives
 * the two items themselves (the void * put, not pointers to them) and
 * returns <0, 0 or >0 like strcmp. Items that compare equal come out in
 * the order they were put (stable). Suspends: no. */
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
 * Returns: as put / get, and -EAGAIN when full / empty. Suspends: no. */
CIO_EXTERN int cio_queue_put_nowait(cio_queue *q, void *item);
CIO_EXTERN int cio_queue_get_nowait(cio_queue *q, void **item);
/* Items in the queue (0 for NULL). Suspends: no. */
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
 * on it. Suspends: no. */
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
 *   timers are next checked. Suspends: no. */
CIO_EXTERN cio_handle cio_call_soon(cio_cb cb, void *arg);
CIO_EXTERN cio_handle cio_call_later(double delay, cio_cb cb, void *arg);
CIO_EXTERN cio_handle cio_call_at(double when, cio_cb cb, void *arg);

/* Cancels a scheduled callback. A no-op if it already ran, was cancelled, or
 * belongs to no loop running on this thread. Suspends: no. */
CIO_EXTERN void cio_handle_cancel(cio_handle h);

/* From any thread: run cb(arg) on loop soon, waking the loop if it is
 * blocked waiting for the OS. The loop must still be running. If tasks
 * wait for something only such a callback will do, hold a cio_loop_ref
 * meanwhile, or cio_run may find them deadlocked (see cio_run).
 * Returns: 0; -EINVAL for a NULL loop or cb; -ENOMEM. Suspends: no. */
CIO_EXTERN int cio_call_soon_threadsafe(cio_loop *loop, cio_cb cb, void *arg);

/* --------------------------------------------------- I/O on descriptors */

/* Suspend until fd is readable / writable (or has an error or hang-up, which
 * the next read or write then reports). Returns 0; -EBADF if fd is not open
 * or is closed with cio_close meanwhile. Suspends: yes.
 * Waiting leaves the descriptor's flags alone: one that another library
 * owns and uses blocking stays blocking (only cio's own I/O calls, below,
 * switch a descriptor to O_NONBLOCK). */
CIO_EXTERN int cio_wait_readable(int fd);
CIO_EXTERN int cio_wait_writable(int fd);

/* Tells the loop that fd was closed outside cio (a library called
 * close(2) on it), so that the number, once reused, is a new descriptor to
 * it: tasks still waiting on fd wake with -EBADF, and what the backend
 * watched or had in flight on it is dropped. cio also notices by itself
 * when a descriptor it only waits on (never read or written through cio)
 * has changed behind its number (another device or inode at the next wait
 * or readiness report; a refusal from epoll), and recovers the same way;
 * a descriptor cio does I/O on must be closed with cio_close, or told
 * with cio_fd_forget.
 * Returns: 0 (also for a number cio never saw); -EBADF for a negative fd;
 *   -EPERM outside a loop. Suspends: no. */
CIO_EXTERN int cio_fd_forget(int fd);

/* Like read(2): up to n bytes, 0 at end of file. Works on sockets, pipes,
 * terminals and regular files; never blocks the loop (regular files and
 * block devices are read through io_uring, or on the thread pool with the
 * other backends). Descriptors that are not regular files are switched to
 * O_NONBLOCK on first use.
 * Returns: the count; -errno (-EBADF, -EINVAL for a NULL buffer...).
 * Suspends: yes, when no data is there yet (on io_uring: always, unless
 *   data received earlier waits in the loop's buffers).
 * On io_uring a stream socket's data is received ahead into the loop's
 *   buffers: once cio_read has been used on it, read it only with cio_read
 *   (or a cio_stream), never read(2), or bytes come out of order.
 * Cancellation: nothing has been read when -ECANCELED is returned (a read
 *   the kernel completed before it could be cancelled returns its count). */
CIO_EXTERN ssize_t cio_read(int fd, void *buf, size_t n);

/* Like write(2), but writes all n bytes (retrying partial writes) or fails.
 * A peer that has gone away gives -EPIPE, never SIGPIPE.
 * Returns: n; -errno. If cancelled or timed out after part of the data went
 *   out, returns the error; how much was written is then unknown to the
 *   caller, as with any interrupted stream write. Suspends: yes. */
CIO_EXTERN ssize_t cio_write(int fd, const void *buf, size_t n);

/* pread/pwrite at an offset (regular files, through io_uring or on the
 * thread pool; other descriptors give -ESPIPE, as the system calls do).
 * cio_pwrite writes all n bytes or fails. Suspends: yes. */
CIO_EXTERN ssize_t cio_pread(int fd, void *buf, size_t n, off_t off);
CIO_EXTERN ssize_t cio_pwrite(int fd, const void *buf, size_t n, off_t off);

/* open(2) that suspends: IORING_OP_OPENAT on io_uring, the thread pool
 * with the other backends. O_CLOEXEC is always added to flags.
 * Returns: the descriptor; -EINVAL for a NULL path; open's -errno.
 * Suspends: yes.
 * Cancellation: -ECANCELED if nothing was opened; an open the kernel
 *   completed before it could be cancelled returns its descriptor.
 * Ownership: the caller closes the descriptor (cio_close). */
CIO_EXTERN int cio_open(const char *path, int flags, mode_t mode);

/* fsync(2) that suspends (IORING_OP_FSYNC on io_uring, the thread pool
 * with the other backends).
 * Returns: 0; -errno (-EBADF, -EINVAL for a descriptor that cannot be
 *   synced). Suspends: yes.
 * Cancellation: -ECANCELED, the data may or may not be on disk. */
CIO_EXTERN int cio_fsync(int fd);

/* accept4 that suspends; the new descriptor is non-blocking and
 * close-on-exec. addr/len may be NULL. Suspends: yes. */
CIO_EXTERN int cio_accept(int listen_fd, struct sockaddr *addr, socklen_t *len);

/* connect that suspends until the connection is made or fails (-ECONNREFUSED,
 * -ETIMEDOUT...). fd is switched to non-blocking. Suspends: yes. */
CIO_EXTERN int cio_connect(int fd, const struct sockaddr *addr, socklen_t len);

/* recvfrom / sendto that suspend (datagrams: sendto sends one datagram). Suspends: yes. */
CIO_EXTERN ssize_t cio_recvfrom(int fd, void *buf, size_t n, struct sockaddr *addr,
                                socklen_t *len);
CIO_EXTERN ssize_t cio_sendto(int fd, const void *buf, size_t n, const struct sockaddr *addr,
                              socklen_t len);

/* Closes fd: tasks waiting on it wake with -EBADF, the backend forgets it
 * (on io_uring, operations in flight on fd are cancelled, and their tasks
 * wake with -EBADF once the kernel has let go of their buffers). On
 * io_uring the number itself is released only once no request naming it
 * can still run (a few loop iterations at most), so that a descriptor
 * opened meanwhile never gets another's data, connections or writes;
 * cio_close returns at once all the same, and cio's calls treat fd as
 * closed from then on.
 * Use it, not close(2), for descriptors cio has waited on or done I/O on:
 * the loop caches what kind of file a descriptor is.
 * Returns: 0; -EBADF. Suspends: no. */
CIO_EXTERN int cio_close(int fd);

/* ------------------------------------------------------------- networking */

struct addrinfo;

/* getaddrinfo(3) that does not block the loop: the lookup runs on the
 * thread pool, in a lane of its own (two workers), so that slow DNS delays
 * only other lookups, never file I/O or cio_to_thread.
 * Returns: 0 and *res (free it with freeaddrinfo); -EINVAL (NULL res, or
 *   both host and service NULL); a negative CIO_EAI_* code for resolver
 *   failures (CIO_EAI_NONAME: unknown host or service); -ENOMEM; -errno.
 * Suspends: yes.
 * Cancellation: a running lookup cannot be interrupted (glibc offers no
 *   way): the call still waits for it, frees its result and then returns
 *   -ECANCELED (-ETIMEDOUT). A lookup against unreachable DNS servers takes
 *   the resolver's own timeout (resolv.conf, RES_OPTIONS).
 * Ownership: *res is the caller's. */
CIO_EXTERN int cio_getaddrinfo(const char *host, const char *service,
                               const struct addrinfo *hints, struct addrinfo **res);

/* Connects a TCP socket to host:port, trying every address the name has,
 * IPv6 and IPv4 interleaved, with Happy Eyeballs (RFC 8305): the next
 * attempt starts 250 ms after the previous one (at once if it fails), the
 * attempts race, the first connection made wins and the others are closed.
 * TCP_NODELAY is set on the result.
 * Returns: the connected descriptor (non-blocking, close-on-exec); -EINVAL
 *   for a NULL host or port; resolver errors as cio_getaddrinfo's; else the
 *   error of the last attempt to fail (-ECONNREFUSED, -ENETUNREACH...).
 * Suspends: yes.
 * Cancellation: every attempt is stopped and its socket closed.
 * Ownership: the caller closes the descriptor (cio_close). */
CIO_EXTERN int cio_tcp_connect(const char *host, const char *port);

/* Options of cio_tcp_listen_opts; zero means the default. */
typedef struct cio_listen_opts {
    /* listen(2)'s backlog; 0: SOMAXCONN. */
    int backlog;
    /* Set SO_REUSEPORT, so that several sockets (processes, threads with a
     * loop each) can listen on the same port and the kernel spreads the
     * connections among them. */
    bool reuse_port;
    /* Set IPV6_V6ONLY on an IPv6 socket: it takes IPv6 connections only,
     * so "::" leaves IPv4 to another socket. Off: the system's default
     * (net.ipv6.bindv6only, 0 on Linux: "::" takes IPv4 too). No effect
     * on an IPv4 address. */
    bool v6only;
} cio_listen_opts;

/* A TCP socket listening on host:port, SO_REUSEADDR set. host NULL: every
 * local address (the wildcard); port "0": any free port (see
 * cio_local_port). Binds the first address the name resolves to that can
 * be bound.
 * Returns: the listening descriptor (non-blocking, close-on-exec); -EINVAL
 *   for a NULL port or a negative backlog; resolver errors as
 *   cio_getaddrinfo's (a port that is not a number or a service name, or is
 *   above 65535: CIO_EAI_SERVICE or CIO_EAI_NONAME); -EADDRINUSE...
 * Suspends: yes (the lookup). Cancellation: nothing is left open.
 * Ownership: the caller closes the descriptor (cio_close). */
CIO_EXTERN int cio_tcp_listen(const char *host, const char *port, int backlog);
CIO_EXTERN int cio_tcp_listen_opts(const char *host, const char *port,
                                   const cio_listen_opts *opts);

/* Connects to / listens on a Unix stream socket at a file-system path. The
 * listener does not remove a file already at the path (-EADDRINUSE) nor
 * the one it makes (unlink it when done).
 * Returns: the descriptor (non-blocking, close-on-exec); -EINVAL for a NULL
 *   or empty path or a negative backlog; -ENAMETOOLONG for a path longer
 *   than sockaddr_un holds; -ENOENT, -ECONNREFUSED, -EADDRINUSE...
 * Suspends: cio_unix_connect yes (a full backlog); cio_unix_listen no. */
CIO_EXTERN int cio_unix_connect(const char *path);
CIO_EXTERN int cio_unix_listen(const char *path, int backlog);

/* A UDP socket bound to host:port (host NULL: the wildcard; port "0": any
 * free port), for cio_recvfrom / cio_sendto; or one connected to
 * host:port (bound to a free local port), for cio_read / cio_write of
 * whole datagrams.
 * Returns: the descriptor (non-blocking, close-on-exec); -EINVAL for a
 *   NULL port (or host, to connect); resolver errors as cio_getaddrinfo's.
 * Suspends: yes (the lookup). */
CIO_EXTERN int cio_udp_bind(const char *host, const char *port);
CIO_EXTERN int cio_udp_connect(const char *host, const char *port);

/* The local port an IPv4 or IPv6 socket is bound to.
 * Returns: the port (0: not bound yet); -EBADF; -ENOTSOCK; -EAFNOSUPPORT for
 *   a socket of another family (Unix). Suspends: no. */
CIO_EXTERN int cio_local_port(int fd);

/* ---------------------------------------------------------------- streams */

/* A buffered byte stream over a connection (asyncio's StreamReader and
 * StreamWriter in one object). The stream is an interface: a plain socket
 * or pipe today, TLS behind the same calls. One task may read while
 * another writes; two tasks reading (or two writing) at once interleave
 * their data in an unspecified order. */
typedef struct cio_stream cio_stream;

/* The default high-water mark of the write buffer (asyncio's). */
#define CIO_STREAM_HIGH_WATER (64u * 1024u)

/* Wraps a connected descriptor (socket, pipe, terminal) in a stream.
 * Returns: the stream; NULL with errno EINVAL (fd < 0) or ENOMEM.
 * Ownership: the stream owns fd from here on, even on failure (it is then
 *   closed): release both with cio_stream_close. Suspends: no. */
CIO_EXTERN cio_stream *cio_stream_new(int fd);

/* cio_tcp_connect, wrapped in a stream.
 * Returns: the stream; NULL with errno set to the positive form of
 *   cio_tcp_connect's error (or, for a resolver failure, EHOSTUNREACH —
 *   errno cannot hold a CIO_EAI_* code; cio_tcp_connect gives the detail).
 * Suspends: yes. Cancellation: NULL, errno ECANCELED, nothing left open.
 * Ownership: the caller closes the stream (cio_stream_close). */
CIO_EXTERN cio_stream *cio_open_connection(const char *host, const char *port);

/* Reads up to n bytes: what the buffer holds, else what one read of the
 * connection gives.
 * Returns: the count, 0 at end of stream (or n == 0); -EINVAL for a NULL
 *   buf; -ECONNRESET, -errno.
 * Suspends: while nothing is buffered and nothing arrives.
 * Cancellation: nothing is consumed. */
CIO_EXTERN ssize_t cio_stream_read(cio_stream *s, void *buf, size_t n);

/* Reads exactly n bytes.
 * Returns: n; CIO_EOF if the stream ends first; -errno. On any error the
 *   bytes that did arrive stay in the stream for the next read.
 * Suspends: until n bytes are there. Cancellation: nothing is consumed.
 * Memory: the stream buffers up to n bytes. */
CIO_EXTERN ssize_t cio_stream_readexactly(cio_stream *s, void *buf, size_t n);

/* Reads one line, '\n' included, and NUL-terminates it in buf (so a line
 * takes its length + 1 bytes of cap).
 * Returns: the line's length; 0 at a clean end of stream (nothing left);
 *   CIO_EOF if the stream ends inside a line; -ENOBUFS if the line does not
 *   fit in cap; -EINVAL for a NULL buf or cap 0; -errno. On CIO_EOF and
 *   -ENOBUFS (and every other error) the bytes stay in the stream: read them
 *   with cio_stream_read, or a larger buffer.
 * Suspends: until a whole line is there. Cancellation: nothing consumed. */
CIO_EXTERN ssize_t cio_stream_readline(cio_stream *s, char *buf, size_t cap);

/* Reads up to and including the separator sep[0..seplen) (not
 * NUL-terminated).
 * Returns: the length, separator included; CIO_EOF if the stream ends
 *   first; -ENOBUFS if no separator is within the first cap bytes; -EINVAL
 *   for a NULL or empty separator or NULL buf; -errno. Nothing is consumed
 *   on any error.
 * Suspends: until the separator is there. Cancellation: nothing consumed. */
CIO_EXTERN ssize_t cio_stream_readuntil(cio_stream *s, const void *sep, size_t seplen,
                                        void *buf, size_t cap);

/* Queues n bytes for sending: what the connection takes at once goes out
 * now, the rest is buffered and sent in the background by a flusher task.
 * Suspends only while the unsent data is above the high-water mark, until
 * it is back under a quarter of it (backpressure): memory stays bounded
 * however much a slow peer leaves unread.
 * Returns: 0; -EPIPE after cio_stream_write_eof (or the peer has gone);
 *   the error that stopped the background sending (-ECONNRESET...), which
 *   every later write and drain returns too; -EINVAL for a NULL buf.
 * Suspends: above the high-water mark.
 * Cancellation: returns -ECANCELED; the part of buf already queued is sent
 *   (how much is not reported, as with any interrupted stream write). */
CIO_EXTERN int cio_stream_write(cio_stream *s, const void *buf, size_t n);

/* Sets the high-water mark of the write buffer (0: the default,
 * CIO_STREAM_HIGH_WATER). Returns 0; -EINVAL for a NULL stream. Suspends: no. */
CIO_EXTERN int cio_stream_set_high_water(cio_stream *s, size_t bytes);

/* Waits until every byte written has been handed to the kernel.
 * Returns: 0; the sending error. Suspends: yes, while data is buffered. */
CIO_EXTERN int cio_stream_drain(cio_stream *s);

/* Half-close: drains, then tells the peer no more data comes (shutdown
 * SHUT_WR on a socket; a pipe's end is closed). Reading goes on.
 * Returns: 0; -EPIPE if already done; the drain's error. Suspends: yes. */
CIO_EXTERN int cio_stream_write_eof(cio_stream *s);

/* Flushes what is buffered (best effort), closes the connection and frees
 * the stream — in every case, whatever it returns.
 * Returns: 0; the error that kept buffered data from going out (then
 *   discarded): -ECANCELED, -ETIMEDOUT, -EPIPE... Suspends: while
 *   flushing. Not for the streams of a cio_process (freed with it). */
CIO_EXTERN int cio_stream_close(cio_stream *s);

/* The stream's descriptor (-1 once a pipe's write end was closed by
 * cio_stream_write_eof). For socket options and the like: reading or
 * writing it directly bypasses the stream's buffers. Suspends: no. */
CIO_EXTERN int cio_stream_fd(const cio_stream *s);

/* ----------------------------------------------------------------- servers */

typedef struct cio_server cio_server;

/* A connection handler: runs as a task of its own per connection; the
 * server closes the stream when it returns (do not close it yourself). */
typedef int (*cio_conn_fn)(cio_stream *s, void *arg);

/* asyncio.start_server: listens on host:port (as cio_tcp_listen) and runs
 * handler(stream, arg) as a new task for each connection, so a slow or
 * silent client holds up only its own task. When accept fails for lack of
 * descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) the server stops
 * accepting for a back-off (10 ms doubling to 1 s, cut short when one of
 * its connections closes) instead of spinning, and serves again once
 * descriptors are free.
 * Returns: the server; NULL with errno EINVAL (NULL handler or port),
 *   EPERM outside a task, the listen error as a positive errno (a resolver
 *   failure as EHOSTUNREACH).
 * Suspends: yes (the lookup).
 * Ownership: end it with cio_server_close before the loop ends. */
CIO_EXTERN cio_server *cio_start_server(const char *host, const char *port,
                                        cio_conn_fn handler, void *arg);

/* Options of cio_start_server_opts (and cio_tls_start_server_ctx). Zero
 * it, then fill what applies: zero means the default everywhere. */
typedef struct cio_server_opts {
    /* listen(2)'s backlog: connections the kernel completes and holds
     * before the server accepts them. 0: SOMAXCONN. Negative: EINVAL. */
    int backlog;
    /* SO_REUSEPORT: several servers (processes, or threads with a loop
     * each) listen on one port and the kernel spreads connections. */
    bool reuse_port;
    /* IPV6_V6ONLY on an IPv6 listener (see cio_listen_opts.v6only). */
    bool v6only;
    /* The stack size of each connection's task (cio_task_opts.stack_size;
     * 0: the default). A handler that needs little saves memory per
     * connection; one that calls deep libraries needs more. */
    size_t stack_size;
    /* The name of each connection's task, in traces and dumps (copied).
     * NULL: "task-N". */
    const char *task_name;
    /* At most this many connections are served at once (0: no limit).
     * While the server has that many, it does not accept: the next ones
     * wait in the listener's backlog, and beyond it the kernel's SYN
     * retries, so a burst is slowed, never refused by cio. */
    size_t max_connections;
} cio_server_opts;

/* cio_start_server with options. opts NULL: cio_start_server.
 * Returns: the server; NULL with errno EINVAL (NULL handler or port, a
 *   negative backlog), ENOMEM, or cio_start_server's errors.
 * Suspends: yes (the lookup).
 * Ownership: opts and its strings are read during the call, not kept; end
 *   the server with cio_server_shutdown or cio_server_close. */
CIO_EXTERN cio_server *cio_start_server_opts(const char *host, const char *port,
                                             const cio_server_opts *opts, cio_conn_fn handler,
                                             void *arg);

/* The port the server listens on (useful with port "0"). Suspends: no. */
CIO_EXTERN int cio_server_port(const cio_server *srv);

/* Graceful shutdown (asyncio's Server.close, wait_closed and
 * close_clients): stops accepting and closes the listener at once (new
 * connections are refused, those still in the backlog reset), lets the
 * running handlers finish by themselves for up to `grace` seconds
 * (INFINITY: as long as they take), then cancels those still running and
 * waits for them to end (their streams closed), and frees the server.
 * Handlers learn nothing of the shutdown until they are cancelled: one
 * that should stop early (a keep-alive loop) watches its own flag.
 * Must not be called from one of the server's own handlers (it would wait
 * for itself): that aborts with a "cio: fatal:" line naming the call.
 * Returns: how many handlers had to be cancelled (0: all finished within
 *   grace); -EINVAL for NULL or a grace that is negative or NaN (nothing
 *   done); -EPERM outside a task; -ECANCELED (-ETIMEDOUT) if the caller
 *   was cancelled (an enclosing timeout expired): the server is shut down
 *   and freed all the same.
 * Suspends: yes, until the handlers have finished.
 * Cancellation: ends the grace period at once: the remaining handlers are
 *   cancelled and awaited (that part cannot be interrupted), then
 *   -ECANCELED. Ownership: srv is invalid afterwards. */
CIO_EXTERN int cio_server_shutdown(cio_server *srv, double grace);

/* cio_server_shutdown(srv, 0): stops accepting, closes the listener,
 * cancels every handler and waits for them to finish (their streams
 * closed), then frees the server.
 * Returns: 0; -EINVAL for NULL; -EPERM outside a task.
 * Suspends: until the handlers have finished.
 * Cancellation: held back until the server is fully closed (it must not be
 *   left half-closed); then -ECANCELED. */
CIO_EXTERN int cio_server_close(cio_server *srv);

/* -------------------------------------------------- processes and signals */

typedef struct cio_process cio_process;

typedef struct cio_process_opts {
    /* Make a pipe for the child's stdin / stdout / stderr, reachable as a
     * stream; false: the child shares the parent's. */
    bool pipe_stdin, pipe_stdout, pipe_stderr;
} cio_process_opts;

/* Starts argv[0] (searched in PATH) with argv, through posix_spawn. The
 * child gets default dispositions for every signal (SIGPIPE included) and
 * an empty signal mask, whatever the loop's thread blocks; it inherits no
 * descriptor of the loop (all are close-on-exec). Its exit is noticed
 * through a pidfd: no SIGCHLD handler is installed, and a handler the
 * application has is left alone (one that reaps every child with waitpid(-1)
 * would take the status from us: cio_process_wait then gives -ECHILD).
 * Returns: the process; NULL with errno EINVAL (NULL or empty argv), EPERM
 *   outside a loop, ENOENT (no such program), ENOMEM, EMFILE...
 * Suspends: no.
 * Ownership: cio_process_free releases it and its streams. */
CIO_EXTERN cio_process *cio_process_spawn(const char *const argv[], const cio_process_opts *opts);

/* The ends of the child's pipes, or NULL where the options asked for none.
 * Owned by the process (do not cio_stream_close them): end the child's
 * input with cio_stream_write_eof. Suspends: no. */
CIO_EXTERN cio_stream *cio_process_stdin(cio_process *p);
CIO_EXTERN cio_stream *cio_process_stdout(cio_process *p);
CIO_EXTERN cio_stream *cio_process_stderr(cio_process *p);

/* Waits for the child to exit and reaps it; any number of calls.
 * Returns: its exit status (0-255, as WEXITSTATUS), or 128 + the signal
 *   that killed it (as a shell's $?); -ECHILD if someone else reaped it.
 * Suspends: until it exits. Cancellation: the child runs on; wait again. */
CIO_EXTERN int cio_process_wait(cio_process *p);

/* Sends signo to the child (through its pidfd, so never to a recycled pid).
 * Returns: 0; -ESRCH once it has been reaped; -EINVAL. Suspends: no. */
CIO_EXTERN int cio_process_kill(cio_process *p, int signo);

/* The child's process id. Suspends: no. */
CIO_EXTERN int cio_process_pid(const cio_process *p);

/* Closes the streams (unsent data is dropped: drain first) and frees p. A
 * child not yet waited for runs on, and is reaped when it exits by a
 * detached task of the loop ("process reaper"), so it never stays a
 * zombie; if cio_run ends first, or p is freed outside a task, the child is
 * left for the process to reap. NULL: no-op. Suspends: no. */
CIO_EXTERN void cio_process_free(cio_process *p);

/* Suspends until signo is delivered to the process or to the loop's thread
 * (through a signalfd). From the first call in a loop, signo stays blocked
 * on the loop's thread until cio_run returns (cio_run then restores the
 * thread's mask, and a signal still pending is delivered as usual): no
 * arrival between two waits is lost, it is pending for the next one. A
 * process-directed signal (kill, a terminal's ^C) goes to any thread that
 * does not block it: block signo in the application's other threads too.
 * One arrival wakes one waiting task (standard signals do not queue).
 * Returns: 0; -EINVAL for a signal that cannot be caught (SIGKILL, SIGSTOP,
 *   out of range). Suspends: yes.
 * Cancellation: the signal, if it arrives later, stays pending. */
CIO_EXTERN int cio_signal_wait(int signo);

/* ----------------------------------------------------------------- threads */

/* Runs fn(arg) on the thread pool while the loop runs other tasks, and
 * returns its result. The pool has CIO_THREADPOOL_SIZE workers (default 4,
 * at most 256), started on first use.
 * Returns: fn's result; -EINVAL if fn is NULL; -EPERM outside a task.
 * Cancellation: fn may use the caller's memory, so cio_to_thread still waits
 *   for it to finish, then returns -ECANCELED (or -ETIMEDOUT). Suspends: yes. */
CIO_EXTERN int cio_to_thread(cio_fn fn, void *arg);

/* ----------------------------------------------------------- observability */

/* Environment, read when a loop starts:
 *   CIO_TRACE=1 (or stderr) narrates every event to stderr, one line each;
 *     any other item of its comma-separated list is a path that receives
 *     Chrome trace-event JSON (CIO_TRACE=1,run.json does both).
 *   CIO_TRACE_MAX_MB (default 256) caps the JSON file: past it, recording
 *     stops with one line on stderr and the file stays valid JSON.
 *   CIO_DEBUG=1: debug mode — a watchdog reports (with a backtrace) a task
 *     that runs over CIO_SLOW_TASK_MS (default 100) without suspending,
 *     while it still blocks the loop; tasks never awaited nor detached are
 *     listed at loop close; peak stack use over 75 % is reported when a task
 *     finishes; SIGQUIT prints cio_dump_tasks without stopping the program.
 *   CIO_TRACE_DIRECT=1: an observed loop (traced, debugging, or with a
 *     cio_observer) keeps switching straight from task to task, as an
 *     unobserved one does, instead of passing through the loop at every
 *     switch, so that a bug on the direct path can be traced. Each direct
 *     switch then carries the events' test; a finishing task never hands
 *     its stack to the next one. Off by default.
 * docs/design.md, "Watching the loop", says what each costs. */

/* Writes every task of the running loop to `out` as a tree: each task under
 * the task that created it (recorded while the loop traces or runs in debug
 * mode; otherwise tasks are listed flat), a task group's children under the
 * group and the group under its parent, with each task's state (pending,
 * running, ready, waiting, done) and what it waits on. Callable from a
 * task or a callback.
 * Returns: 0; -EINVAL if out is NULL; -EPERM outside a loop.
 * Suspends: no. */
CIO_EXTERN int cio_dump_tasks(FILE *out);

/* What a loop has done since it started. */
typedef struct cio_loop_stats {
    /* Loop iterations (time update, timers, ready tasks, poll). */
    uint64_t iterations;
    /* Times a task was given the CPU: started or resumed (by a context
     * switch, or by going on when it yielded with nothing else ready). */
    uint64_t switches;
    /* Callbacks run: call_soon/later/at ones, and the loop's own timers
     * (every sleep and timeout has one). */
    uint64_t callbacks;
    /* Tasks created and tasks finished since the loop started, and tasks
     * whose handle is still held (not finished, or not yet awaited). */
    uint64_t tasks_created;
    uint64_t tasks_finished;
    uint64_t tasks_live;
    /* Times the loop asked the OS (epoll_pwait2, ppoll...), and the
     * descriptors the OS reported ready in all. */
    uint64_t polls;
    uint64_t fds_reported;
    /* Nanoseconds since the loop started, split into idle (blocked in the
     * OS waiting for an event or a timer) and busy (everything else:
     * tasks, callbacks and the loop's own work). busy + idle = elapsed. */
    int64_t elapsed_ns;
    int64_t busy_ns;
    int64_t idle_ns;
} cio_loop_stats;

/* Fills *out with the figures of `loop`, which must be the loop running on
 * the calling thread (the counters are the loop thread's).
 * Returns: 0; -EINVAL if loop or out is NULL; -EPERM if loop is not running
 *   on this thread. Suspends: no. */
CIO_EXTERN int cio_loop_stats_get(cio_loop *loop, cio_loop_stats *out);

/* ------------------------------------------------------------- observers */

/* Events of the running loop, as a table of optional hooks (NULL: not
 * wanted). The trace (CIO_TRACE), the JSON timeline and debug mode are
 * observers of this same table, installed when the loop opens.
 *
 * Every hook runs on the loop's thread, synchronously, in the middle of the
 * loop's work: the task hooks on the stack of the task that stops or
 * starts, or on the loop's own stack (a task's stack may be as small as
 * 2 KiB: keep hooks shallow, and format into buffers of your own rather
 * than with printf of a double). A hook must not suspend (no cio_sleep,
 * cio_await, cio_read...: each returns -EPERM or misbehaves), nor create,
 * cancel, await or free tasks; it may read the clock (cio_now), name tasks
 * (cio_task_name, which allocates a name the first time), read
 * cio_loop_stats_get, and add or remove observers (the change applies from
 * the next event). `arg` is the one given to cio_observer_add. Task
 * pointers are valid during the call only.
 *
 * While a loop has an observer, every switch between tasks passes through
 * the loop (so that each is seen), unless CIO_TRACE_DIRECT=1; tasks created
 * meanwhile record their creator (cio_dump_tasks shows the tree). Adding
 * the first observer, or removing the last, visits every task of the loop
 * once to switch that on or off; with none, each event costs the loop one
 * predicted test. */
typedef struct cio_observer {
    /* The loop begins an iteration (update time, timers, ready work, poll). */
    void (*loop_iteration)(void *arg);
    /* t was created by `creator` (NULL: by cio_run or a callback). It has
     * not run yet. */
    void (*task_created)(void *arg, cio_task *t, cio_task *creator);
    /* t runs for the first time. */
    void (*task_started)(void *arg, cio_task *t);
    /* t gives up the CPU until it is woken: `waits_on` says on what ("a
     * lock", "a readable descriptor", "nothing (it yielded)"...; a static
     * string). */
    void (*task_suspended)(void *arg, cio_task *t, const char *waits_on);
    /* t, suspended, is made ready again with `result` (what its wait
     * returns), by the running task `waker` (NULL: by the loop — a timer,
     * a descriptor, a completion, a thread-pool job, a callback). */
    void (*task_woken)(void *arg, cio_task *t, cio_task *waker, int result);
    /* t runs again after a suspension. */
    void (*task_resumed)(void *arg, cio_task *t);
    /* t's function returned `result`; t never runs again. */
    void (*task_finished)(void *arg, cio_task *t, int result);
    /* t finished with `result` without ever running: cancelled before its
     * turn (-ECANCELED), or no stack could be had for it. */
    void (*task_never_ran)(void *arg, cio_task *t, int result);
    /* The loop asks the OS for events, waiting at most `timeout` seconds
     * (0: not at all; negative: until something happens)... */
    void (*poll_begin)(void *arg, double timeout);
    /* ... and the OS answered with `nready` events. */
    void (*poll_end)(void *arg, int nready);
    /* The OS reported fd ready: `events` holds CIO_OBSERVE_READABLE,
     * CIO_OBSERVE_WRITABLE and/or CIO_OBSERVE_ERROR. Before the tasks
     * waiting on fd are woken. */
    void (*fd_reported)(void *arg, int fd, unsigned events);
    /* A timer due at `deadline` (loop clock, seconds) is about to run:
     * a sleep's or a timeout's end, or a cio_call_later/cio_call_at. */
    void (*timer_fired)(void *arg, double deadline);
} cio_observer;

enum { CIO_OBSERVE_READABLE = 1, CIO_OBSERVE_WRITABLE = 2, CIO_OBSERVE_ERROR = 4 };

/* Adds an observer to the running loop: from the next event on, each of
 * ops' hooks that is not NULL is called with `arg`. Several may be added
 * (each event reaches them in the order they were added), the same ops
 * with different args included; an observer stays until it is removed or
 * the loop closes. ops must stay valid meanwhile (it is not copied).
 * Callable from a task, a callback or a hook.
 * Returns: 0; -EINVAL if ops is NULL, or (ops, arg) is already added;
 *   -EPERM outside a loop; -ENOMEM. Suspends: no. */
CIO_EXTERN int cio_observer_add(const cio_observer *ops, void *arg);

/* Removes the observer added with (ops, arg). Callable from a hook: the
 * removed observer is not called again, the current event included.
 * Returns: 0; -EINVAL if ops is NULL; -EPERM outside a loop; -ENOENT if
 *   (ops, arg) was not added to this loop. Suspends: no. */
CIO_EXTERN int cio_observer_remove(const cio_observer *ops, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* CIO_H */
