/*
 * embed.c - the bitnet engine inside another program: load a model, tokenize
 * a prompt, evaluate it and print its greedy continuation (what
 * `bitnet-run -m MODEL -p PROMPT -n N --temp 0` prints on stdout).
 *
 *   cc embed.c $(pkg-config --cflags --libs bitnet) -o embed
 *   ./embed models/bitnet-tiny.gguf "The capital of France is" 16
 */
#include <bitnet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *err)
{
    fprintf(stderr, "embed: %s\n", err);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf [PROMPT] [N_TOKENS]\n", argv[0]);
        return 2;
    }
    const char *prompt = argc > 2 ? argv[2] : "The capital of France is";
    int n_predict = argc > 3 ? atoi(argv[3]) : 32;
    char err[BN_ERR_LEN];

    /* the weights and the tokenizer, loaded by a thread per core */
    bn_model_params mp = bn_model_default_params();
    bn_model *model = bn_model_load(argv[1], &mp, err);
    if (!model) return fail(err);
    const bn_tokenizer *tok = bn_model_tokenizer(model);

    /* the prompt as token ids (BOS first when the model asks for it) */
    int32_t *ids;
    int n = bn_tokenize(tok, prompt, strlen(prompt), BN_TOK_ADD_BOS | BN_TOK_PARSE_SPECIAL, &ids,
                        err);
    if (n <= 0) return fail(n < 0 ? err : "the prompt gives no token");

    /* one sequence: its KV cache spans the model's training context, and it
     * is evaluated by worker threads of its own (a bn_context) */
    bn_session *session = bn_session_new(model, NULL, err);
    if (!session) return fail(err);
    bn_sampler_params sp = bn_sampler_default_params();
    sp.temp = 0; /* greedy: always the most likely token */
    bn_sampler *sampler = bn_sampler_new(&sp, bn_model_n_vocab(model));
    if (!sampler) return fail("out of memory");

    /* run the whole prompt at once, then one token at a time */
    const float *logits;
    int rc = bn_session_eval(session, ids, n, &logits, err);
    printf("%s", prompt);
    for (int i = 0; rc == 0 && i < n_predict; i++) {
        int32_t id = bn_sampler_sample(sampler, logits);
        if (bn_token_is_eog(tok, id)) break; /* end of text */

        char piece[256]; /* more than any token's text */
        int len = bn_token_to_piece(tok, id, 0, piece, sizeof piece);
        if (len > 0) fwrite(piece, 1, len < 256 ? (size_t)len : 256, stdout);
        fflush(stdout);
        /* the next token's logits, unless it is the last one or the context is full */
        if (i + 1 == n_predict || bn_session_n_past(session) == bn_session_n_ctx(session)) break;
        rc = bn_session_eval(session, &id, 1, &logits, err);
    }
    printf("\n");
    if (rc) fail(err);

    bn_sampler_free(sampler);
    bn_session_free(session);
    free(ids);
    bn_model_free(model);
    return rc ? 1 : 0;
}
