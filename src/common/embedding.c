/*
 * embedding.c - the pooling names and the JSON of embeddings (embedding.h).
 */
#include "embedding.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define FLOAT_DIGITS 9 /* %.9g reads back the same float */
#define B64_IN 3       /* bytes per group of base64 */
#define B64_OUT 4

static const char *const POOLING_NAMES[] = {"none", "mean", "cls", "last"};
#define N_POOLINGS (int)(sizeof POOLING_NAMES / sizeof POOLING_NAMES[0])

int embd_pooling_parse(const char *name, bn_pooling *out)
{
    for (int i = 0; i < N_POOLINGS; i++)
        if (!strcmp(name, POOLING_NAMES[i])) {
            *out = (bn_pooling)i;
            return 0;
        }
    return -1;
}

const char *embd_pooling_name(bn_pooling p)
{
    return p >= 0 && (int)p < N_POOLINGS ? POOLING_NAMES[p] : "unspecified";
}

bn_pooling embd_pooling_of(const run_opts *o, const bn_model *m)
{
    bn_pooling p;
    return o->embd_pooling && !embd_pooling_parse(o->embd_pooling, &p) ? p : bn_model_pooling(m);
}

void embd_json_floats(FILE *f, const float *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%.*g", i ? ", " : "", FLOAT_DIGITS, (double)v[i]);
    fputc(']', f);
}

void embd_json_base64(FILE *f, const float *v, int n)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const size_t len = (size_t)n * sizeof *v;
    uint8_t *b = calloc(len + 1, 1);
    if (!b) return;
    for (int i = 0; i < n; i++) { /* little-endian whatever the host */
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        for (int k = 0; k < 4; k++) b[4 * (size_t)i + k] = (uint8_t)(u >> (8 * k));
    }
    fputc('"', f);
    for (size_t i = 0; i < len; i += B64_IN) {
        const uint32_t w = (uint32_t)b[i] << 16 | (i + 1 < len ? (uint32_t)b[i + 1] << 8 : 0) |
                           (i + 2 < len ? b[i + 2] : 0);
        char out[B64_OUT];
        for (int k = 0; k < B64_OUT; k++) out[k] = digits[(w >> (18 - 6 * k)) & 63];
        if (i + 1 >= len) out[2] = '=';
        if (i + 2 >= len) out[3] = '=';
        fwrite(out, 1, B64_OUT, f);
    }
    fputc('"', f);
    free(b);
}

void embd_write_openai(FILE *f, const float *v, int n, int n_embd, const char *model, long tokens,
                       int base64)
{
    fputs("{\"object\": \"list\", \"data\": [", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"object\": \"embedding\", \"index\": %d, \"embedding\": ", i ? ", " : "",
                i);
        (base64 ? embd_json_base64 : embd_json_floats)(f, v + (size_t)i * n_embd, n_embd);
        fputc('}', f);
    }
    fputs("], \"model\": ", f);
    json_string(f, model, strlen(model));
    fprintf(f, ", \"usage\": {\"prompt_tokens\": %ld, \"total_tokens\": %ld}}", tokens, tokens);
}
