/*
 * grouped_batch_x86.c - the x86 prompt-batch products of the group-scaled
 * Q2_0 and Q1_0 matrices (grouped.h, table.h q2_matmat / b1_matmat): AVX2
 * ones, which the avx2, avx-vnni and avx512-bw tables take, and AVX-512
 * VNNI ones for avx512-vnni. Empty on other architectures.
 *
 * A row is read in runs of BN_Q8_RUN = 16 groups (512 weights). Each run
 * of a tile's rows is decoded once into the shape of the interleaved
 * levels (bn_q8act.qi): slice i, lane j = the codes (level + 1, unsigned)
 * of bytes 4i..4i+3 of group j. So a 4-byte dot product of a slice with
 * each token's slice i adds into group j's own 32-bit lane, and after the
 * 8 slices lane j holds sum(code * q) of group j for that token, minus
 * sum(q) (added first from bn_q8act.sums) its exact isum: no horizontal
 * sums. Lane j of the run then takes (dw * d) * isum into float lane j,
 * as grouped.c's lane g % 16, and the lanes fold as there: bitwise the
 * matvec's result for every token. Q1_0's bits decode to codes 0 and 2
 * (levels -1, +1), so both formats share the rest.
 */
#include "grouped.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "x86.h"

#define AVX2_FN BN_X86_AVX2_FN
#define VNNI_FN __attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni")))
#define SLICES BN_Q8_RUN_SLICES                              /* 8 */
#define RUN_GROUPS BN_Q8_RUN                                 /* 16 */
#define RUN_SUMS (RUN_GROUPS * BN_Q8_GROUP / BN_Q8_SUM_SPAN) /* 32 entries of sums */
#define Q2_RUN_BLOCKS 2                                      /* QK256 blocks per run */
#define Q2_RUN_BYTES (Q2_RUN_BLOCKS * QK256_BLOCK_BYTES)     /* 128 */
#define Q2_RUN_SCALES (Q2_RUN_BLOCKS * QK256_QUARTERS)       /* 8 */
#define B1_RUN_BYTES (BN_Q8_RUN_BYTES / 8)                   /* 64 */
#define B1_RUN_SCALES (BN_Q8_RUN_BYTES / BN_Q1_0_BLOCK)      /* 4 */
#define GROUPS_PER_B1 (BN_Q1_0_BLOCK / BN_Q8_GROUP)          /* 4 */
#define MAX_TILE_TOKENS 8
#define TILE_ROWS 2

/* One run of a row, whole: its weights and scales (a row's last run,
 * partial, is copied into one of these, zero past its end). */
typedef struct {
    uint8_t w[Q2_RUN_BYTES];
    uint16_t scales[Q2_RUN_SCALES];
} run_copy;

/* One run of a token's activation: its levels, scales and sums of 16 (a
 * last, partial run is copied with zero scales and sums past its end, and
 * qi is zero there already). */
typedef struct {
    const int8_t *qi;
    const float *d;
    const int16_t *sums;
} act_run;

typedef struct {
    float d[RUN_GROUPS];
    int16_t sums[RUN_SUMS];
} act_tail;

/* Where run s of row r starts, and the partial last run as a copy. */
typedef struct {
    const uint8_t *w;
    const uint16_t *scales;
} row_run;

static inline row_run row_run_at(const qk256_matrix *w, int binary, int r, int s)
{
    if (binary)
        return (row_run){
            w->bits + (size_t)r * bn_bits_row_bytes(w->cols) + (size_t)s * B1_RUN_BYTES,
            w->group_scales + (size_t)r * w->blocks_per_row + (size_t)s * B1_RUN_SCALES};
    return (row_run){w->codes + ((size_t)r * w->blocks_per_row + (size_t)s * Q2_RUN_BLOCKS) *
                                    QK256_BLOCK_BYTES,
                     w->group_scales + ((size_t)r * w->blocks_per_row + (size_t)s * Q2_RUN_BLOCKS) *
                                           QK256_QUARTERS};
}

/* The last run of row r (groups [16 s, groups) of it) copied whole. */
static row_run row_tail(const qk256_matrix *w, int binary, int r, int s, int groups, run_copy *copy)
{
    const row_run at = row_run_at(w, binary, r, s);
    memset(copy, 0, sizeof *copy);
    const int left = groups - s * RUN_GROUPS;
    if (binary) {
        memcpy(copy->w, at.w, (size_t)left * BN_Q8_GROUP / 8);
        memcpy(copy->scales, at.scales, (size_t)left / GROUPS_PER_B1 * sizeof *copy->scales);
    } else {
        const int blocks = w->blocks_per_row - s * Q2_RUN_BLOCKS;
        memcpy(copy->w, at.w, (size_t)blocks * QK256_BLOCK_BYTES);
        memcpy(copy->scales, at.scales, (size_t)blocks * QK256_QUARTERS * sizeof *copy->scales);
    }
    return (row_run){copy->w, copy->scales};
}

/* Run s of token a, or its last run through tail. */
static inline act_run act_run_at(const bn_q8act *a, int s, int full, act_tail *tail)
{
    const int8_t *qi = a->qi + (size_t)s * BN_Q8_RUN_BYTES;
    if (s < full)
        return (act_run){qi, a->d + (size_t)s * RUN_GROUPS, a->sums + (size_t)s * RUN_SUMS};
    const int left = a->n / BN_Q8_GROUP - s * RUN_GROUPS;
    memset(tail, 0, sizeof *tail);
    memcpy(tail->d, a->d + (size_t)s * RUN_GROUPS, (size_t)left * sizeof *tail->d);
    memcpy(tail->sums, a->sums + (size_t)s * RUN_SUMS, (size_t)left * 2 * sizeof *tail->sums);
    return (act_run){qi, tail->d, tail->sums};
}

/* The driver of both instruction sets: rows [r0, r1) x n_tok tokens in
 * tiles of TILE_ROWS rows x `tile` tokens, the leftover row and tokens in
 * tiles of their own size (ROW_TILE(rows, tokens) compiles each shape
 * apart so that its accumulators stay in registers). */
#define GROUPED_MATMAT(TILE_FN, TOKENS)                                                            \
    const int groups = a->n / BN_Q8_GROUP, full = groups / RUN_GROUPS;                             \
    const int runs = full + (groups % RUN_GROUPS != 0);                                            \
    for (int t0 = 0; t0 < n_tok; t0 += (TOKENS)) {                                                 \
        const int nt = n_tok - t0 < (TOKENS) ? n_tok - t0 : (TOKENS);                              \
        int r = r0;                                                                                \
        for (; r + TILE_ROWS <= r1; r += TILE_ROWS)                                                \
            TILE_FN(w, binary, a + t0, nt, runs, full, groups, y + (size_t)t0 * ldy, ldy, r,       \
                    TILE_ROWS);                                                                    \
        if (r < r1)                                                                                \
            TILE_FN(w, binary, a + t0, nt, runs, full, groups, y + (size_t)t0 * ldy, ldy, r, 1);   \
    }

/* ================================================================= AVX2 */

/* The scales of a Q1_0 run's 4 blocks, each for its 4 groups. */
AVX2_FN ALWAYS_INLINE __m256i b1_run_scales(const uint16_t *scales)
{
    long long s;
    memcpy(&s, scales, sizeof s);
    const __m256i spread = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 4, 5, 4,
                                            5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7);
    return _mm256_shuffle_epi8(_mm256_set1_epi64x(s), spread);
}

/* Byte k of dword m of each 128-bit lane <- byte 4m + i / 2 (the byte of
 * group m's bits holding weights 4i..4i+3), and the bit of weight 4i + k
 * in it. */
#define B1_SPREAD(i) (0x01010101 * ((i) / 2))
#define B1_BITS(i) ((i) % 2 ? 0x80402010 : 0x08040201)

#define HALVES 2 /* 8-lane halves of a run: groups 0-7 and 8-15 */

/* Half h of a Q2_0 run (block h) as 8 slices: lane j of slice i is dword
 * 8 (j % 2) + i of the block shifted by 2 (j / 2), from the pairs
 * (C0[i], C1[i]) that unpacking its two 32-byte halves C0, C1 makes. */
AVX2_FN ALWAYS_INLINE void q2_half_avx2(const uint8_t *codes, const uint16_t *scales, __m256i *sl,
                                        __m256 *dw)
{
    const __m256i c0 = _mm256_loadu_si256((const __m256i *)codes);
    const __m256i c1 = _mm256_loadu_si256((const __m256i *)(codes + 32));
    const __m256i lo = _mm256_unpacklo_epi32(c0, c1), hi = _mm256_unpackhi_epi32(c0, c1);
    const __m256i shift = _mm256_setr_epi32(0, 0, 2, 2, 4, 4, 6, 6);
#pragma GCC unroll 8
    for (int i = 0; i < SLICES; i++) {
        const int p = 2 * (i % 2) + 4 * (i / 4);
        const __m256i pair = _mm256_permutevar8x32_epi32(
            i % 4 < 2 ? lo : hi, _mm256_setr_epi32(p, p + 1, p, p + 1, p, p + 1, p, p + 1));
        sl[i] = _mm256_and_si256(_mm256_srlv_epi32(pair, shift), _mm256_set1_epi8(3));
    }
    const __m128i s = _mm_loadl_epi64((const __m128i *)scales);
    *dw = _mm256_cvtph_ps(_mm_unpacklo_epi16(s, s));
}

/* Half h of a Q1_0 run (groups 8h..8h+7: 32 bytes of bits) as 8 slices
 * of codes 0 / 2, as b1_slices_vnni. */
AVX2_FN ALWAYS_INLINE void b1_half_avx2(const uint8_t *bits, __m256i *sl)
{
    const __m256i b = _mm256_loadu_si256((const __m256i *)bits);
    const __m256i dword = _mm256_setr_epi32(0, 0x04040404, 0x08080808, 0x0c0c0c0c, 0, 0x04040404,
                                            0x08080808, 0x0c0c0c0c);
#pragma GCC unroll 8
    for (int i = 0; i < SLICES; i++) {
        const __m256i bit = _mm256_set1_epi32((int)B1_BITS(i));
        const __m256i x = _mm256_and_si256(
            _mm256_shuffle_epi8(b, _mm256_add_epi32(dword, _mm256_set1_epi32(B1_SPREAD(i)))), bit);
        sl[i] = _mm256_and_si256(_mm256_cmpeq_epi8(x, bit), _mm256_set1_epi8(2));
    }
}

/* Rows r..r+R-1 times tokens a[0..T), a run's halves in turn: each
 * token's products add up in int16 over the 8 slices (|sum| <= 8 * 2 *
 * 3 * 127), then widen. */
AVX2_FN ALWAYS_INLINE void tile_avx2(const qk256_matrix *w, int binary, const bn_q8act *a, int T,
                                     int runs, int full, int groups, float *y, int ldy, int r0,
                                     int R)
{
    __m256 f[TILE_ROWS][MAX_TILE_TOKENS][HALVES];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) f[i][t][0] = f[i][t][1] = _mm256_setzero_ps();
    act_tail tails[MAX_TILE_TOKENS];
    const __m256i ones = _mm256_set1_epi16(1), minus = _mm256_set1_epi16(-1);
    for (int s = 0; s < runs; s++) {
        row_run rr[TILE_ROWS];
        run_copy copy[TILE_ROWS];
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            rr[i] = s < full ? row_run_at(w, binary, r0 + i, s)
                             : row_tail(w, binary, r0 + i, s, groups, &copy[i]);
            bn_x86_prefetch_ahead(rr[i].w);
        }
        act_run ar[MAX_TILE_TOKENS];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) ar[t] = act_run_at(&a[t], s, full, &tails[t]);
        for (int h = 0; h < HALVES; h++) {
            __m256i sl[TILE_ROWS][SLICES];
            __m256 dw[TILE_ROWS];
#pragma GCC unroll 8
            for (int i = 0; i < R; i++) {
                if (binary) {
                    b1_half_avx2(rr[i].w + (size_t)h * 32, sl[i]);
                    const __m256i sc = b1_run_scales(rr[i].scales);
                    dw[i] = _mm256_cvtph_ps(h ? _mm256_extracti128_si256(sc, 1)
                                              : _mm256_castsi256_si128(sc));
                } else {
                    q2_half_avx2(rr[i].w + (size_t)h * QK256_BLOCK_BYTES,
                                 rr[i].scales + (size_t)h * QK256_QUARTERS, sl[i], &dw[i]);
                }
            }
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const int8_t *x = ar[t].qi + (size_t)h * 32;
                const __m256i neg_sums = _mm256_madd_epi16(
                    _mm256_loadu_si256((const __m256i *)(ar[t].sums + (size_t)h * 16)), minus);
                const __m256 d = _mm256_loadu_ps(ar[t].d + (size_t)h * 8);
#pragma GCC unroll 8
                for (int i = 0; i < R; i++) {
                    __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 8
                    for (int k = 0; k < SLICES; k++)
                        acc = _mm256_add_epi16(
                            acc, _mm256_maddubs_epi16(
                                     sl[i][k],
                                     _mm256_load_si256((const __m256i *)(x + (size_t)k * BN_Q8_RUN *
                                                                                 BN_Q8_SLICE))));
                    const __m256i isum = _mm256_add_epi32(_mm256_madd_epi16(acc, ones), neg_sums);
                    f[i][t][h] = _mm256_add_ps(f[i][t][h], _mm256_mul_ps(_mm256_mul_ps(dw[i], d),
                                                                         _mm256_cvtepi32_ps(isum)));
                }
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int t = 0; t < T; t++)
            y[(size_t)t * ldy + r0 + i] = bn_x86_fold8(_mm256_add_ps(f[i][t][0], f[i][t][1]));
}

#define AVX2_TOKENS 4
AVX2_FN ALWAYS_INLINE void tile_avx2_any(const qk256_matrix *w, int binary, const bn_q8act *a,
                                         int T, int runs, int full, int groups, float *y, int ldy,
                                         int r0, int R)
{
#define AVX2_CASE(RR, TT)                                                                          \
    case (RR)*16 + (TT): tile_avx2(w, binary, a, TT, runs, full, groups, y, ldy, r0, RR); return;
    switch (R * 16 + T) {
        AVX2_CASE(2, 1)
        AVX2_CASE(2, 2)
        AVX2_CASE(2, 3)
        AVX2_CASE(2, 4)
        AVX2_CASE(1, 1)
        AVX2_CASE(1, 2)
        AVX2_CASE(1, 3)
        AVX2_CASE(1, 4)
    default: break;
    }
#undef AVX2_CASE
}

AVX2_FN ALWAYS_INLINE void grouped_matmat_avx2(const qk256_matrix *w, int binary, const bn_q8act *a,
                                               int n_tok, float *y, int ldy, int r0,
                                               int r1){GROUPED_MATMAT(tile_avx2_any, AVX2_TOKENS)}

AVX2_FN void bn_x86_q2_matmat_avx2(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y,
                                   int ldy, int r0, int r1)
{
    grouped_matmat_avx2(w, 0, a, n_tok, y, ldy, r0, r1);
}

AVX2_FN void bn_x86_b1_matmat_avx2(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y,
                                   int ldy, int r0, int r1)
{
    grouped_matmat_avx2(w, 1, a, n_tok, y, ldy, r0, r1);
}

/* ============================================================== AVX-512 */

/* A run of a Q2_0 row as 8 slices: group j of the run is group j % 8 =
 * 2k + h of block j / 8, whose codes are bytes 32h.. at bits 2k: lane j of
 * slice i is dword 8h + i of that block, shifted by 2k. */
VNNI_FN ALWAYS_INLINE void q2_slices_vnni(const uint8_t *codes, const uint16_t *scales, __m512i *sl,
                                          __m512 *dw)
{
    const __m512i c0 = _mm512_loadu_si512((const void *)codes);
    const __m512i c1 = _mm512_loadu_si512((const void *)(codes + QK256_BLOCK_BYTES));
    const __m512i base = _mm512_setr_epi32(0, 8, 0, 8, 0, 8, 0, 8, 16, 24, 16, 24, 16, 24, 16, 24);
    const __m512i shift = _mm512_setr_epi32(0, 0, 2, 2, 4, 4, 6, 6, 0, 0, 2, 2, 4, 4, 6, 6);
#pragma GCC unroll 8
    for (int i = 0; i < SLICES; i++) {
        const __m512i d = _mm512_permutex2var_epi32(
            c0, _mm512_add_epi32(base, _mm512_set1_epi32(i)), c1);
        sl[i] = _mm512_and_si512(_mm512_srlv_epi32(d, shift), _mm512_set1_epi8(3));
    }
    const __m128i h = _mm_loadu_si128((const __m128i *)scales); /* quarter j / 2 for group j */
    *dw = _mm512_cvtph_ps(_mm256_set_m128i(_mm_unpackhi_epi16(h, h), _mm_unpacklo_epi16(h, h)));
}

/* A run of a Q1_0 row as 8 slices of codes 0 / 2: lane j of slice i byte
 * k is bit 4i + k of group j's 32 bits (dword j of the run). */
VNNI_FN ALWAYS_INLINE void b1_slices_vnni(const uint8_t *bits, const uint16_t *scales, __m512i *sl,
                                          __m512 *dw)
{
    const __m512i b = _mm512_loadu_si512((const void *)bits);
    const __m512i dword = _mm512_set4_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0);
#pragma GCC unroll 8
    for (int i = 0; i < SLICES; i++) {
        const __m512i spread = _mm512_add_epi32(dword, _mm512_set1_epi32(B1_SPREAD(i)));
        const __mmask64 set = _mm512_test_epi8_mask(_mm512_shuffle_epi8(b, spread),
                                                    _mm512_set1_epi32((int)B1_BITS(i)));
        sl[i] = _mm512_maskz_mov_epi8(set, _mm512_set1_epi8(2));
    }
    *dw = _mm512_cvtph_ps(b1_run_scales(scales));
}

/* Rows r..r+R-1 times tokens a[0..T): each run decoded once per row, its
 * slices multiplied with every token's (vpdpbusd into the group lanes). */
VNNI_FN ALWAYS_INLINE void tile_vnni(const qk256_matrix *w, int binary, const bn_q8act *a, int T,
                                     int runs, int full, int groups, float *y, int ldy, int r0,
                                     int R)
{
    __m512 f[TILE_ROWS][MAX_TILE_TOKENS];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) f[i][t] = _mm512_setzero_ps();
    act_tail tails[MAX_TILE_TOKENS];
    for (int s = 0; s < runs; s++) {
        __m512i sl[TILE_ROWS][SLICES], acc[TILE_ROWS][MAX_TILE_TOKENS];
        __m512 dw[TILE_ROWS];
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            run_copy copy;
            const row_run rr = s < full ? row_run_at(w, binary, r0 + i, s)
                                        : row_tail(w, binary, r0 + i, s, groups, &copy);
            if (binary)
                b1_slices_vnni(rr.w, rr.scales, sl[i], &dw[i]);
            else
                q2_slices_vnni(rr.w, rr.scales, sl[i], &dw[i]);
            bn_x86_prefetch_ahead(rr.w);
        }
        act_run ar[MAX_TILE_TOKENS];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            ar[t] = act_run_at(&a[t], s, full, &tails[t]);
            const __m512i neg_sums = _mm512_madd_epi16(_mm512_loadu_si512((const void *)ar[t].sums),
                                                       _mm512_set1_epi16(-1));
#pragma GCC unroll 8
            for (int i = 0; i < R; i++) acc[i][t] = neg_sums;
        }
#pragma GCC unroll 8
        for (int k = 0; k < SLICES; k++)
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const __m512i x = _mm512_load_si512((const void *)(ar[t].qi + (size_t)k * 64));
#pragma GCC unroll 8
                for (int i = 0; i < R; i++) acc[i][t] = _mm512_dpbusd_epi32(acc[i][t], sl[i][k], x);
            }
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const __m512 d = _mm512_loadu_ps(ar[t].d);
#pragma GCC unroll 8
            for (int i = 0; i < R; i++)
                f[i][t] = _mm512_add_ps(
                    f[i][t], _mm512_mul_ps(_mm512_mul_ps(dw[i], d), _mm512_cvtepi32_ps(acc[i][t])));
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const __m256 lo = _mm512_castps512_ps256(f[i][t]);
            const __m256 hi = _mm256_castpd_ps(
                _mm512_extractf64x4_pd(_mm512_castps_pd(f[i][t]), 1));
            y[(size_t)t * ldy + r0 + i] = bn_x86_fold8(_mm256_add_ps(lo, hi));
        }
}

#define VNNI_TOKENS 6
/* Each tile shape compiled apart (compile-time R and T). */
VNNI_FN ALWAYS_INLINE void tile_vnni_any(const qk256_matrix *w, int binary, const bn_q8act *a,
                                         int T, int runs, int full, int groups, float *y, int ldy,
                                         int r0, int R)
{
#define VNNI_CASE(RR, TT)                                                                          \
    case (RR)*16 + (TT): tile_vnni(w, binary, a, TT, runs, full, groups, y, ldy, r0, RR); return;
    switch (R * 16 + T) {
        VNNI_CASE(2, 1)
        VNNI_CASE(2, 2)
        VNNI_CASE(2, 3)
        VNNI_CASE(2, 4)
        VNNI_CASE(2, 5)
        VNNI_CASE(2, 6)
        VNNI_CASE(1, 1)
        VNNI_CASE(1, 2)
        VNNI_CASE(1, 3)
        VNNI_CASE(1, 4)
        VNNI_CASE(1, 5)
        VNNI_CASE(1, 6)
    default: break;
    }
#undef VNNI_CASE
}

VNNI_FN ALWAYS_INLINE void grouped_matmat_vnni(const qk256_matrix *w, int binary, const bn_q8act *a,
                                               int n_tok, float *y, int ldy, int r0,
                                               int r1){GROUPED_MATMAT(tile_vnni_any, VNNI_TOKENS)}

VNNI_FN void bn_x86_q2_matmat_vnni(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y,
                                   int ldy, int r0, int r1)
{
    grouped_matmat_vnni(w, 0, a, n_tok, y, ldy, r0, r1);
}

VNNI_FN void bn_x86_b1_matmat_vnni(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y,
                                   int ldy, int r0, int r1)
{
    grouped_matmat_vnni(w, 1, a, n_tok, y, ldy, r0, r1);
}

#endif
