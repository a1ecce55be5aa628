/* SPDX-License-Identifier: MIT */
/* consumer.c — a program that uses all three components of an installed
 * cio, as a user's would: a task, a TLS handshake that a peer refuses, and
 * a libcurl transfer (of this program's own file, file:///proc/self/exe). Built
 * by the Makefile (pkg-config) and by CMakeLists.txt (find_package) in
 * this folder; run.sh says how. Prints "consumer: ok" and exits 0. */
#include <cio.h>
#include <cio_curl.h>
#include <cio_tls.h>

#include <stdio.h>
#include <string.h>

static int refuse(void *arg)
{
    int fd = cio_accept(*(int *)arg, NULL, NULL);
    return fd < 0 ? fd : cio_close(fd);
}

static size_t count(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    *(size_t *)arg += size * n;
    return size * n;
}

static int main_task(void *arg)
{
    (void)arg;
    if (cio_version() != CIO_VERSION_HEX) {
        fprintf(stderr, "consumer: header %#x, library %s\n", (unsigned)CIO_VERSION_HEX,
                cio_version_string());
        return 1;
    }
    /* TLS: a peer that accepts and closes fails the handshake. */
    int listener = cio_tcp_listen("127.0.0.1", "0", 1);
    if (listener < 0)
        return 2;
    char port[16];
    snprintf(port, sizeof port, "%d", cio_local_port(listener));
    cio_task *peer = cio_create_task(refuse, &listener);
    cio_stream *s = cio_tls_connect("127.0.0.1", port, NULL);
    if (s || !cio_tls_last_error()) {
        fprintf(stderr, "consumer: a TLS handshake with a closed peer did not fail\n");
        return 3;
    }
    if (cio_await(peer) != 0)
        return 4;
    cio_close(listener);

    /* curl: this program's own file. */
    const char *url = "file:///proc/self/exe";
    CURL *easy = curl_easy_init();
    size_t got = 0;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, count);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &got);
    CURLcode rc = cio_curl_perform(easy);
    curl_easy_cleanup(easy);
    if (rc != CURLE_OK || got == 0) {
        fprintf(stderr, "consumer: curl read %zu bytes of %s: %s\n", got, url,
                curl_easy_strerror(rc));
        return 5;
    }
    printf("consumer: ok (cio %s, %zu bytes through curl)\n", cio_version_string(), got);
    return 0;
}

int main(void) { return cio_run(main_task, NULL); }
