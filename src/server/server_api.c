/*
 * server_api.c - the OpenAI-compatible request and response bodies of the
 * server: the fields of /v1/completions and /v1/chat/completions checked
 * and turned into a job (prompt tokens, sampler, limits, stop strings);
 * completion objects, stream chunks and errors written back; /tokenize,
 * /detokenize, /v1/models and /metrics. Unknown fields are ignored (and
 * logged with -v), as llama-server does; the fields the server uses are
 * checked, and a value out of range, or one it does not support, is
 * refused with a message naming the field.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grammar.h"
#include "json.h"
#include "json_schema.h"
#include "sampling_fields.h"
#include "server.h"
#include "stream.h"
#include "timing.h"

#define MAX_TEMPERATURE 100.0
#define MAX_PENALTY 2.0         /* OpenAI's range for presence and frequency */
#define MIN_REPEAT_PENALTY 1e-3 /* as the command line's --repeat-penalty */
#define MAX_REPEAT_PENALTY 1e3
#define MAX_LOGIT_BIAS 100.0        /* OpenAI's range; -100 bans in practice */
#define MAX_SEED 9007199254740991.0 /* 2^53 - 1: exact in JSON */
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
    if (!mb || mb->kind != JSON_BOOL) return -1;
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
    const json_member *messages; /* rendered once every field is read (tools) */
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
    if (c->kind == JSON_NULL) return 0; /* an assistant turn that only called tools */
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
        else
            buf_append(text, t->str, t->str_len);
        json_object_free(&part);
    }
    json_object_free(&parts);
    return rc;
}

/* An assistant turn's "tool_calls" as the text of the calls the model
 * makes ({"name": ..., "arguments": {...}} each, tools.c). */
static void append_tool_calls(const json_member *calls, text_buf *text)
{
    json_object arr, call, fn;
    char err[BN_ERR_LEN];
    if (calls->kind != JSON_ARRAY || json_parse_array(calls->raw, calls->raw_len, &arr, err))
        return;
    for (int i = 0; i < arr.n; i++) {
        const json_member *c = &arr.members[i];
        if (c->kind != JSON_OBJECT || json_parse_object(c->raw, c->raw_len, &call, err)) continue;
        const json_member *f = json_get(&call, "function");
        if (f && f->kind == JSON_OBJECT && !json_parse_object(f->raw, f->raw_len, &fn, err)) {
            const json_member *name = json_get(&fn, "name"), *args = json_get(&fn, "arguments");
            if (name && name->kind == JSON_STRING && args && args->kind == JSON_STRING) {
                static const char a[] = "{\"name\": \"", b[] = "\", \"arguments\": ";
                buf_append(text, a, sizeof a - 1);
                buf_append(text, name->str, name->str_len);
                buf_append(text, b, sizeof b - 1);
                buf_append(text, args->str, args->str_len);
                buf_append(text, "}", 1);
            }
            json_object_free(&fn);
        }
        json_object_free(&call);
    }
    json_object_free(&arr);
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
    for (int i = 0; i < msg.n && g->srv->o->verbose; i++)
        if (strcmp(msg.members[i].key, "role") && strcmp(msg.members[i].key, "content") &&
            strcmp(msg.members[i].key, "name") && strcmp(msg.members[i].key, "tool_calls") &&
            strcmp(msg.members[i].key, "tool_call_id"))
            log_note("request: ignoring unknown message field \"%.64s\"", msg.members[i].key);
    if (!rc && (!role || role->kind != JSON_STRING))
        rc = bad(g->msg, "a message needs a \"%s\" string", "role");
    if (!rc && !content) rc = bad(g->msg, "a message needs \"%s\"", "content");
    /* a tool's result is shown to the model as a user turn */
    const int tool = !rc && !strcmp(role->str, "tool");
    static const char result[] = "Tool result: ";
    if (tool) buf_append(&text, result, sizeof result - 1);
    if (!rc) rc = append_content(g, content, &text);
    const json_member *calls = json_get(&msg, "tool_calls");
    if (!rc && calls && !strcmp(role->str, "assistant")) append_tool_calls(calls, &text);
    buf_append(&text, "", 0);
    if (!rc && chat_format_message(g->srv->fmt, bn_model_tokenizer(g->srv->m), b,
                                   tool ? "user" : role->str, text.data, text.len))
        rc = bad(g->msg, "unknown role \"%.64s\" (expected system, user, assistant or tool)",
                 role->str);
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
    text_buf b = {0}, tools = {0};
    int rc = arr.n ? 0 : bad(g->msg, "\"%s\" is empty", "messages");
    if (!rc && tools_prompt(g->req, &tools)) /* the tools first, as a system message */
        chat_format_message(g->srv->fmt, bn_model_tokenizer(g->srv->m), &b, "system", tools.data,
                            tools.len);
    buf_free(&tools);
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
    if (!strcmp(k, "n")) { /* NOLINT(bugprone-branch-clone): each field has its own rule */
        if (json_number_in(mb, 1, 1, 1, &v))
            return bad(g->msg, "\"%s\" must be 1: one choice per request is supported", k);
    } else if (!strcmp(k, "top_logprobs") || !strcmp(k, "n_probs")) {
        if (json_number_in(mb, 0, BN_MAX_PROBS, 1, &v))
            return bad(g->msg, "\"%s\" must be an integer from 0 to 20", k);
        g->job->top_logprobs = (int)v;
        if (k[0] == 'n') g->job->logprobs = 1; /* llama-server's n_probs asks for them */
    } else if (!strcmp(k, "best_of")) {
        if (json_number_in(mb, 1, 1, 1, &v))
            return bad(g->msg, "\"%s\" must be 1: one choice per request is supported", k);
    } else {
        return 1;
    }
    return 0;
}

/* The number of elements of an array member; -1 when it is not one. */
static int array_length(gen_parse *g, const json_member *mb)
{
    json_object arr;
    if (mb->kind != JSON_ARRAY || json_parse_array(mb->raw, mb->raw_len, &arr, g->msg)) return -1;
    const int n = arr.n;
    json_object_free(&arr);
    return n;
}

/* Constrains the job's output to grammar text (GBNF); 400 naming the
 * field when it is not a grammar the engine takes. */
static int set_grammar(gen_parse *g, const char *field, const char *text, size_t len)
{
    char err[BN_ERR_LEN];
    if (g->job->grammar)
        return bad(g->msg,
                   "\"%s\": only one of grammar, json_schema and "
                   "response_format may constrain the output",
                   field);
    g->job->grammar = grammar_parse(text, len, err);
    if (!g->job->grammar) {
        snprintf(g->msg, BN_ERR_LEN, "\"%s\": %.400s", field, err);
        return HTTP_BAD_REQUEST;
    }
    return 0;
}

/* A JSON Schema (the raw text of an object) as the job's grammar. */
static int set_schema(gen_parse *g, const char *field, const json_member *schema)
{
    char err[BN_ERR_LEN];
    if (schema->kind != JSON_OBJECT)
        return bad(g->msg, "\"%s\" must be a JSON Schema object", field);
    char *text = json_schema_to_grammar(schema->raw, schema->raw_len, err);
    if (!text) {
        snprintf(g->msg, BN_ERR_LEN, "\"%s\": %.400s", field, err);
        return HTTP_BAD_REQUEST;
    }
    const int rc = set_grammar(g, field, text, strlen(text));
    free(text);
    return rc;
}

/* "response_format": {"type": "text"}, {"type": "json_object"}, or
 * {"type": "json_schema", "json_schema": {"schema": {...}, ...}}. */
static int parse_response_format(gen_parse *g, const json_member *mb)
{
    static const char rf[] = "response_format";
    json_object obj, js = {0};
    if (mb->kind != JSON_OBJECT || json_parse_object(mb->raw, mb->raw_len, &obj, g->msg))
        return bad(g->msg, "\"%s\" must be an object", rf);
    const json_member *type = json_get(&obj, "type"), *spec = json_get(&obj, "json_schema");
    int rc = 0;
    if (!type || type->kind != JSON_STRING) {
        rc = bad(g->msg, "\"%s\" needs a \"type\" string", rf);
    } else if (!strcmp(type->str, "json_object")) {
        const json_member *schema = json_get(&obj, "schema"); /* llama-server's extension */
        rc = schema ? set_schema(g, rf, schema)
                    : set_grammar(g, rf, GRAMMAR_JSON_OBJECT, strlen(GRAMMAR_JSON_OBJECT));
    } else if (!strcmp(type->str, "json_schema")) {
        const json_member *schema = NULL;
        if (spec && spec->kind == JSON_OBJECT &&
            !json_parse_object(spec->raw, spec->raw_len, &js, g->msg))
            schema = json_get(&js, "schema");
        rc = schema ? set_schema(g, rf, schema)
                    : bad(g->msg,
                          "\"%s\": json_schema needs {\"json_schema\": {\"schema\": "
                          "{...}}}",
                          rf);
    } else if (strcmp(type->str, "text")) {
        rc = bad(g->msg, "\"%s\": type must be text, json_object or json_schema", rf);
    }
    json_object_free(&js);
    json_object_free(&obj);
    return rc;
}

/* Fields the server knows but whose only supported value is the default
 * (anything else would silently change what the client gets): 0 when the
 * value is that default, 400 naming the field otherwise, 1 when key is not
 * one of them. */
static int parse_unsupported_field(gen_parse *g, const json_member *mb)
{
    const char *k = mb->key;
    int on = 0;
    if (!strcmp(k, "echo")) {
        if (member_bool(mb, &on)) return bad(g->msg, "\"%s\" must be a boolean", k);
        return on ? bad(g->msg, "\"%s\": true is not supported", k) : 0;
    }
    if (!strcmp(k, "suffix")) {
        if (mb->kind != JSON_STRING) return bad(g->msg, "\"%s\" must be a string", k);
        return mb->str_len ? bad(g->msg, "\"%s\" (insertion) is not supported", k) : 0;
    }
    if (g->req->chat && !strcmp(k, "tools")) return tools_parse(g->req, mb, g->msg);
    if (g->req->chat && !strcmp(k, "tool_choice")) return tools_choice(g->req, mb, g->msg);
    if (!strcmp(k, "tools") || !strcmp(k, "functions")) {
        const int n = array_length(g, mb);
        if (n < 0) return bad(g->msg, "\"%s\" must be an array", k);
        return n ? bad(g->msg, "\"%s\": tool calls are on /v1/chat/completions, as \"tools\"", k)
                 : 0;
    }
    if (!strcmp(k, "tool_choice") || !strcmp(k, "function_call")) {
        if (mb->kind == JSON_STRING && (!strcmp(mb->str, "none") || !strcmp(mb->str, "auto")))
            return 0;
        return bad(g->msg,
                   "\"%s\" must be \"none\" or \"auto\" here (tool calls: \"tools\" on "
                   "/v1/chat/completions)",
                   k);
    }
    if (!strcmp(k, "response_format")) return parse_response_format(g, mb);
    if (!strcmp(k, "grammar")) {
        if (mb->kind != JSON_STRING) return bad(g->msg, "\"%s\" must be a string (GBNF)", k);
        return set_grammar(g, k, mb->str, mb->str_len);
    }
    if (!strcmp(k, "json_schema")) return set_schema(g, k, mb);
    return 1;
}

/* "logprobs": a boolean (chat), or the number of alternatives (the
 * completions API's integer 0 to 20). */
static int parse_logprobs(gen_parse *g, const json_member *mb)
{
    double v;
    int on = 0;
    if (!member_bool(mb, &on)) {
        g->job->logprobs = on;
        return 0;
    }
    if (g->req->chat || json_number_in(mb, 0, BN_MAX_PROBS, 1, &v))
        return bad(g->msg,
                   g->req->chat ? "\"%s\" must be a boolean"
                                : "\"%s\" must be a boolean or an integer from 0 to 20",
                   "logprobs");
    g->job->logprobs = 1;
    g->job->top_logprobs = (int)v;
    return 0;
}

/* One logit_bias entry: a token id (a number, or a string of one, as JSON
 * object keys are) and a bias from -100 to 100, or false to ban it. */
static int add_bias(gen_parse *g, const char *id_text, const json_member *id_num,
                    const json_member *bias)
{
    double id = -1, b;
    char *end = NULL;
    const int n_vocab = bn_model_n_vocab(g->srv->m);
    if (id_num)
        json_number_in(id_num, 0, n_vocab - 1, 1, &id);
    else if (*id_text)
        id = strtod(id_text, &end);
    if ((end && *end) || id < 0 || id >= n_vocab || id != (double)(int32_t)id)
        return bad(g->msg, "\"%s\" keys must be token ids of this model", "logit_bias");
    int on = 1;
    if (!member_bool(bias, &on) && !on)
        b = -INFINITY;
    else if (json_number_in(bias, -MAX_LOGIT_BIAS, MAX_LOGIT_BIAS, 0, &b))
        return bad(g->msg, "\"%s\" values must be numbers from -100 to 100 (or false)",
                   "logit_bias");
    srv_job *job = g->job;
    bn_logit_bias *grown = realloc(job->bias, (size_t)(job->sp.n_logit_bias + 1) * sizeof *grown);
    if (!grown) log_out_of_memory();
    job->bias = grown;
    grown[job->sp.n_logit_bias++] = (bn_logit_bias){(int32_t)id, (float)b};
    job->sp.logit_bias = grown;
    return 0;
}

/* "logit_bias": OpenAI's {"id": bias, ...}, or llama-server's [[id, bias], ...]. */
static int parse_logit_bias(gen_parse *g, const json_member *mb)
{
    json_object o;
    const int is_obj = mb->kind == JSON_OBJECT;
    if ((mb->kind != JSON_OBJECT && mb->kind != JSON_ARRAY) ||
        (is_obj ? json_parse_object(mb->raw, mb->raw_len, &o, g->msg)
                : json_parse_array(mb->raw, mb->raw_len, &o, g->msg)))
        return bad(g->msg, "\"%s\" must be an object of token ids and biases", "logit_bias");
    int rc = 0;
    for (int i = 0; i < o.n && !rc; i++) {
        const json_member *e = &o.members[i];
        if (is_obj) {
            rc = add_bias(g, e->key, NULL, e);
            continue;
        }
        json_object pair;
        if (e->kind != JSON_ARRAY || json_parse_array(e->raw, e->raw_len, &pair, g->msg)) {
            rc = bad(g->msg, "\"%s\" pairs must be [token id, bias]", "logit_bias");
            continue;
        }
        rc = pair.n == 2 ? add_bias(g, "", &pair.members[0], &pair.members[1])
                         : bad(g->msg, "\"%s\" pairs must be [token id, bias]", "logit_bias");
        json_object_free(&pair);
    }
    json_object_free(&o);
    return rc;
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
    if (!strcmp(k, "logprobs")) return parse_logprobs(g, mb);
    if (!strcmp(k, "logit_bias")) return parse_logit_bias(g, mb);
    if (!strcmp(k, "model") || !strcmp(k, "user")) {
        if (mb->kind != JSON_STRING) return bad(g->msg, "\"%s\" must be a string", k);
        return 0;
    }
    if (!strcmp(k, g->req->chat ? "messages" : "prompt")) {
        if (!g->req->chat) return parse_prompt(g, mb);
        g->messages = mb;
        return 0;
    }
    const int rc2 = parse_unsupported_field(g, mb);
    if (rc2 != 1) return rc2;
    if (g->srv->o->verbose) log_note("request: ignoring unknown field \"%.64s\"", k);
    return 0;
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
    req->tool_choice = TOOL_AUTO; /* OpenAI's default when tools are given */
    job->sp = srv->o->sp;
    job->n_predict = srv->o->n_predict;
    job->lookup = srv->o->lookup;
    if (srv->o->server_max_tokens > 0 &&
        (job->n_predict < 0 || job->n_predict > srv->o->server_max_tokens))
        job->n_predict = srv->o->server_max_tokens;
    if (job->sp.n_logit_bias) { /* the command line's -l, which the request's add to */
        const size_t bytes = (size_t)job->sp.n_logit_bias * sizeof *job->bias;
        job->bias = malloc(bytes);
        if (!job->bias) log_out_of_memory();
        memcpy(job->bias, job->sp.logit_bias, bytes);
        job->sp.logit_bias = job->bias;
    }
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
        {"presence_penalty", FIELD_PRESENCE_PENALTY, -MAX_PENALTY, MAX_PENALTY, NULL},
        {"frequency_penalty", FIELD_FREQUENCY_PENALTY, -MAX_PENALTY, MAX_PENALTY, NULL},
        {"repeat_penalty", FIELD_REPEAT_PENALTY, MIN_REPEAT_PENALTY, MAX_REPEAT_PENALTY, "1 = off"},
        {"repeat_last_n", FIELD_REPEAT_LAST_N, -1, BN_MAX_CTX, "-1: all"},
        {"typical_p", FIELD_TYPICAL_P, 0, 1, "1 = off"},
    };
    gen_parse g = {srv,
                   req,
                   job,
                   fields,
                   sizeof fields / sizeof *fields,
                   {.sp = &job->sp, .n_predict = &job->n_predict, .lookup = &job->lookup},
                   msg,
                   NULL};
    json_object obj;
    if (parse_body(body, len, &obj, msg)) return HTTP_BAD_REQUEST;
    int rc = 0;
    for (int i = 0; i < obj.n && !rc; i++) rc = parse_field(&g, &obj.members[i]);
    if (!rc && g.messages) rc = parse_messages(&g, g.messages);
    if (!rc && !req->prompt) rc = bad(msg, "\"%s\" is missing", chat ? "messages" : "prompt");
    struct grammar *calls = NULL;
    if (!rc) rc = tools_grammar(req, &calls, msg);
    if (calls && job->grammar) {
        grammar_free(calls);
        rc = bad(msg,
                 "\"%s\": a required tool call and a response_format or grammar exclude "
                 "each other",
                 "tool_choice");
    } else if (calls) {
        job->grammar = calls;
    }
    req->hold_text = req->stream && req->n_tools && req->tool_choice != TOOL_NONE;
    json_object_free(&obj);
    if (!job->logprobs) job->top_logprobs = 0;
    job->sp.n_probs = job->logprobs ? (job->top_logprobs > 0 ? job->top_logprobs : 1) : 0;
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
    free(job->bias);
    free(job->lp);
    grammar_free(job->grammar);
    tools_free(req);
    reasoning_free(&req->think);
    buf_free(&job->text);
}

void api_take_probs(const server *srv, srv_job *job, const gen_seq *q)
{
    if (!job->logprobs || !q->probs) return;
    for (; job->lp_seen < q->out.n; job->lp_seen++) {
        const int32_t id = q->out.ids[job->lp_seen];
        if (bn_token_is_eog(srv->tok, id)) continue; /* no text: not reported */
        if (job->n_lp == job->lp_cap) {
            job->lp_cap = job->lp_cap ? 2 * job->lp_cap : 64;
            srv_token_probs *grown = realloc(job->lp, (size_t)job->lp_cap * sizeof *grown);
            if (!grown) log_out_of_memory();
            job->lp = grown;
        }
        job->lp[job->n_lp++] = (srv_token_probs){id, job->lp_text, q->probs[job->lp_seen]};
        const int len = bn_token_to_piece(srv->tok, id, 0, NULL, 0);
        job->lp_text += len > 0 ? (size_t)len : 0;
    }
}

/* ======================================================= responses */

/* The members every completion object and chunk starts with. */
static void write_header(FILE *f, const server *srv, const srv_request *req, const char *id,
                         int chunk)
{
    fprintf(f, "{\"id\": \"%s\", \"object\": \"%s\", \"created\": %lld, \"model\": ", id,
            !req->chat ? "text_completion"
            : chunk    ? "chat.completion.chunk"
                       : "chat.completion",
            (long long)time(NULL));
    json_string(f, srv->model_name, strlen(srv->model_name));
}

/* "usage": OpenAI's token counts. */
static void write_usage(FILE *f, const srv_job *job)
{
    fprintf(f,
            ", \"usage\": {\"prompt_tokens\": %d, \"completion_tokens\": %d, "
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

/* A logprob as JSON, which has no -inf. */
static void write_logprob(FILE *f, float lp)
{
    fprintf(f, "%.6g", isfinite(lp) ? (double)lp : SEQ_NO_LOGPROB);
}

/* A token's text as a JSON string, and with `bytes` its UTF-8 bytes too
 * (a piece may be part of a character): "token": "...", "bytes": [...]. */
static void write_token(FILE *f, const server *srv, int32_t id, int bytes)
{
    char small[64], *piece = small;
    int n = bn_token_to_piece(srv->tok, id, 0, small, sizeof small);
    if (n < 0) n = 0;
    if ((size_t)n > sizeof small) {
        piece = malloc((size_t)n);
        if (!piece) log_out_of_memory();
        bn_token_to_piece(srv->tok, id, 0, piece, (size_t)n);
    }
    if (!bytes) {
        json_string(f, piece, (size_t)n);
    } else {
        fputs("\"token\": ", f);
        json_string(f, piece, (size_t)n);
        fputs(", \"bytes\": [", f);
        for (int i = 0; i < n; i++) fprintf(f, "%s%u", i ? ", " : "", (unsigned char)piece[i]);
        fputc(']', f);
    }
    if (piece != small) free(piece);
}

/* The chat API's logprobs: {"content": [{"token", "logprob", "bytes",
 * "top_logprobs": [{"token", "logprob", "bytes"}]}]}. */
static void write_chat_logprobs(FILE *f, const server *srv, const srv_job *job, int from, int to)
{
    fputs("{\"content\": [", f);
    for (int i = from; i < to; i++) {
        const srv_token_probs *t = &job->lp[i];
        fputs(i > from ? ", {" : "{", f);
        write_token(f, srv, t->id, 1);
        fputs(", \"logprob\": ", f);
        write_logprob(f, t->p.logprob);
        fputs(", \"top_logprobs\": [", f);
        for (int k = 0; k < t->p.n_top && k < job->top_logprobs; k++) {
            fputs(k ? ", {" : "{", f);
            write_token(f, srv, t->p.top_ids[k], 1);
            fputs(", \"logprob\": ", f);
            write_logprob(f, t->p.top_logprobs[k]);
            fputc('}', f);
        }
        fputs("]}", f);
    }
    fputs("]}", f);
}

/* The completions API's logprobs: parallel arrays "tokens",
 * "token_logprobs", "top_logprobs" (an object per token) and
 * "text_offset". */
static void write_completion_logprobs(FILE *f, const server *srv, const srv_job *job, int from,
                                      int to)
{
    fputs("{\"tokens\": [", f);
    for (int i = from; i < to; i++) {
        if (i > from) fputs(", ", f);
        write_token(f, srv, job->lp[i].id, 0);
    }
    fputs("], \"token_logprobs\": [", f);
    for (int i = from; i < to; i++) {
        if (i > from) fputs(", ", f);
        write_logprob(f, job->lp[i].p.logprob);
    }
    fputs("], \"top_logprobs\": [", f);
    for (int i = from; i < to; i++) {
        const tok_probs *p = &job->lp[i].p;
        fputs(i > from ? ", {" : "{", f);
        for (int k = 0; k < p->n_top && k < job->top_logprobs; k++) {
            if (k) fputs(", ", f);
            write_token(f, srv, p->top_ids[k], 0);
            fputs(": ", f);
            write_logprob(f, p->top_logprobs[k]);
        }
        fputc('}', f);
    }
    fputs("], \"text_offset\": [", f);
    for (int i = from; i < to; i++) fprintf(f, "%s%zu", i > from ? ", " : "", job->lp[i].offset);
    fputs("]}", f);
}

/* ", \"logprobs\": ..." of a choice, for the tokens [from, to). */
static void write_logprobs(FILE *f, const server *srv, const srv_request *req, const srv_job *job,
                           int from, int to)
{
    fputs(", \"logprobs\": ", f);
    if (!job->logprobs)
        fputs("null", f);
    else if (req->chat)
        write_chat_logprobs(f, srv, job, from, to);
    else
        write_completion_logprobs(f, srv, job, from, to);
}

/* Closes the choice with its finish_reason (null: cancelled or failed). */
static void write_finish(FILE *f, const char *reason)
{
    if (reason)
        fprintf(f, ", \"finish_reason\": \"%s\"}]", reason);
    else
        fputs(", \"finish_reason\": null}]", f);
}

/* The finish reason reported: "tool_calls" when the reply was a call. */
static const char *finish_of(const srv_request *req, const srv_job *job)
{
    return req->tool_called && job->finish_reason && !strcmp(job->finish_reason, "stop")
               ? "tool_calls"
               : job->finish_reason;
}

/* A chat reply's message or delta after its role: its reasoning when
 * there is some, then the tool calls when the text is one, else "content"
 * (left out of a delta that carries only reasoning). */
static void write_chat_content(FILE *f, srv_request *req, const char *id, const text_buf *text,
                               const text_buf *think, int delta)
{
    fputs("{\"role\": \"assistant\"", f);
    if (think->len) {
        fputs(", \"reasoning_content\": ", f);
        json_string(f, think->data, think->len);
    }
    if (delta && think->len && !text->len) {
        fputc('}', f);
        return;
    }
    char *calls;
    size_t calls_len;
    FILE *cf = mem_open(&calls, &calls_len);
    const int called = tools_write_calls(cf, req, text->len ? text->data : "", text->len, id);
    fclose(cf);
    if (called) {
        fputs(", \"content\": null, ", f);
        fwrite(calls, 1, calls_len, f);
        req->tool_called = 1;
    } else {
        fputs(", \"content\": ", f);
        json_string(f, text->len ? text->data : "", text->len);
    }
    free(calls);
    fputc('}', f);
}

/* A chat reply's text (or the next piece of it, final: the last) as its
 * reasoning and content: told apart under --reasoning-format auto/deepseek,
 * all content otherwise. */
static void split_chat_text(const server *srv, srv_request *req, const char *text, size_t len,
                            int final, text_buf *think, text_buf *content)
{
    if (opts_hide_think(srv->o))
        reasoning_feed(&req->think, text, len, final, think, content);
    else
        buf_append(content, text, len);
}

/* The whole response of a request that was not streamed. */
char *api_completion_body(const server *srv, srv_request *req, const srv_job *job, const char *id,
                          const char *text, size_t len, size_t *out_len)
{
    char *out;
    FILE *f = mem_open(&out, out_len);
    write_header(f, srv, req, id, 0);
    fputs(", \"choices\": [{\"index\": 0, ", f);
    if (req->chat) {
        text_buf think = {0}, content = {0};
        split_chat_text(srv, req, text, len, 1, &think, &content);
        fputs("\"message\": ", f);
        write_chat_content(f, req, id, &content, &think, 0);
        buf_free(&think);
        buf_free(&content);
    } else {
        fputs("\"text\": ", f);
        json_string(f, text, len);
    }
    write_logprobs(f, srv, req, job, 0, job->n_lp);
    write_finish(f, finish_of(req, job));
    write_usage(f, job);
    write_timings(f, job);
    fputs("}\n", f);
    fclose(f);
    return out;
}

/* One server-sent event: a delta (reasoning and content), or the final one. */
static void write_event(FILE *f, const server *srv, srv_request *req, const srv_job *job,
                        const char *id, const text_buf *think, const text_buf *content, int final)
{
    fputs("data: ", f);
    write_header(f, srv, req, id, 1);
    fputs(", \"choices\": [{\"index\": 0, ", f);
    if (req->chat && final) {
        fputs("\"delta\": {}", f);
    } else if (req->chat) {
        fputs("\"delta\": ", f);
        write_chat_content(f, req, id, content, think, 1);
    } else {
        fputs("\"text\": ", f);
        json_string(f, content->len ? content->data : "", content->len);
    }
    if (final)
        fputs(", \"logprobs\": null", f);
    else
        write_logprobs(f, srv, req, job, job->lp_sent, job->n_lp);
    write_finish(f, final ? finish_of(req, job) : NULL);
    if (final) {
        write_usage(f, job);
        write_timings(f, job);
    }
    fputs("}\n\n", f);
}

/* The events of the next piece of text: its delta, and the final event
 * after what a chat reply's reasoning split still held back. */
char *api_stream_event(const server *srv, srv_request *req, const srv_job *job, const char *id,
                       const char *text, size_t len, int final, size_t *out_len)
{
    char *out;
    FILE *f = mem_open(&out, out_len);
    text_buf think = {0}, content = {0};
    if (req->chat)
        split_chat_text(srv, req, text, len, final, &think, &content);
    else
        buf_append(&content, text, len);
    if (!final || think.len || content.len) write_event(f, srv, req, job, id, &think, &content, 0);
    if (final) write_event(f, srv, req, job, id, &think, &content, 1);
    buf_free(&think);
    buf_free(&content);
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
            rc = bad(msg,
                     "unknown or malformed field \"%.64s\" (expected content, add_special, "
                     "parse_special)",
                     mb->key);
    }
    if (!rc && !content) rc = bad(msg, "\"%s\" (a string) is missing", "content");
    int32_t *ids = NULL;
    const int flags = (add_special ? BN_TOK_ADD_BOS : 0) |
                      (parse_special ? BN_TOK_PARSE_SPECIAL : 0);
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
        else
            ids_push(ids, (int32_t)v);
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
    fprintf(f,
            ", \"object\": \"model\", \"created\": 0, \"owned_by\": \"bitnet-run\", "
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
