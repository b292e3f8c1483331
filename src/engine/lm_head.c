/*
 * lm_head.c - the logits of a pass: the output layer's product over every
 * row, or, for sessions that want only their best tokens
 * (bn_session_set_logits_top), in two stages (docs/FORWARD.md, Two-stage
 * logits):
 *
 *   1. score every row with the model's int8 copy (model/lm_copy.c) and
 *      bound each score's distance from the exact logit: the copy's error
 *      times the input's norms, the input's own quantization, and the
 *      float rounding of both products;
 *   2. compute exactly, with the file's weights and the same kernel as the
 *      full product (so the same bits), every row whose upper bound
 *      reaches the k-th best lower bound; the others cannot be among the
 *      k best and get -INFINITY.
 *
 * Every step is conservative, so the k best rows (ties to the lower id)
 * always hold their exact logits. A token whose input is not finite or so
 * large that a product could overflow gets every row exact.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "engine.h"
#include "kernels/quants.h"

/* A session asking for more than this share of the vocabulary gets the
 * full product: the bounds would save little. */
#define TOP_MAX_SHARE 8
/* Relative slack over the double arithmetic of the input's norms and of a
 * row's bound (a few dozen roundings of 2^-53 each). */
#define BOUND_SLACK 0x1p-30
/* A product stays far from overflow when its norms' product is below
 * this (Cauchy-Schwarz bounds every partial sum by it). */
#define PRODUCT_LIMIT (FLT_MAX / 16)
#define PREFETCH_LINE 64 /* bytes a prefetch brings: a cache line */

/* What bounds the products of one input x (n_embd values) and its
 * quantized form xq: ||x||, the sum over blocks of ||x_b||, ||x - xq||,
 * ||xq||. */
typedef struct {
    double norm, block_norms, quant_err, quant_norm;
} input_norms;

/* Per token of a pass: the scratch of the two stages, grown on demand. */
struct bn_lm_scratch {
    int cap;      /* tokens */
    bn_q8act *qa; /* [cap] the inputs quantized for the copy */
    int n_threads;
    int top_cap;   /* most k the heaps hold */
    double *heaps; /* [n_threads][top_cap]: each thread's k best lower bounds */
    double *upper; /* [n_vocab]: each row's upper bound, from stage 1 */
    int *rows;     /* [n_vocab]: each thread's candidates, in its own rows' span */
    int *heap_len; /* [n_threads] */
    long *n_exact; /* [n_threads]: rows each computed exactly */
};

void bn_lm_scratch_free(bn_lm_scratch *ls)
{
    if (!ls) return;
    for (int t = 0; ls->qa && t < ls->cap; t++) bn_q8act_free(&ls->qa[t]);
    free(ls->qa);
    free(ls->heaps);
    free(ls->upper);
    free(ls->rows);
    free(ls->heap_len);
    free(ls->n_exact);
    free(ls);
}

static bn_lm_scratch *lm_scratch_new(const bn_model *m, int cap, int n_threads, int top)
{
    bn_lm_scratch *ls = calloc(1, sizeof *ls);
    if (!ls) return NULL;
    *ls = (bn_lm_scratch){.cap = cap, .n_threads = n_threads, .top_cap = top};
    ls->qa = calloc((size_t)cap, sizeof *ls->qa);
    ls->heaps = malloc((size_t)n_threads * top * sizeof *ls->heaps);
    ls->upper = malloc((size_t)m->hp.n_vocab * sizeof *ls->upper);
    ls->rows = malloc((size_t)m->hp.n_vocab * sizeof *ls->rows);
    ls->heap_len = calloc((size_t)n_threads, sizeof *ls->heap_len);
    ls->n_exact = calloc((size_t)n_threads, sizeof *ls->n_exact);
    int ok = ls->qa && ls->heaps && ls->upper && ls->rows && ls->heap_len && ls->n_exact;
    for (int t = 0; ok && t < cap; t++) ok = !bn_q8act_alloc(&ls->qa[t], m->hp.n_embd);
    if (ok) return ls;
    bn_lm_scratch_free(ls);
    return NULL;
}

/* The context's lm scratch for n tokens and k up to top, or NULL out of
 * memory. */
static bn_lm_scratch *lm_scratch(bn_context *ctx, int n, int top)
{
    bn_lm_scratch *ls = ctx->sc->lm;
    const int nth = bn_pool_size(ctx->pool);
    if (ls && ls->cap >= n && ls->top_cap >= top && ls->n_threads == nth) return ls;
    if (ls) {
        n = n > ls->cap ? n : ls->cap;
        top = top > ls->top_cap ? top : ls->top_cap;
    }
    bn_lm_scratch_free(ls);
    return ctx->sc->lm = lm_scratch_new(ctx->m, n, nth, top);
}

/* ------------------------------------------------------------ bounds */

/* gamma(n) of floating-point error analysis, n * u / (1 - n * u) with u
 * the float unit roundoff: a sum of n products, in any order, with
 * separate or fused multiplies, is within gamma(n) * sum |products| of
 * the real one. */
static double float_gamma(int n)
{
    const double nu = (double)n * 0x1p-24;
    return nu / (1 - nu);
}

/* The norms of input x and of the q8 levels it became (d * q, exact in a
 * double); 0, or -1 when x is not finite. */
static int measure_input(const float *x, const bn_q8act *qa, int n, input_norms *in)
{
    double norm = 0, blocks = 0, err = 0, quant = 0;
    for (int b = 0; b < n; b += BN_Q8ROWS_GROUP) {
        double block = 0;
        for (int j = b; j < b + BN_Q8ROWS_GROUP; j++) {
            if (!isfinite(x[j])) return -1;
            const double xq = (double)qa->d[j / BN_Q8_GROUP] * qa->q[j];
            const double d = (double)x[j] - xq;
            block += (double)x[j] * x[j];
            err += d * d;
            quant += xq * xq;
        }
        norm += block;
        blocks += sqrt(block);
    }
    const double up = 1 + BOUND_SLACK;
    *in = (input_norms){sqrt(norm) * up, blocks * up, sqrt(err) * up, sqrt(quant) * up};
    return 0;
}

/* What the two stages of one token share. */
typedef struct {
    const bn_model *m;
    const float *x;     /* the token's input */
    const bn_q8act *qa; /* and its levels for the copy */
    float *y;           /* its logits: the copy's scores, then the result */
    input_norms in;
    double gamma; /* float_gamma for one product over a row */
    double tiny;  /* what underflow can take off the two products */
    int top;
    double threshold; /* the top-th best lower bound */
    bn_lm_scratch *ls;
} token_job;

/* How far row r's exact logit can be from its score y[r] (c the copy's
 * row, xq the input's levels times their scales):
 *   |w.x - c.x|   <= min(||w - c|| ||x||, max_b ||w_b - c_b|| sum_b ||x_b||)
 *   |c.x - c.xq|  <= ||c|| ||x - xq||
 * plus the rounding of the copy's product (gamma ||c|| ||xq||) and of the
 * exact one (gamma ||w|| ||x||), each by Cauchy-Schwarz. */
static double row_bound(const token_job *j, int r)
{
    const bn_lm_row_bound *rb = &j->m->lm_copy.rows[r];
    const input_norms *in = &j->in;
    const double whole = rb->err * in->norm, by_block = rb->err_max * in->block_norms;
    const double copy_err = whole < by_block ? whole : by_block; /* both finite */
    const double bound = copy_err + rb->copy * in->quant_err +
                         j->gamma * (rb->copy * in->quant_norm + rb->exact * in->norm);
    return bound * (1 + BOUND_SLACK) + j->tiny;
}

/* The lower and upper bounds of row r's exact logit, rounded outwards.
 * Adding in double loses at most 2^-53 of the larger operand, which the
 * slack of row_bound and an absolute 2^-50 of the score outweigh. */
static double bounds_of(const token_job *j, int r, double *upper)
{
    const double bound = row_bound(j, r) + fabs(j->y[r]) * 0x1p-50;
    *upper = (double)j->y[r] + bound;
    return (double)j->y[r] - bound;
}

/* A min-heap of the best lower bounds seen: h[0] is the least kept. */
static void heap_sift_down(double *h, int n, int i)
{
    for (;;) {
        int least = i, l = 2 * i + 1, r = l + 1;
        if (l < n && h[l] < h[least]) least = l;
        if (r < n && h[r] < h[least]) least = r;
        if (least == i) return;
        const double t = h[i];
        h[i] = h[least];
        h[least] = t;
        i = least;
    }
}

static void heap_sift_up(double *h, int i)
{
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        const double t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Keeps v if it is among the top best of the heap's values. */
static void heap_offer(double *h, int *n, int top, double v)
{
    if (*n < top) {
        h[*n] = v;
        heap_sift_up(h, (*n)++);
    } else if (v > h[0]) {
        h[0] = v;
        heap_sift_down(h, top, 0);
    }
}

/* Stage 1 over one thread's rows: its top best lower bounds, and every
 * row's upper bound for stage 2. */
static void bounds_task(void *arg, int ith, int nth)
{
    token_job *j = arg;
    int r0, r1;
    bn_split_range(j->m->output.rows, ith, nth, 1, &r0, &r1);
    double *h = j->ls->heaps + (size_t)ith * j->top;
    int n = 0;
    for (int r = r0; r < r1; r++) heap_offer(h, &n, j->top, bounds_of(j, r, &j->ls->upper[r]));
    j->ls->heap_len[ith] = n;
}

/* The top-th best lower bound over all rows: it is among the threads'
 * top best, merged into the first heap. */
static double merge_threshold(bn_lm_scratch *ls, int nth, int top)
{
    double *h = ls->heaps;
    int n = ls->heap_len[0];
    for (int t = 1; t < nth; t++)
        for (int i = 0; i < ls->heap_len[t]; i++)
            heap_offer(h, &n, top, ls->heaps[(size_t)t * top + i]);
    return h[0];
}

/* The next exact row's weights are asked for while the current one is
 * computed: candidates lie scattered, so the hardware prefetcher, which
 * follows streams, does not see them coming. */
static void prefetch_row(const bn_dense *d, int r)
{
    const char *p = (const char *)d->data + (size_t)r * d->row_bytes;
    for (size_t at = 0; at < d->row_bytes; at += PREFETCH_LINE) __builtin_prefetch(p + at);
}

/* Stage 2 over one thread's rows: exact where the row may reach the
 * threshold, -INFINITY where it cannot. */
static void exact_rows_task(void *arg, int ith, int nth)
{
    token_job *j = arg;
    const bn_dense *out = &j->m->output;
    int r0, r1;
    bn_split_range(out->rows, ith, nth, 1, &r0, &r1);
    int *cand = j->ls->rows + r0, n = 0;
    for (int r = r0; r < r1; r++) {
        if (j->ls->upper[r] < j->threshold)
            j->y[r] = -INFINITY;
        else
            cand[n++] = r;
    }
    for (int i = 0; i < n; i++) {
        if (i + 1 < n) prefetch_row(out, cand[i + 1]);
        bn_dense_rows(j->m->kernels, out, j->x, j->y, cand[i], cand[i] + 1);
    }
    j->ls->n_exact[ith] = n;
}

/* Every row of one token exactly, on the pool. */
static void all_rows_task(void *arg, int ith, int nth)
{
    token_job *j = arg;
    int r0, r1;
    bn_split_range(j->m->output.rows, ith, nth, 1, &r0, &r1);
    bn_dense_rows(j->m->kernels, &j->m->output, j->x, j->y, r0, r1);
    j->ls->n_exact[ith] = r1 - r0;
}

static long sum_exact(const bn_lm_scratch *ls, int nth)
{
    long n = 0;
    for (int t = 0; t < nth; t++) n += ls->n_exact[t];
    return n;
}

/* Can a product over a row overflow for this input? */
static int may_overflow(const bn_model *m, const input_norms *in)
{
    const double largest = in->norm > in->quant_norm ? in->norm : in->quant_norm;
    return (double)m->lm_copy.max_norm * largest >= PRODUCT_LIMIT;
}

/* Stage 2 of one token whose scores are in y: returns the rows computed
 * exactly. */
static long finish_token(bn_context *ctx, token_job *j)
{
    const int nth = bn_pool_size(ctx->pool);
    const bn_model *m = ctx->m;
    const int cols = m->output.cols;
    if (measure_input(j->x, j->qa, cols, &j->in) || may_overflow(m, &j->in)) {
        bn_pool_run(ctx->pool, all_rows_task, j);
        return sum_exact(j->ls, nth);
    }
    j->gamma = float_gamma(cols + BN_F16_LANES);
    j->tiny = 2.0 * (cols + BN_F16_LANES) * FLT_TRUE_MIN;
    bn_pool_run(ctx->pool, bounds_task, j);
    j->threshold = merge_threshold(j->ls, nth, j->top);
    bn_pool_run(ctx->pool, exact_rows_task, j);
    return sum_exact(j->ls, nth);
}

/* ------------------------------------------------------------- the pass */

/* The k every logit row of the pass wants: the largest, or 0 (all) when
 * one wants all or the two stages cannot run. */
static int pass_top(const bn_context *ctx, const bn_pass *b)
{
    const bn_model *m = ctx->m;
    if (!m->lm_copy.q.rows) return 0;
    int top = 1;
    for (int i = 0; i < b->n_logits; i++) {
        const int k = b->sess[b->logit_rows[i]]->logits_top;
        if (k <= 0 || k > m->hp.n_vocab / TOP_MAX_SHARE) return 0;
        if (k > top) top = k;
    }
    return top;
}

typedef struct {
    const bn_model *m;
    const bn_q8act *qa; /* [n] */
    int n;
    float *y; /* [n][n_vocab] */
} score_job;

#define SCORE_ROWS 64 /* rows per step: their levels stay in L1 across the tokens */

/* Stage 1 over one thread's rows: every token's scores with the copy. */
static void score_task(void *arg, int ith, int nth)
{
    const score_job *j = arg;
    const bn_lm_copy *lc = &j->m->lm_copy;
    const bn_kernels *k = j->m->kernels;
    void (*matvec)(const bn_q8rows *, const bn_q8act *, float *, int,
                   int) = k->q8rows_matvec ? k->q8rows_matvec : bn_q8rows_matvec_ref;
    int r0, r1;
    bn_split_range(lc->q.rows, ith, nth, 1, &r0, &r1);
    for (int c = r0; c < r1; c += SCORE_ROWS)
        for (int i = 0; i < j->n; i++)
            matvec(&lc->q, &j->qa[i], j->y + (size_t)i * lc->q.rows, c,
                   c + SCORE_ROWS < r1 ? c + SCORE_ROWS : r1);
}

/* The n inputs x quantized into qa, and their scores with the copy. */
static void score_rows(bn_context *ctx, const float *x, int n, bn_q8act *qa, float *y)
{
    const bn_model *m = ctx->m;
    const int ne = m->hp.n_embd;
    for (int i = 0; i < n; i++)
        (m->kernels->q8_quantize ? m->kernels->q8_quantize
                                 : bn_q8act_quantize_ref)(x + (size_t)i * ne, ne, &qa[i]);
    score_job j = {m, qa, n, y};
    bn_pool_run(ctx->pool, score_task, &j);
}

static void count_rows(bn_session *s, long rows)
{
    s->n_logit_vectors++;
    s->n_exact_rows += rows;
}

/* Two stages for every logit row; 0, or -1 out of memory (nothing done). */
static int two_stage(bn_context *ctx, const bn_pass *b, const float *x, int top)
{
    const bn_model *m = ctx->m;
    const int n = b->n_logits, ne = m->hp.n_embd, nv = m->hp.n_vocab;
    bn_lm_scratch *ls = lm_scratch(ctx, n, top);
    if (!ls) return -1;
    score_rows(ctx, x, n, ls->qa, b->logits);
    for (int i = 0; i < n; i++) {
        bn_session *s = b->sess[b->logit_rows[i]];
        token_job j = {.m = m,
                       .x = x + (size_t)i * ne,
                       .qa = &ls->qa[i],
                       .y = b->logits + (size_t)i * nv,
                       .top = s->logits_top,
                       .ls = ls};
        count_rows(s, finish_token(ctx, &j));
    }
    return 0;
}

void bn_lm_head(bn_context *ctx, const bn_pass *b, const float *x)
{
    const bn_model *m = ctx->m;
    const int top = pass_top(ctx, b);
    if (top && two_stage(ctx, b, x, top) == 0) return;
    bn_dense_matmul(ctx, &m->output, x, b->n_logits, ctx->sc->qa_out, b->logits);
    for (int i = 0; i < b->n_logits; i++) count_rows(b->sess[b->logit_rows[i]], m->output.rows);
}
