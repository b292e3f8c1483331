/*
 * ops.h - the elementwise math of a layer (ops.c): RMSNorm, RoPE, the FFN
 * activations, softmax and the residual add, each as docs/FORWARD.md
 * defines it to the bit.
 */
#ifndef BN_OPS_H
#define BN_OPS_H

#include "model/model.h"

/* x[i] += y[i] */
void bn_add_into(float *x, const float *y, int n);
/* out = x / sqrt(mean(x^2) + eps) * w, the squares summed in double. */
void bn_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
/* RoPE: the cos/sin table of a position (head_dim floats), then the
 * rotation of one head's vector by it: NEOX pairs (i, i + head_dim / 2),
 * NORM pairs (2i, 2i + 1), pair i by the same angle either way. */
void bn_rope_angles(float *cs, int head_dim, int pos, float base);
void bn_rope_apply(float *v, int head_dim, const float *cs);
void bn_rope_apply_norm(float *v, int head_dim, const float *cs);
/* gate = act(gate) * up */
void bn_ffn_activate(bn_ffn_act act, float *gate, const float *up, int n);
/* Softmax in place over n scores. */
void bn_softmax(float *x, int n);

#endif
