/* SPDX-License-Identifier: MIT */
/* test_stream.c — cio_stream: lines, separators and exact reads; peers
 * that close mid-line; lines longer than the buffer (-ENOBUFS, bytes
 * kept); half-closed sockets; resets; a 100 MB write to a slow reader
 * (backpressure, memory bounded); drain and close flushing; cancellation;
 * pipes; cio_open_connection; bad input.
 */
#include "nettest.h"

static int main_lines(void *arg)
{
    (void)arg;
    cio_stream *a, *b;
    REQUIRE_CIO(stream_pair(&a, &b), 0);
    CHECK_CIO(cio_stream_write(a, "one\ntwo\nthr", 11), 0);
    char line[16];
    CHECK_CIO(cio_stream_readline(b, line, sizeof line), 4);
    CHECK(strcmp(line, "one\n") == 0);
    CHECK_CIO(cio_stream_readline(b, line, sizeof line), 4);
    CHECK(strcmp(line, "two\n") == 0);
    CHECK_CIO(cio_stream_write(a, "ee\n", 3), 0);
    CHECK_CIO(cio_stream_readline(b, line, sizeof line), 6);
    CHECK(strcmp(line, "three\n") == 0);
    /* A separator split across two writes. */
    CHECK_CIO(cio_stream_write(a, "head\r", 5), 0);
    CHECK_CIO(cio_stream_write(a, "\nbody", 5), 0);
    char buf[16];
    CHECK_CIO(cio_stream_readuntil(b, "\r\n", 2, buf, sizeof buf), 6);
    CHECK(memcmp(buf, "head\r\n", 6) == 0);
    CHECK_CIO(cio_stream_readexactly(b, buf, 4), 4);
    CHECK(memcmp(buf, "body", 4) == 0);
    CHECK_CIO(cio_stream_close(a), 0);
    CHECK_CIO(cio_stream_readline(b, line, sizeof line), 0);
    CHECK_CIO(cio_stream_read(b, buf, sizeof buf), 0);
    CHECK_CIO(cio_stream_close(b), 0);
    return 0;
}

static void test_lines_separators_and_exact_reads(void **state)
{
    (void)state;
    run_main(main_lines, NULL, 0);
}

static int main_mid_line(void *arg)
{
    (void)arg;
    cio_stream *a, *b;
    REQUIRE_CIO(stream_pair(&a, &b), 0);
    CHECK_CIO(cio_stream_write(a, "complete\npartial", 16), 0);
    CHECK_CIO(cio_stream_close(a), 0);
    char line[64];
    CHECK_CIO(cio_stream_readline(b, line, sizeof line), 9);
    /* The peer closed inside a line: the bytes stay in the stream. */
    CHECK_CIO(cio_stream_readline(b, line, sizeof line), CIO_EOF);
    CHECK_CIO(cio_stream_readuntil(b, "X", 1, line, sizeof line), CIO_EOF);
    CHECK_CIO(cio_stream_readexactly(b, line, 8), CIO_EOF);
    CHECK_CIO(cio_stream_readexactly(b, line, 7), 7);
    CHECK(memcmp(line, "partial", 7) == 0);
    CHECK_CIO(cio_stream_readline(b, line, sizeof line), 0);
    CHECK_CIO(cio_stream_close(b), 0);
    return 0;
}

static void test_peer_closing_mid_line_keeps_the_bytes(void **state)
{
    (void)state;
    run_main(main_mid_line, NULL, 0);
}

/* A buffer of one byte holds only the NUL: no line fits, but a clean end
 * of stream is still 0, and a line is still -ENOBUFS with its bytes kept. */
static int main_one_byte_buffer(void *arg)
{
    (void)arg;
    cio_stream *a, *b;
    REQUIRE_CIO(stream_pair(&a, &b), 0);
    char one[1] = {'x'}, line[8];
    CHECK_CIO(cio_stream_write(a, "\n", 1), 0);
    CHECK_CIO(cio_stream_readline(b, one, 1), -ENOBUFS);
    CHECK_CIO(cio_stream_readline(b, line, sizeof line), 1);
    CHECK(strcmp(line, "\n") == 0);
    CHECK_CIO(cio_stream_close(a), 0);
    CHECK_CIO(cio_stream_readline(b, one, 1), 0);
    CHECK(one[0] == '\0');
    CHECK_CIO(cio_stream_readline(b, one, 1), 0);
    CHECK_CIO(cio_stream_close(b), 0);
    return 0;
}

static void test_readline_into_one_byte_at_clean_eof_is_0(void **state)
{
    (void)state;
    run_main(main_one_byte_buffer, NULL, 0);
}

static int main_long_line(void *arg)
{
    (void)arg;
    cio_stream *a, *b;
    REQUIRE_CIO(stream_pair(&a, &b), 0);
    /* A 100,000-byte line against a 1,000-byte buffer. */
    size_t n = 100000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + pattern(i) % 26);
    big[n] = '\n';
    CHECK_CIO(cio_stream_write(a, big, n + 1), 0);
    char small[1000];
    CHECK_CIO(cio_stream_readline(b, small, sizeof small), -ENOBUFS);
    CHECK_CIO(cio_stream_readuntil(b, "\n", 1, small, sizeof small), -ENOBUFS);
    /* The line fits exactly when cap is its length + 1 (the NUL). */
    char *whole = malloc(n + 2);
    CHECK_CIO(cio_stream_readline(b, whole, n + 1), -ENOBUFS);
    CHECK_CIO(cio_stream_readline(b, whole, n + 2), (ssize_t)n + 1);
    CHECK(memcmp(whole, big, n + 1) == 0 && whole[n + 1] == '\0');
    /* Bytes kept on -ENOBUFS come out of a plain read too. */
    CHECK_CIO(cio_stream_write(a, "0123456789\n", 11), 0);
    CHECK_CIO(cio_stream_readline(b, small, 5), -ENOBUFS);
    CHECK_CIO(cio_stream_read(b, small, 4), 4);
    CHECK(memcmp(small, "0123", 4) == 0);
    CHECK_CIO(cio_stream_readline(b, small, sizeof small), 7);
    CHECK(strcmp(small, "456789\n") == 0);
    free(whole);
    free(big);
    cio_stream_close(a);
    cio_stream_close(b);
    return 0;
}

static void test_line_longer_than_the_buffer_is_enobufs_and_kept(void **state)
{
    (void)state;
    run_main(main_long_line, NULL, 0);
}

static int main_half_close(void *arg)
{
    (void)arg;
    cio_stream *a, *b;
    REQUIRE_CIO(stream_pair(&a, &b), 0);
    CHECK_CIO(cio_stream_write(a, "request", 7), 0);
    CHECK_CIO(cio_stream_write_eof(a), 0);
    CHECK_CIO(cio_stream_write_eof(a), -EPIPE);
    CHECK_CIO(cio_stream_write(a, "x", 1), -EPIPE);
    char buf[16];
    CHECK_CIO(cio_stream_readexactly(b, buf, 7), 7);
    CHECK_CIO(cio_stream_read(b, buf, sizeof buf), 0);
    /* The other direction still works. */
    CHECK_CIO(cio_stream_write(b, "reply", 5), 0);
    CHECK_CIO(cio_stream_close(b), 0);
    CHECK_CIO(cio_stream_readexactly(a, buf, 5), 5);
    CHECK(memcmp(buf, "reply", 5) == 0);
    CHECK_CIO(cio_stream_read(a, buf, sizeof buf), 0);
    CHECK_CIO(cio_stream_close(a), 0);
    return 0;
}

static void test_half_closed_socket_reads_on(void **state)
{
    (void)state;
    run_main(main_half_close, NULL, 0);
}

static int main_reset(void *arg)
{
    (void)arg;
    int l = cio_tcp_listen("127.0.0.1", "0", 4);
    REQUIRE(l >= 0);
    const port_str port = port_string(cio_local_port(l));
    cio_stream *s = cio_open_connection("127.0.0.1", port.s);
    REQUIRE(s != NULL);
    int a = cio_accept(l, NULL, NULL);
    REQUIRE(a >= 0);
    CHECK_CIO(cio_write(a, "partial line", 12), 12);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    REQUIRE(setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
    CHECK_CIO(cio_sleep(0.02), 0);
    cio_close(a);
    char line[64];
    /* The reset ends the wait for the rest of the line; what arrived
     * before it stays readable. */
    CHECK_CIO(cio_stream_readline(s, line, sizeof line), -ECONNRESET);
    CHECK_CIO(cio_stream_read(s, line, sizeof line), 12);
    int w = cio_stream_write(s, "x", 1);
    CHECK(w == -EPIPE || w == -ECONNRESET);
    CHECK_CIO(cio_stream_write(s, "y", 1), w);
    CHECK_CIO(cio_stream_close(s), 0);
    cio_close(l);
    return 0;
}

static void test_reset_connection_reports_and_keeps_bytes(void **state)
{
    (void)state;
    run_main(main_reset, NULL, 0);
}

/* ------------------------------------------------ backpressure, 100 MB */

#define CHUNK (1u << 20)
#define TOTAL (100u * CHUNK)

typedef struct xfer {
    cio_stream *w, *r;
    /* Bytes cio_stream_write has accepted so far. */
    size_t accepted;
    long rss_before_kib, rss_peak_kib;
} xfer;

static long vmrss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    }
    if (f)
        fclose(f);
    return kib;
}

static int big_writer(void *arg)
{
    xfer *x = arg;
    unsigned char *chunk = malloc(CHUNK);
    size_t off = 0;
    int err = 0;
    while (off < TOTAL && !err) {
        for (size_t i = 0; i < CHUNK; i++)
            chunk[i] = pattern(off + i);
        /* In 64 KiB pieces, so `accepted` tracks the backpressure. */
        for (size_t p = 0; p < CHUNK && !err; p += 65536) {
            err = cio_stream_write(x->w, chunk + p, 65536);
            x->accepted += 65536;
        }
        off += CHUNK;
    }
    free(chunk);
    CHECK_CIO(err, 0);
    CHECK_CIO(cio_stream_close(x->w), 0);
    return 0;
}

static int main_big_write(void *arg)
{
    xfer *x = arg;
    REQUIRE_CIO(stream_pair(&x->w, &x->r), 0);
    int sndbuf = 0, rcvbuf = 0;
    socklen_t len = sizeof sndbuf;
    getsockopt(cio_stream_fd(x->w), SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
    len = sizeof rcvbuf;
    getsockopt(cio_stream_fd(x->r), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
    x->rss_before_kib = vmrss_kib();
    cio_task *writer = cio_create_task(big_writer, x);
    /* The reader is slow to start: the writer must stall meanwhile, with
     * the kernel's buffers and one high-water mark of its own full. */
    CHECK_CIO(cio_sleep(0.1), 0);
    size_t bound = (size_t)sndbuf + (size_t)rcvbuf + CIO_STREAM_HIGH_WATER + 65536;
    if (x->accepted > bound)
        note_failure(__FILE__, __LINE__, "the writer got %zu bytes in, past %zu", x->accepted,
                     bound);
    unsigned char *buf = malloc(65536);
    size_t got = 0;
    int slow = 0;
    for (;;) {
        ssize_t n = cio_stream_read(x->r, buf, 65536);
        if (n <= 0) {
            CHECK_CIO(n, 0);
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != pattern(got + (size_t)i)) {
                note_failure(__FILE__, __LINE__, "byte %zu differs", got + (size_t)i);
                n = -1;
                break;
            }
        }
        if (n < 0)
            break;
        got += (size_t)n;
        /* Slow: a pause every 4 MiB. */
        if (got / (4u << 20) != (size_t)slow) {
            slow = (int)(got / (4u << 20));
            long rss = vmrss_kib();
            if (rss > x->rss_peak_kib)
                x->rss_peak_kib = rss;
            CHECK_CIO(cio_sleep(0.002), 0);
        }
    }
    free(buf);
    CHECK(got == TOTAL);
    CHECK_CIO(cio_await(writer), 0);
    CHECK_CIO(cio_stream_close(x->r), 0);
    return 0;
}

static void test_100mb_write_to_slow_reader_is_bounded(void **state)
{
    (void)state;
    xfer x = {0};
    run_main(main_big_write, &x, 0);
    /* 100 MB went through; memory grew by far less (the 1 MiB chunk, the
     * 64 KiB read buffer, the write buffer). */
    long grew = x.rss_peak_kib - x.rss_before_kib;
    if (grew > 16 * 1024)
        fail_msg("resident memory grew by %ld KiB during a 100 MB transfer", grew);
}

/* ----------------------------------------------------- flush and close */

static int main_close_flushes(void *arg)
{
    (void)arg;
    cio_stream *a, *b;
    REQUIRE_CIO(stream_pair(&a, &b), 0);
    size_t n = 1u << 20;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = pattern(i);
    /* More than the kernel takes: the write buffers the rest (below the
     * high-water mark it returns at once) and close flushes it. */
    cio_stream_set_high_water(b, 0);
    CHECK_CIO(cio_stream_set_high_water(a, 2 * n), 0);
    CHECK_CIO(cio_stream_write(a, data, n), 0);
    unsigned char *back = malloc(n);
    cio_task *closer = cio_create_task(close_task, a);
    CHECK_CIO(cio_stream_readexactly(b, back, n), (ssize_t)n);
    CHECK(memcmp(back, data, n) == 0);
    CHECK_CIO(cio_await(closer), 0);
    CHECK_CIO(cio_stream_read(b, back, 1), 0);
    CHECK_CIO(cio_stream_close(b), 0);
    free(back);
    free(data);
    return 0;
}

static void test_close_flushes_what_is_buffered(void **state)
{
    (void)state;
    run_main(main_close_flushes, NULL, 0);
}

static int main_background_flush(void *arg)
{
    (void)arg;
    cio_stream *a, *b;
    REQUIRE_CIO(stream_pair(&a, &b), 0);
    size_t n = 1u << 20;
    unsigned char *data = malloc(n);
    memset(data, 'z', n);
    CHECK_CIO(cio_stream_set_high_water(a, 2 * n), 0);
    CHECK_CIO(cio_stream_write(a, data, n), 0);
    /* Nobody drains: the flusher sends it while this task reads. */
    size_t got = 0;
    while (got < n) {
        ssize_t r = cio_stream_read(b, data, n - got);
        REQUIRE(r > 0);
        got += (size_t)r;
    }
    CHECK_CIO(cio_stream_drain(a), 0);
    cio_stream_close(a);
    cio_stream_close(b);
    free(data);
    return 0;
}

static void test_buffered_data_goes_out_without_drain(void **state)
{
    (void)state;
    run_main(main_background_flush, NULL, 0);
}

static int blocked_writer(void *arg)
{
    cio_stream *s = arg;
    static char junk[65536];
    for (;;) {
        int err = cio_stream_write(s, junk, sizeof junk);
        if (err)
            return err;
    }
}

/* Closes the stream from a task that is already cancelled. */
static int cancelled_close(void *s)
{
    cio_cancel(cio_current_task());
    return cio_stream_close(s);
}

static int main_cancel_writer(void *arg)
{
    (void)arg;
    cio_stream *a, *b;
    REQUIRE_CIO(stream_pair(&a, &b), 0);
    cio_task *t = cio_create_task(blocked_writer, a);
    CHECK_CIO(cio_sleep(0.05), 0);
    cio_cancel(t);
    CHECK_CIO(cio_await(t), -ECANCELED);
    /* The stream is intact: a drain needs a reader, a close from a
     * cancelled task gives up on the rest and frees everything. */
    CHECK_CIO(cio_await(cio_create_task(cancelled_close, a)), -ECANCELED);
    CHECK_CIO(cio_stream_close(b), 0);
    return 0;
}

static void test_cancelled_writer_and_close_release_everything(void **state)
{
    (void)state;
    run_main(main_cancel_writer, NULL, 0);
}

static int closer_of_busy(void *arg)
{
    cio_stream *s = arg;
    static char junk[4u << 20];
    CHECK_CIO(cio_stream_set_high_water(s, sizeof junk * 2), 0);
    CHECK_CIO(cio_stream_write(s, junk, sizeof junk), 0);
    /* Timed out: the flusher still holds the stream; it frees it. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.02);
    CHECK_CIO(cio_stream_close(s), -ETIMEDOUT);
    cio_timeout_exit(&tm);
    return 0;
}

static int main_close_with_flusher(void *arg)
{
    (void)arg;
    cio_stream *a, *b;
    REQUIRE_CIO(stream_pair(&a, &b), 0);
    CHECK_CIO(cio_await(cio_create_task(closer_of_busy, a)), 0);
    CHECK_CIO(cio_sleep(0.01), 0);
    char buf[4096];
    /* The peer sees the end after what the kernel had taken. */
    ssize_t r;
    while ((r = cio_stream_read(b, buf, sizeof buf)) > 0) {
    }
    CHECK_CIO(r, 0);
    CHECK_CIO(cio_stream_close(b), 0);
    return 0;
}

static void test_close_that_times_out_leaves_nothing_behind(void **state)
{
    (void)state;
    run_main(main_close_with_flusher, NULL, 0);
}

/* ------------------------------------------------------- other inputs */

static int main_pipe(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    cio_stream *r = cio_stream_new(p[0]);
    cio_stream *w = cio_stream_new(p[1]);
    REQUIRE(r && w);
    CHECK(nonblocking(p[1]));
    CHECK_CIO(cio_stream_write(w, "through a pipe\n", 15), 0);
    /* A pipe has no half-close: write_eof closes its end. */
    CHECK_CIO(cio_stream_write_eof(w), 0);
    CHECK_CIO(cio_stream_fd(w), -1);
    char line[32];
    CHECK_CIO(cio_stream_readline(r, line, sizeof line), 15);
    CHECK_CIO(cio_stream_readline(r, line, sizeof line), 0);
    CHECK_CIO(cio_stream_close(w), 0);
    /* A writer whose reader has gone gets -EPIPE, never SIGPIPE. */
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    w = cio_stream_new(p[1]);
    cio_close(p[0]);
    CHECK_CIO(cio_stream_write(w, "x", 1), -EPIPE);
    CHECK_CIO(cio_stream_drain(w), -EPIPE);
    CHECK_CIO(cio_stream_close(w), 0);
    CHECK_CIO(cio_stream_close(r), 0);
    return 0;
}

static void test_pipes_are_streams(void **state)
{
    (void)state;
    run_main(main_pipe, NULL, 0);
}

static int main_bad_input(void *arg)
{
    (void)arg;
    errno = 0;
    CHECK(cio_stream_new(-1) == NULL && errno == EINVAL);
    /* A regular file is not a stream; the descriptor is closed all the
     * same (the stream takes it in every case). */
    int f = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    REQUIRE(f >= 0);
    int before = test_open_fds();
    CHECK(cio_stream_new(f) == NULL && errno == EINVAL);
    CHECK(test_open_fds() == before - 1);
    cio_stream *a, *b;
    REQUIRE_CIO(stream_pair(&a, &b), 0);
    char buf[4];
    CHECK_CIO(cio_stream_read(a, NULL, 1), -EINVAL);
    CHECK_CIO(cio_stream_readline(a, buf, 0), -EINVAL);
    CHECK_CIO(cio_stream_readuntil(a, "", 0, buf, sizeof buf), -EINVAL);
    CHECK_CIO(cio_stream_write(a, NULL, 1), -EINVAL);
    CHECK_CIO(cio_stream_read(a, buf, 0), 0);
    CHECK_CIO(cio_stream_readexactly(a, buf, 0), 0);
    CHECK_CIO(cio_stream_close(NULL), -EINVAL);
    /* Cancellation checked at every call. */
    cio_timeout tm;
    cio_timeout_enter(&tm, -1);
    CHECK_CIO(cio_stream_read(a, buf, 1), -ETIMEDOUT);
    CHECK_CIO(cio_stream_write(a, "x", 1), -ETIMEDOUT);
    cio_timeout_exit(&tm);
    cio_stream_close(a);
    cio_stream_close(b);
    return 0;
}

static void test_bad_input(void **state)
{
    (void)state;
    run_main(main_bad_input, NULL, 0);
}

static void test_stream_outside_a_loop_is_eperm(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    errno = 0;
    assert_null(cio_stream_new(p[0]));
    assert_int_equal(errno, EPERM);
    assert_int_equal(close(p[1]), 0);
    /* p[0] was taken (closed) by cio_stream_new. */
    assert_int_equal(fcntl(p[0], F_GETFD), -1);
}

static int main_open_connection(void *arg)
{
    (void)arg;
    int l = cio_tcp_listen("127.0.0.1", "0", 4);
    REQUIRE(l >= 0);
    const port_str port = port_string(cio_local_port(l));
    cio_stream *s = cio_open_connection("localhost", port.s);
    REQUIRE(s != NULL);
    int a = cio_accept(l, NULL, NULL);
    CHECK_CIO(cio_stream_write(s, "hi\n", 3), 0);
    char buf[8];
    CHECK_CIO(cio_read(a, buf, sizeof buf), 3);
    cio_close(a);
    CHECK_CIO(cio_stream_close(s), 0);
    cio_close(l);
    errno = 0;
    CHECK(cio_open_connection("127.0.0.1", port_string(closed_port()).s) == NULL &&
          errno == ECONNREFUSED);
    CHECK(cio_open_connection("127.0.0.1", "99999") == NULL && errno == EHOSTUNREACH);
    return 0;
}

static void test_open_connection(void **state)
{
    (void)state;
    run_main(main_open_connection, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_separators_and_exact_reads),
        cmocka_unit_test(test_peer_closing_mid_line_keeps_the_bytes),
        cmocka_unit_test(test_line_longer_than_the_buffer_is_enobufs_and_kept),
        cmocka_unit_test(test_readline_into_one_byte_at_clean_eof_is_0),
        cmocka_unit_test(test_half_closed_socket_reads_on),
        cmocka_unit_test(test_reset_connection_reports_and_keeps_bytes),
        cmocka_unit_test(test_100mb_write_to_slow_reader_is_bounded),
        cmocka_unit_test(test_close_flushes_what_is_buffered),
        cmocka_unit_test(test_buffered_data_goes_out_without_drain),
        cmocka_unit_test(test_cancelled_writer_and_close_release_everything),
        cmocka_unit_test(test_close_that_times_out_leaves_nothing_behind),
        cmocka_unit_test(test_pipes_are_streams),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_stream_outside_a_loop_is_eperm),
        cmocka_unit_test(test_open_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
