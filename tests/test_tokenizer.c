/*
 * test_tokenizer.c - tests of the tokenizer: the shared expected
 * tokenizations (../shared/tokenizer/cases.jsonl) for the LLaMA-3 and
 * LLaMA-2 vocabularies, the bundled bitnet-tiny vocabulary and its greedy
 * reference prompts, round trips, a synthetic SentencePiece vocabulary,
 * broken files, the pre-tokenizer splits and hostile input.
 */
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "gguf.h"
#include "gguf_build.h"
#include "json_mini.h"
#include "pretokenize.h"
#include "test.h"
#include "tokenizer.h"
#include "unicode.h"

#define TINY_MODEL "models/bitnet-tiny.gguf"
#define TINY_BOS 1016
#define TINY_EOS 1017
#define TINY_EOT 1023
#define BIG_TEXT (1u << 20)

/* ------------------------------------------------------------ helpers */

static bn_tokenizer *load_or_fail(const char *path)
{
    char err[BN_ERR_LEN] = "";
    bn_tokenizer *t = bn_tokenizer_load(path, err);
    CHECK_MSG(t != NULL, "load %s: %s", path, err);
    return t;
}

/* Tokenizes; returns the count (-1 on error, reported). */
static int tokenize(const bn_tokenizer *t, const char *s, size_t len, int flags, int32_t **ids)
{
    char err[BN_ERR_LEN] = "";
    int n = bn_tokenize(t, s, len, flags, ids, err);
    CHECK_MSG(n >= 0, "bn_tokenize failed: %s", err);
    return n;
}

/* Decodes ids into a malloc'd buffer (NUL-terminated); *len gets its size. */
static char *detokenize(const bn_tokenizer *t, const int32_t *ids, int n, int special, size_t *len)
{
    int need = bn_detokenize(t, ids, n, special, NULL, 0);
    if (need < 0) return NULL;
    char *buf = malloc((size_t)need + 1);
    int got = bn_detokenize(t, ids, n, special, buf, (size_t)need);
    CHECK_EQ_INT(got, need);
    buf[need] = 0;
    *len = (size_t)need;
    return buf;
}

static int same_ids(const int32_t *a, int na, const int32_t *b, long nb)
{
    return na == nb && (na == 0 || !memcmp(a, b, (size_t)na * sizeof *a));
}

static int valid_utf8(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = bn_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (!n) return 0;
        i += n;
    }
    return 1;
}

static void print_ids(const char *what, const int32_t *ids, long n)
{
    printf("      %s:", what);
    for (long i = 0; i < n; i++) printf(" %d", ids[i]);
    printf("\n");
}

/* Checks that decoding ids gives text back (when text is valid UTF-8). */
static int round_trips(const bn_tokenizer *t, const int32_t *ids, int n, int special,
                       const char *text, size_t len)
{
    if (!valid_utf8(text, len)) return 1;
    size_t got_len;
    char *got = detokenize(t, ids, n, special, &got_len);
    int ok = got && got_len == len && !memcmp(got, text, len);
    free(got);
    return ok;
}

/* --------------------------------------------------- shared test cases */

typedef struct {
    const char *vocab; /* under ../shared */
    const char *key;   /* expected ids in cases.jsonl */
    int flags;
} case_set;

/* Runs every line of cases.jsonl through one vocabulary and one key;
 * every tokenization must match and decode back to its text. */
static void run_case_set(const char *vocab_path, const case_set *cs)
{
    SHARED_OR_SKIP(cases_path, "tokenizer/cases.jsonl");
    size_t size;
    char *all = test_read_file(cases_path, &size);
    CHECK_MSG(all != NULL, "cannot read %s", cases_path);
    bn_tokenizer *t = load_or_fail(vocab_path);
    if (!all || !t) {
        free(all);
        bn_tokenizer_free(t);
        return;
    }
    int total = 0, passed = 0, lineno = 0;
    for (char *line = all, *next; *line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : line + strlen(line);
        const char *end = nl ? nl : next;
        lineno++;
        if (end == line) continue;
        char *text = NULL;
        int32_t *want = NULL, *got = NULL;
        const char *tv = json_find(line, end, "text"), *iv = json_find(line, end, cs->key);
        long len = tv ? json_string(tv, end, &text) : -1;
        long n_want = iv ? json_int_array(iv, end, &want) : -1;
        CHECK_MSG(len >= 0 && n_want >= 0, "cases.jsonl line %d: cannot read text/%s", lineno,
                  cs->key);
        total++;
        int n = len >= 0 && n_want >= 0 ? tokenize(t, text, (size_t)len, cs->flags, &got) : -1;
        int special = (cs->flags & BN_TOK_PARSE_SPECIAL) != 0;
        if (n >= 0 && same_ids(got, n, want, n_want) &&
            round_trips(t, want, (int)n_want, special, text, (size_t)len)) {
            passed++;
        } else if (n >= 0) {
            test_fail(__FILE__, __LINE__, "%s line %d (%s): text \"%.60s\"", cs->key, lineno,
                      cs->vocab, text);
            print_ids("want", want, n_want);
            print_ids("got ", got, n);
        }
        free(text);
        free(want);
        free(got);
    }
    printf("    %s on %s: %d/%d cases pass\n", cs->key, cs->vocab, passed, total);
    CHECK(total > 0);
    free(all);
    bn_tokenizer_free(t);
}

static void run_vocab_cases(const case_set *sets, size_t n_sets)
{
    for (size_t i = 0; i < n_sets; i++) {
        char path[4096];
        const char *p = test_shared_path(sets[i].vocab);
        if (!p) SKIP("../shared is absent (tokenizer vocabularies)");
        snprintf(path, sizeof path, "%s", p);
        run_case_set(path, &sets[i]);
    }
}

TEST(tokenizer_llama3_cases)
{
    static const case_set sets[] = {
        {"tokenizer/llama3-vocab.gguf", "llama3", 0},
        {"tokenizer/llama3-vocab.gguf", "llama3_special", BN_TOK_PARSE_SPECIAL},
    };
    run_vocab_cases(sets, sizeof sets / sizeof sets[0]);
}

TEST(tokenizer_llama3_nopre_cases)
{
    static const case_set sets[] = {
        {"tokenizer/llama3-vocab-nopre.gguf", "llama3", 0},
        {"tokenizer/llama3-vocab-nopre.gguf", "llama3_special", BN_TOK_PARSE_SPECIAL},
    };
    run_vocab_cases(sets, sizeof sets / sizeof sets[0]);
}

TEST(tokenizer_llama2_cases)
{
    static const case_set sets[] = {{"tokenizer/llama2-vocab.gguf", "llama2", 0}};
    run_vocab_cases(sets, sizeof sets / sizeof sets[0]);
}

TEST(tokenizer_llama3_vocab_facts)
{
    SHARED_OR_SKIP(path, "tokenizer/llama3-vocab-nopre.gguf");
    bn_tokenizer *t = load_or_fail(path);
    if (!t) return;
    CHECK_EQ_INT(bn_tokenizer_n_vocab(t), 128256);
    CHECK(!strcmp(bn_tokenizer_model_name(t), "gpt2"));
    /* no tokenizer.ggml.pre, but the LLaMA-3 vocabulary: the LLaMA-3 split */
    CHECK(!strcmp(bn_tokenizer_pre_name(t), "llama3"));
    CHECK_EQ_INT(bn_token_bos(t), 128000);
    CHECK_EQ_INT(bn_token_eos(t), 128001);
    CHECK_EQ_INT(bn_token_eot(t), 128009);
    CHECK(bn_token_is_eog(t, 128001) && bn_token_is_eog(t, 128009));
    CHECK(bn_token_is_eog(t, 128008)); /* <|eom_id|> */
    CHECK(!bn_token_is_eog(t, 128000) && !bn_token_is_eog(t, 13));
    /* the default split cuts "don't" at the apostrophe (spec 7.2) */
    int32_t *ids = NULL;
    CHECK_EQ_INT(bn_tokenizer_set_pre(t, "default"), 0);
    int n = tokenize(t, "don't", 5, 0, &ids);
    CHECK_EQ_INT(n, 3);
    free(ids);
    CHECK_EQ_INT(bn_tokenizer_set_pre(t, "llama-bpe"), 0);
    n = tokenize(t, "don't", 5, 0, &ids);
    CHECK_EQ_INT(n, 2);
    free(ids);
    bn_tokenizer_free(t);
}

/* ------------------------------------------------------- bitnet-tiny */

TEST(tokenizer_tiny_vocab)
{
    bn_tokenizer *t = load_or_fail(TINY_MODEL);
    if (!t) return;
    CHECK_EQ_INT(bn_tokenizer_n_vocab(t), 1024);
    CHECK(!strcmp(bn_tokenizer_pre_name(t), "llama3"));
    CHECK_EQ_INT(bn_token_bos(t), TINY_BOS);
    CHECK_EQ_INT(bn_token_eos(t), TINY_EOS);
    CHECK_EQ_INT(bn_token_eot(t), TINY_EOT);
    CHECK(bn_token_is_eog(t, TINY_EOS) && bn_token_is_eog(t, TINY_EOT));
    CHECK(!bn_token_is_eog(t, TINY_BOS));
    CHECK(!strcmp(bn_token_text(t, TINY_EOT), "<|eot_id|>"));
    CHECK(bn_token_text(t, 1024) == NULL && bn_token_text(t, -1) == NULL);
    CHECK_EQ_INT(bn_token_lookup(t, "<|eot_id|>", 10), TINY_EOT);
    CHECK_EQ_INT(bn_token_lookup(t, "no such token", 13), -1);

    static const int32_t want[] = {TINY_BOS, 17, 10, 17, 28};
    int32_t *ids = NULL;
    int n = tokenize(t, "2+2=", 4, BN_TOK_ADD_BOS, &ids);
    CHECK(same_ids(ids, n, want, 5));
    free(ids);

    n = tokenize(t, "<|eot_id|>", 10, BN_TOK_PARSE_SPECIAL, &ids);
    CHECK_EQ_INT(n, 1);
    if (n == 1) CHECK_EQ_INT(ids[0], TINY_EOT);
    free(ids);
    n = tokenize(t, "<|eot_id|>", 10, 0, &ids); /* plain text without the flag */
    CHECK(n > 1);
    for (int i = 0; i < n; i++) CHECK(ids[i] != TINY_EOT);
    free(ids);
    bn_tokenizer_free(t);
}

TEST(tokenizer_tiny_round_trips)
{
    static const char *const texts[] = {
        "The capital of France is Paris.", "  leading and trailing  ", "line\n\nbreaks\r\n",
        "tabs\tand \u00e9t\u00e9 \u4f60\u597d \U0001F600", "don't STOP 12345 +-*/", "",
    };
    bn_tokenizer *t = load_or_fail(TINY_MODEL);
    if (!t) return;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t *ids = NULL;
        size_t len = strlen(texts[i]);
        int n = tokenize(t, texts[i], len, 0, &ids);
        CHECK_MSG(n >= 0 && round_trips(t, ids, n, 0, texts[i], len), "round trip of \"%s\"",
                  texts[i]);
        free(ids);
    }
    /* control tokens decode to their text only with special */
    char buf[64];
    CHECK_EQ_INT(bn_token_to_piece(t, TINY_EOT, 0, buf, sizeof buf), 0);
    CHECK_EQ_INT(bn_token_to_piece(t, TINY_EOT, 1, buf, sizeof buf), 10);
    CHECK(!memcmp(buf, "<|eot_id|>", 10));
    CHECK_EQ_INT(bn_token_to_piece(t, TINY_EOT, 1, buf, 3), 10); /* reports the size needed */
    CHECK_EQ_INT(bn_token_to_piece(t, 1024, 1, buf, sizeof buf), -1);
    bn_tokenizer_free(t);
}

/* Every prompt of the greedy reference tokenizes to its prompt_ids. */
TEST(tokenizer_tiny_reference_prompts)
{
    SHARED_OR_SKIP(path, "reference/bitnet-tiny-greedy.jsonl");
    char *all = test_read_file(path, NULL);
    bn_tokenizer *t = load_or_fail(TINY_MODEL);
    CHECK(all != NULL);
    int records = 0;
    for (char *line = all, *next; all && t && *line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : line + strlen(line);
        const char *end = nl ? nl : next;
        if (end == line) continue;
        char *prompt = NULL;
        int32_t *want = NULL, *got = NULL;
        const char *pv = json_find(line, end, "prompt"), *cv = json_find(line, end, "chat");
        const char *iv = json_find(line, end, "prompt_ids");
        long plen = pv ? json_string(pv, end, &prompt) : -1;
        long n_want = iv ? json_int_array(iv, end, &want) : -1;
        int chat = cv ? json_bool(cv, end) : -1;
        CHECK(plen >= 0 && n_want >= 0 && chat >= 0);
        if (plen < 0 || n_want < 0 || chat < 0) break;
        records++;
        size_t cap = (size_t)plen + 64;
        char *text = malloc(cap);
        int n;
        if (chat) { /* the 2B-4T chat format (spec "Decisions" 3), BOS written out */
            int tl = snprintf(text, cap, "<|begin_of_text|>User: %s<|eot_id|>Assistant: ", prompt);
            n = tokenize(t, text, (size_t)tl, BN_TOK_PARSE_SPECIAL, &got);
        } else {
            n = tokenize(t, prompt, (size_t)plen, BN_TOK_ADD_BOS | BN_TOK_PARSE_SPECIAL, &got);
        }
        CHECK_MSG(same_ids(got, n, want, n_want), "prompt \"%s\" (chat %d)", prompt, chat);
        free(text);
        free(prompt);
        free(want);
        free(got);
    }
    CHECK(records > 0);
    free(all);
    bn_tokenizer_free(t);
}

/* ------------------------------------------------------- hostile input */

TEST(tokenizer_edge_cases)
{
    bn_tokenizer *t = load_or_fail(TINY_MODEL);
    if (!t) return;
    int32_t *ids = NULL;
    char err[BN_ERR_LEN];
    CHECK_EQ_INT(tokenize(t, "", 0, 0, &ids), 0);
    free(ids);
    CHECK_EQ_INT(tokenize(t, NULL, 0, BN_TOK_ADD_BOS, &ids), 1);
    if (ids) CHECK_EQ_INT(ids[0], TINY_BOS);
    free(ids);
    CHECK_EQ_INT(bn_tokenize(t, NULL, 5, 0, &ids, err), -1);
    CHECK_EQ_INT(bn_tokenize(t, "x", 1, 0, NULL, err), -1);

    static const char spaces[] = "                ";
    int n = tokenize(t, spaces, sizeof spaces - 1, 0, &ids);
    CHECK(n > 0 && round_trips(t, ids, n, 0, spaces, sizeof spaces - 1));
    free(ids);

    static const char nul[] = "a\0b\0\0c";
    n = tokenize(t, nul, sizeof nul - 1, 0, &ids);
    size_t dlen = 0;
    char *dec = n >= 0 ? detokenize(t, ids, n, 0, &dlen) : NULL;
    CHECK(dec && dlen == sizeof nul - 1 && !memcmp(dec, nul, dlen));
    free(dec);
    free(ids);

    /* invalid UTF-8: each bad byte becomes U+FFFD */
    static const char bad[] = "a\xff\xc3(\xed\xa0\x80z\xe2\x82";
    static const char fixed[] = "a\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz"
                                "\xEF\xBF\xBD\xEF\xBF\xBD";
    n = tokenize(t, bad, sizeof bad - 1, 0, &ids);
    dec = n >= 0 ? detokenize(t, ids, n, 0, &dlen) : NULL;
    CHECK_MSG(dec && dlen == sizeof fixed - 1 && !memcmp(dec, fixed, dlen), "got \"%s\"",
              dec ? dec : "(null)");
    free(dec);
    free(ids);
    bn_tokenizer_free(t);
}

/* A 1 MB line (one word of letters) and 1 MB of random bytes. */
TEST(tokenizer_big_inputs)
{
    bn_tokenizer *t = load_or_fail(TINY_MODEL);
    char *text = malloc(BIG_TEXT);
    if (!t || !text) {
        free(text);
        bn_tokenizer_free(t);
        return;
    }
    uint32_t state = 12345;
    for (size_t i = 0; i < BIG_TEXT; i++) {
        state = state * 1103515245u + 12345u;
        text[i] = (char)('a' + (state >> 16) % 26);
    }
    int32_t *ids = NULL;
    int n = tokenize(t, text, BIG_TEXT, 0, &ids);
    CHECK(n > 0 && round_trips(t, ids, n, 0, text, BIG_TEXT));
    free(ids);
    for (size_t i = 0; i < BIG_TEXT; i++) {
        state = state * 1103515245u + 12345u;
        text[i] = (char)(state >> 16);
    }
    n = tokenize(t, text, BIG_TEXT, BN_TOK_PARSE_SPECIAL | BN_TOK_ADD_BOS, &ids);
    CHECK(n > 0);
    free(ids);
    free(text);
    bn_tokenizer_free(t);
}
