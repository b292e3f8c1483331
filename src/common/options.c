/*
 * options.c - the option table of bitnet-run: every flag once, with its
 * aliases, value, range, default and description. The parser, --help,
 * --bench --help and the flag list that tools/check-docs.sh compares with
 * the README's table are all read from it (as llama.cpp's common/arg.cpp).
 * Adding a flag is one entry here and its field in run_opts (options.h);
 * docs/ARCHITECTURE.md has the recipe.
 */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lookup.h"

#define STR_(x) #x
#define STR(x) STR_(x) /* a number macro as a string, for the table's defaults */

#define MAX_THREADS 1024
#define MAX_PARALLEL 256
#define MAX_PORT 65535
#define MAX_TIMEOUT 86400   /* a day, in seconds */
#define MAX_BODY (1L << 30) /* bytes */
#define MAX_LOOKUP 64       /* draft tokens a pass may check */
#define MAX_EMBD_NORM 1000  /* the largest p of --embd-normalize's p-norm */
#define MAX_LIST_VALUE (1 << 20)
#define MAX_PENALTY 100 /* --presence-penalty, --frequency-penalty */
#define HELP_COLUMN 26  /* where --help's descriptions start */
#define HELP_WIDTH 80

/* ================================================================ the table */

typedef enum {
    T_SWITCH, /* no value: stores lo in an int field */
    T_INT,    /* an integer from lo to hi */
    T_LONG,   /* the same in a long */
    T_FLOAT,  /* a finite number from lo to hi */
    T_STRING, /* the value as given */
    T_LIST,   /* --bench: comma-separated integers from lo to MAX_LIST_VALUE */
    T_MODE,   /* selects mode lo; with a value, stores it as a string */
    T_ACTION, /* --help, --version: lo is what opts_parse returns */
    T_GPU,    /* llama.cpp's GPU flags, ignored; lo: 0 no value, 1 a value, 2 on/off/auto */
    T_CUSTOM, /* parse() stores it */
} opt_type;

enum { S_MAIN = 1, S_BENCH = 2, S_BOTH = S_MAIN | S_BENCH }; /* where a flag applies */

typedef struct opt_def opt_def;
struct opt_def {
    unsigned scope;
    opt_type type;
    const char *section; /* starts a section of --help and of the README's table */
    const char *names;   /* the aliases as --help shows them: "-n, --n-predict" */
    const char *value;   /* the value's name ("N"), NULL for none */
    size_t field;        /* offsetof(run_opts, ...) */
    double lo, hi;
    const char *def;      /* the default, as a value the parser takes (a switch: 0 or 1) */
    const char *def_text; /* the default in words, where the value alone would not say it */
    const char *help;     /* NULL: described together with the next entry */
    int joined;           /* in the docs' row of the entry before */
    int (*parse)(run_opts *o, const char *flag, const char *v, char *err);
};

#define F(field) offsetof(run_opts, field)
#define FB(field) offsetof(run_opts, bench.field)

/* The parsers of the T_CUSTOM entries (below the table). */
static int parse_seed(run_opts *o, const char *flag, const char *v, char *err);
static int parse_cache_k(run_opts *o, const char *flag, const char *v, char *err);
static int parse_cache_v(run_opts *o, const char *flag, const char *v, char *err);
static int add_stop(run_opts *o, const char *flag, const char *v, char *err);
static int add_model(run_opts *o, const char *flag, const char *v, char *err);
static int parse_count(run_opts *o, const char *flag, const char *v, char *err);
static int parse_format(run_opts *o, const char *flag, const char *v, char *err);
static int parse_ngl(run_opts *o, const char *flag, const char *v, char *err);
static int add_logit_bias(run_opts *o, const char *flag, const char *v, char *err);

static const char GPU_HELP[] = "llama.cpp's other GPU flags: accepted and ignored with a notice";

/* clang-format off */
static const opt_def OPTIONS[] = {
    {S_MAIN, T_STRING, "model and prompt", "-m, --model", "FILE", F(model), .def_text = "required",
     .help = "GGUF model file"},
    {S_MAIN, T_STRING, NULL, "-p, --prompt", "TEXT", F(prompt), .def_text = "empty",
     .help = "prompt text; '-' reads it from stdin"},
    {S_MAIN, T_STRING, NULL, "-f, --file", "FILE", F(prompt_file),
     .help = "read the prompt from FILE, byte for byte; '-' is stdin"},
    {S_MAIN, T_SWITCH, NULL, "-e, --escape", NULL, F(escape), 1, .def = "1", .def_text = "on",
     .help = "process \\n, \\t, \\xNN... in -p, --system and --stop"},
    {S_MAIN, T_SWITCH, NULL, "--no-escape", NULL, F(escape), 0, .help = "take them literally",
     .joined = 1},
    {S_MAIN, T_SWITCH, NULL, "--no-bos", NULL, F(no_bos), 1,
     .def_text = "BOS when the vocabulary asks", .help = "do not prepend the BOS token"},
    {S_MAIN, T_SWITCH, NULL, "--special", NULL, F(special), 1, .def = "1", .def_text = "on",
     .help = "parse special-token text such as <|eot_id|> in the prompt"},
    {S_MAIN, T_SWITCH, NULL, "--no-special", NULL, F(special), 0,
     .help = "treat special-token text as plain text", .joined = 1},
    {S_MAIN, T_STRING, NULL, "--pre", "NAME", F(pre), .def_text = "from the file",
     .help = "pre-tokenizer override: llama3, gpt2 or default"},

    {S_MAIN, T_INT, "generation", "-n, --n-predict", "N", F(n_predict), -1, BN_MAX_CTX, .def = "-1",
     .help = "tokens to generate, -1 = until end of text or a full context"},
    {S_MAIN, T_INT, NULL, "-c, --ctx-size", "N", F(n_ctx), 0, BN_MAX_CTX,
     .help = "context size in tokens, 0 = the model's (per sequence in --batch and --server; "
             "the window of --perplexity, where 0 means " STR(OPT_DEFAULT_PPL_CTX) ")"},
    {S_MAIN, T_INT, NULL, "-t, --threads", "N", F(n_threads), 1, MAX_THREADS,
     .def_text = "cores available", .help = "worker threads"},
    {S_MAIN, T_INT, NULL, "-b, --batch-size", "N", F(n_batch), 1, BN_MAX_CTX,
     .def = STR(BN_DEFAULT_BATCH), .help = "prompt tokens run through the model at once"},
    {S_BOTH, T_CUSTOM, NULL, "-ctk, --cache-type-k", "TYPE", .def_text = "f32",
     .help = "element type of the cached keys: f32 or f16 (f16 halves their memory; f32 is the "
             "reference arithmetic)", .parse = parse_cache_k},
    {S_BOTH, T_CUSTOM, NULL, "-ctv, --cache-type-v", "TYPE", .def_text = "f32",
     .help = "the same for the cached values", .parse = parse_cache_v},
    {S_MAIN, T_SWITCH, NULL, "--mlock", NULL, F(mlock), 1,
     .help = "lock the weights in RAM (fails when they cannot be: see ulimit -l)"},
    {S_MAIN, T_SWITCH, NULL, "--no-mmap", NULL, F(no_mmap), 1, .def_text = "mapped",
     .help = "read the model file instead of mapping it"},
    {S_BOTH, T_SWITCH, NULL, "--no-lm-copy", NULL, F(no_lm_copy), 1, .def_text = "copy made",
     .help = "make no int8 copy of a large F16 output layer: every logit computed in full (less "
             "memory, slower decoding)"},
    {S_BOTH, T_STRING, NULL, "-dev, --device", "DEV", F(device), .def_text = "cpu",
     .help = "where passes run: cpu, vulkan or vulkan:N (the weights go to the device once "
             "at load; README.md#gpu-vulkan)"},
    {S_MAIN, T_ACTION, NULL, "--list-devices", NULL, .lo = OPTS_LIST_DEVICES,
     .help = "list the devices --device can name, then exit"},
    {S_BOTH, T_CUSTOM, NULL, "-ngl, --n-gpu-layers", "N", .def = "0", .parse = parse_ngl,
     .help = "0 keeps the CPU; any other N moves all layers to the first Vulkan device "
             "(--device vulkan)"},
    {S_MAIN, T_CUSTOM, NULL, "--gpu-layers", "N", .parse = parse_ngl, .help = "the same",
     .joined = 1},
    {S_MAIN, T_GPU, NULL, "-fa, --flash-attn", "[on|off|auto]", .lo = 2},
    {S_MAIN, T_GPU, NULL, "-sm, --split-mode", "MODE", .lo = 1, .joined = 1},
    {S_MAIN, T_GPU, NULL, "-mg, --main-gpu", "N", .lo = 1, .joined = 1},
    {S_MAIN, T_GPU, NULL, "-ts, --tensor-split", "LIST", .lo = 1, .joined = 1},
    {S_MAIN, T_GPU, NULL, "-nkvo, --no-kv-offload", NULL, .lo = 0, .help = GPU_HELP, .joined = 1},
    {S_BOTH, T_STRING, NULL, "--weights", "LAYOUT", F(weights), .def_text = "q2",
     .help = "ternary weights in memory: q2 (2 bits) or q16 (1.6 bits: fewer bytes per token, "
             "more unpacking)"},
    {S_MAIN, T_SWITCH, NULL, "--ignore-eos", NULL, F(ignore_eos), 1,
     .help = "keep generating past end-of-text tokens (for benchmarks; stops at -n or a full "
             "context)"},
    {S_MAIN, T_CUSTOM, NULL, "--stop", "STR", .parse = add_stop,
     .help = "end the generation where the text STR appears; STR and what follows are not "
             "printed (repeatable)"},
    {S_MAIN, T_INT, NULL, "--lookup", "N", F(lookup), 0, MAX_LOOKUP,
     .help = "prompt-lookup speculation: check up to N tokens that followed the same tokens "
             "earlier in the context in one pass; the same output, faster where the text "
             "repeats its context (0 = off)"},
    {S_MAIN, T_INT, NULL, "--lookup-ngram", "M", F(lookup_ngram), 1, LOOKUP_MATCH_CAP,
     .def = STR(LOOKUP_DEFAULT_NGRAM), .help = "tokens of the context's end that must match to draft"},
    {S_BOTH, T_STRING, NULL, "--kernel", "NAME", F(kernel), .def = "auto",
     .help = "auto, scalar, avx2, avx512 or neon, or one table: avx512-vnni, avx512-bw, "
             "neon-dotprod, neon-plain, avx-vnni (chosen only by name: untested on hardware)"},
    {S_BOTH, T_STRING, NULL, "--lm-head", "TYPE", F(lm_head), .def_text = "the file's type",
     .help = "requantize the output layer at load: f16, q8_0 or q6_k"},

    {S_MAIN, T_FLOAT, "sampling", "--temp", "T", F(sp.temp), 0, 1e6,
     .help = "temperature, 0 = greedy"},
    {S_MAIN, T_INT, NULL, "--top-k", "N", F(sp.top_k), 0, BN_MAX_CTX,
     .help = "keep the N most likely tokens, 0 = off"},
    {S_MAIN, T_FLOAT, NULL, "--top-p", "P", F(sp.top_p), 0, 1, .help = "nucleus sampling, 1 = off"},
    {S_MAIN, T_FLOAT, NULL, "--min-p", "P", F(sp.min_p), 0, 1,
     .help = "drop tokens below P x the top probability, 0 = off"},
    {S_MAIN, T_FLOAT, NULL, "--repeat-penalty", "F", F(sp.repeat_penalty), 1e-3, 1e3,
     .help = "penalize repeated tokens, 1 = off"},
    {S_MAIN, T_INT, NULL, "--repeat-last-n", "N", F(sp.repeat_last_n), -1, BN_MAX_CTX,
     .help = "tokens the penalty looks back on, -1 = whole context"},
    {S_MAIN, T_FLOAT, NULL, "--presence-penalty", "F", F(sp.presence_penalty), -MAX_PENALTY,
     MAX_PENALTY, .help = "subtract F from the logit of a token in that window, 0 = off"},
    {S_MAIN, T_FLOAT, NULL, "--frequency-penalty", "F", F(sp.frequency_penalty), -MAX_PENALTY,
     MAX_PENALTY, .help = "subtract F per occurrence in that window, 0 = off"},
    {S_MAIN, T_FLOAT, NULL, "--typical", "P", F(sp.typical_p), 0, 1,
     .help = "locally typical sampling, 1 = off"},
    {S_MAIN, T_CUSTOM, NULL, "-l, --logit-bias", "ID+B", .parse = add_logit_bias,
     .help = "add B to token ID's logit (ID-B subtracts, ID-inf bans it); repeatable"},
    {S_MAIN, T_CUSTOM, NULL, "-s, --seed", "N", .def_text = "-1", .parse = parse_seed,
     .help = "random seed, -1 = from the clock"},
    {S_MAIN, T_STRING, NULL, "--grammar", "GBNF", F(grammar),
     .help = "constrain the output to a grammar in llama.cpp's GBNF (docs/GRAMMAR.md)"},
    {S_MAIN, T_STRING, NULL, "--grammar-file", "FILE", F(grammar_file),
     .help = "the grammar from a file"},
    {S_MAIN, T_STRING, NULL, "-j, --json-schema", "JSON", F(json_schema),
     .help = "constrain the output to JSON texts of a JSON Schema (docs/GRAMMAR.md)"},

    {S_MAIN, T_SWITCH, "output", "--json", NULL, F(json), 1,
     .help = "print one JSON object per result (text, ids, stop reason, timings; with "
             "--perplexity the score and its error); not with --chat"},
    {S_MAIN, T_SWITCH, NULL, "-q, --quiet", NULL, F(quiet), 1,
     .help = "print only the generated text (no prompt echo, no stats)"},
    {S_MAIN, T_SWITCH, NULL, "-v, --verbose", NULL, F(verbose), 1,
     .help = "load time, memory, KV cache size, time to first token, peak memory and seed on "
             "stderr"},
    {S_MAIN, T_INT, NULL, "--n-probs", "N", F(sp.n_probs), 0, BN_MAX_PROBS,
     .help = "with --json: each generated token's log probability and its N likeliest "
             "alternatives (probs), from the distribution it was drawn from"},
    {S_MAIN, T_SWITCH, NULL, "--verbose-prompt", NULL, F(verbose_prompt), 1,
     .help = "print the prompt as rendered (each chat turn in its format) and its token ids "
             "on stderr before generating"},

    {S_MAIN, T_MODE, "chat", "-cnv, --chat", NULL, .lo = MODE_CHAT,
     .help = "conversation: each line on stdin is a user turn, the reply streams; /clear "
             "starts over, /exit quits, Ctrl-C stops a reply; -p/-f give the system prompt"},
    {S_MAIN, T_STRING, NULL, "--system", "TEXT", F(system), .def_text = "none",
     .help = "system prompt (needs --chat)"},
    {S_MAIN, T_INT, NULL, "--keep", "N", F(n_keep), -1, BN_MAX_CTX,
     .def_text = "the system prompt",
     .help = "when the context fills, the oldest half of the chat after the system prompt is "
             "dropped; keep at least the first N tokens (needs --chat)"},
    {S_MAIN, T_STRING, NULL, "--chat-template", "NAME", F(chat_template),
     .def_text = "from the file",
     .help = "bitnet, llama3, falcon3, chatml or none (plain completion of each line), for "
             "--chat and --server"},

    {S_MAIN, T_STRING, NULL, "--reasoning-format", "F", F(reasoning_format), .def = "auto",
     .help = "none prints a reasoning model's <think> blocks (Qwen3); auto or deepseek keep them "
             "out of the printed reply (and put them in the server's reasoning_content)"},

    {S_MAIN, T_MODE, "batch", "--batch", "FILE", F(batch_file), MODE_BATCH,
     .help = "one prompt per line ('-' is stdin): plain text, or a JSON object {\"prompt\", "
             "\"n_predict\", \"temp\", \"top_k\", \"top_p\", \"min_p\", \"repeat_penalty\", "
             "\"repeat_last_n\", \"presence_penalty\", \"frequency_penalty\", \"typical_p\", "
             "\"seed\" (-1: the clock), \"stop\" (string or list), \"json_schema\" or \"grammar\" "
             "(docs/GRAMMAR.md), \"id\"}; prints one --json "
             "result per line in input order (with \"line\"; bad lines give {\"line\", "
             "\"error\"} and exit status 2; after Ctrl-C, prompts not started get stop_reason "
             "\"interrupted\")"},
    {S_MAIN, T_INT, NULL, "--parallel", "N", F(n_parallel), 1, MAX_PARALLEL,
     .def = STR(OPT_DEFAULT_PARALLEL), .help = "sequences decoded together in --batch and --server"},

    {S_MAIN, T_MODE, "perplexity", "--perplexity", "FILE", F(ppl_file), MODE_PERPLEXITY,
     .help = "score the text of FILE ('-' is stdin) in windows of -c tokens that overlap by "
             "half; prints \"PPL = x +/- error\""},

    {S_MAIN, T_MODE, "server", "--server", NULL, .lo = MODE_SERVER,
     .help = "OpenAI-compatible HTTP server (README.md#server): a chat page at /, "
             "/v1/completions, /v1/chat/completions, /v1/embeddings, /embedding, /tokenize, "
             "/detokenize, /v1/models, /health and /metrics; "
             "--parallel requests decode together (-c per request)"},
    {S_MAIN, T_STRING, NULL, "--host", "HOST", F(host), .def_text = OPT_DEFAULT_HOST,
     .help = "address to listen on"},
    {S_MAIN, T_INT, NULL, "--port", "N", F(port), 0, MAX_PORT, .def = STR(OPT_DEFAULT_PORT),
     .help = "port to listen on, 0 = any free one"},
    {S_MAIN, T_STRING, NULL, "--api-key", "KEY", F(api_key), .def_text = "none",
     .help = "require \"Authorization: Bearer KEY\""},
    {S_MAIN, T_INT, NULL, "-to, --timeout", "N", F(server_timeout), 1, MAX_TIMEOUT,
     .def = STR(OPT_DEFAULT_TIMEOUT),
     .help = "seconds to read a request's body or write a reply (a request head has 5 seconds)"},
    {S_MAIN, T_LONG, NULL, "--max-body", "N", F(server_max_body), 1, MAX_BODY,
     .def = STR(OPT_DEFAULT_MAX_BODY), .help = "largest request body in bytes"},
    {S_MAIN, T_INT, NULL, "--max-tokens", "N", F(server_max_tokens), 0, BN_MAX_CTX,
     .help = "most tokens one request may generate, 0 = no limit"},
    {S_MAIN, T_SWITCH, NULL, "--no-webui", NULL, F(no_webui), 1, .help = "no chat page at /"},

    {S_MAIN, T_SWITCH, "embeddings", "--embedding", NULL, F(embedding), 1,
     .help = "print the embedding of each non-empty line of -p / -f (or of --batch FILE), all "
             "evaluated together (llama-embedding); with --server, accepted "
             "(/v1/embeddings is always served)"},
    {S_MAIN, T_STRING, NULL, "--pooling", "NAME", F(embd_pooling), .def_text = "the file's",
     .help = "none, mean, cls or last (needs --embedding)"},
    {S_MAIN, T_INT, NULL, "--embd-normalize", "N", F(embd_normalize), -1, MAX_EMBD_NORM,
     .def = "2", .help = "-1 none, 0 max-abs to int16, 1 taxicab, 2 euclidean, >2 p-norm"},
    {S_MAIN, T_STRING, NULL, "--embd-output-format", "FMT", F(embd_format),
     .def_text = "\"embedding N:\" lines",
     .help = "json (OpenAI's list object), array (a JSON array of arrays) or raw (one line of "
             "numbers per text)"},

    {S_MAIN, T_MODE, "other modes", "--bench", NULL, .lo = MODE_BENCH,
     .help = "measure prompt and generation speed as llama-bench (see --bench --help)"},
    {S_MAIN, T_MODE, NULL, "--info", NULL, .lo = MODE_INFO,
     .help = "describe the model and the kernel, then exit"},
    {S_MAIN, T_MODE, NULL, "--tokenize", NULL, .lo = MODE_TOKENIZE,
     .help = "print the prompt's token ids as a JSON array"},
    {S_MAIN, T_MODE, NULL, "--detokenize", NULL, .lo = MODE_DETOKENIZE,
     .help = "print the text of the ids given with -p (\"1 2 3\" or \"[1, 2, 3]\")", .joined = 1},

    /* --bench's own flags: each list takes comma-separated values, and every
     * combination is one row */
    {S_BENCH, T_CUSTOM, NULL, "-m, --model", "FILE", .def_text = "required", .parse = add_model,
     .help = "model; repeat -m to benchmark several in turn"},
    {S_BENCH, T_LIST, NULL, "-p", "LIST", FB(pp), 0, .def = "512",
     .help = "prompt lengths to time (rows ppN), 0 = none"},
    {S_BENCH, T_LIST, NULL, "-n", "LIST", FB(tg), 0, .def = "128",
     .help = "generation lengths to time (rows tgN), 0 = none"},
    {S_BENCH, T_LIST, NULL, "-d", "LIST", FB(depth), 0, .def = "0",
     .help = "tokens already in the context when a test starts (rows tgN @ dD)"},
    {S_BENCH, T_LIST, NULL, "-s", "LIST", FB(spec), 1, .def = "1",
     .help = "tokens per generation pass, as a --lookup verify pass (rows tgN s=K); t/s is then "
             "passes/s"},
    {S_BENCH, T_CUSTOM, NULL, "-r", "N", .def = "5", .parse = parse_count, /* llama-bench's */
     .help = "timed repetitions after one warm-up"},
    {S_BENCH, T_LIST, NULL, "-t", "LIST", FB(threads), 1, .def_text = "the cores available",
     .help = "thread counts"},
    {S_BENCH, T_LIST, NULL, "-b", "LIST", FB(batches), 1, .def = STR(BN_DEFAULT_BATCH),
     .help = "prompt batch sizes"},
    {S_BENCH, T_CUSTOM, NULL, "-o", "FORMAT", .def = "md", .parse = parse_format,
     .help = "md, json, jsonl or csv; the fields of json, jsonl and csv are llama-bench's, plus "
             "bitnet-run's own"},

    {S_BOTH, T_ACTION, NULL, "-h, --help", NULL, .lo = OPTS_HELP, .help = "show this help"},
    {S_MAIN, T_ACTION, NULL, "--version", NULL, .lo = OPTS_VERSION,
     .help = "show the version, commit, compiler and the kernels this CPU can run", .joined = 1},
};
/* clang-format on */

#define N_OPTIONS (sizeof OPTIONS / sizeof *OPTIONS)

/* ============================================================ the values */

/* Formats a one-line message into err; returns OPTS_ERROR. */
static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, BN_ERR_LEN, fmt, ap);
    va_end(ap);
    return OPTS_ERROR;
}

/* The integer v from lo to hi into *out, or an error naming flag. */
static int parse_long(const char *flag, const char *v, long lo, long hi, long *out, char *err)
{
    char *end;
    errno = 0;
    const long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return fail(err, "%s expects an integer from %ld to %ld, got '%s'", flag, lo, hi, v);
    *out = x;
    return 0;
}

/* The finite number v from lo to hi into *out, or an error naming flag. */
static int parse_float(const char *flag, const char *v, float lo, float hi, float *out, char *err)
{
    char *end;
    errno = 0;
    const float x = strtof(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        return fail(err, "%s expects a number from %g to %g, got '%s'", flag, lo, hi, v);
    *out = x;
    return 0;
}

/* A comma-separated list of integers from lo to MAX_LIST_VALUE; each kind
 * of mistake gets its own message. */
static int parse_list(const char *flag, const char *v, int lo, opt_list *out, char *err)
{
    opt_list l = {.n = 0};
    for (const char *p = v; *p;) {
        char *end;
        errno = 0;
        const long x = strtol(p, &end, 10);
        if (end == p || (*end && *end != ','))
            return fail(err, "%s expects a comma-separated list of integers, got '%s'", flag, v);
        if (errno || x < lo || x > MAX_LIST_VALUE)
            return fail(err, "%s: %.*s is out of range (%d to %d)", flag, (int)(end - p), p, lo,
                        MAX_LIST_VALUE);
        if (l.n == OPT_MAX_LIST) return fail(err, "%s: at most %d values", flag, OPT_MAX_LIST);
        l.v[l.n++] = (int)x;
        p = *end ? end + 1 : end;
    }
    if (!l.n) return fail(err, "%s expects a comma-separated list of integers, got '%s'", flag, v);
    *out = l;
    return 0;
}

/* -r: one integer of 1 or more (llama-bench takes no list there). */
static int parse_count(run_opts *o, const char *flag, const char *v, char *err)
{
    if (strchr(v, ',')) return fail(err, "%s takes one number, not a list: '%s'", flag, v);
    char *end;
    strtol(v, &end, 10);
    if (end == v || *end) return fail(err, "%s expects an integer, got '%s'", flag, v);
    opt_list one;
    if (parse_list(flag, v, 1, &one, err)) return OPTS_ERROR;
    o->bench.reps = one.v[0];
    return 0;
}

/* -s: a seed, or -1 for one from the clock (seed_given stays 0). */
static int parse_seed(run_opts *o, const char *flag, const char *v, char *err)
{
    if (!strcmp(v, "-1")) {
        o->sp.seed = 0;
        o->seed_given = 0;
        return 0;
    }
    char *end;
    errno = 0;
    const unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || *v == '-')
        return fail(err, "%s expects a non-negative integer or -1, got '%s'", flag, v);
    o->sp.seed = (uint64_t)x;
    o->seed_given = 1;
    return 0;
}

/* -ctk, -ctv: a KV cache element type by name. */
static int parse_cache_type(const char *flag, const char *v, bn_cache_type *out, char *err)
{
    const int type = bn_cache_type_from_name(v);
    if (type < 0) return fail(err, "%s expects f32 or f16, got '%s'", flag, v);
    *out = (bn_cache_type)type;
    return 0;
}

/* The T_CUSTOM parsers of -ctk and -ctv. */
static int parse_cache_k(run_opts *o, const char *flag, const char *v, char *err)
{
    return parse_cache_type(flag, v, &o->cache_k, err);
}

static int parse_cache_v(run_opts *o, const char *flag, const char *v, char *err)
{
    return parse_cache_type(flag, v, &o->cache_v, err);
}

/* --stop: o->stops has room for one per argument. */
static int add_stop(run_opts *o, const char *flag, const char *v, char *err)
{
    if (!*v) return fail(err, "%s needs a non-empty string", flag);
    o->stops[o->n_stops++] = v;
    return 0;
}

/* --bench -m, repeatable. */
static int add_model(run_opts *o, const char *flag, const char *v, char *err)
{
    if (o->bench.n_models == OPT_MAX_LIST)
        return fail(err, "%s: at most %d models", flag, OPT_MAX_LIST);
    o->bench.models[o->bench.n_models++] = v;
    return 0;
}

/* --bench -o: one of the output formats. */
static int parse_format(run_opts *o, const char *flag, const char *v, char *err)
{
    static const char *const formats[] = {"md", "json", "jsonl", "csv"};
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (!strcmp(v, formats[i])) {
            o->bench.format = formats[i];
            return 0;
        }
    return fail(err, "%s expects md, json, jsonl or csv, got '%s'", flag, v);
}

/* -ngl N as llama.cpp users mean it: 0 keeps the CPU, any other N moves the
 * whole model to the Vulkan device; an explicit --device wins (apply_ngl). */
static int parse_ngl(run_opts *o, const char *flag, const char *v, char *err)
{
    long n = 0;
    if (parse_long(flag, v, -1, BN_MAX_CTX, &n, err)) return OPTS_ERROR;
    o->ngl_flag = flag;
    o->ngl = (int)n;
    return 0;
}

/* The device -ngl asks for, unless --device named one; a build without
 * Vulkan runs on the CPU and notes that it ignored the flag. */
static void apply_ngl(run_opts *o)
{
    if (!o->ngl_flag || o->device) return;
    if (o->ngl && !strstr(bn_backends_built(), "vulkan")) {
        o->ignored_ngl = o->ngl_flag;
        return;
    }
    o->device = o->ngl ? "vulkan" : "cpu";
}

/* -l ID+BIAS, ID-BIAS or ID-inf (llama-cli's form), repeatable: o->biases
 * has room for one per argument. The id is checked against the
 * vocabulary once the model is loaded. */
static int add_logit_bias(run_opts *o, const char *flag, const char *v, char *err)
{
    char *end;
    errno = 0;
    const long id = strtol(v, &end, 10);
    const float bias = end != v && (*end == '+' || *end == '-') ? strtof(end, &end) : NAN;
    if (errno || *end || id < 0 || id > INT32_MAX || isnan(bias))
        return fail(err, "%s expects TOKEN_ID+BIAS or TOKEN_ID-BIAS, got '%s'", flag, v);
    o->biases[o->sp.n_logit_bias++] = (bn_logit_bias){(int32_t)id, bias};
    o->sp.logit_bias = o->biases;
    return 0;
}

/* Selects the mode of a mode flag; two different modes are an error. */
static int set_mode(run_opts *o, run_mode mode, const char *flag, char *err)
{
    if (o->mode_flag && o->mode != mode)
        return fail(err, "%s and %s cannot be combined", o->mode_flag, flag);
    o->mode = mode;
    o->mode_flag = flag;
    return 0;
}

/* Stores the value v (NULL for a flag that takes none) of entry d. */
static int apply(run_opts *o, const opt_def *d, const char *flag, const char *v, char *err)
{
    void *field = (char *)o + d->field;
    long x = 0;
    switch (d->type) {
    case T_SWITCH: *(int *)field = (int)d->lo; return 0;
    case T_INT:
        if (parse_long(flag, v, (long)d->lo, (long)d->hi, &x, err)) return OPTS_ERROR;
        *(int *)field = (int)x;
        return 0;
    case T_LONG: return parse_long(flag, v, (long)d->lo, (long)d->hi, (long *)field, err);
    case T_FLOAT: return parse_float(flag, v, (float)d->lo, (float)d->hi, (float *)field, err);
    case T_STRING: *(const char **)field = v; return 0;
    case T_LIST: return parse_list(flag, v, (int)d->lo, (opt_list *)field, err);
    case T_MODE:
        if (v) *(const char **)field = v;
        return set_mode(o, (run_mode)d->lo, flag, err);
    case T_CUSTOM: return d->parse(o, flag, v, err);
    case T_ACTION:
    case T_GPU: break;
    }
    return 0;
}

/* ============================================================ the parser */

/* Does arg spell one of the aliases of names ("-n, --n-predict")? */
static int names_match(const char *names, const char *arg)
{
    const size_t len = strlen(arg);
    for (const char *p = names; *p;) {
        const size_t n = strcspn(p, ",");
        if (n == len && !strncmp(p, arg, len)) return 1;
        p += n;
        p += strspn(p, ", ");
    }
    return 0;
}

/* The entry of scope that has arg among its aliases, or NULL. */
static const opt_def *find_option(const char *arg, unsigned scope)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if ((OPTIONS[i].scope & scope) && names_match(OPTIONS[i].names, arg)) return &OPTIONS[i];
    return NULL;
}

/* Whether a flag of entry d takes the argument after it (next may be NULL). */
static int takes_value(const opt_def *d, const char *next)
{
    if (d->type != T_GPU) return d->value != NULL;
    return d->lo == 1 || (d->lo == 2 && next &&
                          (!strcmp(next, "on") || !strcmp(next, "off") || !strcmp(next, "auto")));
}

/* The table's defaults, through the same parser as the flags. */
static void set_defaults(run_opts *o)
{
    char err[BN_ERR_LEN];
    o->sp = bn_sampler_default_params();
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const opt_def *d = &OPTIONS[i];
        if (!d->def) continue;
        if (d->type == T_SWITCH)
            *(int *)((char *)o + d->field) = (int)strtol(d->def, NULL, 10);
        else if (apply(o, d, d->names, d->def, err))
            log_error("option table: %s", err);
    }
}

/* Replaces the escapes llama-cli knows (\n \r \t \\ \' \" \xNN) in place; an
 * unknown escape is kept as written. */
static void unescape(char *s)
{
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

/* --embedding is a mode of its own reading the texts of -p, -f or
 * --batch; with --server it only says what llama-server's flag says. */
static int embedding_mode(run_opts *o, char *err)
{
    if (!o->embedding || o->mode == MODE_SERVER) return 0;
    if (o->mode != MODE_GENERATE && o->mode != MODE_BATCH)
        return fail(err, "--embedding cannot be combined with %s", o->mode_flag);
    o->mode = MODE_EMBEDDING;
    return 0;
}

static int one_of(const char *v, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, names[i])) return 1;
    return 0;
}

/* The values of the embedding and reasoning flags. */
static int check_embedding(const run_opts *o, char *err)
{
    static const char *const poolings[] = {"none", "mean", "cls", "last"};
    static const char *const formats[] = {"json", "array", "raw"};
    static const char *const reasonings[] = {"none", "auto", "deepseek"};
    if ((o->embd_pooling || o->embd_format) && !o->embedding)
        return fail(err, "--pooling and --embd-output-format need --embedding");
    if (o->embd_pooling && !one_of(o->embd_pooling, poolings, 4))
        return fail(err, "--pooling expects none, mean, cls or last, got '%s'", o->embd_pooling);
    if (o->embd_format && !one_of(o->embd_format, formats, 3))
        return fail(err, "--embd-output-format expects json, array or raw, got '%s'",
                    o->embd_format);
    if (!one_of(o->reasoning_format, reasonings, 3))
        return fail(err, "--reasoning-format expects none, auto or deepseek, got '%s'",
                    o->reasoning_format);
    return 0;
}

/* Checks that the flags given make sense together. */
static int check_combination(const run_opts *o, char *err)
{
    if (o->mode == MODE_BENCH)
        return o->bench.n_models ? 0 : fail(err, "--bench needs a model (-m FILE)");
    if (!o->model) return fail(err, "no model given (use -m FILE; see --help)");
    if (o->prompt && o->prompt_file) return fail(err, "give the prompt with -p or -f, not both");
    if (o->json && o->mode == MODE_CHAT) return fail(err, "--json does not apply to --chat");
    if (o->system && o->mode != MODE_CHAT) return fail(err, "--system needs --chat");
    if (o->n_keep && o->mode != MODE_CHAT) return fail(err, "--keep needs --chat");
    if ((o->grammar || o->grammar_file || o->json_schema) && o->mode != MODE_GENERATE &&
        o->mode != MODE_BATCH)
        return fail(err, "--grammar, --grammar-file and --json-schema apply to generation and "
                         "--batch (the server takes them per request)");
    if (o->chat_template && o->mode != MODE_CHAT && o->mode != MODE_SERVER)
        return fail(err, "--chat-template needs --chat or --server");
    if (o->mode != MODE_SERVER &&
        (o->host || o->port != OPT_DEFAULT_PORT || o->api_key || o->no_webui))
        return fail(err, "--host, --port, --api-key and --no-webui need --server");
    return check_embedding(o, err);
}

int opts_parse(int argc, char **argv, run_opts *o, char err[BN_ERR_LEN])
{
    memset(o, 0, sizeof *o);
    unsigned scope = S_MAIN;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--bench")) scope = S_BENCH;
    o->stops = calloc((size_t)argc, sizeof *o->stops);
    o->biases = calloc((size_t)argc, sizeof *o->biases);
    if (!o->stops || !o->biases) log_out_of_memory();
    set_defaults(o);
    if (scope == S_BENCH) o->mode = MODE_BENCH;
    const char *see = scope == S_BENCH ? " (see --bench --help)" : "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (scope == S_BENCH && !strcmp(a, "--bench")) continue;
        const opt_def *d = find_option(a, scope);
        if (!d && scope == S_BENCH)
            return fail(err, "unknown --bench argument '%s' (see --bench --help)", a);
        if (!d) return fail(err, "unknown argument '%s' (see --help)", a);
        if (d->type == T_ACTION) return (int)d->lo;
        const char *v = NULL;
        if (takes_value(d, next)) {
            if (!next) return fail(err, "%s needs a value%s", a, see);
            v = argv[++i];
        }
        if (d->type == T_GPU && !o->ignored_gpu) o->ignored_gpu = a;
        if (apply(o, d, a, v, err)) return OPTS_ERROR;
    }
    if (embedding_mode(o, err) || check_combination(o, err)) return OPTS_ERROR;
    apply_ngl(o);
    if (o->escape) unescape_text_flags(o);
    return OPTS_RUN;
}

void opts_free(run_opts *o)
{
    free(o->stops);
    free(o->biases);
    o->stops = NULL;
    o->biases = NULL;
}

/* ============================================================ the help */

static const char USAGE[] =
    "usage: bitnet-run -m MODEL.gguf [-p PROMPT | -f FILE] [options]\n"
    "       bitnet-run -m MODEL.gguf --chat [--system TEXT] [options]\n"
    "       bitnet-run -m MODEL.gguf --batch FILE [--parallel N] [options]\n"
    "       bitnet-run -m MODEL.gguf --perplexity FILE [-c N] [options]\n"
    "       bitnet-run -m MODEL.gguf --server [--host H] [--port N] [options]\n"
    "       bitnet-run --bench -m MODEL.gguf [options]\n"
    "\n"
    "Runs a BitNet b1.58 GGUF model on the CPU and streams the continuation.\n";

static const char BENCH_USAGE[] =
    "usage: bitnet-run --bench -m MODEL [options]\n"
    "\n"
    "Times prompt processing and generation as llama-bench does; every combination of the\n"
    "lists is one row.\n";

static const char EXIT_STATUS[] =
    "\nexit status: 0 success, 1 usage error, 2 model or file error, 130 interrupted\n";

/* The default of entry d as the docs show it ("" when it has none): its
 * words, or the value the defaults left in its field. */
static const char *default_text(const opt_def *d, const run_opts *defaults, char *buf, size_t cap)
{
    const void *field = (const char *)defaults + d->field;
    buf[0] = 0;
    if (d->def_text) return d->def_text;
    if (d->type == T_CUSTOM) return d->def ? d->def : "";
    switch (d->type) {
    case T_INT: snprintf(buf, cap, "%d", *(const int *)field); break;
    case T_LONG: snprintf(buf, cap, "%ld", *(const long *)field); break;
    case T_FLOAT: snprintf(buf, cap, "%g", *(const float *)field); break;
    case T_STRING:
        snprintf(buf, cap, "%s", *(const char *const *)field ? *(const char *const *)field : "");
        break;
    case T_LIST:
        for (int i = 0, len = 0; i < ((const opt_list *)field)->n && len < (int)cap; i++)
            len += snprintf(buf + len, cap - (size_t)len, "%s%d", i ? "," : "",
                            ((const opt_list *)field)->v[i]);
        break;
    default: break;
    }
    return buf;
}

/* "-n, --n-predict N": an entry's flags and value. */
static void flag_spec(const opt_def *d, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s", d->names, d->value ? " " : "", d->value ? d->value : "");
}

/* Prints text from column HELP_COLUMN (the cursor is at column col),
 * wrapped at word boundaries before HELP_WIDTH. */
static void print_wrapped(FILE *f, const char *text, int col)
{
    const int width = HELP_WIDTH - HELP_COLUMN;
    fprintf(f, "%*s", col < HELP_COLUMN ? HELP_COLUMN - col : 0, "");
    int used = 0;
    for (const char *p = text; *p;) {
        const int word = (int)strcspn(p, " ");
        if (used && used + 1 + word > width) {
            fprintf(f, "\n%*s", HELP_COLUMN, "");
            used = 0;
        } else if (used) {
            fputc(' ', f);
            used++;
        }
        fprintf(f, "%.*s", word, p);
        used += word;
        p += word;
        p += strspn(p, " ");
    }
    fputc('\n', f);
}

/* One entry of --help: its flags, then its description and default from
 * column HELP_COLUMN (on the next line when the flags reach it). */
static void print_option(FILE *f, const opt_def *d, const run_opts *defaults)
{
    char spec[128], def[128], text[1024];
    flag_spec(d, spec, sizeof spec);
    int col = fprintf(f, "%s%s", d->names[1] == '-' ? "      " : "  ", spec);
    if (!d->help) {
        fputc('\n', f);
        return;
    }
    const char *dt = default_text(d, defaults, def, sizeof def);
    snprintf(text, sizeof text, *dt ? "%s (default: %s)" : "%s", d->help, dt);
    if (col > HELP_COLUMN - 2) {
        fputc('\n', f);
        col = 0;
    }
    print_wrapped(f, text, col);
}

/* Whether entry d is listed in scope's pass: --bench lists its own flags
 * first (pass 0), then those it shares with the other modes (pass 1). */
static int listed(const opt_def *d, unsigned scope, int pass)
{
    if (scope == S_MAIN) return pass == 0 && (d->scope & S_MAIN);
    return d->scope == (pass == 0 ? S_BENCH : S_BOTH);
}

void opts_print_help(FILE *f, int bench)
{
    run_opts defaults;
    memset(&defaults, 0, sizeof defaults);
    set_defaults(&defaults);
    const unsigned scope = bench ? S_BENCH : S_MAIN;
    fputs(bench ? BENCH_USAGE : USAGE, f);
    if (bench) fputc('\n', f);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < N_OPTIONS; i++) {
            const opt_def *d = &OPTIONS[i];
            if (!listed(d, scope, pass)) continue;
            if (d->section && !bench) fprintf(f, "\n%s:\n", d->section);
            print_option(f, d, &defaults);
        }
    if (!bench) fputs(EXIT_STATUS, f);
}

/* The flag cell of the docs' tables: the entry's flags in backticks, a
 * pipe escaped as Markdown tables need. */
static void print_flag_cell(FILE *f, const opt_def *d)
{
    char spec[128];
    flag_spec(d, spec, sizeof spec);
    fputc('`', f);
    for (const char *p = spec; *p; p++) fputs(*p == '|' ? "\\|" : (char[2]){*p, 0}, f);
    fputc('`', f);
}

/* The rows of one scope: the flags of entries joined into one row apart
 * by " / ", their defaults by ", ". */
static void print_rows(FILE *f, unsigned scope, const char *name, const run_opts *defaults)
{
    char defs[512] = "", def[128];
    int open = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < N_OPTIONS; i++) {
            const opt_def *d = &OPTIONS[i];
            if (!listed(d, scope, pass)) continue;
            if (open && !d->joined) { /* the row before is complete */
                fprintf(f, "\t%s\n", defs);
                open = 0;
                defs[0] = 0;
            }
            if (d->section && scope == S_MAIN) fprintf(f, "%s\t**%s**\t\n", name, d->section);
            if (open)
                fputs(" / ", f);
            else
                fprintf(f, "%s\t", name);
            print_flag_cell(f, d);
            const char *dt = default_text(d, defaults, def, sizeof def);
            if (*dt) {
                const size_t len = strlen(defs);
                snprintf(defs + len, sizeof defs - len, "%s%s", len ? ", " : "", dt);
            }
            open = 1;
        }
    if (open) fprintf(f, "\t%s\n", defs);
}

void opts_print_flags(FILE *f)
{
    run_opts defaults;
    memset(&defaults, 0, sizeof defaults);
    set_defaults(&defaults);
    print_rows(f, S_MAIN, "main", &defaults);
    print_rows(f, S_BENCH, "bench", &defaults);
}
