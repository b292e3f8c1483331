/*
 * vocab.h - the lookup tables of a vocabulary (vocab.c): token text -> id
 * and the BPE merge ranks (their types are in impl.h).
 */
#ifndef BN_TOKENIZER_VOCAB_H
#define BN_TOKENIZER_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "impl.h"

uint32_t bn_hash_bytes(const char *s, size_t len);
int bn_str_map_build(bn_str_map *m, const bn_tokenizer *t); /* 0 or -1 (memory) */
void bn_str_map_free(bn_str_map *m);
int32_t bn_str_map_find(const bn_str_map *m, const bn_tokenizer *t, const char *s, size_t len);
/* The same with the hash of s already known (bn_hash_bytes). */
int32_t bn_str_map_find_hashed(const bn_str_map *m, const bn_tokenizer *t, const char *s,
                               size_t len, uint32_t hash);
/* Asks the CPU to fetch the slot of a hash ahead of a lookup (a hint only). */
void bn_str_map_prefetch(const bn_str_map *m, uint32_t hash);
/* Builds the table from pairs[rank] = {left, right} (entries with a
 * negative id are skipped); 0 or -1 (memory). */
int bn_merge_table_build(bn_merge_table *m, int32_t n_vocab, const int32_t (*pairs)[2],
                         size_t n_pairs);
void bn_merge_table_free(bn_merge_table *m);
/* The lowest rank of the merge left+right, or -1 when there is none. */
int32_t bn_merge_rank(const bn_merge_table *m, int32_t left, int32_t right);

#endif
