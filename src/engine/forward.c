/*
 * forward.c - one pass of a batch of tokens through the transformer
 * (docs/FORWARD.md). A layer reads top to bottom:
 *
 *   attn_norm -> Q, K, V (ternary) -> RoPE -> attention over the KV cache
 *   -> [attn_sub_norm] -> attn_output -> + residual;
 *   ffn_norm -> gate, up (ternary) -> act(gate) * up -> [ffn_sub_norm]
 *   -> down -> + residual.
 *
 * The sub-norms are there in bitnet-b1.58 and bitnet, not in the ternary
 * Llamas (Falcon3, Falcon-E, Llama3-8B-1.58); RoPE pairs and the
 * activation come from the model too (model.h). qwen3 norms each head of
 * q and k before RoPE; the BitNet-embedding layout gives every projection
 * its own input RMSNorm (norm_in), so those take their inputs one by one.
 * Q2_0/Q1_0 projections take their inputs as Q8 groups, the others
 * per-token int8 (docs/FORWARD.md, Activation quantization).
 *
 * Then output_norm and the logits. Between the matrix products, the
 * per-token steps (the functions named *_step) run over the tokens split
 * across the pool; each activation vector is quantized once for the
 * products that share it.
 */
#include <string.h>

#include "engine.h"
#include "kernels/quants.h"
#include "ops.h"

/* What a per-token step sees: the pass, the layer and the scratch. */
typedef struct {
    const bn_model *m;
    const bn_layer *l;
    bn_scratch *sc;
    const bn_pass *b;
    int layer;
    int proj; /* norm_in_step: the projection (names.h order) whose input it norms */
} step_ctx;

typedef void (*token_step)(const step_ctx *c, int t);

typedef struct {
    const step_ctx *c;
    token_step fn;
} step_job;

static void step_task(void *arg, int ith, int nth)
{
    const step_job *j = arg;
    int t0, t1;
    bn_split_range(j->c->b->n, ith, nth, 1, &t0, &t1);
    for (int t = t0; t < t1; t++) j->fn(j->c, t);
}

/* fn for every token: split over the pool, or on this thread for one. */
static void for_each_token(bn_context *ctx, const step_ctx *c, token_step fn)
{
    if (c->b->n == 1) {
        fn(c, 0);
        return;
    }
    step_job j = {c, fn};
    bn_pool_run(ctx->pool, step_task, &j);
}

static float *row(float *base, int t, int width) { return base + (size_t)t * width; }

/* Token t's input x (n wide) quantized as the projections take it: Q8
 * groups for Q2_0/Q1_0, else per-token int8; ff: the FFN-wide buffers. */
static void quantize_input(const step_ctx *c, const float *x, int n, int ff, int t)
{
    const bn_kernels *k = c->m->kernels;
    if (c->m->act_groups)
        (k->q8_quantize ? k->q8_quantize : bn_q8act_quantize_ref)(
            x, n, ff ? &c->sc->qg_ff[t] : &c->sc->qg_embd[t]);
    else
        k->quantize(x, n, ff ? &c->sc->qa_ff[t] : &c->sc->qa_embd[t]);
}

/* out = RMSNorm(x) * w, quantized as above unless the model's projections
 * norm their own inputs first (norm_in_step). */
static void norm_and_quantize(const step_ctx *c, float *out, const float *x, const float *w, int n,
                              int ff, int t)
{
    c->m->kernels->rmsnorm(out, x, w, n, c->m->hp.rms_eps);
    if (!c->m->has_norm_in) quantize_input(c, out, n, ff, t);
}

/* The products of the n_mat matrices w on the quantized inputs (ff: the
 * FFN-wide ones). */
static void products(bn_context *ctx, int n, int ff, int n_mat, const qk256_matrix *const *w,
                     float *const *y)
{
    bn_scratch *sc = ctx->sc;
    bn_ternary_products(ctx, ff ? sc->qa_ff : sc->qa_embd, ff ? sc->qg_ff : sc->qg_embd, n, n_mat,
                        w, y);
}

/* n values into a cache of type t from element off: copied, or rounded to
 * the nearest half, ties to even. */
static void cache_store(void *cache, bn_cache_type t, size_t off, const float *x, int n)
{
    if (t == BN_CACHE_F16) {
        uint16_t *h = (uint16_t *)cache + off;
        for (int i = 0; i < n; i++) h[i] = bn_f32_to_f16(x[i]);
        return;
    }
    memcpy((float *)cache + off, x, (size_t)n * sizeof(float));
}

/* x = the token's embedding; the RoPE angles of its position, which every
 * layer rotates by. */
static void embed_step(const step_ctx *c, int t)
{
    const bn_hparams *hp = &c->m->hp;
    bn_dense_row(&c->m->tok_embd, c->b->ids[t], row(c->sc->x, t, hp->n_embd));
    bn_rope_angles(row(c->sc->rope, t, hp->head_dim), hp->head_dim, c->b->pos[t], hp->rope_base);
}

/* xn = attn_norm(x), quantized */
static void attn_norm_step(const step_ctx *c, int t)
{
    const int ne = c->m->hp.n_embd;
    norm_and_quantize(c, row(c->sc->xn, t, ne), row(c->sc->x, t, ne), c->l->attn_norm, ne, 0, t);
}

/* The input of projection c->proj: xn (q, k, v, gate, up), att (output)
 * or gate (down), and its width. */
static float *proj_input(const step_ctx *c, int t, int *n)
{
    const bn_hparams *hp = &c->m->hp;
    const int q_dim = hp->n_head * hp->head_dim;
    switch (c->proj) {
    case BN_PROJ_OUTPUT: *n = q_dim; return row(c->sc->att, t, q_dim);
    case BN_PROJ_DOWN: *n = hp->n_ff; return row(c->sc->gate, t, hp->n_ff);
    default: *n = hp->n_embd; return row(c->sc->xn, t, hp->n_embd);
    }
}

/* BitNet embeddings: RMSNorm(input, norm_in of the projection), quantized */
static void norm_in_step(const step_ctx *c, int t)
{
    int n;
    const float *in = proj_input(c, t, &n);
    float *out = row(c->sc->pin, t, c->sc->pin_width);
    c->m->kernels->rmsnorm(out, in, c->l->norm_in[c->proj], n, c->m->hp.rms_eps);
    quantize_input(c, out, n, c->proj == BN_PROJ_DOWN, t);
}

/* Projections p0..p0+count-1 (names.h order) that share an input: in one
 * run, or one by one, each after its own input norm (norm_in). */
static void project(bn_context *ctx, const step_ctx *c, int p0, int count, float *const *y)
{
    const bn_layer *l = c->l;
    const qk256_matrix *w[BN_N_PROJ] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->wgate, &l->wup,
                                        &l->wdown};
    const int ff = p0 == BN_PROJ_DOWN;
    if (!c->m->has_norm_in) {
        products(ctx, c->b->n, ff, count, w + p0, y);
        return;
    }
    for (int i = 0; i < count; i++) {
        step_ctx one = *c;
        one.proj = p0 + i;
        for_each_token(ctx, &one, norm_in_step);
        products(ctx, c->b->n, ff, 1, w + p0 + i, y + i);
    }
}

/* qwen3: each head of q and k RMSNormed by attn_q_norm / attn_k_norm */
static void qk_norm_step(const step_ctx *c, int t)
{
    const bn_hparams *hp = &c->m->hp;
    const int hd = hp->head_dim;
    float *q = row(c->sc->q, t, hp->n_head * hd), *k = row(c->sc->k, t, hp->n_head_kv * hd);
    for (int h = 0; h < hp->n_head; h++)
        c->m->kernels->rmsnorm(q + (size_t)h * hd, q + (size_t)h * hd, c->l->attn_q_norm, hd,
                               hp->rms_eps);
    for (int h = 0; h < hp->n_head_kv; h++)
        c->m->kernels->rmsnorm(k + (size_t)h * hd, k + (size_t)h * hd, c->l->attn_k_norm, hd,
                               hp->rms_eps);
}

/* RoPE on q and k; k and v into the session's cache at the token's position */
static void rope_and_cache_step(const step_ctx *c, int t)
{
    const bn_hparams *hp = &c->m->hp;
    const int hd = hp->head_dim, kv_dim = hp->n_head_kv * hd;
    const float *cs = row(c->sc->rope, t, hd);
    float *q = row(c->sc->q, t, hp->n_head * hd), *k = row(c->sc->k, t, kv_dim);
    const float *v = row(c->sc->v, t, kv_dim);
    void (*rope)(float *, int, const float *) =
        c->m->rope == BN_ROPE_NORM ? bn_rope_apply_norm : bn_rope_apply;
    for (int h = 0; h < hp->n_head; h++) rope(q + (size_t)h * hd, hd, cs);
    for (int h = 0; h < hp->n_head_kv; h++) rope(k + (size_t)h * hd, hd, cs);
    const bn_session *s = c->b->sess[t];
    for (int h = 0; h < hp->n_head_kv; h++) {
        const size_t off = bn_kv_row(hp, s->n_ctx, c->layer, h, c->b->pos[t]);
        cache_store(s->k_cache, s->type_k, off, k + (size_t)h * hd, hd);
        cache_store(s->v_cache, s->type_v, off, v + (size_t)h * hd, hd);
    }
}

/* att = attn_sub_norm(att), quantized */
static void attn_sub_norm_step(const step_ctx *c, int t)
{
    const int q_dim = c->m->hp.n_head * c->m->hp.head_dim;
    float *att = row(c->sc->att, t, q_dim);
    norm_and_quantize(c, att, att, c->l->attn_sub_norm, q_dim, 0, t);
}

/* att quantized as it is (no sub-norm) */
static void attn_quantize_step(const step_ctx *c, int t)
{
    const int q_dim = c->m->hp.n_head * c->m->hp.head_dim;
    if (!c->m->has_norm_in) quantize_input(c, row(c->sc->att, t, q_dim), q_dim, 0, t);
}

/* x += the attention output; xn = ffn_norm(x), quantized */
static void ffn_norm_step(const step_ctx *c, int t)
{
    const int ne = c->m->hp.n_embd;
    float *x = row(c->sc->x, t, ne), *xn = row(c->sc->xn, t, ne);
    bn_add_into(x, xn, ne);
    norm_and_quantize(c, xn, x, c->l->ffn_norm, ne, 0, t);
}

/* gate = ffn_sub_norm(act(gate) * up), quantized */
static void ffn_act_step(const step_ctx *c, int t)
{
    const int nf = c->m->hp.n_ff;
    float *gate = row(c->sc->gate, t, nf);
    bn_ffn_activate(c->m->kernels, c->m->act, gate, row(c->sc->up, t, nf), nf);
    norm_and_quantize(c, gate, gate, c->l->ffn_sub_norm, nf, 1, t);
}

/* gate = act(gate) * up, quantized (no sub-norm) */
static void ffn_act_quantize_step(const step_ctx *c, int t)
{
    const int nf = c->m->hp.n_ff;
    float *gate = row(c->sc->gate, t, nf);
    bn_ffn_activate(c->m->kernels, c->m->act, gate, row(c->sc->up, t, nf), nf);
    if (!c->m->has_norm_in) quantize_input(c, gate, nf, 1, t);
}

/* x += the FFN output */
static void residual_step(const step_ctx *c, int t)
{
    const int ne = c->m->hp.n_embd;
    bn_add_into(row(c->sc->x, t, ne), row(c->sc->xn, t, ne), ne);
}

static void layer_forward(bn_context *ctx, const bn_pass *b, int il)
{
    const bn_layer *l = &ctx->m->layers[il];
    bn_scratch *sc = ctx->sc;
    const step_ctx c = {ctx->m, l, sc, b, il, 0};

    for_each_token(ctx, &c, attn_norm_step);
    project(ctx, &c, BN_PROJ_Q, 3, (float *[]){sc->q, sc->k, sc->v});
    if (ctx->m->has_qk_norm) for_each_token(ctx, &c, qk_norm_step);
    for_each_token(ctx, &c, rope_and_cache_step);
    bn_attention(ctx, b, il);
    const int sub_norms = ctx->m->has_sub_norms;
    for_each_token(ctx, &c, sub_norms ? attn_sub_norm_step : attn_quantize_step);
    project(ctx, &c, BN_PROJ_OUTPUT, 1, (float *[]){sc->xn});

    for_each_token(ctx, &c, ffn_norm_step);
    project(ctx, &c, BN_PROJ_GATE, 2, (float *[]){sc->gate, sc->up});
    for_each_token(ctx, &c, sub_norms ? ffn_act_step : ffn_act_quantize_step);
    project(ctx, &c, BN_PROJ_DOWN, 1, (float *[]){sc->xn});
    for_each_token(ctx, &c, residual_step);
}

/* output_norm of the tokens whose logits are wanted, then the output
 * layer; in an embeddings context the normed states are the outputs. */
static void output_forward(bn_context *ctx, const bn_pass *b)
{
    const bn_model *m = ctx->m;
    const int ne = m->hp.n_embd;
    bn_scratch *sc = ctx->sc;
    float *normed = ctx->embeddings ? b->logits : sc->xn;
    for (int i = 0; i < b->n_logits; i++)
        m->kernels->rmsnorm(row(normed, i, ne), row(sc->x, b->logit_rows[i], ne), m->output_norm,
                            ne, m->hp.rms_eps);
    if (ctx->embeddings) return;
    if (b->n_logits) bn_dense_matmul(ctx, &m->output, sc->xn, b->n_logits, sc->qa_out, b->logits);
}

static int aborted(const bn_context *ctx) { return ctx->abort && ctx->abort(ctx->abort_data); }

int bn_forward(bn_context *ctx, const bn_pass *b)
{
    const step_ctx c = {ctx->m, NULL, ctx->sc, b, 0, 0};
    for_each_token(ctx, &c, embed_step);
    for (int il = 0; il < ctx->m->hp.n_layer; il++) {
        if (aborted(ctx)) return BN_ABORTED;
        layer_forward(ctx, b, il);
    }
    if (aborted(ctx)) return BN_ABORTED;
    output_forward(ctx, b);
    return 0;
}
