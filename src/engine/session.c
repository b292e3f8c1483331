/*
 * session.c - a session: one sequence's KV cache, its position and the
 * logits after its last token, and the context that evaluates it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "runtime/errors.h"

static const char *const CACHE_TYPE_NAMES[] = {[BN_CACHE_F32] = "f32", [BN_CACHE_F16] = "f16"};
#define N_CACHE_TYPES ((int)(sizeof CACHE_TYPE_NAMES / sizeof *CACHE_TYPE_NAMES))

int bn_cache_type_from_name(const char *name)
{
    for (int t = 0; name && t < N_CACHE_TYPES; t++)
        if (!strcmp(name, CACHE_TYPE_NAMES[t])) return t;
    return -1;
}

const char *bn_cache_type_name(bn_cache_type type)
{
    return (int)type >= 0 && (int)type < N_CACHE_TYPES ? CACHE_TYPE_NAMES[type] : NULL;
}

static size_t cache_elem_bytes(bn_cache_type t)
{
    return t == BN_CACHE_F16 ? sizeof(uint16_t) : sizeof(float);
}

/* Elements of one of a session's caches: every layer's n_ctx positions. */
static size_t cache_elems(const bn_hparams *hp, int n_ctx)
{
    return (size_t)hp->n_layer * n_ctx * hp->n_head_kv * hp->head_dim;
}

bn_session_params bn_session_default_params(void)
{
    return (bn_session_params){
        .n_ctx = 0, .type_k = BN_CACHE_F32, .type_v = BN_CACHE_F32, .context = NULL};
}

/* The context fits the model and the cache types are known. */
static int check_params(const bn_model *m, const bn_session_params *p, int n_ctx, char *err)
{
    if (n_ctx > m->hp.n_ctx_train)
        return bn_errf(err, "context size %d exceeds the model's context length %d", n_ctx,
                       m->hp.n_ctx_train);
    if (!bn_cache_type_name(p->type_k) || !bn_cache_type_name(p->type_v))
        return bn_errf(err, "unknown KV cache type %d (expected f32 or f16)",
                       bn_cache_type_name(p->type_k) ? (int)p->type_v : (int)p->type_k);
    if (p->context && p->context->m != m)
        return bn_errf(err, "the session's context belongs to another model");
    return 0;
}

/* The caches are calloc'd: untouched positions cost no memory. A device
 * backend keeps them on its device instead. */
static int alloc_caches(bn_session *s, char *err)
{
    const int n_vocab = s->m->hp.n_vocab, n_embd = s->m->hp.n_embd; /* logits or an embedding */
    if (!(s->logits = calloc((size_t)(n_vocab > n_embd ? n_vocab : n_embd), sizeof(float))))
        return bn_errf(err, "out of memory for a session");
    if (s->m->backend->session_open) return s->m->backend->session_open(s, err);
    const size_t elems = cache_elems(&s->m->hp, s->n_ctx);
    s->k_cache = calloc(elems ? elems : 1, cache_elem_bytes(s->type_k));
    s->v_cache = calloc(elems ? elems : 1, cache_elem_bytes(s->type_v));
    if (s->k_cache && s->v_cache) return 0;
    return bn_errf(err, "out of memory for a context of %d tokens", s->n_ctx);
}

/* A session: its caches (filled as positions are used) and its context. */
bn_session *bn_session_new(bn_model *m, const bn_session_params *params, char err[BN_ERR_LEN])
{
    const bn_session_params p = params ? *params : bn_session_default_params();
    const int n_ctx = p.n_ctx <= 0 ? m->hp.n_ctx_train : p.n_ctx;
    if (check_params(m, &p, n_ctx, err)) return NULL;
    bn_session *s = calloc(1, sizeof *s);
    if (!s) {
        bn_errf(err, "out of memory for a session");
        return NULL;
    }
    *s = (bn_session){
        .m = m, .ctx = p.context, .n_ctx = n_ctx, .type_k = p.type_k, .type_v = p.type_v};
    if (!s->ctx) {
        if (!(s->ctx = bn_context_new(m, NULL, err))) {
            free(s);
            return NULL;
        }
        s->owns_ctx = 1;
    }
    if (alloc_caches(s, err) == 0) return s;
    bn_session_free(s);
    return NULL;
}

size_t bn_session_kv_bytes(const bn_session *s)
{
    return cache_elems(&s->m->hp, s->n_ctx) *
           (cache_elem_bytes(s->type_k) + cache_elem_bytes(s->type_v));
}

/* Frees the caches, the logits and a context of its own. */
void bn_session_free(bn_session *s)
{
    if (!s) return;
    if (s->owns_ctx) bn_context_free(s->ctx);
    if (s->dev) s->m->backend->session_close(s);
    free(s->k_cache);
    free(s->v_cache);
    free(s->logits);
    free(s);
}

void bn_session_reset(bn_session *s) { s->n_past = 0; }

int bn_session_truncate(bn_session *s, int n_past)
{
    if (n_past < 0 || n_past > s->n_past) return -1;
    s->n_past = n_past;
    return 0;
}
bn_context *bn_session_context(bn_session *s) { return s->ctx; }
int bn_session_n_ctx(const bn_session *s) { return s->n_ctx; }
int bn_session_n_past(const bn_session *s) { return s->n_past; }
long bn_session_n_evaluated(const bn_session *s) { return s->n_evaluated; }

void bn_session_set_logits_top(bn_session *s, int top) { s->logits_top = top > 0 ? top : 0; }

long bn_session_exact_rows(const bn_session *s, long *n_vectors)
{
    if (n_vectors) *n_vectors = s->n_logit_vectors;
    return s->n_exact_rows;
}
