/*
 * main.c - the bitnet-run command line: flag parsing and the modes
 * (generate, --info, --tokenize, --detokenize). It uses only the public
 * API of include/bitnet.h. Flags follow llama-cli's names where they exist.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitnet.h"
#include "cli.h"

#define MAX_THREADS 1024
#define MAX_CTX (1 << 24)
#define PIECE_CAP 256

typedef enum { MODE_GENERATE, MODE_INFO, MODE_TOKENIZE, MODE_DETOKENIZE } cli_mode;

typedef struct {
    cli_mode mode;
    const char *model;
    const char *prompt;      /* -p */
    const char *prompt_file; /* -f */
    const char *kernel;
    const char *pre;
    int n_predict;
    int n_ctx;
    int n_threads;
    int no_bos;
    int special;
    int json;
    int quiet;
    int verbose;
    int seed_given;
    bn_sampler_params sp;
} cli_opts;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bitnet-run: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

static void print_help(void)
{
    bn_sampler_params d = bn_sampler_default_params();
    printf("usage: bitnet-run -m MODEL.gguf [-p PROMPT | -f FILE] [options]\n"
           "\n"
           "Runs a BitNet b1.58 GGUF model on the CPU and streams the continuation.\n"
           "\n"
           "model and prompt:\n"
           "  -m, --model FILE        GGUF model file (required)\n"
           "  -p, --prompt TEXT       prompt text; '-' reads it from stdin (default: empty)\n"
           "  -f, --file FILE         read the prompt from FILE; '-' is stdin\n"
           "      --no-bos            do not prepend the BOS token\n"
           "      --special           parse special-token text such as <|eot_id|> in the\n"
           "                          prompt (default)\n"
           "      --no-special        treat special-token text as plain text\n"
           "      --pre NAME          pre-tokenizer override: llama3, gpt2 or default\n"
           "\n"
           "generation:\n"
           "  -n, --n-predict N       tokens to generate, -1 = until end of text or a full\n"
           "                          context (default: -1)\n"
           "  -c, --ctx-size N        context size in tokens, 0 = the model's (default: 0)\n"
           "  -t, --threads N         worker threads (default: the cores available)\n"
           "      --kernel NAME       auto, scalar, avx2, avx512 or neon (default: auto)\n"
           "\n"
           "sampling:\n"
           "      --temp T            temperature, 0 = greedy (default: %.2f)\n"
           "      --top-k N           keep the N most likely tokens, 0 = off (default: %d)\n"
           "      --top-p P           nucleus sampling, 1 = off (default: %.2f)\n"
           "      --min-p P           drop tokens below P x the top probability, 0 = off\n"
           "                          (default: %.2f)\n"
           "      --repeat-penalty F  penalize repeated tokens, 1 = off (default: %.2f)\n"
           "      --repeat-last-n N   tokens the penalty looks back on, -1 = whole context\n"
           "                          (default: %d)\n"
           "  -s, --seed N            random seed, -1 = from the clock (default: -1)\n"
           "\n"
           "output:\n"
           "      --json              print one JSON object (text, ids, stop reason, timings)\n"
           "  -q, --quiet             print only the generated text (no prompt echo, no stats)\n"
           "  -v, --verbose           print load details on stderr\n"
           "\n"
           "other modes:\n"
           "      --info              describe the model and the kernel, then exit\n"
           "      --tokenize          print the prompt's token ids as a JSON array\n"
           "      --detokenize        print the text of the ids given with -p (\"1 2 3\" or\n"
           "                          \"[1, 2, 3]\")\n"
           "  -h, --help              show this help\n"
           "      --version           show the version\n"
           "\n"
           "exit status: 0 success, 1 usage error, 2 model or file error, 130 interrupted\n",
           d.temp, d.top_k, d.top_p, d.min_p, d.repeat_penalty, d.repeat_last_n);
}

/* ---------------------------------------------------------- flag parsing */

static long parse_int(const char *flag, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        die(EXIT_USAGE, "%s expects an integer from %ld to %ld, got '%s'", flag, lo, hi, v);
    return x;
}

static float parse_float(const char *flag, const char *v, float lo, float hi)
{
    char *end;
    errno = 0;
    float x = strtof(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        die(EXIT_USAGE, "%s expects a number from %g to %g, got '%s'", flag, lo, hi, v);
    return x;
}

static uint64_t parse_seed(const char *v, int *given)
{
    if (!strcmp(v, "-1")) return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || *v == '-')
        die(EXIT_USAGE, "--seed expects a non-negative integer or -1, got '%s'", v);
    *given = 1;
    return (uint64_t)x;
}

static int is_flag(const char *arg, const char *s, const char *l)
{
    return (s && !strcmp(arg, s)) || !strcmp(arg, l);
}

static void parse_args(int argc, char **argv, cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->special = 1;
    o->kernel = "auto";
    o->sp = bn_sampler_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define VALUE() (i + 1 < argc ? argv[++i] : (die(EXIT_USAGE, "%s needs a value", a), ""))
        if (is_flag(a, "-h", "--help")) {
            print_help();
            exit(0);
        } else if (!strcmp(a, "--version")) {
            printf("bitnet-run %s\n", BN_VERSION);
            exit(0);
        } else if (is_flag(a, "-m", "--model")) o->model = VALUE();
        else if (is_flag(a, "-p", "--prompt")) o->prompt = VALUE();
        else if (is_flag(a, "-f", "--file")) o->prompt_file = VALUE();
        else if (is_flag(a, "-n", "--n-predict")) o->n_predict = (int)parse_int(a, VALUE(), -1, MAX_CTX);
        else if (is_flag(a, "-c", "--ctx-size")) o->n_ctx = (int)parse_int(a, VALUE(), 0, MAX_CTX);
        else if (is_flag(a, "-t", "--threads")) o->n_threads = (int)parse_int(a, VALUE(), 1, MAX_THREADS);
        else if (!strcmp(a, "--temp")) o->sp.temp = parse_float(a, VALUE(), 0.0f, 1e6f);
        else if (!strcmp(a, "--top-k")) o->sp.top_k = (int)parse_int(a, VALUE(), 0, MAX_CTX);
        else if (!strcmp(a, "--top-p")) o->sp.top_p = parse_float(a, VALUE(), 0.0f, 1.0f);
        else if (!strcmp(a, "--min-p")) o->sp.min_p = parse_float(a, VALUE(), 0.0f, 1.0f);
        else if (!strcmp(a, "--repeat-penalty")) o->sp.repeat_penalty = parse_float(a, VALUE(), 1e-3f, 1e3f);
        else if (!strcmp(a, "--repeat-last-n")) o->sp.repeat_last_n = (int)parse_int(a, VALUE(), -1, MAX_CTX);
        else if (is_flag(a, "-s", "--seed")) o->sp.seed = parse_seed(VALUE(), &o->seed_given);
        else if (!strcmp(a, "--no-bos")) o->no_bos = 1;
        else if (!strcmp(a, "--special")) o->special = 1;
        else if (!strcmp(a, "--no-special")) o->special = 0;
        else if (!strcmp(a, "--pre")) o->pre = VALUE();
        else if (!strcmp(a, "--kernel")) o->kernel = VALUE();
        else if (!strcmp(a, "--json")) o->json = 1;
        else if (is_flag(a, "-q", "--quiet")) o->quiet = 1;
        else if (is_flag(a, "-v", "--verbose")) o->verbose = 1;
        else if (!strcmp(a, "--info")) o->mode = MODE_INFO;
        else if (!strcmp(a, "--tokenize")) o->mode = MODE_TOKENIZE;
        else if (!strcmp(a, "--detokenize")) o->mode = MODE_DETOKENIZE;
        else die(EXIT_USAGE, "unknown argument '%s' (see --help)", a);
#undef VALUE
    }
    if (!o->model) die(EXIT_USAGE, "no model given (use -m FILE; see --help)");
    if (o->prompt && o->prompt_file) die(EXIT_USAGE, "give the prompt with -p or -f, not both");
}

/* ------------------------------------------------------------- prompt I/O */

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

/* The prompt text from -p, -f or stdin; never NULL. */
static char *load_prompt(const cli_opts *o, size_t *len)
{
    const char *src = o->prompt_file ? o->prompt_file : o->prompt;
    if (o->prompt && strcmp(o->prompt, "-")) {
        *len = strlen(o->prompt);
        return strdup(o->prompt);
    }
    if (!src) {
        *len = 0;
        return strdup("");
    }
    if (!strcmp(src, "-")) return read_stream(stdin, len);
    FILE *f = fopen(src, "rb");
    if (!f) die(EXIT_MODEL, "%s: cannot open: %s", src, strerror(errno));
    char *text = read_stream(f, len);
    fclose(f);
    return text;
}

/* -------------------------------------------------------------- streaming */

/* Prints token pieces as they come, holding back an incomplete UTF-8 tail. */
typedef struct {
    FILE *out; /* NULL: collect only */
    cli_buf pending;
    cli_buf all;
} text_stream;

static void stream_token(text_stream *ts, const bn_tokenizer *tok, int32_t id)
{
    char piece[PIECE_CAP];
    int n = bn_token_to_piece(tok, id, 0, piece, sizeof piece);
    if (n < 0) return;
    if (n > (int)sizeof piece) n = (int)sizeof piece; /* no vocabulary piece is this long */
    buf_append(&ts->pending, piece, (size_t)n);
    buf_append(&ts->all, piece, (size_t)n);
    size_t ready = bn_utf8_complete_prefix(ts->pending.data, ts->pending.len);
    if (ts->out && ready) {
        fwrite(ts->pending.data, 1, ready, ts->out);
        fflush(ts->out);
    }
    memmove(ts->pending.data, ts->pending.data + ready, ts->pending.len - ready);
    ts->pending.len -= ready;
}

static void stream_finish(text_stream *ts)
{
    if (ts->out && ts->pending.len) fwrite(ts->pending.data, 1, ts->pending.len, ts->out);
    if (ts->out) fflush(ts->out);
    buf_free(&ts->pending);
}

/* ------------------------------------------------------------------ modes */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int tokenize_flags(const cli_opts *o)
{
    return (o->no_bos ? 0 : BN_TOK_ADD_BOS) | (o->special ? BN_TOK_PARSE_SPECIAL : 0);
}

static int32_t *tokenize_prompt(const cli_opts *o, const bn_tokenizer *tok, const char *text,
                                size_t len, int *n)
{
    char err[BN_ERR_LEN];
    int32_t *ids = NULL;
    *n = bn_tokenize(tok, text, len, tokenize_flags(o), &ids, err);
    if (*n < 0) die(EXIT_USAGE, "prompt: %s", err);
    return ids;
}

static bn_tokenizer *load_tokenizer(const cli_opts *o)
{
    char err[BN_ERR_LEN];
    bn_tokenizer *tok = bn_tokenizer_load(o->model, err);
    if (!tok) die(EXIT_MODEL, "%s: %s", o->model, err);
    if (o->pre && bn_tokenizer_set_pre(tok, o->pre))
        die(EXIT_USAGE, "--pre: unknown pre-tokenizer '%s' (expected llama3, gpt2 or default)", o->pre);
    return tok;
}

static int run_tokenize(const cli_opts *o)
{
    bn_tokenizer *tok = load_tokenizer(o);
    size_t len;
    char *text = load_prompt(o, &len);
    int n;
    int32_t *ids = tokenize_prompt(o, tok, text, len, &n);
    json_int_array(stdout, ids, n);
    putchar('\n');
    free(ids);
    free(text);
    bn_tokenizer_free(tok);
    return 0;
}

static int run_detokenize(const cli_opts *o)
{
    bn_tokenizer *tok = load_tokenizer(o);
    size_t len;
    char *text = load_prompt(o, &len);
    text_stream ts = {.out = stdout};
    for (char *p = text; *p;) {
        if (strchr("[], \t\r\n", *p)) {
            p++;
            continue;
        }
        char *end;
        errno = 0;
        long id = strtol(p, &end, 10);
        if (end == p || errno || id < 0 || id >= bn_tokenizer_n_vocab(tok))
            die(EXIT_USAGE, "--detokenize: '%.20s' is not a token id of this vocabulary", p);
        char piece[PIECE_CAP];
        int n = bn_token_to_piece(tok, (int32_t)id, o->special, piece, sizeof piece);
        buf_append(&ts.all, piece, (size_t)(n < PIECE_CAP ? n : PIECE_CAP));
        p = end;
    }
    fwrite(ts.all.data ? ts.all.data : "", 1, ts.all.len, stdout);
    putchar('\n');
    buf_free(&ts.all);
    free(text);
    bn_tokenizer_free(tok);
    return 0;
}

static bn_model *load_model(const cli_opts *o)
{
    char err[BN_ERR_LEN];
    bn_model_params mp = bn_model_default_params();
    mp.n_threads = o->n_threads;
    mp.kernel = o->kernel;
    mp.verbose = o->verbose;
    bn_model *m = bn_model_load(o->model, &mp, err);
    if (!m) die(strstr(err, "kernel") == err ? EXIT_USAGE : EXIT_MODEL, "%s: %s", o->model, err);
    if (o->pre && bn_tokenizer_set_pre((bn_tokenizer *)bn_model_tokenizer(m), o->pre))
        die(EXIT_USAGE, "--pre: unknown pre-tokenizer '%s' (expected llama3, gpt2 or default)", o->pre);
    return m;
}

static void print_line(const char *line, void *ctx)
{
    (void)ctx;
    printf("%s\n", line);
}

static int run_info(const cli_opts *o)
{
    bn_model *m = load_model(o);
    bn_model_describe(m, print_line, NULL);
    bn_model_free(m);
    return 0;
}

typedef struct {
    int32_t *ids;
    int n, cap;
} id_list;

static void id_push(id_list *l, int32_t id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        int32_t *p = realloc(l->ids, (size_t)l->cap * sizeof *p);
        if (!p) die(EXIT_MODEL, "out of memory");
        l->ids = p;
    }
    l->ids[l->n++] = id;
}

typedef struct {
    const char *stop_reason;
    double prompt_ms, gen_ms;
    id_list out;
} gen_result;

static void print_json(const char *prompt, size_t prompt_len, const int32_t *pids, int np,
                       const text_stream *ts, const gen_result *r)
{
    printf("{\"prompt\": ");
    json_string(stdout, prompt, prompt_len);
    printf(", \"text\": ");
    json_string(stdout, ts->all.data ? ts->all.data : "", ts->all.len);
    printf(", \"prompt_ids\": ");
    json_int_array(stdout, pids, np);
    printf(", \"output_ids\": ");
    json_int_array(stdout, r->out.ids, r->out.n);
    printf(", \"n_prompt\": %d, \"n_output\": %d, \"stop_reason\": \"%s\"", np, r->out.n,
           r->stop_reason);
    printf(", \"timings\": {\"prompt_ms\": %.3f, \"generation_ms\": %.3f, "
           "\"prompt_tokens_per_s\": %.3f, \"generation_tokens_per_s\": %.3f}}\n",
           r->prompt_ms, r->gen_ms, r->prompt_ms > 0 ? np * 1e3 / r->prompt_ms : 0.0,
           r->gen_ms > 0 ? r->out.n * 1e3 / r->gen_ms : 0.0);
}

/* Evaluates the prompt, then samples until a stop condition. */
static void generate(const cli_opts *o, bn_session *s, bn_sampler *smp, const bn_tokenizer *tok,
                     const int32_t *pids, int np, text_stream *ts, gen_result *r)
{
    char err[BN_ERR_LEN];
    const float *logits;
    double t0 = now_ms();
    if (bn_session_eval(s, pids, np, &logits, err)) die(EXIT_MODEL, "%s", err);
    for (int i = 0; i < np; i++) bn_sampler_accept(smp, pids[i]);
    double t1 = now_ms();
    r->prompt_ms = t1 - t0;
    r->stop_reason = "length";
    while (o->n_predict < 0 || r->out.n < o->n_predict) {
        if (interrupted) {
            r->stop_reason = "interrupted";
            break;
        }
        int32_t id = bn_sampler_sample(smp, logits);
        bn_sampler_accept(smp, id);
        id_push(&r->out, id);
        if (bn_token_is_eog(tok, id)) {
            r->stop_reason = id == bn_token_eos(tok) ? "eos" : "eot";
            break;
        }
        stream_token(ts, tok, id);
        if (o->n_predict >= 0 && r->out.n >= o->n_predict) break;
        if (bn_session_n_past(s) >= bn_session_n_ctx(s)) {
            r->stop_reason = "context";
            break;
        }
        if (bn_session_eval(s, &id, 1, &logits, err)) die(EXIT_MODEL, "%s", err);
    }
    r->gen_ms = now_ms() - t1;
    stream_finish(ts);
}

static int run_generate(const cli_opts *o)
{
    char err[BN_ERR_LEN];
    size_t len;
    char *text = load_prompt(o, &len);
    bn_model *m = load_model(o);
    const bn_tokenizer *tok = bn_model_tokenizer(m);
    int np;
    int32_t *pids = tokenize_prompt(o, tok, text, len, &np);
    if (np == 0) die(EXIT_USAGE, "the prompt is empty and --no-bos leaves no token to start from");
    bn_session *s = bn_session_new(m, o->n_ctx, err);
    if (!s) die(EXIT_USAGE, "--ctx-size: %s", err);
    if (np >= bn_session_n_ctx(s))
        die(EXIT_USAGE, "the prompt has %d tokens but the context holds %d (raise -c)", np,
            bn_session_n_ctx(s));
    bn_sampler_params sp = o->sp;
    if (!o->seed_given) sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    if (bn_sampler_params_check(&sp, bn_model_n_vocab(m), err)) die(EXIT_USAGE, "%s", err);
    bn_sampler *smp = bn_sampler_new(&sp, bn_model_n_vocab(m));
    if (!smp) die(EXIT_MODEL, "out of memory");

    text_stream ts = {.out = o->json ? NULL : stdout};
    if (!o->json && !o->quiet) {
        fwrite(text, 1, len, stdout);
        fflush(stdout);
    }
    signal(SIGINT, on_sigint);
    gen_result r = {0};
    generate(o, s, smp, tok, pids, np, &ts, &r);
    if (o->json) {
        print_json(text, len, pids, np, &ts, &r);
    } else if (!o->quiet) {
        putchar('\n');
        fprintf(stderr,
                "bitnet-run: prompt %d tokens in %.1f ms (%.1f tok/s), generated %d tokens in "
                "%.1f ms (%.1f tok/s), stop: %s, kernel %s, %d threads\n",
                np, r.prompt_ms, r.prompt_ms > 0 ? np * 1e3 / r.prompt_ms : 0.0, r.out.n, r.gen_ms,
                r.gen_ms > 0 ? r.out.n * 1e3 / r.gen_ms : 0.0, r.stop_reason,
                bn_model_kernel_name(m), bn_model_n_threads(m));
    }
    int code = interrupted ? EXIT_INTERRUPTED : 0;
    free(r.out.ids);
    buf_free(&ts.all);
    bn_sampler_free(smp);
    bn_session_free(s);
    free(pids);
    free(text);
    bn_model_free(m);
    return code;
}

int main(int argc, char **argv)
{
    cli_opts o;
    parse_args(argc, argv, &o);
    switch (o.mode) {
    case MODE_INFO: return run_info(&o);
    case MODE_TOKENIZE: return run_tokenize(&o);
    case MODE_DETOKENIZE: return run_detokenize(&o);
    default: return run_generate(&o);
    }
}
