/* SPDX-License-Identifier: MIT */
/* poll.h — the poll backend (poll.c): readiness through ppoll, the portable fallback. */
#ifndef CIO_BACKEND_POLL_H
#define CIO_BACKEND_POLL_H

#include "io/backend.h"

extern const cio__backend_ops cio__poll_backend;

#endif
