/* SPDX-License-Identifier: MIT */
/* test_signal.c — cio_signal_wait: raise and kill to self wake the
 * waiting task, a signal arriving between two waits is kept for the next,
 * the loop runs on meanwhile, timeouts and cancellation, the thread's mask
 * restored when cio_run returns, bad input.
 */
#include "nettest.h"

typedef struct waiter_result {
    int result;
    bool done;
} waiter_result;

static int wait_usr1(void *arg)
{
    waiter_result *w = arg;
    w->result = cio_signal_wait(SIGUSR1);
    w->done = true;
    return 0;
}

static int main_raise(void *arg)
{
    (void)arg;
    waiter_result w = {0};
    cio_task *t = cio_create_task(wait_usr1, &w);
    CHECK_CIO(cio_sleep(0.02), 0);
    CHECK(!w.done);
    CHECK_CIO(raise(SIGUSR1), 0);
    CHECK_CIO(cio_await(t), 0);
    CHECK(w.done);
    CHECK_CIO(w.result, 0);
    /* Process-directed, by kill(2). */
    w.done = false;
    t = cio_create_task(wait_usr1, &w);
    CHECK_CIO(cio_sleep(0.02), 0);
    CHECK_CIO(kill(getpid(), SIGUSR1), 0);
    CHECK_CIO(cio_await(t), 0);
    CHECK_CIO(w.result, 0);
    return 0;
}

static void test_raise_and_kill_wake_the_waiter(void **state)
{
    (void)state;
    run_main(main_raise, NULL, 0);
}

static int main_between_waits(void *arg)
{
    (void)arg;
    waiter_result w = {0};
    cio_task *t = cio_create_task(wait_usr1, &w);
    CHECK_CIO(cio_yield(), 0);
    CHECK_CIO(raise(SIGUSR1), 0);
    CHECK_CIO(cio_await(t), 0);
    /* Nobody waits now: the signal stays blocked, pending, not fatal. */
    CHECK_CIO(raise(SIGUSR1), 0);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK_CIO(cio_signal_wait(SIGUSR1), 0);
    return 0;
}

static void test_signal_between_two_waits_is_kept(void **state)
{
    (void)state;
    run_main(main_between_waits, NULL, 0);
    /* cio_run restored the mask: SIGUSR1 is no longer blocked. */
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    assert_false(sigismember(&now, SIGUSR1));
}

static int main_timeout(void *arg)
{
    (void)arg;
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.03);
    CHECK_CIO(cio_signal_wait(SIGUSR2), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    waiter_result w = {0};
    cio_task *t = cio_create_task(wait_usr1, &w);
    CHECK_CIO(cio_yield(), 0);
    cio_cancel(t);
    CHECK_CIO(cio_await(t), 0);
    CHECK_CIO(w.result, -ECANCELED);
    return 0;
}

static void test_timeout_and_cancellation(void **state)
{
    (void)state;
    run_main(main_timeout, NULL, 0);
}

static int main_bad(void *arg)
{
    (void)arg;
    CHECK_CIO(cio_signal_wait(0), -EINVAL);
    CHECK_CIO(cio_signal_wait(SIGKILL), -EINVAL);
    CHECK_CIO(cio_signal_wait(SIGSTOP), -EINVAL);
    CHECK_CIO(cio_signal_wait(NSIG), -EINVAL);
    return 0;
}

static void test_bad_input(void **state)
{
    (void)state;
    run_main(main_bad, NULL, 0);
    assert_cio(cio_signal_wait(SIGUSR1), -EPERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raise_and_kill_wake_the_waiter),
        cmocka_unit_test(test_signal_between_two_waits_is_kept),
        cmocka_unit_test(test_timeout_and_cancellation),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
