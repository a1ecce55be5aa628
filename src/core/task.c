/* SPDX-License-Identifier: MIT */
/* task.c — the life cycle of a task: create, run its body, finish, await,
 * detach, free.
 *
 * Owns task structs (in populated blocks with a FIFO free list, so creating
 * a task is a pop and a few stores) and the awaiter link. Switching and
 * cancellation are scheduler.c's; waiting for several tasks is wait.c's.
 */
#include "internal.h"

#include <string.h>
#include <sys/mman.h>

#include "core/observe.h"
#include "core/group.h"
#include "loop.h"
#include "text.h"

/* Task structs come from 2 MiB blocks, handed out by a bump pointer and
 * recycled through a FIFO free list (see TASK_QUARANTINE). A new block is populated in one
 * madvise: faulting its 512 pages one by one was most of the cost of
 * creating a task. Not transparent huge pages: on a VM whose host takes
 * back freed memory (virtio-balloon free page reporting, as on the machine
 * the benchmarks run on) a fresh huge page costs ~3 ms to fault, and
 * populating small pages is 3-5x cheaper there (bench W1: 350-480 ns per
 * task with huge pages after the host reclaimed them, 130-170 ns this way).
 * Kernels before 5.14 lack MADV_POPULATE_WRITE: the pages then fault on
 * first use, as any memory does. */
#define TASK_BLOCK_BYTES ((size_t)2 << 20)
#define TASKS_PER_BLOCK (TASK_BLOCK_BYTES / sizeof(cio_task))
/* A freed task struct keeps this state until it is reused, so a handle used
 * after its release is caught (while the struct is not yet reused). */
#define TASK_FREED 0x5A
/* Stale handles. cio_task * is a pointer in the API, so a handle cannot
 * carry a generation of its own: once its struct is reused, a released
 * handle names the new task, and `cio_await(t); u = cio_create_task(...);
 * cio_await(t)` used to wait for u. So freed structs are reused in the
 * order they were freed, and only while more than this many wait: a
 * released handle stays a TASK_FREED struct, on which every call that
 * takes a task aborts naming itself, until this many tasks more have been
 * released after it (64 KiB per loop at most; a pop stays a pop, and the
 * id, which is unique per loop, is what traces and dumps show, so a reuse
 * never looks like the old task there). Tagging the pointer's spare bits
 * with a generation was the alternative: it would catch every reuse, but
 * every handle that reaches an observer, a dump or a comparison with
 * cio_current_task() would have to be tagged and untagged alike. */
#define TASK_QUARANTINE 1024

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static void *block_map(void)
{
    void *p = mmap(NULL, TASK_BLOCK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    (void)madvise(p, TASK_BLOCK_BYTES, MADV_POPULATE_WRITE);
    return p;
}

/* A new block, when the bump pointer reached the end of the last one.
 * Out of line: once a block in 32768 tasks. */
__attribute__((cold, noinline)) static cio_task *task_alloc_block(cio_loop *loop)
{
    void **blocks = realloc(loop->task_blocks, (loop->ntask_blocks + 1) * sizeof *blocks);
    if (!blocks)
        return NULL;
    loop->task_blocks = blocks;
    cio_task *block = block_map();
    if (!block)
        return NULL;
    blocks[loop->ntask_blocks++] = block;
    loop->task_bump = block + 1;
    loop->task_bump_end = block + TASKS_PER_BLOCK;
    return block;
}

static inline __attribute__((always_inline)) cio_task *task_alloc(cio_loop *loop)
{
    if (loop->task_nfree > TASK_QUARANTINE) {
        /* More than the quarantine wait: the list does not become empty,
         * and task_free_tail stays valid. */
        cio_task *t = (cio_task *)loop->task_free_list;
        loop->task_free_list = t->run.next;
        loop->task_nfree--;
        return t;
    }
    if (CIO__UNLIKELY(loop->task_bump == loop->task_bump_end))
        return task_alloc_block(loop);
    return loop->task_bump++;
}

void cio__task_for_each(cio_loop *loop, void (*fn)(cio_task *t, void *arg), void *arg)
{
    for (size_t b = 0; b < loop->ntask_blocks; b++) {
        cio_task *block = loop->task_blocks[b];
        cio_task *end = b + 1 == loop->ntask_blocks ? loop->task_bump : block + TASKS_PER_BLOCK;
        for (cio_task *t = block; t < end; t++) {
            if (t->state != TASK_FREED)
                fn(t, arg);
        }
    }
}

/* Appends a struct to the free list, already marked TASK_FREED. */
static inline void task_release(cio_loop *loop, cio_task *t)
{
    t->run.next = NULL;
    *loop->task_free_tail = &t->run;
    loop->task_free_tail = &t->run.next;
    loop->task_nfree++;
}

void cio__task_init(cio_loop *loop) { loop->task_free_tail = &loop->task_free_list; }

/* A struct taken for a task that could not be made. Out of line, so that
 * creating a task stays small enough to be inlined into its callers. */
__attribute__((cold, noinline)) static void task_unused(cio_loop *loop, cio_task *t)
{
    t->state = TASK_FREED;
    task_release(loop, t);
}

void cio__task_free(cio_task *t)
{
    cio_loop *loop = cio__context_loop;
    /* Most tasks have no name: the spawn-and-await path calls nothing. */
    if (t->name) {
        free(t->name);
        t->name = NULL;
    }
    t->state = TASK_FREED;
    task_release(loop, t);
    loop->live_tasks--;
}

static void cancel_unfinished(cio_task *t, void *arg)
{
    (void)arg;
    if (t->state != CIO__TASK_DONE)
        cio_cancel(t);
}

void cio__task_cancel_all(cio_loop *loop) { cio__task_for_each(loop, cancel_unfinished, NULL); }

static void free_name(cio_task *t, void *arg)
{
    (void)arg;
    free(t->name);
}

void cio__task_blocks_free(cio_loop *loop)
{
    cio__task_for_each(loop, free_name, NULL);
    for (size_t i = 0; i < loop->ntask_blocks; i++)
        munmap(loop->task_blocks[i], TASK_BLOCK_BYTES);
    free(loop->task_blocks);
    loop->task_blocks = NULL;
    loop->ntask_blocks = 0;
    loop->task_free_list = NULL;
    loop->task_free_tail = &loop->task_free_list;
    loop->task_nfree = 0;
    loop->task_bump = loop->task_bump_end = NULL;
}

void cio__task_check_handle(const cio_task *t, const char *fn)
{
    if (CIO__UNLIKELY(t->state == TASK_FREED))
        CIO__PANIC("%s: the task handle was already released (awaited, gathered or detached)",
                   fn);
}

/* The body of both constructors, inlined into each so that
 * cio_create_task's is specialised for no options (W1 creates its tasks
 * so: 40 instructions a task fewer than a call with opts NULL, once the
 * free-list quarantine had made the shared body too large for LTO to
 * inline). */
static inline __attribute__((always_inline)) cio_task *task_create(cio_fn fn, void *arg,
                                                                   const cio_task_opts *opts)
{
    cio_loop *loop = cio__context_loop;
    if (!loop) {
        errno = EPERM;
        return NULL;
    }
    size_t stack = opts ? cio__stack_normalize(opts->stack_size) : cio__stack_default_size();
    if (!fn || !stack) {
        errno = EINVAL;
        return NULL;
    }
    cio_task *t = task_alloc(loop);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    char *name = NULL;
    if (opts && opts->name && !(name = strdup(opts->name))) {
        task_unused(loop, t);
        errno = ENOMEM;
        return NULL;
    }
    t->run.kind = CIO__RUN_TASK;
    t->fn = fn;
    t->arg = arg;
    t->result = 0;
    t->state = CIO__TASK_NEW;
    t->detached = false;
    t->stack_size = (uint32_t)stack;
    t->awaiter = NULL;
    t->id = ++loop->next_task_id;
    t->name = name;
    /* Tasks created while cio_run shuts down are cancelled from birth, so
     * that shutdown cannot be outrun. */
    t->cancel_requested = loop->closing ? CIO__CANCEL_TASK : 0;
    loop->live_tasks++;
    loop->pending_tasks++;
    CIO__OBSERVE(loop, task_created, t, loop->current);
    cio__sched_push(loop, &t->run);
    return t;
}

/* What a task that is not running costs: W1 creates a million at once. */
_Static_assert(sizeof(cio_task) <= 64 || sizeof(void *) != 8,
               "cio_task grew past a cache line");

cio_task *cio_create_task_opts(cio_fn fn, void *arg, const cio_task_opts *opts)
{
    return task_create(fn, arg, opts);
}

cio_task *cio_create_task(cio_fn fn, void *arg) { return task_create(fn, arg, NULL); }

const char *cio__task_label(const cio_task *t, char buf[32])
{
    if (t->name)
        return t->name;
    cio__text s = cio__text_on(buf, 32);
    cio__text_str(&s, "task-");
    cio__text_u64(&s, t->id);
    return cio__text_end(&s);
}

void cio__task_finish(cio_task *t, int result)
{
    cio_loop *loop = cio__context_loop;
    bool started = t->state == CIO__TASK_RUNNING;
    if (CIO__UNLIKELY(started && t->live->scope != NULL))
        CIO__PANIC("task '%s' returned with a cio_timeout or cio_shield still entered",
                   cio_task_name(t));
    if (!started)
        t->live = NULL; /* in place of its body, never to run */
    t->result = result;
    t->state = CIO__TASK_DONE;
    t->done_seq = ++loop->next_done_seq;
    loop->pending_tasks--;
    cio__waiter *w = t->awaiter;
    if (w) {
        t->awaiter = NULL;
        if (w->kind == CIO__WAIT_GROUP)
            cio__group_child_done(w, t);
        else
            cio__sched_wake(w, result);
    }
    /* A detached task that never got a stack can go now; one with a stack
     * goes once execution has left that stack (scheduler.c). */
    if (t->detached && !started)
        cio__task_free(t);
}

void cio__task_entry(void *arg)
{
    cio__ctx_entered();
    cio__sched_entered();
    cio_task *t = arg;
    int result = t->live->fn(t->live->arg);
    cio__task_finish(t, result);
    cio__sched_exit_task(t);
}

/* ------------------------------------------------------------ awaiting */

static void unlink_awaiter(cio__waiter *w)
{
    cio_task *t = w->object;
    if (t->awaiter == w)
        t->awaiter = NULL;
}

int cio__task_wait_done(cio_task *t, bool cancellable)
{
    if (t->state == CIO__TASK_DONE)
        return 0;
    cio__waiter w;
    cio__waiter_init(&w, CIO__WAIT_TASK, t, unlink_awaiter);
    w.cancellable = cancellable;
    t->awaiter = &w;
    int err = cio__sched_wait(&w);
    if (t->state == CIO__TASK_DONE)
        return 0;
    CIO__ASSERT(err != 0);
    return err;
}

int cio__task_stop(cio_task *t)
{
    cio_cancel(t);
    return cio__task_wait_done(t, false);
}

int cio__task_check_awaitable(cio_task *t, const char *fn)
{
    if (!t)
        return -EINVAL;
    cio__task_check_handle(t, fn);
    cio_loop *loop = cio__context_loop;
    if (!loop || !loop->current)
        return -EPERM;
    if (t == loop->current)
        return -EDEADLK;
    if (t == loop->main_task)
        return -EINVAL; /* cio_run owns it */
    if (t->awaiter)
        return -EBUSY;
    if (t->detached)
        return -EINVAL;
    return 0;
}

int cio_await(cio_task *t)
{
    int err = cio__task_check_awaitable(t, "cio_await");
    if (err)
        return err;
    err = cio__task_wait_done(t, true);
    if (err)
        cio__task_stop(t);
    int result = err ? err : t->result;
    cio__task_free(t);
    return result;
}

int cio_wait_for(cio_task *t, double timeout)
{
    if (timeout != timeout || timeout < 0)
        return -EINVAL;
    int err = cio__task_check_awaitable(t, "cio_wait_for");
    if (err)
        return err;
    cio_timeout tm;
    cio_timeout_enter(&tm, timeout);
    int result = cio_await(t);
    cio_timeout_exit(&tm);
    return result;
}

void cio_detach(cio_task *t)
{
    if (!t)
        return;
    cio__task_check_handle(t, "cio_detach");
    if (t->state == CIO__TASK_DONE)
        cio__task_free(t);
    else
        t->detached = true;
}

bool cio_task_done(const cio_task *t)
{
    if (!t)
        return false;
    cio__task_check_handle(t, "cio_task_done");
    return t->state == CIO__TASK_DONE;
}

cio_task *cio_current_task(void) { return cio__context_loop ? cio__context_loop->current : NULL; }

size_t cio_task_stack_size(const cio_task *t)
{
    if (!t)
        return 0;
    cio__task_check_handle(t, "cio_task_stack_size");
    return t->stack_size;
}

const char *cio_task_name(const cio_task *t)
{
    if (!t)
        return NULL;
    cio__task_check_handle(t, "cio_task_name");
    if (!t->name) {
        /* Made on first use, so tasks that nobody names or asks about cost
         * no string. */
        char buf[32];
        snprintf(buf, sizeof buf, "task-%llu", (unsigned long long)t->id);
        /* The name is a cache: filling it does not change the task. */
        cio_task *mutable_t = (cio_task *)(uintptr_t)t;
        mutable_t->name = strdup(buf);
        if (!t->name)
            return "task";
    }
    return t->name;
}
