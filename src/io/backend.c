/* SPDX-License-Identifier: MIT */
/* backend.c — the registry of OS pollers and the choice CIO_BACKEND makes,
 * and what a completion means to the task that waits for it.
 *
 * Owns the choice: the default is the first backend in preference
 * order that the kernel accepts (io_uring, then epoll, then poll); a
 * backend named in CIO_BACKEND is used or the loop fails to start, saying
 * why on stderr (a test that asks for io_uring must not silently get
 * epoll).
 */
#include "internal.h"

#include <string.h>
#include <unistd.h>

#include "io/backend/epoll.h"
#include "io/backend/io_uring.h"
#include "io/backend/poll.h"
#include "loop.h"

/* io_uring is built where liburing is (CMake's CIO_IO_URING); without it
 * epoll is the default. */
#ifdef CIO__IO_URING
#define BACKEND_NAMES "io_uring, epoll or poll"
#else
#define BACKEND_NAMES "epoll or poll; io_uring was not built, CIO_IO_URING=OFF"
#endif
static const cio__backend_ops *const backends[] = {
#ifdef CIO__IO_URING
    &cio__io_uring_backend,
#endif
    &cio__epoll_backend,
    &cio__poll_backend,
};

static int open_named(cio_loop *loop, const cio__backend_ops *ops)
{
    loop->backend = ops;
    int err = ops->open(loop);
    if (err)
        fprintf(stderr, "cio: CIO_BACKEND=%s cannot start: the kernel refuses it (%s)%s%s\n",
                ops->name, cio_strerror(err), ops->refusal_hint ? "; " : "",
                ops->refusal_hint ? ops->refusal_hint : "");
    return err;
}

int cio__backend_open(cio_loop *loop)
{
    const char *want = getenv("CIO_BACKEND");
    size_t count = sizeof backends / sizeof backends[0];
    if (want && *want) {
        for (size_t i = 0; i < count; i++) {
            if (strcmp(backends[i]->name, want) == 0)
                return open_named(loop, backends[i]);
        }
        fprintf(stderr,
                "cio: CIO_BACKEND=%s is not a backend of this build (try " BACKEND_NAMES ")\n",
                want);
        return -EINVAL;
    }
    int err = -ENOSYS;
    for (size_t i = 0; i < count; i++) {
        loop->backend = backends[i];
        err = backends[i]->open(loop);
        if (err == 0)
            return 0;
    }
    return err;
}


const char *cio__backend_describe(cio_loop *loop)
{
    return loop->backend->describe ? loop->backend->describe(loop) : loop->backend->name;
}

/* ------------------------------------------------------ completions */

void cio__backend_completion_init(cio__completion *c, const cio__op *op)
{
    cio__waiter_init(&c->w, CIO__WAIT_IO, (void *)(intptr_t)op->fd, NULL);
    cio__list_init(&c->fd_node);
    c->res = 0;
    c->done = false;
    c->closed = false;
}

ssize_t cio__backend_complete(cio_loop *loop, cio__completion *c, const cio__op *op,
                              void (*cancel)(cio_loop *loop, cio__completion *c))
{
    int err = cio__sched_wait(&c->w);
    if (!c->done) {
        cancel(loop, c);
        cio__waiter_init(&c->w, CIO__WAIT_IO, (void *)(intptr_t)op->fd, NULL);
        c->w.cancellable = false;
        (void)cio__sched_wait(&c->w);
        CIO__ASSERT(c->done);
    }
    if (c->closed) {
        /* A descriptor made for a caller who is told "closed" would leak. */
        if ((op->code == CIO__OP_ACCEPT || op->code == CIO__OP_OPENAT) && c->res >= 0)
            close(c->res);
        return -EBADF;
    }
    if (err && c->res < 0)
        return err;
    return c->res;
}

void cio__backend_completed(cio__completion *c, int res)
{
    c->res = res;
    c->done = true;
    cio__list_remove(&c->fd_node);
    cio__sched_wake(&c->w, 0);
}
