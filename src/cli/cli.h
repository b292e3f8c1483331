/*
 * cli.h - the command-line tool (src/cli/): the modes (one file each) and
 * the helpers they share, which end the process on errors. The tool uses
 * only the public API of include/bitnet.h and the generation library of
 * src/common.
 */
#ifndef BN_CLI_H
#define BN_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bitnet.h"
#include "buf.h"
#include "log.h"
#include "options.h"
#include "setup.h"

/* The modes (<mode>.c); each returns the process exit code. */
int run_generate(const run_opts *o);
int run_chat(const run_opts *o);
int run_batch(const run_opts *o);
int run_perplexity(const run_opts *o);
int run_tokenize(const run_opts *o);
int run_detokenize(const run_opts *o);
int run_embedding(const run_opts *o);
/* --server (src/server). */
int run_server(const run_opts *o);
/* --verbose-prompt: the rendered prompt and its ids, one per line with its
 * text, on stderr (llama-cli's layout; prompt_echo.c). */
void cli_print_prompt(const bn_tokenizer *tok, const char *text, size_t len, const int32_t *ids,
                      int n);
/* version.c: the commit this build came from, and --version's lines. */
const char *cli_build_commit(void);
void cli_print_version(void);
/* `bitnet-run --bench ...` (bench.c). */
int run_bench(const run_opts *o);

/* --------------------------------------------------- the tool (tool.c) */

/* log_error, then exits with code. */
void cli_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* Set by SIGINT once cli_catch_sigint() ran. Blocking reads are not
 * restarted, so a Ctrl-C also ends a wait for input. */
extern volatile sig_atomic_t cli_interrupted;
void cli_catch_sigint(void);
/* A function the second Ctrl-C runs before the process exits at once (the
 * line editor puts the terminal back); async-signal-safe. */
void cli_on_hard_exit(void (*fn)(void));

/* Flushes f; a failed write ends the run: "writing output: <reason>" and
 * EXIT_MODEL, or quietly by SIGPIPE for a closed pipe. The streams call it
 * as they go, so a full disk stops a generation at once. */
void cli_check_output(FILE *f);
/* Registers the same check of stdout for the end of the process (every
 * exit path: --help, errors, each mode). */
void cli_check_output_at_exit(void);

/* Reads a whole file ('-' is stdin) into a NUL-terminated buffer; exits
 * with EXIT_MODEL naming `what` (the flag) and the file when it cannot. */
char *cli_read_file(const char *path, const char *what, size_t *len);
/* The prompt text from -p, -f or stdin; never NULL. */
char *cli_load_prompt(const run_opts *o, size_t *len);

/* The setup.h calls that exit on failure; sessions and contexts made here
 * stop at a Ctrl-C. */
bn_model *cli_load_model(const run_opts *o);
bn_tokenizer *cli_load_tokenizer(const run_opts *o);
bn_session *cli_new_session(const run_opts *o, bn_model *m, bn_context *ctx, int n_ctx);
/* Makes a Ctrl-C stop ctx's evaluations between layers. */
void cli_stop_at_interrupt(bn_context *ctx);
bn_sampler *cli_new_sampler(const bn_sampler_params *sp, int n_vocab);
/* The grammar of --grammar, --grammar-file or --json-schema, parsed
 * (NULL: none), or exits with a usage error saying what is wrong with it. */
struct grammar *cli_load_grammar(const run_opts *o);
/* Tokenizes, or exits with a usage error naming `what`. */
int32_t *cli_tokenize(const bn_tokenizer *tok, const char *text, size_t len, int flags,
                      const char *what, int *n);

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
int cli_line_read(cli_history *h, const char *prompt, text_buf *line);
void cli_history_free(cli_history *h);

#endif
