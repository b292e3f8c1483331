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
#include "gguf/gguf.h"
#include "gguf_build.h"
#include "json_mini.h"
#include "tokenizer/pretokenize.h"
#include "test.h"
#include "tokenizer/load.h"
#include "tokenizer/unicode.h"

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
    /* id 128008 is <|eom_id|> in LLaMA-3.1 vocabularies, reserved in 3.0 ones */
    CHECK_EQ_INT(bn_token_is_eog(t, 128008), !strcmp(bn_token_text(t, 128008), "<|eom_id|>"));
    CHECK(!bn_token_is_eog(t, 128000) && !bn_token_is_eog(t, 13));
    /* the default split cuts "don't" at the apostrophe (docs/TOKENIZERS.md,
     * Pre-tokenizers) */
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
        "The capital of France is Paris.",
        "  leading and trailing  ",
        "line\n\nbreaks\r\n",
        "tabs\tand \u00e9t\u00e9 \u4f60\u597d \U0001F600",
        "don't STOP 12345 +-*/",
        "",
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
        if (chat) { /* the 2B-4T chat format (docs/CHAT.md, bitnet), BOS written out */
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

/* --------------------------------------------- synthetic vocabularies */

#define SPM_N_BYTES 256
#define SPM_FIRST_PIECE (3 + SPM_N_BYTES) /* after <unk>, <s>, </s>, <0x00>.. */

static const struct {
    const char *text;
    float score;
} SPM_PIECES[] = {
    {"\xE2\x96\x81", -1.0f},
    {"h", -5.0f},
    {"e", -5.0f},
    {"l", -5.0f},
    {"o", -5.0f},
    {"\xE2\x96\x81h", -2.0f},
    {"he", -3.0f},
    {"ll", -1.5f},
    {"\xE2\x96\x81he", -1.8f},
    {"llo", -1.2f},
    {"lo", -2.5f},
    {"\xE2\x96\x81hello", -0.5f},
    {"o\xE2\x96\x81", -0.1f}, /* joins words: only in the "cross" vocabulary */
};
#define SPM_N_PIECES (sizeof SPM_PIECES / sizeof SPM_PIECES[0])
#define SPM_CROSS_PIECE (SPM_N_PIECES - 1)
#define SPM_N_VOCAB (SPM_FIRST_PIECE + SPM_N_PIECES)

static int32_t spm_piece(const char *text)
{
    for (size_t i = 0; i < SPM_N_PIECES; i++)
        if (!strcmp(SPM_PIECES[i].text, text)) return (int32_t)(SPM_FIRST_PIECE + i);
    return -1;
}

/* A small LLaMA-2-like SentencePiece vocabulary; with `cross`, a piece
 * that spans two words ("o▁") is a normal piece, else an unused one. */
static void build_spm(gb_buf *b, int cross)
{
    static char byte_names[SPM_N_BYTES][8];
    const char *tokens[SPM_N_VOCAB];
    float scores[SPM_N_VOCAB] = {0};
    int32_t types[SPM_N_VOCAB];
    tokens[0] = "<unk>", types[0] = 2;
    tokens[1] = "<s>", types[1] = 3;
    tokens[2] = "</s>", types[2] = 3;
    for (int i = 0; i < SPM_N_BYTES; i++) {
        snprintf(byte_names[i], sizeof byte_names[i], "<0x%02X>", i);
        tokens[3 + i] = byte_names[i];
        types[3 + i] = 6;
    }
    for (size_t i = 0; i < SPM_N_PIECES; i++) {
        tokens[SPM_FIRST_PIECE + i] = SPM_PIECES[i].text;
        scores[SPM_FIRST_PIECE + i] = SPM_PIECES[i].score;
        types[SPM_FIRST_PIECE + i] = i == SPM_CROSS_PIECE && !cross ? 5 : 1;
    }
    gb_header(b, 0, 7);
    gb_kv_str(b, "tokenizer.ggml.model", "llama");
    gb_kv_arr_str(b, "tokenizer.ggml.tokens", tokens, SPM_N_VOCAB);
    gb_kv_array(b, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, SPM_N_VOCAB, sizeof *scores);
    gb_kv_array(b, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, SPM_N_VOCAB, sizeof *types);
    gb_kv_u32(b, "tokenizer.ggml.bos_token_id", 1);
    gb_kv_u32(b, "tokenizer.ggml.eos_token_id", 2);
    gb_kv_u32(b, "tokenizer.ggml.unknown_token_id", 0);
}

/* Builds a tokenizer from a GGUF in memory; NULL with err set on failure. */
static bn_tokenizer *from_memory(const gb_buf *b, char *err, size_t errlen)
{
    gguf_file *f = gguf_open_memory(b->data, b->len, err, errlen);
    if (!f) return NULL;
    bn_tokenizer *t = bn_tokenizer_from_gguf(f, err, errlen);
    gguf_close(f);
    return t;
}

static int spm_tokenizes(const bn_tokenizer *t, const char *text, int flags, const int32_t *want,
                         int n_want)
{
    int32_t *ids = NULL;
    int n = tokenize(t, text, strlen(text), flags, &ids);
    int ok = same_ids(ids, n, want, n_want);
    if (!ok) print_ids(text, ids, n);
    free(ids);
    return ok;
}

/* The synthetic SentencePiece vocabulary (cross: with a piece spanning
 * words), loaded; NULL after recording the failure. */
static bn_tokenizer *load_spm(int cross)
{
    gb_buf b = {0};
    char err[BN_ERR_LEN] = "";
    build_spm(&b, cross);
    bn_tokenizer *t = from_memory(&b, err, sizeof err);
    gb_free(&b);
    CHECK_MSG(t != NULL, "%s", err);
    return t;
}

TEST(tokenizer_spm_synthetic)
{
    bn_tokenizer *t = load_spm(0);
    if (!t) return;
    CHECK(!strcmp(bn_tokenizer_model_name(t), "llama"));
    CHECK(!strcmp(bn_tokenizer_pre_name(t), "none"));
    CHECK_EQ_INT(bn_tokenizer_set_pre(t, "llama3"), -1);
    CHECK(bn_token_is_eog(t, 2));
    const int32_t sp = spm_piece("\xE2\x96\x81"), ll = spm_piece("ll"), l = spm_piece("l");
    /* highest score first: ll, llo, ▁h, ▁he, ▁hello */
    const int32_t hello[] = {1, spm_piece("\xE2\x96\x81hello")};
    CHECK(spm_tokenizes(t, "hello", BN_TOK_ADD_BOS, hello, 2));
    /* equal scores: the leftmost pair merges first */
    const int32_t lll[] = {sp, ll, l};
    CHECK(spm_tokenizes(t, "lll", 0, lll, 3));
    /* byte fallback for what is not a piece, also for invalid UTF-8 */
    const int32_t hez[] = {spm_piece("\xE2\x96\x81he"), 3 + 'z'};
    CHECK(spm_tokenizes(t, "hez", 0, hez, 2));
    const int32_t badbyte[] = {sp, 3 + 0xFF};
    CHECK(spm_tokenizes(t, "\xff", 0, badbyte, 2));
    /* a special token, then the dummy space again before the text */
    const int32_t special[] = {2, spm_piece("\xE2\x96\x81hello")};
    CHECK(spm_tokenizes(t, "</s>hello", BN_TOK_PARSE_SPECIAL, special, 2));

    static const char *const texts[] = {"hello", "hez lll", " hello  o", "\xff\xfe x", ""};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t *ids = NULL;
        size_t len = strlen(texts[i]), dlen;
        int n = tokenize(t, texts[i], len, 0, &ids);
        char *dec = n >= 0 ? detokenize(t, ids, n, 0, &dlen) : NULL;
        CHECK_MSG(dec && dlen == len && !memcmp(dec, texts[i], len), "round trip of \"%s\"",
                  texts[i]);
        free(dec);
        free(ids);
    }
    char buf[8];
    CHECK_EQ_INT(bn_token_to_piece(t, 3 + 'A', 0, buf, sizeof buf), 1);
    CHECK_EQ_INT(buf[0], 'A');
    CHECK_EQ_INT(bn_token_to_piece(t, 1, 0, buf, sizeof buf), 0);
    CHECK_EQ_INT(bn_token_to_piece(t, (int32_t)(SPM_FIRST_PIECE + SPM_CROSS_PIECE), 0, buf, 8), 0);
    /* the unused piece "o▁" never merges, so words stay apart */
    const int32_t two[] = {sp, spm_piece("\xE2\x96\x81hello"), spm_piece("\xE2\x96\x81hello")};
    CHECK(spm_tokenizes(t, " hello hello", 0, two, 3));
    bn_tokenizer_free(t);
}

/* With a piece that spans words, merging must not be cut at word starts. */
TEST(tokenizer_spm_cross_word_piece)
{
    bn_tokenizer *t = load_spm(1);
    if (!t) return;
    /* "▁▁hello▁hello": "o▁" (-0.1) beats every other pair */
    const int32_t want[] = {spm_piece("\xE2\x96\x81"), spm_piece("\xE2\x96\x81he"),
                            spm_piece("ll"),           spm_piece("o\xE2\x96\x81"),
                            spm_piece("he"),           spm_piece("llo")};
    CHECK(spm_tokenizes(t, " hello hello", 0, want, 6));
    bn_tokenizer_free(t);
}

/* A minimal byte-level BPE vocabulary with one extra key (or none). */
static void build_bpe(gb_buf *b, const char *model, int with_merges, const char *extra_key,
                      uint32_t extra_u32, const char *extra_str)
{
    static const char *const tokens[] = {"a", "b", "ab", "<|x|>"};
    static const char *const merges[] = {"a b"};
    uint64_t n_kv = 2 + (with_merges != 0) + (extra_key != NULL);
    gb_header(b, 0, n_kv);
    gb_kv_str(b, "tokenizer.ggml.model", model);
    gb_kv_arr_str(b, "tokenizer.ggml.tokens", tokens, 4);
    if (with_merges) gb_kv_arr_str(b, "tokenizer.ggml.merges", merges, 1);
    if (extra_key && extra_str)
        gb_kv_str(b, extra_key, extra_str);
    else if (extra_key)
        gb_kv_u32(b, extra_key, extra_u32);
}

static void expect_load_error(gb_buf *b, const char *needle)
{
    char err[BN_ERR_LEN] = "";
    bn_tokenizer *t = from_memory(b, err, sizeof err);
    CHECK_MSG(t == NULL && strstr(err, needle), "want an error with \"%s\", got \"%s\"", needle,
              err);
    bn_tokenizer_free(t);
    gb_free(b);
}

TEST(tokenizer_bad_files)
{
    gb_buf b = {0};
    char err[BN_ERR_LEN] = "";
    build_bpe(&b, "gpt2", 1, NULL, 0, NULL);
    bn_tokenizer *t = from_memory(&b, err, sizeof err);
    CHECK_MSG(t != NULL, "%s", err);
    gb_free(&b);
    if (t) { /* no pre key and no LLaMA-3 specials: the GPT-2 split, no BOS */
        CHECK(!strcmp(bn_tokenizer_pre_name(t), "gpt2"));
        const int32_t ab[] = {2, 0};
        int32_t *ids = NULL;
        int n = tokenize(t, "aba", 3, BN_TOK_ADD_BOS, &ids);
        CHECK(same_ids(ids, n, ab, 2));
        free(ids);
        bn_tokenizer_free(t);
    }
    gb_header(&b, 0, 1);
    gb_kv_str(&b, "general.architecture", "x");
    expect_load_error(&b, "tokenizer.ggml.model");
    build_bpe(&b, "bert", 1, NULL, 0, NULL);
    expect_load_error(&b, "unsupported tokenizer model 'bert'");
    build_bpe(&b, "gpt2", 0, NULL, 0, NULL);
    expect_load_error(&b, "tokenizer.ggml.merges");
    build_bpe(&b, "gpt2", 1, "tokenizer.ggml.bos_token_id", 4, NULL);
    expect_load_error(&b, "bos_token_id");
    build_bpe(&b, "gpt2", 1, "tokenizer.ggml.pre", 0, "deepseek-coder");
    expect_load_error(&b, "pre-tokenizer 'deepseek-coder'");
    build_bpe(&b, "gpt2", 1, "tokenizer.ggml.eos_token_id", 0, "text");
    expect_load_error(&b, "eos_token_id has the wrong type");
    char msg[BN_ERR_LEN] = "";
    CHECK(bn_tokenizer_load("/nonexistent/vocab.gguf", msg) == NULL);
    CHECK(strstr(msg, "/nonexistent/vocab.gguf") != NULL);
}

/* ------------------------------------------------ splits and UTF-8 */

static int collect_piece(size_t start, size_t end, void *ctx)
{
    size_t *bounds = ctx; /* bounds[0] = count, then the ends */
    (void)start;
    bounds[++bounds[0]] = end;
    return 0;
}

/* Splits text and joins the pre-tokens with '|'. */
static void check_split(bn_pre_type type, const char *text, const char *want)
{
    size_t n = 0, len = strlen(text), bounds[128] = {0};
    uint32_t cpts[64];
    uint8_t flags[64];
    size_t byte_at[65];
    for (size_t i = 0; i < len && n < 64; n++) {
        byte_at[n] = i;
        size_t cl = bn_utf8_decode((const unsigned char *)text + i, len - i, &cpts[n]);
        flags[n] = (uint8_t)bn_cpt_flags(cpts[n]);
        i += cl ? cl : 1;
    }
    byte_at[n] = len;
    bn_cpt_text ct = {cpts, flags, n};
    bn_pretokenize(type, &ct, collect_piece, bounds);
    char got[256];
    size_t g = 0, prev = 0;
    for (size_t k = 1; k <= bounds[0]; k++) {
        if (k > 1) got[g++] = '|';
        size_t from = byte_at[prev], to = byte_at[bounds[k]];
        memcpy(got + g, text + from, to - from);
        g += to - from;
        prev = bounds[k];
    }
    got[g] = 0;
    CHECK_MSG(!strcmp(got, want), "split %d of \"%s\": want \"%s\", got \"%s\"", (int)type, text,
              want, got);
}

TEST(tokenizer_pretokenize_splits)
{
    check_split(BN_PRE_LLAMA3, " (hello", " (|hello");
    check_split(BN_PRE_LLAMA3, "(hello", "(hello");
    check_split(BN_PRE_LLAMA3, "don't DON'T", "don|'t| DON|'T");
    check_split(BN_PRE_LLAMA3, "1234567", "123|456|7");
    check_split(BN_PRE_LLAMA3, "Hello  world", "Hello| | world");
    check_split(BN_PRE_LLAMA3, "\n\n  x", "\n\n| | x");
    check_split(BN_PRE_LLAMA3, "a!!\n\nb", "a|!!\n\n|b");
    check_split(BN_PRE_LLAMA3, "x  ", "x|  ");
    check_split(BN_PRE_LLAMA3,
                "a\xE3\x80\x80\xE3\x80\x80"
                "b",
                "a|\xE3\x80\x80|\xE3\x80\x80"
                "b");
    check_split(BN_PRE_GPT2, "don't DON'T", "don|'t| DON|'|T");
    check_split(BN_PRE_GPT2, "1234567 x", "1234567| x");
    check_split(BN_PRE_GPT2, " (hello", " (|hello");
    check_split(BN_PRE_DEFAULT, "don't", "don|'|t");
    check_split(BN_PRE_DEFAULT, " (hello", " |(|hello");
    check_split(BN_PRE_DEFAULT, "1234567", "123|456|7");
    check_split(BN_PRE_DEFAULT, "a+b=c", "a|+|b|=|c");
}

/* The LLaMA-3 split, which falcon3 and falcon_e select too, on hand-written
 * strings: digits in threes, a space before a letter run kept, one before
 * digits or a lone space standing alone, punctuation runs, non-ASCII
 * letters and digits. */
TEST(tokenizer_llama3_split_digits_punctuation_non_ascii)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"12345 apples, 3.14!", "123|45| apples|,| |3|.|14|!"},
        {"I'M here--really?!\n\nOk", "I|'M| here|--|really|?!\n\n|Ok"},
        {"a   b\tc", "a|  | b|\tc"},
        {"\xC3\x9cn\xC3\xAF"
         "c\xC3\xB6"
         "d\xC3\xA9 \xE6\x9D\xB1\xE4\xBA\xAC \xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4",
         "\xC3\x9cn\xC3\xAF"
         "c\xC3\xB6"
         "d\xC3\xA9| \xE6\x9D\xB1\xE4\xBA\xAC| |\xD9\xA1\xD9\xA2\xD9\xA3|\xD9\xA4"},
        {"$100+200=300", "$|100|+|200|=|300"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_split(BN_PRE_LLAMA3, cases[i].text, cases[i].want);
}

/* Qwen2's split (tokenizer.ggml.pre "qwen2"): LLaMA-3's, but digits one
 * at a time, as llama.cpp's \p{N} alternative gives them. */
TEST(tokenizer_qwen2_split_single_digits)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"12+30=", "1|2|+|3|0|="},
        {"12345 apples, 3.14!", "1|2|3|4|5| apples|,| |3|.|1|4|!"},
        {"I'M here--really?!\n\nOk", "I|'M| here|--|really|?!\n\n|Ok"},
        {"x = 1; y = 22;", "x| =| |1|;| y| =| |2|2|;"},
        {"\xD9\xA1\xD9\xA2 a", "\xD9\xA1|\xD9\xA2| a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_split(BN_PRE_QWEN2, cases[i].text, cases[i].want);
}

TEST(tokenizer_unicode)
{
    uint32_t cp = 0;
    CHECK_EQ_INT(bn_utf8_decode((const unsigned char *)"\xF0\x9F\x98\x80", 4, &cp), 4);
    CHECK_EQ_INT(cp, 0x1F600);
    CHECK_EQ_INT(bn_utf8_decode((const unsigned char *)"\xC3\xA9", 2, &cp), 2);
    CHECK_EQ_INT(cp, 0xE9);
    static const char *const invalid[] = {
        "\xC0\x80", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE4\xBD", "\x80", "\xFF"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        CHECK_EQ_INT(bn_utf8_decode((const unsigned char *)invalid[i], strlen(invalid[i]), &cp), 0);
    char out[BN_UTF8_MAX];
    CHECK_EQ_INT(bn_utf8_encode(0x10FFFF, out), 4);
    CHECK_EQ_INT(bn_utf8_decode((const unsigned char *)out, 4, &cp), 4);
    CHECK_EQ_INT(cp, 0x10FFFF);

    CHECK_EQ_INT(bn_cpt_flags('a'), BN_CPT_LETTER);
    CHECK_EQ_INT(bn_cpt_flags(0x4E00), BN_CPT_LETTER);
    CHECK_EQ_INT(bn_cpt_flags('5'), BN_CPT_NUMBER);
    CHECK_EQ_INT(bn_cpt_flags(0x0660), BN_CPT_NUMBER); /* Arabic-Indic zero */
    CHECK_EQ_INT(bn_cpt_flags(0x00BD), BN_CPT_NUMBER); /* ½ */
    CHECK_EQ_INT(bn_cpt_flags('!'), BN_CPT_PUNCT);
    CHECK_EQ_INT(bn_cpt_flags('$'), 0); /* a symbol, not punctuation */
    static const uint32_t spaces[] = {' ',  '\t',   '\n',   0x0B,   0x0C,   '\r',   0x85,
                                      0xA0, 0x1680, 0x2003, 0x2028, 0x2029, 0x202F, 0x3000};
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++)
        CHECK_MSG(bn_cpt_flags(spaces[i]) == BN_CPT_SPACE, "U+%04X is \\s", spaces[i]);
    static const uint32_t not_spaces[] = {0x1C, 0x1F, 0x180E, 0x200B, 0xFEFF};
    for (size_t i = 0; i < sizeof not_spaces / sizeof not_spaces[0]; i++)
        CHECK_MSG(!(bn_cpt_flags(not_spaces[i]) & BN_CPT_SPACE), "U+%04X is not \\s",
                  not_spaces[i]);
    CHECK_EQ_INT(bn_cpt_flags(0x0378), 0); /* unassigned */
    CHECK_EQ_INT(bn_cpt_flags(0x10FFFF), 0);

    CHECK_EQ_INT(bn_utf8_complete_prefix("abc", 3), 3);
    CHECK_EQ_INT(bn_utf8_complete_prefix("a\xE4\xBD", 3), 1);
    CHECK_EQ_INT(bn_utf8_complete_prefix("a\xE4\xBD\xA0", 4), 4);
    CHECK_EQ_INT(bn_utf8_complete_prefix("\xF0\x9F\x98", 3), 0);
    CHECK_EQ_INT(bn_utf8_complete_prefix("a\x80", 2), 2);
    CHECK_EQ_INT(bn_utf8_complete_prefix("\xFF", 1), 1);
    CHECK_EQ_INT(bn_utf8_complete_prefix("", 0), 0);
}
