/* nettest.h — what the networking, stream, server, process and signal
 * tests share, on top of synctest.h's failure records: a check that ends
 * the task, loopback listeners, stream pairs, and a byte pattern that
 * shows a dropped, repeated or swapped chunk.
 *
 * Header-only, with static functions: each test file is its own program.
 */
#ifndef CIO_NETTEST_H
#define CIO_NETTEST_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "synctest.h"

/* CHECK that also ends the task (its next steps would only fail on). */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            note_failure(__FILE__, __LINE__, "requirement failed: %s", #cond);                     \
            return -1000;                                                                          \
        }                                                                                          \
    } while (0)

#define REQUIRE_CIO(expr, want)                                                                    \
    do {                                                                                           \
        long long rgot_ = (long long)(expr);                                                       \
        long long rwant_ = (long long)(want);                                                      \
        if (rgot_ != rwant_) {                                                                     \
            note_failure(__FILE__, __LINE__, "%s returned %lld (%s), expected %lld (%s)", #expr,   \
                         rgot_, cio_strerror((int)rgot_), rwant_, cio_strerror((int)rwant_));      \
            return -1000;                                                                          \
        }                                                                                          \
    } while (0)

static inline bool nonblocking(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }
static inline bool cloexec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

/* The byte at offset i of test streams: not periodic with any buffer size. */
static inline unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + (i >> 9) + (i >> 17));
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
