/*
 * grow.c - growable arrays of the tokenizer (grow.h).
 */
#include "grow.h"

#include <stdlib.h>

#define MIN_GROW 64

void *bn_grow(void *buf, size_t *cap, size_t n, size_t elem)
{
    if (n <= *cap && buf) return buf;
    size_t c = *cap ? *cap : MIN_GROW;
    while (c < n) c *= 2;
    void *p = realloc(buf, c * elem);
    if (p) *cap = c;
    return p;
}

int bn_ids_push(bn_id_list *ids, int32_t id)
{
    int32_t *v = bn_grow(ids->v, &ids->cap, ids->n + 1, sizeof *v);
    if (!v) return -1;
    ids->v = v;
    v[ids->n++] = id;
    return 0;
}
