/*
 * bpe.c - byte-level BPE (tokenizer.ggml.model "gpt2"): the byte-to-unicode
 * map (docs/TOKENIZERS.md, Byte-to-character map), pre-tokenization of a
 * fragment (pretokenize.c) and merges by rank (docs/TOKENIZERS.md, BPE
 * merges; merge.c).
 *
 * Invalid UTF-8: each byte that does not start a valid sequence becomes
 * U+FFFD before pre-tokenization, as llama.cpp's unicode_cpts_from_utf8 does.
 */
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "grow.h"
#include "merge.h"
#include "pretokenize.h"
#include "unicode.h"
#include "vocab.h"

#define FIRST_STAND_IN 0x100u                    /* unprintable bytes map to U+0100, U+0101, ... */
#define MAPPED_PER_CPT ((size_t)BN_UTF8_MAX * 2) /* each UTF-8 byte maps to <= 2 bytes */

/* Bytes that stand for themselves: 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF. */
static int byte_is_printable(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
}

void bn_bpe_init_byte_map(bn_tokenizer *t)
{
    uint32_t next_stand_in = FIRST_STAND_IN;
    for (size_t i = 0; i < BN_BYTE_CHAR_END; i++) t->char_byte[i] = -1;
    for (unsigned b = 0; b < BN_BYTE_VALUES; b++) {
        uint32_t cp = byte_is_printable(b) ? b : next_stand_in++;
        char utf8[BN_UTF8_MAX];
        t->byte_char_len[b] = (uint8_t)bn_utf8_encode(cp, utf8);
        memcpy(t->byte_char[b], utf8, t->byte_char_len[b]);
        t->char_byte[cp] = (int16_t)b;
    }
}

int bn_bpe_char_to_byte(const bn_tokenizer *t, uint32_t cp)
{
    return cp < BN_BYTE_CHAR_END ? t->char_byte[cp] : -1;
}

typedef struct {
    const bn_tokenizer *t;
    bn_id_list *out;
    bn_cpt_text text;
    char *word; /* the current pre-token mapped through the byte map */
    size_t word_cap;
    bn_merger merger;
} bpe_work;

/* Pairs merge when "left right" is in tokenizer.ggml.merges. */
static int rate_pair(void *ctx, const char *word, const bn_symbol *l, const bn_symbol *r,
                     double *key, int32_t *merged)
{
    const bn_tokenizer *t = ctx;
    if (l->id < 0 || r->id < 0) return 0;
    int32_t rank = bn_merge_rank(&t->merges, l->id, r->id);
    if (rank < 0) return 0;
    *key = rank;
    /* -1 when a (broken) vocabulary lacks the merged text: emit_chars */
    *merged = bn_str_map_find(&t->map, t, word + l->off, l->len + r->len);
    return 1;
}

/* Emits a symbol whose text is not a token char by char; a char that is
 * not a token either becomes the unknown token, or nothing when there is
 * none (llama.cpp drops it too). Only a broken vocabulary gets here. */
static int emit_chars(bpe_work *w, const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = bn_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (!n) n = 1;
        int32_t id = bn_str_map_find(&w->t->map, w->t, s + i, n);
        if (id < 0) id = w->t->unk;
        if (id >= 0 && bn_ids_push(w->out, id)) return -1;
        i += n;
    }
    return 0;
}

/* BPE of one mapped pre-token (w->word, len bytes). */
static int tokenize_word(bpe_work *w, size_t len)
{
    const bn_tokenizer *t = w->t;
    if (t->pre == BN_PRE_LLAMA3) { /* ignore_merges: a whole token is taken as is */
        int32_t id = bn_str_map_find(&t->map, t, w->word, len);
        if (id >= 0) return bn_ids_push(w->out, id);
    }
    if (bn_merge_word(&w->merger, t, w->word, len, rate_pair, (void *)t)) return -1;
    for (int32_t i = 0; i >= 0; i = w->merger.sym[i].next) {
        const bn_symbol *s = &w->merger.sym[i];
        int rc = s->id >= 0 ? bn_ids_push(w->out, s->id) : emit_chars(w, w->word + s->off, s->len);
        if (rc) return -1;
    }
    return 0;
}

/* Pre-token callback: map the code points' UTF-8 bytes, then BPE. */
static int on_pretoken(size_t start, size_t end, void *ctx)
{
    bpe_work *w = ctx;
    char *word = bn_grow(w->word, &w->word_cap, (end - start) * MAPPED_PER_CPT, 1);
    if (!word) return -1;
    w->word = word;
    size_t len = 0;
    for (size_t i = start; i < end; i++) {
        char utf8[BN_UTF8_MAX];
        size_t n = bn_utf8_encode(w->text.cpts[i], utf8);
        for (size_t k = 0; k < n; k++) {
            unsigned b = (unsigned char)utf8[k];
            memcpy(word + len, w->t->byte_char[b], w->t->byte_char_len[b]);
            len += w->t->byte_char_len[b];
        }
    }
    return tokenize_word(w, len);
}

/* Decodes the fragment into code points and their classes; returns the count. */
static size_t decode_text(const char *text, size_t len, uint32_t *cpts, uint8_t *flags)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t k = 0;
    for (size_t i = 0; i < len; k++) {
        uint32_t cp;
        size_t cl = bn_utf8_decode(s + i, len - i, &cp);
        if (!cl) cl = 1, cp = BN_CPT_REPLACEMENT;
        cpts[k] = cp;
        flags[k] = (uint8_t)bn_cpt_flags(cp);
        i += cl;
    }
    return k;
}

int bn_bpe_tokenize(const bn_tokenizer *t, const char *text, size_t len, bn_id_list *out)
{
    if (!len) return 0;
    bpe_work w;
    memset(&w, 0, sizeof w);
    w.t = t;
    w.out = out;
    uint32_t *cpts = malloc(len * sizeof *cpts);
    uint8_t *flags = malloc(len);
    int rc = -1;
    if (cpts && flags) {
        w.text.n = decode_text(text, len, cpts, flags);
        w.text.cpts = cpts;
        w.text.flags = flags;
        rc = bn_pretokenize(t->pre, &w.text, on_pretoken, &w);
    }
    free(cpts);
    free(flags);
    free(w.word);
    bn_merger_free(&w.merger);
    return rc ? -1 : 0;
}
