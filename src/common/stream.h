/*
 * stream.h - generated text on its way out, with stop strings and
 * held-back UTF-8.
 */
#ifndef BN_COMMON_STREAM_H
#define BN_COMMON_STREAM_H

#include <stdio.h>

#include "bitnet.h"
#include "buf.h"

/* Pieces are printed as they come, except a tail that may still become a
 * stop string (--stop) or is an incomplete UTF-8 sequence. A stop string
 * and everything after it are never printed and are cut from `text`. */
typedef struct {
    FILE *out;                /* NULL: collect only */
    void (*check)(FILE *out); /* called after each write to out (the tool ends a failed run) */
    const char *const *stops;
    int n_stops;
    text_buf text;  /* the generated text so far */
    size_t emitted; /* bytes of text already written to out */
    /* --reasoning-format auto/deepseek: a "<think>...</think>" block (Qwen3's
     * reasoning) and the newlines after it are not written to out (they
     * stay in text). */
    int hide_think;
    int in_think, after_think; /* inside a block; just after one */
} text_stream;

/* Length of the longest suffix of t[0..n) that is a proper prefix of tag,
 * when longer than best (else best): those bytes may still become tag. */
size_t tag_prefix_tail(const char *tag, const char *t, size_t n, size_t best);
/* Appends the text of token id; returns 1 when a stop string now appears. */
int stream_token(text_stream *s, const bn_tokenizer *tok, int32_t id);
/* Writes what was held back (the generation ended without a stop string). */
void stream_flush(text_stream *s);
/* Starts a new text on the same output and stop strings. */
void stream_clear(text_stream *s);

#endif
