/* SPDX-License-Identifier: MIT */
/* version.c — the library's own version, for programs that want to know
 * which release they run with (not the header they were built with).
 */
#include <cio.h>

#define CIO_STR_(x) #x
#define CIO_STR(x) CIO_STR_(x)

unsigned cio_version(void) { return CIO_VERSION_HEX; }

const char *cio_version_string(void)
{
    return CIO_STR(CIO_VERSION_MAJOR) "." CIO_STR(CIO_VERSION_MINOR) "." CIO_STR(CIO_VERSION_PATCH);
}
