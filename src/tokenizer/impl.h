/*
 * impl.h - the tokenizer's internal data: struct bn_tokenizer and the
 * tables it holds, which every file of the tokenizer reads. Functions are
 * declared by the header of the file that defines them: load.h (building
 * and freeing), vocab.h (hash tables), merge.h (the merge loop), bpe.h and
 * spm.h (the two algorithms), grow.h (growable arrays).
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
    int add_eos;          /* tokenizer.ggml.add_eos_token (embedding models) */
    int add_space_prefix; /* SPM dummy prefix */
    int spm_word_chunks;  /* SPM: no piece joins a "▁" to a char before it */
    int32_t n_vocab;
    char *texts;         /* every token text, each NUL-terminated */
    bn_text_span *spans; /* per token: where its text is */
    uint8_t *types;      /* per token: BN_TT_* */
    float *scores;       /* per token (SPM merge priority) */
    bn_str_map map;
    bn_merge_table merges;      /* BPE */
    int32_t bos, eos, eot, unk; /* -1 when absent */
    int32_t *eog;               /* end-of-generation ids */
    int n_eog;
    int32_t *specials; /* partition candidates by rank: longest text first */
    int n_specials;
    int32_t *special_ranks_by_byte; /* ranks grouped by first byte, in rank order */
    uint32_t special_byte_start[BN_BYTE_VALUES + 1]; /* group bounds in the above */
    int32_t byte_token[BN_BYTE_VALUES];              /* SPM <0xXX> ids, -1 when absent */
    /* byte-level BPE map (docs/TOKENIZERS.md, Byte-to-character map):
     * byte -> UTF-8 of its stand-in char, and back from the stand-in code
     * point */
    char byte_char[BN_BYTE_VALUES][2];
    uint8_t byte_char_len[BN_BYTE_VALUES];
    int16_t char_byte[BN_BYTE_CHAR_END]; /* -1: not a stand-in */
};

static inline const char *bn_tok_text(const bn_tokenizer *t, int32_t id)
{
    return t->texts + t->spans[id].off;
}

static inline uint32_t bn_tok_len(const bn_tokenizer *t, int32_t id) { return t->spans[id].len; }

#endif
