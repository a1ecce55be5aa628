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

typedef struct site {
    const char *body;
    size_t body_len;
    /* Set once a shutdown starts: keep-alive connections end after the
     * response in progress. */
    bool stopping;
} site;

/* The Date header's value (RFC 9110 section 5.6.7), made once a second. */
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

static int respond(cio_stream *s, int status, const char *reason, const char *body,
                   size_t body_len, bool keep_alive)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nServer: cio\r\nDate: %s\r\n"
                     "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                     status, reason, http_date(), body_len,
                     keep_alive ? "" : "Connection: close\r\n");
    /* One write for head and body: one send, one TCP segment. */
    char out[4096];
    if ((size_t)n + body_len <= sizeof out) {
        memcpy(out, head, (size_t)n);
        memcpy(out + n, body, body_len);
        return cio_stream_write(s, out, (size_t)n + body_len);
    }
    int err = cio_stream_write(s, head, (size_t)n);
    return err ? err : cio_stream_write(s, body, body_len);
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
                return respond(s, 431, "Request Header Fields Too Large", "", 0, false);
            ssize_t r = cio_stream_read(s, buf + have, sizeof buf - have);
            if (r <= 0)
                return (int)r; /* the client closed (0), or an error */
            have += (size_t)r;
            continue;
        }
        if (head < 0) {
            int bad = head == HTTP_PARSE_BAD;
            return head == HTTP_PARSE_TOO_MANY
                       ? respond(s, 431, "Request Header Fields Too Large", "", 0, false)
                   : bad ? respond(s, 400, "Bad Request", "", 0, false)
                         : respond(s, 501, "Not Implemented", "", 0, false);
        }
        bool keep = req.keep_alive && !st->stopping;
        int err = respond(s, 200, "OK", st->body, st->body_len, keep);
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

static int serve_until_signal(void *arg)
{
    config *c = arg;
    site st = {.body = c->body, .body_len = strlen(c->body)};
    cio_server_opts so = {.task_name = "http", .max_connections = c->max_connections};
    cio_server *srv;
    if (c->cert) {
        static const char *const alpn[] = {"http/1.1", NULL};
        cio_tls_ctx *ctx = cio_tls_ctx_new(&(cio_tls_ctx_opts){
            .server = true, .cert_file = c->cert, .key_file = c->key, .alpn = alpn});
        if (!ctx) {
            fprintf(stderr, "http_server: %s\n", cio_tls_last_error());
            return 1;
        }
        srv = cio_tls_start_server_ctx(c->host, c->port, ctx,
                                       &(cio_tls_server_opts){.server = so}, serve, &st);
        cio_tls_ctx_free(ctx);
    } else {
        srv = cio_start_server_opts(c->host, c->port, &so, serve, &st);
    }
    if (!srv) {
        fprintf(stderr, "http_server: cannot listen on %s:%s: %s\n", c->host, c->port,
                strerror(errno));
        return 1;
    }
    printf("LISTEN port=%d pid=%d\n", cio_server_port(srv), (int)getpid());
    fflush(stdout);
    int sig = cio_signal_wait(SIGTERM);
    st.stopping = true;
    int cancelled = cio_server_shutdown(srv, 5.0);
    if (cancelled > 0)
        fprintf(stderr, "http_server: %d connections cancelled at shutdown\n", cancelled);
    return sig < 0 ? 1 : 0;
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
