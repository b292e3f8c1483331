/*
 * cli.h - shared pieces of the command-line tool (src/main.c, src/cli_*.c).
 * The tool uses only the public API of include/bitnet.h.
 */
#ifndef BN_CLI_H
#define BN_CLI_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes (llama.cpp-style tools return 1 for bad usage). */
enum { EXIT_USAGE = 1, EXIT_MODEL = 2, EXIT_INTERRUPTED = 130 };

/* Growable byte buffer. */
typedef struct {
    char *data;
    size_t len, cap;
} cli_buf;

void buf_append(cli_buf *b, const char *s, size_t n);
void buf_free(cli_buf *b);

/* JSON output (cli_json.c). Strings are escaped; invalid UTF-8 becomes
 * U+FFFD so the output is always valid JSON. */
void json_string(FILE *out, const char *s, size_t n);
void json_int_array(FILE *out, const int32_t *v, int n);

#endif
