/* SPDX-License-Identifier: MIT */
/* io_uring.c — the io_uring backend (Linux 5.6+; its fast paths from 5.19
 * and 6.0): the operations themselves are submitted as SQEs and each task
 * parks on its own CQE; readiness (watch) is a POLL_ADD, for what still
 * waits on readiness (cio_wait_readable, streams, processes, signals).
 *
 * Owns the ring, its features and their fallbacks, the requests it keeps
 * per descriptor (multishot receive and accept, polls, operations in
 * flight), and the rule that a task never leaves a wait while the kernel
 * may still use its buffer. What a call means (write everything, EPIPE,
 * connect's retries) is fdio.c's.
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/backend/uring_keep.h"
#include "io/backend/io_uring.h"
#include "loop.h"

#define RING_ENTRIES 256
/* The provided buffers multishot receives fill: a power of two of them. */
#define BUF_COUNT 256
#define BUF_SIZE 4096
#define BUF_GROUP 0
/* How many completions one look at the CQ copies out before handling them. */
#define REAP_BATCH 64
/* How many connections a multishot accept takes ahead of cio_accept. */
#define ACCEPT_AHEAD 64
/* The kernel's MULTISHOT_MAX_RETRY (io_uring/net.c). */
#define MULTISHOT_MAX_RETRY 32

/* The features, each detected at start-up and each with a fallback:
 * X(NAME, "name as CIO_URING_DISABLE and the description spell it"). */
#define URING_FEATURES(X)                                                                          \
    X(DEFER_TASKRUN, "defer_taskrun")       /* SINGLE_ISSUER + DEFER_TASKRUN (6.1) */              \
    X(RING_FD, "ring_fd")                   /* a registered ring fd (5.18) */                      \
    X(BATCH, "batch")                       /* SQEs wait for the loop's one enter */               \
    X(MULTISHOT_ACCEPT, "multishot_accept") /* 5.19 */                                             \
    X(BUFRING, "bufring")                   /* multishot recv into provided buffers (6.0) */       \
    X(MULTISHOT_POLL, "multishot_poll")     /* the loop's wake-up descriptor (5.13) */             \
    X(NODROP, "nodrop")                     /* required: see uring_open */

enum {
#define URING_FEATURE_BIT(name, text) FEATURE_BIT_##name,
    URING_FEATURES(URING_FEATURE_BIT)
#undef URING_FEATURE_BIT
};
#define FEATURE(name) (1u << FEATURE_BIT_##name)
/* What CIO_URING_DISABLE=all masks: every fast path (not NODROP). */
#define FAST_PATHS (~FEATURE(NODROP))

static const char *const feature_names[] = {
#define URING_FEATURE_NAME(name, text) text,
    URING_FEATURES(URING_FEATURE_NAME)
#undef URING_FEATURE_NAME
};
#define FEATURE_COUNT (sizeof feature_names / sizeof feature_names[0])

/* user_data tags (low 3 bits). IGNORE's requests (cancellations, the
 * timeouts liburing adds on kernels without EXT_ARG, whose user_data is
 * all ones) need nothing done when they complete. */
enum { TAG_OP = 0, TAG_POLL = 1, TAG_RECV = 2, TAG_ACCEPT = 3, TAG_WAKE = 4, TAG_IGNORE = 7 };
#define SEQ_MASK 0x1fffffffu

/* Per descriptor number (cio__fd_state.uring). */
struct cio__uring_fd {
    /* Operations in flight on the descriptor (cio__completion.fd_node). */
    cio__list ops;
    /* Bumped when the number is closed: completions of the multishot
     * requests armed before carry the old value and are dropped. */
    uint32_t gen;
    /* The poll armed for fd.c: its sequence number (in its user_data;
     * bumped at every arm and close) and CIO__EV_* mask (0: none armed). */
    uint32_t poll_seq;
    unsigned poll_events;
    /* A multishot receive is armed; the last one ended with -ENOBUFS, so
     * the next read receives into the caller's buffer. */
    bool recv_armed, recv_nobufs;
    /* How many of the armed receive's completions said more data was
     * waiting (see recv_buffered), and whether it is being cancelled. */
    uint32_t recv_streak;
    bool recv_renewing;
    /* How the stream ended, told once the data before it is read:
     * RECV_GOING, 0 (end of stream, told to every later read) or -errno. */
    int recv_end;
    /* Received buffers not yet read, a FIFO of buffer ids linked through
     * uring_backend.chunks (-1: none), and how much of the head was read. */
    int32_t chunk_head, chunk_tail;
    uint32_t chunk_off;
    /* Tasks waiting for received data or for a connection (waiter.node). */
    cio__list waiters;
    /* A multishot accept is armed (and being cancelled: enough wait); the
     * connections it accepted that no cio_accept took yet (a ring buffer
     * of acc_cap); an error to report. */
    bool accept_armed, accept_stopping;
    int *accepted;
    uint32_t acc_head, acc_len, acc_cap;
    int accept_err;
    /* Requests submitted that name this descriptor number (operations,
     * polls, multishot requests) and whose last CQE has not come. The
     * kernel may look the number up when it runs a request rather than
     * when it takes the SQE (liburing issue 782), so while one may still
     * run, the number must not name another file. */
    uint32_t inflight;
};
enum { RECV_GOING = 1 };

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

typedef struct uring_chunk {
    /* The next buffer of the same descriptor's FIFO (-1: last). */
    int32_t next;
    /* How many bytes the kernel put in it. */
    uint32_t len;
} uring_chunk;

typedef struct uring_backend {
    struct io_uring ring;
    /* FEATURE() bits in use. */
    unsigned features;
    /* Requests submitted whose last CQE has not come (closing waits), and
     * of those TAG_IGNORE's (the cancellations). */
    size_t pending, cancels;
    /* What the ring was made for, and whether it may be kept for the
     * thread's next loop once idle (uring_keep.c; not on kernels without
     * EXT_ARG, where liburing adds timeout requests of its own). */
    cio__uring_keep_key key;
    bool keepable;
    /* The provided buffer ring and the buffers, and per buffer id its
     * place in a descriptor's FIFO (BUFRING only). */
    struct io_uring_buf_ring *br;
    char *bufs;
    uring_chunk chunks[BUF_COUNT];
    /* How often a multishot receive ran out of buffers, and how often
     * completions had to be fetched from the kernel's overflow list
     * (tests read both in the description). */
    unsigned long nobufs, overflows;
    /* Handling completions (a full SQ must not reap again). */
    bool reaping;
    /* uring_close has cancelled everything: nothing is armed again. */
    bool closing;
    /* "io_uring: defer_taskrun ... no-bufring ...", made at open. */
    char features_text[160];
    /* features_text and the counters, made by uring_describe. */
    char description[224];
} uring_backend;

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

/* ------------------------------------------------- provided buffers */

static char *buffer_at(uring_backend *b, int32_t bid) { return b->bufs + (size_t)bid * BUF_SIZE; }

static void buffer_recycle(uring_backend *b, int32_t bid)
{
    io_uring_buf_ring_add(b->br, buffer_at(b, bid), BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(BUF_COUNT), 0);
    io_uring_buf_ring_advance(b->br, 1);
}

static void chunk_append(uring_backend *b, struct cio__uring_fd *uf, int32_t bid, uint32_t len)
{
    b->chunks[bid] = (uring_chunk){.next = -1, .len = len};
    if (uf->chunk_tail >= 0)
        b->chunks[uf->chunk_tail].next = bid;
    else
        uf->chunk_head = bid;
    uf->chunk_tail = bid;
}

/* Copies received bytes into buf, giving emptied buffers back. */
static size_t chunks_copy_out(uring_backend *b, struct cio__uring_fd *uf, char *buf, size_t n)
{
    size_t done = 0;
    while (done < n && uf->chunk_head >= 0) {
        int32_t bid = uf->chunk_head;
        uring_chunk *c = &b->chunks[bid];
        size_t take = CIO__MIN(n - done, (size_t)(c->len - uf->chunk_off));
        memcpy(buf + done, buffer_at(b, bid) + uf->chunk_off, take);
        done += take;
        uf->chunk_off += (uint32_t)take;
        if (uf->chunk_off == c->len) {
            uf->chunk_head = c->next;
            if (uf->chunk_head < 0)
                uf->chunk_tail = -1;
            uf->chunk_off = 0;
            buffer_recycle(b, bid);
        }
    }
    return done;
}

static void chunks_drop(uring_backend *b, struct cio__uring_fd *uf)
{
    while (uf->chunk_head >= 0) {
        int32_t bid = uf->chunk_head;
        uf->chunk_head = b->chunks[bid].next;
        buffer_recycle(b, bid);
    }
    uf->chunk_tail = -1;
    uf->chunk_off = 0;
}

/* Registers the buffer ring (no liburing helper in 2.3 for it). False if
 * the kernel refuses (before 5.19) or memory is short: no BUFRING. */
static bool buffers_open(uring_backend *b)
{
    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    void *br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED)
        return false;
    /* mmap'd, not malloc'd: a write the kernel makes after the ring is
     * gone hits an unmapped page, never memory that was reused. */
    void *bufs = mmap(NULL, (size_t)BUF_COUNT * BUF_SIZE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (bufs == MAP_FAILED)
        goto unmap_ring;
    b->br = br;
    b->bufs = bufs;
    io_uring_buf_ring_init(b->br);
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = BUF_COUNT, .bgid = BUF_GROUP};
    if (io_uring_register_buf_ring(&b->ring, &reg, 0) != 0)
        goto unmap_bufs;
    for (int32_t i = 0; i < BUF_COUNT; i++)
        buffer_recycle(b, i);
    return true;

unmap_bufs:
    munmap(bufs, (size_t)BUF_COUNT * BUF_SIZE);
    b->bufs = NULL;
    b->br = NULL;
unmap_ring:
    munmap(br, ring_bytes);
    return false;
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
            buffer_recycle(b, bid);
        return;
    }
    if (!(flags & IORING_CQE_F_MORE))
        uf->recv_armed = uf->recv_renewing = false;
    if (flags & IORING_CQE_F_SOCK_NONEMPTY)
        uf->recv_streak++;
    if (res > 0 && bid >= 0)
        chunk_append(b, uf, bid, (uint32_t)res);
    else if (bid >= 0)
        buffer_recycle(b, bid);
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

/* The features CIO_URING_DISABLE masks ("all" or names, comma-separated):
 * how the suite tests every fallback on a kernel that has the features. */
static unsigned masked_features(void)
{
    const char *env = getenv("CIO_URING_DISABLE");
    unsigned mask = 0;
    while (env && *env) {
        size_t len = strcspn(env, ",");
        bool known = false;
        if (len == 3 && strncmp(env, "all", 3) == 0) {
            mask |= FAST_PATHS;
            known = true;
        }
        for (size_t i = 0; i < FEATURE_COUNT; i++) {
            if (strlen(feature_names[i]) == len && strncmp(env, feature_names[i], len) == 0) {
                mask |= 1u << i;
                known = true;
            }
        }
        if (!known && len)
            fprintf(stderr, "cio: CIO_URING_DISABLE: no io_uring feature is called '%.*s'\n",
                    (int)len, env);
        env += len + (env[len] == ',');
    }
    return mask;
}

/* sysctl kernel.io_uring_disabled: 2 refuses io_uring to every process
 * (6.6+); 1 only to those outside kernel.io_uring_group, which
 * io_uring_setup itself then refuses. */
static bool disabled_by_sysctl(void)
{
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
    if (!f)
        return false;
    int value = 0;
    bool disabled = fscanf(f, "%d", &value) == 1 && value == 2;
    fclose(f);
    return disabled;
}

/* The opcodes every operation needs (5.6): without one, the ring cannot
 * replace epoll, and the loop falls back to it. */
static const int required_ops[] = {
    IORING_OP_READ,    IORING_OP_WRITE,       IORING_OP_SEND,     IORING_OP_RECV,
    IORING_OP_SENDMSG, IORING_OP_RECVMSG,     IORING_OP_ACCEPT,   IORING_OP_CONNECT,
    IORING_OP_OPENAT,  IORING_OP_FSYNC,       IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE,
    IORING_OP_TIMEOUT, IORING_OP_ASYNC_CANCEL,
};

static int check_kernel(uring_backend *b, const struct io_uring_params *p, unsigned masked)
{
    /* Without NODROP (before 5.5) a full CQ drops completions, and a lost
     * CQE is a task parked for ever. Every kernel with the opcodes below
     * has it; masking it shows the refusal. */
    if (!(p->features & IORING_FEAT_NODROP) || (masked & FEATURE(NODROP)))
        return -ENOSYS;
    b->features |= FEATURE(NODROP);
    struct io_uring_probe *probe = io_uring_get_probe_ring(&b->ring);
    if (!probe)
        return -ENOSYS;
    int err = 0;
    for (size_t i = 0; i < sizeof required_ops / sizeof required_ops[0]; i++) {
        if (!io_uring_opcode_supported(probe, required_ops[i]))
            err = -ENOSYS;
    }
    /* The fast paths have no probe bit of their own: each came with an
     * opcode that can be probed (multishot poll in 5.13, MKDIRAT 5.15;
     * multishot accept and SOCKET in 5.19; multishot recv and SEND_ZC in
     * 6.0). A kernel that still refuses one is caught at its first use. */
    if (io_uring_opcode_supported(probe, IORING_OP_MKDIRAT))
        b->features |= FEATURE(MULTISHOT_POLL);
    if (io_uring_opcode_supported(probe, IORING_OP_SOCKET))
        b->features |= FEATURE(MULTISHOT_ACCEPT);
    if (io_uring_opcode_supported(probe, IORING_OP_SEND_ZC))
        b->features |= FEATURE(BUFRING);
    io_uring_free_probe(probe);
    return err;
}

static void describe_features(uring_backend *b)
{
    char *text = b->features_text;
    size_t at = (size_t)snprintf(text, sizeof b->features_text, "io_uring:");
    for (size_t i = 0; i < FEATURE_COUNT && at < sizeof b->features_text; i++)
        at += (size_t)snprintf(text + at, sizeof b->features_text - at, " %s%s",
                               b->features & (1u << i) ? "" : "no-", feature_names[i]);
}

/* Makes b's ring for b->key and detects its features. */
static int ring_open(uring_backend *b)
{
    unsigned masked = b->key.masked;
    struct io_uring_params p = {0};
    /* The loop's thread is the only one that submits, and completions run
     * in its own enter rather than interrupting it (6.1). */
    if (!(masked & FEATURE(DEFER_TASKRUN)))
        p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int err = io_uring_queue_init_params(b->key.entries, &b->ring, &p);
    if (err == -EINVAL && p.flags) {
        memset(&p, 0, sizeof p);
        err = io_uring_queue_init_params(b->key.entries, &b->ring, &p);
    } else if (err == 0 && p.flags) {
        b->features |= FEATURE(DEFER_TASKRUN);
    }
    if (err)
        return err;
    if ((err = check_kernel(b, &p, masked))) {
        io_uring_queue_exit(&b->ring);
        return err;
    }
    b->features &= ~masked;
    if (!(masked & FEATURE(RING_FD)) && io_uring_register_ring_fd(&b->ring) == 1)
        b->features |= FEATURE(RING_FD);
    if (!(masked & FEATURE(BATCH)))
        b->features |= FEATURE(BATCH);
    b->keepable = p.features & IORING_FEAT_EXT_ARG;
    return 0;
}

static int uring_open(cio_loop *loop)
{
    if (disabled_by_sysctl())
        return -EPERM;
    uring_backend *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    /* CIO_URING_ENTRIES: a smaller ring, for the tests of a full SQ and
     * an overflowing CQ. */
    const char *env = getenv("CIO_URING_ENTRIES");
    b->key.entries = env && atoi(env) > 0 ? (unsigned)atoi(env) : RING_ENTRIES;
    b->key.masked = masked_features();
    if (cio__uring_keep_take(&b->ring, b->key, &b->features)) {
        b->keepable = true;
    } else {
        int err = ring_open(b);
        if (err) {
            free(b);
            return err;
        }
    }
    if ((b->features & FEATURE(BUFRING)) && !buffers_open(b))
        b->features &= ~FEATURE(BUFRING);
    describe_features(b);
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
    bool idle = !b->pending && !b->cancels &&
                (!b->bufs || io_uring_unregister_buf_ring(&b->ring, BUF_GROUP) == 0);
    if (!(idle && b->keepable && cio__uring_keep_put(&b->ring, b->key, b->features)))
        io_uring_queue_exit(&b->ring);
    free_fd_states(loop);
    if (b->bufs) {
        munmap(b->bufs, (size_t)BUF_COUNT * BUF_SIZE);
        munmap(b->br, BUF_COUNT * sizeof(struct io_uring_buf));
    }
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
            return (ssize_t)chunks_copy_out(b, uf, op->buf, op->len);
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
    chunks_drop(b, uf);
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
    size_t n = 0;
    for (int32_t bid = uf->chunk_head; bid >= 0; bid = b->chunks[bid].next)
        n += b->chunks[bid].len;
    n -= uf->chunk_off;
    if (n) {
        if (!(*data = malloc(n)))
            return -ENOMEM;
        *len = chunks_copy_out(b, uf, *data, n);
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
