/* SPDX-License-Identifier: MIT */
/* tour.c — the guided tour: what happens at `await`, shown on a running
 * program. It follows the seed's learning plan in four steps, each real code
 * narrated by cio's tracer (CIO_TRACE=1 prints one line per event on
 * stderr) between short explanations on stdout:
 *
 *   1. the event loop;
 *   2. sequential awaits: sleep 2 s, then 1 s — 3 s;
 *   3. the same two as tasks — 2 s, the longer of the two;
 *   4. an await on a real socket: two requests to a local HTTP server that
 *      the tour starts (a thread of its own, outside the loop, answering
 *      after a delay); the OS reports each response and the loop resumes
 *      the task that waits for it.
 *
 * The tracer also writes tour.json (Chrome trace-event JSON), and the tour
 * ends by running tools/cio-timeline on it, which writes tour.html: the
 * whole tour as a timeline. Both land in the current directory.
 *
 *   tour              (scripts/demo.sh builds and runs it)
 */
#define _POSIX_C_SOURCE 200809L /* setenv, nanosleep */
#include <cio.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRACE_FILE "tour.json"
#define PAGE_FILE "tour.html"
#define REQUESTS 2

extern char **environ;

/* Explanations go to stdout (line-buffered, see main), the tracer's
 * narration to stderr, so that the two interleave in the order they happen
 * even through a pipe. */
static void explain(const char *text)
{
    printf("\n%s\n", text);
}

static double t0;

static void say(const char *who, const char *what)
{
    printf("  [%6.3f s] %s: %s\n", cio_now() - t0, who, what);
}

/* ------------------------------------------------- step 1: the event loop */

static void on_loop(void *arg)
{
    (void)arg;
    say("callback", "run by the loop itself, between two tasks");
}

static int step_event_loop(void)
{
    explain("== 1. The event loop ==\n"
            "cio_run(main_task, NULL) is asyncio.run(main()): it made an event loop on\n"
            "this thread and runs main_task as the loop's first task. The loop does one\n"
            "thing at a time: run what is ready, then ask the OS (epoll_wait) to sleep\n"
            "until the next timer is due or a descriptor is ready. Here main schedules a\n"
            "callback (it runs on the loop itself, between tasks) and sleeps 0.1 s: in\n"
            "the narration, main suspends on its timer, the loop polls epoll with a\n"
            "100 ms timeout, and the due timer makes main ready again.");
    printf("  (this loop's backend: %s; CIO_BACKEND=poll picks ppoll instead)\n",
           cio_backend_name());
    cio_call_soon(on_loop, NULL);
    int err = cio_sleep(0.1);
    say("main", "woke up after 0.1 s");
    return err;
}

/* ------------------------------------- steps 2 and 3: the seed's two tasks */

static int task_a(void *arg)
{
    (void)arg;
    say("A", "starting, sleeps 2 s");
    int err = cio_sleep(2.0);
    say("A", "finished after 2 seconds");
    return err;
}

static int task_b(void *arg)
{
    (void)arg;
    say("B", "starting, sleeps 1 s");
    int err = cio_sleep(1.0);
    say("B", "finished after 1 second");
    return err;
}

static int step_sequential(void)
{
    explain("== 2. Sequential awaits: 3 s ==\n"
            "asyncio: await task_a(); await task_b()\n"
            "Calling the two bodies one after the other runs them in main's own task:\n"
            "at each cio_sleep, main is suspended (its registers saved on its stack, no\n"
            "CPU used) and the loop has nothing else to run, so it sleeps in epoll_wait\n"
            "until the timer is due. B cannot start before A is done: 2 s + 1 s.");
    double start = cio_now();
    int err = task_a(NULL);
    if (!err)
        err = task_b(NULL);
    printf("  Total: %.1f seconds\n", cio_now() - start);
    return err;
}

static int step_tasks(void)
{
    explain("== 3. The same two as tasks: 2 s ==\n"
            "asyncio: a = create_task(task_a()); b = create_task(task_b()); await a; await b\n"
            "cio_create_task only schedules; both start when main suspends in cio_await.\n"
            "A sleeps, so the loop runs B; B sleeps, so the loop polls the OS with the\n"
            "earliest timer as timeout. B's timer fires at 1 s, A's at 2 s: they wait\n"
            "side by side, and the whole takes the longer of the two.");
    double start = cio_now();
    cio_task *a = cio_create_task_opts(task_a, NULL, &(cio_task_opts){.name = "A"});
    if (!a)
        return -errno;
    cio_task *b = cio_create_task_opts(task_b, NULL, &(cio_task_opts){.name = "B"});
    if (!b) {
        int err = -errno;
        /* A has not run yet: cancelled, it never will; the await frees it. */
        cio_cancel(a);
        cio_await(a);
        return err;
    }
    int err_a = cio_await(a);
    int err_b = cio_await(b);
    printf("  Total: %.1f seconds\n", cio_now() - start);
    return err_a ? err_a : err_b;
}

/* ------------------------- step 4: the HTTP server, outside the loop */

/* A blocking HTTP/1.0 server on its own threads: a stand-in for the remote
 * API. It serves REQUESTS connections, each on its own thread; a request
 * for /delay/MS is answered after MS milliseconds. It is outside cio on
 * purpose: nothing in the loop knows about it, only the socket connects
 * the two. */
typedef struct http_server {
    int listen_fd;
    pthread_t acceptor;
} http_server;

static void *serve_one(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[1024];
    size_t have = 0;
    /* Read up to the end of the headers. */
    while (have < sizeof req - 1) {
        ssize_t n = read(fd, req + have, sizeof req - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        req[have] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    req[have] = '\0';
    unsigned delay_ms = 0;
    if (sscanf(req, "GET /delay/%u ", &delay_ms) == 1 && delay_ms <= 10000) {
        struct timespec delay = {.tv_sec = delay_ms / 1000, .tv_nsec = delay_ms % 1000 * 1000000L};
        nanosleep(&delay, NULL);
    }
    char body[96], reply[256];
    int blen = snprintf(body, sizeof body, "{\"waited_ms\": %u}\n", delay_ms);
    int rlen = snprintf(reply, sizeof reply,
                        "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\n\r\n%s",
                        blen, body);
    for (ssize_t off = 0, n; off < rlen; off += n)
        if ((n = write(fd, reply + off, (size_t)(rlen - off))) <= 0)
            break;
    close(fd);
    return NULL;
}

static void *accept_requests(void *arg)
{
    http_server *srv = arg;
    pthread_t handlers[REQUESTS];
    int started = 0;
    /* Bounded: a client that never comes leaves the server after 10 s. */
    struct pollfd pfd = {.fd = srv->listen_fd, .events = POLLIN};
    while (started < REQUESTS && poll(&pfd, 1, 10000) == 1) {
        int fd = accept(srv->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        if (pthread_create(&handlers[started], NULL, serve_one, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(handlers[i], NULL);
    return NULL;
}

/* Returns the port, or -errno. */
static int http_server_start(http_server *srv)
{
    srv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv->listen_fd < 0)
        return -errno;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int err = 0;
    if (bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(srv->listen_fd, REQUESTS) < 0 ||
        getsockname(srv->listen_fd, (struct sockaddr *)&addr, &len) < 0)
        err = -errno;
    else if ((err = pthread_create(&srv->acceptor, NULL, accept_requests, srv)) != 0)
        err = -err;
    if (err) {
        close(srv->listen_fd);
        return err;
    }
    return ntohs(addr.sin_port);
}

static void http_server_stop(http_server *srv)
{
    pthread_join(srv->acceptor, NULL);
    close(srv->listen_fd);
}

/* ------------------------------------ step 4: the tasks that await it */

typedef struct fetch {
    const char *name;
    int port;
    int delay_ms;
    /* The status line of the response, for main to print. */
    char status[64];
} fetch;

/* A TCP connection to 127.0.0.1:port. cio_tcp_connect would do (it takes a
 * host name), but its name lookup on the thread pool and its Happy Eyeballs
 * attempts, each a task, would crowd the narration: the tour connects to
 * the address itself. Returns the descriptor or -errno. */
static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int err = cio_connect(fd, (struct sockaddr *)&addr, sizeof addr);
    if (err < 0) {
        cio_close(fd);
        return err;
    }
    return fd;
}

/* True once reply[0..have) holds the headers and Content-Length bytes of
 * body: the task stops reading there rather than wait once more for the
 * server to close. */
static bool response_complete(const char *reply, size_t have)
{
    const char *end = strstr(reply, "\r\n\r\n");
    const char *length = strstr(reply, "Content-Length: ");
    if (!end || !length || length > end)
        return false;
    size_t body = strtoul(length + strlen("Content-Length: "), NULL, 10);
    return have >= (size_t)(end + 4 - reply) + body;
}

static int fetch_one(void *arg)
{
    fetch *f = arg;
    char line[128];
    int fd = connect_local(f->port);
    if (fd < 0)
        return fd;
    int len = snprintf(line, sizeof line, "GET /delay/%d HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
                       f->delay_ms);
    ssize_t n = cio_write(fd, line, (size_t)len);
    if (n >= 0) {
        snprintf(line, sizeof line, "request sent on fd %d; cio_read(fd %d) parks this task", fd,
                 fd);
        say(f->name, line);
        /* Here is the `await`: the task is suspended inside cio_read until
         * epoll reports fd readable and the loop switches back to it. */
        char reply[512];
        size_t have = 0;
        reply[0] = '\0';
        while (!response_complete(reply, have) && have < sizeof reply - 1 &&
               (n = cio_read(fd, reply + have, sizeof reply - 1 - have)) > 0) {
            have += (size_t)n;
            reply[have] = '\0';
        }
        if (n >= 0 && !response_complete(reply, have))
            n = CIO_EOF; /* the server closed before the whole response */
        snprintf(f->status, sizeof f->status, "%.*s", (int)strcspn(reply, "\r\n"), reply);
        snprintf(line, sizeof line, "response arrived on fd %d: %s", fd, f->status);
        if (n >= 0)
            say(f->name, line);
    }
    cio_close(fd);
    return n < 0 ? (int)n : 0;
}

static int step_socket(void)
{
    explain("== 4. await on a real socket ==\n"
            "A local HTTP server (plain blocking threads, outside the loop) answers\n"
            "/delay/MS after MS milliseconds. Two tasks each connect, send a request and\n"
            "call cio_read on the socket, which parks the task: the loop registers the\n"
            "descriptor with epoll and sleeps in epoll_wait. Nobody polls the socket in\n"
            "a loop: when the response arrives, the kernel marks the socket readable,\n"
            "epoll_wait returns it, and the loop resumes the task waiting on that fd --\n"
            "'fetch-fast' first, though it was started second. Look for the lines\n"
            "'epoll reported fd N readable -> task#M ready'.");
    http_server srv;
    int port = http_server_start(&srv);
    if (port < 0)
        return port;
    fetch fetches[REQUESTS] = {
        {.name = "fetch-slow", .port = port, .delay_ms = 600},
        {.name = "fetch-fast", .port = port, .delay_ms = 300},
    };
    cio_task *tasks[REQUESTS];
    int made = 0;
    for (; made < REQUESTS; made++) {
        tasks[made] = cio_create_task_opts(fetch_one, &fetches[made],
                                           &(cio_task_opts){.name = fetches[made].name});
        if (!tasks[made])
            break;
    }
    int results[REQUESTS];
    int err = cio_gather(tasks, (size_t)made, results);
    if (made < REQUESTS)
        err = -ENOMEM;
    /* The server thread returns once it has served REQUESTS connections, or
     * after its 10 s bound if a connection never came. */
    http_server_stop(&srv);
    return err;
}

static int main_task(void *arg)
{
    (void)arg;
    t0 = cio_now();
    int err = step_event_loop();
    if (!err)
        err = step_sequential();
    if (!err)
        err = step_tasks();
    if (!err)
        err = step_socket();
    if (err)
        fprintf(stderr, "tour: %s\n", cio_strerror(err));
    return err;
}

/* Runs tools/cio-timeline on the trace; returns its exit status. */
static int draw_timeline(void)
{
    char tool[] = CIO_TIMELINE_TOOL, trace[] = TRACE_FILE, flag[] = "-o", page[] = PAGE_FILE;
    char *argv[] = {tool, trace, flag, page, NULL};
    pid_t pid;
    int status;
    int err = posix_spawn(&pid, tool, NULL, NULL, argv, environ);
    if (err) {
        fprintf(stderr, "tour: cannot run %s: %s\n", argv[0], strerror(err));
        return -1;
    }
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void)
{
    /* Narrate to stderr and record the JSON, for this program's loop only. */
    if (setenv("CIO_TRACE", "1," TRACE_FILE, 1) != 0) {
        perror("tour: setenv");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("cio guided tour: what happens at `await`.\n"
           "Lines starting with [cio ...] are the loop narrating itself (CIO_TRACE=1).\n");
    int r = cio_run(main_task, NULL);
    if (r != 0)
        return 1;
    explain("== The timeline ==");
    if (access(TRACE_FILE, R_OK) != 0) {
        printf("No %s was written (CIO_TRACE could not open it), so no timeline.\n", TRACE_FILE);
        return 1;
    }
    if (draw_timeline() != 0) {
        printf("Draw it yourself: tools/cio-timeline %s -o %s\n", TRACE_FILE, PAGE_FILE);
        return 1;
    }
    printf("Open %s in a browser: a lane per task (main, A, B, fetch-slow, fetch-fast)\n"
           "and the loop's; solid = running, hatched = waiting, arrows = who woke whom.\n"
           "In step 3, A and B wait side by side; in step 4 the loop's epoll poll ends\n"
           "when a response arrives, and an arrow goes to the task it belongs to.\n"
           "The same %s opens in Perfetto (ui.perfetto.dev) or chrome://tracing.\n",
           PAGE_FILE, TRACE_FILE);
    return 0;
}
