/*
 * gguf_edit.c - editable copies of GGUF files (gguf_edit.h).
 */
#include "gguf_edit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WRITE_ALIGNMENT (1u << 20)

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) abort(); /* tests only: no way to go on without memory */
    return p;
}

static void *xdup(const void *p, size_t n)
{
    void *q = xmalloc(n);
    if (n) memcpy(q, p, n);
    return q;
}

static char *xstrndup(const char *s, size_t n)
{
    char *q = xmalloc(n + 1);
    memcpy(q, s, n);
    q[n] = 0;
    return q;
}

/* Bytes of a value at p in a file the reader has already validated. */
static size_t value_bytes(const uint8_t *p, uint32_t type)
{
    size_t n = gguf_value_size(type);
    if (n) return n;
    uint64_t len;
    if (type == GGUF_TYPE_STRING) {
        memcpy(&len, p, sizeof len);
        return sizeof len + (size_t)len;
    }
    uint32_t et;
    memcpy(&et, p, sizeof et);
    memcpy(&len, p + sizeof et, sizeof len);
    size_t off = sizeof et + sizeof len;
    for (uint64_t i = 0; i < len; i++) off += value_bytes(p + off, et);
    return off;
}

void ge_from_gguf(ge_file *e, const gguf_file *f)
{
    memset(e, 0, sizeof *e);
    e->kv = xmalloc(f->n_kv * sizeof *e->kv);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        const uint8_t *value = (const uint8_t *)kv->key.ptr + kv->key.len + sizeof(uint32_t);
        ge_kv *d = &e->kv[e->n_kv++];
        d->key = xstrndup(kv->key.ptr, (size_t)kv->key.len);
        d->type = kv->type;
        d->value_len = value_bytes(value, kv->type);
        d->value = xdup(value, d->value_len);
    }
    e->t = xmalloc(f->n_tensors * sizeof *e->t);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        ge_tensor *d = &e->t[e->n_t++];
        memset(d, 0, sizeof *d);
        d->name = xstrndup(t->name.ptr, (size_t)t->name.len);
        d->n_dims = t->n_dims;
        memcpy(d->ne, t->ne, sizeof d->ne);
        d->type = t->type;
        d->n_bytes = (size_t)t->n_bytes;
        d->data = xdup(t->data, d->n_bytes);
    }
}

int ge_load(ge_file *e, const char *path)
{
    char err[256];
    gguf_file *f = gguf_open(path, err, sizeof err);
    if (!f) return -1;
    ge_from_gguf(e, f);
    gguf_close(f);
    return 0;
}

static ge_kv kv_dup(const ge_kv *kv)
{
    ge_kv copy = {xstrndup(kv->key, strlen(kv->key)), kv->type, xdup(kv->value, kv->value_len),
                  kv->value_len};
    return copy;
}

/* Room for one more record at the end (uninitialized). */
static ge_kv *kv_append(ge_file *e)
{
    ge_kv *grown = realloc(e->kv, (e->n_kv + 1) * sizeof *e->kv);
    if (!grown) abort();
    e->kv = grown;
    return &e->kv[e->n_kv++];
}

void ge_copy(ge_file *dst, const ge_file *src)
{
    memset(dst, 0, sizeof *dst);
    dst->kv = xmalloc(src->n_kv * sizeof *dst->kv);
    for (size_t i = 0; i < src->n_kv; i++) dst->kv[dst->n_kv++] = kv_dup(&src->kv[i]);
    dst->t = xmalloc(src->n_t * sizeof *dst->t);
    for (size_t i = 0; i < src->n_t; i++) {
        ge_tensor *t = &dst->t[dst->n_t++];
        *t = src->t[i];
        t->name = xstrndup(src->t[i].name, strlen(src->t[i].name));
        t->data = xdup(src->t[i].data, src->t[i].n_bytes);
    }
}

void ge_free(ge_file *e)
{
    for (size_t i = 0; i < e->n_kv; i++) {
        free(e->kv[i].key);
        free(e->kv[i].value);
    }
    for (size_t i = 0; i < e->n_t; i++) {
        free(e->t[i].name);
        free(e->t[i].data);
    }
    free(e->kv);
    free(e->t);
    memset(e, 0, sizeof *e);
}

/* ----------------------------------------------------------- metadata */

ge_kv *ge_find_kv(ge_file *e, const char *key)
{
    for (size_t i = 0; i < e->n_kv; i++)
        if (!strcmp(e->kv[i].key, key)) return &e->kv[i];
    return NULL;
}

void ge_set_raw(ge_file *e, const char *key, uint32_t type, const void *value, size_t len)
{
    ge_kv *kv = ge_find_kv(e, key);
    if (!kv) {
        kv = kv_append(e);
        kv->key = xstrndup(key, strlen(key));
        kv->value = NULL;
    }
    free(kv->value);
    kv->type = type;
    kv->value = xdup(value, len);
    kv->value_len = len;
}

void ge_set_u32(ge_file *e, const char *key, uint32_t v)
{
    ge_set_raw(e, key, GGUF_TYPE_UINT32, &v, sizeof v);
}

void ge_set_i32(ge_file *e, const char *key, int32_t v)
{
    ge_set_raw(e, key, GGUF_TYPE_INT32, &v, sizeof v);
}

void ge_set_f32(ge_file *e, const char *key, float v)
{
    ge_set_raw(e, key, GGUF_TYPE_FLOAT32, &v, sizeof v);
}

void ge_set_str(ge_file *e, const char *key, const char *v)
{
    gb_buf b = {0};
    gb_str(&b, v);
    ge_set_raw(e, key, GGUF_TYPE_STRING, b.data, b.len);
    gb_free(&b);
}

void ge_set_array(ge_file *e, const char *key, uint32_t elem_type, const void *elems, size_t n,
                  size_t elem_size)
{
    gb_buf b = {0};
    gb_arr_head(&b, elem_type, n);
    if (n) gb_bytes(&b, elems, n * elem_size);
    ge_set_raw(e, key, GGUF_TYPE_ARRAY, b.data, b.len);
    gb_free(&b);
}

void ge_set_str_array(ge_file *e, const char *key, const char *const *s, const size_t *lens,
                      size_t n)
{
    gb_buf b = {0};
    gb_arr_head(&b, GGUF_TYPE_STRING, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(s[i]);
        gb_u64(&b, len);
        if (len) gb_bytes(&b, s[i], len);
    }
    ge_set_raw(e, key, GGUF_TYPE_ARRAY, b.data, b.len);
    gb_free(&b);
}

char **ge_get_str_array(ge_file *e, const char *key, size_t *n)
{
    ge_kv *kv = ge_find_kv(e, key);
    uint32_t et;
    uint64_t count;
    if (!kv || kv->type != GGUF_TYPE_ARRAY) return NULL;
    memcpy(&et, kv->value, sizeof et);
    memcpy(&count, kv->value + sizeof et, sizeof count);
    if (et != GGUF_TYPE_STRING) return NULL;
    char **out = xmalloc((size_t)count * sizeof *out);
    const uint8_t *p = kv->value + sizeof et + sizeof count;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t len;
        memcpy(&len, p, sizeof len);
        out[i] = xstrndup((const char *)p + sizeof len, (size_t)len);
        p += sizeof len + len;
    }
    *n = (size_t)count;
    return out;
}

void ge_free_strings(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

void ge_drop_kv(ge_file *e, const char *key)
{
    ge_kv *kv = ge_find_kv(e, key);
    if (!kv) return;
    free(kv->key);
    free(kv->value);
    size_t i = (size_t)(kv - e->kv);
    memmove(kv, kv + 1, (e->n_kv - i - 1) * sizeof *kv);
    e->n_kv--;
}

void ge_append_copy(ge_file *e, const char *key)
{
    const ge_kv *kv = ge_find_kv(e, key);
    if (!kv) return;
    const size_t i = (size_t)(kv - e->kv);
    ge_kv *last = kv_append(e); /* may move e->kv */
    *last = kv_dup(&e->kv[i]);
}

/* ------------------------------------------------------------ tensors */

ge_tensor *ge_find_tensor(ge_file *e, const char *name)
{
    for (size_t i = 0; i < e->n_t; i++)
        if (!strcmp(e->t[i].name, name)) return &e->t[i];
    return NULL;
}

ge_tensor *ge_add_tensor(ge_file *e, const char *name, uint32_t n_dims, const int64_t *ne,
                         uint32_t type, const void *data, size_t n_bytes)
{
    ge_tensor *grown = realloc(e->t, (e->n_t + 1) * sizeof *e->t);
    if (!grown) abort();
    e->t = grown;
    ge_tensor *t = &e->t[e->n_t++];
    memset(t, 0, sizeof *t);
    t->name = xstrndup(name, strlen(name));
    t->n_dims = n_dims;
    for (int i = 0; i < GGUF_MAX_DIMS; i++) t->ne[i] = (uint32_t)i < n_dims ? ne[i] : 1;
    t->type = type;
    ge_set_tensor_data(t, data, n_bytes);
    return t;
}

void ge_set_tensor_data(ge_tensor *t, const void *data, size_t n_bytes)
{
    free(t->data);
    t->data = data ? xdup(data, n_bytes) : calloc(n_bytes ? n_bytes : 1, 1);
    if (!t->data) abort();
    t->n_bytes = n_bytes;
}

void ge_drop_tensor(ge_file *e, const char *name)
{
    ge_tensor *t = ge_find_tensor(e, name);
    if (!t) return;
    free(t->name);
    free(t->data);
    size_t i = (size_t)(t - e->t);
    memmove(t, t + 1, (e->n_t - i - 1) * sizeof *t);
    e->n_t--;
}

/* ------------------------------------------------------------ writing */

/* The alignment the reader will use: general.alignment when it is a
 * plausible uint32 power of two, else the default. */
static uint32_t write_alignment(const ge_file *e)
{
    for (size_t i = 0; i < e->n_kv; i++) {
        const ge_kv *kv = &e->kv[i];
        uint32_t v;
        if (strcmp(kv->key, "general.alignment") || kv->type != GGUF_TYPE_UINT32) continue;
        memcpy(&v, kv->value, sizeof v);
        if (v && v <= MAX_WRITE_ALIGNMENT && !(v & (v - 1))) return v;
    }
    return GGUF_DEFAULT_ALIGNMENT;
}

static void write_infos(const ge_file *e, gb_buf *out, uint32_t align, ge_layout *l)
{
    uint64_t next = 0;
    for (size_t i = 0; i < e->n_t; i++) {
        const ge_tensor *t = &e->t[i];
        uint64_t offset = t->fixed_offset ? t->offset : next;
        gb_tensor_info(out, t->name, t->n_dims, t->ne, t->type, offset);
        next += (t->n_bytes + align - 1) / align * align;
        if (i == 0) l->first_info_end = out->len;
    }
}

void ge_write(const ge_file *e, gb_buf *out, ge_layout *layout)
{
    ge_layout l;
    uint32_t align = write_alignment(e);
    gb_header(out, e->n_t, e->n_kv);
    l.header_end = out->len;
    l.first_kv_end = out->len;
    for (size_t i = 0; i < e->n_kv; i++) {
        gb_kv_head(out, e->kv[i].key, e->kv[i].type);
        gb_bytes(out, e->kv[i].value, e->kv[i].value_len);
        if (i == 0) l.first_kv_end = out->len;
    }
    l.kv_end = out->len;
    l.first_info_end = out->len;
    write_infos(e, out, align, &l);
    l.info_end = out->len;
    gb_pad(out, align);
    l.data_start = out->len;
    for (size_t i = 0; i < e->n_t; i++) {
        gb_bytes(out, e->t[i].data, e->t[i].n_bytes);
        gb_pad(out, align);
    }
    l.size = out->len;
    if (layout) *layout = l;
}

bn_model *ge_load_edited(const ge_file *base, void (*edit)(ge_file *e), const char *tag,
                         char err[BN_ERR_LEN])
{
    ge_file e;
    gb_buf b = {0};
    ge_copy(&e, base);
    if (edit) edit(&e);
    ge_write(&e, &b, NULL);
    const char *path = gb_write_temp(&b, tag);
    bn_model_params p = bn_model_default_params();
    bn_model *m = bn_model_load(path, &p, err);
    unlink(path);
    gb_free(&b);
    ge_free(&e);
    return m;
}
