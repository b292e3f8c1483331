/*
 * prompt_echo.c - --verbose-prompt: the prompt as rendered (a chat turn in
 * its format) and the token ids it became, printed before generating so a
 * chat template can be checked. llama-cli's layout, on stderr, with
 * control bytes shown as \xNN (log_note).
 */
#include "cli.h"

#define PIECE_CAP 256 /* a longer token text is shown cut */

void cli_print_prompt(const bn_tokenizer *tok, const char *text, size_t len, const int32_t *ids,
                      int n)
{
    log_note("prompt: '%.*s'", (int)len, text);
    log_note("number of tokens in prompt = %d", n);
    for (int i = 0; i < n; i++) {
        char piece[PIECE_CAP];
        int k = bn_token_to_piece(tok, ids[i], 1, piece, sizeof piece);
        if (k < 0) k = 0;
        if (k > (int)sizeof piece) k = (int)sizeof piece;
        log_note("%6d -> '%.*s'", ids[i], k, piece);
    }
}
