/* SPDX-License-Identifier: MIT */
/* deadlock.h — "all tasks are asleep" (deadlock.c). */
#ifndef CIO_DEADLOCK_H
#define CIO_DEADLOCK_H

#include "internal.h"

/* Called (by loop.c) when the loop would block in the OS without a
 * timeout. If nothing can ever wake a task, prints every waiting task and
 * what it waits on to stderr, sets loop->deadlocked and returns true (and
 * aborts if the loop is already shutting down, since cancellation could
 * not end the waits). */
bool cio__deadlock_found(struct cio_loop *loop);

#endif
