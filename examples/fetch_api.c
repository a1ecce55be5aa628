/* SPDX-License-Identifier: MIT */
/* fetch_api.c — the seed's scenario: "send a request to a remote API and
 * await the response", N times at once. The example starts its own tiny
 * HTTP server on 127.0.0.1 (a task; each reply is delayed a little, as a
 * remote API's would be), then fetches N URLs concurrently with
 * cio_open_connection and a hand-written HTTP/1.0 GET, printing when each
 * request is sent and each response arrives. The N waits overlap: the
 * whole takes about one delay, not N. With --curl the requests go through
 * libcurl instead (cio_curl_perform: curl's HTTP, the loop's waiting).
 *
 *   fetch_api [--curl] [N]    (default 5)
 *
 * asyncio:   await asyncio.gather(*(fetch(url) for url in urls))
 */
#include <cio.h>
#include <cio_curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DELAY 0.5

static double t0;

static void say(const char *fmt, const char *what, int i)
{
    printf("[%5.3f s] ", cio_now() - t0);
    printf(fmt, what, i);
    putchar('\n');
    fflush(stdout);
}

/* The "API": answers GET /item/N with a small JSON body after DELAY. */
static int api_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char line[256], path[128] = "";
    ssize_t n = cio_stream_readline(s, line, sizeof line);
    if (n <= 0 || sscanf(line, "GET %127s HTTP/1.", path) != 1)
        return cio_stream_write(s, "HTTP/1.0 400 Bad Request\r\n\r\n", 28);
    /* Skip the headers, up to the empty line. */
    while ((n = cio_stream_readline(s, line, sizeof line)) > 2) {
    }
    if (n < 0)
        return (int)n;
    cio_sleep(DELAY);
    char body[160], reply[320];
    int blen = snprintf(body, sizeof body, "{\"path\": \"%s\", \"ok\": true}\n", path);
    int rlen = snprintf(reply, sizeof reply,
                        "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\n\r\n%s",
                        blen, body);
    return cio_stream_write(s, reply, (size_t)rlen);
}

typedef struct fetch {
    const char *port;
    int index;
    /* The response's status line and body, for main to print. */
    char status[64];
    char body[160];
} fetch;

static int fetch_one(void *arg)
{
    fetch *f = arg;
    cio_stream *s = cio_open_connection("127.0.0.1", f->port);
    if (!s)
        return -errno;
    char req[128];
    int n = snprintf(req, sizeof req, "GET /item/%d HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
                     f->index);
    int err = cio_stream_write(s, req, (size_t)n);
    if (!err)
        err = cio_stream_drain(s);
    if (!err) {
        say("%s %d sent", "request", f->index);
        /* The task parks here; the loop runs the others meanwhile. */
        ssize_t r = cio_stream_readline(s, f->status, sizeof f->status);
        char line[256];
        while (r > 0 && (r = cio_stream_readline(s, line, sizeof line)) > 2) {
        }
        if (r > 0)
            r = cio_stream_readline(s, f->body, sizeof f->body);
        err = r < 0 ? (int)r : 0;
        if (!err)
            say("%s %d arrived", "response", f->index);
    }
    cio_stream_close(s);
    return err;
}

/* CURLOPT_WRITEFUNCTION: the body's first line, into f->body. */
static size_t take_body(char *p, size_t size, size_t nmemb, void *arg)
{
    fetch *f = arg;
    size_t len = size * nmemb, have = strlen(f->body);
    size_t room = sizeof f->body - 1 - have;
    memcpy(f->body + have, p, len < room ? len : room);
    return len;
}

/* fetch_one through libcurl. */
static int fetch_one_curl(void *arg)
{
    fetch *f = arg;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%s/item/%d", f->port, f->index);
    CURL *easy = curl_easy_init();
    if (!easy)
        return -ENOMEM;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, take_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, f);
    say("%s %d sent", "request", f->index);
    /* The task parks here; curl and the loop run the others meanwhile. */
    CURLcode rc = cio_curl_perform(easy);
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(easy);
    if (rc != CURLE_OK) {
        fprintf(stderr, "fetch_api: %d: %s\n", f->index, curl_easy_strerror(rc));
        return -EIO;
    }
    snprintf(f->status, sizeof f->status, "HTTP %ld", code);
    say("%s %d arrived", "response", f->index);
    return 0;
}

typedef struct options {
    int n;
    bool curl;
} options;

static int main_task(void *arg)
{
    const options *o = arg;
    int n = o->n;
    cio_server *api = cio_start_server("127.0.0.1", "0", api_handler, NULL);
    if (!api) {
        perror("fetch_api: cannot start the local API server");
        return 1;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", cio_server_port(api));
    printf("fetch_api: local API on 127.0.0.1:%s, %d requests at once%s\n", port, n,
           o->curl ? " through libcurl" : "");
    t0 = cio_now();
    fetch *fetches = calloc((size_t)n, sizeof *fetches);
    cio_task **tasks = calloc((size_t)n, sizeof *tasks);
    int *results = calloc((size_t)n, sizeof *results);
    for (int i = 0; i < n; i++) {
        fetches[i] = (fetch){.port = port, .index = i + 1};
        tasks[i] = cio_create_task(o->curl ? fetch_one_curl : fetch_one, &fetches[i]);
    }
    int err = cio_gather(tasks, (size_t)n, results);
    for (int i = 0; i < n; i++) {
        if (results[i])
            printf("  %d: failed: %s\n", i + 1, cio_strerror(results[i]));
        else
            printf("  %d: %.*s -> %s", i + 1, (int)strcspn(fetches[i].status, "\r\n"),
                   fetches[i].status, fetches[i].body);
    }
    printf("fetch_api: %d responses in %.2f s (each took %.1f s to answer)\n", n,
           cio_now() - t0, DELAY);
    free(results);
    free(tasks);
    free(fetches);
    cio_server_close(api);
    return err ? 1 : 0;
}

int main(int argc, char **argv)
{
    options o = {.n = 5};
    int arg = 1;
    if (arg < argc && strcmp(argv[arg], "--curl") == 0) {
        o.curl = true;
        arg++;
    }
    if (arg < argc)
        o.n = atoi(argv[arg++]);
    if (o.n < 1 || o.n > 10000 || arg < argc) {
        fprintf(stderr, "usage: fetch_api [--curl] [N]   (N from 1 to 10000)\n");
        return 2;
    }
    int r = cio_run(main_task, &o);
    return r < 0 ? 1 : r;
}
