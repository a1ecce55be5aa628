/* SPDX-License-Identifier: MIT */
/* test_tcp.c — TCP, Unix and UDP sockets: connect and listen on 127.0.0.1
 * and ::1, descriptors non-blocking and close-on-exec, refused and reset
 * connections, invalid ports and unknown hosts, SO_REUSEPORT, and Happy
 * Eyeballs (RFC 8305) on address lists made here: a "slow" address is a
 * loopback listener whose backlog is full, so the kernel leaves new
 * connections to it pending.
 */
#include "nettest.h"

#include <netinet/tcp.h>
#include <stdatomic.h>
#include <sys/un.h>

/* tcp.c's race over a resolved list (hidden from the shared library). */
int cio__tcp_connect_addrinfo(struct addrinfo *res);

/* -------------------------------------------------------- echo basics */

typedef struct echo_case {
    const char *listen_host, *connect_host;
} echo_case;

static int main_echo(void *arg)
{
    echo_case *c = arg;
    int l = cio_tcp_listen(c->listen_host, "0", 8);
    REQUIRE(l >= 0);
    CHECK(nonblocking(l) && cloexec(l));
    int port = cio_local_port(l);
    REQUIRE(port > 0);
    const port_str port_s = port_string(port);
    int fd = cio_tcp_connect(c->connect_host, port_s.s);
    REQUIRE(fd >= 0);
    CHECK(nonblocking(fd) && cloexec(fd));
    int on = 0;
    socklen_t len = sizeof on;
    CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on);
    int a = cio_accept(l, NULL, NULL);
    REQUIRE(a >= 0);
    CHECK_CIO(cio_write(fd, "ping", 4), 4);
    char buf[8];
    CHECK_CIO(cio_read(a, buf, sizeof buf), 4);
    CHECK_CIO(cio_write(a, buf, 4), 4);
    CHECK_CIO(cio_read(fd, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    cio_close(a);
    cio_close(fd);
    cio_close(l);
    return 0;
}

static void test_connect_and_listen_on_ipv4_loopback(void **state)
{
    (void)state;
    run_main(main_echo, &(echo_case){"127.0.0.1", "127.0.0.1"}, 0);
}

static void test_connect_and_listen_on_ipv6_loopback(void **state)
{
    (void)state;
    run_main(main_echo, &(echo_case){"::1", "::1"}, 0);
}

static void test_connect_by_name(void **state)
{
    (void)state;
    run_main(main_echo, &(echo_case){"127.0.0.1", "localhost"}, 0);
}

/* -------------------------------------------------------- bad input */

static int main_refused(void *arg)
{
    (void)arg;
    const port_str port = port_string(closed_port());
    CHECK_CIO(cio_tcp_connect("127.0.0.1", port.s), -ECONNREFUSED);
    CHECK_CIO(cio_tcp_connect("::1", port.s), -ECONNREFUSED);
    return 0;
}

static void test_connect_to_closed_port_is_refused(void **state)
{
    (void)state;
    run_main(main_refused, NULL, 0);
}

static int main_reset(void *arg)
{
    (void)arg;
    int l = cio_tcp_listen("127.0.0.1", "0", 8);
    REQUIRE(l >= 0);
    const port_str port = port_string(cio_local_port(l));
    int fd = cio_tcp_connect("127.0.0.1", port.s);
    int a = cio_accept(l, NULL, NULL);
    REQUIRE(fd >= 0 && a >= 0);
    /* A zero linger time makes close send RST instead of FIN. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    REQUIRE(setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
    cio_close(a);
    char buf[8];
    CHECK_CIO(cio_read(fd, buf, sizeof buf), -ECONNRESET);
    cio_close(fd);
    cio_close(l);
    return 0;
}

static void test_reset_connection_is_econnreset(void **state)
{
    (void)state;
    run_main(main_reset, NULL, 0);
}

static int main_bad_ports(void *arg)
{
    (void)arg;
    CHECK_CIO(cio_tcp_connect("127.0.0.1", "99999"), CIO_EAI_SERVICE);
    CHECK_CIO(cio_tcp_connect("127.0.0.1", "not-a-port"), CIO_EAI_SERVICE);
    CHECK_CIO(cio_tcp_connect("127.0.0.1", ""), CIO_EAI_SERVICE);
    CHECK_CIO(cio_tcp_connect("127.0.0.1", NULL), -EINVAL);
    CHECK_CIO(cio_tcp_connect(NULL, "80"), -EINVAL);
    CHECK_CIO(cio_tcp_listen("127.0.0.1", "70000", 1), CIO_EAI_SERVICE);
    CHECK_CIO(cio_tcp_listen("127.0.0.1", NULL, 1), -EINVAL);
    CHECK_CIO(cio_tcp_listen("127.0.0.1", "0", -1), -EINVAL);
    CHECK_CIO(cio_udp_bind("127.0.0.1", "-5"), CIO_EAI_SERVICE);
    CHECK_CIO(cio_udp_connect(NULL, "53"), -EINVAL);
    /* Not a local address: nothing can be bound to it. */
    CHECK_CIO(cio_tcp_listen("192.0.2.1", "0", 1), -EADDRNOTAVAIL);
    return 0;
}

static void test_invalid_ports_and_arguments(void **state)
{
    (void)state;
    run_main(main_bad_ports, NULL, 0);
}

static int main_unknown_host(void *arg)
{
    (void)arg;
    int err = cio_tcp_connect("no-such-host.invalid", "80");
    CHECK(err == CIO_EAI_NONAME || err == CIO_EAI_AGAIN || err == CIO_EAI_FAIL ||
          err == CIO_EAI_NODATA);
    return 0;
}

static void test_unknown_host_is_a_resolver_error(void **state)
{
    (void)state;
    run_main(main_unknown_host, NULL, 0);
}

static int main_reuse_port(void *arg)
{
    (void)arg;
    int a = cio_tcp_listen_opts("127.0.0.1", "0", &(cio_listen_opts){.reuse_port = true});
    REQUIRE(a >= 0);
    const port_str port = port_string(cio_local_port(a));
    int b = cio_tcp_listen_opts("127.0.0.1", port.s, &(cio_listen_opts){.reuse_port = true});
    CHECK(b >= 0);
    CHECK_CIO(cio_tcp_listen("127.0.0.1", port.s, 1), -EADDRINUSE);
    cio_close(a);
    if (b >= 0)
        cio_close(b);
    return 0;
}

static void test_reuse_port_lets_two_listeners_share_a_port(void **state)
{
    (void)state;
    run_main(main_reuse_port, NULL, 0);
}

/* ---------------------------------------------------- Happy Eyeballs */

/* An address list of up to 4 entries, built by hand. */
typedef struct addr_list {
    struct addrinfo ai[4];
    struct sockaddr_storage sa[4];
    size_t n;
} addr_list;

static void list_add(addr_list *l, int family, int port)
{
    size_t i = l->n++;
    struct sockaddr_storage *ss = &l->sa[i];
    memset(ss, 0, sizeof *ss);
    socklen_t len;
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        s6->sin6_addr = in6addr_loopback;
        len = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *s4;
    }
    l->ai[i] = (struct addrinfo){.ai_family = family,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_protocol = IPPROTO_TCP,
                                 .ai_addrlen = len,
                                 .ai_addr = (struct sockaddr *)ss};
    if (i > 0)
        l->ai[i - 1].ai_next = &l->ai[i];
}

/* A listener on ::1 whose backlog is full: connections to it hang. Its
 * port goes to *port; *fillers holds the sockets that fill it. */
static int slow_listener(int *port, int fillers[3])
{
    int l = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 0) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) != 0)
        return -errno;
    *port = ntohs(a.sin6_port);
    for (int i = 0; i < 3; i++) {
        fillers[i] = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        (void)connect(fillers[i], (struct sockaddr *)&a, sizeof a);
    }
    return l;
}

static void close_slow(int l, int fillers[3])
{
    for (int i = 0; i < 3; i++)
        cio_close(fillers[i]);
    cio_close(l);
}

typedef struct he_case {
    /* "s": the slow ::1 address, "r": a refused one, "g": the good 127.0.0.1 one. */
    const char *shape;
    /* The expected result: 1 = connected to the good one; else an error. */
    int want;
    /* Elapsed time bounds (s). */
    double min, max;
    /* A timeout scope around the call (0: none). */
    double timeout;
} he_case;

static int main_happy_eyeballs(void *arg)
{
    he_case *c = arg;
    int fillers[3];
    int slow_port = 0;
    int slow = slow_listener(&slow_port, fillers);
    REQUIRE(slow >= 0);
    int good = cio_tcp_listen("127.0.0.1", "0", 8);
    REQUIRE(good >= 0);
    int good_port = cio_local_port(good);
    int refused_port = closed_port();
    addr_list l = {.n = 0};
    for (const char *p = c->shape; *p; p++) {
        if (*p == 's')
            list_add(&l, AF_INET6, slow_port);
        else if (*p == 'r')
            list_add(&l, AF_INET, refused_port);
        else
            list_add(&l, AF_INET, good_port);
    }
    cio_timeout tm;
    if (c->timeout)
        cio_timeout_enter(&tm, c->timeout);
    double t0 = cio_now();
    int fd = cio__tcp_connect_addrinfo(l.ai);
    double elapsed = cio_now() - t0;
    if (c->timeout)
        cio_timeout_exit(&tm);
    if (c->want == 1) {
        CHECK(fd >= 0);
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        CHECK(getpeername(fd, (struct sockaddr *)&peer, &len) == 0 && peer.sin_family == AF_INET &&
              ntohs(peer.sin_port) == good_port);
        if (fd >= 0)
            cio_close(fd);
    } else {
        CHECK_CIO(fd, c->want);
    }
    if (elapsed < c->min || elapsed > c->max)
        note_failure(__FILE__, __LINE__, "took %.3f s, expected %.3f to %.3f", elapsed, c->min,
                     c->max);
    cio_close(good);
    close_slow(slow, fillers);
    return 0;
}

static void test_second_address_starts_250ms_after_a_slow_first(void **state)
{
    (void)state;
    run_main(main_happy_eyeballs, &(he_case){"sg", 1, 0.24, 0.9, 0}, 0);
}

static void test_failed_attempt_starts_the_next_at_once(void **state)
{
    (void)state;
    run_main(main_happy_eyeballs, &(he_case){"rg", 1, 0, 0.2, 0}, 0);
}

static void test_families_are_interleaved(void **state)
{
    (void)state;
    /* s s g is tried as s g s: the IPv4 address second, after 250 ms. */
    run_main(main_happy_eyeballs, &(he_case){"ssg", 1, 0.24, 0.45, 0}, 0);
}

static void test_every_address_failing_gives_the_last_error(void **state)
{
    (void)state;
    run_main(main_happy_eyeballs, &(he_case){"rr", -ECONNREFUSED, 0, 0.2, 0}, 0);
}

static void test_timeout_stops_every_attempt(void **state)
{
    (void)state;
    /* Both attempts hang; both are stopped and closed (test_run checks
     * that no descriptor is left). */
    run_main(main_happy_eyeballs, &(he_case){"ss", -ETIMEDOUT, 0.39, 0.9, 0.4}, 0);
}

/* --------------------------------------------------------------- Unix */

static int main_unix(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "/tmp/cio-test-%d.sock", (int)getpid());
    unlink(path);
    int l = cio_unix_listen(path, 4);
    REQUIRE(l >= 0);
    CHECK(nonblocking(l) && cloexec(l));
    CHECK_CIO(cio_unix_listen(path, 4), -EADDRINUSE);
    int fd = cio_unix_connect(path);
    REQUIRE(fd >= 0);
    CHECK(nonblocking(fd) && cloexec(fd));
    int a = cio_accept(l, NULL, NULL);
    REQUIRE(a >= 0);
    CHECK_CIO(cio_write(fd, "unix", 4), 4);
    char buf[8];
    CHECK_CIO(cio_read(a, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "unix", 4) == 0);
    cio_close(a);
    cio_close(fd);
    cio_close(l);
    unlink(path);
    CHECK_CIO(cio_unix_connect(path), -ENOENT);
    char longpath[200];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    CHECK_CIO(cio_unix_connect(longpath), -ENAMETOOLONG);
    CHECK_CIO(cio_unix_listen(longpath, 1), -ENAMETOOLONG);
    CHECK_CIO(cio_unix_connect(""), -EINVAL);
    CHECK_CIO(cio_unix_listen(NULL, 1), -EINVAL);
    CHECK_CIO(cio_unix_listen(path, -1), -EINVAL);
    return 0;
}

static void test_unix_sockets(void **state)
{
    (void)state;
    run_main(main_unix, NULL, 0);
}

/* ---------------------------------------------------------------- UDP */

static int main_udp(void *arg)
{
    (void)arg;
    int server = cio_udp_bind("127.0.0.1", "0");
    REQUIRE(server >= 0);
    CHECK(nonblocking(server) && cloexec(server));
    const port_str port = port_string(cio_local_port(server));
    int client = cio_udp_connect("127.0.0.1", port.s);
    REQUIRE(client >= 0);
    CHECK(cio_local_port(client) > 0);
    CHECK_CIO(cio_write(client, "datagram", 8), 8);
    char buf[32];
    struct sockaddr_storage from;
    socklen_t len = sizeof from;
    CHECK_CIO(cio_recvfrom(server, buf, sizeof buf, (struct sockaddr *)&from, &len), 8);
    CHECK_CIO(cio_sendto(server, "reply", 5, (struct sockaddr *)&from, len), 5);
    CHECK_CIO(cio_read(client, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "reply", 5) == 0);
    cio_close(client);
    cio_close(server);
    return 0;
}

static void test_udp_bind_and_connect(void **state)
{
    (void)state;
    run_main(main_udp, NULL, 0);
}

int main(void)
{
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_and_listen_on_ipv4_loopback),
        cmocka_unit_test(test_connect_and_listen_on_ipv6_loopback),
        cmocka_unit_test(test_connect_by_name),
        cmocka_unit_test(test_connect_to_closed_port_is_refused),
        cmocka_unit_test(test_reset_connection_is_econnreset),
        cmocka_unit_test(test_invalid_ports_and_arguments),
        cmocka_unit_test(test_unknown_host_is_a_resolver_error),
        cmocka_unit_test(test_reuse_port_lets_two_listeners_share_a_port),
        cmocka_unit_test(test_second_address_starts_250ms_after_a_slow_first),
        cmocka_unit_test(test_failed_attempt_starts_the_next_at_once),
        cmocka_unit_test(test_families_are_interleaved),
        cmocka_unit_test(test_every_address_failing_gives_the_last_error),
        cmocka_unit_test(test_timeout_stops_every_attempt),
        cmocka_unit_test(test_unix_sockets),
        cmocka_unit_test(test_udp_bind_and_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
