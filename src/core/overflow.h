/* SPDX-License-Identifier: MIT */
/* overflow.h — turning a fault in a task's guard page into a message. */
#ifndef CIO_OVERFLOW_H
#define CIO_OVERFLOW_H

/* Installs (once per process) the SIGSEGV handler and gives the loop
 * thread an alternate signal stack, without which the handler could not
 * run on an overflowed stack. */
void cio__overflow_guard_begin(void);
/* Takes the loop thread's alternate stack back. */
void cio__overflow_guard_end(void);

#endif
