/* SPDX-License-Identifier: MIT */
/* io_uring.c — the io_uring backend (Linux 5.6+; its fast paths from 5.19
 * and 6.0): the operations themselves are submitted as SQEs and each task
 * parks on its own CQE; readiness (watch) is a POLL_ADD, for what still
 * waits on readiness (cio_wait_readable, streams, processes, signals).
 *
 * Owns the ring's use, its features' fallbacks, the requests it keeps per
 * descriptor (multishot receive and accept, polls, operations in flight),
 * and the rule that a task never leaves a wait while the kernel may still
 * use its buffer. Making the ring and detecting the features is
 * uring_setup.c's, the provided buffers uring_bufs.c's, the ring a thread
 * keeps between loops uring_keep.c's; what a call means (write
 * everything, EPIPE, connect's retries) is fdio.c's.
 *
 * Every request's user_data says what it is: a uring_op on a task's stack
 * (8-byte aligned, so its low 3 bits are TAG_OP), or a per-descriptor
 * request as (fd, sequence, tag), where the sequence tells a request of a
 * closed descriptor from one of its number's next use.
 */
#include "internal.h"

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/backend/io_uring.h"
#include "io/backend/uring_bufs.h"
#include "io/backend/uring_setup.h"
#include "loop.h"

/* How many completions one look at the CQ copies out before handling them. */
#define REAP_BATCH 64
/* How many connections a multishot accept takes ahead of cio_accept. */
#define ACCEPT_AHEAD 64
/* The kernel's MULTISHOT_MAX_RETRY (io_uring/net.c). */
#define MULTISHOT_MAX_RETRY 32

/* user_data tags (low 3 bits). IGNORE's requests (cancellations, the
 * timeouts liburing adds on kernels without EXT_ARG, whose user_data is
 * all ones) need nothing done when they complete. */
enum { TAG_OP = 0, TAG_POLL = 1, TAG_RECV = 2, TAG_ACCEPT = 3, TAG_WAKE = 4, TAG_IGNORE = 7 };
#define SEQ_MASK 0x1fffffffu

/* One operation of one task, on that task's stack: the I/O layer's
 * completion (its user_data), and what the SQE points into. */
typedef struct uring_op {
    cio__completion c;
    /* The descriptor it names and that one's state (its inflight count),
     * or NULL (OPENAT). */
    int fd;
    struct cio__uring_fd *uf;
    /* recvfrom / sendto with an address: what RECVMSG / SENDMSG read. */
    struct msghdr msg;
    struct iovec iov;
} uring_op;

/* ------------------------------------------------------- submission */

static int reap(uring_backend *b);

/* A free SQE. A full submission queue is handed to the kernel at once and
 * the SQE taken again: a burst of any size is queued, never dropped. */
static struct io_uring_sqe *get_sqe(uring_backend *b)
{
    struct io_uring_sqe *sqe;
    while (!(sqe = io_uring_get_sqe(&b->ring))) {
        int r = io_uring_submit(&b->ring);
        if (r >= 0 || r == -EINTR)
            continue;
        /* Kernels before 5.19 refuse to submit while completions wait in
         * the overflow list (-EBUSY), or lack memory for a moment. */
        if ((r == -EBUSY || r == -EAGAIN) && !b->reaping) {
            reap(b);
            continue;
        }
        CIO__PANIC("io_uring: cannot submit: %s", cio_strerror(r));
    }
    return sqe;
}

/* An SQE is filled: it waits for the loop's enter (BATCH), or goes now. */
static void sqe_ready(uring_backend *b, uint64_t user_data, struct io_uring_sqe *sqe)
{
    io_uring_sqe_set_data64(sqe, user_data);
    if ((user_data & 7) != TAG_IGNORE)
        b->pending++;
    else
        b->cancels++;
    if (!(b->features & FEATURE(BATCH)))
        (void)io_uring_submit(&b->ring);
}

/* sqe_ready for a request that names uf's descriptor (not a cancellation,
 * which names a request). */
static void fd_sqe_ready(uring_backend *b, struct cio__uring_fd *uf, uint64_t user_data,
                         struct io_uring_sqe *sqe)
{
    uf->inflight++;
    sqe_ready(b, user_data, sqe);
}

/* The last CQE of a request naming uf's descriptor fd has come: a close
 * that waited for it (uring_defer_close) happens now. */
static void fd_request_ended(struct cio__uring_fd *uf, int fd)
{
    CIO__ASSERT(uf->inflight > 0);
    if (--uf->inflight)
        return;
    cio__fd_state *st = cio__fd_peek(fd);
    if (st && st->closing) {
        st->closing = false;
        close(fd);
    }
}

static uint64_t fd_tag(int tag, int fd, uint32_t seq)
{
    return (uint64_t)(uint32_t)fd << 32 | (uint64_t)(seq & SEQ_MASK) << 3 | (uint64_t)tag;
}

static void cancel_request(uring_backend *b, uint64_t user_data)
{
    struct io_uring_sqe *sqe = get_sqe(b);
    io_uring_prep_cancel64(sqe, user_data, 0);
    sqe_ready(b, TAG_IGNORE, sqe);
}

static struct cio__uring_fd *uring_fd(cio__fd_state *st)
{
    if (CIO__LIKELY(st->uring != NULL))
        return st->uring;
    struct cio__uring_fd *uf = calloc(1, sizeof *uf);
    if (!uf)
        return NULL;
    cio__list_init(&uf->ops);
    cio__list_init(&uf->waiters);
    uf->recv_end = RECV_GOING;
    uf->chunk_head = uf->chunk_tail = -1;
    st->uring = uf;
    return uf;
}

/* ------------------------------------------------------ completions */

static void wake_waiters(struct cio__uring_fd *uf, int result)
{
    cio__list *n;
    while ((n = cio__list_pop_front(&uf->waiters)))
        cio__sched_wake(CIO__CONTAINER_OF(n, cio__waiter, node), result);
}

static unsigned from_poll(int res)
{
    if (res < 0)
        return CIO__EV_ERROR;
    return (res & (POLLIN | POLLRDHUP) ? CIO__EV_READ : 0u) | (res & POLLOUT ? CIO__EV_WRITE : 0u) |
           (res & (POLLERR | POLLHUP | POLLNVAL) ? CIO__EV_ERROR : 0u);
}

static void poll_done(int fd, uint32_t seq, int res)
{
    cio__fd_state *st = cio__fd_peek(fd);
    struct cio__uring_fd *uf = st ? st->uring : NULL;
    /* Replaced by a poll with another mask, or closed: that one reports. */
    if (!uf || seq != (uf->poll_seq & SEQ_MASK) || !uf->poll_events)
        return;
    uf->poll_events = 0;
    cio__fd_disarmed(fd);
    cio__fd_ready(fd, from_poll(res));
}

static void arm_wake_poll(cio_loop *loop, uring_backend *b);

static void wake_poll_done(cio_loop *loop, uring_backend *b, int res, bool more)
{
    /* fd.c drains the eventfd; a one-shot poll (or a multishot one the
     * kernel ended) is armed again for the next post. */
    if (res >= 0)
        cio__fd_ready(loop->posted.wake_fd, CIO__EV_READ);
    if (!more && !b->closing)
        arm_wake_poll(loop, b);
}

static void recv_done(uring_backend *b, int fd, uint32_t gen, int res, unsigned flags)
{
    int32_t bid = flags & IORING_CQE_F_BUFFER ? (int32_t)(flags >> IORING_CQE_BUFFER_SHIFT) : -1;
    cio__fd_state *st = cio__fd_peek(fd);
    struct cio__uring_fd *uf = st ? st->uring : NULL;
    if (!uf || gen != (uf->gen & SEQ_MASK)) {
        /* Data for a descriptor closed since: nobody can read it. */
        if (bid >= 0)
            cio__uring_bufs_recycle(b, bid);
        return;
    }
    if (!(flags & IORING_CQE_F_MORE))
        uf->recv_armed = uf->recv_renewing = false;
    if (flags & IORING_CQE_F_SOCK_NONEMPTY)
        uf->recv_streak++;
    if (res > 0 && bid >= 0)
        cio__uring_bufs_append(b, uf, bid, (uint32_t)res);
    else if (bid >= 0)
        cio__uring_bufs_recycle(b, bid);
    if (res == -ENOBUFS) {
        /* Every buffer holds unread data: nothing was lost, the bytes wait
         * in the socket, and the next read takes them itself. */
        uf->recv_nobufs = true;
        b->nobufs++;
    } else if (res == -EINVAL && !uf->recv_armed) {
        /* A kernel without multishot receive that the start-up probe did
         * not catch: plain receives from now on. */
        b->features &= ~FEATURE(BUFRING);
    } else if (res <= 0 && res != -ECANCELED) {
        uf->recv_end = res;
    }
    wake_waiters(uf, 0);
}

static void accept_done(uring_backend *b, int fd, uint32_t gen, int res, unsigned flags)
{
    cio__fd_state *st = cio__fd_peek(fd);
    struct cio__uring_fd *uf = st ? st->uring : NULL;
    if (!uf || gen != (uf->gen & SEQ_MASK)) {
        if (res >= 0)
            close(res);
        return;
    }
    if (!(flags & IORING_CQE_F_MORE))
        uf->accept_armed = uf->accept_stopping = false;
    if (res >= 0) {
        if (uf->acc_len == uf->acc_cap) {
            uint32_t cap = uf->acc_cap ? uf->acc_cap * 2 : 16;
            int *grown = malloc(cap * sizeof *grown);
            if (!grown) {
                close(res);
                uf->accept_err = -ENOMEM;
                wake_waiters(uf, 0);
                return;
            }
            for (uint32_t i = 0; i < uf->acc_len; i++)
                grown[i] = uf->accepted[(uf->acc_head + i) % uf->acc_cap];
            free(uf->accepted);
            uf->accepted = grown;
            uf->acc_cap = cap;
            uf->acc_head = 0;
        }
        uf->accepted[(uf->acc_head + uf->acc_len++) % uf->acc_cap] = res;
        /* A listener nobody accepts from keeps the rest in the kernel's
         * backlog, as it would without io_uring: stop taking them. */
        if (uf->acc_len >= ACCEPT_AHEAD && uf->accept_armed && !uf->accept_stopping) {
            cancel_request(b, fd_tag(TAG_ACCEPT, fd, gen));
            uf->accept_stopping = true;
        }
    } else if (res == -EINVAL && !uf->accept_armed) {
        b->features &= ~FEATURE(MULTISHOT_ACCEPT);
    } else if (res != -ECANCELED) {
        uf->accept_err = res;
    }
    wake_waiters(uf, 0);
}

static void handle_cqe(cio_loop *loop, uring_backend *b, const struct io_uring_cqe *cqe)
{
    uint64_t ud = cqe->user_data;
    int tag = (int)(ud & 7);
    if (tag == TAG_IGNORE) {
        if (ud != LIBURING_UDATA_TIMEOUT)
            b->cancels--;
        return;
    }
    bool last = !(cqe->flags & IORING_CQE_F_MORE);
    if (last)
        b->pending--;
    int fd = (int)(ud >> 32);
    uint32_t seq = (uint32_t)(ud >> 3) & SEQ_MASK;
    if (tag == TAG_OP) {
        uring_op *u = (uring_op *)(uintptr_t)ud;
        struct cio__uring_fd *uf = u->uf;
        int op_fd = u->fd;
        cio__backend_completed(&u->c, cqe->res);
        if (uf)
            fd_request_ended(uf, op_fd);
        return;
    }
    switch (tag) {
    case TAG_POLL:
        poll_done(fd, seq, cqe->res);
        break;
    case TAG_RECV:
        recv_done(b, fd, seq, cqe->res, cqe->flags);
        break;
    case TAG_ACCEPT:
        accept_done(b, fd, seq, cqe->res, cqe->flags);
        break;
    case TAG_WAKE:
        wake_poll_done(loop, b, cqe->res, cqe->flags & IORING_CQE_F_MORE);
        return;
    default:
        CIO__PANIC("io_uring: completion with unknown user_data %#llx", (unsigned long long)ud);
    }
    if (last) {
        cio__fd_state *st = cio__fd_peek(fd);
        CIO__ASSERT(st && st->uring);
        fd_request_ended(st->uring, fd);
    }
}

/* Handles every completion there is, those the kernel kept in its overflow
 * list when the CQ was full (IORING_FEAT_NODROP) included. Each batch is
 * copied out and the CQ advanced before handling, so that a handler may
 * submit (and the kernel post) without the CQ filling under it. */
static int reap(uring_backend *b)
{
    cio_loop *loop = cio__context_loop;
    struct io_uring_cqe batch[REAP_BATCH];
    int total = 0;
    bool was_reaping = b->reaping;
    b->reaping = true;
    for (;;) {
        unsigned n = 0, head;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&b->ring, head, cqe)
        {
            batch[n++] = *cqe;
            if (n == REAP_BATCH)
                break;
        }
        if (n == 0) {
            if (!io_uring_cq_has_overflow(&b->ring))
                break;
            /* The CQ is empty and completions wait in the kernel's
             * overflow list: one more enter moves them over. */
            b->overflows++;
            (void)io_uring_get_events(&b->ring);
            continue;
        }
        io_uring_cq_advance(&b->ring, n);
        for (unsigned i = 0; i < n; i++)
            handle_cqe(loop, b, &batch[i]);
        total += (int)n;
    }
    b->reaping = was_reaping;
    return total;
}

/* ----------------------------------------------------- life cycle */

static int uring_open(cio_loop *loop)
{
    if (cio__uring_setup_disabled())
        return -EPERM;
    uring_backend *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    int err = cio__uring_setup_ring(b);
    if (err) {
        free(b);
        return err;
    }
    if ((b->features & FEATURE(BUFRING)) && !cio__uring_bufs_open(b))
        b->features &= ~FEATURE(BUFRING);
    cio__uring_setup_describe(b);
    loop->backend_data = b;
    return 0;
}

/* Frees every descriptor's state, closing connections accepted that no
 * cio_accept took and descriptors whose close waited for their requests. */
static void free_fd_states(cio_loop *loop)
{
    for (size_t i = 0; i < loop->fds.nblocks; i++) {
        cio__fd_state *block = loop->fds.blocks[i];
        for (size_t j = 0; block && j < CIO__FDS_PER_BLOCK; j++) {
            struct cio__uring_fd *uf = block[j].uring;
            if (!uf)
                continue;
            for (uint32_t k = 0; k < uf->acc_len; k++)
                close(uf->accepted[(uf->acc_head + k) % uf->acc_cap]);
            /* The ring is gone: no request can run any more. */
            if (block[j].closing)
                close((int)(i * CIO__FDS_PER_BLOCK + j));
            free(uf->accepted);
            free(uf);
            block[j].uring = NULL;
        }
    }
}

static void uring_close(cio_loop *loop)
{
    uring_backend *b = loop->backend_data;
    /* Every task has finished, so what is left is the descriptors' own
     * requests (polls, multishot receives and accepts). The kernel lets go
     * of their buffers only when their last CQE is posted: cancel them
     * all and wait for it, before the buffers are unmapped. */
    b->closing = true;
    if (b->pending) {
        struct io_uring_sqe *sqe = get_sqe(b);
        io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
        sqe_ready(b, TAG_IGNORE, sqe);
    }
    for (int tries = 0; (b->pending || b->cancels) && tries < 100; tries++) {
        struct __kernel_timespec ts = {.tv_nsec = 10000000};
        struct io_uring_cqe *cqe;
        (void)io_uring_submit_and_wait_timeout(&b->ring, &cqe, 1, &ts, NULL);
        reap(b);
    }
    /* Idle, the ring stays with the thread (uring_keep.c says why): a
     * stale request or cancellation must not reach the next loop, nor a
     * buffer ring whose memory is about to go. */
    bool idle = !b->pending && !b->cancels && cio__uring_bufs_unregister(b);
    if (!(idle && b->keepable && cio__uring_keep_put(&b->ring, b->key, b->features)))
        io_uring_queue_exit(&b->ring);
    free_fd_states(loop);
    cio__uring_bufs_unmap(b);
    free(b);
    loop->backend_data = NULL;
}

/* -------------------------------------------------------- readiness */

static void arm_wake_poll(cio_loop *loop, uring_backend *b)
{
    struct io_uring_sqe *sqe = get_sqe(b);
    if (b->features & FEATURE(MULTISHOT_POLL))
        io_uring_prep_poll_multishot(sqe, loop->posted.wake_fd, POLLIN);
    else
        io_uring_prep_poll_add(sqe, loop->posted.wake_fd, POLLIN);
    sqe_ready(b, TAG_WAKE, sqe);
}

/* One-shot polls, level-triggered per wait: a poll reports what holds when
 * it is armed, and fd.c arms one for each wait (cio__fd_disarmed). A
 * multishot poll reports edges only, and would leave a task that waits on
 * data a previous reader left unread parked for ever. The loop's eventfd,
 * which fd.c drains on every report, gets the multishot one. */
static int uring_watch(cio_loop *loop, int fd, unsigned old, unsigned events)
{
    uring_backend *b = loop->backend_data;
    if (fd == loop->posted.wake_fd) {
        if (!old && events)
            arm_wake_poll(loop, b);
        return 0;
    }
    int err;
    cio__fd_state *st = cio__fd_get_for_wait(fd, &err);
    if (!st)
        return err;
    struct cio__uring_fd *uf = uring_fd(st);
    if (!uf)
        return -ENOMEM;
    if (uf->poll_events) {
        cancel_request(b, fd_tag(TAG_POLL, fd, uf->poll_seq));
        uf->poll_events = 0;
    }
    uf->poll_seq++;
    if (events) {
        struct io_uring_sqe *sqe = get_sqe(b);
        unsigned mask = (events & CIO__EV_READ ? POLLIN | POLLRDHUP : 0u) |
                        (events & CIO__EV_WRITE ? POLLOUT : 0u);
        io_uring_prep_poll_add(sqe, fd, mask);
        fd_sqe_ready(b, uf, fd_tag(TAG_POLL, fd, uf->poll_seq), sqe);
        uf->poll_events = events;
    }
    return 0;
}

/* Submits what is queued and waits for completions, in one io_uring_enter
 * (the loop's only one per iteration when BATCH is on): not at all for a
 * timeout of 0, until timeout_ns, or without limit. */
static int uring_poll(cio_loop *loop, int64_t timeout_ns)
{
    uring_backend *b = loop->backend_data;
    int r;
    if (timeout_ns == 0) {
        r = io_uring_submit_and_get_events(&b->ring);
    } else if (timeout_ns < 0) {
        r = io_uring_submit_and_wait(&b->ring, 1);
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000,
                                       .tv_nsec = timeout_ns % 1000000000};
        struct io_uring_cqe *cqe;
        r = io_uring_submit_and_wait_timeout(&b->ring, &cqe, 1, &ts, NULL);
    }
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY)
        return r;
    return reap(b);
}

/* ------------------------------------------------------- operations */

static void prep_op(struct io_uring_sqe *sqe, uring_op *u, const cio__op *op)
{
    /* One request moves at most what read(2) does (MAX_RW_COUNT). */
    unsigned len = (unsigned)CIO__MIN(op->len, (size_t)0x7ffff000);
    switch ((cio__op_code)op->code) {
    case CIO__OP_READ:
        io_uring_prep_read(sqe, op->fd, op->buf, len, (uint64_t)op->offset);
        break;
    case CIO__OP_WRITE:
        io_uring_prep_write(sqe, op->fd, op->data, len, (uint64_t)op->offset);
        break;
    case CIO__OP_RECV:
        if (op->peer) {
            u->iov = (struct iovec){.iov_base = op->buf, .iov_len = len};
            u->msg = (struct msghdr){
                .msg_name = op->peer, .msg_namelen = *op->peerlen, .msg_iov = &u->iov, .msg_iovlen = 1};
            io_uring_prep_recvmsg(sqe, op->fd, &u->msg, (unsigned)op->flags);
        } else {
            io_uring_prep_recv(sqe, op->fd, op->buf, len, op->flags);
        }
        break;
    case CIO__OP_SEND:
        if (op->addr) {
            /* The kernel reads the iovec, never writes it. */
            memcpy(&u->iov.iov_base, &op->data, sizeof op->data);
            u->iov.iov_len = len;
            u->msg = (struct msghdr){.msg_namelen = op->addrlen, .msg_iov = &u->iov, .msg_iovlen = 1};
            memcpy(&u->msg.msg_name, &op->addr, sizeof op->addr);
            io_uring_prep_sendmsg(sqe, op->fd, &u->msg, (unsigned)op->flags);
        } else {
            io_uring_prep_send(sqe, op->fd, op->data, len, op->flags);
        }
        break;
    case CIO__OP_ACCEPT:
        io_uring_prep_accept(sqe, op->fd, op->peer, op->peerlen, op->flags);
        break;
    case CIO__OP_CONNECT:
        io_uring_prep_connect(sqe, op->fd, op->addr, op->addrlen);
        break;
    case CIO__OP_OPENAT:
        io_uring_prep_openat(sqe, AT_FDCWD, op->addr, op->flags, op->mode);
        break;
    case CIO__OP_FSYNC:
        io_uring_prep_fsync(sqe, op->fd, 0);
        break;
    }
}

static void cancel_op(cio_loop *loop, cio__completion *c)
{
    cancel_request(loop->backend_data, (uint64_t)(uintptr_t)c);
}

/* Submits op and parks until its CQE (cio__backend_complete: the
 * cancellation rule and what the task is told). */
static ssize_t run_op(cio_loop *loop, uring_backend *b, struct cio__uring_fd *uf,
                      const cio__op *op)
{
    uring_op u;
    cio__backend_completion_init(&u.c, op);
    u.fd = op->fd;
    u.uf = uf;
    struct io_uring_sqe *sqe = get_sqe(b);
    prep_op(sqe, &u, op);
    if (uf) {
        cio__list_push_back(&uf->ops, &u.c.fd_node);
        fd_sqe_ready(b, uf, (uint64_t)(uintptr_t)&u, sqe);
    } else {
        sqe_ready(b, (uint64_t)(uintptr_t)&u, sqe);
    }
    ssize_t r = cio__backend_complete(loop, &u.c, op, cancel_op);
    if (op->code == CIO__OP_RECV && op->peer && r >= 0)
        *op->peerlen = u.msg.msg_namelen;
    return r;
}

static void unlink_uring_waiter(cio__waiter *w) { cio__list_remove(&w->node); }

/* Parks until a multishot request of fd brings something (or fd is
 * closed: -EBADF). Cancellable at any time: the kernel writes into the
 * backend's buffers, never the task's. */
static int wait_multishot(cio_loop *loop, int fd, struct cio__uring_fd *uf)
{
    cio__waiter w;
    cio__waiter_init(&w, CIO__WAIT_READABLE, (void *)(intptr_t)fd, unlink_uring_waiter);
    cio__list_push_back(&uf->waiters, &w.node);
    return cio__sched_wait(&w);
}

/* cio_read of a stream socket: out of the buffers a multishot receive
 * filled. The received data is kept per descriptor until read, so a read
 * that is cancelled, or asks for less than arrived, loses nothing. */
static ssize_t recv_buffered(cio_loop *loop, uring_backend *b, struct cio__uring_fd *uf,
                             const cio__op *op)
{
    if (op->len == 0)
        return 0;
    for (;;) {
        if (uf->chunk_head >= 0)
            return (ssize_t)cio__uring_bufs_copy_out(b, uf, op->buf, op->len);
        if (uf->recv_end != RECV_GOING) {
            int end = uf->recv_end;
            if (end < 0)
                uf->recv_end = RECV_GOING;
            return end;
        }
        if (!uf->recv_armed) {
            if (uf->recv_nobufs || !(b->features & FEATURE(BUFRING))) {
                uf->recv_nobufs = false;
                return run_op(loop, b, uf, op);
            }
            struct io_uring_sqe *sqe = get_sqe(b);
            io_uring_prep_recv_multishot(sqe, op->fd, NULL, 0, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = BUF_GROUP;
            fd_sqe_ready(b, uf, fd_tag(TAG_RECV, op->fd, uf->gen), sqe);
            uf->recv_armed = true;
            uf->recv_streak = 0;
        } else if (uf->recv_streak >= MULTISHOT_MAX_RETRY && !uf->recv_renewing) {
            /* After that many receives in a row the kernel requeues the
             * request, and from then on it waits for a new wake-up before
             * receiving again (seen on 6.18): an end of stream that came
             * before it is never reported. Once all it brought is read,
             * end it and arm a fresh one, whose first receive looks. */
            cancel_request(b, fd_tag(TAG_RECV, op->fd, uf->gen));
            uf->recv_renewing = true;
        }
        int err = wait_multishot(loop, op->fd, uf);
        if (err)
            return err;
    }
}

/* cio_accept: from the connections a multishot accept took. */
static ssize_t accept_queued(cio_loop *loop, uring_backend *b, struct cio__uring_fd *uf,
                             const cio__op *op)
{
    for (;;) {
        if (uf->acc_len) {
            int fd = uf->accepted[uf->acc_head];
            uf->acc_head = (uf->acc_head + 1) % uf->acc_cap;
            uf->acc_len--;
            /* One multishot request serves every accept, so the peer's
             * address is asked for afterwards. */
            if (op->peer && getpeername(fd, op->peer, op->peerlen) != 0)
                *op->peerlen = 0;
            return fd;
        }
        if (uf->accept_err) {
            int err = uf->accept_err;
            uf->accept_err = 0;
            return err;
        }
        if (!uf->accept_armed) {
            if (!(b->features & FEATURE(MULTISHOT_ACCEPT)))
                return run_op(loop, b, uf, op);
            struct io_uring_sqe *sqe = get_sqe(b);
            io_uring_prep_multishot_accept(sqe, op->fd, NULL, NULL, op->flags);
            fd_sqe_ready(b, uf, fd_tag(TAG_ACCEPT, op->fd, uf->gen), sqe);
            uf->accept_armed = true;
        }
        int err = wait_multishot(loop, op->fd, uf);
        if (err)
            return err;
    }
}

static ssize_t uring_submit(cio_loop *loop, cio__fd_state *st, const cio__op *op)
{
    uring_backend *b = loop->backend_data;
    struct cio__uring_fd *uf = NULL;
    if (st && !(uf = uring_fd(st)))
        return -ENOMEM;
    if (op->code == CIO__OP_RECV && !op->peer && !op->flags && st->sock_type == SOCK_STREAM &&
        (b->features & FEATURE(BUFRING)))
        return recv_buffered(loop, b, uf, op);
    if (op->code == CIO__OP_ACCEPT && (b->features & FEATURE(MULTISHOT_ACCEPT)))
        return accept_queued(loop, b, uf, op);
    return run_op(loop, b, uf, op);
}

/* cio_close (and cio_fd_forget): the operations in flight are cancelled
 * and end with -EBADF once their CQEs are in (their tasks stay parked until
 * then); the multishot requests and the poll are cancelled and their late
 * CQEs dropped (gen, poll_seq); unread data and connections are discarded.
 * The cancellations go by user_data; the number itself is released only
 * when they have all ended (uring_defer_close). */
static void uring_forget(cio_loop *loop, int fd, cio__fd_state *st)
{
    uring_backend *b = loop->backend_data;
    struct cio__uring_fd *uf = st->uring;
    if (!uf)
        return;
    cio__list *n;
    while ((n = cio__list_pop_front(&uf->ops))) {
        cio__completion *c = CIO__CONTAINER_OF(n, cio__completion, fd_node);
        c->closed = true;
        cancel_request(b, (uint64_t)(uintptr_t)c);
    }
    if (uf->poll_events)
        cancel_request(b, fd_tag(TAG_POLL, fd, uf->poll_seq));
    if (uf->recv_armed)
        cancel_request(b, fd_tag(TAG_RECV, fd, uf->gen));
    if (uf->accept_armed)
        cancel_request(b, fd_tag(TAG_ACCEPT, fd, uf->gen));
    uf->poll_events = 0;
    uf->poll_seq++;
    uf->gen++;
    uf->recv_armed = uf->recv_nobufs = uf->recv_renewing = false;
    uf->accept_armed = uf->accept_stopping = false;
    uf->recv_end = RECV_GOING;
    cio__uring_bufs_drop(b, uf);
    for (; uf->acc_len; uf->acc_len--, uf->acc_head = (uf->acc_head + 1) % uf->acc_cap)
        close(uf->accepted[uf->acc_head]);
    uf->accept_err = 0;
    wake_waiters(uf, -EBADF);
}

/* cio_close, once uring_forget has cancelled fd's requests: they may
 * still run, and would run on whatever file the number names by then (a
 * socket opened meanwhile: its data eaten, its client accepted, bytes
 * meant for the old peer sent to it). So the number stays taken until
 * their last CQEs are in (tokio-uring's rule), and fd_request_ended closes
 * it; cio_close returns at once all the same. */
static bool uring_defer_close(cio_loop *loop, int fd, cio__fd_state *st)
{
    (void)loop;
    struct cio__uring_fd *uf = st->uring;
    if (!uf || uf->inflight == 0)
        return false;
    st->closing = true;
    return true;
}

/* OpenSSL is taking over fd's reads: the multishot receive is ended, and
 * waited for, since until its last CQE it may take more of the bytes that
 * OpenSSL must read; then what it took and nobody read is handed over. An
 * end of stream it saw is not: the socket reports it again to read(2). */
static int uring_release_input(cio_loop *loop, int fd, cio__fd_state *st, char **data, size_t *len)
{
    uring_backend *b = loop->backend_data;
    struct cio__uring_fd *uf = st->uring;
    if (!uf)
        return 0;
    if (uf->recv_armed && !uf->recv_renewing) {
        cancel_request(b, fd_tag(TAG_RECV, fd, uf->gen));
        uf->recv_renewing = true;
    }
    while (uf->recv_armed) {
        int err = wait_multishot(loop, fd, uf);
        if (err)
            return err;
    }
    size_t n = cio__uring_bufs_unread(b, uf);
    if (n) {
        if (!(*data = malloc(n)))
            return -ENOMEM;
        *len = cio__uring_bufs_copy_out(b, uf, *data, n);
    }
    uf->recv_end = RECV_GOING;
    uf->recv_nobufs = false;
    return 0;
}

static bool uring_has_input(const cio__fd_state *st)
{
    const struct cio__uring_fd *uf = st->uring;
    return uf && (uf->chunk_head >= 0 || uf->recv_end != RECV_GOING || uf->acc_len);
}

static const char *uring_describe(cio_loop *loop)
{
    uring_backend *b = loop->backend_data;
    snprintf(b->description, sizeof b->description, "%s; sq %u; nobufs %lu; overflows %lu",
             b->features_text, b->ring.sq.ring_entries, b->nobufs, b->overflows);
    return b->description;
}

const cio__backend_ops cio__io_uring_backend = {
    .name = "io_uring",
    .open = uring_open,
    .close = uring_close,
    .watch = uring_watch,
    .poll = uring_poll,
    .submit = uring_submit,
    .forget = uring_forget,
    .defer_close = uring_defer_close,
    .has_input = uring_has_input,
    .release_input = uring_release_input,
    .describe = uring_describe,
    .refusal_hint = "io_uring needs Linux 5.6+ (with IORING_FEAT_NODROP), not blocked by seccomp "
                    "(containers often block it) nor by sysctl kernel.io_uring_disabled",
};
