/* SPDX-License-Identifier: MIT */
/* dump.h — the task dump (dump.c), for debug mode's SIGQUIT. */
#ifndef CIO_DUMP_H
#define CIO_DUMP_H

#include "internal.h"

struct cio_loop;

/* cio_dump_tasks for a given loop, under a heading line. */
void cio__dump_tasks(struct cio_loop *loop, FILE *out, const char *heading);

#endif
