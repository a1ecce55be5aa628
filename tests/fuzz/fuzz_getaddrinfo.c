/* SPDX-License-Identifier: MIT */
/* fuzz_getaddrinfo.c — cio_getaddrinfo's inputs: host and service strings
 * and hints, checked against getaddrinfo(3) called directly with the same
 * arguments (same error, as cio's code, or the same list of addresses).
 *
 * Nothing leaves the machine: a host is always looked up with
 * AI_NUMERICHOST (so glibc parses it and never asks DNS), and a call
 * without hints, which could not carry that flag, gets no host. Services
 * come from /etc/services ("services: db files" in nsswitch.conf). glibc
 * does connect(2) a UDP socket to each address found, to sort them by
 * source address (RFC 6724), but a UDP connect sends no packet.
 *
 * Input: byte 0 flags, 1 family, 2 socket type, 3 protocol, 4 mode (bit 0:
 * no host, bit 1: no service, bit 2: no hints, bit 3: cancel the lookup
 * while it runs); the rest is the host, a NUL, the service.
 */
#include "fuzz.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

typedef struct lookup {
    const char *host, *service;
    const struct addrinfo *hints;
    bool cancel;
} lookup;

/* glibc's EAI_* as the code cio_getaddrinfo documents for it. */
static int cio_code(int rc, int sys_errno)
{
    switch (rc) {
    case 0:
        return 0;
#define CASE(name, offset, text)                                                                   \
    case EAI_##name:                                                                               \
        return CIO_EAI_##name;
        CIO_EAI_MAP(CASE)
#undef CASE
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return -sys_errno;
    default:
        return CIO_EAI_FAIL;
    }
}

/* cio refuses, as CIO_EAI_SERVICE, the numeric services glibc would take
 * modulo 65536 and the empty one it would take as port 0 (addr.c). */
static bool service_refused(const char *service)
{
    if (!service)
        return false;
    if (!*service)
        return true;
    unsigned long port = 0;
    for (const char *c = service; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        port = port * 10 + (unsigned long)(*c - '0');
        if (port > 65535)
            return true;
    }
    return false;
}

static void same_lists(const struct addrinfo *a, const struct addrinfo *b)
{
    size_t i = 0;
    for (; a && b; a = a->ai_next, b = b->ai_next, i++) {
        FUZZ_CHECK(a->ai_family == b->ai_family && a->ai_socktype == b->ai_socktype &&
                       a->ai_protocol == b->ai_protocol && a->ai_addrlen == b->ai_addrlen,
                   "address %zu differs from getaddrinfo(3)'s", i);
        FUZZ_CHECK(memcmp(a->ai_addr, b->ai_addr, a->ai_addrlen) == 0,
                   "address %zu's bytes differ from getaddrinfo(3)'s", i);
        FUZZ_CHECK(!a->ai_canonname == !b->ai_canonname &&
                       (!a->ai_canonname || strcmp(a->ai_canonname, b->ai_canonname) == 0),
                   "address %zu's canonical name differs from getaddrinfo(3)'s", i);
    }
    FUZZ_CHECK(!a && !b, "the list has %s addresses than getaddrinfo(3)'s", a ? "more" : "fewer");
}

static int lookup_task(void *arg)
{
    const lookup *l = arg;
    struct addrinfo *res = NULL;
    int r = cio_getaddrinfo(l->host, l->service, l->hints, &res);
    if (r == 0)
        freeaddrinfo(res);
    else
        FUZZ_CHECK(!res, "a failed lookup (%d) left a result", r);
    return r;
}

static int lookup_main(void *arg)
{
    const lookup *l = arg;
    if (l->cancel) {
        /* Cancelled once it is parked in the lookup: whichever finishes
         * first, nothing may leak (LeakSanitizer sees a lost result). */
        cio_task *t = cio_create_task(lookup_task, (void *)l);
        FUZZ_CHECK(t && cio_yield() == 0, "could not start the lookup");
        cio_cancel(t);
        (void)cio_await(t);
        return 0;
    }
    struct addrinfo *res = NULL;
    int r = cio_getaddrinfo(l->host, l->service, l->hints, &res);
    int want;
    struct addrinfo *direct = NULL;
    if (!l->host && !l->service) {
        want = -EINVAL;
    } else if (service_refused(l->service)) {
        want = CIO_EAI_SERVICE;
    } else {
        errno = 0;
        int rc = getaddrinfo(l->host, l->service, l->hints, &direct);
        want = cio_code(rc, errno);
    }
    FUZZ_CHECK(r == want, "cio_getaddrinfo returned %d (%s), getaddrinfo(3) says %d (%s)", r,
               cio_strerror(r), want, cio_strerror(want));
    if (r == 0) {
        same_lists(res, direct);
        freeaddrinfo(res);
    } else {
        FUZZ_CHECK(!res, "a failed lookup (%d) left a result", r);
    }
    if (direct)
        freeaddrinfo(direct);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { HEAD = 5 };
    if (size < HEAD)
        return -1;
    static const int flag_bits[8] = {AI_PASSIVE,    AI_CANONNAME,   AI_V4MAPPED, AI_ALL,
                                     AI_ADDRCONFIG, AI_NUMERICSERV, AI_IDN,      0x4000};
    static const int families[4] = {AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX};
    static const int types[4] = {0, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW};
    static const int protocols[4] = {0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP};
    struct addrinfo hints = {0};
    for (int i = 0; i < 8; i++) {
        if (data[0] & (1 << i))
            hints.ai_flags |= flag_bits[i];
    }
    /* Values past the tables are passed as they are (unknown ones too). */
    hints.ai_family = data[1] < 4 ? families[data[1]] : data[1] - 4;
    hints.ai_socktype = data[2] < 4 ? types[data[2]] : data[2] - 4;
    hints.ai_protocol = data[3] < 4 ? protocols[data[3]] : data[3] - 4;
    uint8_t mode = data[4];
    /* The strings, NUL-terminated in memory of their own size (ASan sees
     * a read past either). */
    const char *text = (const char *)data + HEAD;
    size_t len = size - HEAD;
    const char *nul = memchr(text, '\0', len);
    size_t hlen = nul ? (size_t)(nul - text) : len;
    size_t slen = nul ? len - hlen - 1 : 0;
    char *host = strndup(text, hlen);
    char *service = nul ? strndup(nul + 1, slen) : strdup("");
    FUZZ_CHECK(host && service, "out of memory");
    lookup l = {.host = mode & 1 ? NULL : host,
                .service = mode & 2 ? NULL : service,
                .hints = &hints,
                .cancel = (mode & 8) != 0};
    if (l.host)
        hints.ai_flags |= AI_NUMERICHOST; /* never DNS */
    if ((mode & 4) && !l.host)
        l.hints = NULL;
    fuzz_run(lookup_main, &l);
    free(host);
    free(service);
    return 0;
}
