/* SPDX-License-Identifier: MIT */
/* test_switch.c — the context switch (src/arch/switch-*): callee-saved
 * integer and floating-point registers survive switches between many tasks,
 * the rounding mode is per task, new tasks start with the default
 * floating-point environment and an aligned stack, deep recursion fits a
 * 256 KiB stack, and 10,000 tasks interleave. Run at -O0 and -O2, on every
 * architecture file and on the ucontext fallback.
 *
 * Failures inside tasks are recorded (EXPECT / REQUIRE), not asserted:
 * cmocka reports a failure with longjmp, which must not leave a task's
 * stack. Each test asserts the record once cio_run has returned.
 */
#define _GNU_SOURCE
#include <fenv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"

/* Creates n tasks running fn(args[i]) (args may be NULL), gathers them and
 * checks that each returned 0. */
static int spawn_and_gather(int n, cio_fn fn, void *const *args, const cio_task_opts *opts)
{
    cio_task **tasks = calloc((size_t)n, sizeof *tasks);
    int *results = calloc((size_t)n, sizeof *results);
    REQUIRE(tasks && results);
    for (int i = 0; i < n; i++) {
        tasks[i] = cio_create_task_opts(fn, args ? args[i] : NULL, opts);
        REQUIRE(tasks[i] != NULL);
    }
    int r = cio_gather(tasks, (size_t)n, results);
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += results[i] != 0;
    free(tasks);
    free(results);
    REQUIRE_CIO(r, 0);
    REQUIRE(bad == 0);
    return 0;
}

/* ----------------------------------------- callee-saved registers survive */

/* Enough live integer and double values across every cio_yield that the
 * compiler must keep many of them in callee-saved registers (x86-64: rbx,
 * rbp, r12-r15; AArch64: x19-x28 and d8-d15), and the rest in the frame.
 * Returns a checksum of everything; with yield_every == 0 it never yields,
 * which gives the value to compare with. */
static __attribute__((noinline)) uint64_t churn(uint64_t seed, int rounds, int yield_every,
                                                int *yield_errors)
{
    uint64_t a = seed, b = seed * 3 + 1, c = seed ^ 0x9E3779B97F4A7C15ull, d = seed + 7;
    uint64_t e = ~seed, f = seed << 3, g = seed * seed, h = seed | 0x1000;
    uint64_t i2 = seed >> 1, j = seed + 0xABCDEF, k = seed * 5, l = seed ^ 0x5555;
    double x0 = (double)(seed & 0xFFFF), x1 = 1.5, x2 = 2.25, x3 = (double)(seed % 97);
    double x4 = 0.125, x5 = 3.0, x6 = (double)(seed % 13) + 0.5, x7 = 7.75;
    for (int i = 0; i < rounds; i++) {
        if (yield_every && i % yield_every == 0 && cio_yield() != 0)
            ++*yield_errors;
        a += b ^ (uint64_t)i;
        b = (b << 7 | b >> 57) + c;
        c ^= d * 0x100000001B3ull;
        d += e >> 3;
        e = e * 6364136223846793005ull + f;
        f ^= g + (uint64_t)i;
        g += h ^ a;
        h = (h >> 5) + i2;
        i2 ^= j << 1;
        j += k + 1;
        k ^= l * 31;
        l += a >> 11;
        x0 = x0 * 0.5 + x1;
        x1 = x1 * 0.75 + x2 * 0.125;
        x2 = x2 * 0.5 + x3 * 0.0625 + (double)(i & 7);
        x3 = x3 * 0.875 + x4;
        x4 = x4 * 0.5 + x5 * 0.25;
        x5 = x5 * 0.625 + x6 * 0.125;
        x6 = x6 * 0.5 + x7 * 0.25 + 1.0;
        x7 = x7 * 0.75 + x0 * 0.125;
    }
    double xs[8] = {x0, x1, x2, x3, x4, x5, x6, x7};
    uint64_t sum = a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ i2 ^ j ^ k ^ l;
    for (int i = 0; i < 8; i++) {
        uint64_t bits;
        memcpy(&bits, &xs[i], sizeof bits);
        sum = sum * 1099511628211ull ^ bits;
    }
    return sum;
}

#define CHURN_TASKS 16
#define CHURN_ROUNDS 2000

typedef struct churn_job {
    uint64_t seed;
    int yield_every;
    uint64_t expected;
} churn_job;

static int churn_task(void *arg)
{
    churn_job *job = arg;
    int yield_errors = 0;
    uint64_t got = churn(job->seed, CHURN_ROUNDS, job->yield_every, &yield_errors);
    REQUIRE(yield_errors == 0);
    if (got != job->expected) {
        note_failure(__FILE__, __LINE__,
                     "seed %llu, yielding every %d: checksum %#llx, expected %#llx",
                     (unsigned long long)job->seed, job->yield_every, (unsigned long long)got,
                     (unsigned long long)job->expected);
        return -1000;
    }
    return 0;
}

static int main_churn(void *arg)
{
    churn_job *jobs = arg;
    void *args[CHURN_TASKS];
    for (int i = 0; i < CHURN_TASKS; i++)
        args[i] = &jobs[i];
    return spawn_and_gather(CHURN_TASKS, churn_task, args, NULL);
}

static void test_callee_saved_registers_survive_yields(void **state)
{
    (void)state;
    churn_job jobs[CHURN_TASKS];
    for (int i = 0; i < CHURN_TASKS; i++) {
        jobs[i].seed = 0x1234567ull * (uint64_t)(i + 1);
        /* Different periods, so that tasks switch to tasks in different
         * states, both directly and through the loop. */
        jobs[i].yield_every = 1 + i % 4;
        int unused = 0;
        jobs[i].expected = churn(jobs[i].seed, CHURN_ROUNDS, 0, &unused);
    }
    run_ok(main_churn, jobs);
}

/* ------------------------------------------------- floating-point modes */

/* 1/3 in each rounding mode, computed on the test's own stack. */
static double third_in[4];
static const int modes[4] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};

static double third(void)
{
    volatile double one = 1.0, three = 3.0;
    return one / three;
}

/* Checks both the mode the C library reports (on x86-64, glibc reads the
 * x87 control word) and the mode SSE / the FPU actually rounds with. */
static bool rounding_is(int m)
{
    if (fegetround() != modes[m])
        return false;
    return third() == third_in[m];
}

static int child_sees_default(void *arg)
{
    (void)arg;
    REQUIRE(rounding_is(0));
    return 0;
}

static int mode_task(void *arg)
{
    int m = (int)(intptr_t)arg;
    REQUIRE(rounding_is(0));
    REQUIRE(fesetround(modes[m]) == 0);
    for (int i = 0; i < 200; i++) {
        REQUIRE_CIO(cio_yield(), 0);
        REQUIRE(rounding_is(m));
        if (i == 100) {
            /* A task created (and so prepared) while this one runs in
             * mode m still starts with the default environment. */
            cio_task *child = cio_create_task(child_sees_default, NULL);
            REQUIRE(child != NULL);
            REQUIRE_CIO(cio_await(child), 0);
            REQUIRE(rounding_is(m));
        }
    }
    /* Leave the mode set: the loop and the other tasks must not see it. */
    return 0;
}

static int main_rounding(void *arg)
{
    (void)arg;
    /* cio_run was called in FE_DOWNWARD; the first task starts in the
     * default mode all the same. */
    REQUIRE(rounding_is(0));
    void *args[8];
    for (int i = 0; i < 8; i++)
        args[i] = (void *)(intptr_t)(i % 4);
    REQUIRE(spawn_and_gather(8, mode_task, args, NULL) == 0);
    REQUIRE(rounding_is(0));
    return 0;
}

static void test_rounding_mode_is_per_task(void **state)
{
    (void)state;
    for (int m = 0; m < 4; m++) {
        assert_int_equal(fesetround(modes[m]), 0);
        third_in[m] = third();
    }
    assert_true(third_in[1] > third_in[0] || third_in[2] < third_in[0]);
    assert_int_equal(fesetround(FE_DOWNWARD), 0);
    run_ok(main_rounding, NULL);
    /* The thread running the loop gets its own mode back. */
    int after = fegetround();
    double third_after = third();
    fesetround(FE_TONEAREST);
    assert_int_equal(after, FE_DOWNWARD);
    assert_true(third_after == third_in[2]);
}

/* ------------------------------------------------------ stack alignment */

/* A frame address must be 16-byte aligned in a new task, and printf of a
 * double (which uses aligned SSE stores on x86-64) must work there. */
static __attribute__((noinline)) bool frame_aligned(void)
{
    return ((uintptr_t)__builtin_frame_address(0) & 15) == 0;
}

static int aligned_task(void *arg)
{
    (void)arg;
    REQUIRE(frame_aligned());
    char text[64];
    long double ld = 2.5L;
    snprintf(text, sizeof text, "%.3f %.1Lf", 3.25, ld);
    REQUIRE(strcmp(text, "3.250 2.5") == 0);
    REQUIRE_CIO(cio_yield(), 0);
    REQUIRE(frame_aligned());
    return 0;
}

static int main_alignment(void *arg)
{
    (void)arg;
    /* Small stacks are packed with a canary between them, large ones
     * start staggered per slot: every layout must give an aligned frame.
     * (8 KiB, not less: snprintf of a long double takes a few KiB, and the
     * ucontext fallback another 2 KiB.) */
    static const size_t sizes[] = {0, 8 * 1024, 16 * 1024, 100 * 1024 + 512};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        cio_task_opts opts = {.stack_size = sizes[s]};
        REQUIRE(spawn_and_gather(9, aligned_task, NULL, &opts) == 0);
    }
    return 0;
}

static void test_new_task_stack_is_aligned(void **state)
{
    (void)state;
    run_ok(main_alignment, NULL);
}

/* ---------------------------------------------------- deep recursion */

/* About 1.1 KiB a level, so DEPTH levels take some 200 KiB of a 256 KiB
 * stack (sanitizer frames are larger, and their stacks are at least 256
 * KiB too). Each level yields now and then and checks afterwards that its
 * frame is intact, so switches happen deep in the stack while other tasks
 * run deep in theirs. */
#define DEPTH 170
#define FRAME_BYTES 1024

static __attribute__((noinline)) long recurse(int depth, int salt, int *broken)
{
    volatile unsigned char frame[FRAME_BYTES];
    for (int i = 0; i < FRAME_BYTES; i++)
        frame[i] = (unsigned char)(depth * 31 + i + salt);
    if (depth % 8 == 0 && cio_yield() != 0)
        ++*broken;
    long below = depth < DEPTH ? recurse(depth + 1, salt, broken) : 0;
    if (depth % 8 == 4 && cio_yield() != 0)
        ++*broken;
    long sum = 0;
    for (int i = 0; i < FRAME_BYTES; i++) {
        if (frame[i] != (unsigned char)(depth * 31 + i + salt))
            ++*broken;
        sum += frame[i];
    }
    return sum + below;
}

static int deep_task(void *arg)
{
    int salt = (int)(intptr_t)arg;
    int broken = 0;
    long got = recurse(0, salt, &broken);
    long want = 0;
    for (int depth = 0; depth <= DEPTH; depth++)
        for (int i = 0; i < FRAME_BYTES; i++)
            want += (unsigned char)(depth * 31 + i + salt);
    REQUIRE(broken == 0);
    REQUIRE(got == want);
    return 0;
}

static int main_deep(void *arg)
{
    (void)arg;
    cio_task_opts opts = {.stack_size = 256 * 1024};
    void *args[4];
    for (int i = 0; i < 4; i++)
        args[i] = (void *)(intptr_t)(i * 17);
    return spawn_and_gather(4, deep_task, args, &opts);
}

static void test_deep_recursion_on_256k_stack(void **state)
{
    (void)state;
    run_ok(main_deep, NULL);
}

/* ------------------------------------------------- 10,000 tasks interleave */

#define MANY 10000
#define MANY_ROUNDS 5

static long many_progress;

static int many_task(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    /* A little state of its own on its stack, checked after every switch. */
    uintptr_t mine[8];
    for (int i = 0; i < 8; i++)
        mine[i] = id * 8 + (uintptr_t)i;
    for (int round = 0; round < MANY_ROUNDS; round++) {
        long before = ++many_progress;
        REQUIRE_CIO(cio_yield(), 0);
        /* Every other ready task ran once meanwhile (in the last round,
         * the others may all have finished already). */
        REQUIRE(round == MANY_ROUNDS - 1 || many_progress > before);
        for (int i = 0; i < 8; i++)
            REQUIRE(mine[i] == id * 8 + (uintptr_t)i);
    }
    return 0;
}

static int main_many(void *arg)
{
    (void)arg;
    void **args = malloc(MANY * sizeof *args);
    REQUIRE(args != NULL);
    for (uintptr_t i = 0; i < MANY; i++)
        args[i] = (void *)i;
    many_progress = 0;
    int r = spawn_and_gather(MANY, many_task, args, NULL);
    free(args);
    REQUIRE(r == 0);
    REQUIRE(many_progress == (long)MANY * MANY_ROUNDS);
    return 0;
}

static void test_ten_thousand_tasks_interleave(void **state)
{
    (void)state;
    run_ok(main_many, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callee_saved_registers_survive_yields),
        cmocka_unit_test(test_rounding_mode_is_per_task),
        cmocka_unit_test(test_new_task_stack_is_aligned),
        cmocka_unit_test(test_deep_recursion_on_256k_stack),
        cmocka_unit_test(test_ten_thousand_tasks_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
