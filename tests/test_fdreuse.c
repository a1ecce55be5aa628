/* SPDX-License-Identifier: MIT */
/* test_fdreuse.c — descriptor numbers closed and used again while tasks
 * wait on them.
 *
 * cio_close under a task parked in cio_read, cio_write or cio_accept, the
 * number then reused by a new socket at once (in the same iteration of the
 * loop, before the backend has seen anything) or after one pass of the
 * loop: the parked task gets -EBADF, and the new connection is untouched
 * (no byte of it read by the old request, none of the old one's written to
 * it, no client of the new listener taken).
 *
 * A descriptor that code outside cio closes itself with close(2) (libpq,
 * c-ares), its number then reused: cio notices the new file behind a
 * number it only waits on, wakes the old waiters with -EBADF rather than
 * with the new file's readiness, and waits on the new one without hanging;
 * cio_fd_forget tells it outright.
 *
 * Every wait is bounded, so a failure fails instead of hanging.
 */
#include "testutil.h"

#include "nettest.h"

#include <fcntl.h>
#include <sys/socket.h>

/* Bound on every wait of these tests (a failure, not a timing claim). */
#define BOUND 5.0

enum reuse_kind { REUSE_READ, REUSE_WRITE, REUSE_ACCEPT };

typedef struct reuse {
    enum reuse_kind kind;
    /* Reuse the number after one pass of the loop rather than at once. */
    bool next_iteration;
    /* The descriptor the parked task uses, and the other end (or -1). */
    int victim, victim_peer;
    /* What the parked task's call returned. */
    ssize_t parked_result;
    bool parked_done;
} reuse;

#define WRITE_SIZE (1 << 20)
static char write_data[WRITE_SIZE];

static int parked_task(void *arg)
{
    reuse *r = arg;
    char buf[64];
    switch (r->kind) {
    case REUSE_READ:
        r->parked_result = cio_read(r->victim, buf, sizeof buf);
        break;
    case REUSE_WRITE:
        r->parked_result = cio_write(r->victim, write_data, sizeof write_data);
        break;
    case REUSE_ACCEPT:
        r->parked_result = cio_accept(r->victim, NULL, NULL);
        if (r->parked_result >= 0)
            cio_close((int)r->parked_result);
        break;
    }
    r->parked_done = true;
    return 0;
}

/* Reads what fd brings until the end of the stream (at most cap bytes). */
static ssize_t read_to_eof(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = cio_read(fd, buf + got, cap - got);
        if (n <= 0)
            return n < 0 ? n : (ssize_t)got;
        got += (size_t)n;
        if (got == cap)
            return (ssize_t)got;
    }
}

/* The new connection on the reused number: its own bytes, and only those,
 * go through it. */
static int use_new_connection(reuse *r)
{
    if (r->kind == REUSE_ACCEPT) {
        int port;
        int l = tcp_listener(&port);
        REQUIRE(l >= 0);
        int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = loopback(port);
        /* The listener's backlog takes it at once. */
        REQUIRE(connect(client, (struct sockaddr *)&a, sizeof a) == 0);
        int conn = cio_accept(l, NULL, NULL);
        CHECK(conn >= 0);
        if (conn >= 0) {
            CHECK_CIO(cio_write(conn, "fresh", 5), 5);
            CHECK_CIO(cio_close(conn), 0);
        }
        char buf[16];
        CHECK_CIO(read_to_eof(client, buf, sizeof buf), conn >= 0 ? 5 : 0);
        CHECK_CIO(cio_close(client), 0);
        CHECK_CIO(cio_close(l), 0);
        return 0;
    }
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    char buf[64];
    if (r->kind == REUSE_READ) {
        CHECK(write(sv[1], "fresh", 5) == 5);
        ssize_t n = cio_read(sv[0], buf, sizeof buf);
        CHECK_CIO(n, 5);
        CHECK(n != 5 || memcmp(buf, "fresh", 5) == 0);
    } else {
        CHECK_CIO(cio_write(sv[0], "fresh", 5), 5);
        CHECK_CIO(cio_close(sv[0]), 0);
        sv[0] = -1;
        /* Exactly what was written to this connection, then its end. */
        ssize_t n = read_to_eof(sv[1], buf, sizeof buf);
        CHECK_CIO(n, 5);
        CHECK(n != 5 || memcmp(buf, "fresh", 5) == 0);
    }
    if (sv[0] >= 0)
        CHECK_CIO(cio_close(sv[0]), 0);
    CHECK_CIO(cio_close(sv[1]), 0);
    return 0;
}

/* Runs in the same iteration as the parked task's call (both were ready
 * together): closes its descriptor under it, then reuses the number. */
static int closer_task(void *arg)
{
    reuse *r = arg;
    CHECK(!r->parked_done);
    CHECK_CIO(cio_close(r->victim), 0);
    if (r->next_iteration)
        CHECK_CIO(cio_yield(), 0);
    cio_timeout tm;
    cio_timeout_enter(&tm, BOUND);
    int err = use_new_connection(r);
    CHECK_CIO(cio_timeout_exit(&tm), 0);
    return err;
}

static int reuse_main(void *arg)
{
    reuse *r = arg;
    r->victim_peer = -1;
    if (r->kind == REUSE_ACCEPT) {
        int port;
        r->victim = tcp_listener(&port);
        REQUIRE(r->victim >= 0);
    } else {
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        r->victim = sv[0];
        r->victim_peer = sv[1];
        if (r->kind == REUSE_WRITE) {
            /* Full, so that the write parks. */
            REQUIRE(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
            while (write(sv[0], write_data, sizeof write_data) > 0) {
            }
        }
    }
    cio_task *parked = cio_create_task(parked_task, r);
    cio_task *closer = cio_create_task(closer_task, r);
    REQUIRE(parked && closer);
    CHECK_CIO(cio_wait_for(closer, BOUND * 2), 0);
    CHECK_CIO(cio_wait_for(parked, BOUND), 0);
    CHECK_CIO(r->parked_result, -EBADF);
    if (r->victim_peer >= 0)
        CHECK_CIO(cio_close(r->victim_peer), 0);
    return 0;
}

static void run_reuse(enum reuse_kind kind, bool next_iteration)
{
    reuse r = {.kind = kind, .next_iteration = next_iteration};
    run_ok(reuse_main, &r);
}

static void test_read_closed_and_number_reused_at_once(void **state)
{
    (void)state;
    run_reuse(REUSE_READ, false);
}

static void test_read_closed_and_number_reused_next_iteration(void **state)
{
    (void)state;
    run_reuse(REUSE_READ, true);
}

static void test_write_closed_and_number_reused_at_once(void **state)
{
    (void)state;
    run_reuse(REUSE_WRITE, false);
}

static void test_write_closed_and_number_reused_next_iteration(void **state)
{
    (void)state;
    run_reuse(REUSE_WRITE, true);
}

static void test_accept_closed_and_number_reused_at_once(void **state)
{
    (void)state;
    run_reuse(REUSE_ACCEPT, false);
}

static void test_accept_closed_and_number_reused_next_iteration(void **state)
{
    (void)state;
    run_reuse(REUSE_ACCEPT, true);
}

/* ------------------------------------------- closed behind cio's back */

typedef struct waiting {
    int fd;
    bool writable;
    int result;
    bool done;
} waiting;

static int wait_task(void *arg)
{
    waiting *w = arg;
    cio_timeout tm;
    cio_timeout_enter(&tm, BOUND);
    w->result = w->writable ? cio_wait_writable(w->fd) : cio_wait_readable(w->fd);
    cio_timeout_exit(&tm);
    w->done = true;
    return 0;
}

/* A socket pair that cio has waited on both ways (so that the backend
 * watches it), then closed with close(2), as a library would. Returns the
 * number the first end had. */
static int watched_then_closed_outside(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    CHECK(write(sv[1], "a", 1) == 1);
    CHECK_CIO(cio_wait_readable(sv[0]), 0);
    CHECK_CIO(cio_wait_writable(sv[0]), 0);
    char c;
    CHECK(read(sv[0], &c, 1) == 1);
    close(sv[0]);
    close(sv[1]);
    return sv[0];
}

/* Waits on fd, which has data coming, in a task, bounded. */
static int wait_on_new(int fd, int peer, bool writable)
{
    waiting w = {.fd = fd, .writable = writable};
    cio_task *t = cio_create_task(wait_task, &w);
    REQUIRE(t != NULL);
    CHECK_CIO(cio_sleep(0.01), 0);
    CHECK(write(peer, "b", 1) == 1);
    CHECK_CIO(cio_await(t), 0);
    return w.result;
}

/* A number cio waited on, closed outside it and reused by a new socket,
 * waited on again both ways; `tell`: cio_fd_forget says so first. */
static int wait_on_reused(bool tell)
{
    for (int writable = 0; writable < 2; writable++) {
        int old = watched_then_closed_outside();
        REQUIRE(old >= 0);
        if (tell)
            CHECK_CIO(cio_fd_forget(old), 0);
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        /* Lowest number first: the new socket has the old one's. */
        REQUIRE(sv[0] == old);
        CHECK_CIO(wait_on_new(sv[0], sv[1], writable), 0);
        CHECK_CIO(cio_close(sv[0]), 0);
        CHECK_CIO(cio_close(sv[1]), 0);
    }
    return 0;
}

static int main_reused_unknown_to_cio(void *arg)
{
    (void)arg;
    return wait_on_reused(false);
}

static void test_number_closed_outside_cio_and_reused_is_waited_on_afresh(void **state)
{
    (void)state;
    run_ok(main_reused_unknown_to_cio, NULL);
}

/* A task parked on a[0] (a new socket pair), which is then closed with
 * close(2) under it. */
static cio_task *park_then_close_outside(int a[2], waiting *old)
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) != 0)
        return NULL;
    *old = (waiting){.fd = a[0]};
    cio_task *t = cio_create_task(wait_task, old);
    CHECK_CIO(cio_sleep(0.01), 0);
    close(a[0]);
    return t;
}

/* A task parked on the old file when the number changes hands: it is not
 * woken by the new file's readiness, but told -EBADF. */
static int main_old_waiter_on_reused(void *arg)
{
    (void)arg;
    int a[2], b[2];
    waiting old;
    cio_task *t = park_then_close_outside(a, &old);
    REQUIRE(t != NULL);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) == 0);
    REQUIRE(b[0] == old.fd);
    /* The new owner waits on its descriptor, which has data. */
    CHECK(write(b[1], "n", 1) == 1);
    cio_timeout tm;
    cio_timeout_enter(&tm, BOUND);
    CHECK_CIO(cio_wait_readable(b[0]), 0);
    CHECK_CIO(cio_timeout_exit(&tm), 0);
    CHECK_CIO(cio_await(t), 0);
    CHECK_CIO(old.result, -EBADF);
    char c;
    CHECK(read(b[0], &c, 1) == 1 && c == 'n');
    close(a[1]);
    CHECK_CIO(cio_close(b[0]), 0);
    CHECK_CIO(cio_close(b[1]), 0);
    return 0;
}

static void test_waiter_on_a_number_closed_outside_cio_is_not_woken_by_its_reuse(void **state)
{
    (void)state;
    run_ok(main_old_waiter_on_reused, NULL);
}

/* cio_fd_forget: told that a descriptor was closed outside it, cio wakes
 * its waiters with -EBADF and treats the number as new. */
static int main_fd_forget(void *arg)
{
    (void)arg;
    CHECK_CIO(cio_fd_forget(-1), -EBADF);
    int a[2];
    waiting old;
    cio_task *t = park_then_close_outside(a, &old);
    REQUIRE(t != NULL);
    CHECK_CIO(cio_fd_forget(a[0]), 0);
    CHECK_CIO(cio_await(t), 0);
    CHECK_CIO(old.result, -EBADF);
    close(a[1]);
    /* Forgetting it again is harmless. */
    CHECK_CIO(cio_fd_forget(a[0]), 0);
    return wait_on_reused(true);
}

static void test_fd_forget_after_a_close_outside_cio(void **state)
{
    (void)state;
    reset_failures();
    CHECK_CIO(cio_fd_forget(0), -EPERM);
    assert_no_failures();
    run_ok(main_fd_forget, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_closed_and_number_reused_at_once),
        cmocka_unit_test(test_read_closed_and_number_reused_next_iteration),
        cmocka_unit_test(test_write_closed_and_number_reused_at_once),
        cmocka_unit_test(test_write_closed_and_number_reused_next_iteration),
        cmocka_unit_test(test_accept_closed_and_number_reused_at_once),
        cmocka_unit_test(test_accept_closed_and_number_reused_next_iteration),
        cmocka_unit_test(test_number_closed_outside_cio_and_reused_is_waited_on_afresh),
        cmocka_unit_test(test_waiter_on_a_number_closed_outside_cio_is_not_woken_by_its_reuse),
        cmocka_unit_test(test_fd_forget_after_a_close_outside_cio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
