/* SPDX-License-Identifier: MIT */
/* fd.h — what the loop knows about each descriptor: who waits on it, what
 * the backend watches, and what kind of file it is.
 */
#ifndef CIO_FD_H
#define CIO_FD_H

#include "internal.h"
#include "list.h"

#include <sys/types.h>

enum cio__fd_kind {
    CIO__FD_UNKNOWN = 0, /* never used with cio, or closed since */
    CIO__FD_POLLABLE,    /* socket, pipe, terminal...: readiness via the backend */
    CIO__FD_FILE,        /* regular file or block device: I/O on the thread pool */
};

/* A standing interest in a descriptor, for code driven by callbacks rather
 * than by a parked task (curl.c's sockets). While set, the backend watches
 * the descriptor for `events`, and each time the OS reports it ready the
 * loop calls ready(w, reported) from its ready queue: never from inside the
 * backend's poll, so the callback may change any watch, or free w, or close
 * any descriptor. A descriptor has at most one watch. */
typedef struct cio__fd_watch {
    /* The owner's callback; `reported` holds CIO__EV_* bits (an error
     * reports every direction watched). */
    void (*ready)(struct cio__fd_watch *w, unsigned reported);
    /* cio__fd_watch_set writes: the descriptor and the directions wanted. */
    int fd;
    unsigned events;
    /* fd.c: readiness reported and not yet delivered, and the callback
     * record that will deliver it (0: none scheduled). */
    unsigned reported;
    uint64_t delivery;
} cio__fd_watch;

typedef struct cio__fd_state {
    /* Waiters (cio__waiter.node) for readability and writability. */
    cio__list readers, writers;
    /* CIO__EV_* bits the backend currently watches. */
    uint8_t watched;
    /* enum cio__fd_kind. */
    uint8_t kind;
    /* cio__fd_get made the descriptor non-blocking (or found it so), for
     * cio's own I/O on it; a descriptor only waited on keeps its flags. */
    bool nonblocking;
    /* The file behind the number when it was classified (fstat): code
     * outside cio may close a descriptor that cio only waits on, and its
     * number then names another file (cio__fd_get_checked). */
    dev_t dev;
    ino_t ino;
    /* fdio.c: the last cio_read was short, so it emptied the descriptor;
     * the next one waits for readability before reading rather than make
     * a read that would only say EAGAIN. */
    bool drained;
    /* The descriptor's standing watch, or NULL. */
    cio__fd_watch *watch;
    /* SO_TYPE of a socket (SOCK_STREAM, SOCK_DGRAM...), 0 for anything
     * else: a completion backend sends to sockets without SIGPIPE and
     * receives from stream sockets through its buffers. */
    uint8_t sock_type;
    /* cio_close left the close(2) to the backend (backend.h's
     * defer_close), which has not made it yet: the number is still taken,
     * but closed to cio's calls (-EBADF). */
    bool closing;
    /* io_uring.c's state for this descriptor number, NULL until that
     * backend needs one; kept across close and reuse of the number, freed
     * with the loop. */
    struct cio__uring_fd *uring;
} cio__fd_state;

/* Blocks of CIO__FDS_PER_BLOCK states, so that a state never moves while
 * waiters link to it. */
#define CIO__FDS_PER_BLOCK 1024

typedef struct cio__fd_table {
    cio__fd_state **blocks;
    size_t nblocks;
} cio__fd_table;

void cio__fd_table_init(cio__fd_table *tab);
void cio__fd_table_fini(cio__fd_table *tab);

/* The state of fd, classifying it on first use (fstat; pollable ones are
 * made non-blocking). NULL with *err = -EBADF (not open) or -ENOMEM. */
cio__fd_state *cio__fd_get(int fd, int *err);

/* cio__fd_get for a descriptor that is only waited on (readiness): its
 * flags are left as its owner set them. */
cio__fd_state *cio__fd_get_for_wait(int fd, int *err);

/* cio__fd_get_for_wait for a task's wait: a descriptor cio does no I/O on
 * belongs to code that may have closed it with close(2) and got its number
 * back for another file since; if the file behind the number changed, the
 * old one is forgotten first (its waiters woken with -EBADF). */
cio__fd_state *cio__fd_get_checked(int fd, int *err);

/* The state of fd if the loop has one, without creating or classifying
 * it (backends, for what the OS reports). */
cio__fd_state *cio__fd_peek(int fd);

/* Parks the current task until fd is ready for `ev` (CIO__EV_READ or
 * CIO__EV_WRITE). Returns 0, -EBADF (closed meanwhile), or the wait's
 * error. The caller has made its checkpoint. */
int cio__fd_wait(int fd, cio__fd_state *st, unsigned ev);

/* Makes w watch fd for `events` (CIO__EV_READ | CIO__EV_WRITE), or stop
 * watching with 0 (a delivery not yet made is then dropped). The owner
 * fills w->ready first, and keeps w alive while it watches. Returns 0,
 * -EBADF, -ENOMEM, -EBUSY (fd has another watch) or the backend's error. */
CIO__COMPONENT int cio__fd_watch_set(cio__fd_watch *w, int fd, unsigned events);

/* Forgets fd without closing it, as cio_close does before close(2): for a
 * descriptor that code outside cio (curl) is about to close, so that the
 * number, once reused, is classified and watched afresh. Its watch is
 * dropped, and tasks waiting on it are woken with -EBADF. */
CIO__COMPONENT void cio__fd_forget(int fd);

/* Called by the backend for each descriptor the OS reports. */
void cio__fd_ready(int fd, unsigned events);

/* Called by a backend whose watches end when they report (io_uring's
 * one-shot polls), before cio__fd_ready: the OS no longer watches fd, and
 * the next wait arms it again. */
void cio__fd_disarmed(int fd);

#endif
