/*
 * bench_tokenizer.c - measures the tokenizer: vocabulary load time and
 * tokenization throughput on about 1 MB of English text.
 *
 * Usage: bench_tokenizer [VOCAB.gguf [TEXT_FILE]]
 *   VOCAB defaults to ../shared/tokenizer/llama3-vocab.gguf (the
 *   128256-token / 280147-merge LLaMA-3 vocabulary); without TEXT_FILE a
 *   deterministic 1 MiB English-like text is generated.
 * Targets (issue): load < 100 ms, 1 MB tokenized < 0.5 s on one core.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet-perf.h"
#include "bitnet.h"

#define DEFAULT_VOCAB "../shared/tokenizer/llama3-vocab.gguf"
#define TEXT_BYTES (1u << 20)
#define LOAD_RUNS 5
#define TOKENIZE_RUNS 3

/* Sentences of common words, numbers, punctuation and paragraphs. */
static char *generate_text(size_t *len)
{
    static const char *const words[] = {
        "the",        "of",        "and",        "to",           "in",
        "is",         "was",       "that",       "for",          "it",
        "with",       "as",        "his",        "on",           "be",
        "at",         "by",        "had",        "are",          "but",
        "from",       "or",        "have",       "an",           "they",
        "which",      "one",       "you",        "were",         "all",
        "we",         "when",      "there",      "can",          "would",
        "who",        "tokenizer", "language",   "model",        "ternary",
        "weights",    "inference", "engine",     "quickly",      "history",
        "government", "Paris",     "London",     "don't",        "it's",
        "we've",      "(example)", "\"quoted\"", "e.g.",         "self-attention",
        "1,024",      "3.14",      "2025",       "co-operation", "naïve",
        "café"};
    const size_t n_words = sizeof words / sizeof words[0];
    char *text = malloc(TEXT_BYTES + 64);
    if (!text) return NULL;
    size_t n = 0, in_sentence = 0;
    uint32_t state = 2024;
    while (n < TEXT_BYTES) {
        state = state * 1664525u + 1013904223u;
        const char *w = words[(state >> 8) % n_words];
        size_t wl = strlen(w);
        if (in_sentence) text[n++] = ' ';
        memcpy(text + n, w, wl);
        if (!in_sentence && w[0] >= 'a' && w[0] <= 'z') text[n] -= 'a' - 'A';
        n += wl;
        if (++in_sentence > 6 + (state >> 28)) {
            text[n++] = (state >> 20) % 5 ? '.' : '?';
            text[n++] = (state >> 12) % 7 ? ' ' : '\n';
            in_sentence = 0;
        }
    }
    *len = n;
    return text;
}

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return text;
}

static int bench_load(const char *vocab)
{
    double best = 1e9, total = 0;
    for (int r = 0; r < LOAD_RUNS; r++) {
        char err[BN_ERR_LEN];
        double t0 = bn_seconds();
        bn_tokenizer *t = bn_tokenizer_load(vocab, err);
        double dt = bn_seconds() - t0;
        if (!t) {
            fprintf(stderr, "bench_tokenizer: %s\n", err);
            return -1;
        }
        bn_tokenizer_free(t);
        best = dt < best ? dt : best;
        total += dt;
    }
    printf("load:     best %.1f ms, mean %.1f ms over %d runs (target < 100 ms)\n", best * 1e3,
           total / LOAD_RUNS * 1e3, LOAD_RUNS);
    return 0;
}

static int bench_tokenize(const bn_tokenizer *t, const char *text, size_t len, int flags,
                          const char *label)
{
    double best = 1e9;
    int n = 0;
    for (int r = 0; r < TOKENIZE_RUNS; r++) {
        char err[BN_ERR_LEN];
        int32_t *ids = NULL;
        double t0 = bn_seconds();
        n = bn_tokenize(t, text, len, flags, &ids, err);
        double dt = bn_seconds() - t0;
        free(ids);
        if (n < 0) {
            fprintf(stderr, "bench_tokenizer: %s\n", err);
            return -1;
        }
        best = dt < best ? dt : best;
    }
    printf("%-9s %zu bytes -> %d tokens in %.1f ms: %.2f MB/s, %.0f tokens/s (target < 500 ms "
           "per MB)\n",
           label, len, n, best * 1e3, len / best / 1e6, n / best);
    return 0;
}

int main(int argc, char **argv)
{
    const char *vocab = argc > 1 ? argv[1] : DEFAULT_VOCAB;
    size_t len = 0;
    char *text = argc > 2 ? read_text(argv[2], &len) : generate_text(&len);
    if (!text) {
        fprintf(stderr, "bench_tokenizer: cannot %s text\n", argc > 2 ? "read" : "make");
        return 1;
    }
    printf("vocabulary %s, text %s (%zu bytes)\n", vocab, argc > 2 ? argv[2] : "generated", len);
    char err[BN_ERR_LEN];
    bn_tokenizer *t = NULL;
    int rc = bench_load(vocab) || !(t = bn_tokenizer_load(vocab, err));
    if (!rc)
        printf("(%d tokens, %s tokenizer, pre-tokenizer %s)\n", bn_tokenizer_n_vocab(t),
               bn_tokenizer_model_name(t), bn_tokenizer_pre_name(t));
    rc = rc || bench_tokenize(t, text, len, 0, "plain:") ||
         bench_tokenize(t, text, len, BN_TOK_PARSE_SPECIAL | BN_TOK_ADD_BOS, "special:");
    /* the other pre-tokenizers of a BPE vocabulary, for comparison */
    static const char *const pres[] = {"gpt2", "default"};
    for (size_t i = 0; !rc && !strcmp(bn_tokenizer_model_name(t), "gpt2") && i < 2; i++) {
        char label[32];
        snprintf(label, sizeof label, "%s:", pres[i]);
        rc = bn_tokenizer_set_pre(t, pres[i]) || bench_tokenize(t, text, len, 0, label);
    }
    bn_tokenizer_free(t);
    free(text);
    return rc ? 1 : 0;
}
