/* SPDX-License-Identifier: MIT */
/* epoll.c — the epoll backend (Linux), level-triggered.
 *
 * Level-triggered because fd.c keeps interest registered across waits and
 * drops it lazily: a level-triggered report with nobody waiting is how fd.c
 * learns to drop it. epoll_pwait2 gives nanosecond timeouts where the
 * kernel has it (5.11+); older kernels get epoll_wait rounded up to whole
 * milliseconds, so a timer never fires early.
 */
#include "internal.h"

#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "io/backend/epoll.h"
#include "loop.h"

#define MAX_EVENTS 1024

typedef struct epoll_backend {
    int epfd;
    bool has_pwait2;
    struct epoll_event events[MAX_EVENTS];
} epoll_backend;

static int epoll_open(cio_loop *loop)
{
    epoll_backend *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        int err = -errno;
        free(b);
        return err;
    }
    b->has_pwait2 = true;
    loop->backend_data = b;
    return 0;
}

static void epoll_close(cio_loop *loop)
{
    epoll_backend *b = loop->backend_data;
    close(b->epfd);
    free(b);
    loop->backend_data = NULL;
}

static uint32_t to_epoll(unsigned events)
{
    return (events & CIO__EV_READ ? EPOLLIN | EPOLLRDHUP : 0) | (events & CIO__EV_WRITE ? EPOLLOUT : 0);
}

static int epoll_watch(cio_loop *loop, int fd, unsigned old, unsigned events)
{
    epoll_backend *b = loop->backend_data;
    struct epoll_event ev = {.events = to_epoll(events), .data.fd = fd};
    int op = old == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(b->epfd, op, fd, &ev) == 0)
        return 0;
    /* The set disagrees with fd.c about the number: it was closed outside
     * cio, which drops it from the set (ENOENT), or the set still holds it
     * for a file that lives on elsewhere (EEXIST). Make the set say what
     * fd.c wants. */
    if (errno == ENOENT && op == EPOLL_CTL_DEL)
        return 0;
    if (errno == ENOENT && op == EPOLL_CTL_MOD)
        op = EPOLL_CTL_ADD;
    else if (errno == EEXIST && op == EPOLL_CTL_ADD)
        op = EPOLL_CTL_MOD;
    else
        op = -1;
    if (op >= 0 && epoll_ctl(b->epfd, op, fd, &ev) == 0)
        return 0;
    /* EPERM: the descriptor cannot be polled (a regular file); the caller
     * treats it as always ready. */
    return -errno;
}

static int epoll_poll(cio_loop *loop, int64_t timeout_ns)
{
    epoll_backend *b = loop->backend_data;
    int n = -1;
    if (b->has_pwait2) {
        struct timespec ts = {(time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000)};
        n = (int)syscall(SYS_epoll_pwait2, b->epfd, b->events, MAX_EVENTS,
                         timeout_ns < 0 ? NULL : &ts, NULL, 0);
        if (n < 0 && errno == ENOSYS)
            b->has_pwait2 = false;
    }
    if (!b->has_pwait2) {
        int ms = timeout_ns < 0 ? -1 : (int)CIO__MIN((timeout_ns + 999999) / 1000000, (int64_t)INT32_MAX);
        n = epoll_wait(b->epfd, b->events, MAX_EVENTS, ms);
    }
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        uint32_t e = b->events[i].events;
        unsigned ev = (e & (EPOLLIN | EPOLLRDHUP) ? CIO__EV_READ : 0) |
                      (e & EPOLLOUT ? CIO__EV_WRITE : 0) |
                      (e & (EPOLLERR | EPOLLHUP) ? CIO__EV_ERROR : 0);
        cio__fd_ready(b->events[i].data.fd, ev);
    }
    return n;
}

const cio__backend_ops cio__epoll_backend = {
    .name = "epoll",
    .open = epoll_open,
    .close = epoll_close,
    .watch = epoll_watch,
    .poll = epoll_poll,
};
