/*
 * ternary.comp - QK256 ternary products (src/kernels/qk256.h for the
 * layout, products.c for the epilogue): one weight row per invocation,
 * for up to TOKENS tokens at once, so that each block of codes is read
 * once for all of them. A block's 64 bytes are four 16-byte words; word
 * j holds weights 16j.. of each quarter of the block, which meet the
 * int8 activation words j, j + 4, j + 8 and j + 12. The int32 sums are
 * exact, and the float epilogue runs in the CPU's order, block by block.
 * No shared memory and no barriers: the rows are independent.
 */
#version 460
#include "common.glsl"

#define THREADS 64
#define TOKENS 8

layout(local_size_x = THREADS) in;
layout(push_constant) uniform P {
    Uvec4s codes; Floats bscale; Uvec4s q; Ints bsum; Ints qsum; Floats qscale; Floats y;
    uint nb, rows, ntok, ldy; float wscale; uint has_bscale;
} p;

/* sum over the four bytes of c (codes 0..3 in bits 1:0 of each) times
 * the signed bytes of a */
int dot4(uint c, uint a)
{
    return int(c & 3u) * bitfieldExtract(int(a), 0, 8) +
           int((c >> 8) & 3u) * bitfieldExtract(int(a), 8, 8) +
           int((c >> 16) & 3u) * bitfieldExtract(int(a), 16, 8) +
           int((c >> 24) & 3u) * bitfieldExtract(int(a), 24, 8);
}

int dot16(uvec4 c, uvec4 a)
{
    return dot4(c.x, a.x) + dot4(c.y, a.y) + dot4(c.z, a.z) + dot4(c.w, a.w);
}

void main()
{
    const uint r = gl_GlobalInvocationID.x;
    if (r >= p.rows) return;
    const uint t0 = gl_WorkGroupID.y * TOKENS;
    const uint nt = min(TOKENS, p.ntok - t0);
    const uint qvecs = p.nb * 16u; /* 16-byte words of a token's activations */
    int sumi[TOKENS];
    float acc[TOKENS];
    for (uint tt = 0u; tt < TOKENS; tt++) {
        sumi[tt] = 0;
        acc[tt] = 0.0;
    }
    for (uint b = 0u; b < p.nb; b++) {
        const uint cb = (r * p.nb + b) * 4u;
        const uvec4 c0 = p.codes.v[cb], c1 = p.codes.v[cb + 1u];
        const uvec4 c2 = p.codes.v[cb + 2u], c3 = p.codes.v[cb + 3u];
        const float d = p.has_bscale != 0u ? p.bscale.v[r * p.nb + b] : 0.0;
        for (uint tt = 0u; tt < nt; tt++) {
            const uint qb = (t0 + tt) * qvecs + b * 16u;
            int s = 0;
            for (uint m = 0u; m < 4u; m++) { /* quarter m: codes at bits 2m+1:2m */
                const uint sh = 2u * m;
                s += dot16(uvec4(c0.x >> sh, c0.y >> sh, c0.z >> sh, c0.w >> sh), p.q.v[qb + 4u * m]);
                s += dot16(uvec4(c1.x >> sh, c1.y >> sh, c1.z >> sh, c1.w >> sh), p.q.v[qb + 4u * m + 1u]);
                s += dot16(uvec4(c2.x >> sh, c2.y >> sh, c2.z >> sh, c2.w >> sh), p.q.v[qb + 4u * m + 2u]);
                s += dot16(uvec4(c3.x >> sh, c3.y >> sh, c3.z >> sh, c3.w >> sh), p.q.v[qb + 4u * m + 3u]);
            }
            if (p.has_bscale != 0u) {
                precise float a = acc[tt] + d * float(s - p.bsum.v[(t0 + tt) * p.nb + b]);
                acc[tt] = a;
            } else {
                sumi[tt] += s;
            }
        }
    }
    for (uint tt = 0u; tt < nt; tt++) {
        const uint t = t0 + tt;
        float yv;
        if (p.has_bscale != 0u) {
            precise float o = acc[tt] / p.qscale.v[t];
            yv = o;
        } else {
            precise float o = ((float(sumi[tt]) - float(p.qsum.v[t])) / p.qscale.v[t]) * p.wscale;
            yv = o;
        }
        p.y.v[t * p.ldy + r] = yv;
    }
}
