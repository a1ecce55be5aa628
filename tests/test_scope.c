/* SPDX-License-Identifier: MIT */
/* test_scope.c — timeout and shield scopes: expiry, nesting, already
 * expired and invalid deadlines, scopes outside a task, shields holding back
 * cancellation and outer timeouts, and the misuse that must abort.
 *
 * Assertions inside tasks do not use cmocka directly: a failing cmocka
 * assertion longjmps, which from a task's stack would leave the loop
 * half-run and break every later test. Tasks note the first failed check
 * instead, and the test function reports it once cio_run has returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* ------------------------------------------------------------ timeouts */

static int timeout_expires_main(void *arg)
{
    (void)arg;
    cio_timeout tm;
    double start = cio_now();
    cio_timeout_enter(&tm, 0.05);
    CHECK_CIO(cio_sleep(10), -ETIMEDOUT);
    double took = cio_now() - start;
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    CHECK(took >= 0.045);
    CHECK(took < 5.0);
    /* Outside the scope, nothing is limited any more. */
    CHECK_CIO(cio_sleep(0.001), 0);
    return 0;
}

static void test_timeout_expires_a_sleep(void **state)
{
    (void)state;
    run_main(timeout_expires_main, NULL, 0);
}

static int timeout_not_expiring_main(void *arg)
{
    (void)arg;
    cio_timeout tm;
    cio_timeout_enter(&tm, 5);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK_CIO(cio_yield(), 0);
    CHECK_CIO(cio_await(cio_create_task(sleep_ms, (void *)(intptr_t)10)), 0);
    CHECK_CIO(cio_timeout_exit(&tm), 0);

    cio_timeout at;
    cio_timeout_enter_at(&at, cio_now() + 5);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK_CIO(cio_timeout_exit(&at), 0);
    return 0;
}

static void test_timeout_not_expiring(void **state)
{
    (void)state;
    run_main(timeout_not_expiring_main, NULL, 0);
}

static int sleep_forever_main(void *arg)
{
    (void)arg;
    /* An infinite sleep is valid and still bounded by a timeout. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.02);
    CHECK_CIO(cio_sleep(INFINITY), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    return 0;
}

static void test_infinite_sleep_is_bounded_by_timeout(void **state)
{
    (void)state;
    run_main(sleep_forever_main, NULL, 0);
}

static int nested_inner_first_main(void *arg)
{
    (void)arg;
    cio_timeout outer, inner;
    cio_timeout_enter(&outer, 10);
    cio_timeout_enter(&inner, 0.03);
    CHECK_CIO(cio_sleep(10), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&inner), -ETIMEDOUT);
    /* The outer deadline is far: calls work again, and the outer scope's
     * exit reports nothing of the inner one's expiry. */
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK_CIO(cio_timeout_exit(&outer), 0);
    return 0;
}

static void test_nested_inner_expiry_is_reported_by_inner_only(void **state)
{
    (void)state;
    run_main(nested_inner_first_main, NULL, 0);
}

static int nested_outer_first_main(void *arg)
{
    (void)arg;
    cio_timeout outer, inner;
    double start = cio_now();
    cio_timeout_enter(&outer, 0.03);
    cio_timeout_enter(&inner, 10);
    /* The outer deadline is earlier, and it bounds calls inside the inner
     * scope too. */
    CHECK_CIO(cio_sleep(10), -ETIMEDOUT);
    CHECK(cio_now() - start < 5.0);
    /* The inner scope's own deadline has not passed. */
    CHECK_CIO(cio_timeout_exit(&inner), 0);
    /* Back in the expired outer scope: calls fail at once. */
    CHECK_CIO(cio_sleep(10), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&outer), -ETIMEDOUT);
    CHECK(cio_now() - start < 5.0);
    return 0;
}

static void test_nested_outer_deadline_earlier_than_inner(void **state)
{
    (void)state;
    run_main(nested_outer_first_main, NULL, 0);
}

typedef struct cancelled_child {
    int sleep_result;
    int finished;
} cancelled_child;

static int record_sleep_body(void *arg)
{
    cancelled_child *c = arg;
    c->sleep_result = cio_sleep(10);
    c->finished = 1;
    return 1;
}

static int expired_main(void *arg)
{
    (void)arg;
    double start = cio_now();
    cio_timeout tm;
    cio_timeout_enter_at(&tm, cio_now() - 1);
    CHECK_CIO(cio_yield(), -ETIMEDOUT);
    CHECK_CIO(cio_sleep(0), -ETIMEDOUT);
    CHECK_CIO(cio_sleep(10), -ETIMEDOUT);
    /* Awaiting in an expired scope cancels the awaited task and waits for
     * it to finish, then reports the timeout. */
    cancelled_child c = {1, 0};
    cio_task *t = cio_create_task(record_sleep_body, &c);
    CHECK_CIO(cio_await(t), -ETIMEDOUT);
    /* It had not started: cancelled before its first run, it never runs. */
    CHECK(c.finished == 0);
    CHECK(c.sleep_result == 1);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    CHECK(cio_now() - start < 1.0);

    /* A task already parked when its awaiter's timeout expires. */
    cancelled_child d = {1, 0};
    cio_task *u = cio_create_task(record_sleep_body, &d);
    CHECK_CIO(cio_yield(), 0);
    cio_timeout_enter(&tm, 0.02);
    CHECK_CIO(cio_await(u), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    CHECK(d.finished == 1);
    CHECK_CIO(d.sleep_result, -ECANCELED);
    return 0;
}

static void test_expired_timeout_fails_calls_at_once(void **state)
{
    (void)state;
    run_main(expired_main, NULL, 0);
}

static int negative_main(void *arg)
{
    (void)arg;
    double start = cio_now();
    cio_timeout tm;
    cio_timeout_enter(&tm, -1);
    CHECK_CIO(cio_sleep(1), -ETIMEDOUT);
    CHECK_CIO(cio_yield(), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    CHECK(cio_now() - start < 0.5);
    return 0;
}

static void test_negative_duration_is_already_expired(void **state)
{
    (void)state;
    run_main(negative_main, NULL, 0);
}

static int nan_main(void *arg)
{
    (void)arg;
    double start = cio_now();
    cio_timeout tm;
    cio_timeout_enter(&tm, NAN);
    /* The scope counts as expired so that nothing inside can hang. */
    int r = cio_sleep(10);
    CHECK(r < 0);
    CHECK(cio_yield() < 0);
    CHECK_CIO(cio_timeout_exit(&tm), -EINVAL);

    cio_timeout at;
    cio_timeout_enter_at(&at, NAN);
    CHECK(cio_sleep(10) < 0);
    CHECK_CIO(cio_timeout_exit(&at), -EINVAL);
    CHECK(cio_now() - start < 0.5);
    /* The task is unharmed afterwards. */
    CHECK_CIO(cio_sleep(0.001), 0);
    return 0;
}

static void test_nan_timeout_is_einval_and_does_not_hang(void **state)
{
    (void)state;
    run_main(nan_main, NULL, 0);
}

typedef struct outside {
    int timeout_exit;
    bool ran;
} outside;

static void timeout_in_callback(void *arg)
{
    outside *o = arg;
    cio_timeout tm;
    cio_timeout_enter(&tm, 1);
    cio_shield sh;
    cio_shield_enter(&sh);
    cio_shield_exit(&sh);
    o->timeout_exit = cio_timeout_exit(&tm);
    o->ran = true;
}

static int timeout_callback_main(void *arg)
{
    outside *o = arg;
    cio_call_soon(timeout_in_callback, o);
    CHECK_CIO(cio_sleep(0.01), 0);
    return 0;
}

static void test_timeout_outside_a_task_is_eperm(void **state)
{
    (void)state;
    /* In main(), with no loop at all. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 1);
    assert_cio(cio_timeout_exit(&tm), -EPERM);
    cio_timeout_enter_at(&tm, cio_now() + 1);
    assert_cio(cio_timeout_exit(&tm), -EPERM);
    cio_shield sh; /* a shield has nothing to report; it must not crash */
    cio_shield_enter(&sh);
    cio_shield_exit(&sh);

    /* In a callback: a loop, but no task. */
    outside o = {0, false};
    run_main(timeout_callback_main, &o, 0);
    assert_true(o.ran);
    assert_cio(o.timeout_exit, -EPERM);
}

static int busy_past_deadline_main(void *arg)
{
    (void)arg;
    /* No call inside noticed the deadline, but it passed: the exit says
     * so, as the header documents. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.01);
    double until = cio_now() + 0.03;
    while (cio_now() < until)
        ;
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    return 0;
}

static void test_timeout_exit_reports_a_passed_deadline(void **state)
{
    (void)state;
    run_main(busy_past_deadline_main, NULL, 0);
}

/* ------------------------------------------------------------- shields */

typedef struct shielded {
    int before; /* a call after cancellation, before the shield */
    int inside; /* the shielded sleep */
    double inside_took;
    int inside_yield;
    int after; /* the first call after the shield */
    double after_took;
} shielded;

static int shielded_body(void *arg)
{
    shielded *s = arg;
    cio_shield sh;
    cio_shield_enter(&sh);
    double start = cio_now();
    s->inside = cio_sleep(0.05); /* cancelled meanwhile */
    s->inside_took = cio_now() - start;
    s->inside_yield = cio_yield();
    cio_shield_exit(&sh);
    start = cio_now();
    s->after = cio_sleep(10);
    s->after_took = cio_now() - start;
    return 0;
}

static int shield_cancel_main(void *arg)
{
    shielded *s = arg;
    cio_task *t = cio_create_task(shielded_body, s);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK_CIO(cio_cancel(t), 0);
    CHECK_CIO(cio_await(t), 0);
    return 0;
}

static void test_shield_holds_back_cancellation(void **state)
{
    (void)state;
    shielded s = {1, 1, 0, 1, 1, -1};
    run_main(shield_cancel_main, &s, 0);
    assert_cio(s.inside, 0);
    assert_true(s.inside_took >= 0.045);
    assert_cio(s.inside_yield, 0);
    assert_cio(s.after, -ECANCELED);
    assert_true(s.after_took < 1.0); /* at once, not after 10 s */
}

static int cancelled_then_shielded_body(void *arg)
{
    shielded *s = arg;
    cio_cancel(cio_current_task());
    s->before = cio_yield();
    cio_shield sh;
    cio_shield_enter(&sh);
    /* Already cancelled: the shield still lets cleanup suspend. */
    s->inside = cio_sleep(0.02);
    cio_shield_exit(&sh);
    s->after = cio_yield();
    return 0;
}

static int cancelled_then_shielded_main(void *arg)
{
    CHECK_CIO(cio_await(cio_create_task(cancelled_then_shielded_body, arg)), 0);
    return 0;
}

static void test_shield_entered_after_cancel_lets_cleanup_suspend(void **state)
{
    (void)state;
    shielded s = {1, 1, 0, 1, 1, -1};
    run_main(cancelled_then_shielded_main, &s, 0);
    assert_cio(s.before, -ECANCELED);
    assert_cio(s.inside, 0);
    assert_cio(s.after, -ECANCELED);
}

static int shield_timeout_main(void *arg)
{
    (void)arg;
    cio_timeout outer;
    cio_timeout_enter(&outer, 0.02);
    cio_shield sh;
    cio_shield_enter(&sh);
    /* Outlives the outer deadline: held back by the shield. */
    double start = cio_now();
    CHECK_CIO(cio_sleep(0.06), 0);
    CHECK(cio_now() - start >= 0.055);
    /* A timeout entered inside the shield still applies. */
    cio_timeout inner;
    cio_timeout_enter(&inner, 0.02);
    start = cio_now();
    CHECK_CIO(cio_sleep(10), -ETIMEDOUT);
    CHECK(cio_now() - start < 5.0);
    CHECK_CIO(cio_timeout_exit(&inner), -ETIMEDOUT);
    CHECK_CIO(cio_sleep(0.001), 0); /* still shielded from the outer one */
    cio_shield_exit(&sh);
    /* The shield is gone: the outer deadline, long passed, applies. */
    CHECK_CIO(cio_sleep(10), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&outer), -ETIMEDOUT);
    return 0;
}

static void test_shield_holds_back_outer_timeouts_not_inner(void **state)
{
    (void)state;
    run_main(shield_timeout_main, NULL, 0);
}

/* ------------------------------------------------ cancel and timeout */

static int both_self_body(void *arg)
{
    (void)arg;
    cio_timeout tm;
    cio_timeout_enter(&tm, -1);
    cio_cancel(cio_current_task());
    CHECK_CIO(cio_sleep(1), -ECANCELED);
    CHECK_CIO(cio_yield(), -ECANCELED);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    return 0;
}

typedef struct race {
    double deadline;
    int result;
} race;

static int both_race_body(void *arg)
{
    race *r = arg;
    cio_timeout tm;
    cio_timeout_enter_at(&tm, r->deadline);
    r->result = cio_sleep(10);
    cio_timeout_exit(&tm);
    return 0;
}

static void cancel_cb(void *arg) { cio_cancel(arg); }

static int cancel_and_timeout_main(void *arg)
{
    (void)arg;
    CHECK_CIO(cio_await(cio_create_task(both_self_body, NULL)), 0);

    /* The cancel arrives after the timeout has woken the task but before
     * the task runs again: a callback due at the very same time as the
     * task's timeout timer, armed after it, fires right after it in the
     * same loop iteration (timers of equal deadline fire FIFO). When the
     * task's sleep returns, both the timeout and the cancellation hold. */
    race r = {cio_now() + 0.02, 1};
    cio_task *t = cio_create_task(both_race_body, &r);
    CHECK_CIO(cio_yield(), 0); /* the task parks and arms its timer */
    CHECK(cio_call_at(r.deadline, cancel_cb, t).id != 0);
    CHECK_CIO(cio_await(t), 0);
    CHECK_CIO(r.result, -ECANCELED);
    return 0;
}

static void test_cancel_and_timeout_together_give_ecanceled(void **state)
{
    (void)state;
    run_main(cancel_and_timeout_main, NULL, 0);
}

/* -------------------------------------------------------------- misuse */

static int out_of_order_main(void *arg)
{
    (void)arg;
    cio_timeout a, b;
    cio_timeout_enter(&a, 10);
    cio_timeout_enter(&b, 10);
    cio_timeout_exit(&a); /* b is the innermost: must abort */
    cio_timeout_exit(&b);
    return 0;
}

static int out_of_order_shield_main(void *arg)
{
    (void)arg;
    cio_timeout a;
    cio_shield s;
    cio_shield_enter(&s);
    cio_timeout_enter(&a, 10);
    cio_shield_exit(&s); /* a is the innermost: must abort */
    cio_timeout_exit(&a);
    return 0;
}

static int return_inside_timeout_body(void *arg)
{
    (void)arg;
    cio_timeout tm;
    cio_timeout_enter(&tm, 10);
    return 0; /* still entered: must abort */
}

static int return_inside_shield_body(void *arg)
{
    (void)arg;
    cio_shield sh;
    cio_shield_enter(&sh);
    return 0; /* still entered: must abort */
}

static int scope_returner_main(void *arg)
{
    cio_await(cio_create_task_opts((cio_fn)arg, NULL, &(cio_task_opts){.name = "leaky"}));
    return 0;
}

/* The same on the smallest stack: the report must fit in what is left of
 * it (it once needed more than 8 KiB and died of SIGSEGV instead). */
static int small_scope_returner_main(void *arg)
{
    cio_await(cio_create_task_opts((cio_fn)arg, NULL,
                                   &(cio_task_opts){.name = "leaky", .stack_size = 2048}));
    return 0;
}

static cio_timeout *shared_scope;

static int enter_and_wait_body(void *arg)
{
    (void)arg;
    cio_timeout tm;
    cio_timeout_enter(&tm, 10);
    shared_scope = &tm;
    cio_sleep(5);
    cio_timeout_exit(&tm);
    return 0;
}

static int exit_foreign_scope_main(void *arg)
{
    (void)arg;
    cio_task *t = cio_create_task(enter_and_wait_body, NULL);
    cio_yield();
    cio_timeout_exit(shared_scope); /* another task's scope: must abort */
    cio_await(t);
    return 0;
}

static void child_out_of_order(void) { cio_run(out_of_order_main, NULL); }
static void child_out_of_order_shield(void) { cio_run(out_of_order_shield_main, NULL); }
static void child_return_in_timeout(void)
{
    cio_run(scope_returner_main, (void *)return_inside_timeout_body);
}
static void child_return_in_shield(void)
{
    cio_run(scope_returner_main, (void *)return_inside_shield_body);
}
static void child_return_in_timeout_small_stack(void)
{
    cio_run(small_scope_returner_main, (void *)return_inside_timeout_body);
}
static void child_exit_foreign_scope(void) { cio_run(exit_foreign_scope_main, NULL); }

static void test_scopes_exited_out_of_order_abort(void **state)
{
    (void)state;
    child_result r;
    run_child(child_out_of_order, &r);
    assert_child_aborted(&r, "scopes must be exited in reverse order");
    run_child(child_out_of_order_shield, &r);
    assert_child_aborted(&r, "scopes must be exited in reverse order");
}

static void test_scope_exited_by_another_task_aborts(void **state)
{
    (void)state;
    child_result r;
    run_child(child_exit_foreign_scope, &r);
    assert_child_aborted(&r, "entered by another task");
}

static void test_task_returning_inside_a_scope_aborts(void **state)
{
    (void)state;
    child_result r;
    run_child(child_return_in_timeout, &r);
    assert_child_aborted(&r,
                         "task 'leaky' returned with a cio_timeout or cio_shield still entered");
    run_child(child_return_in_shield, &r);
    assert_child_aborted(&r,
                         "task 'leaky' returned with a cio_timeout or cio_shield still entered");
    run_child(child_return_in_timeout_small_stack, &r);
    assert_child_aborted(&r,
                         "task 'leaky' returned with a cio_timeout or cio_shield still entered");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_expires_a_sleep),
        cmocka_unit_test(test_timeout_not_expiring),
        cmocka_unit_test(test_infinite_sleep_is_bounded_by_timeout),
        cmocka_unit_test(test_nested_inner_expiry_is_reported_by_inner_only),
        cmocka_unit_test(test_nested_outer_deadline_earlier_than_inner),
        cmocka_unit_test(test_expired_timeout_fails_calls_at_once),
        cmocka_unit_test(test_negative_duration_is_already_expired),
        cmocka_unit_test(test_nan_timeout_is_einval_and_does_not_hang),
        cmocka_unit_test(test_timeout_outside_a_task_is_eperm),
        cmocka_unit_test(test_timeout_exit_reports_a_passed_deadline),
        cmocka_unit_test(test_shield_holds_back_cancellation),
        cmocka_unit_test(test_shield_entered_after_cancel_lets_cleanup_suspend),
        cmocka_unit_test(test_shield_holds_back_outer_timeouts_not_inner),
        cmocka_unit_test(test_cancel_and_timeout_together_give_ecanceled),
        cmocka_unit_test(test_scopes_exited_out_of_order_abort),
        cmocka_unit_test(test_scope_exited_by_another_task_aborts),
        cmocka_unit_test(test_task_returning_inside_a_scope_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
