/* SPDX-License-Identifier: MIT */
/* test_barrier.c — cio_barrier as asyncio.Barrier: the last arrival
 * releases all, each gets a distinct index in order of arrival, the
 * barrier is reusable at once, a cancelled waiter no longer counts, one
 * released and then cancelled keeps its index, a one-party barrier,
 * zero parties refused, bad input, freeing one still waited on.
 */
#include "testutil.h"

typedef struct party {
    cio_barrier *b;
    order_log *log;
    char letter;
    int rounds;
    int index[4];
} party;

static int party_body(void *arg)
{
    party *p = arg;
    for (int r = 0; r < p->rounds; r++) {
        p->index[r] = cio_barrier_wait(p->b);
        if (p->index[r] < 0)
            return p->index[r];
        log_put(p->log, p->letter);
    }
    return 0;
}

static int release_main(void *arg)
{
    order_log *log = arg;
    cio_barrier *b = cio_barrier_new(3);
    party p[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        p[i] = (party){b, log, (char)('a' + i), 3, {0}};
        t[i] = cio_create_task(party_body, &p[i]);
    }
    for (int i = 0; i < 3; i++)
        CHECK_CIO(cio_await(t[i]), 0);
    /* Round 1: a, b, c arrive in that order. The last arrival goes on
     * without suspending and is first at the next round, so the order of
     * arrival rotates: c a b, then b c a. Indices follow it. */
    static const int want[3][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}};
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 3; i++)
            CHECK(p[i].index[r] == want[r][i]);
    }
    CHECK(cio_barrier_n_waiting(b) == 0);
    cio_barrier_free(b);
    return 0;
}

static void test_last_arrival_releases_all_and_it_repeats(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(release_main, &log, 0);
    /* The last arrival goes on first; the others follow in FIFO order. */
    assert_string_equal(log.buf, "cabbcaabc");
}

static int cancel_main(void *arg)
{
    order_log *log = arg;
    cio_barrier *b = cio_barrier_new(2);
    party p[3];
    cio_task *t[3];
    p[0] = (party){b, log, 'a', 1, {9}};
    t[0] = cio_create_task(party_body, &p[0]);
    settle();
    CHECK(cio_barrier_n_waiting(b) == 1);
    /* Cancelled before the release: it leaves, the count drops. */
    CHECK_CIO(cio_cancel(t[0]), 0);
    CHECK_CIO(cio_await(t[0]), -ECANCELED);
    CHECK(cio_barrier_n_waiting(b) == 0);
    p[1] = (party){b, log, 'b', 1, {9}};
    t[1] = cio_create_task(party_body, &p[1]);
    settle();
    CHECK(cio_barrier_n_waiting(b) == 1);
    /* Released (by our arrival), then cancelled before it runs: it keeps
     * its index. */
    CHECK_CIO(cio_barrier_wait(b), 1);
    CHECK_CIO(cio_cancel(t[1]), 0);
    CHECK_CIO(cio_await(t[1]), 0);
    CHECK(p[1].index[0] == 0);
    /* A timed-out waiter leaves the count too. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.01);
    CHECK_CIO(cio_barrier_wait(b), -ETIMEDOUT);
    cio_timeout_exit(&tm);
    CHECK(cio_barrier_n_waiting(b) == 0);
    cio_barrier_free(b);
    /* One party: never waits. */
    cio_barrier *one = cio_barrier_new(1);
    CHECK_CIO(cio_barrier_wait(one), 0);
    CHECK_CIO(cio_barrier_wait(one), 0);
    cio_barrier_free(one);
    return 0;
}

static void test_cancelled_waiter_leaves_and_released_one_keeps_index(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(cancel_main, &log, 0);
    assert_string_equal(log.buf, "b");
}

static void test_bad_input(void **state)
{
    (void)state;
    errno = 0;
    assert_null(cio_barrier_new(0));
    assert_int_equal(errno, EINVAL);
    assert_cio(cio_barrier_wait(NULL), -EINVAL);
    assert_int_equal(cio_barrier_n_waiting(NULL), 0);
    cio_barrier_free(NULL);
    cio_barrier *b = cio_barrier_new(1);
    assert_cio(cio_barrier_wait(b), -EPERM); /* outside a task */
    cio_barrier_free(b);
}

static void *make_barrier(void) { return cio_barrier_new(3); }
static int wait_barrier(void *b) { return cio_barrier_wait(b); }
static void free_barrier(void *b) { cio_barrier_free(b); }

static void test_free_while_waited_on_aborts(void **state)
{
    (void)state;
    assert_free_in_use_aborts(make_barrier, wait_barrier, free_barrier,
                              "cio_barrier_free: 1 task(s) still wait on a barrier");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_arrival_releases_all_and_it_repeats),
        cmocka_unit_test(test_cancelled_waiter_leaves_and_released_one_keeps_index),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_free_while_waited_on_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
