/*
 * test_grouped.c - the group-scaled matrices of Q2_0 and Q1_0 files
 * (kernels/grouped.h): the block decoders against the file layouts, the
 * scalar products against a naive dequantized dot, and every table this
 * CPU runs against the scalar definition, bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/grouped.h"
#include "kernels/kernels.h"
#include "gguf/gguf.h"
#include "kernels/quants.h"
#include "test.h"

#define CASES 60
#define MAX_ROWS 24
#define MAX_BLOCKS_Q2 40 /* Q2_0 blocks of 64 per row: rows up to 2560 */
#define MAX_BLOCKS_Q1 20 /* Q1_0 blocks of 128 per row */
#define SCALE_LO 0.001f
#define SCALE_HI 0.05f

/* A random Q2_0 tensor (codes 0..3, including +2) of rows x cols. */
static uint8_t *random_q2_0(int rows, int cols, int max_code)
{
    const int nb = rows * cols / BN_Q2_0_BLOCK;
    uint8_t *t = calloc((size_t)nb, BN_GROUPED_BLOCK_BYTES);
    for (int b = 0; b < nb; b++) {
        uint8_t *blk = t + (size_t)b * BN_GROUPED_BLOCK_BYTES;
        const uint16_t d = bn_f32_to_f16(rng_float(SCALE_LO, SCALE_HI));
        memcpy(blk, &d, sizeof d);
        for (int j = 0; j < 16; j++) {
            unsigned byte = 0;
            for (int k = 0; k < 4; k++) byte |= (unsigned)rng_int(0, max_code) << (2 * k);
            blk[2 + j] = (uint8_t)byte;
        }
    }
    return t;
}

static uint8_t *random_q1_0(int rows, int cols)
{
    const int nb = rows * cols / BN_Q1_0_BLOCK;
    uint8_t *t = calloc((size_t)nb, BN_GROUPED_BLOCK_BYTES);
    for (int b = 0; b < nb; b++) {
        uint8_t *blk = t + (size_t)b * BN_GROUPED_BLOCK_BYTES;
        const uint16_t d = bn_f32_to_f16(rng_float(SCALE_LO, SCALE_HI));
        memcpy(blk, &d, sizeof d);
        for (int j = 0; j < 16; j++) blk[2 + j] = (uint8_t)rng_int(0, 255);
    }
    return t;
}

/* The file's weight (level times scale) at element e of a Q2_0 / Q1_0 tensor. */
static float file_weight(const uint8_t *t, int binary, size_t e)
{
    const int block = binary ? BN_Q1_0_BLOCK : BN_Q2_0_BLOCK;
    const uint8_t *blk = t + e / block * BN_GROUPED_BLOCK_BYTES;
    uint16_t d;
    memcpy(&d, blk, sizeof d);
    const size_t j = e % block;
    const int level = binary ? (blk[2 + j / 8] >> (j % 8) & 1 ? 1 : -1)
                             : (int)((blk[2 + j / 4] >> (2 * (j % 4))) & 3) - 1;
    return (float)level * bn_f16_to_f32(d);
}

static void random_activation(float *x, int n)
{
    const int style = rng_int(0, 2);
    for (int i = 0; i < n; i++) {
        x[i] = rng_float(-2.0f, 2.0f);
        if (style == 1 && rng_int(0, 9) == 0) x[i] *= 100.0f; /* outliers */
        if (style == 2 && rng_int(0, 3) == 0) x[i] = 0.0f;    /* silent groups */
    }
}

static int load(qk256_matrix *m, const uint8_t *t, int rows, int cols, int binary)
{
    if (binary) {
        if (bn_grouped_alloc_b1(m, rows, cols, NULL)) return -1;
        return (int)bn_grouped_from_q1_0_rows(m, t, 0, rows);
    }
    if (bn_grouped_alloc_q2(m, rows, cols, NULL)) return -1;
    return (int)bn_grouped_from_q2_0_rows(m, t, 0, rows);
}

/* One random case: decoding exact, the scalar product near the float dot
 * of the dequantized weights and activations, each table bitwise equal. */
static void grouped_case(int binary)
{
    const int block = binary ? BN_Q1_0_BLOCK : BN_Q2_0_BLOCK;
    const int rows = rng_int(1, MAX_ROWS);
    const int cols = block * rng_int(1, binary ? MAX_BLOCKS_Q1 : MAX_BLOCKS_Q2);
    uint8_t *t = binary ? random_q1_0(rows, cols) : random_q2_0(rows, cols, 3);
    qk256_matrix m;
    CHECK_EQ_INT(load(&m, t, rows, cols, binary), 0);
    int decoded = 1;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            const float w = (float)bn_grouped_level(&m, r, c) * bn_grouped_scale(&m, r, c);
            decoded &= w == file_weight(t, binary, (size_t)r * cols + c);
        }
    CHECK_MSG(decoded, "%s decode differs from the file (%dx%d)", binary ? "Q1_0" : "Q2_0", rows,
              cols);
    float *row = malloc((size_t)cols * sizeof *row); /* an embedding or output layer's rows */
    const uint32_t type = binary ? GGML_TYPE_Q1_0 : GGML_TYPE_Q2_0;
    bn_dequantize_row(type, t + bn_quant_row_bytes(type, cols) * (size_t)(rows - 1), row, cols);
    int dequantized = 1;
    for (int c = 0; c < cols; c++)
        dequantized &= row[c] == file_weight(t, binary, (size_t)(rows - 1) * cols + c);
    CHECK_MSG(dequantized, "%s dequantized row differs", binary ? "Q1_0" : "Q2_0");
    free(row);
    float *x = malloc((size_t)cols * sizeof *x), *y = malloc((size_t)rows * sizeof *y),
          *ys = malloc((size_t)rows * sizeof *ys);
    random_activation(x, cols);
    bn_q8act a;
    CHECK_EQ_INT(bn_q8act_alloc(&a, cols), 0);
    bn_q8act_quantize_ref(x, cols, &a);
    (binary ? bn_b1_matvec_ref : bn_q2_matvec_ref)(&m, &a, ys, 0, rows);
    for (int r = 0; r < rows; r++) { /* the exact dot of the quantized values, in double */
        double dot = 0.0, mag = 0.0;
        for (int c = 0; c < cols; c++) {
            const double p = (double)file_weight(t, binary, (size_t)r * cols + c) *
                             a.d[c / BN_Q8_GROUP] * a.q[c];
            dot += p;
            mag += fabs(p);
        }
        CHECK_MSG(fabs(dot - ys[r]) <= 1e-5 * mag + 1e-6, "row %d: %g vs exact %g", r, ys[r], dot);
    }
    const bn_kernels *tables[BN_KERNELS_MAX];
    const int n = bn_kernels_available(tables, BN_KERNELS_MAX);
    for (int i = 0; i < n; i++) {
        const bn_grouped_matvec_fn fn = binary ? tables[i]->b1_matvec : tables[i]->q2_matvec;
        if (!fn) continue; /* the table takes the scalar definition */
        memset(y, 0xff, (size_t)rows * sizeof *y);
        const int r0 = rng_int(0, rows - 1);
        fn(&m, &a, y, r0, rows);
        CHECK_MSG(same_floats(y + r0, ys + r0, rows - r0),
                  "%s %s product differs from scalar "
                  "(%dx%d)",
                  tables[i]->name, binary ? "Q1_0" : "Q2_0", rows, cols);
    }
    bn_q8act_free(&a);
    qk256_free(&m);
    free(t);
    free(x);
    free(y);
    free(ys);
}

TEST(grouped_q2_0_decode_products_and_tables_bit_exact)
{
    rng_seed(0x5120);
    for (int i = 0; i < CASES; i++) grouped_case(0);
}

TEST(grouped_q1_0_decode_products_and_tables_bit_exact)
{
    rng_seed(0x5110);
    for (int i = 0; i < CASES; i++) grouped_case(1);
}

/* Hand-made: one Q2_0 block of codes 3 (+2) against all-ones activations
 * gives 2 * d * 64 * (127 / 127), and code 1 rows give exactly 0. */
TEST(grouped_q2_0_code_3_is_plus_two)
{
    uint8_t t[2 * BN_GROUPED_BLOCK_BYTES];
    const uint16_t d = bn_f32_to_f16(0.5f);
    memcpy(t, &d, 2);
    memset(t + 2, 0xff, 16); /* codes 3 */
    memcpy(t + BN_GROUPED_BLOCK_BYTES, &d, 2);
    memset(t + BN_GROUPED_BLOCK_BYTES + 2, 0x55, 16); /* codes 1 */
    qk256_matrix m;
    CHECK_EQ_INT(load(&m, t, 2, BN_Q2_0_BLOCK, 0), 0);
    float x[BN_Q2_0_BLOCK], y[2];
    for (int i = 0; i < BN_Q2_0_BLOCK; i++) x[i] = 1.0f;
    bn_q8act a;
    CHECK_EQ_INT(bn_q8act_alloc(&a, BN_Q2_0_BLOCK), 0);
    bn_q8act_quantize_ref(x, BN_Q2_0_BLOCK, &a);
    bn_q2_matvec_ref(&m, &a, y, 0, 2);
    CHECK(fabsf(y[0] - 64.0f) < 1e-4f);
    CHECK(y[1] == 0.0f);
    bn_q8act_free(&a);
    qk256_free(&m);
}

/* A Q2_0 scale that is not finite is counted, so the loader can refuse it. */
TEST(grouped_non_finite_scale_is_reported)
{
    uint8_t t[BN_GROUPED_BLOCK_BYTES] = {0};
    const uint16_t inf = 0x7c00;
    memcpy(t, &inf, 2);
    qk256_matrix m;
    CHECK_EQ_INT(load(&m, t, 1, BN_Q2_0_BLOCK, 0), 1);
    qk256_free(&m);
}

/* ------------------------------------------- prompt batches (matmat) */

#define BATCH_CASES 40
#define BATCH_MAX_TOKENS 21
#define BATCH_MAX_ROWS 37
#define EXTREME_X 3.0f /* every value of an all-alike activation quantizes to +-127 */

/* n_tok activations of cols values, some all at +-127 (extreme), quantized
 * by the scalar table (its qi is the definition of the interleave). */
static bn_q8act *batch_acts(int n_tok, int cols, int extreme_sign)
{
    bn_q8act *a = calloc((size_t)n_tok, sizeof *a);
    float *x = malloc((size_t)cols * sizeof *x);
    for (int t = 0; t < n_tok; t++) {
        CHECK_EQ_INT(bn_q8act_alloc(&a[t], cols), 0);
        const int style = extreme_sign ? 3 : rng_int(0, 3);
        if (style == 3)
            for (int i = 0; i < cols; i++)
                x[i] = extreme_sign ? (float)extreme_sign * EXTREME_X
                                    : (rng_int(0, 1) ? EXTREME_X : -EXTREME_X);
        else
            random_activation(x, cols);
        bn_q8act_quantize_ref(x, cols, &a[t]);
    }
    free(x);
    return a;
}

static void free_acts(bn_q8act *a, int n_tok)
{
    for (int t = 0; t < n_tok; t++) bn_q8act_free(&a[t]);
    free(a);
}

/* Every table's matmat over [r0, r1) of n_tok tokens equals its matvec
 * token by token (and the scalar definition), bitwise, and leaves the
 * other rows alone. */
static void check_batch(const qk256_matrix *m, int binary, const bn_q8act *a, int n_tok,
                        const char *what)
{
    const int rows = m->rows;
    const size_t n = (size_t)n_tok * rows;
    float *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got),
          *ref = malloc(n * sizeof *ref);
    const int r0 = rng_int(0, rows - 1), r1 = rng_int(r0 + 1, rows);
    for (int t = 0; t < n_tok; t++)
        (binary ? bn_b1_matvec_ref : bn_q2_matvec_ref)(m, &a[t], ref + (size_t)t * rows, 0, rows);
    const bn_kernels *tables[BN_KERNELS_MAX];
    const int n_tables = bn_kernels_available(tables, BN_KERNELS_MAX);
    for (int i = 0; i < n_tables; i++) {
        const bn_kernels *k = tables[i];
        memset(want, 0x7f, n * sizeof *want);
        memset(got, 0x7f, n * sizeof *got);
        for (int t = 0; t < n_tok; t++)
            (binary ? k->b1_matvec : k->q2_matvec)(m, &a[t], want + (size_t)t * rows, r0, r1);
        (binary ? k->b1_matmat : k->q2_matmat)(m, a, n_tok, got, rows, r0, r1);
        int same = same_floats(got, want, (int)n);
        for (int t = 0; t < n_tok; t++)
            same &= same_floats(got + (size_t)t * rows + r0, ref + (size_t)t * rows + r0, r1 - r0);
        CHECK_MSG(same, "%s %s matmat differs from its matvec (%dx%d, %d tokens, rows %d-%d, %s)",
                  k->name, binary ? "Q1_0" : "Q2_0", rows, m->cols, n_tok, r0, r1, what);
    }
    free(want);
    free(got);
    free(ref);
}

static void batch_case(int binary)
{
    const int block = binary ? BN_Q1_0_BLOCK : BN_Q2_0_BLOCK;
    const int rows = rng_int(1, BATCH_MAX_ROWS);
    const int cols = block * rng_int(1, binary ? MAX_BLOCKS_Q1 : MAX_BLOCKS_Q2);
    const int n_tok = rng_int(1, BATCH_MAX_TOKENS);
    uint8_t *t = binary ? random_q1_0(rows, cols) : random_q2_0(rows, cols, 3);
    qk256_matrix m;
    CHECK_EQ_INT(load(&m, t, rows, cols, binary), 0);
    bn_q8act *a = batch_acts(n_tok, cols, 0);
    check_batch(&m, binary, a, n_tok, "random");
    free_acts(a, n_tok);
    qk256_free(&m);
    free(t);
}

TEST(grouped_q2_0_matmat_equals_matvec_per_token_bitwise)
{
    rng_seed(0x5121);
    for (int i = 0; i < BATCH_CASES; i++) batch_case(0);
}

TEST(grouped_q1_0_matmat_equals_matvec_per_token_bitwise)
{
    rng_seed(0x5111);
    for (int i = 0; i < BATCH_CASES; i++) batch_case(1);
}

/* The largest products: every Q2_0 code 3 (+2) or 0 (-1), every bit set
 * or clear, against levels all +127 or all -127, over rows long enough
 * that an int16 sum would overflow if a kernel kept one too long. */
TEST(grouped_matmat_extreme_products_bitwise)
{
    rng_seed(0x5122);
    const int rows = 5, n_tok = 7;
    for (int binary = 0; binary <= 1; binary++)
        for (int fill = 0; fill <= 1; fill++)
            for (int sign = -1; sign <= 1; sign += 2) {
                const int block = binary ? BN_Q1_0_BLOCK : BN_Q2_0_BLOCK;
                const int cols = block * (binary ? MAX_BLOCKS_Q1 : MAX_BLOCKS_Q2) + 5 * block;
                uint8_t *t = binary ? random_q1_0(rows, cols) : random_q2_0(rows, cols, 3);
                const int nb = rows * cols / block;
                for (int b = 0; b < nb; b++) /* keep the scales, set every weight alike */
                    memset(t + (size_t)b * BN_GROUPED_BLOCK_BYTES + 2, fill ? 0xff : 0x00, 16);
                qk256_matrix m;
                CHECK_EQ_INT(load(&m, t, rows, cols, binary), 0);
                bn_q8act *a = batch_acts(n_tok, cols, sign);
                check_batch(&m, binary, a, n_tok, fill ? "all +max" : "all -1");
                free_acts(a, n_tok);
                qk256_free(&m);
                free(t);
            }
}

/* Every table's q8_quantize interleaves the levels as the definition does
 * (table.h, bn_q8act.qi), zero past the last group. */
TEST(grouped_q8_quantize_interleave_every_table)
{
    rng_seed(0x5123);
    const bn_kernels *tables[BN_KERNELS_MAX];
    const int n_tables = bn_kernels_available(tables, BN_KERNELS_MAX);
    enum { MAX_N = 3 * BN_Q8_RUN_BYTES };
    float x[MAX_N];
    bn_q8act want, got;
    CHECK_EQ_INT(bn_q8act_alloc(&want, MAX_N), 0);
    CHECK_EQ_INT(bn_q8act_alloc(&got, MAX_N), 0);
    for (int c = 0; c < 20; c++) {
        const int n = BN_Q8_GROUP * rng_int(1, MAX_N / BN_Q8_GROUP);
        const size_t padded = ((size_t)n + BN_Q8_RUN_BYTES - 1) / BN_Q8_RUN_BYTES * BN_Q8_RUN_BYTES;
        random_activation(x, n);
        bn_q8act_quantize_ref(x, n, &want);
        int defined = 1; /* the definition, element by element */
        for (int g = 0; g < n / BN_Q8_GROUP; g++)
            for (int b = 0; b < BN_Q8_GROUP; b++)
                defined &= want.qi[(size_t)g / BN_Q8_RUN * BN_Q8_RUN_BYTES +
                                   (size_t)b / BN_Q8_SLICE * BN_Q8_RUN * BN_Q8_SLICE +
                                   (size_t)g % BN_Q8_RUN * BN_Q8_SLICE + b % BN_Q8_SLICE] ==
                           want.q[g * BN_Q8_GROUP + b];
        for (size_t i = (size_t)n / BN_Q8_RUN_BYTES * BN_Q8_RUN_BYTES; i < padded; i++) {
            const size_t g = i / BN_Q8_RUN_BYTES * BN_Q8_RUN +
                             i % ((size_t)BN_Q8_RUN * BN_Q8_SLICE) / BN_Q8_SLICE;
            if (g >= (size_t)n / BN_Q8_GROUP) defined &= want.qi[i] == 0;
        }
        CHECK_MSG(defined, "interleave differs from its definition (n %d)", n);
        for (int i = 0; i < n_tables; i++) {
            memset(got.qi, 0x55, padded);
            tables[i]->q8_quantize(x, n, &got);
            CHECK_MSG(!memcmp(got.qi, want.qi, padded), "%s q8_quantize interleave (n %d)",
                      tables[i]->name, n);
        }
    }
    bn_q8act_free(&want);
    bn_q8act_free(&got);
}
