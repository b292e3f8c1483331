/*
 * test_bench.c - the benchmarking surface: `--bench` rows in both output
 * formats and its flag errors, and `--ignore-eos` generating past the end of
 * text (what tg benchmarks rely on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_mini.h"
#include "test.h"

#define TINY "models/bitnet-tiny.gguf"

static int run(const char *args, char **out, char **err)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s", test_bitnet_run(), args);
    return test_run(cmd, out, err);
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

TEST(bench_markdown_has_a_row_per_test_and_thread_count)
{
    char *out = NULL, *err = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -p 16 -n 8 -r 1 -t 1,2 --no-lm-copy", &out, &err), 0);
    CHECK_MSG(out && count(out, "| bitnet-tiny.gguf |") == 4, "rows: %s", out ? out : "");
    CHECK(out && strstr(out, "| pp16 |") && strstr(out, "| tg8 |"));
    /* weights read per generated token, every output row computed */
    CHECK(out && strstr(out, "4.1 MB") && strstr(out, "| 1024.0 |"));
    free(out);
    free(err);
}

/* llama-bench's documented result fields (tools/llama-bench/README.md,
 * "JSON") with the kind of value each holds, then bitnet-run's own. */
static const struct {
    const char *key;
    char kind; /* s string, n number, a array, g number or null (tg only) */
} FIELDS[] = {
    {"build_commit", 's'}, {"cpu_info", 's'},       {"gpu_info", 's'},
    {"backends", 's'},     {"model_filename", 's'}, {"model_type", 's'},
    {"model_size", 'n'},   {"model_n_params", 'n'}, {"n_batch", 'n'},
    {"n_threads", 'n'},    {"type_k", 's'},         {"type_v", 's'},
    {"n_prompt", 'n'},     {"n_gen", 'n'},          {"n_depth", 'n'},
    {"test_time", 's'},    {"avg_ns", 'n'},         {"stddev_ns", 'n'},
    {"avg_ts", 'n'},       {"stddev_ts", 'n'},      {"samples_ns", 'a'},
    {"samples_ts", 'a'},   {"kernel", 's'},         {"bytes_per_token", 'g'},
    {"read_gbs", 'g'},     {"read_loop_gbs", 'g'},  {"exact_rows_per_token", 'g'},
};
#define N_FIELDS (sizeof FIELDS / sizeof FIELDS[0])

/* Checks one result object (one line of jsonl) field by field. */
static void check_result(const char *obj, int is_tg, int reps)
{
    const char *end = obj + strlen(obj);
    for (size_t i = 0; i < N_FIELDS; i++) {
        const char *v = json_find(obj, end, FIELDS[i].key);
        const int kind = FIELDS[i].kind == 'g' ? (is_tg ? 'n' : 'z') : FIELDS[i].kind;
        int ok = v && (kind == 's'   ? *v == '"'
                       : kind == 'a' ? *v == '['
                       : kind == 'z' ? !strncmp(v, "null", 4)
                                     : (*v >= '0' && *v <= '9'));
        CHECK_MSG(ok, "%s: %.40s in %s", FIELDS[i].key, v ? v : "(missing)", obj);
    }
    int32_t *ids;
    const char *ns = json_find(obj, end, "samples_ns");
    CHECK_MSG(ns && json_int_array(ns, end, &ids) == reps, "samples_ns of %d: %s", reps, obj);
    if (ns) free(ids);
    const char *gen = json_find(obj, end, "n_gen"), *prompt = json_find(obj, end, "n_prompt");
    CHECK(gen && prompt && strtol(is_tg ? gen : prompt, NULL, 10) == 4 &&
          strtol(is_tg ? prompt : gen, NULL, 10) == 0);
}

TEST(bench_json_has_llama_bench_fields)
{
    char *out = NULL, *err = NULL;
    /* -r defaults to 5, as llama-bench's */
    CHECK_EQ_INT(run("--bench -m " TINY " -p 4 -n 4 -t 1 -o jsonl", &out, &err), 0);
    char *line = out;
    for (int i = 0; i < 2 && line; i++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        check_result(line, i == 1, 5);
        line = nl ? nl + 1 : NULL;
    }
    CHECK(line && !*line);
    free(out), free(err);
    out = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -p 0 -n 4 -r 2 -t 1 -o json", &out, &err), 0);
    CHECK(out && out[0] == '[' && strstr(out, "]\n"));
    const char *obj = out ? strchr(out + 1, '{') : NULL;
    if (obj) check_result(obj, 1, 2);
    free(out), free(err);
}

TEST(bench_csv_markdown_lists_and_several_models)
{
    char *out = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -p 4 -n 0 -r 1 -t 1 -o csv", &out, NULL), 0);
    char *body = out ? strchr(out, '\n') : NULL;
    CHECK_MSG(out && !strncmp(out, "build_commit,cpu_info,gpu_info,backends,model_filename,", 55) &&
                  body && count(body + 1, "\n") == 1 && count(out, ",") == 2 * count(body, ","),
              "%s", out);
    free(out);
    out = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -m " TINY " -p 4 -n 0 -r 1 -t 1 -b 2,4", &out, NULL), 0);
    CHECK_MSG(out && strstr(out, "| model | size | params | backend |") &&
                  count(out, "| bitnet-tiny.gguf | 3.92 MiB |") == 4 &&
                  count(out, "| CPU |") == 4 && count(out, "| 2 | f32 |") == 2 &&
                  count(out, "| 4 | f32 |") == 2,
              "%s", out);
    free(out);
}

TEST(bench_flag_messages_say_what_is_wrong)
{
    static const struct {
        const char *args, *want;
    } cases[] = {
        {"-r abc", "-r expects an integer, got 'abc'"},
        {"-r 1,2", "-r takes one number, not a list"},
        {"-t 0", "-t: 0 is out of range (1 to"},
        {"-p 8 --info", "unknown --bench argument '--info'"},
        {"-p 8 -n 8 -d 1020", "a test of 8 tokens at depth -d 1020 needs 1029 positions, but the "
                              "model's context holds 1024"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[256], *err = NULL;
        snprintf(args, sizeof args, "--bench -m " TINY " %s", cases[i].args);
        CHECK_EQ_INT(run(args, NULL, &err), 1);
        CHECK_MSG(err && strstr(err, cases[i].want), "%s: %s", args, err);
        free(err);
    }
}

TEST(bench_rejects_bad_flags)
{
    const char *bad[] = {
        "--bench -m " TINY " -p x",           "--bench -m " TINY " -t 0",
        "--bench -m " TINY " -o xml",         "--bench -p 8",
        "--bench -m " TINY " -q 1",           "--bench -m " TINY " -ctk q8_0",
        "--bench -m " TINY " --cache-type-v", "--bench -m " TINY " -d x",
        "--bench -m " TINY " -d 0,-5",        "--bench -m " TINY " -p 8 -n 8 -d 1000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *err = NULL;
        CHECK_MSG(run(bad[i], NULL, &err) == 1, "%s: expected exit 1", bad[i]);
        CHECK_MSG(err && strstr(err, "bitnet-run: error: "), "%s: %s", bad[i], err ? err : "");
        free(err);
    }
}

TEST(bench_rows_name_the_kv_cache_types)
{
    char *out = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -p 8 -n 0 -r 1 -t 1", &out, NULL), 0);
    CHECK_MSG(out && strstr(out, "| type_k | type_v |") && strstr(out, "| f32 | f32 | pp8 |"), "%s",
              out ? out : "");
    free(out);
    out = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -p 8 -n 4 -r 1 -t 1 -ctk f16", &out, NULL), 0);
    CHECK_MSG(out && count(out, "| f16 | f32 |") == 2, "%s", out ? out : "");
    free(out);
    out = NULL;
    CHECK_EQ_INT(
        run("--bench -m " TINY " -p 0 -n 4 -r 1 -t 1 -o json --cache-type-v f16", &out, NULL), 0);
    CHECK_MSG(out && strstr(out, "\"type_k\": \"f32\", \"type_v\": \"f16\""), "%s", out ? out : "");
    free(out);
}

/* The bytes_per_token of the JSON row at `depth` ("depth": N), or -1. */
static double json_bytes_at_depth(const char *out, int depth)
{
    char key[32];
    snprintf(key, sizeof key, "\"n_depth\": %d,", depth);
    const char *row = out ? strstr(out, key) : NULL;
    const char *b = row ? strstr(row, "\"bytes_per_token\": ") : NULL;
    return b ? strtod(b + strlen("\"bytes_per_token\": "), NULL) : -1.0;
}

TEST(bench_depth_starts_tests_on_a_filled_context)
{
    char *out = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -p 8 -n 4 -d 0,64 -r 1 -t 1", &out, NULL), 0);
    CHECK_MSG(out && count(out, "| bitnet-tiny.gguf |") == 4 && strstr(out, "| pp8 @ d64 |") &&
                  strstr(out, "| tg4 @ d64 |") && strstr(out, "| tg4 |"),
              "%s", out ? out : "");
    free(out);
    out = NULL;
    /* a token at depth 64 also reads 64 more positions of keys and values:
     * 64 x 2 x (the tiny model's layers x kv width) x 4 bytes (every output
     * row computed, so that the rows a token recomputes do not vary) */
    CHECK_EQ_INT(
        run("--bench -m " TINY " -p 0 -n 4 -d 0,64 -r 1 -t 1 -o json --no-lm-copy", &out, NULL), 0);
    const double at0 = json_bytes_at_depth(out, 0), at64 = json_bytes_at_depth(out, 64);
    CHECK_MSG(at0 > 0 && at64 > at0, "%s", out ? out : "");
    free(out);
    out = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -p 0 -n 4 -d 0,64 -r 1 -t 1 -o json -ctk f16 -ctv f16 "
                     "--no-lm-copy",
                     &out, NULL),
                 0);
    const double f16_at0 = json_bytes_at_depth(out, 0), f16_at64 = json_bytes_at_depth(out, 64);
    CHECK_MSG(f16_at0 > 0 && f16_at64 - f16_at0 == (at64 - at0) / 2, "f32 +%.0f, f16 +%.0f",
              at64 - at0, f16_at64 - f16_at0);
    free(out);
}

TEST(ignore_eos_generates_past_the_end_of_text)
{
    char *out = NULL;
    /* "2+2=" ends after one token; with --ignore-eos it runs to -n */
    CHECK_EQ_INT(run("-m " TINY " -p 2+2= --temp 0 -n 6 --ignore-eos --json", &out, NULL), 0);
    CHECK_MSG(out && strstr(out, "\"n_output\": 6") && strstr(out, "\"stop_reason\": \"length\""),
              "%s", out ? out : "");
    CHECK(out && !strstr(out, "1017")); /* <|end_of_text|> never sampled */
    free(out);
}
