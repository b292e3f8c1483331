/*
 * json_mini.c - the tiny JSON reader of json_mini.h (test support only).
 */
#include "json_mini.h"

#include <stdlib.h>
#include <string.h>

#include "tokenizer/unicode.h"

#define MAX_DEPTH 64

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static const char *skip_string(const char *p, const char *end)
{
    if (p >= end || *p != '"') return NULL;
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

static const char *skip_value(const char *p, const char *end, int depth)
{
    p = skip_ws(p, end);
    if (p >= end || depth > MAX_DEPTH) return NULL;
    if (*p == '"') return skip_string(p, end);
    if (*p == '[' || *p == '{') {
        char close = *p == '[' ? ']' : '}';
        p = skip_ws(p + 1, end);
        if (p < end && *p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                p = skip_string(skip_ws(p, end), end);
                if (!p || (p = skip_ws(p, end)) >= end || *p != ':') return NULL;
                p++;
            }
            if (!(p = skip_value(p, end, depth + 1))) return NULL;
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            return p < end && *p == close ? p + 1 : NULL;
        }
    }
    while (p < end && !strchr(",]} \t\r\n", *p)) p++; /* number or literal */
    return p;
}

const char *json_find(const char *p, const char *end, const char *key)
{
    size_t klen = strlen(key);
    p = skip_ws(p, end);
    if (p >= end || *p != '{') return NULL;
    p++;
    for (;;) {
        p = skip_ws(p, end);
        const char *k = p, *kend = skip_string(p, end);
        if (!kend) return NULL;
        p = skip_ws(kend, end);
        if (p >= end || *p != ':') return NULL;
        p = skip_ws(p + 1, end);
        if ((size_t)(kend - k) == klen + 2 && !memcmp(k + 1, key, klen)) return p;
        if (!(p = skip_value(p, end, 0))) return NULL;
        p = skip_ws(p, end);
        if (p >= end || *p != ',') return NULL;
        p++;
    }
}

static int hex4(const char *p, const char *end, uint32_t *v)
{
    if (end - p < 4) return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}

/* \uXXXX (p after the 'u'), joining a surrogate pair; returns chars used. */
static int unicode_escape(const char *p, const char *end, uint32_t *cp)
{
    uint32_t hi, lo;
    if (hex4(p, end, &hi)) return -1;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = hi;
        return 4;
    }
    if (end - p < 10 || p[4] != '\\' || p[5] != 'u' || hex4(p + 6, end, &lo) || lo < 0xDC00 ||
        lo > 0xDFFF)
        return -1;
    *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return 10;
}

static char simple_escape(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'b': return '\b';
    case 'f': return '\f';
    case '"':
    case '\\':
    case '/': return c;
    default: return 0;
    }
}

long json_string(const char *p, const char *end, char **out)
{
    const char *stop = skip_string(p, end);
    if (!stop) return -1;
    char *s = malloc((size_t)(stop - p) + 1); /* decoding never grows the text */
    if (!s) return -1;
    long n = 0;
    for (p++; p < stop - 1; p++) {
        if (*p != '\\') {
            s[n++] = *p;
            continue;
        }
        p++;
        if (*p == 'u') {
            uint32_t cp;
            int used = unicode_escape(p + 1, stop, &cp);
            if (used < 0) break;
            n += (long)bn_utf8_encode(cp, s + n);
            p += used;
        } else if (simple_escape(*p)) {
            s[n++] = simple_escape(*p);
        } else {
            break;
        }
    }
    if (p != stop - 1) {
        free(s);
        return -1;
    }
    s[n] = 0;
    *out = s;
    return n;
}

long json_int_array(const char *p, const char *end, int32_t **out)
{
    p = skip_ws(p, end);
    if (p >= end || *p != '[') return -1;
    size_t cap = 16, n = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return -1;
    p = skip_ws(p + 1, end);
    while (p < end && *p != ']') {
        char *num_end;
        long x = strtol(p, &num_end, 10);
        if (num_end == p) break;
        if (n == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[n++] = (int32_t)x;
        p = skip_ws(num_end, end);
        if (p < end && *p == ',') p = skip_ws(p + 1, end);
    }
    if (p >= end || *p != ']') {
        free(v);
        return -1;
    }
    *out = v;
    return (long)n;
}

int json_bool(const char *p, const char *end)
{
    p = skip_ws(p, end);
    if (end - p >= 4 && !memcmp(p, "true", 4)) return 1;
    if (end - p >= 5 && !memcmp(p, "false", 5)) return 0;
    return -1;
}
