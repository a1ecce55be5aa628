/* SPDX-License-Identifier: MIT */
/* server.c — cio_start_server: a listener, an accept task, and a task per
 * connection running the caller's handler on a stream.
 *
 * Owns the server's life cycle and the accept loop's behaviour under
 * pressure: when accept fails (descriptors or memory exhausted) it pauses
 * with a back-off instead of spinning on a listener that stays readable,
 * and a connection closing cuts the pause short. Streams are stream.c's;
 * the listening socket is tcp.c's.
 */
#include "internal.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "loop.h"
#include "core/task.h"
#include "net/addr.h"
#include "net/server.h"
#include "io/stream.h"

/* The accept back-off: from 10 ms, doubling, up to 1 s. */
#define PAUSE_MIN 0.01
#define PAUSE_MAX 1.0

struct cio_server {
    /* The listening socket. */
    int fd;
    /* What runs for each connection, and what releases arg once the last
     * connection has ended (NULL: nothing; the TLS server's context). */
    cio_conn_fn handler;
    void *arg;
    void (*release)(void *arg);
    /* The accept loop's task (the server's handle, awaited at close). */
    cio_task *acceptor;
    /* Live connections (conn.node), and how many. */
    cio__list conns;
    size_t nconns;
    /* The accept loop while it pauses after a failed accept: woken early
     * when a connection closes (a descriptor is free again). */
    cio__waiter *pause_waiter;
    /* cio_server_close while it waits for the last connection to end. */
    cio__waiter *close_waiter;
};

/* One connection: its stream and the task running the handler on it. */
typedef struct conn {
    /* Link in the server's conns. */
    cio__list node;
    cio_server *srv;
    cio_stream *stream;
    /* The handler's task. It detaches itself as it ends, after unlinking
     * the conn; while the conn is linked the handle is the server's (to
     * cancel it, and to release it if it never ran). */
    cio_task *task;
} conn;

static void wake_slot(cio__waiter **slot)
{
    cio__waiter *w = *slot;
    if (w) {
        *slot = NULL;
        cio__sched_wake(w, 0);
    }
}

/* Forgets a connection that has ended (or never started). */
static void conn_release(conn *c)
{
    cio_server *srv = c->srv;
    cio__list_remove(&c->node);
    srv->nconns--;
    free(c);
    wake_slot(&srv->pause_waiter);
    if (srv->nconns == 0)
        wake_slot(&srv->close_waiter);
}

static int conn_main(void *arg)
{
    conn *c = arg;
    int result = c->srv->handler(c->stream, c->srv->arg);
    (void)cio_stream_close(c->stream);
    conn_release(c);
    cio_detach(cio_current_task());
    return result;
}

/* Starts the handler on a new connection. The descriptor is consumed. */
static int conn_start(cio_server *srv, int fd)
{
    /* Small replies go out at once (asyncio sets it on every TCP socket);
     * a Unix-domain listener's sockets refuse it, harmlessly. */
    int on = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    conn *c = malloc(sizeof *c);
    if (!c) {
        cio_close(fd);
        return -ENOMEM;
    }
    c->srv = srv;
    c->stream = cio_stream_new(fd);
    if (!c->stream) {
        int err = -errno;
        free(c);
        return err;
    }
    c->task = cio_create_task(conn_main, c);
    if (!c->task) {
        int err = -errno;
        cio__stream_destroy(c->stream);
        free(c);
        return err;
    }
    cio__list_push_back(&srv->conns, &c->node);
    srv->nconns++;
    return 0;
}

/* Sleeps `seconds`, or until a connection of the server ends. The slot
 * is cleared on the way out, however the wait ended (a wake of a waiter
 * already woken is a no-op meanwhile). */
static int accept_pause(cio_server *srv, double seconds)
{
    cio__waiter w;
    cio__waiter_init(&w, CIO__WAIT_SLEEP, NULL, NULL);
    w.own_deadline = cio__context_clock_ns() + cio__seconds_to_ns(seconds);
    srv->pause_waiter = &w;
    int err = cio__sched_wait(&w);
    srv->pause_waiter = NULL;
    return err;
}

static int acceptor_main(void *arg)
{
    cio_server *srv = arg;
    double pause = 0;
    for (;;) {
        int fd = cio_accept(srv->fd, NULL, NULL);
        int err = fd >= 0 ? conn_start(srv, fd) : fd;
        if (err == 0) {
            pause = 0;
            continue;
        }
        if (err == -ECANCELED)
            return err;
        /* Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM),
         * or anything else the listener reports: the listener stays
         * readable, so retrying at once would spin. Wait, longer each
         * time, or until a connection ends and frees a descriptor. */
        pause = pause ? CIO__MIN(pause * 2, PAUSE_MAX) : PAUSE_MIN;
        if ((err = accept_pause(srv, pause)) == -ECANCELED)
            return err;
    }
}

cio_server *cio__server_start(const char *host, const char *port, cio_conn_fn handler, void *arg,
                              void (*release)(void *arg))
{
    if (!handler || !port) {
        errno = EINVAL;
        return NULL;
    }
    cio_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        errno = ENOMEM;
        return NULL;
    }
    srv->fd = cio_tcp_listen(host, port, 0);
    if (srv->fd < 0) {
        errno = cio__addr_errno(srv->fd);
        free(srv);
        return NULL;
    }
    srv->handler = handler;
    srv->arg = arg;
    srv->release = release;
    cio__list_init(&srv->conns);
    srv->acceptor = cio_create_task(acceptor_main, srv);
    if (!srv->acceptor) {
        int err = errno;
        cio_close(srv->fd);
        free(srv);
        errno = err;
        return NULL;
    }
    return srv;
}

cio_server *cio_start_server(const char *host, const char *port, cio_conn_fn handler, void *arg)
{
    return cio__server_start(host, port, handler, arg, NULL);
}

int cio_server_port(const cio_server *srv) { return srv ? cio_local_port(srv->fd) : -EINVAL; }

int cio_server_close(cio_server *srv)
{
    if (!srv)
        return -EINVAL;
    if (!cio_current_task())
        return -EPERM;
    /* Held back until the end: a half-closed server could be neither used
     * nor closed again. */
    cio_shield sh;
    cio_shield_enter(&sh);
    cio_cancel(srv->acceptor);
    cio_await(srv->acceptor);
    cio_close(srv->fd);
    cio__list *n = srv->conns.next;
    while (n != &srv->conns) {
        conn *c = CIO__CONTAINER_OF(n, conn, node);
        n = n->next;
        cio_task *t = c->task;
        if (cio__task_started(t)) {
            /* It ends by itself, and releases its conn. */
            cio_cancel(t);
            continue;
        }
        /* A handler cancelled before it starts never runs (cio_run's
         * shutdown may have done so already): its conn is released here. */
        if (!cio_task_done(t))
            cio_cancel(t);
        cio_detach(t);
        cio__stream_destroy(c->stream);
        conn_release(c);
    }
    while (srv->nconns) {
        /* Uncancellable: the handlers' tasks end once cancelled, and the
         * server must not be freed before. */
        cio__waiter w;
        conn *first = CIO__CONTAINER_OF(srv->conns.next, conn, node);
        cio__waiter_init(&w, CIO__WAIT_TASK, first->task, NULL);
        w.cancellable = false;
        srv->close_waiter = &w;
        cio__sched_wait(&w);
    }
    cio_shield_exit(&sh);
    if (srv->release)
        srv->release(srv->arg);
    free(srv);
    return cio__sched_checkpoint();
}
