/*
 * scheduler.h - continuous batching of many sequences on one context: the
 * slots (a session each), admission of requests into free slots, and steps
 * of one bn_eval each that mix the next token (and lookup draft) of every
 * decoding sequence with chunks of new prompts; cancellation frees a slot
 * at once. --batch and the server drive it; they hear of new tokens and
 * finished sequences through hooks.
 */
#ifndef BN_COMMON_SCHEDULER_H
#define BN_COMMON_SCHEDULER_H

#include "bitnet.h"
#include "options.h"
#include "seq.h"

/* What one sequence asks for. The caller owns the memory it points to
 * until the slot is freed (finished hook, sched_cancel). */
typedef struct {
    const int32_t *pids; /* the prompt's tokens (np of them, fewer than a slot's context) */
    int np;
    int n_predict;               /* -1: until the end of the context */
    const bn_sampler_params *sp; /* already checked (bn_sampler_params_check) */
    const char *const *stops;    /* stop strings (n_stops of them) */
    int n_stops;
    int lookup; /* most draft tokens a pass, 0: none */
    void *job;  /* the caller's, kept in the slot for its hooks */
} sched_request;

typedef struct {
    gen_seq q;           /* the sequence: its session, sampler, text and ids */
    void *job;           /* the request's sched_request.job; NULL: the slot is free */
    const int32_t *pids; /* the prompt (np tokens) */
    int np;
    int fed;     /* prompt tokens evaluated so far */
    int row;     /* its first logits row in this step, -1: none */
    double t0;   /* when its prompt started (now_ms) */
    size_t sent; /* bytes of q.stream.text the caller has handed on (its hooks keep it) */
    /* during the produced hook: the logits that q.out.ids[from + i] was
     * sampled from are logits[i * n_vocab] (before --ignore-eos masking),
     * for per-token extras such as log-probabilities */
    const float *logits;
} sched_slot;

/* How the caller drives the scheduler: where requests come from and what
 * it hears back. Only next is required. */
typedef struct {
    /* fills r with the next request to start; 0 when there is none now */
    int (*next)(void *user, sched_request *r);
    /* sl was just given a request: the caller may add per-sequence extras
     * to sl->q (a grammar, say) before its prompt is read */
    void (*started)(void *user, sched_slot *sl);
    /* sl was sampled this step: q.out.ids[from..q.out.n) are new (from is 0
     * on the step that read the end of its prompt). */
    void (*produced)(void *user, sched_slot *sl, int from);
    /* sl's sequence ended (q.stop_reason says why); the slot is freed right
     * after, so the hook takes what it needs from q. */
    void (*finished)(void *user, sched_slot *sl);
    void *user;
} sched_hooks;

typedef struct {
    bn_context *ctx; /* the callers may set its abort callback */
    sched_slot *slots;
    int n_slots, n_active;
    int n_batch; /* entries a step holds: one pass of the context */
    int n_vocab, lookup_ngram, ignore_eos;
    const bn_tokenizer *tok;
    float *logits;     /* a step's rows: each slot's next token and draft */
    bn_batch_entry *e; /* a step's entries */
} scheduler;

/* A context and n_slots sessions of o->n_ctx tokens on model m, for
 * requests of at most o->lookup draft tokens; 0, or an exit code (setup.h)
 * with err set. sched_free undoes it (also after a failure). */
int sched_init(scheduler *s, const run_opts *o, bn_model *m, int n_slots, char err[BN_ERR_LEN]);
void sched_free(scheduler *s);
/* Gives the free slots, in order, the requests h->next fills in, calling
 * h->started for each; returns the slots now busy. */
int sched_admit(scheduler *s, const sched_hooks *h);
/* One step of every busy slot: one bn_eval, then sampling and the hooks in
 * slot order. Returns 0; BN_ABORTED when the context's abort callback
 * stopped the pass (no session changed); -1 with err set. */
int sched_step(scheduler *s, const sched_hooks *h, char err[BN_ERR_LEN]);
/* Frees a busy slot without a result (its client left, an engine error). */
void sched_cancel(scheduler *s, sched_slot *sl);
/* Ends every busy slot's sequence as "interrupted" and hands it to the
 * finished hook (Ctrl-C). */
void sched_interrupt(scheduler *s, const sched_hooks *h);

#endif
