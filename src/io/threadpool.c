/* SPDX-License-Identifier: MIT */
/* threadpool.c — the worker threads, their queues, and cio_to_thread.
 *
 * Owns the pool (process-wide, started on first use) and the hand-over of
 * jobs in both directions: loop → worker through a lane's queue, worker →
 * loop through the loop's posted queue (callback.c), which wakes a loop
 * blocked in the OS. Each lane has its own queue and workers
 * (CIO_THREADPOOL_SIZE for general work, RESOLVER_WORKERS for name
 * lookups), so a lane full of slow jobs never delays another lane's.
 *
 * Lock order: pool.lock, then (inside cio__callback_post) the loop's posted lock;
 * never the other way. Invariant: a job is on its lane's queue, or being run
 * by exactly one worker, or posted back; its memory (on the submitting
 * task's stack) stays valid until the loop sets job->finished.
 */
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "loop.h"
#include "io/threadpool.h"

#define DEFAULT_WORKERS 4
#define MAX_WORKERS 256
/* Lookups mostly wait on the network: two at a time keeps a burst of slow
 * ones from piling up threads, and they cannot take the general lane's. */
#define RESOLVER_WORKERS 2

typedef struct pool_lane {
    /* Signalled (under pool.lock) when a job is queued in this lane. */
    pthread_cond_t nonempty;
    /* The lane's FIFO of queued jobs, linked through job->next. */
    cio__job *head, *tail;
    /* Workers started for this lane (0 until its first job). */
    unsigned workers;
} pool_lane;

static struct {
    /* Guards every lane's queue and worker count. */
    pthread_mutex_t lock;
    pool_lane lanes[CIO__LANE_COUNT];
} pool = {PTHREAD_MUTEX_INITIALIZER,
          {{PTHREAD_COND_INITIALIZER, NULL, NULL, 0}, {PTHREAD_COND_INITIALIZER, NULL, NULL, 0}}};
_Static_assert(CIO__LANE_COUNT == 2, "one initializer above per lane");

static void *worker_main(void *lane_arg)
{
    pool_lane *lane = lane_arg;
    for (;;) {
        pthread_mutex_lock(&pool.lock);
        while (!lane->head)
            pthread_cond_wait(&lane->nonempty, &pool.lock);
        cio__job *job = lane->head;
        lane->head = job->next;
        if (!lane->head)
            lane->tail = NULL;
        pthread_mutex_unlock(&pool.lock);
        job->work(job);
        cio__callback_post(job->loop, &job->done);
    }
    return NULL;
}

static unsigned configured_workers(unsigned lane)
{
    if (lane == CIO__LANE_RESOLVER)
        return RESOLVER_WORKERS;
    const char *env = getenv("CIO_THREADPOOL_SIZE");
    if (!env || !*env)
        return DEFAULT_WORKERS;
    char *end;
    long n = strtol(env, &end, 10);
    if (*end || n < 1)
        return DEFAULT_WORKERS;
    return n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

/* In a child of fork() none of the workers exist (fork copies only the
 * calling thread) and pool.lock may have been held by one of them: start
 * the pool afresh there on its next use, as libuv does. Jobs queued in the
 * parent belong to the parent's loops. */
static void pool_reset_in_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    for (unsigned i = 0; i < CIO__LANE_COUNT; i++) {
        pthread_cond_init(&pool.lanes[i].nonempty, NULL);
        pool.lanes[i].head = pool.lanes[i].tail = NULL;
        pool.lanes[i].workers = 0;
    }
}

/* Starts a lane's workers on its first use. Called with pool.lock held. */
static int start_workers(unsigned lane_index)
{
    static bool fork_handler_set;
    pool_lane *lane = &pool.lanes[lane_index];
    if (lane->workers)
        return 0;
    if (!fork_handler_set && pthread_atfork(NULL, NULL, pool_reset_in_child) == 0)
        fork_handler_set = true;
    unsigned want = configured_workers(lane_index);
    /* Workers take no signals: those belong to the application's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (unsigned i = 0; i < want; i++) {
        pthread_t th;
        if (pthread_create(&th, &attr, worker_main, lane) != 0)
            break;
        lane->workers++;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return lane->workers ? 0 : -EAGAIN;
}

static void job_done(void *arg)
{
    cio__job *job = arg;
    job->finished = true;
    if (job->waiter)
        cio__sched_wake(job->waiter, 0);
}

int cio__threadpool_run(cio__job *job)
{
    cio_loop *loop = cio__context_loop;
    if (!loop || !loop->current)
        return -EPERM;
    job->loop = loop;
    job->next = NULL;
    job->finished = false;
    job->waiter = NULL;
    job->done = (cio__posted){.cb = job_done, .arg = job, .owned = false};

    CIO__ASSERT(job->lane < CIO__LANE_COUNT);
    pool_lane *lane = &pool.lanes[job->lane];
    pthread_mutex_lock(&pool.lock);
    int err = start_workers(job->lane);
    if (err) {
        pthread_mutex_unlock(&pool.lock);
        return err;
    }
    if (lane->tail)
        lane->tail->next = job;
    else
        lane->head = job;
    lane->tail = job;
    pthread_cond_signal(&lane->nonempty);
    pthread_mutex_unlock(&pool.lock);

    int interrupted = 0;
    /* A worker will post the job back: cio__sched_wait counts each wait
     * (CIO__COUNT_OS), so the loop is not deadlocked meanwhile. */
    while (!job->finished) {
        cio__waiter w;
        cio__waiter_init(&w, CIO__WAIT_THREAD, job, NULL);
        /* After an interruption, wait on without one: the worker may still
         * be using the caller's memory. */
        w.cancellable = interrupted == 0;
        job->waiter = &w;
        int woke = cio__sched_wait(&w);
        job->waiter = NULL;
        if (woke && !interrupted)
            interrupted = woke;
    }
    return interrupted;
}

typedef struct to_thread_job {
    cio__job job;
    cio_fn fn;
    void *arg;
    int result;
} to_thread_job;

static void to_thread_work(cio__job *job)
{
    to_thread_job *j = (to_thread_job *)job;
    j->result = j->fn(j->arg);
}

int cio_to_thread(cio_fn fn, void *arg)
{
    if (!fn)
        return -EINVAL;
    int err = cio__sched_checkpoint();
    if (err)
        return err;
    to_thread_job j = {.job = {.work = to_thread_work}, .fn = fn, .arg = arg};
    err = cio__threadpool_run(&j.job);
    return err ? err : j.result;
}
