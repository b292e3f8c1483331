/*
 * common.glsl - what every shader of the Vulkan backend shares: buffers
 * reached by device address (no descriptor sets), the sum type, and the
 * float steps of src/kernels/rows.h and f16.c written out operation by
 * operation, each result `precise` so that no multiply and add fuse.
 *
 * BN_F64 (set by the build, one SPIR-V per value) keeps the long sums in
 * double as the CPU does; devices without shaderFloat64 take float sums.
 */
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_buffer_reference_uvec2 : require

#if BN_F64
#define acc_t double
#else
#define acc_t float
#endif

layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) coherent buffer CFloats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Uints { uint v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) coherent buffer CUints { uint v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Ints { int v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer Uvec4s { uvec4 v[]; };

/* Per-token session record (vk_backend.c, SESS_*): cache addresses,
 * context, cache types and position. */
#define SESS_WORDS 8
#define SESS_K 0
#define SESS_V 2
#define SESS_NCTX 4
#define SESS_K_F16 5
#define SESS_V_F16 6
#define SESS_POS 7

/* bn_expf of rows.h, step for step. */
float bn_expf(float x)
{
    if (isnan(x)) return x;
    if (x < -104.0) return 0.0;
    if (x > 89.0) return uintBitsToFloat(0x7f800000u);
    const float rounder = 12582912.0;
    precise float t = x * uintBitsToFloat(0x3fb8aa3bu) + rounder;
    precise float k = t - rounder;
    precise float r = (x - k * uintBitsToFloat(0x3f317200u)) - k * uintBitsToFloat(0x35bfbe8eu);
    precise float p = uintBitsToFloat(0x39500d01u);
    p = p * r + uintBitsToFloat(0x3ab60b61u);
    p = p * r + uintBitsToFloat(0x3c088889u);
    p = p * r + uintBitsToFloat(0x3d2aaaabu);
    p = p * r + uintBitsToFloat(0x3e2aaaabu);
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    const uint e = floatBitsToUint(t) - 0x4b400000u + 254u;
    const uint e1 = e >> 1;
    precise float y = p * uintBitsToFloat(e1 << 23);
    y = y * uintBitsToFloat((e - e1) << 23);
    return y;
}

/* bn_f32_to_f16 of f16.c in integer steps: round to nearest, ties to even. */
uint f32_to_f16(float f)
{
    const uint x = floatBitsToUint(f);
    const uint sign = (x >> 16) & 0x8000u, absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) return sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u);
    if (absx >= 0x477ff000u) return sign | 0x7c00u;
    if (absx < 0x38800000u) {
        const uint e = absx >> 23, shift = 126u - e;
        if (e == 0u || shift > 24u) return sign;
        const uint m = (absx & 0x7fffffu) | 0x800000u;
        uint h = m >> shift;
        const uint rest = m & ((1u << shift) - 1u), hbit = 1u << (shift - 1u);
        if (rest > hbit || (rest == hbit && (h & 1u) != 0u)) h++;
        return sign | h;
    }
    const uint mant = absx & 0x7fffffu, ex = (absx >> 23) - 112u;
    uint h = (ex << 10) | (mant >> 13);
    const uint rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0u)) h++;
    return sign | h;
}

/* Element i of an array of halves packed two a word. */
float half_at(Uints a, uint i)
{
    const uint w = a.v[i >> 1];
    return unpackHalf2x16((i & 1u) != 0u ? w >> 16 : w).x;
}
