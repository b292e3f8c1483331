/*
 * test_cli_lineedit.c - the chat's line editor on a real terminal: a tmux
 * pane runs `bitnet-run -cnv`, the test types a line with a typo, fixes it
 * with Left/BSpace/End (across a two-byte character), checks the fixed line
 * is echoed and answered as the same line read from a pipe is, recalls it
 * with Up, leaves it with Down, quits with Ctrl-D, and checks the terminal
 * modes after the run equal those before it. Skips without tmux.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define MODEL "models/bitnet-tiny.gguf"
#define CHAT_FLAGS "-m " MODEL " -cnv --temp 0 -n 8"
#define TYPED "Grüße wxörld" /* the typo: the x */
#define LEFTS_TO_TYPO 4      /* "örld" is four characters, five bytes */
#define FIXED "Grüße wörld!" /* after BSpace, End and "!" */
#define DONE_MARK "exit=0 same=yes"
#define POLL_US 100000
#define MAX_POLLS 150 /* 15 s: the sanitizer build starts slowly */
#define CMD_LEN 4096

static char tmux_cmd[256]; /* "tmux ... -L <private socket>" */

static int tmux(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int tmux(const char *fmt, ...)
{
    char args[CMD_LEN - 300], cmd[CMD_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null", tmux_cmd, args);
    return test_run(cmd, NULL, NULL);
}

static char *capture(void)
{
    char cmd[CMD_LEN], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s capture-pane -p -t le", tmux_cmd);
    if (test_run(cmd, &out, NULL)) {
        free(out);
        return NULL;
    }
    return out;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* The pane's last non-empty line, in place (hay is changed). */
static const char *last_line(char *hay)
{
    size_t n = strlen(hay);
    while (n && (hay[n - 1] == '\n' || hay[n - 1] == ' ')) hay[--n] = 0;
    const char *nl = strrchr(hay, '\n');
    return nl ? nl + 1 : hay;
}

/* Polls the pane until needle shows up at least times times (or, with
 * last non-NULL, the last line equals it); returns the capture or NULL. */
static char *wait_for(const char *needle, int times, const char *last)
{
    for (int i = 0; i < MAX_POLLS; i++) {
        char *pane = capture();
        if (pane && count(pane, needle) >= times) {
            if (!last) return pane;
            char *copy = strdup(pane);
            const int ok = !strcmp(last_line(copy), last);
            free(copy);
            if (ok) return pane;
        }
        free(pane);
        usleep(POLL_US);
    }
    char *pane = capture();
    test_fail(__FILE__, __LINE__, "the pane never showed '%s'%s%s; it shows:\n%s", needle,
              last ? " with the last line " : "", last ? last : "", pane ? pane : "(nothing)");
    free(pane);
    return NULL;
}

/* The first line the chat answers to FIXED when it comes from a pipe. */
static char *piped_reply(void)
{
    char cmd[CMD_LEN], *out = NULL;
    snprintf(cmd, sizeof cmd, "printf '%%s\\n' '" FIXED "' | %s " CHAT_FLAGS, test_bitnet_run());
    if (test_run(cmd, &out, NULL) || !out) {
        free(out);
        return NULL;
    }
    out[strcspn(out, "\n")] = 0;
    return out;
}

static void type_fix_recall_quit(const char *reply)
{
    char *pane = wait_for("\n>", 1, ">");
    if (!pane) return;
    free(pane);
    tmux("send-keys -t le -l '" TYPED "'");
    for (int i = 0; i < LEFTS_TO_TYPO; i++) tmux("send-keys -t le Left");
    tmux("send-keys -t le BSpace End");
    tmux("send-keys -t le -l '!'");
    tmux("send-keys -t le Enter");
    char answered[CMD_LEN];
    snprintf(answered, sizeof answered, "\n> " FIXED "\n%s\n", reply);
    if (!(pane = wait_for(answered, 1, ">"))) return;
    CHECK_MSG(!strstr(pane, TYPED), "the typo is still on screen:\n%s", pane);
    free(pane);
    tmux("send-keys -t le Up");
    if (!(pane = wait_for("> " FIXED, 2, "> " FIXED))) return;
    free(pane);
    tmux("send-keys -t le Down"); /* back to the empty line being typed */
    if (!(pane = wait_for("> " FIXED, 1, ">"))) return;
    free(pane);
    tmux("send-keys -t le C-d");
    /* the script prints the exit status and whether `stty -g` is unchanged */
    free(wait_for(DONE_MARK, 1, NULL));
}

TEST(cli_chat_line_editor)
{
    if (test_run("command -v tmux", NULL, NULL))
        SKIP("tmux is absent: the chat's line editor needs a terminal to be tested");
    if (access(MODEL, R_OK)) SKIP("the bundled tiny model is absent");
    char *reply = piped_reply();
    CHECK_MSG(reply && *reply, "the piped chat gave no reply");
    char script[] = "/tmp/bn-lineedit-XXXXXX";
    const int fd = mkstemp(script);
    if (fd < 0) {
        free(reply);
        SKIP("cannot write a temporary script");
    }
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "before=$(stty -g); %s " CHAT_FLAGS "; "
            "echo \"exit=$? same=$([ \"$(stty -g)\" = \"$before\" ] && echo yes || echo no)\"; "
            "sleep 60\n",
            test_bitnet_run());
    fclose(f);
    snprintf(tmux_cmd, sizeof tmux_cmd, "env -u TMUX tmux -u -f /dev/null -L bn-lineedit-%d",
             (int)getpid());
    char cwd[CMD_LEN / 2];
    if (!getcwd(cwd, sizeof cwd) ||
        tmux("new-session -d -s le -x 120 -y 30 -c '%s' 'sh %s'", cwd, script)) {
        tmux("kill-server");
        unlink(script);
        free(reply);
        SKIP("tmux could not start a session");
    }
    if (reply && *reply) type_fix_recall_quit(reply);
    tmux("kill-server");
    unlink(script);
    free(reply);
}
