/* errors.c — names for every code the library returns, and the loud abort.
 */
#include "internal.h"

#include <stdarg.h>
#include <string.h>

const char *cio_strerror(int code)
{
    if (code == CIO_EOF)
        return "end of stream before the requested data";
    if (code >= 0)
        return "success";
    if (code < -4095)
        return "unknown error";
    /* strerrordesc_np returns glibc's constant table entry: no buffer
     * shared between threads, as strerror may use for unknown codes. */
    const char *desc = strerrordesc_np(-code);
    return desc ? desc : "unknown error";
}

void cio__panic(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "cio: fatal: %s (%s:%d)\n", msg, file, line);
    fflush(stderr);
    abort();
}
