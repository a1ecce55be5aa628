/* SPDX-License-Identifier: MIT */
/* http_parse.h — a small HTTP/1.x request-head parser, the example HTTP
 * server's own (examples/http_server.c; bench/http_uv.c, its libuv peer,
 * uses it too, so both do the same work). Header-only, no allocation, no
 * dependency: it reads a buffer and points into it.
 *
 * Why its own: Debian 12's http-parser 2.9 is the last of a project its
 * authors archived, and llhttp (its successor) is not packaged for C. What
 * an example needs is a hundred lines, strict where leniency has caused
 * request smuggling (RFC 9112 section 11.2): CRLF only, no obsolete line
 * folding, no space before the colon, one Content-Length of digits only,
 * and no Transfer-Encoding (bodies come with a Content-Length, or the
 * request is refused). tests/fuzz/fuzz_http_parse.c fuzzes it.
 */
#ifndef CIO_EXAMPLE_HTTP_PARSE_H
#define CIO_EXAMPLE_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HTTP_MAX_HEADERS 32

typedef struct http_header {
    const char *name, *value;
    size_t name_len, value_len;
} http_header;

/* A parsed request head; every pointer is into the parsed buffer. */
typedef struct http_request {
    const char *method, *target;
    size_t method_len, target_len;
    /* The x of HTTP/1.x (0 or 1). */
    int minor;
    http_header headers[HTTP_MAX_HEADERS];
    size_t nheaders;
    /* The body's length (Content-Length; 0 without one). */
    uint64_t content_length;
    /* Whether the connection stays open after the response: HTTP/1.1
     * unless "Connection: close", HTTP/1.0 only with "keep-alive". */
    bool keep_alive;
} http_request;

/* What http_parse_request returns besides a head's length. */
enum {
    HTTP_PARSE_PARTIAL = 0,   /* more bytes are needed */
    HTTP_PARSE_BAD = -1,      /* malformed: answer 400 and close */
    HTTP_PARSE_TOO_MANY = -2, /* more than HTTP_MAX_HEADERS headers: 431 */
    HTTP_PARSE_UNSUPPORTED = -3, /* Transfer-Encoding, or not HTTP/1.x: 501 */
};

static inline bool http_is_tchar(unsigned char c)
{
    /* RFC 9110 section 5.6.2: token characters. */
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static inline bool http_is_vchar_or_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

static inline bool http_name_is(const http_header *h, const char *name)
{
    size_t n = strlen(name);
    if (h->name_len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h->name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[i])
            return false;
    }
    return true;
}

/* Whether the comma-separated list v contains token tok (lower case),
 * ignoring case and optional whitespace. */
static inline bool http_list_has(const char *v, size_t len, const char *tok)
{
    size_t n = strlen(tok), i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end - start == n) {
            size_t k = 0;
            while (k < n && (v[start + k] | 0x20) == tok[k])
                k++;
            if (k == n)
                return true;
        }
    }
    return false;
}

/* The end of the line starting at p (the index of its CR), or -1 if there
 * is no CRLF before end; -2 for a CR or LF alone, or a NUL. */
static inline long http_line_end(const char *buf, size_t p, size_t end)
{
    for (size_t i = p; i < end; i++) {
        if (buf[i] == '\r') {
            if (i + 1 == end)
                return -1;
            return buf[i + 1] == '\n' ? (long)i : -2;
        }
        if (buf[i] == '\n' || buf[i] == '\0')
            return -2;
    }
    return -1;
}

/* Parses the request line "METHOD SP target SP HTTP/1.x". */
static inline int http_parse_request_line(const char *buf, size_t len, http_request *r)
{
    size_t i = 0;
    while (i < len && http_is_tchar((unsigned char)buf[i]))
        i++;
    if (i == 0 || i >= len || buf[i] != ' ')
        return HTTP_PARSE_BAD;
    r->method = buf;
    r->method_len = i++;
    size_t t = i;
    while (i < len && buf[i] > 0x20 && buf[i] != 0x7f)
        i++;
    if (i == t || i >= len || buf[i] != ' ')
        return HTTP_PARSE_BAD;
    r->target = buf + t;
    r->target_len = i - t;
    i++;
    if (len - i != 8 || memcmp(buf + i, "HTTP/", 5) != 0 || buf[i + 6] != '.' ||
        buf[i + 5] < '0' || buf[i + 5] > '9' || buf[i + 7] < '0' || buf[i + 7] > '9')
        return HTTP_PARSE_BAD;
    if (buf[i + 5] != '1' || buf[i + 7] > '1')
        return HTTP_PARSE_UNSUPPORTED;
    r->minor = buf[i + 7] - '0';
    return 0;
}

/* Parses one header line "name: value" into h. */
static inline int http_parse_header(const char *buf, size_t len, http_header *h)
{
    size_t i = 0;
    while (i < len && http_is_tchar((unsigned char)buf[i]))
        i++;
    if (i == 0 || i >= len || buf[i] != ':')
        return HTTP_PARSE_BAD;
    h->name = buf;
    h->name_len = i++;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    size_t end = len;
    while (end > i && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
        end--;
    for (size_t k = i; k < end; k++) {
        if (!http_is_vchar_or_ws((unsigned char)buf[k]))
            return HTTP_PARSE_BAD;
    }
    h->value = buf + i;
    h->value_len = end - i;
    return 0;
}

/* What the headers say about the body and the connection. */
static inline int http_apply_headers(http_request *r)
{
    bool have_length = false, close = false, keep = false;
    for (size_t i = 0; i < r->nheaders; i++) {
        const http_header *h = &r->headers[i];
        if (http_name_is(h, "content-length")) {
            if (have_length || h->value_len == 0 || h->value_len > 15)
                return HTTP_PARSE_BAD;
            uint64_t n = 0;
            for (size_t k = 0; k < h->value_len; k++) {
                if (h->value[k] < '0' || h->value[k] > '9')
                    return HTTP_PARSE_BAD;
                n = n * 10 + (uint64_t)(h->value[k] - '0');
            }
            r->content_length = n;
            have_length = true;
        } else if (http_name_is(h, "transfer-encoding")) {
            return HTTP_PARSE_UNSUPPORTED;
        } else if (http_name_is(h, "connection")) {
            close |= http_list_has(h->value, h->value_len, "close");
            keep |= http_list_has(h->value, h->value_len, "keep-alive");
        }
    }
    r->keep_alive = !close && (r->minor == 1 || keep);
    return 0;
}

/* Parses the request head at the start of buf[0..len).
 * Returns: the head's length, the final CRLFCRLF included (the body, if
 * any, follows); HTTP_PARSE_PARTIAL if the head is not complete yet; or a
 * negative HTTP_PARSE_* code. *r is filled only on success. */
static inline long http_parse_request(const char *buf, size_t len, http_request *r)
{
    long e = http_line_end(buf, 0, len);
    if (e < 0)
        return e == -1 ? HTTP_PARSE_PARTIAL : HTTP_PARSE_BAD;
    /* Parse into a scratch copy: *r is untouched unless the head is whole
     * and good. */
    http_request q = {.nheaders = 0};
    int err = http_parse_request_line(buf, (size_t)e, &q);
    if (err)
        return err;
    size_t p = (size_t)e + 2;
    for (;;) {
        e = http_line_end(buf, p, len);
        if (e < 0)
            return e == -1 ? HTTP_PARSE_PARTIAL : HTTP_PARSE_BAD;
        if ((size_t)e == p)
            break; /* the empty line: the end of the head */
        if (q.nheaders == HTTP_MAX_HEADERS)
            return HTTP_PARSE_TOO_MANY;
        if ((err = http_parse_header(buf + p, (size_t)e - p, &q.headers[q.nheaders])))
            return err;
        q.nheaders++;
        p = (size_t)e + 2;
    }
    if ((err = http_apply_headers(&q)))
        return err;
    *r = q;
    return (long)p + 2;
}

#endif
