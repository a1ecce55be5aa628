/* SPDX-License-Identifier: MIT */
/* text.h — appending text and numbers to a fixed buffer, without stdio.
 *
 * For the places where printf is the wrong tool: signal handlers (only
 * async-signal-safe code), and trace hooks that run on a task's stack,
 * which may be 2 KiB (printf of a number can take more). Nothing here
 * allocates, and a full buffer truncates instead of overflowing.
 */
#ifndef CIO_TEXT_H
#define CIO_TEXT_H

#include "internal.h"

typedef struct cio__text {
    char *buf;
    /* Bytes written so far, and the buffer's size (one byte stays free for
     * a terminating NUL). */
    size_t len, cap;
} cio__text;

static inline cio__text cio__text_on(char *buf, size_t cap)
{
    return (cio__text){buf, 0, cap};
}

static inline void cio__text_char(cio__text *t, char c)
{
    if (t->len + 1 < t->cap)
        t->buf[t->len++] = c;
}

static inline void cio__text_str(cio__text *t, const char *s)
{
    while (*s && t->len + 1 < t->cap)
        t->buf[t->len++] = *s++;
}

static inline void cio__text_u64(cio__text *t, uint64_t v)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        cio__text_char(t, digits[--n]);
}

static inline void cio__text_i64(cio__text *t, int64_t v)
{
    if (v < 0) {
        cio__text_char(t, '-');
        cio__text_u64(t, (uint64_t)0 - (uint64_t)v);
    } else {
        cio__text_u64(t, (uint64_t)v);
    }
}

/* `thousandths` / 1000 with three decimals ("12.345"), right-aligned in
 * `width` characters (0: no padding). */
static inline void cio__text_milli(cio__text *t, int64_t thousandths, size_t width)
{
    char tmp[32];
    cio__text s = cio__text_on(tmp, sizeof tmp);
    uint64_t mag = thousandths < 0 ? (uint64_t)0 - (uint64_t)thousandths : (uint64_t)thousandths;
    if (thousandths < 0)
        cio__text_char(&s, '-');
    cio__text_u64(&s, mag / 1000);
    cio__text_char(&s, '.');
    cio__text_char(&s, (char)('0' + mag / 100 % 10));
    cio__text_char(&s, (char)('0' + mag / 10 % 10));
    cio__text_char(&s, (char)('0' + mag % 10));
    for (size_t pad = s.len; pad < width; pad++)
        cio__text_char(t, ' ');
    for (size_t i = 0; i < s.len; i++)
        cio__text_char(t, tmp[i]);
}

static inline void cio__text_hex(cio__text *t, uintptr_t v)
{
    cio__text_str(t, "0x");
    char digits[2 * sizeof v];
    size_t n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        cio__text_char(t, digits[--n]);
}

/* s as the inside of a JSON string (quotes, backslashes and control
 * characters escaped), cut after about `max` bytes of s (never inside a
 * UTF-8 sequence). */
static inline void cio__text_json(cio__text *t, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && (i < max || ((unsigned char)s[i] & 0xC0) == 0x80); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            cio__text_char(t, '\\');
            cio__text_char(t, (char)c);
        } else if (c < 0x20) {
            cio__text_str(t, "\\u00");
            cio__text_char(t, "0123456789abcdef"[c >> 4]);
            cio__text_char(t, "0123456789abcdef"[c & 15]);
        } else {
            cio__text_char(t, (char)c);
        }
    }
}

/* NUL-terminates the text and returns it. */
static inline const char *cio__text_end(cio__text *t)
{
    t->buf[t->len] = '\0';
    return t->buf;
}

#endif
