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
     * -errno. st is op->fd's state (NULL for OPENAT). An interrupted wait
     * (cancellation, timeout) cancels the operation and still waits,
     * uncancellably, until the kernel lets go of op's buffers; it then
     * returns -ECANCELED / -ETIMEDOUT, or the operation's own result if it
     * completed anyway (I/O that happened is not hidden). -EBADF if fd was
     * closed (cio_close) meanwhile. The caller has made its checkpoint. */
    ssize_t (*submit)(struct cio_loop *loop, struct cio__fd_state *st, const cio__op *op);
    /* Optional: cio_close is closing fd: end the backend's own requests on
     * it (their waiters get -EBADF once the kernel has let go of them). */
    void (*forget)(struct cio_loop *loop, int fd, struct cio__fd_state *st);
    /* Optional: true if the backend holds data received on st that no read
     * took yet (or the end of the stream): readable without waiting. */
    bool (*has_input)(const struct cio__fd_state *st);
    /* Optional: the backend and the features it uses, for traces. */
    const char *(*describe)(struct cio_loop *loop);
    /* Optional: what to check when the kernel refuses this backend, for
     * the message of a CIO_BACKEND that cannot start. */
    const char *refusal_hint;
} cio__backend_ops;

/* Opens the backend named by CIO_BACKEND, or the first that works. */
int cio__backend_open(struct cio_loop *loop);

/* "io_uring: defer_taskrun ring_fd ...": the loop's backend and the
 * features it uses (the name alone for a backend with none). */
const char *cio__backend_describe(struct cio_loop *loop);

#endif
