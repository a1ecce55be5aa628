/* SPDX-License-Identifier: MIT */
/* fd.c — per-descriptor state: who waits on what, and what the backend
 * watches.
 *
 * Owns the readiness protocol between tasks and the backend. The backend is
 * level-triggered and told lazily: interest in a direction is added when a
 * task first waits for it and kept while it is used, and dropped only when
 * the OS reports readiness that no task waits for. A task that reads until
 * EAGAIN and waits again (the common loop) then costs no system call beyond
 * its reads and the shared poll. Code driven by callbacks instead of tasks
 * (curl's sockets) sets a standing watch, delivered through the ready queue.
 */
#include "internal.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/observe.h"
#include "loop.h"

/* The public event bits of cio_observer.fd_reported are the backends' own. */
_Static_assert((int)CIO_OBSERVE_READABLE == (int)CIO__EV_READ &&
                   (int)CIO_OBSERVE_WRITABLE == (int)CIO__EV_WRITE &&
                   (int)CIO_OBSERVE_ERROR == (int)CIO__EV_ERROR,
               "cio_observer's event bits differ from CIO__EV_*");

void cio__fd_table_init(cio__fd_table *tab)
{
    tab->blocks = NULL;
    tab->nblocks = 0;
}

void cio__fd_table_fini(cio__fd_table *tab)
{
    for (size_t i = 0; i < tab->nblocks; i++)
        free(tab->blocks[i]);
    free(tab->blocks);
    tab->blocks = NULL;
    tab->nblocks = 0;
}

static cio__fd_state *state_at(cio__fd_table *tab, int fd, bool create)
{
    size_t b = (size_t)fd / CIO__FDS_PER_BLOCK;
    if (b >= tab->nblocks || !tab->blocks[b]) {
        if (!create)
            return NULL;
        if (b >= tab->nblocks) {
            cio__fd_state **blocks = realloc(tab->blocks, (b + 1) * sizeof *blocks);
            if (!blocks)
                return NULL;
            memset(blocks + tab->nblocks, 0, (b + 1 - tab->nblocks) * sizeof *blocks);
            tab->blocks = blocks;
            tab->nblocks = b + 1;
        }
        cio__fd_state *block = calloc(CIO__FDS_PER_BLOCK, sizeof *block);
        if (!block)
            return NULL;
        for (size_t i = 0; i < CIO__FDS_PER_BLOCK; i++) {
            cio__list_init(&block[i].readers);
            cio__list_init(&block[i].writers);
        }
        tab->blocks[b] = block;
    }
    return &tab->blocks[b][(size_t)fd % CIO__FDS_PER_BLOCK];
}

cio__fd_state *cio__fd_peek(int fd)
{
    return fd < 0 ? NULL : state_at(&cio__context_loop->fds, fd, false);
}

cio__fd_state *cio__fd_get_for_wait(int fd, int *err)
{
    if (fd < 0) {
        *err = -EBADF;
        return NULL;
    }
    cio__fd_state *st = state_at(&cio__context_loop->fds, fd, true);
    if (!st) {
        *err = -ENOMEM;
        return NULL;
    }
    if (CIO__LIKELY(st->kind != CIO__FD_UNKNOWN))
        return st;
    if (st->closing) {
        *err = -EBADF;
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        *err = -errno;
        return NULL;
    }
    if (S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode)) {
        /* The OS calls regular files always ready, then blocks on the disk:
         * they go to the thread pool instead. */
        st->kind = CIO__FD_FILE;
        return st;
    }
    if (S_ISSOCK(sb.st_mode)) {
        int type = 0;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
            *err = -errno;
            return NULL;
        }
        st->sock_type = (uint8_t)type;
    }
    st->dev = sb.st_dev;
    st->ino = sb.st_ino;
    st->kind = CIO__FD_POLLABLE;
    return st;
}

static void forget_fd(cio_loop *loop, int fd);

/* Whether fd is a descriptor cio only waits on whose number now names
 * another file than the one classified (or none): closed outside cio. */
static bool changed_behind(int fd, const cio__fd_state *st)
{
    if (st->kind != CIO__FD_POLLABLE || st->nonblocking)
        return false;
    struct stat sb;
    return fstat(fd, &sb) != 0 || sb.st_dev != st->dev || sb.st_ino != st->ino;
}

cio__fd_state *cio__fd_get_checked(int fd, int *err)
{
    cio__fd_state *st = cio__fd_get_for_wait(fd, err);
    if (st && changed_behind(fd, st)) {
        forget_fd(cio__context_loop, fd);
        st = cio__fd_get_for_wait(fd, err);
    }
    return st;
}

cio__fd_state *cio__fd_get(int fd, int *err)
{
    cio__fd_state *st = cio__fd_get_for_wait(fd, err);
    if (!st || CIO__LIKELY(st->nonblocking) || st->kind == CIO__FD_FILE)
        return st;
    /* cio's own reads and writes try the call first and wait on EAGAIN. */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)) {
        *err = -errno;
        return NULL;
    }
    st->nonblocking = true;
    return st;
}

static int set_watched(cio_loop *loop, int fd, cio__fd_state *st, unsigned events)
{
    if (events == st->watched)
        return 0;
    int err = loop->backend->watch(loop, fd, st->watched, events);
    if (err == 0)
        st->watched = (uint8_t)events;
    return err;
}

static void unlink_fd_waiter(cio__waiter *w) { cio__list_remove(&w->node); }

int cio__fd_wait(int fd, cio__fd_state *st, unsigned ev)
{
    cio_loop *loop = cio__context_loop;
    int err = set_watched(loop, fd, st, st->watched | ev);
    if (err)
        return err;
    cio__waiter w;
    cio__waiter_init(&w, ev == CIO__EV_READ ? CIO__WAIT_READABLE : CIO__WAIT_WRITABLE,
                     (void *)(intptr_t)fd, unlink_fd_waiter);
    cio__list_push_back(ev == CIO__EV_READ ? &st->readers : &st->writers, &w.node);
    /* The OS may end this wait: cio__sched_wait counts it (CIO__COUNT_FDS). */
    return cio__sched_wait(&w);
}

static void wake_all(cio__list *waiters, int result)
{
    cio__list *n;
    while ((n = cio__list_pop_front(waiters)))
        cio__sched_wake(CIO__CONTAINER_OF(n, cio__waiter, node), result);
}

/* Runs a watch's callback with what was reported since its last run. */
static void deliver_watch(void *arg)
{
    cio__fd_watch *w = arg;
    int fd = w->fd;
    unsigned reported = w->reported;
    w->reported = 0;
    w->delivery = 0;
    w->ready(w, reported); /* may free w, or change or drop the watch */
    /* A one-shot backend (io_uring) has stopped watching after its report:
     * watch again for what the owner still wants, now that it has acted on
     * the report (before, a socket that stays writable would report again
     * at once, for ever). */
    cio_loop *loop = cio__context_loop;
    cio__fd_state *st = state_at(&loop->fds, fd, false);
    if (st && st->watch && (st->watch->events & ~st->watched))
        (void)set_watched(loop, fd, st, st->watched | st->watch->events);
}

/* Notes readiness for st's watch and schedules its delivery. Returns the
 * directions the watch wants (those are not "unwanted" readiness). */
static unsigned report_to_watch(cio__fd_state *st, unsigned events)
{
    cio__fd_watch *w = st->watch;
    if (!w || !w->events)
        return 0;
    unsigned hit = events & CIO__EV_ERROR ? w->events | CIO__EV_ERROR : events & w->events;
    if (hit) {
        w->reported |= hit;
        /* Out of memory: the backend is level-triggered, so the next poll
         * reports the descriptor again. */
        if (!w->delivery)
            w->delivery = cio_call_soon(deliver_watch, w).id;
    }
    return w->events;
}

void cio__fd_ready(int fd, unsigned events)
{
    cio_loop *loop = cio__context_loop;
    cio__fd_state *st = state_at(&loop->fds, fd, false);
    CIO__OBSERVE(loop, fd_reported, fd, events);
    if (fd == loop->posted.wake_fd) {
        cio__callback_drain_wakeup();
        return;
    }
    if (!st)
        return;
    /* Readiness of another file than the one the waiters meant (the number
     * was closed outside cio and reused): they are told -EBADF instead. */
    if ((!cio__list_empty(&st->readers) || !cio__list_empty(&st->writers)) &&
        changed_behind(fd, st)) {
        forget_fd(loop, fd);
        return;
    }
    unsigned wanted = report_to_watch(st, events);
    unsigned unwanted = 0;
    if (events & (CIO__EV_READ | CIO__EV_ERROR)) {
        if (cio__list_empty(&st->readers))
            unwanted |= CIO__EV_READ;
        wake_all(&st->readers, 0);
    }
    if (events & (CIO__EV_WRITE | CIO__EV_ERROR)) {
        if (cio__list_empty(&st->writers))
            unwanted |= CIO__EV_WRITE;
        wake_all(&st->writers, 0);
    }
    unwanted &= ~wanted;
    /* Readiness nobody waited for: stop watching that direction, or a
     * level-triggered backend would report it on every poll. */
    if (unwanted & st->watched)
        (void)set_watched(loop, fd, st, st->watched & ~unwanted);
    /* A one-shot watch that reported one direction has ended for the
     * other too: arm it again for the tasks still waiting (a standing watch
     * is armed again once its owner has seen the report: deliver_watch).
     * An error leaves them parked; a later close or their own deadline
     * ends the wait. */
    unsigned waited = (cio__list_empty(&st->readers) ? 0u : CIO__EV_READ) |
                      (cio__list_empty(&st->writers) ? 0u : CIO__EV_WRITE);
    if (waited & ~st->watched)
        (void)set_watched(loop, fd, st, st->watched | waited);
}

void cio__fd_disarmed(int fd)
{
    cio__fd_state *st = cio__fd_peek(fd);
    if (st)
        st->watched = 0;
}

/* Takes st's watch off it (and off the loop's count of descriptor waits). */
static void drop_watch(cio_loop *loop, cio__fd_state *st)
{
    cio__fd_watch *w = st->watch;
    if (w->delivery)
        cio__callback_cancel(w->delivery);
    w->delivery = 0;
    w->reported = 0;
    if (w->events)
        loop->fd_waiters--;
    w->events = 0;
    st->watch = NULL;
}

int cio__fd_watch_set(cio__fd_watch *w, int fd, unsigned events)
{
    cio_loop *loop = cio__context_loop;
    int err;
    if (!events) {
        /* The backend stops watching lazily, at the next report. */
        cio__fd_state *st = fd >= 0 ? state_at(&loop->fds, fd, false) : NULL;
        if (st && st->watch == w)
            drop_watch(loop, st);
        return 0;
    }
    cio__fd_state *st = cio__fd_get_for_wait(fd, &err);
    if (!st)
        return err;
    if (st->watch && st->watch != w)
        return -EBUSY;
    if ((err = set_watched(loop, fd, st, st->watched | events)))
        return err;
    if (!st->watch) {
        w->reported = 0;
        w->delivery = 0;
        w->events = 0;
        st->watch = w;
    }
    /* A standing watch is a wait on the OS: the loop must poll for it
     * even while tasks are ready. */
    if (!w->events)
        loop->fd_waiters++;
    w->fd = fd;
    w->events = events;
    return 0;
}

/* cio__fd_forget's work, for a loop that exists. */
static void forget_fd(cio_loop *loop, int fd)
{
    cio__fd_state *st = state_at(&loop->fds, fd, false);
    if (!st)
        return;
    if (st->watch)
        drop_watch(loop, st);
    (void)set_watched(loop, fd, st, 0);
    st->watched = 0;
    st->kind = CIO__FD_UNKNOWN;
    st->nonblocking = false;
    st->drained = false;
    st->sock_type = 0;
    /* Operations in flight end with -EBADF once the kernel has let go of
     * their buffers (a completion backend). */
    if (loop->backend->forget)
        loop->backend->forget(loop, fd, st);
    wake_all(&st->readers, -EBADF);
    wake_all(&st->writers, -EBADF);
}

void cio__fd_forget(int fd)
{
    if (cio__context_loop && fd >= 0)
        forget_fd(cio__context_loop, fd);
}

int cio_fd_forget(int fd)
{
    if (fd < 0)
        return -EBADF;
    if (!cio__context_loop)
        return -EPERM;
    forget_fd(cio__context_loop, fd);
    return 0;
}

int cio_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    cio_loop *loop = cio__context_loop;
    cio__fd_state *st = loop ? cio__fd_peek(fd) : NULL;
    /* Closed already, its close(2) left to the backend. */
    if (st && st->closing)
        return -EBADF;
    /* Forget it before the number can be reused by another open(). */
    cio__fd_forget(fd);
    /* A completion backend may hold the number until the kernel can no
     * longer run a request on it. */
    if (st && loop->backend->defer_close && loop->backend->defer_close(loop, fd, st))
        return 0;
    /* On Linux the descriptor is released even when close reports EINTR. */
    if (close(fd) != 0 && errno != EINTR)
        return -errno;
    return 0;
}
