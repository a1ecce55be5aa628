/* SPDX-License-Identifier: MIT */
/* test_cond.c — cio_cond as asyncio.Condition: notify(n) and notify_all
 * wake waiters in FIFO order, each returns holding the lock, waiting
 * without the lock is refused, a cancelled or timed-out wait still returns
 * holding the lock (asyncio's test_wait_cancel_contested), a notification
 * is never lost to a cancelled waiter (3.13's test_cancelled_error_wakeup),
 * bad input, freeing one still waited on.
 */
#include "testutil.h"

typedef struct cond_case {
    cio_lock *l;
    cio_cond *c;
    order_log *log;
    /* Set by the notifier; what waiters check under the lock. */
    int ready;
} cond_case;

typedef struct cond_waiter {
    cond_case *cc;
    char letter;
    int result;
    bool held_after;
} cond_waiter;

static int cond_waiter_body(void *arg)
{
    cond_waiter *w = arg;
    CHECK_CIO(cio_lock_acquire(w->cc->l), 0);
    w->result = cio_cond_wait(w->cc->c);
    w->held_after = cio_lock_locked(w->cc->l);
    if (w->result == 0)
        log_put(w->cc->log, w->letter);
    CHECK_CIO(cio_lock_release(w->cc->l), 0);
    return w->result;
}

static int notify_main(void *arg)
{
    order_log *log = arg;
    cio_lock *l = cio_lock_new();
    cond_case cc = {l, cio_cond_new(l), log, 0};
    CHECK(cc.c != NULL);
    cond_waiter w[5];
    cio_task *t[5];
    for (int i = 0; i < 5; i++) {
        w[i] = (cond_waiter){&cc, (char)('a' + i), 1, false};
        t[i] = cio_create_task(cond_waiter_body, &w[i]);
    }
    settle();
    CHECK(!cio_lock_locked(l)); /* every waiter gave the lock up */
    CHECK_CIO(cio_lock_acquire(l), 0);
    cio_cond_notify(cc.c, 2);
    log_put(log, '|');
    settle();
    /* Notified, but the lock is still ours: they cannot return yet. */
    CHECK(log->n == 1);
    CHECK_CIO(cio_lock_release(l), 0);
    settle();
    CHECK_CIO(cio_lock_acquire(l), 0);
    log_put(log, '|');
    cio_cond_notify_all(cc.c);
    CHECK_CIO(cio_lock_release(l), 0);
    for (int i = 0; i < 5; i++) {
        CHECK_CIO(cio_await(t[i]), 0);
        CHECK(w[i].held_after);
    }
    cio_cond_notify(cc.c, 3); /* no waiters: nothing happens */
    cio_cond_free(cc.c);
    cio_lock_free(l);
    return 0;
}

static void test_notify_n_and_all_in_fifo_order(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(notify_main, &log, 0);
    assert_string_equal(log.buf, "|ab|cde");
}

static int cancel_main(void *arg)
{
    order_log *log = arg;
    cio_lock *l = cio_lock_new();
    cond_case cc = {l, cio_cond_new(l), log, 0};
    cond_waiter w[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (cond_waiter){&cc, (char)('a' + i), 1, false};
        t[i] = cio_create_task(cond_waiter_body, &w[i]);
    }
    settle();
    /* Cancelled while the lock is held elsewhere (contested): the wait
     * ends, but the waiter returns only once it holds the lock again. */
    CHECK_CIO(cio_lock_acquire(l), 0);
    CHECK_CIO(cio_cancel(t[0]), 0);
    settle();
    CHECK(!cio_task_done(t[0]));
    /* One notification: the cancelled waiter has left the queue, so it
     * goes to 'b', not lost. */
    cio_cond_notify(cc.c, 1);
    CHECK_CIO(cio_lock_release(l), 0);
    CHECK_CIO(cio_await(t[0]), -ECANCELED);
    CHECK(w[0].held_after);
    CHECK_CIO(cio_await(t[1]), 0);
    /* Notified, then cancelled before it ran: it keeps the notification. */
    cio_cond_notify(cc.c, 1);
    CHECK_CIO(cio_cancel(t[2]), 0);
    CHECK_CIO(cio_await(t[2]), 0);
    CHECK(w[2].held_after);
    /* A timed-out wait returns -ETIMEDOUT holding the lock. */
    CHECK_CIO(cio_lock_acquire(l), 0);
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.01);
    CHECK_CIO(cio_cond_wait(cc.c), -ETIMEDOUT);
    cio_timeout_exit(&tm);
    CHECK(cio_lock_locked(l));
    CHECK_CIO(cio_lock_release(l), 0);
    /* Waiting without the lock: asyncio's RuntimeError. */
    CHECK_CIO(cio_cond_wait(cc.c), -EPERM);
    cio_cond_free(cc.c);
    cio_lock_free(l);
    return 0;
}

static void test_cancelled_wait_reacquires_and_loses_no_notification(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(cancel_main, &log, 0);
    assert_string_equal(log.buf, "bc");
}

/* asyncio's wait_for pattern: a producer sets `ready` under the lock and
 * notifies; the consumer loops on the predicate. */
static int consumer_body(void *arg)
{
    cond_case *cc = arg;
    CHECK_CIO(cio_lock_acquire(cc->l), 0);
    while (cc->ready < 3)
        CHECK_CIO(cio_cond_wait(cc->c), 0);
    log_put(cc->log, 'C');
    CHECK_CIO(cio_lock_release(cc->l), 0);
    return 0;
}

static int predicate_main(void *arg)
{
    order_log *log = arg;
    cio_lock *l = cio_lock_new();
    cond_case cc = {l, cio_cond_new(l), log, 0};
    cio_task *t = cio_create_task(consumer_body, &cc);
    for (int i = 0; i < 3; i++) {
        settle();
        CHECK_CIO(cio_lock_acquire(l), 0);
        cc.ready++;
        log_put(log, 'P');
        cio_cond_notify_all(cc.c);
        CHECK_CIO(cio_lock_release(l), 0);
    }
    CHECK_CIO(cio_await(t), 0);
    cio_cond_free(cc.c);
    cio_lock_free(l);
    return 0;
}

static void test_wait_in_a_predicate_loop(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(predicate_main, &log, 0);
    assert_string_equal(log.buf, "PPPC");
}

static void test_bad_input(void **state)
{
    (void)state;
    errno = 0;
    assert_null(cio_cond_new(NULL));
    assert_int_equal(errno, EINVAL);
    assert_cio(cio_cond_wait(NULL), -EINVAL);
    cio_cond_notify(NULL, 1);
    cio_cond_notify_all(NULL);
    cio_cond_free(NULL);
    cio_lock *l = cio_lock_new();
    cio_cond *c = cio_cond_new(l);
    assert_cio(cio_cond_wait(c), -EPERM); /* outside a task */
    cio_cond_free(c);
    cio_lock_free(l);
}

/* A lock and its condition; the waiter takes the lock, then waits. The
 * process aborts in cio_cond_free, so nothing is freed. */
static void *make_cond(void)
{
    static order_log unused_log;
    static cond_case cc;
    cio_lock *l = cio_lock_new();
    cc = (cond_case){l, cio_cond_new(l), &unused_log, 0};
    return &cc;
}

static int lock_and_wait(void *arg)
{
    cond_case *cc = arg;
    cio_lock_acquire(cc->l);
    return cio_cond_wait(cc->c);
}

static void free_cond(void *arg) { cio_cond_free(((cond_case *)arg)->c); }

static void test_free_while_waited_on_aborts(void **state)
{
    (void)state;
    assert_free_in_use_aborts(make_cond, lock_and_wait, free_cond,
                              "cio_cond_free: 1 task(s) still wait on a condition");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notify_n_and_all_in_fifo_order),
        cmocka_unit_test(test_cancelled_wait_reacquires_and_loses_no_notification),
        cmocka_unit_test(test_wait_in_a_predicate_loop),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_free_while_waited_on_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
