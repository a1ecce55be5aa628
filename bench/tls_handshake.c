/* SPDX-License-Identifier: MIT */
/* tls_handshake.c — the cost of a new TLS client connection (issue 17's
 * figure): a cio TLS server in one process, and a client that opens N
 * connections one after another, each: connect, handshake, one line there
 * and back (so a TLS 1.3 ticket arrives), close. Four ways:
 *
 *   opts-ca        cio_tls_connect, trusting only the test CA: a context
 *                  per call, but a one-certificate file ("no bundle")
 *   opts-bundle    cio_tls_connect, trusting the system bundle + the test
 *                  CA: the bundle re-read by every call (before issue 17)
 *   ctx-full       one cio_tls_ctx with that bundle, resumption off: a
 *                  full handshake per connection
 *   ctx-resumed    the same context with its session cache: resumed
 *
 *   tls_handshake server --cert FILE --key FILE   prints LISTEN port=P pid=X,
 *                                                 serves until stdin ends
 *   tls_handshake client --port P --ca FILE --bundle FILE --mode M [--n N]
 *                                                 prints RESULT mode=M ...
 */
#include <cio.h>
#include <cio_tls.h>

#include <errno.h>
#include <unistd.h>

#include "common.h"

static int pong(cio_stream *s, void *arg)
{
    (void)arg;
    char line[64];
    for (;;) {
        ssize_t n = cio_stream_readline(s, line, sizeof line);
        if (n <= 0)
            return (int)n;
        int err = cio_stream_write(s, line, (size_t)n);
        if (err)
            return err;
    }
}

typedef struct args {
    int argc;
    char **argv;
} args;

static int server_main(void *arg)
{
    args *a = arg;
    cio_tls_ctx *ctx = cio_tls_ctx_new(&(cio_tls_ctx_opts){
        .server = true, .cert_file = bench_opt(a->argc, a->argv, "cert"),
        .key_file = bench_opt(a->argc, a->argv, "key")});
    if (!ctx)
        bench_die("server context: %s", cio_tls_last_error());
    cio_server *srv = cio_tls_start_server_ctx("127.0.0.1", "0", ctx, NULL, pong, NULL);
    cio_tls_ctx_free(ctx);
    if (!srv)
        bench_die("server: %s", strerror(errno));
    printf("LISTEN port=%d pid=%d\n", cio_server_port(srv), (int)getpid());
    fflush(stdout);
    char b;
    while (cio_read(0, &b, 1) > 0) {
    }
    return cio_server_close(srv);
}

/* One connection as described above: whether it was resumed. */
static int one(const char *port, cio_tls_ctx *ctx, const cio_tls_opts *opts)
{
    cio_stream *s = ctx ? cio_tls_connect_ctx("127.0.0.1", port, ctx, "localhost")
                        : cio_tls_connect("127.0.0.1", port, opts);
    if (!s)
        bench_die("connect: %s (%s)", strerror(errno), cio_tls_last_error());
    char line[16];
    if (cio_stream_write(s, "ping\n", 5) != 0 || cio_stream_readline(s, line, sizeof line) != 5)
        bench_die("no reply");
    int reused = cio_tls_session_reused(s);
    cio_stream_close(s);
    return reused;
}

static int client_main(void *arg)
{
    args *a = arg;
    const char *port = bench_opt(a->argc, a->argv, "port");
    const char *ca = bench_opt(a->argc, a->argv, "ca");
    const char *bundle = bench_opt(a->argc, a->argv, "bundle");
    const char *mode = bench_opt(a->argc, a->argv, "mode");
    long n = bench_opt_long(a->argc, a->argv, "n", 200);
    if (!port || !ca || !bundle || !mode)
        bench_die("client needs --port, --ca, --bundle and --mode");
    cio_tls_opts opts = {.ca_file = strcmp(mode, "opts-ca") == 0 ? ca : bundle,
                         .server_name = "localhost"};
    cio_tls_ctx *ctx = NULL;
    if (strncmp(mode, "ctx-", 4) == 0) {
        ctx = cio_tls_ctx_new(&(cio_tls_ctx_opts){
            .ca_file = bundle, .no_session_resumption = strcmp(mode, "ctx-full") == 0});
        if (!ctx)
            bench_die("client context: %s", cio_tls_last_error());
    } else if (strncmp(mode, "opts-", 5) != 0) {
        bench_die("unknown mode %s", mode);
    }
    /* Warm-up: the first connection fills the session cache (resumed
     * mode) and the page cache. */
    for (int i = 0; i < 5; i++)
        one(port, ctx, &opts);
    long reused = 0;
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        reused += one(port, ctx, &opts);
    int64_t elapsed = bench_now_ns() - t0;
    cio_tls_ctx_free(ctx);
    bench_result("mode=%s n=%ld ms_per_conn=%.3f resumed=%ld", mode, n,
                 bench_ms(elapsed) / (double)n, reused);
    return 0;
}

int main(int argc, char **argv)
{
    args a = {argc, argv};
    if (argc >= 2 && strcmp(argv[1], "server") == 0)
        return cio_run(server_main, &a);
    if (argc >= 2 && strcmp(argv[1], "client") == 0)
        return cio_run(client_main, &a);
    bench_die("usage: tls_handshake server|client --...");
}
