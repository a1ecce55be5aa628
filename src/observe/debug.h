/* debug.h — debug mode (CIO_DEBUG=1): the slow-task watchdog, the list of
 * tasks never awaited, peak stack use, and the SIGQUIT task dump.
 *
 * Reached through the trace hooks (trace.c), which call these only when
 * loop->debug is set.
 */
#ifndef CIO_DEBUG_H
#define CIO_DEBUG_H

#include "internal.h"
#include "core/scheduler.h"

struct cio_loop;

/* Reads CIO_DEBUG; if set, sets loop->debug, starts the watchdog thread and
 * installs the SIGQUIT handler. True if debug mode is on. */
bool cio__debug_open(struct cio_loop *loop);
/* Lists the tasks never awaited nor detached, stops the watchdog and gives
 * SIGQUIT back. Before the loop's tasks are freed. */
void cio__debug_close(struct cio_loop *loop);

/* Each iteration: prints the task dump that a SIGQUIT asked for. */
void cio__debug_iteration(struct cio_loop *loop);
/* The CPU goes from `from` to `to` (either NULL: the loop): ends from's
 * run (reporting it if it was slow) and starts timing to's. */
void cio__debug_switch(struct cio_loop *loop, cio_task *from, cio_task *to);
/* Fills the bottom of a fresh stack with a pattern, at the task's first run... */
void cio__debug_stack_paint(cio_task *t);
/* ... and, when it finishes, reports its peak use if over 75 %. */
void cio__debug_stack_check(cio_task *t);

/* dump.c: cio_dump_tasks for a given loop, under a heading line. */
void cio__dump_tasks(struct cio_loop *loop, FILE *out, const char *heading);

#endif
