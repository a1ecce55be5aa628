/* SPDX-License-Identifier: MIT */
/* task_metrics.c — an observer (cio_observer_add) that times every run of
 * every task, from the moment it gets the CPU to the moment it suspends or
 * finishes, and keeps a histogram per task name; printed when cio_run
 * returns.
 *
 * A run that lasts long blocks the loop for everyone else: the histogram
 * shows which kind of task does that, without tracing the whole program.
 * The hooks run inside the loop, on the task's own stack: they only read
 * the clock and add to counters (no printf there, no suspending call).
 */
#include <cio.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Buckets by powers of two of microseconds: < 1 µs, < 2 µs, ... and the
 * last one for everything from 2^(NBUCKETS-2) µs up. */
#define NBUCKETS 16
#define MAX_NAMES 16

typedef struct name_stats {
    char name[32];
    uint64_t runs;
    double total;
    double longest;
    uint64_t buckets[NBUCKETS];
} name_stats;

typedef struct metrics {
    name_stats names[MAX_NAMES];
    size_t nnames;
    /* The run in progress: its task and when it began. */
    const cio_task *running;
    double run_start;
} metrics;

static name_stats *stats_for(metrics *m, const char *name)
{
    for (size_t i = 0; i < m->nnames; i++)
        if (strncmp(m->names[i].name, name, sizeof m->names[i].name - 1) == 0)
            return &m->names[i];
    if (m->nnames == MAX_NAMES)
        return NULL;
    name_stats *s = &m->names[m->nnames++];
    /* Copied: the task's name goes with the task. */
    size_t len = 0;
    while (name[len] && len < sizeof s->name - 1) {
        s->name[len] = name[len];
        len++;
    }
    s->name[len] = '\0';
    return s;
}

static void run_begins(metrics *m, cio_task *t)
{
    m->running = t;
    m->run_start = cio_now();
}

static void run_ends(metrics *m, cio_task *t)
{
    if (m->running != t)
        return;
    double took = cio_now() - m->run_start;
    m->running = NULL;
    name_stats *s = stats_for(m, cio_task_name(t));
    if (!s)
        return;
    s->runs++;
    s->total += took;
    if (took > s->longest)
        s->longest = took;
    unsigned b = 0;
    for (double us = took * 1e6; us >= 1.0 && b < NBUCKETS - 1; us /= 2)
        b++;
    s->buckets[b]++;
}

static void on_started(void *arg, cio_task *t) { run_begins(arg, t); }
static void on_resumed(void *arg, cio_task *t) { run_begins(arg, t); }

static void on_suspended(void *arg, cio_task *t, const char *waits_on)
{
    (void)waits_on;
    run_ends(arg, t);
}

static void on_finished(void *arg, cio_task *t, int result)
{
    (void)result;
    run_ends(arg, t);
}

static const cio_observer metrics_ops = {
    .task_started = on_started,
    .task_resumed = on_resumed,
    .task_suspended = on_suspended,
    .task_finished = on_finished,
};

/* ----------------------------------------------------------- a workload */

/* Busy for about `us` microseconds, as a computation would be. */
static void crunch_for(double us)
{
    double until = cio_now() + us / 1e6;
    while (cio_now() < until) {
    }
}

static int cruncher(void *arg)
{
    int rounds = (int)(intptr_t)arg;
    for (int i = 0; i < rounds; i++) {
        crunch_for(20.0 * (i % 5 + 1));
        if (cio_yield() != 0)
            return -1;
    }
    return 0;
}

static int napper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++)
        if (cio_sleep(0.002) != 0)
            return -1;
    return 0;
}

/* One task that blocks the loop once, for 5 ms. */
static int hog(void *arg)
{
    (void)arg;
    crunch_for(5000);
    return 0;
}

static int main_task(void *arg)
{
    int err = cio_observer_add(&metrics_ops, arg);
    if (err)
        return err;
    cio_task *tasks[9];
    size_t n = 0;
    for (int i = 0; i < 4; i++)
        tasks[n++] = cio_create_task_opts(cruncher, (void *)(intptr_t)40,
                                          &(cio_task_opts){.name = "cruncher"});
    for (int i = 0; i < 4; i++)
        tasks[n++] = cio_create_task_opts(napper, NULL, &(cio_task_opts){.name = "napper"});
    tasks[n++] = cio_create_task_opts(hog, NULL, &(cio_task_opts){.name = "hog"});
    for (size_t i = 0; i < n; i++)
        if (!tasks[i])
            return -1;
    err = cio_gather(tasks, n, NULL);
    int removed = cio_observer_remove(&metrics_ops, arg);
    return err ? err : removed;
}

static void print_histogram(const name_stats *s)
{
    printf("%-10s %6llu runs, %9.3f ms in all, longest %8.3f ms\n", s->name,
           (unsigned long long)s->runs, s->total * 1e3, s->longest * 1e3);
    uint64_t most = 1;
    for (unsigned b = 0; b < NBUCKETS; b++)
        if (s->buckets[b] > most)
            most = s->buckets[b];
    for (unsigned b = 0; b < NBUCKETS; b++) {
        if (!s->buckets[b])
            continue;
        char label[32];
        if (b == 0)
            snprintf(label, sizeof label, "< 1 us");
        else if (b == NBUCKETS - 1)
            snprintf(label, sizeof label, ">= %llu us", 1ull << (b - 1));
        else
            snprintf(label, sizeof label, "< %llu us", 1ull << b);
        int bar = (int)(s->buckets[b] * 40 / most);
        printf("  %12s %6llu %.*s\n", label, (unsigned long long)s->buckets[b], bar > 0 ? bar : 1,
               "########################################");
    }
}

int main(void)
{
    static metrics m;
    int r = cio_run(main_task, &m);
    if (r != 0) {
        fprintf(stderr, "task_metrics: %s\n", cio_strerror(r));
        return 1;
    }
    printf("Run time per task name (from getting the CPU to giving it up):\n");
    for (size_t i = 0; i < m.nnames; i++)
        print_histogram(&m.names[i]);
    return 0;
}
