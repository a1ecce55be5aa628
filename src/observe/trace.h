/* SPDX-License-Identifier: MIT */
/* trace.h — CIO_TRACE: the narrated trace and the Chrome trace-event JSON,
 * an observer of the loop (trace.c).
 *
 * Opened by loop.c when the loop opens (after debug mode, so that its
 * start-up is not in the trace) and closed before the loop's tasks are
 * freed. Cheap when off: the loop then has no observer for it, and the
 * core's event sites cost one predicted test each (core/observe.h).
 */
#ifndef CIO_TRACE_H
#define CIO_TRACE_H

#include "internal.h"

struct cio_loop;

/* Reads CIO_TRACE; if it asks for a narration or a JSON file, adds the
 * trace's observer to the loop and sets loop->trace. Timestamps are
 * relative to loop->counters.started_ns, which must be set. */
void cio__trace_open(struct cio_loop *loop);
/* Removes the trace's observer, closes the JSON file and frees the trace. */
void cio__trace_close(struct cio_loop *loop);

#endif
