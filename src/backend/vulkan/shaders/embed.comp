/*
 * embed.comp - the token embedding: each token's row of the table (F16,
 * or floats dequantized at load) into the residual stream.
 */
#version 460
#include "common.glsl"

#define THREADS 256

layout(local_size_x = THREADS) in;
layout(push_constant) uniform P {
    Uints table; Floats x; Uints ids;
    uint n_embd, f16;
} p;

void main()
{
    const uint t = gl_WorkGroupID.x, row = p.ids.v[t];
    for (uint e = gl_LocalInvocationID.x; e < p.n_embd; e += THREADS) {
        const uint i = row * p.n_embd + e;
        p.x.v[t * p.n_embd + e] = p.f16 != 0u ? half_at(p.table, i) : uintBitsToFloat(p.table.v[i]);
    }
}
