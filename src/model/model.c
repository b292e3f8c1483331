/*
 * model.c - binds a GGUF file to the model structs of model.h.
 *
 * Reads the hyperparameters under the architecture's key prefix, finds every
 * tensor by name, checks its type and shape, then repacks the ternary
 * projections into QK256 on the thread pool (docs/FORMAT.md, Tensor names
 * and shapes), folds the optional per-projection scales of arch "bitnet"
 * into them (docs/FORWARD.md, Architectures)
 * and requantizes the output layer when asked (--lm-head).
 * Nothing is allocated for weights until every tensor has been validated.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "runtime/clock.h"
#include "runtime/errors.h"
#include "runtime/memory.h"
#include "runtime/platform.h"
#include "model.h"
#include "names.h"
#include "kernels/quants.h"
#include "tokenizer/load.h"
#include "ternary.h"

#define MAX_KEY 128
#define MAX_DIM (1 << 20)      /* widths above a million are not plausible */
#define MAX_LAYERS 1024
#define DEFAULT_ROPE_BASE 10000.0f
#define DEFAULT_RMS_EPS 1e-5f
#define REQUANT_ROW_ALIGN 16
#define REQUANT_RELEASE_ROWS 1024 /* rows requantized between page releases */
#define BYTES_PER_MIB (1024.0 * 1024.0)

bn_model_params bn_model_default_params(void)
{
    return (bn_model_params){.n_threads = 0, .kernel = "auto", .verbose = 0, .n_batch = 0,
                             .lm_head = NULL, .weights = NULL};
}

/* ------------------------------------------------------ hyperparameters */

static const char *arch_name(const bn_model *m)
{
    gguf_str s;
    gguf_get_str(m->file, "general.architecture", &s);
    static char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)(s.len < 60 ? s.len : 60), s.ptr);
    return buf;
}

static int read_dim(const bn_model *m, const char *suffix, int required, int def, int lo, int hi,
                    int *out, char *err)
{
    char key[MAX_KEY];
    snprintf(key, sizeof key, "%s.%s", arch_name(m), suffix);
    uint32_t v;
    int r = gguf_get_u32(m->file, key, &v);
    if (r == 0) {
        if (required) return bn_errf(err, "missing metadata key %s", key);
        *out = def;
        return 0;
    }
    if (r < 0 || v < (uint32_t)lo || v > (uint32_t)hi)
        return bn_errf(err, "metadata key %s must be an integer from %d to %d", key, lo, hi);
    *out = (int)v;
    return 0;
}

static int read_float(const bn_model *m, const char *suffix, float def, float *out, char *err)
{
    char key[MAX_KEY];
    snprintf(key, sizeof key, "%s.%s", arch_name(m), suffix);
    int r = gguf_get_f32(m->file, key, out);
    if (r == 0) *out = def;
    if (r < 0 || !(*out > 0.0f) || *out > 1e30f)
        return bn_errf(err, "metadata key %s must be a positive float", key);
    return 0;
}

/* relu2 only where the file says so (mainline's bitnet.hidden_activation,
 * docs/FORWARD.md, Architectures); every other ternary Llama uses SiLU. */
static bn_ffn_act stated_activation(const bn_model *m)
{
    char key[MAX_KEY];
    snprintf(key, sizeof key, "%s.hidden_activation", arch_name(m));
    gguf_str act;
    return gguf_get_str(m->file, key, &act) == 1 && gguf_str_eq(act, "relu2") ? BN_ACT_RELU2
                                                                             : BN_ACT_SILU;
}

static int read_arch(bn_model *m, char *err)
{
    gguf_str s;
    if (gguf_get_str(m->file, "general.architecture", &s) != 1)
        return bn_errf(err, "missing metadata key general.architecture");
    m->rope = BN_ROPE_NEOX;
    if (gguf_str_eq(s, "bitnet-b1.58") || gguf_str_eq(s, "bitnet-25")) {
        m->arch = BN_ARCH_BITNET_B158;
        m->act = BN_ACT_RELU2;
        return 0;
    }
    if (gguf_str_eq(s, "bitnet")) {
        m->arch = BN_ARCH_BITNET;
        m->act = stated_activation(m);
        return 0;
    }
    if (gguf_str_eq(s, "llama")) {
        /* q and k rows were permuted at conversion for adjacent-pair RoPE */
        m->arch = BN_ARCH_LLAMA;
        m->act = stated_activation(m);
        m->rope = BN_ROPE_NORM;
        return 0;
    }
    char name[MAX_KEY];
    return bn_errf(err, "unsupported architecture '%s' (expected bitnet-b1.58, bitnet-25, bitnet "
                "or llama)", gguf_printable(s.ptr, s.len, name, sizeof name));
}

/* attention.key_length when the file has it (Falcon3: 256 with n_embd
 * 3072 and 12 heads is also n_embd / n_head, but need not be), else
 * n_embd / n_head; attention.value_length, when present, must agree. */
static int read_head_dim(bn_model *m, char *err)
{
    bn_hparams *hp = &m->hp;
    int key_len = 0, value_len = 0; /* 0: absent */
    if (read_dim(m, "attention.key_length", 0, 0, 1, MAX_DIM, &key_len, err) ||
        read_dim(m, "attention.value_length", 0, 0, 1, MAX_DIM, &value_len, err))
        return -1;
    if (!key_len && hp->n_embd % hp->n_head)
        return bn_errf(err, "embedding_length %d is not a multiple of head_count %d (and the "
                    "file has no attention.key_length)", hp->n_embd, hp->n_head);
    if ((int64_t)key_len * hp->n_head > MAX_DIM)
        return bn_errf(err, "attention.key_length %d times head_count %d is implausibly wide",
                    key_len, hp->n_head);
    hp->head_dim = key_len ? key_len : hp->n_embd / hp->n_head;
    if (value_len && value_len != hp->head_dim)
        return bn_errf(err, "attention.value_length %d differs from the head dimension %d",
                    value_len, hp->head_dim);
    return 0;
}

static int read_hparams(bn_model *m, char *err)
{
    bn_hparams *hp = &m->hp;
    if (read_dim(m, "block_count", 1, 0, 1, MAX_LAYERS, &hp->n_layer, err) ||
        read_dim(m, "embedding_length", 1, 0, 1, MAX_DIM, &hp->n_embd, err) ||
        read_dim(m, "feed_forward_length", 1, 0, 1, MAX_DIM, &hp->n_ff, err) ||
        read_dim(m, "attention.head_count", 1, 0, 1, MAX_DIM, &hp->n_head, err) ||
        read_dim(m, "attention.head_count_kv", 0, hp->n_head, 1, hp->n_head, &hp->n_head_kv,
                 err) ||
        read_dim(m, "context_length", 0, 2048, 1, BN_MAX_CTX, &hp->n_ctx_train, err) ||
        read_float(m, "rope.freq_base", DEFAULT_ROPE_BASE, &hp->rope_base, err) ||
        read_float(m, "attention.layer_norm_rms_epsilon", DEFAULT_RMS_EPS, &hp->rms_eps, err))
        return -1;
    if (hp->n_head % hp->n_head_kv)
        return bn_errf(err, "head_count %d is not a multiple of head_count_kv %d", hp->n_head,
                    hp->n_head_kv);
    if (read_head_dim(m, err)) return -1;
    if (hp->head_dim % BN_HEAD_DIM_MULTIPLE)
        return bn_errf(err, "head dimension %d is not a multiple of %d", hp->head_dim,
                    BN_HEAD_DIM_MULTIPLE);
    int n_rot = 0;
    if (read_dim(m, "rope.dimension_count", 0, hp->head_dim, 1, MAX_DIM, &n_rot, err)) return -1;
    if (n_rot != hp->head_dim)
        return bn_errf(err, "rope.dimension_count %d differs from the head dimension %d (partial "
                    "rotary embeddings are not supported)", n_rot, hp->head_dim);
    return 0;
}

/* ---------------------------------------------------------------- tensors */

static const gguf_tensor *find_tensor(const bn_model *m, const char *name, int64_t ne0,
                                      int64_t ne1, char *err)
{
    const gguf_tensor *t = gguf_find_tensor(m->file, name);
    if (!t) {
        bn_errf(err, "missing tensor %s", name);
        return NULL;
    }
    int64_t want_dims = ne1 ? 2 : 1;
    if (t->ne[0] != ne0 || t->ne[1] != (ne1 ? ne1 : 1) || t->ne[2] != 1 || t->ne[3] != 1 ||
        (int64_t)t->n_dims > want_dims) {
        bn_errf(err, "tensor %s has shape [%lld, %lld], expected [%lld, %lld]", name,
             (long long)t->ne[0], (long long)t->ne[1], (long long)ne0,
             (long long)(ne1 ? ne1 : 1));
        return NULL;
    }
    return t;
}

static int check_norm(const bn_model *m, const char *name, int n, char *err)
{
    const gguf_tensor *t = find_tensor(m, name, n, 0, err);
    if (!t) return -1;
    if (t->type != GGML_TYPE_F32)
        return bn_errf(err, "tensor %s has type %s, expected F32", name, gguf_type_name(t->type));
    return 0;
}

/* A copy of a norm weight vector (validated by check_norm). */
static float *load_norm(const bn_model *m, const char *name, int n, char *err)
{
    const gguf_tensor *t = gguf_find_tensor(m->file, name);
    float *w = malloc((size_t)n * sizeof *w);
    if (!w) {
        bn_errf(err, "out of memory");
        return NULL;
    }
    memcpy(w, t->data, (size_t)n * sizeof *w);
    return w;
}

/* token_embd or output: shape [n_embd, n_vocab] and a type dense.c reads. */
static const gguf_tensor *check_dense(const bn_model *m, const char *name, char *err)
{
    const gguf_tensor *t = find_tensor(m, name, m->hp.n_embd, m->hp.n_vocab, err);
    if (!t) return NULL;
    if (!bn_dense_supported(t->type)) {
        bn_errf(err, "tensor %s has type %s, which is not supported for the embedding or output "
             "layer (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)", name, gguf_type_name(t->type));
        return NULL;
    }
    if ((uintptr_t)t->data % sizeof(float)) {
        bn_errf(err, "tensor %s is not aligned to 4 bytes in the file", name);
        return NULL;
    }
    return t;
}

static void bind_dense(const gguf_tensor *t, bn_dense *d)
{
    d->type = t->type;
    d->cols = (int)t->ne[0];
    d->rows = (int)t->ne[1];
    d->row_bytes = bn_quant_row_bytes(t->type, d->cols);
    d->data = t->data;
    d->owned = NULL;
    d->owned_in_arena = 0;
}

/* Shapes (rows x cols) of the seven ternary projections of a layer. */
static void proj_shape(const bn_hparams *hp, const char *suffix, int *rows, int *cols)
{
    int kv = hp->n_head_kv * hp->head_dim, q = hp->n_head * hp->head_dim;
    if (!strcmp(suffix, "attn_q")) *rows = q, *cols = hp->n_embd;
    else if (!strcmp(suffix, "attn_k") || !strcmp(suffix, "attn_v")) *rows = kv, *cols = hp->n_embd;
    else if (!strcmp(suffix, "attn_output")) *rows = hp->n_embd, *cols = q;
    else if (!strcmp(suffix, "ffn_down")) *rows = hp->n_embd, *cols = hp->n_ff;
    else *rows = hp->n_ff, *cols = hp->n_embd; /* ffn_gate, ffn_up */
}


static qk256_matrix *layer_proj(bn_layer *l, size_t i)
{
    qk256_matrix *all[BN_N_PROJ] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->wgate, &l->wup, &l->wdown};
    return all[i];
}

/* Mainline's arch "bitnet" may give a projection a scale tensor
 * blk.N.<proj>.scale (F32, one value) that multiplies its output
 * (docs/FORMAT.md, Tensor names and shapes; arch bitnet-b1.58 has none).
 * Returns 1 with *s when the model has one, 0 when not, -1 with err set
 * when it is malformed. */
static int proj_scale(const bn_model *m, int il, const char *proj, float *s, char *err)
{
    if (m->arch != BN_ARCH_BITNET) return 0;
    char name[MAX_KEY];
    snprintf(name, sizeof name, "blk.%d.%s.scale", il, proj);
    const gguf_tensor *t = gguf_find_tensor(m->file, name);
    if (!t) return 0;
    if (t->type != GGML_TYPE_F32 || t->n_elements != 1)
        return bn_errf(err, "tensor %s must hold one F32 value (it is %s with %llu values)", name,
                    gguf_type_name(t->type), (unsigned long long)t->n_elements);
    memcpy(s, t->data, sizeof *s);
    if (!isfinite(*s)) return bn_errf(err, "tensor %s is not a finite number", name);
    return 1;
}

/* The norm weights of a layer: name suffix, width, destination. */
#define N_NORMS 4
typedef struct {
    const char *suffix;
    int n;
    float **dst;
} norm_slot;

/* A layer's norms; returns how many the model has (the sub-norms last). */
static int layer_norms(const bn_model *m, bn_layer *l, norm_slot out[N_NORMS])
{
    const bn_hparams *hp = &m->hp;
    out[0] = (norm_slot){"attn_norm", hp->n_embd, &l->attn_norm};
    out[1] = (norm_slot){"ffn_norm", hp->n_embd, &l->ffn_norm};
    out[2] = (norm_slot){"attn_sub_norm", hp->n_head * hp->head_dim, &l->attn_sub_norm};
    out[3] = (norm_slot){"ffn_sub_norm", hp->n_ff, &l->ffn_sub_norm};
    return m->has_sub_norms ? N_NORMS : N_NORMS - 2;
}

/* bitnet-b1.58 and bitnet always have the sub-norms; a llama file has them
 * in every layer or in none, as its first layer shows (Falcon3, Falcon-E
 * and Llama3-8B-1.58 have none). */
static void detect_sub_norms(bn_model *m)
{
    m->has_sub_norms = m->arch != BN_ARCH_LLAMA ||
                       gguf_find_tensor(m->file, "blk.0.attn_sub_norm.weight") != NULL;
}

/* An ordinary Llama file: say why it is refused. */
static int not_bitnet(char *err)
{
    char why[BN_ERR_LEN];
    snprintf(why, sizeof why, "%s", err);
    return bn_errf(err, "%s: this llama file is not a BitNet b1.58 model (bitnet-run needs "
                "ternary projections)", why);
}

static int validate_layer(const bn_model *m, int il, char *err)
{
    const bn_hparams *hp = &m->hp;
    char name[MAX_KEY];
    for (size_t i = 0; i < BN_N_PROJ; i++) {
        int rows, cols;
        float s;
        proj_shape(hp, bn_proj_names[i], &rows, &cols);
        snprintf(name, sizeof name, "blk.%d.%s.weight", il, bn_proj_names[i]);
        const gguf_tensor *t = find_tensor(m, name, cols, rows, err);
        if (!t || proj_scale(m, il, bn_proj_names[i], &s, err) < 0) return -1;
        if (m->arch == BN_ARCH_LLAMA ? bn_ternary_check_strict(t, name, err)
                                     : bn_ternary_check(t, name, err))
            return m->arch == BN_ARCH_LLAMA ? not_bitnet(err) : -1;
    }
    norm_slot norms[N_NORMS];
    bn_layer unused; /* only the names and sizes are wanted here */
    const int n_norms = layer_norms(m, &unused, norms);
    for (int i = 0; i < n_norms; i++) {
        snprintf(name, sizeof name, "blk.%d.%s.weight", il, norms[i].suffix);
        if (check_norm(m, name, norms[i].n, err)) return -1;
    }
    return 0;
}

static const struct {
    const char *name;
    uint32_t type;
} lm_head_types[] = {{"f16", GGML_TYPE_F16}, {"q8_0", GGML_TYPE_Q8_0}, {"q6_k", GGML_TYPE_Q6_K}};

/* The type the output layer will have: the file's (lm_head NULL or empty)
 * or the requested one, which must hold rows of n_embd values. */
static int output_type(const bn_model *m, const char *lm_head, uint32_t file_type,
                       uint32_t *type, char *err)
{
    *type = file_type;
    if (!lm_head || !*lm_head) return 0;
    size_t i = 0, n = sizeof lm_head_types / sizeof lm_head_types[0];
    while (i < n && strcasecmp(lm_head, lm_head_types[i].name)) i++;
    if (i == n) return bn_errf(err, "unknown lm-head type '%s' (expected f16, q8_0 or q6_k)", lm_head);
    *type = lm_head_types[i].type;
    if (!bn_quant_row_bytes(*type, m->hp.n_embd))
        return bn_errf(err, "lm-head type %s needs rows that are whole %s blocks, but the output "
                    "layer's rows have %d values", lm_head, gguf_type_name(*type), m->hp.n_embd);
    return 0;
}

/* Pass 1: every tensor exists with the right type and shape; also settles
 * the output layer's type. */
static int validate_tensors(bn_model *m, const char *lm_head, uint32_t *out_type, char *err)
{
    detect_sub_norms(m);
    for (int il = 0; il < m->hp.n_layer; il++)
        if (validate_layer(m, il, err)) return -1;
    if (check_norm(m, "output_norm.weight", m->hp.n_embd, err)) return -1;
    const gguf_tensor *emb = check_dense(m, "token_embd.weight", err);
    if (!emb) return -1;
    const gguf_tensor *out = emb;
    if (gguf_find_tensor(m->file, "output.weight") &&
        !(out = check_dense(m, "output.weight", err)))
        return -1;
    return output_type(m, lm_head, out->type, out_type, err);
}

/* Mapped file bytes [p, p + n) whose contents now live elsewhere
 * (repacked to QK256, or requantized) leave the resident set: the kernel
 * reads them again from the file should they be touched. Only the whole
 * pages inside the range, and only for a file mapping: a caller's buffer
 * (gguf_open_memory) or a copy (--no-mmap) would lose its contents. */
static void release_pages(const bn_model *m, const uint8_t *p, size_t n)
{
    if (m->file->path && !m->file->copied) bn_file_release_pages(p, n);
}

static void release_tensor_pages(const bn_model *m, const gguf_tensor *t)
{
    release_pages(m, t->data, (size_t)t->n_bytes);
}

static int load_layer(bn_model *m, int il, char *err)
{
    bn_layer *l = &m->layers[il];
    char name[MAX_KEY];
    norm_slot norms[N_NORMS];
    const int n_norms = layer_norms(m, l, norms);
    for (int i = 0; i < n_norms; i++) {
        snprintf(name, sizeof name, "blk.%d.%s.weight", il, norms[i].suffix);
        if (!(*norms[i].dst = load_norm(m, name, norms[i].n, err))) return -1;
    }
    for (size_t i = 0; i < BN_N_PROJ; i++) {
        snprintf(name, sizeof name, "blk.%d.%s.weight", il, bn_proj_names[i]);
        qk256_matrix *w = layer_proj(l, i);
        const gguf_tensor *t = gguf_find_tensor(m->file, name);
        if (bn_ternary_load(t, name, m->pool, &m->weights, m->q16, w, err)) return -1;
        release_tensor_pages(m, t);
        float s = 1.0f;
        if (proj_scale(m, il, bn_proj_names[i], &s, err) == 1) qk256_scale_by(w, s);
    }
    return 0;
}

/* ----------------------------------------------------- output requantizing */

typedef struct {
    const bn_model *m;
    const bn_dense *src;
    bn_dense *dst;
    float *scratch; /* one row per thread */
} requant_job;

/* Requantizes the rows of one worker a chunk at a time, releasing each
 * chunk of the source once done, so the whole source is never resident at
 * once next to the copy (a tied token_embd needs only the rows it looks
 * up: they come back from the file one page at a time). */
static void requant_task(void *arg, int ith, int nth)
{
    const requant_job *j = arg;
    int r0, r1;
    bn_split_range(j->src->rows, ith, nth, REQUANT_ROW_ALIGN, &r0, &r1);
    float *row = j->scratch + (size_t)ith * j->src->cols;
    for (int c0 = r0; c0 < r1; c0 += REQUANT_RELEASE_ROWS) {
        const int c1 = c0 + REQUANT_RELEASE_ROWS < r1 ? c0 + REQUANT_RELEASE_ROWS : r1;
        for (int r = c0; r < c1; r++) {
            bn_dense_row(j->src, r, row);
            bn_quantize_row(j->dst->type, row, j->dst->owned + (size_t)r * j->dst->row_bytes,
                            j->dst->cols);
        }
        release_pages(j->m, j->src->data + (size_t)c0 * j->src->row_bytes,
                      (size_t)(c1 - c0) * j->src->row_bytes);
    }
}

/* Replaces m->output by a copy in `type` (--lm-head); a tied token_embd
 * keeps the file's tensor for the embedding lookup. */
static int requantize_output(bn_model *m, uint32_t type, char *err)
{
    const bn_dense src = m->output;
    if (type == src.type) return 0;
    bn_dense q = {.type = type, .rows = src.rows, .cols = src.cols};
    q.row_bytes = bn_quant_row_bytes(type, src.cols);
    const size_t bytes = (size_t)q.rows * q.row_bytes;
    q.owned = bn_arena_alloc(&m->weights, bytes, QK256_BLOCK_BYTES);
    q.owned_in_arena = q.owned != NULL;
    if (!q.owned) q.owned = malloc(bytes);
    float *scratch = malloc((size_t)bn_pool_size(m->pool) * src.cols * sizeof *scratch);
    if (!q.owned || !scratch) {
        if (!q.owned_in_arena) free(q.owned);
        free(scratch);
        return bn_errf(err, "out of memory for the requantized output layer");
    }
    requant_job j = {m, &src, &q, scratch};
    bn_pool_run(m->pool, requant_task, &j);
    free(scratch);
    q.data = q.owned;
    m->output = q;
    return 0;
}

/* The bytes of every layer's repacked projections (pass 1 checked them). */
static size_t ternary_bytes(const bn_model *m)
{
    char name[MAX_KEY];
    size_t total = 0;
    for (int il = 0; il < m->hp.n_layer; il++)
        for (size_t i = 0; i < BN_N_PROJ; i++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", il, bn_proj_names[i]);
            const gguf_tensor *t = gguf_find_tensor(m->file, name);
            total += qk256_codes_bytes((int)t->ne[1], (int)t->ne[0]);
        }
    return total;
}

/* The bytes of the output layer requantized to `type` (--lm-head), 0 when
 * it keeps the file's type. It goes after the codes, whose bytes are whole
 * blocks, so it starts block-aligned with no padding. */
static size_t requantized_bytes(const bn_model *m, uint32_t type)
{
    const gguf_tensor *t = gguf_find_tensor(m->file, "output.weight");
    if (!t) t = gguf_find_tensor(m->file, "token_embd.weight");
    if (!t || t->type == type) return 0;
    return (size_t)t->ne[1] * bn_quant_row_bytes(type, (int)t->ne[0]);
}

/* Pass 2: allocate and repack. */
static int load_weights(bn_model *m, uint32_t out_type, char *err)
{
    const bn_hparams *hp = &m->hp;
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return bn_errf(err, "out of memory");
    /* without the mapping each matrix goes on the heap: slower, not wrong */
    (void)bn_arena_init(&m->weights, ternary_bytes(m) + requantized_bytes(m, out_type));
    for (int il = 0; il < hp->n_layer; il++)
        if (load_layer(m, il, err)) return -1;
    if (!(m->output_norm = load_norm(m, "output_norm.weight", hp->n_embd, err))) return -1;
    bind_dense(gguf_find_tensor(m->file, "token_embd.weight"), &m->tok_embd);
    const gguf_tensor *out = gguf_find_tensor(m->file, "output.weight");
    if (out)
        bind_dense(out, &m->output);
    else
        m->output = m->tok_embd; /* tied (docs/FORMAT.md, Tensor names and shapes) */
    return requantize_output(m, out_type, err);
}

static int read_vocab_size(bn_model *m, char *err)
{
    const gguf_tensor *emb = gguf_find_tensor(m->file, "token_embd.weight");
    if (!emb) return bn_errf(err, "missing tensor token_embd.weight");
    if (emb->n_dims != 2)
        return bn_errf(err, "token_embd.weight must have 2 dimensions (it has %u)", emb->n_dims);
    if (emb->ne[1] > BN_MAX_CTX) return bn_errf(err, "token_embd.weight has too many rows");
    m->hp.n_vocab = (int)emb->ne[1];
    int n_tok = bn_tokenizer_n_vocab(m->tok);
    if (n_tok != m->hp.n_vocab)
        return bn_errf(err, "vocabulary has %d tokens but token_embd.weight has %d rows", n_tok,
                    m->hp.n_vocab);
    int declared = 0;
    if (read_dim(m, "vocab_size", 0, m->hp.n_vocab, 1, BN_MAX_CTX, &declared, err)) return -1;
    if (declared != m->hp.n_vocab)
        return bn_errf(err, "%s.vocab_size is %d but token_embd.weight has %d rows", arch_name(m),
                    declared, m->hp.n_vocab);
    return 0;
}

/* Locks [p, p + n) in RAM (--mlock); 0, or -1 with err saying why. */
static int lock_range(const void *p, size_t n, size_t total, char *err)
{
    char why[BN_ERR_LEN];
    if (!bn_lock_pages(p, n, why, sizeof why)) return 0;
    return bn_errf(err, "cannot lock %.1f MiB of weights in RAM (--mlock): %s",
                   (double)total / BYTES_PER_MIB, why);
}

/* --mlock: the weights a pass reads stay in RAM. The repacked codes (and a
 * requantized output layer) live in the arena, matrices that did not fit
 * it on the heap; the embedding and an output layer kept in the file's
 * type are read from the file's pages. (The norms are a few KiB.) */
static int lock_weights(const bn_model *m, char *err)
{
    const size_t file_bytes = m->tok_embd.row_bytes * (size_t)m->tok_embd.rows +
                              (m->output.data != m->tok_embd.data && !m->output.owned
                                   ? m->output.row_bytes * (size_t)m->output.rows
                                   : 0);
    const size_t total = m->weights.used + file_bytes;
    if (lock_range(m->weights.base, m->weights.used, total, err)) return -1;
    for (int il = 0; il < m->hp.n_layer; il++)
        for (size_t i = 0; i < BN_N_PROJ; i++) {
            const qk256_matrix *w = layer_proj(&m->layers[il], i);
            if (!w->codes_in_arena && lock_range(w->codes, qk256_codes_bytes(w->rows, w->cols), total, err))
                return -1;
        }
    if (lock_range(m->tok_embd.data, m->tok_embd.row_bytes * (size_t)m->tok_embd.rows, total, err))
        return -1;
    if (m->output.data == m->tok_embd.data) return 0;
    return lock_range(m->output.data, m->output.row_bytes * (size_t)m->output.rows, total, err);
}

/* bn_model_params.weights: the 2-bit layout (NULL, "", "q2") or "q16". */
static int weights_layout(bn_model *m, const char *weights, char *err)
{
    m->q16 = weights && !strcasecmp(weights, "q16");
    if (weights && *weights && !m->q16 && strcasecmp(weights, "q2"))
        return bn_errf(err, "unknown weights layout '%s' (expected q2 or q16)", weights);
    return 0;
}

/* The vocabulary, hyperparameters and tensor table, all checked. */
static int load_metadata(bn_model *m, const char *path, const bn_model_params *p, char *err)
{
    if (weights_layout(m, p->weights, err)) return -1;
    m->file = p->no_mmap ? gguf_open_read(path, err, BN_ERR_LEN) : gguf_open(path, err, BN_ERR_LEN);
    if (!m->file) return -1;
    if (read_arch(m, err) || read_hparams(m, err)) return -1;
    if (!(m->tok = bn_tokenizer_from_gguf(m->file, err, BN_ERR_LEN))) return -1;
    if (read_vocab_size(m, err) || validate_tensors(m, p->lm_head, &m->out_type, err)) return -1;
    if (!(m->kernels = bn_kernels_select(p->kernel, err, BN_ERR_LEN))) return -1;
    m->n_threads = p->n_threads > 0 ? p->n_threads : bn_available_cores();
    return 0;
}

static int load_all(bn_model *m, const char *path, const bn_model_params *p, char *err)
{
    if (load_metadata(m, path, p, err)) return -1;
    m->vocab_only = p->vocab_only;
    if (m->vocab_only) return 0;
    if (!(m->pool = bn_pool_new(m->n_threads)))
        return bn_errf(err, "cannot start %d threads", m->n_threads);
    int rc = load_weights(m, m->out_type, err);
    bn_pool_free(m->pool); /* contexts bring their own threads */
    m->pool = NULL;
    if (!rc && p->use_mlock) rc = lock_weights(m, err);
    return rc;
}

static void report_load(const bn_model *m, const char *path, double seconds)
{
    fprintf(stderr, "bitnet-run: loaded %s in %.0f ms (%d layers, kernel %s, %d thread%s)\n", path,
            seconds * 1e3, m->hp.n_layer, m->kernels->name, m->n_threads,
            m->n_threads == 1 ? "" : "s");
    double rss = bn_resident_mib(), hwm = bn_peak_resident_mib();
    if (rss >= 0.0 && hwm >= 0.0)
        fprintf(stderr, "bitnet-run: memory after load: resident %.1f MiB, peak %.1f MiB\n", rss,
                hwm);
}

bn_model *bn_model_open(const char *path, const bn_model_params *params, char *err)
{
    bn_model_params defaults = bn_model_default_params();
    const bn_model_params *p = params ? params : &defaults;
    bn_model *m = calloc(1, sizeof *m);
    if (!m) {
        bn_errf(err, "out of memory");
        return NULL;
    }
    m->verbose = p->verbose;
    m->n_batch = p->n_batch > 0 ? p->n_batch : BN_DEFAULT_BATCH;
    double t0 = bn_seconds();
    if (load_all(m, path, p, err)) {
        bn_model_close(m);
        return NULL;
    }
    if (m->verbose) report_load(m, path, bn_seconds() - t0);
    return m;
}

void bn_model_close(bn_model *m)
{
    if (!m) return;
    if (m->layers) {
        for (int il = 0; il < m->hp.n_layer; il++) {
            bn_layer *l = &m->layers[il];
            free(l->attn_norm);
            free(l->attn_sub_norm);
            free(l->ffn_norm);
            free(l->ffn_sub_norm);
            for (size_t i = 0; i < BN_N_PROJ; i++) qk256_free(layer_proj(l, i));
        }
        free(m->layers);
    }
    bn_arena_free(&m->weights);
    free(m->output_norm);
    if (!m->output.owned_in_arena) free(m->output.owned);
    bn_tokenizer_free(m->tok);
    bn_pool_free(m->pool);
    gguf_close(m->file);
    free(m);
}

const bn_tokenizer *bn_model_tokenizer(const bn_model *m) { return m->tok; }
int bn_model_n_vocab(const bn_model *m) { return m->hp.n_vocab; }
int bn_model_n_ctx_train(const bn_model *m) { return m->hp.n_ctx_train; }
int bn_model_n_threads(const bn_model *m) { return m->n_threads; }
const char *bn_model_kernel_name(const bn_model *m) { return m->kernels->name; }

static void describe_output(const bn_model *m, char *line, size_t len)
{
    const gguf_tensor *out = gguf_find_tensor(m->file, "output.weight");
    const gguf_tensor *emb = gguf_find_tensor(m->file, "token_embd.weight");
    const char *type = gguf_type_name(m->out_type);
    const char *file_type = gguf_type_name(out ? out->type : emb->type);
    if (m->out_type == (out ? out->type : emb->type))
        snprintf(line, len, "output layer:    %s%s", type, out ? "" : " (tied to token_embd)");
    else if (out)
        snprintf(line, len, "output layer:    %s (requantized from %s at load)", type, file_type);
    else
        snprintf(line, len, "output layer:    %s (requantized from %s at load; token_embd stays "
                 "%s)", type, file_type, file_type);
}

static void describe_ternary(const bn_model *m, char *line, size_t len)
{
    if (m->vocab_only) { /* the scales are known once the weights are read */
        snprintf(line, len, "ternary weights: %d matrices, repacked to QK256 at load",
                 m->hp.n_layer * (int)BN_N_PROJ);
        return;
    }
    int per_block = 0, total = 0;
    for (int il = 0; il < m->hp.n_layer; il++)
        for (size_t i = 0; i < BN_N_PROJ; i++, total++)
            per_block += layer_proj(&m->layers[il], i)->block_scales != NULL;
    snprintf(line, len, "ternary weights: %d matrices as QK256, %d with one scale, %d with a "
             "scale per block", total, total - per_block, per_block);
}

/* Weights in the file's tensors, as llama.cpp counts them (a tied output
 * layer once). */
static uint64_t parameter_count(const bn_model *m)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->file->n_tensors; i++) n += m->file->tensors[i].n_elements;
    return n;
}

void bn_model_describe(const bn_model *m, void (*emit)(const char *line, void *ctx), void *ctx)
{
    char line[256];
    const bn_hparams *hp = &m->hp;
#define EMIT(...) (snprintf(line, sizeof line, __VA_ARGS__), emit(line, ctx))
    EMIT("file size:       %.2f MiB", (double)m->file->size / BYTES_PER_MIB);
    EMIT("architecture:    %s (FFN %s)", arch_name(m), m->act == BN_ACT_RELU2 ? "relu2" : "silu");
    EMIT("graph:           %s, RoPE %s, %s output layer",
         m->has_sub_norms ? "sub-norms" : "no sub-norms", m->rope == BN_ROPE_NORM ? "norm" : "neox",
         gguf_find_tensor(m->file, "output.weight") ? "separate" : "tied");
    EMIT("parameters:      %.2f M", (double)parameter_count(m) / 1e6);
    EMIT("layers:          %d", hp->n_layer);
    EMIT("embedding:       %d", hp->n_embd);
    EMIT("feed-forward:    %d", hp->n_ff);
    EMIT("heads:           %d (kv %d, head dim %d)", hp->n_head, hp->n_head_kv, hp->head_dim);
    EMIT("context (train): %d", hp->n_ctx_train);
    EMIT("rope base:       %.10g", hp->rope_base);
    EMIT("rms eps:         %g", hp->rms_eps);
    char pre[MAX_KEY];
    if (bn_model_meta_str(m, "tokenizer.ggml.pre", pre, sizeof pre) < 0) snprintf(pre, sizeof pre, "absent");
    EMIT("vocabulary:      %d tokens (%s, pre-tokenizer %s: %s split)", hp->n_vocab,
         bn_tokenizer_model_name(m->tok), pre, bn_tokenizer_pre_name(m->tok));
    describe_output(m, line, sizeof line);
    emit(line, ctx);
    describe_ternary(m, line, sizeof line);
    emit(line, ctx);
    unsigned counts[64] = {0};
    for (uint64_t i = 0; i < m->file->n_tensors; i++)
        if (m->file->tensors[i].type < 64) counts[m->file->tensors[i].type]++;
    for (unsigned t = 0; t < 64; t++)
        if (counts[t]) EMIT("tensors %-8s %u", gguf_type_name(t), counts[t]);
    EMIT("kernel:          %s, %d thread%s", m->kernels->name, m->n_threads,
         m->n_threads == 1 ? "" : "s");
#undef EMIT
}

int bn_model_meta_str(const bn_model *m, const char *key, char *buf, size_t cap)
{
    gguf_str s;
    if (gguf_get_str(m->file, key, &s) != 1) return -1;
    if (cap) {
        size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
        memcpy(buf, s.ptr, n);
        buf[n] = 0;
    }
    return s.len > INT32_MAX ? -1 : (int)s.len;
}
