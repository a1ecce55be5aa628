/* backend.c — the registry of OS pollers and the choice CIO_BACKEND makes.
 *
 * Owns only the choice: the default is the first backend in preference
 * order that the kernel accepts; a backend named in CIO_BACKEND is used or
 * the loop fails to start (a test that asks for epoll must not silently get
 * poll).
 */
#include "internal.h"

#include <string.h>

#include "loop.h"

static const cio__backend_ops *const backends[] = {
    &cio__backend_epoll,
    &cio__backend_poll,
};

int cio__backend_open(cio_loop *loop)
{
    const char *want = getenv("CIO_BACKEND");
    size_t count = sizeof backends / sizeof backends[0];
    if (want && *want) {
        for (size_t i = 0; i < count; i++) {
            if (strcmp(backends[i]->name, want) == 0) {
                loop->backend = backends[i];
                return backends[i]->open(loop);
            }
        }
        fprintf(stderr, "cio: CIO_BACKEND=%s is not a backend of this build (try epoll or poll)\n",
                want);
        return -EINVAL;
    }
    int err = -ENOSYS;
    for (size_t i = 0; i < count; i++) {
        loop->backend = backends[i];
        err = backends[i]->open(loop);
        if (err == 0)
            return 0;
    }
    return err;
}
