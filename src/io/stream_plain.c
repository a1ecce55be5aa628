/* SPDX-License-Identifier: MIT */
/* stream_plain.c — the stream transport over a plain descriptor (socket,
 * pipe, terminal), and its constructor, cio_stream_new (cio_open_connection,
 * which needs a TCP connection first, is net/tcp.c's).
 *
 * Reading suspends through cio_read; writing never suspends here (stream.c
 * decides when to wait for writability).
 */
#include "internal.h"

#include <sys/socket.h>
#include <unistd.h>

#include "io/fdio.h"
#include "loop.h"
#include "io/stream.h"

static ssize_t plain_read(cio_stream *s, void *buf, size_t n) { return cio_read(s->fd, buf, n); }

static ssize_t plain_try_write(cio_stream *s, const void *buf, size_t n)
{
    for (;;) {
        ssize_t r = write(s->fd, buf, n);
        if (r >= 0)
            return r;
        int err = errno;
        if (err == EINTR)
            continue;
        if (err == EAGAIN || err == EWOULDBLOCK)
            return 0;
        if (err == EPIPE)
            cio__fdio_consume_sigpipe();
        return -err;
    }
}

static int plain_wait_writable(cio_stream *s) { return cio_wait_writable(s->fd); }

static int plain_shutdown(cio_stream *s)
{
    if (shutdown(s->fd, SHUT_WR) == 0)
        return 0;
    if (errno != ENOTSOCK)
        return -errno;
    /* A pipe has no half-close: its reader sees the end when the write
     * end closes. */
    int err = cio_close(s->fd);
    s->fd = -1;
    return err;
}

static void plain_close(cio_stream *s)
{
    if (s->fd >= 0)
        cio_close(s->fd);
    s->fd = -1;
}

static const cio__stream_ops plain_ops = {
    .name = "plain",
    .read = plain_read,
    .try_write = plain_try_write,
    .wait_writable = plain_wait_writable,
    .shutdown = plain_shutdown,
    .close = plain_close,
};

cio_stream *cio_stream_new(int fd)
{
    if (fd < 0) {
        errno = EINVAL;
        return NULL;
    }
    int err = -EPERM;
    if (cio__context_loop) {
        /* Classify it now (and make it non-blocking): the first write may
         * not go through cio_write. Regular files are not streams. */
        cio__fd_state *st = cio__fd_get(fd, &err);
        if (st) {
            err = -EINVAL;
            if (st->kind != CIO__FD_FILE) {
                cio_stream *s = cio__stream_make(&plain_ops, NULL, fd);
                if (s)
                    return s;
                err = -ENOMEM;
            }
        }
    }
    cio_close(fd);
    errno = -err;
    return NULL;
}
