/*
 * spm.h - SentencePiece tokenization (spm.c).
 */
#ifndef BN_TOKENIZER_SPM_H
#define BN_TOKENIZER_SPM_H

#include <stddef.h>

#include "grow.h"
#include "impl.h"

/* Decides spm_word_chunks from the pieces (at load). */
void bn_spm_init(bn_tokenizer *t);
int bn_spm_tokenize(const bn_tokenizer *t, const char *text, size_t len, int space_prefix,
                    bn_id_list *out);

#endif
