/* trace.c — CIO_TRACE: the narrated trace (stderr) and the Chrome
 * trace-event JSON timeline, and the hooks every other file calls.
 *
 * Owns the hooks (trace.h) and what the trace records; debug mode's checks
 * are debug.c's, reached from the same hooks. Events stream out as they
 * happen: the JSON goes through one fixed buffer to its file, so memory
 * stays bounded however long the run. The only per-task state is a note
 * from a task's suspension to its resumption (what it waited on, since
 * when, who woke it), kept in a table indexed from the task's
 * cio__runnable.trace_note, and freed at the resumption.
 *
 * Hooks may run on a task's stack, which may be small: they format with
 * text.h into buffers of the trace state, never with printf on the stack.
 */
#include "internal.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "debug.h"
#include "loop.h"
#include "text.h"
#include "trace.h"


#define JSON_BUFFER (64 * 1024)
/* Room that one event can take in the buffers (names are cut to NAME_MAX). */
#define EVENT_MAX 1024
#define NAME_MAX_BYTES 64
#define DEFAULT_MAX_MB 256
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
     * cio__wake, as after a yield), the waking task's id (0: the loop),
     * and the result the wait returns. */
    uint64_t flow;
    uint64_t waker;
    int result;
    /* Next free note while on the free list. */
    uint32_t next_free;
} trace_note;

typedef struct cio__trace cio__trace;

struct cio__trace {
    /* Loop start (ns): every timestamp is relative to it. */
    int64_t t0;
    /* Narrate to stderr. */
    bool narrate;
    /* The JSON file (-1: none, or recording stopped), its path, the cap
     * and bytes written to it, and the buffer in front of it. */
    int fd;
    char *path;
    uint64_t cap, written;
    size_t len;
    bool any_event;
    char *buf;
    /* The closing text of the JSON, fixed at open (the cap leaves room). */
    char tail[256];
    /* Notes, indexed from 1, with a free list (0: empty). */
    trace_note *notes;
    uint32_t nnotes, capnotes, free_note;
    uint64_t next_flow;
    /* The running task's slice began here (ns). */
    int64_t run_start_ns;
    /* The poll in progress: when it began and its timeout. */
    int64_t poll_start_ns, poll_timeout_ns;
    /* The line being narrated. */
    char line[EVENT_MAX];
};

/* ------------------------------------------------------------ helpers */

const char *cio__trace_task_label(const cio_task *t, char buf[32])
{
    if (t->name)
        return t->name;
    cio__text s = cio__text_on(buf, 32);
    cio__text_str(&s, "task-");
    cio__text_u64(&s, t->id);
    return cio__text_end(&s);
}

/* `task#3 "fetch-a"` */
static void put_task(cio__text *s, const cio_task *t)
{
    char label[32];
    cio__text_str(s, "task#");
    cio__text_u64(s, t->id);
    cio__text_str(s, " \"");
    cio__text_json(s, cio__trace_task_label(t, label), NAME_MAX_BYTES);
    cio__text_char(s, '"');
}

/* Milliseconds since the loop started, from ns. */
static void put_ms(cio__text *s, const cio__trace *tr, int64_t ns, size_t width)
{
    cio__text_milli(s, (ns - tr->t0) / 1000, width);
}

/* Microseconds since the loop started (JSON "ts"), from ns. */
static void put_us(cio__text *s, const cio__trace *tr, int64_t ns)
{
    cio__text_milli(s, ns - tr->t0, 0);
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

/* What a wait is on, as narration and JSON name it. */
static void put_wait(cio__text *s, const cio__trace *tr, unsigned kind, int64_t what)
{
    switch (kind) {
    case CIO__WAIT_READABLE:
    case CIO__WAIT_WRITABLE:
        cio__text_str(s, "fd ");
        cio__text_i64(s, what);
        cio__text_str(s, kind == CIO__WAIT_READABLE ? " readable" : " writable");
        break;
    case CIO__WAIT_SLEEP:
        cio__text_str(s, "timer due at ");
        put_ms(s, tr, what, 0);
        cio__text_str(s, " ms");
        break;
    case CIO__WAIT_YIELD:
        cio__text_str(s, "its turn (it yielded)");
        break;
    case CIO__WAIT_TASK:
        cio__text_str(s, "task#");
        cio__text_i64(s, what);
        cio__text_str(s, " to finish");
        break;
    case CIO__WAIT_THREAD:
    case CIO__WAIT_GROUP:
        cio__text_str(s, cio__wait_kind_name((cio__wait_kind)kind));
        break;
    default:
        cio__text_str(s, cio__wait_kind_name((cio__wait_kind)kind));
        cio__text_str(s, " (");
        cio__text_hex(s, (uintptr_t)what);
        cio__text_char(s, ')');
        break;
    }
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
            cio__text_str(s, cio__wait_kind_name((cio__wait_kind)n->kind));
        }
        return;
    } else if (n->kind == CIO__WAIT_SLEEP) {
        cio__text_str(s, "its timer");
    } else if (n->kind == CIO__WAIT_THREAD) {
        cio__text_str(s, "the loop: thread-pool job done");
    } else if (n->kind == CIO__WAIT_READABLE || n->kind == CIO__WAIT_WRITABLE) {
        put_wait(s, tr, n->kind, n->what);
    } else {
        cio__text_str(s, "the loop");
    }
    if (n->waker) {
        cio__text_str(s, " from task#");
        cio__text_u64(s, n->waker);
    }
}

/* --------------------------------------------------------------- JSON */

static void json_stop(cio__trace *tr, const char *why)
{
    char msg[512];
    cio__text s = cio__text_on(msg, sizeof msg);
    cio__text_str(&s, "cio: trace: ");
    cio__text_str(&s, tr->path);
    cio__text_str(&s, why);
    cio__text_char(&s, '\n');
    ssize_t n = write(STDERR_FILENO, msg, s.len);
    (void)n;
    close(tr->fd);
    tr->fd = -1;
}

/* Writes the buffer out; false (recording stopped) on a write error. */
static bool json_flush(cio__trace *tr)
{
    size_t off = 0;
    while (off < tr->len) {
        ssize_t n = write(tr->fd, tr->buf + off, tr->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            json_stop(tr, n < 0 && errno == ENOSPC
                              ? ": disk full; recording stopped, the file is cut short"
                              : ": write failed; recording stopped, the file is cut short");
            return false;
        }
        off += (size_t)n;
    }
    tr->written += tr->len;
    tr->len = 0;
    return true;
}

/* Opens an event in the buffer; NULL if no JSON is recorded. */
static cio__text *event_begin(cio__trace *tr, cio__text *s)
{
    if (tr->fd < 0)
        return NULL;
    if (JSON_BUFFER - tr->len < EVENT_MAX && !json_flush(tr))
        return NULL;
    *s = cio__text_on(tr->buf + tr->len, EVENT_MAX);
    if (tr->any_event)
        cio__text_str(s, ",\n");
    return s;
}

/* Commits the event, unless it would take the file past the cap (then
 * recording stops, and the tail still fits). */
static void event_end(cio__trace *tr, cio__text *s)
{
    uint64_t total = tr->written + tr->len + s->len + strlen(tr->tail);
    if (total > tr->cap) {
        if (json_flush(tr)) {
            ssize_t n = write(tr->fd, tr->tail, strlen(tr->tail));
            (void)n;
            char why[128];
            cio__text w = cio__text_on(why, sizeof why);
            cio__text_str(&w, " reached CIO_TRACE_MAX_MB (");
            cio__text_u64(&w, tr->cap >> 20);
            cio__text_str(&w, " MiB): recording stopped there (the file is valid JSON)");
            json_stop(tr, cio__text_end(&w));
        }
        return;
    }
    tr->len += s->len;
    tr->any_event = true;
}

/* `{"ph":"X","cat":"run","name":"run","pid":1,"tid":N,"ts":...` */
static void put_event_head(cio__text *s, const cio__trace *tr, const char *ph, const char *cat,
                           uint64_t tid, int64_t ts_ns)
{
    cio__text_str(s, "{\"ph\":\"");
    cio__text_str(s, ph);
    cio__text_str(s, "\",\"cat\":\"");
    cio__text_str(s, cat);
    cio__text_str(s, "\",\"pid\":1,\"tid\":");
    cio__text_u64(s, tid);
    cio__text_str(s, ",\"ts\":");
    put_us(s, tr, ts_ns);
}

static void put_dur(cio__text *s, int64_t start_ns, int64_t end_ns)
{
    cio__text_str(s, ",\"dur\":");
    cio__text_milli(s, end_ns - start_ns, 0);
}

static void json_thread_name(cio__trace *tr, uint64_t tid, const cio_task *t)
{
    cio__text s;
    if (!event_begin(tr, &s))
        return;
    cio__text_str(&s, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":");
    cio__text_u64(&s, tid);
    cio__text_str(&s, ",\"args\":{\"name\":\"");
    if (t) {
        char label[32];
        cio__text_str(&s, "task#");
        cio__text_u64(&s, t->id);
        cio__text_char(&s, ' ');
        cio__text_json(&s, cio__trace_task_label(t, label), NAME_MAX_BYTES);
    } else {
        cio__text_str(&s, "loop");
    }
    cio__text_str(&s, "\"}}");
    event_end(tr, &s);
}

static void json_instant(cio__trace *tr, const cio_task *t, int64_t now, const char *name,
                         const char *arg, int64_t value)
{
    cio__text s;
    if (!event_begin(tr, &s))
        return;
    put_event_head(&s, tr, "i", "task", t->id, now);
    cio__text_str(&s, ",\"s\":\"t\",\"name\":\"");
    cio__text_str(&s, name);
    cio__text_str(&s, "\",\"args\":{\"");
    cio__text_str(&s, arg);
    cio__text_str(&s, "\":");
    cio__text_i64(&s, value);
    cio__text_str(&s, "}}");
    event_end(tr, &s);
}

static void json_run_slice(cio__trace *tr, const cio_task *t, int64_t now)
{
    cio__text s;
    if (!event_begin(tr, &s))
        return;
    put_event_head(&s, tr, "X", "run", t->id, tr->run_start_ns);
    put_dur(&s, tr->run_start_ns, now);
    cio__text_str(&s, ",\"name\":\"run\"}");
    event_end(tr, &s);
}

static void json_wait_slice(cio__trace *tr, const cio_task *t, const trace_note *n, int64_t now)
{
    cio__text s;
    if (!event_begin(tr, &s))
        return;
    put_event_head(&s, tr, "X", "wait", t->id, n->parked_ns);
    put_dur(&s, n->parked_ns, now);
    cio__text_str(&s, ",\"name\":\"wait: ");
    put_wait(&s, tr, n->kind, n->what);
    cio__text_str(&s, "\"}");
    event_end(tr, &s);
}

/* One end of a wake arrow: "s" at the waker, "f" at the woken's resume. */
static void json_flow(cio__trace *tr, const char *ph, uint64_t tid, uint64_t flow, int64_t now)
{
    cio__text s;
    if (!event_begin(tr, &s))
        return;
    put_event_head(&s, tr, ph, "wake", tid, now);
    cio__text_str(&s, ",\"name\":\"wake\",\"id\":");
    cio__text_u64(&s, flow);
    if (ph[0] == 'f')
        cio__text_str(&s, ",\"bp\":\"e\"");
    cio__text_char(&s, '}');
    event_end(tr, &s);
}

/* ----------------------------------------------------------- open/close */

static uint64_t max_bytes(void)
{
    const char *env = getenv("CIO_TRACE_MAX_MB");
    long mb = DEFAULT_MAX_MB;
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0)
            mb = v;
        else
            fprintf(stderr, "cio: trace: CIO_TRACE_MAX_MB=%s is not a positive number of MiB; "
                            "using %d\n",
                    env, DEFAULT_MAX_MB);
    }
    return (uint64_t)mb << 20;
}

/* Opens the JSON file; on failure says so in one line and records none. */
static void json_open(cio__trace *tr, cio_loop *loop, const char *path, size_t pathlen)
{
    tr->path = strndup(path, pathlen);
    tr->buf = malloc(JSON_BUFFER);
    if (!tr->path || !tr->buf) {
        fprintf(stderr, "cio: trace: out of memory for the JSON trace; running without it\n");
        return;
    }
    tr->fd = open(tr->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (tr->fd < 0) {
        fprintf(stderr, "cio: trace: cannot write %s: %s; running without the JSON trace\n",
                tr->path, strerror(errno));
        return;
    }
    tr->cap = max_bytes();
    snprintf(tr->tail, sizeof tr->tail,
             "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"backend\":\"%s\",\"features\":"
             "\"context=%s,debug=%d\"}}\n",
             loop->backend->name,
#if CIO__UCONTEXT
             "ucontext",
#else
             "assembly",
#endif
             loop->debug != NULL);
    static const char head[] = "{\"traceEvents\":[\n";
    memcpy(tr->buf, head, sizeof head - 1);
    tr->len = sizeof head - 1;
    json_thread_name(tr, 0, NULL);
}

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
        } else if (!(n == 1 && p[0] == '0') && tr->fd < 0 && !tr->path) {
            json_open(tr, loop, p, n);
            any |= tr->fd >= 0;
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

void cio__trace_loop_open(cio_loop *loop)
{
    bool debug = cio__debug_open(loop);
    /* After debug mode's start-up (which loads the unwinder), so that the
     * trace begins near 0 ms. */
    loop->counters.started_ns = cio__clock_ns();
    const char *env = getenv("CIO_TRACE");
    if (env && *env) {
        cio__trace *tr = calloc(1, sizeof *tr);
        if (!tr) {
            fprintf(stderr, "cio: trace: out of memory; running untraced\n");
        } else {
            tr->fd = -1;
            tr->t0 = loop->counters.started_ns;
            if (parse_destinations(tr, loop, env)) {
                loop->trace = tr;
            } else {
                free(tr->path);
                free(tr->buf);
                free(tr);
            }
        }
    }
    loop->traced = loop->trace || debug;
}

void cio__trace_loop_close(cio_loop *loop)
{
    loop->traced = false;
    if (loop->debug)
        cio__debug_close(loop);
    cio__trace *tr = loop->trace;
    if (!tr)
        return;
    loop->trace = NULL;
    if (tr->fd >= 0 && json_flush(tr)) {
        ssize_t n = write(tr->fd, tr->tail, strlen(tr->tail));
        (void)n;
        close(tr->fd);
    }
    free(tr->notes);
    free(tr->path);
    free(tr->buf);
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

void cio__trace_iteration(cio_loop *loop)
{
    if (loop->debug)
        cio__debug_iteration(loop);
}

void cio__trace_task_created(cio_task *t)
{
    cio_loop *loop = cio__loop;
    /* 0 until its first run, in debug mode too (which paints its stack then). */
    t->run.trace_note = 0;
    t->creator = loop->current ? (uint32_t)loop->current->id : 0;
    cio__trace *tr = loop->trace;
    if (!tr)
        return;
    int64_t now = cio__clock_ns();
    cio__text s;
    if (line_begin(tr, &s, now)) {
        put_task(&s, t);
        cio__text_str(&s, " created by ");
        if (loop->current)
            put_task(&s, loop->current);
        else
            cio__text_str(&s, loop->main_task ? "a callback" : "cio_run");
        line_end(&s);
    }
    json_thread_name(tr, t->id, t);
    json_instant(tr, t, now, "created", "creator", loop->current ? (int64_t)loop->current->id : 0);
}

/* t's end: its result, and (debug mode) how deep its stack went. */
static void task_finished(cio_loop *loop, cio_task *t, int result, int64_t now)
{
    if (loop->debug && t->stack.chunk)
        cio__debug_stack_check(t);
    cio__trace *tr = loop->trace;
    if (!tr)
        return;
    cio__text s;
    if (line_begin(tr, &s, now)) {
        put_task(&s, t);
        cio__text_str(&s, t->stack.chunk ? " finished: result " : " finished before it ran: result ");
        cio__text_i64(&s, result);
        if (result < 0) {
            cio__text_str(&s, " (");
            cio__text_str(&s, cio_strerror(result));
            cio__text_char(&s, ')');
        }
        line_end(&s);
    }
    json_instant(tr, t, now, "finished", "result", result);
}

void cio__trace_task_unstarted(cio_task *t, int result)
{
    task_finished(cio__loop, t, result, cio__clock_ns());
}

/* `from` stops running: a run slice, and what it now waits on. */
static void trace_suspend(cio__trace *tr, cio_task *from, bool dies, int64_t now)
{
    json_run_slice(tr, from, now);
    if (dies)
        return;
    uint32_t i = note_alloc(tr);
    from->run.trace_note = i ? i : NOTE_NONE;
    cio__waiter *w = from->waiter;
    unsigned kind = w ? w->kind : CIO__WAIT_YIELD;
    int64_t what = 0;
    if (w && (kind == CIO__WAIT_READABLE || kind == CIO__WAIT_WRITABLE))
        what = (int64_t)(intptr_t)w->object;
    else if (w && kind == CIO__WAIT_TASK)
        what = (int64_t)((cio_task *)w->object)->id;
    else if (w && kind == CIO__WAIT_SLEEP)
        what = w->own_deadline;
    else if (w)
        what = (int64_t)(intptr_t)w->object;
    if (i)
        tr->notes[i] = (trace_note){.parked_ns = now, .kind = (uint8_t)kind, .what = what};
    cio__text s;
    if (line_begin(tr, &s, now)) {
        put_task(&s, from);
        cio__text_str(&s, kind == CIO__WAIT_YIELD ? " yielded: waits for " : " suspended: waits for ");
        put_wait(&s, tr, kind, what);
        if (w && w->scope_deadline != INT64_MAX && kind != CIO__WAIT_SLEEP) {
            cio__text_str(&s, ", timeout at ");
            put_ms(&s, tr, w->scope_deadline, 0);
            cio__text_str(&s, " ms");
        }
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
    json_wait_slice(tr, to, n, now);
    if (n->flow)
        json_flow(tr, "f", to->id, n->flow, now);
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

void cio__trace_switch(cio_loop *loop, cio_task *from, cio_task *to, bool from_dies)
{
    cio__trace *tr = loop->trace;
    int64_t now = cio__clock_ns();
    if (from && from_dies)
        task_finished(loop, from, from->result, now);
    if (loop->debug)
        cio__debug_switch(loop, from, to);
    if (tr && from)
        trace_suspend(tr, from, from_dies, now);
    if (!to)
        return;
    uint32_t note = to->run.trace_note;
    /* Its first run: the stack is still fresh (the first frame is at its
     * top, the painted part at its bottom). */
    if (note == 0 && loop->debug)
        cio__debug_stack_paint(to);
    to->run.trace_note = NOTE_NONE;
    if (tr)
        trace_resume(tr, to, note, now);
}

void cio__trace_wake(cio__waiter *w, int result)
{
    cio_loop *loop = cio__loop;
    cio__trace *tr = loop->trace;
    if (!tr)
        return;
    cio_task *t = w->task;
    uint32_t i = t->run.trace_note;
    if (i == 0 || i == NOTE_NONE)
        return;
    trace_note *n = &tr->notes[i];
    n->flow = ++tr->next_flow;
    n->waker = loop->current ? loop->current->id : 0;
    n->result = result;
    int64_t now = cio__clock_ns();
    json_flow(tr, "s", n->waker, n->flow, now);
    /* The loop's own wake-ups (timers, thread-pool jobs) get a line here;
     * descriptors get theirs from cio__trace_fd_ready, tasks are named
     * when the woken one resumes. */
    cio__text s;
    const char *why = result == -ECANCELED             ? "cancels (cio_run is shutting down)"
                      : result == -ETIMEDOUT           ? "timeout expired"
                      : w->kind == CIO__WAIT_SLEEP     ? "timer due"
                      : w->kind == CIO__WAIT_THREAD    ? "thread-pool job done"
                      : w->kind == CIO__WAIT_READABLE || w->kind == CIO__WAIT_WRITABLE ? NULL
                                                       : "a callback woke it";
    if (!loop->current && why && line_begin(tr, &s, now)) {
        cio__text_str(&s, "loop: ");
        cio__text_str(&s, why);
        cio__text_str(&s, " -> ");
        put_task(&s, t);
        cio__text_str(&s, " ready");
        line_end(&s);
    }
}

void cio__trace_poll_begin(cio_loop *loop, int64_t timeout_ns)
{
    cio__trace *tr = loop->trace;
    if (!tr)
        return;
    int64_t now = cio__clock_ns();
    tr->poll_start_ns = now;
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

void cio__trace_poll_end(cio_loop *loop, int n)
{
    cio__trace *tr = loop->trace;
    if (!tr)
        return;
    int64_t now = cio__clock_ns();
    cio__text s;
    if (loop_line(tr, &s, now, "", loop->backend->name, " returned after ")) {
        cio__text_milli(&s, (now - tr->poll_start_ns) / 1000, 0);
        cio__text_str(&s, " ms: ");
        cio__text_i64(&s, n);
        cio__text_str(&s, " ready");
        line_end(&s);
    }
    if (!event_begin(tr, &s))
        return;
    put_event_head(&s, tr, "X", "poll", 0, tr->poll_start_ns);
    put_dur(&s, tr->poll_start_ns, now);
    cio__text_str(&s, ",\"name\":\"poll ");
    cio__text_str(&s, loop->backend->name);
    cio__text_str(&s, "\",\"args\":{\"timeout_ms\":");
    if (tr->poll_timeout_ns < 0)
        cio__text_str(&s, "-1");
    else
        cio__text_milli(&s, tr->poll_timeout_ns / 1000, 0);
    cio__text_str(&s, ",\"ready\":");
    cio__text_i64(&s, n);
    cio__text_str(&s, "}}");
    event_end(tr, &s);
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

void cio__trace_fd_ready(cio_loop *loop, int fd, unsigned events, cio__fd_state *st)
{
    cio__trace *tr = loop->trace;
    cio__text s;
    if (!tr || !loop_line(tr, &s, cio__clock_ns(), "", loop->backend->name, " reported fd "))
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
