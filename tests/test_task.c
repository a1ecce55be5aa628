/* SPDX-License-Identifier: MIT */
/* test_task.c — the core semantics of tasks: create and await, scheduling
 * order, detach, names, sleep and yield, cancellation, a million tasks,
 * stack sizes, and every misuse the header promises to report.
 *
 * Assertions inside tasks do not use cmocka directly: a failing cmocka
 * assertion longjmps, which from a task's stack would leave the loop
 * half-run and break every later test. Tasks note the first failed check
 * instead, and the test function reports it once cio_run has returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* ------------------------------------------------------------ helpers */

static int count_run(void *arg)
{
    ++*(int *)arg;
    return 0;
}

/* ----------------------------------------------------- create and await */

static int await_results_main(void *arg)
{
    (void)arg;
    cio_task *a = cio_create_task(return_arg, (void *)(intptr_t)7);
    cio_task *b = cio_create_task(return_arg, (void *)(intptr_t)-EIO);
    cio_task *c = cio_create_task(return_arg, (void *)(intptr_t)0);
    CHECK(a && b && c);
    /* Awaited out of creation order: each await returns its own task's
     * result, negative ones included. */
    CHECK_CIO(cio_await(b), -EIO);
    CHECK_CIO(cio_await(a), 7);
    CHECK_CIO(cio_await(c), 0);
    /* A task whose body suspends before returning. */
    CHECK_CIO(cio_await(cio_create_task(sleep_ms, (void *)(intptr_t)5)), 0);
    return 0;
}

static void test_await_returns_results(void **state)
{
    (void)state;
    run_main(await_results_main, NULL, 0);
}

static int not_eager_main(void *arg)
{
    (void)arg;
    int ran = 0;
    cio_task *t = cio_create_task(count_run, &ran);
    CHECK(t != NULL);
    /* asyncio's default: creating schedules, it does not run. */
    CHECK(ran == 0);
    CHECK(!cio_task_done(t));
    for (volatile int i = 0; i < 100000; i++)
        ;
    CHECK(ran == 0); /* no amount of non-suspending work lets it run */
    CHECK_CIO(cio_yield(), 0);
    CHECK(ran == 1);
    CHECK(cio_task_done(t));
    CHECK_CIO(cio_await(t), 0);
    CHECK(ran == 1);
    return 0;
}

static void test_create_is_not_eager(void **state)
{
    (void)state;
    run_main(not_eager_main, NULL, 0);
}

/* A task that logs its letter `rounds` times, pausing between rounds. */
typedef struct stepper {
    order_log *log;
    char letter;
    int rounds;
    bool use_sleep0; /* pause with cio_sleep(0) instead of cio_yield() */
} stepper;

static int stepper_body(void *arg)
{
    stepper *s = arg;
    for (int i = 0; i < s->rounds; i++) {
        log_put(s->log, s->letter);
        if (i + 1 < s->rounds) {
            int r = s->use_sleep0 ? cio_sleep(0) : cio_yield();
            CHECK_CIO(r, 0);
        }
    }
    return 0;
}

typedef struct fifo_case {
    bool use_sleep0;
    order_log log;
} fifo_case;

static int fifo_main(void *arg)
{
    fifo_case *fc = arg;
    stepper s[5];
    cio_task *t[5];
    log_put(&fc->log, 'M');
    for (int i = 0; i < 5; i++) {
        s[i] = (stepper){&fc->log, (char)('a' + i), 2, fc->use_sleep0};
        t[i] = cio_create_task(stepper_body, &s[i]);
    }
    /* Ready: a b c d e. Main's pause puts it behind them; each of them
     * pauses once, which puts it behind main. */
    CHECK_CIO(fc->use_sleep0 ? cio_sleep(0) : cio_yield(), 0);
    log_put(&fc->log, 'M');
    for (int i = 0; i < 5; i++)
        CHECK_CIO(cio_await(t[i]), 0);
    return 0;
}

static void test_ready_tasks_run_fifo_with_yield(void **state)
{
    (void)state;
    fifo_case fc = {.use_sleep0 = false};
    run_main(fifo_main, &fc, 0);
    /* Every pause lets every other ready task run exactly once. */
    assert_string_equal(fc.log.buf, "MabcdeMabcde");
}

static void test_sleep0_lets_every_ready_task_run_once(void **state)
{
    (void)state;
    fifo_case fc = {.use_sleep0 = true};
    run_main(fifo_main, &fc, 0);
    assert_string_equal(fc.log.buf, "MabcdeMabcde");
}

typedef struct sleeper {
    order_log *log;
    char letter;
    double seconds;
} sleeper;

static int sleeper_body(void *arg)
{
    sleeper *s = arg;
    CHECK_CIO(cio_sleep(s->seconds), 0);
    log_put(s->log, s->letter);
    return 0;
}

static int sleep_order_main(void *arg)
{
    order_log *log = arg;
    /* 50 ms apart: a stall of the loop cannot reorder them. */
    sleeper s[3] = {{log, '0', 0.15}, {log, '1', 0.05}, {log, '2', 0.10}};
    cio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = cio_create_task(sleeper_body, &s[i]);
    for (int i = 0; i < 3; i++)
        CHECK_CIO(cio_await(t[i]), 0);

    /* A sleep lasts at least about as long as asked (generous bounds). */
    double start = cio_now();
    CHECK_CIO(cio_sleep(0.05), 0);
    double took = cio_now() - start;
    CHECK(took >= 0.045);
    CHECK(took < 5.0);
    return 0;
}

static void test_sleepers_wake_in_deadline_order(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(sleep_order_main, &log, 0);
    assert_string_equal(log.buf, "120");
}

static int await_finished_main(void *arg)
{
    (void)arg;
    cio_task *t = cio_create_task(return_arg, (void *)(intptr_t)11);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK(cio_task_done(t));
    /* Another task is ready now: if awaiting a finished task suspended,
     * it would run before cio_await returned. */
    int other_ran = 0;
    cio_task *other = cio_create_task(count_run, &other_ran);
    CHECK_CIO(cio_await(t), 11);
    CHECK(other_ran == 0);
    CHECK_CIO(cio_await(other), 0);
    CHECK(other_ran == 1);
    return 0;
}

static void test_await_finished_task_returns_at_once(void **state)
{
    (void)state;
    run_main(await_finished_main, NULL, 0);
}

/* ------------------------------------------------------------- detach */

typedef struct flag_after_sleep {
    double seconds;
    int sleep_result;
    int done;
} flag_after_sleep;

static int flag_after_sleep_body(void *arg)
{
    flag_after_sleep *f = arg;
    f->sleep_result = cio_sleep(f->seconds);
    f->done = 1;
    return 0;
}

static int detach_main(void *arg)
{
    (void)arg;
    /* Detached while running (parked in a sleep): it runs on to the end. */
    flag_after_sleep running = {.seconds = 0.02, .sleep_result = 1};
    cio_task *t = cio_create_task(flag_after_sleep_body, &running);
    CHECK_CIO(cio_yield(), 0);
    CHECK(!cio_task_done(t));
    cio_detach(t);
    CHECK(running.done == 0);

    /* Detached before it ever ran: it still runs. */
    flag_after_sleep fresh = {.seconds = 0.01, .sleep_result = 1};
    cio_detach(cio_create_task(flag_after_sleep_body, &fresh));

    /* Detached after it finished: freed at once, nothing else happens. */
    int finished_runs = 0;
    cio_task *f = cio_create_task(count_run, &finished_runs);
    CHECK_CIO(cio_yield(), 0);
    CHECK(cio_task_done(f));
    cio_detach(f);

    cio_detach(NULL); /* a no-op */

    CHECK_CIO(cio_sleep(0.06), 0);
    CHECK(running.done == 1);
    CHECK_CIO(running.sleep_result, 0);
    CHECK(fresh.done == 1);
    CHECK_CIO(fresh.sleep_result, 0);
    CHECK(finished_runs == 1);
    return 0;
}

static void test_detach_running_new_and_finished_tasks(void **state)
{
    (void)state;
    run_main(detach_main, NULL, 0);
}

static int yield_alone_main(void *arg)
{
    (void)arg;
    /* Nothing else is ready: each call just comes back. (A task once
     * switched to itself here, onto a stale stack pointer, and crashed.) */
    for (int i = 0; i < 1000; i++) {
        CHECK_CIO(cio_yield(), 0);
        CHECK_CIO(cio_sleep(0), 0);
    }
    /* A task that spins on yields must not starve the loop: timers still
     * fire, so the sleeper wakes while main never sleeps. */
    flag_after_sleep f = {.seconds = 0.02, .sleep_result = 1};
    cio_task *t = cio_create_task(flag_after_sleep_body, &f);
    double give_up = cio_now() + 5;
    while (!f.done && cio_now() < give_up)
        CHECK_CIO(cio_yield(), 0);
    CHECK(f.done == 1);
    CHECK_CIO(f.sleep_result, 0);
    CHECK_CIO(cio_await(t), 0);
    return 0;
}

static void test_yield_with_nothing_else_ready(void **state)
{
    (void)state;
    run_main(yield_alone_main, NULL, 0);
}

/* ------------------------------------------- done, current task, names */

static int task_done_main(void *arg)
{
    (void)arg;
    CHECK(!cio_task_done(NULL));
    cio_task *t = cio_create_task(sleep_ms, (void *)(intptr_t)20);
    CHECK(!cio_task_done(t)); /* created, not started */
    CHECK_CIO(cio_yield(), 0);
    CHECK(!cio_task_done(t)); /* started, parked in its sleep */
    CHECK_CIO(cio_sleep(0.05), 0);
    CHECK(cio_task_done(t)); /* returned */
    CHECK_CIO(cio_await(t), 0);

    int ran = 0;
    cio_task *c = cio_create_task(count_run, &ran);
    CHECK_CIO(cio_cancel(c), 0);
    CHECK_CIO(cio_yield(), 0);
    CHECK(cio_task_done(c)); /* cancelled before it ran: done without running */
    CHECK(ran == 0);
    CHECK_CIO(cio_await(c), -ECANCELED);
    return 0;
}

static void test_task_done(void **state)
{
    (void)state;
    run_main(task_done_main, NULL, 0);
}

typedef struct current_seen {
    cio_task *in_task;
    cio_task *in_callback;
    bool callback_ran;
} current_seen;

static int record_current(void *arg)
{
    ((current_seen *)arg)->in_task = cio_current_task();
    return 0;
}

static void record_current_cb(void *arg)
{
    current_seen *s = arg;
    s->in_callback = cio_current_task();
    s->callback_ran = true;
}

static int current_task_main(void *arg)
{
    (void)arg;
    cio_task *self = cio_current_task();
    CHECK(self != NULL);
    if (self)
        CHECK(strcmp(cio_task_name(self), "main") == 0);
    current_seen seen = {.in_callback = self};
    cio_task *t = cio_create_task(record_current, &seen);
    cio_call_soon(record_current_cb, &seen);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK(seen.in_task == t);
    CHECK(seen.callback_ran);
    CHECK(seen.in_callback == NULL); /* callbacks run on the loop, in no task */
    CHECK(cio_current_task() == self);
    CHECK_CIO(cio_await(t), 0);
    return 0;
}

static void test_current_task(void **state)
{
    (void)state;
    assert_null(cio_current_task());
    run_main(current_task_main, NULL, 0);
    assert_null(cio_current_task());
}

static int record_own_name(void *arg)
{
    const char *name = cio_task_name(cio_current_task());
    snprintf(arg, 32, "%s", name ? name : "(null)");
    return 0;
}

static bool is_default_name(const char *name)
{
    if (!name || strncmp(name, "task-", 5) != 0 || name[5] == '\0')
        return false;
    for (const char *p = name + 5; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
    }
    return true;
}

static int task_name_main(void *arg)
{
    (void)arg;
    char given[16] = "worker";
    char seen_inside[32] = "";
    cio_task *named =
        cio_create_task_opts(record_own_name, seen_inside, &(cio_task_opts){.name = given});
    /* The name is copied: changing the caller's buffer changes nothing. */
    strcpy(given, "changed");
    CHECK(named && strcmp(cio_task_name(named), "worker") == 0);

    cio_task *d1 = cio_create_task(return_arg, NULL);
    cio_task *d2 = cio_create_task_opts(return_arg, NULL, &(cio_task_opts){.name = NULL});
    const char *n1 = cio_task_name(d1);
    const char *n2 = cio_task_name(d2);
    CHECK(is_default_name(n1));
    CHECK(is_default_name(n2));
    CHECK(n1 && n2 && strcmp(n1, n2) != 0);
    CHECK(cio_task_name(NULL) == NULL);

    CHECK_CIO(cio_await(named), 0);
    CHECK(strcmp(seen_inside, "worker") == 0);
    CHECK_CIO(cio_await(d1), 0);
    CHECK_CIO(cio_await(d2), 0);
    return 0;
}

static void test_task_names(void **state)
{
    (void)state;
    run_main(task_name_main, NULL, 0);
}

/* -------------------------------------------------------- cancellation */

typedef struct ignorer {
    int first, second, third;
    double second_took;
} ignorer;

/* Ignores -ECANCELED and carries on suspending. */
static int ignore_cancel_body(void *arg)
{
    ignorer *g = arg;
    g->first = cio_sleep(10);
    double start = cio_now();
    g->second = cio_sleep(10);
    g->second_took = cio_now() - start;
    g->third = cio_yield();
    return 7;
}

static int level_triggered_main(void *arg)
{
    (void)arg;
    ignorer g = {1, 1, 1, -1};
    double start = cio_now();
    cio_task *t = cio_create_task(ignore_cancel_body, &g);
    CHECK_CIO(cio_yield(), 0); /* let it park in its first sleep */
    CHECK_CIO(cio_cancel(t), 0);
    CHECK_CIO(cio_cancel(t), 0); /* cancelling twice is harmless */
    /* The task chose to return 7 despite the cancel: that is its result. */
    CHECK_CIO(cio_await(t), 7);
    CHECK_CIO(g.first, -ECANCELED);
    CHECK_CIO(g.second, -ECANCELED);
    CHECK_CIO(g.third, -ECANCELED);
    CHECK(g.second_took >= 0 && g.second_took < 1.0); /* at once, not after 10 s */
    CHECK(cio_now() - start < 5.0);
    return 0;
}

static void test_cancel_is_level_triggered(void **state)
{
    (void)state;
    run_main(level_triggered_main, NULL, 0);
}

static int cancel_before_run_main(void *arg)
{
    (void)arg;
    int ran = 0;
    cio_task *t = cio_create_task(count_run, &ran);
    CHECK_CIO(cio_cancel(t), 0);
    CHECK_CIO(cio_await(t), -ECANCELED);
    CHECK(ran == 0); /* asyncio: a task cancelled before it starts never runs */
    return 0;
}

static void test_cancel_before_first_run(void **state)
{
    (void)state;
    run_main(cancel_before_run_main, NULL, 0);
}

typedef struct self_cancel {
    int cancel_result;
    bool done_after_cancel;
    bool work_after_cancel;
    int sleep_result;
    int yield_result;
} self_cancel;

static int cancel_self_body(void *arg)
{
    self_cancel *s = arg;
    s->cancel_result = cio_cancel(cio_current_task());
    s->done_after_cancel = cio_task_done(cio_current_task());
    s->work_after_cancel = true; /* non-suspending code runs on */
    s->sleep_result = cio_sleep(0.01);
    s->yield_result = cio_yield();
    return -ECANCELED;
}

static int cancel_self_main(void *arg)
{
    (void)arg;
    self_cancel s = {1, true, false, 1, 1};
    cio_task *t = cio_create_task(cancel_self_body, &s);
    CHECK_CIO(cio_await(t), -ECANCELED);
    CHECK_CIO(s.cancel_result, 0);
    CHECK(!s.done_after_cancel);
    CHECK(s.work_after_cancel);
    CHECK_CIO(s.sleep_result, -ECANCELED);
    CHECK_CIO(s.yield_result, -ECANCELED);
    return 0;
}

static void test_cancel_self(void **state)
{
    (void)state;
    run_main(cancel_self_main, NULL, 0);
}

static int cancel_finished_main(void *arg)
{
    (void)arg;
    CHECK_CIO(cio_cancel(NULL), -EINVAL);
    cio_task *t = cio_create_task(return_arg, (void *)(intptr_t)3);
    CHECK_CIO(cio_yield(), 0);
    CHECK(cio_task_done(t));
    CHECK_CIO(cio_cancel(t), -EALREADY);
    /* The late cancel changed nothing: the result is the body's. */
    CHECK_CIO(cio_await(t), 3);
    return 0;
}

static void test_cancel_finished_task_is_ealready(void **state)
{
    (void)state;
    run_main(cancel_finished_main, NULL, 0);
}

typedef struct chain {
    int child_sleep;    /* what the child's long sleep returned */
    int child_cleanup;  /* what its shielded cleanup sleep returned */
    int child_finished; /* set as the child's last act */
    int await_result;   /* what the awaiter's cio_await returned */
    int finished_when_await_returned;
} chain;

static int chain_child(void *arg)
{
    chain *c = arg;
    c->child_sleep = cio_sleep(10);
    /* Slow cleanup, so that an await returning before the child finished
     * would be seen. */
    cio_shield sh;
    cio_shield_enter(&sh);
    c->child_cleanup = cio_sleep(0.03);
    cio_shield_exit(&sh);
    c->child_finished = 1;
    return 5;
}

static int chain_awaiter(void *arg)
{
    chain *c = arg;
    cio_task *child = cio_create_task(chain_child, c);
    c->await_result = cio_await(child);
    c->finished_when_await_returned = c->child_finished;
    return c->await_result;
}

static int awaiter_cancelled_main(void *arg)
{
    (void)arg;
    chain c = {1, 1, 0, 1, 0};
    double start = cio_now();
    cio_task *w = cio_create_task(chain_awaiter, &c);
    CHECK_CIO(cio_sleep(0.01), 0); /* the awaiter awaits, the child sleeps */
    CHECK(!cio_task_done(w));
    CHECK_CIO(cio_cancel(w), 0);
    CHECK_CIO(cio_await(w), -ECANCELED);
    CHECK_CIO(c.await_result, -ECANCELED);
    CHECK_CIO(c.child_sleep, -ECANCELED); /* the child was cancelled too */
    CHECK_CIO(c.child_cleanup, 0);
    CHECK(c.finished_when_await_returned == 1); /* and awaited to its end */
    CHECK(cio_now() - start >= 0.03);
    CHECK(cio_now() - start < 5.0);
    return 0;
}

static void test_cancelled_awaiter_cancels_and_waits_for_awaited(void **state)
{
    (void)state;
    run_main(awaiter_cancelled_main, NULL, 0);
}

/* ---------------------------------------------------- a million tasks */

/* Sanitizer builds raise every stack to 256 KiB and shadow it: a tenth of
 * the tasks is enough under ASan. ThreadSanitizer gives every task a fiber
 * and dies past about 8000 of them at once. */
#if defined(TSAN_BUILD)
#define MANY_TASKS 4000
#elif defined(ASAN_BUILD)
#define MANY_TASKS 100000
#else
#define MANY_TASKS 1000000
#endif

static int many_body(void *arg)
{
    int err = cio_sleep(0.05);
    return err ? err : (int)((intptr_t)arg % 1000);
}

typedef struct many_result {
    long long sum;
    long long failures;
    double took;
} many_result;

static int many_main(void *arg)
{
    many_result *m = arg;
    cio_task **t = malloc(sizeof *t * MANY_TASKS);
    CHECK(t != NULL);
    if (!t)
        return -ENOMEM;
    double start = cio_now();
    for (intptr_t i = 0; i < MANY_TASKS; i++) {
        t[i] = cio_create_task(many_body, (void *)i);
        if (!t[i]) {
            note_failure(__FILE__, __LINE__, "cio_create_task failed at task %ld: %s", (long)i,
                         strerror(errno));
            /* Let the ones already made finish, so the loop closes clean. */
            for (intptr_t j = 0; j < i; j++)
                cio_await(t[j]);
            free(t);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < MANY_TASKS; i++) {
        int r = cio_await(t[i]);
        if (r < 0)
            m->failures++;
        else
            m->sum += r;
    }
    m->took = cio_now() - start;
    free(t);
    return 0;
}

static void test_a_million_concurrent_tasks(void **state)
{
    (void)state;
    many_result m = {0, 0, 0};
    run_main(many_main, &m, 0);
    assert_int_equal(m.failures, 0);
    /* Each task returns i % 1000: every full thousand sums to 499500. */
    assert_int_equal(m.sum, (long long)(MANY_TASKS / 1000) * 499500);
    /* All slept at once: one after another would take hours. */
    assert_true(m.took >= 0.045);
    assert_true(m.took < 60.0);
}

/* ------------------------------------------------------------- stacks */

/* Uses a few hundred bytes of its stack, suspends, and returns 42. */
static int small_stack_body(void *arg)
{
    /* signed: plain char is unsigned on AArch64, and the sum below counts
     * on the values wrapping the same way everywhere. */
    volatile signed char buf[256];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (signed char)i;
    int err = cio_sleep(0.001);
    if (err)
        return err;
    int sum = 0;
    for (size_t i = 0; i < sizeof buf; i++)
        sum += buf[i];
    /* 0 + 1 + ... + 127 - 128 - ... - 1 as signed chars = -128. */
    return sum == -128 ? 42 : -EFAULT;
}

static int stack_size_main(void *arg)
{
    (void)arg;
    /* The smallest honoured size, a request below it (raised to it), and
     * sizes that are not multiples of 1 KiB. */
    size_t sizes[] = {2048, 1, 3000, 2 * 1024 * 1024};
    cio_task *t[4 * 8];
    for (size_t i = 0; i < 4 * 8; i++)
        t[i] = cio_create_task_opts(small_stack_body, NULL,
                                    &(cio_task_opts){.stack_size = sizes[i % 4]});
    for (size_t i = 0; i < 4 * 8; i++) {
        CHECK(t[i] != NULL);
        CHECK_CIO(cio_await(t[i]), 42);
    }
    return 0;
}

static void test_stack_size_option_is_honoured(void **state)
{
    (void)state;
    run_main(stack_size_main, NULL, 0);
}

/* ------------------------------------------------------------ misuse */

typedef struct in_callback {
    cio_task *t;
    int await_result, sleep_result, yield_result;
    bool ran;
} in_callback;

static void suspend_in_callback(void *arg)
{
    in_callback *c = arg;
    c->await_result = cio_await(c->t);
    c->sleep_result = cio_sleep(0.01);
    c->yield_result = cio_yield();
    c->ran = true;
}

static int await_self_body(void *arg)
{
    (void)arg;
    return cio_await(cio_current_task());
}

typedef struct second_awaiter {
    cio_task *target;
    int result;
} second_awaiter;

static int await_target(void *arg)
{
    second_awaiter *s = arg;
    s->result = cio_await(s->target);
    return 0;
}

static int bad_input_main(void *arg)
{
    (void)arg;
    errno = 0;
    CHECK(cio_create_task(NULL, NULL) == NULL);
    CHECK_CIO(errno, EINVAL);
    errno = 0;
    CHECK(cio_create_task_opts(NULL, NULL, &(cio_task_opts){.name = "x"}) == NULL);
    CHECK_CIO(errno, EINVAL);

    CHECK_CIO(cio_await(NULL), -EINVAL);
    CHECK_CIO(cio_await(cio_current_task()), -EDEADLK);
    CHECK_CIO(cio_await(cio_create_task(await_self_body, NULL)), -EDEADLK);

    CHECK_CIO(cio_sleep(-1), -EINVAL);
    CHECK_CIO(cio_sleep(-0.001), -EINVAL);
    CHECK_CIO(cio_sleep(NAN), -EINVAL);
    CHECK_CIO(cio_sleep(-INFINITY), -EINVAL);

    /* Awaiting from a callback: no task to suspend. The handle is left
     * alone, so it can be awaited normally afterwards. */
    in_callback cb = {.t = cio_create_task(return_arg, (void *)(intptr_t)8)};
    cio_call_soon(suspend_in_callback, &cb);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK(cb.ran);
    CHECK_CIO(cb.await_result, -EPERM);
    CHECK_CIO(cb.sleep_result, -EPERM);
    CHECK_CIO(cb.yield_result, -EPERM);
    CHECK_CIO(cio_await(cb.t), 8);

    /* Two awaiters of one task: the second is refused and nothing changes
     * for the first. */
    second_awaiter first = {.target = cio_create_task(sleep_ms, (void *)(intptr_t)20), .result = 1};
    cio_task *a = cio_create_task(await_target, &first);
    CHECK_CIO(cio_yield(), 0); /* a now awaits the target */
    CHECK_CIO(cio_await(first.target), -EBUSY);
    CHECK_CIO(cio_await(a), 0);
    CHECK_CIO(first.result, 0);
    return 0;
}

static void test_bad_input(void **state)
{
    (void)state;
    /* No loop on this thread: nothing can be created or suspended. */
    errno = 0;
    assert_null(cio_create_task(return_arg, NULL));
    assert_int_equal(errno, EPERM);
    errno = 0;
    assert_null(cio_create_task_opts(return_arg, NULL, NULL));
    assert_int_equal(errno, EPERM);
    assert_cio(cio_sleep(0.01), -EPERM);
    assert_cio(cio_sleep(0), -EPERM);
    assert_cio(cio_yield(), -EPERM);
    assert_cio(cio_await(NULL), -EINVAL);
    run_main(bad_input_main, NULL, 0);
}

static int await_twice_main(void *arg)
{
    (void)arg;
    cio_task *t = cio_create_task(return_arg, NULL);
    cio_await(t);
    cio_await(t); /* released: must abort */
    return 0;
}

static int detach_after_await_main(void *arg)
{
    (void)arg;
    cio_task *t = cio_create_task(return_arg, NULL);
    cio_await(t);
    cio_detach(t); /* released: must abort */
    return 0;
}

static int cancel_after_await_main(void *arg)
{
    (void)arg;
    cio_task *t = cio_create_task(return_arg, NULL);
    cio_await(t);
    cio_cancel(t); /* released: must abort */
    return 0;
}

static void child_await_twice(void) { cio_run(await_twice_main, NULL); }
static void child_detach_after_await(void) { cio_run(detach_after_await_main, NULL); }
static void child_cancel_after_await(void) { cio_run(cancel_after_await_main, NULL); }

static void test_released_handle_aborts_in_await(void **state)
{
    (void)state;
    child_result r;
    run_child(child_await_twice, &r);
    assert_child_aborted(&r, "cio_await: the task handle was already released");
}

static void test_released_handle_aborts_in_detach(void **state)
{
    (void)state;
    child_result r;
    run_child(child_detach_after_await, &r);
    assert_child_aborted(&r, "cio_detach: the task handle was already released");
}

static void test_released_handle_aborts_in_cancel(void **state)
{
    (void)state;
    child_result r;
    run_child(child_cancel_after_await, &r);
    assert_child_aborted(&r, "cio_cancel: the task handle was already released");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_await_returns_results),
        cmocka_unit_test(test_create_is_not_eager),
        cmocka_unit_test(test_ready_tasks_run_fifo_with_yield),
        cmocka_unit_test(test_sleep0_lets_every_ready_task_run_once),
        cmocka_unit_test(test_sleepers_wake_in_deadline_order),
        cmocka_unit_test(test_await_finished_task_returns_at_once),
        cmocka_unit_test(test_detach_running_new_and_finished_tasks),
        cmocka_unit_test(test_yield_with_nothing_else_ready),
        cmocka_unit_test(test_task_done),
        cmocka_unit_test(test_current_task),
        cmocka_unit_test(test_task_names),
        cmocka_unit_test(test_cancel_is_level_triggered),
        cmocka_unit_test(test_cancel_before_first_run),
        cmocka_unit_test(test_cancel_self),
        cmocka_unit_test(test_cancel_finished_task_is_ealready),
        cmocka_unit_test(test_cancelled_awaiter_cancels_and_waits_for_awaited),
        cmocka_unit_test(test_a_million_concurrent_tasks),
        cmocka_unit_test(test_stack_size_option_is_honoured),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_released_handle_aborts_in_await),
        cmocka_unit_test(test_released_handle_aborts_in_detach),
        cmocka_unit_test(test_released_handle_aborts_in_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
