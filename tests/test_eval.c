/*
 * test_eval.c - the evaluation API on the bundled model: bn_eval batches
 * that mix one sequence's prompt with other sequences' next tokens give
 * bitwise the logits of each sequence alone; two contexts evaluate two
 * sessions from two threads at once; an abort callback stops a prompt
 * between layers and keeps the session usable; truncation goes back; bad
 * batches are errors.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "test.h"

#define BUNDLED_MODEL "models/bitnet-tiny.gguf"
#define N_CTX 64
#define PROMPT_LEN 12
#define CONCURRENT_ROUNDS 3

static const int32_t PROMPT[PROMPT_LEN] = {1016, 17, 10, 17, 28, 19, 258, 272, 796, 10, 17, 28};

static bn_model *load_tiny(void)
{
    char err[BN_ERR_LEN];
    bn_model_params p = bn_model_default_params();
    bn_model *m = bn_model_load(BUNDLED_MODEL, &p, err);
    CHECK_MSG(m != NULL, "%s", err);
    return m;
}

static bn_session *new_session(bn_model *m, bn_context *ctx)
{
    char err[BN_ERR_LEN];
    const bn_session_params p = {.n_ctx = N_CTX, .context = ctx};
    bn_session *s = bn_session_new(m, &p, err);
    CHECK_MSG(s != NULL, "%s", err);
    return s;
}

/* The logits after ids[0..n) in a fresh session of its own. */
static void alone(bn_model *m, const int32_t *ids, int n, float *out)
{
    char err[BN_ERR_LEN];
    bn_session *s = new_session(m, NULL);
    const float *logits = NULL;
    CHECK_MSG(s && bn_session_eval(s, ids, n, &logits, err) == 0, "%s", err);
    if (logits) memcpy(out, logits, (size_t)bn_model_n_vocab(m) * sizeof *out);
    bn_session_free(s);
}

TEST(eval_mixed_batch_equals_each_sequence_alone)
{
    bn_model *m = load_tiny();
    if (!m) return;
    char err[BN_ERR_LEN];
    const int nv = bn_model_n_vocab(m);
    bn_context *ctx = bn_context_new(m, &(bn_context_params){.n_batch = 5}, err);
    CHECK_MSG(ctx != NULL, "%s", err);
    bn_session *a = new_session(m, ctx), *b = new_session(m, ctx);
    /* a decodes its 6th token while b reads a 12-token prompt: with
     * n_batch 5 the batch runs in three passes, b's prompt split across them */
    CHECK(bn_session_eval(a, PROMPT, 5, NULL, err) == 0);
    bn_batch_entry e[1 + PROMPT_LEN];
    e[0] = (bn_batch_entry){a, PROMPT[5], 5, 1};
    for (int i = 0; i < PROMPT_LEN; i++) e[1 + i] = (bn_batch_entry){b, PROMPT[i], i, i >= 10};
    float *batched = malloc((size_t)3 * nv * sizeof *batched);
    float *single = malloc((size_t)nv * sizeof *single);
    CHECK_MSG(bn_eval(ctx, e, 1 + PROMPT_LEN, batched, err) == 0, "%s", err);
    CHECK_EQ_INT(bn_session_n_past(a), 6);
    CHECK_EQ_INT(bn_session_n_past(b), PROMPT_LEN);
    alone(m, PROMPT, 6, single);
    CHECK(memcmp(batched, single, (size_t)nv * sizeof *single) == 0);
    alone(m, PROMPT, 11, single);
    CHECK(memcmp(batched + nv, single, (size_t)nv * sizeof *single) == 0);
    alone(m, PROMPT, 12, single);
    CHECK(memcmp(batched + 2 * (size_t)nv, single, (size_t)nv * sizeof *single) == 0);
    free(batched);
    free(single);
    bn_session_free(a);
    bn_session_free(b);
    bn_context_free(ctx);
    bn_model_free(m);
}

TEST(eval_bad_batches_are_errors)
{
    bn_model *m = load_tiny();
    bn_model *other = load_tiny();
    if (!m || !other) {
        bn_model_free(m);
        bn_model_free(other);
        return;
    }
    char err[BN_ERR_LEN];
    bn_session *s = new_session(m, NULL), *foreign = new_session(other, NULL);
    bn_context *ctx = bn_session_context(s);
    float *logits = malloc((size_t)2 * bn_model_n_vocab(m) * sizeof *logits);
    bn_batch_entry e[2] = {{s, 1016, 0, 1}, {s, 17, 0, 1}};
    CHECK(bn_eval(ctx, e, 2, logits, err) == -1 && strstr(err, "position 0"));
    e[1].pos = 2; /* skips position 1 */
    CHECK(bn_eval(ctx, e, 2, logits, err) == -1 && strstr(err, "next position is 1"));
    e[1] = (bn_batch_entry){foreign, 17, 0, 1};
    CHECK(bn_eval(ctx, e, 2, logits, err) == -1 && strstr(err, "another model"));
    e[1] = (bn_batch_entry){s, -3, 1, 1};
    CHECK(bn_eval(ctx, e, 2, logits, err) == -1 && strstr(err, "out of range"));
    e[1].token = 17;
    CHECK(bn_eval(ctx, e, 2, NULL, err) == -1 && strstr(err, "no buffer"));
    CHECK(bn_eval(ctx, e, 0, logits, err) == -1 && strstr(err, "nothing"));
    CHECK_EQ_INT(bn_session_n_past(s), 0); /* nothing ran */
    CHECK(bn_eval(ctx, e, 2, logits, err) == 0);
    CHECK_EQ_INT(bn_session_n_past(s), 2);
    const bn_session_params full = {.n_ctx = 2};
    bn_session *small = bn_session_new(m, &full, err);
    bn_batch_entry over[3] = {{small, 1, 0, 0}, {small, 2, 1, 0}, {small, 3, 2, 1}};
    CHECK(bn_eval(ctx, over, 3, logits, err) == -1 && strstr(err, "do not fit"));
    CHECK(bn_context_new(m, &(bn_context_params){.n_threads = -1}, err) == NULL);
    free(logits);
    bn_session_free(small);
    bn_session_free(s);
    bn_session_free(foreign);
    bn_model_free(m);
    bn_model_free(other);
}

typedef struct {
    bn_model *m;
    const int32_t *ids;
    int n;
    float *out; /* [CONCURRENT_ROUNDS][n_vocab] */
    int failed;
} worker_job;

/* A context and a session of its own, evaluated CONCURRENT_ROUNDS times. */
static void *evaluate_on_own_context(void *arg)
{
    worker_job *j = arg;
    char err[BN_ERR_LEN];
    const size_t nv = (size_t)bn_model_n_vocab(j->m);
    bn_context *ctx = bn_context_new(j->m, &(bn_context_params){.n_threads = 1}, err);
    const bn_session_params p = {.n_ctx = N_CTX, .context = ctx};
    bn_session *s = ctx ? bn_session_new(j->m, &p, err) : NULL;
    j->failed = !s;
    for (int r = 0; r < CONCURRENT_ROUNDS && s; r++) {
        const float *logits;
        bn_session_reset(s);
        if (bn_session_eval(s, j->ids, j->n, &logits, err)) {
            j->failed = 1;
            break;
        }
        memcpy(j->out + r * nv, logits, nv * sizeof *logits);
    }
    bn_session_free(s);
    bn_context_free(ctx);
    return NULL;
}

TEST(eval_two_sessions_on_two_threads_at_once)
{
    bn_model *m = load_tiny();
    if (!m) return;
    const size_t nv = (size_t)bn_model_n_vocab(m);
    worker_job jobs[2] = {{m, PROMPT, PROMPT_LEN, NULL, 0}, {m, PROMPT + 3, 7, NULL, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        jobs[i].out = malloc(CONCURRENT_ROUNDS * nv * sizeof(float));
        CHECK(pthread_create(&th[i], NULL, evaluate_on_own_context, &jobs[i]) == 0);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    float *single = malloc(nv * sizeof *single);
    for (int i = 0; i < 2; i++) {
        CHECK_MSG(!jobs[i].failed, "thread %d failed", i);
        alone(m, jobs[i].ids, jobs[i].n, single);
        for (int r = 0; r < CONCURRENT_ROUNDS; r++)
            CHECK_MSG(memcmp(jobs[i].out + r * nv, single, nv * sizeof *single) == 0,
                      "thread %d, round %d differs from the sequence alone", i, r);
        free(jobs[i].out);
    }
    free(single);
    bn_model_free(m);
}

/* Stops the evaluation at the `after`-th question (between layers). */
typedef struct {
    int asked, after;
} abort_state;

static int abort_after(void *data)
{
    abort_state *a = data;
    return ++a->asked > a->after;
}

TEST(eval_abort_stops_between_layers_and_keeps_the_session)
{
    bn_model *m = load_tiny();
    if (!m) return;
    char err[BN_ERR_LEN];
    const size_t nv = (size_t)bn_model_n_vocab(m);
    bn_session *s = new_session(m, NULL);
    abort_state a = {0, 2}; /* two layers run, then stop */
    bn_context_set_abort(bn_session_context(s), abort_after, &a);
    const float *logits;
    CHECK_EQ_INT(bn_session_eval(s, PROMPT, PROMPT_LEN, &logits, err), BN_ABORTED);
    CHECK_EQ_INT(a.asked, 3);
    CHECK_EQ_INT(bn_session_n_past(s), 0);
    bn_context_set_abort(bn_session_context(s), NULL, NULL);
    float *single = malloc(nv * sizeof *single);
    alone(m, PROMPT, PROMPT_LEN, single);
    CHECK(bn_session_eval(s, PROMPT, PROMPT_LEN, &logits, err) == 0);
    CHECK(memcmp(logits, single, nv * sizeof *single) == 0);
    free(single);
    bn_session_free(s);
    bn_model_free(m);
}

TEST(eval_truncate_goes_back_to_an_earlier_position)
{
    bn_model *m = load_tiny();
    if (!m) return;
    char err[BN_ERR_LEN];
    const size_t nv = (size_t)bn_model_n_vocab(m);
    bn_session *s = new_session(m, NULL);
    const float *logits;
    CHECK(bn_session_eval(s, PROMPT, PROMPT_LEN, &logits, err) == 0);
    CHECK_EQ_INT(bn_session_truncate(s, PROMPT_LEN + 1), -1);
    CHECK_EQ_INT(bn_session_truncate(s, -1), -1);
    CHECK_EQ_INT(bn_session_truncate(s, 4), 0);
    CHECK_EQ_INT(bn_session_n_past(s), 4);
    const int32_t tail[3] = {258, 272, 796};
    CHECK(bn_session_eval(s, tail, 3, &logits, err) == 0);
    int32_t whole[7];
    memcpy(whole, PROMPT, 4 * sizeof *whole);
    memcpy(whole + 4, tail, sizeof tail);
    float *single = malloc(nv * sizeof *single);
    alone(m, whole, 7, single);
    CHECK(memcmp(logits, single, nv * sizeof *single) == 0);
    free(single);
    bn_session_free(s);
    bn_model_free(m);
}
