/* SPDX-License-Identifier: MIT */
/* tls.h — what tls.c (the TLS stream transport and the calls that make TLS
 * streams) and tls_ctx.c (cio_tls_ctx: OpenSSL contexts, the client
 * session cache, SNI and ALPN) share. Only these two files use OpenSSL.
 */
#ifndef CIO_NET_TLS_H
#define CIO_NET_TLS_H

#include <openssl/ssl.h>

#include "cio_tls.h"

/* tls.c: notes the calling task's failure text for cio_tls_last_error. */
__attribute__((format(printf, 1, 2))) void cio__tls_set_error(const char *fmt, ...);

/* tls.c: OpenSSL's reason for the error at the head of this thread's queue. */
const char *cio__tls_reason(void);

/* A new session of ctx, holding a reference on ctx until SSL_free. peer
 * (a client's: host name or address, then ":port") names the entry of the
 * session cache: a session kept for it is offered, and the ticket the
 * server sends on this connection is kept for it. NULL: no resumption.
 * Returns the session, or NULL (out of memory). */
SSL *cio__tls_ctx_session(cio_tls_ctx *ctx, const char *peer);

/* What the context says about its streams. */
double cio__tls_ctx_handshake_limit(const cio_tls_ctx *ctx);
bool cio__tls_ctx_verifies(const cio_tls_ctx *ctx);
bool cio__tls_ctx_is_server(const cio_tls_ctx *ctx);

/* A reference more on ctx (cio_tls_ctx_free drops one). */
void cio__tls_ctx_ref(cio_tls_ctx *ctx);

#endif
