/*
 * forward.c - sessions (one sequence's KV cache) and the transformer
 * forward pass of BitNet b1.58 over a batch of tokens (spec section 6).
 *
 * Per layer: attn_norm -> Q,K,V (ternary) -> NEOX RoPE -> grouped-query
 * attention over the KV cache (F32 by default, F16 on request) ->
 * attn_sub_norm -> attn_output -> +residual;
 * ffn_norm -> gate,up (ternary) -> act(gate)*up -> ffn_sub_norm -> down ->
 * +residual. Then output_norm and the logits.
 *
 * A batch is a list of tokens, each with its own session and position: the
 * tokens of one prompt (prefill, consecutive positions of one session) or
 * the next token of several sessions (batched decoding). Every weight row is
 * read once per batch and applied to all its tokens, so a prompt costs far
 * less than one pass per token. Each activation vector is quantized once
 * and the products that share it (Q/K/V, gate/up) share one pool run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "model/model.h"

#define ROW_CHUNK 16 /* rows per inner chunk: their codes stay in L1 across the batch */
#define TOKEN_BLOCK 64 /* prompt tokens per pass over a claim of rows: 64 x 6912 int8 = 442 KB */
#define MAX_FUSED 3
#define ATTN_ITEMS_PER_THREAD 4 /* fewer (kv head, token) items per thread: split positions */
#define ATTN_POS_CHUNK 64       /* positions per item of the split scores */
#define ATTN_VALUE_CHUNK 128    /* positions per partial weighted sum (value_chunks) */
#define ATTN_OUT_SLICE 64       /* elements per item of the split partial-sum reduction */
#define SUM_LANES 4             /* interleaved double partial sums (sum_lanes) */

struct bn_session {
    bn_model *m;
    int n_ctx;
    int n_past;
    long n_evaluated;
    bn_cache_type type_k, type_v; /* the element types of k_cache and v_cache */
    void *k_cache, *v_cache;      /* [layer][kv head][position][head_dim] (kv_row) */
    float *logits;                /* n_vocab: after the last evaluated token */
};

/* Scratch of one batch of up to `cap` tokens (owned by the model). */
struct bn_batch_scratch {
    int cap;
    int n_threads;
    int n_ctx;         /* positions the score buffers hold */
    float *x;          /* [cap][n_embd] residual stream */
    float *xn;         /* [cap][n_embd] normed block inputs / block outputs */
    float *q;          /* [cap][q_dim] */
    float *k, *v;      /* [cap][kv_dim], copied into the caches after RoPE */
    float *att;        /* [cap][q_dim] */
    float *gate, *up;  /* [cap][n_ff] */
    float *rope;       /* [cap][head_dim]: each token's RoPE cos and sin */
    float *scores;     /* [n_threads][n_head / n_head_kv][n_ctx], or [token][n_head][n_ctx]
                        * when attention splits positions (fewer tokens then) */
    float *partial;    /* [n_threads][n_head / n_head_kv][head_dim], or [token][value chunk]
                        * [q_dim] when attention splits positions */
    bn_qact *qa_embd;  /* [cap], width n_embd (q_dim == n_embd) */
    bn_qact *qa_ff;    /* [cap], width n_ff */
    int *pos, *rows;   /* [cap]: the batch's positions and logit rows */
    bn_session **sess; /* [cap]: the session of each token */
};

typedef struct {
    int n;
    const int32_t *ids;
    bn_session *const *sess; /* per token */
    const int *pos;          /* per token */
    float *logits;           /* [n_logits][n_vocab] or NULL */
    const int *logit_rows;   /* tokens whose logits are wanted */
    int n_logits;
} batch;

/* ------------------------------------------------------------ elementwise */

static void add_into(float *x, const float *y, int n)
{
    for (int i = 0; i < n; i++) x[i] += y[i];
}

/* The long sums in double (the RMSNorm's squares, the softmax's exps) run
 * in SUM_LANES partial sums, element i into lane i % SUM_LANES, added in
 * lane order at the end: one running sum waited on each add's latency,
 * which made these sums a large share of the work that a decoding step
 * cannot split over threads. */
static double sum_lanes(const double *lane)
{
    double sum = 0.0;
    for (int l = 0; l < SUM_LANES; l++) sum += lane[l];
    return sum;
}

/* spec 6.2: squares summed in double (sum_lanes), scale in float, then
 * times the weight. */
void bn_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double lane[SUM_LANES] = {0};
    int i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int l = 0; l < SUM_LANES; l++) lane[l] += (double)(x[i + l] * x[i + l]);
    for (int l = 0; i < n; i++, l++) lane[l] += (double)(x[i] * x[i]);
    const double sum = sum_lanes(lane);
    float mean = (float)(sum / n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) out[i] = (x[i] * scale) * w[i];
}

/* spec 6.3: the rotation of position pos: cs[i] = cos(theta_i) and
 * cs[half + i] = sin(theta_i) for the pairs i < head_dim / 2, theta
 * advancing by an iterative float multiply, as the reference does, not by
 * pow per element. The same for every head of a token. */
void bn_rope_angles(float *cs, int head_dim, int pos, float base)
{
    const int half = head_dim / 2;
    const float theta_scale = powf(base, -2.0f / (float)head_dim);
    float theta = (float)pos;
    for (int i = 0; i < half; i++) {
        cs[i] = cosf(theta);
        cs[half + i] = sinf(theta);
        theta *= theta_scale;
    }
}

/* spec 6.3: NEOX pairs (i, i + d/2) rotated by the angles of bn_rope_angles. */
void bn_rope_apply(float *v, int head_dim, const float *cs)
{
    const int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        const float c = cs[i], s = cs[half + i];
        const float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * c - x1 * s;
        v[i + half] = x0 * s + x1 * c;
    }
}

/* max(g, 0), NaN -> 0, without a branch: with a branch on the sign, which
 * is random, the relu2 loop stalled prefill (GCC 12 keeps the branch for
 * every plain-C spelling of max but this mask). */
static inline float relu(float g)
{
    uint32_t bits;
    memcpy(&bits, &g, sizeof bits);
    bits &= -(uint32_t)(g > 0.0f);
    memcpy(&g, &bits, sizeof g);
    return g;
}

/* gate = act(gate) * up */
static void ffn_activate(const bn_model *m, float *gate, const float *up, int n)
{
    if (m->act == BN_ACT_RELU2) {
        for (int i = 0; i < n; i++) {
            const float r = relu(gate[i]);
            gate[i] = r * r * up[i];
        }
        return;
    }
    for (int i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

/* --------------------------------------------------------- matrix products */

typedef struct {
    const bn_kernels *k;
    const bn_qact *a; /* [n_tok] */
    int n_tok;
    int n_mat;
    const qk256_matrix *w[MAX_FUSED];
    float *y[MAX_FUSED]; /* [n_tok][w->rows] */
    bn_chunks rows[MAX_FUSED];
} matmul_job;

/* Rows [r0, r1) of matrix i, ROW_CHUNK at a time so that each chunk's
 * codes stay in L1 across the tokens; a prompt's tokens TOKEN_BLOCK at a
 * time, so that their activations stay in L2 across the rows. */
static void matmul_rows(const matmul_job *j, int i, int r0, int r1)
{
    const qk256_matrix *w = j->w[i];
    for (int t0 = 0; t0 < j->n_tok; t0 += TOKEN_BLOCK) {
        const int nt = j->n_tok - t0 < TOKEN_BLOCK ? j->n_tok - t0 : TOKEN_BLOCK;
        const bn_qact *a = j->a + t0;
        float *y = j->y[i] + (size_t)t0 * w->rows;
        for (int c = r0; c < r1; c += ROW_CHUNK) {
            const int c1 = c + ROW_CHUNK < r1 ? c + ROW_CHUNK : r1;
            if (nt > 1 && j->k->qk256_matmat) {
                j->k->qk256_matmat(w, a, nt, y, w->rows, c, c1);
                continue;
            }
            for (int t = 0; t < nt; t++) j->k->qk256_matvec(w, &a[t], y + (size_t)t * w->rows, c, c1);
        }
    }
}

static void matmul_task(void *arg, int ith, int nth)
{
    matmul_job *j = arg;
    (void)ith;
    (void)nth;
    for (int i = 0; i < j->n_mat; i++) {
        int r0, r1;
        while (bn_chunks_claim(&j->rows[i], &r0, &r1)) matmul_rows(j, i, r0, r1);
    }
}

/* y[i] = w[i] * x for every i and every quantized token of qa, all in
 * one pool run (the tokens were quantized once by a token stage). */
static void ternary_products(const bn_model *m, const bn_qact *qa, int n_tok, int n_mat,
                             const qk256_matrix *const *w, float *const *y)
{
    matmul_job j = {.k = m->kernels, .a = qa, .n_tok = n_tok, .n_mat = n_mat};
    for (int i = 0; i < n_mat; i++) {
        j.w[i] = w[i];
        j.y[i] = y[i];
        bn_chunks_init(&j.rows[i], w[i]->rows, ROW_CHUNK, bn_pool_size(m->pool));
    }
    bn_pool_run(m->pool, matmul_task, &j);
}

/* -------------------------------------------------------------- attention */

/* The element offset of kv head h's row at position pos of a layer in
 * either cache: each kv head's rows are contiguous, so attention streams
 * them in order. Measured against rows of all kv heads side by side per
 * position: decoding at 2048 positions 5-20% faster (2B-4T shape, 2
 * threads of the 2-core EPYC). */
static size_t kv_row(const bn_hparams *hp, int n_ctx, int layer, int h, int pos)
{
    return (((size_t)layer * hp->n_head_kv + (size_t)h) * n_ctx + (size_t)pos) * hp->head_dim;
}

typedef struct {
    const bn_model *m;
    struct bn_batch_scratch *sc;
    const batch *b;
    int layer;
} attention_job;

/* The largest of n scores. Not inlined: inside softmax() gcc kept the
 * running max on the stack across the expf calls, a store-to-load wait
 * per score. */
__attribute__((noinline)) static float max_of(const float *x, int n)
{
    float max = -INFINITY;
    for (int p = 0; p < n; p++) max = x[p] > max ? x[p] : max;
    return max;
}

/* Softmax in place over n scores (spec 6.1.6): max, exp(x - max) summed
 * in double (sum_lanes), times 1/sum. */
static void softmax(float *x, int n)
{
    const float max = max_of(x, n);
    double lane[SUM_LANES] = {0};
    int p = 0;
    for (; p + SUM_LANES <= n; p += SUM_LANES)
        for (int l = 0; l < SUM_LANES; l++) {
            x[p + l] = expf(x[p + l] - max);
            lane[l] += x[p + l];
        }
    for (int l = 0; p < n; p++, l++) {
        x[p] = expf(x[p] - max);
        lane[l] += x[p];
    }
    const float inv = (float)(1.0 / sum_lanes(lane));
    for (p = 0; p < n; p++) x[p] *= inv;
}

/* Where token t's attention reads and writes: its session, the positions
 * 0..pos it attends to, and for kv head kvh the first cached key / value
 * element of this layer (in elements of the cache type) and the query
 * heads' rows (query head h of the group at q + h * head_dim). */
typedef struct {
    const bn_session *s;
    int n;             /* positions */
    size_t cache_off;  /* element offset of (layer, kvh, position 0) in either cache */
    const float *q;    /* the group's first query head */
    float *out;        /* its output head */
} attn_site;

static attn_site attn_site_of(const attention_job *j, int t, int kvh)
{
    const bn_hparams *hp = &j->m->hp;
    const int hd = hp->head_dim, q_dim = hp->n_head * hd;
    const int h0 = kvh * (hp->n_head / hp->n_head_kv);
    const bn_session *s = j->b->sess[t];
    const size_t head_off = (size_t)t * q_dim + (size_t)h0 * hd;
    return (attn_site){s, j->b->pos[t] + 1, kv_row(hp, s->n_ctx, j->layer, kvh, 0),
                       j->sc->q + head_off, j->sc->att + head_off};
}

/* Scores of n_q query heads from q (head_dim apart) against positions
 * [p0, p0 + n) of the site's keys, into scores + p0 (ld apart per head);
 * hot: the rows were just read (kernels.h). */
static void attn_scores_at(const attention_job *j, const attn_site *a, const float *q, int n_q,
                           int p0, int n, float *scores, size_t ld, int hot)
{
    const bn_hparams *hp = &j->m->hp;
    const bn_kernels *k = j->m->kernels;
    const int hd = hp->head_dim;
    const size_t off = a->cache_off + (size_t)p0 * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    if (a->s->type_k == BN_CACHE_F16)
        k->attn_scores_f16(q, n_q, (const uint16_t *)a->s->k_cache + off, (size_t)hd, n, hd,
                           scale, scores + p0, ld, hot);
    else
        k->attn_scores(q, n_q, (const float *)a->s->k_cache + off, (size_t)hd, n, hd, scale,
                       scores + p0, ld, hot);
}

/* The weighted sums of the site's values at positions [p0, p0 + n) for
 * n_q heads of weights w (ld apart per head, indexed by position), into
 * out (head_dim apart per head). */
static void attn_values_at(const attention_job *j, const attn_site *a, const float *w, size_t ld,
                           int n_q, int p0, int n, float *out)
{
    const bn_kernels *k = j->m->kernels;
    const int hd = j->m->hp.head_dim;
    const size_t off = a->cache_off + (size_t)p0 * hd;
    if (a->s->type_v == BN_CACHE_F16)
        k->attn_values_f16(w + p0, ld, n_q, (const uint16_t *)a->s->v_cache + off, (size_t)hd, n, hd,
                           out);
    else
        k->attn_values(w + p0, ld, n_q, (const float *)a->s->v_cache + off, (size_t)hd, n, hd, out);
}

/* A weighted sum over n positions is summed in chunks of ATTN_VALUE_CHUNK
 * positions, each from 0, and the chunks' sums are added in order: so the
 * split passes below can give the chunks to different threads and still
 * get every bit of the sum attend() makes on one. */
static int value_chunks(int n) { return (n + ATTN_VALUE_CHUNK - 1) / ATTN_VALUE_CHUNK; }

static int value_chunk_len(int n, int c)
{
    const int left = n - c * ATTN_VALUE_CHUNK;
    return left < ATTN_VALUE_CHUNK ? left : ATTN_VALUE_CHUNK;
}

/* Causal attention of all the query heads of kv head kvh for token t over
 * its session's positions 0..pos: each cached row is read once for all of
 * them (the products run on the kernel table). part holds one chunk's
 * weighted sums of the group. A prompt's tokens come in turn to the
 * threads (attention_task), so a token of the same session as the one
 * before it finds the rows it reads in the caches. */
static void attend(const attention_job *j, int t, int kvh, float *scores, float *part)
{
    const int group = j->m->hp.n_head / j->m->hp.n_head_kv, hd = j->m->hp.head_dim;
    const attn_site a = attn_site_of(j, t, kvh);
    const size_t ld = (size_t)j->sc->n_ctx;
    const int hot = t > 0 && j->b->sess[t - 1] == j->b->sess[t];
    attn_scores_at(j, &a, a.q, group, 0, a.n, scores, ld, hot);
    for (int h = 0; h < group; h++) softmax(scores + (size_t)h * ld, a.n);
    attn_values_at(j, &a, scores, ld, group, 0, value_chunk_len(a.n, 0), a.out);
    for (int c = 1; c < value_chunks(a.n); c++) {
        attn_values_at(j, &a, scores, ld, group, c * ATTN_VALUE_CHUNK, value_chunk_len(a.n, c), part);
        add_into(a.out, part, group * hd);
    }
}

/* Work items (kv head, token) in that order, dealt out in turn: the
 * threads work on one kv head's cache rows at a time, which stay in their
 * caches, and later tokens of a prompt (which attend to more positions) do
 * not all land on the last thread. */
static void attention_task(void *arg, int ith, int nth)
{
    const attention_job *j = arg;
    const int group = j->m->hp.n_head / j->m->hp.n_head_kv, n = j->b->n;
    float *scores = j->sc->scores + (size_t)ith * group * j->sc->n_ctx;
    float *part = j->sc->partial + (size_t)ith * group * j->m->hp.head_dim;
    for (int i = ith; i < n * j->m->hp.n_head_kv; i += nth) attend(j, i % n, i / n, scores, part);
}

/* Decoding a token or a few has fewer (kv head, token) items than threads
 * want. Attention then runs in passes whose items split the positions,
 * each cached row read once in all: the scores of ATTN_POS_CHUNK positions
 * of a kv head for its whole group; the softmax of each query head; the
 * weighted sums of one value chunk of a kv head for its whole group (the
 * first into the output, the others into sc->partial); the sum of the
 * chunks, over slices of the output. Every number is computed as in
 * attend(), so results do not depend on the threads. Each thread takes a
 * contiguous run of items, so it streams one stretch of the cache.
 * Scores live in sc->scores as [token][query head][n_ctx].
 * Decoding the 2B-4T shape at 2048 positions: 16.9-23 tokens/s on 2
 * threads of the 2-core EPYC, 48-52 on a 16-core Xeon. Splitting the heads
 * over threads read each row once per head (13.4-14.7 on the EPYC);
 * splitting the values' head elements rather than their positions left
 * the threads reading interleaved parts of each row (13.7-18.5; 36-41 on
 * the Xeon, where 16 threads had 10-20 such items). */
static float *split_scores(const attention_job *j, int t, int h)
{
    return j->sc->scores + ((size_t)t * j->m->hp.n_head + (size_t)h) * j->sc->n_ctx;
}

/* Token t's weighted sums of value chunk c >= 1, [q_dim]. */
static float *split_partial(const attention_job *j, int t, int c)
{
    const size_t q_dim = (size_t)j->m->hp.n_head * j->m->hp.head_dim;
    return j->sc->partial + ((size_t)t * (value_chunks(j->sc->n_ctx) - 1) + (size_t)(c - 1)) * q_dim;
}

static int max_positions(const batch *b)
{
    int n = 0;
    for (int t = 0; t < b->n; t++) n = b->pos[t] + 1 > n ? b->pos[t] + 1 : n;
    return n;
}

static void split_scores_task(void *arg, int ith, int nth)
{
    const attention_job *j = arg;
    const int n = j->b->n, n_kv = j->m->hp.n_head_kv, group = j->m->hp.n_head / n_kv;
    const int chunks = (max_positions(j->b) + ATTN_POS_CHUNK - 1) / ATTN_POS_CHUNK;
    int i0, i1;
    bn_split_range(n * n_kv * chunks, ith, nth, 1, &i0, &i1);
    for (int i = i0; i < i1; i++) {
        const int t = i / (n_kv * chunks), kvh = i / chunks % n_kv, p0 = i % chunks * ATTN_POS_CHUNK;
        const attn_site a = attn_site_of(j, t, kvh);
        if (p0 >= a.n) continue;
        const int len = a.n - p0 < ATTN_POS_CHUNK ? a.n - p0 : ATTN_POS_CHUNK;
        attn_scores_at(j, &a, a.q, group, p0, len, split_scores(j, t, kvh * group),
                       (size_t)j->sc->n_ctx, 0);
    }
}

static void split_softmax_task(void *arg, int ith, int nth)
{
    const attention_job *j = arg;
    const int n_head = j->m->hp.n_head;
    for (int i = ith; i < j->b->n * n_head; i += nth)
        softmax(split_scores(j, i / n_head, i % n_head), j->b->pos[i / n_head] + 1);
}

static void split_values_task(void *arg, int ith, int nth)
{
    const attention_job *j = arg;
    const int n_kv = j->m->hp.n_head_kv, group = j->m->hp.n_head / n_kv, hd = j->m->hp.head_dim;
    const int chunks = value_chunks(max_positions(j->b));
    int i0, i1;
    bn_split_range(j->b->n * n_kv * chunks, ith, nth, 1, &i0, &i1);
    for (int i = i0; i < i1; i++) {
        const int t = i / (n_kv * chunks), kvh = i / chunks % n_kv, c = i % chunks;
        const attn_site a = attn_site_of(j, t, kvh);
        if (c >= value_chunks(a.n)) continue;
        float *out = c ? split_partial(j, t, c) + (size_t)kvh * group * hd : a.out;
        attn_values_at(j, &a, split_scores(j, t, kvh * group), (size_t)j->sc->n_ctx, group,
                       c * ATTN_VALUE_CHUNK, value_chunk_len(a.n, c), out);
    }
}

static void split_sum_task(void *arg, int ith, int nth)
{
    const attention_job *j = arg;
    const int q_dim = j->m->hp.n_head * j->m->hp.head_dim;
    const int slices = (q_dim + ATTN_OUT_SLICE - 1) / ATTN_OUT_SLICE;
    for (int i = ith; i < j->b->n * slices; i += nth) {
        const int t = i / slices, e0 = i % slices * ATTN_OUT_SLICE;
        const int width = q_dim - e0 < ATTN_OUT_SLICE ? q_dim - e0 : ATTN_OUT_SLICE;
        float *out = j->sc->att + (size_t)t * q_dim + e0;
        for (int c = 1; c < value_chunks(j->b->pos[t] + 1); c++)
            add_into(out, split_partial(j, t, c) + e0, width);
    }
}

static void attention(const bn_model *m, struct bn_batch_scratch *sc, const batch *b, int il)
{
    attention_job aj = {m, sc, b, il};
    const int nth = bn_pool_size(m->pool);
    if (b->n * m->hp.n_head_kv >= ATTN_ITEMS_PER_THREAD * nth) {
        bn_pool_run(m->pool, attention_task, &aj);
        return;
    }
    bn_pool_run(m->pool, split_scores_task, &aj);
    bn_pool_run(m->pool, split_softmax_task, &aj);
    bn_pool_run(m->pool, split_values_task, &aj);
    if (value_chunks(max_positions(b)) > 1) bn_pool_run(m->pool, split_sum_task, &aj);
}

/* ---------------------------------------------------------------- layers */

/* The per-token work between the matrix products, in the order a layer
 * runs it. Tokens are independent here, so a prompt batch splits them over
 * the pool (a single decoding token runs on the calling thread). */
typedef enum {
    TOKEN_IN, /* x = the token's embedding; the RoPE angles of its position */
    ATTN_IN,  /* xn = attn_norm(x), quantized */
    QKV_OUT,  /* RoPE on q and k; k and v into the session's cache */
    ATTN_OUT, /* att = attn_sub_norm(att), quantized */
    FFN_IN,   /* x += attention output; xn = ffn_norm(x), quantized */
    FFN_MID,  /* gate = ffn_sub_norm(act(gate) * up), quantized */
    FFN_OUT,  /* x += FFN output */
} token_stage;

typedef struct {
    const bn_model *m;
    struct bn_batch_scratch *sc;
    const batch *b;
    int layer;
    token_stage stage;
} stage_job;

/* n values into a cache of type t from element off: copied, or rounded to
 * the nearest half, ties to even (an F16 cache, bn_session_params). */
static void cache_store(void *cache, bn_cache_type t, size_t off, const float *x, int n)
{
    if (t == BN_CACHE_F16) {
        uint16_t *h = (uint16_t *)cache + off;
        for (int i = 0; i < n; i++) h[i] = bn_f32_to_f16(x[i]);
        return;
    }
    memcpy((float *)cache + off, x, (size_t)n * sizeof(float));
}

static void norm_and_quantize(const bn_model *m, float *out, const float *x, const float *w, int n,
                              bn_qact *qa)
{
    bn_rmsnorm(out, x, w, n, m->hp.rms_eps);
    m->kernels->quantize(out, n, qa);
}

static void run_stage(const stage_job *j, int t)
{
    const bn_model *m = j->m;
    const bn_hparams *hp = &m->hp;
    const bn_layer *l = &m->layers[j->layer];
    struct bn_batch_scratch *sc = j->sc;
    const int ne = hp->n_embd, nf = hp->n_ff, hd = hp->head_dim;
    const int q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd;
    float *x = sc->x + (size_t)t * ne, *xn = sc->xn + (size_t)t * ne;
    float *q = sc->q + (size_t)t * q_dim, *k = sc->k + (size_t)t * kv_dim;
    float *att = sc->att + (size_t)t * q_dim, *gate = sc->gate + (size_t)t * nf;
    switch (j->stage) {
    case TOKEN_IN: /* once per batch: every layer rotates by the same angles */
        bn_dense_row(&m->tok_embd, j->b->ids[t], x);
        bn_rope_angles(sc->rope + (size_t)t * hd, hd, j->b->pos[t], hp->rope_base);
        break;
    case ATTN_IN:
        norm_and_quantize(m, xn, x, l->attn_norm, ne, &sc->qa_embd[t]);
        break;
    case QKV_OUT: {
        const int pos = j->b->pos[t];
        const float *cs = sc->rope + (size_t)t * hd; /* one sin/cos table for all the heads */
        for (int h = 0; h < hp->n_head; h++) bn_rope_apply(q + (size_t)h * hd, hd, cs);
        for (int h = 0; h < hp->n_head_kv; h++) bn_rope_apply(k + (size_t)h * hd, hd, cs);
        const bn_session *s = j->b->sess[t];
        for (int h = 0; h < hp->n_head_kv; h++) {
            const size_t off = kv_row(hp, s->n_ctx, j->layer, h, pos);
            cache_store(s->k_cache, s->type_k, off, k + (size_t)h * hd, hd);
            cache_store(s->v_cache, s->type_v, off, sc->v + (size_t)t * kv_dim + (size_t)h * hd, hd);
        }
        break;
    }
    case ATTN_OUT:
        norm_and_quantize(m, att, att, l->attn_sub_norm, q_dim, &sc->qa_embd[t]);
        break;
    case FFN_IN:
        add_into(x, xn, ne);
        norm_and_quantize(m, xn, x, l->ffn_norm, ne, &sc->qa_embd[t]);
        break;
    case FFN_MID:
        ffn_activate(m, gate, sc->up + (size_t)t * nf, nf);
        norm_and_quantize(m, gate, gate, l->ffn_sub_norm, nf, &sc->qa_ff[t]);
        break;
    case FFN_OUT:
        add_into(x, xn, ne);
        break;
    }
}

static void stage_task(void *arg, int ith, int nth)
{
    const stage_job *j = arg;
    int t0, t1;
    bn_split_range(j->b->n, ith, nth, 1, &t0, &t1);
    for (int t = t0; t < t1; t++) run_stage(j, t);
}

static void run_tokens(const bn_model *m, struct bn_batch_scratch *sc, const batch *b, int layer,
                       token_stage stage)
{
    stage_job j = {m, sc, b, layer, stage};
    if (b->n == 1) {
        run_stage(&j, 0);
        return;
    }
    bn_pool_run(m->pool, stage_task, &j);
}

static void attention_block(const bn_model *m, struct bn_batch_scratch *sc, const batch *b, int il)
{
    const bn_layer *l = &m->layers[il];
    run_tokens(m, sc, b, il, ATTN_IN);
    const qk256_matrix *w[] = {&l->wq, &l->wk, &l->wv};
    float *const y[] = {sc->q, sc->k, sc->v};
    ternary_products(m, sc->qa_embd, b->n, 3, w, y);
    run_tokens(m, sc, b, il, QKV_OUT);
    attention(m, sc, b, il);
    run_tokens(m, sc, b, il, ATTN_OUT);
    const qk256_matrix *wo[] = {&l->wo};
    float *const yo[] = {sc->xn};
    ternary_products(m, sc->qa_embd, b->n, 1, wo, yo);
}

static void ffn_block(const bn_model *m, struct bn_batch_scratch *sc, const batch *b, int il)
{
    const bn_layer *l = &m->layers[il];
    run_tokens(m, sc, b, il, FFN_IN);
    const qk256_matrix *w[] = {&l->wgate, &l->wup};
    float *const y[] = {sc->gate, sc->up};
    ternary_products(m, sc->qa_embd, b->n, 2, w, y);
    run_tokens(m, sc, b, il, FFN_MID);
    const qk256_matrix *wd[] = {&l->wdown};
    float *const yd[] = {sc->xn};
    ternary_products(m, sc->qa_ff, b->n, 1, wd, yd);
    run_tokens(m, sc, b, il, FFN_OUT);
}

static void forward_batch(const bn_model *m, struct bn_batch_scratch *sc, const batch *b)
{
    const int ne = m->hp.n_embd;
    run_tokens(m, sc, b, 0, TOKEN_IN);
    for (int il = 0; il < m->hp.n_layer; il++) {
        attention_block(m, sc, b, il);
        ffn_block(m, sc, b, il);
    }
    for (int i = 0; i < b->n_logits; i++)
        bn_rmsnorm(sc->xn + (size_t)i * ne, sc->x + (size_t)b->logit_rows[i] * ne, m->output_norm,
                   ne, m->hp.rms_eps);
    if (b->n_logits) bn_dense_matmul(m, &m->output, sc->xn, b->n_logits, b->logits);
}

/* --------------------------------------------------------------- scratch */

static void scratch_free(struct bn_batch_scratch *sc)
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
    free(sc->rope);
    free(sc->scores);
    free(sc->partial);
    for (int t = 0; sc->qa_embd && t < sc->cap; t++) bn_qact_free(&sc->qa_embd[t]);
    for (int t = 0; sc->qa_ff && t < sc->cap; t++) bn_qact_free(&sc->qa_ff[t]);
    free(sc->qa_embd);
    free(sc->qa_ff);
    free(sc->pos);
    free(sc->rows);
    free(sc->sess);
    free(sc);
}

void bn_model_free_scratch(bn_model *m)
{
    scratch_free(m->scratch);
    m->scratch = NULL;
}

static float *alloc_floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* The model's scratch, grown to hold `cap` tokens and `n_ctx` positions. */
static struct bn_batch_scratch *get_scratch(bn_model *m, int cap, int n_ctx)
{
    struct bn_batch_scratch *sc = m->scratch;
    if (sc && sc->cap >= cap && sc->n_ctx >= n_ctx) return sc;
    if (sc) {
        cap = cap > sc->cap ? cap : sc->cap;
        n_ctx = n_ctx > sc->n_ctx ? n_ctx : sc->n_ctx;
        bn_model_free_scratch(m);
    }
    const bn_hparams *hp = &m->hp;
    const size_t ne = (size_t)hp->n_embd, nf = (size_t)hp->n_ff;
    const size_t q_dim = (size_t)hp->n_head * hp->head_dim;
    const size_t kv_dim = (size_t)hp->n_head_kv * hp->head_dim;
    sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    sc->cap = cap;
    sc->n_ctx = n_ctx;
    sc->n_threads = bn_pool_size(m->pool);
    sc->x = alloc_floats(cap * ne);
    sc->xn = alloc_floats(cap * ne);
    sc->q = alloc_floats(cap * q_dim);
    sc->k = alloc_floats(cap * kv_dim);
    sc->v = alloc_floats(cap * kv_dim);
    sc->att = alloc_floats(cap * q_dim);
    sc->gate = alloc_floats(cap * nf);
    sc->up = alloc_floats(cap * nf);
    sc->rope = alloc_floats(cap * (size_t)hp->head_dim);
    /* the split passes run below ATTN_ITEMS_PER_THREAD * n_threads (kv head,
     * token) items, so on fewer than that many tokens' query heads */
    sc->scores = alloc_floats((size_t)ATTN_ITEMS_PER_THREAD * sc->n_threads *
                              (hp->n_head / hp->n_head_kv) * n_ctx);
    /* as many tokens' value chunks after the first, or one chunk's sums of a
     * group per thread on the whole-head path */
    const int chunks = value_chunks(n_ctx) > 1 ? value_chunks(n_ctx) - 1 : 1;
    sc->partial = alloc_floats((size_t)ATTN_ITEMS_PER_THREAD * sc->n_threads * hp->n_head / hp->n_head_kv *
                               hp->head_dim * chunks);
    sc->qa_embd = calloc((size_t)cap, sizeof *sc->qa_embd);
    sc->qa_ff = calloc((size_t)cap, sizeof *sc->qa_ff);
    sc->pos = calloc((size_t)cap, sizeof *sc->pos);
    sc->rows = calloc((size_t)cap, sizeof *sc->rows);
    sc->sess = calloc((size_t)cap, sizeof(bn_session *));
    int ok = sc->x && sc->xn && sc->q && sc->k && sc->v && sc->att && sc->gate && sc->up && sc->rope &&
             sc->scores && sc->partial && sc->qa_embd && sc->qa_ff && sc->pos && sc->rows && sc->sess;
    for (int t = 0; ok && t < cap; t++)
        ok = !bn_qact_alloc(&sc->qa_embd[t], hp->n_embd) && !bn_qact_alloc(&sc->qa_ff[t], hp->n_ff);
    if (!ok) {
        scratch_free(sc);
        return NULL;
    }
    m->scratch = sc;
    return sc;
}

/* --------------------------------------------------------------- sessions */

static const char *const CACHE_TYPE_NAMES[] = {[BN_CACHE_F32] = "f32", [BN_CACHE_F16] = "f16"};
#define N_CACHE_TYPES ((int)(sizeof CACHE_TYPE_NAMES / sizeof *CACHE_TYPE_NAMES))

int bn_cache_type_from_name(const char *name)
{
    for (int t = 0; name && t < N_CACHE_TYPES; t++)
        if (!strcmp(name, CACHE_TYPE_NAMES[t])) return t;
    return -1;
}

const char *bn_cache_type_name(bn_cache_type type)
{
    return (int)type >= 0 && (int)type < N_CACHE_TYPES ? CACHE_TYPE_NAMES[type] : NULL;
}

static size_t cache_elem_bytes(bn_cache_type t)
{
    return t == BN_CACHE_F16 ? sizeof(uint16_t) : sizeof(float);
}

/* Elements of one of a session's caches: every layer's n_ctx positions. */
static size_t cache_elems(const bn_hparams *hp, int n_ctx)
{
    return (size_t)hp->n_layer * n_ctx * hp->n_head_kv * hp->head_dim;
}

bn_session_params bn_session_default_params(void)
{
    return (bn_session_params){.n_ctx = 0, .type_k = BN_CACHE_F32, .type_v = BN_CACHE_F32};
}

bn_session *bn_session_new_ex(bn_model *m, const bn_session_params *p, char err[BN_ERR_LEN])
{
    const bn_hparams *hp = &m->hp;
    const int n_ctx = p->n_ctx <= 0 ? hp->n_ctx_train : p->n_ctx;
    if (n_ctx > hp->n_ctx_train) {
        snprintf(err, BN_ERR_LEN, "context size %d exceeds the model's context length %d", n_ctx,
                 hp->n_ctx_train);
        return NULL;
    }
    if (!bn_cache_type_name(p->type_k) || !bn_cache_type_name(p->type_v)) {
        snprintf(err, BN_ERR_LEN, "unknown KV cache type %d (expected f32 or f16)",
                 bn_cache_type_name(p->type_k) ? (int)p->type_v : (int)p->type_k);
        return NULL;
    }
    bn_session *s = calloc(1, sizeof *s);
    if (s) {
        s->m = m;
        s->n_ctx = n_ctx;
        s->type_k = p->type_k;
        s->type_v = p->type_v;
        /* calloc'd caches cost no memory until positions are written */
        const size_t elems = cache_elems(hp, n_ctx);
        s->k_cache = calloc(elems ? elems : 1, cache_elem_bytes(p->type_k));
        s->v_cache = calloc(elems ? elems : 1, cache_elem_bytes(p->type_v));
        s->logits = alloc_floats((size_t)hp->n_vocab);
        if (s->k_cache && s->v_cache && s->logits) return s;
    }
    bn_session_free(s);
    snprintf(err, BN_ERR_LEN, "out of memory for a context of %d tokens", n_ctx);
    return NULL;
}

bn_session *bn_session_new(bn_model *m, int n_ctx, char err[BN_ERR_LEN])
{
    bn_session_params p = bn_session_default_params();
    p.n_ctx = n_ctx;
    return bn_session_new_ex(m, &p, err);
}

size_t bn_session_kv_bytes(const bn_session *s)
{
    return cache_elems(&s->m->hp, s->n_ctx) *
           (cache_elem_bytes(s->type_k) + cache_elem_bytes(s->type_v));
}

void bn_session_free(bn_session *s)
{
    if (!s) return;
    free(s->k_cache);
    free(s->v_cache);
    free(s->logits);
    free(s);
}

void bn_session_reset(bn_session *s) { s->n_past = 0; }
int bn_session_n_ctx(const bn_session *s) { return s->n_ctx; }
int bn_session_n_past(const bn_session *s) { return s->n_past; }
long bn_session_n_evaluated(const bn_session *s) { return s->n_evaluated; }

static int check_ids(const bn_model *m, const int32_t *ids, int n, char *err)
{
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->hp.n_vocab) {
            return bn_errf(err, "token id %d is out of range (vocabulary of %d)", ids[i],
                     m->hp.n_vocab);
        }
    return 0;
}

/* Runs n tokens of one session through the model in batches of n_batch;
 * logits of every token into all_logits ([n][n_vocab]) when not NULL, else
 * of the last token into s->logits. */
static int session_eval(bn_session *s, const int32_t *ids, int n, float *all_logits, char *err)
{
    bn_model *m = s->m;
    if (n <= 0) {
        return bn_errf(err, "nothing to evaluate");
    }
    if (n > s->n_ctx - s->n_past) {
        return bn_errf(err, "%d tokens do not fit in the context (%d of %d used)", n,
                 s->n_past, s->n_ctx);
    }
    if (check_ids(m, ids, n, err)) return -1;
    const int cap = n < m->n_batch ? n : m->n_batch;
    struct bn_batch_scratch *sc = get_scratch(m, cap, s->n_ctx);
    if (!sc) return bn_errf(err, "out of memory for a batch of %d tokens", cap);
    for (int done = 0; done < n; done += cap) {
        batch b = {.n = n - done < cap ? n - done : cap, .ids = ids + done, .sess = sc->sess,
                   .pos = sc->pos, .logit_rows = sc->rows};
        for (int t = 0; t < b.n; t++) {
            sc->sess[t] = s;
            sc->pos[t] = s->n_past + t;
            sc->rows[t] = t;
        }
        if (all_logits) {
            b.logits = all_logits + (size_t)done * m->hp.n_vocab;
            b.n_logits = b.n;
        } else if (done + b.n == n) {
            sc->rows[0] = b.n - 1;
            b.logits = s->logits;
            b.n_logits = 1;
        }
        forward_batch(m, sc, &b);
        s->n_past += b.n;
        s->n_evaluated += b.n;
    }
    return 0;
}

int bn_session_eval(bn_session *s, const int32_t *ids, int n, const float **logits,
                    char err[BN_ERR_LEN])
{
    if (session_eval(s, ids, n, NULL, err)) return -1;
    if (logits) *logits = s->logits;
    return 0;
}

int bn_session_eval_all(bn_session *s, const int32_t *ids, int n, float *logits,
                        char err[BN_ERR_LEN])
{
    return session_eval(s, ids, n, logits, err);
}

int bn_batch_decode(bn_session *const *sessions, const int32_t *ids, int n, float *logits,
                    char err[BN_ERR_LEN])
{
    if (n <= 0) {
        return bn_errf(err, "nothing to evaluate");
    }
    bn_model *m = sessions[0]->m;
    int max_ctx = 0;
    for (int i = 0; i < n; i++) {
        if (sessions[i]->m != m) {
            return bn_errf(err, "sessions of different models in one batch");
        }
        for (int j = 0; j < i; j++)
            if (sessions[j] == sessions[i]) {
                return bn_errf(err, "a session appears twice in one batch");
            }
        if (sessions[i]->n_past >= sessions[i]->n_ctx) {
            return bn_errf(err, "sequence %d has a full context (%d tokens)", i,
                     sessions[i]->n_ctx);
        }
        if (sessions[i]->n_ctx > max_ctx) max_ctx = sessions[i]->n_ctx;
    }
    if (check_ids(m, ids, n, err)) return -1;
    struct bn_batch_scratch *sc = get_scratch(m, n, max_ctx);
    if (!sc) return bn_errf(err, "out of memory for a batch of %d sequences", n);
    for (int t = 0; t < n; t++) {
        sc->pos[t] = sessions[t]->n_past;
        sc->rows[t] = t;
    }
    batch b = {.n = n, .ids = ids, .sess = sessions, .pos = sc->pos, .logits = logits,
               .logit_rows = sc->rows, .n_logits = n};
    forward_batch(m, sc, &b);
    for (int t = 0; t < n; t++) {
        sessions[t]->n_past++;
        sessions[t]->n_evaluated++;
    }
    return 0;
}
