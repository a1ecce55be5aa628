/* SPDX-License-Identifier: MIT */
/* poll.c — the poll(2) backend: portable, and O(watched descriptors) per
 * poll.
 *
 * Keeps a dense pollfd array of the watched descriptors and, per
 * descriptor, its index in that array, so watch changes are O(1) (removal
 * moves the last entry into the hole). ppoll gives nanosecond timeouts.
 */
#include "internal.h"

#include <poll.h>
#include <string.h>
#include <time.h>

#include "io/backend/poll.h"
#include "loop.h"

typedef struct poll_backend {
    struct pollfd *fds;
    size_t n, cap;
    /* index_of[fd] = position in fds + 1 (0: not watched). */
    uint32_t *index_of;
    size_t index_cap;
} poll_backend;

static int poll_open(cio_loop *loop)
{
    poll_backend *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    loop->backend_data = b;
    return 0;
}

static void poll_close(cio_loop *loop)
{
    poll_backend *b = loop->backend_data;
    free(b->fds);
    free(b->index_of);
    free(b);
    loop->backend_data = NULL;
}

static short to_poll(unsigned events)
{
    return (short)((events & CIO__EV_READ ? POLLIN | POLLRDHUP : 0) | (events & CIO__EV_WRITE ? POLLOUT : 0));
}

static int poll_watch(cio_loop *loop, int fd, unsigned old, unsigned events)
{
    poll_backend *b = loop->backend_data;
    (void)old;
    if ((size_t)fd >= b->index_cap) {
        size_t cap = CIO__MAX((size_t)fd + 1, b->index_cap * 2);
        uint32_t *idx = realloc(b->index_of, cap * sizeof *idx);
        if (!idx)
            return -ENOMEM;
        memset(idx + b->index_cap, 0, (cap - b->index_cap) * sizeof *idx);
        b->index_of = idx;
        b->index_cap = cap;
    }
    uint32_t at = b->index_of[fd];
    if (events == 0) {
        if (at) {
            struct pollfd last = b->fds[--b->n];
            b->fds[at - 1] = last;
            b->index_of[last.fd] = at;
            b->index_of[fd] = 0;
        }
        return 0;
    }
    if (!at) {
        if (b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 64;
            struct pollfd *fds = realloc(b->fds, cap * sizeof *fds);
            if (!fds)
                return -ENOMEM;
            b->fds = fds;
            b->cap = cap;
        }
        b->fds[b->n] = (struct pollfd){.fd = fd};
        at = (uint32_t)++b->n;
        b->index_of[fd] = at;
    }
    b->fds[at - 1].events = to_poll(events);
    return 0;
}

static int poll_poll(cio_loop *loop, int64_t timeout_ns)
{
    poll_backend *b = loop->backend_data;
    struct timespec ts = {(time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000)};
    int n = ppoll(b->fds, b->n, timeout_ns < 0 ? NULL : &ts, NULL);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int reported = 0;
    /* Reporting may change the watch set (moving entries), so walk from the
     * end, and re-read each entry before using it. */
    for (size_t i = b->n; i-- > 0 && reported < n;) {
        if (i >= b->n)
            continue;
        struct pollfd p = b->fds[i];
        if (!p.revents)
            continue;
        b->fds[i].revents = 0;
        reported++;
        /* POLLNVAL (closed behind the loop's back) wakes the waiters as an
         * error, so their next system call reports EBADF. */
        unsigned ev = (p.revents & (POLLIN | POLLRDHUP) ? CIO__EV_READ : 0) |
                      (p.revents & POLLOUT ? CIO__EV_WRITE : 0) |
                      (p.revents & (POLLERR | POLLHUP | POLLNVAL) ? CIO__EV_ERROR : 0);
        cio__fd_ready(p.fd, ev);
    }
    return n;
}

const cio__backend_ops cio__poll_backend = {
    .name = "poll",
    .open = poll_open,
    .close = poll_close,
    .watch = poll_watch,
    .poll = poll_poll,
};
