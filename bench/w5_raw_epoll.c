/* SPDX-License-Identifier: MIT */
/* w5_raw_epoll.c — W5's reference echo server: one thread, epoll
 * edge-triggered, read until EAGAIN or a short read, write straight back,
 * buffer any unwritten rest and flush it on EPOLLOUT. The "near physical
 * limit" the others are compared with.
 *
 *   w5_raw_epoll [--port N]      (0, the default: any free port)
 */
#define _GNU_SOURCE
#include <netinet/tcp.h>
#include <sys/epoll.h>

#include "w5_server.h"

#define BUF (64 * 1024)

typedef struct conn {
    int fd;
    /* Bytes read but not yet written back (the socket was full). */
    char *pending;
    size_t npending, cap;
} conn;

static void conn_close(int ep, conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c);
}

/* Writes as much of buf as the socket takes: the count, or -1 if the
 * connection failed. */
static ssize_t write_some(int fd, const char *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        return -1;
    }
    return (ssize_t)off;
}

/* Writes buf back; what the socket does not take is kept for EPOLLOUT.
 * False if the connection failed. */
static bool echo(conn *c, const char *buf, size_t n)
{
    ssize_t off = c->npending ? 0 : write_some(c->fd, buf, n);
    if (off < 0)
        return false;
    size_t rest = n - (size_t)off;
    if (rest) {
        if (c->npending + rest > c->cap) {
            c->cap = (c->npending + rest) * 2;
            c->pending = realloc(c->pending, c->cap);
            if (!c->pending)
                bench_die("out of memory");
        }
        memcpy(c->pending + c->npending, buf + off, rest);
        c->npending += rest;
    }
    return true;
}

/* Sends what was kept (EPOLLOUT). False if the connection failed. */
static bool flush(conn *c)
{
    ssize_t off = write_some(c->fd, c->pending, c->npending);
    if (off < 0)
        return false;
    memmove(c->pending, c->pending + off, c->npending - (size_t)off);
    c->npending -= (size_t)off;
    return true;
}

int main(int argc, char **argv)
{
    int port;
    int lfd = w5_listen((int)bench_opt_long(argc, argv, "port", 0) , &port);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    w5_announce(port);
    static char buf[BUF];
    struct epoll_event events[1024];
    for (;;) {
        int n = epoll_wait(ep, events, 1024, -1);
        if (n < 0 && errno != EINTR)
            bench_die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            conn *c = events[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    int on = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            bool ok = true;
            if ((events[i].events & EPOLLOUT) && c->npending)
                ok = flush(c);
            if (ok && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                for (;;) {
                    ssize_t r = read(c->fd, buf, sizeof buf);
                    if (r > 0) {
                        if (!(ok = echo(c, buf, (size_t)r)))
                            break;
                        if ((size_t)r < sizeof buf)
                            break; /* a short read: the socket is empty */
                        continue;
                    }
                    if (r < 0 && errno == EINTR)
                        continue;
                    if (r < 0 && errno == EAGAIN)
                        break;
                    ok = false; /* end of stream or error */
                    break;
                }
            }
            if (!ok)
                conn_close(ep, c);
        }
    }
}
