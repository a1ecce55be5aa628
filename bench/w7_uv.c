/* SPDX-License-Identifier: MIT */
/* w7_uv.c — W7 (file reads, WORKLOADS.md) on libuv, the peer w7_cio.c is
 * compared with: uv_fs_read with a callback, on libuv's thread pool (its
 * default size). One request per reader is in flight at all times (100
 * for random, 4 for sequential); each callback checks its read and issues
 * the reader's next, at the same offsets in the same order as w7_cio.c.
 *
 *   w7_uv --file PATH [--mode random|sequential]
 *
 * Prints the same RESULT line as w7_cio.c.
 */
#include <uv.h>

#include "w7_file.h"

/* One reader: its request (first, so that the request is the reader), its
 * buffer, and where it is. */
typedef struct reader {
    uv_fs_t req;
    uv_buf_t buf;
    w7_cursor cursor;
    off_t off;
    long left;
} reader;

static int fd;
static w7_mode mode;
static w7_tally tally;

static void on_read(uv_fs_t *req);

static void issue(reader *r)
{
    r->off = w7_next_offset(&r->cursor);
    int err = uv_fs_read(uv_default_loop(), &r->req, fd, &r->buf, 1, r->off, on_read);
    if (err < 0)
        bench_die("uv_fs_read: %s", uv_strerror(err));
}

static void on_read(uv_fs_t *req)
{
    reader *r = (reader *)req;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    if (n < 0)
        bench_die("uv_fs_read at %lld: %s", (long long)r->off, uv_strerror((int)n));
    w7_check(&tally, (const unsigned char *)r->buf.base, n, r->buf.len, r->off);
    if (--r->left > 0)
        issue(r);
}

int main(int argc, char **argv)
{
    const char *path = bench_opt(argc, argv, "file");
    if (!path)
        bench_die("usage: w7_uv --file PATH [--mode random|sequential]");
    mode = w7_parse_mode(bench_opt(argc, argv, "mode"));
    fd = w7_open_warm(path);
    long n = w7_readers(mode);
    size_t size = w7_read_size(mode);
    reader *readers = calloc((size_t)n, sizeof *readers);
    if (!readers)
        bench_die("out of memory");
    for (long i = 0; i < n; i++) {
        char *base = malloc(size);
        if (!base)
            bench_die("out of memory");
        readers[i] = (reader){.buf = uv_buf_init(base, (unsigned)size),
                              .cursor = w7_cursor_for(mode, i),
                              .left = w7_reads_per_reader(mode)};
    }

    w7_start(&tally);
    for (long i = 0; i < n; i++)
        issue(&readers[i]);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    char impl[64];
    snprintf(impl, sizeof impl, "impl=libuv version=%s", uv_version_string());
    w7_result(impl, mode, &tally);

    for (long i = 0; i < n; i++)
        free(readers[i].buf.base);
    free(readers);
    uv_loop_close(uv_default_loop());
    close(fd);
    return tally.errors ? 1 : 0;
}
