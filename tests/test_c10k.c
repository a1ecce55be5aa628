/* SPDX-License-Identifier: MIT */
/* test_c10k.c — 10,000 connections open at once to a cio server on
 * 127.0.0.1, each doing round trips of random payloads that are checked
 * byte for byte and checksummed on both sides.
 *
 * The clients run in a second process (this program again, spawned with
 * cio_process_spawn), on one loop of their own: 10,000 connections need
 * 20,000 descriptors in all, more than many machines' hard RLIMIT_NOFILE
 * lets one process have, and split this way each side needs 10,000 and a
 * few. Each process raises its soft limit as far as needed; where the hard
 * limit is too low even for that, the test is skipped (exit 77).
 *
 * What must hold: the server sees all 10,000 handlers live at the same
 * time (each waits at a barrier until all are, and the clients hold every
 * connection open until all are connected),
 * every echoed byte equals the byte sent, and the checksum and byte count
 * of all the traffic are the same on the server's side and the clients'.
 * A cio_timeout bounds each side, so a stall fails instead of hanging.
 */
#include "nettest.h"

#include <sys/resource.h>

enum {
    CONNECTIONS = 10000,
    ROUND_TRIPS = 3,
    MAX_PAYLOAD = 2048,
    /* Connects in flight at once: under the listen backlog (SOMAXCONN),
     * so that no SYN is dropped and retried a second later. */
    CONNECTING = 256,
    /* Descriptors each process needs besides the connections: the loop's
     * own, the listener, pipes to the child, the sanitizers' files. */
    SPARE_FDS = 64,
};
static const double DEADLINE = 100.0; /* seconds, for each side */
#define CLIENT_FLAG "--c10k-clients"

/* The checksum of one connection's traffic (64-bit FNV-1a), folded into a
 * total by addition so that the order connections finish in does not
 * matter. */
static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
#define FNV_START 0xcbf29ce484222325ull

/* Raises the soft RLIMIT_NOFILE to `need`; false if the hard limit is
 * lower. */
static bool raise_nofile(rlim_t need)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_max < need)
        return false;
    if (lim.rlim_cur < need) {
        lim.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
            return false;
    }
    return true;
}

/* ------------------------------------------------------------ clients */

typedef struct clients {
    int port;
    cio_sem *connecting;
    cio_barrier *all_connected;
    uint64_t sum, bytes;
    int ok;
} clients;

typedef struct client {
    clients *all;
    uint32_t seed;
} client;

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static int client_task(void *arg)
{
    client *c = arg;
    clients *all = c->all;
    cio_stream *s = NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (EXPECT(fd >= 0)) {
        int r = cio_sem_acquire(all->connecting);
        if (EXPECT_CIO(r, 0)) {
            struct sockaddr_in a = loopback(all->port);
            r = cio_connect(fd, (struct sockaddr *)&a, sizeof a);
            cio_sem_release(all->connecting);
        }
        if (EXPECT_CIO(r, 0))
            s = cio_stream_new(fd);
        else
            cio_close(fd);
    }
    /* Every client arrives, connected or not, so that one failure shows
     * as itself rather than as every other client timing out here. */
    int arrived = cio_barrier_wait(all->all_connected);
    if (!EXPECT(arrived >= 0) || !EXPECT(s != NULL)) {
        if (s)
            cio_stream_close(s);
        return -1;
    }
    unsigned char out[MAX_PAYLOAD], back[MAX_PAYLOAD];
    uint64_t h = FNV_START, bytes = 0;
    bool good = true;
    for (int round = 0; round < ROUND_TRIPS && good; round++) {
        size_t n = 1 + xorshift(&c->seed) % MAX_PAYLOAD;
        for (size_t i = 0; i < n; i++)
            out[i] = (unsigned char)xorshift(&c->seed);
        good = EXPECT_CIO(cio_stream_write(s, out, n), 0) &&
               EXPECT_CIO(cio_stream_readexactly(s, back, n), (ssize_t)n) &&
               EXPECT(memcmp(out, back, n) == 0);
        h = fnv(h, out, n);
        bytes += n;
    }
    /* Half-close: the server sees the end, returns, and closes first (the
     * TIME_WAIT is then the server's, not a client port's). */
    good = good && EXPECT_CIO(cio_stream_write_eof(s), 0) &&
           EXPECT_CIO(cio_stream_read(s, back, sizeof back), 0);
    CHECK_CIO(cio_stream_close(s), 0);
    if (!good)
        return -1;
    all->sum += h;
    all->bytes += bytes;
    all->ok++;
    return 0;
}

static int clients_main(void *arg)
{
    clients *all = arg;
    all->connecting = cio_sem_new(CONNECTING);
    all->all_connected = cio_barrier_new(CONNECTIONS);
    REQUIRE(all->connecting && all->all_connected);
    static client cs[CONNECTIONS];
    cio_taskgroup *g = cio_taskgroup_new();
    REQUIRE(g);
    cio_timeout tm;
    cio_timeout_enter(&tm, DEADLINE);
    cio_task_opts opts = {.name = "c10k client"};
    for (int i = 0; i < CONNECTIONS; i++) {
        cs[i] = (client){all, (uint32_t)i * 2654435761u + 1};
        CHECK_CIO(cio_taskgroup_create_task_opts(g, client_task, &cs[i], &opts), 0);
    }
    int r = cio_taskgroup_wait(g);
    CHECK_CIO(cio_timeout_exit(&tm), 0);
    cio_sem_free(all->connecting);
    cio_barrier_free(all->all_connected);
    return r;
}

/* The child: runs the clients against argv's port and prints what they
 * sent for the server's side to compare. */
static int clients_child(const char *port)
{
    alarm(150);
    if (!raise_nofile(CONNECTIONS + SPARE_FDS)) {
        fprintf(stderr, "c10k clients: cannot raise RLIMIT_NOFILE\n");
        return 3;
    }
    clients all = {.port = atoi(port)};
    int r = cio_run(clients_main, &all);
    if (failure_count())
        fprintf(stderr, "c10k clients: %s (%d failure(s) in all)\n", failure_text(),
                failure_count());
    printf("ok=%d bytes=%llu sum=%llu\n", all.ok, (unsigned long long)all.bytes,
           (unsigned long long)all.sum);
    return r == 0 && failure_count() == 0 ? 0 : 1;
}

/* ------------------------------------------------------------- server */

typedef struct server_state {
    /* Handlers running now, the most at once, and those that finished. */
    int live, peak, finished;
    /* Held by every handler until all are live: no connection is served
     * (so none can end) before the last one is accepted, so the peak is
     * the number of connections however late the accepts run. */
    cio_barrier *all_live;
    uint64_t sum, bytes;
} server_state;

/* Echoes until the client's half-close; its traffic joins the totals. */
static int echo_handler(cio_stream *s, void *arg)
{
    server_state *st = arg;
    if (++st->live > st->peak)
        st->peak = st->live;
    if (!EXPECT(cio_barrier_wait(st->all_live) >= 0)) {
        st->live--;
        return -1;
    }
    unsigned char buf[MAX_PAYLOAD];
    uint64_t h = FNV_START, bytes = 0;
    ssize_t n;
    while ((n = cio_stream_read(s, buf, sizeof buf)) > 0) {
        h = fnv(h, buf, (size_t)n);
        bytes += (size_t)n;
        if (!EXPECT_CIO(cio_stream_write(s, buf, (size_t)n), 0))
            break;
    }
    CHECK_CIO(n, 0);
    st->live--;
    st->finished++;
    st->sum += h;
    st->bytes += bytes;
    return 0;
}

static int server_main(void *arg)
{
    (void)arg;
    server_state st = {.all_live = cio_barrier_new(CONNECTIONS)};
    REQUIRE(st.all_live);
    cio_server *srv = cio_start_server("127.0.0.1", "0", echo_handler, &st);
    REQUIRE(srv);
    port_str port = port_string(cio_server_port(srv));
    const char *argv[] = {"/proc/self/exe", CLIENT_FLAG, port.s, NULL};
    cio_process_opts po = {.pipe_stdout = true};
    cio_timeout tm;
    cio_timeout_enter(&tm, DEADLINE);
    double t0 = cio_now();
    cio_process *p = cio_process_spawn(argv, &po);
    REQUIRE(p);
    char report[256] = "";
    ssize_t len = cio_stream_readline(cio_process_stdout(p), report, sizeof report);
    CHECK_CIO(cio_process_wait(p), 0);
    cio_process_free(p);
    double elapsed = cio_now() - t0;
    CHECK_CIO(cio_timeout_exit(&tm), 0);
    CHECK(len > 0);
    int ok = 0;
    unsigned long long bytes = 0, sum = 0;
    CHECK(sscanf(report, "ok=%d bytes=%llu sum=%llu", &ok, &bytes, &sum) == 3);
    CHECK(ok == CONNECTIONS);
    /* All at once: every connection was open while the last one came. */
    CHECK(st.peak == CONNECTIONS);
    CHECK(st.finished == CONNECTIONS);
    CHECK(st.bytes == bytes);
    CHECK(st.sum == sum);
    fprintf(stderr, "c10k: %d connections, %llu bytes each way, on %s: %.2f s\n", st.finished,
            bytes, cio_backend_name(), elapsed);
    CHECK_CIO(cio_server_close(srv), 0);
    cio_barrier_free(st.all_live);
    return 0;
}

static void ten_thousand_connections_echo_checksummed_payloads(void **state)
{
    (void)state;
    run_ok(server_main, NULL);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], CLIENT_FLAG) == 0)
        return clients_child(argv[2]);
    if (!raise_nofile(CONNECTIONS + SPARE_FDS)) {
        struct rlimit lim;
        getrlimit(RLIMIT_NOFILE, &lim);
        fprintf(stderr,
                "c10k: the hard RLIMIT_NOFILE (%llu) is below the %d descriptors"
                " a side needs: skipped\n",
                (unsigned long long)lim.rlim_max, CONNECTIONS + SPARE_FDS);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ten_thousand_connections_echo_checksummed_payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
