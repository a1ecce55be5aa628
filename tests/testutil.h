/* testutil.h — what every cio test shares: assertions that print error
 * names, and a cio_run wrapper that checks the loop left nothing behind.
 * Include after <cmocka.h>'s prerequisites; this header includes cmocka.
 */
#ifndef CIO_TESTUTIL_H
#define CIO_TESTUTIL_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include <cio.h>

/* Asserts that a cio call returned `want` (a count, 0, or a negative
 * code), printing both sides by name on failure. */
#define assert_cio(expr, want)                                                                     \
    do {                                                                                           \
        long long got_ = (long long)(expr);                                                        \
        long long want_ = (long long)(want);                                                       \
        if (got_ != want_)                                                                         \
            fail_msg("%s returned %lld (%s), expected %lld (%s)", #expr, got_,                    \
                     cio_strerror((int)got_), want_, cio_strerror((int)want_));                   \
    } while (0)

/* Open descriptors of this process (to check that nothing leaked). */
static inline int test_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n++;
    closedir(d);
    return n;
}

/* Runs fn(arg) as main of a fresh loop and returns main's result; fails the
 * test if the run leaked descriptors. The loop itself aborts at close if a
 * stack was not given back. */
static inline int test_run(cio_fn fn, void *arg)
{
    int before = test_open_fds();
    int r = cio_run(fn, arg);
    int after = test_open_fds();
    if (after != before)
        fail_msg("the loop leaked %d descriptor(s)", after - before);
    return r;
}

#endif
