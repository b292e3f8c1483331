/*
 * qk256.h - QK256, the engine's one internal ternary weight format.
 *
 * Every ternary encoding a file may hold (I2_S, TQ2_0, TQ1_0, ternary-valued
 * floats) is repacked at load into this layout, so each CPU needs only one
 * family of kernels.
 *
 * A row of `cols` weights is cut into blocks of QK256_BLOCK = 256 weights;
 * the last block of a row is padded with zero weights when cols is not a
 * multiple of 256. A block is 64 bytes of 2-bit codes, code = weight + 1
 * (0 -> -1, 1 -> 0, 2 -> +1; 3 never occurs). Byte j (0..63) of a block
 * holds four weights, one from each quarter of the block:
 *
 *     bits 1:0 -> weight j        bits 5:4 -> weight j + 128
 *     bits 3:2 -> weight j + 64   bits 7:6 -> weight j + 192
 *
 * so one 64-byte load shifted by 0, 2, 4, 6 and masked with 3 gives the
 * codes of four runs of 64 consecutive weights: SIMD kernels multiply them
 * against contiguous activation bytes (unsigned code x signed int8, the
 * shape of x86 maddubs / vpdpbusd and NEON sdot) with no shuffles. Since
 * codes are weight + 1, a dot product with int8 activations q gives
 * sum(code*q) = sum(w*q) + sum(q); the epilogue subtracts sum(q).
 *
 * Scales: one float per tensor (`scale`: I2_S, ternarized floats, and TQ
 * tensors whose blocks all share one scale) or, when `block_scales` is not
 * NULL, one float per block (TQ2_0/TQ1_0 carry per-block fp16 scales).
 */
#ifndef BN_QK256_H
#define BN_QK256_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/arena.h"

#define QK256_BLOCK 256
#define QK256_BLOCK_BYTES 64
#define QK256_CODE_ZERO 1 /* the code of weight 0 (also the padding) */

typedef struct {
    int rows, cols;
    int blocks_per_row;  /* ceil(cols / 256) */
    int q16_in_arena;    /* q16 belongs to an arena, which frees it */
    uint8_t *codes;      /* rows * blocks_per_row * 64 bytes, 64-byte aligned */
    float scale;         /* per-tensor scale, used when block_scales == NULL */
    int codes_in_arena;  /* codes belong to an arena (arena.h), which frees them */
    float *block_scales; /* rows * blocks_per_row, or NULL */
    /* The codes in the 1.6-bit layout of q16.h (--weights q16), rows of
     * q16_row_bytes; then codes is NULL. Only with a per-tensor scale. */
    uint8_t *q16;
    /* The group-scaled matrices of Q2_0 and Q1_0 files (grouped.h), which
     * take Q8 activations: fp16 scales per QK256 quarter (Q2_0) or per
     * binary block (Q1_0), else NULL; a Q1_0 matrix holds binary rows in
     * bits (codes NULL). */
    uint16_t *group_scales;
    uint8_t *bits;
    int bits_in_arena;
} qk256_matrix;

static inline int qk256_blocks(int cols) { return (cols + QK256_BLOCK - 1) / QK256_BLOCK; }
/* Bytes of the codes of a rows x cols matrix. */
static inline size_t qk256_codes_bytes(int rows, int cols)
{
    return (size_t)rows * (size_t)qk256_blocks(cols) * QK256_BLOCK_BYTES;
}

/* Allocates codes for rows x cols, all set to weight 0. Returns 0 or -1. */
int qk256_alloc(qk256_matrix *m, int rows, int cols, int with_block_scales);
/* The same in `arena` when it is not NULL and has room (else on the heap),
 * with the codes left unset: for a caller that writes every block, as the
 * decoders below do. Writing them first from the threads that decode the
 * rows shares out the kernel's zeroing of fresh pages, which a memset
 * here would leave to the loading thread alone. */
int qk256_alloc_unset(qk256_matrix *m, int rows, int cols, int with_block_scales, bn_arena *arena);
void qk256_free(qk256_matrix *m);

/* Weight (-1, 0, +1) at row r, column c (for tests and slow paths). */
int qk256_get(const qk256_matrix *m, int r, int c);
void qk256_set(qk256_matrix *m, int r, int c, int w);

/* I2_S (docs/FORMAT.md, I2_S): flat 128-element blocks of 32 bytes, element j
 * of a block in byte j%32 at shift 6-2*(j/32), codes {0:-1, 1:0, 2:+1,
 * 3:0}, then one f32 scale after the codes. Repacks rows [r0, r1) of a
 * rows x cols tensor (cols a multiple of 128) into m (already allocated);
 * the caller sets m->scale. */
void qk256_from_i2s_rows(qk256_matrix *m, const uint8_t *src, int r0, int r1);
/* The per-tensor scale stored after the codes of an I2_S tensor. */
float i2s_tensor_scale(const uint8_t *src, int rows, int cols);

/* llama.cpp's ternary types (docs/FORMAT.md, TQ2_0 and TQ1_0): blocks of
 * 256 weights, the same size as a QK256 block, each ending with an fp16
 * scale d. */
typedef struct {
    const char *name;
    size_t block_bytes;  /* TQ2_0: 66, TQ1_0: 54 */
    size_t scale_offset; /* of d within the block */
    /* Writes a block as one QK256 block (64 bytes); returns how many
     * weights were not ternary (TQ2_0 code 3 means +2; written as 0). */
    int (*decode)(const uint8_t *block, uint8_t *qk256_block);
} qk256_tq_format;

/* TQ2_0: 64 bytes qs, then d. Element 32l + m of each 128-element half h
 * is in byte 32h + m at bits 2l+1:2l, code = weight + 1. */
extern const qk256_tq_format qk256_tq2_0;
/* TQ1_0: qs[48], qh[4], then d, in base 3 (5 trits a byte in qs, 4 in qh).
 * Trit n of a byte b (n = 0 most significant) is ((uint8_t)(b * 3^n) * 3)
 * >> 8, code = trit. Elements 0..159: trit n of qs[m] is element 32n + m
 * (m < 32); 160..239: trit n of qs[32 + m] is 160 + 16n + m (m < 16);
 * 240..255: trit n of qh[m] is 240 + 4n + m (m < 4). */
extern const qk256_tq_format qk256_tq1_0;

/* The scale d of block `block` (counted over the whole tensor). */
float qk256_tq_scale(const qk256_tq_format *f, const uint8_t *src, size_t block);
/* Repacks rows [r0, r1) of a TQ tensor (cols a multiple of 256) into m;
 * when m->block_scales is set, also stores each block's d there. Returns
 * the number of weights that were not ternary (0 for a valid tensor). */
long qk256_from_tq_rows(qk256_matrix *m, const qk256_tq_format *f, const uint8_t *src, int r0,
                        int r1);

/* Row r of m from float weights w[0..cols): weight = clamp(round(w/scale),
 * -1, 1), rounding half to even like torch.round (docs/FORMAT.md,
 * Ternary-valued floats). */
void qk256_ternarize_row(qk256_matrix *m, int r, const float *w, float scale);

/* Multiplies the scale (and every block scale) by s. */
void qk256_scale_by(qk256_matrix *m, float s);

#endif
