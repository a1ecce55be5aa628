/* SPDX-License-Identifier: MIT */
/* w7_file.h — what W7's programs (WORKLOADS.md, file reads) share: the
 * file's size and layout, the two shapes of reading, the seeded random
 * offsets, the check of every read, and opening the file warm.
 *
 * Header-only and free of cio, so that w7_cio.c and w7_uv.c read the very
 * same offsets in the same order and check them the same way, and
 * w7_mkfile.c writes what they check.
 *
 * Layout: 65,536 blocks of 4 KiB. Block i starts with i as a native
 * uint64_t; the rest of it is the byte (i * 7) & 0xff. Every read is
 * checked block by block, and the RESULT checksum is the sum of the first
 * uint64_t of every read, which each program also computes from the offsets
 * alone (the "expected" value the harness compares it with).
 *
 * Both runtimes complete every read on the loop's thread (cio's tasks run
 * there, and so do libuv's callbacks), so one w7_tally counts them all.
 */
#ifndef CIO_BENCH_W7_FILE_H
#define CIO_BENCH_W7_FILE_H

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common.h"

#define W7_FILE_SIZE (256L * 1024 * 1024)
#define W7_BLOCK 4096L
#define W7_BLOCKS (W7_FILE_SIZE / W7_BLOCK)

/* random: 100 readers x 10,000 reads of one block at a random block. */
#define W7_RANDOM_READERS 100L
#define W7_RANDOM_READS 10000L
/* sequential: 4 readers, each a quarter of the file in 64 KiB reads. */
#define W7_SEQ_READERS 4L
#define W7_SEQ_CHUNK (64L * 1024)
#define W7_SEQ_READS (W7_FILE_SIZE / W7_SEQ_READERS / W7_SEQ_CHUNK)

typedef enum { W7_RANDOM, W7_SEQUENTIAL } w7_mode;

static inline w7_mode w7_parse_mode(const char *name)
{
    if (!name || strcmp(name, "random") == 0)
        return W7_RANDOM;
    if (strcmp(name, "sequential") == 0)
        return W7_SEQUENTIAL;
    bench_die("unknown mode '%s' (random, sequential)", name);
    return W7_RANDOM;
}

static inline const char *w7_mode_name(w7_mode m)
{
    return m == W7_SEQUENTIAL ? "sequential" : "random";
}

static inline long w7_readers(w7_mode m)
{
    return m == W7_SEQUENTIAL ? W7_SEQ_READERS : W7_RANDOM_READERS;
}

static inline long w7_reads_per_reader(w7_mode m)
{
    return m == W7_SEQUENTIAL ? W7_SEQ_READS : W7_RANDOM_READS;
}

static inline size_t w7_read_size(w7_mode m)
{
    return (size_t)(m == W7_SEQUENTIAL ? W7_SEQ_CHUNK : W7_BLOCK);
}

/* Where one reader's reads go. Random: splitmix64 seeded with the reader's
 * index, so each reader's sequence is fixed and independent of how the
 * runtime interleaves the readers. Sequential: the reader's quarter, in
 * order. */
typedef struct w7_cursor {
    w7_mode mode;
    uint64_t state;
    off_t next;
} w7_cursor;

#define W7_SEED 0x5717f11e5eedULL

static inline w7_cursor w7_cursor_for(w7_mode m, long reader)
{
    w7_cursor c = {.mode = m,
                   .state = W7_SEED + (uint64_t)reader * 0x9e3779b97f4a7c15ULL,
                   .next = (off_t)reader * (W7_FILE_SIZE / W7_SEQ_READERS)};
    return c;
}

static inline off_t w7_next_offset(w7_cursor *c)
{
    if (c->mode == W7_SEQUENTIAL) {
        off_t off = c->next;
        c->next += W7_SEQ_CHUNK;
        return off;
    }
    uint64_t z = (c->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (off_t)(z % (uint64_t)W7_BLOCKS) * W7_BLOCK;
}

/* The checksum the whole run must produce: the sum of the first block
 * index of every read, from the offsets alone. */
static inline uint64_t w7_expected_sum(w7_mode m)
{
    uint64_t sum = 0;
    for (long r = 0; r < w7_readers(m); r++) {
        w7_cursor c = w7_cursor_for(m, r);
        for (long i = 0; i < w7_reads_per_reader(m); i++)
            sum += (uint64_t)(w7_next_offset(&c) / W7_BLOCK);
    }
    return sum;
}

static inline void w7_fill_block(unsigned char *b, uint64_t index)
{
    memset(b, (int)((index * 7) & 0xff), (size_t)W7_BLOCK);
    memcpy(b, &index, sizeof index);
}

/* A whole run: when it started, and what its reads found. */
typedef struct w7_tally {
    int64_t t0_ns;
    int64_t cpu0_ns;
    long reads;
    long errors;
    uint64_t sum;
} w7_tally;

/* The process's CPU time (every thread: the loop, the thread pool's
 * workers, io_uring's), in ns. */
static inline int64_t w7_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Starts the clocks, just before the first read is issued. */
static inline void w7_start(w7_tally *t)
{
    *t = (w7_tally){.cpu0_ns = w7_cpu_ns(), .t0_ns = bench_now_ns()};
}

/* Counts a read that asked for `want` bytes at `off` and got `got`: a
 * short read and every block whose header is not its index are errors;
 * the read's first uint64_t goes into the checksum. */
static inline void w7_check(w7_tally *t, const unsigned char *buf, ssize_t got, size_t want,
                            off_t off)
{
    t->reads++;
    if (got != (ssize_t)want) {
        t->errors++;
        return;
    }
    for (size_t at = 0; at < want; at += (size_t)W7_BLOCK) {
        uint64_t index;
        memcpy(&index, buf + at, sizeof index);
        if (index != (uint64_t)(off + (off_t)at) / (uint64_t)W7_BLOCK)
            t->errors++;
        if (at == 0)
            t->sum += index;
    }
}

/* Opens the file W7 reads, checks its size and reads it once whole, so
 * that every measured read finds its page in the page cache. */
static inline int w7_open_warm(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        bench_die("%s: %s", path, strerror(errno));
    if (st.st_size != W7_FILE_SIZE)
        bench_die("%s: %lld bytes, not %ld (write it with w7_mkfile)", path, (long long)st.st_size,
                  W7_FILE_SIZE);
    size_t size = 1 << 20;
    unsigned char *chunk = malloc(size);
    if (!chunk)
        bench_die("out of memory");
    ssize_t n;
    while ((n = read(fd, chunk, size)) > 0) {
    }
    if (n < 0)
        bench_die("%s: %s", path, strerror(errno));
    free(chunk);
    return fd;
}

/* Stops the clocks, as soon as the last read is in, and prints the run's
 * RESULT line; impl names the runtime ("impl=cio backend=epoll"). The
 * rates count the reads done, which the harness checks against the
 * workload's. */
static inline void w7_result(const char *impl, w7_mode m, const w7_tally *t)
{
    int64_t elapsed_ns = bench_now_ns() - t->t0_ns;
    int64_t cpu_ns = w7_cpu_ns() - t->cpu0_ns;
    double seconds = (double)elapsed_ns / 1e9;
    double reads = (double)t->reads;
    double mib = reads * (double)w7_read_size(m) / (1024.0 * 1024.0);
    bench_result("workload=w7 %s mode=%s readers=%ld reads=%ld errors=%ld sum=%llu "
                 "expected=%llu elapsed_ms=%.3f reads_per_s=%.0f mib_per_s=%.1f "
                 "cpu_us_per_read=%.3f",
                 impl, w7_mode_name(m), w7_readers(m), t->reads, t->errors,
                 (unsigned long long)t->sum, (unsigned long long)w7_expected_sum(m),
                 bench_ms(elapsed_ns), reads / seconds, mib / seconds,
                 (double)cpu_ns / 1e3 / (reads > 0 ? reads : 1));
}

#endif
