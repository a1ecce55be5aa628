/* SPDX-License-Identifier: MIT */
/* net.h — what the networking files share: resolving with fixed hints,
 * opening, binding and connecting one socket (addr.c), and error codes
 * that must travel through errno.
 */
#ifndef CIO_ADDR_H
#define CIO_ADDR_H

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

/* A code for errno (constructors return NULL and set errno): -code for a
 * negative errno, EHOSTUNREACH for a resolver failure (CIO_EAI_*), which
 * errno cannot hold. */
int cio__addr_errno(int code);

#endif
