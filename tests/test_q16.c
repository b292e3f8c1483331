/*
 * test_q16.c - the 1.6-bit ternary layout (--weights q16): the Q16
 * products of every table this CPU runs, scalar included, give bitwise the
 * scalar QK256 product over random shapes (rows whose weights leave a
 * partial last group, extreme activations), and so do the tables' Q16
 * prompt-batch products for every token; a model loaded with q16 gives
 * the logits of the 2-bit layout bit for bit, from fewer bytes per token.
 */
#include <stdlib.h>
#include <string.h>

#include "bitnet-perf.h"
#include "bitnet.h"
#include "kernels/kernels.h"
#include "kernels/q16.h"
#include "test.h"

#define N_CASES 150
#define MAX_ROWS 24
#define MAX_COLS 2000
#define MAX_TOKENS 8
#define EXTREME_X 3.0f               /* an activation whose vector quantizes to +-127 */
#define MATMAT_TOKENS 19             /* tokens of a batch: two 8-token tiles and a short one */
#define LONG_COLS (QK256_BLOCK * 24) /* past any int16 span of a Q16 tile */
#define BUNDLED_MODEL "models/bitnet-tiny.gguf"

static void random_acts(bn_qact *a, int cols, int extreme)
{
    float *x = malloc((size_t)cols * sizeof *x);
    bn_qact_alloc(a, cols);
    for (int i = 0; i < cols; i++)
        x[i] = extreme ? (rng_next() & 1 ? EXTREME_X : -EXTREME_X) : rng_float(-10.0f, 10.0f);
    bn_kernels_scalar.quantize(x, cols, a);
    free(x);
}

/* Every activation at +-max (one sign for the whole vector): with weights
 * all +1, the largest sums a row can have. */
static void constant_acts(bn_qact *a, int cols, float v)
{
    float *x = malloc((size_t)cols * sizeof *x);
    bn_qact_alloc(a, cols);
    for (int i = 0; i < cols; i++) x[i] = v;
    bn_kernels_scalar.quantize(x, cols, a);
    free(x);
}

/* m's codes in the Q16 layout, the 2-bit codes kept for the reference. */
static uint8_t *to_q16(const qk256_matrix *m)
{
    uint8_t *q16 = malloc((size_t)m->rows * q16_row_bytes(m->blocks_per_row));
    q16_pack_rows(m, q16, 0, m->rows);
    return q16;
}

TEST(q16_every_table_matches_qk256_bitwise)
{
    const bn_kernels *tables[BN_KERNELS_MAX];
    const int n_tables = bn_kernels_available(tables, BN_KERNELS_MAX);
    rng_seed(16);
    for (int c = 0; c < N_CASES; c++) {
        const int rows = rng_int(1, MAX_ROWS), cols = rng_int(1, MAX_COLS);
        qk256_matrix w;
        qk256_alloc(&w, rows, cols, 0);
        const int all_plus = c % 10 == 0; /* the largest sums */
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < cols; k++) qk256_set(&w, r, k, all_plus ? 1 : rng_int(-1, 1));
        w.scale = rng_float(0.01f, 2.0f);
        bn_qact a;
        random_acts(&a, cols, c % 3 == 0);
        float want[MAX_ROWS], got[MAX_ROWS];
        bn_kernels_scalar.qk256_matvec(&w, &a, want, 0, rows);
        qk256_matrix w16 = w;
        w16.q16 = to_q16(&w);
        w16.codes = NULL;
        const int r0 = rng_int(0, rows - 1), r1 = rng_int(r0 + 1, rows);
        for (int k = 0; k < n_tables; k++) {
            const bn_kernels *t = tables[k];
            memset(got, 0, sizeof got);
            t->q16_matvec(&w16, &a, got, r0, r1);
            CHECK_MSG(same_floats(got + r0, want + r0, r1 - r0),
                      "%s: %dx%d rows %d..%d differ from QK256", t->name, rows, cols, r0, r1);
        }
        free(w16.q16);
        bn_qact_free(&a);
        qk256_free(&w);
    }
}

/* q16_matmat of every table against the scalar QK256 product
 * token by token: random shapes, token counts from 2, row ranges, and rows
 * long enough of the largest products that int16 sums must widen. */
TEST(q16_matmat_matches_qk256_per_token)
{
    const bn_kernels *tables[BN_KERNELS_MAX];
    const int n_tables = bn_kernels_available(tables, BN_KERNELS_MAX);
    rng_seed(1616);
    for (int c = 0; c < N_CASES / 3; c++) {
        const int all_plus = c % 5 == 0;
        const int rows = rng_int(1, MAX_ROWS), cols = all_plus ? LONG_COLS : rng_int(1, MAX_COLS);
        const int n_tok = rng_int(2, MATMAT_TOKENS);
        qk256_matrix w;
        qk256_alloc(&w, rows, cols, 0);
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < cols; k++) qk256_set(&w, r, k, all_plus ? 1 : rng_int(-1, 1));
        w.scale = rng_float(0.01f, 2.0f);
        bn_qact a[MATMAT_TOKENS];
        for (int t = 0; t < n_tok; t++) {
            if (all_plus)
                constant_acts(&a[t], cols, t % 2 ? -EXTREME_X : EXTREME_X);
            else
                random_acts(&a[t], cols, c % 3 == 0);
        }
        float *want = calloc((size_t)n_tok * rows, sizeof *want);
        float *got = calloc((size_t)n_tok * rows, sizeof *got);
        const int r0 = rng_int(0, rows - 1), r1 = rng_int(r0 + 1, rows);
        for (int t = 0; t < n_tok; t++)
            bn_kernels_scalar.qk256_matvec(&w, &a[t], want + (size_t)t * rows, r0, r1);
        qk256_matrix w16 = w;
        w16.q16 = to_q16(&w);
        w16.codes = NULL;
        for (int k = 0; k < n_tables; k++) {
            memset(got, 0, (size_t)n_tok * rows * sizeof *got);
            tables[k]->q16_matmat(&w16, a, n_tok, got, rows, r0, r1);
            CHECK_MSG(same_floats(got, want, n_tok * rows),
                      "%s: %dx%d, %d tokens, rows %d..%d differ from QK256", tables[k]->name, rows,
                      cols, n_tok, r0, r1);
        }
        free(w16.q16);
        for (int t = 0; t < n_tok; t++) bn_qact_free(&a[t]);
        qk256_free(&w);
        free(want);
        free(got);
    }
}

/* All-token logits of a prompt with the given weights layout. */
static float *prompt_logits(const char *path, const char *weights, const int32_t *ids, int n,
                            size_t *bytes_per_token)
{
    char err[BN_ERR_LEN];
    bn_model_params p = bn_model_default_params();
    p.weights = weights;
    bn_model *m = bn_model_load(path, &p, err);
    CHECK_MSG(m != NULL, "%s: %s", path, err);
    if (!m) return NULL;
    *bytes_per_token = bn_model_bytes_per_token(m);
    float *logits = malloc((size_t)n * bn_model_n_vocab(m) * sizeof *logits);
    bn_session *s = bn_session_new(m, &(bn_session_params){.n_ctx = 64}, err);
    CHECK_MSG(s && bn_session_eval_all(s, ids, n, logits, err) == 0, "%s", err);
    bn_session_free(s);
    bn_model_free(m);
    return logits;
}

TEST(q16_model_logits_equal_the_2bit_layout)
{
    const char *path = BUNDLED_MODEL;
    const int32_t ids[] = {1016, 672, 11, 434, 11, 17, 10, 17, 28, 19, 220, 21};
    const int n = (int)(sizeof ids / sizeof ids[0]);
    size_t bytes2 = 0, bytes16 = 0;
    float *a = prompt_logits(path, "q2", ids, n, &bytes2);
    float *b = prompt_logits(path, "q16", ids, n, &bytes16);
    if (a && b) {
        /* one row per token: the vocabulary is the tiny model's */
        char err[BN_ERR_LEN];
        bn_model *m = bn_model_load(path, NULL, err);
        CHECK(m != NULL);
        if (m) CHECK(same_floats(a, b, n * bn_model_n_vocab(m)));
        bn_model_free(m);
        CHECK_MSG(bytes16 < bytes2, "q16 reads %zu bytes a token, q2 %zu", bytes16, bytes2);
    }
    free(a);
    free(b);
}

TEST(q16_unknown_layout_is_an_error)
{
    const char *path = BUNDLED_MODEL;
    char err[BN_ERR_LEN] = "";
    bn_model_params p = bn_model_default_params();
    p.weights = "q3";
    CHECK(bn_model_load(path, &p, err) == NULL);
    CHECK_MSG(strstr(err, "unknown weights layout") != NULL, "%s", err);
}
