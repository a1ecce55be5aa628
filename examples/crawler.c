/* SPDX-License-Identifier: MIT */
/* crawler.c — a rate-limited fan-out: one task per URL, all started at
 * once, but a semaphore lets only three "fetch" at a time, and the whole
 * crawl runs under a deadline. The fetches are simulated with cio_sleep
 * (each URL takes a made-up time); a real crawler would call
 * cio_open_connection or cio_curl_perform in their place.
 *
 * asyncio:   sem = asyncio.Semaphore(3)
 *            async with asyncio.timeout(5), asyncio.TaskGroup() as tg:
 *                for url in urls: tg.create_task(fetch(sem, url))
 */
#include <cio.h>
#include <errno.h>
#include <stdio.h>

#define LIMIT 3

static const struct {
    const char *url;
    double seconds; /* how long the simulated fetch takes */
} sites[] = {
    {"https://example.org/", 0.30},      {"https://example.com/a", 0.10},
    {"https://example.com/b", 0.20},     {"https://example.net/", 0.15},
    {"https://example.org/about", 0.05}, {"https://example.com/c", 0.25},
    {"https://example.net/news", 0.10},  {"https://example.org/contact", 0.20},
};
#define NSITES (sizeof sites / sizeof *sites)

typedef struct crawl {
    cio_sem *limit;
    /* How many fetches run right now, and the most that ever did. */
    int active, peak;
    double start;
} crawl;

typedef struct job {
    crawl *c;
    size_t site;
} job;

static int fetch(void *arg)
{
    job *j = arg;
    crawl *c = j->c;
    int err = cio_sem_acquire(c->limit);
    if (err)
        return err; /* cancelled while queued: no permit to give back */
    c->active++;
    if (c->active > c->peak)
        c->peak = c->active;
    printf("%5.2f s  fetching %-28s (%d in flight)\n", cio_now() - c->start, sites[j->site].url,
           c->active);
    err = cio_sleep(sites[j->site].seconds);
    c->active--;
    cio_sem_release(c->limit);
    if (!err)
        printf("%5.2f s  done     %s\n", cio_now() - c->start, sites[j->site].url);
    return err;
}

static int main_task(void *arg)
{
    (void)arg;
    crawl c = {cio_sem_new(LIMIT), 0, 0, cio_now()};
    if (!c.limit)
        return -ENOMEM;
    job jobs[NSITES];
    cio_timeout tm;
    cio_timeout_enter(&tm, 5.0);
    cio_taskgroup *g = cio_taskgroup_new();
    int err = g ? 0 : -errno;
    for (size_t i = 0; i < NSITES && !err; i++) {
        jobs[i] = (job){&c, i};
        err = cio_taskgroup_create_task(g, fetch, &jobs[i]);
    }
    if (g) {
        int group_err = cio_taskgroup_wait(g);
        if (!err)
            err = group_err;
    }
    cio_timeout_exit(&tm);
    printf("crawled %zu pages in %.2f s, at most %d at a time (limit %d): %s\n", NSITES,
           cio_now() - c.start, c.peak, LIMIT, cio_strerror(err));
    cio_sem_free(c.limit);
    return err;
}

int main(void)
{
    int r = cio_run(main_task, NULL);
    return r < 0;
}
