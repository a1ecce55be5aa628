/* SPDX-License-Identifier: MIT */
/* unix.c — Unix stream sockets on a file-system path: connect and listen.
 *
 * A sockaddr_un is wrapped in an addrinfo so that addr.c's helpers (open,
 * bind, connect one socket) serve here too. The socket file is the
 * caller's: nothing here removes one, stale or fresh.
 */
#include "internal.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "net/addr.h"

/* Fills *sun and *ai for path. -EINVAL for a NULL or empty path,
 * -ENAMETOOLONG past sun_path (the kernel would cut it short). */
static int unix_address(const char *path, struct sockaddr_un *sun, struct addrinfo *ai)
{
    if (!path || !*path)
        return -EINVAL;
    size_t len = strlen(path);
    if (len >= sizeof sun->sun_path)
        return -ENAMETOOLONG;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len + 1);
    *ai = (struct addrinfo){.ai_family = AF_UNIX,
                            .ai_socktype = SOCK_STREAM,
                            .ai_addr = (struct sockaddr *)sun,
                            .ai_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                                      len + 1)};
    return 0;
}

int cio_unix_connect(const char *path)
{
    struct sockaddr_un sun;
    struct addrinfo ai;
    int err = unix_address(path, &sun, &ai);
    return err ? err : cio__addr_connect(&ai);
}

int cio_unix_listen(const char *path, int backlog)
{
    if (backlog < 0)
        return -EINVAL;
    struct sockaddr_un sun;
    struct addrinfo ai;
    int err = unix_address(path, &sun, &ai);
    return err ? err : cio__addr_bind(&ai, backlog ? backlog : SOMAXCONN, 0);
}
