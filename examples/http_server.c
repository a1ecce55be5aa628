/* SPDX-License-Identifier: MIT */
/* http_server.c — a keep-alive HTTP/1.1 server on cio: a task per
 * connection reading requests (parsed by http_parse.h, the example's own
 * parser) and answering each with a fixed body, plain or over TLS.
 *
 *   http_server [--port P] [--host H] [--body TEXT] [--tls CERT KEY]
 *               [--max-connections N]
 *
 * Prints "LISTEN port=P pid=X" once it listens. SIGTERM shuts it
 * down gracefully: no new connections, 5 s for the requests in progress,
 * then the rest are cancelled. bench/run-http.sh measures it against nginx
 * and libuv with wrk.
 */
#define _POSIX_C_SOURCE 200809L
#include <cio.h>
#include <cio_tls.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_parse.h"

/* The most a request head may take; a larger one is answered 431. */
#define HEAD_MAX 8192

/* A response made once and sent many times: the head and body of a 200,
 * remade when the Date header changes (once a second). */
typedef struct canned {
    /* Room for the head and the body (allocated at start-up). */
    char *bytes;
    size_t cap, len;
    time_t made;
} canned;

typedef struct site {
    const char *body;
    size_t body_len;
    /* The 200 for keep-alive and the one that closes. */
    canned ok_keep, ok_close;
    /* Set once a shutdown starts: keep-alive connections end after the
     * response in progress. */
    bool stopping;
} site;

/* Formats a response into out (cap bytes): its length, or 0 if it does not
 * fit. The Date header (RFC 9110 section 5.6.7) is `now`'s. */
static size_t format_response(char *out, size_t cap, time_t now, int status, const char *reason,
                              const char *body, size_t body_len, bool keep_alive)
{
    struct tm tm;
    char date[64];
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nServer: cio\r\nDate: %s\r\n"
                     "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                     status, reason, date, body_len, keep_alive ? "" : "Connection: close\r\n");
    if (n < 0 || (size_t)n + body_len > cap)
        return 0;
    memcpy(out + n, body, body_len);
    return (size_t)n + body_len;
}

/* An error response (no body), and the connection ends. Closing a socket
 * with unread input makes the kernel send a reset, which can destroy the
 * response before the client reads it; so, as nginx's lingering close
 * does, the server half-closes and reads what the client still sends, up
 * to 64 KiB or 1 s, before closing. */
static int respond_error(cio_stream *s, int status, const char *reason)
{
    char out[512];
    size_t n = format_response(out, sizeof out, time(NULL), status, reason, "", 0, false);
    int err = cio_stream_write(s, out, n);
    if (err || (err = cio_stream_write_eof(s)))
        return err;
    cio_timeout tm;
    cio_timeout_enter(&tm, 1.0);
    ssize_t r;
    size_t drained = 0;
    while (drained < 65536 && (r = cio_stream_read(s, out, sizeof out)) > 0)
        drained += (size_t)r;
    cio_timeout_exit(&tm);
    return 0;
}

/* The 200 with the site's body: one write for head and body (one send,
 * one TCP segment), from a copy remade once a second. */
static int respond_ok(cio_stream *s, site *st, bool keep_alive)
{
    canned *c = keep_alive ? &st->ok_keep : &st->ok_close;
    time_t now = time(NULL);
    if (now != c->made) {
        c->len = format_response(c->bytes, c->cap, now, 200, "OK", st->body,
                                 st->body_len, keep_alive);
        c->made = now;
    }
    return cio_stream_write(s, c->bytes, c->len);
}

/* Reads and drops n bytes of a request's body: this server answers every
 * request the same. */
static int skip_body(cio_stream *s, char *buf, size_t *have, uint64_t n)
{
    size_t now = *have < n ? *have : (size_t)n;
    memmove(buf, buf + now, *have - now);
    *have -= now;
    n -= now;
    while (n) {
        ssize_t r = cio_stream_read(s, buf, n < HEAD_MAX ? (size_t)n : HEAD_MAX);
        if (r <= 0)
            return r ? (int)r : CIO_EOF;
        n -= (uint64_t)r;
    }
    return 0;
}

static int serve(cio_stream *s, void *arg)
{
    site *st = arg;
    char buf[HEAD_MAX];
    size_t have = 0;
    for (;;) {
        http_request req;
        long head = http_parse_request(buf, have, &req);
        if (head == HTTP_PARSE_PARTIAL) {
            if (have == sizeof buf)
                return respond_error(s, 431, "Request Header Fields Too Large");
            ssize_t r = cio_stream_read(s, buf + have, sizeof buf - have);
            if (r <= 0)
                return (int)r; /* the client closed (0), or an error */
            have += (size_t)r;
            continue;
        }
        if (head == HTTP_PARSE_TOO_MANY)
            return respond_error(s, 431, "Request Header Fields Too Large");
        if (head == HTTP_PARSE_UNSUPPORTED)
            return respond_error(s, 501, "Not Implemented");
        if (head < 0)
            return respond_error(s, 400, "Bad Request");
        bool keep = req.keep_alive && !st->stopping;
        int err = respond_ok(s, st, keep);
        if (err || !keep)
            return err;
        memmove(buf, buf + head, have - (size_t)head);
        have -= (size_t)head;
        if (req.content_length && (err = skip_body(s, buf, &have, req.content_length)))
            return err;
    }
}

typedef struct config {
    const char *host, *port, *body, *cert, *key;
    size_t max_connections;
} config;

/* The server the configuration asks for, or NULL (the reason printed). */
static cio_server *start(const config *c, site *st)
{
    cio_server_opts so = {.task_name = "http", .max_connections = c->max_connections};
    cio_server *srv;
    if (c->cert) {
        static const char *const alpn[] = {"http/1.1", NULL};
        cio_tls_ctx *ctx = cio_tls_ctx_new(&(cio_tls_ctx_opts){
            .server = true, .cert_file = c->cert, .key_file = c->key, .alpn = alpn});
        if (!ctx) {
            fprintf(stderr, "http_server: %s\n", cio_tls_last_error());
            return NULL;
        }
        srv = cio_tls_start_server_ctx(c->host, c->port, ctx,
                                       &(cio_tls_server_opts){.server = so}, serve, st);
        /* The server holds its own reference. */
        cio_tls_ctx_free(ctx);
    } else {
        srv = cio_start_server_opts(c->host, c->port, &so, serve, st);
    }
    if (!srv)
        fprintf(stderr, "http_server: cannot listen on %s:%s: %s\n", c->host, c->port,
                strerror(errno));
    return srv;
}

static int serve_until_signal(void *arg)
{
    config *c = arg;
    int result = 1;
    site st = {.body = c->body, .body_len = strlen(c->body)};
    /* A head is under 256 bytes. */
    st.ok_keep.cap = st.ok_close.cap = 256 + st.body_len;
    st.ok_keep.bytes = malloc(st.ok_keep.cap);
    st.ok_close.bytes = malloc(st.ok_close.cap);
    cio_server *srv = st.ok_keep.bytes && st.ok_close.bytes ? start(c, &st) : NULL;
    if (!srv)
        goto free_responses;
    printf("LISTEN port=%d pid=%d\n", cio_server_port(srv), (int)getpid());
    fflush(stdout);
    int sig = cio_signal_wait(SIGTERM);
    st.stopping = true;
    int cancelled = cio_server_shutdown(srv, 5.0);
    if (cancelled > 0)
        fprintf(stderr, "http_server: %d connections cancelled at shutdown\n", cancelled);
    result = sig < 0 || cancelled < 0;
free_responses:
    free(st.ok_keep.bytes);
    free(st.ok_close.bytes);
    return result;
}

int main(int argc, char **argv)
{
    config c = {.host = "127.0.0.1", .port = "8080", .body = "Hello, World!\n"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            c.port = argv[++i];
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            c.host = argv[++i];
        } else if (strcmp(argv[i], "--body") == 0 && i + 1 < argc) {
            c.body = argv[++i];
        } else if (strcmp(argv[i], "--tls") == 0 && i + 2 < argc) {
            c.cert = argv[++i];
            c.key = argv[++i];
        } else if (strcmp(argv[i], "--max-connections") == 0 && i + 1 < argc) {
            c.max_connections = (size_t)strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: http_server [--port P] [--host H] [--body TEXT]"
                            " [--tls CERT KEY] [--max-connections N]\n");
            return 2;
        }
    }
    return cio_run(serve_until_signal, &c);
}
