/*
 * dense.comp - the output layer: rows of F16 (or of floats dequantized at
 * load) times up to TOKENS normed inputs, four rows a workgroup of 16
 * lanes each. Lane l sums the elements k = l mod 16 in order; the lanes
 * fold as lane[i] += lane[i + w] for w = 8, 4, 2, 1 and the elements
 * past the last multiple of 16 go to lane 0 in order (table.h,
 * BN_F16_LANES).
 */
#version 460
#include "common.glsl"

#define LANES 16
#define ROWS 4
#define TOKENS 8

layout(local_size_x = LANES * ROWS) in;
layout(push_constant) uniform P {
    Uints w; Floats x; Floats y;
    uint rows, cols, ntok, f16, ldy, row_groups;
} p;

shared float lane[ROWS][TOKENS][LANES];

float weight(uint i) { return p.f16 != 0u ? half_at(p.w, i) : uintBitsToFloat(p.w.v[i]); }

void main()
{
    const uint tid = gl_LocalInvocationID.x, l = tid % LANES, rr = tid / LANES;
    const uint g = gl_WorkGroupID.x + gl_WorkGroupID.z * p.row_groups;
    const uint r = g * ROWS + rr, t0 = gl_WorkGroupID.y * TOKENS;
    const uint nt = min(TOKENS, p.ntok - t0);
    const uint full = p.cols / LANES * LANES;
    const bool live = r < p.rows;
    for (uint tt = 0u; tt < nt; tt++) {
        float acc = 0.0;
        for (uint k = l; live && k < full; k += LANES) {
            precise float prod = weight(r * p.cols + k) * p.x.v[(t0 + tt) * p.cols + k];
            precise float s = acc + prod;
            acc = s;
        }
        lane[rr][tt][l] = acc;
    }
    barrier();
    if (l >= nt || !live) return;
    const uint tt = l; /* lane l of each row finishes token l */
    for (uint w = LANES / 2u; w >= 1u; w /= 2u)
        for (uint i = 0u; i < w; i++) {
            precise float s = lane[rr][tt][i] + lane[rr][tt][i + w];
            lane[rr][tt][i] = s;
        }
    float acc = lane[rr][tt][0];
    for (uint k = full; k < p.cols; k++) {
        precise float prod = weight(r * p.cols + k) * p.x.v[(t0 + tt) * p.cols + k];
        precise float s = acc + prod;
        acc = s;
    }
    p.y.v[(t0 + tt) * p.ldy + r] = acc;
}
