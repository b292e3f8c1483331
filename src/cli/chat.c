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

#include "cli.h"

/* How a reply that did not end by itself is closed before the next turn. */
typedef enum { CLOSE_NONE, CLOSE_TEXT, CLOSE_EOS } chat_close;

/* The text around the system prompt and each user turn. */
struct chat_format {
    const char *name;
    const char *system_prefix, *system_suffix;
    const char *user_prefix, *user_suffix;
    const char *after_reply; /* between a reply's end token and the next user turn */
    chat_close close;
    const char *eot_text; /* CLOSE_TEXT: the end-of-turn token's text */
};

static const chat_format FORMATS[] = {
    /* microsoft/bitnet-b1.58-2B-4T as HF defines it (docs/CHAT.md, bitnet) */
    {"bitnet", "System: ", "<|eot_id|>", "User: ", "<|eot_id|>Assistant: ", "", CLOSE_TEXT,
     "<|eot_id|>"},
    /* LLaMA-3 instruct headers (Llama3-8B-1.58) */
    {"llama3", "<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>",
     "<|start_header_id|>user<|end_header_id|>\n\n",
     "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", "", CLOSE_TEXT, "<|eot_id|>"},
    /* Falcon3-Instruct: a reply ends with EOS, then a newline */
    {"falcon3", "<|system|>\n", "\n", "<|user|>\n", "\n<|assistant|>\n", "\n", CLOSE_EOS, NULL},
    /* ChatML (Falcon-E) */
    {"chatml", "<|im_start|>system\n", "<|im_end|>\n", "<|im_start|>user\n",
     "<|im_end|>\n<|im_start|>assistant\n", "\n", CLOSE_TEXT, "<|im_end|>"},
    /* plain completion: the lines are appended as they are */
    {"none", "", "", "", "", "", CLOSE_NONE, NULL},
};
enum { FORMAT_BITNET, FORMAT_LLAMA3, FORMAT_FALCON3, FORMAT_CHATML, FORMAT_NONE, N_FORMATS };

#define TEMPLATE_KEY "tokenizer.chat_template"

typedef struct {
    const cli_opts *o;
    const bn_model *model;
    const bn_tokenizer *tok;
    const chat_format *fmt;
    const char *system;
    int32_t eot;     /* closes a reply that did not end by itself; -1: none */
    cli_seq q;       /* the reply being generated; its session holds the whole chat */
    cli_ids pending; /* the end of the last reply, evaluated with the next user text */
    cli_ids hist;    /* the session's tokens, for a context shift to evaluate again */
    int hist_out;    /* tokens of the current reply already in hist */
    int n_keep;      /* tokens a context shift keeps: the system prompt or --keep */
    int turn;
} chat;

/* ------------------------------------------------------- chat format */

static const chat_format *format_by_name(const char *name)
{
    for (int i = 0; i < N_FORMATS; i++)
        if (!strcmp(FORMATS[i].name, name)) return &FORMATS[i];
    cli_die(EXIT_USAGE, "--chat-template: unknown format '%s' (expected bitnet, llama3, falcon3, "
            "chatml or none)", name);
}

/* The format a template stands for, NULL when none. Like llama.cpp, it
 * never renders the Jinja text but recognises templates by substring, in
 * llama.cpp's order (docs/CHAT.md, Recognising the template). */
static const chat_format *format_of_template(const char *tpl)
{
    if (strstr(tpl, "BITNET")) return &FORMATS[FORMAT_BITNET];
    if (strstr(tpl, "<|im_start|>")) return &FORMATS[FORMAT_CHATML];
    if (strstr(tpl, "<|assistant|>") && strstr(tpl, "<|user|>") && !strstr(tpl, "<|end|>"))
        return &FORMATS[FORMAT_FALCON3];
    if (strstr(tpl, "<|start_header_id|>")) return &FORMATS[FORMAT_LLAMA3];
    return NULL;
}

/* The model's format; *why says what happened when there is none. */
static const chat_format *format_of_model(const bn_model *m, const char **why)
{
    char probe[1];
    int len = bn_model_meta_str(m, TEMPLATE_KEY, probe, sizeof probe);
    *why = "the model has no chat template";
    if (len < 0) return &FORMATS[FORMAT_NONE];
    char *tpl = malloc((size_t)len + 1);
    if (!tpl) cli_die(EXIT_MODEL, "out of memory");
    bn_model_meta_str(m, TEMPLATE_KEY, tpl, (size_t)len + 1);
    const chat_format *f = format_of_template(tpl);
    free(tpl);
    *why = "the model's chat template is not one this tool knows";
    return f ? f : &FORMATS[FORMAT_NONE];
}

const char *cli_chat_format_name(const bn_model *m)
{
    const char *why;
    return format_of_model(m, &why)->name;
}

/* The token that closes a reply in format f, -1 for none. */
static int32_t closing_token(const chat_format *f, const bn_tokenizer *tok)
{
    if (f->close == CLOSE_EOS) return bn_token_eos(tok);
    if (f->close == CLOSE_TEXT) return bn_token_lookup(tok, f->eot_text, strlen(f->eot_text));
    return -1;
}

const chat_format *chat_format_choose(const cli_opts *o, const bn_model *m)
{
    const char *why = NULL;
    const chat_format *f = o->chat_template ? format_by_name(o->chat_template)
                                            : format_of_model(m, &why);
    if (f == &FORMATS[FORMAT_NONE] && why)
        cli_note("%s: plain completion of each line (see --chat-template)", why);
    if (f->close != CLOSE_NONE && closing_token(f, bn_model_tokenizer(m)) < 0) {
        cli_note("the vocabulary has no %s token: plain completion of each line",
                 f->close == CLOSE_EOS ? "end-of-text" : f->eot_text);
        return &FORMATS[FORMAT_NONE];
    }
    return f;
}

int chat_format_message(const chat_format *f, const bn_tokenizer *tok, cli_buf *b,
                        const char *role, const char *text, size_t len)
{
    const int system = !strcmp(role, "system"), user = !strcmp(role, "user");
    if (!system && !user && strcmp(role, "assistant")) return -1;
    const char *prefix = system ? f->system_prefix : user ? f->user_prefix : "";
    buf_append(b, prefix, strlen(prefix));
    buf_append(b, text, len);
    if (system || user) {
        const char *suffix = system ? f->system_suffix : f->user_suffix;
        buf_append(b, suffix, strlen(suffix));
        return 0;
    }
    /* a past reply: its closing token's text, then what follows a reply */
    const int32_t close = closing_token(f, tok);
    const char *close_text = close >= 0 ? bn_token_text(tok, close) : NULL;
    if (close_text) buf_append(b, close_text, strlen(close_text));
    buf_append(b, f->after_reply, strlen(f->after_reply));
    return 0;
}

/* What a context shift keeps: BOS and the system prompt, or the first
 * --keep N tokens when that is more (-1: the system prompt). */
static int tokens_to_keep(const chat *c)
{
    cli_buf b = {0};
    if (c->system) chat_format_message(c->fmt, c->tok, &b, "system", c->system, strlen(c->system));
    const int flags = BN_TOK_PARSE_SPECIAL | (c->o->no_bos ? 0 : BN_TOK_ADD_BOS);
    int n;
    int32_t *ids = cli_tokenize(c->tok, b.data ? b.data : "", b.len, flags, "--system", &n);
    free(ids);
    buf_free(&b);
    return c->o->n_keep > n ? c->o->n_keep : n;
}

static void choose_format(chat *c, const bn_model *m)
{
    c->fmt = chat_format_choose(c->o, m);
    c->eot = closing_token(c->fmt, c->tok);
    c->n_keep = tokens_to_keep(c);
}

/* The text of one user turn; the first turn of a session also carries the
 * system prompt, the others follow the end of the last reply. */
static char *format_turn(const chat *c, const char *line, int first)
{
    cli_buf b = {0};
    if (!first) buf_append(&b, c->fmt->after_reply, strlen(c->fmt->after_reply));
    if (first && c->system)
        chat_format_message(c->fmt, c->tok, &b, "system", c->system, strlen(c->system));
    chat_format_message(c->fmt, c->tok, &b, "user", line, strlen(line));
    return b.data;
}

/* -------------------------------------------------------------- turns */

static void context_full(const chat *c)
{
    const bn_model *m = c->model;
    char hint[64];
    const int n_ctx = bn_session_n_ctx(c->q.session);
    cli_note("the context of %d tokens is full: the chat ends here (%s)", n_ctx,
             cli_context_hint(m, n_ctx, hint, sizeof hint));
}

/* The reply's tokens evaluated so far join hist (all but the last one
 * sampled, which is evaluated next), so hist follows the session. */
static void sync_hist(chat *c)
{
    const cli_seq *q = &c->q;
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
        cli_note("context shift: the context of %d tokens is full: keeping the first %d, "
                 "dropping %d, evaluating the last %d again", bn_session_n_ctx(s), c->n_keep,
                 n_discard, tail);
    int32_t *kept = c->hist.ids + c->n_keep;
    memmove(kept, kept + n_discard, (size_t)tail * sizeof *kept);
    c->hist.n = c->n_keep + tail;
    bn_session_truncate(s, c->n_keep);
    const int rc = tail ? bn_session_eval(s, kept, tail, NULL, err) : 0;
    if (rc < 0) cli_die(EXIT_MODEL, "%s", err);
    sync_hist(c); /* a Ctrl-C may have kept only part of the tail */
    c->q.lk.hist.n = 0; /* --lookup drafts from the new history */
    lookup_prompt(&c->q, c->hist.ids, c->hist.n);
    lookup_push(&c->q, c->q.next);
    return rc == BN_ABORTED ? -1 : 0;
}

/* A reply that stopped at a full context goes on after a context shift:
 * its last sampled token is evaluated next. */
static int continue_after_shift(chat *c)
{
    cli_seq *q = &c->q;
    if (strcmp(q->stop_reason, "context") || cli_interrupted) return 0;
    q->next = q->out.ids[q->out.n - 1];
    return shift_context(c) ? 0 : 1;
}

/* Generates the reply to the evaluated prompt, streaming it; returns 0,
 * or -1 when the context filled up. */
static int reply(chat *c, const int32_t *ids, int n)
{
    char err[BN_ERR_LEN];
    cli_seq *q = &c->q;
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
 * reply. Returns 0, or -1 when the context is full. */
static int user_turn(chat *c, const char *line)
{
    bn_session *s = c->q.session;
    int first = bn_session_n_past(s) == 0;
    char *text = format_turn(c, line, first);
    int flags = BN_TOK_PARSE_SPECIAL | (first && !c->o->no_bos ? BN_TOK_ADD_BOS : 0);
    int n;
    int32_t *ids = cli_tokenize(c->tok, text, strlen(text), flags, "chat input", &n);
    cli_ids all = {0};
    for (int i = 0; i < c->pending.n; i++) ids_push(&all, c->pending.ids[i]);
    for (int i = 0; i < n; i++) ids_push(&all, ids[i]);
    free(ids);
    if (c->o->verbose_prompt) cli_print_prompt(c->tok, text, strlen(text), all.ids, all.n);
    free(text);
    int rc = -1; /* the turn does not fit */
    while (bn_session_n_past(s) + all.n >= bn_session_n_ctx(s) && !shift_context(c)) {}
    if (bn_session_n_past(s) + all.n < bn_session_n_ctx(s)) {
        long before = bn_session_n_evaluated(s);
        rc = reply(c, all.ids, all.n);
        c->turn++;
        if (c->o->verbose)
            cli_note("turn %d: %d prompt tokens, %d reply tokens (stop: %s), %ld evaluated this "
                     "turn, %ld tokens evaluated in this session, context %d/%d",
                     c->turn, all.n, c->q.out.n, cli_stop_words(c->q.stop_reason),
                     bn_session_n_evaluated(s) - before, bn_session_n_evaluated(s),
                     bn_session_n_past(s), bn_session_n_ctx(s));
    }
    free(all.ids);
    return rc;
}

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

static void strip_newline(char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
}

static const char CHAT_HINT[] =
    "chat: type a message and press Enter (end a line with \\ to go on on the next); "
    "/help lists the commands, Ctrl-C stops a reply, Ctrl-D or /exit quits";

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
static int read_line(chat_input *in, const char *prompt, cli_buf *line)
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
static int read_message(chat_input *in, cli_buf *msg)
{
    cli_buf line = {0};
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
        if (!c->o->quiet) cli_note("chat cleared: the next message starts a new conversation");
    } else {
        cli_error("unknown command '%s' (/help lists the commands)", line);
    }
    return 0;
}

static int is_command(const char *line)
{
    return line[0] == '/' && ((line[1] >= 'a' && line[1] <= 'z') || (line[1] >= 'A' && line[1] <= 'Z'));
}

/* Reads and answers messages until /exit, end of input, a Ctrl-C at the
 * prompt or a full context; returns the exit code. */
static int converse(chat *c)
{
    chat_input in = {.show_prompt = isatty(STDIN_FILENO) && !c->o->quiet,
                     .editing = cli_line_editing()};
    cli_buf msg = {0};
    int code = 0;
    if (!c->o->quiet) cli_note("%s", CHAT_HINT);
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

int run_chat(const cli_opts *o)
{
    if (o->system && (o->prompt || o->prompt_file))
        cli_die(EXIT_USAGE, "--chat takes the system prompt from --system or -p/-f, not both");
    const char *src = o->prompt_file ? o->prompt_file : o->prompt;
    if (src && !strcmp(src, "-"))
        cli_die(EXIT_USAGE, "--chat reads the user's lines from stdin, so the system prompt "
                            "cannot come from stdin too");
    /* as in llama-cli, -p/-f give the system prompt in conversation mode */
    size_t len;
    char *system = o->system                       ? strdup(o->system)
                   : o->prompt || o->prompt_file ? cli_load_prompt(o, &len)
                                                 : NULL;
    bn_model *m = cli_load_model(o);
    chat c = {.o = o, .model = m, .tok = bn_model_tokenizer(m), .system = system && *system ? system : NULL};
    choose_format(&c, m);
    bn_session *s = cli_new_session(o, m, NULL, o->n_ctx);
    cli_note_kv_cache(o, s, 1);
    bn_sampler_params sp = o->sp;
    if (!o->seed_given) sp.seed = cli_clock_seed();
    cli_note_seed(o, sp.seed);
    c.q = (cli_seq){.session = s,
                    .sampler = cli_new_sampler(&sp, bn_model_n_vocab(m)),
                    .tok = c.tok,
                    .n_predict = o->n_predict,
                    .seed = sp.seed};
    c.q.stream = (cli_stream){.out = stdout, .stops = o->stops, .n_stops = o->n_stops};
    lookup_init(&c.q, o->lookup, o->lookup_ngram);
    cli_catch_sigint();
    int code = converse(&c);
    if (o->verbose) lookup_note(&c.q);
    cli_note_peak_memory(o);
    lookup_free(&c.q);
    free(c.pending.ids);
    free(c.hist.ids);
    free(c.q.out.ids);
    buf_free(&c.q.stream.text);
    bn_sampler_free(c.q.sampler);
    bn_session_free(s);
    free(system);
    bn_model_free(m);
    return code;
}
