/*
 * merge.c - the pair-merging loop shared by byte-level BPE (lowest merge
 * rank first, docs/TOKENIZERS.md, BPE merges) and SentencePiece (highest
 * score first, docs/TOKENIZERS.md, SentencePiece): a symbol chain plus a
 * binary heap of candidate pairs. Ties go to the leftmost pair in both, as
 * in llama.cpp's comparators.
 */
#include <stdlib.h>

#include "merge.h"
#include "grow.h"
#include "unicode.h"
#include "vocab.h"

static int pair_before(const bn_pair *a, const bn_pair *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static int heap_push(bn_merger *m, const bn_pair *p)
{
    bn_pair *h = bn_grow(m->heap, &m->heap_cap, m->heap_n + 1, sizeof *h);
    if (!h) return -1;
    m->heap = h;
    size_t i = m->heap_n++;
    while (i > 0 && pair_before(p, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = *p;
    return 0;
}

static bn_pair heap_pop(bn_merger *m)
{
    bn_pair *h = m->heap;
    bn_pair top = h[0], last = h[--m->heap_n];
    size_t i = 0, n = m->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_before(&h[c + 1], &h[c])) c++;
        if (!pair_before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (n) h[i] = last;
    return top;
}

typedef struct {
    bn_merger *m;
    const char *word;
    bn_pair_rater rate;
    void *ctx;
} merge_job;

static int queue_pair(const merge_job *j, int32_t left, int32_t right)
{
    if (left < 0 || right < 0) return 0;
    const bn_symbol *l = &j->m->sym[left], *r = &j->m->sym[right];
    bn_pair p = {0, left, right, -1, l->len + r->len};
    if (!j->rate(j->ctx, j->word, l, r, &p.key, &p.merged)) return 0;
    return heap_push(j->m, &p);
}

/* One symbol per UTF-8 character; a byte that starts no valid sequence is
 * a symbol of its own. An empty word is one empty symbol that is no token,
 * so the chain always starts at sym[0]. */
static int split_symbols(bn_merger *m, const bn_tokenizer *t, const char *word, size_t len)
{
    bn_symbol *sym = bn_grow(m->sym, &m->sym_cap, len ? len : 1, sizeof *sym);
    if (!sym) return -1;
    m->sym = sym;
    sym[0] = (bn_symbol){0, 0, -1, -1, -1};
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        uint32_t cp;
        size_t cl = bn_utf8_decode((const unsigned char *)word + i, len - i, &cp);
        if (!cl) cl = 1;
        sym[n].off = (uint32_t)i;
        sym[n].len = (uint32_t)cl;
        sym[n].id = bn_str_map_find(&t->map, t, word + i, cl);
        sym[n].prev = (int32_t)n - 1;
        sym[n].next = i + cl < len ? (int32_t)n + 1 : -1;
        i += cl;
    }
    return 0;
}

int bn_merge_word(bn_merger *m, const bn_tokenizer *t, const char *word, size_t len,
                  bn_pair_rater rate, void *ctx)
{
    merge_job j = {m, word, rate, ctx};
    if (split_symbols(m, t, word, len)) return -1;
    m->heap_n = 0;
    for (int32_t i = 0; m->sym[i].next >= 0; i = m->sym[i].next)
        if (queue_pair(&j, i, m->sym[i].next)) return -1;
    while (m->heap_n) {
        bn_pair p = heap_pop(m);
        bn_symbol *l = &m->sym[p.left], *r = &m->sym[p.right];
        if (!l->len || !r->len || l->len + r->len != p.size) continue; /* stale */
        l->len += r->len;
        l->id = p.merged;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) m->sym[r->next].prev = p.left;
        if (queue_pair(&j, l->prev, p.left) || queue_pair(&j, p.left, l->next)) return -1;
    }
    return 0;
}

void bn_merger_free(bn_merger *m)
{
    free(m->sym);
    free(m->heap);
    m->sym = NULL;
    m->heap = NULL;
    m->sym_cap = m->heap_cap = m->heap_n = 0;
}
