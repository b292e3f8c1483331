/*
 * test_embed.c - text embeddings (bn_embed): the BitNet-embedding layout
 * of tiny-bitnet-embed-i2s.gguf (per-projection input norms, last-token
 * pooling, EOS appended) against the shared reference embeddings, pooling
 * and normalization as llama-embedding defines them, and texts evaluated
 * together equal to texts alone (the command line and the server:
 * test_embed_cli.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "json_mini.h"
#include "test.h"

#define EMBED_MODEL "models/tiny-bitnet-embed-i2s.gguf"
#define EMBED_REF "reference/tiny-bitnet-embed.jsonl"
#define EMBED_MIN_COSINE 0.999 /* models/README.md, tiny-bitnet-embed */
#define EMBED_RECORDS 20
#define MAX_EMBD 4096

static double cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++)
        ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb);
}

/* The floats of the JSON array at p into out (at most max); the count. */
static int float_array(const char *p, const char *end, float *out, int max)
{
    int n = 0;
    if (!p || *p != '[') return -1;
    p++;
    while (p < end && *p != ']' && n < max) {
        char *next;
        out[n++] = strtof(p, &next);
        if (next == p) return -1;
        p = next;
        while (p < end && (*p == ',' || *p == ' ')) p++;
    }
    return n;
}

static bn_model *load_embed_model(const char *path)
{
    char err[BN_ERR_LEN];
    bn_model_params p = bn_model_default_params();
    bn_model *m = bn_model_load(path, &p, err);
    CHECK_MSG(m != NULL, "%s: %s", path, err);
    return m;
}

typedef struct {
    int n;
    char *prompt[EMBED_RECORDS];
    int32_t *ids[EMBED_RECORDS];
    int n_ids[EMBED_RECORDS];
    float *want[EMBED_RECORDS];
} ref_set;

static int read_refs(const char *path, ref_set *r, int n_embd)
{
    char *data = test_read_file(path, NULL);
    if (!data) return -1;
    memset(r, 0, sizeof *r);
    for (char *line = data, *end; *line && r->n < EMBED_RECORDS; line = end + 1) {
        end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        r->want[r->n] = malloc((size_t)n_embd * sizeof(float));
        long n_ids = json_int_array(json_find(line, end, "prompt_ids"), end, &r->ids[r->n]);
        long len = json_string(json_find(line, end, "prompt"), end, &r->prompt[r->n]);
        int n = float_array(json_find(line, end, "embedding"), end, r->want[r->n], n_embd);
        if (n_ids <= 0 || len < 0 || n != n_embd) break;
        r->n_ids[r->n++] = (int)n_ids;
        if (!*end) break;
    }
    free(data);
    return 0;
}

static void free_refs(ref_set *r)
{
    for (int i = 0; i < EMBED_RECORDS; i++) free(r->prompt[i]), free(r->ids[i]), free(r->want[i]);
}

TEST(embed_reference_ids_and_embeddings)
{
    SHARED_OR_SKIP(path, EMBED_MODEL);
    SHARED_OR_SKIP(ref_path, EMBED_REF);
    bn_model *m = load_embed_model(path);
    if (!m) return;
    const int n_embd = bn_model_n_embd(m);
    CHECK_EQ_INT(bn_model_pooling(m), BN_POOL_LAST);
    CHECK(bn_model_embedding_only(m));
    ref_set r = {0};
    CHECK(read_refs(ref_path, &r, n_embd) == 0);
    CHECK_EQ_INT(r.n, EMBED_RECORDS);
    int ids_ok = 1;
    char err[BN_ERR_LEN];
    for (int i = 0; i < r.n; i++) { /* the tokenizer, BOS and EOS as the file says */
        int32_t *ids = NULL;
        int n = bn_tokenize(bn_model_tokenizer(m), r.prompt[i], strlen(r.prompt[i]),
                            BN_TOK_ADD_BOS | BN_TOK_ADD_EOS, &ids, err);
        ids_ok &= n == r.n_ids[i] && !memcmp(ids, r.ids[i], (size_t)n * sizeof *ids);
        free(ids);
    }
    CHECK_MSG(ids_ok, "prompt_ids differ from the reference");
    bn_context *ctx = bn_context_new(m, NULL, err);
    float *all = calloc((size_t)EMBED_RECORDS * MAX_EMBD, sizeof *all);
    CHECK_EQ_INT(bn_embed(ctx, (const int32_t *const *)r.ids, r.n_ids, r.n, BN_POOL_UNSPECIFIED,
                          BN_EMBD_NORM_EUCLIDEAN, all, err),
                 0);
    double worst = 1.0;
    for (int i = 0; i < r.n; i++) {
        const double c = cosine(all + (size_t)i * n_embd, r.want[i], n_embd);
        worst = c < worst ? c : worst;
    }
    CHECK_MSG(worst >= EMBED_MIN_COSINE, "worst embedding cosine %.6f", worst);
    /* one text alone gives what it gave among the others, bit for bit */
    float one[MAX_EMBD];
    CHECK_EQ_INT(bn_embed(ctx, (const int32_t *const *)&r.ids[3], &r.n_ids[3], 1,
                          BN_POOL_UNSPECIFIED, BN_EMBD_NORM_EUCLIDEAN, one, err),
                 0);
    CHECK(same_floats(one, all + (size_t)3 * n_embd, n_embd));
    free(all);
    free_refs(&r);
    bn_context_free(ctx);
    bn_model_free(m);
}

/* Pooling from the hidden states of bn_context_set_embeddings: mean and
 * cls and none agree with the per-token outputs. */
TEST(embed_pooling_matches_the_token_states)
{
    SHARED_OR_SKIP(path, EMBED_MODEL);
    bn_model *m = load_embed_model(path);
    if (!m) return;
    const int ne = bn_model_n_embd(m);
    char err[BN_ERR_LEN];
    bn_context *ctx = bn_context_new(m, NULL, err);
    const int32_t ids[] = {1016, 17, 10, 17, 28, 1017};
    const int n = 6;
    const int32_t *texts[] = {ids};
    float *none = malloc((size_t)n * ne * sizeof *none), mean[MAX_EMBD], cls[MAX_EMBD],
          last[MAX_EMBD];
    CHECK_EQ_INT(bn_embed(ctx, texts, &n, 1, BN_POOL_NONE, BN_EMBD_NORM_NONE, none, err), 0);
    CHECK_EQ_INT(bn_embed(ctx, texts, &n, 1, BN_POOL_MEAN, BN_EMBD_NORM_NONE, mean, err), 0);
    CHECK_EQ_INT(bn_embed(ctx, texts, &n, 1, BN_POOL_CLS, BN_EMBD_NORM_NONE, cls, err), 0);
    CHECK_EQ_INT(bn_embed(ctx, texts, &n, 1, BN_POOL_LAST, BN_EMBD_NORM_NONE, last, err), 0);
    CHECK(same_floats(cls, none, ne));
    CHECK(same_floats(last, none + (size_t)(n - 1) * ne, ne));
    double worst = 0.0;
    for (int d = 0; d < ne; d++) {
        double s = 0;
        for (int t = 0; t < n; t++) s += none[(size_t)t * ne + d];
        worst = fmax(worst, fabs(s / n - mean[d]));
    }
    CHECK(worst < 1e-5);
    free(none);
    bn_context_free(ctx);
    bn_model_free(m);
}

TEST(embed_normalize_as_llama_embedding)
{
    const float v[4] = {3, -4, 0, 0};
    float out[4];
    bn_embd_normalize(v, out, 4, BN_EMBD_NORM_EUCLIDEAN);
    CHECK(fabsf(out[0] - 0.6f) < 1e-6f && fabsf(out[1] + 0.8f) < 1e-6f);
    bn_embd_normalize(v, out, 4, BN_EMBD_NORM_TAXICAB);
    CHECK(fabsf(out[0] - 3.0f / 7) < 1e-6f);
    bn_embd_normalize(v, out, 4, BN_EMBD_NORM_MAX_ABS);
    CHECK(fabsf(out[1] + 32760.0f) < 1e-2f);
    bn_embd_normalize(v, out, 4, BN_EMBD_NORM_NONE);
    CHECK(out[0] == 3.0f && out[1] == -4.0f);
    bn_embd_normalize(v, out, 4, 3); /* p-norm */
    CHECK(fabsf(out[0] - 3.0f / cbrtf(91.0f)) < 1e-5f);
    const float zero[2] = {0, 0};
    bn_embd_normalize(zero, out, 2, BN_EMBD_NORM_EUCLIDEAN);
    CHECK(out[0] == 0.0f && out[1] == 0.0f);
}

TEST(embed_rejects_empty_and_overlong_texts)
{
    SHARED_OR_SKIP(path, EMBED_MODEL);
    bn_model *m = load_embed_model(path);
    if (!m) return;
    char err[BN_ERR_LEN] = "";
    bn_context *ctx = bn_context_new(m, NULL, err);
    const int32_t ids[] = {1016};
    const int32_t *texts[] = {ids};
    float out[MAX_EMBD];
    int zero = 0;
    CHECK_EQ_INT(bn_embed(ctx, texts, &zero, 1, BN_POOL_LAST, 2, out, err), -1);
    CHECK(strstr(err, "no tokens") != NULL);
    int huge = bn_model_n_ctx_train(m) + 1;
    CHECK_EQ_INT(bn_embed(ctx, texts, &huge, 1, BN_POOL_LAST, 2, out, err), -1);
    CHECK(strstr(err, "context") != NULL);
    CHECK_EQ_INT(bn_embed(ctx, texts, (int[]){1}, 1, (bn_pooling)9, 2, out, err), -1);
    bn_context_free(ctx);
    bn_model_free(m);
}
