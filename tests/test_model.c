/*
 * test_model.c - the engine end to end on bitnet-tiny: the bundled model
 * answers 2+2=, and (with ../shared) every reference record gives the same
 * greedy ids and logits within the stated tolerance, for every encoding.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "model.h"
#include "ref_check.h"
#include "test.h"

#define BUNDLED_MODEL "models/bitnet-tiny.gguf"

static bn_model *load(const char *path, const char *kernel, int threads)
{
    char err[BN_ERR_LEN];
    bn_model_params p = bn_model_default_params();
    p.kernel = kernel;
    p.n_threads = threads;
    bn_model *m = bn_model_load(path, &p, err);
    CHECK_MSG(m != NULL, "%s: %s", path, err);
    return m;
}

/* Greedy decoding from prompt ids until an end-of-generation token or
 * max_new tokens; returns the number of output ids (EOG included). */
static int greedy(bn_model *m, const int32_t *prompt, int np, int32_t *out, int max_new)
{
    char err[BN_ERR_LEN];
    bn_session *s = bn_session_new(m, 0, err);
    CHECK_MSG(s != NULL, "%s", err);
    if (!s) return -1;
    const float *logits;
    int n = 0;
    if (bn_session_eval(s, prompt, np, &logits, err) == 0) {
        while (n < max_new) {
            int32_t id = ref_argmax(logits, bn_model_n_vocab(m));
            out[n++] = id;
            if (bn_token_is_eog(bn_model_tokenizer(m), id)) break;
            if (bn_session_eval(s, &id, 1, &logits, err)) break;
        }
    }
    bn_session_free(s);
    return n;
}

TEST(model_bundled_answers_two_plus_two)
{
    bn_model *m = load(BUNDLED_MODEL, "auto", 2);
    if (!m) return;
    const bn_tokenizer *tok = bn_model_tokenizer(m);
    int32_t *ids = NULL;
    char err[BN_ERR_LEN];
    int np = bn_tokenize(tok, "2+2=", 4, BN_TOK_ADD_BOS | BN_TOK_PARSE_SPECIAL, &ids, err);
    CHECK(np > 1);
    int32_t out[8] = {0};
    int n = greedy(m, ids, np, out, 8);
    CHECK_EQ_INT(n, 2);
    char piece[16];
    int len = bn_token_to_piece(tok, out[0], 0, piece, sizeof piece);
    CHECK(len == 1 && piece[0] == '4');
    CHECK_EQ_INT(out[1], bn_token_eos(tok));
    free(ids);
    bn_model_free(m);
}

TEST(model_context_overflow_and_bad_ids_are_errors)
{
    bn_model *m = load(BUNDLED_MODEL, "auto", 1);
    if (!m) return;
    char err[BN_ERR_LEN];
    bn_session *s = bn_session_new(m, 4, err);
    CHECK(s != NULL);
    int32_t ids[5] = {1016, 17, 10, 17, 28};
    const float *logits;
    CHECK(bn_session_eval(s, ids, 5, &logits, err) == -1 && strstr(err, "context"));
    CHECK(bn_session_eval(s, ids, 4, &logits, err) == 0);
    CHECK(bn_session_eval(s, ids, 1, &logits, err) == -1);
    bn_session_reset(s);
    int32_t bad = 5000;
    CHECK(bn_session_eval(s, &bad, 1, &logits, err) == -1 && strstr(err, "out of range"));
    bn_session_free(s);
    CHECK(bn_session_new(m, 1 << 20, err) == NULL && strstr(err, "exceeds"));
    bn_model_free(m);
}

TEST(model_rmsnorm_and_rope_known_values)
{
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 2, 0.5f}, y[4];
    bn_rmsnorm(y, x, w, 4, 0.0f);
    float rms = sqrtf((1 + 4 + 9 + 16) / 4.0f);
    for (int i = 0; i < 4; i++) CHECK(fabsf(y[i] - x[i] / rms * w[i]) < 1e-6f);
    /* position 0 is the identity; position 1 rotates pair 0 by 1 radian */
    float v[4] = {1, 2, 3, 4}, cs[4];
    bn_rope_angles(cs, 4, 0, 10000.0f);
    bn_rope_apply(v, 4, cs);
    CHECK(v[0] == 1 && v[1] == 2 && v[2] == 3 && v[3] == 4);
    bn_rope_angles(cs, 4, 1, 10000.0f);
    bn_rope_apply(v, 4, cs);
    CHECK(fabsf(v[0] - (cosf(1) * 1 - sinf(1) * 3)) < 1e-6f);
    CHECK(fabsf(v[2] - (sinf(1) * 1 + cosf(1) * 3)) < 1e-6f);
    float t = powf(10000.0f, -0.5f); /* pair 1 rotates by theta_scale radians */
    CHECK(fabsf(v[1] - (cosf(t) * 2 - sinf(t) * 4)) < 1e-6f);
    CHECK(fabsf(v[3] - (sinf(t) * 2 + cosf(t) * 4)) < 1e-6f);
}

TEST(model_reference_greedy_ids_and_logits_i2s)
{
    SHARED_OR_SKIP(path, "models/bitnet-tiny.gguf");
    check_against_reference(path, 1);
}

/* Logits after prompt ids evaluated with batch size n_batch (0: one call
 * per token) into out[n_vocab]. */
static void prompt_logits(bn_model *m, const int32_t *ids, int n, int one_by_one, float *out)
{
    char err[BN_ERR_LEN];
    bn_session *s = bn_session_new(m, 64, err);
    const float *logits = NULL;
    if (one_by_one) {
        for (int i = 0; i < n; i++) bn_session_eval(s, &ids[i], 1, &logits, err);
    } else {
        bn_session_eval(s, ids, n, &logits, err);
    }
    memcpy(out, logits, (size_t)bn_model_n_vocab(m) * sizeof *out);
    bn_session_free(s);
}

TEST(model_batched_prompt_equals_token_by_token)
{
    bn_model *m = load(BUNDLED_MODEL, "auto", 2);
    if (!m) return;
    const int nv = bn_model_n_vocab(m);
    int32_t ids[12] = {1016, 672, 11, 434, 11, 17, 10, 17, 28, 19, 220, 21};
    float *a = malloc((size_t)nv * sizeof *a), *b = malloc((size_t)nv * sizeof *b);
    prompt_logits(m, ids, 12, 0, a);
    prompt_logits(m, ids, 12, 1, b);
    CHECK(memcmp(a, b, (size_t)nv * sizeof *a) == 0);
    /* every-token logits: the last row equals the single-call result */
    char err[BN_ERR_LEN];
    bn_session *s = bn_session_new(m, 64, err);
    float *all = malloc((size_t)12 * nv * sizeof *all);
    CHECK(bn_session_eval_all(s, ids, 12, all, err) == 0);
    CHECK(memcmp(all + (size_t)11 * nv, a, (size_t)nv * sizeof *a) == 0);
    prompt_logits(m, ids, 5, 0, b);
    CHECK(memcmp(all + (size_t)4 * nv, b, (size_t)nv * sizeof *b) == 0);
    free(all);
    bn_session_free(s);
    free(a);
    free(b);
    bn_model_free(m);
}

TEST(model_batch_decode_equals_separate_sessions)
{
    bn_model *m = load(BUNDLED_MODEL, "auto", 2);
    if (!m) return;
    const int nv = bn_model_n_vocab(m);
    char err[BN_ERR_LEN];
    int32_t p0[5] = {1016, 17, 10, 17, 28}, p1[3] = {1016, 272, 796}, next[2] = {19, 258};
    bn_session *s[2] = {bn_session_new(m, 32, err), bn_session_new(m, 32, err)};
    bn_session_eval(s[0], p0, 5, NULL, err);
    bn_session_eval(s[1], p1, 3, NULL, err);
    float *batched = malloc((size_t)2 * nv * sizeof *batched);
    float *single = malloc((size_t)nv * sizeof *single);
    CHECK(bn_batch_decode(s, next, 2, batched, err) == 0);
    CHECK_EQ_INT(bn_session_n_past(s[0]), 6);
    CHECK_EQ_INT(bn_session_n_past(s[1]), 4);
    int32_t seq0[6] = {1016, 17, 10, 17, 28, 19}, seq1[4] = {1016, 272, 796, 258};
    prompt_logits(m, seq0, 6, 1, single);
    CHECK(memcmp(batched, single, (size_t)nv * sizeof *single) == 0);
    prompt_logits(m, seq1, 4, 1, single);
    CHECK(memcmp(batched + nv, single, (size_t)nv * sizeof *single) == 0);
    bn_session *twice[2] = {s[0], s[0]};
    CHECK(bn_batch_decode(twice, next, 2, batched, err) == -1 && strstr(err, "twice"));
    free(batched);
    free(single);
    bn_session_free(s[0]);
    bn_session_free(s[1]);
    bn_model_free(m);
}
