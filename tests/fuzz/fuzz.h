/* SPDX-License-Identifier: MIT */
/* fuzz.h — what the libFuzzer targets share: a loud stop that libFuzzer
 * records as a crash (with the input that caused it), and one cio_run per
 * input that checks the run left no descriptor open.
 *
 * Header-only, static inline: each target is its own program. Every input
 * runs in a fresh loop, so nothing of one input's run is left for the next
 * (the library's process-wide state aside): a crash replays from its input.
 */
#ifndef CIO_FUZZ_H
#define CIO_FUZZ_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cio.h>

#include "../fds.h"

/* Prints "fuzz: <what>" and aborts: libFuzzer saves the input as crash-*. */
__attribute__((noreturn, format(printf, 1, 2))) static inline void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* FUZZ_CHECK(cond, fmt, ...): the invariant holds or the input is a crash. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__VA_ARGS__);                                                                \
    } while (0)

/* Runs main_fn(arg) as the main task of a fresh loop; the run must return
 * 0 and leave as many descriptors open as there were before it (but the
 * io_uring the thread keeps). */
static inline void fuzz_run(cio_fn main_fn, void *arg)
{
    int before = test_open_fds();
    FUZZ_CHECK(before >= 0, "cannot read /proc/self/fd");
    int r = cio_run(main_fn, arg);
    FUZZ_CHECK(r == 0, "cio_run returned %d (%s)", r, cio_strerror(r));
    int after = test_open_fds();
    FUZZ_CHECK(after == before, "the run left %d descriptor(s) open", after - before);
    FUZZ_CHECK(test_count_fds(true) <= 1, "%d io_urings are open after a loop on one thread",
               test_count_fds(true));
}

#endif
