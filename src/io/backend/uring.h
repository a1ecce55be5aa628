/* SPDX-License-Identifier: MIT */
/* uring.h — what the io_uring backend's files share (io_uring.c, uring_setup.c,
 * uring_bufs.c): the backend's state, a descriptor's state, the features.
 * Private to them; the rest of the library sees only io_uring.h's table.
 */
#ifndef CIO_BACKEND_URING_H
#define CIO_BACKEND_URING_H

#include "internal.h"

#include <liburing.h>

#include "io/backend/uring_keep.h"
#include "list.h"

/* The provided buffers multishot receives fill: a power of two of them. */
#define BUF_COUNT 256
#define BUF_SIZE 4096
#define BUF_GROUP 0

/* The features, each detected at start-up and each with a fallback:
 * X(NAME, "name as CIO_URING_DISABLE and the description spell it"). */
#define URING_FEATURES(X)                                                                          \
    X(DEFER_TASKRUN, "defer_taskrun")       /* SINGLE_ISSUER + DEFER_TASKRUN (6.1) */              \
    X(RING_FD, "ring_fd")                   /* a registered ring fd (5.18) */                      \
    X(BATCH, "batch")                       /* SQEs wait for the loop's one enter */               \
    X(MULTISHOT_ACCEPT, "multishot_accept") /* 5.19 */                                             \
    X(BUFRING, "bufring")                   /* multishot recv into provided buffers (6.0) */       \
    X(MULTISHOT_POLL, "multishot_poll")     /* the loop's wake-up descriptor (5.13) */             \
    X(NODROP, "nodrop")                     /* required: see uring_setup.c */

enum {
#define URING_FEATURE_BIT(name, text) FEATURE_BIT_##name,
    URING_FEATURES(URING_FEATURE_BIT)
#undef URING_FEATURE_BIT
};
#define FEATURE(name) (1u << FEATURE_BIT_##name)

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
     * place in a descriptor's FIFO (BUFRING only; uring_bufs.c). */
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

#endif
