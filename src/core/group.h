/* SPDX-License-Identifier: MIT */
/* group.h — what task groups (group.c) tell the rest of the core. */
#ifndef CIO_GROUP_H
#define CIO_GROUP_H

#include "core/scheduler.h"

/* Used by task.c: a child of a task group finished. A group
 * child's awaiter is the group's own waiter (kind CIO__WAIT_GROUP), which
 * is how cio__task_finish tells a child from an awaited task. */
void cio__group_child_done(cio__waiter *group_waiter, struct cio_task *child);
/* For the task dump: the task that made the group. */
struct cio_task *cio__group_parent(const cio_taskgroup *g);

#endif
