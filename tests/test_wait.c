/* SPDX-License-Identifier: MIT */
/* test_wait.c — waiting for several tasks: cio_gather, cio_wait_for and
 * cio_wait_any — results, order, failure, cancellation, timeouts, and bad
 * arguments.
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

#include "testutil.h"

/* ------------------------------------------------------------ helpers */

/* A task that sleeps, then returns a chosen value; it records how its
 * sleep ended and whether it reached its end. */
typedef struct worker {
    double seconds;
    int value;
    int sleep_result;
    double cleanup; /* seconds of shielded cleanup after a cancellation */
    int finished;
} worker;

static worker make_worker(double seconds, int value)
{
    return (worker){.seconds = seconds, .value = value, .sleep_result = 1};
}

static int worker_body(void *arg)
{
    worker *w = arg;
    w->sleep_result = w->seconds > 0 ? cio_sleep(w->seconds) : 0;
    if (w->sleep_result == -ECANCELED && w->cleanup > 0) {
        /* Slow cleanup, so that a waiter returning before this task has
         * finished would be seen. */
        cio_shield sh;
        cio_shield_enter(&sh);
        cio_sleep(w->cleanup);
        cio_shield_exit(&sh);
    }
    w->finished = 1;
    return w->sleep_result < 0 ? w->sleep_result : w->value;
}

static void spawn(cio_task **t, worker *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        t[i] = cio_create_task(worker_body, &w[i]);
}

/* -------------------------------------------------------------- gather */

static int gather_in_order_main(void *arg)
{
    (void)arg;
    /* Finishing in an order different from the array's. */
    worker w[4] = {make_worker(0.04, 10), make_worker(0.01, 11), make_worker(0.03, 12),
                   make_worker(0, 13)};
    cio_task *t[4];
    spawn(t, w, 4);
    int results[4] = {-1, -1, -1, -1};
    CHECK_CIO(cio_gather(t, 4, results), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_CIO(results[i], 10 + i);
        CHECK(w[i].finished == 1);
    }

    /* results may be NULL. */
    worker v[2] = {make_worker(0.01, 1), make_worker(0, 2)};
    spawn(t, v, 2);
    CHECK_CIO(cio_gather(t, 2, NULL), 0);
    CHECK(v[0].finished == 1 && v[1].finished == 1);
    return 0;
}

static void test_gather_results_in_array_order(void **state)
{
    (void)state;
    run_main(gather_in_order_main, NULL, 0);
}

static int gather_first_error_main(void *arg)
{
    (void)arg;
    /* t[0] fails last, t[1] fails first: completion order decides. */
    worker w[3] = {make_worker(0.15, -EIO), make_worker(0.05, -ENOENT), make_worker(0.1, 3)};
    cio_task *t[3];
    spawn(t, w, 3);
    int results[3] = {1, 1, 1};
    CHECK_CIO(cio_gather(t, 3, results), -ENOENT);
    CHECK_CIO(results[0], -EIO);
    CHECK_CIO(results[1], -ENOENT);
    CHECK_CIO(results[2], 3);
    return 0;
}

static void test_gather_returns_first_error_in_completion_order(void **state)
{
    (void)state;
    run_main(gather_first_error_main, NULL, 0);
}

static int gather_failure_no_cancel_main(void *arg)
{
    (void)arg;
    /* One fails at once; the others are not cancelled (asyncio's default)
     * and run to their normal end. */
    worker w[3] = {make_worker(0.03, 10), make_worker(0, -EIO), make_worker(0.05, 12)};
    cio_task *t[3];
    spawn(t, w, 3);
    int results[3] = {1, 1, 1};
    CHECK_CIO(cio_gather(t, 3, results), -EIO);
    CHECK_CIO(w[0].sleep_result, 0);
    CHECK_CIO(w[2].sleep_result, 0);
    CHECK_CIO(results[0], 10);
    CHECK_CIO(results[1], -EIO);
    CHECK_CIO(results[2], 12);
    return 0;
}

static void test_gather_failure_does_not_cancel_others(void **state)
{
    (void)state;
    run_main(gather_failure_no_cancel_main, NULL, 0);
}

typedef struct gatherer {
    worker w[3];
    int results[3];
    int gather_result;
    int finished_when_returned; /* how many workers had finished by then */
    bool use_timeout;
} gatherer;

static int gatherer_body(void *arg)
{
    gatherer *g = arg;
    cio_task *t[3];
    spawn(t, g->w, 3);
    cio_timeout tm;
    if (g->use_timeout)
        cio_timeout_enter(&tm, 0.02);
    g->gather_result = cio_gather(t, 3, g->results);
    if (g->use_timeout)
        cio_timeout_exit(&tm);
    for (int i = 0; i < 3; i++)
        g->finished_when_returned += g->w[i].finished;
    return g->gather_result;
}

static void init_gatherer(gatherer *g, bool use_timeout)
{
    memset(g, 0, sizeof *g);
    for (int i = 0; i < 3; i++) {
        g->w[i] = make_worker(10, i);
        g->w[i].cleanup = 0.01 * (i + 1);
        g->results[i] = 1;
    }
    g->use_timeout = use_timeout;
}

static int gather_cancelled_main(void *arg)
{
    gatherer *g = arg;
    double start = cio_now();
    cio_task *t = cio_create_task(gatherer_body, g);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK_CIO(cio_cancel(t), 0);
    CHECK_CIO(cio_await(t), -ECANCELED);
    CHECK(cio_now() - start < 5.0);
    return 0;
}

static void test_gather_caller_cancelled_cancels_and_awaits_all(void **state)
{
    (void)state;
    gatherer g;
    init_gatherer(&g, false);
    run_main(gather_cancelled_main, &g, 0);
    assert_cio(g.gather_result, -ECANCELED);
    /* Every one was cancelled, and had finished its cleanup before
     * cio_gather returned. */
    assert_int_equal(g.finished_when_returned, 3);
    for (int i = 0; i < 3; i++) {
        assert_cio(g.w[i].sleep_result, -ECANCELED);
        assert_cio(g.results[i], -ECANCELED);
    }
}

static int gather_timeout_main(void *arg)
{
    gatherer *g = arg;
    CHECK_CIO(cio_await(cio_create_task(gatherer_body, g)), -ETIMEDOUT);
    return 0;
}

static void test_gather_caller_timeout_cancels_and_awaits_all(void **state)
{
    (void)state;
    gatherer g;
    init_gatherer(&g, true);
    run_main(gather_timeout_main, &g, 0);
    assert_cio(g.gather_result, -ETIMEDOUT);
    assert_int_equal(g.finished_when_returned, 3);
    for (int i = 0; i < 3; i++)
        assert_cio(g.w[i].sleep_result, -ECANCELED);
}

static void gather_in_callback(void *arg) { *(int *)arg = cio_gather(NULL, 0, NULL); }

static int gather_bad_args_main(void *arg)
{
    (void)arg;
    CHECK_CIO(cio_gather(NULL, 1, NULL), -EINVAL);
    /* A NULL element: refused before anything happens, so the valid
     * handles can still be awaited. */
    worker w = make_worker(0, 5);
    cio_task *t[2] = {cio_create_task(worker_body, &w), NULL};
    CHECK_CIO(cio_gather(t, 2, NULL), -EINVAL);
    CHECK_CIO(cio_await(t[0]), 5);

    int from_callback = 1;
    cio_call_soon(gather_in_callback, &from_callback);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK_CIO(from_callback, -EPERM);
    return 0;
}

static void test_gather_bad_arguments(void **state)
{
    (void)state;
    run_main(gather_bad_args_main, NULL, 0);
}

/* ------------------------------------------------------------ wait_for */

static int wait_for_in_time_main(void *arg)
{
    (void)arg;
    worker w = make_worker(0.01, 21);
    CHECK_CIO(cio_wait_for(cio_create_task(worker_body, &w), 5), 21);
    CHECK_CIO(w.sleep_result, 0);

    /* A task that already finished: a zero limit still gets its result. */
    worker d = make_worker(0, 22);
    cio_task *t = cio_create_task(worker_body, &d);
    CHECK_CIO(cio_yield(), 0);
    CHECK(cio_task_done(t));
    CHECK_CIO(cio_wait_for(t, 0), 22);
    return 0;
}

static void test_wait_for_completes_in_time(void **state)
{
    (void)state;
    run_main(wait_for_in_time_main, NULL, 0);
}

static int wait_for_expiry_main(void *arg)
{
    (void)arg;
    worker w = make_worker(10, 1);
    w.cleanup = 0.02;
    double start = cio_now();
    CHECK_CIO(cio_wait_for(cio_create_task(worker_body, &w), 0.02), -ETIMEDOUT);
    double took = cio_now() - start;
    /* Cancelled, and awaited through its cleanup. */
    CHECK_CIO(w.sleep_result, -ECANCELED);
    CHECK(w.finished == 1);
    CHECK(took >= 0.035);
    CHECK(took < 5.0);
    /* The limit was wait_for's own: the caller is not left timed out. */
    CHECK_CIO(cio_sleep(0.001), 0);
    return 0;
}

static void test_wait_for_expiry_cancels_and_awaits(void **state)
{
    (void)state;
    run_main(wait_for_expiry_main, NULL, 0);
}

static int wait_for_bad_timeout_main(void *arg)
{
    (void)arg;
    worker w = make_worker(0.02, 31);
    cio_task *t = cio_create_task(worker_body, &w);
    CHECK_CIO(cio_wait_for(t, -1), -EINVAL);
    CHECK_CIO(cio_wait_for(t, NAN), -EINVAL);
    CHECK_CIO(cio_wait_for(NULL, 1), -EINVAL);
    /* t was left untouched: not cancelled, not released. */
    CHECK(!cio_task_done(t));
    CHECK_CIO(cio_await(t), 31);
    CHECK_CIO(w.sleep_result, 0);
    return 0;
}

static void test_wait_for_bad_timeout_leaves_handle_untouched(void **state)
{
    (void)state;
    run_main(wait_for_bad_timeout_main, NULL, 0);
}

/* ------------------------------------------------------------ wait_any */

static int wait_any_first_main(void *arg)
{
    (void)arg;
    /* Far apart, so that a stalled loop cannot finish two at once. */
    worker w[3] = {make_worker(0.4, 40), make_worker(0.01, 41), make_worker(0.2, 42)};
    cio_task *t[3];
    spawn(t, w, 3);
    CHECK_CIO(cio_wait_any(t, 3, 5), 1);
    /* The handles stay valid: the others run on and can be waited on. */
    CHECK(cio_task_done(t[1]));
    CHECK(!cio_task_done(t[0]) && !cio_task_done(t[2]));
    CHECK_CIO(cio_wait_any(t, 3, -1), 1); /* still done: returned at once */
    cio_task *rest[2] = {t[0], t[2]};
    CHECK_CIO(cio_wait_any(rest, 2, -1), 1); /* t[2] (0.2 s) before t[0] */
    CHECK_CIO(cio_await(t[0]), 40);
    CHECK_CIO(cio_await(t[1]), 41);
    CHECK_CIO(cio_await(t[2]), 42);
    return 0;
}

static void test_wait_any_returns_first_finished(void **state)
{
    (void)state;
    run_main(wait_any_first_main, NULL, 0);
}

static int wait_any_lowest_main(void *arg)
{
    (void)arg;
    worker w[3] = {make_worker(0.5, 50), make_worker(0, 51), make_worker(0, 52)};
    cio_task *t[3];
    spawn(t, w, 3);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK(cio_task_done(t[1]) && cio_task_done(t[2]));
    /* Both 1 and 2 are done: the lowest index. */
    CHECK_CIO(cio_wait_any(t, 3, 5), 1);
    cio_task *rev[3] = {t[2], t[1], t[0]};
    CHECK_CIO(cio_wait_any(rev, 3, 5), 0);
    cio_cancel(t[0]);
    for (int i = 0; i < 3; i++)
        cio_await(t[i]);
    return 0;
}

static void test_wait_any_lowest_index_when_several_done(void **state)
{
    (void)state;
    run_main(wait_any_lowest_main, NULL, 0);
}

static int wait_any_timeout_main(void *arg)
{
    (void)arg;
    worker w[2] = {make_worker(0.1, 60), make_worker(0.12, 61)};
    cio_task *t[2];
    spawn(t, w, 2);
    double start = cio_now();
    CHECK_CIO(cio_wait_any(t, 2, 0.02), -ETIMEDOUT);
    double took = cio_now() - start;
    CHECK(took >= 0.015 && took < 5.0);
    /* Nothing was cancelled: both finish normally. */
    CHECK_CIO(cio_await(t[0]), 60);
    CHECK_CIO(cio_await(t[1]), 61);
    CHECK_CIO(w[0].sleep_result, 0);
    CHECK_CIO(w[1].sleep_result, 0);

    /* A negative timeout waits without limit. */
    worker v = make_worker(0.03, 62);
    cio_task *u = cio_create_task(worker_body, &v);
    CHECK_CIO(cio_wait_any(&u, 1, -1), 0);
    CHECK_CIO(cio_await(u), 62);
    return 0;
}

static void test_wait_any_timeout(void **state)
{
    (void)state;
    run_main(wait_any_timeout_main, NULL, 0);
}

typedef struct any_waiter {
    cio_task **t;
    int result;
} any_waiter;

static int any_waiter_body(void *arg)
{
    any_waiter *a = arg;
    a->result = cio_wait_any(a->t, 2, -1);
    return 0;
}

static int wait_any_cancelled_main(void *arg)
{
    (void)arg;
    /* The waiter is cancelled: it returns -ECANCELED, and the tasks it
     * waited on are not cancelled (asyncio.wait does not cancel). */
    worker w[2] = {make_worker(0.05, 70), make_worker(0.05, 71)};
    cio_task *t[2];
    spawn(t, w, 2);
    any_waiter a = {t, 1};
    cio_task *waiter = cio_create_task(any_waiter_body, &a);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK_CIO(cio_cancel(waiter), 0);
    CHECK_CIO(cio_await(waiter), 0);
    CHECK_CIO(a.result, -ECANCELED);
    CHECK_CIO(cio_await(t[0]), 70);
    CHECK_CIO(cio_await(t[1]), 71);
    return 0;
}

static void test_wait_any_cancelled_leaves_tasks_running(void **state)
{
    (void)state;
    run_main(wait_any_cancelled_main, NULL, 0);
}

static int await_first(void *arg) { return cio_await(*(cio_task **)arg); }

static int wait_any_bad_args_main(void *arg)
{
    (void)arg;
    worker w[2] = {make_worker(0.02, 80), make_worker(0.02, 81)};
    cio_task *t[2];
    spawn(t, w, 2);
    CHECK_CIO(cio_wait_any(t, 0, 1), -EINVAL);
    CHECK_CIO(cio_wait_any(NULL, 2, 1), -EINVAL);
    CHECK_CIO(cio_wait_any(t, 2, NAN), -EINVAL);
    cio_task *with_null[2] = {t[0], NULL};
    CHECK_CIO(cio_wait_any(with_null, 2, 1), -EINVAL);
    /* Another task already awaits t[0]. */
    cio_task *other = cio_create_task(await_first, &t[0]);
    CHECK_CIO(cio_yield(), 0);
    CHECK_CIO(cio_wait_any(t, 2, 1), -EBUSY);
    CHECK_CIO(cio_await(other), 80);
    CHECK_CIO(cio_await(t[1]), 81);
    return 0;
}

static void test_wait_any_bad_arguments(void **state)
{
    (void)state;
    run_main(wait_any_bad_args_main, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather_results_in_array_order),
        cmocka_unit_test(test_gather_returns_first_error_in_completion_order),
        cmocka_unit_test(test_gather_failure_does_not_cancel_others),
        cmocka_unit_test(test_gather_caller_cancelled_cancels_and_awaits_all),
        cmocka_unit_test(test_gather_caller_timeout_cancels_and_awaits_all),
        cmocka_unit_test(test_gather_bad_arguments),
        cmocka_unit_test(test_wait_for_completes_in_time),
        cmocka_unit_test(test_wait_for_expiry_cancels_and_awaits),
        cmocka_unit_test(test_wait_for_bad_timeout_leaves_handle_untouched),
        cmocka_unit_test(test_wait_any_returns_first_finished),
        cmocka_unit_test(test_wait_any_lowest_index_when_several_done),
        cmocka_unit_test(test_wait_any_timeout),
        cmocka_unit_test(test_wait_any_cancelled_leaves_tasks_running),
        cmocka_unit_test(test_wait_any_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
