/*
 * test_sampler.c - tests of the sampler (src/sampler.c): greedy, seeds,
 * top-k / top-p / min-p / typical, temperature, repetition, presence and
 * frequency penalties, logit bias, captured logprobs, reset, bad input.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "bitnet.h"
#include "test.h"

/* Every filter off, temperature 1: plain softmax sampling. */
static bn_sampler_params plain_params(uint64_t seed)
{
    bn_sampler_params p = bn_sampler_default_params();
    p.temp = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.seed = seed;
    return p;
}

/* Draws n tokens and counts how often each id comes out; returns the
 * number of draws that were out of [0, n_vocab). */
static int count_draws(bn_sampler *s, const float *logits, int n_vocab, int n, int *counts)
{
    int bad = 0;
    for (int i = 0; i < n_vocab; i++) counts[i] = 0;
    for (int i = 0; i < n; i++) {
        int32_t id = bn_sampler_sample(s, logits);
        if (id < 0 || id >= n_vocab)
            bad++;
        else
            counts[id]++;
    }
    return bad;
}

static void softmax(const float *logits, int n, double temp, double *probs)
{
    double max = logits[0], total = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > max) max = logits[i];
    for (int i = 0; i < n; i++) total += probs[i] = exp((logits[i] - max) / temp);
    for (int i = 0; i < n; i++) probs[i] /= total;
}

/* Frequencies of n draws within tol of probs (tol ~ 5 standard deviations). */
static void check_distribution(bn_sampler *s, const float *logits, const double *probs, int n_vocab,
                               int n, double tol)
{
    int counts[16];
    CHECK_EQ_INT(count_draws(s, logits, n_vocab, n, counts), 0);
    for (int i = 0; i < n_vocab; i++) {
        double freq = (double)counts[i] / n;
        CHECK_MSG(fabs(freq - probs[i]) < tol, "token %d: frequency %.4f, expected %.4f", i, freq,
                  probs[i]);
    }
}

TEST(sampler_defaults_match_llama_cli)
{
    bn_sampler_params p = bn_sampler_default_params();
    CHECK(p.temp == 0.8f);
    CHECK_EQ_INT(p.top_k, 40);
    CHECK(p.top_p == 0.95f);
    CHECK(p.min_p == 0.05f);
    CHECK(p.repeat_penalty == 1.0f);
    CHECK_EQ_INT(p.repeat_last_n, 64);
    CHECK(p.seed == BN_SAMPLER_DEFAULT_SEED);
}

TEST(sampler_greedy_argmax_lowest_id_on_ties)
{
    bn_sampler_params p = bn_sampler_default_params();
    p.temp = 0.0f;
    bn_sampler *s = bn_sampler_new(&p, 6);
    CHECK(s != NULL);
    if (!s) return;
    const float logits[6] = {0.5f, -1.0f, 3.0f, 2.9f, 1.0f, -7.0f};
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 2);
    const float tied[6] = {0.5f, 4.0f, 3.0f, 4.0f, 4.0f, -7.0f};
    CHECK_EQ_INT(bn_sampler_sample(s, tied), 1);
    bn_sampler_free(s);

    p.temp = -1.0f; /* negative temperature is greedy too */
    s = bn_sampler_new(&p, 6);
    CHECK(s && bn_sampler_sample(s, logits) == 2);
    bn_sampler_free(s);
}

TEST(sampler_same_seed_same_sequence)
{
    enum { VOCAB = 16, DRAWS = 1000 };
    float logits[VOCAB] = {0};
    bn_sampler_params p = plain_params(1234);
    bn_sampler *a = bn_sampler_new(&p, VOCAB), *b = bn_sampler_new(&p, VOCAB);
    p.seed = 1235;
    bn_sampler *c = bn_sampler_new(&p, VOCAB);
    CHECK(a && b && c);
    if (!a || !b || !c) return;
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < DRAWS; i++) {
        int32_t ta = bn_sampler_sample(a, logits);
        same_ab += ta == bn_sampler_sample(b, logits);
        same_ac += ta == bn_sampler_sample(c, logits);
    }
    CHECK_EQ_INT(same_ab, DRAWS);
    /* Independent uniform streams agree ~1/16 of the time. */
    CHECK_MSG(same_ac < DRAWS / 4, "seeds 1234 and 1235 agree on %d of %d draws", same_ac, DRAWS);
    bn_sampler_free(a);
    bn_sampler_free(b);
    bn_sampler_free(c);
}

/* A sampler with p picks `want` from logits in each of 200 draws. */
static void check_always_picks(const bn_sampler_params *p, const float *logits, int n_vocab,
                               int32_t want)
{
    bn_sampler *s = bn_sampler_new(p, n_vocab);
    CHECK(s != NULL);
    if (!s) return;
    for (int i = 0; i < 200; i++) CHECK_EQ_INT(bn_sampler_sample(s, logits), want);
    bn_sampler_free(s);
}

TEST(sampler_top_k_1_is_greedy_at_any_temp)
{
    const float logits[5] = {1.0f, 2.5f, 2.5f, 2.4f, -3.0f};
    const float temps[3] = {0.5f, 1.0f, 100.0f};
    for (int t = 0; t < 3; t++) {
        bn_sampler_params p = plain_params(7);
        p.temp = temps[t];
        p.top_k = 1;
        check_always_picks(&p, logits, 5, 1);
    }
}

TEST(sampler_tiny_top_p_is_greedy)
{
    const float logits[5] = {1.0f, 2.0f, 2.0f, 1.9f, -3.0f};
    bn_sampler_params p = plain_params(9);
    p.temp = 5.0f;
    p.top_p = 1e-6f;
    check_always_picks(&p, logits, 5, 1);
}

TEST(sampler_top_k_keeps_best_and_renormalizes)
{
    enum { VOCAB = 6, DRAWS = 20000 };
    const float logits[VOCAB] = {0.1f, 1.0f, -2.0f, 0.5f, 0.2f, 0.0f};
    bn_sampler_params p = plain_params(11);
    p.top_k = 3; /* ids 1, 3, 4 */
    bn_sampler *s = bn_sampler_new(&p, VOCAB);
    CHECK(s != NULL);
    if (!s) return;
    const float kept[3] = {1.0f, 0.5f, 0.2f};
    double probs3[3], probs[VOCAB] = {0};
    softmax(kept, 3, 1.0, probs3);
    probs[1] = probs3[0], probs[3] = probs3[1], probs[4] = probs3[2];
    check_distribution(s, logits, probs, VOCAB, DRAWS, 0.02);
    bn_sampler_free(s);
}

TEST(sampler_top_p_keeps_shortest_prefix_reaching_p)
{
    enum { VOCAB = 4, DRAWS = 20000 };
    /* Probabilities 0.5, 0.3, 0.15, 0.05 (ids shuffled). top_p 0.75:
     * 0.5 < 0.75 <= 0.8, so ids 2 and 0 stay, in ratio 5:3. */
    const float logits[VOCAB] = {logf(0.3f), logf(0.05f), logf(0.5f), logf(0.15f)};
    bn_sampler_params p = plain_params(13);
    p.top_p = 0.75f;
    bn_sampler *s = bn_sampler_new(&p, VOCAB);
    CHECK(s != NULL);
    if (!s) return;
    const double probs[VOCAB] = {0.375, 0, 0.625, 0};
    check_distribution(s, logits, probs, VOCAB, DRAWS, 0.02);
    bn_sampler_free(s);
}

TEST(sampler_min_p_removes_tokens_below_threshold)
{
    enum { VOCAB = 4, DRAWS = 20000 };
    /* Relative to the best token: 0.21 (kept), 0.19 (removed), 1/e^10. */
    const float logits[VOCAB] = {0.0f, logf(0.21f), logf(0.19f), -10.0f};
    bn_sampler_params p = plain_params(17);
    p.min_p = 0.2f;
    p.temp = 3.0f; /* flattens what is left, so a survivor is drawn often */
    bn_sampler *s = bn_sampler_new(&p, VOCAB);
    CHECK(s != NULL);
    if (!s) return;
    int counts[VOCAB];
    CHECK_EQ_INT(count_draws(s, logits, VOCAB, DRAWS, counts), 0);
    CHECK_EQ_INT(counts[2], 0);
    CHECK_EQ_INT(counts[3], 0);
    CHECK_MSG(counts[1] > DRAWS / 5, "token 1 drawn only %d times", counts[1]);
    bn_sampler_free(s);
}

TEST(sampler_softmax_distribution_at_temp_1)
{
    enum { VOCAB = 4, DRAWS = 20000 };
    const float logits[VOCAB] = {1.0f, 2.0f, 0.5f, -1.0f};
    bn_sampler_params p = plain_params(19);
    bn_sampler *s = bn_sampler_new(&p, VOCAB);
    CHECK(s != NULL);
    if (!s) return;
    double probs[VOCAB];
    softmax(logits, VOCAB, 1.0, probs);
    check_distribution(s, logits, probs, VOCAB, DRAWS, 0.017);
    bn_sampler_free(s);
}

TEST(sampler_temperature_scales_logits)
{
    enum { VOCAB = 3, DRAWS = 20000 };
    const float logits[VOCAB] = {0.0f, 1.0f, 0.3f};
    bn_sampler_params p = plain_params(23);
    p.temp = 0.5f;
    bn_sampler *s = bn_sampler_new(&p, VOCAB);
    CHECK(s != NULL);
    if (!s) return;
    double probs[VOCAB];
    softmax(logits, VOCAB, 0.5, probs);
    check_distribution(s, logits, probs, VOCAB, DRAWS, 0.017);
    bn_sampler_free(s);
}

static bn_sampler *greedy_penalty_sampler(float penalty, int last_n, int n_vocab)
{
    bn_sampler_params p = bn_sampler_default_params();
    p.temp = 0.0f;
    p.repeat_penalty = penalty;
    p.repeat_last_n = last_n;
    return bn_sampler_new(&p, n_vocab);
}

TEST(sampler_repeat_penalty_divides_positive_multiplies_negative)
{
    const float positive[3] = {2.0f, 1.5f, 0.0f};    /* 2 / 1.5 < 1.5 */
    const float negative[3] = {-1.0f, -1.2f, -5.0f}; /* -1 * 1.5 < -1.2 */
    bn_sampler *s = greedy_penalty_sampler(1.5f, 64, 3);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(bn_sampler_sample(s, positive), 0);
    CHECK_EQ_INT(bn_sampler_sample(s, negative), 0);
    bn_sampler_accept(s, 0);
    bn_sampler_accept(s, 0); /* repeated: still penalized only once */
    bn_sampler_accept(s, 0);
    CHECK_EQ_INT(bn_sampler_sample(s, positive), 1);
    CHECK_EQ_INT(bn_sampler_sample(s, negative), 1);
    const float far_ahead[3] = {2.0f, 1.2f, 0.0f}; /* 2 / 1.5 > 1.2: one penalty only */
    CHECK_EQ_INT(bn_sampler_sample(s, far_ahead), 0);
    bn_sampler_free(s);
}

TEST(sampler_repeat_penalty_window)
{
    const float logits[4] = {3.0f, 2.5f, 2.4f, 0.0f};
    bn_sampler *s = greedy_penalty_sampler(2.0f, 2, 4);
    CHECK(s != NULL);
    if (!s) return;
    bn_sampler_accept(s, 0);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 1);
    bn_sampler_accept(s, 3);
    bn_sampler_accept(s, 3); /* 0 has left the 2-token window */
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 0);
    bn_sampler_free(s);

    s = greedy_penalty_sampler(2.0f, -1, 4); /* -1: every accepted token */
    CHECK(s != NULL);
    if (!s) return;
    bn_sampler_accept(s, 0);
    for (int i = 0; i < 100; i++) bn_sampler_accept(s, 3);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 1);
    bn_sampler_accept(s, 1);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 2);
    bn_sampler_free(s);

    s = greedy_penalty_sampler(2.0f, 0, 4); /* 0: penalty off */
    CHECK(s != NULL);
    if (!s) return;
    bn_sampler_accept(s, 0);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 0);
    bn_sampler_free(s);
}

TEST(sampler_repeat_penalty_lowers_chance_when_sampling)
{
    enum { VOCAB = 3, DRAWS = 5000 };
    const float logits[VOCAB] = {2.0f, 1.0f, 1.0f};
    bn_sampler_params p = plain_params(29);
    p.repeat_penalty = 4.0f; /* 2.0 -> 0.5 */
    bn_sampler *s = bn_sampler_new(&p, VOCAB);
    CHECK(s != NULL);
    if (!s) return;
    int before[VOCAB], after[VOCAB];
    count_draws(s, logits, VOCAB, DRAWS, before);
    bn_sampler_accept(s, 0);
    count_draws(s, logits, VOCAB, DRAWS, after);
    CHECK_MSG(after[0] * 2 < before[0], "token 0: %d draws before, %d after", before[0], after[0]);
    bn_sampler_free(s);
}

TEST(sampler_reset_clears_history_and_reseeds)
{
    enum { VOCAB = 8, DRAWS = 100 };
    const float logits[VOCAB] = {3.0f, 2.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
    bn_sampler_params p = plain_params(31);
    p.repeat_penalty = 10.0f;
    bn_sampler *s = bn_sampler_new(&p, VOCAB), *fresh = bn_sampler_new(&p, VOCAB);
    CHECK(s && fresh);
    if (!s || !fresh) return;
    bn_sampler_accept(s, 0);
    for (int i = 0; i < DRAWS; i++) bn_sampler_sample(s, logits);
    bn_sampler_reset(s);
    int same = 0;
    for (int i = 0; i < DRAWS; i++)
        same += bn_sampler_sample(s, logits) == bn_sampler_sample(fresh, logits);
    CHECK_EQ_INT(same, DRAWS);
    bn_sampler_free(s);
    bn_sampler_free(fresh);

    s = greedy_penalty_sampler(10.0f, 64, VOCAB);
    CHECK(s != NULL);
    if (!s) return;
    bn_sampler_accept(s, 0);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 1);
    bn_sampler_reset(s);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 0);
    bn_sampler_free(s);
}

TEST(sampler_nan_and_inf_logits)
{
    enum { VOCAB = 5, DRAWS = 2000 };
    const float with_nan[VOCAB] = {NAN, 1.0f, NAN, 1.0f, -INFINITY};
    const float with_inf[VOCAB] = {1.0f, INFINITY, 2.0f, FLT_MAX, NAN};
    const float all_bad[VOCAB] = {NAN, -INFINITY, NAN, -INFINITY, NAN};
    bn_sampler_params p = plain_params(37);
    p.repeat_penalty = 0.5f; /* pushes FLT_MAX to +inf once 3 is accepted */
    bn_sampler *s = bn_sampler_new(&p, VOCAB);
    CHECK(s != NULL);
    if (!s) return;
    int counts[VOCAB];
    CHECK_EQ_INT(count_draws(s, with_nan, VOCAB, DRAWS, counts), 0);
    CHECK(counts[0] == 0 && counts[2] == 0 && counts[4] == 0);
    bn_sampler_accept(s, 3);
    CHECK_EQ_INT(count_draws(s, with_inf, VOCAB, DRAWS, counts), 0);
    CHECK_EQ_INT(counts[1] + counts[3], DRAWS);
    CHECK(counts[1] > 0 && counts[3] > 0);
    int32_t id = bn_sampler_sample(s, all_bad);
    CHECK(id >= 0 && id < VOCAB);
    bn_sampler_free(s);
}

TEST(sampler_large_vocab_default_params)
{
    enum { VOCAB = 128256 };
    float *logits = malloc(VOCAB * sizeof *logits);
    CHECK(logits != NULL);
    if (!logits) return;
    uint32_t x = 12345; /* small LCG: reproducible pseudo-random logits */
    for (int i = 0; i < VOCAB; i++) {
        x = x * 1664525u + 1013904223u;
        logits[i] = (float)(x >> 8) / (float)(1u << 24) * 10.0f;
    }
    logits[777] = 30.0f; /* dominant: min-p leaves nothing else */
    bn_sampler_params p = bn_sampler_default_params();
    bn_sampler *s = bn_sampler_new(&p, VOCAB);
    CHECK(s != NULL);
    for (int i = 0; s && i < 20; i++) CHECK_EQ_INT(bn_sampler_sample(s, logits), 777);
    bn_sampler_free(s);

    p.top_k = 0; /* full-vocabulary path; draws stay in range */
    p.min_p = 0.0f;
    logits[777] = 5.0f;
    s = bn_sampler_new(&p, VOCAB);
    CHECK(s != NULL);
    for (int i = 0; s && i < 5; i++) {
        int32_t id = bn_sampler_sample(s, logits);
        CHECK(id >= 0 && id < VOCAB);
    }
    bn_sampler_free(s);
    free(logits);
}

TEST(sampler_rejects_bad_params)
{
    char err[BN_ERR_LEN];
    bn_sampler_params p = bn_sampler_default_params();
    CHECK(bn_sampler_new(&p, 0) == NULL);
    CHECK(bn_sampler_new(NULL, 10) == NULL);
    p.repeat_penalty = 0.0f;
    CHECK(bn_sampler_new(&p, 10) == NULL);
    CHECK_EQ_INT(bn_sampler_params_check(&p, 10, err), -1);
    CHECK(err[0] != 0);
    p = bn_sampler_default_params();
    p.top_k = -1;
    CHECK(bn_sampler_new(&p, 10) == NULL);
    p = bn_sampler_default_params();
    p.repeat_last_n = -2;
    CHECK(bn_sampler_new(&p, 10) == NULL);
    p = bn_sampler_default_params();
    p.temp = NAN;
    CHECK(bn_sampler_new(&p, 10) == NULL);
    p = bn_sampler_default_params();
    CHECK_EQ_INT(bn_sampler_params_check(&p, 10, err), 0);

    bn_sampler *s = bn_sampler_new(&p, 10);
    CHECK(s != NULL);
    bn_sampler_accept(s, -5); /* ignored, no crash */
    bn_sampler_accept(s, 10);
    CHECK_EQ_INT(bn_sampler_sample(s, NULL), -1);
    CHECK_EQ_INT(bn_sampler_sample(NULL, NULL), -1);
    bn_sampler_free(s);
    bn_sampler_free(NULL);
}

/* bn_sampler_probs as an array indexed by id (0 for the tokens cut). */
static int probs_by_id(bn_sampler *s, const float *logits, int n_vocab, double *by_id)
{
    int32_t ids[16];
    double probs[16];
    int n = bn_sampler_probs(s, logits, ids, probs);
    for (int i = 0; i < n_vocab; i++) by_id[i] = 0;
    for (int i = 0; i < n; i++) by_id[ids[i]] = probs[i];
    return n;
}

TEST(sampler_probs_follow_the_chain)
{
    enum { VOCAB = 5 };
    const float logits[VOCAB] = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
    double expect[VOCAB], got[VOCAB], sum = 0;
    bn_sampler_params p = plain_params(3);
    bn_sampler *s = bn_sampler_new(&p, VOCAB);
    CHECK_EQ_INT(probs_by_id(s, logits, VOCAB, got), VOCAB);
    softmax(logits, VOCAB, 1.0, expect);
    for (int i = 0; i < VOCAB; i++) {
        CHECK_MSG(fabs(got[i] - expect[i]) < 1e-12, "id %d: %g != %g", i, got[i], expect[i]);
        sum += got[i];
    }
    CHECK(fabs(sum - 1.0) < 1e-12);
    bn_sampler_free(s);

    p.top_k = 2; /* ids 1 and 4 survive, renormalized */
    s = bn_sampler_new(&p, VOCAB);
    CHECK_EQ_INT(probs_by_id(s, logits, VOCAB, got), 2);
    CHECK(fabs(got[1] - 1.0 / (1.0 + exp(-0.5))) < 1e-12);
    CHECK_EQ_INT(got[0] == 0 && got[2] == 0 && got[3] == 0, 1);
    bn_sampler_free(s);

    p.temp = 0.0f; /* greedy: the argmax, certain */
    s = bn_sampler_new(&p, VOCAB);
    CHECK_EQ_INT(probs_by_id(s, logits, VOCAB, got), 1);
    CHECK(got[1] == 1.0);
    CHECK_EQ_INT(bn_sampler_probs(s, NULL, NULL, NULL), -1);
    bn_sampler_free(s);
}

/* Draws n tokens with bn_sampler_sample_draft(draft) and checks every
 * frequency against bn_sampler_probs within tol (about 5 standard
 * deviations): the speculative rule must not change the distribution,
 * whether the draft is likely, unlikely or cut by the filters. */
static void check_draft_distribution(const bn_sampler_params *p, const float *logits, int n_vocab,
                                     int32_t draft, int n, double tol)
{
    bn_sampler *s = bn_sampler_new(p, n_vocab);
    double probs[16];
    int counts[16] = {0};
    probs_by_id(s, logits, n_vocab, probs);
    for (int i = 0; i < n; i++) {
        int32_t id = bn_sampler_sample_draft(s, logits, draft);
        CHECK(id >= 0 && id < n_vocab);
        if (id >= 0 && id < n_vocab) counts[id]++;
    }
    for (int i = 0; i < n_vocab; i++) {
        double freq = (double)counts[i] / n;
        CHECK_MSG(fabs(freq - probs[i]) < tol, "draft %d, token %d: frequency %.4f, expected %.4f",
                  draft, i, freq, probs[i]);
    }
    bn_sampler_free(s);
}

TEST(sampler_draft_keeps_the_distribution)
{
    enum { VOCAB = 6, DRAWS = 20000 };
    const float logits[VOCAB] = {1.0f, 2.5f, 0.5f, -1.0f, 2.0f, 0.0f};
    bn_sampler_params p = plain_params(31);
    for (int32_t d = 0; d < VOCAB; d++)
        check_draft_distribution(&p, logits, VOCAB, d, DRAWS, 0.017);
    p = bn_sampler_default_params(); /* top-k, top-p, min-p and temperature 0.8 */
    p.top_k = 4;
    p.seed = 37;
    for (int32_t d = 0; d < VOCAB; d++)
        check_draft_distribution(&p, logits, VOCAB, d, DRAWS, 0.017);
}

TEST(sampler_draft_greedy_is_the_argmax)
{
    const float logits[4] = {0.5f, 3.0f, 3.0f, -2.0f};
    bn_sampler_params p = bn_sampler_default_params();
    p.temp = 0.0f;
    bn_sampler *s = bn_sampler_new(&p, 4);
    for (int32_t d = -1; d < 4; d++) CHECK_EQ_INT(bn_sampler_sample_draft(s, logits, d), 1);
    CHECK_EQ_INT(bn_sampler_sample_draft(s, NULL, 0), -1);
    bn_sampler_free(s);
}

/* ------------------------------------- presence, frequency, bias, typical */

#define CHECK_NEAR(a, b, tol)                                                                      \
    CHECK_MSG(fabs((double)(a) - (double)(b)) < (tol), "%s = %g, expected %g", #a, (double)(a),    \
              (double)(b))

TEST(sampler_presence_and_frequency_penalties_subtract)
{
    const float logits[3] = {2.0f, 1.6f, 0.0f};
    bn_sampler_params p = bn_sampler_default_params();
    p.temp = 0.0f;
    p.presence_penalty = 0.3f; /* 2 - 0.3 = 1.7 > 1.6: still token 0 once */
    bn_sampler *s = bn_sampler_new(&p, 3);
    bn_sampler_accept(s, 0);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 0);
    bn_sampler_accept(s, 0); /* presence counts once */
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 0);
    bn_sampler_free(s);
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.25f; /* per occurrence: 2 - 0.25 > 1.6, 2 - 0.5 < 1.6 */
    s = bn_sampler_new(&p, 3);
    bn_sampler_accept(s, 0);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 0);
    bn_sampler_accept(s, 0);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 1);
    bn_sampler_free(s);
    p.frequency_penalty = -1.0f; /* negative: encourages repeats */
    s = bn_sampler_new(&p, 3);
    bn_sampler_accept(s, 2);
    bn_sampler_accept(s, 2);
    bn_sampler_accept(s, 2); /* 0 + 3 > 2 */
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 2);
    bn_sampler_free(s);
}

TEST(sampler_logit_bias_and_ban)
{
    const float logits[4] = {3.0f, 2.0f, 1.0f, 0.0f};
    const bn_logit_bias bias[2] = {{0, -INFINITY}, {3, 2.5f}};
    bn_sampler_params p = bn_sampler_default_params();
    p.temp = 0.0f;
    p.logit_bias = bias;
    p.n_logit_bias = 1;
    bn_sampler *s = bn_sampler_new(&p, 4);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 1); /* 0 banned */
    bn_sampler_free(s);
    p.n_logit_bias = 2;
    s = bn_sampler_new(&p, 4);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 3); /* 0 + 2.5 > 2 */
    bn_sampler_free(s);
    /* sampled at temp 1 the banned token never comes out */
    bn_sampler_params q = plain_params(5);
    q.logit_bias = bias;
    q.n_logit_bias = 1;
    s = bn_sampler_new(&q, 4);
    int counts[16];
    CHECK_EQ_INT(count_draws(s, logits, 4, 2000, counts), 0);
    CHECK_EQ_INT(counts[0], 0);
    bn_sampler_free(s);
    const bn_logit_bias outside = {4, 1.0f};
    p.logit_bias = &outside;
    p.n_logit_bias = 1;
    char err[BN_ERR_LEN];
    CHECK_EQ_INT(bn_sampler_params_check(&p, 4, err), -1);
    CHECK(bn_sampler_new(&p, 4) == NULL);
}

TEST(sampler_typical_keeps_tokens_near_the_entropy)
{
    /* probabilities {0.6, 0.2, 0.1, 0.1}: entropy 1.089 nats; surprises
     * 0.511, 1.609, 2.303: distances 0.578, 0.521, 1.214, so token 1 is
     * the most typical and alone reaches typical_p 0.15 */
    const float logits[4] = {(float)log(0.6), (float)log(0.2), (float)log(0.1), (float)log(0.1)};
    bn_sampler_params p = plain_params(11);
    p.typical_p = 0.15f;
    bn_sampler *s = bn_sampler_new(&p, 4);
    int32_t ids[4];
    double probs[4];
    CHECK_EQ_INT(bn_sampler_probs(s, logits, ids, probs), 1);
    CHECK_EQ_INT(ids[0], 1);
    bn_sampler_free(s);
    p.typical_p = 1.0f; /* off */
    s = bn_sampler_new(&p, 4);
    CHECK_EQ_INT(bn_sampler_probs(s, logits, ids, probs), 4);
    bn_sampler_free(s);
}

TEST(sampler_last_probs_from_the_drawn_distribution)
{
    enum { VOCAB = 5 };
    const float logits[VOCAB] = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
    bn_sampler_params p = plain_params(3);
    p.top_k = 3; /* tokens 1, 4, 0 */
    p.n_probs = 2;
    bn_sampler *s = bn_sampler_new(&p, VOCAB);
    float lp, top_lp[BN_MAX_PROBS];
    int32_t top[BN_MAX_PROBS];
    CHECK_EQ_INT(bn_sampler_last_probs(s, &lp, top, top_lp), -1); /* nothing drawn yet */
    const int32_t id = bn_sampler_sample(s, logits);
    CHECK_EQ_INT(bn_sampler_last_probs(s, &lp, top, top_lp), 2);
    const double z = exp(2.0) + exp(1.5) + exp(1.0);
    CHECK_EQ_INT(top[0], 1);
    CHECK_EQ_INT(top[1], 4);
    CHECK_NEAR(top_lp[0], log(exp(2.0) / z), 1e-5);
    CHECK_NEAR(top_lp[1], log(exp(1.5) / z), 1e-5);
    CHECK_NEAR(lp, log(exp((double)logits[id]) / z), 1e-5);
    bn_sampler_free(s);
    /* greedy: the softmax of all logits at temperature 1 */
    p.temp = 0.0f;
    s = bn_sampler_new(&p, VOCAB);
    CHECK_EQ_INT(bn_sampler_sample(s, logits), 1);
    CHECK_EQ_INT(bn_sampler_last_probs(s, &lp, top, top_lp), 2);
    double all[VOCAB];
    softmax(logits, VOCAB, 1.0, all);
    CHECK_NEAR(lp, log(all[1]), 1e-5);
    CHECK_NEAR(top_lp[1], log(all[4]), 1e-5);
    bn_sampler_free(s);
    p.n_probs = 0; /* capture off */
    s = bn_sampler_new(&p, VOCAB);
    bn_sampler_sample(s, logits);
    CHECK_EQ_INT(bn_sampler_last_probs(s, &lp, top, top_lp), -1);
    bn_sampler_free(s);
}
