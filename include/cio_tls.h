/* SPDX-License-Identifier: MIT */
/* cio_tls.h — TLS streams over OpenSSL: clients, servers, and upgrading a
 * plain connection in place. A TLS stream is a cio_stream: every
 * cio_stream_* function works on it unchanged, and cio_stream_close ends
 * it (sending a close_notify first).
 *
 * Verification of the peer's certificate and of the host name is on unless
 * the caller turns it off. The calls taking cio_tls_opts make a context
 * for each call (and so re-read the trust store each time); production
 * code makes a cio_tls_ctx once and uses the _ctx forms. Link with
 * libcio-tls (pkg-config --libs cio-tls; CMake: cio::tls), which brings
 * libcio, libssl and libcrypto.
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
     * no limit. (cio_tls_ctx_opts.handshake_timeout is the same for the
     * streams of a context.) A server's protection against clients that start a
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

/* ----------------------------------------------------------- contexts */

/* A reusable TLS configuration (an OpenSSL SSL_CTX): the trust store,
 * certificate and key are loaded once, when it is made, rather than on
 * every connection (the system's bundle of some 140 authorities takes
 * about 18 ms to parse), and a client's context keeps each peer's latest
 * session so that the next connection resumes it (an abbreviated
 * handshake). One context serves any number of streams, servers and
 * threads' loops at once. Made and freed outside tasks or in them; no
 * call on it suspends. */
typedef struct cio_tls_ctx cio_tls_ctx;

/* Which certificates are verified. */
typedef enum cio_tls_verify {
    /* A client verifies the server's certificate and name; a server given
     * ca_file or ca_dir requires a client certificate they signed, and
     * asks for none otherwise (cio_tls_opts' rules). */
    CIO_TLS_VERIFY_DEFAULT = 0,
    /* Nothing is verified. For tests only on a client: it gives up TLS's
     * protection against an active attacker. */
    CIO_TLS_VERIFY_NONE,
    /* A client: as the default. A server: asks for a client certificate
     * and verifies it if one is sent, but accepts clients without one. */
    CIO_TLS_VERIFY_PEER,
    /* A server: a client certificate is required (and verified). A
     * client: as the default. */
    CIO_TLS_VERIFY_REQUIRE,
} cio_tls_verify;

/* Protocol versions for cio_tls_ctx_opts.min_version (TLS's own codes). */
#define CIO_TLS_VERSION_1_2 0x0303
#define CIO_TLS_VERSION_1_3 0x0304

/* A server's SNI callback: the context (certificate, ALPN, ...) to use for
 * a client that asked for server_name, or NULL to keep the server's own.
 * It runs inside the handshake, in the connection's task, and must not
 * suspend. The context returned must be a server's; each connection holds
 * a reference on it, so the callback may keep its contexts in a table it
 * frees after the servers are closed. */
typedef cio_tls_ctx *(*cio_tls_sni_fn)(const char *server_name, void *arg);

/* What a context is made with. Zero it, then fill what applies: zero is
 * the default everywhere. Strings are read by cio_tls_ctx_new, not kept
 * (files are loaded then). */
typedef struct cio_tls_ctx_opts {
    /* A server's context (else a client's). */
    bool server;
    /* PEM file, and OpenSSL hashed directory (c_rehash), of the
     * certificate authorities to trust. Both NULL: the system's trust
     * store on a client (unless verify is CIO_TLS_VERIFY_NONE); no client
     * certificates asked for on a server. */
    const char *ca_file, *ca_dir;
    /* PEM files of this side's certificate chain (leaf first) and private
     * key: a server's (required), or a client's to present when asked.
     * key_file NULL: the key is in cert_file. */
    const char *cert_file, *key_file;
    /* What is verified (see cio_tls_verify). */
    cio_tls_verify verify;
    /* The oldest version accepted: CIO_TLS_VERSION_1_2 (0: the default)
     * or CIO_TLS_VERSION_1_3. */
    int min_version;
    /* OpenSSL cipher lists: for TLS 1.2 ("ECDHE+AESGCM:ECDHE+CHACHA20")
     * and TLS 1.3 suites ("TLS_AES_128_GCM_SHA256:..."). NULL: OpenSSL's
     * defaults. */
    const char *ciphers, *ciphersuites;
    /* ALPN protocols, NULL-terminated ({"h2", "http/1.1", NULL}), most
     * preferred first. A client offers them; a server picks its most
     * preferred one the client offers, and with none in common goes on
     * without ALPN (as nginx does). NULL: no ALPN. */
    const char *const *alpn;
    /* A server's SNI callback and its argument (a client's: EINVAL). */
    cio_tls_sni_fn sni;
    void *sni_arg;
    /* Seconds a handshake on a stream of this context may take; past it
     * the handshake fails with ETIMEDOUT (a server closes that
     * connection). 0: 10 s; INFINITY: no limit; negative or NaN: EINVAL. */
    double handshake_timeout;
    /* A client's session cache: how many peers (name and port) it keeps a
     * session for, the least recently stored leaving first. 0: 64. A
     * server's: must be 0 (a server resumes through stateless tickets). */
    size_t session_cache_size;
    /* A client keeps no sessions: every connection makes a full
     * handshake (no linkability of connections through tickets). */
    bool no_session_resumption;
} cio_tls_ctx_opts;

/* Makes a context: loads the files and applies the settings.
 * Returns: the context; NULL with errno EINVAL (NULL opts, an out-of-range
 *   field, a server without cert_file, an SNI callback on a client, a file
 *   that cannot be loaded, a key that does not match, no usable cipher, a
 *   protocol name longer than 255 bytes: cio_tls_last_error says which) or
 *   ENOMEM.
 * Suspends: no (it reads files with blocking calls: make contexts at
 *   start-up, not per connection).
 * Ownership: the caller frees it with cio_tls_ctx_free. */
CIO_EXTERN cio_tls_ctx *cio_tls_ctx_new(const cio_tls_ctx_opts *opts);

/* Drops the caller's reference. Streams and servers made with the context
 * hold their own, so it may be freed as soon as they are made; the
 * context goes once the last of them has ended. NULL: nothing. */
CIO_EXTERN void cio_tls_ctx_free(cio_tls_ctx *ctx);

/* cio_tls_connect on a context: the connection's TLS session comes from
 * ctx (a client's), and resumes the session kept for (server_name or
 * host, port) if there is one. server_name NULL: host (SNI and the name
 * checked). The session a server sends is kept once it arrives, which
 * under TLS 1.3 is after the handshake, when the client first reads.
 * Returns: the stream; NULL with errno EINVAL (NULL host, port or ctx, a
 *   server's ctx), or cio_tls_connect's errors.
 * Suspends: yes. Cancellation: the connection is closed, NULL (ECANCELED).
 * Ownership: the caller closes the stream; it holds a reference on ctx. */
CIO_EXTERN cio_stream *cio_tls_connect_ctx(const char *host, const char *port, cio_tls_ctx *ctx,
                                           const char *server_name);

/* cio_tls_client on a context (STARTTLS): server_name is required unless
 * ctx verifies nothing; the session is cached under (server_name, the
 * connection's peer port).
 * Returns, Suspends, Ownership: as cio_tls_client; EINVAL also for a NULL
 *   or server's ctx. */
CIO_EXTERN cio_stream *cio_tls_client_ctx(cio_stream *plain, cio_tls_ctx *ctx,
                                          const char *server_name);

/* Told of each handshake a TLS server's connection failed: err (-EPROTO,
 * -ETIMEDOUT, -ECONNRESET, -ECANCELED...), why in words (as
 * cio_tls_last_error), and the connection's stream, plain again, still
 * open (cio_stream_fd for getpeername), closed by the server afterwards:
 * do not close it. It runs in that connection's task, before the server
 * closes it; it may suspend (a log write), but holds the connection while
 * it does. */
typedef void (*cio_tls_failure_fn)(cio_stream *s, int err, const char *why, void *arg);

/* Options of cio_tls_start_server_ctx. Zero means the default. */
typedef struct cio_tls_server_opts {
    /* The server's own options (backlog, connection limit, ...). */
    cio_server_opts server;
    /* Told of failed handshakes (NULL: nobody is), with failure_arg. */
    cio_tls_failure_fn on_handshake_failure;
    void *failure_arg;
} cio_tls_server_opts;

/* cio_start_server_opts with a TLS server handshake on each connection,
 * on a session of ctx (a server's), run in that connection's task before
 * handler, within ctx's handshake deadline: a failed handshake is told to
 * opts->on_handshake_failure and closes that connection only; handler
 * never sees it. opts NULL: the defaults.
 * Returns: the server (end it with cio_server_shutdown or
 *   cio_server_close); NULL with errno EINVAL (NULL ctx, port or handler,
 *   a client's ctx), or cio_start_server_opts' errors.
 * Suspends: yes (the lookup).
 * Ownership: the server holds a reference on ctx until it is closed. */
CIO_EXTERN cio_server *cio_tls_start_server_ctx(const char *host, const char *port,
                                                cio_tls_ctx *ctx,
                                                const cio_tls_server_opts *opts,
                                                cio_conn_fn handler, void *arg);

/* The ALPN protocol the handshake of TLS stream s agreed on ("h2",
 * "http/1.1"...), or NULL (none agreed, or s is not a TLS stream). The
 * text lives as long as the stream. Suspends: no. */
CIO_EXTERN const char *cio_tls_alpn(const cio_stream *s);

/* Whether the handshake of TLS stream s resumed an earlier session.
 * Returns: 1 or 0; -EINVAL if s is NULL or not a TLS stream. Suspends: no. */
CIO_EXTERN int cio_tls_session_reused(const cio_stream *s);

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
