/* SPDX-License-Identifier: MIT */
/* context.h — the thread's loop and the clock: what every layer may ask
 * of the loop without knowing what the loop is made of.
 *
 * Owns the thread-local "running loop", the monotonic clock and the
 * loop's addons (optional modules' state). Knows nothing of tasks, I/O or
 * tracing; loop.c opens and closes the loop around it.
 */
#ifndef CIO_CONTEXT_H
#define CIO_CONTEXT_H

#include "internal.h"

/* The loop running on this thread (NULL outside cio_run). Set by loop.c
 * while cio_run runs. */
CIO__COMPONENT extern __thread cio_loop *cio__context_loop __attribute__((tls_model("initial-exec")));

/* An optional module's state for one loop (curl.c's multi handle): made
 * when the module is first used on the loop, closed with the loop. */
typedef struct cio__loop_addon {
    /* Next in the loop's addons (context.c). */
    struct cio__loop_addon *next;
    /* Which module: the address of something of the module's own. */
    const void *key;
    /* Releases the addon. Called at loop close, once every task has
     * finished, while timers and descriptors can still be used. */
    void (*close)(struct cio__loop_addon *a);
} cio__loop_addon;

/* The running loop's addon for `key`, or NULL. */
CIO__COMPONENT cio__loop_addon *cio__context_addon_find(const void *key);
/* Adds an addon to the running loop. */
CIO__COMPONENT void cio__context_addon_add(cio__loop_addon *a);
/* Closes and unlinks every addon of `loop`, newest first (loop close). */
void cio__context_addons_close(cio_loop *loop);

/* The clock, fresh. */
CIO__COMPONENT int64_t cio__context_clock_ns(void);

/* Seconds on the loop clock ↔ nanoseconds. */
static inline int64_t cio__seconds_to_ns(double s)
{
    if (s >= 9.2e9)
        return INT64_MAX;
    if (s <= -9.2e9)
        return INT64_MIN;
    return (int64_t)(s * 1e9);
}

/* The clock now plus `seconds` (>= 0), in ns; saturated short of
 * INT64_MAX, so that a huge or infinite span means "never" instead of
 * overflowing into the past. */
static inline int64_t cio__deadline_after(double seconds)
{
    int64_t now = cio__context_clock_ns();
    int64_t span = cio__seconds_to_ns(seconds);
    return span > INT64_MAX - 1 - now ? INT64_MAX - 1 : now + span;
}

#endif
