/*
 * dense.c - reading the matrices that are not ternary (the token embedding
 * and the output layer) in their file type: which types the engine can
 * use, and one row as floats (an embedding lookup).
 */
#include "kernels/quants.h"
#include "model.h"

int bn_dense_supported(uint32_t type) { return bn_quant_can_dequantize(type); }

void bn_dense_row(const bn_dense *d, int row, float *out)
{
    bn_dequantize_row(d->type, d->data + (size_t)row * d->row_bytes, out, d->cols);
}
