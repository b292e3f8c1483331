/*
 * json_schema.h - JSON Schema to a GBNF grammar (json_schema.c), for
 * --json-schema and the server's response_format json_schema.
 */
#ifndef BN_COMMON_JSON_SCHEMA_H
#define BN_COMMON_JSON_SCHEMA_H

#include <stddef.h>

#include "bitnet.h"

/* The grammar text (malloc'd) whose language is JSON texts that are
 * instances of the schema (the subset json_schema.c lists); NULL with err
 * set for a schema it cannot take. */
char *json_schema_to_grammar(const char *schema, size_t len, char err[BN_ERR_LEN]);

#endif
