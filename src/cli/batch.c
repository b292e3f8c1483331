/*
 * batch.c - batch generation (--batch FILE): one prompt per line, as
 * plain text or as a JSON object {"prompt", optional "n_predict", "temp",
 * "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n",
 * "presence_penalty", "frequency_penalty", "typical_p", "seed" (-1: the clock),
 * "stop" (a string or a list), "json_schema" or "grammar" (docs/GRAMMAR.md),
 * "id"}; one JSON result per line on stdout,
 * in input order (after a Ctrl-C, the prompts that never started get an
 * "interrupted" result).
 *
 * Up to --parallel sequences run at once on the scheduler shared with the
 * server (src/common/scheduler.c), each with its own session and sampler,
 * on one context. Every step is one bn_eval: the next token of each
 * decoding sequence and prompt tokens of new ones (filling a pass of -b),
 * so the weights are read once for all. The logits are the same as one
 * sequence alone, so each result equals a single run with the same seed.
 * Finished sequences make room for the next prompts.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "grammar.h"
#include "json.h"
#include "json_schema.h"
#include "sampling_fields.h"
#include "scheduler.h"
#include "seq.h"
#include "timing.h"

typedef struct {
    int line; /* 1-based, in the input */
    char *prompt;
    size_t prompt_len;
    char *id_json; /* "id" as written, echoed in the result */
    int n_predict;
    bn_sampler_params sp;
    char **stops;     /* "stop": replaces --stop for this line (n_stops of them) */
    grammar *grammar; /* "json_schema" or "grammar": constrains this line's output */
    int n_stops, has_stops;
    int32_t *pids;
    int np;
    char *result; /* the output line once finished (or failed) */
    size_t result_len;
    int np_run; /* prompt tokens evaluated */
    int n_out;  /* tokens generated */
    int failed, started;
} batch_item;

typedef struct {
    const run_opts *o;
    const char *source; /* the input's name in messages */
    batch_item *items;
    int n_items, n_failed;
    int next;         /* first item not started */
    int printed;      /* items written to stdout */
    grammar *grammar; /* --grammar, --grammar-file, -j: for lines without their own */
} batch;

/* ------------------------------------------------------- input lines */

/* A bad input line: says why on stderr and makes its {"line", "error"} result. */
static void item_fail(batch *b, batch_item *it, const char *msg)
{
    log_error("%s:%d: %s", b->source, it->line, msg);
    char *out;
    FILE *f = open_memstream(&out, &it->result_len);
    if (!f) log_out_of_memory();
    fprintf(f, "{\"line\": %d, ", it->line);
    if (it->id_json) fprintf(f, "\"id\": %s, ", it->id_json);
    fputs("\"error\": ", f);
    json_string(f, msg, strlen(msg));
    fputs("}\n", f);
    fclose(f);
    it->result = out;
    it->failed = 1;
    b->n_failed++;
}

#define MAX_TEMP 1e6
#define MAX_REPEAT_PENALTY 1e3
#define MAX_LINE_PENALTY 100 /* presence_penalty, frequency_penalty: as the flags */

/* The sampling members of a line and their ranges. */
static const sampling_field line_fields[] = {
    {"n_predict", FIELD_N_PREDICT, -1, BN_MAX_CTX, NULL},
    {"temp", FIELD_TEMP, 0, MAX_TEMP, NULL},
    {"top_k", FIELD_TOP_K, 0, BN_MAX_CTX, NULL},
    {"top_p", FIELD_TOP_P, 0, 1, NULL},
    {"min_p", FIELD_MIN_P, 0, 1, NULL},
    {"repeat_penalty", FIELD_REPEAT_PENALTY, 0, MAX_REPEAT_PENALTY, NULL},
    {"repeat_last_n", FIELD_REPEAT_LAST_N, -1, BN_MAX_CTX, "-1: all"},
    {"presence_penalty", FIELD_PRESENCE_PENALTY, -MAX_LINE_PENALTY, MAX_LINE_PENALTY, NULL},
    {"frequency_penalty", FIELD_FREQUENCY_PENALTY, -MAX_LINE_PENALTY, MAX_LINE_PENALTY, NULL},
    {"typical_p", FIELD_TYPICAL_P, 0, 1, "1 = off"},
    {"seed", FIELD_SEED, 0, 0, NULL},
};

/* A sampling member of a line: 1 when key is none of them, else 0 or the
 * error message in err (-1). A seed of -1 takes one from the clock,
 * distinct per line like the lines of a run without --seed. */
static int apply_sampling(batch_item *it, const json_member *mb, char err[BN_ERR_LEN])
{
    sampling_values v = {.sp = &it->sp, .n_predict = &it->n_predict};
    const int rc = sampling_field_apply(line_fields, sizeof line_fields / sizeof *line_fields, mb,
                                        &v, err);
    if (v.seed_random) it->sp.seed = clock_seed() + (uint64_t)it->line;
    return rc;
}

/* "json_schema" (an object) or "grammar" (GBNF text): the line's output
 * follows it (docs/GRAMMAR.md); an error message or NULL. */
static const char *line_grammar(batch_item *it, const json_member *mb, char err[BN_ERR_LEN])
{
    const int schema = mb->key[0] == 'j';
    if (it->grammar) return "give one of \"json_schema\" and \"grammar\"";
    if (schema ? mb->kind != JSON_OBJECT : mb->kind != JSON_STRING)
        return schema ? "\"json_schema\" must be an object" : "\"grammar\" must be a string";
    char *text = schema ? json_schema_to_grammar(mb->raw, mb->raw_len, err) : NULL;
    if (schema && !text) return err;
    it->grammar = grammar_parse(text ? text : mb->str, text ? strlen(text) : mb->str_len, err);
    free(text);
    return it->grammar ? NULL : err;
}

/* Applies one member of a JSON line; returns an error message or NULL. */
static const char *apply_member(batch_item *it, const json_member *mb, char err[BN_ERR_LEN])
{
    const int rc = apply_sampling(it, mb, err);
    if (rc <= 0) return rc ? err : NULL;
    if (!strcmp(mb->key, "prompt")) {
        if (mb->kind != JSON_STRING) return "\"prompt\" must be a string";
        it->prompt = malloc(mb->str_len + 1);
        if (!it->prompt) log_out_of_memory();
        memcpy(it->prompt, mb->str, mb->str_len + 1);
        it->prompt_len = mb->str_len;
    } else if (!strcmp(mb->key, "stop")) {
        it->has_stops = 1;
        return json_stop_strings(mb, &it->stops, &it->n_stops);
    } else if (!strcmp(mb->key, "json_schema") || !strcmp(mb->key, "grammar")) {
        return line_grammar(it, mb, err);
    } else if (strcmp(mb->key, "id")) {
        snprintf(err, BN_ERR_LEN,
                 "unknown key \"%.64s\" (expected prompt, n_predict, temp, top_k, top_p, min_p, "
                 "repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty, typical_p, "
                 "seed, stop, json_schema, grammar or id)",
                 mb->key);
        return err;
    }
    return NULL;
}

/* Fills an item from a line that holds a JSON object. */
static void parse_json_line(batch *b, batch_item *it, const char *line, size_t len)
{
    char err[BN_ERR_LEN];
    json_object obj;
    if (json_parse_object(line, len, &obj, err)) {
        item_fail(b, it, err);
        return;
    }
    const json_member *id = json_get(&obj, "id"); /* first, so that an error result keeps it */
    if (id) it->id_json = strndup(id->raw, id->raw_len);
    const char *msg = json_get(&obj, "prompt") ? NULL : "no \"prompt\" key";
    for (int i = 0; i < obj.n && !msg; i++) msg = apply_member(it, &obj.members[i], err);
    json_object_free(&obj);
    if (msg) item_fail(b, it, msg);
}

/* Whether the n bytes at s are only spaces, tabs and carriage returns. */
static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r", s[i])) return 0;
    return 1;
}

/* Splits the input into items: a line starting with '{' is JSON, any other
 * non-blank line is a prompt as it is. Bad lines become failed items. */
static void parse_input(batch *b, char *text, size_t len)
{
    int line = 0, cap = 0;
    uint64_t base_seed = clock_seed();
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - pos;
        const char *s = text + pos;
        pos = end + 1;
        line++;
        if (n && s[n - 1] == '\r') n--;
        if (is_blank(s, n)) continue;
        if (b->n_items == cap) {
            cap = cap ? 2 * cap : 64;
            batch_item *grown = realloc(b->items, (size_t)cap * sizeof *grown);
            if (!grown) log_out_of_memory();
            b->items = grown;
        }
        batch_item *it = &b->items[b->n_items++];
        *it = (batch_item){.line = line, .n_predict = b->o->n_predict, .sp = b->o->sp};
        if (!b->o->seed_given) it->sp.seed = base_seed + (uint64_t)line;
        size_t skip = strspn(s, " \t");
        if (s[skip] == '{') {
            parse_json_line(b, it, s, n);
        } else {
            it->prompt = strndup(s, n);
            it->prompt_len = n;
        }
        if (!it->failed && it->prompt_len == 0) item_fail(b, it, "empty prompt");
    }
}

/* Tokenizes every good item and checks that it fits; bad ones fail. */
static void prepare_items(batch *b, const bn_model *m, int n_ctx)
{
    char err[BN_ERR_LEN], msg[BN_ERR_LEN + 64], hint[64];
    const bn_tokenizer *tok = bn_model_tokenizer(m);
    for (int i = 0; i < b->n_items; i++) {
        batch_item *it = &b->items[i];
        if (it->failed) continue;
        if (bn_sampler_params_check(&it->sp, bn_model_n_vocab(m), err)) {
            item_fail(b, it, err);
            continue;
        }
        it->np = bn_tokenize(tok, it->prompt, it->prompt_len, tokenize_flags(b->o), &it->pids, err);
        if (it->np < 0) {
            item_fail(b, it, err);
        } else if (it->np == 0) {
            item_fail(b, it, "the prompt gives no tokens (--no-bos leaves nothing to start from)");
        } else if (it->np >= n_ctx) {
            snprintf(msg, sizeof msg, "the prompt has %d tokens but the context holds %d (%s)",
                     it->np, n_ctx, context_hint(m, n_ctx, hint, sizeof hint));
            item_fail(b, it, msg);
        }
    }
}

/* ---------------------------------------------------------- sequences */

/* The finished hook: the result line of a sequence that ended. */
static void finish(void *user, sched_slot *sl)
{
    (void)user;
    batch_item *it = sl->job;
    FILE *f = open_memstream(&it->result, &it->result_len);
    if (!f) log_out_of_memory();
    fprintf(f, "{\"line\": %d, ", it->line);
    if (it->id_json) fprintf(f, "\"id\": %s, ", it->id_json);
    seq_write_json_fields(f, &sl->q, it->prompt, it->prompt_len, it->pids, it->np);
    fputs("}\n", f);
    fclose(f);
    it->n_out = sl->q.out.n;
    const int n_past = bn_session_n_past(sl->q.session);
    it->np_run = n_past < it->np ? n_past : it->np;
}

/* The started hook: the line's grammar, or the command line's. */
static void started(void *user, sched_slot *sl)
{
    const batch *b = user;
    const batch_item *it = sl->job;
    if (seq_set_grammar(&sl->q, it->grammar ? it->grammar : b->grammar)) log_out_of_memory();
}

/* Admission: the next good item as a request, until Ctrl-C. */
static int next_item(void *user, sched_request *r)
{
    batch *b = user;
    while (b->next < b->n_items && !cli_interrupted) {
        batch_item *it = &b->items[b->next++];
        if (it->failed) continue;
        *r = (sched_request){.pids = it->pids,
                             .np = it->np,
                             .n_predict = it->n_predict,
                             .sp = &it->sp,
                             .lookup = b->o->lookup,
                             .job = it};
        r->stops = it->has_stops ? (const char *const *)it->stops : b->o->stops;
        r->n_stops = it->has_stops ? it->n_stops : b->o->n_stops;
        it->started = 1;
        return 1;
    }
    return 0;
}

/* After a Ctrl-C: the result of a good item that never started. */
static void never_started(batch_item *it)
{
    FILE *f = open_memstream(&it->result, &it->result_len);
    if (!f) log_out_of_memory();
    fprintf(f, "{\"line\": %d, ", it->line);
    if (it->id_json) fprintf(f, "\"id\": %s, ", it->id_json);
    fputs("\"prompt\": ", f);
    json_string(f, it->prompt, it->prompt_len);
    fputs(", \"n_output\": 0, \"stop_reason\": \"interrupted\"}\n", f);
    fclose(f);
}

/* Writes the results that are ready, in input order. */
static void print_ready(batch *b)
{
    while (b->printed < b->n_items && b->items[b->printed].result) {
        batch_item *it = &b->items[b->printed++];
        fwrite(it->result, 1, it->result_len, stdout);
        free(it->result);
        it->result = NULL;
    }
    cli_check_output(stdout);
}

/* Runs every item to its end (or until Ctrl-C), all active sequences in
 * one bn_eval per step. */
static void run_all(batch *b, scheduler *s)
{
    char err[BN_ERR_LEN];
    const sched_hooks hooks = {
        .next = next_item, .started = started, .finished = finish, .user = b};
    for (;;) {
        sched_admit(s, &hooks);
        print_ready(b);
        if (!s->n_active || cli_interrupted) break;
        const int rc = sched_step(s, &hooks, err);
        if (rc < 0) cli_die(EXIT_MODEL, "%s", err);
        if (rc == BN_ABORTED) break;
    }
    sched_interrupt(s, &hooks);
    for (; b->next < b->n_items; b->next++)
        if (!b->items[b->next].failed) never_started(&b->items[b->next]);
    print_ready(b);
}

/* The summary counts what ran: prompts that never started (Ctrl-C) and
 * prompt tokens never evaluated are left out. */
static void print_summary(const batch *b, const bn_model *m, int n_slots, int n_threads, double ms)
{
    long np = 0, ng = 0;
    int n_run = 0;
    char threads[32], skipped[64] = "";
    for (int i = 0; i < b->n_items; i++) {
        np += b->items[i].np_run;
        ng += b->items[i].n_out;
        n_run += b->items[i].started;
    }
    const int not_started = b->n_items - b->n_failed - n_run;
    if (not_started)
        snprintf(skipped, sizeof skipped, ", %d not started (interrupted)", not_started);
    log_note("batch: %d prompts: %d run, %d failed%s; %ld prompt + %ld generated tokens in "
             "%.1f ms (%.1f tok/s), up to %d in parallel, kernel %s, %s",
             b->n_items, n_run, b->n_failed, skipped, np, ng, ms, per_second((double)(np + ng), ms),
             n_slots, bn_model_kernel_name(m),
             plural(n_threads, "thread", threads, sizeof threads));
}

/* Frees every item of the batch and the list. */
static void free_items(batch *b)
{
    for (int i = 0; i < b->n_items; i++) {
        batch_item *it = &b->items[i];
        free(it->prompt);
        free(it->id_json);
        free(it->pids);
        free(it->result);
        for (int k = 0; k < it->n_stops; k++) free(it->stops[k]);
        free(it->stops);
        grammar_free(it->grammar);
    }
    free(b->items);
    grammar_free(b->grammar);
}

/* --batch: reads and checks the lines, runs them on the scheduler, prints
 * the results in input order and the summary. */
int run_batch(const run_opts *o)
{
    if (o->prompt || o->prompt_file)
        cli_die(EXIT_USAGE, "--batch takes its prompts from its file, not from -p/-f");
    size_t len;
    char *text = cli_read_file(o->batch_file, "--batch", &len);
    batch b = {.o = o,
               .source = strcmp(o->batch_file, "-") ? o->batch_file : "stdin",
               .grammar = cli_load_grammar(o)};
    parse_input(&b, text, len);
    free(text);
    bn_model *m = cli_load_model(o);
    double t0 = now_ms();
    int n_slots = o->n_parallel < b.n_items ? o->n_parallel : b.n_items;
    char err[BN_ERR_LEN];
    scheduler s;
    const int code = sched_init(&s, o, m, n_slots, err);
    if (code) cli_die(code, "%s", err);
    cli_stop_at_interrupt(s.ctx);
    bn_session *probe = n_slots ? s.slots[0].q.session : NULL;
    if (probe) note_kv_cache(o, probe, n_slots);
    prepare_items(&b, m, probe ? bn_session_n_ctx(probe) : 0);
    cli_catch_sigint();
    run_all(&b, &s);
    if (!o->quiet) print_summary(&b, m, n_slots, bn_context_n_threads(s.ctx), now_ms() - t0);
    note_peak_memory(o);
    sched_free(&s);
    free_items(&b);
    bn_model_free(m);
    return cli_interrupted ? EXIT_INTERRUPTED : b.n_failed ? EXIT_MODEL : 0;
}
