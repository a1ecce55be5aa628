/* SPDX-License-Identifier: MIT */
/* debug.c — CIO_DEBUG=1: the slow-task watchdog, tasks never awaited,
 * peak stack use, and the task dump on SIGQUIT.
 *
 * Owns debug mode's state (loop->debug), its thread and its two signal
 * handlers; the dump itself is dump.c's. An observer of the loop
 * (cio_observer), added by loop.c when the loop opens.
 *
 * The watchdog. The loop publishes, at every switch, which run is in
 * progress (a generation number) and since when; a watchdog thread looks
 * every quarter of CIO_SLOW_TASK_MS. When one run has lasted longer, it
 * sends WATCHDOG_SIGNAL to the loop's thread, whose handler writes the
 * report — task name, how long, and a backtrace of where the task is
 * stuck — from the loop thread itself, so it reads the task without a
 * race. The handler uses only async-signal-safe calls plus backtrace(3)
 * and backtrace_symbols_fd(3): backtrace is called once when debug mode
 * starts, which loads libgcc's unwinder then (the lazy load is what makes
 * a first call unsafe), and backtrace_symbols_fd writes without
 * allocating. The report names functions that are in the dynamic symbol
 * table (link the program with -rdynamic); others show as file+offset,
 * which addr2line resolves.
 *
 * Lock order: d->lock is a leaf (watchdog sleep/stop only).
 */
#include "internal.h"

/* backtrace(3) is glibc's (and libexecinfo's); under musl the slow-task
 * report names the task and its time but cannot say where it is. */
#if __has_include(<execinfo.h>)
#include <execinfo.h>
#define CIO__BACKTRACE 1
#endif
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if CIO__UCONTEXT
#include <ucontext.h>
#endif

#include "loop.h"
#include "observe/debug.h"
#include "observe/dump.h"
#include "observe/fanout.h"
#include "text.h"

#define DEFAULT_SLOW_MS 100
/* Real-time signals are free for applications to claim; this one is taken
 * only if nobody has (its disposition is still the default). */
#define WATCHDOG_SIGNAL (SIGRTMIN + 5)
#define BACKTRACE_DEPTH 48
/* The stack pattern: a word unlikely to be a live value. */
#define STACK_PAINT 0xC10DEB06C10DEB06ull
/* Bytes below a stack's start left unpainted: ctx_prepare's first frame
 * (with the ucontext switch, a ucontext_t). */
#if CIO__UCONTEXT
#define STACK_FRAME_ROOM (sizeof(ucontext_t) + 256)
#else
#define STACK_FRAME_ROOM 256
#endif

typedef struct cio__debug cio__debug;

struct cio__debug {
    /* The loop in debug mode. */
    cio_loop *loop;
    /* CIO_SLOW_TASK_MS, in ns. */
    int64_t slow_ns;
    /* Published by the loop at every switch, read by the watchdog: the run
     * in progress (incremented when a task starts running) and when it
     * began (0 while no task runs). */
    atomic_uint_fast64_t run_gen;
    atomic_int_fast64_t run_start_ns;
    /* The run the watchdog asked the loop thread's handler to report. */
    atomic_uint_fast64_t report_gen;
    /* Loop thread only: the running task's start, and whether this run
     * was reported while it blocked. */
    int64_t run_start_local;
    /* The loop's thread, and the watchdog's. */
    pthread_t loop_thread, watchdog;
    bool watchdog_started;
    /* The handler reports with a backtrace (we own WATCHDOG_SIGNAL). */
    bool backtraces;
    /* Guards stop; the watchdog sleeps on cond. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    /* SIGQUIT requests already dumped by this loop. */
    uint64_t quits_seen;
};

/* Process-wide: the handlers are shared by every debug loop, installed by
 * the first and restored by the last (under handlers_lock). */
static pthread_mutex_t handlers_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned debug_loops;
static bool own_watchdog_signal, own_sigquit;
static struct sigaction old_watchdog_action, old_quit_action;
/* SIGQUITs received, and the wake-up descriptor of the loop that the
 * handler wakes (the latest debug loop; the others see the count at their
 * next iteration). */
static atomic_uint_fast64_t quit_requests;
static atomic_int quit_wake_fd = -1;

static int64_t env_ms(const char *name, int64_t dflt)
{
    const char *env = getenv(name);
    if (!env || !*env)
        return dflt;
    char *end;
    long v = strtol(env, &end, 10);
    if (*end || v <= 0) {
        fprintf(stderr, "cio: debug: %s=%s is not a positive number of ms; using %lld\n", name,
                env, (long long)dflt);
        return dflt;
    }
    return v;
}

/* ------------------------------------------------------------- handlers */

static void write_text(const cio__text *s)
{
    ssize_t n = write(STDERR_FILENO, s->buf, s->len);
    (void)n;
}

/* Starts a report about t in buf: `cio: debug: task#3 "fetch-a"`.
 * Async-signal-safe. */
static cio__text report_begin(char *buf, size_t cap, const cio_task *t)
{
    char label[32];
    cio__text s = cio__text_on(buf, cap);
    cio__text_str(&s, "cio: debug: task#");
    cio__text_u64(&s, t->id);
    cio__text_str(&s, " \"");
    cio__text_str(&s, cio__task_label(t, label));
    cio__text_char(&s, '"');
    return s;
}

/* On the loop's thread, interrupting the slow task. */
static void on_watchdog_signal(int sig)
{
    (void)sig;
    int saved_errno = errno;
    cio_loop *loop = cio__context_loop;
    cio__debug *d = loop ? loop->debug : NULL;
    cio_task *t = loop ? loop->current : NULL;
    /* The run may have ended between the watchdog's look and now. */
    if (!d || !t || atomic_load(&d->report_gen) != atomic_load(&d->run_gen)) {
        errno = saved_errno;
        return;
    }
    char buf[512];
    cio__text s = report_begin(buf, sizeof buf, t);
    cio__text_str(&s, " has been running for ");
    cio__text_milli(&s, (cio__context_clock_ns() - d->run_start_local) / 1000, 0);
    cio__text_str(&s, " ms without suspending (CIO_SLOW_TASK_MS=");
    cio__text_i64(&s, d->slow_ns / 1000000);
    cio__text_str(&s, "): it is blocking the loop. Where it is now:\n");
    write_text(&s);
#ifdef CIO__BACKTRACE
    void *frames[BACKTRACE_DEPTH];
    int n = backtrace(frames, BACKTRACE_DEPTH);
    /* Frame 0 is this handler. */
    if (n > 1)
        backtrace_symbols_fd(frames + 1, n - 1, STDERR_FILENO);
#else
    static const char none[] = "  (no backtrace: this C library has no backtrace(3))\n";
    ssize_t w = write(STDERR_FILENO, none, sizeof none - 1);
    (void)w;
#endif
    errno = saved_errno;
}

static void on_sigquit(int sig)
{
    (void)sig;
    int saved_errno = errno;
    atomic_fetch_add(&quit_requests, 1);
    int fd = atomic_load(&quit_wake_fd);
    if (fd >= 0) {
        uint64_t one = 1;
        ssize_t n = write(fd, &one, sizeof one);
        (void)n;
    }
    errno = saved_errno;
}

/* Installs handler for signo unless the application handles or ignores
 * it; true if installed. */
static bool claim_signal(int signo, void (*handler)(int), int flags, struct sigaction *old)
{
    struct sigaction current;
    if (sigaction(signo, NULL, &current) != 0 || current.sa_handler != SIG_DFL ||
        (current.sa_flags & SA_SIGINFO))
        return false;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(signo, &sa, old) == 0;
}

static void handlers_acquire(cio_loop *loop)
{
    pthread_mutex_lock(&handlers_lock);
    if (debug_loops++ == 0) {
        /* Loads the unwinder now, outside any signal handler. */
#ifdef CIO__BACKTRACE
        void *warm[2];
        (void)backtrace(warm, 2);
#endif
        /* SA_ONSTACK: the slow task's stack may be small; the loop thread
         * has an alternate stack (overflow.c). SA_RESTART: the task's
         * blocking system call goes on. */
        own_watchdog_signal =
            claim_signal(WATCHDOG_SIGNAL, on_watchdog_signal, SA_ONSTACK | SA_RESTART,
                         &old_watchdog_action);
        own_sigquit = claim_signal(SIGQUIT, on_sigquit, SA_RESTART, &old_quit_action);
    }
    loop->debug->backtraces = own_watchdog_signal;
    if (own_sigquit)
        atomic_store(&quit_wake_fd, loop->posted.wake_fd);
    pthread_mutex_unlock(&handlers_lock);
}

static void handlers_release(cio_loop *loop)
{
    pthread_mutex_lock(&handlers_lock);
    int fd = loop->posted.wake_fd;
    atomic_compare_exchange_strong(&quit_wake_fd, &fd, -1);
    if (--debug_loops == 0) {
        if (own_watchdog_signal)
            sigaction(WATCHDOG_SIGNAL, &old_watchdog_action, NULL);
        if (own_sigquit)
            sigaction(SIGQUIT, &old_quit_action, NULL);
        own_watchdog_signal = own_sigquit = false;
    }
    pthread_mutex_unlock(&handlers_lock);
}

/* ------------------------------------------------------------- watchdog */

static void report_without_backtrace(cio__debug *d, int64_t ran_ns)
{
    fprintf(stderr,
            "cio: debug: a task has been running for %.3f ms without suspending "
            "(CIO_SLOW_TASK_MS=%lld): it is blocking the loop (no backtrace: signal %d belongs "
            "to the application)\n",
            (double)ran_ns / 1e6, (long long)(d->slow_ns / 1000000), WATCHDOG_SIGNAL);
}

static void *watchdog_main(void *arg)
{
    cio__debug *d = arg;
    int64_t period = CIO__MAX(CIO__MIN(d->slow_ns / 4, (int64_t)100000000), (int64_t)1000000);
    uint64_t reported = 0;
    pthread_mutex_lock(&d->lock);
    while (!d->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + period;
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&d->cond, &d->lock, &until);
        if (d->stop)
            break;
        /* gen, start, gen: equal generations mean start belongs to that run. */
        uint64_t gen = atomic_load(&d->run_gen);
        int64_t start = atomic_load(&d->run_start_ns);
        if (!start || gen == reported || atomic_load(&d->run_gen) != gen)
            continue;
        int64_t ran = cio__context_clock_ns() - start;
        if (ran < d->slow_ns)
            continue;
        reported = gen;
        if (d->backtraces) {
            atomic_store(&d->report_gen, gen);
            pthread_kill(d->loop_thread, WATCHDOG_SIGNAL);
        } else {
            report_without_backtrace(d, ran);
        }
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static void watchdog_start(cio__debug *d)
{
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    /* The watchdog takes no signals: they belong to the application's
     * threads (and SIGQUIT to the loop). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    d->watchdog_started = pthread_create(&d->watchdog, NULL, watchdog_main, d) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!d->watchdog_started)
        fprintf(stderr, "cio: debug: cannot start the watchdog thread; slow tasks are reported "
                        "only once they yield\n");
}

static void watchdog_stop(cio__debug *d)
{
    if (d->watchdog_started) {
        pthread_mutex_lock(&d->lock);
        d->stop = true;
        pthread_cond_signal(&d->cond);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->watchdog, NULL);
    }
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
}

/* `from` stops running: the end of its run, reported if it was slow. */
static void run_end(cio__debug *d, cio_task *from)
{
    int64_t now = cio__context_clock_ns();
    atomic_store(&d->run_start_ns, 0);
    int64_t ran = now - d->run_start_local;
    if (ran >= d->slow_ns) {
        char buf[256];
        cio__text s = report_begin(buf, sizeof buf, from);
        cio__text_str(&s, " ran for ");
        cio__text_milli(&s, ran / 1000, 0);
        cio__text_str(&s, " ms without suspending: the loop was blocked all that time\n");
        write_text(&s);
    }
}

/* A task starts running: its run is timed from now. */
static void run_begin(cio__debug *d)
{
    int64_t now = cio__context_clock_ns();
    atomic_store(&d->run_start_ns, 0);
    d->run_start_local = now;
    atomic_fetch_add(&d->run_gen, 1);
    atomic_store(&d->run_start_ns, now);
}

/* ---------------------------------------------------------------- stack */

#if !CIO__ASAN
/* The painted part of a stack: its lowest quarter, which a task reaches
 * only past 75 % use (painting all of it would make every page resident),
 * clear of the first frame at the top. */
static void painted_area(const cio_task *t, uint64_t **lo, uint64_t **hi)
{
    char *low = cio__stack_low(&t->live->stack);
    size_t size = cio__stack_size(&t->live->stack);
    size_t quarter = size / 4 & ~(size_t)7;
    char *start = cio__stack_start(&t->live->stack);
    char *end = CIO__MIN(low + quarter, start - STACK_FRAME_ROOM);
    *lo = (uint64_t *)(void *)low;
    *hi = (uint64_t *)(void *)(end > low ? end : low);
}

static void stack_paint(cio_task *t)
{
    uint64_t *lo, *hi;
    painted_area(t, &lo, &hi);
    for (uint64_t *p = lo; p < hi; p++)
        *p = STACK_PAINT;
}

static void stack_check(cio_task *t)
{
    uint64_t *lo, *hi;
    painted_area(t, &lo, &hi);
    uint64_t *p = lo;
    while (p < hi && *p == STACK_PAINT)
        p++;
    if (p == hi)
        return;
    size_t size = cio__stack_size(&t->live->stack);
    size_t used = (size_t)((char *)cio__stack_start(&t->live->stack) - (char *)p);
    char buf[320];
    cio__text s = report_begin(buf, sizeof buf, t);
    cio__text_str(&s, " used ");
    cio__text_u64(&s, used);
    cio__text_str(&s, " of its ");
    cio__text_u64(&s, size);
    cio__text_str(&s, " bytes of stack at its deepest (");
    cio__text_u64(&s, used * 100 / size);
    cio__text_str(&s, " %): give it a larger cio_task_opts.stack_size before it overflows\n");
    write_text(&s);
}
#else
/* AddressSanitizer keeps a shadow of every task stack and checks it
 * itself: painting and scanning under it would trip its own checks. */
static void stack_paint(cio_task *t) { (void)t; }
static void stack_check(cio_task *t) { (void)t; }
#endif

/* ------------------------------------------------------------- events */

static void debug_iteration(void *arg)
{
    cio__debug *d = arg;
    uint64_t quits = atomic_load(&quit_requests);
    if (quits == d->quits_seen)
        return;
    d->quits_seen = quits;
    cio__dump_tasks(d->loop, stderr, "SIGQUIT");
}

/* Its first run: the stack is still fresh (the first frame is at its top,
 * the painted part at its bottom). */
static void debug_task_started(void *arg, cio_task *t)
{
    stack_paint(t);
    run_begin(arg);
}

static void debug_task_resumed(void *arg, cio_task *t) { run_begin(arg); }

static void debug_task_suspended(void *arg, cio_task *t, const char *waits_on)
{
    run_end(arg, t);
}

/* Its end: how deep its stack went, and how long its last run was. */
static void debug_task_finished(void *arg, cio_task *t, int result)
{
    stack_check(t);
    run_end(arg, t);
}

static const cio_observer debug_ops = {
    .loop_iteration = debug_iteration,
    .task_started = debug_task_started,
    .task_suspended = debug_task_suspended,
    .task_resumed = debug_task_resumed,
    .task_finished = debug_task_finished,
};

/* ------------------------------------------------------------ life cycle */

void cio__debug_open(cio_loop *loop)
{
    const char *env = getenv("CIO_DEBUG");
    if (!env || !*env || strcmp(env, "0") == 0)
        return;
    cio__debug *d = calloc(1, sizeof *d);
    if (!d) {
        fprintf(stderr, "cio: debug: out of memory; running without debug mode\n");
        return;
    }
    d->loop = loop;
    d->slow_ns = env_ms("CIO_SLOW_TASK_MS", DEFAULT_SLOW_MS) * 1000000;
    d->loop_thread = pthread_self();
    d->quits_seen = atomic_load(&quit_requests);
    if (cio__fanout_add(loop, &debug_ops, d) != 0) {
        fprintf(stderr, "cio: debug: out of memory; running without debug mode\n");
        free(d);
        return;
    }
    loop->debug = d;
    handlers_acquire(loop);
    watchdog_start(d);
}

/* Lists a task nobody will ever read the result of. */
static void report_unawaited(cio_task *t, void *arg)
{
    cio_loop *loop = arg;
    if (t == loop->main_task || t->detached)
        return;
    char buf[320];
    cio__text s = report_begin(buf, sizeof buf, t);
    cio__text_str(&s, " was never awaited nor detached (result ");
    cio__text_i64(&s, t->result);
    cio__text_str(&s, "): cio_await, cio_gather or cio_detach it\n");
    write_text(&s);
}

void cio__debug_close(cio_loop *loop)
{
    cio__debug *d = loop->debug;
    if (!d)
        return;
    cio__fanout_remove(loop, &debug_ops, d);
    watchdog_stop(d);
    handlers_release(loop);
    /* A SIGQUIT that came after the last iteration still gets its dump. */
    debug_iteration(d);
    cio__task_for_each(loop, report_unawaited, loop);
    loop->debug = NULL;
    free(d);
}
