/*
 * ops.c - the elementwise math of a layer: RMSNorm, RoPE, the FFN
 * activations, softmax and the residual add (docs/FORWARD.md). A decoding
 * step runs these on one thread, so they are written for the vectorizer.
 */
#include "ops.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SUM_LANES 4 /* interleaved double partial sums (sum_lanes) */

void bn_add_into(float *x, const float *y, int n)
{
    for (int i = 0; i < n; i++) x[i] += y[i];
}

/* The long sums in double (the RMSNorm's squares, the softmax's exps) run
 * in SUM_LANES partial sums, element i into lane i % SUM_LANES, added in
 * lane order at the end: one running sum would wait on each add's latency. */
static double sum_lanes(const double *lane)
{
    double sum = 0.0;
    for (int l = 0; l < SUM_LANES; l++) sum += lane[l];
    return sum;
}

/* Squares summed in double (sum_lanes), scale in float, then times the
 * weight. */
void bn_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double lane[SUM_LANES] = {0};
    int i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int l = 0; l < SUM_LANES; l++) lane[l] += (double)(x[i + l] * x[i + l]);
    for (int l = 0; i < n; i++, l++) lane[l] += (double)(x[i] * x[i]);
    const double sum = sum_lanes(lane);
    float mean = (float)(sum / n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) out[i] = (x[i] * scale) * w[i];
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

void bn_ffn_activate(bn_ffn_act act, float *gate, const float *up, int n)
{
    if (act == BN_ACT_RELU2) {
        for (int i = 0; i < n; i++) {
            const float r = relu(gate[i]);
            gate[i] = r * r * up[i];
        }
        return;
    }
    for (int i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

/* The largest of n scores. Not inlined: inside bn_softmax GCC kept the
 * running max on the stack across the expf calls. */
__attribute__((noinline)) static float max_of(const float *x, int n)
{
    float max = -INFINITY;
    for (int p = 0; p < n; p++) max = x[p] > max ? x[p] : max;
    return max;
}

/* max, exp(x - max) summed in double (sum_lanes), times 1/sum. */
void bn_softmax(float *x, int n)
{
    const float max = max_of(x, n);
    double lane[SUM_LANES] = {0};
    int p = 0;
    for (; p + SUM_LANES <= n; p += SUM_LANES)
        for (int l = 0; l < SUM_LANES; l++) {
            x[p + l] = expf(x[p + l] - max);
            lane[l] += x[p + l];
        }
    for (int l = 0; p < n; p++, l++) {
        x[p] = expf(x[p] - max);
        lane[l] += x[p];
    }
    const float inv = (float)(1.0 / sum_lanes(lane));
    for (p = 0; p < n; p++) x[p] *= inv;
}
