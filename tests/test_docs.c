/*
 * test_docs.c - README.md's examples run as shown. A code block whose
 * fence follows a line `<!-- test -->` is run on the bundled tiny model
 * from the repository root, one command at a time:
 * - a line not starting with '#' is a command for sh (./bitnet-run is the
 *   binary under test); a line ending in '|' or '\' goes on on the next;
 * - the "# TEXT" lines after a command, and a "# TEXT" comment closing the
 *   command's line, are lines it prints, on stdout or stderr; "..." in TEXT
 *   stands for any text, and a line starting "#  " continues the one before;
 * - every command must exit with status 0.
 * Blocks that need a download, a terminal or a server stay unmarked.
 */
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define README "README.md"
#define MARK "<!-- test -->"
#define MIN_BLOCKS 5 /* the marked blocks of README.md today: losing a mark fails */
#define MAX_EXPECT 16
#define LINE_MAX_LEN 4096

typedef struct {
    char cmd[LINE_MAX_LEN];
    char expect[MAX_EXPECT][LINE_MAX_LEN];
    int n_expect;
} example;

/* Does text match pattern, where "..." in pattern matches any run? */
static int glob_match(const char *pat, const char *text)
{
    if (!strncmp(pat, "...", 3)) {
        for (const char *t = text;; t++) {
            if (glob_match(pat + 3, t)) return 1;
            if (!*t) return 0;
        }
    }
    if (!*pat) return !*text;
    return *pat == *text && glob_match(pat + 1, text + 1);
}

/* Is pattern one of the lines of out (trailing spaces ignored)? */
static int has_line(const char *out, const char *pattern)
{
    char line[LINE_MAX_LEN * 4];
    for (const char *p = out; p && *p;) {
        size_t n = strcspn(p, "\n");
        size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
        memcpy(line, p, k);
        while (k && (line[k - 1] == ' ' || line[k - 1] == '\r')) k--;
        line[k] = 0;
        if (glob_match(pattern, line)) return 1;
        p += n + (p[n] == '\n');
    }
    return 0;
}

/* The column of an unquoted '#' after a blank (a shell comment), or -1. */
static int comment_start(const char *line)
{
    char quote = 0;
    for (int i = 0; line[i]; i++) {
        if (quote) {
            if (line[i] == quote) quote = 0;
        } else if (line[i] == '\'' || line[i] == '"')
            quote = line[i];
        else if (line[i] == '#' && i > 0 && (line[i - 1] == ' ' || line[i - 1] == '\t'))
            return i;
    }
    return -1;
}

static void add_expect(example *e, const char *text)
{
    if (e->n_expect < MAX_EXPECT) snprintf(e->expect[e->n_expect++], LINE_MAX_LEN, "%s", text);
}

/* Runs one command and checks what it printed. */
static void run_example(const example *e)
{
    char cmd[LINE_MAX_LEN * 2], *out = NULL, *err = NULL;
    const char *bin = test_bitnet_run(), *at = strstr(e->cmd, "./bitnet-run");
    if (!at) { /* a helper command (printf ...) that feeds no example of ours */
        snprintf(cmd, sizeof cmd, "(%s)", e->cmd);
    } else {
        snprintf(cmd, sizeof cmd, "(%.*s%s%s)", (int)(at - e->cmd), e->cmd, bin,
                 at + strlen("./bitnet-run"));
    }
    const int rc = test_run(cmd, &out, &err);
    CHECK_MSG(rc == 0, "README: `%s` exited with %d: %s", e->cmd, rc, err ? err : "");
    for (int i = 0; i < e->n_expect; i++)
        CHECK_MSG(has_line(out, e->expect[i]) || has_line(err, e->expect[i]),
                  "README: `%s` does not print\n  %s\nbut\n%s%s", e->cmd, e->expect[i],
                  out ? out : "", err ? err : "");
    free(out);
    free(err);
}

/* Runs the commands of one marked block (its lines, NUL-separated). */
static void run_block(char **lines, int n)
{
    example e = {.n_expect = 0};
    int have = 0;
    for (int i = 0; i < n; i++) {
        const char *l = lines[i];
        if (l[0] == '#') {
            const char *text = l + 1 + (l[1] == ' ');
            if (!strncmp(l, "#  ", 3) && e.n_expect) { /* continues the line before */
                char *prev = e.expect[e.n_expect - 1];
                const size_t len = strlen(prev);
                snprintf(prev + len, LINE_MAX_LEN - len, " %s", l + strspn(l + 1, " ") + 1);
            } else if (have) {
                add_expect(&e, text);
            }
            continue;
        }
        if (have) run_example(&e);
        memset(&e, 0, sizeof e);
        have = 1;
        while (1) { /* the command, over its continuation lines */
            char line[LINE_MAX_LEN];
            snprintf(line, sizeof line, "%s", lines[i]);
            const int c = comment_start(line);
            if (c >= 0) {
                add_expect(&e, line + c + 1 + (line[c + 1] == ' '));
                line[c] = 0;
            }
            size_t len = strlen(line);
            while (len && line[len - 1] == ' ') line[--len] = 0;
            const int more = len && (line[len - 1] == '|' || line[len - 1] == '\\') && i + 1 < n;
            if (more && line[len - 1] == '\\') line[--len] = 0;
            const size_t used = strlen(e.cmd);
            snprintf(e.cmd + used, sizeof e.cmd - used, "%s%s", used ? " " : "", line);
            if (!more) break;
            i++;
        }
    }
    if (have) run_example(&e);
}

TEST(docs_readme_examples_run_as_shown)
{
    char *text = test_read_file(README, NULL);
    CHECK_MSG(text != NULL, "cannot read README.md (the tests run from the repository root)");
    if (!text) return;
    int n = 0, cap = 1; /* split into lines in place */
    for (const char *p = text; *p; p++) cap += *p == '\n';
    char **lines = malloc((size_t)cap * sizeof *lines);
    CHECK(lines != NULL);
    if (!lines) {
        free(text);
        return;
    }
    for (char *p = text; *p && n < cap;) {
        lines[n++] = p;
        p += strcspn(p, "\n");
        if (*p) *p++ = 0;
    }
    int blocks = 0;
    for (int i = 0; i + 1 < n; i++) {
        if (strcmp(lines[i], MARK)) continue;
        CHECK_MSG(!strncmp(lines[i + 1], "```", 3),
                  "README.md:%d: %s is not followed by a code fence", i + 1, MARK);
        int end = i + 2;
        while (end < n && strncmp(lines[end], "```", 3)) end++;
        run_block(lines + i + 2, end - (i + 2));
        blocks++;
        i = end;
    }
    CHECK_MSG(blocks >= MIN_BLOCKS, "README.md has %d blocks marked %s, expected at least %d",
              blocks, MARK, MIN_BLOCKS);
    free(lines);
    free(text);
}

/* --help and --bench --help list every flag of the option table (as
 * --print-flags gives them to tools/check-docs.sh), and the table's own
 * defaults parse: a bad one would say "option table:" on stderr. */
TEST(docs_help_lists_every_flag_of_the_table)
{
    char cmd[512], *flags = NULL, *help = NULL, *bench_help = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "%s --print-flags", test_bitnet_run());
    CHECK_EQ_INT(test_run(cmd, &flags, &err), 0);
    CHECK_MSG(err && !*err, "%s", err ? err : "");
    free(err);
    snprintf(cmd, sizeof cmd, "%s --help", test_bitnet_run());
    CHECK_EQ_INT(test_run(cmd, &help, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s --bench --help", test_bitnet_run());
    CHECK_EQ_INT(test_run(cmd, &bench_help, NULL), 0);
    int n = 0;
    for (const char *p = flags; p && help && bench_help && (p = strchr(p, '`'));) {
        const char *end = strchr(p + 1, '`');
        if (!end) break;
        char spec[256];
        snprintf(spec, sizeof spec, "%.*s", (int)(end - p - 1), p + 1);
        for (char *q = spec; (q = strstr(q, "\\|"));)
            memmove(q, q + 1, strlen(q)); /* Markdown's \| */
        const char *line = p;
        while (line > flags && line[-1] != '\n') line--;
        const char *in = !strncmp(line, "bench\t", 6) ? bench_help : help;
        CHECK_MSG(strstr(in, spec), "--help%s does not list %s",
                  in == bench_help ? " (--bench)" : "", spec);
        n++;
        p = end + 1;
    }
    CHECK_MSG(n > 50, "--print-flags gave %d flags", n);
    free(flags);
    free(help);
    free(bench_help);
}
