/*
 * bpe.h - byte-level BPE (bpe.c): the byte-to-unicode map and
 * tokenization of one fragment of text.
 */
#ifndef BN_TOKENIZER_BPE_H
#define BN_TOKENIZER_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "grow.h"
#include "impl.h"

void bn_bpe_init_byte_map(bn_tokenizer *t);
/* Byte value of a code point of the byte-level alphabet, or -1. */
int bn_bpe_char_to_byte(const bn_tokenizer *t, uint32_t cp);
/* Tokenizes one fragment of raw text (no special tokens inside). */
int bn_bpe_tokenize(const bn_tokenizer *t, const char *text, size_t len, bn_id_list *out);

#endif
