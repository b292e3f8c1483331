/*
 * kernels_x86.h - AVX2 helpers shared by the x86 kernel files
 * (kernels_avx2.c, kernels_avx512.c): horizontal sums and maxima, the
 * fold of the F16 dot product lanes, and the frame of the Q8_0 / Q6_K
 * products (lm-head) around each file's integer core. Include only under
 * __x86_64__; the helpers are compiled for AVX2, so only AVX2 (or wider)
 * functions may call them.
 */
#ifndef BN_KERNELS_X86_H
#define BN_KERNELS_X86_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "quants.h"

#define BN_X86_AVX2_FN __attribute__((target("avx2,f16c")))
#define BN_X86_REDUCE_LANES 8 /* vectors reduced together by bn_x86_reduce8 */
/* Rows stream from RAM: ask for the codes this far ahead. Measured on
 * Zen 4 (bench/bench_kernels.c, "memory" rows): 2-3 blocks ahead gains
 * ~15%; 8 blocks or more is slower than no prefetch at all. */
#define BN_X86_PREFETCH_BYTES 128
/* The F16 products go one row at a time (no multi-row tile): interleaving
 * 2 or 4 rows, each with its own lanes and sharing the activation loads,
 * halved the bandwidth on Zen 4 (bench/bench_kernels.c, output layer in
 * memory), while one row reaches the read loop. */

BN_X86_AVX2_FN static inline void bn_x86_prefetch_ahead(const uint8_t *codes)
{
    _mm_prefetch((const char *)codes + BN_X86_PREFETCH_BYTES, _MM_HINT_T0);
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

/* ------------------------------------------------- lm-head products */

/* Groups of a Q8_0 / Q6_K row summed per pass: their int32 sums come out
 * together in one vector of 8 lanes, whose float lanes (kernels.h: group g
 * into lane g % 16) alternate between two accumulators, lanes 0-7 and 8-15. */
#define BN_X86_Q8_PASS 8

/* acc + (dw * d) * isum, lane by lane (kernels.h). */
BN_X86_AVX2_FN static inline __m256 bn_x86_q8_lanes_add(__m256 acc, __m256 dw, __m256 d,
                                                         __m256i isum)
{
    return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(dw, d), _mm256_cvtepi32_ps(isum)));
}

/* The fp16 scales of BN_X86_Q8_PASS consecutive Q8_0 blocks as floats
 * (word inserts: faster than a gather on Zen 4). */
BN_X86_AVX2_FN static inline __m256 bn_x86_q8_0_scales(const uint8_t *blocks)
{
#define DW(i) (short)bn_x86_load_u16(blocks + BN_Q8_0_BYTES * (i))
    return _mm256_cvtph_ps(_mm_setr_epi16(DW(0), DW(1), DW(2), DW(3), DW(4), DW(5), DW(6), DW(7)));
#undef DW
}

/* The groups of a Q8_0 row's last, partial pass copied into a whole one
 * with zero levels and scales, which add +0 to the lanes (an identity: a
 * lane that starts at +0 and only adds is never -0). */
typedef struct {
    int start, n; /* groups [start, start + n); n = 0: none */
    int8_t q[BN_X86_Q8_PASS * BN_Q8_GROUP];
    float d[BN_X86_Q8_PASS];
} bn_x86_q8_tail;

static inline void bn_x86_q8_tail_init(bn_x86_q8_tail *t, const bn_q8act *a, int groups)
{
    memset(t, 0, sizeof *t);
    t->start = groups / BN_X86_Q8_PASS * BN_X86_Q8_PASS;
    t->n = groups - t->start;
    memcpy(t->q, a->q + (size_t)t->start * BN_Q8_GROUP, (size_t)t->n * BN_Q8_GROUP);
    memcpy(t->d, a->d + t->start, (size_t)t->n * sizeof *t->d);
}

/* One pass: BN_X86_Q8_PASS Q8_0 blocks times their activation groups
 * (levels q, scales d) added into the lanes of acc. */
typedef __m256 (*bn_x86_q8_0_pass_fn)(const uint8_t *blocks, const int8_t *q, const float *d,
                                      __m256 acc);

/* A Q8_0 row: the passes, then the padded tail. Always inlined, so `pass`
 * (a constant at each caller) is inlined too. */
BN_X86_AVX2_FN static inline __attribute__((always_inline)) float
bn_x86_q8_0_row(const uint8_t *row, const bn_q8act *a, const bn_x86_q8_tail *tail,
                bn_x86_q8_0_pass_fn pass)
{
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    int g = 0, half = 0;
    for (; g < tail->start; g += BN_X86_Q8_PASS, half ^= 1)
        acc[half] = pass(row + (size_t)g * BN_Q8_0_BYTES, a->q + (size_t)g * BN_Q8_GROUP, a->d + g,
                         acc[half]);
    if (tail->n) {
        uint8_t blocks[BN_X86_Q8_PASS * BN_Q8_0_BYTES] = {0};
        memcpy(blocks, row + (size_t)g * BN_Q8_0_BYTES, (size_t)tail->n * BN_Q8_0_BYTES);
        acc[half] = pass(blocks, tail->q, tail->d, acc[half]);
    }
    return bn_x86_fold8(_mm256_add_ps(acc[0], acc[1]));
}

/* Rows [r0, r1) of a Q8_0 matrix. */
BN_X86_AVX2_FN static inline __attribute__((always_inline)) void
bn_x86_q8_0_matvec(const uint8_t *w, int cols, const bn_q8act *a, float *y, int r0, int r1,
                   bn_x86_q8_0_pass_fn pass)
{
    const int nb = cols / BN_Q8_0_BLOCK;
    bn_x86_q8_tail tail;
    bn_x86_q8_tail_init(&tail, a, nb);
    for (int r = r0; r < r1; r++)
        y[r] = bn_x86_q8_0_row(w + (size_t)r * nb * BN_Q8_0_BYTES, a, &tail, pass);
}

/* Q6_K: a block is one pass of 8 groups, added by `block` into the lanes. */
typedef __m256 (*bn_x86_q6_k_block_fn)(const uint8_t *block, const bn_q8act *a, int b,
                                       __m256 acc);

BN_X86_AVX2_FN static inline __attribute__((always_inline)) void
bn_x86_q6_k_matvec(const uint8_t *w, int cols, const bn_q8act *a, float *y, int r0, int r1,
                   bn_x86_q6_k_block_fn block)
{
    const int nb = cols / BN_Q6_K_BLOCK;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w + (size_t)r * nb * BN_Q6_K_BYTES;
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}; /* even, odd blocks */
        for (int b = 0; b < nb; b++)
            acc[b & 1] = block(row + (size_t)b * BN_Q6_K_BYTES, a, b, acc[b & 1]);
        y[r] = bn_x86_fold8(_mm256_add_ps(acc[0], acc[1]));
    }
}

#define BN_X86_Q6_K_OFFSET_SHIFT 5 /* x 32 = BN_Q6_K_OFFSET */

/* The levels' offset in a Q6_K block's 8 group sums: lane k is
 * 32 * (scale[2k] * sums[2k] + scale[2k + 1] * sums[2k + 1]), from the
 * block's 16 scales as int16 and the activation's sums of 16 levels. */
BN_X86_AVX2_FN static inline __m256i bn_x86_q6_k_offset(__m256i scales16, const bn_q8act *a,
                                                        int b)
{
    const __m256i sums = _mm256_loadu_si256(
        (const __m256i *)(a->sums + (size_t)b * BN_Q6_K_BLOCK / BN_Q8_SUM_SPAN));
    return _mm256_slli_epi32(_mm256_madd_epi16(scales16, sums), BN_X86_Q6_K_OFFSET_SHIFT);
}
/* The block's fp16 d in 8 float lanes. */
BN_X86_AVX2_FN static inline __m256 bn_x86_q6_k_scale(const uint8_t *block)
{
    return _mm256_cvtph_ps(_mm_set1_epi16((short)bn_x86_load_u16(block + BN_Q6_K_D)));
}

#endif
