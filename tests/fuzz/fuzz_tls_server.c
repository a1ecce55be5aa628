/* SPDX-License-Identifier: MIT */
/* fuzz_tls_server.c — a cio TLS server's handshake fed arbitrary bytes.
 *
 * Each input: a TLS server on 127.0.0.1 (a certificate made at build time,
 * CIO_FUZZ_CERT / CIO_FUZZ_KEY; asking for a client certificate or not),
 * a plain client that connects, sends the input (in the chunks byte 0
 * chooses), half-closes and reads to the end.
 * The server must fail that handshake cleanly: the connection closed (the
 * client's read ends, with an alert perhaps), the handler never run (no
 * fixed byte string can finish a handshake whose keys the server picks at
 * random), the server closed without error, and nothing left behind: no
 * descriptor (fuzz_run counts them), no memory (LeakSanitizer), no task
 * (cio_run would abort).
 */
#include "fuzz.h"

#include <cio_tls.h>
#include <sys/socket.h>

typedef struct tls_input {
    const uint8_t *bytes;
    size_t len;
    size_t chunk;      /* bytes per write, 0: all at once */
    bool client_certs; /* the server asks for a client certificate */
    int handled;       /* connections the handler saw: must stay 0 */
} tls_input;

static int handler(cio_stream *s, void *arg)
{
    (void)s;
    tls_input *in = arg;
    in->handled++;
    return 0;
}

static int client_main(void *arg)
{
    tls_input *in = arg;
    /* Asking for client certificates (signed by the server's own, here)
     * takes the server through more of the handshake's states. */
    cio_tls_opts so = {.cert_file = CIO_FUZZ_CERT,
                       .key_file = CIO_FUZZ_KEY,
                       .ca_file = in->client_certs ? CIO_FUZZ_CERT : NULL};
    cio_server *srv = cio_tls_start_server("127.0.0.1", "0", &so, handler, in);
    FUZZ_CHECK(srv, "cio_tls_start_server: %s (%s)", strerror(errno), cio_tls_last_error());
    char port[16];
    snprintf(port, sizeof port, "%d", cio_server_port(srv));
    /* A bound on the whole exchange, so that a server that neither fails
     * nor answers shows as a crash instead of a hang. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 10.0);
    int fd = cio_tcp_connect("127.0.0.1", port);
    FUZZ_CHECK(fd >= 0, "cio_tcp_connect returned %d (%s)", fd, cio_strerror(fd));
    size_t off = 0;
    while (off < in->len) {
        size_t n = in->chunk && in->chunk < in->len - off ? in->chunk : in->len - off;
        ssize_t w = cio_write(fd, in->bytes + off, n);
        /* The server may give up, and close, before it has read it all. */
        if (w == -EPIPE || w == -ECONNRESET)
            break;
        FUZZ_CHECK(w == (ssize_t)n, "cio_write returned %zd (%s)", w, cio_strerror((int)w));
        off += n;
        FUZZ_CHECK(cio_yield() == 0, "cio_yield failed");
    }
    FUZZ_CHECK(shutdown(fd, SHUT_WR) == 0 || errno == ENOTCONN, "shutdown: %s", strerror(errno));
    ssize_t r = -1;
    char buf[4096];
    /* The server's answer (a ServerHello, an alert) is bounded: at most a
     * few records before it closes. */
    for (int i = 0; i < 1000 && (r = cio_read(fd, buf, sizeof buf)) > 0; i++)
        ;
    FUZZ_CHECK(r == 0 || r == -ECONNRESET, "the server did not close the connection: %zd (%s)", r,
               cio_strerror((int)r));
    FUZZ_CHECK(cio_close(fd) == 0, "cio_close failed");
    int e = cio_timeout_exit(&tm);
    FUZZ_CHECK(e == 0, "cio_timeout_exit returned %d (%s)", e, cio_strerror(e));
    e = cio_server_close(srv);
    FUZZ_CHECK(e == 0, "cio_server_close returned %d (%s)", e, cio_strerror(e));
    FUZZ_CHECK(in->handled == 0, "a handshake of fixed bytes succeeded");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* Byte 0: bit 7 asks for client certificates, the others are the
     * chunk size, 0 for one write (most inputs are then a ClientHello with
     * one byte in front). */
    tls_input in = {.bytes = data + 1,
                    .len = size - 1,
                    .chunk = data[0] & 127,
                    .client_certs = (data[0] & 128) != 0};
    fuzz_run(client_main, &in);
    return 0;
}
