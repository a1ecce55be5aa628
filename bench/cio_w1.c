/* SPDX-License-Identifier: MIT */
/* cio_w1.c — W1 spawn: N tasks, all created before the creator yields (so
 * all N exist at once, not yet run), joined in creation order with
 * cio_await. Reports ns/task; the harness adds peak RSS.
 *
 * asyncio:   tasks = [asyncio.create_task(work(i)) for i in range(N)]
 *            for t in tasks: s += await t
 */
#include <cio.h>
#include <stdint.h>

#include "common.h"

static long n_tasks;

static int work(void *arg) { return (int)((intptr_t)arg % 10); }

static int main_task(void *arg)
{
    (void)arg;
    int64_t t0 = bench_now_ns();
    /* Inside the timing: the handle array is part of the workload, as the
     * Python peer's list is. */
    cio_task **tasks = malloc((size_t)n_tasks * sizeof *tasks);
    if (!tasks)
        bench_die("out of memory for %ld handles", n_tasks);
    for (long i = 0; i < n_tasks; i++) {
        tasks[i] = cio_create_task(work, (void *)(intptr_t)i);
        if (!tasks[i])
            bench_die("cio_create_task %ld failed", i);
    }
    long long sum = bench_await_sum(tasks, n_tasks);
    int64_t elapsed = bench_now_ns() - t0;
    free(tasks);
    bench_result("workload=w1 impl=cio backend=%s stack=default n=%ld sum=%lld elapsed_ms=%.3f "
                 "ns_per_task=%.2f",
                 cio_backend_name(), n_tasks, sum, bench_ms(elapsed),
                 (double)elapsed / (double)n_tasks);
    return 0;
}

int main(int argc, char **argv)
{
    n_tasks = bench_opt_long(argc, argv, "n", BENCH_N);
    int r = cio_run(main_task, NULL);
    if (r != 0)
        bench_die("cio_run: %s", cio_strerror(r));
    return 0;
}
