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

#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "loop.h"
#include "core/task.h"
#include "net/addr.h"
#include "net/server.h"
#include "io/stream.h"

/* The accept back-off: from 10 ms, doubling, up to 1 s. */
#define PAUSE_MIN 0.01
#define PAUSE_MAX 1.0

struct cio_server {
    /* The listening socket (-1 once closed: the server stopped accepting). */
    int fd;
    /* What each connection's task is made with: stack size and name; the
     * name points to task_name, the server's copy. */
    cio_task_opts task_opts;
    char *task_name;
    /* cio_server_opts.max_connections (0: no limit). */
    size_t max_conns;
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
    /* The accept loop while it pauses after a failed accept, or waits for
     * room under max_conns: woken when a connection closes (a descriptor,
     * a place, is free again). */
    cio__waiter *pause_waiter;
    /* cio_server_close / cio_server_shutdown while it waits for the last
     * connection to end. */
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
    c->task = cio_create_task_opts(conn_main, c, &srv->task_opts);
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

/* Waits while the server has max_conns connections: the next ones wait in
 * the listener's backlog (the kernel's SYN queue beyond it), not in cio. */
static int wait_for_room(cio_server *srv)
{
    while (srv->max_conns && srv->nconns >= srv->max_conns) {
        cio__waiter w;
        cio__waiter_init(&w, CIO__WAIT_SLEEP, NULL, NULL);
        srv->pause_waiter = &w;
        int err = cio__sched_wait(&w);
        srv->pause_waiter = NULL;
        if (err)
            return err;
    }
    return 0;
}

static int acceptor_main(void *arg)
{
    cio_server *srv = arg;
    double pause = 0;
    for (;;) {
        if (wait_for_room(srv) == -ECANCELED)
            return -ECANCELED;
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

cio_server *cio__server_start(const char *host, const char *port, const cio_server_opts *opts,
                              cio_conn_fn handler, void *arg, void (*release)(void *arg))
{
    static const cio_server_opts defaults;
    if (!opts)
        opts = &defaults;
    if (!handler || !port || opts->backlog < 0) {
        errno = EINVAL;
        return NULL;
    }
    cio_server *srv = calloc(1, sizeof *srv);
    char *name = opts->task_name ? strdup(opts->task_name) : NULL;
    if (!srv || (opts->task_name && !name)) {
        free(srv);
        errno = ENOMEM;
        return NULL;
    }
    srv->task_name = name;
    srv->task_opts = (cio_task_opts){.name = name, .stack_size = opts->stack_size};
    srv->max_conns = opts->max_connections;
    cio_listen_opts lo = {.backlog = opts->backlog, .reuse_port = opts->reuse_port,
                          .v6only = opts->v6only};
    srv->fd = cio_tcp_listen_opts(host, port, &lo);
    if (srv->fd < 0) {
        errno = cio__addr_errno(srv->fd);
        goto free_server;
    }
    srv->handler = handler;
    srv->arg = arg;
    srv->release = release;
    cio__list_init(&srv->conns);
    srv->acceptor = cio_create_task(acceptor_main, srv);
    if (!srv->acceptor) {
        int err = errno;
        cio_close(srv->fd);
        errno = err;
        goto free_server;
    }
    return srv;

free_server:
    free(name);
    free(srv);
    return NULL;
}

cio_server *cio_start_server(const char *host, const char *port, cio_conn_fn handler, void *arg)
{
    return cio__server_start(host, port, NULL, handler, arg, NULL);
}

cio_server *cio_start_server_opts(const char *host, const char *port, const cio_server_opts *opts,
                                  cio_conn_fn handler, void *arg)
{
    return cio__server_start(host, port, opts, handler, arg, NULL);
}

int cio_server_port(const cio_server *srv) { return srv ? cio_local_port(srv->fd) : -EINVAL; }

/* Stops the accept loop and closes the listener: new connections are
 * refused from here on, the ones in the backlog reset. */
static void stop_accepting(cio_server *srv)
{
    cio_cancel(srv->acceptor);
    cio_await(srv->acceptor);
    cio_close(srv->fd);
    srv->fd = -1;
}

/* Waits until the last connection has ended or `deadline` (ns) passes:
 * 0, or -ECANCELED / -ETIMEDOUT if the caller was interrupted first. */
static int wait_idle(cio_server *srv, int64_t deadline, bool cancellable)
{
    while (srv->nconns) {
        cio__waiter w;
        conn *first = CIO__CONTAINER_OF(srv->conns.next, conn, node);
        cio__waiter_init(&w, CIO__WAIT_TASK, first->task, NULL);
        w.cancellable = cancellable;
        w.own_deadline = deadline;
        srv->close_waiter = &w;
        int err = cio__sched_wait(&w);
        srv->close_waiter = NULL;
        if (err)
            return err;
        if (deadline != INT64_MAX && cio__context_clock_ns() >= deadline)
            return 0;
    }
    return 0;
}

/* Cancels every handler still running: how many. */
static int cancel_handlers(cio_server *srv)
{
    int cancelled = 0;
    cio__list *n = srv->conns.next;
    while (n != &srv->conns) {
        conn *c = CIO__CONTAINER_OF(n, conn, node);
        n = n->next;
        cio_task *t = c->task;
        cancelled++;
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
    return cancelled;
}

static void server_free(cio_server *srv)
{
    if (srv->release)
        srv->release(srv->arg);
    free(srv->task_name);
    free(srv);
}

int cio_server_shutdown(cio_server *srv, double grace)
{
    if (!srv || !(grace >= 0))
        return -EINVAL;
    cio_task *self = cio_current_task();
    if (!self)
        return -EPERM;
    /* A handler shutting down its own server would wait for itself. */
    for (cio__list *n = srv->conns.next; n != &srv->conns; n = n->next) {
        if (CIO__CONTAINER_OF(n, conn, node)->task == self)
            CIO__PANIC("cio_server_shutdown / cio_server_close called from one of the "
                       "server's own handlers: it would wait for itself");
    }
    /* Held back until the listener is closed: a half-stopped server could
     * be neither used nor shut down again. */
    cio_shield sh;
    cio_shield_enter(&sh);
    stop_accepting(srv);
    cio_shield_exit(&sh);
    /* The grace period: handlers finish by themselves. A cancelled caller
     * (or an enclosing timeout) cuts it short. */
    int interrupted = 0;
    if (grace > 0 && srv->nconns) {
        int64_t deadline = isinf(grace) ? INT64_MAX : cio__context_clock_ns() + cio__seconds_to_ns(grace);
        interrupted = wait_idle(srv, deadline, true);
    }
    /* Then the rest is cancelled and awaited, uncancellably: the handlers'
     * tasks end once cancelled, and the server must not be freed before. */
    cio_shield_enter(&sh);
    int cancelled = cancel_handlers(srv);
    wait_idle(srv, INT64_MAX, false);
    cio_shield_exit(&sh);
    server_free(srv);
    int err = cio__sched_checkpoint();
    return interrupted ? interrupted : err ? err : cancelled;
}

int cio_server_close(cio_server *srv)
{
    if (!srv)
        return -EINVAL;
    int r = cio_server_shutdown(srv, 0);
    return r < 0 ? r : 0;
}
