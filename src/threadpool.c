/* threadpool.c — the worker threads, their queue, and cio_to_thread.
 *
 * Owns the pool (process-wide, started on first use, CIO_THREADPOOL_SIZE
 * workers) and the hand-over of jobs in both directions: loop → worker
 * through the pool queue, worker → loop through the loop's posted queue
 * (callback.c), which wakes a loop blocked in the OS.
 *
 * Lock order: pool.lock, then (inside cio__post) the loop's posted lock;
 * never the other way. Invariant: a job is on the pool queue, or being run
 * by exactly one worker, or posted back; its memory (on the submitting
 * task's stack) stays valid until the loop sets job->finished.
 */
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "loop.h"
#include "threadpool.h"

#define DEFAULT_WORKERS 4
#define MAX_WORKERS 256

static struct {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    cio__job *head, *tail;
    unsigned workers;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0};

static void *worker_main(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&pool.lock);
        while (!pool.head)
            pthread_cond_wait(&pool.nonempty, &pool.lock);
        cio__job *job = pool.head;
        pool.head = job->next;
        if (!pool.head)
            pool.tail = NULL;
        pthread_mutex_unlock(&pool.lock);
        job->work(job);
        cio__post(job->loop, &job->done);
    }
    return NULL;
}

static unsigned configured_workers(void)
{
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
    pthread_cond_init(&pool.nonempty, NULL);
    pool.head = pool.tail = NULL;
    pool.workers = 0;
}

/* Starts the workers on first use. Called with pool.lock held. */
static int start_workers(void)
{
    static bool fork_handler_set;
    if (pool.workers)
        return 0;
    if (!fork_handler_set && pthread_atfork(NULL, NULL, pool_reset_in_child) == 0)
        fork_handler_set = true;
    unsigned want = configured_workers();
    /* Workers take no signals: those belong to the application's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (unsigned i = 0; i < want; i++) {
        pthread_t th;
        if (pthread_create(&th, &attr, worker_main, NULL) != 0)
            break;
        pool.workers++;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool.workers ? 0 : -EAGAIN;
}

static void job_done(void *arg)
{
    cio__job *job = arg;
    job->finished = true;
    if (job->waiter)
        cio__wake(job->waiter, 0);
}

int cio__job_run(cio__job *job)
{
    cio_loop *loop = cio__loop;
    if (!loop || !loop->current)
        return -EPERM;
    job->loop = loop;
    job->next = NULL;
    job->finished = false;
    job->waiter = NULL;
    job->done = (cio__posted){.cb = job_done, .arg = job, .owned = false};

    pthread_mutex_lock(&pool.lock);
    int err = start_workers();
    if (err) {
        pthread_mutex_unlock(&pool.lock);
        return err;
    }
    if (pool.tail)
        pool.tail->next = job;
    else
        pool.head = job;
    pool.tail = job;
    pthread_cond_signal(&pool.nonempty);
    pthread_mutex_unlock(&pool.lock);

    int interrupted = 0;
    /* A worker will post the job back: the loop is not deadlocked meanwhile. */
    loop->wake_sources++;
    while (!job->finished) {
        cio__waiter w;
        cio__waiter_init(&w, CIO__WAIT_THREAD, job, NULL);
        /* After an interruption, wait on without one: the worker may still
         * be using the caller's memory. */
        w.cancellable = interrupted == 0;
        job->waiter = &w;
        int woke = cio__wait(&w);
        job->waiter = NULL;
        if (woke && !interrupted)
            interrupted = woke;
    }
    loop->wake_sources--;
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
    err = cio__job_run(&j.job);
    return err ? err : j.result;
}
