/*
 * test_qwen3.c - arch "qwen3" on the shared tiny-qwen3 files (Q2_0, Q1_0
 * and I2_S): the reference greedy ids and logits, which mainline
 * llama.cpp gives on the Q2_0 and Q1_0 files (docs/FORWARD.md, Activation
 * quantization), and clear errors for hostile variants of each new key
 * and tensor.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitnet.h"
#include "gguf_edit.h"
#include "json_mini.h"
#include "kernels/f16.h"
#include "model/model.h"
#include "ref_check.h"
#include "test.h"

/* models/README.md, tiny-qwen3: logits cosine >= 0.9999 at every step, the
 * largest difference ~0.04 (measured here: 0.034 at most, F32 K/V). */
#define QWEN3_MAX_DIFF 0.04

static void check_qwen3(const char *model, const char *ref)
{
    check_against_reference_tol(model, ref, 1, REF_MIN_COSINE, QWEN3_MAX_DIFF);
}

TEST(qwen3_reference_greedy_ids_and_logits_q2_0)
{
    SHARED_OR_SKIP(ref, "reference/tiny-qwen3-greedy.jsonl");
    SHARED_OR_SKIP(path, "models/tiny-qwen3-q2_0.gguf");
    check_qwen3(path, ref);
}

TEST(qwen3_reference_greedy_ids_and_logits_q1_0)
{
    SHARED_OR_SKIP(ref, "reference/tiny-qwen3-q1_0-greedy.jsonl");
    SHARED_OR_SKIP(path, "models/tiny-qwen3-q1_0.gguf");
    check_qwen3(path, ref);
}

TEST(qwen3_reference_greedy_ids_and_logits_i2s)
{
    SHARED_OR_SKIP(ref, "reference/tiny-qwen3-i2s-greedy.jsonl");
    SHARED_OR_SKIP(path, "models/tiny-qwen3-i2s.gguf");
    check_qwen3(path, ref);
}

/* ------------------------------------------------ edited tiny-qwen3 files */

typedef void (*qwen3_edit)(ge_file *e);

/* A tensor replaced by n zero bytes of another type and shape. */
static void retype(ge_file *e, const char *name, uint32_t type, int64_t ne0, int64_t ne1, size_t n)
{
    ge_tensor *t = ge_find_tensor(e, name);
    uint8_t *zeros = calloc(n, 1);
    t->type = type;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->n_dims = ne1 > 1 ? 2 : 1;
    ge_set_tensor_data(t, zeros, n);
    free(zeros);
}

enum { Q2_0_BYTES = 18, Q2_0_BLOCK = 64, TQ2_0_BYTES = 66, TQ2_0_BLOCK = 256 };

static void q2_0_row_of_500(ge_file *e)
{
    retype(e, "blk.0.attn_q.weight", GGML_TYPE_Q2_0, 500, 1024, (size_t)1024 * 8 * Q2_0_BYTES);
}
static void q2_0_infinite_scale(ge_file *e)
{
    ge_tensor *t = ge_find_tensor(e, "blk.1.ffn_up.weight");
    uint8_t *d = malloc(t->n_bytes);
    memcpy(d, t->data, t->n_bytes);
    const size_t at = (size_t)Q2_0_BYTES * 5; /* block 5's d: +inf */
    d[at] = 0x00, d[at + 1] = 0x7c;
    ge_set_tensor_data(t, d, t->n_bytes);
    free(d);
}
static void mixed_types(ge_file *e)
{
    retype(e, "blk.3.ffn_up.weight", GGML_TYPE_TQ2_0, 512, 1536,
           (size_t)1536 * 512 / TQ2_0_BLOCK * TQ2_0_BYTES);
}
static void no_k_norm(ge_file *e) { ge_drop_tensor(e, "blk.2.attn_k_norm.weight"); }
static void q_norm_64(ge_file *e)
{
    retype(e, "blk.0.attn_q_norm.weight", GGML_TYPE_F32, 64, 1, 64 * sizeof(float));
}
static void pooling_9(ge_file *e) { ge_set_u32(e, "qwen3.pooling_type", 9); }
static void add_eos_string(ge_file *e) { ge_set_str(e, "tokenizer.ggml.add_eos_token", "yes"); }
static void norm_in_wrong_width(ge_file *e)
{
    retype(e, "blk.1.ffn_down_norm_in.weight", GGML_TYPE_F16, 512, 1, (size_t)512 * 2);
}
static void norm_in_missing(ge_file *e) { ge_drop_tensor(e, "blk.2.attn_v_norm_in.weight"); }
static void norm_in_q8(ge_file *e)
{
    retype(e, "blk.0.attn_q_norm_in.weight", GGML_TYPE_Q8_0, 512, 1, (size_t)512 / 32 * 34);
}

typedef struct {
    const char *name;
    qwen3_edit edit;
    const char *want; /* in the error */
} qwen3_hostile;

static const qwen3_hostile Q2_HOSTILE[] = {
    {"Q2_0 row not a multiple of 64", q2_0_row_of_500, "not a multiple of the Q2_0 block size 64"},
    {"Q2_0 scale infinite", q2_0_infinite_scale,
     "blk.1.ffn_up.weight: 1 Q2_0 blocks have a non-finite scale"},
    {"Q2_0 and TQ2_0 mixed", mixed_types,
     "blk.3.ffn_up.weight is TQ2_0 but blk.0.attn_q.weight is Q2_0"},
    {"missing k norm", no_k_norm, "missing tensor blk.2.attn_k_norm.weight"},
    {"q norm of the wrong width", q_norm_64,
     "blk.0.attn_q_norm.weight has shape [64, 1], expected [128, 1]"},
    {"pooling type 9", pooling_9, "qwen3.pooling_type must be an integer from 0 to 3"},
    {"add_eos_token a string", add_eos_string, "tokenizer.ggml.add_eos_token has the wrong type"},
};

static const qwen3_hostile EMBED_HOSTILE[] = {
    {"norm_in of the wrong width", norm_in_wrong_width,
     "blk.1.ffn_down_norm_in.weight has shape [512, 1], expected [1536, 1]"},
    {"norm_in missing in one layer", norm_in_missing, "missing tensor blk.2.attn_v_norm_in.weight"},
    {"norm_in quantized", norm_in_q8, "blk.0.attn_q_norm_in.weight has type Q8_0"},
    {"pooling type 9", pooling_9, "qwen3.pooling_type must be an integer from 0 to 3"},
};

static void check_hostile(const char *rel, const qwen3_hostile *cases, size_t n)
{
    const char *path = test_shared_path(rel);
    if (!path) {
        test_skip("../shared is absent");
        return;
    }
    ge_file base;
    CHECK_MSG(ge_load(&base, path) == 0, "cannot open %s", path);
    char err[BN_ERR_LEN] = "";
    bn_model *plain = ge_load_edited(&base, NULL, "qwen3", err);
    CHECK_MSG(plain != NULL, "unedited copy: %s", err);
    bn_model_free(plain);
    for (size_t i = 0; i < n; i++) {
        err[0] = 0;
        bn_model *m = ge_load_edited(&base, cases[i].edit, "qwen3", err);
        CHECK_MSG(m == NULL && strstr(err, cases[i].want) && !strchr(err, '\n'),
                  "%s: loaded=%d, error '%s'", cases[i].name, m != NULL, err);
        bn_model_free(m);
    }
    ge_free(&base);
}

TEST(qwen3_hostile_variants_fail_clearly)
{
    check_hostile("models/tiny-qwen3-q2_0.gguf", Q2_HOSTILE,
                  sizeof Q2_HOSTILE / sizeof Q2_HOSTILE[0]);
}

TEST(qwen3_embed_hostile_variants_fail_clearly)
{
    check_hostile("models/tiny-bitnet-embed-i2s.gguf", EMBED_HOSTILE,
                  sizeof EMBED_HOSTILE / sizeof EMBED_HOSTILE[0]);
}

/* The qwen2 split on the fixtures' vocabulary: every reference prompt of
 * the three files tokenizes to its prompt_ids (BOS as the file says). */
TEST(qwen3_prompts_tokenize_to_the_reference_ids)
{
    static const char *const refs[] = {"reference/tiny-qwen3-greedy.jsonl",
                                       "reference/tiny-qwen3-q1_0-greedy.jsonl",
                                       "reference/tiny-qwen3-i2s-greedy.jsonl"};
    SHARED_OR_SKIP(model, "models/tiny-qwen3-q2_0.gguf");
    char err[BN_ERR_LEN];
    bn_tokenizer *tok = bn_tokenizer_load(model, err);
    CHECK_MSG(tok != NULL, "%s", err);
    if (!tok) return;
    int records = 0, bad = 0;
    for (size_t f = 0; f < sizeof refs / sizeof refs[0]; f++) {
        char *data = test_read_file(test_shared_path(refs[f]), NULL);
        CHECK_MSG(data != NULL, "cannot read %s", refs[f]);
        for (char *line = data, *end; data && *line; line = end + 1) {
            end = strchr(line, '\n');
            if (!end) end = line + strlen(line);
            char *prompt = NULL;
            int32_t *want = NULL, *got = NULL;
            const long len = json_string(json_find(line, end, "prompt"), end, &prompt);
            const long nw = json_int_array(json_find(line, end, "prompt_ids"), end, &want);
            if (len >= 0 && nw > 0) {
                const int ng = bn_tokenize(tok, prompt, (size_t)len, BN_TOK_ADD_BOS, &got, err);
                records++;
                bad += ng != nw || memcmp(got, want, (size_t)nw * sizeof *got);
            }
            free(prompt), free(want), free(got);
            if (!*end) break;
        }
        free(data);
    }
    CHECK_EQ_INT(records, 60);
    CHECK_MSG(bad == 0, "%d of %d prompts tokenize differently", bad, records);
    bn_tokenizer_free(tok);
}

/* Bonsai quantizes its LM head like the rest: tiny-qwen3-q1_0 with
 * output.weight requantized to Q1_0 (d = mean|w| of each block, sign
 * bits) runs it on the Q8 products; the same file with --lm-head f16 (the
 * exact Q1_0 weights in F16, float activations) gives nearly the same
 * logits and the same greedy token. */
static void q1_0_output(ge_file *e)
{
    ge_tensor *t = ge_find_tensor(e, "output.weight");
    const size_t n = (size_t)(t->ne[0] * t->ne[1]), blocks = n / 128;
    uint8_t *q = calloc(blocks, 18);
    const uint16_t *h = (const uint16_t *)t->data;
    for (size_t b = 0; b < blocks; b++) {
        double sum = 0;
        for (int i = 0; i < 128; i++) sum += fabsf(bn_f16_to_f32(h[b * 128 + i]));
        const uint16_t d = bn_f32_to_f16((float)(sum / 128));
        memcpy(q + b * 18, &d, 2);
        for (int i = 0; i < 128; i++)
            if (bn_f16_to_f32(h[b * 128 + i]) >= 0)
                q[b * 18 + 2 + i / 8] |= (uint8_t)(1u << (i % 8));
    }
    t->type = GGML_TYPE_Q1_0;
    ge_set_tensor_data(t, q, blocks * 18);
    free(q);
}

TEST(qwen3_q1_0_output_layer_on_the_q8_products)
{
    const char *path = test_shared_path("models/tiny-qwen3-q1_0.gguf");
    if (!path) SKIP("../shared is absent");
    ge_file base;
    CHECK(ge_load(&base, path) == 0);
    ge_file e;
    gb_buf b = {0};
    ge_copy(&e, &base);
    q1_0_output(&e);
    ge_write(&e, &b, NULL);
    const char *tmp = gb_write_temp(&b, "q1out");
    char err[BN_ERR_LEN] = "";
    bn_model_params p = bn_model_default_params();
    bn_model *grouped = bn_model_load(tmp, &p, err);
    CHECK_MSG(grouped != NULL, "%s", err);
    p.lm_head = "f16";
    bn_model *f16 = bn_model_load(tmp, &p, err);
    CHECK_MSG(f16 != NULL, "%s", err);
    unlink(tmp);
    if (grouped && f16) {
        CHECK(grouped->output.grouped != NULL && grouped->output.grouped->bits != NULL);
        CHECK(f16->output.grouped == NULL && f16->output.type == GGML_TYPE_F16);
        static const int32_t ids[] = {1016, 17, 10, 17, 28};
        const int nv = bn_model_n_vocab(grouped);
        float *got[2];
        bn_model *models[2] = {grouped, f16};
        for (int i = 0; i < 2; i++) {
            bn_session *s = bn_session_new(models[i], &(bn_session_params){.n_ctx = 16}, err);
            const float *logits = NULL;
            CHECK_MSG(s && bn_session_eval(s, ids, 5, &logits, err) == 0, "%s", err);
            got[i] = calloc((size_t)nv, sizeof(float));
            if (logits) memcpy(got[i], logits, (size_t)nv * sizeof(float));
            bn_session_free(s);
        }
        double cos, diff;
        ref_logit_distance(got[0], got[1], nv, &cos, &diff);
        CHECK_MSG(cos > 0.999, "cosine %.6f", cos);
        CHECK_EQ_INT(ref_argmax(got[0], nv), ref_argmax(got[1], nv));
        free(got[0]);
        free(got[1]);
    }
    bn_model_free(grouped);
    bn_model_free(f16);
    gb_free(&b);
    ge_free(&e);
    ge_free(&base);
}
