/* SPDX-License-Identifier: MIT */
/* errors.h — the loud abort (errors.c), behind internal.h's CIO__PANIC
 * and CIO__ASSERT; cio_strerror, the other half of errors.c, is public. */
#ifndef CIO_ERRORS_H
#define CIO_ERRORS_H

/* Writes "cio: fatal: file:line: message" to stderr and aborts. */
CIO__COMPONENT void cio__errors_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4), cold));

#endif
