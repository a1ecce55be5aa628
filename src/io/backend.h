/* SPDX-License-Identifier: MIT */
/* backend.h — the interface every OS poller implements (epoll, poll,
 * io_uring), and the registry CIO_BACKEND picks from.
 *
 * Every backend watches descriptors and reports readiness: it calls
 * cio__fd_ready for each descriptor the OS reports. Who waits on what is
 * fd.c's business. A completion backend (io_uring) also runs the I/O
 * operations themselves (submit): fdio.c hands it one cio__op per call
 * instead of trying the system call and waiting for readiness.
 */
#ifndef CIO_BACKEND_H
#define CIO_BACKEND_H

#include "internal.h"
#include "core/scheduler.h"

#include <sys/socket.h>

struct cio_loop;

/* Interest and readiness bits. */
enum { CIO__EV_READ = 1, CIO__EV_WRITE = 2, CIO__EV_ERROR = 4 };

struct cio__fd_state;

/* The operations a completion backend runs. */
typedef enum cio__op_code {
    CIO__OP_READ,    /* read(2) or pread(2) */
    CIO__OP_WRITE,   /* write(2) or pwrite(2), once (the caller loops) */
    CIO__OP_RECV,    /* recvfrom(2) */
    CIO__OP_SEND,    /* sendto(2), once */
    CIO__OP_ACCEPT,  /* accept4(2) */
    CIO__OP_CONNECT, /* connect(2), to the end of the handshake */
    CIO__OP_OPENAT,  /* openat(AT_FDCWD, ...) */
    CIO__OP_FSYNC,   /* fsync(2) */
} cio__op_code;

/* One system call for a completion backend; fdio.c fills it on the
 * caller's stack. */
typedef struct cio__op {
    /* cio__op_code. */
    uint8_t code;
    /* The descriptor (-1 for OPENAT). */
    int fd;
    /* READ / RECV: where the bytes go; WRITE / SEND: where they come from. */
    void *buf;
    const void *data;
    size_t len;
    /* READ / WRITE: the file offset, or -1 for the file position. */
    int64_t offset;
    /* RECV / SEND: MSG_* flags; ACCEPT: SOCK_* flags; OPENAT: O_* flags. */
    int flags;
    /* OPENAT: the mode of a created file. */
    unsigned mode;
    /* CONNECT / SEND: the peer's address (SEND: NULL for a connected
     * socket); OPENAT: the path. */
    const void *addr;
    socklen_t addrlen;
    /* ACCEPT / RECV: where to store the peer's address, or NULL. */
    struct sockaddr *peer;
    socklen_t *peerlen;
} cio__op;

/* One operation of one task in a completion backend's hands, on that
 * task's stack (a backend's own record of it embeds this). The I/O layer
 * owns what a completion means to the task (cio__backend_complete); the
 * backend only submits it and says when it completed. */
typedef struct cio__completion {
    /* The task's wait (kind CIO__WAIT_IO, on op->fd). */
    cio__waiter w;
    /* Links into the backend's requests of its descriptor while in flight
     * (initialised empty: a completion without a descriptor). */
    cio__list fd_node;
    /* The operation's result, once done. */
    int res;
    bool done;
    /* cio_close closed the descriptor meanwhile: the result is -EBADF. */
    bool closed;
} cio__completion;

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
    /* Optional (completion backends): runs op for the current task, parked
     * until the kernel has completed it, and returns its result (>= 0) or
     * -errno. st is op->fd's state (NULL for OPENAT). The backend submits
     * and says when the operation completed; the wait, its cancellation
     * and what the task is told are cio__backend_complete's (below): an
     * interrupted wait cancels the operation and still waits until the
     * kernel lets go of op's buffers. The caller has made its checkpoint. */
    ssize_t (*submit)(struct cio_loop *loop, struct cio__fd_state *st, const cio__op *op);
    /* Optional: cio_close is closing fd: end the backend's own requests on
     * it (their waiters get -EBADF once the kernel has let go of them). */
    void (*forget)(struct cio_loop *loop, int fd, struct cio__fd_state *st);
    /* Optional: cio_close, after forget: true if the backend closes fd
     * itself, later, once none of its requests naming the number can run
     * any more (until then the number must not be reused); false: close
     * it now. */
    bool (*defer_close)(struct cio_loop *loop, int fd, struct cio__fd_state *st);
    /* Optional: true if the backend holds data received on st that no read
     * took yet (or the end of the stream): readable without waiting. */
    bool (*has_input)(const struct cio__fd_state *st);
    /* Optional (a backend that receives ahead): code outside cio is about
     * to read fd itself (OpenSSL, after a STARTTLS): stop receiving ahead,
     * park until the kernel has stopped, and hand over what was received
     * and not read yet, malloc'd in *data (*len bytes, NULL if none; the
     * caller frees it). Returns 0, -ENOMEM, or the wait's error (nothing
     * is handed over then). */
    int (*release_input)(struct cio_loop *loop, int fd, struct cio__fd_state *st, char **data,
                         size_t *len);
    /* Optional: the backend and the features it uses, for traces. */
    const char *(*describe)(struct cio_loop *loop);
    /* Optional: what to check when the kernel refuses this backend, for
     * the message of a CIO_BACKEND that cannot start. */
    const char *refusal_hint;
} cio__backend_ops;

/* Readies c for op (before the backend submits it): a cancellable wait on
 * op->fd, not done. */
void cio__backend_completion_init(cio__completion *c, const cio__op *op);
/* The wait, cancellation and settling of a completion, once for every
 * completion backend: parks until the kernel completes c (which the
 * backend has submitted); a wait that ends early (cancellation, timeout)
 * calls cancel(loop, c) and waits again, uncancellably, since the kernel
 * may write into a buffer on the task's stack until then. Then settles:
 * -EBADF if cio_close took the descriptor (a descriptor made meanwhile is
 * closed, not leaked); the operation's own result if it completed, even
 * after an interruption (I/O that happened is not hidden: the
 * cancellation shows at the next suspending call); otherwise the wait's
 * -ECANCELED / -ETIMEDOUT. */
ssize_t cio__backend_complete(struct cio_loop *loop, cio__completion *c, const cio__op *op,
                              void (*cancel)(struct cio_loop *loop, cio__completion *c));
/* The backend's side: c's operation completed with res; wakes its task. */
void cio__backend_completed(cio__completion *c, int res);

/* Opens the backend named by CIO_BACKEND, or the first that works. */
int cio__backend_open(struct cio_loop *loop);

/* "io_uring: defer_taskrun ring_fd ...": the loop's backend and the
 * features it uses (the name alone for a backend with none). */
const char *cio__backend_describe(struct cio_loop *loop);

#endif
