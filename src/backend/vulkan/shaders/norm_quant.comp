/*
 * norm_quant.comp - one token's row per workgroup: optionally the
 * residual add (x += add), RMSNorm times its weight (out), and the int8
 * absmax quantization of the result (or of x) with its block sums:
 * src/kernels/rows.h and scalar.c (quantize) step for step.
 */
#version 460
#include "common.glsl"

#define THREADS 256
#define SUM_LANES 8
#define MAX_QBLOCKS 128
#define F_ADD 1u
#define F_NORM 2u
#define F_QUANT 4u
#define F_ROWS 8u

layout(local_size_x = THREADS) in;
layout(push_constant) uniform P {
    CFloats x; CFloats add; Floats w; CFloats outp; Uints q; Ints bsum; Ints qsum; Floats qscale;
    Uints rows;
    uint n, flags; float eps; uint nb;
} p;

shared acc_t lanes[SUM_LANES];
shared float amax[THREADS];
shared int bsums[MAX_QBLOCKS];
shared float s_scale;

void main()
{
    const uint tid = gl_LocalInvocationID.x, wg = gl_WorkGroupID.x;
    const uint tin = (p.flags & F_ROWS) != 0u ? p.rows.v[wg] : wg;
    const uint xr = tin * p.n, orow = wg * p.n;
    if ((p.flags & F_ADD) != 0u)
        for (uint i = tid; i < p.n; i += THREADS) {
            precise float s = p.x.v[xr + i] + p.add.v[xr + i];
            p.x.v[xr + i] = s;
        }
    memoryBarrierBuffer();
    barrier();
    CFloats src = p.x;
    uint sr = xr;
    if ((p.flags & F_NORM) != 0u) {
        if (tid < SUM_LANES) { /* lane l: the squares of i = l mod 8, in order */
            acc_t acc = acc_t(0);
            for (uint i = tid; i < p.n; i += SUM_LANES) {
                precise float sq = p.x.v[xr + i] * p.x.v[xr + i];
                acc += acc_t(sq);
            }
            lanes[tid] = acc;
        }
        barrier();
        if (tid == 0u) {
            acc_t sum = acc_t(0);
            for (uint l = 0u; l < SUM_LANES; l++) sum += lanes[l];
            const float mean = float(sum / acc_t(p.n));
            precise float me = mean + p.eps;
            s_scale = 1.0 / sqrt(me);
        }
        barrier();
        const float sc = s_scale;
        for (uint i = tid; i < p.n; i += THREADS) {
            precise float o = (p.x.v[xr + i] * sc) * p.w.v[i];
            p.outp.v[orow + i] = o;
        }
        memoryBarrierBuffer();
        barrier();
        src = p.outp;
        sr = orow;
    }
    if ((p.flags & F_QUANT) == 0u) return;
    float m = 0.0;
    for (uint i = tid; i < p.n; i += THREADS) {
        const float a = abs(src.v[sr + i]);
        if (a > m) m = a; /* a NaN never compares greater */
    }
    amax[tid] = m;
    if (tid < p.nb) bsums[tid] = 0;
    barrier();
    for (uint w = THREADS / 2u; w > 0u; w >>= 1) {
        if (tid < w && amax[tid + w] > amax[tid]) amax[tid] = amax[tid + w];
        barrier();
    }
#if BN_F64
    const double mx = amax[0] > 1e-5 ? double(amax[0]) : 1e-5lf;
    const float scale = float(127.0lf / mx);
#else
    const float scale = 127.0 / max(amax[0], 1e-5);
#endif
    /* each thread quantizes four consecutive values into one word */
    const uint words = p.nb * 64u, qr = wg * words;
    for (uint wd = tid; wd < words; wd += THREADS) {
        uint packed = 0u;
        int s = 0;
        for (uint k = 0u; k < 4u; k++) {
            const uint i = wd * 4u + k;
            const float v = i < p.n ? src.v[sr + i] : 0.0;
            precise float vs = v * scale;
            int qi = isnan(vs) ? 0 : int(clamp(roundEven(vs), -128.0, 127.0));
            s += qi;
            packed |= (uint(qi) & 0xffu) << (8u * k);
        }
        p.q.v[qr + wd] = packed;
        atomicAdd(bsums[wd / 64u], s);
    }
    barrier();
    if (tid < p.nb) p.bsum.v[wg * p.nb + tid] = bsums[tid];
    if (tid == 0u) {
        int total = 0;
        for (uint b = 0u; b < p.nb; b++) total += bsums[b];
        p.qsum.v[wg] = total;
        p.qscale.v[wg] = scale;
    }
}
