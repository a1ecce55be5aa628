/* SPDX-License-Identifier: MIT */
/* server.h — what server.c offers the other networking files (tls.c's
 * servers). */
#ifndef CIO_SERVER_H
#define CIO_SERVER_H

#include "internal.h"

/* cio_start_server_opts, with release(arg) called once the server is
 * closed and its last connection has ended (not when starting fails). */
CIO__COMPONENT cio_server *cio__server_start(const char *host, const char *port,
                                             const cio_server_opts *opts, cio_conn_fn handler,
                                             void *arg, void (*release)(void *arg));

#endif
