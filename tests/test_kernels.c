/*
 * test_kernels.c - the compute kernels (kernels.h): the scalar kernel
 * against naive float/int references (activation rounding, the 1e-5
 * floor, F16 conversion, the ternary epilogue), I2_S -> QK256 decoding,
 * kernel selection, and every SIMD table this CPU supports against the
 * scalar one, bit for bit, over a few hundred random and extreme cases.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "test.h"

#define PROPERTY_CASES 240
#define MAX_TEST_COLS 1300 /* several blocks, most cases with a padded last one */
#define MAX_TEST_ROWS 40
#define F16_EXP_MASK 0x7c00u /* all-ones exponent: inf or nan */
#define F16_SIGN 0x8000u
#define F16_COUNT 65536

/* ------------------------------------------------------------- helpers */

/* The tables this CPU can run besides the scalar one; returns the count. */
static int simd_tables(const bn_kernels **out)
{
    const bn_kernels *all[BN_KERNELS_MAX];
    const int n = bn_kernels_available(all, BN_KERNELS_MAX);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(all[i]->name, "scalar") != 0) out[m++] = all[i];
    return m;
}

/* The reference rounding (docs/FORWARD.md, Activation quantization):
 * adding 1.5 * 2^23 leaves round-half-even(v) in the low mantissa bits.
 * Valid for |v| < 2^22. */
static int nearest_int_ref(float v)
{
    float f = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* ---------------------------------------------------------- selection */

TEST(kernels_available_lists_best_first_and_scalar_last)
{
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n = bn_kernels_available(t, BN_KERNELS_MAX);
    CHECK(n >= 1);
    if (n < 1) return;
    CHECK(!strcmp(t[n - 1]->name, "scalar"));
    char err[256] = "";
    CHECK(bn_kernels_select(NULL, err, sizeof err) == t[0]);
    CHECK(bn_kernels_select("auto", err, sizeof err) == t[0]);
    CHECK(bn_kernels_select("scalar", err, sizeof err) == t[n - 1]);
    char names[256];
    bn_kernels_available_names(names, sizeof names);
    CHECK_MSG(strstr(names, "scalar") != NULL, "names: %s", names);
    CHECK_MSG(strncmp(names, t[0]->name, strlen(t[0]->name)) == 0, "names: %s", names);
    printf("    kernels on this CPU: %s\n", names); /* tools/ci-neon.sh reads it */
}

static int is_available(const bn_kernels *k)
{
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n = bn_kernels_available(t, BN_KERNELS_MAX);
    for (int i = 0; i < n; i++)
        if (t[i] == k) return 1;
    return 0;
}

TEST(kernels_select_by_name_or_family)
{
    static const char *names[] = {"avx2", "avx512",       "avx512-vnni", "avx512-bw",
                                  "neon", "neon-dotprod", "neon-plain",  "avx-vnni"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char err[256] = "";
        const bn_kernels *k = bn_kernels_select(names[i], err, sizeof err);
        if (k) {
            const size_t len = strlen(names[i]);
            /* the table itself, or the best of the family "name-..." */
            CHECK_MSG(!strcmp(k->name, names[i]) ||
                          (!strncmp(k->name, names[i], len) && k->name[len] == '-'),
                      "'%s' gave '%s'", names[i], k->name);
            CHECK(is_available(k));
        } else {
            CHECK_MSG(strstr(err, "is not supported by this CPU (available: ") != NULL, "'%s': %s",
                      names[i], err);
            CHECK_MSG(strstr(err, names[i]) != NULL, "%s", err);
        }
    }
    char err[256] = "";
    CHECK(bn_kernels_select("sse9", err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "unknown kernel 'sse9'") && strstr(err, "auto") &&
                  strstr(err, "avx512-vnni") && strstr(err, "neon-plain"),
              "%s", err);
}

/* Every table built for this architecture sets the entries table.h does
 * not mark optional, and both Q16 entries or neither (the four Q2_0 /
 * Q1_0 entries likewise), whether or not this
 * CPU can run it: a table that no machine here runs (avx-vnni, the
 * AVX-512 ones) is checked too. */
static int table_complete(const bn_kernels *k)
{
    return k->name && k->quantize && k->qk256_matvec && k->qk256_matmat && k->f16_matvec &&
           k->f16_matmat && k->attn_scores && k->attn_values && k->attn_scores_f16 &&
           k->attn_values_f16 && k->exp_sum && k->rmsnorm && k->silu_mul &&
           !k->q16_matvec == !k->q16_matmat && !k->q2_matvec == !k->b1_matvec &&
           !k->q2_matvec == !k->q2_matmat && !k->q2_matvec == !k->b1_matmat;
}

/* Every entry set, the optional ones included. */
static int every_entry_set(const bn_kernels *k)
{
    return table_complete(k) && k->q16_matvec && k->q8_quantize && k->q8_0_matvec &&
           k->q6_k_matvec && k->q2_matvec && k->q2_matmat;
}

TEST(kernels_every_built_table_is_complete)
{
    const bn_kernels *built[] = {
        &bn_kernels_scalar,
#if defined(__x86_64__)
        &bn_kernels_avx2,
        &bn_kernels_avx_vnni,
        &bn_kernels_avx512_vnni,
        &bn_kernels_avx512_bw,
#endif
#if defined(__aarch64__)
        &bn_kernels_neon_dotprod,
        &bn_kernels_neon_plain,
#endif
    };
    for (size_t i = 0; i < sizeof built / sizeof built[0]; i++)
        CHECK_MSG(table_complete(built[i]), "table %s lacks an entry",
                  built[i]->name ? built[i]->name : "(unnamed)");
    CHECK(every_entry_set(&bn_kernels_scalar)); /* the definition has every entry */
}

/* The tables the engine gets are complete (kernels.c): an optional entry
 * its file leaves NULL is the scalar table's, the others its own; a tile
 * kernel that pads no tile runs from 2 tokens, one that pads from more. */
TEST(kernels_picked_tables_are_complete)
{
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n = bn_kernels_available(t, BN_KERNELS_MAX);
    for (int i = 0; i < n; i++) {
        CHECK_MSG(every_entry_set(t[i]), "picked table %s lacks an entry", t[i]->name);
        CHECK_MSG(t[i]->qk256_matmat_from > 2 - t[i]->matmat_pads_no_tile &&
                      t[i]->q16_matmat_from == 2 && t[i]->grouped_matmat_from == 2,
                  "%s: qk256_matmat from %d tokens, q16_matmat from %d", t[i]->name,
                  t[i]->qk256_matmat_from, t[i]->q16_matmat_from);
        char err[256] = "";
        CHECK(bn_kernels_select(t[i]->name, err, sizeof err) == t[i]);
    }
#if defined(__aarch64__)
    /* no Q16 or lm-head kernels of their own: the scalar ones */
    char err[256] = "";
    const bn_kernels *neon = bn_kernels_select("neon", err, sizeof err);
    if (neon)
        CHECK(neon->q16_matvec == bn_kernels_scalar.q16_matvec &&
              neon->q6_k_matvec == bn_kernels_scalar.q6_k_matvec);
#endif
}

/* avx-vnni is opt-in until tested on hardware (kernels.c): "auto" and
 * "avx2" never pick it, on a CPU that has it or not; by name it is picked
 * exactly where the CPU lists it. */
TEST(kernels_avx_vnni_only_by_name)
{
    char err[256] = "";
    const bn_kernels *k = bn_kernels_select("auto", err, sizeof err);
    CHECK(k && strcmp(k->name, "avx-vnni") != 0);
    k = bn_kernels_select("avx2", err, sizeof err);
    CHECK_MSG(!k || !strcmp(k->name, "avx2"), "'avx2' gave '%s'", k ? k->name : "");
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n = bn_kernels_available(t, BN_KERNELS_MAX);
    const bn_kernels *listed = NULL;
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i]->name, "avx-vnni")) listed = t[i];
    CHECK(bn_kernels_select("avx-vnni", err, sizeof err) == listed);
    if (!listed) printf("    no AVX-VNNI on this CPU: the avx-vnni table is not tested here\n");
}

/* ------------------------------------------------- scalar quantization */

/* Checks a against the naive definition (docs/FORWARD.md, Activation
 * quantization) for x[0..n). */
static void check_quantized_ref(const float *x, int n, const bn_qact *a)
{
    double max = 1e-5;
    for (int i = 0; i < n; i++) max = fabs((double)x[i]) > max ? fabs((double)x[i]) : max;
    const float s = (float)(127.0 / max);
    CHECK_MSG(same_bits(a->scale, s), "scale %g != %g", a->scale, s);
    int32_t total = 0;
    for (int b = 0; b < a->n_blocks; b++) {
        int32_t bsum = 0;
        for (int i = b * QK256_BLOCK; i < (b + 1) * QK256_BLOCK; i++) {
            int want = 0;
            if (i < n) {
                want = nearest_int_ref(x[i] * s);
                want = want > 127 ? 127 : want < -128 ? -128 : want;
            }
            if (a->q[i] != want) {
                CHECK_MSG(0, "q[%d] = %d, want %d (x = %.9g)", i, a->q[i], want, x[i]);
                return;
            }
            bsum += want;
        }
        CHECK_EQ_INT(a->block_sums[b], bsum);
        total += bsum;
    }
    CHECK_EQ_INT(a->sum, total);
}

TEST(kernels_scalar_quantize_rounds_half_to_even)
{
    /* max|x| = 127 makes the scale exactly 1, so x*s = x */
    const float x[] = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, -127.0f, 3.49f};
    const int want[] = {127, 0, 2, 2, 0, -2, -2, 126, -127, 3};
    const int n = (int)(sizeof x / sizeof x[0]);
    bn_qact a;
    CHECK(bn_qact_alloc(&a, n) == 0);
    bn_kernels_scalar.quantize(x, n, &a);
    CHECK(a.scale == 1.0f);
    for (int i = 0; i < n; i++)
        CHECK_MSG(a.q[i] == want[i], "x=%g q=%d want %d", x[i], a.q[i], want[i]);
    check_quantized_ref(x, n, &a);
    bn_qact_free(&a);
}

TEST(kernels_scalar_quantize_extremes_stay_in_int8)
{
    /* the largest magnitude maps to +-127 (never -128), the rest in range */
    float x[300];
    rng_seed(11);
    for (int i = 0; i < 300; i++) x[i] = rng_float(-1000.0f, 1000.0f);
    x[17] = -4096.0f;
    x[250] = 4095.5f;
    bn_qact a;
    CHECK(bn_qact_alloc(&a, 300) == 0);
    bn_kernels_scalar.quantize(x, 300, &a);
    CHECK_EQ_INT(a.q[17], -127);
    CHECK_EQ_INT(a.q[250], 127);
    CHECK_EQ_INT(a.n_blocks, 2);
    check_quantized_ref(x, 300, &a);
    bn_qact_free(&a);
}

TEST(kernels_scalar_quantize_floor_of_1e5)
{
    /* below the floor, the scale is 127 / 1e-5 and q = x * 1.27e7 rounded */
    const float x[] = {5e-6f, -2.5e-6f, 0.0f, 1e-7f, -9e-6f};
    bn_qact a;
    CHECK(bn_qact_alloc(&a, 5) == 0);
    bn_kernels_scalar.quantize(x, 5, &a);
    CHECK(same_bits(a.scale, (float)(127.0 / 1e-5)));
    CHECK_EQ_INT(a.q[0], 64);  /* 63.5 -> even */
    CHECK_EQ_INT(a.q[1], -32); /* -31.75 */
    CHECK_EQ_INT(a.q[2], 0);
    CHECK_EQ_INT(a.q[3], 1);    /* 1.27 */
    CHECK_EQ_INT(a.q[4], -114); /* -114.3 */
    check_quantized_ref(x, 5, &a);
    const float zeros[3] = {0};
    bn_kernels_scalar.quantize(zeros, 3, &a);
    CHECK(same_bits(a.scale, (float)(127.0 / 1e-5)));
    CHECK_EQ_INT(a.sum, 0);
    bn_qact_free(&a);
}

TEST(kernels_scalar_quantize_random_matches_reference)
{
    rng_seed(12);
    for (int c = 0; c < 50; c++) {
        const int n = rng_int(1, 900);
        const float range = powf(10.0f, (float)rng_int(-7, 6));
        float *x = malloc((size_t)n * sizeof *x);
        for (int i = 0; i < n; i++) x[i] = rng_float(-range, range);
        bn_qact a;
        CHECK(bn_qact_alloc(&a, n) == 0);
        memset(a.q, 0x7f, (size_t)a.n_blocks * QK256_BLOCK); /* padding must be rewritten */
        bn_kernels_scalar.quantize(x, n, &a);
        check_quantized_ref(x, n, &a);
        bn_qact_free(&a);
        free(x);
    }
}

/* ----------------------------------------------------- NaN activations */

#define NAN_CASE_COLS 301 /* a padded second block; tails after 4, 8 and 16 lanes */

/* kernels.h: a NaN activation gives q = 0 and is skipped by max|x|, so
 * every table must quantize x exactly as the reference quantizes x with
 * zeros in place of its NaNs. */
static void check_nan_quantized(const bn_kernels *k, const float *x, const float *zeroed)
{
    bn_qact a;
    CHECK(bn_qact_alloc(&a, NAN_CASE_COLS) == 0);
    memset(a.q, 0x7f, (size_t)a.n_blocks * QK256_BLOCK);
    k->quantize(x, NAN_CASE_COLS, &a);
    int nan_ok = 1;
    for (int i = 0; i < NAN_CASE_COLS && nan_ok; i++)
        if (isnan(x[i]) && a.q[i] != 0) {
            CHECK_MSG(0, "%s: NaN at %d quantized to %d, not 0", k->name, i, a.q[i]);
            nan_ok = 0;
        }
    if (nan_ok) check_quantized_ref(zeroed, NAN_CASE_COLS, &a);
    bn_qact_free(&a);
}

TEST(kernels_every_table_quantizes_nan_to_zero)
{
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n_tables = bn_kernels_available(t, BN_KERNELS_MAX);
    float x[NAN_CASE_COLS], zeroed[NAN_CASE_COLS];
    rng_seed(16);
    /* NaNs of both signs first, inside the vector loops and in the tails;
     * then a vector of NaNs only (the scale of the 1e-5 floor, all q 0) */
    for (int all_nan = 0; all_nan <= 1; all_nan++) {
        for (int i = 0; i < NAN_CASE_COLS; i++) {
            const int is_nan = all_nan || i % 37 == 0 || i == NAN_CASE_COLS - 1;
            x[i] = is_nan ? (i % 2 ? NAN : -NAN) : rng_float(-4.0f, 4.0f);
            zeroed[i] = is_nan ? 0.0f : x[i];
        }
        for (int k = 0; k < n_tables; k++) check_nan_quantized(t[k], x, zeroed);
    }
}

/* ------------------------------------------------------ F16 conversion */

/* Naive decode: sign * mantissa * 2^exponent, by the IEEE binary16 rules. */
static double f16_value_ref(uint16_t h)
{
    const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    const double mag = exp == 0 ? ldexp(mant, -24) : ldexp(1024 + mant, exp - 25);
    return (h & F16_SIGN) ? -mag : mag;
}

TEST(kernels_f16_to_f32_all_halves)
{
    for (int i = 0; i < F16_COUNT; i++) {
        const uint16_t h = (uint16_t)i;
        const float f = bn_f16_to_f32(h);
        if ((h & F16_EXP_MASK) == F16_EXP_MASK) {
            if (h & 0x3ff)
                CHECK_MSG(isnan(f), "0x%04x -> %g", i, f);
            else
                CHECK_MSG(isinf(f) && (f < 0) == !!(h & F16_SIGN), "0x%04x -> %g", i, f);
        } else {
            CHECK_MSG((double)f == f16_value_ref(h) && !!signbit(f) == !!(h & F16_SIGN),
                      "0x%04x -> %g, want %g", i, f, f16_value_ref(h));
        }
    }
}

TEST(kernels_f16_round_trip_all_halves)
{
    for (int i = 0; i < F16_COUNT; i++) {
        const uint16_t h = (uint16_t)i, back = bn_f32_to_f16(bn_f16_to_f32(h));
        if ((h & F16_EXP_MASK) == F16_EXP_MASK && (h & 0x3ff)) /* nan stays a nan, same sign */
            CHECK_MSG((back & F16_EXP_MASK) == F16_EXP_MASK && (back & 0x3ff) &&
                          (back & F16_SIGN) == (h & F16_SIGN),
                      "0x%04x -> 0x%04x", i, back);
        else
            CHECK_MSG(back == h, "0x%04x -> 0x%04x", i, back);
    }
}

TEST(kernels_f32_to_f16_rounds_half_to_even)
{
    /* between each pair of neighbouring positive halves (subnormal, normal,
     * the largest finite and infinity): the midpoint goes to the even one,
     * anything off the midpoint to the nearer */
    for (int h = 0; h < 0x7c00; h++) {
        const double lo = f16_value_ref((uint16_t)h);
        const double hi = h + 1 == 0x7c00 ? 65536.0 : f16_value_ref((uint16_t)(h + 1));
        const float mid = (float)((lo + hi) / 2); /* 12 significant bits: exact */
        const uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
        CHECK_MSG(bn_f32_to_f16(mid) == even, "mid of 0x%04x -> 0x%04x", h, bn_f32_to_f16(mid));
        CHECK_MSG(bn_f32_to_f16(nextafterf(mid, 0.0f)) == h, "below mid of 0x%04x", h);
        CHECK_MSG(bn_f32_to_f16(nextafterf(mid, INFINITY)) == h + 1, "above mid of 0x%04x", h);
        CHECK(bn_f32_to_f16(-mid) == (even | F16_SIGN));
    }
    CHECK(bn_f32_to_f16(1e-8f) == 0); /* under half the smallest subnormal */
    CHECK(bn_f32_to_f16(1e9f) == 0x7c00);
    CHECK(bn_f32_to_f16(-INFINITY) == 0xfc00);
}

/* --------------------------------------------------------- I2_S decode */

/* Stores the I2_S code of element c of row r (docs/FORMAT.md, I2_S: 128-element
 * blocks of 32 bytes, element j in byte j%32 at shift 6 - 2*(j/32)). */
static void i2s_put(uint8_t *src, int cols, int r, int c, int code)
{
    const size_t elem = (size_t)r * cols + c;
    const int j = (int)(elem % 128);
    uint8_t *p = src + elem / 128 * 32 + j % 32;
    const int shift = 6 - 2 * (j / 32);
    *p = (uint8_t)((*p & ~(3 << shift)) | code << shift);
}

TEST(kernels_i2s_decode_hand_made)
{
    /* one byte by hand: bits 7:6 element 0, 5:4 element 32, 3:2 element 64,
     * 1:0 element 96; codes 2, 1, 0, 3 are weights +1, 0, -1 and (unused
     * code 3) 0 */
    uint8_t src[32 + 32] = {0};
    src[0] = 0x93; /* 10 01 00 11 */
    memset(src + 1, 0x55, 31);
    const float scale = 0.625f;
    memcpy(src + 32, &scale, sizeof scale);
    qk256_matrix m;
    CHECK(qk256_alloc(&m, 1, 128, 0) == 0);
    qk256_from_i2s_rows(&m, src, 0, 1);
    CHECK_EQ_INT(qk256_get(&m, 0, 0), 1);
    CHECK_EQ_INT(qk256_get(&m, 0, 32), 0);
    CHECK_EQ_INT(qk256_get(&m, 0, 64), -1);
    CHECK_EQ_INT(qk256_get(&m, 0, 96), 0);
    for (int c = 1; c < 128; c++)
        if (c % 32) CHECK_EQ_INT(qk256_get(&m, 0, c), 0);
    for (int j = 32; j < QK256_BLOCK_BYTES; j++) CHECK_EQ_INT(m.codes[j], 0x55); /* padding */
    CHECK(i2s_tensor_scale(src, 1, 128) == scale);
    qk256_free(&m);
}

TEST(kernels_i2s_decode_random_rows)
{
    enum { ROWS = 5, COLS = 384 }; /* 3 I2_S blocks per row; QK256 pads half a block */
    static const int weight_of_code[4] = {-1, 0, 1, 0};
    uint8_t src[ROWS * COLS / 4 + 32];
    int codes[ROWS][COLS];
    memset(src, 0, sizeof src);
    rng_seed(13);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) {
            codes[r][c] = rng_int(0, 3);
            i2s_put(src, COLS, r, c, codes[r][c]);
        }
    qk256_matrix m;
    CHECK(qk256_alloc(&m, ROWS, COLS, 0) == 0);
    qk256_from_i2s_rows(&m, src, 1, 4); /* a range of rows; 0 and 4 stay zero */
    for (int r = 0; r < ROWS; r++) {
        for (int c = 0; c < QK256_BLOCK * m.blocks_per_row; c++) {
            const int want = r >= 1 && r < 4 && c < COLS ? weight_of_code[codes[r][c]] : 0;
            if (qk256_get(&m, r, c) != want) {
                CHECK_MSG(0, "row %d col %d: %d, want %d", r, c, qk256_get(&m, r, c), want);
                break;
            }
        }
    }
    qk256_free(&m);
}

/* ---------------------------------------------- scalar ternary matvec */

static void random_ternary(qk256_matrix *m, int mode)
{
    for (int r = 0; r < m->rows; r++)
        for (int c = 0; c < m->cols; c++)
            qk256_set(m, r, c, mode == 0 ? rng_int(-1, 1) : mode == 1 ? 1 : -1);
    if (m->block_scales)
        for (int i = 0; i < m->rows * m->blocks_per_row; i++)
            m->block_scales[i] = rng_float(-0.1f, 2.0f);
    m->scale = rng_float(0.01f, 3.0f);
}

TEST(kernels_scalar_matvec_matches_naive_reference)
{
    rng_seed(14);
    for (int c = 0; c < 30; c++) {
        const int rows = rng_int(1, 9), cols = rng_int(1, 800), with_scales = c % 2;
        qk256_matrix w;
        bn_qact a;
        CHECK(qk256_alloc(&w, rows, cols, with_scales) == 0 && bn_qact_alloc(&a, cols) == 0);
        random_ternary(&w, c % 3);
        float *x = malloc((size_t)cols * sizeof *x), y[9];
        for (int i = 0; i < cols; i++) x[i] = rng_float(-5.0f, 5.0f);
        bn_kernels_scalar.quantize(x, cols, &a);
        bn_kernels_scalar.qk256_matvec(&w, &a, y, 0, rows);
        for (int r = 0; r < rows; r++) {
            /* sum(w*q), per block or whole, from the weights one by one */
            float acc = 0.0f;
            int32_t wq = 0;
            for (int b = 0; b < w.blocks_per_row; b++) {
                int32_t bwq = 0;
                for (int k = b * QK256_BLOCK; k < cols && k < (b + 1) * QK256_BLOCK; k++)
                    bwq += qk256_get(&w, r, k) * a.q[k];
                if (with_scales) acc += w.block_scales[r * w.blocks_per_row + b] * (float)bwq;
                wq += bwq;
            }
            const float sumi = (float)(wq + a.sum); /* sum(code*q) = sum(w*q) + sum(q) */
            const float want = with_scales ? acc / a.scale
                                           : (sumi - (float)a.sum) / a.scale * w.scale;
            CHECK_MSG(same_bits(y[r], want), "case %d row %d: %.9g != %.9g", c, r, y[r], want);
        }
        free(x);
        bn_qact_free(&a);
        qk256_free(&w);
    }
}

TEST(kernels_scalar_f16_matvec_lane_order)
{
    /* the lanes of kernels.h written out for 37 columns (2 full steps + 5) */
    enum { COLS = 37 };
    uint16_t w[COLS];
    float x[COLS], y;
    rng_seed(15);
    for (int k = 0; k < COLS; k++) {
        w[k] = bn_f32_to_f16(rng_float(-2.0f, 2.0f));
        x[k] = rng_float(-3.0f, 3.0f);
    }
    bn_kernels_scalar.f16_matvec(w, COLS, x, &y, 0, 1);
    float lane[16] = {0};
    for (int k = 0; k < 32; k++) lane[k % 16] = lane[k % 16] + bn_f16_to_f32(w[k]) * x[k];
    for (int width = 8; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) lane[l] = lane[l] + lane[l + width];
    for (int k = 32; k < COLS; k++) lane[0] = lane[0] + bn_f16_to_f32(w[k]) * x[k];
    CHECK(same_bits(y, lane[0]));
}

/* ----------------------------------------- SIMD tables against scalar */

enum { X_RANDOM, X_ALL_MAX, X_ALL_MIN, X_ALTERNATING, X_TINY, X_ZERO, X_TIES, X_HUGE, X_MODES };

/* Activations of one of the shapes that stress quantization. */
static void fill_activations(float *x, int n, int mode)
{
    const float mag = rng_float(0.5f, 100.0f);
    for (int i = 0; i < n; i++) {
        switch (mode) {
        case X_ALL_MAX: x[i] = mag; break;
        case X_ALL_MIN: x[i] = -mag; break;
        case X_ALTERNATING: x[i] = i % 2 ? mag : -mag; break;
        case X_TINY: x[i] = rng_float(-1e-6f, 1e-6f); break; /* below the floor */
        case X_ZERO: x[i] = 0.0f; break;
        case X_TIES: x[i] = (float)rng_int(-127, 126) + 0.5f; break; /* .5 once scaled by 1 */
        case X_HUGE: x[i] = rng_float(-3e37f, 3e37f); break;
        default: x[i] = rng_float(-mag, mag); break;
        }
    }
    if (mode == X_TIES && n > 0) x[rng_int(0, n - 1)] = 127.0f; /* scale exactly 1 */
}

static int same_qact(const bn_qact *a, const bn_qact *b)
{
    return a->n_blocks == b->n_blocks && same_bits(a->scale, b->scale) && a->sum == b->sum &&
           !memcmp(a->q, b->q, (size_t)a->n_blocks * QK256_BLOCK) &&
           !memcmp(a->block_sums, b->block_sums, (size_t)a->n_blocks * sizeof(int32_t));
}

#define SENTINEL (-12345.0f) /* rows outside [r0, r1) must keep it */

/* One random case: quantize and both matvec paths of every SIMD table
 * against scalar, over a random row range. Returns 0 on the first
 * mismatch (after reporting it). */
static int compare_ternary_case(const bn_kernels *k, int case_no)
{
    const int rows = case_no % 5 == 0 ? 1 : rng_int(1, MAX_TEST_ROWS);
    const int cols = case_no % 7 == 0 ? QK256_BLOCK * rng_int(1, 4) : rng_int(1, MAX_TEST_COLS);
    const int mode = case_no % X_MODES, with_scales = case_no % 2;
    qk256_matrix w;
    bn_qact ref, got;
    memset(&w, 0, sizeof w); /* the frees below are safe whatever failed */
    memset(&ref, 0, sizeof ref);
    memset(&got, 0, sizeof got);
    float *x = malloc((size_t)cols * sizeof *x);
    float y_ref[MAX_TEST_ROWS], y_got[MAX_TEST_ROWS];
    int ok = x && qk256_alloc(&w, rows, cols, with_scales) == 0 && bn_qact_alloc(&ref, cols) == 0 &&
             bn_qact_alloc(&got, cols) == 0;
    CHECK(ok);
    if (ok) {
        fill_activations(x, cols, mode);
        random_ternary(&w, case_no % 3);
        memset(got.q, 0x7f, (size_t)got.n_blocks * QK256_BLOCK); /* padding must be rewritten */
        bn_kernels_scalar.quantize(x, cols, &ref);
        k->quantize(x, cols, &got);
        ok = same_qact(&ref, &got);
        CHECK_MSG(ok, "%s quantize, case %d (%d cols, mode %d)", k->name, case_no, cols, mode);
    }
    if (ok) {
        const int r0 = rng_int(0, rows - 1), r1 = rng_int(r0 + 1, rows);
        for (int r = 0; r < rows; r++) y_ref[r] = y_got[r] = SENTINEL;
        bn_kernels_scalar.qk256_matvec(&w, &ref, y_ref, r0, r1);
        k->qk256_matvec(&w, &ref, y_got, r0, r1);
        ok = same_floats(y_ref, y_got, rows);
        CHECK_MSG(ok, "%s qk256_matvec, case %d (%dx%d, rows %d..%d, %s)", k->name, case_no, rows,
                  cols, r0, r1, with_scales ? "block scales" : "tensor scale");
    }
    bn_qact_free(&ref);
    bn_qact_free(&got);
    qk256_free(&w);
    free(x);
    return ok;
}

/* Runs PROPERTY_CASES random cases of one comparison on each SIMD table the
 * CPU has (the generator seeded with seed + the table's index); a table's
 * cases stop at its first failure. */
static void each_simd_table(int (*compare_case)(const bn_kernels *k, int case_no), uint64_t seed)
{
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n = simd_tables(t);
    if (!n) SKIP("this CPU has no SIMD kernel");
    for (int i = 0; i < n; i++) {
        rng_seed(seed + (uint64_t)i);
        for (int c = 0; c < PROPERTY_CASES; c++)
            if (!compare_case(t[i], c)) break;
    }
}

TEST(kernels_simd_ternary_bit_exact) { each_simd_table(compare_ternary_case, 100); }

/* Random finite halves with every exponent, subnormals included. */
static uint16_t random_finite_f16(void)
{
    uint16_t h;
    do h = (uint16_t)rng_next();
    while ((h & F16_EXP_MASK) == F16_EXP_MASK);
    return h;
}

static int compare_f16_case(const bn_kernels *k, int case_no)
{
    const int rows = rng_int(1, 12);
    const int cols = case_no % 4 == 0 ? BN_F16_LANES * rng_int(1, 40) : rng_int(1, 700);
    uint16_t *w = malloc((size_t)rows * cols * sizeof *w);
    float *x = malloc((size_t)cols * sizeof *x), y_ref[12], y_got[12];
    CHECK(w && x);
    if (!w || !x) {
        free(w);
        free(x);
        return 0;
    }
    const float range = case_no % 3 == 0 ? 1e-3f : 10.0f;
    for (int i = 0; i < rows * cols; i++) w[i] = random_finite_f16();
    for (int i = 0; i < cols; i++) x[i] = rng_float(-range, range);
    const int r0 = rng_int(0, rows - 1), r1 = rng_int(r0 + 1, rows);
    for (int r = 0; r < rows; r++) y_ref[r] = y_got[r] = SENTINEL;
    bn_kernels_scalar.f16_matvec(w, cols, x, y_ref, r0, r1);
    k->f16_matvec(w, cols, x, y_got, r0, r1);
    const int ok = same_floats(y_ref, y_got, rows);
    CHECK_MSG(ok, "%s f16_matvec, case %d (%dx%d, rows %d..%d)", k->name, case_no, rows, cols, r0,
              r1);
    free(w);
    free(x);
    return ok;
}

TEST(kernels_simd_f16_bit_exact) { each_simd_table(compare_f16_case, 200); }

/* Output-layer sized ranges, whose halves lie megabytes apart: kernels
 * may take two far rows at a time there (kernels_avx512.c pairs them from
 * 1 MiB apart), each still bit for bit the scalar row. An odd count leaves
 * one row unpaired; 1000 columns leave a tail past the 16 lanes. */
TEST(kernels_simd_f16_long_ranges_bit_exact)
{
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n = simd_tables(t);
    if (!n) SKIP("this CPU has no SIMD kernel");
    enum { ROWS = 2101, COLS = 1000 };
    uint16_t *w = malloc((size_t)ROWS * COLS * sizeof *w);
    float *x = malloc(COLS * sizeof *x);
    float *want = malloc(ROWS * sizeof *want), *got = malloc(ROWS * sizeof *got);
    CHECK(w && x && want && got);
    rng_seed(77);
    for (size_t i = 0; w && i < (size_t)ROWS * COLS; i++) w[i] = random_finite_f16();
    for (int i = 0; x && i < COLS; i++) x[i] = rng_float(-1.0f, 1.0f);
    const int ranges[][2] = {{0, ROWS}, {0, ROWS - 1}, {7, ROWS - 500}};
    for (size_t c = 0; w && x && want && got && c < sizeof ranges / sizeof ranges[0]; c++) {
        const int r0 = ranges[c][0], r1 = ranges[c][1];
        bn_kernels_scalar.f16_matvec(w, COLS, x, want, r0, r1);
        for (int i = 0; i < n; i++) {
            for (int r = 0; r < ROWS; r++) got[r] = SENTINEL;
            t[i]->f16_matvec(w, COLS, x, got, r0, r1);
            CHECK_MSG(same_floats(want + r0, got + r0, r1 - r0) &&
                          (r0 == 0 || same_floats(got, (const float[]){SENTINEL}, 1)) &&
                          (r1 == ROWS || same_floats(got + r1, (const float[]){SENTINEL}, 1)),
                      "%s f16_matvec rows %d..%d", t[i]->name, r0, r1);
        }
    }
    free(w);
    free(x);
    free(want);
    free(got);
}

/* f16_matmat of every table, scalar included: each of n inputs gives
 * bitwise scalar f16_matvec's result for it alone, whatever n (groups of
 * BN_F16_INPUTS and a shorter last group), rows outside [r0, r1) untouched. */
static int compare_f16_matmat_case(const bn_kernels *k, int case_no)
{
    enum { MAX_ROWS = 12, MAX_INPUTS = 2 * BN_F16_INPUTS + 1 };
    const int rows = rng_int(1, MAX_ROWS), n = 1 + case_no % MAX_INPUTS;
    const int cols = case_no % 4 == 0 ? BN_F16_LANES * rng_int(1, 40) : rng_int(1, 700);
    uint16_t *w = malloc((size_t)rows * cols * sizeof *w);
    float *x = malloc((size_t)n * cols * sizeof *x);
    float want[MAX_INPUTS * MAX_ROWS], got[MAX_INPUTS * MAX_ROWS];
    CHECK(w && x);
    int ok = w && x;
    for (int i = 0; ok && i < rows * cols; i++) w[i] = random_finite_f16();
    for (int i = 0; ok && i < n * cols; i++) x[i] = rng_float(-10.0f, 10.0f);
    const int r0 = rng_int(0, rows - 1), r1 = rng_int(r0 + 1, rows);
    for (int i = 0; i < n * rows; i++) want[i] = got[i] = SENTINEL;
    for (int i = 0; ok && i < n; i++)
        bn_kernels_scalar.f16_matvec(w, cols, x + (size_t)i * cols, want + (size_t)i * rows, r0,
                                     r1);
    if (ok) k->f16_matmat(w, cols, x, n, got, (size_t)rows, r0, r1);
    ok = ok && same_floats(want, got, n * rows);
    CHECK_MSG(ok, "%s f16_matmat, case %d (%dx%d, %d inputs, rows %d..%d)", k->name, case_no, rows,
              cols, n, r0, r1);
    free(w);
    free(x);
    return ok;
}

TEST(kernels_f16_matmat_matches_matvec_per_input)
{
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n = bn_kernels_available(t, BN_KERNELS_MAX);
    int compared = 0;
    for (int i = 0; i < n; i++) {
        if (!t[i]->f16_matmat) continue;
        rng_seed(300 + (uint64_t)i);
        compared++;
        for (int c = 0; c < PROPERTY_CASES; c++)
            if (!compare_f16_matmat_case(t[i], c)) break;
    }
    CHECK(compared > 0); /* scalar has one */
}

TEST(kernels_simd_extreme_dot_products)
{
    /* every weight +1 (code 2) against all-127 or all -127 activations: the
     * largest block sums (+-2*127*256), which int16 accumulation would wrap */
    const bn_kernels *t[BN_KERNELS_MAX];
    const int n = simd_tables(t);
    if (!n) SKIP("this CPU has no SIMD kernel");
    enum { COLS = 6912 };
    static float x[COLS];
    qk256_matrix w;
    bn_qact a;
    CHECK(qk256_alloc(&w, 2, COLS, 0) == 0 && bn_qact_alloc(&a, COLS) == 0);
    for (int c = 0; c < COLS; c++) {
        qk256_set(&w, 0, c, 1);
        qk256_set(&w, 1, c, -1);
    }
    for (int sign = -1; sign <= 1; sign += 2) {
        for (int c = 0; c < COLS; c++) x[c] = (float)sign * 3.0f;
        bn_kernels_scalar.quantize(x, COLS, &a);
        CHECK_EQ_INT(a.sum, sign * 127 * COLS);
        float y_ref[2], y_got[2];
        bn_kernels_scalar.qk256_matvec(&w, &a, y_ref, 0, 2);
        CHECK(y_ref[0] == (float)(sign * 127 * COLS) / a.scale * w.scale);
        for (int i = 0; i < n; i++) {
            t[i]->qk256_matvec(&w, &a, y_got, 0, 2);
            CHECK_MSG(same_floats(y_ref, y_got, 2), "%s, sign %d", t[i]->name, sign);
        }
    }
    bn_qact_free(&a);
    qk256_free(&w);
}
