/*
 * q8rows.h - int8 rows with an fp16 scale per group of 32 values: the
 * layout of the output layer's small copy (model/lm_copy.c), which the
 * engine scores every row with before it computes the best rows exactly
 * (engine/lm_head.c), and the product of such a matrix with a quantized
 * activation (bn_q8act, table.h).
 *
 * The product's result is defined bit for bit (q8rows.c is the
 * definition; every table's q8rows_matvec reproduces it): a row is taken
 * BN_Q8ROWS_CHUNK values at a time; lane l (of BN_Q8ROWS_LANES) of a chunk
 * takes the exact int32 sum p of the 4 products w*q of values 4l..4l+3
 * of the chunk and adds (float)p * s_g, s_g = dw_g * d_g (the weight
 * scale of their group g times the activation's, one float multiply),
 * separately multiplied and added, into float lane l. The lanes are then
 * folded as lane[i] += lane[i + w] for w = 8, 4, 2, 1.
 */
#ifndef BN_Q8ROWS_H
#define BN_Q8ROWS_H

#include <stdint.h>

#include "table.h"

#define BN_Q8ROWS_GROUP 32 /* values per scale: BN_Q8_GROUP, the activation's group */
#define BN_Q8ROWS_CHUNK 64 /* values per step: rows are whole chunks */
#define BN_Q8ROWS_LANES 16 /* float lanes, 4 values each */
#define BN_Q8ROWS_LEVELS 127.0f
#define BN_Q8ROWS_MAX_COLS 32768 /* the x86 kernels keep a row's scales on the stack */

typedef struct bn_q8rows {
    int rows, cols;    /* cols: a multiple of BN_Q8ROWS_CHUNK */
    const int8_t *q;   /* [rows][cols] levels */
    const uint16_t *d; /* [rows][cols / BN_Q8ROWS_GROUP] fp16 scales */
} bn_q8rows;

/* y[r] for rows r in [r0, r1) of w times a: the definition above. */
void bn_q8rows_matvec_ref(const bn_q8rows *w, const bn_q8act *a, float *y, int r0, int r1);
/* Row x[0..cols) into levels q and scales d: per group, d = max|x| / 127
 * rounded to fp16, q = x / d rounded to the nearest, clamped to +-127. */
void bn_q8rows_quantize_row(const float *x, int cols, int8_t *q, uint16_t *d);

#endif
