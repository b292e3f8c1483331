/*
 * validate.c - pass 1 of a load: every tensor the model needs exists with
 * the type and shape the hyperparameters imply, before anything is
 * allocated for weights (docs/FORMAT.md, Tensor names and shapes). Also
 * which norms a layer has and arch "bitnet"'s per-projection scales.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "load.h"
#include "names.h"
#include "runtime/errors.h"
#include "ternary.h"

/* Tensor `name` with shape [ne0] (ne1 0) or [ne0, ne1]; NULL with err
 * set when it is missing or shaped otherwise. */
static const gguf_tensor *find_tensor(const bn_model *m, const char *name, int64_t ne0, int64_t ne1,
                                      char *err)
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

/* A norm weight vector: n F32 values (BitNet-embedding's converter
 * writes F16). */
static int check_norm(const bn_model *m, const char *name, int n, char *err)
{
    const gguf_tensor *t = find_tensor(m, name, n, 0, err);
    if (!t) return -1;
    if (t->type != GGML_TYPE_F32 && t->type != GGML_TYPE_F16 && t->type != GGML_TYPE_BF16)
        return bn_errf(err, "tensor %s has type %s, expected F32 (or F16, BF16)", name,
                       gguf_type_name(t->type));
    return 0;
}

/* token_embd or output: shape [n_embd, n_vocab] and a type dense.c reads. */
static const gguf_tensor *check_dense(const bn_model *m, const char *name, char *err)
{
    const gguf_tensor *t = find_tensor(m, name, m->hp.n_embd, m->hp.n_vocab, err);
    if (!t) return NULL;
    if (!bn_dense_supported(t->type)) {
        bn_errf(err,
                "tensor %s has type %s, which is not supported for the embedding or output "
                "layer (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, Q2_0, Q1_0)",
                name, gguf_type_name(t->type));
        return NULL;
    }
    if ((uintptr_t)t->data % sizeof(float)) {
        bn_errf(err, "tensor %s is not aligned to 4 bytes in the file", name);
        return NULL;
    }
    return t;
}

/* Shapes (rows x cols) of the seven ternary projections of a layer. */
static void proj_shape(const bn_hparams *hp, const char *suffix, int *rows, int *cols)
{
    int kv = hp->n_head_kv * hp->head_dim, q = hp->n_head * hp->head_dim;
    if (!strcmp(suffix, "attn_q"))
        *rows = q, *cols = hp->n_embd;
    else if (!strcmp(suffix, "attn_k") || !strcmp(suffix, "attn_v"))
        *rows = kv, *cols = hp->n_embd;
    else if (!strcmp(suffix, "attn_output"))
        *rows = hp->n_embd, *cols = q;
    else if (!strcmp(suffix, "ffn_down"))
        *rows = hp->n_embd, *cols = hp->n_ff;
    else
        *rows = hp->n_ff, *cols = hp->n_embd; /* ffn_gate, ffn_up */
}

/* Mainline's arch "bitnet" may give a projection a scale tensor
 * blk.N.<proj>.scale (F32, one value) that multiplies its output
 * (docs/FORMAT.md, Tensor names and shapes; arch bitnet-b1.58 has none).
 * Returns 1 with *s when the model has one, 0 when not, -1 with err set
 * when it is malformed. */
int bn_proj_scale(const bn_model *m, int il, const char *proj, float *s, char *err)
{
    if (m->arch != BN_ARCH_BITNET) return 0;
    char name[BN_NAME_LEN];
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

/* A layer's norms; returns how many the model has. */
int bn_layer_norms(const bn_model *m, bn_layer *l, bn_norm_slot out[BN_N_NORMS])
{
    const bn_hparams *hp = &m->hp;
    int n = 0;
    out[n++] = (bn_norm_slot){"attn_norm", hp->n_embd, &l->attn_norm};
    out[n++] = (bn_norm_slot){"ffn_norm", hp->n_embd, &l->ffn_norm};
    if (m->has_sub_norms) {
        out[n++] = (bn_norm_slot){"attn_sub_norm", hp->n_head * hp->head_dim, &l->attn_sub_norm};
        out[n++] = (bn_norm_slot){"ffn_sub_norm", hp->n_ff, &l->ffn_sub_norm};
    }
    if (m->has_qk_norm) {
        out[n++] = (bn_norm_slot){"attn_q_norm", hp->head_dim, &l->attn_q_norm};
        out[n++] = (bn_norm_slot){"attn_k_norm", hp->head_dim, &l->attn_k_norm};
    }
    for (int i = 0; m->has_norm_in && i < BN_N_PROJ; i++, n++) {
        int rows;
        proj_shape(hp, bn_proj_names[i], &rows, &out[n].n);
        snprintf(out[n].suffix, sizeof out[n].suffix, "%s_norm_in", bn_proj_names[i]);
        out[n].dst = &l->norm_in[i];
    }
    return n;
}

/* bitnet-b1.58 and bitnet always have the sub-norms; a llama file has them
 * in every layer or in none, as its first layer shows (Falcon3, Falcon-E
 * and Llama3-8B-1.58 have none). */
static void detect_sub_norms(bn_model *m)
{
    m->has_sub_norms = (m->arch != BN_ARCH_LLAMA && m->arch != BN_ARCH_QWEN3) ||
                       gguf_find_tensor(m->file, "blk.0.attn_sub_norm.weight") != NULL;
    /* qwen3 always has its q/k norms; the BitNet-embedding layout adds an
     * input norm to every projection, in every layer as in the first */
    m->has_qk_norm = m->arch == BN_ARCH_QWEN3;
    m->has_norm_in = gguf_find_tensor(m->file, "blk.0.attn_q_norm_in.weight") != NULL;
}

/* One activation scheme per model: the projections are all Q2_0 / Q1_0
 * (Q8 activations), or none is. The first one decides. */
static int check_act_scheme(bn_model *m, int il, size_t i, const gguf_tensor *t, const char *name,
                            char *err)
{
    const int grouped = bn_ternary_is_grouped(t->type);
    if (il == 0 && i == 0) m->act_groups = grouped;
    if (grouped == m->act_groups) return 0;
    return bn_errf(err,
                   "tensor %s is %s but blk.0.attn_q.weight is %s: a model's projections "
                   "must all be Q2_0/Q1_0 or all take per-token activations",
                   name, gguf_type_name(t->type),
                   gguf_type_name(gguf_find_tensor(m->file, "blk.0.attn_q.weight")->type));
}

/* An ordinary Llama file: say why it is refused. */
static int not_bitnet(char *err)
{
    char why[BN_ERR_LEN];
    snprintf(why, sizeof why, "%s", err);
    return bn_errf(err,
                   "%s: this llama file is not a BitNet b1.58 model (bitnet-run needs "
                   "ternary projections)",
                   why);
}

/* Layer il's projections (shapes, encodings, arch bitnet's scales) and
 * norms. */
static int validate_layer(bn_model *m, int il, char *err)
{
    const bn_hparams *hp = &m->hp;
    char name[BN_NAME_LEN];
    for (size_t i = 0; i < BN_N_PROJ; i++) {
        int rows, cols;
        float s;
        proj_shape(hp, bn_proj_names[i], &rows, &cols);
        snprintf(name, sizeof name, "blk.%d.%s.weight", il, bn_proj_names[i]);
        const gguf_tensor *t = find_tensor(m, name, cols, rows, err);
        if (!t || bn_proj_scale(m, il, bn_proj_names[i], &s, err) < 0 ||
            check_act_scheme(m, il, i, t, name, err))
            return -1;
        if (m->arch == BN_ARCH_LLAMA ? bn_ternary_check_strict(t, name, err)
                                     : bn_ternary_check(t, name, err))
            return m->arch == BN_ARCH_LLAMA ? not_bitnet(err) : -1;
    }
    bn_norm_slot norms[BN_N_NORMS];
    bn_layer unused; /* only the names and sizes are wanted here */
    const int n_norms = bn_layer_norms(m, &unused, norms);
    for (int i = 0; i < n_norms; i++) {
        snprintf(name, sizeof name, "blk.%d.%.*s.weight", il, BN_NORM_SUFFIX, norms[i].suffix);
        if (check_norm(m, name, norms[i].n, err)) return -1;
    }
    return 0;
}

/* Pass 1: every tensor exists with the right type and shape; also settles
 * the output layer's type. */
int bn_validate_tensors(bn_model *m, const char *lm_head, uint32_t *out_type, char *err)
{
    detect_sub_norms(m);
    for (int il = 0; il < m->hp.n_layer; il++)
        if (validate_layer(m, il, err)) return -1;
    if (check_norm(m, "output_norm.weight", m->hp.n_embd, err)) return -1;
    const gguf_tensor *emb = check_dense(m, "token_embd.weight", err);
    if (!emb) return -1;
    const gguf_tensor *out = emb;
    if (gguf_find_tensor(m->file, "output.weight") && !(out = check_dense(m, "output.weight", err)))
        return -1;
    return bn_lm_head_type(m, lm_head, out->type, out_type, err);
}
