/* SPDX-License-Identifier: MIT */
/* addr.c — name resolution and the socket helpers every transport shares.
 *
 * cio_getaddrinfo runs getaddrinfo(3) in the thread pool's resolver lane
 * (threadpool.c), so slow DNS never holds up file I/O or cio_to_thread;
 * its EAI_* codes become CIO_EAI_* through cio.h's one list. The helpers
 * open, bind and connect one socket; which addresses to try, and how, is
 * tcp.c's, udp.c's and unix.c's business.
 */
#include "internal.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "net/addr.h"
#include "io/threadpool.h"

typedef struct resolve_job {
    /* The pool's part; its lane is the resolver's. */
    cio__job job;
    /* The arguments, all in the caller's memory (cio__threadpool_run waits for
     * the worker even when the caller is cancelled). */
    const char *host, *service;
    const struct addrinfo *hints;
    /* Written by the worker: getaddrinfo's result, its return value, and
     * errno as the worker saw it (for EAI_SYSTEM; errno is per thread). */
    struct addrinfo *res;
    int rc;
    int sys_errno;
} resolve_job;

static void resolve_work(cio__job *job)
{
    resolve_job *j = (resolve_job *)job;
    j->rc = getaddrinfo(j->host, j->service, j->hints, &j->res);
    j->sys_errno = errno;
}

/* getaddrinfo's EAI_* as cio's codes. */
static int resolver_error(int rc, int sys_errno)
{
    switch (rc) {
#define FROM_EAI(name, offset, text)                                                               \
    case EAI_##name:                                                                               \
        return CIO_EAI_##name;
        CIO_EAI_MAP(FROM_EAI)
#undef FROM_EAI
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return sys_errno > 0 ? -sys_errno : CIO_EAI_FAIL;
    default:
        return CIO_EAI_FAIL;
    }
}

/* glibc takes a numeric service modulo 65536 ("99999" is port 34463) and
 * an empty one as port 0: both are refused here, as a name it does not
 * know would be. */
static bool service_valid(const char *service)
{
    if (!service)
        return true;
    if (!*service)
        return false;
    unsigned long port = 0;
    for (const char *c = service; *c; c++) {
        if (*c < '0' || *c > '9')
            return true; /* a service name: getaddrinfo's to judge */
        port = port * 10 + (unsigned long)(*c - '0');
        if (port > 65535)
            return false;
    }
    return true;
}

int cio_getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                    struct addrinfo **res)
{
    if (!res || (!host && !service))
        return -EINVAL;
    *res = NULL;
    int err = cio__sched_checkpoint();
    if (err)
        return err;
    if (!service_valid(service))
        return CIO_EAI_SERVICE;
    resolve_job j = {.job = {.work = resolve_work, .lane = CIO__LANE_RESOLVER},
                     .host = host,
                     .service = service,
                     .hints = hints};
    err = cio__threadpool_run(&j.job);
    if (err) {
        /* Interrupted: the lookup has finished all the same. */
        if (j.job.finished && j.rc == 0)
            freeaddrinfo(j.res);
        return err;
    }
    if (j.rc != 0)
        return resolver_error(j.rc, j.sys_errno);
    *res = j.res;
    return 0;
}

int cio__addr_resolve(const char *host, const char *port, int socktype, int flags,
                      struct addrinfo **res)
{
    if (!port)
        return -EINVAL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype, .ai_flags = flags};
    return cio_getaddrinfo(host, port, &hints, res);
}

int cio__addr_errno(int code)
{
    if (code >= -4095 && code < 0)
        return -code;
    return EHOSTUNREACH;
}

/* ------------------------------------------------------------- sockets */

static int open_socket(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    return fd < 0 ? -errno : fd;
}

int cio__addr_connect(const struct addrinfo *ai)
{
    int fd = open_socket(ai);
    if (fd < 0)
        return fd;
    int err = cio_connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (err) {
        cio_close(fd);
        return err;
    }
    return fd;
}

static int set_flag(int fd, int level, int name)
{
    int on = 1;
    return setsockopt(fd, level, name, &on, sizeof on) == 0 ? 0 : -errno;
}

int cio__addr_bind(const struct addrinfo *ai, int backlog, unsigned flags)
{
    int fd = open_socket(ai);
    if (fd < 0)
        return fd;
    bool inet = ai->ai_family == AF_INET || ai->ai_family == AF_INET6;
    int err = 0;
    /* A restarted server must be able to bind while connections of its
     * previous life sit in TIME_WAIT. */
    if (inet && ai->ai_socktype == SOCK_STREAM)
        err = set_flag(fd, SOL_SOCKET, SO_REUSEADDR);
    if (!err && (flags & CIO__BIND_REUSE_PORT))
        err = set_flag(fd, SOL_SOCKET, SO_REUSEPORT);
    if (!err && (flags & CIO__BIND_V6ONLY) && ai->ai_family == AF_INET6)
        err = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY);
    if (!err && bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        err = -errno;
    if (!err && backlog >= 0 && listen(fd, backlog) != 0)
        err = -errno;
    if (err) {
        cio_close(fd);
        return err;
    }
    return fd;
}

int cio__addr_bind_first(const struct addrinfo *res, int backlog, unsigned flags)
{
    int result = -EADDRNOTAVAIL;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        result = cio__addr_bind(ai, backlog, flags);
        if (result >= 0)
            break;
    }
    return result;
}

int cio_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    switch (ss.ss_family) {
    case AF_INET:
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    case AF_INET6:
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    default:
        return -EAFNOSUPPORT;
    }
}
