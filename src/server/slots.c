/*
^ * slots.c - continuous batching for the server: one engine thread
 * owns the context, the --parallel slots (a session each) and the gen_seq
 * of every running request. Each step is one bn_eval of one pass: the next
 * token of every decoding sequence first (with its --lookup draft, checked
 * in the same pass as batch.c does), then as many prompt tokens of new
 * requests as the pass has room for, so a long prompt joins in chunks
 * without stalling the others. Requests beyond the slots wait in a FIFO
 * queue. Connections (server.c) only queue jobs, cancel them and read the
 * text the engine publishes under the server's mutex.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "timing.h"

typedef struct {
    gen_seq q;
    srv_job *job; /* NULL: free */
    int fed;      /* prompt tokens evaluated */
    int row;      /* its first logits row in this step, -1: none */
    int ended;    /* seq_step ended the generation */
    size_t sent;  /* bytes of q.stream.text published */
    int counted;  /* generated tokens already in the stats */
    double t0;
} eng_slot;

struct srv_engine {
    pthread_t thread;
    bn_context *ctx;
    eng_slot *slots;
    int n_slots, n_batch, n_vocab;
    float *logits;
    bn_batch_entry *e;
};

/* The engine asks between layers whether to stop the pass: a client of
 * the batch went away during a long prompt, or the server stops now. */
static int should_abort(void *data)
{
    server *srv = data;
    return atomic_load(&srv->abort_eval) || atomic_load(&srv->cancel_all);
}

/* ----------------------------------------------- slots (under srv->mu) */

static void job_finish(srv_job *job, const char *reason)
{
    job->finish_reason = reason;
    job->done = 1;
    pthread_cond_broadcast(&job->cv);
}

static void slot_release(server *srv, eng_slot *sl)
{
    sl->job->in_slot = 0;
    sl->job = NULL;
    srv->active--;
    srv->stats.drafted += sl->q.lk.drafted; /* cancelled requests' drafts too */
    srv->stats.accepted += sl->q.lk.accepted;
    bn_sampler_free(sl->q.sampler);
    free(sl->q.out.ids);
    seq_free_mask(&sl->q);
    seq_free_probs(&sl->q);
    seq_free_grammar(&sl->q);
    lookup_free(&sl->q.lk);
    buf_free(&sl->q.stream.text);
    sl->q.sampler = NULL;
    sl->q.out = (id_list){0};
}

static void slot_start(server *srv, srv_engine *en, eng_slot *sl, srv_job *job)
{
    bn_session *s = sl->q.session;
    bn_session_reset(s);
    *sl = (eng_slot){.job = job, .row = -1, .t0 = now_ms()};
    bn_sampler *sampler = bn_sampler_new(&job->sp, en->n_vocab); /* server_api.c checked sp */
    if (!sampler) log_out_of_memory();
    sl->q = (gen_seq){.session = s, .sampler = sampler,
                      .tok = srv->tok, .n_predict = job->n_predict};
    sl->q.stream = (text_stream){.stops = (const char *const *)job->stops, .n_stops = job->n_stops};
    if (srv->o->ignore_eos) seq_ignore_eog(&sl->q, en->n_vocab);
    lookup_init(&sl->q.lk, job->lookup, srv->o->lookup_ngram);
    if (seq_set_grammar(&sl->q, job->grammar)) log_out_of_memory();
    job->in_slot = 1;
    srv->active++;
}

/* Ends the cancelled jobs of the slots and of the queue, and gives free
 * slots the next queued jobs. */
static void schedule(server *srv, srv_engine *en)
{
    const int all = atomic_load(&srv->cancel_all);
    for (int i = 0; i < en->n_slots; i++) {
        eng_slot *sl = &en->slots[i];
        if (sl->job && (sl->job->cancelled || all)) {
            srv_job *job = sl->job;
            slot_release(srv, sl);
            job_finish(job, NULL);
        }
    }
    for (int i = 0; i < en->n_slots && srv->queue_head; i++) {
        if (en->slots[i].job) continue;
        while (srv->queue_head) {
            srv_job *job = srv->queue_head;
            srv->queue_head = job->next;
            if (!srv->queue_head) srv->queue_tail = NULL;
            srv->queued--;
            if (job->cancelled || all) {
                job_finish(job, NULL);
                continue;
            }
            slot_start(srv, en, &en->slots[i], job);
            break;
        }
    }
    atomic_store(&srv->abort_eval, 0);
}

static const char *finish_reason_of(const char *stop_reason)
{
    if (!strcmp(stop_reason, "length") || !strcmp(stop_reason, "context")) return "length";
    if (!strcmp(stop_reason, "interrupted")) return NULL;
    return "stop"; /* eos, eot, a stop string */
}

/* What the response reports of a finished generation. */
static void record_result(srv_job *job, const gen_seq *q)
{
    job->n_out = q->out.n;
    job->prompt_ms = q->prompt_ms;
    job->gen_ms = q->gen_ms;
    job->drafted = q->lk.drafted;
    job->accepted = q->lk.accepted;
}

/* Hands every slot's new text to its connection; ends the jobs that
 * finished. */
static void publish(server *srv, srv_engine *en)
{
    for (int i = 0; i < en->n_slots; i++) {
        eng_slot *sl = &en->slots[i];
        if (!sl->job) continue;
        srv_job *job = sl->job;
        const text_stream *st = &sl->q.stream;
        if (st->emitted > sl->sent) {
            buf_append(&job->text, st->text.data + sl->sent, st->emitted - sl->sent);
            sl->sent = st->emitted;
            pthread_cond_broadcast(&job->cv);
        }
        api_take_probs(srv, job, &sl->q);
        srv->stats.generated_tokens += sl->q.out.n - sl->counted;
        sl->counted = sl->q.out.n;
        if (!sl->ended) continue;
        record_result(job, &sl->q);
        const char *reason = finish_reason_of(sl->q.stop_reason);
        slot_release(srv, sl);
        job_finish(job, reason);
    }
}

/* Ends every running job with an engine error. */
static void fail_all(server *srv, srv_engine *en, const char *err)
{
    for (int i = 0; i < en->n_slots; i++) {
        eng_slot *sl = &en->slots[i];
        if (!sl->job) continue;
        srv_job *job = sl->job;
        snprintf(job->error, sizeof job->error, "%s", err);
        slot_release(srv, sl);
        job_finish(job, NULL);
    }
}

/* ------------------------------------------- one step (engine thread only) */

/* The step's entries: decoding sequences first (the next token and the
 * draft of each, all with logits), then prompt tokens up to one pass of
 * n_batch. Sets each slot's first logits row. */
static int gather(srv_engine *en)
{
    int n = 0, k = 0;
    for (int i = 0; i < en->n_slots; i++) {
        eng_slot *sl = &en->slots[i];
        sl->row = -1;
        if (!sl->job || sl->fed < sl->job->np) continue;
        seq_draft(&sl->q);
        sl->row = k;
        const int added = seq_draft_entries(&sl->q, en->e + n);
        n += added;
        k += added;
    }
    for (int i = 0; i < en->n_slots && n < en->n_batch; i++) {
        eng_slot *sl = &en->slots[i];
        if (!sl->job || sl->fed >= sl->job->np) continue;
        bn_session *s = sl->q.session;
        const int left = sl->job->np - sl->fed, room = en->n_batch - n;
        const int take = left < room ? left : room;
        for (int j = 0; j < take; j++)
            en->e[n++] = (bn_batch_entry){s, sl->job->pids[sl->fed + j], bn_session_n_past(s) + j,
                                          j == left - 1};
        if (take == left) sl->row = k++;
    }
    return n;
}

/* Samples for every slot that has logits this step. */
static void advance(server *srv, srv_engine *en)
{
    for (int i = 0; i < en->n_slots; i++) {
        eng_slot *sl = &en->slots[i];
        if (!sl->job) continue;
        const srv_job *job = sl->job;
        if (sl->fed < job->np) {
            sl->fed = bn_session_n_past(sl->q.session);
            if (sl->fed < job->np) continue;
            pthread_mutex_lock(&srv->mu);
            srv->stats.prompt_tokens += job->np;
            pthread_mutex_unlock(&srv->mu);
            const float *row = en->logits + (size_t)sl->row * en->n_vocab;
            sl->ended = !seq_prompt_done(&sl->q, job->pids, job->np, row, sl->t0);
        } else if (sl->row >= 0) {
            const float *rows = en->logits + (size_t)sl->row * en->n_vocab;
            sl->ended = !seq_verify(&sl->q, rows, en->n_vocab);
        }
    }
}

static int wait_for_work(server *srv, srv_engine *en)
{
    pthread_mutex_lock(&srv->mu);
    schedule(srv, en);
    while (!srv->active && !srv->queue_head && !atomic_load(&srv->stopping)) {
        pthread_cond_wait(&srv->wake, &srv->mu);
        schedule(srv, en);
    }
    const int active = srv->active;
    pthread_mutex_unlock(&srv->mu);
    return active;
}

static void *engine_main(void *arg)
{
    server *srv = arg;
    srv_engine *en = srv->engine;
    char err[BN_ERR_LEN];
    while (wait_for_work(srv, en)) {
        const int n = gather(en);
        const double t0 = now_ms();
        const int rc = bn_eval(en->ctx, en->e, n, en->logits, err);
        if (rc == 0) advance(srv, en);
        pthread_mutex_lock(&srv->mu);
        srv->stats.busy_s += (now_ms() - t0) / 1e3;
        if (rc < 0) fail_all(srv, en, err);
        else if (rc == 0) publish(srv, en);
        pthread_mutex_unlock(&srv->mu);
    }
    return NULL;
}

/* ------------------------------------------------------------ the API */

int slots_start(server *srv, char err[BN_ERR_LEN])
{
    srv_engine *en = calloc(1, sizeof *en);
    if (!en) log_out_of_memory();
    en->n_slots = srv->o->n_parallel;
    en->n_vocab = bn_model_n_vocab(srv->m);
    /* one pass holds the next token and draft of every slot and a chunk of
     * prompt, so an aborted step leaves every session as it was */
    const int batch = srv->o->n_batch ? srv->o->n_batch : BN_DEFAULT_BATCH;
    const int rows = en->n_slots * (srv->o->lookup + 1);
    en->n_batch = batch > rows ? batch : rows + 1;
    const bn_context_params cp = {.n_threads = srv->o->n_threads, .n_batch = en->n_batch};
    en->ctx = bn_context_new(srv->m, &cp, err);
    if (!en->ctx) return EXIT_MODEL;
    bn_context_set_abort(en->ctx, should_abort, srv);
    en->slots = calloc((size_t)en->n_slots, sizeof *en->slots);
    en->logits = malloc((size_t)rows * (size_t)en->n_vocab * sizeof *en->logits);
    en->e = malloc((size_t)en->n_batch * sizeof *en->e);
    if (!en->slots || !en->logits || !en->e) log_out_of_memory();
    for (int i = 0; i < en->n_slots; i++) {
        int code;
        en->slots[i].q.session = setup_new_session(srv->o, srv->m, en->ctx, srv->o->n_ctx, &code, err);
        if (!en->slots[i].q.session) return code;
    }
    srv->n_ctx = bn_session_n_ctx(en->slots[0].q.session);
    note_kv_cache(srv->o, en->slots[0].q.session, en->n_slots);
    srv->engine = en;
    if (pthread_create(&en->thread, NULL, engine_main, srv))
        return snprintf(err, BN_ERR_LEN, "cannot start the engine thread"), EXIT_MODEL;
    return 0;
}

void slots_join(server *srv)
{
    srv_engine *en = srv->engine;
    pthread_mutex_lock(&srv->mu);
    pthread_cond_broadcast(&srv->wake);
    pthread_mutex_unlock(&srv->mu);
    pthread_join(en->thread, NULL);
    for (int i = 0; i < en->n_slots; i++) bn_session_free(en->slots[i].q.session);
    bn_context_free(en->ctx);
    free(en->slots);
    free(en->logits);
    free(en->e);
    free(en);
    srv->engine = NULL;
}

void slots_submit(server *srv, srv_job *job)
{
    pthread_mutex_lock(&srv->mu);
    if (atomic_load(&srv->stopping)) {
        snprintf(job->error, sizeof job->error, "the server is shutting down");
        job_finish(job, NULL);
    } else {
        if (srv->queue_tail) srv->queue_tail->next = job;
        else srv->queue_head = job;
        srv->queue_tail = job;
        srv->queued++;
        pthread_cond_signal(&srv->wake);
    }
    pthread_mutex_unlock(&srv->mu);
}

void slots_cancel(server *srv, srv_job *job)
{
    pthread_mutex_lock(&srv->mu);
    if (!job->done) {
        job->cancelled = 1;
        if (job->in_slot) atomic_store(&srv->abort_eval, 1);
        pthread_cond_signal(&srv->wake);
    }
    pthread_mutex_unlock(&srv->mu);
}
