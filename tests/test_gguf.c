/*
 * test_gguf.c - the GGUF reader on valid files, on the bundled model, and on
 * files broken in every section (truncation, absurd counts, bad offsets).
 */
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "gguf_build.h"
#include "test.h"

#define ERR_LEN 512

/* A small valid file: every value type, a nested array, two tensors. */
static void build_valid(gb_buf *b)
{
    gb_header(b, 2, 8);
    gb_kv_str(b, "general.architecture", "test");
    gb_kv_u32(b, "test.count", 7);
    gb_kv_f32(b, "test.eps", 0.25f);
    gb_kv_bool(b, "test.flag", 1);
    const char *words[] = {"a", "bc", ""};
    gb_kv_arr_str(b, "test.words", words, 3);
    /* an array of two arrays of int16 */
    gb_kv_head(b, "test.nested", GGUF_TYPE_ARRAY);
    gb_arr_head(b, GGUF_TYPE_ARRAY, 2);
    for (int i = 0; i < 2; i++) {
        gb_arr_head(b, GGUF_TYPE_INT16, 3);
        int16_t v[3] = {1, -2, 3};
        gb_bytes(b, v, sizeof v);
    }
    gb_kv_head(b, "test.i64", GGUF_TYPE_INT64);
    gb_u64(b, (uint64_t)-5);
    gb_kv_head(b, "test.f64", GGUF_TYPE_FLOAT64);
    double d = 1.5;
    gb_bytes(b, &d, 8);
    int64_t ne_a[2] = {4, 2}, ne_b[1] = {256};
    gb_tensor_info(b, "a", 2, ne_a, GGML_TYPE_F32, 0);
    gb_tensor_info(b, "b", 1, ne_b, GGML_TYPE_I2_S, 32);
    gb_pad(b, GGUF_DEFAULT_ALIGNMENT);
    float fa[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    gb_bytes(b, fa, sizeof fa);
    uint8_t i2s[64 + 32] = {0};
    gb_bytes(b, i2s, sizeof i2s);
}

TEST(gguf_parses_every_value_type)
{
    gb_buf b = {0};
    build_valid(&b);
    char err[ERR_LEN];
    gguf_file *f = gguf_open_memory(b.data, b.len, err, sizeof err);
    CHECK_MSG(f != NULL, "open failed: %s", err);
    if (!f) return;
    uint32_t u;
    float e;
    int flag;
    gguf_str s;
    CHECK(gguf_get_u32(f, "test.count", &u) == 1 && u == 7);
    CHECK(gguf_get_f32(f, "test.eps", &e) == 1 && e == 0.25f);
    CHECK(gguf_get_bool(f, "test.flag", &flag) == 1 && flag == 1);
    CHECK(gguf_get_str(f, "general.architecture", &s) == 1 && gguf_str_eq(s, "test"));
    CHECK(gguf_get_u32(f, "test.missing", &u) == 0);
    CHECK(gguf_get_u32(f, "test.eps", &u) == -1); /* wrong type */
    CHECK(gguf_get_u32(f, "test.i64", &u) == -1); /* negative */
    int32_t i32;
    CHECK(gguf_get_i32(f, "test.i64", &i32) == 1 && i32 == -5);
    CHECK(gguf_get_f32(f, "test.f64", &e) == 1 && e == 1.5f);
    const gguf_kv *arr;
    CHECK(gguf_get_arr(f, "test.words", GGUF_TYPE_STRING, &arr) == 1);
    gguf_str w[3];
    gguf_arr_strings(arr, w);
    CHECK(gguf_str_eq(w[0], "a") && gguf_str_eq(w[1], "bc") && gguf_str_eq(w[2], ""));
    CHECK(gguf_get_arr(f, "test.nested", GGUF_TYPE_ARRAY, &arr) == 1 && arr->v.arr.count == 2);
    CHECK_EQ_INT(f->n_tensors, 2);
    const gguf_tensor *ta = gguf_find_tensor(f, "a"), *tb = gguf_find_tensor(f, "b");
    CHECK(ta && ta->ne[0] == 4 && ta->ne[1] == 2 && ta->n_bytes == 32);
    float last = 0.0f;
    if (ta) memcpy(&last, ta->data + 7 * sizeof last, sizeof last);
    CHECK(last == 7.0f);
    CHECK(tb && tb->n_bytes == 256 / 4 + 32); /* I2_S size: docs/FORMAT.md */
    CHECK(gguf_find_tensor(f, "c") == NULL);
    gguf_close(f);
    gb_free(&b);
}

TEST(gguf_truncated_at_every_byte_fails_cleanly)
{
    gb_buf b = {0};
    build_valid(&b);
    char err[ERR_LEN];
    int failures = 0;
    for (size_t n = 0; n < b.len; n++) {
        /* a private copy of exactly n bytes, so ASan sees any overread */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.data, n);
        err[0] = 0;
        gguf_file *f = gguf_open_memory(copy, n, err, sizeof err);
        if (f) {
            gguf_close(f);
        } else {
            failures += err[0] != 0;
        }
        CHECK_MSG(f == NULL, "a file truncated to %zu of %zu bytes was accepted", n, b.len);
        free(copy);
    }
    CHECK_EQ_INT(failures, b.len);
    gb_free(&b);
}

/* Opens a hand-built file and expects an error containing `want`. */
static void expect_error(gb_buf *b, const char *want)
{
    char err[ERR_LEN] = "";
    gguf_file *f = gguf_open_memory(b->data, b->len, err, sizeof err);
    CHECK_MSG(f == NULL, "accepted a file that should fail with '%s'", want);
    if (f) gguf_close(f);
    CHECK_MSG(strstr(err, want) != NULL, "error '%s' does not mention '%s'", err, want);
    gb_free(b);
}

static void one_tensor(gb_buf *b, const char *name, uint32_t n_dims, const int64_t *ne,
                       uint32_t type, uint64_t offset, size_t data_bytes)
{
    gb_header(b, 1, 0);
    gb_tensor_info(b, name, n_dims, ne, type, offset);
    gb_pad(b, GGUF_DEFAULT_ALIGNMENT);
    uint8_t *zero = calloc(1, data_bytes + 1);
    gb_bytes(b, zero, data_bytes);
    free(zero);
}

TEST(gguf_rejects_hostile_headers)
{
    gb_buf b = {0};
    gb_bytes(&b, "GGUG", 4), gb_u32(&b, 3), gb_u64(&b, 0), gb_u64(&b, 0);
    expect_error(&b, "bad magic");
    gb_bytes(&b, "GGUF", 4), gb_u32(&b, 2), gb_u64(&b, 0), gb_u64(&b, 0);
    expect_error(&b, "version 2");
    gb_header(&b, (uint64_t)1 << 63, 0);
    expect_error(&b, "tensors");
    gb_header(&b, 0, UINT64_MAX);
    expect_error(&b, "metadata keys");
    gb_header(&b, 0, 1);
    gb_u64(&b, 1000), gb_bytes(&b, "key and some more bytes", 23);
    expect_error(&b, "runs past the end");
    gb_header(&b, 0, 1);
    gb_str(&b, "k"), gb_u32(&b, 99), gb_u32(&b, 0);
    expect_error(&b, "unknown value type 99");
    gb_header(&b, 0, 1);
    gb_str(&b, "k"), gb_u32(&b, GGUF_TYPE_ARRAY), gb_u32(&b, GGUF_TYPE_UINT32),
        gb_u64(&b, (uint64_t)1 << 62);
    expect_error(&b, "array of");
    gb_header(&b, 0, 1);
    gb_kv_u32(&b, "general.alignment", 48);
    expect_error(&b, "power of two");
}

TEST(gguf_rejects_hostile_tensor_infos)
{
    gb_buf b = {0};
    int64_t ne[2] = {256, 2}, neg[2] = {256, -3};
    one_tensor(&b, "w", 2, neg, GGML_TYPE_F32, 0, 0);
    expect_error(&b, "dimension 1 is -3");
    int64_t five[5] = {256, 2, 1, 1, 1};
    one_tensor(&b, "w", 5, five, GGML_TYPE_F32, 0, 0);
    expect_error(&b, "5 dimensions");
    one_tensor(&b, "w", 2, ne, 99, 0, 4096);
    expect_error(&b, "unknown ggml type 99");
    one_tensor(&b, "w", 2, ne, GGML_TYPE_TL2, 0, 4096);
    expect_error(&b, "TL2");
    one_tensor(&b, "w", 2, ne, GGML_TYPE_F32, 0, 100);
    expect_error(&b, "runs past the end");
    one_tensor(&b, "w", 2, ne, GGML_TYPE_F32, 4, 4096);
    expect_error(&b, "alignment");
    one_tensor(&b, "w", 2, ne, GGML_TYPE_F32, (uint64_t)1 << 62, 4096);
    expect_error(&b, "runs past the end");
    int64_t odd[2] = {100, 2};
    one_tensor(&b, "w", 2, odd, GGML_TYPE_TQ2_0, 0, 4096);
    expect_error(&b, "not a multiple");
    int64_t huge[4] = {(int64_t)1 << 40, (int64_t)1 << 40, (int64_t)1 << 40, 1};
    one_tensor(&b, "w", 4, huge, GGML_TYPE_F32, 0, 64);
    expect_error(&b, "runs past the end");
    /* duplicated names */
    gb_header(&b, 2, 0);
    int64_t one[1] = {8};
    gb_tensor_info(&b, "w", 1, one, GGML_TYPE_F32, 0);
    gb_tensor_info(&b, "w", 1, one, GGML_TYPE_F32, 32);
    gb_pad(&b, 32);
    uint8_t zero[64] = {0};
    gb_bytes(&b, zero, sizeof zero);
    expect_error(&b, "appears twice");
}

TEST(gguf_reads_the_bundled_model)
{
    char err[ERR_LEN];
    gguf_file *f = gguf_open("models/bitnet-tiny.gguf", err, sizeof err);
    CHECK_MSG(f != NULL, "open failed: %s", err);
    if (!f) return;
    gguf_str arch;
    CHECK(gguf_get_str(f, "general.architecture", &arch) == 1 && gguf_str_eq(arch, "bitnet-b1.58"));
    CHECK_EQ_INT(f->alignment, GGUF_DEFAULT_ALIGNMENT);
    const gguf_tensor *q = gguf_find_tensor(f, "blk.0.attn_q.weight");
    CHECK(q && q->type == GGML_TYPE_I2_S && q->ne[0] == 512 && q->ne[1] == 512);
    CHECK(q && q->n_bytes == 512 * 512 / 4 + 32);
    gguf_close(f);
}

TEST(gguf_open_reports_missing_and_non_gguf_files)
{
    char err[ERR_LEN];
    CHECK(gguf_open("/nonexistent/model.gguf", err, sizeof err) == NULL);
    CHECK(strstr(err, "cannot open") != NULL);
    CHECK(gguf_open("/tmp", err, sizeof err) == NULL);
    CHECK(strstr(err, "not a regular file") != NULL);
    CHECK(gguf_open("Makefile", err, sizeof err) == NULL);
    CHECK(strstr(err, "bad magic") != NULL);
}
