/*
 * ops.c - the elementwise math of a layer that the kernel tables do not
 * hold: RoPE, the squared ReLU, softmax's max and scaling, and the
 * residual add (docs/FORWARD.md). RMSNorm, softmax's exps and SiLU run on
 * the model's table (table.h, rows.h).
 * A decoding step runs these on one thread, so they are written for the
 * vectorizer.
 */
#include "ops.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

void bn_add_into(float *x, const float *y, int n)
{
    for (int i = 0; i < n; i++) x[i] += y[i];
}

/* cs[i] = cos(theta_i) and cs[half + i] = sin(theta_i) for the pairs
 * i < head_dim / 2, theta advancing by an iterative float multiply, as the
 * reference does, not by pow per element. The same for every head. */
void bn_rope_angles(float *cs, int head_dim, int pos, float base)
{
    const int half = head_dim / 2;
    const float theta_scale = powf(base, -2.0f / (float)head_dim);
    float theta = (float)pos;
    for (int i = 0; i < half; i++) {
        cs[i] = cosf(theta);
        cs[half + i] = sinf(theta);
        theta *= theta_scale;
    }
}

/* NEOX pairs (i, i + half) rotated by the angles of cs. */
void bn_rope_apply(float *v, int head_dim, const float *cs)
{
    const int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        const float c = cs[i], s = cs[half + i];
        const float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * c - x1 * s;
        v[i + half] = x0 * s + x1 * c;
    }
}

/* NORM pairs (2i, 2i + 1) rotated by the angles of cs. */
void bn_rope_apply_norm(float *v, int head_dim, const float *cs)
{
    const int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        const float c = cs[i], s = cs[half + i];
        const size_t j = 2 * (size_t)i;
        const float x0 = v[j], x1 = v[j + 1];
        v[j] = x0 * c - x1 * s;
        v[j + 1] = x0 * s + x1 * c;
    }
}

/* max(g, 0), NaN -> 0, without a branch: a branch on the sign, which is
 * random, stalls the loop (GCC keeps one for every plain-C max but this). */
static inline float relu(float g)
{
    uint32_t bits;
    memcpy(&bits, &g, sizeof bits);
    bits &= -(uint32_t)(g > 0.0f);
    memcpy(&g, &bits, sizeof g);
    return g;
}

/* gate = relu(gate)^2 * up, or SiLU(gate) * up on the kernel table. */
void bn_ffn_activate(const bn_kernels *k, bn_ffn_act act, float *gate, const float *up, int n)
{
    if (act == BN_ACT_RELU2) {
        for (int i = 0; i < n; i++) {
            const float r = relu(gate[i]);
            gate[i] = r * r * up[i];
        }
        return;
    }
    k->silu_mul(gate, up, n);
}

/* The largest of n scores; a NaN never compares greater. */
static float max_of(const float *x, int n)
{
    float max = -INFINITY;
    for (int p = 0; p < n; p++) max = x[p] > max ? x[p] : max;
    return max;
}

/* max, the exps and their sum on the table, times (float)(1 / sum). */
void bn_softmax(const bn_kernels *k, float *x, int n)
{
    const float inv = (float)(1.0 / k->exp_sum(x, n, max_of(x, n)));
    for (int p = 0; p < n; p++) x[p] *= inv;
}
