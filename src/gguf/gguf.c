/*
 * gguf.c - GGUF v3 reader (docs/FORMAT.md, GGUF container).
 *
 * The whole file is mapped read-only and parsed once with a bounds-checked
 * cursor: every count, length and offset is checked against the bytes that
 * remain before it is used, so a truncated or hostile file ends in an error
 * message, never an out-of-bounds read. Arrays are validated (and skipped)
 * element by element, nested arrays included, up to a fixed depth.
 *
 * Limits, all derived from the file size: the header's counts must fit the
 * bytes left (at least MIN_KV_BYTES per key, MIN_INFO_BYTES per tensor),
 * so the two record arrays allocated here stay within a few times the
 * file; every string and array must end inside the file; every tensor's
 * byte size is computed with overflow checks and must lie in the data
 * section without overlapping another. Keys and tensor names are unique.
 * Names quoted in errors are escaped (gguf_printable): a hostile file
 * cannot break the one-line message or send terminal controls.
 */
#include "gguf.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/platform.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_VERSION 3
#define GGUF_MAX_ARRAY_DEPTH 8        /* nested arrays deeper than this are refused */
#define GGUF_MAX_ALIGNMENT (1u << 20) /* larger alignments are not plausible */
#define GGUF_MAX_NAME 256             /* longest tensor name accepted (ggml allows 64) */
#define GGUF_MAX_KEY 65535            /* longest key GGUF allows (2^16 - 1 bytes) */
#define MIN_KV_BYTES 13               /* key length (8), type (4), the smallest value (1) */
#define MIN_INFO_BYTES                                                                             \
    33                 /* name length (8) + 1 byte, n_dims (4), one dim (8), type (4), offset (8) */
#define SHOWN_NAME 128 /* bytes of buffer for a name quoted in an error */

typedef struct {
    const uint8_t *p, *end;
    char *err;
    size_t errlen;
    int failed;
} cursor;

static int fail(cursor *c, const char *fmt, ...)
{
    if (!c->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    c->failed = 1;
    return -1;
}

static size_t remaining(const cursor *c) { return (size_t)(c->end - c->p); }

const char *gguf_printable(const char *s, uint64_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const size_t escaped = 4; /* "\xNN" */
    size_t n = 0;
    for (uint64_t i = 0; i < len && cap > 0; i++) {
        unsigned char ch = (unsigned char)s[i];
        int plain = ch >= 0x20 && ch < 0x7F && ch != '\\';
        if (n + (plain ? 1 : escaped) >= cap) break; /* cut: keep the NUL */
        if (plain) {
            out[n++] = (char)ch;
        } else {
            out[n++] = '\\', out[n++] = 'x', out[n++] = hex[ch >> 4], out[n++] = hex[ch & 15];
        }
    }
    if (cap) out[n] = 0;
    return out;
}

static int take(cursor *c, void *out, size_t n, const char *what)
{
    if (remaining(c) < n) return fail(c, "file truncated while reading %s", what);
    memcpy(out, c->p, n);
    c->p += n;
    return 0;
}

static int skip(cursor *c, uint64_t n, const char *what)
{
    if (remaining(c) < n) return fail(c, "file truncated while reading %s", what);
    c->p += n;
    return 0;
}

static int read_u32(cursor *c, uint32_t *v, const char *what) { return take(c, v, 4, what); }
static int read_u64(cursor *c, uint64_t *v, const char *what) { return take(c, v, 8, what); }

static int read_str(cursor *c, gguf_str *s, const char *what)
{
    uint64_t len = 0;
    if (read_u64(c, &len, what)) return -1;
    if (len > remaining(c))
        return fail(c, "%s: string length %llu runs past the end of the file", what,
                    (unsigned long long)len);
    s->ptr = (const char *)c->p;
    s->len = len;
    c->p += len;
    return 0;
}

size_t gguf_value_size(uint32_t type)
{
    switch (type) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64:
    case GGUF_TYPE_INT64:
    case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

static int skip_array(cursor *c, uint32_t elem_type, uint64_t count, int depth, const char *key);

/* Validates one value of `type` at the cursor and moves past it. */
static int skip_value(cursor *c, uint32_t type, int depth, const char *key)
{
    size_t sz = gguf_value_size(type);
    if (sz) return skip(c, sz, key);
    if (type == GGUF_TYPE_STRING) {
        gguf_str s;
        return read_str(c, &s, key);
    }
    if (type == GGUF_TYPE_ARRAY) {
        uint32_t et = 0;
        uint64_t n = 0;
        if (read_u32(c, &et, key) || read_u64(c, &n, key)) return -1;
        return skip_array(c, et, n, depth + 1, key);
    }
    return fail(c, "key '%s': unknown value type %u", key, type);
}

static int skip_array(cursor *c, uint32_t elem_type, uint64_t count, int depth, const char *key)
{
    if (depth > GGUF_MAX_ARRAY_DEPTH)
        return fail(c, "key '%s': arrays nested deeper than %d", key, GGUF_MAX_ARRAY_DEPTH);
    size_t sz = gguf_value_size(elem_type);
    if (sz) {
        if (count > remaining(c) / sz)
            return fail(c, "key '%s': array of %llu elements runs past the end of the file", key,
                        (unsigned long long)count);
        c->p += count * sz;
        return 0;
    }
    if (elem_type != GGUF_TYPE_STRING && elem_type != GGUF_TYPE_ARRAY)
        return fail(c, "key '%s': unknown array element type %u", key, elem_type);
    /* every string or nested array takes at least 8 bytes */
    if (count > remaining(c) / 8)
        return fail(c, "key '%s': array of %llu elements runs past the end of the file", key,
                    (unsigned long long)count);
    for (uint64_t i = 0; i < count; i++)
        if (skip_value(c, elem_type, depth, key)) return -1;
    return 0;
}

static int read_kv(cursor *c, gguf_kv *kv)
{
    char key[SHOWN_NAME];
    if (read_str(c, &kv->key, "a metadata key")) return -1;
    gguf_printable(kv->key.ptr, kv->key.len, key, sizeof key);
    if (kv->key.len > GGUF_MAX_KEY)
        return fail(c, "metadata key '%s...' is %llu bytes long (at most %d)", key,
                    (unsigned long long)kv->key.len, GGUF_MAX_KEY);
    if (read_u32(c, &kv->type, key)) return -1;
    const uint8_t *start = c->p;
    if (kv->type == GGUF_TYPE_STRING) return read_str(c, &kv->v.str, key);
    if (kv->type == GGUF_TYPE_ARRAY) {
        if (read_u32(c, &kv->v.arr.elem_type, key) || read_u64(c, &kv->v.arr.count, key)) return -1;
        kv->v.arr.data = c->p;
        return skip_array(c, kv->v.arr.elem_type, kv->v.arr.count, 1, key);
    }
    if (skip_value(c, kv->type, 0, key)) return -1;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    float f32;
    double f64;
    switch (kv->type) {
    case GGUF_TYPE_UINT8: kv->v.u64 = *start; break;
    case GGUF_TYPE_BOOL: kv->v.u64 = *start != 0; break;
    case GGUF_TYPE_INT8: kv->v.i64 = (int8_t)*start; break;
    case GGUF_TYPE_UINT16:
        memcpy(&u16, start, 2);
        kv->v.u64 = u16;
        break;
    case GGUF_TYPE_INT16:
        memcpy(&u16, start, 2);
        kv->v.i64 = (int16_t)u16;
        break;
    case GGUF_TYPE_UINT32:
        memcpy(&u32, start, 4);
        kv->v.u64 = u32;
        break;
    case GGUF_TYPE_INT32:
        memcpy(&u32, start, 4);
        kv->v.i64 = (int32_t)u32;
        break;
    case GGUF_TYPE_FLOAT32:
        memcpy(&f32, start, 4);
        kv->v.f64 = f32;
        break;
    case GGUF_TYPE_UINT64:
        memcpy(&u64, start, 8);
        kv->v.u64 = u64;
        break;
    case GGUF_TYPE_INT64:
        memcpy(&u64, start, 8);
        kv->v.i64 = (int64_t)u64;
        break;
    case GGUF_TYPE_FLOAT64:
        memcpy(&f64, start, 8);
        kv->v.f64 = f64;
        break;
    default: break;
    }
    return 0;
}

/* ------------------------------------------------------------ tensor types */

typedef struct {
    const char *name;
    uint32_t block; /* elements per block; 0 = unknown/unsupported */
    uint32_t bytes; /* bytes per block */
} type_info;

static type_info ggml_type_info(uint32_t type)
{
    switch (type) {
    case GGML_TYPE_F32: return (type_info){"F32", 1, 4};
    case GGML_TYPE_F16: return (type_info){"F16", 1, 2};
    case GGML_TYPE_Q4_0: return (type_info){"Q4_0", 32, 18};
    case GGML_TYPE_Q4_1: return (type_info){"Q4_1", 32, 20};
    case GGML_TYPE_Q5_0: return (type_info){"Q5_0", 32, 22};
    case GGML_TYPE_Q5_1: return (type_info){"Q5_1", 32, 24};
    case GGML_TYPE_Q8_0: return (type_info){"Q8_0", 32, 34};
    case GGML_TYPE_Q8_1: return (type_info){"Q8_1", 32, 36};
    case GGML_TYPE_Q2_K: return (type_info){"Q2_K", 256, 84};
    case GGML_TYPE_Q3_K: return (type_info){"Q3_K", 256, 110};
    case GGML_TYPE_Q4_K: return (type_info){"Q4_K", 256, 144};
    case GGML_TYPE_Q5_K: return (type_info){"Q5_K", 256, 176};
    case GGML_TYPE_Q6_K: return (type_info){"Q6_K", 256, 210};
    case GGML_TYPE_Q8_K: return (type_info){"Q8_K", 256, 292};
    case GGML_TYPE_I8: return (type_info){"I8", 1, 1};
    case GGML_TYPE_I16: return (type_info){"I16", 1, 2};
    case GGML_TYPE_I32: return (type_info){"I32", 1, 4};
    case GGML_TYPE_I64: return (type_info){"I64", 1, 8};
    case GGML_TYPE_F64: return (type_info){"F64", 1, 8};
    case GGML_TYPE_BF16: return (type_info){"BF16", 1, 2};
    case GGML_TYPE_TQ1_0: return (type_info){"TQ1_0", 256, 54};
    case GGML_TYPE_TQ2_0: return (type_info){"TQ2_0", 256, 66};
    case GGML_TYPE_I2_S: return (type_info){"I2_S", 4, 1}; /* + 32: docs/FORMAT.md, I2_S */
    case GGML_TYPE_TL1: return (type_info){"TL1", 0, 0};
    case GGML_TYPE_TL2: return (type_info){"TL2", 0, 0};
    case GGML_TYPE_Q1_0: return (type_info){"Q1_0", 128, 18};
    case GGML_TYPE_Q2_0: return (type_info){"Q2_0", 64, 18};
    default: return (type_info){NULL, 0, 0};
    }
}

#define I2S_TAIL_BYTES 32 /* f32 scale + 28 bytes of filler after the codes */

const char *gguf_type_name(uint32_t type)
{
    const char *n = ggml_type_info(type).name;
    return n ? n : "unknown";
}

uint64_t ggml_tensor_nbytes(uint32_t type, const int64_t ne[GGUF_MAX_DIMS])
{
    type_info ti = ggml_type_info(type);
    if (!ti.block) return 0;
    if (ne[0] % ti.block) return 0;
    uint64_t n = 1;
    for (int i = 0; i < GGUF_MAX_DIMS; i++) {
        if (ne[i] < 0) return 0;
        if (ne[i] && n > UINT64_MAX / (uint64_t)ne[i]) return UINT64_MAX;
        n *= (uint64_t)ne[i];
    }
    uint64_t blocks = n / ti.block;
    if (blocks > UINT64_MAX / ti.bytes) return UINT64_MAX;
    uint64_t bytes = blocks * ti.bytes;
    if (type == GGML_TYPE_I2_S) bytes += I2S_TAIL_BYTES;
    return bytes;
}

static int read_tensor_info(cursor *c, gguf_tensor *t, uint64_t index)
{
    char what[SHOWN_NAME + 16], name[SHOWN_NAME];
    snprintf(what, sizeof what, "tensor info %llu", (unsigned long long)index);
    if (read_str(c, &t->name, what)) return -1;
    if (t->name.len == 0 || t->name.len > GGUF_MAX_NAME)
        return fail(c, "%s: name length %llu is invalid", what, (unsigned long long)t->name.len);
    snprintf(what, sizeof what, "tensor '%s'",
             gguf_printable(t->name.ptr, t->name.len, name, sizeof name));
    if (read_u32(c, &t->n_dims, what)) return -1;
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return fail(c, "%s: %u dimensions (expected 1 to %d)", what, t->n_dims, GGUF_MAX_DIMS);
    for (int i = 0; i < GGUF_MAX_DIMS; i++) t->ne[i] = 1;
    for (uint32_t i = 0; i < t->n_dims; i++) {
        if (take(c, &t->ne[i], 8, what)) return -1;
        if (t->ne[i] <= 0) return fail(c, "%s: dimension %u is %lld", what, i, (long long)t->ne[i]);
    }
    if (read_u32(c, &t->type, what) || read_u64(c, &t->offset, what)) return -1;
    return 0;
}

/* Checks a tensor's type, size and placement once the data section is known. */
static int place_tensor(cursor *c, gguf_file *f, gguf_tensor *t)
{
    char nm[SHOWN_NAME];
    gguf_printable(t->name.ptr, t->name.len, nm, sizeof nm);
    type_info ti = ggml_type_info(t->type);
    if (!ti.name) return fail(c, "tensor '%s': unknown ggml type %u", nm, t->type);
    if (!ti.block)
        return fail(c,
                    "tensor '%s': type %s (id %u) is not supported (TL1/TL2 depend on the "
                    "build that wrote them; use I2_S)",
                    nm, ti.name, t->type);
    if (t->ne[0] % ti.block)
        return fail(c, "tensor '%s': row length %lld is not a multiple of the %s block size %u", nm,
                    (long long)t->ne[0], ti.name, ti.block);
    t->n_bytes = ggml_tensor_nbytes(t->type, t->ne);
    t->n_elements = 1;
    for (int i = 0; i < GGUF_MAX_DIMS; i++)
        if (__builtin_mul_overflow(t->n_elements, (uint64_t)t->ne[i], &t->n_elements)) {
            t->n_bytes = UINT64_MAX;
            break;
        }
    uint64_t data_size = f->size - f->data_offset;
    if (t->offset % f->alignment)
        return fail(c, "tensor '%s': offset %llu is not a multiple of the alignment %u", nm,
                    (unsigned long long)t->offset, f->alignment);
    if (t->n_bytes == UINT64_MAX || t->offset > data_size || t->n_bytes > data_size - t->offset)
        return fail(c, "tensor '%s': data (offset %llu, %llu bytes) runs past the end of the file",
                    nm, (unsigned long long)t->offset, (unsigned long long)t->n_bytes);
    t->data = f->map + f->data_offset + t->offset;
    return 0;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    const gguf_str *x = *(const gguf_str *const *)a, *y = *(const gguf_str *const *)b;
    size_t n = (size_t)(x->len < y->len ? x->len : y->len);
    int r = n ? memcmp(x->ptr, y->ptr, n) : 0;
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* Sorts pointers to the n strings at first, first + stride, ... into a new
 * *index (for binary-search lookups) and fails when two are equal (`what`
 * names them). Sorting keeps a hostile file with hundreds of thousands of
 * records from taking quadratic time to check or to query. */
static int build_index(cursor *c, const gguf_str *first, uint64_t n, size_t stride,
                       const char *what, const gguf_str ***index)
{
    const gguf_str **v = malloc((size_t)(n ? n : 1) * sizeof(const gguf_str *));
    if (!v) return fail(c, "out of memory");
    *index = v;
    for (uint64_t i = 0; i < n; i++)
        v[i] = (const gguf_str *)((const char *)first + (size_t)i * stride);
    qsort(v, (size_t)n, sizeof(const gguf_str *), cmp_str_ptr);
    for (uint64_t i = 1; i < n; i++)
        if (!cmp_str_ptr(&v[i - 1], &v[i])) {
            char nm[SHOWN_NAME];
            return fail(c, "%s '%s' appears twice", what,
                        gguf_printable(v[i]->ptr, v[i]->len, nm, sizeof nm));
        }
    return 0;
}

static int cmp_offset(const void *a, const void *b)
{
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Fails when the data of two tensors overlap (as ggml, which expects each
 * tensor right after the previous one, refuses such files). */
static int check_no_overlap(cursor *c, const gguf_file *f)
{
    if (f->n_tensors < 2) return 0;
    const gguf_tensor **v = malloc((size_t)f->n_tensors * sizeof(const gguf_tensor *));
    if (!v) return fail(c, "out of memory");
    for (uint64_t i = 0; i < f->n_tensors; i++) v[i] = &f->tensors[i];
    qsort(v, (size_t)f->n_tensors, sizeof(const gguf_tensor *), cmp_offset);
    int rc = 0;
    for (uint64_t i = 1; i < f->n_tensors && !rc; i++)
        if (v[i - 1]->offset + v[i - 1]->n_bytes > v[i]->offset) { /* both inside the file */
            char a[SHOWN_NAME], b[SHOWN_NAME];
            rc = fail(c, "the data of tensors '%s' and '%s' overlap",
                      gguf_printable(v[i - 1]->name.ptr, v[i - 1]->name.len, a, sizeof a),
                      gguf_printable(v[i]->name.ptr, v[i]->name.len, b, sizeof b));
        }
    free(v);
    return rc;
}

static int parse(gguf_file *f, char *err, size_t errlen)
{
    cursor c = {f->map, f->map + f->size, err, errlen, 0};
    char magic[4];
    if (take(&c, magic, 4, "the header")) return -1;
    if (memcmp(magic, GGUF_MAGIC, 4)) return fail(&c, "not a GGUF file (bad magic)");
    if (read_u32(&c, &f->version, "the header")) return -1;
    if (f->version != GGUF_VERSION)
        return fail(&c, "GGUF version %u is not supported (expected %d)", f->version, GGUF_VERSION);
    if (read_u64(&c, &f->n_tensors, "the header") || read_u64(&c, &f->n_kv, "the header"))
        return -1;
    /* both checks first, so the sum below cannot overflow */
    if (f->n_kv > remaining(&c) / MIN_KV_BYTES)
        return fail(&c, "header claims %llu metadata keys, more than the file can hold",
                    (unsigned long long)f->n_kv);
    if (f->n_tensors > remaining(&c) / MIN_INFO_BYTES ||
        f->n_kv * MIN_KV_BYTES + f->n_tensors * MIN_INFO_BYTES > remaining(&c))
        return fail(&c, "header claims %llu tensors, more than the file can hold",
                    (unsigned long long)f->n_tensors);
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) return fail(&c, "out of memory");
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (read_kv(&c, &f->kv[i])) return -1;
    if (build_index(&c, &f->kv[0].key, f->n_kv, sizeof *f->kv, "metadata key", &f->kv_index))
        return -1;

    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *al = gguf_find_kv(f, "general.alignment");
    if (al) {
        if (al->type != GGUF_TYPE_UINT32 || al->v.u64 == 0 || al->v.u64 > GGUF_MAX_ALIGNMENT ||
            (al->v.u64 & (al->v.u64 - 1)))
            return fail(&c, "general.alignment must be a power of two uint32 up to %u",
                        GGUF_MAX_ALIGNMENT);
        f->alignment = (uint32_t)al->v.u64;
    }
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (read_tensor_info(&c, &f->tensors[i], i)) return -1;
    uint64_t pos = (uint64_t)(c.p - f->map);
    f->data_offset = (pos + f->alignment - 1) / f->alignment * f->alignment;
    if (f->n_tensors && f->data_offset > f->size)
        return fail(&c, "file truncated before the tensor data");
    if (f->data_offset > f->size) f->data_offset = f->size;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (place_tensor(&c, f, &f->tensors[i])) return -1;
    if (build_index(&c, &f->tensors[0].name, f->n_tensors, sizeof *f->tensors, "tensor",
                    &f->tensor_index))
        return -1;
    return check_no_overlap(&c, f);
}

static gguf_file *open_mapped(const uint8_t *map, size_t size, const char *path, char *err,
                              size_t errlen)
{
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->map = map;
    f->size = size;
    f->path = path;
    if (parse(f, err, errlen)) {
        f->path = NULL; /* gguf_open unmaps the file itself */
        gguf_close(f);
        return NULL;
    }
    return f;
}

gguf_file *gguf_open_memory(const void *data, size_t size, char *err, size_t errlen)
{
    return open_mapped(data, size, NULL, err, errlen);
}

gguf_file *gguf_open(const char *path, char *err, size_t errlen)
{
    bn_file file;
    if (bn_file_open(&file, path, err, errlen)) return NULL;
    const void *map = bn_file_map(&file, err, errlen);
    bn_file_close(&file);
    if (!map) return NULL;
    gguf_file *f = open_mapped(map, file.size, path, err, errlen);
    if (!f) bn_file_unmap(map, file.size);
    return f;
}

gguf_file *gguf_open_read(const char *path, char *err, size_t errlen)
{
    bn_file file;
    if (bn_file_open(&file, path, err, errlen)) return NULL;
    const size_t size = file.size;
    uint8_t *buf = malloc(size);
    if (!buf)
        snprintf(err, errlen,
                 "out of memory reading %zu bytes (without --no-mmap the "
                 "file is mapped instead)",
                 size);
    const int rc = buf ? bn_file_read(&file, buf, err, errlen) : -1;
    bn_file_close(&file);
    gguf_file *f = rc ? NULL : open_mapped(buf, size, path, err, errlen);
    if (!f) {
        free(buf);
        return NULL;
    }
    f->copied = 1;
    return f;
}

void gguf_close(gguf_file *f)
{
    if (!f) return;
    if (f->copied)
        free((void *)f->map);
    else if (f->path)
        bn_file_unmap(f->map, f->size);
    free(f->kv);
    free(f->tensors);
    free(f->kv_index);
    free(f->tensor_index);
    free(f);
}

/* --------------------------------------------------------------- lookups */

int gguf_str_eq(gguf_str s, const char *cstr)
{
    size_t n = strlen(cstr);
    return s.len == n && !memcmp(s.ptr, cstr, n);
}

/* The record whose name is `name` in a sorted index of n names, or NULL. */
static const gguf_str *find_in_index(const gguf_str *const *index, uint64_t n, const char *name)
{
    if (!index) return NULL;
    const gguf_str want = {name, strlen(name)}, *key = &want;
    const gguf_str *const *hit = bsearch(&key, index, (size_t)n, sizeof(const gguf_str *),
                                         cmp_str_ptr);
    return hit ? *hit : NULL;
}

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key)
{
    const gguf_str *s = find_in_index(f->kv_index, f->n_kv, key);
    return s ? (const gguf_kv *)((const char *)s - offsetof(gguf_kv, key)) : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    const gguf_str *s = find_in_index(f->tensor_index, f->n_tensors, name);
    return s ? (const gguf_tensor *)((const char *)s - offsetof(gguf_tensor, name)) : NULL;
}

static int is_unsigned(uint32_t t)
{
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 ||
           t == GGUF_TYPE_UINT64;
}

static int is_signed(uint32_t t)
{
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 ||
           t == GGUF_TYPE_INT64;
}

/* Any integer value as int64 range-checked into [lo, hi]. */
static int get_int(const gguf_file *f, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (is_unsigned(kv->type)) {
        if (kv->v.u64 > (uint64_t)hi) return -1;
        *out = (int64_t)kv->v.u64;
    } else if (is_signed(kv->type)) {
        *out = kv->v.i64;
    } else {
        return -1;
    }
    return *out >= lo && *out <= hi ? 1 : -1;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out)
{
    int64_t v;
    int r = get_int(f, key, 0, UINT32_MAX, &v);
    if (r == 1) *out = (uint32_t)v;
    return r;
}

int gguf_get_i32(const gguf_file *f, const char *key, int32_t *out)
{
    int64_t v;
    int r = get_int(f, key, INT32_MIN, INT32_MAX, &v);
    if (r == 1) *out = (int32_t)v;
    return r;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_TYPE_FLOAT32 && kv->type != GGUF_TYPE_FLOAT64) return -1;
    /* a finite double beyond float's range is out of range, not infinity */
    if (isfinite(kv->v.f64) && fabs(kv->v.f64) > FLT_MAX) return -1;
    *out = (float)kv->v.f64;
    return 1;
}

int gguf_get_bool(const gguf_file *f, const char *key, int *out)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_TYPE_BOOL) return -1;
    *out = kv->v.u64 != 0;
    return 1;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_TYPE_STRING) return -1;
    *out = kv->v.str;
    return 1;
}

int gguf_get_arr(const gguf_file *f, const char *key, uint32_t elem_type, const gguf_kv **out)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_TYPE_ARRAY || kv->v.arr.elem_type != elem_type) return -1;
    *out = kv;
    return 1;
}

void gguf_arr_strings(const gguf_kv *kv, gguf_str *out)
{
    /* already validated by the parser: every length fits in the file */
    const uint8_t *p = kv->v.arr.data;
    for (uint64_t i = 0; i < kv->v.arr.count; i++) {
        uint64_t len;
        memcpy(&len, p, 8);
        out[i].ptr = (const char *)p + 8;
        out[i].len = len;
        p += 8 + len;
    }
}
