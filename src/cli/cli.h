/*
 * cli.h - shared pieces of the command-line tool (src/cli/):
 * the parsed options, the modes (one file each), and the helpers they share.
 * The tool uses only the public API of include/bitnet.h.
 */
#ifndef BN_CLI_H
#define BN_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bitnet.h"

/* Exit codes (llama.cpp-style tools return 1 for bad usage). */
enum { EXIT_USAGE = 1, EXIT_MODEL = 2, EXIT_INTERRUPTED = 130 };

typedef enum {
    MODE_GENERATE,
    MODE_CHAT,
    MODE_BATCH,
    MODE_PERPLEXITY,
    MODE_INFO,
    MODE_TOKENIZE,
    MODE_DETOKENIZE,
    MODE_SERVER,
} cli_mode;

#define CLI_DEFAULT_PARALLEL 8
#define CLI_DEFAULT_PPL_CTX 512 /* llama-perplexity's default window */
#define CLI_DEFAULT_HOST "127.0.0.1"
#define CLI_DEFAULT_PORT 8080
#define CLI_DEFAULT_TIMEOUT 600        /* llama-server's -to */
#define CLI_DEFAULT_MAX_BODY (1 << 20) /* bytes */

typedef struct {
    cli_mode mode;
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
    const char **stops; /* --stop, n_stops of them */
    int n_stops;
    int n_predict;
    int n_ctx;
    int n_threads;
    int n_batch;    /* -b */
    int n_parallel; /* --parallel */
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
    int escape; /* -e/--escape (default), --no-escape */
    int n_keep;  /* --keep: tokens a chat's context shift keeps (-1: the system prompt) */
    int mlock;   /* --mlock */
    int no_mmap; /* --no-mmap */
    bn_sampler_params sp;
    /* --server */
    const char *host;      /* --host */
    int port;              /* --port (0: any free port) */
    const char *api_key;   /* --api-key */
    int server_timeout;    /* -to, --timeout: seconds to read a request or write a reply */
    long server_max_body;  /* --max-body: bytes */
    int server_max_tokens; /* --max-tokens: most tokens a request may generate (0: no limit) */
} cli_opts;

/* The modes (<mode>.c); each returns the process exit code. */
int run_generate(const cli_opts *o);
int run_chat(const cli_opts *o);
/* The chat format the model's template stands for (chat.c; "none"). */
const char *cli_chat_format_name(const bn_model *m);
/* --verbose-prompt: the rendered prompt and its ids, one per line with its
 * text, on stderr (llama-cli's layout; prompt_echo.c). */
void cli_print_prompt(const bn_tokenizer *tok, const char *text, size_t len, const int32_t *ids,
                      int n);
int run_batch(const cli_opts *o);
int run_perplexity(const cli_opts *o);
int run_tokenize(const cli_opts *o);
int run_detokenize(const cli_opts *o);
int run_server(const cli_opts *o);
/* version.c: the commit this build came from, and --version's lines. */
const char *cli_build_commit(void);
void cli_print_version(void);
/* `bitnet-run --bench ...` (bench.c): parses its own flags. */
int bench_main(int argc, char **argv);

/* ------------------------------------------------ common (common.c) */

/* Prints "bitnet-run: error: ..." as one line on stderr (control bytes
 * escaped); cli_die then exits with code. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Prints "bitnet-run: ..." as one line on stderr. */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Set by SIGINT once cli_catch_sigint() ran. Blocking reads are not
 * restarted, so a Ctrl-C also ends a wait for input. */
extern volatile sig_atomic_t cli_interrupted;
void cli_catch_sigint(void);

/* Flushes f; a failed write ends the run: "writing output: <reason>" and
 * EXIT_MODEL, or quietly by SIGPIPE for a closed pipe. The streams call it
 * as they go, so a full disk stops a generation at once. */
void cli_check_output(FILE *f);
/* Registers the same check of stdout for the end of the process (every
 * exit path: --help, errors, each mode). */
void cli_check_output_at_exit(void);

/* "1 thread", "2 threads": count and noun into buf. */
const char *cli_plural(long count, const char *noun, char *buf, size_t cap);
/* A stop reason as the stats lines say it ("stop" is "stop string"). */
const char *cli_stop_words(const char *stop_reason);

double cli_now_ms(void);
/* n per second over ms milliseconds (0 when ms is not positive): the
 * tok/s figures of -v, --json, --batch and the server. */
double cli_per_second(double n, double ms);
/* A seed for runs without --seed. */
uint64_t cli_clock_seed(void);

/* Reads a whole file ('-' is stdin) into a NUL-terminated buffer; exits
 * with EXIT_MODEL naming `what` (the flag) and the file when it cannot. */
char *cli_read_file(const char *path, const char *what, size_t *len);
/* The prompt text from -p, -f or stdin; never NULL. */
char *cli_load_prompt(const cli_opts *o, size_t *len);

bn_model *cli_load_model(const cli_opts *o);
/* A session of n_ctx tokens (0: the model's context) evaluated on ctx
 * (NULL: a context of its own that a Ctrl-C stops), or exits: a usage
 * error about --ctx-size when -c was given, else a model error naming the
 * file (the context the model claims does not fit). */
bn_session *cli_new_session(const cli_opts *o, bn_model *m, bn_context *ctx, int n_ctx);
/* What a user can do about a context of n_ctx tokens that is too small:
 * raise -c up to the model's, or nothing when it is the model's already. */
const char *cli_context_hint(const bn_model *m, int n_ctx, char *buf, size_t cap);
/* A context for several sessions, stopped by Ctrl-C like cli_new_session's. */
bn_context *cli_new_context(bn_model *m);
/* The KV cache type named by flag's value v (-ctk, -ctv), or exits with a
 * usage error. */
bn_cache_type cli_parse_cache_type(const char *flag, const char *v);
/* With -v: the memory that n_sessions sessions like s take once their
 * caches are full, and the cache types. */
void cli_note_kv_cache(const cli_opts *o, const bn_session *s, int n_sessions);
/* With -v: the seed of the sampler, to repeat a run with --seed. */
void cli_note_seed(const cli_opts *o, uint64_t seed);
/* With -v: the process's peak resident memory, at the end of a run (the
 * mapped output layer and the touched KV cache have joined it by then). */
void cli_note_peak_memory(const cli_opts *o);
bn_tokenizer *cli_load_tokenizer(const cli_opts *o);
/* BN_TOK_* flags for prompts as -p/--no-bos/--no-special ask. */
int cli_tokenize_flags(const cli_opts *o);
/* Tokenizes, or exits with a usage error naming `what`. */
int32_t *cli_tokenize(const bn_tokenizer *tok, const char *text, size_t len, int flags,
                      const char *what, int *n);
/* The sampler for params sp, or exits with a usage error saying what is wrong. */
bn_sampler *cli_new_sampler(const bn_sampler_params *sp, int n_vocab);

/* Growable arrays. */
typedef struct {
    char *data;
    size_t len, cap;
} cli_buf;

void buf_append(cli_buf *b, const char *s, size_t n);
void buf_free(cli_buf *b);

/* ----------------------------------------- line editor (lineedit.c) */

/* The lines typed in one chat, oldest first. */
typedef struct {
    char **lines;
    int n;
} cli_history;

/* Whether stdin and stdout are a terminal the editor can drive. */
int cli_line_editing(void);
/* Reads one line (no newline) with editing and history after prompt;
 * 0, or -1 at end of input (Ctrl-D on an empty line, Ctrl-C, a read
 * error). The terminal is in raw mode only inside this call. */
int cli_line_read(cli_history *h, const char *prompt, cli_buf *line);
void cli_history_free(cli_history *h);
/* Puts the terminal back as it was before raw mode; does nothing outside
 * it. Async-signal-safe. */
void cli_terminal_restore(void);

typedef struct {
    int32_t *ids;
    int n, cap;
} cli_ids;

void ids_push(cli_ids *l, int32_t id);

/* ---------------------------------------------- streaming (stream.c) */

/* Generated text on its way out: pieces are printed as they come, except a
 * tail that may still become a stop string (--stop) or is an incomplete
 * UTF-8 sequence. A stop string and everything after it are never printed
 * and are cut from `text`. */
typedef struct {
    FILE *out; /* NULL: collect only */
    const char *const *stops;
    int n_stops;
    cli_buf text;   /* the generated text so far */
    size_t emitted; /* bytes of text already written to out */
} cli_stream;

/* Appends the text of token id; returns 1 when a stop string now appears. */
int stream_token(cli_stream *s, const bn_tokenizer *tok, int32_t id);
/* Writes what was held back (the generation ended without a stop string). */
void stream_flush(cli_stream *s);
/* Starts a new text on the same output and stop strings. */
void stream_clear(cli_stream *s);

/* ------------------------------------ prompt lookup (lookup.c) */

/* Prompt-lookup speculation of one sequence: drafts come from the tokens
 * that followed an earlier occurrence of the context's last tokens. */
typedef struct {
    int max;        /* most draft tokens per pass, 0 = off */
    int ngram;      /* shortest match that gives a draft */
    cli_ids hist;   /* the session's tokens, then the sampled one not yet evaluated */
    int32_t *pass;  /* this pass: q->next, then the draft (n tokens) */
    int n;
    float *logits;  /* (max + 1) rows for a pass of one sequence */
    long drafted, accepted, passes; /* totals: draft tokens, kept ones, passes with a draft */
} cli_lookup;

#define CLI_DEFAULT_LOOKUP_NGRAM 2
/* The longest match measured (and the largest --lookup-ngram): longer ones
 * hardly pick a better draft, and the cap bounds the search on repetitive
 * text. */
#define CLI_LOOKUP_MATCH_CAP 32

/* --------------------------------------- one sequence (generate.c) */

/* A prompt being continued: the sampling loop shared by plain generation,
 * chat replies and every sequence of a batch, so they stop alike. */
typedef struct {
    bn_session *session;
    bn_sampler *sampler;
    const bn_tokenizer *tok;
    cli_stream stream;
    cli_ids out;             /* generated ids, end-of-generation token included */
    int n_predict;           /* -1 = no limit */
    int32_t next;            /* the sampled token to evaluate next */
    const char *stop_reason; /* eos, eot, stop, length, context, interrupted */
    double prompt_ms, gen_ms, t_gen_start;
    float *masked;           /* --ignore-eos: logits with the end tokens at -inf */
    int32_t *banned;         /* the end-of-generation tokens (n_banned) */
    uint64_t seed;           /* the sampler's seed, reported so a run can be repeated */
    int n_banned;
    cli_lookup lk;           /* --lookup */
} cli_seq;

/* --ignore-eos: never sample an end-of-generation token in q. */
void seq_ignore_eog(cli_seq *q, int n_vocab);
void seq_free_mask(cli_seq *q);

/* Evaluates the prompt (recording it for the repetition penalty) and
 * samples the first token; returns seq_step's result (0 with stop_reason
 * "interrupted" after a Ctrl-C), or -1 with err set. */
int seq_prefill(cli_seq *q, const int32_t *ids, int n, char err[BN_ERR_LEN]);
/* The rest of seq_prefill once the prompt, started at t0 (cli_now_ms), is
 * evaluated and logits follow its last token. */
int seq_prompt_done(cli_seq *q, const int32_t *ids, int n, const float *logits, double t0);
/* Evaluates q->next and samples from it, as seq_prefill returns. */
int seq_continue(cli_seq *q, char err[BN_ERR_LEN]);
/* Samples from logits; returns 1 when q->next must be evaluated for the
 * generation to go on, 0 when it ended (stop_reason says why). */
int seq_step(cli_seq *q, const float *logits);
/* seq_step for a pass that evaluated drafts: samples with `draft` as the
 * proposal (-1: none), as if the session held n_past tokens. */
int seq_step_draft(cli_seq *q, const float *logits, int32_t draft, int n_past);
/* Ends the sequence early (Ctrl-C). */
void seq_interrupt(cli_seq *q);
/* Writes the members of the --json result (prompt, text, ids, counts,
 * stop_reason, timings), without the braces around them. */
void seq_write_json_fields(FILE *out, const cli_seq *q, const char *prompt, size_t prompt_len,
                           const int32_t *pids, int np);

/* -------------------------------------------- chat formats (chat.c) */

typedef struct chat_format chat_format;
/* The format --chat-template names, else the model's (docs/CHAT.md);
 * plain completion when the vocabulary lacks a token the format needs. */
const chat_format *chat_format_choose(const cli_opts *o, const bn_model *m);
/* Appends one message of a conversation as the format writes it: role
 * "system", "user" (followed by the reply's cue) or "assistant" (a past
 * reply); -1 for another role. */
int chat_format_message(const chat_format *f, const bn_tokenizer *tok, cli_buf *b,
                        const char *role, const char *text, size_t len);

/* ---------------------------------- prompt-lookup speculation (lookup.c) */

/* Sets q up to draft up to max tokens a pass from matches of at least
 * ngram tokens (--lookup, --lookup-ngram; nothing when max is 0);
 * lookup_free undoes it. */
void lookup_init(cli_seq *q, int max, int ngram);
void lookup_free(cli_seq *q);
/* Records the prompt just evaluated (the session now ends with ids[0..n)). */
void lookup_prompt(cli_seq *q, const int32_t *ids, int n);
/* Records a sampled token. */
void lookup_push(cli_seq *q, int32_t id);
/* Finds this pass's draft (q->lk.pass, q->lk.n, 0 when none or off),
 * never past the context or -n; returns q->lk.n. */
int lookup_draft(cli_seq *q);
/* The batch entries of this pass (q->next and the draft, all with logits)
 * into e; returns their count, q->lk.n + 1. */
int lookup_entries(cli_seq *q, bn_batch_entry *e);
/* seq_continue with the draft: evaluates q->next and the draft in one pass. */
int lookup_continue(cli_seq *q, char err[BN_ERR_LEN]);
/* Samples from the logits after q->next and each draft token (n_vocab
 * apart), keeping the drafts the model agrees with, and rolls the session
 * back past the rest; returns as seq_step (which it is without a draft). */
int lookup_verify(cli_seq *q, const float *logits, int n_vocab);
/* With -v or --json: the counts (", \"lookup\": {...}" in JSON). */
void lookup_note(const cli_seq *q);
void lookup_write_json(FILE *out, const cli_seq *q);

/* ---------------------------------------------------- JSON (json.c) */

/* Output. Strings are escaped; invalid UTF-8 becomes U+FFFD so the output
 * is always valid JSON. */
void json_string(FILE *out, const char *s, size_t n);
void json_int_array(FILE *out, const int32_t *v, int n);

/* Input: one JSON object (a JSONL line). Nested values are validated but
 * only kept as raw text. */
typedef enum { JSON_STRING, JSON_NUMBER, JSON_BOOL, JSON_NULL, JSON_ARRAY, JSON_OBJECT } json_kind;

typedef struct {
    char *key; /* decoded */
    json_kind kind;
    char *str; /* JSON_STRING: the decoded value (may hold NUL bytes) */
    size_t str_len;
    const char *raw; /* the value as written, not NUL-terminated */
    size_t raw_len;
} json_member;

typedef struct {
    json_member *members;
    int n;
} json_object;

/* Parses text[0..len) as exactly one object; 0, or -1 with err set. */
int json_parse_object(const char *text, size_t len, json_object *obj, char err[BN_ERR_LEN]);
/* Parses text[0..len) as exactly one array; its elements become members
 * with empty keys (the raw text of an object element parses again with
 * json_parse_object). 0, or -1 with err set. */
int json_parse_array(const char *text, size_t len, json_object *items, char err[BN_ERR_LEN]);
void json_object_free(json_object *obj);
const json_member *json_get(const json_object *obj, const char *key);
/* A number member within [lo, hi], integral when `integer`: 0, or -1. */
int json_number_in(const json_member *mb, double lo, double hi, int integer, double *out);

/* The most stop strings a request or --batch line may give, and their
 * longest length in bytes. */
#define CLI_MAX_STOPS 16
#define CLI_MAX_STOP_LEN 256
/* Appends the stop strings of a "stop" member (a string, an array of
 * strings, or null for none) to *list (*n of them, each malloc'd); returns
 * NULL, or a message saying what is wrong. */
const char *json_stop_strings(const json_member *mb, char ***list, int *n);

#endif
