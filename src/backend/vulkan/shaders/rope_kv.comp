/*
 * rope_kv.comp - one token per workgroup: RoPE on its query and key heads
 * (NEOX or NORM pairs, the host's cos/sin table of its position: ops.c),
 * then its keys and values into its session's cache at its position, as
 * f32 or as halves rounded to nearest even (forward.c, cache_store).
 */
#version 460
#include "common.glsl"

#define THREADS 64

layout(local_size_x = THREADS) in;
layout(push_constant) uniform P {
    CFloats q; CFloats k; Floats v; Floats cs; Uints sess;
    uint n_head, n_kv, hd, layer, neox;
} p;

void rotate(CFloats a, uint base, uint i, uint half_, float c, float s)
{
    const uint i0 = p.neox != 0u ? base + i : base + 2u * i;
    const uint i1 = p.neox != 0u ? base + i + half_ : base + 2u * i + 1u;
    const float x0 = a.v[i0], x1 = a.v[i1];
    precise float y0 = x0 * c - x1 * s;
    precise float y1 = x0 * s + x1 * c;
    a.v[i0] = y0;
    a.v[i1] = y1;
}

void main()
{
    const uint tid = gl_LocalInvocationID.x, t = gl_WorkGroupID.x;
    const uint hd = p.hd, half_ = hd / 2u, q_dim = p.n_head * hd, kv_dim = p.n_kv * hd;
    for (uint it = tid; it < (p.n_head + p.n_kv) * half_; it += THREADS) {
        const uint h = it / half_, i = it % half_;
        const float c = p.cs.v[t * hd + i], s = p.cs.v[t * hd + half_ + i];
        if (h < p.n_head) rotate(p.q, t * q_dim + h * hd, i, half_, c, s);
        else rotate(p.k, t * kv_dim + (h - p.n_head) * hd, i, half_, c, s);
    }
    memoryBarrierBuffer();
    barrier();
    const uint sb = t * SESS_WORDS;
    const uint n_ctx = p.sess.v[sb + SESS_NCTX], pos = p.sess.v[sb + SESS_POS];
    const uvec2 ka = uvec2(p.sess.v[sb + SESS_K], p.sess.v[sb + SESS_K + 1u]);
    const uvec2 va = uvec2(p.sess.v[sb + SESS_V], p.sess.v[sb + SESS_V + 1u]);
    const bool kf16 = p.sess.v[sb + SESS_K_F16] != 0u, vf16 = p.sess.v[sb + SESS_V_F16] != 0u;
    /* element pairs (e, e + 1), so that a half-precision cache is written a word at a time */
    for (uint it = tid; it < kv_dim / 2u; it += THREADS) {
        const uint e = 2u * it, h = e / hd, i = e % hd;
        const uint off = ((p.layer * p.n_kv + h) * n_ctx + pos) * hd + i; /* bn_kv_row */
        const uint src = t * kv_dim + e;
        if (kf16) Uints(ka).v[off / 2u] = f32_to_f16(p.k.v[src]) | (f32_to_f16(p.k.v[src + 1u]) << 16);
        else {
            Floats(ka).v[off] = p.k.v[src];
            Floats(ka).v[off + 1u] = p.k.v[src + 1u];
        }
        if (vf16) Uints(va).v[off / 2u] = f32_to_f16(p.v.v[src]) | (f32_to_f16(p.v.v[src + 1u]) << 16);
        else {
            Floats(va).v[off] = p.v.v[src];
            Floats(va).v[off + 1u] = p.v.v[src + 1u];
        }
    }
}
