/*
 * server.c - `bitnet-run --server`: an OpenAI-compatible HTTP server
 * (README, Server). The main thread accepts connections; each connection
 * gets a thread that reads requests (http.c), answers the light endpoints
 * itself and hands generations to the engine thread (slots.c),
 * then streams what it publishes. A request holds a slot only once it is
 * read whole, so a slow client cannot block the engine; a client that
 * leaves cancels its generation. SIGINT/SIGTERM stop accepting, give the
 * running requests a grace period, cancel the rest and exit 0.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "net.h"
#include "os.h"
#include "server.h"
#include "timing.h"

#define POLL_SLICE_MS 50            /* how often waits look at the stop flags */
#define GRACE_MS 3000               /* running requests may finish this long after a signal */
#define MAX_CONNECTIONS 256         /* beyond: the longest-idle one is closed, else 503 */
#define HEAD_TIMEOUT_MS 5000        /* a request head (or a kept-alive connection's next one) */
#define MAX_KEEPALIVE_REQUESTS 1000 /* requests one connection may carry */
#define CONN_STACK (256 << 10)      /* a connection thread's stack */
#define LISTEN_BACKLOG 128
#define LINGER_MS 1000      /* reading a closing client's leftovers */
#define FINAL_WRITE_MS 1000 /* after the grace period: telling the clients they are cut off */
#define HEAD_CAP 512

static server *the_server;
static double cancelled_at; /* now_ms when cancel_all was set */
static atomic_long next_id;

/* Ctrl-C or SIGTERM: the accept loop sees the flag within a poll slice. */
static void on_stop_signal(void) { atomic_store(&the_server->stopping, 1); }

/* ------------------------------------------------------- socket I/O */

typedef struct conn {
    server *srv;
    net_sock fd;
    char *buf;
    size_t len, cap;
    atomic_int idle;          /* waiting for a request head */
    double idle_since;        /* when it began waiting */
    struct conn *prev, *next; /* in open_conns, under srv->mu */
} conn;

/* The connections with a thread, oldest first (under the server's mutex):
 * when they are all taken, the one idle longest makes room for a new one. */
static conn *open_conns;

static int deadline_left_ms(double deadline)
{
    const double left = deadline - now_ms();
    return left <= 0 ? 0 : left < POLL_SLICE_MS ? (int)left + 1 : POLL_SLICE_MS;
}

/* Sends all n bytes within the timeout; -1 when the client is gone or too
 * slow. Once the server cancels everything, FINAL_WRITE_MS remain to say
 * so. */
static int send_all(conn *c, const char *p, size_t n)
{
    double deadline = now_ms() + c->srv->o->server_timeout * 1e3;
    while (n) {
        if (atomic_load(&c->srv->cancel_all) && deadline > cancelled_at + FINAL_WRITE_MS)
            deadline = cancelled_at + FINAL_WRITE_MS;
        const int wait = deadline_left_ms(deadline);
        if (!wait) return -1;
        const int ready = net_wait(c->fd, NET_OUT, wait);
        if (ready < 0) return -1;
        if (!ready) continue;
        const long k = net_send(c->fd, p, n);
        if (!k) continue;
        if (k < 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int respond(conn *c, int status, const char *type, const char *body, size_t len,
                   int keep_alive)
{
    char head[HEAD_CAP];
    const size_t hl = http_response_head(head, sizeof head, status, type, (long)len, keep_alive,
                                         NULL);
    pthread_mutex_lock(&c->srv->mu);
    c->srv->stats.requests++;
    c->srv->stats.errors += status >= 400;
    pthread_mutex_unlock(&c->srv->mu);
    return send_all(c, head, hl) || send_all(c, body, len) ? -1 : 0;
}

static int respond_json(conn *c, int status, char *body, size_t len, int keep_alive)
{
    const int rc = respond(c, status, "application/json", body, len, keep_alive);
    free(body);
    return rc;
}

static int respond_error(conn *c, int status, const char *msg, int keep_alive)
{
    size_t len;
    char *body = api_error_body(status, msg, &len);
    return respond_json(c, status, body, len, keep_alive);
}

/* Has the client closed its side (or reset) the connection? */
static int client_gone(const conn *c) { return net_peer_gone(c->fd); }

/* Once the head of a request has arrived: its body gets --timeout, and a
 * client that expects it is told to go on. 0, or -1 when it is gone. */
static int head_arrived(conn *c, const http_request *req, double *deadline)
{
    atomic_store(&c->idle, 0);
    *deadline = now_ms() + c->srv->o->server_timeout * 1e3;
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    return req->expect_continue ? send_all(c, cont, sizeof cont - 1) : 0;
}

/* Reads until buf holds a whole request. The head must arrive within
 * HEAD_TIMEOUT_MS (so idle and half-open connections cannot hold the
 * server), the body within --timeout. 0 with req filled; -1 to close the
 * connection (the client left, stayed silent, was evicted, or was
 * answered with an error). */
static int read_request(conn *c, http_request *req)
{
    server *srv = c->srv;
    const size_t max_body = (size_t)srv->o->server_max_body;
    double deadline = now_ms() + HEAD_TIMEOUT_MS;
    int have_head = 0;
    memset(req, 0, sizeof *req);
    c->idle_since = now_ms();
    atomic_store(&c->idle, 1);
    for (;;) {
        const char *why;
        const int rc = c->len ? http_parse_request(c->buf, c->len, max_body, req, &why)
                              : HTTP_NEED_MORE;
        if (rc > 0) return atomic_store(&c->idle, 0), respond_error(c, rc, why, 0), -1;
        if ((rc == 0 || req->head_len) && !have_head) {
            have_head = 1;
            if (head_arrived(c, req, &deadline)) return -1;
        }
        if (rc == 0) return 0;
        if (atomic_load(&srv->stopping) && c->len == 0) return -1;
        const int wait = deadline_left_ms(deadline);
        if (!wait)
            return c->len ? respond_error(c, 408, "the request took too long to arrive", 0),
                   -1     : -1;
        if (net_wait(c->fd, NET_IN, wait) <= 0) continue;
        if (c->len == c->cap) {
            c->cap = c->cap ? 2 * c->cap : HTTP_MAX_HEAD;
            char *grown = realloc(c->buf, c->cap);
            if (!grown) log_out_of_memory();
            c->buf = grown;
        }
        const long n = net_recv(c->fd, c->buf + c->len, c->cap - c->len);
        if (n <= 0) return -1;
        c->len += (size_t)n;
    }
}

/* ----------------------------------------------------- generations */

/* Sends one stream event; frees it. */
static int send_event(conn *c, char *ev, size_t len)
{
    const int rc = send_all(c, ev, len);
    free(ev);
    return rc;
}

/* Waits for the job to end, streaming its text as events when asked;
 * cancels it when the client leaves. Returns -1 once the client is gone. */
static int follow_job(conn *c, srv_request *req, srv_job *job, const char *id)
{
    server *srv = c->srv;
    int gone = 0;
    pthread_mutex_lock(&srv->mu);
    while (!job->done) {
        if (req->stream && !req->hold_text && job->text.len && !gone) {
            size_t len;
            char *ev = api_stream_event(srv, req, job, id, job->text.data, job->text.len, 0, &len);
            job->text.len = 0;
            job->lp_sent = job->n_lp;
            pthread_mutex_unlock(&srv->mu);
            gone = send_event(c, ev, len);
            if (gone) slots_cancel(srv, job);
            pthread_mutex_lock(&srv->mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += POLL_SLICE_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&job->cv, &srv->mu, &ts);
        if (gone || job->done) continue;
        pthread_mutex_unlock(&srv->mu);
        gone = client_gone(c);
        if (gone) slots_cancel(srv, job);
        pthread_mutex_lock(&srv->mu);
    }
    pthread_mutex_unlock(&srv->mu);
    return gone ? -1 : 0;
}

/* Why a job ended without a finish reason, for its 503. */
static const char *cancel_reason(const server *srv, const srv_job *job)
{
    if (job->error[0]) return job->error;
    return atomic_load(&srv->cancel_all)
               ? "the server is shutting down: the request did not finish in time"
               : "the request was cancelled";
}

static const char done_event[] = "data: [DONE]\n\n";

static int finish_stream(conn *c, srv_request *req, const srv_job *job, const char *id)
{
    size_t len;
    if (!job->finish_reason) { /* cancelled or failed: an error event, then the end */
        char *body = api_error_body(503, cancel_reason(c->srv, job), &len);
        char *ev = malloc(len + 16);
        if (!ev) log_out_of_memory();
        len = (size_t)sprintf(ev, "data: %s\n", body);
        free(body);
        if (send_event(c, ev, len)) return -1;
        return send_all(c, done_event, sizeof done_event - 1);
    }
    if (job->text.len) { /* the text that came with the end */
        char *ev = api_stream_event(c->srv, req, job, id, job->text.data, job->text.len, 0, &len);
        if (send_event(c, ev, len)) return -1;
    }
    char *ev = api_stream_event(c->srv, req, job, id, "", 0, 1, &len);
    if (send_event(c, ev, len)) return -1;
    return send_all(c, done_event, sizeof done_event - 1);
}

static int handle_generation(conn *c, const http_request *hr, int chat)
{
    server *srv = c->srv;
    char msg[BN_ERR_LEN], id[48];
    srv_request req;
    srv_job job;
    memset(&job, 0, sizeof job);
    if (bn_model_embedding_only(srv->m))
        return respond_error(c, 400,
                             "this model is an embedding model (it pools its states and "
                             "has no output layer): use /v1/embeddings",
                             hr->keep_alive);
    int status = api_parse_generation(srv, hr->body, hr->content_length, chat, &req, &job, msg);
    if (status) {
        api_request_free(&req, &job);
        return respond_error(c, status, msg, hr->keep_alive);
    }
    snprintf(id, sizeof id, "%s-%ld", chat ? "chatcmpl" : "cmpl", atomic_fetch_add(&next_id, 1));
    pthread_cond_init(&job.cv, NULL);
    int rc = 0;
    if (req.stream) {
        char head[HEAD_CAP];
        const size_t hl = http_response_head(head, sizeof head, 200, "text/event-stream", -1, 0,
                                             "Cache-Control: no-cache\r\n");
        if (!send_all(c, head, hl)) {
            slots_submit(srv, &job);
            if (!follow_job(c, &req, &job, id)) finish_stream(c, &req, &job, id);
        }
        pthread_mutex_lock(&srv->mu);
        srv->stats.requests++;
        pthread_mutex_unlock(&srv->mu);
        rc = -1; /* a stream ends with the connection */
    } else {
        slots_submit(srv, &job);
        rc = follow_job(c, &req, &job, id);
        size_t len;
        if (!rc && job.finish_reason) {
            char *body = api_completion_body(srv, &req, &job, id, job.text.data, job.text.len,
                                             &len);
            rc = respond_json(c, 200, body, len, hr->keep_alive);
        } else if (!rc) {
            rc = respond_error(c, 503, cancel_reason(srv, &job), 0);
        }
    }
    pthread_cond_destroy(&job.cv);
    api_request_free(&req, &job);
    return rc;
}

/* --------------------------------------------------------- routing */

static int path_is(const http_request *r, const char *p)
{
    return r->path_len == strlen(p) && !memcmp(r->path, p, r->path_len);
}

/* "Bearer KEY", compared in time that does not depend on where it differs. */
static int authorized(const server *srv, const http_request *r)
{
    const char *key = srv->o->api_key;
    if (!key) return 1;
    static const char bearer[] = "Bearer ";
    const size_t kl = strlen(key), bl = sizeof bearer - 1;
    if (!r->auth || r->auth_len != bl + kl) return 0;
    unsigned char diff = 0;
    for (size_t i = 0; i < bl + kl; i++)
        diff |= (unsigned char)(r->auth[i] ^ (i < bl ? bearer[i] : key[i - bl]));
    return diff == 0;
}

typedef enum {
    EP_WEBUI,
    EP_HEALTH,
    EP_MODELS,
    EP_COMPLETIONS,
    EP_CHAT,
    EP_TOKENIZE,
    EP_DETOKENIZE,
    EP_METRICS,
    EP_EMBEDDINGS, /* OpenAI's */
    EP_EMBEDDING,  /* llama-server's */
} endpoint;

/* The chat page, src/server/webui/index.html (tools/embed.sh). */
extern const unsigned char webui_page[];
extern const size_t webui_page_len;

static const struct {
    const char *path, *alias, *method;
    endpoint ep;
} ROUTES[] = {
    {"/", "/index.html", "GET", EP_WEBUI},
    {"/health", NULL, "GET", EP_HEALTH},
    {"/v1/models", "/models", "GET", EP_MODELS},
    {"/v1/completions", "/completions", "POST", EP_COMPLETIONS},
    {"/v1/chat/completions", "/chat/completions", "POST", EP_CHAT},
    {"/tokenize", NULL, "POST", EP_TOKENIZE},
    {"/detokenize", NULL, "POST", EP_DETOKENIZE},
    {"/metrics", NULL, "GET", EP_METRICS},
    {"/v1/embeddings", "/embeddings", "POST", EP_EMBEDDINGS},
    {"/embedding", NULL, "POST", EP_EMBEDDING},
};

static int serve_endpoint(conn *c, const http_request *r, endpoint ep)
{
    char msg[BN_ERR_LEN], *body = NULL;
    size_t len = 0;
    int status = 200;
    switch (ep) {
    case EP_WEBUI:
        if (c->srv->o->no_webui)
            return respond_error(c, 404, "no such endpoint (--no-webui)", r->keep_alive);
        return respond(c, 200, "text/html; charset=utf-8", (const char *)webui_page, webui_page_len,
                       r->keep_alive);
    case EP_HEALTH: {
        static const char ok[] = "{\"status\": \"ok\"}\n";
        return respond(c, 200, "application/json", ok, sizeof ok - 1, r->keep_alive);
    }
    case EP_MODELS: body = api_models_body(c->srv, &len); break;
    case EP_COMPLETIONS: return handle_generation(c, r, 0);
    case EP_CHAT: return handle_generation(c, r, 1);
    case EP_TOKENIZE:
        status = api_tokenize(c->srv, r->body, r->content_length, &body, &len, msg);
        break;
    case EP_DETOKENIZE:
        status = api_detokenize(c->srv, r->body, r->content_length, &body, &len, msg);
        break;
    case EP_EMBEDDINGS:
    case EP_EMBEDDING:
        status = api_embeddings(c->srv, r->body, r->content_length, ep == EP_EMBEDDINGS, &body,
                                &len, msg);
        break;
    case EP_METRICS:
        body = api_metrics_body(c->srv, &len);
        status = respond(c, 200, "text/plain; version=0.0.4", body, len, r->keep_alive);
        free(body);
        return status;
    }
    if (status != 200) return respond_error(c, status, msg, r->keep_alive);
    return respond_json(c, 200, body, len, r->keep_alive);
}

static int route(conn *c, const http_request *r)
{
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
        if (!path_is(r, ROUTES[i].path) && !(ROUTES[i].alias && path_is(r, ROUTES[i].alias)))
            continue;
        if (strcmp(r->method, ROUTES[i].method))
            return respond_error(c, 405, "method not allowed on this path", r->keep_alive);
        /* the page and /health are public: the page asks for the key itself */
        if (ROUTES[i].ep != EP_HEALTH && ROUTES[i].ep != EP_WEBUI && !authorized(c->srv, r))
            return respond_error(c, 401, "invalid or missing API key (Authorization: Bearer KEY)",
                                 r->keep_alive);
        return serve_endpoint(c, r, ROUTES[i].ep);
    }
    return respond_error(c, 404, "no such endpoint", r->keep_alive);
}

/* Closes after reading what the client still sends (briefly): closing
 * with unread input would reset the connection and could destroy the
 * response before the client reads it (an early 413 or 431). */
static void linger_close(net_sock fd)
{
    char sink[4096];
    net_shutdown_send(fd);
    const double until = now_ms() + LINGER_MS;
    for (int wait; (wait = deadline_left_ms(until));)
        if (net_wait(fd, NET_IN, wait) > 0 && net_recv(fd, sink, sizeof sink) <= 0) break;
    net_close(fd);
}

static void *connection_main(void *arg)
{
    conn *c = arg;
    server *srv = c->srv;
    http_request req;
    for (int served = 1; !read_request(c, &req); served++) {
        const size_t used = req.head_len + req.content_length;
        if (served == MAX_KEEPALIVE_REQUESTS) req.keep_alive = 0; /* told "close" */
        const int keep = req.keep_alive && !atomic_load(&srv->stopping);
        if (route(c, &req) || !keep) break;
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
    }
    pthread_mutex_lock(&srv->mu); /* out of the list before its fd can be reused */
    if (c->prev)
        c->prev->next = c->next;
    else
        open_conns = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&srv->mu);
    linger_close(c->fd);
    free(c->buf);
    free(c);
    pthread_mutex_lock(&srv->mu);
    srv->connections--;
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

/* ------------------------------------------------------- listening */

/* log_error, then exits with code: for failures while the server starts. */
static __attribute__((format(printf, 2, 3), noreturn)) void server_die(int code, const char *fmt,
                                                                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_verror(fmt, ap);
    va_end(ap);
    exit(code);
}

/* Binds host:port; prints where it listens, and warns when it is reachable
 * from other machines without an API key. */
static net_sock listen_on(const run_opts *o)
{
    const char *host = o->host ? o->host : OPT_DEFAULT_HOST;
    char err[BN_ERR_LEN];
    int loopback, bound;
    const net_sock fd = net_listen(host, o->port, LISTEN_BACKLOG, &loopback, &bound, err,
                                   sizeof err);
    if (fd == NET_NONE) server_die(EXIT_USAGE, "%s", err);
    if (!loopback && !o->api_key)
        log_note("warning: listening on %s, reachable from other machines, without --api-key",
                 host);
    log_note("listening on http://%s:%d", host, bound);
    return fd;
}

/* At the connection cap: wakes the connection idle longest (waiting for
 * a head) so that it closes; 1 when there was one. Under srv->mu. */
static int evict_idle(void)
{
    conn *oldest = NULL;
    for (conn *c = open_conns; c; c = c->next)
        if (atomic_load(&c->idle) && (!oldest || c->idle_since < oldest->idle_since)) oldest = c;
    if (!oldest) return 0;
    atomic_store(&oldest->idle, 0); /* not chosen twice */
    net_shutdown_both(oldest->fd);  /* its wait wakes, its recv sees the end */
    return 1;
}

static void start_connection(server *srv, net_sock fd)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) log_out_of_memory();
    *c = (conn){.srv = srv, .fd = fd};
    pthread_mutex_lock(&srv->mu);
    /* an evicted connection still counts until its thread ends: the cap
     * is exceeded by the few that are closing */
    const int full = srv->connections >= MAX_CONNECTIONS && !evict_idle();
    if (!full) {
        srv->connections++;
        c->next = open_conns;
        if (open_conns) open_conns->prev = c;
        open_conns = c;
    }
    pthread_mutex_unlock(&srv->mu);
    if (full) {
        respond_error(c, 503, "too many connections", 0);
        net_close(fd);
        free(c);
        return;
    }
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, CONN_STACK);
    if (pthread_create(&t, &attr, connection_main, c)) {
        pthread_mutex_lock(&srv->mu);
        if (c->next) c->next->prev = NULL;
        open_conns = c->next;
        srv->connections--;
        pthread_mutex_unlock(&srv->mu);
        net_close(fd);
        free(c);
    }
    pthread_attr_destroy(&attr);
}

static void accept_loop(server *srv, net_sock lfd)
{
    while (!atomic_load(&srv->stopping)) {
        if (net_wait(lfd, NET_IN, POLL_SLICE_MS) <= 0) continue; /* the flag says when to stop */
        const net_sock fd = net_accept(lfd);
        if (fd != NET_NONE) start_connection(srv, fd);
    }
}

static int connections_left(server *srv)
{
    pthread_mutex_lock(&srv->mu);
    const int n = srv->connections;
    pthread_mutex_unlock(&srv->mu);
    return n;
}

/* After a signal: the running requests get GRACE_MS to finish, then
 * everything is cancelled. */
static void drain(server *srv)
{
    pthread_mutex_lock(&srv->mu);
    pthread_cond_broadcast(&srv->wake);
    pthread_mutex_unlock(&srv->mu);
    const double until = now_ms() + GRACE_MS;
    while (connections_left(srv) && now_ms() < until) usleep(POLL_SLICE_MS * 1000);
    cancelled_at = now_ms();
    atomic_store(&srv->cancel_all, 1);
    slots_join(srv);
    while (connections_left(srv)) usleep(POLL_SLICE_MS * 1000);
}

static char *model_name_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *name = strdup(slash ? slash + 1 : path);
    if (!name) log_out_of_memory();
    return name;
}

int run_server(const run_opts *o)
{
    if (o->prompt || o->prompt_file) server_die(EXIT_USAGE, "--server takes its prompts over HTTP");
    server srv = {.o = o, .model_name = model_name_of(o->model)};
    pthread_mutex_init(&srv.mu, NULL);
    pthread_cond_init(&srv.wake, NULL);
    the_server = &srv;
    net_init();
    os_on_interrupt(on_stop_signal, 1);
    char err[BN_ERR_LEN];
    int code;
    srv.m = setup_load_model(o, &code, err);
    if (!srv.m) server_die(code, "%s", err);
    srv.tok = bn_model_tokenizer(srv.m);
    srv.fmt = chat_format_choose(o->chat_template, srv.m, err);
    if (!srv.fmt) server_die(EXIT_USAGE, "--chat-template: %s", err);
    if ((code = slots_start(&srv, err))) server_die(code, "%s", err);
    const net_sock lfd = listen_on(o);
    accept_loop(&srv, lfd);
    net_close(lfd);
    log_note("stopping: %d connection(s) open", connections_left(&srv));
    drain(&srv);
    note_peak_memory(o);
    bn_model_free(srv.m);
    free(srv.model_name);
    pthread_cond_destroy(&srv.wake);
    pthread_mutex_destroy(&srv.mu);
    return 0;
}
