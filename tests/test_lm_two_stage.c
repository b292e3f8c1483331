/*
 * test_lm_two_stage.c - the two-stage output layer (src/engine/lm_head.c,
 * src/model/lm_copy.c): for sessions that want only their best logits,
 * the rows it computes hold the full product's bits, the k best rows are
 * always among them, and a sampler that keeps the top k picks the same
 * tokens from them as from the full logits. Over hand-made output layers
 * (random, near-ties at the k-th row, exact ties, extreme inputs and
 * weights) on every kernel table this CPU runs, then on bitnet-tiny and
 * every reference file (greedy ids unchanged), and a statistical test that
 * the sampled tokens keep their distribution.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet-perf.h"
#include "engine/engine.h"
#include "kernels/kernels.h"
#include "kernels/q8rows.h"
#include "kernels/quants.h"
#include "model/model.h"
#include "ref_check.h"
#include "test.h"

#define MAX_TABLES 8
#define N_TOKENS 3            /* logit rows of one pass: each has its own input */
#define DRAWS 200             /* sampler draws compared per case */
#define TIE_GROUP 4           /* identical rows in a row of the tie matrix */
#define STAT_DRAWS 20000      /* draws of the statistical test */
#define STAT_CHI2_LIMIT 110.0 /* chi-square, 39 degrees of freedom: p < 1e-7 beyond */
#define TINY_STEPS 48         /* tokens generated on bitnet-tiny per case */

/* ------------------------------------------------ a hand-made output layer */

/* A model with only an F16 output layer, its copy and a context over it:
 * enough for bn_lm_head. */
typedef struct {
    bn_model m;
    uint16_t *w;
    bn_context *ctx;
    bn_session sess[N_TOKENS];
    bn_session *sp[N_TOKENS];
    int rows_of[N_TOKENS];
} head_rig;

static int rig_open(head_rig *h, const bn_kernels *k, int rows, int cols, uint16_t *w, int nth)
{
    memset(h, 0, sizeof *h);
    bn_model *m = &h->m;
    m->hp = (bn_hparams){.n_layer = 0,
                         .n_embd = cols,
                         .n_ff = 256,
                         .n_head = 1,
                         .n_head_kv = 1,
                         .head_dim = 8,
                         .n_ctx_train = 8,
                         .n_vocab = rows};
    m->output = (bn_dense){.type = GGML_TYPE_F16,
                           .rows = rows,
                           .cols = cols,
                           .data = (const uint8_t *)w,
                           .row_bytes = (size_t)cols * 2};
    m->kernels = k;
    m->n_batch = N_TOKENS;
    h->w = w;
    if (!(m->pool = bn_pool_new(nth))) return -1;
    const int rc = bn_lm_copy_build(m);
    bn_pool_free(m->pool);
    m->pool = NULL;
    char err[BN_ERR_LEN];
    if (rc || !(h->ctx = bn_context_new(m, NULL, err))) return -1;
    if (!bn_context_scratch(h->ctx, N_TOKENS, 8)) return -1;
    for (int i = 0; i < N_TOKENS; i++) {
        h->sp[i] = &h->sess[i];
        h->rows_of[i] = i;
    }
    return 0;
}

static void rig_close(head_rig *h)
{
    bn_context_free(h->ctx);
    bn_lm_copy_free(&h->m.lm_copy);
}

/* The logits of n inputs x with every session asking for its top best. */
static void rig_logits(head_rig *h, const float *x, int n, int top, float *y)
{
    for (int i = 0; i < n; i++) bn_session_set_logits_top(&h->sess[i], top);
    const bn_pass p = {.n = n, .sess = h->sp, .logits = y, .logit_rows = h->rows_of, .n_logits = n};
    bn_lm_head(h->ctx, &p, x);
}

/* Is row a better than row b (higher logit, then lower id)? */
static int better(const float *y, int a, int b)
{
    const float ya = y[a], yb = y[b];
    return ya > yb || (ya == yb && a < b);
}

/* The k best rows of full[0..n) into best[0..k). */
static void best_rows(const float *full, int n, int k, int *best)
{
    int len = 0;
    for (int r = 0; r < n; r++) {
        int i = len < k ? len++ : k;
        if (i == k && !better(full, r, best[k - 1])) continue;
        if (i == k) i = k - 1;
        while (i > 0 && better(full, r, best[i - 1])) {
            best[i] = best[i - 1];
            i--;
        }
        best[i] = r;
    }
}

/* Draws of a sampler keeping the top k (greedy for k 1) from the full
 * logits and from the two-stage ones: the same tokens. */
static int same_draws(const float *full, const float *part, int n, int k, uint64_t seed)
{
    bn_sampler_params p = bn_sampler_default_params();
    p.top_k = k;
    p.temp = k == 1 ? 0.0f : 1.5f;
    p.top_p = seed % 2 ? 1.0f : 0.95f;
    p.min_p = seed % 3 ? 0.0f : 0.05f;
    p.seed = seed;
    bn_sampler *a = bn_sampler_new(&p, n), *b = bn_sampler_new(&p, n);
    int same = a && b && bn_sampler_logits_top(a) == (k < n ? k : 0);
    for (int d = 0; same && d < DRAWS; d++)
        same = bn_sampler_sample(a, full) == bn_sampler_sample(b, part);
    bn_sampler_free(a);
    bn_sampler_free(b);
    return same;
}

/* Runs one case: the logits of n_tok inputs at k, checked against the full
 * product row by row. Returns the exact rows per token (for the message). */
static double check_case(head_rig *h, const float *x, int n_tok, int k, const char *what)
{
    const int rows = h->m.output.rows, cols = h->m.output.cols;
    float *part = malloc((size_t)N_TOKENS * rows * sizeof *part);
    float *full = malloc((size_t)rows * sizeof *full);
    int *best = calloc((size_t)k, sizeof *best);
    const long before = h->sess[0].n_exact_rows;
    rig_logits(h, x, n_tok, k, part);
    for (int t = 0; t < n_tok; t++) {
        const float *y = part + (size_t)t * rows;
        bn_dense_rows(h->m.kernels, &h->m.output, x + (size_t)t * cols, full, 0, rows);
        int wrong = 0, exact = 0;
        for (int r = 0; r < rows; r++) {
            if (y[r] == -INFINITY && full[r] != -INFINITY) continue;
            exact++;
            wrong += !same_bits(y[r], full[r]);
        }
        CHECK_MSG(wrong == 0,
                  "%s (%s, k %d, token %d): %d computed rows differ from the full "
                  "product",
                  what, h->m.kernels->name, k, t, wrong);
        CHECK_MSG(exact >= k, "%s: only %d rows kept for k %d", what, exact, k);
        best_rows(full, rows, k, best);
        int lost = 0;
        for (int i = 0; i < k; i++) lost += !same_bits(y[best[i]], full[best[i]]);
        CHECK_MSG(lost == 0, "%s (%s, k %d, token %d): %d of the %d best rows not exact", what,
                  h->m.kernels->name, k, t, lost, k);
        CHECK_MSG(same_draws(full, y, rows, k, 1000u + (uint64_t)t + (uint64_t)k),
                  "%s (%s, k %d): the sampler drew other tokens", what, h->m.kernels->name, k);
    }
    free(part);
    free(full);
    free(best);
    return (double)(h->sess[0].n_exact_rows - before);
}

/* The table this CPU would pick. */
static const bn_kernels *best_table(void)
{
    char err[BN_ERR_LEN];
    return bn_kernels_select("auto", err, sizeof err);
}

/* ----------------------------------------------------- the copy's kernel */

/* Every table's q8rows_matvec against the definition, bit for bit, over
 * random levels (full range), scales (with zero, subnormal, huge and
 * infinite halves) and activations (with NaN and infinite groups). */
TEST(lm_two_stage_q8rows_kernels_match_reference)
{
    rng_seed(35);
    const bn_kernels *tables[MAX_TABLES];
    const int nt = bn_kernels_available(tables, MAX_TABLES);
    for (int c = 0; c < 60; c++) {
        const int rows = rng_int(1, 40), cols = BN_Q8ROWS_CHUNK * rng_int(1, 50);
        const int groups = cols / BN_Q8ROWS_GROUP;
        int8_t *q = malloc((size_t)rows * cols);
        uint16_t *d = malloc((size_t)rows * groups * sizeof *d);
        float *x = malloc((size_t)cols * sizeof *x), *want = malloc(rows * sizeof *want),
              *got = malloc(rows * sizeof *got);
        for (int i = 0; i < rows * cols; i++) q[i] = (int8_t)rng_int(-127, 127);
        for (int i = 0; i < rows * groups; i++) {
            const int kind = rng_int(0, 19);
            d[i] = kind == 0                 ? 0
                   : kind == 1               ? (uint16_t)rng_int(1, 0x3ff)
                   : kind == 2               ? 0x7bff
                   : kind == 3 && c % 7 == 0 ? 0x7c00
                                             : bn_f32_to_f16(rng_float(-0.02f, 0.02f));
        }
        for (int i = 0; i < cols; i++)
            x[i] = c % 5 == 0 && i == 3     ? NAN
                   : c % 11 == 0 && i == 40 ? INFINITY
                                            : ldexpf(rng_float(-1, 1), rng_int(-20, 20));
        bn_q8act a;
        CHECK(bn_q8act_alloc(&a, cols) == 0);
        bn_q8act_quantize_ref(x, cols, &a);
        const bn_q8rows w = {rows, cols, q, d};
        bn_q8rows_matvec_ref(&w, &a, want, 0, rows);
        for (int t = 0; t < nt; t++) {
            if (!tables[t]->q8rows_matvec) continue;
            const int r0 = rng_int(0, rows - 1), r1 = rng_int(r0, rows);
            for (int r = 0; r < rows; r++) got[r] = want[r];
            tables[t]->q8rows_matvec(&w, &a, got, r0, r1);
            CHECK_MSG(same_floats(got, want, rows), "%s: q8rows product differs (%d x %d)",
                      tables[t]->name, rows, cols);
        }
        bn_q8act_free(&a);
        free(q);
        free(d);
        free(x);
        free(want);
        free(got);
    }
}

/* --------------------------------------------------------- the matrices */

static uint16_t *random_matrix(int rows, int cols, float scale)
{
    uint16_t *w = malloc((size_t)rows * cols * sizeof *w);
    for (size_t i = 0; i < (size_t)rows * cols; i++) w[i] = bn_f32_to_f16(rng_float(-scale, scale));
    return w;
}

/* Groups of TIE_GROUP identical rows; every other group differs from the
 * one before in one element by one half ulp step, so logits tie exactly
 * inside a group and nearly across groups (at the k-th row too). */
static uint16_t *tie_matrix(int rows, int cols)
{
    uint16_t *w = random_matrix(1, cols, 1.0f);
    uint16_t *m = malloc((size_t)rows * cols * sizeof *m);
    for (int r = 0; r < rows; r++) {
        uint16_t *row = m + (size_t)r * cols;
        memcpy(row, w, (size_t)cols * sizeof *row);
        const int g = r / TIE_GROUP;
        if (g % 2) row[g % cols] = (uint16_t)(row[g % cols] + 1);
    }
    free(w);
    return m;
}

static void random_inputs(float *x, int n, int kind)
{
    for (int i = 0; i < n; i++) {
        switch (kind) {
        case 0: x[i] = rng_float(-2.0f, 2.0f); break;
        case 1: x[i] = (i % 97 == 0) ? rng_float(-300.0f, 300.0f) : rng_float(-0.1f, 0.1f); break;
        case 2: x[i] = ldexpf(rng_float(-1.0f, 1.0f), -140); break;    /* subnormal */
        case 3: x[i] = 0.0f; break;                                    /* every tie */
        case 4: x[i] = i == 7 ? 3e37f : rng_float(-1.0f, 1.0f); break; /* overflow */
        default: x[i] = i == 5 ? NAN : i == 9 ? INFINITY : rng_float(-1, 1); break;
        }
    }
}

#define N_INPUT_KINDS 6

/* Every kernel table, k in {1, 5, 40}, the inputs of every kind. */
static void check_matrix(uint16_t *w, int rows, int cols, const char *what)
{
    const bn_kernels *tables[MAX_TABLES];
    const int nt = bn_kernels_available(tables, MAX_TABLES);
    const int ks[] = {1, 5, 40};
    float *x = malloc((size_t)N_TOKENS * cols * sizeof *x);
    for (int t = 0; t < nt; t++) {
        head_rig h;
        CHECK_MSG(rig_open(&h, tables[t], rows, cols, w, 1 + t % 2) == 0, "%s: no rig", what);
        CHECK_MSG(h.m.lm_copy.q.rows == rows, "%s: no copy made", what);
        for (int kind = 0; kind < N_INPUT_KINDS; kind++)
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
                for (int i = 0; i < N_TOKENS; i++) random_inputs(x + (size_t)i * cols, cols, kind);
                check_case(&h, x, N_TOKENS, ks[ki], what);
            }
        rig_close(&h);
    }
    free(x);
}

TEST(lm_two_stage_random_rows_match_full)
{
    rng_seed(29);
    const int shapes[][2] = {{1000, 256}, {3001, 512}, {40, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        uint16_t *w = random_matrix(shapes[s][0], shapes[s][1], 1.0f);
        check_matrix(w, shapes[s][0], shapes[s][1], "random");
        free(w);
    }
}

TEST(lm_two_stage_near_ties_at_kth_row)
{
    rng_seed(30);
    uint16_t *w = tie_matrix(400, 256);
    check_matrix(w, 400, 256, "ties");
    free(w);
}

TEST(lm_two_stage_extreme_weights)
{
    rng_seed(31);
    const int rows = 500, cols = 256;
    uint16_t *w = random_matrix(rows, cols, 1.0f);
    for (int i = 0; i < rows * cols; i += 7) w[i] = rng_int(0, 1) ? 0x7bff : 0xfbff; /* +-65504 */
    for (int i = 3; i < rows * cols; i += 11) w[i] = (uint16_t)rng_int(1, 0x3ff);    /* subnormal */
    check_matrix(w, rows, cols, "extreme weights");
    free(w);
}

/* Weights with an infinity: no bound holds, so no copy, every row exact. */
TEST(lm_two_stage_no_copy_for_infinite_weights)
{
    rng_seed(32);
    uint16_t *w = random_matrix(100, 64, 1.0f);
    w[100] = 0x7c00;
    head_rig h;
    CHECK(rig_open(&h, best_table(), 100, 64, w, 1) == 0);
    CHECK_EQ_INT(h.m.lm_copy.q.rows, 0);
    float x[N_TOKENS * 64], y[N_TOKENS * 100];
    random_inputs(x, 64, 0);
    rig_logits(&h, x, 1, 1, y);
    CHECK_EQ_INT(h.sess[0].n_exact_rows, 100);
    rig_close(&h);
    free(w);
}

/* On flat random logits the two stages still skip most rows. */
TEST(lm_two_stage_skips_rows)
{
    rng_seed(33);
    const int rows = 4000, cols = 512;
    uint16_t *w = random_matrix(rows, cols, 1.0f);
    head_rig h;
    CHECK(rig_open(&h, best_table(), rows, cols, w, 2) == 0);
    float *x = malloc((size_t)N_TOKENS * cols * sizeof *x);
    random_inputs(x, cols, 0);
    const double exact = check_case(&h, x, 1, 40, "skips");
    CHECK_MSG(exact < rows / 4.0, "%.0f of %d rows computed exactly for k 40", exact, rows);
    free(x);
    rig_close(&h);
    free(w);
}

/* --------------------------------------------------- the sampler's side */

TEST(lm_two_stage_sampler_logits_top)
{
    bn_sampler_params p = bn_sampler_default_params();
    bn_sampler *s = bn_sampler_new(&p, 1000);
    CHECK_EQ_INT(bn_sampler_logits_top(s), 40);
    bn_sampler_free(s);
    p.temp = 0;
    s = bn_sampler_new(&p, 1000);
    CHECK_EQ_INT(bn_sampler_logits_top(s), 1);
    bn_sampler_free(s);
    p.temp = 0.8f;
    p.top_k = 0;
    s = bn_sampler_new(&p, 1000);
    CHECK_EQ_INT(bn_sampler_logits_top(s), 0);
    bn_sampler_free(s);
    p.top_k = 40;
    p.repeat_penalty = 1.1f;
    s = bn_sampler_new(&p, 1000);
    CHECK_EQ_INT(bn_sampler_logits_top(s), 0); /* a penalty can lift a token from below */
    bn_sampler_free(s);
    p.repeat_penalty = 1.0f;
    p.top_k = 1000;
    s = bn_sampler_new(&p, 1000);
    CHECK_EQ_INT(bn_sampler_logits_top(s), 0);
    bn_sampler_free(s);
}

/* Draws from two-stage logits keep the full distribution: their counts
 * against bn_sampler_probs of the full logits, by chi-square. */
TEST(lm_two_stage_sampled_distribution)
{
    rng_seed(34);
    const int rows = 2000, cols = 256;
    uint16_t *w = random_matrix(rows, cols, 1.0f);
    head_rig h;
    CHECK(rig_open(&h, best_table(), rows, cols, w, 2) == 0);
    float *x = malloc((size_t)N_TOKENS * cols * sizeof *x), *y = malloc(rows * sizeof *y);
    float *full = malloc(rows * sizeof *full);
    random_inputs(x, cols, 0);
    for (int i = 0; i < cols; i++) x[i] *= 0.05f; /* logits of a few units: 40 live tokens */
    rig_logits(&h, x, 1, 40, y);
    bn_dense_rows(h.m.kernels, &h.m.output, x, full, 0, rows);
    bn_sampler_params p = bn_sampler_default_params();
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.temp = 1.0f;
    p.seed = 7;
    bn_sampler *s = bn_sampler_new(&p, rows);
    int32_t *ids = malloc(rows * sizeof *ids);
    double *probs = malloc(rows * sizeof *probs), *count = calloc(rows, sizeof *count);
    const int n = bn_sampler_probs(s, full, ids, probs);
    CHECK_EQ_INT(n, 40);
    for (int d = 0; d < STAT_DRAWS; d++) {
        const int32_t id = bn_sampler_sample(s, y);
        if (id >= 0 && id < rows) count[id]++;
    }
    double chi2 = 0, in_top = 0;
    for (int i = 0; i < n; i++) {
        const double want = probs[i] * STAT_DRAWS;
        chi2 += (count[ids[i]] - want) * (count[ids[i]] - want) / want;
        in_top += count[ids[i]];
    }
    CHECK_MSG(in_top == STAT_DRAWS, "%.0f of %d draws outside the full top 40", in_top, STAT_DRAWS);
    CHECK_MSG(chi2 < STAT_CHI2_LIMIT, "chi-square %.1f over 40 tokens", chi2);
    bn_sampler_free(s);
    free(ids);
    free(probs);
    free(count);
    free(x);
    free(y);
    free(full);
    rig_close(&h);
    free(w);
}

/* ------------------------------------------------------- real models */

/* Generates TINY_STEPS tokens from a prompt with sampler params p, in a
 * session wanting every logit and one wanting bn_sampler_logits_top: the
 * same tokens. */
static void check_tiny_generation(bn_model *m, const bn_sampler_params *p)
{
    char err[BN_ERR_LEN];
    const int32_t prompt[] = {1016, 40, 1003, 72, 15};
    int32_t out[2][TINY_STEPS];
    for (int pass = 0; pass < 2; pass++) {
        bn_session *s = bn_session_new(m, NULL, err);
        bn_sampler *smp = bn_sampler_new(p, bn_model_n_vocab(m));
        CHECK(s && smp);
        if (!s || !smp) return;
        if (pass) bn_session_set_logits_top(s, bn_sampler_logits_top(smp));
        const float *logits;
        int ok = bn_session_eval(s, prompt, 5, &logits, err) == 0;
        for (int i = 0; ok && i < TINY_STEPS; i++) {
            out[pass][i] = bn_sampler_sample(smp, logits);
            ok = bn_session_eval(s, &out[pass][i], 1, &logits, err) == 0;
        }
        CHECK_MSG(ok, "tiny: %s", err);
        long vectors, rows = bn_session_exact_rows(s, &vectors);
        if (pass && bn_sampler_logits_top(smp))
            CHECK_MSG(rows < vectors * bn_model_n_vocab(m), "tiny: every row computed (%ld / %ld)",
                      rows, vectors);
        bn_session_free(s);
        bn_sampler_free(smp);
    }
    CHECK_MSG(!memcmp(out[0], out[1], sizeof out[0]), "tiny: other tokens with two stages");
}

TEST(lm_two_stage_tiny_generation)
{
    SHARED_OR_SKIP(path, "models/bitnet-tiny.gguf");
    const bn_kernels *tables[MAX_TABLES];
    const int nt = bn_kernels_available(tables, MAX_TABLES);
    for (int t = 0; t < nt; t++) {
        char err[BN_ERR_LEN];
        bn_model_params mp = bn_model_default_params();
        mp.kernel = tables[t]->name;
        mp.lm_copy = 1; /* too small for one by default */
        bn_model *m = bn_model_load(path, &mp, err);
        CHECK_MSG(m != NULL, "%s", err);
        if (!m) return;
        CHECK_MSG(m->lm_copy.q.rows == bn_model_n_vocab(m), "bitnet-tiny has no output copy");
        bn_sampler_params p = bn_sampler_default_params();
        check_tiny_generation(m, &p); /* top-k 40, temp 0.8 */
        p.temp = 0;
        check_tiny_generation(m, &p);
        p.temp = 1.2f;
        p.top_k = 5;
        p.top_p = 1.0f;
        p.min_p = 0;
        p.seed = 99;
        check_tiny_generation(m, &p);
        bn_model_free(m);
    }
}

/* By default only an output layer too large for the caches gets a copy:
 * bitnet-tiny's (1 MiB) does not, unless asked; -1 never makes one. */
TEST(lm_two_stage_copy_only_for_large_layers)
{
    SHARED_OR_SKIP(path, "models/bitnet-tiny.gguf");
    const int modes[] = {0, 1, -1}, want[] = {0, 1024, 0};
    for (int i = 0; i < 3; i++) {
        char err[BN_ERR_LEN];
        bn_model_params mp = bn_model_default_params();
        mp.lm_copy = modes[i];
        bn_model *m = bn_model_load(path, &mp, err);
        CHECK_MSG(m != NULL, "%s", err);
        if (!m) return;
        CHECK_EQ_INT(m->lm_copy.q.rows, want[i]);
        bn_model_free(m);
    }
}

/* Greedy ids over every reference file of a model the engine loads (not
 * yet tiny-qwen3's architecture): the same with the top row alone
 * exact as with every logit. */
TEST(lm_two_stage_reference_greedy_unchanged)
{
    static const char *const pairs[][2] = {
        {"models/bitnet-tiny.gguf", "reference/bitnet-tiny-greedy.jsonl"},
        {"models/bitnet-tiny-tq2_0.gguf", "reference/bitnet-tiny-greedy.jsonl"},
        {"models/bitnet-tiny-tq1_0.gguf", "reference/bitnet-tiny-greedy.jsonl"},
        {"models/bitnet-tiny-arch-bitnet-tq2_0.gguf", "reference/bitnet-tiny-greedy.jsonl"},
        {"models/tiny-llama-i2s.gguf", "reference/tiny-llama-greedy.jsonl"},
        {"models/tiny-llama-tq2_0.gguf", "reference/tiny-llama-greedy.jsonl"},
    };
    if (!test_shared_dir()) SKIP("../shared is absent: no reference files");
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char model_path[1024], ref_path[1024], err[BN_ERR_LEN];
        snprintf(model_path, sizeof model_path, "%s", test_shared_path(pairs[i][0]));
        snprintf(ref_path, sizeof ref_path, "%s", test_shared_path(pairs[i][1]));
        bn_model_params mp = bn_model_default_params();
        mp.lm_copy = 1;
        bn_model *m = bn_model_load(model_path, &mp, err);
        CHECK_MSG(m != NULL, "%s: %s", model_path, err);
        if (!m) continue;
        ref_result full, top;
        CHECK(ref_compare(m, ref_path, &full) == 0);
        CHECK(ref_compare_top(m, ref_path, 1, &top) == 0);
        CHECK_MSG(full.records > 0 && top.records == full.records &&
                      top.plain_mismatches == full.plain_mismatches &&
                      top.chat_mismatches == full.chat_mismatches,
                  "%s: %d records, mismatches %d/%d full, %d/%d two-stage", model_path,
                  full.records, full.plain_mismatches, full.chat_mismatches, top.plain_mismatches,
                  top.chat_mismatches);
        bn_model_free(m);
    }
}
