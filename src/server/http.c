/*
 * http.c - a strict HTTP/1.1 request parser (RFC 9112) for the server
 * mode, and its response heads. It accepts what real clients send (curl,
 * browsers, the openai packages): a request line, CRLF-terminated header
 * fields, a body of Content-Length bytes. Whatever could make two parsers
 * disagree about where a request ends (bare LF, folded lines, two
 * differing Content-Lengths, Transfer-Encoding) is refused.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"

#define BAD_REQUEST 400
#define LENGTH_REQUIRED 411
#define PAYLOAD_TOO_LARGE 413
#define HEADERS_TOO_LARGE 431
#define EXPECTATION_FAILED 417
#define NOT_IMPLEMENTED 501
#define VERSION_NOT_SUPPORTED 505

/* tchar of RFC 9110: the bytes a method or a field name consists of. */
static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A field value may hold visible bytes, obs-text, spaces and tabs. */
static int is_value_byte(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static int field_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && !strncasecmp(name, want, n);
}

/* Does the comma-separated value v[0..n) hold the token `want`? */
static int value_has_token(const char *v, size_t n, const char *want)
{
    const size_t wl = strlen(want);
    for (size_t i = 0; i < n;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t j = i;
        while (j < n && v[j] != ',') j++;
        size_t e = j;
        while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e - i == wl && !strncasecmp(v + i, want, wl)) return 1;
        i = j;
    }
    return 0;
}

typedef struct {
    http_request *req;
    int has_length, close, keep;
    const char *why;
} head_state;

static int bad(head_state *h, int status, const char *why)
{
    h->why = why;
    return status;
}

/* "GET /path HTTP/1.1" (without its CRLF). */
static int parse_request_line(head_state *h, const char *s, size_t n)
{
    http_request *r = h->req;
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i])) i++;
    if (i == 0 || i >= n || s[i] != ' ') return bad(h, BAD_REQUEST, "malformed request line");
    if (i >= sizeof r->method) return bad(h, NOT_IMPLEMENTED, "unknown method");
    memcpy(r->method, s, i);
    r->method[i] = 0;
    const char *target = s + ++i;
    while (i < n && s[i] > ' ' && s[i] != 0x7f) i++;
    const size_t tlen = (size_t)(s + i - target);
    if (tlen == 0 || target[0] != '/' || i >= n || s[i] != ' ')
        return bad(h, BAD_REQUEST, "malformed request target");
    const char *q = memchr(target, '?', tlen);
    r->path = target;
    r->path_len = q ? (size_t)(q - target) : tlen;
    const char *ver = s + i + 1;
    const size_t vlen = n - i - 1;
    if (vlen != 8 || memcmp(ver, "HTTP/", 5) || ver[6] != '.' || ver[5] < '0' || ver[5] > '9' ||
        ver[7] < '0' || ver[7] > '9')
        return bad(h, BAD_REQUEST, "malformed HTTP version");
    if (ver[5] != '1') return bad(h, VERSION_NOT_SUPPORTED, "only HTTP/1.x is supported");
    r->minor = ver[7] - '0';
    return 0;
}

static int parse_content_length(head_state *h, const char *v, size_t n, size_t max_body)
{
    size_t x = 0;
    if (n == 0) return bad(h, BAD_REQUEST, "empty Content-Length");
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return bad(h, BAD_REQUEST, "malformed Content-Length");
        if (x > max_body) break; /* already too large: no overflow */
        x = x * 10 + (size_t)(v[i] - '0');
    }
    if (h->has_length && x != h->req->content_length)
        return bad(h, BAD_REQUEST, "conflicting Content-Length fields");
    h->has_length = 1;
    h->req->content_length = x;
    if (x > max_body) return bad(h, PAYLOAD_TOO_LARGE, "the request body is too large");
    return 0;
}

/* One "Name: value" line (without its CRLF). */
static int parse_field(head_state *h, const char *s, size_t n, size_t max_body)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i])) i++;
    if (i == 0 || i >= n || s[i] != ':') return bad(h, BAD_REQUEST, "malformed header field");
    const char *name = s;
    const size_t nlen = i++;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t e = n;
    while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t')) e--;
    for (size_t k = i; k < e; k++)
        if (!is_value_byte((unsigned char)s[k]))
            return bad(h, BAD_REQUEST, "control character in a header field");
    const char *v = s + i;
    const size_t vlen = e - i;
    http_request *r = h->req;
    if (field_is(name, nlen, "Content-Length")) return parse_content_length(h, v, vlen, max_body);
    if (field_is(name, nlen, "Transfer-Encoding"))
        return bad(h, LENGTH_REQUIRED, "Transfer-Encoding is not supported (send Content-Length)");
    if (field_is(name, nlen, "Authorization")) {
        r->auth = v;
        r->auth_len = vlen;
    } else if (field_is(name, nlen, "Connection")) {
        h->close |= value_has_token(v, vlen, "close");
        h->keep |= value_has_token(v, vlen, "keep-alive");
    } else if (field_is(name, nlen, "Expect")) {
        if (!value_has_token(v, vlen, "100-continue"))
            return bad(h, EXPECTATION_FAILED, "only Expect: 100-continue is supported");
        r->expect_continue = 1;
    }
    return 0;
}

/* The head (request line and fields) of head_len bytes, CRLFCRLF included. */
static int parse_head(head_state *h, const char *buf, size_t head_len, size_t max_body)
{
    const char *p = buf, *end = buf + head_len - 2; /* the last CRLF ends the head */
    int first = 1;
    while (p < end) {
        const char *cr = memchr(p, '\r', (size_t)(end - p));
        if (!cr || cr[1] != '\n') return bad(h, BAD_REQUEST, "a line does not end in CRLF");
        const size_t n = (size_t)(cr - p);
        if (memchr(p, '\n', n)) return bad(h, BAD_REQUEST, "bare LF in the request head");
        const int rc = first ? parse_request_line(h, p, n) : parse_field(h, p, n, max_body);
        if (rc) return rc;
        first = 0;
        p = cr + 2;
    }
    return 0;
}

int http_parse_request(const char *buf, size_t len, size_t max_body, http_request *req,
                       const char **why)
{
    memset(req, 0, sizeof *req);
    *why = NULL;
    size_t scan = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    /* RFC 9112 2.2: empty lines before the request line may be ignored */
    size_t skip = 0;
    while (skip + 1 < scan && buf[skip] == '\r' && buf[skip + 1] == '\n') skip += 2;
    const char *eoh = scan >= 4 ? memmem(buf + skip, scan - skip, "\r\n\r\n", 4) : NULL;
    if (!eoh) {
        if (len >= HTTP_MAX_HEAD) {
            *why = "the request head is too large";
            return HEADERS_TOO_LARGE;
        }
        return HTTP_NEED_MORE;
    }
    head_state h = {.req = req};
    const size_t head_len = (size_t)(eoh + 4 - buf);
    int rc = parse_head(&h, buf + skip, head_len - skip, max_body);
    if (rc) {
        *why = h.why;
        return rc;
    }
    req->head_len = head_len;
    req->keep_alive = !h.close && (req->minor >= 1 || h.keep);
    if (len - head_len < req->content_length) return HTTP_NEED_MORE;
    req->body = buf + head_len;
    return 0;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

size_t http_response_head(char *buf, size_t cap, int status, const char *content_type,
                          long content_length, int keep_alive, const char *extra)
{
    char length[48] = "";
    if (content_length >= 0)
        snprintf(length, sizeof length, "Content-Length: %ld\r\n", content_length);
    const int n = snprintf(
        buf, cap, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sConnection: %s\r\n%s\r\n", status,
        http_reason(status), content_type, length,
        keep_alive && content_length >= 0 ? "keep-alive" : "close", extra ? extra : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
