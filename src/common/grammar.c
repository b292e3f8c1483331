/*
 * grammar.c - GBNF grammars (llama.cpp's syntax) and the pushdown matcher
 * that constrains sampling to them (docs/GRAMMAR.md).
 *
 * A grammar is a list of rules; each rule is its alternatives flattened
 * into one array of elements: character sets, references to rules, ALT
 * between alternatives and END after the last. Repetitions (* + ? {m,n})
 * and parenthesized groups become rules of their own while parsing.
 *
 * The matcher keeps every way the text so far could continue: a set of
 * stacks of element positions, the top being the next element to match.
 * A stack whose top is a rule reference is expanded into one stack per
 * alternative, so every top is a character set (or the stack is empty:
 * the root rule is complete). A character moves each stack whose top
 * matches it past that set. Left recursion is refused when the grammar is
 * parsed (it would expand forever), and the sizes are bounded, so a
 * hostile grammar gets an error instead of a hang or unbounded memory.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar.h"
#include "log.h"

#define MAX_ELEMENTS (1 << 20) /* all rules' elements: bounds {m,n} blow-ups */
#define MAX_RULES (1 << 16)
#define MAX_REPEAT 10000   /* m and n of x{m,n} */
#define MAX_NESTING 64     /* parentheses inside parentheses */
#define MAX_DEPTH 128      /* a stack's positions: nesting of the text */
#define MAX_STACKS 256     /* ways the text may continue at once */
#define HASH_SLOTS 512     /* twice MAX_STACKS: the stacks' hash table */
#define EXPAND_BUDGET 8192 /* expansions one character may cost */
#define NAME_CAP 64

enum { GE_END, GE_ALT, GE_REF, GE_CHAR, GE_CHAR_NOT, GE_RNG_UPPER, GE_CHAR_ALT, GE_ANY };

typedef struct {
    uint32_t type;
    uint32_t value; /* a code point, or a rule's index */
} gelem;

typedef struct {
    gelem *v;
    int n, cap;
} gvec;

typedef struct {
    char *name;
    gvec body;
    int defined;
} grule;

struct grammar {
    grule **rules; /* each apart: a body being parsed stays put while rules are added */
    int n_rules, cap_rules;
    int total; /* elements of all rules */
    /* after parsing: the rules flattened into el, rule i from start[i] */
    gelem *el;
    int *start;
    int root;
};

/* -------------------------------------------------------------- parsing */

typedef struct {
    const char *p, *end;
    grammar *g;
    char *err;
    int nesting;
    int failed;
} gparser;

static int fail(gparser *ps, const char *what)
{
    if (!ps->failed) {
        const int shown = (int)(ps->end - ps->p < 24 ? ps->end - ps->p : 24);
        snprintf(ps->err, BN_ERR_LEN, "grammar: %s at \"%.*s\"", what, shown, ps->p);
    }
    ps->failed = 1;
    return -1;
}

static int push(gparser *ps, gvec *v, uint32_t type, uint32_t value)
{
    if (ps->g->total >= MAX_ELEMENTS) return fail(ps, "too large (over 2^20 elements)");
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 16;
        gelem *grown = realloc(v->v, (size_t)v->cap * sizeof *grown);
        if (!grown) log_out_of_memory();
        v->v = grown;
    }
    v->v[v->n++] = (gelem){type, value};
    ps->g->total++;
    return 0;
}

/* Adds a rule called name (undefined yet); its index. */
static int add_rule(gparser *ps, const char *name, size_t len)
{
    grammar *g = ps->g;
    if (g->n_rules == MAX_RULES) return fail(ps, "too many rules");
    if (g->n_rules == g->cap_rules) {
        g->cap_rules = g->cap_rules ? 2 * g->cap_rules : 16;
        grule **grown = realloc(g->rules, (size_t)g->cap_rules * sizeof(grule *));
        if (!grown) log_out_of_memory();
        g->rules = grown;
    }
    grule *r = calloc(1, sizeof *r);
    if (!r) log_out_of_memory();
    g->rules[g->n_rules] = r;
    r->name = strndup(name, len);
    if (!r->name) log_out_of_memory();
    return g->n_rules++;
}

/* The index of the rule called name (created, undefined, when new). The
 * grammar's own names are few; the many made for groups and counts are
 * never looked up. */
static int rule_id(gparser *ps, const char *name, size_t len)
{
    grammar *g = ps->g;
    for (int i = 0; i < g->n_rules; i++)
        if (g->rules[i]->name[0] != '~' && strlen(g->rules[i]->name) == len &&
            !memcmp(g->rules[i]->name, name, len))
            return i;
    return add_rule(ps, name, len);
}

/* A new rule for a group or a repetition, named after its place. */
static int new_rule(gparser *ps)
{
    char name[NAME_CAP]; /* '~' is no name character: no clash with the grammar's names */
    snprintf(name, sizeof name, "~%d", ps->g->n_rules);
    const int id = add_rule(ps, name, strlen(name));
    if (id >= 0) ps->g->rules[id]->defined = 1;
    return id;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Skips spaces, tabs and comments, and newlines when `lines`. */
static void skip_space(gparser *ps, int lines)
{
    while (ps->p < ps->end) {
        const char c = *ps->p;
        if (c == '#') {
            while (ps->p < ps->end && *ps->p != '\n') ps->p++;
        } else if (c == ' ' || c == '\t' || (lines && (c == '\n' || c == '\r'))) {
            ps->p++;
        } else {
            return;
        }
    }
}

/* Does a rule definition ("name ::=") start at p? */
static int at_definition(const gparser *ps)
{
    const char *q = ps->p;
    while (q < ps->end && is_name_char(*q)) q++;
    if (q == ps->p) return 0;
    while (q < ps->end && (*q == ' ' || *q == '\t')) q++;
    return ps->end - q >= 3 && !memcmp(q, "::=", 3);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One character of a literal or a class: UTF-8, or an escape. */
static int read_char(gparser *ps, uint32_t *cp)
{
    if (ps->p >= ps->end) return fail(ps, "unexpected end");
    if (*ps->p != '\\') {
        const size_t k = bn_utf8_decode((const unsigned char *)ps->p, (size_t)(ps->end - ps->p),
                                        cp);
        if (!k) return fail(ps, "invalid UTF-8");
        ps->p += k;
        return 0;
    }
    if (ps->end - ps->p < 2) return fail(ps, "unfinished escape");
    const char e = ps->p[1];
    ps->p += 2;
    static const char from[] = "nrt\\\"[]-/", to[] = "\n\r\t\\\"[]-/";
    const char *k = strchr(from, e);
    if (k && e) {
        *cp = (unsigned char)to[k - from];
        return 0;
    }
    const int digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (!digits || ps->end - ps->p < digits) return fail(ps, "unknown escape");
    uint32_t v = 0;
    for (int i = 0; i < digits; i++) {
        const int h = hex_value(*ps->p++);
        if (h < 0) return fail(ps, "bad hex escape");
        v = v * 16 + (uint32_t)h;
    }
    if (v > 0x10FFFF) return fail(ps, "code point out of range");
    *cp = v;
    return 0;
}

static int parse_alternates(gparser *ps, gvec *out);

/* "literal": one character element each. */
static int parse_literal(gparser *ps, gvec *out)
{
    ps->p++;
    while (ps->p < ps->end && *ps->p != '"') {
        uint32_t cp;
        if (read_char(ps, &cp) || push(ps, out, GE_CHAR, cp)) return -1;
    }
    if (ps->p >= ps->end) return fail(ps, "unterminated string");
    ps->p++;
    return 0;
}

/* [abc], [a-z0-9], [^"\\]: one set element and its alternatives. */
static int parse_class(gparser *ps, gvec *out)
{
    ps->p++;
    uint32_t type = GE_CHAR;
    if (ps->p < ps->end && *ps->p == '^') {
        type = GE_CHAR_NOT;
        ps->p++;
    }
    int first = 1;
    while (ps->p < ps->end && *ps->p != ']') {
        uint32_t lo, hi;
        if (read_char(ps, &lo) || push(ps, out, first ? type : GE_CHAR_ALT, lo)) return -1;
        first = 0;
        if (ps->end - ps->p >= 2 && ps->p[0] == '-' && ps->p[1] != ']') {
            ps->p++;
            if (read_char(ps, &hi) || push(ps, out, GE_RNG_UPPER, hi)) return -1;
        }
    }
    if (ps->p >= ps->end) return fail(ps, "unterminated character class");
    if (first) return fail(ps, "empty character class");
    ps->p++;
    return 0;
}

/* Appends copies of elements [from, to) of a vector to out. */
static int append_copy(gparser *ps, gvec *out, const gelem *from, int n)
{
    for (int i = 0; i < n; i++)
        if (push(ps, out, from[i].type, from[i].value)) return -1;
    return 0;
}

/* x{min,max} (max -1: no bound) for the item x = out[start, n): x min
 * times, then nested optional copies (or a recursive rule for no bound). */
static int repeat(gparser *ps, gvec *out, int start, long min, long max)
{
    const int len = out->n - start;
    gelem *item = malloc((size_t)len * sizeof *item);
    if (!item) log_out_of_memory();
    memcpy(item, out->v + start, (size_t)len * sizeof *item);
    ps->g->total -= len;
    out->n = start;
    int rc = 0;
    for (long i = 0; i < min && !rc; i++) rc = append_copy(ps, out, item, len);
    if (!rc && max < 0) { /* R ::= x R | (empty) */
        const int r = new_rule(ps);
        gvec *body = r >= 0 ? &ps->g->rules[r]->body : NULL;
        rc = r < 0 || append_copy(ps, body, item, len) || push(ps, body, GE_REF, (uint32_t)r) ||
             push(ps, body, GE_ALT, 0) || push(ps, body, GE_END, 0) ||
             push(ps, out, GE_REF, (uint32_t)r);
    } else if (!rc && max > min) { /* R_k ::= x R_(k-1) | (empty), R_1 ::= x | (empty) */
        int inner = -1;
        for (long k = 0; k < max - min && !rc; k++) {
            const int r = new_rule(ps);
            gvec *body = r >= 0 ? &ps->g->rules[r]->body : NULL;
            rc = r < 0 || append_copy(ps, body, item, len) ||
                 (inner >= 0 && push(ps, body, GE_REF, (uint32_t)inner)) ||
                 push(ps, body, GE_ALT, 0) || push(ps, body, GE_END, 0);
            inner = r;
        }
        if (!rc) rc = push(ps, out, GE_REF, (uint32_t)inner);
    }
    free(item);
    return rc ? -1 : 0;
}

static long read_count(gparser *ps)
{
    long v = 0;
    const char *s = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9' && v <= MAX_REPEAT)
        v = v * 10 + (*ps->p++ - '0');
    if (ps->p == s) return -1;
    return v > MAX_REPEAT ? (fail(ps, "repetition count over 10000"), -2) : v;
}

/* *, +, ?, {m}, {m,}, {m,n} after the item out[start, n). */
static int parse_repetition(gparser *ps, gvec *out, int start)
{
    const char c = *ps->p;
    if (c == '*' || c == '+' || c == '?') {
        ps->p++;
        return repeat(ps, out, start, c == '+', c == '?' ? 1 : -1);
    }
    ps->p++; /* { */
    skip_space(ps, 0);
    const long min = read_count(ps);
    if (min < 0) return min == -1 ? fail(ps, "expected a count") : -1;
    long max = min;
    skip_space(ps, 0);
    if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        skip_space(ps, 0);
        max = ps->p < ps->end && *ps->p == '}' ? -1 : read_count(ps);
        if (max == -2 || (max < 0 && ps->p < ps->end && *ps->p != '}'))
            return fail(ps, "bad count");
        if (max >= 0 && max < min) return fail(ps, "{m,n} with n < m");
        skip_space(ps, 0);
    }
    if (ps->p >= ps->end || *ps->p != '}') return fail(ps, "expected }");
    ps->p++;
    return repeat(ps, out, start, min, max);
}

/* One item: literal, class, '.', rule name or (group), with its repetition. */
static int parse_item(gparser *ps, gvec *out)
{
    const int start = out->n;
    const char c = *ps->p;
    int rc;
    if (c == '"') {
        rc = parse_literal(ps, out);
    } else if (c == '[') {
        rc = parse_class(ps, out);
    } else if (c == '.') {
        ps->p++;
        rc = push(ps, out, GE_ANY, 0);
    } else if (c == '(') {
        if (++ps->nesting > MAX_NESTING) return fail(ps, "parentheses nested over 64 deep");
        ps->p++;
        const int r = new_rule(ps);
        rc = r < 0 || parse_alternates(ps, &ps->g->rules[r]->body) ||
             push(ps, &ps->g->rules[r]->body, GE_END, 0);
        skip_space(ps, 1);
        if (!rc && (ps->p >= ps->end || *ps->p != ')')) rc = fail(ps, "expected )");
        if (!rc) ps->p++, rc = push(ps, out, GE_REF, (uint32_t)r);
        ps->nesting--;
    } else if (is_name_char(c)) {
        const char *name = ps->p;
        while (ps->p < ps->end && is_name_char(*ps->p)) ps->p++;
        const int r = rule_id(ps, name, (size_t)(ps->p - name));
        rc = r < 0 || push(ps, out, GE_REF, (uint32_t)r);
    } else {
        return fail(ps, "unexpected character");
    }
    if (rc) return -1;
    skip_space(ps, 0);
    if (ps->p < ps->end && strchr("*+?{", *ps->p) && *ps->p)
        return parse_repetition(ps, out, start);
    return 0;
}

/* A sequence of items, up to '|', ')', the end, or the next definition. */
static int parse_sequence(gparser *ps, gvec *out)
{
    for (;;) {
        skip_space(ps, 1);
        if (ps->p >= ps->end || *ps->p == '|' || *ps->p == ')' || at_definition(ps)) return 0;
        if (parse_item(ps, out)) return -1;
    }
}

static int parse_alternates(gparser *ps, gvec *out)
{
    if (parse_sequence(ps, out)) return -1;
    while (ps->p < ps->end && *ps->p == '|') {
        ps->p++;
        if (push(ps, out, GE_ALT, 0) || parse_sequence(ps, out)) return -1;
    }
    return 0;
}

/* name ::= alternates */
static int parse_rule(gparser *ps)
{
    const char *name = ps->p;
    while (ps->p < ps->end && is_name_char(*ps->p)) ps->p++;
    if (ps->p == name) return fail(ps, "expected a rule name");
    const int r = rule_id(ps, name, (size_t)(ps->p - name));
    if (r < 0) return -1;
    if (ps->g->rules[r]->defined) return fail(ps, "rule defined twice");
    ps->g->rules[r]->defined = 1;
    skip_space(ps, 0);
    if (ps->end - ps->p < 3 || memcmp(ps->p, "::=", 3)) return fail(ps, "expected ::=");
    ps->p += 3;
    return parse_alternates(ps, &ps->g->rules[r]->body) ||
                   push(ps, &ps->g->rules[r]->body, GE_END, 0)
               ? -1
               : 0;
}

/* -------------------------------------------------- checks and layout */

/* Can rule r match the empty text? nullable[] of the others as known. */
static int alt_nullable(const gvec *b, int i, const char *nullable)
{
    for (; b->v[i].type != GE_END && b->v[i].type != GE_ALT; i++)
        if (b->v[i].type != GE_REF || !nullable[b->v[i].value]) return 0;
    return 1;
}

static void find_nullable(const grammar *g, char *nullable)
{
    for (int changed = 1; changed;) {
        changed = 0;
        for (int r = 0; r < g->n_rules; r++) {
            const gvec *b = &g->rules[r]->body;
            for (int i = 0; i < b->n && !nullable[r]; i++)
                if ((i == 0 || b->v[i - 1].type == GE_ALT) && alt_nullable(b, i, nullable)) {
                    nullable[r] = 1;
                    changed = 1;
                }
        }
    }
}

/* Depth-first over "r can start with rule x" edges; 1 on a cycle. */
static int left_cycle(const grammar *g, int r, const char *nullable, char *color)
{
    if (color[r] == 1) return 1;
    if (color[r] == 2) return 0;
    color[r] = 1;
    const gvec *b = &g->rules[r]->body;
    for (int i = 0; i < b->n; i++) {
        if (i > 0 && b->v[i - 1].type != GE_ALT) continue; /* alternatives' starts */
        for (int k = i; b->v[k].type == GE_REF; k++) {
            if (left_cycle(g, (int)b->v[k].value, nullable, color)) return 1;
            if (!nullable[b->v[k].value]) break;
        }
    }
    color[r] = 2;
    return 0;
}

static int check_rules(grammar *g, char err[BN_ERR_LEN])
{
    for (int r = 0; r < g->n_rules; r++)
        if (!g->rules[r]->defined)
            return snprintf(err, BN_ERR_LEN, "grammar: rule \"%s\" is used but not defined",
                            g->rules[r]->name),
                   -1;
    g->root = -1;
    for (int r = 0; r < g->n_rules; r++)
        if (!strcmp(g->rules[r]->name, "root")) g->root = r;
    if (g->root < 0) return snprintf(err, BN_ERR_LEN, "grammar: no rule named root"), -1;
    char *nullable = calloc((size_t)g->n_rules, 2);
    if (!nullable) log_out_of_memory();
    char *color = nullable + g->n_rules;
    find_nullable(g, nullable);
    int bad = -1;
    for (int r = 0; r < g->n_rules && bad < 0; r++)
        if (left_cycle(g, r, nullable, color)) bad = r;
    free(nullable);
    if (bad >= 0)
        return snprintf(err, BN_ERR_LEN, "grammar: rule \"%s\" is left-recursive",
                        g->rules[bad]->name),
               -1;
    return 0;
}

/* Lays every rule out in one array so positions are plain indices. */
static void flatten(grammar *g)
{
    g->el = malloc((size_t)(g->total > 0 ? g->total : 1) * sizeof *g->el);
    g->start = malloc((size_t)g->n_rules * sizeof *g->start);
    if (!g->el || !g->start) log_out_of_memory();
    int n = 0;
    for (int r = 0; r < g->n_rules; r++) {
        g->start[r] = n;
        memcpy(g->el + n, g->rules[r]->body.v, (size_t)g->rules[r]->body.n * sizeof *g->el);
        n += g->rules[r]->body.n;
    }
}

grammar *grammar_parse(const char *text, size_t len, char err[BN_ERR_LEN])
{
    grammar *g = calloc(1, sizeof *g);
    if (!g) log_out_of_memory();
    gparser ps = {.p = text, .end = text + len, .g = g, .err = err};
    for (skip_space(&ps, 1); ps.p < ps.end && !ps.failed; skip_space(&ps, 1)) parse_rule(&ps);
    if (ps.failed || check_rules(g, err)) {
        grammar_free(g);
        return NULL;
    }
    flatten(g);
    return g;
}

void grammar_free(grammar *g)
{
    if (!g) return;
    for (int r = 0; r < g->n_rules; r++) {
        free(g->rules[r]->name);
        free(g->rules[r]->body.v);
        free(g->rules[r]);
    }
    free(g->rules);
    free(g->el);
    free(g->start);
    free(g);
}

const char GRAMMAR_JSON_OBJECT[] =
    "root   ::= object\n"
    "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
    "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
    "array  ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
    "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" "
    "[0-9a-fA-F]{4}) )* "
    "\"\\\"\" ws\n"
    "number ::= \"-\"? ([0-9] | [1-9] [0-9]{1,15}) (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? "
    "ws\n"
    "ws     ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

/* -------------------------------------------------------- the matcher */

/* Stacks of element positions, stored back to back. */
typedef struct {
    int *pool;
    size_t used, cap;
    int *at, *len; /* stack i is pool[at[i], at[i] + len[i]) */
    int n;
    int overflow;         /* a stack or the set went past its limit */
    int budget;           /* expansions left for this character */
    int slot[HASH_SLOTS]; /* 1 + the index of a stack, by hash; 0: empty */
} stack_set;

struct grammar_state {
    const grammar *g;
    stack_set cur, a, b;
    int work[MAX_DEPTH + 1];
};

static int is_end(const gelem *e) { return e->type == GE_END || e->type == GE_ALT; }

static uint32_t stack_hash(const int *stack, int len)
{
    uint32_t h = 2166136261u; /* FNV-1a over the positions */
    for (int i = 0; i < len; i++) h = (h ^ (uint32_t)stack[i]) * 16777619u;
    return h;
}

static void set_add(stack_set *s, const int *stack, int len)
{
    /* ambiguous grammars reach one state many ways: keep it once */
    uint32_t h = stack_hash(stack, len) % HASH_SLOTS;
    for (; s->slot[h]; h = (h + 1) % HASH_SLOTS) {
        const int i = s->slot[h] - 1;
        /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): a filled slot implies len */
        if (s->len[i] == len &&
            (!len || !memcmp(s->pool + s->at[i], stack, (size_t)len * sizeof *stack)))
            return;
    }
    if (s->n == MAX_STACKS) {
        s->overflow = 1;
        return;
    }
    s->slot[h] = s->n + 1;
    if (!s->pool || s->used + (size_t)len > s->cap) {
        s->cap = (s->used + (size_t)len) * 2 + 64;
        int *grown = realloc(s->pool, s->cap * sizeof *grown);
        if (!grown) log_out_of_memory();
        s->pool = grown;
    }
    if (!s->at) {
        s->at = malloc(MAX_STACKS * sizeof *s->at);
        s->len = malloc(MAX_STACKS * sizeof *s->len);
        if (!s->at || !s->len) log_out_of_memory();
    }
    if (len) memcpy(s->pool + s->used, stack, (size_t)len * sizeof *stack);
    s->at[s->n] = (int)s->used;
    s->len[s->n++] = len;
    s->used += (size_t)len;
}

static void set_clear(stack_set *s)
{
    s->n = 0;
    s->used = 0;
    s->overflow = 0;
    s->budget = EXPAND_BUDGET;
    memset(s->slot, 0, sizeof s->slot);
}

static void set_free(stack_set *s)
{
    free(s->pool);
    free(s->at);
    free(s->len);
}

/* Adds stack (len positions) to out with every rule reference on top
 * expanded into its alternatives. */
static void expand(const grammar *g, stack_set *out, const int *stack, int len, int depth)
{
    if (len == 0 || g->el[stack[len - 1]].type != GE_REF) {
        set_add(out, stack, len);
        return;
    }
    if (depth > MAX_DEPTH || len > MAX_DEPTH || out->budget-- <= 0) {
        out->overflow = 1;
        return;
    }
    int next[MAX_DEPTH + 1];
    const int top = stack[len - 1];
    memcpy(next, stack, (size_t)(len - 1) * sizeof *next);
    int n = len - 1;
    if (!is_end(&g->el[top + 1])) next[n++] = top + 1; /* where the rule returns to */
    for (int i = g->start[g->el[top].value];; i++) {
        const gelem *e = &g->el[i];
        if (i == g->start[g->el[top].value] || g->el[i - 1].type == GE_ALT) {
            if (is_end(e)) {
                expand(g, out, next, n, depth + 1); /* an empty alternative */
            } else {
                next[n] = i;
                expand(g, out, next, n + 1, depth + 1);
            }
        }
        if (e->type == GE_END) break;
    }
}

/* Does the set element at pos match cp? *after gets the position past it. */
static int set_matches(const gelem *el, int pos, uint32_t cp, int *after)
{
    if (el[pos].type == GE_ANY) {
        *after = pos + 1;
        return 1;
    }
    const int negated = el[pos].type == GE_CHAR_NOT;
    int found = 0, i = pos;
    do {
        const uint32_t lo = el[i].value;
        if (el[i + 1].type == GE_RNG_UPPER) {
            found |= cp >= lo && cp <= el[i + 1].value;
            i += 2;
        } else {
            found |= cp == lo;
            i++;
        }
    } while (el[i].type == GE_CHAR_ALT);
    *after = i;
    return found != negated;
}

/* from -> to: the stacks after one more code point. */
static void step(const grammar *g, const stack_set *from, stack_set *to, uint32_t cp)
{
    int next[MAX_DEPTH + 1];
    set_clear(to);
    for (int s = 0; s < from->n; s++) {
        const int len = from->len[s];
        if (len == 0) continue;
        const int *stack = from->pool + from->at[s];
        int after;
        if (!set_matches(g->el, stack[len - 1], cp, &after)) continue;
        memcpy(next, stack, (size_t)(len - 1) * sizeof *next);
        int n = len - 1;
        if (!is_end(&g->el[after])) next[n++] = after;
        expand(g, to, next, n, 0);
    }
}

grammar_state *grammar_start(const grammar *g)
{
    grammar_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->g = g;
    set_clear(&st->cur);
    for (int i = g->start[g->root];; i++) { /* one stack per alternative of root */
        if (i == g->start[g->root] || g->el[i - 1].type == GE_ALT) {
            if (is_end(&g->el[i]))
                set_add(&st->cur, NULL, 0);
            else
                expand(g, &st->cur, &i, 1, 0);
        }
        if (g->el[i].type == GE_END) break;
    }
    return st;
}

void grammar_state_free(grammar_state *st)
{
    if (!st) return;
    set_free(&st->cur);
    set_free(&st->a);
    set_free(&st->b);
    free(st);
}

/* Runs the text from cur; the result is in *out (a or b), NULL when some
 * character has no way on. */
static stack_set *run(grammar_state *st, const char *s, size_t n)
{
    const stack_set *from = &st->cur;
    stack_set *to = &st->a;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        const size_t k = bn_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!k) return NULL;
        i += k;
        step(st->g, from, to, cp);
        if (!to->n) return NULL;
        from = to;
        to = to == &st->a ? &st->b : &st->a;
    }
    return (stack_set *)from;
}

int grammar_allows(grammar_state *st, const char *s, size_t n) { return run(st, s, n) != NULL; }

int grammar_accept(grammar_state *st, const char *s, size_t n)
{
    stack_set *r = run(st, s, n);
    if (!r) return -1;
    if (r != &st->cur) {
        const stack_set t = st->cur;
        st->cur = *r;
        *r = t;
    }
    return 0;
}

int grammar_can_end(const grammar_state *st)
{
    for (int i = 0; i < st->cur.n; i++)
        if (st->cur.len[i] == 0) return 1;
    return 0;
}

/* ------------------------------------------------------- token masks */

int grammar_tokens_init(grammar_tokens *gt, const grammar *g, const bn_tokenizer *tok)
{
    *gt = (grammar_tokens){.tok = tok};
    gt->st = grammar_start(g);
    const int n_vocab = bn_tokenizer_n_vocab(tok);
    gt->offsets = malloc(((size_t)n_vocab + 1) * sizeof *gt->offsets);
    gt->masked = malloc((size_t)n_vocab * sizeof *gt->masked);
    if (!gt->st || !gt->offsets || !gt->masked) return grammar_tokens_free(gt), -1;
    size_t total = 0;
    for (int i = 0; i < n_vocab; i++) {
        const int k = bn_token_to_piece(tok, i, 0, NULL, 0);
        total += k > 0 ? (size_t)k : 0;
    }
    gt->pieces = malloc(total + 1);
    if (!gt->pieces) return grammar_tokens_free(gt), -1;
    size_t at = 0;
    for (int i = 0; i < n_vocab; i++) {
        gt->offsets[i] = (int)at;
        const int k = bn_token_to_piece(tok, i, 0, gt->pieces + at, total - at);
        at += k > 0 ? (size_t)k : 0;
    }
    gt->offsets[n_vocab] = (int)at;
    return 0;
}

void grammar_tokens_free(grammar_tokens *gt)
{
    grammar_state_free(gt->st);
    free(gt->pieces);
    free(gt->offsets);
    free(gt->masked);
    *gt = (grammar_tokens){0};
}

int grammar_token_allowed(grammar_tokens *gt, int32_t id)
{
    if (bn_token_is_eog(gt->tok, id)) return grammar_can_end(gt->st);
    const int len = gt->offsets[id + 1] - gt->offsets[id];
    /* an empty piece (a control token) would slip past the grammar */
    return len > 0 && grammar_allows(gt->st, gt->pieces + gt->offsets[id], (size_t)len);
}

const float *grammar_mask(grammar_tokens *gt, const float *logits, int *n_allowed)
{
    const int n_vocab = bn_tokenizer_n_vocab(gt->tok);
    *n_allowed = 0;
    for (int i = 0; i < n_vocab; i++) {
        const int ok = grammar_token_allowed(gt, i);
        gt->masked[i] = ok ? logits[i] : -INFINITY;
        *n_allowed += ok && logits[i] > -INFINITY; /* -inf already: --ignore-eos */
    }
    return gt->masked;
}

void grammar_take(grammar_tokens *gt, int32_t id)
{
    if (bn_token_is_eog(gt->tok, id)) return;
    grammar_accept(gt->st, gt->pieces + gt->offsets[id],
                   (size_t)(gt->offsets[id + 1] - gt->offsets[id]));
}
