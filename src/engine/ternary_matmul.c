/*
 * ternary_matmul.c - the ternary matrix products of a pass on the context's
 * pool. Every weight row is read once per pass and applied to all its
 * tokens; the products that share an input (Q/K/V, gate/up) share one
 * pool run, their rows handed out in shrinking chunks (bn_chunks).
 */
#include "engine.h"

typedef void (*bn_matvec_fn)(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1);

#define ROW_CHUNK 16   /* rows per inner chunk: their codes stay in L1 across the tokens */
#define TOKEN_BLOCK 64 /* prompt tokens per pass over a claim of rows: their int8 inputs stay in L2 */
#define MAX_FUSED 3    /* most products in one run (Q, K, V) */
/* Up to this many tokens, each takes the one-token product over a chunk of
 * rows that stays in L1, unless the table's matmat pads no tile
 * (matmat_from_2): the other tile kernels pad a pass to their full width,
 * which would make a short verify pass (--lookup) cost a full tile. */
#define MATVEC_MAX_TOKENS 4

typedef struct {
    const bn_kernels *k;
    bn_matvec_fn q16_matvec; /* the table's, else the scalar one */
    const bn_qact *a; /* [n_tok] */
    int n_tok;
    int n_mat;
    const qk256_matrix *w[MAX_FUSED];
    float *y[MAX_FUSED]; /* [n_tok][w->rows] */
    bn_chunks rows[MAX_FUSED];
} products_job;

/* Rows [r0, r1) of matrix i, ROW_CHUNK at a time so that each chunk's
 * codes stay in L1 across the tokens; a prompt's tokens TOKEN_BLOCK at a
 * time, so that their activations stay in L2 across the rows. */
static void product_rows(const products_job *j, int i, int r0, int r1)
{
    const qk256_matrix *w = j->w[i];
    for (int t0 = 0; t0 < j->n_tok; t0 += TOKEN_BLOCK) {
        const int nt = j->n_tok - t0 < TOKEN_BLOCK ? j->n_tok - t0 : TOKEN_BLOCK;
        const bn_qact *a = j->a + t0;
        float *y = j->y[i] + (size_t)t0 * w->rows;
        for (int c = r0; c < r1; c += ROW_CHUNK) {
            const int c1 = c + ROW_CHUNK < r1 ? c + ROW_CHUNK : r1;
            if (w->q16) { /* Q16 tiles pad no tile: they pay from 2 tokens on */
                if (j->k->q16_matmat && nt > 1)
                    j->k->q16_matmat(w, a, nt, y, w->rows, c, c1);
                else
                    for (int t = 0; t < nt; t++) j->q16_matvec(w, &a[t], y + (size_t)t * w->rows, c, c1);
                continue;
            }
            if (j->k->qk256_matmat && nt > (j->k->matmat_from_2 ? 1 : MATVEC_MAX_TOKENS)) {
                j->k->qk256_matmat(w, a, nt, y, w->rows, c, c1);
                continue;
            }
            for (int t = 0; t < nt; t++) j->k->qk256_matvec(w, &a[t], y + (size_t)t * w->rows, c, c1);
        }
    }
}

static void products_task(void *arg, int ith, int nth)
{
    products_job *j = arg;
    (void)ith;
    (void)nth;
    for (int i = 0; i < j->n_mat; i++) {
        int r0, r1;
        while (bn_chunks_claim(&j->rows[i], &r0, &r1)) product_rows(j, i, r0, r1);
    }
}

void bn_ternary_matmul(bn_context *ctx, const bn_qact *qa, int n_tok, int n_mat, const bn_product *p)
{
    const bn_kernels *k = ctx->m->kernels;
    products_job j = {.k = k, .q16_matvec = k->q16_matvec ? k->q16_matvec : bn_kernels_scalar.q16_matvec,
                      .a = qa, .n_tok = n_tok, .n_mat = n_mat};
    for (int i = 0; i < n_mat; i++) {
        j.w[i] = p[i].w;
        j.y[i] = p[i].y;
        bn_chunks_init(&j.rows[i], p[i].w->rows, ROW_CHUNK, bn_pool_size(ctx->pool));
    }
    bn_pool_run(ctx->pool, products_task, &j);
}
