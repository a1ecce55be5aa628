/* SPDX-License-Identifier: MIT */
/* http_uv.c — the libuv peer of examples/http_server.c for bench/run-http.sh:
 * the same parser (examples/http_parse.h), the same response (head and
 * body in one write, a Date made once a second), keep-alive, written the
 * idiomatic libuv way: uv_read_start into the connection's buffer, one
 * uv_write per batch of requests read together.
 *
 *   http_uv [--port P] [--body TEXT]     prints LISTEN port=P pid=X
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "../examples/http_parse.h"
#include "common.h"

#define HEAD_MAX 8192

static const char *body = "Hello, World!\n";
static size_t body_len;

typedef struct conn {
    uv_tcp_t tcp;
    char buf[HEAD_MAX];
    size_t have;
    /* Body bytes still to drop. */
    uint64_t skip;
    /* Close once the last write is done. */
    int closing;
} conn;

typedef struct out {
    uv_write_t req;
    conn *c;
    size_t len;
    char data[];
} out;

static const char *http_date(void)
{
    static char text[64];
    static time_t made;
    time_t now = time(NULL);
    if (now != made) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        made = now;
    }
    return text;
}

static void on_close(uv_handle_t *h) { free(h->data); }

static void close_conn(conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_written(uv_write_t *req, int status)
{
    out *o = (out *)req;
    if (status < 0 || o->c->closing)
        close_conn(o->c);
    free(o);
}

/* Appends one response to o (which has room for it). */
static void add_response(out *o, int status, const char *reason, const char *b, size_t blen,
                         int keep)
{
    o->len += (size_t)sprintf(o->data + o->len,
                              "HTTP/1.1 %d %s\r\nServer: libuv\r\nDate: %s\r\n"
                              "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                              status, reason, http_date(), blen,
                              keep ? "" : "Connection: close\r\n");
    memcpy(o->data + o->len, b, blen);
    o->len += blen;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = h->data;
    *buf = uv_buf_init(c->buf + c->have, (unsigned)(sizeof c->buf - c->have));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    conn *c = s->data;
    if (n < 0) {
        close_conn(c);
        return;
    }
    c->have += (size_t)n;
    /* Room for the responses to every request this read can hold. */
    size_t each = 256 + body_len, room = each * (c->have / 16 + 1);
    out *o = malloc(sizeof *o + room);
    if (!o) {
        close_conn(c);
        return;
    }
    o->c = c;
    o->len = 0;
    size_t p = 0;
    while (!c->closing) {
        if (c->skip) {
            size_t k = c->have - p < c->skip ? c->have - p : (size_t)c->skip;
            p += k;
            c->skip -= k;
            if (c->skip)
                break;
        }
        http_request req;
        long head = http_parse_request(c->buf + p, c->have - p, &req);
        if (head == HTTP_PARSE_PARTIAL) {
            if (p == 0 && c->have == sizeof c->buf) {
                add_response(o, 431, "Request Header Fields Too Large", "", 0, 0);
                c->closing = 1;
            }
            break;
        }
        if (head < 0) {
            add_response(o, head == HTTP_PARSE_BAD ? 400 : 501, "Bad Request", "", 0, 0);
            c->closing = 1;
            break;
        }
        add_response(o, 200, "OK", body, body_len, req.keep_alive);
        c->closing = !req.keep_alive;
        p += (size_t)head;
        c->skip = req.content_length;
    }
    memmove(c->buf, c->buf + p, c->have - p);
    c->have -= p;
    if (o->len == 0) {
        free(o);
        return;
    }
    uv_buf_t b = uv_buf_init(o->data, (unsigned)o->len);
    if (uv_write(&o->req, s, &b, 1, on_written) < 0) {
        free(o);
        close_conn(c);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        close_conn(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_term(uv_signal_t *sig, int signo)
{
    (void)signo;
    uv_stop(sig->loop);
}

int main(int argc, char **argv)
{
    long port = 0;
    const char *p = bench_opt(argc, argv, "port");
    if (p)
        port = strtol(p, NULL, 10);
    const char *b = bench_opt(argc, argv, "body");
    if (b)
        body = b;
    body_len = strlen(body);
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", (int)port, &addr);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection) != 0)
        bench_die("cannot listen");
    struct sockaddr_in bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
    printf("LISTEN port=%d pid=%d\n", ntohs(bound.sin_port), (int)getpid());
    fflush(stdout);
    uv_signal_t term;
    uv_signal_init(loop, &term);
    uv_signal_start(&term, on_term, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
