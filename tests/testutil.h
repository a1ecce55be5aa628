/* SPDX-License-Identifier: MIT */
/* testutil.h — what every cio test shares.
 *
 *   - assert_cio, test_run: cmocka assertions that print error names, and
 *     a cio_run wrapper that checks the loop left no descriptor behind.
 *   - Failure records (EXPECT, CHECK, REQUIRE and their _CIO forms,
 *     note_failure): checks for use inside tasks, callbacks and worker
 *     threads. A failing cmocka assertion longjmps, which must not leave a
 *     task's stack, the middle of the loop or another thread; these record
 *     the first failure instead, and the test asserts the record once
 *     cio_run has returned (run_main, run_ok, assert_no_failures).
 *   - Child processes (run_child, run_self_child, assert_child_aborted,
 *     assert_child_ok, assert_contains, assert_aborts,
 *     assert_free_in_use_aborts): misuse that must abort the
 *     process, run in a child whose stderr is captured.
 *   - Small pieces many tests use: an order log, settle, say, return_arg,
 *     recurse_deep (for stack overflows),
 *     sleep_ms, and ASAN_BUILD / TSAN_BUILD for sanitizer builds.
 *
 * Header-only, with static inline functions (so that a helper a test does
 * not use costs no warning): each test file is its own program. Include it
 * first; it includes cmocka and cio.h. nettest.h adds the networking
 * helpers on top of it.
 */
#ifndef CIO_TESTUTIL_H
#define CIO_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <cio.h>

#include "fds.h"

/* ---------------------------------------------------- sanitizer builds */

/* ASAN_BUILD / TSAN_BUILD: defined when built with AddressSanitizer /
 * ThreadSanitizer (GCC's macros, or clang's __has_feature). */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN_BUILD 1
#endif
#endif

/* ------------------------------------------------------------ backends */

/* The test runs on io_uring (CIO_BACKEND, as tests/CMakeLists.txt sets it). */
static inline bool backend_is_io_uring(void)
{
    const char *b = getenv("CIO_BACKEND");
    return b && strcmp(b, "io_uring") == 0;
}

/* Every test program asked to run on io_uring exits 77 (skipped) before
 * main when the kernel refuses io_uring (too old, seccomp, qemu-user,
 * sysctl kernel.io_uring_disabled), as cio_run would fail there. */
__attribute__((constructor)) static void skip_refused_backend_(void)
{
    if (!backend_is_io_uring())
        return;
    /* struct io_uring_params is 120 bytes; only the kernel writes it. */
    uint32_t params[30] = {0};
    long fd = syscall(SYS_io_uring_setup, 1, params);
    if (fd < 0) {
        fprintf(stderr, "io_uring refused by the kernel (%s): skipped\n", strerror(errno));
        exit(77);
    }
    close((int)fd);
}

/* ------------------------------------------------- cmocka-side checks */

/* Asserts that a cio call returned `want` (a count, 0, or a negative
 * code), printing both sides by name on failure. */
#define assert_cio(expr, want)                                                                     \
    do {                                                                                           \
        long long got_ = (long long)(expr);                                                        \
        long long want_ = (long long)(want);                                                       \
        if (got_ != want_)                                                                         \
            fail_msg("%s returned %lld (%s), expected %lld (%s)", #expr, got_,                     \
                     cio_strerror((int)got_), want_, cio_strerror((int)want_));                    \
    } while (0)

/* Runs fn(arg) as main of a fresh loop and returns main's result; fails the
 * test if the run leaked descriptors: any but an io_uring, or a second
 * io_uring (this thread keeps one). The loop itself aborts at close if a
 * stack was not given back. */
static inline int test_run(cio_fn fn, void *arg)
{
    int before = test_open_fds();
    int r = cio_run(fn, arg);
    int after = test_open_fds();
    if (after != before)
        fail_msg("the loop leaked %d descriptor(s)", after - before);
    if (test_count_fds(true) > 1)
        fail_msg("%d io_urings are open after a loop on one thread", test_count_fds(true));
    return r;
}

/* ---------------------------------------------------- failure records */

/* The first failure noted since the last reset, and how many in all. A
 * mutex guards them: worker threads and threads of other loops note
 * failures too. */
static pthread_mutex_t test_fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char test_fail_text[1024];
static int test_fail_count;

/* Notes a failure at file:line; only the first one's text is kept. Safe
 * from any thread, task or callback. */
__attribute__((format(printf, 3, 4))) static inline void note_failure(const char *file, int line,
                                                                      const char *fmt, ...)
{
    pthread_mutex_lock(&test_fail_lock);
    if (test_fail_count++ == 0) {
        int n = snprintf(test_fail_text, sizeof test_fail_text, "%s:%d: ", file, line);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(test_fail_text + n, sizeof test_fail_text - (size_t)n, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&test_fail_lock);
}

static inline bool expect_cio_(const char *file, int line, const char *expr, long long got,
                               long long want)
{
    if (got == want)
        return true;
    note_failure(file, line, "%s returned %lld (%s), expected %lld (%s)", expr, got,
                 cio_strerror((int)got), want, cio_strerror((int)want));
    return false;
}

/* EXPECT(cond), EXPECT_CIO(expr, want): expressions; note a failure if
 * the condition is false (if expr did not return want) and yield whether
 * the check held. */
#define EXPECT(cond)                                                                               \
    ((cond) ? true : (note_failure(__FILE__, __LINE__, "check failed: %s", #cond), false))
#define EXPECT_CIO(expr, want)                                                                     \
    expect_cio_(__FILE__, __LINE__, #expr, (long long)(expr), (long long)(want))

/* CHECK, CHECK_CIO: statements; note a failure and go on. */
#define CHECK(cond) ((void)EXPECT(cond))
#define CHECK_CIO(expr, want) ((void)EXPECT_CIO(expr, want))

/* REQUIRE, REQUIRE_CIO: in a function returning int (a task body): note a
 * failure and end it with -1000, a result the test will not mistake for
 * success (its next steps would only fail on). */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            note_failure(__FILE__, __LINE__, "requirement failed: %s", #cond);                     \
            return -1000;                                                                          \
        }                                                                                          \
    } while (0)
#define REQUIRE_CIO(expr, want)                                                                    \
    do {                                                                                           \
        if (!EXPECT_CIO(expr, want))                                                               \
            return -1000;                                                                          \
    } while (0)

/* Forgets the failures noted so far. */
static inline void reset_failures(void)
{
    pthread_mutex_lock(&test_fail_lock);
    test_fail_count = 0;
    test_fail_text[0] = '\0';
    pthread_mutex_unlock(&test_fail_lock);
}

/* How many failures were noted since the last reset. */
static inline int failure_count(void)
{
    pthread_mutex_lock(&test_fail_lock);
    int n = test_fail_count;
    pthread_mutex_unlock(&test_fail_lock);
    return n;
}

/* The first noted failure's text ("" if none); read it once the threads
 * that note failures are done. */
static inline const char *failure_text(void) { return test_fail_text; }

/* Fails the test (cmocka) with the first noted failure, if any. */
static inline void assert_no_failures(void)
{
    int n = failure_count();
    if (n)
        fail_msg("%s (%d failure(s) in all)", test_fail_text, n);
}

/* Runs fn(arg) as main of a fresh loop; asserts that nothing inside noted
 * a failure (reported first: it usually explains the rest), that main
 * returned `want`, and that the run left no descriptor open. */
static inline void run_main(cio_fn fn, void *arg, int want)
{
    reset_failures();
    int before = test_open_fds();
    int r = cio_run(fn, arg);
    assert_no_failures();
    assert_cio(r, want);
    int after = test_open_fds();
    if (after != before)
        fail_msg("the loop leaked %d descriptor(s)", after - before);
}

/* run_main expecting main to return 0. */
static inline void run_ok(cio_fn fn, void *arg) { run_main(fn, arg, 0); }

/* ------------------------------------------------------------ in tasks */

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

/* A task body that returns its argument. */
static inline int return_arg(void *arg) { return (int)(intptr_t)arg; }

/* A task body that sleeps arg milliseconds and returns the sleep's result. */
static inline int sleep_ms(void *arg) { return cio_sleep((double)(intptr_t)arg / 1000.0); }

/* Writes msg to stderr at once (unbuffered, async-signal-safe: fit for a
 * child about to crash). */
static inline void say(const char *msg)
{
    ssize_t n = write(STDERR_FILENO, msg, strlen(msg));
    (void)n;
}

/* Recursion that the compiler can neither flatten nor shrink: every frame
 * fills a volatile buffer of half a KiB and reads it back after the call
 * (the stack overflow tests). */
static inline int recurse_deep(int depth)
{
    volatile char frame[512];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (char)depth;
    if (depth == 0)
        return frame[0];
    return recurse_deep(depth - 1) + frame[sizeof frame - 1];
}

/* ----------------------------------------------------- child processes */

/* How a child process ended and what it wrote to stderr. */
typedef struct child_result {
    int status;
    char err[8192];
} child_result;

/* Runs body(arg) in a forked child with stderr captured, for misuse that
 * must abort the process (and for output a test must read). The child
 * exits 0 if body returns; one that hangs dies of SIGALRM after 20 s,
 * which fails the test rather than stalling the suite. */
static inline void run_child_with(void (*body)(void *), void *arg, child_result *out)
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
        alarm(20);
        body(arg);
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

static inline void child_call_(void *body) { (*(void (**)(void))body)(); }

/* Runs body() in a forked child (see run_child_with). */
static inline void run_child(void (*body)(void), child_result *out)
{
    run_child_with(child_call_, &body, out);
}

/* argv[0] and argv[1] of run_self_child's program. */
typedef struct self_args_ {
    const char *name;
    const char *arg;
} self_args_;

static inline void child_exec_self_(void *arg)
{
    const self_args_ *a = arg;
    execl("/proc/self/exe", a->name, a->arg, (char *)NULL);
    say("exec failed\n");
    _exit(127);
}

/* Runs this test binary afresh as `name arg` in a child (see
 * run_child_with): for scenarios that need a clean process, not a fork of
 * one cmocka has set up. */
static inline void run_self_child(const char *name, const char *arg, child_result *out)
{
    self_args_ a = {name, arg};
    run_child_with(child_exec_self_, &a, out);
}

/* Asserts that the child died of SIGABRT and its stderr holds `needle`. */
static inline void assert_child_aborted(const child_result *r, const char *needle)
{
    if (!WIFSIGNALED(r->status) || WTERMSIG(r->status) != SIGABRT)
        fail_msg("the child did not die of SIGABRT (status 0x%x); its stderr:\n%s", r->status,
                 r->err);
    if (!strstr(r->err, needle))
        fail_msg("the child's stderr lacks \"%s\":\n%s", needle, r->err);
}

/* Asserts that the child exited with status 0, showing its stderr if not. */
static inline void assert_child_ok(const child_result *r)
{
    if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
        fail_msg("the child failed (status 0x%x); its stderr:\n%s", r->status, r->err);
}

/* Asserts that text (a child's stderr, say) contains needle. */
static inline void assert_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("\"%s\" missing from:\n%s", needle, text);
}

/* Runs body() in a child and asserts it aborted saying `needle`. */
static inline void assert_aborts(void (*body)(void), const char *needle)
{
    child_result r;
    run_child(body, &r);
    assert_child_aborted(&r, needle);
}

/* Freeing an object that a task still waits on must abort: make() builds
 * the object, park(object) is the body of a task that ends up waiting on
 * it, release(object) is the free function under test. */
static struct {
    void *(*make)(void);
    cio_fn park;
    void (*release)(void *object);
} in_use;

static inline int free_in_use_main(void *arg)
{
    (void)arg;
    void *object = in_use.make();
    cio_detach(cio_create_task(in_use.park, object));
    cio_yield();
    in_use.release(object);
    return 0;
}

static inline void free_in_use_child(void) { cio_run(free_in_use_main, NULL); }

/* Asserts that release() of an object a task waits on aborts, saying
 * `needle`. */
static inline void assert_free_in_use_aborts(void *(*make)(void), cio_fn park,
                                             void (*release)(void *), const char *needle)
{
    in_use.make = make;
    in_use.park = park;
    in_use.release = release;
    assert_aborts(free_in_use_child, needle);
}

#endif
