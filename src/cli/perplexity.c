/*
 * perplexity.c - perplexity of a text file (--perplexity FILE).
 *
 * The text is scored in windows of --ctx-size tokens that overlap by half:
 * the first window scores all its tokens, every later one only the tokens
 * of its second half, so each token is scored once and (past the first
 * window) with at least half a window of context before it. A window starts
 * with BOS when the vocabulary adds one. The result is exp(mean NLL) with
 * the error estimate llama-perplexity prints: the standard error of the
 * mean NLL, carried through exp().
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PPL_CHUNK 64 /* tokens per bn_session_eval_all call: bounds the logits buffer */

typedef struct {
    double nll, nll2; /* sums of -log p and its square */
    long count;
} ppl_sums;

/* -log softmax(logits)[target], in double for a stable sum. */
static double token_nll(const float *logits, int n_vocab, int32_t target)
{
    float max = logits[0];
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - max);
    /* the max logit adds exp(0) = 1, so only NaN logits leave sum below 1 */
    if (!(sum >= 1.0)) return NAN;
    return log(sum) - ((double)logits[target] - max);
}

typedef struct {
    bn_session *s;
    int n_vocab;
    int32_t bos; /* -1: windows start without BOS */
    float *logits;
    ppl_sums sums;
} ppl_run;

/* Evaluates window tokens[start, end) and scores tokens from `first` on;
 * returns 1, or 0 when Ctrl-C cut it short: then none of its tokens
 * count, so the result covers whole windows only. */
static int score_window(ppl_run *p, const int32_t *tokens, int start, int end, int first)
{
    ppl_sums sums = {0};
    char err[BN_ERR_LEN];
    int32_t *win = malloc((size_t)(end - start + 1) * sizeof *win);
    if (!win) log_out_of_memory();
    int n = 0;
    if (p->bos >= 0) win[n++] = p->bos;
    memcpy(win + n, tokens + start, (size_t)(end - start) * sizeof *win);
    n += end - start;
    /* win[j] is tokens[start + j - off]; the logits after win[j] predict win[j + 1] */
    int off = n - (end - start);
    bn_session_reset(p->s);
    for (int c = 0; c < n && !cli_interrupted; c += PPL_CHUNK) {
        int len = n - c < PPL_CHUNK ? n - c : PPL_CHUNK;
        const int rc = bn_session_eval_all(p->s, win + c, len, p->logits, err);
        if (rc < 0) cli_die(EXIT_MODEL, "%s", err);
        if (rc == BN_ABORTED) break; /* Ctrl-C: cli_interrupted is set */
        for (int j = c; j < c + len && j + 1 < n; j++) {
            int k = start + j + 1 - off; /* the text token win[j + 1] */
            if (k < first) continue;
            double nll = token_nll(p->logits + (size_t)(j - c) * p->n_vocab, p->n_vocab, tokens[k]);
            sums.nll += nll;
            sums.nll2 += nll * nll;
            sums.count++;
        }
    }
    free(win);
    if (cli_interrupted) return 0;
    p->sums.nll += sums.nll;
    p->sums.nll2 += sums.nll2;
    p->sums.count += sums.count;
    return 1;
}

static double ppl_value(const ppl_sums *s) { return exp(s->nll / (double)s->count); }

/* llama-perplexity's estimate: stderr of the mean NLL times the PPL. */
static double ppl_error(const ppl_sums *s)
{
    if (s->count < 2) return 0;
    double mean = s->nll / (double)s->count;
    double var = s->nll2 / (double)s->count - mean * mean;
    return ppl_value(s) * sqrt(var > 0 ? var / (double)(s->count - 1) : 0);
}

/* The final estimate, as text or as --json. */
static void report(const run_opts *o, const ppl_run *p, int n_tokens, int window, int stride,
                   int n_windows)
{
    if (o->json) {
        printf("{\"perplexity\": %.6f, \"error\": %.6f, \"n_tokens\": %d, \"n_scored\": %ld, "
               "\"window\": %d, \"stride\": %d, \"n_windows\": %d, \"complete\": %s}\n",
               ppl_value(&p->sums), ppl_error(&p->sums), n_tokens, p->sums.count, window, stride,
               n_windows, cli_interrupted ? "false" : "true");
    } else {
        printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl_value(&p->sums), ppl_error(&p->sums));
    }
    char tokens[32], windows[32];
    if (!o->quiet)
        log_note("perplexity of %s: %ld of %s scored in %s of %d (stride %d)%s", o->ppl_file,
                 p->sums.count, plural(n_tokens, "token", tokens, sizeof tokens),
                 plural(n_windows, "window", windows, sizeof windows), window, stride,
                 cli_interrupted ? ", interrupted" : "");
}

/* --perplexity: tokenizes the file and scores it window by window. */
int run_perplexity(const run_opts *o)
{
    if (o->prompt || o->prompt_file)
        cli_die(EXIT_USAGE, "--perplexity reads its text from its file, not from -p/-f");
    size_t len;
    char *text = cli_read_file(o->ppl_file, "--perplexity", &len);
    bn_model *m = cli_load_model(o);
    const bn_tokenizer *tok = bn_model_tokenizer(m);
    int n_ctx = o->n_ctx ? o->n_ctx : OPT_DEFAULT_PPL_CTX;
    if (n_ctx > bn_model_n_ctx_train(m)) n_ctx = bn_model_n_ctx_train(m);
    ppl_run p = {.n_vocab = bn_model_n_vocab(m), .bos = -1};
    p.s = cli_new_session(o, m, NULL, n_ctx);
    note_kv_cache(o, p.s, 1);
    int n;
    int32_t *ids = cli_tokenize(tok, text, len, tokenize_flags(o), o->ppl_file, &n);
    int32_t *tokens = ids;
    if (n > 0 && ids[0] == bn_token_bos(tok) && !o->no_bos) {
        p.bos = ids[0];
        tokens++, n--;
    }
    /* each window holds BOS (if any) plus `window` text tokens */
    int window = n_ctx - (p.bos >= 0);
    int stride = window / 2;
    if (stride < 1)
        cli_die(EXIT_USAGE, "--ctx-size: %d is too small for perplexity windows", n_ctx);
    if (n < 2) cli_die(EXIT_MODEL, "%s: the text has %d tokens, too few to score", o->ppl_file, n);
    p.logits = malloc((size_t)PPL_CHUNK * (size_t)p.n_vocab * sizeof *p.logits);
    if (!p.logits) log_out_of_memory();
    cli_catch_sigint();
    /* the first window, then one per stride until the text is scored */
    const int total = n <= window ? 1 : 1 + (n - window + stride - 1) / stride;
    int n_windows = 0;
    for (int start = 0, scored_to = 0; scored_to < n && !cli_interrupted; start += stride) {
        int end = start + window < n ? start + window : n;
        if (!score_window(&p, tokens, start, end, scored_to)) break;
        scored_to = end;
        n_windows++;
        if (!o->quiet && !o->json)
            fprintf(stderr, "[%d/%d]%.4f%s", n_windows, total, ppl_value(&p.sums),
                    end < n ? "," : "\n");
    }
    if (p.sums.count == 0) cli_die(EXIT_INTERRUPTED, "interrupted before any token was scored");
    report(o, &p, n, window, stride, n_windows);
    note_peak_memory(o);
    free(p.logits);
    free(ids);
    bn_session_free(p.s);
    free(text);
    bn_model_free(m);
    return cli_interrupted ? EXIT_INTERRUPTED : 0;
}
