/*
 * test_reasoning.c - --reasoning-format: the text stream of src/common
 * keeps a Qwen3 "<think>...</think>" block and the newlines after it out
 * of the printed text when asked (its tags may arrive split over tokens),
 * prints it with none, and leaves the generated text whole either way;
 * and the server's split of a reply into reasoning_content and content
 * gives the same from the whole text and from its pieces of any size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "common/reasoning.h"
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

/* The reasoning and content of text fed in pieces of `piece` bytes (0:
 * all at once), as "think|content". */
static char *split_in_pieces(const char *text, size_t piece)
{
    reasoning_split r = {0};
    text_buf think = {0}, content = {0}, out = {0};
    const size_t n = strlen(text), step = piece ? piece : n;
    for (size_t at = 0; at < n; at += step)
        reasoning_feed(&r, text + at, n - at < step ? n - at : step, 0, &think, &content);
    reasoning_feed(&r, "", 0, 1, &think, &content);
    buf_append(&out, think.len ? think.data : "", think.len);
    buf_append(&out, "|", 1);
    buf_append(&out, content.len ? content.data : "", content.len);
    reasoning_free(&r);
    buf_free(&think);
    buf_free(&content);
    return out.data;
}

TEST(reasoning_split_streamed_equals_whole)
{
    static const struct {
        const char *text, *split;
    } cases[] = {
        {"<think>\nThe user asks 2+2.\n</think>\n\nIt is 4.", "The user asks 2+2.|It is 4."},
        {"  \n<think>a\n\nb\n\n</think>c\n", "a\n\nb|c\n"},
        {"Plain text, no block.", "|Plain text, no block."},
        {"  leading spaces kept", "|  leading spaces kept"},
        {"<thin", "|<thin"},
        {"x<think>y</think>z", "|x<think>y</think>z"},
        {"<think>unfinished thought\n", "unfinished thought|"},
        {"<think></think>", "|"},
        {"<think>a </thin k</think>\n", "a </thin k|"},
        {"", "|"},
    };
    static const size_t pieces[] = {0, 1, 2, 3, 5, 8};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t j = 0; j < sizeof pieces / sizeof pieces[0]; j++) {
            char *got = split_in_pieces(cases[i].text, pieces[j]);
            CHECK_MSG(got && !strcmp(got, cases[i].split), "'%s' in pieces of %zu: '%s', not '%s'",
                      cases[i].text, pieces[j], got, cases[i].split);
            free(got);
        }
}
