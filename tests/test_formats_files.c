/*
 * test_formats_files.c - whole model files in every encoding: the shared
 * bitnet-tiny files (I2_S, TQ2_0, TQ1_0, arch "bitnet") against the
 * reference outputs, and files this test writes from the bundled model:
 * quantized embeddings/output layers, ternary-valued float weights, arch
 * "bitnet" with per-projection scales, --lm-head, and broken files whose
 * errors must name the tensor.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitnet.h"
#include "gguf_build.h"
#include "gguf_edit.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "quant_ref.h"
#include "kernels/quants.h"
#include "ref_check.h"
#include "test.h"

#define BUNDLED_MODEL "models/bitnet-tiny.gguf"
#define MAX_NAME 96
#define N_PROMPTS 3

static const char *const prompts[N_PROMPTS] = {"2+2=", "The capital of France is",
                                               "Monday, Tuesday,"};

/* ------------------------------------------------------- model editing */

static int edit_open(ge_file *e, const char *path)
{
    const int rc = ge_load(e, path);
    CHECK_MSG(rc == 0, "cannot open %s", path);
    return rc;
}

static ge_tensor *edit_tensor(ge_file *e, const char *name)
{
    ge_tensor *t = ge_find_tensor(e, name);
    CHECK_MSG(t != NULL, "no tensor %s in the source model", name);
    return t;
}

/* Gives t a new type and a copy of data. */
static void set_tensor(ge_tensor *t, uint32_t type, const void *data, size_t n_bytes)
{
    t->type = type;
    ge_set_tensor_data(t, data, n_bytes);
}

static void add_scalar(ge_file *e, const char *name, float v)
{
    const int64_t ne[1] = {1};
    ge_add_tensor(e, name, 1, ne, GGML_TYPE_F32, &v, sizeof v);
}

/* Renames the architecture (and the prefix of its keys) to `arch` and sets
 * <arch>.hidden_activation to act (NULL: drops it). */
static void set_arch(ge_file *e, const char *arch, const char *act)
{
    const ge_kv *kv = ge_find_kv(e, "general.architecture");
    uint64_t len;
    memcpy(&len, kv->value, sizeof len);
    char old[MAX_NAME], key[MAX_NAME];
    snprintf(old, sizeof old, "%.*s.", (int)len, (const char *)kv->value + sizeof len);
    for (size_t i = 0; i < e->n_kv; i++)
        if (!strncmp(e->kv[i].key, old, strlen(old))) {
            snprintf(key, sizeof key, "%s.%s", arch, e->kv[i].key + strlen(old));
            free(e->kv[i].key);
            e->kv[i].key = strdup(key);
        }
    ge_set_str(e, "general.architecture", arch);
    snprintf(key, sizeof key, "%s.hidden_activation", arch);
    if (act)
        ge_set_str(e, key, act);
    else
        ge_drop_kv(e, key);
}

/* ---------------------------------------------------------- conversions */

/* The weights of an I2_S tensor times its scale and mult, decoded here
 * from the layout of docs/FORMAT.md, I2_S (independently of qk256.c). */
static float *i2s_values(const ge_tensor *t, float mult)
{
    const size_t n = (size_t)t->ne[0] * t->ne[1];
    float scale;
    memcpy(&scale, t->data + n / 4, sizeof scale);
    float *w = malloc(n * sizeof *w);
    for (size_t e = 0; e < n; e++) {
        const size_t j = e % 128;
        const int code = (t->data[32 * (e / 128) + j % 32] >> (6 - 2 * (j / 32))) & 3;
        w[e] = (code == 3 ? 0.0f : (float)(code - 1)) * scale * mult;
    }
    return w;
}

/* n floats as F32, F16 or BF16 (rounded to nearest even). */
static uint8_t *encode_floats(const float *w, size_t n, uint32_t type, size_t *n_bytes)
{
    const size_t size = type == GGML_TYPE_F32 ? 4 : 2;
    uint8_t *out = malloc(n * size);
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        uint16_t h;
        memcpy(&bits, &w[i], 4);
        if (type == GGML_TYPE_F32) {
            memcpy(out + 4 * i, &bits, 4);
            continue;
        }
        h = type == GGML_TYPE_F16 ? bn_f32_to_f16(w[i])
                                  : (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
        memcpy(out + 2 * i, &h, 2);
    }
    *n_bytes = n * size;
    return out;
}

/* Every ternary projection of mf as ternary-valued floats of `type`. */
static void projections_to_floats(ge_file *e, uint32_t type)
{
    for (size_t i = 0; i < e->n_t; i++) {
        ge_tensor *t = &e->t[i];
        if (t->type != GGML_TYPE_I2_S) continue;
        float *w = i2s_values(t, 1.0f);
        size_t bytes;
        uint8_t *data = encode_floats(w, (size_t)t->ne[0] * t->ne[1], type, &bytes);
        set_tensor(t, type, data, bytes);
        free(data);
        free(w);
    }
}

/* The rows of a dense tensor (any decodable type) as floats. */
static float *dense_values(const ge_tensor *t)
{
    const int rows = (int)t->ne[1], cols = (int)t->ne[0];
    const size_t row_bytes = bn_quant_row_bytes(t->type, cols);
    float *w = malloc((size_t)rows * cols * sizeof *w);
    for (int r = 0; r < rows; r++)
        bn_dequantize_row(t->type, t->data + r * row_bytes, w + (size_t)r * cols, cols);
    return w;
}

/* rows x cols floats in `type`: Q4_0/Q4_K by the test's own quantizers,
 * the --lm-head types by the engine's. */
static uint8_t *quantize_matrix(const float *w, int rows, int cols, uint32_t type, size_t *n_bytes)
{
    const size_t row_bytes = bn_quant_row_bytes(type, cols);
    uint8_t *out = malloc((size_t)rows * row_bytes);
    for (int r = 0; r < rows; r++) {
        const float *x = w + (size_t)r * cols;
        uint8_t *dst = out + r * row_bytes;
        if (type == GGML_TYPE_Q4_0)
            qref_quantize_q4_0(x, cols, dst);
        else if (type == GGML_TYPE_Q4_K)
            qref_quantize_q4_k(x, cols, dst);
        else
            bn_quantize_row(type, x, dst, cols);
    }
    *n_bytes = (size_t)rows * row_bytes;
    return out;
}

static void requantize_tensor(ge_tensor *t, uint32_t type)
{
    float *w = dense_values(t);
    size_t bytes;
    uint8_t *data = quantize_matrix(w, (int)t->ne[1], (int)t->ne[0], type, &bytes);
    set_tensor(t, type, data, bytes);
    free(data);
    free(w);
}

/* ------------------------------------------------------------- running */

static bn_model *load_with(const char *path, const char *lm_head, char *err)
{
    bn_model_params p = bn_model_default_params();
    p.lm_head = lm_head;
    return bn_model_load(path, &p, err);
}

static bn_model *load_ok(const char *path, const char *lm_head)
{
    char err[BN_ERR_LEN];
    bn_model *m = load_with(path, lm_head, err);
    CHECK_MSG(m != NULL, "%s: %s", path, err);
    return m;
}

/* Writes e to a temporary file, loads it and removes the file (the model
 * keeps its mapping). NULL with err set on failure. */
static bn_model *edit_load(const ge_file *e, char *err)
{
    gb_buf b = {0};
    ge_write(e, &b, NULL);
    const char *path = gb_write_temp(&b, "edited");
    gb_free(&b);
    if (!path) {
        snprintf(err, BN_ERR_LEN, "cannot write a temporary file");
        return NULL;
    }
    bn_model *m = load_with(path, NULL, err);
    unlink(path);
    return m;
}

static bn_model *edit_load_ok(const ge_file *e)
{
    char err[BN_ERR_LEN];
    bn_model *m = edit_load(e, err);
    CHECK_MSG(m != NULL, "edited model: %s", err);
    return m;
}

/* Logits after prompt k (BOS added) into out[n_vocab]. */
static void prompt_logits(bn_model *m, int k, float *out)
{
    char err[BN_ERR_LEN];
    int32_t *ids = NULL;
    int n = bn_tokenize(bn_model_tokenizer(m), prompts[k], strlen(prompts[k]),
                        BN_TOK_ADD_BOS | BN_TOK_PARSE_SPECIAL, &ids, err);
    bn_session *s = bn_session_new(m, &(bn_session_params){.n_ctx = 64}, err);
    const float *logits = NULL;
    CHECK(n > 0 && s && bn_session_eval(s, ids, n, &logits, err) == 0);
    if (logits) memcpy(out, logits, (size_t)bn_model_n_vocab(m) * sizeof *out);
    bn_session_free(s);
    free(ids);
}

/* Greedy continuation of prompt k: up to cap ids, ending at EOG. */
static int greedy_ids(bn_model *m, int k, int32_t *out, int cap)
{
    char err[BN_ERR_LEN];
    int32_t *ids = NULL;
    int n = bn_tokenize(bn_model_tokenizer(m), prompts[k], strlen(prompts[k]),
                        BN_TOK_ADD_BOS | BN_TOK_PARSE_SPECIAL, &ids, err);
    bn_session *s = bn_session_new(m, &(bn_session_params){.n_ctx = 64}, err);
    const float *logits;
    int got = 0;
    if (n > 0 && s && bn_session_eval(s, ids, n, &logits, err) == 0)
        while (got < cap) {
            out[got] = ref_argmax(logits, bn_model_n_vocab(m));
            if (bn_token_is_eog(bn_model_tokenizer(m), out[got++])) break;
            if (bn_session_eval(s, &out[got - 1], 1, &logits, err)) break;
        }
    bn_session_free(s);
    free(ids);
    return got;
}

#define GREEDY_CAP 12

/* Do two models continue every prompt with the same greedy ids? */
static int same_greedy(bn_model *a, bn_model *b)
{
    for (int k = 0; k < N_PROMPTS; k++) {
        int32_t x[GREEDY_CAP], y[GREEDY_CAP];
        int nx = greedy_ids(a, k, x, GREEDY_CAP), ny = greedy_ids(b, k, y, GREEDY_CAP);
        if (nx != ny || memcmp(x, y, (size_t)nx * sizeof *x)) return 0;
    }
    return 1;
}

/* Worst cosine and largest difference of b's logits against a's. */
static void logit_gap(bn_model *a, bn_model *b, double *min_cos, double *max_diff)
{
    const int nv = bn_model_n_vocab(a);
    float *x = malloc((size_t)nv * sizeof *x), *y = malloc((size_t)nv * sizeof *y);
    *min_cos = 1.0;
    *max_diff = 0.0;
    for (int k = 0; k < N_PROMPTS; k++) {
        double c, d;
        prompt_logits(a, k, x);
        prompt_logits(b, k, y);
        ref_logit_distance(x, y, nv, &c, &d);
        if (c < *min_cos) *min_cos = c;
        if (d > *max_diff) *max_diff = d;
    }
    free(x);
    free(y);
}

/* Are b's logits bitwise a's for every prompt? */
static int same_logits(bn_model *a, bn_model *b)
{
    const int nv = bn_model_n_vocab(a);
    float *x = malloc((size_t)nv * sizeof *x), *y = malloc((size_t)nv * sizeof *y);
    int same = 1;
    for (int k = 0; k < N_PROMPTS; k++) {
        prompt_logits(a, k, x);
        prompt_logits(b, k, y);
        same &= !memcmp(x, y, (size_t)nv * sizeof *x);
    }
    free(x);
    free(y);
    return same;
}

static int answers_four(bn_model *m)
{
    int32_t ids[GREEDY_CAP];
    char piece[8];
    int n = greedy_ids(m, 0, ids, GREEDY_CAP);
    return n >= 1 &&
           bn_token_to_piece(bn_model_tokenizer(m), ids[0], 0, piece, sizeof piece) == 1 &&
           piece[0] == '4';
}

/* ------------------------------------------- quantized embedding/output */

/* Worst cosine of the logits allowed per type against the F16 original:
 * for the output layer alone, and for a tied embedding, whose error also
 * enters every layer (where it flips int8 activation roundings, so even
 * Q8_0 moves the logits by ~0.1). */
static const struct {
    uint32_t type;
    double output_cosine, tied_cosine;
} dense_cases[] = {{GGML_TYPE_Q8_0, 0.9999, 0.999},
                   {GGML_TYPE_Q6_K, 0.999, 0.999},
                   {GGML_TYPE_Q4_K, 0.99, 0.99},
                   {GGML_TYPE_Q4_0, 0.99, 0.99}};
#define N_DENSE_CASES (sizeof dense_cases / sizeof dense_cases[0])

/* The bundled model with token_embd in `type` (tied), or with an untied
 * output.weight in `type` next to the F16 embedding. */
static bn_model *load_quantized(uint32_t type, int untied)
{
    ge_file e;
    if (edit_open(&e, BUNDLED_MODEL)) return NULL;
    ge_tensor *emb = edit_tensor(&e, "token_embd.weight");
    if (untied) {
        float *w = dense_values(emb);
        size_t bytes;
        uint8_t *q = quantize_matrix(w, (int)emb->ne[1], (int)emb->ne[0], type, &bytes);
        const int64_t ne[2] = {emb->ne[0], emb->ne[1]}; /* emb moves when e grows */
        ge_add_tensor(&e, "output.weight", 2, ne, type, q, bytes);
        free(q);
        free(w);
    } else {
        requantize_tensor(emb, type);
    }
    bn_model *m = edit_load_ok(&e);
    ge_free(&e);
    return m;
}

TEST(formats_files_quantized_embedding_and_output)
{
    bn_model *orig = load_ok(BUNDLED_MODEL, NULL);
    if (!orig) return;
    for (size_t k = 0; k < N_DENSE_CASES; k++)
        for (int untied = 0; untied < 2; untied++) {
            const uint32_t type = dense_cases[k].type;
            bn_model *m = load_quantized(type, untied);
            if (!m) continue;
            double c, d;
            logit_gap(orig, m, &c, &d);
            const double want = untied ? dense_cases[k].output_cosine : dense_cases[k].tied_cosine;
            CHECK_MSG(c >= want, "%s %s: cosine %.6f (max diff %.3f)", gguf_type_name(type),
                      untied ? "output" : "tied embedding", c, d);
            CHECK(m->output.type == type);
            CHECK(m->tok_embd.type == (untied ? GGML_TYPE_F16 : type));
            CHECK_MSG(answers_four(m), "%s: 2+2= does not answer 4", gguf_type_name(type));
            bn_model_free(m);
        }
    bn_model_free(orig);
}

/* -------------------------------------------- ternary-valued floats */

TEST(formats_files_float_ternary_conversion)
{
    bn_model *orig = load_ok(BUNDLED_MODEL, NULL);
    if (!orig) return;
    const uint32_t types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16};
    for (int k = 0; k < 3; k++) {
        ge_file e;
        if (edit_open(&e, BUNDLED_MODEL)) break;
        projections_to_floats(&e, types[k]);
        bn_model *m = edit_load_ok(&e);
        ge_free(&e);
        if (m) {
            /* F32 holds the I2_S weights exactly: same codes, same scale */
            if (types[k] == GGML_TYPE_F32) CHECK(same_logits(orig, m));
            CHECK_MSG(same_greedy(orig, m), "%s: greedy ids differ", gguf_type_name(types[k]));
            bn_model_free(m);
        }
    }
    bn_model_free(orig);
}

/* ------------------------------------------------------- arch "bitnet" */

TEST(formats_files_arch_bitnet_activation_and_scales)
{
    bn_model *orig = load_ok(BUNDLED_MODEL, NULL);
    ge_file e;
    if (!orig || edit_open(&e, BUNDLED_MODEL)) {
        bn_model_free(orig);
        return;
    }
    /* the same model under mainline's name: identical with relu2, SiLU without */
    set_arch(&e, "bitnet", "relu2");
    bn_model *m = edit_load_ok(&e);
    if (m) {
        CHECK(m->arch == BN_ARCH_BITNET && m->act == BN_ACT_RELU2);
        CHECK(same_logits(orig, m));
        bn_model_free(m);
    }
    set_arch(&e, "bitnet", NULL);
    if ((m = edit_load_ok(&e))) {
        CHECK(m->act == BN_ACT_SILU);
        bn_model_free(m);
    }
    /* float weights of attn_q doubled == the originals with attn_q.scale = 2 */
    set_arch(&e, "bitnet", "relu2");
    projections_to_floats(&e, GGML_TYPE_F32);
    add_scalar(&e, "blk.0.attn_q.scale", 2.0f);
    bn_model *with_scale = edit_load_ok(&e);
    ge_drop_tensor(&e, "blk.0.attn_q.scale");
    ge_tensor *q = edit_tensor(&e, "blk.0.attn_q.weight");
    for (size_t i = 0; i + sizeof(float) <= q->n_bytes; i += sizeof(float)) { /* unaligned */
        float w;
        memcpy(&w, q->data + i, sizeof w);
        w *= 2.0f;
        memcpy(q->data + i, &w, sizeof w);
    }
    bn_model *with_weights = edit_load_ok(&e);
    if (with_scale && with_weights) {
        CHECK(with_scale->layers[0].wq.scale == 2.0f * orig->layers[0].wq.scale);
        CHECK(same_logits(with_scale, with_weights));
        CHECK(!same_logits(orig, with_scale));
    }
    bn_model_free(with_scale);
    bn_model_free(with_weights);
    ge_free(&e);
    bn_model_free(orig);
}

/* A TQ2_0 tensor whose block scales differ keeps them per block; a model
 * with one such tensor runs like the original, and an arch "bitnet" scale
 * tensor multiplies every block scale. */
TEST(formats_files_tq2_per_block_scales)
{
    SHARED_OR_SKIP(src, "models/bitnet-tiny-arch-bitnet-tq2_0.gguf");
    bn_model *orig = load_ok(src, NULL);
    ge_file e;
    if (!orig || edit_open(&e, src)) {
        bn_model_free(orig);
        return;
    }
    /* the next fp16 value as the scale of block 0 of blk.1.ffn_down */
    ge_tensor *down = edit_tensor(&e, "blk.1.ffn_down.weight");
    uint16_t h;
    memcpy(&h, down->data + 64, sizeof h);
    const float before = bn_f16_to_f32(h);
    h++;
    memcpy(down->data + 64, &h, sizeof h);
    const float nudged = bn_f16_to_f32(h);
    bn_model *m = edit_load_ok(&e);
    if (m) {
        const qk256_matrix *w = &m->layers[1].wdown;
        CHECK(w->block_scales && w->block_scales[0] == nudged && w->block_scales[1] == before);
        CHECK(m->layers[1].wup.block_scales == NULL);
        double c, d;
        logit_gap(orig, m, &c, &d);
        CHECK_MSG(c >= 0.999, "cosine %.6f", c);
        CHECK(same_greedy(orig, m));
        bn_model_free(m);
    }
    add_scalar(&e, "blk.1.ffn_down.scale", 0.5f);
    if ((m = edit_load_ok(&e))) {
        const qk256_matrix *w = &m->layers[1].wdown;
        CHECK(w->block_scales && w->block_scales[0] == nudged * 0.5f &&
              w->block_scales[1] == before * 0.5f);
        bn_model_free(m);
    }
    ge_free(&e);
    bn_model_free(orig);
}

/* ----------------------------------------------------------- --lm-head */

TEST(formats_files_lm_head_requantizes_the_output_only)
{
    bn_model *orig = load_ok(BUNDLED_MODEL, NULL);
    if (!orig) return;
    const struct {
        const char *name;
        uint32_t type;
        double min_cosine;
    } cases[] = {{"q8_0", GGML_TYPE_Q8_0, 0.9999},
                 {"Q6_K", GGML_TYPE_Q6_K, 0.999},
                 {"f16", GGML_TYPE_F16, 1.0}};
    for (int k = 0; k < 3; k++) {
        bn_model *m = load_ok(BUNDLED_MODEL, cases[k].name);
        if (!m) continue;
        CHECK(m->output.type == cases[k].type && m->tok_embd.type == GGML_TYPE_F16);
        /* a requested type equal to the file's keeps the file's tensor */
        CHECK((m->output.owned != NULL) == (cases[k].type != GGML_TYPE_F16));
        double c, d;
        logit_gap(orig, m, &c, &d);
        CHECK_MSG(c >= cases[k].min_cosine, "%s: cosine %.6f", cases[k].name, c);
        CHECK(answers_four(m));
        bn_model_free(m);
    }
    char err[BN_ERR_LEN];
    CHECK(load_with(BUNDLED_MODEL, "q5_k", err) == NULL);
    CHECK_MSG(strstr(err, "q5_k") && strstr(err, "q6_k"), "%s", err);
    bn_model_free(orig);
}

/* ------------------------------------------------------------- errors */

/* Expects loading e to fail with an error naming `name`. */
static void expect_load_error(const ge_file *e, const char *name, const char *also)
{
    char err[BN_ERR_LEN] = "";
    bn_model *m = edit_load(e, err);
    CHECK_MSG(m == NULL, "%s: loaded although broken", name);
    bn_model_free(m);
    CHECK_MSG(strstr(err, name) && strstr(err, also), "error for %s: '%s'", name, err);
}

TEST(formats_files_wrong_tensors_name_the_tensor)
{
    ge_file e;
    if (edit_open(&e, BUNDLED_MODEL)) return;
    /* a missing tensor */
    ge_drop_tensor(&e, "blk.2.ffn_up.weight");
    expect_load_error(&e, "blk.2.ffn_up.weight", "missing");
    ge_free(&e);
    struct {
        const char *name;
        uint32_t type;
        int64_t ne0, ne1;
        const char *also;
    } cases[] = {
        {"blk.1.attn_k.weight", GGML_TYPE_I2_S, 512, 256, "shape"},     /* shape mismatch */
        {"blk.0.attn_q.weight", GGML_TYPE_TQ2_0, 320, 512, "320"},      /* row not 256-blocks */
        {"blk.3.ffn_gate.weight", GGML_TYPE_TL2, 512, 1536, "TL2"},     /* id 39: refused */
        {"blk.0.attn_v.weight", 99, 512, 128, "99"},                    /* unknown id */
        {"blk.2.attn_output.weight", GGML_TYPE_Q4_K, 512, 512, "Q4_K"}, /* not ternary */
        {"token_embd.weight", GGML_TYPE_Q5_K, 512, 1024, "Q5_K"},       /* embedding type */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (edit_open(&e, BUNDLED_MODEL)) return;
        ge_tensor *t = edit_tensor(&e, cases[k].name);
        const int64_t ne[4] = {cases[k].ne0, cases[k].ne1, 1, 1};
        uint64_t bytes = ggml_tensor_nbytes(cases[k].type, ne);
        if (!bytes) bytes = (uint64_t)(cases[k].ne0 * cases[k].ne1); /* any: refused first */
        t->ne[0] = cases[k].ne0;
        t->ne[1] = cases[k].ne1;
        set_tensor(t, cases[k].type, NULL, bytes); /* NULL: zeros */
        expect_load_error(&e, cases[k].name, cases[k].also);
        ge_free(&e);
    }
    /* a malformed scale tensor of arch "bitnet" */
    if (edit_open(&e, BUNDLED_MODEL)) return;
    set_arch(&e, "bitnet", "relu2");
    const int64_t two[1] = {2};
    ge_add_tensor(&e, "blk.0.ffn_up.scale", 1, two, GGML_TYPE_F32, NULL, 8);
    expect_load_error(&e, "blk.0.ffn_up.scale", "one F32 value");
    ge_free(&e);
}

/* -------------------------------------------------------- shared files */

static const char *const shared_models[] = {
    "models/bitnet-tiny.gguf", "models/bitnet-tiny-tq2_0.gguf", "models/bitnet-tiny-tq1_0.gguf",
    "models/bitnet-tiny-arch-bitnet-tq2_0.gguf"};
#define N_SHARED (sizeof shared_models / sizeof shared_models[0])
#define TQ_MIN_COSINE 0.999
#define TQ_MAX_DIFF 0.25

TEST(formats_shared_files_give_the_reference_greedy_ids)
{
    SHARED_OR_SKIP(ref_path, "reference/bitnet-tiny-greedy.jsonl");
    char ref[4096];
    snprintf(ref, sizeof ref, "%s", ref_path);
    for (size_t k = 0; k < N_SHARED; k++) {
        const char *path = test_shared_path(shared_models[k]);
        bn_model *m = load_ok(path, NULL);
        if (!m) continue;
        ref_result r;
        CHECK(ref_compare(m, ref, &r) == 0 && r.records >= 20 && r.logit_steps > 0);
        CHECK_MSG(r.plain_mismatches == 0 && r.chat_mismatches == 0,
                  "%s: %d of %d plain and %d chat records differ", shared_models[k],
                  r.plain_mismatches, r.plain_records, r.chat_mismatches);
        /* the TQ files hold the same ternary weights, but their scales are
         * fp16: a relative change of up to 2^-11 that flips some int8
         * activation roundings, so their logits move by up to ~0.12 */
        const int exact = k == 0;
        CHECK_MSG(r.min_cosine >= (exact ? REF_MIN_COSINE : TQ_MIN_COSINE) &&
                      r.max_diff <= (exact ? REF_MAX_DIFF : TQ_MAX_DIFF),
                  "%s: worst cosine %.6f, max diff %.4f", shared_models[k], r.min_cosine,
                  r.max_diff);
        bn_model_free(m);
    }
}

static void collect(const char *line, void *ctx)
{
    char *buf = ctx;
    size_t used = strlen(buf);
    snprintf(buf + used, 4096 - used, "%s\n", line);
}

TEST(formats_describe_shows_types_for_every_file)
{
    SHARED_OR_SKIP(dir, "models");
    const char *want[N_SHARED] = {"I2_S", "TQ2_0", "TQ1_0", "TQ2_0"};
    for (size_t k = 0; k < N_SHARED; k++) {
        bn_model *m = load_ok(test_shared_path(shared_models[k]), k == 1 ? "q8_0" : NULL);
        if (!m) continue;
        char buf[4096] = "";
        bn_model_describe(m, collect, buf);
        char line[64];
        snprintf(line, sizeof line, "tensors %-8s 28", want[k]);
        CHECK_MSG(strstr(buf, line), "%s:\n%s", shared_models[k], buf);
        CHECK(strstr(buf, "tensors F16      1") && strstr(buf, "tensors F32      17"));
        CHECK(strstr(buf, k == 1 ? "output layer:    Q8_0 (requantized from F16"
                                 : "output layer:    F16 (tied to token_embd)"));
        CHECK(strstr(buf, "28 with one scale"));
        CHECK(strstr(buf, k == 3 ? "bitnet (FFN relu2)" : "bitnet-b1.58 (FFN relu2)"));
        bn_model_free(m);
    }
    (void)dir;
}
