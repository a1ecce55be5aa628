/* SPDX-License-Identifier: MIT */
/* test_addr.c — cio_getaddrinfo: numeric and file-based names, unknown
 * hosts (a name under the reserved .invalid TLD, with the resolver's
 * timeout bounded through RES_OPTIONS), invalid services and ports, the
 * CIO_EAI_* names, the resolver's own lane (lookups finish while every
 * general worker is busy), cancellation, and cio_local_port.
 */
#include "nettest.h"

#include <pthread.h>
#include <stdatomic.h>

#define POOL_SIZE 2

static int family_of(const char *host, int *family)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int err = cio_getaddrinfo(host, "80", &hints, &res);
    if (err)
        return err;
    *family = res->ai_family;
    int port = ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port);
    freeaddrinfo(res);
    return port == 80 ? 0 : -EPROTO;
}

static int main_numeric(void *arg)
{
    (void)arg;
    int family = 0;
    CHECK_CIO(family_of("127.0.0.1", &family), 0);
    CHECK(family == AF_INET);
    CHECK_CIO(family_of("::1", &family), 0);
    CHECK(family == AF_INET6);
    CHECK_CIO(family_of("localhost", &family), 0);
    CHECK(family == AF_INET || family == AF_INET6);
    return 0;
}

static void test_numeric_and_hosts_file_names_resolve(void **state)
{
    (void)state;
    run_main(main_numeric, NULL, 0);
}

static int main_unknown(void *arg)
{
    (void)arg;
    struct addrinfo *res = (struct addrinfo *)&res;
    /* Decided locally, no DNS: a numeric-only lookup of a name. */
    struct addrinfo numeric = {.ai_flags = AI_NUMERICHOST};
    CHECK_CIO(cio_getaddrinfo("no-such-host.invalid", "80", &numeric, &res), CIO_EAI_NONAME);
    CHECK(res == NULL);
    /* Through the resolver: NONAME where DNS answers, AGAIN or FAIL where
     * it cannot be reached; always a resolver code, never success. */
    int err = cio_getaddrinfo("no-such-host.invalid", "80", NULL, &res);
    CHECK(err == CIO_EAI_NONAME || err == CIO_EAI_AGAIN || err == CIO_EAI_FAIL ||
          err == CIO_EAI_NODATA);
    CHECK(res == NULL);
    return 0;
}

static void test_unknown_host_is_a_resolver_error(void **state)
{
    (void)state;
    run_main(main_unknown, NULL, 0);
}

static int main_bad_service(void *arg)
{
    (void)arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    /* glibc alone would take 99999 as 34463 and "" as 0. */
    CHECK_CIO(cio_getaddrinfo("127.0.0.1", "99999", &hints, &res), CIO_EAI_SERVICE);
    CHECK_CIO(cio_getaddrinfo("127.0.0.1", "65536", &hints, &res), CIO_EAI_SERVICE);
    CHECK_CIO(cio_getaddrinfo("127.0.0.1", "", &hints, &res), CIO_EAI_SERVICE);
    CHECK_CIO(cio_getaddrinfo("127.0.0.1", "no-such-service", &hints, &res), CIO_EAI_SERVICE);
    CHECK_CIO(cio_getaddrinfo("127.0.0.1", "-1", &hints, &res), CIO_EAI_SERVICE);
    CHECK_CIO(cio_getaddrinfo("127.0.0.1", "65535", &hints, &res), 0);
    freeaddrinfo(res);
    CHECK_CIO(cio_getaddrinfo("127.0.0.1", "http", &hints, &res), 0);
    CHECK(ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port) == 80);
    freeaddrinfo(res);
    CHECK_CIO(cio_getaddrinfo(NULL, NULL, &hints, &res), -EINVAL);
    CHECK_CIO(cio_getaddrinfo("127.0.0.1", "80", &hints, NULL), -EINVAL);
    struct addrinfo bad_family = {.ai_family = 12345};
    CHECK_CIO(cio_getaddrinfo("127.0.0.1", "80", &bad_family, &res), CIO_EAI_FAMILY);
    return 0;
}

static void test_invalid_services_and_arguments(void **state)
{
    (void)state;
    run_main(main_bad_service, NULL, 0);
}

static void test_every_resolver_code_has_its_own_name(void **state)
{
    (void)state;
    const char *names[32];
    size_t n = 0;
#define COLLECT(name, offset, text)                                                                \
    assert_int_equal(CIO_EAI_##name, CIO_EOF - (offset));                                          \
    names[n++] = cio_strerror(CIO_EAI_##name);                                                     \
    assert_string_equal(names[n - 1], text);
    CIO_EAI_MAP(COLLECT)
#undef COLLECT
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(names[i], "unknown error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(names[i], names[j]);
    }
    assert_string_equal(cio_strerror(CIO_EAI_NONAME), "name or service not known");
    assert_string_equal(cio_strerror(CIO_EOF - 1000), "unknown error");
}

/* ------------------------------------------------------- the lane */

static atomic_bool release_workers;
static atomic_int workers_busy;

static int hold_worker(void *arg)
{
    (void)arg;
    atomic_fetch_add(&workers_busy, 1);
    while (!atomic_load(&release_workers))
        usleep(1000);
    return 0;
}

static int hold_worker_task(void *arg)
{
    (void)arg;
    return cio_to_thread(hold_worker, NULL);
}

static int main_lane(void *arg)
{
    (void)arg;
    atomic_store(&release_workers, false);
    atomic_store(&workers_busy, 0);
    cio_task *holders[POOL_SIZE];
    for (int i = 0; i < POOL_SIZE; i++)
        holders[i] = cio_create_task(hold_worker_task, NULL);
    while (atomic_load(&workers_busy) < POOL_SIZE)
        CHECK_CIO(cio_sleep(0.001), 0);
    /* Every general worker is held: the lookups run in their own lane. */
    int family;
    for (int i = 0; i < 4; i++)
        CHECK_CIO(family_of("127.0.0.1", &family), 0);
    atomic_store(&release_workers, true);
    CHECK_CIO(cio_gather(holders, POOL_SIZE, NULL), 0);
    return 0;
}

static void test_lookups_do_not_wait_for_busy_general_workers(void **state)
{
    (void)state;
    run_main(main_lane, NULL, 0);
}

static int lookup_task(void *arg)
{
    (void)arg;
    struct addrinfo *res = NULL;
    int err = cio_getaddrinfo("localhost", "80", NULL, &res);
    if (res)
        freeaddrinfo(res);
    return err;
}

static int main_cancel(void *arg)
{
    (void)arg;
    cio_task *t = cio_create_task(lookup_task, NULL);
    CHECK_CIO(cio_yield(), 0);
    cio_cancel(t);
    /* The lookup finished on its worker all the same; nothing leaked. */
    CHECK_CIO(cio_await(t), -ECANCELED);
    cio_timeout tm;
    cio_timeout_enter(&tm, -1);
    CHECK_CIO(lookup_task(NULL), -ETIMEDOUT);
    CHECK_CIO(cio_timeout_exit(&tm), -ETIMEDOUT);
    return 0;
}

static void test_cancelled_lookup_frees_its_result(void **state)
{
    (void)state;
    run_main(main_cancel, NULL, 0);
}

static void test_lookup_outside_a_task_is_eperm(void **state)
{
    (void)state;
    struct addrinfo *res;
    assert_cio(cio_getaddrinfo("127.0.0.1", "80", NULL, &res), -EPERM);
}

static int main_local_port(void *arg)
{
    (void)arg;
    CHECK_CIO(cio_local_port(-1), -EBADF);
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_CIO(cio_local_port(sv[0]), -EAFNOSUPPORT);
    cio_close(sv[0]);
    cio_close(sv[1]);
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK_CIO(cio_local_port(u), 0);
    cio_close(u);
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    CHECK_CIO(cio_local_port(p[0]), -ENOTSOCK);
    cio_close(p[0]);
    cio_close(p[1]);
    return 0;
}

static void test_local_port_of_odd_descriptors(void **state)
{
    (void)state;
    run_main(main_local_port, NULL, 0);
}

int main(void)
{
    setenv("CIO_THREADPOOL_SIZE", "2", 1);
    /* Bound the wait for an unreachable DNS server (glibc reads this). */
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric_and_hosts_file_names_resolve),
        cmocka_unit_test(test_unknown_host_is_a_resolver_error),
        cmocka_unit_test(test_invalid_services_and_arguments),
        cmocka_unit_test(test_every_resolver_code_has_its_own_name),
        cmocka_unit_test(test_lookups_do_not_wait_for_busy_general_workers),
        cmocka_unit_test(test_cancelled_lookup_frees_its_result),
        cmocka_unit_test(test_lookup_outside_a_task_is_eperm),
        cmocka_unit_test(test_local_port_of_odd_descriptors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
