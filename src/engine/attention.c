/*
 * attention.c - causal grouped-query attention of a layer over the
 * sessions' KV caches (docs/FORWARD.md, Attention): scores, softmax and
 * the weighted sum of values, on the kernel table and the context's pool.
 *
 * Many (kv head, token) items - a prompt - go to the threads in turn, each
 * item whole (attend). A few - decoding - split their positions instead,
 * in passes that each read every cached row once (the split_* tasks).
 * Every number is computed in the same order both ways, so results do not
 * depend on the thread count or on the path.
 */
#include <math.h>

#include "engine.h"
#include "ops.h"

#define ATTN_ITEMS_PER_THREAD 4 /* fewer (kv head, token) items per thread: split positions */
#define ATTN_POS_CHUNK 64       /* positions per item of the split scores */
#define ATTN_VALUE_CHUNK 128    /* positions per partial weighted sum (value_chunks) */
#define ATTN_OUT_SLICE 64       /* elements per item of the split partial-sum reduction */

/* Each kv head's rows are contiguous, so attention streams them in order. */
size_t bn_kv_row(const bn_hparams *hp, int n_ctx, int layer, int h, int pos)
{
    return (((size_t)layer * hp->n_head_kv + (size_t)h) * n_ctx + (size_t)pos) * hp->head_dim;
}

typedef struct {
    const bn_model *m;
    bn_scratch *sc;
    const bn_pass *b;
    int layer;
} attention_job;

/* Where token t's attention reads and writes: its session, the positions
 * 0..pos it attends to, and for kv head kvh the first cached key / value
 * element of this layer (in elements of the cache type) and the query
 * heads' rows (query head h of the group at q + h * head_dim). */
typedef struct {
    const bn_session *s;
    int n;            /* positions */
    size_t cache_off; /* element offset of (layer, kvh, position 0) in either cache */
    const float *q;   /* the group's first query head */
    float *out;       /* its output head */
} attn_site;

/* Where token t's attention for kv head kvh reads and writes. */
static attn_site attn_site_of(const attention_job *j, int t, int kvh)
{
    const bn_hparams *hp = &j->m->hp;
    const int hd = hp->head_dim, q_dim = hp->n_head * hd;
    const int h0 = kvh * (hp->n_head / hp->n_head_kv);
    const bn_session *s = j->b->sess[t];
    const size_t head_off = (size_t)t * q_dim + (size_t)h0 * hd;
    return (attn_site){s, j->b->pos[t] + 1, bn_kv_row(hp, s->n_ctx, j->layer, kvh, 0),
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
        k->attn_scores_f16(q, n_q, (const uint16_t *)a->s->k_cache + off, (size_t)hd, n, hd, scale,
                           scores + p0, ld, hot);
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
        k->attn_values_f16(w + p0, ld, n_q, (const uint16_t *)a->s->v_cache + off, (size_t)hd, n,
                           hd, out);
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
    for (int h = 0; h < group; h++) bn_softmax(j->m->kernels, scores + (size_t)h * ld, a.n);
    attn_values_at(j, &a, scores, ld, group, 0, value_chunk_len(a.n, 0), a.out);
    for (int c = 1; c < value_chunks(a.n); c++) {
        attn_values_at(j, &a, scores, ld, group, c * ATTN_VALUE_CHUNK, value_chunk_len(a.n, c),
                       part);
        bn_add_into(a.out, part, group * hd);
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
 * Scores live in sc->scores as [token][query head][n_ctx]. (Splitting
 * heads over threads would read each row once per head; splitting the
 * values' elements would leave threads reading interleaved parts of each
 * row: docs/PERFORMANCE.md.) */
static float *split_scores(const attention_job *j, int t, int h)
{
    return j->sc->scores + ((size_t)t * j->m->hp.n_head + (size_t)h) * j->sc->n_ctx;
}

/* Token t's weighted sums of value chunk c >= 1, [q_dim]. */
static float *split_partial(const attention_job *j, int t, int c)
{
    const size_t q_dim = (size_t)j->m->hp.n_head * j->m->hp.head_dim;
    return j->sc->partial +
           ((size_t)t * (value_chunks(j->sc->n_ctx) - 1) + (size_t)(c - 1)) * q_dim;
}

static int max_positions(const bn_pass *b)
{
    int n = 0;
    for (int t = 0; t < b->n; t++) n = b->pos[t] + 1 > n ? b->pos[t] + 1 : n;
    return n;
}

/* Split pass 1: the scores of ATTN_POS_CHUNK positions of a kv head for its group. */
static void split_scores_task(void *arg, int ith, int nth)
{
    const attention_job *j = arg;
    const int n = j->b->n, n_kv = j->m->hp.n_head_kv, group = j->m->hp.n_head / n_kv;
    const int chunks = (max_positions(j->b) + ATTN_POS_CHUNK - 1) / ATTN_POS_CHUNK;
    int i0, i1;
    bn_split_range(n * n_kv * chunks, ith, nth, 1, &i0, &i1);
    for (int i = i0; i < i1; i++) {
        const int t = i / (n_kv * chunks), kvh = i / chunks % n_kv,
                  p0 = i % chunks * ATTN_POS_CHUNK;
        const attn_site a = attn_site_of(j, t, kvh);
        if (p0 >= a.n) continue;
        const int len = a.n - p0 < ATTN_POS_CHUNK ? a.n - p0 : ATTN_POS_CHUNK;
        attn_scores_at(j, &a, a.q, group, p0, len, split_scores(j, t, kvh * group),
                       (size_t)j->sc->n_ctx, 0);
    }
}

/* Split pass 2: the softmax of each query head's scores. */
static void split_softmax_task(void *arg, int ith, int nth)
{
    const attention_job *j = arg;
    const int n_head = j->m->hp.n_head;
    for (int i = ith; i < j->b->n * n_head; i += nth)
        bn_softmax(j->m->kernels, split_scores(j, i / n_head, i % n_head),
                   j->b->pos[i / n_head] + 1);
}

/* Split pass 3: one value chunk's weighted sums of a kv head for its group. */
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

/* Split pass 4: each output slice plus the chunks' partial sums, in order. */
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
            bn_add_into(out, split_partial(j, t, c) + e0, width);
    }
}

/* Layer il's attention: whole items for a prompt, the split passes for a few tokens. */
void bn_attention(bn_context *ctx, const bn_pass *b, int il)
{
    attention_job aj = {ctx->m, ctx->sc, b, il};
    bn_pool *pool = ctx->pool;
    if (b->n * ctx->m->hp.n_head_kv >= ATTN_ITEMS_PER_THREAD * bn_pool_size(pool)) {
        bn_pool_run(pool, attention_task, &aj);
        return;
    }
    bn_pool_run(pool, split_scores_task, &aj);
    bn_pool_run(pool, split_softmax_task, &aj);
    bn_pool_run(pool, split_values_task, &aj);
    if (value_chunks(max_positions(b)) > 1) bn_pool_run(pool, split_sum_task, &aj);
}

/* The split passes run below ATTN_ITEMS_PER_THREAD * n_threads (kv head,
 * token) items, so on fewer than that many tokens' query heads; the whole
 * path takes one group's scores per thread. */
size_t bn_attention_scores_floats(const bn_hparams *hp, int n_threads, int n_ctx)
{
    return (size_t)ATTN_ITEMS_PER_THREAD * n_threads * (hp->n_head / hp->n_head_kv) * n_ctx;
}

/* As many tokens' value chunks after the first, or one chunk's sums of a
 * group per thread on the whole path. */
size_t bn_attention_partial_floats(const bn_hparams *hp, int n_threads, int n_ctx)
{
    const int chunks = value_chunks(n_ctx) > 1 ? value_chunks(n_ctx) - 1 : 1;
    return (size_t)ATTN_ITEMS_PER_THREAD * n_threads * hp->n_head / hp->n_head_kv * hp->head_dim *
           chunks;
}
