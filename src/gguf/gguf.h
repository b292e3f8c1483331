/*
 * gguf.h - reader for GGUF v3 files (docs/FORMAT.md, GGUF container).
 *
 * The file is mmap'd read-only; every key, value and tensor record is
 * validated against the file size while parsing, so the accessors below
 * never read outside the mapping. Strings point into the mapping and are
 * NOT NUL-terminated: always use their length.
 */
#ifndef BN_GGUF_H
#define BN_GGUF_H

#include <stddef.h>
#include <stdint.h>

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

enum gguf_value_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
};

/* ggml tensor types this project knows by id (docs/FORMAT.md, Type ids). */
enum ggml_type {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_Q8_K = 15,
    GGML_TYPE_I8 = 24,
    GGML_TYPE_I16 = 25,
    GGML_TYPE_I32 = 26,
    GGML_TYPE_I64 = 27,
    GGML_TYPE_F64 = 28,
    GGML_TYPE_BF16 = 30,
    GGML_TYPE_TQ1_0 = 34,
    GGML_TYPE_TQ2_0 = 35,
    GGML_TYPE_I2_S = 36,
    GGML_TYPE_TL1 = 38,
    GGML_TYPE_TL2 = 39,
    GGML_TYPE_Q1_0 = 41, /* mainline llama.cpp's binary blocks (docs/FORMAT.md, Q1_0) */
    GGML_TYPE_Q2_0 = 42, /* and its 2-bit blocks of 64 (docs/FORMAT.md, Q2_0) */
};

typedef struct {
    const char *ptr; /* into the mapping, not NUL-terminated */
    uint64_t len;
} gguf_str;

typedef struct {
    gguf_str key;
    uint32_t type; /* enum gguf_value_type */
    union {
        uint64_t u64; /* every unsigned integer type and bool */
        int64_t i64;  /* every signed integer type */
        double f64;   /* FLOAT32 and FLOAT64 */
        gguf_str str;
        struct {
            uint32_t elem_type;
            uint64_t count;
            const uint8_t *data; /* first element in the mapping */
        } arr;
    } v;
} gguf_kv;

typedef struct {
    gguf_str name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* unused dims are 1; ne[0] is contiguous */
    uint32_t type;             /* enum ggml_type */
    uint64_t offset;           /* relative to the data section */
    uint64_t n_elements;
    uint64_t n_bytes;
    const uint8_t *data; /* into the mapping; n_bytes are readable */
} gguf_tensor;

typedef struct {
    const char *path;
    const uint8_t *map;
    size_t size;
    int copied; /* map is a heap copy of the file (gguf_open_read), not a mapping */
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    uint64_t data_offset; /* start of the data section */
    /* the keys and tensor names sorted, for lookups in O(log n) */
    const gguf_str **kv_index, **tensor_index;
} gguf_file;

/* Opens and validates a file. On error returns NULL with err set to a
 * message without the file name (the caller prefixes it). */
gguf_file *gguf_open(const char *path, char *err, size_t errlen);
/* Same, but reads the whole file into memory instead of mapping it
 * (--no-mmap: for file systems where a mapping is slow or unsafe). */
gguf_file *gguf_open_read(const char *path, char *err, size_t errlen);
/* Same over a caller-owned buffer (used by fuzzers and tests). */
gguf_file *gguf_open_memory(const void *data, size_t size, char *err, size_t errlen);
void gguf_close(gguf_file *f);

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters: return 1 when found and convertible, 0 when absent,
 * -1 when present with an unusable type or out-of-range value. */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
int gguf_get_i32(const gguf_file *f, const char *key, int32_t *out);
int gguf_get_f32(const gguf_file *f, const char *key, float *out);
int gguf_get_bool(const gguf_file *f, const char *key, int *out);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* Array of the given element type: 1 found, 0 absent, -1 wrong type. */
int gguf_get_arr(const gguf_file *f, const char *key, uint32_t elem_type, const gguf_kv **out);
/* Fills out[0..count) with the strings of a string array (validated). */
void gguf_arr_strings(const gguf_kv *kv, gguf_str *out);

int gguf_str_eq(gguf_str s, const char *cstr);
/* Bytes of one value of a fixed-size metadata type; 0 for string, array
 * and unknown types. */
size_t gguf_value_size(uint32_t value_type);
/* Copies len bytes of s into out (cap bytes, always NUL-terminated when
 * cap > 0) with every byte outside printable ASCII, and the backslash,
 * written as \xNN, cut to fit; returns out. For quoting names read from
 * a file in one-line error messages. */
const char *gguf_printable(const char *s, uint64_t len, char *out, size_t cap);
const char *gguf_type_name(uint32_t ggml_type);
/* Bytes of a tensor of this type and shape; 0 for unknown types or when a
 * row is not a whole number of blocks; UINT64_MAX on overflow. */
uint64_t ggml_tensor_nbytes(uint32_t type, const int64_t ne[GGUF_MAX_DIMS]);

#endif
