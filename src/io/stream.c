/* SPDX-License-Identifier: MIT */
/* stream.c — the buffering every stream shares: reads into a buffer that
 * keeps whatever a failed read left (nothing is ever dropped), writes that
 * go out at once when they can and are buffered otherwise, backpressure
 * above the high-water mark, and a background flusher task.
 *
 * Transports (stream_plain.c, TLS later) only move bytes, through
 * cio__stream_ops. Whoever waits for the write buffer to shrink (a writer
 * over the high-water mark, a drain) sends it itself, beside the flusher:
 * sends never suspend halfway, so they cannot interleave.
 */
#include "internal.h"

#include <limits.h>
#include <string.h>

#include "core/task.h"
#include "io/stream.h"

/* The least room a read asks the transport to fill: fewer, larger reads. */
#define READ_MIN_ROOM 4096u

/* ------------------------------------------------------------- buffers */

static char *bytes_begin(const cio__bytes *b) { return b->data + b->start; }

static void bytes_consume(cio__bytes *b, size_t n)
{
    b->start += n;
    b->len -= n;
    if (b->len == 0)
        b->start = 0;
}

/* Makes room for at least `room` bytes after the content. */
static int bytes_reserve(cio__bytes *b, size_t room)
{
    if (b->cap - b->start - b->len >= room)
        return 0;
    if (b->cap - b->len >= room) {
        memmove(b->data, bytes_begin(b), b->len);
        b->start = 0;
        return 0;
    }
    size_t cap = CIO__MAX(CIO__MAX(b->cap * 2, b->len + room), (size_t)READ_MIN_ROOM);
    char *data = malloc(cap);
    if (!data)
        return -ENOMEM;
    if (b->len)
        memcpy(data, bytes_begin(b), b->len);
    free(b->data);
    b->data = data;
    b->cap = cap;
    b->start = 0;
    return 0;
}

static int bytes_append(cio__bytes *b, const void *p, size_t n)
{
    int err = bytes_reserve(b, n);
    if (err)
        return err;
    memcpy(b->data + b->start + b->len, p, n);
    b->len += n;
    return 0;
}

/* ----------------------------------------------------------- life cycle */

cio_stream *cio__stream_make(const cio__stream_ops *ops, void *impl, int fd)
{
    cio_stream *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->magic = CIO__STREAM_MAGIC;
    s->ops = ops;
    s->impl = impl;
    s->fd = fd;
    s->high_water = CIO_STREAM_HIGH_WATER;
    return s;
}

static void stream_free(cio_stream *s)
{
    free(s->rbuf.data);
    free(s->wbuf.data);
    free(s);
}

void cio__stream_destroy(cio_stream *s)
{
    /* From here on the stream is gone for its user, even while its
     * flusher still holds the memory. */
    CIO__POISON(s);
    /* Closing the transport wakes a flusher parked on the descriptor. */
    s->ops->close(s);
    cio_task *f = s->flusher;
    if (f && !cio_task_done(f)) {
        if (cio__task_started(f)) {
            /* It holds s and will run again: it frees s then. */
            s->abandoned = true;
            cio_cancel(f);
            return;
        }
        /* Cancelled before it runs, it never will. */
        cio_cancel(f);
    }
    if (f)
        cio_detach(f);
    stream_free(s);
}

/* ------------------------------------------------------------- writing */

/* Sends the head of the write buffer until at most `limit` bytes are left.
 * A transport error is kept in write_error (the data cannot go out);
 * cancellation and timeouts are the calling task's own and are not. */
static int flush_until(cio_stream *s, size_t limit)
{
    while (s->wbuf.len > limit) {
        if (s->write_error)
            return s->write_error;
        ssize_t r = s->ops->try_write(s, bytes_begin(&s->wbuf), s->wbuf.len);
        if (r > 0) {
            bytes_consume(&s->wbuf, (size_t)r);
            continue;
        }
        int err = r < 0 ? (int)r : s->ops->wait_writable(s);
        if (err) {
            if (err != -ECANCELED && err != -ETIMEDOUT)
                s->write_error = err;
            return err;
        }
    }
    return 0;
}

/* The background flusher: sends what writes left in the buffer. */
static int flusher_main(void *arg)
{
    cio_stream *s = arg;
    int err = flush_until(s, 0);
    if (s->abandoned) {
        /* Released meanwhile, transport closed: the rest is ours to free,
         * and so is this task's handle. */
        cio_detach(cio_current_task());
        stream_free(s);
    }
    return err;
}

/* Makes sure a flusher will send what the buffer holds. */
static int ensure_flusher(cio_stream *s)
{
    if (s->flusher) {
        if (!cio_task_done(s->flusher))
            return 0;
        cio_detach(s->flusher);
        s->flusher = NULL;
    }
    /* While the loop shuts down, the task is cancelled from birth and never
     * runs; the data is then sent only by a drain, if anyone drains. */
    s->flusher = cio_create_task(flusher_main, s);
    return s->flusher ? 0 : -errno;
}

int cio_stream_write(cio_stream *s, const void *buf, size_t n)
{
    CIO__CHECK_LIVE(s, CIO__STREAM_MAGIC, "cio_stream_write", "stream");
    if (!s || (!buf && n))
        return -EINVAL;
    int err = cio__sched_checkpoint();
    if (err)
        return err;
    if (s->write_closed)
        return -EPIPE;
    const char *p = buf;
    while (n) {
        if (s->write_error)
            return s->write_error;
        if (s->wbuf.len == 0) {
            /* Nothing queued ahead: straight to the transport. */
            ssize_t r = s->ops->try_write(s, p, n);
            if (r < 0)
                return s->write_error = (int)r;
            p += r;
            n -= (size_t)r;
            if (!n)
                break;
        }
        if (s->wbuf.len >= s->high_water) {
            if ((err = flush_until(s, s->high_water / 4)))
                return err;
            continue;
        }
        size_t take = CIO__MIN(n, s->high_water - s->wbuf.len);
        if ((err = bytes_append(&s->wbuf, p, take)))
            return err;
        p += take;
        n -= take;
        if ((err = ensure_flusher(s)))
            return err;
    }
    return 0;
}

int cio_stream_set_high_water(cio_stream *s, size_t bytes)
{
    CIO__CHECK_LIVE(s, CIO__STREAM_MAGIC, "cio_stream_set_high_water", "stream");
    if (!s)
        return -EINVAL;
    s->high_water = bytes ? bytes : CIO_STREAM_HIGH_WATER;
    return 0;
}

int cio_stream_drain(cio_stream *s)
{
    CIO__CHECK_LIVE(s, CIO__STREAM_MAGIC, "cio_stream_drain", "stream");
    if (!s)
        return -EINVAL;
    int err = cio__sched_checkpoint();
    if (err)
        return err;
    return s->write_error ? s->write_error : flush_until(s, 0);
}

int cio_stream_write_eof(cio_stream *s)
{
    CIO__CHECK_LIVE(s, CIO__STREAM_MAGIC, "cio_stream_write_eof", "stream");
    if (!s)
        return -EINVAL;
    if (s->write_closed)
        return -EPIPE;
    int err = cio_stream_drain(s);
    if (err)
        return err;
    s->write_closed = true;
    return s->ops->shutdown(s);
}

int cio_stream_close(cio_stream *s)
{
    CIO__CHECK_LIVE(s, CIO__STREAM_MAGIC, "cio_stream_close", "stream");
    if (!s)
        return -EINVAL;
    int err = s->wbuf.len ? cio_stream_drain(s) : 0;
    cio__stream_destroy(s);
    return err;
}

int cio_stream_fd(const cio_stream *s)
{
    CIO__CHECK_LIVE(s, CIO__STREAM_MAGIC, "cio_stream_fd", "stream");
    return s ? s->fd : -EINVAL;
}

/* ------------------------------------------------------------- reading */

/* Reads what the transport has into the read buffer. */
static ssize_t fill(cio_stream *s)
{
    cio__bytes *b = &s->rbuf;
    int err = bytes_reserve(b, READ_MIN_ROOM);
    if (err)
        return err;
    ssize_t r = s->ops->read(s, b->data + b->start + b->len, b->cap - b->start - b->len);
    if (r > 0)
        b->len += (size_t)r;
    return r;
}

/* Moves the first n buffered bytes to buf. */
static void take(cio_stream *s, void *buf, size_t n)
{
    if (!n)
        return; /* the buffer may not even exist yet */
    memcpy(buf, bytes_begin(&s->rbuf), n);
    bytes_consume(&s->rbuf, n);
}

ssize_t cio_stream_read(cio_stream *s, void *buf, size_t n)
{
    CIO__CHECK_LIVE(s, CIO__STREAM_MAGIC, "cio_stream_read", "stream");
    if (!s || (!buf && n))
        return -EINVAL;
    int err = cio__sched_checkpoint();
    if (err)
        return err;
    if (n == 0)
        return 0;
    if (s->rbuf.len) {
        size_t k = CIO__MIN(n, s->rbuf.len);
        take(s, buf, k);
        return (ssize_t)k;
    }
    /* Nothing buffered: read straight into the caller's memory. */
    return s->ops->read(s, buf, n);
}

ssize_t cio_stream_readexactly(cio_stream *s, void *buf, size_t n)
{
    CIO__CHECK_LIVE(s, CIO__STREAM_MAGIC, "cio_stream_readexactly", "stream");
    if (!s || (!buf && n) || n > SSIZE_MAX)
        return -EINVAL;
    int err = cio__sched_checkpoint();
    if (err)
        return err;
    if (s->rbuf.len < n && (err = bytes_reserve(&s->rbuf, n - s->rbuf.len)))
        return err;
    while (s->rbuf.len < n) {
        ssize_t r = fill(s);
        if (r <= 0)
            return r == 0 ? CIO_EOF : r;
    }
    take(s, buf, n);
    return (ssize_t)n;
}

/* readuntil's work, after the argument checks. */
static ssize_t read_until(cio_stream *s, const void *sep, size_t seplen, void *buf, size_t cap)
{
    /* The buffered bytes before this offset hold no separator start. */
    size_t scanned = 0;
    for (;;) {
        cio__bytes *b = &s->rbuf;
        if (b->len >= seplen) {
            const char *base = bytes_begin(b);
            const char *hit = memmem(base + scanned, b->len - scanned, sep, seplen);
            if (hit) {
                size_t end = (size_t)(hit - base) + seplen;
                if (end > cap)
                    return -ENOBUFS;
                take(s, buf, end);
                return (ssize_t)end;
            }
            scanned = b->len - seplen + 1;
        }
        /* Any separator still to come would end past cap. With nothing
         * buffered (cap 0) it takes a read to tell that from the end of
         * the stream, which readline reports as 0. */
        if (b->len >= cap && b->len > 0)
            return -ENOBUFS;
        ssize_t r = fill(s);
        if (r <= 0)
            return r == 0 ? CIO_EOF : r;
    }
}

ssize_t cio_stream_readuntil(cio_stream *s, const void *sep, size_t seplen, void *buf,
                             size_t cap)
{
    CIO__CHECK_LIVE(s, CIO__STREAM_MAGIC, "cio_stream_readuntil", "stream");
    if (!s || !sep || !seplen || (!buf && cap) || cap > SSIZE_MAX)
        return -EINVAL;
    int err = cio__sched_checkpoint();
    if (err)
        return err;
    return read_until(s, sep, seplen, buf, cap);
}

ssize_t cio_stream_readline(cio_stream *s, char *buf, size_t cap)
{
    CIO__CHECK_LIVE(s, CIO__STREAM_MAGIC, "cio_stream_readline", "stream");
    if (!s || !buf || !cap || cap > SSIZE_MAX)
        return -EINVAL;
    int err = cio__sched_checkpoint();
    if (err)
        return err;
    /* One byte of cap is the terminating NUL's. */
    ssize_t r = read_until(s, "\n", 1, buf, cap - 1);
    if (r == CIO_EOF && s->rbuf.len == 0)
        r = 0;
    if (r >= 0)
        buf[r] = '\0';
    return r;
}
