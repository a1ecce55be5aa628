/* SPDX-License-Identifier: MIT */
/* cio_tls.h — TLS streams over OpenSSL: clients, servers, and upgrading a
 * plain connection in place. A TLS stream is a cio_stream: every
 * cio_stream_* function works on it unchanged, and cio_stream_close ends
 * it (sending a close_notify first).
 *
 * Verification of the peer's certificate and of the host name is on unless
 * the caller turns it off. Link with libcio-tls (pkg-config --libs cio-tls;
 * CMake: cio::tls), which brings libcio, libssl and libcrypto.
 */
#ifndef CIO_TLS_H
#define CIO_TLS_H

#include <cio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a TLS call needs besides the connection. Zero it, then fill what
 * applies; every pointer may be NULL. The strings are read during the call
 * (cio_tls_start_server: while it starts) and not kept. */
typedef struct cio_tls_opts {
    /* PEM file of the certificate authorities to trust. NULL: the system's
     * trust store (a client), no client certificates asked for (a server).
     * A server given one asks every client for a certificate it signed. */
    const char *ca_file;
    /* PEM files of this side's certificate chain and private key: a
     * server's (required), or a client's to present when asked. key_file
     * NULL: the key is in cert_file. */
    const char *cert_file, *key_file;
    /* The name sent in SNI and checked against the peer's certificate (a
     * DNS name or an IP address). NULL: the host given to cio_tls_connect;
     * cio_tls_client has no host and needs one unless verification is off. */
    const char *server_name;
    /* Accept any certificate and any name. For tests only: it gives up
     * TLS's protection against an active attacker. */
    bool insecure_no_verify;
    /* Seconds a handshake may take (asyncio's ssl_handshake_timeout); past
     * it the handshake fails with ETIMEDOUT, and a server closes that
     * connection. 0 (or NaN, or negative): the default, 10 s; INFINITY:
     * no limit. A server's protection against clients that start a
     * handshake and stall, each holding a task, a descriptor and a
     * session. */
    double handshake_timeout;
} cio_tls_opts;

/* cio_open_connection(host, port), then a TLS client handshake over it.
 * opts NULL: the defaults (the system's trust store, host checked).
 * Returns: the stream; NULL with errno EINVAL (NULL host or port, unusable
 *   CA file or certificate), the errors of cio_open_connection, EPROTO if
 *   the handshake fails (certificate or name not verified, a peer that does
 *   not speak TLS or closes meanwhile: cio_tls_last_error says which),
 *   ENOMEM, ECANCELED or ETIMEDOUT.
 * Suspends: yes. Cancellation: the connection is closed, NULL (ECANCELED).
 * Ownership: the caller closes the stream (cio_stream_close). */
CIO_EXTERN cio_stream *cio_tls_connect(const char *host, const char *port,
                                       const cio_tls_opts *opts);

/* Upgrades a connected plain stream to TLS in place (STARTTLS): a client
 * handshake over its connection. Nothing may be buffered in either
 * direction (both buffers empty), and opts->server_name is required unless
 * opts->insecure_no_verify.
 * Returns: `plain`, now a TLS stream; NULL with errno EINVAL (NULL stream
 *   or opts, already TLS, data buffered, written-shut or failed stream, no
 *   server_name), EPROTO (the handshake failed: cio_tls_last_error), ENOMEM,
 *   ECANCELED or ETIMEDOUT.
 * Suspends: yes.
 * Ownership: the stream stays the caller's in every case; after a failure it
 *   is a plain stream again (whose connection is of no further use). */
CIO_EXTERN cio_stream *cio_tls_client(cio_stream *plain, const cio_tls_opts *opts);

/* cio_start_server, with a TLS server handshake on each connection, run in
 * that connection's own task before handler: a handshake that fails (a
 * client sending garbage, or no certificate when one is asked for) closes
 * that connection only, and handler never sees it. opts->cert_file is
 * required.
 * Returns: the server (end it with cio_server_close); NULL with errno
 *   EINVAL (NULL opts, port or handler, no certificate, unusable files:
 *   cio_tls_last_error says which), or cio_start_server's errors.
 * Suspends: no. */
CIO_EXTERN cio_server *cio_tls_start_server(const char *host, const char *port,
                                            const cio_tls_opts *opts, cio_conn_fn handler,
                                            void *arg);

/* Why the calling task's last failed TLS call failed, in words: "certificate
 * verify failed: hostname mismatch", "handshake failed: wrong version
 * number", "the peer closed the connection without close_notify"... ""
 * if none of the task's TLS calls has failed. Outside a task: the thread's
 * last failure outside tasks. The text is kept for the thread's 64 most
 * recent failures: copy it to keep it longer. Suspends: no. */
CIO_EXTERN const char *cio_tls_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
