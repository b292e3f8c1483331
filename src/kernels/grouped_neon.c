/*
 * grouped_neon.c - the aarch64 products of the group-scaled Q2_0 and Q1_0
 * matrices (grouped.h) on Q8 activations, which both NEON tables take:
 * each group's exact integer sum from widening multiplies (smull, sadalp),
 * then its float step into lane g % 16 one group at a time, as grouped.c
 * does it, so the results are bitwise the scalar ones. Empty on other
 * architectures.
 */
#include "grouped.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#include "f16.h"

#define GROUPS_PER_QUARTER (BN_Q2_0_BLOCK / BN_Q8_GROUP) /* 2 */
#define GROUPS_PER_B1 (BN_Q1_0_BLOCK / BN_Q8_GROUP)      /* 4 */
#define HALF 16                                          /* bytes per NEON vector */

/* sum(w * q) over 32 int8 pairs (w in two vectors, q at q). */
static inline int32_t dot32(int8x16_t w0, int8x16_t w1, const int8_t *q)
{
    const int8x16_t q0 = vld1q_s8(q), q1 = vld1q_s8(q + HALF);
    int32x4_t acc = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(q0)));
    acc = vpadalq_s16(acc, vmull_high_s8(w0, q0));
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w1), vget_low_s8(q1)));
    acc = vpadalq_s16(acc, vmull_high_s8(w1, q1));
    return vaddvq_s32(acc);
}

/* Group g's share of a row (grouped.h). */
static inline void add_group(float *lane, int g, float dw, const bn_q8act *a, int32_t isum)
{
    lane[g % BN_Q8_LANES] += dw * a->d[g] * (float)isum;
}

static float fold(float *lane)
{
    for (int width = BN_Q8_LANES / 2; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) lane[l] += lane[l + width];
    return lane[0];
}

/* Q2_0: group 2k + h of a QK256 block is quarter k's half h, the codes of
 * bytes [32h, 32h + 32) at bits 2k+1:2k; level = code - 1. */
void bn_neon_q2_matvec(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1)
{
    const int groups = a->n / BN_Q8_GROUP;
    const uint8x16_t three = vdupq_n_u8(3);
    const int8x16_t one = vdupq_n_s8(QK256_CODE_ZERO);
    for (int r = r0; r < r1; r++) {
        const uint8_t *codes = w->codes + (size_t)r * w->blocks_per_row * QK256_BLOCK_BYTES;
        const uint16_t *scales = w->group_scales + (size_t)r * w->blocks_per_row * QK256_QUARTERS;
        float lane[BN_Q8_LANES] = {0};
        for (int g = 0; g < groups; g++) {
            const int quarter = g / GROUPS_PER_QUARTER, k = quarter % QK256_QUARTERS;
            const uint8_t *c = codes + (size_t)(quarter / QK256_QUARTERS) * QK256_BLOCK_BYTES +
                               (size_t)(g % GROUPS_PER_QUARTER) * BN_Q8_GROUP;
            const int8x16_t shift = vdupq_n_s8((int8_t)(-2 * k));
            const int8x16_t l0 = vsubq_s8(
                vreinterpretq_s8_u8(vandq_u8(vshlq_u8(vld1q_u8(c), shift), three)), one);
            const int8x16_t l1 = vsubq_s8(
                vreinterpretq_s8_u8(vandq_u8(vshlq_u8(vld1q_u8(c + HALF), shift), three)), one);
            add_group(lane, g, bn_f16_to_f32(scales[quarter]), a,
                      dot32(l0, l1, a->q + (size_t)g * BN_Q8_GROUP));
        }
        y[r] = fold(lane);
    }
}

/* 16 bits (2 bytes, bit j % 8 of byte j / 8) as 16 levels, +1 where set,
 * -1 where not. */
static inline int8x16_t bits_to_levels(const uint8_t *p)
{
    static const uint8_t spread[HALF] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    static const uint8_t bit[HALF] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t b = vqtbl1q_u8(vreinterpretq_u8_u16(vdupq_n_u16((uint16_t)(p[0] | p[1] << 8))),
                                    vld1q_u8(spread));
    const uint8x16_t set = vtstq_u8(b, vld1q_u8(bit)); /* 0xFF where set */
    return vreinterpretq_s8_u8(vorrq_u8(vshlq_n_u8(vmvnq_u8(set), 1), vdupq_n_u8(1)));
}

/* Q1_0: level +1 where the bit is set, -1 where not. */
void bn_neon_b1_matvec(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1)
{
    const int groups = a->n / BN_Q8_GROUP;
    for (int r = r0; r < r1; r++) {
        const uint8_t *bits = w->bits + (size_t)r * bn_bits_row_bytes(w->cols);
        const uint16_t *scales = w->group_scales + (size_t)r * w->blocks_per_row;
        float lane[BN_Q8_LANES] = {0};
        for (int g = 0; g < groups; g++) {
            const uint8_t *b = bits + (size_t)g * BN_Q8_GROUP / 8;
            add_group(
                lane, g, bn_f16_to_f32(scales[g / GROUPS_PER_B1]), a,
                dot32(bits_to_levels(b), bits_to_levels(b + 2), a->q + (size_t)g * BN_Q8_GROUP));
        }
        y[r] = fold(lane);
    }
}

void bn_neon_q2_matmat(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                       int r0, int r1)
{
    for (int t = 0; t < n_tok; t++) bn_neon_q2_matvec(w, &a[t], y + (size_t)t * ldy, r0, r1);
}

void bn_neon_b1_matmat(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                       int r0, int r1)
{
    for (int t = 0; t < n_tok; t++) bn_neon_b1_matvec(w, &a[t], y + (size_t)t * ldy, r0, r1);
}

#endif
