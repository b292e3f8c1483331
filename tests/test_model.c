/*
 * test_model.c - the engine end to end on bitnet-tiny: the bundled model
 * answers 2+2=, and (with ../shared) every reference record gives the same
 * greedy ids and logits within the stated tolerance, for every encoding;
 * an F16 KV cache takes half the memory, still answers, and leaves the
 * default F32 cache's results untouched.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "engine/ops.h"
#include "model/model.h"
#include "ref_check.h"
#include "test.h"

#define BUNDLED_MODEL "models/bitnet-tiny.gguf"
#define SESSION_CTX 64
/* Logits over an F16 KV cache against F32 (measured on the tiny model:
 * worst cosine 0.99926 over the 116 reference steps, max difference 0.19):
 * closer than this, but not equal. */
#define F16_CACHE_MIN_COSINE 0.999

static bn_model *load(const char *path, const char *kernel)
{
    char err[BN_ERR_LEN];
    bn_model_params p = bn_model_default_params();
    p.kernel = kernel;
    bn_model *m = bn_model_load(path, &p, err);
    CHECK_MSG(m != NULL, "%s: %s", path, err);
    return m;
}

/* Greedy decoding from prompt ids until an end-of-generation token or
 * max_new tokens; returns the number of output ids (EOG included). */
static int greedy(bn_model *m, const bn_session_params *sp, const int32_t *prompt, int np,
                  int32_t *out, int max_new)
{
    char err[BN_ERR_LEN];
    bn_session *s = bn_session_new(m, sp, err);
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

/* "2+2=" gives "4" and then the end of text, in sessions made with sp. */
static void check_two_plus_two(bn_model *m, const bn_session_params *sp)
{
    const bn_tokenizer *tok = bn_model_tokenizer(m);
    int32_t *ids = NULL;
    char err[BN_ERR_LEN];
    int np = bn_tokenize(tok, "2+2=", 4, BN_TOK_ADD_BOS | BN_TOK_PARSE_SPECIAL, &ids, err);
    CHECK(np > 1);
    int32_t out[8] = {0};
    int n = greedy(m, sp, ids, np, out, 8);
    CHECK_EQ_INT(n, 2);
    char piece[16];
    int len = bn_token_to_piece(tok, out[0], 0, piece, sizeof piece);
    CHECK(len == 1 && piece[0] == '4');
    CHECK_EQ_INT(out[1], bn_token_eos(tok));
    free(ids);
}

TEST(model_bundled_answers_two_plus_two)
{
    bn_model *m = load(BUNDLED_MODEL, "auto");
    if (!m) return;
    const bn_session_params sp = bn_session_default_params();
    check_two_plus_two(m, &sp);
    bn_model_free(m);
}

TEST(model_context_overflow_and_bad_ids_are_errors)
{
    bn_model *m = load(BUNDLED_MODEL, "auto");
    if (!m) return;
    char err[BN_ERR_LEN];
    bn_session *s = bn_session_new(m, &(bn_session_params){.n_ctx = 4}, err);
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
    CHECK(bn_session_new(m, &(bn_session_params){.n_ctx = 1 << 20}, err) == NULL &&
          strstr(err, "exceeds"));
    bn_model_free(m);
}

TEST(model_rmsnorm_and_rope_known_values)
{
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 2, 0.5f}, y[4];
    bn_kernels_scalar.rmsnorm(y, x, w, 4, 0.0f);
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
    const char *path = BUNDLED_MODEL;
    check_against_reference(path, 1);
}

/* Logits after prompt ids, evaluated in one call or (one_by_one) one
 * call per token, into out[n_vocab], in a session made with sp. */
static void session_logits(bn_model *m, const bn_session_params *sp, const int32_t *ids, int n,
                           int one_by_one, float *out)
{
    char err[BN_ERR_LEN];
    bn_session *s = bn_session_new(m, sp, err);
    CHECK_MSG(s != NULL, "%s", err);
    if (!s) return;
    const float *logits = NULL;
    if (one_by_one) {
        for (int i = 0; i < n; i++) bn_session_eval(s, &ids[i], 1, &logits, err);
    } else {
        bn_session_eval(s, ids, n, &logits, err);
    }
    memcpy(out, logits, (size_t)bn_model_n_vocab(m) * sizeof *out);
    bn_session_free(s);
}

/* The same in a default session of SESSION_CTX tokens. */
static void prompt_logits(bn_model *m, const int32_t *ids, int n, int one_by_one, float *out)
{
    bn_session_params sp = bn_session_default_params();
    sp.n_ctx = SESSION_CTX;
    session_logits(m, &sp, ids, n, one_by_one, out);
}

TEST(model_batched_prompt_equals_token_by_token)
{
    bn_model *m = load(BUNDLED_MODEL, "auto");
    if (!m) return;
    const int nv = bn_model_n_vocab(m);
    int32_t ids[12] = {1016, 672, 11, 434, 11, 17, 10, 17, 28, 19, 220, 21};
    float *a = malloc((size_t)nv * sizeof *a), *b = malloc((size_t)nv * sizeof *b);
    prompt_logits(m, ids, 12, 0, a);
    prompt_logits(m, ids, 12, 1, b);
    CHECK(memcmp(a, b, (size_t)nv * sizeof *a) == 0);
    /* every-token logits: the last row equals the single-call result */
    char err[BN_ERR_LEN];
    bn_session *s = bn_session_new(m, &(bn_session_params){.n_ctx = 64}, err);
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

/* The next token of each of n sessions in one bn_eval, on the first
 * session's context; logits[i * n_vocab] after ids[i]. */
static int decode_together(bn_session *const *s, const int32_t *ids, int n, float *logits,
                           char *err)
{
    bn_batch_entry e[2];
    for (int i = 0; i < n; i++) e[i] = (bn_batch_entry){s[i], ids[i], bn_session_n_past(s[i]), 1};
    return bn_eval(bn_session_context(s[0]), e, n, logits, err);
}

TEST(model_batch_decode_equals_separate_sessions)
{
    bn_model *m = load(BUNDLED_MODEL, "auto");
    if (!m) return;
    const int nv = bn_model_n_vocab(m);
    char err[BN_ERR_LEN];
    int32_t p0[5] = {1016, 17, 10, 17, 28}, p1[3] = {1016, 272, 796}, next[2] = {19, 258};
    const bn_session_params sp = {.n_ctx = 32};
    bn_session *s[2] = {bn_session_new(m, &sp, err), bn_session_new(m, &sp, err)};
    bn_session_eval(s[0], p0, 5, NULL, err);
    bn_session_eval(s[1], p1, 3, NULL, err);
    float *batched = malloc((size_t)2 * nv * sizeof *batched);
    float *single = malloc((size_t)nv * sizeof *single);
    CHECK(decode_together(s, next, 2, batched, err) == 0);
    CHECK_EQ_INT(bn_session_n_past(s[0]), 6);
    CHECK_EQ_INT(bn_session_n_past(s[1]), 4);
    int32_t seq0[6] = {1016, 17, 10, 17, 28, 19}, seq1[4] = {1016, 272, 796, 258};
    prompt_logits(m, seq0, 6, 1, single);
    CHECK(memcmp(batched, single, (size_t)nv * sizeof *single) == 0);
    prompt_logits(m, seq1, 4, 1, single);
    CHECK(memcmp(batched + nv, single, (size_t)nv * sizeof *single) == 0);
    bn_session *twice[2] = {s[0], s[0]}; /* both at the same position */
    CHECK(decode_together(twice, next, 2, batched, err) == -1 && strstr(err, "position"));
    free(batched);
    free(single);
    bn_session_free(s[0]);
    bn_session_free(s[1]);
    bn_model_free(m);
}

/* Decoding splits attention over chunks of positions (forward.c) where a
 * prompt batch works a whole kv head at a time: the logits must be bitwise
 * the same, past several chunks of scores and of weighted sums (three of
 * 128 positions: the last two summed by the split reduction), with either
 * cache type, however the threads share the chunks out. */
static void check_split_equals_rows(int threads)
{
    enum { N = 300 };
    bn_model *m = load(BUNDLED_MODEL, "auto");
    if (!m) return;
    const int nv = bn_model_n_vocab(m);
    char err[BN_ERR_LEN];
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (int32_t)((i * 7919 + 13) % 900 + 100);
    float *all = malloc((size_t)N * nv * sizeof *all);
    const bn_cache_type types[] = {BN_CACHE_F32, BN_CACHE_F16};
    for (size_t c = 0; c < sizeof types / sizeof types[0]; c++) {
        bn_session_params sp = bn_session_default_params();
        sp.n_ctx = N + 1;
        sp.type_k = sp.type_v = types[c];
        bn_session *s = bn_session_new(m, &sp, err);
        CHECK(bn_context_set_threads(bn_session_context(s), threads) == 0);
        CHECK_MSG(bn_session_eval_all(s, ids, N, all, err) == 0, "%s", err);
        bn_session_reset(s);
        const float *logits = NULL;
        int same = 1;
        for (int i = 0; i < N && !bn_session_eval(s, &ids[i], 1, &logits, err); i++)
            if (i >= N - 10)
                same &= memcmp(logits, all + (size_t)i * nv, (size_t)nv * sizeof *all) == 0;
        CHECK_EQ_INT(bn_session_n_past(s), N);
        CHECK_MSG(same, "%d threads, cache type %s", threads, bn_cache_type_name(types[c]));
        bn_session_free(s);
    }
    free(all);
    bn_model_free(m);
}

TEST(model_decode_attention_split_equals_prompt_rows)
{
    const int threads[] = {2, 3, 5};
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++)
        check_split_equals_rows(threads[i]);
}

/* ----------------------------------------------------- KV cache types */

static bn_session_params cache_params(bn_cache_type k, bn_cache_type v)
{
    bn_session_params sp = bn_session_default_params();
    sp.n_ctx = SESSION_CTX;
    sp.type_k = k;
    sp.type_v = v;
    return sp;
}

static const int32_t PROMPT12[12] = {1016, 672, 11, 434, 11, 17, 10, 17, 28, 19, 220, 21};

TEST(model_default_kv_cache_is_f32_and_unchanged)
{
    bn_model *m = load(BUNDLED_MODEL, "auto");
    if (!m) return;
    const int nv = bn_model_n_vocab(m);
    float *plain = malloc((size_t)nv * sizeof *plain), *other = malloc((size_t)nv * sizeof *other);
    prompt_logits(m, PROMPT12, 12, 0, plain); /* bn_session_new with the defaults */
    const bn_session_params zeroed = {.n_ctx = SESSION_CTX};
    const bn_session_params f32 = cache_params(BN_CACHE_F32, BN_CACHE_F32);
    CHECK(f32.type_k == zeroed.type_k && f32.type_v == zeroed.type_v);
    session_logits(m, &zeroed, PROMPT12, 12, 0, other);
    CHECK(memcmp(plain, other, (size_t)nv * sizeof *plain) == 0);
    char err[BN_ERR_LEN];
    bn_session *s = bn_session_new(m, &(bn_session_params){.n_ctx = SESSION_CTX}, err);
    const float *logits = NULL;
    CHECK(s && bn_session_eval(s, PROMPT12, 12, &logits, err) == 0);
    CHECK(logits && memcmp(plain, logits, (size_t)nv * sizeof *plain) == 0);
    const bn_hparams *hp = &m->hp;
    const size_t floats = (size_t)hp->n_layer * SESSION_CTX * hp->n_head_kv * hp->head_dim;
    CHECK(s && bn_session_kv_bytes(s) == 2 * floats * sizeof(float));
    bn_session_free(s);
    free(plain);
    free(other);
    bn_model_free(m);
}

TEST(model_f16_kv_cache_halves_memory_and_still_answers)
{
    bn_model *m = load(BUNDLED_MODEL, "auto");
    if (!m) return;
    const int nv = bn_model_n_vocab(m);
    char err[BN_ERR_LEN];
    const bn_session_params sp[4] = {
        cache_params(BN_CACHE_F32, BN_CACHE_F32), cache_params(BN_CACHE_F16, BN_CACHE_F16),
        cache_params(BN_CACHE_F16, BN_CACHE_F32), cache_params(BN_CACHE_F32, BN_CACHE_F16)};
    /* keys and values in halves take 1/2 of the F32 bytes, one of them 3/4 */
    const size_t quarters[4] = {4, 2, 3, 3};
    float *logits[4];
    size_t bytes[4];
    for (int i = 0; i < 4; i++) {
        bn_session *s = bn_session_new(m, &sp[i], err);
        CHECK_MSG(s != NULL, "%s", err);
        bytes[i] = s ? bn_session_kv_bytes(s) : 0;
        bn_session_free(s);
        CHECK_MSG(bytes[i] * 4 == bytes[0] * quarters[i], "cache %d: %zu bytes of %zu", i, bytes[i],
                  bytes[0]);
        logits[i] = malloc((size_t)nv * sizeof *logits[i]);
        session_logits(m, &sp[i], PROMPT12, 12, 0, logits[i]);
    }
    for (int i = 1; i < 4; i++) { /* the halves are used: close to F32, not equal */
        double cosine, max_diff;
        ref_logit_distance(logits[i], logits[0], nv, &cosine, &max_diff);
        CHECK_MSG(cosine >= F16_CACHE_MIN_COSINE && max_diff > 0,
                  "cache %d: cosine %.6f, max diff %g against F32", i, cosine, max_diff);
        CHECK_EQ_INT(ref_argmax(logits[i], nv), ref_argmax(logits[0], nv));
    }
    /* a prompt in one call or token by token: the same bits in halves too */
    float *by_token = malloc((size_t)nv * sizeof *by_token);
    session_logits(m, &sp[1], PROMPT12, 12, 1, by_token);
    CHECK(memcmp(by_token, logits[1], (size_t)nv * sizeof *by_token) == 0);
    check_two_plus_two(m, &sp[1]);
    free(by_token);
    for (int i = 0; i < 4; i++) free(logits[i]);
    bn_model_free(m);
}

TEST(model_batch_decode_mixes_kv_cache_types)
{
    bn_model *m = load(BUNDLED_MODEL, "auto");
    if (!m) return;
    const int nv = bn_model_n_vocab(m);
    char err[BN_ERR_LEN];
    const bn_session_params sp[2] = {cache_params(BN_CACHE_F16, BN_CACHE_F16),
                                     cache_params(BN_CACHE_F32, BN_CACHE_F32)};
    bn_session *s[2] = {bn_session_new(m, &sp[0], err), bn_session_new(m, &sp[1], err)};
    CHECK(s[0] && s[1]);
    if (!s[0] || !s[1]) {
        bn_session_free(s[0]);
        bn_session_free(s[1]);
        bn_model_free(m);
        return;
    }
    const int32_t next[2] = {19, 19};
    bn_session_eval(s[0], PROMPT12, 9, NULL, err);
    bn_session_eval(s[1], PROMPT12, 9, NULL, err);
    float *batched = malloc((size_t)2 * nv * sizeof *batched);
    float *single = malloc((size_t)nv * sizeof *single);
    CHECK(decode_together(s, next, 2, batched, err) == 0);
    for (int i = 0; i < 2; i++) { /* PROMPT12[9] is the token 19 decoded here */
        session_logits(m, &sp[i], PROMPT12, 10, 1, single);
        CHECK_MSG(memcmp(batched + (size_t)i * nv, single, (size_t)nv * sizeof *single) == 0,
                  "sequence %d (%s cache) differs from its own session", i,
                  bn_cache_type_name(sp[i].type_k));
    }
    CHECK(memcmp(batched, batched + nv, (size_t)nv * sizeof *batched) != 0);
    free(batched);
    free(single);
    bn_session_free(s[0]);
    bn_session_free(s[1]);
    bn_model_free(m);
}

TEST(model_kv_cache_type_names_and_bad_types)
{
    CHECK_EQ_INT(bn_cache_type_from_name("f32"), BN_CACHE_F32);
    CHECK_EQ_INT(bn_cache_type_from_name("f16"), BN_CACHE_F16);
    static const char *bad[] = {"F16", "q8_0", "bf16", "", "f16 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(bn_cache_type_from_name(bad[i]) == -1, "'%s' accepted", bad[i]);
    CHECK_EQ_INT(bn_cache_type_from_name(NULL), -1);
    CHECK(!strcmp(bn_cache_type_name(BN_CACHE_F32), "f32"));
    CHECK(!strcmp(bn_cache_type_name(BN_CACHE_F16), "f16"));
    CHECK(bn_cache_type_name((bn_cache_type)2) == NULL);
    CHECK(bn_cache_type_name((bn_cache_type)-1) == NULL);
    bn_model *m = load(BUNDLED_MODEL, "auto");
    if (!m) return;
    char err[BN_ERR_LEN] = "";
    bn_session_params sp = cache_params(BN_CACHE_F32, (bn_cache_type)7);
    CHECK(bn_session_new(m, &sp, err) == NULL && strstr(err, "cache type 7"));
    sp = cache_params((bn_cache_type)-1, BN_CACHE_F16);
    CHECK(bn_session_new(m, &sp, err) == NULL && strstr(err, "cache type -1"));
    bn_model_free(m);
}

TEST(model_reference_greedy_ids_with_f16_kv_cache)
{
    SHARED_OR_SKIP(ref_path, "reference/bitnet-tiny-greedy.jsonl");
    const char *path = BUNDLED_MODEL;
    bn_model *m = load(path, "auto");
    if (!m) return;
    const bn_session_params sp = {.type_k = BN_CACHE_F16, .type_v = BN_CACHE_F16};
    ref_result r;
    CHECK_MSG(ref_compare_sessions(m, &sp, ref_path, &r) == 0, "cannot read %s", ref_path);
    CHECK_MSG(r.records > 0 && r.plain_mismatches == 0 && r.chat_mismatches == 0,
              "F16 cache: greedy ids differ in %d plain and %d chat records of %d",
              r.plain_mismatches, r.chat_mismatches, r.records);
    CHECK_MSG(r.logit_steps > 0 && r.min_cosine >= F16_CACHE_MIN_COSINE,
              "F16 cache: worst cosine %.6f (max diff %.4f) over %d steps", r.min_cosine,
              r.max_diff, r.logit_steps);
    printf("    F16 KV cache against the reference: %d records, worst cosine %.6f, max diff %.4f\n",
           r.records, r.min_cosine, r.max_diff);
    bn_model_free(m);
}
