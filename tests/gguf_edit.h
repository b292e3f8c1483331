/*
 * gguf_edit.h - model-like GGUF files for tests and fuzz seeds: an open
 * file copied into editable lists of key/value records and tensors,
 * changed one thing at a time, and written back with gguf_build.h.
 */
#ifndef BN_GGUF_EDIT_H
#define BN_GGUF_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "bitnet.h"
#include "gguf/gguf.h"
#include "gguf_build.h"

typedef struct {
    char *key;
    uint32_t type;  /* enum gguf_value_type */
    uint8_t *value; /* the value's bytes as a file holds them (after the type) */
    size_t value_len;
} ge_kv;

typedef struct {
    char *name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint32_t type; /* enum ggml_type */
    uint8_t *data; /* owned copy */
    size_t n_bytes;
    int fixed_offset; /* write `offset` instead of the next free aligned one */
    uint64_t offset;
} ge_tensor;

typedef struct {
    ge_kv *kv;
    size_t n_kv;
    ge_tensor *t;
    size_t n_t;
} ge_file;

/* Where the sections of a written file end (truncation tests). */
typedef struct {
    size_t header_end; /* magic, version and the two counts */
    size_t first_kv_end;
    size_t kv_end; /* all key/value records */
    size_t first_info_end;
    size_t info_end;   /* all tensor infos */
    size_t data_start; /* after the padding */
    size_t size;
} ge_layout;

/* Copies every record of an open file. */
void ge_from_gguf(ge_file *e, const gguf_file *f);
/* The same from a path; 0, or -1 when it does not open. */
int ge_load(ge_file *e, const char *path);
/* A deep copy of src (each test case edits its own). */
void ge_copy(ge_file *dst, const ge_file *src);
void ge_free(ge_file *e);

ge_kv *ge_find_kv(ge_file *e, const char *key);
/* Replaces the value of key (appending the key when absent). */
void ge_set_raw(ge_file *e, const char *key, uint32_t type, const void *value, size_t len);
void ge_set_u32(ge_file *e, const char *key, uint32_t v);
void ge_set_i32(ge_file *e, const char *key, int32_t v);
void ge_set_f32(ge_file *e, const char *key, float v);
void ge_set_str(ge_file *e, const char *key, const char *v);
/* An array of n fixed-size elements of elem_type (elem_size bytes each). */
void ge_set_array(ge_file *e, const char *key, uint32_t elem_type, const void *elems, size_t n,
                  size_t elem_size);
/* An array of n strings (lens[i] bytes each; NULL lens = NUL-terminated). */
void ge_set_str_array(ge_file *e, const char *key, const char *const *s, const size_t *lens,
                      size_t n);
/* The strings of a string array as NUL-terminated copies (*n of them;
 * free with ge_free_strings), or NULL when key is not one. */
char **ge_get_str_array(ge_file *e, const char *key, size_t *n);
void ge_free_strings(char **s, size_t n);
void ge_drop_kv(ge_file *e, const char *key);
/* Moves record `key` to the end (so a later record can be a duplicate). */
void ge_append_copy(ge_file *e, const char *key);

ge_tensor *ge_find_tensor(ge_file *e, const char *name);
/* Appends a tensor with a copy of data (n_bytes). */
ge_tensor *ge_add_tensor(ge_file *e, const char *name, uint32_t n_dims, const int64_t *ne,
                         uint32_t type, const void *data, size_t n_bytes);
/* Gives a tensor new contents (a copy of data). */
void ge_set_tensor_data(ge_tensor *t, const void *data, size_t n_bytes);
void ge_drop_tensor(ge_file *e, const char *name);

/* A copy of base with one edit (NULL: none), written to a temporary file
 * and loaded on one thread (tag names the file); NULL with err set when the
 * load fails. */
bn_model *ge_load_edited(const ge_file *base, void (*edit)(ge_file *e), const char *tag,
                         char err[BN_ERR_LEN]);

/* Writes the file: header with n_tensors/n_kv as counted, records, tensor
 * infos (offsets in steps of GGUF_DEFAULT_ALIGNMENT unless fixed), padding,
 * data. layout may be NULL. */
void ge_write(const ge_file *e, gb_buf *out, ge_layout *layout);

#endif
