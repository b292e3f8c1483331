/*
 * lm_copy.c - the output layer's small copy: int8 rows with a scale per
 * 32 values (q8rows.h) of a wide (F16, BF16, F32) output layer, made at
 * load, and for each row the norms that
 * bound how far the copy's product can be from the exact one. The engine
 * scores every row with the copy and computes exactly only the rows that
 * can still be among the best (src/engine/lm_head.c, docs/FORWARD.md,
 * Two-stage logits); the file's weights stay for those rows.
 *
 * The norms are taken in double over the exact values (the file's row and
 * the copy as the kernels see it, fp16 scale times level) and rounded up
 * to float, so each one is an upper bound.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/f16.h"
#include "model.h"
#include "runtime/platform.h"

/* Covers the double rounding of a sum of squares over a row (each term
 * adds at most 2^-53 relative; rows have far fewer than 2^23 values) and
 * of the square root. */
#define NORM_SLACK 0x1p-30

/* The smallest float >= v (v >= 0). */
static float round_up(double v)
{
    float f = (float)v;
    if ((double)f < v) f = nextafterf(f, INFINITY);
    return f;
}

static float norm_up(double sum_squares) { return round_up(sqrt(sum_squares) * (1 + NORM_SLACK)); }

/* Row r of the exact matrix into the copy, and its bounds; w and c are
 * scratch rows of cols floats. */
static void copy_row(const bn_dense *src, bn_lm_copy *lc, int r, float *w, float *c)
{
    const int cols = src->cols, groups = cols / BN_Q8ROWS_GROUP;
    int8_t *q = lc->levels + (size_t)r * cols;
    uint16_t *d = lc->scales + (size_t)r * groups;
    bn_dense_row(src, r, w);
    bn_q8rows_quantize_row(w, cols, q, d);
    for (int g = 0; g < groups; g++) { /* exact: an fp16 scale times a level fits a float */
        const float scale = bn_f16_to_f32(d[g]);
        for (int j = g * BN_Q8ROWS_GROUP; j < (g + 1) * BN_Q8ROWS_GROUP; j++) c[j] = scale * q[j];
    }
    double err = 0, err_max = 0, copy = 0, exact = 0;
    for (int b = 0; b < cols; b += BN_Q8ROWS_GROUP) {
        double block = 0;
        for (int j = b; j < b + BN_Q8ROWS_GROUP; j++) {
            const double e = (double)w[j] - (double)c[j]; /* one rounding at most */
            block += e * e;
            copy += (double)c[j] * c[j];
            exact += (double)w[j] * w[j];
        }
        err += block;
        if (block > err_max) err_max = block;
    }
    bn_lm_row_bound *rb = &lc->rows[r];
    rb->err = norm_up(err);
    rb->err_max = norm_up(err_max);
    rb->copy = norm_up(copy);
    rb->exact = norm_up(exact);
}

typedef struct {
    const bn_dense *src;
    bn_lm_copy *lc;
    float *scratch; /* two rows per thread */
} copy_job;

static void copy_task(void *arg, int ith, int nth)
{
    const copy_job *j = arg;
    int r0, r1;
    bn_split_range(j->src->rows, ith, nth, 1, &r0, &r1);
    float *w = j->scratch + (size_t)ith * 2 * j->src->cols, *c = w + j->src->cols;
    for (int r = r0; r < r1; r++) copy_row(j->src, j->lc, r, w, c);
}

/* Is the output layer wide enough for a copy to save reading? */
static int worth_a_copy(const bn_dense *d)
{
    return d->cols % BN_Q8ROWS_CHUNK == 0 && d->cols <= BN_Q8ROWS_MAX_COLS &&
           (d->type == GGML_TYPE_F16 || d->type == GGML_TYPE_BF16 || d->type == GGML_TYPE_F32);
}

/* The largest exact-row norm, or -1 when a norm is not finite (weights
 * with infinities or NaNs: no bound holds, the copy is dropped). */
static float largest_norm(const bn_lm_copy *lc)
{
    float max = 0;
    for (int r = 0; r < lc->q.rows; r++) {
        const bn_lm_row_bound *rb = &lc->rows[r];
        if (!isfinite(rb->err) || !isfinite(rb->err_max) || !isfinite(rb->copy) ||
            !isfinite(rb->exact))
            return -1;
        if (rb->exact > max) max = rb->exact;
        if (rb->copy > max) max = rb->copy;
    }
    return max;
}

void bn_lm_copy_free(bn_lm_copy *lc)
{
    if (lc->map) bn_pages_unmap(lc->map, lc->map_bytes);
    free(lc->rows);
    *lc = (bn_lm_copy){0};
}

int bn_lm_copy_build(bn_model *m)
{
    const bn_dense *src = &m->output;
    bn_lm_copy *lc = &m->lm_copy;
    if (!worth_a_copy(src)) return 0;
    const size_t n = (size_t)src->rows * src->cols; /* a multiple of BN_Q8ROWS_CHUNK */
    lc->map_bytes = n + n / BN_Q8ROWS_GROUP * sizeof *lc->scales;
    lc->map = bn_pages_map(lc->map_bytes, 1);
    if (lc->map) {
        lc->levels = lc->map;
        lc->scales = (uint16_t *)(lc->levels + n);
    }
    lc->rows = malloc((size_t)src->rows * sizeof *lc->rows);
    float *scratch = malloc((size_t)bn_pool_size(m->pool) * 2 * src->cols * sizeof *scratch);
    if (!lc->map || !lc->rows || !scratch) {
        free(scratch);
        bn_lm_copy_free(lc);
        return -1;
    }
    copy_job j = {src, lc, scratch};
    bn_pool_run(m->pool, copy_task, &j);
    free(scratch);
    lc->q = (bn_q8rows){src->rows, src->cols, lc->levels, lc->scales};
    if ((lc->max_norm = largest_norm(lc)) < 0) bn_lm_copy_free(lc);
    return 0;
}
