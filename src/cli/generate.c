/*
 * generate.c - plain generation (the default mode): evaluate the
 * prompt, stream the continuation, print stats or a --json object. The
 * sampling loop of one sequence (gen_seq) lives here too, because chat and
 * --batch continue their sequences with exactly the same rules.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "seq.h"
#include "timing.h"

/* ------------------------------------------------------ generate mode */

/* Runs q until it ends or Ctrl-C, one token per evaluation. */
static void continue_alone(gen_seq *q)
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

/* The speed line on stderr after a generation. */
static void print_stats(const bn_model *m, const gen_seq *q, int np)
{
    char threads[32], prompt[32], generated[32];
    plural(bn_context_n_threads(bn_session_context(q->session)), "thread", threads, sizeof threads);
    if (!q->prompt_done) { /* Ctrl-C during the prompt: no rate to report */
        log_note("prompt of %s interrupted after %.1f ms, nothing generated, stop: interrupted, "
                 "kernel %s, %s",
                 plural(np, "token", prompt, sizeof prompt), q->prompt_ms, bn_model_kernel_name(m),
                 threads);
        return;
    }
    log_note("prompt %s in %.1f ms (%.1f tok/s), generated %s in %.1f ms "
             "(%.1f tok/s), stop: %s, kernel %s, %s",
             plural(np, "token", prompt, sizeof prompt), q->prompt_ms, per_second(np, q->prompt_ms),
             plural(q->out.n, "token", generated, sizeof generated), q->gen_ms,
             per_second(q->out.n, q->gen_ms), stop_words(q->stop_reason), bn_model_kernel_name(m),
             threads);
}

/* Plain generation: echoes the prompt and streams the continuation, or prints --json. */
int run_generate(const run_opts *o)
{
    char err[BN_ERR_LEN];
    size_t len;
    char *text = cli_load_prompt(o, &len);
    const double t_start = now_ms();
    bn_model *m = cli_load_model(o);
    const bn_tokenizer *tok = bn_model_tokenizer(m);
    int np;
    int32_t *pids = cli_tokenize(tok, text, len, tokenize_flags(o), "prompt", &np);
    if (np == 0)
        cli_die(EXIT_USAGE, "the prompt is empty and --no-bos leaves no token to start from");
    if (o->verbose_prompt) cli_print_prompt(tok, text, len, pids, np);
    if (len == 0) log_note("warning: the prompt is empty: generation starts from BOS alone");
    bn_session *s = cli_new_session(o, m, NULL, o->n_ctx);
    note_kv_cache(o, s, 1);
    char hint[64];
    if (np >= bn_session_n_ctx(s))
        cli_die(EXIT_USAGE, "the prompt has %d tokens but the context holds %d (%s)", np,
                bn_session_n_ctx(s), context_hint(m, bn_session_n_ctx(s), hint, sizeof hint));
    bn_sampler_params sp = o->sp;
    if (!o->seed_given) sp.seed = clock_seed();
    note_seed(o, sp.seed);
    gen_seq q = {.session = s,
                 .sampler = cli_new_sampler(&sp, bn_model_n_vocab(m)),
                 .tok = tok,
                 .n_predict = o->n_predict,
                 .seed = sp.seed};
    q.stream = (text_stream){.out = o->json ? NULL : stdout,
                             .check = cli_check_output,
                             .stops = o->stops,
                             .n_stops = o->n_stops,
                             .hide_think = opts_hide_think(o)};
    if (o->ignore_eos) seq_ignore_eog(&q, bn_model_n_vocab(m));
    seq_want_logits(&q);
    lookup_init(&q.lk, o->lookup, o->lookup_ngram);
    grammar *g = cli_load_grammar(o);
    if (seq_set_grammar(&q, g)) log_out_of_memory();
    cli_catch_sigint();
    if (!o->json && !o->quiet) {
        fwrite(text, 1, len, stdout);
        cli_check_output(stdout);
    }
    int r = seq_prefill(&q, pids, np, err);
    if (r < 0) cli_die(EXIT_MODEL, "%s", err);
    /* load, tokenization and prompt: what a user waits for */
    const double ttft_ms = now_ms() - t_start;
    if (r) continue_alone(&q);
    if (o->json) {
        putchar('{');
        seq_write_json_fields(stdout, &q, text, len, pids, np);
        puts("}");
    } else if (!o->quiet) {
        putchar('\n');
        cli_check_output(stdout); /* the text ends before the stats line when both go to one pipe */
        print_stats(m, &q, np);
        if (o->verbose) log_note("time to first token (load included): %.0f ms", ttft_ms);
    }
    if (o->verbose) {
        lookup_note(&q.lk);
        seq_note_exact_rows(&q);
    }
    note_peak_memory(o);
    cli_check_output(stdout);
    int code = cli_interrupted ? EXIT_INTERRUPTED : 0;
    free(q.out.ids);
    seq_free_probs(&q);
    seq_free_grammar(&q);
    grammar_free(g);
    seq_free_mask(&q);
    lookup_free(&q.lk);
    buf_free(&q.stream.text);
    bn_sampler_free(q.sampler);
    bn_session_free(s);
    free(pids);
    free(text);
    bn_model_free(m);
    return code;
}
