/* SPDX-License-Identifier: MIT */
/* w7_cio.c — W7 (file reads, WORKLOADS.md) on cio: one task per reader,
 * each doing its cio_preads one after the other, all readers at once.
 * On epoll and poll every cio_pread is a job for the thread pool; on
 * io_uring it goes through the ring. CIO_BACKEND picks the backend.
 *
 *   w7_cio --file PATH [--mode random|sequential]
 *
 * random: 100 tasks x 10,000 reads of 4 KiB at seeded random offsets;
 * sequential: 4 tasks, each a quarter of the file in 64 KiB reads. The
 * file is read once whole before the clock starts. Prints one RESULT line:
 * reads/s, MiB/s, the process's CPU µs per read, and the checksum with
 * the value it must have.
 */
#include <cio.h>

#include "w7_file.h"

static int fd;
static w7_mode mode;
static w7_tally tally;

static int read_all(void *arg)
{
    long reader = (long)(intptr_t)arg;
    size_t size = w7_read_size(mode);
    unsigned char *buf = malloc(size);
    if (!buf)
        bench_die("out of memory");
    w7_cursor c = w7_cursor_for(mode, reader);
    for (long i = 0; i < w7_reads_per_reader(mode); i++) {
        off_t off = w7_next_offset(&c);
        ssize_t n = cio_pread(fd, buf, size, off);
        if (n < 0)
            bench_die("cio_pread at %lld: %s", (long long)off, cio_strerror((int)n));
        w7_check(&tally, buf, n, size, off);
    }
    free(buf);
    return 0;
}

static int w7_main(void *arg)
{
    (void)arg;
    long n = w7_readers(mode);
    cio_task **tasks = calloc((size_t)n, sizeof *tasks);
    if (!tasks)
        bench_die("out of memory");
    w7_start(&tally);
    for (long i = 0; i < n; i++) {
        tasks[i] = cio_create_task(read_all, (void *)(intptr_t)i);
        if (!tasks[i])
            bench_die("cio_create_task: %s", strerror(errno));
    }
    bench_await_sum(tasks, n);
    char impl[64];
    snprintf(impl, sizeof impl, "impl=cio backend=%s", cio_backend_name());
    w7_result(impl, mode, &tally);
    free(tasks);
    return tally.errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *path = bench_opt(argc, argv, "file");
    if (!path)
        bench_die("usage: w7_cio --file PATH [--mode random|sequential]");
    mode = w7_parse_mode(bench_opt(argc, argv, "mode"));
    fd = w7_open_warm(path);
    int r = bench_run(w7_main, NULL);
    close(fd);
    return r < 0 ? 1 : r;
}
