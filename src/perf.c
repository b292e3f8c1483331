/*
 * perf.c - what benchmarks need from the engine: changing the thread count
 * of a loaded model, the bytes of weights one generated token reads, and
 * the machine's plain memory read bandwidth measured on the same pool.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"

#define READ_LOOP_LANES 8 /* independent accumulators keep several loads in flight */

int bn_model_set_threads(bn_model *m, int n_threads)
{
    if (n_threads < 1) n_threads = bn_available_cores();
    if (n_threads == bn_pool_size(m->pool)) return 0;
    bn_pool *p = bn_pool_new(n_threads);
    if (!p) return -1;
    bn_pool_free(m->pool);
    m->pool = p;
    bn_model_free_scratch(m); /* its per-thread buffers follow the pool size */
    return 0;
}

static size_t qk256_bytes(const qk256_matrix *w)
{
    size_t blocks = (size_t)w->rows * w->blocks_per_row;
    return blocks * QK256_BLOCK_BYTES + (w->block_scales ? blocks * sizeof(float) : 0);
}

size_t bn_model_bytes_per_token(const bn_model *m)
{
    size_t total = (size_t)m->output.rows * m->output.row_bytes;
    for (int il = 0; il < m->hp.n_layer; il++) {
        const bn_layer *l = &m->layers[il];
        const qk256_matrix *w[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->wgate, &l->wup, &l->wdown};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) total += qk256_bytes(w[i]);
    }
    return total;
}

typedef struct {
    const uint64_t *buf;
    size_t n_words;
    uint64_t *sums; /* one per thread, so the loop cannot be optimized away */
} read_job;

static void read_task(void *arg, int ith, int nth)
{
    read_job *j = arg;
    int c0, c1;
    const int chunk = 4096; /* words per chunk: page-sized work units */
    bn_split_range((int)(j->n_words / chunk), ith, nth, 1, &c0, &c1);
    uint64_t acc[READ_LOOP_LANES] = {0};
    for (size_t i = (size_t)c0 * chunk; i < (size_t)c1 * chunk; i += READ_LOOP_LANES)
        for (int l = 0; l < READ_LOOP_LANES; l++) acc[l] += j->buf[i + l];
    uint64_t s = 0;
    for (int l = 0; l < READ_LOOP_LANES; l++) s += acc[l];
    j->sums[ith] = s;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double bn_read_bandwidth_gbs(bn_model *m, size_t bytes, int reps)
{
    size_t n_words = bytes / sizeof(uint64_t);
    uint64_t *buf = malloc(n_words * sizeof *buf);
    uint64_t *sums = calloc((size_t)bn_pool_size(m->pool), sizeof *sums);
    if (!buf || !sums) {
        free(buf);
        free(sums);
        return 0.0;
    }
    for (size_t i = 0; i < n_words; i++) buf[i] = i; /* touch every page first */
    read_job j = {buf, n_words, sums};
    double best = 0.0;
    for (int r = 0; r < reps + 1; r++) { /* the first pass is a warm-up */
        double t0 = seconds();
        bn_pool_run(m->pool, read_task, &j);
        double gbs = (double)(n_words * sizeof *buf) / (seconds() - t0) / 1e9;
        if (r > 0 && gbs > best) best = gbs;
    }
    free(buf);
    free(sums);
    return best;
}
