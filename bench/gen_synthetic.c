/*
 * gen_synthetic.c - writes a synthetic model with the exact metadata keys,
 * tensor names, shapes and types of a released ternary model, filled with
 * random ternary weights from a seed, for benchmarks on a machine that
 * does not have the real file. Shapes:
 *
 *   2b-4t         microsoft/bitnet-b1.58-2B-4T's ggml-model-i2_s.gguf
 *                 (docs/FORMAT.md, The official 2B-4T file), the default;
 *   falcon3-1b, falcon3-3b, falcon3-7b, falcon3-10b, llama3-8b
 *                 arch llama as bitnet.cpp's converter writes Falcon3-1.58bit
 *                 and Llama3-8B-1.58 (no sub-norms, F16 output layer);
 *   bonsai-8b     arch qwen3 as PrismML's Bonsai-8B (q1_0) and
 *                 Ternary-Bonsai-8B (q2_0): q/k norms, and the embedding and
 *                 LM head in the projections' type ("end-to-end 1-bit");
 *   bitnet-embed-0.6b
 *                 arch qwen3 as bitnet.cpp's embedding converter writes
 *                 BitNet-embedding-0.6B: a norm_in per projection (F16
 *                 norms), last-token pooling, EOS appended, no output layer;
 *   bitnet-embed-0.6b-base
 *                 the same without the norm_in tensors and with F32 norms:
 *                 the file mainline llama.cpp runs (in tq2_0; its CPU
 *                 backend multiplies by no F16 norm) for a same-shape
 *                 comparison.
 *
 *   build/bench/gen_synthetic OUT.gguf [SHAPE] [i2_s|tq2_0|q1_0|q2_0] [SEED]
 *
 * 1.2 GB (2b-4t) to 4.0 GB (falcon3-10b); never commit the output. Each
 * weight tensor gets a scale of 1/sqrt(2/3 * fan_in), the standard
 * deviation that keeps a random ternary product (two thirds of the weights
 * non-zero) at unit scale, so activations stay in a sane range through
 * all the layers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/gguf_build.h"
#include "gguf/gguf.h"
#include "kernels/f16.h"

#define LLAMA3_VOCAB 128256
#define LLAMA3_FIRST_SPECIAL 128000
#define FALCON3_VOCAB 131072
#define FALCON3_SPECIALS 2024 /* ids 0..2023 are added tokens */
#define FALCON3_EOS 11
#define TOKEN_TYPE_NORMAL 1
#define TOKEN_TYPE_CONTROL 3
#define FTYPE_I2_S 40
#define FTYPE_TQ2_0 37
#define FTYPE_Q1_0 40 /* mainline's numbering (I2_S's 40 in bitnet.cpp's) */
#define FTYPE_Q2_0 41
#define QWEN_VOCAB 151936
#define QWEN_ENDOFTEXT 151643 /* then <|im_start|>, <|im_end|> */
#define QWEN_SPECIALS 3
#define POOLING_LAST 3
#define GROUPED_BYTES 18 /* Q1_0 and Q2_0 blocks: fp16 d, 16 bytes */
#define ALIGN GGUF_DEFAULT_ALIGNMENT
#define TQ2_BLOCK 256
#define TQ2_BLOCK_BYTES 66
#define MAX_LAYER 64
#define TENSORS_PER_LAYER 18

typedef enum { VOCAB_LLAMA3, VOCAB_FALCON3, VOCAB_QWEN } vocab_kind;
/* GRAPH_QWEN3_POOLED: the embedding model's keys and shape without its
 * norm_in tensors, the file mainline llama.cpp can run for comparison. */
typedef enum {
    GRAPH_LLAMA,
    GRAPH_BITNET,
    GRAPH_QWEN3,
    GRAPH_QWEN3_EMBED,
    GRAPH_QWEN3_POOLED
} graph_kind;

/* A released model's shape and the keys its file carries. */
typedef struct {
    const char *name, *general_name;
    const char *arch; /* general.architecture, also the key prefix */
    int n_layer, n_embd, n_ff, n_head, n_head_kv, head_dim, n_ctx;
    float rope_base, rms_eps;
    graph_kind graph; /* bitnet: sub-norms and a tied output (2B-4T) */
    vocab_kind vocab;
    const char *pre; /* tokenizer.ggml.pre, NULL: absent */
    const char *chat_template;
} model_shape;

#define LLAMA3_TEMPLATE "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
#define CHATML_TEMPLATE                                                                            \
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' }}"
#define FALCON3_TEMPLATE "{{ '<|user|>\\n' + message['content'] + '\\n<|assistant|>\\n' }}"

static const model_shape SHAPES[] = {
    {"2b-4t", "bitnet2b-synthetic", "bitnet-b1.58", 30, 2560, 6912, 20, 5, 128, 4096, 500000.0f,
     1e-5f, GRAPH_BITNET, VOCAB_LLAMA3, NULL,
     "{% for message in messages %}BITNETAssistant: placeholder{% endfor %}"},
    {"falcon3-1b", "falcon3-1b-synthetic", "llama", 18, 2048, 8192, 8, 4, 256, 8192, 1000042.0f,
     1e-6f, GRAPH_LLAMA, VOCAB_FALCON3, "falcon3", FALCON3_TEMPLATE},
    {"falcon3-3b", "falcon3-3b-synthetic", "llama", 22, 3072, 9216, 12, 4, 256, 4096, 1000042.0f,
     1e-6f, GRAPH_LLAMA, VOCAB_FALCON3, "falcon3", FALCON3_TEMPLATE},
    {"falcon3-7b", "falcon3-7b-synthetic", "llama", 28, 3072, 23040, 12, 4, 256, 8192, 1000042.0f,
     1e-6f, GRAPH_LLAMA, VOCAB_FALCON3, "falcon3", FALCON3_TEMPLATE},
    {"falcon3-10b", "falcon3-10b-synthetic", "llama", 40, 3072, 23040, 12, 4, 256, 32768,
     1000042.0f, 1e-6f, GRAPH_LLAMA, VOCAB_FALCON3, "falcon3", FALCON3_TEMPLATE},
    {"llama3-8b", "llama3-8b-synthetic", "llama", 32, 4096, 14336, 32, 8, 128, 8192, 500000.0f,
     1e-5f, GRAPH_LLAMA, VOCAB_LLAMA3, "llama-bpe", LLAMA3_TEMPLATE},
    {"bonsai-8b", "bonsai-8b-synthetic", "qwen3", 36, 4096, 12288, 32, 8, 128, 65536, 1000000.0f,
     1e-6f, GRAPH_QWEN3, VOCAB_QWEN, "qwen2", CHATML_TEMPLATE},
    {"bitnet-embed-0.6b", "bitnet-embed-0.6b-synthetic", "qwen3", 28, 1024, 3072, 16, 8, 128, 32768,
     1000000.0f, 1e-6f, GRAPH_QWEN3_EMBED, VOCAB_QWEN, "qwen2", CHATML_TEMPLATE},
    {"bitnet-embed-0.6b-base", "bitnet-embed-0.6b-base-synthetic", "qwen3", 28, 1024, 3072, 16, 8,
     128, 32768, 1000000.0f, 1e-6f, GRAPH_QWEN3_POOLED, VOCAB_QWEN, "qwen2", CHATML_TEMPLATE},
};

static const model_shape *shape;

/* An embedding model's file: pooling keys, no output layer. */
static int pooled(void)
{
    return shape->graph == GRAPH_QWEN3_EMBED || shape->graph == GRAPH_QWEN3_POOLED;
}

static int n_vocab(void)
{
    return shape->vocab == VOCAB_FALCON3 ? FALCON3_VOCAB
           : shape->vocab == VOCAB_QWEN  ? QWEN_VOCAB
                                         : LLAMA3_VOCAB;
}

static uint64_t rng_state;

static uint64_t rng_next(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static gb_buf out; /* straight to the output file (gguf_build.h) */

/* Stops at the first write that failed (the writer keeps going past one). */
static void check_written(void)
{
    if (out.failed) {
        perror("gen_synthetic: write");
        exit(1);
    }
}

typedef struct {
    char name[64];
    int64_t ne0, ne1; /* ne1 = 0 for vectors */
    uint32_t type;
    uint64_t bytes, offset;
} tensor_spec;

static tensor_spec specs[2 + MAX_LAYER * TENSORS_PER_LAYER + 1];
static int n_specs;

static void add_tensor(const char *name, int64_t ne0, int64_t ne1, uint32_t type)
{
    tensor_spec *t = &specs[n_specs++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ne0 = ne0;
    t->ne1 = ne1;
    t->type = type;
    int64_t ne[GGUF_MAX_DIMS] = {ne0, ne1 ? ne1 : 1, 1, 1};
    t->bytes = ggml_tensor_nbytes(type, ne);
}

/* 2B-4T's tensors, in its file's order. */
static void plan_bitnet_layer(int il, uint32_t tt)
{
    const model_shape *m = shape;
    const int kv_dim = m->n_head_kv * m->head_dim, q_dim = m->n_head * m->head_dim;
    char n[64];
#define T(suffix, ne0, ne1, type)                                                                  \
    (snprintf(n, sizeof n, "blk.%d." suffix ".weight", il), add_tensor(n, ne0, ne1, type))
    T("attn_norm", m->n_embd, 0, GGML_TYPE_F32);
    T("attn_q", m->n_embd, q_dim, tt);
    T("attn_k", m->n_embd, kv_dim, tt);
    T("attn_v", m->n_embd, kv_dim, tt);
    T("attn_sub_norm", q_dim, 0, GGML_TYPE_F32);
    T("attn_output", q_dim, m->n_embd, tt);
    T("ffn_norm", m->n_embd, 0, GGML_TYPE_F32);
    T("ffn_gate", m->n_embd, m->n_ff, tt);
    T("ffn_up", m->n_embd, m->n_ff, tt);
    T("ffn_sub_norm", m->n_ff, 0, GGML_TYPE_F32);
    T("ffn_down", m->n_ff, m->n_embd, tt);
}

/* A ternary llama's, in bitnet.cpp's converter's order (no sub-norms). */
static void plan_llama_layer(int il, uint32_t tt)
{
    const model_shape *m = shape;
    const int kv_dim = m->n_head_kv * m->head_dim, q_dim = m->n_head * m->head_dim;
    char n[64];
    T("attn_norm", m->n_embd, 0, GGML_TYPE_F32);
    T("ffn_down", m->n_ff, m->n_embd, tt);
    T("ffn_gate", m->n_embd, m->n_ff, tt);
    T("ffn_up", m->n_embd, m->n_ff, tt);
    T("ffn_norm", m->n_embd, 0, GGML_TYPE_F32);
    T("attn_k", m->n_embd, kv_dim, tt);
    T("attn_output", q_dim, m->n_embd, tt);
    T("attn_q", m->n_embd, q_dim, tt);
    T("attn_v", m->n_embd, kv_dim, tt);
}

/* Qwen3's, in mainline's converter's order; the embedding layout adds
 * each projection's input norm after it (F16, as its converter writes). */
static void plan_qwen3_layer(int il, uint32_t tt)
{
    const model_shape *m = shape;
    const int kv_dim = m->n_head_kv * m->head_dim, q_dim = m->n_head * m->head_dim;
    const int embed = m->graph == GRAPH_QWEN3_EMBED;
    const uint32_t norm = embed ? GGML_TYPE_F16 : GGML_TYPE_F32;
    char n[64];
#define P(suffix, ne0, ne1)                                                                        \
    (T(suffix, ne0, ne1, tt), embed ? T(suffix "_norm_in", ne0, 0, norm) : (void)0)
    T("attn_norm", m->n_embd, 0, norm);
    P("ffn_down", m->n_ff, m->n_embd);
    P("ffn_gate", m->n_embd, m->n_ff);
    P("ffn_up", m->n_embd, m->n_ff);
    T("ffn_norm", m->n_embd, 0, norm);
    T("attn_k_norm", m->head_dim, 0, norm);
    P("attn_k", m->n_embd, kv_dim);
    P("attn_output", q_dim, m->n_embd);
    T("attn_q_norm", m->head_dim, 0, norm);
    P("attn_q", m->n_embd, q_dim);
    P("attn_v", m->n_embd, kv_dim);
#undef P
#undef T
}

static int qwen3(void) { return shape->graph == GRAPH_QWEN3 || pooled(); }

static void plan_tensors(uint32_t ternary_type)
{
    /* Bonsai is 1-bit end to end: its embedding and LM head too */
    const uint32_t dense = shape->graph == GRAPH_QWEN3 && (ternary_type == GGML_TYPE_Q1_0 ||
                                                           ternary_type == GGML_TYPE_Q2_0)
                               ? ternary_type
                               : GGML_TYPE_F16;
    add_tensor("token_embd.weight", shape->n_embd, n_vocab(), dense);
    for (int il = 0; il < shape->n_layer; il++)
        (shape->graph == GRAPH_BITNET ? plan_bitnet_layer
         : qwen3()                    ? plan_qwen3_layer
                                      : plan_llama_layer)(il, ternary_type);
    add_tensor("output_norm.weight", shape->n_embd, 0,
               shape->graph == GRAPH_QWEN3_EMBED ? GGML_TYPE_F16 : GGML_TYPE_F32);
    if (shape->graph == GRAPH_LLAMA || shape->graph == GRAPH_QWEN3)
        add_tensor("output.weight", shape->n_embd, n_vocab(), dense);
    uint64_t off = 0;
    for (int i = 0; i < n_specs; i++) {
        specs[i].offset = off;
        off += (specs[i].bytes + ALIGN - 1) / ALIGN * ALIGN;
    }
}

/* The text of token i and whether it is a control token. */
static int token_text(int i, char *s, size_t cap)
{
    if (shape->vocab == VOCAB_QWEN) {
        static const char *const specials[QWEN_SPECIALS] = {"<|endoftext|>", "<|im_start|>",
                                                            "<|im_end|>"};
        const int k = i - QWEN_ENDOFTEXT;
        if (k >= 0 && k < QWEN_SPECIALS)
            snprintf(s, cap, "%s", specials[k]);
        else if (k >= QWEN_SPECIALS)
            snprintf(s, cap, "<|extra_%d|>", k);
        else
            snprintf(s, cap, "tok%d", i);
        return k >= 0;
    }
    if (shape->vocab == VOCAB_FALCON3) {
        if (i == FALCON3_EOS)
            snprintf(s, cap, "<|endoftext|>");
        else if (i < FALCON3_SPECIALS)
            snprintf(s, cap, ">>UNUSED_%d<<", i);
        else
            snprintf(s, cap, "tok%d", i);
        return i < FALCON3_SPECIALS;
    }
    const int k = i - LLAMA3_FIRST_SPECIAL;
    if (k == 0)
        snprintf(s, cap, "<|begin_of_text|>");
    else if (k == 1)
        snprintf(s, cap, "<|end_of_text|>");
    else if (k == 9)
        snprintf(s, cap, "<|eot_id|>");
    else if (k >= 0)
        snprintf(s, cap, "<|reserved_special_token_%d|>", i);
    else
        snprintf(s, cap, "tok%d", i);
    return k >= 0;
}

static void write_vocab(void)
{
    const int nv = n_vocab();
    char s[48];
    gb_kv_head(&out, "tokenizer.ggml.tokens", GGUF_TYPE_ARRAY);
    gb_arr_head(&out, GGUF_TYPE_STRING, (uint64_t)nv);
    for (int i = 0; i < nv; i++) {
        token_text(i, s, sizeof s);
        gb_str(&out, s);
    }
    gb_kv_head(&out, "tokenizer.ggml.scores", GGUF_TYPE_ARRAY);
    gb_arr_head(&out, GGUF_TYPE_FLOAT32, (uint64_t)nv);
    for (int i = 0; i < nv; i++) gb_u32(&out, 0);
    gb_kv_head(&out, "tokenizer.ggml.token_type", GGUF_TYPE_ARRAY);
    gb_arr_head(&out, GGUF_TYPE_INT32, (uint64_t)nv);
    for (int i = 0; i < nv; i++)
        gb_u32(&out, token_text(i, s, sizeof s) ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_NORMAL);
    gb_kv_arr_str(&out, "tokenizer.ggml.merges", NULL, 0);
}

/* <arch>.<suffix> */
static const char *key(const char *suffix)
{
    static char k[96];
    snprintf(k, sizeof k, "%s.%s", shape->arch, suffix);
    return k;
}

static int n_metadata(void)
{
    return 23 + (shape->pre != NULL) + (shape->graph == GRAPH_BITNET) + 2 * qwen3() + 2 * pooled();
}

/* Metadata in the official file's order (bitnet.cpp's converter's for
 * llama: the same keys). */
static void write_metadata(uint32_t ftype)
{
    const model_shape *m = shape;
    const int llama3 = m->vocab == VOCAB_LLAMA3, qwen = m->vocab == VOCAB_QWEN;
    const uint32_t qwen_eos = QWEN_ENDOFTEXT + (m->graph == GRAPH_QWEN3 ? 2 : 0); /* <|im_end|> */
    gb_header(&out, (uint64_t)n_specs, (uint64_t)n_metadata());
    gb_kv_str(&out, "general.architecture", m->arch);
    gb_kv_str(&out, "general.name", m->general_name);
    gb_kv_u32(&out, key("vocab_size"), (uint32_t)n_vocab());
    gb_kv_u32(&out, key("context_length"), (uint32_t)m->n_ctx);
    gb_kv_u32(&out, key("embedding_length"), (uint32_t)m->n_embd);
    gb_kv_u32(&out, key("block_count"), (uint32_t)m->n_layer);
    gb_kv_u32(&out, key("feed_forward_length"), (uint32_t)m->n_ff);
    gb_kv_u32(&out, key("rope.dimension_count"), (uint32_t)m->head_dim);
    gb_kv_u32(&out, key("attention.head_count"), (uint32_t)m->n_head);
    gb_kv_u32(&out, key("attention.head_count_kv"), (uint32_t)m->n_head_kv);
    if (m->graph == GRAPH_BITNET) gb_kv_bool(&out, "tokenizer.ggml.add_bos_token", 1);
    if (qwen3()) {
        gb_kv_u32(&out, key("attention.key_length"), (uint32_t)m->head_dim);
        gb_kv_u32(&out, key("attention.value_length"), (uint32_t)m->head_dim);
    }
    if (pooled()) {
        gb_kv_u32(&out, key("pooling_type"), POOLING_LAST);
        gb_kv_bool(&out, "tokenizer.ggml.add_eos_token", 1);
    }
    gb_kv_f32(&out, key("attention.layer_norm_rms_epsilon"), m->rms_eps);
    gb_kv_f32(&out, key("rope.freq_base"), m->rope_base);
    gb_kv_u32(&out, "general.file_type", ftype);
    gb_kv_str(&out, "tokenizer.ggml.model", "gpt2");
    if (m->pre) gb_kv_str(&out, "tokenizer.ggml.pre", m->pre);
    write_vocab();
    gb_kv_u32(&out, "tokenizer.ggml.bos_token_id",
              llama3 ? LLAMA3_FIRST_SPECIAL
              : qwen ? QWEN_ENDOFTEXT
                     : FALCON3_EOS);
    gb_kv_u32(&out, "tokenizer.ggml.eos_token_id",
              llama3 ? LLAMA3_FIRST_SPECIAL + (m->graph == GRAPH_BITNET ? 1 : 9)
              : qwen ? qwen_eos
                     : FALCON3_EOS);
    gb_kv_u32(&out, "tokenizer.ggml.padding_token_id",
              llama3 ? LLAMA3_FIRST_SPECIAL + 1
              : qwen ? QWEN_ENDOFTEXT
                     : FALCON3_EOS);
    gb_kv_str(&out, "tokenizer.chat_template", m->chat_template);
    gb_kv_u32(&out, "general.quantization_version", 2);
    for (int i = 0; i < n_specs; i++) {
        const tensor_spec *t = &specs[i];
        const int64_t ne[2] = {t->ne0, t->ne1};
        gb_tensor_info(&out, t->name, t->ne1 ? 2 : 1, ne, t->type, t->offset);
    }
}

/* Bytes whose four 2-bit fields are all valid codes (0, 1, 2): 81 of them. */
static uint8_t valid_bytes[81];

static void fill_codes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = valid_bytes[rng_next() % 81];
}

static void write_tensor_data(const tensor_spec *t)
{
    uint8_t *buf = malloc(t->bytes);
    if (!buf) {
        fprintf(stderr, "gen_synthetic: out of memory\n");
        exit(1);
    }
    const float scale = 1.0f / sqrtf(2.0f / 3.0f * (float)t->ne0);
    if (t->type == GGML_TYPE_F32) {
        const float one = 1.0f;
        for (int64_t i = 0; i < t->ne0; i++)
            memcpy(buf + i * (int64_t)sizeof one, &one, sizeof one);
    } else if (t->type == GGML_TYPE_F16) {
        uint16_t *h = (uint16_t *)buf;
        for (uint64_t i = 0; i < t->bytes / 2; i++) /* uniform in [-1, 1) */
            h[i] = bn_f32_to_f16((float)(rng_next() >> 40) / (float)(1 << 23) - 1.0f);
    } else if (t->type == GGML_TYPE_F16 && t->ne1 == 0) { /* F16 norms: ones */
        const uint16_t one = bn_f32_to_f16(1.0f);
        for (int64_t i = 0; i < t->ne0; i++) memcpy(buf + 2 * i, &one, sizeof one);
    } else if (t->type == GGML_TYPE_Q1_0 || t->type == GGML_TYPE_Q2_0) {
        /* Q1_0: random signs, every weight non-zero; Q2_0: codes 0-2 */
        const int binary = t->type == GGML_TYPE_Q1_0;
        const uint16_t d = bn_f32_to_f16(binary ? 1.0f / sqrtf((float)t->ne0) : scale);
        for (uint64_t b = 0; b < t->bytes / GROUPED_BYTES; b++) {
            uint8_t *blk = buf + b * GROUPED_BYTES;
            memcpy(blk, &d, 2);
            for (int j = 2; j < GROUPED_BYTES; j++)
                blk[j] = binary ? (uint8_t)(rng_next() >> 56) : valid_bytes[rng_next() % 81];
        }
    } else if (t->type == GGML_TYPE_I2_S) {
        uint64_t codes = t->bytes - 32;
        fill_codes(buf, codes);
        memset(buf + codes, 0, 32);
        memcpy(buf + codes, &scale, sizeof scale);
    } else { /* TQ2_0: 64 code bytes then an fp16 scale per block */
        uint16_t d = bn_f32_to_f16(scale);
        for (uint64_t b = 0; b < t->bytes / TQ2_BLOCK_BYTES; b++) {
            fill_codes(buf + b * TQ2_BLOCK_BYTES, TQ2_BLOCK_BYTES - 2);
            memcpy(buf + b * TQ2_BLOCK_BYTES + TQ2_BLOCK_BYTES - 2, &d, 2);
        }
    }
    gb_bytes(&out, buf, t->bytes);
    free(buf);
    gb_pad(&out, ALIGN);
    check_written();
}

static const model_shape *shape_named(const char *name)
{
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
        if (!strcmp(SHAPES[i].name, name)) return &SHAPES[i];
    return NULL;
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s OUT.gguf [SHAPE] [i2_s|tq2_0|q1_0|q2_0] [SEED]\nshapes:", argv0);
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
        fprintf(stderr, " %s", SHAPES[i].name);
    fprintf(stderr, " (default %s)\n", SHAPES[0].name);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 5) return usage(argv[0]);
    int a = 2; /* the shape is optional, so the old argument list still works */
    shape = argc > a ? shape_named(argv[a]) : NULL;
    if (shape)
        a++;
    else
        shape = &SHAPES[0];
    if (argc > a + 2) return usage(argv[0]);
    const char *kind = argc > a ? argv[a] : shape->graph == GRAPH_QWEN3 ? "q1_0" : "i2_s";
    static const struct {
        const char *name;
        uint32_t type, ftype;
    } kinds[] = {{"i2_s", GGML_TYPE_I2_S, FTYPE_I2_S},
                 {"tq2_0", GGML_TYPE_TQ2_0, FTYPE_TQ2_0},
                 {"q1_0", GGML_TYPE_Q1_0, FTYPE_Q1_0},
                 {"q2_0", GGML_TYPE_Q2_0, FTYPE_Q2_0}};
    size_t ki = 0;
    while (ki < sizeof kinds / sizeof kinds[0] && strcmp(kind, kinds[ki].name)) ki++;
    if (ki == sizeof kinds / sizeof kinds[0]) {
        fprintf(stderr, "gen_synthetic: unknown shape or encoding '%s'\n", kind);
        return usage(argv[0]);
    }
    rng_state = argc > a + 1 ? strtoull(argv[a + 1], NULL, 10) * 0x9e3779b97f4a7c15ull + 1 : 0x5eed;
    int nv = 0;
    for (int b = 0; b < 256; b++)
        if ((b & 3) != 3 && (b >> 2 & 3) != 3 && (b >> 4 & 3) != 3 && (b >> 6) != 3)
            valid_bytes[nv++] = (uint8_t)b;
    plan_tensors(kinds[ki].type);
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    out = gb_to_file(f);
    write_metadata(kinds[ki].ftype);
    gb_pad(&out, ALIGN);
    check_written();
    for (int i = 0; i < n_specs; i++) write_tensor_data(&specs[i]);
    if (fclose(f)) {
        perror(argv[1]);
        return 1;
    }
    printf("wrote %s: %d tensors, %.1f MB\n", argv[1], n_specs, out.len / 1e6);
    return 0;
}
