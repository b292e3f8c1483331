/*
 * grouped_x86.c - the x86 products of the group-scaled Q2_0 and Q1_0
 * matrices (grouped.h) on Q8 activations: AVX2 ones, which the avx-vnni
 * and avx512-bw tables take too, and AVX-512 VNNI ones for avx512-vnni.
 * Bitwise identical to grouped.c: the integer group sums are exact and
 * group g's float step goes into lane g % 16 as there, 8 groups (a QK256
 * block of Q2_0, two binary blocks of Q1_0) a step, alternating between
 * the accumulators of lanes 0-7 and 8-15. Empty on other architectures.
 */
#include "grouped.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "x86.h"

#define AVX2_FN BN_X86_AVX2_FN
#define VNNI_FN __attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni")))
#define GROUPS 8                                    /* groups per step */
#define STEP ((size_t)GROUPS * BN_Q8_GROUP)         /* activations per step: 256 */
#define STEP_SUMS (STEP / BN_Q8_SUM_SPAN)           /* entries of a->sums per step */
#define B1_STEP_BYTES (STEP / 8)                    /* binary bytes per step */
#define B1_BLOCKS (STEP / BN_Q1_0_BLOCK)            /* binary blocks per step: 2 */
#define GROUPS_PER_B1 (BN_Q1_0_BLOCK / BN_Q8_GROUP) /* 4 */

/* The activation of a row's last, partial step as a whole one: zero
 * levels, scales and sums past the end add +0 to their lanes. */
typedef struct {
    int start, n; /* groups [start, start + n) of the activation; n = 0: none */
    int8_t q[STEP];
    float d[GROUPS];
    int16_t sums[STEP_SUMS];
} step_tail;

static void step_tail_init(step_tail *t, const bn_q8act *a)
{
    const int groups = a->n / BN_Q8_GROUP;
    memset(t, 0, sizeof *t);
    t->start = groups / GROUPS * GROUPS;
    t->n = groups - t->start;
    memcpy(t->q, a->q + (size_t)t->start * BN_Q8_GROUP, (size_t)t->n * BN_Q8_GROUP);
    memcpy(t->d, a->d + t->start, (size_t)t->n * sizeof *t->d);
    memcpy(t->sums, a->sums + (size_t)t->start * BN_Q8_GROUP / BN_Q8_SUM_SPAN,
           (size_t)t->n * BN_Q8_GROUP / BN_Q8_SUM_SPAN * sizeof *t->sums);
}

/* acc + (dw * d) * isum, lane by lane (grouped.h). */
AVX2_FN static inline __m256 lanes_add(__m256 acc, __m256 dw, __m256 d, __m256i isum)
{
    return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(dw, d), _mm256_cvtepi32_ps(isum)));
}

/* The 8 groups' sums of levels from the activation's sums of 16. */
AVX2_FN static inline __m256i group_sums(const int16_t *sums)
{
    return _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)sums), _mm256_set1_epi16(1));
}

/* --------------------------------------------------------------- Q2_0 */

/* Quarter scales k = 0..3 of a QK256 block, each twice: one per group. */
AVX2_FN static inline __m256 q2_scales(const uint16_t *s)
{
    const __m128i h = _mm_loadl_epi64((const __m128i *)s);
    return _mm256_cvtph_ps(_mm_unpacklo_epi16(h, h));
}

/* Group 2k + h of a QK256 block is quarter k's half h: the codes of bytes
 * [32h, 32h + 32) at bits 2k+1:2k. sum(code * q) per group, 8 int32 lanes
 * each; code * q pairs stay within int16 (|pair| <= 2 * 3 * 128). */
AVX2_FN static inline __m256 q2_step(const uint8_t *codes, const uint16_t *scales, const int8_t *q,
                                     const float *d, const int16_t *sums, __m256 acc)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i c[2] = {_mm256_load_si256((const __m256i *)codes),
                          _mm256_load_si256((const __m256i *)(codes + 32))};
    __m256i v[GROUPS];
#pragma GCC unroll 8
    for (int g = 0; g < GROUPS; g++) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(q + BN_Q8_GROUP * (size_t)g));
        v[g] = _mm256_madd_epi16(_mm256_maddubs_epi16(bn_x86_quarter_codes(c[g % 2], g / 2), x),
                                 ones);
    }
    const __m256i isum = _mm256_sub_epi32(bn_x86_reduce8(v), group_sums(sums));
    return lanes_add(acc, q2_scales(scales), _mm256_loadu_ps(d), isum);
}

/* One step of 8 groups, added into acc (q2_step or its AVX-512 twin). */
typedef __m256 (*q2_step_fn)(const uint8_t *codes, const uint16_t *scales, const int8_t *q,
                             const float *d, const int16_t *sums, __m256 acc);

ALWAYS_INLINE AVX2_FN float q2_row(const uint8_t *codes, const uint16_t *scales, const bn_q8act *a,
                                   const step_tail *t, q2_step_fn q2_step)
{
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}; /* lanes 0-7, 8-15 */
    int b = 0;
    for (; b * GROUPS < t->start; b++) {
        bn_x86_prefetch_ahead(codes + (size_t)b * QK256_BLOCK_BYTES);
        acc[b % 2] = q2_step(codes + (size_t)b * QK256_BLOCK_BYTES,
                             scales + (size_t)QK256_QUARTERS * b, a->q + (size_t)b * STEP,
                             a->d + (size_t)GROUPS * b, a->sums + (size_t)STEP_SUMS * b,
                             acc[b % 2]);
    }
    if (t->n)
        acc[b % 2] = q2_step(codes + (size_t)b * QK256_BLOCK_BYTES,
                             scales + (size_t)QK256_QUARTERS * b, t->q, t->d, t->sums, acc[b % 2]);
    return bn_x86_fold8(_mm256_add_ps(acc[0], acc[1]));
}

/* Rows [r0, r1) with a step function (inlined). */
#define Q2_ROWS(step)                                                                              \
    step_tail t;                                                                                   \
    step_tail_init(&t, a);                                                                         \
    for (int r = r0; r < r1; r++)                                                                  \
        y[r] = q2_row(w->codes + (size_t)r * w->blocks_per_row * QK256_BLOCK_BYTES,                \
                      w->group_scales + (size_t)r * w->blocks_per_row * QK256_QUARTERS, a, &t,     \
                      step);

AVX2_FN void bn_x86_q2_matvec_avx2(const qk256_matrix *w, const bn_q8act *a, float *y, int r0,
                                   int r1){Q2_ROWS(q2_step)}

/* --------------------------------------------------------------- Q1_0 */

/* The scales of two binary blocks, each four times: one per group. */
AVX2_FN static inline __m256 b1_scales(const uint16_t *s, int two)
{
    const short s0 = (short)s[0], s1 = (short)(two ? s[1] : 0);
    return _mm256_cvtph_ps(_mm_setr_epi16(s0, s0, s0, s0, s1, s1, s1, s1));
}

/* 32 bits (4 bytes, bit j % 8 of byte j / 8) as 32 bytes, 0xFF where set. */
AVX2_FN static inline __m256i bits_to_mask(const uint8_t *p)
{
    uint32_t u;
    memcpy(&u, p, sizeof u);
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                            2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i x = _mm256_shuffle_epi8(_mm256_set1_epi32((int)u), spread);
    return _mm256_cmpeq_epi8(_mm256_and_si256(x, bit), bit);
}

/* isum = 2 * (sum of q where the bit is set) - (sum of q), per group. */
AVX2_FN static inline __m256 b1_step(const uint8_t *bits, const uint16_t *scales, int two,
                                     const int8_t *q, const float *d, const int16_t *sums,
                                     __m256 acc)
{
    const __m256i ones8 = _mm256_set1_epi8(1), ones = _mm256_set1_epi16(1);
    __m256i v[GROUPS];
#pragma GCC unroll 8
    for (int g = 0; g < GROUPS; g++) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(q + BN_Q8_GROUP * (size_t)g));
        const __m256i sel = _mm256_and_si256(bits_to_mask(bits + (size_t)4 * g), x);
        v[g] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, sel), ones);
    }
    const __m256i isum = _mm256_sub_epi32(_mm256_slli_epi32(bn_x86_reduce8(v), 1),
                                          group_sums(sums));
    return lanes_add(acc, b1_scales(scales, two), _mm256_loadu_ps(d), isum);
}

typedef __m256 (*b1_step_fn)(const uint8_t *bits, const uint16_t *scales, int two, const int8_t *q,
                             const float *d, const int16_t *sums, __m256 acc);

ALWAYS_INLINE AVX2_FN float b1_row(const uint8_t *bits, const uint16_t *scales, const bn_q8act *a,
                                   const step_tail *t, b1_step_fn b1_step)
{
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    int s = 0;
    for (; s * GROUPS < t->start; s++) {
        bn_x86_prefetch_ahead(bits + (size_t)s * B1_STEP_BYTES);
        acc[s % 2] = b1_step(bits + (size_t)s * B1_STEP_BYTES, scales + (size_t)B1_BLOCKS * s, 1,
                             a->q + (size_t)s * STEP, a->d + (size_t)GROUPS * s,
                             a->sums + (size_t)STEP_SUMS * s, acc[s % 2]);
    }
    if (t->n) { /* one binary block left: its bits, then zeros */
        uint8_t last[B1_STEP_BYTES] = {0};
        memcpy(last, bits + (size_t)s * B1_STEP_BYTES, (size_t)t->n * BN_Q8_GROUP / 8);
        acc[s % 2] = b1_step(last, scales + (size_t)B1_BLOCKS * s, t->n > GROUPS_PER_B1, t->q, t->d,
                             t->sums, acc[s % 2]);
    }
    return bn_x86_fold8(_mm256_add_ps(acc[0], acc[1]));
}

#define B1_ROWS(step)                                                                              \
    step_tail t;                                                                                   \
    step_tail_init(&t, a);                                                                         \
    for (int r = r0; r < r1; r++)                                                                  \
        y[r] = b1_row(w->bits + (size_t)r * bn_bits_row_bytes(w->cols),                            \
                      w->group_scales + (size_t)r * w->blocks_per_row, a, &t, step);

AVX2_FN void bn_x86_b1_matvec_avx2(const qk256_matrix *w, const bn_q8act *a, float *y, int r0,
                                   int r1){B1_ROWS(b1_step)}

/* ------------------------------------------------------ AVX-512 VNNI */

/* A 512-bit product of two groups (lanes 0-7 the first, 8-15 the second)
 * as the two 8-lane vectors bn_x86_reduce8 takes. */
ALWAYS_INLINE VNNI_FN void split_groups(__m512i p, __m256i *first, __m256i *second)
{
    *first = _mm512_castsi512_si256(p);
    *second = _mm512_extracti64x4_epi64(p, 1);
}

/* Quarter k of a whole QK256 block (64 bytes) is groups 2k and 2k + 1:
 * one vpdpbusd of its codes against 64 activations. */
VNNI_FN static inline __m256 q2_step_vnni(const uint8_t *codes, const uint16_t *scales,
                                          const int8_t *q, const float *d, const int16_t *sums,
                                          __m256 acc)
{
    const __m512i c = _mm512_load_si512((const void *)codes), three = _mm512_set1_epi8(3);
    __m256i v[GROUPS];
#pragma GCC unroll 4
    for (int k = 0; k < QK256_QUARTERS; k++) {
        const __m512i codes_k = _mm512_and_si512(_mm512_srli_epi16(c, 2 * k), three);
        const __m512i x = _mm512_loadu_si512((const void *)(q + (size_t)BN_Q2_0_BLOCK * k));
        split_groups(_mm512_dpbusd_epi32(_mm512_setzero_si512(), codes_k, x), &v[2 * (size_t)k],
                     &v[2 * k + 1]);
    }
    const __m256i isum = _mm256_sub_epi32(bn_x86_reduce8(v), group_sums(sums));
    return lanes_add(acc, q2_scales(scales), _mm256_loadu_ps(d), isum);
}

/* Two groups at a time: their 64 bits are a byte mask that keeps the
 * activations of the +d weights, summed by vpdpbusd against ones. */
VNNI_FN static inline __m256 b1_step_vnni(const uint8_t *bits, const uint16_t *scales, int two,
                                          const int8_t *q, const float *d, const int16_t *sums,
                                          __m256 acc)
{
    const __m512i ones = _mm512_set1_epi8(1);
    __m256i v[GROUPS];
#pragma GCC unroll 4
    for (int p = 0; p < GROUPS / 2; p++) {
        uint64_t m;
        memcpy(&m, bits + 8 * (size_t)p, sizeof m);
        const __m512i x = _mm512_loadu_si512((const void *)(q + (size_t)2 * BN_Q8_GROUP * p));
        const __m512i sel = _mm512_maskz_mov_epi8((__mmask64)m, x);
        split_groups(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, sel), &v[2 * (size_t)p],
                     &v[2 * p + 1]);
    }
    const __m256i isum = _mm256_sub_epi32(_mm256_slli_epi32(bn_x86_reduce8(v), 1),
                                          group_sums(sums));
    return lanes_add(acc, b1_scales(scales, two), _mm256_loadu_ps(d), isum);
}

VNNI_FN void bn_x86_q2_matvec_vnni(const qk256_matrix *w, const bn_q8act *a, float *y, int r0,
                                   int r1){Q2_ROWS(q2_step_vnni)}

VNNI_FN
    void bn_x86_b1_matvec_vnni(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1)
{
    B1_ROWS(b1_step_vnni)
}

#endif
