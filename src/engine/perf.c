/*
 * perf.c - what benchmarks need from the engine (bitnet-perf.h): the bytes
 * of weights one generated token reads, the machine's plain memory read
 * bandwidth measured on a context's pool (the clock and the resident
 * memory are runtime's: clock.c, memory.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet-perf.h"
#include "engine.h"
#include "kernels/grouped.h"
#include "kernels/q16.h"
#include "runtime/clock.h"
#include "runtime/platform.h"

void bn_kernel_names(char *buf, size_t len) { bn_kernels_available_names(buf, len); }

unsigned long long bn_model_n_params(const bn_model *m)
{
    unsigned long long n = 0;
    for (uint64_t i = 0; i < m->file->n_tensors; i++) n += m->file->tensors[i].n_elements;
    return n;
}

unsigned long long bn_model_tensor_bytes(const bn_model *m)
{
    unsigned long long n = 0;
    for (uint64_t i = 0; i < m->file->n_tensors; i++) n += m->file->tensors[i].n_bytes;
    return n;
}

static size_t qk256_bytes(const qk256_matrix *w)
{
    if (w->q16) return (size_t)w->rows * q16_row_bytes(w->blocks_per_row);
    const size_t blocks = (size_t)w->rows * w->blocks_per_row;
    if (w->bits) return bn_bits_bytes(w->rows, w->cols) + blocks * sizeof(uint16_t); /* Q1_0 */
    if (w->group_scales) /* Q2_0: an f16 scale per quarter */
        return qk256_codes_bytes(w->rows, w->cols) + blocks * QK256_QUARTERS * sizeof(uint16_t);
    return qk256_codes_bytes(w->rows, w->cols) + (w->block_scales ? blocks * sizeof(float) : 0);
}

/* The ternary matrices' bytes and the output layer's: what a token reads. */
size_t bn_model_bytes_per_token(const bn_model *m)
{
    return bn_model_bytes_per_token_rows(m, m->output.rows);
}

/* The copy's levels, scales and row bounds, read whole by the first stage. */
static size_t lm_copy_bytes(const bn_lm_copy *lc)
{
    const size_t n = (size_t)lc->q.rows * lc->q.cols;
    return n + n / BN_Q8ROWS_GROUP * sizeof *lc->scales + (size_t)lc->q.rows * sizeof *lc->rows;
}

size_t bn_model_bytes_per_token_rows(const bn_model *m, double exact_rows)
{
    const int two_stage = m->lm_copy.q.rows && exact_rows < m->output.rows;
    size_t total = m->output.grouped ? qk256_bytes(m->output.grouped)
                                     : (size_t)(exact_rows * (double)m->output.row_bytes);
    if (two_stage) total += lm_copy_bytes(&m->lm_copy);
    for (int il = 0; il < m->hp.n_layer; il++) {
        const bn_layer *l = &m->layers[il];
        const qk256_matrix *w[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->wgate, &l->wup, &l->wdown};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) total += qk256_bytes(w[i]);
    }
    return total;
}

typedef struct {
    const uint8_t *buf;
    size_t bytes;
    uint64_t *sums; /* one per thread, so the loop cannot be optimized away */
} read_job;

#define READ_CHUNK 4096 /* bytes per work unit: a page */

static void read_task(void *arg, int ith, int nth)
{
    read_job *j = arg;
    int c0, c1;
    bn_split_range((int)(j->bytes / READ_CHUNK), ith, nth, 1, &c0, &c1);
    j->sums[ith] = bn_read_sum(j->buf + (size_t)c0 * READ_CHUNK, (size_t)(c1 - c0) * READ_CHUNK);
}

/* The best of reps timed passes of the read loop over bytes, on the pool. */
double bn_read_bandwidth_gbs(bn_context *ctx, size_t bytes, int reps)
{
    bytes -= bytes % READ_CHUNK;
    uint8_t *buf = bn_aligned_alloc(READ_CHUNK, bytes ? bytes : READ_CHUNK);
    uint64_t *sums = calloc((size_t)bn_pool_size(ctx->pool), sizeof *sums);
    if (!buf || !sums) {
        bn_aligned_free(buf);
        free(sums);
        return 0.0;
    }
    memset(buf, 1, bytes); /* touch every page first */
    read_job j = {buf, bytes, sums};
    double best = 0.0;
    for (int r = 0; r < reps + 1; r++) { /* the first pass is a warm-up */
        double t0 = bn_seconds();
        bn_pool_run(ctx->pool, read_task, &j);
        double gbs = (double)bytes / (bn_seconds() - t0) / 1e9;
        if (r > 0 && gbs > best) best = gbs;
    }
    bn_aligned_free(buf);
    free(sums);
    return best;
}
