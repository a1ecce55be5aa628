/* SPDX-License-Identifier: MIT */
/* uring_bufs.h — the io_uring backend's provided buffers and each
 * descriptor's FIFO of received ones (uring_bufs.c). */
#ifndef CIO_BACKEND_URING_BUFS_H
#define CIO_BACKEND_URING_BUFS_H

#include "io/backend/uring.h"

/* Maps the buffers and registers them with b's ring as group BUF_GROUP.
 * False if the kernel refuses (before 5.19) or memory is short: then
 * nothing is left mapped, and the caller turns BUFRING off. */
bool cio__uring_bufs_open(uring_backend *b);

/* Unregisters the buffers from b's ring (at close, once nothing is in
 * flight). True if the ring no longer has them, or never had. */
bool cio__uring_bufs_unregister(uring_backend *b);

/* Unmaps the buffers, once the ring is closed or kept without them. */
void cio__uring_bufs_unmap(uring_backend *b);

/* Gives buffer bid back to the kernel. */
void cio__uring_bufs_recycle(uring_backend *b, int32_t bid);

/* Appends buffer bid, which the kernel filled with len bytes, to uf's FIFO. */
void cio__uring_bufs_append(uring_backend *b, struct cio__uring_fd *uf, int32_t bid, uint32_t len);

/* Copies up to n bytes of uf's FIFO into buf, giving emptied buffers back;
 * returns how many. */
size_t cio__uring_bufs_copy_out(uring_backend *b, struct cio__uring_fd *uf, char *buf, size_t n);

/* How many bytes uf's FIFO holds unread. */
size_t cio__uring_bufs_unread(const uring_backend *b, const struct cio__uring_fd *uf);

/* Discards uf's FIFO, giving every buffer back. */
void cio__uring_bufs_drop(uring_backend *b, struct cio__uring_fd *uf);

#endif
