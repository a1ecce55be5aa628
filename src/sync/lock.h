/* SPDX-License-Identifier: MIT */
/* lock.h — what the rest of the library needs from lock.c beyond the public
 * API: an acquire that cannot be interrupted (a condition must hold its lock
 * again before cio_cond_wait returns, however the wait ended).
 */
#ifndef CIO_LOCK_H
#define CIO_LOCK_H

#include "internal.h"

/* cio_lock_acquire for the current task, without checkpoint, that neither
 * cancellation nor a timeout interrupts. Returns 0 (the lock is held). */
int cio__lock_acquire_uncancellable(cio_lock *l);

#endif
