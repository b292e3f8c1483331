/*
 * test_reasoning.c - --reasoning-format: the text stream of src/common
 * keeps a Qwen3 "<think>...</think>" block and the newlines after it out
 * of the printed text when asked (its tags may arrive split over tokens),
 * prints it with none, and leaves the generated text whole either way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "common/stream.h"
#include "test.h"

/* The text printed for `text` tokenized with the bundled model's vocabulary
 * (byte-level BPE: the tags split over several tokens) and streamed token
 * by token. */
static char *printed(const bn_tokenizer *tok, const char *text, int hide)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    text_stream s = {.out = f, .hide_think = hide};
    int32_t *ids = NULL;
    char err[BN_ERR_LEN];
    const int n = bn_tokenize(tok, text, strlen(text), 0, &ids, err);
    CHECK(n > 0);
    for (int i = 0; i < n; i++) stream_token(&s, tok, ids[i]);
    stream_flush(&s);
    CHECK_MSG(s.text.len == strlen(text) && !memcmp(s.text.data, text, s.text.len),
              "the generated text changed: %s", s.text.data);
    fclose(f);
    free(ids);
    buf_free(&s.text);
    return out;
}

TEST(reasoning_blocks_hidden_or_shown)
{
    char err[BN_ERR_LEN];
    bn_tokenizer *tok = bn_tokenizer_load("models/bitnet-tiny.gguf", err); /* the bundled model */
    CHECK_MSG(tok != NULL, "%s", err);
    if (!tok) return;
    static const struct {
        const char *text, *hidden;
    } cases[] = {
        {"<think>\nThe user asks 2+2.\n</think>\n\nIt is 4.", "It is 4."},
        {"Plain text, no block.", "Plain text, no block."},
        {"a <b> c</think> d", "a <b> c</think> d"},
        {"<think>unfinished thought", ""},
        {"x<think>y</think>z<think>w</think>\n", "xz"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *h = printed(tok, cases[i].text, 1), *s = printed(tok, cases[i].text, 0);
        CHECK_MSG(h && !strcmp(h, cases[i].hidden), "hidden: '%s' gave '%s'", cases[i].text, h);
        CHECK_MSG(s && !strcmp(s, cases[i].text), "shown: '%s' gave '%s'", cases[i].text, s);
        free(h);
        free(s);
    }
    bn_tokenizer_free(tok);
}
