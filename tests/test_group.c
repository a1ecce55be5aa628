/* SPDX-License-Identifier: MIT */
/* test_group.c — cio_taskgroup as asyncio.TaskGroup with Trio's
 * cancellation (Lib/test/test_asyncio/test_taskgroups.py's cases): wait
 * for all, the first failure cancels the siblings and the parent's own
 * work until the parent reaches the wait, children not yet started never
 * run, creating in a failing group, cancelling the parent cancels the
 * children, a child that ignores its cancellation still cannot outlive the
 * group, timeouts, nesting, shields, many short children, bad input.
 */
#include "testutil.h"

typedef struct child {
    order_log *log;
    char letter;
    double sleep;
    int result;    /* returned after the sleep */
    int sleep_err; /* what the sleep returned */
    bool started, finished;
} child;

static int child_body(void *arg)
{
    child *c = arg;
    c->started = true;
    c->sleep_err = cio_sleep(c->sleep);
    log_put(c->log, c->letter);
    c->finished = true;
    return c->sleep_err ? c->sleep_err : c->result;
}

static int all_ok_main(void *arg)
{
    order_log *log = arg;
    cio_taskgroup *g = cio_taskgroup_new();
    CHECK(g != NULL);
    /* 50 ms apart: a stall of the loop (sanitizers) cannot reorder them. */
    child c[3] = {{log, 'a', 0.15, 1, 1, false, false},
                  {log, 'b', 0.05, 2, 1, false, false},
                  {log, 'c', 0.10, 0, 1, false, false}};
    for (int i = 0; i < 3; i++)
        CHECK_CIO(cio_taskgroup_create_task(g, child_body, &c[i]), 0);
    /* Positive results are not failures. */
    CHECK_CIO(cio_taskgroup_wait(g), 0);
    for (int i = 0; i < 3; i++)
        CHECK(c[i].finished && c[i].sleep_err == 0);
    /* An empty group: wait returns at once. */
    CHECK_CIO(cio_taskgroup_wait(cio_taskgroup_new()), 0);
    return 0;
}

static void test_wait_returns_after_every_child(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(all_ok_main, &log, 0);
    assert_string_equal(log.buf, "bca");
}

static int failing_main(void *arg)
{
    order_log *log = arg;
    cio_taskgroup *g = cio_taskgroup_new();
    child c[4] = {{log, 'a', 10, 0, 1, false, false},
                  {log, 'b', 0.01, -EIO, 1, false, false},
                  {log, 'c', 10, 0, 1, false, false},
                  {log, 'd', 0.10, -ENOENT, 1, false, false}};
    for (int i = 0; i < 4; i++)
        CHECK_CIO(cio_taskgroup_create_task(g, child_body, &c[i]), 0);
    /* The parent's own work: interrupted when 'b' fails. */
    double start = cio_now();
    CHECK_CIO(cio_sleep(10), -ECANCELED);
    CHECK(cio_now() - start < 5);
    /* Level-triggered until the wait: every suspending call fails. */
    CHECK_CIO(cio_yield(), -ECANCELED);
    CHECK_CIO(cio_sleep(0.001), -ECANCELED);
    /* No new child in a failing group. */
    child late = {log, 'z', 0, 0, 1, false, false};
    CHECK_CIO(cio_taskgroup_create_task(g, child_body, &late), -ECANCELED);
    /* The first failure in completion order wins; 'd' was cancelled. */
    CHECK_CIO(cio_taskgroup_wait(g), -EIO);
    CHECK(c[0].sleep_err == -ECANCELED && c[2].sleep_err == -ECANCELED);
    CHECK(c[3].sleep_err == -ECANCELED);
    CHECK(!late.started);
    /* The wait lifted the group's hold: the parent works again. */
    CHECK_CIO(cio_sleep(0.001), 0);
    CHECK_CIO(cio_yield(), 0);
    return 0;
}

static void test_first_failure_cancels_siblings_and_parent_work(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(failing_main, &log, 0);
    assert_string_equal(log.buf, "bacd");
}

static int fail_at_once(void *arg)
{
    (void)arg;
    return -EPROTO;
}

static int unstarted_main(void *arg)
{
    order_log *log = arg;
    cio_taskgroup *g = cio_taskgroup_new();
    child c[2] = {{log, 'a', 0, 0, 1, false, false}, {log, 'b', 0, 0, 1, false, false}};
    CHECK_CIO(cio_taskgroup_create_task(g, fail_at_once, NULL), 0);
    CHECK_CIO(cio_taskgroup_create_task(g, child_body, &c[0]), 0);
    CHECK_CIO(cio_taskgroup_create_task(g, child_body, &c[1]), 0);
    /* The failing child runs first and cancels the others before they
     * ever run: they never start (asyncio's rule for tasks cancelled
     * before they run). */
    CHECK_CIO(cio_taskgroup_wait(g), -EPROTO);
    CHECK(!c[0].started && !c[1].started);
    return 0;
}

static void test_children_cancelled_before_they_start_never_run(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(unstarted_main, &log, 0);
    assert_string_equal(log.buf, "");
}

/* A parent that makes a group of long sleepers and then sleeps itself. */
typedef struct parent_case {
    order_log *log;
    child c[2];
    int sleep_err;
    int wait_result;
    /* Enter the wait at once instead of sleeping first. */
    bool wait_at_once;
} parent_case;

static int parent_body(void *arg)
{
    parent_case *p = arg;
    cio_taskgroup *g = cio_taskgroup_new();
    for (int i = 0; i < 2; i++)
        CHECK_CIO(cio_taskgroup_create_task(g, child_body, &p->c[i]), 0);
    if (!p->wait_at_once)
        p->sleep_err = cio_sleep(10);
    p->wait_result = cio_taskgroup_wait(g);
    return p->wait_result;
}

static int parent_cancel_main(void *arg)
{
    order_log *log = arg;
    for (int variant = 0; variant < 2; variant++) {
        parent_case p = {log,
                         {{log, 'a', 10, 0, 1, false, false}, {log, 'b', 10, 0, 1, false, false}},
                         1,
                         1,
                         variant == 1};
        cio_task *t = cio_create_task(parent_body, &p);
        settle();
        CHECK(p.c[0].started && p.c[1].started);
        CHECK_CIO(cio_cancel(t), 0);
        CHECK_CIO(cio_await(t), -ECANCELED);
        if (variant == 0)
            CHECK_CIO(p.sleep_err, -ECANCELED);
        CHECK(p.c[0].finished && p.c[1].finished);
        CHECK_CIO(p.c[0].sleep_err, -ECANCELED);
        log_put(log, '|');
    }
    return 0;
}

static void test_cancelling_the_parent_cancels_the_children(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(parent_cancel_main, &log, 0);
    assert_string_equal(log.buf, "ab|ab|");
}

/* Ignores its first cancellation and tries to sleep again. */
typedef struct stubborn {
    int first, second;
    bool finished;
} stubborn;

static int stubborn_body(void *arg)
{
    stubborn *s = arg;
    s->first = cio_sleep(10);
    s->second = cio_sleep(10); /* level-triggered: fails at once */
    s->finished = true;
    return 0;
}

static int outlive_main(void *arg)
{
    (void)arg;
    stubborn s = {1, 1, false};
    cio_taskgroup *g = cio_taskgroup_new();
    CHECK_CIO(cio_taskgroup_create_task(g, stubborn_body, &s), 0);
    CHECK_CIO(cio_taskgroup_create_task(g, fail_at_once, NULL), 0);
    double start = cio_now();
    CHECK_CIO(cio_taskgroup_wait(g), -EPROTO);
    CHECK(s.finished);
    CHECK_CIO(s.first, -ECANCELED);
    CHECK_CIO(s.second, -ECANCELED);
    CHECK(cio_now() - start < 5);
    return 0;
}

static void test_child_ignoring_cancel_cannot_outlive_the_group(void **state)
{
    (void)state;
    run_main(outlive_main, NULL, 0);
}

static int timeout_main(void *arg)
{
    order_log *log = arg;
    cio_taskgroup *g = cio_taskgroup_new();
    child c = {log, 'a', 10, 0, 1, false, false};
    CHECK_CIO(cio_taskgroup_create_task(g, child_body, &c), 0);
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.01);
    CHECK_CIO(cio_taskgroup_wait(g), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    CHECK(c.finished);
    CHECK_CIO(c.sleep_err, -ECANCELED);

    /* A child's failure wins over the parent's own cancellation. */
    g = cio_taskgroup_new();
    CHECK_CIO(cio_taskgroup_create_task(g, fail_at_once, NULL), 0);
    CHECK_CIO(cio_yield(), -ECANCELED); /* the child ran and failed */
    CHECK_CIO(cio_cancel(cio_current_task()), 0);
    CHECK_CIO(cio_taskgroup_wait(g), -EPROTO);
    return 0;
}

static void test_parent_timeout_and_child_error_precedence(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(timeout_main, &log, 0);
    assert_string_equal(log.buf, "a");
}

/* A child that adds a sibling to its own group while the parent waits. */
typedef struct spawner {
    cio_taskgroup *g;
    child sibling;
} spawner;

static int spawner_body(void *arg)
{
    spawner *s = arg;
    CHECK_CIO(cio_sleep(0.005), 0);
    CHECK_CIO(cio_taskgroup_create_task(s->g, child_body, &s->sibling), 0);
    return 0;
}

/* An inner parent whose group fails: its wait returns the error, which
 * makes it fail in the outer group. */
static int inner_parent(void *arg)
{
    order_log *log = arg;
    cio_taskgroup *g = cio_taskgroup_new();
    CHECK_CIO(cio_taskgroup_create_task(g, fail_at_once, NULL), 0);
    int err = cio_sleep(10);
    log_put(log, err == -ECANCELED ? 'i' : '?');
    return cio_taskgroup_wait(g);
}

static int nesting_main(void *arg)
{
    order_log *log = arg;
    cio_taskgroup *g = cio_taskgroup_new();
    spawner s = {g, {log, 's', 0.005, 0, 1, false, false}};
    CHECK_CIO(cio_taskgroup_create_task(g, spawner_body, &s), 0);
    CHECK_CIO(cio_taskgroup_wait(g), 0);
    CHECK(s.sibling.finished); /* created during the wait, waited for too */

    g = cio_taskgroup_new();
    child bystander = {log, 'b', 10, 0, 1, false, false};
    CHECK_CIO(cio_taskgroup_create_task(g, inner_parent, log), 0);
    CHECK_CIO(cio_taskgroup_create_task(g, child_body, &bystander), 0);
    CHECK_CIO(cio_taskgroup_wait(g), -EPROTO);
    CHECK_CIO(bystander.sleep_err, -ECANCELED);
    return 0;
}

static void test_children_add_siblings_and_groups_nest(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(nesting_main, &log, 0);
    assert_string_equal(log.buf, "sib");
}

static int shield_main(void *arg)
{
    (void)arg;
    cio_taskgroup *g = cio_taskgroup_new();
    CHECK_CIO(cio_taskgroup_create_task(g, fail_at_once, NULL), 0);
    /* Inside a shield the group's hold waits, as a cancellation would. */
    cio_shield sh;
    cio_shield_enter(&sh);
    CHECK_CIO(cio_sleep(0.01), 0);
    cio_shield_exit(&sh);
    CHECK_CIO(cio_yield(), -ECANCELED);
    CHECK_CIO(cio_taskgroup_wait(g), -EPROTO);
    return 0;
}

static void test_shield_holds_back_the_groups_cancellation(void **state)
{
    (void)state;
    run_main(shield_main, NULL, 0);
}

static int count_and_return(void *arg)
{
    ++*(int *)arg;
    return 0;
}

static int many_main(void *arg)
{
    (void)arg;
    /* Children that finish while more are created: their handles are
     * recycled as the group goes (no growth without bound). */
    int ran = 0;
    cio_taskgroup *g = cio_taskgroup_new();
    for (int i = 0; i < 3000; i++) {
        CHECK_CIO(cio_taskgroup_create_task(g, count_and_return, &ran), 0);
        if (i % 100 == 99)
            CHECK_CIO(cio_yield(), 0);
    }
    CHECK_CIO(cio_taskgroup_wait(g), 0);
    CHECK(ran == 3000);
    return 0;
}

static void test_many_short_children(void **state)
{
    (void)state;
    run_main(many_main, NULL, 0);
}

static cio_taskgroup *foreign_group;

static int wait_foreign(void *arg)
{
    (void)arg;
    return cio_taskgroup_wait(foreign_group);
}

static int bad_input_main(void *arg)
{
    (void)arg;
    CHECK_CIO(cio_taskgroup_create_task(NULL, fail_at_once, NULL), -EINVAL);
    CHECK_CIO(cio_taskgroup_wait(NULL), -EINVAL);
    foreign_group = cio_taskgroup_new();
    CHECK_CIO(cio_taskgroup_create_task(foreign_group, NULL, NULL), -EINVAL);
    /* Only the parent may wait (the group is not freed then). */
    CHECK_CIO(cio_await(cio_create_task(wait_foreign, NULL)), -EPERM);
    CHECK_CIO(cio_taskgroup_wait(foreign_group), 0);
    return 0;
}

static void test_bad_input(void **state)
{
    (void)state;
    errno = 0;
    assert_null(cio_taskgroup_new());
    assert_int_equal(errno, EPERM);
    run_main(bad_input_main, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_returns_after_every_child),
        cmocka_unit_test(test_first_failure_cancels_siblings_and_parent_work),
        cmocka_unit_test(test_children_cancelled_before_they_start_never_run),
        cmocka_unit_test(test_cancelling_the_parent_cancels_the_children),
        cmocka_unit_test(test_child_ignoring_cancel_cannot_outlive_the_group),
        cmocka_unit_test(test_parent_timeout_and_child_error_precedence),
        cmocka_unit_test(test_children_add_siblings_and_groups_nest),
        cmocka_unit_test(test_shield_holds_back_the_groups_cancellation),
        cmocka_unit_test(test_many_short_children),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
