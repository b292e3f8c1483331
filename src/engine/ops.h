/*
 * ops.h - the elementwise math of a layer (ops.c): RoPE, the FFN
 * activations, softmax and the residual add, each as docs/FORWARD.md
 * defines it to the bit. RMSNorm is an entry of the kernel table.
 */
#ifndef BN_OPS_H
#define BN_OPS_H

#include "model/model.h"

/* x[i] += y[i] */
void bn_add_into(float *x, const float *y, int n);
/* RoPE: the cos/sin table of a position (head_dim floats), then the
 * rotation of one head's vector by it: NEOX pairs (i, i + head_dim / 2),
 * NORM pairs (2i, 2i + 1), pair i by the same angle either way. */
void bn_rope_angles(float *cs, int head_dim, int pos, float base);
void bn_rope_apply(float *v, int head_dim, const float *cs);
void bn_rope_apply_norm(float *v, int head_dim, const float *cs);
/* gate = act(gate) * up; SiLU on the table k. */
void bn_ffn_activate(const bn_kernels *k, bn_ffn_act act, float *gate, const float *up, int n);
/* Softmax in place over n scores, the exps on the table k. */
void bn_softmax(const bn_kernels *k, float *x, int n);

#endif
