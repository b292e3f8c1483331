/*
 * reasoning.h - a reply's opening "<think>...</think>" block (Qwen3's
 * reasoning) told apart from the rest, as the server reports them
 * (reasoning_content and content) under --reasoning-format auto/deepseek:
 * from the whole text at once, or from its pieces as they stream, with the
 * same result either way.
 */
#ifndef BN_COMMON_REASONING_H
#define BN_COMMON_REASONING_H

#include <stddef.h>

#include "buf.h"

typedef struct {
    int state;     /* before the reply's first visible text, in the block, after it */
    int think_out; /* bytes of the block written: its leading newlines are dropped */
    text_buf held; /* text not told apart yet: a tag's start, newlines */
} reasoning_split;

/* Feeds the next piece of the reply (final: it is the last). Appends what
 * can be told apart to think (the block, without its tags and the
 * newlines at its ends) and content (the rest, without the newlines that
 * follow the block). A block never closed is reasoning all the same. */
void reasoning_feed(reasoning_split *r, const char *p, size_t n, int final, text_buf *think,
                    text_buf *content);
void reasoning_free(reasoning_split *r);

#endif
