/* SPDX-License-Identifier: MIT */
/* test_server.c — cio_start_server: many clients at once, slow and silent
 * clients that must not stall the others, cio_server_close cancelling and
 * awaiting handlers, a handler's return closing its connection, a server
 * whose descriptors run out (RLIMIT_NOFILE, in a child process) pausing
 * instead of spinning and serving again once they free up, bad input.
 */
#include "nettest.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
