/* SPDX-License-Identifier: MIT */
/* uring_setup.h — making the io_uring backend's ring and finding out what
 * the kernel offers (uring_setup.c). */
#ifndef CIO_BACKEND_URING_SETUP_H
#define CIO_BACKEND_URING_SETUP_H

#include "io/backend/uring.h"

/* True if sysctl kernel.io_uring_disabled refuses io_uring to every
 * process: the backend does not even try. */
bool cio__uring_setup_disabled(void);

/* Gives b (zeroed) its ring for the size and CIO_URING_DISABLE's mask the
 * environment asks for: the thread's kept one, or a new one whose features
 * are detected into b->features. Returns 0, or -errno of io_uring_setup,
 * or -ENOSYS for a kernel that lacks what the backend requires (then no
 * ring is left open). */
int cio__uring_setup_ring(uring_backend *b);

/* Writes b->features_text from b->features, once they are settled. */
void cio__uring_setup_describe(uring_backend *b);

#endif
