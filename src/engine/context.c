/*
 * context.c - a context: the worker threads and the scratch buffers of a
 * pass, grown on demand to the largest pass it has run. The model it
 * evaluates is only read, so contexts over one model run side by side.
 */
#include <stdlib.h>

#include "bitnet-perf.h"
#include "engine.h"
#include "kernels/quants.h"
#include "runtime/errors.h"

bn_context_params bn_context_default_params(void)
{
    return (bn_context_params){.n_threads = 0, .n_batch = 0};
}

/* A context of the model: its worker pool (the scratch comes with the first pass). */
bn_context *bn_context_new(bn_model *m, const bn_context_params *params, char err[BN_ERR_LEN])
{
    const bn_context_params p = params ? *params : bn_context_default_params();
    if (p.n_threads < 0 || p.n_batch < 0) {
        bn_errf(err, "negative %s", p.n_threads < 0 ? "thread count" : "batch size");
        return NULL;
    }
    if (m->vocab_only) {
        bn_errf(err, "the model was loaded without its weights (vocab_only): it cannot be "
                     "evaluated");
        return NULL;
    }
    bn_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        bn_errf(err, "out of memory");
        return NULL;
    }
    const int n_threads = p.n_threads ? p.n_threads : bn_available_cores();
    ctx->m = m;
    ctx->n_batch = p.n_batch ? p.n_batch : m->n_batch;
    if (!(ctx->pool = bn_pool_new(n_threads))) {
        bn_errf(err, "cannot start %d threads", n_threads);
        free(ctx);
        return NULL;
    }
    return ctx;
}

static void acts_free(bn_acts *a, int cap)
{
    for (int t = 0; a->tok && t < cap; t++) bn_qact_free(&a->tok[t]);
    for (int t = 0; a->grp && t < cap; t++) bn_q8act_free(&a->grp[t]);
    free(a->tok);
    free(a->grp);
}

/* cap inputs of `width` values, quantized per token or in Q8 groups. */
static int acts_alloc(bn_acts *a, int cap, int width, int groups)
{
    if (groups) {
        if (!(a->grp = calloc((size_t)cap, sizeof *a->grp))) return -1;
        for (int t = 0; t < cap; t++)
            if (bn_q8act_alloc(&a->grp[t], width)) return -1;
        return 0;
    }
    if (!(a->tok = calloc((size_t)cap, sizeof *a->tok))) return -1;
    for (int t = 0; t < cap; t++)
        if (bn_qact_alloc(&a->tok[t], width)) return -1;
    return 0;
}

/* Frees every buffer of a scratch (NULL is fine). */
static void scratch_free(bn_scratch *sc)
{
    if (!sc) return;
    free(sc->x);
    free(sc->xn);
    free(sc->q);
    free(sc->k);
    free(sc->v);
    free(sc->att);
    free(sc->gate);
    free(sc->up);
    free(sc->out);
    free(sc->rope);
    free(sc->scores);
    free(sc->partial);
    acts_free(&sc->qa_xn, sc->cap);
    acts_free(&sc->qa_att, sc->cap);
    acts_free(&sc->qa_ffn, sc->cap);
    for (int t = 0; sc->qa_out && t < sc->cap; t++) bn_q8act_free(&sc->qa_out[t]);
    free(sc->qa_out);
    free(sc->xin);
    free(sc->ids);
    free(sc->pos);
    free(sc->rows);
    free(sc->sess);
    bn_lm_scratch_free(sc->lm);
    free(sc);
}

/* Frees the context's scratch and stops its threads. */
void bn_context_free(bn_context *ctx)
{
    if (!ctx) return;
    scratch_free(ctx->sc);
    bn_pool_free(ctx->pool);
    free(ctx);
}

int bn_context_n_threads(const bn_context *ctx) { return bn_pool_size(ctx->pool); }

void bn_context_set_abort(bn_context *ctx, bn_abort_fn fn, void *data)
{
    ctx->abort = fn;
    ctx->abort_data = data;
}

/* A pool of n_threads workers (0: the cores available); the scratch follows. */
int bn_context_set_threads(bn_context *ctx, int n_threads)
{
    if (n_threads < 1) n_threads = bn_available_cores();
    if (n_threads == bn_pool_size(ctx->pool)) return 0;
    bn_pool *p = bn_pool_new(n_threads);
    if (!p) return -1;
    bn_pool_free(ctx->pool);
    ctx->pool = p;
    scratch_free(ctx->sc); /* its per-thread buffers follow the pool size */
    ctx->sc = NULL;
    return 0;
}

static float *alloc_floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* The quantized inputs of the products, one per token of each width. */
static int alloc_inputs(const bn_model *m, bn_scratch *sc)
{
    const int q_dim = m->hp.n_head * m->hp.head_dim, groups = m->act_groups;
    if (acts_alloc(&sc->qa_xn, sc->cap, m->hp.n_embd, groups) ||
        acts_alloc(&sc->qa_att, sc->cap, q_dim, groups) ||
        acts_alloc(&sc->qa_ffn, sc->cap, m->hp.n_ff, groups))
        return -1;
    if (m->has_norm_in) { /* the widest projection input */
        sc->xin_width = q_dim > m->hp.n_embd ? q_dim : m->hp.n_embd;
        if (m->hp.n_ff > sc->xin_width) sc->xin_width = m->hp.n_ff;
        if (!(sc->xin = alloc_floats((size_t)sc->cap * sc->xin_width))) return -1;
    }
    if (!bn_dense_needs_q8act(m, &m->output)) return 0;
    if (!(sc->qa_out = calloc((size_t)sc->cap, sizeof *sc->qa_out))) return -1;
    for (int t = 0; t < sc->cap; t++)
        if (bn_q8act_alloc(&sc->qa_out[t], m->output.cols)) return -1;
    return 0;
}

/* The buffers of a pass of up to cap tokens over n_ctx positions; NULL out of memory. */
static bn_scratch *scratch_new(const bn_model *m, int n_threads, int cap, int n_ctx)
{
    const bn_hparams *hp = &m->hp;
    const size_t ne = (size_t)hp->n_embd, nf = (size_t)hp->n_ff;
    const size_t q_dim = (size_t)hp->n_head * hp->head_dim;
    const size_t kv_dim = (size_t)hp->n_head_kv * hp->head_dim;
    bn_scratch *sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    sc->cap = cap;
    sc->n_ctx = n_ctx;
    sc->x = alloc_floats(cap * ne);
    sc->xn = alloc_floats(cap * ne);
    sc->q = alloc_floats(cap * q_dim);
    sc->k = alloc_floats(cap * kv_dim);
    sc->v = alloc_floats(cap * kv_dim);
    sc->att = alloc_floats(cap * q_dim);
    sc->gate = alloc_floats(cap * nf);
    sc->up = alloc_floats(cap * nf);
    sc->out = alloc_floats(cap * ne);
    sc->rope = alloc_floats(cap * (size_t)hp->head_dim);
    sc->scores = alloc_floats(bn_attention_scores_floats(hp, n_threads, n_ctx));
    sc->partial = alloc_floats(bn_attention_partial_floats(hp, n_threads, n_ctx));
    sc->ids = calloc((size_t)cap, sizeof *sc->ids);
    sc->pos = calloc((size_t)cap, sizeof *sc->pos);
    sc->rows = calloc((size_t)cap, sizeof *sc->rows);
    sc->sess = calloc((size_t)cap, sizeof(bn_session *));
    const int ok = sc->x && sc->xn && sc->q && sc->k && sc->v && sc->att && sc->gate && sc->up &&
                   sc->out && sc->rope && sc->scores && sc->partial && sc->ids && sc->pos &&
                   sc->rows && sc->sess && !alloc_inputs(m, sc);
    if (ok) return sc;
    scratch_free(sc);
    return NULL;
}

/* The scratch, grown to at least cap tokens and n_ctx positions. */
bn_scratch *bn_context_scratch(bn_context *ctx, int cap, int n_ctx)
{
    bn_scratch *sc = ctx->sc;
    if (sc && sc->cap >= cap && sc->n_ctx >= n_ctx) return sc;
    if (sc) {
        cap = cap > sc->cap ? cap : sc->cap;
        n_ctx = n_ctx > sc->n_ctx ? n_ctx : sc->n_ctx;
        scratch_free(sc);
    }
    ctx->sc = scratch_new(ctx->m, bn_pool_size(ctx->pool), cap, n_ctx);
    return ctx->sc;
}
