/*
 * tokenizer_vocab.c - the tokenizer's two hash tables: token text -> id and
 * (left id, right id) -> BPE merge (rank and merged id). Open addressing with
 * linear probing, at most half full, so lookups stay O(1).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

#define HASH_SEED 0x9E3779B97F4A7C15ull
#define HASH_MUL1 0xBF58476D1CE4E5B9ull
#define HASH_MUL2 0x94D049BB133111EBull
#define MIN_SLOTS 16

/* Slots for n entries: a power of two at least twice n. */
static size_t slots_for(size_t n)
{
    size_t s = MIN_SLOTS;
    while (s < 2 * n) s *= 2;
    return s;
}

static uint64_t mix_word(uint64_t h, uint64_t w)
{
    h = (h ^ w) * HASH_MUL1;
    return h ^ (h >> 29);
}

uint32_t bn_hash_bytes(const char *s, size_t len)
{
    uint64_t h = HASH_SEED ^ len, w;
    for (; len >= sizeof w; s += sizeof w, len -= sizeof w) {
        memcpy(&w, s, sizeof w);
        h = mix_word(h, w);
    }
    if (len) {
        w = 0;
        memcpy(&w, s, len);
        h = mix_word(h, w);
    }
    h ^= h >> 32;
    h *= HASH_MUL2;
    return (uint32_t)(h ^ (h >> 29));
}

int bn_str_map_build(bn_str_map *m, const bn_tokenizer *t)
{
    size_t n_slots = slots_for((size_t)t->n_vocab);
    m->mask = n_slots - 1;
    m->hash = malloc(n_slots * sizeof *m->hash);
    m->id = malloc(n_slots * sizeof *m->id);
    if (!m->hash || !m->id) return -1;
    memset(m->id, 0xFF, n_slots * sizeof *m->id); /* every id -1: empty */
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = bn_tok_text(t, id);
        size_t len = t->text_len[id];
        uint32_t h = bn_hash_bytes(s, len);
        size_t i = h & m->mask;
        /* a repeated text maps to its last id, as in llama.cpp's token_to_id */
        while (m->id[i] >= 0 && !(m->hash[i] == h && t->text_len[m->id[i]] == len &&
                                  !memcmp(bn_tok_text(t, m->id[i]), s, len)))
            i = (i + 1) & m->mask;
        m->hash[i] = h;
        m->id[i] = id;
    }
    return 0;
}

void bn_str_map_free(bn_str_map *m)
{
    free(m->hash);
    free(m->id);
    m->hash = NULL;
    m->id = NULL;
}

int32_t bn_str_map_find(const bn_str_map *m, const bn_tokenizer *t, const char *s, size_t len)
{
    uint32_t h = bn_hash_bytes(s, len);
    for (size_t i = h & m->mask; m->id[i] >= 0; i = (i + 1) & m->mask) {
        int32_t id = m->id[i];
        if (m->hash[i] == h && t->text_len[id] == len && !memcmp(bn_tok_text(t, id), s, len))
            return id;
    }
    return -1;
}

int bn_merge_map_init(bn_merge_map *m, size_t n_merges)
{
    size_t n_slots = slots_for(n_merges);
    m->mask = n_slots - 1;
    m->slots = calloc(n_slots, sizeof *m->slots);
    return m->slots ? 0 : -1;
}

void bn_merge_map_free(bn_merge_map *m)
{
    free(m->slots);
    m->slots = NULL;
}

static uint64_t pair_key(int32_t left, int32_t right)
{
    return ((uint64_t)(uint32_t)(left + 1) << 32) | (uint32_t)(right + 1);
}

static size_t pair_slot(const bn_merge_map *m, uint64_t key)
{
    return (size_t)((key * HASH_SEED) >> 32) & m->mask;
}

void bn_merge_map_add(bn_merge_map *m, int32_t left, int32_t right, int32_t rank, int32_t merged)
{
    uint64_t key = pair_key(left, right);
    size_t i = pair_slot(m, key);
    while (m->slots[i].key && m->slots[i].key != key) i = (i + 1) & m->mask;
    if (!m->slots[i].key) {
        m->slots[i].key = key;
        m->slots[i].rank = rank;
        m->slots[i].merged = merged;
    }
}

const bn_merge_slot *bn_merge_map_find(const bn_merge_map *m, int32_t left, int32_t right)
{
    uint64_t key = pair_key(left, right);
    for (size_t i = pair_slot(m, key); m->slots[i].key; i = (i + 1) & m->mask)
        if (m->slots[i].key == key) return &m->slots[i];
    return NULL;
}
