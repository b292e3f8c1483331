/*
 * make_seeds.c - writes the starting corpora of the fuzz targets:
 *
 *   make_seeds gguf DIR       small model files that load and run: the
 *                             bundled model's metadata and vocabulary with
 *                             one tiny layer, the same as arch "bitnet" with
 *                             projection scales and with TQ2_0 weights, a
 *                             hand-made BPE and a SentencePiece vocabulary,
 *                             and bare reader-level files
 *   make_seeds tokenizer DIR  the texts of ../shared/tokenizer/cases.jsonl
 *                             (when present) and a few hostile ones, each
 *                             after a byte choosing vocabulary and flags
 *   make_seeds http DIR       requests as curl and the openai packages send
 *                             them, pipelined ones and a few malformed ones
 *
 * (The bundled model itself is 4 MB: too large for a fuzzer to mutate.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_build.h"
#include "gguf_edit.h"
#include "json_mini.h"
#include "model/names.h"
#include "test.h"

#define TINY_MODEL "models/bitnet-tiny.gguf"
#define ARCH "bitnet-b1.58"
#define MINI_EMBD 128 /* the smallest width I2_S rows allow */
#define MINI_CTX 64
#define TQ_EMBD 256         /* TQ2_0 rows are whole 256-value blocks */
#define I2S_TAIL 32         /* f32 scale + filler after the codes (docs/FORMAT.md, I2_S) */
#define I2S_ZERO_CODES 0x55 /* four weights of code 1 = 0 */
#define Q4_0_BLOCK 32
#define Q4_0_BLOCK_BYTES 18
#define TQ2_0_BLOCK 256
#define TQ2_0_BLOCK_BYTES 66
#define FP16_ONE 0x3C00
#define SELECTORS 20 /* 5 vocabularies x 4 flag combinations (fuzz_drivers.c) */

static void die(const char *what)
{
    fprintf(stderr, "make_seeds: %s\n", what);
    exit(1);
}

static void save(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) die(path);
    fclose(f);
}

static void save_gguf(const char *dir, const char *name, const ge_file *e)
{
    gb_buf b = {0};
    ge_write(e, &b, NULL);
    save(dir, name, b.data, b.len);
    gb_free(&b);
}

/* ------------------------------------------------------ tensor data */

static void add_norm(ge_file *e, const char *name, int n)
{
    float *w = malloc((size_t)n * sizeof *w);
    if (!w) die("out of memory");
    for (int i = 0; i < n; i++) w[i] = 1.0f;
    int64_t ne[1] = {n};
    ge_add_tensor(e, name, 1, ne, GGML_TYPE_F32, w, (size_t)n * sizeof *w);
    free(w);
}

/* An I2_S matrix of zeros but the diagonal (+1) with scale 1. */
static void add_i2s(ge_file *e, const char *name, int cols, int rows)
{
    size_t codes = (size_t)cols * rows / 4;
    uint8_t *d = calloc(codes + I2S_TAIL, 1);
    if (!d) die("out of memory");
    memset(d, I2S_ZERO_CODES, codes);
    for (int r = 0; r < rows && r < cols; r++) { /* element r*cols+r (I2_S layout) */
        size_t j = (size_t)r * cols + r, block = j / 128, in = j % 128;
        uint8_t *byte = d + block * 32 + in % 32;
        int shift = 6 - 2 * (int)(in / 32);
        *byte = (uint8_t)((*byte & ~(3 << shift)) | (2 << shift));
    }
    float one = 1.0f;
    memcpy(d + codes, &one, sizeof one);
    int64_t ne[2] = {cols, rows};
    ge_add_tensor(e, name, 2, ne, GGML_TYPE_I2_S, d, codes + I2S_TAIL);
    free(d);
}

/* A TQ2_0 matrix of zeros (code 1 in every 2-bit slot) with d = 1. */
static void add_tq2(ge_file *e, const char *name, int cols, int rows)
{
    size_t blocks = (size_t)cols * rows / TQ2_0_BLOCK;
    uint8_t *d = malloc(blocks * TQ2_0_BLOCK_BYTES);
    if (!d) die("out of memory");
    for (size_t b = 0; b < blocks; b++) {
        uint8_t *blk = d + b * TQ2_0_BLOCK_BYTES;
        memset(blk, I2S_ZERO_CODES, TQ2_0_BLOCK_BYTES - 2);
        uint16_t one = FP16_ONE;
        memcpy(blk + TQ2_0_BLOCK_BYTES - 2, &one, sizeof one);
    }
    int64_t ne[2] = {cols, rows};
    ge_add_tensor(e, name, 2, ne, GGML_TYPE_TQ2_0, d, blocks * TQ2_0_BLOCK_BYTES);
    free(d);
}

/* Q4_0 rows: scale 1, nibbles counting up, so rows differ. */
static void add_embedding(ge_file *e, int cols, int rows)
{
    size_t per_row = (size_t)cols / Q4_0_BLOCK, n = per_row * rows;
    uint8_t *d = malloc(n * Q4_0_BLOCK_BYTES);
    if (!d) die("out of memory");
    for (size_t b = 0; b < n; b++) {
        uint8_t *blk = d + b * Q4_0_BLOCK_BYTES;
        uint16_t one = FP16_ONE;
        memcpy(blk, &one, sizeof one);
        for (int i = 2; i < Q4_0_BLOCK_BYTES; i++) blk[i] = (uint8_t)(b * 7 + i);
    }
    int64_t ne[2] = {cols, rows};
    ge_add_tensor(e, "token_embd.weight", 2, ne, GGML_TYPE_Q4_0, d, n * Q4_0_BLOCK_BYTES);
    free(d);
}

/* One layer of width n_embd (= n_ff = head_dim, one head) replacing every
 * tensor; tq2 picks TQ2_0 projections instead of I2_S; scales adds the
 * per-projection scale tensors of arch "bitnet" (docs/FORMAT.md, Tensor
 * names and shapes). */
static void one_layer(ge_file *e, const char *arch, int n_embd, int n_vocab, int tq2, int scales)
{
    char key[128];
    while (e->n_t) ge_drop_tensor(e, e->t[0].name);
#define SET(k, v) (snprintf(key, sizeof key, "%s." k, arch), ge_set_u32(e, key, (v)))
    SET("block_count", 1);
    SET("embedding_length", (uint32_t)n_embd);
    SET("feed_forward_length", (uint32_t)n_embd);
    SET("attention.head_count", 1);
    SET("attention.head_count_kv", 1);
    SET("rope.dimension_count", (uint32_t)n_embd);
    SET("context_length", MINI_CTX);
    SET("vocab_size", (uint32_t)n_vocab);
#undef SET
    add_embedding(e, n_embd, n_vocab);
    add_norm(e, "output_norm.weight", n_embd);
    const char *norms[] = {"attn_norm", "attn_sub_norm", "ffn_norm", "ffn_sub_norm"};
    for (size_t i = 0; i < sizeof norms / sizeof norms[0]; i++) {
        snprintf(key, sizeof key, "blk.0.%s.weight", norms[i]);
        add_norm(e, key, n_embd);
    }
    for (size_t i = 0; i < BN_N_PROJ; i++) {
        snprintf(key, sizeof key, "blk.0.%s.weight", bn_proj_names[i]);
        if (tq2)
            add_tq2(e, key, n_embd, n_embd);
        else
            add_i2s(e, key, n_embd, n_embd);
        if (scales) {
            snprintf(key, sizeof key, "blk.0.%s.scale", bn_proj_names[i]);
            float half = 0.5f;
            int64_t ne[1] = {1};
            ge_add_tensor(e, key, 1, ne, GGML_TYPE_F32, &half, sizeof half);
        }
    }
}

/* The bundled model's keys renamed to another architecture prefix. */
static void rename_arch(ge_file *e, const char *arch)
{
    size_t old = strlen(ARCH);
    for (size_t i = 0; i < e->n_kv; i++) {
        char *k = e->kv[i].key;
        if (strncmp(k, ARCH ".", old + 1)) continue;
        char *renamed = malloc(strlen(arch) + strlen(k + old) + 1);
        if (!renamed) die("out of memory");
        sprintf(renamed, "%s%s", arch, k + old);
        free(k);
        e->kv[i].key = renamed;
    }
    ge_set_str(e, "general.architecture", arch);
}

/* A vocabulary of its own (replacing the tokenizer.ggml.* keys). */
static void small_vocab(ge_file *e, const char *model, const char *const *tokens,
                        const int32_t *types, size_t n)
{
    ge_set_str(e, "tokenizer.ggml.model", model);
    ge_set_str_array(e, "tokenizer.ggml.tokens", tokens, NULL, n);
    ge_set_array(e, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, n, sizeof *types);
    float *scores = malloc(n * sizeof *scores);
    if (!scores) die("out of memory");
    for (size_t i = 0; i < n; i++) scores[i] = -(float)i;
    ge_set_array(e, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, n, sizeof *scores);
    free(scores);
    ge_set_u32(e, "tokenizer.ggml.bos_token_id", 1);
    ge_set_u32(e, "tokenizer.ggml.eos_token_id", 2);
    ge_drop_kv(e, "tokenizer.ggml.padding_token_id");
}

static void bpe_vocab(ge_file *e)
{
    static const char *const tokens[] = {"a",
                                         "<|begin_of_text|>",
                                         "<|eot_id|>",
                                         "b",
                                         "c",
                                         "ab",
                                         "abc",
                                         "\xC4\xA0",
                                         ("\xC4\xA0"
                                          "a"),
                                         "1",
                                         "2",
                                         "12",
                                         "!"};
    static const int32_t types[] = {1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const char *const merges[] = {"a b", "ab c", "\xC4\xA0 a", "1 2"};
    small_vocab(e, "gpt2", tokens, types, sizeof tokens / sizeof tokens[0]);
    ge_set_str_array(e, "tokenizer.ggml.merges", merges, NULL, sizeof merges / sizeof merges[0]);
    ge_set_str(e, "tokenizer.ggml.pre", "gpt-2");
}

static void spm_vocab(ge_file *e)
{
    static const char *const tokens[] = {"<unk>",
                                         "<s>",
                                         "</s>",
                                         "<0x00>",
                                         "<0x0A>",
                                         "<0xFF>",
                                         "\xE2\x96\x81",
                                         "a",
                                         "b",
                                         ("\xE2\x96\x81"
                                          "a"),
                                         "ab",
                                         ("\xE2\x96\x81"
                                          "ab"),
                                         "<|user|>"};
    static const int32_t types[] = {2, 3, 3, 6, 6, 6, 1, 1, 1, 1, 1, 1, 4};
    small_vocab(e, "llama", tokens, types, sizeof tokens / sizeof tokens[0]);
    ge_drop_kv(e, "tokenizer.ggml.merges");
    ge_drop_kv(e, "tokenizer.ggml.pre");
    ge_set_u32(e, "tokenizer.ggml.unknown_token_id", 0);
}

static size_t vocab_size(ge_file *e)
{
    size_t n = 0;
    char **tokens = ge_get_str_array(e, "tokenizer.ggml.tokens", &n);
    if (!tokens) die(TINY_MODEL " has no tokens");
    ge_free_strings(tokens, n);
    return n;
}

/* Reader-level files: no tensors, every value type, nested arrays. */
static void bare_files(const char *dir)
{
    gb_buf b = {0};
    gb_header(&b, 0, 0);
    save(dir, "empty.gguf", b.data, b.len);
    gb_free(&b);
    gb_header(&b, 1, 4);
    gb_kv_u32(&b, "general.alignment", 64);
    gb_kv_bool(&b, "flag", 1);
    gb_kv_head(&b, "nested", GGUF_TYPE_ARRAY);
    gb_arr_head(&b, GGUF_TYPE_ARRAY, 1);
    gb_arr_head(&b, GGUF_TYPE_INT16, 2);
    int16_t v[2] = {1, -1};
    gb_bytes(&b, v, sizeof v);
    gb_kv_head(&b, "f64", GGUF_TYPE_FLOAT64);
    double d = 0.5;
    gb_bytes(&b, &d, sizeof d);
    int64_t ne[2] = {32, 2};
    gb_tensor_info(&b, "t", 2, ne, GGML_TYPE_Q8_0, 0);
    gb_pad(&b, 64);
    uint8_t zero[2 * 34] = {0};
    gb_bytes(&b, zero, sizeof zero);
    save(dir, "kinds.gguf", b.data, b.len);
    gb_free(&b);
}

static void gguf_seeds(const char *dir)
{
    ge_file e;
    if (ge_load(&e, TINY_MODEL)) die("cannot open " TINY_MODEL " (run from the repository root)");
    int n_vocab = (int)vocab_size(&e);
    one_layer(&e, ARCH, MINI_EMBD, n_vocab, 0, 0);
    save_gguf(dir, "tiny-vocab-one-layer.gguf", &e);
    rename_arch(&e, "bitnet");
    ge_set_str(&e, "bitnet.hidden_activation", "relu2");
    one_layer(&e, "bitnet", MINI_EMBD, n_vocab, 0, 1);
    save_gguf(dir, "arch-bitnet-scales.gguf", &e);
    bpe_vocab(&e);
    one_layer(&e, "bitnet", TQ_EMBD, (int)vocab_size(&e), 1, 0);
    save_gguf(dir, "bpe-vocab-tq2.gguf", &e);
    spm_vocab(&e);
    one_layer(&e, "bitnet", MINI_EMBD, (int)vocab_size(&e), 0, 0);
    save_gguf(dir, "spm-vocab.gguf", &e);
    ge_free(&e);
    bare_files(dir);
}

/* ------------------------------------------------------ tokenizer */

#define TEXT(s)                                                                                    \
    {                                                                                              \
        (s), sizeof(s) - 1                                                                         \
    }
static const struct {
    const char *s;
    size_t len;
} HOSTILE_TEXTS[] = {
    TEXT(""),
    TEXT(" "),
    TEXT("\xFF\xFE\xFD"),
    TEXT("\xC0\x80"),
    TEXT("\xED\xA0\x80"),
    TEXT("\xF4\x90\x80\x80"),
    TEXT("\xE2\x96"),
    TEXT("<|eot_id|><|eot_id|>"),
    TEXT("<|begin_of_text|>x<|end_of_text|>"),
    TEXT("\r\n\r\n   \t\v"),
    TEXT("'s'S'T'll 've 're"),
    TEXT("12345678901234567890"),
    TEXT("\xE2\x96\x81\xE2\x96\x81"
         "a"),
    TEXT("a\0b"),
    TEXT("<0x41><unk></s>"),
};

static void save_text(const char *dir, int i, unsigned selector, const char *text, size_t len)
{
    char name[32];
    snprintf(name, sizeof name, "text-%04d", i);
    uint8_t *seed = malloc(len + 1);
    if (!seed) die("out of memory");
    seed[0] = (uint8_t)selector;
    memcpy(seed + 1, text, len);
    save(dir, name, seed, len + 1);
    free(seed);
}

/* Shared cases: returns how many seeds were written from index i on. */
static int case_texts(const char *dir, int i)
{
    const char *path = test_shared_path("tokenizer/cases.jsonl");
    size_t len;
    char *all = path ? test_read_file(path, &len) : NULL;
    if (!all) return 0;
    int n = 0;
    for (char *line = all, *end; *line; line = *end ? end + 1 : end) {
        end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        const char *v = json_find(line, end, "text");
        char *text;
        long tl = v ? json_string(v, end, &text) : -1;
        if (tl < 0) continue;
        save_text(dir, i + n, (unsigned)(i + n) % SELECTORS, text, (size_t)tl);
        free(text);
        n++;
    }
    free(all);
    return n;
}

static void tokenizer_seeds(const char *dir)
{
    int n = 0;
    size_t n_hostile = sizeof HOSTILE_TEXTS / sizeof HOSTILE_TEXTS[0];
    for (size_t k = 0; k < n_hostile; k++, n++)
        save_text(dir, n, (unsigned)n % SELECTORS, HOSTILE_TEXTS[k].s, HOSTILE_TEXTS[k].len);
    case_texts(dir, n);
}

static const char *const HTTP_SEEDS[] = {
    "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    "Content-Length: 27\r\n\r\n{\"prompt\": \"hi\", \"n\": 1}",
    "POST /v1/chat/completions?x=1 HTTP/1.1\r\nAuthorization: Bearer k\r\nConnection: close\r\n"
    "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
    "GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /health HTTP/1.1\r\n\r\n",
    "\r\nGET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "GET / HTTP/2.0\r\n folded: line\r\n\r\n",
};

static void http_seeds(const char *dir)
{
    for (size_t i = 0; i < sizeof HTTP_SEEDS / sizeof HTTP_SEEDS[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "seed-%zu", i);
        save(dir, name, HTTP_SEEDS[i], strlen(HTTP_SEEDS[i]));
    }
}

/* Byte 0: 0 for GBNF, 1 for a JSON Schema (fuzz_grammar_input). */
static const char *const GRAMMAR_SEEDS[] = {
    "\0root ::= \"yes\" | \"no\"\n",
    "\0root ::= item (\",\" ws item)*\nitem ::= [0-9]+ | \"x\"? # c\nws ::= [ \\t]{0,3}\n",
    "\0root ::= (\"(\" root \")\")? [^a-z\\x00] . \"\\u00e9\"{2,4}\n",
    "\1{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}, \"b\": "
    "{\"type\": [\"string\", \"null\"]}}}",
    "\1{\"type\": \"array\", \"items\": {\"enum\": [\"x\", 1, null]}, \"minItems\": 1, "
    "\"maxItems\": 3}",
    "\1{\"anyOf\": [{\"const\": \"a\\\"b\"}, {\"type\": \"boolean\"}]}",
};

static void grammar_seeds(const char *dir)
{
    for (size_t i = 0; i < sizeof GRAMMAR_SEEDS / sizeof GRAMMAR_SEEDS[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "seed-%zu", i);
        save(dir, name, GRAMMAR_SEEDS[i], 1 + strlen(GRAMMAR_SEEDS[i] + 1));
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) die("usage: make_seeds gguf|tokenizer|http|grammar DIR");
    if (!strcmp(argv[1], "gguf"))
        gguf_seeds(argv[2]);
    else if (!strcmp(argv[1], "tokenizer"))
        tokenizer_seeds(argv[2]);
    else if (!strcmp(argv[1], "http"))
        http_seeds(argv[2]);
    else if (!strcmp(argv[1], "grammar"))
        grammar_seeds(argv[2]);
    else
        die("unknown corpus (gguf, tokenizer, http or grammar)");
    return 0;
}
