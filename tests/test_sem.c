/* SPDX-License-Identifier: MIT */
/* test_sem.c — cio_sem as asyncio.Semaphore and BoundedSemaphore: permits
 * counted, FIFO order of waiters, the cancellation case (three
 * waiters, cancel the head, release once: the second gets the permit), a
 * waiter cancelled after the hand-off keeps its permit, timeouts, the
 * bounded semaphore's over-release, bad input, freeing one still waited on.
 */
#include "testutil.h"

typedef struct acquirer {
    cio_sem *s;
    order_log *log;
    char letter;
    int result;
} acquirer;

/* Takes a permit and keeps it (the test gives it back). */
static int acquirer_body(void *arg)
{
    acquirer *a = arg;
    a->result = cio_sem_acquire(a->s);
    if (a->result == 0)
        log_put(a->log, a->letter);
    return a->result;
}

static int counting_main(void *arg)
{
    order_log *log = arg;
    cio_sem *s = cio_sem_new(2);
    CHECK(s && cio_sem_value(s) == 2 && !cio_sem_locked(s));
    CHECK_CIO(cio_sem_acquire(s), 0);
    CHECK_CIO(cio_sem_acquire(s), 0);
    CHECK(cio_sem_locked(s));
    acquirer a[4];
    cio_task *t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (acquirer){s, log, (char)('a' + i), 1};
        t[i] = cio_create_task(acquirer_body, &a[i]);
    }
    settle();
    CHECK(log->n == 0);
    /* Each release wakes exactly one waiter, first come first. */
    for (int i = 0; i < 4; i++) {
        CHECK_CIO(cio_sem_release(s), 0);
        CHECK(cio_sem_value(s) == 0); /* handed over, not counted */
        settle();
        CHECK(log->n == (size_t)i + 1);
    }
    for (int i = 0; i < 4; i++)
        CHECK_CIO(cio_await(t[i]), 0);
    CHECK_CIO(cio_sem_release(s), 0);
    CHECK_CIO(cio_sem_release(s), 0);
    CHECK(cio_sem_value(s) == 2);
    /* A plain semaphore may be released above its start value. */
    CHECK_CIO(cio_sem_release(s), 0);
    CHECK(cio_sem_value(s) == 3);
    cio_sem_free(s);
    return 0;
}

static void test_permits_and_fifo_order(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(counting_main, &log, 0);
    assert_string_equal(log.buf, "abcd");
}

static int cancel_head_main(void *arg)
{
    order_log *log = arg;
    cio_sem *s = cio_sem_new(0);
    acquirer a[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (acquirer){s, log, (char)('a' + i), 1};
        t[i] = cio_create_task(acquirer_body, &a[i]);
    }
    settle();
    CHECK_CIO(cio_cancel(t[0]), 0);
    CHECK_CIO(cio_sem_release(s), 0);
    settle();
    /* The second got it; the third still waits; the head holds nothing. */
    CHECK_CIO(a[0].result, -ECANCELED);
    CHECK_CIO(a[1].result, 0);
    CHECK(a[2].result == 1);
    CHECK(cio_sem_value(s) == 0);
    CHECK_CIO(cio_sem_release(s), 0);
    CHECK_CIO(cio_await(t[0]), -ECANCELED);
    CHECK_CIO(cio_await(t[1]), 0);
    CHECK_CIO(cio_await(t[2]), 0);
    CHECK(cio_sem_value(s) == 0);
    cio_sem_free(s);
    return 0;
}

static void test_cancel_head_then_release_once_second_gets_it(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(cancel_head_main, &log, 0);
    assert_string_equal(log.buf, "bc");
}

static int cancel_after_handoff_main(void *arg)
{
    order_log *log = arg;
    cio_sem *s = cio_sem_new(0);
    acquirer a = {s, log, 'a', 1}, b = {s, log, 'b', 1};
    cio_task *ta = cio_create_task(acquirer_body, &a);
    cio_task *tb = cio_create_task(acquirer_body, &b);
    settle();
    /* asyncio's test_acquire_cancel_before_awoken, with hand-off: 'a' was
     * given the permit before the cancel, so it keeps it; 'b' waits on. */
    CHECK_CIO(cio_sem_release(s), 0);
    CHECK_CIO(cio_cancel(ta), 0);
    CHECK_CIO(cio_await(ta), 0);
    CHECK(a.result == 0 && b.result == 1);
    CHECK_CIO(cio_sem_release(s), 0);
    CHECK_CIO(cio_await(tb), 0);
    /* A timed-out acquire takes nothing. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.01);
    CHECK_CIO(cio_sem_acquire(s), -ETIMEDOUT);
    cio_timeout_exit(&tm);
    CHECK(cio_sem_value(s) == 0);
    cio_sem_free(s);
    return 0;
}

static void test_waiter_cancelled_after_handoff_keeps_its_permit(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(cancel_after_handoff_main, &log, 0);
    assert_string_equal(log.buf, "ab");
}

static int bounded_main(void *arg)
{
    (void)arg;
    cio_sem *s = cio_sem_new_bounded(2);
    CHECK_CIO(cio_sem_release(s), -EOVERFLOW);
    CHECK_CIO(cio_sem_acquire(s), 0);
    CHECK_CIO(cio_sem_release(s), 0);
    CHECK_CIO(cio_sem_release(s), -EOVERFLOW);
    CHECK(cio_sem_value(s) == 2);
    cio_sem_free(s);
    return 0;
}

static void test_bounded_semaphore_refuses_over_release(void **state)
{
    (void)state;
    run_main(bounded_main, NULL, 0);
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_cio(cio_sem_acquire(NULL), -EINVAL);
    assert_cio(cio_sem_release(NULL), -EINVAL);
    assert_false(cio_sem_locked(NULL));
    assert_int_equal(cio_sem_value(NULL), 0);
    cio_sem_free(NULL);
    cio_sem *s = cio_sem_new(1);
    assert_cio(cio_sem_acquire(s), -EPERM); /* outside a task */
    cio_sem_free(s);
}

static void *make_sem(void) { return cio_sem_new(0); }
static int acquire_sem(void *s) { return cio_sem_acquire(s); }
static void free_sem(void *s) { cio_sem_free(s); }

static void test_free_while_waited_on_aborts(void **state)
{
    (void)state;
    assert_free_in_use_aborts(make_sem, acquire_sem, free_sem,
                              "cio_sem_free: 1 task(s) still wait on a semaphore");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permits_and_fifo_order),
        cmocka_unit_test(test_cancel_head_then_release_once_second_gets_it),
        cmocka_unit_test(test_waiter_cancelled_after_handoff_keeps_its_permit),
        cmocka_unit_test(test_bounded_semaphore_refuses_over_release),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_free_while_waited_on_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
