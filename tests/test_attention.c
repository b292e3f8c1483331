/*
 * test_attention.c - the attention products of the kernel tables
 * (attn_scores, attn_values in kernels.h): the scalar kernel follows the
 * lane order kernels.h defines, written out by hand here, and every table
 * this CPU runs gives its results bit for bit over random head sizes,
 * position counts, cache strides and value ranges.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "test.h"

#define N_CASES 200
#define MAX_POSITIONS 67 /* several groups of keys and a short last one */
#define MAX_HEAD_DIM 264 /* multiples of 8 up to here: whole and half lane steps */
#define MAX_QUERIES 9    /* query heads per kv head: two groups of 4 and a short one */
#define SENTINEL (-7.0f) /* scores between n and ld must keep it */

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
    bn_kernels_scalar.attn_scores(q, N_Q, k, STRIDE, N, D, scale, got, LD);
    for (int j = 0; j < N_Q; j++)
        for (int p = 0; p < N; p++) {
            float lane[16] = {0};
            for (int i = 0; i < D; i++) lane[i % 16] = lane[i % 16] + q[j * D + i] * k[p * STRIDE + i];
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

/* One random case for every table. */
static void compare_case(const bn_kernels *const *tables, int n_tables, int c)
{
    const int d = 8 * rng_int(1, MAX_HEAD_DIM / 8), n = rng_int(1, MAX_POSITIONS);
    const int n_q = rng_int(1, MAX_QUERIES);
    const size_t stride = (size_t)d + 8 * (size_t)rng_int(0, 3), ld = (size_t)n + (size_t)rng_int(0, 3);
    /* wide ranges make cancellation, so the order of every add shows */
    const float range = c % 3 == 0 ? 1e4f : c % 3 == 1 ? 1.0f : 1e-3f;
    const size_t n_scores = (size_t)n_q * ld, n_out = (size_t)n_q * d;
    float *q = malloc(n_out * sizeof *q), *kv = malloc((size_t)n * stride * sizeof *kv);
    float *w = malloc(n_scores * sizeof *w);
    float *want_s = malloc(n_scores * sizeof *want_s), *got_s = malloc(n_scores * sizeof *got_s);
    float *want_o = malloc(n_out * sizeof *want_o), *got_o = malloc(n_out * sizeof *got_o);
    CHECK(q && kv && w && want_s && got_s && want_o && got_o);
    if (q && kv && w && want_s && got_s && want_o && got_o) {
        fill(q, n_out, range);
        fill(kv, (size_t)n * stride, range);
        fill(w, n_scores, 1.0f);
        const float scale = 1.0f / sqrtf((float)d);
        for (size_t i = 0; i < n_scores; i++) want_s[i] = SENTINEL; /* gaps past n keep it */
        bn_kernels_scalar.attn_scores(q, n_q, kv, stride, n, d, scale, want_s, ld);
        bn_kernels_scalar.attn_values(w, ld, n_q, kv, stride, n, d, want_o);
        for (int t = 0; t < n_tables; t++) {
            for (size_t i = 0; i < n_scores; i++) got_s[i] = SENTINEL;
            tables[t]->attn_scores(q, n_q, kv, stride, n, d, scale, got_s, ld);
            tables[t]->attn_values(w, ld, n_q, kv, stride, n, d, got_o);
            CHECK_MSG(!memcmp(got_s, want_s, n_scores * sizeof *got_s),
                      "%s attn_scores: %d queries, d %d, %d positions, stride %zu, ld %zu differ "
                      "from scalar", tables[t]->name, n_q, d, n, stride, ld);
            CHECK_MSG(!memcmp(got_o, want_o, n_out * sizeof *got_o),
                      "%s attn_values: %d queries, d %d, %d positions, stride %zu, ld %zu differ "
                      "from scalar", tables[t]->name, n_q, d, n, stride, ld);
        }
    }
    free(q);
    free(kv);
    free(w);
    free(want_s);
    free(got_s);
    free(want_o);
    free(got_o);
}

TEST(attention_every_kernel_matches_scalar_bitwise)
{
    const bn_kernels *all[BN_KERNELS_MAX], *simd[BN_KERNELS_MAX];
    const int n_all = bn_kernels_available(all, BN_KERNELS_MAX);
    int n_simd = 0;
    printf("    attention kernels compared:");
    for (int t = 0; t < n_all; t++)
        if (all[t] != &bn_kernels_scalar) {
            simd[n_simd++] = all[t];
            printf(" %s", all[t]->name);
        }
    printf("\n");
    if (!n_simd) SKIP("this CPU has no SIMD kernel");
    rng_seed(4101);
    for (int c = 0; c < N_CASES; c++) compare_case(simd, n_simd, c);
}
