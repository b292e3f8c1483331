/*
 * spm.c - SentencePiece tokenization (tokenizer.ggml.model "llama") as
 * llama.cpp's llm_tokenizer_spm does it (docs/TOKENIZERS.md,
 * SentencePiece): optional dummy space prefix, " " -> "▁", then merge the
 * adjacent pair whose concatenation is a token with the highest score (ties
 * leftmost); what is left that is not a token falls back to <0xXX> byte
 * tokens.
 *
 * Like SentencePiece itself, merges and lookups only consider pieces of
 * type normal or user-defined (never control, unknown, byte or unused).
 * Invalid UTF-8 bytes are single symbols and so become byte tokens: the
 * input is kept exactly.
 */
#include <stdlib.h>
#include <string.h>

#include "spm.h"
#include "grow.h"
#include "merge.h"
#include "vocab.h"

static int piece_usable(const bn_tokenizer *t, int32_t id)
{
    if (id < 0) return 0;
    uint8_t type = t->types[id];
    return type == BN_TT_NORMAL || type == BN_TT_USER_DEFINED || type == BN_TT_UNDEFINED;
}

static int32_t find_piece(const bn_tokenizer *t, const char *s, size_t len)
{
    int32_t id = bn_str_map_find(&t->map, t, s, len);
    return piece_usable(t, id) ? id : -1;
}

static int rate_pair(void *ctx, const char *word, const bn_symbol *l, const bn_symbol *r,
                     double *key, int32_t *merged)
{
    const bn_tokenizer *t = ctx;
    int32_t id = find_piece(t, word + l->off, l->len + r->len);
    if (id < 0) return 0;
    *key = -(double)t->scores[id]; /* highest score first */
    *merged = id;
    return 1;
}

/* Bytes of a symbol that is not a piece: <0xXX> tokens, else the unknown
 * token, else nothing (a vocabulary without either cannot say more). */
static int emit_bytes(const bn_tokenizer *t, const char *s, size_t len, bn_id_list *out)
{
    for (size_t i = 0; i < len; i++) {
        int32_t id = t->byte_token[(unsigned char)s[i]];
        if (id < 0) id = t->unk;
        if (id >= 0 && bn_ids_push(out, id)) return -1;
    }
    return 0;
}

/* The text with the optional dummy prefix and every " " as "▁". */
static char *escape_spaces(const char *text, size_t len, int space_prefix, size_t *out_len)
{
    char *s = malloc((len + 1) * BN_SPACE_MARK_LEN);
    if (!s) return NULL;
    size_t n = 0;
    if (space_prefix) {
        memcpy(s, BN_SPACE_MARK, BN_SPACE_MARK_LEN);
        n = BN_SPACE_MARK_LEN;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s + n, BN_SPACE_MARK, BN_SPACE_MARK_LEN);
            n += BN_SPACE_MARK_LEN;
        } else {
            s[n++] = text[i];
        }
    }
    *out_len = n;
    return s;
}

static int mark_at(const char *s, size_t len, size_t p)
{
    return p + BN_SPACE_MARK_LEN <= len && !memcmp(s + p, BN_SPACE_MARK, BN_SPACE_MARK_LEN);
}

/* Is there a "▁" at p (in s of len bytes) after a character other than "▁"? */
static int word_starts_at(const char *s, size_t len, size_t p)
{
    return p > 0 && mark_at(s, len, p) &&
           !(p >= BN_SPACE_MARK_LEN && mark_at(s, len, p - BN_SPACE_MARK_LEN));
}

static int spans_words(const char *text, size_t len)
{
    for (size_t p = 1; p < len; p++)
        if (word_starts_at(text, len, p)) return 1;
    return 0;
}

void bn_spm_init(bn_tokenizer *t)
{
    t->spm_word_chunks = 1;
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (piece_usable(t, id) && spans_words(bn_tok_text(t, id), bn_tok_len(t, id)))
            t->spm_word_chunks = 0;
}

/* Merges one chunk and emits its pieces. */
static int tokenize_chunk(const bn_tokenizer *t, bn_merger *m, const char *s, size_t n,
                          bn_id_list *out)
{
    if (bn_merge_word(m, t, s, n, rate_pair, (void *)t)) return -1;
    for (int32_t i = 0; i >= 0; i = m->sym[i].next) {
        const bn_symbol *sym = &m->sym[i];
        int32_t id = piece_usable(t, sym->id) ? sym->id : -1;
        int rc = id >= 0 ? bn_ids_push(out, id) : emit_bytes(t, s + sym->off, sym->len, out);
        if (rc) return -1;
    }
    return 0;
}

/* When no piece spans a word start (checked at load), each word merges on
 * its own: the same result as merging the whole text, and much faster. */
int bn_spm_tokenize(const bn_tokenizer *t, const char *text, size_t len, int space_prefix,
                    bn_id_list *out)
{
    size_t n;
    char *word = escape_spaces(text, len, space_prefix, &n);
    if (!word) return -1;
    bn_merger m;
    memset(&m, 0, sizeof m);
    int rc = 0;
    for (size_t start = 0, end; !rc && start < n; start = end) {
        end = start + 1;
        while (end < n && !(t->spm_word_chunks && word_starts_at(word, n, end))) end++;
        rc = tokenize_chunk(t, &m, word + start, end - start, out);
    }
    bn_merger_free(&m);
    free(word);
    return rc;
}
