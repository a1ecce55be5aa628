/* SPDX-License-Identifier: MIT */
/* uring_keep.h — the ring a thread keeps between its loops (uring_keep.c). */
#ifndef CIO_URING_KEEP_H
#define CIO_URING_KEEP_H

#include <liburing.h>
#include <stdbool.h>

/* What a kept ring was made for: a loop takes it only if it would have made
 * the same (the ring's size, CIO_URING_DISABLE's mask), and gets the
 * features it had. */
typedef struct cio__uring_keep_key {
    unsigned entries, masked;
} cio__uring_keep_key;

/* Moves the thread's kept ring into *ring and its features into *features
 * and returns true, if the thread keeps one made for key. A kept ring made
 * for another key is closed. */
bool cio__uring_keep_take(struct io_uring *ring, cio__uring_keep_key key, unsigned *features);

/* The thread keeps ring (idle: no request in flight, none queued, no
 * buffers registered) for its next loop, until it exits. False if it
 * cannot (no thread-exit hook): the caller closes the ring. */
bool cio__uring_keep_put(const struct io_uring *ring, cio__uring_keep_key key, unsigned features);

#endif
