/* SPDX-License-Identifier: MIT */
/* test_debug.c — CIO_DEBUG=1: the slow-task report while the task still
 * blocks (with a backtrace naming the function), tasks never awaited,
 * peak stack use, the SIGQUIT task tree, and cio_dump_tasks.
 *
 * Each debug run happens in a child process with its stderr captured.
 * This executable is linked with ENABLE_EXPORTS (-rdynamic), so that
 * backtraces name its functions.
 */
#include "testutil.h"

#include <time.h>

/* A child's body: debug mode on, then cio_run(fn), which must return 0. */
static void debug_run(void *fn)
{
    setenv("CIO_DEBUG", "1", 1);
    setenv("CIO_SLOW_TASK_MS", "20", 1);
    reset_failures();
    int r = cio_run((cio_fn)(uintptr_t)fn, NULL);
    if (r != 0 || failure_count()) {
        fprintf(stderr, "run failed: %d %s\n", r, failure_text());
        _exit(1);
    }
}

static void run_debug_child(cio_fn fn, child_result *r)
{
    run_child_with(debug_run, (void *)(uintptr_t)fn, r);
    assert_child_ok(r);
}

/* ----------------------------------------------------------- slow task */

/* The slow-task child's stderr is this file, so that the blocking task can
 * see the report arrive (and the parent reads the file afterwards). */
static int slow_log = -1;

static bool slow_report_seen(void)
{
    char buf[4096];
    ssize_t n = pread(slow_log, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return strstr(buf, "has been running for") != NULL;
}

void test_debug_block_the_loop(void);

/* Blocks the loop's thread (as a careless blocking call would) until the
 * watchdog has reported it, or 10 s at most. Exported, so the backtrace
 * names it. */
__attribute__((noinline)) void test_debug_block_the_loop(void)
{
    for (int i = 0; i < 10000 && !slow_report_seen(); i++)
        usleep(1000);
}

static int hog(void *arg)
{
    (void)arg;
    test_debug_block_the_loop();
    return 0;
}

static int slow_main(void *arg)
{
    (void)arg;
    cio_task *t = cio_create_task_opts(hog, NULL, &(cio_task_opts){.name = "hog"});
    REQUIRE(t);
    CHECK_CIO(cio_await(t), 0);
    return 0;
}

/* Runs slow_main with stderr in a file, then copies the file to the real
 * stderr (the parent's pipe). */
static void slow_child(void *arg)
{
    (void)arg;
    char path[] = "/tmp/cio-test-debug-XXXXXX";
    slow_log = mkstemp(path);
    if (slow_log < 0)
        _exit(2);
    unlink(path);
    int pipe_fd = dup(STDERR_FILENO);
    dup2(slow_log, STDERR_FILENO);
    setenv("CIO_DEBUG", "1", 1);
    setenv("CIO_SLOW_TASK_MS", "20", 1);
    reset_failures();
    int r = cio_run(slow_main, NULL);
    char buf[8192];
    ssize_t n = pread(slow_log, buf, sizeof buf, 0);
    if (n > 0 && write(pipe_fd, buf, (size_t)n) < 0)
        _exit(3);
    if (r != 0 || failure_count())
        _exit(1);
}

static void test_slow_task_is_reported_while_it_blocks(void **state)
{
    (void)state;
    child_result r;
    run_child_with(slow_child, NULL, &r);
    assert_child_ok(&r);
    const char *during = strstr(r.err, "task#2 \"hog\" has been running for ");
    if (!during)
        fail_msg("no report while the task blocked:\n%s", r.err);
    assert_contains(during, "ms without suspending (CIO_SLOW_TASK_MS=20): it is blocking the loop");
    /* The backtrace, between the two reports, names where it is stuck. */
    const char *after = strstr(r.err, "task#2 \"hog\" ran for ");
    assert_non_null(after);
    const char *frame = strstr(during, "test_debug_block_the_loop");
    if (!frame || frame > after)
        fail_msg("the backtrace does not name the blocking function:\n%s", r.err);
    assert_contains(r.err, "task#2 \"hog\" ran for ");
    assert_contains(r.err, " ms without suspending: the loop was blocked all that time");
    /* main never ran long. */
    assert_null(strstr(r.err, "\"main\" ran for"));
}

/* -------------------------------------------------------- never awaited */

static int unawaited_main(void *arg)
{
    (void)arg;
    REQUIRE(cio_create_task_opts(return_arg, (void *)7, &(cio_task_opts){.name = "orphan"}));
    cio_detach(cio_create_task_opts(return_arg, NULL, &(cio_task_opts){.name = "let-go"}));
    cio_task *t = cio_create_task_opts(return_arg, NULL, &(cio_task_opts){.name = "awaited"});
    CHECK_CIO(cio_await(t), 0);
    return 0;
}

static void test_tasks_never_awaited_are_listed_at_close(void **state)
{
    (void)state;
    child_result r;
    run_debug_child(unawaited_main, &r);
    assert_contains(r.err, "task#2 \"orphan\" was never awaited nor detached (result 7)");
    assert_null(strstr(r.err, "let-go"));
    assert_null(strstr(r.err, "\"awaited\""));
    assert_null(strstr(r.err, "\"main\""));
}

/* ---------------------------------------------------------------- stack */

/* Uses about `arg` percent of its stack (sanitizer builds enlarge stacks:
 * sizes are relative). */
static int deep(void *arg)
{
    size_t n = cio_task_stack_size(cio_current_task()) / 100 * (size_t)(uintptr_t)arg;
    volatile char *buf = __builtin_alloca(n);
    for (size_t i = 0; i < n; i += 64)
        buf[i] = (char)i;
    return buf[0];
}

static int stack_main(void *arg)
{
    (void)arg;
    cio_task *big = cio_create_task_opts(deep, (void *)(uintptr_t)82,
                                         &(cio_task_opts){.name = "deep", .stack_size = 16384});
    cio_task *small = cio_create_task_opts(deep, (void *)(uintptr_t)10,
                                           &(cio_task_opts){.name = "shallow", .stack_size = 16384});
    REQUIRE(big && small);
    CHECK_CIO(cio_await(big), 0);
    CHECK_CIO(cio_await(small), 0);
    return 0;
}

static void test_stack_use_over_75_percent_is_reported(void **state)
{
    (void)state;
#if ASAN_BUILD
    /* AddressSanitizer raises every stack to 256 KiB and checks stacks
     * itself; debug mode does not paint them there. */
    skip();
#endif
    child_result r;
    run_debug_child(stack_main, &r);
    assert_contains(r.err, "task#2 \"deep\" used ");
    assert_contains(r.err, " bytes of stack at its deepest (");
    assert_null(strstr(r.err, "\"shallow\" used"));
}

/* -------------------------------------------------------------- SIGQUIT */

static cio_event *never;

static int wait_forever(void *arg)
{
    (void)arg;
    return cio_event_wait(never);
}

static int parent_task(void *arg)
{
    (void)arg;
    cio_task *g = cio_create_task_opts(wait_forever, NULL, &(cio_task_opts){.name = "grandchild"});
    REQUIRE(g);
    int r = cio_await(g);
    return r == -ECANCELED ? 0 : r;
}

static int group_owner(void *arg)
{
    (void)arg;
    cio_taskgroup *g = cio_taskgroup_new();
    REQUIRE(g);
    CHECK_CIO(cio_taskgroup_create_task_opts(g, wait_forever, NULL,
                                             &(cio_task_opts){.name = "in-group"}),
              0);
    int r = cio_taskgroup_wait(g);
    return r == -ECANCELED ? 0 : r;
}

static int sigquit_main(void *arg)
{
    (void)arg;
    never = cio_event_new();
    REQUIRE(never);
    cio_task *p = cio_create_task_opts(parent_task, NULL, &(cio_task_opts){.name = "parent"});
    cio_task *o = cio_create_task_opts(group_owner, NULL, &(cio_task_opts){.name = "owner"});
    REQUIRE(p && o);
    CHECK_CIO(cio_sleep(0.01), 0);
    /* The handler only takes note; the loop prints at its next iteration,
     * and the program goes on. */
    raise(SIGQUIT);
    CHECK_CIO(cio_sleep(0.01), 0);
    say("after the dump\n");
    cio_cancel(p);
    cio_cancel(o);
    CHECK_CIO(cio_await(p), 0);
    CHECK_CIO(cio_await(o), 0);
    cio_event_free(never);
    return 0;
}

static void test_sigquit_dumps_the_task_tree_and_the_program_goes_on(void **state)
{
    (void)state;
    child_result r;
    run_debug_child(sigquit_main, &r);
    const char *dump = strstr(r.err, "cio: task dump (SIGQUIT): 5 task(s), 5 not finished");
    if (!dump)
        fail_msg("no dump:\n%s", r.err);
    assert_contains(dump, "cio: task#1 \"main\" waiting for timer due at ");
    assert_contains(dump, "cio:   task#2 \"parent\" waiting for task#4");
    assert_contains(dump, "cio:     task#4 \"grandchild\" waiting for an event");
    assert_contains(dump, "cio:   task#3 \"owner\" waiting for a task group's children");
    assert_contains(dump, "cio:     task group ");
    assert_contains(dump, "cio:       task#5 \"in-group\" waiting for an event");
    assert_contains(dump, "after the dump");
}

static volatile sig_atomic_t app_got_sigquit;

static void app_handler(int sig)
{
    (void)sig;
    app_got_sigquit = 1;
}

static int app_sigquit_main(void *arg)
{
    (void)arg;
    raise(SIGQUIT);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK(app_got_sigquit);
    return 0;
}

static void app_owns_sigquit(void *arg)
{
    (void)arg;
    signal(SIGQUIT, app_handler);
    debug_run((void *)(uintptr_t)app_sigquit_main);
}

static void test_sigquit_is_left_to_an_application_handler(void **state)
{
    (void)state;
    child_result r;
    run_child_with(app_owns_sigquit, NULL, &r);
    assert_child_ok(&r);
    assert_null(strstr(r.err, "task dump"));
}

/* ---------------------------------------------------------- dump_tasks */

static int dump_main(void *arg)
{
    (void)arg;
    CHECK_CIO(cio_dump_tasks(NULL), -EINVAL);
    cio_task *t = cio_create_task_opts(return_arg, (void *)3, &(cio_task_opts){.name = "done-one"});
    REQUIRE(t);
    CHECK_CIO(cio_yield(), 0);
    CHECK_CIO(cio_dump_tasks(stderr), 0);
    CHECK_CIO(cio_await(t), 3);
    return 0;
}

static void dump_untraced(void)
{
    reset_failures();
    if (cio_run(dump_main, NULL) != 0 || failure_count())
        _exit(1);
}

static void test_dump_tasks_without_debug_mode(void **state)
{
    (void)state;
    assert_cio(cio_dump_tasks(stderr), -EPERM);
    child_result r;
    run_child(dump_untraced, &r);
    assert_child_ok(&r);
    assert_contains(r.err, "cio: task dump (cio_dump_tasks): 2 task(s), 1 not finished");
    assert_contains(r.err, "cio: task#1 \"main\" running");
    assert_contains(r.err, "cio: task#2 \"done-one\" done: result 3 (ok), not yet awaited");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_task_is_reported_while_it_blocks),
        cmocka_unit_test(test_tasks_never_awaited_are_listed_at_close),
        cmocka_unit_test(test_stack_use_over_75_percent_is_reported),
        cmocka_unit_test(test_sigquit_dumps_the_task_tree_and_the_program_goes_on),
        cmocka_unit_test(test_sigquit_is_left_to_an_application_handler),
        cmocka_unit_test(test_dump_tasks_without_debug_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
