/*
 * ternary.comp - QK256 ternary products: one weight row and up to TOKENS
 * tokens per workgroup (src/kernels/qk256.h for the layout, products.c
 * for the epilogue). Each thread takes one 4-byte word of a block's codes
 * (weights j..j+3 of each quarter) against the matching int8 words of
 * the activations; the exact int32 sums meet per block in shared memory,
 * and one thread per token runs the CPU's float epilogue in its order.
 */
#version 460
#include "common.glsl"

#define THREADS 128
#define TOKENS 8
#define MAX_BLOCKS 128
#define WORDS_PER_BLOCK 16 /* 64 bytes of codes */

layout(local_size_x = THREADS) in;
layout(push_constant) uniform P {
    Uints codes; Floats bscale; Uints q; Ints bsum; Ints qsum; Floats qscale; Floats y;
    uint nb, rows, ntok, ldy; float wscale; uint has_bscale;
} p;

shared int dots[TOKENS][MAX_BLOCKS];

/* sum over the four bytes of code c (values 0..3) times the signed bytes of a */
int dot4(uint c, uint a)
{
    int s = 0;
    for (uint k = 0u; k < 32u; k += 8u)
        s += int((c >> k) & 3u) * bitfieldExtract(int(a), int(k), 8);
    return s;
}

void main()
{
    const uint tid = gl_LocalInvocationID.x, r = gl_WorkGroupID.x;
    const uint t0 = gl_WorkGroupID.y * TOKENS;
    const uint nt = min(TOKENS, p.ntok - t0);
    for (uint i = tid; i < TOKENS * p.nb; i += THREADS) dots[i / p.nb][i % p.nb] = 0;
    barrier();
    const uint qwords = p.nb * 64u;
    for (uint w = tid; w < p.nb * WORDS_PER_BLOCK; w += THREADS) {
        const uint b = w / WORDS_PER_BLOCK, j = w % WORDS_PER_BLOCK;
        const uint c = p.codes.v[(r * p.nb + b) * WORDS_PER_BLOCK + j];
        for (uint tt = 0u; tt < nt; tt++) {
            const uint qb = (t0 + tt) * qwords + b * 64u + j;
            const int s = dot4(c, p.q.v[qb]) + dot4(c >> 2, p.q.v[qb + 16u]) +
                          dot4(c >> 4, p.q.v[qb + 32u]) + dot4(c >> 6, p.q.v[qb + 48u]);
            atomicAdd(dots[tt][b], s);
        }
    }
    barrier();
    if (tid >= nt) return;
    const uint t = t0 + tid;
    float yv;
    if (p.has_bscale != 0u) {
        precise float acc = 0.0;
        for (uint b = 0u; b < p.nb; b++)
            acc += p.bscale.v[r * p.nb + b] * float(dots[tid][b] - p.bsum.v[t * p.nb + b]);
        precise float o = acc / p.qscale.v[t];
        yv = o;
    } else {
        int sumi = 0;
        for (uint b = 0u; b < p.nb; b++) sumi += dots[tid][b];
        precise float o = ((float(sumi) - float(p.qsum.v[t])) / p.qscale.v[t]) * p.wscale;
        yv = o;
    }
    p.y.v[t * p.ldy + r] = yv;
}
