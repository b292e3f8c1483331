/*
 * json.c - the small JSON writer behind --json, --batch and --tokenize,
 * and the reader for --batch's JSONL lines and the server's requests
 * (RFC 8259 objects and arrays; nested values are checked but kept only as
 * raw text, which the caller parses again when it needs them).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "log.h"

void json_string(FILE *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc((int)c, out);
            i++;
        } else if (c == '\n') {
            fputs("\\n", out), i++;
        } else if (c == '\t') {
            fputs("\\t", out), i++;
        } else if (c == '\r') {
            fputs("\\r", out), i++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c), i++;
        } else {
            uint32_t cp;
            size_t len = bn_utf8_decode(p + i, n - i, &cp);
            if (len) {
                fwrite(p + i, 1, len, out);
                i += len;
            } else {
                fputs("\\ufffd", out);
                i++;
            }
        }
    }
    fputc('"', out);
}

void json_int_array(FILE *out, const int32_t *v, int n)
{
    fputc('[', out);
    for (int i = 0; i < n; i++) fprintf(out, i ? ", %d" : "%d", v[i]);
    fputc(']', out);
}

/* ------------------------------------------------------------ reader */

#define JSON_MAX_DEPTH 64

typedef struct {
    const char *start, *p, *end;
    char *err;
} json_reader;

static int fail(json_reader *r, const char *what)
{
    if (!r->err[0])
        snprintf(r->err, BN_ERR_LEN, "invalid JSON at column %ld: %s", (long)(r->p - r->start) + 1,
                 what);
    return -1;
}

static void skip_space(json_reader *r)
{
    while (r->p < r->end && *r->p && strchr(" \t\r\n", *r->p)) r->p++;
}

static int hex4(const char *p, unsigned *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16;
        if (d == 16) return -1;
        *out = *out << 4 | d;
    }
    return 0;
}

/* \uXXXX (after the backslash and 'u'), joining surrogate pairs. */
static int read_unicode_escape(json_reader *r, text_buf *b)
{
    unsigned cp, lo;
    if (r->end - r->p < 4 || hex4(r->p, &cp)) return fail(r, "bad \\u escape");
    r->p += 4;
    if (cp >= 0xd800 && cp < 0xdc00) {
        if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || hex4(r->p + 2, &lo) ||
            lo < 0xdc00 || lo > 0xdfff)
            return fail(r, "unpaired surrogate in \\u escape");
        r->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return fail(r, "unpaired surrogate in \\u escape");
    }
    char u[4];
    buf_append(b, u, bn_utf8_encode(cp, u));
    return 0;
}

/* A string (at its opening quote) decoded into b (may be NULL: skip). */
static int read_string(json_reader *r, text_buf *b)
{
    static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
    text_buf scratch = {0};
    if (!b) b = &scratch;
    r->p++;
    int rc = -1;
    while (r->p < r->end) {
        char c = *r->p++;
        if (c == '"') {
            rc = 0;
            break;
        }
        if ((unsigned char)c < 0x20) {
            fail(r, "control character in a string");
            break;
        }
        if (c != '\\') {
            buf_append(b, &c, 1);
            continue;
        }
        if (r->p == r->end) break;
        c = *r->p++;
        const char *e = c ? strchr(esc_in, c) : NULL;
        if (e)
            buf_append(b, &esc_out[e - esc_in], 1);
        else if (c != 'u' || read_unicode_escape(r, b)) {
            fail(r, "bad escape in a string");
            break;
        }
    }
    if (rc) fail(r, "unterminated string");
    buf_append(b, "", 0);
    buf_free(&scratch);
    return rc;
}

static int read_number(json_reader *r)
{
    const char *p = r->p;
    if (p < r->end && *p == '-') p++;
    if (p == r->end || *p < '0' || *p > '9') return fail(r, "bad number");
    if (*p == '0')
        p++;
    else
        while (p < r->end && *p >= '0' && *p <= '9') p++;
    if (p < r->end && *p == '.') {
        if (++p == r->end || *p < '0' || *p > '9') return fail(r, "bad number");
        while (p < r->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < r->end && (*p == '+' || *p == '-')) p++;
        if (p == r->end || *p < '0' || *p > '9') return fail(r, "bad number");
        while (p < r->end && *p >= '0' && *p <= '9') p++;
    }
    r->p = p;
    return 0;
}

static int read_word(json_reader *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n)) return fail(r, "unexpected value");
    r->p += n;
    return 0;
}

static int read_value(json_reader *r, int depth, json_kind *kind);

/* An array or object (at its opening bracket), only validated. */
static int read_container(json_reader *r, int depth, char close)
{
    if (depth >= JSON_MAX_DEPTH) return fail(r, "nested too deeply");
    r->p++;
    skip_space(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    for (;;) {
        json_kind k;
        skip_space(r);
        if (close == '}') {
            if (r->p == r->end || *r->p != '"') return fail(r, "expected a key");
            if (read_string(r, NULL)) return -1;
            skip_space(r);
            if (r->p == r->end || *r->p++ != ':') return fail(r, "expected ':'");
        }
        if (read_value(r, depth + 1, &k)) return -1;
        skip_space(r);
        if (r->p == r->end) return fail(r, "unterminated array or object");
        char c = *r->p++;
        if (c == close) return 0;
        if (c != ',') return fail(r, "expected ',' or a closing bracket");
    }
}

static int read_value(json_reader *r, int depth, json_kind *kind)
{
    skip_space(r);
    if (r->p == r->end) return fail(r, "missing value");
    switch (*r->p) {
    case '"': *kind = JSON_STRING; return read_string(r, NULL);
    case '{': *kind = JSON_OBJECT; return read_container(r, depth, '}');
    case '[': *kind = JSON_ARRAY; return read_container(r, depth, ']');
    case 't': *kind = JSON_BOOL; return read_word(r, "true");
    case 'f': *kind = JSON_BOOL; return read_word(r, "false");
    case 'n': *kind = JSON_NULL; return read_word(r, "null");
    default: *kind = JSON_NUMBER; return read_number(r);
    }
}

static int read_member_value(json_reader *r, json_member *m);

/* One "key": value member of the top-level object. */
static int read_member(json_reader *r, json_object *obj)
{
    text_buf key = {0};
    skip_space(r);
    if (r->p == r->end || *r->p != '"') return fail(r, "expected a key");
    if (read_string(r, &key)) return buf_free(&key), -1;
    if (json_get(obj, key.data)) {
        snprintf(r->err, BN_ERR_LEN, "duplicate key \"%.100s\"", key.data);
        return buf_free(&key), -1;
    }
    json_member *grown = realloc(obj->members, (size_t)(obj->n + 1) * sizeof *grown);
    if (!grown) log_out_of_memory();
    obj->members = grown;
    json_member *m = &obj->members[obj->n++];
    memset(m, 0, sizeof *m);
    m->key = key.data;
    skip_space(r);
    if (r->p == r->end || *r->p++ != ':') return fail(r, "expected ':'");
    return read_member_value(r, m);
}

/* The value of a member (or an array element) at r->p: strings decoded,
 * other values kept raw. */
static int read_member_value(json_reader *r, json_member *m)
{
    skip_space(r);
    m->raw = r->p;
    if (r->p < r->end && *r->p == '"') {
        text_buf val = {0};
        m->kind = JSON_STRING;
        int rc = read_string(r, &val);
        m->str = val.data;
        m->str_len = val.len;
        if (rc) return -1;
    } else if (read_value(r, 1, &m->kind)) {
        return -1;
    }
    m->raw_len = (size_t)(r->p - m->raw);
    return 0;
}

static int read_object(json_reader *r, json_object *obj)
{
    skip_space(r);
    if (r->p == r->end || *r->p++ != '{') return fail(r, "expected an object");
    skip_space(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
    } else {
        for (;;) {
            if (read_member(r, obj)) return -1;
            skip_space(r);
            if (r->p == r->end) return fail(r, "unterminated object");
            char c = *r->p++;
            if (c == '}') break;
            if (c != ',') return fail(r, "expected ',' or '}'");
        }
    }
    skip_space(r);
    if (r->p != r->end) return fail(r, "text after the object");
    return 0;
}

/* The elements of a top-level array, as members with empty keys. */
static int read_array(json_reader *r, json_object *items)
{
    skip_space(r);
    if (r->p == r->end || *r->p++ != '[') return fail(r, "expected an array");
    skip_space(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return 0;
    }
    for (;;) {
        json_member *grown = realloc(items->members, (size_t)(items->n + 1) * sizeof *grown);
        if (!grown) log_out_of_memory();
        items->members = grown;
        json_member *m = &items->members[items->n++];
        memset(m, 0, sizeof *m);
        m->key = strdup("");
        if (!m->key) log_out_of_memory();
        if (read_member_value(r, m)) return -1;
        skip_space(r);
        if (r->p == r->end) return fail(r, "unterminated array");
        char c = *r->p++;
        if (c == ']') return 0;
        if (c != ',') return fail(r, "expected ',' or ']'");
    }
}

int json_parse_array(const char *text, size_t len, json_object *items, char err[BN_ERR_LEN])
{
    json_reader r = {text, text, text + len, err};
    err[0] = 0;
    memset(items, 0, sizeof *items);
    if (read_array(&r, items) == 0) {
        skip_space(&r);
        if (r.p == r.end) return 0;
        fail(&r, "text after the array");
    }
    json_object_free(items);
    return -1;
}

int json_parse_object(const char *text, size_t len, json_object *obj, char err[BN_ERR_LEN])
{
    json_reader r = {text, text, text + len, err};
    err[0] = 0;
    memset(obj, 0, sizeof *obj);
    if (read_object(&r, obj) == 0) return 0;
    json_object_free(obj);
    return -1;
}

void json_object_free(json_object *obj)
{
    for (int i = 0; i < obj->n; i++) {
        free(obj->members[i].key);
        free(obj->members[i].str);
    }
    free(obj->members);
    memset(obj, 0, sizeof *obj);
}

const json_member *json_get(const json_object *obj, const char *key)
{
    for (int i = 0; i < obj->n; i++)
        if (!strcmp(obj->members[i].key, key)) return &obj->members[i];
    return NULL;
}

int json_number_in(const json_member *mb, double lo, double hi, int integer, double *out)
{
    if (mb->kind != JSON_NUMBER) return -1;
    char tmp[64], *end;
    if (mb->raw_len >= sizeof tmp) return -1;
    memcpy(tmp, mb->raw, mb->raw_len);
    tmp[mb->raw_len] = 0;
    *out = strtod(tmp, &end);
    if (*end || !isfinite(*out) || *out < lo || *out > hi) return -1;
    return integer && *out != floor(*out) ? -1 : 0;
}

static const char *add_stop_string(const char *s, size_t len, char ***list, int *n)
{
    if (len == 0 || len > JSON_MAX_STOP_LEN || memchr(s, 0, len))
        return "\"stop\" strings must be 1 to 256 bytes without NUL";
    if (*n == JSON_MAX_STOPS) return "at most 16 \"stop\" strings";
    char **grown = realloc(*list, (size_t)(*n + 1) * sizeof *grown);
    if (!grown) log_out_of_memory();
    *list = grown;
    grown[*n] = strndup(s, len);
    if (!grown[(*n)++]) log_out_of_memory();
    return NULL;
}

const char *json_stop_strings(const json_member *mb, char ***list, int *n)
{
    static const char *const shape = "\"stop\" must be a string or an array of strings";
    char err[BN_ERR_LEN];
    if (mb->kind == JSON_NULL) return NULL;
    if (mb->kind == JSON_STRING) return add_stop_string(mb->str, mb->str_len, list, n);
    json_object arr;
    if (mb->kind != JSON_ARRAY || json_parse_array(mb->raw, mb->raw_len, &arr, err)) return shape;
    const char *msg = NULL;
    for (int i = 0; i < arr.n && !msg; i++)
        msg = arr.members[i].kind == JSON_STRING
                  ? add_stop_string(arr.members[i].str, arr.members[i].str_len, list, n)
                  : shape;
    json_object_free(&arr);
    return msg;
}
