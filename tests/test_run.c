/* SPDX-License-Identifier: MIT */
/* test_run.c — cio_run and the loop's life: main's result, misuse,
 * asyncio.run's shutdown (leftover tasks are cancelled and allowed to
 * finish), cio_running_loop, one loop per thread, the clock, and the choice
 * of backend.
 *
 * Assertions inside tasks do not use cmocka directly: a failing cmocka
 * assertion longjmps, which from a task's stack would leave the loop
 * half-run and break every later test. Tasks note the first failed check
 * instead, and the test function reports it once cio_run has returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* ------------------------------------------------------------ helpers */

static int set_flag(void *arg)
{
    *(int *)arg = 1;
    return 0;
}

/* ------------------------------------------------------------- results */

static int sleep_then_return(void *arg)
{
    int err = cio_sleep(0.001);
    return err ? err : (int)(intptr_t)arg;
}

static void test_run_returns_mains_result(void **state)
{
    (void)state;
    assert_cio(test_run(return_arg, (void *)(intptr_t)42), 42);
    assert_cio(test_run(return_arg, (void *)(intptr_t)0), 0);
    assert_cio(test_run(return_arg, (void *)(intptr_t)-EIO), -EIO);
    /* After a suspension, too. */
    assert_cio(test_run(sleep_then_return, (void *)(intptr_t)17), 17);
}

static int nested_run_main(void *arg)
{
    int ran = 0;
    *(int *)arg = cio_run(set_flag, &ran);
    CHECK(ran == 0); /* refused before anything ran */
    return 0;
}

static void test_run_inside_a_running_loop_is_ebusy(void **state)
{
    (void)state;
    int nested = 1;
    run_main(nested_run_main, &nested, 0);
    assert_cio(nested, -EBUSY);
    /* The refusal did not disturb this thread's next loop. */
    assert_cio(test_run(return_arg, (void *)(intptr_t)3), 3);
}

static void test_run_null_is_einval(void **state)
{
    (void)state;
    assert_cio(cio_run(NULL, NULL), -EINVAL);
    assert_null(cio_running_loop());
}

/* ------------------------------------------------------------ shutdown */

/* What leftover tasks did, read after cio_run has returned. */
typedef struct leftover_state {
    int started;
    int first;   /* what the long sleep returned */
    int cleanup; /* what the shielded cleanup sleep returned */
    double cleanup_took;
    int done;
} leftover_state;

static leftover_state kept, detached;
static int ignorer_calls;
static int ignorer_done;

static int leftover_body(void *arg)
{
    leftover_state *s = arg;
    s->started = 1;
    s->first = cio_sleep(100);
    if (s->first == -ECANCELED) {
        /* Cleanup that must still suspend: shielded from the cancel. */
        cio_shield sh;
        cio_shield_enter(&sh);
        double start = cio_now();
        s->cleanup = cio_sleep(0.01);
        s->cleanup_took = cio_now() - start;
        cio_shield_exit(&sh);
    }
    s->done = 1;
    return -ECANCELED;
}

/* Ignores cancellation three times: level-triggered, each call fails at
 * once, so shutdown still ends. */
static int ignorer_body(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        if (cio_sleep(100) == -ECANCELED)
            ignorer_calls++;
    }
    ignorer_done = 1;
    return 0;
}

static int leftover_main(void *arg)
{
    (void)arg;
    /* A handle dropped without await (a bug in a real program, but
     * cio_run must still end it), a detached task, and a task that
     * ignores cancellation. */
    cio_create_task(leftover_body, &kept);
    cio_detach(cio_create_task(leftover_body, &detached));
    cio_create_task(ignorer_body, NULL);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK(kept.started && detached.started);
    return 5;
}

static void test_leftover_tasks_are_cancelled_and_finish(void **state)
{
    (void)state;
    memset(&kept, 0, sizeof kept);
    memset(&detached, 0, sizeof detached);
    ignorer_calls = ignorer_done = 0;
    double start = cio_now();
    run_main(leftover_main, NULL, 5); /* main's result, not the leftovers' */
    double took = cio_now() - start;
    const leftover_state *both[] = {&kept, &detached};
    for (int i = 0; i < 2; i++) {
        assert_cio(both[i]->first, -ECANCELED);
        assert_cio(both[i]->cleanup, 0);
        assert_true(both[i]->cleanup_took >= 0.009);
        assert_int_equal(both[i]->done, 1);
    }
    assert_int_equal(ignorer_calls, 3);
    assert_int_equal(ignorer_done, 1);
    assert_true(took < 5.0);
}

/* ------------------------------------------------------ running loop */

typedef struct loops_seen {
    cio_loop *in_main, *in_task, *in_callback;
    const char *backend;
} loops_seen;

static int record_loop(void *arg)
{
    ((loops_seen *)arg)->in_task = cio_running_loop();
    return 0;
}

static void record_loop_cb(void *arg) { ((loops_seen *)arg)->in_callback = cio_running_loop(); }

static int running_loop_main(void *arg)
{
    loops_seen *s = arg;
    s->in_main = cio_running_loop();
    s->backend = cio_backend_name();
    cio_call_soon(record_loop_cb, s);
    CHECK_CIO(cio_await(cio_create_task(record_loop, s)), 0);
    CHECK_CIO(cio_sleep(0.001), 0);
    return 0;
}

static void test_running_loop(void **state)
{
    (void)state;
    assert_null(cio_running_loop());
    assert_null(cio_backend_name());
    loops_seen s = {NULL, NULL, NULL, NULL};
    run_main(running_loop_main, &s, 0);
    assert_non_null(s.in_main);
    assert_ptr_equal(s.in_task, s.in_main);
    assert_ptr_equal(s.in_callback, s.in_main);
    assert_null(cio_running_loop());
    assert_non_null(s.backend);
    /* The suite is registered once per backend: it must get the one it
     * asked for, not a fallback. */
    const char *want = getenv("CIO_BACKEND");
    if (want && *want)
        assert_string_equal(s.backend, want);
}

/* ---------------------------------------------------- a loop per thread */

static atomic_int threads_arrived;

typedef struct thread_run {
    pthread_t thread;
    int result;
    cio_loop *loop;
    bool saw_other; /* both loops were running at the same time */
    long long sum;
} thread_run;

static int thread_main(void *arg)
{
    thread_run *tr = arg;
    tr->loop = cio_running_loop();
    atomic_fetch_add(&threads_arrived, 1);
    /* Wait, without blocking this loop, until the other thread's loop is
     * running too; bounded, so a failure cannot hang the suite. */
    double give_up = cio_now() + 10;
    while (atomic_load(&threads_arrived) < 2 && cio_now() < give_up)
        cio_sleep(0.001);
    tr->saw_other = atomic_load(&threads_arrived) >= 2;
    cio_task *t[100];
    for (intptr_t i = 0; i < 100; i++)
        t[i] = cio_create_task(sleep_then_return, (void *)i);
    for (int i = 0; i < 100; i++)
        tr->sum += cio_await(t[i]);
    return 7;
}

static void *thread_entry(void *arg)
{
    thread_run *tr = arg;
    tr->result = cio_run(thread_main, tr);
    return NULL;
}

static void test_two_threads_run_their_own_loops(void **state)
{
    (void)state;
    atomic_store(&threads_arrived, 0);
    thread_run runs[2];
    memset(runs, 0, sizeof runs);
    int fds_before = test_open_fds(), rings_before = test_count_fds(true);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&runs[i].thread, NULL, thread_entry, &runs[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(runs[i].thread, NULL), 0);
    assert_int_equal(test_open_fds(), fds_before);
    /* Each thread kept its io_uring until it exited, then closed it. */
    assert_int_equal(test_count_fds(true), rings_before);
    for (int i = 0; i < 2; i++) {
        assert_cio(runs[i].result, 7);
        assert_true(runs[i].saw_other);
        assert_int_equal(runs[i].sum, 99 * 100 / 2);
        assert_non_null(runs[i].loop);
    }
    assert_ptr_not_equal(runs[0].loop, runs[1].loop);
    assert_null(cio_running_loop()); /* this thread never had a loop */
}

/* ------------------------------------------ after the loop, quiet */

/* A loop that did I/O, so that its thread has submitted to an io_uring. */
static int pipe_round_trip(void *arg)
{
    (void)arg;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -errno;
    char b = 'x';
    int r = cio_write(p[1], &b, 1) == 1 && cio_read(p[0], &b, 1) == 1 ? 0 : -EIO;
    cio_close(p[0]);
    cio_close(p[1]);
    return r;
}

static int peer_fd;

static void *write_later(void *arg)
{
    (void)arg;
    struct timespec wait = {0, 500 * 1000 * 1000};
    nanosleep(&wait, NULL);
    ssize_t n = write(peer_fd, "y", 1);
    (void)n;
    return NULL;
}

/* Tearing an io_uring down makes the kernel interrupt its threads' next
 * blocking call tens of milliseconds later (uring_keep.c): a read with
 * SO_RCVTIMEO returned EINTR half a second after cio_run had returned.
 * The thread's loop must leave nothing behind that can do that. */
static void test_blocking_calls_after_the_loop_are_not_interrupted(void **state)
{
    (void)state;
    assert_cio(test_run(pipe_round_trip, NULL), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct timeval tv = {10, 0};
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    peer_fd = sv[1];
    pthread_t writer;
    assert_int_equal(pthread_create(&writer, NULL, write_later, NULL), 0);
    char b;
    ssize_t got = read(sv[0], &b, 1);
    int err = errno;
    assert_int_equal(pthread_join(writer, NULL), 0);
    if (got != 1)
        fail_msg("a blocking read after cio_run returned %zd (%s)", got, strerror(err));
    close(sv[0]);
    close(sv[1]);
    /* The next loop on this thread runs as well, on what the last left. */
    assert_cio(test_run(pipe_round_trip, NULL), 0);
}

/* A child forked after a loop runs loops of its own: what its parent's
 * thread kept is not its to use. */
static void test_a_child_forked_after_a_loop_runs_loops(void **state)
{
    (void)state;
    assert_cio(test_run(pipe_round_trip, NULL), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(cio_run(pipe_round_trip, NULL) == 0 && cio_run(pipe_round_trip, NULL) == 0 ? 0 : 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_cio(test_run(pipe_round_trip, NULL), 0);
}

/* The process-wide facts a loop reads at its start (page size, the limit
 * on mappings) are read once, whichever thread starts a loop first: several
 * starting at the same moment must not race (ThreadSanitizer reports it).
 * It takes a fresh process, in which no loop has started yet. */
#define FIRST_START_THREADS 6
static pthread_barrier_t first_start, all_running;

/* Every loop stays open until all are: a ring one loop unmapped and the
 * next one got at the same address would look like a race to TSan, which
 * does not see liburing's own mmap calls. */
static int first_start_main(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&all_running);
    return 5;
}

static void *first_start_entry(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&first_start);
    return (void *)(intptr_t)cio_run(first_start_main, NULL);
}

static int first_loops_start_at_once(void)
{
    pthread_t t[FIRST_START_THREADS];
    pthread_barrier_init(&first_start, NULL, FIRST_START_THREADS);
    pthread_barrier_init(&all_running, NULL, FIRST_START_THREADS);
    for (int i = 0; i < FIRST_START_THREADS; i++)
        if (pthread_create(&t[i], NULL, first_start_entry, NULL) != 0)
            return 1;
    int bad = 0;
    for (int i = 0; i < FIRST_START_THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (intptr_t)r != 5;
    }
    pthread_barrier_destroy(&first_start);
    pthread_barrier_destroy(&all_running);
    return bad;
}

static void test_first_loops_start_on_threads_at_once(void **state)
{
    (void)state;
    child_result r;
    run_self_child("test_run", "first-start", &r);
    assert_child_ok(&r);
    /* TSan reports a race and goes on (exit code 66 at the end). */
    if (strstr(r.err, "ThreadSanitizer"))
        fail_msg("the child reported:\n%s", r.err);
}

/* --------------------------------------------------------------- clock */

static int clock_main(void *arg)
{
    (void)arg;
    double a = cio_now();
    CHECK_CIO(cio_sleep(0.02), 0);
    double b = cio_now();
    CHECK(b - a >= 0.015);
    CHECK(b - a < 5.0);
    return 0;
}

static void test_now_is_monotonic(void **state)
{
    (void)state;
    /* Outside a loop it works too, and never goes back. */
    double prev = cio_now();
    for (int i = 0; i < 100000; i++) {
        double now = cio_now();
        if (now < prev)
            fail_msg("cio_now went back from %.9f to %.9f", prev, now);
        prev = now;
    }
    /* It is CLOCK_MONOTONIC, in seconds. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double mono = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    assert_true(cio_now() - mono >= 0 && cio_now() - mono < 1.0);
    run_main(clock_main, NULL, 0);
}

/* ------------------------------------------------------------- backend */

static void test_bogus_backend_fails_to_start(void **state)
{
    (void)state;
    /* The suite runs once per backend with CIO_BACKEND set: put the
     * original value back whatever happens. */
    const char *orig = getenv("CIO_BACKEND");
    char *saved = orig ? strdup(orig) : NULL;
    setenv("CIO_BACKEND", "bogus", 1);
    int ran = 0;
    int r = test_run(set_flag, &ran);
    if (saved) {
        setenv("CIO_BACKEND", saved, 1);
        free(saved);
    } else {
        unsetenv("CIO_BACKEND");
    }
    assert_true(r < 0);
    assert_int_equal(ran, 0);
    assert_null(cio_running_loop());
    /* The environment is back: a loop starts again. */
    assert_cio(test_run(return_arg, (void *)(intptr_t)9), 9);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "first-start") == 0)
        return first_loops_start_at_once();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_returns_mains_result),
        cmocka_unit_test(test_run_inside_a_running_loop_is_ebusy),
        cmocka_unit_test(test_run_null_is_einval),
        cmocka_unit_test(test_leftover_tasks_are_cancelled_and_finish),
        cmocka_unit_test(test_running_loop),
        cmocka_unit_test(test_two_threads_run_their_own_loops),
        cmocka_unit_test(test_blocking_calls_after_the_loop_are_not_interrupted),
        cmocka_unit_test(test_a_child_forked_after_a_loop_runs_loops),
        cmocka_unit_test(test_first_loops_start_on_threads_at_once),
        cmocka_unit_test(test_now_is_monotonic),
        cmocka_unit_test(test_bogus_backend_fails_to_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
