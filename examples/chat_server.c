/* SPDX-License-Identifier: MIT */
/* chat_server.c — a line-based chat: every line a client sends goes to
 * every other client, prefixed with the sender's name. Shows streams'
 * readline (lines longer than the buffer are refused, not cut), writes
 * that never wait on a slow listener unless it falls a high-water mark
 * behind, and a server closed on ^C.
 *
 *   chat_server [PORT]        (default 8889; try two of: nc 127.0.0.1 8889)
 */
#include <cio.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define MAX_CLIENTS 64
#define LINE 512

/* Who is connected (the loop is one thread: no lock needed). */
static cio_stream *clients[MAX_CLIENTS];

static void broadcast(cio_stream *from, const char *text, size_t len)
{
    for (int i = 0; i < MAX_CLIENTS; i++) {
        /* A client whose connection failed is dropped by its own task. */
        if (clients[i] && clients[i] != from)
            (void)cio_stream_write(clients[i], text, len);
    }
}

static int handle(cio_stream *s, void *arg)
{
    (void)arg;
    int slot = -1;
    for (int i = 0; i < MAX_CLIENTS && slot < 0; i++) {
        if (!clients[i])
            slot = i;
    }
    if (slot < 0)
        return cio_stream_write(s, "chat: full, sorry\n", 18);
    clients[slot] = s;
    char line[LINE], out[LINE + 32];
    int n = snprintf(out, sizeof out, "* user%d joined\n", slot);
    broadcast(s, out, (size_t)n);
    ssize_t len;
    for (;;) {
        len = cio_stream_readline(s, line, sizeof line);
        if (len == -ENOBUFS) {
            /* Refuse the line rather than cut it: skip to its end. */
            char skip[LINE];
            while ((len = cio_stream_readline(s, skip, sizeof skip)) == -ENOBUFS)
                (void)cio_stream_read(s, skip, sizeof skip - 1);
            (void)cio_stream_write(s, "chat: line too long\n", 20);
            continue;
        }
        if (len <= 0)
            break;
        n = snprintf(out, sizeof out, "user%d: %s", slot, line);
        broadcast(s, out, (size_t)n);
    }
    clients[slot] = NULL;
    n = snprintf(out, sizeof out, "* user%d left\n", slot);
    broadcast(s, out, (size_t)n);
    return len == CIO_EOF || len == 0 ? 0 : (int)len;
}

/* The port to listen on: the first argument, or the default. */
static const char *listen_port = "8889";

static int main_task(void *arg)
{
    (void)arg;
    cio_server *srv = cio_start_server("127.0.0.1", listen_port, handle, NULL);
    if (!srv) {
        perror("chat_server: cannot listen");
        return 1;
    }
    printf("chat_server: listening on 127.0.0.1:%d, ^C to stop\n", cio_server_port(srv));
    fflush(stdout);
    cio_signal_wait(SIGINT);
    return cio_server_close(srv);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        listen_port = argv[1];
    int r = cio_run(main_task, NULL);
    return r < 0 ? 1 : r;
}
