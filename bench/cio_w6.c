/* SPDX-License-Identifier: MIT */
/* cio_w6.c — W6 hand-off: ns per hand-off between two tasks.
 *
 *   --mode queue   two tasks, two queues of maxsize 1: A puts v on q1 and
 *                  gets from q2, B gets from q1 and puts v + 1 on q2; N
 *                  round trips, 2N hand-offs; the final value must be N.
 *   --mode lock    two tasks each acquire one lock, yield once holding it,
 *                  release, N times each; FIFO hand-off makes them
 *                  alternate: 2N acquisitions, 2N - 1 changes of holder.
 *
 * --n N sets the round trips (per task for lock); default WORKLOADS.md's N.
 * Compare with two W2 switches (cio_w2).
 *
 * asyncio:   asyncio.Queue(maxsize=1) pair; asyncio.Lock + sleep(0)
 */
#include <cio.h>
#include <string.h>

#include "common.h"

static long rounds;

typedef struct pingpong {
    cio_queue *q1, *q2;
} pingpong;

static int ping(void *arg)
{
    pingpong *p = arg;
    intptr_t v = 0;
    for (long i = 0; i < rounds; i++) {
        void *item;
        if (cio_queue_put(p->q1, (void *)v) || cio_queue_get(p->q2, &item))
            bench_die("ping: a queue call failed");
        v = (intptr_t)item;
    }
    return (int)v;
}

static int pong(void *arg)
{
    pingpong *p = arg;
    for (long i = 0; i < rounds; i++) {
        void *item;
        if (cio_queue_get(p->q1, &item) || cio_queue_put(p->q2, (void *)((intptr_t)item + 1)))
            bench_die("pong: a queue call failed");
    }
    return 0;
}

typedef struct lock_state {
    cio_lock *lock;
    /* The task that held the lock last, and how often the holder changed. */
    int last;
    long changes;
} lock_state;

typedef struct locker {
    lock_state *s;
    int id;
} locker;

static int lock_loop(void *arg)
{
    locker *k = arg;
    for (long i = 0; i < rounds; i++) {
        if (cio_lock_acquire(k->s->lock))
            bench_die("cio_lock_acquire failed");
        if (k->s->last != k->id) {
            k->s->last = k->id;
            k->s->changes++;
        }
        cio_yield();
        cio_lock_release(k->s->lock);
    }
    return 0;
}

static const char *mode = "queue";

static int main_task(void *arg)
{
    (void)arg;
    long handoffs = 2 * rounds;
    int64_t t0, elapsed;
    if (strcmp(mode, "queue") == 0) {
        pingpong p = {cio_queue_new(1), cio_queue_new(1)};
        t0 = bench_now_ns();
        cio_task *a = cio_create_task(ping, &p);
        cio_task *b = cio_create_task(pong, &p);
        int value = cio_await(a);
        cio_await(b);
        elapsed = bench_now_ns() - t0;
        cio_queue_free(p.q1);
        cio_queue_free(p.q2);
        bench_result("workload=w6-queue impl=cio backend=%s rounds=%ld value=%d handoffs=%ld "
                     "elapsed_ms=%.3f ns_per_handoff=%.3f",
                     cio_backend_name(), rounds, value, handoffs, bench_ms(elapsed),
                     (double)elapsed / (double)handoffs);
    } else {
        lock_state s = {cio_lock_new(), 0, 0};
        locker ka = {&s, 1}, kb = {&s, 2};
        t0 = bench_now_ns();
        cio_task *a = cio_create_task(lock_loop, &ka);
        cio_task *b = cio_create_task(lock_loop, &kb);
        cio_await(a);
        cio_await(b);
        elapsed = bench_now_ns() - t0;
        cio_lock_free(s.lock);
        bench_result("workload=w6-lock impl=cio backend=%s rounds=%ld acquisitions=%ld "
                     "changes=%ld elapsed_ms=%.3f ns_per_handoff=%.3f",
                     cio_backend_name(), rounds, handoffs, s.changes, bench_ms(elapsed),
                     (double)elapsed / (double)handoffs);
    }
    return 0;
}

int main(int argc, char **argv)
{
    rounds = bench_opt_long(argc, argv, "n", BENCH_N);
    const char *m = bench_opt(argc, argv, "mode");
    if (m) {
        if (strcmp(m, "queue") != 0 && strcmp(m, "lock") != 0)
            bench_die("--mode wants queue or lock, not '%s'", m);
        mode = m;
    }
    int r = cio_run(main_task, NULL);
    if (r != 0)
        bench_die("cio_run: %s", cio_strerror(r));
    return 0;
}
