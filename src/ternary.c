/*
 * ternary.c - repacks ternary tensors from their file encoding into QK256
 * at load time, in parallel over rows.
 */
#include <stdio.h>

#include "bitnet.h"
#include "ternary.h"

#define REPACK_ROW_ALIGN 8

int bn_ternary_check(const gguf_tensor *t, const char *name, char *err)
{
    switch (t->type) {
    case GGML_TYPE_I2_S:
        /* the 32-byte tail of an I2_S tensor holds its scale (spec 3.1);
         * rows are whole 128-element blocks */
        if (t->ne[0] % 128) {
            snprintf(err, BN_ERR_LEN, "tensor %s: I2_S row length %lld is not a multiple of 128",
                     name, (long long)t->ne[0]);
            return -1;
        }
        return 0;
    default:
        snprintf(err, BN_ERR_LEN, "tensor %s has type %s, which is not a supported ternary encoding",
                 name, gguf_type_name(t->type));
        return -1;
    }
}

typedef struct {
    const gguf_tensor *t;
    qk256_matrix *m;
} repack_task;

static void repack_i2s_task(void *arg, int ith, int nth)
{
    const repack_task *rt = arg;
    int r0, r1;
    bn_split_range(rt->m->rows, ith, nth, REPACK_ROW_ALIGN, &r0, &r1);
    qk256_from_i2s_rows(rt->m, rt->t->data, r0, r1);
}

int bn_ternary_load(const gguf_tensor *t, const char *name, bn_pool *pool, qk256_matrix *out,
                    char *err)
{
    if (bn_ternary_check(t, name, err)) return -1;
    int rows = (int)t->ne[1], cols = (int)t->ne[0];
    if (qk256_alloc(out, rows, cols, 0)) {
        snprintf(err, BN_ERR_LEN, "out of memory for tensor %s", name);
        return -1;
    }
    repack_task rt = {t, out};
    bn_pool_run(pool, repack_i2s_task, &rt);
    out->scale = i2s_tensor_scale(t->data, rows, cols);
    return 0;
}
