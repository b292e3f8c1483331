/*
 * chat.c - conversation mode (-cnv/--chat). Each line read from stdin
 * is one user turn, wrapped in the model's chat format (docs/CHAT.md) and
 * appended to one session: earlier turns stay in the KV cache and are never
 * evaluated again. A reply ends at an end-of-generation token, which is
 * evaluated together with the next user text, as llama-cli does. /clear
 * starts over, /exit quits; Ctrl-C stops a reply (or its prompt, which is
 * then forgotten), and a Ctrl-C at the prompt (or end of input) ends the
 * chat. When the context fills, the oldest half of the conversation after
 * the system prompt (or --keep N tokens) is dropped and the chat goes on
 * (llama-cli's context shift). On a terminal the lines are read with the
 * line editor of lineedit.c (editing and history).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_format.h"
#include "cli.h"
#include "seq.h"
#include "timing.h"

typedef struct {
    const run_opts *o;
    const bn_model *model;
    const bn_tokenizer *tok;
    const chat_format *fmt;
    const char *system;
    int32_t eot;     /* closes a reply that did not end by itself; -1: none */
    gen_seq q;       /* the reply being generated; its session holds the whole chat */
    id_list pending; /* the end of the last reply, evaluated with the next user text */
    id_list hist;    /* the session's tokens, for a context shift to evaluate again */
    int hist_out;    /* tokens of the current reply already in hist */
    int n_keep;      /* tokens a context shift keeps: the system prompt or --keep */
    int turn;
} chat;

/* What a context shift keeps: BOS and the system prompt, or the first
 * --keep N tokens when that is more (-1: the system prompt). */
static int tokens_to_keep(const chat *c)
{
    text_buf b = {0};
    if (c->system) chat_format_message(c->fmt, c->tok, &b, "system", c->system, strlen(c->system));
    const int flags = BN_TOK_PARSE_SPECIAL | (c->o->no_bos ? 0 : BN_TOK_ADD_BOS);
    int n;
    int32_t *ids = cli_tokenize(c->tok, b.data ? b.data : "", b.len, flags, "--system", &n);
    free(ids);
    buf_free(&b);
    return c->o->n_keep > n ? c->o->n_keep : n;
}

/* Picks the chat format (--chat-template or the model's), its closing token
 * and the tokens a context shift keeps. */
static void choose_format(chat *c, const bn_model *m)
{
    char err[BN_ERR_LEN];
    c->fmt = chat_format_choose(c->o->chat_template, m, err);
    if (!c->fmt) cli_die(EXIT_USAGE, "--chat-template: %s", err);
    c->eot = chat_format_closing_token(c->fmt, c->tok);
    c->n_keep = tokens_to_keep(c);
}

/* The text of one user turn; the first turn of a session also carries the
 * system prompt, the others follow the end of the last reply. */
static char *format_turn(const chat *c, const char *line, int first)
{
    text_buf b = {0};
    if (!first) buf_append(&b, c->fmt->after_reply, strlen(c->fmt->after_reply));
    if (first && c->system)
        chat_format_message(c->fmt, c->tok, &b, "system", c->system, strlen(c->system));
    chat_format_message(c->fmt, c->tok, &b, "user", line, strlen(line));
    return b.data;
}

/* -------------------------------------------------------------- turns */

/* Says that the context is full and how to make it larger. */
static void context_full(const chat *c)
{
    const bn_model *m = c->model;
    char hint[64];
    const int n_ctx = bn_session_n_ctx(c->q.session);
    log_note("the context of %d tokens is full: the chat ends here (%s)", n_ctx,
             context_hint(m, n_ctx, hint, sizeof hint));
}

/* The reply's tokens evaluated so far join hist (all but the last one
 * sampled, which is evaluated next), so hist follows the session. */
static void sync_hist(chat *c)
{
    const gen_seq *q = &c->q;
    for (; c->hist_out < q->out.n - 1; c->hist_out++) ids_push(&c->hist, q->out.ids[c->hist_out]);
    const int n_past = bn_session_n_past(q->session);
    if (c->hist.n > n_past) c->hist.n = n_past;
}

/* llama-cli's context shift: keeps the first n_keep tokens, drops the
 * oldest half of the rest and evaluates the remaining half again (the
 * cache holds keys with RoPE applied at their old positions, so they
 * cannot simply move). Returns 0, or -1 when nothing can be dropped. */
static int shift_context(chat *c)
{
    char err[BN_ERR_LEN];
    bn_session *s = c->q.session;
    sync_hist(c);
    const int n_past = bn_session_n_past(s);
    const int n_discard = (n_past - c->n_keep) / 2;
    if (c->hist.n != n_past || n_discard <= 0) return -1;
    const int tail = n_past - c->n_keep - n_discard;
    if (c->o->verbose)
        log_note("context shift: the context of %d tokens is full: keeping the first %d, "
                 "dropping %d, evaluating the last %d again",
                 bn_session_n_ctx(s), c->n_keep, n_discard, tail);
    int32_t *kept = c->hist.ids + c->n_keep;
    memmove(kept, kept + n_discard, (size_t)tail * sizeof *kept);
    c->hist.n = c->n_keep + tail;
    bn_session_truncate(s, c->n_keep);
    const int rc = tail ? bn_session_eval(s, kept, tail, NULL, err) : 0;
    if (rc < 0) cli_die(EXIT_MODEL, "%s", err);
    sync_hist(c);       /* a Ctrl-C may have kept only part of the tail */
    c->q.lk.hist.n = 0; /* --lookup drafts from the new history */
    lookup_prompt(&c->q.lk, bn_session_n_past(s), c->hist.ids, c->hist.n);
    lookup_push(&c->q.lk, c->q.next);
    return rc == BN_ABORTED ? -1 : 0;
}

/* A reply that stopped at a full context goes on after a context shift:
 * its last sampled token is evaluated next. */
static int continue_after_shift(chat *c)
{
    gen_seq *q = &c->q;
    if (strcmp(q->stop_reason, "context") || cli_interrupted) return 0;
    q->next = q->out.ids[q->out.n - 1];
    return shift_context(c) ? 0 : 1;
}

/* Generates the reply to the evaluated prompt, streaming it; returns 0,
 * or -1 when the context filled up. */
static int reply(chat *c, const int32_t *ids, int n)
{
    char err[BN_ERR_LEN];
    gen_seq *q = &c->q;
    const int n_past0 = bn_session_n_past(q->session);
    q->out.n = 0;
    c->hist_out = 0;
    for (int i = 0; i < n; i++) ids_push(&c->hist, ids[i]);
    stream_clear(&q->stream);
    int r = seq_prefill(q, ids, n, err);
    while (r >= 0) {
        if (r == 0 && !(r = continue_after_shift(c))) break;
        if (cli_interrupted) {
            seq_interrupt(q);
            break;
        }
        r = seq_continue(q, err);
    }
    if (r < 0) cli_die(EXIT_MODEL, "%s", err);
    sync_hist(c);
    cli_interrupted = 0; /* a Ctrl-C during the reply ends only the reply */
    fputc('\n', stdout);
    cli_check_output(stdout);
    if (q->out.n == 0 && !strcmp(q->stop_reason, "interrupted")) {
        /* stopped inside the prompt: forget the turn, as if never typed */
        bn_session_truncate(q->session, n_past0);
        sync_hist(c);
        return 0;
    }
    /* The reply's last token is not evaluated yet. A reply that did not end
     * with an end-of-generation token is closed with the format's
     * end-of-turn token, so the next turn follows a well-formed one. */
    c->pending.n = 0;
    int32_t last = q->out.n ? q->out.ids[q->out.n - 1] : -1;
    if (last >= 0) ids_push(&c->pending, last);
    if ((last < 0 || !bn_token_is_eog(c->tok, last)) && c->eot >= 0) ids_push(&c->pending, c->eot);
    return strcmp(q->stop_reason, "context") ? 0 : -1;
}

/* One user turn: its text after the pending end of the last reply, then the
 * reply. A message that could not fit even after every context shift is
 * refused, and the chat goes on. Returns 0, or -1 when the context is full. */
static int user_turn(chat *c, const char *line)
{
    bn_session *s = c->q.session;
    int first = bn_session_n_past(s) == 0;
    char *text = format_turn(c, line, first);
    int flags = BN_TOK_PARSE_SPECIAL | (first && !c->o->no_bos ? BN_TOK_ADD_BOS : 0);
    int n;
    int32_t *ids = cli_tokenize(c->tok, text, strlen(text), flags, "chat input", &n);
    id_list all = {0};
    for (int i = 0; i < c->pending.n; i++) ids_push(&all, c->pending.ids[i]);
    for (int i = 0; i < n; i++) ids_push(&all, ids[i]);
    free(ids);
    if (c->o->verbose_prompt) cli_print_prompt(c->tok, text, strlen(text), all.ids, all.n);
    free(text);
    const int kept = bn_session_n_past(s) < c->n_keep ? bn_session_n_past(s) : c->n_keep;
    if (kept + all.n >= bn_session_n_ctx(s)) {
        log_note("message not sent: its %d tokens do not fit the context of %d tokens with the %d "
                 "kept; the chat goes on (a longer context: -c)",
                 all.n, bn_session_n_ctx(s), kept);
        free(all.ids);
        return 0;
    }
    int rc = -1; /* the turn does not fit */
    while (bn_session_n_past(s) + all.n >= bn_session_n_ctx(s) && !shift_context(c)) {
    }
    if (bn_session_n_past(s) + all.n < bn_session_n_ctx(s)) {
        long before = bn_session_n_evaluated(s);
        rc = reply(c, all.ids, all.n);
        c->turn++;
        if (c->o->verbose)
            log_note("turn %d: %d prompt tokens, %d reply tokens (stop: %s), %ld evaluated this "
                     "turn, %ld tokens evaluated in this session, context %d/%d",
                     c->turn, all.n, c->q.out.n, stop_words(c->q.stop_reason),
                     bn_session_n_evaluated(s) - before, bn_session_n_evaluated(s),
                     bn_session_n_past(s), bn_session_n_ctx(s));
    }
    free(all.ids);
    return rc;
}

/* /clear: empties the KV cache, the history and the sampler's memory. */
static void clear(chat *c)
{
    bn_session_reset(c->q.session);
    c->hist.n = 0;
    c->q.out.n = 0;
    c->hist_out = 0;
    bn_sampler_reset(c->q.sampler);
    c->pending.n = 0;
}

/* ---------------------------------------------------------- the loop */

/* Drops the line ending (\n or \r\n) of a line read from stdin. */
static void strip_newline(char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
}

static const char CHAT_HINT[] =
    "chat: type a message and press Enter (end a line with \\ to go on on the next); "
    "/help lists the commands, Ctrl-C stops a reply, Ctrl-D or /exit quits";

/* /help: the chat's commands, on stderr. */
static void print_help(void)
{
    fputs("  /help   this list\n"
          "  /clear  forget the conversation and start over\n"
          "  /exit   quit (Ctrl-D too)\n"
          "  a line ending in \\ goes on on the next line; Ctrl-C stops a reply, and a\n"
          "  Ctrl-C at the prompt quits\n",
          stderr);
}

/* Where the lines come from: the line editor on a terminal, else getline
 * as any stream is read. */
typedef struct {
    int show_prompt; /* stdin is a terminal and not -q: "> " and ". " */
    int editing;     /* stdin and stdout are a terminal */
    cli_history history;
    char *raw; /* getline's buffer */
    size_t raw_cap;
} chat_input;

/* One line without its newline; 0, or -1 at end of input. */
static int read_line(chat_input *in, const char *prompt, text_buf *line)
{
    if (in->editing) return cli_line_read(&in->history, in->show_prompt ? prompt : "", line);
    if (in->show_prompt) fputs(prompt, stdout), cli_check_output(stdout);
    if (getline(&in->raw, &in->raw_cap, stdin) < 0) return -1;
    strip_newline(in->raw);
    line->len = 0;
    buf_append(line, in->raw, strlen(in->raw));
    return 0;
}

/* Reads one message: a line, with the lines after it while it ends in a
 * backslash (which becomes a newline). 0, or -1 at end of input. */
static int read_message(chat_input *in, text_buf *msg)
{
    text_buf line = {0};
    int rc = 0;
    msg->len = 0;
    buf_append(msg, "", 0);
    for (const char *prompt = "> ";; prompt = ". ") {
        if (read_line(in, prompt, &line) < 0) {
            /* a continued message cut by Ctrl-D is still sent, not by Ctrl-C */
            rc = msg->len && !cli_interrupted ? 0 : -1;
            break;
        }
        const size_t n = line.len;
        if (!n || line.data[n - 1] != '\\') {
            buf_append(msg, line.data, n);
            break;
        }
        buf_append(msg, line.data, n - 1);
        buf_append(msg, "\n", 1);
    }
    buf_free(&line);
    return rc;
}

/* A line that starts with '/' and a letter is a command, never a message.
 * Returns 1 to quit, 0 when handled. */
static int command(chat *c, const char *line)
{
    if (!strcmp(line, "/exit")) return 1;
    if (!strcmp(line, "/help")) {
        print_help();
    } else if (!strcmp(line, "/clear")) {
        clear(c);
        if (!c->o->quiet) log_note("chat cleared: the next message starts a new conversation");
    } else {
        log_error("unknown command '%s' (/help lists the commands)", line);
    }
    return 0;
}

/* Whether a line is a /command (a slash and a letter), never sent to the model. */
static int is_command(const char *line)
{
    return line[0] == '/' &&
           ((line[1] >= 'a' && line[1] <= 'z') || (line[1] >= 'A' && line[1] <= 'Z'));
}

/* Reads and answers messages until /exit, end of input, a Ctrl-C at the
 * prompt or a full context; returns the exit code. */
static int converse(chat *c)
{
    chat_input in = {.show_prompt = isatty(STDIN_FILENO) && !c->o->quiet,
                     .editing = cli_line_editing()};
    text_buf msg = {0};
    int code = 0;
    if (!c->o->quiet) log_note("%s", CHAT_HINT);
    for (;;) {
        if (cli_interrupted) { /* Ctrl-C at the prompt, before the read began */
            code = EXIT_INTERRUPTED;
            break;
        }
        if (read_message(&in, &msg) < 0) {
            code = cli_interrupted ? EXIT_INTERRUPTED : 0;
            if (in.show_prompt) fputc('\n', stdout);
            break;
        }
        if (!msg.data[0]) continue;
        if (is_command(msg.data)) {
            if (command(c, msg.data)) break;
            continue;
        }
        if (user_turn(c, msg.data)) {
            context_full(c);
            break;
        }
    }
    buf_free(&msg);
    cli_history_free(&in.history);
    free(in.raw);
    return code;
}

/* --chat: loads the model, evaluates the system prompt and converses. */
int run_chat(const run_opts *o)
{
    if (o->system && (o->prompt || o->prompt_file))
        cli_die(EXIT_USAGE, "--chat takes the system prompt from --system or -p/-f, not both");
    const char *src = o->prompt_file ? o->prompt_file : o->prompt;
    if (src && !strcmp(src, "-"))
        cli_die(EXIT_USAGE, "--chat reads the user's lines from stdin, so the system prompt "
                            "cannot come from stdin too");
    /* as in llama-cli, -p/-f give the system prompt in conversation mode */
    size_t len;
    char *system = o->system                     ? strdup(o->system)
                   : o->prompt || o->prompt_file ? cli_load_prompt(o, &len)
                                                 : NULL;
    bn_model *m = cli_load_model(o);
    chat c = {.o = o,
              .model = m,
              .tok = bn_model_tokenizer(m),
              .system = system && *system ? system : NULL};
    choose_format(&c, m);
    bn_session *s = cli_new_session(o, m, NULL, o->n_ctx);
    note_kv_cache(o, s, 1);
    bn_sampler_params sp = o->sp;
    if (!o->seed_given) sp.seed = clock_seed();
    note_seed(o, sp.seed);
    c.q = (gen_seq){.session = s,
                    .sampler = cli_new_sampler(&sp, bn_model_n_vocab(m)),
                    .tok = c.tok,
                    .n_predict = o->n_predict,
                    .seed = sp.seed};
    c.q.stream = (text_stream){.out = stdout,
                               .check = cli_check_output,
                               .stops = o->stops,
                               .n_stops = o->n_stops,
                               .hide_think = opts_hide_think(o)};
    seq_want_logits(&c.q);
    lookup_init(&c.q.lk, o->lookup, o->lookup_ngram);
    cli_catch_sigint();
    int code = converse(&c);
    if (o->verbose) lookup_note(&c.q.lk);
    note_peak_memory(o);
    lookup_free(&c.q.lk);
    free(c.pending.ids);
    free(c.hist.ids);
    free(c.q.out.ids);
    seq_free_probs(&c.q);
    buf_free(&c.q.stream.text);
    bn_sampler_free(c.q.sampler);
    bn_session_free(s);
    free(system);
    bn_model_free(m);
    return code;
}
