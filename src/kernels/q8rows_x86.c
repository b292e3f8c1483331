/*
 * q8rows_x86.c - the int8-row copy's product (q8rows.h) for the x86
 * tables: AVX2 (a group of 32 values per 256-bit step), AVX-512 BW and
 * AVX-512 VNNI (a chunk of 64 per step). Every level product is |w| times
 * q with w's sign, an unsigned-by-signed byte product whose sums of 4 are
 * the definition's exact int32 lanes; the float work follows q8rows.c's
 * order, so the results are bitwise the same.
 */
#if defined(__x86_64__)
#include "q8rows.h"
#include "x86.h"

#define AVX512_BW_FN __attribute__((target("avx2,f16c,avx512f,avx512bw,avx512dq")))
#define AVX512_VNNI_FN __attribute__((target("avx2,f16c,avx512f,avx512bw,avx512dq,avx512vnni")))
#define MAX_GROUPS (BN_Q8ROWS_MAX_COLS / BN_Q8ROWS_GROUP)

/* The row's group scales s_g = dw_g * d_g (one float multiply each). */
BN_X86_AVX2_FN static void row_scales(const uint16_t *d, const float *ad, int groups, float *s)
{
    int g = 0;
    for (; g + 8 <= groups; g += 8)
        _mm256_storeu_ps(s + g,
                         _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(d + g))),
                                       _mm256_loadu_ps(ad + g)));
    for (; g < groups; g++) s[g] = bn_f16_to_f32(d[g]) * ad[g];
}

/* The 8 exact int32 sums of 4 products of one group (32 values). */
BN_X86_AVX2_FN static inline __m256i group_sums_avx2(const int8_t *w, const int8_t *q)
{
    const __m256i wv = _mm256_loadu_si256((const __m256i *)w);
    const __m256i qv = _mm256_loadu_si256((const __m256i *)q);
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(qv, wv));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

BN_X86_AVX2_FN void bn_x86_q8rows_matvec_avx2(const bn_q8rows *w, const bn_q8act *a, float *y,
                                              int r0, int r1)
{
    const int groups = w->cols / BN_Q8ROWS_GROUP;
    float s[MAX_GROUPS];
    for (int r = r0; r < r1; r++) {
        const int8_t *q = w->q + (size_t)r * w->cols;
        row_scales(w->d + (size_t)r * groups, a->d, groups, s);
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps(); /* lanes 0-7, 8-15 */
        for (int g = 0; g < groups; g += 2) {
            bn_x86_prefetch_l2((const uint8_t *)q + (size_t)g * BN_Q8ROWS_GROUP, BN_Q8ROWS_CHUNK);
            const __m256i p0 = group_sums_avx2(q + (size_t)g * BN_Q8ROWS_GROUP,
                                               a->q + (size_t)g * BN_Q8ROWS_GROUP);
            const __m256i p1 = group_sums_avx2(q + (size_t)(g + 1) * BN_Q8ROWS_GROUP,
                                               a->q + (size_t)(g + 1) * BN_Q8ROWS_GROUP);
            /* NOLINTBEGIN(clang-analyzer-core.CallAndMessage): row_scales filled s */
            lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(s[g])));
            hi = _mm256_add_ps(hi, _mm256_mul_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(s[g + 1])));
            /* NOLINTEND(clang-analyzer-core.CallAndMessage) */
        }
        y[r] = bn_x86_fold8(_mm256_add_ps(lo, hi));
    }
}

/* |w| and q with w's sign, for the unsigned-by-signed byte products. */
AVX512_BW_FN static inline void signed_operands(const int8_t *w, const int8_t *q, __m512i *abs_w,
                                                __m512i *signed_q)
{
    const __m512i wv = _mm512_loadu_si512(w), qv = _mm512_loadu_si512(q);
    *abs_w = _mm512_abs_epi8(wv);
    *signed_q = _mm512_mask_sub_epi8(qv, _mm512_movepi8_mask(wv), _mm512_setzero_si512(), qv);
}

#define SCALES_PER_LOAD 16 /* group scales made at once: those of 8 chunks */

/* s_g = dw_g * d_g for the 16 groups from g on (fewer at a row's end:
 * the lanes past it are 0), made in registers as the row goes. */
AVX512_BW_FN static inline __m512 group_scales16(const uint16_t *dw, const float *ad, int left)
{
    const __mmask16 m = (__mmask16)(left >= SCALES_PER_LOAD ? 0xFFFF : (1u << left) - 1);
    const __m512i h = _mm512_maskz_loadu_epi16((__mmask32)m, dw); /* 16 fp16 in the low half */
    const __m512 w = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    return _mm512_mul_ps(w, _mm512_maskz_loadu_ps(m, ad));
}

AVX512_BW_FN static inline float fold16(__m512 acc)
{
    return bn_x86_fold8(_mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1)));
}

/* One kernel body for both AVX-512 tables: SUMS(abs_w, signed_q) gives
 * the chunk's 16 exact int32 sums of 4. Chunk k of a load of scales
 * takes s_2k in lanes 0-7 and s_2k+1 in lanes 8-15 (one permute). */
#define Q8ROWS_MATVEC_512(SUMS)                                                                    \
    const int groups = w->cols / BN_Q8ROWS_GROUP;                                                  \
    const __m512i first = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);       \
    const __m512i next = _mm512_set1_epi32(BN_Q8ROWS_CHUNK / BN_Q8ROWS_GROUP);                     \
    for (int r = r0; r < r1; r++) {                                                                \
        const int8_t *q = w->q + (size_t)r * w->cols;                                              \
        const uint16_t *dw = w->d + (size_t)r * groups;                                            \
        __m512 acc = _mm512_setzero_ps(), sv = acc;                                                \
        __m512i pick = first;                                                                      \
        for (int c = 0; c < w->cols; c += BN_Q8ROWS_CHUNK) {                                       \
            const int g = c / BN_Q8ROWS_GROUP;                                                     \
            if (g % SCALES_PER_LOAD == 0) {                                                        \
                sv = group_scales16(dw + g, a->d + g, groups - g);                                 \
                pick = first;                                                                      \
            }                                                                                      \
            bn_x86_prefetch_l2((const uint8_t *)q + c, BN_Q8ROWS_CHUNK);                           \
            __m512i aw, sq;                                                                        \
            signed_operands(q + c, a->q + c, &aw, &sq);                                            \
            const __m512 p = _mm512_cvtepi32_ps(SUMS(aw, sq));                                     \
            acc = _mm512_add_ps(acc, _mm512_mul_ps(p, _mm512_permutexvar_ps(pick, sv)));           \
            pick = _mm512_add_epi32(pick, next);                                                   \
        }                                                                                          \
        y[r] = fold16(acc);                                                                        \
    }

#define SUMS_BW(aw, sq) _mm512_madd_epi16(_mm512_maddubs_epi16(aw, sq), _mm512_set1_epi16(1))
#define SUMS_VNNI(aw, sq) _mm512_dpbusd_epi32(_mm512_setzero_si512(), aw, sq)

AVX512_BW_FN void bn_x86_q8rows_matvec_avx512bw(const bn_q8rows *w, const bn_q8act *a, float *y,
                                                int r0, int r1){Q8ROWS_MATVEC_512(SUMS_BW)}

AVX512_VNNI_FN
    void bn_x86_q8rows_matvec_vnni(const bn_q8rows *w, const bn_q8act *a, float *y, int r0, int r1)
{
    Q8ROWS_MATVEC_512(SUMS_VNNI)
}
#endif
