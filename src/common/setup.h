/*
 * setup.h - a run's model, vocabulary, contexts, sessions and samplers
 * made from its options. Each returns NULL with a message and the exit
 * status that fits it (a flag's fault or the model's), so the tool can exit
 * and the server can refuse a request.
 */
#ifndef BN_COMMON_SETUP_H
#define BN_COMMON_SETUP_H

#include <stddef.h>
#include <stdint.h>

#include "bitnet.h"
#include "options.h"

/* Exit codes (llama.cpp-style tools return 1 for bad usage). */
enum { EXIT_USAGE = 1, EXIT_MODEL = 2, EXIT_INTERRUPTED = 130 };

/* The model of o->model with the flags that shape loading; NULL with err
 * (naming the flag or the file) and *code set. */
bn_model *setup_load_model(const run_opts *o, int *code, char err[BN_ERR_LEN]);
/* The model's vocabulary alone (--tokenize without the weights). */
bn_tokenizer *setup_load_tokenizer(const run_opts *o, int *code, char err[BN_ERR_LEN]);
/* A session of n_ctx tokens (0: the model's context) evaluated on ctx
 * (NULL: a context of its own). */
bn_session *setup_new_session(const run_opts *o, bn_model *m, bn_context *ctx, int n_ctx, int *code,
                              char err[BN_ERR_LEN]);
/* The sampler for params sp; NULL with err saying what is wrong. */
bn_sampler *setup_new_sampler(const bn_sampler_params *sp, int n_vocab, char err[BN_ERR_LEN]);
/* What a user can do about a context of n_ctx tokens that is too small:
 * raise -c up to the model's, or nothing when it is the model's already. */
const char *context_hint(const bn_model *m, int n_ctx, char *buf, size_t cap);
/* BN_TOK_* flags for prompts as -p/--no-bos/--no-special ask. */
int tokenize_flags(const run_opts *o);

/* With -v: the memory that n_sessions sessions like s take once their
 * caches are full, and the cache types. */
void note_kv_cache(const run_opts *o, const bn_session *s, int n_sessions);
/* With -v: the seed of the sampler, to repeat a run with --seed. */
void note_seed(const run_opts *o, uint64_t seed);
/* With -v: the process's peak resident memory, at the end of a run. */
void note_peak_memory(const run_opts *o);

#endif
