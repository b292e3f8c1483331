/*
 * grouped.h - the group-scaled weight matrices of mainline llama.cpp's
 * Q2_0 and Q1_0 files and their products on Q8 activations (bn_q8act,
 * table.h), as those files are meant to run (docs/FORWARD.md, Activation
 * quantization).
 *
 * Q2_0 (docs/FORMAT.md, Q2_0: blocks of 64 weights, 2-bit codes, value
 * (code - 1) * d, code 3 = +2) stays in QK256's codes (qk256.h): a block
 * of 64 is exactly a QK256 quarter, so each quarter gets its block's fp16
 * scale, group_scales[(row * blocks_per_row + b) * 4 + k] for quarter k of
 * block b (a padding quarter has scale 0). Codes 3 go through the same
 * unsigned-code products as 0..2.
 *
 * Q1_0 (docs/FORMAT.md, Q1_0: blocks of 128 weights, one bit each, +d or
 * -d) stays near 1 bit: binary rows of cols / 8 bytes, bit j % 8 of byte
 * j / 8 set when weight j is +d (the file's bits without the interleaved
 * scales), and group_scales[row * (cols / 128) + b] apart.
 *
 * The results (grouped.c is the scalar definition; every table gives them
 * bit for bit): for each group g of BN_Q8_GROUP = 32 activations, the
 * exact isum_g = sum over the group of level * q (level code - 1, or +-1),
 * then lane[g % BN_Q8_LANES] += (dw * d_g) * (float)isum_g with dw the
 * scale of the weight block holding the group, and the lanes folded as
 * the Q8_0 output layer's (table.h).
 */
#ifndef BN_GROUPED_H
#define BN_GROUPED_H

#include <stddef.h>
#include <stdint.h>

#include "qk256.h"
#include "table.h"

#define BN_Q2_0_BLOCK 64          /* weights per Q2_0 block: one QK256 quarter */
#define BN_Q1_0_BLOCK 128         /* weights per Q1_0 block */
#define BN_GROUPED_BLOCK_BYTES 18 /* both: fp16 d, then 16 bytes of weights */
#define QK256_QUARTERS (QK256_BLOCK / BN_Q2_0_BLOCK)

/* Bytes of a binary row of cols weights, and of a matrix of them. */
static inline size_t bn_bits_row_bytes(int cols) { return (size_t)cols / 8; }
static inline size_t bn_bits_bytes(int rows, int cols)
{
    return (size_t)rows * bn_bits_row_bytes(cols);
}

/* Allocates m for a Q2_0 tensor (QK256 codes, in arena when it has room,
 * and quarter scales) or a Q1_0 tensor (binary rows, likewise, and block
 * scales). Returns 0 or -1. */
int bn_grouped_alloc_q2(qk256_matrix *m, int rows, int cols, bn_arena *arena);
int bn_grouped_alloc_b1(qk256_matrix *m, int rows, int cols, bn_arena *arena);

/* Rows [r0, r1) of a Q2_0 / Q1_0 tensor (src, cols a multiple of the
 * block) into m. Returns how many scales were not finite (0 when valid). */
long bn_grouped_from_q2_0_rows(qk256_matrix *m, const uint8_t *src, int r0, int r1);
long bn_grouped_from_q1_0_rows(qk256_matrix *m, const uint8_t *src, int r0, int r1);

/* The level (-1..2) of the weight at row r, column c (for tests). */
int bn_grouped_level(const qk256_matrix *m, int r, int c);
/* Its block scale as a float. */
float bn_grouped_scale(const qk256_matrix *m, int r, int c);

/* The scalar definitions of the products (rows [r0, r1) of y). */
void bn_q2_matvec_ref(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1);
void bn_b1_matvec_ref(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1);
/* Their prompt-batch products (table.h): the matvec token by token. */
void bn_q2_matmat_ref(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                      int r0, int r1);
void bn_b1_matmat_ref(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                      int r0, int r1);

/* The aarch64 products (grouped_neon.c), which both NEON tables take. */
void bn_neon_q2_matvec(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1);
void bn_neon_b1_matvec(const qk256_matrix *w, const bn_q8act *a, float *y, int r0, int r1);
/* Their prompt-batch products: for now the matvec token by token (no
 * tiled NEON kernel yet). */
void bn_neon_q2_matmat(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                       int r0, int r1);
void bn_neon_b1_matmat(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y, int ldy,
                       int r0, int r1);

#endif
