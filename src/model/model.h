/*
 * model.h - the in-memory shape of a BitNet b1.58 model (internal).
 *
 * load.c fills these structs from a GGUF file; the engine (src/engine/)
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
#include "kernels/q8rows.h"
#include "kernels/qk256.h"
#include "names.h"
#include "runtime/threadpool.h"

/* bitnet-b1.58 (and its old name bitnet-25), mainline's bitnet, and
 * llama: Falcon3-1.58bit, Falcon-E, Llama3-8B-1.58 (docs/FORWARD.md,
 * Architectures); qwen3: PrismML's Bonsai (Q1_0, Q2_0) and Microsoft's
 * BitNet embeddings (I2_S with per-projection input norms). */
typedef enum { BN_ARCH_BITNET_B158, BN_ARCH_BITNET, BN_ARCH_LLAMA, BN_ARCH_QWEN3 } bn_arch;

/* attention.c sums head dimensions in lanes of 8 (every released
 * model has 64, 128 or 256). */
#define BN_HEAD_DIM_MULTIPLE 8
typedef enum { BN_ACT_RELU2, BN_ACT_SILU } bn_ffn_act;
/* RoPE pairs: NEOX rotates (i, i + head_dim/2), NORM (2i, 2i + 1). */
typedef enum { BN_ROPE_NEOX, BN_ROPE_NORM } bn_rope_type;

typedef struct {
    int n_layer;
    int n_embd;                      /* residual stream width */
    int n_ff;                        /* FFN hidden width */
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
    uint8_t *owned;     /* a copy requantized at load (--lm-head), else NULL */
    int owned_in_arena; /* owned lies in the model's weights arena */
    /* A Q2_0 / Q1_0 output layer repacked for the Q8 products of
     * kernels/grouped.h (Bonsai's LM head), else NULL; owned by the model. */
    qk256_matrix *grouped;
} bn_dense;

/* lm_copy.c: the output layer's int8-row copy (q8rows.h) for two-stage logits, and per
 * row upper bounds of ||w - c|| over the row (err) and over its worst
 * block of BN_Q8ROWS_GROUP values (err_max), of ||c|| (copy) and of ||w||
 * (exact), w being the exact row and c the copy's. */
typedef struct {
    float err, err_max, copy, exact;
} bn_lm_row_bound;

typedef struct {
    bn_q8rows q;      /* q.rows == 0: no copy */
    int8_t *levels;   /* q's arrays, in one mapping of huge pages: 4 KB pages */
    uint16_t *scales; /* cost a TLB miss every 4 KB of the scan, and the
                       * hardware prefetcher stops at each page's end */
    void *map;
    size_t map_bytes;
    bn_lm_row_bound *rows; /* [q.rows] */
    float max_norm;        /* the largest copy or exact norm */
} bn_lm_copy;

typedef struct {
    /* owned copies; the sub-norms are NULL in a model without them */
    float *attn_norm, *attn_sub_norm, *ffn_norm, *ffn_sub_norm;
    /* qwen3: the per-head RMSNorm of q and k before RoPE (head_dim), else NULL */
    float *attn_q_norm, *attn_k_norm;
    /* BitNet embeddings: each projection's own input RMSNorm, in the order
     * of names.h (its input width), else NULL */
    float *norm_in[BN_N_PROJ];
    qk256_matrix wq, wk, wv, wo, wgate, wup, wdown;
} bn_layer;

typedef struct bn_backend bn_backend; /* src/engine/engine.h */

struct bn_model {
    gguf_file *file;
    bn_arch arch;
    bn_ffn_act act;
    bn_rope_type rope;
    int has_sub_norms; /* attn_sub_norm and ffn_sub_norm in every layer */
    int has_qk_norm;   /* attn_q_norm and attn_k_norm in every layer (qwen3) */
    int has_norm_in;   /* the seven *_norm_in in every layer (BitNet embeddings) */
    /* The projections are Q2_0 / Q1_0 (kernels/grouped.h): activations go
     * to them as Q8 groups of 32, not per-token int8 (docs/FORWARD.md,
     * Activation quantization). */
    int act_groups;
    bn_pooling pooling; /* the file's pooling_type (BN_POOL_NONE when absent) */
    bn_hparams hp;
    bn_layer *layers;
    bn_arena weights; /* the layers' ternary codes and a requantized output layer */
    int q16;          /* the ternary matrices in the 1.6-bit layout (bn_model_params.weights) */
    bn_dense tok_embd;
    bn_dense output;    /* same data as tok_embd when tied (unless requantized) */
    bn_lm_copy lm_copy; /* of a wide output layer (bn_model_params.lm_copy) */
    float *output_norm;
    bn_tokenizer *tok;
    bn_pool *pool; /* the threads that load the model; NULL once loaded */
    const bn_kernels *kernels;
    int verbose;
    int vocab_only;            /* bn_model_params.vocab_only: no weights, no evaluation */
    uint32_t out_type;         /* the output layer's type once loaded (--lm-head) */
    int n_batch;               /* its contexts' default most tokens per pass */
    const bn_backend *backend; /* runs its passes (bn_model_params.device) */
    void *dev;                 /* the backend's copy of the weights, or NULL */
};

/* Projection i (< 7) of a layer, in the order of bn_proj_names (names.h). */
static inline qk256_matrix *bn_layer_proj(bn_layer *l, size_t i)
{
    qk256_matrix *all[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->wgate, &l->wup, &l->wdown};
    return all[i];
}

/* load.c: the model in host memory, as bn_model_load describes it; the
 * public bn_model_load (src/backend/backend.c) then opens its backend. */
bn_model *bn_model_open(const char *path, const bn_model_params *params, char *err);
void bn_model_close(bn_model *m);
/* Makes m->lm_copy when the output layer is wide (F16, BF16, F32) on
 * m->pool; 0, or -1 out of memory (the model then has none). A layer
 * with infinities or NaNs gets none either: no bound would hold. */
int bn_lm_copy_build(bn_model *m);
void bn_lm_copy_free(bn_lm_copy *lc);

/* dense.c: what the model reads of a bn_dense. */
int bn_dense_supported(uint32_t type);
/* Row `row` as floats into out[0..cols). */
void bn_dense_row(const bn_dense *d, int row, float *out);
#endif
