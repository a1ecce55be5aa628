/* fdio.c — read, write, accept, connect... that suspend instead of
 * blocking.
 *
 * Each call tries the system call first and waits only on EAGAIN, so data
 * that is already there costs no trip through the loop. Regular files go to
 * the thread pool (the OS never says "would block" for them). Owns SIGPIPE
 * handling: the loop thread blocks SIGPIPE while it runs (loop.c), and a
 * write that meets EPIPE takes the signal it raised off the thread's
 * pending set, so the process is never killed and no stray signal is left
 * behind for the application.
 */
#include "internal.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "threadpool.h"

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
static ssize_t file_io(int fd, void *rbuf, const void *wbuf, bool positioned, size_t n, off_t off)
{
    file_job j = {.job = {.work = file_work},
                  .fd = fd,
                  .writing = wbuf != NULL,
                  .positioned = positioned,
                  .rbuf = rbuf,
                  .wbuf = wbuf,
                  .n = n,
                  .off = off};
    int err = cio__job_run(&j.job);
    if (err && !j.job.finished)
        return err;
    return j.result;
}

/* ------------------------------------------------------------- readiness */

static int wait_ready(int fd, unsigned ev)
{
    int err;
    cio__fd_state *st = begin(fd, &err);
    if (!st)
        return err;
    if (st->kind == CIO__FD_FILE)
        return 0; /* always ready, as poll(2) says */
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
        return file_io(fd, buf, NULL, false, n, 0);
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

ssize_t cio_write(int fd, const void *buf, size_t n)
{
    int err;
    cio__fd_state *st = begin(fd, &err);
    if (!st)
        return err;
    if (!buf && n)
        return -EINVAL;
    if (st->kind == CIO__FD_FILE)
        return file_io(fd, NULL, buf ? buf : "", false, n, 0);
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
    return file_io(fd, rbuf, wbuf, true, n, off);
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
    for (;;) {
        ssize_t r = sendto(fd, buf, n, MSG_NOSIGNAL, addr, len);
        if (r >= 0)
            return r;
        if ((err = retry_after_error(fd, st, CIO__EV_WRITE)))
            return err;
    }
}
