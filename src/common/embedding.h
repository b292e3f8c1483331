/*
 * embedding.h - embeddings as the tool and the server write them: the
 * pooling names of --pooling, llama-embedding's output formats and the
 * OpenAI list object of /v1/embeddings (embedding.c).
 */
#ifndef BN_COMMON_EMBEDDING_H
#define BN_COMMON_EMBEDDING_H

#include <stdio.h>

#include "bitnet.h"
#include "options.h"

/* "none", "mean", "cls", "last" -> the pooling; 0, or -1 for another name. */
int embd_pooling_parse(const char *name, bn_pooling *out);
const char *embd_pooling_name(bn_pooling p);
/* --pooling's, else the model's. */
bn_pooling embd_pooling_of(const run_opts *o, const bn_model *m);

/* The n floats of v as a JSON array (shortest text that reads back the
 * same float). */
void embd_json_floats(FILE *f, const float *v, int n);
/* The bytes of v (float32, little-endian) in base64, as a JSON string:
 * OpenAI's encoding_format "base64". */
void embd_json_base64(FILE *f, const float *v, int n);
/* OpenAI's list object for n vectors of n_embd floats: {"object": "list",
 * "data": [{"object": "embedding", "index": i, "embedding": ...}],
 * "model", "usage": {"prompt_tokens", "total_tokens"}}. */
void embd_write_openai(FILE *f, const float *v, int n, int n_embd, const char *model, long tokens,
                       int base64);

#endif
