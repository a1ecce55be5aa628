/* SPDX-License-Identifier: MIT */
/* test_tls_ctx.c — reusable TLS contexts: session resumption against a cio
 * server and against openssl s_server, ALPN, SNI choosing a certificate,
 * the minimum version and the handshake-failure callback (openssl s_client
 * offering only TLS 1.2), the context's handshake deadline, TLS servers
 * with server options and a graceful shutdown, STARTTLS on a context, and
 * bad arguments. */
#include "peers.h"

#include <cio_tls.h>

#include <math.h>

/* A second server certificate, for SNI: other.pem / other.key, names
 * other.test only, signed by the directory's CA. */
static char other_cert[160], other_key[160];

static int setup(void **state)
{
    peers_setup(state);
    peer_shell(&peers, "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                       " -keyout other.key -out other.csr -subj /CN=other.test");
    peer_shell(&peers, "printf 'subjectAltName=DNS:other.test\\n' >other.ext");
    peer_shell(&peers, "openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key -set_serial 2"
                       " -days 2 -extfile other.ext -out other.pem");
    snprintf(other_cert, sizeof other_cert, "%s/other.pem", peers.path);
    snprintf(other_key, sizeof other_key, "%s/other.key", peers.path);
    return 0;
}

static cio_tls_ctx *server_ctx(const char *const *alpn)
{
    cio_tls_ctx_opts o = {.server = true, .cert_file = peers.cert, .key_file = peers.key,
                          .alpn = alpn};
    return cio_tls_ctx_new(&o);
}

static cio_tls_ctx *client_ctx(const char *const *alpn, bool no_resumption)
{
    cio_tls_ctx_opts o = {.ca_file = peers.ca, .alpn = alpn,
                          .no_session_resumption = no_resumption};
    return cio_tls_ctx_new(&o);
}

/* Replies "pong: <line>" to each line until the client closes. */
static int pong(cio_stream *s, void *arg)
{
    int *served = arg;
    if (served)
        (*served)++;
    char line[128], reply[160];
    for (;;) {
        ssize_t n = cio_stream_readline(s, line, sizeof line);
        if (n <= 0)
            return (int)n;
        int len = snprintf(reply, sizeof reply, "pong: %s", line);
        int err = cio_stream_write(s, reply, (size_t)len);
        if (err)
            return err;
    }
}

/* Replies "pong: <line>" to one line, then ends the connection (openssl
 * s_client -quiet waits for the server to close). */
static int pong_once(cio_stream *s, void *arg)
{
    int *served = arg;
    (*served)++;
    char line[128], reply[160];
    ssize_t n = cio_stream_readline(s, line, sizeof line);
    if (n <= 0)
        return (int)n;
    int len = snprintf(reply, sizeof reply, "pong: %s", line);
    return cio_stream_write(s, reply, (size_t)len);
}

/* One connection on ctx: a line there and back (so that a TLS 1.3 ticket
 * arrives), then close. Returns whether the session was resumed (0/1),
 * or a negative error; *alpn gets what ALPN agreed ("" for none). */
static int exchange(cio_tls_ctx *ctx, const char *port, const char *name, const char *want,
                    char *alpn, size_t alpn_cap)
{
    cio_stream *s = cio_tls_connect_ctx("127.0.0.1", port, ctx, name);
    if (!s)
        return -errno;
    char line[128];
    int err = cio_stream_write(s, "hello\n", 6);
    ssize_t n = err ? err : cio_stream_readline(s, line, sizeof line);
    CHECK_CIO(n, (ssize_t)strlen(want));
    CHECK(n < 0 || strcmp(line, want) == 0);
    if (alpn) {
        const char *a = cio_tls_alpn(s);
        snprintf(alpn, alpn_cap, "%s", a ? a : "");
    }
    int reused = cio_tls_session_reused(s);
    CHECK_CIO(cio_stream_close(s), 0);
    return n < 0 ? (int)n : reused;
}

/* --------------------------------------------- resumption, ALPN: cio */

static int resume_main(void *arg)
{
    (void)arg;
    static const char *const server_alpn[] = {"http/1.1", "h2", NULL};
    static const char *const client_alpn[] = {"h2", "http/1.1", NULL};
    static const char *const foreign_alpn[] = {"spdy/1", NULL};
    int served = 0;
    cio_tls_ctx *sctx = server_ctx(server_alpn);
    REQUIRE(sctx);
    cio_server *srv = cio_tls_start_server_ctx("127.0.0.1", "0", sctx, NULL, pong, &served);
    /* The server holds its own reference. */
    cio_tls_ctx_free(sctx);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    cio_tls_ctx *c = client_ctx(client_alpn, false);
    REQUIRE(c);
    char alpn[32];
    /* The first connection is a full handshake; the next ones resume the
     * session the server sent. The server's preference wins ALPN. */
    CHECK_CIO(exchange(c, p.s, "localhost", "pong: hello\n", alpn, sizeof alpn), 0);
    CHECK(strcmp(alpn, "http/1.1") == 0);
    for (int i = 0; i < 3; i++) {
        CHECK_CIO(exchange(c, p.s, "localhost", "pong: hello\n", alpn, sizeof alpn), 1);
        CHECK(strcmp(alpn, "http/1.1") == 0);
    }
    /* Sessions are kept per peer: another name starts afresh. */
    CHECK_CIO(exchange(c, p.s, "127.0.0.1", "pong: hello\n", NULL, 0), 0);
    cio_tls_ctx_free(c);
    /* Without resumption every handshake is full; with no protocol in
     * common there is no ALPN, and the connection works all the same. */
    c = client_ctx(foreign_alpn, true);
    REQUIRE(c);
    for (int i = 0; i < 2; i++) {
        CHECK_CIO(exchange(c, p.s, "localhost", "pong: hello\n", alpn, sizeof alpn), 0);
        CHECK(alpn[0] == '\0');
    }
    cio_tls_ctx_free(c);
    CHECK_CIO(cio_server_close(srv), 0);
    CHECK(served == 7);
    return 0;
}

static void ctx_resumes_sessions_and_negotiates_alpn(void **state)
{
    (void)state;
    run_ok(resume_main, NULL);
}

/* ------------------------------------------- against openssl s_server */

static int s_server_main(void *arg)
{
    port_str p = port_string((int)(intptr_t)arg);
    static const char *const alpn[] = {"h2", "x-cio-test", NULL};
    cio_tls_ctx *c = client_ctx(alpn, false);
    REQUIRE(c);
    char got[32];
    CHECK_CIO(exchange(c, p.s, "localhost", "olleh\n", got, sizeof got), 0);
    CHECK(strcmp(got, "x-cio-test") == 0);
    CHECK_CIO(exchange(c, p.s, "localhost", "olleh\n", got, sizeof got), 1);
    cio_tls_ctx_free(c);
    return 0;
}

static void ctx_resumes_tickets_of_s_server(void **state)
{
    (void)state;
    int port = peer_free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    const char *argv[] = {"openssl", "s_server", "-accept", accept, "-cert", peers.cert,
                          "-key", peers.key, "-rev", "-alpn", "x-cio-test", NULL};
    peer_pid = peer_start(&peers, "s_server.log", argv, &port, 1);
    run_ok(s_server_main, (void *)(intptr_t)port);
}

/* ------------------------------------------------------------- SNI */

typedef struct sni_table {
    cio_tls_ctx *other;
    int asked;
} sni_table;

static cio_tls_ctx *choose(const char *name, void *arg)
{
    sni_table *t = arg;
    t->asked++;
    return strcmp(name, "other.test") == 0 ? t->other : NULL;
}

static int sni_main(void *arg)
{
    (void)arg;
    sni_table t = {0};
    t.other = cio_tls_ctx_new(&(cio_tls_ctx_opts){.server = true, .cert_file = other_cert,
                                                  .key_file = other_key});
    REQUIRE(t.other);
    cio_tls_ctx *sctx = cio_tls_ctx_new(&(cio_tls_ctx_opts){
        .server = true, .cert_file = peers.cert, .key_file = peers.key, .sni = choose,
        .sni_arg = &t});
    REQUIRE(sctx);
    cio_server *srv = cio_tls_start_server_ctx("127.0.0.1", "0", sctx, NULL, pong, NULL);
    cio_tls_ctx_free(sctx);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    cio_tls_ctx *c = client_ctx(NULL, true);
    REQUIRE(c);
    /* Each name gets the certificate that names it: the host-name check
     * passes for both. */
    CHECK_CIO(exchange(c, p.s, "other.test", "pong: hello\n", NULL, 0), 0);
    CHECK_CIO(exchange(c, p.s, "localhost", "pong: hello\n", NULL, 0), 0);
    CHECK(t.asked == 2);
    cio_tls_ctx_free(c);
    CHECK_CIO(cio_server_close(srv), 0);
    /* The connections held their own references on t.other. */
    cio_tls_ctx_free(t.other);
    return 0;
}

static void sni_callback_picks_the_certificate(void **state)
{
    (void)state;
    run_ok(sni_main, NULL);
}

/* ------------------------------------- failures told to the server */

typedef struct failures {
    int n;
    int last_err;
    char why[200];
    bool had_fd;
} failures;

static void on_failure(cio_stream *s, int err, const char *why, void *arg)
{
    failures *f = arg;
    f->n++;
    f->last_err = err;
    f->had_fd = cio_stream_fd(s) >= 0;
    snprintf(f->why, sizeof f->why, "%s", why);
}

static int min_version_main(void *arg)
{
    (void)arg;
    failures f = {0};
    int served = 0;
    cio_tls_ctx *sctx = cio_tls_ctx_new(&(cio_tls_ctx_opts){
        .server = true, .cert_file = peers.cert, .key_file = peers.key,
        .min_version = CIO_TLS_VERSION_1_3});
    REQUIRE(sctx);
    cio_tls_server_opts so = {.on_handshake_failure = on_failure, .failure_arg = &f};
    cio_server *srv = cio_tls_start_server_ctx("127.0.0.1", "0", sctx, &so, pong_once, &served);
    cio_tls_ctx_free(sctx);
    REQUIRE(srv);
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", cio_server_port(srv));
    /* A client that speaks TLS 1.2 at most is refused, and the server is
     * told why; one that speaks 1.3 is served. */
    const char *old[] = {"openssl", "s_client", "-connect", connect, "-CAfile", peers.ca,
                         "-tls1_2", "-quiet", NULL};
    cio_process *p = cio_process_spawn(old, &(cio_process_opts){.pipe_stdin = true});
    REQUIRE(p);
    CHECK_CIO(cio_stream_write_eof(cio_process_stdin(p)), 0);
    CHECK(cio_process_wait(p) != 0);
    cio_process_free(p);
    const char *now[] = {"openssl", "s_client", "-connect", connect, "-CAfile", peers.ca,
                         "-servername", "localhost", "-verify_return_error", "-quiet", NULL};
    p = cio_process_spawn(now, &(cio_process_opts){.pipe_stdin = true, .pipe_stdout = true});
    REQUIRE(p);
    CHECK_CIO(cio_stream_write(cio_process_stdin(p), "ping\n", 5), 0);
    CHECK_CIO(cio_stream_write_eof(cio_process_stdin(p)), 0);
    char line[64];
    CHECK_CIO(cio_stream_readline(cio_process_stdout(p), line, sizeof line), 11);
    CHECK_CIO(cio_process_wait(p), 0);
    cio_process_free(p);
    CHECK_CIO(cio_server_close(srv), 0);
    CHECK(f.n == 1 && f.last_err == -EPROTO && f.had_fd);
    if (!EXPECT(strstr(f.why, "handshake failed") != NULL))
        note_failure(__FILE__, __LINE__, "why: \"%s\"", f.why);
    CHECK(served == 1);
    return 0;
}

static void min_version_refuses_old_clients_and_tells_the_server(void **state)
{
    (void)state;
    run_ok(min_version_main, NULL);
}

static int deadline_main(void *arg)
{
    (void)arg;
    failures f = {0};
    cio_tls_ctx *sctx = cio_tls_ctx_new(&(cio_tls_ctx_opts){
        .server = true, .cert_file = peers.cert, .key_file = peers.key,
        .handshake_timeout = 0.05});
    REQUIRE(sctx);
    cio_tls_server_opts so = {.on_handshake_failure = on_failure, .failure_arg = &f};
    cio_server *srv = cio_tls_start_server_ctx("127.0.0.1", "0", sctx, &so, pong, NULL);
    cio_tls_ctx_free(sctx);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    /* A client that connects and says nothing: the context's deadline
     * closes the connection, and the server hears of it. */
    cio_stream *silent = cio_open_connection("127.0.0.1", p.s);
    REQUIRE(silent);
    char b;
    CHECK_CIO(cio_stream_read(silent, &b, 1), 0);
    cio_stream_close(silent);
    CHECK_CIO(cio_server_close(srv), 0);
    CHECK(f.n == 1 && f.last_err == -ETIMEDOUT);
    if (!EXPECT(strstr(f.why, "timed out") != NULL))
        note_failure(__FILE__, __LINE__, "why: \"%s\"", f.why);
    return 0;
}

static void context_handshake_deadline_closes_silent_clients(void **state)
{
    (void)state;
    run_ok(deadline_main, NULL);
}

/* --------------------------------- server options, graceful shutdown */

typedef struct slow_reply {
    int started, finished;
} slow_reply;

static int slow_pong(cio_stream *s, void *arg)
{
    slow_reply *r = arg;
    r->started++;
    char line[64];
    ssize_t n = cio_stream_readline(s, line, sizeof line);
    if (n <= 0)
        return (int)n;
    int err = cio_sleep(0.02);
    if (!err)
        err = cio_stream_write(s, "late\n", 5);
    if (!err)
        r->finished++;
    return err;
}

static int client_job(void *port)
{
    cio_tls_ctx *c = client_ctx(NULL, true);
    REQUIRE(c);
    cio_stream *s = cio_tls_connect_ctx("127.0.0.1", port, c, "localhost");
    cio_tls_ctx_free(c);
    REQUIRE(s);
    char line[16];
    CHECK_CIO(cio_stream_write(s, "hi\n", 3), 0);
    CHECK_CIO(cio_stream_readline(s, line, sizeof line), 5);
    return cio_stream_close(s);
}

static int shutdown_main(void *arg)
{
    (void)arg;
    slow_reply r = {0, 0};
    cio_tls_ctx *sctx = server_ctx(NULL);
    REQUIRE(sctx);
    cio_tls_server_opts so = {.server = {.max_connections = 1, .task_name = "tls-conn",
                                         .backlog = 8}};
    cio_server *srv = cio_tls_start_server_ctx("127.0.0.1", "0", sctx, &so, slow_pong, &r);
    cio_tls_ctx_free(sctx);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    enum { N = 3 };
    cio_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = cio_create_task(client_job, (void *)p.s);
    /* One at a time (the limit), each in turn. */
    CHECK_CIO(cio_gather(t, N, NULL), 0);
    CHECK(r.finished == N);
    /* A handler still running at shutdown finishes within the grace. */
    cio_task *last = cio_create_task(client_job, (void *)p.s);
    while (r.started < N + 1)
        CHECK_CIO(cio_sleep(0.001), 0);
    CHECK_CIO(cio_server_shutdown(srv, 30), 0);
    CHECK_CIO(cio_await(last), 0);
    CHECK(r.finished == N + 1);
    return 0;
}

static void tls_server_options_and_graceful_shutdown(void **state)
{
    (void)state;
    run_ok(shutdown_main, NULL);
}

/* ------------------------------------------------ STARTTLS on a ctx */

static int starttls_main(void *arg)
{
    (void)arg;
    cio_tls_ctx *sctx = server_ctx(NULL);
    REQUIRE(sctx);
    cio_server *srv = cio_tls_start_server_ctx("127.0.0.1", "0", sctx, NULL, pong, NULL);
    cio_tls_ctx_free(sctx);
    REQUIRE(srv);
    port_str p = port_string(cio_server_port(srv));
    cio_tls_ctx *c = client_ctx(NULL, false);
    REQUIRE(c);
    for (int i = 0; i < 2; i++) {
        cio_stream *s = cio_open_connection("127.0.0.1", p.s);
        REQUIRE(s);
        CHECK_CIO(cio_tls_session_reused(s), -EINVAL);
        CHECK(cio_tls_alpn(s) == NULL);
        errno = 0;
        CHECK(cio_tls_client_ctx(s, c, NULL) == NULL && errno == EINVAL);
        REQUIRE(cio_tls_client_ctx(s, c, "localhost") == s);
        char line[32];
        CHECK_CIO(cio_stream_write(s, "x\n", 2), 0);
        CHECK_CIO(cio_stream_readline(s, line, sizeof line), 8);
        /* The second upgrade resumes the first one's session. */
        CHECK_CIO(cio_tls_session_reused(s), i);
        CHECK_CIO(cio_stream_close(s), 0);
    }
    cio_tls_ctx_free(c);
    return cio_server_close(srv);
}

static void starttls_on_a_context_resumes_too(void **state)
{
    (void)state;
    run_ok(starttls_main, NULL);
}

/* ------------------------------------------------------ bad arguments */

static int bad_main(void *arg)
{
    (void)arg;
    static const char *const empty_name[] = {"", NULL};
    const cio_tls_ctx_opts bad[] = {
        {.server = true},                                        /* no certificate */
        {.verify = (cio_tls_verify)42},                          /* no such mode */
        {.handshake_timeout = -1},                               /* negative */
        {.handshake_timeout = NAN},                              /* NaN */
        {.sni = choose},                                         /* SNI on a client */
        {.min_version = 0x0301},                                 /* TLS 1.0 */
        {.ca_file = "/nonexistent/ca.pem"},                      /* missing file */
        {.ca_file = peers.ca, .ciphers = "NO-SUCH-CIPHER"},      /* no cipher */
        {.ca_file = peers.ca, .alpn = empty_name},               /* empty name */
        {.server = true, .cert_file = peers.cert, .key_file = peers.key,
         .session_cache_size = 4},                               /* a server's cache */
        {.server = true, .cert_file = peers.cert, .key_file = other_key}, /* mismatch */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        cio_tls_ctx *ctx = cio_tls_ctx_new(&bad[i]);
        if (!EXPECT(ctx == NULL && errno == EINVAL)) {
            note_failure(__FILE__, __LINE__, "case %zu accepted", i);
            cio_tls_ctx_free(ctx);
        }
    }
    errno = 0;
    CHECK(cio_tls_ctx_new(NULL) == NULL && errno == EINVAL);
    cio_tls_ctx_free(NULL);
    cio_tls_ctx *sctx = server_ctx(NULL), *cctx = client_ctx(NULL, false);
    REQUIRE(sctx && cctx);
    /* A context of the wrong side, or none. */
    errno = 0;
    CHECK(cio_tls_connect_ctx("127.0.0.1", "1", sctx, NULL) == NULL && errno == EINVAL);
    CHECK(cio_tls_connect_ctx("127.0.0.1", "1", NULL, NULL) == NULL && errno == EINVAL);
    CHECK(cio_tls_connect_ctx(NULL, "1", cctx, NULL) == NULL && errno == EINVAL);
    CHECK(cio_tls_start_server_ctx("127.0.0.1", "0", cctx, NULL, pong, NULL) == NULL &&
          errno == EINVAL);
    CHECK(cio_tls_start_server_ctx("127.0.0.1", "0", sctx, NULL, NULL, NULL) == NULL &&
          errno == EINVAL);
    CHECK(cio_tls_start_server_ctx("127.0.0.1", "0", sctx,
                                   &(cio_tls_server_opts){.server = {.backlog = -1}}, pong,
                                   NULL) == NULL &&
          errno == EINVAL);
    CHECK(cio_tls_client_ctx(NULL, cctx, "x") == NULL && errno == EINVAL);
    CHECK(cio_tls_alpn(NULL) == NULL);
    CHECK_CIO(cio_tls_session_reused(NULL), -EINVAL);
    /* A refused connection is an error, not a crash. */
    port_str closed = port_string(closed_port());
    CHECK(cio_tls_connect_ctx("127.0.0.1", closed.s, cctx, "localhost") == NULL &&
          errno == ECONNREFUSED);
    cio_tls_ctx_free(sctx);
    cio_tls_ctx_free(cctx);
    return 0;
}

static void bad_arguments(void **state)
{
    (void)state;
    run_ok(bad_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ctx_resumes_sessions_and_negotiates_alpn),
        cmocka_unit_test_teardown(ctx_resumes_tickets_of_s_server, peer_teardown),
        cmocka_unit_test(sni_callback_picks_the_certificate),
        cmocka_unit_test(min_version_refuses_old_clients_and_tells_the_server),
        cmocka_unit_test(context_handshake_deadline_closes_silent_clients),
        cmocka_unit_test(tls_server_options_and_graceful_shutdown),
        cmocka_unit_test(starttls_on_a_context_resumes_too),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, peers_teardown);
}
