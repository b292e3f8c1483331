/*
 * gen_synthetic.c - writes a synthetic model with the exact metadata, tensor
 * names, shapes and types of microsoft/bitnet-b1.58-2B-4T's
 * ggml-model-i2_s.gguf (docs/FORMAT.md, The official 2B-4T file), filled
 * with random ternary weights from a seed, for benchmarks on a machine that
 * does not have the real file.
 *
 *   build/bench/gen_synthetic OUT.gguf [i2_s|tq2_0] [SEED]
 *
 * About 1.2 GB; never commit the output. Each weight tensor gets a scale of
 * 1/sqrt(2/3 * fan_in), the standard deviation that keeps a random ternary
 * product (two thirds of the weights non-zero) at unit scale, so activations
 * stay in a sane range through all 30 layers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/gguf_build.h"
#include "gguf/gguf.h"
#include "kernels/f16.h"

#define N_LAYER 30
#define N_EMBD 2560
#define N_FF 6912
#define N_HEAD 20
#define N_HEAD_KV 5
#define HEAD_DIM 128
#define N_VOCAB 128256
#define N_CTX 4096
#define FIRST_SPECIAL 128000
#define TOKEN_TYPE_NORMAL 1
#define TOKEN_TYPE_CONTROL 3
#define FTYPE_I2_S 40
#define FTYPE_TQ2_0 37
#define ALIGN GGUF_DEFAULT_ALIGNMENT
#define TQ2_BLOCK 256
#define TQ2_BLOCK_BYTES 66

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

static tensor_spec specs[1 + N_LAYER * 11 + 1];
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

static void plan_tensors(uint32_t ternary_type)
{
    add_tensor("token_embd.weight", N_EMBD, N_VOCAB, GGML_TYPE_F16);
    const int kv_dim = N_HEAD_KV * HEAD_DIM;
    for (int il = 0; il < N_LAYER; il++) {
        char n[64];
#define T(suffix, ne0, ne1, type) (snprintf(n, sizeof n, "blk.%d." suffix ".weight", il), add_tensor(n, ne0, ne1, type))
        T("attn_norm", N_EMBD, 0, GGML_TYPE_F32);
        T("attn_q", N_EMBD, N_EMBD, ternary_type);
        T("attn_k", N_EMBD, kv_dim, ternary_type);
        T("attn_v", N_EMBD, kv_dim, ternary_type);
        T("attn_sub_norm", N_EMBD, 0, GGML_TYPE_F32);
        T("attn_output", N_EMBD, N_EMBD, ternary_type);
        T("ffn_norm", N_EMBD, 0, GGML_TYPE_F32);
        T("ffn_gate", N_EMBD, N_FF, ternary_type);
        T("ffn_up", N_EMBD, N_FF, ternary_type);
        T("ffn_sub_norm", N_FF, 0, GGML_TYPE_F32);
        T("ffn_down", N_FF, N_EMBD, ternary_type);
#undef T
    }
    add_tensor("output_norm.weight", N_EMBD, 0, GGML_TYPE_F32);
    uint64_t off = 0;
    for (int i = 0; i < n_specs; i++) {
        specs[i].offset = off;
        off += (specs[i].bytes + ALIGN - 1) / ALIGN * ALIGN;
    }
}

static void write_vocab(void)
{
    gb_kv_head(&out, "tokenizer.ggml.tokens", GGUF_TYPE_ARRAY);
    gb_arr_head(&out, GGUF_TYPE_STRING, N_VOCAB);
    for (int i = 0; i < N_VOCAB; i++) {
        char s[48];
        if (i == FIRST_SPECIAL) snprintf(s, sizeof s, "<|begin_of_text|>");
        else if (i == FIRST_SPECIAL + 1) snprintf(s, sizeof s, "<|end_of_text|>");
        else if (i == FIRST_SPECIAL + 9) snprintf(s, sizeof s, "<|eot_id|>");
        else if (i >= FIRST_SPECIAL) snprintf(s, sizeof s, "<|reserved_special_token_%d|>", i);
        else snprintf(s, sizeof s, "tok%d", i);
        gb_str(&out, s);
    }
    gb_kv_head(&out, "tokenizer.ggml.scores", GGUF_TYPE_ARRAY);
    gb_arr_head(&out, GGUF_TYPE_FLOAT32, N_VOCAB);
    for (int i = 0; i < N_VOCAB; i++) gb_u32(&out, 0);
    gb_kv_head(&out, "tokenizer.ggml.token_type", GGUF_TYPE_ARRAY);
    gb_arr_head(&out, GGUF_TYPE_INT32, N_VOCAB);
    for (int i = 0; i < N_VOCAB; i++)
        gb_u32(&out, i >= FIRST_SPECIAL ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_NORMAL);
    gb_kv_arr_str(&out, "tokenizer.ggml.merges", NULL, 0);
}

/* Metadata in the official file's order. */
static void write_metadata(uint32_t ftype)
{
    gb_header(&out, (uint64_t)n_specs, 24);
    gb_kv_str(&out, "general.architecture", "bitnet-b1.58");
    gb_kv_str(&out, "general.name", "bitnet2b-synthetic");
    gb_kv_u32(&out, "bitnet-b1.58.vocab_size", N_VOCAB);
    gb_kv_u32(&out, "bitnet-b1.58.context_length", N_CTX);
    gb_kv_u32(&out, "bitnet-b1.58.embedding_length", N_EMBD);
    gb_kv_u32(&out, "bitnet-b1.58.block_count", N_LAYER);
    gb_kv_u32(&out, "bitnet-b1.58.feed_forward_length", N_FF);
    gb_kv_u32(&out, "bitnet-b1.58.rope.dimension_count", HEAD_DIM);
    gb_kv_u32(&out, "bitnet-b1.58.attention.head_count", N_HEAD);
    gb_kv_u32(&out, "bitnet-b1.58.attention.head_count_kv", N_HEAD_KV);
    gb_kv_bool(&out, "tokenizer.ggml.add_bos_token", 1);
    gb_kv_f32(&out, "bitnet-b1.58.attention.layer_norm_rms_epsilon", 1e-5f);
    gb_kv_f32(&out, "bitnet-b1.58.rope.freq_base", 500000.0f);
    gb_kv_u32(&out, "general.file_type", ftype);
    gb_kv_str(&out, "tokenizer.ggml.model", "gpt2");
    write_vocab();
    gb_kv_u32(&out, "tokenizer.ggml.bos_token_id", FIRST_SPECIAL);
    gb_kv_u32(&out, "tokenizer.ggml.eos_token_id", FIRST_SPECIAL + 1);
    gb_kv_u32(&out, "tokenizer.ggml.padding_token_id", FIRST_SPECIAL + 1);
    gb_kv_str(&out, "tokenizer.chat_template",
           "{% for message in messages %}BITNETAssistant: placeholder{% endfor %}");
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
        float *f = (float *)buf;
        for (int64_t i = 0; i < t->ne0; i++) f[i] = 1.0f;
    } else if (t->type == GGML_TYPE_F16) {
        uint16_t *h = (uint16_t *)buf;
        for (uint64_t i = 0; i < t->bytes / 2; i++) /* uniform in [-1, 1) */
            h[i] = bn_f32_to_f16((float)(rng_next() >> 40) / (float)(1 << 23) - 1.0f);
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

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s OUT.gguf [i2_s|tq2_0] [SEED]\n", argv[0]);
        return 1;
    }
    const char *kind = argc > 2 ? argv[2] : "i2_s";
    int tq2 = !strcmp(kind, "tq2_0");
    if (!tq2 && strcmp(kind, "i2_s")) {
        fprintf(stderr, "gen_synthetic: unknown encoding '%s' (i2_s or tq2_0)\n", kind);
        return 1;
    }
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) * 0x9e3779b97f4a7c15ull + 1 : 0x5eed;
    int nv = 0;
    for (int b = 0; b < 256; b++)
        if ((b & 3) != 3 && (b >> 2 & 3) != 3 && (b >> 4 & 3) != 3 && (b >> 6) != 3)
            valid_bytes[nv++] = (uint8_t)b;
    plan_tensors(tq2 ? GGML_TYPE_TQ2_0 : GGML_TYPE_I2_S);
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    out = gb_to_file(f);
    write_metadata(tq2 ? FTYPE_TQ2_0 : FTYPE_I2_S);
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
