/*
 * grow.h - growable arrays of the tokenizer (grow.c): any buffer grown
 * by doubling, and the list of ids a tokenization writes.
 */
#ifndef BN_TOKENIZER_GROW_H
#define BN_TOKENIZER_GROW_H

#include <stddef.h>
#include <stdint.h>

/* Makes room for n elements of size elem: returns buf or its reallocated
 * copy (updating *cap), or NULL when out of memory (buf is then untouched). */
void *bn_grow(void *buf, size_t *cap, size_t n, size_t elem);

/* Growable list of output ids. */
typedef struct {
    int32_t *v;
    size_t n, cap;
} bn_id_list;

int bn_ids_push(bn_id_list *ids, int32_t id); /* 0, or -1 when out of memory */

#endif
