/* SPDX-License-Identifier: MIT */
/* sequential.c — the seed's first program: two tasks awaited one after the
 * other. Task A sleeps 2 s, then task B sleeps 1 s: 3 s in all, because
 * nothing runs B while main is awaiting A.
 *
 * asyncio:   await task_a(); await task_b()
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
    say("Sequential: await A, then await B");
    /* Calling the bodies directly is `await coro()`: it runs in main's task. */
    task_a(NULL);
    task_b(NULL);
    printf("Total: %.1f seconds\n", cio_now() - start);
    return 0;
}

int main(void) { return cio_run(main_task, NULL) == 0 ? 0 : 1; }
