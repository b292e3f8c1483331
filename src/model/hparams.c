/*
 * hparams.c - the model's hyperparameters: the architecture and what it
 * implies (activation, RoPE pairs), and the dimensions under the
 * architecture's key prefix, each checked against what the engine can run
 * (docs/FORMAT.md, Metadata). Owns nothing but the reading of those keys.
 */
#include <stdint.h>
#include <stdio.h>

#include "load.h"
#include "runtime/errors.h"

#define MAX_DIM (1 << 20) /* widths above a million are not plausible */
#define MAX_LAYERS 1024
#define DEFAULT_ROPE_BASE 10000.0f
#define DEFAULT_RMS_EPS 1e-5f

/* general.architecture, printable (at most 60 characters). */
const char *bn_arch_name(const bn_model *m)
{
    gguf_str s;
    gguf_get_str(m->file, "general.architecture", &s);
    static char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)(s.len < 60 ? s.len : 60), s.ptr);
    return buf;
}

/* The integer metadata key <arch>.<suffix> into *out, checked to lie in
 * [lo, hi]; def when absent and not required. */
static int read_dim(const bn_model *m, const char *suffix, int required, int def, int lo, int hi,
                    int *out, char *err)
{
    char key[BN_NAME_LEN];
    snprintf(key, sizeof key, "%s.%s", bn_arch_name(m), suffix);
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

/* The positive float metadata key <arch>.<suffix> into *out; def when
 * absent. */
static int read_float(const bn_model *m, const char *suffix, float def, float *out, char *err)
{
    char key[BN_NAME_LEN];
    snprintf(key, sizeof key, "%s.%s", bn_arch_name(m), suffix);
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
    char key[BN_NAME_LEN];
    snprintf(key, sizeof key, "%s.hidden_activation", bn_arch_name(m));
    gguf_str act;
    return gguf_get_str(m->file, key, &act) == 1 && gguf_str_eq(act, "relu2") ? BN_ACT_RELU2
                                                                              : BN_ACT_SILU;
}

/* The architecture, and the FFN activation and RoPE pairs it implies. */
int bn_read_arch(bn_model *m, char *err)
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
    if (gguf_str_eq(s, "qwen3")) {
        /* Bonsai and BitNet embeddings: q/k norms, NEOX RoPE, SiLU */
        m->arch = BN_ARCH_QWEN3;
        m->act = BN_ACT_SILU;
        return 0;
    }
    char name[BN_NAME_LEN];
    return bn_errf(err,
                   "unsupported architecture '%s' (expected bitnet-b1.58, bitnet-25, bitnet, "
                   "llama or qwen3)",
                   gguf_printable(s.ptr, s.len, name, sizeof name));
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
        return bn_errf(err,
                       "embedding_length %d is not a multiple of head_count %d (and the "
                       "file has no attention.key_length)",
                       hp->n_embd, hp->n_head);
    if ((int64_t)key_len * hp->n_head > MAX_DIM)
        return bn_errf(err, "attention.key_length %d times head_count %d is implausibly wide",
                       key_len, hp->n_head);
    hp->head_dim = key_len ? key_len : hp->n_embd / hp->n_head;
    if (value_len && value_len != hp->head_dim)
        return bn_errf(err, "attention.value_length %d differs from the head dimension %d",
                       value_len, hp->head_dim);
    return 0;
}

/* Every hyperparameter of model.h's bn_hparams but n_vocab, checked. */
int bn_read_hparams(bn_model *m, char *err)
{
    bn_hparams *hp = &m->hp;
    if (read_dim(m, "block_count", 1, 0, 1, MAX_LAYERS, &hp->n_layer, err) ||
        read_dim(m, "embedding_length", 1, 0, 1, MAX_DIM, &hp->n_embd, err) ||
        read_dim(m, "feed_forward_length", 1, 0, 1, MAX_DIM, &hp->n_ff, err) ||
        read_dim(m, "attention.head_count", 1, 0, 1, MAX_DIM, &hp->n_head, err) ||
        read_dim(m, "attention.head_count_kv", 0, hp->n_head, 1, hp->n_head, &hp->n_head_kv, err) ||
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
        return bn_errf(err,
                       "rope.dimension_count %d differs from the head dimension %d (partial "
                       "rotary embeddings are not supported)",
                       n_rot, hp->head_dim);
    int pooling = BN_POOL_NONE;
    if (read_dim(m, "pooling_type", 0, BN_POOL_NONE, BN_POOL_NONE, BN_POOL_LAST, &pooling, err)) {
        char why[BN_ERR_LEN];
        snprintf(why, sizeof why, "%s", err);
        return bn_errf(err, "%s (none, mean, cls or last; rank is not supported)", why);
    }
    m->pooling = (bn_pooling)pooling;
    return 0;
}

/* n_vocab from token_embd, which the vocabulary and <arch>.vocab_size
 * must agree with. */
int bn_read_vocab_size(bn_model *m, char *err)
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
        return bn_errf(err, "%s.vocab_size is %d but token_embd.weight has %d rows",
                       bn_arch_name(m), declared, m->hp.n_vocab);
    return 0;
}
