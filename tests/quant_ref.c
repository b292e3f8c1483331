/*
 * quant_ref.c - test-side Q4_0 and Q4_K writers (quant_ref.h).
 */
#include "quant_ref.h"

#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

void qref_put_f16(uint8_t *p, float v)
{
    uint16_t h = bn_f32_to_f16(v);
    memcpy(p, &h, sizeof h);
}

static float get_f16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return bn_f16_to_f32(h);
}

static int clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void qref_pack_q4_k(float d, float dmin, const int sc[8], const int mn[8], const int q[256],
                    uint8_t blk[QREF_Q4_K_BYTES])
{
    qref_put_f16(blk, d);
    qref_put_f16(blk + 2, dmin);
    uint8_t *s = blk + 4, *qs = blk + 16;
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
    for (int k = 0; k < 4; k++)
        for (int l = 0; l < 32; l++)
            qs[32 * k + l] = (uint8_t)(q[64 * k + l] | q[64 * k + 32 + l] << 4);
}

/* d maps the value of largest magnitude to -8; nibble = round(x/d) + 8. */
void qref_quantize_q4_0(const float *x, int n, uint8_t *dst)
{
    for (int b = 0; b < n / 32; b++, x += 32, dst += QREF_Q4_0_BYTES) {
        float max = 0;
        for (int i = 0; i < 32; i++)
            if (fabsf(x[i]) > fabsf(max)) max = x[i];
        qref_put_f16(dst, max / -8.0f);
        const float d = get_f16(dst);
        int q[32];
        for (int i = 0; i < 32; i++) q[i] = d != 0 ? clamp((int)rintf(x[i] / d) + 8, 0, 15) : 8;
        for (int i = 0; i < 16; i++) dst[2 + i] = (uint8_t)(q[i] | q[i + 16] << 4);
    }
}

/* Per sub-block of 32: min = -min(0, x), scale = (max + min) / 15; the
 * 6-bit scales and mins are multiples of d = max scale / 63 and
 * dmin = max min / 63. */
void qref_quantize_q4_k(const float *x, int n, uint8_t *dst)
{
    for (int b = 0; b < n / 256; b++, x += 256, dst += QREF_Q4_K_BYTES) {
        float scale[8], min[8], max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; j++) {
            float lo = 0, hi = 0;
            for (int i = 32 * j; i < 32 * j + 32; i++) {
                lo = fminf(lo, x[i]);
                hi = fmaxf(hi, x[i]);
            }
            scale[j] = (hi - lo) / 15.0f;
            min[j] = -lo;
            max_scale = fmaxf(max_scale, scale[j]);
            max_min = fmaxf(max_min, min[j]);
        }
        uint8_t tmp[4];
        qref_put_f16(tmp, max_scale / 63.0f);
        qref_put_f16(tmp + 2, max_min / 63.0f);
        const float d = get_f16(tmp), dmin = get_f16(tmp + 2);
        int sc[8], mn[8], q[256] = {0};
        for (int j = 0; j < 8; j++) {
            sc[j] = d > 0 ? clamp((int)ceilf(scale[j] / d), 0, 63) : 0;
            mn[j] = dmin > 0 ? clamp((int)rintf(min[j] / dmin), 0, 63) : 0;
            const float ds = d * (float)sc[j], dm = dmin * (float)mn[j];
            for (int i = 32 * j; i < 32 * j + 32; i++)
                q[i] = ds > 0 ? clamp((int)rintf((x[i] + dm) / ds), 0, 15) : 0;
        }
        qref_pack_q4_k(d, dmin, sc, mn, q, dst);
    }
}
