/*
 * merge.h - the merge loop both BPE and SentencePiece use (merge.c).
 */
#ifndef BN_TOKENIZER_MERGE_H
#define BN_TOKENIZER_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "impl.h"

/* A word is split into symbols (one per UTF-8 character, or per invalid
 * byte); adjacent pairs that a rater accepts are queued by key, the lowest
 * key first and ties to the leftmost pair, and merged until none is left. */
typedef struct {
    uint32_t off, len; /* bytes of the word; len 0 = merged into its left */
    int32_t id;        /* token of the text, -1 when it is not one */
    int32_t prev, next;
} bn_symbol;

typedef struct {
    double key; /* BPE: merge rank; SPM: minus the token score */
    int32_t left, right, merged;
    uint32_t size; /* bytes of left + right when queued, to spot stale pairs */
} bn_pair;

/* Says whether l+r may merge: 1 with *key and *merged (the new id) set, else 0. */
typedef int (*bn_pair_rater)(void *ctx, const char *word, const bn_symbol *l, const bn_symbol *r,
                             double *key, int32_t *merged);

typedef struct {
    bn_symbol *sym; /* the chain starts at sym[0] */
    size_t sym_cap;
    bn_pair *heap;
    size_t heap_n, heap_cap;
} bn_merger;

/* Splits word into symbols (an empty word: one empty symbol, id -1) and
 * merges them; 0 or -1 (memory). */
int bn_merge_word(bn_merger *m, const bn_tokenizer *t, const char *word, size_t len,
                  bn_pair_rater rate, void *ctx);
void bn_merger_free(bn_merger *m);

#endif
