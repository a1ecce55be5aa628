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

/* Objects used after they were freed. Every object the API hands out
 * (lock, event, condition, semaphore, barrier, queue, future, task group,
 * stream) has a `magic` word, its type's CIO__MAGIC, that its constructor
 * writes and its release overwrites with CIO__MAGIC_FREED before the memory
 * goes back to malloc; every public call on it checks the word first, so a
 * double free or a call after the release aborts with a line naming the
 * call instead of corrupting memory. Always on: a compare of a word that
 * the call is about to load the cache line of anyway. The word is not at
 * the start of the struct, where malloc keeps its own links in freed
 * memory. It cannot catch a call on memory that malloc has already handed
 * out again to another object of the same type (an ASan build catches
 * that too, as a heap-use-after-free). */
#define CIO__MAGIC(a, b, c, d)                                                                     \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define CIO__MAGIC_FREED 0xF4EEDDEDu
/* Marks obj freed. A volatile store: the compiler drops a plain store to
 * memory that is passed to free() next, as dead. */
#define CIO__POISON(obj) (*(volatile uint32_t *)&(obj)->magic = CIO__MAGIC_FREED)
/* Aborts naming fn unless obj is NULL (each call's own argument check
 * handles that) or a live object of the type whose magic is `want`. fn and
 * what are string literals: the message is one constant, so that each
 * check costs a compare and a cold call with no formatting arguments. */
#define CIO__CHECK_LIVE(obj, want, fn, what)                                                       \
    do {                                                                                           \
        if (CIO__UNLIKELY((obj) && (obj)->magic != (want)))                                        \
            CIO__PANIC(fn ": the " what " was already freed (or is not a cio_" what ")");          \
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
