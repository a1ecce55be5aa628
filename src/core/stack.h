/* SPDX-License-Identifier: MIT */
/* stack.h — task stacks: mmap'd chunks of slots, pooled per loop.
 *
 * Two kinds of chunk. A guarded chunk puts a PROT_NONE page below every
 * stack, so an overflow faults at once; each guard splits the mapping, and
 * the kernel limits a process to vm.max_map_count mappings, so guards are
 * rationed (an eighth of that limit in stacks, about two mappings each). A
 * canary chunk packs stacks back to back with a 16-byte canary below each,
 * checked at every switch. Its slots are laid out so that a stack's canary
 * shares a page with the top of the stack below it, which is resident
 * anyway: a blocked task with shallow frames costs one page, not two.
 */
#ifndef CIO_STACK_H
#define CIO_STACK_H

#include "internal.h"
#include "list.h"

typedef struct cio__stack_chunk cio__stack_chunk;
typedef struct cio__stack_class cio__stack_class;

/* One task's stack: a slot of a chunk. */
typedef struct cio__stack {
    cio__stack_chunk *chunk; /* NULL: no stack */
    /* The canary words (canary chunks), or NULL (guarded chunks). */
    uint64_t *canary;
    uint32_t slot;
    /* The usable size asked for (as cio__stack_normalize made it). */
    uint32_t size;
} cio__stack;

/* How many just-freed stacks a pool keeps at hand. */
#define CIO__STACK_CACHE 16

/* The stacks of one loop, in classes by usable size. */
typedef struct cio__stack_pool {
    cio__stack_class *classes;
    size_t nclasses;
    /* Stacks freed most recently, still hot in cache, reused first without
     * going through their chunk (LIFO; any sizes). */
    cio__stack cache[CIO__STACK_CACHE];
    unsigned ncached;
} cio__stack_pool;

/* The usable size a request turns into: 0 → default, at least the minimum
 * (256 KiB under sanitizers), a multiple of 1 KiB. 0 if absurdly large. */
size_t cio__stack_normalize(size_t requested);

/* cio__stack_normalize(0), without the arithmetic. */
static inline size_t cio__stack_default_size(void)
{
#if CIO__ASAN || CIO__TSAN
    return 256 * 1024;
#else
    return CIO_DEFAULT_STACK_SIZE;
#endif
}

/* Takes a stack of out->size bytes (as normalized) into *out. Returns 0
 * or -ENOMEM. */
int cio__stack_alloc(cio__stack_pool *pool, cio__stack *out);

/* True if a stack of that size is in the hot cache (so that taking it
 * needs no system call and little stack). */
static inline bool cio__stack_cached(const cio__stack_pool *pool, uint32_t size)
{
    for (unsigned i = 0; i < pool->ncached; i++) {
        if (pool->cache[i].size == size)
            return true;
    }
    return false;
}

/* Gives a stack back (it may be reused or unmapped at once). */
void cio__stack_free(cio__stack_pool *pool, cio__stack *s);

/* Where a new context's frame goes: the top, lowered by a per-slot stagger
 * on large stacks so that tasks' hot frames fall into different cache sets. */
void *cio__stack_start(const cio__stack *s);

/* Lowest usable address and usable size (for sanitizers and reports). */
void *cio__stack_low(const cio__stack *s);
size_t cio__stack_size(const cio__stack *s);

/* False if the canary below the stack was overwritten. */
static inline bool cio__stack_intact(const cio__stack *s)
{
    return s->canary == NULL ||
           (s->canary[0] == 0xC10CA2A2DEADBEEFull && s->canary[1] == 0x57ACC0FFEE57ACCull);
}

/* True if addr lies in the guard page below s (for the SIGSEGV report). */
bool cio__stack_in_guard(const cio__stack *s, const void *addr);

/* For the SIGSEGV report on a canary stack, which has no guard page: true
 * if its canary is gone, or addr lies below the stack but no further below
 * than the start of its chunk's mapping less one page. Either way the task
 * that runs on s has run past its stack (over the stacks packed below it,
 * down to whatever lies below the chunk). Async-signal-safe. */
bool cio__stack_overrun(const cio__stack *s, const void *addr);

void cio__stack_pool_init(cio__stack_pool *pool);
/* Unmaps every chunk; every stack must have been freed. */
void cio__stack_pool_fini(cio__stack_pool *pool);

#endif
