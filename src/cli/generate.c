/*
 * generate.c - plain generation (the default mode): evaluate the
 * prompt, stream the continuation, print stats or a --json object. The
 * sampling loop of one sequence (cli_seq) lives here too, because chat and
 * --batch continue their sequences with exactly the same rules.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ------------------------------------------------------- one sequence */

int seq_prefill(cli_seq *q, const int32_t *ids, int n, char err[BN_ERR_LEN])
{
    const float *logits;
    const double t0 = cli_now_ms();
    const int rc = bn_session_eval(q->session, ids, n, &logits, err);
    if (rc < 0) return -1;
    if (rc == BN_ABORTED) {
        q->t_gen_start = cli_now_ms();
        seq_interrupt(q);
        return 0;
    }
    return seq_prompt_done(q, ids, n, logits, t0);
}

int seq_prompt_done(cli_seq *q, const int32_t *ids, int n, const float *logits, double t0)
{
    for (int i = 0; i < n; i++) bn_sampler_accept(q->sampler, ids[i]);
    lookup_prompt(q, ids, n);
    q->t_gen_start = cli_now_ms();
    q->prompt_ms = q->t_gen_start - t0;
    return seq_step(q, logits);
}

int seq_continue(cli_seq *q, char err[BN_ERR_LEN])
{
    if (lookup_draft(q)) return lookup_continue(q, err);
    const float *logits;
    const int rc = bn_session_eval(q->session, &q->next, 1, &logits, err);
    if (rc < 0) return -1;
    if (rc == BN_ABORTED) {
        seq_interrupt(q);
        return 0;
    }
    return seq_step(q, logits);
}

static int seq_end(cli_seq *q, const char *reason)
{
    q->stop_reason = reason;
    q->gen_ms = cli_now_ms() - q->t_gen_start;
    if (strcmp(reason, "stop")) stream_flush(&q->stream);
    return 0;
}

static int reached_limit(const cli_seq *q) { return q->n_predict >= 0 && q->out.n >= q->n_predict; }

void seq_ignore_eog(cli_seq *q, int n_vocab)
{
    q->masked = malloc((size_t)n_vocab * sizeof *q->masked);
    q->banned = malloc((size_t)n_vocab * sizeof *q->banned);
    if (!q->masked || !q->banned) cli_die(EXIT_MODEL, "out of memory");
    q->n_banned = 0;
    for (int32_t id = 0; id < n_vocab; id++)
        if (bn_token_is_eog(q->tok, id)) q->banned[q->n_banned++] = id;
}

void seq_free_mask(cli_seq *q)
{
    free(q->masked);
    free(q->banned);
    q->masked = NULL;
    q->banned = NULL;
}

static const float *apply_mask(cli_seq *q, const float *logits)
{
    if (!q->masked) return logits;
    memcpy(q->masked, logits, (size_t)bn_tokenizer_n_vocab(q->tok) * sizeof *logits);
    for (int i = 0; i < q->n_banned; i++) q->masked[q->banned[i]] = -INFINITY;
    return q->masked;
}

int seq_step_draft(cli_seq *q, const float *logits, int32_t draft, int n_past)
{
    if (reached_limit(q)) return seq_end(q, "length");
    logits = apply_mask(q, logits);
    int32_t id = draft < 0 ? bn_sampler_sample(q->sampler, logits)
                           : bn_sampler_sample_draft(q->sampler, logits, draft);
    bn_sampler_accept(q->sampler, id);
    ids_push(&q->out, id);
    lookup_push(q, id);
    if (bn_token_is_eog(q->tok, id)) return seq_end(q, id == bn_token_eos(q->tok) ? "eos" : "eot");
    if (stream_token(&q->stream, q->tok, id)) return seq_end(q, "stop");
    if (reached_limit(q)) return seq_end(q, "length");
    if (n_past >= bn_session_n_ctx(q->session)) return seq_end(q, "context");
    q->next = id;
    return 1;
}

int seq_step(cli_seq *q, const float *logits)
{
    return seq_step_draft(q, logits, -1, bn_session_n_past(q->session));
}

void seq_interrupt(cli_seq *q) { seq_end(q, "interrupted"); }

void seq_write_json_fields(FILE *out, const cli_seq *q, const char *prompt, size_t prompt_len,
                           const int32_t *pids, int np)
{
    fputs("\"prompt\": ", out);
    json_string(out, prompt, prompt_len);
    fputs(", \"text\": ", out);
    json_string(out, q->stream.text.data ? q->stream.text.data : "", q->stream.text.len);
    fputs(", \"prompt_ids\": ", out);
    json_int_array(out, pids, np);
    fputs(", \"output_ids\": ", out);
    json_int_array(out, q->out.ids, q->out.n);
    fprintf(out, ", \"n_prompt\": %d, \"n_output\": %d, \"stop_reason\": \"%s\", \"seed\": %llu", np,
            q->out.n, q->stop_reason, (unsigned long long)q->seed);
    fprintf(out,
            ", \"timings\": {\"prompt_ms\": %.3f, \"generation_ms\": %.3f, "
            "\"prompt_tokens_per_s\": %.3f, \"generation_tokens_per_s\": %.3f}",
            q->prompt_ms, q->gen_ms, cli_per_second(np, q->prompt_ms),
            cli_per_second(q->out.n, q->gen_ms));
    lookup_write_json(out, q);
}

/* ------------------------------------------------------ generate mode */

/* Runs q until it ends or Ctrl-C, one token per evaluation. */
static void continue_alone(cli_seq *q)
{
    char err[BN_ERR_LEN];
    int r;
    do {
        if (cli_interrupted) {
            seq_interrupt(q);
            return;
        }
        if ((r = seq_continue(q, err)) < 0) cli_die(EXIT_MODEL, "%s", err);
    } while (r);
}

static void print_stats(const bn_model *m, const cli_seq *q, int np)
{
    char threads[32];
    cli_note("prompt %d tokens in %.1f ms (%.1f tok/s), generated %d tokens in %.1f ms "
             "(%.1f tok/s), stop: %s, kernel %s, %s",
             np, q->prompt_ms, cli_per_second(np, q->prompt_ms), q->out.n,
             q->gen_ms, cli_per_second(q->out.n, q->gen_ms),
             cli_stop_words(q->stop_reason), bn_model_kernel_name(m),
             cli_plural(bn_context_n_threads(bn_session_context(q->session)), "thread", threads,
                        sizeof threads));
}

int run_generate(const cli_opts *o)
{
    char err[BN_ERR_LEN];
    size_t len;
    char *text = cli_load_prompt(o, &len);
    const double t_start = cli_now_ms();
    bn_model *m = cli_load_model(o);
    const bn_tokenizer *tok = bn_model_tokenizer(m);
    int np;
    int32_t *pids = cli_tokenize(tok, text, len, cli_tokenize_flags(o), "prompt", &np);
    if (np == 0)
        cli_die(EXIT_USAGE, "the prompt is empty and --no-bos leaves no token to start from");
    if (o->verbose_prompt) cli_print_prompt(tok, text, len, pids, np);
    if (len == 0) cli_note("warning: the prompt is empty: generation starts from BOS alone");
    bn_session *s = cli_new_session(o, m, NULL, o->n_ctx);
    cli_note_kv_cache(o, s, 1);
    char hint[64];
    if (np >= bn_session_n_ctx(s))
        cli_die(EXIT_USAGE, "the prompt has %d tokens but the context holds %d (%s)", np,
                bn_session_n_ctx(s), cli_context_hint(m, bn_session_n_ctx(s), hint, sizeof hint));
    bn_sampler_params sp = o->sp;
    if (!o->seed_given) sp.seed = cli_clock_seed();
    cli_note_seed(o, sp.seed);
    cli_seq q = {.session = s, .sampler = cli_new_sampler(&sp, bn_model_n_vocab(m)), .tok = tok,
                 .n_predict = o->n_predict, .seed = sp.seed};
    q.stream = (cli_stream){.out = o->json ? NULL : stdout, .stops = o->stops,
                            .n_stops = o->n_stops};
    if (o->ignore_eos) seq_ignore_eog(&q, bn_model_n_vocab(m));
    lookup_init(&q, o->lookup, o->lookup_ngram);
    cli_catch_sigint();
    if (!o->json && !o->quiet) {
        fwrite(text, 1, len, stdout);
        cli_check_output(stdout);
    }
    int r = seq_prefill(&q, pids, np, err);
    if (r < 0) cli_die(EXIT_MODEL, "%s", err);
    /* load, tokenization and prompt: what a user waits for */
    const double ttft_ms = cli_now_ms() - t_start;
    if (r) continue_alone(&q);
    if (o->json) {
        putchar('{');
        seq_write_json_fields(stdout, &q, text, len, pids, np);
        puts("}");
    } else if (!o->quiet) {
        putchar('\n');
        cli_check_output(stdout); /* the text ends before the stats line when both go to one pipe */
        print_stats(m, &q, np);
        if (o->verbose) cli_note("time to first token (load included): %.0f ms", ttft_ms);
    }
    if (o->verbose) lookup_note(&q);
    cli_note_peak_memory(o);
    cli_check_output(stdout);
    int code = cli_interrupted ? EXIT_INTERRUPTED : 0;
    free(q.out.ids);
    seq_free_mask(&q);
    lookup_free(&q);
    buf_free(&q.stream.text);
    bn_sampler_free(q.sampler);
    bn_session_free(s);
    free(pids);
    free(text);
    bn_model_free(m);
    return code;
}
