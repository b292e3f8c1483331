/*
 * lineedit.c - the chat's line editor, used when stdin and stdout are a
 * terminal: left/right, home/end (Ctrl-A/Ctrl-E), backspace/delete,
 * Ctrl-U/Ctrl-K, and up/down through the lines typed in this session. The
 * terminal is in raw mode (no ICANON, no ECHO) only while a line is read,
 * and goes back to how it was on every way out: Enter, Ctrl-D, Ctrl-C, an
 * error, exit() (atexit) and SIGTERM/SIGHUP/SIGQUIT (os.h). Ctrl-C still
 * interrupts and ends the read as it does with getline. On Windows the
 * console sends keys as the same escape sequences (os_win32.c).
 * The line is redrawn with plain ANSI sequences; it scrolls sideways when
 * it is wider than the terminal, counting one column per character.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "os.h"

#define KEY_CTRL(c) ((c)&0x1f)
#define ESC 0x1b
#define DEL 0x7f
#define DEFAULT_COLUMNS 80
#define HISTORY_MAX 1000 /* oldest lines are dropped past this */
#define MAX_SEQ_PARAM 16 /* digits of an escape sequence's parameter kept */

/* Keys that arrive as escape sequences, numbered past the byte values. */
enum { KEY_LEFT = 256, KEY_RIGHT, KEY_UP, KEY_DOWN, KEY_HOME, KEY_END, KEY_DELETE, KEY_OTHER };

/* Puts the terminal in raw mode (no echo, byte by byte) for one line; it
 * is put back on every way out: os_term_raw hooks exit() and fatal
 * signals, the hard exit of a second Ctrl-C is the tool's own. */
static void enter_raw_mode(void)
{
    static int hooked;
    if (!hooked) {
        hooked = 1;
        cli_on_hard_exit(os_term_restore);
    }
    if (os_term_raw()) cli_die(EXIT_MODEL, "terminal: %s", strerror(errno));
}

/* Whether stdin and stdout are a terminal the editor can drive. */
int cli_line_editing(void) { return os_term_usable(); }

/* ------------------------------------------------------------ UTF-8 */

/* Bytes of the character at pos; a byte that starts no valid sequence
 * counts as one character, so the cursor never gets stuck. */
static size_t char_len(const text_buf *b, size_t pos)
{
    uint32_t cp;
    const size_t n = bn_utf8_decode((const unsigned char *)b->data + pos, b->len - pos, &cp);
    return n ? n : 1;
}

/* Where the character before pos starts. */
static size_t char_before(const text_buf *b, size_t pos)
{
    size_t p = pos - 1;
    while (p > 0 && pos - p < 4 && ((unsigned char)b->data[p] & 0xC0) == 0x80) p--;
    return char_len(b, p) == pos - p ? p : pos - 1;
}

/* The screen columns of the characters between byte offsets from and to. */
static int columns(const text_buf *b, size_t from, size_t to)
{
    int n = 0;
    for (size_t p = from; p < to; p += char_len(b, p)) n++;
    return n;
}

/* ------------------------------------------------------------ editing */

typedef struct {
    text_buf *line;
    size_t pos; /* the cursor: a byte offset at a character's start */
    text_buf prompt;
    cli_history *h;
    int at;         /* the history line shown; h->n: the line being typed */
    text_buf draft; /* the line being typed, kept while browsing history */
    text_buf out;   /* one redraw's bytes */
} editor;

/* Writes n bytes to the terminal, retrying after interrupts. */
static void write_all(const char *s, size_t n)
{
    while (n) {
        const ssize_t w = write(STDOUT_FILENO, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            const int err = w < 0 ? errno : EIO;
            os_term_restore();
            cli_die(EXIT_MODEL, "writing output: %s", strerror(err));
        }
        s += w;
        n -= (size_t)w;
    }
}

/* The terminal's width, or DEFAULT_COLUMNS when it does not say. */
static int terminal_columns(void)
{
    const int n = os_term_columns();
    return n > 0 ? n : DEFAULT_COLUMNS;
}

/* Draws the prompt and the part of the line around the cursor that fits,
 * clears the rest of the row and puts the cursor in place. */
static void redraw(editor *e)
{
    const text_buf *b = e->line;
    const int prompt_cols = columns(&e->prompt, 0, e->prompt.len);
    int room = terminal_columns() - prompt_cols - 1;
    if (room < 1) room = 1;
    size_t from = 0;
    int cursor = columns(b, 0, e->pos);
    for (; cursor >= room; cursor--) from += char_len(b, from);
    size_t to = from;
    for (int shown = 0; to < b->len && shown < room; shown++) to += char_len(b, to);
    char move[32];
    const int n_move = snprintf(move, sizeof move, "\r\x1b[%dC", prompt_cols + cursor);
    e->out.len = 0;
    buf_append(&e->out, "\r", 1);
    buf_append(&e->out, e->prompt.data, e->prompt.len);
    buf_append(&e->out, b->data + from, to - from);
    buf_append(&e->out, "\x1b[K", 3);
    if (prompt_cols + cursor > 0) buf_append(&e->out, move, (size_t)n_move);
    write_all(e->out.data, e->out.len);
}

/* Removes n bytes at offset at from the line. */
static void erase(editor *e, size_t at, size_t n)
{
    text_buf *b = e->line;
    memmove(b->data + at, b->data + at + n, b->len - at - n + 1);
    b->len -= n;
}

/* Inserts one byte at the cursor and moves the cursor past it. */
static void insert(editor *e, char c)
{
    text_buf *b = e->line;
    buf_append(b, &c, 1); /* grows the buffer; the byte moves into place below */
    memmove(b->data + e->pos + 1, b->data + e->pos, b->len - 1 - e->pos);
    b->data[e->pos++] = c;
}

/* Replaces the line with s, cursor at its end. */
static void set_line(editor *e, const char *s)
{
    e->line->len = 0;
    buf_append(e->line, s, strlen(s));
    e->pos = e->line->len;
}

/* Up (step -1) or down (+1) in the history, keeping the line being typed. */
static void history_move(editor *e, int step)
{
    const int to = e->at + step;
    if (to < 0 || to > e->h->n) return;
    if (e->at == e->h->n) {
        e->draft.len = 0;
        buf_append(&e->draft, e->line->data, e->line->len);
    }
    e->at = to;
    set_line(e, to == e->h->n ? e->draft.data : e->h->lines[to]);
}

/* Appends a typed line to the history (not an empty line or a repeat). */
static void history_add(cli_history *h, const char *line)
{
    if (!*line || (h->n && !strcmp(h->lines[h->n - 1], line))) return;
    if (h->n == HISTORY_MAX) {
        free(h->lines[0]);
        memmove(h->lines, h->lines + 1, (size_t)(h->n - 1) * sizeof *h->lines);
        h->n--;
    }
    char **lines = realloc(h->lines, (size_t)(h->n + 1) * sizeof *lines);
    char *copy = strdup(line);
    if (!lines || !copy) log_out_of_memory();
    h->lines = lines;
    h->lines[h->n++] = copy;
}

/* Frees the lines of a history. */
void cli_history_free(cli_history *h)
{
    for (int i = 0; i < h->n; i++) free(h->lines[i]);
    free(h->lines);
    *h = (cli_history){0};
}

/* Applies one key; bytes that are neither a known control key nor text
 * are ignored. */
static void edit_key(editor *e, int key)
{
    text_buf *b = e->line;
    if ((key == KEY_LEFT || key == KEY_CTRL('B')) && e->pos > 0)
        e->pos = char_before(b, e->pos);
    else if ((key == KEY_RIGHT || key == KEY_CTRL('F')) && e->pos < b->len)
        e->pos += char_len(b, e->pos);
    else if (key == KEY_HOME || key == KEY_CTRL('A'))
        e->pos = 0;
    else if (key == KEY_END || key == KEY_CTRL('E'))
        e->pos = b->len;
    else if ((key == DEL || key == KEY_CTRL('H')) && e->pos > 0) {
        const size_t p = char_before(b, e->pos);
        erase(e, p, e->pos - p);
        e->pos = p;
    } else if ((key == KEY_DELETE || key == KEY_CTRL('D')) && e->pos < b->len)
        erase(e, e->pos, char_len(b, e->pos));
    else if (key == KEY_CTRL('U')) {
        erase(e, 0, e->pos);
        e->pos = 0;
    } else if (key == KEY_CTRL('K'))
        erase(e, e->pos, b->len - e->pos);
    else if (key == KEY_UP || key == KEY_CTRL('P'))
        history_move(e, -1);
    else if (key == KEY_DOWN || key == KEY_CTRL('N'))
        history_move(e, 1);
    else if (key >= ' ' && key != DEL && key < KEY_LEFT)
        insert(e, (char)key); /* text, UTF-8 too */
}

/* ------------------------------------------------------------ input */

/* One byte of input, or -1 at end of input, on an error or a Ctrl-C
 * (SIGINT ends the blocking read: cli_catch_sigint has no SA_RESTART). */
static int read_byte(void)
{
    for (;;) {
        if (cli_interrupted) return -1;
        unsigned char c;
        const ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r == 1) return c;
        if (r < 0 && errno == EINTR) continue;
        return -1;
    }
}

/* The key an escape sequence after ESC stands for: CSI (ESC [) and SS3
 * (ESC O) forms of the arrows, home, end and delete. */
static int read_escape(void)
{
    const int intro = read_byte();
    if (intro != '[' && intro != 'O') return intro < 0 ? -1 : KEY_OTHER;
    int param = 0, c, digits = 0;
    while ((c = read_byte()) >= '0' && c <= '9')
        if (digits++ < MAX_SEQ_PARAM) param = param * 10 + (c - '0');
    while (c >= 0 && (c < '@' || c > '~')) c = read_byte(); /* ";5" modifiers and such */
    switch (c) {
    case 'A': return KEY_UP;
    case 'B': return KEY_DOWN;
    case 'C': return KEY_RIGHT;
    case 'D': return KEY_LEFT;
    case 'H': return KEY_HOME;
    case 'F': return KEY_END;
    case '~':
        return param == 1 || param == 7   ? KEY_HOME
               : param == 4 || param == 8 ? KEY_END
               : param == 3               ? KEY_DELETE
                                          : KEY_OTHER;
    default: return c < 0 ? -1 : KEY_OTHER;
    }
}

/* One key: a byte, or an escape sequence decoded to a KEY_ code. */
static int read_key(void)
{
    const int c = read_byte();
    return c == ESC ? read_escape() : c;
}

/* Edits until Enter (0) or the end of input: Ctrl-D on an empty line,
 * Ctrl-C or a read error (-1). */
static int edit_line(editor *e)
{
    redraw(e);
    for (;;) {
        const int key = read_key();
        if (key < 0 || (key == KEY_CTRL('D') && e->line->len == 0)) return -1;
        if (key == '\r' || key == '\n') return 0;
        edit_key(e, key);
        /* the bytes of a character are drawn once it is whole */
        if (bn_utf8_complete_prefix(e->line->data, e->pos) == e->pos) redraw(e);
    }
}

/* Reads one edited line after prompt; 0, or -1 at the end of input. */
int cli_line_read(cli_history *h, const char *prompt, text_buf *line)
{
    line->len = 0;
    buf_append(line, "", 0);
    cli_check_output(stdout); /* what was printed comes before the prompt */
    editor e = {.line = line, .h = h, .at = h->n};
    buf_append(&e.prompt, prompt, strlen(prompt));
    enter_raw_mode();
    const int rc = edit_line(&e);
    if (rc == 0) {
        e.pos = line->len;
        redraw(&e);
        write_all("\n", 1);
        history_add(h, line->data);
    }
    os_term_restore();
    buf_free(&e.prompt);
    buf_free(&e.draft);
    buf_free(&e.out);
    return rc;
}
