/*
 * panel_x86.c - the AVX-512 prompt-batch products over row panels
 * (panel_x86.h). The row tiles of avx512.c decode each row's 2-bit codes
 * for a few tokens and sum each row's lanes at the end; here a call's rows
 * are decoded once into a panel with the rows in the lanes: for each group
 * of four consecutive weights (a k-group), one vector holds 16 rows' four
 * code bytes (int32 lane i: row i). A token's four activation bytes of
 * that k-group, broadcast to every lane, then give 16 rows' partial sums in
 * one vpdpbusd (or vpmaddubsw), and each accumulator ends as 16 rows' sums
 * of one token: the epilogue works lane-wise and stores 16 floats.
 * Integer sums are exact in any order, so the results are bitwise those of
 * scalar.c.
 */
#include "panel_x86.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "runtime/platform.h"
#include "x86.h"

#define AVX512_FN __attribute__((target("avx2,f16c,avx512f,avx512bw")))
#define VNNI_FN __attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni")))

#define LANES 16     /* rows of a panel vector: one int32 lane each */
#define VEC_BYTES 64 /* a zmm register */
#define KGROUP 4     /* weights per lane and k-group: vpdpbusd's group */
#define KGROUPS_PER_BLOCK (QK256_BLOCK / KGROUP)
#define PANEL_ROWS BN_PANEL_ROWS
/* Tiles: G panel groups (16 rows each) x T tokens, G * T accumulators and
 * T activation pointers in registers; a leftover group goes alone. */
#define VNNI_GROUPS 2
#define VNNI_TOKENS 8
#define VNNI_TOKENS_ALONE 16
#define BW_GROUPS 2
#define BW_TOKENS 4 /* an int16 and an int32 accumulator each */
#define BW_TOKENS_ALONE 8
#define MAX_TILE 16 /* the most tokens of any tile */
/* Fewest tokens a call runs over panels (else the tables' row tiles):
 * decoding a panel costs about what a few tokens' products do, and the
 * row tiles of avx512-vnni and avx2 beat the panels at 16 tokens, those
 * of avx512-bw (AVX2 ones) do not (docs/PERFORMANCE.md). */
#define VNNI_FROM_TOKENS 64
#define BW_FROM_TOKENS 16
#define AVX2_FROM_TOKENS 64
#define MAX_GROUPS 2
/* k-groups whose vpmaddubsw pairs (each at most 2 x 2 x 128 = 512 in
 * magnitude) add up in int16 before widening: 32 x 512 = 16384, exact. */
#define BW_SPAN 32

/* Lanes [0, n) set, for n in [0, 16]. */
static inline __mmask16 first_lanes(int n) { return (__mmask16)((1u << n) - 1); }

/* Panel groups (group_bytes apart) against a tile of tokens, nt of them
 * real (the tile function repeats the last); the sums of group i, token t
 * at sums + (i * tile + t) * lanes. */
typedef struct {
    const uint8_t *group;
    size_t group_bytes;
    int kgroups;
    const bn_qact *a;
    int nt, n_rows; /* n_rows: of the groups together */
    float w_scale;
    float *y; /* row 0 of token 0; token t at t * ldy */
    size_t ldy;
} group_tile;

/* Transposes 16 vectors as a 16 x 16 matrix of int32: afterwards lane i
 * of v[j] is what lane j of v[i] was. Within 128-bit lanes first (4 x 4
 * blocks), then the 4 x 4 matrix of those lanes. */
ALWAYS_INLINE AVX512_FN void transpose16x16(__m512i v[LANES])
{
    __m512i t[LANES], u[LANES];
    for (int k = 0; k < LANES; k += 2) {
        t[k] = _mm512_unpacklo_epi32(v[k], v[k + 1]);
        t[k + 1] = _mm512_unpackhi_epi32(v[k], v[k + 1]);
    }
    /* u[4k + m], 128-bit lane L: dword 4L + m of rows 4k .. 4k + 3 */
    for (int k = 0; k < LANES; k += 4) {
        u[k] = _mm512_unpacklo_epi64(t[k], t[k + 2]);
        u[k + 1] = _mm512_unpackhi_epi64(t[k], t[k + 2]);
        u[k + 2] = _mm512_unpacklo_epi64(t[k + 1], t[k + 3]);
        u[k + 3] = _mm512_unpackhi_epi64(t[k + 1], t[k + 3]);
    }
    /* v[4L + m], 128-bit lane k = u[4k + m], lane L */
    for (int m = 0; m < 4; m++) {
        const __m512i x0 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0x44);
        const __m512i x1 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0xEE);
        const __m512i y0 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0x44);
        const __m512i y1 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0xEE);
        v[m] = _mm512_shuffle_i32x4(x0, y0, 0x88);
        v[4 + m] = _mm512_shuffle_i32x4(x0, y0, 0xDD);
        v[8 + m] = _mm512_shuffle_i32x4(x1, y1, 0x88);
        v[12 + m] = _mm512_shuffle_i32x4(x1, y1, 0xDD);
    }
}

/* Decodes n <= 16 rows (row_bytes apart) into a panel group: vector kg of
 * the group holds k-group kg of the 16 rows, rows past n as code 0 (their
 * lanes are never stored). Byte 4j + m of a block holds weights 4j + m,
 * 64 + 4j + m, 128 + ... (qk256.h), so after the transpose dword i of
 * vector j is row i's k-groups j, 16 + j, 32 + j and 48 + j, two bits a
 * weight apart. */
AVX512_FN static void pack_group(const uint8_t *codes, size_t row_bytes, int n, int nb,
                                 uint8_t *group)
{
    const __m512i three = _mm512_set1_epi8(3);
    for (int b = 0; b < nb; b++) {
        __m512i v[LANES];
        for (int i = 0; i < LANES; i++)
            v[i] = i < n ? _mm512_load_si512((const void *)(codes + i * row_bytes +
                                                            (size_t)b * QK256_BLOCK_BYTES))
                         : _mm512_setzero_si512();
        transpose16x16(v);
        uint8_t *out = group + (size_t)b * KGROUPS_PER_BLOCK * VEC_BYTES;
        for (int j = 0; j < LANES; j++)
            for (int q = 0; q < 4; q++)
                _mm512_store_si512((void *)(out + (size_t)(LANES * q + j) * VEC_BYTES),
                                   _mm512_and_si512(_mm512_srli_epi32(v[j], 2 * q), three));
    }
}

/* bn_ternary_epilogue for 16 rows of one token, lane by lane (the same
 * IEEE operations in the same order, so bitwise the same): y[0, n). */
ALWAYS_INLINE AVX512_FN void store_rows(__m512i sums, const bn_qact *at, float w_scale, float *y,
                                        int n)
{
    const __m512 d = _mm512_sub_ps(_mm512_cvtepi32_ps(sums), _mm512_set1_ps((float)at->sum));
    const __m512 v = _mm512_mul_ps(_mm512_div_ps(d, _mm512_set1_ps(at->scale)),
                                   _mm512_set1_ps(w_scale));
    _mm512_mask_storeu_ps(y, first_lanes(n), v);
}

/* The tile's sums through the epilogue, real rows and tokens only. */
AVX512_FN static void store_tile(const int32_t *sums, int tile, const group_tile *g)
{
    for (int i = 0; i * LANES < g->n_rows; i++) {
        const int n = g->n_rows - i * LANES < LANES ? g->n_rows - i * LANES : LANES;
        for (int t = 0; t < g->nt; t++)
            store_rows(_mm512_loadu_si512((const void *)(sums + (size_t)(i * tile + t) * LANES)),
                       &g->a[t], g->w_scale, g->y + (size_t)t * g->ldy + i * LANES, n);
    }
}

/* The int32 at p (four activation bytes). */
static inline int32_t load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The tile's pointers to each token's int8 activations. */
static void tile_pointers(const group_tile *g, int tile, const int8_t **q)
{
    for (int t = 0; t < tile; t++) q[t] = g->a[t < g->nt ? t : g->nt - 1].q;
}

/* vpdpbusd over G groups x T tokens (compile-time counts once inlined). */
ALWAYS_INLINE VNNI_FN void tile_vnni(const group_tile *g, int G, int T, int32_t *sums)
{
    const int8_t *q[MAX_TILE];
    tile_pointers(g, T, q);
    __m512i acc[MAX_GROUPS * MAX_TILE];
#pragma GCC unroll 32
    for (int i = 0; i < G * T; i++) acc[i] = _mm512_setzero_si512();
    for (int k = 0; k < g->kgroups; k++) {
        __m512i w[MAX_GROUPS];
#pragma GCC unroll 4
        for (int i = 0; i < G; i++)
            w[i] = _mm512_load_si512(
                (const void *)(g->group + i * g->group_bytes + (size_t)k * VEC_BYTES));
#pragma GCC unroll 16
        for (int t = 0; t < T; t++) {
            const __m512i x = _mm512_set1_epi32(load4(q[t] + KGROUP * k));
#pragma GCC unroll 4
            for (int i = 0; i < G; i++)
                acc[i * T + t] = _mm512_dpbusd_epi32(acc[i * T + t], w[i], x);
        }
    }
#pragma GCC unroll 32
    for (int i = 0; i < G * T; i++) _mm512_storeu_si512((void *)(sums + i * LANES), acc[i]);
}

/* acc + the vpmaddubsw pairs of codes w and activations x, in int16, as
 * one asm statement: from intrinsics GCC adds into a fresh register and
 * copies it back to the accumulator at every step (avx2.c's
 * quarter_product has the same cure). */
ALWAYS_INLINE AVX512_FN __m512i maddubs_add(__m512i acc, __m512i w, __m512i x)
{
    __m512i p;
    __asm__("vpmaddubsw %[x], %[w], %[p]\n\t"
            "vpaddw %[p], %[acc], %[acc]"
            : [acc] "+v"(acc), [p] "=&v"(p)
            : [w] "v"(w), [x] "v"(x));
    return acc;
}

/* The body of a vpmaddubsw tile over G groups x T tokens, for vectors
 * VEC of LANES_ rows (intrinsics MM##name, loads and stores MM##load_##SI):
 * int16 sums over BW_SPAN k-groups, then vpmaddwd by ones into int32. */
#define MADDUBS_TILE_BODY(VEC, MM, SI, LANES_, MADDUBS_ADD)                                        \
    const int8_t *q[MAX_TILE];                                                                     \
    tile_pointers(g, T, q);                                                                        \
    const VEC ones = MM##set1_epi16(1);                                                            \
    VEC acc[MAX_GROUPS * MAX_TILE];                                                                \
    _Pragma("GCC unroll 32") for (int i = 0; i < G * T; i++) acc[i] = MM##setzero_##SI();          \
    for (int k0 = 0; k0 < g->kgroups; k0 += BW_SPAN) {                                             \
        VEC acc16[MAX_GROUPS * MAX_TILE];                                                          \
        _Pragma("GCC unroll 32") for (int i = 0; i < G * T; i++) acc16[i] = MM##setzero_##SI();    \
        for (int k = k0; k < k0 + BW_SPAN; k++) {                                                  \
            VEC w[MAX_GROUPS];                                                                     \
            _Pragma("GCC unroll 4") for (int i = 0; i < G; i++) w[i] = MM##load_##SI(              \
                (const void *)(g->group + i * g->group_bytes + (size_t)k * LANES_ * KGROUP));      \
            _Pragma("GCC unroll 16") for (int t = 0; t < T; t++)                                   \
            {                                                                                      \
                const VEC x = MM##set1_epi32(load4(q[t] + KGROUP * k));                            \
                _Pragma("GCC unroll 4") for (int i = 0; i < G; i++)                                \
                    acc16[i * T + t] = MADDUBS_ADD(acc16[i * T + t], w[i], x);                     \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 32") for (int i = 0; i < G * T; i++)                                   \
            acc[i] = MM##add_epi32(acc[i], MM##madd_epi16(acc16[i], ones));                        \
    }                                                                                              \
    _Pragma("GCC unroll 32") for (int i = 0; i < G * T; i++)                                       \
        MM##storeu_##SI((void *)(sums + i * LANES_), acc[i]);

ALWAYS_INLINE AVX512_FN void tile_bw(const group_tile *g, int G, int T, int32_t *sums)
{
    MADDUBS_TILE_BODY(__m512i, _mm512_, si512, LANES, maddubs_add)
}

/* The tile functions the driver calls: groups x tokens, and one group
 * alone for the last group of a panel with an odd count. */
typedef void (*tile_fn)(const group_tile *g, int32_t *sums);
typedef struct {
    int from_tokens; /* fewer: decoding the panel costs more than it saves */
    int lanes;       /* rows of a group */
    int groups, tokens, tokens_alone;
    tile_fn tile, alone;
    void (*pack)(const uint8_t *codes, size_t row_bytes, int n, int nb, uint8_t *group);
    void (*store)(const int32_t *sums, int tile, const group_tile *g);
} panel_tiles;

VNNI_FN static void vnni_pair(const group_tile *g, int32_t *s)
{
    tile_vnni(g, VNNI_GROUPS, VNNI_TOKENS, s);
}
VNNI_FN static void vnni_alone(const group_tile *g, int32_t *s)
{
    tile_vnni(g, 1, VNNI_TOKENS_ALONE, s);
}
AVX512_FN static void bw_pair(const group_tile *g, int32_t *s)
{
    tile_bw(g, BW_GROUPS, BW_TOKENS, s);
}
AVX512_FN static void bw_alone(const group_tile *g, int32_t *s)
{
    tile_bw(g, 1, BW_TOKENS_ALONE, s);
}
static const panel_tiles vnni_tiles = {VNNI_FROM_TOKENS,  LANES,     VNNI_GROUPS, VNNI_TOKENS,
                                       VNNI_TOKENS_ALONE, vnni_pair, vnni_alone,  pack_group,
                                       store_tile};
static const panel_tiles bw_tiles = {BW_FROM_TOKENS, LANES,           BW_GROUPS,
                                     BW_TOKENS,      BW_TOKENS_ALONE, bw_pair,
                                     bw_alone,       pack_group,      store_tile};
_Static_assert(KGROUPS_PER_BLOCK % BW_SPAN == 0, "a row's k-groups split into whole spans");

/* ------------------------------------------------ AVX2: 8 rows a vector */

#define LANES8 8
#define AVX2_GROUPS 2
#define AVX2_TOKENS 3 /* 2 x 3 int16 and int32 accumulators: 12 of 16 registers */
#define AVX2_TOKENS_ALONE 6

/* Transposes 8 vectors as an 8 x 8 matrix of int32 (as transpose16x16). */
ALWAYS_INLINE BN_X86_AVX2_FN void transpose8x8(__m256i v[LANES8])
{
    __m256i t[LANES8], u[LANES8];
    for (int k = 0; k < LANES8; k += 2) {
        t[k] = _mm256_unpacklo_epi32(v[k], v[k + 1]);
        t[k + 1] = _mm256_unpackhi_epi32(v[k], v[k + 1]);
    }
    for (int k = 0; k < LANES8; k += 4) {
        u[k] = _mm256_unpacklo_epi64(t[k], t[k + 2]);
        u[k + 1] = _mm256_unpackhi_epi64(t[k], t[k + 2]);
        u[k + 2] = _mm256_unpacklo_epi64(t[k + 1], t[k + 3]);
        u[k + 3] = _mm256_unpackhi_epi64(t[k + 1], t[k + 3]);
    }
    for (int m = 0; m < 4; m++) {
        v[m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x20);
        v[4 + m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x31);
    }
}

/* pack_group for 8 rows a vector: each 64-byte block as two halves of 8
 * dwords, transposed apart. */
BN_X86_AVX2_FN static void pack_group8(const uint8_t *codes, size_t row_bytes, int n, int nb,
                                       uint8_t *group)
{
    const __m256i three = _mm256_set1_epi8(3);
    const size_t vec = LANES8 * KGROUP;
    for (int b = 0; b < nb; b++)
        for (int h = 0; h < 2; h++) {
            __m256i v[LANES8];
            for (int i = 0; i < LANES8; i++)
                v[i] = i < n ? _mm256_load_si256((const __m256i *)(codes + i * row_bytes +
                                                                   (size_t)b * QK256_BLOCK_BYTES +
                                                                   h * sizeof(__m256i)))
                             : _mm256_setzero_si256();
            transpose8x8(v);
            uint8_t *out = group + (size_t)b * KGROUPS_PER_BLOCK * vec;
            for (int j = 0; j < LANES8; j++)
                for (int q = 0; q < 4; q++)
                    _mm256_store_si256(
                        (__m256i *)(out + (size_t)(LANES * q + LANES8 * h + j) * vec),
                        _mm256_and_si256(_mm256_srli_epi32(v[j], 2 * q), three));
        }
}

/* maddubs_add in 8-lane vectors. */
ALWAYS_INLINE BN_X86_AVX2_FN __m256i maddubs_add8(__m256i acc, __m256i w, __m256i x)
{
    __m256i p;
    __asm__("vpmaddubsw %[x], %[w], %[p]\n\t"
            "vpaddw %[p], %[acc], %[acc]"
            : [acc] "+x"(acc), [p] "=&x"(p)
            : [w] "x"(w), [x] "x"(x));
    return acc;
}

/* tile_bw in 8-lane vectors. */
ALWAYS_INLINE BN_X86_AVX2_FN void tile_avx2(const group_tile *g, int G, int T, int32_t *sums){
    MADDUBS_TILE_BODY(__m256i, _mm256_, si256, LANES8, maddubs_add8)}

/* store_tile for 8 rows a group (bn_ternary_epilogue lane by lane). */
BN_X86_AVX2_FN static void store_tile8(const int32_t *sums, int tile, const group_tile *g)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 ws = _mm256_set1_ps(g->w_scale);
    for (int i = 0; i * LANES8 < g->n_rows; i++) {
        const int n = g->n_rows - i * LANES8;
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
        for (int t = 0; t < g->nt; t++) {
            const __m256 s = _mm256_cvtepi32_ps(
                _mm256_loadu_si256((const __m256i *)(sums + (size_t)(i * tile + t) * LANES8)));
            const __m256 d = _mm256_sub_ps(s, _mm256_set1_ps((float)g->a[t].sum));
            const __m256 v = _mm256_mul_ps(_mm256_div_ps(d, _mm256_set1_ps(g->a[t].scale)), ws);
            _mm256_maskstore_ps(g->y + (size_t)t * g->ldy + i * LANES8, mask, v);
        }
    }
}

BN_X86_AVX2_FN static void avx2_pair(const group_tile *g, int32_t *s)
{
    tile_avx2(g, AVX2_GROUPS, AVX2_TOKENS, s);
}
BN_X86_AVX2_FN static void avx2_alone(const group_tile *g, int32_t *s)
{
    tile_avx2(g, 1, AVX2_TOKENS_ALONE, s);
}
static const panel_tiles avx2_tiles = {AVX2_FROM_TOKENS,  LANES8,    AVX2_GROUPS, AVX2_TOKENS,
                                       AVX2_TOKENS_ALONE, avx2_pair, avx2_alone,  pack_group8,
                                       store_tile8};

/* The tiles over n rows of a decoded panel: for each tile of tokens
 * every group of the panel, so that the tile's activations stay in cache
 * across the groups. */
static void panel_pass(const uint8_t *panel, size_t group_bytes, int kgroups, int n,
                       const bn_qact *a, int n_tok, float w_scale, float *y, int ldy,
                       const panel_tiles *pt)
{
    _Alignas(64) int32_t sums[MAX_GROUPS * MAX_TILE * LANES];
    const int lanes = pt->lanes, pair_rows = pt->groups * lanes;
    /* rows in whole tiles of groups (the last group of one may be short) */
    const int whole = (n + lanes - 1) / lanes / pt->groups * pair_rows;
    const int n_pairs = whole < n ? whole : n;
    for (int alone = 0; alone < 2; alone++) {
        const int tile = alone ? pt->tokens_alone : pt->tokens;
        const int i0 = alone ? n_pairs : 0, i1 = alone ? n : n_pairs;
        const int step = alone ? lanes : pair_rows; /* rows a tile covers */
        for (int t0 = 0; t0 < n_tok; t0 += tile)
            for (int i = i0; i < i1; i += step) {
                const group_tile g = {panel + (size_t)(i / lanes) * group_bytes,
                                      group_bytes,
                                      kgroups,
                                      a + t0,
                                      n_tok - t0 < tile ? n_tok - t0 : tile,
                                      i1 - i < step ? i1 - i : step,
                                      w_scale,
                                      y + (size_t)t0 * ldy + i,
                                      (size_t)ldy};
                (alone ? pt->alone : pt->tile)(&g, sums);
                pt->store(sums, tile, &g);
            }
    }
}

/* Rows [r0, r1) PANEL_ROWS at a time: decode the panel once, then run
 * every token over it. */
static int panel_matmat(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                        int r0, int r1, const panel_tiles *pt)
{
    if (w->block_scales || !w->codes || n_tok < pt->from_tokens) return -1;
    const int nb = w->blocks_per_row, kgroups = nb * KGROUPS_PER_BLOCK, lanes = pt->lanes;
    const size_t row_bytes = (size_t)nb * QK256_BLOCK_BYTES;
    const size_t group_bytes = (size_t)kgroups * KGROUP * lanes;
    const int rows = r1 - r0 < PANEL_ROWS ? r1 - r0 : PANEL_ROWS;
    uint8_t *panel = bn_aligned_alloc(VEC_BYTES, group_bytes * ((rows + lanes - 1) / lanes));
    if (!panel) return -1;
    for (int p0 = r0; p0 < r1; p0 += PANEL_ROWS) {
        const int n = r1 - p0 < PANEL_ROWS ? r1 - p0 : PANEL_ROWS;
        for (int i = 0; i < n; i += lanes)
            pt->pack(w->codes + (size_t)(p0 + i) * row_bytes, row_bytes,
                     n - i < lanes ? n - i : lanes, nb, panel + (size_t)(i / lanes) * group_bytes);
        panel_pass(panel, group_bytes, kgroups, n, a, n_tok, w->scale, y + p0, ldy, pt);
    }
    bn_aligned_free(panel);
    return 0;
}

int bn_x86_panel_matmat_vnni(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                             int r0, int r1)
{
    return panel_matmat(w, a, n_tok, y, ldy, r0, r1, &vnni_tiles);
}

int bn_x86_panel_matmat_bw(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                           int r0, int r1)
{
    return panel_matmat(w, a, n_tok, y, ldy, r0, r1, &bw_tiles);
}

int bn_x86_panel_matmat_avx2(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                             int r0, int r1)
{
    return panel_matmat(w, a, n_tok, y, ldy, r0, r1, &avx2_tiles);
}

#endif
