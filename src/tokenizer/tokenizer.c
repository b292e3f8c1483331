/*
 * tokenizer.c - the public tokenizer API (include/bitnet.h): loading a
 * vocabulary file, tokenizing with special-token partition and BOS
 * (docs/TOKENIZERS.md, Special tokens), decoding ids back to bytes, and the queries.
 *
 * The work itself lives in load.c (GGUF keys; building and freeing a
 * tokenizer), bpe.c and spm.c (the two algorithms), merge.c (their shared
 * merge loop), vocab.c (hash tables), pretokenize.c (splits) and grow.c
 * (growable arrays).
 *
 * Invalid UTF-8 in the input is never an error: for byte-level BPE each
 * offending byte becomes U+FFFD (as llama.cpp does); SentencePiece keeps
 * the byte exactly through its <0xXX> byte tokens. NUL bytes are ordinary
 * text (the length delimits it).
 *
 * Special tokens (docs/TOKENIZERS.md, Special tokens): with
 * BN_TOK_PARSE_SPECIAL the texts of control, user-defined and unknown
 * tokens become those tokens; without it only user-defined ones do (none
 * exist in the LLaMA vocabularies), as in llama.cpp's
 * tokenizer_st_partition.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "bpe.h"
#include "grow.h"
#include "impl.h"
#include "load.h"
#include "spm.h"
#include "unicode.h"
#include "vocab.h"

/* Longest input bn_tokenize takes: each byte gives at most a few ids
 * (U+FFFD or byte fallback), and the count must fit an int. */
#define MAX_TEXT_LEN ((size_t)INT_MAX / 4)
#define INITIAL_IDS 16

static const char UNKNOWN_PIECE[] = "\xE2\x96\x85"; /* "▅", llama.cpp's text for <unk> */

static void set_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char *err, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, BN_ERR_LEN, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ loading */

bn_tokenizer *bn_tokenizer_load(const char *path, char err[BN_ERR_LEN])
{
    char msg[BN_ERR_LEN];
    gguf_file *f = gguf_open(path, msg, sizeof msg);
    if (!f) {
        set_err(err, "%s: %s", path, msg);
        return NULL;
    }
    bn_tokenizer *t = bn_tokenizer_from_gguf(f, msg, sizeof msg);
    if (!t) set_err(err, "%s: %s", path, msg);
    gguf_close(f);
    return t;
}

/* ------------------------------------------------------------ queries */

int bn_tokenizer_set_pre(bn_tokenizer *t, const char *name)
{
    bn_pre_type pre;
    if (!t || !name || t->kind != BN_VOCAB_BPE || bn_pre_from_name(name, strlen(name), &pre))
        return -1;
    t->pre = pre;
    return 0;
}

const char *bn_tokenizer_pre_name(const bn_tokenizer *t)
{
    if (t->kind != BN_VOCAB_BPE) return "none";
    switch (t->pre) {
    case BN_PRE_LLAMA3: return "llama3";
    case BN_PRE_GPT2: return "gpt2";
    case BN_PRE_QWEN2: return "qwen2";
    case BN_PRE_DEFAULT: return "default";
    }
    return "none";
}

const char *bn_tokenizer_model_name(const bn_tokenizer *t)
{
    return t->kind == BN_VOCAB_BPE ? "gpt2" : "llama";
}

int bn_tokenizer_n_vocab(const bn_tokenizer *t) { return t->n_vocab; }
int32_t bn_token_bos(const bn_tokenizer *t) { return t->bos; }
int32_t bn_token_eos(const bn_tokenizer *t) { return t->eos; }
int32_t bn_token_eot(const bn_tokenizer *t) { return t->eot; }

static int valid_id(const bn_tokenizer *t, int32_t id) { return id >= 0 && id < t->n_vocab; }

const char *bn_token_text(const bn_tokenizer *t, int32_t id)
{
    return valid_id(t, id) ? bn_tok_text(t, id) : NULL;
}

int bn_token_is_eog(const bn_tokenizer *t, int32_t id)
{
    for (int i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return 1;
    return 0;
}

int32_t bn_token_lookup(const bn_tokenizer *t, const char *text, size_t len)
{
    return text ? bn_str_map_find(&t->map, t, text, len) : -1;
}

/* ------------------------------------------------- special-token split */

typedef struct {
    size_t pos;
    uint32_t len;
    int32_t rank; /* index into t->specials */
} special_hit;

typedef struct {
    special_hit *v;
    size_t n, cap;
} hit_list;

static int hits_push(hit_list *h, special_hit hit)
{
    special_hit *v = bn_grow(h->v, &h->cap, h->n + 1, sizeof *v);
    if (!v) return -1;
    h->v = v;
    v[h->n++] = hit;
    return 0;
}

/* Without parse_special only user-defined tokens are cut out (llama.cpp). */
static int special_allowed(const bn_tokenizer *t, int32_t id, int parse_special)
{
    return parse_special || t->types[id] == BN_TT_USER_DEFINED;
}

/* Every occurrence of every allowed special text, overlapping or not. */
static int find_occurrences(const bn_tokenizer *t, const char *text, size_t len, int parse_special,
                            hit_list *hits)
{
    for (size_t pos = 0; pos < len; pos++) {
        unsigned char b = (unsigned char)text[pos];
        for (uint32_t k = t->special_byte_start[b]; k < t->special_byte_start[b + 1]; k++) {
            int32_t rank = t->special_ranks_by_byte[k];
            int32_t id = t->specials[rank];
            uint32_t n = bn_tok_len(t, id);
            if (n <= len - pos && special_allowed(t, id, parse_special) &&
                !memcmp(text + pos, bn_tok_text(t, id), n)) {
                special_hit hit = {pos, n, rank};
                if (hits_push(hits, hit)) return -1;
            }
        }
    }
    return 0;
}

static int cmp_rank_pos(const void *a, const void *b)
{
    const special_hit *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_pos(const void *a, const void *b)
{
    const special_hit *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The special tokens that cut the text, by position. Same result as
 * llama.cpp's tokenizer_st_partition: tokens in rank order (longest text
 * first), each taking its leftmost non-overlapping occurrences in the text
 * that no earlier token took. */
static int partition(const bn_tokenizer *t, const char *text, size_t len, int parse_special,
                     hit_list *out)
{
    if (find_occurrences(t, text, len, parse_special, out)) return -1;
    if (!out->n) return 0;
    uint8_t *taken = calloc(len, 1);
    if (!taken) return -1;
    qsort(out->v, out->n, sizeof *out->v, cmp_rank_pos);
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++) {
        special_hit h = out->v[i];
        if (memchr(taken + h.pos, 1, h.len)) continue;
        memset(taken + h.pos, 1, h.len);
        out->v[kept++] = h;
    }
    free(taken);
    out->n = kept;
    qsort(out->v, out->n, sizeof *out->v, cmp_pos);
    return 0;
}

/* ---------------------------------------------------------- tokenizing */

static int tokenize_raw(const bn_tokenizer *t, const char *text, size_t len, int after_special,
                        bn_id_list *out)
{
    if (t->kind == BN_VOCAB_BPE) return bn_bpe_tokenize(t, text, len, out);
    /* SPM: the dummy space goes before text that starts the input or
     * follows a special token (llama.cpp's is_prev_special) */
    return bn_spm_tokenize(t, text, len, t->add_space_prefix && after_special, out);
}

static int tokenize_all(const bn_tokenizer *t, const char *text, size_t len, int flags,
                        bn_id_list *out)
{
    hit_list hits = {0};
    int rc = partition(t, text, len, (flags & BN_TOK_PARSE_SPECIAL) != 0, &hits);
    if (!rc && (flags & BN_TOK_ADD_BOS) && t->add_bos && t->bos >= 0) rc = bn_ids_push(out, t->bos);
    size_t prev = 0;
    int after_special = 1;
    for (size_t i = 0; !rc && i <= hits.n; i++) {
        size_t end = i < hits.n ? hits.v[i].pos : len;
        if (end > prev) {
            rc = tokenize_raw(t, text + prev, end - prev, after_special, out);
            after_special = 0;
        }
        if (!rc && i < hits.n) {
            rc = bn_ids_push(out, t->specials[hits.v[i].rank]);
            after_special = 1;
            prev = end + hits.v[i].len;
        }
    }
    if (!rc && (flags & BN_TOK_ADD_EOS) && t->add_eos && t->eos >= 0) rc = bn_ids_push(out, t->eos);
    free(hits.v);
    return rc;
}

int bn_tokenize(const bn_tokenizer *t, const char *text, size_t len, int flags, int32_t **ids,
                char err[BN_ERR_LEN])
{
    if (!t || !ids || (!text && len)) {
        set_err(err, "bn_tokenize: missing tokenizer, text or output");
        return -1;
    }
    *ids = NULL;
    if (len > MAX_TEXT_LEN) {
        set_err(err, "text of %zu bytes is longer than the %zu bytes the tokenizer takes", len,
                MAX_TEXT_LEN);
        return -1;
    }
    bn_id_list out = {malloc(INITIAL_IDS * sizeof(int32_t)), 0, INITIAL_IDS};
    if (!out.v || tokenize_all(t, text, len, flags, &out)) {
        free(out.v);
        set_err(err, "out of memory while tokenizing %zu bytes", len);
        return -1;
    }
    *ids = out.v;
    return (int)out.n;
}

/* ------------------------------------------------------------ decoding */

/* Collects output bytes up to cap while counting all of them. */
typedef struct {
    char *buf;
    size_t cap, n;
    int strip_space; /* drop one leading ' ' (SPM dummy prefix) */
} sink;

static void put(sink *s, const char *p, size_t len)
{
    if (s->strip_space && len) {
        if (*p == ' ') p++, len--;
        s->strip_space = 0;
    }
    if (s->n < s->cap) memcpy(s->buf + s->n, p, len < s->cap - s->n ? len : s->cap - s->n);
    s->n += len;
}

/* Byte-level BPE: every char of the text stands for one byte (docs/TOKENIZERS.md,
 * Byte-to-character map). */
static void put_byte_level(const bn_tokenizer *t, const char *text, size_t len, sink *s)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = bn_utf8_decode((const unsigned char *)text + i, len - i, &cp);
        int b = n ? bn_bpe_char_to_byte(t, cp) : -1;
        if (b >= 0) {
            char c = (char)b;
            put(s, &c, 1);
        } else { /* not of the byte alphabet: copied as it is */
            n = n ? n : 1;
            put(s, text + i, n);
        }
        i += n;
    }
}

/* SentencePiece: "▁" stands for a space. */
static void put_unescaped(const char *text, size_t len, sink *s)
{
    size_t start = 0;
    for (size_t i = 0; i + BN_SPACE_MARK_LEN <= len;) {
        if (memcmp(text + i, BN_SPACE_MARK, BN_SPACE_MARK_LEN)) {
            i++;
            continue;
        }
        put(s, text + start, i - start);
        put(s, " ", 1);
        i += BN_SPACE_MARK_LEN;
        start = i;
    }
    put(s, text + start, len - start);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* "<0xXX>" -> the byte, or -1. */
static int parse_byte_token(const char *text, size_t len)
{
    if (len != sizeof "<0x00>" - 1 || memcmp(text, "<0x", 3) || text[5] != '>') return -1;
    int hi = hex_digit(text[3]), lo = hex_digit(text[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static void put_bpe_piece(const bn_tokenizer *t, int32_t id, int special, sink *s)
{
    const char *text = bn_tok_text(t, id);
    size_t len = bn_tok_len(t, id);
    uint8_t type = t->types[id];
    if (type == BN_TT_NORMAL || type == BN_TT_UNDEFINED)
        put_byte_level(t, text, len, s);
    else if (type == BN_TT_USER_DEFINED || special)
        put(s, text, len);
}

static void put_spm_piece(const bn_tokenizer *t, int32_t id, int special, sink *s)
{
    const char *text = bn_tok_text(t, id);
    size_t len = bn_tok_len(t, id);
    uint8_t type = t->types[id];
    int byte = type == BN_TT_BYTE ? parse_byte_token(text, len) : -1;
    if (byte >= 0) {
        char c = (char)byte;
        put(s, &c, 1);
    } else if (type == BN_TT_UNKNOWN) {
        put(s, UNKNOWN_PIECE, sizeof UNKNOWN_PIECE - 1);
    } else if (type == BN_TT_CONTROL) {
        if (special) put(s, text, len);
    } else if (type != BN_TT_UNUSED) { /* normal, user-defined, odd byte tokens */
        put_unescaped(text, len, s);
    }
}

static void put_piece(const bn_tokenizer *t, int32_t id, int special, sink *s)
{
    if (t->kind == BN_VOCAB_BPE)
        put_bpe_piece(t, id, special, s);
    else
        put_spm_piece(t, id, special, s);
}

int bn_token_to_piece(const bn_tokenizer *t, int32_t id, int special, char *buf, size_t cap)
{
    if (!valid_id(t, id)) return -1;
    sink s = {buf, buf ? cap : 0, 0, 0};
    put_piece(t, id, special, &s);
    return s.n > INT_MAX ? -1 : (int)s.n;
}

int bn_detokenize(const bn_tokenizer *t, const int32_t *ids, int n, int special, char *buf,
                  size_t cap)
{
    sink s = {buf, buf ? cap : 0, 0, t->add_space_prefix};
    for (int i = 0; i < n; i++) {
        if (!valid_id(t, ids[i])) return -1;
        put_piece(t, ids[i], special, &s);
        s.strip_space = 0; /* only the first piece loses its space */
        if (s.n > INT_MAX) return -1;
    }
    return (int)s.n;
}

size_t bn_utf8_complete_prefix(const char *buf, size_t len)
{
    /* find the lead byte of the last sequence within its longest length */
    for (size_t back = 1; back <= len && back <= BN_UTF8_MAX; back++) {
        unsigned char b = (unsigned char)buf[len - back];
        if ((b & 0xC0) == 0x80) continue; /* continuation byte */
        size_t need = bn_utf8_seq_len(b); /* 0: invalid, passed on as it is */
        return need > back ? len - back : len;
    }
    return len;
}
