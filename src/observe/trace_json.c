/* SPDX-License-Identifier: MIT */
/* trace_json.c — writing CIO_TRACE's Chrome trace-event JSON file.
 *
 * Owns the file: its buffer, its cap and its closing text. The events it
 * writes follow the format of the Trace Event Format document (the JSON
 * object form: "traceEvents", "displayTimeUnit", "otherData"); which
 * events and when is trace.c's. Formatting uses text.h into the buffer
 * itself, never printf on the stack: the hooks that call this may run on
 * a task's small stack.
 */
#include "internal.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "text.h"
#include "observe/trace_json.h"

#define BUFFER_BYTES (64 * 1024)
/* Room that one event can take in the buffer (names are cut to
 * NAME_MAX_BYTES, escaped at most six times over). */
#define EVENT_MAX 1024
#define NAME_MAX_BYTES 64
#define DEFAULT_MAX_MB 256

struct cio__trace_json {
    /* Timestamps are relative to this (ns). */
    int64_t t0;
    /* The file (-1 once recording stopped), its path, the cap and what
     * has been written to it. */
    int fd;
    char *path;
    uint64_t cap, written;
    /* Events not yet written, and whether one was ever committed (the
     * next needs a comma). */
    char buf[BUFFER_BYTES];
    size_t len;
    bool any_event;
    /* The closing text, fixed at open; the cap always leaves room for it. */
    char tail[512];
    size_t tail_len;
};

static void stop(cio__trace_json *j, const char *why)
{
    char msg[512];
    cio__text s = cio__text_on(msg, sizeof msg);
    cio__text_str(&s, "cio: trace: ");
    cio__text_str(&s, j->path);
    cio__text_str(&s, why);
    cio__text_char(&s, '\n');
    ssize_t n = write(STDERR_FILENO, msg, s.len);
    (void)n;
    close(j->fd);
    j->fd = -1;
}

/* Writes everything out; false (recording stopped) on an error. */
static bool write_all(cio__trace_json *j, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(j->fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            stop(j, n < 0 && errno == ENOSPC
                        ? ": disk full; recording stopped, the file is cut short"
                        : ": write failed; recording stopped, the file is cut short");
            return false;
        }
        off += (size_t)n;
    }
    j->written += len;
    return true;
}

static bool flush(cio__trace_json *j)
{
    bool ok = write_all(j, j->buf, j->len);
    j->len = 0;
    return ok;
}

/* Opens an event in the buffer; NULL if recording has stopped. */
static cio__text *event_begin(cio__trace_json *j, cio__text *s)
{
    if (j->fd < 0)
        return NULL;
    if (BUFFER_BYTES - j->len < EVENT_MAX && !flush(j))
        return NULL;
    *s = cio__text_on(j->buf + j->len, EVENT_MAX);
    if (j->any_event)
        cio__text_str(s, ",\n");
    return s;
}

/* Commits the event, unless it would take the file past the cap: then the
 * file is closed with its tail, and recording stops. */
static void event_end(cio__trace_json *j, cio__text *s)
{
    if (j->written + j->len + s->len + j->tail_len > j->cap) {
        if (flush(j) && write_all(j, j->tail, j->tail_len)) {
            char why[128];
            cio__text w = cio__text_on(why, sizeof why);
            cio__text_str(&w, " reached CIO_TRACE_MAX_MB (");
            cio__text_u64(&w, j->cap >> 20);
            cio__text_str(&w, " MiB): recording stopped there (the file is valid JSON)");
            stop(j, cio__text_end(&w));
        }
        return;
    }
    j->len += s->len;
    j->any_event = true;
}

/* `{"ph":"X","cat":"run","pid":1,"tid":N,"ts":12.345` (ts in µs). */
static void put_head(cio__text *s, const cio__trace_json *j, const char *ph, const char *cat,
                     uint64_t tid, int64_t ts_ns)
{
    cio__text_str(s, "{\"ph\":\"");
    cio__text_str(s, ph);
    cio__text_str(s, "\",\"cat\":\"");
    cio__text_str(s, cat);
    cio__text_str(s, "\",\"pid\":1,\"tid\":");
    cio__text_u64(s, tid);
    cio__text_str(s, ",\"ts\":");
    cio__text_milli(s, ts_ns - j->t0, 0);
}

void cio__trace_json_track(cio__trace_json *j, uint64_t tid, const char *prefix,
                           const char *name)
{
    cio__text s;
    if (!event_begin(j, &s))
        return;
    cio__text_str(&s, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":");
    cio__text_u64(&s, tid);
    cio__text_str(&s, ",\"args\":{\"name\":\"");
    cio__text_str(&s, prefix);
    cio__text_json(&s, name, NAME_MAX_BYTES);
    cio__text_str(&s, "\"}}");
    event_end(j, &s);
}

void cio__trace_json_instant(cio__trace_json *j, uint64_t tid, int64_t now, const char *name,
                             const char *arg, int64_t value)
{
    cio__text s;
    if (!event_begin(j, &s))
        return;
    put_head(&s, j, "i", "task", tid, now);
    cio__text_str(&s, ",\"s\":\"t\",\"name\":\"");
    cio__text_str(&s, name);
    cio__text_str(&s, "\",\"args\":{\"");
    cio__text_str(&s, arg);
    cio__text_str(&s, "\":");
    cio__text_i64(&s, value);
    cio__text_str(&s, "}}");
    event_end(j, &s);
}

void cio__trace_json_slice(cio__trace_json *j, const char *cat, uint64_t tid, int64_t start,
                           int64_t end, const char *name, const char *args)
{
    cio__text s;
    if (!event_begin(j, &s))
        return;
    put_head(&s, j, "X", cat, tid, start);
    cio__text_str(&s, ",\"dur\":");
    cio__text_milli(&s, end - start, 0);
    cio__text_str(&s, ",\"name\":\"");
    cio__text_json(&s, name, EVENT_MAX / 8);
    cio__text_char(&s, '"');
    if (args) {
        cio__text_str(&s, ",\"args\":{");
        cio__text_str(&s, args);
        cio__text_char(&s, '}');
    }
    cio__text_char(&s, '}');
    event_end(j, &s);
}

void cio__trace_json_flow(cio__trace_json *j, bool finish, uint64_t tid, uint64_t flow,
                          int64_t now)
{
    cio__text s;
    if (!event_begin(j, &s))
        return;
    put_head(&s, j, finish ? "f" : "s", "wake", tid, now);
    cio__text_str(&s, ",\"name\":\"wake\",\"id\":");
    cio__text_u64(&s, flow);
    if (finish)
        cio__text_str(&s, ",\"bp\":\"e\"");
    cio__text_char(&s, '}');
    event_end(j, &s);
}

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

cio__trace_json *cio__trace_json_open(const char *path, size_t len, int64_t t0,
                                      const char *backend, const char *features, bool debug)
{
    cio__trace_json *j = malloc(sizeof *j);
    char *copy = strndup(path, len);
    if (!j || !copy) {
        fprintf(stderr, "cio: trace: out of memory for the JSON trace; running without it\n");
        goto fail;
    }
    j->fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        fprintf(stderr, "cio: trace: cannot write %s: %s; running without the JSON trace\n", copy,
                strerror(errno));
        goto fail;
    }
    j->path = copy;
    j->t0 = t0;
    j->cap = max_bytes();
    j->written = 0;
    j->any_event = false;
    int n = snprintf(j->tail, sizeof j->tail,
                     "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"backend\":\"%s\","
                     "\"features\":\"%s; context=%s, debug=%d\"}}\n",
                     backend, features,
#if CIO__UCONTEXT
                     "ucontext",
#else
                     "assembly",
#endif
                     debug);
    j->tail_len = (size_t)n;
    static const char head[] = "{\"traceEvents\":[\n";
    memcpy(j->buf, head, sizeof head - 1);
    j->len = sizeof head - 1;
    cio__trace_json_track(j, 0, "loop", "");
    return j;

fail:
    free(copy);
    free(j);
    return NULL;
}

void cio__trace_json_close(cio__trace_json *j)
{
    if (j->fd >= 0 && flush(j) && write_all(j, j->tail, j->tail_len))
        close(j->fd);
    free(j->path);
    free(j);
}
