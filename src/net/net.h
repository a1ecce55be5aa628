/* net.h — what the networking files share: resolving with fixed hints,
 * opening, binding and connecting one socket (addr.c), and error codes
 * that must travel through errno.
 */
#ifndef CIO_NET_H
#define CIO_NET_H

#include <netdb.h>

#include "internal.h"
#include "core/scheduler.h"

/* cio_getaddrinfo with hints of (AF_UNSPEC, socktype, flags); -EINVAL for
 * a NULL port. */
int cio__addr_resolve(const char *host, const char *port, int socktype, int flags,
                      struct addrinfo **res);

/* A socket for ai, connected (cio_connect, so it suspends): the descriptor,
 * non-blocking and close-on-exec, or -errno with nothing left open. */
int cio__addr_connect(const struct addrinfo *ai);

/* cio__addr_bind's flags: SO_REUSEPORT; IPV6_V6ONLY (IPv6 sockets only). */
enum { CIO__BIND_REUSE_PORT = 1, CIO__BIND_V6ONLY = 2 };

/* A socket bound to ai's address: SO_REUSEADDR on TCP (and the options
 * of `flags`), listening with `backlog` unless it is negative. The
 * descriptor, non-blocking and close-on-exec, or -errno. */
int cio__addr_bind(const struct addrinfo *ai, int backlog, unsigned flags);

/* cio__addr_bind on each address in turn: the first that binds, or the
 * last error. */
int cio__addr_bind_first(const struct addrinfo *res, int backlog, unsigned flags);

/* tcp.c: cio_tcp_connect's race (Happy Eyeballs) over resolved addresses
 * (a non-empty list of SOCK_STREAM ones). Tests call it with lists of
 * their own making. */
int cio__tcp_connect_addrinfo(struct addrinfo *res);

/* server.c: cio_start_server_opts, with release(arg) called once the server is
 * closed and its last connection has ended (not when starting fails). */
cio_server *cio__server_start(const char *host, const char *port, const cio_server_opts *opts,
                              cio_conn_fn handler, void *arg, void (*release)(void *arg));

/* A code for errno (constructors return NULL and set errno): -code for a
 * negative errno, EHOSTUNREACH for a resolver failure (CIO_EAI_*), which
 * errno cannot hold. */
int cio__addr_errno(int code);

/* Whether t has started running. A task cancelled before it starts never
 * runs at all, so whatever it was handed must then be released by whoever
 * cancelled it. */
static inline bool cio__task_started(const cio_task *t) { return t->state != CIO__TASK_NEW; }

#endif
