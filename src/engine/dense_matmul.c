/*
 * dense_matmul.c - the output layer's product (a matrix that is not
 * ternary) on the context's pool: one or more vectors, split by rows, each
 * chunk of rows read once for all the vectors. F16 (the type of the
 * official files) uses the kernel table's F16 products; Q8_0 and Q6_K
 * (--lm-head) take each vector quantized once to int8 groups (bn_q8act,
 * kernels.h) for the table's integer products; the other types take the
 * float dot of quants.h.
 */
#include "engine.h"
#include "kernels/grouped.h"
#include "kernels/quants.h"

/* The table's integer product of a Q8_0 or Q6_K matrix; NULL for the
 * other types. */
static bn_q8_matvec_fn q8_matvec_for(const bn_kernels *k, uint32_t type)
{
    if (type == GGML_TYPE_Q8_0) return k->q8_0_matvec;
    if (type == GGML_TYPE_Q6_K) return k->q6_k_matvec;
    return NULL;
}

typedef struct {
    const bn_kernels *k;
    const bn_dense *d;
    const float *x; /* [n][cols] */
    int n;
    float *y;                            /* [n][rows] */
    bn_q8_matvec_fn q8_matvec;           /* with qx, the n vectors quantized (else NULL) */
    bn_grouped_matvec_fn grouped;        /* or this for d->grouped (Q2_0, Q1_0), */
    bn_grouped_matmat_fn grouped_matmat; /* and this for several inputs */
    const bn_q8act *qx;                  /* [n] */
    bn_chunks rows;
} matmul_task;

#define OUTPUT_ROW_CHUNK 16 /* rows per chunk: they stay in cache across the n inputs */

/* Rows [r0, r1) times input i. */
static void dense_rows(const matmul_task *t, int i, int r0, int r1)
{
    const bn_dense *d = t->d;
    float *y = t->y + (size_t)i * d->rows;
    if (t->grouped) {
        t->grouped(d->grouped, &t->qx[i], y, r0, r1);
        return;
    }
    if (t->qx) {
        t->q8_matvec(d->data, d->cols, &t->qx[i], y, r0, r1);
        return;
    }
    bn_dense_rows(t->k, d, t->x + (size_t)i * d->cols, y, r0, r1);
}

void bn_dense_rows(const bn_kernels *k, const bn_dense *d, const float *x, float *y, int r0, int r1)
{
    if (d->type == GGML_TYPE_F16) {
        k->f16_matvec((const uint16_t *)d->data, d->cols, x, y, r0, r1);
        return;
    }
    for (int r = r0; r < r1; r++)
        y[r] = bn_quant_dot(d->type, d->data + (size_t)r * d->row_bytes, x, d->cols);
}

/* Each thread claims chunks of rows: one input takes the F16 or integer
 * product over the whole claim, several take each OUTPUT_ROW_CHUNK rows
 * for all of them. */
static void dense_matmul_task(void *arg, int ith, int nth)
{
    matmul_task *t = arg;
    (void)ith;
    (void)nth;
    int r0, r1;
    while (bn_chunks_claim(&t->rows, &r0, &r1)) {
        /* one input reuses nothing: the kernel gets the whole claim (the
         * F16 one pairs rows far apart in it) */
        if (t->n == 1) {
            dense_rows(t, 0, r0, r1);
            continue;
        }
        for (int c0 = r0; c0 < r1; c0 += OUTPUT_ROW_CHUNK) {
            const int c1 = c0 + OUTPUT_ROW_CHUNK < r1 ? c0 + OUTPUT_ROW_CHUNK : r1;
            if (t->d->type == GGML_TYPE_F16) {
                t->k->f16_matmat((const uint16_t *)t->d->data, t->d->cols, t->x, t->n, t->y,
                                 (size_t)t->d->rows, c0, c1);
                continue;
            }
            if (t->grouped_matmat && t->n >= t->k->grouped_matmat_from) {
                t->grouped_matmat(t->d->grouped, t->qx, t->n, t->y, t->d->rows, c0, c1);
                continue;
            }
            for (int i = 0; i < t->n; i++) dense_rows(t, i, c0, c1);
        }
    }
}

/* The products of a grouped (Q2_0, Q1_0) output layer, else NULL. */
static bn_grouped_matvec_fn grouped_for(const bn_kernels *k, const bn_dense *d)
{
    if (!d->grouped) return NULL;
    return d->grouped->bits ? k->b1_matvec : k->q2_matvec;
}

static bn_grouped_matmat_fn grouped_matmat_for(const bn_kernels *k, const bn_dense *d)
{
    if (!d->grouped) return NULL;
    return d->grouped->bits ? k->b1_matmat : k->q2_matmat;
}

int bn_dense_needs_q8act(const bn_model *m, const bn_dense *d)
{
    return q8_matvec_for(m->kernels, d->type) != NULL || d->grouped;
}

/* The output layer's product of n vectors, inputs quantized first for Q8_0 / Q6_K. */
void bn_dense_matmul(bn_context *ctx, const bn_dense *d, const float *x, int n, bn_q8act *qx,
                     float *y)
{
    const bn_kernels *k = ctx->m->kernels;
    matmul_task t = {
        k,    d,  x, n, y, q8_matvec_for(k, d->type), grouped_for(k, d), grouped_matmat_for(k, d),
        NULL, {0}};
    if (t.q8_matvec || t.grouped) {
        for (int i = 0; i < n; i++) k->q8_quantize(x + (size_t)i * d->cols, d->cols, &qx[i]);
        t.qx = qx;
    }
    bn_chunks_init(&t.rows, d->rows, OUTPUT_ROW_CHUNK, bn_pool_size(ctx->pool));
    bn_pool_run(ctx->pool, dense_matmul_task, &t);
}
