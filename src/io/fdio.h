/* fdio.h — what fdio.c (cio_read, cio_write and the other calls on
 * descriptors) offers the rest of the I/O layer. */
#ifndef CIO_FDIO_H
#define CIO_FDIO_H

/* Takes the SIGPIPE that a write meeting EPIPE raised (blocked on
 * the loop's thread) off the thread's pending set. For every write(2) to a
 * pipe or socket made outside cio_write (stream.c's non-suspending one). */
void cio__fdio_consume_sigpipe(void);

#endif
