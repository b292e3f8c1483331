/*
 * reasoning.c - splits a reply's opening reasoning block from its content
 * as the text streams (reasoning.h). What cannot be told apart yet stays
 * held: leading whitespace and a partial "<think>" before the block, a
 * partial "</think>" and trailing newlines inside it, and the newlines
 * right after it.
 */
#include <string.h>

#include "reasoning.h"
#include "stream.h"

#define THINK_OPEN "<think>"
#define THINK_CLOSE "</think>"

enum { BEFORE, IN_BLOCK, AFTER_CLOSE, IN_CONTENT };

/* Appends block text to think, less its leading newlines. */
static void think_append(reasoning_split *r, const char *p, size_t n, text_buf *think)
{
    if (!r->think_out)
        while (n && *p == '\n') p++, n--;
    buf_append(think, p, n);
    r->think_out += n > 0;
}

/* Before the first visible text: the block's opening tag, or content. */
static size_t step_before(reasoning_split *r, const char *t, size_t n, int final)
{
    size_t ws = 0;
    while (ws < n && (t[ws] == ' ' || t[ws] == '\n')) ws++;
    const size_t rest = n - ws, tl = strlen(THINK_OPEN);
    if (rest >= tl && !memcmp(t + ws, THINK_OPEN, tl)) {
        r->state = IN_BLOCK;
        return ws + tl;
    }
    if (!final && (rest == 0 || !memcmp(t + ws, THINK_OPEN, rest < tl ? rest : tl))) return 0;
    r->state = IN_CONTENT;
    return 0;
}

/* In the block: its text up to the closing tag, held newlines kept back. */
static size_t step_block(reasoning_split *r, const char *t, size_t n, int final, text_buf *think)
{
    const char *close = memmem(t, n, THINK_CLOSE, strlen(THINK_CLOSE));
    size_t end = close   ? (size_t)(close - t)
                 : final ? n
                         : n - tag_prefix_tail(THINK_CLOSE, t, n, 0);
    const size_t used = close ? end + strlen(THINK_CLOSE) : end;
    if (close) r->state = AFTER_CLOSE;
    while (end && t[end - 1] == '\n') end--;
    think_append(r, t, end, think);
    if (close || final) return used;
    return end; /* the trailing newlines wait for what follows them */
}

void reasoning_feed(reasoning_split *r, const char *p, size_t n, int final, text_buf *think,
                    text_buf *content)
{
    buf_append(&r->held, p, n);
    size_t at = 0, prev = (size_t)-1;
    int prev_state = -1;
    while (at != prev || r->state != prev_state) {
        prev = at;
        prev_state = r->state;
        const char *t = r->held.data + at;
        const size_t left = r->held.len - at;
        if (r->state == BEFORE) {
            at += step_before(r, t, left, final);
        } else if (r->state == IN_BLOCK) {
            at += step_block(r, t, left, final, think);
        } else if (r->state == AFTER_CLOSE) {
            size_t nl = 0;
            while (nl < left && t[nl] == '\n') nl++;
            at += nl;
            if (nl < left) r->state = IN_CONTENT;
        } else {
            buf_append(content, t, left);
            at += left;
        }
    }
    memmove(r->held.data, r->held.data + at, r->held.len - at);
    r->held.len -= at;
    r->held.data[r->held.len] = 0;
}

void reasoning_free(reasoning_split *r) { buf_free(&r->held); }
