/* SPDX-License-Identifier: MIT */
/* tcp.h — what tcp.c offers the other networking files. */
#ifndef CIO_TCP_H
#define CIO_TCP_H

#include <netdb.h>

#include "internal.h"

/* cio_tcp_connect's race (Happy Eyeballs) over resolved addresses
 * (a non-empty list of SOCK_STREAM ones). Tests call it with lists of
 * their own making. */
int cio__tcp_connect_addrinfo(struct addrinfo *res);

#endif
