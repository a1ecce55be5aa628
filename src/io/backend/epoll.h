/* SPDX-License-Identifier: MIT */
/* epoll.h — the epoll backend (epoll.c): readiness through epoll. */
#ifndef CIO_BACKEND_EPOLL_H
#define CIO_BACKEND_EPOLL_H

#include "io/backend.h"

extern const cio__backend_ops cio__epoll_backend;

#endif
