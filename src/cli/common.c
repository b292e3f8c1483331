/*
 * common.c - what every mode of the command-line tool shares: error
 * messages and exit codes, Ctrl-C, reading prompt files, loading the model
 * or its vocabulary, tokenizing, building samplers, growable arrays.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bitnet-perf.h"
#include "cli.h"

volatile sig_atomic_t cli_interrupted;

/* Writes prefix and the formatted message as one line on stderr. Control
 * bytes (a newline or terminal escape inside a file's metadata or a JSON
 * key) are shown as \xNN, so a message stays one harmless line. */
static void message_line(const char *prefix, const char *fmt, va_list ap)
{
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    fputs(prefix, stderr);
    for (const unsigned char *p = (const unsigned char *)(msg ? msg : fmt); *p; p++) {
        if (*p < 0x20 || *p == 0x7f) fprintf(stderr, "\\x%02x", *p);
        else fputc(*p, stderr);
    }
    fputc('\n', stderr);
    free(msg);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message_line("bitnet-run: error: ", fmt, ap);
    va_end(ap);
}

void cli_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message_line("bitnet-run: error: ", fmt, ap);
    va_end(ap);
    exit(code);
}

void cli_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message_line("bitnet-run: ", fmt, ap);
    va_end(ap);
}

/* The first Ctrl-C asks the run to stop where it is; a second one before
 * the first was handled exits at once, as llama-cli does. */
static void on_sigint(int sig)
{
    (void)sig;
    if (cli_interrupted) {
        cli_terminal_restore(); /* _exit skips atexit */
        _exit(EXIT_INTERRUPTED);
    }
    cli_interrupted = 1;
}

void cli_catch_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a Ctrl-C ends a blocking read of the chat prompt */
    sigaction(SIGINT, &sa, NULL);
}

/* ------------------------------------------------------------ output */

/* A closed pipe ends the run as it always did (SIGPIPE, even where the
 * parent ignored it); any other failed write is an error. */
static void die_writing(int err)
{
    if (err == EPIPE) {
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }
    cli_error("writing output: %s", strerror(err));
    _exit(EXIT_MODEL);
}

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

const char *cli_plural(long count, const char *noun, char *buf, size_t cap)
{
    snprintf(buf, cap, "%ld %s%s", count, noun, count == 1 ? "" : "s");
    return buf;
}

const char *cli_stop_words(const char *stop_reason)
{
    return strcmp(stop_reason, "stop") ? stop_reason : "stop string";
}

double cli_now_ms(void) { return bn_seconds() * 1e3; }

double cli_per_second(double n, double ms) { return ms > 0 ? n * 1e3 / ms : 0.0; }

uint64_t cli_clock_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------- input */

static char *read_stream(FILE *f, size_t *len)
{
    cli_buf b = {0};
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&b, chunk, n);
    buf_append(&b, "", 0);
    *len = b.len;
    return b.data;
}

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

char *cli_load_prompt(const cli_opts *o, size_t *len)
{
    if (o->prompt_file) return cli_read_file(o->prompt_file, "-f", len);
    if (o->prompt && !strcmp(o->prompt, "-")) return cli_read_file("-", "-p", len);
    const char *text = o->prompt ? o->prompt : "";
    *len = strlen(text);
    char *copy = strdup(text);
    if (!copy) cli_die(EXIT_MODEL, "out of memory");
    return copy;
}

/* ------------------------------------------------- model and vocabulary */

static void apply_pre(const cli_opts *o, bn_tokenizer *tok)
{
    if (o->pre && bn_tokenizer_set_pre(tok, o->pre))
        cli_die(EXIT_USAGE, "--pre: unknown pre-tokenizer '%s' (expected llama3, gpt2 or default)",
                o->pre);
}

bn_tokenizer *cli_load_tokenizer(const cli_opts *o)
{
    char err[BN_ERR_LEN];
    bn_tokenizer *tok = bn_tokenizer_load(o->model, err);
    if (!tok) cli_die(EXIT_MODEL, "%s", err); /* the message starts with the file's name */
    apply_pre(o, tok);
    return tok;
}

static int starts_with(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

bn_model *cli_load_model(const cli_opts *o)
{
    char err[BN_ERR_LEN];
    bn_model_params mp = bn_model_default_params();
    mp.n_threads = o->n_threads;
    mp.n_batch = o->n_batch;
    mp.kernel = o->kernel;
    mp.verbose = o->verbose;
    mp.lm_head = o->lm_head;
    mp.no_mmap = o->no_mmap;
    mp.use_mlock = o->mlock;
    mp.vocab_only = o->mode == MODE_INFO; /* describing needs no weights */
    mp.weights = o->weights;
    bn_model *m = bn_model_load(o->model, &mp, err);
    if (!m) {
        /* the load errors that flags cause (messages of kernels.c, model.c) */
        if (starts_with(err, "kernel '") || starts_with(err, "unknown kernel '"))
            cli_die(EXIT_USAGE, "--kernel: %s", err);
        if (starts_with(err, "unknown lm-head")) cli_die(EXIT_USAGE, "--lm-head: %s", err);
        if (starts_with(err, "unknown weights")) cli_die(EXIT_USAGE, "--weights: %s", err);
        cli_die(EXIT_MODEL, "%s: %s", o->model, err);
    }
    apply_pre(o, (bn_tokenizer *)bn_model_tokenizer(m));
    return m;
}

/* The engine asks between layers whether to stop: a Ctrl-C ends a long
 * prompt within one layer's time. */
static int interrupt_requested(void *data)
{
    (void)data;
    return cli_interrupted;
}

bn_context *cli_new_context(bn_model *m)
{
    char err[BN_ERR_LEN];
    bn_context *ctx = bn_context_new(m, NULL, err);
    if (!ctx) cli_die(EXIT_MODEL, "%s", err);
    bn_context_set_abort(ctx, interrupt_requested, NULL);
    return ctx;
}

bn_session *cli_new_session(const cli_opts *o, bn_model *m, bn_context *ctx, int n_ctx)
{
    char err[BN_ERR_LEN];
    const bn_session_params p = {
        .n_ctx = n_ctx, .type_k = o->cache_k, .type_v = o->cache_v, .context = ctx};
    bn_session *s = bn_session_new(m, &p, err);
    if (!s && o->n_ctx) cli_die(EXIT_USAGE, "--ctx-size: %s", err);
    if (!s) cli_die(EXIT_MODEL, "%s: %s (the model's context; -c sets a smaller one)", o->model, err);
    if (!ctx) bn_context_set_abort(bn_session_context(s), interrupt_requested, NULL);
    return s;
}

const char *cli_context_hint(const bn_model *m, int n_ctx, char *buf, size_t cap)
{
    const int most = bn_model_n_ctx_train(m);
    if (n_ctx < most) snprintf(buf, cap, "raise -c, up to %d", most);
    else snprintf(buf, cap, "the model's whole context");
    return buf;
}

bn_cache_type cli_parse_cache_type(const char *flag, const char *v)
{
    const int type = bn_cache_type_from_name(v);
    if (type < 0) cli_die(EXIT_USAGE, "%s expects f32 or f16, got '%s'", flag, v);
    return (bn_cache_type)type;
}

#define BYTES_PER_MIB (1024.0 * 1024.0)

void cli_note_kv_cache(const cli_opts *o, const bn_session *s, int n_sessions)
{
    if (!o->verbose) return;
    cli_note("KV cache: %.2f MiB for %d sequence%s of %d tokens (keys %s, values %s)",
             (double)bn_session_kv_bytes(s) * n_sessions / BYTES_PER_MIB, n_sessions,
             n_sessions == 1 ? "" : "s", bn_session_n_ctx(s), bn_cache_type_name(o->cache_k),
             bn_cache_type_name(o->cache_v));
}

void cli_note_seed(const cli_opts *o, uint64_t seed)
{
    if (o->verbose) cli_note("seed: %llu (--seed %llu repeats this run)", (unsigned long long)seed,
                             (unsigned long long)seed);
}

void cli_note_peak_memory(const cli_opts *o)
{
    const double peak = bn_peak_resident_mib();
    if (o->verbose && peak >= 0.0) cli_note("peak resident memory: %.1f MiB", peak);
}

int cli_tokenize_flags(const cli_opts *o)
{
    return (o->no_bos ? 0 : BN_TOK_ADD_BOS) | (o->special ? BN_TOK_PARSE_SPECIAL : 0);
}

int32_t *cli_tokenize(const bn_tokenizer *tok, const char *text, size_t len, int flags,
                      const char *what, int *n)
{
    char err[BN_ERR_LEN];
    int32_t *ids = NULL;
    *n = bn_tokenize(tok, text, len, flags, &ids, err);
    if (*n < 0) cli_die(EXIT_USAGE, "%s: %s", what, err);
    return ids;
}

bn_sampler *cli_new_sampler(const bn_sampler_params *sp, int n_vocab)
{
    char err[BN_ERR_LEN];
    if (bn_sampler_params_check(sp, n_vocab, err)) cli_die(EXIT_USAGE, "sampling: %s", err);
    bn_sampler *s = bn_sampler_new(sp, n_vocab);
    if (!s) cli_die(EXIT_MODEL, "out of memory");
    return s;
}

/* ------------------------------------------------------ growable arrays */

void buf_append(cli_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) cli_die(EXIT_MODEL, "out of memory");
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void buf_free(cli_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void ids_push(cli_ids *l, int32_t id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        int32_t *p = realloc(l->ids, (size_t)l->cap * sizeof *p);
        if (!p) cli_die(EXIT_MODEL, "out of memory");
        l->ids = p;
    }
    l->ids[l->n++] = id;
}
