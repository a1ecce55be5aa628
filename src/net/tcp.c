/* SPDX-License-Identifier: MIT */
/* tcp.c — TCP clients and listeners: cio_tcp_connect with Happy Eyeballs
 * (RFC 8305), cio_tcp_listen, and cio_open_connection (a stream over
 * cio_tcp_connect).
 *
 * Each connection attempt is a task of its own, so attempts to several
 * addresses race while the caller waits for the first to succeed
 * (cio_wait_any). Resolving and the per-socket steps are addr.c's.
 */
#include "internal.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "io/stream.h"
#include "net/addr.h"
#include "net/tcp.h"

/* RFC 8305 §5: the recommended "Connection Attempt Delay". */
#define ATTEMPT_DELAY 0.25

/* One cio_tcp_connect: the addresses in the order they are tried and the
 * attempts still running. */
typedef struct race {
    /* Every address, families interleaved (RFC 8305 §4). */
    struct addrinfo **addrs;
    size_t naddrs;
    /* How many attempts have been started (the next address to try). */
    size_t started;
    /* The attempts not yet finished (as handles for cio_wait_any). */
    cio_task **live;
    size_t nlive;
    /* When the next attempt is due if nothing has finished (loop clock). */
    double next_due;
    /* The error of the attempt that failed last. */
    int last_error;
} race;

/* RFC 8305 §4: alternate the address families, starting with the first
 * address's (getaddrinfo has sorted them by RFC 6724 preference). */
static void interleave(struct addrinfo *res, struct addrinfo **out)
{
    int first_family = res->ai_family;
    struct addrinfo *same = res, *other = res;
    size_t n = 0;
    for (;;) {
        while (same && same->ai_family != first_family)
            same = same->ai_next;
        while (other && other->ai_family == first_family)
            other = other->ai_next;
        if (!same && !other)
            break;
        if (same) {
            out[n++] = same;
            same = same->ai_next;
        }
        if (other) {
            out[n++] = other;
            other = other->ai_next;
        }
    }
}

static int attempt_main(void *ai) { return cio__addr_connect(ai); }

static int start_attempt(race *r)
{
    cio_task *t = cio_create_task(attempt_main, r->addrs[r->started]);
    if (!t)
        return -errno;
    r->started++;
    r->live[r->nlive++] = t;
    r->next_due = cio_now() + ATTEMPT_DELAY;
    return 0;
}

/* Stops every attempt still running and closes what they connected.
 * Shielded, so that a cancelled caller still sees each attempt's real
 * result, and no descriptor escapes. */
static void stop_attempts(race *r)
{
    cio_shield sh;
    cio_shield_enter(&sh);
    for (size_t i = 0; i < r->nlive; i++)
        cio_cancel(r->live[i]);
    for (size_t i = 0; i < r->nlive; i++) {
        int fd = cio_await(r->live[i]);
        if (fd >= 0)
            cio_close(fd);
    }
    r->nlive = 0;
    cio_shield_exit(&sh);
}

/* Runs the race: the winner's descriptor, or an error. */
static int run_race(race *r)
{
    int err = start_attempt(r);
    if (err)
        return err;
    for (;;) {
        double timeout = -1;
        if (r->started < r->naddrs)
            timeout = CIO__MAX(r->next_due - cio_now(), 0.0);
        int i = cio_wait_any(r->live, r->nlive, timeout);
        if (i == -ETIMEDOUT) {
            /* Our stagger, unless an enclosing timeout expired (or the
             * caller was cancelled) meanwhile. */
            if ((err = cio__sched_checkpoint()))
                return err;
            if ((err = start_attempt(r)))
                return err;
            continue;
        }
        if (i < 0)
            return i;
        cio_task *done = r->live[i];
        r->live[i] = r->live[--r->nlive];
        int fd = cio_await(done);
        if (fd >= 0)
            return fd;
        r->last_error = fd;
        /* A failure starts the next attempt at once (RFC 8305 §5). */
        if (r->started < r->naddrs) {
            if ((err = start_attempt(r)))
                return err;
        } else if (r->nlive == 0) {
            return r->last_error;
        }
    }
}

int cio__tcp_connect_addrinfo(struct addrinfo *res)
{
    int result;
    size_t n = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        n++;
    race r = {.naddrs = n, .last_error = -ECONNREFUSED};
    r.addrs = malloc(n * sizeof *r.addrs);
    r.live = malloc(n * sizeof *r.live);
    if (!r.addrs || !r.live) {
        result = -ENOMEM;
        goto free_arrays;
    }
    interleave(res, r.addrs);
    result = run_race(&r);
    stop_attempts(&r);
    if (result >= 0) {
        /* Requests and replies are small: send them at once, as asyncio
         * does for every TCP connection. */
        int on = 1;
        if (setsockopt(result, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) {
            int err = -errno;
            cio_close(result);
            result = err;
        }
    }
free_arrays:
    free(r.live);
    free(r.addrs);
    return result;
}

int cio_tcp_connect(const char *host, const char *port)
{
    if (!host)
        return -EINVAL;
    struct addrinfo *res;
    int result = cio__addr_resolve(host, port, SOCK_STREAM, 0, &res);
    if (result)
        return result;
    result = cio__tcp_connect_addrinfo(res);
    freeaddrinfo(res);
    return result;
}

int cio_tcp_listen_opts(const char *host, const char *port, const cio_listen_opts *opts)
{
    int backlog = opts ? opts->backlog : 0;
    if (backlog < 0)
        return -EINVAL;
    struct addrinfo *res;
    int result = cio__addr_resolve(host, port, SOCK_STREAM, AI_PASSIVE, &res);
    if (result)
        return result;
    unsigned flags = (opts && opts->reuse_port ? CIO__BIND_REUSE_PORT : 0) |
                     (opts && opts->v6only ? CIO__BIND_V6ONLY : 0);
    result = cio__addr_bind_first(res, backlog ? backlog : SOMAXCONN, flags);
    freeaddrinfo(res);
    return result;
}

int cio_tcp_listen(const char *host, const char *port, int backlog)
{
    return cio_tcp_listen_opts(host, port, &(cio_listen_opts){.backlog = backlog});
}

cio_stream *cio_open_connection(const char *host, const char *port)
{
    int fd = cio_tcp_connect(host, port);
    if (fd < 0) {
        errno = cio__addr_errno(fd);
        return NULL;
    }
    return cio_stream_new(fd);
}
