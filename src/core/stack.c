/* SPDX-License-Identifier: MIT */
/* stack.c — mmap'd task stacks, guard pages or canaries, pooled per loop.
 *
 * Owns the layout of chunks and slots (see stack.h for the why) and the
 * process-wide ration of guard pages. Does not own overflow reports: the
 * scheduler checks canaries at switches, and overflow.c turns a fault in a
 * guard page into a message.
 */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if CIO__ASAN
#include <sanitizer/asan_interface.h>
#endif
#if CIO__UCONTEXT
#include <ucontext.h>
#endif

#include "core/stack.h"

#define CANARY0 0xC10CA2A2DEADBEEFull
#define CANARY1 0x57ACC0FFEE57ACCull
/* The canary sits at the bottom of a cache line whose top holds nothing:
 * the slot's first 64 bytes are not handed to the task. */
#define CANARY_LINE 64
/* Stacks at least this large get guard pages (while the ration lasts) and
 * staggered starts; smaller ones are packed. */
#define LARGE_STACK (16u * 1024u)
#define GUARDED_CHUNK_SLOTS 32u
#define CANARY_CHUNK_BYTES (16u * 1024u * 1024u)
/* Sizes are kept in 32 bits. */
#define MAX_STACK_SIZE ((size_t)1 << 30)

struct cio__stack_chunk {
    /* The mapping. */
    char *base;
    size_t map_len;
    /* Distance between two slots, and the stack a task may use in one. */
    size_t slot_size;
    size_t usable;
    uint32_t nslots;
    /* Slots never handed out yet are [next_unused, nslots); they cost no
     * memory until then. */
    uint32_t next_unused;
    /* Free slots handed back: a LIFO, so the most recently used (hot in
     * cache) slot is reused first. */
    uint32_t nfree_stack;
    uint32_t *free_stack;
    bool guarded;
    /* Links into its class's list of chunks that have a free slot. */
    cio__list partial_link;
    cio__stack_class *cls;
};

struct cio__stack_class {
    size_t usable;
    /* Chunks with at least one free slot; the head is allocated from. */
    cio__list partial;
};

static int stack_take(cio__stack_pool *pool, cio__stack *out);
static void stack_give_back(cio__stack *s);

static size_t page_size;
/* Guarded stacks in the whole process, and how many there may be. */
static atomic_size_t guarded_slots;
static size_t guard_ration;

/* Filled once per process: loops start on several threads at once. */
static pthread_once_t limits_once = PTHREAD_ONCE_INIT;

static void read_limits_once(void)
{
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    size_t max_maps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f) {
        unsigned long v;
        if (fscanf(f, "%lu", &v) == 1)
            max_maps = v;
        fclose(f);
    }
    /* Two mappings per guarded stack; leave three quarters of the limit to
     * the application and to canary chunks. */
    guard_ration = max_maps / 8;
}

static void read_limits(void) { (void)pthread_once(&limits_once, read_limits_once); }

size_t cio__stack_normalize(size_t requested)
{
    size_t size = requested ? requested : CIO_DEFAULT_STACK_SIZE;
#if CIO__ASAN || CIO__TSAN
    size = CIO__MAX(size, (size_t)256 * 1024);
#endif
#if CIO__UCONTEXT
    /* Two saved ucontext_t sit on the stack at every switch (about 1 KiB
     * each on x86-64, 4.5 KiB on AArch64), with room left for frames. */
    size = CIO__MAX(size, 2 * sizeof(ucontext_t) + 4096);
#endif
    if (size > MAX_STACK_SIZE)
        return 0;
    size = CIO__MAX(size, (size_t)CIO_MIN_STACK_SIZE);
    return (size + 63) & ~(size_t)63;
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

/* Slot geometry. Guarded: [guard page][stack], the top page-aligned.
 * Canary: slots are back to back from CANARY_LINE bytes below the end of the
 * chunk's first page; each begins with its canary line, directly above the
 * top of the slot below. The canary of slot i+1 therefore lies in the page
 * that holds the top of slot i (or, when that top is page-aligned, in the
 * first page slot i+1 uses itself): writing it costs no page of its own. */
static char *slot_low(const cio__stack_chunk *c, uint32_t slot)
{
    if (c->guarded)
        return c->base + (size_t)slot * c->slot_size + page_size;
    return c->base + page_size - CANARY_LINE + (size_t)slot * c->slot_size + CANARY_LINE;
}

static char *slot_top(const cio__stack_chunk *c, uint32_t slot)
{
    if (c->guarded)
        return c->base + (size_t)(slot + 1) * c->slot_size;
    return c->base + page_size - CANARY_LINE + (size_t)(slot + 1) * c->slot_size;
}

static cio__stack_chunk *chunk_new(cio__stack_class *cls)
{
    size_t usable = cls->usable;
    bool guarded = false;
    if (usable >= LARGE_STACK) {
        size_t prev = atomic_fetch_add(&guarded_slots, GUARDED_CHUNK_SLOTS);
        if (prev + GUARDED_CHUNK_SLOTS <= guard_ration)
            guarded = true;
        else
            atomic_fetch_sub(&guarded_slots, GUARDED_CHUNK_SLOTS);
    }
    cio__stack_chunk *c = calloc(1, sizeof *c);
    if (!c)
        goto fail_guard;
    c->cls = cls;
    c->guarded = guarded;
    if (guarded) {
        c->usable = round_up(usable, page_size);
        c->slot_size = c->usable + page_size;
        c->nslots = GUARDED_CHUNK_SLOTS;
        c->map_len = c->slot_size * c->nslots;
    } else {
        /* The slot is the stack plus its canary line. Large slots are
         * whole pages, so that every top sits CANARY_LINE below a page
         * boundary and a shallow task (with its stagger) touches one page;
         * small ones are packed to the cache line. */
        c->usable = usable;
        c->slot_size = usable >= LARGE_STACK ? round_up(usable + CANARY_LINE, page_size)
                                             : usable + CANARY_LINE;
        c->nslots = (uint32_t)CIO__MAX((size_t)1, CANARY_CHUNK_BYTES / c->slot_size);
        c->map_len = round_up(page_size + (size_t)c->nslots * c->slot_size, page_size);
    }
    c->free_stack = malloc(sizeof(uint32_t) * c->nslots);
    if (!c->free_stack)
        goto fail_chunk;
    /* MAP_NORESERVE: a stack's untouched pages are never committed, so a
     * million 64 KiB stacks reserve address space, not memory. */
    void *base = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        goto fail_free_stack;
    c->base = base;
    /* A huge page would make one touched stack page cost 2 MiB. */
    (void)madvise(base, c->map_len, MADV_NOHUGEPAGE);
    if (guarded) {
        for (uint32_t i = 0; i < c->nslots; i++) {
            if (mprotect(c->base + (size_t)i * c->slot_size, page_size, PROT_NONE) != 0)
                goto fail_unmap;
        }
    }
    cio__list_init(&c->partial_link);
    return c;

fail_unmap:
    munmap(c->base, c->map_len);
fail_free_stack:
    free(c->free_stack);
fail_chunk:
    free(c);
fail_guard:
    if (guarded)
        atomic_fetch_sub(&guarded_slots, GUARDED_CHUNK_SLOTS);
    return NULL;
}

/* Unmaps a chunk's stacks. ASan keeps the shadow of unmapped memory: the
 * redzones of frames a finished task never returned from would mark as
 * poisoned whatever is mapped there next (a block of task structs, say). */
static void chunk_unmap(cio__stack_chunk *c)
{
#if CIO__ASAN
    ASAN_UNPOISON_MEMORY_REGION(c->base, c->map_len);
#endif
    munmap(c->base, c->map_len);
}

static void chunk_delete(cio__stack_chunk *c)
{
    if (cio__list_linked(&c->partial_link))
        cio__list_remove(&c->partial_link);
    chunk_unmap(c);
    if (c->guarded)
        atomic_fetch_sub(&guarded_slots, GUARDED_CHUNK_SLOTS);
    free(c->free_stack);
    free(c);
}

static bool chunk_has_free(const cio__stack_chunk *c)
{
    return c->nfree_stack > 0 || c->next_unused < c->nslots;
}

static bool chunk_all_free(const cio__stack_chunk *c)
{
    return c->nfree_stack == c->next_unused;
}

static cio__stack_class *class_for(cio__stack_pool *pool, size_t usable)
{
    for (size_t i = 0; i < pool->nclasses; i++) {
        if (pool->classes[i].usable == usable)
            return &pool->classes[i];
    }
    /* Classes are few (one per distinct stack size in use), and their lists
     * are linked by address: grow by reallocating, then re-point the heads. */
    cio__stack_class *grown = malloc(sizeof *grown * (pool->nclasses + 1));
    if (!grown)
        return NULL;
    for (size_t i = 0; i < pool->nclasses; i++) {
        grown[i].usable = pool->classes[i].usable;
        cio__list_init(&grown[i].partial);
        cio__list *n;
        while ((n = cio__list_pop_front(&pool->classes[i].partial))) {
            cio__stack_chunk *c = CIO__CONTAINER_OF(n, cio__stack_chunk, partial_link);
            c->cls = &grown[i];
            cio__list_push_back(&grown[i].partial, n);
        }
    }
    free(pool->classes);
    pool->classes = grown;
    cio__stack_class *cls = &grown[pool->nclasses++];
    cls->usable = usable;
    cio__list_init(&cls->partial);
    return cls;
}

int cio__stack_alloc(cio__stack_pool *pool, cio__stack *out)
{
    /* The stack freed last is the one most likely still in cache. */
    for (unsigned i = pool->ncached; i-- > 0;) {
        if (pool->cache[i].size == out->size) {
            *out = pool->cache[i];
            pool->cache[i] = pool->cache[--pool->ncached];
            return 0;
        }
    }
    return stack_take(pool, out);
}

/* Takes a slot from a chunk of the right class (making one if needed). */
static int stack_take(cio__stack_pool *pool, cio__stack *out)
{
    read_limits();
    cio__stack_class *cls = class_for(pool, out->size);
    if (!cls)
        return -ENOMEM;
    cio__stack_chunk *c;
    if (cio__list_empty(&cls->partial)) {
        /* Chunks live in the class only while they have free slots; a full
         * chunk is found again through the stacks that point at it. */
        c = chunk_new(cls);
        if (!c)
            return -ENOMEM;
        cio__list_push_back(&cls->partial, &c->partial_link);
    } else {
        c = CIO__CONTAINER_OF(cls->partial.next, cio__stack_chunk, partial_link);
    }
    uint32_t slot = c->nfree_stack ? c->free_stack[--c->nfree_stack] : c->next_unused++;
    if (!chunk_has_free(c))
        cio__list_remove(&c->partial_link);
    out->chunk = c;
    out->slot = slot;
    out->canary = NULL;
    if (!c->guarded) {
        out->canary = (uint64_t *)(slot_low(c, slot) - CANARY_LINE);
        out->canary[0] = CANARY0;
        out->canary[1] = CANARY1;
    }
    return 0;
}

void cio__stack_free(cio__stack_pool *pool, cio__stack *s)
{
    if (!s->chunk)
        return;
    if (pool->ncached == CIO__STACK_CACHE) {
        /* Full: the coldest (oldest) one goes back to its chunk. */
        stack_give_back(&pool->cache[0]);
        memmove(&pool->cache[0], &pool->cache[1], sizeof pool->cache[0] * --pool->ncached);
    }
    pool->cache[pool->ncached++] = *s;
    s->chunk = NULL;
}

/* Returns a slot to its chunk, and the chunk to the OS if it is idle. */
static void stack_give_back(cio__stack *s)
{
    cio__stack_chunk *c = s->chunk;
    cio__stack_class *cls = c->cls;
    c->free_stack[c->nfree_stack++] = s->slot;
    s->chunk = NULL;
    /* Keep the chunk that just got a free slot at the head: its slot is the
     * one hottest in cache. */
    if (cio__list_linked(&c->partial_link))
        cio__list_remove(&c->partial_link);
    if (chunk_all_free(c) && !cio__list_empty(&cls->partial)) {
        /* Another chunk still has room: this idle one goes back to the OS,
         * so a burst of a million tasks does not stay resident forever. */
        chunk_delete(c);
        return;
    }
    cio__list_push_front(&cls->partial, &c->partial_link);
}

/* Stagger step and count: 8 positions 256 bytes apart keep the deepest
 * start 1.75 KiB below the top, inside the top page with room for a blocked
 * task's frames, while spreading hot frames over the cache's sets. */
#define STAGGER_STEP 256u
#define STAGGER_POSITIONS 8u

void *cio__stack_start(const cio__stack *s)
{
    const cio__stack_chunk *c = s->chunk;
    char *top = slot_top(c, s->slot);
    if (c->cls->usable >= LARGE_STACK)
        top -= (s->slot % STAGGER_POSITIONS) * STAGGER_STEP;
    return top;
}

void *cio__stack_low(const cio__stack *s) { return slot_low(s->chunk, s->slot); }

size_t cio__stack_size(const cio__stack *s)
{
    return (size_t)(slot_top(s->chunk, s->slot) - slot_low(s->chunk, s->slot));
}

bool cio__stack_in_guard(const cio__stack *s, const void *addr)
{
    const cio__stack_chunk *c = s->chunk;
    if (!c || !c->guarded)
        return false;
    const char *low = slot_low(c, s->slot);
    const char *a = addr;
    return a >= low - page_size && a < low;
}

bool cio__stack_overrun(const cio__stack *s, const void *addr)
{
    const cio__stack_chunk *c = s->chunk;
    if (!c || c->guarded)
        return false;
    if (!cio__stack_intact(s))
        return true;
    const char *a = addr;
    return a < slot_low(c, s->slot) && a >= c->base - page_size;
}

void cio__stack_pool_init(cio__stack_pool *pool)
{
    read_limits();
    pool->classes = NULL;
    pool->nclasses = 0;
    pool->ncached = 0;
}

void cio__stack_pool_fini(cio__stack_pool *pool)
{
    while (pool->ncached)
        stack_give_back(&pool->cache[--pool->ncached]);
    for (size_t i = 0; i < pool->nclasses; i++) {
        cio__list *n;
        while ((n = cio__list_pop_front(&pool->classes[i].partial))) {
            cio__stack_chunk *c = CIO__CONTAINER_OF(n, cio__stack_chunk, partial_link);
            CIO__ASSERT(chunk_all_free(c));
            chunk_delete(c);
        }
    }
    free(pool->classes);
    pool->classes = NULL;
    pool->nclasses = 0;
}
