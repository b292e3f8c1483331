/*
 * products.c - the QK256 products from an instruction set's integer core
 * (products.h): rows with the float epilogue, and prompt batches in tiles.
 */
#include "products.h"

#include <string.h>

#include "q16.h"

#define DOTS_CHUNK 32 /* blocks whose dots are computed per call */

/* docs/FORWARD.md, Ternary products, with per-block scales:
 * acc += d * (sum(code*q) - sum(q)) for each block in order, then
 * acc / act_scale. */
static float block_scales_row(const uint8_t *row, const float *d, const bn_qact *a, int nb,
                              bn_block_dots_fn block_dots)
{
    int32_t dots[DOTS_CHUNK];
    float acc = 0.0f;
    for (int b0 = 0; b0 < nb; b0 += DOTS_CHUNK) {
        const int n = nb - b0 < DOTS_CHUNK ? nb - b0 : DOTS_CHUNK;
        block_dots(row + (size_t)b0 * QK256_BLOCK_BYTES, a->q + (size_t)b0 * QK256_BLOCK, n, dots);
        for (int i = 0; i < n; i++) acc += d[b0 + i] * (float)(dots[i] - a->block_sums[b0 + i]);
    }
    return acc / a->scale;
}

/* Rows [r0, r1): per-tensor or per-block scales around the integer sums. */
void bn_qk256_matvec_rows(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1,
                          bn_row_dot_fn row_dot, bn_block_dots_fn block_dots)
{
    const int nb = w->blocks_per_row;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w->codes + (size_t)r * nb * QK256_BLOCK_BYTES;
        if (w->block_scales)
            y[r] = block_scales_row(row, w->block_scales + (size_t)r * nb, a, nb, block_dots);
        else
            y[r] = bn_ternary_epilogue(row_dot(row, a->q, nb), a, w->scale);
    }
}

/* Rows [r0, r1) of a Q16 matrix with the per-tensor epilogue. */
void bn_q16_matvec_rows(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1,
                        bn_row_dot_fn row_dot)
{
    const size_t row_bytes = q16_row_bytes(w->blocks_per_row);
    for (int r = r0; r < r1; r++)
        y[r] = bn_ternary_epilogue(row_dot(w->q16 + (size_t)r * row_bytes, a->q, w->blocks_per_row),
                                   a, w->scale);
}

#define MAX_TILE 32 /* tokens */
#define MAX_TILE_ROWS 4
#define EPI_LANES 4 /* tokens per vector of the tile epilogue; every tile is a multiple */

/* GCC/clang vector extensions: SSE2 or NEON lanes in portable C. */
typedef float f32x4 __attribute__((vector_size(EPI_LANES * sizeof(float))));
typedef int32_t i32x4 __attribute__((vector_size(EPI_LANES * sizeof(int32_t))));

/* The token side of bn_ternary_epilogue for a tile, EPI_LANES tokens a
 * vector: (float)sum and scale, the last token repeated past nt up to a
 * whole vector. */
typedef struct {
    f32x4 sum[MAX_TILE / EPI_LANES], scale[MAX_TILE / EPI_LANES];
} tile_tokens;

/* The tile's tokens' sums and scales as floats, the last one repeated. */
static void tile_tokens_load(tile_tokens *tt, const bn_qact *a, int tile, int nt)
{
    const int lanes = (tile + EPI_LANES - 1) / EPI_LANES * EPI_LANES;
    for (int t = 0; t < lanes; t++) {
        const bn_qact *at = &a[t < nt ? t : nt - 1];
        tt->sum[t / EPI_LANES][t % EPI_LANES] = (float)at->sum;
        tt->scale[t / EPI_LANES][t % EPI_LANES] = at->scale;
    }
}

/* bn_ternary_epilogue lane by lane (the same IEEE operations in the same
 * order, so bitwise the same), for one row of a tile's sums: one vector
 * division replaces EPI_LANES scalar ones, the slowest part of it. */
static void tile_row_epilogue(const int32_t *sums, const tile_tokens *tt, int nt, float w_scale,
                              float *y, size_t ldy)
{
    for (int t0 = 0; t0 < nt; t0 += EPI_LANES) {
        i32x4 s;
        memcpy(&s, sums + t0, sizeof s);
        const f32x4 v = (__builtin_convertvector(s, f32x4) - tt->sum[t0 / EPI_LANES]) /
                        tt->scale[t0 / EPI_LANES] * w_scale;
        for (int l = 0; l < EPI_LANES && t0 + l < nt; l++) y[(size_t)(t0 + l) * ldy] = v[l];
    }
}

/* Rows [r0, r1) for n_tok tokens: tiles of rows x tokens, the rest per token. */
void bn_qk256_matmat_tiles(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                           int r0, int r1, const bn_matmat_shape *shape)
{
    const int tile = shape->tile, rows = shape->rows;
    const int r_tiled = w->block_scales ? r0 : r0 + (r1 - r0) / rows * rows;
    for (int t = 0; t < n_tok && r_tiled < r1; t++)
        shape->matvec(w, &a[t], y + (size_t)t * ldy, r_tiled, r1);
    const int nb = w->blocks_per_row;
    /* the tile function reads whichever layout the matrix holds */
    const uint8_t *codes = w->q16 ? w->q16 : w->codes;
    const size_t row_bytes = w->q16 ? q16_row_bytes(nb) : (size_t)nb * QK256_BLOCK_BYTES;
    const int8_t *q[MAX_TILE];
    /* zeroed: a tile narrower than a vector of the epilogue leaves lanes
     * that it reads and drops */
    int32_t sums[MAX_TILE_ROWS * MAX_TILE + EPI_LANES] = {0};
    tile_tokens tt;
    for (int t0 = 0; t0 < n_tok; t0 += tile) {
        const int nt = n_tok - t0 < tile ? n_tok - t0 : tile;
        for (int t = 0; t < tile; t++) q[t] = a[t0 + (t < nt ? t : nt - 1)].q;
        tile_tokens_load(&tt, a + t0, tile, nt);
        for (int r = r0; r < r_tiled; r += rows) {
            shape->row_tile(codes + (size_t)r * row_bytes, row_bytes, q, nb, sums);
            float *yt = y + (size_t)t0 * ldy + r;
            if (shape->epilogue) {
                shape->epilogue(sums, (const float *)tt.sum, (const float *)tt.scale, nt, w->scale,
                                yt, (size_t)ldy);
                continue;
            }
            for (int i = 0; i < rows; i++)
                tile_row_epilogue(sums + (size_t)i * tile, &tt, nt, w->scale, yt + i, (size_t)ldy);
        }
    }
}

void bn_matmat_per_token(bn_qk256_matvec_fn matvec, const qk256_matrix *w, const bn_qact *a,
                         int n_tok, float *y, int ldy, int r0, int r1)
{
    for (int t = 0; t < n_tok; t++) matvec(w, &a[t], y + (size_t)t * ldy, r0, r1);
}

void bn_f16_matmat_per_input(bn_f16_matvec_fn matvec, const uint16_t *w, int cols, const float *x,
                             int n, float *y, size_t ldy, int r0, int r1)
{
    for (int i = 0; i < n; i++) matvec(w, cols, x + (size_t)i * cols, y + (size_t)i * ldy, r0, r1);
}
