/* SPDX-License-Identifier: MIT */
/* test_future.c — cio_future as asyncio.Future with an int result: any
 * number of awaiters woken in FIFO order, set or cancel once (-EALREADY
 * after), awaiting a done future, an awaiter's cancellation leaves the
 * future alone, completion from a cio_call_later callback and from another
 * thread through cio_call_soon_threadsafe, bad input, freeing a future
 * still awaited.
 */
#include "testutil.h"

#include <pthread.h>

typedef struct awaiter {
    cio_future *f;
    order_log *log;
    char letter;
    int result;
} awaiter;

static int awaiter_body(void *arg)
{
    awaiter *a = arg;
    a->result = cio_future_await(a->f);
    log_put(a->log, a->letter);
    return a->result;
}

static int many_awaiters_main(void *arg)
{
    order_log *log = arg;
    cio_future *f = cio_future_new();
    CHECK(f && !cio_future_done(f));
    awaiter a[4];
    cio_task *t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (awaiter){f, log, (char)('a' + i), 1};
        t[i] = cio_create_task(awaiter_body, &a[i]);
    }
    settle();
    CHECK(log->n == 0);
    /* An awaiter cancelled meanwhile stops waiting; the future does not
     * change (the others still want it). */
    CHECK_CIO(cio_cancel(t[3]), 0);
    CHECK_CIO(cio_await(t[3]), -ECANCELED);
    CHECK(!cio_future_done(f));
    CHECK_CIO(cio_future_set_result(f, 42), 0);
    CHECK(cio_future_done(f));
    CHECK_CIO(cio_future_set_result(f, 43), -EALREADY);
    CHECK_CIO(cio_future_cancel(f), -EALREADY);
    for (int i = 0; i < 3; i++)
        CHECK_CIO(cio_await(t[i]), 42);
    /* Done: awaiting returns the result at once, as often as asked. */
    CHECK_CIO(cio_future_await(f), 42);
    CHECK_CIO(cio_future_await(f), 42);
    cio_future_free(f);

    /* A negative result is passed through like any other. */
    f = cio_future_new();
    CHECK_CIO(cio_future_set_result(f, -EIO), 0);
    CHECK_CIO(cio_future_await(f), -EIO);
    cio_future_free(f);
    return 0;
}

static void test_many_awaiters_set_once(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(many_awaiters_main, &log, 0);
    assert_string_equal(log.buf, "dabc");
}

static int cancel_main(void *arg)
{
    order_log *log = arg;
    cio_future *f = cio_future_new();
    awaiter a[2];
    cio_task *t[2];
    for (int i = 0; i < 2; i++) {
        a[i] = (awaiter){f, log, (char)('a' + i), 1};
        t[i] = cio_create_task(awaiter_body, &a[i]);
    }
    settle();
    CHECK_CIO(cio_future_cancel(f), 0);
    CHECK_CIO(cio_future_cancel(f), -EALREADY);
    CHECK_CIO(cio_future_set_result(f, 1), -EALREADY);
    CHECK(cio_future_done(f));
    CHECK_CIO(cio_await(t[0]), -ECANCELED);
    CHECK_CIO(cio_await(t[1]), -ECANCELED);
    CHECK_CIO(cio_future_await(f), -ECANCELED);
    cio_future_free(f);
    /* A timeout ends an await. */
    f = cio_future_new();
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.01);
    CHECK_CIO(cio_future_await(f), -ETIMEDOUT);
    cio_timeout_exit(&tm);
    cio_future_free(f);
    return 0;
}

static void test_cancel_wakes_every_awaiter_with_ecanceled(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(cancel_main, &log, 0);
    assert_string_equal(log.buf, "ab");
}

static void set_from_callback(void *arg) { CHECK_CIO(cio_future_set_result(arg, 7), 0); }

static int callback_main(void *arg)
{
    (void)arg;
    cio_future *f = cio_future_new();
    double start = cio_now();
    CHECK(cio_call_later(0.02, set_from_callback, f).id != 0);
    CHECK_CIO(cio_future_await(f), 7);
    CHECK(cio_now() - start >= 0.015);
    cio_future_free(f);
    return 0;
}

static void test_completed_from_call_later(void **state)
{
    (void)state;
    run_main(callback_main, NULL, 0);
}

typedef struct thread_case {
    cio_loop *loop;
    cio_future *f;
    int post_result;
} thread_case;

static void set_on_loop(void *arg)
{
    thread_case *c = arg;
    CHECK_CIO(cio_future_set_result(c->f, 99), 0);
    /* The promise made below is kept: drop it. */
    CHECK_CIO(cio_loop_unref(c->loop), 0);
}

static void *completer_thread(void *arg)
{
    thread_case *c = arg;
    usleep(20000);
    c->post_result = cio_call_soon_threadsafe(c->loop, set_on_loop, c);
    return NULL;
}

static int thread_main(void *arg)
{
    (void)arg;
    thread_case c = {cio_running_loop(), cio_future_new(), 1};
    /* Only the thread will wake this loop: say so, or cio_run would find
     * nothing that can complete the future and report a deadlock. */
    CHECK_CIO(cio_loop_ref(c.loop), 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, completer_thread, &c) == 0);
    CHECK_CIO(cio_future_await(c.f), 99);
    pthread_join(th, NULL);
    CHECK_CIO(c.post_result, 0);
    cio_future_free(c.f);
    return 0;
}

static void test_completed_from_another_thread(void **state)
{
    (void)state;
    run_main(thread_main, NULL, 0);
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_cio(cio_future_set_result(NULL, 1), -EINVAL);
    assert_cio(cio_future_cancel(NULL), -EINVAL);
    assert_cio(cio_future_await(NULL), -EINVAL);
    assert_false(cio_future_done(NULL));
    cio_future_free(NULL);
    /* Created, completed and freed outside a loop; awaiting is refused. */
    cio_future *f = cio_future_new();
    assert_cio(cio_future_set_result(f, 3), 0);
    assert_cio(cio_future_await(f), -EPERM);
    cio_future_free(f);
}

static void *make_future(void) { return cio_future_new(); }
static int await_future(void *f) { return cio_future_await(f); }
static void free_future(void *f) { cio_future_free(f); }

static void test_free_while_awaited_aborts(void **state)
{
    (void)state;
    assert_free_in_use_aborts(make_future, await_future, free_future,
                              "cio_future_free: 1 task(s) still wait on a future");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_awaiters_set_once),
        cmocka_unit_test(test_cancel_wakes_every_awaiter_with_ecanceled),
        cmocka_unit_test(test_completed_from_call_later),
        cmocka_unit_test(test_completed_from_another_thread),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_free_while_awaited_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
