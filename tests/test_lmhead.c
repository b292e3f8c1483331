/*
 * test_lmhead.c - the products of a Q8_0 / Q6_K output layer (--lm-head,
 * kernels.h): the portable reference of quants.c against its definition
 * (group scales, rounding, clamping) and a naive double product, then every
 * kernel table this CPU supports against that reference, bit for bit, over
 * random shapes, row ranges and extreme values.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "kernels/quants.h"
#include "test.h"

#define PROPERTY_CASES 200
#define MAX_ROWS 24
#define MAX_Q8_0_BLOCKS 100 /* up to 3200 columns: several passes and a partial one */
#define MAX_Q6_K_BLOCKS 11
#define SENTINEL (-12345.0f) /* outputs outside [r0, r1) must keep it */

/* ------------------------------------------------------------- helpers */

static void put_f16(uint8_t *p, uint16_t h) { memcpy(p, &h, sizeof h); }

/* A weight block scale: mostly ordinary, sometimes zero, subnormal, the
 * largest finite half or infinite (which makes NaN lanes: the kernels must
 * agree on those too). */
static uint16_t random_scale(void)
{
    switch (rng_int(0, 15)) {
    case 0: return 0x0000;
    case 1: return (uint16_t)rng_int(1, 0x3ff) | (rng_int(0, 1) ? 0x8000 : 0); /* subnormal */
    case 2: return 0x7bff;                                                     /* 65504 */
    case 3: return rng_int(0, 3) ? 0x7bff : 0x7c00;                            /* rarely inf */
    default: return bn_f32_to_f16(rng_float(-0.05f, 0.05f));
    }
}

/* Activations of one kind: ordinary, wide range, ties, tiny, huge, with
 * zeros, infinities and NaNs. */
static float random_activation(int kind)
{
    switch (kind) {
    case 0: return rng_float(-3.0f, 3.0f);
    case 1: return ldexpf(rng_float(-1.0f, 1.0f), rng_int(-140, 127)); /* subnormal .. huge */
    case 2: return 0.5f * (float)rng_int(-254, 254); /* with max 127: x * 127/max ties at .5 */
    case 3: return rng_float(-1e-31f, 1e-31f);       /* groups under BN_Q8_TINY */
    default: {
        const float special[] = {0.0f,      -0.0f, FLT_MAX, -FLT_MAX, INFINITY,
                                 -INFINITY, NAN,   FLT_MIN, 127.0f,   -127.0f};
        return rng_int(0, 3) ? rng_float(-1.0f, 1.0f) : special[rng_int(0, 9)];
    }
    }
}

static void random_activations(float *x, int n)
{
    const int kind = rng_int(0, 4);
    for (int i = 0; i < n; i++) x[i] = random_activation(kind);
    if (kind == 2) x[rng_int(0, n - 1)] = 127.0f;
}

static void random_q8_0_rows(uint8_t *w, int rows, int nb)
{
    for (int b = 0; b < rows * nb; b++) {
        uint8_t *block = w + (size_t)b * BN_Q8_0_BYTES;
        put_f16(block, random_scale());
        for (int i = 2; i < BN_Q8_0_BYTES; i++) block[i] = (uint8_t)rng_next(); /* -128 too */
    }
}

static void random_q6_k_rows(uint8_t *w, int rows, int nb)
{
    for (int b = 0; b < rows * nb; b++) {
        uint8_t *block = w + (size_t)b * BN_Q6_K_BYTES;
        for (int i = 0; i < BN_Q6_K_D; i++) block[i] = (uint8_t)rng_next(); /* scales -128 too */
        put_f16(block + BN_Q6_K_D, random_scale());
    }
}

/* Levels anywhere in [-127, 127], with their sums. */
static void random_levels(bn_q8act *a)
{
    for (int i = 0; i < a->n; i++) a->q[i] = (int8_t)rng_int(-127, 127);
    for (int s = 0; s < a->n / BN_Q8_SUM_SPAN; s++) {
        int sum = 0;
        for (int i = 0; i < BN_Q8_SUM_SPAN; i++) sum += a->q[s * BN_Q8_SUM_SPAN + i];
        a->sums[s] = (int16_t)sum;
    }
}

/* a for n values; nonzero (with a failed check) out of memory. */
static int alloc_act(bn_q8act *a, int n)
{
    const int failed = bn_q8act_alloc(a, n) != 0;
    CHECK_MSG(!failed, "out of memory for %d activations", n);
    return failed;
}

static int same_bytes(const void *a, const void *b, size_t n) { return memcmp(a, b, n) == 0; }

/* ----------------------------------------------------- the reference */

TEST(lmhead_quantize_ref_definition)
{
    enum { N = 4 * BN_Q8_GROUP };
    float x[N];
    for (int i = 0; i < N; i++) x[i] = 0.0f;
    /* group 0: max 127, so levels are x itself, ties rounded to even */
    x[0] = 127.0f, x[1] = 2.5f, x[2] = 3.5f, x[3] = -2.5f, x[4] = -0.5f, x[5] = 0.7f;
    /* group 1: a NaN clamps to -127; the largest magnitude sets the scale */
    x[32] = 1.0f, x[33] = NAN, x[34] = 254.0f, x[35] = -254.0f;
    /* group 2: under BN_Q8_TINY: all zero; group 3 all zero */
    x[64] = 1e-31f, x[65] = -5e-32f;
    bn_q8act a;
    if (alloc_act(&a, N)) return;
    bn_q8act_quantize_ref(x, N, &a);
    CHECK(a.d[0] == 1.0f && a.q[0] == 127 && a.q[1] == 2 && a.q[2] == 4 && a.q[3] == -2);
    CHECK(a.q[4] == 0 && a.q[5] == 1 && a.q[6] == 0);
    CHECK(a.d[1] == 254.0f / 127.0f && a.q[32] == 0 && a.q[33] == -127);
    CHECK(a.q[34] == 127 && a.q[35] == -127);
    CHECK(a.q[64] == 0 && a.q[65] == 0 && a.d[2] == 1e-31f / 127.0f);
    CHECK(a.d[3] == 0.0f && a.q[96] == 0);
    CHECK(a.sums[0] == 127 + 2 + 4 - 2 + 1 && a.sums[1] == 0 && a.sums[2] == 0 - 127 + 127 - 127);
    bn_q8act_free(&a);
}

/* Every level within half a step of x / d (the round trip of a group). */
TEST(lmhead_quantize_ref_round_trip)
{
    enum { N = 40 * BN_Q8_GROUP };
    float x[N];
    rng_seed(7);
    for (int i = 0; i < N; i++) {
        const int magnitude = 1 + i / 64; /* groups of many sizes */
        x[i] = rng_float(-4.0f, 4.0f) * (float)magnitude;
    }
    bn_q8act a;
    if (alloc_act(&a, N)) return;
    bn_q8act_quantize_ref(x, N, &a);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += fabs((double)a.q[i] * a.d[i / BN_Q8_GROUP] - x[i]) > 0.5001 * a.d[i / BN_Q8_GROUP];
    CHECK_MSG(bad == 0, "%d values off by more than half a step", bad);
    bn_q8act_free(&a);
}

/* The reference products against double sums over dequantized weights and
 * activations. */
TEST(lmhead_matvec_ref_matches_naive_product)
{
    enum { COLS = 768, ROWS = 5 };
    static uint8_t w8[ROWS * COLS / BN_Q8_0_BLOCK * BN_Q8_0_BYTES];
    static uint8_t w6[ROWS * COLS / BN_Q6_K_BLOCK * BN_Q6_K_BYTES];
    float x[COLS], w[COLS], y[ROWS];
    rng_seed(11);
    for (int i = 0; i < COLS; i++) x[i] = rng_float(-2.0f, 2.0f);
    for (size_t i = 0; i < sizeof w8; i++) w8[i] = (uint8_t)rng_next();
    for (size_t i = 0; i < sizeof w6; i++) w6[i] = (uint8_t)rng_next();
    for (int b = 0; b < ROWS * COLS / BN_Q8_0_BLOCK; b++)
        put_f16(w8 + (size_t)b * BN_Q8_0_BYTES, bn_f32_to_f16(rng_float(-0.01f, 0.01f)));
    for (int b = 0; b < ROWS * COLS / BN_Q6_K_BLOCK; b++)
        put_f16(w6 + (size_t)b * BN_Q6_K_BYTES + BN_Q6_K_D, bn_f32_to_f16(0.001f));
    bn_q8act a;
    if (alloc_act(&a, COLS)) return;
    bn_q8act_quantize_ref(x, COLS, &a);
    const struct {
        uint32_t type;
        const uint8_t *rows;
        bn_q8_matvec_fn matvec;
    } cases[] = {{GGML_TYPE_Q8_0, w8, bn_q8_0_matvec_ref},
                 {GGML_TYPE_Q6_K, w6, bn_q6_k_matvec_ref}};
    for (int k = 0; k < 2; k++) {
        const size_t row_bytes = bn_quant_row_bytes(cases[k].type, COLS);
        cases[k].matvec(cases[k].rows, COLS, &a, y, 0, ROWS);
        for (int r = 0; r < ROWS; r++) {
            bn_dequantize_row(cases[k].type, cases[k].rows + r * row_bytes, w, COLS);
            double dot = 0, mag = 0;
            for (int i = 0; i < COLS; i++) {
                const double term = (double)w[i] * a.q[i] * a.d[i / BN_Q8_GROUP];
                dot += term;
                mag += fabs(term);
            }
            CHECK_MSG(fabs(y[r] - dot) <= 1e-5 * mag, "type %u row %d: %g vs %g", cases[k].type, r,
                      y[r], dot);
        }
    }
    bn_q8act_free(&a);
}

/* ------------------------------------------- every table, bit for bit */

TEST(lmhead_simd_quantize_bit_exact)
{
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n_tables = bn_kernels_available(t, BN_KERNELS_MAX);
    enum { MAX_N = 64 * BN_Q8_GROUP };
    static float x[MAX_N];
    bn_q8act want = {0}, got = {0};
    const int ok = !alloc_act(&want, MAX_N) && !alloc_act(&got, MAX_N);
    for (int c = 0; ok && c < PROPERTY_CASES; c++) {
        rng_seed(1000 + (uint64_t)c);
        const int n = BN_Q8_GROUP * rng_int(1, MAX_N / BN_Q8_GROUP);
        random_activations(x, n);
        bn_q8act_quantize_ref(x, n, &want);
        for (int i = 0; i < n_tables; i++) {
            memset(got.q, 0x55, MAX_N);
            t[i]->q8_quantize(x, n, &got);
            CHECK_MSG(
                got.n == n && same_bytes(want.q, got.q, (size_t)n) &&
                    same_bytes(want.d, got.d, (size_t)n / BN_Q8_GROUP * sizeof(float)) &&
                    same_bytes(want.sums, got.sums, (size_t)n / BN_Q8_SUM_SPAN * sizeof(int16_t)),
                "%s q8_quantize, case %d (n %d)", t[i]->name, c, n);
        }
    }
    bn_q8act_free(&want);
    bn_q8act_free(&got);
}

/* One random case of a product: table kernel vs reference. */
static void compare_matvec(const char *table, const char *what, bn_q8_matvec_fn ref,
                           bn_q8_matvec_fn got_fn, const uint8_t *w, int rows, int cols,
                           const bn_q8act *a, int case_no)
{
    float want[MAX_ROWS], got[MAX_ROWS];
    const int r0 = rng_int(0, rows - 1), r1 = rng_int(r0 + 1, rows);
    for (int r = 0; r < rows; r++) want[r] = got[r] = SENTINEL;
    ref(w, cols, a, want, r0, r1);
    got_fn(w, cols, a, got, r0, r1);
    CHECK_MSG(same_bytes(want, got, sizeof want[0] * (size_t)rows),
              "%s %s, case %d (%dx%d, rows %d..%d)", table, what, case_no, rows, cols, r0, r1);
}

TEST(lmhead_simd_products_bit_exact)
{
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n_tables = bn_kernels_available(t, BN_KERNELS_MAX);
    const int max_cols = MAX_Q8_0_BLOCKS * BN_Q8_0_BLOCK;
    uint8_t *w8 = malloc((size_t)MAX_ROWS * MAX_Q8_0_BLOCKS * BN_Q8_0_BYTES);
    uint8_t *w6 = malloc((size_t)MAX_ROWS * MAX_Q6_K_BLOCKS * BN_Q6_K_BYTES);
    float *x = malloc((size_t)max_cols * sizeof *x);
    bn_q8act a = {0};
    CHECK(w8 && w6 && x);
    const int ok = w8 && w6 && x && !alloc_act(&a, max_cols);
    for (int c = 0; ok && c < PROPERTY_CASES; c++) {
        rng_seed(5000 + (uint64_t)c);
        const int rows = rng_int(1, MAX_ROWS);
        const int nb8 = rng_int(1, MAX_Q8_0_BLOCKS), nb6 = rng_int(1, MAX_Q6_K_BLOCKS);
        random_q8_0_rows(w8, rows, nb8);
        random_q6_k_rows(w6, rows, nb6);
        random_activations(x, max_cols);
        bn_q8act_quantize_ref(x, max_cols, &a);
        if (c % 4 == 0) /* also full-range levels, not only quantized ones */
            random_levels(&a);
        for (int i = 0; i < n_tables; i++) {
            compare_matvec(t[i]->name, "q8_0_matvec", bn_q8_0_matvec_ref, t[i]->q8_0_matvec, w8,
                           rows, nb8 * BN_Q8_0_BLOCK, &a, c);
            compare_matvec(t[i]->name, "q6_k_matvec", bn_q6_k_matvec_ref, t[i]->q6_k_matvec, w6,
                           rows, nb6 * BN_Q6_K_BLOCK, &a, c);
        }
    }
    free(w8);
    free(w6);
    free(x);
    bn_q8act_free(&a);
}
