/*
 * act.comp - the FFN activation, gate = act(gate) * up, element by
 * element: relu(g)^2 * up or SiLU (src/engine/ops.c, rows.h), left to
 * right.
 */
#version 460
#include "common.glsl"

#define THREADS 256

layout(local_size_x = THREADS) in;
layout(push_constant) uniform P {
    Floats gate; Floats up;
    uint n, silu;
} p;

void main()
{
    const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * THREADS;
    if (i >= p.n) return;
    const float g = p.gate.v[i];
    if (p.silu != 0u) {
        precise float den = 1.0 + bn_expf(-g);
        precise float o = g / den * p.up.v[i];
        p.gate.v[i] = o;
    } else {
        const float r = g > 0.0 ? g : 0.0; /* NaN -> 0 */
        precise float o = r * r * p.up.v[i];
        p.gate.v[i] = o;
    }
}
