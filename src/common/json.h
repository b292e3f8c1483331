/*
 * json.h - the JSON writer behind --json, --batch, --tokenize and the
 * server, and the reader of --batch's JSONL lines and request bodies.
 */
#ifndef BN_COMMON_JSON_H
#define BN_COMMON_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bitnet.h"

/* Output. Strings are escaped; invalid UTF-8 becomes U+FFFD so the output
 * is always valid JSON. */
void json_string(FILE *out, const char *s, size_t n);
void json_int_array(FILE *out, const int32_t *v, int n);

/* Input: one JSON object (a JSONL line). Nested values are validated but
 * only kept as raw text. */
typedef enum { JSON_STRING, JSON_NUMBER, JSON_BOOL, JSON_NULL, JSON_ARRAY, JSON_OBJECT } json_kind;

typedef struct {
    char *key; /* decoded */
    json_kind kind;
    char *str; /* JSON_STRING: the decoded value (may hold NUL bytes) */
    size_t str_len;
    const char *raw; /* the value as written, not NUL-terminated */
    size_t raw_len;
} json_member;

typedef struct {
    json_member *members;
    int n;
} json_object;

/* Parses text[0..len) as exactly one object; 0, or -1 with err set. */
int json_parse_object(const char *text, size_t len, json_object *obj, char err[BN_ERR_LEN]);
/* Parses text[0..len) as exactly one array; its elements become members
 * with empty keys (the raw text of an object element parses again with
 * json_parse_object). 0, or -1 with err set. */
int json_parse_array(const char *text, size_t len, json_object *items, char err[BN_ERR_LEN]);
void json_object_free(json_object *obj);
const json_member *json_get(const json_object *obj, const char *key);
/* A number member within [lo, hi], integral when `integer`: 0, or -1. */
int json_number_in(const json_member *mb, double lo, double hi, int integer, double *out);

/* The most stop strings a request or --batch line may give, and their
 * longest length in bytes. */
#define JSON_MAX_STOPS 16
#define JSON_MAX_STOP_LEN 256
/* Appends the stop strings of a "stop" member (a string, an array of
 * strings, or null for none) to *list (*n of them, each malloc'd); returns
 * NULL, or a message saying what is wrong. */
const char *json_stop_strings(const json_member *mb, char ***list, int *n);

#endif
