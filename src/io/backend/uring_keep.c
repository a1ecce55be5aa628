/* SPDX-License-Identifier: MIT */
/* uring_keep.c — a thread's io_uring outlives its loops.
 *
 * Closing a ring is not over when close(2) returns: the kernel tears the
 * ring down from a workqueue after an RCU grace period (tens of
 * milliseconds, more under load), and then queues work for every thread
 * that submitted to it, with TWA_SIGNAL (io_ring_exit_work, io_uring.c in
 * Linux 5.11 and later, whatever the ring's flags). That interrupts whatever
 * the thread is blocked in by then, outside the loop: a socket read with
 * SO_RCVTIMEO, epoll_wait and sigtimedwait return EINTR, which programs that
 * catch no signal do not expect. cio_run would leave that behind in the
 * caller's thread some milliseconds after it returned.
 *
 * So a loop that ends gives its ring, idle, to its thread, and the thread's
 * next loop takes it back (which also spares io_uring_setup and its probe).
 * The ring is closed as the thread exits, when nothing of the thread can be
 * interrupted any more, or when the process ends; a forked child, which
 * cannot submit to its parent's ring (SINGLE_ISSUER), closes its copy at
 * once: the parent's reference keeps the ring alive, so nothing is torn
 * down and nobody is interrupted.
 */
#include "internal.h"

#include <pthread.h>

#include "io/backend/uring_keep.h"

typedef struct kept_ring {
    bool kept;
    struct io_uring ring;
    cio__uring_keep_key key;
    unsigned features;
} kept_ring;

static __thread kept_ring kept;

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool hooks_ok;

static void close_kept(void)
{
    if (kept.kept) {
        kept.kept = false;
        io_uring_queue_exit(&kept.ring);
    }
}

/* The thread exits: its ring goes with it. */
static void on_thread_exit(void *unused)
{
    (void)unused;
    close_kept();
}

/* In a forked child: only the forking thread's copy of kept exists, and
 * closing that copy leaves the parent's ring whole. */
static void on_fork_child(void) { close_kept(); }

static void install_hooks(void)
{
    hooks_ok = pthread_key_create(&exit_key, on_thread_exit) == 0 &&
               pthread_atfork(NULL, NULL, on_fork_child) == 0;
}

bool cio__uring_keep_take(struct io_uring *ring, cio__uring_keep_key key, unsigned *features)
{
    if (!kept.kept)
        return false;
    if (kept.key.entries != key.entries || kept.key.masked != key.masked) {
        close_kept();
        return false;
    }
    *ring = kept.ring;
    *features = kept.features;
    kept.kept = false;
    return true;
}

bool cio__uring_keep_put(const struct io_uring *ring, cio__uring_keep_key key, unsigned features)
{
    pthread_once(&hooks_once, install_hooks);
    /* The key's value only has to be non-NULL for the destructor to run. */
    if (!hooks_ok || kept.kept || pthread_setspecific(exit_key, &kept) != 0)
        return false;
    kept = (kept_ring){.kept = true, .ring = *ring, .key = key, .features = features};
    return true;
}
