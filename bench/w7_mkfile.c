/* SPDX-License-Identifier: MIT */
/* w7_mkfile.c — writes the 256 MiB file W7 reads (its layout is in
 * w7_file.h), once per run of bench/run-w7.sh, before any reader starts.
 *
 *   w7_mkfile --file PATH
 */
#include "w7_file.h"

int main(int argc, char **argv)
{
    const char *path = bench_opt(argc, argv, "file");
    if (!path)
        bench_die("usage: w7_mkfile --file PATH");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        bench_die("%s: %s", path, strerror(errno));
    /* 1 MiB at a time: 256 writes rather than 65,536. */
    enum { PER_WRITE = 256 };
    unsigned char *buf = malloc((size_t)(PER_WRITE * W7_BLOCK));
    if (!buf)
        bench_die("out of memory");
    for (long block = 0; block < W7_BLOCKS; block += PER_WRITE) {
        for (long i = 0; i < PER_WRITE; i++)
            w7_fill_block(buf + i * W7_BLOCK, (uint64_t)(block + i));
        size_t len = (size_t)(PER_WRITE * W7_BLOCK), done = 0;
        while (done < len) {
            ssize_t n = write(fd, buf + done, len - done);
            if (n < 0 && errno != EINTR)
                bench_die("%s: %s", path, strerror(errno));
            if (n > 0)
                done += (size_t)n;
        }
    }
    free(buf);
    if (close(fd) != 0)
        bench_die("%s: %s", path, strerror(errno));
    return 0;
}
