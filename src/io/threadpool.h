/* SPDX-License-Identifier: MIT */
/* threadpool.h — work that must not run on the loop's thread (regular-file
 * I/O, cio_to_thread, name lookups) goes to a pool of worker threads shared
 * by every loop in the process, in lanes that do not share workers.
 */
#ifndef CIO_THREADPOOL_H
#define CIO_THREADPOOL_H

#include "core/callback.h"
#include "internal.h"

typedef struct cio__job cio__job;

/* The lanes of the pool: each has its own workers and queue, so that a slow
 * kind of job cannot starve the others. */
enum cio__job_lane {
    CIO__LANE_WORK = 0, /* regular files, cio_to_thread: CIO_THREADPOOL_SIZE workers */
    CIO__LANE_RESOLVER, /* getaddrinfo (addr.c): a few workers of its own, so that
                           slow DNS never delays file I/O */
    CIO__LANE_COUNT,
};

struct cio__job {
    /* Runs on a worker thread. */
    void (*work)(cio__job *job);
    /* Link in its lane's queue (pool lock). */
    cio__job *next;
    /* Which lane runs it (enum cio__job_lane); 0, the general one, unless
     * the submitter sets it. */
    uint8_t lane;
    /* Posted back to the submitting loop when work has returned. */
    cio__posted done;
    struct cio_loop *loop;
    /* The task waiting for it; `finished` is set on the loop thread. */
    cio__waiter *waiter;
    bool finished;
};

/* Runs job->work on the pool and parks the current task until it has
 * returned, even if the task is cancelled meanwhile (work may use the
 * task's memory). Returns 0; -ECANCELED / -ETIMEDOUT if the wait was
 * interrupted (the work has finished all the same); -EPERM outside a task;
 * -EAGAIN if no worker thread could be started. */
int cio__threadpool_run(cio__job *job);

#endif
