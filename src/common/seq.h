/*
 * seq.h - one sequence being generated: the sampling loop shared by plain
 * generation, chat replies, every sequence of --batch and every slot of the
 * server, so they all stop alike; with prompt-lookup drafts verified in the
 * same pass.
 */
#ifndef BN_COMMON_SEQ_H
#define BN_COMMON_SEQ_H

#include <stdio.h>

#include "bitnet.h"
#include "buf.h"
#include "grammar.h"
#include "lookup.h"
#include "stream.h"

/* A generated token's log probability and its best alternatives, from the
 * distribution it was drawn from (when the sampler keeps them: n_probs). */
typedef struct {
    float logprob;
    int n_top;
    int32_t top_ids[BN_MAX_PROBS];
    float top_logprobs[BN_MAX_PROBS];
} tok_probs;

typedef struct {
    bn_session *session;
    bn_sampler *sampler;
    const bn_tokenizer *tok;
    text_stream stream;
    id_list out;             /* generated ids, end-of-generation token included */
    int n_predict;           /* -1 = no limit */
    int32_t next;            /* the sampled token to evaluate next */
    const char *stop_reason; /* eos, eot, stop, length, context, interrupted */
    double prompt_ms, gen_ms, t_gen_start;
    int prompt_done; /* the prompt was evaluated whole (not interrupted) */
    float *masked;   /* --ignore-eos: logits with the end tokens at -inf */
    int32_t *banned; /* the end-of-generation tokens (n_banned) */
    uint64_t seed;   /* the sampler's seed, reported so a run can be repeated */
    int n_banned;
    gen_lookup lk;    /* --lookup */
    tok_probs *probs; /* one per id of `out` when the sampler has n_probs, else NULL */
    int probs_cap;
    grammar_tokens *gr; /* constrained output: the grammar the text follows, or NULL */
} gen_seq;

/* --ignore-eos: never sample an end-of-generation token in q. */
void seq_ignore_eog(gen_seq *q, int n_vocab);
/* Asks q's session for exact logits only where q's sampler reads them
 * (bn_sampler_logits_top, after seq_ignore_eog): the output layer then
 * computes few rows exactly. */
void seq_want_logits(gen_seq *q);
/* -v: the output layer's rows computed exactly per token so far. */
void seq_note_exact_rows(const gen_seq *q);
void seq_free_mask(gen_seq *q);
/* Frees the probabilities kept for q's tokens. */
void seq_free_probs(gen_seq *q);
/* Constrains q's text to grammar g (NULL: none; no lookup drafts then);
 * 0, or -1 when out of memory. */
int seq_set_grammar(gen_seq *q, const grammar *g);
void seq_free_grammar(gen_seq *q);

/* Evaluates the prompt (recording it for the repetition penalty) and
 * samples the first token; returns seq_step's result (0 with stop_reason
 * "interrupted" when the evaluation was aborted), or -1 with err set. */
int seq_prefill(gen_seq *q, const int32_t *ids, int n, char err[BN_ERR_LEN]);
/* The rest of seq_prefill once the prompt, started at t0 (now_ms), is
 * evaluated and logits follow its last token. */
int seq_prompt_done(gen_seq *q, const int32_t *ids, int n, const float *logits, double t0);
/* Evaluates q->next (with a lookup draft when one is found) and samples
 * from it, as seq_prefill returns. */
int seq_continue(gen_seq *q, char err[BN_ERR_LEN]);
/* Samples from logits; returns 1 when q->next must be evaluated for the
 * generation to go on, 0 when it ended (stop_reason says why). */
int seq_step(gen_seq *q, const float *logits);
/* Ends the sequence early (Ctrl-C, a client that left). */
void seq_interrupt(gen_seq *q);

/* Looks for a lookup draft for this step (never past the context or -n);
 * returns its length, 0 for none. */
int seq_draft(gen_seq *q);
/* The batch entries of this step: q->next and the draft, all with logits;
 * returns their count. */
int seq_draft_entries(gen_seq *q, bn_batch_entry *e);
/* Samples from the logits after q->next and each draft token (n_vocab
 * apart), keeping the drafts the model agrees with, and rolls the session
 * back past the rest; returns as seq_step (which it is without a draft). */
int seq_verify(gen_seq *q, const float *logits, int n_vocab);

/* JSON's stand-in for a log probability of -inf (OpenAI's "never"). */
#define SEQ_NO_LOGPROB (-9999.0)
/* ", \"probs\": [{id, logprob, top: [{id, logprob}]}]" for --n-probs; nothing
 * without kept probabilities. */
void seq_write_json_probs(FILE *out, const gen_seq *q);
/* Writes the members of the --json result (prompt, text, ids, counts,
 * stop_reason, timings), without the braces around them. */
void seq_write_json_fields(FILE *out, const gen_seq *q, const char *prompt, size_t prompt_len,
                           const int32_t *pids, int np);

#endif
