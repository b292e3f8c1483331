/*
 * setup.c - the model, vocabulary, sessions and samplers of a run, made
 * from its options, and the -v notes about them.
 */
#include <stdio.h>
#include <string.h>

#include "bitnet-perf.h"
#include "log.h"
#include "setup.h"

/* Applies --pre to a vocabulary; 0, or -1 with err set. */
static int apply_pre(const run_opts *o, bn_tokenizer *tok, char err[BN_ERR_LEN])
{
    if (!o->pre || !bn_tokenizer_set_pre(tok, o->pre)) return 0;
    snprintf(err, BN_ERR_LEN,
             "--pre: unknown pre-tokenizer '%s' (expected llama3, gpt2 or default)", o->pre);
    return -1;
}

bn_tokenizer *setup_load_tokenizer(const run_opts *o, int *code, char err[BN_ERR_LEN])
{
    bn_tokenizer *tok = bn_tokenizer_load(o->model, err); /* err starts with the file's name */
    *code = EXIT_MODEL;
    if (tok && apply_pre(o, tok, err)) {
        bn_tokenizer_free(tok);
        *code = EXIT_USAGE;
        return NULL;
    }
    return tok;
}

/* Appends s to err[0..n) within BN_ERR_LEN; returns the new length. */
static size_t append_cut(char err[BN_ERR_LEN], size_t n, const char *s)
{
    while (*s && n + 1 < BN_ERR_LEN) err[n++] = *s++;
    err[n] = 0;
    return n;
}

/* Rewrites err as before, err, after (cut to BN_ERR_LEN). */
static void wrap_error(char err[BN_ERR_LEN], const char *before, const char *after)
{
    char why[BN_ERR_LEN];
    memcpy(why, err, sizeof why);
    why[BN_ERR_LEN - 1] = 0;
    size_t n = append_cut(err, 0, before);
    n = append_cut(err, n, why);
    append_cut(err, n, after);
}

/* "<model file>: " into buf, for messages about the file. */
static const char *model_prefix(const run_opts *o, char buf[BN_ERR_LEN])
{
    append_cut(buf, append_cut(buf, 0, o->model), ": ");
    return buf;
}

static int starts_with(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

/* Names the flag behind a load error (messages of kernels.c, model.c), or
 * the file for the rest. */
static int explain_load_error(const run_opts *o, char err[BN_ERR_LEN])
{
    const char *flag = NULL;
    if (starts_with(err, "kernel '") || starts_with(err, "unknown kernel '"))
        flag = "--kernel: ";
    else if (starts_with(err, "unknown lm-head"))
        flag = "--lm-head: ";
    else if (starts_with(err, "unknown weights"))
        flag = "--weights: ";
    else if (starts_with(err, "unknown device") || starts_with(err, "this bitnet-run was built"))
        flag = "--device: ";
    if (flag) {
        wrap_error(err, flag, "");
        return EXIT_USAGE;
    }
    wrap_error(err, model_prefix(o, (char[BN_ERR_LEN]){0}), "");
    return EXIT_MODEL;
}

/* Modes that generate text, which an embedding model cannot. */
static int generates(run_mode mode)
{
    return mode == MODE_GENERATE || mode == MODE_CHAT || mode == MODE_BATCH ||
           mode == MODE_PERPLEXITY;
}

bn_model *setup_load_model(const run_opts *o, int *code, char err[BN_ERR_LEN])
{
    bn_model_params mp = bn_model_default_params();
    mp.n_batch = o->n_batch;
    mp.kernel = o->kernel;
    mp.verbose = o->verbose;
    mp.lm_head = o->lm_head;
    mp.no_mmap = o->no_mmap;
    mp.lm_copy = o->no_lm_copy ? -1 : 0;
    mp.use_mlock = o->mlock;
    mp.vocab_only = o->mode == MODE_INFO; /* describing needs no weights */
    mp.weights = o->weights;
    mp.device = o->device;
    bn_model *m = bn_model_load(o->model, &mp, err);
    if (!m) {
        *code = explain_load_error(o, err);
        return NULL;
    }
    if (apply_pre(o, (bn_tokenizer *)bn_model_tokenizer(m), err)) {
        bn_model_free(m);
        *code = EXIT_USAGE;
        return NULL;
    }
    if (bn_model_embedding_only(m) && generates(o->mode)) {
        snprintf(err, BN_ERR_LEN,
                 "%s is an embedding model (it pools its states and has no "
                 "output layer): use --embedding, or /v1/embeddings with --server",
                 o->model);
        bn_model_free(m);
        *code = EXIT_USAGE;
        return NULL;
    }
    return m;
}

bn_session *setup_new_session(const run_opts *o, bn_model *m, bn_context *ctx, int n_ctx, int *code,
                              char err[BN_ERR_LEN])
{
    const bn_session_params p = {
        .n_ctx = n_ctx, .type_k = o->cache_k, .type_v = o->cache_v, .context = ctx};
    bn_session *s = bn_session_new(m, &p, err);
    if (s) return s;
    *code = o->n_ctx ? EXIT_USAGE : EXIT_MODEL;
    if (o->n_ctx)
        wrap_error(err, "--ctx-size: ", "");
    else
        wrap_error(err, model_prefix(o, (char[BN_ERR_LEN]){0}),
                   " (the model's context; -c sets a smaller one)");
    return NULL;
}

bn_sampler *setup_new_sampler(const bn_sampler_params *sp, int n_vocab, char err[BN_ERR_LEN])
{
    if (bn_sampler_params_check(sp, n_vocab, err)) {
        wrap_error(err, "sampling: ", "");
        return NULL;
    }
    bn_sampler *s = bn_sampler_new(sp, n_vocab);
    if (!s) log_out_of_memory();
    return s;
}

const char *context_hint(const bn_model *m, int n_ctx, char *buf, size_t cap)
{
    const int most = bn_model_n_ctx_train(m);
    if (n_ctx < most)
        snprintf(buf, cap, "raise -c, up to %d", most);
    else
        snprintf(buf, cap, "the model's whole context");
    return buf;
}

int tokenize_flags(const run_opts *o)
{
    return (o->no_bos ? 0 : BN_TOK_ADD_BOS) | (o->special ? BN_TOK_PARSE_SPECIAL : 0);
}

#define BYTES_PER_MIB (1024.0 * 1024.0)

void note_kv_cache(const run_opts *o, const bn_session *s, int n_sessions)
{
    if (!o->verbose) return;
    log_note("KV cache: %.2f MiB for %d sequence%s of %d tokens (keys %s, values %s)",
             (double)bn_session_kv_bytes(s) * n_sessions / BYTES_PER_MIB, n_sessions,
             n_sessions == 1 ? "" : "s", bn_session_n_ctx(s), bn_cache_type_name(o->cache_k),
             bn_cache_type_name(o->cache_v));
}

void note_seed(const run_opts *o, uint64_t seed)
{
    if (o->verbose)
        log_note("seed: %llu (--seed %llu repeats this run)", (unsigned long long)seed,
                 (unsigned long long)seed);
}

void note_peak_memory(const run_opts *o)
{
    const double peak = bn_peak_resident_mib();
    if (o->verbose && peak >= 0.0) log_note("peak resident memory: %.1f MiB", peak);
}
