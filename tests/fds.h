/* SPDX-License-Identifier: MIT */
/* fds.h — counting this process's descriptors, for the leak checks of the
 * tests (testutil.h) and the fuzz targets (fuzz/fuzz.h). No cmocka here.
 */
#ifndef CIO_TEST_FDS_H
#define CIO_TEST_FDS_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Open descriptors of this process, io_urings (rings true) or the others:
 * a thread keeps its io_uring between its loops and closes it as it exits
 * (src/io/backend/uring_keep.c), so the leak checks count rings apart.
 * -1 if /proc/self/fd cannot be read. */
static inline int test_count_fds(bool rings)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        target[len > 0 ? len : 0] = '\0';
        if ((strcmp(target, "anon_inode:[io_uring]") == 0) == rings)
            n++;
    }
    closedir(d);
    return n;
}

/* Open descriptors of this process but io_urings (to check that nothing
 * leaked). */
static inline int test_open_fds(void) { return test_count_fds(false); }

#endif
