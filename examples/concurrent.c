/* SPDX-License-Identifier: MIT */
/* concurrent.c — the seed's second program: the same two tasks, started with
 * cio_create_task and then awaited. While A sleeps, the loop runs B: 2 s in
 * all, the longer of the two.
 *
 * asyncio:   a = asyncio.create_task(task_a()); b = asyncio.create_task(task_b())
 *            await a; await b
 */
#include <cio.h>
#include <stdio.h>
#include <time.h>

static void say(const char *what)
{
    time_t now = time(NULL);
    char stamp[16];
    strftime(stamp, sizeof stamp, "%H:%M:%S", localtime(&now));
    printf("[%s] %s\n", stamp, what);
    fflush(stdout);
}

static int task_a(void *arg)
{
    (void)arg;
    say("Task A: Starting...");
    cio_sleep(2.0);
    say("Task A: Finished after 2 seconds");
    return 0;
}

static int task_b(void *arg)
{
    (void)arg;
    say("Task B: Starting...");
    cio_sleep(1.0);
    say("Task B: Finished after 1 second");
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    double start = cio_now();
    say("Concurrent: create both tasks, then await them");
    cio_task *a = cio_create_task(task_a, NULL);
    cio_task *b = cio_create_task(task_b, NULL);
    /* Neither has run yet: they start when main suspends, here. */
    cio_await(a);
    cio_await(b);
    printf("Total: %.1f seconds\n", cio_now() - start);
    return 0;
}

int main(void) { return cio_run(main_task, NULL) == 0 ? 0 : 1; }
