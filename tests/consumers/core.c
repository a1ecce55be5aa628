/* SPDX-License-Identifier: MIT */
/* core.c — a core-only consumer (tasks, a queue, a timer), linked
 * statically: needs nothing but libc besides cio (and liburing where the
 * io_uring backend is built). Prints "core: ok". */
#include <cio.h>

#include <stdio.h>

static int producer(void *arg)
{
    for (intptr_t i = 1; i <= 3; i++) {
        cio_sleep(0.001);
        if (cio_queue_put(arg, (void *)i) < 0)
            return -1;
    }
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    cio_queue *q = cio_queue_new(1);
    cio_task *p = cio_create_task(producer, q);
    intptr_t sum = 0;
    for (int i = 0; i < 3; i++) {
        void *item;
        if (cio_queue_get(q, &item) < 0)
            return 1;
        sum += (intptr_t)item;
    }
    int rc = cio_await(p);
    cio_queue_free(q);
    if (rc != 0 || sum != 6)
        return 2;
    printf("core: ok (cio %s, backend %s)\n", cio_version_string(), cio_backend_name());
    return 0;
}

int main(void) { return cio_run(main_task, NULL); }
