/*
 * chat.c - conversation mode (-cnv/--chat). Each line read from stdin
 * is one user turn, wrapped in the model's chat format (docs/CHAT.md) and
 * appended to one session: earlier turns stay in the KV cache and are never
 * evaluated again. A reply ends at an end-of-generation token, which is
 * evaluated together with the next user text, as llama-cli does. /clear
 * starts over, /exit quits; Ctrl-C stops a reply (or its prompt, which is
 * then forgotten), and a Ctrl-C at the prompt (or end of input) ends the
 * chat.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The text around the system prompt and each user turn. */
typedef struct {
    const char *name;
    const char *system_prefix, *system_suffix;
    const char *user_prefix, *user_suffix;
    int closes_with_eot; /* turns end with <|eot_id|> */
} chat_format;

static const chat_format FORMATS[] = {
    /* microsoft/bitnet-b1.58-2B-4T as HF defines it (docs/CHAT.md, bitnet) */
    {"bitnet", "System: ", "<|eot_id|>", "User: ", "<|eot_id|>Assistant: ", 1},
    /* LLaMA-3 instruct headers */
    {"llama3", "<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>",
     "<|start_header_id|>user<|end_header_id|>\n\n",
     "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", 1},
    /* plain completion: the lines are appended as they are */
    {"none", "", "", "", "", 0},
};
enum { FORMAT_BITNET, FORMAT_LLAMA3, FORMAT_NONE, N_FORMATS };

#define EOT_TEXT "<|eot_id|>"
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
    int turn;
} chat;

/* ------------------------------------------------------- chat format */

static const chat_format *format_by_name(const char *name)
{
    for (int i = 0; i < N_FORMATS; i++)
        if (!strcmp(FORMATS[i].name, name)) return &FORMATS[i];
    cli_die(EXIT_USAGE, "--chat-template: unknown format '%s' (expected bitnet, llama3 or none)",
            name);
}

/* The format the GGUF's template stands for. Like llama.cpp, it never
 * renders the Jinja text but recognises templates by substring
 * (docs/CHAT.md, Recognising the template). */
static const chat_format *format_of_model(const bn_model *m)
{
    char probe[1];
    int len = bn_model_meta_str(m, TEMPLATE_KEY, probe, sizeof probe);
    if (len < 0) {
        cli_note("the model has no chat template: plain completion of each line");
        return &FORMATS[FORMAT_NONE];
    }
    char *tpl = malloc((size_t)len + 1);
    if (!tpl) cli_die(EXIT_MODEL, "out of memory");
    bn_model_meta_str(m, TEMPLATE_KEY, tpl, (size_t)len + 1);
    const chat_format *f = strstr(tpl, "BITNET")                 ? &FORMATS[FORMAT_BITNET]
                           : strstr(tpl, "<|start_header_id|>") ? &FORMATS[FORMAT_LLAMA3]
                                                                 : NULL;
    free(tpl);
    if (!f) {
        cli_note("the model's chat template is not one this tool knows: plain completion of each "
                 "line (see --chat-template)");
        return &FORMATS[FORMAT_NONE];
    }
    return f;
}

static void choose_format(chat *c, const bn_model *m)
{
    c->fmt = c->o->chat_template ? format_by_name(c->o->chat_template) : format_of_model(m);
    c->eot = -1;
    if (!c->fmt->closes_with_eot) return;
    c->eot = bn_token_lookup(c->tok, EOT_TEXT, strlen(EOT_TEXT));
    if (c->eot < 0) {
        cli_note("the vocabulary has no %s token: plain completion of each line", EOT_TEXT);
        c->fmt = &FORMATS[FORMAT_NONE];
    }
}

/* The text of one user turn; the first turn of a session also carries the
 * system prompt. */
static char *format_turn(const chat *c, const char *line, int first)
{
    cli_buf b = {0};
    const chat_format *f = c->fmt;
    if (first && c->system) {
        buf_append(&b, f->system_prefix, strlen(f->system_prefix));
        buf_append(&b, c->system, strlen(c->system));
        buf_append(&b, f->system_suffix, strlen(f->system_suffix));
    }
    buf_append(&b, f->user_prefix, strlen(f->user_prefix));
    buf_append(&b, line, strlen(line));
    buf_append(&b, f->user_suffix, strlen(f->user_suffix));
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

/* Generates the reply to the evaluated prompt, streaming it; returns 0,
 * or -1 when the context filled up. */
static int reply(chat *c, const int32_t *ids, int n)
{
    char err[BN_ERR_LEN];
    cli_seq *q = &c->q;
    const int n_past0 = bn_session_n_past(q->session);
    q->out.n = 0;
    stream_clear(&q->stream);
    int r = seq_prefill(q, ids, n, err);
    while (r > 0) {
        if (cli_interrupted) {
            seq_interrupt(q);
            break;
        }
        r = seq_continue(q, err);
    }
    if (r < 0) cli_die(EXIT_MODEL, "%s", err);
    cli_interrupted = 0; /* a Ctrl-C during the reply ends only the reply */
    fputc('\n', stdout);
    cli_check_output(stdout);
    if (q->out.n == 0 && !strcmp(q->stop_reason, "interrupted")) {
        /* stopped inside the prompt: forget the turn, as if never typed */
        bn_session_truncate(q->session, n_past0);
        return 0;
    }
    /* The reply's last token is not evaluated yet. A reply that did not end
     * with an end-of-generation token is closed with <|eot_id|>, so the next
     * turn follows a well-formed one. */
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
    free(text);
    cli_ids all = {0};
    for (int i = 0; i < c->pending.n; i++) ids_push(&all, c->pending.ids[i]);
    for (int i = 0; i < n; i++) ids_push(&all, ids[i]);
    free(ids);
    int rc = -1; /* the turn does not fit */
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
    bn_sampler_reset(c->q.sampler);
    c->pending.n = 0;
}

/* ---------------------------------------------------------- the loop */

static void strip_newline(char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
}

/* Reads and answers lines until /exit, end of input, a Ctrl-C at the
 * prompt or a full context; returns the exit code. */
static int converse(chat *c)
{
    int show_prompt = isatty(STDIN_FILENO) && !c->o->quiet;
    char *line = NULL;
    size_t cap = 0;
    int code = 0;
    for (;;) {
        if (cli_interrupted) { /* Ctrl-C at the prompt, before the read began */
            code = EXIT_INTERRUPTED;
            break;
        }
        if (show_prompt) {
            fputs("> ", stdout);
            cli_check_output(stdout);
        }
        if (getline(&line, &cap, stdin) < 0) {
            code = cli_interrupted ? EXIT_INTERRUPTED : 0;
            if (show_prompt) fputc('\n', stdout);
            break;
        }
        strip_newline(line);
        if (!line[0]) continue;
        if (!strcmp(line, "/exit")) break;
        if (!strcmp(line, "/clear")) {
            clear(c);
            continue;
        }
        if (user_turn(c, line)) {
            context_full(c);
            break;
        }
    }
    free(line);
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
    cli_catch_sigint();
    int code = converse(&c);
    cli_note_peak_memory(o);
    free(c.pending.ids);
    free(c.q.out.ids);
    buf_free(&c.q.stream.text);
    bn_sampler_free(c.q.sampler);
    bn_session_free(s);
    free(system);
    bn_model_free(m);
    return code;
}
