/*
 * test_hostile.c - hostile input never crashes bitnet-run. Tables of
 * broken model files (the bundled model copied with one thing altered, or
 * cut at a section boundary) and bad command-line arguments, each run
 * through the real CLI with its exit status and the substring its one
 * "bitnet-run: error: " line must contain; plus the saved fuzzer findings
 * of tests/fuzz/regress/ replayed through the fuzz targets' own paths.
 */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitnet.h"
#include "fuzz_drivers.h"
#include "gguf_build.h"
#include "gguf_edit.h"
#include "test.h"

#define MODEL "models/bitnet-tiny.gguf"
#define ARCH "bitnet-b1.58"
#define ERROR_PREFIX "bitnet-run: error: "
#define EXIT_OK 0
#define EXIT_USAGE 1
#define EXIT_FILE 2
#define CMD_LEN 8192
#define N_TOKENS 1024   /* the bundled model's vocabulary */
#define HEADER_COUNTS 8 /* byte offset of n_tensors in a GGUF header */
#define FAR_OFFSET ((uint64_t)1 << 40)
#define HUGE_COUNT ((uint64_t)1 << 63)
#define CHAT_TEMPLATE_CUT 100 /* bytes before the end of the metadata: inside the chat template */

/* ------------------------------------------------------------ helpers */

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* Checks one run: the status, and for a failure one error line holding want. */
static void check_outcome(const char *what, int code, const char *err, int want_code,
                          const char *want)
{
    CHECK_MSG(code == want_code, "%s: exit status %d, expected %d (stderr: %s)", what, code,
              want_code, err ? err : "");
    if (want_code == EXIT_OK || !err) return;
    CHECK_MSG(!strncmp(err, ERROR_PREFIX, strlen(ERROR_PREFIX)) && count_lines(err) == 1,
              "%s: stderr is not one '" ERROR_PREFIX "' line: %s", what, err);
    CHECK_MSG(strstr(err, want) != NULL, "%s: error '%s' does not mention '%s'", what, err, want);
}

/* Runs bitnet-run with args (shell syntax) and checks the outcome. */
static void run_cli(const char *what, const char *args, int want_code, const char *want)
{
    char cmd[CMD_LEN], *err = NULL;
    snprintf(cmd, sizeof cmd, "%s %s", test_bitnet_run(), args);
    int code = test_run(cmd, NULL, &err);
    check_outcome(what, code, err, want_code, want);
    free(err);
}

/* ------------------------------------------------------ file edits */

static void set_arch_u32(ge_file *e, const char *suffix, uint32_t v)
{
    char key[128];
    snprintf(key, sizeof key, ARCH ".%s", suffix);
    ge_set_u32(e, key, v);
}

static void set_arch_f32(ge_file *e, const char *suffix, float v)
{
    char key[128];
    snprintf(key, sizeof key, ARCH ".%s", suffix);
    ge_set_f32(e, key, v);
}

/* Keeps the first n entries of a per-token array of 4-byte values. */
static void trim_array(ge_file *e, const char *key, uint32_t elem_type, size_t n)
{
    ge_kv *kv = ge_find_kv(e, key);
    uint8_t *copy = malloc(n * 4);
    memcpy(copy, kv->value + 12, n * 4); /* after elem type and count */
    ge_set_array(e, key, elem_type, copy, n, 4);
    free(copy);
}

static void trim_tokens(ge_file *e, size_t n)
{
    size_t count;
    char **tokens = ge_get_str_array(e, "tokenizer.ggml.tokens", &count);
    ge_set_str_array(e, "tokenizer.ggml.tokens", (const char *const *)tokens, NULL, n);
    ge_free_strings(tokens, count);
}

/* Replaces one merge (rank 0) by text. */
static void set_first_merge(ge_file *e, const char *text)
{
    size_t n;
    char **merges = ge_get_str_array(e, "tokenizer.ggml.merges", &n);
    free(merges[0]);
    merges[0] = strdup(text);
    ge_set_str_array(e, "tokenizer.ggml.merges", (const char *const *)merges, NULL, n);
    ge_free_strings(merges, n);
}

static ge_tensor *tensor(ge_file *e, const char *name)
{
    ge_tensor *t = ge_find_tensor(e, name);
    if (!t) test_fail(__FILE__, __LINE__, "the bundled model has no tensor %s", name);
    return t;
}

/* One edit per function: the name says what is broken. */
static void arch_qwen2(ge_file *e) { ge_set_str(e, "general.architecture", "qwen2"); }
static void arch_missing(ge_file *e) { ge_drop_kv(e, "general.architecture"); }
static void arch_with_newline(ge_file *e) { ge_set_str(e, "general.architecture", "x\ny\033[2J"); }
static void blocks_missing(ge_file *e) { ge_drop_kv(e, ARCH ".block_count"); }
static void blocks_zero(ge_file *e) { set_arch_u32(e, "block_count", 0); }
static void blocks_huge(ge_file *e) { set_arch_u32(e, "block_count", UINT32_MAX); }
static void blocks_string(ge_file *e) { ge_set_str(e, ARCH ".block_count", "4"); }
static void blocks_more_than_tensors(ge_file *e) { set_arch_u32(e, "block_count", 5); }
static void heads_not_dividing(ge_file *e) { set_arch_u32(e, "attention.head_count", 3); }
static void kv_heads_not_dividing(ge_file *e) { set_arch_u32(e, "attention.head_count_kv", 3); }
static void kv_heads_zero(ge_file *e) { set_arch_u32(e, "attention.head_count_kv", 0); }
static void rope_base_nan(ge_file *e) { set_arch_f32(e, "rope.freq_base", NAN); }
static void rms_eps_negative(ge_file *e)
{
    set_arch_f32(e, "attention.layer_norm_rms_epsilon", -1);
}
static void context_zero(ge_file *e) { set_arch_u32(e, "context_length", 0); }
static void partial_rope(ge_file *e) { set_arch_u32(e, "rope.dimension_count", 64); }
static void vocab_size_key_wrong(ge_file *e) { set_arch_u32(e, "vocab_size", 1000); }

static void rope_base_f64_huge(ge_file *e)
{
    double v = 1e300;
    ge_set_raw(e, ARCH ".rope.freq_base", GGUF_TYPE_FLOAT64, &v, sizeof v);
}

static void alignment_48(ge_file *e) { ge_set_u32(e, "general.alignment", 48); }
static void alignment_string(ge_file *e) { ge_set_str(e, "general.alignment", "32"); }
static void duplicate_key(ge_file *e) { ge_append_copy(e, "general.architecture"); }

static void value_type_unknown(ge_file *e)
{
    uint32_t v = 0;
    ge_set_raw(e, "general.extra", 99, &v, sizeof v);
}

static void string_past_eof(ge_file *e)
{
    uint64_t len = FAR_OFFSET;
    ge_set_raw(e, "general.name", GGUF_TYPE_STRING, &len, sizeof len);
}

static void array_elem_type_unknown(ge_file *e)
{
    uint32_t v = 0;
    ge_set_array(e, "general.extra", 77, &v, 1, sizeof v);
}

static void array_count_huge(ge_file *e)
{
    gb_buf b = {0};
    gb_arr_head(&b, GGUF_TYPE_UINT32, (uint64_t)1 << 60);
    ge_set_raw(e, "general.extra", GGUF_TYPE_ARRAY, b.data, b.len);
    gb_free(&b);
}

static void arrays_nested_deep(ge_file *e)
{
    gb_buf b = {0};
    const int depth = 12;
    for (int i = 0; i < depth; i++) gb_arr_head(&b, GGUF_TYPE_ARRAY, 1);
    gb_arr_head(&b, GGUF_TYPE_UINT8, 0);
    ge_set_raw(e, "general.extra", GGUF_TYPE_ARRAY, b.data, b.len);
    gb_free(&b);
}

static void tokens_short_by_one(ge_file *e)
{
    trim_tokens(e, N_TOKENS - 1);
    trim_array(e, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, N_TOKENS - 1);
    trim_array(e, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, N_TOKENS - 1);
}

static void token_types_short(ge_file *e)
{
    trim_array(e, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, N_TOKENS - 1);
}

static void token_type_unknown(ge_file *e)
{
    ge_kv *kv = ge_find_kv(e, "tokenizer.ggml.token_type");
    int32_t nine = 9;
    memcpy(kv->value + 12 + 5 * sizeof nine, &nine, sizeof nine); /* token 5 */
}

static void tokens_empty(ge_file *e)
{
    ge_set_str_array(e, "tokenizer.ggml.tokens", NULL, NULL, 0);
}
static void tokens_missing(ge_file *e) { ge_drop_kv(e, "tokenizer.ggml.tokens"); }

static void tokens_wrong_type(ge_file *e)
{
    uint32_t v[2] = {1, 2};
    ge_set_array(e, "tokenizer.ggml.tokens", GGUF_TYPE_UINT32, v, 2, sizeof v[0]);
}

static void scores_wrong_type(ge_file *e)
{
    trim_array(e, "tokenizer.ggml.scores", GGUF_TYPE_INT32, N_TOKENS);
}

static void bos_out_of_range(ge_file *e) { ge_set_u32(e, "tokenizer.ggml.bos_token_id", 5000); }
static void eos_string(ge_file *e) { ge_set_str(e, "tokenizer.ggml.eos_token_id", "2"); }
static void add_bos_u32(ge_file *e) { ge_set_u32(e, "tokenizer.ggml.add_bos_token", 1); }
static void merge_unknown_tokens(ge_file *e) { set_first_merge(e, "zzzq qqqz"); }
static void merge_without_space(ge_file *e) { set_first_merge(e, "nospace"); }
static void merges_missing(ge_file *e) { ge_drop_kv(e, "tokenizer.ggml.merges"); }
static void tokenizer_model_bert(ge_file *e) { ge_set_str(e, "tokenizer.ggml.model", "bert"); }
static void tokenizer_model_missing(ge_file *e) { ge_drop_kv(e, "tokenizer.ggml.model"); }
static void pre_unknown(ge_file *e) { ge_set_str(e, "tokenizer.ggml.pre", "qwen9"); }

static void dim_negative(ge_file *e) { tensor(e, "blk.0.attn_q.weight")->ne[1] = -512; }
static void dim_zero(ge_file *e) { tensor(e, "blk.0.attn_q.weight")->ne[1] = 0; }
static void dims_five(ge_file *e) { tensor(e, "blk.0.attn_q.weight")->n_dims = 5; }
static void type_unknown(ge_file *e) { tensor(e, "blk.0.attn_q.weight")->type = 99; }
static void type_tl2(ge_file *e) { tensor(e, "blk.0.attn_q.weight")->type = GGML_TYPE_TL2; }
static void tensor_missing(ge_file *e) { ge_drop_tensor(e, "blk.3.ffn_down.weight"); }
static void name_empty(ge_file *e) { tensor(e, "blk.1.attn_q.weight")->name[0] = 0; }

static void name_with_newline(ge_file *e)
{
    ge_tensor *t = tensor(e, "blk.1.attn_q.weight");
    free(t->name);
    t->name = strdup("evil\n\033[2Jname");
    t->type = 99;
}

static void offset_past_eof(ge_file *e)
{
    ge_tensor *t = tensor(e, "blk.0.attn_k.weight");
    t->fixed_offset = 1;
    t->offset = FAR_OFFSET;
}

static void offset_misaligned(ge_file *e)
{
    ge_tensor *t = &e->t[0];
    t->fixed_offset = 1;
    t->offset = 4;
}

/* The second tensor's data starts inside the first one's. */
static void offsets_overlap(ge_file *e)
{
    e->t[1].fixed_offset = 1;
    e->t[1].offset = 0;
}

static void name_duplicated(ge_file *e)
{
    ge_tensor *t = tensor(e, "blk.0.attn_k.weight");
    free(t->name);
    t->name = strdup("blk.0.attn_v.weight");
}

static void shape_transposed(ge_file *e)
{
    ge_tensor *t = tensor(e, "blk.0.attn_k.weight");
    int64_t c = t->ne[0];
    t->ne[0] = t->ne[1];
    t->ne[1] = c;
}

/* F16 norms are fine (BitNet-embedding's converter writes them); Q8_0 is not. */
static void norm_as_q8_0(ge_file *e)
{
    const size_t q8_0_block_bytes = 34, q8_0_block = 32;
    ge_tensor *t = tensor(e, "blk.0.attn_norm.weight");
    t->type = GGML_TYPE_Q8_0;
    ge_set_tensor_data(t, NULL, (size_t)t->ne[0] / q8_0_block * q8_0_block_bytes);
}

static void embedding_q5_0(ge_file *e)
{
    const size_t q5_0_block_bytes = 22, q5_0_block = 32;
    ge_tensor *t = tensor(e, "token_embd.weight");
    t->type = GGML_TYPE_Q5_0;
    ge_set_tensor_data(t, NULL, (size_t)(t->ne[0] * t->ne[1]) / q5_0_block * q5_0_block_bytes);
}

static void embedding_one_dim(ge_file *e)
{
    ge_tensor *t = tensor(e, "token_embd.weight");
    t->ne[0] *= t->ne[1];
    t->ne[1] = 1;
    t->n_dims = 1;
}

/* Non-finite weights are numbers to the engine: the logits go NaN, and
 * the sampler must still pick a valid token. */
static void norm_weights_nan(ge_file *e)
{
    ge_tensor *t = tensor(e, "output_norm.weight");
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < t->n_bytes / sizeof(float); i++)
        memcpy(t->data + i * sizeof(float), &bad[i % 3], sizeof(float));
}

static void i2s_scale_nan(ge_file *e)
{
    ge_tensor *t = tensor(e, "blk.2.ffn_up.weight");
    float nan = NAN;
    memcpy(t->data + (size_t)(t->ne[0] * t->ne[1] / 4), &nan, sizeof nan); /* I2_S scale */
}

/* ------------------------------------------------ written-file patches */

static void cut_in_magic(gb_buf *b, const ge_layout *l) { (void)l, b->len = 2; }
static void cut_in_header(gb_buf *b, const ge_layout *l) { b->len = l->header_end - 3; }
static void cut_after_header(gb_buf *b, const ge_layout *l) { b->len = l->header_end; }
static void cut_in_metadata(gb_buf *b, const ge_layout *l)
{
    b->len = l->kv_end - CHAT_TEMPLATE_CUT;
}
static void cut_in_last_value(gb_buf *b, const ge_layout *l) { b->len = l->kv_end - 2; }
static void cut_after_metadata(gb_buf *b, const ge_layout *l) { b->len = l->kv_end; }
static void cut_in_first_info(gb_buf *b, const ge_layout *l) { b->len = l->first_info_end - 3; }
static void cut_after_infos(gb_buf *b, const ge_layout *l) { b->len = l->info_end; }
static void cut_at_data(gb_buf *b, const ge_layout *l) { b->len = l->data_start; }
static void cut_last_byte(gb_buf *b, const ge_layout *l) { b->len = l->size - 1; }

static void patch_u64(gb_buf *b, size_t at, uint64_t v) { memcpy(b->data + at, &v, sizeof v); }

static void huge_tensor_count(gb_buf *b, const ge_layout *l)
{
    (void)l;
    patch_u64(b, HEADER_COUNTS, HUGE_COUNT);
}

static void huge_kv_count(gb_buf *b, const ge_layout *l)
{
    (void)l;
    patch_u64(b, HEADER_COUNTS + sizeof(uint64_t), HUGE_COUNT);
}

static void bad_magic(gb_buf *b, const ge_layout *l) { (void)l, memcpy(b->data, "GGUG", 4); }

static void version_2(gb_buf *b, const ge_layout *l)
{
    (void)l;
    uint32_t v = 2;
    memcpy(b->data + 4, &v, sizeof v);
}

/* The first key's length (right after the header) far past the end. */
static void key_length_huge(gb_buf *b, const ge_layout *l)
{
    patch_u64(b, l->header_end, FAR_OFFSET);
}

/* ------------------------------------------------------- the table */

typedef struct {
    const char *name;
    void (*edit)(ge_file *e);                          /* NULL: the model as it is */
    void (*patch)(gb_buf *b, const ge_layout *layout); /* NULL: the file as written */
    int code;
    const char *want; /* substring of the error line */
} file_case;

static const file_case FILE_CASES[] = {
    /* truncation at every section boundary (docs/FORMAT.md, GGUF container) */
    {"cut in the magic", NULL, cut_in_magic, EXIT_FILE, "truncated while reading the header"},
    {"cut in the header", NULL, cut_in_header, EXIT_FILE, "truncated while reading the header"},
    {"cut after the header", NULL, cut_after_header, EXIT_FILE,
     "metadata keys, more than the file can hold"},
    {"cut in the metadata", NULL, cut_in_metadata, EXIT_FILE,
     "tokenizer.chat_template: string length"},
    {"cut in the last value", NULL, cut_in_last_value, EXIT_FILE,
     "truncated while reading general.quantization_version"},
    {"cut after the metadata", NULL, cut_after_metadata, EXIT_FILE,
     "truncated while reading tensor info 0"},
    {"cut in a tensor info", NULL, cut_in_first_info, EXIT_FILE,
     "truncated while reading tensor '"},
    {"cut after the tensor infos", NULL, cut_after_infos, EXIT_FILE,
     "truncated before the tensor data"},
    {"cut at the data", NULL, cut_at_data, EXIT_FILE, "runs past the end of the file"},
    {"cut the last byte", NULL, cut_last_byte, EXIT_FILE, "runs past the end of the file"},
    /* header */
    {"bad magic", NULL, bad_magic, EXIT_FILE, "not a GGUF file"},
    {"version 2", NULL, version_2, EXIT_FILE, "version 2 is not supported"},
    {"n_tensors = 2^63", NULL, huge_tensor_count, EXIT_FILE,
     "9223372036854775808 tensors, more than the file can hold"},
    {"n_kv = 2^63", NULL, huge_kv_count, EXIT_FILE, "9223372036854775808 metadata keys"},
    /* metadata records */
    {"key length past EOF", NULL, key_length_huge, EXIT_FILE, "runs past the end of the file"},
    {"string length past EOF", string_past_eof, NULL, EXIT_FILE,
     "general.name: string length 1099511627776 runs past"},
    {"unknown value type", value_type_unknown, NULL, EXIT_FILE, "unknown value type 99"},
    {"unknown array element type", array_elem_type_unknown, NULL, EXIT_FILE,
     "unknown array element type 77"},
    {"array count 2^60", array_count_huge, NULL, EXIT_FILE,
     "array of 1152921504606846976 elements runs past"},
    {"arrays nested 13 deep", arrays_nested_deep, NULL, EXIT_FILE, "nested deeper than"},
    {"duplicated key", duplicate_key, NULL, EXIT_FILE,
     "metadata key 'general.architecture' appears twice"},
    {"alignment 48", alignment_48, NULL, EXIT_FILE, "general.alignment must be a power of two"},
    {"alignment as a string", alignment_string, NULL, EXIT_FILE,
     "general.alignment must be a power of two"},
    /* hyperparameters */
    {"unknown architecture", arch_qwen2, NULL, EXIT_FILE, "unsupported architecture 'qwen2'"},
    {"architecture with controls", arch_with_newline, NULL, EXIT_FILE, "unsupported architecture"},
    {"no architecture", arch_missing, NULL, EXIT_FILE, "missing metadata key general.architecture"},
    {"no block_count", blocks_missing, NULL, EXIT_FILE,
     "missing metadata key " ARCH ".block_count"},
    {"block_count 0", blocks_zero, NULL, EXIT_FILE, ARCH ".block_count must be an integer from 1"},
    {"block_count 2^32-1", blocks_huge, NULL, EXIT_FILE,
     ARCH ".block_count must be an integer from 1"},
    {"block_count as a string", blocks_string, NULL, EXIT_FILE,
     ARCH ".block_count must be an integer"},
    {"more layers than tensors", blocks_more_than_tensors, NULL, EXIT_FILE,
     "missing tensor blk.4.attn_q.weight"},
    {"width not a multiple of heads", heads_not_dividing, NULL, EXIT_FILE,
     "is not a multiple of head_count 3"},
    {"heads not a multiple of kv heads", kv_heads_not_dividing, NULL, EXIT_FILE,
     "is not a multiple of head_count_kv 3"},
    {"kv heads 0", kv_heads_zero, NULL, EXIT_FILE, "head_count_kv must be an integer from 1"},
    {"rope base NaN", rope_base_nan, NULL, EXIT_FILE, "rope.freq_base must be a positive float"},
    {"rope base 1e300 as f64", rope_base_f64_huge, NULL, EXIT_FILE,
     "rope.freq_base must be a positive float"},
    {"rms eps negative", rms_eps_negative, NULL, EXIT_FILE,
     "layer_norm_rms_epsilon must be a positive float"},
    {"context length 0", context_zero, NULL, EXIT_FILE, "context_length must be an integer from 1"},
    {"partial rotary", partial_rope, NULL, EXIT_FILE,
     "partial rotary embeddings are not supported"},
    {"vocab_size key wrong", vocab_size_key_wrong, NULL, EXIT_FILE,
     "vocab_size is 1000 but token_embd.weight has 1024 rows"},
    /* tensors */
    {"negative dimension", dim_negative, NULL, EXIT_FILE,
     "tensor 'blk.0.attn_q.weight': dimension 1 is -512"},
    {"zero dimension", dim_zero, NULL, EXIT_FILE, "tensor 'blk.0.attn_q.weight': dimension 1 is 0"},
    {"five dimensions", dims_five, NULL, EXIT_FILE, "5 dimensions"},
    {"offset past EOF", offset_past_eof, NULL, EXIT_FILE,
     "tensor 'blk.0.attn_k.weight': data (offset 1099511627776"},
    {"overlapping offsets", offsets_overlap, NULL, EXIT_FILE, "overlap"},
    {"misaligned offset", offset_misaligned, NULL, EXIT_FILE,
     "offset 4 is not a multiple of the alignment 32"},
    {"unknown ggml type", type_unknown, NULL, EXIT_FILE,
     "tensor 'blk.0.attn_q.weight': unknown ggml type 99"},
    {"TL2 weights", type_tl2, NULL, EXIT_FILE, "type TL2 (id 39) is not supported"},
    {"duplicated tensor name", name_duplicated, NULL, EXIT_FILE,
     "tensor 'blk.0.attn_v.weight' appears twice"},
    {"empty tensor name", name_empty, NULL, EXIT_FILE, "name length 0 is invalid"},
    {"tensor name with controls", name_with_newline, NULL, EXIT_FILE,
     "tensor 'evil\\x0a\\x1b[2Jname': unknown ggml type 99"},
    {"missing tensor", tensor_missing, NULL, EXIT_FILE, "missing tensor blk.3.ffn_down.weight"},
    {"transposed projection", shape_transposed, NULL, EXIT_FILE,
     "tensor blk.0.attn_k.weight has shape [128, 512]"},
    {"norm stored as Q8_0", norm_as_q8_0, NULL, EXIT_FILE,
     "blk.0.attn_norm.weight has type Q8_0, expected F32 (or F16, BF16)"},
    {"embedding as Q5_0", embedding_q5_0, NULL, EXIT_FILE,
     "token_embd.weight has type Q5_0, which is not supported"},
    {"embedding with one dimension", embedding_one_dim, NULL, EXIT_FILE, "token_embd.weight"},
    {"I2_S scale NaN", i2s_scale_nan, NULL, EXIT_FILE,
     "blk.2.ffn_up.weight: the I2_S scale is not finite"},
    /* vocabulary */
    {"vocabulary one short of the embedding", tokens_short_by_one, NULL, EXIT_FILE,
     "vocabulary has 1023 tokens but token_embd.weight has 1024 rows"},
    {"token types one short", token_types_short, NULL, EXIT_FILE,
     "tokenizer.ggml.token_type has 1023 entries for 1024 tokens"},
    {"unknown token type", token_type_unknown, NULL, EXIT_FILE, "token 5 has unknown token_type 9"},
    {"empty vocabulary", tokens_empty, NULL, EXIT_FILE, "tokenizer.ggml.tokens has 0 entries"},
    {"no tokens", tokens_missing, NULL, EXIT_FILE, "tokenizer.ggml.tokens is missing"},
    {"tokens as integers", tokens_wrong_type, NULL, EXIT_FILE,
     "tokenizer.ggml.tokens has the wrong type"},
    {"scores as integers", scores_wrong_type, NULL, EXIT_FILE,
     "tokenizer.ggml.scores has the wrong type"},
    {"BOS id out of range", bos_out_of_range, NULL, EXIT_FILE,
     "bos_token_id = 5000 is not below the vocabulary size 1024"},
    {"EOS id as a string", eos_string, NULL, EXIT_FILE,
     "tokenizer.ggml.eos_token_id has the wrong type"},
    {"add_bos_token as an integer", add_bos_u32, NULL, EXIT_FILE,
     "tokenizer.ggml.add_bos_token has the wrong type"},
    {"merge without a space", merge_without_space, NULL, EXIT_FILE,
     "merge 0 (\"nospace\") has no space"},
    {"no merges", merges_missing, NULL, EXIT_FILE, "tokenizer.ggml.merges is missing"},
    {"unknown tokenizer model", tokenizer_model_bert, NULL, EXIT_FILE,
     "unsupported tokenizer model 'bert'"},
    {"no tokenizer model", tokenizer_model_missing, NULL, EXIT_FILE,
     "tokenizer.ggml.model is missing"},
    {"unknown pre-tokenizer", pre_unknown, NULL, EXIT_FILE, "unsupported pre-tokenizer 'qwen9'"},
    /* accepted: a merge of texts that are not tokens can never apply (llama.cpp) */
    {"merge naming unknown tokens", merge_unknown_tokens, NULL, EXIT_OK, ""},
    {"NaN and infinite norm weights", norm_weights_nan, NULL, EXIT_OK, ""},
    {"the model unchanged", NULL, NULL, EXIT_OK, ""},
};

static void run_file_case(const file_case *c, const ge_file *model)
{
    ge_file e;
    gb_buf b = {0};
    ge_layout layout;
    /* each case edits its own copy of the model */
    ge_copy(&e, model);
    if (c->edit) c->edit(&e);
    ge_write(&e, &b, &layout);
    if (c->patch) c->patch(&b, &layout);
    const char *path = gb_write_temp(&b, "hostile");
    char args[CMD_LEN];
    snprintf(args, sizeof args, "-m %s -p 2+2= -n 2 --temp 0 -t 1", path);
    run_cli(c->name, args, c->code, c->want);
    unlink(path);
    gb_free(&b);
    ge_free(&e);
}

TEST(hostile_model_files_fail_with_one_clear_line)
{
    POSIX_SHELL_OR_SKIP();
    ge_file model;
    if (ge_load(&model, MODEL)) {
        CHECK_MSG(0, "cannot open " MODEL);
        return;
    }
    for (size_t i = 0; i < sizeof FILE_CASES / sizeof FILE_CASES[0]; i++)
        run_file_case(&FILE_CASES[i], &model);
    ge_free(&model);
}

/* ------------------------------------------------- command-line flags */

typedef struct {
    const char *args; /* after -m MODEL */
    int code;
    const char *want;
} arg_case;

static const arg_case ARG_CASES[] = {
    {"-p hi -c 100000", EXIT_USAGE, "context size 100000 exceeds the model's context length 1024"},
    {"-p hi -c 1025", EXIT_USAGE, "exceeds the model's context length"},
    {"-p hi -c -1", EXIT_USAGE, "-c expects an integer"},
    {"-p hi -c 99999999999999999999", EXIT_USAGE, "-c expects an integer"},
    {"-p hi -t 0", EXIT_USAGE, "-t expects an integer from 1"},
    {"-p hi -t 10000", EXIT_USAGE, "-t expects an integer from 1"},
    {"-p hi -t 1.5", EXIT_USAGE, "-t expects an integer"},
    {"-p hi -n -5", EXIT_USAGE, "-n expects an integer from -1"},
    {"-p hi -n 1e9", EXIT_USAGE, "-n expects an integer"},
    {"-p hi -b 0", EXIT_USAGE, "-b expects an integer from 1"},
    {"-p hi --temp nan", EXIT_USAGE, "--temp expects a number"},
    {"-p hi --temp inf", EXIT_USAGE, "--temp expects a number"},
    {"-p hi --temp -1", EXIT_USAGE, "--temp expects a number"},
    {"-p hi --temp ''", EXIT_USAGE, "--temp expects a number"},
    {"-p hi --top-p 1.5", EXIT_USAGE, "--top-p expects a number"},
    {"-p hi --top-p nan", EXIT_USAGE, "--top-p expects a number"},
    {"-p hi --min-p -nan", EXIT_USAGE, "--min-p expects a number"},
    {"-p hi --top-k -3", EXIT_USAGE, "--top-k expects an integer"},
    {"-p hi --repeat-penalty 0", EXIT_USAGE, "--repeat-penalty expects a number"},
    {"-p hi --repeat-last-n -2", EXIT_USAGE, "--repeat-last-n expects an integer"},
    {"-p hi --seed abc", EXIT_USAGE, "--seed expects"},
    {"-p hi --parallel 0", EXIT_USAGE, "--parallel expects an integer"},
    {"-p hi --stop ''", EXIT_USAGE, "--stop needs a non-empty string"},
    {"-p hi --kernel bogus", EXIT_USAGE, "unknown kernel 'bogus'"},
    {"-p hi --lm-head q3_k", EXIT_USAGE, "unknown lm-head type 'q3_k'"},
    {"-p hi --pre bogus", EXIT_USAGE, "unknown pre-tokenizer 'bogus'"},
    {"-p hi --frobnicate", EXIT_USAGE, "unknown argument '--frobnicate'"},
    {"-p", EXIT_USAGE, "-p needs a value"},
    {"-p hi --chat --json", EXIT_USAGE, "--json does not apply to --chat"},
    {"-p hi -f /dev/null", EXIT_USAGE, "not both"},
    {"--detokenize -p 5000", EXIT_USAGE, "'5000' is not a token id"},
    {"--detokenize -p -1", EXIT_USAGE, "'-1' is not a token id"},
    {"-f /nonexistent/prompt.txt", EXIT_FILE, "/nonexistent/prompt.txt"},
    /* a prompt longer than the context */
    {"-c 8 -p 'one two three four five six seven eight nine ten'", EXIT_USAGE,
     "but the context holds 8"},
    /* invalid UTF-8 is text like any other (U+FFFD per bad byte:
     * docs/TOKENIZERS.md, Byte-level BPE) */
    {"-p \"$(printf '\\377\\376\\300\\200')\" -n 2 --temp 0", EXIT_OK, ""},
    {"--tokenize -p \"$(printf 'a\\355\\240\\200b')\"", EXIT_OK, ""},
};

TEST(hostile_flags_are_usage_errors)
{
    POSIX_SHELL_OR_SKIP();
    for (size_t i = 0; i < sizeof ARG_CASES / sizeof ARG_CASES[0]; i++) {
        char args[CMD_LEN];
        snprintf(args, sizeof args, "-m " MODEL " -t 1 %s", ARG_CASES[i].args);
        run_cli(ARG_CASES[i].args, args, ARG_CASES[i].code, ARG_CASES[i].want);
    }
}

TEST(hostile_model_paths_are_file_errors)
{
    POSIX_SHELL_OR_SKIP();
    char empty[] = "/tmp/bn-hostile-empty-XXXXXX";
    int fd = mkstemp(empty);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    char args[CMD_LEN];
    snprintf(args, sizeof args, "-m %s -p hi", empty);
    run_cli("empty model file", args, EXIT_FILE, "file is empty");
    unlink(empty);
    run_cli("no model", "-p hi", EXIT_USAGE, "no model given");
    run_cli("missing model", "-m /nonexistent/m.gguf -p hi", EXIT_FILE, "cannot open");
    run_cli("directory as model", "-m /tmp -p hi", EXIT_FILE, "not a regular file");
    run_cli("text file as model", "-m Makefile -p hi", EXIT_FILE, "not a GGUF file");
}

/* -------------------------------------------------- fuzzer findings */

typedef const char *(*fuzz_driver)(const uint8_t *data, size_t size);

/* Feeds every file of dir to the driver its fuzzer used; returns how many. */
static int replay_dir(const char *dir, fuzz_driver driver)
{
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open %s", dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *ent; (ent = readdir(d));) {
        if (ent->d_name[0] == '.') continue;
        char path[CMD_LEN];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        char *data = test_read_file(path, &len);
        if (!data) continue;
        /* an exact-size copy, so ASan sees any over-read */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, data, len);
        const char *bad = driver(exact, len);
        CHECK_MSG(bad == NULL, "%s: %s", path, bad);
        free(exact);
        free(data);
        n++;
    }
    closedir(d);
    return n;
}

TEST(hostile_fuzz_findings_stay_fixed)
{
    CHECK(replay_dir("tests/fuzz/regress/gguf", fuzz_gguf_input) > 0);
    CHECK(fuzz_tokenizer_init() > 0);
    CHECK(replay_dir("tests/fuzz/regress/tokenizer", fuzz_tokenizer_input) > 0);
    fuzz_tokenizer_done();
    CHECK(replay_dir("tests/fuzz/regress/http", fuzz_http_input) > 0);
    CHECK(replay_dir("tests/fuzz/regress/grammar", fuzz_grammar_input) > 0);
}

/* ------------------------------------------------------- through the API */

/* bitnet.h promises a one-line message; the CLI escapes control bytes
 * itself, but other programs print err as it is. */
TEST(hostile_api_errors_are_one_line)
{
    ge_file e;
    if (ge_load(&e, MODEL)) {
        CHECK_MSG(0, "cannot open " MODEL);
        return;
    }
    void (*const edits[])(ge_file *) = {arch_with_newline, name_with_newline};
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        ge_file copy;
        gb_buf b = {0};
        ge_copy(&copy, &e);
        edits[i](&copy);
        ge_write(&copy, &b, NULL);
        const char *path = gb_write_temp(&b, "hostile-api");
        char err[BN_ERR_LEN] = "";
        bn_model *m = bn_model_load(path, NULL, err);
        CHECK(m == NULL);
        bn_model_free(m);
        CHECK_MSG(err[0] && !strpbrk(err, "\n\r\033"), "error with control bytes: %s", err);
        unlink(path);
        gb_free(&b);
        ge_free(&copy);
    }
    ge_free(&e);
}

/* ------------------------------------------------------- batch input */

/* A batch mixing good and hostile lines: each bad line is reported with
 * its number, and every good one still gets its result, in input order. */
typedef struct {
    const char *line;
    int ok; /* 1: a result with "text"; 0: an "error" */
} batch_line;

static const batch_line BATCH[] = {
    {"2+2=", 1},
    {"{\"prompt\": 5}", 0},
    {"3+3=", 1},
    {"{bad json", 0},
    {"{\"prompt\": \"1+1=\", \"n_predict\": -7}", 0},
    {"{\"prompt\": \"1+1=\", \"temp\": 1e999}", 0},
    {"{\"prompt\": \"1+1=\", \"seed\": -3}", 0},
    {"one two three four five six seven eight nine ten eleven twelve thirteen", 0}, /* > -c */
    {"\xFF\xFE=\xC0\x80", 1}, /* invalid UTF-8 */
    {"5+5=", 1},
};

static void write_batch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    for (size_t i = 0; i < sizeof BATCH / sizeof BATCH[0]; i++) fprintf(f, "%s\n", BATCH[i].line);
    fclose(f);
}

TEST(hostile_batch_lines_lose_no_results)
{
    POSIX_SHELL_OR_SKIP();
    char path[] = "/tmp/bn-hostile-batch-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    write_batch(path);
    char cmd[CMD_LEN], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "%s -m " MODEL " -t 1 -c 16 -n 4 --temp 0 --batch %s",
             test_bitnet_run(), path);
    int code = test_run(cmd, &out, &err);
    CHECK_MSG(code == EXIT_FILE, "exit status %d, expected %d", code, EXIT_FILE);
    const char *p = out ? out : "";
    for (size_t i = 0; i < sizeof BATCH / sizeof BATCH[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"line\": %zu, ", i + 1);
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        CHECK_MSG(!strncmp(p, want, strlen(want)), "result %zu does not start with %s: %.*s", i + 1,
                  want, (int)n, p);
        const char *field = BATCH[i].ok ? "\"text\":" : "\"error\":";
        CHECK_MSG(memmem(p, n, field, strlen(field)) != NULL, "line %zu (%s): no %s in %.*s", i + 1,
                  BATCH[i].line, field, (int)n, p);
        snprintf(want, sizeof want, "%s:%zu: ", path, i + 1);
        CHECK_MSG(BATCH[i].ok || (err && strstr(err, want)), "stderr does not name %s", want);
        p += n + (eol != NULL);
    }
    CHECK_MSG(*p == 0, "more output than lines: %s", p);
    free(out);
    free(err);
    unlink(path);
}

/* ------------------------------------------------------ reader limits */

/* Opens a buffer that must fail with an error holding want. */
static void expect_reader_error(const gb_buf *b, const char *want)
{
    char err[BN_ERR_LEN] = "";
    gguf_file *f = gguf_open_memory(b->data, b->len, err, sizeof err);
    CHECK_MSG(f == NULL, "a file that should fail with '%s' was accepted", want);
    gguf_close(f);
    CHECK_MSG(strstr(err, want) != NULL, "error '%s' does not mention '%s'", err, want);
}

TEST(hostile_reader_limits)
{
    gb_buf b = {0};
    /* a key longer than the 65535 bytes GGUF allows */
    const size_t long_key = 65536;
    char *key = malloc(long_key + 1);
    memset(key, 'k', long_key);
    key[long_key] = 0;
    gb_header(&b, 0, 1);
    gb_kv_u32(&b, key, 1);
    expect_reader_error(&b, "is 65536 bytes long");
    free(key);
    gb_free(&b);
    /* more records than the bytes left could hold, counted together */
    gb_header(&b, 3, 3);
    gb_bytes(&b, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64);
    expect_reader_error(&b, "more than the file can hold");
    gb_free(&b);
    /* a finite double outside float's range is out of range, not infinity */
    gb_header(&b, 0, 2);
    double big = 1e300, inf = INFINITY;
    gb_kv_head(&b, "big", GGUF_TYPE_FLOAT64), gb_bytes(&b, &big, sizeof big);
    gb_kv_head(&b, "inf", GGUF_TYPE_FLOAT64), gb_bytes(&b, &inf, sizeof inf);
    char err[BN_ERR_LEN];
    gguf_file *f = gguf_open_memory(b.data, b.len, err, sizeof err);
    CHECK_MSG(f != NULL, "open failed: %s", err);
    float x = 0.0f;
    CHECK(f && gguf_get_f32(f, "big", &x) == -1);
    CHECK(f && gguf_get_f32(f, "inf", &x) == 1 && isinf(x));
    gguf_close(f);
    gb_free(&b);
}

TEST(hostile_names_are_escaped_in_messages)
{
    char out[16];
    CHECK(!strcmp(gguf_printable("a\nb\\c", 5, out, sizeof out), "a\\x0ab\\x5cc"));
    /* cut to fit, never inside an escape, always terminated */
    CHECK(!strcmp(gguf_printable("abc\x1b", 4, out, 6), "abc"));
    CHECK(!strcmp(gguf_printable("\xff\xfe", 2, out, 5), "\\xff"));
    CHECK(!strcmp(gguf_printable("xyz", 3, out, 1), ""));
}

/* Tensor and key lookups stay right (and fast) with many records; a
 * duplicate among 50000 names is found without a quadratic scan. */
enum { MANY = 50000, MANY_ELEMS = 8, MANY_STEP = 997, SCRAMBLE = 7919 };

/* MANY keys (out of order) and MANY one-row F32 tensors named t.MANY-1 ..
 * t.0; with `duplicate` the last tensor is named like the first. Returns
 * where the data section starts. */
static size_t build_many(gb_buf *b, int duplicate)
{
    char name[32];
    gb_header(b, MANY, MANY);
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof name, "key.%d", (i * SCRAMBLE) % MANY);
        gb_kv_u32(b, name, (uint32_t)i);
    }
    const int64_t ne[1] = {MANY_ELEMS};
    const size_t bytes = MANY_ELEMS * sizeof(float);
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof name, "t.%d", duplicate && i == MANY - 1 ? MANY - 1 : MANY - 1 - i);
        gb_tensor_info(b, name, 1, ne, GGML_TYPE_F32, (uint64_t)i * bytes);
    }
    gb_pad(b, GGUF_DEFAULT_ALIGNMENT);
    size_t data_start = b->len;
    uint8_t *zero = calloc(MANY, bytes);
    gb_bytes(b, zero, (size_t)MANY * bytes);
    free(zero);
    return data_start;
}

TEST(hostile_many_records)
{
    gb_buf b = {0};
    const size_t data_start = build_many(&b, 0), bytes = MANY_ELEMS * sizeof(float);
    char err[BN_ERR_LEN], name[32];
    gguf_file *f = gguf_open_memory(b.data, b.len, err, sizeof err);
    CHECK_MSG(f != NULL, "open failed: %s", err);
    for (int i = 0; f && i < MANY; i += MANY_STEP) {
        uint32_t v;
        snprintf(name, sizeof name, "key.%d", (i * SCRAMBLE) % MANY);
        CHECK(gguf_get_u32(f, name, &v) == 1 && v == (uint32_t)i);
        snprintf(name, sizeof name, "t.%d", MANY - 1 - i);
        const gguf_tensor *t = gguf_find_tensor(f, name);
        CHECK(t && t->data == f->map + data_start + (size_t)i * bytes);
    }
    CHECK(f && !gguf_find_tensor(f, "t.50000") && !gguf_find_kv(f, "key") && !gguf_find_kv(f, ""));
    gguf_close(f);
    gb_free(&b);
    build_many(&b, 1);
    expect_reader_error(&b, "tensor 't.49999' appears twice");
    gb_free(&b);
}

/* Logits that are NaN, infinite or huge still give a token id in range,
 * with every sampling setting (a model with broken weights produces them). */
TEST(hostile_logits_give_valid_ids)
{
    enum { N_VOCAB = 100, N_DRAWS = 5 };
    const float fills[] = {NAN, INFINITY, -INFINITY, 1e38f, -1e38f};
    const float temps[] = {0.0f, 0.8f, INFINITY, 1e-30f};
    float logits[N_VOCAB];
    for (size_t f = 0; f < 2 * sizeof fills / sizeof fills[0]; f++) {
        for (int i = 0; i < N_VOCAB; i++) /* all one value, or mixed with ordinary ones */
            logits[i] = f >= 5 && i % 3 == 0 ? (float)i : fills[f % 5];
        for (size_t t = 0; t < sizeof temps / sizeof temps[0]; t++) {
            bn_sampler_params p = bn_sampler_default_params();
            p.temp = temps[t];
            p.top_k = t == 1 ? 40 : 0;
            p.top_p = t == 2 ? 0.5f : 1.0f;
            p.min_p = t == 3 ? 0.1f : 0.0f;
            p.repeat_penalty = 1.3f;
            bn_sampler *s = bn_sampler_new(&p, N_VOCAB);
            CHECK(s != NULL);
            for (int k = 0; s && k < N_DRAWS; k++) {
                int32_t id = bn_sampler_sample(s, logits);
                CHECK_MSG(id >= 0 && id < N_VOCAB, "fill %zu, temp %g: id %d", f, temps[t], id);
                bn_sampler_accept(s, id);
            }
            bn_sampler_free(s);
        }
    }
}
