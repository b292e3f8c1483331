/*
 * stream.c - printing generated text as it comes, with stop strings
 * (--stop). A stop string may span several tokens, so the stream holds back
 * the longest tail of the text that could still grow into one, and prints
 * it only once it cannot; the stop string itself and anything after it are
 * never printed. Incomplete UTF-8 sequences are held back too, and so
 * are partial <think> tags when reasoning blocks are hidden.
 */
#include <string.h>

#include "stream.h"

#define PIECE_CAP 256 /* longer than any vocabulary piece */
#define THINK_OPEN "<think>"
#define THINK_CLOSE "</think>"

size_t tag_prefix_tail(const char *tag, const char *t, size_t n, size_t best)
{
    const size_t tl = strlen(tag);
    for (size_t k = tl - 1 < n ? tl - 1 : n; k > best; k--)
        if (!memcmp(t + n - k, tag, k)) return k;
    return best;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop
 * string: those bytes may still turn into a stop string. */
static size_t stop_prefix_tail(const text_stream *s, const char *t, size_t n)
{
    size_t best = 0;
    for (int i = 0; i < s->n_stops; i++) best = tag_prefix_tail(s->stops[i], t, n, best);
    const size_t near = n < sizeof THINK_CLOSE ? n : sizeof THINK_CLOSE; /* a tag's '<' */
    if (s->hide_think && memchr(t + n - near, '<', near))
        best = tag_prefix_tail(s->in_think ? THINK_CLOSE : THINK_OPEN, t, n, best);
    return best;
}

/* Offset of the earliest stop string in text from `from` on, or -1. A stop
 * string cannot begin before `emitted`: that text had no tail that could
 * become one. */
static long find_stop(const text_stream *s, size_t from)
{
    long first = -1;
    for (int i = 0; i < s->n_stops; i++) {
        const char *hit = memmem(s->text.data + from, s->text.len - from, s->stops[i],
                                 strlen(s->stops[i]));
        if (hit && (first < 0 || hit - s->text.data < first)) first = hit - s->text.data;
    }
    return first;
}

static void write_out(text_stream *s, size_t from, size_t to)
{
    if (!s->out || to <= from) return;
    fwrite(s->text.data + from, 1, to - from, s->out);
    if (s->check) s->check(s->out);
}

/* The offset of tag in text[from, to), or `to`. */
static size_t find_tag(const text_stream *s, const char *tag, size_t from, size_t to)
{
    const char *hit = memmem(s->text.data + from, to - from, tag, strlen(tag));
    return hit ? (size_t)(hit - s->text.data) : to;
}

/* Writes the text up to end that was not written yet, less the reasoning
 * blocks when they are hidden. */
static void emit_to(text_stream *s, size_t end)
{
    size_t at = s->emitted;
    while (s->hide_think && at < end) {
        if (s->in_think) { /* up to and past the closing tag */
            const size_t close = find_tag(s, THINK_CLOSE, at, end);
            at = close < end ? close + strlen(THINK_CLOSE) : end;
            s->in_think = close == end;
            s->after_think = !s->in_think;
        } else if (s->after_think && s->text.data[at] == '\n') {
            at++;
        } else {
            s->after_think = 0;
            const size_t open = find_tag(s, THINK_OPEN, at, end);
            write_out(s, at, open);
            at = open < end ? open + strlen(THINK_OPEN) : end;
            s->in_think = open < end;
        }
    }
    write_out(s, at, end);
    if (end > s->emitted) s->emitted = end;
}

int stream_token(text_stream *s, const bn_tokenizer *tok, int32_t id)
{
    char piece[PIECE_CAP];
    int n = bn_token_to_piece(tok, id, 0, piece, sizeof piece);
    if (n <= 0) return 0;
    if (n > PIECE_CAP) n = PIECE_CAP;
    buf_append(&s->text, piece, (size_t)n);
    long stop = find_stop(s, s->emitted);
    if (stop >= 0) {
        s->text.len = (size_t)stop;
        s->text.data[stop] = 0;
        emit_to(s, s->text.len);
        return 1;
    }
    const char *rest = s->text.data + s->emitted;
    size_t avail = s->text.len - s->emitted;
    size_t safe = avail - stop_prefix_tail(s, rest, avail);
    emit_to(s, s->emitted + bn_utf8_complete_prefix(rest, safe));
    return 0;
}

void stream_flush(text_stream *s) { emit_to(s, s->text.len); }

void stream_clear(text_stream *s)
{
    s->text.len = 0;
    if (s->text.data) s->text.data[0] = 0;
    s->emitted = 0;
    s->in_think = s->after_think = 0;
}
