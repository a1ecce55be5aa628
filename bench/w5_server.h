/* SPDX-License-Identifier: MIT */
/* w5_server.h — what the C echo servers of W5 share: the listening socket
 * on 127.0.0.1 (port 0 or --port), and the line that tells the harness
 * where they listen and which process to measure.
 *
 * Header-only and free of cio, for the raw-epoll and libuv servers; the
 * cio server listens through cio_tcp_listen and prints the same line.
 */
#ifndef CIO_BENCH_W5_SERVER_H
#define CIO_BENCH_W5_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

/* "LISTEN port=N pid=P": run-w5.sh waits for it before starting the load. */
static inline void w5_announce(int port)
{
    printf("LISTEN port=%d pid=%ld\n", port, (long)getpid());
    fflush(stdout);
}

/* A non-blocking TCP listener on 127.0.0.1:port (0: any free port). */
static inline int w5_listen(int port, int *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        bench_die("listen on 127.0.0.1:%d: %s", port, strerror(errno));
    *bound = ntohs(a.sin_port);
    return fd;
}

#endif
