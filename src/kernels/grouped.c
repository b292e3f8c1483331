/*
 * grouped.c - the group-scaled matrices of grouped.h: allocation, the
 * decoders of Q2_0 and Q1_0 blocks, and the scalar products that define
 * the results of every table.
 */
#include "grouped.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "f16.h"
#include "quants.h"
#include "runtime/platform.h"

#define F16_BYTES 2
#define CODES_PER_BYTE 4
#define CODE_MASK 3
#define ALL_ZERO_BYTE 0x55 /* code 1 (weight 0) in all four quarters */
#define F16_ZERO 0

static uint16_t load_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* n bytes from arena when it has room, else from the heap (*in_arena says which). */
static void *arena_or_heap(bn_arena *arena, size_t n, int *in_arena)
{
    void *p = bn_arena_alloc(arena, n, QK256_BLOCK_BYTES);
    *in_arena = p != NULL;
    return p ? p
             : bn_aligned_alloc(QK256_BLOCK_BYTES, n ? (n + QK256_BLOCK_BYTES - 1) /
                                                           QK256_BLOCK_BYTES * QK256_BLOCK_BYTES
                                                     : QK256_BLOCK_BYTES);
}

int bn_grouped_alloc_q2(qk256_matrix *m, int rows, int cols, bn_arena *arena)
{
    if (qk256_alloc_unset(m, rows, cols, 0, arena)) return -1;
    const size_t n = (size_t)rows * (size_t)m->blocks_per_row * QK256_QUARTERS;
    m->group_scales = calloc(n ? n : 1, sizeof *m->group_scales);
    if (!m->group_scales) {
        qk256_free(m);
        return -1;
    }
    return 0;
}

int bn_grouped_alloc_b1(qk256_matrix *m, int rows, int cols, bn_arena *arena)
{
    memset(m, 0, sizeof *m);
    m->rows = rows;
    m->cols = cols;
    m->blocks_per_row = cols / BN_Q1_0_BLOCK; /* binary blocks, not QK256 ones */
    m->scale = 1.0f;
    m->bits = arena_or_heap(arena, bn_bits_bytes(rows, cols), &m->bits_in_arena);
    m->group_scales = calloc((size_t)rows * (size_t)m->blocks_per_row + 1, sizeof *m->group_scales);
    if (!m->bits || !m->group_scales) {
        qk256_free(m);
        return -1;
    }
    return 0;
}

/* One Q2_0 block's 64 codes into quarter k of a QK256 block (its bytes
 * already hold the other quarters or zero). */
static void q2_0_to_quarter(const uint8_t *qs, uint8_t *block, int k)
{
    for (int j = 0; j < BN_Q2_0_BLOCK; j++) {
        const unsigned code = (qs[j / CODES_PER_BYTE] >> (2 * (j % CODES_PER_BYTE))) & CODE_MASK;
        block[j] = (uint8_t)(block[j] | code << (2 * k));
    }
}

long bn_grouped_from_q2_0_rows(qk256_matrix *m, const uint8_t *src, int r0, int r1)
{
    const int per_row = m->cols / BN_Q2_0_BLOCK;
    long bad = 0;
    for (int r = r0; r < r1; r++) {
        uint8_t *codes = m->codes + (size_t)r * m->blocks_per_row * QK256_BLOCK_BYTES;
        uint16_t *scales = m->group_scales + (size_t)r * m->blocks_per_row * QK256_QUARTERS;
        memset(codes, 0, (size_t)m->blocks_per_row * QK256_BLOCK_BYTES);
        int i = 0;
        for (; i < per_row; i++) {
            const uint8_t *blk = src + ((size_t)r * per_row + i) * BN_GROUPED_BLOCK_BYTES;
            scales[i] = load_u16(blk);
            bad += !isfinite(bn_f16_to_f32(scales[i]));
            q2_0_to_quarter(blk + F16_BYTES,
                            codes + (size_t)(i / QK256_QUARTERS) * QK256_BLOCK_BYTES,
                            i % QK256_QUARTERS);
        }
        for (; i < m->blocks_per_row * QK256_QUARTERS; i++) { /* padding: weight 0, scale 0 */
            uint8_t *block = codes + (size_t)(i / QK256_QUARTERS) * QK256_BLOCK_BYTES;
            for (int j = 0; j < QK256_BLOCK_BYTES; j++)
                block[j] = (uint8_t)(block[j] | (QK256_CODE_ZERO << (2 * (i % QK256_QUARTERS))));
            scales[i] = F16_ZERO;
        }
    }
    return bad;
}

long bn_grouped_from_q1_0_rows(qk256_matrix *m, const uint8_t *src, int r0, int r1)
{
    const int per_row = m->blocks_per_row;
    const size_t block_bits = BN_Q1_0_BLOCK / 8;
    long bad = 0;
    for (int r = r0; r < r1; r++)
        for (int i = 0; i < per_row; i++) {
            const size_t b = (size_t)r * per_row + i;
            const uint8_t *blk = src + b * BN_GROUPED_BLOCK_BYTES;
            m->group_scales[b] = load_u16(blk);
            bad += !isfinite(bn_f16_to_f32(m->group_scales[b]));
            memcpy(m->bits + b * block_bits, blk + F16_BYTES, block_bits);
        }
    return bad;
}

int bn_grouped_level(const qk256_matrix *m, int r, int c)
{
    if (m->bits) {
        const uint8_t byte = m->bits[(size_t)r * bn_bits_row_bytes(m->cols) + (size_t)c / 8];
        return byte >> (c % 8) & 1 ? 1 : -1;
    }
    return qk256_get(m, r, c); /* code 3 reads as +2 */
}

float bn_grouped_scale(const qk256_matrix *m, int r, int c)
{
    const int block = m->bits ? BN_Q1_0_BLOCK : BN_Q2_0_BLOCK;
    const size_t per_row = m->bits ? (size_t)m->blocks_per_row
                                   : (size_t)m->blocks_per_row * QK256_QUARTERS;
    return bn_f16_to_f32(m->group_scales[(size_t)r * per_row + (size_t)c / block]);
}

/* Group g's share of a row (grouped.h): (dw * d_g) * isum into lane g % 16. */
static void add_group(float *lane, int g, float dw, const bn_q8act *a, int32_t isum)
{
    lane[g % BN_Q8_LANES] += dw * a->d[g] * (float)isum;
}

void bn_q2_matvec_ref(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1)
{
    const int groups = a->n / BN_Q8_GROUP;
    const int per_quarter = BN_Q2_0_BLOCK / BN_Q8_GROUP;
    for (int r = r0; r < r1; r++) {
        const uint8_t *codes = w->codes + (size_t)r * w->blocks_per_row * QK256_BLOCK_BYTES;
        const uint16_t *scales = w->group_scales + (size_t)r * w->blocks_per_row * QK256_QUARTERS;
        float lane[BN_Q8_LANES] = {0};
        for (int g = 0; g < groups; g++) {
            const int quarter = g / per_quarter; /* over the row */
            const uint8_t *block = codes + (size_t)(quarter / QK256_QUARTERS) * QK256_BLOCK_BYTES;
            const int shift = 2 * (quarter % QK256_QUARTERS),
                      first = (g % per_quarter) * BN_Q8_GROUP;
            int32_t isum = 0;
            for (int i = 0; i < BN_Q8_GROUP; i++) {
                const int level = (int)((block[first + i] >> shift) & CODE_MASK) - QK256_CODE_ZERO;
                isum += level * a->q[(size_t)g * BN_Q8_GROUP + i];
            }
            add_group(lane, g, bn_f16_to_f32(scales[quarter]), a, isum);
        }
        y[r] = bn_q8_fold_lanes(lane);
    }
}

void bn_q2_matmat_ref(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                      int r0, int r1)
{
    for (int t = 0; t < n_tok; t++) bn_q2_matvec_ref(w, &a[t], y + (size_t)t * ldy, r0, r1);
}

void bn_b1_matvec_ref(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1)
{
    const int groups = a->n / BN_Q8_GROUP;
    const int per_block = BN_Q1_0_BLOCK / BN_Q8_GROUP;
    for (int r = r0; r < r1; r++) {
        const uint8_t *bits = w->bits + (size_t)r * bn_bits_row_bytes(w->cols);
        const uint16_t *scales = w->group_scales + (size_t)r * w->blocks_per_row;
        float lane[BN_Q8_LANES] = {0};
        for (int g = 0; g < groups; g++) {
            int32_t isum = 0;
            for (int i = 0; i < BN_Q8_GROUP; i++) {
                const int c = g * BN_Q8_GROUP + i;
                isum += (bits[c / 8] >> (c % 8) & 1 ? 1 : -1) * a->q[c];
            }
            add_group(lane, g, bn_f16_to_f32(scales[g / per_block]), a, isum);
        }
        y[r] = bn_q8_fold_lanes(lane);
    }
}

void bn_b1_matmat_ref(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                      int r0, int r1)
{
    for (int t = 0; t < n_tok; t++) bn_b1_matvec_ref(w, &a[t], y + (size_t)t * ldy, r0, r1);
}
