/* SPDX-License-Identifier: MIT */
/* test_event.c — cio_event as asyncio.Event: wait on a set event, set
 * wakes every waiter in FIFO order, clear, a waiter woken keeps its wake-up
 * when the event is cleared before it runs, cancellation and timeouts
 * while waiting, bad input, freeing an event still waited on.
 */
#include "testutil.h"

typedef struct waiter_arg {
    cio_event *e;
    order_log *log;
    char letter;
    int result;
} waiter_arg;

static int event_waiter(void *arg)
{
    waiter_arg *w = arg;
    w->result = cio_event_wait(w->e);
    log_put(w->log, w->letter);
    return w->result;
}

static int set_wakes_all_main(void *arg)
{
    order_log *log = arg;
    cio_event *e = cio_event_new();
    CHECK(e && !cio_event_is_set(e));
    waiter_arg w[4];
    cio_task *t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (waiter_arg){e, log, (char)('a' + i), 1};
        t[i] = cio_create_task(event_waiter, &w[i]);
    }
    settle();
    CHECK(log->n == 0); /* all four parked */
    log_put(log, 'S');
    cio_event_set(e);
    CHECK(cio_event_is_set(e));
    for (int i = 0; i < 4; i++)
        CHECK_CIO(cio_await(t[i]), 0);
    /* Waiting on a set event returns at once, without suspending. */
    waiter_arg late = {e, log, 'z', 1};
    cio_task *o = cio_create_task(event_waiter, &late);
    CHECK_CIO(cio_event_wait(e), 0);
    CHECK(late.result == 1); /* o has not run: we did not suspend */
    CHECK_CIO(cio_await(o), 0);
    cio_event_free(e);
    return 0;
}

static void test_set_wakes_every_waiter_in_fifo_order(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(set_wakes_all_main, &log, 0);
    assert_string_equal(log.buf, "Sabcdz");
}

static int clear_main(void *arg)
{
    order_log *log = arg;
    cio_event *e = cio_event_new();
    waiter_arg w = {e, log, 'a', 1};
    cio_task *t = cio_create_task(event_waiter, &w);
    settle();
    /* asyncio's test_clear_with_waiters: set then clear before the waiter
     * runs — it was woken, it returns 0. */
    cio_event_set(e);
    cio_event_clear(e);
    CHECK(!cio_event_is_set(e));
    CHECK_CIO(cio_await(t), 0);
    /* Cleared: a new waiter parks again. */
    waiter_arg w2 = {e, log, 'b', 1};
    t = cio_create_task(event_waiter, &w2);
    settle();
    CHECK(w2.result == 1);
    cio_event_set(e);
    CHECK_CIO(cio_await(t), 0);
    cio_event_free(e);
    return 0;
}

static void test_clear_after_set_keeps_the_wakeup(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(clear_main, &log, 0);
    assert_string_equal(log.buf, "ab");
}

static int cancel_main(void *arg)
{
    order_log *log = arg;
    cio_event *e = cio_event_new();
    waiter_arg w[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (waiter_arg){e, log, (char)('a' + i), 1};
        t[i] = cio_create_task(event_waiter, &w[i]);
    }
    settle();
    CHECK_CIO(cio_cancel(t[1]), 0);
    CHECK_CIO(cio_await(t[1]), -ECANCELED);
    /* A timeout ends a wait with -ETIMEDOUT. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.01);
    CHECK_CIO(cio_event_wait(e), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    cio_event_set(e);
    CHECK_CIO(cio_await(t[0]), 0);
    CHECK_CIO(cio_await(t[2]), 0);
    /* Level-triggered: a cancelled task's wait fails even on a set event. */
    CHECK_CIO(cio_cancel(cio_current_task()), 0);
    CHECK_CIO(cio_event_wait(e), -ECANCELED);
    cio_event_free(e);
    return 0;
}

static void test_cancel_and_timeout_while_waiting(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(cancel_main, &log, 0);
    assert_string_equal(log.buf, "bac");
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_cio(cio_event_wait(NULL), -EINVAL);
    cio_event_set(NULL);
    cio_event_clear(NULL);
    assert_false(cio_event_is_set(NULL));
    cio_event_free(NULL);
    /* Outside a task: -EPERM, even for a set event. */
    cio_event *e = cio_event_new();
    cio_event_set(e);
    assert_cio(cio_event_wait(e), -EPERM);
    cio_event_free(e);
}

static void *make_event(void) { return cio_event_new(); }
static int wait_event(void *e) { return cio_event_wait(e); }
static void free_event(void *e) { cio_event_free(e); }

static void test_free_while_waited_on_aborts(void **state)
{
    (void)state;
    assert_free_in_use_aborts(make_event, wait_event, free_event,
                              "cio_event_free: 1 task(s) still wait on an event");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_wakes_every_waiter_in_fifo_order),
        cmocka_unit_test(test_clear_after_set_keeps_the_wakeup),
        cmocka_unit_test(test_cancel_and_timeout_while_waiting),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_free_while_waited_on_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
