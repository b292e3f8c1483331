/*
 * kernels_scalar.c - the portable C kernels. They define the results every
 * SIMD kernel must reproduce bit for bit (kernels.h), and hold the helpers
 * all kernels share: activation buffers and F16 <-> F32 conversion.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#define ACT_MAX_FLOOR 1e-5 /* spec 3.3: absmax starts at 1e-5 */
#define INT8_LIMIT 127.0

int bn_qact_alloc(bn_qact *a, int n)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    a->n_blocks = qk256_blocks(n);
    size_t len = (size_t)(a->n_blocks ? a->n_blocks : 1) * QK256_BLOCK;
    a->q = aligned_alloc(QK256_BLOCK_BYTES, len);
    a->block_sums = calloc((size_t)(a->n_blocks ? a->n_blocks : 1), sizeof(int32_t));
    if (!a->q || !a->block_sums) {
        bn_qact_free(a);
        return -1;
    }
    memset(a->q, 0, len);
    return 0;
}

void bn_qact_free(bn_qact *a)
{
    free(a->q);
    free(a->block_sums);
    a->q = NULL;
    a->block_sums = NULL;
}

float bn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13); /* inf / nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else { /* subnormal: normalize */
        int e = -1;
        do {
            e++;
            mant <<= 1;
        } while (!(mant & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t bn_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000, absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65536: overflow to inf */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* result is subnormal or zero */
        float v;
        uint32_t ax = absx;
        memcpy(&v, &ax, sizeof v);
        /* 2^-24 is the f16 subnormal step; rintf rounds half to even */
        return (uint16_t)(sign | (uint32_t)rintf(v * 16777216.0f));
    }
    uint32_t mant = absx & 0x7fffff, exp = (absx >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff; /* round half to even on the dropped bits */
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

/* spec 3.3: absmax in double, scale = (float)(127/max), round half to even,
 * clamp to [-128, 127]. rintf rounds half to even in the default FP mode. */
static void quantize_scalar(const float *x, int n, bn_qact *a)
{
    double max = ACT_MAX_FLOOR;
    for (int i = 0; i < n; i++) {
        double v = fabs((double)x[i]);
        if (v > max) max = v;
    }
    const float s = (float)(INT8_LIMIT / max);
    a->scale = s;
    a->sum = 0;
    for (int b = 0; b < a->n_blocks; b++) {
        int32_t bsum = 0;
        int end = (b + 1) * QK256_BLOCK < n ? (b + 1) * QK256_BLOCK : n;
        for (int i = b * QK256_BLOCK; i < end; i++) {
            float r = rintf(x[i] * s);
            int q = r > 127.0f ? 127 : r < -128.0f ? -128 : (int)r;
            a->q[i] = (int8_t)q;
            bsum += q;
        }
        for (int i = end; i < (b + 1) * QK256_BLOCK; i++) a->q[i] = 0;
        a->block_sums[b] = bsum;
        a->sum += bsum;
    }
}

/* sum(code * q) over one 256-weight block. */
static int32_t block_dot_scalar(const uint8_t *codes, const int8_t *q)
{
    int32_t sum = 0;
    for (int j = 0; j < QK256_BLOCK_BYTES; j++) {
        unsigned byte = codes[j];
        sum += (int32_t)(byte & 3) * q[j] + (int32_t)((byte >> 2) & 3) * q[j + 64] +
               (int32_t)((byte >> 4) & 3) * q[j + 128] + (int32_t)(byte >> 6) * q[j + 192];
    }
    return sum;
}

static void qk256_matvec_scalar(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1)
{
    const int nb = w->blocks_per_row;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w->codes + (size_t)r * nb * QK256_BLOCK_BYTES;
        if (!w->block_scales) {
            int32_t sumi = 0;
            for (int b = 0; b < nb; b++)
                sumi += block_dot_scalar(row + b * QK256_BLOCK_BYTES, a->q + b * QK256_BLOCK);
            y[r] = bn_ternary_epilogue(sumi, a, w->scale);
        } else {
            const float *d = w->block_scales + (size_t)r * nb;
            float acc = 0.0f;
            for (int b = 0; b < nb; b++) {
                int32_t s = block_dot_scalar(row + b * QK256_BLOCK_BYTES, a->q + b * QK256_BLOCK);
                acc += d[b] * (float)(s - a->block_sums[b]);
            }
            y[r] = acc / a->scale;
        }
    }
}

float bn_f16_dot_scalar(const uint16_t *w, const float *x, int n)
{
    float lane[BN_F16_LANES] = {0};
    int k = 0;
    for (; k + BN_F16_LANES <= n; k += BN_F16_LANES)
        for (int l = 0; l < BN_F16_LANES; l++) {
            float p = bn_f16_to_f32(w[k + l]) * x[k + l];
            lane[l] = lane[l] + p;
        }
    for (int width = BN_F16_LANES / 2; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) lane[l] += lane[l + width];
    for (; k < n; k++) lane[0] += bn_f16_to_f32(w[k]) * x[k];
    return lane[0];
}

static void f16_matvec_scalar(const uint16_t *w, int cols, const float *x, float *y, int r0, int r1)
{
    for (int r = r0; r < r1; r++) y[r] = bn_f16_dot_scalar(w + (size_t)r * cols, x, cols);
}

const bn_kernels bn_kernels_scalar = {
    .name = "scalar",
    .quantize = quantize_scalar,
    .qk256_matvec = qk256_matvec_scalar,
    .f16_matvec = f16_matvec_scalar,
};
