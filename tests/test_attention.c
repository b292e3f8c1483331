/*
 * test_attention.c - the attention products of the kernel tables
 * (attn_scores, attn_values in kernels.h, over an F32 KV cache, and their
 * _f16 forms over an F16 one): the scalar kernel follows the lane order
 * kernels.h defines, written out by hand here; its F16 form is the F32 one
 * run on the halves widened to floats; and every table this CPU runs gives
 * the scalar results bit for bit, in both forms, over random head sizes,
 * position counts, cache strides and value ranges.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "test.h"

#define N_CASES 200
#define MAX_POSITIONS 67 /* several groups of keys and a short last one */
#define MAX_HEAD_DIM 264 /* multiples of 8 up to here: whole and half lane steps */
#define MAX_QUERIES 9    /* query heads per kv head: two groups of 4 and a short one */
#define SENTINEL (-7.0f) /* scores between n and ld must keep it */
#define F16_RANGE 200.0f /* times the 2^8 of fill() stays below the F16 maximum, 65504 */

/* Values spread over 2^-8..2^8 of range: sums of them round differently
 * in any other order, so a wrong order shows. */
static void fill(float *x, size_t n, float range)
{
    for (size_t i = 0; i < n; i++) x[i] = ldexpf(rng_float(-range, range), rng_int(-8, 8));
}

TEST(attention_scalar_scores_lane_order)
{
    /* 24 elements: one step of 16 lanes, then 8 that reach lanes 0-7 only */
    enum { D = 24, N = 8, STRIDE = 29, N_Q = 2, LD = N + 3 };
    float q[N_Q * D], k[N * STRIDE], got[N_Q * LD];
    const float scale = 0.3f;
    rng_seed(31);
    fill(q, (size_t)N_Q * D, 2.0f);
    fill(k, (size_t)N * STRIDE, 2.0f);
    bn_kernels_scalar.attn_scores(q, N_Q, k, STRIDE, N, D, scale, got, LD, 0);
    for (int j = 0; j < N_Q; j++)
        for (int p = 0; p < N; p++) {
            float lane[16] = {0};
            for (int i = 0; i < D; i++)
                lane[i % 16] = lane[i % 16] + q[j * D + i] * k[p * STRIDE + i];
            for (int width = 8; width >= 1; width /= 2)
                for (int l = 0; l < width; l++) lane[l] = lane[l] + lane[l + width];
            CHECK_MSG(lane[0] * scale == got[j * LD + p], "query %d, position %d: %.9g != %.9g", j,
                      p, got[j * LD + p], lane[0] * scale);
        }
}

TEST(attention_scalar_values_in_position_order)
{
    enum { D = 16, N = 9, STRIDE = 20, N_Q = 2, LD = N + 2 };
    float w[N_Q * LD], v[N * STRIDE], got[N_Q * D];
    rng_seed(32);
    fill(w, (size_t)N_Q * LD, 1.0f);
    fill(v, (size_t)N * STRIDE, 100.0f);
    bn_kernels_scalar.attn_values(w, LD, N_Q, v, STRIDE, N, D, got);
    for (int j = 0; j < N_Q; j++)
        for (int i = 0; i < D; i++) {
            float want = 0.0f;
            for (int p = 0; p < N; p++) want = want + w[j * LD + p] * v[p * STRIDE + i];
            CHECK_MSG(want == got[j * D + i], "query %d, element %d: %.9g != %.9g", j, i,
                      got[j * D + i], want);
        }
}

/* One random case: queries q, weights w and one cache of n rows,
 * `stride` apart, used for both keys and values: as floats (kv) and,
 * filled apart (the F16 range is narrower), as halves (kv16) with the
 * floats they stand for (kv16_wide). */
typedef struct {
    int d, n, n_q;
    size_t stride, ld, n_scores, n_out, n_kv;
    float scale;
    float *q, *w, *kv, *kv16_wide;
    uint16_t *kv16;
} attn_case;

static void case_free(attn_case *c)
{
    free(c->q);
    free(c->w);
    free(c->kv);
    free(c->kv16_wide);
    free(c->kv16);
}

/* Case number i; returns 0, or -1 (a failed CHECK) when out of memory. */
static int case_new(attn_case *c, int i)
{
    memset(c, 0, sizeof *c);
    c->d = 8 * rng_int(1, MAX_HEAD_DIM / 8);
    c->n = rng_int(1, MAX_POSITIONS);
    c->n_q = rng_int(1, MAX_QUERIES);
    c->stride = (size_t)c->d + 8 * (size_t)rng_int(0, 3);
    c->ld = (size_t)c->n + (size_t)rng_int(0, 3);
    c->n_scores = (size_t)c->n_q * c->ld;
    c->n_out = (size_t)c->n_q * c->d;
    c->n_kv = (size_t)c->n * c->stride;
    c->scale = 1.0f / sqrtf((float)c->d);
    /* wide ranges make cancellation, so the order of every add shows; the
     * smallest reach the F16 subnormals */
    const float range = i % 3 == 0 ? 1e4f : i % 3 == 1 ? 1.0f : 1e-3f;
    c->q = malloc(c->n_out * sizeof *c->q);
    c->w = malloc(c->n_scores * sizeof *c->w);
    c->kv = malloc(c->n_kv * sizeof *c->kv);
    c->kv16_wide = malloc(c->n_kv * sizeof *c->kv16_wide);
    c->kv16 = malloc(c->n_kv * sizeof *c->kv16);
    CHECK(c->q && c->w && c->kv && c->kv16_wide && c->kv16);
    if (!c->q || !c->w || !c->kv || !c->kv16_wide || !c->kv16) {
        case_free(c);
        return -1;
    }
    fill(c->q, c->n_out, range);
    fill(c->w, c->n_scores, 1.0f);
    fill(c->kv, c->n_kv, range);
    fill(c->kv16_wide, c->n_kv, range < F16_RANGE ? range : F16_RANGE);
    for (size_t k = 0; k < c->n_kv; k++) {
        c->kv16[k] = bn_f32_to_f16(c->kv16_wide[k]);
        c->kv16_wide[k] = bn_f16_to_f32(c->kv16[k]);
    }
    return 0;
}

/* Scores (gaps past n hold SENTINEL) and outputs of table t on case c,
 * over its float cache or (f16) its halves, with the rows said to be hot
 * (just read) or not (kernels.h). */
static void run_case(const bn_kernels *t, const attn_case *c, int f16, int hot, float *scores,
                     float *out)
{
    for (size_t i = 0; i < c->n_scores; i++) scores[i] = SENTINEL;
    if (f16) {
        t->attn_scores_f16(c->q, c->n_q, c->kv16, c->stride, c->n, c->d, c->scale, scores, c->ld,
                           hot);
        t->attn_values_f16(c->w, c->ld, c->n_q, c->kv16, c->stride, c->n, c->d, out);
    } else {
        t->attn_scores(c->q, c->n_q, c->kv, c->stride, c->n, c->d, c->scale, scores, c->ld, hot);
        t->attn_values(c->w, c->ld, c->n_q, c->kv, c->stride, c->n, c->d, out);
    }
}

/* Results of one run of case c. */
typedef struct {
    float *scores, *out;
} attn_result;

static int result_new(attn_result *r, const attn_case *c)
{
    r->scores = malloc(c->n_scores * sizeof *r->scores);
    r->out = malloc(c->n_out * sizeof *r->out);
    CHECK(r->scores && r->out);
    return r->scores && r->out ? 0 : -1;
}

static void result_free(attn_result *r)
{
    free(r->scores);
    free(r->out);
}

/* Does `got` equal `want` bit for bit? what names the comparison. */
static void check_same(const attn_case *c, const attn_result *got, const attn_result *want,
                       const char *what)
{
    CHECK_MSG(!memcmp(got->scores, want->scores, c->n_scores * sizeof *got->scores),
              "%s scores: %d queries, d %d, %d positions, stride %zu, ld %zu differ", what, c->n_q,
              c->d, c->n, c->stride, c->ld);
    CHECK_MSG(!memcmp(got->out, want->out, c->n_out * sizeof *got->out),
              "%s values: %d queries, d %d, %d positions, stride %zu, ld %zu differ", what, c->n_q,
              c->d, c->n, c->stride, c->ld);
}

/* Case i for every table, over both kinds of cache, hot and cold, against
 * scalar. */
static void compare_case(const bn_kernels *const *tables, int n_tables, int i)
{
    attn_case c;
    if (case_new(&c, i)) return;
    attn_result want, got;
    const int failed = result_new(&want, &c) | result_new(&got, &c); /* both allocate */
    for (int f16 = 0; !failed && f16 <= 1; f16++) {
        run_case(&bn_kernels_scalar, &c, f16, 0, want.scores, want.out);
        for (int t = 0; t < n_tables; t++)
            for (int hot = 0; hot <= 1; hot++) {
                char what[80];
                snprintf(what, sizeof what, "%s attn%s%s against scalar", tables[t]->name,
                         f16 ? " (F16 cache)" : "", hot ? " (hot rows)" : "");
                run_case(tables[t], &c, f16, hot, got.scores, got.out);
                check_same(&c, &got, &want, what);
            }
    }
    result_free(&want);
    result_free(&got);
    case_free(&c);
}

TEST(attention_every_kernel_matches_scalar_bitwise)
{
    const bn_kernels *all[BN_KERNELS_MAX], *simd[BN_KERNELS_MAX];
    const int n_all = bn_kernels_available(all, BN_KERNELS_MAX);
    int n_simd = 0;
    printf("    attention kernels compared (F32 and F16 caches):");
    for (int t = 0; t < n_all; t++)
        if (strcmp(all[t]->name, "scalar") != 0) {
            simd[n_simd++] = all[t];
            printf(" %s", all[t]->name);
        }
    printf("\n");
    if (!n_simd) SKIP("this CPU has no SIMD kernel");
    rng_seed(4101);
    for (int c = 0; c < N_CASES; c++) compare_case(simd, n_simd, c);
}

/* The definition of the F16 forms: the F32 kernels over the halves
 * widened to floats, so an F16 cache changes only the cached values. */
TEST(attention_f16_scalar_is_f32_over_the_rounded_cache)
{
    rng_seed(4102);
    for (int i = 0; i < N_CASES; i++) {
        attn_case c;
        if (case_new(&c, i)) return;
        attn_result from_halves, from_floats;
        if (!(result_new(&from_halves, &c) | result_new(&from_floats, &c))) { /* both allocate */
            run_case(&bn_kernels_scalar, &c, 1, 0, from_halves.scores, from_halves.out);
            attn_case wide = c; /* the same case over the widened halves as floats */
            wide.kv = c.kv16_wide;
            run_case(&bn_kernels_scalar, &wide, 0, 0, from_floats.scores, from_floats.out);
            check_same(&c, &from_halves, &from_floats, "scalar F16 against F32 on the halves");
        }
        result_free(&from_halves);
        result_free(&from_floats);
        case_free(&c);
    }
}
