/* SPDX-License-Identifier: MIT */
/* tls.c — the TLS stream transport (OpenSSL), and the calls that make TLS
 * streams: cio_tls_connect, cio_tls_client (an upgrade in place),
 * cio_tls_start_server, and the per-task error text of cio_tls_last_error.
 *
 * OpenSSL talks to the non-blocking socket itself; when it needs the socket
 * to become readable or writable (SSL_ERROR_WANT_READ / WANT_WRITE) the
 * task parks on the descriptor and the call is repeated. Buffering,
 * backpressure and the background flusher are stream.c's, as for a plain
 * socket; the server's accept loop and connection tasks are server.c's.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cio_tls.h"
#include "io/fdio.h"
#include "loop.h"
#include "net/server.h"
#include "io/stream.h"

/* cio_tls_opts.handshake_timeout's default, in seconds. */
#define HANDSHAKE_TIMEOUT 10.0

/* The most one SSL_write is given: one TLS record's worth, so that a write
 * OpenSSL must repeat covers bytes the stream still holds (see try_write). */
#define RECORD_MAX 16384

/* ----------------------------------------------------------- error text */

/* The last failure of a recent task: (loop tag, task id) names the task,
 * since task structs are reused and loops come and go on a thread. */
typedef struct error_slot {
    uint32_t loop_tag;
    uint64_t task_id;
    bool used;
    char text[200];
} error_slot;

#define ERROR_SLOTS 64
static __thread error_slot error_slots[ERROR_SLOTS];
static __thread unsigned error_next;

/* Who is calling: the running task, or (0, 0) outside tasks. */
static void current_caller(uint32_t *tag, uint64_t *id)
{
    cio_loop *loop = cio__context_loop;
    *tag = loop && loop->current ? loop->callbacks.tag : 0;
    *id = loop && loop->current ? loop->current->id : 0;
}

static error_slot *find_slot(uint32_t tag, uint64_t id)
{
    for (unsigned i = 0; i < ERROR_SLOTS; i++) {
        error_slot *e = &error_slots[i];
        if (e->used && e->loop_tag == tag && e->task_id == id)
            return e;
    }
    return NULL;
}

__attribute__((format(printf, 1, 2))) static void set_error(const char *fmt, ...)
{
    uint32_t tag;
    uint64_t id;
    current_caller(&tag, &id);
    error_slot *e = find_slot(tag, id);
    if (!e) {
        e = &error_slots[error_next];
        error_next = (error_next + 1) % ERROR_SLOTS;
        e->used = true;
        e->loop_tag = tag;
        e->task_id = id;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof e->text, fmt, ap);
    va_end(ap);
}

const char *cio_tls_last_error(void)
{
    uint32_t tag;
    uint64_t id;
    current_caller(&tag, &id);
    error_slot *e = find_slot(tag, id);
    return e ? e->text : "";
}

/* OpenSSL's reason for the error at the head of this thread's queue. */
static const char *ssl_reason(void)
{
    unsigned long code = ERR_peek_last_error();
    const char *r = code ? ERR_reason_error_string(code) : NULL;
    return r ? r : "unknown error";
}

/* OpenSSL writes to the socket with write(2): one that met EPIPE raised a
 * SIGPIPE (blocked on the loop's thread), which must not stay pending. */
static void take_sigpipe(int sys_err)
{
    if (sys_err == EPIPE)
        cio__fdio_consume_sigpipe();
}

/* The error for a failed SSL call: `ssl_err` from SSL_get_error, `sys_err`
 * the errno right after the call. Notes the text for cio_tls_last_error. */
static int call_failure(int ssl_err, int sys_err, const char *what)
{
    take_sigpipe(sys_err);
    if (ssl_err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        if (sys_err == 0) {
            set_error("%s: the peer closed the connection without close_notify", what);
            return -ECONNRESET;
        }
        set_error("%s: %s", what, strerror(sys_err));
        return -sys_err;
    }
    if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        set_error("%s: the peer closed the connection without close_notify", what);
        return -ECONNRESET;
    }
    set_error("%s: %s", what, ssl_reason());
    return -EPROTO;
}

/* ------------------------------------------------------------ transport */

typedef struct tls_conn {
    SSL *ssl;
    /* The plain transport beneath, restored to close the descriptor (or
     * when a handshake fails). */
    const cio__stream_ops *plain_ops;
    void *plain_impl;
    /* An SSL_write that OpenSSL must see repeated (it gave WANT_READ or
     * WANT_WRITE): its length (0: none) and what it waits for. */
    size_t retry_len;
    int retry_want;
    /* A close_notify has been sent (write_eof). */
    bool shut;
} tls_conn;

/* Parks until the socket is ready for what OpenSSL asked for. */
static int wait_for(cio_stream *s, int ssl_err)
{
    return ssl_err == SSL_ERROR_WANT_READ ? cio_wait_readable(s->fd) : cio_wait_writable(s->fd);
}

static bool wants_io(int ssl_err)
{
    return ssl_err == SSL_ERROR_WANT_READ || ssl_err == SSL_ERROR_WANT_WRITE;
}

static ssize_t tls_read(cio_stream *s, void *buf, size_t n)
{
    tls_conn *c = s->impl;
    int len = n > INT_MAX ? INT_MAX : (int)n;
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, len);
        if (r > 0)
            return r;
        int sys_err = errno;
        int ssl_err = SSL_get_error(c->ssl, r);
        if (ssl_err == SSL_ERROR_ZERO_RETURN)
            return 0; /* the peer's close_notify: a clean end */
        if (!wants_io(ssl_err))
            return call_failure(ssl_err, sys_err, "read");
        int err = wait_for(s, ssl_err);
        if (err)
            return err;
    }
}

/* OpenSSL requires a write it could not finish to be repeated with the same
 * bytes and at least the same length. stream.c keeps bytes it was not told
 * were taken at the head of its buffer, and after a refused write from the
 * caller's memory it buffers at least min(n, high-water mark) of them, so
 * a write of at most that many is always repeatable from there. */
static ssize_t tls_try_write(cio_stream *s, const void *buf, size_t n)
{
    tls_conn *c = s->impl;
    size_t len = c->retry_len;
    if (!len)
        len = CIO__MIN(CIO__MIN(n, (size_t)RECORD_MAX), s->high_water);
    CIO__ASSERT(len <= n);
    ERR_clear_error();
    int r = SSL_write(c->ssl, buf, (int)len);
    if (r > 0) {
        c->retry_len = 0;
        return r;
    }
    int sys_err = errno;
    int ssl_err = SSL_get_error(c->ssl, r);
    if (!wants_io(ssl_err))
        return call_failure(ssl_err, sys_err, "write");
    c->retry_len = len;
    c->retry_want = ssl_err;
    return 0;
}

static int tls_wait_writable(cio_stream *s)
{
    tls_conn *c = s->impl;
    return wait_for(s, c->retry_len ? c->retry_want : SSL_ERROR_WANT_WRITE);
}

/* Sends close_notify (a clean end the peer can tell from a cut
 * connection), then half-closes the socket beneath. */
static int tls_shutdown(cio_stream *s)
{
    tls_conn *c = s->impl;
    for (;;) {
        ERR_clear_error();
        int r = SSL_shutdown(c->ssl);
        if (r >= 0)
            break;
        int sys_err = errno;
        int ssl_err = SSL_get_error(c->ssl, r);
        if (!wants_io(ssl_err))
            return call_failure(ssl_err, sys_err, "shutdown");
        int err = wait_for(s, ssl_err);
        if (err)
            return err;
    }
    c->shut = true;
    return c->plain_ops->shutdown(s);
}

/* Puts the plain transport back in place and frees the TLS state. */
static void restore_plain(cio_stream *s, tls_conn *c)
{
    s->ops = c->plain_ops;
    s->impl = c->plain_impl;
    SSL_free(c->ssl);
    free(c);
}

static void tls_close(cio_stream *s)
{
    tls_conn *c = s->impl;
    if (!c->shut && SSL_is_init_finished(c->ssl)) {
        /* One try at close_notify, without waiting: closing never suspends. */
        ERR_clear_error();
        if (SSL_shutdown(c->ssl) < 0)
            take_sigpipe(errno);
    }
    ERR_clear_error();
    restore_plain(s, c);
    s->ops->close(s);
}

static const cio__stream_ops tls_ops = {
    .name = "tls",
    .read = tls_read,
    .try_write = tls_try_write,
    .wait_writable = tls_wait_writable,
    .shutdown = tls_shutdown,
    .close = tls_close,
};

/* ------------------------------------------------------------ handshake */

/* The EPROTO of a failed handshake, with its reason noted. */
static int handshake_failure(tls_conn *c, int ssl_err, int sys_err)
{
    take_sigpipe(sys_err);
    long verify = SSL_get_verify_result(c->ssl);
    if (verify != X509_V_OK) {
        set_error("certificate verify failed: %s", X509_verify_cert_error_string(verify));
    } else if (ssl_err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        set_error("handshake failed: %s",
                  sys_err ? strerror(sys_err) : "the peer closed the connection");
    } else {
        set_error("handshake failed: %s", ssl_reason());
    }
    return -EPROTO;
}

/* The handshake's deadline from opts (NULL: the default). */
static double handshake_limit(const cio_tls_opts *opts)
{
    return opts && opts->handshake_timeout > 0 ? opts->handshake_timeout : HANDSHAKE_TIMEOUT;
}

static int handshake_steps(cio_stream *s, tls_conn *c)
{
    for (;;) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r == 1)
            return 0;
        int sys_err = errno;
        int ssl_err = SSL_get_error(c->ssl, r);
        if (!wants_io(ssl_err))
            return handshake_failure(c, ssl_err, sys_err);
        int err = wait_for(s, ssl_err);
        if (err) {
            set_error("handshake interrupted: %s", cio_strerror(err));
            return err;
        }
    }
}

/* The handshake, within `limit` seconds: a peer that stalls in it would
 * otherwise hold its task, descriptor and session for ever. */
static int handshake(cio_stream *s, tls_conn *c, double limit)
{
    cio_timeout tm;
    cio_timeout_enter(&tm, limit);
    int err = handshake_steps(s, c);
    if (cio_timeout_exit(&tm) == -ETIMEDOUT && err == -ETIMEDOUT)
        set_error("handshake timed out after %g s", limit);
    return err;
}

/* Sets the name a client sends (SNI) and checks in the certificate. */
static int set_peer_name(SSL *ssl, const char *name, bool verify)
{
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    /* SNI carries host names only (RFC 6066, section 3).
     * SSL_set_tlsext_host_name is a macro that casts the name to SSL_ctrl's
     * void *; SSL_ctrl copies it (OPENSSL_strdup) and never writes through
     * it. clang reports the cast from the macro's expansion (-Wcast-qual),
     * gcc does not (it comes from a system header): silenced for this one
     * call, not for the file. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
    if (!is_ip && !SSL_set_tlsext_host_name(ssl, name))
        return -ENOMEM;
#pragma GCC diagnostic pop
    if (!verify)
        return 0;
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name)
                   : X509_VERIFY_PARAM_set1_host(param, name, 0);
    return ok ? 0 : -EINVAL;
}

/* Makes ssl read and write s's socket. Bytes the loop received ahead on it
 * (io_uring's multishot receive, armed by plain reads before a STARTTLS)
 * are no longer in the socket: OpenSSL reads them first, out of a buffer
 * BIO in front of the socket's, and the loop stops receiving ahead. */
static int attach_socket(SSL *ssl, int fd)
{
    char *ahead;
    size_t len;
    int err = cio__fdio_take_input(fd, &ahead, &len);
    if (err)
        return err;
    if (!len)
        return SSL_set_fd(ssl, fd) ? 0 : -ENOMEM;
    err = -ENOMEM;
    BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
    BIO *buffer = BIO_new(BIO_f_buffer());
    if (!sock || !buffer || len > INT_MAX ||
        BIO_set_buffer_read_data(buffer, ahead, (long)len) != 1)
        goto free_bios;
    /* Reads come through the buffer; writes go to the socket directly. */
    BIO_push(buffer, sock);
    BIO_up_ref(sock);
    SSL_set_bio(ssl, buffer, sock);
    free(ahead);
    return 0;

free_bios:
    BIO_free(buffer);
    BIO_free(sock);
    free(ahead);
    return err;
}

/* Runs a handshake over s's connection with the TLS transport in place,
 * within `limit` seconds; peer_name (a client's) is sent and checked. On
 * failure s is plain again. */
static int upgrade(cio_stream *s, SSL_CTX *ctx, bool server, const char *peer_name, bool verify,
                   double limit)
{
    if (s->ops == &tls_ops || s->rbuf.len || s->wbuf.len || s->write_closed || s->write_error ||
        s->fd < 0) {
        set_error("a stream upgraded to TLS must be plain, open, with nothing buffered");
        return -EINVAL;
    }
    tls_conn *c = calloc(1, sizeof *c);
    SSL *ssl = c ? SSL_new(ctx) : NULL;
    if (!ssl) {
        free(c);
        set_error("out of memory");
        return -ENOMEM;
    }
    c->ssl = ssl;
    int err = attach_socket(ssl, s->fd);
    if (!err && peer_name)
        err = set_peer_name(ssl, peer_name, verify);
    if (err) {
        set_error("cannot set up the session: %s", cio_strerror(err));
        SSL_free(ssl);
        free(c);
        return err;
    }
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    c->plain_ops = s->ops;
    c->plain_impl = s->impl;
    s->ops = &tls_ops;
    s->impl = c;
    if ((err = handshake(s, c, limit)))
        restore_plain(s, c);
    return err;
}

/* -------------------------------------------------------------- contexts */

/* A context for one side with opts' files and checks, or NULL (-err). */
static SSL_CTX *make_ctx(const cio_tls_opts *opts, bool server, int *err)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        *err = -ENOMEM;
        set_error("out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Renegotiation would let a write need a read (and the reverse) in
     * TLS 1.2; nothing here needs it. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    /* Partial writes: SSL_write returns after each record, as write(2)
     * does; moving buffer: a repeated write comes from stream.c's buffer
     * rather than the caller's memory. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
    const char *cert = opts ? opts->cert_file : NULL;
    const char *key = opts && opts->key_file ? opts->key_file : cert;
    const char *ca = opts ? opts->ca_file : NULL;
    bool verify = !(opts && opts->insecure_no_verify);
    const char *failed = NULL, *file = NULL;
    if (cert && SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        failed = "cannot load the certificate", file = cert;
    else if (cert && SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        failed = "cannot load the private key", file = key;
    else if (cert && SSL_CTX_check_private_key(ctx) != 1)
        failed = "the private key does not match the certificate", file = key;
    else if (ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        failed = "cannot load the CA file", file = ca;
    else if (!ca && !server && SSL_CTX_set_default_verify_paths(ctx) != 1)
        failed = "cannot load the system's trust store", file = "";
    if (failed) {
        set_error("%s %s: %s", failed, file, ssl_reason());
        SSL_CTX_free(ctx);
        *err = -EINVAL;
        return NULL;
    }
    if (verify && (!server || ca))
        SSL_CTX_set_verify(ctx, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                       : SSL_VERIFY_PEER,
                           NULL);
    return ctx;
}

/* A client handshake over s: 0 or -errno. */
static int client_upgrade(cio_stream *s, const cio_tls_opts *opts, const char *peer_name)
{
    int err;
    SSL_CTX *ctx = make_ctx(opts, false, &err);
    if (!ctx)
        return err;
    err = upgrade(s, ctx, false, peer_name, !(opts && opts->insecure_no_verify),
                  handshake_limit(opts));
    /* The session holds its own reference. */
    SSL_CTX_free(ctx);
    return err;
}

cio_stream *cio_tls_connect(const char *host, const char *port, const cio_tls_opts *opts)
{
    if (!host || !port) {
        errno = EINVAL;
        return NULL;
    }
    cio_stream *s = cio_open_connection(host, port);
    if (!s) {
        int err = errno;
        set_error("cannot connect to %s port %s: %s", host, port, strerror(err));
        errno = err;
        return NULL;
    }
    int err = client_upgrade(s, opts, opts && opts->server_name ? opts->server_name : host);
    if (err) {
        cio_stream_close(s);
        errno = -err;
        return NULL;
    }
    return s;
}

cio_stream *cio_tls_client(cio_stream *plain, const cio_tls_opts *opts)
{
    CIO__CHECK_LIVE(plain, CIO__STREAM_MAGIC, "cio_tls_client", "stream");
    if (!plain || !opts || (!opts->server_name && !opts->insecure_no_verify)) {
        set_error("cio_tls_client needs a stream and opts with a server_name");
        errno = EINVAL;
        return NULL;
    }
    int err = cio__sched_checkpoint();
    if (!err)
        err = client_upgrade(plain, opts, opts->server_name);
    if (err) {
        errno = -err;
        return NULL;
    }
    return plain;
}

/* ---------------------------------------------------------------- server */

/* A TLS server's shared state: released by server.c once it is closed. */
typedef struct tls_server {
    SSL_CTX *ctx;
    cio_conn_fn handler;
    void *arg;
    /* Seconds each connection's handshake may take. */
    double handshake_limit;
} tls_server;

/* Each connection's task: the handshake, then the caller's handler. A
 * failed handshake ends the task, and server.c closes the connection. */
static int tls_conn_main(cio_stream *s, void *arg)
{
    tls_server *ts = arg;
    int err = upgrade(s, ts->ctx, true, NULL, false, ts->handshake_limit);
    return err ? err : ts->handler(s, ts->arg);
}

static void tls_server_release(void *arg)
{
    tls_server *ts = arg;
    SSL_CTX_free(ts->ctx);
    free(ts);
}

cio_server *cio_tls_start_server(const char *host, const char *port, const cio_tls_opts *opts,
                                 cio_conn_fn handler, void *arg)
{
    if (!opts || !opts->cert_file || !port || !handler) {
        set_error("a TLS server needs a port, a handler and a certificate");
        errno = EINVAL;
        return NULL;
    }
    tls_server *ts = malloc(sizeof *ts);
    if (!ts) {
        errno = ENOMEM;
        return NULL;
    }
    int err;
    ts->ctx = make_ctx(opts, true, &err);
    if (!ts->ctx) {
        free(ts);
        errno = -err;
        return NULL;
    }
    ts->handler = handler;
    ts->arg = arg;
    ts->handshake_limit = handshake_limit(opts);
    cio_server *srv = cio__server_start(host, port, tls_conn_main, ts, tls_server_release);
    if (!srv) {
        err = errno;
        tls_server_release(ts);
        errno = err;
    }
    return srv;
}
