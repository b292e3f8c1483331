/*
 * eval.c - the evaluation API: a batch of (session, token, position,
 * wants-logits) entries is checked whole, then run in passes of up to
 * n_batch tokens (forward.c). A session's positions advance as each pass
 * completes, so an abort keeps the passes already done.
 */
#include <stdlib.h>

#include "engine.h"
#include "runtime/errors.h"

static int entries_of(const bn_session *s, const bn_batch_entry *e, int n)
{
    int count = 0;
    for (int i = 0; i < n; i++) count += e[i].session == s;
    return count;
}

/* Every entry names a session of this model, a token in the vocabulary
 * and the session's next free position. n_pending counts each session's
 * entries seen so far; it is zeroed again before returning. */
static int check_batch(const bn_context *ctx, const bn_batch_entry *e, int n, int *max_ctx,
                       char *err)
{
    const bn_model *m = ctx->m;
    int rc = 0;
    *max_ctx = 0;
    for (int i = 0; i < n && !rc; i++) {
        bn_session *s = e[i].session;
        if (!s || s->m != m) {
            rc = bn_errf(err, "entry %d: %s", i, s ? "a session of another model" : "no session");
            break;
        }
        const int next = s->n_past + s->n_pending++;
        if (e[i].token < 0 || e[i].token >= m->hp.n_vocab)
            rc = bn_errf(err, "token id %d is out of range (vocabulary of %d)", e[i].token,
                         m->hp.n_vocab);
        else if (next >= s->n_ctx)
            rc = bn_errf(err, "%d tokens do not fit in the context (%d of %d used)",
                         entries_of(s, e, n), s->n_past, s->n_ctx);
        else if (e[i].pos != next)
            rc = bn_errf(err, "entry %d: position %d, but the session's next position is %d", i,
                         e[i].pos, next);
        if (s->n_ctx > *max_ctx) *max_ctx = s->n_ctx;
    }
    for (int i = 0; i < n; i++)
        if (e[i].session) e[i].session->n_pending = 0;
    return rc;
}

/* Entries [i0, i0 + n) as one pass on the model's backend, their logits
 * from `logits` on; 0, BN_ABORTED or -1 with err set. */
static int run_pass(bn_context *ctx, const bn_batch_entry *e, int i0, int n, float *logits,
                    char *err)
{
    bn_scratch *sc = ctx->sc;
    bn_pass p = {.n = n,
                 .ids = sc->ids,
                 .sess = sc->sess,
                 .pos = sc->pos,
                 .logits = logits,
                 .logit_rows = sc->rows};
    for (int t = 0; t < n; t++) {
        sc->ids[t] = e[i0 + t].token;
        sc->pos[t] = e[i0 + t].pos;
        sc->sess[t] = e[i0 + t].session;
        if (e[i0 + t].logits) sc->rows[p.n_logits++] = t;
    }
    const int rc = ctx->m->backend->pass(ctx, &p, err);
    if (rc) return rc;
    for (int t = 0; t < n; t++) {
        sc->sess[t]->n_past++;
        sc->sess[t]->n_evaluated++;
    }
    return 0;
}

/* Checks the whole batch, then runs it in passes of up to n_batch tokens. */
int bn_eval(bn_context *ctx, const bn_batch_entry *batch, int n, float *logits,
            char err[BN_ERR_LEN])
{
    if (n <= 0) return bn_errf(err, "nothing to evaluate");
    int max_ctx, n_logits = 0;
    if (check_batch(ctx, batch, n, &max_ctx, err)) return -1;
    for (int i = 0; i < n; i++) n_logits += batch[i].logits != 0;
    if (n_logits && !logits) return bn_errf(err, "logits asked for, but no buffer for them");
    const int cap = n < ctx->n_batch ? n : ctx->n_batch;
    if (!bn_context_scratch(ctx, cap, max_ctx))
        return bn_errf(err, "out of memory for a batch of %d tokens", cap);
    const size_t width = (size_t)(ctx->embeddings ? ctx->m->hp.n_embd : ctx->m->hp.n_vocab);
    for (int done = 0, k = 0; done < n; done += cap) {
        const int len = n - done < cap ? n - done : cap;
        const int rc = run_pass(ctx, batch, done, len, logits ? logits + k * width : NULL, err);
        if (rc) return rc;
        for (int t = done; t < done + len; t++) k += batch[t].logits != 0;
    }
    return 0;
}

/* n tokens of one session as a batch; the logits of every token into
 * all_logits when not NULL, else of the last into s->logits. */
static int session_eval(bn_session *s, const int32_t *ids, int n, float *all_logits, char *err)
{
    if (n <= 0) return bn_errf(err, "nothing to evaluate");
    bn_batch_entry *e = malloc((size_t)n * sizeof *e);
    if (!e) return bn_errf(err, "out of memory for a batch of %d tokens", n);
    for (int i = 0; i < n; i++)
        e[i] = (bn_batch_entry){s, ids[i], s->n_past + i, all_logits || i == n - 1};
    const int rc = bn_eval(s->ctx, e, n, all_logits ? all_logits : s->logits, err);
    free(e);
    return rc;
}

int bn_session_eval(bn_session *s, const int32_t *ids, int n, const float **logits,
                    char err[BN_ERR_LEN])
{
    const int rc = session_eval(s, ids, n, NULL, err);
    if (rc == 0 && logits) *logits = s->logits;
    return rc;
}

int bn_session_eval_all(bn_session *s, const int32_t *ids, int n, float *logits,
                        char err[BN_ERR_LEN])
{
    return session_eval(s, ids, n, logits, err);
}
