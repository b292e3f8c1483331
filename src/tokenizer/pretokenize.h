/*
 * pretokenize.h - the regex splits of byte-level BPE (docs/TOKENIZERS.md,
 * Pre-tokenizers), written as
 * hand-made matchers with the exact leftmost-first semantics of the regexes.
 */
#ifndef BN_PRETOKENIZE_H
#define BN_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    BN_PRE_LLAMA3,  /* the LLaMA-3 regex (tokenizer.ggml.pre "llama-bpe"/"llama3") */
    BN_PRE_GPT2,    /* the GPT-2 regex ("gpt-2") */
    BN_PRE_QWEN2,   /* LLaMA-3's with single digits ("qwen2") */
    BN_PRE_DEFAULT, /* llama.cpp's "default": four regexes applied in turn */
} bn_pre_type;

/* A fragment of text as code points with their BN_CPT_* flags. */
typedef struct {
    const uint32_t *cpts;
    const uint8_t *flags;
    size_t n;
} bn_cpt_text;

/* Receives each pre-token as the code-point range [start, end); a non-zero
 * return stops the split and is passed back. */
typedef int (*bn_pretoken_fn)(size_t start, size_t end, void *ctx);

/* Splits the whole text into pre-tokens, in order, covering every code
 * point (unmatched gaps become pre-tokens too, as in llama.cpp). */
int bn_pretokenize(bn_pre_type type, const bn_cpt_text *t, bn_pretoken_fn emit, void *ctx);

#endif
