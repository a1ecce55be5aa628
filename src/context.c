/* SPDX-License-Identifier: MIT */
/* context.c — the thread's loop, the clock, cio_now, cio_running_loop and
 * the loop's addons.
 *
 * Leaf code: every layer may call it, and it calls none of them. What a
 * loop is and how it runs is loop.c's.
 */
#include "internal.h"

#include <time.h>

#include "context.h"
#include "loop.h"

__thread cio_loop *cio__context_loop __attribute__((tls_model("initial-exec")));

int64_t cio__context_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double cio_now(void) { return (double)cio__context_clock_ns() / 1e9; }

cio_loop *cio_running_loop(void) { return cio__context_loop; }

cio__loop_addon *cio__context_addon_find(const void *key)
{
    for (cio__loop_addon *a = cio__context_loop->addons; a; a = a->next)
        if (a->key == key)
            return a;
    return NULL;
}

void cio__context_addon_add(cio__loop_addon *a)
{
    a->next = cio__context_loop->addons;
    cio__context_loop->addons = a;
}

void cio__context_addons_close(cio_loop *loop)
{
    while (loop->addons) {
        cio__loop_addon *a = loop->addons;
        loop->addons = a->next;
        a->close(a);
    }
}
