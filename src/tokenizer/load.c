/*
 * load.c - builds a bn_tokenizer from the tokenizer.ggml.* keys of a GGUF
 * file (docs/TOKENIZERS.md: Vocabulary keys, Special tokens, and Choosing a
 * pre-tokenizer for a missing tokenizer.ggml.pre), and frees one.
 * Everything needed is copied, so the file may be closed afterwards.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "bpe.h"
#include "impl.h"
#include "spm.h"
#include "vocab.h"

#define MAX_TOKEN_LEN (1u << 20) /* longer token texts are rejected as corrupt */
#define MAX_TOKENS 0x7FFFFFF0u   /* ids and ranks must fit an int32_t */
#define MAX_SHOWN 64             /* buffer for a bad entry quoted (escaped) in an error */
#define MERGE_BATCH 64           /* merges looked up together (see parse_merges) */

typedef struct {
    const gguf_file *f;
    bn_tokenizer *t;
    char *err;
    size_t errlen;
} loader;

static int fail(loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(loader *ld, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err, ld->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static const struct {
    const char *name;
    bn_pre_type type;
} PRE_NAMES[] = {
    {"llama3", BN_PRE_LLAMA3},
    {"llama-bpe", BN_PRE_LLAMA3},
    {"llama-v3", BN_PRE_LLAMA3},
    /* Falcon3 and Falcon-E (Falcon-H1's tokenizer): mainline llama.cpp's
     * mapping, written by the models' authors, is the LLaMA-3 split
     * (docs/TOKENIZERS.md, Falcon) */
    {"falcon3", BN_PRE_LLAMA3},
    {"falcon_e", BN_PRE_LLAMA3},
    {"falcon-h1", BN_PRE_LLAMA3},
    {"qwen2", BN_PRE_QWEN2},
    {"gpt2", BN_PRE_GPT2},
    {"gpt-2", BN_PRE_GPT2},
    {"default", BN_PRE_DEFAULT},
};

int bn_pre_from_name(const char *name, size_t len, bn_pre_type *out)
{
    for (size_t i = 0; i < sizeof PRE_NAMES / sizeof PRE_NAMES[0]; i++) {
        if (strlen(PRE_NAMES[i].name) == len && !memcmp(PRE_NAMES[i].name, name, len)) {
            *out = PRE_NAMES[i].type;
            return 0;
        }
    }
    return -1;
}

/* ------------------------------------------------------------- tokens */

static int read_texts(loader *ld, const gguf_kv *kv)
{
    bn_tokenizer *t = ld->t;
    uint64_t n = kv->v.arr.count;
    if (n == 0 || n > MAX_TOKENS)
        return fail(ld, "tokenizer.ggml.tokens has %llu entries", (unsigned long long)n);
    gguf_str *s = malloc(n * sizeof *s);
    if (!s) return fail(ld, "out of memory");
    gguf_arr_strings(kv, s);
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (s[i].len > MAX_TOKEN_LEN) {
            unsigned long long len = s[i].len;
            free(s);
            return fail(ld, "token %llu is %llu bytes long", (unsigned long long)i, len);
        }
        total += s[i].len + 1;
    }
    t->n_vocab = (int32_t)n;
    t->texts = total <= UINT32_MAX ? malloc(total) : NULL; /* offsets are 32-bit */
    t->spans = malloc(n * sizeof *t->spans);
    if (!t->texts || !t->spans) {
        free(s);
        return fail(ld, "out of memory for %llu bytes of token texts", (unsigned long long)total);
    }
    uint32_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        t->spans[i].off = off;
        t->spans[i].len = (uint32_t)s[i].len;
        memcpy(t->texts + off, s[i].ptr, s[i].len);
        t->texts[off + s[i].len] = 0;
        off += (uint32_t)s[i].len + 1;
    }
    free(s);
    return 0;
}

/* An optional per-token array: 1 found (count checked), 0 absent, -1 error. */
static int per_token_array(loader *ld, const char *key, uint32_t type, const gguf_kv **kv)
{
    int r = gguf_get_arr(ld->f, key, type, kv);
    if (r < 0) return fail(ld, "%s has the wrong type", key);
    if (r > 0 && (*kv)->v.arr.count != (uint64_t)ld->t->n_vocab)
        return fail(ld, "%s has %llu entries for %d tokens", key,
                    (unsigned long long)(*kv)->v.arr.count, ld->t->n_vocab);
    return r;
}

static int read_types_and_scores(loader *ld)
{
    bn_tokenizer *t = ld->t;
    size_t n = (size_t)t->n_vocab;
    t->types = malloc(n);
    t->scores = calloc(n, sizeof *t->scores);
    if (!t->types || !t->scores) return fail(ld, "out of memory");
    memset(t->types, BN_TT_NORMAL, n); /* absent types: every token is normal */
    const gguf_kv *kv;
    int r = per_token_array(ld, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &kv);
    if (r < 0) return -1;
    for (size_t i = 0; r > 0 && i < n; i++) {
        int32_t v;
        memcpy(&v, kv->v.arr.data + i * sizeof v, sizeof v); /* unaligned little-endian */
        if (v < BN_TT_UNDEFINED || v > BN_TT_BYTE)
            return fail(ld, "token %zu has unknown token_type %d", i, (int)v);
        t->types[i] = (uint8_t)v;
    }
    r = per_token_array(ld, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, &kv);
    if (r < 0) return -1;
    if (r > 0) memcpy(t->scores, kv->v.arr.data, n * sizeof *t->scores);
    return 0;
}

/* ------------------------------------------------------------- merges */

/* A merge "left right" as its two parts and their hashes. */
typedef struct {
    const char *part[2];
    size_t len[2];
    uint32_t hash[2];
} merge_parts;

/* Splits at the first space after the first byte (a part never holds a
 * space: the byte map turned spaces into "Ġ"). */
static int split_merge(loader *ld, gguf_str m, uint64_t rank, merge_parts *p)
{
    const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
    char shown[MAX_SHOWN];
    if (!sp) { /* (fail() always returns -1; the analyzer does not follow varargs) */
        fail(ld, "merge %llu (\"%s\") has no space", (unsigned long long)rank,
             gguf_printable(m.ptr, m.len, shown, sizeof shown));
        return -1;
    }
    p->part[0] = m.ptr;
    p->len[0] = (size_t)(sp - m.ptr);
    p->part[1] = sp + 1;
    p->len[1] = m.len - p->len[0] - 1;
    for (int k = 0; k < 2; k++) {
        p->hash[k] = bn_hash_bytes(p->part[k], p->len[k]);
        bn_str_map_prefetch(&ld->t->map, p->hash[k]);
    }
    return 0;
}

/* Looks the parts of merges [first, first + n) up as token ids (-1 for a
 * part that is not a token: such a merge can never apply). The lookups
 * go in batches whose table slots are prefetched first: hundreds of
 * thousands of them would otherwise wait on memory one by one. */
static int parse_merges(loader *ld, const gguf_str *m, uint64_t first, size_t n,
                        int32_t (*pairs)[2])
{
    merge_parts parts[MERGE_BATCH];
    for (size_t j = 0; j < n; j++)
        if (split_merge(ld, m[j], first + j, &parts[j])) return -1;
    for (size_t j = 0; j < n; j++)
        for (int k = 0; k < 2; k++)
            pairs[j][k] = bn_str_map_find_hashed(&ld->t->map, ld->t, parts[j].part[k],
                                                 parts[j].len[k], parts[j].hash[k]);
    return 0;
}

static int read_merges(loader *ld)
{
    const gguf_kv *kv;
    int r = gguf_get_arr(ld->f, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &kv);
    if (r == 0) return fail(ld, "tokenizer.ggml.merges is missing (needed by a gpt2 tokenizer)");
    if (r < 0) return fail(ld, "tokenizer.ggml.merges has the wrong type");
    uint64_t n = kv->v.arr.count;
    if (n > MAX_TOKENS) return fail(ld, "tokenizer.ggml.merges has too many entries");
    gguf_str *m = malloc((n ? n : 1) * sizeof *m);
    int32_t(*pairs)[2] = malloc((n ? n : 1) * sizeof *pairs);
    if (!m || !pairs) {
        free(m);
        free(pairs);
        return fail(ld, "out of memory for %llu merges", (unsigned long long)n);
    }
    gguf_arr_strings(kv, m);
    int rc = 0;
    for (uint64_t i = 0; i < n && !rc; i += MERGE_BATCH)
        rc = parse_merges(ld, m + i, i, n - i < MERGE_BATCH ? (size_t)(n - i) : MERGE_BATCH,
                          pairs + i);
    if (!rc && bn_merge_table_build(&ld->t->merges, ld->t->n_vocab, (const int32_t(*)[2])pairs, n))
        rc = fail(ld, "out of memory for %llu merges", (unsigned long long)n);
    free(m);
    free(pairs);
    return rc;
}

/* ------------------------------------------------------- special ids */

static int read_token_id(loader *ld, const char *key, int32_t *id)
{
    uint32_t v;
    int r = gguf_get_u32(ld->f, key, &v);
    if (r < 0) return fail(ld, "%s has the wrong type", key);
    if (r > 0 && v >= (uint32_t)ld->t->n_vocab)
        return fail(ld, "%s = %u is not below the vocabulary size %d", key, v, ld->t->n_vocab);
    *id = r > 0 ? (int32_t)v : -1;
    return 0;
}

static int read_flag(loader *ld, const char *key, int *flag)
{
    int v, r = gguf_get_bool(ld->f, key, &v);
    if (r < 0) return fail(ld, "%s has the wrong type", key);
    if (r > 0) *flag = v;
    return 0;
}

/* A token with this exact text that is not an ordinary word piece (so a
 * "</s>" that happens to be normal text in a BPE vocabulary is not one). */
static int32_t find_special(const bn_tokenizer *t, const char *text)
{
    int32_t id = bn_str_map_find(&t->map, t, text, strlen(text));
    return id >= 0 && t->types[id] != BN_TT_NORMAL ? id : -1;
}

/* End-of-generation texts (docs/TOKENIZERS.md, Special tokens;
 * llama.cpp's EOG detection). */
static const char *const EOG_TEXTS[] = {"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>",
                                        "<|im_end|>", "</s>",       "<|endoftext|>"};
#define N_EOG_TEXTS (sizeof EOG_TEXTS / sizeof EOG_TEXTS[0])
#define MAX_EOG (N_EOG_TEXTS + 2) /* the texts, EOS and EOT */

static void add_eog(bn_tokenizer *t, int32_t id)
{
    if (id < 0) return;
    for (int i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return;
    t->eog[t->n_eog++] = id;
}

static int read_special_ids(loader *ld)
{
    bn_tokenizer *t = ld->t;
    if (read_token_id(ld, "tokenizer.ggml.bos_token_id", &t->bos) ||
        read_token_id(ld, "tokenizer.ggml.eos_token_id", &t->eos) ||
        read_token_id(ld, "tokenizer.ggml.unknown_token_id", &t->unk) ||
        read_token_id(ld, "tokenizer.ggml.eot_token_id", &t->eot))
        return -1;
    if (t->eot < 0) t->eot = find_special(t, "<|eot_id|>");
    t->eog = malloc(MAX_EOG * sizeof *t->eog);
    if (!t->eog) return fail(ld, "out of memory");
    t->n_eog = 0;
    add_eog(t, t->eos);
    add_eog(t, t->eot);
    for (size_t i = 0; i < N_EOG_TEXTS; i++) add_eog(t, find_special(t, EOG_TEXTS[i]));
    return 0;
}

/* SentencePiece byte-fallback tokens <0x00>..<0xFF>. */
static void find_byte_tokens(bn_tokenizer *t)
{
    for (unsigned b = 0; b < BN_BYTE_VALUES; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        int32_t id = bn_str_map_find(&t->map, t, name, strlen(name));
        t->byte_token[b] = id; /* by text, as llama.cpp's llama_byte_to_token */
    }
}

/* ------------------------------------------------------ special texts */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static unsigned char first_byte(const bn_tokenizer *t, int32_t id)
{
    return (unsigned char)bn_tok_text(t, id)[0];
}

/* Counting sort of the ranks by the first byte of their text (stable, so
 * each group stays in rank order): the partition tries only the group of
 * the byte at hand. */
static int group_specials_by_byte(loader *ld)
{
    bn_tokenizer *t = ld->t;
    uint32_t *start = t->special_byte_start;
    t->special_ranks_by_byte = malloc(((size_t)t->n_specials + 1) * sizeof(int32_t));
    if (!t->special_ranks_by_byte) return fail(ld, "out of memory");
    for (int r = 0; r < t->n_specials; r++) start[first_byte(t, t->specials[r]) + 1]++;
    for (unsigned b = 0; b < BN_BYTE_VALUES; b++) start[b + 1] += start[b];
    uint32_t fill[BN_BYTE_VALUES];
    memcpy(fill, start, sizeof fill);
    for (int r = 0; r < t->n_specials; r++)
        t->special_ranks_by_byte[fill[first_byte(t, t->specials[r])]++] = r;
    return 0;
}

/* Tokens whose text is cut out of the input before BPE/SPM (docs/TOKENIZERS.md,
 * Special tokens):
 * control, user-defined and unknown ones with a non-empty text. */
static int collect_specials(loader *ld)
{
    bn_tokenizer *t = ld->t;
    t->specials = malloc((size_t)t->n_vocab * sizeof *t->specials);
    uint64_t *keys = malloc((size_t)t->n_vocab * sizeof *keys);
    if (!t->specials || !keys) {
        free(keys);
        return fail(ld, "out of memory");
    }
    for (int32_t id = 0; id < t->n_vocab; id++) {
        uint8_t type = t->types[id];
        uint32_t len = bn_tok_len(t, id);
        /* longest text first (llama.cpp's cache_special_tokens), then lower id */
        if ((type == BN_TT_CONTROL || type == BN_TT_USER_DEFINED || type == BN_TT_UNKNOWN) && len)
            keys[t->n_specials++] = (uint64_t)(MAX_TOKEN_LEN - len) << 32 | (uint32_t)id;
    }
    qsort(keys, (size_t)t->n_specials, sizeof *keys, cmp_u64);
    for (int i = 0; i < t->n_specials; i++) t->specials[i] = (int32_t)(uint32_t)keys[i];
    free(keys);
    return group_specials_by_byte(ld);
}

/* ---------------------------------------------------------- the model */

/* The first n bytes of token id's text equal p[0..n). */
static int text_starts_with(const bn_tokenizer *t, int32_t id, const char *p, uint32_t n)
{
    return bn_tok_len(t, id) >= n && !memcmp(bn_tok_text(t, id), p, n);
}

/* Converters of late 2024 to mid 2026 stored each added token as
 * decode(encode(text)), which puts the BOS text in front of it when the
 * tokenizer adds one: "<|begin_of_text|><|eot_id|>", and the BOS itself
 * twice. Such a BOS is the sign: every control or user-defined token
 * loses the prefix again, so prompts and end-of-turn detection find them
 * by their real text (docs/TOKENIZERS.md, Special tokens). */
static int unprefix_specials(loader *ld)
{
    bn_tokenizer *t = ld->t;
    int32_t bos = -1;
    if (read_token_id(ld, "tokenizer.ggml.bos_token_id", &bos)) return -1;
    if (bos < 0) return 0;
    const uint32_t n = bn_tok_len(t, bos) / 2;
    const char *text = bn_tok_text(t, bos);
    if (!n || bn_tok_len(t, bos) != 2 * n || memcmp(text, text + n, n)) return 0;
    char *prefix = malloc(n);
    if (!prefix) return fail(ld, "out of memory");
    memcpy(prefix, text, n);
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->types[id] != BN_TT_NORMAL && bn_tok_len(t, id) > n &&
            text_starts_with(t, id, prefix, n)) {
            t->spans[id].off += n;
            t->spans[id].len -= n;
        }
    free(prefix);
    return 0;
}

/* tokenizer.ggml.pre, or the split to use when it is absent: LLaMA-3's for
 * the LLaMA-3 vocabulary, else GPT-2's (docs/TOKENIZERS.md, Choosing a
 * pre-tokenizer). */
static int choose_pre(loader *ld)
{
    bn_tokenizer *t = ld->t;
    gguf_str pre;
    int r = gguf_get_str(ld->f, "tokenizer.ggml.pre", &pre);
    if (r < 0) return fail(ld, "tokenizer.ggml.pre has the wrong type");
    if (r == 0) {
        t->pre = find_special(t, "<|begin_of_text|>") >= 0 ? BN_PRE_LLAMA3 : BN_PRE_GPT2;
        return 0;
    }
    char shown[MAX_SHOWN];
    if (bn_pre_from_name(pre.ptr, pre.len, &t->pre))
        return fail(ld, "unsupported pre-tokenizer '%s' (known: %s)",
                    gguf_printable(pre.ptr, pre.len, shown, sizeof shown),
                    "llama-bpe, llama3, falcon3, falcon_e, qwen2, gpt-2, default");
    return 0;
}

static int read_model(loader *ld)
{
    bn_tokenizer *t = ld->t;
    gguf_str model;
    int r = gguf_get_str(ld->f, "tokenizer.ggml.model", &model);
    if (r == 0) return fail(ld, "no tokenizer in the file (tokenizer.ggml.model is missing)");
    if (r < 0) return fail(ld, "tokenizer.ggml.model has the wrong type");
    char shown[MAX_SHOWN];
    if (gguf_str_eq(model, "gpt2"))
        t->kind = BN_VOCAB_BPE;
    else if (gguf_str_eq(model, "llama"))
        t->kind = BN_VOCAB_SPM;
    else
        return fail(ld, "unsupported tokenizer model '%s' (known: gpt2, llama)",
                    gguf_printable(model.ptr, model.len, shown, sizeof shown));
    const gguf_kv *kv;
    r = gguf_get_arr(ld->f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &kv);
    if (r == 0) return fail(ld, "tokenizer.ggml.tokens is missing");
    if (r < 0) return fail(ld, "tokenizer.ggml.tokens has the wrong type");
    if (read_texts(ld, kv) || read_types_and_scores(ld) || unprefix_specials(ld)) return -1;
    if (bn_str_map_build(&t->map, t)) return fail(ld, "out of memory");
    return 0;
}

/* BOS defaults: SentencePiece and the LLaMA-3 split add it (llama.cpp),
 * other BPE vocabularies do not; tokenizer.ggml.add_bos_token overrides. */
static int read_options(loader *ld)
{
    bn_tokenizer *t = ld->t;
    int spm = t->kind == BN_VOCAB_SPM;
    t->add_bos = spm || t->pre == BN_PRE_LLAMA3;
    t->add_space_prefix = spm;
    if (read_flag(ld, "tokenizer.ggml.add_bos_token", &t->add_bos) ||
        read_flag(ld, "tokenizer.ggml.add_eos_token", &t->add_eos))
        return -1;
    return spm ? read_flag(ld, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix) : 0;
}

static int load(loader *ld)
{
    bn_tokenizer *t = ld->t;
    if (read_model(ld)) return -1;
    if (t->kind == BN_VOCAB_BPE) {
        bn_bpe_init_byte_map(t);
        if (read_merges(ld) || choose_pre(ld)) return -1;
    } else {
        find_byte_tokens(t);
        bn_spm_init(t);
    }
    return read_options(ld) || read_special_ids(ld) || collect_specials(ld) ? -1 : 0;
}

bn_tokenizer *bn_tokenizer_from_gguf(const gguf_file *f, char *err, size_t errlen)
{
    bn_tokenizer *t = calloc(1, sizeof *t);
    loader ld = {f, t, err, errlen};
    if (!t) {
        fail(&ld, "out of memory");
        return NULL;
    }
    t->bos = t->eos = t->eot = t->unk = -1;
    for (unsigned b = 0; b < BN_BYTE_VALUES; b++) t->byte_token[b] = -1;
    if (load(&ld)) {
        bn_tokenizer_free(t);
        return NULL;
    }
    return t;
}

void bn_tokenizer_free(bn_tokenizer *t)
{
    if (!t) return;
    free(t->texts);
    free(t->spans);
    free(t->types);
    free(t->scores);
    bn_str_map_free(&t->map);
    bn_merge_table_free(&t->merges);
    free(t->eog);
    free(t->specials);
    free(t->special_ranks_by_byte);
    free(t);
}
