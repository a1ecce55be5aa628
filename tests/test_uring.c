/* SPDX-License-Identifier: MIT */
/* test_uring.c — what only the io_uring backend has: the default choice and
 * the refusal, its features and their fallbacks, the cancellation rule
 * (the kernel lets go of a buffer before its task goes on), cio_close with
 * operations in flight, and the bad input of the issue: a burst of
 * 100,000 operations through a tiny ring (a full SQ, an overflowing CQ),
 * an exhausted buffer ring, operations on closed descriptors.
 *
 * Runs on io_uring only (exits 77 on the other backends). CMake runs it a
 * second time with CIO_URING_DISABLE=all, so every fallback passes the
 * same tests.
 */
#include "testutil.h"

#include "nettest.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

/* Internal (src/io/backend.c), reachable since the tests link the static
 * library: "io_uring: <features>; sq N; nobufs N; overflows N". */
const char *cio__backend_describe(cio_loop *loop);

static bool feature_on(const char *name)
{
    char want[64];
    snprintf(want, sizeof want, " %s", name);
    const char *d = cio__backend_describe(cio_running_loop());
    const char *at = strstr(d, want);
    /* " bufring" also ends " no-bufring"; the space before says which. */
    return at && (at == d || at[-1] != '-');
}

static unsigned long counter(const char *name)
{
    const char *at = strstr(cio__backend_describe(cio_running_loop()), name);
    return at ? strtoul(at + strlen(name), NULL, 10) : 0;
}

/* --------------------------------------------------- choice and refusal */

static char io_uring_name[] = "io_uring", epoll_name[] = "epoll";

static int main_backend_name(void *arg)
{
    CHECK(strcmp(cio_backend_name(), arg) == 0);
    return 0;
}

static void test_io_uring_is_the_default(void **state)
{
    (void)state;
    char *saved = strdup(getenv("CIO_BACKEND"));
    unsetenv("CIO_BACKEND");
    run_ok(main_backend_name, io_uring_name);
    setenv("CIO_BACKEND", saved, 1);
    free(saved);
}

/* The child makes io_uring_setup fail with errno `refusal` (a seccomp
 * filter, as container runtimes install), then checks that the default
 * falls back to epoll and that asking for io_uring fails, saying why. */
static void refused_child(void *arg)
{
    int refusal = (int)(intptr_t)arg;
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)refusal & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        say("cannot install the seccomp filter\n");
        _exit(3);
    }
    unsetenv("CIO_BACKEND");
    if (cio_run(main_backend_name, epoll_name) != 0 || failure_count() != 0) {
        say("the default did not fall back to epoll\n");
        _exit(1);
    }
    setenv("CIO_BACKEND", "io_uring", 1);
    int r = cio_run(main_backend_name, io_uring_name);
    if (r != -refusal) {
        say("CIO_BACKEND=io_uring did not fail with the kernel's refusal\n");
        _exit(2);
    }
}

static void check_refusal(int refusal)
{
    child_result r;
    run_child_with(refused_child, (void *)(intptr_t)refusal, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        fail_msg("child status %#x, stderr: %s", r.status, r.err);
    if (!strstr(r.err, "CIO_BACKEND=io_uring cannot start") || !strstr(r.err, "seccomp") || !strstr(r.err, strerror(refusal)))
        fail_msg("no clear message on stderr: %s", r.err);
}

static void test_seccomp_refusal_eperm_falls_back_to_epoll(void **state)
{
    (void)state;
    check_refusal(EPERM);
}

static void test_seccomp_refusal_enosys_falls_back_to_epoll(void **state)
{
    (void)state;
    check_refusal(ENOSYS);
}

/* A kernel without IORING_FEAT_NODROP could drop completions: the backend
 * refuses it, and masking the feature shows that path. */
static void test_without_nodrop_the_backend_refuses(void **state)
{
    (void)state;
    const char *masked = getenv("CIO_URING_DISABLE");
    char *saved_mask = masked ? strdup(masked) : NULL;
    setenv("CIO_URING_DISABLE", "nodrop", 1);
    char *saved = strdup(getenv("CIO_BACKEND"));
    unsetenv("CIO_BACKEND");
    run_ok(main_backend_name, epoll_name);
    setenv("CIO_BACKEND", saved, 1);
    free(saved);
    int err = cio_run(main_backend_name, io_uring_name);
    assert_cio(err, -ENOSYS);
    if (saved_mask)
        setenv("CIO_URING_DISABLE", saved_mask, 1);
    else
        unsetenv("CIO_URING_DISABLE");
    free(saved_mask);
}

/* ------------------------------------------------------------ features */

static int main_features(void *arg)
{
    (void)arg;
    const char *masked = getenv("CIO_URING_DISABLE");
    bool all = masked && strcmp(masked, "all") == 0;
    static const char *const fast[] = {"defer_taskrun", "ring_fd",        "batch",
                                       "multishot_accept", "bufring", "multishot_poll"};
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++) {
        /* Masked ones are off; this kernel (6.1+) has all the others. */
        if (all)
            CHECK(!feature_on(fast[i]));
        else if (!masked)
            CHECK(feature_on(fast[i]));
    }
    CHECK(feature_on("nodrop"));
    return 0;
}

static void test_features_are_reported_and_masked(void **state)
{
    (void)state;
    run_ok(main_features, NULL);
}

static int main_nothing(void *arg)
{
    (void)arg;
    return 0;
}

static void traced_child(void)
{
    setenv("CIO_TRACE", "1", 1);
    if (cio_run(main_nothing, NULL) != 0)
        _exit(1);
}

/* The narrated trace's first line names the backend and the features it
 * uses. */
static void test_trace_names_the_features(void **state)
{
    (void)state;
    child_result r;
    run_child(traced_child, &r);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    if (!strstr(r.err, "loop: started; backend io_uring:") || !strstr(r.err, "nodrop"))
        fail_msg("stderr: %s", r.err);
}

/* ------------------------------------------------------- cancellation */

typedef struct stack_reader {
    int fd;
    ssize_t result;
    char got;
} stack_reader;

/* Reads one byte into a buffer on its own stack. */
static int read_to_stack(void *arg)
{
    stack_reader *r = arg;
    char buf[64];
    memset(buf, 0, sizeof buf);
    r->result = cio_read(r->fd, buf, sizeof buf);
    r->got = buf[0];
    return 0;
}

/* Fills its stack with a pattern, lets the loop run (so a late write into
 * a stack that belonged to a cancelled reader would land now), then checks
 * that the pattern is intact. */
static int guard_stack(void *arg)
{
    (void)arg;
    volatile unsigned char fill[4096];
    for (size_t i = 0; i < sizeof fill; i++)
        fill[i] = 0xA5;
    CHECK_CIO(cio_sleep(0.01), 0);
    for (size_t i = 0; i < sizeof fill; i++) {
        if (fill[i] != 0xA5) {
            CHECK(!"a stack reused after a cancelled read was written to");
            break;
        }
    }
    return 0;
}

static int main_cancel_keeps_buffer(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    for (int round = 0; round < 50; round++) {
        stack_reader r = {.fd = p[0]};
        cio_task *t = cio_create_task(read_to_stack, &r);
        REQUIRE(t != NULL);
        CHECK_CIO(cio_sleep(0.001), 0);
        CHECK_CIO(cio_cancel(t), 0);
        CHECK_CIO(cio_await(t), 0);
        CHECK_CIO(r.result, -ECANCELED);
        /* The reader's stack goes to the next task; data written now must
         * stay in the pipe, not land in that stack. */
        cio_task *g = cio_create_task(guard_stack, NULL);
        REQUIRE(g != NULL);
        CHECK_CIO(cio_write(p[1], "z", 1), 1);
        CHECK_CIO(cio_await(g), 0);
        char c = 0;
        CHECK_CIO(cio_read(p[0], &c, 1), 1);
        CHECK(c == 'z');
    }
    cio_close(p[0]);
    cio_close(p[1]);
    return 0;
}

static void test_cancelled_read_releases_its_stack_buffer_first(void **state)
{
    (void)state;
    run_ok(main_cancel_keeps_buffer, NULL);
}

/* Data arrives and the reader is cancelled in the same loop iteration:
 * either the read completed (its count is returned, the byte is the
 * reader's) or it was cancelled (the byte is still in the pipe). Never
 * both, never neither. */
static int main_cancel_races_completion(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    int completed = 0, cancelled = 0;
    for (int round = 0; round < 200; round++) {
        stack_reader r = {.fd = p[0]};
        cio_task *t = cio_create_task(read_to_stack, &r);
        REQUIRE(t != NULL);
        /* Let the reader submit; sometimes also let the loop enter. */
        for (int i = 0; i <= round % 3; i++)
            CHECK_CIO(cio_yield(), 0);
        REQUIRE(write(p[1], "q", 1) == 1);
        cio_cancel(t);
        CHECK_CIO(cio_await(t), 0);
        char c;
        ssize_t left = read(p[0], &c, 1);
        if (r.result == 1) {
            CHECK(r.got == 'q' && left < 0);
            completed++;
        } else {
            CHECK_CIO(r.result, -ECANCELED);
            CHECK(left == 1 && c == 'q');
            cancelled++;
        }
    }
    CHECK(completed + cancelled == 200);
    cio_close(p[0]);
    cio_close(p[1]);
    return 0;
}

static void test_cancel_racing_completion_loses_nothing(void **state)
{
    (void)state;
    run_ok(main_cancel_races_completion, NULL);
}

static int main_timeout_read(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    char buf[8];
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.02);
    CHECK_CIO(cio_read(p[0], buf, sizeof buf), -ETIMEDOUT);
    cio_timeout_exit(&tm);
    /* Nothing is left reading from the pipe. */
    CHECK_CIO(cio_write(p[1], "ab", 2), 2);
    CHECK_CIO(cio_read(p[0], buf, sizeof buf), 2);
    cio_close(p[0]);
    cio_close(p[1]);
    return 0;
}

static void test_timed_out_read_is_cancelled_in_the_ring(void **state)
{
    (void)state;
    run_ok(main_timeout_read, NULL);
}

/* ------------------------------------------------- closed descriptors */

static int main_close_in_flight(void *arg)
{
    (void)arg;
    int p[2], sv[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    stack_reader pr = {.fd = p[0]}, sr = {.fd = sv[0]};
    cio_task *a = cio_create_task(read_to_stack, &pr);
    cio_task *b = cio_create_task(read_to_stack, &sr);
    REQUIRE(a && b);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK_CIO(cio_close(p[0]), 0);
    CHECK_CIO(cio_close(sv[0]), 0);
    CHECK_CIO(cio_await(a), 0);
    CHECK_CIO(cio_await(b), 0);
    CHECK_CIO(pr.result, -EBADF);
    CHECK_CIO(sr.result, -EBADF);
    char c;
    CHECK_CIO(cio_read(p[0], &c, 1), -EBADF);
    CHECK_CIO(cio_write(p[0], "x", 1), -EBADF);
    CHECK_CIO(cio_fsync(p[0]), -EBADF);
    CHECK_CIO(cio_read(sv[0], &c, 1), -EBADF);
    /* The numbers come back at once; the new descriptors see nothing of
     * the old requests. */
    int q[2];
    REQUIRE(pipe2(q, O_CLOEXEC) == 0);
    CHECK_CIO(cio_write(q[1], "new", 3), 3);
    char buf[8];
    CHECK_CIO(cio_read(q[0], buf, sizeof buf), 3);
    /* The peer of the closed socket sees its end. */
    CHECK_CIO(cio_read(sv[1], buf, sizeof buf), 0);
    cio_close(p[1]);
    cio_close(sv[1]);
    cio_close(q[0]);
    cio_close(q[1]);
    return 0;
}

static void test_close_ends_operations_in_flight_with_ebadf(void **state)
{
    (void)state;
    run_ok(main_close_in_flight, NULL);
}

typedef struct acceptor {
    int fd;
    int result;
} acceptor;

static int accept_one(void *arg)
{
    acceptor *a = arg;
    a->result = cio_accept(a->fd, NULL, NULL);
    return 0;
}

/* Connections a multishot accept took that nobody claimed are closed with
 * the listener (the harness checks that no descriptor is left). */
static int main_close_listener(void *arg)
{
    (void)arg;
    int port;
    int l = tcp_listener(&port);
    REQUIRE(l >= 0);
    struct sockaddr_in to = loopback(port), peer;
    socklen_t len = sizeof peer;
    int c1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(c1 >= 0);
    CHECK_CIO(cio_connect(c1, (struct sockaddr *)&to, sizeof to), 0);
    int s1 = cio_accept(l, (struct sockaddr *)&peer, &len);
    CHECK(s1 >= 0);
    /* The peer's address, as accept4 would give it. */
    struct sockaddr_in mine;
    socklen_t mlen = sizeof mine;
    REQUIRE(getsockname(c1, (struct sockaddr *)&mine, &mlen) == 0);
    CHECK(len == sizeof peer && peer.sin_port == mine.sin_port);
    int more[3];
    for (int i = 0; i < 3; i++) {
        more[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(more[i] >= 0);
        CHECK_CIO(cio_connect(more[i], (struct sockaddr *)&to, sizeof to), 0);
    }
    CHECK_CIO(cio_sleep(0.01), 0);
    acceptor waiting = {.fd = -1};
    /* A second listener with a task parked in accept. */
    int port2;
    waiting.fd = tcp_listener(&port2);
    REQUIRE(waiting.fd >= 0);
    cio_task *t = cio_create_task(accept_one, &waiting);
    REQUIRE(t != NULL);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK_CIO(cio_close(waiting.fd), 0);
    CHECK_CIO(cio_await(t), 0);
    CHECK_CIO(waiting.result, -EBADF);
    CHECK_CIO(cio_close(l), 0);
    CHECK_CIO(cio_accept(l, NULL, NULL), -EBADF);
    for (int i = 0; i < 3; i++)
        cio_close(more[i]);
    cio_close(s1);
    cio_close(c1);
    return 0;
}

static void test_closing_a_listener_releases_what_it_accepted(void **state)
{
    (void)state;
    run_ok(main_close_listener, NULL);
}

#define MANY_CLIENTS 150

typedef struct client {
    struct sockaddr_in to;
    int fd;
} client;

static int connect_one(void *arg)
{
    client *c = arg;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    return cio_connect(c->fd, (struct sockaddr *)&c->to, sizeof c->to);
}

/* More connections than a multishot accept takes ahead of the calls
 * (ACCEPT_AHEAD): the rest wait in the backlog, and every one is accepted
 * in the end. */
static int main_accept_many(void *arg)
{
    (void)arg;
    int port;
    int l = tcp_listener(&port);
    REQUIRE(l >= 0);
    REQUIRE(listen(l, MANY_CLIENTS) == 0);
    static client clients[MANY_CLIENTS];
    cio_task *tasks[MANY_CLIENTS];
    for (int i = 0; i < MANY_CLIENTS; i++) {
        clients[i] = (client){.to = loopback(port), .fd = -1};
        tasks[i] = cio_create_task(connect_one, &clients[i]);
        REQUIRE(tasks[i] != NULL);
    }
    int accepted[MANY_CLIENTS];
    for (int i = 0; i < MANY_CLIENTS; i++) {
        accepted[i] = cio_accept(l, NULL, NULL);
        CHECK(accepted[i] >= 0);
        /* Let the multishot accept run ahead of the calls. */
        if (i == 0)
            CHECK_CIO(cio_sleep(0.05), 0);
    }
    for (int i = 0; i < MANY_CLIENTS; i++) {
        CHECK_CIO(cio_await(tasks[i]), 0);
        cio_close(clients[i].fd);
        cio_close(accepted[i]);
    }
    cio_close(l);
    return 0;
}

static void test_accept_ahead_is_bounded_and_loses_nothing(void **state)
{
    (void)state;
    run_ok(main_accept_many, NULL);
}

/* --------------------------------------------------------------- bursts */

#define BURST 100000
#define FILE_BYTES 4096

typedef struct burst {
    int fd;
    size_t next;
    long sum;
    int errors;
} burst;

static int pread_one(void *arg)
{
    burst *b = arg;
    size_t i = b->next++;
    unsigned char c;
    ssize_t r = cio_pread(b->fd, &c, 1, (off_t)(i % FILE_BYTES));
    if (r != 1 || c != pattern(i % FILE_BYTES))
        b->errors++;
    b->sum += r;
    return 0;
}

static int main_burst(void *arg)
{
    (void)arg;
    char path[] = "/tmp/cio-uring-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    unsigned char data[FILE_BYTES];
    fill_pattern(data, sizeof data);
    REQUIRE(write(fd, data, sizeof data) == (ssize_t)sizeof data);
    burst b = {.fd = fd};
    cio_task **tasks = malloc(BURST * sizeof *tasks);
    REQUIRE(tasks != NULL);
    cio_task_opts opts = {.stack_size = 16384};
    for (int i = 0; i < BURST; i++) {
        tasks[i] = cio_create_task_opts(pread_one, &b, &opts);
        REQUIRE(tasks[i] != NULL);
    }
    for (int i = 0; i < BURST; i++)
        CHECK_CIO(cio_await(tasks[i]), 0);
    free(tasks);
    CHECK(b.errors == 0);
    CHECK(b.sum == BURST);
    /* A ring of 4 entries and a CQ of 8 for 100,000 operations: the CQ
     * overflowed, and nothing was lost. */
    CHECK(counter("overflows ") > 0);
    CHECK(counter("sq ") == 4);
    cio_close(fd);
    return 0;
}

static void test_burst_of_100000_ops_through_a_tiny_ring(void **state)
{
    (void)state;
    setenv("CIO_URING_ENTRIES", "4", 1);
    run_ok(main_burst, NULL);
    unsetenv("CIO_URING_ENTRIES");
}

/* ------------------------------------------------- exhausted buffers */

#define FLOOD (4u << 20)

typedef struct flood {
    int fd;
    int result;
} flood;

static int flood_writer(void *arg)
{
    flood *f = arg;
    unsigned char *src = malloc(FLOOD);
    if (!src) {
        f->result = -ENOMEM;
        return 0;
    }
    fill_pattern(src, FLOOD);
    f->result = (int)cio_write(f->fd, src, FLOOD);
    free(src);
    cio_close(f->fd);
    return 0;
}

static int main_enobufs(void *arg)
{
    (void)arg;
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    flood f = {.fd = sv[0]};
    cio_task *w = cio_create_task(flood_writer, &f);
    REQUIRE(w != NULL);
    unsigned char *got = malloc(FLOOD);
    REQUIRE(got != NULL);
    /* The first read arms the multishot receive, which then takes what
     * comes while nobody reads, until every buffer is full. */
    size_t n = 0;
    ssize_t r = cio_read(sv[1], got, 1);
    CHECK_CIO(r, 1);
    n = 1;
    if (feature_on("bufring")) {
        for (int i = 0; i < 5000 && counter("nobufs ") == 0; i++)
            CHECK_CIO(cio_sleep(0.001), 0);
        CHECK(counter("nobufs ") > 0);
    }
    while ((r = cio_read(sv[1], got + n, (FLOOD - n < 65536 ? FLOOD - n : 65536))) > 0)
        n += (size_t)r;
    CHECK_CIO(r, 0);
    CHECK_CIO(cio_await(w), 0);
    CHECK_CIO(f.result, (int)FLOOD);
    CHECK(n == FLOOD);
    size_t bad = 0;
    for (size_t i = 0; i < n && !bad; i++)
        bad = got[i] != pattern(i) ? i + 1 : 0;
    CHECK(bad == 0);
    free(got);
    cio_close(sv[1]);
    return 0;
}

static void test_exhausted_buffer_ring_loses_nothing(void **state)
{
    (void)state;
    run_ok(main_enobufs, NULL);
}

int main(void)
{
    if (!backend_is_io_uring()) {
        fprintf(stderr, "test_uring runs on io_uring only: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_io_uring_is_the_default),
        cmocka_unit_test(test_seccomp_refusal_eperm_falls_back_to_epoll),
        cmocka_unit_test(test_seccomp_refusal_enosys_falls_back_to_epoll),
        cmocka_unit_test(test_without_nodrop_the_backend_refuses),
        cmocka_unit_test(test_features_are_reported_and_masked),
        cmocka_unit_test(test_trace_names_the_features),
        cmocka_unit_test(test_cancelled_read_releases_its_stack_buffer_first),
        cmocka_unit_test(test_cancel_racing_completion_loses_nothing),
        cmocka_unit_test(test_timed_out_read_is_cancelled_in_the_ring),
        cmocka_unit_test(test_close_ends_operations_in_flight_with_ebadf),
        cmocka_unit_test(test_closing_a_listener_releases_what_it_accepted),
        cmocka_unit_test(test_accept_ahead_is_bounded_and_loses_nothing),
        cmocka_unit_test(test_burst_of_100000_ops_through_a_tiny_ring),
        cmocka_unit_test(test_exhausted_buffer_ring_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
