/* SPDX-License-Identifier: MIT */
/* timer.h — the loop's timers: a 4-ary min-heap of (deadline, sequence).
 *
 * Entries carry their key inline, so sifting touches only the heap array,
 * not the timers themselves; cancelling is lazy (the entry stays until it
 * reaches the top, and the heap is rebuilt when more than half of it is
 * dead), so a timer needs no back-pointer into the heap. Equal deadlines
 * fire in the order they were set (the sequence breaks ties).
 */
#ifndef CIO_TIMER_H
#define CIO_TIMER_H

#include "internal.h"

typedef struct cio__timer_entry {
    /* Deadline in nanoseconds on CLOCK_MONOTONIC. */
    int64_t when;
    /* Insertion order, for FIFO among equal deadlines. */
    uint64_t seq;
    /* The handle id of the callback record to run. */
    uint64_t handle;
} cio__timer_entry;

typedef struct cio__timer_heap {
    cio__timer_entry *v;
    size_t n, cap;
    /* Entries whose record was cancelled since they were pushed. */
    size_t dead;
    uint64_t next_seq;
} cio__timer_heap;

void cio__timer_heap_init(cio__timer_heap *h);
void cio__timer_heap_fini(cio__timer_heap *h);
/* Returns 0 or -ENOMEM. */
int cio__timer_push(cio__timer_heap *h, int64_t when, uint64_t handle);
/* The earliest entry, or NULL. */
static inline const cio__timer_entry *cio__timer_top(const cio__timer_heap *h)
{
    return h->n ? &h->v[0] : NULL;
}
void cio__timer_pop(cio__timer_heap *h);
/* Counts one more dead entry; rebuilds the heap without the dead ones when
 * they are the majority. is_live tells a live handle from a dead one. */
void cio__timer_note_dead(cio__timer_heap *h, bool (*is_live)(uint64_t handle));

#endif
