/* SPDX-License-Identifier: MIT */
/* test_lock.c — cio_lock as asyncio.Lock: FIFO hand-off between waiters,
 * no barging, releasing an unlocked lock, and Trio's cancellation rules: a
 * waiter cancelled or timed out never holds the lock, one handed the lock
 * and then cancelled before it runs holds it and says so, and neither
 * swallows the lock another waiter should get (asyncio's
 * test_finished_waiter_cancelled, test_cancel_race). Bad input, freeing a
 * lock still waited on.
 */
#include "testutil.h"

typedef struct locker {
    cio_lock *l;
    order_log *log;
    char letter;
    int result;
    /* Yields taken while holding the lock. */
    int hold;
} locker;

static int locker_body(void *arg)
{
    locker *k = arg;
    k->result = cio_lock_acquire(k->l);
    if (k->result != 0)
        return k->result;
    log_put(k->log, k->letter);
    for (int i = 0; i < k->hold; i++)
        cio_yield();
    CHECK_CIO(cio_lock_release(k->l), 0);
    return 0;
}

static int fifo_main(void *arg)
{
    order_log *log = arg;
    cio_lock *l = cio_lock_new();
    CHECK(l && !cio_lock_locked(l));
    CHECK_CIO(cio_lock_acquire(l), 0);
    CHECK(cio_lock_locked(l));
    locker k[5];
    cio_task *t[5];
    for (int i = 0; i < 5; i++) {
        k[i] = (locker){l, log, (char)('a' + i), 1, 2};
        t[i] = cio_create_task(locker_body, &k[i]);
    }
    settle();
    CHECK(log->n == 0);
    CHECK_CIO(cio_lock_release(l), 0);
    /* Handed to 'a', not free: a newcomer cannot barge in ahead of the
     * queue even though 'a' has not run yet. */
    CHECK(cio_lock_locked(l));
    for (int i = 0; i < 5; i++)
        CHECK_CIO(cio_await(t[i]), 0);
    CHECK(!cio_lock_locked(l));
    cio_lock_free(l);
    return 0;
}

static void test_waiters_get_the_lock_in_fifo_order(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(fifo_main, &log, 0);
    assert_string_equal(log.buf, "abcde");
}

static int cancel_main(void *arg)
{
    order_log *log = arg;
    cio_lock *l = cio_lock_new();
    CHECK_CIO(cio_lock_acquire(l), 0);
    locker k[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        k[i] = (locker){l, log, (char)('a' + i), 1, 0};
        t[i] = cio_create_task(locker_body, &k[i]);
    }
    settle();
    /* Cancel the head before the release: it never holds the lock, and
     * the release goes to the next one. */
    CHECK_CIO(cio_cancel(t[0]), 0);
    CHECK_CIO(cio_lock_release(l), 0);
    CHECK_CIO(cio_await(t[0]), -ECANCELED);
    CHECK_CIO(k[0].result, -ECANCELED);
    CHECK_CIO(cio_await(t[1]), 0);
    CHECK_CIO(cio_await(t[2]), 0);
    CHECK(!cio_lock_locked(l));
    cio_lock_free(l);
    return 0;
}

static void test_cancelled_waiter_never_holds_the_lock(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(cancel_main, &log, 0);
    assert_string_equal(log.buf, "bc");
}

/* Acquires, then reports what the next suspending call says. */
typedef struct handed {
    cio_lock *l;
    int acquire_result;
    int next_result;
} handed;

static int handed_body(void *arg)
{
    handed *h = arg;
    h->acquire_result = cio_lock_acquire(h->l);
    h->next_result = cio_yield();
    if (h->acquire_result == 0)
        CHECK_CIO(cio_lock_release(h->l), 0);
    return 0;
}

static int cancel_after_handoff_main(void *arg)
{
    (void)arg;
    cio_lock *l = cio_lock_new();
    CHECK_CIO(cio_lock_acquire(l), 0);
    handed h = {l, 1, 1};
    cio_task *t = cio_create_task(handed_body, &h);
    order_log log = {.n = 0};
    locker third = {l, &log, 'c', 1, 0};
    cio_task *c = cio_create_task(locker_body, &third);
    settle();
    /* The lock goes to t; t is cancelled before it runs. It holds the lock
     * (acquire returns 0), so the wake-up is not lost to 'c' either: t
     * releases it and 'c' gets it. The cancel shows at t's next call. */
    CHECK_CIO(cio_lock_release(l), 0);
    CHECK_CIO(cio_cancel(t), 0);
    CHECK_CIO(cio_await(t), 0);
    CHECK_CIO(h.acquire_result, 0);
    CHECK_CIO(h.next_result, -ECANCELED);
    CHECK_CIO(cio_await(c), 0);
    CHECK(strcmp(log.buf, "c") == 0);
    CHECK(!cio_lock_locked(l));
    cio_lock_free(l);
    return 0;
}

static void test_waiter_cancelled_after_handoff_holds_the_lock(void **state)
{
    (void)state;
    run_main(cancel_after_handoff_main, NULL, 0);
}

static int timeout_main(void *arg)
{
    (void)arg;
    cio_lock *l = cio_lock_new();
    CHECK_CIO(cio_lock_acquire(l), 0);
    /* A timed-out acquire holds nothing; the lock stays with its holder. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.01);
    CHECK_CIO(cio_lock_acquire(l), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    CHECK(cio_lock_locked(l));
    CHECK_CIO(cio_lock_release(l), 0);
    CHECK(!cio_lock_locked(l));
    /* Releasing an unlocked lock: asyncio's RuntimeError. */
    CHECK_CIO(cio_lock_release(l), -EPERM);
    /* Level-triggered: a cancelled task cannot take even a free lock. */
    CHECK_CIO(cio_cancel(cio_current_task()), 0);
    CHECK_CIO(cio_lock_acquire(l), -ECANCELED);
    CHECK(!cio_lock_locked(l));
    cio_lock_free(l);
    return 0;
}

static void test_timeout_release_unlocked_and_cancelled_caller(void **state)
{
    (void)state;
    run_main(timeout_main, NULL, 0);
}

/* W6's lock hand-off in small: two tasks each take the lock, yield once
 * holding it, release; FIFO makes them alternate. */
typedef struct alternator {
    cio_lock *l;
    order_log *log;
    char letter;
} alternator;

static int alternator_body(void *arg)
{
    alternator *a = arg;
    for (int i = 0; i < 4; i++) {
        CHECK_CIO(cio_lock_acquire(a->l), 0);
        log_put(a->log, a->letter);
        CHECK_CIO(cio_yield(), 0);
        CHECK_CIO(cio_lock_release(a->l), 0);
    }
    return 0;
}

static int alternate_main(void *arg)
{
    order_log *log = arg;
    cio_lock *l = cio_lock_new();
    alternator a = {l, log, 'a'}, b = {l, log, 'b'};
    cio_task *ta = cio_create_task(alternator_body, &a);
    cio_task *tb = cio_create_task(alternator_body, &b);
    CHECK_CIO(cio_await(ta), 0);
    CHECK_CIO(cio_await(tb), 0);
    cio_lock_free(l);
    return 0;
}

static void test_two_tasks_alternate_through_the_lock(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(alternate_main, &log, 0);
    assert_string_equal(log.buf, "abababab");
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_cio(cio_lock_acquire(NULL), -EINVAL);
    assert_cio(cio_lock_release(NULL), -EINVAL);
    assert_false(cio_lock_locked(NULL));
    cio_lock_free(NULL);
    cio_lock *l = cio_lock_new();
    assert_cio(cio_lock_acquire(l), -EPERM); /* outside a task */
    assert_cio(cio_lock_release(l), -EPERM);
    cio_lock_free(l);
}

static void *make_lock(void) { return cio_lock_new(); }
static void free_lock(void *l) { cio_lock_free(l); }

/* Takes the lock, then waits for it again. */
static int acquire_twice(void *l)
{
    cio_lock_acquire(l);
    return cio_lock_acquire(l);
}

static void test_free_while_waited_on_aborts(void **state)
{
    (void)state;
    assert_free_in_use_aborts(make_lock, acquire_twice, free_lock,
                              "cio_lock_free: 1 task(s) still wait on a lock");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waiters_get_the_lock_in_fifo_order),
        cmocka_unit_test(test_cancelled_waiter_never_holds_the_lock),
        cmocka_unit_test(test_waiter_cancelled_after_handoff_holds_the_lock),
        cmocka_unit_test(test_timeout_release_unlocked_and_cancelled_caller),
        cmocka_unit_test(test_two_tasks_alternate_through_the_lock),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_free_while_waited_on_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
