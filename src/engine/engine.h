/*
 * engine.h - what the engine's files share (internal): a context (worker
 * threads and the scratch of a pass), a session (one sequence's KV cache)
 * and a batch as a pass sees it.
 *
 * eval.c checks and splits a bn_eval batch into passes; forward.c runs a
 * pass through the layers; attention.c, ternary_matmul.c, dense_matmul.c
 * and ops.c are the steps a layer takes; session.c and context.c own the
 * memory.
 */
#ifndef BN_ENGINE_H
#define BN_ENGINE_H

#include "bitnet.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "runtime/threadpool.h"

typedef struct bn_lm_scratch bn_lm_scratch;
/* A pass's inputs of one width quantized as the model's projections take
 * them (docs/FORWARD.md, Activation quantization): per-token int8 (tok),
 * or Q8 groups of 32 (grp) for Q2_0/Q1_0 projections (act_groups); [cap]
 * each, the one not used NULL. */
typedef struct {
    bn_qact *tok;
    bn_q8act *grp;
} bn_acts;

/* Buffers of one pass of up to `cap` tokens over sessions of up to n_ctx
 * positions (context.c sizes them). */
typedef struct {
    int cap;
    int n_ctx;        /* positions the score buffers hold */
    float *x;         /* [cap][n_embd] the residual stream */
    float *xn;        /* [cap][n_embd] x normed: the input of a block or of the output layer */
    float *q;         /* [cap][q_dim] the queries */
    float *k, *v;     /* [cap][kv_dim] the keys and values, copied into the caches */
    float *att;       /* [cap][q_dim] the attention heads' outputs, concatenated */
    float *gate, *up; /* [cap][n_ff] the FFN's projections; gate then act(gate) * up */
    float *out;       /* [cap][n_embd] a block's output, before it joins x */
    float *rope;      /* [cap][head_dim] each token's RoPE cos and sin */
    float *scores;    /* attention.c: [n_threads][group][n_ctx], or [token][n_head][n_ctx] */
    float *partial;   /* attention.c: per-thread or per-chunk weighted sums */
    bn_acts qa_xn;    /* xn quantized, width n_embd */
    bn_acts qa_att;   /* att quantized, width q_dim */
    bn_acts qa_ffn;   /* the FFN's gate quantized, width n_ff */
    float *xin; /* [cap][xin_width] a projection's input after its own norm (norm_in), else NULL */
    int xin_width;
    bn_q8act *qa_out;  /* [cap] inputs of a Q8_0 / Q6_K output layer, else NULL */
    int32_t *ids;      /* [cap]: the pass's tokens, */
    int *pos, *rows;   /* their positions and the tokens whose logits are wanted */
    bn_session **sess; /* [cap]: the session of each token */
    bn_lm_scratch *lm; /* lm_head.c's, made on first use */
} bn_scratch;

struct bn_context {
    const bn_model *m;
    bn_pool *pool;
    int n_batch;
    bn_abort_fn abort;
    void *abort_data;
    bn_scratch *sc; /* grown on demand (bn_context_scratch) */
    int embeddings; /* outputs are the final normed hidden states, not logits */
};

struct bn_session {
    bn_model *m;
    bn_context *ctx; /* runs bn_session_eval */
    int owns_ctx;    /* ctx was made for this session and goes with it */
    int n_ctx;
    int n_past;
    int n_pending; /* eval.c: tokens of this session ahead in the batch being checked */
    long n_evaluated;
    bn_cache_type type_k, type_v; /* the element types of k_cache and v_cache */
    void *k_cache, *v_cache;      /* [layer][kv head][position][head_dim] (bn_kv_row) */
    float *logits;                /* n_vocab: after the last evaluated token */
    void *dev;                    /* the KV cache on the model's device, or NULL */
    int logits_top;               /* bn_session_set_logits_top; 0 = every logit exact */
    long n_logit_vectors;         /* logit vectors written, */
    long n_exact_rows;            /* and the rows of them computed exactly */
};

/* One pass: n tokens, each with its session and position; the logits of
 * the tokens logit_rows[0..n_logits) go to logits[i * n_vocab]. */
typedef struct {
    int n;
    const int32_t *ids;
    bn_session *const *sess;
    const int *pos;
    float *logits;
    const int *logit_rows;
    int n_logits;
} bn_pass;

/* The seam between bn_eval and the hardware that runs a pass: a model's
 * backend (src/backend/ implements them; bn_model_params.device picks one
 * at load). */
typedef void (*bn_line_fn)(const char *line, void *data);

struct bn_backend {
    const char *name; /* "cpu", "vulkan": what --device names */
    /* Puts the model's weights on device `index`; 0, or -1 with err set. */
    int (*model_open)(bn_model *m, int index, char *err);
    void (*model_close)(bn_model *m);
    /* A session's KV cache on the device (s->dev); NULL: the host caches
     * of session.c. */
    int (*session_open)(bn_session *s, char *err);
    void (*session_close)(bn_session *s);
    /* One pass; 0, BN_ABORTED, or -1 with err set (a lost device). */
    int (*pass)(bn_context *ctx, const bn_pass *p, char *err);
    /* The device's name for --bench and -v ("" on the CPU). */
    const char *(*device_name)(const bn_model *m);
    /* One line per device this backend can open; returns their count. */
    int (*list)(bn_line_fn emit, void *data);
};

/* context.c: the scratch for `cap` tokens and `n_ctx` positions, or NULL
 * out of memory. */
bn_scratch *bn_context_scratch(bn_context *ctx, int cap, int n_ctx);

/* forward.c: the pass through every layer and the output; 0 or BN_ABORTED. */
int bn_forward(bn_context *ctx, const bn_pass *p);

/* attention.c: causal attention of layer il for every token of the pass,
 * from sc->q into sc->att, over the sessions' caches. */
void bn_attention(bn_context *ctx, const bn_pass *p, int il);
/* The element offset of kv head h's row at position pos of a layer in
 * either cache. */
size_t bn_kv_row(const bn_hparams *hp, int n_ctx, int layer, int h, int pos);
/* The scratch sizes attention needs for n_threads and n_ctx positions. */
size_t bn_attention_scores_floats(const bn_hparams *hp, int n_threads, int n_ctx);
size_t bn_attention_partial_floats(const bn_hparams *hp, int n_threads, int n_ctx);

/* One ternary product of a pass: y = w * the pass's quantized tokens,
 * [n_tok][w->rows]. */
typedef struct {
    const qk256_matrix *w;
    float *y;
} bn_product;

/* ternary_matmul.c: the n products p[i] of the same n_tok quantized
 * tokens qa, in one pool run. */
void bn_ternary_matmul(bn_context *ctx, const bn_acts *qa, int n_tok, int n, const bn_product *p);

/* dense_matmul.c: y[i][0..rows) = d * x[i] for the n vectors x[i], on the
 * pool; qx holds n quantized inputs when bn_dense_needs_q8act(d). */
int bn_dense_needs_q8act(const bn_model *m, const bn_dense *d);
void bn_dense_matmul(bn_context *ctx, const bn_dense *d, const float *x, int n, bn_q8act *qx,
                     float *y);

/* dense_matmul.c: y[r] = row r of d times x for r in [r0, r1), as
 * bn_dense_matmul gives it for one vector x that needs no q8 input. */
void bn_dense_rows(const bn_kernels *k, const bn_dense *d, const float *x, float *y, int r0,
                   int r1);

/* lm_head.c: the logits of the pass's logit rows, whose inputs (normed) are
 * x[i * n_embd], into p->logits: every row exact, or for sessions that
 * want only their best rows, those exact and the rows proven below them
 * -INFINITY. */
void bn_lm_head(bn_context *ctx, const bn_pass *p, const float *x);
void bn_lm_scratch_free(bn_lm_scratch *ls);

#endif
