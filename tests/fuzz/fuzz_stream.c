/* SPDX-License-Identifier: MIT */
/* fuzz_stream.c — the stream readers against a model of their contract.
 *
 * A writer task sends the payload over a socketpair (or a TCP connection
 * on 127.0.0.1, whose segments the kernel cuts its own way) in chunks the
 * input chooses, yielding between them; a reader task, on a cio_stream
 * over the other end, calls read, readexactly, readline and readuntil with
 * sizes the input chooses, some of them in a task cancelled part-way
 * (which must then have consumed nothing). The reader knows the whole
 * payload, so each result is checked against what cio.h promises for the
 * bytes not yet consumed: every byte returned is the next byte of the
 * payload (none invented, dropped, repeated or reordered), the error codes
 * are the documented ones (-ENOBUFS, CIO_EOF, 0 at a clean end), and at
 * the end all was consumed.
 *
 * Input: byte 0 = (reader ops << 4) | (TCP << 3) | writer chunks (0-7);
 * then one byte per writer chunk; then two bytes (kind, size) per reader
 * op; the rest is the payload. Chunks and ops are used round-robin until
 * the payload is done.
 */
#include "fuzz.h"

#include <sys/socket.h>

typedef struct script {
    const uint8_t *chunks; /* one byte per writer chunk */
    size_t nchunks;
    const uint8_t *ops; /* two bytes per reader op */
    size_t nops;
    const uint8_t *payload;
    size_t len;
    bool tcp; /* a loopback TCP connection instead of a socketpair */
    int wfd;  /* the writer's end */
} script;

/* The separators readuntil is tried with (some overlap with themselves). */
static const struct {
    const char *bytes;
    size_t len;
} seps[8] = {{"\n", 1}, {"\r\n", 2}, {"\r\n\r\n", 4}, {"a", 1},
             {"aa", 2}, {"aab", 3},  {"\0", 1},       {"ab\nab", 5}};

/* Chunk byte c: 1..64 bytes times 1, 7 or 61, or one byte; a yield after
 * each chunk, two when bit 6 and 7 are both set. */
static size_t chunk_size(uint8_t c)
{
    static const size_t scale[4] = {1, 7, 61, 1};
    return ((size_t)(c & 63) + 1) * scale[c >> 6];
}

static int writer_task(void *arg)
{
    script *sc = arg;
    size_t off = 0;
    for (size_t i = 0; off < sc->len; i++) {
        uint8_t c = sc->nchunks ? sc->chunks[i % sc->nchunks] : 0xff;
        size_t n = sc->nchunks ? chunk_size(c) : sc->len;
        if (n > sc->len - off)
            n = sc->len - off;
        ssize_t w = cio_write(sc->wfd, sc->payload + off, n);
        FUZZ_CHECK(w == (ssize_t)n, "cio_write returned %zd (%s)", w, cio_strerror((int)w));
        off += n;
        FUZZ_CHECK(cio_yield() == 0, "cio_yield failed");
        if ((c >> 6) == 3)
            FUZZ_CHECK(cio_yield() == 0, "cio_yield failed");
    }
    /* The end of the stream, which the reader's model expects last. */
    FUZZ_CHECK(shutdown(sc->wfd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
    return 0;
}

/* Where the first sep[0..seplen) in p[0..n) ends, or 0 if there is none. */
static size_t sep_end(const uint8_t *p, size_t n, const char *sep, size_t seplen)
{
    const uint8_t *hit = memmem(p, n, sep, seplen);
    return hit ? (size_t)(hit - p) + seplen : 0;
}

/* What readuntil(sep, cap) must return with rest[0..n) still to come and
 * then the end: the separator's end if it is within cap, -ENOBUFS if it
 * (or cap bytes without one) is past cap, CIO_EOF if the stream ends
 * first. */
static ssize_t model_until(const uint8_t *rest, size_t n, const char *sep, size_t seplen,
                           size_t cap)
{
    size_t end = sep_end(rest, n, sep, seplen);
    if (end)
        return end <= cap ? (ssize_t)end : -ENOBUFS;
    return n >= cap ? -ENOBUFS : CIO_EOF;
}

/* One call of a reader: kind & 3 picks which, kind >> 5 readuntil's
 * separator. */
typedef struct reader_call {
    cio_stream *s;
    uint8_t kind;
    uint8_t *buf;
    size_t size;
    ssize_t got;
} reader_call;

static const char *const reader_names[4] = {"read", "readexactly", "readline", "readuntil"};

static ssize_t call_reader(reader_call *c)
{
    switch (c->kind & 3) {
    case 0:
        return cio_stream_read(c->s, c->buf, c->size);
    case 1:
        return cio_stream_readexactly(c->s, c->buf, c->size);
    case 2:
        return cio_stream_readline(c->s, (char *)c->buf, c->size);
    default: {
        size_t k = (c->kind >> 5) & 7;
        return cio_stream_readuntil(c->s, seps[k].bytes, seps[k].len, c->buf, c->size);
    }
    }
}

static int reader_call_task(void *arg)
{
    reader_call *c = arg;
    c->got = call_reader(c);
    return 0;
}

/* The call in a task of its own, cancelled after `yields` turns of the
 * loop: it either finished first (its result is checked as any other) or
 * returns -ECANCELED having consumed nothing, which the next calls check
 * by finding the same bytes still there. */
static ssize_t call_reader_cancelled(reader_call *c, unsigned yields)
{
    c->got = -ECANCELED; /* what a task cancelled before it ran "returns" */
    cio_task *t = cio_create_task(reader_call_task, c);
    FUZZ_CHECK(t, "cio_create_task failed");
    for (unsigned i = 0; i < yields; i++)
        FUZZ_CHECK(cio_yield() == 0, "cio_yield failed");
    cio_cancel(t);
    int r = cio_await(t);
    FUZZ_CHECK(r == 0 || r == -ECANCELED, "cio_await returned %d", r);
    return c->got;
}

/* What the reader must return with rest[0..n) still to come, then the
 * end; for read, which may return any count, `got` if it is one of them. */
static ssize_t model(const reader_call *c, const uint8_t *rest, size_t n)
{
    switch (c->kind & 3) {
    case 0:
        if (n == 0)
            return 0;
        return c->got >= 1 && (size_t)c->got <= c->size && (size_t)c->got <= n ? c->got : -1;
    case 1:
        return n >= c->size ? (ssize_t)c->size : CIO_EOF;
    case 2:
        /* A line of length L (with its '\n') needs L + 1 bytes of cap. */
        return n == 0 ? 0 : model_until(rest, n, "\n", 1, c->size - 1);
    default: {
        size_t k = (c->kind >> 5) & 7;
        return model_until(rest, n, seps[k].bytes, seps[k].len, c->size);
    }
    }
}

/* One reader call on the stream (cancelled part-way if kind & 4); returns
 * how many bytes it consumed. */
static size_t reader_step(cio_stream *s, const script *sc, size_t off, uint8_t kind,
                          uint8_t size_byte)
{
    static const size_t scale[4] = {1, 5, 33, 257};
    reader_call c = {.s = s, .kind = kind};
    c.size = ((size_t)size_byte + 1) * scale[(kind >> 3) & 3];
    const uint8_t *rest = sc->payload + off;
    size_t n = sc->len - off;
    /* Exactly the size asked for, so that ASan sees any write past it. */
    c.buf = malloc(c.size);
    FUZZ_CHECK(c.buf, "out of memory");
    c.got = kind & 4 ? call_reader_cancelled(&c, (unsigned)(off % 4)) : call_reader(&c);
    const char *what = reader_names[kind & 3];
    if (c.got != -ECANCELED || !(kind & 4)) {
        ssize_t want = model(&c, rest, n);
        FUZZ_CHECK(c.got == want,
                   "%s(%zu) at offset %zu of %zu returned %zd (%s), the contract says %zd (%s)",
                   what, c.size, off, sc->len, c.got, cio_strerror((int)c.got), want,
                   cio_strerror((int)want));
    }
    if ((kind & 3) == 2 && c.got >= 0)
        FUZZ_CHECK(c.buf[c.got] == '\0', "readline did not NUL-terminate its line");
    size_t taken = c.got > 0 ? (size_t)c.got : 0;
    FUZZ_CHECK(memcmp(c.buf, rest, taken) == 0,
               "%s at offset %zu returned %zu bytes that are not the payload's", what, off, taken);
    free(c.buf);
    return taken;
}

/* Two ends of a TCP connection on 127.0.0.1 (the listener closed again). */
static void tcp_pair(int sv[2])
{
    int l = cio_tcp_listen("127.0.0.1", "0", 1);
    FUZZ_CHECK(l >= 0, "cio_tcp_listen returned %d (%s)", l, cio_strerror(l));
    char port[16];
    snprintf(port, sizeof port, "%d", cio_local_port(l));
    sv[1] = cio_tcp_connect("127.0.0.1", port);
    FUZZ_CHECK(sv[1] >= 0, "cio_tcp_connect returned %d (%s)", sv[1], cio_strerror(sv[1]));
    sv[0] = cio_accept(l, NULL, NULL);
    FUZZ_CHECK(sv[0] >= 0, "cio_accept returned %d (%s)", sv[0], cio_strerror(sv[0]));
    FUZZ_CHECK(cio_close(l) == 0, "cio_close failed");
}

static int reader_main(void *arg)
{
    script *sc = arg;
    int sv[2];
    if (sc->tcp)
        tcp_pair(sv);
    else
        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s",
                   strerror(errno));
    sc->wfd = sv[1];
    cio_stream *s = cio_stream_new(sv[0]);
    FUZZ_CHECK(s, "cio_stream_new failed");
    cio_task *w = cio_create_task(writer_task, sc);
    FUZZ_CHECK(w, "cio_create_task failed");
    size_t off = 0;
    /* Every op either consumes a byte or is followed by a read that does,
     * until the end: the loop is bounded by twice the payload, plus the
     * ops that meet the end. */
    bool at_end = false;
    for (size_t i = 0; !at_end; i++) {
        FUZZ_CHECK(i <= 2 * sc->len + 2, "the reader made no progress");
        uint8_t kind = sc->nops ? sc->ops[2 * (i % sc->nops)] : 0;
        uint8_t size = sc->nops ? sc->ops[2 * (i % sc->nops) + 1] : 255;
        size_t taken = reader_step(s, sc, off, kind, size);
        off += taken;
        if (taken == 0) {
            /* Nothing consumed (an error that keeps the bytes, or the end):
             * a plain read moves on. */
            taken = reader_step(s, sc, off, 0, size);
            off += taken;
            at_end = taken == 0;
        }
    }
    FUZZ_CHECK(off == sc->len, "the reader got %zu bytes of %zu", off, sc->len);
    FUZZ_CHECK(cio_await(w) == 0, "the writer failed");
    FUZZ_CHECK(cio_close(sc->wfd) == 0, "cio_close failed");
    int r = cio_stream_close(s);
    FUZZ_CHECK(r == 0, "cio_stream_close returned %d (%s)", r, cio_strerror(r));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    script sc = {0};
    sc.nchunks = data[0] & 7;
    sc.tcp = (data[0] & 8) != 0;
    sc.nops = data[0] >> 4;
    size_t head = 1 + sc.nchunks + 2 * sc.nops;
    if (size < head)
        return -1; /* not an input of this format: kept out of the corpus */
    sc.chunks = data + 1;
    sc.ops = data + 1 + sc.nchunks;
    sc.payload = data + head;
    sc.len = size - head;
    fuzz_run(reader_main, &sc);
    return 0;
}
