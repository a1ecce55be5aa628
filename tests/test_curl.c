/* SPDX-License-Identifier: MIT */
/* test_curl.c — cio_curl_perform against a local nginx: plain and HTTPS
 * GETs, a POST, a redirect, a 404, a server that never answers, a refused
 * connection, many transfers at once, and cancellation mid-transfer. */
#include "peers.h"

#include <cio_curl.h>
#include <dirent.h>

static int http_port, https_port;

/* A response body, collected by CURLOPT_WRITEFUNCTION. */
typedef struct body {
    char data[4096];
    size_t len;
} body;

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    body *b = arg;
    size_t len = size * n;
    size_t room = sizeof b->data - 1 - b->len;
    size_t take = len < room ? len : room;
    memcpy(b->data + b->len, p, take);
    b->len += take;
    b->data[b->len] = '\0';
    return len;
}

/* An easy handle for url on nginx (a path: on the plain port; "https:" in
 * front: on the TLS one), its body going to b. */
static CURL *easy_for(const char *path, body *b)
{
    char url[256];
    if (strncmp(path, "https:", 6) == 0)
        snprintf(url, sizeof url, "https://localhost:%d%s", https_port, path + 6);
    else
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", http_port, path);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(e, CURLOPT_CAINFO, peers.ca);
    /* localhost is nginx's 127.0.0.1 (the certificate's name). */
    char resolve[64];
    snprintf(resolve, sizeof resolve, "localhost:%d:127.0.0.1", https_port);
    struct curl_slist *hosts = curl_slist_append(NULL, resolve);
    curl_easy_setopt(e, CURLOPT_RESOLVE, hosts);
    curl_easy_setopt(e, CURLOPT_PRIVATE, hosts);
    return e;
}

static void easy_free(CURL *e)
{
    struct curl_slist *hosts = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&hosts);
    curl_easy_cleanup(e);
    curl_slist_free_all(hosts);
}

static long status_of(CURL *e)
{
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

/* ------------------------------------------------------ the requests */

static int get_main(void *arg)
{
    body b = {0};
    CURL *e = easy_for(arg, &b);
    CHECK_CIO(cio_curl_perform(e), CURLE_OK);
    CHECK(status_of(e) == 200);
    CHECK(strcmp(b.data, "hello from nginx\n") == 0);
    /* The handle can run again (on the cached connection). */
    b.len = 0;
    CHECK_CIO(cio_curl_perform(e), CURLE_OK);
    CHECK(strcmp(b.data, "hello from nginx\n") == 0);
    easy_free(e);
    return 0;
}

static void plain_get(void **state)
{
    (void)state;
    static char path[] = "/hello";
    run_ok(get_main, path);
}

static void https_get(void **state)
{
    (void)state;
    static char path[] = "https:/hello";
    run_ok(get_main, path);
}

static int post_main(void *arg)
{
    (void)arg;
    body b = {0};
    CURL *e = easy_for("/echo", &b);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "name=cio&lang=c");
    CHECK_CIO(cio_curl_perform(e), CURLE_OK);
    CHECK(status_of(e) == 200);
    CHECK(strcmp(b.data, "name=cio&lang=c") == 0);
    easy_free(e);
    return 0;
}

static void post(void **state)
{
    (void)state;
    run_ok(post_main, NULL);
}

static int redirect_main(void *arg)
{
    (void)arg;
    body b = {0};
    CURL *e = easy_for("/redirect", &b);
    CHECK_CIO(cio_curl_perform(e), CURLE_OK);
    CHECK(status_of(e) == 302);
    b.len = 0;
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    CHECK_CIO(cio_curl_perform(e), CURLE_OK);
    CHECK(status_of(e) == 200);
    CHECK(strcmp(b.data, "hello from nginx\n") == 0);
    long redirects = 0;
    curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects);
    CHECK(redirects == 1);
    easy_free(e);
    return 0;
}

static void redirect(void **state)
{
    (void)state;
    run_ok(redirect_main, NULL);
}

static int not_found_main(void *arg)
{
    (void)arg;
    body b = {0};
    CURL *e = easy_for("/no/such/thing", &b);
    /* An HTTP error is a completed transfer. */
    CHECK_CIO(cio_curl_perform(e), CURLE_OK);
    CHECK(status_of(e) == 404);
    easy_free(e);
    return 0;
}

static void not_found(void **state)
{
    (void)state;
    run_ok(not_found_main, NULL);
}

/* ----------------------------------------------------- failures */

/* An easy handle for a listener that never accepts nor answers. */
static CURL *silent_easy(int listener, body *b)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", cio_local_port(listener));
    CURL *e = easy_for("/", b);
    curl_easy_setopt(e, CURLOPT_URL, url);
    return e;
}

static int timeout_main(void *arg)
{
    (void)arg;
    int l = cio_tcp_listen("127.0.0.1", "0", 16);
    REQUIRE(l >= 0);
    body b = {0};
    CURL *e = silent_easy(l, &b);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 200L);
    CHECK_CIO(cio_curl_perform(e), CURLE_OPERATION_TIMEDOUT);
    /* A cio_timeout around the call ends it the same way. */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 0L);
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.2);
    CHECK_CIO(cio_curl_perform(e), CURLE_OPERATION_TIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    easy_free(e);
    cio_close(l);
    return 0;
}

static void server_never_answers(void **state)
{
    (void)state;
    run_ok(timeout_main, NULL);
}

static int refused_main(void *arg)
{
    (void)arg;
    body b = {0};
    CURL *e = easy_for("/", &b);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
    curl_easy_setopt(e, CURLOPT_URL, url);
    CHECK_CIO(cio_curl_perform(e), CURLE_COULDNT_CONNECT);
    easy_free(e);
    return 0;
}

static void refused_connection(void **state)
{
    (void)state;
    run_ok(refused_main, NULL);
}

/* ---------------------------------------------------- concurrency */

/* A thousand transfers at once when the descriptor limit allows (each is
 * a socket here, and one in nginx), else 200. */
enum { MANY_MAX = 1000, MANY_MIN = 200 };
static int many;

/* The threads of this process now. */
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int most_threads;

static int one_get(void *arg)
{
    (void)arg;
    body b = {0};
    CURL *e = easy_for("/hello", &b);
    CURLcode rc = cio_curl_perform(e);
    CHECK_CIO(rc, CURLE_OK);
    CHECK(status_of(e) == 200 && strcmp(b.data, "hello from nginx\n") == 0);
    int threads = thread_count();
    most_threads = threads > most_threads ? threads : most_threads;
    easy_free(e);
    return (int)rc;
}

/* While the transfers run, the loop runs a ticking task too. */
static int ticker(void *arg)
{
    int *ticks = arg;
    for (;;) {
        int err = cio_sleep(0.001);
        if (err)
            return err;
        (*ticks)++;
    }
}

static int many_main(void *arg)
{
    (void)arg;
    int ticks = 0;
    int threads_before = thread_count();
    most_threads = 0;
    cio_task *tick = cio_create_task(ticker, &ticks);
    static cio_task *t[MANY_MAX];
    static int results[MANY_MAX];
    for (int i = 0; i < many; i++)
        t[i] = cio_create_task(one_get, NULL);
    CHECK_CIO(cio_gather(t, (size_t)many, results), 0);
    for (int i = 0; i < many; i++)
        CHECK_CIO(results[i], CURLE_OK);
    /* Every transfer ran on the loop's thread: curl started none (an IP
     * address needs no resolver thread) and neither did cio. */
    CHECK(most_threads == threads_before);
    cio_cancel(tick);
    CHECK_CIO(cio_await(tick), -ECANCELED);
    return 0;
}

/* Raises the descriptor limit for the thousand transfers, before nginx
 * starts (it inherits the limit), and chooses how many to run. */
static void choose_many(void)
{
    struct rlimit lim;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
    if (lim.rlim_cur < 3 * MANY_MAX && lim.rlim_max >= 3 * MANY_MAX) {
        lim.rlim_cur = 3 * MANY_MAX;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    }
    many = lim.rlim_cur >= 3 * MANY_MAX ? MANY_MAX : MANY_MIN;
}

static void many_concurrent_transfers(void **state)
{
    (void)state;
    run_ok(many_main, NULL);
}

/* ---------------------------------------------------- cancellation */

static int stuck_get(void *arg)
{
    return (int)cio_curl_perform(arg);
}

static int cancel_main(void *arg)
{
    (void)arg;
    int l = cio_tcp_listen("127.0.0.1", "0", 16);
    REQUIRE(l >= 0);
    body b = {0};
    CURL *e = silent_easy(l, &b);
    cio_task *t = cio_create_task(stuck_get, e);
    CHECK_CIO(cio_sleep(0.05), 0);
    CHECK(!cio_task_done(t));
    cio_cancel(t);
    CHECK_CIO(cio_await(t), CURLE_ABORTED_BY_CALLBACK);
    /* The handle is free again: it runs a transfer that works. */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", http_port);
    curl_easy_setopt(e, CURLOPT_URL, url);
    CHECK_CIO(cio_curl_perform(e), CURLE_OK);
    CHECK(strcmp(b.data, "hello from nginx\n") == 0);
    /* Cancelled before it starts: the transfer never does. */
    t = cio_create_task(stuck_get, e);
    cio_cancel(t);
    CHECK_CIO(cio_await(t), -ECANCELED);
    easy_free(e);
    cio_close(l);
    return 0;
}

static void cancel_mid_transfer(void **state)
{
    (void)state;
    run_ok(cancel_main, NULL);
}

/* A task cancelled while it runs gets CURLE_ABORTED_BY_CALLBACK at once. */
static int already_cancelled(void *arg)
{
    cio_cancel(cio_current_task());
    return (int)cio_curl_perform(arg);
}

static int bad_arguments_main(void *arg)
{
    (void)arg;
    CHECK_CIO(cio_curl_perform(NULL), CURLE_BAD_FUNCTION_ARGUMENT);
    body b = {0};
    CURL *e = easy_for("/hello", &b);
    cio_task *t = cio_create_task(already_cancelled, e);
    CHECK_CIO(cio_await(t), CURLE_ABORTED_BY_CALLBACK);
    easy_free(e);
    return 0;
}

static void bad_arguments(void **state)
{
    (void)state;
    run_ok(bad_arguments_main, NULL);
    /* Outside a task there is nothing to suspend. */
    body b = {0};
    CURL *e = easy_for("/hello", &b);
    assert_int_equal(cio_curl_perform(e), CURLE_BAD_FUNCTION_ARGUMENT);
    easy_free(e);
}

/* Each test has an nginx of its own, stopped when it ends. */
static int start_nginx(void **state)
{
    (void)state;
    peer_free_ports(&http_port, &https_port);
    peer_pid = peer_start_nginx(&peers, http_port, https_port);
    return 0;
}

#define PEER_TEST(fn) cmocka_unit_test_setup_teardown(fn, start_nginx, peer_teardown)

int main(void)
{
    choose_many();
    const struct CMUnitTest tests[] = {
        PEER_TEST(plain_get),
        PEER_TEST(https_get),
        PEER_TEST(post),
        PEER_TEST(redirect),
        PEER_TEST(not_found),
        PEER_TEST(server_never_answers),
        PEER_TEST(refused_connection),
        PEER_TEST(many_concurrent_transfers),
        PEER_TEST(cancel_mid_transfer),
        PEER_TEST(bad_arguments),
    };
    return cmocka_run_group_tests(tests, peers_setup, peers_teardown);
}
