/* SPDX-License-Identifier: MIT */
/* trace_json.h — the Chrome trace-event JSON file of CIO_TRACE=path.
 *
 * Events stream to the file through one fixed buffer, so memory stays
 * bounded however long the run; CIO_TRACE_MAX_MB caps the file, and the
 * closing text always fits under the cap, so a cut trace is valid JSON.
 * What the events mean is trace.c's business; this file only writes them.
 * Every call does nothing once recording has stopped (cap, write error).
 */
#ifndef CIO_TRACE_JSON_H
#define CIO_TRACE_JSON_H

#include "internal.h"

typedef struct cio__trace_json cio__trace_json;

/* Creates the file at path (len bytes; not NUL-terminated), timestamps
 * relative to t0 (ns), the backend's name, the features it uses
 * (cio__backend_describe: plain words, nothing to escape) and debug mode in
 * its header. NULL if it cannot be written, after one line on stderr
 * saying so. */
cio__trace_json *cio__trace_json_open(const char *path, size_t len, int64_t t0,
                                      const char *backend, const char *features, bool debug);
/* Writes the closing text (unless recording stopped) and frees j. */
void cio__trace_json_close(cio__trace_json *j);

/* A track's name, once per track: prefix (JSON-safe) then name (escaped,
 * cut to 64 bytes). Track 0 is the loop, track N task#N. */
void cio__trace_json_track(cio__trace_json *j, uint64_t tid, const char *prefix,
                           const char *name);
/* An instant event of a task ("created", "finished") with one integer
 * argument. */
void cio__trace_json_instant(cio__trace_json *j, uint64_t tid, int64_t now, const char *name,
                             const char *arg, int64_t value);
/* A slice from start to end (ns) on a track. `args`, if not NULL, is the
 * inside of a JSON object, already formatted. */
void cio__trace_json_slice(cio__trace_json *j, const char *cat, uint64_t tid, int64_t start,
                           int64_t end, const char *name, const char *args);
/* One end of a wake arrow: the start at the waker, the end (`finish`) at
 * the woken task's resumption. */
void cio__trace_json_flow(cio__trace_json *j, bool finish, uint64_t tid, uint64_t flow,
                          int64_t now);

#endif
