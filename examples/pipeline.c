/* SPDX-License-Identifier: MIT */
/* pipeline.c — producer/consumer: a producer feeds a bounded queue, a pool
 * of workers in a task group drains it, and a results queue collects what
 * they made. The bound gives backpressure: the producer waits whenever the
 * workers fall behind. Shutting the queue down tells the workers to stop.
 *
 * asyncio:   q = asyncio.Queue(maxsize=4)
 *            async with asyncio.TaskGroup() as tg:
 *                for i in range(3): tg.create_task(worker(i, q, results))
 *                for n in range(1, 13): await q.put(n)
 *                await q.join(); q.shutdown()
 */
#include <cio.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#define WORKERS 3
#define JOBS 12

typedef struct pipeline {
    cio_queue *jobs;    /* numbers to square, bounded */
    cio_queue *results; /* squares, unbounded */
} pipeline;

typedef struct worker {
    pipeline *p;
    int id;
} worker;

static int worker_main(void *arg)
{
    worker *w = arg;
    void *item;
    int err;
    /* -EPIPE: the queue was shut down and is empty — the normal end. */
    while ((err = cio_queue_get(w->p->jobs, &item)) == 0) {
        intptr_t n = (intptr_t)item;
        /* Simulated work: larger numbers take longer. */
        cio_sleep(0.01 * (double)(n % 4 + 1));
        printf("worker %d: %2ld squared is %3ld\n", w->id, (long)n, (long)(n * n));
        err = cio_queue_put(w->p->results, (void *)(n * n));
        cio_queue_task_done(w->p->jobs);
        if (err)
            return err;
    }
    return err == -EPIPE ? 0 : err;
}

static int main_task(void *arg)
{
    (void)arg;
    pipeline p = {cio_queue_new(4), cio_queue_new(0)};
    if (!p.jobs || !p.results)
        return -ENOMEM;
    worker workers[WORKERS];
    cio_taskgroup *g = cio_taskgroup_new();
    if (!g)
        return -errno;
    int err = 0;
    for (int i = 0; i < WORKERS && !err; i++) {
        workers[i] = (worker){&p, i + 1};
        err = cio_taskgroup_create_task(g, worker_main, &workers[i]);
    }
    /* The producer is the group's parent: if a worker fails, these calls
     * return -ECANCELED and it goes straight to the wait. */
    for (intptr_t n = 1; n <= JOBS && !err; n++)
        err = cio_queue_put(p.jobs, (void *)n);
    if (!err)
        err = cio_queue_join(p.jobs);
    cio_queue_shutdown(p.jobs, false);
    int group_err = cio_taskgroup_wait(g);
    if (!err)
        err = group_err;

    long sum = 0;
    void *item;
    while (cio_queue_get_nowait(p.results, &item) == 0)
        sum += (long)(intptr_t)item;
    printf("sum of squares 1..%d: %ld (expected %d)\n", JOBS, sum,
           JOBS * (JOBS + 1) * (2 * JOBS + 1) / 6);
    cio_queue_free(p.jobs);
    cio_queue_free(p.results);
    return err;
}

int main(void)
{
    int r = cio_run(main_task, NULL);
    if (r < 0)
        fprintf(stderr, "pipeline: %s\n", cio_strerror(r));
    return r < 0;
}
