/* SPDX-License-Identifier: MIT */
/* uring_bufs.c — the io_uring backend's provided buffers (BUFRING): the
 * buffer ring multishot receives take buffers from, and per descriptor the
 * FIFO of received buffers that no read took yet, each given back to the
 * kernel once read. What a receive's completion means, and when a read
 * falls back to the caller's buffer, is io_uring.c's.
 */
#include "internal.h"

#include <string.h>
#include <sys/mman.h>

#include "io/backend/uring_bufs.h"

static char *buffer_at(uring_backend *b, int32_t bid) { return b->bufs + (size_t)bid * BUF_SIZE; }

void cio__uring_bufs_recycle(uring_backend *b, int32_t bid)
{
    io_uring_buf_ring_add(b->br, buffer_at(b, bid), BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(BUF_COUNT), 0);
    io_uring_buf_ring_advance(b->br, 1);
}

void cio__uring_bufs_append(uring_backend *b, struct cio__uring_fd *uf, int32_t bid, uint32_t len)
{
    b->chunks[bid] = (uring_chunk){.next = -1, .len = len};
    if (uf->chunk_tail >= 0)
        b->chunks[uf->chunk_tail].next = bid;
    else
        uf->chunk_head = bid;
    uf->chunk_tail = bid;
}

size_t cio__uring_bufs_copy_out(uring_backend *b, struct cio__uring_fd *uf, char *buf, size_t n)
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
            cio__uring_bufs_recycle(b, bid);
        }
    }
    return done;
}

size_t cio__uring_bufs_unread(const uring_backend *b, const struct cio__uring_fd *uf)
{
    size_t n = 0;
    for (int32_t bid = uf->chunk_head; bid >= 0; bid = b->chunks[bid].next)
        n += b->chunks[bid].len;
    return n - uf->chunk_off;
}

void cio__uring_bufs_drop(uring_backend *b, struct cio__uring_fd *uf)
{
    while (uf->chunk_head >= 0) {
        int32_t bid = uf->chunk_head;
        uf->chunk_head = b->chunks[bid].next;
        cio__uring_bufs_recycle(b, bid);
    }
    uf->chunk_tail = -1;
    uf->chunk_off = 0;
}

/* No liburing helper in 2.3 registers a buffer ring: it is mapped and
 * registered here. */
bool cio__uring_bufs_open(uring_backend *b)
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
        cio__uring_bufs_recycle(b, i);
    return true;

unmap_bufs:
    munmap(bufs, (size_t)BUF_COUNT * BUF_SIZE);
    b->bufs = NULL;
    b->br = NULL;
unmap_ring:
    munmap(br, ring_bytes);
    return false;
}

bool cio__uring_bufs_unregister(uring_backend *b)
{
    return !b->bufs || io_uring_unregister_buf_ring(&b->ring, BUF_GROUP) == 0;
}

void cio__uring_bufs_unmap(uring_backend *b)
{
    if (b->bufs) {
        munmap(b->bufs, (size_t)BUF_COUNT * BUF_SIZE);
        munmap(b->br, BUF_COUNT * sizeof(struct io_uring_buf));
    }
}
