/* backend.h — the interface every OS poller implements (epoll, poll, and
 * later io_uring), and the registry CIO_BACKEND picks from.
 *
 * A backend only watches descriptors and reports readiness: it calls
 * cio__fd_ready for each descriptor the OS reports. Who waits on what is
 * fd.c's business.
 */
#ifndef CIO_BACKEND_H
#define CIO_BACKEND_H

#include "internal.h"

struct cio_loop;

/* Interest and readiness bits. */
enum { CIO__EV_READ = 1, CIO__EV_WRITE = 2, CIO__EV_ERROR = 4 };

typedef struct cio__backend_ops {
    const char *name;
    /* Sets loop->backend_data. Returns 0 or -errno (the kernel refuses). */
    int (*open)(struct cio_loop *loop);
    void (*close)(struct cio_loop *loop);
    /* Changes what the OS watches on fd from `old` to `events` (either may
     * be 0: add, remove). Returns 0 or -errno. */
    int (*watch)(struct cio_loop *loop, int fd, unsigned old, unsigned events);
    /* Waits up to timeout_ns (0: just look; -1: without limit) and reports
     * what is ready. Returns the number of descriptors reported, or -errno. */
    int (*poll)(struct cio_loop *loop, int64_t timeout_ns);
} cio__backend_ops;

extern const cio__backend_ops cio__backend_epoll;
extern const cio__backend_ops cio__backend_poll;

/* Opens the backend named by CIO_BACKEND, or the first that works. */
int cio__backend_open(struct cio_loop *loop);

#endif
