/*
 * embedding.c - --embedding (llama-embedding's mode): every non-empty line
 * of -p / -f (or of --batch FILE) is a text; the texts are tokenized with
 * the BOS and EOS the vocabulary asks for, evaluated together in shared
 * passes, pooled and normalized (bn_embed), and printed in the format of
 * --embd-output-format.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "embedding.h"
#include "timing.h"

#define TEXTS_PER_CALL 64 /* texts in one bn_embed: bounds the sessions alive at once */
#define TEXT_DIGITS 6     /* the default format's %9.6f */

typedef struct {
    int32_t **ids;
    int *n_ids;
    int n, cap;
    long tokens;
} text_list;

/* Each non-empty line of text (a trailing '\r' dropped), tokenized. */
static void tokenize_lines(const run_opts *o, const bn_tokenizer *tok, char *text, text_list *t)
{
    const int flags = tokenize_flags(o) | BN_TOK_ADD_EOS;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        size_t len = next ? (size_t)(next - line) : strlen(line);
        if (next) next++;
        if (len && line[len - 1] == '\r') len--;
        if (!len) continue;
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 16;
            t->ids = realloc(t->ids, (size_t)t->cap * sizeof *t->ids);
            t->n_ids = realloc(t->n_ids, (size_t)t->cap * sizeof *t->n_ids);
            if (!t->ids || !t->n_ids) log_out_of_memory();
        }
        t->ids[t->n] = cli_tokenize(tok, line, len, flags, "text", &t->n_ids[t->n]);
        t->tokens += t->n_ids[t->n++];
    }
    if (!t->n)
        cli_die(EXIT_USAGE, "--embedding: no text to embed (one per line of -p, -f or --batch)");
}

/* Vectors (n of n_embd) in the chosen format, numbered from `first`. */
static void print_vectors(const run_opts *o, const float *v, int n, int n_embd, int first)
{
    for (int i = 0; i < n; i++) {
        const float *e = v + (size_t)i * n_embd;
        if (!o->embd_format) {
            printf("embedding %d:", first + i);
            for (int d = 0; d < n_embd; d++) printf(" %9.*f", TEXT_DIGITS, (double)e[d]);
            putchar('\n');
        } else if (!strcmp(o->embd_format, "raw")) {
            for (int d = 0; d < n_embd; d++) printf(d ? " %.9g" : "%.9g", (double)e[d]);
            putchar('\n');
        } else { /* array */
            fputs(first + i ? ", " : "[", stdout);
            embd_json_floats(stdout, e, n_embd);
        }
    }
}

int run_embedding(const run_opts *o)
{
    bn_model *m = cli_load_model(o);
    const bn_pooling pooling = embd_pooling_of(o, m);
    char *text = o->batch_file ? cli_read_file(o->batch_file, "--batch", NULL)
                               : cli_load_prompt(o, &(size_t){0});
    text_list t = {0};
    tokenize_lines(o, bn_model_tokenizer(m), text, &t);
    char err[BN_ERR_LEN];
    bn_context *ctx = bn_context_new(m, NULL, err);
    if (!ctx) cli_die(EXIT_MODEL, "%s", err);
    cli_stop_at_interrupt(ctx);
    cli_catch_sigint();
    const int n_embd = bn_model_n_embd(m);
    /* pooling none: a vector per token, else one per text */
    float *all = malloc((size_t)(pooling == BN_POOL_NONE ? t.tokens : t.n) * n_embd * sizeof *all);
    if (!all) log_out_of_memory();
    const double t0 = now_ms();
    int n_vec = 0;
    for (int i = 0; i < t.n; i += TEXTS_PER_CALL) {
        const int k = t.n - i < TEXTS_PER_CALL ? t.n - i : TEXTS_PER_CALL;
        const int rc = bn_embed(ctx, (const int32_t *const *)t.ids + i, t.n_ids + i, k, pooling,
                                o->embd_normalize, all + (size_t)n_vec * n_embd, err);
        if (rc == BN_ABORTED) return EXIT_INTERRUPTED;
        if (rc) cli_die(EXIT_MODEL, "%s", err);
        for (int j = i; j < i + k; j++) n_vec += pooling == BN_POOL_NONE ? t.n_ids[j] : 1;
    }
    const double ms = now_ms() - t0;
    if (o->embd_format && !strcmp(o->embd_format, "json")) {
        embd_write_openai(stdout, all, n_vec, n_embd, o->model, t.tokens, 0);
        putchar('\n');
    } else {
        print_vectors(o, all, n_vec, n_embd, 0);
        if (o->embd_format && !strcmp(o->embd_format, "array")) puts("]");
    }
    if (!o->quiet)
        log_note("embedded %d text%s (%ld tokens, pooling %s) in %.1f ms (%.1f texts/s)", t.n,
                 t.n == 1 ? "" : "s", t.tokens, embd_pooling_name(pooling), ms,
                 ms > 0 ? t.n * 1e3 / ms : 0.0);
    for (int i = 0; i < t.n; i++) free(t.ids[i]);
    free(t.ids);
    free(t.n_ids);
    free(all);
    free(text);
    bn_context_free(ctx);
    bn_model_free(m);
    return 0;
}
