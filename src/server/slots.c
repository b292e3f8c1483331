/*
 * slots.c - the server's side of continuous batching (the scheduler itself
 * is src/common/scheduler.c, shared with --batch): one engine thread owns
 * the scheduler and steps it while there is work; requests beyond the
 * --parallel slots wait in a FIFO queue. Connections (server.c) only queue
 * jobs, cancel them and read the text that the scheduler's hooks publish
 * under the server's mutex.
 */
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"
#include "server.h"
#include "timing.h"

struct srv_engine {
    pthread_t thread;
    scheduler sched;
    sched_hooks hooks; /* next_job, publish, finished; user: the server */
};

/* The engine asks between layers whether to stop the pass: a client of
 * the batch went away during a long prompt, or the server stops now. */
static int should_abort(void *data)
{
    server *srv = data;
    return atomic_load(&srv->abort_eval) || atomic_load(&srv->cancel_all);
}

/* ----------------------------------------------- slots (under srv->mu) */

/* Marks a job done and wakes its connection (reason NULL: no result). */
static void job_finish(srv_job *job, const char *reason)
{
    job->finish_reason = reason;
    job->done = 1;
    pthread_cond_broadcast(&job->cv);
}

/* Takes a job out of its slot: the counts it adds to the stats, then the
 * slot is free (the scheduler frees it after a finished hook). */
static void job_leave(server *srv, sched_slot *sl)
{
    srv_job *job = sl->job;
    job->in_slot = 0;
    srv->active--;
    srv->stats.drafted += sl->q.lk.drafted; /* cancelled requests' drafts too */
    srv->stats.accepted += sl->q.lk.accepted;
}

/* Ends a running job without a result (cancelled, or an engine error). */
static void slot_cancel(server *srv, scheduler *sc, sched_slot *sl)
{
    srv_job *job = sl->job;
    job_leave(srv, sl);
    sched_cancel(sc, sl);
    job_finish(job, NULL);
}

/* Admission: the next queued job that is still wanted, as a request. */
static int next_job(void *user, sched_request *r)
{
    server *srv = user;
    const int all = atomic_load(&srv->cancel_all);
    while (srv->queue_head) {
        srv_job *job = srv->queue_head;
        srv->queue_head = job->next;
        if (!srv->queue_head) srv->queue_tail = NULL;
        srv->queued--;
        if (job->cancelled || all) {
            job_finish(job, NULL);
            continue;
        }
        *r = (sched_request){.pids = job->pids,
                             .np = job->np,
                             .n_predict = job->n_predict,
                             .sp = &job->sp,
                             .stops = (const char *const *)job->stops,
                             .n_stops = job->n_stops,
                             .lookup = job->lookup,
                             .job = job};
        job->in_slot = 1;
        srv->active++;
        return 1;
    }
    return 0;
}

/* Ends the cancelled jobs of the slots and of the queue, and gives free
 * slots the next queued jobs. */
static void schedule(server *srv, srv_engine *en)
{
    scheduler *sc = &en->sched;
    const int all = atomic_load(&srv->cancel_all);
    for (int i = 0; i < sc->n_slots; i++) {
        sched_slot *sl = &sc->slots[i];
        srv_job *job = sl->job;
        if (job && (job->cancelled || all)) slot_cancel(srv, sc, sl);
    }
    if (srv->queue_head) sched_admit(sc, &en->hooks);
    atomic_store(&srv->abort_eval, 0);
}

/* The OpenAI finish_reason of a sequence's stop_reason. */
static const char *finish_reason_of(const char *stop_reason)
{
    if (!strcmp(stop_reason, "length") || !strcmp(stop_reason, "context")) return "length";
    if (!strcmp(stop_reason, "interrupted")) return NULL;
    return "stop"; /* eos, eot, a stop string */
}

/* The produced hook: hands the slot's new text to its connection. */
static void publish(void *user, sched_slot *sl, int from)
{
    server *srv = user;
    srv_job *job = sl->job;
    const text_stream *st = &sl->q.stream;
    pthread_mutex_lock(&srv->mu);
    if (from == 0) srv->stats.prompt_tokens += job->np;
    if (st->emitted > sl->sent) {
        buf_append(&job->text, st->text.data + sl->sent, st->emitted - sl->sent);
        sl->sent = st->emitted;
        pthread_cond_broadcast(&job->cv);
    }
    api_take_probs(srv, job, &sl->q);
    srv->stats.generated_tokens += sl->q.out.n - from;
    pthread_mutex_unlock(&srv->mu);
}

/* The started hook: a request's grammar (grammar, json_schema,
 * response_format, a required tool call) constrains its slot. */
static void started(void *user, sched_slot *sl)
{
    (void)user;
    const srv_job *job = sl->job;
    if (seq_set_grammar(&sl->q, job->grammar)) log_out_of_memory();
}

/* The finished hook: what the response reports, then the job ends. */
static void finished(void *user, sched_slot *sl)
{
    server *srv = user;
    srv_job *job = sl->job;
    const gen_seq *q = &sl->q;
    pthread_mutex_lock(&srv->mu);
    job->n_out = q->out.n;
    job->prompt_ms = q->prompt_ms;
    job->gen_ms = q->gen_ms;
    job->drafted = q->lk.drafted;
    job->accepted = q->lk.accepted;
    job_leave(srv, sl);
    job_finish(job, finish_reason_of(q->stop_reason));
    pthread_mutex_unlock(&srv->mu);
}

/* Ends every running job with an engine error. */
static void fail_all(server *srv, srv_engine *en, const char *err)
{
    scheduler *sc = &en->sched;
    for (int i = 0; i < sc->n_slots; i++) {
        sched_slot *sl = &sc->slots[i];
        if (!sl->job) continue;
        srv_job *job = sl->job;
        snprintf(job->error, sizeof job->error, "%s", err);
        slot_cancel(srv, sc, sl);
    }
}

/* ------------------------------------------- the engine thread */

/* Waits under the lock until a slot is busy (0: the server stops). */
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

/* Steps the scheduler while there is work; the hooks publish under the lock. */
static void *engine_main(void *arg)
{
    server *srv = arg;
    srv_engine *en = srv->engine;
    char err[BN_ERR_LEN];
    while (wait_for_work(srv, en)) {
        const double t0 = now_ms();
        const int rc = sched_step(&en->sched, &en->hooks, err);
        pthread_mutex_lock(&srv->mu);
        srv->stats.busy_s += (now_ms() - t0) / 1e3;
        if (rc < 0) fail_all(srv, en, err);
        pthread_mutex_unlock(&srv->mu);
    }
    return NULL;
}

/* ------------------------------------------------------------ the API */

/* Makes the scheduler (a context and --parallel sessions) and starts the
 * engine thread. */
int slots_start(server *srv, char err[BN_ERR_LEN])
{
    srv_engine *en = calloc(1, sizeof *en);
    if (!en) log_out_of_memory();
    en->hooks = (sched_hooks){.next = next_job,
                              .started = started,
                              .produced = publish,
                              .finished = finished,
                              .user = srv};
    srv->engine = en;
    const int code = sched_init(&en->sched, srv->o, srv->m, srv->o->n_parallel, err);
    if (code) return code;
    bn_context_set_abort(en->sched.ctx, should_abort, srv);
    srv->n_ctx = bn_session_n_ctx(en->sched.slots[0].q.session);
    note_kv_cache(srv->o, en->sched.slots[0].q.session, en->sched.n_slots);
    if (pthread_create(&en->thread, NULL, engine_main, srv))
        return snprintf(err, BN_ERR_LEN, "cannot start the engine thread"), EXIT_MODEL;
    return 0;
}

/* Wakes the engine thread, waits for it, frees the scheduler. */
void slots_join(server *srv)
{
    srv_engine *en = srv->engine;
    pthread_mutex_lock(&srv->mu);
    pthread_cond_broadcast(&srv->wake);
    pthread_mutex_unlock(&srv->mu);
    pthread_join(en->thread, NULL);
    sched_free(&en->sched);
    free(en);
    srv->engine = NULL;
}

/* Appends a job to the queue, or refuses it while the server stops. */
void slots_submit(server *srv, srv_job *job)
{
    pthread_mutex_lock(&srv->mu);
    if (atomic_load(&srv->stopping)) {
        snprintf(job->error, sizeof job->error, "the server is shutting down");
        job_finish(job, NULL);
    } else {
        if (srv->queue_tail)
            srv->queue_tail->next = job;
        else
            srv->queue_head = job;
        srv->queue_tail = job;
        srv->queued++;
        pthread_cond_signal(&srv->wake);
    }
    pthread_mutex_unlock(&srv->mu);
}

/* Marks a job cancelled and stops the pass it is in; the engine ends it. */
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
