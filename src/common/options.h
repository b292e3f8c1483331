/*
 * options.h - what a run of bitnet-run was asked to do: the mode and every
 * flag's value, shared by the command-line modes and the server, and the
 * one option table (options.c) that parses the flags, prints --help and
 * lists the flags for the README check (tools/check-docs.sh).
 */
#ifndef BN_COMMON_OPTIONS_H
#define BN_COMMON_OPTIONS_H

#include <stdio.h>

#include <string.h>

#include "bitnet.h"

typedef enum {
    MODE_GENERATE,
    MODE_CHAT,
    MODE_BATCH,
    MODE_PERPLEXITY,
    MODE_INFO,
    MODE_TOKENIZE,
    MODE_DETOKENIZE,
    MODE_SERVER,
    MODE_BENCH,
    MODE_EMBEDDING,
} run_mode;

#define OPT_DEFAULT_PARALLEL 8
#define OPT_DEFAULT_PPL_CTX 512 /* llama-perplexity's default window */
#define OPT_DEFAULT_HOST "127.0.0.1"
#define OPT_DEFAULT_PORT 8080
#define OPT_DEFAULT_TIMEOUT 600      /* llama-server's -to */
#define OPT_DEFAULT_MAX_BODY 1048576 /* bytes: 1 MiB */
#define OPT_MAX_LIST 32              /* values of one --bench list, models of --bench */

/* A comma-separated list of --bench (-p 128,512). */
typedef struct {
    int v[OPT_MAX_LIST];
    int n;
} opt_list;

/* --bench: every combination of the lists is one row. */
typedef struct {
    const char *models[OPT_MAX_LIST]; /* -m, repeatable */
    int n_models;
    opt_list pp, tg, depth; /* -p, -n, -d */
    opt_list threads;       /* -t (empty: the cores available) */
    opt_list batches;       /* -b */
    opt_list spec;          /* -s: tokens per generation pass */
    int reps;               /* -r */
    const char *format;     /* -o: md, json, jsonl or csv */
} bench_opts;

typedef struct {
    run_mode mode;
    const char *model;
    const char *prompt;        /* -p */
    const char *prompt_file;   /* -f */
    const char *system;        /* --system (chat) */
    const char *chat_template; /* --chat-template: bitnet, llama3, falcon3, chatml, none;
                                  NULL = the model's */
    const char *batch_file;    /* --batch */
    const char *ppl_file;      /* --perplexity */
    const char *kernel;
    const char *pre;
    const char *lm_head; /* --lm-head */
    const char *weights; /* --weights */
    const char *device;  /* --device, or "vulkan" / "cpu" from -ngl */
    const char **stops;  /* --stop, n_stops of them */
    int n_stops;
    int n_predict;
    int n_ctx;
    int n_threads;
    int n_batch;                    /* -b */
    int n_parallel;                 /* --parallel */
    bn_cache_type cache_k, cache_v; /* -ctk, -ctv (zeroed: BN_CACHE_F32) */
    int no_bos;
    int ignore_eos; /* --ignore-eos */
    int special;
    int json;
    int quiet;
    int verbose;
    int verbose_prompt; /* --verbose-prompt */
    int seed_given;
    int lookup;       /* --lookup N: most draft tokens per pass, 0 = off */
    int lookup_ngram; /* --lookup-ngram M: shortest match that drafts */
    int escape;       /* -e/--escape (default), --no-escape */
    int n_keep;       /* --keep: tokens a chat's context shift keeps (-1: the system prompt) */
    int mlock;        /* --mlock */
    int no_mmap;      /* --no-mmap */
    int no_lm_copy;   /* --no-lm-copy */
    bn_sampler_params sp;
    /* --server */
    const char *host;         /* --host */
    int port;                 /* --port (0: any free port) */
    const char *api_key;      /* --api-key */
    int server_timeout;       /* -to, --timeout: seconds to read a request or write a reply */
    long server_max_body;     /* --max-body: bytes */
    int server_max_tokens;    /* --max-tokens: most tokens a request may generate (0: no limit) */
    int no_webui;             /* --no-webui: no chat page at / */
    const char *grammar;      /* --grammar: GBNF text */
    const char *grammar_file; /* --grammar-file */
    const char *json_schema;  /* --json-schema */
    bn_logit_bias *biases;    /* -l: sp.logit_bias points here */
    bench_opts bench;         /* --bench */
    /* what the parser noted */
    const char *mode_flag;   /* the flag that chose the mode */
    const char *ignored_gpu; /* the first of llama.cpp's GPU flags given (ignored) */
    /* --embedding (llama-embedding's flags) */
    int embedding;            /* --embedding: the mode (with --server: accepted) */
    const char *embd_pooling; /* --pooling: none, mean, cls, last; NULL: the model's */
    int embd_normalize;       /* --embd-normalize (BN_EMBD_NORM_*) */
    const char *embd_format;  /* --embd-output-format: json, array, raw; NULL: text lines */
    const char
        *reasoning_format; /* --reasoning-format: none shows <think> blocks; auto, deepseek */
    const char *ngl_flag;  /* -ngl as given (NULL: absent), and its value */
    int ngl;
    const char *ignored_ngl; /* -ngl N > 0 in a build without Vulkan */
} run_opts;

/* --reasoning-format: <think> blocks are kept out of the printed text
 * unless it is "none". */
static inline int opts_hide_think(const run_opts *o)
{
    return !o->reasoning_format || strcmp(o->reasoning_format, "none");
}

/* What opts_parse found: a run, or a request to print and exit. */
enum { OPTS_ERROR = -1, OPTS_RUN, OPTS_HELP, OPTS_VERSION, OPTS_LIST_DEVICES };

/* Fills o from argv through the option table: the defaults, each flag
 * (values checked against the table's ranges), then the checks of flags
 * that need each other. argv[i] with --bench anywhere selects --bench's
 * flags. Returns OPTS_RUN, OPTS_HELP or OPTS_VERSION, or OPTS_ERROR with a
 * one-line message in err. The strings of o point into argv (-p, --system
 * and --stop are unescaped in place); opts_free releases the rest. */
int opts_parse(int argc, char **argv, run_opts *o, char err[BN_ERR_LEN]);
void opts_free(run_opts *o);
/* --help, or --bench --help with bench set: every flag of the table with
 * its value, description and default. */
void opts_print_help(FILE *f, int bench);
/* The flags as the docs tables show them, one row per line: "main" or
 * "bench", a tab, the Markdown of the flag cell, a tab, the default
 * (`bitnet-run --print-flags`, read by tools/check-docs.sh). */
void opts_print_flags(FILE *f);

#endif
