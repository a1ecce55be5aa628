/* SPDX-License-Identifier: MIT */
/* udp.c — UDP sockets: bound (for cio_recvfrom / cio_sendto) or connected
 * to one peer (for cio_read / cio_write of whole datagrams).
 *
 * Resolving and the per-socket steps are addr.c's; a UDP "connect" only
 * sets the peer, so addresses are simply tried in order.
 */
#include "internal.h"

#include <sys/socket.h>

#include "net/addr.h"

int cio_udp_bind(const char *host, const char *port)
{
    struct addrinfo *res;
    int result = cio__addr_resolve(host, port, SOCK_DGRAM, AI_PASSIVE, &res);
    if (result)
        return result;
    result = cio__addr_bind_first(res, -1, 0);
    freeaddrinfo(res);
    return result;
}

int cio_udp_connect(const char *host, const char *port)
{
    if (!host)
        return -EINVAL;
    struct addrinfo *res;
    int result = cio__addr_resolve(host, port, SOCK_DGRAM, 0, &res);
    if (result)
        return result;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        result = cio__addr_connect(ai);
        if (result >= 0)
            break;
    }
    freeaddrinfo(res);
    return result;
}
