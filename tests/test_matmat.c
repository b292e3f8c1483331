/*
 * test_matmat.c - the prompt-batch kernels (qk256_matmat) of every table
 * this CPU runs give bitwise the results of the scalar matrix-vector
 * product applied token by token, over random shapes, token counts that
 * leave short tiles, row ranges that leave rows outside whole row tiles,
 * and per-block scales; and long rows of the largest products, where
 * kernels that sum in int16 for a while must widen in time.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "test.h"

#define N_CASES 120
#define MAX_TOKENS 21
#define LONG_ROW_BLOCKS 24 /* blocks of a long row: past any int16 span */
#define EXTREME_X 3.0f     /* an activation value; every one alike quantizes to +-127 */

static void random_matrix(qk256_matrix *w, int rows, int cols, int block_scales)
{
    qk256_alloc(w, rows, cols, block_scales);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) qk256_set(w, r, c, (int)((uint32_t)rng_next() % 3) - 1);
    w->scale = 0.01f + (float)((uint32_t)rng_next() % 1000) / 1000.0f;
    if (block_scales)
        for (int i = 0; i < rows * w->blocks_per_row; i++)
            w->block_scales[i] = (float)((uint32_t)rng_next() % 2000) / 1000.0f - 1.0f;
}

static void random_acts(bn_qact *a, int n_tok, int cols)
{
    float *x = malloc((size_t)cols * sizeof *x);
    for (int t = 0; t < n_tok; t++) {
        bn_qact_alloc(&a[t], cols);
        int extreme = (uint32_t)rng_next() % 4 == 0; /* all at +-max: every q at the clamp */
        for (int i = 0; i < cols; i++)
            x[i] = extreme ? ((uint32_t)rng_next() & 1 ? 3.0f : -3.0f)
                           : (float)((int)((uint32_t)rng_next() % 20001) - 10000) / 997.0f;
        bn_kernels_scalar.quantize(x, cols, &a[t]);
    }
    free(x);
}

/* The tables whose qk256_matmat the test compares, for the logs (under
 * qemu, tools/ci-neon.sh: both neon tables). */
static void print_compared(const bn_kernels *const *tables, int n)
{
    printf("    matmat kernels compared:");
    for (int k = 0; k < n; k++) printf(" %s", tables[k]->name);
    printf("\n");
}

TEST(matmat_every_kernel_matches_scalar_matvec_bitwise)
{
    rng_seed(2463534242u);
    const bn_kernels *tables[BN_KERNELS_MAX];
    int n_tables = bn_kernels_available(tables, BN_KERNELS_MAX);
    for (int c = 0; c < N_CASES; c++) {
        const int rows = 1 + (int)((uint32_t)rng_next() % 40);
        /* padded last blocks too; every fourth case rows of many blocks */
        const int cols = c % 4 == 3
                             ? QK256_BLOCK * (1 + (int)((uint32_t)rng_next() % LONG_ROW_BLOCKS))
                             : 32 * (1 + (int)((uint32_t)rng_next() % 40));
        const int n_tok = 1 + (int)((uint32_t)rng_next() % MAX_TOKENS);
        const int r0 = (int)((uint32_t)rng_next() % rows),
                  r1 = r0 + 1 + (int)((uint32_t)rng_next() % (rows - r0));
        qk256_matrix w;
        random_matrix(&w, rows, cols, c % 5 == 0);
        bn_qact a[MAX_TOKENS];
        random_acts(a, n_tok, cols);
        float *want = calloc((size_t)n_tok * rows, sizeof *want);
        float *got = calloc((size_t)n_tok * rows, sizeof *got);
        for (int t = 0; t < n_tok; t++)
            bn_kernels_scalar.qk256_matvec(&w, &a[t], want + (size_t)t * rows, r0, r1);
        for (int k = 0; k < n_tables; k++) {
            memset(got, 0, (size_t)n_tok * rows * sizeof *got);
            tables[k]->qk256_matmat(&w, a, n_tok, got, rows, r0, r1);
            CHECK_MSG(same_floats(got, want, n_tok * rows),
                      "%s: %dx%d, %d tokens, rows %d..%d differ from scalar", tables[k]->name, rows,
                      cols, n_tok, r0, r1);
        }
        for (int t = 0; t < n_tok; t++) bn_qact_free(&a[t]);
        qk256_free(&w);
        free(want);
        free(got);
    }
    print_compared(tables, n_tables);
}

/* Every weight +1 and every activation at +-max: each product pair is the
 * largest an int16 lane can be given, over LONG_ROW_BLOCKS blocks. */
TEST(matmat_long_rows_of_extreme_products_match_scalar)
{
    const int rows = 9, cols = QK256_BLOCK * LONG_ROW_BLOCKS, n_tok = 11;
    const bn_kernels *tables[BN_KERNELS_MAX];
    const int n_tables = bn_kernels_available(tables, BN_KERNELS_MAX);
    qk256_matrix w;
    CHECK(!qk256_alloc(&w, rows, cols, 0));
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) qk256_set(&w, r, c, 1);
    w.scale = 1.0f;
    float *x = malloc((size_t)cols * sizeof *x);
    bn_qact a[MAX_TOKENS];
    for (int t = 0; t < n_tok; t++) {
        for (int i = 0; i < cols; i++) x[i] = t % 2 ? -EXTREME_X : EXTREME_X;
        bn_qact_alloc(&a[t], cols);
        bn_kernels_scalar.quantize(x, cols, &a[t]);
    }
    float *want = calloc((size_t)n_tok * rows, sizeof *want);
    float *got = calloc((size_t)n_tok * rows, sizeof *got);
    for (int t = 0; t < n_tok; t++)
        bn_kernels_scalar.qk256_matvec(&w, &a[t], want + (size_t)t * rows, 0, rows);
    CHECK_MSG(fabsf(want[0] / (EXTREME_X * (float)cols) - 1.0f) < 1e-5f,
              "scalar gives %g for a row of %d products of 1 x %g", want[0], cols, EXTREME_X);
    for (int k = 0; k < n_tables; k++) {
        memset(got, 0, (size_t)n_tok * rows * sizeof *got);
        tables[k]->qk256_matmat(&w, a, n_tok, got, rows, 0, rows);
        CHECK_MSG(same_floats(got, want, n_tok * rows),
                  "%s: long rows of extreme products differ from scalar", tables[k]->name);
    }
    for (int t = 0; t < n_tok; t++) bn_qact_free(&a[t]);
    qk256_free(&w);
    free(x);
    free(want);
    free(got);
}
