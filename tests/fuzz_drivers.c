/*
 * fuzz_drivers.c - the bodies of the fuzz targets (fuzz_drivers.h), shared
 * by tests/fuzz/fuzz_*.c and the regression tests of test_hostile.c.
 */
#include "fuzz_drivers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitnet.h"
#include "common/grammar.h"
#include "server/http.h"
#include "gguf/gguf.h"
#include "test.h"
#include "tokenizer/load.h"
#include "tokenizer/impl.h"
#include "tokenizer/unicode.h"

#define ERR_LEN BN_ERR_LEN
#define FUZZ_MODEL "models/bitnet-tiny.gguf"
#define FUZZ_CTX 8  /* context of the session a fuzzed model runs */
#define SMALL_CAP 3 /* buffer size that forces truncated pieces */
#define MAX_VOCABS 8
#define N_TOK_FLAGS 4 /* every combination of BN_TOK_ADD_BOS and BN_TOK_PARSE_SPECIAL */

/* Text run through the tokenizer of every fuzzed file: words, a special
 * token, digits, invalid UTF-8, whitespace runs and a SentencePiece mark. */
static const char SAMPLE_TEXT[] =
    "Hello w\xC3\xB6rld <|eot_id|> 12345 \xFF\xFE  \n\t<s>\xE2\x96\x81x";

/* A rejection is fine when it says why on one line. */
static const char *check_message(const char *err, const char *what)
{
    if (!err[0]) return what;
    if (strpbrk(err, "\n\r\033")) return "an error message holds control characters";
    return NULL;
}

/* volatile: the reads must happen, so ASan checks them. */
static volatile uint8_t sink_byte;

static void touch(const void *p, uint64_t n)
{
    const uint8_t *b = p;
    if (n) sink_byte ^= b[0] ^ b[n - 1];
}

/* ------------------------------------------------------------ GGUF */

static void touch_array(const gguf_kv *kv)
{
    if (kv->v.arr.elem_type != GGUF_TYPE_STRING || !kv->v.arr.count) return;
    gguf_str *s = malloc(kv->v.arr.count * sizeof *s);
    if (!s) return;
    gguf_arr_strings(kv, s);
    for (uint64_t i = 0; i < kv->v.arr.count; i++) touch(s[i].ptr, s[i].len);
    free(s);
}

/* Every getter on every key (those with a NUL inside cannot be named). */
static void touch_metadata(const gguf_file *f)
{
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        char *key = strndup(kv->key.ptr, (size_t)kv->key.len);
        if (!key) return;
        uint32_t u;
        int32_t i32;
        float x;
        int b;
        gguf_str s;
        const gguf_kv *arr;
        gguf_get_u32(f, key, &u);
        gguf_get_i32(f, key, &i32);
        gguf_get_f32(f, key, &x);
        gguf_get_bool(f, key, &b);
        if (gguf_get_str(f, key, &s) == 1) touch(s.ptr, s.len);
        if (kv->type == GGUF_TYPE_ARRAY && gguf_get_arr(f, key, kv->v.arr.elem_type, &arr) == 1)
            touch_array(arr);
        free(key);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        touch(t->data, t->n_bytes);
        gguf_type_name(t->type);
    }
}

/* Tokenizes and decodes the sample text with a tokenizer built from f. */
static const char *run_file_tokenizer(const gguf_file *f)
{
    char err[ERR_LEN] = "";
    bn_tokenizer *tok = bn_tokenizer_from_gguf(f, err, sizeof err);
    if (!tok) return check_message(err, "the tokenizer failed without a message");
    const char *bad = NULL;
    for (int flags = 0; flags < N_TOK_FLAGS && !bad; flags++) {
        int32_t *ids = NULL;
        int n = bn_tokenize(tok, SAMPLE_TEXT, sizeof SAMPLE_TEXT - 1, flags, &ids, err);
        if (n < 0) bad = "tokenizing the sample text failed";
        for (int i = 0; i < n && !bad; i++)
            if (ids[i] < 0 || ids[i] >= bn_tokenizer_n_vocab(tok))
                bad = "a token id is out of range";
        char out[4 * sizeof SAMPLE_TEXT];
        if (!bad && bn_detokenize(tok, ids, n, 1, out, sizeof out) < 0) bad = "decoding failed";
        free(ids);
    }
    bn_tokenizer_free(tok);
    return bad;
}

#ifdef _WIN32
/* Windows has no memfd: a file in the current folder holds the input,
 * removed by close_input once the model that maps it is freed. */
static int write_input(const uint8_t *data, size_t size, char *path, size_t cap)
{
    snprintf(path, cap, "bn-fuzz-%d.gguf", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    const int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void close_input(int fd, const char *path)
{
    (void)fd;
    remove(path);
}
#else
#include <sys/mman.h> /* memfd_create */

/* A memfd holding the input, so bn_model_load can open it by path. */
static int write_input(const uint8_t *data, size_t size, char *path, size_t cap)
{
    int fd = memfd_create("bn-fuzz", 0);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

static void close_input(int fd, const char *path)
{
    (void)path;
    close(fd);
}
#endif

static void ignore_line(const char *line, void *ctx)
{
    (void)ctx;
    touch(line, strlen(line));
}

/* A model that loaded must also run. */
static const char *run_model(bn_model *m)
{
    char err[ERR_LEN] = "";
    int n_ctx = bn_model_n_ctx_train(m) < FUZZ_CTX ? bn_model_n_ctx_train(m) : FUZZ_CTX;
    bn_session *s = bn_session_new(m, &(bn_session_params){.n_ctx = n_ctx}, err);
    if (!s) return check_message(err, "bn_session_new failed without a message");
    const int32_t ids[2] = {0, (int32_t)(bn_model_n_vocab(m) - 1)};
    const float *logits = NULL;
    int n = n_ctx < 2 ? n_ctx : 2;
    const char *bad = NULL;
    if (bn_session_eval(s, ids, n, &logits, err)) bad = "evaluating two valid tokens failed";
    bn_session_free(s);
    bn_model_describe(m, ignore_line, NULL);
    char buf[16];
    bn_model_meta_str(m, "general.name", buf, sizeof buf);
    return bad;
}

static const char *load_model(const uint8_t *data, size_t size)
{
    char path[64], err[ERR_LEN] = "";
    int fd = write_input(data, size, path, sizeof path);
    if (fd < 0) return NULL; /* the machine's problem, not the engine's */
    bn_model_params p = bn_model_default_params();
    bn_model *m = bn_model_load(path, &p, err);
    const char *bad = m ? run_model(m)
                        : check_message(err, "bn_model_load failed without a message");
    bn_model_free(m);
    close_input(fd, path);
    return bad;
}

const char *fuzz_gguf_input(const uint8_t *data, size_t size)
{
    char err[ERR_LEN] = "";
    gguf_file *f = gguf_open_memory(data, size, err, sizeof err);
    if (!f) return check_message(err, "gguf_open_memory failed without a message");
    touch_metadata(f);
    const char *bad = run_file_tokenizer(f);
    gguf_close(f);
    return bad ? bad : load_model(data, size);
}

/* ------------------------------------------------------- tokenizer */

static bn_tokenizer *vocabs[MAX_VOCABS];
static int n_vocabs;

static void add_vocab(const char *path, const char *pre)
{
    char err[ERR_LEN];
    bn_tokenizer *t = path ? bn_tokenizer_load(path, err) : NULL;
    if (!t) return;
    if (pre && bn_tokenizer_set_pre(t, pre)) {
        bn_tokenizer_free(t);
        return;
    }
    vocabs[n_vocabs++] = t;
}

int fuzz_tokenizer_init(void)
{
    if (n_vocabs) return n_vocabs;
    add_vocab(FUZZ_MODEL, NULL);
    if (!n_vocabs) return 0; /* the bundled model is required */
    add_vocab(FUZZ_MODEL, "gpt2");
    add_vocab(FUZZ_MODEL, "default");
    add_vocab(test_shared_path("tokenizer/llama2-vocab.gguf"), NULL);
    add_vocab(test_shared_path("tokenizer/llama3-vocab.gguf"), NULL);
    return n_vocabs;
}

void fuzz_tokenizer_done(void)
{
    for (int i = 0; i < n_vocabs; i++) bn_tokenizer_free(vocabs[i]);
    n_vocabs = 0;
}

static int valid_utf8(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = bn_utf8_decode(s + i, len - i, &cp);
        if (!n) return 0;
        i += n;
    }
    return 1;
}

/* Texts that must decode back to themselves: valid UTF-8 (invalid bytes
 * become U+FFFD in byte-level BPE); for SentencePiece also no special
 * parsing (each special token adds a dummy space after it) and no "▁"
 * in the text (it decodes as a space). */
static int expect_round_trip(const bn_tokenizer *t, const uint8_t *text, size_t len, int flags)
{
    if (!valid_utf8(text, len)) return 0;
    if (!strcmp(bn_tokenizer_model_name(t), "gpt2")) return 1;
    return !(flags & BN_TOK_PARSE_SPECIAL) && !memmem(text, len, BN_SPACE_MARK, BN_SPACE_MARK_LEN);
}

/* Decodes ids into an exact-size buffer, then piece by piece into small
 * ones: a truncated piece must still report its full size. */
static const char *check_decode(const bn_tokenizer *t, const int32_t *ids, int n, int special,
                                const uint8_t *text, size_t len, int round_trip)
{
    int total = bn_detokenize(t, ids, n, special, NULL, 0);
    if (total < 0) return "bn_detokenize rejected ids from bn_tokenize";
    char *buf = malloc((size_t)total + 1);
    if (!buf) return NULL;
    const char *bad = NULL;
    if (bn_detokenize(t, ids, n, special, buf, (size_t)total) != total)
        bad = "bn_detokenize gave two different sizes";
    else if (round_trip && ((size_t)total != len || memcmp(buf, text, len)))
        bad = "the text does not decode back to itself";
    free(buf);
    for (int i = 0; i < n && !bad; i++) {
        char *small = malloc(SMALL_CAP);
        int full = bn_token_to_piece(t, ids[i], special, NULL, 0);
        if (small && bn_token_to_piece(t, ids[i], special, small, SMALL_CAP) != full)
            bad = "bn_token_to_piece gave two different sizes";
        free(small);
    }
    return bad;
}

const char *fuzz_tokenizer_input(const uint8_t *data, size_t size)
{
    if (!size || !fuzz_tokenizer_init()) return NULL;
    const bn_tokenizer *t = vocabs[(data[0] / N_TOK_FLAGS) % n_vocabs];
    int flags = data[0] % N_TOK_FLAGS; /* BN_TOK_ADD_BOS = 1, BN_TOK_PARSE_SPECIAL = 2 */
    const uint8_t *text = data + 1;
    size_t len = size - 1;
    char err[ERR_LEN] = "";
    int32_t *ids = NULL;
    int n = bn_tokenize(t, (const char *)text, len, flags, &ids, err);
    if (n < 0) return "bn_tokenize failed on a short text";
    const char *bad = NULL;
    for (int i = 0; i < n && !bad; i++)
        if (ids[i] < 0 || ids[i] >= bn_tokenizer_n_vocab(t)) bad = "a token id is out of range";
    /* the BOS token is not part of the text */
    int skip = (flags & BN_TOK_ADD_BOS) && t->add_bos && t->bos >= 0;
    if (!bad && skip && (n < 1 || ids[0] != t->bos)) bad = "BOS was asked for but not added";
    if (!bad)
        bad = check_decode(t, ids + skip, n - skip, (flags & BN_TOK_PARSE_SPECIAL) != 0, text, len,
                           expect_round_trip(t, text, len, flags));
    size_t complete = bn_utf8_complete_prefix((const char *)text, len);
    if (!bad && (complete > len || len - complete >= BN_UTF8_MAX))
        bad = "bn_utf8_complete_prefix cut more than one sequence";
    int32_t id = bn_token_lookup(t, (const char *)text, len);
    if (!bad && id >= 0 && memcmp(bn_token_text(t, id), text, len))
        bad = "lookup found another text";
    free(ids);
    return bad;
}

/* ------------------------------------------------------------- HTTP */

#define FUZZ_SMALL_BODY 16
#define FUZZ_LARGE_BODY (1 << 20)
#define HTTP_FIRST_ERROR 400
#define HTTP_LAST_ERROR 599

static const char *check_http(const char *buf, size_t len, size_t max_body)
{
    http_request r;
    const char *why;
    const int rc = http_parse_request(buf, len, max_body, &r, &why);
    if (rc == HTTP_NEED_MORE) return NULL;
    if (rc > 0) {
        if (rc < HTTP_FIRST_ERROR || rc > HTTP_LAST_ERROR) return "a rejection outside 4xx/5xx";
        return why && *why ? NULL : "a rejection without a reason";
    }
    if (rc != 0) return "an unknown return value";
    if (r.head_len + r.content_length > len) return "a complete request beyond its bytes";
    if (r.content_length > max_body) return "a body above the limit accepted";
    if (r.body != buf + r.head_len) return "the body does not follow the head";
    if (r.path < buf || r.path + r.path_len > buf + r.head_len || r.path[0] != '/')
        return "a path outside the head";
    if (!r.method[0]) return "an empty method";
    /* the same request cut one byte short is incomplete (or rejected) */
    const size_t whole = r.head_len + r.content_length;
    const int cut = http_parse_request(buf, whole - 1, max_body, &r, &why);
    return cut == 0 ? "a request complete without its last byte" : NULL;
}

const char *fuzz_http_input(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    const char *bad = check_http(buf, size, FUZZ_SMALL_BODY);
    return bad ? bad : check_http(buf, size, FUZZ_LARGE_BODY);
}

/* ------------------------------------------------------------ grammars */

/* Feeds text to a fresh matcher one valid UTF-8 character at a time
 * (invalid bytes are skipped), checking that a refused character leaves
 * the state as it was. */
static const char *run_grammar(const grammar *g, const char *text, size_t n)
{
    grammar_state *st = grammar_start(g);
    if (!st) return "grammar_start failed";
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = bn_utf8_decode((const unsigned char *)text + i, n - i, &cp);
        if (!k) {
            i++;
            continue;
        }
        const int allowed = grammar_allows(st, text + i, k);
        if ((grammar_accept(st, text + i, k) == 0) != allowed) {
            grammar_state_free(st);
            return "grammar_allows and grammar_accept disagree";
        }
        i += k;
    }
    grammar_can_end(st);
    grammar_state_free(st);
    return NULL;
}

char *(*fuzz_schema_to_grammar)(const char *schema, size_t len, char *err);

const char *fuzz_grammar_input(const uint8_t *data, size_t size)
{
    if (size == 0 || ((data[0] & 1) && !fuzz_schema_to_grammar)) return NULL;
    const char *text = (const char *)data + 1;
    const size_t n = size - 1;
    char err[BN_ERR_LEN] = "";
    char *generated = NULL;
    if (data[0] & 1) {
        generated = fuzz_schema_to_grammar(text, n, err);
        if (!generated) return err[0] ? NULL : "a refused schema without a reason";
    }
    grammar *g = generated ? grammar_parse(generated, strlen(generated), err)
                           : grammar_parse(text, n, err);
    const char *bad = NULL;
    if (!g && generated)
        bad = "a schema's grammar does not parse";
    else if (!g && !err[0])
        bad = "a refused grammar without a reason";
    static const char *const probes[] = {"{}", "{\"a\": [1, \"x\", null]}", "yes", "[1,2]"};
    for (size_t i = 0; g && !bad && i < sizeof probes / sizeof probes[0]; i++)
        bad = run_grammar(g, probes[i], strlen(probes[i]));
    if (g && !bad) bad = run_grammar(g, text, n);
    grammar_free(g);
    free(generated);
    return bad;
}
