/*
 * test_server.c - `bitnet-run --server` as a program on loopback, on the
 * bundled tiny model: every endpoint; greedy results equal the CLI's;
 * streamed and whole answers agree; 32 concurrent clients (streaming,
 * chatting, leaving early) get the CLI's text; resident memory stays flat
 * over 500 requests; every class of bad input gets its 4xx JSON error; a
 * slow client times out without blocking others; --api-key; SIGTERM during
 * a stream; curl and the official openai npm package as clients; --lookup
 * gives the greedy text of a server without it (reference prompts, and a
 * copy-heavy prompt in two slots at once, whole and streamed) and reports
 * accepted drafts. The HTTP parser (src/server/http.c) is also tested
 * directly.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bitnet.h"
#include "server/http.h"
#include "json_mini.h"
#include "test.h"

#define MODEL "models/bitnet-tiny.gguf"
#define SERVER_ARGS "-m " MODEL " -t 1 -c 256 --server --port 0 "
#define START_TIMEOUT_MS 15000
#define IO_TIMEOUT_MS 20000
#define EXIT_TIMEOUT_MS 8000
#define N_TOKENS 12
#define N_CLIENTS 32
#define N_RSS_REQUESTS 500
#define RSS_WARMUP 100
#define RSS_SLACK_KIB 4096
#define CMD_LEN 4096

static const char *const PROMPTS[] = {"Once upon a time", "The capital of France is",
                                      "Hello, my name is", "1, 2, 3, 4,"};
#define N_PROMPTS ((int)(sizeof PROMPTS / sizeof PROMPTS[0]))

/* ------------------------------------------------------- the server */

typedef struct {
    pid_t pid;
    int port;
    char err[64]; /* its stderr */
} server;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Starts bitnet-run --server with args; 0 once it listens. */
static int server_start(server *s, const char *args)
{
    snprintf(s->err, sizeof s->err, "/tmp/bn-server-test-XXXXXX");
    int fd = mkstemp(s->err);
    if (fd < 0) return -1;
    close(fd);
    char cmd[CMD_LEN];
    snprintf(cmd, sizeof cmd, "exec %s " SERVER_ARGS "%s 2>%s", test_bitnet_run(), args, s->err);
    s->pid = fork();
    if (s->pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    for (double t0 = now_ms(); now_ms() - t0 < START_TIMEOUT_MS; usleep(20000)) {
        char *log = test_read_file(s->err, NULL);
        const char *at = log ? strstr(log, "listening on http://127.0.0.1:") : NULL;
        char *end = NULL;
        s->port = at ? (int)strtol(at + strlen("listening on http://127.0.0.1:"), &end, 10) : 0;
        if (end && *end != '\n')
            s->port = 0; /* stderr is unbuffered: the line may be half written */
        free(log);
        if (s->port) return 0;
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) break;
    }
    test_fail(__FILE__, __LINE__, "the server did not start (%s)", args);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    unlink(s->err);
    return -1;
}

/* Waits up to ms for the server to exit; its exit status, or -1. */
static int server_wait(server *s, double ms)
{
    int status;
    for (double t0 = now_ms(); now_ms() - t0 < ms; usleep(20000))
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            unlink(s->err);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    unlink(s->err);
    return -1;
}

/* SIGTERM; the exit status (0 expected). */
static int server_stop(server *s)
{
    kill(s->pid, SIGTERM);
    return server_wait(s, EXIT_TIMEOUT_MS);
}

/* -------------------------------------------------------- a client */

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_raw(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads until the server closes (or IO_TIMEOUT_MS); malloc'd, NUL-ended. */
static char *read_all(int fd)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    for (double t0 = now_ms(); now_ms() - t0 < IO_TIMEOUT_MS;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        if (len + 1 == cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) break;
            buf = grown;
        }
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0) break;
        len += (size_t)k;
    }
    buf[len] = 0;
    return buf;
}

/* Sends raw bytes on a new connection and reads the whole response;
 * returns its status (-1: none) and the body in *body (malloc'd). */
static int exchange(int port, const char *raw, size_t n, char **body)
{
    int fd = connect_to(port);
    if (body) *body = NULL;
    if (fd < 0) return -1;
    send_raw(fd, raw, n);
    char *resp = read_all(fd);
    close(fd);
    int status = -1;
    if (!strncmp(resp, "HTTP/1.1 ", 9)) status = (int)strtol(resp + 9, NULL, 10);
    const char *b = strstr(resp, "\r\n\r\n");
    if (body) *body = strdup(b ? b + 4 : "");
    free(resp);
    return status;
}

static int request(int port, const char *method, const char *path, const char *headers,
                   const char *json, char **body)
{
    char *raw;
    const int n = asprintf(&raw,
                           "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s"
                           "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           method, path, headers ? headers : "", json ? strlen(json) : 0,
                           json ? json : "");
    const int status = exchange(port, raw, (size_t)n, body);
    free(raw);
    return status;
}

static int post(int port, const char *path, const char *json, char **body)
{
    return request(port, "POST", path, NULL, json, body);
}

/* The string after the first "key": in s (a nested field), malloc'd. */
static char *field(const char *s, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *at = s ? strstr(s, pat) : NULL;
    char *out = NULL;
    if (!at || json_string(at + strlen(pat), s + strlen(s), &out) < 0) return NULL;
    return out;
}

/* Is body an error object {"error": {"message": "...", "type": "..."}}? */
static int is_error_body(const char *body)
{
    char *msg = field(body, "message"), *type = field(body, "type");
    int ok = body && !strncmp(body, "{\"error\": {", 11) && msg && *msg && type && *type;
    free(msg);
    free(type);
    return ok;
}

/* Joins the text ("text" or "content") of the events of an SSE body and
 * checks that it ends in data: [DONE]; *finish gets the finish_reason. */
static char *stream_text(const char *sse, const char *key, int *done, char **finish)
{
    size_t len = 0;
    char *all = calloc(1, 1);
    *done = 0;
    if (finish) *finish = NULL;
    for (const char *p = sse; p && (p = strstr(p, "data: "));) {
        p += 6;
        const char *eol = strchr(p, '\n');
        char *ev = strndup(p, eol ? (size_t)(eol - p) : strlen(p));
        *done = !strcmp(ev, "[DONE]");
        char *t = field(ev, key), *f = field(ev, "finish_reason");
        char *grown = t ? realloc(all, len + strlen(t) + 1) : NULL;
        if (grown) {
            all = grown;
            memcpy(all + len, t, strlen(t) + 1);
            len += strlen(t);
        }
        if (f && finish) {
            free(*finish);
            *finish = f;
        } else {
            free(f);
        }
        free(t);
        free(ev);
        p = eol;
    }
    return all;
}

/* ------------------------------------------------- the CLI's answers */

static char *expected[N_PROMPTS];

/* What `bitnet-run -p PROMPT --temp 0 -n N_TOKENS -q` prints. */
static const char *cli_greedy(int i)
{
    if (expected[i]) return expected[i];
    char cmd[CMD_LEN];
    snprintf(cmd, sizeof cmd, "%s -m " MODEL " -t 1 -c 256 -q --temp 0 -n %d -p '%s'",
             test_bitnet_run(), N_TOKENS, PROMPTS[i]);
    if (test_run(cmd, &expected[i], NULL) != 0) test_fail(__FILE__, __LINE__, "%s failed", cmd);
    return expected[i] ? expected[i] : "";
}

static char *completion_json(int i, int stream)
{
    char *json;
    if (asprintf(&json,
                 "{\"prompt\": \"%s\", \"max_tokens\": %d, \"temperature\": 0, "
                 "\"stream\": %s}",
                 PROMPTS[i], N_TOKENS, stream ? "true" : "false") < 0)
        return NULL;
    return json;
}

/* ------------------------------------------------------------ tests */

TEST(http_parser_requests)
{
    http_request r;
    const char *why;
    static const char ok[] = "POST /v1/completions?x=1 HTTP/1.1\r\nHost: a\r\n"
                             "Authorization: Bearer k\r\nContent-Length: 2\r\n\r\n{}GET";
    const size_t whole = sizeof ok - 1 - 3; /* the GET that follows is the next request */
    CHECK_EQ_INT(http_parse_request(ok, sizeof ok - 1, 16, &r, &why), 0);
    CHECK(!strcmp(r.method, "POST") && r.path_len == 15 && !memcmp(r.path, "/v1/completions", 15));
    CHECK(r.keep_alive && r.content_length == 2 && r.head_len + 2 == whole);
    CHECK(r.auth_len == 8 && !memcmp(r.auth, "Bearer k", 8));
    for (size_t cut = 0; cut < whole; cut++)
        CHECK_EQ_INT(http_parse_request(ok, cut, 16, &r, &why), HTTP_NEED_MORE);
    static const struct {
        const char *req;
        int status;
    } bad[] = {
        {"GET /\r\n\r\n", 400},
        {"GET x HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\n\r\n", 505},
        {"GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nContent-Length: 17\r\n\r\n", 413},
        {"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
        {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
        {"GET / HTTP/1.1\r\nExpect: x\r\n\r\n", 417},
        {"GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", 400},
        {"VERYLONGMETHOD / HTTP/1.1\r\n\r\n", 501},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int rc = http_parse_request(bad[i].req, strlen(bad[i].req), 16, &r, &why);
        CHECK_MSG(rc == bad[i].status && why, "case %zu: %d, expected %d", i, rc, bad[i].status);
    }
    const size_t huge_len = (size_t)HTTP_MAX_HEAD + 64;
    char *huge = malloc(huge_len);
    memset(huge, 'a', huge_len);
    huge[snprintf(huge, huge_len, "GET / HTTP/1.1\r\nX: ")] = 'a';
    CHECK_EQ_INT(http_parse_request(huge, huge_len, 16, &r, &why), 431);
    free(huge);
    CHECK_EQ_INT(http_parse_request("GET / HTTP/1.0\r\n\r\n", 18, 16, &r, &why), 0);
    CHECK(!r.keep_alive);
}

TEST(server_endpoints)
{
    server s;
    if (server_start(&s, "--parallel 2")) return;
    char *body;
    CHECK_EQ_INT(request(s.port, "GET", "/health", NULL, NULL, &body), 200);
    CHECK(body && strstr(body, "\"ok\""));
    free(body);
    CHECK_EQ_INT(request(s.port, "GET", "/v1/models", NULL, NULL, &body), 200);
    char *id = field(body, "id");
    CHECK(id && !strcmp(id, "bitnet-tiny.gguf"));
    free(id);
    free(body);
    CHECK_EQ_INT(post(s.port, "/tokenize", "{\"content\": \"hello world\"}", &body), 200);
    int32_t *ids = NULL;
    const char *arr = body ? strstr(body, "[") : NULL;
    long n = arr ? json_int_array(arr, arr + strlen(arr), &ids) : -1;
    CHECK(n > 0);
    char req[512];
    size_t rl = (size_t)snprintf(req, sizeof req, "{\"tokens\": [");
    for (long i = 0; i < n && rl < sizeof req; i++)
        rl += (size_t)snprintf(req + rl, sizeof req - rl, i ? ", %d" : "%d", ids[i]);
    if (rl < sizeof req) snprintf(req + rl, sizeof req - rl, "]}");
    free(ids);
    free(body);
    CHECK_EQ_INT(post(s.port, "/detokenize", req, &body), 200);
    char *content = field(body, "content");
    CHECK_MSG(content && !strcmp(content, "hello world"), "detokenized: %s", body);
    free(content);
    free(body);
    char *json = completion_json(0, 0);
    CHECK_EQ_INT(post(s.port, "/v1/completions", json, &body), 200);
    free(json);
    CHECK(body && strstr(body, "\"completion_tokens\": ") && strstr(body, "\"finish_reason\": "));
    free(body);
    CHECK_EQ_INT(
        post(s.port, "/v1/chat/completions",
             "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, "
             "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Hi\"}]}], "
             "\"max_tokens\": 4, \"stop\": [\"\\n\"]}",
             &body),
        200);
    CHECK(body && strstr(body, "\"chat.completion\"") && strstr(body, "\"role\": \"assistant\""));
    free(body);
    CHECK_EQ_INT(request(s.port, "GET", "/metrics", NULL, NULL, &body), 200);
    CHECK(body && strstr(body, "bitnet_requests_total ") && strstr(body, "bitnet_queue_depth 0") &&
          strstr(body, "bitnet_active_slots 0") && strstr(body, "bitnet_generated_tokens_total "));
    free(body);
    CHECK_EQ_INT(server_stop(&s), 0);
}

TEST(server_greedy_equals_cli_and_streams_agree)
{
    server s;
    if (server_start(&s, "--parallel 2")) return;
    for (int i = 0; i < N_PROMPTS; i++) {
        char *json = completion_json(i, 0), *body, *sse;
        CHECK_EQ_INT(post(s.port, "/v1/completions", json, &body), 200);
        free(json);
        char *text = field(body, "text");
        CHECK_MSG(text && !strcmp(text, cli_greedy(i)), "prompt %d: server '%s', CLI '%s'", i,
                  text ? text : "(none)", cli_greedy(i));
        json = completion_json(i, 1);
        CHECK_EQ_INT(post(s.port, "/v1/completions", json, &sse), 200);
        free(json);
        int done;
        char *finish, *streamed = stream_text(sse, "text", &done, &finish);
        char *whole_finish = field(body, "finish_reason");
        CHECK_MSG(text && !strcmp(streamed, text), "prompt %d: streamed '%s'", i, streamed);
        CHECK(done && finish && whole_finish && !strcmp(finish, whole_finish));
        free(whole_finish);
        free(finish);
        free(streamed);
        free(sse);
        free(text);
        free(body);
    }
    /* chat: the same answer whole and streamed */
    static const char chat[] = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}], "
                               "\"max_tokens\": 10, \"temperature\": 0, \"stream\": %s}";
    char json[256], *body, *sse;
    snprintf(json, sizeof json, chat, "false");
    CHECK_EQ_INT(post(s.port, "/v1/chat/completions", json, &body), 200);
    snprintf(json, sizeof json, chat, "true");
    CHECK_EQ_INT(post(s.port, "/v1/chat/completions", json, &sse), 200);
    int done;
    char *whole = field(body, "content"), *streamed = stream_text(sse, "content", &done, NULL);
    CHECK_MSG(whole && !strcmp(whole, streamed) && done, "chat: '%s' vs '%s'", whole, streamed);
    free(whole);
    free(streamed);
    free(body);
    free(sse);
    CHECK_EQ_INT(server_stop(&s), 0);
}

typedef struct {
    int port, index;
    int ok; /* its result was correct (or it left on purpose) */
    char detail[160];
} client_job;

/* One of N_CLIENTS: plain, streaming, or leaving after the first bytes. */
static void *client_main(void *arg)
{
    client_job *c = arg;
    const int p = c->index % N_PROMPTS, kind = c->index % 3;
    char *json = completion_json(p, kind != 0);
    if (kind == 2) { /* leaves once the stream has begun */
        int fd = connect_to(c->port);
        char *raw;
        const int n = asprintf(&raw,
                               "POST /v1/completions HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                               strlen(json), json);
        char b[64];
        c->ok = fd >= 0 && !send_raw(fd, raw, (size_t)n) && recv(fd, b, sizeof b, 0) > 0;
        if (fd >= 0) close(fd);
        free(raw);
        free(json);
        return NULL;
    }
    char *body;
    const int status = post(c->port, "/v1/completions", json, &body);
    int done = 1;
    char *text = kind == 0 ? field(body, "text") : stream_text(body, "text", &done, NULL);
    c->ok = status == 200 && text && done && !strcmp(text, expected[p]);
    snprintf(c->detail, sizeof c->detail, "status %d, text '%.100s'", status, text ? text : "");
    free(text);
    free(body);
    free(json);
    return NULL;
}

static char *metrics(int port)
{
    char *body;
    request(port, "GET", "/metrics", NULL, NULL, &body);
    return body ? body : strdup("");
}

TEST(server_concurrent_clients)
{
    for (int i = 0; i < N_PROMPTS; i++) cli_greedy(i);
    server s;
    if (server_start(&s, "--parallel 4")) return;
    pthread_t t[N_CLIENTS];
    client_job c[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++) {
        c[i] = (client_job){.port = s.port, .index = i};
        pthread_create(&t[i], NULL, client_main, &c[i]);
    }
    for (int i = 0; i < N_CLIENTS; i++) {
        pthread_join(t[i], NULL);
        CHECK_MSG(c[i].ok, "client %d: %s", i, c[i].detail);
    }
    /* the clients that left free their slots */
    int idle = 0;
    for (double t0 = now_ms(); !idle && now_ms() - t0 < IO_TIMEOUT_MS; usleep(50000)) {
        char *m = metrics(s.port);
        idle = strstr(m, "bitnet_active_slots 0") && strstr(m, "bitnet_queue_depth 0");
        free(m);
    }
    CHECK_MSG(idle, "slots still busy after every client ended");
    CHECK_EQ_INT(request(s.port, "GET", "/health", NULL, NULL, NULL), 200);
    CHECK_EQ_INT(server_stop(&s), 0);
}

static long rss_kib(pid_t pid)
{
    char path[64], *status;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    status = test_read_file(path, NULL);
    const char *at = status ? strstr(status, "VmRSS:") : NULL;
    long kib = at ? strtol(at + 6, NULL, 10) : -1;
    free(status);
    return kib;
}

TEST(server_memory_flat_over_500_requests)
{
#ifdef __SANITIZE_ADDRESS__
    /* ASan holds freed blocks in its quarantine, so RSS grows by design;
     * in this build LeakSanitizer checks for leaks at the server's exit. */
    SKIP("RSS is not flat under AddressSanitizer (its quarantine); LeakSanitizer covers leaks");
#endif
    server s;
    if (server_start(&s, "--parallel 2")) return;
    static const char json[] = "{\"prompt\": \"Hello\", \"max_tokens\": 2}";
    long before = -1;
    int failed = 0;
    for (int i = 0; i < N_RSS_REQUESTS; i++) {
        if (i == RSS_WARMUP) before = rss_kib(s.pid);
        failed += post(s.port, i % 2 ? "/v1/completions" : "/tokenize",
                       i % 2 ? json : "{\"content\": \"abc\"}", NULL) != 200;
    }
    const long after = rss_kib(s.pid);
    CHECK_EQ_INT(failed, 0);
    CHECK_MSG(before > 0 && after - before < RSS_SLACK_KIB, "RSS %ld KiB -> %ld KiB", before,
              after);
    CHECK_EQ_INT(server_stop(&s), 0);
}

TEST(server_rejects_bad_input)
{
    server s;
    if (server_start(&s, "--parallel 1 --max-body 4096 --max-tokens 64 --timeout 1")) return;
    static const struct {
        const char *path, *json;
        int status;
    } bad[] = {
        {"/v1/completions", "{", 400},
        {"/v1/completions", "[1]", 400},
        {"/v1/completions", "{\"prompt\": \"\xff\"}", 400},
        {"/v1/completions", "{\"max_tokens\": 4}", 400},
        {"/v1/completions", "{\"prompt\": 5}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": -5}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": 100000}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": 1.5}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"temperature\": 1e9}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"temperature\": -1}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"top_p\": 2}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"top_k\": -1}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"min_p\": \"x\"}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"seed\": -7}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"seed\": 18446744073709551616}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"seed\": 1.5}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"top_k\": 1e9}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"n\": 2}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"stop\": [1]}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"stop\": \"\"}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"stream\": \"yes\"}", 400},
        {"/v1/completions", "{\"prompt\": \"a\", \"speculative.n_max\": 1}", 400}, /* no --lookup */
        {"/v1/chat/completions", "{\"messages\": []}", 400},
        {"/v1/chat/completions", "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}",
         400},
        {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\"}]}", 400},
        {"/v1/chat/completions", "{\"prompt\": \"a\"}", 400},
        {"/tokenize", "{}", 400},
        {"/detokenize", "{\"tokens\": [1, 99999999]}", 400},
        {"/detokenize", "{\"tokens\": [-1]}", 400},
    };
    char *body;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int status = post(s.port, bad[i].path, bad[i].json, &body);
        CHECK_MSG(status == bad[i].status && is_error_body(body), "case %zu (%s): %d %s", i,
                  bad[i].json, status, body ? body : "");
        free(body);
    }
    /* the field's range names the flag that set it (src/common/sampling_fields.c) */
    static const char too_many[] = "{\"prompt\": \"a\", \"max_tokens\": 65}";
    CHECK_EQ_INT(post(s.port, "/v1/completions", too_many, &body), 400);
    CHECK_MSG(body && strstr(body, "must be an integer from -1 to 64 (--max-tokens)"), "%s",
              body ? body : "");
    free(body);
    /* a prompt longer than a slot's context */
    enum { LONG_WORDS = 600 };
    char *longp = malloc(LONG_WORDS * 3 + 32);
    size_t ll = (size_t)sprintf(longp, "{\"prompt\": \"");
    for (int i = 0; i < LONG_WORDS; i++) ll += (size_t)sprintf(longp + ll, "ab ");
    sprintf(longp + ll, "\"}");
    CHECK_EQ_INT(post(s.port, "/v1/completions", longp, &body), 400);
    CHECK(is_error_body(body));
    free(body);
    free(longp);
    static const struct {
        const char *raw;
        int status;
    } raw[] = {
        {"GARBAGE\r\n\r\n", 400},
        {"GET /health HTTP/3.0\r\n\r\n", 505},
        {"POST /v1/completions HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413},
        {"POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
        {"GET /v1/completions HTTP/1.1\r\n\r\n", 405},
        {"GET /nowhere HTTP/1.1\r\n\r\n", 404},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        const int status = exchange(s.port, raw[i].raw, strlen(raw[i].raw), &body);
        CHECK_MSG(status == raw[i].status && is_error_body(body), "raw case %zu: %d", i, status);
        free(body);
    }
    const size_t huge_len = (size_t)HTTP_MAX_HEAD * 2;
    char *huge = malloc(huge_len);
    memset(huge, 'a', huge_len);
    huge[snprintf(huge, huge_len, "GET /health HTTP/1.1\r\nX: ")] = 'a';
    CHECK_EQ_INT(exchange(s.port, huge, huge_len, NULL), 431);
    free(huge);
    /* a slow client is cut off after --timeout, and others are served meanwhile */
    int slow = connect_to(s.port);
    send_raw(slow, "POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{", 55);
    CHECK_EQ_INT(request(s.port, "GET", "/health", NULL, NULL, NULL), 200);
    const double t0 = now_ms();
    char *resp = read_all(slow);
    CHECK_MSG(!strncmp(resp, "HTTP/1.1 408", 12) && now_ms() - t0 < 5000, "slow client: %s", resp);
    free(resp);
    close(slow);
    CHECK_EQ_INT(request(s.port, "GET", "/health", NULL, NULL, NULL), 200);
    CHECK_EQ_INT(server_stop(&s), 0);
}

/* What clients send by default is accepted; unknown fields are ignored and
 * logged with -v; the fields the server uses are still checked, and the
 * 400 names the field. */
TEST(server_lenient_fields)
{
    server s;
    if (server_start(&s, "--parallel 1 -v")) return;
    static const char *const ok[] = {
        "{\"prompt\": \"a\", \"max_tokens\": 2, \"store\": false, \"metadata\": {\"k\": \"v\"}, "
        "\"cache_prompt\": true, \"bogus_field_x\": [1, {\"y\": null}], \"response_format\": "
        "{\"type\": \"text\"}, \"tools\": [], \"tool_choice\": \"none\", \"user\": \"u\", "
        "\"echo\": false, \"best_of\": 1, \"suffix\": \"\", \"n\": 1}",
    };
    char *body;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        CHECK_MSG(post(s.port, "/v1/completions", ok[i], &body) == 200, "%s: %s", ok[i], body);
        free(body);
    }
    static const char chat[] =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief\", "
        "\"extra_msg_field\": 1}, {\"role\": \"user\", \"content\": \"Hi\"}, "
        "{\"role\": \"assistant\", \"content\": null}, {\"role\": \"user\", "
        "\"content\": \"Hi\"}], \"max_tokens\": 2, \"parallel_tool_calls\": true}";
    CHECK_MSG(post(s.port, "/v1/chat/completions", chat, &body) == 200, "chat: %s", body);
    free(body);
    static const struct {
        const char *json, *names;
    } bad[] = {
        {"{\"prompt\": \"a\", \"n\": 2}", "\"n\""},
        {"{\"prompt\": \"a\", \"best_of\": 3}", "\"best_of\""},
        {"{\"prompt\": \"a\", \"echo\": true}", "\"echo\""},
        {"{\"prompt\": \"a\", \"suffix\": \"end\"}", "\"suffix\""},
        {"{\"prompt\": \"a\", \"temperature\": \"hot\"}", "\"temperature\""},
        {"{\"prompt\": \"a\", \"max_tokens\": true}", "\"max_tokens\""},
        {"{\"prompt\": \"a\", \"stream\": 1}", "\"stream\""},
        {"{\"prompt\": \"a\", \"tools\": {}}", "\"tools\""},
        {"{\"prompt\": \"a\", \"tool_choice\": \"required\"}", "\"tool_choice\""},
        {"{\"prompt\": \"a\", \"response_format\": {\"type\": \"xml\"}}", "\"response_format\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int status = post(s.port, "/v1/completions", bad[i].json, &body);
        char *msg = field(body, "message");
        CHECK_MSG(status == 400 && msg && strstr(msg, bad[i].names), "%s: %d %s", bad[i].json,
                  status, body ? body : "");
        free(msg);
        free(body);
    }
    char *log = test_read_file(s.err, NULL);
    CHECK_MSG(log && strstr(log, "ignoring unknown field \"bogus_field_x\"") &&
                  strstr(log, "ignoring unknown message field \"extra_msg_field\""),
              "-v log: %s", log ? log : "");
    free(log);
    CHECK_EQ_INT(server_stop(&s), 0);
}

/* 300 half-open connections (more than the server's 256) cannot lock a
 * new client out: the longest-idle ones are closed to make room, and a
 * request head that does not arrive is answered 408 after the short head
 * timeout, not after --timeout. */
#define N_HALF_OPEN 300
#define SERVED_WITHIN_MS 3000
#define HEAD_TIMEOUT_SLACK_MS 9000

TEST(server_half_open_connections_lock_no_one_out)
{
    server s;
    if (server_start(&s, "--parallel 1")) return;
    int partial = connect_to(s.port);
    send_raw(partial, "GET /health HT", 14);
    const double t_partial = now_ms();
    int fds[N_HALF_OPEN], opened = 0;
    for (int i = 0; i < N_HALF_OPEN; i++) {
        fds[i] = connect_to(s.port);
        opened += fds[i] >= 0;
        if (i % 2 && fds[i] >= 0) send_raw(fds[i], "POST /v1/comp", 13);
    }
    CHECK_EQ_INT(opened, N_HALF_OPEN);
    const double t0 = now_ms();
    char *body;
    CHECK_EQ_INT(request(s.port, "GET", "/health", NULL, NULL, NULL), 200);
    CHECK_EQ_INT(post(s.port, "/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 2}", &body),
                 200);
    free(body);
    CHECK_MSG(now_ms() - t0 < SERVED_WITHIN_MS, "a new client waited %.0f ms", now_ms() - t0);
    char *resp = read_all(partial);
    const double waited = now_ms() - t_partial;
    /* evicted (closed without a word) or timed out with 408, well before --timeout (600 s) */
    CHECK_MSG((!*resp || !strncmp(resp, "HTTP/1.1 408", 12)) && waited < HEAD_TIMEOUT_SLACK_MS,
              "partial head: %.0f ms, %s", waited, resp);
    free(resp);
    close(partial);
    for (int i = 0; i < N_HALF_OPEN; i++)
        if (fds[i] >= 0) close(fds[i]);
    CHECK_EQ_INT(server_stop(&s), 0);
}

/* A partial head alone is answered 408 after the head timeout (5 s), long
 * before --timeout; a kept-alive connection carries several requests. */
TEST(server_head_timeout_and_keep_alive)
{
    server s;
    if (server_start(&s, "--parallel 1")) return;
    int fd = connect_to(s.port);
    const double t0 = now_ms();
    send_raw(fd, "GET /health HTTP/1.1\r\nHost: x\r\n", 31);
    char *resp = read_all(fd);
    CHECK_MSG(!strncmp(resp, "HTTP/1.1 408", 12) && now_ms() - t0 < HEAD_TIMEOUT_SLACK_MS,
              "%.0f ms: %s", now_ms() - t0, resp);
    free(resp);
    close(fd);
    fd = connect_to(s.port);
    static const char two[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    send_raw(fd, two, sizeof two - 1);
    resp = read_all(fd);
    const char *second = strstr(resp, "HTTP/1.1 200");
    CHECK_MSG(second && strstr(second + 1, "HTTP/1.1 200"), "keep-alive: %s", resp);
    free(resp);
    close(fd);
    CHECK_EQ_INT(server_stop(&s), 0);
}

/* ------------------------------------------------- sampling and logprobs */

/* The end of the JSON string starting at p (its closing quote + 1). */
static const char *skip_string(const char *p)
{
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1]) p++;
    return *p ? p + 1 : p;
}

/* Joins the strings of the array after "key": [ in s; *n gets their count. */
static char *join_strings(const char *s, const char *key, int *n)
{
    char pat[64], *all = calloc(1, 1), *one;
    size_t len = 0;
    snprintf(pat, sizeof pat, "\"%s\": [", key);
    const char *p = s ? strstr(s, pat) : NULL;
    *n = 0;
    for (p = p ? p + strlen(pat) : NULL; p && *p == '"'; (*n)++) {
        const char *e = skip_string(p);
        if (json_string(p, e, &one) < 0) break;
        char *grown = realloc(all, len + strlen(one) + 1);
        if (!grown) {
            free(one);
            break;
        }
        all = grown;
        memcpy(all + len, one, strlen(one) + 1);
        len += strlen(one);
        free(one);
        p = e;
        if (*p == ',') p += 2;
    }
    return all;
}

/* The numbers of the array after "key": [ in s (at most cap); their count. */
static int numbers(const char *s, const char *key, double *v, int cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": [", key);
    const char *p = s ? strstr(s, pat) : NULL;
    int n = 0;
    for (p = p ? p + strlen(pat) : NULL; p && *p != ']' && n < cap; n++) {
        char *end;
        v[n] = strtod(p, &end);
        if (end == p) break;
        p = *end == ',' ? end + 2 : end;
    }
    return n;
}

/* Counts the occurrences of pat in s. */
static int count_of(const char *s, const char *pat)
{
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, pat)); p += strlen(pat)) n++;
    return n;
}

#define LP_TOKENS 8
#define LP_TOP 3

TEST(server_logprobs_completions_and_chat)
{
    server s;
    if (server_start(&s, "--parallel 2")) return;
    char *json, *body;
    /* completions: tokens join to the text, offsets add up, the greedy
     * token is the best of its alternatives */
    asprintf(&json,
             "{\"prompt\": \"%s\", \"max_tokens\": %d, \"temperature\": 0, "
             "\"logprobs\": %d}",
             PROMPTS[0], N_TOKENS, LP_TOP);
    CHECK_EQ_INT(post(s.port, "/v1/completions", json, &body), 200);
    int n_tok;
    char *joined = join_strings(body, "tokens", &n_tok), *text = field(body, "text");
    CHECK_MSG(text && !strcmp(joined, text) && !strcmp(text, cli_greedy(0)), "%s",
              body ? body : "");
    double lp[64] = {0}, off[64] = {0};
    CHECK_EQ_INT(numbers(body, "token_logprobs", lp, 64), n_tok);
    CHECK_EQ_INT(numbers(body, "text_offset", off, 64), n_tok);
    CHECK(n_tok > 0 && off[0] == 0);
    for (int i = 0; i < n_tok; i++) CHECK_MSG(lp[i] <= 0 && lp[i] > -100, "logprob %g", lp[i]);
    CHECK_EQ_INT(count_of(strstr(body, "\"top_logprobs\""), "\": -") +
                     count_of(strstr(body, "\"top_logprobs\""), "\": 0"),
                 n_tok * LP_TOP);
    free(joined);
    free(text);
    free(body);
    free(json);
    /* chat, whole and streamed: one entry per token with LP_TOP alternatives */
    for (int stream = 0; stream < 2; stream++) {
        asprintf(&json,
                 "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], "
                 "\"max_tokens\": %d, \"temperature\": 0, \"logprobs\": true, "
                 "\"top_logprobs\": %d, \"stream\": %s}",
                 LP_TOKENS, LP_TOP, stream ? "true" : "false");
        CHECK_EQ_INT(post(s.port, "/v1/chat/completions", json, &body), 200);
        const int entries = count_of(body, "\"top_logprobs\": [");
        const int tokens = count_of(body, "\"token\": ");
        CHECK_MSG(entries > 0 && tokens == entries * (1 + LP_TOP), "stream %d: %s", stream,
                  body ? body : "");
        CHECK(count_of(body, "\"bytes\": [") == tokens);
        free(body);
        free(json);
    }
    /* off unless asked */
    CHECK_EQ_INT(post(s.port, "/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": 2}", &body),
                 200);
    CHECK(strstr(body, "\"logprobs\": null") != NULL);
    free(body);
    CHECK_EQ_INT(server_stop(&s), 0);
}

TEST(server_sampling_fields)
{
    server s;
    if (server_start(&s, "--parallel 2")) return;
    char *json, *body, *text, *first;
    /* the greedy first token, banned with logit_bias, is not the first any more */
    asprintf(&json, "{\"prompt\": \"%s\", \"max_tokens\": 1, \"temperature\": 0, \"n_probs\": 1}",
             PROMPTS[1]);
    CHECK_EQ_INT(post(s.port, "/v1/completions", json, &body), 200);
    free(json);
    int n;
    first = join_strings(body, "tokens", &n);
    free(body);
    asprintf(&json, "{\"content\": \"%s\"}", first);
    CHECK_EQ_INT(post(s.port, "/tokenize", json, &body), 200);
    free(json);
    const long id = body && strstr(body, "[") ? strtol(strstr(body, "[") + 1, NULL, 10) : -1;
    free(body);
    static const char *const bans[] = {"{\"%ld\": -100}", "[[%ld, false]]"};
    for (int i = 0; i < 2; i++) {
        char ban[64];
        snprintf(ban, sizeof ban, bans[i], id);
        asprintf(&json,
                 "{\"prompt\": \"%s\", \"max_tokens\": 1, \"temperature\": 0, "
                 "\"logit_bias\": %s}",
                 PROMPTS[1], ban);
        CHECK_EQ_INT(post(s.port, "/v1/completions", json, &body), 200);
        text = field(body, "text");
        CHECK_MSG(n == 1 && text && strcmp(text, first), "banned %ld (%s): %s", id, first,
                  body ? body : "");
        free(text);
        free(body);
        free(json);
    }
    free(first);
    /* the same seed gives the same sample; every field is accepted */
    char *again = NULL;
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(post(s.port, "/v1/completions",
                          "{\"prompt\": \"Once\", \"max_tokens\": 12, \"temperature\": 1.5, "
                          "\"seed\": 7, \"top_k\": 0, \"top_p\": 1, \"min_p\": 0, "
                          "\"typical_p\": 0.95, \"presence_penalty\": 0.5, "
                          "\"frequency_penalty\": 0.5, \"repeat_penalty\": 1.1, "
                          "\"repeat_last_n\": 32}",
                          &body),
                     200);
        text = field(body, "text");
        if (i) CHECK_MSG(text && again && !strcmp(text, again), "%s vs %s", text, again);
        free(i ? text : again);
        again = i ? again : text;
        free(body);
    }
    free(again);
    static const char *const bad[] = {
        "{\"prompt\": \"a\", \"presence_penalty\": 3}",
        "{\"prompt\": \"a\", \"frequency_penalty\": \"x\"}",
        "{\"prompt\": \"a\", \"repeat_penalty\": 0}",
        "{\"prompt\": \"a\", \"repeat_last_n\": -2}",
        "{\"prompt\": \"a\", \"typical_p\": 2}",
        "{\"prompt\": \"a\", \"logit_bias\": {\"abc\": 1}}",
        "{\"prompt\": \"a\", \"logit_bias\": {\"99999999\": 1}}",
        "{\"prompt\": \"a\", \"logit_bias\": {\"5\": 500}}",
        "{\"prompt\": \"a\", \"logit_bias\": [[5]]}",
        "{\"prompt\": \"a\", \"logprobs\": 21}",
        "{\"prompt\": \"a\", \"top_logprobs\": -1}",
        "{\"prompt\": \"a\", \"n_probs\": 1.5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int status = post(s.port, "/v1/completions", bad[i], &body);
        CHECK_MSG(status == 400 && is_error_body(body), "%s: %d %s", bad[i], status,
                  body ? body : "");
        free(body);
    }
    CHECK_EQ_INT(post(s.port, "/v1/chat/completions",
                      "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"logprobs\": 2}",
                      &body),
                 400);
    free(body);
    CHECK_EQ_INT(server_stop(&s), 0);
}

TEST(server_api_key)
{
    server s;
    if (server_start(&s, "--api-key s3cret")) return;
    static const char json[] = "{\"prompt\": \"Hi\", \"max_tokens\": 2}";
    char *body;
    CHECK_EQ_INT(post(s.port, "/v1/completions", json, &body), 401);
    CHECK(is_error_body(body));
    free(body);
    CHECK_EQ_INT(
        request(s.port, "POST", "/v1/completions", "Authorization: Bearer s3cres\r\n", json, NULL),
        401);
    CHECK_EQ_INT(
        request(s.port, "POST", "/v1/completions", "Authorization: Bearer s3cret!\r\n", json, NULL),
        401);
    CHECK_EQ_INT(
        request(s.port, "POST", "/v1/completions", "Authorization: Bearer s3cret\r\n", json, NULL),
        200);
    CHECK_EQ_INT(request(s.port, "GET", "/health", NULL, NULL, NULL), 200);
    CHECK_EQ_INT(server_stop(&s), 0);
}

TEST(server_sigterm_during_stream)
{
    server s;
    if (server_start(&s, "--ignore-eos -c 1024")) return;
    static const char json[] = "{\"prompt\": \"Once\", \"max_tokens\": 1000, \"stream\": true}";
    char *raw;
    const int n = asprintf(&raw, "POST /v1/completions HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                           strlen(json), json);
    int fd = connect_to(s.port);
    send_raw(fd, raw, (size_t)n);
    free(raw);
    char first[256];
    CHECK(recv(fd, first, sizeof first, 0) > 0); /* the stream has begun */
    const double t0 = now_ms();
    kill(s.pid, SIGTERM);
    char *rest = read_all(fd); /* ends when the server closes the stream */
    close(fd);
    const size_t rl = strlen(rest);
    CHECK_MSG(rl >= 14 && !strcmp(rest + rl - 14, "data: [DONE]\n\n"), "the stream ended: %s",
              rl > 200 ? rest + rl - 200 : rest);
    free(rest);
    CHECK_EQ_INT(server_wait(&s, EXIT_TIMEOUT_MS), 0);
    CHECK_MSG(now_ms() - t0 < EXIT_TIMEOUT_MS, "exit took %.0f ms", now_ms() - t0);
}

/* One request of the shutdown test, on its own thread. */
typedef struct {
    int port, stream;
    char *resp;
} drain_client;

static void *drain_client_main(void *arg)
{
    drain_client *d = arg;
    char *raw;
    const char *json = d->stream ? "{\"prompt\": \"Once\", \"max_tokens\": 1000, \"stream\": true}"
                                 : "{\"prompt\": \"Once\", \"max_tokens\": 1000}";
    const int n = asprintf(&raw, "POST /v1/completions HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                           strlen(json), json);
    int fd = connect_to(d->port);
    if (fd >= 0 && n > 0) send_raw(fd, raw, (size_t)n);
    free(raw);
    d->resp = fd >= 0 ? read_all(fd) : strdup("");
    if (fd >= 0) close(fd);
    return NULL;
}

/* SIGTERM with more work running and queued than the 3 s grace period
 * allows: every client is told. A whole reply finished in time, or a 503
 * JSON error; a stream ends in data: [DONE], after an error event when it
 * was cut off. */
#define N_DRAIN_CLIENTS 16
#define DRAIN_SETTLE_US 300000

TEST(server_shutdown_tells_every_client)
{
    server s;
    if (server_start(&s, "--parallel 1 --ignore-eos -c 1024")) return;
    drain_client d[N_DRAIN_CLIENTS];
    pthread_t t[N_DRAIN_CLIENTS];
    for (int i = 0; i < N_DRAIN_CLIENTS; i++) {
        d[i] = (drain_client){.port = s.port, .stream = i % 2};
        pthread_create(&t[i], NULL, drain_client_main, &d[i]);
    }
    usleep(DRAIN_SETTLE_US);
    kill(s.pid, SIGTERM);
    int cut = 0;
    for (int i = 0; i < N_DRAIN_CLIENTS; i++) {
        pthread_join(t[i], NULL);
        const char *r = d[i].resp, *body = strstr(r, "\r\n\r\n");
        const int status = !strncmp(r, "HTTP/1.1 ", 9) ? (int)strtol(r + 9, NULL, 10) : -1;
        if (d[i].stream) {
            const size_t rl = strlen(r);
            const int done = rl >= 14 && !strcmp(r + rl - 14, "data: [DONE]\n\n");
            const char *err = strstr(r, "data: {\"error\": {");
            cut += err != NULL;
            CHECK_MSG(status == 200 && done && (err || strstr(r, "\"finish_reason\": \"length\"")),
                      "stream %d: %.300s", i, rl > 300 ? r + rl - 300 : r);
        } else {
            cut += status == 503;
            CHECK_MSG((status == 200 && body && strstr(body, "\"finish_reason\": \"length\"")) ||
                          (status == 503 && body && is_error_body(body + 4)),
                      "request %d: %.300s", i, r);
        }
        free(d[i].resp);
    }
    CHECK_MSG(cut > 0, "no request was cut off: the test needs more work than the grace period");
    CHECK_EQ_INT(server_wait(&s, EXIT_TIMEOUT_MS), 0);
}

TEST(server_flag_errors)
{
    char *err = NULL;
    char cmd[CMD_LEN];
    snprintf(cmd, sizeof cmd, "%s -m " MODEL " --port 80", test_bitnet_run());
    CHECK_EQ_INT(test_run(cmd, NULL, &err), 1);
    CHECK(err && strstr(err, "need --server"));
    free(err);
    snprintf(cmd, sizeof cmd, "%s -m " MODEL " --server --port 70000", test_bitnet_run());
    CHECK_EQ_INT(test_run(cmd, NULL, &err), 1);
    free(err);
    snprintf(cmd, sizeof cmd, "%s -m " MODEL " --server -p hi", test_bitnet_run());
    CHECK_EQ_INT(test_run(cmd, NULL, &err), 1);
    free(err);
}

/* ------------------------------------------------------------ --lookup */

#define DAYS_AND_MONTHS                                                                            \
    "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday. January, February, March, "   \
    "April, May, June, July, August, September, October, November, December. "
/* A list twice and its start again: the continuation copies it. */
#define COPY_PROMPT DAYS_AND_MONTHS DAYS_AND_MONTHS "Monday, Tuesday,"
#define PLAIN_ARGS "--parallel 2 --ignore-eos"
#define LOOKUP_ARGS PLAIN_ARGS " --lookup 4"
#define REF_TOKENS 32

/* One completion and what its answer says. */
typedef struct {
    int port, stream;
    const char *prompt; /* JSON-escaped */
    const char *extra;  /* more fields: ", \"stop\": ..." */
    char *text, *finish;
    long drafted, accepted; /* timings.draft_n, draft_n_accepted; -1: absent */
} completion;

static long timing(const char *body, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *at = body ? strstr(body, pat) : NULL;
    return at ? strtol(at + strlen(pat), NULL, 10) : -1;
}

static void *complete(void *arg)
{
    completion *c = arg;
    char *json, *body = NULL;
    if (asprintf(&json, "{\"prompt\": \"%s\", \"temperature\": 0, \"stream\": %s%s}", c->prompt,
                 c->stream ? "true" : "false", c->extra ? c->extra : "") < 0)
        return NULL;
    if (post(c->port, "/v1/completions", json, &body) == 200) {
        int done = 1;
        c->text = c->stream ? stream_text(body, "text", &done, &c->finish) : field(body, "text");
        if (!c->stream) c->finish = field(body, "finish_reason");
        if (!done) test_fail(__FILE__, __LINE__, "a stream without [DONE]: %s", body);
    }
    c->drafted = timing(body, "draft_n");
    c->accepted = timing(body, "draft_n_accepted");
    free(body);
    free(json);
    return NULL;
}

static void completion_free(completion *c)
{
    free(c->text);
    free(c->finish);
}

/* Do two answers have the same text and finish_reason? */
static int same_answer(const completion *a, const completion *b)
{
    return a->text && b->text && !strcmp(a->text, b->text) && a->finish && b->finish &&
           !strcmp(a->finish, b->finish);
}

/* s with '"', '\\' and control bytes escaped for a JSON string (malloc'd). */
static char *json_escape(const char *s)
{
    char *out = malloc(6 * strlen(s) + 1), *o = out;
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') *o++ = '\\';
        if ((unsigned char)*s < 0x20)
            o += sprintf(o, "\\u%04x", *s);
        else
            *o++ = *s;
    }
    *o = 0;
    return out;
}

/* Every reference prompt (chat ones in the 2B-4T format), greedy, whole
 * and streamed: a server with --lookup answers as one without. */
TEST(server_lookup_references_equal_plain)
{
    SHARED_OR_SKIP(ref, "reference/bitnet-tiny-greedy.jsonl");
    char *data = test_read_file(ref, NULL);
    if (!data) SKIP("cannot read the reference");
    server plain, lookup;
    if (server_start(&plain, PLAIN_ARGS)) return;
    if (server_start(&lookup, LOOKUP_ARGS)) {
        server_stop(&plain);
        return;
    }
    char extra[64];
    snprintf(extra, sizeof extra, ", \"max_tokens\": %d", REF_TOKENS);
    int n = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        const char *end = line + strlen(line), *p = json_find(line, end, "prompt");
        char *prompt = NULL, *wrapped;
        if (!p || json_string(p, end, &prompt) < 0) continue;
        const int chat = json_bool(json_find(line, end, "chat"), end) == 1;
        if (asprintf(&wrapped, chat ? "User: %s<|eot_id|>Assistant: " : "%s", prompt) < 0) break;
        char *escaped = json_escape(wrapped);
        completion want = {.port = plain.port, .prompt = escaped, .extra = extra};
        complete(&want);
        for (int stream = 0; stream < 2; stream++) {
            completion got = {
                .port = lookup.port, .stream = stream, .prompt = escaped, .extra = extra};
            complete(&got);
            CHECK_MSG(same_answer(&want, &got), "prompt '%s' (stream %d): '%s' with --lookup, '%s'",
                      prompt, stream, got.text ? got.text : "(none)",
                      want.text ? want.text : "(none)");
            CHECK_MSG(got.drafted >= 0, "no draft_n in the timings of '%s'", prompt);
            completion_free(&got);
        }
        completion_free(&want);
        free(escaped);
        free(wrapped);
        free(prompt);
        n++;
    }
    CHECK(n > 0);
    free(data);
    CHECK_EQ_INT(server_stop(&lookup), 0);
    CHECK_EQ_INT(server_stop(&plain), 0);
}

/* The copy-heavy prompt in both slots at once (one client streaming, one
 * not), to the length limit, a stop string inside a run of drafts, a
 * limit inside one, and the end of the context (-c 256): the same text and
 * finish_reason as without --lookup, with drafts accepted. */
TEST(server_lookup_copy_heavy_two_slots)
{
    static const char *const extras[] = {", \"max_tokens\": 120",
                                         ", \"max_tokens\": 120, \"stop\": \"October\"",
                                         ", \"max_tokens\": 7", ", \"max_tokens\": -1"};
    enum { N_EXTRAS = sizeof extras / sizeof *extras };
    server plain, lookup;
    if (server_start(&plain, PLAIN_ARGS)) return;
    if (server_start(&lookup, LOOKUP_ARGS)) {
        server_stop(&plain);
        return;
    }
    for (int i = 0; i < N_EXTRAS; i++) {
        completion want = {.port = plain.port, .prompt = COPY_PROMPT, .extra = extras[i]};
        complete(&want);
        completion got[2];
        pthread_t t[2];
        for (int k = 0; k < 2; k++) {
            got[k] = (completion){
                .port = lookup.port, .stream = k, .prompt = COPY_PROMPT, .extra = extras[i]};
            pthread_create(&t[k], NULL, complete, &got[k]);
        }
        for (int k = 0; k < 2; k++) {
            pthread_join(t[k], NULL);
            CHECK_MSG(same_answer(&want, &got[k]), "%s (stream %d): '%s' with --lookup, '%s'",
                      extras[i], k, got[k].text ? got[k].text : "(none)",
                      want.text ? want.text : "(none)");
            CHECK_MSG(want.drafted == -1, "a server without --lookup reports drafts");
            if (i == 0)
                CHECK_MSG(got[k].accepted > 0 && got[k].accepted <= got[k].drafted,
                          "drafted %ld, accepted %ld", got[k].drafted, got[k].accepted);
            completion_free(&got[k]);
        }
        completion_free(&want);
    }
    /* a request may turn speculation off */
    completion off = {.port = lookup.port,
                      .prompt = COPY_PROMPT,
                      .extra = ", \"max_tokens\": 20, \"speculative.n_max\": 0"};
    complete(&off);
    CHECK_MSG(off.text && off.drafted == -1, "speculative.n_max 0 still drafts");
    completion_free(&off);
    char *m = metrics(lookup.port);
    static const char accepted[] = "\nbitnet_draft_accepted_total ";
    const char *at = strstr(m, accepted);
    CHECK_MSG(at && strtol(at + strlen(accepted), NULL, 10) > 0, "metrics: %s", m);
    free(m);
    CHECK_EQ_INT(server_stop(&lookup), 0);
    CHECK_EQ_INT(server_stop(&plain), 0);
}

/* ---------------------------------------------------- real clients */

TEST(server_curl_client)
{
    if (test_run("curl --version >/dev/null 2>&1", NULL, NULL) != 0) SKIP("curl is not installed");
    server s;
    if (server_start(&s, "")) return;
    char cmd[CMD_LEN], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "curl -sS --max-time 20 http://127.0.0.1:%d/v1/completions -H 'Content-Type: "
             "application/json' -d '{\"prompt\": \"%s\", \"max_tokens\": %d, \"temperature\": 0}'",
             s.port, PROMPTS[1], N_TOKENS);
    CHECK_EQ_INT(test_run(cmd, &out, NULL), 0);
    char *text = field(out, "text");
    CHECK_MSG(text && !strcmp(text, cli_greedy(1)), "curl got %s", out);
    free(text);
    free(out);
    snprintf(cmd, sizeof cmd,
             "curl -sS -N --max-time 20 http://127.0.0.1:%d/v1/chat/completions -d "
             "'{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 6, "
             "\"stream\": true}'",
             s.port);
    CHECK_EQ_INT(test_run(cmd, &out, NULL), 0);
    int done;
    char *streamed = stream_text(out, "content", &done, NULL);
    CHECK_MSG(done, "curl stream: %s", out);
    free(streamed);
    free(out);
    CHECK_EQ_INT(server_stop(&s), 0);
}

TEST(server_chat_page_and_no_webui)
{
    server s;
    if (server_start(&s, "--api-key k")) return;
    char *body;
    /* the page needs no key: it asks for one */
    CHECK_EQ_INT(request(s.port, "GET", "/", NULL, NULL, &body), 200);
    CHECK_MSG(body && strstr(body, "<!doctype html>") && strstr(body, "/v1/chat/completions"),
              "%.200s", body ? body : "");
    free(body);
    CHECK_EQ_INT(server_stop(&s), 0);
    if (server_start(&s, "--no-webui")) return;
    CHECK_EQ_INT(request(s.port, "GET", "/", NULL, NULL, &body), 404);
    CHECK(is_error_body(body));
    free(body);
    CHECK_EQ_INT(server_stop(&s), 0);
}

/* Headless Chromium types a question into the chat page and reads the
 * streamed answer: the greedy reply of the same chat request. */
TEST(server_chat_page_in_chromium)
{
    if (test_run("node --version >/dev/null 2>&1", NULL, NULL) != 0) SKIP("node is not installed");
    if (access("/usr/bin/chromium", X_OK))
        SKIP("chromium is not installed (apt-get install chromium)");
    if (access("tests/server/node_modules/playwright-core/package.json", R_OK))
        SKIP("playwright-core is absent (npm install --prefix tests/server, as .ci/run does)");
    server s;
    if (server_start(&s, "")) return;
    static const char question[] = "What is the capital of France?";
    char cmd[CMD_LEN], *out = NULL, *err = NULL, *json, *body;
    snprintf(cmd, sizeof cmd, "node tests/server/webui_chat.mjs http://127.0.0.1:%d '%s'", s.port,
             question);
    CHECK_EQ_INT(test_run(cmd, &out, &err), 0);
    char *answer = field(out, "answer"), *stats = field(out, "stats");
    asprintf(&json,
             "{\"messages\": [{\"role\": \"system\", \"content\": \"You are a helpful "
             "assistant.\"}, {\"role\": \"user\", \"content\": \"%s\"}], "
             "\"temperature\": 0, \"max_tokens\": 24}",
             question);
    CHECK_EQ_INT(post(s.port, "/v1/chat/completions", json, &body), 200);
    char *expect = field(body, "content");
    CHECK_MSG(answer && expect && *expect && !strcmp(answer, expect) && out &&
                  strstr(out, "\"done\": true") && strstr(out, "\"error\": false"),
              "page: %s (%s), expected %s", out ? out : "", err ? err : "", expect ? expect : "");
    CHECK_MSG(stats && strstr(stats, "tokens/s"), "stats: %s", stats ? stats : "");
    free(expect);
    free(body);
    free(json);
    free(answer);
    free(stats);
    free(out);
    free(err);
    CHECK_EQ_INT(server_stop(&s), 0);
}

TEST(server_openai_npm_client)
{
    if (test_run("node --version >/dev/null 2>&1", NULL, NULL) != 0) SKIP("node is not installed");
    if (access("tests/server/node_modules/openai/package.json", R_OK))
        SKIP("the openai npm package is absent (npm install --prefix tests/server, as .ci/run "
             "does)");
    server s;
    if (server_start(&s, "")) return;
    char cmd[CMD_LEN], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "node tests/server/openai_client.mjs http://127.0.0.1:%d/v1 '%s' %d",
             s.port, PROMPTS[0], N_TOKENS);
    CHECK_EQ_INT(test_run(cmd, &out, &err), 0);
    const char *end = out ? out + strlen(out) : NULL;
    char *completion = NULL, *chat = NULL;
    const char *v = out ? json_find(out, end, "completion") : NULL;
    if (v) json_string(v, end, &completion);
    v = out ? json_find(out, end, "chat") : NULL;
    if (v) json_string(v, end, &chat);
    CHECK_MSG(completion && !strcmp(completion, cli_greedy(0)), "openai: %s %s", out, err);
    CHECK_MSG(chat && *chat, "openai streamed chat: %s %s", out, err);
    free(completion);
    free(chat);
    free(out);
    free(err);
    CHECK_EQ_INT(server_stop(&s), 0);
}

/* The server on the Vulkan device (--device vulkan, continuous batching
 * of concurrent requests): every answer is the CPU's greedy answer. */
TEST(server_on_vulkan_answers_as_the_cpu)
{
    if (!strstr(bn_backends_built(), "vulkan")) SKIP("built without Vulkan (no glslc/headers)");
    char cmd[CMD_LEN], *list = NULL;
    snprintf(cmd, sizeof cmd, "%s --list-devices", test_bitnet_run());
    if (test_run(cmd, &list, NULL) != 0 || !list || !strstr(list, "\nvulkan:0: ")) {
        free(list);
        SKIP("no Vulkan device (--list-devices shows none)");
    }
    free(list);
    server s;
    if (server_start(&s, "--parallel 3 --device vulkan")) return;
    completion c[N_PROMPTS];
    pthread_t th[N_PROMPTS];
    for (int i = 0; i < N_PROMPTS; i++) {
        char *extra;
        if (asprintf(&extra, ", \"max_tokens\": %d", N_TOKENS) < 0) extra = NULL;
        c[i] = (completion){.port = s.port, .prompt = PROMPTS[i], .stream = i % 2, .extra = extra};
        pthread_create(&th[i], NULL, complete, &c[i]);
    }
    for (int i = 0; i < N_PROMPTS; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(c[i].text && !strcmp(c[i].text, cli_greedy(i)),
                  "prompt %d: vulkan '%s', cpu '%s'", i, c[i].text ? c[i].text : "(none)",
                  cli_greedy(i));
        free((char *)c[i].extra);
        completion_free(&c[i]);
    }
    CHECK_EQ_INT(server_stop(&s), 0);
}

/* The openai package (chat, streaming, logprobs, streamed completion
 * logprobs) and LangChain's ChatOpenAI (invoke, stream), as an application
 * would use them: every answer is the server's greedy chat reply. */
TEST(server_openai_and_langchain_clients)
{
    if (test_run("node --version >/dev/null 2>&1", NULL, NULL) != 0) SKIP("node is not installed");
    if (access("tests/server/node_modules/@langchain/openai/package.json", R_OK) ||
        access("tests/server/node_modules/openai/package.json", R_OK))
        SKIP("the npm clients are absent (npm install --prefix tests/server, as .ci/run does)");
    server s;
    if (server_start(&s, "-c 1024")) return;
    char cmd[CMD_LEN], *out = NULL, *err = NULL, *body;
    snprintf(cmd, sizeof cmd, "node tests/server/clients.mjs http://127.0.0.1:%d/v1", s.port);
    CHECK_EQ_INT(test_run(cmd, &out, &err), 0);
    CHECK_EQ_INT(post(s.port, "/v1/chat/completions",
                      "{\"messages\": [{\"role\": \"system\", \"content\": \"You are a helpful "
                      "assistant.\"}, {\"role\": \"user\", \"content\": \"What is the capital of "
                      "France?\"}], \"temperature\": 0, \"max_tokens\": 12}",
                      &body),
                 200);
    char *expect = field(body, "content");
    static const char *const same[] = {"chat", "chat_stream", "langchain_invoke",
                                       "langchain_stream"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        char *got = field(out, same[i]);
        CHECK_MSG(got && expect && *expect && !strcmp(got, expect), "%s: %s, expected %s (%s)",
                  same[i], got ? got : "(none)", expect ? expect : "", err ? err : "");
        free(got);
    }
    char *lp_text = field(out, "text"), *lp_message = field(out, "message");
    CHECK_MSG(lp_text && lp_message && *lp_text && !strcmp(lp_text, lp_message), "logprobs: %s",
              out ? out : "");
    CHECK(out && strstr(out, "\"greedy_is_best\": true"));
    CHECK_MSG(out && strstr(out, "\"json_schema_valid\": true"), "json_schema: %s", out ? out : "");
    CHECK_MSG(out && strstr(out, "\"finish\": \"tool_calls\"") &&
                  strstr(out, "\"name\": \"get_weather\"") &&
                  (strstr(out, "\"city\": \"Paris\"") || strstr(out, "\"city\": \"Rome\"")) &&
                  strstr(out, "\"tool_call_stream_name\": \"get_weather\""),
              "tool calls: %s", out ? out : "");
    const char *cs = out ? strstr(out, "\"completion_stream_logprobs\"") : NULL;
    char *ctext = field(cs, "text"), *ctokens = field(cs, "tokens");
    CHECK_MSG(ctext && ctokens && *ctext && !strcmp(ctext, ctokens), "completion logprobs: %s",
              cs ? cs : "");
    free(ctext);
    free(ctokens);
    free(lp_text);
    free(lp_message);
    free(expect);
    free(body);
    free(out);
    free(err);
    CHECK_EQ_INT(server_stop(&s), 0);
}

/* response_format json_object and json_schema, "json_schema" and
 * "grammar": the reply follows them; a grammar that would explode is a
 * 400 naming the field. */
TEST(server_constrained_output)
{
    server s;
    if (server_start(&s, "--parallel 2 -c 512")) return;
    char *body, *content;
    static const char *const objects[] = {
        "\"response_format\": {\"type\": \"json_object\"}",
        "\"json_schema\": {\"type\": \"object\", \"properties\": {\"answer\": {\"enum\": "
        "[\"yes\", \"no\"]}, \"n\": {\"type\": \"integer\"}}}",
        "\"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\", "
        "\"schema\": {\"type\": \"object\", \"properties\": {\"answer\": {\"enum\": [\"yes\", "
        "\"no\"]}, \"n\": {\"type\": \"integer\"}}}}}",
    };
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++) {
        char *json;
        /* the tiny model's strings run long: prompts on which it closes them */
        asprintf(&json,
                 "{\"messages\": [{\"role\": \"user\", \"content\": \"%s\"}], "
                 "\"max_tokens\": 60, \"temperature\": 0, %s}",
                 i ? "Is Paris in France?" : "Give me a JSON object about Paris.", objects[i]);
        CHECK_EQ_INT(post(s.port, "/v1/chat/completions", json, &body), 200);
        content = field(body, "content");
        const char *c = content ? content + strspn(content, " \n\t") : NULL;
        size_t n = c ? strlen(c) : 0;
        while (n && strchr(" \n\t", c[n - 1])) n--;
        CHECK_MSG(c && n >= 2 && c[0] == '{' && c[n - 1] == '}' && strstr(body, "\"stop\""),
                  "%s: %s", objects[i], body ? body : "");
        if (i > 0)
            CHECK_MSG(
                c && (strstr(c, "\"answer\"") && (strstr(c, "\"yes\"") || strstr(c, "\"no\""))),
                "%s", c ? c : "");
        free(content);
        free(body);
        free(json);
    }
    CHECK_EQ_INT(
        post(s.port, "/v1/completions",
             "{\"prompt\": \"Is Paris in France?\", \"max_tokens\": 8, \"temperature\": 1, "
             "\"grammar\": \"root ::= \\\" \\\" (\\\"yes\\\" | \\\"no\\\")\"}",
             &body),
        200);
    content = field(body, "text");
    CHECK_MSG(content && (!strcmp(content, " yes") || !strcmp(content, " no")), "%s",
              body ? body : "");
    free(content);
    free(body);
    static const char *const bad[] = {
        "{\"prompt\": \"a\", \"grammar\": \"root ::= root \\\"a\\\"\"}",
        "{\"prompt\": \"a\", \"grammar\": \"root ::= \\\"a\\\"{99999}\"}",
        "{\"prompt\": \"a\", \"grammar\": 5}",
        "{\"prompt\": \"a\", \"json_schema\": {\"type\": \"spaceship\"}}",
        "{\"prompt\": \"a\", \"response_format\": {\"type\": \"json_schema\"}}",
        "{\"prompt\": \"a\", \"grammar\": \"root ::= \\\"a\\\"\", \"json_schema\": {}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int status = post(s.port, "/v1/completions", bad[i], &body);
        CHECK_MSG(status == 400 && is_error_body(body), "%s: %d %s", bad[i], status,
                  body ? body : "");
        free(body);
    }
    CHECK_EQ_INT(server_stop(&s), 0);
}

/* tools with tool_choice required or named: the reply is a call of one of
 * the tools, with arguments of its schema, finish_reason tool_calls;
 * "auto" shows the tools and lets the model answer; a tool's result is
 * taken back as a message; bad tools are 400s. */
TEST(server_tool_calls)
{
    server s;
    if (server_start(&s, "-c 1024")) return;
    static const char tools[] =
        "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
        "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"enum\": "
        "[\"Paris\", \"Rome\"]}}}}}, {\"type\": \"function\", \"function\": {\"name\": "
        "\"get_time\", \"parameters\": {\"type\": \"object\", \"properties\": {\"zone\": "
        "{\"enum\": [\"utc\", \"cet\"]}}}}}]";
    static const char *const choices[] = {"\"required\"",
                                          "{\"type\": \"function\", \"function\": {\"name\": "
                                          "\"get_time\"}}"};
    char *json, *body;
    for (int i = 0; i < 2; i++) {
        asprintf(&json,
                 "{\"messages\": [{\"role\": \"user\", \"content\": \"What is the "
                 "weather in Paris?\"}], \"max_tokens\": 200, \"temperature\": 0, %s, "
                 "\"tool_choice\": %s}",
                 tools, choices[i]);
        CHECK_EQ_INT(post(s.port, "/v1/chat/completions", json, &body), 200);
        char *args = field(body, "arguments");
        CHECK_MSG(body && strstr(body, "\"finish_reason\": \"tool_calls\"") &&
                      strstr(body, "\"content\": null") &&
                      strstr(body, i ? "\"name\": \"get_time\"" : "\"name\": \"get_") && args &&
                      strstr(args, i ? "\"zone\"" : "\""),
                  "%s", body ? body : "");
        free(args);
        free(body);
        free(json);
    }
    /* a conversation with a call and its result goes on in text */
    asprintf(&json,
             "{\"messages\": [{\"role\": \"user\", \"content\": \"Weather?\"}, "
             "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"c1\", "
             "\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
             "\"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}}]}, {\"role\": \"tool\", "
             "\"tool_call_id\": \"c1\", \"content\": \"20 C\"}], \"max_tokens\": 8, %s}",
             tools);
    CHECK_EQ_INT(post(s.port, "/v1/chat/completions", json, &body), 200);
    free(body);
    free(json);
    static const char *const bad[] = {
        "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"tools\": [{\"type\": "
        "\"function\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"tools\": [{\"type\": "
        "\"function\", \"function\": {\"name\": \"f\"}}], \"tool_choice\": {\"type\": "
        "\"function\", \"function\": {\"name\": \"g\"}}}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"tools\": [{\"type\": "
        "\"function\", \"function\": {\"name\": \"f\"}}], \"tool_choice\": \"sometimes\"}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"tools\": [{\"type\": "
        "\"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"x\"}}}], "
        "\"tool_choice\": \"required\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int status = post(s.port, "/v1/chat/completions", bad[i], &body);
        CHECK_MSG(status == 400 && is_error_body(body), "%s: %d %s", bad[i], status,
                  body ? body : "");
        free(body);
    }
    CHECK_EQ_INT(server_stop(&s), 0);
}
