/* SPDX-License-Identifier: MIT */
/* test_threadsafe.c — cio_call_soon_threadsafe: waking a loop that is
 * blocked in the OS, many threads posting at once, loops on two threads
 * posting to each other, posting that races the loop's end, bad input.
 *
 * Failures inside tasks, callbacks and threads are recorded (EXPECT /
 * REQUIRE), not asserted: cmocka reports a failure with longjmp, which must
 * not leave a task's stack, the middle of the loop, or another thread. Each
 * test asserts the record once cio_run has returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

/* Blocks the calling thread for ms milliseconds. */
static void block_ms(unsigned ms) { usleep(ms * 1000u); }

/* ------------------------------------- waking a loop blocked in the OS */

typedef struct wake_ctx {
    cio_loop *loop;
    /* The task the callback cancels. */
    cio_task *target;
    /* Written by the callback, on the loop's thread. */
    bool ran;
    bool on_loop_thread;
    pthread_t loop_thread;
    /* For the variant that writes to a pipe instead of cancelling. */
    int wfd;
    int post_result;
} wake_ctx;

static void cancel_target_cb(void *arg)
{
    wake_ctx *c = arg;
    c->ran = true;
    c->on_loop_thread = pthread_equal(pthread_self(), c->loop_thread) != 0;
    EXPECT(cio_running_loop() == c->loop);
    EXPECT_CIO(cio_cancel(c->target), 0);
}

static void write_pipe_cb(void *arg)
{
    wake_ctx *c = arg;
    c->ran = true;
    c->on_loop_thread = pthread_equal(pthread_self(), c->loop_thread) != 0;
    EXPECT(write(c->wfd, "!", 1) == 1);
}

/* The thread sleeps first, so that the loop has long gone to sleep in the
 * OS (nothing ready, no timer before the 10 s safety net). */
static void *post_after_delay(void *arg)
{
    wake_ctx *c = arg;
    block_ms(100);
    c->post_result = cio_call_soon_threadsafe(c->loop, cancel_target_cb, c);
    return NULL;
}

static void *post_write_after_delay(void *arg)
{
    wake_ctx *c = arg;
    block_ms(100);
    c->post_result = cio_call_soon_threadsafe(c->loop, write_pipe_cb, c);
    return NULL;
}

/* The main task waits for a pipe that never gets data; only the posted
 * callback, which cancels it, can end the wait. The 10 s timeout is a
 * safety net: -ETIMEDOUT means the loop slept through the post. */
static int main_wake_readable(void *arg)
{
    (void)arg;
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    wake_ctx c = {
        .loop = cio_running_loop(), .target = cio_current_task(), .loop_thread = pthread_self()};
    /* Measured from before the thread exists: its 0.1 s pause is then a
     * true lower bound. */
    double start = cio_now();
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, post_after_delay, &c) == 0);
    cio_timeout tm;
    cio_timeout_enter(&tm, 10);
    int r = cio_wait_readable(fds[0]);
    int te = cio_timeout_exit(&tm);
    double took = cio_now() - start;
    pthread_join(th, NULL);
    EXPECT_CIO(c.post_result, 0);
    EXPECT_CIO(r, -ECANCELED);
    EXPECT_CIO(te, 0);
    EXPECT(c.ran && c.on_loop_thread);
    /* Lower bound: the thread waited 0.1 s before posting. */
    EXPECT(took >= 0.09);
    EXPECT(took < 5);
    /* Not suspending, so allowed although this task is cancelled. */
    REQUIRE_CIO(cio_close(fds[0]), 0);
    REQUIRE_CIO(cio_close(fds[1]), 0);
    return 0;
}

static void test_threadsafe_wakes_loop_blocked_on_fd(void **state)
{
    (void)state;
    run_ok(main_wake_readable, NULL);
}

/* The same with a long sleep (the loop blocks on a 30 s timer), the
 * sleeping task being another than main. */
static int long_sleeper(void *arg)
{
    (void)arg;
    return cio_sleep(30);
}

static int main_wake_sleep(void *arg)
{
    (void)arg;
    wake_ctx c = {.loop = cio_running_loop(), .loop_thread = pthread_self()};
    c.target = cio_create_task(long_sleeper, NULL);
    REQUIRE(c.target != NULL);
    double start = cio_now();
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, post_after_delay, &c) == 0);
    int r = cio_await(c.target);
    double took = cio_now() - start;
    pthread_join(th, NULL);
    REQUIRE_CIO(c.post_result, 0);
    REQUIRE_CIO(r, -ECANCELED);
    REQUIRE(c.ran && c.on_loop_thread);
    REQUIRE(took >= 0.09);
    REQUIRE(took < 5);
    return 0;
}

static void test_threadsafe_wakes_loop_blocked_on_timer(void **state)
{
    (void)state;
    run_ok(main_wake_sleep, NULL);
}

/* The callback makes the awaited data arrive; the reader suspended in
 * cio_read gets it. */
static int main_wake_write(void *arg)
{
    (void)arg;
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    wake_ctx c = {.loop = cio_running_loop(), .loop_thread = pthread_self(), .wfd = fds[1]};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, post_write_after_delay, &c) == 0);
    char buf[8];
    cio_timeout tm;
    cio_timeout_enter(&tm, 10);
    ssize_t n = cio_read(fds[0], buf, sizeof buf);
    int te = cio_timeout_exit(&tm);
    pthread_join(th, NULL);
    EXPECT_CIO(c.post_result, 0);
    EXPECT_CIO(n, 1);
    EXPECT_CIO(te, 0);
    EXPECT(n == 1 && buf[0] == '!');
    EXPECT(c.ran && c.on_loop_thread);
    REQUIRE_CIO(cio_close(fds[0]), 0);
    REQUIRE_CIO(cio_close(fds[1]), 0);
    return 0;
}

static void test_threadsafe_callback_feeds_a_reader(void **state)
{
    (void)state;
    run_ok(main_wake_write, NULL);
}

/* --------------------------------------------- many threads, many posts */

#define POSTERS 8
#define POSTS_PER_THREAD 20000

typedef struct many_ctx {
    cio_loop *loop;
    /* How often each callback ran (loop thread only). */
    uint8_t count[POSTERS][POSTS_PER_THREAD];
    /* The last index seen per thread: one thread's posts run in its order. */
    int last[POSTERS];
    long total;
    long out_of_order;
    long overrun;
    /* Start line, so that the threads really post at the same time. */
    pthread_barrier_t go;
    int post_errors[POSTERS];
} many_ctx;

static many_ctx *many;

static void many_cb(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    int th = (int)(v / POSTS_PER_THREAD), i = (int)(v % POSTS_PER_THREAD);
    if (many->count[th][i]++ != 0)
        many->overrun++;
    if (i <= many->last[th])
        many->out_of_order++;
    many->last[th] = i;
    many->total++;
}

static void *many_poster(void *arg)
{
    int th = (int)(intptr_t)arg;
    pthread_barrier_wait(&many->go);
    unsigned seed = (unsigned)th + 1;
    for (int i = 0; i < POSTS_PER_THREAD; i++) {
        uintptr_t v = (uintptr_t)th * POSTS_PER_THREAD + (uintptr_t)i;
        if (cio_call_soon_threadsafe(many->loop, many_cb, (void *)v) != 0)
            many->post_errors[th]++;
        /* Odd threads pause now and then, so that the loop also goes to
         * sleep in the OS between posts and must be woken. */
        if ((th & 1) && rand_r(&seed) % 512 == 0)
            usleep(200);
    }
    return NULL;
}

static int main_many_posters(void *arg)
{
    (void)arg;
    many->loop = cio_running_loop();
    for (int t = 0; t < POSTERS; t++)
        many->last[t] = -1;
    pthread_t th[POSTERS];
    for (int t = 0; t < POSTERS; t++)
        REQUIRE(pthread_create(&th[t], NULL, many_poster, (void *)(intptr_t)t) == 0);
    pthread_barrier_wait(&many->go);
    double start = cio_now();
    while (many->total < (long)POSTERS * POSTS_PER_THREAD && cio_now() - start < 60)
        REQUIRE_CIO(cio_sleep(0.005), 0);
    for (int t = 0; t < POSTERS; t++)
        pthread_join(th[t], NULL);
    /* Anything run twice would show up a little later too. */
    REQUIRE_CIO(cio_sleep(0.02), 0);
    for (int t = 0; t < POSTERS; t++)
        REQUIRE_CIO(many->post_errors[t], 0);
    REQUIRE(many->total == (long)POSTERS * POSTS_PER_THREAD);
    REQUIRE(many->overrun == 0);
    REQUIRE(many->out_of_order == 0);
    for (int t = 0; t < POSTERS; t++) {
        for (int i = 0; i < POSTS_PER_THREAD; i++)
            REQUIRE(many->count[t][i] == 1);
    }
    return 0;
}

static void test_many_threads_each_callback_runs_once(void **state)
{
    (void)state;
    many = calloc(1, sizeof *many);
    assert_non_null(many);
    /* The main task waits at the start line too. */
    assert_int_equal(pthread_barrier_init(&many->go, NULL, POSTERS + 1), 0);
    run_ok(main_many_posters, NULL);
    pthread_barrier_destroy(&many->go);
    free(many);
    many = NULL;
}

/* --------------------------------------- posting from the loop thread */

static bool self_ran;

static void self_cb(void *arg)
{
    (void)arg;
    self_ran = true;
}

/* From the loop's own thread it is allowed, and still "soon": not run
 * inline. */
static int main_post_self(void *arg)
{
    (void)arg;
    self_ran = false;
    REQUIRE_CIO(cio_call_soon_threadsafe(cio_running_loop(), self_cb, NULL), 0);
    REQUIRE(!self_ran);
    for (int i = 0; i < 100 && !self_ran; i++)
        REQUIRE_CIO(cio_sleep(0.001), 0);
    REQUIRE(self_ran);
    return 0;
}

static void test_post_from_loop_thread(void **state)
{
    (void)state;
    run_ok(main_post_self, NULL);
}

/* ----------------------------------- two loops posting to each other */

#define PINGS 2000

typedef struct pingpong {
    cio_loop *a;
    _Atomic(cio_loop *) b;
    /* Written only on loop b's thread. */
    int pings;
    /* Written only on loop a's thread. */
    int pongs;
    int b_result;
} pingpong;

static pingpong pp;

static void pong_cb(void *arg);

static void ping_cb(void *arg)
{
    (void)arg;
    pp.pings++;
    EXPECT_CIO(cio_call_soon_threadsafe(pp.a, pong_cb, NULL), 0);
}

static void pong_cb(void *arg)
{
    (void)arg;
    /* The next ping is posted only once the previous round trip is done,
     * so loop b is still running when it arrives. */
    if (++pp.pongs < PINGS)
        EXPECT_CIO(cio_call_soon_threadsafe(atomic_load(&pp.b), ping_cb, NULL), 0);
}

static int main_b(void *arg)
{
    (void)arg;
    atomic_store(&pp.b, cio_running_loop());
    double start = cio_now();
    while (pp.pings < PINGS && cio_now() - start < 60)
        REQUIRE_CIO(cio_sleep(0.002), 0);
    REQUIRE(pp.pings == PINGS);
    return 0;
}

static void *thread_b(void *arg)
{
    (void)arg;
    pp.b_result = cio_run(main_b, NULL);
    return NULL;
}

static int main_a(void *arg)
{
    (void)arg;
    pp.a = cio_running_loop();
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, thread_b, NULL) == 0);
    double start = cio_now();
    while (!atomic_load(&pp.b) && cio_now() - start < 10)
        REQUIRE_CIO(cio_sleep(0.001), 0);
    if (EXPECT(atomic_load(&pp.b) != NULL))
        EXPECT_CIO(cio_call_soon_threadsafe(atomic_load(&pp.b), ping_cb, NULL), 0);
    while (pp.pongs < PINGS && cio_now() - start < 60)
        REQUIRE_CIO(cio_sleep(0.002), 0);
    /* Blocks this loop briefly: b is finishing. */
    pthread_join(th, NULL);
    REQUIRE_CIO(pp.b_result, 0);
    REQUIRE(pp.pongs == PINGS);
    return 0;
}

static void test_two_loops_post_to_each_other(void **state)
{
    (void)state;
    memset(&pp, 0, sizeof pp);
    run_ok(main_a, NULL);
}

/* -------------------------------------------- a post racing the end */

/* Fault injection for the race below. A thread that sets pause_after_unlock
 * is held up right after each pthread_mutex_unlock it makes: inside
 * cio_call_soon_threadsafe, that is the moment after its callback became
 * visible to the loop, when the loop may run it, finish and free itself.
 * Whatever the poster touches of the loop from then on is a use after free.
 * The test binary links cio statically, so the library's calls bind to this
 * definition. Not under ThreadSanitizer, which has its own
 * pthread_mutex_unlock that must not be displaced. */
#ifdef TSAN_BUILD
#define CAN_PAUSE_AFTER_UNLOCK 0
#else
#define CAN_PAUSE_AFTER_UNLOCK 1
#endif

static _Thread_local bool pause_after_unlock;

#if CAN_PAUSE_AFTER_UNLOCK
#include <dlfcn.h>

static int (*real_mutex_unlock)(pthread_mutex_t *);

static void find_real_mutex_unlock(void)
{
    *(void **)&real_mutex_unlock = dlsym(RTLD_NEXT, "pthread_mutex_unlock");
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
    /* Set in main; this covers any call made before main. */
    if (!real_mutex_unlock)
        find_real_mutex_unlock();
    int r = real_mutex_unlock(m);
    if (pause_after_unlock)
        usleep(300000);
    return r;
}
#else
static void find_real_mutex_unlock(void) {}
#endif

/* A thread posts the callback that ends the loop while the loop is busy
 * (not blocked in the OS), so the loop runs it, returns and frees itself
 * while the posting call may not have returned yet. */
#define RACE_ROUNDS 200

typedef struct race_ctx {
    _Atomic(cio_loop *) loop;
    atomic_bool stop;
    bool pause;
    int post_result;
} race_ctx;

static void race_stop_cb(void *arg)
{
    race_ctx *c = arg;
    atomic_store(&c->stop, true);
}

static void *race_poster(void *arg)
{
    race_ctx *c = arg;
    cio_loop *l;
    while (!(l = atomic_load(&c->loop)))
        sched_yield();
    pause_after_unlock = c->pause;
    c->post_result = cio_call_soon_threadsafe(l, race_stop_cb, c);
    pause_after_unlock = false;
    return NULL;
}

static int main_race(void *arg)
{
    race_ctx *c = arg;
    atomic_store(&c->loop, cio_running_loop());
    double start = cio_now();
    while (!atomic_load(&c->stop) && cio_now() - start < 10)
        REQUIRE_CIO(cio_yield(), 0);
    REQUIRE(atomic_load(&c->stop));
    return 0;
}

/* Repeated without injected pauses: gives the sanitizers a chance to see
 * the real interleavings. */
static void test_post_racing_loop_end(void **state)
{
    (void)state;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        race_ctx c = {.loop = NULL};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, race_poster, &c), 0);
        run_ok(main_race, &c);
        pthread_join(th, NULL);
        assert_cio(c.post_result, 0);
    }
}

/* The poster is held up right after its callback became visible; the loop
 * ends and is freed meanwhile. The descriptors the loop closed are then
 * taken by socket pairs: if the poster, once it goes on, still writes to
 * the loop's wake-up descriptor, the bytes land in one of them (and
 * AddressSanitizer, where built in, reports the read of the freed loop). */
static void test_post_does_not_touch_loop_after_publishing(void **state)
{
    (void)state;
    if (!CAN_PAUSE_AFTER_UNLOCK)
        skip();
    race_ctx c = {.loop = NULL, .pause = true};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, race_poster, &c), 0);
    run_ok(main_race, &c);
    int sv[8][2];
    for (int i = 0; i < 8; i++)
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv[i]),
                         0);
    pthread_join(th, NULL);
    assert_cio(c.post_result, 0);
    int stray = 0;
    for (int i = 0; i < 8; i++) {
        char buf[16];
        for (int e = 0; e < 2; e++) {
            if (recv(sv[i][e], buf, sizeof buf, MSG_DONTWAIT) > 0)
                stray++;
            close(sv[i][e]);
        }
    }
    if (stray)
        fail_msg("the poster wrote to %d descriptor(s) it did not own after the loop ended", stray);
}

/* ------------------------------------------------------------ bad input */

static void *post_null_from_thread(void *arg)
{
    int *r = arg;
    r[0] = cio_call_soon_threadsafe(NULL, self_cb, NULL);
    return NULL;
}

static int main_bad_input(void *arg)
{
    (void)arg;
    self_ran = false;
    REQUIRE_CIO(cio_call_soon_threadsafe(cio_running_loop(), NULL, NULL), -EINVAL);
    REQUIRE_CIO(cio_call_soon_threadsafe(NULL, self_cb, NULL), -EINVAL);
    REQUIRE_CIO(cio_call_soon_threadsafe(NULL, NULL, NULL), -EINVAL);
    int r[1] = {1};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, post_null_from_thread, r) == 0);
    pthread_join(th, NULL);
    REQUIRE_CIO(r[0], -EINVAL);
    /* A refused post never runs its callback. */
    REQUIRE_CIO(cio_sleep(0.01), 0);
    REQUIRE(!self_ran);
    return 0;
}

static void test_null_loop_or_cb_is_einval(void **state)
{
    (void)state;
    assert_cio(cio_call_soon_threadsafe(NULL, self_cb, NULL), -EINVAL);
    run_ok(main_bad_input, NULL);
}

int main(void)
{
    find_real_mutex_unlock();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threadsafe_wakes_loop_blocked_on_fd),
        cmocka_unit_test(test_threadsafe_wakes_loop_blocked_on_timer),
        cmocka_unit_test(test_threadsafe_callback_feeds_a_reader),
        cmocka_unit_test(test_many_threads_each_callback_runs_once),
        cmocka_unit_test(test_post_from_loop_thread),
        cmocka_unit_test(test_two_loops_post_to_each_other),
        cmocka_unit_test(test_post_racing_loop_end),
        cmocka_unit_test(test_post_does_not_touch_loop_after_publishing),
        cmocka_unit_test(test_null_loop_or_cb_is_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
