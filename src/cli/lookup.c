/*
 * lookup.c - prompt-lookup speculation (--lookup N, --lookup-ngram M) for
 * one sequence (cli_seq), shared by generate, chat, --batch and the server.
 *
 * Decoding reads every weight once per pass, however many tokens the pass
 * holds, so a pass that checks a guess of the next tokens costs little more
 * than one step. The guess comes from the context itself: where its last
 * tokens (at least M of them, the longest match wins, then the most recent)
 * appeared before, the up to N tokens that followed them there are the
 * draft. One pass evaluates q->next and the draft; the sampler then walks
 * the rows, keeping each draft token by the speculative rule
 * (bn_sampler_sample_draft: exact for greedy and for sampling), and the
 * session is rolled back past the first token it did not keep. The tokens
 * and the distribution are those of plain decoding.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void lookup_init(cli_seq *q, int max, int ngram)
{
    q->lk = (cli_lookup){.max = max, .ngram = ngram};
    if (!q->lk.max) return;
    q->lk.pass = malloc(((size_t)q->lk.max + 1) * sizeof *q->lk.pass);
    if (!q->lk.pass) cli_die(EXIT_MODEL, "out of memory");
}

void lookup_free(cli_seq *q)
{
    free(q->lk.hist.ids);
    free(q->lk.pass);
    free(q->lk.logits);
    q->lk.hist = (cli_ids){0};
    q->lk.pass = NULL;
    q->lk.logits = NULL;
}

/* The history follows the session: what a chat turn or a Ctrl-C rolled
 * back, and the reply's last token that a chat turn evaluates again, are
 * cut before the prompt is appended. */
void lookup_prompt(cli_seq *q, const int32_t *ids, int n)
{
    if (!q->lk.max) return;
    int keep = bn_session_n_past(q->session) - n;
    if (keep < q->lk.hist.n) q->lk.hist.n = keep > 0 ? keep : 0;
    for (int i = 0; i < n; i++) ids_push(&q->lk.hist, ids[i]);
}

void lookup_push(cli_seq *q, int32_t id)
{
    if (q->lk.max) ids_push(&q->lk.hist, id);
}

/* Draft tokens the pass may hold: no position past the context, no token
 * past -n (the pass samples one more than it drafts). */
static int draft_room(const cli_seq *q)
{
    int room = q->lk.max;
    const int ctx_left = bn_session_n_ctx(q->session) - bn_session_n_past(q->session) - 1;
    if (ctx_left < room) room = ctx_left;
    if (q->n_predict >= 0 && q->n_predict - q->out.n - 1 < room) room = q->n_predict - q->out.n - 1;
    return room;
}

/* The end of the earlier occurrence of h's last tokens that matches the
 * most of them (at most CLI_LOOKUP_MATCH_CAP; the most recent among equals),
 * and that length in *len; -1 when the last token never appeared before. */
static int longest_match(const int32_t *h, int n, int *len)
{
    int best = -1;
    *len = 0;
    for (int j = n - 2; j >= 0 && *len < CLI_LOOKUP_MATCH_CAP; j--) {
        if (h[j] != h[n - 1]) continue;
        int m = 1;
        while (m < CLI_LOOKUP_MATCH_CAP && m <= j && h[j - m] == h[n - 1 - m]) m++;
        if (m > *len) {
            *len = m;
            best = j;
        }
    }
    return best;
}

int lookup_draft(cli_seq *q)
{
    cli_lookup *lk = &q->lk;
    lk->n = 0;
    if (!lk->max) return 0;
    const int room = draft_room(q);
    if (room <= 0 || lk->hist.n < 2) return 0;
    int len;
    const int end = longest_match(lk->hist.ids, lk->hist.n, &len);
    if (end < 0 || len < lk->ngram) return 0;
    const int follow = lk->hist.n - 1 - end; /* tokens after the match, >= 1 */
    lk->n = follow < room ? follow : room;
    lk->pass[0] = q->next;
    memcpy(lk->pass + 1, lk->hist.ids + end + 1, (size_t)lk->n * sizeof *lk->pass);
    return lk->n;
}

int lookup_entries(cli_seq *q, bn_batch_entry *e)
{
    bn_session *s = q->session;
    const int n_past = bn_session_n_past(s);
    e[0] = (bn_batch_entry){s, q->next, n_past, 1};
    for (int i = 0; i < q->lk.n; i++)
        e[i + 1] = (bn_batch_entry){s, q->lk.pass[i + 1], n_past + 1 + i, 1};
    return q->lk.n + 1;
}

int lookup_continue(cli_seq *q, char err[BN_ERR_LEN])
{
    cli_lookup *lk = &q->lk;
    const int n_vocab = bn_tokenizer_n_vocab(q->tok);
    if (!lk->logits) {
        lk->logits = malloc(((size_t)lk->max + 1) * (size_t)n_vocab * sizeof *lk->logits);
        if (!lk->logits) cli_die(EXIT_MODEL, "out of memory");
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
    return lookup_verify(q, lk->logits, n_vocab);
}

int lookup_verify(cli_seq *q, const float *logits, int n_vocab)
{
    cli_lookup *lk = &q->lk;
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
    if (k) {
        lk->drafted += k;
        lk->accepted += kept;
        lk->passes++;
    }
    lk->n = 0;
    return r;
}

static double mean_accepted(const cli_lookup *lk)
{
    return lk->passes ? (double)lk->accepted / (double)lk->passes : 0.0;
}

void lookup_note(const cli_seq *q)
{
    const cli_lookup *lk = &q->lk;
    if (!lk->max) return;
    cli_note("lookup: %ld drafted, %ld accepted (%.1f%%), %ld passes with a draft, mean accepted "
             "length %.2f",
             lk->drafted, lk->accepted, lk->drafted ? 100.0 * lk->accepted / lk->drafted : 0.0,
             lk->passes, mean_accepted(lk));
}

void lookup_write_json(FILE *out, const cli_seq *q)
{
    const cli_lookup *lk = &q->lk;
    if (!lk->max) return;
    fprintf(out,
            ", \"lookup\": {\"drafted\": %ld, \"accepted\": %ld, \"passes\": %ld, "
            "\"mean_accepted\": %.3f}",
            lk->drafted, lk->accepted, lk->passes, mean_accepted(lk));
}
