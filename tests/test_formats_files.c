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
#include "kernels.h"
#include "model.h"
#include "quant_ref.h"
#include "quants.h"
#include "ref_check.h"
#include "test.h"

#define BUNDLED_MODEL "models/bitnet-tiny.gguf"
#define MAX_TENSORS 64
#define MAX_NAME 96
#define N_PROMPTS 3

static const char *const prompts[N_PROMPTS] = {"2+2=", "The capital of France is",
                                               "Monday, Tuesday,"};

/* ------------------------------------------------------ model rewriting */

typedef struct {
    char name[MAX_NAME];
    uint32_t n_dims, type;
    int64_t ne[4];
    uint8_t *data; /* owned */
    size_t n_bytes;
} mtensor;

/* An editable copy of a GGUF model: the source's metadata, tensors to write. */
typedef struct {
    gguf_file *src;
    mtensor t[MAX_TENSORS];
    int n;
} mfile;

static void *copy_bytes(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    memcpy(q, p, n);
    return q;
}

static int mfile_open(mfile *mf, const char *path)
{
    char err[BN_ERR_LEN];
    memset(mf, 0, sizeof *mf);
    mf->src = gguf_open(path, err, sizeof err);
    CHECK_MSG(mf->src != NULL, "%s: %s", path, err);
    if (!mf->src) return -1;
    for (uint64_t i = 0; i < mf->src->n_tensors && mf->n < MAX_TENSORS; i++) {
        const gguf_tensor *s = &mf->src->tensors[i];
        mtensor *t = &mf->t[mf->n++];
        snprintf(t->name, sizeof t->name, "%.*s", (int)s->name.len, s->name.ptr);
        t->n_dims = s->n_dims;
        t->type = s->type;
        memcpy(t->ne, s->ne, sizeof t->ne);
        t->n_bytes = s->n_bytes;
        t->data = copy_bytes(s->data, s->n_bytes);
    }
    return 0;
}

static void mfile_free(mfile *mf)
{
    for (int i = 0; i < mf->n; i++) free(mf->t[i].data);
    gguf_close(mf->src);
    memset(mf, 0, sizeof *mf);
}

static mtensor *mfile_get(mfile *mf, const char *name)
{
    for (int i = 0; i < mf->n; i++)
        if (!strcmp(mf->t[i].name, name)) return &mf->t[i];
    test_fail(__FILE__, __LINE__, "no tensor %s in the source model", name);
    return NULL;
}

static void mfile_remove(mfile *mf, const char *name)
{
    mtensor *t = mfile_get(mf, name);
    if (!t) return;
    free(t->data);
    *t = mf->t[--mf->n];
}

/* Adds a tensor (takes ownership of data). */
static mtensor *mfile_add(mfile *mf, const char *name, uint32_t n_dims, int64_t ne0, int64_t ne1,
                          uint32_t type, uint8_t *data, size_t n_bytes)
{
    mtensor *t = &mf->t[mf->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = t->ne[3] = 1;
    t->type = type;
    t->data = data;
    t->n_bytes = n_bytes;
    return t;
}

/* Replaces the data and type of t (takes ownership of data). */
static void mtensor_set(mtensor *t, uint32_t type, uint8_t *data, size_t n_bytes)
{
    free(t->data);
    t->type = type;
    t->data = data;
    t->n_bytes = n_bytes;
}

/* Writes mf to a temporary file. arch (NULL: keep) renames the
 * architecture and its key prefix; act (NULL: none) adds
 * <arch>.hidden_activation. Returns the path (static) or NULL. */
static const char *mfile_write(const mfile *mf, const char *arch, const char *act, const char *tag)
{
    gguf_str old;
    gguf_get_str(mf->src, "general.architecture", &old);
    gb_buf b = {0};
    gb_header(&b, (uint64_t)mf->n, mf->src->n_kv + (act ? 1 : 0));
    for (uint64_t i = 0; i < mf->src->n_kv; i++) {
        const gguf_str key = mf->src->kv[i].key;
        char renamed[MAX_NAME];
        if (arch && gguf_str_eq(key, "general.architecture")) {
            gb_kv_str(&b, "general.architecture", arch);
        } else if (arch && key.len > old.len && !memcmp(key.ptr, old.ptr, old.len) &&
                   key.ptr[old.len] == '.') {
            snprintf(renamed, sizeof renamed, "%s%.*s", arch, (int)(key.len - old.len),
                     key.ptr + old.len);
            gb_copy_kv(&b, mf->src, i, renamed);
        } else {
            gb_copy_kv(&b, mf->src, i, NULL);
        }
    }
    if (act) {
        char key[MAX_NAME];
        snprintf(key, sizeof key, "%s.hidden_activation", arch ? arch : "bitnet-b1.58");
        gb_kv_str(&b, key, act);
    }
    gb_tensor list[MAX_TENSORS];
    for (int i = 0; i < mf->n; i++)
        list[i] = (gb_tensor){mf->t[i].name, mf->t[i].n_dims,
                              {mf->t[i].ne[0], mf->t[i].ne[1], mf->t[i].ne[2], mf->t[i].ne[3]},
                              mf->t[i].type, mf->t[i].data, mf->t[i].n_bytes};
    gb_tensors(&b, list, (size_t)mf->n);
    const char *path = gb_write_temp(&b, tag);
    gb_free(&b);
    return path;
}

/* ---------------------------------------------------------- conversions */

/* The weights of an I2_S tensor times its scale and mult, decoded here
 * from the layout of spec 3.2 (independently of qk256.c). */
static float *i2s_values(const mtensor *t, float mult)
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
static void projections_to_floats(mfile *mf, uint32_t type)
{
    for (int i = 0; i < mf->n; i++) {
        mtensor *t = &mf->t[i];
        if (t->type != GGML_TYPE_I2_S) continue;
        float *w = i2s_values(t, 1.0f);
        size_t bytes;
        uint8_t *data = encode_floats(w, (size_t)t->ne[0] * t->ne[1], type, &bytes);
        mtensor_set(t, type, data, bytes);
        free(w);
    }
}

/* The rows of a dense tensor (any decodable type) as floats. */
static float *dense_values(const mtensor *t)
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
static uint8_t *quantize_matrix(const float *w, int rows, int cols, uint32_t type,
                                size_t *n_bytes)
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

static void requantize_tensor(mtensor *t, uint32_t type)
{
    float *w = dense_values(t);
    size_t bytes;
    uint8_t *data = quantize_matrix(w, (int)t->ne[1], (int)t->ne[0], type, &bytes);
    mtensor_set(t, type, data, bytes);
    free(w);
}

/* ------------------------------------------------------------- running */

static bn_model *load_with(const char *path, const char *lm_head, char *err)
{
    bn_model_params p = bn_model_default_params();
    p.n_threads = 2;
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

/* Writes mf to a temporary file (see mfile_write), loads it and removes
 * the file (the model keeps its mapping). NULL with err set on failure. */
static bn_model *mfile_load(const mfile *mf, const char *arch, const char *act, char *err)
{
    const char *path = mfile_write(mf, arch, act, "edited");
    if (!path) {
        snprintf(err, BN_ERR_LEN, "cannot write a temporary file");
        return NULL;
    }
    bn_model *m = load_with(path, NULL, err);
    unlink(path);
    return m;
}

static bn_model *mfile_load_ok(const mfile *mf, const char *arch, const char *act)
{
    char err[BN_ERR_LEN];
    bn_model *m = mfile_load(mf, arch, act, err);
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
    bn_session *s = bn_session_new(m, 64, err);
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
    bn_session *s = bn_session_new(m, 64, err);
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
    mfile mf;
    if (mfile_open(&mf, BUNDLED_MODEL)) return NULL;
    mtensor *emb = mfile_get(&mf, "token_embd.weight");
    if (untied) {
        float *w = dense_values(emb);
        size_t bytes;
        uint8_t *q = quantize_matrix(w, (int)emb->ne[1], (int)emb->ne[0], type, &bytes);
        mfile_add(&mf, "output.weight", 2, emb->ne[0], emb->ne[1], type, q, bytes);
        free(w);
    } else {
        requantize_tensor(emb, type);
    }
    bn_model *m = mfile_load_ok(&mf, NULL, NULL);
    mfile_free(&mf);
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
        mfile mf;
        if (mfile_open(&mf, BUNDLED_MODEL)) break;
        projections_to_floats(&mf, types[k]);
        bn_model *m = mfile_load_ok(&mf, NULL, NULL);
        mfile_free(&mf);
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
    mfile mf;
    if (!orig || mfile_open(&mf, BUNDLED_MODEL)) {
        bn_model_free(orig);
        return;
    }
    /* the same model under mainline's name: identical with relu2, SiLU without */
    bn_model *m = mfile_load_ok(&mf, "bitnet", "relu2");
    if (m) {
        CHECK(m->arch == BN_ARCH_BITNET && m->act == BN_ACT_RELU2);
        CHECK(same_logits(orig, m));
        bn_model_free(m);
    }
    if ((m = mfile_load_ok(&mf, "bitnet", NULL))) {
        CHECK(m->act == BN_ACT_SILU);
        bn_model_free(m);
    }
    /* float weights of attn_q doubled == the originals with attn_q.scale = 2 */
    projections_to_floats(&mf, GGML_TYPE_F32);
    const float two = 2.0f;
    mfile_add(&mf, "blk.0.attn_q.scale", 1, 1, 1, GGML_TYPE_F32, copy_bytes(&two, 4), 4);
    bn_model *with_scale = mfile_load_ok(&mf, "bitnet", "relu2");
    mfile_remove(&mf, "blk.0.attn_q.scale");
    mtensor *q = mfile_get(&mf, "blk.0.attn_q.weight");
    for (size_t i = 0; i < q->n_bytes / 4; i++) ((float *)q->data)[i] *= 2.0f;
    bn_model *with_weights = mfile_load_ok(&mf, "bitnet", "relu2");
    if (with_scale && with_weights) {
        CHECK(with_scale->layers[0].wq.scale == 2.0f * orig->layers[0].wq.scale);
        CHECK(same_logits(with_scale, with_weights));
        CHECK(!same_logits(orig, with_scale));
    }
    bn_model_free(with_scale);
    bn_model_free(with_weights);
    mfile_free(&mf);
    bn_model_free(orig);
}

/* A TQ2_0 tensor whose block scales differ keeps them per block; a model
 * with one such tensor runs like the original, and an arch "bitnet" scale
 * tensor multiplies every block scale. */
TEST(formats_files_tq2_per_block_scales)
{
    SHARED_OR_SKIP(src, "models/bitnet-tiny-arch-bitnet-tq2_0.gguf");
    bn_model *orig = load_ok(src, NULL);
    mfile mf;
    if (!orig || mfile_open(&mf, src)) {
        bn_model_free(orig);
        return;
    }
    /* the next fp16 value as the scale of block 0 of blk.1.ffn_down */
    mtensor *down = mfile_get(&mf, "blk.1.ffn_down.weight");
    uint16_t h;
    memcpy(&h, down->data + 64, sizeof h);
    const float before = bn_f16_to_f32(h);
    h++;
    memcpy(down->data + 64, &h, sizeof h);
    const float nudged = bn_f16_to_f32(h);
    bn_model *m = mfile_load_ok(&mf, NULL, NULL);
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
    const float half = 0.5f;
    mfile_add(&mf, "blk.1.ffn_down.scale", 1, 1, 1, GGML_TYPE_F32, copy_bytes(&half, 4), 4);
    if ((m = mfile_load_ok(&mf, NULL, NULL))) {
        const qk256_matrix *w = &m->layers[1].wdown;
        CHECK(w->block_scales && w->block_scales[0] == nudged * 0.5f &&
              w->block_scales[1] == before * 0.5f);
        bn_model_free(m);
    }
    mfile_free(&mf);
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
    } cases[] = {{"q8_0", GGML_TYPE_Q8_0, 0.9999}, {"Q6_K", GGML_TYPE_Q6_K, 0.999},
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

/* Expects loading mf to fail with an error naming `name`. */
static void expect_load_error(const mfile *mf, const char *arch, const char *name,
                              const char *also)
{
    char err[BN_ERR_LEN] = "";
    bn_model *m = mfile_load(mf, arch, arch ? "relu2" : NULL, err);
    CHECK_MSG(m == NULL, "%s: loaded although broken", name);
    bn_model_free(m);
    CHECK_MSG(strstr(err, name) && strstr(err, also), "error for %s: '%s'", name, err);
}

TEST(formats_files_wrong_tensors_name_the_tensor)
{
    mfile mf;
    if (mfile_open(&mf, BUNDLED_MODEL)) return;
    static uint8_t zeros[1 << 20];
    /* a missing tensor */
    mfile_remove(&mf, "blk.2.ffn_up.weight");
    expect_load_error(&mf, NULL, "blk.2.ffn_up.weight", "missing");
    mfile_free(&mf);
    struct {
        const char *name;
        uint32_t type;
        int64_t ne0, ne1;
        const char *also;
    } cases[] = {
        {"blk.1.attn_k.weight", GGML_TYPE_I2_S, 512, 256, "shape"},    /* shape mismatch */
        {"blk.0.attn_q.weight", GGML_TYPE_TQ2_0, 320, 512, "320"},     /* row not 256-blocks */
        {"blk.3.ffn_gate.weight", GGML_TYPE_TL2, 512, 1536, "TL2"},    /* id 39: refused */
        {"blk.0.attn_v.weight", 99, 512, 128, "99"},                   /* unknown id */
        {"blk.2.attn_output.weight", GGML_TYPE_Q4_K, 512, 512, "Q4_K"}, /* not ternary */
        {"token_embd.weight", GGML_TYPE_Q5_K, 512, 1024, "Q5_K"},      /* embedding type */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (mfile_open(&mf, BUNDLED_MODEL)) return;
        mtensor *t = mfile_get(&mf, cases[k].name);
        const int64_t ne[4] = {cases[k].ne0, cases[k].ne1, 1, 1};
        uint64_t bytes = ggml_tensor_nbytes(cases[k].type, ne);
        if (!bytes) bytes = (uint64_t)(cases[k].ne0 * cases[k].ne1); /* any: refused first */
        t->ne[0] = cases[k].ne0;
        t->ne[1] = cases[k].ne1;
        mtensor_set(t, cases[k].type, copy_bytes(zeros, bytes), bytes);
        expect_load_error(&mf, NULL, cases[k].name, cases[k].also);
        mfile_free(&mf);
    }
    /* a malformed scale tensor of arch "bitnet" */
    if (mfile_open(&mf, BUNDLED_MODEL)) return;
    mfile_add(&mf, "blk.0.ffn_up.scale", 1, 2, 1, GGML_TYPE_F32, copy_bytes(zeros, 8), 8);
    expect_load_error(&mf, "bitnet", "blk.0.ffn_up.scale", "one F32 value");
    mfile_free(&mf);
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
