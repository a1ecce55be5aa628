/* SPDX-License-Identifier: MIT */
/* test_callback.c — call_soon / call_later / call_at, handles and their
 * cancellation, timer ordering and volume, and what callbacks may not do.
 *
 * Failures inside tasks and callbacks are recorded (EXPECT / REQUIRE), not
 * asserted: cmocka reports a failure with longjmp, which must not leave a
 * task's stack or the middle of the loop. Each test asserts the record once
 * cio_run has returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* -------------------------------------------------------------- helpers */

/* What the simple callbacks saw, in the order they ran. */
#define MAX_SEEN 256
static int seen[MAX_SEEN];
static int nseen;

static void reset_seen(void) { nseen = 0; }

static void record_cb(void *arg)
{
    if (EXPECT(nseen < MAX_SEEN))
        seen[nseen++] = (int)(intptr_t)arg;
}

/* True if the callbacks ran exactly in the order `want`; else records a
 * failure that lists both orders. */
static bool seen_is_(const char *file, int line, const int *want, int n)
{
    if (nseen == n && memcmp(seen, want, (size_t)n * sizeof *want) == 0)
        return true;
    char got_s[256] = "", want_s[256] = "";
    for (int i = 0, len = 0; i < nseen && len < 200; i++)
        len += snprintf(got_s + len, sizeof got_s - (size_t)len, " %d", seen[i]);
    for (int i = 0, len = 0; i < n && len < 200; i++)
        len += snprintf(want_s + len, sizeof want_s - (size_t)len, " %d", want[i]);
    note_failure(file, line, "callbacks ran as [%s ], expected [%s ]", got_s, want_s);
    return false;
}

#define SEEN_IS(...)                                                                               \
    seen_is_(__FILE__, __LINE__, (const int[]){__VA_ARGS__},                                       \
             (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)))

/* -------------------------------------------------- call_soon ordering */

static int main_call_soon_fifo(void *arg)
{
    (void)arg;
    reset_seen();
    for (int i = 0; i < 10; i++)
        REQUIRE(cio_call_soon(record_cb, (void *)(intptr_t)i).id != 0);
    /* Not eager: nothing runs before the task suspends. */
    REQUIRE(nseen == 0);
    /* The callbacks were queued before this task re-queues itself, so one
     * yield runs all of them, in the order they were scheduled. */
    REQUIRE_CIO(cio_yield(), 0);
    REQUIRE(SEEN_IS(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
    return 0;
}

static void test_call_soon_fifo(void **state)
{
    (void)state;
    run_ok(main_call_soon_fifo, NULL);
}

/* ----------------------------------------------------- timer ordering */

typedef struct timed {
    double when;
    int tag;
} timed;

/* Records its tag and checks that it did not fire before its time (the
 * loop converts to whole nanoseconds, hence the small slack). */
static void timed_cb(void *arg)
{
    const timed *t = arg;
    EXPECT(cio_now() + 1e-6 >= t->when);
    record_cb((void *)(intptr_t)t->tag);
}

static int main_call_at_order(void *arg)
{
    (void)arg;
    reset_seen();
    double base = cio_now() + 0.05;
    /* Scheduled out of order; equal deadlines on purpose (the very same
     * double), which must fire in the order they were set. */
    static timed t[6];
    t[0] = (timed){base + 0.02, 3};
    t[1] = (timed){base, 0};
    t[2] = (timed){base + 0.02, 4};
    t[3] = (timed){base, 1};
    t[4] = (timed){base + 0.01, 2};
    t[5] = (timed){base + 0.02, 5};
    for (int i = 0; i < 6; i++)
        REQUIRE(cio_call_at(t[i].when, timed_cb, &t[i]).id != 0);
    REQUIRE_CIO(cio_sleep(0.2), 0);
    REQUIRE(SEEN_IS(0, 1, 2, 3, 4, 5));
    return 0;
}

static void test_call_at_deadline_then_fifo(void **state)
{
    (void)state;
    run_ok(main_call_at_order, NULL);
}

static int main_call_later_order(void *arg)
{
    (void)arg;
    reset_seen();
    /* Scheduled longest first: they must fire shortest first. The 20 ms
     * gaps dwarf the time it takes to schedule them. */
    static timed t[5];
    for (int i = 0; i < 5; i++) {
        double delay = 0.02 * (5 - i);
        t[i] = (timed){cio_now() + delay, 4 - i};
        REQUIRE(cio_call_later(delay, timed_cb, &t[i]).id != 0);
    }
    /* A zero and a negative delay fire at the next timer check, before all
     * of those, in the order they were set. */
    static timed zero = {0, 100}, negative = {0, 101};
    REQUIRE(cio_call_later(0, timed_cb, &zero).id != 0);
    REQUIRE(cio_call_later(-5, timed_cb, &negative).id != 0);
    REQUIRE_CIO(cio_sleep(0.3), 0);
    REQUIRE(SEEN_IS(100, 101, 0, 1, 2, 3, 4));
    return 0;
}

static void test_call_later_by_deadline(void **state)
{
    (void)state;
    run_ok(main_call_later_order, NULL);
}

static void *write_pipe_later(void *arg)
{
    int fd = *(int *)arg;
    usleep(50000);
    EXPECT(write(fd, "x", 1) == 1);
    return NULL;
}

/* A huge or infinite delay means "never" (asyncio accepts inf): it must
 * not overflow the loop's nanosecond clock into the past and fire at once. */
static int main_call_later_huge(void *arg)
{
    (void)arg;
    reset_seen();
    cio_handle inf = cio_call_later(INFINITY, record_cb, (void *)1);
    cio_handle big = cio_call_later(1e12, record_cb, (void *)2);
    cio_handle at_inf = cio_call_at(INFINITY, record_cb, (void *)3);
    REQUIRE(inf.id != 0 && big.id != 0 && at_inf.id != 0);
    REQUIRE_CIO(cio_sleep(0.05), 0);
    REQUIRE(nseen == 0);
    /* With nothing else due, the loop polls the OS with a timeout derived
     * from those deadlines (centuries away), which the backend must
     * accept: a thread makes a pipe readable a little later. */
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, write_pipe_later, &p[1]) == 0);
    int r = cio_wait_readable(p[0]);
    pthread_join(th, NULL);
    REQUIRE_CIO(r, 0);
    REQUIRE_CIO(cio_close(p[0]), 0);
    REQUIRE_CIO(cio_close(p[1]), 0);
    REQUIRE(nseen == 0);
    cio_handle_cancel(inf);
    cio_handle_cancel(big);
    cio_handle_cancel(at_inf);
    return 0;
}

static void test_call_later_huge_delay_never_fires(void **state)
{
    (void)state;
    run_ok(main_call_later_huge, NULL);
}

/* ---------------------------------------- scheduling from a callback */

static void chain_c(void *arg)
{
    (void)arg;
    record_cb((void *)3);
}

static void chain_b(void *arg)
{
    (void)arg;
    record_cb((void *)2);
    EXPECT(cio_call_later(0.01, chain_c, NULL).id != 0);
}

static void chain_a(void *arg)
{
    (void)arg;
    record_cb((void *)1);
    EXPECT(cio_call_soon(chain_b, NULL).id != 0);
}

static int main_chain(void *arg)
{
    (void)arg;
    reset_seen();
    REQUIRE(cio_call_soon(chain_a, NULL).id != 0);
    REQUIRE_CIO(cio_sleep(0.1), 0);
    REQUIRE(SEEN_IS(1, 2, 3));
    return 0;
}

static void test_callback_schedules_callback(void **state)
{
    (void)state;
    run_ok(main_chain, NULL);
}

/* A callback may create a task (asyncio's loop.create_task from a
 * callback); the task then runs as any other. */
static int spawned_ran;

static int spawned_task(void *arg)
{
    (void)arg;
    /* A task created from a callback suspends like any task. */
    if (EXPECT_CIO(cio_sleep(0.001), 0))
        spawned_ran = 1;
    return 0;
}

static void spawn_cb(void *arg)
{
    (void)arg;
    EXPECT(cio_current_task() == NULL);
    cio_task *t = cio_create_task(spawned_task, NULL);
    if (EXPECT(t != NULL))
        cio_detach(t);
}

static int main_spawn(void *arg)
{
    (void)arg;
    spawned_ran = 0;
    REQUIRE(cio_call_soon(spawn_cb, NULL).id != 0);
    for (int i = 0; i < 100 && !spawned_ran; i++)
        REQUIRE_CIO(cio_sleep(0.005), 0);
    REQUIRE(spawned_ran);
    return 0;
}

static void test_callback_creates_task(void **state)
{
    (void)state;
    run_ok(main_spawn, NULL);
}

/* --------------------------------------------------------- cancellation */

static int main_cancel_before_run(void *arg)
{
    (void)arg;
    reset_seen();
    /* A call_soon handle cancelled while queued never runs; its neighbour
     * does. */
    cio_handle s1 = cio_call_soon(record_cb, (void *)1);
    cio_handle s2 = cio_call_soon(record_cb, (void *)2);
    REQUIRE(s1.id && s2.id && s1.id != s2.id);
    cio_handle_cancel(s1);
    REQUIRE_CIO(cio_yield(), 0);
    REQUIRE(SEEN_IS(2));

    /* The same for timers. */
    reset_seen();
    cio_handle t1 = cio_call_later(0.01, record_cb, (void *)11);
    cio_handle t2 = cio_call_later(0.02, record_cb, (void *)12);
    cio_handle t3 = cio_call_later(0.03, record_cb, (void *)13);
    REQUIRE(t1.id && t2.id && t3.id);
    cio_handle_cancel(t2);
    REQUIRE_CIO(cio_sleep(0.1), 0);
    REQUIRE(SEEN_IS(11, 13));
    return 0;
}

static void test_cancel_before_run(void **state)
{
    (void)state;
    run_ok(main_cancel_before_run, NULL);
}

static int main_cancel_after_run(void *arg)
{
    (void)arg;
    reset_seen();
    cio_handle s = cio_call_soon(record_cb, (void *)1);
    cio_handle t = cio_call_later(0.001, record_cb, (void *)2);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(SEEN_IS(1, 2));
    /* Their slots are free now and are likely handed to these new ones:
     * cancelling the old (spent) handles must not touch the new ones. */
    cio_handle n1 = cio_call_soon(record_cb, (void *)3);
    cio_handle n2 = cio_call_later(0.001, record_cb, (void *)4);
    REQUIRE(n1.id && n2.id);
    REQUIRE(n1.id != s.id && n1.id != t.id && n2.id != s.id && n2.id != t.id);
    cio_handle_cancel(s);
    cio_handle_cancel(t);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(SEEN_IS(1, 2, 3, 4));
    return 0;
}

static void test_cancel_after_run_is_noop(void **state)
{
    (void)state;
    run_ok(main_cancel_after_run, NULL);
}

static int main_cancel_twice(void *arg)
{
    (void)arg;
    reset_seen();
    cio_handle h = cio_call_later(10, record_cb, (void *)1);
    cio_handle_cancel(h);
    /* Probably reuses h's slot: the second cancel must see that h is gone. */
    cio_handle h2 = cio_call_later(0.01, record_cb, (void *)2);
    cio_handle_cancel(h);
    cio_handle h3 = cio_call_soon(record_cb, (void *)3);
    cio_handle_cancel(h);
    REQUIRE(h2.id != h.id && h3.id != h.id);

    /* Twice on a queued call_soon (the record stays queued, marked). */
    cio_handle s = cio_call_soon(record_cb, (void *)4);
    cio_handle_cancel(s);
    cio_handle_cancel(s);
    cio_handle s2 = cio_call_soon(record_cb, (void *)5);
    cio_handle_cancel(s);

    REQUIRE_CIO(cio_sleep(0.05), 0);
    REQUIRE(SEEN_IS(3, 5, 2));
    REQUIRE(s2.id != s.id);
    return 0;
}

static void test_cancel_twice_is_noop(void **state)
{
    (void)state;
    run_ok(main_cancel_twice, NULL);
}

/* Ids no loop ever handed out, id 0, and cancelling outside a loop: all
 * quiet no-ops. */
static int main_cancel_bogus(void *arg)
{
    (void)arg;
    reset_seen();
    cio_handle live = cio_call_later(0.01, record_cb, (void *)1);
    cio_handle_cancel((cio_handle){0});
    cio_handle_cancel((cio_handle){UINT64_MAX});
    cio_handle_cancel((cio_handle){0xFFFFFFFFu});
    cio_handle_cancel((cio_handle){live.id + (1ull << 32)});
    cio_handle_cancel((cio_handle){live.id - (1ull << 32)});
    REQUIRE_CIO(cio_sleep(0.05), 0);
    REQUIRE(SEEN_IS(1));
    return 0;
}

static void test_cancel_bogus_handles(void **state)
{
    (void)state;
    cio_handle_cancel((cio_handle){1});
    run_ok(main_cancel_bogus, NULL);
}

/* A handle from a loop that has ended "belongs to no loop running on this
 * thread": cancelling it in the next loop on the same thread must not hit
 * whatever callback that loop gave the same number. */
static cio_handle stale[8];

static int main_make_stale(void *arg)
{
    (void)arg;
    stale[0] = cio_call_soon(record_cb, (void *)1);
    stale[1] = cio_call_later(0.001, record_cb, (void *)2);
    stale[2] = cio_call_later(100, record_cb, (void *)3); /* never runs */
    REQUIRE_CIO(cio_sleep(0.01), 0);
    return 0;
}

static int main_use_stale(void *arg)
{
    (void)arg;
    reset_seen();
    cio_handle mine[3] = {cio_call_soon(record_cb, (void *)11),
                          cio_call_later(0.001, record_cb, (void *)12),
                          cio_call_later(0.002, record_cb, (void *)13)};
    REQUIRE(mine[0].id && mine[1].id && mine[2].id);
    for (int i = 0; i < 3; i++)
        cio_handle_cancel(stale[i]);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(SEEN_IS(11, 12, 13));
    return 0;
}

static void test_handle_from_ended_loop_cancels_nothing(void **state)
{
    (void)state;
    run_ok(main_make_stale, NULL);
    run_ok(main_use_stale, NULL);
}

/* A callback cancels another that is due in the same step: a queued
 * call_soon, and a timer with the same deadline. */
static cio_handle victim;

static void cancel_victim_cb(void *arg)
{
    record_cb(arg);
    cio_handle_cancel(victim);
}

static int main_cancel_from_callback(void *arg)
{
    (void)arg;
    reset_seen();
    REQUIRE(cio_call_soon(cancel_victim_cb, (void *)1).id);
    victim = cio_call_soon(record_cb, (void *)2);
    REQUIRE(cio_call_soon(record_cb, (void *)3).id);
    REQUIRE_CIO(cio_yield(), 0);
    REQUIRE(SEEN_IS(1, 3));

    reset_seen();
    double when = cio_now() + 0.01;
    REQUIRE(cio_call_at(when, cancel_victim_cb, (void *)11).id);
    victim = cio_call_at(when, record_cb, (void *)12);
    REQUIRE(cio_call_at(when, record_cb, (void *)13).id);
    REQUIRE_CIO(cio_sleep(0.05), 0);
    REQUIRE(SEEN_IS(11, 13));
    return 0;
}

static void test_cancel_from_another_callback(void **state)
{
    (void)state;
    run_ok(main_cancel_from_callback, NULL);
}

/* A callback cancels its own (spent) handle after scheduling a new
 * callback, which may have been given the very slot it just left. */
static cio_handle self_handle;

static void cancel_self_cb(void *arg)
{
    (void)arg;
    record_cb((void *)1);
    EXPECT(cio_call_soon(record_cb, (void *)2).id != 0);
    EXPECT(cio_call_later(0, record_cb, (void *)3).id != 0);
    cio_handle_cancel(self_handle);
}

static int main_cancel_self(void *arg)
{
    (void)arg;
    reset_seen();
    self_handle = cio_call_soon(cancel_self_cb, NULL);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(SEEN_IS(1, 2, 3));

    reset_seen();
    self_handle = cio_call_later(0.001, cancel_self_cb, NULL);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(SEEN_IS(1, 2, 3));
    return 0;
}

static void test_callback_cancels_own_handle(void **state)
{
    (void)state;
    run_ok(main_cancel_self, NULL);
}

/* ------------------------------------------------------- unique handles */

#define ID_ROUNDS 300000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static long ids_ran;

static void count_cb(void *arg)
{
    (void)arg;
    ids_ran++;
}

static int main_unique_ids(void *arg)
{
    uint64_t *ids = arg;
    ids_ran = 0;
    unsigned seed = 12345;
    long cancelled = 0, old_cancels = 0;
    /* Schedule, cancel and run in a pseudo-random mix, so that slots are
     * freed and handed out again many times over. */
    for (size_t i = 0; i < ID_ROUNDS; i++) {
        unsigned r = rand_r(&seed);
        cio_handle h = r % 3 == 0 ? cio_call_soon(count_cb, NULL)
                                  : cio_call_later((r % 7) * 1e-4, count_cb, NULL);
        REQUIRE(h.id != 0);
        ids[i] = h.id;
        if (r % 5 == 0) {
            cio_handle_cancel(h);
            cancelled++;
        }
        if (r % 11 == 0) {
            /* Cancel an older one too (often already run: a no-op). */
            cio_handle_cancel((cio_handle){ids[r % (i + 1)]});
            old_cancels++;
        }
        if (i % 64 == 0)
            REQUIRE_CIO(cio_yield(), 0);
    }
    REQUIRE_CIO(cio_sleep(0.05), 0);
    /* Everything not cancelled has run by now (at most ROUNDS). */
    REQUIRE(ids_ran >= ID_ROUNDS - cancelled - old_cancels);
    REQUIRE(ids_ran <= ID_ROUNDS - cancelled);
    qsort(ids, ID_ROUNDS, sizeof *ids, cmp_u64);
    for (size_t i = 1; i < ID_ROUNDS; i++)
        REQUIRE(ids[i] != ids[i - 1]);
    return 0;
}

static void test_handle_ids_never_reused(void **state)
{
    (void)state;
    uint64_t *ids = calloc(ID_ROUNDS, sizeof *ids);
    assert_non_null(ids);
    run_ok(main_unique_ids, ids);
    free(ids);
}

/* -------------------------------------------------------- many timers */

#define MANY_TIMERS 1000000
/* Deadlines on a whole-microsecond grid over 0.5 s: distinct grid points
 * stay distinct after the loop's conversion to nanoseconds, and equal ones
 * are the same double, so the exact firing order is known. */
#define GRID_POINTS 500000

typedef struct many_state {
    int32_t *k;  /* the grid point of timer i */
    double base; /* the time of grid point 0 */
    long fired;
    long out_of_order;
    long early;
    long last; /* the index of the timer that fired last, -1: none */
} many_state;

static many_state many;

static void many_cb(void *arg)
{
    long i = (long)(intptr_t)arg;
    if (many.last >= 0) {
        int32_t kl = many.k[many.last], ki = many.k[i];
        /* By deadline, then by the order they were set. */
        if (!(ki > kl || (ki == kl && i > many.last)))
            many.out_of_order++;
    }
    if (cio_now() + 1e-6 < many.base + many.k[i] * 1e-6)
        many.early++;
    many.last = i;
    many.fired++;
}

static int main_many_timers(void *arg)
{
    (void)arg;
    unsigned seed = 777;
    many.base = cio_now() + 0.1;
    for (long i = 0; i < MANY_TIMERS; i++) {
        many.k[i] = (int32_t)(rand_r(&seed) % GRID_POINTS);
        REQUIRE(cio_call_at(many.base + many.k[i] * 1e-6, many_cb, (void *)(intptr_t)i).id != 0);
    }
    double start = cio_now();
    /* Generous: the deadlines span 0.5 s; sanitizer builds are slow. */
    while (many.fired < MANY_TIMERS && cio_now() - start < 60)
        REQUIRE_CIO(cio_sleep(0.05), 0);
    REQUIRE(many.fired == MANY_TIMERS);
    REQUIRE(many.out_of_order == 0);
    REQUIRE(many.early == 0);
    return 0;
}

static void test_million_timers_all_fire_in_order(void **state)
{
    (void)state;
    many = (many_state){.last = -1};
    many.k = malloc(MANY_TIMERS * sizeof *many.k);
    assert_non_null(many.k);
    run_ok(main_many_timers, NULL);
    free(many.k);
}

/* Cancelling most of a large set of timers (which makes the heap drop its
 * dead entries in bulk) leaves the rest firing in order, and none of the
 * cancelled ones. */
#define MASS 20000

static int main_mass_cancel(void *arg)
{
    (void)arg;
    unsigned seed = 4242;
    many.base = cio_now() + 0.02;
    cio_handle *h = malloc(MASS * sizeof *h);
    bool *keep = malloc(MASS * sizeof *keep);
    REQUIRE(h && keep);
    long kept = 0;
    for (long i = 0; i < MASS; i++) {
        many.k[i] = (int32_t)(rand_r(&seed) % 100000); /* over 0.1 s */
        h[i] = cio_call_at(many.base + many.k[i] * 1e-6, many_cb, (void *)(intptr_t)i);
        keep[i] = rand_r(&seed) % 10 == 0;
        kept += keep[i];
    }
    for (long i = 0; i < MASS; i++) {
        if (!keep[i])
            cio_handle_cancel(h[i]);
    }
    free(h);
    REQUIRE_CIO(cio_sleep(0.3), 0);
    free(keep);
    REQUIRE(many.fired == kept);
    REQUIRE(many.out_of_order == 0);
    REQUIRE(many.early == 0);
    return 0;
}

static void test_mass_cancel_leaves_the_rest_in_order(void **state)
{
    (void)state;
    many = (many_state){.last = -1};
    many.k = malloc(MASS * sizeof *many.k);
    assert_non_null(many.k);
    run_ok(main_mass_cancel, NULL);
    free(many.k);
}

/* -------------------------------------------------- no starvation */

/* A callback that re-arms itself at once must not keep the loop in its
 * timer (or ready) step: tasks still get their turn. If they did not, the
 * re-arming would go on until REARM_LIMIT, which the test reports. */
#define REARM_LIMIT 20000000L

static long rearms;
static bool rearm_stop;

static void rearm_timer_cb(void *arg)
{
    (void)arg;
    rearms++;
    if (rearm_stop || rearms >= REARM_LIMIT)
        return;
    EXPECT(cio_call_later(0, rearm_timer_cb, NULL).id != 0);
}

static void rearm_soon_cb(void *arg)
{
    (void)arg;
    rearms++;
    if (rearm_stop || rearms >= REARM_LIMIT)
        return;
    EXPECT(cio_call_soon(rearm_soon_cb, NULL).id != 0);
}

static int other_ticks;

static int ticker_task(void *arg)
{
    (void)arg;
    while (!rearm_stop) {
        other_ticks++;
        if (cio_yield() != 0)
            break;
    }
    return 0;
}

/* arg: non-NULL for the timer variant, NULL for call_soon. */
static int main_no_starvation(void *arg)
{
    cio_cb cb = arg ? rearm_timer_cb : rearm_soon_cb;
    rearms = 0;
    rearm_stop = false;
    other_ticks = 0;
    cio_task *ticker = cio_create_task(ticker_task, NULL);
    REQUIRE(ticker != NULL);
    REQUIRE(cb == rearm_timer_cb ? cio_call_later(0, cb, NULL).id != 0
                                 : cio_call_soon(cb, NULL).id != 0);
    /* Yields, and a sleep that needs the timer step to come round again. */
    for (int i = 0; i < 100; i++)
        REQUIRE_CIO(cio_yield(), 0);
    REQUIRE_CIO(cio_sleep(0.01), 0);
    long at_stop = rearms;
    rearm_stop = true;
    REQUIRE_CIO(cio_await(ticker), 0);
    REQUIRE(at_stop < REARM_LIMIT);
    /* About one tick per yield of this task, and more while it slept. */
    REQUIRE(other_ticks >= 50);
    return 0;
}

static void test_rearming_zero_delay_timer_does_not_starve(void **state)
{
    (void)state;
    run_ok(main_no_starvation, (void *)1);
}

static void test_rearming_call_soon_does_not_starve(void **state)
{
    (void)state;
    run_ok(main_no_starvation, NULL);
}

/* -------------------------------------------------------- bad input */

static int main_bad_input(void *arg)
{
    (void)arg;
    reset_seen();
    errno = 0;
    cio_handle h = cio_call_soon(NULL, NULL);
    REQUIRE(h.id == 0 && errno == EINVAL);
    errno = 0;
    h = cio_call_later(0.01, NULL, NULL);
    REQUIRE(h.id == 0 && errno == EINVAL);
    errno = 0;
    h = cio_call_at(cio_now(), NULL, NULL);
    REQUIRE(h.id == 0 && errno == EINVAL);
    errno = 0;
    h = cio_call_later(NAN, record_cb, (void *)1);
    REQUIRE(h.id == 0 && errno == EINVAL);
    errno = 0;
    h = cio_call_at(NAN, record_cb, (void *)2);
    REQUIRE(h.id == 0 && errno == EINVAL);
    /* A call that fails never runs its callback. */
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(nseen == 0);
    return 0;
}

static void test_bad_input(void **state)
{
    (void)state;
    run_ok(main_bad_input, NULL);
}

static void test_outside_a_loop_is_eperm(void **state)
{
    (void)state;
    assert_null(cio_running_loop());
    errno = 0;
    assert_int_equal(cio_call_soon(record_cb, NULL).id, 0);
    assert_int_equal(errno, EPERM);
    errno = 0;
    assert_int_equal(cio_call_later(0.1, record_cb, NULL).id, 0);
    assert_int_equal(errno, EPERM);
    errno = 0;
    assert_int_equal(cio_call_at(1.0, record_cb, NULL).id, 0);
    assert_int_equal(errno, EPERM);
}

/* ------------------------------------- callbacks may not suspend */

typedef struct forbidden {
    int fds[2];
    cio_task *task;
    int results[10];
    bool ran;
} forbidden;

static int trivial_fn(void *arg)
{
    (void)arg;
    return 0;
}

/* Every suspending call made on the loop's own stack returns -EPERM at
 * once (none may switch stacks from here). */
static void forbidden_cb(void *arg)
{
    forbidden *f = arg;
    char byte = 'x';
    f->results[0] = cio_sleep(0.01);
    f->results[1] = cio_sleep(0);
    f->results[2] = cio_yield();
    f->results[3] = (int)cio_read(f->fds[0], &byte, 1);
    f->results[4] = (int)cio_write(f->fds[1], &byte, 1);
    f->results[5] = cio_wait_readable(f->fds[0]);
    f->results[6] = cio_wait_writable(f->fds[1]);
    f->results[7] = cio_to_thread(trivial_fn, NULL);
    f->results[8] = cio_await(f->task);
    f->results[9] = cio_wait_for(f->task, 1.0);
    f->ran = true;
}

static int main_forbidden(void *arg)
{
    forbidden *f = arg;
    REQUIRE(pipe2(f->fds, O_CLOEXEC | O_NONBLOCK) == 0);
    f->task = cio_create_task(trivial_fn, NULL);
    REQUIRE(f->task != NULL);
    REQUIRE(cio_call_soon(forbidden_cb, f).id != 0);
    REQUIRE_CIO(cio_sleep(0.01), 0);
    /* Timers run on the loop's stack too. */
    REQUIRE(f->ran);
    for (int i = 0; i < 10; i++) {
        if (!EXPECT_CIO(f->results[i], -EPERM))
            note_failure(__FILE__, __LINE__, "suspending call #%d from a callback", i);
    }
    f->ran = false;
    REQUIRE(cio_call_later(0.001, forbidden_cb, f).id != 0);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(f->ran);
    for (int i = 0; i < 10; i++) {
        if (!EXPECT_CIO(f->results[i], -EPERM))
            note_failure(__FILE__, __LINE__, "suspending call #%d from a timer", i);
    }
    /* The refused calls consumed nothing: the task can still be awaited
     * and the pipe is still empty. */
    REQUIRE_CIO(cio_await(f->task), 0);
    char buf[4];
    REQUIRE(read(f->fds[0], buf, sizeof buf) < 0 && errno == EAGAIN);
    REQUIRE_CIO(cio_close(f->fds[0]), 0);
    REQUIRE_CIO(cio_close(f->fds[1]), 0);
    return 0;
}

static void test_suspending_from_callback_is_eperm(void **state)
{
    (void)state;
    forbidden f = {.fds = {-1, -1}};
    run_ok(main_forbidden, &f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_soon_fifo),
        cmocka_unit_test(test_call_at_deadline_then_fifo),
        cmocka_unit_test(test_call_later_by_deadline),
        cmocka_unit_test(test_call_later_huge_delay_never_fires),
        cmocka_unit_test(test_callback_schedules_callback),
        cmocka_unit_test(test_callback_creates_task),
        cmocka_unit_test(test_cancel_before_run),
        cmocka_unit_test(test_cancel_after_run_is_noop),
        cmocka_unit_test(test_cancel_twice_is_noop),
        cmocka_unit_test(test_cancel_bogus_handles),
        cmocka_unit_test(test_handle_from_ended_loop_cancels_nothing),
        cmocka_unit_test(test_cancel_from_another_callback),
        cmocka_unit_test(test_callback_cancels_own_handle),
        cmocka_unit_test(test_handle_ids_never_reused),
        cmocka_unit_test(test_million_timers_all_fire_in_order),
        cmocka_unit_test(test_mass_cancel_leaves_the_rest_in_order),
        cmocka_unit_test(test_rearming_zero_delay_timer_does_not_starve),
        cmocka_unit_test(test_rearming_call_soon_does_not_starve),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_outside_a_loop_is_eperm),
        cmocka_unit_test(test_suspending_from_callback_is_eperm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
