/*
 * tokens.c - the vocabulary-only modes: --tokenize prints the prompt's
 * ids as a JSON array, --detokenize prints the text of a list of ids. Both
 * load only the tokenizer, not the weights.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"

#define SEPARATORS "[], \t\r\n" /* between the ids of --detokenize */
#define MAX_SHOWN 20            /* bytes of a bad id an error message repeats */

/* --tokenize: the prompt's ids as a JSON array. */
int run_tokenize(const run_opts *o)
{
    bn_tokenizer *tok = cli_load_tokenizer(o);
    size_t len;
    char *text = cli_load_prompt(o, &len);
    int n;
    int32_t *ids = cli_tokenize(tok, text, len, tokenize_flags(o), "prompt", &n);
    json_int_array(stdout, ids, n);
    putchar('\n');
    free(ids);
    free(text);
    bn_tokenizer_free(tok);
    return 0;
}

/* Appends the text of token id (control tokens only with --special). */
static void append_piece(text_buf *b, const bn_tokenizer *tok, int32_t id, int special)
{
    char small[256];
    int n = bn_token_to_piece(tok, id, special, small, sizeof small);
    if (n <= (int)sizeof small) {
        buf_append(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n);
    if (!big) log_out_of_memory();
    bn_token_to_piece(tok, id, special, big, (size_t)n);
    buf_append(b, big, (size_t)n);
    free(big);
}

/* --detokenize: the text of the ids given with -p. */
int run_detokenize(const run_opts *o)
{
    bn_tokenizer *tok = cli_load_tokenizer(o);
    size_t len;
    char *text = cli_load_prompt(o, &len);
    text_buf out = {0};
    for (char *p = text; *p;) {
        if (strchr(SEPARATORS, *p)) {
            p++;
            continue;
        }
        char *end;
        errno = 0;
        long id = strtol(p, &end, 10);
        if (end == p || errno || id < 0 || id >= bn_tokenizer_n_vocab(tok)) {
            const size_t len = strcspn(p, SEPARATORS);
            cli_die(EXIT_USAGE, "--detokenize: '%.*s' is not a token id of this vocabulary",
                    (int)(len < MAX_SHOWN ? len : MAX_SHOWN), p);
        }
        append_piece(&out, tok, (int32_t)id, o->special);
        p = end;
    }
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    putchar('\n');
    buf_free(&out);
    free(text);
    bn_tokenizer_free(tok);
    return 0;
}
