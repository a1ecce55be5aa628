/* SPDX-License-Identifier: MIT */
/* dump.c — cio_dump_tasks: every task of a loop as a tree, Go's goroutine
 * dump for cio.
 *
 * Owns the picture, not the data: tasks come from task.c's blocks, a
 * task's creator from cio_task.creator (the low 32 bits of its id: the
 * creator is the live task with the largest id below the child's that
 * matches them), a group child's group from its awaiter (group.c).
 * Creators are recorded only while the loop traces or debugs; otherwise
 * the tree has only the task groups' nesting.
 */
#include "internal.h"

#include <string.h>

#include "observe/debug.h"
#include "observe/dump.h"
#include "core/group.h"
#include "loop.h"
#include "text.h"

/* A line of the tree: a task, or a task group holding running children. */
typedef struct dump_node {
    cio_task *task;
    const cio_taskgroup *group;
    /* Index of the parent node (-1: a root), and the tree's links. */
    ptrdiff_t parent, first_child, last_child, next_sibling;
} dump_node;

typedef struct dump_nodes {
    dump_node *v;
    size_t n, cap;
} dump_nodes;

static void collect(cio_task *t, void *arg)
{
    dump_nodes *nodes = arg;
    if (nodes->n < nodes->cap)
        nodes->v[nodes->n++] = (dump_node){.task = t};
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const dump_node *)a)->task->id, y = ((const dump_node *)b)->task->id;
    return x < y ? -1 : x > y;
}

/* Index of the task with this id among the first n (sorted), or -1. */
static ptrdiff_t find_task(const dump_nodes *nodes, size_t n, uint64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t m = nodes->v[mid].task->id;
        if (m == id)
            return (ptrdiff_t)mid;
        if (m < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The creator of t, if it still lives. */
static ptrdiff_t find_creator(const cio_loop *loop, const dump_nodes *nodes, size_t ntasks,
                              const cio_task *t)
{
    if (!loop->observer || t->creator == 0)
        return -1;
    uint32_t delta = (uint32_t)t->id - t->creator;
    uint64_t id = t->id - (delta ? delta : (uint64_t)1 << 32);
    return id < t->id ? find_task(nodes, ntasks, id) : -1;
}

/* The node for group g, added after the tasks if not there yet. */
static ptrdiff_t group_node(dump_nodes *nodes, size_t ntasks, const cio_taskgroup *g)
{
    for (size_t i = ntasks; i < nodes->n; i++) {
        if (nodes->v[i].group == g)
            return (ptrdiff_t)i;
    }
    if (nodes->n == nodes->cap)
        return -1;
    cio_task *parent = cio__group_parent(g);
    nodes->v[nodes->n] = (dump_node){.group = g, .parent = find_task(nodes, ntasks, parent->id)};
    return (ptrdiff_t)nodes->n++;
}

/* What w waits on (the core's one description), and whether a
 * cancellation can end it. */
static void describe_wait(FILE *out, const cio_loop *loop, const cio__waiter *w)
{
    char buf[160];
    cio__text s = cio__text_on(buf, sizeof buf);
    cio__sched_put_wait(&s, w, loop->counters.started_ns);
    if (!w->cancellable)
        cio__text_str(&s, ", uncancellably");
    fputs(cio__text_end(&s), out);
}

static void print_node(FILE *out, const cio_loop *loop, const dump_node *node, size_t depth)
{
    fprintf(out, "cio: %*s", (int)(2 * CIO__MIN(depth, (size_t)40)), "");
    if (node->group) {
        fprintf(out, "task group %p (its children:)\n", (const void *)node->group);
        return;
    }
    const cio_task *t = node->task;
    char label[32];
    fprintf(out, "task#%llu \"%s\" ", (unsigned long long)t->id, cio__task_label(t, label));
    if (t->state == CIO__TASK_DONE) {
        fprintf(out, "done: result %d (%s)%s\n", t->result,
                t->result < 0 ? cio_strerror(t->result) : "ok",
                t == loop->main_task ? "" : ", not yet awaited");
        return;
    }
    if (t->state == CIO__TASK_NEW)
        fputs("pending: created, not started", out);
    else if (t == loop->current)
        fputs("running", out);
    else if (t->live->waiter) {
        fputs("waiting for ", out);
        describe_wait(out, loop, t->live->waiter);
    } else
        fputs("ready", out);
    if (t->cancel_requested)
        fputs(" [cancelled]", out);
    if (t->detached)
        fputs(" [detached]", out);
    fputc('\n', out);
}

/* Walks the tree depth first without recursion (a chain of creators may
 * be a million tasks deep). */
static void print_tree(FILE *out, const cio_loop *loop, const dump_nodes *nodes)
{
    for (size_t r = 0; r < nodes->n; r++) {
        if (nodes->v[r].parent != -1)
            continue;
        ptrdiff_t i = (ptrdiff_t)r;
        size_t depth = 0;
        for (;;) {
            print_node(out, loop, &nodes->v[i], depth);
            if (nodes->v[i].first_child != -1) {
                i = nodes->v[i].first_child;
                depth++;
                continue;
            }
            while (i != (ptrdiff_t)r && nodes->v[i].next_sibling == -1) {
                i = nodes->v[i].parent;
                depth--;
            }
            if (i == (ptrdiff_t)r)
                break;
            i = nodes->v[i].next_sibling;
        }
    }
}

void cio__dump_tasks(cio_loop *loop, FILE *out, const char *heading)
{
    /* Room for every task and, at worst, one group per task. */
    size_t cap = 2 * loop->live_tasks + 1;
    dump_nodes nodes = {malloc(cap * sizeof(dump_node)), 0, cap};
    if (!nodes.v) {
        fprintf(out, "cio: task dump (%s): out of memory\n", heading);
        return;
    }
    nodes.cap = loop->live_tasks;
    cio__task_for_each(loop, collect, &nodes);
    size_t ntasks = nodes.n;
    nodes.cap = cap;
    qsort(nodes.v, ntasks, sizeof *nodes.v, by_id);
    for (size_t i = 0; i < ntasks; i++) {
        const cio_task *t = nodes.v[i].task;
        const cio__waiter *aw = t->awaiter;
        if (aw && aw->kind == CIO__WAIT_GROUP && t->state != CIO__TASK_DONE)
            nodes.v[i].parent = group_node(&nodes, ntasks, aw->object);
        else
            nodes.v[i].parent = find_creator(loop, &nodes, ntasks, t);
    }
    for (size_t i = 0; i < nodes.n; i++)
        nodes.v[i].first_child = nodes.v[i].last_child = nodes.v[i].next_sibling = -1;
    for (size_t i = 0; i < nodes.n; i++) {
        ptrdiff_t p = nodes.v[i].parent;
        if (p == -1)
            continue;
        if (nodes.v[p].last_child == -1)
            nodes.v[p].first_child = (ptrdiff_t)i;
        else
            nodes.v[nodes.v[p].last_child].next_sibling = (ptrdiff_t)i;
        nodes.v[p].last_child = (ptrdiff_t)i;
    }
    fprintf(out, "cio: task dump (%s): %zu task(s), %zu not finished; backend %s\n", heading,
            ntasks, loop->pending_tasks, loop->backend->name);
    print_tree(out, loop, &nodes);
    fflush(out);
    free(nodes.v);
}

int cio_dump_tasks(FILE *out)
{
    cio_loop *loop = cio__context_loop;
    if (!out)
        return -EINVAL;
    if (!loop)
        return -EPERM;
    cio__dump_tasks(loop, out, "cio_dump_tasks");
    return 0;
}
