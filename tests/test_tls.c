/* SPDX-License-Identifier: MIT */
/* test_tls.c — TLS streams: against openssl s_server, s_client and nginx,
 * a cio TLS server against cio TLS clients, verification failures, garbage
 * instead of a handshake on either side, upgrade in place, half-close, and
 * a peer that cuts the connection without close_notify. */
#include "peers.h"

#include <cio_tls.h>

#include <openssl/ssl.h>
#include <pthread.h>
#include <sys/time.h>


#define CIO_TEST_MIN(a, b) ((a) < (b) ? (a) : (b))

static cio_tls_opts trusting(const char *name)
{
    return (cio_tls_opts){.ca_file = peers.ca, .server_name = name};
}

static cio_tls_opts server_opts(void)
{
    return (cio_tls_opts){.cert_file = peers.cert, .key_file = peers.key};
}

/* ------------------------------------------------ against openssl s_server */

static char many_lines[2000 * 64];

/* Writes many_lines to the stream, and waits until it has gone out. */
static int write_all_task(void *arg)
{
    cio_stream *s = arg;
    int err = cio_stream_write(s, many_lines, sizeof many_lines);
    return err ? err : cio_stream_drain(s);
}

static int s_server_client(void *arg)
{
    port_str port = port_string((int)(intptr_t)arg);
    cio_tls_opts opts = trusting("localhost");
    cio_stream *s = cio_tls_connect("127.0.0.1", port.s, &opts);
    REQUIRE(s);
    char line[128];
    REQUIRE_CIO(cio_stream_write(s, "hello world\n", 12), 0);
    REQUIRE_CIO(cio_stream_drain(s), 0);
    CHECK_CIO(cio_stream_readline(s, line, sizeof line), 12);
    CHECK(strcmp(line, "dlrow olleh\n") == 0);
    /* Two lines in one write; one read of exactly both replies. */
    REQUIRE_CIO(cio_stream_write(s, "abc\nxyz\n", 8), 0);
    CHECK_CIO(cio_stream_readexactly(s, line, 8), 8);
    CHECK(memcmp(line, "cba\nzyx\n", 8) == 0);
    /* 2,000 lines in one write (twice the write buffer's high-water mark:
     * many records, and backpressure), then every reply. s_server -rev
     * answers line by line, so the writer and the reader overlap. */
    enum { LINES = 2000, LEN = 64 };
    char *many = many_lines;
    for (size_t i = 0; i < LINES; i++) {
        memset(many + i * LEN, 'a' + (int)(i % 26), LEN - 2);
        many[i * LEN + LEN - 2] = (char)('0' + i % 10);
        many[i * LEN + LEN - 1] = '\n';
    }
    cio_task *w = cio_create_task(write_all_task, s);
    for (size_t i = 0; i < LINES; i++) {
        ssize_t r = cio_stream_readline(s, line, sizeof line);
        if (!EXPECT_CIO(r, LEN) || line[0] != (char)('0' + i % 10) ||
            line[1] != 'a' + (int)(i % 26)) {
            CHECK(!"each line came back reversed, in order");
            break;
        }
    }
    CHECK_CIO(cio_await(w), 0);
    return cio_stream_close(s);
}

static void tls_client_against_s_server(void **state)
{
    (void)state;
    int port = peer_free_port();
    peer_pid = peer_start_s_server(&peers, port);
    run_ok(s_server_client, (void *)(intptr_t)port);
}

/* ------------------------------------------------------- against nginx */

/* One HTTP/1.1 GET over TLS; the response in `out` (NUL-terminated). */
static int https_get(int port, const char *path, char *out, size_t cap)
{
    port_str p = port_string(port);
    cio_tls_opts opts = trusting("localhost");
    cio_stream *s = cio_tls_connect("127.0.0.1", p.s, &opts);
    REQUIRE(s);
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    REQUIRE_CIO(cio_stream_write(s, req, (size_t)n), 0);
    size_t len = 0;
    ssize_t r;
    while ((r = cio_stream_read(s, out + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    /* nginx ends with close_notify: a clean end, not an error. */
    CHECK_CIO(r, 0);
    return cio_stream_close(s);
}

static int nginx_client(void *arg)
{
    static char resp[4096];
    REQUIRE_CIO(https_get((int)(intptr_t)arg, "/hello", resp, sizeof resp), 0);
    CHECK(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(resp, "\r\n\r\nhello from nginx\n") != NULL);
    REQUIRE_CIO(https_get((int)(intptr_t)arg, "/nothing-here", resp, sizeof resp), 0);
    CHECK(strncmp(resp, "HTTP/1.1 404", 12) == 0);
    return 0;
}

static void tls_client_against_nginx(void **state)
{
    (void)state;
    int port, tls_port;
    peer_free_ports(&port, &tls_port);
    peer_pid = peer_start_nginx(&peers, port, tls_port);
    run_ok(nginx_client, (void *)(intptr_t)tls_port);
}

/* --------------------------------------------- cio server, cio clients */

/* Replies "echo: <line>" to the first line, then reads to the client's
 * close_notify (its half-close), then says "bye\n". */
static int half_close_handler(cio_stream *s, void *arg)
{
    int *served = arg;
    char line[128], reply[160];
    ssize_t n = cio_stream_readline(s, line, sizeof line);
    if (n <= 0)
        return (int)n;
    int len = snprintf(reply, sizeof reply, "echo: %s", line);
    CHECK_CIO(cio_stream_write(s, reply, (size_t)len), 0);
    char rest[16];
    CHECK_CIO(cio_stream_read(s, rest, sizeof rest), 0);
    CHECK_CIO(cio_stream_write(s, "bye\n", 4), 0);
    (*served)++;
    return 0;
}

static int one_client(void *arg)
{
    int port = (int)(intptr_t)arg;
    port_str p = port_string(port);
    cio_tls_opts opts = trusting("localhost");
    cio_stream *s = cio_tls_connect("127.0.0.1", p.s, &opts);
    REQUIRE(s);
    char line[128];
    REQUIRE_CIO(cio_stream_write(s, "ping\n", 5), 0);
    CHECK_CIO(cio_stream_readline(s, line, sizeof line), 11);
    CHECK(strcmp(line, "echo: ping\n") == 0);
    /* Half-close: close_notify goes out, the reading direction stays. */
    CHECK_CIO(cio_stream_write_eof(s), 0);
    CHECK_CIO(cio_stream_write(s, "late", 4), -EPIPE);
    CHECK_CIO(cio_stream_readline(s, line, sizeof line), 4);
    CHECK(strcmp(line, "bye\n") == 0);
    CHECK_CIO(cio_stream_read(s, line, sizeof line), 0);
    return cio_stream_close(s);
}

static int server_and_clients(void *arg)
{
    (void)arg;
    int served = 0;
    cio_tls_opts so = server_opts();
    cio_server *srv = cio_tls_start_server("127.0.0.1", "0", &so, half_close_handler, &served);
    REQUIRE(srv);
    int port = cio_server_port(srv);
    enum { CLIENTS = 5 };
    cio_task *t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        t[i] = cio_create_task(one_client, (void *)(intptr_t)port);
    int results[CLIENTS];
    CHECK_CIO(cio_gather(t, CLIENTS, results), 0);
    for (int i = 0; i < CLIENTS; i++)
        CHECK_CIO(results[i], 0);
    CHECK_CIO(cio_server_close(srv), 0);
    CHECK(served == CLIENTS);
    return 0;
}

static void cio_server_and_clients_with_half_close(void **state)
{
    (void)state;
    run_ok(server_and_clients, NULL);
}

/* ----------------------------------------- cio server, openssl s_client */

static int reply_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char line[128], reply[160];
    ssize_t n = cio_stream_readline(s, line, sizeof line);
    if (n <= 0)
        return (int)n;
    int len = snprintf(reply, sizeof reply, "pong: %s", line);
    return cio_stream_write(s, reply, (size_t)len);
}

static int s_client_main(void *arg)
{
    (void)arg;
    cio_tls_opts so = server_opts();
    cio_server *srv = cio_tls_start_server("127.0.0.1", "0", &so, reply_handler, NULL);
    REQUIRE(srv);
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", cio_server_port(srv));
    /* -quiet: no session details; it also waits for the server to close
     * after its standard input ends. */
    const char *argv[] = {"openssl", "s_client", "-connect", connect, "-CAfile", peers.ca,
                          "-servername", "localhost", "-verify_return_error", "-verify_quiet",
                          "-quiet", NULL};
    cio_process *p = cio_process_spawn(argv, &(cio_process_opts){.pipe_stdin = true,
                                                                 .pipe_stdout = true});
    REQUIRE(p);
    cio_stream *in = cio_process_stdin(p), *out = cio_process_stdout(p);
    CHECK_CIO(cio_stream_write(in, "ping\n", 5), 0);
    CHECK_CIO(cio_stream_write_eof(in), 0);
    char line[128];
    CHECK_CIO(cio_stream_readline(out, line, sizeof line), 11);
    CHECK(strcmp(line, "pong: ping\n") == 0);
    CHECK_CIO(cio_process_wait(p), 0);
    cio_process_free(p);
    return cio_server_close(srv);
}

static void cio_server_against_s_client(void **state)
{
    (void)state;
    run_ok(s_client_main, NULL);
}

/* ------------------------------------------------------- verification */

typedef struct verify_case {
    cio_tls_opts opts;
    /* Expected errno (0: the connection works), and a piece of the text. */
    int want_errno;
    const char *want_text;
} verify_case;

static int verify_main(void *arg)
{
    verify_case *vc = arg;
    cio_tls_opts so = server_opts();
    cio_server *srv = cio_tls_start_server("127.0.0.1", "0", &so, reply_handler, NULL);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    errno = 0;
    cio_stream *s = cio_tls_connect("127.0.0.1", p.s, &vc->opts);
    if (vc->want_errno) {
        CHECK(s == NULL);
        CHECK_CIO(-errno, -vc->want_errno);
        const char *text = cio_tls_last_error();
        if (!EXPECT(strstr(text, vc->want_text) != NULL))
            note_failure(__FILE__, __LINE__, "last error: \"%s\"", text);
    } else if (EXPECT(s != NULL)) {
        char line[64];
        CHECK_CIO(cio_stream_write(s, "x\n", 2), 0);
        CHECK_CIO(cio_stream_readline(s, line, sizeof line), 8);
        CHECK_CIO(cio_stream_close(s), 0);
    }
    return cio_server_close(srv);
}

static void wrong_host_name_is_a_clear_error(void **state)
{
    (void)state;
    verify_case vc = {trusting("wrong.example"), EPROTO,
                      "certificate verify failed: hostname mismatch"};
    run_ok(verify_main, &vc);
    /* An IP address is checked as one. */
    verify_case ip = {trusting("127.0.0.2"), EPROTO, "certificate verify failed: IP address"};
    run_ok(verify_main, &ip);
    /* The right ones. */
    verify_case good = {trusting("localhost"), 0, NULL};
    run_ok(verify_main, &good);
    verify_case good_ip = {trusting(NULL), 0, NULL};
    run_ok(verify_main, &good_ip);
}

static void untrusted_certificate_is_an_error(void **state)
{
    (void)state;
    /* The system's trust store does not know the test's authority. */
    verify_case vc = {{.server_name = "localhost"}, EPROTO, "certificate verify failed: "};
    run_ok(verify_main, &vc);
    /* Nor does an authority file that holds another certificate. */
    verify_case other = {{.ca_file = peers.cert, .server_name = "localhost"}, EPROTO,
                         "certificate verify failed: "};
    run_ok(verify_main, &other);
}

static void insecure_no_verify_accepts_any_certificate(void **state)
{
    (void)state;
    verify_case vc = {{.server_name = "wrong.example", .insecure_no_verify = true}, 0, NULL};
    run_ok(verify_main, &vc);
}

/* A server given a CA file asks clients for a certificate: one without
 * is refused (in TLS 1.3 the client learns it at its first read), one
 * with a certificate the CA signed is served. */
static int client_cert_main(void *arg)
{
    (void)arg;
    cio_tls_opts so = server_opts();
    so.ca_file = peers.ca;
    cio_server *srv = cio_tls_start_server("127.0.0.1", "0", &so, reply_handler, NULL);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    char line[64];

    cio_tls_opts anonymous = trusting("localhost");
    cio_stream *s = cio_tls_connect("127.0.0.1", p.s, &anonymous);
    if (s) {
        CHECK_CIO(cio_stream_write(s, "x\n", 2), 0);
        CHECK_CIO(cio_stream_readline(s, line, sizeof line), -EPROTO);
        CHECK(strstr(cio_tls_last_error(), "certificate required") != NULL);
        CHECK_CIO(cio_stream_close(s), 0);
    } else {
        CHECK(errno == EPROTO);
    }

    cio_tls_opts known = trusting("localhost");
    known.cert_file = peers.cert;
    known.key_file = peers.key;
    s = cio_tls_connect("127.0.0.1", p.s, &known);
    REQUIRE(s);
    CHECK_CIO(cio_stream_write(s, "x\n", 2), 0);
    CHECK_CIO(cio_stream_readline(s, line, sizeof line), 8);
    CHECK_CIO(cio_stream_close(s), 0);
    return cio_server_close(srv);
}

static void server_asks_for_client_certificates(void **state)
{
    (void)state;
    run_ok(client_cert_main, NULL);
}

/* --------------------------------------------------------- bad input */

/* Garbage to a TLS server: that connection is closed, the handler never
 * sees it, and a good client meanwhile is served. */
static int garbage_to_server_main(void *arg)
{
    (void)arg;
    int served = 0;
    cio_tls_opts so = server_opts();
    cio_server *srv = cio_tls_start_server("127.0.0.1", "0", &so, half_close_handler, &served);
    REQUIRE(srv);
    int port = cio_server_port(srv);
    port_str p = port_string(port);
    cio_stream *bad = cio_open_connection("127.0.0.1", p.s);
    REQUIRE(bad);
    /* Connected, not yet handshaking: the good client runs beside it. */
    cio_task *good = cio_create_task(one_client, (void *)(intptr_t)port);
    REQUIRE_CIO(cio_stream_write(bad, "GET / HTTP/1.0\r\n\r\nthis is not TLS at all\r\n", 42), 0);
    char buf[256];
    ssize_t r = cio_stream_read(bad, buf, sizeof buf);
    /* An alert, perhaps, then the end. */
    while (r > 0)
        r = cio_stream_read(bad, buf, sizeof buf);
    CHECK(r == 0 || r == -ECONNRESET);
    CHECK_CIO(cio_stream_close(bad), 0);
    CHECK_CIO(cio_await(good), 0);
    CHECK_CIO(cio_server_close(srv), 0);
    CHECK(served == 1);
    return 0;
}

static void garbage_to_server_closes_that_connection_only(void **state)
{
    (void)state;
    run_ok(garbage_to_server_main, NULL);
}

static int garbage_handler(cio_stream *s, void *arg)
{
    (void)arg;
    const char junk[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    return cio_stream_write(s, junk, sizeof junk - 1);
}

/* A plain server that answers a ClientHello with garbage: the handshake
 * fails with EPROTO and says why; the loop goes on. */
static int garbage_from_server_main(void *arg)
{
    (void)arg;
    cio_server *srv = cio_start_server("127.0.0.1", "0", garbage_handler, NULL);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    cio_tls_opts opts = trusting("localhost");
    errno = 0;
    CHECK(cio_tls_connect("127.0.0.1", p.s, &opts) == NULL);
    CHECK_CIO(-errno, -EPROTO);
    const char *text = cio_tls_last_error();
    if (!EXPECT(strncmp(text, "handshake failed: ", 18) == 0))
        note_failure(__FILE__, __LINE__, "last error: \"%s\"", text);
    CHECK_CIO(cio_sleep(0.001), 0);
    return cio_server_close(srv);
}

static void garbage_from_server_fails_the_client_handshake(void **state)
{
    (void)state;
    run_ok(garbage_from_server_main, NULL);
}

/* The server cuts the TCP connection without close_notify: the client's
 * read is an error, not a clean end, and the data before it arrives. */
static int cutting_handler(cio_stream *s, void *arg)
{
    (void)arg;
    CHECK_CIO(cio_stream_write(s, "partial\n", 8), 0);
    CHECK_CIO(cio_stream_drain(s), 0);
    CHECK(shutdown(cio_stream_fd(s), SHUT_RDWR) == 0);
    return 0;
}

static int cut_main(void *arg)
{
    (void)arg;
    cio_tls_opts so = server_opts();
    cio_server *srv = cio_tls_start_server("127.0.0.1", "0", &so, cutting_handler, NULL);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    cio_tls_opts opts = trusting("localhost");
    cio_stream *s = cio_tls_connect("127.0.0.1", p.s, &opts);
    REQUIRE(s);
    char line[64];
    CHECK_CIO(cio_stream_readline(s, line, sizeof line), 8);
    CHECK_CIO(cio_stream_readline(s, line, sizeof line), -ECONNRESET);
    CHECK(strstr(cio_tls_last_error(), "without close_notify") != NULL);
    CHECK_CIO(cio_stream_close(s), 0);
    return cio_server_close(srv);
}

static void dropped_connection_without_close_notify_is_an_error(void **state)
{
    (void)state;
    run_ok(cut_main, NULL);
}

/* ------------------------------------------- big writes, silent peers */

enum { BIG = 3 << 20 };

/* Sleeps before reading (the client's writes back up into the socket
 * buffers and OpenSSL must repeat writes), then checks every byte and
 * answers with the count. */
static int slow_reader_handler(cio_stream *s, void *arg)
{
    (void)arg;
    CHECK_CIO(cio_sleep(0.1), 0);
    static unsigned char buf[65536];
    size_t got = 0;
    bool same = true;
    while (got < BIG) {
        ssize_t r = cio_stream_read(s, buf, sizeof buf);
        if (!EXPECT(r > 0))
            return (int)r;
        for (ssize_t i = 0; i < r && same; i++)
            same = buf[i] == pattern(got + (size_t)i);
        got += (size_t)r;
    }
    CHECK(same);
    char reply[32];
    int len = snprintf(reply, sizeof reply, "%zu\n", got);
    return cio_stream_write(s, reply, (size_t)len);
}

static int big_write_main(void *arg)
{
    size_t high_water = (size_t)(intptr_t)arg;
    cio_tls_opts so = server_opts();
    cio_server *srv = cio_tls_start_server("127.0.0.1", "0", &so, slow_reader_handler, NULL);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    cio_tls_opts opts = trusting("localhost");
    cio_stream *s = cio_tls_connect("127.0.0.1", p.s, &opts);
    REQUIRE(s);
    CHECK_CIO(cio_stream_set_high_water(s, high_water), 0);
    /* A small send buffer: the socket fills long before the data ends. */
    int sndbuf = 4096;
    CHECK(setsockopt(cio_stream_fd(s), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) == 0);
    static unsigned char data[BIG];
    fill_pattern(data, BIG);
    /* Uneven pieces: records and refused writes fall anywhere. */
    for (size_t off = 0, step = 1; off < BIG; off += step, step = step * 3 + 7)
        REQUIRE_CIO(cio_stream_write(s, data + off, CIO_TEST_MIN(step, BIG - off)), 0);
    CHECK_CIO(cio_stream_drain(s), 0);
    char line[32];
    CHECK_CIO(cio_stream_readline(s, line, sizeof line), 8);
    CHECK(strcmp(line, "3145728\n") == 0);
    CHECK_CIO(cio_stream_close(s), 0);
    return cio_server_close(srv);
}

static void big_write_to_slow_reader_keeps_every_byte(void **state)
{
    (void)state;
    /* The default high-water mark, and one below a TLS record's size. */
    run_ok(big_write_main, (void *)(intptr_t)0);
    run_ok(big_write_main, (void *)(intptr_t)1000);
}

/* A client that connects and never says hello: a timeout ends the
 * client's wait, and closing the server ends the handshake it waits in. */
static int silent_main(void *arg)
{
    (void)arg;
    int l = cio_tcp_listen("127.0.0.1", "0", 4);
    REQUIRE(l >= 0);
    port_str lp = port_string(cio_local_port(l));
    cio_tls_opts opts = trusting("localhost");
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.05);
    errno = 0;
    CHECK(cio_tls_connect("127.0.0.1", lp.s, &opts) == NULL && errno == ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    cio_close(l);

    int served = 0;
    cio_tls_opts so = server_opts();
    cio_server *srv = cio_tls_start_server("127.0.0.1", "0", &so, half_close_handler, &served);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    cio_stream *silent = cio_open_connection("127.0.0.1", p.s);
    REQUIRE(silent);
    CHECK_CIO(cio_sleep(0.02), 0);
    CHECK_CIO(cio_server_close(srv), 0);
    char c;
    CHECK_CIO(cio_stream_read(silent, &c, 1), 0);
    CHECK(served == 0);
    return cio_stream_close(silent);
}

static void silent_peers_and_timeouts(void **state)
{
    (void)state;
    run_ok(silent_main, NULL);
}

/* Clients that send the first 20 bytes of a ClientHello and stall: with a
 * short handshake deadline the server closes every one of them (each
 * holds a task, a descriptor and a session until then), and serves a
 * proper client meanwhile and afterwards. */
enum { STALLED = 100 };

static int stalled_client(void *arg)
{
    int port = (int)(intptr_t)arg;
    int fd = cio_tcp_connect("127.0.0.1", port_string(port).s);
    if (fd < 0)
        return fd;
    /* A record header that promises 200 bytes, and the start of them. */
    static const unsigned char hello[20] = {0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00,
                                            0x00, 0xc4, 0x03, 0x03, 0x11, 0x22};
    int err = (int)cio_write(fd, hello, sizeof hello);
    char c;
    /* Bounded: a server that never lets go fails the test. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 10);
    ssize_t n = err < 0 ? err : cio_read(fd, &c, 1);
    cio_timeout_exit(&tm);
    cio_close(fd);
    /* The server closed it: an end of stream, or a reset. */
    return n == 0 || n == -ECONNRESET ? 0 : (int)(n < 0 ? n : -EPROTO);
}

static int stalled_main(void *arg)
{
    (void)arg;
    int served = 0;
    cio_tls_opts so = server_opts();
    so.handshake_timeout = 0.2;
    cio_server *srv = cio_tls_start_server("127.0.0.1", "0", &so, half_close_handler, &served);
    REQUIRE(srv);
    int port = cio_server_port(srv);
    cio_task *t[STALLED + 1];
    for (int i = 0; i < STALLED; i++)
        t[i] = cio_create_task(stalled_client, (void *)(intptr_t)port);
    t[STALLED] = cio_create_task(one_client, (void *)(intptr_t)port);
    int results[STALLED + 1];
    CHECK_CIO(cio_gather(t, STALLED + 1, results), 0);
    for (int i = 0; i <= STALLED; i++)
        if (!EXPECT_CIO(results[i], 0))
            break;
    CHECK(served == 1);
    CHECK_CIO(one_client((void *)(intptr_t)port), 0);
    CHECK_CIO(cio_server_close(srv), 0);

    /* A client's handshake has the deadline too. */
    int l = cio_tcp_listen("127.0.0.1", "0", 4);
    REQUIRE(l >= 0);
    cio_tls_opts opts = trusting("localhost");
    opts.handshake_timeout = 0.05;
    errno = 0;
    CHECK(cio_tls_connect("127.0.0.1", port_string(cio_local_port(l)).s, &opts) == NULL);
    CHECK_CIO(-errno, -ETIMEDOUT);
    CHECK(strstr(cio_tls_last_error(), "timed out") != NULL);
    CHECK_CIO(cio_close(l), 0);
    return 0;
}

static void stalled_handshakes_are_closed_at_the_deadline(void **state)
{
    (void)state;
    run_ok(stalled_main, NULL);
}

/* ---------------------------------------------------- upgrade in place */

static int upgrade_main(void *arg)
{
    (void)arg;
    cio_tls_opts so = server_opts();
    cio_server *srv = cio_tls_start_server("127.0.0.1", "0", &so, reply_handler, NULL);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    cio_tls_opts opts = trusting("localhost");

    cio_stream *s = cio_open_connection("127.0.0.1", p.s);
    REQUIRE(s);
    /* Without a name to check, or with data buffered: refused, and the
     * stream stays usable. */
    cio_tls_opts nameless = {.ca_file = peers.ca};
    errno = 0;
    CHECK(cio_tls_client(s, &nameless) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(cio_tls_client(NULL, &opts) == NULL && errno == EINVAL);
    CHECK(cio_tls_client(s, &opts) == s);
    errno = 0;
    CHECK(cio_tls_client(s, &opts) == NULL && errno == EINVAL); /* already TLS */
    char line[64];
    CHECK_CIO(cio_stream_write(s, "up\n", 3), 0);
    CHECK_CIO(cio_stream_readline(s, line, sizeof line), 9);
    CHECK(strcmp(line, "pong: up\n") == 0);
    CHECK_CIO(cio_stream_close(s), 0);

    /* A byte left unread in the stream: the upgrade would lose it. */
    cio_server *plain = cio_start_server("127.0.0.1", "0", garbage_handler, NULL);
    REQUIRE(plain);
    port_str pp = port_string(cio_server_port(plain));
    s = cio_open_connection("127.0.0.1", pp.s);
    REQUIRE(s);
    CHECK_CIO(cio_stream_readexactly(s, line, 4), 4);
    errno = 0;
    CHECK(cio_tls_client(s, &opts) == NULL && errno == EINVAL);
    CHECK(strstr(cio_tls_last_error(), "nothing buffered") != NULL);
    CHECK_CIO(cio_stream_close(s), 0);
    CHECK_CIO(cio_server_close(plain), 0);
    return cio_server_close(srv);
}

static void upgrade_in_place(void **state)
{
    (void)state;
    run_ok(upgrade_main, NULL);
}

/* ------------------------------------------------------------ STARTTLS */

/* A peer that speaks a plain line protocol first and then TLS as a server
 * (SMTP's STARTTLS), on a thread with blocking OpenSSL: "220 ready", reads
 * "STARTTLS", "220 go ahead", the handshake; then it says "bye" and closes
 * at once (PEER_CLOSES), or answers one line and waits for the client's
 * close (PEER_STAYS). PEER_ALERTS instead waits for "READY" and sends a
 * TLS alert before any handshake. Every read is bounded by SO_RCVTIMEO. */
enum starttls_mode { PEER_CLOSES, PEER_STAYS, PEER_ALERTS };

typedef struct starttls_peer {
    int listener;
    enum starttls_mode mode;
    pthread_t thread;
    bool handshook;
} starttls_peer;

/* A fatal handshake_failure alert record (TLS 1.2 framing). */
static const unsigned char tls_alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};

static bool peer_read_line(int fd, char *line, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap && read(fd, line + n, 1) == 1)
        if (line[n++] == '\n')
            break;
    line[n] = '\0';
    return n && line[n - 1] == '\n';
}

static void *starttls_peer_main(void *arg)
{
    starttls_peer *p = arg;
    int c = accept(p->listener, NULL, NULL);
    if (c < 0)
        return NULL;
    struct timeval bound = {.tv_sec = 10};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    char line[64];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL *ssl = NULL;
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, peers.cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, peers.key, SSL_FILETYPE_PEM) != 1)
        goto close_conn;
    if (write(c, "220 ready\r\n", 11) != 11 || !peer_read_line(c, line, sizeof line) ||
        strcmp(line, "STARTTLS\r\n") != 0 || write(c, "220 go ahead\r\n", 14) != 14)
        goto close_conn;
    if (p->mode == PEER_ALERTS) {
        if (peer_read_line(c, line, sizeof line) &&
            write(c, tls_alert, sizeof tls_alert) == (ssize_t)sizeof tls_alert) {
            /* The client's ClientHello, then its close. */
            while (read(c, line, sizeof line) > 0) {
            }
        }
        goto close_conn;
    }
    ssl = SSL_new(ctx);
    if (!ssl || !SSL_set_fd(ssl, c) || SSL_accept(ssl) != 1)
        goto close_conn;
    p->handshook = true;
    if (p->mode == PEER_CLOSES) {
        SSL_write(ssl, "bye\n", 4);
        SSL_shutdown(ssl);
        goto close_conn;
    }
    int n = SSL_read(ssl, line, sizeof line - 1);
    if (n > 0) {
        char reply[80];
        int len = snprintf(reply, sizeof reply, "tls: %.*s", n, line);
        SSL_write(ssl, reply, len);
        /* Until the client's close. */
        while (SSL_read(ssl, line, sizeof line) > 0) {
        }
    }
close_conn:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(c);
    return NULL;
}

/* Plain lines, then cio_tls_client on the same stream. On io_uring the
 * plain reads leave a multishot receive armed, which must not keep taking
 * the bytes that OpenSSL reads from the socket itself. */
static int starttls_main(void *arg)
{
    starttls_peer *p = arg;
    int port;
    p->listener = tcp_listener(&port);
    REQUIRE(p->listener >= 0);
    REQUIRE(pthread_create(&p->thread, NULL, starttls_peer_main, p) == 0);
    port_str ps = port_string(port);
    cio_stream *s = cio_open_connection("127.0.0.1", ps.s);
    CHECK(s != NULL);
    cio_tls_opts opts = trusting("localhost");
    char line[64];
    /* Bounded: a handshake that spins or hangs fails instead. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 10);
    if (s) {
        CHECK_CIO(cio_stream_readline(s, line, sizeof line), 11);
        CHECK_CIO(cio_stream_write(s, "STARTTLS\r\n", 10), 0);
        CHECK_CIO(cio_stream_readline(s, line, sizeof line), 14);
        CHECK(strcmp(line, "220 go ahead\r\n") == 0);
        if (p->mode == PEER_ALERTS) {
            /* The alert arrives before the upgrade: on io_uring it is taken
             * into the loop's buffers, and must still reach OpenSSL. */
            CHECK_CIO(cio_stream_write(s, "READY\r\n", 7), 0);
            CHECK_CIO(cio_wait_readable(cio_stream_fd(s)), 0);
            /* Time for io_uring's receive to complete too (the readiness
             * may be reported first). Either way OpenSSL must see the
             * alert; this makes it come through the loop's buffers. */
            CHECK_CIO(cio_sleep(0.05), 0);
            errno = 0;
            CHECK(cio_tls_client(s, &opts) == NULL);
            CHECK_CIO(-errno, -EPROTO);
            if (!EXPECT(strstr(cio_tls_last_error(), "alert") != NULL))
                note_failure(__FILE__, __LINE__, "last error: %s", cio_tls_last_error());
        }
        errno = 0;
        bool upgraded = p->mode != PEER_ALERTS && cio_tls_client(s, &opts) == s;
        if (!EXPECT(upgraded || p->mode == PEER_ALERTS))
            note_failure(__FILE__, __LINE__, "cio_tls_client: %s (%s)", strerror(errno),
                         cio_tls_last_error());
        if (upgraded && p->mode == PEER_CLOSES) {
            CHECK_CIO(cio_stream_readline(s, line, sizeof line), 4);
            CHECK(strcmp(line, "bye\n") == 0);
            CHECK_CIO(cio_stream_readline(s, line, sizeof line), 0);
        } else if (upgraded) {
            CHECK_CIO(cio_stream_write(s, "hello\n", 6), 0);
            CHECK_CIO(cio_stream_readline(s, line, sizeof line), 11);
            CHECK(strcmp(line, "tls: hello\n") == 0);
        }
    }
    CHECK_CIO(cio_timeout_exit(&tm), 0);
    if (s)
        CHECK_CIO(cio_stream_close(s), 0);
    /* The peer ends at the close (at worst at its read bound). */
    pthread_join(p->thread, NULL);
    CHECK(p->handshook == (p->mode != PEER_ALERTS));
    CHECK_CIO(cio_close(p->listener), 0);
    return 0;
}

static void starttls_after_plain_lines_peer_closing(void **state)
{
    (void)state;
    starttls_peer p = {.mode = PEER_CLOSES};
    run_ok(starttls_main, &p);
}

static void starttls_after_plain_lines_peer_staying(void **state)
{
    (void)state;
    starttls_peer p = {.mode = PEER_STAYS};
    run_ok(starttls_main, &p);
}

static void starttls_bytes_received_ahead_reach_openssl(void **state)
{
    (void)state;
    starttls_peer p = {.mode = PEER_ALERTS};
    run_ok(starttls_main, &p);
}

/* ------------------------------------------------------- bad arguments */

static int no_handler(cio_stream *s, void *arg)
{
    (void)s;
    (void)arg;
    return 0;
}

static int bad_arguments_main(void *arg)
{
    (void)arg;
    cio_tls_opts so = server_opts();
    errno = 0;
    CHECK(cio_tls_connect(NULL, "443", NULL) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(cio_tls_connect("127.0.0.1", NULL, NULL) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(cio_tls_start_server("127.0.0.1", "0", NULL, no_handler, NULL) == NULL &&
          errno == EINVAL);
    errno = 0;
    CHECK(cio_tls_start_server("127.0.0.1", "0", &so, NULL, NULL) == NULL && errno == EINVAL);
    cio_tls_opts certless = {.key_file = peers.key};
    errno = 0;
    CHECK(cio_tls_start_server("127.0.0.1", "0", &certless, no_handler, NULL) == NULL &&
          errno == EINVAL);
    cio_tls_opts missing = {.cert_file = "/nonexistent/cert.pem"};
    errno = 0;
    CHECK(cio_tls_start_server("127.0.0.1", "0", &missing, no_handler, NULL) == NULL &&
          errno == EINVAL);
    CHECK(strstr(cio_tls_last_error(), "cannot load the certificate /nonexistent/cert.pem") !=
          NULL);
    /* The key of another certificate. */
    cio_tls_opts mismatch = {.cert_file = peers.ca, .key_file = peers.key};
    errno = 0;
    CHECK(cio_tls_start_server("127.0.0.1", "0", &mismatch, no_handler, NULL) == NULL &&
          errno == EINVAL);
    cio_tls_opts bad_ca = {.ca_file = "/nonexistent/ca.pem"};
    errno = 0;
    CHECK(cio_tls_connect("127.0.0.1", "1", &bad_ca) == NULL);
    /* A refused connection is the connection's error. */
    port_str closed = port_string(closed_port());
    cio_tls_opts opts = trusting("localhost");
    errno = 0;
    CHECK(cio_tls_connect("127.0.0.1", closed.s, &opts) == NULL && errno == ECONNREFUSED);
    CHECK(strstr(cio_tls_last_error(), "cannot connect") != NULL);
    return 0;
}

static void bad_arguments(void **state)
{
    (void)state;
    run_ok(bad_arguments_main, NULL);
    /* Outside a task: nothing to suspend. */
    errno = 0;
    assert_null(cio_tls_connect("127.0.0.1", "1", NULL));
    assert_int_equal(errno, EPERM);
}

/* Each task has its own last error. */
static int failing_task(void *arg)
{
    (void)arg;
    cio_tls_opts certless = {.ca_file = peers.ca};
    CHECK(cio_tls_start_server("127.0.0.1", "0", &certless, no_handler, NULL) == NULL);
    CHECK(strstr(cio_tls_last_error(), "needs a port, a handler and a certificate") != NULL);
    return 0;
}

static int per_task_main(void *arg)
{
    (void)arg;
    CHECK(strcmp(cio_tls_last_error(), "") == 0);
    cio_task *a = cio_create_task(failing_task, NULL);
    CHECK_CIO(cio_await(a), 0);
    CHECK(strcmp(cio_tls_last_error(), "") == 0);
    cio_tls_opts missing = {.cert_file = "/nonexistent/mine.pem"};
    CHECK(cio_tls_start_server("127.0.0.1", "0", &missing, no_handler, NULL) == NULL);
    CHECK(strstr(cio_tls_last_error(), "mine.pem") != NULL);
    return 0;
}

static void last_error_is_per_task(void **state)
{
    (void)state;
    run_ok(per_task_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(tls_client_against_s_server, peer_teardown),
        cmocka_unit_test_teardown(tls_client_against_nginx, peer_teardown),
        cmocka_unit_test(cio_server_and_clients_with_half_close),
        cmocka_unit_test(cio_server_against_s_client),
        cmocka_unit_test(wrong_host_name_is_a_clear_error),
        cmocka_unit_test(untrusted_certificate_is_an_error),
        cmocka_unit_test(insecure_no_verify_accepts_any_certificate),
        cmocka_unit_test(server_asks_for_client_certificates),
        cmocka_unit_test(garbage_to_server_closes_that_connection_only),
        cmocka_unit_test(garbage_from_server_fails_the_client_handshake),
        cmocka_unit_test(dropped_connection_without_close_notify_is_an_error),
        cmocka_unit_test(big_write_to_slow_reader_keeps_every_byte),
        cmocka_unit_test(silent_peers_and_timeouts),
        cmocka_unit_test(stalled_handshakes_are_closed_at_the_deadline),
        cmocka_unit_test(upgrade_in_place),
        cmocka_unit_test(starttls_after_plain_lines_peer_closing),
        cmocka_unit_test(starttls_after_plain_lines_peer_staying),
        cmocka_unit_test(starttls_bytes_received_ahead_reach_openssl),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(last_error_is_per_task),
    };
    return cmocka_run_group_tests(tests, peers_setup, peers_teardown);
}
