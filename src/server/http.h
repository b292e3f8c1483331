/*
 * http.h - the HTTP/1.1 request parser and response heads of the server
 * mode (server.c). It depends on libc only, so the tests and the fuzz
 * target (tests/fuzz/fuzz_http.c) link it without the rest of the tool.
 */
#ifndef BN_CLI_HTTP_H
#define BN_CLI_HTTP_H

#include <stddef.h>

/* The most bytes of a request line and its headers (larger: 431). */
#define HTTP_MAX_HEAD 8192
/* http_parse_request: the request is not complete yet. */
#define HTTP_NEED_MORE (-1)

typedef struct {
    char method[8];
    const char *path; /* the target without its query; points into the buffer */
    size_t path_len;
    int minor;           /* HTTP/1.minor */
    int keep_alive;      /* the connection may carry another request */
    int expect_continue; /* Expect: 100-continue */
    const char *auth;    /* the Authorization value, or NULL */
    size_t auth_len;
    size_t head_len; /* bytes of the request line and headers, CRLFCRLF included */
    size_t content_length;
    const char *body; /* content_length bytes after the head (once complete) */
} http_request;

/* Parses the request at the start of buf[0..len). Returns 0 once it is
 * complete (it takes head_len + content_length bytes), HTTP_NEED_MORE
 * while the head or the body is cut short (head_len is set once the head
 * is complete), or the status of a bad request (400, 411, 413, 417, 431, 501, 505)
 * with *why saying what is wrong. */
int http_parse_request(const char *buf, size_t len, size_t max_body, http_request *req,
                       const char **why);

/* The reason phrase of a status code ("Not Found"). */
const char *http_reason(int status);

/* Writes a response head into buf (cap bytes): status line, Content-Type,
 * Content-Length when content_length >= 0 (else the body runs until the
 * connection closes, as for server-sent events), Connection, and extra
 * header lines (each ending in CRLF; may be NULL). Returns its length, or
 * 0 when it does not fit. */
size_t http_response_head(char *buf, size_t cap, int status, const char *content_type,
                          long content_length, int keep_alive, const char *extra);

#endif
