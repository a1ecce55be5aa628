/* SPDX-License-Identifier: MIT */
/* internal.h — the first include of every library source file.
 *
 * Feature macros, the loud-abort helpers for broken invariants, and the
 * visibility rule: everything is hidden unless marked CIO_EXTERN in cio.h.
 */
#ifndef CIO_INTERNAL_H
#define CIO_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cio.h"

/* The few internal calls that the other components' libraries make into
 * libcio (tls.c in libcio-tls, curl.c in libcio-curl): exported from
 * libcio.so although they are not API. A component works only with the
 * libcio of its own release, which its pkg-config file and Debian package
 * require; scripts/test.sh checks that libcio.so exports nothing else
 * besides the public calls. */
#define CIO__COMPONENT __attribute__((visibility("default")))

#include "errors.h"

#define CIO__LIKELY(x) __builtin_expect(!!(x), 1)
#define CIO__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* An impossible state or a misuse that cannot be reported as a value: say
 * where and why, then abort, rather than run on past a broken invariant. */
#define CIO__PANIC(...) cio__errors_panic(__FILE__, __LINE__, __VA_ARGS__)
#define CIO__ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (CIO__UNLIKELY(!(cond)))                                                                \
            CIO__PANIC("assertion failed: %s", #cond);                                             \
    } while (0)

/* Sanitizer detection that works for gcc and clang alike. */
#if defined(__SANITIZE_ADDRESS__)
#define CIO__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CIO__ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CIO__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CIO__TSAN 1
#endif
#endif

#define CIO__MIN(a, b) ((a) < (b) ? (a) : (b))
#define CIO__MAX(a, b) ((a) > (b) ? (a) : (b))
#define CIO__CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
