/*
 * gguf_build.c - the GGUF writer used by the tests (gguf_build.h).
 */
#include "gguf_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"

void gb_bytes(gb_buf *b, const void *p, size_t n)
{
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

static void kv_head(gb_buf *b, const char *key, uint32_t type)
{
    gb_str(b, key);
    gb_u32(b, type);
}

void gb_kv_u32(gb_buf *b, const char *key, uint32_t v)
{
    kv_head(b, key, GGUF_TYPE_UINT32);
    gb_u32(b, v);
}

void gb_kv_f32(gb_buf *b, const char *key, float v)
{
    kv_head(b, key, GGUF_TYPE_FLOAT32);
    gb_bytes(b, &v, 4);
}

void gb_kv_bool(gb_buf *b, const char *key, int v)
{
    uint8_t x = (uint8_t)(v != 0);
    kv_head(b, key, GGUF_TYPE_BOOL);
    gb_bytes(b, &x, 1);
}

void gb_kv_str(gb_buf *b, const char *key, const char *v)
{
    kv_head(b, key, GGUF_TYPE_STRING);
    gb_str(b, v);
}

void gb_kv_arr_str(gb_buf *b, const char *key, const char *const *v, size_t n)
{
    kv_head(b, key, GGUF_TYPE_ARRAY);
    gb_u32(b, GGUF_TYPE_STRING);
    gb_u64(b, n);
    for (size_t i = 0; i < n; i++) gb_str(b, v[i]);
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

/* The value of record i ends where the next record's key (or, for the
 * last one, the first tensor info's name) begins, minus its u64 length. */
void gb_copy_kv(gb_buf *b, const gguf_file *f, uint64_t i, const char *new_key)
{
    const gguf_kv *kv = &f->kv[i];
    const uint8_t *value = (const uint8_t *)kv->key.ptr + kv->key.len + sizeof(uint32_t);
    const char *next = i + 1 < f->n_kv ? f->kv[i + 1].key.ptr
                       : f->n_tensors ? f->tensors[0].name.ptr
                                      : (const char *)f->map + f->data_offset + sizeof(uint64_t);
    const uint8_t *end = (const uint8_t *)next - sizeof(uint64_t);
    if (new_key) {
        gb_str(b, new_key);
    } else {
        gb_u64(b, kv->key.len);
        gb_bytes(b, kv->key.ptr, kv->key.len);
    }
    gb_u32(b, kv->type);
    gb_bytes(b, value, (size_t)(end - value));
}

void gb_tensors(gb_buf *b, const gb_tensor *t, size_t n)
{
    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        gb_tensor_info(b, t[i].name, t[i].n_dims, t[i].ne, t[i].type, offset);
        offset += (t[i].n_bytes + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT *
                  GGUF_DEFAULT_ALIGNMENT;
    }
    gb_pad(b, GGUF_DEFAULT_ALIGNMENT);
    for (size_t i = 0; i < n; i++) {
        gb_bytes(b, t[i].data, t[i].n_bytes);
        gb_pad(b, GGUF_DEFAULT_ALIGNMENT);
    }
}

void gb_free(gb_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

const char *gb_write_temp(const gb_buf *b, const char *tag)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/bn-test-%s-%d.gguf", tag, (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(b->data, 1, b->len, f);
    fclose(f);
    return path;
}
