/* SPDX-License-Identifier: MIT */
/* test_fdio.c — I/O on descriptors: pipes (waiting, large writes, EOF,
 * SIGPIPE, closing under a waiter, cancellation, timeouts, EINTR), TCP and
 * UDP on 127.0.0.1, regular files (positioned I/O, the thread pool), and
 * bad input.
 *
 * Failures inside tasks are recorded (EXPECT / REQUIRE), not asserted:
 * cmocka reports a failure with longjmp, which must not leave a task's
 * stack. Each test asserts the record once cio_run has returned.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "nettest.h"

/* -------------------------------------------------------------- helpers */

/* The pool size this process runs with (set in main, before first use). */
#define POOL_SIZE 2

/* Fills a pipe until the kernel refuses (fd made non-blocking by the
 * caller or by cio). Returns the bytes written. */
static size_t fill_pipe(int wfd)
{
    static char junk[4096];
    size_t total = 0;
    for (;;) {
        ssize_t n = write(wfd, junk, sizeof junk);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    return total;
}

/* Reads a non-blocking pipe empty. */
static void drain_pipe(int rfd)
{
    char buf[4096];
    while (read(rfd, buf, sizeof buf) > 0) {
    }
}

/* A UDP socket bound to 127.0.0.1 on a free port. */
static int udp_socket(int *port)
{
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (u < 0)
        return -errno;
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (bind(u, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(u, (struct sockaddr *)&a, &len) != 0) {
        int err = -errno;
        close(u);
        return err;
    }
    *port = ntohs(a.sin_port);
    return u;
}

/* A task that reads once from a descriptor into its own buffer and says
 * what it got. */
typedef struct reader {
    int fd;
    char buf[64];
    ssize_t result;
    bool done;
} reader;

static int read_once(void *arg)
{
    reader *r = arg;
    r->result = cio_read(r->fd, r->buf, sizeof r->buf);
    r->done = true;
    return r->result < 0 ? (int)r->result : 0;
}

static int wait_readable_once(void *arg)
{
    reader *r = arg;
    r->result = cio_wait_readable(r->fd);
    r->done = true;
    return (int)r->result;
}

/* ------------------------------------------------------------- pipes */

static int main_read_waits(void *arg)
{
    (void)arg;
    int p[2];
    /* Blocking as made: cio switches it to non-blocking on first use. */
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    reader r = {.fd = p[0]};
    cio_task *t = cio_create_task(read_once, &r);
    REQUIRE(t != NULL);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    /* No data yet: the reader is parked, the loop runs this task. */
    REQUIRE(!r.done);
    REQUIRE(nonblocking(p[0]));
    REQUIRE_CIO(cio_write(p[1], "hello", 5), 5);
    REQUIRE_CIO(cio_await(t), 0);
    REQUIRE_CIO(r.result, 5);
    REQUIRE(memcmp(r.buf, "hello", 5) == 0);
    /* Data already there costs no wait; a short read returns what there is. */
    REQUIRE_CIO(cio_write(p[1], "abc", 3), 3);
    char buf[100];
    REQUIRE_CIO(cio_read(p[0], buf, sizeof buf), 3);
    REQUIRE(memcmp(buf, "abc", 3) == 0);
    REQUIRE_CIO(cio_close(p[0]), 0);
    REQUIRE_CIO(cio_close(p[1]), 0);
    return 0;
}

static void test_read_waits_for_data_written_later(void **state)
{
    (void)state;
    run_ok(main_read_waits, NULL);
}

#define BIG (4u << 20)

typedef struct big_xfer {
    int rfd, wfd;
    unsigned char *src;
    unsigned char *dst;
    size_t got;
    ssize_t write_result;
} big_xfer;

static int big_writer(void *arg)
{
    big_xfer *x = arg;
    /* Far more than a pipe holds (64 KiB): partial writes and EAGAIN
     * inside, all of it or an error outside. */
    x->write_result = cio_write(x->wfd, x->src, BIG);
    REQUIRE_CIO(cio_close(x->wfd), 0);
    return 0;
}

static int big_reader(void *arg)
{
    big_xfer *x = arg;
    size_t chunk = 1000;
    for (;;) {
        size_t want = chunk < BIG + 1 - x->got ? chunk : BIG + 1 - x->got;
        ssize_t n = cio_read(x->rfd, x->dst + x->got, want);
        REQUIRE(n >= 0);
        if (n == 0)
            break;
        x->got += (size_t)n;
        /* Vary the read size, and now and then let the writer fill the
         * pipe completely. */
        chunk = chunk * 3 % 70001 + 1;
        if (chunk % 5 == 0)
            REQUIRE_CIO(cio_yield(), 0);
    }
    REQUIRE_CIO(cio_close(x->rfd), 0);
    return 0;
}

static int main_big_write(void *arg)
{
    (void)arg;
    big_xfer x = {0};
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    x.rfd = p[0];
    x.wfd = p[1];
    x.src = malloc(BIG);
    x.dst = malloc(BIG + 1);
    REQUIRE(x.src && x.dst);
    fill_pattern(x.src, BIG);
    cio_task *tasks[2] = {cio_create_task(big_writer, &x), cio_create_task(big_reader, &x)};
    REQUIRE(tasks[0] && tasks[1]);
    int results[2];
    int r = cio_gather(tasks, 2, results);
    bool same = x.got == BIG && memcmp(x.src, x.dst, BIG) == 0;
    free(x.src);
    free(x.dst);
    REQUIRE_CIO(r, 0);
    REQUIRE_CIO(x.write_result, BIG);
    REQUIRE_CIO(x.got, BIG);
    REQUIRE(same);
    return 0;
}

static void test_large_write_to_pipe_arrives_intact(void **state)
{
    (void)state;
    run_ok(main_big_write, NULL);
}

static int main_eof(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    REQUIRE_CIO(cio_write(p[1], "abc", 3), 3);
    REQUIRE_CIO(cio_close(p[1]), 0);
    char buf[16];
    REQUIRE_CIO(cio_read(p[0], buf, sizeof buf), 3);
    REQUIRE_CIO(cio_read(p[0], buf, sizeof buf), 0);
    REQUIRE_CIO(cio_read(p[0], buf, sizeof buf), 0);
    REQUIRE_CIO(cio_close(p[0]), 0);

    /* A reader already waiting when the writer goes away wakes with 0. */
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    reader r = {.fd = p[0]};
    cio_task *t = cio_create_task(read_once, &r);
    REQUIRE(t != NULL);
    REQUIRE_CIO(cio_sleep(0.01), 0);
    REQUIRE(!r.done);
    REQUIRE_CIO(cio_close(p[1]), 0);
    REQUIRE_CIO(cio_await(t), 0);
    REQUIRE_CIO(r.result, 0);
    REQUIRE_CIO(cio_close(p[0]), 0);
    return 0;
}

/* Two tasks read the same pipe: each byte goes to exactly one of them,
 * and the one that found nothing waits on. */
static int main_two_readers(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    reader a = {.fd = p[0]}, b = {.fd = p[0]};
    cio_task *ta = cio_create_task(read_once, &a);
    cio_task *tb = cio_create_task(read_once, &b);
    REQUIRE(ta && tb);
    REQUIRE_CIO(cio_sleep(0.01), 0);
    REQUIRE_CIO(cio_write(p[1], "1", 1), 1);
    REQUIRE_CIO(cio_sleep(0.01), 0);
    REQUIRE((a.done ? 1 : 0) + (b.done ? 1 : 0) == 1);
    REQUIRE_CIO(cio_write(p[1], "2", 1), 1);
    REQUIRE_CIO(cio_await(ta), 0);
    REQUIRE_CIO(cio_await(tb), 0);
    REQUIRE_CIO(a.result, 1);
    REQUIRE_CIO(b.result, 1);
    REQUIRE(a.buf[0] != b.buf[0]);
    REQUIRE_CIO(cio_close(p[0]), 0);
    REQUIRE_CIO(cio_close(p[1]), 0);
    return 0;
}

static void test_two_readers_share_a_pipe(void **state)
{
    (void)state;
    run_ok(main_two_readers, NULL);
}

static void test_read_returns_0_at_eof(void **state)
{
    (void)state;
    run_ok(main_eof, NULL);
}

/* ------------------------------------------------------------- SIGPIPE */

static int big_write_task(void *arg)
{
    int fd = *(int *)arg;
    static unsigned char buf[1 << 20];
    return (int)cio_write(fd, buf, sizeof buf);
}

static int main_epipe(void *arg)
{
    (void)arg;
    int p[2];
    /* A pipe whose reader is gone. */
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    REQUIRE(close(p[0]) == 0);
    REQUIRE_CIO(cio_write(p[1], "x", 1), -EPIPE);
    REQUIRE_CIO(cio_write(p[1], "x", 1), -EPIPE);
    REQUIRE_CIO(cio_close(p[1]), 0);

    /* A stream socket whose peer is gone. */
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    REQUIRE(close(sv[1]) == 0);
    REQUIRE_CIO(cio_write(sv[0], "x", 1), -EPIPE);
    REQUIRE_CIO(cio_close(sv[0]), 0);

    /* A writer parked on a full pipe when the reader closes it. */
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    cio_task *t = cio_create_task(big_write_task, &p[1]);
    REQUIRE(t != NULL);
    REQUIRE_CIO(cio_sleep(0.01), 0);
    REQUIRE_CIO(cio_close(p[0]), 0);
    REQUIRE_CIO(cio_await(t), -EPIPE);
    REQUIRE_CIO(cio_close(p[1]), 0);
    return 0;
}

static bool sigpipe_pending(void)
{
    sigset_t pending;
    sigpending(&pending);
    return sigismember(&pending, SIGPIPE) == 1;
}

/* SIGPIPE at its default action (death) and not blocked by this thread:
 * if the library let it through, or left it pending for when cio_run
 * restores the signal mask, this process would not survive to fail. */
static void test_sigpipe_never_kills(void **state)
{
    (void)state;
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigemptyset(&dfl.sa_mask);
    assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0);
    sigset_t pipe_set, old_mask;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &pipe_set, &old_mask), 0);
    run_ok(main_epipe, NULL);
    assert_false(sigpipe_pending());
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGPIPE, &old, NULL);
}

/* With SIGPIPE blocked by the application, the library must still take
 * back the signals its writes raised: none is left pending afterwards. */
static void test_no_sigpipe_left_pending(void **state)
{
    (void)state;
    sigset_t pipe_set, old_mask;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask), 0);
    assert_false(sigpipe_pending());
    run_ok(main_epipe, NULL);
    bool pending = sigpipe_pending();
    if (pending) {
        /* Take it so that restoring the mask cannot kill the runner. */
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    assert_false(pending);
}

/* A task that calls write(2) itself, as a third-party library does, on a
 * pipe whose reader is gone: the SIGPIPE it raises is held while the loop
 * runs, and must not be left pending to kill the process when cio_run
 * restores the signal mask. */
static int main_plain_write_epipe(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    REQUIRE(close(p[0]) == 0);
    REQUIRE(write(p[1], "x", 1) == -1 && errno == EPIPE);
    REQUIRE(close(p[1]) == 0);
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    REQUIRE(close(sv[1]) == 0);
    REQUIRE(write(sv[0], "x", 1) == -1 && errno == EPIPE);
    REQUIRE(close(sv[0]) == 0);
    return 0;
}

static void plain_write_epipe_child(void)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGPIPE, &dfl, NULL);
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &pipe_set, NULL);
    int r = cio_run(main_plain_write_epipe, NULL);
    if (r != 0 || failure_count()) {
        say(failure_text());
        _exit(1);
    }
    if (sigpipe_pending())
        _exit(2);
}

static void test_plain_write_to_broken_pipe_in_task_never_kills(void **state)
{
    (void)state;
    child_result r;
    run_child(plain_write_epipe_child, &r);
    assert_child_ok(&r);
}

/* ------------------------------------------------- readiness waits */

static int write_wait_task(void *arg)
{
    reader *r = arg;
    r->result = cio_wait_writable(r->fd);
    r->done = true;
    return (int)r->result;
}

static int main_wait_ready(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    /* An empty pipe is writable at once. */
    REQUIRE_CIO(cio_wait_writable(p[1]), 0);

    /* Readable only once something is written. */
    reader r = {.fd = p[0]};
    cio_task *t = cio_create_task(wait_readable_once, &r);
    REQUIRE(t != NULL);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(!r.done);
    REQUIRE_CIO(cio_write(p[1], "z", 1), 1);
    REQUIRE_CIO(cio_await(t), 0);
    /* Waiting consumed nothing. */
    char c;
    REQUIRE_CIO(cio_read(p[0], &c, 1), 1);
    REQUIRE(c == 'z');

    /* Writable only once a full pipe is drained. */
    REQUIRE(nonblocking(p[1]));
    REQUIRE(fill_pipe(p[1]) > 0);
    reader w = {.fd = p[1]};
    t = cio_create_task(write_wait_task, &w);
    REQUIRE(t != NULL);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(!w.done);
    drain_pipe(p[0]);
    REQUIRE_CIO(cio_await(t), 0);
    REQUIRE_CIO(cio_close(p[0]), 0);
    REQUIRE_CIO(cio_close(p[1]), 0);
    return 0;
}

/* A descriptor another library owns and uses blocking: waiting for it to
 * be ready must leave its flags alone (readiness needs no O_NONBLOCK). */
static int main_wait_leaves_flags(void *arg)
{
    (void)arg;
    int p[2], sv[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_CIO(cio_wait_writable(p[1]), 0);
    CHECK(write(p[1], "a", 1) == 1);
    CHECK_CIO(cio_wait_readable(p[0]), 0);
    /* A waiter parked before the data comes. */
    reader r = {.fd = sv[0]};
    cio_task *t = cio_create_task(wait_readable_once, &r);
    REQUIRE(t != NULL);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK(write(sv[1], "b", 1) == 1);
    CHECK_CIO(cio_await(t), 0);
    CHECK_CIO(cio_wait_writable(sv[1]), 0);
    CHECK(!nonblocking(p[0]) && !nonblocking(p[1]));
    CHECK(!nonblocking(sv[0]) && !nonblocking(sv[1]));
    /* The owner's blocking reads work as before. */
    char c;
    CHECK(read(p[0], &c, 1) == 1 && c == 'a');
    CHECK(read(sv[0], &c, 1) == 1 && c == 'b');
    /* cio's own I/O on it still works (and may set what it needs). */
    CHECK(write(p[1], "c", 1) == 1);
    CHECK_CIO(cio_read(p[0], &c, 1), 1);
    CHECK(c == 'c');
    for (int i = 0; i < 2; i++) {
        CHECK_CIO(cio_close(p[i]), 0);
        CHECK_CIO(cio_close(sv[i]), 0);
    }
    return 0;
}

static void test_waiting_leaves_a_blocking_descriptor_blocking(void **state)
{
    (void)state;
    run_ok(main_wait_leaves_flags, NULL);
}

static void test_wait_readable_and_writable(void **state)
{
    (void)state;
    run_ok(main_wait_ready, NULL);
}

/* --------------------------------------------- closing under a waiter */

static int main_close_wakes(void *arg)
{
    (void)arg;
    /* Two readers parked on an empty pipe q, a writer parked on a full
     * pipe p. */
    int p[2], q[2];
    REQUIRE(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    REQUIRE(pipe2(q, O_CLOEXEC | O_NONBLOCK) == 0);
    reader a = {.fd = q[0]}, b = {.fd = q[0]};
    cio_task *t1 = cio_create_task(read_once, &a);
    cio_task *t2 = cio_create_task(wait_readable_once, &b);
    REQUIRE(fill_pipe(p[1]) > 0);
    cio_task *t3 = cio_create_task(big_write_task, &p[1]);
    REQUIRE(t1 && t2 && t3);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(!a.done && !b.done && !cio_task_done(t3));
    /* Closing the descriptors they wait on wakes them all with -EBADF. */
    REQUIRE_CIO(cio_close(q[0]), 0);
    REQUIRE_CIO(cio_close(p[1]), 0);
    REQUIRE_CIO(cio_await(t1), -EBADF);
    REQUIRE_CIO(cio_await(t2), -EBADF);
    REQUIRE_CIO(cio_await(t3), -EBADF);
    REQUIRE_CIO(a.result, -EBADF);
    REQUIRE_CIO(b.result, -EBADF);
    REQUIRE_CIO(cio_close(p[0]), 0);
    REQUIRE_CIO(cio_close(q[1]), 0);
    return 0;
}

static void test_close_wakes_waiters_with_ebadf(void **state)
{
    (void)state;
    run_ok(main_close_wakes, NULL);
}

/* ------------------------------------------------- bad descriptors */

static int main_bad_fds(void *arg)
{
    (void)arg;
    char buf[8] = {0};
    struct sockaddr_in a = loopback(9);
    socklen_t len = sizeof a;
    REQUIRE_CIO(cio_read(-1, buf, 1), -EBADF);
    REQUIRE_CIO(cio_write(-1, buf, 1), -EBADF);
    REQUIRE_CIO(cio_wait_readable(-1), -EBADF);
    REQUIRE_CIO(cio_wait_writable(-1), -EBADF);
    REQUIRE_CIO(cio_pread(-1, buf, 1, 0), -EBADF);
    REQUIRE_CIO(cio_pwrite(-1, buf, 1, 0), -EBADF);
    REQUIRE_CIO(cio_accept(-1, NULL, NULL), -EBADF);
    REQUIRE_CIO(cio_connect(-1, (struct sockaddr *)&a, sizeof a), -EBADF);
    REQUIRE_CIO(cio_recvfrom(-1, buf, 1, (struct sockaddr *)&a, &len), -EBADF);
    REQUIRE_CIO(cio_sendto(-1, buf, 1, (struct sockaddr *)&a, sizeof a), -EBADF);
    REQUIRE_CIO(cio_close(-1), -EBADF);

    /* A number that was open and is not any more: once never seen by cio
     * (closed with close), once closed with cio_close after use. */
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    REQUIRE(close(p[0]) == 0);
    REQUIRE(fcntl(p[0], F_GETFD) < 0 && errno == EBADF);
    REQUIRE_CIO(cio_read(p[0], buf, 1), -EBADF);
    REQUIRE_CIO(cio_wait_readable(p[0]), -EBADF);
    REQUIRE_CIO(cio_close(p[0]), -EBADF);

    REQUIRE_CIO(cio_write(p[1], "x", 1), -EPIPE);
    REQUIRE_CIO(cio_close(p[1]), 0);
    REQUIRE(fcntl(p[1], F_GETFD) < 0 && errno == EBADF);
    REQUIRE_CIO(cio_write(p[1], "x", 1), -EBADF);
    REQUIRE_CIO(cio_wait_writable(p[1]), -EBADF);
    REQUIRE_CIO(cio_close(p[1]), -EBADF);
    return 0;
}

static void test_closed_or_invalid_fd_is_ebadf(void **state)
{
    (void)state;
    run_ok(main_bad_fds, NULL);
}

static int main_null_buffers(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    REQUIRE_CIO(cio_read(p[0], NULL, 5), -EINVAL);
    REQUIRE_CIO(cio_write(p[1], NULL, 5), -EINVAL);
    /* Nothing was written by the refused call. */
    char c;
    REQUIRE(read(p[0], &c, 1) < 0 && errno == EAGAIN);
    /* n == 0 with NULL is no error. */
    REQUIRE_CIO(cio_write(p[1], NULL, 0), 0);

    int u1, u2, port1, port2;
    REQUIRE((u1 = udp_socket(&port1)) >= 0);
    REQUIRE((u2 = udp_socket(&port2)) >= 0);
    struct sockaddr_in to = loopback(port2);
    REQUIRE_CIO(cio_sendto(u1, NULL, 5, (struct sockaddr *)&to, sizeof to), -EINVAL);
    REQUIRE_CIO(cio_recvfrom(u2, NULL, 5, NULL, NULL), -EINVAL);
    REQUIRE_CIO(cio_close(u1), 0);
    REQUIRE_CIO(cio_close(u2), 0);
    REQUIRE_CIO(cio_close(p[0]), 0);
    REQUIRE_CIO(cio_close(p[1]), 0);
    return 0;
}

static void test_null_buffer_is_einval(void **state)
{
    (void)state;
    run_ok(main_null_buffers, NULL);
}

/* ---------------------------------------- cancellation and timeouts */

static int main_cancel_read(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    reader r1 = {.fd = p[0]}, r2 = {.fd = p[0]}, r3 = {.fd = p[0]};
    cio_task *t1 = cio_create_task(read_once, &r1);
    cio_task *t2 = cio_create_task(wait_readable_once, &r2);
    REQUIRE(t1 && t2);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(!r1.done && !r2.done);
    REQUIRE_CIO(cio_cancel(t1), 0);
    REQUIRE_CIO(cio_cancel(t2), 0);
    REQUIRE_CIO(cio_await(t1), -ECANCELED);
    REQUIRE_CIO(cio_await(t2), -ECANCELED);
    REQUIRE_CIO(r1.result, -ECANCELED);

    /* The descriptor is as good as before: another task waits on it and
     * gets all the data (the cancelled read took none). */
    cio_task *t3 = cio_create_task(read_once, &r3);
    REQUIRE(t3 != NULL);
    REQUIRE_CIO(cio_sleep(0.01), 0);
    REQUIRE(!r3.done);
    REQUIRE_CIO(cio_write(p[1], "data", 4), 4);
    REQUIRE_CIO(cio_await(t3), 0);
    REQUIRE_CIO(r3.result, 4);
    REQUIRE(memcmp(r3.buf, "data", 4) == 0);
    REQUIRE_CIO(cio_close(p[0]), 0);
    REQUIRE_CIO(cio_close(p[1]), 0);
    return 0;
}

static void test_cancel_mid_read_leaves_fd_usable(void **state)
{
    (void)state;
    run_ok(main_cancel_read, NULL);
}

static int main_timeout_read(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    char buf[8];
    double start = cio_now();
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.05);
    ssize_t n = cio_read(p[0], buf, sizeof buf);
    int te = cio_timeout_exit(&tm);
    double took = cio_now() - start;
    REQUIRE_CIO(n, -ETIMEDOUT);
    REQUIRE_CIO(te, -ETIMEDOUT);
    REQUIRE(took >= 0.045);
    REQUIRE(took < 5);
    /* Outside the scope the same descriptor reads normally. */
    REQUIRE_CIO(cio_write(p[1], "ok", 2), 2);
    REQUIRE_CIO(cio_read(p[0], buf, sizeof buf), 2);
    REQUIRE_CIO(cio_close(p[0]), 0);
    REQUIRE_CIO(cio_close(p[1]), 0);
    return 0;
}

static void test_timeout_around_read(void **state)
{
    (void)state;
    run_ok(main_timeout_read, NULL);
}

/* ------------------------------------------------------------- EINTR */

static volatile sig_atomic_t alarms;

static void on_alarm(int signo)
{
    (void)signo;
    alarms++;
}

typedef struct eintr_ctx {
    int wfd;
    unsigned char *src;
} eintr_ctx;

static int late_big_writer(void *arg)
{
    eintr_ctx *c = arg;
    REQUIRE_CIO(cio_sleep(0.2), 0);
    REQUIRE_CIO(cio_write(c->wfd, c->src, 1 << 20), 1 << 20);
    REQUIRE_CIO(cio_close(c->wfd), 0);
    return 0;
}

static int main_eintr(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    eintr_ctx c = {.wfd = p[1], .src = malloc(1 << 20)};
    unsigned char *dst = malloc((1 << 20) + 1);
    REQUIRE(c.src && dst);
    fill_pattern(c.src, 1 << 20);
    cio_task *w = cio_create_task(late_big_writer, &c);
    REQUIRE(w != NULL);
    /* The loop sleeps in the OS while the writer waits 0.2 s, with SIGALRM
     * arriving every millisecond: every poll is interrupted. */
    size_t got = 0;
    for (;;) {
        ssize_t n = cio_read(p[0], dst + got, (1 << 20) + 1 - got);
        if (!EXPECT(n >= 0))
            break;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    int wr = cio_await(w);
    bool same = got == (1 << 20) && memcmp(c.src, dst, got) == 0;
    free(c.src);
    free(dst);
    REQUIRE_CIO(wr, 0);
    REQUIRE_CIO(got, 1 << 20);
    REQUIRE(same);
    REQUIRE_CIO(cio_close(p[0]), 0);
    return 0;
}

static void test_signal_interrupting_the_loop_does_not_break_io(void **state)
{
    (void)state;
    /* No SA_RESTART: interrupted system calls fail with EINTR. */
    struct sigaction sa = {.sa_handler = on_alarm}, old;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    struct itimerval every_ms = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
    alarms = 0;
    assert_int_equal(setitimer(ITIMER_REAL, &every_ms, NULL), 0);
    reset_failures();
    int before = test_open_fds();
    int r = cio_run(main_eintr, NULL);
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    assert_no_failures();
    assert_cio(r, 0);
    assert_int_equal(test_open_fds(), before);
    /* The signals did arrive (else this tested nothing). */
    assert_true(alarms > 10);
}

/* ------------------------------------------------------------- TCP */

typedef struct echo_server {
    int listen_fd;
    int conn_nonblock, conn_cloexec;
    struct sockaddr_in peer;
    socklen_t peer_len;
    size_t echoed;
} echo_server;

static int echo_serve(void *arg)
{
    echo_server *s = arg;
    s->peer_len = sizeof s->peer;
    int fd = cio_accept(s->listen_fd, (struct sockaddr *)&s->peer, &s->peer_len);
    REQUIRE(fd >= 0);
    s->conn_nonblock = nonblocking(fd);
    s->conn_cloexec = cloexec(fd);
    static char buf[65536];
    for (;;) {
        ssize_t n = cio_read(fd, buf, sizeof buf);
        if (!EXPECT(n >= 0) || n == 0)
            break;
        if (!EXPECT_CIO(cio_write(fd, buf, (size_t)n), n))
            break;
        s->echoed += (size_t)n;
    }
    REQUIRE_CIO(cio_close(fd), 0);
    return 0;
}

#define ECHO_BYTES (1u << 20)

typedef struct echo_client {
    int fd;
    unsigned char *src, *dst;
    size_t got;
} echo_client;

static int echo_send(void *arg)
{
    echo_client *c = arg;
    REQUIRE_CIO(cio_write(c->fd, c->src, ECHO_BYTES), ECHO_BYTES);
    REQUIRE(shutdown(c->fd, SHUT_WR) == 0);
    return 0;
}

static int echo_receive(void *arg)
{
    echo_client *c = arg;
    for (;;) {
        ssize_t n = cio_read(c->fd, c->dst + c->got, ECHO_BYTES + 1 - c->got);
        REQUIRE(n >= 0);
        if (n == 0)
            return 0;
        c->got += (size_t)n;
    }
}

static int main_tcp_echo(void *arg)
{
    (void)arg;
    int port;
    echo_server s = {0};
    REQUIRE((s.listen_fd = tcp_listener(&port)) >= 0);
    cio_task *server = cio_create_task(echo_serve, &s);
    REQUIRE(server != NULL);

    /* A blocking socket: cio_connect makes it non-blocking. */
    echo_client c = {0};
    REQUIRE((c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
    struct sockaddr_in to = loopback(port);
    REQUIRE_CIO(cio_connect(c.fd, (struct sockaddr *)&to, sizeof to), 0);
    REQUIRE(nonblocking(c.fd));
    c.src = malloc(ECHO_BYTES);
    c.dst = malloc(ECHO_BYTES + 1);
    REQUIRE(c.src && c.dst);
    fill_pattern(c.src, ECHO_BYTES);
    /* Sending and receiving at once: 1 MiB does not fit in the socket
     * buffers, so one task alone would deadlock with the echo. */
    cio_task *tasks[3] = {cio_create_task(echo_send, &c), cio_create_task(echo_receive, &c),
                          server};
    REQUIRE(tasks[0] && tasks[1]);
    int r = cio_gather(tasks, 3, NULL);
    bool same = c.got == ECHO_BYTES && memcmp(c.src, c.dst, ECHO_BYTES) == 0;
    free(c.src);
    free(c.dst);
    REQUIRE_CIO(r, 0);
    REQUIRE_CIO(c.got, ECHO_BYTES);
    REQUIRE(same);
    REQUIRE_CIO(s.echoed, ECHO_BYTES);

    /* What cio_accept handed out, and who it said was calling. */
    REQUIRE(s.conn_nonblock);
    REQUIRE(s.conn_cloexec);
    REQUIRE(s.peer_len == sizeof(struct sockaddr_in));
    REQUIRE(s.peer.sin_family == AF_INET);
    REQUIRE(s.peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    struct sockaddr_in mine;
    socklen_t mine_len = sizeof mine;
    REQUIRE(getsockname(c.fd, (struct sockaddr *)&mine, &mine_len) == 0);
    REQUIRE(s.peer.sin_port == mine.sin_port);

    REQUIRE_CIO(cio_close(c.fd), 0);
    REQUIRE_CIO(cio_close(s.listen_fd), 0);
    return 0;
}

static void test_tcp_accept_connect_echo(void **state)
{
    (void)state;
    run_ok(main_tcp_echo, NULL);
}

/* The accepted descriptor is non-blocking and close-on-exec even when the
 * listener is neither, and cio_accept waits for a connection that comes
 * later. */
typedef struct acceptor {
    int listen_fd;
    int fd;
    bool done;
} acceptor;

static int accept_task(void *arg)
{
    acceptor *a = arg;
    a->fd = cio_accept(a->listen_fd, NULL, NULL);
    a->done = true;
    return a->fd < 0 ? a->fd : 0;
}

static int main_accept_flags(void *arg)
{
    (void)arg;
    int port;
    acceptor a = {.fd = -1};
    REQUIRE((a.listen_fd = tcp_listener(&port)) >= 0);
    REQUIRE(fcntl(a.listen_fd, F_SETFD, 0) == 0);
    REQUIRE(!nonblocking(a.listen_fd) && !cloexec(a.listen_fd));
    cio_task *t = cio_create_task(accept_task, &a);
    REQUIRE(t != NULL);
    REQUIRE_CIO(cio_sleep(0.02), 0);
    REQUIRE(!a.done);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    REQUIRE(c >= 0);
    struct sockaddr_in to = loopback(port);
    REQUIRE_CIO(cio_connect(c, (struct sockaddr *)&to, sizeof to), 0);
    REQUIRE_CIO(cio_await(t), 0);
    REQUIRE(a.fd >= 0);
    REQUIRE(nonblocking(a.fd));
    REQUIRE(cloexec(a.fd));
    REQUIRE_CIO(cio_close(a.fd), 0);
    REQUIRE_CIO(cio_close(c), 0);
    REQUIRE_CIO(cio_close(a.listen_fd), 0);
    return 0;
}

static void test_accepted_fd_is_nonblocking_and_cloexec(void **state)
{
    (void)state;
    run_ok(main_accept_flags, NULL);
}

static int main_refused(void *arg)
{
    (void)arg;
    /* A port bound but not listening (kept bound, so nobody else takes it
     * meanwhile): the kernel answers a SYN with a reset. */
    int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(b >= 0);
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    REQUIRE(bind(b, (struct sockaddr *)&a, sizeof a) == 0);
    REQUIRE(getsockname(b, (struct sockaddr *)&a, &len) == 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(c >= 0);
    REQUIRE_CIO(cio_connect(c, (struct sockaddr *)&a, sizeof a), -ECONNREFUSED);
    REQUIRE_CIO(cio_close(c), 0);
    REQUIRE_CIO(cio_close(b), 0);
    return 0;
}

static void test_connect_to_closed_port_is_econnrefused(void **state)
{
    (void)state;
    run_ok(main_refused, NULL);
}

/* ------------------------------------------------------------- UDP */

typedef struct udp_peer {
    int fd;
    char buf[64];
    ssize_t got;
    struct sockaddr_in from;
    socklen_t from_len;
} udp_peer;

/* Receives one datagram and answers it, to whoever sent it. */
static int udp_answer(void *arg)
{
    udp_peer *p = arg;
    p->from_len = sizeof p->from;
    p->got = cio_recvfrom(p->fd, p->buf, sizeof p->buf, (struct sockaddr *)&p->from, &p->from_len);
    REQUIRE(p->got >= 0);
    REQUIRE_CIO(cio_sendto(p->fd, "pong", 4, (struct sockaddr *)&p->from, p->from_len), 4);
    return 0;
}

static int main_udp(void *arg)
{
    (void)arg;
    int port_a, port_b;
    int a = udp_socket(&port_a);
    udp_peer b = {0};
    b.fd = udp_socket(&port_b);
    REQUIRE(a >= 0 && b.fd >= 0);
    cio_task *t = cio_create_task(udp_answer, &b);
    REQUIRE(t != NULL);
    REQUIRE_CIO(cio_sleep(0.01), 0);
    /* The receiver is parked: nothing was sent yet. */
    REQUIRE(b.got == 0);
    struct sockaddr_in to = loopback(port_b);
    REQUIRE_CIO(cio_sendto(a, "ping", 4, (struct sockaddr *)&to, sizeof to), 4);
    char buf[16];
    REQUIRE_CIO(cio_recvfrom(a, buf, sizeof buf, NULL, NULL), 4);
    REQUIRE(memcmp(buf, "pong", 4) == 0);
    REQUIRE_CIO(cio_await(t), 0);
    REQUIRE_CIO(b.got, 4);
    REQUIRE(memcmp(b.buf, "ping", 4) == 0);
    REQUIRE(b.from_len == sizeof(struct sockaddr_in));
    REQUIRE(ntohs(b.from.sin_port) == port_a);
    REQUIRE(b.from.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    REQUIRE_CIO(cio_close(a), 0);
    REQUIRE_CIO(cio_close(b.fd), 0);
    return 0;
}

static void test_udp_sendto_recvfrom(void **state)
{
    (void)state;
    run_ok(main_udp, NULL);
}

static int main_addr_without_len(void *arg)
{
    (void)arg;
    int port;
    int l = tcp_listener(&port);
    int u = udp_socket(&port);
    REQUIRE(l >= 0 && u >= 0);
    struct sockaddr_in a;
    char buf[8];
    REQUIRE_CIO(cio_accept(l, (struct sockaddr *)&a, NULL), -EINVAL);
    REQUIRE_CIO(cio_recvfrom(u, buf, sizeof buf, (struct sockaddr *)&a, NULL), -EINVAL);
    REQUIRE_CIO(cio_close(l), 0);
    REQUIRE_CIO(cio_close(u), 0);
    return 0;
}

static void test_addr_without_len_is_einval(void **state)
{
    (void)state;
    run_ok(main_addr_without_len, NULL);
}

/* ------------------------------------------------------ regular files */

/* A fresh temporary file, already unlinked so that nothing is left behind
 * whatever happens. */
static int temp_file(void)
{
    char path[] = "/tmp/cio-test-fdio-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static int main_pread_pwrite(void *arg)
{
    (void)arg;
    int fd = temp_file();
    REQUIRE(fd >= 0);
    /* A regular file is always ready, as poll(2) says. */
    REQUIRE_CIO(cio_wait_readable(fd), 0);
    REQUIRE_CIO(cio_wait_writable(fd), 0);
    REQUIRE_CIO(cio_pwrite(fd, "world", 5, 100), 5);
    REQUIRE_CIO(cio_pwrite(fd, "hello", 5, 0), 5);
    char buf[128];
    REQUIRE_CIO(cio_pread(fd, buf, 5, 100), 5);
    REQUIRE(memcmp(buf, "world", 5) == 0);
    REQUIRE_CIO(cio_pread(fd, buf, 5, 0), 5);
    REQUIRE(memcmp(buf, "hello", 5) == 0);
    /* The gap reads as zeros; past the end is EOF. */
    REQUIRE_CIO(cio_pread(fd, buf, 95, 5), 95);
    for (int i = 0; i < 95; i++)
        REQUIRE(buf[i] == 0);
    REQUIRE_CIO(cio_pread(fd, buf, sizeof buf, 105), 0);
    REQUIRE_CIO(cio_pread(fd, buf, sizeof buf, 1000), 0);
    /* Positioned I/O leaves the file offset alone... */
    REQUIRE(lseek(fd, 0, SEEK_CUR) == 0);
    /* ...which cio_read and cio_write use and move. */
    REQUIRE_CIO(cio_write(fd, "ABC", 3), 3);
    REQUIRE(lseek(fd, 0, SEEK_CUR) == 3);
    REQUIRE_CIO(cio_pread(fd, buf, 5, 0), 5);
    REQUIRE(memcmp(buf, "ABClo", 5) == 0);
    REQUIRE(lseek(fd, 100, SEEK_SET) == 100);
    REQUIRE_CIO(cio_read(fd, buf, sizeof buf), 5);
    REQUIRE(memcmp(buf, "world", 5) == 0);
    REQUIRE_CIO(cio_read(fd, buf, sizeof buf), 0);
    /* A large positioned write is written whole. */
    size_t big = 8u << 20;
    unsigned char *src = malloc(big), *dst = malloc(big);
    REQUIRE(src && dst);
    fill_pattern(src, big);
    ssize_t w = cio_pwrite(fd, src, big, 4096);
    ssize_t r = cio_pread(fd, dst, big, 4096);
    bool same = memcmp(src, dst, big) == 0;
    free(src);
    free(dst);
    REQUIRE_CIO(w, big);
    REQUIRE_CIO(r, big);
    REQUIRE(same);
    /* Bad offsets and sizes. */
    REQUIRE_CIO(cio_pread(fd, buf, 1, -1), -EINVAL);
    REQUIRE_CIO(cio_pwrite(fd, "x", 1, -1), -EINVAL);
    REQUIRE_CIO(cio_pread(fd, NULL, 1, 0), -EINVAL);
    REQUIRE_CIO(cio_pwrite(fd, NULL, 1, 0), -EINVAL);
    REQUIRE_CIO(cio_close(fd), 0);
    return 0;
}

static void test_regular_file_pread_pwrite(void **state)
{
    (void)state;
    run_ok(main_pread_pwrite, NULL);
}

/* What a partial read left is still readable, on a backend that received
 * it ahead of the reads (io_uring's buffers) as on the others. */
static int main_readable_after_partial_read(void *arg)
{
    (void)arg;
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    REQUIRE_CIO(cio_write(sv[0], "hello", 5), 5);
    char c;
    REQUIRE_CIO(cio_read(sv[1], &c, 1), 1);
    cio_timeout tm;
    cio_timeout_enter(&tm, 5);
    CHECK_CIO(cio_wait_readable(sv[1]), 0);
    cio_timeout_exit(&tm);
    char rest[8];
    CHECK_CIO(cio_read(sv[1], rest, sizeof rest), 4);
    CHECK(memcmp(rest, "ello", 4) == 0);
    REQUIRE_CIO(cio_close(sv[0]), 0);
    CHECK_CIO(cio_wait_readable(sv[1]), 0);
    CHECK_CIO(cio_read(sv[1], rest, sizeof rest), 0);
    REQUIRE_CIO(cio_close(sv[1]), 0);
    return 0;
}

static void test_partial_read_leaves_descriptor_readable(void **state)
{
    (void)state;
    run_ok(main_readable_after_partial_read, NULL);
}

static int main_open_fsync(void *arg)
{
    (void)arg;
    char dir[] = "/tmp/cio-test-open-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/f", dir);
    REQUIRE_CIO(cio_open(path, O_RDONLY, 0), -ENOENT);
    REQUIRE_CIO(cio_open(NULL, O_RDONLY, 0), -EINVAL);
    int fd = cio_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    CHECK(cloexec(fd));
    REQUIRE_CIO(cio_open(path, O_RDWR | O_CREAT | O_EXCL, 0600), -EEXIST);
    REQUIRE_CIO(cio_write(fd, "durable", 7), 7);
    REQUIRE_CIO(cio_fsync(fd), 0);
    char buf[8] = {0};
    REQUIRE_CIO(cio_pread(fd, buf, sizeof buf, 0), 7);
    CHECK(memcmp(buf, "durable", 7) == 0);
    REQUIRE_CIO(cio_close(fd), 0);
    REQUIRE_CIO(cio_fsync(fd), -EBADF);
    REQUIRE_CIO(cio_fsync(-1), -EBADF);
    /* A pipe cannot be synced. */
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    REQUIRE_CIO(cio_fsync(p[0]), -EINVAL);
    REQUIRE_CIO(cio_close(p[0]), 0);
    REQUIRE_CIO(cio_close(p[1]), 0);
    REQUIRE(unlink(path) == 0 && rmdir(dir) == 0);
    return 0;
}

static void test_open_and_fsync(void **state)
{
    (void)state;
    run_ok(main_open_fsync, NULL);
    /* Outside a task they do not run. */
    assert_cio(cio_open("/", O_RDONLY, 0), -EPERM);
    assert_cio(cio_fsync(0), -EPERM);
}

static int main_espipe(void *arg)
{
    (void)arg;
    int p[2], sv[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    char buf[4];
    REQUIRE_CIO(cio_pread(p[0], buf, sizeof buf, 0), -ESPIPE);
    REQUIRE_CIO(cio_pwrite(p[1], "x", 1, 0), -ESPIPE);
    REQUIRE_CIO(cio_pread(sv[0], buf, sizeof buf, 0), -ESPIPE);
    REQUIRE_CIO(cio_pwrite(sv[0], "x", 1, 0), -ESPIPE);
    /* A negative offset is refused on a file (tested above) and on these
     * too, one way or the other. */
    ssize_t r = cio_pread(p[0], buf, sizeof buf, -1);
    REQUIRE(r == -EINVAL || r == -ESPIPE);
    REQUIRE_CIO(cio_close(p[0]), 0);
    REQUIRE_CIO(cio_close(p[1]), 0);
    REQUIRE_CIO(cio_close(sv[0]), 0);
    REQUIRE_CIO(cio_close(sv[1]), 0);
    return 0;
}

static void test_pread_on_pipe_is_espipe(void **state)
{
    (void)state;
    run_ok(main_espipe, NULL);
}

/* Regular-file I/O goes to the thread pool and the loop runs on
 * meanwhile. Shown without timing: every worker is first held busy by a
 * cio_to_thread job; a file read and a file write queued behind them
 * cannot finish until those are let go, however fast the disk, while the
 * loop keeps running this task. */
typedef struct pool_hold {
    atomic_int started;
    atomic_bool release;
} pool_hold;

static int hold_worker(void *arg)
{
    pool_hold *h = arg;
    atomic_fetch_add(&h->started, 1);
    double start = cio_now();
    while (!atomic_load(&h->release)) {
        if (cio_now() - start > 10)
            return -ETIMEDOUT;
        usleep(1000);
    }
    return 0;
}

static int hold_task(void *arg) { return cio_to_thread(hold_worker, arg); }

typedef struct file_op {
    int fd;
    char buf[16];
    ssize_t result;
    bool done;
} file_op;

static int file_read_task(void *arg)
{
    file_op *op = arg;
    op->result = cio_read(op->fd, op->buf, sizeof op->buf);
    op->done = true;
    return 0;
}

static int file_write_task(void *arg)
{
    file_op *op = arg;
    op->result = cio_write(op->fd, "written", 7);
    op->done = true;
    return 0;
}

static int main_file_pool(void *arg)
{
    (void)arg;
    int rf = temp_file(), wf = temp_file();
    REQUIRE(rf >= 0 && wf >= 0);
    REQUIRE(pwrite(rf, "contents", 8, 0) == 8);

    pool_hold h;
    atomic_init(&h.started, 0);
    atomic_init(&h.release, false);
    cio_task *holders[POOL_SIZE];
    for (int i = 0; i < POOL_SIZE; i++) {
        holders[i] = cio_create_task(hold_task, &h);
        REQUIRE(holders[i] != NULL);
    }
    double start = cio_now();
    while (atomic_load(&h.started) < POOL_SIZE && cio_now() - start < 10)
        REQUIRE_CIO(cio_sleep(0.001), 0);
    REQUIRE(atomic_load(&h.started) == POOL_SIZE);

    file_op rd = {.fd = rf}, wr = {.fd = wf};
    cio_task *r = cio_create_task(file_read_task, &rd);
    cio_task *w = cio_create_task(file_write_task, &wr);
    REQUIRE(r && w);
    /* The loop runs (this sleep ends) while both are parked behind the
     * busy pool. */
    REQUIRE_CIO(cio_sleep(0.05), 0);
    bool parked = !rd.done && !wr.done;
    atomic_store(&h.release, true);
    REQUIRE_CIO(cio_gather(holders, POOL_SIZE, NULL), 0);
    REQUIRE_CIO(cio_await(r), 0);
    REQUIRE_CIO(cio_await(w), 0);
    REQUIRE(parked);
    REQUIRE_CIO(rd.result, 8);
    REQUIRE(memcmp(rd.buf, "contents", 8) == 0);
    REQUIRE_CIO(wr.result, 7);
    char buf[8];
    REQUIRE(pread(wf, buf, sizeof buf, 0) == 7 && memcmp(buf, "written", 7) == 0);
    REQUIRE_CIO(cio_close(rf), 0);
    REQUIRE_CIO(cio_close(wf), 0);
    return 0;
}

static void test_regular_file_io_goes_through_pool(void **state)
{
    (void)state;
    /* io_uring reads and writes files through the ring (test_uring.c). */
    if (backend_is_io_uring())
        skip();
    run_ok(main_file_pool, NULL);
}

int main(void)
{
    /* The file-through-the-pool test needs to know the pool's size; the
     * pool is sized on first use, which is later than this. */
    setenv("CIO_THREADPOOL_SIZE", "2", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_waits_for_data_written_later),
        cmocka_unit_test(test_large_write_to_pipe_arrives_intact),
        cmocka_unit_test(test_read_returns_0_at_eof),
        cmocka_unit_test(test_two_readers_share_a_pipe),
        cmocka_unit_test(test_sigpipe_never_kills),
        cmocka_unit_test(test_no_sigpipe_left_pending),
        cmocka_unit_test(test_plain_write_to_broken_pipe_in_task_never_kills),
        cmocka_unit_test(test_wait_readable_and_writable),
        cmocka_unit_test(test_waiting_leaves_a_blocking_descriptor_blocking),
        cmocka_unit_test(test_close_wakes_waiters_with_ebadf),
        cmocka_unit_test(test_closed_or_invalid_fd_is_ebadf),
        cmocka_unit_test(test_null_buffer_is_einval),
        cmocka_unit_test(test_cancel_mid_read_leaves_fd_usable),
        cmocka_unit_test(test_timeout_around_read),
        cmocka_unit_test(test_signal_interrupting_the_loop_does_not_break_io),
        cmocka_unit_test(test_tcp_accept_connect_echo),
        cmocka_unit_test(test_accepted_fd_is_nonblocking_and_cloexec),
        cmocka_unit_test(test_connect_to_closed_port_is_econnrefused),
        cmocka_unit_test(test_udp_sendto_recvfrom),
        cmocka_unit_test(test_addr_without_len_is_einval),
        cmocka_unit_test(test_regular_file_pread_pwrite),
        cmocka_unit_test(test_pread_on_pipe_is_espipe),
        cmocka_unit_test(test_open_and_fsync),
        cmocka_unit_test(test_partial_read_leaves_descriptor_readable),
        cmocka_unit_test(test_regular_file_io_goes_through_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
