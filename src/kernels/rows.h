/*
 * rows.h - the float row operations of a layer that every kernel table
 * runs (table.h: exp_sum, rmsnorm, silu_mul): an exp of our own, the
 * double lane sums, and the scalar steps that define their results.
 * scalar.c runs these steps over whole rows; a SIMD table runs its vector
 * body over the first elements and these steps over the rest, so the
 * tails and the folds exist once. docs/FORWARD.md says the same in words.
 */
#ifndef BN_ROWS_H
#define BN_ROWS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* bn_expf(x) = 2^k * p(r): k = round-half-even(x * log2 e), done by adding
 * and subtracting BN_EXP_ROUNDER; r = (x - k * ln2_hi) - k * ln2_lo, where
 * k * ln2_hi and the first subtraction are exact (ln2_hi has 16 significant
 * bits, |k| <= 150), so |r| <= ~ln2 / 2; p is the Taylor polynomial of
 * degree 7 (its truncation error is below 0.1 ulp there) by Horner's rule,
 * p = ((C7 r + C6) r + ... + 1) r + 1; the scale 2^k is two powers of two
 * built from exponent bits, e = k + 254 split as e1 = e >> 1 and e - e1,
 * so both are normal and the last of the two multiplies, left to right,
 * rounds once into the subnormals or overflows to inf as exp itself does.
 * Every step is one IEEE multiply, add or subtract (no FMA: the build has
 * -ffp-contract=off) or an integer operation, so SIMD tables that do the
 * same steps per lane get the same bits. Below BN_EXP_MIN: 0; above
 * BN_EXP_MAX: +inf; NaN: x itself. Within 1.25 ulp of exp for every float
 * input (tests/test_rows.c sweeps them with a stride). */
#define BN_EXP_LOG2E 1.44269502f         /* log2 e, rounded to float */
#define BN_EXP_ROUNDER 12582912.0f       /* 1.5 * 2^23 */
#define BN_EXP_ROUNDER_BITS 0x4b400000u  /* its bits: + k in the low ones */
#define BN_EXP_LN2_HI 0.693145751953125f /* ln 2 to 16 significant bits */
#define BN_EXP_LN2_LO 1.42860677e-6f     /* ln 2 - BN_EXP_LN2_HI */
#define BN_EXP_C2 (1.0f / 2.0f)          /* C_n = 1 / n! */
#define BN_EXP_C3 (1.0f / 6.0f)
#define BN_EXP_C4 (1.0f / 24.0f)
#define BN_EXP_C5 (1.0f / 120.0f)
#define BN_EXP_C6 (1.0f / 720.0f)
#define BN_EXP_C7 (1.0f / 5040.0f)
#define BN_EXP_BIAS2 254u    /* two float exponent biases: e = k + 254 */
#define BN_EXP_SHIFT 23      /* exponent field of a float */
#define BN_EXP_MIN (-104.0f) /* exp < 2^-150 below: rounds to 0; k >= -150 above */
#define BN_EXP_MAX 89.0f     /* exp > FLT_MAX above; k <= 128 below */

static inline float bn_float_of_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t bn_bits_of_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bn_expf(float x)
{
    if (isnan(x)) return x;
    if (x < BN_EXP_MIN) return 0.0f;
    if (x > BN_EXP_MAX) return INFINITY;
    const float t = x * BN_EXP_LOG2E + BN_EXP_ROUNDER;
    const float k = t - BN_EXP_ROUNDER;
    const float r = (x - k * BN_EXP_LN2_HI) - k * BN_EXP_LN2_LO;
    float p = BN_EXP_C7;
    p = p * r + BN_EXP_C6;
    p = p * r + BN_EXP_C5;
    p = p * r + BN_EXP_C4;
    p = p * r + BN_EXP_C3;
    p = p * r + BN_EXP_C2;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const uint32_t e = bn_bits_of_float(t) - BN_EXP_ROUNDER_BITS + BN_EXP_BIAS2;
    const uint32_t e1 = e >> 1;
    return p * bn_float_of_bits(e1 << BN_EXP_SHIFT) * bn_float_of_bits((e - e1) << BN_EXP_SHIFT);
}

/* Long sums of floats (the softmax's exps, the RMSNorm's squares) are kept
 * in double in BN_SUM_LANES partial sums: element i is added to lane
 * i % BN_SUM_LANES in increasing i, and the lanes are added from 0 up at
 * the end. One running sum would wait on each add's latency; 8 lanes are
 * two AVX2 vectors of doubles, four NEON ones. */
#define BN_SUM_LANES 8

static inline double bn_sum_lanes(const double *lane)
{
    double sum = 0.0;
    for (int l = 0; l < BN_SUM_LANES; l++) sum += lane[l];
    return sum;
}

/* ------------------------------------------------- softmax's exp sum */

/* x[p] = bn_expf(x[p] - max), added into its lane, for p in [p, n). */
static inline void bn_exp_sum_from(float *x, int p, int n, float max, double *lane)
{
    for (; p < n; p++) {
        x[p] = bn_expf(x[p] - max);
        lane[p % BN_SUM_LANES] += x[p];
    }
}

/* ------------------------------------------------------------- RMSNorm */

/* Each square x[i] * x[i] in float, widened, added into its lane. */
static inline void bn_squares_from(const float *x, int i, int n, double *lane)
{
    for (; i < n; i++) lane[i % BN_SUM_LANES] += (double)(x[i] * x[i]);
}

/* 1 / sqrt(mean + eps), the mean (float)(sum / n) of the squares. */
static inline float bn_rms_scale(const double *lane, int n, float eps)
{
    const float mean = (float)(bn_sum_lanes(lane) / n);
    return 1.0f / sqrtf(mean + eps);
}

/* out[i] = (x[i] * scale) * w[i]: two float multiplies. */
static inline void bn_norm_mul_from(float *out, const float *x, const float *w, int i, int n,
                                    float scale)
{
    for (; i < n; i++) out[i] = (x[i] * scale) * w[i];
}

/* ---------------------------------------------------------------- SiLU */

/* gate[i] = gate[i] / (1 + exp(-gate[i])) * up[i], left to right. */
static inline void bn_silu_mul_from(float *gate, const float *up, int i, int n)
{
    for (; i < n; i++) gate[i] = gate[i] / (1.0f + bn_expf(-gate[i])) * up[i];
}

#endif
