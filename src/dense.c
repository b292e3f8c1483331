/*
 * dense.c - the token embedding and the output layer: the only matrices
 * that are not ternary. An embedding lookup dequantizes one row; the output
 * layer is a matrix-vector product split over the thread pool. F16 (the
 * type of the official files) uses the kernel table; the other types take
 * the plain C dot products of quants.h.
 */
#include "model.h"
#include "quants.h"

int bn_dense_supported(uint32_t type) { return bn_quant_can_dequantize(type); }

void bn_dense_row(const bn_dense *d, int row, float *out)
{
    bn_dequantize_row(d->type, d->data + (size_t)row * d->row_bytes, out, d->cols);
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
    const bn_dense *d = t->d;
    int r0, r1;
    bn_split_range(d->rows, ith, nth, OUTPUT_ROW_ALIGN, &r0, &r1);
    if (d->type == GGML_TYPE_F16) {
        t->m->kernels->f16_matvec((const uint16_t *)d->data, d->cols, t->x, t->y, r0, r1);
        return;
    }
    for (int r = r0; r < r1; r++)
        t->y[r] = bn_quant_dot(d->type, d->data + (size_t)r * d->row_bytes, t->x, d->cols);
}

void bn_dense_matvec(const bn_model *m, const bn_dense *d, const float *x, float *y)
{
    matvec_task t = {m, d, x, y};
    bn_pool_run(m->pool, dense_matvec_task, &t);
}
