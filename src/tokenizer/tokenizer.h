/*
 * tokenizer.h - internal entry points of the tokenizer (tokenizer.c).
 * The public functions are declared in include/bitnet.h.
 */
#ifndef BN_TOKENIZER_H
#define BN_TOKENIZER_H

#include <stddef.h>

#include "bitnet.h"
#include "gguf/gguf.h"

/* Builds a tokenizer from the tokenizer.ggml.* keys of an open file. The
 * tokenizer copies what it needs, so the file may be closed afterwards.
 * On error returns NULL with err set (no file-name prefix). */
bn_tokenizer *bn_tokenizer_from_gguf(const gguf_file *f, char *err, size_t errlen);

#endif
