/*
 * embed.c - text embeddings (bn_embed): the texts' tokens evaluated
 * together through an embeddings context, one session each, their final
 * normed hidden states pooled (none, mean, cls, last) and normalized as
 * llama-embedding does (docs/FORWARD.md, Embeddings).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "runtime/errors.h"

#define MAX_ABS_SCALE 32760.0 /* llama.cpp's int16-range normalization */

void bn_context_set_embeddings(bn_context *ctx, int on) { ctx->embeddings = on != 0; }

void bn_embd_normalize(const float *v, float *out, int n, int norm)
{
    double sum = 0.0;
    if (norm == BN_EMBD_NORM_NONE) {
        sum = 1.0;
    } else if (norm == BN_EMBD_NORM_MAX_ABS) {
        for (int i = 0; i < n; i++) sum = fmax(sum, fabs((double)v[i]));
        sum /= MAX_ABS_SCALE;
    } else if (norm == BN_EMBD_NORM_TAXICAB) {
        for (int i = 0; i < n; i++) sum += fabs((double)v[i]);
    } else if (norm == BN_EMBD_NORM_EUCLIDEAN) {
        for (int i = 0; i < n; i++) sum += (double)v[i] * v[i];
        sum = sqrt(sum);
    } else {
        for (int i = 0; i < n; i++) sum += pow(fabs((double)v[i]), norm);
        sum = pow(sum, 1.0 / norm);
    }
    const float scale = sum > 0.0 ? (float)(1.0 / sum) : 0.0f;
    for (int i = 0; i < n; i++) out[i] = v[i] * scale;
}

/* Does text token i (of n) give an output the pooling reads? */
static int wanted(bn_pooling pooling, int i, int n)
{
    if (pooling == BN_POOL_CLS) return i == 0;
    if (pooling == BN_POOL_LAST) return i == n - 1;
    return 1; /* none, mean */
}

/* The n_out outputs of one text (hidden, n_embd each) into out: pooled,
 * then normalized; returns how many vectors it wrote. */
static int pool_text(const float *hidden, int n_out, int n_embd, bn_pooling pooling, int norm,
                     float *out)
{
    if (pooling == BN_POOL_NONE) {
        for (int i = 0; i < n_out; i++)
            bn_embd_normalize(hidden + (size_t)i * n_embd, out + (size_t)i * n_embd, n_embd, norm);
        return n_out;
    }
    if (pooling == BN_POOL_MEAN) {
        for (int d = 0; d < n_embd; d++) {
            double s = 0.0;
            for (int i = 0; i < n_out; i++) s += hidden[(size_t)i * n_embd + d];
            out[d] = (float)(s / n_out);
        }
        bn_embd_normalize(out, out, n_embd, norm);
        return 1;
    }
    bn_embd_normalize(hidden, out, n_embd, norm); /* cls, last: the one output */
    return 1;
}

typedef struct {
    bn_session **sess;
    bn_batch_entry *batch;
    float *hidden;
} embed_job;

static void job_free(embed_job *j, int n_texts)
{
    for (int i = 0; j->sess && i < n_texts; i++) bn_session_free(j->sess[i]);
    free(j->sess);
    free(j->batch);
    free(j->hidden);
}

/* Sessions, the batch of every text's tokens and room for the outputs. */
static int job_init(bn_context *ctx, embed_job *j, const int32_t *const *ids, const int *n_ids,
                    int n_texts, bn_pooling pooling, int *n_tokens, int *n_out, char *err)
{
    const bn_model *m = ctx->m;
    *n_tokens = *n_out = 0;
    for (int i = 0; i < n_texts; i++) {
        if (n_ids[i] <= 0) return bn_errf(err, "text %d has no tokens", i);
        if (n_ids[i] > m->hp.n_ctx_train)
            return bn_errf(err, "text %d has %d tokens, more than the model's context of %d", i,
                           n_ids[i], m->hp.n_ctx_train);
        if (*n_tokens > BN_MAX_CTX - n_ids[i]) return bn_errf(err, "too many tokens at once");
        *n_tokens += n_ids[i];
    }
    j->sess = calloc((size_t)n_texts, sizeof(bn_session *));
    j->batch = malloc((size_t)*n_tokens * sizeof *j->batch);
    if (!j->sess || !j->batch) return bn_errf(err, "out of memory");
    bn_session_params sp = bn_session_default_params();
    sp.context = ctx;
    for (int i = 0, k = 0; i < n_texts; i++) {
        sp.n_ctx = n_ids[i];
        if (!(j->sess[i] = bn_session_new((bn_model *)m, &sp, err))) return -1;
        for (int t = 0; t < n_ids[i]; t++, k++) {
            const int out = wanted(pooling, t, n_ids[i]);
            j->batch[k] = (bn_batch_entry){j->sess[i], ids[i][t], t, out};
            *n_out += out;
        }
    }
    j->hidden = malloc((size_t)*n_out * m->hp.n_embd * sizeof *j->hidden);
    if (!j->hidden) {
        bn_errf(err, "out of memory for %d embeddings", *n_out);
        return -1;
    }
    return 0;
}

int bn_embed(bn_context *ctx, const int32_t *const *ids, const int *n_ids, int n_texts,
             bn_pooling pooling, int normalize, float *out, char err[BN_ERR_LEN])
{
    if (n_texts <= 0) return bn_errf(err, "no texts to embed");
    if (pooling == BN_POOL_UNSPECIFIED) pooling = ctx->m->pooling;
    if (pooling < BN_POOL_NONE || pooling > BN_POOL_LAST)
        return bn_errf(err, "unknown pooling type %d", (int)pooling);
    embed_job j = {0};
    int n_tokens, n_out;
    int rc = job_init(ctx, &j, ids, n_ids, n_texts, pooling, &n_tokens, &n_out, err);
    if (!rc) {
        const int was = ctx->embeddings;
        ctx->embeddings = 1;
        rc = bn_eval(ctx, j.batch, n_tokens, j.hidden, err);
        ctx->embeddings = was;
    }
    const int n_embd = ctx->m->hp.n_embd;
    for (int i = 0, at = 0, k = 0; !rc && j.hidden && i < n_texts; i++) {
        const int outs = pooling == BN_POOL_NONE || pooling == BN_POOL_MEAN ? n_ids[i] : 1;
        k += pool_text(j.hidden + (size_t)at * n_embd, outs, n_embd, pooling, normalize,
                       out + (size_t)k * n_embd);
        at += outs;
    }
    job_free(&j, n_texts);
    return rc;
}
