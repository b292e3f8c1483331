/*
 * quants.h - the non-ternary ggml tensor types the engine reads for the
 * token embedding and the output layer: F32, F16, BF16, Q8_0, Q4_0, Q4_K
 * and Q6_K (ggml's block layouts, described in quants.c), and the
 * quantizers behind --lm-head (F16, Q8_0, Q6_K).
 *
 * A "row" here is n consecutive values that start at a block boundary and
 * span a whole number of blocks (ggml rows always do).
 */
#ifndef BN_QUANTS_H
#define BN_QUANTS_H

#include <stddef.h>
#include <stdint.h>

/* Can the engine dequantize this type? */
int bn_quant_can_dequantize(uint32_t type);
/* Can it quantize floats into this type (the --lm-head targets)? */
int bn_quant_can_quantize(uint32_t type);
/* Bytes of a row of n values of `type`; 0 when n is not a whole number of
 * its blocks. */
size_t bn_quant_row_bytes(uint32_t type, int n);

/* src (n values of `type`) -> out[0..n). */
void bn_dequantize_row(uint32_t type, const uint8_t *src, float *out, int n);
/* dot(row of n values of `type`, x), dequantizing a chunk at a time. */
float bn_quant_dot(uint32_t type, const uint8_t *row, const float *x, int n);
/* x[0..n) -> dst in `type` (a bn_quant_can_quantize type). */
void bn_quantize_row(uint32_t type, const float *x, uint8_t *dst, int n);

#endif
