/*
 * test_lookup.c - prompt-lookup speculation (--lookup, --lookup-ngram) on
 * the tiny model: greedy output is exactly the output without it (every
 * reference prompt, copy-heavy prompts, limits, chat, batch), the counts
 * are reported, and sampling keeps its distribution (a two-sample
 * chi-square test over a fixed set of seeds).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_mini.h"
#include "test.h"

#define MODEL_ARGS "-m models/bitnet-tiny.gguf -t 1 "

/* A list the tiny model knows, twice and a start: the continuation copies. */
#define COPY_PROMPT                                                                                \
    "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday. January, February, March, "   \
    "April, May, June, July, August, September, October, November, December. Monday, Tuesday, "    \
    "Wednesday, Thursday, Friday, Saturday, Sunday. January, February, March, April, May, June, "  \
    "July, August, September, October, November, December. Monday, Tuesday,"

static char *write_tmp(const char *content)
{
    char *path = strdup("/tmp/bn-lookup-test-XXXXXX");
    int fd = mkstemp(path);
    size_t n = strlen(content);
    if (fd < 0 || write(fd, content, n) != (ssize_t)n) test_fail(__FILE__, __LINE__, "tmp file");
    if (fd >= 0) close(fd);
    return path;
}

static void remove_tmp(char *path)
{
    unlink(path);
    free(path);
}

/* bitnet-run on the tiny model; stdout in *out, exit status returned. */
static int run(const char *args, char **out, char **err)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s " MODEL_ARGS "%s", test_bitnet_run(), args);
    return test_run(cmd, out, err);
}

static int model_present(void) { return access("models/bitnet-tiny.gguf", R_OK) == 0; }

/* The output_ids of every line of out, joined with -1 after each line. */
static long all_output_ids(const char *out, int32_t **ids)
{
    long n = 0;
    *ids = NULL;
    for (const char *line = out; line && *line;) {
        const char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line);
        const char *v = json_find(line, end, "output_ids");
        int32_t *one = NULL;
        long k = v ? json_int_array(v, end, &one) : -1;
        *ids = realloc(*ids, (size_t)(n + (k > 0 ? k : 0) + 1) * sizeof **ids);
        for (long i = 0; i < k; i++) (*ids)[n++] = one[i];
        (*ids)[n++] = -1;
        free(one);
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

/* Runs args without and with each of the --lookup options and checks that
 * the output ids are the same; returns the stderr of the last run. */
static char *check_same_ids(const char *args, const char *const *lookups, int n_lookups)
{
    char *plain = NULL, *err = NULL;
    CHECK_EQ_INT(run(args, &plain, NULL), 0);
    int32_t *want, *got;
    long nw = all_output_ids(plain ? plain : "", &want);
    CHECK_MSG(nw > 1, "no output ids from %s", args);
    for (int i = 0; i < n_lookups; i++) {
        char with[1024], *out = NULL;
        snprintf(with, sizeof with, "%s %s -v", args, lookups[i]);
        free(err);
        err = NULL;
        CHECK_EQ_INT(run(with, &out, &err), 0);
        long ng = all_output_ids(out ? out : "", &got);
        CHECK_MSG(ng == nw && got && want && !memcmp(got, want, (size_t)nw * sizeof *got),
                  "%s differs from plain decoding with %s", lookups[i], args);
        free(got);
        free(out);
    }
    free(want);
    free(plain);
    return err;
}

static const char *const LOOKUPS[] = {"--lookup 1", "--lookup 4", "--lookup 8 --lookup-ngram 1",
                                      "--lookup 5 --lookup-ngram 3"};
#define N_LOOKUPS (int)(sizeof LOOKUPS / sizeof *LOOKUPS)

TEST(lookup_greedy_equals_plain_on_copy_heavy_prompts)
{
    if (!model_present()) SKIP("models/bitnet-tiny.gguf is absent");
    char *path = write_tmp(COPY_PROMPT);
    char args[512];
    /* long output; then -n and the context cutting drafts short */
    const char *limits[] = {"-n 160 --ignore-eos", "-n 7", "-n 40 -c 150 --ignore-eos"};
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "-f %s --temp 0 --json %s", path, limits[i]);
        char *err = check_same_ids(args, LOOKUPS, N_LOOKUPS);
        CHECK_MSG(err && strstr(err, "lookup:"), "-v does not report the lookup counts");
        free(err);
    }
    char *out = NULL;
    snprintf(args, sizeof args, "-f %s --temp 0 --json -n 100 --ignore-eos --lookup 4", path);
    CHECK_EQ_INT(run(args, &out, NULL), 0);
    const char *lk = out ? strstr(out, "\"lookup\": {") : NULL;
    CHECK_MSG(lk, "--json has no lookup object");
    if (lk) {
        long drafted = strtol(strstr(lk, "\"drafted\": ") + 11, NULL, 10);
        long accepted = strtol(strstr(lk, "\"accepted\": ") + 12, NULL, 10);
        CHECK_MSG(accepted > 50 && accepted <= drafted, "drafted %ld, accepted %ld", drafted,
                  accepted);
    }
    free(out);
    remove_tmp(path);
}

TEST(lookup_greedy_equals_plain_on_references_in_batch)
{
    if (!model_present()) SKIP("models/bitnet-tiny.gguf is absent");
    SHARED_OR_SKIP(ref, "reference/bitnet-tiny-greedy.jsonl");
    char *data = test_read_file(ref, NULL);
    if (!data) SKIP("cannot read the reference");
    char *batch = calloc(1, 65536);
    size_t at = 0;
    int n = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        const char *end = line + strlen(line), *p = json_find(line, end, "prompt");
        char *prompt = NULL;
        if (!p || json_string(p, end, &prompt) <= 0) { /* the empty prompt is a bad line */
            free(prompt);
            continue;
        }
        const char *q = p + 1; /* the prompt as written, escapes kept */
        while (*q && *q != '"') q += *q == '\\' ? 2 : 1;
        int chat = json_bool(json_find(line, end, "chat"), end) == 1;
        at += (size_t)snprintf(batch + at, 65536 - at, "{\"prompt\": \"%s%.*s%s\"}\n",
                               chat ? "User: " : "", (int)(q - p - 1), p + 1,
                               chat ? "<|eot_id|>Assistant: " : "");
        n++;
        free(prompt);
    }
    CHECK(n > 0);
    char *path = write_tmp(batch), args[512];
    /* -n 64 past the end of text: the reference continuations and what the
     * model makes of them, drafts and all */
    snprintf(args, sizeof args, "--batch %s --temp 0 -n 64 --ignore-eos --parallel 4", path);
    free(check_same_ids(args, LOOKUPS, N_LOOKUPS));
    remove_tmp(path);
    free(batch);
    free(data);
}

TEST(lookup_chat_equals_plain)
{
    if (!model_present()) SKIP("models/bitnet-tiny.gguf is absent");
    const char *turns = "Monday, Tuesday, Wednesday, Monday, Tuesday, Wednesday, Monday,\n"
                        "What is 2+2?\n"
                        "January, February, March, January, February, March, January,\n";
    char *path = write_tmp(turns), args[512], *plain = NULL, *with = NULL, *err = NULL;
    snprintf(args, sizeof args, "--chat --temp 0 -n 40 < %s", path);
    CHECK_EQ_INT(run(args, &plain, NULL), 0);
    snprintf(args, sizeof args, "--chat --temp 0 -n 40 --lookup 4 -v < %s", path);
    CHECK_EQ_INT(run(args, &with, &err), 0);
    CHECK_MSG(plain && with && !strcmp(plain, with), "chat differs:\n%s\nwith --lookup:\n%s", plain,
              with);
    CHECK_MSG(err && strstr(err, "lookup:"), "chat -v does not report the lookup counts");
    free(plain), free(with), free(err);
    remove_tmp(path);
}

TEST(lookup_rejects_bad_values)
{
    const char *bad[] = {"--lookup -1", "--lookup x", "--lookup-ngram 0", "--lookup-ngram 33"};
    for (int i = 0; i < 4; i++) {
        char args[256], *err = NULL;
        snprintf(args, sizeof args, "-p hi %s", bad[i]);
        CHECK_MSG(run(args, NULL, &err) == 1 && err && strstr(err, "error"), "%s accepted", bad[i]);
        free(err);
    }
}

/* ------------------------------------------------------ distribution */

#define SEEDS 400
#define SAMPLED_TOKENS 4 /* per seed; drafts can cover the last three */
#define POOL_BELOW 10    /* categories rarer than this (both runs) are pooled */
#define MAX_CATEGORIES 64
#define Z_ALPHA 3.719 /* one-sided normal quantile of alpha = 1e-4 */

typedef struct {
    int32_t id[MAX_CATEGORIES];
    int count[2][MAX_CATEGORIES];
    int n;
} histogram;

static void hist_add(histogram *h, int run, int32_t id)
{
    int i = 0;
    while (i < h->n && h->id[i] != id) i++;
    if (i == h->n) {
        if (h->n == MAX_CATEGORIES)
            i = MAX_CATEGORIES - 1; /* the rest share the last */
        else
            h->id[h->n++] = id;
    }
    h->count[run][i]++;
}

/* Two-sample chi-square statistic of equal-size samples; *df its degrees. */
static double chi_square(const histogram *h, int *df)
{
    double stat = 0;
    int pooled[2] = {0, 0}, cells = 0;
    for (int i = 0; i < h->n; i++) {
        const int a = h->count[0][i], b = h->count[1][i];
        if (a + b < POOL_BELOW) {
            pooled[0] += a;
            pooled[1] += b;
            continue;
        }
        stat += (double)(a - b) * (a - b) / (a + b);
        cells++;
    }
    if (pooled[0] + pooled[1] > 0) {
        stat += (double)(pooled[0] - pooled[1]) * (pooled[0] - pooled[1]) / (pooled[0] + pooled[1]);
        cells++;
    }
    *df = cells - 1;
    return stat;
}

/* The chi-square quantile of 1 - alpha (Wilson-Hilferty). */
static double chi_square_critical(int df)
{
    const double k = 2.0 / (9.0 * df), c = 1.0 - k + Z_ALPHA * sqrt(k);
    return df * c * c * c;
}

/* Sampling with --lookup draws each token from the same distribution as
 * without: the marginal of every generated position over SEEDS seeds must
 * pass a two-sample chi-square test. The seeds are fixed, so the outcome
 * is too; a rule that kept drafts too often (or resampled the draft after
 * rejecting it) fails it by far. */
TEST(lookup_sampling_keeps_the_distribution)
{
    if (!model_present()) SKIP("models/bitnet-tiny.gguf is absent");
    char *batch = calloc(1, (size_t)SEEDS * 160);
    size_t at = 0;
    for (int s = 0; s < SEEDS; s++)
        at += (size_t)snprintf(batch + at, (size_t)SEEDS * 160 - at,
                               "{\"prompt\": \"Monday, Tuesday, Wednesday, Monday, Tuesday, "
                               "Wednesday, Monday,\", \"seed\": %d}\n",
                               s + 1);
    char *path = write_tmp(batch), args[512];
    histogram h[SAMPLED_TOKENS] = {0};
    for (int r = 0; r < 2; r++) {
        char *out = NULL;
        snprintf(args, sizeof args,
                 "--batch %s -n %d --ignore-eos --temp 1.5 --top-k 0 --top-p 1 --min-p 0 "
                 "--parallel 16 -q %s",
                 path, SAMPLED_TOKENS, r ? "--lookup 3 --lookup-ngram 1" : "");
        CHECK_EQ_INT(run(args, &out, NULL), 0);
        int32_t *ids;
        long n = all_output_ids(out ? out : "", &ids);
        CHECK_EQ_INT(n, (long)SEEDS * (SAMPLED_TOKENS + 1));
        for (long i = 0; i + SAMPLED_TOKENS < n + 1 && i < n; i += SAMPLED_TOKENS + 1)
            for (int p = 0; p < SAMPLED_TOKENS; p++) hist_add(&h[p], r, ids[i + p]);
        free(ids);
        free(out);
    }
    for (int p = 0; p < SAMPLED_TOKENS; p++) {
        int df;
        const double stat = chi_square(&h[p], &df);
        CHECK_MSG(df >= 1, "position %d: too few distinct tokens to test", p);
        if (df >= 1)
            CHECK_MSG(stat < chi_square_critical(df),
                      "position %d: chi-square %.1f with %d degrees (critical %.1f)", p, stat, df,
                      chi_square_critical(df));
    }
    remove_tmp(path);
    free(batch);
}
