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
 * Returns: main's result; -EBUSY if this thread already runs a loop; -EINVAL
 *   if main_fn is NULL; -ENOMEM, or the backend's error (CIO_BACKEND names a
 *   backend the kernel refuses: -ENOSYS, -EPERM...), if the loop cannot start.
 * Suspends: no (it is the loop). */
CIO_EXTERN int cio_run(cio_fn main_fn, void *arg);

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
 * blocked waiting for the OS. The loop must still be running.
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
