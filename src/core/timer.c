/* SPDX-License-Identifier: MIT */
/* timer.c — the 4-ary (deadline, sequence) min-heap behind every timer.
 *
 * Owns the heap array only; what a timer does when it fires is the callback
 * record's business (callback.c). A 4-ary heap is half as deep as a binary
 * one and its four children share a cache line pair, which is what keeps a
 * million pending timers fast.
 */
#include "internal.h"

#include <string.h>

#include "core/timer.h"

static inline bool entry_less(const cio__timer_entry *a, const cio__timer_entry *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void sift_up(cio__timer_entry *v, size_t i)
{
    cio__timer_entry e = v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (!entry_less(&e, &v[parent]))
            break;
        v[i] = v[parent];
        i = parent;
    }
    v[i] = e;
}

static void sift_down(cio__timer_entry *v, size_t n, size_t i)
{
    cio__timer_entry e = v[i];
    for (;;) {
        size_t first = 4 * i + 1;
        if (first >= n)
            break;
        size_t best = first;
        size_t last = CIO__MIN(first + 4, n);
        for (size_t c = first + 1; c < last; c++) {
            if (entry_less(&v[c], &v[best]))
                best = c;
        }
        if (!entry_less(&v[best], &e))
            break;
        v[i] = v[best];
        i = best;
    }
    v[i] = e;
}

void cio__timer_heap_init(cio__timer_heap *h) { memset(h, 0, sizeof *h); }

void cio__timer_heap_fini(cio__timer_heap *h)
{
    free(h->v);
    memset(h, 0, sizeof *h);
}

int cio__timer_push(cio__timer_heap *h, int64_t when, uint64_t handle)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        cio__timer_entry *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n] = (cio__timer_entry){.when = when, .seq = h->next_seq++, .handle = handle};
    sift_up(h->v, h->n++);
    return 0;
}

void cio__timer_pop(cio__timer_heap *h)
{
    CIO__ASSERT(h->n > 0);
    h->v[0] = h->v[--h->n];
    if (h->n)
        sift_down(h->v, h->n, 0);
}

void cio__timer_note_dead(cio__timer_heap *h, bool (*is_live)(uint64_t handle))
{
    h->dead++;
    if (h->dead < 64 || h->dead * 2 < h->n)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (is_live(h->v[i].handle))
            h->v[kept++] = h->v[i];
    }
    h->n = kept;
    h->dead = 0;
    for (size_t i = h->n / 4 + 1; i-- > 0;) {
        if (i < h->n)
            sift_down(h->v, h->n, i);
    }
}
