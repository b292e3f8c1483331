/*
 * forward.c - a session (KV cache + scratch) and the transformer forward
 * pass of BitNet b1.58, one token at a time (spec section 6).
 *
 * Per layer: attn_norm -> Q,K,V (ternary) -> NEOX RoPE -> grouped-query
 * attention over the F32 KV cache -> attn_sub_norm -> attn_output -> +residual;
 * ffn_norm -> gate,up (ternary) -> act(gate)*up -> ffn_sub_norm -> down ->
 * +residual. Then output_norm and the logits. Every matrix product runs on
 * the thread pool; an activation vector feeding several products (Q/K/V,
 * gate/up) is quantized once and the products share one pool dispatch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define MATVEC_ROW_ALIGN 16 /* 16 floats of output = one cache line per chunk */
#define MAX_FUSED 3

struct bn_session {
    bn_model *m;
    int n_ctx;
    int n_past;
    long n_evaluated;
    float *k_cache, *v_cache; /* [layer][position][n_head_kv * head_dim] */
    float *x;                 /* residual stream, n_embd */
    float *xn;                /* normed input of a block, n_embd */
    float *q, *k, *v;         /* projections of the current token */
    float *att;               /* attention output (all heads), n_head * head_dim */
    float *scores;            /* n_head * n_ctx */
    float *gate, *up;         /* n_ff each */
    float *logits;            /* n_vocab */
    bn_qact qa_embd;          /* quantized activations of width n_embd */
    bn_qact qa_ff;            /* ... of width n_ff */
};

/* ------------------------------------------------------------ elementwise */

/* spec 6.2: squares summed in double, scale in float, then times the weight. */
void bn_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    float mean = (float)(sum / n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) out[i] = (x[i] * scale) * w[i];
}

/* spec 6.3: NEOX pairs (i, i + d/2); theta advances by an iterative float
 * multiply, as the reference does, not by pow per element. */
void bn_rope_neox(float *v, int head_dim, int pos, float base)
{
    const int half = head_dim / 2;
    const float theta_scale = powf(base, -2.0f / (float)head_dim);
    float theta = (float)pos;
    for (int i = 0; i < half; i++) {
        float c = cosf(theta), s = sinf(theta);
        float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * c - x1 * s;
        v[i + half] = x0 * s + x1 * c;
        theta *= theta_scale;
    }
}

static void ffn_activate(const bn_model *m, float *gate, const float *up, int n)
{
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        if (m->act == BN_ACT_RELU2) {
            g = g > 0.0f ? g * g : 0.0f;
        } else {
            g = g / (1.0f + expf(-g));
        }
        gate[i] = g * up[i];
    }
}

/* --------------------------------------------------------- matrix products */

typedef struct {
    const bn_kernels *k;
    const bn_qact *a;
    int n;
    const qk256_matrix *w[MAX_FUSED];
    float *y[MAX_FUSED];
} matvec_job;

static void matvec_task(void *arg, int ith, int nth)
{
    const matvec_job *j = arg;
    for (int i = 0; i < j->n; i++) {
        int r0, r1;
        bn_split_range(j->w[i]->rows, ith, nth, MATVEC_ROW_ALIGN, &r0, &r1);
        if (r0 < r1) j->k->qk256_matvec(j->w[i], j->a, j->y[i], r0, r1);
    }
}

/* Quantizes x once, then y[i] = w[i] * x for every i, in one pool run. */
static void ternary_products(bn_session *s, bn_qact *qa, const float *x, int n,
                             const qk256_matrix *const *w, float *const *y)
{
    const bn_model *m = s->m;
    m->kernels->quantize(x, qa->n, qa);
    matvec_job j = {.k = m->kernels, .a = qa, .n = n};
    for (int i = 0; i < n; i++) {
        j.w[i] = w[i];
        j.y[i] = y[i];
    }
    bn_pool_run(m->pool, matvec_task, &j);
}

/* -------------------------------------------------------------- attention */

typedef struct {
    bn_session *s;
    int layer;
    int pos;
} attention_job;

/* Causal attention of one query head over positions 0..pos (spec 6.1.6). */
static void attend_head(bn_session *s, int layer, int pos, int h)
{
    const bn_hparams *hp = &s->m->hp;
    const int hd = hp->head_dim, kv_dim = hp->n_head_kv * hd;
    const int kvh = h / (hp->n_head / hp->n_head_kv);
    const float *q = s->q + h * hd;
    const float *kc = s->k_cache + (size_t)layer * s->n_ctx * kv_dim + kvh * hd;
    const float *vc = s->v_cache + (size_t)layer * s->n_ctx * kv_dim + kvh * hd;
    float *sc = s->scores + (size_t)h * s->n_ctx;
    const float scale = 1.0f / sqrtf((float)hd);
    float max = -INFINITY;
    for (int t = 0; t <= pos; t++) {
        const float *k = kc + (size_t)t * kv_dim;
        float dot = 0.0f;
        for (int i = 0; i < hd; i++) dot += q[i] * k[i];
        sc[t] = dot * scale;
        if (sc[t] > max) max = sc[t];
    }
    double sum = 0.0;
    for (int t = 0; t <= pos; t++) {
        sc[t] = expf(sc[t] - max);
        sum += sc[t];
    }
    const float inv = (float)(1.0 / sum);
    float *out = s->att + h * hd;
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int t = 0; t <= pos; t++) {
        const float *v = vc + (size_t)t * kv_dim;
        const float p = sc[t] * inv;
        for (int i = 0; i < hd; i++) out[i] += p * v[i];
    }
}

static void attention_task(void *arg, int ith, int nth)
{
    attention_job *j = arg;
    int h0, h1;
    bn_split_range(j->s->m->hp.n_head, ith, nth, 1, &h0, &h1);
    for (int h = h0; h < h1; h++) attend_head(j->s, j->layer, j->pos, h);
}

/* ---------------------------------------------------------------- layers */

static void attention_block(bn_session *s, int il, int pos)
{
    const bn_model *m = s->m;
    const bn_hparams *hp = &m->hp;
    const bn_layer *l = &m->layers[il];
    const int hd = hp->head_dim, kv_dim = hp->n_head_kv * hd;

    bn_rmsnorm(s->xn, s->x, l->attn_norm, hp->n_embd, hp->rms_eps);
    float *kdst = s->k_cache + ((size_t)il * s->n_ctx + pos) * kv_dim;
    float *vdst = s->v_cache + ((size_t)il * s->n_ctx + pos) * kv_dim;
    const qk256_matrix *w[] = {&l->wq, &l->wk, &l->wv};
    float *const y[] = {s->q, kdst, vdst};
    ternary_products(s, &s->qa_embd, s->xn, 3, w, y);
    for (int h = 0; h < hp->n_head; h++) bn_rope_neox(s->q + h * hd, hd, pos, hp->rope_base);
    for (int h = 0; h < hp->n_head_kv; h++) bn_rope_neox(kdst + h * hd, hd, pos, hp->rope_base);

    attention_job aj = {s, il, pos};
    bn_pool_run(m->pool, attention_task, &aj);

    bn_rmsnorm(s->att, s->att, l->attn_sub_norm, hp->n_head * hd, hp->rms_eps);
    const qk256_matrix *wo[] = {&l->wo};
    float *const yo[] = {s->xn};
    ternary_products(s, &s->qa_embd, s->att, 1, wo, yo);
    for (int i = 0; i < hp->n_embd; i++) s->x[i] += s->xn[i];
}

static void ffn_block(bn_session *s, int il)
{
    const bn_model *m = s->m;
    const bn_hparams *hp = &m->hp;
    const bn_layer *l = &m->layers[il];

    bn_rmsnorm(s->xn, s->x, l->ffn_norm, hp->n_embd, hp->rms_eps);
    const qk256_matrix *w[] = {&l->wgate, &l->wup};
    float *const y[] = {s->gate, s->up};
    ternary_products(s, &s->qa_embd, s->xn, 2, w, y);
    ffn_activate(m, s->gate, s->up, hp->n_ff);
    bn_rmsnorm(s->gate, s->gate, l->ffn_sub_norm, hp->n_ff, hp->rms_eps);
    const qk256_matrix *wd[] = {&l->wdown};
    float *const yd[] = {s->xn};
    ternary_products(s, &s->qa_ff, s->gate, 1, wd, yd);
    for (int i = 0; i < hp->n_embd; i++) s->x[i] += s->xn[i];
}

static void forward_token(bn_session *s, int32_t id, int pos, int want_logits)
{
    const bn_model *m = s->m;
    bn_dense_row(&m->tok_embd, id, s->x);
    for (int il = 0; il < m->hp.n_layer; il++) {
        attention_block(s, il, pos);
        ffn_block(s, il);
    }
    if (!want_logits) return;
    bn_rmsnorm(s->xn, s->x, m->output_norm, m->hp.n_embd, m->hp.rms_eps);
    bn_dense_matvec(m, &m->output, s->xn, s->logits);
}

/* --------------------------------------------------------------- sessions */

static float *alloc_floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

bn_session *bn_session_new(bn_model *m, int n_ctx, char err[BN_ERR_LEN])
{
    const bn_hparams *hp = &m->hp;
    if (n_ctx <= 0) n_ctx = hp->n_ctx_train;
    if (n_ctx > hp->n_ctx_train) {
        snprintf(err, BN_ERR_LEN, "context size %d exceeds the model's context length %d", n_ctx,
                 hp->n_ctx_train);
        return NULL;
    }
    bn_session *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->m = m;
    s->n_ctx = n_ctx;
    const size_t kv_dim = (size_t)hp->n_head_kv * hp->head_dim;
    const size_t cache = (size_t)hp->n_layer * n_ctx * kv_dim;
    const size_t q_dim = (size_t)hp->n_head * hp->head_dim;
    s->k_cache = alloc_floats(cache);
    s->v_cache = alloc_floats(cache);
    s->x = alloc_floats(hp->n_embd);
    s->xn = alloc_floats(hp->n_embd);
    s->q = alloc_floats(q_dim);
    s->att = alloc_floats(q_dim);
    s->scores = alloc_floats((size_t)hp->n_head * n_ctx);
    s->gate = alloc_floats(hp->n_ff);
    s->up = alloc_floats(hp->n_ff);
    s->logits = alloc_floats(hp->n_vocab);
    if (!s->k_cache || !s->v_cache || !s->x || !s->xn || !s->q || !s->att || !s->scores ||
        !s->gate || !s->up || !s->logits || bn_qact_alloc(&s->qa_embd, hp->n_embd) ||
        bn_qact_alloc(&s->qa_ff, hp->n_ff))
        goto oom;
    return s;
oom:
    bn_session_free(s);
    snprintf(err, BN_ERR_LEN, "out of memory for a context of %d tokens", n_ctx);
    return NULL;
}

void bn_session_free(bn_session *s)
{
    if (!s) return;
    free(s->k_cache);
    free(s->v_cache);
    free(s->x);
    free(s->xn);
    free(s->q);
    free(s->att);
    free(s->scores);
    free(s->gate);
    free(s->up);
    free(s->logits);
    bn_qact_free(&s->qa_embd);
    bn_qact_free(&s->qa_ff);
    free(s);
}

void bn_session_reset(bn_session *s) { s->n_past = 0; }
int bn_session_n_ctx(const bn_session *s) { return s->n_ctx; }
int bn_session_n_past(const bn_session *s) { return s->n_past; }
long bn_session_n_evaluated(const bn_session *s) { return s->n_evaluated; }

int bn_session_eval(bn_session *s, const int32_t *ids, int n, const float **logits,
                    char err[BN_ERR_LEN])
{
    if (n <= 0) {
        snprintf(err, BN_ERR_LEN, "nothing to evaluate");
        return -1;
    }
    if (n > s->n_ctx - s->n_past) {
        snprintf(err, BN_ERR_LEN, "%d tokens do not fit in the context (%d of %d used)", n,
                 s->n_past, s->n_ctx);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= s->m->hp.n_vocab) {
            snprintf(err, BN_ERR_LEN, "token id %d is out of range (vocabulary of %d)", ids[i],
                     s->m->hp.n_vocab);
            return -1;
        }
    for (int i = 0; i < n; i++) {
        forward_token(s, ids[i], s->n_past, i == n - 1);
        s->n_past++;
        s->n_evaluated++;
    }
    if (logits) *logits = s->logits;
    return 0;
}
