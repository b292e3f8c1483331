/*
 * seq.c - the sampling loop of one sequence, and the pass that verifies a
 * prompt-lookup draft (lookup.c finds the draft; docs/PERFORMANCE.md says
 * why a pass of several tokens costs little more than one).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet-perf.h"
#include "json.h"
#include "log.h"
#include "seq.h"
#include "timing.h"

int seq_prefill(gen_seq *q, const int32_t *ids, int n, char err[BN_ERR_LEN])
{
    const float *logits;
    const double t0 = now_ms();
    const int rc = bn_session_eval(q->session, ids, n, &logits, err);
    if (rc < 0) return -1;
    if (rc == BN_ABORTED) {
        q->t_gen_start = now_ms();
        q->prompt_ms = q->t_gen_start - t0; /* until it stopped */
        seq_interrupt(q);
        return 0;
    }
    return seq_prompt_done(q, ids, n, logits, t0);
}

int seq_prompt_done(gen_seq *q, const int32_t *ids, int n, const float *logits, double t0)
{
    for (int i = 0; i < n; i++) bn_sampler_accept(q->sampler, ids[i]);
    lookup_prompt(&q->lk, bn_session_n_past(q->session), ids, n);
    q->t_gen_start = now_ms();
    q->prompt_ms = q->t_gen_start - t0;
    q->prompt_done = 1;
    return seq_step(q, logits);
}

static int continue_with_draft(gen_seq *q, char err[BN_ERR_LEN]);

int seq_continue(gen_seq *q, char err[BN_ERR_LEN])
{
    if (seq_draft(q)) return continue_with_draft(q, err);
    const float *logits;
    const int rc = bn_session_eval(q->session, &q->next, 1, &logits, err);
    if (rc < 0) return -1;
    if (rc == BN_ABORTED) {
        seq_interrupt(q);
        return 0;
    }
    return seq_step(q, logits);
}

/* Records why and when the generation ended; what the stream held back is
 * written unless a stop string cut it. */
static int seq_end(gen_seq *q, const char *reason)
{
    q->stop_reason = reason;
    q->gen_ms = now_ms() - q->t_gen_start;
    if (strcmp(reason, "stop")) stream_flush(&q->stream);
    return 0;
}

static int reached_limit(const gen_seq *q) { return q->n_predict >= 0 && q->out.n >= q->n_predict; }

void seq_ignore_eog(gen_seq *q, int n_vocab)
{
    q->masked = malloc((size_t)n_vocab * sizeof *q->masked);
    q->banned = malloc((size_t)n_vocab * sizeof *q->banned);
    if (!q->masked || !q->banned) log_out_of_memory();
    q->n_banned = 0;
    for (int32_t id = 0; id < n_vocab; id++)
        if (bn_token_is_eog(q->tok, id)) q->banned[q->n_banned++] = id;
}

/* --ignore-eos masks the end tokens, which may be among the best the
 * sampler keeps: as many more rows stay exact. */
void seq_want_logits(gen_seq *q)
{
    /* a grammar may forbid every token of any top-k: it reads them all */
    const int top = q->gr ? 0 : bn_sampler_logits_top(q->sampler);
    bn_session_set_logits_top(q->session, top ? top + q->n_banned : 0);
}

void seq_note_exact_rows(const gen_seq *q)
{
    long vectors;
    const long rows = bn_session_exact_rows(q->session, &vectors);
    if (vectors)
        log_note("output layer: %.1f of %d rows computed exactly per token (%ld tokens)",
                 (double)rows / vectors, bn_tokenizer_n_vocab(q->tok), vectors);
}

void seq_free_mask(gen_seq *q)
{
    free(q->masked);
    free(q->banned);
    q->masked = NULL;
    q->banned = NULL;
}

static const float *apply_mask(gen_seq *q, const float *logits)
{
    if (!q->masked) return logits;
    memcpy(q->masked, logits, (size_t)bn_tokenizer_n_vocab(q->tok) * sizeof *logits);
    for (int i = 0; i < q->n_banned; i++) q->masked[q->banned[i]] = -INFINITY;
    return q->masked;
}

void seq_free_probs(gen_seq *q)
{
    free(q->probs);
    q->probs = NULL;
    q->probs_cap = 0;
}

int seq_set_grammar(gen_seq *q, const grammar *g)
{
    if (!g) return 0;
    q->gr = malloc(sizeof *q->gr);
    if (!q->gr || grammar_tokens_init(q->gr, g, q->tok)) {
        free(q->gr);
        q->gr = NULL;
        return -1;
    }
    if (q->session) seq_want_logits(q);
    return 0;
}

void seq_free_grammar(gen_seq *q)
{
    if (q->gr) grammar_tokens_free(q->gr);
    free(q->gr);
    q->gr = NULL;
}

/* With a grammar: the token drawn if the grammar allows it, else a draw
 * from the logits with every forbidden token masked. Either way each
 * allowed token comes out with its probability under the masked
 * distribution, and the grammar costs nothing while the model agrees with
 * it. -1 when the grammar allows no token at all. */
static int32_t constrain(gen_seq *q, const float *logits, int32_t id)
{
    if (!q->gr) return id;
    if (!grammar_token_allowed(q->gr, id)) {
        int n_allowed;
        const float *masked = grammar_mask(q->gr, logits, &n_allowed);
        if (!n_allowed) return -1;
        id = bn_sampler_sample(q->sampler, masked);
    }
    grammar_take(q->gr, id);
    return id;
}

/* Keeps the probabilities of the token just sampled, at q->probs[index]. */
static void keep_probs(gen_seq *q, int index)
{
    tok_probs tp;
    tp.n_top = bn_sampler_last_probs(q->sampler, &tp.logprob, tp.top_ids, tp.top_logprobs);
    if (tp.n_top < 0) return; /* not asked for */
    if (index >= q->probs_cap) {
        q->probs_cap = q->probs_cap ? 2 * q->probs_cap : 64;
        tok_probs *grown = realloc(q->probs, (size_t)q->probs_cap * sizeof *grown);
        if (!grown) log_out_of_memory();
        q->probs = grown;
    }
    q->probs[index] = tp;
}

/* seq_step for a pass that evaluated drafts: samples with `draft` as the
 * proposal (-1: none), as if the session held n_past tokens. */
static int seq_step_draft(gen_seq *q, const float *logits, int32_t draft, int n_past)
{
    if (reached_limit(q)) return seq_end(q, "length");
    logits = apply_mask(q, logits);
    int32_t id = draft < 0 ? bn_sampler_sample(q->sampler, logits)
                           : bn_sampler_sample_draft(q->sampler, logits, draft);
    if ((id = constrain(q, logits, id)) < 0) return seq_end(q, "grammar");
    bn_sampler_accept(q->sampler, id);
    keep_probs(q, q->out.n);
    ids_push(&q->out, id);
    lookup_push(&q->lk, id);
    if (bn_token_is_eog(q->tok, id)) return seq_end(q, id == bn_token_eos(q->tok) ? "eos" : "eot");
    if (stream_token(&q->stream, q->tok, id)) return seq_end(q, "stop");
    if (reached_limit(q)) return seq_end(q, "length");
    if (n_past >= bn_session_n_ctx(q->session)) return seq_end(q, "context");
    q->next = id;
    return 1;
}

int seq_step(gen_seq *q, const float *logits)
{
    return seq_step_draft(q, logits, -1, bn_session_n_past(q->session));
}

void seq_interrupt(gen_seq *q) { seq_end(q, "interrupted"); }

void seq_write_json_fields(FILE *out, const gen_seq *q, const char *prompt, size_t prompt_len,
                           const int32_t *pids, int np)
{
    fputs("\"prompt\": ", out);
    json_string(out, prompt, prompt_len);
    fputs(", \"text\": ", out);
    json_string(out, q->stream.text.data ? q->stream.text.data : "", q->stream.text.len);
    fputs(", \"prompt_ids\": ", out);
    json_int_array(out, pids, np);
    fputs(", \"output_ids\": ", out);
    json_int_array(out, q->out.ids, q->out.n);
    fprintf(out, ", \"n_prompt\": %d, \"n_output\": %d, \"stop_reason\": \"%s\", \"seed\": %llu",
            np, q->out.n, q->stop_reason, (unsigned long long)q->seed);
    fprintf(out,
            ", \"timings\": {\"prompt_ms\": %.3f, \"generation_ms\": %.3f, "
            "\"prompt_tokens_per_s\": %.3f, \"generation_tokens_per_s\": %.3f}",
            q->prompt_ms, q->gen_ms, per_second(np, q->prompt_ms), per_second(q->out.n, q->gen_ms));
    lookup_write_json(out, &q->lk);
    seq_write_json_probs(out, q);
}

void seq_write_json_probs(FILE *out, const gen_seq *q)
{
    if (!q->probs) return;
    fputs(", \"probs\": [", out);
    for (int i = 0; i < q->out.n; i++) {
        const tok_probs *p = &q->probs[i];
        fprintf(out, "%s{\"id\": %d, \"logprob\": %.6g, \"top\": [", i ? ", " : "",
                (int)q->out.ids[i], isfinite(p->logprob) ? (double)p->logprob : SEQ_NO_LOGPROB);
        for (int k = 0; k < p->n_top; k++)
            fprintf(out, "%s{\"id\": %d, \"logprob\": %.6g}", k ? ", " : "", (int)p->top_ids[k],
                    (double)p->top_logprobs[k]);
        fputs("]}", out);
    }
    fputc(']', out);
}

/* ------------------------------------------------- lookup drafts */

/* Draft tokens the pass may hold: no position past the context, no token
 * past -n (the pass samples one more than it drafts). */
static int draft_room(const gen_seq *q)
{
    int room = bn_session_n_ctx(q->session) - bn_session_n_past(q->session) - 1;
    if (q->n_predict >= 0 && q->n_predict - q->out.n - 1 < room) room = q->n_predict - q->out.n - 1;
    return room;
}

int seq_draft(gen_seq *q) { return q->gr ? 0 : lookup_draft(&q->lk, q->next, draft_room(q)); }

int seq_draft_entries(gen_seq *q, bn_batch_entry *e)
{
    return lookup_entries(&q->lk, q->session, q->next, e);
}

/* seq_continue with a draft: evaluates q->next and the draft in one pass. */
static int continue_with_draft(gen_seq *q, char err[BN_ERR_LEN])
{
    gen_lookup *lk = &q->lk;
    const int n_vocab = bn_tokenizer_n_vocab(q->tok);
    if (!lk->logits) {
        lk->logits = malloc(((size_t)lk->max + 1) * (size_t)n_vocab * sizeof *lk->logits);
        if (!lk->logits) log_out_of_memory();
    }
    const int n_past0 = bn_session_n_past(q->session);
    const int rc = bn_session_eval_all(q->session, lk->pass, lk->n + 1, lk->logits, err);
    if (rc < 0) return -1;
    if (rc == BN_ABORTED) {
        /* as a stopped single step: q->next stays unevaluated */
        bn_session_truncate(q->session, n_past0);
        seq_interrupt(q);
        return 0;
    }
    return seq_verify(q, lk->logits, n_vocab);
}

int seq_verify(gen_seq *q, const float *logits, int n_vocab)
{
    gen_lookup *lk = &q->lk;
    const int k = lk->n, out0 = q->out.n;
    const int n_past0 = bn_session_n_past(q->session) - (k + 1);
    int r = 1, kept = 0;
    for (int i = 0; i <= k && r; i++) {
        const int32_t d = i < k ? lk->pass[i + 1] : -1;
        r = seq_step_draft(q, logits + (size_t)i * n_vocab, d, n_past0 + i + 1);
        if (d < 0 || q->out.n != out0 + i + 1 || q->out.ids[out0 + i] != d) break;
        kept++;
    }
    /* q->next and the kept drafts stay; the last sampled token is next */
    const int sampled = q->out.n - out0;
    bn_session_truncate(q->session, n_past0 + (sampled > 0 ? sampled : 1));
    lookup_count(lk, k, kept);
    return r;
}
