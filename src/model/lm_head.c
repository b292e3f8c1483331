/*
 * lm_head.c - --lm-head: the output layer requantized at load to F16,
 * Q8_0 or Q6_K (bn_model_params.lm_head): which names are valid, the bytes
 * the copy takes, and the requantization on the load's pool.
 */
#include <stdlib.h>
#include <strings.h>

#include "kernels/quants.h"
#include "load.h"
#include "runtime/errors.h"

#define REQUANT_ROW_ALIGN 16
#define REQUANT_RELEASE_ROWS 1024 /* rows requantized between page releases */

static const struct {
    const char *name;
    uint32_t type;
} lm_head_types[] = {{"f16", GGML_TYPE_F16}, {"q8_0", GGML_TYPE_Q8_0}, {"q6_k", GGML_TYPE_Q6_K}};

/* The type the output layer will have: the file's (lm_head NULL or empty)
 * or the requested one, which must hold rows of n_embd values. */
int bn_lm_head_type(const bn_model *m, const char *lm_head, uint32_t file_type, uint32_t *type,
                    char *err)
{
    *type = file_type;
    if (!lm_head || !*lm_head) return 0;
    size_t i = 0, n = sizeof lm_head_types / sizeof lm_head_types[0];
    while (i < n && strcasecmp(lm_head, lm_head_types[i].name)) i++;
    if (i == n)
        return bn_errf(err, "unknown lm-head type '%s' (expected f16, q8_0 or q6_k)", lm_head);
    *type = lm_head_types[i].type;
    if (!bn_quant_row_bytes(*type, m->hp.n_embd))
        return bn_errf(err,
                       "lm-head type %s needs rows that are whole %s blocks, but the output "
                       "layer's rows have %d values",
                       lm_head, gguf_type_name(*type), m->hp.n_embd);
    return 0;
}

/* The bytes of the output layer requantized to `type` (--lm-head), 0 when
 * it keeps the file's type. It goes after the codes, whose bytes are whole
 * blocks, so it starts block-aligned with no padding. */
size_t bn_lm_head_bytes(const bn_model *m, uint32_t type)
{
    const gguf_tensor *t = gguf_find_tensor(m->file, "output.weight");
    if (!t) t = gguf_find_tensor(m->file, "token_embd.weight");
    if (!t || t->type == type) return 0;
    return (size_t)t->ne[1] * bn_quant_row_bytes(type, (int)t->ne[0]);
}

typedef struct {
    const bn_model *m;
    const bn_dense *src;
    bn_dense *dst;
    float *scratch; /* one row per thread */
} requant_job;

/* Requantizes the rows of one worker a chunk at a time, releasing each
 * chunk of the source once done, so the whole source is never resident at
 * once next to the copy (a tied token_embd needs only the rows it looks
 * up: they come back from the file one page at a time). */
static void requant_task(void *arg, int ith, int nth)
{
    const requant_job *j = arg;
    int r0, r1;
    bn_split_range(j->src->rows, ith, nth, REQUANT_ROW_ALIGN, &r0, &r1);
    float *row = j->scratch + (size_t)ith * j->src->cols;
    for (int c0 = r0; c0 < r1; c0 += REQUANT_RELEASE_ROWS) {
        const int c1 = c0 + REQUANT_RELEASE_ROWS < r1 ? c0 + REQUANT_RELEASE_ROWS : r1;
        for (int r = c0; r < c1; r++) {
            bn_dense_row(j->src, r, row);
            bn_quantize_row(j->dst->type, row, j->dst->owned + (size_t)r * j->dst->row_bytes,
                            j->dst->cols);
        }
        bn_release_pages(j->m, j->src->data + (size_t)c0 * j->src->row_bytes,
                         (size_t)(c1 - c0) * j->src->row_bytes);
    }
}

/* Replaces m->output by a copy in `type` (--lm-head); a tied token_embd
 * keeps the file's tensor for the embedding lookup. */
int bn_lm_head_requantize(bn_model *m, uint32_t type, char *err)
{
    const bn_dense src = m->output;
    if (type == src.type) return 0;
    bn_dense q = {.type = type, .rows = src.rows, .cols = src.cols};
    q.row_bytes = bn_quant_row_bytes(type, src.cols);
    const size_t bytes = (size_t)q.rows * q.row_bytes;
    q.owned = bn_arena_alloc(&m->weights, bytes, QK256_BLOCK_BYTES);
    q.owned_in_arena = q.owned != NULL;
    if (!q.owned) q.owned = malloc(bytes);
    float *scratch = malloc((size_t)bn_pool_size(m->pool) * src.cols * sizeof *scratch);
    if (!q.owned || !scratch) {
        if (!q.owned_in_arena) free(q.owned);
        free(scratch);
        return bn_errf(err, "out of memory for the requantized output layer");
    }
    requant_job j = {m, &src, &q, scratch};
    bn_pool_run(m->pool, requant_task, &j);
    free(scratch);
    q.data = q.owned;
    m->output = q;
    return 0;
}
