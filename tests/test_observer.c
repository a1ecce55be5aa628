/* SPDX-License-Identifier: MIT */
/* test_observer.c — cio_observer_add / cio_observer_remove: the events a
 * task's life emits, in order; the loop's own events (iterations, polls, a
 * descriptor reported, a timer fired); several observers; observers added
 * and removed from inside a hook; direct switches kept with
 * CIO_TRACE_DIRECT=1; and the errors for bad input.
 */
#include "testutil.h"

/* ---------------------------------------------------------- a recorder */

/* What one observer saw of one task (`watched`): a letter per event, in
 * order, and counts of the loop's own events. */
typedef struct recorder {
    const cio_task *watched;
    order_log log;
    char waits_on[64];
    const cio_task *waker;
    int woken_result, finished_result;
    int iterations, polls_begun, polls_ended, timers, fds_reported;
    bool reported_watched_fd;
    int watched_fd;
    /* A tag logged for every event of the watched task, to tell several
     * observers apart in one shared log (0: none). */
    char tag;
    order_log *shared;
} recorder;

static void put(recorder *r, char c)
{
    log_put(&r->log, c);
    if (r->shared && r->tag)
        log_put(r->shared, r->tag);
}

static void rec_iteration(void *arg) { ((recorder *)arg)->iterations++; }

static void rec_created(void *arg, cio_task *t, cio_task *creator)
{
    recorder *r = arg;
    if (t == r->watched || (!r->watched && creator))
        put(r, 'C');
}

static void rec_started(void *arg, cio_task *t)
{
    recorder *r = arg;
    if (t == r->watched)
        put(r, 'S');
}

static void rec_suspended(void *arg, cio_task *t, const char *waits_on)
{
    recorder *r = arg;
    if (t != r->watched)
        return;
    put(r, 'P');
    snprintf(r->waits_on, sizeof r->waits_on, "%s", waits_on);
}

static void rec_woken(void *arg, cio_task *t, cio_task *waker, int result)
{
    recorder *r = arg;
    if (t != r->watched)
        return;
    put(r, 'W');
    r->waker = waker;
    r->woken_result = result;
}

static void rec_resumed(void *arg, cio_task *t)
{
    recorder *r = arg;
    if (t == r->watched)
        put(r, 'R');
}

static void rec_finished(void *arg, cio_task *t, int result)
{
    recorder *r = arg;
    if (t != r->watched)
        return;
    put(r, 'F');
    r->finished_result = result;
}

static void rec_never_ran(void *arg, cio_task *t, int result)
{
    recorder *r = arg;
    if (t != r->watched)
        return;
    put(r, 'N');
    r->finished_result = result;
}

static void rec_poll_begin(void *arg, double timeout) { ((recorder *)arg)->polls_begun++; }
static void rec_poll_end(void *arg, int nready) { ((recorder *)arg)->polls_ended++; }
static void rec_timer(void *arg, double deadline) { ((recorder *)arg)->timers++; }

static void rec_fd(void *arg, int fd, unsigned events)
{
    recorder *r = arg;
    r->fds_reported++;
    if (fd == r->watched_fd && (events & CIO_OBSERVE_READABLE))
        r->reported_watched_fd = true;
}

static const cio_observer recorder_ops = {
    .loop_iteration = rec_iteration,
    .task_created = rec_created,
    .task_started = rec_started,
    .task_suspended = rec_suspended,
    .task_woken = rec_woken,
    .task_resumed = rec_resumed,
    .task_finished = rec_finished,
    .task_never_ran = rec_never_ran,
    .poll_begin = rec_poll_begin,
    .poll_end = rec_poll_end,
    .fd_reported = rec_fd,
    .timer_fired = rec_timer,
};

/* ------------------------------------------------------------- bodies */

static int sleep_briefly(void *arg)
{
    (void)arg;
    return cio_sleep(0.002) == 0 ? 7 : -1;
}

static int wait_event(void *arg) { return cio_event_wait(arg); }

static int wait_readable(void *arg) { return cio_wait_readable(*(int *)arg); }

/* ---------------------------------------------------------------- tests */

/* A task's life, as one observer sees it: created, started, suspended (on
 * a sleep), woken by the loop (its timer), resumed, finished with its
 * result; and the loop's iterations, polls and the timer around it. */
static int life_main(void *arg)
{
    recorder *r = arg;
    REQUIRE_CIO(cio_observer_add(&recorder_ops, r), 0);
    cio_task *t = cio_create_task_opts(sleep_briefly, NULL, &(cio_task_opts){.name = "sleepy"});
    REQUIRE(t);
    r->watched = t;
    /* Created before `watched` was set: logged by the creator test. */
    CHECK_CIO(cio_await(t), 7);
    return cio_observer_remove(&recorder_ops, r);
}

static void test_a_task_life_emits_its_events_in_order(void **state)
{
    (void)state;
    recorder r = {.watched_fd = -1};
    run_ok(life_main, &r);
    assert_string_equal(r.log.buf, "CSPWRF");
    assert_string_equal(r.waits_on, "a sleep");
    assert_null(r.waker);
    assert_int_equal(r.woken_result, 0);
    assert_int_equal(r.finished_result, 7);
    assert_true(r.iterations > 0);
    assert_true(r.polls_begun > 0);
    assert_int_equal(r.polls_begun, r.polls_ended);
    assert_true(r.timers >= 1);
}

/* Woken by a task: the waker is the task that set the event. */
static int waker_main(void *arg)
{
    recorder *r = arg;
    cio_event *ev = cio_event_new();
    REQUIRE(ev);
    cio_task *t = cio_create_task(wait_event, ev);
    REQUIRE(t);
    r->watched = t;
    REQUIRE_CIO(cio_observer_add(&recorder_ops, r), 0);
    CHECK_CIO(cio_yield(), 0);
    cio_event_set(ev);
    CHECK(r->waker == cio_current_task());
    CHECK_CIO(cio_await(t), 0);
    cio_event_free(ev);
    return cio_observer_remove(&recorder_ops, r);
}

static void test_woken_names_the_waking_task(void **state)
{
    (void)state;
    recorder r = {.watched_fd = -1};
    run_ok(waker_main, &r);
    /* Added after the creation: the rest of the life only. */
    assert_string_equal(r.log.buf, "SPWRF");
    assert_string_equal(r.waits_on, "an event");
}

/* A task cancelled before its turn never runs: created, then never_ran,
 * and nothing between. */
static int never_ran_main(void *arg)
{
    recorder *r = arg;
    REQUIRE_CIO(cio_observer_add(&recorder_ops, r), 0);
    cio_task *t = cio_create_task(sleep_briefly, NULL);
    REQUIRE(t);
    r->watched = t;
    CHECK_CIO(cio_cancel(t), 0);
    CHECK_CIO(cio_await(t), -ECANCELED);
    return cio_observer_remove(&recorder_ops, r);
}

static void test_a_task_cancelled_before_it_ran_emits_never_ran(void **state)
{
    (void)state;
    recorder r = {.watched_fd = -1};
    run_ok(never_ran_main, &r);
    assert_string_equal(r.log.buf, "CN");
    assert_int_equal(r.finished_result, -ECANCELED);
}

/* A descriptor the OS reports readable is told to the observer. */
static int fd_main(void *arg)
{
    recorder *r = arg;
    int p[2];
    REQUIRE(pipe(p) == 0);
    r->watched_fd = p[0];
    REQUIRE_CIO(cio_observer_add(&recorder_ops, r), 0);
    cio_task *t = cio_create_task(wait_readable, &p[0]);
    REQUIRE(t);
    CHECK_CIO(cio_sleep(0.001), 0);
    CHECK(write(p[1], "x", 1) == 1);
    CHECK_CIO(cio_await(t), 0);
    CHECK_CIO(cio_observer_remove(&recorder_ops, r), 0);
    cio_close(p[0]);
    cio_close(p[1]);
    return 0;
}

static void test_a_readable_descriptor_is_reported(void **state)
{
    (void)state;
    recorder r = {.watched_fd = -1};
    run_ok(fd_main, &r);
    assert_true(r.fds_reported > 0);
    assert_true(r.reported_watched_fd);
}

/* Several observers: each sees every event, in the order they were added;
 * the same table with two arguments is two observers. */
static int several_main(void *arg)
{
    recorder *rs = arg;
    cio_task *t = cio_create_task(sleep_briefly, NULL);
    REQUIRE(t);
    rs[0].watched = rs[1].watched = t;
    REQUIRE_CIO(cio_observer_add(&recorder_ops, &rs[0]), 0);
    REQUIRE_CIO(cio_observer_add(&recorder_ops, &rs[1]), 0);
    CHECK_CIO(cio_await(t), 7);
    CHECK_CIO(cio_observer_remove(&recorder_ops, &rs[0]), 0);
    CHECK_CIO(cio_observer_remove(&recorder_ops, &rs[1]), 0);
    return 0;
}

static void test_several_observers_each_see_every_event_in_order(void **state)
{
    (void)state;
    order_log shared = {0};
    recorder rs[2] = {{.watched_fd = -1, .tag = 'a', .shared = &shared},
                      {.watched_fd = -1, .tag = 'b', .shared = &shared}};
    run_ok(several_main, rs);
    assert_string_equal(rs[0].log.buf, "SPWRF");
    assert_string_equal(rs[1].log.buf, "SPWRF");
    assert_string_equal(shared.buf, "ababababab");
}

/* An observer that removes itself in its first hook, and one that adds
 * another from a hook: the removed one is called no more, not even for
 * the rest of the event; the added one sees from the next event on. */
static recorder late;
static int self_removals;

static const cio_observer *remover_ops_ptr;

static void remover_started(void *arg, cio_task *t)
{
    self_removals++;
    CHECK_CIO(cio_observer_remove(remover_ops_ptr, arg), 0);
    /* Gone: a second removal finds nothing. */
    CHECK_CIO(cio_observer_remove(remover_ops_ptr, arg), -ENOENT);
}

static const cio_observer remover_ops = {.task_started = remover_started};

static void adder_started(void *arg, cio_task *t)
{
    if (late.watched)
        return;
    late.watched = t;
    CHECK_CIO(cio_observer_add(&recorder_ops, &late), 0);
    /* Already there. */
    CHECK_CIO(cio_observer_add(&recorder_ops, &late), -EINVAL);
}

static const cio_observer adder_ops = {.task_started = adder_started};

static int change_main(void *arg)
{
    (void)arg;
    remover_ops_ptr = &remover_ops;
    int token = 0;
    REQUIRE_CIO(cio_observer_add(&remover_ops, &token), 0);
    REQUIRE_CIO(cio_observer_add(&adder_ops, NULL), 0);
    cio_task *a = cio_create_task(sleep_briefly, NULL);
    cio_task *b = cio_create_task(sleep_briefly, NULL);
    REQUIRE(a && b);
    CHECK_CIO(cio_await(a), 7);
    CHECK_CIO(cio_await(b), 7);
    CHECK_CIO(cio_observer_remove(&adder_ops, NULL), 0);
    CHECK_CIO(cio_observer_remove(&recorder_ops, &late), 0);
    CHECK_CIO(cio_observer_remove(&remover_ops, &token), -ENOENT);
    return 0;
}

static void test_observers_added_and_removed_from_a_hook(void **state)
{
    (void)state;
    late = (recorder){.watched_fd = -1};
    self_removals = 0;
    run_ok(change_main, NULL);
    /* The remover saw one start only: a's. */
    assert_int_equal(self_removals, 1);
    /* Added during a's start: the rest of a's life, not its start. */
    assert_string_equal(late.log.buf, "PWRF");
}

/* CIO_TRACE_DIRECT=1: an observed loop switches straight from task to
 * task, so a task resumes while the task that suspended is still the
 * running one (the events are emitted on its stack, before the jump).
 * Without it, the loop runs between the two. */
typedef struct direct_probe {
    int resumed, resumed_from_a_task;
} direct_probe;

static void probe_resumed(void *arg, cio_task *t)
{
    direct_probe *p = arg;
    p->resumed++;
    cio_task *running = cio_current_task();
    if (running && running != t)
        p->resumed_from_a_task++;
}

static const cio_observer probe_ops = {.task_resumed = probe_resumed};

static int yield_loop(void *arg)
{
    for (int i = 0; i < 50; i++)
        if (cio_yield() != 0)
            return -1;
    return 0;
}

static int direct_main(void *arg)
{
    REQUIRE_CIO(cio_observer_add(&probe_ops, arg), 0);
    cio_task *a = cio_create_task(yield_loop, NULL);
    cio_task *b = cio_create_task(yield_loop, NULL);
    REQUIRE(a && b);
    CHECK_CIO(cio_await(a), 0);
    CHECK_CIO(cio_await(b), 0);
    return cio_observer_remove(&probe_ops, arg);
}

static void direct_child(void *arg)
{
    if (arg)
        setenv("CIO_TRACE_DIRECT", "1", 1);
    direct_probe p = {0};
    reset_failures();
    int r = cio_run(direct_main, &p);
    if (r != 0 || failure_count()) {
        fprintf(stderr, "run failed: %d %s\n", r, failure_text());
        _exit(1);
    }
    fprintf(stderr, "resumed=%d from_a_task=%d\n", p.resumed, p.resumed_from_a_task);
}

static void test_trace_direct_keeps_direct_switches_and_their_events(void **state)
{
    (void)state;
    child_result r;
    int direct_on = 1;
    run_child_with(direct_child, &direct_on, &r);
    assert_child_ok(&r);
    int resumed = 0, from_task = 0;
    assert_int_equal(
        sscanf(strstr(r.err, "resumed="), "resumed=%d from_a_task=%d", &resumed, &from_task), 2);
    assert_true(resumed >= 100);
    assert_true(from_task >= 90);

    run_child_with(direct_child, NULL, &r);
    assert_child_ok(&r);
    assert_int_equal(
        sscanf(strstr(r.err, "resumed="), "resumed=%d from_a_task=%d", &resumed, &from_task), 2);
    assert_true(resumed >= 100);
    assert_int_equal(from_task, 0);
}

/* Bad input: no table, outside a loop, twice the same pair, an unknown
 * pair. */
static const cio_observer empty_ops = {0};

static int bad_input_main(void *arg)
{
    (void)arg;
    int x;
    CHECK_CIO(cio_observer_add(NULL, NULL), -EINVAL);
    CHECK_CIO(cio_observer_remove(NULL, NULL), -EINVAL);
    CHECK_CIO(cio_observer_remove(&empty_ops, NULL), -ENOENT);
    CHECK_CIO(cio_observer_add(&empty_ops, NULL), 0);
    CHECK_CIO(cio_observer_add(&empty_ops, NULL), -EINVAL);
    CHECK_CIO(cio_observer_add(&empty_ops, &x), 0);
    CHECK_CIO(cio_observer_remove(&empty_ops, &x), 0);
    CHECK_CIO(cio_observer_remove(&empty_ops, &x), -ENOENT);
    /* An empty table observes nothing, and tasks still run under it. */
    cio_task *t = cio_create_task(sleep_briefly, NULL);
    CHECK(t && cio_await(t) == 7);
    /* Left added: the loop drops it when it closes. */
    return 0;
}

static void test_bad_input_is_refused(void **state)
{
    (void)state;
    static const cio_observer ops = {0};
    assert_cio(cio_observer_add(&ops, NULL), -EPERM);
    assert_cio(cio_observer_remove(&ops, NULL), -EPERM);
    assert_cio(cio_observer_add(NULL, NULL), -EINVAL);
    run_ok(bad_input_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_task_life_emits_its_events_in_order),
        cmocka_unit_test(test_woken_names_the_waking_task),
        cmocka_unit_test(test_a_task_cancelled_before_it_ran_emits_never_ran),
        cmocka_unit_test(test_a_readable_descriptor_is_reported),
        cmocka_unit_test(test_several_observers_each_see_every_event_in_order),
        cmocka_unit_test(test_observers_added_and_removed_from_a_hook),
        cmocka_unit_test(test_trace_direct_keeps_direct_switches_and_their_events),
        cmocka_unit_test(test_bad_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
