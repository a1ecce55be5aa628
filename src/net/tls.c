/* SPDX-License-Identifier: MIT */
/* tls.c — the TLS stream transport (OpenSSL), and the calls that make TLS
 * streams: cio_tls_connect, cio_tls_client (an upgrade in place),
 * cio_tls_start_server and their _ctx forms, what a stream negotiated
 * (ALPN, resumption), and the per-task error text of cio_tls_last_error.
 * Contexts (cio_tls_ctx) and the session cache are tls_ctx.c's.
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
#include "net/tls.h"
#include "io/stream.h"

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

void cio__tls_set_error(const char *fmt, ...)
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

const char *cio__tls_reason(void)
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
            cio__tls_set_error("%s: the peer closed the connection without close_notify", what);
            return -ECONNRESET;
        }
        cio__tls_set_error("%s: %s", what, strerror(sys_err));
        return -sys_err;
    }
    if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        cio__tls_set_error("%s: the peer closed the connection without close_notify", what);
        return -ECONNRESET;
    }
    cio__tls_set_error("%s: %s", what, cio__tls_reason());
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
    /* The last SSL_read left nothing in OpenSSL's buffer: with read-ahead
     * its read(2) took all the socket held, so the next read waits for the
     * socket first instead of meeting EAGAIN. */
    bool drained;
    /* The ALPN protocol agreed on, NUL-terminated ("": none), filled when
     * the handshake ends. */
    char alpn[256];
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
    if (c->drained && !SSL_has_pending(c->ssl)) {
        /* A wait that is level-triggered on every backend: if bytes did
         * arrive meanwhile it returns at once. */
        c->drained = false;
        int err = cio_wait_readable(s->fd);
        if (err)
            return err;
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, len);
        if (r > 0) {
            c->drained = !SSL_has_pending(c->ssl);
            return r;
        }
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
        cio__tls_set_error("certificate verify failed: %s", X509_verify_cert_error_string(verify));
    } else if (ssl_err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        cio__tls_set_error("handshake failed: %s",
                  sys_err ? strerror(sys_err) : "the peer closed the connection");
    } else {
        cio__tls_set_error("handshake failed: %s", cio__tls_reason());
    }
    return -EPROTO;
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
            cio__tls_set_error("handshake interrupted: %s", cio_strerror(err));
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
        cio__tls_set_error("handshake timed out after %g s", limit);
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

/* The stream must be plain, open, and have nothing buffered. */
static int check_upgradable(const cio_stream *s)
{
    if (s->ops == &tls_ops || s->rbuf.len || s->wbuf.len || s->write_closed || s->write_error ||
        s->fd < 0) {
        cio__tls_set_error("a stream upgraded to TLS must be plain, open, with nothing buffered");
        return -EINVAL;
    }
    return 0;
}

/* Notes the ALPN protocol the handshake agreed on. */
static void note_alpn(tls_conn *c)
{
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(c->ssl, &p, &len);
    if (!p || len >= sizeof c->alpn)
        len = 0; /* none (a protocol name has at most 255 bytes) */
    else
        memcpy(c->alpn, p, len);
    c->alpn[len] = '\0';
}

/* Runs a handshake over s's connection with the TLS transport in place,
 * on a session of ctx (peer: its session cache entry, a client's), within
 * the context's deadline; peer_name (a client's) is sent and checked. On
 * failure s is plain again. */
static int upgrade(cio_stream *s, cio_tls_ctx *ctx, const char *peer_name, const char *peer)
{
    int err = check_upgradable(s);
    if (err)
        return err;
    tls_conn *c = calloc(1, sizeof *c);
    SSL *ssl = c ? cio__tls_ctx_session(ctx, peer) : NULL;
    if (!ssl) {
        free(c);
        cio__tls_set_error("out of memory");
        return -ENOMEM;
    }
    c->ssl = ssl;
    err = attach_socket(ssl, s->fd);
    if (!err && peer_name)
        err = set_peer_name(ssl, peer_name, cio__tls_ctx_verifies(ctx));
    if (err) {
        cio__tls_set_error("cannot set up the session: %s", cio_strerror(err));
        SSL_free(ssl);
        free(c);
        return err;
    }
    if (cio__tls_ctx_is_server(ctx))
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    c->plain_ops = s->ops;
    c->plain_impl = s->impl;
    s->ops = &tls_ops;
    s->impl = c;
    if ((err = handshake(s, c, cio__tls_ctx_handshake_limit(ctx))))
        restore_plain(s, c);
    else
        note_alpn(c);
    return err;
}

/* -------------------------------------------------------------- clients */

/* The context cio_tls_opts describe, for one call (or NULL: errno set). */
static cio_tls_ctx *opts_ctx(const cio_tls_opts *opts, bool server)
{
    cio_tls_opts none = {0};
    if (!opts)
        opts = &none;
    cio_tls_ctx_opts o = {
        .server = server,
        .ca_file = opts->ca_file,
        .cert_file = opts->cert_file,
        .key_file = opts->key_file,
        .verify = opts->insecure_no_verify ? CIO_TLS_VERIFY_NONE : CIO_TLS_VERIFY_DEFAULT,
        /* cio_tls_opts has always taken NaN and negatives as "the
         * default"; a context refuses them. */
        .handshake_timeout = opts->handshake_timeout > 0 ? opts->handshake_timeout : 0,
        /* A context made for one connection would keep no session long
         * enough to resume it. */
        .no_session_resumption = true,
    };
    return cio_tls_ctx_new(&o);
}

/* Drops a reference on a context made for one call, keeping the call's
 * errno: the stream's session, or the server, holds its own. */
static void drop_call_ctx(cio_tls_ctx *ctx)
{
    int err = errno;
    cio_tls_ctx_free(ctx);
    errno = err;
}

/* The session cache's name for a peer: "name:port". */
static void peer_key(char *key, size_t cap, const char *name, int port)
{
    snprintf(key, cap, "%s:%d", name, port);
}

/* The port of the peer s is connected to (0: unknown). */
static int peer_port(const cio_stream *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(s->fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* A client handshake over s, on ctx: 0 or -errno. */
static int client_upgrade(cio_stream *s, cio_tls_ctx *ctx, const char *name)
{
    char key[300];
    if (name)
        peer_key(key, sizeof key, name, peer_port(s));
    return upgrade(s, ctx, name, name ? key : NULL);
}

cio_stream *cio_tls_connect_ctx(const char *host, const char *port, cio_tls_ctx *ctx,
                                const char *server_name)
{
    if (!host || !port || !ctx || cio__tls_ctx_is_server(ctx)) {
        cio__tls_set_error("cio_tls_connect_ctx needs a host, a port and a client context");
        errno = EINVAL;
        return NULL;
    }
    cio_stream *s = cio_open_connection(host, port);
    if (!s) {
        int err = errno;
        cio__tls_set_error("cannot connect to %s port %s: %s", host, port, strerror(err));
        errno = err;
        return NULL;
    }
    int err = client_upgrade(s, ctx, server_name ? server_name : host);
    if (err) {
        cio_stream_close(s);
        errno = -err;
        return NULL;
    }
    return s;
}

cio_stream *cio_tls_connect(const char *host, const char *port, const cio_tls_opts *opts)
{
    if (!host || !port) {
        errno = EINVAL;
        return NULL;
    }
    cio_tls_ctx *ctx = opts_ctx(opts, false);
    if (!ctx)
        return NULL;
    cio_stream *s = cio_tls_connect_ctx(host, port, ctx, opts ? opts->server_name : NULL);
    drop_call_ctx(ctx);
    return s;
}

cio_stream *cio_tls_client_ctx(cio_stream *plain, cio_tls_ctx *ctx, const char *server_name)
{
    CIO__CHECK_LIVE(plain, CIO__STREAM_MAGIC, "cio_tls_client", "stream");
    if (!plain || !ctx || cio__tls_ctx_is_server(ctx) ||
        (!server_name && cio__tls_ctx_verifies(ctx))) {
        cio__tls_set_error("cio_tls_client needs a stream, a client context and a server_name");
        errno = EINVAL;
        return NULL;
    }
    int err = cio__sched_checkpoint();
    if (!err)
        err = client_upgrade(plain, ctx, server_name);
    if (err) {
        errno = -err;
        return NULL;
    }
    return plain;
}

cio_stream *cio_tls_client(cio_stream *plain, const cio_tls_opts *opts)
{
    if (!plain || !opts || (!opts->server_name && !opts->insecure_no_verify)) {
        cio__tls_set_error("cio_tls_client needs a stream and opts with a server_name");
        errno = EINVAL;
        return NULL;
    }
    cio_tls_ctx *ctx = opts_ctx(opts, false);
    if (!ctx)
        return NULL;
    cio_stream *s = cio_tls_client_ctx(plain, ctx, opts->server_name);
    drop_call_ctx(ctx);
    return s;
}

/* ------------------------------------------------------------ a stream */

static tls_conn *tls_of(const cio_stream *s) { return s && s->ops == &tls_ops ? s->impl : NULL; }

const char *cio_tls_alpn(const cio_stream *s)
{
    tls_conn *c = tls_of(s);
    return c && c->alpn[0] ? c->alpn : NULL;
}

int cio_tls_session_reused(const cio_stream *s)
{
    tls_conn *c = tls_of(s);
    return c ? SSL_session_reused(c->ssl) == 1 : -EINVAL;
}

/* ---------------------------------------------------------------- server */

/* A TLS server's shared state: released by server.c once it is closed. */
typedef struct tls_server {
    cio_tls_ctx *ctx;
    cio_conn_fn handler;
    void *arg;
    /* cio_tls_server_opts.on_handshake_failure and its argument. */
    cio_tls_failure_fn on_failure;
    void *failure_arg;
} tls_server;

/* Each connection's task: the handshake, then the caller's handler. A
 * failed handshake is reported and ends the task, and server.c closes
 * the connection. */
static int tls_conn_main(cio_stream *s, void *arg)
{
    tls_server *ts = arg;
    int err = upgrade(s, ts->ctx, NULL, NULL);
    if (err && ts->on_failure)
        ts->on_failure(s, err, cio_tls_last_error(), ts->failure_arg);
    return err ? err : ts->handler(s, ts->arg);
}

static void tls_server_release(void *arg)
{
    tls_server *ts = arg;
    cio_tls_ctx_free(ts->ctx);
    free(ts);
}

cio_server *cio_tls_start_server_ctx(const char *host, const char *port, cio_tls_ctx *ctx,
                                     const cio_tls_server_opts *opts, cio_conn_fn handler,
                                     void *arg)
{
    if (!ctx || !cio__tls_ctx_is_server(ctx) || !port || !handler) {
        cio__tls_set_error("a TLS server needs a port, a handler and a server context");
        errno = EINVAL;
        return NULL;
    }
    tls_server *ts = malloc(sizeof *ts);
    if (!ts) {
        errno = ENOMEM;
        return NULL;
    }
    cio__tls_ctx_ref(ctx);
    *ts = (tls_server){.ctx = ctx, .handler = handler, .arg = arg};
    if (opts) {
        ts->on_failure = opts->on_handshake_failure;
        ts->failure_arg = opts->failure_arg;
    }
    cio_server *srv = cio__server_start(host, port, opts ? &opts->server : NULL, tls_conn_main, ts,
                                        tls_server_release);
    if (!srv) {
        int err = errno;
        tls_server_release(ts);
        errno = err;
    }
    return srv;
}

cio_server *cio_tls_start_server(const char *host, const char *port, const cio_tls_opts *opts,
                                 cio_conn_fn handler, void *arg)
{
    if (!opts || !opts->cert_file || !port || !handler) {
        cio__tls_set_error("a TLS server needs a port, a handler and a certificate");
        errno = EINVAL;
        return NULL;
    }
    cio_tls_ctx *ctx = opts_ctx(opts, true);
    if (!ctx)
        return NULL;
    cio_server *srv = cio_tls_start_server_ctx(host, port, ctx, NULL, handler, arg);
    drop_call_ctx(ctx);
    return srv;
}
