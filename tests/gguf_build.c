/*
 * gguf_build.c - the GGUF writer of the tests, fuzz seeds and benches
 * (gguf_build.h).
 */
#include "gguf_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf/gguf.h"

gb_buf gb_to_file(FILE *f)
{
    gb_buf b = {0};
    b.file = f;
    return b;
}

void gb_bytes(gb_buf *b, const void *p, size_t n)
{
    if (b->file) {
        if (fwrite(p, 1, n, b->file) != n) b->failed = 1;
        b->len += n;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n) cap *= 2;
        b->data = realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void gb_u32(gb_buf *b, uint32_t v) { gb_bytes(b, &v, 4); }
void gb_u64(gb_buf *b, uint64_t v) { gb_bytes(b, &v, 8); }

void gb_str(gb_buf *b, const char *s)
{
    gb_u64(b, strlen(s));
    gb_bytes(b, s, strlen(s));
}

void gb_header(gb_buf *b, uint64_t n_tensors, uint64_t n_kv)
{
    gb_bytes(b, "GGUF", 4);
    gb_u32(b, 3);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}

void gb_kv_head(gb_buf *b, const char *key, uint32_t type)
{
    gb_str(b, key);
    gb_u32(b, type);
}

void gb_arr_head(gb_buf *b, uint32_t elem_type, uint64_t n)
{
    gb_u32(b, elem_type);
    gb_u64(b, n);
}

void gb_kv_u32(gb_buf *b, const char *key, uint32_t v)
{
    gb_kv_head(b, key, GGUF_TYPE_UINT32);
    gb_u32(b, v);
}

void gb_kv_f32(gb_buf *b, const char *key, float v)
{
    gb_kv_head(b, key, GGUF_TYPE_FLOAT32);
    gb_bytes(b, &v, 4);
}

void gb_kv_bool(gb_buf *b, const char *key, int v)
{
    uint8_t x = (uint8_t)(v != 0);
    gb_kv_head(b, key, GGUF_TYPE_BOOL);
    gb_bytes(b, &x, 1);
}

void gb_kv_str(gb_buf *b, const char *key, const char *v)
{
    gb_kv_head(b, key, GGUF_TYPE_STRING);
    gb_str(b, v);
}

void gb_kv_arr_str(gb_buf *b, const char *key, const char *const *v, size_t n)
{
    gb_kv_head(b, key, GGUF_TYPE_ARRAY);
    gb_arr_head(b, GGUF_TYPE_STRING, n);
    for (size_t i = 0; i < n; i++) gb_str(b, v[i]);
}

void gb_kv_array(gb_buf *b, const char *key, uint32_t elem_type, const void *data, size_t n,
                 size_t elem_size)
{
    gb_kv_head(b, key, GGUF_TYPE_ARRAY);
    gb_arr_head(b, elem_type, n);
    if (n) gb_bytes(b, data, n * elem_size);
}

void gb_tensor_info(gb_buf *b, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type,
                    uint64_t offset)
{
    gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) gb_u64(b, (uint64_t)ne[i]);
    gb_u32(b, type);
    gb_u64(b, offset);
}

void gb_pad(gb_buf *b, size_t align)
{
    static const uint8_t zero[256];
    while (b->len % align) gb_bytes(b, zero, 1);
}

void gb_free(gb_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

const char *gb_write_temp(const gb_buf *b, const char *tag)
{
    /* a new name each time: Windows cannot remove or overwrite a file
     * while a model still maps it */
    static char path[256];
    static int serial;
    snprintf(path, sizeof path, "/tmp/bn-test-%s-%d-%d.gguf", tag, (int)getpid(), serial++);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(b->data, 1, b->len, f);
    fclose(f);
    return path;
}
