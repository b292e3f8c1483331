/*
 * scheduler.c - continuous batching: the slots, admission, and the steps
 * that evaluate every busy slot in one bn_eval. A step holds, in order, the
 * next token and lookup draft of every decoding sequence (all with logits,
 * verified in the same pass), then as many prompt tokens of new sequences
 * as one pass has room for, so a long prompt joins in chunks without
 * stalling the others. The logits of each row are those of the sequence
 * alone, so every result equals a single run with the same seed.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "scheduler.h"
#include "setup.h"
#include "timing.h"

/* The context (one pass holds every slot's decode rows and a prompt chunk),
 * the sessions and the step buffers. */
int sched_init(scheduler *s, const run_opts *o, bn_model *m, int n_slots, char err[BN_ERR_LEN])
{
    memset(s, 0, sizeof *s);
    s->n_vocab = bn_model_n_vocab(m);
    s->tok = bn_model_tokenizer(m);
    s->lookup_ngram = o->lookup_ngram;
    s->ignore_eos = o->ignore_eos;
    /* one pass holds the next token and draft of every slot and a chunk of
     * prompt, so an aborted step leaves every session as it was */
    const int batch = o->n_batch ? o->n_batch : BN_DEFAULT_BATCH;
    const int rows = (n_slots > 0 ? n_slots : 1) * (o->lookup + 1);
    s->n_batch = batch > rows ? batch : rows + 1;
    const bn_context_params cp = {.n_threads = o->n_threads, .n_batch = s->n_batch};
    s->ctx = bn_context_new(m, &cp, err);
    if (!s->ctx) return EXIT_MODEL;
    s->slots = calloc(n_slots > 0 ? (size_t)n_slots : 1, sizeof *s->slots);
    s->logits = malloc((size_t)rows * (size_t)s->n_vocab * sizeof *s->logits);
    s->e = malloc((size_t)s->n_batch * sizeof *s->e);
    if (!s->slots || !s->logits || !s->e) log_out_of_memory();
    for (; s->n_slots < n_slots; s->n_slots++) {
        int code;
        bn_session *ses = setup_new_session(o, m, s->ctx, o->n_ctx, &code, err);
        if (!ses) return code;
        s->slots[s->n_slots].q.session = ses;
    }
    return 0;
}

/* Cancels what still runs, frees the sessions, context and buffers. */
void sched_free(scheduler *s)
{
    for (int i = 0; i < s->n_slots; i++) {
        if (s->slots[i].job) sched_cancel(s, &s->slots[i]);
        bn_session_free(s->slots[i].q.session);
    }
    bn_context_free(s->ctx);
    free(s->slots);
    free(s->logits);
    free(s->e);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------ slots */

/* Starts request r in the free slot sl; its prompt joins the next steps. */
static void slot_start(scheduler *s, sched_slot *sl, const sched_request *r)
{
    bn_session *ses = sl->q.session;
    bn_session_reset(ses);
    bn_sampler *sampler = bn_sampler_new(r->sp, s->n_vocab); /* the caller checked sp */
    if (!sampler) log_out_of_memory();
    *sl = (sched_slot){.job = r->job, .pids = r->pids, .np = r->np, .row = -1, .t0 = now_ms()};
    sl->q = (gen_seq){.session = ses,
                      .sampler = sampler,
                      .tok = s->tok,
                      .n_predict = r->n_predict,
                      .seed = r->sp->seed};
    sl->q.stream = (text_stream){.stops = r->stops, .n_stops = r->n_stops};
    if (s->ignore_eos) seq_ignore_eog(&sl->q, s->n_vocab);
    seq_want_logits(&sl->q);
    lookup_init(&sl->q.lk, r->lookup, s->lookup_ngram);
    s->n_active++;
}

/* Frees a slot's sampler, ids, probabilities, grammar, mask, draft state
 * and text. */
void sched_cancel(scheduler *s, sched_slot *sl)
{
    bn_sampler_free(sl->q.sampler);
    free(sl->q.out.ids);
    seq_free_probs(&sl->q);
    seq_free_grammar(&sl->q);
    seq_free_mask(&sl->q);
    lookup_free(&sl->q.lk);
    buf_free(&sl->q.stream.text);
    sl->q.sampler = NULL;
    sl->q.out = (id_list){0};
    sl->job = NULL;
    s->n_active--;
}

/* Hands an ended sequence to the finished hook and frees its slot. */
static void slot_finish(scheduler *s, sched_slot *sl, const sched_hooks *h)
{
    if (h->finished) h->finished(h->user, sl);
    sched_cancel(s, sl);
}

/* Fills free slots in order from h->next. */
int sched_admit(scheduler *s, const sched_hooks *h)
{
    for (int i = 0; i < s->n_slots && s->n_active < s->n_slots; i++) {
        sched_request r;
        if (s->slots[i].job) continue;
        if (!h->next(h->user, &r)) break;
        slot_start(s, &s->slots[i], &r);
        if (h->started) h->started(h->user, &s->slots[i]);
    }
    return s->n_active;
}

/* Ends every running sequence as interrupted (Ctrl-C). */
void sched_interrupt(scheduler *s, const sched_hooks *h)
{
    for (int i = 0; i < s->n_slots; i++) {
        sched_slot *sl = &s->slots[i];
        if (!sl->job) continue;
        if (sl->fed < sl->np) sl->q.t_gen_start = now_ms(); /* no generation time */
        seq_interrupt(&sl->q);
        slot_finish(s, sl, h);
    }
}

/* ------------------------------------------------------------ a step */

/* The step's entries: decoding sequences first (the next token and the
 * draft of each, all with logits), then prompt tokens up to one pass of
 * n_batch. Sets each slot's first logits row; returns the entry count. */
static int gather(scheduler *s)
{
    int n = 0, k = 0;
    for (int i = 0; i < s->n_slots; i++) {
        sched_slot *sl = &s->slots[i];
        sl->row = -1;
        if (!sl->job || sl->fed < sl->np) continue;
        seq_draft(&sl->q);
        sl->row = k;
        const int added = seq_draft_entries(&sl->q, s->e + n);
        n += added;
        k += added;
    }
    for (int i = 0; i < s->n_slots && n < s->n_batch; i++) {
        sched_slot *sl = &s->slots[i];
        if (!sl->job || sl->fed >= sl->np) continue;
        bn_session *ses = sl->q.session;
        const int left = sl->np - sl->fed, room = s->n_batch - n;
        const int take = left < room ? left : room;
        for (int j = 0; j < take; j++)
            s->e[n++] = (bn_batch_entry){ses, sl->pids[sl->fed + j], bn_session_n_past(ses) + j,
                                         j == left - 1};
        if (take == left) sl->row = k++;
    }
    return n;
}

/* Samples for every slot that has logits this step, in slot order, and
 * reports through the hooks. */
static void advance(scheduler *s, const sched_hooks *h)
{
    for (int i = 0; i < s->n_slots; i++) {
        sched_slot *sl = &s->slots[i];
        if (!sl->job) continue;
        const int reading = sl->fed < sl->np; /* its prompt, not a decode */
        if (reading) sl->fed = bn_session_n_past(sl->q.session);
        if (sl->row < 0) continue; /* more of its prompt next step */
        const float *row = s->logits + (size_t)sl->row * s->n_vocab;
        const int from = sl->q.out.n;
        const int going = reading ? seq_prompt_done(&sl->q, sl->pids, sl->np, row, sl->t0)
                                  : seq_verify(&sl->q, row, s->n_vocab);
        sl->logits = row;
        if (h->produced) h->produced(h->user, sl, from);
        sl->logits = NULL;
        if (!going) slot_finish(s, sl, h);
    }
}

/* gather, one bn_eval, advance. */
int sched_step(scheduler *s, const sched_hooks *h, char err[BN_ERR_LEN])
{
    const int n = gather(s);
    if (n == 0) return 0;
    const int rc = bn_eval(s->ctx, s->e, n, s->logits, err);
    if (rc) return rc;
    advance(s, h);
    return 0;
}
