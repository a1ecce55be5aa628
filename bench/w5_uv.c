/* SPDX-License-Identifier: MIT */
/* w5_uv.c — W5's libuv echo server, idiomatic: uv_read_start, alloc_cb
 * mallocs the suggested size (64 KiB), read_cb uv_writes that buffer,
 * write_cb frees it; uv_tcp_nodelay on every connection.
 *
 *   w5_uv [--port N]
 */
#include <uv.h>

#include "w5_server.h"

typedef struct write_req {
    uv_write_t req;
    char *base;
} write_req;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = suggested;
}

static void on_closed(uv_handle_t *h) { free(h); }

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    write_req *w = (write_req *)req;
    free(w->base);
    free(w);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        write_req *w = malloc(sizeof *w);
        w->base = buf->base;
        uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
        if (uv_write(&w->req, s, &out, 1, on_written) != 0) {
            free(w->base);
            free(w);
        }
        return;
    }
    free(buf->base);
    if (nread < 0)
        uv_close((uv_handle_t *)s, on_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    uv_tcp_t *client = malloc(sizeof *client);
    uv_tcp_init(server->loop, client);
    if (uv_accept(server, (uv_stream_t *)client) != 0) {
        uv_close((uv_handle_t *)client, on_closed);
        return;
    }
    uv_tcp_nodelay(client, 1);
    uv_read_start((uv_stream_t *)client, on_alloc, on_read);
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", (int)bench_opt_long(argc, argv, "port", 0), &addr);
    int err = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (!err)
        err = uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection);
    if (err)
        bench_die("listen: %s", uv_strerror(err));
    struct sockaddr_in bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
    w5_announce(ntohs(bound.sin_port));
    return uv_run(loop, UV_RUN_DEFAULT);
}
