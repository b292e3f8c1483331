/*
 * avx2.c - the "avx2" kernel table: AVX2 integer dot products
 * (vpmaddubsw on unsigned codes x signed activations) and F16C for the F16
 * output layer; also the products of a Q8_0 / Q6_K output layer, which the
 * AVX-512 tables share, and the functions the avx-vnni table takes (x86.h).
 * Bitwise identical to scalar.c and, for the lm-head products, to quants.c
 * (kernels.h).
 *
 * Only the functions below are compiled for AVX2 (target attribute), so the
 * program still runs on older x86-64 CPUs; kernels.c picks this table only
 * when cpu.c reports AVX2 and F16C. Empty on other architectures.
 */
#include "products.h"
#include "table.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "q16.h"
#include "quants.h"
#include "x86.h"

#define AVX2_FN BN_X86_AVX2_FN

#define FLOATS_PER_VEC 8
#define BYTES_PER_VEC 32

/* ============================================================ quantize */

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
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), s);
    /* NaN lanes -> +0, so they give 0 (kernels.h), not vcvtps2dq's INT_MIN */
    const __m256 ordered = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    const __m256i q = _mm256_cvtps_epi32(ordered);
    return _mm256_max_epi32(_mm256_min_epi32(q, _mm256_set1_epi32(127)), _mm256_set1_epi32(-128));
}

/* Stores 32 int32 lanes in [-128, 127] (a, b, c, d in order) as int8 at q. */
AVX2_FN static inline void store_levels32(__m256i a, __m256i b, __m256i c, __m256i d, int8_t *q)
{
    /* the packs work per 128-bit lane; the permute restores element order */
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(packed, order));
}

/* 32 activations -> 32 int8 at q; adds them to the int32 lanes of *sum. */
AVX2_FN static inline void quantize32(const float *x, __m256 s, int8_t *q, __m256i *sum)
{
    const __m256i a = quantize8(x, s), b = quantize8(x + 8, s);
    const __m256i c = quantize8(x + 16, s), d = quantize8(x + 24, s);
    *sum = _mm256_add_epi32(*sum, _mm256_add_epi32(_mm256_add_epi32(a, b), _mm256_add_epi32(c, d)));
    store_levels32(a, b, c, d, q);
}

/* The activation quantization of scalar.c, eight floats at a time. */
AVX2_FN void bn_x86_quantize_avx2(const float *x, int n, bn_qact *a)
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
            float pad[BYTES_PER_VEC];
            const float *src = bn_act_chunk(x + start, valid, i, BYTES_PER_VEC, pad);
            quantize32(src, s, a->q + start + i, &bsum);
        }
        a->block_sums[b] = bn_x86_hsum_epi32(bsum);
        a->sum += a->block_sums[b];
    }
}

/* ======================================================== QK256 matvec */

/* sum(code*q) over quarter k (64 weights) as int16 pairs: each pair is
 * at most 2*2*128 = 512 in magnitude. */
#define QUARTER_PAIRS(lo, hi, k, q)                                                                \
    _mm256_add_epi16(                                                                              \
        _mm256_maddubs_epi16(bn_x86_quarter_codes(lo, k),                                          \
                             _mm256_loadu_si256((const __m256i *)(q))),                            \
        _mm256_maddubs_epi16(bn_x86_quarter_codes(hi, k),                                          \
                             _mm256_loadu_si256((const __m256i *)((q) + BYTES_PER_VEC))))

/* One block's sum(code*q) spread over 8 int32 lanes. The 16 int16 lanes
 * each add 8 products pairs of a single block (|sum| <= 4096), then widen
 * to int32 (docs/FORWARD.md, Integer accumulation). */
AVX2_FN static inline __m256i block_dot8(const uint8_t *codes, const int8_t *q)
{
    const __m256i lo = _mm256_loadu_si256((const __m256i *)codes);
    const __m256i hi = _mm256_loadu_si256((const __m256i *)(codes + BYTES_PER_VEC));
    const __m256i s01 = _mm256_add_epi16(QUARTER_PAIRS(lo, hi, 0, q),
                                         QUARTER_PAIRS(lo, hi, 1, q + 64));
    const __m256i s23 = _mm256_add_epi16(QUARTER_PAIRS(lo, hi, 2, q + 128),
                                         QUARTER_PAIRS(lo, hi, 3, q + 192));
    return _mm256_madd_epi16(_mm256_add_epi16(s01, s23), _mm256_set1_epi16(1));
}

AVX2_FN static void block_dots_avx2(const uint8_t *codes, const int8_t *q, int n,
                                    int32_t *dots){BN_X86_BLOCK_DOTS_BODY(block_dot8)}

/* sum(code * q) over a row of n blocks, the blocks' sums in one vector. */
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

/* ========================================================== Q16 matvec */

/* The codes of trit n of a group's 32 bytes from s_n (q16.h): two signed
 * compares, negated. */
ALWAYS_INLINE AVX2_FN __m256i q16_codes(__m256i s)
{
    const __m256i low = _mm256_set1_epi8(Q16_LOW), high = _mm256_set1_epi8(Q16_HIGH);
    return _mm256_sub_epi8(_mm256_setzero_si256(),
                           _mm256_add_epi8(_mm256_cmpgt_epi8(s, low), _mm256_cmpgt_epi8(s, high)));
}

/* sum(code * q) over one Q16 group of `trits` codes a byte (q16.h): the
 * codes from two signed compares, each next byte value 3 * s by two byte
 * adds; int16 pairs (|sum| <= 5 * 512) widened to int32 once a group. */
ALWAYS_INLINE AVX2_FN __m256i q16_group(const uint8_t *bytes, const int8_t *q, int trits)
{
    __m256i s = _mm256_loadu_si256((const __m256i *)bytes), p = _mm256_setzero_si256();
#pragma GCC unroll 5
    for (int n = 0; n < trits; n++) {
        p = _mm256_add_epi16(
            p, _mm256_maddubs_epi16(
                   q16_codes(s),
                   _mm256_loadu_si256((const __m256i *)(q + (size_t)BYTES_PER_VEC * (size_t)n))));
        s = _mm256_add_epi8(s, _mm256_add_epi8(s, s));
    }
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* sum(code * q) over a Q16 row of nb blocks: whole groups, then the tail. */
AVX2_FN static int32_t q16_row_dot_avx2(const uint8_t *row, const int8_t *q, int nb)
{
    const int weights = nb * QK256_BLOCK, whole = weights / Q16_GROUP;
    __m256i acc = _mm256_setzero_si256();
    int g = 0;
    for (; g < whole; g++) {
        bn_x86_prefetch_ahead(row + (size_t)g * Q16_GROUP_BYTES);
        acc = _mm256_add_epi32(acc, q16_group(row + (size_t)g * Q16_GROUP_BYTES,
                                              q + (size_t)g * Q16_GROUP, Q16_TRITS));
    }
    if (g < q16_groups(nb))
        acc = _mm256_add_epi32(acc,
                               q16_group(row + (size_t)g * Q16_GROUP_BYTES,
                                         q + (size_t)g * Q16_GROUP, q16_group_trits(weights, g)));
    return bn_x86_hsum_epi32(acc);
}

AVX2_FN void bn_x86_q16_matvec_avx2(const qk256_matrix *w, const bn_qact *a, float *y, int r0,
                                    int r1)
{
    bn_q16_matvec_rows(w, a, y, r0, r1, q16_row_dot_avx2);
}

/* ======================================================== QK256 matmat */

#define MATMAT_TOKENS 8 /* most tokens per tile: 8 accumulators + 4 decoded quarters */
/* A tile's int16 lanes each add 8 product pairs of a block, |pair| <= 2 *
 * 2 * 128: so up to WIDEN_BLOCKS blocks sum in int16 without overflow
 * before they are widened to int32 (docs/FORWARD.md, Integer
 * accumulation; test_matmat.c's long rows of extreme products). */
#define PAIR_BOUND (2 * 2 * 128)
#define PAIRS_PER_BLOCK 8
#define WIDEN_BLOCKS (INT16_MAX / (PAIR_BOUND * PAIRS_PER_BLOCK))

/* acc + the products of one quarter of a token's half block (x) with its
 * decoded codes d, added as int16. In asm, in this order: compiled from
 * intrinsics, GCC starts the products of every token of the tile ahead of
 * their adds, runs out of the 16 ymm registers and keeps the accumulators
 * on the stack. */
ALWAYS_INLINE AVX2_FN __m256i quarter_product(__m256i acc, __m256i d, const int8_t *x)
{
    __m256i p;
    __asm__ volatile("vpmaddubsw %[x], %[d], %[p]\n\t"
                     "vpaddw %[p], %[acc], %[acc]"
                     : [acc] "+x"(acc), [p] "=&x"(p)
                     : [d] "x"(d), [x] "m"(*(const __m256i *)x));
    return acc;
}

/* A tile's int16 sums, zeroed, and added (widened) into its int32 sums. */
ALWAYS_INLINE AVX2_FN void zero_tile(__m256i *acc, int tile)
{
#pragma GCC unroll 8
    for (int t = 0; t < tile; t++) acc[t] = _mm256_setzero_si256();
}

ALWAYS_INLINE AVX2_FN void widen_tile(__m256i *wide, const __m256i *acc, int tile)
{
#pragma GCC unroll 8
    for (int t = 0; t < tile; t++)
        wide[t] = _mm256_add_epi32(wide[t], _mm256_madd_epi16(acc[t], _mm256_set1_epi16(1)));
}

/* One row against a tile of `tile` tokens (a compile-time constant, so
 * the accumulators live in registers). Each half block is split into its
 * four quarters once for all the tile's tokens; each token's products add
 * up in int16 for WIDEN_BLOCKS blocks, then widen into int32 sums. A
 * half's quarters go through every token one after another, and each
 * quarter's register then takes the next half's same quarter: the next
 * half's codes are ready before its first product, with no registers
 * beyond the four. */
ALWAYS_INLINE AVX2_FN void row_tile_body(const uint8_t *codes, const int8_t *const *q, int nb,
                                         int32_t *sums, int tile)
{
    const int halves = 2 * nb;
    __m256i wide[MATMAT_TOKENS], d[4];
    zero_tile(wide, MATMAT_TOKENS);
    const __m256i first = _mm256_loadu_si256((const __m256i *)codes);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) d[k] = bn_x86_quarter_codes(first, k);
    for (int h0 = 0; h0 < halves; h0 += 2 * WIDEN_BLOCKS) {
        const int h1 = halves - h0 < 2 * WIDEN_BLOCKS ? halves : h0 + 2 * WIDEN_BLOCKS;
        __m256i acc[MATMAT_TOKENS];
        zero_tile(acc, tile);
        for (int h = h0; h < h1; h++) {
            const uint8_t *half = codes + (size_t)h * BYTES_PER_VEC;
            bn_x86_prefetch_ahead(half);
            const __m256i next = _mm256_loadu_si256(
                (const __m256i *)(h + 1 < halves ? half + BYTES_PER_VEC : half));
            const size_t off = (size_t)(h / 2) * QK256_BLOCK + (size_t)(h % 2) * BYTES_PER_VEC;
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
#pragma GCC unroll 8
                for (int t = 0; t < tile; t++)
                    acc[t] = quarter_product(acc[t], d[k], q[t] + off + 64 * (size_t)k);
                d[k] = bn_x86_quarter_codes(next, k);
            }
        }
        widen_tile(wide, acc, tile);
    }
    _mm256_storeu_si256((__m256i *)sums, bn_x86_reduce8(wide));
}

/* A tile function and a shape for each tile width from 2 to 8: a short
 * pass (a --lookup verify pass, the end of a prompt) does the work of its
 * own tokens only, where one 8-token tile would repeat its last token.
 * MATMAT_ROWS rows a tile: the float epilogue waits on a row's last
 * products, and waiting once for several rows stalls the pipeline less.
 * Each row stores 8 sums; a narrower tile's extra ones are overwritten by
 * the next row's or never read. */
#define MATMAT_ROWS 4
#define TILE_FN(NAME, BODY, T)                                                                     \
    AVX2_FN static void NAME##_tile##T(const uint8_t *rows, size_t row_bytes,                      \
                                       const int8_t *const *q, int nb, int32_t *sums)              \
    {                                                                                              \
        for (int i = 0; i < MATMAT_ROWS; i++)                                                      \
            BODY(rows + (size_t)i * row_bytes, q, nb, sums + (size_t)i * (T), T);                  \
    }
#define TILE_SHAPE(NAME, T, MATVEC) [T] = {T, MATMAT_ROWS, NAME##_tile##T, MATVEC, NULL}
/* The tile functions NAME_tile2 .. NAME_tile8 of a row body (one row
 * against a tile), and their shapes NAME[2 .. 8]. */
#define TILE_SHAPES(NAME, BODY, MATVEC)                                                            \
    TILE_FN(NAME, BODY, 2)                                                                         \
    TILE_FN(NAME, BODY, 3)                                                                         \
    TILE_FN(NAME, BODY, 4)                                                                         \
    TILE_FN(NAME, BODY, 5)                                                                         \
    TILE_FN(NAME, BODY, 6)                                                                         \
    TILE_FN(NAME, BODY, 7)                                                                         \
    TILE_FN(NAME, BODY, 8)                                                                         \
    static const bn_matmat_shape NAME[MATMAT_TOKENS + 1] = {                                       \
        TILE_SHAPE(NAME, 2, MATVEC), TILE_SHAPE(NAME, 3, MATVEC), TILE_SHAPE(NAME, 4, MATVEC),     \
        TILE_SHAPE(NAME, 5, MATVEC), TILE_SHAPE(NAME, 6, MATVEC), TILE_SHAPE(NAME, 7, MATVEC),     \
        TILE_SHAPE(NAME, 8, MATVEC)};

TILE_SHAPES(matmat_avx2, row_tile_body, qk256_matvec_avx2)

/* Whole 8-token tiles, then the rest in one tile of its own width (one
 * token left: the matrix-vector product), for either layout's shapes. */
ALWAYS_INLINE AVX2_FN void matmat_in_tiles(const qk256_matrix *w, const bn_qact *a, int n_tok,
                                           float *y, int ldy, int r0, int r1,
                                           const bn_matmat_shape *shapes)
{
    const int whole = n_tok / MATMAT_TOKENS * MATMAT_TOKENS, rest = n_tok - whole;
    if (whole) bn_qk256_matmat_tiles(w, a, whole, y, ldy, r0, r1, &shapes[MATMAT_TOKENS]);
    float *y_rest = y + (size_t)whole * (size_t)ldy;
    if (rest == 1) shapes[MATMAT_TOKENS].matvec(w, &a[whole], y_rest, r0, r1);
    if (rest > 1) bn_qk256_matmat_tiles(w, a + whole, rest, y_rest, ldy, r0, r1, &shapes[rest]);
}

AVX2_FN void bn_x86_qk256_matmat_avx2(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y,
                                      int ldy, int r0, int r1)
{
    matmat_in_tiles(w, a, n_tok, y, ldy, r0, r1, matmat_avx2);
}

/* ========================================================== Q16 matmat */

/* A Q16 group's int16 lanes add Q16_TRITS product pairs per token, so
 * this many groups sum in int16 before they widen (as WIDEN_BLOCKS). */
#define Q16_WIDEN_GROUPS (INT16_MAX / (PAIR_BOUND * Q16_TRITS))

/* One Q16 row against a tile of `tile` tokens: each trit plane of a group
 * is split once for all the tile's tokens, its products added in int16
 * (quarter_product) for Q16_WIDEN_GROUPS groups, then widened. */
ALWAYS_INLINE AVX2_FN void q16_row_tile_body(const uint8_t *row, const int8_t *const *q, int nb,
                                             int32_t *sums, int tile)
{
    const int weights = nb * QK256_BLOCK, groups = q16_groups(nb);
    __m256i wide[MATMAT_TOKENS];
    zero_tile(wide, MATMAT_TOKENS);
    for (int g0 = 0; g0 < groups; g0 += Q16_WIDEN_GROUPS) {
        const int g1 = groups - g0 < Q16_WIDEN_GROUPS ? groups : g0 + Q16_WIDEN_GROUPS;
        __m256i acc[MATMAT_TOKENS];
        zero_tile(acc, tile);
        for (int g = g0; g < g1; g++) {
            const uint8_t *bytes = row + (size_t)g * Q16_GROUP_BYTES;
            bn_x86_prefetch_ahead(bytes);
            const int trits = q16_group_trits(weights, g);
            __m256i s = _mm256_loadu_si256((const __m256i *)bytes);
            for (int n = 0; n < trits; n++) {
                const __m256i code = q16_codes(s);
                const size_t off = (size_t)g * Q16_GROUP + (size_t)n * BYTES_PER_VEC;
#pragma GCC unroll 8
                for (int t = 0; t < tile; t++) acc[t] = quarter_product(acc[t], code, q[t] + off);
                s = _mm256_add_epi8(s, _mm256_add_epi8(s, s));
            }
        }
        widen_tile(wide, acc, tile);
    }
    _mm256_storeu_si256((__m256i *)sums, bn_x86_reduce8(wide));
}

TILE_SHAPES(q16_matmat_avx2, q16_row_tile_body, bn_x86_q16_matvec_avx2)

AVX2_FN void bn_x86_q16_matmat_avx2(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y,
                                    int ldy, int r0, int r1)
{
    matmat_in_tiles(w, a, n_tok, y, ldy, r0, r1, q16_matmat_avx2);
}

/* ========================================================== F16 matvec */

/* The 16 lanes of kernels.h in two vectors (lanes 0-7, 8-15), separate
 * multiply and add, folded 8, 4, 2, 1, then the tail into lane 0. */
typedef struct {
    __m256 lo, hi;
} f16_lanes;

/* Sixteen F16 weights times x into the lanes (BN_F16_LANES). */
ALWAYS_INLINE AVX2_FN f16_lanes f16_step(f16_lanes a, const uint16_t *w, const float *x, int k)
{
    const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + k)));
    const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + k + 8)));
    a.lo = _mm256_add_ps(a.lo, _mm256_mul_ps(w0, _mm256_loadu_ps(x + k)));
    a.hi = _mm256_add_ps(a.hi, _mm256_mul_ps(w1, _mm256_loadu_ps(x + k + 8)));
    return a;
}

ALWAYS_INLINE AVX2_FN float f16_fold(f16_lanes a, const uint16_t *w, const float *x, int k, int n)
{
    return bn_f16_dot_tail(bn_x86_fold8(_mm256_add_ps(a.lo, a.hi)), w, x, k, n);
}

/* The F16 dot product in scalar.c's lanes and folds. */
AVX2_FN static float f16_dot_avx2(const uint16_t *w, const float *x, int n)
{
    f16_lanes a = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    int k = 0;
    for (; k + BN_F16_LANES <= n; k += BN_F16_LANES) a = f16_step(a, w, x, k);
    return f16_fold(a, w, x, k, n);
}

/* Two rows at once, each exactly as f16_dot_avx2 (kernels_x86.h says why). */
AVX2_FN static void f16_dot2_avx2(const uint16_t *w0, const uint16_t *w1, const float *x, int n,
                                  float *y0, float *y1)
{
    f16_lanes a0 = {_mm256_setzero_ps(), _mm256_setzero_ps()}, a1 = a0;
    int k = 0;
    for (; k + BN_F16_LANES <= n; k += BN_F16_LANES) {
        a0 = f16_step(a0, w0, x, k);
        a1 = f16_step(a1, w1, x, k);
    }
    *y0 = f16_fold(a0, w0, x, k, n);
    *y1 = f16_fold(a1, w1, x, k, n);
}

AVX2_FN void bn_x86_f16_matvec_avx2(const uint16_t *w, int cols, const float *x, float *y, int r0,
                                    int r1)
{
    bn_x86_f16_matvec_rows(w, cols, x, y, r0, r1, f16_dot_avx2, f16_dot2_avx2);
}

/* Rows [r0, r1) for n inputs (a compile-time constant up to
 * BN_F16_INPUTS): each 16 weights converted once, then stepped into every
 * input's lanes exactly as f16_step. One row at a time: the work per
 * weight is n times a single input's, so the prefetch into L2 keeps one
 * stream ahead. */
ALWAYS_INLINE AVX2_FN void f16_rows_inputs(const uint16_t *w, int cols, const float *x, int n,
                                           float *y, size_t ldy, int r0, int r1)
{
    for (int r = r0; r < r1; r++) {
        const uint16_t *wr = w + (size_t)r * cols;
        f16_lanes a[BN_F16_INPUTS];
#pragma GCC unroll 4
        for (int i = 0; i < n; i++) a[i].lo = a[i].hi = _mm256_setzero_ps();
        int k = 0;
        for (; k + BN_F16_LANES <= cols; k += BN_F16_LANES) {
            bn_x86_prefetch_l2((const uint8_t *)(wr + k), BN_F16_LANES * sizeof *wr);
            const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wr + k)));
            const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wr + k + 8)));
#pragma GCC unroll 4
            for (int i = 0; i < n; i++) {
                const float *xi = x + (size_t)i * cols + k;
                a[i].lo = _mm256_add_ps(a[i].lo, _mm256_mul_ps(w0, _mm256_loadu_ps(xi)));
                a[i].hi = _mm256_add_ps(a[i].hi, _mm256_mul_ps(w1, _mm256_loadu_ps(xi + 8)));
            }
        }
#pragma GCC unroll 4
        for (int i = 0; i < n; i++)
            y[(size_t)i * ldy + r] = f16_fold(a[i], wr, x + (size_t)i * cols, k, cols);
    }
}

/* Up to BN_F16_INPUTS inputs at a time over rows [r0, r1). */
AVX2_FN void bn_x86_f16_matmat_avx2(const uint16_t *w, int cols, const float *x, int n, float *y,
                                    size_t ldy, int r0, int r1)
{
    for (int i0 = 0; i0 < n; i0 += BN_F16_INPUTS) {
        const float *xi = x + (size_t)i0 * cols;
        float *yi = y + (size_t)i0 * ldy;
        switch (n - i0) {
        case 1: f16_rows_inputs(w, cols, xi, 1, yi, ldy, r0, r1); break;
        case 2: f16_rows_inputs(w, cols, xi, 2, yi, ldy, r0, r1); break;
        case 3: f16_rows_inputs(w, cols, xi, 3, yi, ldy, r0, r1); break;
        default: f16_rows_inputs(w, cols, xi, BN_F16_INPUTS, yi, ldy, r0, r1); break;
        }
    }
}

/* ==================================================== lm-head products */

/* One activation group (kernels.h): levels of x * inverse, clamped in
 * float (vmaxps keeps its second operand for a NaN), rounded half to even. */
AVX2_FN static inline __m256i q8_levels8(__m256 x, __m256 inverse)
{
    const __m256 v = _mm256_max_ps(_mm256_mul_ps(x, inverse), _mm256_set1_ps(-BN_Q8_LEVELS));
    return _mm256_cvtps_epi32(_mm256_min_ps(v, _mm256_set1_ps(BN_Q8_LEVELS)));
}

/* The --lm-head activation quantization of quants.c, a group at a time. */
AVX2_FN void bn_x86_q8_quantize_avx2(const float *x, int n, bn_q8act *a)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    a->n = n;
    for (int g = 0; g < n / BN_Q8_GROUP; g++, x += BN_Q8_GROUP) {
        __m256 v[4], m = _mm256_setzero_ps(); /* 4 x 8 = BN_Q8_GROUP values */
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + FLOATS_PER_VEC * (size_t)i);
            m = _mm256_max_ps(_mm256_and_ps(v[i], abs_mask), m); /* NaN skipped */
        }
        const __m256 inv = _mm256_set1_ps(bn_q8_inverse(bn_x86_hmax8(m), &a->d[g]));
        const __m256i l0 = q8_levels8(v[0], inv), l1 = q8_levels8(v[1], inv);
        const __m256i l2 = q8_levels8(v[2], inv), l3 = q8_levels8(v[3], inv);
        a->sums[2 * (size_t)g] = (int16_t)bn_x86_hsum_epi32(_mm256_add_epi32(l0, l1));
        a->sums[2 * (size_t)g + 1] = (int16_t)bn_x86_hsum_epi32(_mm256_add_epi32(l2, l3));
        store_levels32(l0, l1, l2, l3, a->q + (size_t)g * BN_Q8_GROUP);
    }
    bn_q8act_interleave(a);
}

/* The Q8_0 rows also into L1, Q8_L1_AHEAD bytes ahead: with the L2
 * prefetch alone the output layer fell short of the read loop
 * (bench_kernels output; docs/PERFORMANCE.md). */
#define Q8_L1_AHEAD 1024

AVX2_FN static inline void prefetch_l1(const uint8_t *p, size_t bytes)
{
    for (size_t at = 0; at < bytes; at += BN_X86_CACHE_LINE)
        _mm_prefetch((const char *)p + Q8_L1_AHEAD + at, _MM_HINT_T0);
}

/* The groups of a row are summed 8 at a time (8 Q8_0 blocks, or a Q6_K
 * block): their int32 sums come out together in one vector of 8 lanes,
 * whose float lanes (kernels.h: group g into lane g % 16) alternate
 * between two accumulators, lanes 0-7 and 8-15. Two variables, not an
 * array: indexed by a variable, the array went through memory and the
 * store-to-load latency held up every step. */

/* acc + (dw * d) * isum, lane by lane (kernels.h). */
AVX2_FN static inline __m256 q8_lanes_add(__m256 acc, __m256 dw, __m256 d, __m256i isum)
{
    return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(dw, d), _mm256_cvtepi32_ps(isum)));
}

#define PASS 8 /* Q8_0 blocks */

/* The fp16 scales of PASS consecutive Q8_0 blocks as floats (word
 * inserts: faster than a gather). */
AVX2_FN static inline __m256 q8_0_scales(const uint8_t *blocks)
{
#define DW(i) (short)bn_x86_load_u16(blocks + BN_Q8_0_BYTES * (size_t)(i))
    return _mm256_cvtph_ps(_mm_setr_epi16(DW(0), DW(1), DW(2), DW(3), DW(4), DW(5), DW(6), DW(7)));
#undef DW
}

/* PASS consecutive Q8_0 blocks times their activation groups (levels q,
 * scales d), added into acc. The products go through vpmaddubsw as |w|
 * times q with w's sign (|pair| <= 2 * 128 * 127 < 2^15). */
AVX2_FN ALWAYS_INLINE __m256 q8_0_pass(const uint8_t *blocks, const int8_t *q, const float *d,
                                       __m256 acc)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i v[PASS];
#pragma GCC unroll 8
    for (int i = 0; i < PASS; i++) {
        const __m256i w = _mm256_loadu_si256(
            (const __m256i *)(blocks + BN_Q8_0_BYTES * (size_t)i + 2));
        const __m256i x = _mm256_loadu_si256((const __m256i *)(q + BN_Q8_GROUP * (size_t)i));
        v[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w)),
                                 ones);
    }
    return q8_lanes_add(acc, q8_0_scales(blocks), _mm256_loadu_ps(d), bn_x86_reduce8(v));
}

/* The groups of a Q8_0 row's last, partial pass copied into a whole one
 * with zero levels and scales, which add +0 to the lanes (an identity: a
 * lane that starts at +0 and only adds is never -0). */
typedef struct {
    int start, n; /* groups [start, start + n); n = 0: none */
    int8_t q[PASS * BN_Q8_GROUP];
    float d[PASS];
} q8_tail;

/* The groups after the last whole pass, for q8_0_row's tail. */
static void q8_tail_init(q8_tail *t, const bn_q8act *a, int groups)
{
    memset(t, 0, sizeof *t);
    t->start = groups / PASS * PASS;
    t->n = groups - t->start;
    memcpy(t->q, a->q + (size_t)t->start * BN_Q8_GROUP, (size_t)t->n * BN_Q8_GROUP);
    memcpy(t->d, a->d + t->start, (size_t)t->n * sizeof *t->d);
}

/* One Q8_0 row times a: passes of groups into two sums, then the tail. */
AVX2_FN static float q8_0_row(const uint8_t *row, const bn_q8act *a, const q8_tail *tail)
{
#define PASS_AT(g, acc)                                                                            \
    q8_0_pass(row + (size_t)(g)*BN_Q8_0_BYTES, a->q + (size_t)(g)*BN_Q8_GROUP, a->d + (g), acc)
    __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps(); /* passes 0, 2, .. / 1, 3, .. */
    int g = 0;
    for (; g + 2 * PASS <= tail->start; g += 2 * PASS) {
        bn_x86_prefetch_l2(row + (size_t)g * BN_Q8_0_BYTES, (size_t)2 * PASS * BN_Q8_0_BYTES);
        prefetch_l1(row + (size_t)g * BN_Q8_0_BYTES, (size_t)2 * PASS * BN_Q8_0_BYTES);
        even = PASS_AT(g, even);
        odd = PASS_AT(g + PASS, odd);
    }
    const int one_more = g < tail->start;
    if (one_more) even = PASS_AT(g, even);
#undef PASS_AT
    if (tail->n) {
        uint8_t blocks[PASS * BN_Q8_0_BYTES] = {0};
        memcpy(blocks, row + (size_t)tail->start * BN_Q8_0_BYTES, (size_t)tail->n * BN_Q8_0_BYTES);
        if (one_more)
            odd = q8_0_pass(blocks, tail->q, tail->d, odd);
        else
            even = q8_0_pass(blocks, tail->q, tail->d, even);
    }
    return bn_x86_fold8(_mm256_add_ps(even, odd));
}

/* Rows [r0, r1) of a Q8_0 matrix times a. */
AVX2_FN void bn_x86_q8_0_matvec_avx2(const uint8_t *w, int cols, const bn_q8act *a, float *y,
                                     int r0, int r1)
{
    const int nb = cols / BN_Q8_0_BLOCK;
    q8_tail tail;
    q8_tail_init(&tail, a, nb);
    for (int r = r0; r < r1; r++) y[r] = q8_0_row(w + (size_t)r * nb * BN_Q8_0_BYTES, a, &tail);
}

/* Q6_K: one block is 8 groups (a pass). Group 4h + k of half h has its low
 * level bits in nibble k/2 of ql bytes [32 (k%2), +32) of the half and its
 * high bits in bits 2k+1:2k of the half's 32 qh bytes (quants.c). The
 * stored levels (0..63) go unsigned into vpmaddubsw (|pair| <= 2*63*127);
 * the offset comes off per group as 32 * sum(scale * sum of 16 q), from
 * the activation's sums. */

/* pshufb control taking int16 word 2k of each 128-bit lane's 8 scales to
 * the low lane and word 2k + 1 to the high lane: group k's two sub-blocks. */
AVX2_FN static inline __m256i q6_k_pick(int k)
{
    return _mm256_set_m128i(_mm_set1_epi16((short)((4 * k + 2) | (4 * k + 3) << 8)),
                            _mm_set1_epi16((short)((4 * k) | (4 * k + 1) << 8)));
}

/* Group sum before the offset: sum over its sub-blocks of scale * sum(level * q). */
AVX2_FN static inline __m256i q6_k_group(__m256i level, const int8_t *q, __m256i scales)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(level, _mm256_loadu_si256((const __m256i *)q)),
                             scales);
}

/* The levels' offset in the block's 8 group sums: lane k is 32 * (scale[2k]
 * * sums[2k] + scale[2k + 1] * sums[2k + 1]), from block b's 16 scales as
 * int16 and the activation's sums of 16 levels. */
AVX2_FN static inline __m256i q6_k_offset(__m256i scales16, const bn_q8act *a, int b)
{
    const __m256i sums = _mm256_loadu_si256(
        (const __m256i *)(a->sums + (size_t)b * BN_Q6_K_BLOCK / BN_Q8_SUM_SPAN));
    return _mm256_slli_epi32(_mm256_madd_epi16(scales16, sums), BN_X86_Q6_K_OFFSET_SHIFT);
}

/* Block b of a row (8 groups) added into acc. */
AVX2_FN ALWAYS_INLINE __m256 q6_k_block(const uint8_t *block, const bn_q8act *a, int b, __m256 acc)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    const __m256i sc = _mm256_cvtepi8_epi16(
        _mm_loadu_si128((const __m128i *)(block + BN_Q6_K_SCALES)));
    /* each half's 8 scales in both 128-bit lanes */
    const __m256i half_scales[2] = {_mm256_permute2x128_si256(sc, sc, 0x00),
                                    _mm256_permute2x128_si256(sc, sc, 0x11)};
    const int8_t *q = a->q + (size_t)b * BN_Q6_K_BLOCK;
    __m256i v[BN_Q6_K_GROUPS];
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = block + BN_Q6_K_HALF_QL * (size_t)h;
        const uint8_t *qh = block + BN_Q6_K_QH + BN_Q6_K_HALF_QH * (size_t)h;
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
        const __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
        const __m256i sch = half_scales[h];
        const int8_t *qg = q + (size_t)h * BN_Q6_K_GROUPS / 2 * BN_Q8_GROUP;
        /* high bits to bits 5:4 by 16-bit shifts; the mask drops what
         * crossed from the neighbour byte */
        v[4 * h + 0] = q6_k_group(_mm256_or_si256(_mm256_and_si256(l0, m4),
                                                  _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30)),
                                  qg, _mm256_shuffle_epi8(sch, q6_k_pick(0)));
        v[4 * h + 1] = q6_k_group(_mm256_or_si256(_mm256_and_si256(l1, m4),
                                                  _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30)),
                                  qg + BN_Q8_GROUP, _mm256_shuffle_epi8(sch, q6_k_pick(1)));
        v[4 * h + 2] = q6_k_group(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                                  _mm256_and_si256(hb, m30)),
                                  qg + (size_t)2 * BN_Q8_GROUP,
                                  _mm256_shuffle_epi8(sch, q6_k_pick(2)));
        v[4 * h + 3] = q6_k_group(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                                  _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30)),
                                  qg + (size_t)3 * BN_Q8_GROUP,
                                  _mm256_shuffle_epi8(sch, q6_k_pick(3)));
    }
    const __m256i isum = _mm256_sub_epi32(bn_x86_reduce8(v), q6_k_offset(sc, a, b));
    const __m256 dw = _mm256_cvtph_ps(_mm_set1_epi16((short)bn_x86_load_u16(block + BN_Q6_K_D)));
    return q8_lanes_add(acc, dw, _mm256_loadu_ps(a->d + BN_Q6_K_GROUPS * (size_t)b), isum);
}

/* Rows [r0, r1) of a Q6_K matrix times a. */
AVX2_FN void bn_x86_q6_k_matvec_avx2(const uint8_t *w, int cols, const bn_q8act *a, float *y,
                                     int r0, int r1)
{
    const int nb = cols / BN_Q6_K_BLOCK;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w + (size_t)r * nb * BN_Q6_K_BYTES;
        __m256 even = _mm256_setzero_ps(),
               odd = _mm256_setzero_ps(); /* blocks 0, 2, .. / 1, 3, .. */
        int b = 0;
        for (; b + 2 <= nb; b += 2) {
            bn_x86_prefetch_l2(row + (size_t)b * BN_Q6_K_BYTES, (size_t)2 * BN_Q6_K_BYTES);
            even = q6_k_block(row + (size_t)b * BN_Q6_K_BYTES, a, b, even);
            odd = q6_k_block(row + (size_t)(b + 1) * BN_Q6_K_BYTES, a, b + 1, odd);
        }
        if (b < nb) even = q6_k_block(row + (size_t)b * BN_Q6_K_BYTES, a, b, even);
        y[r] = bn_x86_fold8(_mm256_add_ps(even, odd));
    }
}

/* =========================================================== attention */

#define ATTN_QUERIES 4 /* query heads per pass: a GQA group of 2B-4T */
#define ATTN_VECS 2    /* output vectors of each query per pass over the values */

/* 8 elements of KV cache rows from element idx: floats, or F16 halves
 * widened by F16C (exact, as bn_f16_to_f32) when f16 is set (a constant:
 * see BN_ATTN_ENTRIES). */
ALWAYS_INLINE AVX2_FN __m256 cache_load8(const void *rows, size_t idx, int f16)
{
    return f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)rows + idx)))
               : _mm256_loadu_ps((const float *)rows + idx);
}

/* Scores of the key at element `row` of k for nq queries (a compile-time
 * constant, so the accumulators stay in registers), lanes 0-7 and 8-15 of
 * BN_ATTN_LANES in lo and hi; head dimensions are multiples of 8, so a
 * last step of 8 elements updates lo only. The key row is loaded once for
 * all queries. */
ALWAYS_INLINE AVX2_FN void score_key(const float *q, int nq, const void *k, int f16, size_t row,
                                     int d, float scale, float *scores, size_t ld)
{
    __m256 lo[ATTN_QUERIES], hi[ATTN_QUERIES];
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++) lo[j] = hi[j] = _mm256_setzero_ps();
    for (int i = 0; i < d; i += BN_ATTN_LANES) {
        const int full = i + FLOATS_PER_VEC < d;
        const __m256 k0 = cache_load8(k, row + (size_t)i, f16);
        const __m256 k1 = full ? cache_load8(k, row + (size_t)i + FLOATS_PER_VEC, f16)
                               : _mm256_setzero_ps();
#pragma GCC unroll 4
        for (int j = 0; j < nq; j++) {
            const float *qj = q + (size_t)j * d + i;
            lo[j] = _mm256_add_ps(lo[j], _mm256_mul_ps(_mm256_loadu_ps(qj), k0));
            if (full)
                hi[j] = _mm256_add_ps(hi[j],
                                      _mm256_mul_ps(_mm256_loadu_ps(qj + FLOATS_PER_VEC), k1));
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++)
        scores[(size_t)j * ld] = bn_x86_fold8(_mm256_add_ps(lo[j], hi[j])) * scale;
}

/* Whole groups of ATTN_QUERIES queries together, the rest one by one. */
ALWAYS_INLINE AVX2_FN void scores_rows(const float *q, int n_q, const void *k, int f16,
                                       size_t stride, int n, int d, float scale, float *scores,
                                       size_t ld, int hot)
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
ALWAYS_INLINE AVX2_FN void values_pass(const float *w, size_t ld, int nq, const void *v, int f16,
                                       size_t stride, int n, int d, int i0, float *out)
{
    const int vecs = (d - i0) / FLOATS_PER_VEC < ATTN_VECS ? (d - i0) / FLOATS_PER_VEC : ATTN_VECS;
    __m256 acc[ATTN_QUERIES][ATTN_VECS];
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++)
#pragma GCC unroll 4
        for (int c = 0; c < ATTN_VECS; c++) acc[j][c] = _mm256_setzero_ps();
    for (int p = 0; p < n; p++) {
        const size_t row = (size_t)p * stride + (size_t)i0;
        __m256 vv[ATTN_VECS];
#pragma GCC unroll 4
        for (int c = 0; c < ATTN_VECS; c++)
            vv[c] = c < vecs ? cache_load8(v, row + (size_t)c * FLOATS_PER_VEC, f16)
                             : _mm256_setzero_ps();
#pragma GCC unroll 4
        for (int j = 0; j < nq; j++) {
            const __m256 wp = _mm256_set1_ps(w[(size_t)j * ld + p]);
#pragma GCC unroll 4
            for (int c = 0; c < ATTN_VECS; c++)
                acc[j][c] = _mm256_add_ps(acc[j][c], _mm256_mul_ps(wp, vv[c]));
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++)
#pragma GCC unroll 4
        for (int c = 0; c < ATTN_VECS; c++)
            if (c < vecs)
                _mm256_storeu_ps(out + (size_t)j * d + i0 + (size_t)c * FLOATS_PER_VEC, acc[j][c]);
}

/* Whole groups of ATTN_QUERIES queries together, the rest one by one. */
ALWAYS_INLINE AVX2_FN void values_rows(const float *w, size_t ld, int n_q, const void *v, int f16,
                                       size_t stride, int n, int d, float *out)
{
    for (int i0 = 0; i0 < d; i0 += ATTN_VECS * FLOATS_PER_VEC) {
        int j = 0;
        for (; j + ATTN_QUERIES <= n_q; j += ATTN_QUERIES)
            values_pass(w + (size_t)j * ld, ld, ATTN_QUERIES, v, f16, stride, n, d, i0,
                        out + (size_t)j * d);
        for (; j < n_q; j++)
            values_pass(w + (size_t)j * ld, ld, 1, v, f16, stride, n, d, i0, out + (size_t)j * d);
    }
}

BN_ATTN_ENTRIES_LINKED(, AVX2_FN, avx2, scores_rows, values_rows) /* avxvnni.c's too */

/* ============================================================= row ops */

/* bn_expf of 8 floats: the same steps in the same order per lane (rows.h),
 * then the three special cases selected over the result. */
ALWAYS_INLINE AVX2_FN __m256 exp8(__m256 x)
{
    const __m256 rounder = _mm256_set1_ps(BN_EXP_ROUNDER);
    const __m256 t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(BN_EXP_LOG2E)), rounder);
    const __m256 k = _mm256_sub_ps(t, rounder);
    const __m256 r = _mm256_sub_ps(
        _mm256_sub_ps(x, _mm256_mul_ps(k, _mm256_set1_ps(BN_EXP_LN2_HI))),
        _mm256_mul_ps(k, _mm256_set1_ps(BN_EXP_LN2_LO)));
    __m256 p = _mm256_set1_ps(BN_EXP_C7);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(BN_EXP_C6));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(BN_EXP_C5));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(BN_EXP_C4));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(BN_EXP_C3));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(BN_EXP_C2));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_add_epi32(
        _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32((int)BN_EXP_ROUNDER_BITS)),
        _mm256_set1_epi32((int)BN_EXP_BIAS2));
    const __m256i e1 = _mm256_srli_epi32(e, 1);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(e1, BN_EXP_SHIFT));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(e, e1), BN_EXP_SHIFT));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    y = _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(BN_EXP_MIN), _CMP_LT_OQ), y);
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY),
                         _mm256_cmp_ps(x, _mm256_set1_ps(BN_EXP_MAX), _CMP_GT_OQ));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* Adds the 8 floats of f, widened, into the BN_SUM_LANES double lanes
 * lo (0-3) and hi (4-7). */
ALWAYS_INLINE AVX2_FN void add_lanes(__m256d *lo, __m256d *hi, __m256 f)
{
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(f)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)));
}

ALWAYS_INLINE AVX2_FN void store_lanes(double *lane, __m256d lo, __m256d hi)
{
    _mm256_storeu_pd(lane, lo);
    _mm256_storeu_pd(lane + 4, hi);
}

/* Whole vectors here, the rest by the steps of rows.h: a vector starts at
 * a multiple of BN_SUM_LANES, so its elements go to the lanes scalar.c
 * adds them to. */
AVX2_FN double bn_x86_exp_sum_avx2(float *x, int n, float max)
{
    const __m256 vmax = _mm256_set1_ps(max);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    int p = 0;
    for (; p + FLOATS_PER_VEC <= n; p += FLOATS_PER_VEC) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + p), vmax));
        _mm256_storeu_ps(x + p, e);
        add_lanes(&lo, &hi, e);
    }
    double lane[BN_SUM_LANES];
    store_lanes(lane, lo, hi);
    bn_exp_sum_from(x, p, n, max, lane);
    return bn_sum_lanes(lane);
}

/* RMSNorm in scalar.c's double lanes, then out = x * scale * w. */
AVX2_FN void bn_x86_rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps)
{
    int i = 0;
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    for (; i + FLOATS_PER_VEC <= n; i += FLOATS_PER_VEC) {
        const __m256 v = _mm256_loadu_ps(x + i);
        add_lanes(&lo, &hi, _mm256_mul_ps(v, v));
    }
    double lane[BN_SUM_LANES];
    store_lanes(lane, lo, hi);
    bn_squares_from(x, i, n, lane);
    const float scale = bn_rms_scale(lane, n, eps);
    const __m256 vscale = _mm256_set1_ps(scale);
    for (i = 0; i + FLOATS_PER_VEC <= n; i += FLOATS_PER_VEC)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vscale),
                                                _mm256_loadu_ps(w + i)));
    bn_norm_mul_from(out, x, w, i, n, scale);
}

/* gate = gate / (1 + exp(-gate)) * up, eight at a time (bn_expf's steps). */
AVX2_FN void bn_x86_silu_mul_avx2(float *gate, const float *up, int n)
{
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    int i = 0;
    for (; i + FLOATS_PER_VEC <= n; i += FLOATS_PER_VEC) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 den = _mm256_add_ps(one, exp8(_mm256_xor_ps(g, sign)));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, den), _mm256_loadu_ps(up + i)));
    }
    bn_silu_mul_from(gate, up, i, n);
}

const bn_kernels bn_kernels_avx2 = {
    .name = "avx2",
    .quantize = bn_x86_quantize_avx2,
    .qk256_matvec = qk256_matvec_avx2,
    .q16_matvec = bn_x86_q16_matvec_avx2,
    .q16_matmat = bn_x86_q16_matmat_avx2,
    .f16_matvec = bn_x86_f16_matvec_avx2,
    .f16_matmat = bn_x86_f16_matmat_avx2,
    .qk256_matmat = bn_x86_qk256_matmat_avx2,
    .matmat_pads_no_tile = 1,
    .q8_quantize = bn_x86_q8_quantize_avx2,
    .q8_0_matvec = bn_x86_q8_0_matvec_avx2,
    .q8rows_matvec = bn_x86_q8rows_matvec_avx2,
    .q6_k_matvec = bn_x86_q6_k_matvec_avx2,
    .q2_matvec = bn_x86_q2_matvec_avx2,
    .b1_matvec = bn_x86_b1_matvec_avx2,
    .q2_matmat = bn_x86_q2_matmat_avx2,
    .b1_matmat = bn_x86_b1_matmat_avx2,
    .attn_scores = attn_scores_avx2,
    .attn_values = attn_values_avx2,
    .attn_scores_f16 = attn_scores_f16_avx2,
    .attn_values_f16 = attn_values_f16_avx2,
    .exp_sum = bn_x86_exp_sum_avx2,
    .rmsnorm = bn_x86_rmsnorm_avx2,
    .silu_mul = bn_x86_silu_mul_avx2,
};

#endif
