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
 * activation come from the model too (model.h).
 *
 * Then output_norm and the logits. Between the matrix products, the
 * per-token steps (the functions named *_step) run over the tokens split
 * across the pool; each activation vector is quantized once for the
 * products that share it.
 */
#include <string.h>

#include "engine.h"
#include "ops.h"

/* What a per-token step sees: the pass, the layer and the scratch. */
typedef struct {
    const bn_model *m;
    const bn_layer *l;
    bn_scratch *sc;
    const bn_pass *b;
    int layer;
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

static void norm_and_quantize(const bn_model *m, float *out, const float *x, const float *w, int n,
                              bn_qact *qa)
{
    m->kernels->rmsnorm(out, x, w, n, m->hp.rms_eps);
    m->kernels->quantize(out, n, qa);
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
    norm_and_quantize(c->m, row(c->sc->xn, t, ne), row(c->sc->x, t, ne), c->l->attn_norm, ne,
                      &c->sc->qa_embd[t]);
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
    norm_and_quantize(c->m, att, att, c->l->attn_sub_norm, q_dim, &c->sc->qa_embd[t]);
}

/* att quantized as it is (no sub-norm) */
static void attn_quantize_step(const step_ctx *c, int t)
{
    const int q_dim = c->m->hp.n_head * c->m->hp.head_dim;
    c->m->kernels->quantize(row(c->sc->att, t, q_dim), q_dim, &c->sc->qa_embd[t]);
}

/* x += the attention output; xn = ffn_norm(x), quantized */
static void ffn_norm_step(const step_ctx *c, int t)
{
    const int ne = c->m->hp.n_embd;
    float *x = row(c->sc->x, t, ne), *xn = row(c->sc->xn, t, ne);
    bn_add_into(x, xn, ne);
    norm_and_quantize(c->m, xn, x, c->l->ffn_norm, ne, &c->sc->qa_embd[t]);
}

/* gate = ffn_sub_norm(act(gate) * up), quantized */
static void ffn_act_step(const step_ctx *c, int t)
{
    const int nf = c->m->hp.n_ff;
    float *gate = row(c->sc->gate, t, nf);
    bn_ffn_activate(c->m->kernels, c->m->act, gate, row(c->sc->up, t, nf), nf);
    norm_and_quantize(c->m, gate, gate, c->l->ffn_sub_norm, nf, &c->sc->qa_ff[t]);
}

/* gate = act(gate) * up, quantized (no sub-norm) */
static void ffn_act_quantize_step(const step_ctx *c, int t)
{
    const int nf = c->m->hp.n_ff;
    float *gate = row(c->sc->gate, t, nf);
    bn_ffn_activate(c->m->kernels, c->m->act, gate, row(c->sc->up, t, nf), nf);
    c->m->kernels->quantize(gate, nf, &c->sc->qa_ff[t]);
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
    const step_ctx c = {ctx->m, l, sc, b, il};
    const int n = b->n;

    for_each_token(ctx, &c, attn_norm_step);
    bn_ternary_products(ctx, sc->qa_embd, n, 3, (const qk256_matrix *[]){&l->wq, &l->wk, &l->wv},
                        (float *[]){sc->q, sc->k, sc->v});
    for_each_token(ctx, &c, rope_and_cache_step);
    bn_attention(ctx, b, il);
    const int sub_norms = ctx->m->has_sub_norms;
    for_each_token(ctx, &c, sub_norms ? attn_sub_norm_step : attn_quantize_step);
    bn_ternary_products(ctx, sc->qa_embd, n, 1, (const qk256_matrix *[]){&l->wo},
                        (float *[]){sc->xn});

    for_each_token(ctx, &c, ffn_norm_step);
    bn_ternary_products(ctx, sc->qa_embd, n, 2, (const qk256_matrix *[]){&l->wgate, &l->wup},
                        (float *[]){sc->gate, sc->up});
    for_each_token(ctx, &c, sub_norms ? ffn_act_step : ffn_act_quantize_step);
    bn_ternary_products(ctx, sc->qa_ff, n, 1, (const qk256_matrix *[]){&l->wdown},
                        (float *[]){sc->xn});
    for_each_token(ctx, &c, residual_step);
}

/* output_norm of the tokens whose logits are wanted, then the output layer. */
static void output_forward(bn_context *ctx, const bn_pass *b)
{
    const bn_model *m = ctx->m;
    const int ne = m->hp.n_embd;
    bn_scratch *sc = ctx->sc;
    for (int i = 0; i < b->n_logits; i++)
        m->kernels->rmsnorm(row(sc->xn, i, ne), row(sc->x, b->logit_rows[i], ne), m->output_norm,
                            ne, m->hp.rms_eps);
    if (b->n_logits) bn_lm_head(ctx, b, sc->xn);
}

static int aborted(const bn_context *ctx) { return ctx->abort && ctx->abort(ctx->abort_data); }

int bn_forward(bn_context *ctx, const bn_pass *b)
{
    const step_ctx c = {ctx->m, NULL, ctx->sc, b, 0};
    for_each_token(ctx, &c, embed_step);
    for (int il = 0; il < ctx->m->hp.n_layer; il++) {
        if (aborted(ctx)) return BN_ABORTED;
        layer_forward(ctx, b, il);
    }
    if (aborted(ctx)) return BN_ABORTED;
    output_forward(ctx, b);
    return 0;
}
