/*
 * stream.c - printing generated text as it comes, with stop strings
 * (--stop). A stop string may span several tokens, so the stream holds back
 * the longest tail of the text that could still grow into one, and prints
 * it only once it cannot; the stop string itself and anything after it are
 * never printed. Incomplete UTF-8 sequences are held back too.
 */
#include <string.h>

#include "stream.h"

#define PIECE_CAP 256 /* longer than any vocabulary piece */

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop
 * string: those bytes may still turn into a stop string. */
static size_t stop_prefix_tail(const text_stream *s, const char *t, size_t n)
{
    size_t best = 0;
    for (int i = 0; i < s->n_stops; i++) {
        size_t sl = strlen(s->stops[i]);
        for (size_t k = sl - 1 < n ? sl - 1 : n; k > best; k--)
            if (!memcmp(t + n - k, s->stops[i], k)) {
                best = k;
                break;
            }
    }
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

/* Writes the text up to end that was not written yet. */
static void emit_to(text_stream *s, size_t end)
{
    if (s->out && end > s->emitted) {
        fwrite(s->text.data + s->emitted, 1, end - s->emitted, s->out);
        if (s->check) s->check(s->out);
    }
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
}
