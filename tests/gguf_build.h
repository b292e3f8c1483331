/*
 * gguf_build.h - the one GGUF writer of the tests, the fuzz seeds and
 * bench/gen_synthetic.c: writes GGUF files byte by byte, valid ones to
 * check the reader and the loader, broken ones to check their errors, and
 * whole synthetic models. Bytes go to a growing buffer, or straight to an
 * open file (gb_to_file) for files too large to hold in memory.
 */
#ifndef BN_GGUF_BUILD_H
#define BN_GGUF_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    uint8_t *data;
    size_t len, cap; /* len: bytes written so far, to the file too */
    FILE *file;      /* when set, bytes go to it instead of data */
    int failed;      /* a write to file failed (errno says why) */
} gb_buf;

/* A writer whose bytes go straight to f (which stays the caller's). */
gb_buf gb_to_file(FILE *f);

void gb_bytes(gb_buf *b, const void *p, size_t n);
void gb_u32(gb_buf *b, uint32_t v);
void gb_u64(gb_buf *b, uint64_t v);
void gb_str(gb_buf *b, const char *s);
void gb_header(gb_buf *b, uint64_t n_tensors, uint64_t n_kv);
/* A key/value record's key and type; its value follows. */
void gb_kv_head(gb_buf *b, const char *key, uint32_t type);
/* An array value's element type and count; its elements follow. */
void gb_arr_head(gb_buf *b, uint32_t elem_type, uint64_t n);
void gb_kv_u32(gb_buf *b, const char *key, uint32_t v);
void gb_kv_f32(gb_buf *b, const char *key, float v);
void gb_kv_bool(gb_buf *b, const char *key, int v);
void gb_kv_str(gb_buf *b, const char *key, const char *v);
void gb_kv_arr_str(gb_buf *b, const char *key, const char *const *v, size_t n);
/* An array of n fixed-size elements of elem_type (elem_size bytes each). */
void gb_kv_array(gb_buf *b, const char *key, uint32_t elem_type, const void *data, size_t n,
                 size_t elem_size);
void gb_tensor_info(gb_buf *b, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type,
                    uint64_t offset);
void gb_pad(gb_buf *b, size_t align);
void gb_free(gb_buf *b);
/* Writes the buffer to a fresh temporary file; returns its path (static). */
const char *gb_write_temp(const gb_buf *b, const char *tag);

#endif
