/*
 * test_bench.c - the benchmarking surface: `--bench` rows in both output
 * formats and its flag errors, and `--ignore-eos` generating past the end of
 * text (what tg benchmarks rely on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    CHECK_EQ_INT(run("--bench -m " TINY " -p 16 -n 8 -r 1 -t 1,2", &out, &err), 0);
    CHECK_MSG(out && count(out, "| bitnet-tiny.gguf |") == 4, "rows: %s", out ? out : "");
    CHECK(out && strstr(out, "| pp16 |") && strstr(out, "| tg8 |"));
    CHECK(out && strstr(out, "4.1 MB")); /* weights read per generated token */
    free(out);
    free(err);
}

TEST(bench_json_lists_every_field)
{
    char *out = NULL, *err = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -p 0 -n 4 -r 2 -t 1 -o json", &out, &err), 0);
    const char *fields[] = {"\"kernel\"", "\"threads\": 1", "\"test\": \"tg4\"", "\"tokens_per_s\"",
                            "\"sd\"", "\"depth\": 0", "\"bytes_per_token\"", "\"read_gbs\"",
                            "\"read_loop_gbs\""};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        CHECK_MSG(out && strstr(out, fields[i]), "missing %s in %s", fields[i], out ? out : "");
    CHECK(out && out[0] == '[' && strstr(out, "]\n"));
    free(out);
    free(err);
}

TEST(bench_rejects_bad_flags)
{
    const char *bad[] = {"--bench -m " TINY " -p x", "--bench -m " TINY " -t 0",
                         "--bench -m " TINY " -o xml", "--bench -p 8", "--bench -m " TINY " -q 1",
                         "--bench -m " TINY " -ctk q8_0", "--bench -m " TINY " --cache-type-v",
                         "--bench -m " TINY " -d x", "--bench -m " TINY " -d 0,-5",
                         "--bench -m " TINY " -p 8 -n 8 -d 1000000"};
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
    CHECK_MSG(out && strstr(out, "| type_k | type_v |") && strstr(out, "| f32 | f32 | pp8 |"),
              "%s", out ? out : "");
    free(out);
    out = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -p 8 -n 4 -r 1 -t 1 -ctk f16", &out, NULL), 0);
    CHECK_MSG(out && count(out, "| f16 | f32 |") == 2, "%s", out ? out : "");
    free(out);
    out = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -p 0 -n 4 -r 1 -t 1 -o json --cache-type-v f16", &out, NULL),
                 0);
    CHECK_MSG(out && strstr(out, "\"type_k\": \"f32\", \"type_v\": \"f16\""), "%s", out ? out : "");
    free(out);
}

/* The bytes_per_token of the JSON row at `depth` ("depth": N), or -1. */
static double json_bytes_at_depth(const char *out, int depth)
{
    char key[32];
    snprintf(key, sizeof key, "\"depth\": %d,", depth);
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
     * 64 x 2 x (the tiny model's layers x kv width) x 4 bytes */
    CHECK_EQ_INT(run("--bench -m " TINY " -p 0 -n 4 -d 0,64 -r 1 -t 1 -o json", &out, NULL), 0);
    const double at0 = json_bytes_at_depth(out, 0), at64 = json_bytes_at_depth(out, 64);
    CHECK_MSG(at0 > 0 && at64 > at0, "%s", out ? out : "");
    free(out);
    out = NULL;
    CHECK_EQ_INT(run("--bench -m " TINY " -p 0 -n 4 -d 0,64 -r 1 -t 1 -o json -ctk f16 -ctv f16",
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
