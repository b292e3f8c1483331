/*
 * scalar.c - the portable C kernel table. It defines the results every
 * SIMD table must reproduce bit for bit (table.h): the quantization, the
 * exact integer sums and, through the products of products.c that every
 * table calls, the order of the float work.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grouped.h"
#include "products.h"
#include "q16.h"
#include "quants.h"
#include "table.h"

/* max|x_i| of the vector; a NaN never compares greater, so it is skipped. */
static float absmax_scalar(const float *x, int n)
{
    float max = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > max) max = fabsf(x[i]);
    return max;
}

/* One activation times the scale -> int8: round half to even (rintf, in
 * the default FP mode), clamped to [-128, 127]; NaN gives 0 (kernels.h). */
static int8_t quantize_one(float v)
{
    if (isnan(v)) return 0;
    const float r = rintf(v);
    return (int8_t)(r > (float)INT8_MAX ? INT8_MAX : r < (float)INT8_MIN ? INT8_MIN : (int)r);
}

/* docs/FORWARD.md, Activation quantization: scale = 127 / max(max|x|,
 * 1e-5) (bn_act_scale), then each q = quantize_one(x * scale); the padding
 * past n quantizes zeros. */
static void quantize_scalar(const float *x, int n, bn_qact *a)
{
    a->scale = bn_act_scale(absmax_scalar(x, n));
    a->sum = 0;
    for (int b = 0; b < a->n_blocks; b++) {
        int32_t bsum = 0;
        for (int i = b * QK256_BLOCK; i < (b + 1) * QK256_BLOCK; i++) {
            const float v = i < n ? x[i] : 0.0f;
            a->q[i] = quantize_one(v * a->scale);
            bsum += a->q[i];
        }
        a->block_sums[b] = bsum;
        a->sum += bsum;
    }
}

/* sum(code * q) over one 256-weight block: byte j holds the codes of
 * weights j, j + 64, j + 128 and j + 192 (qk256.h). */
static int32_t block_dot_scalar(const uint8_t *codes, const int8_t *q)
{
    int32_t sum = 0;
    for (int j = 0; j < QK256_BLOCK_BYTES; j++) {
        unsigned byte = codes[j];
        sum += (int32_t)(byte & 3) * q[j] + (int32_t)((byte >> 2) & 3) * q[j + 64] +
               (int32_t)((byte >> 4) & 3) * q[j + 128] + (int32_t)(byte >> 6) * q[j + 192];
    }
    return sum;
}

/* sum(code * q) over a row of n blocks, exact in int32. */
static int32_t row_dot_scalar(const uint8_t *codes, const int8_t *q, int n)
{
    int32_t sum = 0;
    for (int b = 0; b < n; b++, codes += QK256_BLOCK_BYTES, q += QK256_BLOCK)
        sum += block_dot_scalar(codes, q);
    return sum;
}

static void block_dots_scalar(const uint8_t *codes, const int8_t *q, int n, int32_t *dots)
{
    for (int b = 0; b < n; b++, codes += QK256_BLOCK_BYTES, q += QK256_BLOCK)
        dots[b] = block_dot_scalar(codes, q);
}

/* docs/FORWARD.md, Ternary products, from the exact integer sums above,
 * with the float work in the order every kernel reproduces (kernels.c,
 * shared by all tables):
 *   per-tensor scale: y = ((float)sum(code*q) - (float)sum(q)) / act_scale
 *                         * w_scale (bn_ternary_epilogue);
 *   per-block scales: acc += d_b * (float)(sum_b(code*q) - sum_b(q)) block
 *                     by block from 0, then y = acc / act_scale. */
static void qk256_matvec_scalar(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1)
{
    bn_qk256_matvec_rows(w, a, y, r0, r1, row_dot_scalar, block_dots_scalar);
}

static void q16_matvec_scalar(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1)
{
    bn_q16_matvec_rows(w, a, y, r0, r1, q16_row_dot_ref);
}

/* The prompt-batch products of the definition: the one-token ones in turn. */
static void qk256_matmat_scalar(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y,
                                int ldy, int r0, int r1)
{
    bn_matmat_per_token(qk256_matvec_scalar, w, a, n_tok, y, ldy, r0, r1);
}

static void q16_matmat_scalar(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                              int r0, int r1)
{
    bn_matmat_per_token(q16_matvec_scalar, w, a, n_tok, y, ldy, r0, r1);
}

/* lane[0] after lane[i] += lane[i + w] for w = 8, 4, 2, 1: the F16 and the
 * attention dot products fold their lanes alike. */
_Static_assert(BN_ATTN_LANES == BN_F16_LANES, "one fold for both dot products");
static float fold16(float lane[BN_F16_LANES])
{
    for (int width = BN_F16_LANES / 2; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) lane[l] += lane[l + width];
    return lane[0];
}

/* The F16 dot product (the definition of its lanes, BN_F16_LANES). */
static float f16_dot_scalar(const uint16_t *w, const float *x, int n)
{
    float lane[BN_F16_LANES] = {0};
    int k = 0;
    for (; k + BN_F16_LANES <= n; k += BN_F16_LANES)
        for (int l = 0; l < BN_F16_LANES; l++) {
            float p = bn_f16_to_f32(w[k + l]) * x[k + l];
            lane[l] = lane[l] + p;
        }
    return bn_f16_dot_tail(fold16(lane), w, x, k, n);
}

static void f16_matvec_scalar(const uint16_t *w, int cols, const float *x, float *y, int r0, int r1)
{
    for (int r = r0; r < r1; r++) y[r] = f16_dot_scalar(w + (size_t)r * cols, x, cols);
}

/* Up to BN_F16_INPUTS inputs over rows [r0, r1): each 16 weights widened
 * once, then added into every input's lanes exactly as f16_dot_scalar. */
static void f16_rows_inputs(const uint16_t *w, int cols, const float *x, int n, float *y,
                            size_t ldy, int r0, int r1)
{
    for (int r = r0; r < r1; r++) {
        const uint16_t *wr = w + (size_t)r * cols;
        float lane[BN_F16_INPUTS][BN_F16_LANES] = {{0}};
        int k = 0;
        for (; k + BN_F16_LANES <= cols; k += BN_F16_LANES) {
            float wf[BN_F16_LANES];
            for (int l = 0; l < BN_F16_LANES; l++) wf[l] = bn_f16_to_f32(wr[k + l]);
            for (int i = 0; i < n; i++)
                for (int l = 0; l < BN_F16_LANES; l++) {
                    float p = wf[l] * x[(size_t)i * cols + k + l];
                    lane[i][l] = lane[i][l] + p;
                }
        }
        for (int i = 0; i < n; i++)
            y[(size_t)i * ldy + r] = bn_f16_dot_tail(fold16(lane[i]), wr, x + (size_t)i * cols, k,
                                                     cols);
    }
}

static void f16_matmat_scalar(const uint16_t *w, int cols, const float *x, int n, float *y,
                              size_t ldy, int r0, int r1)
{
    for (int i0 = 0; i0 < n; i0 += BN_F16_INPUTS)
        f16_rows_inputs(w, cols, x + (size_t)i0 * cols,
                        n - i0 < BN_F16_INPUTS ? n - i0 : BN_F16_INPUTS, y + (size_t)i0 * ldy, ldy,
                        r0, r1);
}

/* ------------------------------------------------------------ attention */

/* Element idx of KV cache rows: floats, or F16 halves widened (exactly)
 * to floats when f16 is set. The attention bodies below take f16 as a
 * constant, so each table entry reads one kind of row; everything else is
 * the same for both. */
static inline float cache_at(const void *rows, size_t idx, int f16)
{
    return f16 ? bn_f16_to_f32(((const uint16_t *)rows)[idx]) : ((const float *)rows)[idx];
}

/* Scores of n_q queries against n cached keys (floats or halves). */
static inline void attn_scores_rows(const float *q, int n_q, const void *k, int f16, size_t stride,
                                    int n, int d, float scale, float *scores, size_t ld, int hot)
{
    (void)hot; /* the order of the reads does not matter here */
    for (int j = 0; j < n_q; j++, q += d, scores += ld)
        for (int p = 0; p < n; p++) {
            const size_t row = (size_t)p * stride;
            float lane[BN_ATTN_LANES] = {0};
            for (int i = 0; i < d; i++) {
                float prod = q[i] * cache_at(k, row + (size_t)i, f16);
                lane[i % BN_ATTN_LANES] = lane[i % BN_ATTN_LANES] + prod;
            }
            scores[p] = fold16(lane) * scale;
        }
}

/* Weighted sums of n cached values (floats or halves) for n_q heads. */
static inline void attn_values_rows(const float *w, size_t ld, int n_q, const void *v, int f16,
                                    size_t stride, int n, int d, float *out)
{
    memset(out, 0, (size_t)n_q * d * sizeof *out);
    for (int j = 0; j < n_q; j++, w += ld, out += d)
        for (int p = 0; p < n; p++)
            for (int i = 0; i < d; i++) {
                float prod = w[p] * cache_at(v, (size_t)p * stride + i, f16);
                out[i] = out[i] + prod;
            }
}

BN_ATTN_ENTRIES(, scalar, attn_scores_rows, attn_values_rows)

/* ------------------------------------------------------------ row ops */

static double exp_sum_scalar(float *x, int n, float max)
{
    double lane[BN_SUM_LANES] = {0};
    bn_exp_sum_from(x, 0, n, max, lane);
    return bn_sum_lanes(lane);
}

static void rmsnorm_scalar(float *out, const float *x, const float *w, int n, float eps)
{
    double lane[BN_SUM_LANES] = {0};
    bn_squares_from(x, 0, n, lane);
    bn_norm_mul_from(out, x, w, 0, n, bn_rms_scale(lane, n, eps));
}

static void silu_mul_scalar(float *gate, const float *up, int n)
{
    bn_silu_mul_from(gate, up, 0, n);
}

const bn_kernels bn_kernels_scalar = {
    .name = "scalar",
    .quantize = quantize_scalar,
    .qk256_matvec = qk256_matvec_scalar,
    .q16_matvec = q16_matvec_scalar,
    .q16_matmat = q16_matmat_scalar,
    .f16_matvec = f16_matvec_scalar,
    .f16_matmat = f16_matmat_scalar,
    .qk256_matmat = qk256_matmat_scalar,
    .matmat_pads_no_tile = 1,
    .q8_quantize = bn_q8act_quantize_ref,
    .q8_0_matvec = bn_q8_0_matvec_ref,
    .q6_k_matvec = bn_q6_k_matvec_ref,
    .q2_matvec = bn_q2_matvec_ref,
    .b1_matvec = bn_b1_matvec_ref,
    .q2_matmat = bn_q2_matmat_ref,
    .b1_matmat = bn_b1_matmat_ref,
    .attn_scores = attn_scores_scalar,
    .attn_values = attn_values_scalar,
    .attn_scores_f16 = attn_scores_f16_scalar,
    .attn_values_f16 = attn_values_f16_scalar,
    .exp_sum = exp_sum_scalar,
    .rmsnorm = rmsnorm_scalar,
    .silu_mul = silu_mul_scalar,
};
