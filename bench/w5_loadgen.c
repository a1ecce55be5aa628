/* SPDX-License-Identifier: MIT */
/* w5_loadgen.c — W5's load generator (WORKLOADS.md), the one program
 * every echo server is measured with: C connections to 127.0.0.1:PORT
 * (TCP_NODELAY), one 64-byte message in flight on each, a closed loop
 * (write, read the 64 bytes back and check them, record the round trip,
 * write the next), 1 s of warm-up and 5 s measured. One thread, epoll,
 * level-triggered, non-blocking; bounded by the clock, and by alarm() as
 * a hard stop.
 *
 *   w5_loadgen --port P --conns C --server-pid PID [--warmup S --seconds S]
 *
 * PRIME=0 in the environment skips the priming connection. Prints one
 * RESULT line: round trips/s, p50/p99 (µs), its own CPU % and the
 * server's (from /proc/PID/stat: all threads, clock ticks), and the
 * server's CPU µs per round trip.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#define MSG 64

typedef struct conn {
    int fd;
    /* Which message this is (it sets the bytes, so a stale echo shows). */
    uint32_t seq;
    /* Bytes of the echo received so far. */
    size_t got;
    /* When the message's write started. */
    int64_t sent_ns;
    unsigned char msg[MSG];
} conn;

static void fill_msg(conn *c, int index)
{
    for (int i = 0; i < MSG; i++)
        c->msg[i] = (unsigned char)(index * 31 + c->seq * 7 + (uint32_t)i);
}

static int connect_one(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        bench_die("socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        bench_die("connect to 127.0.0.1:%d: %s", port, strerror(errno));
    int on = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
        bench_die("TCP_NODELAY: %s", strerror(errno));
    return fd;
}

static void write_all(int fd, const void *buf, size_t n)
{
    /* 64 bytes into a socket whose send buffer is empty (one message in
     * flight): the kernel takes them whole. */
    ssize_t w = write(fd, buf, n);
    if (w != (ssize_t)n)
        bench_die("write: %zd of %zu bytes (%s)", w, n, w < 0 ? strerror(errno) : "short");
}

/* One complete round trip on a throwaway connection (WORKLOADS.md's
 * priming), with blocking I/O. */
static void prime(int port)
{
    int fd = connect_one(port);
    unsigned char msg[MSG], back[MSG];
    memset(msg, 'p', sizeof msg);
    write_all(fd, msg, sizeof msg);
    size_t got = 0;
    while (got < MSG) {
        ssize_t r = read(fd, back + got, MSG - got);
        if (r <= 0)
            bench_die("priming read: %s", r < 0 ? strerror(errno) : "closed");
        got += (size_t)r;
    }
    if (memcmp(msg, back, MSG) != 0)
        bench_die("priming echo differs");
    close(fd);
}

/* utime + stime of every thread of pid, in clock ticks. */
static long long proc_ticks(long pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        bench_die("cannot open %s", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        bench_die("cannot parse %s", path);
    return (long long)(ut + st);
}

static int64_t self_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int port = (int)bench_opt_long(argc, argv, "port", 0);
    long nconns = bench_opt_long(argc, argv, "conns", 1);
    long server_pid = bench_opt_long(argc, argv, "server-pid", 0);
    long warmup_s = bench_opt_long(argc, argv, "warmup", 1);
    long seconds = bench_opt_long(argc, argv, "seconds", 5);
    if (!port || !server_pid)
        bench_die("usage: w5_loadgen --port P --conns C --server-pid PID");
    /* The hard stop, should the clock-bounded loop never end. */
    alarm((unsigned)(warmup_s + seconds + 10));
    long ticks_per_s = sysconf(_SC_CLK_TCK);
    const char *prime_env = getenv("PRIME");
    bool priming = !(prime_env && strcmp(prime_env, "0") == 0);
    if (priming)
        prime(port);

    conn *conns = calloc((size_t)nconns, sizeof *conns);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (long i = 0; i < nconns; i++) {
        conns[i].fd = connect_one(port);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0)
            bench_die("epoll_ctl: %s", strerror(errno));
        int flags = fcntl(conns[i].fd, F_GETFL);
        if (flags < 0 || fcntl(conns[i].fd, F_SETFL, flags | O_NONBLOCK) != 0)
            bench_die("O_NONBLOCK: %s", strerror(errno));
    }

    /* Round-trip times of the measured window, in ns. */
    size_t cap = 1 << 20, count = 0;
    uint32_t *rtts = malloc(cap * sizeof *rtts);
    long errors = 0;
    int64_t t0 = bench_now_ns();
    int64_t window_start = t0 + warmup_s * 1000000000LL;
    int64_t window_end = window_start + seconds * 1000000000LL;
    bool measuring = false;
    long long srv0 = 0, srv1 = 0;
    int64_t self0 = 0, self1 = 0;

    for (long i = 0; i < nconns; i++) {
        fill_msg(&conns[i], (int)i);
        conns[i].sent_ns = bench_now_ns();
        write_all(conns[i].fd, conns[i].msg, MSG);
    }
    struct epoll_event events[1024];
    for (;;) {
        int64_t now = bench_now_ns();
        if (!measuring && now >= window_start) {
            measuring = true;
            srv0 = proc_ticks(server_pid);
            self0 = self_cpu_ns();
        }
        if (now >= window_end)
            break;
        int64_t next = measuring ? window_end : window_start;
        int timeout_ms = (int)((next - now + 999999) / 1000000);
        int n = epoll_wait(ep, events, 1024, timeout_ms);
        if (n < 0 && errno != EINTR)
            bench_die("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < n; e++) {
            conn *c = &conns[events[e].data.u64];
            unsigned char buf[MSG];
            ssize_t r = read(c->fd, buf, MSG - c->got);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0)
                bench_die("read: %s", r < 0 ? strerror(errno) : "the server closed");
            if (memcmp(buf, c->msg + c->got, (size_t)r) != 0)
                errors++;
            c->got += (size_t)r;
            if (c->got < MSG)
                continue;
            int64_t done = bench_now_ns();
            if (done >= window_start && done < window_end) {
                if (count == cap) {
                    cap *= 2;
                    rtts = realloc(rtts, cap * sizeof *rtts);
                    if (!rtts)
                        bench_die("out of memory");
                }
                int64_t rtt = done - c->sent_ns;
                rtts[count++] = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
            }
            c->got = 0;
            c->seq++;
            fill_msg(c, (int)events[e].data.u64);
            c->sent_ns = bench_now_ns();
            write_all(c->fd, c->msg, MSG);
        }
    }
    srv1 = proc_ticks(server_pid);
    self1 = self_cpu_ns();
    for (long i = 0; i < nconns; i++)
        close(conns[i].fd);
    close(ep);

    if (count == 0)
        bench_die("no round trip completed in the window");
    qsort(rtts, count, sizeof *rtts, cmp_u32);
    double p50 = rtts[count / 2] / 1e3;
    double p99 = rtts[(size_t)((double)count * 0.99)] / 1e3;
    double window = (double)seconds;
    double srv_cpu_s = (double)(srv1 - srv0) / (double)ticks_per_s;
    bench_result("workload=w5 conns=%ld prime=%d count=%zu rps=%.0f p50_us=%.1f p99_us=%.1f "
                 "lg_cpu_pct=%.1f srv_cpu_pct=%.1f srv_us_per_rt=%.3f errors=%ld",
                 nconns, priming, count, (double)count / window, p50, p99,
                 (double)(self1 - self0) / 1e9 / window * 100, srv_cpu_s / window * 100,
                 srv_cpu_s * 1e6 / (double)count, errors);
    free(rtts);
    free(conns);
    return errors ? 1 : 0;
}
