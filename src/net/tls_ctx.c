/* SPDX-License-Identifier: MIT */
/* tls_ctx.c — cio_tls_ctx: an OpenSSL context made once (trust store,
 * certificate chain and key, verification, versions, ciphers, ALPN, SNI)
 * and shared by every stream and server made with it, and a client's
 * cache of sessions per peer for resumption.
 *
 * Streams are tls.c's; this file only makes and configures SSL objects.
 * A context may be used from several threads' loops at once: its
 * reference count is atomic and its session cache has a lock of its own
 * (taken only inside the calls of this file, never across a suspension).
 */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "list.h"
#include "net/tls.h"

/* The default of cio_tls_ctx_opts.handshake_timeout, in seconds. */
#define HANDSHAKE_TIMEOUT 10.0
/* The default of cio_tls_ctx_opts.session_cache_size: peers kept. */
#define SESSION_CACHE_SIZE 64

/* One peer's kept session, in the cache's list (most recent first). */
typedef struct cached {
    cio__list node;
    SSL_SESSION *session;
    char peer[];
} cached;

struct cio_tls_ctx {
    SSL_CTX *ssl;
    /* References: the caller's (cio_tls_ctx_free drops it), one per
     * session (dropped by SSL_free, through the ex_data slot below) and
     * one per server. */
    atomic_int refs;
    bool server;
    /* Whether peers are verified (off: CIO_TLS_VERIFY_NONE). */
    bool verify;
    double handshake_limit;
    /* A server's SNI callback and its argument. */
    cio_tls_sni_fn sni;
    void *sni_arg;
    /* A server's ALPN protocols in wire format (length-prefixed), in its
     * order of preference; NULL: none. */
    unsigned char *alpn;
    size_t alpn_len;
    /* A client's sessions (cached.node), at most cache_max; the lock
     * guards the list and ncached. */
    pthread_mutex_t lock;
    cio__list cache;
    size_t ncached, cache_max;
};

/* ----------------------------------------------------- ex_data slots */

/* Two slots of each SSL: the peer name its session is cached under (a
 * malloc'd string), and the cio_tls_ctx an SNI callback switched it to
 * (a reference). Both are released with the SSL. The context the SSL was
 * made from is held through the SSL_CTX's own slot (ctx_slot). */
static int peer_slot = -1, sni_slot = -1, ctx_slot = -1, ref_slot = -1;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void free_peer(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                      void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

static void drop_ctx(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                     void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (ptr)
        cio_tls_ctx_free(ptr);
}

static void make_slots(void)
{
    peer_slot = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_peer);
    sni_slot = SSL_get_ex_new_index(0, NULL, NULL, NULL, drop_ctx);
    ref_slot = SSL_get_ex_new_index(0, NULL, NULL, NULL, drop_ctx);
    ctx_slot = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static cio_tls_ctx *ctx_of(SSL *ssl)
{
    return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_slot);
}

/* ------------------------------------------------------ session cache */

/* Takes the entry for peer off the cache (the caller frees it), or NULL. */
static cached *cache_take(cio_tls_ctx *ctx, const char *peer)
{
    for (cio__list *n = ctx->cache.next; n != &ctx->cache; n = n->next) {
        cached *e = CIO__CONTAINER_OF(n, cached, node);
        if (strcmp(e->peer, peer) == 0) {
            cio__list_remove(&e->node);
            ctx->ncached--;
            return e;
        }
    }
    return NULL;
}

static void cached_free(cached *e)
{
    SSL_SESSION_free(e->session);
    free(e);
}

/* OpenSSL's new-session callback on a client: a ticket (TLS 1.3) or a
 * session (TLS 1.2) arrived; keep it for the peer, in place of any older
 * one, the least recently stored leaving a full cache. Returns 1: the
 * cache keeps the reference OpenSSL handed over. */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
    cio_tls_ctx *ctx = ctx_of(ssl);
    const char *peer = SSL_get_ex_data(ssl, peer_slot);
    if (!ctx || !peer || !SSL_SESSION_is_resumable(session))
        return 0;
    size_t len = strlen(peer) + 1;
    cached *e = malloc(sizeof *e + len);
    if (!e)
        return 0;
    e->session = session;
    memcpy(e->peer, peer, len);
    cached *old = NULL, *evicted = NULL;
    pthread_mutex_lock(&ctx->lock);
    old = cache_take(ctx, peer);
    cio__list_push_front(&ctx->cache, &e->node);
    if (++ctx->ncached > ctx->cache_max) {
        evicted = CIO__CONTAINER_OF(ctx->cache.prev, cached, node);
        cio__list_remove(&evicted->node);
        ctx->ncached--;
    }
    pthread_mutex_unlock(&ctx->lock);
    if (old)
        cached_free(old);
    if (evicted)
        cached_free(evicted);
    return 1;
}

/* Offers the session kept for peer. A TLS 1.3 ticket is taken from the
 * cache (RFC 8446 C.4: tickets are single-use, the server sends fresh ones
 * on the resumed connection); a TLS 1.2 session stays for other
 * connections. */
static void offer_session(cio_tls_ctx *ctx, SSL *ssl, const char *peer)
{
    SSL_SESSION *session = NULL;
    pthread_mutex_lock(&ctx->lock);
    cached *e = cache_take(ctx, peer);
    if (e && SSL_SESSION_get_protocol_version(e->session) < TLS1_3_VERSION) {
        SSL_SESSION_up_ref(e->session);
        cio__list_push_front(&ctx->cache, &e->node);
        ctx->ncached++;
        session = e->session;
        e = NULL;
    }
    pthread_mutex_unlock(&ctx->lock);
    if (e) {
        session = e->session;
        free(e);
    }
    if (session) {
        SSL_set_session(ssl, session);
        SSL_SESSION_free(session);
    }
}

SSL *cio__tls_ctx_session(cio_tls_ctx *ctx, const char *peer)
{
    SSL *ssl = SSL_new(ctx->ssl);
    if (!ssl)
        return NULL;
    cio__tls_ctx_ref(ctx);
    SSL_set_ex_data(ssl, ref_slot, ctx);
    if (peer && !ctx->server && ctx->cache_max) {
        char *copy = strdup(peer);
        if (!copy) {
            SSL_free(ssl);
            return NULL;
        }
        SSL_set_ex_data(ssl, peer_slot, copy);
        offer_session(ctx, ssl, peer);
    }
    return ssl;
}

/* ------------------------------------------------------- SNI and ALPN */

/* A server's servername callback: the user's choice of context for the
 * name the client asked for. The session holds a reference on it. */
static int on_server_name(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    cio_tls_ctx *ctx = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name || !ctx->sni)
        return SSL_TLSEXT_ERR_OK;
    cio_tls_ctx *chosen = ctx->sni(name, ctx->sni_arg);
    if (!chosen || chosen == ctx)
        return SSL_TLSEXT_ERR_OK;
    if (!chosen->server || !SSL_set_SSL_CTX(ssl, chosen->ssl))
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    cio__tls_ctx_ref(chosen);
    SSL_set_ex_data(ssl, sni_slot, chosen);
    return SSL_TLSEXT_ERR_OK;
}

/* A server's ALPN choice: its most preferred protocol the client offers.
 * None in common: no ALPN at all, and the handshake goes on (as asyncio
 * and nginx do for HTTP/1.1 clients). */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
    (void)arg;
    cio_tls_ctx *ctx = ctx_of(ssl);
    unsigned char *chosen;
    if (!ctx || !ctx->alpn ||
        SSL_select_next_proto(&chosen, outlen, ctx->alpn, (unsigned)ctx->alpn_len, in, inlen) !=
            OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

/* The protocols in wire format: each a length byte and the name. */
static int alpn_wire(const char *const *protos, unsigned char **wire, size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; protos[i]; i++) {
        size_t l = strlen(protos[i]);
        if (l == 0 || l > 255)
            return -EINVAL;
        n += 1 + l;
    }
    if (n == 0 || n > 65535)
        return -EINVAL;
    unsigned char *w = malloc(n), *p = w;
    if (!w)
        return -ENOMEM;
    for (size_t i = 0; protos[i]; i++) {
        size_t l = strlen(protos[i]);
        *p++ = (unsigned char)l;
        memcpy(p, protos[i], l);
        p += l;
    }
    *wire = w;
    *len = n;
    return 0;
}

/* ----------------------------------------------------------- contexts */

/* Loads the files and applies the settings of opts: 0, or -EINVAL with
 * the reason noted. */
static int configure(cio_tls_ctx *ctx, const cio_tls_ctx_opts *o)
{
    SSL_CTX *s = ctx->ssl;
    const char *key = o->key_file ? o->key_file : o->cert_file;
    const char *failed = NULL, *what = "";
    int min = o->min_version ? o->min_version : CIO_TLS_VERSION_1_2;
    if (min != CIO_TLS_VERSION_1_2 && min != CIO_TLS_VERSION_1_3)
        failed = "unsupported minimum version", what = "(TLS 1.2 or 1.3)";
    else if (!SSL_CTX_set_min_proto_version(s, min))
        failed = "cannot set the minimum version";
    else if (o->cert_file && SSL_CTX_use_certificate_chain_file(s, o->cert_file) != 1)
        failed = "cannot load the certificate", what = o->cert_file;
    else if (o->cert_file && SSL_CTX_use_PrivateKey_file(s, key, SSL_FILETYPE_PEM) != 1)
        failed = "cannot load the private key", what = key;
    else if (o->cert_file && SSL_CTX_check_private_key(s) != 1)
        failed = "the private key does not match the certificate", what = key;
    else if ((o->ca_file || o->ca_dir) &&
             SSL_CTX_load_verify_locations(s, o->ca_file, o->ca_dir) != 1)
        failed = "cannot load the CA file or directory", what = o->ca_file ? o->ca_file : o->ca_dir;
    else if (!o->ca_file && !o->ca_dir && !o->server && ctx->verify &&
             SSL_CTX_set_default_verify_paths(s) != 1)
        failed = "cannot load the system's trust store";
    else if (o->ciphers && SSL_CTX_set_cipher_list(s, o->ciphers) != 1)
        failed = "no usable cipher in the list", what = o->ciphers;
    else if (o->ciphersuites && SSL_CTX_set_ciphersuites(s, o->ciphersuites) != 1)
        failed = "no usable TLS 1.3 cipher suite in the list", what = o->ciphersuites;
    if (failed) {
        cio__tls_set_error("%s %s: %s", failed, what, cio__tls_reason());
        return -EINVAL;
    }
    if (o->alpn) {
        int err = alpn_wire(o->alpn, &ctx->alpn, &ctx->alpn_len);
        if (err) {
            cio__tls_set_error("unusable ALPN protocol list");
            return err;
        }
        if (o->server)
            SSL_CTX_set_alpn_select_cb(s, on_alpn, NULL);
        /* Unlike every other OpenSSL call, this one returns 0 on success. */
        else if (SSL_CTX_set_alpn_protos(s, ctx->alpn, (unsigned)ctx->alpn_len) != 0)
            return -ENOMEM;
    }
    int mode = SSL_VERIFY_NONE;
    switch (o->verify) {
    case CIO_TLS_VERIFY_DEFAULT:
        /* A client checks the server; a server given CAs requires a client
         * certificate they signed (cio_tls_opts' rule). */
        if (!o->server)
            mode = SSL_VERIFY_PEER;
        else if (o->ca_file || o->ca_dir)
            mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        break;
    case CIO_TLS_VERIFY_NONE:
        break;
    case CIO_TLS_VERIFY_PEER:
        mode = SSL_VERIFY_PEER;
        break;
    case CIO_TLS_VERIFY_REQUIRE:
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        break;
    }
    SSL_CTX_set_verify(s, mode, NULL);
    if (o->server) {
        SSL_CTX_set_tlsext_servername_callback(s, on_server_name);
        SSL_CTX_set_tlsext_servername_arg(s, ctx);
    } else if (ctx->cache_max) {
        /* The client's cache is ours (per peer); OpenSSL's own client
         * cache would not know which session belongs to which host. */
        SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_CLIENT |
                                              SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(s, on_new_session);
    }
    return 0;
}

static bool opts_valid(const cio_tls_ctx_opts *o)
{
    if (o->verify < CIO_TLS_VERIFY_DEFAULT || o->verify > CIO_TLS_VERIFY_REQUIRE)
        return false;
    if (isnan(o->handshake_timeout) || o->handshake_timeout < 0)
        return false;
    if (o->server && (!o->cert_file || o->session_cache_size))
        return false;
    return !(o->sni && !o->server);
}

cio_tls_ctx *cio_tls_ctx_new(const cio_tls_ctx_opts *opts)
{
    if (!opts || !opts_valid(opts)) {
        cio__tls_set_error("cio_tls_ctx_new: invalid options");
        errno = EINVAL;
        return NULL;
    }
    pthread_once(&slots_once, make_slots);
    if (peer_slot < 0 || sni_slot < 0 || ctx_slot < 0 || ref_slot < 0) {
        errno = ENOMEM;
        return NULL;
    }
    cio_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        errno = ENOMEM;
        return NULL;
    }
    ctx->ssl = SSL_CTX_new(opts->server ? TLS_server_method() : TLS_client_method());
    if (!ctx->ssl) {
        free(ctx);
        cio__tls_set_error("out of memory");
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&ctx->refs, 1);
    pthread_mutex_init(&ctx->lock, NULL);
    cio__list_init(&ctx->cache);
    ctx->server = opts->server;
    ctx->verify = opts->verify != CIO_TLS_VERIFY_NONE;
    ctx->handshake_limit = opts->handshake_timeout > 0 ? opts->handshake_timeout
                                                       : HANDSHAKE_TIMEOUT;
    ctx->sni = opts->sni;
    ctx->sni_arg = opts->sni_arg;
    ctx->cache_max = opts->server || opts->no_session_resumption ? 0
                     : opts->session_cache_size                 ? opts->session_cache_size
                                                                : SESSION_CACHE_SIZE;
    SSL_CTX_set_ex_data(ctx->ssl, ctx_slot, ctx);
    /* Renegotiation would let a write need a read (and the reverse) in
     * TLS 1.2; nothing here needs it. */
    SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_RENEGOTIATION);
    /* Partial writes: SSL_write returns after each record, as write(2)
     * does; moving buffer: a repeated write comes from stream.c's buffer
     * rather than the caller's memory. */
    SSL_CTX_set_mode(ctx->ssl,
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_clear_mode(ctx->ssl, SSL_MODE_AUTO_RETRY);
    /* Read ahead: one read(2) takes whatever the socket holds, rather than
     * one for each record's 5-byte header and one for its body (a third of
     * a keep-alive server's system calls). tls.c calls SSL_read before
     * ever waiting for the socket, so bytes OpenSSL holds are never
     * waited for. */
    SSL_CTX_set_read_ahead(ctx->ssl, 1);
    int err = configure(ctx, opts);
    if (err) {
        cio_tls_ctx_free(ctx);
        errno = -err;
        return NULL;
    }
    return ctx;
}

void cio__tls_ctx_ref(cio_tls_ctx *ctx) { atomic_fetch_add(&ctx->refs, 1); }

void cio_tls_ctx_free(cio_tls_ctx *ctx)
{
    if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1)
        return;
    SSL_CTX_free(ctx->ssl);
    while (ctx->cache.next != &ctx->cache) {
        cached *e = CIO__CONTAINER_OF(ctx->cache.next, cached, node);
        cio__list_remove(&e->node);
        cached_free(e);
    }
    pthread_mutex_destroy(&ctx->lock);
    free(ctx->alpn);
    free(ctx);
}

double cio__tls_ctx_handshake_limit(const cio_tls_ctx *ctx) { return ctx->handshake_limit; }
bool cio__tls_ctx_verifies(const cio_tls_ctx *ctx) { return ctx->verify; }
bool cio__tls_ctx_is_server(const cio_tls_ctx *ctx) { return ctx->server; }
