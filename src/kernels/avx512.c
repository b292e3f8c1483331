/*
 * avx512.c - the AVX-512 kernel tables: "avx512-vnni" (vpdpbusd
 * multiplies unsigned codes by signed activations and adds groups of four
 * straight into int32) and "avx512-bw" (vpmaddubsw + vpmaddwd, for
 * AVX-512 CPUs without VNNI). Both share the AVX-512 quantize, F16 and
 * attention kernels and take the AVX2 Q8_0 output-layer product;
 * avx512-vnni has its own Q6_K one, avx512-bw takes the AVX2 Q6_K and
 * prompt-batch products (kernels_x86.h says why). Bitwise identical to
 * scalar.c and, for the lm-head products, to quants.c (kernels.h).
 *
 * Only these functions are compiled for AVX-512 (target attributes);
 * kernels.c picks a table only when cpu.c reports the features and the OS
 * support for ZMM state. Empty on other architectures.
 */
#include "products.h"
#include "table.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "x86.h"
#include "quants.h"

#define AVX512_FN __attribute__((target("avx2,f16c,avx512f,avx512bw")))
#define VNNI_FN __attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni")))

#define FLOATS_PER_VEC 16
#define BYTES_PER_VEC 64

/* vpermd indices that transpose 16 lanes as a 4 x 4 matrix: lane 4i + j
 * of the result is lane 4j + i of the source. */
#define TRANSPOSE_4X4 _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)

/* Lanes [0, n) set, for n in [0, 16]. */
static inline __mmask16 first_lanes(int n) { return (__mmask16)((1u << n) - 1); }

/* ============================================================ quantize */

/* max|x_i| with NaNs skipped like the scalar '>' test (vmaxps returns its
 * second operand when the first is NaN); masked loads read the tail. */
AVX512_FN static float absmax_avx512(const float *x, int n)
{
    __m512 m = _mm512_setzero_ps();
    for (int i = 0; i < n; i += FLOATS_PER_VEC) {
        const int left = n - i < FLOATS_PER_VEC ? n - i : FLOATS_PER_VEC;
        m = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(first_lanes(left), x + i)), m);
    }
    return _mm512_reduce_max_ps(m); /* no NaN left: any order is exact */
}

/* The activation quantization of scalar.c, sixteen floats at a time. */
AVX512_FN static void quantize_avx512(const float *x, int n, bn_qact *a)
{
    const float scale = bn_act_scale(absmax_avx512(x, n));
    const __m512 s = _mm512_set1_ps(scale);
    const __m512i lo = _mm512_set1_epi32(-128), hi = _mm512_set1_epi32(127);
    a->scale = scale;
    a->sum = 0;
    for (int b = 0; b < a->n_blocks; b++) {
        const int start = b * QK256_BLOCK;
        __m512i bsum = _mm512_setzero_si512();
        for (int i = start; i < start + QK256_BLOCK; i += FLOATS_PER_VEC) {
            /* lanes past n load as 0, which quantizes to 0 (a vector wholly
             * past n loads nothing, from x itself) */
            const int left = n - i < 0 ? 0 : n - i < FLOATS_PER_VEC ? n - i : FLOATS_PER_VEC;
            const float *src = left ? x + i : x;
            const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(first_lanes(left), src), s);
            /* round half to even (default rounding, as rintf), clamp; NaN
             * lanes (unordered with themselves) convert to 0 (kernels.h) */
            const __m512i q = _mm512_maskz_cvtps_epi32(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
            const __m512i qi = _mm512_max_epi32(_mm512_min_epi32(q, hi), lo);
            bsum = _mm512_add_epi32(bsum, qi);
            _mm_storeu_si128((__m128i *)(a->q + i), _mm512_cvtepi32_epi8(qi));
        }
        a->block_sums[b] = _mm512_reduce_add_epi32(bsum);
        a->sum += a->block_sums[b];
    }
}

/* ======================================================== QK256 matvec */

/* Codes of quarter `shift`/2 of a block (bits shift+1:shift of each byte). */
#define QUARTER(c, shift) _mm512_and_si512(_mm512_srli_epi16(c, shift), _mm512_set1_epi8(3))
#define Q_AT(q, quarter) _mm512_loadu_si512((const void *)((q) + (size_t)(quarter)*BYTES_PER_VEC))

/* One block's sum(code*q) over 16 int32 lanes: each vpdpbusd lane adds
 * four products exactly in int32. Two accumulators halve the latency. */
VNNI_FN static inline __m512i block_dot_vnni(const uint8_t *codes, const int8_t *q)
{
    const __m512i c = _mm512_loadu_si512((const void *)codes);
    __m512i acc0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), QUARTER(c, 0), Q_AT(q, 0));
    __m512i acc1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), QUARTER(c, 2), Q_AT(q, 1));
    acc0 = _mm512_dpbusd_epi32(acc0, QUARTER(c, 4), Q_AT(q, 2));
    acc1 = _mm512_dpbusd_epi32(acc1, QUARTER(c, 6), Q_AT(q, 3));
    return _mm512_add_epi32(acc0, acc1);
}

/* The same with vpmaddubsw: int16 pairs (|pair| <= 512), four quarters
 * added in int16 (|sum| <= 2048, one block only: docs/FORWARD.md, Ternary
 * products), then
 * widened to int32 by vpmaddwd. */
AVX512_FN static inline __m512i block_dot_bw(const uint8_t *codes, const int8_t *q)
{
    const __m512i c = _mm512_loadu_si512((const void *)codes);
    const __m512i p01 = _mm512_add_epi16(_mm512_maddubs_epi16(QUARTER(c, 0), Q_AT(q, 0)),
                                         _mm512_maddubs_epi16(QUARTER(c, 2), Q_AT(q, 1)));
    const __m512i p23 = _mm512_add_epi16(_mm512_maddubs_epi16(QUARTER(c, 4), Q_AT(q, 2)),
                                         _mm512_maddubs_epi16(QUARTER(c, 6), Q_AT(q, 3)));
    return _mm512_madd_epi16(_mm512_add_epi16(p01, p23), _mm512_set1_epi16(1));
}

/* 16 lanes -> 8 lanes with the same total. */
AVX512_FN static inline __m256i fold_epi32(__m512i v)
{
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

/* block_dot of either kind folded to 8 lanes, for BN_X86_BLOCK_DOTS_BODY */
#define BLOCK_DOT8_VNNI(codes, q) fold_epi32(block_dot_vnni(codes, q))
#define BLOCK_DOT8_BW(codes, q) fold_epi32(block_dot_bw(codes, q))

VNNI_FN static void block_dots_vnni(const uint8_t *codes, const int8_t *q, int n,
                                    int32_t *dots){BN_X86_BLOCK_DOTS_BODY(BLOCK_DOT8_VNNI)}

AVX512_FN static void block_dots_bw(const uint8_t *codes, const int8_t *q, int n, int32_t *dots)
{
    BN_X86_BLOCK_DOTS_BODY(BLOCK_DOT8_BW)
}

/* Code fields left in place: (byte & 3 << 2k) is code * 4^k, so quarter k
 * accumulates 4^k * sum(code*q) and an exact arithmetic shift scales it
 * back. A lane gains at most 4 * 2*64 * 128 = 2^16 per block: exact in
 * int32 below 32768 blocks per row, the bound of the scalar int32 sum too.
 * Saves the three shifts per block of QUARTER. */
#define FIELD(c, k) _mm512_and_si512(c, _mm512_set1_epi8((char)(3 << (2 * (k)))))

/* Lane t of the result = the sum of the 16 int32 lanes of v[t]: pairs are
 * interleaved and added four times (dwords, qwords, 128-bit chunks twice),
 * 15 adds for 16 sums. Unrolled and always inlined so that v stays in
 * registers: as loops, or as a call, the tile's accumulators went through
 * a stack array once per tile. */
ALWAYS_INLINE AVX512_FN __m512i reduce16_epi32(const __m512i v[16])
{
    __m512i x[8], y[4], z[2];
#pragma GCC unroll 8
    for (size_t i = 0; i < 8; i++)
        x[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]),
                                _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
#pragma GCC unroll 4
    for (size_t i = 0; i < 4; i++)
        y[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(x[2 * i], x[2 * i + 1]),
                                _mm512_unpackhi_epi64(x[2 * i], x[2 * i + 1]));
#pragma GCC unroll 2
    for (size_t i = 0; i < 2; i++)
        z[i] = _mm512_add_epi32(_mm512_shuffle_i32x4(y[2 * i], y[2 * i + 1], 0x88),
                                _mm512_shuffle_i32x4(y[2 * i], y[2 * i + 1], 0xdd));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(z[0], z[1], 0x88),
                            _mm512_shuffle_i32x4(z[0], z[1], 0xdd));
}

/* A whole row with one accumulator per quarter and per parity of the
 * block: two blocks a step, so that the dependency chains of vpdpbusd
 * (its latency is several cycles) are half as long as the row. Integer
 * sums are exact, so the order does not change the result. */
VNNI_FN static inline __m512i row_lanes_vnni(const uint8_t *codes, const int8_t *q, int n)
{
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    __m512i b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int b = 0;
    for (; b + 2 <= n;
         b += 2, codes += 2 * (size_t)QK256_BLOCK_BYTES, q += 2 * (size_t)QK256_BLOCK) {
        bn_x86_prefetch_ahead(codes);
        bn_x86_prefetch_ahead(codes + QK256_BLOCK_BYTES);
        const __m512i c = _mm512_loadu_si512((const void *)codes);
        const __m512i d = _mm512_loadu_si512((const void *)(codes + QK256_BLOCK_BYTES));
        a0 = _mm512_dpbusd_epi32(a0, FIELD(c, 0), Q_AT(q, 0));
        a1 = _mm512_dpbusd_epi32(a1, FIELD(c, 1), Q_AT(q, 1));
        a2 = _mm512_dpbusd_epi32(a2, FIELD(c, 2), Q_AT(q, 2));
        a3 = _mm512_dpbusd_epi32(a3, FIELD(c, 3), Q_AT(q, 3));
        b0 = _mm512_dpbusd_epi32(b0, FIELD(d, 0), Q_AT(q + QK256_BLOCK, 0));
        b1 = _mm512_dpbusd_epi32(b1, FIELD(d, 1), Q_AT(q + QK256_BLOCK, 1));
        b2 = _mm512_dpbusd_epi32(b2, FIELD(d, 2), Q_AT(q + QK256_BLOCK, 2));
        b3 = _mm512_dpbusd_epi32(b3, FIELD(d, 3), Q_AT(q + QK256_BLOCK, 3));
    }
    if (b < n) {
        bn_x86_prefetch_ahead(codes);
        const __m512i c = _mm512_loadu_si512((const void *)codes);
        a0 = _mm512_dpbusd_epi32(a0, FIELD(c, 0), Q_AT(q, 0));
        a1 = _mm512_dpbusd_epi32(a1, FIELD(c, 1), Q_AT(q, 1));
        a2 = _mm512_dpbusd_epi32(a2, FIELD(c, 2), Q_AT(q, 2));
        a3 = _mm512_dpbusd_epi32(a3, FIELD(c, 3), Q_AT(q, 3));
    }
    a0 = _mm512_add_epi32(a0, b0);
    a1 = _mm512_add_epi32(a1, b1);
    a2 = _mm512_add_epi32(a2, b2);
    a3 = _mm512_add_epi32(a3, b3);
    const __m512i s01 = _mm512_add_epi32(a0, _mm512_srai_epi32(a1, 2));
    const __m512i s23 = _mm512_add_epi32(_mm512_srai_epi32(a2, 4), _mm512_srai_epi32(a3, 6));
    return _mm512_add_epi32(s01, s23);
}

VNNI_FN static int32_t row_dot_vnni(const uint8_t *codes, const int8_t *q, int n)
{
    return _mm512_reduce_add_epi32(row_lanes_vnni(codes, q, n));
}

#define REDUCE_ROWS 16 /* rows whose lanes reduce16_epi32 sums together */

/* Per-tensor scale: 16 rows' lane sums folded by one transposing reduction
 * instead of 16 horizontal ones (which cost as much as a 2560-wide row's
 * loads); leftover rows and per-block scales go row by row. */
VNNI_FN static void qk256_matvec_vnni(const qk256_matrix *w, const bn_qact *a, float *y, int r0,
                                      int r1)
{
    const int nb = w->blocks_per_row;
    const size_t row_bytes = (size_t)nb * QK256_BLOCK_BYTES;
    int r = r0;
    for (; !w->block_scales && r + REDUCE_ROWS <= r1; r += REDUCE_ROWS) {
        __m512i lanes[REDUCE_ROWS];
        int32_t sums[REDUCE_ROWS];
        for (int i = 0; i < REDUCE_ROWS; i++)
            lanes[i] = row_lanes_vnni(w->codes + (size_t)(r + i) * row_bytes, a->q, nb);
        _mm512_storeu_si512((void *)sums, reduce16_epi32(lanes));
        for (int i = 0; i < REDUCE_ROWS; i++) y[r + i] = bn_ternary_epilogue(sums[i], a, w->scale);
    }
    bn_qk256_matvec_rows(w, a, y, r, r1, row_dot_vnni, block_dots_vnni);
}

/* sum(code * q) over a row of n blocks with AVX-512 BW. */
AVX512_FN static int32_t row_dot_bw(const uint8_t *codes, const int8_t *q, int n)
{
    __m512i acc = _mm512_setzero_si512();
    for (int b = 0; b < n; b++, codes += QK256_BLOCK_BYTES, q += QK256_BLOCK) {
        bn_x86_prefetch_ahead(codes);
        acc = _mm512_add_epi32(acc, block_dot_bw(codes, q));
    }
    return _mm512_reduce_add_epi32(acc);
}

AVX512_FN static void qk256_matvec_bw(const qk256_matrix *w, const bn_qact *a, float *y, int r0,
                                      int r1)
{
    bn_qk256_matvec_rows(w, a, y, r0, r1, row_dot_bw, block_dots_bw);
}

/* ======================================================== QK256 matmat */

#define MATMAT_TOKENS 4 /* tokens per tile */
#define MATMAT_ROWS 4   /* rows per tile: 2 x 8 accumulators, each activation load used twice */

/* Four rows against a tile of 4 tokens. Quarter by quarter, each row's
 * codes are split once and each token's 64 activation bytes are loaded
 * once for all four rows. */
VNNI_FN static void row_tile_vnni(const uint8_t *codes, size_t row_bytes, const int8_t *const *q,
                                  int nb, int32_t *sums)
{
    __m512i acc[MATMAT_ROWS * MATMAT_TOKENS]; /* = 16, what reduce16_epi32 folds */
#pragma GCC unroll 16                         /* the accumulators must live in registers */
    for (int i = 0; i < MATMAT_ROWS * MATMAT_TOKENS; i++) acc[i] = _mm512_setzero_si512();
    for (int b = 0; b < nb; b++) {
        __m512i c[MATMAT_ROWS];
#pragma GCC unroll 4
        for (int i = 0; i < MATMAT_ROWS; i++)
            c[i] = _mm512_loadu_si512(
                (const void *)(codes + i * row_bytes + (size_t)b * QK256_BLOCK_BYTES));
        const size_t off = (size_t)b * QK256_BLOCK;
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m512i d[MATMAT_ROWS];
#pragma GCC unroll 4
            for (int i = 0; i < MATMAT_ROWS; i++) d[i] = QUARTER(c[i], 2 * k);
#pragma GCC unroll 8
            for (int t = 0; t < MATMAT_TOKENS; t++) {
                const __m512i x = Q_AT(q[t] + off, k);
#pragma GCC unroll 4
                for (int i = 0; i < MATMAT_ROWS; i++)
                    acc[i * MATMAT_TOKENS + t] = _mm512_dpbusd_epi32(acc[i * MATMAT_TOKENS + t],
                                                                     d[i], x);
            }
        }
    }
    _mm512_storeu_si512((void *)sums, reduce16_epi32(acc));
}

/* bn_ternary_epilogue for a whole tile in one vector (the same IEEE
 * operations lane by lane, so bitwise the same as the portable epilogue):
 * lane i * 4 + t of the sums is row i, token t; transposed so that each
 * token's four rows go out in one 16-byte store. */
VNNI_FN static void tile_epilogue_vnni(const int32_t *sums, const float *tok_sum,
                                       const float *tok_scale, int nt, float w_scale, float *y,
                                       size_t ldy)
{
    const __m512 s = _mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)sums));
    const __m512 v = _mm512_mul_ps(
        _mm512_div_ps(_mm512_sub_ps(s, _mm512_broadcast_f32x4(_mm_loadu_ps(tok_sum))),
                      _mm512_broadcast_f32x4(_mm_loadu_ps(tok_scale))),
        _mm512_set1_ps(w_scale));
    const __m512 by_token = _mm512_permutexvar_ps(TRANSPOSE_4X4, v);
    _mm_storeu_ps(y, _mm512_castps512_ps128(by_token));
    if (nt > 1) _mm_storeu_ps(y + ldy, _mm512_extractf32x4_ps(by_token, 1));
    if (nt > 2) _mm_storeu_ps(y + 2 * ldy, _mm512_extractf32x4_ps(by_token, 2));
    if (nt > 3) _mm_storeu_ps(y + 3 * ldy, _mm512_extractf32x4_ps(by_token, 3));
}
_Static_assert(MATMAT_TOKENS == 4 && MATMAT_ROWS == 4, "tile_epilogue_vnni's 4 x 4 lanes");

static const bn_matmat_shape matmat_vnni = {MATMAT_TOKENS, MATMAT_ROWS, row_tile_vnni,
                                            qk256_matvec_vnni, tile_epilogue_vnni};

VNNI_FN static void qk256_matmat_vnni(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y,
                                      int ldy, int r0, int r1)
{
    bn_qk256_matmat_tiles(w, a, n_tok, y, ldy, r0, r1, &matmat_vnni);
}

/* =================================================== Q6_K output layer */

/* A Q6_K block (quants.c has the layout) is read as two halves of 128
 * values: the half's 64 ql bytes hold the low nibbles of its first 64
 * values and the high nibbles of its last 64, and each of its 32 qh bytes
 * the two high bits of the values l, 32 + l, 64 + l and 96 + l. So one
 * 64-byte vector of levels (0..63, unsigned for vpdpbusd) takes the qh
 * bytes twice, shifted apart per 256-bit half by 16-bit shifts whose
 * spill-over from the neighbour byte the 0x30 mask drops. One vpdpbusd
 * per 64 levels, a transposing reduction to the 16 sub-block sums, then
 * the offset (32 times the activation's sums of 16 levels) and the int8
 * scales in one multiply: faster than the AVX2 kernel (docs/PERFORMANCE.md). */
#define Q6_K_SUBS (BN_Q6_K_BLOCK / BN_Q6_K_SUB)
#define TERNLOG_A_OR_B_AND_C 0xF8

/* The 64 levels of quarter `upper` (values 64 upper .. +63) of a half. */
ALWAYS_INLINE VNNI_FN __m512i q6_k_levels64(__m512i ql, __m512i qh2, int upper)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    /* high bits k (k = 0..3 for values 32k + l) to bits 5:4 */
    const __m512i hi = upper ? _mm512_srlv_epi16(qh2, _mm512_inserti64x4(_mm512_setzero_si512(),
                                                                         _mm256_set1_epi16(2), 1))
                             : _mm512_sllv_epi16(qh2, _mm512_inserti64x4(_mm512_set1_epi16(4),
                                                                         _mm256_set1_epi16(2), 1));
    const __m512i lo = upper ? _mm512_srli_epi16(ql, 4) : ql;
    return _mm512_ternarylogic_epi32(_mm512_and_si512(hi, m30), lo, m4, TERNLOG_A_OR_B_AND_C);
}

/* Block b's 8 group sums (quants.c's isum): exact, as every step is. */
ALWAYS_INLINE VNNI_FN __m256i q6_k_group_sums(const uint8_t *block, const bn_q8act *a, int b)
{
    const int8_t *q = a->q + (size_t)b * BN_Q6_K_BLOCK;
    __m512i d[4]; /* d[2h + u]: levels 64u.. of half h times q, 4 values per lane */
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        const __m512i ql = _mm512_loadu_si512((const void *)(block + BN_Q6_K_HALF_QL * (size_t)h));
        const __m512i qh2 = _mm512_broadcast_i64x4(_mm256_loadu_si256(
            (const __m256i *)(block + BN_Q6_K_QH + BN_Q6_K_HALF_QH * (size_t)h)));
#pragma GCC unroll 2
        for (int u = 0; u < 2; u++)
            d[2 * h + u] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q6_k_levels64(ql, qh2, u),
                                               Q_AT(q + BN_Q6_K_HALF * (size_t)h, u));
    }
    /* f[4c + m] = the sum of 128-bit lane c of d[m] = sub-block 4m + c */
    const __m512i e01 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[0], d[1]),
                                         _mm512_unpackhi_epi32(d[0], d[1]));
    const __m512i e23 = _mm512_add_epi32(_mm512_unpacklo_epi32(d[2], d[3]),
                                         _mm512_unpackhi_epi32(d[2], d[3]));
    const __m512i f = _mm512_add_epi32(_mm512_unpacklo_epi64(e01, e23),
                                       _mm512_unpackhi_epi64(e01, e23));
    const __m512i subs = _mm512_permutexvar_epi32(TRANSPOSE_4X4, f);
    const __m512i sums = _mm512_cvtepi16_epi32(
        _mm256_loadu_si256((const __m256i *)(a->sums + (size_t)b * Q6_K_SUBS)));
    const __m512i scales = _mm512_cvtepi8_epi32(
        _mm_loadu_si128((const __m128i *)(block + BN_Q6_K_SCALES)));
    const __m512i offsets = _mm512_slli_epi32(sums, BN_X86_Q6_K_OFFSET_SHIFT);
    const __m512i scaled = _mm512_mullo_epi32(_mm512_sub_epi32(subs, offsets), scales);
    /* group k = sub-blocks 2k and 2k + 1: pairs added, the even lanes kept */
    return _mm512_cvtepi64_epi32(
        _mm512_add_epi32(scaled, _mm512_shuffle_epi32(scaled, _MM_PERM_CDAB)));
}

/* Block b of a row added into acc, its groups' lanes (kernels.h). */
ALWAYS_INLINE VNNI_FN __m256 q6_k_block_vnni(const uint8_t *block, const bn_q8act *a, int b,
                                             __m256 acc)
{
    bn_x86_prefetch_l2(block, BN_Q6_K_BYTES);
    const __m256i isum = q6_k_group_sums(block, a, b);
    const __m256 dw = _mm256_cvtph_ps(_mm_set1_epi16((short)bn_x86_load_u16(block + BN_Q6_K_D)));
    const __m256 d = _mm256_loadu_ps(a->d + BN_Q6_K_GROUPS * (size_t)b);
    return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(dw, d), _mm256_cvtepi32_ps(isum)));
}

/* Rows [r0, r1) of a Q6_K matrix times a, with VNNI. */
VNNI_FN static void q6_k_matvec_vnni(const uint8_t *w, int cols, const bn_q8act *a, float *y,
                                     int r0, int r1)
{
    const int nb = cols / BN_Q6_K_BLOCK;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w + (size_t)r * nb * BN_Q6_K_BYTES;
        __m256 even = _mm256_setzero_ps(), odd = even; /* blocks 0, 2, .. / 1, 3, .. */
        int b = 0;
        for (; b + 2 <= nb; b += 2) {
            even = q6_k_block_vnni(row + (size_t)b * BN_Q6_K_BYTES, a, b, even);
            odd = q6_k_block_vnni(row + (size_t)(b + 1) * BN_Q6_K_BYTES, a, b + 1, odd);
        }
        if (b < nb) even = q6_k_block_vnni(row + (size_t)b * BN_Q6_K_BYTES, a, b, even);
        y[r] = bn_x86_fold8(_mm256_add_ps(even, odd));
    }
}

/* ========================================================== F16 matvec */

/* The 16 lanes of kernels.h in one vector, separate multiply and add,
 * folded 8 (upper half onto lower), 4, 2, 1, then the tail into lane 0. */
ALWAYS_INLINE AVX512_FN float f16_fold(__m512 acc, const uint16_t *w, const float *x, int k, int n)
{
    const __m256 upper = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
    const __m256 f8 = _mm256_add_ps(_mm512_castps512_ps256(acc), upper);
    return bn_f16_dot_tail(bn_x86_fold8(f8), w, x, k, n);
}

ALWAYS_INLINE AVX512_FN __m512 f16_step(__m512 acc, const uint16_t *w, const float *x, int k)
{
    const __m512 wf = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + k)));
    return _mm512_add_ps(acc, _mm512_mul_ps(wf, _mm512_loadu_ps(x + k)));
}

/* The F16 dot product in scalar.c's lanes and folds. */
AVX512_FN static float f16_dot_avx512(const uint16_t *w, const float *x, int n)
{
    __m512 acc = _mm512_setzero_ps();
    int k = 0;
    for (; k + BN_F16_LANES <= n; k += BN_F16_LANES) acc = f16_step(acc, w, x, k);
    return f16_fold(acc, w, x, k, n);
}

/* Two rows at once, each exactly as f16_dot_avx512 (kernels_x86.h says why). */
AVX512_FN static void f16_dot2_avx512(const uint16_t *w0, const uint16_t *w1, const float *x, int n,
                                      float *y0, float *y1)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int k = 0;
    for (; k + BN_F16_LANES <= n; k += BN_F16_LANES) {
        a0 = f16_step(a0, w0, x, k);
        a1 = f16_step(a1, w1, x, k);
    }
    *y0 = f16_fold(a0, w0, x, k, n);
    *y1 = f16_fold(a1, w1, x, k, n);
}

AVX512_FN static void f16_matvec_avx512(const uint16_t *w, int cols, const float *x, float *y,
                                        int r0, int r1)
{
    bn_x86_f16_matvec_rows(w, cols, x, y, r0, r1, f16_dot_avx512, f16_dot2_avx512);
}

/* =========================================================== attention */

#define ATTN_QUERIES 4 /* query heads per pass: a GQA group of 2B-4T */
#define ATTN_VECS 4    /* output vectors of each query per pass over the values */

/* The 16 lanes of v folded as BN_ATTN_LANES says. */
AVX512_FN static inline float fold16_ps(__m512 v)
{
    const __m256 upper = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    return bn_x86_fold8(_mm256_add_ps(_mm512_castps512_ps256(v), upper));
}

/* Lanes [i, min(i + 16, d)): head dimensions are multiples of 8, not
 * always of 16; masked-off lanes load as 0 and are left alone. */
AVX512_FN static inline __mmask16 lanes_from(int i, int d)
{
    return i >= d ? 0 : first_lanes(d - i < FLOATS_PER_VEC ? d - i : FLOATS_PER_VEC);
}

/* The lanes m of KV cache rows from element idx, 0 in the others: floats,
 * or F16 halves widened by vcvtph2ps (exact, as bn_f16_to_f32) when f16
 * is set (a constant: see BN_ATTN_ENTRIES). The halves' masked load is
 * AVX512BW's 32-lane one (no AVX512VL needed); lanes off the mask are not
 * read. */
ALWAYS_INLINE AVX512_FN __m512 cache_load16(__mmask16 m, const void *rows, size_t idx, int f16)
{
    if (!f16) return _mm512_maskz_loadu_ps(m, (const float *)rows + idx);
    const __m512i h = _mm512_maskz_loadu_epi16((__mmask32)m, (const uint16_t *)rows + idx);
    return _mm512_cvtph_ps(_mm512_castsi512_si256(h));
}

/* 16 folds at once, each in fold16_ps's order (lane i + lane i+8, then
 * i + i+4, i + i+2, i + i+1), so bitwise the same: lane 4i + j of the
 * result is the fold of v[4j + i]. Each step adds two vectors' chunks
 * that the fold pairs, halving the vectors: 30 shuffles and 15 adds for
 * 16 folds, where one fold alone costs 7 operations. */
ALWAYS_INLINE AVX512_FN __m512 fold16x16_ps(const __m512 v[16])
{
    __m512 h[8], q[4], e[2];
#pragma GCC unroll 8
    for (size_t i = 0; i < 8; i++) /* chunks 0,1 + chunks 2,3 */
        h[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xee));
#pragma GCC unroll 4
    for (size_t i = 0; i < 4; i++) /* chunk 0 + chunk 1 of each half */
        q[i] = _mm512_add_ps(_mm512_shuffle_f32x4(h[2 * i], h[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(h[2 * i], h[2 * i + 1], 0xdd));
#pragma GCC unroll 2
    for (size_t i = 0; i < 2; i++) /* lanes 0,1 + lanes 2,3 of each chunk */
        e[i] = _mm512_add_ps(_mm512_shuffle_ps(q[2 * i], q[2 * i + 1], 0x44),
                             _mm512_shuffle_ps(q[2 * i], q[2 * i + 1], 0xee));
    return _mm512_add_ps(_mm512_shuffle_ps(e[0], e[1], 0x88), /* lane 0 + lane 1 */
                         _mm512_shuffle_ps(e[0], e[1], 0xdd));
}

/* The fold16x16_ps input that lands in result lane x (the 4 x 4 transpose
 * is its own inverse). */
#define FOLD_INPUT(x) ((x) % 4 * 4 + (x) / 4)

/* acc[...] += q_j * key c over lanes m, for each of nq queries. */
ALWAYS_INLINE AVX512_FN void score_step(__m512 *acc, const __m512 *qv, int nq, __m512 kv,
                                        __mmask16 m, int c, int keys)
{
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++) {
        __m512 *a = &acc[FOLD_INPUT(j * keys + c)];
        *a = _mm512_mask_add_ps(*a, m, *a, _mm512_mul_ps(qv[j], kv));
    }
}

/* Scores of 16 / nq keys from element `row` of k, `stride` apart, for nq
 * queries (1 or 4) with their lanes folded together: query j's key c lands
 * in lane j * keys + c. nq and hot are compile-time constants. Cold rows
 * (decoding: one pass over the cache, from RAM) are read one after another,
 * each query's slice loaded again for every key: reading the rows side by
 * side slowed decoding. Hot rows (a prompt's tokens each read the rows
 * before them) are read side by side so that each query slice is loaded
 * once for all the keys, since loads, not arithmetic, limit them. */
ALWAYS_INLINE AVX512_FN void score_block(const float *q, int nq, const void *k, int f16, size_t row,
                                         size_t stride, int d, float scale, float *scores,
                                         size_t ld, int hot)
{
    const int keys = FLOATS_PER_VEC / nq;
    __m512 acc[FLOATS_PER_VEC], qv[ATTN_QUERIES];
#pragma GCC unroll 16
    for (int i = 0; i < FLOATS_PER_VEC; i++) acc[i] = _mm512_setzero_ps();
    if (hot)
        for (int i = 0; i < d; i += FLOATS_PER_VEC) {
            const __mmask16 m = lanes_from(i, d);
#pragma GCC unroll 4
            for (int j = 0; j < nq; j++) qv[j] = _mm512_maskz_loadu_ps(m, q + (size_t)j * d + i);
#pragma GCC unroll 16
            for (int c = 0; c < keys; c++)
                score_step(acc, qv, nq,
                           cache_load16(m, k, row + (size_t)c * stride + (size_t)i, f16), m, c,
                           keys);
        }
    else
#pragma GCC unroll 16
        for (int c = 0; c < keys; c++)
            for (int i = 0; i < d; i += FLOATS_PER_VEC) {
                const __mmask16 m = lanes_from(i, d);
#pragma GCC unroll 4
                for (int j = 0; j < nq; j++)
                    qv[j] = _mm512_maskz_loadu_ps(m, q + (size_t)j * d + i);
                score_step(acc, qv, nq,
                           cache_load16(m, k, row + (size_t)c * stride + (size_t)i, f16), m, c,
                           keys);
            }
    const __m512 s = _mm512_mul_ps(fold16x16_ps(acc), _mm512_set1_ps(scale));
    if (nq == 1) {
        _mm512_storeu_ps(scores, s);
        return;
    }
    _mm_storeu_ps(scores, _mm512_castps512_ps128(s));
    _mm_storeu_ps(scores + ld, _mm512_extractf32x4_ps(s, 1));
    _mm_storeu_ps(scores + 2 * ld, _mm512_extractf32x4_ps(s, 2));
    _mm_storeu_ps(scores + 3 * ld, _mm512_extractf32x4_ps(s, 3));
}

/* Scores of one key for nq queries. */
ALWAYS_INLINE AVX512_FN void score_key(const float *q, int nq, const void *k, int f16, size_t row,
                                       int d, float scale, float *scores, size_t ld)
{
    __m512 acc[ATTN_QUERIES];
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++) acc[j] = _mm512_setzero_ps();
    for (int i = 0; i < d; i += FLOATS_PER_VEC) {
        const __mmask16 m = lanes_from(i, d);
        const __m512 kv = cache_load16(m, k, row + (size_t)i, f16);
#pragma GCC unroll 4
        for (int j = 0; j < nq; j++) {
            const __m512 qv = _mm512_maskz_loadu_ps(m, q + (size_t)j * d + i);
            acc[j] = _mm512_mask_add_ps(acc[j], m, acc[j], _mm512_mul_ps(qv, kv));
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++) scores[(size_t)j * ld] = fold16_ps(acc[j]) * scale;
}

/* All n keys for nq queries (1 or 4, a compile-time constant). */
ALWAYS_INLINE AVX512_FN void score_all_keys(const float *q, int nq, const void *k, int f16,
                                            size_t stride, int n, int d, float scale, float *scores,
                                            size_t ld, int hot)
{
    const int keys = FLOATS_PER_VEC / nq;
    int p = 0;
    if (hot)
        for (; p + keys <= n; p += keys)
            score_block(q, nq, k, f16, (size_t)p * stride, stride, d, scale, scores + p, ld, 1);
    else
        for (; p + keys <= n; p += keys)
            score_block(q, nq, k, f16, (size_t)p * stride, stride, d, scale, scores + p, ld, 0);
    for (; p < n; p++) score_key(q, nq, k, f16, (size_t)p * stride, d, scale, scores + p, ld);
}

/* Whole groups of ATTN_QUERIES queries together, the rest one by one. */
ALWAYS_INLINE AVX512_FN void scores_rows(const float *q, int n_q, const void *k, int f16,
                                         size_t stride, int n, int d, float scale, float *scores,
                                         size_t ld, int hot)
{
    int j = 0;
    for (; j + ATTN_QUERIES <= n_q; j += ATTN_QUERIES)
        score_all_keys(q + (size_t)j * d, ATTN_QUERIES, k, f16, stride, n, d, scale,
                       scores + (size_t)j * ld, ld, hot);
    for (; j < n_q; j++)
        score_all_keys(q + (size_t)j * d, 1, k, f16, stride, n, d, scale, scores + (size_t)j * ld,
                       ld, hot);
}

/* ATTN_VECS output vectors of nq queries (a compile-time constant) stay
 * in registers over all n keys, each value row loaded once for all of them. */
ALWAYS_INLINE AVX512_FN void values_pass(const float *w, size_t ld, int nq, const void *v, int f16,
                                         size_t stride, int n, int d, int i0, float *out)
{
    __m512 acc[ATTN_QUERIES][ATTN_VECS];
    __mmask16 m[ATTN_VECS];
#pragma GCC unroll 4
    for (int c = 0; c < ATTN_VECS; c++) m[c] = lanes_from(i0 + c * FLOATS_PER_VEC, d);
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++)
#pragma GCC unroll 4
        for (int c = 0; c < ATTN_VECS; c++) acc[j][c] = _mm512_setzero_ps();
    for (int p = 0; p < n; p++) {
        const size_t row = (size_t)p * stride + (size_t)i0;
        __m512 vv[ATTN_VECS];
#pragma GCC unroll 4
        for (int c = 0; c < ATTN_VECS; c++)
            vv[c] = cache_load16(m[c], v, row + (size_t)c * FLOATS_PER_VEC, f16);
#pragma GCC unroll 4
        for (int j = 0; j < nq; j++) {
            const __m512 wp = _mm512_set1_ps(w[(size_t)j * ld + p]);
#pragma GCC unroll 4
            for (int c = 0; c < ATTN_VECS; c++)
                acc[j][c] = _mm512_add_ps(acc[j][c], _mm512_mul_ps(wp, vv[c]));
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < nq; j++)
#pragma GCC unroll 4
        for (int c = 0; c < ATTN_VECS; c++)
            _mm512_mask_storeu_ps(out + (size_t)j * d + i0 + (size_t)c * FLOATS_PER_VEC, m[c],
                                  acc[j][c]);
}

/* Whole groups of ATTN_QUERIES queries together, the rest one by one. */
ALWAYS_INLINE AVX512_FN void values_rows(const float *w, size_t ld, int n_q, const void *v, int f16,
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

BN_ATTN_ENTRIES(AVX512_FN, avx512, scores_rows, values_rows)

/* Several inputs of the F16 product: one at a time, each row pass as fast
 * as the AVX-512 F16 product goes. */
static void f16_matmat_avx512(const uint16_t *w, int cols, const float *x, int n, float *y,
                              size_t ldy, int r0, int r1)
{
    bn_f16_matmat_per_input(f16_matvec_avx512, w, cols, x, n, y, ldy, r0, r1);
}

const bn_kernels bn_kernels_avx512_vnni = {
    .name = "avx512-vnni",
    .quantize = quantize_avx512,
    .qk256_matvec = qk256_matvec_vnni,
    .q16_matvec = bn_x86_q16_matvec_avx2,
    .q16_matmat = bn_x86_q16_matmat_avx2,
    .f16_matvec = f16_matvec_avx512,
    .f16_matmat = f16_matmat_avx512,
    .qk256_matmat = qk256_matmat_vnni,
    .q8_quantize = bn_x86_q8_quantize_avx2,
    .q8_0_matvec = bn_x86_q8_0_matvec_avx2,
    .q8rows_matvec = bn_x86_q8rows_matvec_vnni,
    .q6_k_matvec = q6_k_matvec_vnni,
    .q2_matvec = bn_x86_q2_matvec_vnni,
    .b1_matvec = bn_x86_b1_matvec_vnni,
    .q2_matmat = bn_x86_q2_matmat_vnni,
    .b1_matmat = bn_x86_b1_matmat_vnni,
    .attn_scores = attn_scores_avx512,
    .attn_values = attn_values_avx512,
    .attn_scores_f16 = attn_scores_f16_avx512,
    .attn_values_f16 = attn_values_f16_avx512,
    .exp_sum = bn_x86_exp_sum_avx2,
    .rmsnorm = bn_x86_rmsnorm_avx2,
    .silu_mul = bn_x86_silu_mul_avx2,
};

const bn_kernels bn_kernels_avx512_bw = {
    .name = "avx512-bw",
    .quantize = quantize_avx512,
    .qk256_matvec = qk256_matvec_bw,
    .q16_matvec = bn_x86_q16_matvec_avx2,
    .q16_matmat = bn_x86_q16_matmat_avx2,
    .f16_matvec = f16_matvec_avx512,
    .f16_matmat = f16_matmat_avx512,
    .qk256_matmat = bn_x86_qk256_matmat_avx2,
    .matmat_pads_no_tile = 1,
    .q8_quantize = bn_x86_q8_quantize_avx2,
    .q8_0_matvec = bn_x86_q8_0_matvec_avx2,
    .q8rows_matvec = bn_x86_q8rows_matvec_avx512bw,
    .q6_k_matvec = bn_x86_q6_k_matvec_avx2,
    .q2_matvec = bn_x86_q2_matvec_avx2,
    .b1_matvec = bn_x86_b1_matvec_avx2,
    .q2_matmat = bn_x86_q2_matmat_avx2,
    .b1_matmat = bn_x86_b1_matmat_avx2,
    .attn_scores = attn_scores_avx512,
    .attn_values = attn_values_avx512,
    .attn_scores_f16 = attn_scores_f16_avx512,
    .attn_values_f16 = attn_values_f16_avx512,
    .exp_sum = bn_x86_exp_sum_avx2,
    .rmsnorm = bn_x86_rmsnorm_avx2,
    .silu_mul = bn_x86_silu_mul_avx2,
};

#endif
