/* SPDX-License-Identifier: MIT */
/* debug.h — debug mode (CIO_DEBUG=1): the slow-task watchdog, the list of
 * tasks never awaited, peak stack use, and the SIGQUIT task dump.
 *
 * An observer of the loop (cio_observer), like the trace.
 */
#ifndef CIO_DEBUG_H
#define CIO_DEBUG_H

#include "internal.h"
#include "core/scheduler.h"

struct cio_loop;

/* Reads CIO_DEBUG; if set, adds debug mode's observer to the loop, sets
 * loop->debug, starts the watchdog thread and installs the SIGQUIT
 * handler. */
void cio__debug_open(struct cio_loop *loop);
/* Lists the tasks never awaited nor detached, stops the watchdog, gives
 * SIGQUIT back and removes the observer. Before the loop's tasks are
 * freed. Nothing if debug mode is off. */
void cio__debug_close(struct cio_loop *loop);

#endif
