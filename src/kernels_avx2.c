/*
 * kernels_avx2.c - the "avx2" kernel table: AVX2 integer dot products
 * (vpmaddubsw on unsigned codes x signed activations) and F16C for the F16
 * output layer. Bitwise identical to kernels_scalar.c (kernels.h).
 *
 * Only the functions below are compiled for AVX2 (target attribute), so the
 * program still runs on older x86-64 CPUs; kernels.c picks this table only
 * when cpu.c reports AVX2 and F16C. Empty on other architectures.
 */
#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels_x86.h"

#define AVX2_FN BN_X86_AVX2_FN

#define FLOATS_PER_VEC 8
#define BYTES_PER_VEC 32

/* ------------------------------------------------------------ quantize */

/* max|x_i| with NaNs skipped, like the scalar '>' test: vmaxps returns its
 * second operand when the first is NaN. The max of floats is exact. */
AVX2_FN static float absmax_avx2(const float *x, int n)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    int i = 0;
    for (; i + FLOATS_PER_VEC <= n; i += FLOATS_PER_VEC)
        m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), m);
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    float r = _mm_cvtss_f32(h);
    for (; i < n; i++) {
        const float v = fabsf(x[i]);
        if (v > r) r = v;
    }
    return r;
}

/* round-half-even(x * s) (vcvtps2dq in the default rounding mode, as
 * rintf), clamped to [-128, 127] in int32. */
AVX2_FN static inline __m256i quantize8(const float *x, __m256 s)
{
    const __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), s));
    return _mm256_max_epi32(_mm256_min_epi32(v, _mm256_set1_epi32(127)), _mm256_set1_epi32(-128));
}

/* 32 activations -> 32 int8 at q; adds them to the int32 lanes of *sum. */
AVX2_FN static inline void quantize32(const float *x, __m256 s, int8_t *q, __m256i *sum)
{
    const __m256i a = quantize8(x, s), b = quantize8(x + 8, s);
    const __m256i c = quantize8(x + 16, s), d = quantize8(x + 24, s);
    *sum = _mm256_add_epi32(*sum, _mm256_add_epi32(_mm256_add_epi32(a, b), _mm256_add_epi32(c, d)));
    /* the packs work per 128-bit lane; the permute restores element order */
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(packed, order));
}

AVX2_FN static void quantize_avx2(const float *x, int n, bn_qact *a)
{
    const float scale = bn_act_scale(absmax_avx2(x, n));
    const __m256 s = _mm256_set1_ps(scale);
    a->scale = scale;
    a->sum = 0;
    for (int b = 0; b < a->n_blocks; b++) {
        const int start = b * QK256_BLOCK;
        const int valid = n - start < QK256_BLOCK ? n - start : QK256_BLOCK;
        __m256i bsum = _mm256_setzero_si256();
        for (int i = 0; i < QK256_BLOCK; i += BYTES_PER_VEC) {
            const float *src = x + start + i;
            float pad[BYTES_PER_VEC]; /* past n: zeros, which quantize to 0 */
            if (i + BYTES_PER_VEC > valid) {
                memset(pad, 0, sizeof pad);
                if (valid > i) memcpy(pad, src, (size_t)(valid - i) * sizeof(float));
                src = pad;
            }
            quantize32(src, s, a->q + start + i, &bsum);
        }
        a->block_sums[b] = bn_x86_hsum_epi32(bsum);
        a->sum += a->block_sums[b];
    }
}

/* ------------------------------------------------------- QK256 matvec */

/* sum(code*q) over one quarter (64 weights, codes at bits `shift`) as
 * int16 pairs: each pair is at most 2*2*128 = 512 in magnitude. */
#define QUARTER_PAIRS(lo, hi, shift, q)                                                       \
    _mm256_add_epi16(                                                                          \
        _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(lo, shift), mask),             \
                             _mm256_loadu_si256((const __m256i *)(q))),                        \
        _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(hi, shift), mask),             \
                             _mm256_loadu_si256((const __m256i *)((q) + BYTES_PER_VEC))))

/* One block's sum(code*q) spread over 8 int32 lanes. The 16 int16 lanes
 * each add 8 products pairs of a single block (|sum| <= 4096), then widen
 * to int32 (spec decision 4: no int16 accumulation across blocks). */
AVX2_FN static inline __m256i block_dot8(const uint8_t *codes, const int8_t *q)
{
    const __m256i mask = _mm256_set1_epi8(3);
    const __m256i lo = _mm256_loadu_si256((const __m256i *)codes);
    const __m256i hi = _mm256_loadu_si256((const __m256i *)(codes + BYTES_PER_VEC));
    const __m256i s01 =
        _mm256_add_epi16(QUARTER_PAIRS(lo, hi, 0, q), QUARTER_PAIRS(lo, hi, 2, q + 64));
    const __m256i s23 =
        _mm256_add_epi16(QUARTER_PAIRS(lo, hi, 4, q + 128), QUARTER_PAIRS(lo, hi, 6, q + 192));
    return _mm256_madd_epi16(_mm256_add_epi16(s01, s23), _mm256_set1_epi16(1));
}

AVX2_FN static void block_dots_avx2(const uint8_t *codes, const int8_t *q, int n, int32_t *dots)
{
    for (int b0 = 0; b0 < n; b0 += BN_X86_REDUCE_LANES) {
        const int m = n - b0 < BN_X86_REDUCE_LANES ? n - b0 : BN_X86_REDUCE_LANES;
        __m256i v[BN_X86_REDUCE_LANES];
        for (int i = 0; i < BN_X86_REDUCE_LANES; i++)
            v[i] = i < m ? block_dot8(codes + (size_t)(b0 + i) * QK256_BLOCK_BYTES,
                                      q + (size_t)(b0 + i) * QK256_BLOCK)
                         : _mm256_setzero_si256();
        bn_x86_store_sums(v, m, dots + b0);
    }
}

AVX2_FN static int32_t row_dot_avx2(const uint8_t *codes, const int8_t *q, int n)
{
    __m256i acc = _mm256_setzero_si256();
    for (int b = 0; b < n; b++, codes += QK256_BLOCK_BYTES, q += QK256_BLOCK) {
        bn_x86_prefetch_ahead(codes);
        acc = _mm256_add_epi32(acc, block_dot8(codes, q));
    }
    return bn_x86_hsum_epi32(acc);
}

AVX2_FN static void qk256_matvec_avx2(const qk256_matrix *w, const bn_qact *a, float *y, int r0,
                                      int r1)
{
    bn_qk256_matvec_rows(w, a, y, r0, r1, row_dot_avx2, block_dots_avx2);
}

/* ------------------------------------------------------- QK256 matmat */

#define MATMAT_TOKENS 8 /* tokens per tile: 8 accumulators + 4 decoded quarters */

/* One row against a tile of 8 tokens. Each half block (32 code bytes) is
 * split into its four quarters once, then for every token the four
 * products are added as int16 (|sum| <= 4 * 512) and widened to int32. */
AVX2_FN static void row_tile_avx2(const uint8_t *codes, size_t row_bytes, const int8_t *const *q,
                                  int nb, int32_t *sums)
{
    (void)row_bytes; /* one row per tile */
    const __m256i mask = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256i acc[MATMAT_TOKENS];
#pragma GCC unroll 8 /* the accumulators must live in registers */
    for (int t = 0; t < MATMAT_TOKENS; t++) acc[t] = _mm256_setzero_si256();
    for (int b = 0; b < nb; b++) {
        for (int half = 0; half < 2; half++) {
            const __m256i c = _mm256_loadu_si256(
                (const __m256i *)(codes + (size_t)b * QK256_BLOCK_BYTES + half * BYTES_PER_VEC));
            __m256i d[4];
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) d[k] = _mm256_and_si256(_mm256_srli_epi16(c, 2 * k), mask);
            const size_t off = (size_t)b * QK256_BLOCK + (size_t)half * BYTES_PER_VEC;
#pragma GCC unroll 8
            for (int t = 0; t < MATMAT_TOKENS; t++) {
                const int8_t *x = q[t] + off;
#define PAIRS(k) _mm256_maddubs_epi16(d[k], _mm256_loadu_si256((const __m256i *)(x + 64 * (k))))
                const __m256i p = _mm256_add_epi16(_mm256_add_epi16(PAIRS(0), PAIRS(1)),
                                                   _mm256_add_epi16(PAIRS(2), PAIRS(3)));
#undef PAIRS
                acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(p, ones));
            }
        }
    }
    _mm256_storeu_si256((__m256i *)sums, bn_x86_reduce8(acc));
}

static const bn_matmat_shape matmat_avx2 = {MATMAT_TOKENS, 1, row_tile_avx2, qk256_matvec_avx2};

AVX2_FN static void qk256_matmat_avx2(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y,
                                      int ldy, int r0, int r1)
{
    bn_qk256_matmat_tiles(w, a, n_tok, y, ldy, r0, r1, &matmat_avx2);
}

/* ---------------------------------------------------------- F16 matvec */

/* The 16 lanes of kernels.h in two vectors (lanes 0-7, 8-15), separate
 * multiply and add, folded 8, 4, 2, 1, then the tail into lane 0. */
AVX2_FN static float f16_dot_avx2(const uint16_t *w, const float *x, int n)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int k = 0;
    for (; k + BN_F16_LANES <= n; k += BN_F16_LANES) {
        const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + k)));
        const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + k + 8)));
        acc0 = _mm256_add_ps(acc0, _mm256_mul_ps(w0, _mm256_loadu_ps(x + k)));
        acc1 = _mm256_add_ps(acc1, _mm256_mul_ps(w1, _mm256_loadu_ps(x + k + 8)));
    }
    return bn_f16_dot_tail(bn_x86_fold8(_mm256_add_ps(acc0, acc1)), w, x, k, n);
}

AVX2_FN static void f16_matvec_avx2(const uint16_t *w, int cols, const float *x, float *y, int r0,
                                    int r1)
{
    for (int r = r0; r < r1; r++) y[r] = f16_dot_avx2(w + (size_t)r * cols, x, cols);
}

const bn_kernels bn_kernels_avx2 = {
    .name = "avx2",
    .quantize = quantize_avx2,
    .qk256_matvec = qk256_matvec_avx2,
    .f16_matvec = f16_matvec_avx2,
    .qk256_matmat = qk256_matmat_avx2,
};

#endif
