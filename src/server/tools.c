/*
 * tools.c - OpenAI tool calling on /v1/chat/completions: the request's
 * "tools" and "tool_choice", a system message that shows the model the
 * tools and how to call one, the grammar that holds a required call to the
 * tools' parameter schemas, and the reply read back as "tool_calls" with
 * finish_reason "tool_calls" (docs/SERVER.md, Tool calls). A call is one
 * JSON object, {"name": ..., "arguments": {...}}, whatever the chat format.
 */
#include <stdlib.h>
#include <string.h>

#include "grammar.h"
#include "json.h"
#include "json_schema.h"
#include "server.h"

#define MAX_TOOLS 64
#define HTTP_BAD_REQUEST 400

static const char TOOLS_INTRO[] =
    "You can call the following tools. To call one, answer with only a JSON object "
    "{\"name\": <the tool's name>, \"arguments\": <an object of its parameters>} and "
    "nothing else.\nTools:\n";

static int bad(char msg[BN_ERR_LEN], const char *what)
{
    snprintf(msg, BN_ERR_LEN, "%s", what);
    return HTTP_BAD_REQUEST;
}

/* One {"type": "function", "function": {"name", "description", "parameters"}}. */
static int add_tool(srv_request *req, const json_member *el, char msg[BN_ERR_LEN])
{
    json_object tool, fn = {0};
    if (el->kind != JSON_OBJECT || json_parse_object(el->raw, el->raw_len, &tool, msg))
        return bad(msg, "\"tools\" holds objects {\"type\": \"function\", \"function\": {...}}");
    const json_member *type = json_get(&tool, "type"), *f = json_get(&tool, "function");
    int rc = 0;
    if (!type || type->kind != JSON_STRING || strcmp(type->str, "function") || !f ||
        f->kind != JSON_OBJECT || json_parse_object(f->raw, f->raw_len, &fn, msg)) {
        rc = bad(msg, "\"tools\": each needs \"type\": \"function\" and a \"function\" object");
    } else {
        const json_member *name = json_get(&fn, "name"), *params = json_get(&fn, "parameters");
        if (!name || name->kind != JSON_STRING || !name->str_len || name->str_len > 64)
            rc = bad(msg, "\"tools\": a function needs a \"name\" of 1 to 64 bytes");
        else if (params && params->kind != JSON_OBJECT)
            rc = bad(msg, "\"tools\": \"parameters\" must be a JSON Schema object");
        if (!rc) {
            srv_tool *t = &req->tools[req->n_tools++];
            t->name = strndup(name->str, name->str_len);
            t->function = strndup(f->raw, f->raw_len);
            t->parameters = params ? strndup(params->raw, params->raw_len) : strdup("{}");
            if (!t->name || !t->function || !t->parameters) log_out_of_memory();
        }
        json_object_free(&fn);
    }
    json_object_free(&tool);
    return rc;
}

int tools_parse(srv_request *req, const json_member *mb, char msg[BN_ERR_LEN])
{
    json_object arr;
    if (mb->kind != JSON_ARRAY || json_parse_array(mb->raw, mb->raw_len, &arr, msg))
        return bad(msg, "\"tools\" must be an array");
    int rc = arr.n > MAX_TOOLS ? bad(msg, "\"tools\": at most 64") : 0;
    if (!rc && arr.n) {
        req->tools = calloc((size_t)arr.n, sizeof *req->tools);
        if (!req->tools) log_out_of_memory();
    }
    for (int i = 0; i < arr.n && !rc; i++) rc = add_tool(req, &arr.members[i], msg);
    json_object_free(&arr);
    return rc;
}

int tools_choice(srv_request *req, const json_member *mb, char msg[BN_ERR_LEN])
{
    if (mb->kind == JSON_STRING) {
        static const char *const modes[] = {"none", "auto", "required"};
        for (int i = 0; i < 3; i++)
            if (!strcmp(mb->str, modes[i])) return req->tool_choice = (srv_tool_choice)i, 0;
        return bad(msg, "\"tool_choice\" must be none, auto, required or {\"type\": \"function\", "
                        "\"function\": {\"name\": ...}}");
    }
    json_object o, f = {0};
    if (mb->kind != JSON_OBJECT || json_parse_object(mb->raw, mb->raw_len, &o, msg))
        return bad(msg, "\"tool_choice\" must be a string or an object");
    const json_member *fn = json_get(&o, "function");
    const json_member *name = NULL;
    if (fn && fn->kind == JSON_OBJECT && !json_parse_object(fn->raw, fn->raw_len, &f, msg))
        name = json_get(&f, "name");
    int rc = 0;
    if (!name || name->kind != JSON_STRING) {
        rc = bad(msg, "\"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": ...}}");
    } else {
        req->tool_choice = TOOL_NAMED;
        req->tool_named = strndup(name->str, name->str_len);
        if (!req->tool_named) log_out_of_memory();
    }
    json_object_free(&f);
    json_object_free(&o);
    return rc;
}

/* Does the request use its tools (some given, choice not none)? */
static int tools_used(const srv_request *req)
{
    return req->n_tools && req->tool_choice != TOOL_NONE;
}

int tools_prompt(const srv_request *req, text_buf *system)
{
    if (!tools_used(req)) return 0;
    buf_append(system, TOOLS_INTRO, strlen(TOOLS_INTRO));
    for (int i = 0; i < req->n_tools; i++) {
        if (req->tool_choice == TOOL_NAMED && strcmp(req->tools[i].name, req->tool_named)) continue;
        buf_append(system, req->tools[i].function, strlen(req->tools[i].function));
        buf_append(system, "\n", 1);
    }
    buf_append(system, "", 0);
    return 1;
}

/* The JSON text of a JSON string value. */
static void put_json_string(text_buf *b, const char *s)
{
    char *out;
    size_t len;
    FILE *f = open_memstream(&out, &len);
    if (!f) log_out_of_memory();
    json_string(f, s, strlen(s));
    fclose(f);
    buf_append(b, out, len);
    free(out);
}

int tools_grammar(srv_request *req, struct grammar **out, char msg[BN_ERR_LEN])
{
    if (!tools_used(req) || req->tool_choice == TOOL_AUTO) return 0;
    /* {"anyOf": [{"type": "object", "properties": {"name": {"const": N},
     * "arguments": PARAMETERS}}, ...]} */
    text_buf schema = {0};
    int n = 0;
    buf_append(&schema, "{\"anyOf\": [", 11);
    for (int i = 0; i < req->n_tools; i++) {
        const srv_tool *t = &req->tools[i];
        if (req->tool_choice == TOOL_NAMED && strcmp(t->name, req->tool_named)) continue;
        if (n++) buf_append(&schema, ", ", 2);
        static const char a[] = "{\"type\": \"object\", \"properties\": {\"name\": {\"const\": ",
                          b[] = "}, \"arguments\": ";
        buf_append(&schema, a, sizeof a - 1);
        put_json_string(&schema, t->name);
        buf_append(&schema, b, sizeof b - 1);
        buf_append(&schema, t->parameters, strlen(t->parameters));
        buf_append(&schema, "}}", 2);
    }
    buf_append(&schema, "]}", 3);
    int rc = 0;
    if (!n) {
        rc = bad(msg, "\"tool_choice\" names a function that is not in \"tools\"");
    } else {
        char err[BN_ERR_LEN];
        char *text = json_schema_to_grammar(schema.data, schema.len - 1, err);
        *out = text ? grammar_parse(text, strlen(text), err) : NULL;
        if (!*out) snprintf(msg, BN_ERR_LEN, "\"tools\": %.400s", err), rc = HTTP_BAD_REQUEST;
        free(text);
    }
    buf_free(&schema);
    return rc;
}

int tools_write_calls(FILE *f, const srv_request *req, const char *text, size_t len, const char *id)
{
    if (!tools_used(req)) return 0;
    while (len && strchr(" \t\r\n", *text)) text++, len--;
    while (len && strchr(" \t\r\n", text[len - 1])) len--;
    json_object call;
    char err[BN_ERR_LEN];
    if (!len || json_parse_object(text, len, &call, err)) return 0;
    const json_member *name = json_get(&call, "name"), *args = json_get(&call, "arguments");
    if (!args) args = json_get(&call, "parameters");
    int known = 0;
    for (int i = 0; name && name->kind == JSON_STRING && i < req->n_tools; i++)
        known |= !strcmp(req->tools[i].name, name->str);
    const int called = known && args && args->kind == JSON_OBJECT;
    if (called) {
        fprintf(f,
                "\"tool_calls\": [{\"index\": 0, \"id\": \"call_%s\", \"type\": \"function\", "
                "\"function\": {\"name\": ",
                id);
        json_string(f, name->str, name->str_len);
        fputs(", \"arguments\": ", f);
        json_string(f, args->raw, args->raw_len);
        fputs("}}]", f);
    }
    json_object_free(&call);
    return called;
}

void tools_free(srv_request *req)
{
    for (int i = 0; i < req->n_tools; i++) {
        free(req->tools[i].name);
        free(req->tools[i].function);
        free(req->tools[i].parameters);
    }
    free(req->tools);
    free(req->tool_named);
}
