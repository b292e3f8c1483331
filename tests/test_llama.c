/*
 * test_llama.c - arch "llama" with ternary projections (Falcon3-1.58bit,
 * Falcon-E, Llama3-8B-1.58) on the shared tiny-llama files: the reference
 * greedy ids and logits in both encodings, the graph read from what the
 * file holds (sub-norms, activation, key_length, tied output), NORM RoPE,
 * and clear errors for hostile variants.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitnet.h"
#include "engine/ops.h"
#include "gguf_edit.h"
#include "model/model.h"
#include "ref_check.h"
#include "test.h"

#define LLAMA_I2S "models/tiny-llama-i2s.gguf"
#define LLAMA_REF "reference/tiny-llama-greedy.jsonl"
#define ARCH_KEY(suffix) "llama." suffix

TEST(llama_reference_greedy_ids_and_logits_i2s)
{
    SHARED_OR_SKIP(ref, LLAMA_REF);
    SHARED_OR_SKIP(path, LLAMA_I2S);
    check_against_reference_file(path, ref, 1);
}

/* Every TQ2_0 scale is exact in f16: the same weights, the same tolerance. */
TEST(llama_reference_greedy_ids_and_logits_tq2_0)
{
    SHARED_OR_SKIP(ref, LLAMA_REF);
    SHARED_OR_SKIP(path, "models/tiny-llama-tq2_0.gguf");
    check_against_reference_file(path, ref, 1);
}

TEST(llama_rope_norm_rotates_adjacent_pairs)
{
    float v[4] = {1, 2, 3, 4}, cs[4];
    bn_rope_angles(cs, 4, 1, 10000.0f);
    bn_rope_apply_norm(v, 4, cs);
    const float t = powf(10000.0f, -0.5f); /* pair 1 turns by theta_scale radians */
    CHECK(fabsf(v[0] - (cosf(1) * 1 - sinf(1) * 2)) < 1e-6f);
    CHECK(fabsf(v[1] - (sinf(1) * 1 + cosf(1) * 2)) < 1e-6f);
    CHECK(fabsf(v[2] - (cosf(t) * 3 - sinf(t) * 4)) < 1e-6f);
    CHECK(fabsf(v[3] - (sinf(t) * 3 + cosf(t) * 4)) < 1e-6f);
}

/* ------------------------------------------------- edited tiny-llama files */

typedef void (*llama_edit)(ge_file *e);

static int open_base(ge_file *e)
{
    const char *path = test_shared_path(LLAMA_I2S);
    if (!path) return -1;
    CHECK_MSG(ge_load(e, path) == 0, "cannot open %s", path);
    return 0;
}

/* The logits after a fixed prompt, malloc'd (n_vocab of them). */
static float *prompt_logits(bn_model *m)
{
    static const int32_t ids[] = {1016, 17, 10, 17, 28, 19, 220, 21};
    char err[BN_ERR_LEN];
    bn_session *s = bn_session_new(m, &(bn_session_params){.n_ctx = 32}, err);
    const float *logits = NULL;
    CHECK_MSG(s && bn_session_eval(s, ids, 8, &logits, err) == 0, "%s", err);
    float *out = calloc((size_t)bn_model_n_vocab(m), sizeof *out);
    if (logits) memcpy(out, logits, (size_t)bn_model_n_vocab(m) * sizeof *out);
    bn_session_free(s);
    return out;
}

static void key_length_64(ge_file *e) { ge_set_u32(e, ARCH_KEY("attention.key_length"), 64); }
static void key_length_128(ge_file *e) { ge_set_u32(e, ARCH_KEY("attention.key_length"), 128); }
static void head_dim_128(ge_file *e)
{
    key_length_128(e);
    ge_set_u32(e, ARCH_KEY("rope.dimension_count"), 128);
}
static void q8_projection(ge_file *e)
{
    enum { Q8_0_BLOCK = 32, Q8_0_BLOCK_BYTES = 34 };
    ge_tensor *t = ge_find_tensor(e, "blk.2.ffn_down.weight");
    const size_t n = (size_t)(t->ne[0] / Q8_0_BLOCK * t->ne[1]) * Q8_0_BLOCK_BYTES;
    uint8_t *zeros = calloc(n, 1);
    t->type = GGML_TYPE_Q8_0;
    ge_set_tensor_data(t, zeros, n);
    free(zeros);
}
static void key_length_60(ge_file *e) { ge_set_u32(e, ARCH_KEY("attention.key_length"), 60); }
static void value_length_32(ge_file *e) { ge_set_u32(e, ARCH_KEY("attention.value_length"), 32); }
static void heads_not_dividing(ge_file *e) { ge_set_u32(e, ARCH_KEY("attention.head_count"), 6); }
static void huge_vocab(ge_file *e) { ge_set_u32(e, ARCH_KEY("vocab_size"), 0xFFFFFFF0u); }
static void no_output(ge_file *e) { ge_drop_tensor(e, "output.weight"); }
static void no_output_norm(ge_file *e) { ge_drop_tensor(e, "output_norm.weight"); }
static void relu2(ge_file *e) { ge_set_str(e, ARCH_KEY("hidden_activation"), "relu2"); }
static void arch_qwen(ge_file *e) { ge_set_str(e, "general.architecture", "qwen2"); }

/* Sub-norms of ones in layers [0, n_layers): with all of them the model
 * runs the bitnet-b1.58 graph; with some, the file is inconsistent. */
static void add_sub_norms(ge_file *e, int n_layers)
{
    const int widths[2] = {512, 1536}; /* q_dim, n_ff of tiny-llama */
    const char *names[2] = {"attn_sub_norm", "ffn_sub_norm"};
    float ones[1536];
    for (int i = 0; i < 1536; i++) ones[i] = 1.0f;
    for (int il = 0; il < n_layers; il++)
        for (int k = 0; k < 2; k++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", il, names[k]);
            const int64_t ne[GGUF_MAX_DIMS] = {widths[k], 1, 1, 1};
            ge_add_tensor(e, name, 1, ne, GGML_TYPE_F32, ones, (size_t)widths[k] * sizeof(float));
        }
}
static void all_sub_norms(ge_file *e) { add_sub_norms(e, 4); }
static void first_sub_norms(ge_file *e) { add_sub_norms(e, 1); }

/* A projection of floats that are not ternary: a plain Llama, not BitNet. */
static void float_projection(ge_file *e)
{
    ge_tensor *t = ge_find_tensor(e, "blk.0.attn_q.weight");
    const size_t n = (size_t)(t->ne[0] * t->ne[1]);
    float *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++) w[i] = (float)(i % 7) * 0.01f;
    t->type = GGML_TYPE_F32;
    ge_set_tensor_data(t, w, n * sizeof *w);
    free(w);
}

typedef struct {
    const char *name;
    llama_edit edit;
    const char *want; /* in the error */
} llama_hostile;

static const llama_hostile HOSTILE[] = {
    {"wrong head_dim", head_dim_128,
     "tensor blk.0.attn_q.weight has shape [512, 512], expected [512, 1024]"},
    {"head_dim and rope differ", key_length_128,
     "rope.dimension_count 64 differs from the head dimension 128"},
    {"Q8_0 projection", q8_projection, "blk.2.ffn_down.weight has type Q8_0"},
    {"key_length not a multiple of 8", key_length_60, "head dimension 60 is not a multiple of 8"},
    {"value_length differs", value_length_32, "value_length 32 differs from the head dimension 64"},
    {"heads not dividing the width", heads_not_dividing,
     "embedding_length 512 is not a multiple of head_count 6"},
    {"huge vocab", huge_vocab, "llama.vocab_size must be an integer from 1 to"},
    {"missing output_norm", no_output_norm, "missing tensor output_norm.weight"},
    {"sub-norms in one layer only", first_sub_norms, "missing tensor blk.1.attn_sub_norm.weight"},
    {"non-ternary projection", float_projection,
     "blk.0.attn_q.weight holds F32 values that are not ternary"},
    {"other architecture", arch_qwen, "unsupported architecture 'qwen2'"},
};

TEST(llama_hostile_variants_fail_clearly)
{
    ge_file base;
    if (open_base(&base)) SKIP("../shared is absent (" LLAMA_I2S ")");
    for (size_t i = 0; i < sizeof HOSTILE / sizeof HOSTILE[0]; i++) {
        char err[BN_ERR_LEN] = "";
        bn_model *m = ge_load_edited(&base, HOSTILE[i].edit, "llama", err);
        CHECK_MSG(m == NULL && strstr(err, HOSTILE[i].want) && !strchr(err, '\n'),
                  "%s: loaded=%d, error '%s'", HOSTILE[i].name, m != NULL, err);
        bn_model_free(m);
    }
    ge_free(&base);
}

/* The graph follows the file: a key_length equal to n_embd / n_head changes
 * nothing; sub-norms, relu2 or a missing output layer (tied to token_embd)
 * each change the logits, and still load. */
TEST(llama_graph_follows_the_file)
{
    ge_file base;
    if (open_base(&base)) SKIP("../shared is absent (" LLAMA_I2S ")");
    char err[BN_ERR_LEN] = "";
    bn_model *plain = ge_load_edited(&base, NULL, "llama", err);
    CHECK_MSG(plain != NULL, "%s", err);
    if (!plain) {
        ge_free(&base);
        return;
    }
    CHECK(plain->arch == BN_ARCH_LLAMA && plain->rope == BN_ROPE_NORM && plain->act == BN_ACT_SILU);
    CHECK(!plain->has_sub_norms && plain->output.data != plain->tok_embd.data);
    const int nv = bn_model_n_vocab(plain);
    float *want = prompt_logits(plain);
    const struct {
        llama_edit edit;
        int same;
    } cases[] = {{key_length_64, 1}, {all_sub_norms, 0}, {relu2, 0}, {no_output, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bn_model *m = ge_load_edited(&base, cases[i].edit, "llama", err);
        CHECK_MSG(m != NULL, "case %zu: %s", i, err);
        if (!m) continue;
        float *got = prompt_logits(m);
        CHECK_MSG((memcmp(got, want, (size_t)nv * sizeof *got) == 0) == cases[i].same,
                  "case %zu: logits %s", i, cases[i].same ? "differ" : "unchanged");
        free(got);
        bn_model_free(m);
    }
    free(want);
    bn_model_free(plain);
    ge_free(&base);
}

TEST(llama_info_names_the_variant)
{
    POSIX_SHELL_OR_SKIP();
    SHARED_OR_SKIP(path, LLAMA_I2S);
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s -m %s --info", test_bitnet_run(), path);
    CHECK(test_run(cmd, &out, NULL) == 0);
    static const char *want[] = {
        "architecture:    llama (FFN silu)\n",
        "graph:           no sub-norms, RoPE norm, separate output layer\n",
        "parameters:      13.11 M\n", "pre-tokenizer llama-bpe: llama3 split",
        "chat format:     llama3\n"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CHECK_MSG(out && strstr(out, want[i]), "--info lacks '%s'", want[i]);
    free(out);
}
