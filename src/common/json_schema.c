/*
 * json_schema.c - a JSON Schema turned into a GBNF grammar (grammar.c),
 * for --json-schema, the server's response_format json_schema and its
 * "json_schema" field. The subset (docs/GRAMMAR.md): type (object, array,
 * string, number, integer, boolean, null, or a list of them), properties
 * (every one generated, in the given order: an instance whatever is
 * required),
 * items with minItems and maxItems, enum, const, anyOf and oneOf; no type
 * means any JSON value. A schema nested deeper than MAX_SCHEMA_DEPTH is
 * refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "json_schema.h"
#include "log.h"

#define MAX_SCHEMA_DEPTH 32
#define MAX_ITEMS_BOUND 1000 /* minItems, maxItems */

/* The shared rules every schema's grammar may use. */
static const char PRIMITIVES[] =
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n"
    "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" "
    "[0-9a-fA-F]{4}) )* "
    "\"\\\"\" ws\n"
    "integer ::= \"-\"? ([0-9] | [1-9] [0-9]{1,15}) ws\n"
    "number ::= \"-\"? ([0-9] | [1-9] [0-9]{1,15}) (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? "
    "ws\n"
    "boolean ::= (\"true\" | \"false\") ws\n"
    "null ::= \"null\" ws\n"
    "value ::= object | array | string | number | boolean | null\n"
    "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
    "array ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n";

typedef struct {
    text_buf rules; /* the schema's own rules */
    int n_rules;
    char *err;
} converter;

static int fail(converter *c, const char *what)
{
    snprintf(c->err, BN_ERR_LEN, "json schema: %s", what);
    return -1;
}

static void put(text_buf *b, const char *s) { buf_append(b, s, strlen(s)); }

/* Appends the GBNF literal matching the JSON text s[0..n) exactly. */
static void put_literal(text_buf *b, const char *s, size_t n)
{
    put(b, "\"");
    for (size_t i = 0; i < n; i++) {
        char esc[8];
        const unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            snprintf(esc, sizeof esc, "\\%c", ch);
        else if (ch < 0x20)
            snprintf(esc, sizeof esc, "\\x%02X", ch);
        else
            esc[0] = (char)ch, esc[1] = 0;
        put(b, esc);
    }
    put(b, "\"");
}

static int schema_rule(converter *c, const json_member *schema, int depth, char name[32]);

/* A new rule "sN ::= body" (the body is appended by the caller after). */
static void open_rule(converter *c, char name[32])
{
    snprintf(name, 32, "s%d", c->n_rules++);
    put(&c->rules, name);
    put(&c->rules, " ::= ");
}

/* enum / const: the JSON texts of the values, as alternatives. */
static int values_rule(converter *c, const json_member *values, int single, char name[32])
{
    json_object arr;
    if (!single && json_parse_array(values->raw, values->raw_len, &arr, c->err))
        return fail(c, "\"enum\" must be an array");
    open_rule(c, name);
    const int n = single ? 1 : arr.n;
    for (int i = 0; i < n; i++) {
        const json_member *v = single ? values : &arr.members[i];
        if (i) put(&c->rules, " | ");
        put_literal(&c->rules, v->raw, v->raw_len);
    }
    if (!n) put(&c->rules, "[^\\x00-\\U0010FFFF]"); /* an empty enum: nothing fits */
    put(&c->rules, " ws\n");
    if (!single) json_object_free(&arr);
    return 0;
}

/* A rule matching any one of the n rules named in sub. */
static void either_rule(converter *c, char (*sub)[32], int n, char name[32])
{
    open_rule(c, name);
    for (int i = 0; i < n; i++) {
        if (i) put(&c->rules, " | ");
        put(&c->rules, sub[i]);
    }
    put(&c->rules, "\n");
}

/* anyOf / oneOf: one rule per branch, as alternatives. */
static int union_rule(converter *c, const json_member *branches, int depth, char name[32])
{
    json_object arr;
    if (json_parse_array(branches->raw, branches->raw_len, &arr, c->err) || !arr.n)
        return fail(c, "\"anyOf\" and \"oneOf\" must be non-empty arrays");
    char(*sub)[32] = malloc((size_t)arr.n * sizeof *sub);
    if (!sub) log_out_of_memory();
    int rc = 0;
    for (int i = 0; i < arr.n && !rc; i++) rc = schema_rule(c, &arr.members[i], depth + 1, sub[i]);
    if (!rc) either_rule(c, sub, arr.n, name);
    free(sub);
    json_object_free(&arr);
    return rc;
}

/* The JSON text of a key, "key" with its escapes, as a GBNF literal. */
static void put_key(text_buf *b, const char *key)
{
    text_buf json = {0};
    put(&json, "\"");
    for (const char *k = key; *k; k++) {
        char esc[8];
        if (*k == '"' || *k == '\\')
            snprintf(esc, sizeof esc, "\\%c", *k);
        else if ((unsigned char)*k < 0x20)
            snprintf(esc, sizeof esc, "\\u%04x", *k);
        else
            esc[0] = *k, esc[1] = 0;
        put(&json, esc);
    }
    put(&json, "\"");
    put_literal(b, json.data, json.len);
    buf_free(&json);
}

/* An object with every one of its properties, in their order: an instance
 * of the schema whether or not they are required. */
static int object_rule(converter *c, const json_object *s, int depth, char name[32])
{
    const json_member *props = json_get(s, "properties");
    if (!props) {
        snprintf(name, 32, "object");
        return 0;
    }
    json_object p;
    if (props->kind != JSON_OBJECT || json_parse_object(props->raw, props->raw_len, &p, c->err))
        return fail(c, "\"properties\" must be an object");
    char(*sub)[32] = malloc((size_t)(p.n ? p.n : 1) * sizeof *sub);
    if (!sub) log_out_of_memory();
    int rc = 0;
    for (int i = 0; i < p.n && !rc; i++) rc = schema_rule(c, &p.members[i], depth + 1, sub[i]);
    if (!rc) {
        text_buf body = {0};
        put(&body, "\"{\" ws");
        for (int i = 0; i < p.n; i++) {
            put(&body, i ? " \",\" ws " : " ");
            put_key(&body, p.members[i].key);
            put(&body, " ws \":\" ws ");
            put(&body, sub[i]);
        }
        put(&body, " \"}\" ws\n");
        open_rule(c, name);
        buf_append(&c->rules, body.data, body.len);
        buf_free(&body);
    }
    free(sub);
    json_object_free(&p);
    return rc;
}

/* An array of items (any value without "items"), minItems to maxItems. */
static int array_rule(converter *c, const json_object *s, int depth, char name[32])
{
    const json_member *items = json_get(s, "items"), *mn = json_get(s, "minItems"),
                      *mx = json_get(s, "maxItems");
    double lo = 0, hi = -1;
    if ((mn && json_number_in(mn, 0, MAX_ITEMS_BOUND, 1, &lo)) ||
        (mx && json_number_in(mx, 0, MAX_ITEMS_BOUND, 1, &hi)) || (mx && hi < lo))
        return fail(c, "minItems and maxItems must be integers from 0 to 1000, min <= max");
    char item[32] = "value";
    if (items && schema_rule(c, items, depth + 1, item)) return -1;
    char rep[64];
    open_rule(c, name);
    put(&c->rules, "\"[\" ws ");
    if (hi == 0) {
        put(&c->rules, "\"]\" ws\n");
        return 0;
    }
    /* first item, then the rest: {lo-1, hi-1} more */
    const long more_lo = lo > 0 ? (long)lo - 1 : 0;
    if (hi < 0)
        snprintf(rep, sizeof rep, "{%ld,}", more_lo);
    else
        snprintf(rep, sizeof rep, "{%ld,%ld}", more_lo, (long)hi - 1);
    put(&c->rules, lo > 0 ? "(" : "((");
    put(&c->rules, item);
    put(&c->rules, " (\",\" ws ");
    put(&c->rules, item);
    put(&c->rules, ")");
    put(&c->rules, rep);
    put(&c->rules, lo > 0 ? ")" : "))?");
    put(&c->rules, " \"]\" ws\n");
    return 0;
}

/* The rule of one "type" name. */
static int type_rule(converter *c, const json_object *s, const char *type, int depth, char name[32])
{
    static const char *const simple[] = {"string", "number", "integer", "boolean", "null"};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (!strcmp(type, simple[i])) return snprintf(name, 32, "%s", type), 0;
    if (!strcmp(type, "object")) return object_rule(c, s, depth, name);
    if (!strcmp(type, "array")) return array_rule(c, s, depth, name);
    return fail(c, "unknown \"type\"");
}

/* The rule for the schema `schema`; its name goes to name. */
static int schema_rule(converter *c, const json_member *schema, int depth, char name[32])
{
    if (depth > MAX_SCHEMA_DEPTH) return fail(c, "nested deeper than 32 levels");
    if (schema->kind == JSON_BOOL) return snprintf(name, 32, "value"), 0; /* true: anything */
    json_object s;
    if (schema->kind != JSON_OBJECT || json_parse_object(schema->raw, schema->raw_len, &s, c->err))
        return fail(c, "a schema must be an object");
    const json_member *type = json_get(&s, "type"), *e = json_get(&s, "enum"),
                      *k = json_get(&s, "const"), *any = json_get(&s, "anyOf");
    if (!any) any = json_get(&s, "oneOf");
    int rc;
    if (k)
        rc = values_rule(c, k, 1, name);
    else if (e)
        rc = values_rule(c, e, 0, name);
    else if (any)
        rc = union_rule(c, any, depth, name);
    else if (!type)
        rc = json_get(&s, "properties") ? object_rule(c, &s, depth, name)
                                        : (snprintf(name, 32, "value"), 0);
    else if (type->kind == JSON_STRING)
        rc = type_rule(c, &s, type->str, depth, name);
    else if (type->kind == JSON_ARRAY) { /* ["string", "null"]: either */
        json_object types = {0};
        const int parsed = !json_parse_array(type->raw, type->raw_len, &types, c->err);
        rc = !parsed || !types.n ? fail(c, "\"type\" must be a name or a list of names") : 0;
        char(*sub)[32] = malloc((size_t)(types.n ? types.n : 1) * sizeof *sub);
        if (!sub) log_out_of_memory();
        for (int i = 0; !rc && i < types.n; i++)
            rc = types.members[i].kind != JSON_STRING
                     ? fail(c, "\"type\" must be a name or a list of names")
                     : type_rule(c, &s, types.members[i].str, depth, sub[i]);
        if (!rc) either_rule(c, sub, types.n, name);
        free(sub);
        if (parsed) json_object_free(&types);
    } else {
        rc = fail(c, "\"type\" must be a name or a list of names");
    }
    json_object_free(&s);
    return rc;
}

/* Whether s[0..n) is UTF-8 throughout, as JSON texts must be (a grammar
 * literal can only match valid text). */
static int valid_utf8(const char *s, size_t n)
{
    uint32_t cp;
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = bn_utf8_decode((const unsigned char *)s + i, n - i, &cp))) return 0;
    return 1;
}

char *json_schema_to_grammar(const char *schema, size_t len, char err[BN_ERR_LEN])
{
    converter c = {.err = err};
    if (!valid_utf8(schema, len)) {
        snprintf(err, BN_ERR_LEN, "json schema: not valid UTF-8");
        return NULL;
    }
    json_member root = {.raw = schema, .raw_len = len};
    /* the schema is an object (or true): find which */
    json_object probe;
    if (len >= 4 && !strncmp(schema, "true", 4)) {
        root.kind = JSON_BOOL;
    } else if (!json_parse_object(schema, len, &probe, err)) {
        root.kind = JSON_OBJECT;
        json_object_free(&probe);
    } else {
        snprintf(err, BN_ERR_LEN, "json schema: not a JSON object");
        return NULL;
    }
    char name[32];
    if (schema_rule(&c, &root, 0, name)) {
        buf_free(&c.rules);
        return NULL;
    }
    text_buf out = {0};
    put(&out, "root ::= ws ");
    put(&out, name);
    put(&out, "\n");
    put(&out, PRIMITIVES);
    if (c.rules.len) buf_append(&out, c.rules.data, c.rules.len);
    buf_free(&c.rules);
    return out.data;
}
