/*
 * qk256.c - allocation and element access of QK256 ternary matrices, and
 * the decoders of every ternary encoding into it: I2_S, TQ2_0 and TQ1_0
 * (docs/FORMAT.md, I2_S / TQ2_0 / TQ1_0) and ternarized floats (layouts in qk256.h).
 * I2_S and TQ2_0 repack byte by byte (groups_to_qk256); TQ1_0 and floats
 * decode the 256 codes of a block, then pack_block() lays them out.
 */
#include "qk256.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "f16.h"
#include "runtime/platform.h"

#define GROUP                                                                                      \
    128                    /* weights per 2-bit group: an I2_S block (QK_I2_S on x86,              \
                              docs/FORMAT.md, I2_S), half a TQ2_0 block */
#define GROUP_BYTES 32     /* bytes per group */
#define ALL_ZERO_BYTE 0x55 /* code 1 (weight 0) in all four fields */
#define TQ1_QS_MAIN 32     /* TQ1_0 qs bytes of 5 trits for elements 0..159 */
#define TQ1_QS_REST 16     /* then 16 bytes for elements 160..239 */
#define TQ1_QS_BYTES (TQ1_QS_MAIN + TQ1_QS_REST)
#define TQ1_QH_BYTES 4 /* 4 trits each for elements 240..255 */
#define TQ1_TRITS_QS 5
#define TQ1_TRITS_QH 4
#define TQ2_BLOCK_BYTES 66 /* 64 bytes qs + fp16 d */
#define TQ1_BLOCK_BYTES 54 /* 48 qs + 4 qh + fp16 d */

int qk256_alloc_unset(qk256_matrix *m, int rows, int cols, int with_block_scales, bn_arena *arena)
{
    memset(m, 0, sizeof *m);
    m->rows = rows;
    m->cols = cols;
    m->blocks_per_row = qk256_blocks(cols);
    const size_t n_blocks = (size_t)rows * (size_t)m->blocks_per_row;
    const size_t bytes = qk256_codes_bytes(rows, cols);
    m->codes = bn_arena_alloc(arena, bytes, QK256_BLOCK_BYTES);
    m->codes_in_arena = m->codes != NULL;
    if (!m->codes)
        m->codes = bn_aligned_alloc(QK256_BLOCK_BYTES, bytes ? bytes : QK256_BLOCK_BYTES);
    if (!m->codes) return -1;
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

/* A rows x cols matrix of zero weights. */
int qk256_alloc(qk256_matrix *m, int rows, int cols, int with_block_scales)
{
    if (qk256_alloc_unset(m, rows, cols, with_block_scales, NULL)) return -1;
    /* every weight (and the padding) is 0 */
    memset(m->codes, ALL_ZERO_BYTE, qk256_codes_bytes(rows, cols));
    return 0;
}

/* Frees the codes, Q16 rows and block scales not in an arena. */
void qk256_free(qk256_matrix *m)
{
    if (!m->codes_in_arena) bn_aligned_free(m->codes);
    if (!m->q16_in_arena) bn_aligned_free(m->q16);
    m->q16 = NULL;
    free(m->block_scales);
    if (!m->bits_in_arena) bn_aligned_free(m->bits);
    free(m->group_scales);
    m->codes = NULL;
    m->block_scales = NULL;
    m->bits = NULL;
    m->group_scales = NULL;
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

/* Packs 256 codes (weight + 1) into one QK256 block: byte j holds the codes
 * of weights j, j + 64, j + 128, j + 192 (the quarter stride is 64). */
static void pack_block(const uint8_t codes[QK256_BLOCK], uint8_t *dst)
{
    const int q = QK256_BLOCK / 4;
    for (int j = 0; j < q; j++)
        dst[j] = (uint8_t)(codes[j] | codes[j + q] << 2 | codes[j + 2 * q] << 4 |
                           codes[j + 3 * q] << 6);
}

static uint8_t *row_codes(const qk256_matrix *m, int r)
{
    return m->codes + (size_t)r * m->blocks_per_row * QK256_BLOCK_BYTES;
}

/* ------------------------------------------------- 2-bit field layouts */

/* I2_S and TQ2_0 both cut weights into groups of 128 stored in 32 bytes,
 * byte p holding the weights p, p + 32, p + 64, p + 96 in its fields
 * f = 0..3, with the same codes as QK256 (docs/FORMAT.md, TQ2_0). They differ in where
 * field f sits: I2_S from the top (bits 7-2f:6-2f), TQ2_0 from the bottom
 * (bits 2f+1:2f). So both repack byte by byte. */
typedef enum { FIELDS_FROM_TOP, FIELDS_FROM_BOTTOM } field_order;

static unsigned field(uint8_t b, int f, field_order o)
{
    return (b >> (o == FIELDS_FROM_TOP ? 6 - 2 * f : 2 * f)) & 3u;
}

/* The low bit of every field of b that holds code 3. */
static uint8_t code3_fields(uint8_t b) { return b & (b >> 1) & 0x55; }

/* b with code 3 turned into 1 (weight 0) in every field. */
static uint8_t without_code3(uint8_t b) { return (uint8_t)(b & ~(code3_fields(b) << 1)); }

/* One QK256 block from the groups a (weights 0..127) and b (128..255;
 * NULL: all zero, a row that ends after a). QK256 byte m < 32 holds the
 * weights m, m + 64, m + 128, m + 192 = fields 0 and 2 of a[m] and b[m];
 * byte 32 + m the weights 32 + m, 96 + m, 160 + m, 224 + m = fields 1 and
 * 3. Code 3 (unused) becomes weight 0. */
static inline void groups_to_qk256(const uint8_t *a, const uint8_t *b, field_order o, uint8_t *dst)
{
    for (int m = 0; m < GROUP_BYTES; m++) {
        const uint8_t lo = without_code3(a[m]);
        const uint8_t hi = b ? without_code3(b[m]) : ALL_ZERO_BYTE;
        dst[m] = (uint8_t)(field(lo, 0, o) | field(lo, 2, o) << 2 | field(hi, 0, o) << 4 |
                           field(hi, 2, o) << 6);
        dst[GROUP_BYTES + m] = (uint8_t)(field(lo, 1, o) | field(lo, 3, o) << 2 |
                                         field(hi, 1, o) << 4 | field(hi, 3, o) << 6);
    }
}

/* ----------------------------------------------------------------- I2_S */

void qk256_from_i2s_rows(qk256_matrix *m, const uint8_t *src, int r0, int r1)
{
    /* rows never straddle I2_S blocks: cols is a multiple of 128; I2_S
     * code 3 is unused and the reference decoder reads it as weight 0 */
    const int per_row = m->cols / GROUP;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = src + (size_t)r * per_row * GROUP_BYTES;
        for (int b = 0; b < m->blocks_per_row; b++) {
            const uint8_t *lo = row + (size_t)(2 * b) * GROUP_BYTES;
            const uint8_t *hi = 2 * b + 1 < per_row ? lo + GROUP_BYTES : NULL;
            groups_to_qk256(lo, hi, FIELDS_FROM_TOP,
                            row_codes(m, r) + (size_t)b * QK256_BLOCK_BYTES);
        }
    }
}

float i2s_tensor_scale(const uint8_t *src, int rows, int cols)
{
    float s;
    memcpy(&s, src + (size_t)rows * (size_t)cols / 4, sizeof s);
    return s;
}

/* ------------------------------------------------------- TQ2_0 / TQ1_0 */

/* TQ2_0 code 3 would be +2 (not ternary): counted, and written as 0 so the
 * matrix stays valid while the load reports the error. */
static int decode_tq2(const uint8_t *block, uint8_t *dst)
{
    uint8_t any = 0;
    for (int m = 0; m < 2 * GROUP_BYTES; m++) any |= code3_fields(block[m]);
    int bad = 0;
    for (int m = 0; any && m < 2 * GROUP_BYTES; m++) /* counted only when present */
        for (uint8_t c = code3_fields(block[m]); c; c &= (uint8_t)(c - 1)) bad++;
    groups_to_qk256(block, block + GROUP_BYTES, FIELDS_FROM_BOTTOM, dst);
    return bad;
}

/* Trit n (0 = most significant) of a byte holding 5 base-3 digits scaled
 * by 256/243: multiplying by 3^n moves it to the top, and *3 >> 8 reads it. */
static uint8_t tq1_trit(uint8_t b, int n)
{
    static const uint8_t pow3[TQ1_TRITS_QS] = {1, 3, 9, 27, 81};
    const uint8_t shifted = (uint8_t)(b * pow3[n]);
    return (uint8_t)((shifted * 3) >> 8);
}

/* One TQ1_0 block's base-3 trits as codes (every trit is valid). */
static int decode_tq1(const uint8_t *block, uint8_t *dst)
{
    const uint8_t *qs = block, *qh = block + TQ1_QS_BYTES;
    uint8_t codes[QK256_BLOCK], *c = codes;
    for (int n = 0; n < TQ1_TRITS_QS; n++)
        for (int m = 0; m < TQ1_QS_MAIN; m++) *c++ = tq1_trit(qs[m], n);
    for (int n = 0; n < TQ1_TRITS_QS; n++)
        for (int m = 0; m < TQ1_QS_REST; m++) *c++ = tq1_trit(qs[TQ1_QS_MAIN + m], n);
    for (int n = 0; n < TQ1_TRITS_QH; n++)
        for (int m = 0; m < TQ1_QH_BYTES; m++) *c++ = tq1_trit(qh[m], n);
    pack_block(codes, dst);
    return 0; /* a trit is always 0, 1 or 2 */
}

const qk256_tq_format qk256_tq2_0 = {"TQ2_0", TQ2_BLOCK_BYTES, TQ2_BLOCK_BYTES - 2, decode_tq2};
const qk256_tq_format qk256_tq1_0 = {"TQ1_0", TQ1_BLOCK_BYTES, TQ1_BLOCK_BYTES - 2, decode_tq1};

float qk256_tq_scale(const qk256_tq_format *f, const uint8_t *src, size_t block)
{
    uint16_t h;
    memcpy(&h, src + block * f->block_bytes + f->scale_offset, sizeof h);
    return bn_f16_to_f32(h);
}

/* Rows [r0, r1) of a TQ2_0 / TQ1_0 tensor; returns the invalid codes found. */
long qk256_from_tq_rows(qk256_matrix *m, const qk256_tq_format *f, const uint8_t *src, int r0,
                        int r1)
{
    long bad = 0;
    for (int r = r0; r < r1; r++)
        for (int b = 0; b < m->blocks_per_row; b++) {
            const size_t i = (size_t)r * m->blocks_per_row + b;
            bad += f->decode(src + i * f->block_bytes, m->codes + i * QK256_BLOCK_BYTES);
            if (m->block_scales) m->block_scales[i] = qk256_tq_scale(f, src, i);
        }
    return bad;
}

/* --------------------------------------------------------------- floats */

void qk256_ternarize_row(qk256_matrix *m, int r, const float *w, float scale)
{
    uint8_t codes[QK256_BLOCK];
    for (int b = 0; b < m->blocks_per_row; b++) {
        const int c0 = b * QK256_BLOCK;
        const int n = m->cols - c0 < QK256_BLOCK ? m->cols - c0 : QK256_BLOCK;
        memset(codes, QK256_CODE_ZERO, sizeof codes); /* pads the last block */
        for (int j = 0; j < n; j++) {
            const float t = rintf(w[c0 + j] / scale); /* then clamp to [-1, 1] */
            codes[j] = t > 0.0f ? 2 : t < 0.0f ? 0 : QK256_CODE_ZERO;
        }
        pack_block(codes, row_codes(m, r) + (size_t)b * QK256_BLOCK_BYTES);
    }
}

void qk256_scale_by(qk256_matrix *m, float s)
{
    m->scale *= s;
    if (m->block_scales)
        for (size_t i = 0; i < (size_t)m->rows * m->blocks_per_row; i++) m->block_scales[i] *= s;
}
