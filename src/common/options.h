/*
 * options.h - what a run of bitnet-run was asked to do: the mode and every
 * flag's value, shared by the command-line modes and the server.
 */
#ifndef BN_COMMON_OPTIONS_H
#define BN_COMMON_OPTIONS_H

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
} run_mode;

#define OPT_DEFAULT_PARALLEL 8
#define OPT_DEFAULT_PPL_CTX 512 /* llama-perplexity's default window */
#define OPT_DEFAULT_HOST "127.0.0.1"
#define OPT_DEFAULT_PORT 8080
#define OPT_DEFAULT_TIMEOUT 600        /* llama-server's -to */
#define OPT_DEFAULT_MAX_BODY (1 << 20) /* bytes */

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
    bn_sampler_params sp;
    /* --server */
    const char *host;      /* --host */
    int port;              /* --port (0: any free port) */
    const char *api_key;   /* --api-key */
    int server_timeout;    /* -to, --timeout: seconds to read a request or write a reply */
    long server_max_body;  /* --max-body: bytes */
    int server_max_tokens; /* --max-tokens: most tokens a request may generate (0: no limit) */
    int no_webui;          /* --no-webui: no chat page at / */
    const char *grammar;      /* --grammar: GBNF text */
    const char *grammar_file; /* --grammar-file */
    const char *json_schema;  /* --json-schema */
} run_opts;

#endif
