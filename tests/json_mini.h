/*
 * json_mini.h - a tiny JSON reader for the test fixtures (.jsonl lines):
 * look up a key of an object and read strings (with \uXXXX escapes and
 * surrogate pairs), integer arrays and booleans. Not a general parser.
 */
#ifndef BN_JSON_MINI_H
#define BN_JSON_MINI_H

#include <stddef.h>
#include <stdint.h>

/* The value of `key` in the top-level object in [p, end), or NULL. */
const char *json_find(const char *p, const char *end, const char *key);
/* Decodes the string at p into a malloc'd, NUL-terminated buffer; returns
 * its length (it may contain NUL bytes) or -1 when malformed. */
long json_string(const char *p, const char *end, char **out);
/* Reads an array of integers into a malloc'd array; count or -1. */
long json_int_array(const char *p, const char *end, int32_t **out);
/* 1 for true, 0 for false, -1 otherwise. */
int json_bool(const char *p, const char *end);

#endif
