/* SPDX-License-Identifier: MIT */
/* uv_w4.c — W4 timers on libuv, the peer cio_w4.c is compared with: one
 * malloc'd array of N uv_timer_t, uv_timer_init + uv_timer_start(t, cb,
 * timeout, 0), uv_run(UV_RUN_DEFAULT). total ends when uv_run returns.
 *
 * libuv computes every deadline from the loop's cached time, which the
 * setup loop does not update: the latest deadline is that cached time plus
 * the largest timeout. It is in whole ms of CLOCK_MONOTONIC(_COARSE), the
 * clock bench_now_ns() reads at full resolution, so the two subtract.
 *
 * --shape spread|same|uvshape (WORKLOADS.md).
 */
#include <uv.h>

#include "common.h"

static long n_timers;
static long fired;

static void on_timer(uv_timer_t *t)
{
    (void)t;
    fired++;
}

int main(int argc, char **argv)
{
    n_timers = bench_opt_long(argc, argv, "n", BENCH_N);
    bench_shape shape = bench_parse_shape(bench_opt(argc, argv, "shape"));
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t *timers = malloc((size_t)n_timers * sizeof *timers);
    if (!loop || !timers)
        bench_die("out of memory");
    /* A fresh cached time, as a loop that has just started has. */
    uv_update_time(loop);

    int64_t t0 = bench_now_ns();
    int64_t base_ms = (int64_t)uv_now(loop);
    for (long i = 0; i < n_timers; i++) {
        uv_timer_init(loop, &timers[i]);
        int err = uv_timer_start(&timers[i], on_timer, (uint64_t)bench_timeout_ms(shape, i), 0);
        if (err)
            bench_die("uv_timer_start %ld: %s", i, uv_strerror(err));
    }
    int64_t t_setup = bench_now_ns();
    uv_run(loop, UV_RUN_DEFAULT);
    int64_t total = bench_now_ns() - t0;
    int64_t last_deadline = (base_ms + bench_max_timeout_ms(shape, n_timers)) * 1000000 - t0;

    bench_result("workload=w4 impl=libuv version=%s shape=%s n=%ld count=%ld setup_ms=%.3f "
                 "total_ms=%.3f last_deadline_ms=%.3f after_last_deadline_ms=%.3f",
                 uv_version_string(), bench_shape_name(shape), n_timers, fired,
                 bench_ms(t_setup - t0), bench_ms(total), bench_ms(last_deadline),
                 bench_ms(total - last_deadline));
    free(timers);
    return 0;
}
