/* SPDX-License-Identifier: MIT */
/* test_threadpool.c — cio_to_thread: results, threads, the loop running on
 * meanwhile, volume, cancellation and timeouts (fn finishes before the
 * caller goes on), CIO_THREADPOOL_SIZE (checked in fresh processes, since
 * the pool is process-wide and starts on first use), bad input.
 *
 * Failures inside tasks and worker functions are recorded (EXPECT /
 * REQUIRE), not asserted: cmocka reports a failure with longjmp, which must
 * not leave a task's stack or a worker thread. Each test asserts the
 * record once cio_run has returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

/* The pool size the library should have picked (same rules as the
 * header: CIO_THREADPOOL_SIZE, default 4, at most 256). */
static int expected_pool_size(void)
{
    const char *env = getenv("CIO_THREADPOOL_SIZE");
    if (!env || !*env)
        return 4;
    char *end;
    long n = strtol(env, &end, 10);
    if (*end || n < 1)
        return 4;
    return n > 256 ? 256 : (int)n;
}

/* Waits (on the calling worker thread) until *counter reaches want, for at
 * most `limit` seconds. True if it did. */
static bool wait_for_count(atomic_int *counter, int want, double limit)
{
    double start = cio_now();
    while (atomic_load(counter) < want) {
        if (cio_now() - start > limit)
            return false;
        usleep(1000);
    }
    return true;
}

/* ----------------------------------------------------------- results */

static int main_result(void *arg)
{
    (void)arg;
    REQUIRE_CIO(cio_to_thread(return_arg, (void *)42), 42);
    REQUIRE_CIO(cio_to_thread(return_arg, (void *)0), 0);
    /* A negative result is fn's, passed through untouched. */
    REQUIRE_CIO(cio_to_thread(return_arg, (void *)(intptr_t)-7), -7);
    return 0;
}

static void test_to_thread_returns_fn_result(void **state)
{
    (void)state;
    run_ok(main_result, NULL);
}

/* ----------------------------------------------------- another thread */

typedef struct who {
    pthread_t self;
    cio_loop *loop_there;
} who;

static int record_thread(void *arg)
{
    who *w = arg;
    w->self = pthread_self();
    w->loop_there = cio_running_loop();
    return 0;
}

static int main_other_thread(void *arg)
{
    (void)arg;
    who w;
    memset(&w, 0, sizeof w);
    w.loop_there = cio_running_loop();
    REQUIRE_CIO(cio_to_thread(record_thread, &w), 0);
    REQUIRE(!pthread_equal(w.self, pthread_self()));
    /* A worker runs no loop. */
    REQUIRE(w.loop_there == NULL);
    return 0;
}

static void test_to_thread_runs_on_another_thread(void **state)
{
    (void)state;
    run_ok(main_other_thread, NULL);
}

/* ----------------------------------------- the loop runs on meanwhile */

typedef struct ticking {
    atomic_int ticks;
    atomic_bool stop;
} ticking;

static int ticker(void *arg)
{
    ticking *t = arg;
    while (!atomic_load(&t->stop)) {
        atomic_fetch_add(&t->ticks, 1);
        if (cio_sleep(0.005) != 0)
            break;
    }
    return 0;
}

/* Sleeps 0.2 s, then waits (at most 10 s) for the ticker to advance three
 * more times: it can only if the loop is free while this runs. Returns
 * how far the ticker went while this ran. */
static int sleep_and_watch(void *arg)
{
    ticking *t = arg;
    int start = atomic_load(&t->ticks);
    usleep(200000);
    wait_for_count(&t->ticks, start + 3, 10);
    return atomic_load(&t->ticks) - start;
}

static int main_loop_runs(void *arg)
{
    (void)arg;
    ticking t = {0};
    atomic_init(&t.ticks, 0);
    atomic_init(&t.stop, false);
    cio_task *tk = cio_create_task(ticker, &t);
    REQUIRE(tk != NULL);
    REQUIRE_CIO(cio_yield(), 0);
    double start = cio_now();
    int advanced = cio_to_thread(sleep_and_watch, &t);
    double took = cio_now() - start;
    atomic_store(&t.stop, true);
    REQUIRE_CIO(cio_await(tk), 0);
    REQUIRE(advanced >= 3);
    REQUIRE(took >= 0.19);
    return 0;
}

static void test_loop_runs_while_fn_runs(void **state)
{
    (void)state;
    run_ok(main_loop_runs, NULL);
}

/* ------------------------------------------------------ many jobs */

#define MANY_JOBS 64

static atomic_int in_flight, max_in_flight;

static int counted_job(void *arg)
{
    int now = atomic_fetch_add(&in_flight, 1) + 1;
    int seen = atomic_load(&max_in_flight);
    while (now > seen && !atomic_compare_exchange_weak(&max_in_flight, &seen, now)) {
    }
    usleep(5000);
    atomic_fetch_sub(&in_flight, 1);
    return (int)(intptr_t)arg * 3;
}

static int one_job_task(void *arg) { return cio_to_thread(counted_job, arg); }

static int main_many_jobs(void *arg)
{
    (void)arg;
    atomic_store(&in_flight, 0);
    atomic_store(&max_in_flight, 0);
    cio_task *tasks[MANY_JOBS];
    for (intptr_t i = 0; i < MANY_JOBS; i++) {
        tasks[i] = cio_create_task(one_job_task, (void *)i);
        REQUIRE(tasks[i] != NULL);
    }
    int results[MANY_JOBS];
    REQUIRE_CIO(cio_gather(tasks, MANY_JOBS, results), 0);
    for (int i = 0; i < MANY_JOBS; i++)
        REQUIRE_CIO(results[i], i * 3);
    /* More jobs than workers: never more at once than the pool has. */
    REQUIRE(atomic_load(&max_in_flight) <= expected_pool_size());
    REQUIRE(atomic_load(&max_in_flight) >= 1);
    return 0;
}

static void test_many_jobs_more_than_pool_all_complete(void **state)
{
    (void)state;
    run_ok(main_many_jobs, NULL);
}

/* Two jobs that each wait for the other to start can only both succeed if
 * the pool runs them at the same time (it has 4 workers by default). */
static atomic_int met;

static int rendezvous(void *arg)
{
    int parties = (int)(intptr_t)arg;
    atomic_fetch_add(&met, 1);
    return wait_for_count(&met, parties, 10) ? 0 : -ETIMEDOUT;
}

static int rendezvous_task(void *arg) { return cio_to_thread(rendezvous, arg); }

static int main_parallel(void *arg)
{
    int parties = (int)(intptr_t)arg;
    atomic_store(&met, 0);
    cio_task *tasks[8];
    REQUIRE(parties <= 8);
    for (int i = 0; i < parties; i++) {
        tasks[i] = cio_create_task(rendezvous_task, (void *)(intptr_t)parties);
        REQUIRE(tasks[i] != NULL);
    }
    REQUIRE_CIO(cio_gather(tasks, (size_t)parties, NULL), 0);
    return 0;
}

static void test_jobs_run_in_parallel(void **state)
{
    (void)state;
    if (expected_pool_size() < 2)
        skip();
    run_ok(main_parallel, (void *)2);
}

/* Loops on two threads share the process-wide pool. */
static int several_jobs(void *arg)
{
    (void)arg;
    for (intptr_t i = 0; i < 20; i++)
        REQUIRE_CIO(cio_to_thread(return_arg, (void *)i), i);
    return 0;
}

static void *other_loop_thread(void *arg)
{
    int *result = arg;
    *result = cio_run(several_jobs, NULL);
    return NULL;
}

static int main_two_loops(void *arg)
{
    (void)arg;
    int other = 1;
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, other_loop_thread, &other) == 0);
    int mine = several_jobs(NULL);
    /* Blocks this loop until the other is done; its jobs need no help
     * from this one. */
    pthread_join(th, NULL);
    REQUIRE_CIO(mine, 0);
    REQUIRE_CIO(other, 0);
    return 0;
}

static void test_two_loops_share_the_pool(void **state)
{
    (void)state;
    run_ok(main_two_loops, NULL);
}

/* ----------------------------------------------------- cancellation */

/* fn writes into the caller's stack frame after a delay: cio_to_thread
 * must not return (and let that frame go) before it has. */
typedef struct late_write {
    int written;
    int ran;
} late_write;

static int write_late(void *arg)
{
    late_write *lw = arg;
    lw->ran = 1;
    usleep(200000);
    lw->written = 1;
    return 5;
}

/* Returns 0 if cio_to_thread said -ECANCELED and the write had happened
 * by then; a distinct code for each way it can go wrong. */
static int cancelled_caller(void *arg)
{
    (void)arg;
    late_write lw = {0, 0};
    int r = cio_to_thread(write_late, &lw);
    if (!lw.written)
        return -2001; /* returned while fn still ran */
    if (r != -ECANCELED)
        return r == 5 ? -2002 : -2003;
    /* Level-triggered: the task stays cancelled. */
    if (cio_yield() != -ECANCELED)
        return -2004;
    return 0;
}

static int main_cancel_mid_job(void *arg)
{
    (void)arg;
    cio_task *t = cio_create_task(cancelled_caller, NULL);
    REQUIRE(t != NULL);
    /* Let it submit the job and the worker start on it. */
    REQUIRE_CIO(cio_sleep(0.05), 0);
    REQUIRE_CIO(cio_cancel(t), 0);
    /* 0 only if the task saw -ECANCELED after fn's late write. */
    REQUIRE_CIO(cio_await(t), 0);
    return 0;
}

static void test_cancel_waits_for_fn_then_ecanceled(void **state)
{
    (void)state;
    run_ok(main_cancel_mid_job, NULL);
}

/* The same with an enclosing timeout that expires while fn runs. */
static int main_timeout_mid_job(void *arg)
{
    (void)arg;
    late_write lw = {0, 0};
    double start = cio_now();
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.05);
    int r = cio_to_thread(write_late, &lw);
    int te = cio_timeout_exit(&tm);
    double took = cio_now() - start;
    REQUIRE(lw.written);
    REQUIRE_CIO(r, -ETIMEDOUT);
    REQUIRE_CIO(te, -ETIMEDOUT);
    REQUIRE(took >= 0.19);
    return 0;
}

static void test_timeout_waits_for_fn_then_etimedout(void **state)
{
    (void)state;
    run_ok(main_timeout_mid_job, NULL);
}

/* Already cancelled when it calls: fn never runs. */
static int precancelled_caller(void *arg)
{
    late_write *lw = arg;
    cio_cancel(cio_current_task());
    return cio_to_thread(write_late, lw);
}

static int main_precancelled(void *arg)
{
    (void)arg;
    late_write lw = {0, 0};
    cio_task *t = cio_create_task(precancelled_caller, &lw);
    REQUIRE(t != NULL);
    REQUIRE_CIO(cio_yield(), 0);
    REQUIRE_CIO(cio_await(t), -ECANCELED);
    REQUIRE(!lw.ran);
    return 0;
}

static void test_cancelled_before_call_fn_never_runs(void **state)
{
    (void)state;
    run_ok(main_precancelled, NULL);
}

/* main returns while a detached task is inside cio_to_thread: cio_run
 * cancels it, and must still wait for fn, which writes into that task's
 * stack, before it frees anything. */
static int detached_job_task(void *arg)
{
    int *outcome = arg;
    late_write lw = {0, 0};
    int r = cio_to_thread(write_late, &lw);
    *outcome = lw.written && r == -ECANCELED ? 1 : r == 5 ? 2 : 3;
    return 0;
}

static int main_leaves_job_behind(void *arg)
{
    cio_task *t = cio_create_task(detached_job_task, arg);
    REQUIRE(t != NULL);
    cio_detach(t);
    REQUIRE_CIO(cio_sleep(0.05), 0);
    return 0;
}

static void test_loop_end_waits_for_running_fn(void **state)
{
    (void)state;
    int outcome = 0;
    run_ok(main_leaves_job_behind, &outcome);
    /* 1: cancelled by the shutdown, and fn had finished. */
    assert_int_equal(outcome, 1);
}

/* ------------------------------------------------------------ bad input */

static int main_bad_input(void *arg)
{
    (void)arg;
    REQUIRE_CIO(cio_to_thread(NULL, NULL), -EINVAL);
    return 0;
}

static void test_null_fn_is_einval(void **state)
{
    (void)state;
    run_ok(main_bad_input, NULL);
}

static atomic_int outside_ran;

static int mark_ran(void *arg)
{
    (void)arg;
    atomic_store(&outside_ran, 1);
    return 0;
}

static void test_outside_a_task_is_eperm(void **state)
{
    (void)state;
    atomic_store(&outside_ran, 0);
    assert_cio(cio_to_thread(mark_ran, NULL), -EPERM);
    usleep(20000);
    assert_int_equal(atomic_load(&outside_ran), 0);
}

/* ------------------------------------ CIO_THREADPOOL_SIZE, in children */

/* What a child process checks, chosen by CIO_TEST_POOL_CHILD. It runs in
 * a fresh process because the pool is process-wide and started on first
 * use: this process's pool already exists. */
typedef struct serial_job {
    pthread_t self;
} serial_job;

static int sleep_200ms(void *arg)
{
    serial_job *j = arg;
    j->self = pthread_self();
    usleep(200000);
    return 0;
}

static int sleeping_task(void *arg) { return cio_to_thread(sleep_200ms, arg); }

/* Size 1: two 0.2 s jobs submitted together run one after the other, on
 * the same thread. */
static int child_serial(void *arg)
{
    (void)arg;
    serial_job j[2];
    double start = cio_now();
    cio_task *a = cio_create_task(sleeping_task, &j[0]);
    cio_task *b = cio_create_task(sleeping_task, &j[1]);
    REQUIRE(a && b);
    REQUIRE_CIO(cio_await(a), 0);
    REQUIRE_CIO(cio_await(b), 0);
    double took = cio_now() - start;
    if (took < 0.39)
        note_failure(__FILE__, __LINE__, "two 0.2 s jobs on one worker took only %.3f s", took);
    REQUIRE(pthread_equal(j[0].self, j[1].self));
    return 0;
}

/* Size n: n jobs can meet (all run at once), and with 3n jobs no more than
 * n are ever in flight. */
static int child_width(void *arg)
{
    int n = (int)(intptr_t)arg;
    REQUIRE_CIO(main_parallel((void *)(intptr_t)n), 0);
    atomic_store(&in_flight, 0);
    atomic_store(&max_in_flight, 0);
    cio_task *tasks[24];
    REQUIRE(3 * n <= 24);
    for (int i = 0; i < 3 * n; i++) {
        tasks[i] = cio_create_task(one_job_task, (void *)(intptr_t)i);
        REQUIRE(tasks[i] != NULL);
    }
    REQUIRE_CIO(cio_gather(tasks, (size_t)(3 * n), NULL), 0);
    if (atomic_load(&max_in_flight) > n)
        note_failure(__FILE__, __LINE__, "%d jobs in flight with a pool of %d",
                     atomic_load(&max_in_flight), n);
    return 0;
}

static int child_main(const char *mode)
{
    int r;
    if (strcmp(mode, "serial") == 0)
        r = cio_run(child_serial, NULL);
    else if (strcmp(mode, "width2") == 0)
        r = cio_run(child_width, (void *)2);
    else if (strcmp(mode, "width4") == 0)
        r = cio_run(child_width, (void *)4);
    else
        r = -EINVAL;
    if (failure_count() || r != 0) {
        fprintf(stderr, "child '%s': %s (result %d: %s)\n", mode, failure_text(), r,
                cio_strerror(r));
        return 1;
    }
    return 0;
}

/* Runs this executable again in child mode `mode` with CIO_THREADPOOL_SIZE
 * = size (NULL: unset) and returns its exit status (-1: did not exit). */
static int run_pool_child(const char *mode, const char *size)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 3, sizeof *env);
    assert_non_null(env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "CIO_THREADPOOL_SIZE=", 20) != 0 &&
            strncmp(environ[i], "CIO_TEST_POOL_CHILD=", 20) != 0)
            env[k++] = environ[i];
    }
    char size_var[64], mode_var[64];
    if (size) {
        snprintf(size_var, sizeof size_var, "CIO_THREADPOOL_SIZE=%s", size);
        env[k++] = size_var;
    }
    snprintf(mode_var, sizeof mode_var, "CIO_TEST_POOL_CHILD=%s", mode);
    env[k++] = mode_var;
    env[k] = NULL;
    char exe[] = "/proc/self/exe", name[] = "test_threadpool";
    char *argv[] = {name, NULL};
    pid_t pid;
    int err = posix_spawn(&pid, exe, NULL, NULL, argv, env);
    free(env);
    assert_int_equal(err, 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_pool_size_1_runs_jobs_one_at_a_time(void **state)
{
    (void)state;
    assert_int_equal(run_pool_child("serial", "1"), 0);
}

static void test_pool_size_2_runs_two_at_most(void **state)
{
    (void)state;
    assert_int_equal(run_pool_child("width2", "2"), 0);
}

static void test_pool_default_size_is_4(void **state)
{
    (void)state;
    assert_int_equal(run_pool_child("width4", NULL), 0);
}

/* ------------------------------------------------ after fork() */

/* A process forked after the pool started has none of its workers (fork
 * copies only the calling thread), so the pool must start afresh there,
 * or the child's jobs wait forever (uncancellably). The child runs the
 * job under a 5 s timeout only as a hint; the parent gives up on it after
 * 10 s and kills it. ThreadSanitizer does not support starting threads in
 * a child forked from a multi-threaded process, and neither does qemu-user
 * 7.2 (it aborts: "cpu == current_cpu"; scripts/test-aarch64.sh sets
 * CIO_TEST_QEMU), hence the skips. */
#ifdef TSAN_BUILD
#define FORK_THEN_THREADS_OK 0
#else
#define FORK_THEN_THREADS_OK 1
#endif

static int main_one_job(void *arg)
{
    (void)arg;
    cio_timeout tm;
    cio_timeout_enter(&tm, 5);
    int r = cio_to_thread(return_arg, (void *)42);
    cio_timeout_exit(&tm);
    return r;
}

static void test_pool_works_in_forked_child(void **state)
{
    (void)state;
    if (!FORK_THEN_THREADS_OK || getenv("CIO_TEST_QEMU"))
        skip();
    /* Make sure this process's pool has started. */
    run_ok(main_result, NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(cio_run(main_one_job, NULL) == 42 ? 0 : 1);
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 1000 && done == 0; i++) {
        done = waitpid(pid, &status, WNOHANG);
        if (done == 0)
            usleep(10000);
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("cio_to_thread in a forked child did not return within 10 s");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const char *mode = getenv("CIO_TEST_POOL_CHILD");
    if (mode)
        return child_main(mode);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outside_a_task_is_eperm),
        cmocka_unit_test(test_to_thread_returns_fn_result),
        cmocka_unit_test(test_to_thread_runs_on_another_thread),
        cmocka_unit_test(test_loop_runs_while_fn_runs),
        cmocka_unit_test(test_many_jobs_more_than_pool_all_complete),
        cmocka_unit_test(test_jobs_run_in_parallel),
        cmocka_unit_test(test_two_loops_share_the_pool),
        cmocka_unit_test(test_cancel_waits_for_fn_then_ecanceled),
        cmocka_unit_test(test_timeout_waits_for_fn_then_etimedout),
        cmocka_unit_test(test_cancelled_before_call_fn_never_runs),
        cmocka_unit_test(test_loop_end_waits_for_running_fn),
        cmocka_unit_test(test_null_fn_is_einval),
        cmocka_unit_test(test_pool_size_1_runs_jobs_one_at_a_time),
        cmocka_unit_test(test_pool_size_2_runs_two_at_most),
        cmocka_unit_test(test_pool_default_size_is_4),
        cmocka_unit_test(test_pool_works_in_forked_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
