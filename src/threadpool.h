/* threadpool.h — work that must not run on the loop's thread (regular-file
 * I/O, cio_to_thread) goes to a pool of worker threads shared by every loop
 * in the process.
 */
#ifndef CIO_THREADPOOL_H
#define CIO_THREADPOOL_H

#include "callback.h"
#include "internal.h"

typedef struct cio__job cio__job;

struct cio__job {
    /* Runs on a worker thread. */
    void (*work)(cio__job *job);
    /* Link in the pool's queue (pool lock). */
    cio__job *next;
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
int cio__job_run(cio__job *job);

#endif
