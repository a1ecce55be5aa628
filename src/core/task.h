/* SPDX-License-Identifier: MIT */
/* task.h — a task's life cycle (task.c): creation and the free list, the
 * end of a task, awaiting one, the walks over every task, and how tasks
 * are named in traces and reports. The task struct itself is
 * scheduler.h's, which switches tasks.
 */
#ifndef CIO_TASK_H
#define CIO_TASK_H

#include "core/scheduler.h"

/* Makes the loop's free list of task structs empty (loop open). */
void cio__task_init(struct cio_loop *loop);
void cio__task_finish(struct cio_task *t, int result);
void cio__task_free(struct cio_task *t);
/* How traces, dumps and reports name t: its name, or "task-N", written
 * into buf without allocating (cio_task_name makes and keeps a string; a
 * trace or a signal handler must not). */
const char *cio__task_label(const struct cio_task *t, char buf[32]);
/* The body of every task, run on its own stack. */
void cio__task_entry(void *task);
/* Waits until t is done: 0, or the error that interrupted a cancellable
 * wait (t then runs on). */
int cio__task_wait_done(struct cio_task *t, bool cancellable);
/* Cancels t and waits, uncancellably, until it has finished. */
int cio__task_stop(struct cio_task *t);
/* The argument checks of every call that awaits a task: -EINVAL, -EPERM,
 * -EDEADLK, -EBUSY, or 0. Aborts on a released handle, naming fn. */
int cio__task_check_awaitable(struct cio_task *t, const char *fn);
/* Aborts, naming fn, if t was already released (awaited, gathered or
 * detached) and its struct not yet reused. */
void cio__task_check_handle(const struct cio_task *t, const char *fn);
/* Calls fn(t, arg) on every task struct handed out and not yet freed (the
 * deadlock report and the task dump walk them). */
void cio__task_for_each(struct cio_loop *loop, void (*fn)(struct cio_task *t, void *arg),
                        void *arg);
/* Cancels every task that has not finished (cio_run's shutdown). */
void cio__task_cancel_all(struct cio_loop *loop);
/* Frees every task struct still allocated, then the blocks they came in
 * (loop close). */
void cio__task_blocks_free(struct cio_loop *loop);

/* Whether t has started running. A task cancelled before it starts never
 * does. */
static inline bool cio__task_started(const cio_task *t) { return t->state != CIO__TASK_NEW; }

#endif
