/*
 * test_tokenizer_families.c - the tokenizer settings of the ternary Llama
 * families: the falcon3 / falcon_e / llama-bpe pre-tokenizer names and
 * the LLaMA-3 split they stand for, BOS as
 * add_bos_token says, and special tokens whose text a converter prefixed
 * with the BOS text (docs/TOKENIZERS.md).
 */
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "gguf_edit.h"
#include "test.h"
#include "tokenizer/load.h"
#include "tokenizer/pretokenize.h"

#define TINY_MODEL "models/bitnet-tiny.gguf"
#define TINY_BOS 1016
#define TINY_EOT 1023
#define BOS_TEXT "<|begin_of_text|>"

/* The Falcon names select the LLaMA-3 split (mainline llama.cpp's mapping),
 * as do llama-bpe and llama3 (the split itself: test_tokenizer.c). */
TEST(tokenizer_falcon_names_use_the_llama3_split)
{
    static const char *names[] = {"falcon3", "falcon_e", "llama-bpe", "llama3"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        bn_pre_type pre = BN_PRE_GPT2;
        CHECK_MSG(bn_pre_from_name(names[i], strlen(names[i]), &pre) == 0 && pre == BN_PRE_LLAMA3,
                  "%s", names[i]);
    }
}

/* bitnet-tiny's vocabulary with one edit, as a tokenizer (NULL on error). */
static bn_tokenizer *edited_tokenizer(void (*edit)(ge_file *, const void *), const void *arg)
{
    ge_file e;
    if (ge_load(&e, TINY_MODEL)) {
        CHECK_MSG(0, "cannot open " TINY_MODEL);
        return NULL;
    }
    edit(&e, arg);
    gb_buf b = {0};
    ge_write(&e, &b, NULL);
    char err[BN_ERR_LEN] = "";
    gguf_file *f = gguf_open_memory(b.data, b.len, err, sizeof err);
    bn_tokenizer *t = f ? bn_tokenizer_from_gguf(f, err, sizeof err) : NULL;
    CHECK_MSG(t != NULL, "%s", err);
    gguf_close(f);
    gb_free(&b);
    ge_free(&e);
    return t;
}

static void set_pre(ge_file *e, const void *name) { ge_set_str(e, "tokenizer.ggml.pre", name); }

static void set_pre_no_bos(ge_file *e, const void *name)
{
    set_pre(e, name);
    const uint8_t no = 0;
    ge_set_raw(e, "tokenizer.ggml.add_bos_token", GGUF_TYPE_BOOL, &no, 1);
}

static int tokenize_ids(const bn_tokenizer *t, const char *text, int flags, int32_t **ids)
{
    char err[BN_ERR_LEN];
    int n = bn_tokenize(t, text, strlen(text), flags, ids, err);
    CHECK_MSG(n >= 0, "%s", err);
    return n;
}

/* Same ids under every name of the split; BOS added unless the file's
 * add_bos_token says false. */
TEST(tokenizer_falcon_names_tokenize_and_bos)
{
    static const char *text = "Falcon3: 1234567 tokens, <|eot_id|> caf\xC3\xA9!";
    const int flags = BN_TOK_ADD_BOS | BN_TOK_PARSE_SPECIAL;
    bn_tokenizer *ref = edited_tokenizer(set_pre, "llama-bpe");
    if (!ref) return;
    int32_t *want = NULL;
    const int n_want = tokenize_ids(ref, text, flags, &want);
    CHECK(n_want > 3 && want[0] == TINY_BOS);
    static const char *names[] = {"falcon3", "falcon_e"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        bn_tokenizer *t = edited_tokenizer(set_pre, names[i]);
        int32_t *ids = NULL;
        const int n = t ? tokenize_ids(t, text, flags, &ids) : -1;
        CHECK_MSG(n == n_want && ids && want && !memcmp(ids, want, (size_t)n * sizeof *ids), "%s",
                  names[i]);
        free(ids);
        bn_tokenizer_free(t);
        t = edited_tokenizer(set_pre_no_bos, names[i]);
        ids = NULL;
        const int n_no_bos = t ? tokenize_ids(t, text, flags, &ids) : -1;
        CHECK_MSG(n_no_bos == n_want - 1 && ids && want &&
                      !memcmp(ids, want + 1, (size_t)n_no_bos * sizeof *ids),
                  "%s without BOS", names[i]);
        free(ids);
        bn_tokenizer_free(t);
    }
    free(want);
    bn_tokenizer_free(ref);
}

/* Every "<|...|>" token text with `prefix` in front, as the buggy
 * converters wrote them (the BOS text doubled included). */
static void prefix_specials(ge_file *e, const void *prefix)
{
    size_t n;
    char **s = ge_get_str_array(e, "tokenizer.ggml.tokens", &n);
    char **texts = malloc(n * sizeof *texts);
    for (size_t i = 0; i < n; i++) {
        const size_t len = strlen(s[i]);
        const int special = len > 4 && !strncmp(s[i], "<|", 2) && !strcmp(s[i] + len - 2, "|>");
        const size_t cap = strlen(prefix) + len + 1;
        texts[i] = malloc(cap);
        snprintf(texts[i], cap, "%s%s", special ? (const char *)prefix : "", s[i]);
    }
    ge_set_str_array(e, "tokenizer.ggml.tokens", (const char *const *)texts, NULL, n);
    ge_free_strings(texts, n);
    ge_free_strings(s, n);
}

TEST(tokenizer_bos_prefixed_special_texts_are_found)
{
    bn_tokenizer *t = edited_tokenizer(prefix_specials, BOS_TEXT);
    if (!t) return;
    CHECK_EQ_INT(bn_token_lookup(t, "<|eot_id|>", strlen("<|eot_id|>")), TINY_EOT);
    CHECK_EQ_INT(bn_token_lookup(t, BOS_TEXT, strlen(BOS_TEXT)), TINY_BOS);
    CHECK_EQ_INT(bn_token_eot(t), TINY_EOT);
    CHECK(bn_token_is_eog(t, TINY_EOT));
    int32_t *ids = NULL;
    const int n = tokenize_ids(t, "Hi<|eot_id|>", BN_TOK_ADD_BOS | BN_TOK_PARSE_SPECIAL, &ids);
    CHECK(n >= 3 && ids[0] == TINY_BOS && ids[n - 1] == TINY_EOT);
    free(ids);
    char piece[64];
    const int len = bn_token_to_piece(t, TINY_EOT, 1, piece, sizeof piece);
    CHECK(len == (int)strlen("<|eot_id|>") && !memcmp(piece, "<|eot_id|>", (size_t)len));
    bn_tokenizer_free(t);
    /* a prefix that is not the BOS text doubled is left alone */
    t = edited_tokenizer(prefix_specials, "<|x|>");
    if (!t) return;
    CHECK_EQ_INT(bn_token_lookup(t, "<|eot_id|>", strlen("<|eot_id|>")), -1);
    bn_tokenizer_free(t);
}
