/*
 * ternary_matmul.c - the ternary matrix products of a pass on the context's
 * pool. Every weight row is read once per pass and applied to all its
 * tokens; the products that share an input (Q/K/V, gate/up) share one
 * pool run, their rows handed out in shrinking chunks (bn_chunks).
 */
#include "engine.h"
#include "kernels/grouped.h"

#define ROW_CHUNK 16 /* rows per inner chunk: their codes stay in L1 across the tokens */
#define TOKEN_BLOCK                                                                                \
    64              /* prompt tokens per pass over a claim of rows: their int8 inputs stay in L2 */
#define MAX_FUSED 3 /* most products in one run (Q, K, V) */

typedef struct {
    const bn_kernels *k;
    const bn_qact *a;  /* [n_tok] */
    const bn_q8act *g; /* [n_tok], for group-scaled matrices */
    int n_tok;
    int n_mat;
    const qk256_matrix *w[MAX_FUSED];
    float *y[MAX_FUSED]; /* [n_tok][w->rows] */
    bn_chunks rows[MAX_FUSED];
} products_job;

/* Rows [r0, r1) of a Q2_0 / Q1_0 matrix for every token, as product_rows
 * does a QK256 one. Out of line, so the QK256 loop of products_task
 * compiles as tight as without it. */
__attribute__((noinline)) static void grouped_rows(const products_job *j, const qk256_matrix *w,
                                                   float *y, int r0, int r1)
{
    const bn_kernels *k = j->k;
    const bn_grouped_matvec_fn matvec = w->bits ? k->b1_matvec : k->q2_matvec;
    const bn_grouped_matmat_fn matmat = w->bits ? k->b1_matmat : k->q2_matmat;
    for (int t0 = 0; t0 < j->n_tok; t0 += TOKEN_BLOCK) {
        const int nt = j->n_tok - t0 < TOKEN_BLOCK ? j->n_tok - t0 : TOKEN_BLOCK;
        const bn_q8act *a = j->g + t0;
        float *yt = y + (size_t)t0 * w->rows;
        for (int c = r0; c < r1; c += ROW_CHUNK) {
            const int c1 = c + ROW_CHUNK < r1 ? c + ROW_CHUNK : r1;
            if (nt >= k->grouped_matmat_from)
                matmat(w, a, nt, yt, w->rows, c, c1);
            else
                for (int t = 0; t < nt; t++) matvec(w, &a[t], yt + (size_t)t * w->rows, c, c1);
        }
    }
}

/* Rows [r0, r1) of matrix i, ROW_CHUNK at a time so that each chunk's
 * codes stay in L1 across the tokens; a prompt's tokens TOKEN_BLOCK at a
 * time, so that their activations stay in L2 across the rows. The table's
 * products (its Q16 ones for a matrix held as Q16): the prompt-batch one
 * from as many tokens as the table says, else the one-token one per token. */
static void product_rows(const products_job *j, int i, int r0, int r1)
{
    const bn_kernels *k = j->k;
    const qk256_matrix *w = j->w[i];
    const bn_qk256_matvec_fn matvec = w->q16 ? k->q16_matvec : k->qk256_matvec;
    const bn_qk256_matmat_fn matmat = w->q16 ? k->q16_matmat : k->qk256_matmat;
    const int matmat_from = w->q16 ? k->q16_matmat_from : k->qk256_matmat_from;
    for (int t0 = 0; t0 < j->n_tok; t0 += TOKEN_BLOCK) {
        const int nt = j->n_tok - t0 < TOKEN_BLOCK ? j->n_tok - t0 : TOKEN_BLOCK;
        const bn_qact *a = j->a + t0;
        float *y = j->y[i] + (size_t)t0 * w->rows;
        for (int c = r0; c < r1; c += ROW_CHUNK) {
            const int c1 = c + ROW_CHUNK < r1 ? c + ROW_CHUNK : r1;
            if (nt >= matmat_from)
                matmat(w, a, nt, y, w->rows, c, c1);
            else
                for (int t = 0; t < nt; t++) matvec(w, &a[t], y + (size_t)t * w->rows, c, c1);
        }
    }
}

/* Each thread claims chunks of rows of each matrix in turn. */
static void products_task(void *arg, int ith, int nth)
{
    products_job *j = arg;
    (void)ith;
    (void)nth;
    for (int i = 0; i < j->n_mat; i++) {
        int r0, r1;
        if (j->w[i]->group_scales) /* Q2_0, Q1_0 */
            while (bn_chunks_claim(&j->rows[i], &r0, &r1))
                grouped_rows(j, j->w[i], j->y[i], r0, r1);
        else
            while (bn_chunks_claim(&j->rows[i], &r0, &r1)) product_rows(j, i, r0, r1);
    }
}

/* The n products as one pool run, each matrix's rows in shrinking chunks. */
void bn_ternary_matmul(bn_context *ctx, const bn_acts *qa, int n_tok, int n_mat,
                       const bn_product *p)
{
    products_job j = {
        .k = ctx->m->kernels, .a = qa->tok, .g = qa->grp, .n_tok = n_tok, .n_mat = n_mat};
    for (int i = 0; i < n_mat; i++) {
        j.w[i] = p[i].w;
        j.y[i] = p[i].y;
        bn_chunks_init(&j.rows[i], p[i].w->rows, ROW_CHUNK, bn_pool_size(ctx->pool));
    }
    bn_pool_run(ctx->pool, products_task, &j);
}
