/*
 * grammar.h - constrained output: grammars in llama.cpp's GBNF syntax
 * (--grammar, --grammar-file, the server's "grammar" and response_format),
 * the pushdown matcher that follows the generated text, and the token mask
 * it gives the sampler. docs/GRAMMAR.md describes the syntax and limits.
 */
#ifndef BN_COMMON_GRAMMAR_H
#define BN_COMMON_GRAMMAR_H

#include <stddef.h>

#include "bitnet.h"

typedef struct grammar grammar;
typedef struct grammar_state grammar_state;

/* Parses GBNF text; the start symbol is the rule named "root". Grammars
 * that would explode (left recursion, repetition counts or sizes past the
 * limits, undefined rules) are refused. NULL with err set on error. */
grammar *grammar_parse(const char *text, size_t len, char err[BN_ERR_LEN]);
void grammar_free(grammar *g);

/* llama.cpp's JSON grammar: any JSON object (response_format json_object). */
extern const char GRAMMAR_JSON_OBJECT[];

/* A matcher at the start of the root rule; NULL when out of memory. */
grammar_state *grammar_start(const grammar *g);
void grammar_state_free(grammar_state *st);
/* Would the text (valid UTF-8) be accepted next? 1 or 0; st is unchanged. */
int grammar_allows(grammar_state *st, const char *s, size_t n);
/* Moves st past the text; 0, or -1 (st unchanged) when it is not allowed. */
int grammar_accept(grammar_state *st, const char *s, size_t n);
/* May the text end here (the root rule is complete)? */
int grammar_can_end(const grammar_state *st);

/* A grammar following one generation token by token: the pieces of the
 * vocabulary, decoded once, and the masked logits. */
typedef struct {
    grammar_state *st;
    const bn_tokenizer *tok;
    char *pieces;  /* every token's text, back to back */
    int *offsets;  /* token i is pieces[offsets[i], offsets[i + 1]) */
    float *masked; /* logits with the tokens the grammar forbids at -inf */
} grammar_tokens;

/* Starts following g for a vocabulary; 0, or -1 when out of memory. */
int grammar_tokens_init(grammar_tokens *gt, const grammar *g, const bn_tokenizer *tok);
void grammar_tokens_free(grammar_tokens *gt);
/* May token id come next? End-of-generation tokens only where the text may end. */
int grammar_token_allowed(grammar_tokens *gt, int32_t id);
/* The logits with every token the grammar forbids at -inf; *n_allowed
 * gets how many remain with a finite logit. */
const float *grammar_mask(grammar_tokens *gt, const float *logits, int *n_allowed);
/* Follows the token chosen (one grammar_token_allowed said yes to). */
void grammar_take(grammar_tokens *gt, int32_t id);

#endif
