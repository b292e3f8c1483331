/*
 * embeddings.c - the server's POST /v1/embeddings (OpenAI: "input" as a
 * string, an array of strings, an array of token ids or of token-id
 * arrays; "encoding_format" float or base64; "usage") and llama-server's
 * POST /embedding ("content"; one array of vectors per input). Each
 * request runs on its connection's thread through a context of its own
 * (contexts share the model's weights), its texts evaluated together by
 * bn_embed; the generation slots are not involved.
 */
#include <stdlib.h>
#include <string.h>

#include "embedding.h"
#include "json.h"
#include "server.h"

#define HTTP_OK 200
#define HTTP_BAD_REQUEST 400
#define HTTP_UNAVAILABLE 503

typedef struct {
    int32_t **ids;
    int *n_ids;
    int n, cap;
    long tokens;
} inputs;

static int fail(char msg[BN_ERR_LEN], const char *text)
{
    snprintf(msg, BN_ERR_LEN, "%s", text);
    return HTTP_BAD_REQUEST;
}

static void inputs_free(inputs *in)
{
    for (int i = 0; i < in->n; i++) free(in->ids[i]);
    free(in->ids);
    free(in->n_ids);
}

static void push(inputs *in, int32_t *ids, int n)
{
    if (in->n == in->cap) {
        in->cap = in->cap ? 2 * in->cap : 8;
        in->ids = realloc(in->ids, (size_t)in->cap * sizeof *in->ids);
        in->n_ids = realloc(in->n_ids, (size_t)in->cap * sizeof *in->n_ids);
        if (!in->ids || !in->n_ids) log_out_of_memory();
    }
    in->ids[in->n] = ids;
    in->n_ids[in->n++] = n;
    in->tokens += n;
}

/* A text, with the BOS and EOS the vocabulary asks for (llama-server's
 * add_special and parse_special). */
static int add_text(const server *srv, inputs *in, const char *s, size_t len, char *msg)
{
    int32_t *ids = NULL;
    const int n = bn_tokenize(srv->tok, s, len,
                              BN_TOK_ADD_BOS | BN_TOK_ADD_EOS | BN_TOK_PARSE_SPECIAL, &ids, msg);
    if (n < 0) return HTTP_BAD_REQUEST;
    if (!n) {
        free(ids);
        return fail(msg, "an input has no tokens");
    }
    push(in, ids, n);
    return 0;
}

/* A JSON array of token ids, used as given. */
static int add_ids(const server *srv, inputs *in, const char *raw, size_t len, char *msg)
{
    json_object arr;
    if (json_parse_array(raw, len, &arr, msg)) return HTTP_BAD_REQUEST;
    int32_t *ids = malloc(((size_t)arr.n + 1) * sizeof *ids);
    if (!ids) log_out_of_memory();
    int rc = arr.n ? 0 : fail(msg, "an input has no tokens");
    double v;
    for (int i = 0; i < arr.n && !rc; i++) {
        if (json_number_in(&arr.members[i], 0, bn_model_n_vocab(srv->m) - 1, 1, &v))
            rc = fail(msg, "an input holds a value that is not a token id of this model");
        ids[i] = (int32_t)v;
    }
    if (!rc)
        push(in, ids, arr.n);
    else
        free(ids);
    json_object_free(&arr);
    return rc;
}

/* "input" / "content": a string, an array of token ids (one input), or an
 * array whose elements are strings or token-id arrays. */
static int read_inputs(const server *srv, const json_member *mb, inputs *in, char *msg)
{
    if (mb->kind == JSON_STRING) return add_text(srv, in, mb->str, mb->str_len, msg);
    json_object arr;
    if (mb->kind != JSON_ARRAY || json_parse_array(mb->raw, mb->raw_len, &arr, msg))
        return fail(msg, "\"input\" must be a string, an array of strings, or token ids");
    int rc = arr.n ? 0 : fail(msg, "\"input\" is empty");
    if (!rc && arr.members[0].kind == JSON_NUMBER) {
        rc = add_ids(srv, in, mb->raw, mb->raw_len, msg);
    } else {
        for (int i = 0; i < arr.n && !rc; i++) {
            const json_member *el = &arr.members[i];
            if (el->kind == JSON_STRING)
                rc = add_text(srv, in, el->str, el->str_len, msg);
            else if (el->kind == JSON_ARRAY)
                rc = add_ids(srv, in, el->raw, el->raw_len, msg);
            else
                rc = fail(msg, "each element of \"input\" must be a string or an array of "
                               "token ids");
        }
    }
    json_object_free(&arr);
    return rc;
}

/* The fields of either endpoint into in; 0 or an HTTP status. */
static int parse_request(const server *srv, const json_object *obj, int openai, inputs *in,
                         int *base64, char *msg)
{
    const char *input_key = openai ? "input" : "content";
    const json_member *input = NULL;
    for (int i = 0; i < obj->n; i++) {
        const json_member *mb = &obj->members[i];
        if (!strcmp(mb->key, input_key)) {
            input = mb;
        } else if (!strcmp(mb->key, "encoding_format")) {
            if (mb->kind != JSON_STRING || (strcmp(mb->str, "float") && strcmp(mb->str, "base64")))
                return fail(msg, "\"encoding_format\" must be \"float\" or \"base64\"");
            *base64 = !strcmp(mb->str, "base64");
        } else if (strcmp(mb->key, "model") && strcmp(mb->key, "user")) {
            snprintf(msg, BN_ERR_LEN,
                     "unknown field \"%.64s\" (expected %s, model, "
                     "encoding_format, user)",
                     mb->key, input_key);
            return HTTP_BAD_REQUEST;
        }
    }
    if (!input) {
        snprintf(msg, BN_ERR_LEN, "\"%s\" is missing", input_key);
        return HTTP_BAD_REQUEST;
    }
    return read_inputs(srv, input, in, msg);
}

/* /embedding: [{"index": i, "embedding": [[...], ...]}], one vector per
 * input, or one per token without pooling. */
static void write_llama_body(FILE *f, const float *v, const inputs *in, int n_embd,
                             bn_pooling pooling)
{
    fputc('[', f);
    for (int i = 0, k = 0; i < in->n; i++) {
        fprintf(f, "%s{\"index\": %d, \"embedding\": [", i ? ", " : "", i);
        const int n_vec = pooling == BN_POOL_NONE ? in->n_ids[i] : 1;
        for (int j = 0; j < n_vec; j++, k++) {
            if (j) fputs(", ", f);
            embd_json_floats(f, v + (size_t)k * n_embd, n_embd);
        }
        fputs("]}", f);
    }
    fputs("]\n", f);
}

int api_embeddings(server *srv, const char *body, size_t len, int openai, char **out,
                   size_t *out_len, char msg[BN_ERR_LEN])
{
    const bn_pooling pooling = embd_pooling_of(srv->o, srv->m);
    if (openai && pooling == BN_POOL_NONE)
        return fail(msg, "this model pools nothing (pooling none), so it has no embedding of a "
                         "text: start the server with --embedding --pooling mean|cls|last, or "
                         "use /embedding for one vector per token");
    json_object obj;
    if (json_parse_object(body, len, &obj, msg)) return HTTP_BAD_REQUEST;
    inputs in = {0};
    int base64 = 0;
    int rc = parse_request(srv, &obj, openai, &in, &base64, msg);
    json_object_free(&obj);
    const int n_embd = bn_model_n_embd(srv->m);
    float *v = NULL;
    bn_context *ctx = NULL;
    if (!rc) {
        const size_t n_vec = (size_t)(pooling == BN_POOL_NONE ? in.tokens : in.n);
        v = calloc(n_vec * n_embd + 1, sizeof *v);
        if (!v) log_out_of_memory();
        bn_context_params cp = bn_context_default_params();
        cp.n_threads = srv->o->n_threads;
        if (!(ctx = bn_context_new(srv->m, &cp, msg))) rc = HTTP_UNAVAILABLE;
    }
    if (!rc && bn_embed(ctx, (const int32_t *const *)in.ids, in.n_ids, in.n, pooling,
                        srv->o->embd_normalize, v, msg))
        rc = HTTP_BAD_REQUEST; /* a text longer than the model's context */
    if (!rc) {
        FILE *f = open_memstream(out, out_len);
        if (!f) log_out_of_memory();
        if (openai) {
            embd_write_openai(f, v, in.n, n_embd, srv->model_name, in.tokens, base64);
            fputc('\n', f);
        } else {
            write_llama_body(f, v, &in, n_embd, pooling);
        }
        fclose(f);
        pthread_mutex_lock(&srv->mu);
        srv->stats.requests++;
        srv->stats.prompt_tokens += in.tokens;
        pthread_mutex_unlock(&srv->mu);
    }
    bn_context_free(ctx);
    free(v);
    inputs_free(&in);
    return rc ? rc : HTTP_OK;
}
