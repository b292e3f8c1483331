/*
 * q8rows.c - the int8-row copy's quantizer and the portable definition of
 * its product (q8rows.h).
 */
#include <math.h>

#include "f16.h"
#include "q8rows.h"

/* v rounded to the nearest level, halves away from zero, clamped to
 * +-127; NaN (weights the copy is then dropped for) to 0. Plain
 * arithmetic, no libm call: the copy of a large vocabulary is made at
 * every load. */
static int8_t to_level(float v)
{
    if (!(v == v)) return 0;
    v = v > BN_Q8ROWS_LEVELS ? BN_Q8ROWS_LEVELS : v;
    v = v < -BN_Q8ROWS_LEVELS ? -BN_Q8ROWS_LEVELS : v;
    return (int8_t)(int)(v + copysignf(0.5f, v)); /* truncation after the half */
}

void bn_q8rows_quantize_row(const float *x, int cols, int8_t *q, uint16_t *d)
{
    for (int g = 0; g < cols / BN_Q8ROWS_GROUP; g++) {
        const float *xg = x + (size_t)g * BN_Q8ROWS_GROUP;
        float amax = 0;
        for (int i = 0; i < BN_Q8ROWS_GROUP; i++) {
            const float a = fabsf(xg[i]);
            amax = a > amax ? a : amax;
        }
        d[g] = bn_f32_to_f16(amax / BN_Q8ROWS_LEVELS);
        const float scale = bn_f16_to_f32(d[g]);
        const float inv = scale > 0 ? 1.0f / scale : 0.0f;
        for (int i = 0; i < BN_Q8ROWS_GROUP; i++)
            q[(size_t)g * BN_Q8ROWS_GROUP + i] = to_level(xg[i] * inv);
    }
}

void bn_q8rows_matvec_ref(const bn_q8rows *w, const bn_q8act *a, float *y, int r0, int r1)
{
    const int groups = w->cols / BN_Q8ROWS_GROUP, per_lane = BN_Q8ROWS_CHUNK / BN_Q8ROWS_LANES;
    for (int r = r0; r < r1; r++) {
        const int8_t *q = w->q + (size_t)r * w->cols;
        const uint16_t *d = w->d + (size_t)r * groups;
        float lane[BN_Q8ROWS_LANES] = {0};
        for (int c = 0; c < w->cols; c += BN_Q8ROWS_CHUNK)
            for (int l = 0; l < BN_Q8ROWS_LANES; l++) {
                const int at = c + l * per_lane, g = at / BN_Q8ROWS_GROUP;
                int32_t p = 0;
                for (int i = at; i < at + per_lane; i++) p += (int32_t)q[i] * a->q[i];
                const float s = bn_f16_to_f32(d[g]) * a->d[g];
                lane[l] += (float)p * s;
            }
        for (int width = BN_Q8ROWS_LANES / 2; width >= 1; width /= 2)
            for (int l = 0; l < width; l++) lane[l] += lane[l + width];
        y[r] = lane[0];
    }
}
