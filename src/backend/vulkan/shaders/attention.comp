/*
 * attention.comp - causal attention of one query head of one token per
 * workgroup over its session's cache (src/engine/attention.c and the
 * scalar kernels): scores in 16 lanes folded as the CPU folds them, the
 * max, the exps (bn_expf) summed in 8 lanes, and the weighted sums of
 * values in chunks of VALUE_CHUNK positions added in order.
 */
#version 460
#include "common.glsl"

#define THREADS 64
#define LANES 16
#define SUM_LANES 8
#define VALUE_CHUNK 128 /* attention.c, ATTN_VALUE_CHUNK */

layout(local_size_x = THREADS) in;
layout(push_constant) uniform P {
    Floats q; CFloats scores; Floats outp; Uints sess;
    uint n_head, n_kv, hd, layer, ld; float scale;
} p;

shared float red[THREADS];
shared acc_t lanes[SUM_LANES];
shared float s_inv;

float cache_at(uvec2 a, bool f16, uint i) { return f16 ? half_at(Uints(a), i) : Floats(a).v[i]; }

void main()
{
    const uint tid = gl_LocalInvocationID.x, h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
    const uint hd = p.hd, kvh = h / (p.n_head / p.n_kv);
    const uint sb = t * SESS_WORDS;
    const uint n_ctx = p.sess.v[sb + SESS_NCTX], n = p.sess.v[sb + SESS_POS] + 1u;
    const uvec2 ka = uvec2(p.sess.v[sb + SESS_K], p.sess.v[sb + SESS_K + 1u]);
    const uvec2 va = uvec2(p.sess.v[sb + SESS_V], p.sess.v[sb + SESS_V + 1u]);
    const bool kf16 = p.sess.v[sb + SESS_K_F16] != 0u, vf16 = p.sess.v[sb + SESS_V_F16] != 0u;
    const uint base = (p.layer * p.n_kv + kvh) * n_ctx * hd; /* bn_kv_row at position 0 */
    const uint qo = (t * p.n_head + h) * hd, so = (t * p.n_head + h) * p.ld;

    float m = uintBitsToFloat(0xff800000u);
    for (uint pos = tid; pos < n; pos += THREADS) {
        float lane[LANES];
        for (uint l = 0u; l < LANES; l++) lane[l] = 0.0;
        for (uint i = 0u; i < hd; i++) {
            precise float prod = p.q.v[qo + i] * cache_at(ka, kf16, base + pos * hd + i);
            precise float s = lane[i % LANES] + prod;
            lane[i % LANES] = s;
        }
        for (uint w = LANES / 2u; w >= 1u; w /= 2u)
            for (uint l = 0u; l < w; l++) {
                precise float s = lane[l] + lane[l + w];
                lane[l] = s;
            }
        precise float sc = lane[0] * p.scale;
        p.scores.v[so + pos] = sc;
        m = sc > m ? sc : m;
    }
    red[tid] = m;
    barrier();
    for (uint w = THREADS / 2u; w > 0u; w >>= 1) {
        if (tid < w && red[tid + w] > red[tid]) red[tid] = red[tid + w];
        barrier();
    }
    const float mx = red[0];
    for (uint pos = tid; pos < n; pos += THREADS) {
        precise float d = p.scores.v[so + pos] - mx;
        p.scores.v[so + pos] = bn_expf(d);
    }
    memoryBarrierBuffer();
    barrier();
    if (tid < SUM_LANES) {
        acc_t acc = acc_t(0);
        for (uint pos = tid; pos < n; pos += SUM_LANES) acc += acc_t(p.scores.v[so + pos]);
        lanes[tid] = acc;
    }
    barrier();
    if (tid == 0u) {
        acc_t sum = acc_t(0);
        for (uint l = 0u; l < SUM_LANES; l++) sum += lanes[l];
        s_inv = float(acc_t(1) / sum);
    }
    barrier();
    const float inv = s_inv;
    for (uint i = tid; i < hd; i += THREADS) {
        float o = 0.0;
        for (uint c0 = 0u; c0 < n; c0 += VALUE_CHUNK) {
            float part = 0.0;
            for (uint pos = c0; pos < min(n, c0 + VALUE_CHUNK); pos++) {
                precise float wgt = p.scores.v[so + pos] * inv;
                precise float prod = wgt * cache_at(va, vf16, base + pos * hd + i);
                precise float s = part + prod;
                part = s;
            }
            precise float s = o + part;
            o = c0 == 0u ? part : s;
        }
        p.outp.v[qo + i] = o;
    }
}
