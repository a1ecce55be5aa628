/* SPDX-License-Identifier: MIT */
/* fdio.h — what fdio.c (cio_read, cio_write and the other calls on
 * descriptors) offers the rest of the library. */
#ifndef CIO_FDIO_H
#define CIO_FDIO_H

#include <stddef.h>

/* Takes the SIGPIPE that a write meeting EPIPE raised (blocked on
 * the loop's thread) off the thread's pending set. For every write(2) to a
 * pipe or socket made outside cio_write (stream.c's non-suspending one). */
CIO__COMPONENT void cio__fdio_consume_sigpipe(void);

/* fd is about to be read by code outside cio (OpenSSL reads the socket
 * itself after a STARTTLS): the bytes a completion backend received ahead,
 * which the descriptor no longer holds, are handed over in *data (malloc'd,
 * *len bytes; NULL and 0 if none), and nothing more is received ahead.
 * Suspends while the backend stops. Returns 0 or -errno. */
CIO__COMPONENT int cio__fdio_take_input(int fd, char **data, size_t *len);

#endif
