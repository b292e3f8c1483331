/*
 * lookup.c - prompt-lookup speculation (--lookup N, --lookup-ngram M) for
 * one sequence, shared by generate, chat, --batch and the server (the pass
 * that verifies a draft is seq.c's).
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

#include "log.h"
#include "lookup.h"

void lookup_init(gen_lookup *lk, int max, int ngram)
{
    *lk = (gen_lookup){.max = max, .ngram = ngram};
    if (!lk->max) return;
    lk->pass = malloc(((size_t)lk->max + 1) * sizeof *lk->pass);
    if (!lk->pass) log_out_of_memory();
}

void lookup_free(gen_lookup *lk)
{
    free(lk->hist.ids);
    free(lk->pass);
    free(lk->logits);
    lk->hist = (id_list){0};
    lk->pass = NULL;
    lk->logits = NULL;
}

/* The history follows the session: what a chat turn or a Ctrl-C rolled
 * back, and the reply's last token that a chat turn evaluates again, are
 * cut before the prompt is appended. */
void lookup_prompt(gen_lookup *lk, int n_past, const int32_t *ids, int n)
{
    if (!lk->max) return;
    int keep = n_past - n;
    if (keep < lk->hist.n) lk->hist.n = keep > 0 ? keep : 0;
    for (int i = 0; i < n; i++) ids_push(&lk->hist, ids[i]);
}

void lookup_push(gen_lookup *lk, int32_t id)
{
    if (lk->max) ids_push(&lk->hist, id);
}

/* The end of the earlier occurrence of h's last tokens that matches the
 * most of them (at most LOOKUP_MATCH_CAP; the most recent among equals),
 * and that length in *len; -1 when the last token never appeared before. */
static int longest_match(const int32_t *h, int n, int *len)
{
    int best = -1;
    *len = 0;
    for (int j = n - 2; j >= 0 && *len < LOOKUP_MATCH_CAP; j--) {
        if (h[j] != h[n - 1]) continue;
        int m = 1;
        while (m < LOOKUP_MATCH_CAP && m <= j && h[j - m] == h[n - 1 - m]) m++;
        if (m > *len) {
            *len = m;
            best = j;
        }
    }
    return best;
}

int lookup_draft(gen_lookup *lk, int32_t next, int room)
{
    lk->n = 0;
    if (!lk->max) return 0;
    if (room > lk->max) room = lk->max;
    if (room <= 0 || lk->hist.n < 2) return 0;
    int len;
    const int end = longest_match(lk->hist.ids, lk->hist.n, &len);
    if (end < 0 || len < lk->ngram) return 0;
    const int follow = lk->hist.n - 1 - end; /* tokens after the match, >= 1 */
    lk->n = follow < room ? follow : room;
    lk->pass[0] = next;
    memcpy(lk->pass + 1, lk->hist.ids + end + 1, (size_t)lk->n * sizeof *lk->pass);
    return lk->n;
}

int lookup_entries(const gen_lookup *lk, bn_session *s, int32_t next, bn_batch_entry *e)
{
    const int n_past = bn_session_n_past(s);
    e[0] = (bn_batch_entry){s, next, n_past, 1};
    for (int i = 0; i < lk->n; i++)
        e[i + 1] = (bn_batch_entry){s, lk->pass[i + 1], n_past + 1 + i, 1};
    return lk->n + 1;
}

void lookup_count(gen_lookup *lk, int k, int kept)
{
    if (k) {
        lk->drafted += k;
        lk->accepted += kept;
        lk->passes++;
    }
    lk->n = 0;
}

static double mean_accepted(const gen_lookup *lk)
{
    return lk->passes ? (double)lk->accepted / (double)lk->passes : 0.0;
}

void lookup_note(const gen_lookup *lk)
{
    if (!lk->max) return;
    log_note("lookup: %ld drafted, %ld accepted (%.1f%%), %ld passes with a draft, mean accepted "
             "length %.2f",
             lk->drafted, lk->accepted, lk->drafted ? 100.0 * lk->accepted / lk->drafted : 0.0,
             lk->passes, mean_accepted(lk));
}

void lookup_write_json(FILE *out, const gen_lookup *lk)
{
    if (!lk->max) return;
    fprintf(out,
            ", \"lookup\": {\"drafted\": %ld, \"accepted\": %ld, \"passes\": %ld, "
            "\"mean_accepted\": %.3f}",
            lk->drafted, lk->accepted, lk->passes, mean_accepted(lk));
}
