/* SPDX-License-Identifier: MIT */
/* w5_cio.c — W5's cio echo server: one task per connection doing plain
 * cio_read → cio_write (as WORKLOADS.md has it: "read → write loop on our
 * TCP API"), each with a 64 KiB buffer like the other servers'.
 *
 *   w5_cio [--port N]      (CIO_BACKEND picks the backend, as always)
 *
 * Prints "BACKEND name" before the LISTEN line; a backend the loop cannot
 * start on gives bench_run's UNAVAILABLE line instead.
 */
#define _GNU_SOURCE
#include <netinet/tcp.h>

#include <cio.h>

#include "w5_server.h"

#define BUF (64 * 1024)

static int echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(BUF);
    for (;;) {
        ssize_t n = cio_read(fd, buf, BUF);
        if (n <= 0 || cio_write(fd, buf, (size_t)n) < 0)
            break;
    }
    free(buf);
    cio_close(fd);
    return 0;
}

/* The --port argument ("0": any free port). */
static const char *listen_port = "0";

static int serve(void *arg)
{
    (void)arg;
    int lfd = cio_tcp_listen("127.0.0.1", listen_port, 0);
    if (lfd < 0)
        bench_die("listen: %s", cio_strerror(lfd));
    /* The harness checks that the backend it asked for is the one used. */
    printf("BACKEND %s\n", cio_backend_name());
    w5_announce(cio_local_port(lfd));
    for (;;) {
        int fd = cio_accept(lfd, NULL, NULL);
        if (fd < 0) {
            bench_die("accept: %s", cio_strerror(fd));
            return fd;
        }
        int on = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        cio_task *t = cio_create_task(echo_conn, (void *)(intptr_t)fd);
        if (!t)
            bench_die("cio_create_task: %s", strerror(errno));
        cio_detach(t);
    }
}

int main(int argc, char **argv)
{
    const char *port = bench_opt(argc, argv, "port");
    if (port)
        listen_port = port;
    return bench_run(serve, NULL);
}
