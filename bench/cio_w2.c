/* SPDX-License-Identifier: MIT */
/* cio_w2.c — W2 switch: two tasks each cio_yield() SWITCHES/2 times; the
 * scheduler alternates them, A B A B ..., SWITCHES switches in all.
 * elapsed runs from just before the two are created until both are joined.
 *
 * asyncio:   each task loops `await asyncio.sleep(0)`
 */
#include <cio.h>

#include "common.h"

static long per_task;

static int yielder(void *arg)
{
    (void)arg;
    long done = 0;
    for (; done < per_task; done++) {
        if (cio_yield() != 0)
            break;
    }
    /* The count of yields made: the harness checks the two add up. */
    return (int)done;
}

static int main_task(void *arg)
{
    (void)arg;
    int64_t t0 = bench_now_ns();
    cio_task *a = cio_create_task(yielder, NULL);
    cio_task *b = cio_create_task(yielder, NULL);
    if (!a || !b)
        bench_die("cio_create_task failed");
    int ra = cio_await(a);
    int rb = cio_await(b);
    int64_t elapsed = bench_now_ns() - t0;
    long switches = 2 * per_task;
    bench_result("workload=w2 impl=cio backend=%s switches=%ld yields=%ld elapsed_ms=%.3f "
                 "ns_per_switch=%.3f",
                 cio_backend_name(), switches, (long)ra + rb, bench_ms(elapsed),
                 (double)elapsed / (double)switches);
    return 0;
}

int main(int argc, char **argv)
{
    per_task = bench_opt_long(argc, argv, "switches", BENCH_SWITCHES) / 2;
    int r = cio_run(main_task, NULL);
    if (r != 0)
        bench_die("cio_run: %s", cio_strerror(r));
    return 0;
}
