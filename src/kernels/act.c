/*
 * act.c - activation buffers, the activation scale and padded chunks
 * (act.h), shared by every kernel table.
 */
#include "act.h"

#include <stdlib.h>
#include <string.h>

#include "qk256.h"
#include "runtime/platform.h"

/* The running max starts at 1e-5 (docs/FORWARD.md, Activation quantization). */
#define ACT_MAX_FLOOR 1e-5
#define INT8_LIMIT 127.0

int bn_qact_alloc(bn_qact *a, int n)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    a->n_blocks = qk256_blocks(n);
    size_t len = (size_t)(a->n_blocks ? a->n_blocks : 1) * QK256_BLOCK;
    a->q = bn_aligned_alloc(QK256_BLOCK_BYTES, len);
    a->block_sums = calloc((size_t)(a->n_blocks ? a->n_blocks : 1), sizeof(int32_t));
    if (!a->q || !a->block_sums) {
        bn_qact_free(a);
        return -1;
    }
    memset(a->q, 0, len);
    return 0;
}

void bn_qact_free(bn_qact *a)
{
    bn_aligned_free(a->q);
    free(a->block_sums);
    a->q = NULL;
    a->block_sums = NULL;
}

float bn_act_scale(float absmax)
{
    const double max = absmax > ACT_MAX_FLOOR ? (double)absmax : ACT_MAX_FLOOR;
    return (float)(INT8_LIMIT / max);
}

const float *bn_act_chunk(const float *x, int valid, int i, int len, float *pad)
{
    if (i + len <= valid) return x + i;
    memset(pad, 0, (size_t)len * sizeof *pad);
    if (valid > i) memcpy(pad, x + i, (size_t)(valid - i) * sizeof *pad);
    return pad;
}
