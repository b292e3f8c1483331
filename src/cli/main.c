/*
 * main.c - the bitnet-run command line: --help, flag parsing, --info, and
 * the dispatch to the modes, one file each (generate, chat, batch,
 * perplexity, tokenize, bench). It uses only the public API of
 * include/bitnet.h. Flags follow llama-cli's names where they exist.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "chat_format.h"
#include "cli.h"
#include "lookup.h"

#define MAX_THREADS 1024
#define MAX_PARALLEL 256
#define MAX_PORT 65535
#define MAX_TIMEOUT 86400      /* a day, in seconds */
#define MAX_BODY (1L << 30)    /* bytes */
#define MAX_LOOKUP 64       /* draft tokens a pass may check */
#define MAX_PENALTY 100.0f  /* --presence-penalty, --frequency-penalty */

static void print_help(void)
{
    bn_sampler_params d = bn_sampler_default_params();
    printf("usage: bitnet-run -m MODEL.gguf [-p PROMPT | -f FILE] [options]\n"
           "       bitnet-run -m MODEL.gguf --chat [--system TEXT] [options]\n"
           "       bitnet-run -m MODEL.gguf --batch FILE [--parallel N] [options]\n"
           "       bitnet-run -m MODEL.gguf --perplexity FILE [-c N] [options]\n"
           "       bitnet-run -m MODEL.gguf --server [--host H] [--port N] [options]\n"
           "\n"
           "Runs a BitNet b1.58 GGUF model on the CPU and streams the continuation.\n"
           "\n"
           "model and prompt:\n"
           "  -m, --model FILE        GGUF model file (required)\n"
           "  -p, --prompt TEXT       prompt text; '-' reads it from stdin (default: empty)\n"
           "  -f, --file FILE         read the prompt from FILE; '-' is stdin\n"
           "  -e, --escape            process \\n, \\t, \\xNN... in -p, --system and --stop\n"
           "                          (default)\n"
           "      --no-escape         take them literally\n"
           "      --no-bos            do not prepend the BOS token\n"
           "      --special           parse special-token text such as <|eot_id|> in the\n"
           "                          prompt (default)\n"
           "      --no-special        treat special-token text as plain text\n"
           "      --pre NAME          pre-tokenizer override: llama3, gpt2 or default\n"
           "\n"
           "generation:\n"
           "  -n, --n-predict N       tokens to generate, -1 = until end of text or a full\n"
           "                          context (default: -1)\n"
           "  -c, --ctx-size N        context size in tokens, 0 = the model's (default: 0;\n"
           "                          per sequence in --batch; the window of --perplexity,\n"
           "                          where 0 means %d)\n"
           "  -t, --threads N         worker threads (default: the cores available)\n"
           "  -b, --batch-size N      prompt tokens run through the model at once\n"
           "                          (default: %d)\n"
           "  -ctk, --cache-type-k TYPE  element type of the cached keys: f32 or f16\n"
           "                          (f16 halves their memory; default: f32, the\n"
           "                          reference arithmetic)\n"
           "  -ctv, --cache-type-v TYPE  the same for the cached values (default: f32)\n"
           "      --ignore-eos        keep generating past end-of-text tokens (for\n"
           "                          benchmarks; stops at -n or a full context)\n"
           "      --stop STR          end the generation where the text STR appears; STR\n"
           "                          and what follows are not printed (repeatable)\n"
           "      --lookup N          prompt-lookup speculation: check up to N tokens that\n"
           "                          followed the same tokens earlier in the context in\n"
           "                          one pass; the same output, faster where the text\n"
           "                          repeats its context (default: 0 = off)\n"
           "      --lookup-ngram M    tokens that must match to draft (default: %d)\n"
           "      --kernel NAME       auto, scalar, avx2, avx512 or neon, or one table:\n"
           "                          avx512-vnni, avx512-bw, neon-dotprod, neon-plain,\n"
           "                          avx-vnni (chosen only by name: untested on\n"
           "                          hardware) (default: auto)\n"
           "      --lm-head TYPE      requantize the output layer at load: f16, q8_0 or\n"
           "                          q6_k (default: keep the file's type)\n"
           "      --mlock             lock the weights in RAM (fails when they cannot be:\n"
           "                          see ulimit -l)\n"
           "      --no-mmap           read the model file instead of mapping it\n"
           "  -ngl, -fa, -sm, -mg, -ts and the other GPU flags are accepted and ignored:\n"
           "                          this build runs on the CPU\n"
           "      --weights LAYOUT    ternary weights in memory: q2 (2 bits) or q16 (1.6\n"
           "                          bits: fewer bytes per token, more unpacking)\n"
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
           "      --presence-penalty F\n"
           "                          subtract F from tokens in that window, 0 = off\n"
           "      --frequency-penalty F\n"
           "                          subtract F per occurrence in that window, 0 = off\n"
           "      --typical P         locally typical sampling, 1 = off (default: 1.00)\n"
           "  -l, --logit-bias ID+B   add B to token ID's logit (ID-B subtracts, ID-inf bans);\n"
           "                          repeatable\n"
           "      --n-probs N         --json: each token's logprob and its N best alternatives\n"
           "      --grammar GBNF      constrain the output to a grammar (llama.cpp's GBNF,\n"
           "                          docs/GRAMMAR.md); not with --lookup drafts\n"
           "      --grammar-file FILE\n"
           "                          the grammar from a file\n"
           "  -j, --json-schema JSON  constrain the output to JSON of a JSON Schema\n"
           "  -s, --seed N            random seed, -1 = from the clock (default: -1)\n"
           "\n"
           "output:\n"
           "      --json              print one JSON object (text, ids, stop reason, timings;\n"
           "                          with --perplexity the score and its error)\n"
           "  -q, --quiet             print only the generated text (no prompt echo, no stats)\n"
           "  -v, --verbose           load time, memory, KV cache size, time to first\n"
           "                          token and peak memory on stderr\n"
           "      --verbose-prompt    print the prompt as rendered (each chat turn in its\n"
           "                          format) and its token ids on stderr before generating\n"
           "\n"
           "chat:\n"
           "  -cnv, --chat            conversation: each line on stdin is a user turn, the\n"
           "                          reply streams; /clear starts over, /exit quits, Ctrl-C\n"
           "                          stops a reply; -p/-f give the system prompt\n"
           "      --system TEXT       system prompt (default: none)\n"
           "      --keep N            when the context fills, the oldest half of the chat\n"
           "                          after the system prompt is dropped; keep at least the\n"
           "                          first N tokens (default: 0 = the system prompt)\n"
           "      --chat-template NAME  bitnet, llama3, falcon3, chatml or none (default:\n"
           "                          recognised from the model's tokenizer.chat_template;\n"
           "                          none = plain completion of each line)\n"
           "\n"
           "batch:\n"
           "      --batch FILE        one prompt per line ('-' is stdin): plain text, or a\n"
           "                          JSON object {\"prompt\", \"n_predict\", \"temp\",\n"
           "                          \"top_k\", \"top_p\", \"min_p\", \"repeat_penalty\",\n"
           "                          \"seed\" (-1: the clock), \"stop\" (string or list),\n"
           "                          \"id\"}; prints one --json result per line in input\n"
           "                          order (with \"line\"; bad lines give {\"line\",\n"
           "                          \"error\"} and exit status 2; after Ctrl-C, prompts\n"
           "                          not started get stop_reason \"interrupted\")\n"
           "      --parallel N        sequences decoded together (default: %d)\n"
           "\n"
           "perplexity:\n"
           "      --perplexity FILE   score the text of FILE ('-' is stdin) in windows of\n"
           "                          -c tokens that overlap by half; prints\n"
           "                          \"PPL = x +/- error\"\n"
           "\n"
           "server (OpenAI-compatible HTTP API, README.md#server):\n"
           "      --server            serve a chat page at /, /v1/completions,\n"
           "                          /v1/chat/completions, /tokenize, /detokenize,\n"
           "                          /v1/models, /health and /metrics;\n"
           "                          --parallel requests decode together (-c per request)\n"
           "      --host HOST         address to listen on (default: %s)\n"
           "      --port N            port to listen on, 0 = any free one (default: %d)\n"
           "      --api-key KEY       require \"Authorization: Bearer KEY\"\n"
           "  -to, --timeout N        seconds to read a request body or write a reply\n"
           "                          (default: %d; a request head has 5 seconds)\n"
           "      --max-body N        largest request body in bytes (default: %d)\n"
           "      --max-tokens N      most tokens one request may generate, 0 = no limit\n"
           "                          (default: 0)\n"
           "      --no-webui          no chat page at / (the page is on by default)\n"
           "\n"
           "other modes:\n"
           "      --bench             measure prompt and generation speed (see\n"
           "                          --bench --help)\n"
           "      --info              describe the model and the kernel, then exit\n"
           "      --tokenize          print the prompt's token ids as a JSON array\n"
           "      --detokenize        print the text of the ids given with -p (\"1 2 3\" or\n"
           "                          \"[1, 2, 3]\")\n"
           "  -h, --help              show this help\n"
           "      --version           show the version\n"
           "\n"
           "exit status: 0 success, 1 usage error, 2 model or file error, 130 interrupted\n",
           OPT_DEFAULT_PPL_CTX, BN_DEFAULT_BATCH, LOOKUP_DEFAULT_NGRAM, d.temp, d.top_k,
           d.top_p, d.min_p, d.repeat_penalty, d.repeat_last_n, OPT_DEFAULT_PARALLEL,
           OPT_DEFAULT_HOST, OPT_DEFAULT_PORT, OPT_DEFAULT_TIMEOUT, OPT_DEFAULT_MAX_BODY);
}

/* ---------------------------------------------------------- flag parsing */

static long parse_int(const char *flag, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        cli_die(EXIT_USAGE, "%s expects an integer from %ld to %ld, got '%s'", flag, lo, hi, v);
    return x;
}

static float parse_float(const char *flag, const char *v, float lo, float hi)
{
    char *end;
    errno = 0;
    float x = strtof(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        cli_die(EXIT_USAGE, "%s expects a number from %g to %g, got '%s'", flag, lo, hi, v);
    return x;
}

static uint64_t parse_seed(const char *v, int *given)
{
    if (!strcmp(v, "-1")) return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || *v == '-')
        cli_die(EXIT_USAGE, "--seed expects a non-negative integer or -1, got '%s'", v);
    *given = 1;
    return (uint64_t)x;
}

/* llama.cpp's GPU flags: accepted so that a llama-cli command line runs,
 * with a notice, since this build runs on the CPU. */
static const struct {
    const char *short_name, *long_name;
    int takes_value; /* 2: a value only when one of on, off, auto follows */
} GPU_FLAGS[] = {
    {"-ngl", "--n-gpu-layers", 1}, {NULL, "--gpu-layers", 1}, {"-fa", "--flash-attn", 2},
    {"-sm", "--split-mode", 1},    {"-mg", "--main-gpu", 1},  {"-ts", "--tensor-split", 1},
    {"-dev", "--device", 1},       {"-nkvo", "--no-kv-offload", 0},
};

/* When argv[*i] is a GPU flag, skips it (and its value) and returns 1. */
static int skip_gpu_flag(int argc, char **argv, int *i, const char **first)
{
    const char *a = argv[*i];
    for (size_t k = 0; k < sizeof GPU_FLAGS / sizeof *GPU_FLAGS; k++) {
        if (strcmp(a, GPU_FLAGS[k].long_name) &&
            (!GPU_FLAGS[k].short_name || strcmp(a, GPU_FLAGS[k].short_name)))
            continue;
        const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
        if (GPU_FLAGS[k].takes_value == 1 && !next) cli_die(EXIT_USAGE, "%s needs a value", a);
        if (GPU_FLAGS[k].takes_value == 1 ||
            (GPU_FLAGS[k].takes_value == 2 && next &&
             (!strcmp(next, "on") || !strcmp(next, "off") || !strcmp(next, "auto"))))
            (*i)++;
        if (!*first) *first = a;
        return 1;
    }
    return 0;
}

static int is_flag(const char *arg, const char *s, const char *l)
{
    return (s && !strcmp(arg, s)) || !strcmp(arg, l);
}

/* Selects the mode of a mode flag; two different modes are an error. */
static void set_mode(run_opts *o, run_mode mode, const char *flag, const char **mode_flag)
{
    if (*mode_flag && o->mode != mode)
        cli_die(EXIT_USAGE, "%s and %s cannot be combined", *mode_flag, flag);
    o->mode = mode;
    *mode_flag = flag;
}

/* -l ID+BIAS, ID-BIAS or ID-inf (llama-cli's form); the id is checked
 * against the vocabulary once the model is loaded. */
static void add_logit_bias(run_opts *o, const char *v)
{
    char *end;
    errno = 0;
    const long id = strtol(v, &end, 10);
    const float bias = (*end == '+' || *end == '-') && end != v ? strtof(end, &end) : NAN;
    if (errno || *end || id < 0 || id > INT32_MAX || isnan(bias))
        cli_die(EXIT_USAGE, "--logit-bias expects TOKEN_ID+BIAS or TOKEN_ID-BIAS, got '%s'", v);
    bn_logit_bias *list = (bn_logit_bias *)o->sp.logit_bias;
    list[o->sp.n_logit_bias++] = (bn_logit_bias){(int32_t)id, bias};
}

static void add_stop(run_opts *o, const char *s)
{
    if (!*s) cli_die(EXIT_USAGE, "--stop needs a non-empty string");
    o->stops[o->n_stops++] = s;
}

/* Replaces the escapes llama-cli knows (\n \r \t \\ \' \" \xNN) in place; an
 * unknown escape is kept as written. */
static void unescape(char *s)
{
    if (!s) return;
    static const char from[] = "nrt\\'\"", to[] = "\n\r\t\\'\"";
    char *w = s;
    for (const char *r = s; *r; r++) {
        const char *k = r[0] == '\\' && r[1] ? strchr(from, r[1]) : NULL;
        if (k) {
            *w++ = to[k - from];
            r++;
        } else if (r[0] == '\\' && r[1] == 'x' && isxdigit((unsigned char)r[2]) &&
                   isxdigit((unsigned char)r[3])) {
            const char hex[3] = {r[2], r[3], 0};
            *w++ = (char)strtol(hex, NULL, 16);
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

/* -p, --system and --stop are unescaped (-e, the default); they point
 * into argv, which a program may change. */
static void unescape_text_flags(run_opts *o)
{
    if (o->prompt && strcmp(o->prompt, "-")) unescape((char *)o->prompt);
    if (o->system) unescape((char *)o->system);
    for (int i = 0; i < o->n_stops; i++) unescape((char *)o->stops[i]);
}

/* Checks that the flags given make sense together. */
static void check_combination(const run_opts *o)
{
    if (!o->model) cli_die(EXIT_USAGE, "no model given (use -m FILE; see --help)");
    if (o->prompt && o->prompt_file) cli_die(EXIT_USAGE, "give the prompt with -p or -f, not both");
    if (o->json && o->mode == MODE_CHAT) cli_die(EXIT_USAGE, "--json does not apply to --chat");
    if (o->system && o->mode != MODE_CHAT) cli_die(EXIT_USAGE, "--system needs --chat");
    if (o->n_keep && o->mode != MODE_CHAT) cli_die(EXIT_USAGE, "--keep needs --chat");
    if (o->chat_template && o->mode != MODE_CHAT && o->mode != MODE_SERVER)
        cli_die(EXIT_USAGE, "--chat-template needs --chat or --server");
    if (o->mode != MODE_SERVER &&
        (o->host || o->port != OPT_DEFAULT_PORT || o->api_key || o->no_webui))
        cli_die(EXIT_USAGE, "--host, --port, --api-key and --no-webui need --server");
}

static void parse_args(int argc, char **argv, run_opts *o)
{
    const char *mode_flag = NULL, *gpu_flag = NULL;
    memset(o, 0, sizeof *o);
    o->stops = calloc((size_t)argc, sizeof *o->stops);
    bn_logit_bias *biases = calloc((size_t)argc, sizeof *biases);
    if (!o->stops || !biases) log_out_of_memory();
    o->n_parallel = OPT_DEFAULT_PARALLEL;
    o->n_predict = -1;
    o->special = 1;
    o->escape = 1;
    o->kernel = "auto";
    o->sp = bn_sampler_default_params();
    o->sp.logit_bias = biases; /* -l fills it */
    o->port = OPT_DEFAULT_PORT;
    o->server_timeout = OPT_DEFAULT_TIMEOUT;
    o->server_max_body = OPT_DEFAULT_MAX_BODY;
    o->lookup_ngram = LOOKUP_DEFAULT_NGRAM;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define VALUE() (i + 1 < argc ? argv[++i] : (cli_die(EXIT_USAGE, "%s needs a value", a), ""))
        if (is_flag(a, "-h", "--help")) {
            print_help();
            exit(0);
        } else if (!strcmp(a, "--version")) {
            cli_print_version();
            exit(0);
        } else if (is_flag(a, "-m", "--model")) o->model = VALUE();
        else if (is_flag(a, "-p", "--prompt")) o->prompt = VALUE();
        else if (is_flag(a, "-f", "--file")) o->prompt_file = VALUE();
        else if (is_flag(a, "-n", "--n-predict")) o->n_predict = (int)parse_int(a, VALUE(), -1, BN_MAX_CTX);
        else if (is_flag(a, "-c", "--ctx-size")) o->n_ctx = (int)parse_int(a, VALUE(), 0, BN_MAX_CTX);
        else if (is_flag(a, "-t", "--threads")) o->n_threads = (int)parse_int(a, VALUE(), 1, MAX_THREADS);
        else if (is_flag(a, "-b", "--batch-size")) o->n_batch = (int)parse_int(a, VALUE(), 1, BN_MAX_CTX);
        else if (is_flag(a, "-ctk", "--cache-type-k")) o->cache_k = cli_parse_cache_type(a, VALUE());
        else if (is_flag(a, "-ctv", "--cache-type-v")) o->cache_v = cli_parse_cache_type(a, VALUE());
        else if (!strcmp(a, "--temp")) o->sp.temp = parse_float(a, VALUE(), 0.0f, 1e6f);
        else if (!strcmp(a, "--top-k")) o->sp.top_k = (int)parse_int(a, VALUE(), 0, BN_MAX_CTX);
        else if (!strcmp(a, "--top-p")) o->sp.top_p = parse_float(a, VALUE(), 0.0f, 1.0f);
        else if (!strcmp(a, "--min-p")) o->sp.min_p = parse_float(a, VALUE(), 0.0f, 1.0f);
        else if (!strcmp(a, "--repeat-penalty")) o->sp.repeat_penalty = parse_float(a, VALUE(), 1e-3f, 1e3f);
        else if (!strcmp(a, "--repeat-last-n")) o->sp.repeat_last_n = (int)parse_int(a, VALUE(), -1, BN_MAX_CTX);
        else if (!strcmp(a, "--presence-penalty")) o->sp.presence_penalty = parse_float(a, VALUE(), -MAX_PENALTY, MAX_PENALTY);
        else if (!strcmp(a, "--frequency-penalty")) o->sp.frequency_penalty = parse_float(a, VALUE(), -MAX_PENALTY, MAX_PENALTY);
        else if (!strcmp(a, "--typical")) o->sp.typical_p = parse_float(a, VALUE(), 0.0f, 1.0f);
        else if (is_flag(a, "-l", "--logit-bias")) add_logit_bias(o, VALUE());
        else if (!strcmp(a, "--n-probs")) o->sp.n_probs = (int)parse_int(a, VALUE(), 0, BN_MAX_PROBS);
        else if (is_flag(a, "-s", "--seed")) o->sp.seed = parse_seed(VALUE(), &o->seed_given);
        else if (is_flag(a, "-e", "--escape")) o->escape = 1;
        else if (!strcmp(a, "--no-escape")) o->escape = 0;
        else if (!strcmp(a, "--no-bos")) o->no_bos = 1;
        else if (!strcmp(a, "--ignore-eos")) o->ignore_eos = 1;
        else if (!strcmp(a, "--lookup")) o->lookup = (int)parse_int(a, VALUE(), 0, MAX_LOOKUP);
        else if (!strcmp(a, "--lookup-ngram")) o->lookup_ngram = (int)parse_int(a, VALUE(), 1, LOOKUP_MATCH_CAP);
        else if (!strcmp(a, "--special")) o->special = 1;
        else if (!strcmp(a, "--no-special")) o->special = 0;
        else if (!strcmp(a, "--pre")) o->pre = VALUE();
        else if (!strcmp(a, "--kernel")) o->kernel = VALUE();
        else if (!strcmp(a, "--lm-head")) o->lm_head = VALUE();
        else if (!strcmp(a, "--keep")) o->n_keep = (int)parse_int(a, VALUE(), -1, BN_MAX_CTX);
        else if (!strcmp(a, "--mlock")) o->mlock = 1;
        else if (!strcmp(a, "--no-mmap")) o->no_mmap = 1;
        else if (skip_gpu_flag(argc, argv, &i, &gpu_flag)) continue;
        else if (!strcmp(a, "--weights")) o->weights = VALUE();
        else if (!strcmp(a, "--json")) o->json = 1;
        else if (is_flag(a, "-q", "--quiet")) o->quiet = 1;
        else if (is_flag(a, "-v", "--verbose")) o->verbose = 1;
        else if (!strcmp(a, "--verbose-prompt")) o->verbose_prompt = 1;
        else if (!strcmp(a, "--stop")) add_stop(o, VALUE());
        else if (!strcmp(a, "--system")) o->system = VALUE();
        else if (!strcmp(a, "--chat-template")) o->chat_template = VALUE();
        else if (!strcmp(a, "--parallel")) o->n_parallel = (int)parse_int(a, VALUE(), 1, MAX_PARALLEL);
        else if (is_flag(a, "-cnv", "--chat")) set_mode(o, MODE_CHAT, a, &mode_flag);
        else if (!strcmp(a, "--batch")) set_mode(o, MODE_BATCH, a, &mode_flag), o->batch_file = VALUE();
        else if (!strcmp(a, "--perplexity")) set_mode(o, MODE_PERPLEXITY, a, &mode_flag), o->ppl_file = VALUE();
        else if (!strcmp(a, "--server")) set_mode(o, MODE_SERVER, a, &mode_flag);
        else if (!strcmp(a, "--host")) o->host = VALUE();
        else if (!strcmp(a, "--port")) o->port = (int)parse_int(a, VALUE(), 0, MAX_PORT);
        else if (!strcmp(a, "--api-key")) o->api_key = VALUE();
        else if (is_flag(a, "-to", "--timeout")) o->server_timeout = (int)parse_int(a, VALUE(), 1, MAX_TIMEOUT);
        else if (!strcmp(a, "--max-body")) o->server_max_body = parse_int(a, VALUE(), 1, MAX_BODY);
        else if (!strcmp(a, "--max-tokens")) o->server_max_tokens = (int)parse_int(a, VALUE(), 0, BN_MAX_CTX);
        else if (!strcmp(a, "--no-webui")) o->no_webui = 1;
        else if (!strcmp(a, "--grammar")) o->grammar = VALUE();
        else if (!strcmp(a, "--grammar-file")) o->grammar_file = VALUE();
        else if (is_flag(a, "-j", "--json-schema")) o->json_schema = VALUE();
        else if (!strcmp(a, "--info")) set_mode(o, MODE_INFO, a, &mode_flag);
        else if (!strcmp(a, "--tokenize")) set_mode(o, MODE_TOKENIZE, a, &mode_flag);
        else if (!strcmp(a, "--detokenize")) set_mode(o, MODE_DETOKENIZE, a, &mode_flag);
        else cli_die(EXIT_USAGE, "unknown argument '%s' (see --help)", a);
#undef VALUE
    }
    check_combination(o);
    if (gpu_flag && !o->quiet) log_note("%s ignored: this build runs on the CPU", gpu_flag);
    if (o->escape) unescape_text_flags(o);
}

static void print_line(const char *line, void *ctx)
{
    (void)ctx;
    printf("%s\n", line);
}

/* A special token as "ID 'text'", or "none". */
static const char *token_desc(const bn_tokenizer *tok, int32_t id, char *buf, size_t cap)
{
    const char *text = id >= 0 ? bn_token_text(tok, id) : NULL;
    if (text) snprintf(buf, cap, "%d '%s'", id, text);
    else snprintf(buf, cap, "none");
    return buf;
}

/* --info: the model loaded without its weights (fast), described. */
static int run_info(const run_opts *o)
{
    bn_model *m = cli_load_model(o);
    const bn_tokenizer *tok = bn_model_tokenizer(m);
    char name[256], bos[128], eos[128], eot[128];
    if (bn_model_meta_str(m, "general.name", name, sizeof name) < 0) snprintf(name, sizeof name, "(none)");
    printf("name:            %s\n", name);
    bn_model_describe(m, print_line, NULL);
    printf("special tokens:  BOS %s, EOS %s, EOT %s\n", token_desc(tok, bn_token_bos(tok), bos, sizeof bos),
           token_desc(tok, bn_token_eos(tok), eos, sizeof eos),
           token_desc(tok, bn_token_eot(tok), eot, sizeof eot));
    printf("chat format:     %s\n", chat_format_of_model_name(m));
    bn_model_free(m);
    return 0;
}

static int dispatch_mode(const run_opts *o)
{
    switch (o->mode) {
    case MODE_CHAT: return run_chat(o);
    case MODE_BATCH: return run_batch(o);
    case MODE_PERPLEXITY: return run_perplexity(o);
    case MODE_INFO: return run_info(o);
    case MODE_TOKENIZE: return run_tokenize(o);
    case MODE_DETOKENIZE: return run_detokenize(o);
    case MODE_SERVER: return run_server(o);
    default: return run_generate(o);
    }
}

int main(int argc, char **argv)
{
    cli_check_output_at_exit();
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--bench")) return bench_main(argc, argv);
    run_opts o;
    parse_args(argc, argv, &o);
    int code = dispatch_mode(&o);
    free(o.stops);
    free((void *)o.sp.logit_bias);
    return code;
}
