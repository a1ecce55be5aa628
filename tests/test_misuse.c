/* SPDX-License-Identifier: MIT */
/* test_misuse.c — misuse ends loudly: a released task handle used after
 * another task was created, a call on a freed object (every kind the API
 * hands out), a write to a closed stream, and deep recursion on a small
 * canary stack each stop the process with a "cio: fatal:" line that names
 * the call (or the task), instead of waiting for the wrong task or dying
 * of SIGSEGV without a word.
 *
 * Each misuse runs in a child (testutil.h's run_child). The stack
 * overflow runs in a fresh process (run_self_child), as in test_stack.c:
 * cmocka replaces the library's SIGSEGV handler after every test.
 *
 * In an ASan build a call on freed memory is reported by ASan itself (as a
 * heap-use-after-free in the call) before the library's check can look:
 * the tests then accept that report instead of the library's line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

/* Asserts that the child stopped loudly at the use of a freed object:
 * the library's line `needle` (SIGABRT), or ASan's report. */
static void assert_freed_use_caught(const child_result *r, const char *needle)
{
#ifdef ASAN_BUILD
    if (strstr(r->err, "heap-use-after-free")) {
        if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
            fail_msg("ASan reported, yet the child exited 0:\n%s", r->err);
        return;
    }
#endif
    assert_child_aborted(r, needle);
}

/* ------------------------------------------------------- stale handles */

static int return_seven(void *arg)
{
    (void)arg;
    return 7;
}

static int return_nine(void *arg)
{
    (void)arg;
    return 9;
}

static int stale_await_main(void *arg)
{
    (void)arg;
    cio_task *t = cio_create_task(return_seven, NULL);
    if (cio_await(t) != 7)
        return -1;
    /* With structs reused at once, u got t's struct and the second await
     * below waited for u, returning 9. */
    cio_task *u = cio_create_task(return_nine, NULL);
    int r = cio_await(t); /* released: must abort */
    say(r == 9 ? "the stale handle awaited the new task\n" : "the stale await returned\n");
    cio_await(u);
    return 0;
}

static void stale_await_child(void) { cio_run(stale_await_main, NULL); }

static void test_await_of_a_released_handle_aborts_after_a_new_task(void **state)
{
    (void)state;
    child_result r;
    run_child(stale_await_child, &r);
    assert_child_aborted(&r, "cio: fatal: cio_await: the task handle was already released");
    assert_null(strstr(r.err, "the stale"));
}

static int stale_cancel_main(void *arg)
{
    (void)arg;
    cio_task *t = cio_create_task(return_seven, NULL);
    cio_await(t);
    /* Many tasks created and released since: the struct is still not
     * reused while fewer than the free list's quarantine came after. */
    for (int i = 0; i < 500; i++)
        cio_await(cio_create_task(return_nine, NULL));
    cio_task *u = cio_create_task(return_nine, NULL);
    cio_cancel(t); /* released: must abort */
    say("the stale cancel returned\n");
    cio_await(u);
    return 0;
}

static void stale_cancel_child(void) { cio_run(stale_cancel_main, NULL); }

static void test_cancel_of_a_released_handle_aborts_after_many_new_tasks(void **state)
{
    (void)state;
    child_result r;
    run_child(stale_cancel_child, &r);
    assert_child_aborted(&r, "cio: fatal: cio_cancel: the task handle was already released");
    assert_null(strstr(r.err, "returned"));
}

/* Freed structs are still reused: a loop that makes and releases many
 * tasks, one at a time, keeps a bounded number of them. */
static int reuse_main(void *arg)
{
    (void)arg;
    cio_task *first = cio_create_task(return_nine, NULL);
    cio_await(first);
    bool reused = false;
    for (int i = 0; i < 5000 && !reused; i++) {
        cio_task *t = cio_create_task(return_nine, NULL);
        reused = t == first;
        cio_await(t);
    }
    return reused ? 0 : -1;
}

static void test_released_task_structs_are_reused_after_the_quarantine(void **state)
{
    (void)state;
    assert_int_equal(cio_run(reuse_main, NULL), 0);
}

/* -------------------------------------------------------- freed objects */

/* One call on a freed object: the scenario's body, run in a child. */
static void (*misuse_body)(void);

static int misuse_main(void *arg)
{
    (void)arg;
    misuse_body();
    say("the misuse returned\n");
    return 0;
}

static void misuse_child(void) { cio_run(misuse_main, NULL); }

static void assert_misuse_caught(void (*body)(void), const char *needle)
{
    misuse_body = body;
    child_result r;
    run_child(misuse_child, &r);
    assert_freed_use_caught(&r, needle);
    assert_null(strstr(r.err, "the misuse returned"));
}

static void lock_double_free(void)
{
    cio_lock *l = cio_lock_new();
    cio_lock_free(l);
    cio_lock_free(l);
}

static void lock_acquire_after_free(void)
{
    cio_lock *l = cio_lock_new();
    cio_lock_free(l);
    cio_lock_acquire(l);
}

static void event_double_free(void)
{
    cio_event *e = cio_event_new();
    cio_event_free(e);
    cio_event_free(e);
}

static void event_wait_after_free(void)
{
    cio_event *e = cio_event_new();
    cio_event_free(e);
    cio_event_wait(e);
}

static void cond_double_free(void)
{
    cio_lock *l = cio_lock_new();
    cio_cond *c = cio_cond_new(l);
    cio_cond_free(c);
    cio_cond_free(c);
}

static void cond_notify_after_free(void)
{
    cio_lock *l = cio_lock_new();
    cio_cond *c = cio_cond_new(l);
    cio_cond_free(c);
    cio_cond_notify_all(c);
}

static void sem_double_free(void)
{
    cio_sem *s = cio_sem_new(1);
    cio_sem_free(s);
    cio_sem_free(s);
}

static void sem_release_after_free(void)
{
    cio_sem *s = cio_sem_new(1);
    cio_sem_free(s);
    cio_sem_release(s);
}

static void barrier_double_free(void)
{
    cio_barrier *b = cio_barrier_new(2);
    cio_barrier_free(b);
    cio_barrier_free(b);
}

static void queue_double_free(void)
{
    cio_queue *q = cio_queue_new(0);
    cio_queue_free(q);
    cio_queue_free(q);
}

static void queue_put_after_free(void)
{
    cio_queue *q = cio_queue_new(0);
    cio_queue_free(q);
    cio_queue_put_nowait(q, NULL);
}

static void future_double_free(void)
{
    cio_future *f = cio_future_new();
    cio_future_free(f);
    cio_future_free(f);
}

static void future_set_after_free(void)
{
    cio_future *f = cio_future_new();
    cio_future_free(f);
    cio_future_set_result(f, 1);
}

static void taskgroup_double_wait(void)
{
    cio_taskgroup *g = cio_taskgroup_new();
    cio_taskgroup_create_task(g, return_nine, NULL);
    cio_taskgroup_wait(g);
    cio_taskgroup_wait(g);
}

static void test_lock_double_free_aborts(void **state)
{
    (void)state;
    assert_misuse_caught(lock_double_free, "cio: fatal: cio_lock_free: the lock was already freed");
    assert_misuse_caught(lock_acquire_after_free,
                         "cio: fatal: cio_lock_acquire: the lock was already freed");
}

static void test_event_use_after_free_aborts(void **state)
{
    (void)state;
    assert_misuse_caught(event_double_free,
                         "cio: fatal: cio_event_free: the event was already freed");
    assert_misuse_caught(event_wait_after_free,
                         "cio: fatal: cio_event_wait: the event was already freed");
}

static void test_cond_use_after_free_aborts(void **state)
{
    (void)state;
    assert_misuse_caught(cond_double_free, "cio: fatal: cio_cond_free: the cond was already freed");
    assert_misuse_caught(cond_notify_after_free,
                         "cio: fatal: cio_cond_notify_all: the cond was already freed");
}

static void test_sem_use_after_free_aborts(void **state)
{
    (void)state;
    assert_misuse_caught(sem_double_free, "cio: fatal: cio_sem_free: the sem was already freed");
    assert_misuse_caught(sem_release_after_free,
                         "cio: fatal: cio_sem_release: the sem was already freed");
}

static void test_barrier_double_free_aborts(void **state)
{
    (void)state;
    assert_misuse_caught(barrier_double_free,
                         "cio: fatal: cio_barrier_free: the barrier was already freed");
}

static void test_queue_use_after_free_aborts(void **state)
{
    (void)state;
    assert_misuse_caught(queue_double_free,
                         "cio: fatal: cio_queue_free: the queue was already freed");
    assert_misuse_caught(queue_put_after_free,
                         "cio: fatal: cio_queue_put_nowait: the queue was already freed");
}

static void test_future_use_after_free_aborts(void **state)
{
    (void)state;
    assert_misuse_caught(future_double_free,
                         "cio: fatal: cio_future_free: the future was already freed");
    assert_misuse_caught(future_set_after_free,
                         "cio: fatal: cio_future_set_result: the future was already freed");
}

static void test_taskgroup_wait_after_wait_aborts(void **state)
{
    (void)state;
    assert_misuse_caught(taskgroup_double_wait,
                         "cio: fatal: cio_taskgroup_wait: the taskgroup was already freed");
}

/* -------------------------------------------------------------- streams */

static cio_stream *stream_pair(int *peer)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return NULL;
    *peer = sv[1];
    return cio_stream_new(sv[0]);
}

static void stream_double_close(void)
{
    int peer;
    cio_stream *s = stream_pair(&peer);
    if (!s)
        return;
    cio_stream_close(s);
    cio_stream_close(s);
}

static void stream_write_after_close(void)
{
    int peer;
    cio_stream *s = stream_pair(&peer);
    if (!s)
        return;
    cio_stream_close(s);
    cio_stream_write(s, "x", 1);
}

/* The flusher still holds the stream's memory after the close here (a
 * full socket buffer): the write is caught all the same. */
static void stream_write_after_close_with_flusher(void)
{
    int peer;
    cio_stream *s = stream_pair(&peer);
    if (!s)
        return;
    static char big[1 << 20];
    cio_stream_set_high_water(s, sizeof big * 2);
    cio_stream_write(s, big, sizeof big);
    cio_timeout t;
    cio_timeout_enter(&t, 0.01);
    cio_stream_close(s); /* the drain times out: the flusher is abandoned */
    cio_timeout_exit(&t);
    cio_stream_write(s, "x", 1);
}

static void test_stream_double_close_aborts(void **state)
{
    (void)state;
    assert_misuse_caught(stream_double_close,
                         "cio: fatal: cio_stream_close: the stream was already freed");
}

static void test_stream_write_after_close_aborts(void **state)
{
    (void)state;
    assert_misuse_caught(stream_write_after_close,
                         "cio: fatal: cio_stream_write: the stream was already freed");
    assert_misuse_caught(stream_write_after_close_with_flusher,
                         "cio: fatal: cio_stream_write: the stream was already freed");
}

/* ------------------------------------------------ canary stack overflow */

#if !defined(ASAN_BUILD) && !defined(TSAN_BUILD)
static int deep_tiny_body(void *arg)
{
    (void)arg;
    /* 100000 frames of half a KiB (50 MB) on a 2 KiB stack with a canary:
     * through every stack packed below it and off the end of its chunk,
     * long before the next switch could look at the canary. */
    int r = recurse_deep(100000);
    say("survived the recursion\n");
    return r;
}

static int wait_event(void *arg) { return cio_event_wait(arg); }

static int deep_tiny_main(void *arg)
{
    (void)arg;
    /* A few tasks below it in the chunk, parked, as in a real program. */
    cio_event *e = cio_event_new();
    cio_task *sleepers[4];
    for (int i = 0; i < 4; i++)
        sleepers[i] = cio_create_task_opts(wait_event, e, &(cio_task_opts){.stack_size = 2048});
    cio_yield();
    cio_task *t = cio_create_task_opts(deep_tiny_body, NULL,
                                       &(cio_task_opts){.name = "deep2k", .stack_size = 2048});
    int r = cio_await(t);
    cio_event_set(e);
    for (int i = 0; i < 4; i++)
        cio_await(sleepers[i]);
    cio_event_free(e);
    return r;
}
#endif

static int run_scenario(const char *name)
{
#if !defined(ASAN_BUILD) && !defined(TSAN_BUILD)
    if (strcmp(name, "deep-recursion-canary") == 0)
        return cio_run(deep_tiny_main, NULL);
#endif
    fprintf(stderr, "unknown scenario %s\n", name);
    return 2;
}

static void test_deep_recursion_on_a_canary_stack_names_the_task(void **state)
{
    (void)state;
#if defined(ASAN_BUILD) || defined(TSAN_BUILD)
    print_message("skipped: stack overflow reports are not available in sanitizer builds\n");
#else
    child_result r;
    run_self_child("test_misuse", "deep-recursion-canary", &r);
    assert_child_aborted(&r, "cio: fatal: stack overflow in task 'deep2k' (stack size ");
    assert_null(strstr(r.err, "survived"));
#endif
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return run_scenario(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_await_of_a_released_handle_aborts_after_a_new_task),
        cmocka_unit_test(test_cancel_of_a_released_handle_aborts_after_many_new_tasks),
        cmocka_unit_test(test_released_task_structs_are_reused_after_the_quarantine),
        cmocka_unit_test(test_lock_double_free_aborts),
        cmocka_unit_test(test_event_use_after_free_aborts),
        cmocka_unit_test(test_cond_use_after_free_aborts),
        cmocka_unit_test(test_sem_use_after_free_aborts),
        cmocka_unit_test(test_barrier_double_free_aborts),
        cmocka_unit_test(test_queue_use_after_free_aborts),
        cmocka_unit_test(test_future_use_after_free_aborts),
        cmocka_unit_test(test_taskgroup_wait_after_wait_aborts),
        cmocka_unit_test(test_stream_double_close_aborts),
        cmocka_unit_test(test_stream_write_after_close_aborts),
        cmocka_unit_test(test_deep_recursion_on_a_canary_stack_names_the_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
