/* SPDX-License-Identifier: MIT */
/* cio_w4.c — W4 timers: N one-shot cio_call_at callbacks; each counts.
 *
 * Deadlines: timer i is due timeout_i after one clock reading taken at t0
 * (cio_call_at(base + timeout_i)), which is when libuv's uv_timer_start
 * puts it too: libuv computes every deadline from the loop time it cached
 * before the setup loop. (cio_call_later reads the clock at each call, as
 * asyncio's does, so with it the deadlines would slide by the setup time
 * and compare different work.)
 *
 * main creates them all, then blocks in a long cio_sleep that the last
 * callback cancels, as Python's main awaits a future the last callback
 * resolves. total is read inside the last callback, so main's wake-up is
 * not part of it. after_last_deadline = total - largest timeout: how long
 * after the last timer became due the last callback had run.
 *
 * --shape spread|same|uvshape (WORKLOADS.md).
 */
#include <cio.h>

#include "common.h"

/* Far beyond any run: only the last callback's cancel ends it. */
#define WAIT_SECONDS 1e9

static long n_timers;
static long fired;
static int64_t t_last;
static cio_task *main_handle;

static void on_timer(void *arg)
{
    (void)arg;
    if (++fired == n_timers) {
        t_last = bench_now_ns();
        cio_cancel(main_handle);
    }
}

static int main_task(void *arg)
{
    bench_shape shape = *(const bench_shape *)arg;
    main_handle = cio_current_task();
    int64_t t0 = bench_now_ns();
    double base = cio_now();
    for (long i = 0; i < n_timers; i++) {
        cio_handle h = cio_call_at(base + (double)bench_timeout_ms(shape, i) / 1e3, on_timer, NULL);
        if (h.id == 0)
            bench_die("cio_call_at %ld failed", i);
    }
    int64_t t_setup = bench_now_ns();
    cio_sleep(WAIT_SECONDS);
    if (fired != n_timers)
        bench_die("woke with %ld of %ld timers fired", fired, n_timers);
    int64_t total = t_last - t0;
    int64_t last_deadline = bench_max_timeout_ms(shape, n_timers) * 1000000;
    bench_result("workload=w4 impl=cio backend=%s shape=%s n=%ld count=%ld setup_ms=%.3f "
                 "total_ms=%.3f last_deadline_ms=%.3f after_last_deadline_ms=%.3f",
                 cio_backend_name(), bench_shape_name(shape), n_timers, fired,
                 bench_ms(t_setup - t0), bench_ms(total), bench_ms(last_deadline),
                 bench_ms(total - last_deadline));
    return 0;
}

int main(int argc, char **argv)
{
    n_timers = bench_opt_long(argc, argv, "n", BENCH_N);
    bench_shape shape = bench_parse_shape(bench_opt(argc, argv, "shape"));
    int r = cio_run(main_task, &shape);
    /* main was cancelled by design; its own result is 0. */
    if (r != 0)
        bench_die("cio_run: %s", cio_strerror(r));
    return 0;
}
