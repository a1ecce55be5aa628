/* SPDX-License-Identifier: MIT */
/* common.h — what every C benchmark program shares: the clock, VmRSS, the
 * command line, and the RESULT line of WORKLOADS.md's output contract.
 *
 * Header-only and free of cio, so the libuv peer uses the very same clock
 * and output code as the cio programs.
 */
#ifndef CIO_BENCH_COMMON_H
#define CIO_BENCH_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* WORKLOADS.md's constants; run.sh --quick passes --n N/10 (and W2 scales
 * its switches the same way). */
#define BENCH_N 1000000L
#define BENCH_SWITCHES 10000000L

/* CLOCK_MONOTONIC: the clock cio_now(), libuv's uv_hrtime() and Python's
 * time.monotonic() all read, so deadlines are comparable across peers. */
static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline double bench_ms(int64_t ns) { return (double)ns / 1e6; }

/* Prints the message and exits: a benchmark that went wrong must not print
 * a RESULT line the harness could mistake for a measurement. */
static inline void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* The resident set in KiB, from /proc/self/status (WORKLOADS.md W3). */
static inline long bench_vmrss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        bench_die("cannot open /proc/self/status");
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    if (kib < 0)
        bench_die("no VmRSS in /proc/self/status");
    return kib;
}

/* The value after `--name` on the command line, or NULL. */
static inline const char *bench_opt(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] == '-' && strcmp(argv[i] + 2, name) == 0)
            return argv[i + 1];
    }
    return NULL;
}

static inline long bench_opt_long(int argc, char **argv, const char *name, long dflt)
{
    const char *v = bench_opt(argc, argv, name);
    if (!v)
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n <= 0)
        bench_die("--%s wants a positive integer, not '%s'", name, v);
    return n;
}

/* One `RESULT key=value ...` line, flushed at once so that it survives
 * whatever teardown follows. */
static inline void bench_result(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("RESULT ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    va_end(ap);
}

/* W4's three shapes of timeout (WORKLOADS.md), in ms for timer i. */
typedef enum { SHAPE_SPREAD, SHAPE_SAME, SHAPE_UVSHAPE } bench_shape;

static inline bench_shape bench_parse_shape(const char *name)
{
    if (!name || strcmp(name, "spread") == 0)
        return SHAPE_SPREAD;
    if (strcmp(name, "same") == 0)
        return SHAPE_SAME;
    if (strcmp(name, "uvshape") == 0)
        return SHAPE_UVSHAPE;
    bench_die("unknown shape '%s' (spread, same, uvshape)", name);
    return SHAPE_SPREAD;
}

static inline const char *bench_shape_name(bench_shape s)
{
    return s == SHAPE_SAME ? "same" : s == SHAPE_UVSHAPE ? "uvshape" : "spread";
}

static inline long bench_timeout_ms(bench_shape s, long i)
{
    switch (s) {
    case SHAPE_SAME:
        return 1000;
    case SHAPE_UVSHAPE:
        return 1 + i / 1000;
    default:
        return i % 1000;
    }
}

/* The largest timeout of the shape. In every shape timer n-1 has it and is
 * created last, so its deadline is the latest of all. */
static inline long bench_max_timeout_ms(bench_shape s, long n)
{
    return bench_timeout_ms(s, n - 1);
}

#ifdef CIO_H
/* What bench_run hands cio_run: the program's main task, and whether the
 * loop ever got as far as running it. */
typedef struct bench_main_call {
    cio_fn fn;
    void *arg;
    int started;
} bench_main_call;

static inline int bench_main_trampoline(void *arg)
{
    bench_main_call *call = arg;
    call->started = 1;
    return call->fn(call->arg);
}

/* cio_run(fn, arg), for the programs the harnesses run once per backend.
 * When the loop cannot start at all (CIO_BACKEND names a backend this build
 * lacks or the kernel refuses), it prints "UNAVAILABLE backend=NAME
 * error=TEXT" and exits 3, so that the harness shows that backend's row
 * as unavailable rather than as a run that went wrong. */
static inline int bench_run(cio_fn fn, void *arg)
{
    bench_main_call call = {fn, arg, 0};
    int r = cio_run(bench_main_trampoline, &call);
    if (!call.started) {
        const char *want = getenv("CIO_BACKEND");
        printf("UNAVAILABLE backend=%s error=%s\n", want && *want ? want : "default",
               cio_strerror(r));
        fflush(stdout);
        exit(3);
    }
    return r;
}

/* Awaits every task in creation order (as W1 and W3 join them) and sums
 * their results; a failed await ends the run. */
static inline long long bench_await_sum(cio_task **tasks, long n)
{
    long long sum = 0;
    for (long i = 0; i < n; i++) {
        int r = cio_await(tasks[i]);
        if (r < 0)
            bench_die("cio_await %ld: %s", i, cio_strerror(r));
        sum += r;
    }
    return sum;
}
#endif

#endif
