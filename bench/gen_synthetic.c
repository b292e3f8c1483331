/*
 * gen_synthetic.c - writes a synthetic model with the exact metadata, tensor
 * names, shapes and types of microsoft/bitnet-b1.58-2B-4T's
 * ggml-model-i2_s.gguf (spec section 2), filled with random ternary weights
 * from a seed, for benchmarks on a machine that does not have the real file.
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

#include "gguf/gguf.h"
#include "kernels/kernels.h"

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

static FILE *out;
static uint64_t written;

static void put(const void *p, size_t n)
{
    if (fwrite(p, 1, n, out) != n) {
        perror("gen_synthetic: write");
        exit(1);
    }
    written += n;
}

static void put_u32(uint32_t v) { put(&v, 4); }
static void put_u64(uint64_t v) { put(&v, 8); }
static void put_str(const char *s)
{
    put_u64(strlen(s));
    put(s, strlen(s));
}
static void kv(const char *key, uint32_t type)
{
    put_str(key);
    put_u32(type);
}
static void kv_u32(const char *key, uint32_t v) { kv(key, GGUF_TYPE_UINT32), put_u32(v); }
static void kv_f32(const char *key, float v) { kv(key, GGUF_TYPE_FLOAT32), put(&v, 4); }
static void kv_str(const char *key, const char *v) { kv(key, GGUF_TYPE_STRING), put_str(v); }

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
    kv("tokenizer.ggml.tokens", GGUF_TYPE_ARRAY);
    put_u32(GGUF_TYPE_STRING);
    put_u64(N_VOCAB);
    for (int i = 0; i < N_VOCAB; i++) {
        char s[48];
        if (i == FIRST_SPECIAL) snprintf(s, sizeof s, "<|begin_of_text|>");
        else if (i == FIRST_SPECIAL + 1) snprintf(s, sizeof s, "<|end_of_text|>");
        else if (i == FIRST_SPECIAL + 9) snprintf(s, sizeof s, "<|eot_id|>");
        else if (i >= FIRST_SPECIAL) snprintf(s, sizeof s, "<|reserved_special_token_%d|>", i);
        else snprintf(s, sizeof s, "tok%d", i);
        put_str(s);
    }
    kv("tokenizer.ggml.scores", GGUF_TYPE_ARRAY);
    put_u32(GGUF_TYPE_FLOAT32);
    put_u64(N_VOCAB);
    for (int i = 0; i < N_VOCAB; i++) put_u32(0);
    kv("tokenizer.ggml.token_type", GGUF_TYPE_ARRAY);
    put_u32(GGUF_TYPE_INT32);
    put_u64(N_VOCAB);
    for (int i = 0; i < N_VOCAB; i++) put_u32(i >= FIRST_SPECIAL ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_NORMAL);
    kv("tokenizer.ggml.merges", GGUF_TYPE_ARRAY);
    put_u32(GGUF_TYPE_STRING);
    put_u64(0);
}

/* Metadata in the official file's order (spec 2.1). */
static void write_metadata(uint32_t ftype)
{
    put("GGUF", 4);
    put_u32(3);
    put_u64((uint64_t)n_specs);
    put_u64(24);
    kv_str("general.architecture", "bitnet-b1.58");
    kv_str("general.name", "bitnet2b-synthetic");
    kv_u32("bitnet-b1.58.vocab_size", N_VOCAB);
    kv_u32("bitnet-b1.58.context_length", N_CTX);
    kv_u32("bitnet-b1.58.embedding_length", N_EMBD);
    kv_u32("bitnet-b1.58.block_count", N_LAYER);
    kv_u32("bitnet-b1.58.feed_forward_length", N_FF);
    kv_u32("bitnet-b1.58.rope.dimension_count", HEAD_DIM);
    kv_u32("bitnet-b1.58.attention.head_count", N_HEAD);
    kv_u32("bitnet-b1.58.attention.head_count_kv", N_HEAD_KV);
    kv("tokenizer.ggml.add_bos_token", GGUF_TYPE_BOOL);
    put("\1", 1);
    kv_f32("bitnet-b1.58.attention.layer_norm_rms_epsilon", 1e-5f);
    kv_f32("bitnet-b1.58.rope.freq_base", 500000.0f);
    kv_u32("general.file_type", ftype);
    kv_str("tokenizer.ggml.model", "gpt2");
    write_vocab();
    kv_u32("tokenizer.ggml.bos_token_id", FIRST_SPECIAL);
    kv_u32("tokenizer.ggml.eos_token_id", FIRST_SPECIAL + 1);
    kv_u32("tokenizer.ggml.padding_token_id", FIRST_SPECIAL + 1);
    kv_str("tokenizer.chat_template",
           "{% for message in messages %}BITNETAssistant: placeholder{% endfor %}");
    kv_u32("general.quantization_version", 2);
    for (int i = 0; i < n_specs; i++) {
        put_str(specs[i].name);
        put_u32(specs[i].ne1 ? 2 : 1);
        put_u64((uint64_t)specs[i].ne0);
        if (specs[i].ne1) put_u64((uint64_t)specs[i].ne1);
        put_u32(specs[i].type);
        put_u64(specs[i].offset);
    }
}

static void pad_to(uint64_t align)
{
    static const uint8_t zero[ALIGN];
    while (written % align) put(zero, 1);
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
    put(buf, t->bytes);
    free(buf);
    pad_to(ALIGN);
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
    out = fopen(argv[1], "wb");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    write_metadata(tq2 ? FTYPE_TQ2_0 : FTYPE_I2_S);
    pad_to(ALIGN);
    for (int i = 0; i < n_specs; i++) write_tensor_data(&specs[i]);
    if (fclose(out)) {
        perror(argv[1]);
        return 1;
    }
    printf("wrote %s: %d tensors, %.1f MB\n", argv[1], n_specs, written / 1e6);
    return 0;
}
