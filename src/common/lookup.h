/*
 * lookup.h - prompt-lookup drafts (--lookup N, --lookup-ngram M): the next
 * tokens guessed from an earlier occurrence of the context's last tokens.
 */
#ifndef BN_COMMON_LOOKUP_H
#define BN_COMMON_LOOKUP_H

#include <stdio.h>

#include "bitnet.h"
#include "buf.h"

typedef struct {
    int max;       /* most draft tokens per pass, 0 = off */
    int ngram;     /* shortest match that gives a draft */
    id_list hist;  /* the session's tokens, then the sampled one not yet evaluated */
    int32_t *pass; /* this pass: the next token, then the draft (n tokens) */
    int n;
    float *logits;                  /* (max + 1) rows for a pass of one sequence */
    long drafted, accepted, passes; /* totals: draft tokens, kept ones, passes with a draft */
} gen_lookup;

#define LOOKUP_DEFAULT_NGRAM 2
/* The longest match measured (and the largest --lookup-ngram): longer ones
 * hardly pick a better draft, and the cap bounds the search on repetitive
 * text. */
#define LOOKUP_MATCH_CAP 32

/* Drafts up to max tokens a pass from matches of at least ngram tokens
 * (nothing when max is 0); lookup_free undoes it. */
void lookup_init(gen_lookup *lk, int max, int ngram);
void lookup_free(gen_lookup *lk);
/* Records a prompt just evaluated: the session now holds n_past tokens,
 * ending with ids[0..n). */
void lookup_prompt(gen_lookup *lk, int n_past, const int32_t *ids, int n);
/* Records a sampled token. */
void lookup_push(gen_lookup *lk, int32_t id);
/* Finds a draft of at most room tokens to follow `next` (lk->pass, lk->n;
 * 0 when none or off); returns lk->n. */
int lookup_draft(gen_lookup *lk, int32_t next, int room);
/* The batch entries of this pass on session s (next and the draft, all
 * with logits) into e; returns their count, lk->n + 1. */
int lookup_entries(const gen_lookup *lk, bn_session *s, int32_t next, bn_batch_entry *e);
/* Counts a verified pass: k draft tokens, of which kept were accepted. */
void lookup_count(gen_lookup *lk, int k, int kept);
/* With -v: the counts on stderr; with --json: ", \"lookup\": {...}". */
void lookup_note(const gen_lookup *lk);
void lookup_write_json(FILE *out, const gen_lookup *lk);

#endif
