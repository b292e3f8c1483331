/*
 * kernels_x86.h - AVX2 helpers shared by the x86 kernel files
 * (avx2.c, avxvnni.c, avx512.c): horizontal sums and maxima, the
 * fold of the F16 dot product lanes, and the products every x86 table
 * takes from avx2.c. Include only under __x86_64__; the helpers
 * are compiled for AVX2, so only AVX2 (or wider) functions may call them.
 */
#ifndef BN_KERNELS_X86_H
#define BN_KERNELS_X86_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "table.h"

#define BN_X86_AVX2_FN __attribute__((target("avx2,f16c")))
/* Inner steps called from more than one place (or with compile-time
 * counts that must unroll), inlined all the same. The prefetch helpers
 * must be: GCC 12 left one out of line in an AVX-512 caller, found it
 * free of side effects and dropped the call, prefetches and all. */
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#define BN_X86_REDUCE_LANES 8      /* vectors reduced together by bn_x86_reduce8 */
#define BN_X86_Q6_K_OFFSET_SHIFT 5 /* x 32 = BN_Q6_K_OFFSET, the Q6_K level offset */
/* Rows stream from RAM: ask for the weights this far ahead, into L1 and,
 * much further, into L2. The hardware prefetcher alone does not run far
 * enough ahead of a loop that does this much work per line; L1 prefetches
 * further ahead than about 2 blocks are slower (bench_kernels "memory"
 * rows; docs/PERFORMANCE.md). */
#define BN_X86_PREFETCH_BYTES 128
#define BN_X86_PREFETCH_L2_BYTES 8192
/* The F16 products of both files take two rows at a time, each in its
 * own lanes exactly as one row alone: two add chains instead of one, whose
 * latency bounds a single row. But the hardware prefetcher streams two
 * rows well only when they lie far apart (neighbouring rows read slower
 * than one row alone; docs/PERFORMANCE.md). So row r0 + i of a range goes
 * with row r0 + half + i when the halves are at least
 * BN_X86_F16_PAIR_APART bytes apart, and ranges shorter than that go row
 * by row. */
#define BN_X86_F16_PAIR_APART (1u << 20)

ALWAYS_INLINE BN_X86_AVX2_FN void bn_x86_prefetch_ahead(const uint8_t *codes)
{
    _mm_prefetch((const char *)codes + BN_X86_PREFETCH_BYTES, _MM_HINT_T0);
    _mm_prefetch((const char *)codes + BN_X86_PREFETCH_L2_BYTES, _MM_HINT_T1);
}

/* The lm-head rows stream from RAM too: the lines BN_X86_PREFETCH_L2_BYTES
 * ahead of the `bytes` about to be read are asked into L2 (nearer, 256 B
 * to 4 KB, gains nothing). */
#define BN_X86_CACHE_LINE 64

ALWAYS_INLINE BN_X86_AVX2_FN void bn_x86_prefetch_l2(const uint8_t *p, size_t bytes)
{
    for (size_t at = 0; at < bytes; at += BN_X86_CACHE_LINE)
        _mm_prefetch((const char *)p + BN_X86_PREFETCH_L2_BYTES + at, _MM_HINT_T1);
}

/* Sum of the 8 int32 lanes of v. */
BN_X86_AVX2_FN static inline int32_t bn_x86_hsum_epi32(__m256i v)
{
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(h);
}

/* Lane i of the result = the sum of the 8 int32 lanes of v[i]. */
BN_X86_AVX2_FN static inline __m256i bn_x86_reduce8(const __m256i v[BN_X86_REDUCE_LANES])
{
    const __m256i h01 = _mm256_hadd_epi32(v[0], v[1]), h23 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i h45 = _mm256_hadd_epi32(v[4], v[5]), h67 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i h0123 = _mm256_hadd_epi32(h01, h23), h4567 = _mm256_hadd_epi32(h45, h67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20),
                            _mm256_permute2x128_si256(h0123, h4567, 0x31));
}

/* dots[i] = the sum of the lanes of v[i] for i < n (n <= 8). */
BN_X86_AVX2_FN static inline void bn_x86_store_sums(const __m256i v[BN_X86_REDUCE_LANES], int n,
                                                    int32_t *dots)
{
    int32_t sums[BN_X86_REDUCE_LANES];
    _mm256_storeu_si256((__m256i *)sums, bn_x86_reduce8(v));
    for (int i = 0; i < n; i++) dots[i] = sums[i];
}

/* Quarter k of 32 QK256 code bytes (bits 2k+1:2k of each, qk256.h): the
 * codes of 32 consecutive weights, one per byte. */
ALWAYS_INLINE BN_X86_AVX2_FN __m256i bn_x86_quarter_codes(__m256i c, int k)
{
    return _mm256_and_si256(_mm256_srli_epi16(c, 2 * k), _mm256_set1_epi8(3));
}

/* The body of a bn_block_dots_fn (products.h) over codes, q, n, dots from
 * block_dot(codes, q), one block's sum(code*q) spread over 8 int32 lanes
 * (inlined): 8 blocks' lanes reduced together. */
#define BN_X86_BLOCK_DOTS_BODY(block_dot)                                                          \
    for (int b0 = 0; b0 < n; b0 += BN_X86_REDUCE_LANES) {                                          \
        const int m = n - b0 < BN_X86_REDUCE_LANES ? n - b0 : BN_X86_REDUCE_LANES;                 \
        __m256i v[BN_X86_REDUCE_LANES];                                                            \
        for (int i = 0; i < BN_X86_REDUCE_LANES; i++)                                              \
            v[i] = i < m ? block_dot(codes + (size_t)(b0 + i) * QK256_BLOCK_BYTES,                 \
                                     q + (size_t)(b0 + i) * QK256_BLOCK)                           \
                         : _mm256_setzero_si256();                                                 \
        bn_x86_store_sums(v, m, dots + b0);                                                        \
    }

/* The largest of the 8 lanes of v (no NaN among them: any order is exact). */
BN_X86_AVX2_FN static inline float bn_x86_hmax8(__m256 v)
{
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
}

/* The little-endian uint16 at p (an fp16 scale inside a block). */
static inline uint16_t bn_x86_load_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Folds F16 dot product lanes 0-7 (lane 8+i already added into lane i)
 * as kernels.h defines: lane[i] += lane[i + w] for w = 4, 2, 1. */
BN_X86_AVX2_FN static inline float bn_x86_fold8(__m256 f8)
{
    const __m128 f4 = _mm_add_ps(_mm256_castps256_ps128(f8), _mm256_extractf128_ps(f8, 1));
    const __m128 f2 = _mm_add_ps(f4, _mm_movehl_ps(f4, f4));
    const __m128 f1 = _mm_add_ss(f2, _mm_movehdup_ps(f2));
    return _mm_cvtss_f32(f1);
}

/* ------------------------------------------------------- F16 products */

typedef float (*bn_x86_f16_dot_fn)(const uint16_t *w, const float *x, int n);
typedef void (*bn_x86_f16_dot2_fn)(const uint16_t *w0, const uint16_t *w1, const float *x, int n,
                                   float *y0, float *y1);

/* Rows [r0, r1) of an F16 product from a table's one-row and two-row dot
 * products, paired as said above. */
ALWAYS_INLINE void bn_x86_f16_matvec_rows(const uint16_t *w, int cols, const float *x, float *y,
                                          int r0, int r1, bn_x86_f16_dot_fn dot,
                                          bn_x86_f16_dot2_fn dot2)
{
    const int half = (r1 - r0) / 2;
    int r = r0;
    if ((size_t)half * (size_t)cols * sizeof *w >= BN_X86_F16_PAIR_APART) {
        for (int i = 0; i < half; i++)
            dot2(w + (size_t)(r0 + i) * cols, w + (size_t)(r0 + half + i) * cols, x, cols,
                 &y[r0 + i], &y[r0 + half + i]);
        r = r0 + 2 * half;
    }
    for (; r < r1; r++) y[r] = dot(w + (size_t)r * cols, x, cols);
}

/* ------------------------------------------------- lm-head products */

/* The products of a Q8_0 / Q6_K output layer and their activation
 * quantizer, defined in avx2.c, for every x86 table but avx512-vnni's
 * Q6_K (avx512.c). AVX-512 Q8_0 versions were slower from caches and no
 * faster from RAM (docs/PERFORMANCE.md, Designs measured and dropped). */
/* The AVX2 prompt-batch product, which avx512-bw (no VNNI) takes too: it
 * beats that table's own matrix-vector product run token by token. */
void bn_x86_qk256_matmat_avx2(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                              int r0, int r1);
/* The Q16 products (q16.h), one token and prompt batches, which the
 * AVX-512 tables take too: none of their own yet. */
void bn_x86_q16_matvec_avx2(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1);
void bn_x86_q16_matmat_avx2(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                            int r0, int r1);
void bn_x86_q8_quantize_avx2(const float *x, int n, bn_q8act *a);
/* q8rows_x86.c: the int8-row copy's products (q8rows.h). */
void bn_x86_q8rows_matvec_avx2(const struct bn_q8rows *w, const bn_q8act *a, float *y, int r0,
                               int r1);
void bn_x86_q8rows_matvec_avx512bw(const struct bn_q8rows *w, const bn_q8act *a, float *y, int r0,
                                   int r1);
void bn_x86_q8rows_matvec_vnni(const struct bn_q8rows *w, const bn_q8act *a, float *y, int r0,
                               int r1);
void bn_x86_q8_0_matvec_avx2(const uint8_t *w, int cols, const bn_q8act *a, float *y, int r0,
                             int r1);
/* The products of Q2_0 and Q1_0 matrices (grouped_x86.c). */
void bn_x86_q2_matvec_avx2(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1);
void bn_x86_b1_matvec_avx2(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1);
/* Their AVX-512 VNNI versions (avx512-vnni table). */
void bn_x86_q2_matvec_vnni(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1);
void bn_x86_b1_matvec_vnni(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1);
/* Their prompt-batch products (grouped_batch_x86.c): AVX2 ones, which
 * every x86 table but avx512-vnni takes, and AVX-512 VNNI ones. */
void bn_x86_q2_matmat_avx2(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                           int r0, int r1);
void bn_x86_b1_matmat_avx2(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                           int r0, int r1);
void bn_x86_q2_matmat_vnni(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                           int r0, int r1);
void bn_x86_b1_matmat_vnni(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                           int r0, int r1);
void bn_x86_q6_k_matvec_avx2(const uint8_t *w, int cols, const bn_q8act *a, float *y, int r0,
                             int r1);

/* The rest of the AVX2 table, which avx-vnni takes whole: it differs only
 * in the QK256 products. */
void bn_x86_quantize_avx2(const float *x, int n, bn_qact *a);
void bn_x86_f16_matvec_avx2(const uint16_t *w, int cols, const float *x, float *y, int r0, int r1);
void bn_x86_f16_matmat_avx2(const uint16_t *w, int cols, const float *x, int n, float *y,
                            size_t ldy, int r0, int r1);
void attn_scores_avx2(const float *q, int n_q, const float *k, size_t stride, int n, int d,
                      float scale, float *scores, size_t ld, int hot);
void attn_values_avx2(const float *w, size_t ld, int n_q, const float *v, size_t stride, int n,
                      int d, float *out);
void attn_scores_f16_avx2(const float *q, int n_q, const uint16_t *k, size_t stride, int n, int d,
                          float scale, float *scores, size_t ld, int hot);
void attn_values_f16_avx2(const float *w, size_t ld, int n_q, const uint16_t *v, size_t stride,
                          int n, int d, float *out);

/* The float row operations (table.h), which the AVX-512 tables take too:
 * short rows and double sums, where 16 lanes would gain little. */
double bn_x86_exp_sum_avx2(float *x, int n, float max);
void bn_x86_rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps);
void bn_x86_silu_mul_avx2(float *gate, const float *up, int n);

#endif
