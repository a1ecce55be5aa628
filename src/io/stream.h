/* SPDX-License-Identifier: MIT */
/* stream.h — the stream interface: the operations a transport implements
 * (a plain descriptor in stream_plain.c; TLS later) beneath the buffering
 * that every stream shares (stream.c).
 *
 * A transport moves bytes; stream.c owns the read and write buffers,
 * backpressure, the background flusher and the stream's life cycle.
 */
#ifndef CIO_STREAM_H
#define CIO_STREAM_H

#include "internal.h"

typedef struct cio__stream_ops {
    /* The transport's name, for messages ("plain", "tls"). */
    const char *name;
    /* Reads up to n bytes (n > 0), suspending until at least one is there:
     * the count, 0 at the end of the stream, or -errno. Consumes nothing
     * when it fails. */
    ssize_t (*read)(cio_stream *s, void *buf, size_t n);
    /* Writes what the transport takes right now, without suspending: the
     * count (0: nothing fits now), or -errno. */
    ssize_t (*try_write)(cio_stream *s, const void *buf, size_t n);
    /* Suspends until try_write can make progress: 0 or -errno. */
    int (*wait_writable)(cio_stream *s);
    /* Ends the sending direction (all data has been written): 0 or -errno.
     * May suspend. */
    int (*shutdown)(cio_stream *s);
    /* Releases the transport (descriptor, session) without suspending;
     * wakes any task of the stream's that waits on the descriptor. */
    void (*close)(cio_stream *s);
} cio__stream_ops;

/* A byte buffer: data[start, start + len) is the content. */
typedef struct cio__bytes {
    /* malloc'd storage of cap bytes (NULL until first needed). */
    char *data;
    size_t cap;
    /* Where the content begins, and how long it is. */
    size_t start, len;
} cio__bytes;

struct cio_stream {
    /* The transport, and its own state (NULL for a plain descriptor). A
     * transport may be replaced in place (a TLS upgrade) while both
     * buffers are empty. */
    const cio__stream_ops *ops;
    void *impl;
    /* The descriptor underneath; -1 once a pipe's write end is closed. */
    int fd;
    /* Received and not yet consumed. */
    cio__bytes rbuf;
    /* Accepted by cio_stream_write and not yet taken by the transport. */
    cio__bytes wbuf;
    /* cio_stream_write suspends while wbuf holds more than this, until it
     * is down to a quarter of it. */
    size_t high_water;
    /* The first error of the background flusher: every later write and
     * drain returns it (the data it could not send cannot be sent). */
    int write_error;
    /* cio_stream_write_eof has run: writes give -EPIPE. */
    bool write_closed;
    /* The task sending wbuf in the background: NULL, or the stream's
     * handle, which may have finished; a finished one is released when a
     * write needs a flusher again, or by the stream's release. */
    cio_task *flusher;
    /* The stream was released while its flusher still had to run: the
     * flusher frees it (the transport is already closed). */
    bool abandoned;
    /* CIO__STREAM_MAGIC while usable, CIO__MAGIC_FREED from the stream's
     * release on (internal.h): every public call on a stream checks it. */
    uint32_t magic;
};

#define CIO__STREAM_MAGIC CIO__MAGIC('s', 't', 'r', 'm')

/* Makes a stream on a transport. Returns NULL with errno ENOMEM (the
 * transport is then the caller's to release). */
cio_stream *cio__stream_make(const cio__stream_ops *ops, void *impl, int fd);

/* Releases the stream without suspending: unsent data is dropped, the
 * transport closed, the memory freed (by the flusher, if it still has to
 * run). No other call may be in progress on the stream. */
void cio__stream_destroy(cio_stream *s);

#endif
