/*
 * neon.c - the aarch64 kernel tables: "neon-dotprod" (sdot adds
 * groups of four int8 products straight into int32; ARMv8.2 dot product
 * extension) and "neon-plain" (smull/smlal into int16, widened per block,
 * for cores without it). Both share the NEON quantize and F16 kernels, and
 * multiply prompt batches in tiles of rows x tokens (qk256_matmat).
 * Bitwise identical to scalar.c (kernels.h).
 *
 * Advanced SIMD is part of every aarch64 CPU we target; only the sdot
 * functions are compiled for the extension (target attribute), and
 * kernels.c picks that table only when HWCAP reports it. Empty on other
 * architectures.
 */
#include "grouped.h"
#include "products.h"
#include "table.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <math.h>

#if defined(__clang__)
#define DOTPROD_FN __attribute__((target("dotprod")))
#else
#define DOTPROD_FN __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

#define FLOATS_PER_STEP 16 /* one int8x16 of quantized activations */
#define BYTES_PER_VEC 16
#define QUARTER_BYTES 64 /* activations per quarter of a block (qk256.h) */

/* ============================================================ quantize */

/* max|x_i| with NaNs skipped like the scalar '>' test: a lane is replaced
 * only where |x| compares greater. The max of floats is exact. */
static float absmax_neon(const float *x, int n)
{
    float32x4_t m = vdupq_n_f32(0.0f);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vabsq_f32(vld1q_f32(x + i));
        m = vbslq_f32(vcgtq_f32(v, m), v, m);
    }
    float r = vmaxvq_f32(m);
    for (; i < n; i++) {
        const float v = fabsf(x[i]);
        if (v > r) r = v;
    }
    return r;
}

/* round-half-even(x * s) (vcvtnq, as rintf) clamped to [-128, 127]; a
 * NaN converts to 0, as kernels.h defines (Arm FPToFixed). */
static inline int32x4_t quantize4(const float *x, float32x4_t s)
{
    const int32x4_t v = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x), s));
    return vmaxq_s32(vminq_s32(v, vdupq_n_s32(127)), vdupq_n_s32(-128));
}

/* 16 activations -> 16 int8 at q; adds them to the lanes of *sum. */
static inline void quantize16(const float *x, float32x4_t s, int8_t *q, int32x4_t *sum)
{
    const int32x4_t a = quantize4(x, s), b = quantize4(x + 4, s);
    const int32x4_t c = quantize4(x + 8, s), d = quantize4(x + 12, s);
    *sum = vaddq_s32(*sum, vaddq_s32(vaddq_s32(a, b), vaddq_s32(c, d)));
    /* already clamped: the narrowing moves are exact */
    const int16x8_t ab = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
    const int16x8_t cd = vcombine_s16(vmovn_s32(c), vmovn_s32(d));
    vst1q_s8(q, vcombine_s8(vmovn_s16(ab), vmovn_s16(cd)));
}

/* The activation quantization of scalar.c, four floats at a time. */
static void quantize_neon(const float *x, int n, bn_qact *a)
{
    const float scale = bn_act_scale(absmax_neon(x, n));
    const float32x4_t s = vdupq_n_f32(scale);
    a->scale = scale;
    a->sum = 0;
    for (int b = 0; b < a->n_blocks; b++) {
        const int start = b * QK256_BLOCK;
        const int valid = n - start < QK256_BLOCK ? n - start : QK256_BLOCK;
        int32x4_t bsum = vdupq_n_s32(0);
        for (int i = 0; i < QK256_BLOCK; i += FLOATS_PER_STEP) {
            float pad[FLOATS_PER_STEP];
            const float *src = bn_act_chunk(x + start, valid, i, FLOATS_PER_STEP, pad);
            quantize16(src, s, a->q + start + i, &bsum);
        }
        a->block_sums[b] = vaddvq_s32(bsum);
        a->sum += a->block_sums[b];
    }
}

/* ======================================================== QK256 matvec */

/* Codes of quarter shift/2 of 16 code bytes, as signed bytes 0..2 (an
 * immediate shift must be 1..8, hence quarter 0 apart). */
#define QUARTER0(c) vreinterpretq_s8_u8(vandq_u8(c, vdupq_n_u8(3)))
#define QUARTER(c, shift) QUARTER0(vshrq_n_u8(c, shift))
/* The 16 activations matching code bytes [16j, 16j+16) in that quarter. */
#define Q_AT(q, shift, j)                                                                          \
    vld1q_s8((q) + (size_t)(shift) / 2 * QUARTER_BYTES + (size_t)(j)*BYTES_PER_VEC)

#if defined(__clang__) && !defined(__ARM_FEATURE_DOTPROD)
/* clang (14) declares vdotq_s32 only when the whole file is compiled for
 * dotprod; the target attribute lets its assembler accept sdot. */
DOTPROD_FN static inline int32x4_t sdot(int32x4_t acc, int8x16_t a, int8x16_t b)
{
    __asm__("sdot %0.4s, %1.16b, %2.16b" : "+w"(acc) : "w"(a), "w"(b));
    return acc;
}
#else
#define sdot vdotq_s32
#endif

/* One block's sum(code*q) spread over 4 int32 lanes: each sdot lane adds
 * four products; one accumulator per 16 code bytes keeps chains short. */
DOTPROD_FN static inline int32x4_t block_dot_sdot(const uint8_t *codes, const int8_t *q)
{
    int32x4_t acc[QK256_BLOCK_BYTES / BYTES_PER_VEC];
    for (int j = 0; j < QK256_BLOCK_BYTES / BYTES_PER_VEC; j++) {
        const uint8x16_t c = vld1q_u8(codes + (size_t)j * BYTES_PER_VEC);
        acc[j] = sdot(vdupq_n_s32(0), QUARTER0(c), Q_AT(q, 0, j));
        acc[j] = sdot(acc[j], QUARTER(c, 2), Q_AT(q, 2, j));
        acc[j] = sdot(acc[j], QUARTER(c, 4), Q_AT(q, 4, j));
        acc[j] = sdot(acc[j], QUARTER(c, 6), Q_AT(q, 6, j));
    }
    return vaddq_s32(vaddq_s32(acc[0], acc[1]), vaddq_s32(acc[2], acc[3]));
}

/* The same with widening multiplies: each int16 lane of lo/hi adds 16
 * products of one block (|sum| <= 16*256 = 4096, exact; int16 sums never
 * span blocks: docs/FORWARD.md, Ternary products), then pairs widen to
 * int32. */
static inline int32x4_t block_dot_plain(const uint8_t *codes, const int8_t *q)
{
    int16x8_t lo = vdupq_n_s16(0), hi = vdupq_n_s16(0);
    for (int j = 0; j < QK256_BLOCK_BYTES / BYTES_PER_VEC; j++) {
        const uint8x16_t c = vld1q_u8(codes + (size_t)j * BYTES_PER_VEC);
        const int8x16_t c0 = QUARTER0(c), c1 = QUARTER(c, 2);
        const int8x16_t c2 = QUARTER(c, 4), c3 = QUARTER(c, 6);
        const int8x16_t q0 = Q_AT(q, 0, j), q1 = Q_AT(q, 2, j);
        const int8x16_t q2 = Q_AT(q, 4, j), q3 = Q_AT(q, 6, j);
        lo = vmlal_s8(lo, vget_low_s8(c0), vget_low_s8(q0));
        lo = vmlal_s8(lo, vget_low_s8(c1), vget_low_s8(q1));
        lo = vmlal_s8(lo, vget_low_s8(c2), vget_low_s8(q2));
        lo = vmlal_s8(lo, vget_low_s8(c3), vget_low_s8(q3));
        hi = vmlal_high_s8(vmlal_high_s8(hi, c0, q0), c1, q1);
        hi = vmlal_high_s8(vmlal_high_s8(hi, c2, q2), c3, q3);
    }
    return vpadalq_s16(vpaddlq_s16(lo), hi);
}

/* Row sums and per-block sums from a block_dot above (inlined). */
#define ROW_DOT_BODY(block_dot)                                                                    \
    int32x4_t acc = vdupq_n_s32(0);                                                                \
    for (int b = 0; b < n; b++)                                                                    \
        acc = vaddq_s32(                                                                           \
            acc, block_dot(codes + (size_t)b * QK256_BLOCK_BYTES, q + (size_t)b * QK256_BLOCK));   \
    return vaddvq_s32(acc);
#define BLOCK_DOTS_BODY(block_dot)                                                                 \
    for (int b = 0; b < n; b++)                                                                    \
        dots[b] = vaddvq_s32(                                                                      \
            block_dot(codes + (size_t)b * QK256_BLOCK_BYTES, q + (size_t)b * QK256_BLOCK));

DOTPROD_FN static int32_t row_dot_sdot(const uint8_t *codes, const int8_t *q, int n)
{
    ROW_DOT_BODY(block_dot_sdot)
}

DOTPROD_FN static void block_dots_sdot(const uint8_t *codes, const int8_t *q, int n, int32_t *dots)
{
    BLOCK_DOTS_BODY(block_dot_sdot)
}

static int32_t row_dot_plain(const uint8_t *codes, const int8_t *q, int n)
{
    ROW_DOT_BODY(block_dot_plain)
}

static void block_dots_plain(const uint8_t *codes, const int8_t *q, int n, int32_t *dots)
{
    BLOCK_DOTS_BODY(block_dot_plain)
}

DOTPROD_FN static void qk256_matvec_sdot(const qk256_matrix *w, const bn_qact *a, float *y, int r0,
                                         int r1)
{
    bn_qk256_matvec_rows(w, a, y, r0, r1, row_dot_sdot, block_dots_sdot);
}

static void qk256_matvec_plain(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1)
{
    bn_qk256_matvec_rows(w, a, y, r0, r1, row_dot_plain, block_dots_plain);
}

/* ======================================================== QK256 matmat */

/* Tiles of rows x tokens (bn_matmat_shape, kernels.h) sized so that the
 * accumulators, the code vectors of the tile's rows (16 bytes each, plus
 * their current quarter) and one activation vector fit the 32 registers. */
#define TILE_TOKENS 4 /* both tables; store_sums4 folds a row's accumulators */
#define SDOT_ROWS 4   /* 16 int32 accumulators + 8 code vectors + 1 */
#define PLAIN_ROWS 2  /* 8 int16 + 8 int32 accumulators + 4 code vectors + 1 */
#define CHUNKS (QK256_BLOCK_BYTES / BYTES_PER_VEC) /* code vectors per block of a row */
#define QUARTERS (QK256_BLOCK / QUARTER_BYTES)

/* Code bytes [16j, 16j+16) of block b of a row. */
static inline uint8x16_t code_chunk(const uint8_t *row, int b, int j)
{
    return vld1q_u8(row + (size_t)b * QK256_BLOCK_BYTES + (size_t)j * BYTES_PER_VEC);
}

/* The codes in the low bits of *c (the next quarter) as signed bytes
 * 0..2; *c moves on to the quarter after. */
static inline int8x16_t next_quarter(uint8x16_t *c)
{
    const int8x16_t d = QUARTER0(*c);
    *c = vshrq_n_u8(*c, 2);
    return d;
}

/* sums[t] = the sum of the lanes of acc[t], for the 4 tokens of a tile. */
static inline void store_sums4(const int32x4_t *acc, int32_t *sums)
{
    vst1q_s32(sums, vpaddq_s32(vpaddq_s32(acc[0], acc[1]), vpaddq_s32(acc[2], acc[3])));
}

/* The tiles keep their registers in small arrays: every loop over rows or
 * tokens is unrolled so that the arrays are indexed by constants. */
#define UNROLL _Pragma("GCC unroll 4")

/* The products of block b for a tile of `rows` rows x TILE_TOKENS: each 16
 * code bytes of a row are split quarter by quarter once for all tokens,
 * and each activation vector is loaded once for all rows. MAC(i, t, d, x)
 * adds the products of codes d (row i) and activations x (token t). */
#define TILE_BLOCK(rows, b, MAC)                                                                   \
    for (int j = 0; j < CHUNKS; j++) {                                                             \
        uint8x16_t c[rows];                                                                        \
        UNROLL for (int i = 0; i < (rows); i++) c[i] = code_chunk(codes + i * row_bytes, b, j);    \
        for (int k = 0; k < QUARTERS; k++) {                                                       \
            int8x16_t d[rows];                                                                     \
            UNROLL for (int i = 0; i < (rows); i++) d[i] = next_quarter(&c[i]);                    \
            UNROLL for (int t = 0; t < TILE_TOKENS; t++)                                           \
            {                                                                                      \
                const int8x16_t x = Q_AT(q[t] + (size_t)(b)*QK256_BLOCK, 2 * k, j);                \
                UNROLL for (int i = 0; i < (rows); i++) MAC(i, t, d[i], x);                        \
            }                                                                                      \
        }                                                                                          \
    }

/* Each sdot lane adds four products into int32. */
#define SDOT_MAC(i, t, d, x) acc[i][t] = sdot(acc[i][t], d, x)
/* Two widening multiply-adds cover the 16 products. */
#define PLAIN_MAC(i, t, d, x)                                                                      \
    blk[i][t] = vmlal_high_s8(vmlal_s8(blk[i][t], vget_low_s8(d), vget_low_s8(x)), d, x)

DOTPROD_FN static void row_tile_sdot(const uint8_t *codes, size_t row_bytes, const int8_t *const *q,
                                     int nb, int32_t *sums)
{
    int32x4_t acc[SDOT_ROWS][TILE_TOKENS] = {0};
    for (int b = 0; b < nb; b++) TILE_BLOCK(SDOT_ROWS, b, SDOT_MAC)
    UNROLL for (int i = 0; i < SDOT_ROWS; i++) store_sums4(acc[i], sums + (size_t)i * TILE_TOKENS);
}

/* Each int16 lane of blk adds 32 products of one block (|sum| <= 32*256
 * = 8192, exact; int16 sums never span blocks: docs/FORWARD.md, Ternary
 * products), then its pairs widen into the int32 lanes of acc. */
static void row_tile_plain(const uint8_t *codes, size_t row_bytes, const int8_t *const *q, int nb,
                           int32_t *sums)
{
    int32x4_t acc[PLAIN_ROWS][TILE_TOKENS] = {0};
    for (int b = 0; b < nb; b++) {
        int16x8_t blk[PLAIN_ROWS][TILE_TOKENS] = {0};
        TILE_BLOCK(PLAIN_ROWS, b, PLAIN_MAC)
        UNROLL for (int i = 0; i < PLAIN_ROWS; i++) UNROLL for (int t = 0; t < TILE_TOKENS; t++)
            acc[i][t] = vpadalq_s16(acc[i][t], blk[i][t]);
    }
    UNROLL for (int i = 0; i < PLAIN_ROWS; i++) store_sums4(acc[i], sums + (size_t)i * TILE_TOKENS);
}

static const bn_matmat_shape matmat_sdot = {TILE_TOKENS, SDOT_ROWS, row_tile_sdot,
                                            qk256_matvec_sdot, NULL};
static const bn_matmat_shape matmat_plain = {TILE_TOKENS, PLAIN_ROWS, row_tile_plain,
                                             qk256_matvec_plain, NULL};

static void qk256_matmat_sdot(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                              int r0, int r1)
{
    bn_qk256_matmat_tiles(w, a, n_tok, y, ldy, r0, r1, &matmat_sdot);
}

static void qk256_matmat_plain(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y,
                               int ldy, int r0, int r1)
{
    bn_qk256_matmat_tiles(w, a, n_tok, y, ldy, r0, r1, &matmat_plain);
}

/* ========================================================== F16 matvec */

/* The 16 lanes of kernels.h in four vectors (lanes 0-3, 4-7, 8-11,
 * 12-15), separate multiply and add, folded 8, 4, 2, 1, then the tail. */
static float f16_dot_neon(const uint16_t *w, const float *x, int n)
{
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k + BN_F16_LANES <= n; k += BN_F16_LANES) {
        const float16x8_t h0 = vreinterpretq_f16_u16(vld1q_u16(w + k));
        const float16x8_t h1 = vreinterpretq_f16_u16(vld1q_u16(w + k + 8));
        a0 = vaddq_f32(a0, vmulq_f32(vcvt_f32_f16(vget_low_f16(h0)), vld1q_f32(x + k)));
        a1 = vaddq_f32(a1, vmulq_f32(vcvt_high_f32_f16(h0), vld1q_f32(x + k + 4)));
        a2 = vaddq_f32(a2, vmulq_f32(vcvt_f32_f16(vget_low_f16(h1)), vld1q_f32(x + k + 8)));
        a3 = vaddq_f32(a3, vmulq_f32(vcvt_high_f32_f16(h1), vld1q_f32(x + k + 12)));
    }
    const float32x4_t f4 = vaddq_f32(vaddq_f32(a0, a2), vaddq_f32(a1, a3)); /* folds 8 and 4 */
    const float32x2_t f2 = vadd_f32(vget_low_f32(f4), vget_high_f32(f4));
    const float f1 = vget_lane_f32(f2, 0) + vget_lane_f32(f2, 1);
    return bn_f16_dot_tail(f1, w, x, k, n);
}

static void f16_matvec_neon(const uint16_t *w, int cols, const float *x, float *y, int r0, int r1)
{
    for (int r = r0; r < r1; r++) y[r] = f16_dot_neon(w + (size_t)r * cols, x, cols);
}

/* =========================================================== attention */

#define ALWAYS_INLINE static inline __attribute__((always_inline))
#define ATTN_QUERIES 4 /* query heads per pass: a GQA group of 2B-4T */
#define ATTN_VECS 4    /* float32x4 vectors of BN_ATTN_LANES; output vectors per value pass */

/* Lanes 0-3, 4-7, 8-11, 12-15 in four vectors, folded as f16_dot_neon does. */
static float fold16_neon(const float32x4_t a[ATTN_VECS])
{
    const float32x4_t f4 = vaddq_f32(vaddq_f32(a[0], a[2]), vaddq_f32(a[1], a[3]));
    const float32x2_t f2 = vadd_f32(vget_low_f32(f4), vget_high_f32(f4));
    return vget_lane_f32(f2, 0) + vget_lane_f32(f2, 1);
}

/* 4 elements of KV cache rows from element idx: floats, or F16 halves
 * widened by fcvtl (exact, as bn_f16_to_f32) when f16 is set (a constant:
 * see BN_ATTN_ENTRIES). */
ALWAYS_INLINE float32x4_t cache_load4(const void *rows, size_t idx, int f16)
{
    return f16 ? vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)rows + idx)))
               : vld1q_f32((const float *)rows + idx);
}

/* Scores of the key at element `row` of k for nq queries (a compile-time
 * constant, so the accumulators stay in registers), the key row loaded
 * once for all of them; head dimensions are multiples of 8, so a last
 * step of 8 elements updates the first two vectors only. */
ALWAYS_INLINE void score_key(const float *q, int nq, const void *k, int f16, size_t row, int d,
                             float scale, float *scores, size_t ld)
{
    float32x4_t a[ATTN_QUERIES][ATTN_VECS];
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++)
#pragma GCC unroll 4
        for (int c = 0; c < ATTN_VECS; c++) a[j][c] = vdupq_n_f32(0.0f);
    for (int i = 0; i < d; i += BN_ATTN_LANES) {
        const int vecs = d - i < BN_ATTN_LANES ? (d - i) / 4 : ATTN_VECS;
        float32x4_t kv[ATTN_VECS];
#pragma GCC unroll 4
        for (int c = 0; c < ATTN_VECS; c++)
            kv[c] = c < vecs ? cache_load4(k, row + (size_t)i + 4 * (size_t)c, f16)
                             : vdupq_n_f32(0.0f);
#pragma GCC unroll 4
        for (int j = 0; j < nq; j++)
#pragma GCC unroll 4
            for (int c = 0; c < ATTN_VECS; c++)
                if (c < vecs)
                    a[j][c] = vaddq_f32(a[j][c],
                                        vmulq_f32(vld1q_f32(q + (size_t)j * d + i + 4 * c), kv[c]));
    }
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++) scores[(size_t)j * ld] = fold16_neon(a[j]) * scale;
}

/* Whole groups of ATTN_QUERIES queries together, the rest one by one. */
ALWAYS_INLINE void scores_rows(const float *q, int n_q, const void *k, int f16, size_t stride,
                               int n, int d, float scale, float *scores, size_t ld, int hot)
{
    (void)hot; /* one row at a time either way */
    int j = 0;
    for (; j + ATTN_QUERIES <= n_q; j += ATTN_QUERIES)
        for (int p = 0; p < n; p++)
            score_key(q + (size_t)j * d, ATTN_QUERIES, k, f16, (size_t)p * stride, d, scale,
                      scores + (size_t)j * ld + p, ld);
    for (; j < n_q; j++)
        for (int p = 0; p < n; p++)
            score_key(q + (size_t)j * d, 1, k, f16, (size_t)p * stride, d, scale,
                      scores + (size_t)j * ld + p, ld);
}

/* ATTN_VECS output vectors (fewer at the end of d, a multiple of 8) of nq
 * queries (a compile-time constant) stay in registers over all n keys,
 * each value row loaded once for all of them. */
ALWAYS_INLINE void values_pass(const float *w, size_t ld, int nq, const void *v, int f16,
                               size_t stride, int n, int d, int i0, float *out)
{
    const int vecs = (d - i0) / 4 < ATTN_VECS ? (d - i0) / 4 : ATTN_VECS;
    float32x4_t acc[ATTN_QUERIES][ATTN_VECS];
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++)
#pragma GCC unroll 4
        for (int c = 0; c < ATTN_VECS; c++) acc[j][c] = vdupq_n_f32(0.0f);
    for (int p = 0; p < n; p++) {
        const size_t row = (size_t)p * stride + (size_t)i0;
        float32x4_t vv[ATTN_VECS];
#pragma GCC unroll 4
        for (int c = 0; c < ATTN_VECS; c++)
            vv[c] = c < vecs ? cache_load4(v, row + 4 * (size_t)c, f16) : vdupq_n_f32(0.0f);
#pragma GCC unroll 4
        for (int j = 0; j < nq; j++) {
            const float32x4_t wp = vdupq_n_f32(w[(size_t)j * ld + p]);
#pragma GCC unroll 4
            for (int c = 0; c < ATTN_VECS; c++)
                acc[j][c] = vaddq_f32(acc[j][c], vmulq_f32(wp, vv[c]));
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++)
#pragma GCC unroll 4
        for (int c = 0; c < ATTN_VECS; c++)
            if (c < vecs) vst1q_f32(out + (size_t)j * d + i0 + 4 * c, acc[j][c]);
}

/* Whole groups of ATTN_QUERIES queries together, the rest one by one. */
ALWAYS_INLINE void values_rows(const float *w, size_t ld, int n_q, const void *v, int f16,
                               size_t stride, int n, int d, float *out)
{
    for (int i0 = 0; i0 < d; i0 += ATTN_VECS * 4) {
        int j = 0;
        for (; j + ATTN_QUERIES <= n_q; j += ATTN_QUERIES)
            values_pass(w + (size_t)j * ld, ld, ATTN_QUERIES, v, f16, stride, n, d, i0,
                        out + (size_t)j * d);
        for (; j < n_q; j++)
            values_pass(w + (size_t)j * ld, ld, 1, v, f16, stride, n, d, i0, out + (size_t)j * d);
    }
}

BN_ATTN_ENTRIES(, neon, scores_rows, values_rows)

/* ============================================================= row ops */

#define ROW_STEP 8 /* floats per step of the row ops: BN_SUM_LANES */

/* bn_expf of 4 floats: the same steps in the same order per lane (rows.h),
 * then the three special cases selected over the result. */
static inline float32x4_t exp4(float32x4_t x)
{
    const float32x4_t rounder = vdupq_n_f32(BN_EXP_ROUNDER);
    const float32x4_t t = vaddq_f32(vmulq_f32(x, vdupq_n_f32(BN_EXP_LOG2E)), rounder);
    const float32x4_t k = vsubq_f32(t, rounder);
    const float32x4_t r = vsubq_f32(vsubq_f32(x, vmulq_f32(k, vdupq_n_f32(BN_EXP_LN2_HI))),
                                    vmulq_f32(k, vdupq_n_f32(BN_EXP_LN2_LO)));
    float32x4_t p = vdupq_n_f32(BN_EXP_C7);
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(BN_EXP_C6));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(BN_EXP_C5));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(BN_EXP_C4));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(BN_EXP_C3));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(BN_EXP_C2));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(1.0f));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(1.0f));
    const uint32x4_t e = vaddq_u32(
        vsubq_u32(vreinterpretq_u32_f32(t), vdupq_n_u32(BN_EXP_ROUNDER_BITS)),
        vdupq_n_u32(BN_EXP_BIAS2));
    const uint32x4_t e1 = vshrq_n_u32(e, 1);
    const float32x4_t s1 = vreinterpretq_f32_u32(vshlq_n_u32(e1, BN_EXP_SHIFT));
    const float32x4_t s2 = vreinterpretq_f32_u32(vshlq_n_u32(vsubq_u32(e, e1), BN_EXP_SHIFT));
    float32x4_t y = vmulq_f32(vmulq_f32(p, s1), s2);
    y = vbslq_f32(vcltq_f32(x, vdupq_n_f32(BN_EXP_MIN)), vdupq_n_f32(0.0f), y);
    y = vbslq_f32(vcgtq_f32(x, vdupq_n_f32(BN_EXP_MAX)), vdupq_n_f32(INFINITY), y);
    return vbslq_f32(vceqq_f32(x, x), y, x);
}

/* Adds f0 and f1 (8 floats), widened, into the BN_SUM_LANES double lanes
 * (two per vector). */
static inline void add_lanes(float64x2_t lane[4], float32x4_t f0, float32x4_t f1)
{
    lane[0] = vaddq_f64(lane[0], vcvt_f64_f32(vget_low_f32(f0)));
    lane[1] = vaddq_f64(lane[1], vcvt_high_f64_f32(f0));
    lane[2] = vaddq_f64(lane[2], vcvt_f64_f32(vget_low_f32(f1)));
    lane[3] = vaddq_f64(lane[3], vcvt_high_f64_f32(f1));
}

static inline void store_lanes(double *out, const float64x2_t lane[4])
{
    for (int i = 0; i < 4; i++) vst1q_f64(out + 2 * i, lane[i]);
}

/* Whole steps here, the rest by the steps of rows.h: a step starts at a
 * multiple of BN_SUM_LANES, so its elements go to the lanes scalar.c adds
 * them to. */
static double exp_sum_neon(float *x, int n, float max)
{
    const float32x4_t vmax = vdupq_n_f32(max);
    float64x2_t acc[4] = {vdupq_n_f64(0.0), vdupq_n_f64(0.0), vdupq_n_f64(0.0), vdupq_n_f64(0.0)};
    int p = 0;
    for (; p + ROW_STEP <= n; p += ROW_STEP) {
        const float32x4_t e0 = exp4(vsubq_f32(vld1q_f32(x + p), vmax));
        const float32x4_t e1 = exp4(vsubq_f32(vld1q_f32(x + p + 4), vmax));
        vst1q_f32(x + p, e0);
        vst1q_f32(x + p + 4, e1);
        add_lanes(acc, e0, e1);
    }
    double lane[BN_SUM_LANES];
    store_lanes(lane, acc);
    bn_exp_sum_from(x, p, n, max, lane);
    return bn_sum_lanes(lane);
}

/* RMSNorm in scalar.c's double lanes, then out = x * scale * w. */
static void rmsnorm_neon(float *out, const float *x, const float *w, int n, float eps)
{
    int i = 0;
    float64x2_t acc[4] = {vdupq_n_f64(0.0), vdupq_n_f64(0.0), vdupq_n_f64(0.0), vdupq_n_f64(0.0)};
    for (; i + ROW_STEP <= n; i += ROW_STEP) {
        const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
        add_lanes(acc, vmulq_f32(v0, v0), vmulq_f32(v1, v1));
    }
    double lane[BN_SUM_LANES];
    store_lanes(lane, acc);
    bn_squares_from(x, i, n, lane);
    const float scale = bn_rms_scale(lane, n, eps);
    for (i = 0; i + 4 <= n; i += 4)
        vst1q_f32(out + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), scale), vld1q_f32(w + i)));
    bn_norm_mul_from(out, x, w, i, n, scale);
}

/* gate = gate / (1 + exp(-gate)) * up, four at a time (bn_expf's steps). */
static void silu_mul_neon(float *gate, const float *up, int n)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t g = vld1q_f32(gate + i);
        const float32x4_t den = vaddq_f32(vdupq_n_f32(1.0f), exp4(vnegq_f32(g)));
        vst1q_f32(gate + i, vmulq_f32(vdivq_f32(g, den), vld1q_f32(up + i)));
    }
    bn_silu_mul_from(gate, up, i, n);
}

/* Several inputs of the F16 product: one at a time. */
static void f16_matmat_neon(const uint16_t *w, int cols, const float *x, int n, float *y,
                            size_t ldy, int r0, int r1)
{
    bn_f16_matmat_per_input(f16_matvec_neon, w, cols, x, n, y, ldy, r0, r1);
}

const bn_kernels bn_kernels_neon_dotprod = {
    .name = "neon-dotprod",
    .quantize = quantize_neon,
    .qk256_matvec = qk256_matvec_sdot,
    .f16_matvec = f16_matvec_neon,
    .f16_matmat = f16_matmat_neon,
    .qk256_matmat = qk256_matmat_sdot,
    .q2_matvec = bn_neon_q2_matvec,
    .b1_matvec = bn_neon_b1_matvec,
    .q2_matmat = bn_neon_q2_matmat,
    .b1_matmat = bn_neon_b1_matmat,
    .attn_scores = attn_scores_neon,
    .attn_values = attn_values_neon,
    .attn_scores_f16 = attn_scores_f16_neon,
    .attn_values_f16 = attn_values_f16_neon,
    .exp_sum = exp_sum_neon,
    .rmsnorm = rmsnorm_neon,
    .silu_mul = silu_mul_neon,
};

const bn_kernels bn_kernels_neon_plain = {
    .name = "neon-plain",
    .quantize = quantize_neon,
    .qk256_matvec = qk256_matvec_plain,
    .f16_matvec = f16_matvec_neon,
    .f16_matmat = f16_matmat_neon,
    .qk256_matmat = qk256_matmat_plain,
    .q2_matvec = bn_neon_q2_matvec,
    .b1_matvec = bn_neon_b1_matvec,
    .q2_matmat = bn_neon_q2_matmat,
    .b1_matmat = bn_neon_b1_matmat,
    .attn_scores = attn_scores_neon,
    .attn_values = attn_values_neon,
    .attn_scores_f16 = attn_scores_f16_neon,
    .attn_values_f16 = attn_values_f16_neon,
    .exp_sum = exp_sum_neon,
    .rmsnorm = rmsnorm_neon,
    .silu_mul = silu_mul_neon,
};

#endif
