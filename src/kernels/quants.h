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

#include "table.h"

/* The block layouts of the --lm-head types (quants.c describes them),
 * shared with the SIMD kernels of their products. */
#define BN_Q8_0_BLOCK 32 /* values per block */
#define BN_Q8_0_BYTES 34 /* fp16 d, then int8 qs[32] */
#define BN_Q6_K_BLOCK 256
#define BN_Q6_K_BYTES 210
#define BN_Q6_K_QH 128     /* offset of qh[64]; ql[128] is at 0 */
#define BN_Q6_K_SCALES 192 /* offset of the int8 scales[16] */
#define BN_Q6_K_D 208      /* offset of the fp16 d */
#define BN_Q6_K_SUB 16     /* values per sub-block scale */
#define BN_Q6_K_OFFSET 32  /* stored level 32 is zero */
#define BN_Q6_K_HALF 128   /* values per half block, which has its own ql and qh bytes: */
#define BN_Q6_K_HALF_QL 64 /* ql bytes per half */
#define BN_Q6_K_HALF_QH 32 /* qh bytes per half */
#define BN_Q6_K_GROUPS (BN_Q6_K_BLOCK / BN_Q8_GROUP) /* activation groups per block */

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

/* The products of the Q8_0 and Q6_K output layers on a quantized
 * activation (bn_q8act, kernels.h): the portable reference that defines
 * the results of the kernel tables' q8_quantize, q8_0_matvec and
 * q6_k_matvec, and what dense.c runs where a table has none. */
/* a for n values (a multiple of BN_Q8_GROUP); 0, or -1 out of memory. */
int bn_q8act_alloc(bn_q8act *a, int n);
void bn_q8act_free(bn_q8act *a);
void bn_q8act_quantize_ref(const float *x, int n, bn_q8act *a);
/* a->qi from a->q (the end of every q8_quantize; a test that sets levels
 * by hand calls it after). */
void bn_q8act_interleave(bn_q8act *a);
#define BN_Q8_QI_ALIGN 64 /* bytes: a whole cache line per 64-byte slice */
/* lane[0] after lane[i] += lane[i + w] for w = 8, 4, 2, 1 (BN_Q8_LANES lanes). */
float bn_q8_fold_lanes(float *lane);
void bn_q8_0_matvec_ref(const uint8_t *w, int cols, const bn_q8act *a, float *y, int r0, int r1);
void bn_q6_k_matvec_ref(const uint8_t *w, int cols, const bn_q8act *a, float *y, int r0, int r1);

#endif
