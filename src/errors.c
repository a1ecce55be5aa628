/* SPDX-License-Identifier: MIT */
/* errors.c — names for every code the library returns (errno, CIO_EOF and
 * the resolver's CIO_EAI_* from cio.h's list), and the loud abort.
 */
#include "internal.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

const char *cio_strerror(int code)
{
    switch (code) {
    case CIO_EOF:
        return "end of stream before the requested data";
#define EAI_NAME(name, offset, text)                                                               \
    case CIO_EAI_##name:                                                                           \
        return text;
        CIO_EAI_MAP(EAI_NAME)
#undef EAI_NAME
    default:
        break;
    }
    if (code >= 0)
        return "success";
    if (code < -4095)
        return "unknown error";
#ifdef __GLIBC__
    /* strerrordesc_np returns glibc's constant table entry: no buffer
     * shared between threads, as strerror may use for unknown codes. */
    const char *desc = strerrordesc_np(-code);
#else
    /* musl's strerror returns an entry of its constant table for every
     * code, known or not: no shared buffer either. */
    const char *desc = strerror(-code);
#endif
    return desc ? desc : "unknown error";
}

void cio__errors_panic(const char *file, int line, const char *fmt, ...)
{
    /* Formatted into one buffer and written with write(2), not fprintf:
     * stderr is unbuffered, and glibc's fprintf on an unbuffered stream
     * puts an 8 KiB buffer on the stack, more than a small task stack (or
     * one that has just overflowed) has left. */
    static const char prefix[] = "cio: fatal: ";
    char msg[640];
    size_t len = sizeof prefix - 1;
    memcpy(msg, prefix, len);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg + len, sizeof msg - len, fmt, ap);
    va_end(ap);
    if (n > 0)
        len += CIO__MIN((size_t)n, sizeof msg - len - 1);
    n = snprintf(msg + len, sizeof msg - len, " (%s:%d)\n", file, line);
    if (n > 0)
        len += CIO__MIN((size_t)n, sizeof msg - len - 1);
    msg[len - 1] = '\n'; /* even when truncated, end the line */
    for (size_t off = 0; off < len;) {
        ssize_t w = write(STDERR_FILENO, msg + off, len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    abort();
}
