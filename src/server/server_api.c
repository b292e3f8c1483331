/*
 * server_api.c - the OpenAI-compatible request and response bodies of the
 * server: the fields of /v1/completions and /v1/chat/completions checked
 * and turned into a job (prompt tokens, sampler, limits, stop strings);
 * completion objects, stream chunks and errors written back; /tokenize,
 * /detokenize, /v1/models and /metrics. Unknown fields and values out of
 * range are refused with a message naming them.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "sampling_fields.h"
#include "server.h"
#include "stream.h"
#include "timing.h"

#define MAX_TEMPERATURE 100.0
#define HTTP_OK 200
#define HTTP_BAD_REQUEST 400

/* ============================================================ helpers */

static FILE *mem_open(char **data, size_t *len)
{
    FILE *f = open_memstream(data, len);
    if (!f) log_out_of_memory();
    return f;
}

static int bad(char msg[BN_ERR_LEN], const char *fmt, const char *key)
{
    snprintf(msg, BN_ERR_LEN, fmt, key);
    return HTTP_BAD_REQUEST;
}

/* Whether s[0..n) is well-formed UTF-8. */
static int valid_utf8(const char *s, size_t n)
{
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        const size_t k = bn_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

/* A request body: one JSON object in valid UTF-8. 0, or -1 with msg set. */
static int parse_body(const char *body, size_t len, json_object *obj, char msg[BN_ERR_LEN])
{
    if (!valid_utf8(body, len)) {
        snprintf(msg, BN_ERR_LEN, "the request body is not valid UTF-8");
        return -1;
    }
    return json_parse_object(body, len, obj, msg);
}

/* A JSON boolean member into *out; -1 when it is not one. */
static int member_bool(const json_member *mb, int *out)
{
    if (mb->kind != JSON_BOOL) return -1;
    *out = mb->raw[0] == 't';
    return 0;
}

/* ==================================================== request fields */

typedef struct {
    server *srv;
    srv_request *req;
    srv_job *job;
    const sampling_field *fields; /* the sampling and length fields (n_fields) */
    int n_fields;
    sampling_values vals;
    char *msg;
} gen_parse;

/* "stop": a string or a list of them, into the job. */
static int parse_stop(gen_parse *g, const json_member *mb)
{
    const char *msg = json_stop_strings(mb, &g->job->stops, &g->job->n_stops);
    if (!msg) return 0;
    snprintf(g->msg, BN_ERR_LEN, "%s", msg);
    return HTTP_BAD_REQUEST;
}

/* The text of a message's "content": a string, or an array of
 * {"type": "text", "text": ...} parts. */
static int append_content(gen_parse *g, const json_member *c, text_buf *text)
{
    if (c->kind == JSON_STRING) {
        buf_append(text, c->str, c->str_len);
        return 0;
    }
    json_object parts;
    if (c->kind != JSON_ARRAY || json_parse_array(c->raw, c->raw_len, &parts, g->msg))
        return bad(g->msg, "a message's \"%s\" must be a string or an array of text parts",
                   "content");
    int rc = 0;
    for (int i = 0; i < parts.n && !rc; i++) {
        json_object part;
        const json_member *p = &parts.members[i];
        if (p->kind != JSON_OBJECT || json_parse_object(p->raw, p->raw_len, &part, g->msg)) {
            rc = bad(g->msg, "a %s part must be an object", "content");
            continue;
        }
        const json_member *type = json_get(&part, "type"), *t = json_get(&part, "text");
        if (!type || type->kind != JSON_STRING || strcmp(type->str, "text") || !t ||
            t->kind != JSON_STRING)
            rc = bad(g->msg, "only {\"type\": \"text\", \"%s\"} content parts are supported",
                     "text");
        else buf_append(text, t->str, t->str_len);
        json_object_free(&part);
    }
    json_object_free(&parts);
    return rc;
}

/* One element of "messages" rendered into b with the chat format. */
static int render_message(gen_parse *g, const json_member *el, text_buf *b)
{
    json_object msg;
    if (el->kind != JSON_OBJECT || json_parse_object(el->raw, el->raw_len, &msg, g->msg))
        return bad(g->msg, "each of \"%s\" must be an object", "messages");
    const json_member *role = json_get(&msg, "role"), *content = json_get(&msg, "content");
    text_buf text = {0};
    int rc = 0;
    for (int i = 0; i < msg.n && !rc; i++)
        if (strcmp(msg.members[i].key, "role") && strcmp(msg.members[i].key, "content") &&
            strcmp(msg.members[i].key, "name"))
            rc = bad(g->msg, "unknown message field \"%.64s\"", msg.members[i].key);
    if (!rc && (!role || role->kind != JSON_STRING))
        rc = bad(g->msg, "a message needs a \"%s\" string", "role");
    if (!rc && !content) rc = bad(g->msg, "a message needs \"%s\"", "content");
    if (!rc) rc = append_content(g, content, &text);
    buf_append(&text, "", 0);
    if (!rc && chat_format_message(g->srv->fmt, bn_model_tokenizer(g->srv->m), b, role->str,
                                   text.data, text.len))
        rc = bad(g->msg, "unknown role \"%.64s\" (expected system, user or assistant)", role->str);
    buf_free(&text);
    json_object_free(&msg);
    return rc;
}

/* "messages": rendered with the chat format into the prompt text. */
static int parse_messages(gen_parse *g, const json_member *mb)
{
    json_object arr;
    if (mb->kind != JSON_ARRAY || json_parse_array(mb->raw, mb->raw_len, &arr, g->msg))
        return bad(g->msg, "\"%s\" must be an array of messages", "messages");
    text_buf b = {0};
    int rc = arr.n ? 0 : bad(g->msg, "\"%s\" is empty", "messages");
    for (int i = 0; i < arr.n && !rc; i++) rc = render_message(g, &arr.members[i], &b);
    json_object_free(&arr);
    buf_append(&b, "", 0);
    g->req->prompt = b.data;
    g->req->prompt_len = b.len;
    return rc;
}

/* "prompt": a string (or a list of one string) into the prompt text. */
static int parse_prompt(gen_parse *g, const json_member *mb)
{
    const json_member *one = mb;
    json_object arr = {0};
    if (mb->kind == JSON_ARRAY && !json_parse_array(mb->raw, mb->raw_len, &arr, g->msg) &&
        arr.n == 1)
        one = &arr.members[0]; /* ["text"], as some clients send */
    int rc = 0;
    if (one->kind != JSON_STRING) {
        rc = bad(g->msg, "\"%s\" must be a string (token arrays and batches are not supported)",
                 "prompt");
    } else {
        g->req->prompt = malloc(one->str_len + 1);
        if (!g->req->prompt) log_out_of_memory();
        memcpy(g->req->prompt, one->str, one->str_len + 1);
        g->req->prompt_len = one->str_len;
    }
    json_object_free(&arr);
    return rc;
}

/* "stream_options": only {"include_usage": bool}. */
static int parse_stream_options(gen_parse *g, const json_member *mb)
{
    json_object opt;
    if (mb->kind == JSON_NULL) return 0;
    if (mb->kind != JSON_OBJECT || json_parse_object(mb->raw, mb->raw_len, &opt, g->msg))
        return bad(g->msg, "\"%s\" must be an object", "stream_options");
    const json_member *u = json_get(&opt, "include_usage");
    int rc = opt.n > (u != NULL) || (u && member_bool(u, &g->req->include_usage))
                 ? bad(g->msg, "\"%s\" takes only include_usage (a boolean)", "stream_options")
                 : 0;
    json_object_free(&opt);
    return rc;
}

/* A sampling, limit or unsupported-choice field; 1 when key is none of
 * them. */
static int parse_number_field(gen_parse *g, const json_member *mb)
{
    const char *k = mb->key;
    double v;
    const int rc = sampling_field_apply(g->fields, g->n_fields, mb, &g->vals, g->msg);
    if (rc <= 0) return rc ? HTTP_BAD_REQUEST : 0;
    if (!strcmp(k, "n")) {
        if (json_number_in(mb, 1, 1, 1, &v))
            return bad(g->msg, "\"%s\" must be 1: one choice per request is supported", k);
    } else if (!strcmp(k, "presence_penalty") || !strcmp(k, "frequency_penalty")) {
        if (json_number_in(mb, 0, 0, 0, &v)) return bad(g->msg, "\"%s\" is not supported", k);
    } else {
        return 1;
    }
    return 0;
}

/* One member of a generation request; 0 or an HTTP status with g->msg set. */
static int parse_field(gen_parse *g, const json_member *mb)
{
    const char *k = mb->key;
    if (mb->kind == JSON_NULL && strcmp(k, "prompt") && strcmp(k, "messages")) return 0;
    const int rc = parse_number_field(g, mb);
    if (rc != 1) return rc;
    if (!strcmp(k, "stop")) return parse_stop(g, mb);
    if (!strcmp(k, "stream")) {
        if (member_bool(mb, &g->req->stream)) return bad(g->msg, "\"%s\" must be a boolean", k);
        return 0;
    }
    if (!strcmp(k, "stream_options")) return parse_stream_options(g, mb);
    if (!strcmp(k, "model") || !strcmp(k, "user")) {
        if (mb->kind != JSON_STRING) return bad(g->msg, "\"%s\" must be a string", k);
        return 0;
    }
    if (!strcmp(k, g->req->chat ? "messages" : "prompt"))
        return g->req->chat ? parse_messages(g, mb) : parse_prompt(g, mb);
    return bad(g->msg, "unknown field \"%.64s\"", k);
}

/* Tokenizes the prompt and checks it fits a slot's context. */
static int tokenize_prompt(gen_parse *g)
{
    const server *srv = g->srv;
    const int flags = g->req->chat ? BN_TOK_PARSE_SPECIAL | (srv->o->no_bos ? 0 : BN_TOK_ADD_BOS)
                                   : tokenize_flags(srv->o);
    char err[BN_ERR_LEN];
    g->job->np = bn_tokenize(srv->tok, g->req->prompt, g->req->prompt_len, flags, &g->job->pids,
                             err);
    if (g->job->np < 0) return bad(g->msg, "the prompt cannot be tokenized: %.400s", err);
    if (g->job->np == 0) return bad(g->msg, "the %s gives no tokens", "prompt");
    if (g->job->np >= srv->n_ctx) {
        snprintf(g->msg, BN_ERR_LEN,
                 "the prompt has %d tokens but a slot's context holds %d (raise -c)", g->job->np,
                 srv->n_ctx);
        return HTTP_BAD_REQUEST;
    }
    return 0;
}

/* Parses a generation request: its defaults from the flags, every field,
 * the sampler check, the prompt tokenized, the seed. */
int api_parse_generation(server *srv, const char *body, size_t len, int chat, srv_request *req,
                         srv_job *job, char msg[BN_ERR_LEN])
{
    memset(req, 0, sizeof *req);
    req->chat = chat;
    job->sp = srv->o->sp;
    job->n_predict = srv->o->n_predict;
    job->lookup = srv->o->lookup;
    if (srv->o->server_max_tokens > 0 &&
        (job->n_predict < 0 || job->n_predict > srv->o->server_max_tokens))
        job->n_predict = srv->o->server_max_tokens;
    const double max_tokens = srv->o->server_max_tokens > 0 ? srv->o->server_max_tokens
                                                            : BN_MAX_CTX;
    const char *max_note = srv->o->server_max_tokens > 0 ? "--max-tokens" : NULL;
    const sampling_field fields[] = {
        {"max_tokens", FIELD_N_PREDICT, -1, max_tokens, max_note},
        {"max_completion_tokens", FIELD_N_PREDICT, -1, max_tokens, max_note},
        {"n_predict", FIELD_N_PREDICT, -1, max_tokens, max_note},
        {"temperature", FIELD_TEMP, 0, MAX_TEMPERATURE, NULL},
        {"top_p", FIELD_TOP_P, 0, 1, NULL},
        {"min_p", FIELD_MIN_P, 0, 1, NULL},
        {"top_k", FIELD_TOP_K, 0, bn_model_n_vocab(srv->m), "the vocabulary size"},
        {"seed", FIELD_SEED, 0, 0, NULL},
        {"speculative.n_max", FIELD_LOOKUP, 0, srv->o->lookup, "--lookup"}, /* llama-server's */
    };
    gen_parse g = {srv, req, job, fields, sizeof fields / sizeof *fields,
                   {.sp = &job->sp, .n_predict = &job->n_predict, .lookup = &job->lookup}, msg};
    json_object obj;
    if (parse_body(body, len, &obj, msg)) return HTTP_BAD_REQUEST;
    int rc = 0;
    for (int i = 0; i < obj.n && !rc; i++) rc = parse_field(&g, &obj.members[i]);
    if (!rc && !req->prompt) rc = bad(msg, "\"%s\" is missing", chat ? "messages" : "prompt");
    json_object_free(&obj);
    if (!rc && bn_sampler_params_check(&job->sp, bn_model_n_vocab(srv->m), msg))
        rc = HTTP_BAD_REQUEST;
    if (!rc) rc = tokenize_prompt(&g);
    const int seed_given = g.vals.seed_given || (srv->o->seed_given && !g.vals.seed_random);
    if (!rc && !seed_given) job->sp.seed = clock_seed();
    return rc;
}

/* Frees what parsing allocated in req and job. */
void api_request_free(srv_request *req, srv_job *job)
{
    free(req->prompt);
    for (int i = 0; i < job->n_stops; i++) free(job->stops[i]);
    free(job->stops);
    free(job->pids);
    buf_free(&job->text);
}

/* ======================================================= responses */

/* The members every completion object and chunk starts with. */
static void write_header(FILE *f, const server *srv, const srv_request *req, const char *id,
                         int chunk)
{
    fprintf(f, "{\"id\": \"%s\", \"object\": \"%s\", \"created\": %lld, \"model\": ", id,
            !req->chat ? "text_completion" : chunk ? "chat.completion.chunk" : "chat.completion",
            (long long)time(NULL));
    json_string(f, srv->model_name, strlen(srv->model_name));
}

/* "usage": OpenAI's token counts. */
static void write_usage(FILE *f, const srv_job *job)
{
    fprintf(f, ", \"usage\": {\"prompt_tokens\": %d, \"completion_tokens\": %d, "
               "\"total_tokens\": %d}",
            job->np, job->n_out, job->np + job->n_out);
}

/* llama-server's per-request timings; draft_n and draft_n_accepted when
 * the request had --lookup. */
static void write_timings(FILE *f, const srv_job *job)
{
    fprintf(f,
            ", \"timings\": {\"prompt_n\": %d, \"prompt_ms\": %.3f, \"prompt_per_second\": %.3f, "
            "\"predicted_n\": %d, \"predicted_ms\": %.3f, \"predicted_per_second\": %.3f",
            job->np, job->prompt_ms, per_second(job->np, job->prompt_ms), job->n_out, job->gen_ms,
            per_second(job->n_out, job->gen_ms));
    if (job->lookup)
        fprintf(f, ", \"draft_n\": %ld, \"draft_n_accepted\": %ld", job->drafted, job->accepted);
    fputc('}', f);
}

/* Closes the choice with its finish_reason (null: cancelled or failed). */
static void write_finish(FILE *f, const char *reason)
{
    if (reason) fprintf(f, ", \"finish_reason\": \"%s\"}]", reason);
    else fputs(", \"finish_reason\": null}]", f);
}

/* A reply that opens with a "<think>...</think>" block (Qwen3): the
 * block's text in *think (its newlines trimmed), the rest from *content on
 * (after the newlines that follow the block). 0 when there is none. */
static int split_reasoning(const char *text, size_t len, const char **think, size_t *think_len,
                           const char **content)
{
    static const char open[] = "<think>", close[] = "</think>";
    size_t at = 0;
    while (at < len && (text[at] == ' ' || text[at] == '\n')) at++;
    if (len - at < sizeof open - 1 || memcmp(text + at, open, sizeof open - 1)) return 0;
    at += sizeof open - 1;
    const char *end = memmem(text + at, len - at, close, sizeof close - 1);
    if (!end) return 0;
    *think = text + at;
    *think_len = (size_t)(end - *think);
    while (*think_len && **think == '\n') (*think)++, (*think_len)--;
    while (*think_len && (*think)[*think_len - 1] == '\n') (*think_len)--;
    *content = end + sizeof close - 1;
    while (*content < text + len && **content == '\n') (*content)++;
    return 1;
}

/* The whole response of a request that was not streamed. */
char *api_completion_body(const server *srv, const srv_request *req, const srv_job *job,
                          const char *id, const char *text, size_t len, size_t *out_len)
{
    char *out;
    FILE *f = mem_open(&out, out_len);
    write_header(f, srv, req, id, 0);
    fputs(", \"choices\": [{\"index\": 0, ", f);
    fputs(req->chat ? "\"message\": {\"role\": \"assistant\", \"content\": " : "\"text\": ", f);
    const char *think, *content;
    size_t think_len;
    /* --reasoning-format auto/deepseek: the reasoning apart, as llama-server */
    if (req->chat && opts_hide_think(srv->o) &&
        split_reasoning(text, len, &think, &think_len, &content)) {
        json_string(f, content, (size_t)(text + len - content));
        fputs(", \"reasoning_content\": ", f);
        text = think;
        len = think_len;
    }
    json_string(f, text, len);
    fputs(req->chat ? "}, \"logprobs\": null" : ", \"logprobs\": null", f);
    write_finish(f, job->finish_reason);
    write_usage(f, job);
    write_timings(f, job);
    fputs("}\n", f);
    fclose(f);
    return out;
}

/* One server-sent event: a text delta, or the final one. */
char *api_stream_event(const server *srv, const srv_request *req, const srv_job *job,
                       const char *id, const char *text, size_t len, int final, size_t *out_len)
{
    char *out;
    FILE *f = mem_open(&out, out_len);
    fputs("data: ", f);
    write_header(f, srv, req, id, 1);
    fputs(", \"choices\": [{\"index\": 0, ", f);
    if (req->chat && final) {
        fputs("\"delta\": {}", f);
    } else {
        fputs(req->chat ? "\"delta\": {\"role\": \"assistant\", \"content\": " : "\"text\": ", f);
        json_string(f, text, len);
        if (req->chat) fputc('}', f);
    }
    fputs(", \"logprobs\": null", f);
    write_finish(f, final ? job->finish_reason : NULL);
    if (final) {
        write_usage(f, job);
        write_timings(f, job);
    }
    fputs("}\n\n", f);
    fclose(f);
    return out;
}

/* OpenAI's error type for an HTTP status. */
static const char *error_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 503: return "unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

/* {"error": {...}} for a status and message. */
char *api_error_body(int status, const char *msg, size_t *out_len)
{
    char *out;
    FILE *f = mem_open(&out, out_len);
    fputs("{\"error\": {\"message\": ", f);
    json_string(f, msg, strlen(msg));
    fprintf(f, ", \"type\": \"%s\", \"code\": %d}}\n", error_type(status), status);
    fclose(f);
    return out;
}

/* =================================================== other endpoints */

/* /tokenize: {"content", "add_special", "parse_special"} to {"tokens"}. */
int api_tokenize(const server *srv, const char *body, size_t len, char **out, size_t *out_len,
                 char msg[BN_ERR_LEN])
{
    json_object obj;
    if (parse_body(body, len, &obj, msg)) return HTTP_BAD_REQUEST;
    int add_special = 0, parse_special = 1, rc = 0;
    const json_member *content = NULL;
    for (int i = 0; i < obj.n && !rc; i++) {
        const json_member *mb = &obj.members[i];
        int wrong = 1;
        if (!strcmp(mb->key, "content")) {
            content = mb;
            wrong = mb->kind != JSON_STRING;
        } else if (!strcmp(mb->key, "add_special")) {
            wrong = member_bool(mb, &add_special);
        } else if (!strcmp(mb->key, "parse_special")) {
            wrong = member_bool(mb, &parse_special);
        }
        if (wrong)
            rc = bad(msg, "unknown or malformed field \"%.64s\" (expected content, add_special, "
                          "parse_special)", mb->key);
    }
    if (!rc && !content) rc = bad(msg, "\"%s\" (a string) is missing", "content");
    int32_t *ids = NULL;
    const int flags = (add_special ? BN_TOK_ADD_BOS : 0) | (parse_special ? BN_TOK_PARSE_SPECIAL : 0);
    const int n = rc ? 0 : bn_tokenize(srv->tok, content->str, content->str_len, flags, &ids, msg);
    if (n < 0) rc = HTTP_BAD_REQUEST;
    if (!rc) {
        FILE *f = mem_open(out, out_len);
        fputs("{\"tokens\": ", f);
        json_int_array(f, ids, n);
        fputs("}\n", f);
        fclose(f);
    }
    free(ids);
    json_object_free(&obj);
    return rc ? rc : HTTP_OK;
}

/* The "tokens" array of ids, each in the vocabulary. */
static int read_ids(const server *srv, const json_member *mb, id_list *ids, char *msg)
{
    json_object arr;
    if (mb->kind != JSON_ARRAY || json_parse_array(mb->raw, mb->raw_len, &arr, msg))
        return bad(msg, "\"%s\" must be an array of token ids", "tokens");
    int rc = 0;
    double v;
    for (int i = 0; i < arr.n && !rc; i++) {
        if (json_number_in(&arr.members[i], 0, bn_model_n_vocab(srv->m) - 1, 1, &v))
            rc = bad(msg, "\"%s\" holds a value that is not a token id of this model", "tokens");
        else ids_push(ids, (int32_t)v);
    }
    json_object_free(&arr);
    return rc;
}

/* /detokenize: {"tokens"} to {"content"}. */
int api_detokenize(const server *srv, const char *body, size_t len, char **out, size_t *out_len,
                   char msg[BN_ERR_LEN])
{
    json_object obj;
    if (parse_body(body, len, &obj, msg)) return HTTP_BAD_REQUEST;
    const json_member *t = json_get(&obj, "tokens");
    id_list ids = {0};
    int rc = obj.n != 1 || !t ? bad(msg, "expected one field, \"%s\"", "tokens")
                              : read_ids(srv, t, &ids, msg);
    json_object_free(&obj);
    if (!rc) {
        const int n = bn_detokenize(srv->tok, ids.ids, ids.n, 0, NULL, 0);
        char *text = malloc((size_t)n + 1);
        if (!text) log_out_of_memory();
        bn_detokenize(srv->tok, ids.ids, ids.n, 0, text, (size_t)n + 1);
        FILE *f = mem_open(out, out_len);
        fputs("{\"content\": ", f);
        json_string(f, text, (size_t)n);
        fputs("}\n", f);
        fclose(f);
        free(text);
    }
    free(ids.ids);
    return rc ? rc : HTTP_OK;
}

/* /v1/models: the one model served, with its sizes. */
char *api_models_body(const server *srv, size_t *out_len)
{
    char *out;
    FILE *f = mem_open(&out, out_len);
    fputs("{\"object\": \"list\", \"data\": [{\"id\": ", f);
    json_string(f, srv->model_name, strlen(srv->model_name));
    fprintf(f, ", \"object\": \"model\", \"created\": 0, \"owned_by\": \"bitnet-run\", "
               "\"meta\": {\"n_vocab\": %d, \"n_ctx_train\": %d, \"n_ctx_slot\": %d}}]}\n",
            bn_model_n_vocab(srv->m), bn_model_n_ctx_train(srv->m), srv->n_ctx);
    fclose(f);
    return out;
}

/* One Prometheus metric with its help and type lines. */
static void metric(FILE *f, const char *name, const char *type, const char *help, double v)
{
    fprintf(f, "# HELP bitnet_%s %s\n# TYPE bitnet_%s %s\nbitnet_%s %.17g\n", name, help, name,
            type, name, v);
}

/* /metrics: the server's counters, in Prometheus text format. */
char *api_metrics_body(server *srv, size_t *out_len)
{
    pthread_mutex_lock(&srv->mu);
    const srv_stats st = srv->stats;
    const int queued = srv->queued, active = srv->active;
    pthread_mutex_unlock(&srv->mu);
    char *out;
    FILE *f = mem_open(&out, out_len);
    metric(f, "requests_total", "counter", "HTTP requests answered.", (double)st.requests);
    metric(f, "request_errors_total", "counter", "Requests answered with an error.",
           (double)st.errors);
    metric(f, "prompt_tokens_total", "counter", "Prompt tokens evaluated.",
           (double)st.prompt_tokens);
    metric(f, "generated_tokens_total", "counter", "Tokens generated.",
           (double)st.generated_tokens);
    metric(f, "tokens_per_second", "gauge", "Generated tokens per second of evaluation.",
           st.busy_s > 0 ? (double)st.generated_tokens / st.busy_s : 0.0);
    metric(f, "draft_tokens_total", "counter", "--lookup draft tokens checked.",
           (double)st.drafted);
    metric(f, "draft_accepted_total", "counter", "--lookup draft tokens accepted.",
           (double)st.accepted);
    metric(f, "queue_depth", "gauge", "Requests waiting for a slot.", queued);
    metric(f, "active_slots", "gauge", "Slots running a request.", active);
    metric(f, "slots", "gauge", "Slots (--parallel).", srv->o->n_parallel);
    fclose(f);
    return out;
}
