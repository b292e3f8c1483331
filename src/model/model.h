/*
 * model.h - the in-memory shape of a BitNet b1.58 model (internal).
 *
 * model.c fills these structs from a GGUF file; the engine (src/engine/)
 * runs them and only reads them.
 * Ternary projections are QK256 matrices (qk256.h); the token embedding
 * and output layer stay in their file type as bn_dense (dense.c), except
 * an output layer requantized at load by bn_model_params.lm_head.
 */
#ifndef BN_MODEL_H
#define BN_MODEL_H

#include "bitnet.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "kernels/qk256.h"
#include "runtime/threadpool.h"

/* bitnet-b1.58 (and its old name bitnet-25), mainline's bitnet, and
 * llama: Falcon3-1.58bit, Falcon-E, Llama3-8B-1.58 (docs/FORWARD.md,
 * Architectures). */
typedef enum { BN_ARCH_BITNET_B158, BN_ARCH_BITNET, BN_ARCH_LLAMA } bn_arch;

/* attention.c sums head dimensions in lanes of 8 (every released
 * model has 64, 128 or 256). */
#define BN_HEAD_DIM_MULTIPLE 8
typedef enum { BN_ACT_RELU2, BN_ACT_SILU } bn_ffn_act;
/* RoPE pairs: NEOX rotates (i, i + head_dim/2), NORM (2i, 2i + 1). */
typedef enum { BN_ROPE_NEOX, BN_ROPE_NORM } bn_rope_type;

typedef struct {
    int n_layer;
    int n_embd;     /* residual stream width */
    int n_ff;       /* FFN hidden width */
    int n_head, n_head_kv, head_dim; /* head_dim: attention.key_length, else n_embd / n_head */
    int n_ctx_train;
    int n_vocab;
    float rope_base;
    float rms_eps;
} bn_hparams;

/* A non-ternary matrix of `rows` rows of `cols` values (quants.h types). */
typedef struct {
    uint32_t type; /* enum ggml_type */
    int rows, cols;
    const uint8_t *data; /* into the mapped file, or `owned` */
    size_t row_bytes;
    uint8_t *owned; /* a copy requantized at load (--lm-head), else NULL */
    int owned_in_arena; /* owned lies in the model's weights arena */
} bn_dense;

typedef struct {
    /* owned copies; the sub-norms are NULL in a model without them */
    float *attn_norm, *attn_sub_norm, *ffn_norm, *ffn_sub_norm;
    qk256_matrix wq, wk, wv, wo, wgate, wup, wdown;
} bn_layer;

typedef struct bn_backend bn_backend; /* src/engine/engine.h */

struct bn_model {
    gguf_file *file;
    bn_arch arch;
    bn_ffn_act act;
    bn_rope_type rope;
    int has_sub_norms; /* attn_sub_norm and ffn_sub_norm in every layer */
    bn_hparams hp;
    bn_layer *layers;
    bn_arena weights; /* the layers' ternary codes and a requantized output layer */
    int q16;          /* the ternary matrices in the 1.6-bit layout (bn_model_params.weights) */
    bn_dense tok_embd;
    bn_dense output; /* same data as tok_embd when tied (unless requantized) */
    float *output_norm;
    bn_tokenizer *tok;
    bn_pool *pool; /* the threads that load the model; NULL once loaded */
    const bn_kernels *kernels;
    int verbose;
    int vocab_only;    /* bn_model_params.vocab_only: no weights, no evaluation */
    uint32_t out_type; /* the output layer's type once loaded (--lm-head) */
    int n_threads; /* its contexts' default thread count */
    int n_batch;   /* and most tokens per pass */
    const bn_backend *backend; /* runs its passes (bn_model_params.device) */
    void *dev;                 /* the backend's copy of the weights, or NULL */
};

/* model.c: the model in host memory, as bn_model_load describes it; the
 * public bn_model_load (src/backend/backend.c) then opens its backend. */
bn_model *bn_model_open(const char *path, const bn_model_params *params, char *err);
void bn_model_close(bn_model *m);

/* dense.c: what the model reads of a bn_dense. */
int bn_dense_supported(uint32_t type);
/* Row `row` as floats into out[0..cols). */
void bn_dense_row(const bn_dense *d, int row, float *out);
#endif
