/* SPDX-License-Identifier: MIT */
/* fanout.h — several observers behind the loop's one table.
 *
 * The loop holds one cio_observer (loop->observer); this file's table
 * passes each event on to every observer added, in the order they were
 * added: the trace, debug mode (both added when the loop opens, by loop.c)
 * and the application's (cio_observer_add).
 */
#ifndef CIO_FANOUT_H
#define CIO_FANOUT_H

#include "internal.h"

struct cio_loop;

/* Adds (ops, arg) to loop's observers: 0, -EINVAL (already there) or
 * -ENOMEM. */
int cio__fanout_add(struct cio_loop *loop, const cio_observer *ops, void *arg);
/* Removes (ops, arg): 0 or -ENOENT. */
int cio__fanout_remove(struct cio_loop *loop, const cio_observer *ops, void *arg);
/* Drops every observer and the fan-out itself (loop close). */
void cio__fanout_close(struct cio_loop *loop);

#endif
