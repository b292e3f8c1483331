/*
 * products.h - the QK256 ternary products every kernel table, the scalar
 * one included, builds from its own integer core (products.c): the row
 * loop with the float epilogue (written once, so its order is the same
 * everywhere) and the prompt-batch tiling; and the several-input products
 * of a table that has no faster way than one input at a time.
 */
#ifndef BN_PRODUCTS_H
#define BN_PRODUCTS_H

#include <stddef.h>
#include <stdint.h>

#include "act.h"
#include "qk256.h"
#include "table.h"

/* The float epilogue (docs/FORWARD.md, Ternary products) for a
 * per-tensor scale. */
static inline float bn_ternary_epilogue(int32_t sumi, const bn_qact *a, float w_scale)
{
    return ((float)sumi - (float)a->sum) / a->scale * w_scale;
}

/* Each instruction set provides the integer core, exact in int32: */
/* sum(code * q) over a whole row of n blocks (per-tensor scale). */
typedef int32_t (*bn_row_dot_fn)(const uint8_t *codes, const int8_t *q, int n);
/* sum(code * q) of each of n consecutive blocks (per-block scales). */
typedef void (*bn_block_dots_fn)(const uint8_t *codes, const int8_t *q, int n, int32_t *dots);
/* sum(code * q[t]) over the nb blocks of `rows` consecutive rows (row_bytes
 * apart) for a tile of tokens: sums[i * tile + t] for row i, token t. */
typedef void (*bn_row_tile_fn)(const uint8_t *codes, size_t row_bytes, const int8_t *const *q,
                               int nb, int32_t *sums);
/* A tile's epilogue in one go, for a shape that has its own: sums as the
 * tile function left them, tok_sum / tok_scale the tile's tokens' (float)
 * sum and scale; y[t * ldy + i] for row i and token t < nt only. */
typedef void (*bn_tile_epilogue_fn)(const int32_t *sums, const float *tok_sum,
                                    const float *tok_scale, int nt, float w_scale, float *y,
                                    size_t ldy);
/* qk256_matmat (or q16_matmat, for a matrix held as Q16: the tile function
 * then reads Q16 rows) from a tile function covering `rows` rows x `tile` tokens:
 * a short last token tile repeats its last token (the extra sums are
 * dropped), rows left over at the end go through matvec, and so do
 * per-block-scale matrices; the epilogue is bn_ternary_epilogue. */
typedef struct {
    int tile, rows; /* tile: at most 32 tokens; rows <= 4 */
    bn_row_tile_fn row_tile;
    void (*matvec)(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1);
    bn_tile_epilogue_fn epilogue; /* NULL: the portable one, row by row */
} bn_matmat_shape;
void bn_qk256_matmat_tiles(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                           int r0, int r1, const bn_matmat_shape *shape);
/* Rows [r0, r1) of the QK256 product from those integer sums, with the
 * float epilogue (docs/FORWARD.md, Ternary products) in the order scalar.c
 * evaluates it. */
void bn_qk256_matvec_rows(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1,
                          bn_row_dot_fn row_dot, bn_block_dots_fn block_dots);
/* Rows [r0, r1) of a Q16 matrix (per-tensor scale) from a row_dot over its
 * Q16 rows, with the same epilogue. */
void bn_q16_matvec_rows(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1,
                        bn_row_dot_fn row_dot);

/* The prompt-batch products as one-input products in turn: for every token
 * t (input i), matvec over rows [r0, r1) into y + t * ldy. The matmat
 * entries of a table with nothing faster (the scalar one, an F16 product
 * that gains nothing from several inputs) are these over its own matvec. */
typedef void (*bn_f16_matvec_fn)(const uint16_t *w, int cols, const float *x, float *y, int r0,
                                 int r1);
void bn_matmat_per_token(bn_qk256_matvec_fn matvec, const qk256_matrix *w, const bn_qact *a,
                         int n_tok, float *y, int ldy, int r0, int r1);
void bn_f16_matmat_per_input(bn_f16_matvec_fn matvec, const uint16_t *w, int cols, const float *x,
                             int n, float *y, size_t ldy, int r0, int r1);

#endif
