/*
 * batch.c - batch generation (--batch FILE): one prompt per line, as
 * plain text or as a JSON object {"prompt", optional "n_predict", "temp",
 * "top_k", "top_p", "min_p", "repeat_penalty", "seed" (-1: the clock),
 * "stop" (a string or a list), "json_schema" or "grammar" (docs/GRAMMAR.md),
 * "id"}; one JSON result per line on stdout,
 * in input order (after a Ctrl-C, the prompts that never started get an
 * "interrupted" result).
 *
 * Up to --parallel sequences run at once, each with its own session and
 * sampler, on one context. Every step is one bn_eval: the next token of
 * each decoding sequence and the prompt tokens of new ones (up to -b of
 * them a step), so the weights are read once for all. The logits are the
 * same as one sequence alone, so each result equals a single run with the
 * same seed. Finished sequences make room for the next prompts.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "grammar.h"
#include "json.h"
#include "json_schema.h"
#include "seq.h"
#include "timing.h"

typedef struct {
    int line; /* 1-based, in the input */
    char *prompt;
    size_t prompt_len;
    char *id_json; /* "id" as written, echoed in the result */
    int n_predict;
    bn_sampler_params sp;
    char **stops; /* "stop": replaces --stop for this line (n_stops of them) */
    int n_stops, has_stops;
    grammar *grammar; /* "json_schema" or "grammar": constrains this line's output */
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
    int next;    /* first item not started */
    int printed; /* items written to stdout */
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
#define MAX_SEED 18446744073709551615.0 /* 2^64 - 1 */

/* "seed": a non-negative integer, or -1 for a seed from the clock (distinct
 * per line, like the lines of a run without --seed). */
static int member_seed(const json_member *mb, int line, uint64_t *out)
{
    char tmp[32], *end;
    if (mb->kind != JSON_NUMBER || mb->raw_len >= sizeof tmp) return -1;
    memcpy(tmp, mb->raw, mb->raw_len);
    tmp[mb->raw_len] = 0;
    if (!strcmp(tmp, "-1")) {
        *out = clock_seed() + (uint64_t)line;
        return 0;
    }
    if (tmp[0] == '-') return -1;
    *out = strtoull(tmp, &end, 10);
    return *end ? -1 : 0;
}

/* The sampling members of a line: 1 when key is none of them, else 0 or
 * the error message in err (-1). */
static int apply_sampling(batch_item *it, const json_member *mb, char err[BN_ERR_LEN])
{
    static const struct {
        const char *key;
        double lo, hi;
        int integer;
    } ranges[] = {{"n_predict", -1, BN_MAX_CTX, 1}, {"temp", 0, MAX_TEMP, 0},
                  {"top_k", 0, BN_MAX_CTX, 1},      {"top_p", 0, 1, 0},
                  {"min_p", 0, 1, 0},               {"repeat_penalty", 0, MAX_REPEAT_PENALTY, 0}};
    const char *k = mb->key;
    if (!strcmp(k, "seed")) {
        if (!member_seed(mb, it->line, &it->sp.seed)) return 0;
        snprintf(err, BN_ERR_LEN, "\"seed\" must be a non-negative integer or -1");
        return -1;
    }
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
        if (strcmp(k, ranges[i].key)) continue;
        double v;
        if (json_number_in(mb, ranges[i].lo, ranges[i].hi, ranges[i].integer, &v)) {
            snprintf(err, BN_ERR_LEN, "\"%s\" must be %s from %g to %g", k,
                     ranges[i].integer ? "an integer" : "a number", ranges[i].lo, ranges[i].hi);
            return -1;
        }
        if (!strcmp(k, "n_predict")) it->n_predict = (int)v;
        else if (!strcmp(k, "temp")) it->sp.temp = (float)v;
        else if (!strcmp(k, "top_k")) it->sp.top_k = (int)v;
        else if (!strcmp(k, "top_p")) it->sp.top_p = (float)v;
        else if (!strcmp(k, "min_p")) it->sp.min_p = (float)v;
        else it->sp.repeat_penalty = (float)v;
        return 0;
    }
    return 1;
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
                 "repeat_penalty, seed, stop, json_schema, grammar or id)", mb->key);
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
        it->np = bn_tokenize(tok, it->prompt, it->prompt_len, tokenize_flags(b->o), &it->pids,
                             err);
        if (it->np < 0) {
            item_fail(b, it, err);
        } else if (it->np == 0) {
            item_fail(b, it, "the prompt gives no tokens (--no-bos leaves nothing to start from)");
        } else if (it->np >= n_ctx) {
            snprintf(msg, sizeof msg,
                     "the prompt has %d tokens but the context holds %d (%s)", it->np, n_ctx,
                     context_hint(m, n_ctx, hint, sizeof hint));
            item_fail(b, it, msg);
        }
    }
}

/* ---------------------------------------------------------- sequences */

typedef struct {
    gen_seq q;
    batch_item *item; /* NULL: the slot is free */
    int fed;          /* prompt tokens evaluated so far */
    double t0;        /* when its prompt started (now_ms) */
} batch_slot;

/* A slot's sequence is done: its --json result line, kept for printing in input order. */
static void finish(batch_slot *sl)
{
    batch_item *it = sl->item;
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
    bn_sampler_free(sl->q.sampler);
    free(sl->q.out.ids);
    seq_free_probs(&sl->q);
    seq_free_grammar(&sl->q);
    seq_free_mask(&sl->q);
    lookup_free(&sl->q.lk);
    buf_free(&sl->q.stream.text);
    sl->item = NULL;
}

/* Starts item it in a free slot; its prompt joins the next passes. */
static void start(batch *b, batch_slot *sl, batch_item *it, int n_vocab)
{
    bn_session *s = sl->q.session;
    bn_session_reset(s);
    sl->item = it;
    sl->fed = 0;
    sl->t0 = now_ms();
    sl->q = (gen_seq){.session = s, .sampler = cli_new_sampler(&it->sp, n_vocab),
                      .tok = sl->q.tok, .n_predict = it->n_predict, .seed = it->sp.seed};
    sl->q.stream = it->has_stops ? (text_stream){.stops = (const char *const *)it->stops,
                                                .n_stops = it->n_stops}
                                 : (text_stream){.stops = b->o->stops, .n_stops = b->o->n_stops};
    it->started = 1;
    if (b->o->ignore_eos) seq_ignore_eog(&sl->q, n_vocab);
    lookup_init(&sl->q.lk, b->o->lookup, b->o->lookup_ngram);
    if (seq_set_grammar(&sl->q, it->grammar ? it->grammar : b->grammar)) log_out_of_memory();
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

/* Gives every free slot the next good item. */
static void fill_slots(batch *b, batch_slot *slots, int n_slots, int n_vocab)
{
    for (int i = 0; i < n_slots && !cli_interrupted; i++) {
        while (!slots[i].item && b->next < b->n_items && !cli_interrupted) {
            batch_item *it = &b->items[b->next++];
            if (!it->failed) start(b, &slots[i], it, n_vocab);
        }
    }
}

/* One step's batch: every decoding sequence's next token (and its
 * --lookup draft), and up to
 * `budget` prompt tokens of the sequences still reading their prompts
 * (so a long prompt does not stall the others). Returns the entry count. */
static int gather(batch_slot *slots, int n_slots, int budget, bn_batch_entry *e)
{
    int n = 0;
    for (int i = 0; i < n_slots; i++) {
        batch_slot *sl = &slots[i];
        if (!sl->item) continue;
        bn_session *s = sl->q.session;
        if (sl->fed == sl->item->np) {
            seq_draft(&sl->q);
            n += seq_draft_entries(&sl->q, e + n);
            continue;
        }
        const int take = sl->item->np - sl->fed < budget ? sl->item->np - sl->fed : budget;
        for (int j = 0; j < take; j++, n++)
            e[n] = (bn_batch_entry){s, sl->item->pids[sl->fed + j], bn_session_n_past(s) + j,
                                    sl->fed + j == sl->item->np - 1};
        budget -= take;
    }
    return n;
}

/* Samples for every sequence whose last token of the step had logits (in
 * slot order, as gather added them), and finishes those that ended. */
static void advance(batch_slot *slots, int n_slots, const float *logits, int n_vocab)
{
    int k = 0;
    for (int i = 0; i < n_slots; i++) {
        batch_slot *sl = &slots[i];
        if (!sl->item) continue;
        const int np = sl->item->np;
        if (sl->fed < np) {
            sl->fed = bn_session_n_past(sl->q.session);
            if (sl->fed < np) continue; /* more of the prompt next step */
            const float *row = logits + (size_t)k++ * n_vocab;
            if (!seq_prompt_done(&sl->q, sl->item->pids, np, row, sl->t0)) finish(sl);
            continue;
        }
        const float *row = logits + (size_t)k * n_vocab;
        k += sl->q.lk.n + 1;
        if (!seq_verify(&sl->q, row, n_vocab)) finish(sl);
    }
}

/* Runs every item to its end (or until Ctrl-C), all active sequences in
 * one bn_eval per step. */
static void run_all(batch *b, bn_context *ctx, batch_slot *slots, int n_slots, int n_vocab)
{
    char err[BN_ERR_LEN];
    const int budget = b->o->n_batch ? b->o->n_batch : BN_DEFAULT_BATCH;
    /* rows: each sequence's next token and draft; malloc(0) may return NULL */
    const size_t cap = (n_slots > 0 ? (size_t)n_slots : 1) * ((size_t)b->o->lookup + 1);
    float *logits = malloc(cap * (size_t)n_vocab * sizeof *logits);
    bn_batch_entry *e = malloc((cap + (size_t)budget) * sizeof *e);
    if (!logits || !e) log_out_of_memory();
    for (;;) {
        fill_slots(b, slots, n_slots, n_vocab);
        print_ready(b);
        const int n = gather(slots, n_slots, budget, e);
        if (n == 0 || cli_interrupted) break;
        const int rc = bn_eval(ctx, e, n, logits, err);
        if (rc < 0) cli_die(EXIT_MODEL, "%s", err);
        if (rc == BN_ABORTED) break;
        advance(slots, n_slots, logits, n_vocab);
    }
    for (int i = 0; i < n_slots; i++)
        if (slots[i].item) {
            if (slots[i].fed < slots[i].item->np) slots[i].q.t_gen_start = now_ms();
            seq_interrupt(&slots[i].q);
            finish(&slots[i]);
        }
    for (; b->next < b->n_items; b->next++)
        if (!b->items[b->next].failed) never_started(&b->items[b->next]);
    print_ready(b);
    free(logits);
    free(e);
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
             b->n_items, n_run, b->n_failed, skipped, np, ng, ms,
             per_second((double)(np + ng), ms), n_slots, bn_model_kernel_name(m),
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
}

/* --batch: reads the items, runs them --parallel at a time, prints the results in order. */
int run_batch(const run_opts *o)
{
    if (o->prompt || o->prompt_file)
        cli_die(EXIT_USAGE, "--batch takes its prompts from its file, not from -p/-f");
    size_t len;
    char *text = cli_read_file(o->batch_file, "--batch", &len);
    batch b = {.o = o, .source = strcmp(o->batch_file, "-") ? o->batch_file : "stdin",
               .grammar = cli_load_grammar(o)};
    parse_input(&b, text, len);
    free(text);
    bn_model *m = cli_load_model(o);
    double t0 = now_ms();
    int n_slots = o->n_parallel < b.n_items ? o->n_parallel : b.n_items;
    batch_slot *slots = calloc(n_slots ? (size_t)n_slots : 1, sizeof *slots);
    if (!slots) log_out_of_memory();
    bn_context *ctx = cli_new_context(m);
    for (int i = 0; i < n_slots; i++) {
        slots[i].q.session = cli_new_session(o, m, ctx, o->n_ctx);
        slots[i].q.tok = bn_model_tokenizer(m);
    }
    bn_session *probe = n_slots ? slots[0].q.session : NULL;
    if (probe) note_kv_cache(o, probe, n_slots);
    prepare_items(&b, m, probe ? bn_session_n_ctx(probe) : 0);
    cli_catch_sigint();
    run_all(&b, ctx, slots, n_slots, bn_model_n_vocab(m));
    if (!o->quiet) print_summary(&b, m, n_slots, bn_context_n_threads(ctx), now_ms() - t0);
    note_peak_memory(o);
    for (int i = 0; i < n_slots; i++) bn_session_free(slots[i].q.session);
    bn_context_free(ctx);
    free_items(&b);
    grammar_free(b.grammar);
    free(slots);
    bn_model_free(m);
    return cli_interrupted ? EXIT_INTERRUPTED : b.n_failed ? EXIT_MODEL : 0;
}
