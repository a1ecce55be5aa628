/* SPDX-License-Identifier: MIT */
/* fuzz_http_parse.c — examples/http_parse.h, the example HTTP server's own
 * request parser, on arbitrary bytes. No loop, no descriptors: a parser
 * that reads only its buffer, checked for what its callers rely on:
 *   - a complete head's length is within the input and ends in CRLFCRLF;
 *     every pointer of the request points inside that head;
 *   - the answer depends on the head alone: the head by itself parses to
 *     the same length and request, and every shorter prefix of it is
 *     "partial" (so a server that reads in pieces sees what one that
 *     reads it whole sees);
 *   - with no CRLFCRLF in the input there is never a complete head.
 */
#include "fuzz.h"

#include "../../examples/http_parse.h"

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && p + n <= buf + len;
}

static void check_request(const http_request *r, const char *buf, size_t head)
{
    FUZZ_CHECK(inside(r->method, r->method_len, buf, head) && r->method_len > 0,
               "method outside the head");
    FUZZ_CHECK(inside(r->target, r->target_len, buf, head) && r->target_len > 0,
               "target outside the head");
    FUZZ_CHECK(r->minor == 0 || r->minor == 1, "HTTP/1.%d", r->minor);
    FUZZ_CHECK(r->nheaders <= HTTP_MAX_HEADERS, "%zu headers", r->nheaders);
    for (size_t i = 0; i < r->nheaders; i++) {
        const http_header *h = &r->headers[i];
        FUZZ_CHECK(inside(h->name, h->name_len, buf, head) && h->name_len > 0,
                   "header %zu's name outside the head", i);
        FUZZ_CHECK(inside(h->value, h->value_len, buf, head), "header %zu's value outside", i);
        FUZZ_CHECK(memchr(h->value, '\n', h->value_len) == NULL, "a newline in a value");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly the input's size, so that ASan sees any read past
     * the end. */
    char *buf = malloc(size ? size : 1);
    FUZZ_CHECK(buf, "out of memory");
    memcpy(buf, data, size);
    http_request r;
    long head = http_parse_request(buf, size, &r);
    FUZZ_CHECK(head >= HTTP_PARSE_UNSUPPORTED, "unknown result %ld", head);
    bool has_end = false;
    for (size_t i = 0; i + 4 <= size && !has_end; i++)
        has_end = memcmp(buf + i, "\r\n\r\n", 4) == 0;
    if (head > 0) {
        size_t h = (size_t)head;
        FUZZ_CHECK(h <= size && h >= 4 && memcmp(buf + h - 4, "\r\n\r\n", 4) == 0,
                   "head of %zu bytes in %zu", h, size);
        check_request(&r, buf, h);
        http_request again;
        FUZZ_CHECK(http_parse_request(buf, h, &again) == head, "the head alone parses else");
        FUZZ_CHECK(again.nheaders == r.nheaders && again.content_length == r.content_length &&
                       again.keep_alive == r.keep_alive,
                   "the head alone gives another request");
        /* Prefixes: partial (every byte so far could still be good). */
        size_t step = h > 64 ? h / 64 : 1;
        for (size_t n = 0; n < h; n += step) {
            long p = http_parse_request(buf, n, &again);
            FUZZ_CHECK(p == HTTP_PARSE_PARTIAL || p == HTTP_PARSE_TOO_MANY,
                       "prefix of %zu of a %zu-byte head gives %ld", n, h, p);
        }
    }
    if (!has_end)
        FUZZ_CHECK(head <= 0, "a complete head without CRLFCRLF");
    free(buf);
    return 0;
}
