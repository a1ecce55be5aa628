/* SPDX-License-Identifier: MIT */
/* test_deadlock.c — cio_run's deadlock detection: tasks that wait on
 * something nothing can ever wake (an event nobody sets, two locks taken in
 * opposite orders, a task group whose child is stuck) make cio_run print who
 * waits on what and return -EDEADLK after unwinding them by cancellation;
 * what can still wake a task (a timer, a descriptor, a thread-pool job, a
 * cio_loop_ref held by a thread that will post) is not a deadlock; a
 * deadlock that cancellation cannot end (a shielded wait at shutdown)
 * aborts rather than hangs.
 */
#include "testutil.h"

#include <pthread.h>

static cio_task *named_task(cio_fn fn, void *arg, const char *name)
{
    return cio_create_task_opts(fn, arg, &(cio_task_opts){.name = name});
}

/* ------------------------------------------------ deadlocks, reported */

static int event_wait_result;

static int wait_forever_main(void *arg)
{
    (void)arg;
    cio_event *e = cio_event_new();
    event_wait_result = cio_event_wait(e);
    cio_event_free(e);
    return 0;
}

static void deadlock_event_child(void)
{
    int r = cio_run(wait_forever_main, NULL);
    /* What cio_run returned, and what the stuck wait returned once the
     * loop unwound it, for the parent to read. */
    fprintf(stderr, "run=%d wait=%d\n", r, event_wait_result);
    _exit(0);
}

static void test_event_nobody_sets_is_reported(void **state)
{
    (void)state;
    child_result r;
    run_child(deadlock_event_child, &r);
    assert_true(WIFEXITED(r.status));
    if (!strstr(r.err, "cio: deadlock: 1 task(s) wait") ||
        !strstr(r.err, "'main' waits for an event") || !strstr(r.err, "run=-35 wait=-125"))
        fail_msg("unexpected report:\n%s", r.err);
}

typedef struct two_locks {
    cio_lock *first, *second;
} two_locks;

static int take_both(void *arg)
{
    two_locks *t = arg;
    CHECK_CIO(cio_lock_acquire(t->first), 0);
    CHECK_CIO(cio_yield(), 0);
    int err = cio_lock_acquire(t->second);
    if (err == 0)
        cio_lock_release(t->second);
    cio_lock_release(t->first);
    return err;
}

static int lock_order_main(void *arg)
{
    (void)arg;
    cio_lock *a = cio_lock_new(), *b = cio_lock_new();
    two_locks ab = {a, b}, ba = {b, a};
    cio_task *t1 = named_task(take_both, &ab, "ab");
    cio_task *t2 = named_task(take_both, &ba, "ba");
    int r1 = cio_await(t1);
    int r2 = cio_await(t2);
    fprintf(stderr, "results=%d,%d\n", r1, r2);
    cio_lock_free(a);
    cio_lock_free(b);
    return 0;
}

static void deadlock_locks_child(void)
{
    fprintf(stderr, "run=%d\n", cio_run(lock_order_main, NULL));
    _exit(0);
}

static void test_locks_taken_in_opposite_orders_are_reported(void **state)
{
    (void)state;
    child_result r;
    run_child(deadlock_locks_child, &r);
    assert_true(WIFEXITED(r.status));
    /* Every waiting task, with what it waits on; then the unwinding: each
     * stuck acquire fails with -ECANCELED and main's awaits too. */
    if (!strstr(r.err, "3 task(s) wait") || !strstr(r.err, "'main' waits for task#2 to finish") ||
        !strstr(r.err, "'ab' waits for a lock") || !strstr(r.err, "'ba' waits for a lock") ||
        !strstr(r.err, "run=-35"))
        fail_msg("unexpected report:\n%s", r.err);
}

static int stuck_child(void *arg) { return cio_event_wait(arg); }

static int group_main(void *arg)
{
    (void)arg;
    cio_event *e = cio_event_new();
    cio_taskgroup *g = cio_taskgroup_new();
    CHECK_CIO(cio_taskgroup_create_task_opts(g, stuck_child, e, &(cio_task_opts){.name = "stuck"}),
              0);
    int r = cio_taskgroup_wait(g);
    cio_event_free(e);
    return r;
}

static void deadlock_group_child(void)
{
    fprintf(stderr, "run=%d\n", cio_run(group_main, NULL));
    _exit(0);
}

static void test_stuck_task_group_is_reported(void **state)
{
    (void)state;
    child_result r;
    run_child(deadlock_group_child, &r);
    assert_true(WIFEXITED(r.status));
    if (!strstr(r.err, "'main' waits for a task group's children") ||
        !strstr(r.err, "'stuck' waits for an event") || !strstr(r.err, "run=-35"))
        fail_msg("unexpected report:\n%s", r.err);
}

static int shielded_forever(void *arg)
{
    cio_shield sh;
    cio_shield_enter(&sh);
    int err = cio_event_wait(arg);
    cio_shield_exit(&sh);
    return err;
}

static int shutdown_stuck_main(void *arg)
{
    (void)arg;
    cio_detach(named_task(shielded_forever, cio_event_new(), "shielded"));
    CHECK_CIO(cio_yield(), 0);
    return 0;
}

static void shutdown_stuck_child(void) { cio_run(shutdown_stuck_main, NULL); }

static void test_deadlock_at_shutdown_aborts_instead_of_hanging(void **state)
{
    (void)state;
    assert_aborts(shutdown_stuck_child, "deadlock while cio_run shuts down");
    child_result r;
    run_child(shutdown_stuck_child, &r);
    assert_non_null(strstr(r.err, "'shielded' waits for an event"));
}

/* ------------------------------------------------ not deadlocks */

static void set_event_cb(void *arg) { cio_event_set(arg); }

static int timer_main(void *arg)
{
    (void)arg;
    cio_event *e = cio_event_new();
    cio_call_later(0.02, set_event_cb, e);
    CHECK_CIO(cio_event_wait(e), 0);
    cio_event_free(e);
    return 0;
}

static void test_pending_timer_is_not_a_deadlock(void **state)
{
    (void)state;
    run_main(timer_main, NULL, 0);
}

typedef struct late_writer {
    int fd;
    cio_loop *loop;
    cio_event *e;
} late_writer;

static void *write_later(void *arg)
{
    late_writer *w = arg;
    usleep(30000);
    ssize_t n = write(w->fd, "x", 1);
    (void)n;
    return NULL;
}

static int sleep_on_pool(void *arg)
{
    (void)arg;
    usleep(30000);
    return 5;
}

static int pool_then_set(void *arg)
{
    int r = cio_to_thread(sleep_on_pool, NULL);
    cio_event_set(arg);
    return r;
}

static int fd_and_pool_main(void *arg)
{
    (void)arg;
    /* A descriptor wait: the OS may end it. */
    int p[2];
    CHECK(pipe(p) == 0);
    late_writer w = {p[1], cio_running_loop(), NULL};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, write_later, &w) == 0);
    CHECK_CIO(cio_wait_readable(p[0]), 0);
    pthread_join(th, NULL);
    cio_close(p[0]);
    cio_close(p[1]);
    /* A thread-pool job in flight: its end wakes the event's waiter. */
    cio_event *e = cio_event_new();
    cio_task *t = cio_create_task(pool_then_set, e);
    CHECK_CIO(cio_event_wait(e), 0);
    CHECK_CIO(cio_await(t), 5);
    cio_event_free(e);
    return 0;
}

static void test_descriptor_and_pool_waits_are_not_deadlocks(void **state)
{
    (void)state;
    run_main(fd_and_pool_main, NULL, 0);
}

static void set_and_unref(void *arg)
{
    late_writer *w = arg;
    cio_event_set(w->e);
    CHECK_CIO(cio_loop_unref(w->loop), 0);
}

static void *post_later(void *arg)
{
    late_writer *w = arg;
    usleep(30000);
    CHECK_CIO(cio_call_soon_threadsafe(w->loop, set_and_unref, w), 0);
    return NULL;
}

static int ref_main(void *arg)
{
    (void)arg;
    late_writer w = {-1, cio_running_loop(), cio_event_new()};
    /* Only the thread will wake the loop: a reference says so. */
    CHECK_CIO(cio_loop_ref(w.loop), 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, post_later, &w) == 0);
    CHECK_CIO(cio_event_wait(w.e), 0);
    pthread_join(th, NULL);
    cio_event_free(w.e);
    /* Counted: an unref without a ref is refused. */
    CHECK_CIO(cio_loop_unref(w.loop), -EINVAL);
    return 0;
}

static void test_loop_ref_keeps_a_thread_woken_loop_waiting(void **state)
{
    (void)state;
    run_main(ref_main, NULL, 0);
    assert_cio(cio_loop_ref(NULL), -EINVAL);
    assert_cio(cio_loop_unref(NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_nobody_sets_is_reported),
        cmocka_unit_test(test_locks_taken_in_opposite_orders_are_reported),
        cmocka_unit_test(test_stuck_task_group_is_reported),
        cmocka_unit_test(test_deadlock_at_shutdown_aborts_instead_of_hanging),
        cmocka_unit_test(test_pending_timer_is_not_a_deadlock),
        cmocka_unit_test(test_descriptor_and_pool_waits_are_not_deadlocks),
        cmocka_unit_test(test_loop_ref_keeps_a_thread_woken_loop_waiting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
