/*
 * act.h - activation vectors as the ternary kernels take them (act.c):
 * one token's activations quantized to int8 with their sums (bn_qact),
 * the scale they are quantized with, and the zero-padded chunks the SIMD
 * quantizers read at the end of a vector.
 */
#ifndef BN_ACT_H
#define BN_ACT_H

#include <stdint.h>

/* One token's activation vector quantized to int8 (docs/FORWARD.md,
 * Activation quantization). A NaN activation gives q = 0 in every table
 * (and is skipped by max|x|). */
typedef struct {
    int n;               /* logical length */
    int n_blocks;        /* ceil(n / 256); q is padded with zeros to n_blocks*256 */
    int8_t *q;           /* 64-byte aligned */
    int32_t *block_sums; /* sum of q over each 256-block */
    int32_t sum;         /* sum of all q */
    float scale;         /* 127 / max|x| (max floored at 1e-5) */
} bn_qact;

int bn_qact_alloc(bn_qact *a, int n);
void bn_qact_free(bn_qact *a);

/* The activation scale given max|x_i| of the vector (NaNs skipped):
 * (float)(127 / max(absmax, 1e-5)) computed in double (docs/FORWARD.md,
 * Activation quantization). */
float bn_act_scale(float absmax);
/* x + i when the len floats from i are all below `valid`, else a copy of
 * those that are in pad (len floats), zero-padded: padding quantizes to 0. */
const float *bn_act_chunk(const float *x, int valid, int i, int len, float *pad);

#endif
