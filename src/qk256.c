/*
 * qk256.c - allocation, element access and the I2_S -> QK256 repacking
 * of ternary weight matrices (layout in qk256.h, I2_S in spec 3.2).
 */
#include "qk256.h"

#include <stdlib.h>
#include <string.h>

#define I2S_BLOCK 128      /* weights per I2_S block (QK_I2_S on x86, spec 3.2) */
#define I2S_BLOCK_BYTES 32 /* bytes per I2_S block */

int qk256_alloc(qk256_matrix *m, int rows, int cols, int with_block_scales)
{
    memset(m, 0, sizeof *m);
    m->rows = rows;
    m->cols = cols;
    m->blocks_per_row = qk256_blocks(cols);
    size_t n_blocks = (size_t)rows * (size_t)m->blocks_per_row;
    size_t bytes = n_blocks * QK256_BLOCK_BYTES;
    m->codes = aligned_alloc(QK256_BLOCK_BYTES, bytes ? bytes : QK256_BLOCK_BYTES);
    if (!m->codes) return -1;
    /* 0x55 = code 1 in all four fields: every weight (and the padding) is 0 */
    memset(m->codes, 0x55, bytes);
    m->scale = 1.0f;
    if (with_block_scales) {
        m->block_scales = calloc(n_blocks ? n_blocks : 1, sizeof(float));
        if (!m->block_scales) {
            qk256_free(m);
            return -1;
        }
    }
    return 0;
}

void qk256_free(qk256_matrix *m)
{
    free(m->codes);
    free(m->block_scales);
    m->codes = NULL;
    m->block_scales = NULL;
}

/* Byte and shift of weight c within row r. */
static uint8_t *code_byte(const qk256_matrix *m, int r, int c, int *shift)
{
    int b = c / QK256_BLOCK, j = c % QK256_BLOCK;
    *shift = 2 * (j / 64);
    return m->codes + ((size_t)r * m->blocks_per_row + b) * QK256_BLOCK_BYTES + j % 64;
}

int qk256_get(const qk256_matrix *m, int r, int c)
{
    int shift;
    const uint8_t *p = code_byte(m, r, c, &shift);
    return ((*p >> shift) & 3) - 1;
}

void qk256_set(qk256_matrix *m, int r, int c, int w)
{
    int shift;
    uint8_t *p = code_byte(m, r, c, &shift);
    *p = (uint8_t)((*p & ~(3u << shift)) | (unsigned)(w + 1) << shift);
}

/* I2_S code 3 is unused; the reference decoder maps it to weight 0. */
static const uint8_t i2s_code_to_qk256[4] = {0, 1, 2, 1};

void qk256_from_i2s_rows(qk256_matrix *m, const uint8_t *src, int r0, int r1)
{
    const int cols = m->cols;
    for (int r = r0; r < r1; r++) {
        /* rows never straddle I2_S blocks: cols is a multiple of 128 */
        const uint8_t *row = src + (size_t)r * (size_t)(cols / 4);
        uint8_t *dst = m->codes + (size_t)r * m->blocks_per_row * QK256_BLOCK_BYTES;
        memset(dst, 0x55, (size_t)m->blocks_per_row * QK256_BLOCK_BYTES);
        for (int c = 0; c < cols; c++) {
            int ib = c / I2S_BLOCK, j = c % I2S_BLOCK;
            int code = (row[ib * I2S_BLOCK_BYTES + j % 32] >> (6 - 2 * (j / 32))) & 3;
            int qb = c / QK256_BLOCK, qj = c % QK256_BLOCK;
            uint8_t *p = dst + qb * QK256_BLOCK_BYTES + qj % 64;
            int shift = 2 * (qj / 64);
            *p = (uint8_t)((*p & ~(3u << shift)) | (unsigned)i2s_code_to_qk256[code] << shift);
        }
    }
}

float i2s_tensor_scale(const uint8_t *src, int rows, int cols)
{
    float s;
    memcpy(&s, src + (size_t)rows * (size_t)cols / 4, sizeof s);
    return s;
}
