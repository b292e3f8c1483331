/*
 * describe.c - what a loaded model tells about itself: --info's summary
 * (bn_model_describe) and its string metadata (bn_model_meta_str).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "load.h"
#include "names.h"

/* The --info line of the output layer's type, and whether it was
 * requantized at load. */
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
        snprintf(line, len,
                 "output layer:    %s (requantized from %s at load; token_embd stays "
                 "%s)",
                 type, file_type, file_type);
}

/* The --info line of the ternary matrices' scales. */
static void describe_ternary(const bn_model *m, char *line, size_t len)
{
    if (m->vocab_only) { /* the scales are known once the weights are read */
        snprintf(line, len, "ternary weights: %d matrices, %s at load",
                 m->hp.n_layer * (int)BN_N_PROJ,
                 m->act_groups ? "kept with their block scales (Q2_0 as QK256, Q1_0 as bits)"
                               : "repacked to QK256");
        return;
    }
    int per_block = 0, total = 0, binary = 0, quarters = 0;
    for (int il = 0; il < m->hp.n_layer; il++)
        for (size_t i = 0; i < BN_N_PROJ; i++, total++) {
            const qk256_matrix *w = bn_layer_proj(&m->layers[il], i);
            per_block += w->block_scales != NULL;
            binary += w->bits != NULL;
            quarters += w->group_scales && !w->bits;
        }
    if (binary || quarters) {
        snprintf(line, len,
                 "ternary weights: %d matrices, %d as binary rows (Q1_0), %d as QK256 with a "
                 "scale per 64 (Q2_0)",
                 total, binary, quarters);
        return;
    }
    snprintf(line, len,
             "ternary weights: %d matrices as QK256, %d with one scale, %d with a "
             "scale per block",
             total, total - per_block, per_block);
}

/* Weights in the file's tensors, as llama.cpp counts them (a tied output
 * layer once). */
static uint64_t parameter_count(const bn_model *m)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->file->n_tensors; i++) n += m->file->tensors[i].n_elements;
    return n;
}

/* --info: one line at a time to emit. */
void bn_model_describe(const bn_model *m, void (*emit)(const char *line, void *ctx), void *ctx)
{
    char line[256];
    const bn_hparams *hp = &m->hp;
#define EMIT(...) (snprintf(line, sizeof line, __VA_ARGS__), emit(line, ctx))
    EMIT("file size:       %.2f MiB", (double)m->file->size / BN_BYTES_PER_MIB);
    EMIT("architecture:    %s (FFN %s)", bn_arch_name(m),
         m->act == BN_ACT_RELU2 ? "relu2" : "silu");
    EMIT("graph:           %s%s%s, RoPE %s, %s output layer",
         m->has_sub_norms ? "sub-norms" : "no sub-norms", m->has_qk_norm ? ", q/k norms" : "",
         m->has_norm_in ? ", projection input norms" : "",
         m->rope == BN_ROPE_NORM ? "norm" : "neox",
         gguf_find_tensor(m->file, "output.weight") ? "separate" : "tied");
    static const char *const pool_names[] = {"none", "mean", "cls", "last"};
    EMIT("activations:     %s; pooling %s",
         m->act_groups ? "int8 in groups of 32 (Q8_0, as Q2_0/Q1_0 files run)"
                       : "int8 per token (absmax)",
         pool_names[m->pooling]);
    EMIT("parameters:      %.2f M", (double)parameter_count(m) / 1e6);
    EMIT("layers:          %d", hp->n_layer);
    EMIT("embedding:       %d", hp->n_embd);
    EMIT("feed-forward:    %d", hp->n_ff);
    EMIT("heads:           %d (kv %d, head dim %d)", hp->n_head, hp->n_head_kv, hp->head_dim);
    EMIT("context (train): %d", hp->n_ctx_train);
    EMIT("rope base:       %.10g", hp->rope_base);
    EMIT("rms eps:         %g", hp->rms_eps);
    char pre[BN_NAME_LEN];
    if (bn_model_meta_str(m, "tokenizer.ggml.pre", pre, sizeof pre) < 0)
        snprintf(pre, sizeof pre, "absent");
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
    EMIT("kernel:          %s", m->kernels->name);
#undef EMIT
}

/* A string metadata value (bitnet.h). */
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
