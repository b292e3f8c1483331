/*
 * ternary.c - turns a ternary tensor of any supported file encoding into a
 * QK256 matrix at load time, rows split over the thread pool:
 *
 *   I2_S (36)        2-bit codes and one f32 scale per tensor (docs/FORMAT.md, I2_S);
 *   TQ2_0 (35),      llama.cpp's blocks of 256 with an fp16 scale each
 *   TQ1_0 (34)       (docs/FORMAT.md, TQ2_0 and TQ1_0), kept per block
 *                    unless every block of the tensor has the same scale
 *                    (then one per-tensor scale);
 *   F32, F16, BF16   floats, ternarized per tensor (see float_scale);
 *   Q2_0 (42),       mainline llama.cpp's group-scaled blocks, kept with
 *   Q1_0 (41)        every scale (kernels/grouped.h), for Q8 activations.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "bitnet.h"
#include "kernels/grouped.h"
#include "kernels/q16.h"
#include "kernels/quants.h"
#include "runtime/errors.h"
#include "runtime/platform.h"
#include "ternary.h"

#define REPACK_ROW_ALIGN 8
#define I2S_ROW_MULTIPLE 128 /* I2_S blocks never straddle rows (docs/FORMAT.md, I2_S) */
#define ABSMEAN_FLOOR 1e-5   /* BitNet's weight quantizer clamps mean|W| to this */

static const qk256_tq_format *tq_format(uint32_t type)
{
    return type == GGML_TYPE_TQ2_0 ? &qk256_tq2_0 : type == GGML_TYPE_TQ1_0 ? &qk256_tq1_0 : NULL;
}

static int is_float_type(uint32_t type)
{
    return type == GGML_TYPE_F32 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16;
}

static size_t tq_blocks(const gguf_tensor *t) { return (size_t)(t->n_elements / QK256_BLOCK); }

/* ---------------------------------------------------------------- checks */

static int check_tq(const gguf_tensor *t, const char *name, const qk256_tq_format *f, char *err)
{
    if (t->ne[0] % QK256_BLOCK) /* gguf.c refuses these already; stay safe */
        return bn_errf(err, "tensor %s: %s row length %lld is not a multiple of %d", name, f->name,
                       (long long)t->ne[0], QK256_BLOCK);
    for (size_t i = 0; i < tq_blocks(t); i++)
        if (!isfinite(qk256_tq_scale(f, t->data, i)))
            return bn_errf(err, "tensor %s: block %zu has a non-finite scale", name, i);
    return 0;
}

int bn_ternary_is_grouped(uint32_t type)
{
    return type == GGML_TYPE_Q2_0 || type == GGML_TYPE_Q1_0;
}

/* The tensor's encoding is one bn_ternary_load repacks, with finite scales. */
int bn_ternary_check(const gguf_tensor *t, const char *name, char *err)
{
    if (bn_ternary_is_grouped(t->type)) return 0; /* gguf.c checked whole blocks; scales at load */
    if (t->type == GGML_TYPE_I2_S) {
        if (t->ne[0] % I2S_ROW_MULTIPLE)
            return bn_errf(err, "tensor %s: I2_S row length %lld is not a multiple of %d", name,
                           (long long)t->ne[0], I2S_ROW_MULTIPLE);
        if (!isfinite(i2s_tensor_scale(t->data, (int)t->ne[1], (int)t->ne[0])))
            return bn_errf(err, "tensor %s: the I2_S scale is not finite", name);
        return 0;
    }
    if (tq_format(t->type)) return check_tq(t, name, tq_format(t->type), err);
    if (is_float_type(t->type)) return 0;
    return bn_errf(err,
                   "tensor %s has type %s, which is not a ternary encoding this engine reads "
                   "(I2_S, TQ2_0, TQ1_0, Q2_0, Q1_0, or ternary-valued F32/F16/BF16)",
                   name, gguf_type_name(t->type));
}

/* Float weights all of one magnitude s or zero: {-s, 0, +s}. */
static int floats_are_ternary(const gguf_tensor *t)
{
    const int rows = (int)t->ne[1], cols = (int)t->ne[0];
    const size_t row_bytes = bn_quant_row_bytes(t->type, cols);
    float *w = malloc((size_t)cols * sizeof *w);
    if (!w) return -1;
    float s = 0.0f;
    int ok = 1;
    for (int r = 0; r < rows && ok; r++) {
        bn_dequantize_row(t->type, t->data + (size_t)r * row_bytes, w, cols);
        for (int c = 0; c < cols && ok; c++) {
            const float a = fabsf(w[c]);
            if (a != 0.0f && s == 0.0f) s = a;
            ok = a == 0.0f || a == s;
        }
    }
    free(w);
    return ok;
}

/* bn_ternary_check, and float weights already ternary-valued. */
int bn_ternary_check_strict(const gguf_tensor *t, const char *name, char *err)
{
    if (bn_ternary_check(t, name, err)) return -1;
    if (!is_float_type(t->type)) return 0;
    const int ok = floats_are_ternary(t);
    if (ok < 0) return bn_errf(err, "out of memory checking tensor %s", name);
    if (!ok)
        return bn_errf(err, "tensor %s holds %s values that are not ternary ({-s, 0, +s})", name,
                       gguf_type_name(t->type));
    return 0;
}

/* ------------------------------------------------------------- repacking */

typedef struct {
    double sum_abs;    /* sum of |w| over the row */
    float max_abs;     /* largest |w| */
    float min_nonzero; /* smallest non-zero |w| (INFINITY when none) */
    int finite;        /* no NaN or infinity in the row */
} row_stats;

typedef struct {
    const gguf_tensor *t;
    qk256_matrix *m;
    const qk256_tq_format *tq;
    atomic_long bad; /* weights that are not ternary */
    /* float types */
    size_t row_bytes;
    float *scratch; /* one row of cols floats per thread */
    row_stats *stats;
    float scale;
} repack_job;

static void rows_of(const repack_job *j, int ith, int nth, int *r0, int *r1)
{
    bn_split_range(j->m->rows, ith, nth, REPACK_ROW_ALIGN, r0, r1);
}

/* A thread's rows of an I2_S tensor into QK256. */
static void repack_i2s_task(void *arg, int ith, int nth)
{
    repack_job *j = arg;
    int r0, r1;
    rows_of(j, ith, nth, &r0, &r1);
    qk256_from_i2s_rows(j->m, j->t->data, r0, r1);
}

/* A thread's rows of a TQ2_0 / TQ1_0 tensor into QK256, counting bad codes. */
static void repack_tq_task(void *arg, int ith, int nth)
{
    repack_job *j = arg;
    int r0, r1;
    rows_of(j, ith, nth, &r0, &r1);
    long bad = qk256_from_tq_rows(j->m, j->tq, j->t->data, r0, r1);
    if (bad) atomic_fetch_add(&j->bad, bad);
}

static const float *float_row(const repack_job *j, int ith, int r)
{
    float *buf = j->scratch + (size_t)ith * j->m->cols;
    bn_dequantize_row(j->t->type, j->t->data + (size_t)r * j->row_bytes, buf, j->m->cols);
    return buf;
}

/* A thread's rows of a float tensor: the statistics of their |w|. */
static void float_stats_task(void *arg, int ith, int nth)
{
    repack_job *j = arg;
    int r0, r1;
    rows_of(j, ith, nth, &r0, &r1);
    for (int r = r0; r < r1; r++) {
        const float *w = float_row(j, ith, r);
        row_stats s = {0.0, 0.0f, INFINITY, 1};
        for (int c = 0; c < j->m->cols; c++) {
            const float a = fabsf(w[c]);
            if (!isfinite(a)) s.finite = 0;
            s.sum_abs += a;
            if (a > s.max_abs) s.max_abs = a;
            if (a > 0.0f && a < s.min_nonzero) s.min_nonzero = a;
        }
        j->stats[r] = s;
    }
}

/* A thread's rows of a float tensor quantized to ternary QK256 codes. */
static void float_codes_task(void *arg, int ith, int nth)
{
    repack_job *j = arg;
    int r0, r1;
    rows_of(j, ith, nth, &r0, &r1);
    for (int r = r0; r < r1; r++) qk256_ternarize_row(j->m, r, float_row(j, ith, r), j->scale);
}

/* The per-tensor scale of float weights, from the row statistics summed in
 * row order (so it does not depend on the thread count). Converters write
 * ternary-valued floats {-s, 0, +s} (docs/FORMAT.md, Ternary-valued
 * floats): then s itself is
 * the scale and the repacking is exact. Otherwise the floats are latent
 * weights, quantized as BitNet does in training: scale = mean|W| (floored),
 * w = clamp(round(W / scale), -1, 1). Returns -1 on NaN or infinity. */
static int float_scale(const repack_job *j, float *scale)
{
    double sum = 0.0;
    float max = 0.0f, min_nonzero = INFINITY;
    for (int r = 0; r < j->m->rows; r++) {
        const row_stats *s = &j->stats[r];
        if (!s->finite) return -1;
        sum += s->sum_abs;
        if (s->max_abs > max) max = s->max_abs;
        if (s->min_nonzero < min_nonzero) min_nonzero = s->min_nonzero;
    }
    if (max > 0.0f && min_nonzero == max) {
        *scale = max;
    } else {
        const double mean = sum / ((double)j->m->rows * j->m->cols);
        *scale = (float)(mean > ABSMEAN_FLOOR ? mean : ABSMEAN_FLOOR);
    }
    return 0;
}

/* A float tensor: the row statistics, the scale (float_scale), then the codes. */
static int load_floats(repack_job *j, bn_pool *pool, const char *name, char *err)
{
    const int nth = bn_pool_size(pool);
    j->row_bytes = bn_quant_row_bytes(j->t->type, j->m->cols);
    j->scratch = malloc((size_t)nth * j->m->cols * sizeof *j->scratch);
    j->stats = malloc((size_t)j->m->rows * sizeof *j->stats);
    int rc = 0;
    if (!j->scratch || !j->stats) {
        rc = bn_errf(err, "out of memory for tensor %s", name);
    } else {
        bn_pool_run(pool, float_stats_task, j);
        if (float_scale(j, &j->scale))
            rc = bn_errf(err, "tensor %s holds NaN or infinite values", name);
        else
            bn_pool_run(pool, float_codes_task, j);
    }
    j->m->scale = j->scale;
    free(j->scratch);
    free(j->stats);
    return rc;
}

/* Do all blocks of a TQ tensor share one scale (the fast path)? */
static int tq_uniform_scale(const gguf_tensor *t, const qk256_tq_format *f, float *scale)
{
    *scale = qk256_tq_scale(f, t->data, 0);
    for (size_t i = 1; i < tq_blocks(t); i++)
        if (qk256_tq_scale(f, t->data, i) != *scale) return 0;
    return 1;
}

/* A TQ tensor repacked; an invalid code is an error naming the tensor. */
static int load_tq(repack_job *j, bn_pool *pool, const char *name, char *err)
{
    bn_pool_run(pool, repack_tq_task, j);
    long bad = atomic_load(&j->bad);
    if (bad)
        return bn_errf(err, "tensor %s: %ld %s weights are not ternary (code 3 = +2)", name, bad,
                       j->tq->name);
    return 0;
}

/* A thread's rows of the QK256 codes packed into the Q16 layout. */
static void pack_q16_task(void *arg, int ith, int nth)
{
    repack_job *j = arg;
    int r0, r1;
    rows_of(j, ith, nth, &r0, &r1);
    q16_pack_rows(j->m, j->m->q16, r0, r1);
}

/* The 2-bit codes of m into the Q16 layout (in arena when it has room),
 * then freed. */
static int to_q16(qk256_matrix *m, bn_pool *pool, bn_arena *arena)
{
    const size_t bytes = (size_t)m->rows * q16_row_bytes(m->blocks_per_row);
    m->q16 = bn_arena_alloc(arena, bytes, QK256_BLOCK_BYTES);
    m->q16_in_arena = m->q16 != NULL;
    if (!m->q16) m->q16 = bn_aligned_alloc(QK256_BLOCK_BYTES, bytes ? bytes : QK256_BLOCK_BYTES);
    if (!m->q16) return -1;
    repack_job j = {.m = m};
    bn_pool_run(pool, pack_q16_task, &j);
    bn_aligned_free(m->codes); /* on the heap (bn_ternary_load) */
    m->codes = NULL;
    return 0;
}

static void repack_grouped_task(void *arg, int ith, int nth)
{
    repack_job *j = arg;
    int r0, r1;
    rows_of(j, ith, nth, &r0, &r1);
    long bad = j->t->type == GGML_TYPE_Q2_0 ? bn_grouped_from_q2_0_rows(j->m, j->t->data, r0, r1)
                                            : bn_grouped_from_q1_0_rows(j->m, j->t->data, r0, r1);
    if (bad) atomic_fetch_add(&j->bad, bad);
}

/* Q2_0 and Q1_0 keep their own layouts (never Q16: their scales are per
 * block). */
static int load_grouped(const gguf_tensor *t, const char *name, bn_pool *pool, bn_arena *arena,
                        qk256_matrix *out, char *err)
{
    const int rows = (int)t->ne[1], cols = (int)t->ne[0];
    if (t->type == GGML_TYPE_Q2_0 ? bn_grouped_alloc_q2(out, rows, cols, arena)
                                  : bn_grouped_alloc_b1(out, rows, cols, arena))
        return bn_errf(err, "out of memory for tensor %s", name);
    repack_job j = {.t = t, .m = out};
    atomic_init(&j.bad, 0);
    bn_pool_run(pool, repack_grouped_task, &j);
    const long bad = atomic_load(&j.bad);
    if (!bad) return 0;
    qk256_free(out);
    return bn_errf(err, "tensor %s: %ld %s blocks have a non-finite scale", name, bad,
                   gguf_type_name(t->type));
}

/* Tensor t repacked into *out, in the arena when it fits, Q16 when asked. */
int bn_ternary_load(const gguf_tensor *t, const char *name, bn_pool *pool, bn_arena *arena, int q16,
                    qk256_matrix *out, char *err)
{
    if (bn_ternary_check(t, name, err)) return -1;
    if (bn_ternary_is_grouped(t->type)) return load_grouped(t, name, pool, arena, out, err);
    const int rows = (int)t->ne[1], cols = (int)t->ne[0];
    const qk256_tq_format *tq = tq_format(t->type);
    float tq_scale = 1.0f;
    const int per_block = tq && !tq_uniform_scale(t, tq, &tq_scale);
    const int to_16 = q16 && !per_block;
    /* the repack writes every block; codes bound for Q16 are temporary */
    if (qk256_alloc_unset(out, rows, cols, per_block, to_16 ? NULL : arena))
        return bn_errf(err, "out of memory for tensor %s", name);
    repack_job j = {.t = t, .m = out, .tq = tq};
    atomic_init(&j.bad, 0);
    int rc = 0;
    if (t->type == GGML_TYPE_I2_S) {
        bn_pool_run(pool, repack_i2s_task, &j);
        out->scale = i2s_tensor_scale(t->data, rows, cols);
    } else if (tq) {
        rc = load_tq(&j, pool, name, err);
        if (!per_block) out->scale = tq_scale;
    } else {
        rc = load_floats(&j, pool, name, err);
    }
    if (!rc && to_16 && to_q16(out, pool, arena))
        rc = bn_errf(err, "out of memory for tensor %s", name);
    if (rc) qk256_free(out);
    return rc;
}
