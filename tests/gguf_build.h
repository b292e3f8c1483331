/*
 * gguf_build.h - writes GGUF files byte by byte for tests: valid ones to
 * check the reader and the loader, and broken ones to check their errors.
 */
#ifndef BN_GGUF_BUILD_H
#define BN_GGUF_BUILD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    size_t len, cap;
} gb_buf;

void gb_bytes(gb_buf *b, const void *p, size_t n);
void gb_u32(gb_buf *b, uint32_t v);
void gb_u64(gb_buf *b, uint64_t v);
void gb_str(gb_buf *b, const char *s);
void gb_header(gb_buf *b, uint64_t n_tensors, uint64_t n_kv);
void gb_kv_u32(gb_buf *b, const char *key, uint32_t v);
void gb_kv_f32(gb_buf *b, const char *key, float v);
void gb_kv_bool(gb_buf *b, const char *key, int v);
void gb_kv_str(gb_buf *b, const char *key, const char *v);
void gb_kv_arr_str(gb_buf *b, const char *key, const char *const *v, size_t n);
void gb_tensor_info(gb_buf *b, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type,
                    uint64_t offset);
void gb_pad(gb_buf *b, size_t align);
void gb_free(gb_buf *b);
/* Writes the buffer to a fresh temporary file; returns its path (static). */
const char *gb_write_temp(const gb_buf *b, const char *tag);

#endif
