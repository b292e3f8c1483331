/*
 * dense.c - the token embedding and the output layer: the only matrices
 * that are not ternary. An embedding lookup dequantizes one row; the output
 * layer is a matrix-vector product split over the thread pool.
 */
#include <string.h>

#include "model.h"

int bn_dense_supported(uint32_t type) { return type == GGML_TYPE_F16 || type == GGML_TYPE_F32; }

void bn_dense_row(const bn_dense *d, int row, float *out)
{
    const uint8_t *p = d->data + (size_t)row * d->row_bytes;
    if (d->type == GGML_TYPE_F32) {
        memcpy(out, p, (size_t)d->cols * sizeof(float));
    } else {
        for (int i = 0; i < d->cols; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * (size_t)i, sizeof h);
            out[i] = bn_f16_to_f32(h);
        }
    }
}

typedef struct {
    const bn_model *m;
    const bn_dense *d;
    const float *x;
    float *y;
} matvec_task;

#define OUTPUT_ROW_ALIGN 16 /* rows per chunk: whole cache lines of output */

static void dense_matvec_task(void *arg, int ith, int nth)
{
    const matvec_task *t = arg;
    int r0, r1;
    bn_split_range(t->d->rows, ith, nth, OUTPUT_ROW_ALIGN, &r0, &r1);
    if (t->d->type == GGML_TYPE_F16) {
        t->m->kernels->f16_matvec((const uint16_t *)t->d->data, t->d->cols, t->x, t->y, r0, r1);
        return;
    }
    for (int r = r0; r < r1; r++) { /* F32: rare (unquantized conversions) */
        const float *w = (const float *)(t->d->data + (size_t)r * t->d->row_bytes);
        float acc = 0.0f;
        for (int i = 0; i < t->d->cols; i++) acc += w[i] * t->x[i];
        t->y[r] = acc;
    }
}

void bn_dense_matvec(const bn_model *m, const bn_dense *d, const float *x, float *y)
{
    matvec_task t = {m, d, x, y};
    bn_pool_run(m->pool, dense_matvec_task, &t);
}
