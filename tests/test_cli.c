/*
 * test_cli.c - the bitnet-run command line, run as a program from the repo
 * root on the bundled tiny model: prompt sources, -q, --json, stop strings,
 * exit codes and error messages, Ctrl-C, chat (the KV cache carries earlier
 * turns), --batch (equal to single runs), --perplexity, and the KV cache
 * types of -ctk/-ctv in every mode.
 */
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gguf_edit.h"
#include "json_mini.h"
#include "kernels/kernels.h"
#include "test.h"

#define MODEL "models/bitnet-tiny.gguf"
#define WITH_MODEL "-m " MODEL " -t 1 " /* the flags of most runs */
#define CHILD_TIMEOUT_MS 20000

/* ------------------------------------------------------------ helpers */

/* Writes n bytes to a new temporary file; returns its malloc'd path. */
static char *tmp_file(const char *content, size_t n)
{
    char *path = strdup("/tmp/bn-cli-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, content, n) != (ssize_t)n) {
        test_fail(__FILE__, __LINE__, "cannot write a temporary file");
        if (fd >= 0) close(fd);
        return path;
    }
    close(fd);
    return path;
}

static void tmp_remove(char *path)
{
    unlink(path);
    free(path);
}

/* Runs bitnet-run with args through the shell; returns the exit status. */
static int cli_bare(const char *args, char **out, char **err)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "%s %s", test_bitnet_run(), args);
    return test_run(cmd, out, err);
}

/* The same on the tiny model with one thread. */
static int cli(const char *args, char **out, char **err)
{
    char with_model[8192];
    snprintf(with_model, sizeof with_model, WITH_MODEL "%s", args);
    return cli_bare(with_model, out, err);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* The string value of key in the JSON object at obj (malloc'd) or NULL. */
static char *jstr(const char *obj, const char *key)
{
    const char *end = obj + strlen(obj);
    const char *v = json_find(obj, end, key);
    char *s = NULL;
    if (!v || json_string(v, end, &s) < 0) return NULL;
    return s;
}

/* The int array of key in obj into *ids (malloc'd); its length or -1. */
static long jints(const char *obj, const char *key, int32_t **ids)
{
    const char *end = obj + strlen(obj);
    const char *v = json_find(obj, end, key);
    *ids = NULL;
    return v ? json_int_array(v, end, ids) : -1;
}

static long jlong(const char *obj, const char *key)
{
    const char *v = json_find(obj, obj + strlen(obj), key);
    return v ? strtol(v, NULL, 10) : -1;
}

/* Does the result `got` have the text and output ids of `want`? */
static int same_result(const char *got, const char *want)
{
    char *t1 = jstr(got, "text"), *t2 = jstr(want, "text");
    int32_t *a, *b;
    long na = jints(got, "output_ids", &a), nb = jints(want, "output_ids", &b);
    int same = t1 && t2 && !strcmp(t1, t2) && na > 0 && na == nb &&
               !memcmp(a, b, (size_t)na * sizeof *a);
    free(t1), free(t2), free(a), free(b);
    return same;
}

/* Is err exactly one "bitnet-run: error: ..." line? */
static int one_error_line(const char *err)
{
    return err && !strncmp(err, "bitnet-run: error: ", 19) && count_lines(err) == 1 &&
           err[strlen(err) - 1] == '\n';
}

/* ------------------------------------- a child we can send Ctrl-C to */

typedef struct {
    pid_t pid;
    int in, out; /* its stdin (write end) and stdout (read end) */
    char err_path[64];
    char *buf; /* what it printed so far */
    size_t len;
} child;

/* Starts bitnet-run with argv (argv[0] is set to the binary). */
static int spawn(child *c, const char **argv)
{
    argv[0] = test_bitnet_run();
    int in[2], out[2];
    memset(c, 0, sizeof *c);
    strcpy(c->err_path, "/tmp/bn-cli-test-err-XXXXXX");
    int efd = mkstemp(c->err_path);
    if (efd < 0 || pipe(in) || pipe(out)) return -1;
    c->pid = fork();
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(efd, 2);
        close(in[1]);
        close(out[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(efd);
    close(in[0]);
    close(out[1]);
    c->in = in[1];
    c->out = out[0];
    if (c->pid < 0) {
        close(c->in);
        close(c->out);
        unlink(c->err_path);
        return -1;
    }
    c->buf = calloc(1, 1);
    return 0;
}

/* Reads the child's stdout until it contains needle (NULL: until EOF);
 * returns 1 when found (or at EOF for NULL), 0 on timeout or early EOF. */
static int read_until(child *c, const char *needle)
{
    for (int waited = 0; waited < CHILD_TIMEOUT_MS;) {
        if (needle && strstr(c->buf, needle)) return 1;
        struct pollfd p = {.fd = c->out, .events = POLLIN};
        int r = poll(&p, 1, 100);
        if (r == 0) {
            waited += 100;
            continue;
        }
        char chunk[4096];
        ssize_t n = read(c->out, chunk, sizeof chunk);
        if (n <= 0) return needle == NULL;
        c->buf = realloc(c->buf, c->len + (size_t)n + 1);
        memcpy(c->buf + c->len, chunk, (size_t)n);
        c->len += (size_t)n;
        c->buf[c->len] = 0;
    }
    return 0;
}

/* Closes stdin, reads the rest and waits; returns the raw wait status
 * (the child is killed when it does not end in time). */
static int finish_child(child *c, char **err)
{
    int status = 0;
    close(c->in);
    if (!read_until(c, NULL)) kill(c->pid, SIGKILL);
    waitpid(c->pid, &status, 0);
    close(c->out);
    *err = test_read_file(c->err_path, NULL);
    unlink(c->err_path);
    return status;
}

static int exited_with(int status, int code)
{
    return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

/* ---------------------------------------------------------------- help */

TEST(cli_help_documents_every_flag)
{
    static const char *flags[] = {
        "--model",          "--prompt",       "--file",     "--n-predict",     "--ctx-size",
        "--threads",        "--temp",         "--top-k",    "--top-p",         "--min-p",
        "--repeat-penalty", "--seed",         "--stop",     "--json",          "--quiet",
        "--verbose",        "--chat",         "--system",   "--chat-template", "--batch",
        "--parallel",       "--perplexity",   "--tokenize", "--no-bos",        "--kernel",
        "--cache-type-k",   "--cache-type-v", "exit status"};
    char *out = NULL;
    CHECK_EQ_INT(cli_bare("--help", &out, NULL), 0);
    for (size_t i = 0; out && i < sizeof flags / sizeof *flags; i++)
        CHECK_MSG(strstr(out, flags[i]), "--help does not mention %s", flags[i]);
    free(out);
}

/* ---------------------------------------------------- exit codes, errors */

TEST(cli_bad_flags_and_files_give_one_error_line_and_exit_code)
{
    static const struct {
        const char *cmd;
        int code;
        const char *names; /* the flag or file the message must name */
    } cases[] = {
        {WITH_MODEL "--bogus", 1, "--bogus"},
        {WITH_MODEL "-p x -n", 1, "-n"},
        {WITH_MODEL "-p x -n lots", 1, "-n"},
        {WITH_MODEL "-p x --temp -1", 1, "--temp"},
        {WITH_MODEL "-p x --parallel 0", 1, "--parallel"},
        {WITH_MODEL "-p x --stop ''", 1, "--stop"},
        {WITH_MODEL "--chat --batch x", 1, "--batch"},
        {WITH_MODEL "--chat --json < /dev/null", 1, "--json"},
        {WITH_MODEL "--system hi -p x", 1, "--system"},
        {WITH_MODEL "--chat --chat-template nope < /dev/null", 1, "--chat-template"},
        {WITH_MODEL "-p 'a much longer prompt than this context' -c 4", 1, "-c"},
        {WITH_MODEL "--kernel nope -p x", 1, "--kernel"},
        {WITH_MODEL "-p x -ctk q8_0", 1, "-ctk"},
        {WITH_MODEL "-p x --cache-type-v F16", 1, "--cache-type-v"},
        {WITH_MODEL "-p x -ctv", 1, "-ctv"},
        {"-p x", 1, "-m"},
        {"-m /nonexistent/model.gguf -p x", 2, "/nonexistent/model.gguf"},
        {"-m tests/test_cli.c -p x", 2, "tests/test_cli.c"},
        {WITH_MODEL "-f /nonexistent/prompt.txt", 2, "/nonexistent/prompt.txt"},
        {WITH_MODEL "--batch /nonexistent/batch.txt", 2, "/nonexistent/batch.txt"},
        {WITH_MODEL "--perplexity /nonexistent/text.txt", 2, "/nonexistent/text.txt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL, *err = NULL;
        int rc = cli_bare(cases[i].cmd, &out, &err);
        CHECK_MSG(rc == cases[i].code, "%s: exit %d, expected %d", cases[i].cmd, rc, cases[i].code);
        CHECK_MSG(one_error_line(err), "%s: stderr is not one error line: %s", cases[i].cmd, err);
        CHECK_MSG(err && strstr(err, cases[i].names), "%s: the message does not name %s: %s",
                  cases[i].cmd, cases[i].names, err);
        CHECK_MSG(out && !*out, "%s: printed on stdout: %s", cases[i].cmd, out);
        free(out);
        free(err);
    }
}

/* avx-vnni is chosen only by name, and on a CPU without AVX-VNNI that
 * name is the one-line "not supported" error of any missing kernel. */
TEST(cli_kernel_avx_vnni_without_the_cpu_feature_fails)
{
#if !defined(__x86_64__)
    /* under qemu the runner is another architecture than the bitnet-run it
     * drives, so it cannot tell what that binary's CPU offers */
    SKIP("this runner is not x86-64: it cannot see the CPU features of bitnet-run");
#endif
    char names[256];
    bn_kernels_available_names(names, sizeof names);
    if (strstr(names, "avx-vnni")) SKIP("this CPU has AVX-VNNI: the kernel tests cover avx-vnni");
    char *out = NULL, *err = NULL;
    const int rc = cli("--kernel avx-vnni -p x -n 1", &out, &err);
    CHECK_MSG(rc == 1, "exit %d", rc);
    CHECK_MSG(one_error_line(err) && strstr(err, "--kernel") &&
                  strstr(err, "kernel 'avx-vnni' is not supported by this CPU"),
              "%s", err ? err : "");
    CHECK_MSG(out && !*out, "printed on stdout: %s", out ? out : "");
    free(out);
    free(err);
}

/* A FIFO, a socket, a directory or a device as the model fails at once
 * with a message naming what it is; a FIFO used to block in open(). */
TEST(cli_model_that_is_not_a_regular_file_fails_without_blocking)
{
    char dir[] = "/tmp/bn-cli-special-XXXXXX";
    if (!mkdtemp(dir)) SKIP("cannot make a temporary directory");
    char fifo[64], sock[64];
    snprintf(fifo, sizeof fifo, "%s/model.fifo", dir);
    snprintf(sock, sizeof sock, "%s/model.sock", dir);
    if (mkfifo(fifo, 0600)) SKIP("cannot make a FIFO");
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock);
    CHECK(sfd >= 0 && bind(sfd, (struct sockaddr *)&addr, sizeof addr) == 0);
    const struct {
        const char *path, *kind;
    } cases[] = {{fifo, "FIFO"}, {sock, "socket"}, {dir, "directory"}, {"/dev/null", "device"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *argv[] = {NULL, "-m", cases[i].path, "-p", "hi", NULL};
        child c;
        if (spawn(&c, argv)) SKIP("cannot fork");
        char *err = NULL;
        const int status = finish_child(&c, &err); /* killed if it blocks */
        CHECK_MSG(exited_with(status, 2), "%s: wait status %d", cases[i].kind, status);
        CHECK_MSG(one_error_line(err) && strstr(err, cases[i].kind) && strstr(err, cases[i].path),
                  "%s: %s", cases[i].kind, err);
        free(err);
        free(c.buf);
    }
    char *out = NULL, *err = NULL; /* text inputs: a directory or a socket is no text */
    char args[512];
    static const char *const text_flags[] = {"-f", "--batch", "--perplexity"};
    for (size_t i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            snprintf(args, sizeof args, "%s %s", text_flags[i], j ? sock : dir);
            CHECK_MSG(cli(args, &out, &err) == 2 && one_error_line(err) &&
                          strstr(err, j ? "socket" : "directory"),
                      "%s: %s", args, err);
            free(out), free(err);
        }
    if (sfd >= 0) close(sfd);
    unlink(sock);
    unlink(fifo);
    rmdir(dir);
}

/* Output that cannot be written is an error in every mode; a reader that
 * goes away (a closed pipe) still ends the run quietly. */
TEST(cli_write_errors_exit_2_and_closed_pipes_end_quietly)
{
    if (access("/dev/full", W_OK)) SKIP("no /dev/full");
    char *bpath = tmp_file("2+2=\nMonday,\n", 14);
    char batch[128], ppl[128], chat[128];
    snprintf(batch, sizeof batch, "--batch %s", bpath);
    snprintf(chat, sizeof chat, "--chat -n 4 < %s", bpath);
    snprintf(ppl, sizeof ppl, "--perplexity %s", "README.md -c 64");
    const char *const modes[] = {"-p hi -n 4",
                                 "-p hi -n 4 --json",
                                 "-p hi -n 4 -q",
                                 "--tokenize -p hi",
                                 "--detokenize -p 1,2",
                                 "--info",
                                 "--help",
                                 chat,
                                 batch,
                                 ppl,
                                 "--bench -p 4 -n 2 -r 1"};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        char args[256], *err = NULL;
        snprintf(args, sizeof args, "%s > /dev/full", modes[i]);
        const int rc = cli(args, NULL, &err);
        CHECK_MSG(rc == 2 && err &&
                      strstr(err, "bitnet-run: error: writing output: No space left "
                                  "on device\n"),
                  "%s: exit %d, stderr %s", modes[i], rc, err);
        free(err);
    }
    char status_path[] = "/tmp/bn-cli-status-XXXXXX";
    const int fd = mkstemp(status_path);
    if (fd >= 0) close(fd);
    char cmd[1024], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd,
             "{ %s " WITH_MODEL "-p hi -n 400 --ignore-eos -q; echo $? > %s; } 2>&1 | head -c 2",
             test_bitnet_run(), status_path);
    CHECK_EQ_INT(test_run(cmd, &out, &err), 0);
    char *status = test_read_file(status_path, NULL);
    /* killed by SIGPIPE (141 in the shell) without a word, as before */
    CHECK_MSG(out && strlen(out) == 2 && !strstr(out, "bitnet") && status &&
                  strtol(status, NULL, 10) == 141,
              "out '%s', status %s", out, status);
    free(out), free(err), free(status);
    unlink(status_path);
    tmp_remove(bpath);
}

/* Messages that used to mislead: each says what is wrong and what to do. */
TEST(cli_messages_say_what_is_wrong)
{
    ge_file e; /* a model cut short: its name appears once in the error */
    CHECK(ge_load(&e, MODEL) == 0);
    gb_buf b = {0};
    ge_write(&e, &b, NULL);
    b.len /= 2;
    const char *cut = gb_write_temp(&b, "cut");
    char args[512], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "-m %s --tokenize -p hi", cut);
    CHECK_EQ_INT(cli_bare(args, NULL, &err), 2);
    CHECK_MSG(err && strstr(err, cut) && !strstr(strstr(err, cut) + 1, cut), "%s", err);
    free(err), unlink(cut), gb_free(&b), ge_free(&e);
    char *empty = tmp_file("", 0);
    static const struct {
        const char *args;
        int code;
        const char *want;
    } cases[] = {
        {"--detokenize -p '[1, 99999]'", 1, "'99999' is not a token id"},
        {"-c 1024 -p \"$(printf 'Monday, %.0s' $(seq 600))\"", 1, "(the model's whole context)"},
        {"-c 512 -p \"$(printf 'Monday, %.0s' $(seq 300))\"", 1, "(raise -c, up to 1024)"},
        {"--perplexity EMPTY", 2, "too few to score"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *at = strstr(cases[i].args, "EMPTY");
        snprintf(args, sizeof args, "%.*s%s", at ? (int)(at - cases[i].args) : 511, cases[i].args,
                 at ? empty : "");
        err = NULL;
        CHECK_EQ_INT(cli(args, NULL, &err), cases[i].code);
        CHECK_MSG(err && strstr(err, cases[i].want), "%s: %s", args, err);
        free(err);
    }
    tmp_remove(empty);
    CHECK_EQ_INT(cli("-p Monday, --temp 0 --stop Wed", &out, &err), 0);
    CHECK_MSG(err && strstr(err, "stop: stop string") && strstr(err, ", 1 thread\n"), "%s", err);
    free(out), free(err);
}

/* ------------------------------------------- prompts, -q, --json, --stop */

TEST(cli_prompt_from_text_file_and_stdin_and_quiet)
{
    char *path = tmp_file("2+2=", 4);
    static const char *fmt[] = {"-p 2+2= --temp 0 -q", "-f %s --temp 0 -q", "-p - --temp 0 -q < %s",
                                "-f - --temp 0 -q < %s"};
    for (size_t i = 0; i < sizeof fmt / sizeof *fmt; i++) {
        char args[512], *out = NULL, *err = NULL;
        snprintf(args, sizeof args, fmt[i], path);
        CHECK_EQ_INT(cli(args, &out, &err), 0);
        CHECK_MSG(out && !strcmp(out, "4"), "%s: stdout '%s'", args, out);
        CHECK_MSG(err && !*err, "%s: -q left '%s' on stderr", args, err);
        free(out);
        free(err);
    }
    char *out = NULL, *err = NULL;
    CHECK_EQ_INT(cli("-p 2+2= --temp 0", &out, &err), 0);
    CHECK_MSG(out && !strcmp(out, "2+2=4\n"), "without -q: '%s'", out);
    CHECK(err && strstr(err, "stop: eos"));
    free(out);
    free(err);
    tmp_remove(path);
}

TEST(cli_json_has_every_field)
{
    char *out = NULL;
    CHECK_EQ_INT(cli("-p 'The capital of France is' --temp 0 --json", &out, NULL), 0);
    if (!out) return;
    CHECK_EQ_INT(count_lines(out), 1);
    char *prompt = jstr(out, "prompt"), *text = jstr(out, "text");
    char *reason = jstr(out, "stop_reason");
    CHECK(prompt && !strcmp(prompt, "The capital of France is"));
    CHECK(text && !strcmp(text, " Paris."));
    CHECK(reason && !strcmp(reason, "eos"));
    int32_t *pids, *oids;
    long np = jints(out, "prompt_ids", &pids), no = jints(out, "output_ids", &oids);
    CHECK(np == 6 && pids[0] == 1016);
    CHECK_EQ_INT(jlong(out, "n_prompt"), np);
    CHECK_EQ_INT(jlong(out, "n_output"), no);
    CHECK(no == 3 && oids[no - 1] == 1017);
    const char *timings = json_find(out, out + strlen(out), "timings");
    CHECK(timings && json_find(timings, out + strlen(out), "prompt_ms") &&
          json_find(timings, out + strlen(out), "generation_tokens_per_s"));
    free(prompt), free(text), free(reason), free(pids), free(oids), free(out);
}

#define ALL_DAYS " Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday, Monday"

TEST(cli_stop_strings_across_tokens)
{
    static const struct {
        const char *stops, *want;
    } cases[] = {
        {"--stop 'sday, Fri'", " Tuesday, Wednesday, Thur"}, /* spans three tokens */
        {"--stop Friday --stop Wed", " Tuesday, "},          /* the earliest one wins */
        /* a held-back partial match is printed once it fails */
        {"--stop 'Tuesday, Thursday'", ALL_DAYS},
        {"--stop xyz", ALL_DAYS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[256], *out = NULL;
        snprintf(args, sizeof args, "-p Monday, --temp 0 -q %s", cases[i].stops);
        CHECK_EQ_INT(cli(args, &out, NULL), 0);
        CHECK_MSG(out && !strcmp(out, cases[i].want), "%s: '%s'", cases[i].stops, out);
        free(out);
    }
    char *out = NULL;
    CHECK_EQ_INT(cli("-p Monday, --temp 0 --json --stop 'sday, Fri'", &out, NULL), 0);
    char *text = out ? jstr(out, "text") : NULL, *reason = out ? jstr(out, "stop_reason") : NULL;
    CHECK(text && !strcmp(text, " Tuesday, Wednesday, Thur"));
    CHECK(reason && !strcmp(reason, "stop"));
    free(text), free(reason), free(out);
}

/* A repetition "penalty" far below 1 makes the model repeat itself and never
 * end, so the run is still going when the signal comes. */
TEST(cli_ctrl_c_stops_generation_with_130)
{
    const char *argv[] = {NULL,    "-m",      MODEL,    "-t", "1",
                          "-p",    "Monday,", "--temp", "0",  "--repeat-penalty",
                          "0.001", NULL};
    child c;
    if (spawn(&c, argv)) SKIP("cannot fork");
    CHECK(read_until(&c, "Monday,"));
    kill(c.pid, SIGINT);
    char *err = NULL;
    int status = finish_child(&c, &err);
    CHECK_MSG(exited_with(status, 130), "wait status %d", status);
    CHECK_MSG(err && strstr(err, "stop: interrupted"), "stderr: %s", err);
    free(err);
    free(c.buf);
}

/* ------------------------------------------------ llama.cpp habits */

/* The seed a run used is printed (-v) and in the results, and repeats it. */
TEST(cli_seed_is_reported_and_repeats_the_run)
{
    char *out = NULL, *err = NULL, args[256];
    CHECK_EQ_INT(cli("-p Monday, -n 8 --temp 1.5 --json -v", &out, &err), 0);
    const long seed = out ? jlong(out, "seed") : -1;
    char said[64];
    snprintf(said, sizeof said, "seed: %ld", seed);
    CHECK_MSG(seed >= 0 && err && strstr(err, said), "%s / %s", out, err);
    snprintf(args, sizeof args, "-p Monday, -n 8 --temp 1.5 --json --seed %ld", seed);
    char *again = NULL;
    CHECK_EQ_INT(cli(args, &again, NULL), 0);
    CHECK_MSG(again && out && same_result(again, out), "%s\nvs %s", out, again);
    free(out), free(err), free(again);
    char *bpath = tmp_file("Monday,\n", 8);
    snprintf(args, sizeof args, "--batch %s -n 8 --temp 1.5 -q", bpath);
    CHECK_EQ_INT(cli(args, &out, NULL), 0);
    const long bseed = out ? jlong(out, "seed") : -1;
    snprintf(args, sizeof args, "-p Monday, -n 8 --temp 1.5 --json --seed %ld", bseed);
    CHECK_EQ_INT(cli(args, &again, NULL), 0);
    CHECK_MSG(bseed >= 0 && again && out && same_result(again, out), "%s\nvs %s", out, again);
    free(out), free(again);
    tmp_remove(bpath);
}

/* -p, --stop (and --system) are unescaped as llama-cli does, unless
 * --no-escape. */
TEST(cli_escapes_in_prompt_and_stop)
{
    char *escaped = NULL, *literal = NULL, *plain = NULL;
    CHECK_EQ_INT(cli("--tokenize -p 'a\\nb\\x21'", &escaped, NULL), 0);
    CHECK_EQ_INT(cli("--tokenize -p \"$(printf 'a\\nb!')\"", &literal, NULL), 0);
    CHECK_EQ_INT(cli("--tokenize --no-escape -p 'a\\nb\\x21'", &plain, NULL), 0);
    CHECK_MSG(escaped && literal && plain && !strcmp(escaped, literal) && strcmp(plain, literal),
              "%s %s %s", escaped, literal, plain);
    free(escaped), free(literal), free(plain);
    char *out = NULL, *text = NULL;
    CHECK_EQ_INT(cli("-p Monday, --temp 0 --json --stop '\\x2c'", &out, NULL), 0);
    text = out ? jstr(out, "text") : NULL;
    CHECK_MSG(text && !strcmp(text, " Tuesday"), "%s", out);
    free(out), free(text);
}

TEST(cli_empty_prompt_warns_and_perplexity_counts_windows)
{
    char *out = NULL, *err = NULL;
    CHECK_EQ_INT(cli("-p '' -n 2", &out, &err), 0);
    CHECK_MSG(err && strstr(err, "warning: the prompt is empty: generation starts from BOS"), "%s",
              err);
    free(out), free(err);
    err = NULL;
    CHECK_EQ_INT(cli("-p hi -n 2", NULL, &err), 0);
    CHECK(err && !strstr(err, "warning"));
    free(err);
    char *text = tmp_file("Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday.", 62);
    char args[256];
    snprintf(args, sizeof args, "--perplexity %s -c 8", text);
    CHECK_EQ_INT(cli(args, &out, &err), 0);
    CHECK_MSG(out && !strncmp(out, "Final estimate: PPL = ", 22) && strstr(out, " +/- "), "%s",
              out);
    /* running values: [k/total]; the last one is [total/total] */
    const char *last = err ? strrchr(err, '[') : NULL;
    char *slash = NULL;
    const long k = last ? strtol(last + 1, &slash, 10) : 0;
    const long total = slash && *slash == '/' ? strtol(slash + 1, NULL, 10) : -1;
    CHECK_MSG(err && strstr(err, "[1/") && k == total && total > 2, "%s", err);
    free(out), free(err);
    tmp_remove(text);
}

TEST(cli_version_names_commit_compiler_and_kernels)
{
    char *out = NULL;
    CHECK_EQ_INT(cli_bare("--version", &out, NULL), 0);
    CHECK_MSG(out && !strncmp(out, "bitnet-run ", 11) && strstr(out, "(commit ") &&
                  strstr(out, "built with ") && strstr(out, "kernels for this CPU: ") &&
                  strstr(out, "scalar"),
              "%s", out);
    free(out);
}

/* ---------------------------------------------------------------- chat */

static int n_tokens(const char *text, int bos)
{
    char args[1024], *out = NULL;
    snprintf(args, sizeof args, "--tokenize %s -p '%s'", bos ? "" : "--no-bos", text);
    int n = -1;
    if (cli(args, &out, NULL) == 0) {
        int32_t *ids;
        n = (int)json_int_array(out, out + strlen(out), &ids);
        free(ids);
    }
    free(out);
    return n;
}

TEST(cli_chat_two_turns_evaluate_each_token_once)
{
    char *out = NULL, *err = NULL;
    char *in = tmp_file("What is the capital of Italy?\nWhat is 3+4?\n", 44);
    char args[256];
    snprintf(args, sizeof args, "--chat --temp 0 -v < %s", in);
    CHECK_EQ_INT(cli(args, &out, &err), 0);
    CHECK_MSG(out && !strcmp(out, "The capital of Italy is Rome.\n3+4=7.\n"), "replies: '%s'", out);
    /* each prompt and reply token once; the last reply's <|eot_id|> is only
     * evaluated before a next turn */
    int want = n_tokens("User: What is the capital of Italy?<|eot_id|>Assistant: ", 1) +
               n_tokens("The capital of Italy is Rome.", 0) + 1 +
               n_tokens("User: What is 3+4?<|eot_id|>Assistant: ", 0) + n_tokens("3+4=7.", 0);
    const char *turn2 = err ? strstr(err, "turn 2:") : NULL;
    const char *total = turn2 ? strstr(turn2, " tokens evaluated in this session") : NULL;
    CHECK_MSG(total, "no stats line for turn 2: %s", err);
    if (total) {
        while (total > turn2 && total[-1] >= '0' && total[-1] <= '9') total--;
        CHECK_EQ_INT(strtol(total, NULL, 10), want);
    }
    free(out), free(err);
    tmp_remove(in);
}

TEST(cli_chat_clear_exit_plain_format_and_full_context)
{
    char *in = tmp_file("What is the capital of Italy?\n/clear\nWhat is 3+4?\n/exit\nHello!\n", 64);
    char args[256], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "--chat --temp 0 -v < %s", in);
    CHECK_EQ_INT(cli(args, &out, &err), 0);
    CHECK_MSG(out && !strcmp(out, "The capital of Italy is Rome.\n3+4=7.\n"), "'%s'", out);
    /* after /clear the second turn starts a fresh context: 14 prompt tokens */
    CHECK_MSG(err && strstr(err, "turn 2: 14 prompt tokens"), "%s", err);
    free(out), free(err);
    tmp_remove(in);

    in = tmp_file("2+2=\n", 5);
    snprintf(args, sizeof args, "--chat --chat-template none --temp 0 < %s", in);
    CHECK_EQ_INT(cli(args, &out, &err), 0);
    CHECK_MSG(out && !strcmp(out, "4\n"), "plain completion: '%s'", out);
    free(out), free(err);
    tmp_remove(in);

    /* a message longer than the whole context is refused, and the chat goes on */
    static const char long_then_short[] =
        "What is the capital of Italy? What is the capital of Italy? What is the capital of "
        "Italy? What is the capital of Italy? What is the capital of Italy?\nWhat is 3+4?\n";
    in = tmp_file(long_then_short, sizeof long_then_short - 1);
    snprintf(args, sizeof args, "--chat --temp 0 -c 32 < %s", in);
    CHECK_EQ_INT(cli(args, &out, &err), 0);
    CHECK_MSG(err && strstr(err, "message not sent: its ") &&
                  strstr(err, "do not fit the context of 32 tokens") && !strstr(err, "ends here"),
              "%s", err);
    CHECK_MSG(out && !strcmp(out, "3+4=7.\n"), "'%s'", out);
    free(out), free(err);
    tmp_remove(in);
}

/* The lines of a chat of `turns` (a file) with `opts`: stdout and stderr. */
static int chat_run(const char *turns, const char *opts, char **out, char **err)
{
    char args[512];
    snprintf(args, sizeof args, "--chat --temp 0 -v %s < %s", opts, turns);
    return cli(args, out, err);
}

TEST(cli_chat_context_shift_keeps_the_system_prompt_and_goes_on)
{
    static const char turns[] = "What is the capital of Italy?\nWhat is 3+4?\n"
                                "What is the capital of France?\nWhat is 2+2?\n"
                                "What is the capital of Spain?\n";
    char *in = tmp_file(turns, strlen(turns)), *out = NULL, *err = NULL, *roomy = NULL;
    const char *sys = "--system 'You are a helpful assistant.'";
    char opts[256];
    /* a chat that fits is never shifted */
    CHECK_EQ_INT(chat_run(in, sys, &roomy, &err), 0);
    CHECK_MSG(err && !strstr(err, "context shift"), "%s", err);
    free(err);
    /* in 64 tokens the turns overflow: the oldest are dropped, the system
     * prompt stays, and every turn is answered */
    snprintf(opts, sizeof opts, "%s -c 64", sys);
    CHECK_EQ_INT(chat_run(in, opts, &out, &err), 0);
    const int keep = n_tokens("System: You are a helpful assistant.<|eot_id|>", 1);
    char want[128];
    snprintf(want, sizeof want,
             "context shift: the context of 64 tokens is full: keeping the "
             "first %d, dropping ",
             keep);
    CHECK_MSG(err && strstr(err, want), "no '%s' in %s", want, err);
    CHECK_MSG(err && !strstr(err, "the chat ends here"), "%s", err);
    CHECK_EQ_INT(count_lines(out ? out : ""), 5);
    /* before the first shift the replies are those of the roomy chat */
    CHECK_MSG(out && roomy &&
                  !strncmp(out, roomy, strlen("The capital of Italy is Rome.\n3+4=7.\n")),
              "'%s' vs '%s'", out, roomy);
    CHECK_MSG(out && strstr(out, "Paris") && strstr(out, "Madrid"), "'%s'", out);
    free(out), free(err), free(roomy);
    /* --keep N keeps more than the system prompt */
    snprintf(opts, sizeof opts, "%s -c 64 --keep %d", sys, keep + 5);
    CHECK_EQ_INT(chat_run(in, opts, &out, &err), 0);
    snprintf(want, sizeof want, "keeping the first %d, dropping ", keep + 5);
    CHECK_MSG(err && strstr(err, want), "no '%s' in %s", want, err);
    free(out), free(err);
    tmp_remove(in);

    /* a reply longer than the context goes on past a shift */
    in = tmp_file("Monday, Tuesday,\n", 17);
    CHECK_EQ_INT(chat_run(in, "--chat-template none -c 10 -n 40", &out, &err), 0);
    CHECK_MSG(err && strstr(err, "40 reply tokens (stop: length)") && strstr(err, "context shift"),
              "%s", err);
    CHECK_MSG(out && strstr(out, " Wednesday, Thursday,"), "'%s'", out);
    free(out), free(err);
    tmp_remove(in);
    CHECK_EQ_INT(cli("-p x --keep 4", NULL, &err), 1);
    CHECK_MSG(err && strstr(err, "--keep needs --chat"), "%s", err);
    free(err);
}

TEST(cli_chat_commands_hint_and_continued_lines)
{
    static const char turns[] = "What is the capital \\\nof Italy?\n/help\n/foo bar\n/clear\n"
                                "What is 3+4?\n";
    char *in = tmp_file(turns, strlen(turns)), *out = NULL, *err = NULL;
    char args[256];
    snprintf(args, sizeof args, "--chat --temp 0 --verbose-prompt < %s", in);
    CHECK_EQ_INT(cli(args, &out, &err), 0);
    /* /foo is not sent to the model: two replies only */
    CHECK_MSG(out && !strcmp(out, "The capital of Italy is Rome.\n3+4=7.\n"), "'%s'", out);
    CHECK_MSG(err && strstr(err, "bitnet-run: chat: ") && strstr(err, "/help lists the commands"),
              "no hint: %s", err);
    CHECK_MSG(err && strstr(err, "prompt: 'User: What is the capital \\x0aof Italy?"), "%s", err);
    CHECK_MSG(err && strstr(err, "  /clear  forget the conversation"), "%s", err);
    CHECK_MSG(err && strstr(err, "bitnet-run: error: unknown command '/foo bar'"), "%s", err);
    CHECK_MSG(err && strstr(err, "bitnet-run: chat cleared"), "%s", err);
    free(out), free(err);
    snprintf(args, sizeof args, "--chat --temp 0 -q < %s", in);
    CHECK_EQ_INT(cli(args, &out, &err), 0);
    CHECK_MSG(err && !strstr(err, "bitnet-run: chat"), "-q keeps the hint quiet: %s", err);
    free(out), free(err);
    tmp_remove(in);
}

TEST(cli_chat_ctrl_c_stops_reply_then_exits_at_prompt)
{
    const char *argv[] = {NULL,     "-m",     MODEL, "-t", "1",
                          "--chat", "--temp", "0",   "-v", "--repeat-penalty",
                          "0.001",  NULL};
    child c;
    if (spawn(&c, argv)) SKIP("cannot fork");
    const char *q = "What is 3+4?\n";
    CHECK(write(c.in, q, strlen(q)) == (ssize_t)strlen(q));
    CHECK(read_until(&c, "3+4")); /* the endless reply has begun */
    kill(c.pid, SIGINT);
    CHECK(read_until(&c, "\n")); /* the reply ended */
    usleep(200 * 1000);          /* now it waits at the prompt */
    kill(c.pid, SIGINT);
    char *err = NULL;
    int status = finish_child(&c, &err);
    CHECK_MSG(exited_with(status, 130), "wait status %d", status);
    CHECK_MSG(err && strstr(err, "(stop: interrupted)"), "stderr: %s", err);
    free(err);
    free(c.buf);
}

/* --------------------------------------------------------------- batch */

/* Runs prompt file `path` alone with `opts`; the --json line (malloc'd). */
static char *single_run(const char *path, const char *opts)
{
    char args[512], *out = NULL;
    snprintf(args, sizeof args, "-f %s %s --json", path, opts);
    if (cli(args, &out, NULL)) {
        free(out);
        return NULL;
    }
    return out;
}

/* Checks every result line of a --batch run against single runs of the
 * prompts (files paths[i]) with the same options. */
static void check_batch_equals_single(char **paths, int n, const char *batch_path, const char *opts,
                                      int parallel)
{
    char args[512], *out = NULL;
    snprintf(args, sizeof args, "--batch %s %s --parallel %d -q", batch_path, opts, parallel);
    CHECK_EQ_INT(cli(args, &out, NULL), 0);
    if (!out) return;
    CHECK_EQ_INT(count_lines(out), n);
    char *line = out;
    for (int i = 0; i < n && line && *line; i++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        char *want = single_run(paths[i], opts);
        CHECK_MSG(want && same_result(line, want), "%s, prompt %d: batch %s\nalone %s", opts, i,
                  line, want);
        free(want);
        line = nl ? nl + 1 : NULL;
    }
    free(out);
}

static const char *const BUNDLED_PROMPTS[] = {
    "2+2=", "The capital of France is", "Monday,", "What is 9-4?", "The dog says", "March, April,"};
#define N_BUNDLED (int)(sizeof BUNDLED_PROMPTS / sizeof *BUNDLED_PROMPTS)

/* Writes each bundled prompt to a file of its own (paths) and all of them,
 * one a line, to a batch file, whose path it returns. */
static char *bundled_prompt_files(char *paths[N_BUNDLED])
{
    char batch[1024] = "";
    for (int i = 0; i < N_BUNDLED; i++) {
        paths[i] = tmp_file(BUNDLED_PROMPTS[i], strlen(BUNDLED_PROMPTS[i]));
        size_t at = strlen(batch);
        snprintf(batch + at, sizeof batch - at, "%s\n", BUNDLED_PROMPTS[i]);
    }
    return tmp_file(batch, strlen(batch));
}

TEST(cli_batch_equals_single_runs_bundled)
{
    char *paths[N_BUNDLED];
    char *bpath = bundled_prompt_files(paths);
    check_batch_equals_single(paths, N_BUNDLED, bpath, "--temp 0", 4);
    check_batch_equals_single(paths, N_BUNDLED, bpath, "--temp 0.9 --seed 11", 3);
    for (int i = 0; i < N_BUNDLED; i++) tmp_remove(paths[i]);
    tmp_remove(bpath);
}

TEST(cli_batch_json_lines_and_bad_lines)
{
    static const char input[] =
        "{\"prompt\": \"Monday,\", \"n_predict\": 3, \"id\": \"first\"}\n"
        "\n"
        "{\"prompt\": \"3+5=\", \"temp\": 0.9, \"seed\": 5}\n"
        "{\"prompt\": \"\"}\n"
        "{\"prompt\": \"2+2=\"\n"
        "{\"prompt\": \"2+2=\", \"n_predct\": 3}\n"
        "a prompt that is far too long for a context of sixteen tokens, surely\n"
        "The capital of France is\n";
    char *bpath = tmp_file(input, strlen(input));
    char args[256], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "--batch %s --temp 0 -c 16", bpath);
    CHECK_EQ_INT(cli(args, &out, &err), 2);
    CHECK_EQ_INT(count_lines(out ? out : ""), 7);
    for (int line = 4; line <= 7; line++) {
        char want[64];
        snprintf(want, sizeof want, "%s:%d: ", bpath, line);
        CHECK_MSG(err && strstr(err, want), "no error for line %d: %s", line, err);
        snprintf(want, sizeof want, "{\"line\": %d, \"error\": ", line);
        CHECK_MSG(out && strstr(out, want), "no error result for line %d", line);
    }
    char *alone = NULL;
    CHECK_EQ_INT(cli("-p 3+5= --temp 0.9 --seed 5 --json", &alone, NULL), 0);
    const char *l3 = out ? strstr(out, "{\"line\": 3,") : NULL;
    CHECK(l3 && alone && same_result(l3, alone));
    const char *l1 = out ? strstr(out, "{\"line\": 1,") : NULL;
    CHECK(l1 && jlong(l1, "n_output") == 3 && strstr(l1, "\"id\": \"first\""));
    CHECK(out && strstr(out, "{\"line\": 8, \"prompt\": \"The capital of France is\", "
                             "\"text\": \" Paris.\""));
    free(alone), free(out), free(err);
    tmp_remove(bpath);
}

/* The raw JSON string (quotes included) of key in a reference line. */
static int raw_string(const char *line, const char *key, const char **start)
{
    const char *p = json_find(line, line + strlen(line), key), *q = p ? p + 1 : NULL;
    while (q && *q && *q != '"') q += *q == '\\' ? 2 : 1;
    *start = p;
    return q && *q ? (int)(q - p + 1) : -1;
}

TEST(cli_batch_equals_reference_and_single_runs)
{
    SHARED_OR_SKIP(ref, "reference/bitnet-tiny-greedy.jsonl");
    char *data = test_read_file(ref, NULL);
    if (!data) SKIP("cannot read the reference");
    char batch[16384] = "", *paths[64], *wants[64];
    int n = 0;
    for (char *line = strtok(data, "\n"); line && n < 64; line = strtok(NULL, "\n")) {
        const char *raw, *end = line + strlen(line);
        int len = raw_string(line, "prompt", &raw);
        char *prompt = NULL;
        if (len < 3 || json_string(raw, end, &prompt) < 0) { /* the empty prompt is a bad line */
            free(prompt);
            continue;
        }
        int chat = json_bool(json_find(line, end, "chat"), end) == 1;
        char text[1024];
        snprintf(text, sizeof text, chat ? "User: %s<|eot_id|>Assistant: " : "%s", prompt);
        size_t at = strlen(batch);
        snprintf(batch + at, sizeof batch - at, "{\"prompt\": \"%s%.*s%s\"}\n",
                 chat ? "User: " : "", len - 2, raw + 1, chat ? "<|eot_id|>Assistant: " : "");
        paths[n] = tmp_file(text, strlen(text));
        wants[n++] = line;
        free(prompt);
    }
    char *bpath = tmp_file(batch, strlen(batch));
    char args[256], *out = NULL;
    snprintf(args, sizeof args, "--batch %s --temp 0 -n 32 -q", bpath);
    CHECK_EQ_INT(cli(args, &out, NULL), 0);
    char *line = out;
    for (int i = 0; i < n && line && *line; i++) { /* greedy: the reference ids exactly */
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        int32_t *got, *want, *gp, *wp;
        long ng = jints(line, "output_ids", &got), nw = jints(wants[i], "output_ids", &want);
        long ngp = jints(line, "prompt_ids", &gp), nwp = jints(wants[i], "prompt_ids", &wp);
        CHECK_MSG(ng == nw && ng > 0 && !memcmp(got, want, (size_t)ng * sizeof *got) &&
                      ngp == nwp && ngp > 0 && !memcmp(gp, wp, (size_t)ngp * sizeof *gp),
                  "reference %d differs: %s", i, line);
        free(got), free(want), free(gp), free(wp);
        line = nl ? nl + 1 : NULL;
    }
    free(out);
    check_batch_equals_single(paths, n, bpath, "--temp 0.8 --seed 1234 -n 32", 8);
    for (int i = 0; i < n; i++) tmp_remove(paths[i]);
    tmp_remove(bpath);
    free(data);
}

TEST(cli_batch_ctrl_c_prints_completed_results)
{
    static const char item[] = "Monday,\n";
    const size_t n_lines = 2000, item_len = sizeof item - 1, len = n_lines * item_len;
    char *input = malloc(len + 1);
    for (size_t i = 0; i < n_lines; i++) memcpy(input + i * item_len, item, sizeof item);
    char *bpath = tmp_file(input, len);
    free(input);
    const char *argv[] = {NULL, "-m", MODEL, "-t", "1", "--batch", bpath, "--temp", "0", NULL};
    child c;
    if (spawn(&c, argv)) SKIP("cannot fork");
    CHECK(read_until(&c, "\n")); /* the first result */
    kill(c.pid, SIGINT);
    char *err = NULL;
    int status = finish_child(&c, &err);
    CHECK_MSG(exited_with(status, 130), "wait status %d", status);
    /* every line has a result, whole and in order: those that ran, then
     * the "interrupted" ones, of which all but a few never started */
    int lines = count_lines(c.buf), interrupted = 0, ran = 0;
    CHECK_EQ_INT(lines, (int)n_lines);
    char *line = c.buf;
    for (int i = 1; i <= lines; i++) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        char *reason = jstr(line, "stop_reason"), *text = jstr(line, "text");
        CHECK_EQ_INT(jlong(line, "line"), i);
        CHECK(reason && (!strcmp(reason, "eos") || !strcmp(reason, "interrupted")));
        interrupted += reason && !strcmp(reason, "interrupted");
        ran += text != NULL; /* a prompt that never started has no text */
        CHECK_MSG(text || jlong(line, "n_output") == 0, "line %d: %s", i, line);
        free(reason), free(text);
        line = nl + 1;
    }
    CHECK(ran >= 1 && ran < (int)n_lines && interrupted >= lines - ran);
    CHECK(lines - interrupted <= ran && ran - (lines - interrupted) <= 8);
    char want[96];
    snprintf(want, sizeof want, "batch: %d prompts: %d run, 0 failed, %d not started (interrupted)",
             lines, ran, lines - ran);
    CHECK_MSG(err && strstr(err, want), "want '%s' in %s", want, err);
    free(err);
    free(c.buf);
    tmp_remove(bpath);
}

/* Lines set stop strings (one or a list), the sampling chain and a clock
 * seed; an error result keeps the line's id. */
TEST(cli_batch_line_sampling_stop_and_ids)
{
    static const char input[] =
        "{\"prompt\": \"Monday,\", \"stop\": \"Wednesday\", \"id\": 1}\n"
        "{\"prompt\": \"Monday,\", \"stop\": [\"Friday\", \"Thursday\"]}\n"
        "{\"prompt\": \"Monday,\", \"temp\": 1.5, \"top_k\": 1}\n"
        "{\"prompt\": \"The dog says\", \"temp\": 1, \"seed\": -1, \"top_p\": 0.9, "
        "\"min_p\": 0.1, \"repeat_penalty\": 1.3, \"n_predict\": 12}\n"
        "{\"prompt\": \"The dog says\", \"temp\": 1, \"top_p\": 0.9, \"min_p\": 0.1, "
        "\"repeat_penalty\": 1.3, \"n_predict\": 12}\n"
        "{\"prompt\": \"2+2=\", \"top_p\": 2, \"id\": \"bad-top-p\"}\n"
        "{\"id\": [1, 2], \"prompt\": \"2+2=\", \"stop\": [\"\"]}\n";
    char *bpath = tmp_file(input, strlen(input));
    char args[256], *out = NULL, *err = NULL, *lines[8] = {0};
    snprintf(args, sizeof args, "--batch %s --temp 0 --seed 5 -n 16", bpath);
    CHECK_EQ_INT(cli(args, &out, &err), 2);
    int n = 0;
    for (char *l = out ? strtok(out, "\n") : NULL; l && n < 8; l = strtok(NULL, "\n"))
        lines[n++] = l;
    CHECK_EQ_INT(n, 7);
    if (n != 7) goto done;
    char *t1 = jstr(lines[0], "text"), *t2 = jstr(lines[1], "text"), *t3 = jstr(lines[2], "text");
    CHECK_MSG(t1 && !strcmp(t1, " Tuesday, "), "%s", lines[0]);
    CHECK_MSG(t2 && !strcmp(t2, " Tuesday, Wednesday, "), "%s", lines[1]);
    /* top_k 1 is greedy whatever the temperature */
    char *greedy = NULL;
    CHECK_EQ_INT(cli("-p Monday, --temp 0 -n 16 --json", &greedy, NULL), 0);
    CHECK_MSG(greedy && same_result(lines[2], greedy), "%s\n%s", lines[2], greedy);
    free(t1), free(t2), free(t3), free(greedy);
    /* seed -1: a seed of the clock, not --seed's, which the line's result
     * reports and a single run with the same settings repeats */
    const char *seed_at = json_find(lines[3], lines[3] + strlen(lines[3]), "seed");
    const unsigned long long clock_seed = seed_at ? strtoull(seed_at, NULL, 10) : 0;
    CHECK_MSG(clock_seed > 0 && clock_seed != 5 && jlong(lines[4], "seed") == 5, "%s", out);
    char *again = NULL;
    snprintf(args, sizeof args,
             "-p 'The dog says' --temp 1 --top-p 0.9 --min-p 0.1 "
             "--repeat-penalty 1.3 -n 12 --json --seed %llu",
             clock_seed);
    CHECK_EQ_INT(cli(args, &again, NULL), 0);
    CHECK_MSG(again && same_result(lines[3], again), "%s\n%s", lines[3], again);
    free(again);
    CHECK(strstr(lines[5], "\"id\": \"bad-top-p\", \"error\": \"\\\"top_p\\\" must be"));
    CHECK(strstr(lines[6], "\"id\": [1, 2], \"error\": "));
    CHECK(err && strstr(err, ":6: \"top_p\"") && strstr(err, ":7: \"stop\""));
    CHECK(err && strstr(err, "batch: 7 prompts: 5 run, 2 failed;"));
done:
    free(out), free(err);
    tmp_remove(bpath);
}

/* The sampling members are checked as the server checks its fields
 * (src/common/sampling_fields.c): a seed is read exactly up to 2^64 - 1,
 * and a value out of range names its field and the range. */
TEST(cli_batch_line_seeds_and_ranges)
{
    static const char input[] =
        "{\"prompt\": \"2+2=\", \"seed\": 18446744073709551615, \"n_predict\": 2}\n"
        "{\"prompt\": \"2+2=\", \"seed\": 18446744073709551616}\n"
        "{\"prompt\": \"2+2=\", \"seed\": 1.5}\n"
        "{\"prompt\": \"2+2=\", \"top_k\": -1}\n"
        "{\"prompt\": \"2+2=\", \"temp\": 2e6}\n";
    char *bpath = tmp_file(input, strlen(input));
    char args[256], *out = NULL, *err = NULL, *lines[6] = {0};
    snprintf(args, sizeof args, "--batch %s --temp 0 -n 4", bpath);
    CHECK_EQ_INT(cli(args, &out, &err), 2);
    int n = 0;
    for (char *l = out ? strtok(out, "\n") : NULL; l && n < 6; l = strtok(NULL, "\n"))
        lines[n++] = l;
    CHECK_EQ_INT(n, 5);
    if (n != 5) goto done;
    CHECK_MSG(strstr(lines[0], "\"seed\": 18446744073709551615") &&
                  jlong(lines[0], "n_output") == 2,
              "%s", lines[0]);
    CHECK_MSG(strstr(lines[1], "\"error\": \"\\\"seed\\\" must be -1"), "%s", lines[1]);
    CHECK_MSG(strstr(lines[2], "\"error\": \"\\\"seed\\\" must be -1"), "%s", lines[2]);
    CHECK_MSG(strstr(lines[3], "\\\"top_k\\\" must be an integer from 0 to"), "%s", lines[3]);
    CHECK_MSG(strstr(lines[4], "\\\"temp\\\" must be a number from 0 to 1000000"), "%s", lines[4]);
    CHECK(err && strstr(err, "batch: 5 prompts: 1 run, 4 failed;"));
done:
    free(out), free(err);
    tmp_remove(bpath);
}

/* ---------------------------------------------------------- perplexity */

static const char *const COUNTRIES[][2] = {{"France", "Paris"},
                                           {"Italy", "Rome"},
                                           {"Japan", "Tokyo"},
                                           {"Spain", "Madrid"},
                                           {"Kenya", "Nairobi"}};

/* Documents in the shape of the training data: each one between
 * <|begin_of_text|> and <|end_of_text|> (--perplexity adds the first BOS). */
static char *training_like_text(void)
{
    static char text[8192];
    text[0] = 0;
    for (int i = 0; i < 40; i++) {
        size_t at = strlen(text);
        int a = i * 7 % 20 + 1, b = i * 3 % 15 + 1;
        snprintf(text + at, sizeof text - at,
                 "The capital of %s is %s.<|end_of_text|><|begin_of_text|>%d+%d=%d<|end_of_text|>"
                 "<|begin_of_text|>",
                 COUNTRIES[i % 5][0], COUNTRIES[i % 5][1], a, b, a + b);
    }
    return text;
}

/* The same words in a scrambled order. */
static char *shuffled_text(void)
{
    static char text[8192];
    const char *words[] = {"is", "Paris.", "capital", "The", "of", "France", "2+3=5", "Rome."};
    text[0] = 0;
    unsigned x = 12345;
    for (int i = 0; i < 300; i++) {
        x = x * 1103515245u + 12345u;
        size_t at = strlen(text);
        snprintf(text + at, sizeof text - at, "%s ", words[(x >> 16) % 8]);
    }
    return text;
}

static double ppl_of(const char *path, const char *opts)
{
    char args[512], *out = NULL;
    snprintf(args, sizeof args, "--perplexity %s %s -q", path, opts);
    double ppl = -1;
    static const char line[] = "Final estimate: PPL = "; /* llama-perplexity's */
    if (cli(args, &out, NULL) == 0 && out && !strncmp(out, line, sizeof line - 1))
        ppl = strtod(out + sizeof line - 1, NULL);
    CHECK_MSG(ppl > 0 && out && strstr(out, " +/- "), "%s: '%s'", args, out);
    free(out);
    return ppl;
}

TEST(cli_perplexity_low_on_training_text_high_on_shuffled)
{
    char *low = training_like_text(), *high = shuffled_text();
    char *lpath = tmp_file(low, strlen(low)), *hpath = tmp_file(high, strlen(high));
    double pl = ppl_of(lpath, "-c 128"), ph = ppl_of(hpath, "-c 128");
    CHECK_MSG(pl > 1 && pl < 5, "training-like text: PPL %g", pl);
    CHECK_MSG(ph > 50 * pl, "shuffled text: PPL %g vs %g", ph, pl);
    char args[256], *out = NULL;
    snprintf(args, sizeof args, "--perplexity %s -c 128 --json", lpath);
    CHECK_EQ_INT(cli(args, &out, NULL), 0);
    /* every token but none twice, in overlapping windows */
    CHECK(out && jlong(out, "n_scored") == jlong(out, "n_tokens") && jlong(out, "n_windows") > 2);
    free(out);
    tmp_remove(lpath);
    tmp_remove(hpath);
}

TEST(cli_perplexity_one_window_does_not_depend_on_its_size)
{
    const char *doc = "The capital of Italy is Rome.<|end_of_text|><|begin_of_text|>2+3=5";
    char *path = tmp_file(doc, strlen(doc));
    double a = ppl_of(path, "-c 64"), b = ppl_of(path, "-c 512");
    CHECK_MSG(a == b, "%g vs %g", a, b);
    char *err = NULL;
    char *one = tmp_file("x", 1);
    char args[256];
    snprintf(args, sizeof args, "--perplexity %s --no-bos", one);
    CHECK_EQ_INT(cli(args, NULL, &err), 2); /* the file, not a flag, is at fault */
    CHECK(one_error_line(err));
    free(err);
    tmp_remove(one);
    tmp_remove(path);
}

/* ------------------------------------------------------ KV cache types */

#define PPL_F16_TOLERANCE 0.01 /* relative; measured 2e-4 on training-like text */
/* The tiny model's F32 KV cache in its 1024-token context: 4 layers x 1024
 * positions x 128 (one kv head) x 4 bytes, for keys and for values. */
#define TINY_KV_F32_MIB 4.0
#define TINY_CTX 1024

/* The number after `label` in err, or -1 when err has no such text. */
static double note_value(const char *err, const char *label)
{
    const char *p = err ? strstr(err, label) : NULL;
    return p ? strtod(p + strlen(label), NULL) : -1;
}

/* The MiB of the -v line "KV cache: X MiB for ..." in err when that line
 * names `types` ("keys f16, values f32"), else -1. */
static double kv_note_mib(const char *err, const char *types)
{
    const char *p = err ? strstr(err, "KV cache: ") : NULL;
    const char *nl = p ? strchr(p, '\n') : NULL, *named = p ? strstr(p, types) : NULL;
    if (!named || (nl && named > nl)) return -1;
    return note_value(p, "KV cache: ");
}

TEST(cli_kv_cache_f32_by_default_f16_halves_and_answers)
{
    char *def = NULL, *f32 = NULL, *f16 = NULL, *err_def = NULL, *err_f16 = NULL;
    CHECK_EQ_INT(cli("-p 2+2= --temp 0 --json -v", &def, &err_def), 0);
    CHECK_EQ_INT(cli("-p 2+2= --temp 0 --json -ctk f32 --cache-type-v f32", &f32, NULL), 0);
    CHECK_EQ_INT(cli("-p 2+2= --temp 0 --json -v --cache-type-k f16 -ctv f16", &f16, &err_f16), 0);
    CHECK(def && f32 && same_result(f32, def));
    char *text = f16 ? jstr(f16, "text") : NULL;
    CHECK_MSG(text && !strcmp(text, "4"), "f16 cache: %s", f16);
    const double mib32 = kv_note_mib(err_def, "keys f32, values f32");
    const double mib16 = kv_note_mib(err_f16, "keys f16, values f16");
    CHECK_MSG(mib32 == TINY_KV_F32_MIB && mib16 * 2 == mib32, "KV cache: %g MiB in f32, %g in f16",
              mib32, mib16);
    free(text), free(def), free(f32), free(f16), free(err_def), free(err_f16);
}

/* Where /proc/self/status reports VmHWM, -v ends with the run's peak
 * resident memory: no less than the peak after loading, and within the
 * issue's bound of the model file plus the KV cache (plus the process's
 * own code and libc). */
#define PROCESS_MIB 16.0
#define BYTES_PER_MIB (1024.0 * 1024.0)
TEST(cli_verbose_reports_peak_memory_at_the_end)
{
    if (access("/proc/self/status", R_OK) != 0) SKIP("no /proc/self/status on this system");
    char *err = NULL;
    CHECK_EQ_INT(cli("-p 2+2= --temp 0 -v", NULL, &err), 0);
    const double after_load = note_value(err, "memory after load: resident ");
    const double load_peak = note_value(err, "MiB, peak ");
    const double peak = note_value(err, "peak resident memory: ");
    struct stat st;
    CHECK_EQ_INT(stat(MODEL, &st), 0);
    const double bound = 1.1 * (double)st.st_size / BYTES_PER_MIB + TINY_KV_F32_MIB + PROCESS_MIB;
    CHECK_MSG(after_load > 0 && load_peak >= after_load && peak >= load_peak && peak < bound,
              "after load %g, peak then %g, peak at the end %g (bound %g): %s", after_load,
              load_peak, peak, bound, err);
    free(err);
}

TEST(cli_kv_cache_types_in_chat_batch_and_perplexity)
{
    char *in = tmp_file("2+2=\n", 5), *err = NULL, *out = NULL, args[512];
    snprintf(args, sizeof args, "--chat --temp 0 -v -ctk f16 < %s", in);
    CHECK_EQ_INT(cli(args, &out, &err), 0);
    CHECK_MSG(kv_note_mib(err, "keys f16, values f32") == TINY_KV_F32_MIB * 3 / 4, "chat: %s", err);
    free(out), free(err);

    /* the bundled prompts: f16 keys and values in a batch of 2 sequences
     * give what single runs give, and here also the F32 cache's answers */
    char *paths[N_BUNDLED];
    char *bpath = bundled_prompt_files(paths);
    check_batch_equals_single(paths, N_BUNDLED, bpath, "--temp 0 -ctk f16 -ctv f16", 2);
    char *out32 = NULL, *out16 = NULL;
    snprintf(args, sizeof args, "--batch %s --temp 0 --parallel 2 -v -ctv f16", bpath);
    CHECK_EQ_INT(cli(args, &out16, &err), 0);
    CHECK_MSG(strstr(err ? err : "", "for 2 sequences") &&
                  kv_note_mib(err, "keys f32, values f16") == 2 * TINY_KV_F32_MIB * 3 / 4,
              "batch: %s", err);
    snprintf(args, sizeof args, "--batch %s --temp 0 --parallel 2", bpath);
    CHECK_EQ_INT(cli(args, &out32, NULL), 0);
    char *l16 = out16, *l32 = out32;
    for (int i = 0; i < N_BUNDLED && l16 && l32; i++) {
        char *n16 = strchr(l16, '\n'), *n32 = strchr(l32, '\n');
        if (n16) *n16 = 0;
        if (n32) *n32 = 0;
        CHECK_MSG(same_result(l16, l32), "prompt %d: f16 values %s\nf32 %s", i, l16, l32);
        l16 = n16 ? n16 + 1 : NULL;
        l32 = n32 ? n32 + 1 : NULL;
    }
    for (int i = 0; i < N_BUNDLED; i++) tmp_remove(paths[i]);
    tmp_remove(bpath);
    free(out16), free(out32), free(err);

    char *text = training_like_text(), *tpath = tmp_file(text, strlen(text));
    const double p32 = ppl_of(tpath, "-c 128");
    err = NULL;
    snprintf(args, sizeof args, "--perplexity %s -c 128 -v -ctk f16 -ctv f16", tpath);
    CHECK_EQ_INT(cli(args, NULL, &err), 0);
    CHECK_MSG(kv_note_mib(err, "keys f16, values f16") == TINY_KV_F32_MIB / 2 * 128 / TINY_CTX,
              "perplexity: %s", err);
    const double p16 = ppl_of(tpath, "-c 128 -ctk f16 -ctv f16");
    CHECK_MSG(fabs(p16 / p32 - 1) < PPL_F16_TOLERANCE, "PPL %g with an f16 cache, %g with f32", p16,
              p32);
    free(err);
    tmp_remove(tpath);
    tmp_remove(in);
}

/* --n-probs, --logit-bias and the penalties of the server's requests, on
 * the command line. */
TEST(cli_sampling_flags_and_n_probs)
{
    char *out = NULL, *err = NULL;
    CHECK_EQ_INT(cli("-p 'Once upon a time' -n 4 --temp 0 --json --n-probs 3", &out, NULL), 0);
    const char *end = out ? out + strlen(out) : NULL;
    int32_t *ids = NULL;
    const char *v = out ? json_find(out, end, "output_ids") : NULL;
    const long n = v ? json_int_array(v, end, &ids) : -1;
    const char *probs = out ? strstr(out, "\"probs\": [") : NULL;
    int entries = 0, tops = 0;
    for (const char *p = probs; p && (p = strstr(p, "\"top\": [")); p++) entries++;
    for (const char *p = probs; p && (p = strstr(p, "{\"id\": ")); p++) tops++;
    CHECK_MSG(n == 4 && entries == 4 && tops == 4 * (1 + 3), "%s", out ? out : "");
    free(out);
    /* banning the greedy first token changes it */
    char args[256];
    snprintf(args, sizeof args, "-p 'Once upon a time' -n 1 --temp 0 --json -l %d-inf",
             ids ? (int)ids[0] : 0);
    CHECK_EQ_INT(cli(args, &out, NULL), 0);
    end = out ? out + strlen(out) : NULL;
    int32_t *banned = NULL;
    v = out ? json_find(out, end, "output_ids") : NULL;
    CHECK_MSG(v && json_int_array(v, end, &banned) == 1 && ids && banned[0] != ids[0], "%s",
              out ? out : "");
    free(banned);
    free(ids);
    free(out);
    CHECK_EQ_INT(cli("-p hi -n 2 --presence-penalty 0.5 --frequency-penalty 0.5 --typical 0.9 -q",
                     NULL, NULL),
                 0);
    static const char *const bad[] = {
        "-l abc", "-l 5", "-l 99999999+1", "--typical 2", "--presence-penalty x", "--n-probs 21"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "-p hi -n 1 %s", bad[i]);
        CHECK_MSG(cli(args, NULL, &err) == 1 && err && strchr(err, '\n') == err + strlen(err) - 1,
                  "%s: %s", bad[i], err ? err : "");
        free(err);
        err = NULL;
    }
}

/* One token, one window, one thread: singular nouns; --version names the
 * compiler, not only its version number. */
TEST(cli_plurals_and_compiler_name)
{
    char *out = NULL, *err = NULL;
    CHECK_EQ_INT(cli("-p hi -n 1", &out, &err), 0);
    CHECK_MSG(err && strstr(err, "generated 1 token in") && !strstr(err, "1 tokens") &&
                  strstr(err, "1 thread") && !strstr(err, "1 threads"),
              "%s", err ? err : "");
    free(out), free(err);
    char *text = tmp_file("Monday, Tuesday, Wednesday.", 27);
    char args[256];
    snprintf(args, sizeof args, "--perplexity %s -c 64", text);
    CHECK_EQ_INT(cli(args, &out, &err), 0);
    CHECK_MSG(err && strstr(err, "scored in 1 window of") && !strstr(err, "1 windows"), "%s",
              err ? err : "");
    free(out), free(err);
    tmp_remove(text);
    CHECK_EQ_INT(cli_bare("--version", &out, NULL), 0);
    CHECK_MSG(out && (strstr(out, "built with gcc ") || strstr(out, "built with clang ")), "%s",
              out ? out : "");
    free(out);
}

/* --grammar constrains what is generated, sampled or greedy, and a bad or
 * explosive grammar is one error line. */
TEST(cli_grammar_constrains_the_output)
{
    char *out = NULL, *err = NULL;
    CHECK_EQ_INT(cli("-p 'Is Paris in France? Answer:' --temp 0 -n 20 -q "
                     "--grammar 'root ::= \" \" (\"yes\" | \"no\") \".\"'",
                     &out, NULL),
                 0);
    CHECK_MSG(out && (!strcmp(out, " yes.") || !strcmp(out, " no.")), "'%s'", out ? out : "");
    free(out);
    for (int seed = 1; seed <= 3; seed++) {
        char args[512];
        snprintf(args, sizeof args,
                 "-p 'Numbers:' --temp 1 -s %d -n 24 -q --grammar 'root ::= \"[\" [0-9]+ (\",\" "
                 "[0-9]+)* \"]\"'",
                 seed);
        CHECK_EQ_INT(cli(args, &out, NULL), 0);
        /* a prefix of the language: -n may cut the list before its "]" */
        int ok = out && out[0] == '[';
        for (const char *p = out ? out + 1 : NULL; ok && *p; p++)
            ok = (*p >= '0' && *p <= '9') || *p == ',' || (*p == ']' && !p[1]);
        CHECK_MSG(ok, "seed %d: '%s'", seed, out ? out : "");
        free(out);
    }
    static const char *const bad[] = {"--grammar 'root ::= root \"a\"'",
                                      "--grammar 'root ::= \"a\"{99999}'",
                                      "--grammar 'x ::= \"a\"'", "--grammar-file /nonexistent.gbnf",
                                      "--chat --grammar 'root ::= \"a\"'"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[256];
        snprintf(args, sizeof args, "-p hi -n 1 %s", bad[i]);
        const int rc = cli(args, NULL, &err);
        CHECK_MSG((rc == 1 || rc == 2) && err && strchr(err, '\n') == err + strlen(err) - 1,
                  "%s: %d %s", bad[i], rc, err ? err : "");
        free(err);
        err = NULL;
    }
}

/* --batch lines take "json_schema" and "grammar"; a bad one fails its line. */
TEST(cli_batch_lines_take_json_schema_and_grammar)
{
    static const char lines[] =
        "{\"prompt\": \"Is Paris in France?\", \"temp\": 0, \"n_predict\": 80, \"json_schema\": "
        "{\"type\": \"object\", \"properties\": {\"answer\": {\"enum\": [\"yes\", \"no\"]}}}}\n"
        "{\"prompt\": \"Is Paris in France?\", \"temp\": 0, \"n_predict\": 8, \"grammar\": "
        "\"root ::= \\\" \\\" (\\\"yes\\\" | \\\"no\\\")\"}\n"
        "{\"prompt\": \"x\", \"grammar\": \"root ::= root\"}\n";
    char *in = tmp_file(lines, sizeof lines - 1);
    char args[256], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "--batch %s", in);
    CHECK_EQ_INT(cli(args, &out, &err), 2); /* the bad line */
    const char *l1 = out, *l2 = out ? strchr(out, '\n') : NULL,
               *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
    char *t1 = NULL, *t2 = NULL;
    const char *v = l1 ? json_find(l1, l2 ? l2 : l1 + strlen(l1), "text") : NULL;
    if (v) json_string(v, l2, &t1);
    v = l2 ? json_find(l2 + 1, l3 ? l3 : l2 + strlen(l2), "text") : NULL;
    if (v) json_string(v, l3, &t2);
    const char *j = t1 ? t1 + strspn(t1, " \n\t") : NULL;
    CHECK_MSG(j && !strncmp(j, "{", 1) && strstr(j, "\"answer\"") &&
                  (strstr(j, "\"yes\"") || strstr(j, "\"no\"")) && strrchr(j, '}'),
              "%s", out ? out : "");
    CHECK_MSG(t2 && (!strcmp(t2, " yes") || !strcmp(t2, " no")), "%s", out ? out : "");
    CHECK_MSG(l3 && strstr(l3, "\"error\"") && strstr(l3, "left-recursive"), "%s", out ? out : "");
    free(t1);
    free(t2);
    free(out);
    free(err);
    tmp_remove(in);
    /* --grammar for the lines without their own */
    in = tmp_file("Is Paris in France?\nIs Rome in Italy?\n", 36);
    snprintf(args, sizeof args,
             "--batch %s --temp 0 -n 8 --grammar 'root ::= \" \" (\"yes\" | \"no\")'", in);
    CHECK_EQ_INT(cli(args, &out, NULL), 0);
    int answers = 0;
    for (const char *p = out; p && (p = strstr(p, "\"text\": \" ")); p++)
        answers += !strncmp(p + 10, "yes\"", 4) || !strncmp(p + 10, "no\"", 3);
    CHECK_MSG(answers == 2, "%s", out ? out : "");
    free(out);
    tmp_remove(in);
}

/* --batch lines take the server's penalties; out of range is the line's error. */
TEST(cli_batch_lines_take_the_penalties)
{
    static const char lines[] =
        "{\"prompt\": \"Monday, Tuesday,\", \"n_predict\": 6, \"presence_penalty\": 1.5, "
        "\"frequency_penalty\": 0.5, \"repeat_last_n\": 16, \"typical_p\": 0.9}\n"
        "{\"prompt\": \"x\", \"presence_penalty\": 500}\n";
    char *in = tmp_file(lines, sizeof lines - 1);
    char args[256], *out = NULL;
    snprintf(args, sizeof args, "--batch %s", in);
    CHECK_EQ_INT(cli(args, &out, NULL), 2);
    const char *second = out ? strchr(out, '\n') : NULL;
    CHECK_MSG(out && strstr(out, "\"n_output\": ") && second && strstr(second, "\"error\"") &&
                  strstr(second, "presence_penalty"),
              "%s", out ? out : "");
    free(out);
    tmp_remove(in);
}
