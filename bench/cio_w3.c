/* SPDX-License-Identifier: MIT */
/* cio_w3.c — W3 idle in its exact form: N tasks blocked on one cio_event;
 * bytes per blocked task.
 *
 * Each task counts itself started and waits on the shared event; main
 * yields until all N have started, reads VmRSS, sets the event, joins every
 * task and checks the sum.
 *
 * --stack BYTES sets cio_task_opts.stack_size (default: the library's).
 *
 * asyncio:   started += 1; await ev.wait()   (ev = asyncio.Event())
 */
#include <cio.h>

#include "common.h"

static long n_tasks;
static size_t stack_size;
static long started;

static int waiter(void *arg)
{
    started++;
    /* Anything but a clean wake-up is a failure the sum check catches. */
    return cio_event_wait(arg) == 0 ? 1 : 0;
}

static int main_task(void *arg)
{
    (void)arg;
    cio_event *ev = cio_event_new();
    if (!ev)
        bench_die("cio_event_new failed");
    long base = bench_vmrss_kib();
    int64_t t0 = bench_now_ns();
    cio_task **tasks = malloc((size_t)n_tasks * sizeof *tasks);
    if (!tasks)
        bench_die("out of memory for %ld handles", n_tasks);
    cio_task_opts opts = {.stack_size = stack_size};
    for (long i = 0; i < n_tasks; i++) {
        tasks[i] = cio_create_task_opts(waiter, ev, &opts);
        if (!tasks[i])
            bench_die("cio_create_task %ld failed", i);
    }
    while (started < n_tasks)
        cio_yield();
    int64_t t_blocked = bench_now_ns();
    long idle = bench_vmrss_kib();

    cio_event_set(ev);
    long long sum = bench_await_sum(tasks, n_tasks);
    int64_t elapsed = bench_now_ns() - t0;
    free(tasks);
    cio_event_free(ev);
    char stack[32];
    if (stack_size)
        snprintf(stack, sizeof stack, "%zu", stack_size);
    else
        snprintf(stack, sizeof stack, "default");
    bench_result("workload=w3 impl=cio backend=%s stack=%s block=event release=set n=%ld "
                 "sum=%lld base_kib=%ld idle_kib=%ld bytes_per_task=%.1f spawn_block_ms=%.3f "
                 "total_ms=%.3f",
                 cio_backend_name(), stack, n_tasks, sum, base, idle,
                 (double)(idle - base) * 1024.0 / (double)n_tasks, bench_ms(t_blocked - t0),
                 bench_ms(elapsed));
    return 0;
}

int main(int argc, char **argv)
{
    n_tasks = bench_opt_long(argc, argv, "n", BENCH_N);
    stack_size = (size_t)bench_opt_long(argc, argv, "stack", 0);
    int r = cio_run(main_task, NULL);
    if (r != 0)
        bench_die("cio_run: %s", cio_strerror(r));
    return 0;
}
