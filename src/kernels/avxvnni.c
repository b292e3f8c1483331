/*
 * avxvnni.c - the "avx-vnni" kernel table: the QK256 products with the
 * 256-bit VEX-encoded vpdpbusd of AVX-VNNI, which multiplies unsigned codes
 * by signed activations and adds groups of four straight into int32 (no
 * int16 step, unlike avx2's vpmaddubsw). It owns only the QK256
 * matrix-vector and prompt-batch products; everything else (quantize,
 * Q16, F16, lm-head products, attention) is the AVX2 table's (x86.h). The
 * integer logic is avx512-vnni's in 256-bit lanes, and the float epilogue
 * is products.c's, so the results are bitwise those of scalar.c.
 *
 * Opt-in (--kernel avx-vnni) until tested on hardware (kernels.c says why).
 * Only these functions are compiled for AVX-VNNI (target attributes);
 * kernels.c picks the table only when cpu.c reports AVX-VNNI with AVX2.
 * Empty on other architectures.
 */
#include "products.h"
#include "table.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "x86.h"

#define VNNI_FN __attribute__((target("avxvnni,avx2,f16c")))

#define BYTES_PER_VEC 32
#define QUARTER_BYTES 64 /* activations per quarter of a block (qk256.h) */

/* The 32 activations of quarter k that meet code bytes [32 h, 32 h + 32). */
#define Q_AT(q, k, h)                                                                              \
    _mm256_loadu_si256(                                                                            \
        (const __m256i *)((q) + (size_t)(k)*QUARTER_BYTES + (size_t)(h)*BYTES_PER_VEC))
#define CODES_AT(codes, h)                                                                         \
    _mm256_loadu_si256((const __m256i *)((codes) + (size_t)(h)*BYTES_PER_VEC))

/* ------------------------------------------------------- QK256 matvec */

/* One block's sum(code*q) over 8 int32 lanes: each vpdpbusd lane adds
 * four products exactly in int32. One accumulator per half block halves
 * the latency. */
VNNI_FN static inline __m256i block_dot_vnni(const uint8_t *codes, const int8_t *q)
{
    const __m256i lo = CODES_AT(codes, 0), hi = CODES_AT(codes, 1);
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        acc0 = _mm256_dpbusd_avx_epi32(acc0, bn_x86_quarter_codes(lo, k), Q_AT(q, k, 0));
        acc1 = _mm256_dpbusd_avx_epi32(acc1, bn_x86_quarter_codes(hi, k), Q_AT(q, k, 1));
    }
    return _mm256_add_epi32(acc0, acc1);
}

VNNI_FN static void block_dots_vnni(const uint8_t *codes, const int8_t *q, int n, int32_t *dots)
{
    BN_X86_BLOCK_DOTS_BODY(block_dot_vnni)
}

/* Code fields left in place, as avx512.c's row: (byte & 3 << 2k) is
 * code * 4^k, so quarter k accumulates 4^k * sum(code*q) and an exact
 * arithmetic shift scales it back. Each half block has accumulators of its
 * own, so a lane gains at most 4 * 2*64 * 128 = 2^16 per block, as in
 * avx512.c: exact in int32 below 32768 blocks per row, the bound of the
 * scalar int32 sum too. Saves the shifts of bn_x86_quarter_codes. */
#define FIELD(c, k) _mm256_and_si256(c, _mm256_set1_epi8((char)(3 << (2 * (k)))))

/* sum(code * q) over a row of n blocks with AVX-VNNI. */
VNNI_FN static int32_t row_dot_vnni(const uint8_t *codes, const int8_t *q, int n)
{
    __m256i lo[4], hi[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) lo[k] = hi[k] = _mm256_setzero_si256();
    for (int b = 0; b < n; b++, codes += QK256_BLOCK_BYTES, q += QK256_BLOCK) {
        bn_x86_prefetch_ahead(codes);
        const __m256i c0 = CODES_AT(codes, 0), c1 = CODES_AT(codes, 1);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            lo[k] = _mm256_dpbusd_avx_epi32(lo[k], FIELD(c0, k), Q_AT(q, k, 0));
            hi[k] = _mm256_dpbusd_avx_epi32(hi[k], FIELD(c1, k), Q_AT(q, k, 1));
        }
    }
    __m256i sum = _mm256_add_epi32(lo[0], hi[0]);
#pragma GCC unroll 3
    for (int k = 1; k < 4; k++)
        sum = _mm256_add_epi32(sum, _mm256_add_epi32(_mm256_srai_epi32(lo[k], 2 * k),
                                                     _mm256_srai_epi32(hi[k], 2 * k)));
    return bn_x86_hsum_epi32(sum);
}

VNNI_FN static void qk256_matvec_vnni(const qk256_matrix *w, const bn_qact *a, float *y, int r0,
                                      int r1)
{
    bn_qk256_matvec_rows(w, a, y, r0, r1, row_dot_vnni, block_dots_vnni);
}

/* ------------------------------------------------------- QK256 matmat */

/* Two rows against a tile of six tokens: 12 accumulators, more
 * independent chains than vpdpbusd's latency times its issue rate, and
 * with the two rows' decoded quarters, an activation and the mask, the 16
 * YMM registers (there is no AVX-512 to give 32). Each activation load
 * serves both rows; each row's quarter is decoded once for six tokens. */
#define MATMAT_ROWS 2
#define MATMAT_TOKENS 6
#define MATMAT_ACCS (MATMAT_ROWS * MATMAT_TOKENS)
_Static_assert(MATMAT_ACCS > BN_X86_REDUCE_LANES && MATMAT_ACCS <= 2 * BN_X86_REDUCE_LANES,
               "row_tile_vnni's two overlapping reductions");

/* The integer sums of a tile of rows x tokens, held in registers. */
VNNI_FN static void row_tile_vnni(const uint8_t *codes, size_t row_bytes, const int8_t *const *q,
                                  int nb, int32_t *sums)
{
    __m256i acc[MATMAT_ACCS]; /* row i, token t: acc[i * MATMAT_TOKENS + t] */
#pragma GCC unroll 12         /* the accumulators must live in registers */
    for (int i = 0; i < MATMAT_ACCS; i++) acc[i] = _mm256_setzero_si256();
    for (int b = 0; b < nb; b++) {
        const uint8_t *block = codes + (size_t)b * QK256_BLOCK_BYTES;
#pragma GCC unroll 2
        for (int i = 0; i < MATMAT_ROWS; i++) bn_x86_prefetch_ahead(block + i * row_bytes);
        const size_t off = (size_t)b * QK256_BLOCK;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++)
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                __m256i d[MATMAT_ROWS];
#pragma GCC unroll 2
                for (int i = 0; i < MATMAT_ROWS; i++)
                    d[i] = bn_x86_quarter_codes(CODES_AT(block + i * row_bytes, h), k);
#pragma GCC unroll 6
                for (int t = 0; t < MATMAT_TOKENS; t++) {
                    const __m256i x = Q_AT(q[t] + off, k, h);
#pragma GCC unroll 2
                    for (int i = 0; i < MATMAT_ROWS; i++)
                        acc[i * MATMAT_TOKENS + t] = _mm256_dpbusd_avx_epi32(
                            acc[i * MATMAT_TOKENS + t], d[i], x);
                }
            }
    }
    /* sums 0-7, then 4-11 (4-7 written twice, the same values) */
    const size_t late = (size_t)MATMAT_ACCS - BN_X86_REDUCE_LANES;
    _mm256_storeu_si256((__m256i *)sums, bn_x86_reduce8(acc));
    _mm256_storeu_si256((__m256i *)(sums + late), bn_x86_reduce8(acc + late));
}

static const bn_matmat_shape matmat_vnni = {MATMAT_TOKENS, MATMAT_ROWS, row_tile_vnni,
                                            qk256_matvec_vnni, NULL};

VNNI_FN static void qk256_matmat_vnni(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y,
                                      int ldy, int r0, int r1)
{
    bn_qk256_matmat_tiles(w, a, n_tok, y, ldy, r0, r1, &matmat_vnni);
}

const bn_kernels bn_kernels_avx_vnni = {
    .name = "avx-vnni",
    .quantize = bn_x86_quantize_avx2,
    .qk256_matvec = qk256_matvec_vnni,
    .q16_matvec = bn_x86_q16_matvec_avx2,
    .q16_matmat = bn_x86_q16_matmat_avx2,
    .f16_matvec = bn_x86_f16_matvec_avx2,
    .f16_matmat = bn_x86_f16_matmat_avx2,
    .qk256_matmat = qk256_matmat_vnni,
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
