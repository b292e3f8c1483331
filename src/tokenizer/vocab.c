/*
 * vocab.c - the tokenizer's lookup structures: token text -> id
 * (an open-addressing hash table, at most half full) and the BPE merge
 * ranks (left id, right id) -> rank, stored as one sorted row per left id
 * (compact, so building it for 280k merges stays within the cache).
 */
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

#define HASH_SEED 0x9E3779B97F4A7C15ull
#define HASH_MUL1 0xBF58476D1CE4E5B9ull
#define HASH_MUL2 0x94D049BB133111EBull
#define MIN_SLOTS 16

/* ------------------------------------------------------ text -> id map */

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

static int text_is(const bn_tokenizer *t, int32_t id, const char *s, size_t len)
{
    if (bn_tok_len(t, id) != len) return 0;
    const char *x = bn_tok_text(t, id);
    for (size_t i = 0; i < len; i++) /* texts are short: faster than a memcmp call */
        if (x[i] != s[i]) return 0;
    return 1;
}

int bn_str_map_build(bn_str_map *m, const bn_tokenizer *t)
{
    size_t n_slots = MIN_SLOTS;
    while (n_slots < 2 * (size_t)t->n_vocab) n_slots *= 2;
    m->mask = n_slots - 1;
    m->slots = malloc(n_slots * sizeof *m->slots);
    if (!m->slots) return -1;
    for (size_t i = 0; i < n_slots; i++) m->slots[i].id = -1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = bn_tok_text(t, id);
        size_t len = bn_tok_len(t, id);
        uint32_t h = bn_hash_bytes(s, len);
        size_t i = h & m->mask;
        /* a repeated text maps to its last id, as in llama.cpp's token_to_id */
        for (; m->slots[i].id >= 0; i = (i + 1) & m->mask)
            if (m->slots[i].hash == h && text_is(t, m->slots[i].id, s, len)) break;
        m->slots[i].hash = h;
        m->slots[i].id = id;
    }
    return 0;
}

void bn_str_map_free(bn_str_map *m)
{
    free(m->slots);
    m->slots = NULL;
}

int32_t bn_str_map_find_hashed(const bn_str_map *m, const bn_tokenizer *t, const char *s,
                               size_t len, uint32_t hash)
{
    for (size_t i = hash & m->mask; m->slots[i].id >= 0; i = (i + 1) & m->mask)
        if (m->slots[i].hash == hash && text_is(t, m->slots[i].id, s, len)) return m->slots[i].id;
    return -1;
}

int32_t bn_str_map_find(const bn_str_map *m, const bn_tokenizer *t, const char *s, size_t len)
{
    return bn_str_map_find_hashed(m, t, s, len, bn_hash_bytes(s, len));
}

void bn_str_map_prefetch(const bn_str_map *m, uint32_t hash)
{
    __builtin_prefetch(&m->slots[hash & m->mask]);
}

/* ---------------------------------------------------------- merge rows */

static int pair_usable(const int32_t pair[2]) { return pair[0] >= 0 && pair[1] >= 0; }

/* Two stable counting sorts (by right id, then by left id) leave each row
 * sorted by right id and, within equal pairs, by rank. */
int bn_merge_table_build(bn_merge_table *m, int32_t n_vocab, const int32_t (*pairs)[2],
                         size_t n_pairs)
{
    size_t n_rows = (size_t)n_vocab, n = 0;
    m->row_start = calloc(n_rows + 1, sizeof *m->row_start);
    m->entries = malloc((n_pairs ? n_pairs : 1) * sizeof *m->entries);
    /* zeroed although fully written before it is read: the static analyzer
     * cannot follow that through pair_usable() */
    uint32_t *by_right = calloc(n_pairs ? n_pairs : 1, sizeof *by_right);
    uint32_t *fill = calloc(n_rows + 1, sizeof *fill);
    if (!m->row_start || !m->entries || !by_right || !fill) {
        free(by_right);
        free(fill);
        return -1;
    }
    for (size_t i = 0; i < n_pairs; i++) {
        if (!pair_usable(pairs[i])) continue;
        m->row_start[pairs[i][0] + 1]++;
        fill[pairs[i][1] + 1]++;
        n++;
    }
    for (size_t id = 0; id < n_rows; id++) {
        m->row_start[id + 1] += m->row_start[id];
        fill[id + 1] += fill[id];
    }
    for (size_t i = 0; i < n_pairs; i++) /* ranks ordered by right id */
        if (pair_usable(pairs[i])) by_right[fill[pairs[i][1]]++] = (uint32_t)i;
    memcpy(fill, m->row_start, n_rows * sizeof *fill);
    for (size_t k = 0; k < n; k++) { /* then into the rows of the left ids */
        uint32_t rank = by_right[k];
        bn_merge_entry e = {pairs[rank][1], (int32_t)rank};
        m->entries[fill[pairs[rank][0]]++] = e;
    }
    free(by_right);
    free(fill);
    return 0;
}

void bn_merge_table_free(bn_merge_table *m)
{
    free(m->row_start);
    free(m->entries);
    m->row_start = NULL;
    m->entries = NULL;
}

int32_t bn_merge_rank(const bn_merge_table *m, int32_t left, int32_t right)
{
    const bn_merge_entry *row = m->entries + m->row_start[left];
    size_t lo = 0, hi = m->row_start[left + 1] - m->row_start[left];
    while (lo < hi) { /* the first entry with this right id has the lowest rank */
        size_t mid = lo + (hi - lo) / 2;
        if (row[mid].right < right)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->row_start[left + 1] - m->row_start[left] && row[lo].right == right ? row[lo].rank
                                                                                      : -1;
}
