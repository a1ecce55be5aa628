/* SPDX-License-Identifier: MIT */
/* nettest.h — what the descriptor, networking, stream, server, process and
 * signal tests share on top of testutil.h (failure records, child
 * processes): descriptor flags, loopback ports, stream pairs, and a byte
 * pattern that shows a dropped, repeated or swapped chunk.
 *
 * Header-only, with static inline functions: each test file is its own
 * program. Include it instead of testutil.h.
 */
#ifndef CIO_NETTEST_H
#define CIO_NETTEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netdb.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "testutil.h"

/* Whether fd is non-blocking / close-on-exec. */
static inline bool nonblocking(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }
static inline bool cloexec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

/* The byte at offset i of test streams: not periodic with any buffer size. */
static inline unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + (i >> 9) + (i >> 17));
}

/* Fills buf with the first n bytes of the pattern. */
static inline void fill_pattern(unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(i);
}

/* Two connected stream sockets (AF_UNIX), each wrapped in a stream. */
static inline int stream_pair(cio_stream **a, cio_stream **b)
{
    *a = *b = NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    *a = cio_stream_new(sv[0]);
    *b = cio_stream_new(sv[1]);
    return *a && *b ? 0 : -ENOMEM;
}

/* A TCP socket listening on 127.0.0.1 on a free port. */
static inline int tcp_listener(int *port)
{
    *port = 0;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 16) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) != 0) {
        int err = -errno;
        close(l);
        return err;
    }
    *port = ntohs(a.sin_port);
    return l;
}

static inline struct sockaddr_in loopback(int port)
{
    return (struct sockaddr_in){.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

/* A port number as the string the API takes. */
typedef struct port_str {
    char s[16];
} port_str;

static inline port_str port_string(int port)
{
    port_str p;
    snprintf(p.s, sizeof p.s, "%d", port);
    return p;
}

/* cio_stream_close as a task body. */
static inline int close_task(void *s) { return cio_stream_close(s); }

/* A port of 127.0.0.1 where nothing listens (it was free a moment ago). */
static inline int closed_port(void)
{
    int l = cio_tcp_listen("127.0.0.1", "0", 1);
    int port = cio_local_port(l);
    cio_close(l);
    return port;
}

#endif
