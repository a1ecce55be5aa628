/* SPDX-License-Identifier: MIT */
/* echo_server.c — a TCP echo server: every byte a client sends comes back.
 * One task per connection (cio_start_server), so a slow client holds up
 * only itself. Runs until ^C (cio_signal_wait), then closes the server,
 * which cancels the connections still open and waits for them.
 *
 *   echo_server [PORT]        (default 8888; try: nc 127.0.0.1 8888)
 *
 * asyncio:   async def handle(reader, writer): ... await asyncio.start_server(handle, ...)
 */
#include <cio.h>
#include <signal.h>
#include <stdio.h>

static int handle(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = cio_stream_read(s, buf, sizeof buf);
        if (n <= 0)
            return (int)n;
        int err = cio_stream_write(s, buf, (size_t)n);
        if (err)
            return err;
    }
}

/* The port to listen on: the first argument, or the default. */
static const char *listen_port = "8888";

static int main_task(void *arg)
{
    (void)arg;
    cio_server *srv = cio_start_server("127.0.0.1", listen_port, handle, NULL);
    if (!srv) {
        perror("echo_server: cannot listen");
        return 1;
    }
    printf("echo_server: listening on 127.0.0.1:%d, ^C to stop\n", cio_server_port(srv));
    fflush(stdout);
    int err = cio_signal_wait(SIGINT);
    printf("echo_server: %s, closing\n", err ? cio_strerror(err) : "interrupted");
    return cio_server_close(srv);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        listen_port = argv[1];
    int r = cio_run(main_task, NULL);
    return r < 0 ? 1 : r;
}
