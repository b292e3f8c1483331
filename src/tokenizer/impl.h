/*
 * impl.h - the tokenizer's internal data and the functions its
 * source files share: tokenizer.c (loading, public API, special tokens,
 * decoding), vocab.c (hash tables), bpe.c (byte-level BPE,
 * docs/TOKENIZERS.md, Byte-level BPE), spm.c (docs/TOKENIZERS.md,
 * SentencePiece).
 */
#ifndef BN_TOKENIZER_IMPL_H
#define BN_TOKENIZER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "bitnet.h"
#include "pretokenize.h"

/* tokenizer.ggml.token_type values (docs/TOKENIZERS.md, Token types). */
enum {
    BN_TT_UNDEFINED = 0,
    BN_TT_NORMAL = 1,
    BN_TT_UNKNOWN = 2,
    BN_TT_CONTROL = 3,
    BN_TT_USER_DEFINED = 4,
    BN_TT_UNUSED = 5,
    BN_TT_BYTE = 6,
};

typedef enum { BN_VOCAB_BPE, BN_VOCAB_SPM } bn_vocab_kind;

#define BN_BYTE_VALUES 256
#define BN_SPACE_MARK "\xE2\x96\x81" /* U+2581 "▁": a space in SentencePiece pieces */
#define BN_SPACE_MARK_LEN (sizeof BN_SPACE_MARK - 1)
/* Stand-ins are below U+0144 (docs/TOKENIZERS.md, Byte-to-character map). */
#define BN_BYTE_CHAR_END 0x144

/* token text -> id (open addressing; the texts live in the tokenizer). */
typedef struct {
    uint32_t hash;
    int32_t id; /* -1 = empty slot */
} bn_str_slot;

typedef struct {
    bn_str_slot *slots;
    size_t mask; /* slots - 1 (a power of two) */
} bn_str_map;

/* (left id, right id) -> merge rank (docs/TOKENIZERS.md, BPE merges), as
 * rows per left id. */
typedef struct {
    int32_t right, rank;
} bn_merge_entry;

typedef struct {
    uint32_t *row_start;     /* n_vocab + 1 bounds into entries */
    bn_merge_entry *entries; /* each row sorted by right id, then rank */
} bn_merge_table;

typedef struct {
    uint32_t off, len; /* into texts; len without the NUL */
} bn_text_span;

struct bn_tokenizer {
    bn_vocab_kind kind;
    bn_pre_type pre; /* BPE only */
    int add_bos;
    int add_space_prefix; /* SPM dummy prefix */
    int spm_word_chunks;  /* SPM: no piece joins a "▁" to a char before it */
    int32_t n_vocab;
    char *texts;           /* every token text, each NUL-terminated */
    bn_text_span *spans;   /* per token: where its text is */
    uint8_t *types;        /* per token: BN_TT_* */
    float *scores;         /* per token (SPM merge priority) */
    bn_str_map map;
    bn_merge_table merges; /* BPE */
    int32_t bos, eos, eot, unk; /* -1 when absent */
    int32_t *eog;          /* end-of-generation ids */
    int n_eog;
    int32_t *specials;     /* partition candidates by rank: longest text first */
    int n_specials;
    int32_t *special_ranks_by_byte; /* ranks grouped by first byte, in rank order */
    uint32_t special_byte_start[BN_BYTE_VALUES + 1]; /* group bounds in the above */
    int32_t byte_token[BN_BYTE_VALUES]; /* SPM <0xXX> ids, -1 when absent */
    /* byte-level BPE map (docs/TOKENIZERS.md, Byte-to-character map):
     * byte -> UTF-8 of its stand-in char, and back from the stand-in code
     * point */
    char byte_char[BN_BYTE_VALUES][2];
    uint8_t byte_char_len[BN_BYTE_VALUES];
    int16_t char_byte[BN_BYTE_CHAR_END]; /* -1: not a stand-in */
};

/* Growable list of output ids. */
typedef struct {
    int32_t *v;
    size_t n, cap;
} bn_id_list;

int bn_ids_push(bn_id_list *ids, int32_t id); /* 0, or -1 when out of memory */

static inline const char *bn_tok_text(const bn_tokenizer *t, int32_t id)
{
    return t->texts + t->spans[id].off;
}

static inline uint32_t bn_tok_len(const bn_tokenizer *t, int32_t id) { return t->spans[id].len; }

/* load.c: a pre-tokenizer by name (llama3/llama-bpe, gpt2/gpt-2,
 * default); 0, or -1 when unknown. */
int bn_pre_from_name(const char *name, size_t len, bn_pre_type *out);

/* vocab.c */
uint32_t bn_hash_bytes(const char *s, size_t len);
int bn_str_map_build(bn_str_map *m, const bn_tokenizer *t); /* 0 or -1 (memory) */
void bn_str_map_free(bn_str_map *m);
int32_t bn_str_map_find(const bn_str_map *m, const bn_tokenizer *t, const char *s, size_t len);
/* The same with the hash of s already known (bn_hash_bytes). */
int32_t bn_str_map_find_hashed(const bn_str_map *m, const bn_tokenizer *t, const char *s,
                               size_t len, uint32_t hash);
/* Asks the CPU to fetch the slot of a hash ahead of a lookup (a hint only). */
void bn_str_map_prefetch(const bn_str_map *m, uint32_t hash);
/* Builds the table from pairs[rank] = {left, right} (entries with a
 * negative id are skipped); 0 or -1 (memory). */
int bn_merge_table_build(bn_merge_table *m, int32_t n_vocab, const int32_t (*pairs)[2],
                         size_t n_pairs);
void bn_merge_table_free(bn_merge_table *m);
/* The lowest rank of the merge left+right, or -1 when there is none. */
int32_t bn_merge_rank(const bn_merge_table *m, int32_t left, int32_t right);

/* merge.c: the merge loop both BPE and SentencePiece use. A word
 * is split into symbols (one per UTF-8 character, or per invalid byte);
 * adjacent pairs that a rater accepts are queued by key, the lowest key
 * first and ties to the leftmost pair, and merged until none is left. */
typedef struct {
    uint32_t off, len; /* bytes of the word; len 0 = merged into its left */
    int32_t id;        /* token of the text, -1 when it is not one */
    int32_t prev, next;
} bn_symbol;

typedef struct {
    double key; /* BPE: merge rank; SPM: minus the token score */
    int32_t left, right, merged;
    uint32_t size; /* bytes of left + right when queued, to spot stale pairs */
} bn_pair;

/* Says whether l+r may merge: 1 with *key and *merged (the new id) set, else 0. */
typedef int (*bn_pair_rater)(void *ctx, const char *word, const bn_symbol *l, const bn_symbol *r,
                             double *key, int32_t *merged);

typedef struct {
    bn_symbol *sym; /* the chain starts at sym[0] */
    size_t sym_cap;
    bn_pair *heap;
    size_t heap_n, heap_cap;
} bn_merger;

/* Splits word into symbols (an empty word: one empty symbol, id -1) and
 * merges them; 0 or -1 (memory). */
int bn_merge_word(bn_merger *m, const bn_tokenizer *t, const char *word, size_t len,
                  bn_pair_rater rate, void *ctx);
void bn_merger_free(bn_merger *m);
/* Makes room for n elements of size elem: returns buf or its reallocated
 * copy (updating *cap), or NULL when out of memory (buf is then untouched). */
void *bn_grow(void *buf, size_t *cap, size_t n, size_t elem);

/* bpe.c */
void bn_bpe_init_byte_map(bn_tokenizer *t);
/* Byte value of a code point of the byte-level alphabet, or -1. */
int bn_bpe_char_to_byte(const bn_tokenizer *t, uint32_t cp);
/* Tokenizes one fragment of raw text (no special tokens inside). */
int bn_bpe_tokenize(const bn_tokenizer *t, const char *text, size_t len, bn_id_list *out);

/* spm.c */
/* Decides spm_word_chunks from the pieces (at load). */
void bn_spm_init(bn_tokenizer *t);
int bn_spm_tokenize(const bn_tokenizer *t, const char *text, size_t len, int space_prefix,
                    bn_id_list *out);

#endif
