/* SPDX-License-Identifier: MIT */
/* trace.c — CIO_TRACE: the narrated trace (stderr) and the events of the
 * JSON timeline, as an observer of the loop (cio_observer, added by loop.c
 * when the loop opens).
 *
 * Owns what the trace records; debug mode is another observer (debug.c),
 * and writing the JSON file is trace_json.c's. Events stream out as they
 * happen, so memory stays bounded however long the run. The only per-task
 * state is a note from a task's suspension to its resumption (what it
 * waited on, since when, who woke it), kept in a table indexed from the
 * task's cio__task_live.observer_note, and freed at the resumption. It
 * reads the core's state (a task's waiter, the descriptor table) and
 * writes none of it but that note's index.
 *
 * Hooks may run on a task's stack, which may be small: they format with
 * text.h into buffers of the trace state, never with printf on the stack.
 */
#include "internal.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "observe/fanout.h"
#include "observe/trace.h"
#include "observe/trace_json.h"
#include "text.h"


/* Room for one narrated line; task names are cut to NAME_MAX_BYTES. */
#define LINE_MAX_BYTES 1024
#define NAME_MAX_BYTES 64
/* A note index meaning "the task has run, and holds no note". */
#define NOTE_NONE UINT32_MAX

/* A task's suspension, from the moment it parks to the moment it runs
 * again. */
typedef struct trace_note {
    /* When it parked (ns). */
    int64_t parked_ns;
    /* What it waits on: a cio__wait_kind, and the fd, the awaited task's
     * id, a sleep's deadline or the object's address. */
    uint8_t kind;
    int64_t what;
    /* Filled by the wake: the flow id of its arrow (0: not woken through
     * cio__sched_wake, as after a yield), the waking task's id (0: the loop),
     * and the result the wait returns. */
    uint64_t flow;
    uint64_t waker;
    int result;
    /* Next free note while on the free list. */
    uint32_t next_free;
} trace_note;

typedef struct cio__trace cio__trace;

struct cio__trace {
    /* The loop it traces. */
    cio_loop *loop;
    /* Loop start (ns): every timestamp is relative to it. */
    int64_t t0;
    /* Narrate to stderr. */
    bool narrate;
    /* The JSON file (NULL: none), and whether CIO_TRACE named one. */
    cio__trace_json *json;
    bool json_named;
    /* Notes, indexed from 1, with a free list (0: empty). */
    trace_note *notes;
    uint32_t nnotes, capnotes, free_note;
    uint64_t next_flow;
    /* The running task's slice began here (ns). */
    int64_t run_start_ns;
    /* The poll in progress: when it began and its timeout. */
    int64_t poll_start_ns, poll_timeout_ns;
    /* The descriptor cio__trace_fd_ready last told of in this poll (-1:
     * none): the wake-ups it causes are already in its line. */
    int fd_line;
    /* The line being narrated, and a JSON event's name being made. */
    char line[LINE_MAX_BYTES];
    char name[256];
};

/* ------------------------------------------------------------ helpers */

/* `task#3 "fetch-a"` */
static void put_task(cio__text *s, const cio_task *t)
{
    char label[32];
    cio__text_str(s, "task#");
    cio__text_u64(s, t->id);
    cio__text_str(s, " \"");
    cio__text_json(s, cio__task_label(t, label), NAME_MAX_BYTES);
    cio__text_char(s, '"');
}

/* Milliseconds since the loop started, from ns. */
static void put_ms(cio__text *s, const cio__trace *tr, int64_t ns, size_t width)
{
    cio__text_milli(s, (ns - tr->t0) / 1000, width);
}

/* Starts a narrated line at `now`; NULL if not narrating. */
static cio__text *line_begin(cio__trace *tr, cio__text *s, int64_t now)
{
    if (!tr->narrate)
        return NULL;
    *s = cio__text_on(tr->line, sizeof tr->line);
    cio__text_str(s, "[cio ");
    put_ms(s, tr, now, 9);
    cio__text_str(s, " ms] ");
    return s;
}

/* Starts a line about the loop and its backend: "loop: <before><backend><after>". */
static cio__text *loop_line(cio__trace *tr, cio__text *s, int64_t now, const char *before,
                            const char *backend, const char *after)
{
    if (!line_begin(tr, s, now))
        return NULL;
    cio__text_str(s, "loop: ");
    cio__text_str(s, before);
    cio__text_str(s, backend);
    cio__text_str(s, after);
    return s;
}

static void line_end(cio__text *s)
{
    /* One write per line, so lines from several loops never interleave. */
    s->buf[s->len < s->cap - 1 ? s->len++ : s->len - 1] = '\n';
    ssize_t n = write(STDERR_FILENO, s->buf, s->len);
    (void)n;
}

/* What a wait is on, as narration and JSON name it: the core's one
 * description, with times from the loop's start. */
static void put_wait(cio__text *s, const cio__trace *tr, unsigned kind, int64_t what)
{
    cio__sched_put_wait_what(s, (cio__wait_kind)kind, what, tr->t0);
}

/* Who or what ended a wait, for "resumed (woken by ...)". */
static void put_waker(cio__text *s, const cio__trace *tr, const trace_note *n)
{
    if (n->result == -ECANCELED) {
        cio__text_str(s, "cancellation");
    } else if (n->result == -ETIMEDOUT) {
        cio__text_str(s, "its timeout");
    } else if (n->waker) {
        cio__text_str(s, "task#");
        cio__text_u64(s, n->waker);
        if (n->kind == CIO__WAIT_TASK || n->kind == CIO__WAIT_GROUP) {
            cio__text_str(s, ", which finished");
        } else {
            cio__text_str(s, ", through ");
            cio__text_str(s, cio__sched_wait_kind_name((cio__wait_kind)n->kind));
        }
        return;
    } else if (n->kind == CIO__WAIT_SLEEP) {
        cio__text_str(s, "its timer");
    } else if (n->kind == CIO__WAIT_THREAD) {
        cio__text_str(s, "the loop: thread-pool job done");
    } else if (n->kind == CIO__WAIT_READABLE || n->kind == CIO__WAIT_WRITABLE) {
        put_wait(s, tr, n->kind, n->what);
    } else if (n->kind == CIO__WAIT_IO) {
        cio__text_str(s, "fd ");
        cio__text_i64(s, n->what);
        cio__text_str(s, ": its operation completed");
    } else {
        cio__text_str(s, "the loop");
    }
    if (n->waker) {
        cio__text_str(s, " from task#");
        cio__text_u64(s, n->waker);
    }
}

/* ----------------------------------------------------------- open/close */

/* Parses CIO_TRACE into tr; false if it asks for nothing. */
static bool parse_destinations(cio__trace *tr, cio_loop *loop, const char *env)
{
    bool any = false;
    for (const char *p = env; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 0) {
            /* empty item */
        } else if ((n == 1 && p[0] == '1') || (n == 6 && strncmp(p, "stderr", 6) == 0)) {
            tr->narrate = true;
            any = true;
        } else if (!(n == 1 && p[0] == '0') && !tr->json_named) {
            tr->json_named = true;
            tr->json = cio__trace_json_open(p, n, tr->t0, loop->backend->name,
                                            cio__backend_describe(loop), loop->debug);
            any |= tr->json != NULL;
        } else if (!(n == 1 && p[0] == '0')) {
            fprintf(stderr, "cio: trace: only one JSON path is written; ignoring %.*s\n", (int)n,
                    p);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return any;
}

/* The first line: which backend the loop polls, and what of it it uses
 * (io_uring's features, found at start-up). */
static void trace_loop_started(cio__trace *tr, cio_loop *loop)
{
    cio__text s;
    if (loop_line(tr, &s, tr->t0, "started; backend ", cio__backend_describe(loop), ""))
        line_end(&s);
}

static const cio_observer trace_ops;

void cio__trace_open(cio_loop *loop)
{
    const char *env = getenv("CIO_TRACE");
    if (!env || !*env)
        return;
    cio__trace *tr = calloc(1, sizeof *tr);
    if (!tr) {
        fprintf(stderr, "cio: trace: out of memory; running untraced\n");
        return;
    }
    tr->loop = loop;
    tr->t0 = loop->counters.started_ns;
    tr->fd_line = -1;
    if (!parse_destinations(tr, loop, env) || cio__fanout_add(loop, &trace_ops, tr) != 0) {
        if (tr->json)
            cio__trace_json_close(tr->json);
        free(tr);
        return;
    }
    loop->trace = tr;
    trace_loop_started(tr, loop);
}

void cio__trace_close(cio_loop *loop)
{
    cio__trace *tr = loop->trace;
    if (!tr)
        return;
    cio__fanout_remove(loop, &trace_ops, tr);
    loop->trace = NULL;
    if (tr->json)
        cio__trace_json_close(tr->json);
    free(tr->notes);
    free(tr);
}

/* ------------------------------------------------------------- notes */

static uint32_t note_alloc(cio__trace *tr)
{
    if (tr->free_note) {
        uint32_t i = tr->free_note;
        tr->free_note = tr->notes[i].next_free;
        return i;
    }
    if (tr->nnotes + 1 >= tr->capnotes) {
        uint32_t cap = tr->capnotes ? tr->capnotes * 2 : 256;
        trace_note *notes = realloc(tr->notes, (size_t)cap * sizeof *notes);
        if (!notes)
            return 0;
        tr->notes = notes;
        tr->capnotes = cap;
    }
    return ++tr->nnotes;
}

static void note_free(cio__trace *tr, uint32_t i)
{
    tr->notes[i].next_free = tr->free_note;
    tr->free_note = i;
}

/* -------------------------------------------------------------- hooks */

static void trace_task_created(void *arg, cio_task *t, cio_task *creator)
{
    cio__trace *tr = arg;
    cio_loop *loop = tr->loop;
    int64_t now = cio__context_clock_ns();
    cio__text s;
    if (line_begin(tr, &s, now)) {
        put_task(&s, t);
        cio__text_str(&s, " created by ");
        if (creator)
            put_task(&s, creator);
        else
            cio__text_str(&s, loop->main_task ? "a callback" : "cio_run");
        line_end(&s);
    }
    if (tr->json) {
        char label[32];
        cio__text prefix = cio__text_on(tr->name, sizeof tr->name);
        cio__text_str(&prefix, "task#");
        cio__text_u64(&prefix, t->id);
        cio__text_char(&prefix, ' ');
        cio__trace_json_track(tr->json, t->id, cio__text_end(&prefix), cio__task_label(t, label));
        cio__trace_json_instant(tr->json, t->id, now, "created", "creator",
                                creator ? (int64_t)creator->id : 0);
    }
}

/* t's end: its result. */
static void task_finished(cio__trace *tr, cio_task *t, bool ran, int result, int64_t now)
{
    cio__text s;
    if (line_begin(tr, &s, now)) {
        put_task(&s, t);
        cio__text_str(&s, ran ? " finished: result " : " finished before it ran: result ");
        cio__text_i64(&s, result);
        if (result < 0) {
            cio__text_str(&s, " (");
            cio__text_str(&s, cio_strerror(result));
            cio__text_char(&s, ')');
        }
        line_end(&s);
    }
    if (tr->json)
        cio__trace_json_instant(tr->json, t->id, now, "finished", "result", result);
}

static void trace_task_never_ran(void *arg, cio_task *t, int result)
{
    task_finished(arg, t, false, result, cio__context_clock_ns());
}

/* `from` stops running: a run slice, and what it now waits on. */
static void trace_suspend(cio__trace *tr, cio_task *from, bool dies, int64_t now)
{
    if (tr->json)
        cio__trace_json_slice(tr->json, "run", from->id, tr->run_start_ns, now, "run", NULL);
    if (dies)
        return;
    uint32_t i = note_alloc(tr);
    from->live->observer_note = i ? i : NOTE_NONE;
    cio__waiter *w = from->live->waiter;
    unsigned kind = w ? w->kind : CIO__WAIT_YIELD;
    int64_t what = w ? cio__sched_wait_what(w) : 0;
    if (i)
        tr->notes[i] = (trace_note){.parked_ns = now, .kind = (uint8_t)kind, .what = what};
    cio__text s;
    if (line_begin(tr, &s, now)) {
        put_task(&s, from);
        cio__text_str(&s, kind == CIO__WAIT_YIELD ? " yielded: waits for " : " suspended: waits for ");
        cio__sched_put_wait(&s, w, tr->t0);
        line_end(&s);
    }
}

/* `to` runs: its first run, or the end of a wait (its slice and arrow). */
static void trace_resume(cio__trace *tr, cio_task *to, uint32_t i, int64_t now)
{
    tr->run_start_ns = now;
    cio__text s;
    if (i == 0) {
        if (line_begin(tr, &s, now)) {
            put_task(&s, to);
            cio__text_str(&s, " started");
            line_end(&s);
        }
        return;
    }
    if (i == NOTE_NONE)
        return;
    trace_note *n = &tr->notes[i];
    if (tr->json) {
        cio__text name = cio__text_on(tr->name, sizeof tr->name);
        cio__text_str(&name, "wait: ");
        put_wait(&name, tr, n->kind, n->what);
        cio__trace_json_slice(tr->json, "wait", to->id, n->parked_ns, now,
                              cio__text_end(&name), NULL);
        if (n->flow)
            cio__trace_json_flow(tr->json, true, to->id, n->flow, now);
    }
    if (line_begin(tr, &s, now)) {
        put_task(&s, to);
        if (n->kind == CIO__WAIT_YIELD && !n->flow) {
            cio__text_str(&s, " resumed (its turn again after yielding)");
        } else {
            cio__text_str(&s, " resumed (woken by ");
            put_waker(&s, tr, n);
            cio__text_char(&s, ')');
        }
        line_end(&s);
    }
    note_free(tr, i);
}

static void trace_task_finished(void *arg, cio_task *t, int result)
{
    cio__trace *tr = arg;
    int64_t now = cio__context_clock_ns();
    task_finished(tr, t, true, result, now);
    trace_suspend(tr, t, true, now);
}

static void trace_task_suspended(void *arg, cio_task *t, const char *waits_on)
{
    trace_suspend(arg, t, false, cio__context_clock_ns());
}

static void trace_task_started(void *arg, cio_task *t)
{
    t->live->observer_note = NOTE_NONE;
    trace_resume(arg, t, 0, cio__context_clock_ns());
}

static void trace_task_resumed(void *arg, cio_task *t)
{
    uint32_t note = t->live->observer_note;
    t->live->observer_note = NOTE_NONE;
    trace_resume(arg, t, note, cio__context_clock_ns());
}

/* Called before the waiter is cleared: t->live->waiter is the wait that
 * ends. */
static void trace_task_woken(void *arg, cio_task *t, cio_task *waker, int result)
{
    cio__trace *tr = arg;
    cio_loop *loop = tr->loop;
    const cio__waiter *w = t->live->waiter;
    uint32_t i = t->live->observer_note;
    if (!w || i == 0 || i == NOTE_NONE)
        return;
    trace_note *n = &tr->notes[i];
    n->flow = ++tr->next_flow;
    n->waker = waker ? waker->id : 0;
    n->result = result;
    int64_t now = cio__context_clock_ns();
    if (tr->json)
        cio__trace_json_flow(tr->json, false, n->waker, n->flow, now);
    /* The loop's own wake-ups (timers, thread-pool jobs, completions) get
     * a line here; readiness gets its from cio__trace_fd_ready, tasks are
     * named when the woken one resumes. */
    cio__text s;
    bool on_fd = w->kind == CIO__WAIT_IO || w->kind == CIO__WAIT_READABLE ||
                 w->kind == CIO__WAIT_WRITABLE;
    if (on_fd && !waker && result != -ECANCELED && result != -ETIMEDOUT) {
        /* A completion, or readiness a backend found without a report
         * (io_uring's receive ahead of the read): the line fd_ready would
         * have made. */
        int fd = (int)(intptr_t)w->object;
        if (fd != tr->fd_line &&
            loop_line(tr, &s, now, "", loop->backend->name, " reported fd ")) {
            cio__text_i64(&s, fd);
            cio__text_str(&s, w->kind == CIO__WAIT_IO         ? ": its operation completed -> "
                              : w->kind == CIO__WAIT_READABLE ? " readable -> "
                                                              : " writable -> ");
            put_task(&s, t);
            cio__text_str(&s, " ready");
            line_end(&s);
        }
        return;
    }
    const char *why = result == -ECANCELED             ? "cancels (cio_run is shutting down)"
                      : result == -ETIMEDOUT           ? "timeout expired"
                      : w->kind == CIO__WAIT_SLEEP     ? "timer due"
                      : w->kind == CIO__WAIT_THREAD    ? "thread-pool job done"
                      : w->kind == CIO__WAIT_READABLE || w->kind == CIO__WAIT_WRITABLE ? NULL
                                                       : "a callback woke it";
    if (!waker && why && line_begin(tr, &s, now)) {
        cio__text_str(&s, "loop: ");
        cio__text_str(&s, why);
        cio__text_str(&s, " -> ");
        put_task(&s, t);
        cio__text_str(&s, " ready");
        line_end(&s);
    }
}

static void trace_poll_begin(void *arg, double timeout)
{
    cio__trace *tr = arg;
    cio_loop *loop = tr->loop;
    int64_t timeout_ns = timeout < 0 ? -1 : llround(timeout * 1e9);
    int64_t now = cio__context_clock_ns();
    tr->poll_start_ns = now;
    tr->fd_line = -1;
    tr->poll_timeout_ns = timeout_ns;
    cio__text s;
    if (loop_line(tr, &s, now, "polling ", loop->backend->name, "")) {
        if (timeout_ns < 0) {
            cio__text_str(&s, ", no timeout (nothing is due; only the OS can wake a task)");
        } else {
            cio__text_str(&s, ", timeout ");
            cio__text_milli(&s, timeout_ns / 1000, 0);
            cio__text_str(&s, " ms");
        }
        line_end(&s);
    }
}

static void trace_poll_end(void *arg, int n)
{
    cio__trace *tr = arg;
    cio_loop *loop = tr->loop;
    int64_t now = cio__context_clock_ns();
    cio__text s;
    if (loop_line(tr, &s, now, "", loop->backend->name, " returned after ")) {
        cio__text_milli(&s, (now - tr->poll_start_ns) / 1000, 0);
        cio__text_str(&s, " ms: ");
        cio__text_i64(&s, n);
        cio__text_str(&s, " ready");
        line_end(&s);
    }
    if (!tr->json)
        return;
    char args[96];
    cio__text name = cio__text_on(tr->name, sizeof tr->name);
    cio__text_str(&name, "poll ");
    cio__text_str(&name, loop->backend->name);
    cio__text a = cio__text_on(args, sizeof args);
    cio__text_str(&a, "\"timeout_ms\":");
    if (tr->poll_timeout_ns < 0)
        cio__text_str(&a, "-1");
    else
        cio__text_milli(&a, tr->poll_timeout_ns / 1000, 0);
    cio__text_str(&a, ",\"ready\":");
    cio__text_i64(&a, n);
    cio__trace_json_slice(tr->json, "poll", 0, tr->poll_start_ns, now, cio__text_end(&name),
                          cio__text_end(&a));
}

/* Appends " task#3 task#4" for the waiters of one direction. */
static void put_waiters(cio__text *s, cio__list *waiters)
{
    for (cio__list *n = waiters->next; n != waiters; n = n->next) {
        const cio__waiter *w = CIO__CONTAINER_OF(n, cio__waiter, node);
        cio__text_str(s, " task#");
        cio__text_u64(s, w->task->id);
    }
}

/* Before the waiters of fd are woken: its state still lists them. */
static void trace_fd_reported(void *arg, int fd, unsigned events)
{
    cio__trace *tr = arg;
    cio_loop *loop = tr->loop;
    cio__fd_state *st = cio__fd_peek(fd);
    cio__text s;
    tr->fd_line = fd;
    if (!loop_line(tr, &s, cio__context_clock_ns(), "", loop->backend->name, " reported fd "))
        return;
    cio__text_i64(&s, fd);
    if (fd == loop->posted.wake_fd) {
        cio__text_str(&s, " readable: the loop's wake-up (another thread posted a callback)");
        line_end(&s);
        return;
    }
    cio__text_str(&s, (events & CIO__EV_READ) && (events & CIO__EV_WRITE) ? " readable+writable"
                      : events & CIO__EV_READ                          ? " readable"
                      : events & CIO__EV_WRITE                         ? " writable"
                                                                       : " in error");
    bool rd = st && (events & (CIO__EV_READ | CIO__EV_ERROR)) && !cio__list_empty(&st->readers);
    bool wr = st && (events & (CIO__EV_WRITE | CIO__EV_ERROR)) && !cio__list_empty(&st->writers);
    if (!rd && !wr) {
        cio__text_str(&s, ": nobody waits for it (the loop stops watching)");
    } else {
        cio__text_str(&s, " ->");
        if (rd)
            put_waiters(&s, &st->readers);
        if (wr)
            put_waiters(&s, &st->writers);
        cio__text_str(&s, " ready");
    }
    line_end(&s);
}

static const cio_observer trace_ops = {
    .task_created = trace_task_created,
    .task_started = trace_task_started,
    .task_suspended = trace_task_suspended,
    .task_woken = trace_task_woken,
    .task_resumed = trace_task_resumed,
    .task_finished = trace_task_finished,
    .task_never_ran = trace_task_never_ran,
    .poll_begin = trace_poll_begin,
    .poll_end = trace_poll_end,
    .fd_reported = trace_fd_reported,
};
