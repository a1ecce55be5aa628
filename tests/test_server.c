/* SPDX-License-Identifier: MIT */
/* test_server.c — cio_start_server: many clients at once, slow and silent
 * clients that must not stall the others, cio_server_close cancelling and
 * awaiting handlers, a handler's return closing its connection, a server
 * whose descriptors run out (RLIMIT_NOFILE, in a child process) pausing
 * instead of spinning and serving again once they free up, bad input;
 * cio_start_server_opts (a connection limit, task names and stacks,
 * SO_REUSEPORT, IPV6_V6ONLY) and cio_server_shutdown's grace period.
 */
#include "nettest.h"

#include <math.h>
#include <spawn.h>
#include <sys/resource.h>
#include <time.h>

/* Echoes lines until the client closes. */
static int echo_lines(cio_stream *s, void *arg)
{
    int *handled = arg;
    if (handled)
        (*handled)++;
    char line[256];
    for (;;) {
        ssize_t n = cio_stream_readline(s, line, sizeof line);
        if (n <= 0)
            return (int)n;
        int err = cio_stream_write(s, line, (size_t)n);
        if (err)
            return err;
    }
}

typedef struct client_job {
    int port;
    int id;
} client_job;

static int echo_client(void *arg)
{
    client_job *c = arg;
    const port_str port = port_string(c->port);
    cio_stream *s = cio_open_connection("127.0.0.1", port.s);
    REQUIRE(s != NULL);
    for (int i = 0; i < 10; i++) {
        char line[64], back[64];
        int n = snprintf(line, sizeof line, "client %d line %d\n", c->id, i);
        CHECK_CIO(cio_stream_write(s, line, (size_t)n), 0);
        CHECK_CIO(cio_stream_readline(s, back, sizeof back), n);
        CHECK(strcmp(line, back) == 0);
    }
    CHECK_CIO(cio_stream_close(s), 0);
    return 0;
}

#define NCLIENTS 20

static int main_many(void *arg)
{
    (void)arg;
    int handled = 0;
    cio_server *srv = cio_start_server("127.0.0.1", "0", echo_lines, &handled);
    REQUIRE(srv != NULL);
    int port = cio_server_port(srv);
    CHECK(port > 0);
    client_job jobs[NCLIENTS];
    cio_task *tasks[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++) {
        jobs[i] = (client_job){port, i};
        tasks[i] = cio_create_task(echo_client, &jobs[i]);
    }
    CHECK_CIO(cio_gather(tasks, NCLIENTS, NULL), 0);
    CHECK(handled == NCLIENTS);
    CHECK_CIO(cio_server_close(srv), 0);
    return 0;
}

static void test_serves_many_clients_at_once(void **state)
{
    (void)state;
    run_main(main_many, NULL, 0);
}

/* ----------------------------------------------- slow clients, closing */

typedef struct stuck {
    /* How the stuck handlers ended. */
    int results[4];
    int n;
} stuck;

static int record_echo(cio_stream *s, void *arg)
{
    stuck *st = arg;
    int r = echo_lines(s, NULL);
    st->results[st->n++ % 4] = r;
    return r;
}

static int main_slow(void *arg)
{
    (void)arg;
    stuck st = {.n = 0};
    cio_server *srv = cio_start_server("127.0.0.1", "0", record_echo, &st);
    REQUIRE(srv != NULL);
    const port_str port = port_string(cio_server_port(srv));
    /* A silent client and one that stops in the middle of a line. */
    cio_stream *silent = cio_open_connection("127.0.0.1", port.s);
    cio_stream *half = cio_open_connection("127.0.0.1", port.s);
    REQUIRE(silent && half);
    CHECK_CIO(cio_stream_write(half, "no end in si", 12), 0);
    CHECK_CIO(cio_sleep(0.02), 0);
    /* Others are served meanwhile, at once. */
    double t0 = cio_now();
    client_job job = {atoi(port.s), 99};
    CHECK_CIO(echo_client(&job), 0);
    CHECK(cio_now() - t0 < 0.5);
    /* Let its handler see the end of its stream. */
    CHECK_CIO(cio_sleep(0.05), 0);
    /* Closing cancels the two stuck handlers and waits for them. */
    CHECK_CIO(cio_server_close(srv), 0);
    CHECK(st.n == 3);
    int cancelled = 0;
    for (int i = 0; i < st.n; i++)
        cancelled += st.results[i] == -ECANCELED;
    CHECK(cancelled == 2);
    char buf[16];
    CHECK_CIO(cio_stream_read(silent, buf, sizeof buf), 0);
    CHECK_CIO(cio_stream_read(half, buf, sizeof buf), 0);
    cio_stream_close(silent);
    cio_stream_close(half);
    return 0;
}

static void test_slow_clients_do_not_stall_others_and_close_cancels(void **state)
{
    (void)state;
    run_main(main_slow, NULL, 0);
}

static int say_bye(cio_stream *s, void *arg)
{
    (void)arg;
    return cio_stream_write(s, "bye\n", 4);
}

static int main_handler_return(void *arg)
{
    (void)arg;
    cio_server *srv = cio_start_server("::1", "0", say_bye, NULL);
    REQUIRE(srv != NULL);
    const port_str port = port_string(cio_server_port(srv));
    for (int i = 0; i < 3; i++) {
        cio_stream *s = cio_open_connection("::1", port.s);
        REQUIRE(s != NULL);
        char line[16];
        CHECK_CIO(cio_stream_readline(s, line, sizeof line), 4);
        /* The handler returned: the server closed the connection. */
        CHECK_CIO(cio_stream_readline(s, line, sizeof line), 0);
        cio_stream_close(s);
    }
    CHECK_CIO(cio_server_close(srv), 0);
    return 0;
}

static void test_handler_return_closes_the_connection(void **state)
{
    (void)state;
    run_main(main_handler_return, NULL, 0);
}

static int close_cancelled(void *srv)
{
    cio_cancel(cio_current_task());
    return cio_server_close(srv);
}

static int main_close_cancelled(void *arg)
{
    (void)arg;
    cio_server *srv = cio_start_server("127.0.0.1", "0", echo_lines, NULL);
    REQUIRE(srv != NULL);
    const port_str port = port_string(cio_server_port(srv));
    cio_stream *s = cio_open_connection("127.0.0.1", port.s);
    REQUIRE(s != NULL);
    CHECK_CIO(cio_sleep(0.01), 0);
    /* Closed completely all the same (test_run checks no descriptor is
     * left), then the cancellation is reported. */
    CHECK_CIO(cio_await(cio_create_task(close_cancelled, srv)), -ECANCELED);
    char buf[4];
    CHECK_CIO(cio_stream_read(s, buf, sizeof buf), 0);
    cio_stream_close(s);
    return 0;
}

static void test_close_from_a_cancelled_task_still_closes(void **state)
{
    (void)state;
    run_main(main_close_cancelled, NULL, 0);
}

static int main_bad_input(void *arg)
{
    (void)arg;
    errno = 0;
    CHECK(cio_start_server("127.0.0.1", "0", NULL, NULL) == NULL && errno == EINVAL);
    CHECK(cio_start_server("127.0.0.1", NULL, echo_lines, NULL) == NULL && errno == EINVAL);
    CHECK(cio_start_server("127.0.0.1", "99999", echo_lines, NULL) == NULL &&
          errno == EHOSTUNREACH);
    cio_server *srv = cio_start_server("127.0.0.1", "0", echo_lines, NULL);
    REQUIRE(srv != NULL);
    const port_str port = port_string(cio_server_port(srv));
    CHECK(cio_start_server("127.0.0.1", port.s, echo_lines, NULL) == NULL && errno == EADDRINUSE);
    CHECK_CIO(cio_server_close(srv), 0);
    CHECK_CIO(cio_server_close(NULL), -EINVAL);
    CHECK_CIO(cio_server_port(NULL), -EINVAL);
    return 0;
}

static void test_bad_input(void **state)
{
    (void)state;
    run_main(main_bad_input, NULL, 0);
}

/* ------------------------------------------------- server options */

/* Handlers that hold their connection until told to end: how many run at
 * once, and the most that ever did. */
typedef struct gate {
    cio_event *release;
    int active, peak, served;
    /* What the handlers saw of their own task. */
    const char *want_name;
    size_t want_stack;
    int misnamed;
} gate;

static int gated(cio_stream *s, void *arg)
{
    gate *g = arg;
    cio_task *self = cio_current_task();
    if (g->want_name && strcmp(cio_task_name(self), g->want_name) != 0)
        g->misnamed++;
    if (g->want_stack && cio_task_stack_size(self) < g->want_stack)
        g->misnamed++;
    g->active++;
    g->served++;
    if (g->active > g->peak)
        g->peak = g->active;
    int err = cio_stream_write(s, "in\n", 3);
    if (!err)
        err = cio_event_wait(g->release);
    g->active--;
    return err;
}

#define NLIMITED 5

static int main_limit(void *arg)
{
    (void)arg;
    gate g = {.release = cio_event_new(), .want_name = "conn", .want_stack = 128 * 1024};
    cio_server_opts o = {.max_connections = 2, .task_name = "conn", .stack_size = 128 * 1024,
                         .backlog = 16};
    cio_server *srv = cio_start_server_opts("127.0.0.1", "0", &o, gated, &g);
    REQUIRE(srv != NULL && g.release != NULL);
    const port_str port = port_string(cio_server_port(srv));
    cio_stream *c[NLIMITED];
    char line[8];
    for (int i = 0; i < NLIMITED; i++)
        REQUIRE((c[i] = cio_open_connection("127.0.0.1", port.s)) != NULL);
    /* Two are served; the other three connected (the backlog holds them)
     * but wait to be accepted. */
    CHECK_CIO(cio_stream_readline(c[0], line, sizeof line), 3);
    CHECK_CIO(cio_stream_readline(c[1], line, sizeof line), 3);
    for (int i = 0; i < 20; i++)
        CHECK_CIO(cio_sleep(0.005), 0);
    CHECK(g.served == 2 && g.active == 2);
    /* Released handlers make room: each waiting client is served in turn,
     * never more than two at once. */
    cio_event_set(g.release);
    for (int i = 2; i < NLIMITED; i++)
        CHECK_CIO(cio_stream_readline(c[i], line, sizeof line), 3);
    for (int i = 0; i < NLIMITED; i++)
        cio_stream_close(c[i]);
    CHECK_CIO(cio_server_shutdown(srv, INFINITY), 0);
    CHECK(g.served == NLIMITED);
    CHECK(g.peak == 2);
    CHECK(g.misnamed == 0);
    cio_event_free(g.release);
    return 0;
}

static void test_connection_limit_leaves_the_rest_in_the_backlog(void **state)
{
    (void)state;
    run_ok(main_limit, NULL);
}

static int main_reuse_port(void *arg)
{
    (void)arg;
    cio_server_opts o = {.reuse_port = true};
    cio_server *a = cio_start_server_opts("127.0.0.1", "0", &o, say_bye, NULL);
    REQUIRE(a != NULL);
    const port_str port = port_string(cio_server_port(a));
    errno = 0;
    /* Without the option on both, the port is taken. */
    CHECK(cio_start_server_opts("127.0.0.1", port.s, NULL, say_bye, NULL) == NULL &&
          errno == EADDRINUSE);
    cio_server *b = cio_start_server_opts("127.0.0.1", port.s, &o, say_bye, NULL);
    CHECK(b != NULL);
    for (int i = 0; i < 4; i++) {
        cio_stream *s = cio_open_connection("127.0.0.1", port.s);
        REQUIRE(s != NULL);
        char line[8];
        CHECK_CIO(cio_stream_readline(s, line, sizeof line), 4);
        cio_stream_close(s);
    }
    CHECK_CIO(cio_server_close(a), 0);
    if (b)
        CHECK_CIO(cio_server_close(b), 0);
    return 0;
}

static void test_reuse_port_lets_two_servers_share_a_port(void **state)
{
    (void)state;
    run_ok(main_reuse_port, NULL);
}

static bool dual_stack_default(void)
{
    FILE *f = fopen("/proc/sys/net/ipv6/bindv6only", "r");
    int v = 1;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = 1;
        fclose(f);
    }
    return v == 0;
}

static int main_v6only(void *arg)
{
    (void)arg;
    cio_server_opts o = {.v6only = true};
    cio_server *srv = cio_start_server_opts("::", "0", &o, say_bye, NULL);
    REQUIRE(srv != NULL);
    const port_str port = port_string(cio_server_port(srv));
    CHECK_CIO(cio_tcp_connect("127.0.0.1", port.s), -ECONNREFUSED);
    cio_stream *s = cio_open_connection("::1", port.s);
    CHECK(s != NULL);
    if (s)
        cio_stream_close(s);
    CHECK_CIO(cio_server_close(srv), 0);
    if (dual_stack_default()) {
        /* Without it, "::" takes IPv4 connections too. */
        srv = cio_start_server_opts("::", "0", NULL, say_bye, NULL);
        REQUIRE(srv != NULL);
        const port_str p2 = port_string(cio_server_port(srv));
        s = cio_open_connection("127.0.0.1", p2.s);
        CHECK(s != NULL);
        if (s)
            cio_stream_close(s);
        CHECK_CIO(cio_server_close(srv), 0);
    }
    return 0;
}

static void test_v6only_refuses_ipv4_on_the_wildcard(void **state)
{
    (void)state;
    run_ok(main_v6only, NULL);
}

/* ------------------------------------------------- graceful shutdown */

typedef struct polite {
    int started, finished;
} polite;

/* Reads one line, takes a moment, answers and returns. */
static int finish_politely(cio_stream *s, void *arg)
{
    polite *p = arg;
    p->started++;
    char line[32];
    ssize_t n = cio_stream_readline(s, line, sizeof line);
    if (n <= 0)
        return (int)n;
    int err = cio_sleep(0.02);
    if (!err)
        err = cio_stream_write(s, "done\n", 5);
    if (!err)
        p->finished++;
    return err;
}

typedef struct shutdown_job {
    cio_server *srv;
    double grace;
    int result;
} shutdown_job;

static int shutdown_task(void *arg)
{
    shutdown_job *j = arg;
    j->result = cio_server_shutdown(j->srv, j->grace);
    return 0;
}

static int main_graceful(void *arg)
{
    (void)arg;
    polite p = {0, 0};
    cio_server *srv = cio_start_server_opts("127.0.0.1", "0", NULL, finish_politely, &p);
    REQUIRE(srv != NULL);
    const port_str port = port_string(cio_server_port(srv));
    cio_stream *a = cio_open_connection("127.0.0.1", port.s);
    cio_stream *b = cio_open_connection("127.0.0.1", port.s);
    REQUIRE(a && b);
    CHECK_CIO(cio_stream_write(a, "req\n", 4), 0);
    CHECK_CIO(cio_stream_write(b, "req\n", 4), 0);
    /* Both accepted (the handlers are running) before the shutdown. */
    while (p.started < 2)
        CHECK_CIO(cio_sleep(0.001), 0);
    shutdown_job j = {srv, 30, 1};
    cio_task *t = cio_create_task(shutdown_task, &j);
    CHECK_CIO(cio_yield(), 0);
    /* The listener is closed at once: new connections are refused ... */
    CHECK_CIO(cio_tcp_connect("127.0.0.1", port.s), -ECONNREFUSED);
    /* ... while the running handlers finish their work. */
    char line[16];
    CHECK_CIO(cio_stream_readline(a, line, sizeof line), 5);
    CHECK_CIO(cio_stream_readline(b, line, sizeof line), 5);
    CHECK_CIO(cio_await(t), 0);
    CHECK_CIO(j.result, 0);
    CHECK(p.finished == 2);
    cio_stream_close(a);
    cio_stream_close(b);
    return 0;
}

static void test_shutdown_lets_handlers_finish_within_grace(void **state)
{
    (void)state;
    run_ok(main_graceful, NULL);
}

static int main_grace_expires(void *arg)
{
    (void)arg;
    stuck st = {.n = 0};
    cio_server *srv = cio_start_server_opts("127.0.0.1", "0", NULL, record_echo, &st);
    REQUIRE(srv != NULL);
    const port_str port = port_string(cio_server_port(srv));
    cio_stream *silent = cio_open_connection("127.0.0.1", port.s);
    cio_stream *talks = cio_open_connection("127.0.0.1", port.s);
    REQUIRE(silent && talks);
    char line[16];
    CHECK_CIO(cio_stream_write(talks, "hi\n", 3), 0);
    CHECK_CIO(cio_stream_readline(talks, line, sizeof line), 3);
    /* Neither ends by itself: the grace runs out and both are cancelled. */
    CHECK_CIO(cio_server_shutdown(srv, 0.05), 2);
    CHECK(st.n == 2 && st.results[0] == -ECANCELED && st.results[1] == -ECANCELED);
    CHECK_CIO(cio_stream_read(silent, line, sizeof line), 0);
    CHECK_CIO(cio_stream_read(talks, line, sizeof line), 0);
    cio_stream_close(silent);
    cio_stream_close(talks);
    return 0;
}

static void test_shutdown_cancels_handlers_past_grace(void **state)
{
    (void)state;
    run_ok(main_grace_expires, NULL);
}

/* A record_echo server with one client that has had a line echoed (so its
 * handler runs): the server, or NULL. */
static cio_server *served_echo(stuck *st, cio_stream **client)
{
    cio_server *srv = cio_start_server_opts("127.0.0.1", "0", NULL, record_echo, st);
    if (!srv)
        return NULL;
    const port_str port = port_string(cio_server_port(srv));
    char line[16];
    *client = cio_open_connection("127.0.0.1", port.s);
    if (!*client || cio_stream_write(*client, "hi\n", 3) != 0 ||
        cio_stream_readline(*client, line, sizeof line) != 3) {
        if (*client)
            cio_stream_close(*client);
        cio_server_close(srv);
        return NULL;
    }
    return srv;
}

static int main_shutdown_cancelled(void *arg)
{
    (void)arg;
    stuck st = {.n = 0};
    cio_stream *s, *s2;
    cio_server *srv = served_echo(&st, &s);
    REQUIRE(srv != NULL);
    /* An endless grace, cut short by cancelling the caller: the handler is
     * cancelled, the server freed, and the caller hears -ECANCELED. */
    shutdown_job j = {srv, INFINITY, 1};
    cio_task *t = cio_create_task(shutdown_task, &j);
    CHECK_CIO(cio_sleep(0.02), 0);
    CHECK(st.n == 0);
    cio_cancel(t);
    CHECK_CIO(cio_await(t), 0);
    CHECK_CIO(j.result, -ECANCELED);
    CHECK(st.n == 1 && st.results[0] == -ECANCELED);
    /* An enclosing timeout ends the grace the same way. */
    REQUIRE((srv = served_echo(&st, &s2)) != NULL);
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.02);
    CHECK_CIO(cio_server_shutdown(srv, INFINITY), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    CHECK(st.n == 2 && st.results[1] == -ECANCELED);
    cio_stream_close(s);
    cio_stream_close(s2);
    return 0;
}

static void test_cancelling_shutdown_ends_the_grace(void **state)
{
    (void)state;
    run_ok(main_shutdown_cancelled, NULL);
}

static int main_opts_bad_input(void *arg)
{
    (void)arg;
    errno = 0;
    CHECK(cio_start_server_opts("127.0.0.1", "0", &(cio_server_opts){.backlog = -1}, say_bye,
                                NULL) == NULL &&
          errno == EINVAL);
    CHECK(cio_start_server_opts("127.0.0.1", "0", NULL, NULL, NULL) == NULL && errno == EINVAL);
    CHECK(cio_start_server_opts("127.0.0.1", NULL, NULL, say_bye, NULL) == NULL &&
          errno == EINVAL);
    cio_server *srv = cio_start_server_opts("127.0.0.1", "0", NULL, say_bye, NULL);
    REQUIRE(srv != NULL);
    /* Refused without doing anything: the server still serves. */
    CHECK_CIO(cio_server_shutdown(srv, -1), -EINVAL);
    CHECK_CIO(cio_server_shutdown(srv, NAN), -EINVAL);
    CHECK_CIO(cio_server_shutdown(NULL, 1), -EINVAL);
    const port_str port = port_string(cio_server_port(srv));
    cio_stream *s = cio_open_connection("127.0.0.1", port.s);
    REQUIRE(s != NULL);
    char line[8];
    CHECK_CIO(cio_stream_readline(s, line, sizeof line), 4);
    cio_stream_close(s);
    CHECK_CIO(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_server_opts_and_shutdown_bad_input(void **state)
{
    (void)state;
    run_ok(main_opts_bad_input, NULL);
}

/* ------------------------------------------ descriptors running out */

/* The child: a server under a low RLIMIT_NOFILE. It writes its port to
 * report_fd and serves until control_fd reaches end of file. It is this
 * program, started with CHILD_FLAG as argv[0] and the pipes on these
 * descriptors. */
#define CHILD_FLAG "test_server-emfile-child"
#define CHILD_REPORT_FD 3
#define CHILD_CONTROL_FD 4

extern char **environ;

typedef struct child_server {
    int report_fd, control_fd;
} child_server;

static int child_main(void *arg)
{
    child_server *c = arg;
    cio_server *srv = cio_start_server("127.0.0.1", "0", echo_lines, NULL);
    if (!srv)
        return 10;
    int port = cio_server_port(srv);
    if (cio_write(c->report_fd, &port, sizeof port) != sizeof port)
        return 11;
    char b;
    while (cio_read(c->control_fd, &b, 1) > 0) {
    }
    return cio_server_close(srv) == 0 ? 0 : 12;
}

static long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields 14 and 15 (utime, stime) follow the command in parentheses. */
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (long)(ut + st);
}

#define NFD_CLIENTS 8

static void test_server_out_of_descriptors_pauses_and_recovers(void **state)
{
    (void)state;
    int report[2], control[2];
    assert_int_equal(pipe2(report, O_CLOEXEC), 0);
    assert_int_equal(pipe2(control, O_CLOEXEC), 0);
    /* A fresh process (not a fork: this one may have resolver threads,
     * and a fork must not start threads again under ThreadSanitizer),
     * this program again, with the pipes' other ends on 3 and 4. */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, report[1], CHILD_REPORT_FD);
    posix_spawn_file_actions_adddup2(&fa, control[0], CHILD_CONTROL_FD);
    char *argv[] = {(char *)(uintptr_t)CHILD_FLAG, NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(report[1]);
    close(control[0]);
    int port = 0;
    assert_int_equal(read(report[0], &port, sizeof port), (ssize_t)sizeof port);
    close(report[0]);

    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fds[NFD_CLIENTS];
    for (int i = 0; i < NFD_CLIENTS; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timeval tv = {10, 0};
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        /* The backlog takes them even while the server cannot accept. */
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
        char line[32];
        int n = snprintf(line, sizeof line, "hello %d\n", i);
        assert_int_equal(write(fds[i], line, (size_t)n), n);
    }
    /* The first three are served at once; the rest wait while accept fails
     * with EMFILE (some may be served early, into the spare room). */
    char buf[32];
    for (int i = 0; i < 3; i++) {
        ssize_t got = read(fds[i], buf, sizeof buf);
        if (got <= 0) {
            int err = errno, status = 0;
            pid_t done = waitpid(pid, &status, WNOHANG);
            fail_msg("client %d: read returned %zd (%s); the server %s (status %#x)", i, got,
                     got < 0 ? strerror(err) : "end of file", done == pid ? "has exited" : "runs",
                     status);
        }
    }
    struct timespec pause = {0, 500 * 1000 * 1000};
    long before = cpu_ticks(pid);
    nanosleep(&pause, NULL);
    long used = cpu_ticks(pid) - before;
    /* Spinning on accept would take most of the 50 ticks of 0.5 s. */
    if (before < 0 || used > 10)
        fail_msg("the server used %ld ticks of CPU in 0.5 s while out of descriptors", used);
    /* As connections end, descriptors free up and everyone is served. */
    for (int i = 0; i < NFD_CLIENTS; i++) {
        if (i >= 3) {
            char want[32];
            int n = snprintf(want, sizeof want, "hello %d\n", i);
            ssize_t got = read(fds[i], buf, sizeof buf);
            if (got != n || memcmp(buf, want, (size_t)n) != 0)
                fail_msg("client %d got %zd bytes back", i, got);
        }
        close(fds[i]);
    }
    close(control[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The child's whole life: room for the loop's own descriptors (epoll or
 * io_uring, eventfd), the listener, three connections and two spare (the
 * sanitizers' runtimes open files for a moment, e.g. when a thread-pool
 * thread starts: without the spare, an early connection could meet
 * EMFILE), fewer than the NFD_CLIENTS the test connects. */
static int emfile_child(void)
{
    alarm(30);
    int highest = 0;
    for (int fd = 0; fd < 1024; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            highest = fd;
    }
    struct rlimit lim = {(rlim_t)highest + 1 + 8, (rlim_t)highest + 1 + 8};
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 20;
    child_server c = {CHILD_REPORT_FD, CHILD_CONTROL_FD};
    return cio_run(child_main, &c);
}

int main(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], CHILD_FLAG) == 0)
        return emfile_child();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_many_clients_at_once),
        cmocka_unit_test(test_slow_clients_do_not_stall_others_and_close_cancels),
        cmocka_unit_test(test_handler_return_closes_the_connection),
        cmocka_unit_test(test_close_from_a_cancelled_task_still_closes),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_server_out_of_descriptors_pauses_and_recovers),
        cmocka_unit_test(test_connection_limit_leaves_the_rest_in_the_backlog),
        cmocka_unit_test(test_reuse_port_lets_two_servers_share_a_port),
        cmocka_unit_test(test_v6only_refuses_ipv4_on_the_wildcard),
        cmocka_unit_test(test_shutdown_lets_handlers_finish_within_grace),
        cmocka_unit_test(test_shutdown_cancels_handlers_past_grace),
        cmocka_unit_test(test_cancelling_shutdown_ends_the_grace),
        cmocka_unit_test(test_server_opts_and_shutdown_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
