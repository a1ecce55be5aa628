/* SPDX-License-Identifier: MIT */
/* test_stack.c — task stacks: an overflow is caught and named (at once
 * with a guard page, at the next switch with a canary), and each task has
 * its own floating-point control state.
 *
 * The overflow scenarios run in a fresh process: the test re-executes its
 * own binary with the scenario's name. A fork alone would not do: cmocka
 * puts its own SIGSEGV handler back after every test, replacing the one
 * the library installs once per process, and a handler that is not on an
 * alternate stack cannot run on an overflowed stack.
 *
 * Assertions inside tasks do not use cmocka directly (a failing one would
 * longjmp off the task's stack); tasks record what they saw and the test
 * function checks it once cio_run has returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fenv.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#if defined(ASAN_BUILD) || defined(TSAN_BUILD)
#define SANITIZED 1
#endif

/* ----------------------------------------------------------- scenarios */

/* Sanitizer builds own SIGSEGV and raise every stack to 256 KiB: the
 * overflow scenarios do not apply there. */
#ifndef SANITIZED

/* Recurses until its frames lie below `limit`, then unwinds. */
static int recurse_below(uintptr_t limit, int depth)
{
    volatile char frame[128];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (char)depth;
    if ((uintptr_t)frame <= limit)
        return frame[0];
    return recurse_below(limit, depth + 1) + frame[sizeof frame - 1];
}

static int deep_body(void *arg)
{
    (void)arg;
    /* 100000 frames of half a KiB: far past any 64 KiB stack. */
    int r = recurse_deep(100000);
    say("survived the recursion\n");
    return r;
}

static int tiny_body(void *arg)
{
    (void)arg;
    volatile char anchor = 0;
    /* 1 KiB further down than the whole stack (2 KiB asked, more where the
     * build raises the minimum) is below its bottom: through the canary,
     * into memory of the same mapping. */
    size_t size = cio_task_stack_size(cio_current_task());
    int r = recurse_below((uintptr_t)&anchor - size - 1024, 0) + anchor;
    say("recursion returned\n");
    cio_yield(); /* the next switch: the canary is checked here */
    say("survived the switch\n");
    return r;
}

static int overflow_main(void *arg)
{
    const cio_task_opts *opts = arg;
    cio_task *t =
        cio_create_task_opts(opts->stack_size == 64 * 1024 ? deep_body : tiny_body, NULL, opts);
    return cio_await(t);
}

static int run_scenario(const char *name)
{
    if (strcmp(name, "overflow-guarded") == 0)
        return cio_run(overflow_main, &(cio_task_opts){.name = "deep64", .stack_size = 64 * 1024});
    if (strcmp(name, "overflow-canary") == 0)
        return cio_run(overflow_main, &(cio_task_opts){.name = "tiny", .stack_size = 2048});
    fprintf(stderr, "unknown scenario %s\n", name);
    return 2;
}

/* The number after "stack size " in the report, or 0. */
static unsigned long reported_stack_size(const char *err)
{
    const char *p = strstr(err, "stack size ");
    return p ? strtoul(p + strlen("stack size "), NULL, 10) : 0;
}

#endif /* !SANITIZED */

/* ------------------------------------------------------------ overflow */

static void test_overflow_into_guard_page_is_reported(void **state)
{
    (void)state;
#ifdef SANITIZED
    print_message("skipped: stack overflow reports are not available in sanitizer builds\n");
#else
    child_result r;
    run_self_child("test_stack", "overflow-guarded", &r);
    assert_child_aborted(&r, "stack overflow in task 'deep64'");
    assert_true(strstr(r.err, "stack size 65536") != NULL);
    assert_null(strstr(r.err, "survived"));
#endif
}

static void test_overflow_past_canary_is_reported_at_next_switch(void **state)
{
    (void)state;
#ifdef SANITIZED
    print_message("skipped: stack overflow reports are not available in sanitizer builds\n");
#else
    child_result r;
    run_self_child("test_stack", "overflow-canary", &r);
    assert_child_aborted(&r, "stack overflow in task 'tiny'");
    /* Caught at the switch, not before it and not after it. */
    assert_non_null(strstr(r.err, "recursion returned"));
    assert_null(strstr(r.err, "survived the switch"));
    /* The size reported is the task's small stack, not the default: 2 KiB,
     * or the minimum of a ucontext build (well under the default). */
    unsigned long size = reported_stack_size(r.err);
    if (size < 2048 || size >= CIO_DEFAULT_STACK_SIZE)
        fail_msg("reported stack size %lu, expected a small stack:\n%s", size, r.err);
#endif
}

/* ---------------------------------------------- floating-point state */

/* Divisions at run time (volatile operands), in the current rounding
 * mode. To nearest, 1/3 rounds down and 1/10 rounds up: upward rounding
 * shows in the first, downward in the second. */
static double one_third(void)
{
    volatile double one = 1.0, three = 3.0;
    return one / three;
}

static double one_tenth(void)
{
    volatile double one = 1.0, ten = 10.0;
    return one / ten;
}

typedef struct fp_seen {
    int set_result;
    int up_after_yield, up_after_sleep;
    double up_third;
    int observer_at_start;
    int down_after_yield;
    double down_tenth;
    int main_after;
    double main_third, main_tenth;
} fp_seen;

static int upward_body(void *arg)
{
    fp_seen *s = arg;
    s->set_result = fesetround(FE_UPWARD);
    cio_yield(); /* the observer runs meanwhile and sets its own mode */
    s->up_after_yield = fegetround();
    cio_sleep(0.005); /* back through the loop's context this time */
    s->up_after_sleep = fegetround();
    s->up_third = one_third();
    return 0;
}

static int observer_body(void *arg)
{
    fp_seen *s = arg;
    /* First run, switched to directly from the upward task. */
    s->observer_at_start = fegetround();
    fesetround(FE_DOWNWARD);
    cio_yield();
    s->down_after_yield = fegetround();
    s->down_tenth = one_tenth();
    return 0;
}

static int fp_main(void *arg)
{
    fp_seen *s = arg;
    cio_task *up = cio_create_task(upward_body, s);
    cio_task *obs = cio_create_task(observer_body, s);
    cio_await(up);
    cio_await(obs);
    s->main_after = fegetround();
    s->main_third = one_third();
    s->main_tenth = one_tenth();
    return 0;
}

static void test_rounding_mode_is_per_task(void **state)
{
    (void)state;
    fp_seen s;
    memset(&s, 0, sizeof s);
    s.set_result = -1;
    assert_int_equal(fegetround(), FE_TONEAREST);
    assert_cio(test_run(fp_main, &s), 0);
    assert_int_equal(s.set_result, 0);
    assert_int_equal(s.observer_at_start, FE_TONEAREST);
    assert_int_equal(s.up_after_yield, FE_UPWARD);
    assert_int_equal(s.up_after_sleep, FE_UPWARD);
    assert_int_equal(s.down_after_yield, FE_DOWNWARD);
    assert_int_equal(s.main_after, FE_TONEAREST);
    /* The modes really governed the SSE arithmetic, not just the x87
     * control word that fegetround reads. */
    assert_true(s.up_third > s.main_third);
    assert_true(s.down_tenth < s.main_tenth);
    assert_true(s.main_third == one_third());
    assert_true(s.main_tenth == one_tenth());
    /* The thread's own mode is as it was before the loop. */
    assert_int_equal(fegetround(), FE_TONEAREST);
}

/* A task that finishes while the next ready task has not started hands it
 * its stack (scheduler.c): the successor must start clean anyway. */
typedef struct handoff_seen {
    int successor_mode;
    double successor_third;
    int detached_ran;
} handoff_seen;

static int finish_rounding_upward(void *arg)
{
    (void)arg;
    /* Leave the stack dirty and the mode changed, then finish at once. */
    volatile char scribble[4096];
    for (size_t i = 0; i < sizeof scribble; i++)
        scribble[i] = (char)0xA5;
    fesetround(FE_UPWARD);
    return scribble[100] == (char)0xA5 ? 7 : -1;
}

static int successor_body(void *arg)
{
    handoff_seen *s = arg;
    s->successor_mode = fegetround();
    s->successor_third = one_third();
    return 3;
}

static int detached_body(void *arg)
{
    handoff_seen *s = arg;
    s->detached_ran++;
    return 0;
}

static int handoff_main(void *arg)
{
    handoff_seen *s = arg;
    /* A detached task finishing first: freed as it hands its stack on. */
    cio_detach(cio_create_task(detached_body, s));
    cio_task *first = cio_create_task(finish_rounding_upward, NULL);
    cio_task *second = cio_create_task(successor_body, s);
    cio_detach(cio_create_task(detached_body, s));
    cio_task *third = cio_create_task(successor_body, s);
    REQUIRE(first && second && third);
    CHECK_CIO(cio_await(first), 7);
    CHECK_CIO(cio_await(second), 3);
    CHECK_CIO(cio_await(third), 3);
    CHECK_CIO(cio_sleep(0), 0);
    return 0;
}

static void test_a_stack_handed_on_starts_clean(void **state)
{
    (void)state;
    handoff_seen s = {.successor_mode = -1};
    assert_cio(test_run(handoff_main, &s), 0);
    assert_int_equal(s.successor_mode, FE_TONEAREST);
    assert_true(s.successor_third == one_third());
    assert_int_equal(s.detached_ran, 2);
}

int main(int argc, char **argv)
{
#ifndef SANITIZED
    if (argc == 2)
        return run_scenario(argv[1]);
#else
    (void)argc;
    (void)argv;
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overflow_into_guard_page_is_reported),
        cmocka_unit_test(test_overflow_past_canary_is_reported_at_next_switch),
        cmocka_unit_test(test_rounding_mode_is_per_task),
        cmocka_unit_test(test_a_stack_handed_on_starts_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
