/* SPDX-License-Identifier: MIT */
/* fdio.c — read, write, accept, connect, open, fsync... that suspend
 * instead of blocking.
 *
 * With a readiness backend (epoll, poll) each call tries the system call
 * first and waits only on EAGAIN, so data that is already there costs no
 * trip through the loop, and regular files go to the thread pool (the OS
 * never says "would block" for them). With a completion backend (io_uring)
 * each call hands the backend the operation itself (a cio__op), files
 * included, and the task parks on its completion. Owns SIGPIPE
 * handling: the loop thread blocks SIGPIPE while it runs (loop.c), and a
 * write that meets EPIPE takes the signal it raised off the thread's
 * pending set, so the process is never killed and no stray signal is left
 * behind for the application.
 */
#include "internal.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/fdio.h"
#include "loop.h"
#include "io/threadpool.h"

/* Every public call starts here: -EPERM outside a task, cancellation,
 * deadline, a descriptor that is not open. */
static cio__fd_state *begin(int fd, int *err)
{
    *err = cio__checkpoint();
    if (*err)
        return NULL;
    return cio__fd_get(fd, err);
}

/* After a system call on a pollable descriptor failed with errno set:
 * EINTR and EAGAIN (once the descriptor is ready for `ev`) mean "try the
 * call again" (returns 0); anything else is the error to return. */
static int retry_after_error(int fd, cio__fd_state *st, unsigned ev)
{
    if (errno == EINTR)
        return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return -errno;
    return cio__fd_wait(fd, st, ev);
}

void cio__fdio_consume_sigpipe(void)
{
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE) {
    }
}

int cio__fdio_take_input(int fd, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    cio_loop *loop = cio__context_loop;
    cio__fd_state *st = loop ? cio__fd_peek(fd) : NULL;
    if (!st || !loop->backend->release_input)
        return 0;
    return loop->backend->release_input(loop, fd, st, data, len);
}

/* ---------------------------------------------- completion backends */

/* The loop's backend runs operations itself (io_uring). */
static inline bool backend_completes(void) { return cio__context_loop->backend->submit != NULL; }

/* Runs op on the backend. A descriptor the kernel cannot poll for the ring
 * (a non-blocking one without "nowait" support) says EAGAIN: wait for
 * readiness, as the readiness backends do, and submit again. */
static ssize_t submit_op(int fd, cio__fd_state *st, const cio__op *op, unsigned ev)
{
    for (;;) {
        ssize_t r = cio__context_loop->backend->submit(cio__context_loop, st, op);
        if (r == -EINTR)
            continue;
        if (r != -EAGAIN || !st || st->kind != CIO__FD_POLLABLE)
            return r;
        int err = cio__fd_wait(fd, st, ev);
        if (err)
            return err;
    }
}

/* Regular-file I/O through the backend, with the pool's rules (file_work):
 * a read returns what it got, a write goes on until all is out. */
static ssize_t file_io_submitted(int fd, cio__fd_state *st, void *rbuf, const void *wbuf,
                                 bool positioned, size_t n, off_t off)
{
    cio__op op = {.code = wbuf ? CIO__OP_WRITE : CIO__OP_READ, .fd = fd, .buf = rbuf};
    size_t done = 0;
    do {
        op.data = wbuf ? (const char *)wbuf + done : NULL;
        op.len = n - done;
        op.offset = positioned ? (int64_t)off + (int64_t)done : -1;
        ssize_t r = submit_op(fd, st, &op, 0);
        if (r < 0)
            return done ? (ssize_t)done : r;
        done += (size_t)r;
        if (!wbuf || r == 0)
            break;
    } while (done < n);
    return (ssize_t)done;
}

/* ----------------------------------------------- regular files, on the pool */

typedef struct file_job {
    cio__job job;
    int fd;
    bool writing;
    bool positioned;
    /* The caller's buffer: rbuf for reads, wbuf for writes. */
    char *rbuf;
    const char *wbuf;
    size_t n;
    off_t off;
    ssize_t result;
} file_job;

static void file_work(cio__job *job)
{
    file_job *j = (file_job *)job;
    size_t done = 0;
    do {
        ssize_t r;
        size_t left = j->n - done;
        if (j->writing) {
            const char *p = j->wbuf + done;
            r = j->positioned ? pwrite(j->fd, p, left, j->off + (off_t)done) : write(j->fd, p, left);
        } else {
            r = j->positioned ? pread(j->fd, j->rbuf, left, j->off) : read(j->fd, j->rbuf, left);
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            j->result = done ? (ssize_t)done : -errno;
            return;
        }
        done += (size_t)r;
        /* A read returns what it got; a write goes on until all is out. */
        if (!j->writing || r == 0)
            break;
    } while (done < j->n);
    j->result = (ssize_t)done;
}

/* Regular-file I/O on the pool. Cancellation cannot take back I/O that has
 * happened, so its result is returned even then; the cancellation shows at
 * the task's next suspending call. */
static ssize_t file_io(int fd, cio__fd_state *st, void *rbuf, const void *wbuf, bool positioned,
                       size_t n, off_t off)
{
    if (backend_completes())
        return file_io_submitted(fd, st, rbuf, wbuf, positioned, n, off);
    file_job j = {.job = {.work = file_work},
                  .fd = fd,
                  .writing = wbuf != NULL,
                  .positioned = positioned,
                  .rbuf = rbuf,
                  .wbuf = wbuf,
                  .n = n,
                  .off = off};
    int err = cio__threadpool_run(&j.job);
    if (err && !j.job.finished)
        return err;
    return j.result;
}

/* ------------------------------------------------------------- readiness */

static int wait_ready(int fd, unsigned ev)
{
    int err = cio__checkpoint();
    if (err)
        return err;
    /* Waiting needs no O_NONBLOCK: a descriptor another library owns keeps
     * its flags (and may have been closed and reused behind cio's back). */
    cio__fd_state *st = cio__fd_get_checked(fd, &err);
    if (!st)
        return err;
    if (st->kind == CIO__FD_FILE)
        return 0; /* always ready, as poll(2) says */
    /* Data a completion backend received ahead of the reads is not in the
     * descriptor any more: the OS would not call it readable. */
    const cio__backend_ops *backend = cio__context_loop->backend;
    if (ev == CIO__EV_READ && backend->has_input && backend->has_input(st))
        return 0;
    return cio__fd_wait(fd, st, ev);
}

int cio_wait_readable(int fd) { return wait_ready(fd, CIO__EV_READ); }
int cio_wait_writable(int fd) { return wait_ready(fd, CIO__EV_WRITE); }

/* ---------------------------------------------------------- read / write */

ssize_t cio_read(int fd, void *buf, size_t n)
{
    int err;
    cio__fd_state *st = begin(fd, &err);
    if (!st)
        return err;
    if (!buf && n)
        return -EINVAL;
    if (st->kind == CIO__FD_FILE)
        return file_io(fd, st, buf, NULL, false, n, 0);
    if (backend_completes()) {
        cio__op op = {.code = st->sock_type ? CIO__OP_RECV : CIO__OP_READ,
                      .fd = fd, .buf = buf, .len = n, .offset = -1};
        return submit_op(fd, st, &op, CIO__EV_READ);
    }
    /* What an edge-triggered server does with a short read (W5's
     * reference): take it as "empty", and wait before reading again. The
     * backend is level-triggered, so data that came meanwhile is reported
     * at the next poll; the read that would only have said EAGAIN (a
     * system call per request-reply exchange) is saved. */
    if (st->drained) {
        st->drained = false;
        if ((err = cio__fd_wait(fd, st, CIO__EV_READ)))
            return err;
    }
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0) {
            st->drained = r > 0 && (size_t)r < n;
            return r;
        }
        if ((err = retry_after_error(fd, st, CIO__EV_READ)))
            return err;
    }
}

/* cio_write on a completion backend: sockets get MSG_NOSIGNAL; a pipe's
 * SIGPIPE is taken back as write(2)'s is. */
static ssize_t write_submitted(int fd, cio__fd_state *st, const void *buf, size_t n)
{
    cio__op op = {.code = st->sock_type ? CIO__OP_SEND : CIO__OP_WRITE,
                  .fd = fd,
                  .offset = -1,
                  .flags = st->sock_type ? MSG_NOSIGNAL : 0};
    size_t done = 0;
    while (done < n) {
        op.data = (const char *)buf + done;
        op.len = n - done;
        ssize_t r = submit_op(fd, st, &op, CIO__EV_WRITE);
        if (r == -EPIPE)
            cio__fdio_consume_sigpipe();
        if (r < 0)
            return r;
        done += (size_t)r;
    }
    return (ssize_t)n;
}

ssize_t cio_write(int fd, const void *buf, size_t n)
{
    int err;
    cio__fd_state *st = begin(fd, &err);
    if (!st)
        return err;
    if (!buf && n)
        return -EINVAL;
    if (st->kind == CIO__FD_FILE)
        return file_io(fd, st, NULL, buf ? buf : "", false, n, 0);
    if (backend_completes())
        return write_submitted(fd, st, buf, n);
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, (const char *)buf + done, n - done);
        if (r >= 0) {
            done += (size_t)r;
            continue;
        }
        if (errno == EPIPE) {
            cio__fdio_consume_sigpipe();
            return -EPIPE;
        }
        if ((err = retry_after_error(fd, st, CIO__EV_WRITE)))
            return err;
    }
    return (ssize_t)n;
}

/* pread/pwrite: regular files only, on the pool; one of rbuf/wbuf set. */
static ssize_t positioned_io(int fd, void *rbuf, const void *wbuf, size_t n, off_t off)
{
    int err;
    cio__fd_state *st = begin(fd, &err);
    if (!st)
        return err;
    if ((!rbuf && !wbuf && n) || off < 0)
        return -EINVAL;
    if (st->kind != CIO__FD_FILE)
        return -ESPIPE;
    return file_io(fd, st, rbuf, wbuf, true, n, off);
}

ssize_t cio_pread(int fd, void *buf, size_t n, off_t off)
{
    return positioned_io(fd, buf, NULL, n, off);
}

ssize_t cio_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    /* A zero-length write from NULL still goes through as a write. */
    return positioned_io(fd, NULL, buf ? buf : (n ? NULL : ""), n, off);
}

/* ---------------------------------------------------------------- sockets */

int cio_accept(int listen_fd, struct sockaddr *addr, socklen_t *len)
{
    int err;
    cio__fd_state *st = begin(listen_fd, &err);
    if (!st)
        return err;
    if (addr && !len)
        return -EINVAL;
    if (backend_completes()) {
        cio__op op = {.code = CIO__OP_ACCEPT,
                      .fd = listen_fd,
                      .flags = SOCK_NONBLOCK | SOCK_CLOEXEC,
                      .peer = addr,
                      .peerlen = len};
        ssize_t fd;
        /* A connection that died in the backlog is not the listener's error. */
        while ((fd = submit_op(listen_fd, st, &op, CIO__EV_READ)) == -ECONNABORTED) {
        }
        return (int)fd;
    }
    for (;;) {
        int fd = accept4(listen_fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        /* A connection that died in the backlog is not the listener's error. */
        if (errno == ECONNABORTED)
            continue;
        if ((err = retry_after_error(listen_fd, st, CIO__EV_READ)))
            return err;
    }
}

int cio_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    int err;
    cio__fd_state *st = begin(fd, &err);
    if (!st)
        return err;
    if (!addr)
        return -EINVAL;
    if (backend_completes()) {
        cio__op op = {.code = CIO__OP_CONNECT, .fd = fd, .addr = addr, .addrlen = len};
        return (int)submit_op(fd, st, &op, CIO__EV_WRITE);
    }
    for (;;) {
        if (connect(fd, addr, len) == 0)
            return 0;
        if (errno == EAGAIN) {
            /* A Unix socket whose listener's backlog is full: try again
             * once the socket is writable. */
            if ((err = cio__fd_wait(fd, st, CIO__EV_WRITE)))
                return err;
            continue;
        }
        /* EINTR: the connection goes on in the background, as EINPROGRESS. */
        if (errno != EINPROGRESS && errno != EINTR)
            return -errno;
        break;
    }
    if ((err = cio__fd_wait(fd, st, CIO__EV_WRITE)))
        return err;
    int so_error = 0;
    socklen_t so_len = sizeof so_error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) != 0)
        return -errno;
    return -so_error;
}

ssize_t cio_recvfrom(int fd, void *buf, size_t n, struct sockaddr *addr, socklen_t *len)
{
    int err;
    cio__fd_state *st = begin(fd, &err);
    if (!st)
        return err;
    if ((!buf && n) || (addr && !len))
        return -EINVAL;
    if (backend_completes()) {
        cio__op op = {.code = CIO__OP_RECV, .fd = fd, .buf = buf, .len = n, .peer = addr, .peerlen = len};
        return submit_op(fd, st, &op, CIO__EV_READ);
    }
    for (;;) {
        ssize_t r = recvfrom(fd, buf, n, 0, addr, len);
        if (r >= 0)
            return r;
        if ((err = retry_after_error(fd, st, CIO__EV_READ)))
            return err;
    }
}

ssize_t cio_sendto(int fd, const void *buf, size_t n, const struct sockaddr *addr, socklen_t len)
{
    int err;
    cio__fd_state *st = begin(fd, &err);
    if (!st)
        return err;
    if (!buf && n)
        return -EINVAL;
    if (backend_completes()) {
        cio__op op = {.code = CIO__OP_SEND,
                      .fd = fd,
                      .data = buf,
                      .len = n,
                      .flags = MSG_NOSIGNAL,
                      .addr = addr,
                      .addrlen = len};
        return submit_op(fd, st, &op, CIO__EV_WRITE);
    }
    for (;;) {
        ssize_t r = sendto(fd, buf, n, MSG_NOSIGNAL, addr, len);
        if (r >= 0)
            return r;
        if ((err = retry_after_error(fd, st, CIO__EV_WRITE)))
            return err;
    }
}

/* ------------------------------------------------------- open / fsync */

/* open or fsync on the pool (readiness backends). */
typedef struct path_job {
    cio__job job;
    const char *path;
    int flags;
    mode_t mode;
    int fd;
    int result;
} path_job;

static void open_work(cio__job *job)
{
    path_job *j = (path_job *)job;
    do
        j->result = open(j->path, j->flags, j->mode);
    while (j->result < 0 && errno == EINTR);
    if (j->result < 0)
        j->result = -errno;
}

static void fsync_work(cio__job *job)
{
    path_job *j = (path_job *)job;
    j->result = fsync(j->fd) == 0 ? 0 : -errno;
}

/* Runs j on the pool; a result the work produced is returned even if the
 * wait was interrupted (as file_io does). */
static int path_job_run(path_job *j)
{
    int err = cio__threadpool_run(&j->job);
    if (err && !j->job.finished)
        return err;
    return j->result;
}

int cio_open(const char *path, int flags, mode_t mode)
{
    int err = cio__sched_checkpoint();
    if (err)
        return err;
    if (!path)
        return -EINVAL;
    flags |= O_CLOEXEC;
    if (backend_completes()) {
        cio__op op = {.code = CIO__OP_OPENAT, .fd = -1, .addr = path, .flags = flags, .mode = mode};
        return (int)submit_op(-1, NULL, &op, 0);
    }
    path_job j = {.job = {.work = open_work}, .path = path, .flags = flags, .mode = mode};
    return path_job_run(&j);
}

int cio_fsync(int fd)
{
    int err;
    cio__fd_state *st = begin(fd, &err);
    if (!st)
        return err;
    if (backend_completes()) {
        cio__op op = {.code = CIO__OP_FSYNC, .fd = fd};
        return (int)submit_op(fd, st, &op, 0);
    }
    path_job j = {.job = {.work = fsync_work}, .fd = fd};
    return path_job_run(&j);
}
