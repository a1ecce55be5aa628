/* synctest.h — what the tests of the synchronisation primitives, queues,
 * futures, task groups and deadlock detection share: checks that record a
 * failure inside tasks (cmocka's longjmp must not leave a task's stack),
 * a cio_run wrapper that reports them, a log of the order things happened
 * in, and a forked child for misuse that must abort.
 *
 * Header-only, with static functions: each test file is its own program.
 * Include it instead of testutil.h.
 */
#ifndef CIO_SYNCTEST_H
#define CIO_SYNCTEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char first_failure[1024];

__attribute__((format(printf, 3, 4), unused)) static void note_failure(const char *file, int line,
                                                                       const char *fmt, ...)
{
    if (first_failure[0])
        return;
    int n = snprintf(first_failure, sizeof first_failure, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(first_failure + n, sizeof first_failure - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Checks for use inside tasks and callbacks: they record the first failure,
 * which run_main reports once cio_run has returned. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            note_failure(__FILE__, __LINE__, "check failed: %s", #cond);                           \
    } while (0)

#define CHECK_CIO(expr, want)                                                                      \
    do {                                                                                           \
        long long got_ = (long long)(expr);                                                        \
        long long want_ = (long long)(want);                                                       \
        if (got_ != want_)                                                                         \
            note_failure(__FILE__, __LINE__, "%s returned %lld (%s), expected %lld (%s)", #expr,   \
                         got_, cio_strerror((int)got_), want_, cio_strerror((int)want_));          \
    } while (0)

/* Runs fn(arg) as main of a fresh loop, reports the first check that failed
 * inside it, then checks cio_run's result. */
static inline void run_main(cio_fn fn, void *arg, int want)
{
    first_failure[0] = '\0';
    int r = test_run(fn, arg);
    if (first_failure[0])
        fail_msg("%s", first_failure);
    assert_cio(r, want);
}

/* The order in which things happened, one letter each. */
typedef struct order_log {
    char buf[256];
    size_t n;
} order_log;

static inline void log_put(order_log *l, char c)
{
    if (l->n < sizeof l->buf - 1)
        l->buf[l->n++] = c;
    l->buf[l->n] = '\0';
}

/* Lets every ready task run, a few rounds over (parked tasks stay parked). */
static inline void settle(void)
{
    for (int i = 0; i < 5; i++)
        CHECK_CIO(cio_yield(), 0);
}

/* How a child process ended and what it wrote to stderr. */
typedef struct child_result {
    int status;
    char err[8192];
} child_result;

/* Runs body() in a forked child with stderr captured, for misuse that must
 * abort the process (and for output a test must read). */
static inline void run_child(void (*body)(void), child_result *out)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], STDERR_FILENO);
        close(p[1]);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        /* A child that hangs instead of ending dies of SIGALRM, which fails
         * the test rather than stalling the suite. */
        alarm(20);
        body();
        _exit(0);
    }
    close(p[1]);
    size_t len = 0;
    for (;;) {
        char chunk[512];
        ssize_t n = read(p[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t room = sizeof out->err - 1 - len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(out->err + len, chunk, take);
        len += take;
    }
    out->err[len] = '\0';
    close(p[0]);
    while (waitpid(pid, &out->status, 0) < 0 && errno == EINTR)
        ;
}

/* Runs body() in a child and asserts it aborted saying `needle`. */
static inline void assert_aborts(void (*body)(void), const char *needle)
{
    child_result r;
    run_child(body, &r);
    if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGABRT)
        fail_msg("the child did not die of SIGABRT (status 0x%x); its stderr:\n%s", r.status,
                 r.err);
    if (!strstr(r.err, needle))
        fail_msg("the child's stderr lacks \"%s\":\n%s", needle, r.err);
}

/* Freeing an object that a task still waits on must abort: make() builds
 * the object, park(object) is the body of a task that ends up waiting on
 * it, release(object) is the free function under test. */
static struct {
    void *(*make)(void);
    cio_fn park;
    void (*release)(void *object);
} in_use;

static int free_in_use_main(void *arg)
{
    (void)arg;
    void *object = in_use.make();
    cio_detach(cio_create_task(in_use.park, object));
    cio_yield();
    in_use.release(object);
    return 0;
}

static void free_in_use_child(void) { cio_run(free_in_use_main, NULL); }

/* Asserts that release() of an object a task waits on aborts, saying
 * `needle`. */
__attribute__((unused)) static void assert_free_in_use_aborts(void *(*make)(void), cio_fn park,
                                                              void (*release)(void *),
                                                              const char *needle)
{
    in_use.make = make;
    in_use.park = park;
    in_use.release = release;
    assert_aborts(free_in_use_child, needle);
}

#endif
