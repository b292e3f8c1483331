/*
 * load.h - builds a tokenizer from the tokenizer.ggml.* keys of a GGUF
 * file, and frees one (load.c; bn_tokenizer_free is in include/bitnet.h).
 */
#ifndef BN_TOKENIZER_LOAD_H
#define BN_TOKENIZER_LOAD_H

#include <stddef.h>

#include "bitnet.h"
#include "gguf/gguf.h"
#include "pretokenize.h"

/* Builds a tokenizer from the tokenizer.ggml.* keys of an open file. The
 * tokenizer copies what it needs, so the file may be closed afterwards.
 * On error returns NULL with err set (no file-name prefix). */
bn_tokenizer *bn_tokenizer_from_gguf(const gguf_file *f, char *err, size_t errlen);

/* A pre-tokenizer by name (llama3/llama-bpe, gpt2/gpt-2, default); 0, or
 * -1 when unknown. */
int bn_pre_from_name(const char *name, size_t len, bn_pre_type *out);

#endif
