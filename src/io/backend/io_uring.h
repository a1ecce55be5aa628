/* SPDX-License-Identifier: MIT */
/* io_uring.h — the io_uring backend (io_uring.c): completions through io_uring (Linux 5.6+). */
#ifndef CIO_BACKEND_IO_URING_H
#define CIO_BACKEND_IO_URING_H

#include "io/backend.h"

extern const cio__backend_ops cio__io_uring_backend;

#endif
