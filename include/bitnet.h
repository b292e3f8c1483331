/*
 * bitnet.h - the public API of the bitnet-run engine.
 *
 * Everything the command-line tool (src/cli/) does goes through this
 * header and bitnet-perf.h, so the engine can be embedded in another
 * program (docs/EMBEDDING.md):
 *
 *   bn_model   a loaded GGUF model: weights repacked to QK256, tokenizer
 *              and the kernels chosen for this CPU (read-only once loaded);
 *   bn_context what runs evaluations: worker threads and scratch buffers;
 *   bn_session one sequence: its KV cache and position;
 *   bn_sampler turns logits into the next token id;
 *   bn_tokenizer text <-> token ids (also loadable from vocabulary-only files).
 *
 * Errors: functions that can fail take `char err[BN_ERR_LEN]` and write a
 * one-line message there (no trailing newline, no "error:" prefix).
 */
#ifndef BITNET_H
#define BITNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BN_VERSION "0.1.0"
#define BN_ERR_LEN 512
/* The most tokens of a context, vocabulary or flag value the engine accepts. */
#define BN_MAX_CTX (1 << 24)

typedef struct bn_model bn_model;
typedef struct bn_session bn_session;
typedef struct bn_sampler bn_sampler;
typedef struct bn_tokenizer bn_tokenizer;

/* ---------------------------------------------------------------- model */

/* A model loads on the cores available to the process; the threads that
 * evaluate are a context's (bn_context_params.n_threads, the one thread
 * setting). */
typedef struct {
    const char *kernel;  /* "auto" (NULL too), "scalar", "avx2", "avx512", "neon" */
    int verbose;         /* print load details on stderr */
    int n_batch;         /* its contexts' default most tokens per pass; 0 = BN_DEFAULT_BATCH */
    const char *lm_head; /* requantize the output layer at load: "f16", "q8_0", "q6_k";
                            NULL = keep the file's type */
    int no_mmap;         /* read the file into memory instead of mapping it */
    int use_mlock;       /* lock the weights in RAM; the load fails when they cannot be */
    int vocab_only;      /* read the metadata, vocabulary and tensor table only: the
                            weights are checked but not loaded, so the model can be
                            described and tokenize, not evaluated (--info) */
    const char *weights; /* the ternary weights' layout in memory: "q2" (NULL too: 2 bits a
                            weight) or "q16" (1.6 bits, 5 a byte: 20% fewer bytes read per
                            token, more work to unpack; matrices with a scale per block
                            stay at 2 bits); results are bitwise the same */
    const char *device;  /* where passes run: "cpu" (NULL too), "vulkan" (the first Vulkan
                            device) or "vulkan:N"; the weights go to the device once at load
                            and each session's KV cache lives there (docs/ARCHITECTURE.md) */
    int lm_copy;         /* an int8 copy of a wide (F16, BF16, F32) output layer, for sessions
                            that want only their best logits (bn_session_set_logits_top):
                            0 = where the layer is larger than BN_LM_COPY_MIN_BYTES (one that
                            stays in the caches gains nothing), 1 = always, -1 = never (every
                            logit computed in full; saves the copy's memory) */
} bn_model_params;

#define BN_DEFAULT_BATCH 256
#define BN_LM_COPY_MIN_BYTES (16u << 20)

bn_model_params bn_model_default_params(void);
bn_model *bn_model_load(const char *path, const bn_model_params *params, char err[BN_ERR_LEN]);
void bn_model_free(bn_model *model);

const bn_tokenizer *bn_model_tokenizer(const bn_model *model);
int bn_model_n_vocab(const bn_model *model);
int bn_model_n_ctx_train(const bn_model *model);
const char *bn_model_kernel_name(const bn_model *model);
/* The width of the residual stream: the length of an embedding. */
int bn_model_n_embd(const bn_model *model);

/* How the final hidden states of a text's tokens become one embedding:
 * llama.cpp's pooling_type values (a GGUF's <arch>.pooling_type). */
typedef enum {
    BN_POOL_UNSPECIFIED = -1, /* the model's own */
    BN_POOL_NONE = 0,         /* no pooling: one vector per token */
    BN_POOL_MEAN = 1,
    BN_POOL_CLS = 2,  /* the first token's */
    BN_POOL_LAST = 3, /* the last token's (with the EOS the vocabulary appends) */
} bn_pooling;

/* The file's pooling type (BN_POOL_NONE when it states none). */
bn_pooling bn_model_pooling(const bn_model *model);
/* An embedding model only: it states a pooling type and has no output
 * layer of its own (BitNet-embedding), so it cannot generate text. */
int bn_model_embedding_only(const bn_model *model);

/* The backend the model's passes run on ("cpu", "vulkan") and the name of
 * its device ("" on the CPU). */
const char *bn_model_backend_name(const bn_model *model);
const char *bn_model_device_name(const bn_model *model);
/* The backends this build has: "cpu" or "cpu vulkan". */
const char *bn_backends_built(void);
/* Calls emit with one line per device a model can name (--list-devices):
 * "cpu: N cores", "vulkan:0: <name> (<type>, <MiB> MiB)"; returns the count. */
int bn_list_devices(void (*emit)(const char *line, void *data), void *data);
/* Copies the string metadata value `key` (e.g. "tokenizer.chat_template")
 * into buf (up to cap bytes, NUL-terminated when cap > 0) and returns its
 * length, which may exceed cap - 1 (then call again with a bigger buffer);
 * -1 when the key is absent or not a string. */
int bn_model_meta_str(const bn_model *model, const char *key, char *buf, size_t cap);
/* Human-readable summary (file size, architecture, hyperparameters,
 * tensors by type). */
void bn_model_describe(const bn_model *model, void (*emit)(const char *line, void *ctx), void *ctx);

/* -------------------------------------------------------------- context */

/* A context runs evaluations: it owns worker threads and the scratch
 * buffers of a pass. Contexts share their model's weights, so two threads
 * may each evaluate through their own context at once (llama.cpp's
 * contexts over one model). One context runs one evaluation at a time. */
typedef struct bn_context bn_context;

/* Called between layers; a non-zero return stops the evaluation, which
 * then returns BN_ABORTED (Ctrl-C, a dropped client). */
typedef int (*bn_abort_fn)(void *data);

typedef struct {
    int n_threads; /* workers; 0 = the cores available to the process */
    int n_batch;   /* most tokens per pass; 0 = the model's */
} bn_context_params;

bn_context_params bn_context_default_params(void);
bn_context *bn_context_new(bn_model *model, const bn_context_params *params, char err[BN_ERR_LEN]);
void bn_context_free(bn_context *ctx);
int bn_context_n_threads(const bn_context *ctx);
/* Changes the worker count (0 = the cores available); returns 0 or -1. */
int bn_context_set_threads(bn_context *ctx, int n_threads);
/* on: bn_eval and bn_session_eval of this context write, in place of
 * each token's logits, its final hidden state after output_norm (n_embd
 * floats, what the output layer reads: llama.cpp's embeddings mode); off
 * (the default): logits. */
void bn_context_set_embeddings(bn_context *ctx, int on);
/* fn(data) is asked between layers whether to stop; NULL removes it. */
void bn_context_set_abort(bn_context *ctx, bn_abort_fn fn, void *data);

/* -------------------------------------------------------------- session */

/* The element type of a session's KV cache. F32 is the default and the
 * reference arithmetic (docs/FORWARD.md, Reference arithmetic); F16 rounds
 * each cached key and value to the nearest half (ties to even), halving the
 * cache's memory, and attention then runs in f32 over those values. */
typedef enum {
    BN_CACHE_F32 = 0,
    BN_CACHE_F16 = 1,
} bn_cache_type;

/* "f32" or "f16" -> the type; -1 for any other name. */
int bn_cache_type_from_name(const char *name);
/* The name of a type ("f32", "f16"); NULL for a value outside the enum. */
const char *bn_cache_type_name(bn_cache_type type);

typedef struct {
    int n_ctx;            /* context in tokens; 0 = the model's training context length */
    bn_cache_type type_k; /* element type of the cached keys (default BN_CACHE_F32) */
    bn_cache_type type_v; /* and of the cached values */
    bn_context *context;  /* runs bn_session_eval; NULL = a context of the session's own,
                             with the default parameters (bn_session_context reaches it) */
} bn_session_params;

/* n_ctx 0, F32 keys and values, a context of its own (an all-zero struct
 * means the same). */
bn_session_params bn_session_default_params(void);
/* One sequence: its KV cache and its position. params NULL = the defaults.
 * NULL with err set when the context does not fit the model, a cache type
 * is unknown, or memory runs out. */
bn_session *bn_session_new(bn_model *model, const bn_session_params *params, char err[BN_ERR_LEN]);
void bn_session_free(bn_session *session);
void bn_session_reset(bn_session *session);
/* Forgets the positions from n_past on (0 <= n_past <= bn_session_n_past),
 * so the next token goes to position n_past; returns 0, or -1 out of range. */
int bn_session_truncate(bn_session *session, int n_past);
/* The context that runs this session's bn_session_eval calls. */
bn_context *bn_session_context(bn_session *session);
int bn_session_n_ctx(const bn_session *session);
int bn_session_n_past(const bn_session *session);
/* Total tokens run through the transformer since creation (for tests/stats). */
long bn_session_n_evaluated(const bn_session *session);
/* Bytes of the KV cache once all n_ctx positions hold keys and values
 * (the caches are allocated lazily: untouched positions cost no memory). */
size_t bn_session_kv_bytes(const bn_session *session);

/* Which logits the session's evaluations compute exactly. top > 0: the
 * top best tokens (ties to the lower id) and every token that may rank
 * with them get their exact logits, bit for bit those of a full product;
 * the tokens proven to rank below them get -INFINITY, so a model with a
 * copy of its output layer (bn_model_params.lm_copy) reads far fewer
 * bytes per token. 0 (the default, and after a value < 0): every logit
 * exact, as perplexity, logprobs over the vocabulary or a repetition
 * penalty need. bn_sampler_logits_top says what a sampler needs. */
void bn_session_set_logits_top(bn_session *session, int top);

/* ----------------------------------------------------------- evaluation */

/* What an evaluation returns besides 0 and -1: the abort callback stopped
 * it. Passes that finished before (n_batch tokens each) are kept. */
#define BN_ABORTED 1

/* One token of a batch: appended to `session` at `pos`, which must be the
 * session's next position (its n_past plus the entries of the same
 * session before it in the batch). */
typedef struct {
    bn_session *session;
    int32_t token;
    int pos;
    int logits; /* non-zero: write the logits after this token */
} bn_batch_entry;

/* Runs a batch that may mix the prompt tokens of one sequence with the
 * next tokens of others: every weight is read once per pass of up to
 * n_batch tokens. The logits of the k-th entry that asks for them go to
 * logits[k * n_vocab]. Returns 0, BN_ABORTED, or -1 with err set (a
 * position out of order, a full context, an id out of range, sessions of
 * another model, out of memory). */
int bn_eval(bn_context *ctx, const bn_batch_entry *batch, int n, float *logits,
            char err[BN_ERR_LEN]);

/* Appends n tokens to a session on its context and points *logits (may be
 * NULL) at the n_vocab logits after the last one, valid until the next
 * call. Returns as bn_eval. */
int bn_session_eval(bn_session *session, const int32_t *ids, int n, const float **logits,
                    char err[BN_ERR_LEN]);

/* Like bn_session_eval, but writes the logits after every one of the n
 * tokens into logits[n * n_vocab] (for perplexity). */
int bn_session_eval_all(bn_session *session, const int32_t *ids, int n, float *logits,
                        char err[BN_ERR_LEN]);

/* ----------------------------------------------------------- embeddings */

/* How bn_embed scales a pooled vector: llama-embedding's --embd-normalize
 * values; from 3 on, the p-norm with that p. */
#define BN_EMBD_NORM_NONE (-1)
#define BN_EMBD_NORM_MAX_ABS 0 /* max|v| becomes 32760 (the int16 range) */
#define BN_EMBD_NORM_TAXICAB 1
#define BN_EMBD_NORM_EUCLIDEAN 2 /* unit length: the default */

/* out = v (n floats) scaled as `norm` says (out may be v). A zero vector
 * stays zero. */
void bn_embd_normalize(const float *v, float *out, int n, int norm);

/* Embeds n_texts texts, text i being the n_ids[i] token ids ids[i] (as
 * bn_tokenize with BN_TOK_ADD_BOS | BN_TOK_ADD_EOS gives them), evaluated
 * together in shared passes of ctx: the final normed hidden states of each
 * text's tokens pooled as `pooling` says (BN_POOL_UNSPECIFIED: the
 * model's), then normalized (`normalize`, above). out holds n_texts *
 * n_embd floats, or with BN_POOL_NONE one vector per token, text after
 * text. Returns 0, BN_ABORTED, or -1 with err set (an empty text, a text
 * longer than the model's context, out of memory). */
int bn_embed(bn_context *ctx, const int32_t *const *ids, const int *n_ids, int n_texts,
             bn_pooling pooling, int normalize, float *out, char err[BN_ERR_LEN]);

/* ------------------------------------------------------------ tokenizer */

enum {
    BN_TOK_ADD_BOS = 1 << 0,       /* prepend BOS when the vocabulary asks for it */
    BN_TOK_PARSE_SPECIAL = 1 << 1, /* "<|eot_id|>" in text becomes that token */
    BN_TOK_ADD_EOS = 1 << 2,       /* append EOS when the vocabulary asks for it (embeddings) */
};

/* Loads only the vocabulary of a GGUF file (tensors are ignored). */
bn_tokenizer *bn_tokenizer_load(const char *path, char err[BN_ERR_LEN]);
/* Frees a tokenizer from bn_tokenizer_load (never the model's own). */
void bn_tokenizer_free(bn_tokenizer *tok);

/* Overrides the pre-tokenizer ("llama3", "gpt2", "default"); -1 if unknown. */
int bn_tokenizer_set_pre(bn_tokenizer *tok, const char *name);
const char *bn_tokenizer_pre_name(const bn_tokenizer *tok);
const char *bn_tokenizer_model_name(const bn_tokenizer *tok); /* "gpt2" or "llama" */

/* Tokenizes len bytes of text. On success returns the number of ids and
 * stores a malloc'd array in *ids (caller frees). Returns -1 with err set
 * on invalid input. */
int bn_tokenize(const bn_tokenizer *tok, const char *text, size_t len, int flags, int32_t **ids,
                char err[BN_ERR_LEN]);

/* Writes the bytes that token `id` stands for into buf (up to cap bytes)
 * and returns their count (which may exceed cap: then call again with a
 * bigger buffer), or -1 for an id out of range. Control tokens give their
 * text only when `special` is non-zero. */
int bn_token_to_piece(const bn_tokenizer *tok, int32_t id, int special, char *buf, size_t cap);
/* Decodes n ids into buf (up to cap bytes, like bn_token_to_piece) and
 * returns the byte count, or -1 for an id out of range. As llama.cpp's
 * llama_detokenize, the first piece loses one leading space when the
 * vocabulary adds a dummy space prefix (SentencePiece), so decoding the
 * ids of a text gives the text back. */
int bn_detokenize(const bn_tokenizer *tok, const int32_t *ids, int n, int special, char *buf,
                  size_t cap);

/* The vocabulary string of a token as stored in the file, or NULL. */
const char *bn_token_text(const bn_tokenizer *tok, int32_t id);
int bn_tokenizer_n_vocab(const bn_tokenizer *tok);
int32_t bn_token_bos(const bn_tokenizer *tok); /* -1 when absent */
int32_t bn_token_eos(const bn_tokenizer *tok);
int32_t bn_token_eot(const bn_tokenizer *tok);
/* Does this token end generation (EOS, <|eot_id|>, <|eom_id|>, ...)? */
int bn_token_is_eog(const bn_tokenizer *tok, int32_t id);
/* Looks a token up by its exact vocabulary text; -1 if absent. */
int32_t bn_token_lookup(const bn_tokenizer *tok, const char *text, size_t len);

/* Length of the longest prefix of buf that does not end inside an
 * incomplete UTF-8 sequence (streaming output prints only that much). */
size_t bn_utf8_complete_prefix(const char *buf, size_t len);
/* Decodes one strictly valid UTF-8 sequence at s (len > 0 bytes): returns
 * its length (1..4) and stores the code point, or returns 0 for an
 * overlong form, a surrogate, a value past U+10FFFF or a cut sequence. */
size_t bn_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
/* Writes the UTF-8 form of cp (<= U+10FFFF) to out; returns 1..4. */
size_t bn_utf8_encode(uint32_t cp, char out[4]);

/* -------------------------------------------------------------- sampler */

/* A bias added to one token's logit before sampling (-INFINITY bans it). */
typedef struct {
    int32_t id;
    float bias;
} bn_logit_bias;

/* The most alternatives bn_sampler_last_probs reports per token. */
#define BN_MAX_PROBS 20

typedef struct {
    float temp;           /* 0 = greedy */
    int top_k;            /* 0 = off */
    float top_p;          /* 1 = off */
    float min_p;          /* 0 = off */
    float repeat_penalty; /* 1 = off */
    int repeat_last_n;    /* window of previous tokens penalized; -1 = whole context */
    uint64_t seed;
    float presence_penalty;          /* 0 = off: subtracted once from a token in the window */
    float frequency_penalty;         /* 0 = off: subtracted per occurrence in the window */
    float typical_p;                 /* 1 = off (0 too): locally typical sampling */
    const bn_logit_bias *logit_bias; /* n_logit_bias of them; copied by bn_sampler_new */
    int n_logit_bias;
    int n_probs; /* 0 = off; up to BN_MAX_PROBS: keep each draw's top tokens
                    for bn_sampler_last_probs */
} bn_sampler_params;

bn_sampler_params bn_sampler_default_params(void);
/* The seed in bn_sampler_default_params: fixed, so runs are reproducible
 * by default (the CLI passes the user's seed or a time-based one). */
#define BN_SAMPLER_DEFAULT_SEED 42u
/* Returns 0 when params suit a vocabulary of n_vocab tokens, else -1 with
 * err set; bn_sampler_new returns NULL in exactly those cases (or when out
 * of memory). */
int bn_sampler_params_check(const bn_sampler_params *params, int n_vocab, char err[BN_ERR_LEN]);
bn_sampler *bn_sampler_new(const bn_sampler_params *params, int n_vocab);
void bn_sampler_free(bn_sampler *sampler);
/* How many of the best logits the sampler's chain reads exactly, for
 * bn_session_set_logits_top: 1 when greedy, top_k when it samples among
 * the top_k best; 0 (every logit) for top_k 0 or a repetition penalty,
 * which can lift a token from below the best. Given logits exact for that
 * many best tokens and -INFINITY below them, the sampler picks exactly what
 * it picks from the full logits (the same draws for a seed). */
int bn_sampler_logits_top(const bn_sampler *sampler);
/* Records a token (prompt or generated) for the repetition penalty. */
void bn_sampler_accept(bn_sampler *sampler, int32_t id);
/* Picks the next token; logits are not modified. */
int32_t bn_sampler_sample(bn_sampler *sampler, const float *logits);
/* Picks the next token when a deterministic draft (prompt lookup, a
 * speculative decoder) proposed `draft`: keeps it with its probability
 * p(draft) under the chain, else draws from the chain's distribution with
 * the draft removed and renormalized. Each token then comes out with the
 * same probability as from bn_sampler_sample (not the same draws for a
 * seed); greedy sampling returns the same token. */
int32_t bn_sampler_sample_draft(bn_sampler *sampler, const float *logits, int32_t draft);
/* The distribution bn_sampler_sample draws from after its whole chain
 * (repetition penalty, top-k, min-p, top-p, temperature): writes the ids
 * it keeps and their probabilities (summing to 1) into ids and probs (room
 * for n_vocab each, in no particular order) and returns their count; -1 on
 * NULL arguments. Greedy sampling gives the argmax with probability 1. Uses
 * no randomness. */
int bn_sampler_probs(bn_sampler *sampler, const float *logits, int32_t *ids, double *probs);
/* With params.n_probs > 0: the natural-log probability of the token the
 * last bn_sampler_sample or bn_sampler_sample_draft returned, and up to
 * n_probs most likely tokens (ids and logprobs, best first), from the
 * distribution that draw was made from. A greedy sampler reports the
 * softmax at temperature 1 of the logits after bias and penalties (the
 * distribution its argmax is taken of), not the certainty of the argmax.
 * Returns the count written; -1 when capture is off or nothing was drawn. */
int bn_sampler_last_probs(const bn_sampler *sampler, float *logprob, int32_t *ids, float *logprobs);
void bn_sampler_reset(bn_sampler *sampler);

#ifdef __cplusplus
}
#endif

#endif
