/*
 * server.h - the pieces of the server mode (--server) shared by its files:
 * server.c (sockets, connections, routing), server_api.c (the OpenAI
 * request fields and response bodies) and slots.c (the queue and the
 * continuous-batching loop on one engine thread).
 */
#ifndef BN_SERVER_SERVER_H
#define BN_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "buf.h"
#include "log.h"
#include "chat_format.h"
#include "json.h"
#include "options.h"
#include "reasoning.h"
#include "seq.h"
#include "setup.h"

/* A generated token with its probabilities, as a response reports it. */
typedef struct {
    int32_t id;
    size_t offset; /* bytes of generated text before its piece */
    tok_probs p;
} srv_token_probs;

/* One generation request: filled by its connection, run by the engine
 * thread. The connection owns it and frees it once `done` is set; the
 * fields below `mu` are shared and guarded by the server's mutex. */
typedef struct srv_job {
    int32_t *pids; /* the prompt's tokens */
    int np;
    int n_predict; /* -1: until the end of the context */
    int lookup;    /* most draft tokens a pass: --lookup, or "speculative.n_max" */
    bn_sampler_params sp;
    bn_logit_bias *bias;     /* sp.logit_bias: the request's logit_bias */
    struct grammar *grammar; /* constrained output: grammar, json_schema, response_format */
    int logprobs;            /* report the tokens' log probabilities */
    int top_logprobs;        /* and this many alternatives each */
    char **stops;
    int n_stops;
    pthread_cond_t cv;    /* signalled when text arrives or the job ends */
    struct srv_job *next; /* in the queue */
    text_buf text;        /* generated text not yet sent */
    int done;
    int cancelled; /* the client went away (or the server stops) */
    int in_slot;
    const char *finish_reason; /* "stop", "length"; NULL: cancelled or failed */
    int n_out;                 /* tokens generated */
    double prompt_ms, gen_ms;  /* its prompt's evaluation; its generation */
    long drafted, accepted;    /* --lookup: draft tokens checked, kept */
    char error[BN_ERR_LEN];    /* when the engine failed it */
    srv_token_probs *lp;       /* logprobs: the tokens published so far */
    int n_lp, lp_cap, lp_sent; /* lp_sent: already in stream events */
    int lp_seen;               /* generated tokens looked at */
    size_t lp_text;            /* bytes of their pieces */
} srv_job;

typedef struct {
    long requests, errors, prompt_tokens, generated_tokens;
    long drafted, accepted; /* --lookup draft tokens checked, kept */
    double busy_s;          /* engine time spent evaluating */
} srv_stats;

typedef struct srv_engine srv_engine;

typedef struct {
    const run_opts *o;
    bn_model *m;
    const bn_tokenizer *tok;
    const chat_format *fmt;
    char *model_name;
    int n_ctx; /* per slot */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* the engine: work arrived, or stop */
    srv_job *queue_head, *queue_tail;
    int queued, active, connections;
    srv_stats stats;
    atomic_int stopping;   /* no new requests; running ones finish */
    atomic_int cancel_all; /* the grace period is over: stop everything */
    atomic_int abort_eval; /* stop the pass in progress (a client left) */
    srv_engine *engine;
} server;

/* Runs the server until SIGINT or SIGTERM (the --server mode); returns the
 * process exit code. */
int run_server(const run_opts *o);

/* ------------------------------------------------------ the slots (slots.c) */

/* Creates the slots and starts the engine thread; 0, or an exit code with
 * err set. */
int slots_start(server *srv, char err[BN_ERR_LEN]);
/* Waits for the engine thread to end (after stopping is set) and frees it. */
void slots_join(server *srv);
/* Queues a job (under no lock); the engine thread picks it up. */
void slots_submit(server *srv, srv_job *job);
/* Marks the job cancelled (its client left); it is done soon after. */
void slots_cancel(server *srv, srv_job *job);

/* ---------------------------------------------------- the API (server_api.c) */

/* A tool of a chat request (tools.c). */
typedef struct {
    char *name;
    char *function;   /* the "function" object as sent, for the prompt */
    char *parameters; /* its JSON Schema ("{}" when absent) */
} srv_tool;

typedef enum { TOOL_NONE, TOOL_AUTO, TOOL_REQUIRED, TOOL_NAMED } srv_tool_choice;

/* What a request asked for, once its body is parsed. */
typedef struct {
    int chat;          /* /v1/chat/completions */
    int stream;        /* server-sent events */
    int include_usage; /* stream_options.include_usage */
    char *prompt;      /* the rendered prompt text */
    size_t prompt_len;
    srv_tool *tools; /* n_tools of them */
    int n_tools;
    srv_tool_choice tool_choice; /* TOOL_AUTO unless the request says */
    char *tool_named;            /* TOOL_NAMED: the function */
    int hold_text;               /* stream nothing until the end (a reply may be a call) */
    int tool_called;             /* the reply was a call: finish_reason "tool_calls" */
    reasoning_split think;       /* a chat reply's reasoning block, apart (--reasoning-format) */
} srv_request;

/* Parses a completion (chat = 0) or chat request body into req and job
 * (tokenized, sampler and limits checked). 0, or an HTTP status with msg
 * set (400: the request is wrong). */
int api_parse_generation(server *srv, const char *body, size_t len, int chat, srv_request *req,
                         srv_job *job, char msg[BN_ERR_LEN]);
void api_request_free(srv_request *req, srv_job *job);
/* ------------------------------------------------ tool calls (tools.c) */

/* "tools" and "tool_choice" of a chat request; 0, or 400 with msg set. */
int tools_parse(srv_request *req, const json_member *mb, char msg[BN_ERR_LEN]);
int tools_choice(srv_request *req, const json_member *mb, char msg[BN_ERR_LEN]);
/* Appends the system message that shows the tools; 1 when there is one. */
int tools_prompt(const srv_request *req, text_buf *system);
/* With tool_choice required or a named function: the grammar that holds
 * the reply to a call of the tools (in *out); 0, or 400 with msg set. */
int tools_grammar(srv_request *req, struct grammar **out, char msg[BN_ERR_LEN]);
/* When the reply text is a call of one of the tools, writes
 * "tool_calls": [...] and returns 1; else writes nothing, returns 0. */
int tools_write_calls(FILE *f, const srv_request *req, const char *text, size_t len,
                      const char *id);
void tools_free(srv_request *req);

/* Copies the probabilities of q's tokens not yet published into the job
 * (when it asked for logprobs); under the server's mutex. */
void api_take_probs(const server *srv, srv_job *job, const gen_seq *q);
/* The whole response of a non-streamed request (malloc'd JSON). */
char *api_completion_body(const server *srv, srv_request *req, const srv_job *job, const char *id,
                          const char *text, size_t len, size_t *out_len);
/* The events of a stream for the next piece of text: its delta (a chat
 * reply's reasoning as reasoning_content), or (final) what was held back
 * and then the finish reason and usage (malloc'd "data: {...}\n\n"). */
char *api_stream_event(const server *srv, srv_request *req, const srv_job *job, const char *id,
                       const char *text, size_t len, int final, size_t *out_len);
/* {"error": {"message", "type"}} for a status (malloc'd). */
char *api_error_body(int status, const char *msg, size_t *out_len);
/* /tokenize, /detokenize, /v1/models, /metrics bodies; status 200 or 4xx. */
int api_tokenize(const server *srv, const char *body, size_t len, char **out, size_t *out_len,
                 char msg[BN_ERR_LEN]);
int api_detokenize(const server *srv, const char *body, size_t len, char **out, size_t *out_len,
                   char msg[BN_ERR_LEN]);
char *api_models_body(const server *srv, size_t *out_len);
/* POST /v1/embeddings (openai) or /embedding (embeddings.c); status 200 or
 * 4xx/5xx with msg set. */
int api_embeddings(server *srv, const char *body, size_t len, int openai, char **out,
                   size_t *out_len, char msg[BN_ERR_LEN]);
char *api_metrics_body(server *srv, size_t *out_len);

#endif
