/*
 * test_rows.c - the float row operations of the kernel tables (rows.h):
 * bn_expf against double exp over a strided sweep of every float in its
 * finite range and at the special values; every table this CPU runs
 * against the scalar definitions, bit for bit: its vector exp (through
 * exp_sum with max 0) over a sweep of float bit patterns, the exp sums,
 * RMSNorm and SiLU over random rows of every tail length.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "test.h"

#define EXP_ULP_BOUND 1.25         /* measured over every float: 1.22 */
#define FINITE_STRIDE 97u          /* bit patterns between two tested floats */
#define ALL_STRIDE 4093u           /* the same over all 2^32 patterns */
#define SWEEP_CHUNK 4099           /* floats per exp_sum call: not a multiple of 8 */
#define EXP_FINITE_MAX 88.7228317f /* the largest float whose exp is finite */
#define ROW_CASES 200
#define MAX_ROW 700
#define FLOAT_MANT_BITS 23
#define SUBNORMAL_EXP (-149) /* the exponent of the smallest subnormal */

/* Two NaN sums count as equal: which of two NaNs an add returns depends
 * on the compiler's operand order, and either makes the softmax all NaN. */
static int same_double(double a, double b)
{
    uint64_t x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    return x == y || (isnan(a) && isnan(b));
}

/* |got - want| in units of the float spacing at want. */
static double ulps(float got, double want)
{
    int e;
    frexp(want, &e);
    const int ulp_exp = e - 1 - FLOAT_MANT_BITS;
    return fabs((double)got - want) / ldexp(1.0, ulp_exp < SUBNORMAL_EXP ? SUBNORMAL_EXP : ulp_exp);
}

/* Calls fn(x) for every stride-th float bit pattern from lo to hi. */
static void sweep_bits(uint32_t lo, uint32_t hi, uint32_t stride, void (*fn)(float, void *),
                       void *arg)
{
    for (uint64_t b = lo; b <= hi; b += stride) fn(bn_float_of_bits((uint32_t)b), arg);
}

static void worst_ulps(float x, void *arg)
{
    double *worst = arg;
    const double u = ulps(bn_expf(x), exp((double)x));
    if (u > *worst) *worst = u;
}

TEST(rows_expf_within_bound_over_its_range)
{
    double worst = 0.0;
    sweep_bits(0, bn_bits_of_float(EXP_FINITE_MAX), FINITE_STRIDE, worst_ulps, &worst);
    sweep_bits(bn_bits_of_float(-0.0f), bn_bits_of_float(BN_EXP_MIN), FINITE_STRIDE, worst_ulps,
               &worst);
    CHECK_MSG(worst <= EXP_ULP_BOUND, "worst error %.3f ulp", worst);
}

TEST(rows_expf_special_values)
{
    CHECK(isnan(bn_expf(NAN)));
    CHECK(same_bits(bn_expf(-INFINITY), 0.0f));
    CHECK(bn_expf(INFINITY) == INFINITY);
    CHECK(bn_expf(0.0f) == 1.0f && bn_expf(-0.0f) == 1.0f);
    CHECK(same_bits(bn_expf(-104.5f), 0.0f) && same_bits(bn_expf(-103.98f), 0.0f));
    CHECK(bn_expf(-103.0f) > 0.0f); /* a subnormal, not flushed */
    CHECK(bn_expf(89.5f) == INFINITY && bn_expf(88.73f) == INFINITY);
    CHECK(isfinite(bn_expf(88.72f)) && bn_expf(88.72f) > 3.3e38f);
}

/* ----------------------------------------------- every table vs scalar */

typedef struct {
    const bn_kernels *k;
    float in[SWEEP_CHUNK], got[SWEEP_CHUNK], want[SWEEP_CHUNK];
    int n, bad;
} exp_sweep;

/* Runs the table's exp_sum (max 0, so x - max = x) over the chunk and the
 * scalar one, comparing every exp and the sums bit for bit. */
static void flush_chunk(exp_sweep *s)
{
    memcpy(s->got, s->in, (size_t)s->n * sizeof *s->in);
    memcpy(s->want, s->in, (size_t)s->n * sizeof *s->in);
    const double sum = s->k->exp_sum(s->got, s->n, 0.0f);
    const double want = bn_kernels_scalar.exp_sum(s->want, s->n, 0.0f);
    for (int i = 0; i < s->n; i++)
        if (!same_bits(s->got[i], s->want[i]) && s->bad++ < 3)
            CHECK_MSG(0, "%s: exp(%a) = %a, scalar %a", s->k->name, s->in[i], s->got[i],
                      s->want[i]);
    if (!same_double(sum, want) && s->bad++ < 3)
        CHECK_MSG(0, "%s: exp sum %a, scalar %a", s->k->name, sum, want);
    s->n = 0;
}

static void add_to_chunk(float x, void *arg)
{
    exp_sweep *s = arg;
    s->in[s->n++] = x;
    if (s->n == SWEEP_CHUNK) flush_chunk(s);
}

TEST(rows_every_table_exp_bit_exact)
{
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n_tables = bn_kernels_available(t, BN_KERNELS_MAX);
    exp_sweep *s = calloc(1, sizeof *s);
    for (int i = 0; i < n_tables; i++) {
        s->k = t[i];
        sweep_bits(0, bn_bits_of_float(BN_EXP_MAX), FINITE_STRIDE, add_to_chunk, s);
        sweep_bits(bn_bits_of_float(-0.0f), bn_bits_of_float(BN_EXP_MIN), FINITE_STRIDE,
                   add_to_chunk, s);
        sweep_bits(1, UINT32_MAX, ALL_STRIDE, add_to_chunk, s); /* infs, NaNs, huge */
        const float special[] = {INFINITY, -INFINITY,  NAN,        -NAN,   0.0f,
                                 -0.0f,    BN_EXP_MIN, BN_EXP_MAX, 88.73f, -103.98f};
        for (size_t j = 0; j < sizeof special / sizeof *special; j++) add_to_chunk(special[j], s);
        flush_chunk(s);
    }
    free(s);
}

static void random_row(float *x, int n, float range)
{
    for (int i = 0; i < n; i++) x[i] = rng_float(-range, range);
}

TEST(rows_every_table_exp_sum_rmsnorm_silu_bit_exact)
{
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n_tables = bn_kernels_available(t, BN_KERNELS_MAX);
    float x[MAX_ROW], w[MAX_ROW], up[MAX_ROW], got[MAX_ROW], want[MAX_ROW];
    rng_seed(20);
    for (int c = 0; c < ROW_CASES; c++) {
        const int n = c < 2 * BN_SUM_LANES ? c + 1 : rng_int(1, MAX_ROW);
        const float range = powf(10.0f, (float)rng_int(-3, 2));
        random_row(x, n, range);
        random_row(w, n, 2.0f);
        random_row(up, n, 2.0f);
        if (c % 5 == 0) x[rng_int(0, n - 1)] = c % 10 ? -INFINITY : 90.0f;
        const float max = x[rng_int(0, n - 1)];
        for (int i = 0; i < n_tables; i++) {
            memcpy(got, x, sizeof x);
            memcpy(want, x, sizeof x);
            const double sum = t[i]->exp_sum(got, n, max);
            const double sum_want = bn_kernels_scalar.exp_sum(want, n, max);
            CHECK_MSG(same_double(sum, sum_want) && !memcmp(got, want, (size_t)n * sizeof *got),
                      "%s exp_sum, case %d (n %d)", t[i]->name, c, n);
            t[i]->rmsnorm(got, x, w, n, 1e-5f);
            bn_kernels_scalar.rmsnorm(want, x, w, n, 1e-5f);
            CHECK_MSG(!memcmp(got, want, (size_t)n * sizeof *got), "%s rmsnorm, case %d (n %d)",
                      t[i]->name, c, n);
            memcpy(got, x, sizeof x);
            t[i]->rmsnorm(got, got, w, n, 1e-5f); /* in place, as the FFN sub-norm runs */
            CHECK_MSG(!memcmp(got, want, (size_t)n * sizeof *got), "%s rmsnorm in place, case %d",
                      t[i]->name, c);
            memcpy(got, x, sizeof x);
            memcpy(want, x, sizeof x);
            t[i]->silu_mul(got, up, n);
            bn_kernels_scalar.silu_mul(want, up, n);
            CHECK_MSG(!memcmp(got, want, (size_t)n * sizeof *got), "%s silu_mul, case %d (n %d)",
                      t[i]->name, c, n);
        }
    }
}

/* The documented order (rows.h, BN_SUM_LANES), written out for 19 values:
 * element i into lane i % 8, lanes added from 0 up. */
TEST(rows_scalar_sums_follow_the_lane_order)
{
    enum { N = 19 };
    float x[N], e[N], sq[N];
    rng_seed(21);
    random_row(x, N, 3.0f);
    double lane_e[BN_SUM_LANES] = {0}, lane_sq[BN_SUM_LANES] = {0};
    for (int i = 0; i < N; i++) {
        lane_e[i % BN_SUM_LANES] += bn_expf(x[i] - 1.0f);
        lane_sq[i % BN_SUM_LANES] += (double)(x[i] * x[i]);
    }
    double want_e = 0.0, want_sq = 0.0;
    for (int l = 0; l < BN_SUM_LANES; l++) {
        want_e += lane_e[l];
        want_sq += lane_sq[l];
    }
    memcpy(e, x, sizeof x);
    CHECK(same_double(bn_kernels_scalar.exp_sum(e, N, 1.0f), want_e));
    const float w[N] = {[0] = 1.0f};
    bn_kernels_scalar.rmsnorm(sq, x, w, N, 0.0f);
    CHECK(same_bits(sq[0], x[0] * (1.0f / sqrtf((float)(want_sq / N)))));
}
