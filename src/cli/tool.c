/*
 * tool.c - what every mode of the command-line tool shares: ending the
 * process on errors, Ctrl-C, checked output, reading prompt files, and the
 * setup calls of src/common that exit when they fail.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "grammar.h"
#include "json_schema.h"
#include "os.h"

volatile sig_atomic_t cli_interrupted;

/* log_error, then exits with code. */
void cli_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_verror(fmt, ap);
    va_end(ap);
    exit(code);
}

static void (*hard_exit_fn)(void);

void cli_on_hard_exit(void (*fn)(void)) { hard_exit_fn = fn; }

/* The first Ctrl-C asks the run to stop where it is; a second one before
 * the first was handled exits at once, as llama-cli does. */
static void on_sigint(void)
{
    if (cli_interrupted) {
        if (hard_exit_fn) hard_exit_fn(); /* _exit skips atexit */
        _exit(EXIT_INTERRUPTED);
    }
    cli_interrupted = 1;
}

/* Installs the Ctrl-C handler: the first stops the run, the second exits at
 * once (a Ctrl-C also ends a blocking read of the chat prompt: os.h). */
void cli_catch_sigint(void) { os_on_interrupt(on_sigint, 0); }

/* ------------------------------------------------------------ output */

/* A closed pipe ends the run as it always did (SIGPIPE, even where the
 * parent ignored it); any other failed write is an error. */
static void die_writing(int err)
{
    if (err == EPIPE) os_broken_pipe();
    log_error("writing output: %s", strerror(err));
    _exit(EXIT_MODEL);
}

/* Flushes f and ends the run when a write to it failed. */
void cli_check_output(FILE *f)
{
    /* A write that failed inside printf left its reason in errno, and a
     * later fflush may find nothing left to write: keep that reason. */
    const int earlier = errno;
    errno = 0;
    if (fflush(f) == 0 && !ferror(f)) {
        errno = earlier;
        return;
    }
    die_writing(errno ? errno : earlier ? earlier : EIO);
}

/* At exit, output still buffered is written and checked: a run whose
 * output was lost (a full disk) must not end with status 0. */
static void check_stdout_at_exit(void) { cli_check_output(stdout); }

void cli_check_output_at_exit(void) { atexit(check_stdout_at_exit); }

/* ------------------------------------------------------------- input */

/* Reads a stream to its end into a NUL-terminated buffer. */
static char *read_stream(FILE *f, size_t *len)
{
    text_buf b = {0};
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&b, chunk, n);
    buf_append(&b, "", 0);
    *len = b.len;
    return b.data;
}

/* A whole file ('-' is stdin), or exits naming the flag and the file. */
char *cli_read_file(const char *path, const char *what, size_t *len)
{
    if (!strcmp(path, "-")) {
        char *text = read_stream(stdin, len);
        if (ferror(stdin)) cli_die(EXIT_MODEL, "%s: cannot read stdin: %s", what, strerror(errno));
        return text;
    }
    /* A FIFO is read like a pipe (`-f <(cmd)` is one); what cannot be read
     * as text gets a message naming it rather than open()'s errno. */
    struct stat st;
    if (stat(path, &st) == 0 && (S_ISDIR(st.st_mode) || S_ISSOCK(st.st_mode)))
        cli_die(EXIT_MODEL, "%s: '%s' is a %s, not a file", what, path,
                S_ISDIR(st.st_mode) ? "directory" : "socket");
    FILE *f = fopen(path, "rb");
    if (!f) cli_die(EXIT_MODEL, "%s: cannot open '%s': %s", what, path, strerror(errno));
    char *text = read_stream(f, len);
    if (ferror(f)) cli_die(EXIT_MODEL, "%s: cannot read '%s': %s", what, path, strerror(errno));
    fclose(f);
    return text;
}

/* The prompt from -f, from stdin (-p -) or from -p. */
char *cli_load_prompt(const run_opts *o, size_t *len)
{
    if (o->prompt_file) return cli_read_file(o->prompt_file, "-f", len);
    if (o->prompt && !strcmp(o->prompt, "-")) return cli_read_file("-", "-p", len);
    const char *text = o->prompt ? o->prompt : "";
    *len = strlen(text);
    char *copy = strdup(text);
    if (!copy) log_out_of_memory();
    return copy;
}

/* ------------------------------------------------- model and vocabulary */

/* The model file's vocabulary alone, or exits. */
bn_tokenizer *cli_load_tokenizer(const run_opts *o)
{
    char err[BN_ERR_LEN];
    int code;
    bn_tokenizer *tok = setup_load_tokenizer(o, &code, err);
    if (!tok) cli_die(code, "%s", err);
    return tok;
}

/* The model of -m with the load flags, or exits. */
bn_model *cli_load_model(const run_opts *o)
{
    char err[BN_ERR_LEN];
    int code;
    bn_model *m = setup_load_model(o, &code, err);
    if (!m) cli_die(code, "%s", err);
    return m;
}

/* The engine asks between layers whether to stop: a Ctrl-C ends a long
 * prompt within one layer's time. */
static int interrupt_requested(void *data)
{
    (void)data;
    return cli_interrupted;
}

/* Makes a Ctrl-C stop ctx's evaluations between layers. */
void cli_stop_at_interrupt(bn_context *ctx)
{
    bn_context_set_abort(ctx, interrupt_requested, NULL);
}

/* A session of n_ctx tokens (0: from -c), or exits. */
bn_session *cli_new_session(const run_opts *o, bn_model *m, bn_context *ctx, int n_ctx)
{
    char err[BN_ERR_LEN];
    int code;
    bn_session *s = setup_new_session(o, m, ctx, n_ctx, &code, err);
    if (!s) cli_die(code, "%s", err);
    if (ctx) return s;
    /* a context of its own: -t threads, stopped by a Ctrl-C */
    if (bn_context_set_threads(bn_session_context(s), o->n_threads))
        cli_die(EXIT_MODEL, "cannot start %d threads", o->n_threads);
    cli_stop_at_interrupt(bn_session_context(s));
    return s;
}

/* Tokenizes text, or exits with a usage error naming what. */
int32_t *cli_tokenize(const bn_tokenizer *tok, const char *text, size_t len, int flags,
                      const char *what, int *n)
{
    char err[BN_ERR_LEN];
    int32_t *ids = NULL;
    *n = bn_tokenize(tok, text, len, flags, &ids, err);
    if (*n < 0) cli_die(EXIT_USAGE, "%s: %s", what, err);
    return ids;
}

struct grammar *cli_load_grammar(const run_opts *o)
{
    if (!o->grammar && !o->grammar_file && !o->json_schema) return NULL;
    if (!!o->grammar + !!o->grammar_file + !!o->json_schema > 1)
        cli_die(EXIT_USAGE, "--grammar, --grammar-file and --json-schema exclude each other");
    const char *flag = o->grammar_file ? "--grammar-file"
                       : o->grammar    ? "--grammar"
                                       : "--json-schema";
    char err[BN_ERR_LEN];
    size_t len;
    char *text = o->grammar_file ? cli_read_file(o->grammar_file, flag, &len)
                 : o->json_schema
                     ? json_schema_to_grammar(o->json_schema, strlen(o->json_schema), err)
                     : NULL;
    if (o->json_schema && !text) cli_die(EXIT_USAGE, "%s: %s", flag, err);
    const char *src = text ? text : o->grammar ? o->grammar : "";
    grammar *g = grammar_parse(src, text && !o->json_schema ? len : strlen(src), err);
    free(text);
    if (!g) cli_die(EXIT_USAGE, "%s: %s", flag, err);
    return g;
}

/* A sampler for the parameters, or exits with a usage error. */
bn_sampler *cli_new_sampler(const bn_sampler_params *sp, int n_vocab)
{
    char err[BN_ERR_LEN];
    bn_sampler *s = setup_new_sampler(sp, n_vocab, err);
    if (!s) cli_die(EXIT_USAGE, "%s", err);
    return s;
}
