/*
 * forward.c - one pass of a batch of tokens through the transformer
 * (docs/FORWARD.md, The layer): the embeddings, the layers, then
 * output_norm and the logits.
 *
 * layer_forward reads like the math, one operation a line. The
 * elementwise operations run token by token, the tokens split over the
 * pool (for_each_token); the matrix products read each weight row once
 * for all the tokens (ternary_matmul.c), attention reads the sessions'
 * caches (attention.c). Each activation vector is quantized once for the
 * products that share it.
 *
 * A norm runs where the layer has its weights: the sub-norms are in
 * bitnet-b1.58 and bitnet, not in the ternary Llamas (Falcon3, Falcon-E,
 * Llama3-8B-1.58); the per-head q/k norms in qwen3; the per-projection
 * input norms (norm_in) in the BitNet-embedding layout. RoPE pairs and the
 * activation come from the model too (model.h), and so does how the
 * products' inputs are quantized: per token, or in Q8 groups for Q2_0 and
 * Q1_0 projections. An embeddings context stops at output_norm.
 */
#include <string.h>

#include "engine.h"
#include "kernels/quants.h"
#include "ops.h"

/* ================== one elementwise operation on every token of a pass */

/* row(op, t) does token t; the other fields are the operands, rows of
 * `width` values for token t at t * width (each operation says which it
 * uses). */
typedef struct token_op token_op;
struct token_op {
    void (*row)(const token_op *op, int t);
    const bn_model *m;
    const bn_pass *b;
    int width;
    float *y;       /* the rows written */
    const float *x; /* the rows read */
    const float *w; /* a norm's weights */
    bn_acts *qa;    /* the quantized rows */
    int layer;      /* cache_store: the layer, */
    int values;     /* and 0 for the key cache, 1 for the value cache */
};

/* A thread's share of the tokens, op->row on each. */
static void token_task(void *arg, int ith, int nth)
{
    const token_op *op = arg;
    int t0, t1;
    bn_split_range(op->b->n, ith, nth, 1, &t0, &t1);
    for (int t = t0; t < t1; t++) op->row(op, t);
}

/* The one place a layer's elementwise work meets the pool: the tokens
 * split over it, or a single token on this thread. */
static void for_each_token(bn_context *ctx, const token_op *op)
{
    if (op->b->n == 1) {
        op->row(op, 0);
        return;
    }
    bn_pool_run(ctx->pool, token_task, (void *)op);
}

static float *out_row(const token_op *op, int t) { return op->y + (size_t)t * op->width; }
static const float *in_row(const token_op *op, int t) { return op->x + (size_t)t * op->width; }

static void rmsnorm_row(const token_op *op, int t)
{
    op->m->kernels->rmsnorm(out_row(op, t), in_row(op, t), op->w, op->width, op->m->hp.rms_eps);
}

/* y = RMSNorm(x) * w for every token (y may be x). */
static void rmsnorm(bn_context *ctx, const bn_pass *b, float *y, const float *x, const float *w,
                    int width)
{
    const token_op op = {
        .row = rmsnorm_row, .m = ctx->m, .b = b, .width = width, .y = y, .x = x, .w = w};
    for_each_token(ctx, &op);
}

/* Each head of the token's row (head_dim values) RMSNormed by w. */
static void head_rmsnorm_row(const token_op *op, int t)
{
    const int hd = op->m->hp.head_dim;
    float *v = out_row(op, t);
    for (int h = 0; h < op->width / hd; h++)
        op->m->kernels->rmsnorm(v + (size_t)h * hd, v + (size_t)h * hd, op->w, hd,
                                op->m->hp.rms_eps);
}

/* y = RMSNorm(head) * w for every head of every token (qwen3's q/k norms). */
static void head_rmsnorm(bn_context *ctx, const bn_pass *b, float *y, const float *w, int width)
{
    const token_op op = {
        .row = head_rmsnorm_row, .m = ctx->m, .b = b, .width = width, .y = y, .w = w};
    for_each_token(ctx, &op);
}

static void quantize_row(const token_op *op, int t)
{
    const bn_kernels *k = op->m->kernels;
    if (op->qa->grp)
        (k->q8_quantize ? k->q8_quantize : bn_q8act_quantize_ref)(in_row(op, t), op->width,
                                                                  &op->qa->grp[t]);
    else
        k->quantize(in_row(op, t), op->width, &op->qa->tok[t]);
}

/* qa = x quantized to int8, token by token: per token, or in Q8 groups
 * for Q2_0/Q1_0 projections (docs/FORWARD.md, Activation quantization). */
static void quantize(bn_context *ctx, const bn_pass *b, bn_acts *qa, const float *x, int width)
{
    const token_op op = {
        .row = quantize_row, .m = ctx->m, .b = b, .width = width, .x = x, .qa = qa};
    for_each_token(ctx, &op);
}

static void add_row(const token_op *op, int t)
{
    bn_add_into(out_row(op, t), in_row(op, t), op->width);
}

/* y += x for every token. */
static void add(bn_context *ctx, const bn_pass *b, float *y, const float *x, int width)
{
    const token_op op = {.row = add_row, .m = ctx->m, .b = b, .width = width, .y = y, .x = x};
    for_each_token(ctx, &op);
}

static void activate_row(const token_op *op, int t)
{
    bn_ffn_activate(op->m->kernels, op->m->act, out_row(op, t), in_row(op, t), op->width);
}

/* gate = act(gate) * up for every token. */
static void activate(bn_context *ctx, const bn_pass *b, float *gate, const float *up, int width)
{
    const token_op op = {
        .row = activate_row, .m = ctx->m, .b = b, .width = width, .y = gate, .x = up};
    for_each_token(ctx, &op);
}

/* Every head of the token's row rotated by the angles of its position. */
static void rope_row(const token_op *op, int t)
{
    const int hd = op->m->hp.head_dim;
    const float *cs = op->x + (size_t)t * hd;
    float *v = out_row(op, t);
    void (*apply)(float *, int, const float *) = op->m->rope == BN_ROPE_NORM ? bn_rope_apply_norm
                                                                             : bn_rope_apply;
    for (int h = 0; h < op->width / hd; h++) apply(v + (size_t)h * hd, hd, cs);
}

/* RoPE on every head of y (width values a token) by the angles of each
 * token's position, `angles` (docs/FORWARD.md, RoPE). */
static void rope(bn_context *ctx, const bn_pass *b, float *y, const float *angles, int width)
{
    const token_op op = {.row = rope_row, .m = ctx->m, .b = b, .width = width, .y = y, .x = angles};
    for_each_token(ctx, &op);
}

/* n values into a cache of type t from element off: copied, or rounded to
 * the nearest half, ties to even. */
static void cache_put(void *cache, bn_cache_type t, size_t off, const float *x, int n)
{
    if (t == BN_CACHE_F16) {
        uint16_t *h = (uint16_t *)cache + off;
        for (int i = 0; i < n; i++) h[i] = bn_f32_to_f16(x[i]);
        return;
    }
    memcpy((float *)cache + off, x, (size_t)n * sizeof(float));
}

/* The token's kv heads into its session's key or value cache at its
 * position. */
static void cache_store_row(const token_op *op, int t)
{
    const bn_hparams *hp = &op->m->hp;
    const bn_session *s = op->b->sess[t];
    void *cache = op->values ? s->v_cache : s->k_cache;
    const bn_cache_type type = op->values ? s->type_v : s->type_k;
    const float *x = in_row(op, t);
    for (int h = 0; h < hp->n_head_kv; h++) {
        const size_t off = bn_kv_row(hp, s->n_ctx, op->layer, h, op->b->pos[t]);
        cache_put(cache, type, off, x + (size_t)h * hp->head_dim, hp->head_dim);
    }
}

/* Layer il's keys (values 0) or values (values 1) x into the sessions'
 * caches. */
static void cache_store(bn_context *ctx, const bn_pass *b, int il, int values, const float *x)
{
    const token_op op = {.row = cache_store_row,
                         .m = ctx->m,
                         .b = b,
                         .width = ctx->m->hp.n_head_kv * ctx->m->hp.head_dim,
                         .x = x,
                         .layer = il,
                         .values = values};
    for_each_token(ctx, &op);
}

static void embed_row(const token_op *op, int t)
{
    bn_dense_row(&op->m->tok_embd, op->b->ids[t], out_row(op, t));
}

/* x = the tokens' embeddings. */
static void embed(bn_context *ctx, const bn_pass *b, float *x)
{
    const token_op op = {.row = embed_row, .m = ctx->m, .b = b, .width = ctx->m->hp.n_embd, .y = x};
    for_each_token(ctx, &op);
}

static void rope_angles_row(const token_op *op, int t)
{
    const bn_hparams *hp = &op->m->hp;
    bn_rope_angles(out_row(op, t), hp->head_dim, op->b->pos[t], hp->rope_base);
}

/* The cos and sin of each token's position, which every layer rotates q
 * and k by. */
static void rope_angles(bn_context *ctx, const bn_pass *b, float *angles)
{
    const token_op op = {
        .row = rope_angles_row, .m = ctx->m, .b = b, .width = ctx->m->hp.head_dim, .y = angles};
    for_each_token(ctx, &op);
}

/* ============================================================ the pass */

/* The products p[0..n) of projections first, first + 1, ... (names.h) on
 * x, width values a token: x quantized once for all of them, or, in a
 * layer with input norms (BitNet embeddings), each on its own
 * RMSNorm(x) * norm_in, quantized. */
static void project(bn_context *ctx, const bn_pass *b, const bn_layer *l, int first, const float *x,
                    int width, bn_acts *qa, int n, const bn_product *p)
{
    if (!l->norm_in[first]) {
        quantize(ctx, b, qa, x, width);         /* int8 x */
        bn_ternary_matmul(ctx, qa, b->n, n, p); /* y_i = W_i x */
        return;
    }
    for (int i = 0; i < n; i++) {
        float *xin = ctx->sc->xin;
        rmsnorm(ctx, b, xin, x, l->norm_in[first + i], width); /* xin = RMSNorm(x) * norm_in_i */
        quantize(ctx, b, qa, xin, width);                      /* int8 xin */
        bn_ternary_matmul(ctx, qa, b->n, 1, &p[i]);            /* y_i = W_i xin */
    }
}

/* Layer il on every token of the pass: x, the residual stream, goes in
 * and comes out; docs/FORWARD.md, The layer, numbers the steps. */
static void layer_forward(bn_context *ctx, const bn_pass *b, int il)
{
    const bn_layer *l = &ctx->m->layers[il];
    const bn_hparams *hp = &ctx->m->hp;
    const int ne = hp->n_embd, nf = hp->n_ff;
    const int q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    bn_scratch *s = ctx->sc;

    /* attention */
    rmsnorm(ctx, b, s->xn, s->x, l->attn_norm, ne);        /* xn = RMSNorm(x) * attn_norm */
    project(ctx, b, l, BN_PROJ_Q, s->xn, ne, &s->qa_xn, 3, /* q = Wq xn, k = Wk xn, v = Wv xn */
            (bn_product[]){{&l->wq, s->q}, {&l->wk, s->k}, {&l->wv, s->v}});
    if (l->attn_q_norm) {
        head_rmsnorm(ctx, b, s->q, l->attn_q_norm, q_dim);  /* q = RMSNorm(q) * q_norm per head */
        head_rmsnorm(ctx, b, s->k, l->attn_k_norm, kv_dim); /* k = RMSNorm(k) * k_norm per head */
    }
    rope(ctx, b, s->q, s->rope, q_dim);  /* q = RoPE(q) */
    rope(ctx, b, s->k, s->rope, kv_dim); /* k = RoPE(k) */
    cache_store(ctx, b, il, 0, s->k);    /* k into the key cache */
    cache_store(ctx, b, il, 1, s->v);    /* v into the value cache */
    bn_attention(ctx, b, il);            /* att = softmax(q K / sqrt(d)) V */
    if (l->attn_sub_norm)
        rmsnorm(ctx, b, s->att, s->att, l->attn_sub_norm, q_dim);    /* att = RMSNorm(att) * sub */
    project(ctx, b, l, BN_PROJ_OUTPUT, s->att, q_dim, &s->qa_att, 1, /* out = Wo att */
            &(bn_product){&l->wo, s->out});
    add(ctx, b, s->x, s->out, ne); /* x += out */

    /* feed-forward */
    rmsnorm(ctx, b, s->xn, s->x, l->ffn_norm, ne);            /* xn = RMSNorm(x) * ffn_norm */
    project(ctx, b, l, BN_PROJ_GATE, s->xn, ne, &s->qa_xn, 2, /* gate = Wgate xn, up = Wup xn */
            (bn_product[]){{&l->wgate, s->gate}, {&l->wup, s->up}});
    activate(ctx, b, s->gate, s->up, nf); /* gate = act(gate) * up */
    if (l->ffn_sub_norm)
        rmsnorm(ctx, b, s->gate, s->gate, l->ffn_sub_norm, nf);  /* gate = RMSNorm(gate) * sub */
    project(ctx, b, l, BN_PROJ_DOWN, s->gate, nf, &s->qa_ffn, 1, /* out = Wdown gate */
            &(bn_product){&l->wdown, s->out});
    add(ctx, b, s->x, s->out, ne); /* x += out */
}

/* output_norm of the tokens whose logits are wanted, then the output
 * layer; in an embeddings context the normed states are the outputs. */
static void output_forward(bn_context *ctx, const bn_pass *b)
{
    const bn_model *m = ctx->m;
    const int ne = m->hp.n_embd;
    bn_scratch *s = ctx->sc;
    float *normed = ctx->embeddings ? b->logits : s->xn;
    for (int i = 0; i < b->n_logits; i++)
        m->kernels->rmsnorm(normed + (size_t)i * ne, s->x + (size_t)b->logit_rows[i] * ne,
                            m->output_norm, ne, m->hp.rms_eps);
    if (ctx->embeddings) return;
    if (b->n_logits) bn_lm_head(ctx, b, s->xn);
}

static int aborted(const bn_context *ctx) { return ctx->abort && ctx->abort(ctx->abort_data); }

/* The pass: embeddings, every layer (abortable between them), then the logits. */
int bn_forward(bn_context *ctx, const bn_pass *b)
{
    embed(ctx, b, ctx->sc->x);
    rope_angles(ctx, b, ctx->sc->rope);
    for (int il = 0; il < ctx->m->hp.n_layer; il++) {
        if (aborted(ctx)) return BN_ABORTED;
        layer_forward(ctx, b, il);
    }
    if (aborted(ctx)) return BN_ABORTED;
    output_forward(ctx, b);
    return 0;
}
