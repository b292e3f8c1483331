/*
 * test_chat_formats.c - the chat formats (bitnet, llama3, falcon3, chatml)
 * as ./bitnet-run renders them: --verbose-prompt's ids of the first two
 * turns against hand-written sequences of special tokens and plain text
 * pieces, each format recognised from its template (or named with
 * --chat-template), and --info naming it. The files are bitnet-tiny with
 * three reserved tokens renamed to the format's markers.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitnet.h"
#include "gguf_edit.h"
#include "test.h"

#define TINY_MODEL "models/bitnet-tiny.gguf"
#define BOS 1016
#define EOS 1017
#define R0 1018 /* reserved tokens, renamed per format */
#define R1 1019
#define R2 1020
#define SH 1021 /* <|start_header_id|> */
#define EH 1022 /* <|end_header_id|> */
#define EOT 1023
#define END (-1)
#define MAX_IDS 256
#define SYSTEM "Be brief."

/* A rendered turn: special ids, and text pieces tokenized on their own. */
typedef struct {
    int32_t id; /* or -1: text */
    const char *text;
} part;

#define ID(x)                                                                                      \
    {                                                                                              \
        (x), NULL                                                                                  \
    }
#define TXT(s)                                                                                     \
    {                                                                                              \
        -1, (s)                                                                                    \
    }
#define STOP                                                                                       \
    {                                                                                              \
        END, NULL                                                                                  \
    }

typedef struct {
    const char *name;
    const char *renamed[3]; /* texts of R0..R2, NULL: kept */
    const char *tmpl;       /* tokenizer.chat_template */
    part first[24];         /* system + "Hi there" */
    part second_tail[12];   /* what follows the closing token: "Yo" */
    int32_t close;          /* the token that closes a reply */
} format_case;

static const format_case CASES[] = {
    {"bitnet",
     {NULL, NULL, NULL},
     "{{ 'BITNET' }}",
     {ID(BOS), TXT("System: " SYSTEM), ID(EOT), TXT("User: Hi there"), ID(EOT), TXT("Assistant: "),
      STOP},
     {TXT("User: Yo"), ID(EOT), TXT("Assistant: "), STOP},
     EOT},
    {"llama3",
     {NULL, NULL, NULL},
     "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}",
     {ID(BOS), ID(SH), TXT("system"), ID(EH), TXT("\n\n" SYSTEM), ID(EOT), ID(SH), TXT("user"),
      ID(EH), TXT("\n\nHi there"), ID(EOT), ID(SH), TXT("assistant"), ID(EH), TXT("\n\n"), STOP},
     {ID(SH), TXT("user"), ID(EH), TXT("\n\nYo"), ID(EOT), ID(SH), TXT("assistant"), ID(EH),
      TXT("\n\n"), STOP},
     EOT},
    {"falcon3",
     {"<|system|>", "<|user|>", "<|assistant|>"},
     "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\n' + "
     "message['content'] + '\n' }}{% endif %}{% if loop.last and add_generation_prompt %}{{ "
     "'<|assistant|>\n' }}{% endif %}{% endfor %}",
     {ID(BOS), ID(R0), TXT("\n" SYSTEM "\n"), ID(R1), TXT("\nHi there\n"), ID(R2), TXT("\n"), STOP},
     {TXT("\n"), ID(R1), TXT("\nYo\n"), ID(R2), TXT("\n"), STOP},
     EOS},
    {"chatml",
     {"<|im_start|>", "<|im_end|>", NULL},
     "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
     "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}",
     {ID(BOS), ID(R0), TXT("system\n" SYSTEM), ID(R1), TXT("\n"), ID(R0), TXT("user\nHi there"),
      ID(R1), TXT("\n"), ID(R0), TXT("assistant\n"), STOP},
     {TXT("\n"), ID(R0), TXT("user\nYo"), ID(R1), TXT("\n"), ID(R0), TXT("assistant\n"), STOP},
     R1},
};

static void rename_tokens(ge_file *e, const format_case *c)
{
    size_t n;
    char **s = ge_get_str_array(e, "tokenizer.ggml.tokens", &n);
    for (int i = 0; i < 3; i++)
        if (c->renamed[i]) {
            free(s[R0 + i]);
            s[R0 + i] = strdup(c->renamed[i]);
        }
    ge_set_str_array(e, "tokenizer.ggml.tokens", (const char *const *)s, NULL, n);
    ge_free_strings(s, n);
    ge_set_str(e, "tokenizer.chat_template", c->tmpl);
}

/* The format's model file, written to a temporary path (static buffer). */
static const char *write_model(const format_case *c)
{
    ge_file e;
    if (ge_load(&e, TINY_MODEL)) return NULL;
    rename_tokens(&e, c);
    gb_buf b = {0};
    ge_write(&e, &b, NULL);
    const char *path = gb_write_temp(&b, c->name);
    gb_free(&b);
    ge_free(&e);
    return path;
}

/* Appends the ids of parts to want (the text pieces tokenized alone). */
static int expand(const bn_tokenizer *tok, const part *p, int32_t *want, int n)
{
    for (; p->id != END || p->text; p++) {
        if (p->id >= 0) {
            want[n++] = p->id;
            continue;
        }
        int32_t *ids = NULL;
        char err[BN_ERR_LEN];
        int k = bn_tokenize(tok, p->text, strlen(p->text), 0, &ids, err);
        for (int i = 0; i < k && n < MAX_IDS; i++) want[n++] = ids[i];
        free(ids);
    }
    return n;
}

/* The ids of the turn-th "number of tokens in prompt" block of stderr. */
static int printed_ids(const char *err, int turn, int32_t *ids)
{
    const char *p = err;
    for (int t = 0; t <= turn; t++) {
        p = strstr(p, "number of tokens in prompt = ");
        if (!p) return -1;
        p++;
    }
    int n = 0;
    const char *line = strchr(p, '\n');
    while (line && n < MAX_IDS) {
        line++;
        char *end;
        const char *num = line + strlen("bitnet-run: ");
        if (strncmp(line, "bitnet-run: ", strlen("bitnet-run: "))) break;
        long id = strtol(num, &end, 10);
        if (end == num || strncmp(end, " -> '", 5)) break;
        ids[n++] = (int32_t)id;
        line = strchr(end, '\n');
    }
    return n;
}

static void check_format(const format_case *c, const char *path, const char *flag)
{
    char err[BN_ERR_LEN];
    bn_tokenizer *tok = bn_tokenizer_load(path, err);
    CHECK_MSG(tok != NULL, "%s", err);
    if (!tok) return;
    char cmd[1024], *out = NULL, *log = NULL;
    snprintf(cmd, sizeof cmd,
             "printf 'Hi there\\nYo\\n' | %s -m %s -t 1 -cnv --temp 0 -n 2 "
             "--system '" SYSTEM "' --verbose-prompt %s",
             test_bitnet_run(), path, flag);
    CHECK_MSG(test_run(cmd, &out, &log) == 0, "%s: %s", c->name, log ? log : "");
    int32_t want[MAX_IDS] = {0}, got[MAX_IDS] = {0};
    int n_want = expand(tok, c->first, want, 0);
    int n_got = log ? printed_ids(log, 0, got) : -1;
    CHECK_MSG(n_got == n_want && !memcmp(got, want, (size_t)n_want * sizeof *want),
              "%s %s: first turn: %d ids printed, %d expected", c->name, flag, n_got, n_want);
    /* the second: the reply's last token, the closing one unless that
     * ended the reply, then the next turn */
    n_want = expand(tok, c->second_tail, want, 0);
    n_got = log ? printed_ids(log, 1, got) : -1;
    const int head = n_got - n_want;
    const int closed = head == 1   ? bn_token_is_eog(tok, got[0])
                       : head == 2 ? !bn_token_is_eog(tok, got[0]) && got[1] == c->close
                                   : 0;
    CHECK_MSG(closed && !memcmp(got + head, want, (size_t)n_want * sizeof *want),
              "%s %s: second turn: %d ids printed, tail of %d expected", c->name, flag, n_got,
              n_want);
    free(out);
    free(log);
    bn_tokenizer_free(tok);
}

TEST(chat_formats_render_hand_written_turns)
{
    POSIX_SHELL_OR_SKIP();
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        const char *p = write_model(&CASES[i]);
        CHECK_MSG(p != NULL, "cannot write the %s model", CASES[i].name);
        if (!p) continue;
        char path[256], flag[64];
        snprintf(path, sizeof path, "%s", p);
        check_format(&CASES[i], path, ""); /* recognised from the template */
        snprintf(flag, sizeof flag, "--chat-template %s", CASES[i].name);
        check_format(&CASES[i], path, flag);
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "%s -m %s --info", test_bitnet_run(), path);
        CHECK(test_run(cmd, &out, NULL) == 0);
        char line[64];
        snprintf(line, sizeof line, "chat format:     %s\n", CASES[i].name);
        CHECK_MSG(out && strstr(out, line), "--info does not say '%s'", line);
        free(out);
        unlink(path);
    }
}

TEST(chat_formats_verbose_prompt_in_plain_generation)
{
    POSIX_SHELL_OR_SKIP();
    char cmd[512], *out = NULL, *log = NULL;
    snprintf(cmd, sizeof cmd, "%s -m " TINY_MODEL " -p '2+2=' -n 1 --temp 0 --verbose-prompt",
             test_bitnet_run());
    CHECK(test_run(cmd, &out, &log) == 0);
    CHECK(log && strstr(log, "prompt: '2+2='") && strstr(log, "number of tokens in prompt = 5") &&
          strstr(log, "  1016 -> '<|begin_of_text|>'"));
    free(out);
    free(log);
}
