/*
 * dense.c - the token embedding and the output layer: the only matrices
 * that are not ternary. An embedding lookup dequantizes one row; the output
 * layer multiplies one or more vectors, split over the thread pool by
 * rows, each chunk of rows read once for all the vectors. F16 (the
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
    const float *x; /* [n][cols] */
    int n;
    float *y; /* [n][rows] */
} matmul_task;

#define OUTPUT_ROW_CHUNK 16 /* rows per chunk: they stay in cache across the n inputs */

static void dense_matmul_task(void *arg, int ith, int nth)
{
    const matmul_task *t = arg;
    const bn_dense *d = t->d;
    int r0, r1;
    bn_split_range(d->rows, ith, nth, OUTPUT_ROW_CHUNK, &r0, &r1);
    for (int c0 = r0; c0 < r1; c0 += OUTPUT_ROW_CHUNK) {
        const int c1 = c0 + OUTPUT_ROW_CHUNK < r1 ? c0 + OUTPUT_ROW_CHUNK : r1;
        for (int i = 0; i < t->n; i++) {
            const float *x = t->x + (size_t)i * d->cols;
            float *y = t->y + (size_t)i * d->rows;
            if (d->type == GGML_TYPE_F16) {
                t->m->kernels->f16_matvec((const uint16_t *)d->data, d->cols, x, y, c0, c1);
                continue;
            }
            for (int r = c0; r < c1; r++)
                y[r] = bn_quant_dot(d->type, d->data + (size_t)r * d->row_bytes, x, d->cols);
        }
    }
}

void bn_dense_matmul(const bn_model *m, const bn_dense *d, const float *x, int n, float *y)
{
    matmul_task t = {m, d, x, n, y};
    bn_pool_run(m->pool, dense_matmul_task, &t);
}
