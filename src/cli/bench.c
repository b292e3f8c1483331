/*
 * bench.c - `bitnet-run --bench`: prompt-processing and generation
 * speed in the manner of llama-bench.
 *
 *   bitnet-run --bench -m MODEL [-p 512] [-n 128] [-d 0] [-r 3] [-t 1,2] [-b 256]
 *                      [-o md|json] [--kernel NAME] [--lm-head TYPE] [-ctk TYPE] [-ctv TYPE]
 *
 * ppN evaluates N random token ids as one prompt; tgN generates N tokens one
 * at a time (as llama-bench, from random ids: no tokenization or sampling is
 * timed). Both start from an empty context, or with -d D from one already
 * holding D tokens (evaluated untimed first; the row says "@ dD"), which is
 * where the KV cache's size shows. Each test runs once to warm up, then -r
 * times; rows give mean +- standard deviation. Generation rows also give the
 * bytes read per token (the weights, plus the KV cache rows attention reads
 * at the run's mean position), the resulting GB/s and that as a share of a
 * plain read loop's bandwidth (bn_read_bandwidth_gbs) measured on the same
 * threads right before each repetition (see run_row).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet-perf.h"
#include "bitnet.h"
#include "cli.h"

#define MAX_LIST 32
#define READ_BW_BYTES ((size_t)512 << 20)
#define READ_BW_REPS 1 /* passes after a warm-up pass, before each repetition */
#define RANDOM_ID_RANGE 128000 /* below the special tokens of a LLaMA-3 vocabulary */

typedef struct {
    const char *model, *kernel, *format, *lm_head;
    int pp[MAX_LIST], n_pp;
    int tg[MAX_LIST], n_tg;
    int depth[MAX_LIST], n_depth;
    int threads[MAX_LIST], n_threads;
    int reps, n_batch;
    bn_cache_type cache_k, cache_v; /* -ctk, -ctv (zeroed: BN_CACHE_F32) */
} bench_opts;

static void bench_die(const char *fmt, const char *arg)
{
    fprintf(stderr, "bitnet-run: error: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(EXIT_USAGE);
}

static int parse_list(const char *flag, const char *v, int *out, int lo)
{
    int n = 0;
    const char *p = v;
    while (*p) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < lo || x > 1 << 20 || n == MAX_LIST || (*end && *end != ','))
            bench_die("%s expects a comma-separated list of numbers", flag);
        out[n++] = (int)x;
        p = *end ? end + 1 : end;
    }
    if (!n) bench_die("%s expects a comma-separated list of numbers", flag);
    return n;
}

static void print_bench_help(void)
{
    printf("usage: bitnet-run --bench -m MODEL [options]\n"
           "  -p LIST       prompt lengths to time, 0 = none (default: 512)\n"
           "  -n LIST       generation lengths to time, 0 = none (default: 128)\n"
           "  -d LIST       tokens already in the context when a test starts (default: 0)\n"
           "  -r N          timed repetitions after one warm-up (default: 3)\n"
           "  -t LIST       thread counts (default: the cores available)\n"
           "  -b N          prompt batch size (default: %d)\n"
           "  --kernel NAME auto, scalar, avx2, avx512 or neon (default: auto)\n"
           "  --lm-head TYPE requantize the output layer: f16, q8_0 or q6_k (default: file's)\n"
           "  -ctk TYPE     KV cache type of the keys: f32 or f16 (default: f32)\n"
           "  -ctv TYPE     KV cache type of the values: f32 or f16 (default: f32)\n"
           "  -o FORMAT     md or json (default: md)\n",
           BN_DEFAULT_BATCH);
}

static void parse_bench_args(int argc, char **argv, bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->pp[o->n_pp++] = 512;
    o->tg[o->n_tg++] = 128;
    o->depth[o->n_depth++] = 0;
    o->reps = 3;
    o->kernel = "auto";
    o->format = "md";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--bench")) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_bench_help();
            exit(0);
        }
        if (i + 1 >= argc) bench_die("%s needs a value (see --bench --help)", a);
        const char *v = argv[++i];
        int one[MAX_LIST];
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "-p")) o->n_pp = parse_list(a, v, o->pp, 0);
        else if (!strcmp(a, "-n")) o->n_tg = parse_list(a, v, o->tg, 0);
        else if (!strcmp(a, "-d")) o->n_depth = parse_list(a, v, o->depth, 0);
        else if (!strcmp(a, "-t")) o->n_threads = parse_list(a, v, o->threads, 1);
        else if (!strcmp(a, "-r")) o->reps = (parse_list(a, v, one, 1), one[0]);
        else if (!strcmp(a, "-b")) o->n_batch = (parse_list(a, v, one, 1), one[0]);
        else if (!strcmp(a, "--kernel")) o->kernel = v;
        else if (!strcmp(a, "--lm-head")) o->lm_head = v;
        else if (!strcmp(a, "-ctk") || !strcmp(a, "--cache-type-k"))
            o->cache_k = cli_parse_cache_type(a, v);
        else if (!strcmp(a, "-ctv") || !strcmp(a, "--cache-type-v"))
            o->cache_v = cli_parse_cache_type(a, v);
        else if (!strcmp(a, "-o")) o->format = v;
        else bench_die("unknown --bench argument '%s' (see --bench --help)", a);
    }
    if (!o->model) bench_die("%s", "--bench needs a model (-m FILE)");
    if (strcmp(o->format, "md") && strcmp(o->format, "json"))
        bench_die("-o expects md or json, got '%s'", o->format);
}

typedef struct {
    const char *test_kind;
    int n, depth, threads;
    double mean, sd; /* tokens per second */
    double read_gbs;
    double kv_bytes_per_pos; /* KV cache bytes of one position, keys and values */
} bench_row;

/* Seconds for one run of a test after `depth` untimed tokens: pp (n ids at
 * once) or tg (n single steps). */
static double time_test(bn_model *m, bn_context *ctx, const bench_opts *o, bench_row *row,
                        const int32_t *ids)
{
    char err[BN_ERR_LEN];
    const int is_pp = row->test_kind[0] == 'p', n = row->n, depth = row->depth;
    const bn_session_params p = {
        .n_ctx = depth + n + 1, .type_k = o->cache_k, .type_v = o->cache_v, .context = ctx};
    bn_session *s = bn_session_new(m, &p, err);
    if (!s) bench_die("%s", err);
    row->kv_bytes_per_pos = (double)bn_session_kv_bytes(s) / bn_session_n_ctx(s);
    int rc = depth ? bn_session_eval(s, ids, depth, NULL, err) : 0;
    if (rc) bench_die("%s", err);
    ids += depth;
    double t0 = bn_seconds();
    if (is_pp) {
        rc = bn_session_eval(s, ids, n, NULL, err);
    } else {
        for (int i = 0; i < n && !rc; i++) rc = bn_session_eval(s, &ids[i], 1, NULL, err);
    }
    double dt = bn_seconds() - t0;
    if (rc) bench_die("%s", err);
    bn_session_free(s);
    return dt;
}

/* A generation test reads the weights from memory, so its share of the read
 * loop matters: the loop runs right before each repetition and the row
 * shows their mean, the bandwidth the machine gave around the same time
 * (on a shared machine it moves by 2x within minutes). */
static void run_row(bn_model *m, bn_context *ctx, const bench_opts *o, const int32_t *ids,
                    bench_row *row)
{
    double sum = 0, sum2 = 0, read = 0;
    const int is_pp = row->test_kind[0] == 'p', n = row->n;
    time_test(m, ctx, o, row, ids); /* warm-up */
    for (int r = 0; r < o->reps; r++) {
        if (!is_pp) read += bn_read_bandwidth_gbs(ctx, READ_BW_BYTES, READ_BW_REPS);
        double tps = n / time_test(m, ctx, o, row, ids);
        sum += tps;
        sum2 += tps * tps;
    }
    row->read_gbs = read / o->reps;
    row->mean = sum / o->reps;
    row->sd = o->reps > 1 ? sqrt(fmax(0.0, (sum2 - sum * sum / o->reps) / (o->reps - 1))) : 0.0;
}

/* Bytes a generated token reads: the weights, and the KV cache rows of
 * the positions before it and its own (depth + i + 1 for the i-th of n),
 * at their mean. */
static double bytes_per_token(bn_model *m, const bench_row *r)
{
    const double mean_rows = r->depth + (r->n + 1) / 2.0;
    return (double)bn_model_bytes_per_token(m) + mean_rows * r->kv_bytes_per_pos;
}

static void print_row(const bench_opts *o, bn_model *m, const bench_row *r, int first)
{
    const char *name = strrchr(o->model, '/') ? strrchr(o->model, '/') + 1 : o->model;
    const char *type_k = bn_cache_type_name(o->cache_k), *type_v = bn_cache_type_name(o->cache_v);
    int tg = r->test_kind[0] == 't';
    double bytes = tg ? bytes_per_token(m, r) : 0.0;
    double gbs = bytes * r->mean / 1e9;
    char test[64];
    int len = snprintf(test, sizeof test, "%s%d", r->test_kind, r->n);
    if (r->depth) snprintf(test + len, sizeof test - (size_t)len, " @ d%d", r->depth);
    if (!strcmp(o->format, "json")) {
        printf("%s{\"model\": \"%s\", \"kernel\": \"%s\", \"threads\": %d, \"type_k\": \"%s\", "
               "\"type_v\": \"%s\", \"test\": \"%s%d\", \"depth\": %d, \"tokens_per_s\": %.3f, "
               "\"sd\": %.3f, \"bytes_per_token\": %.0f, \"read_gbs\": %.3f, "
               "\"read_loop_gbs\": %.3f}",
               first ? "" : ",\n", name, bn_model_kernel_name(m), r->threads, type_k, type_v,
               r->test_kind, r->n, r->depth, r->mean, r->sd, bytes, gbs, r->read_gbs);
        return;
    }
    if (tg)
        printf("| %s | %s | %d | %s | %s | %s | %.2f ± %.2f | %.1f MB | %.1f | %.0f%% of "
               "%.1f |\n", name, bn_model_kernel_name(m), r->threads, type_k, type_v, test,
               r->mean, r->sd, bytes / 1e6, gbs, 100.0 * gbs / r->read_gbs, r->read_gbs);
    else
        printf("| %s | %s | %d | %s | %s | %s | %.2f ± %.2f | - | - | - |\n", name,
               bn_model_kernel_name(m), r->threads, type_k, type_v, test, r->mean, r->sd);
    cli_check_output(stdout);
}

int bench_main(int argc, char **argv)
{
    bench_opts o;
    parse_bench_args(argc, argv, &o);
    char err[BN_ERR_LEN];
    bn_model_params mp = bn_model_default_params();
    mp.kernel = o.kernel;
    mp.lm_head = o.lm_head;
    mp.n_batch = o.n_batch;
    mp.n_threads = o.n_threads ? o.threads[0] : 0;
    bn_model *m = bn_model_load(o.model, &mp, err);
    if (!m) {
        fprintf(stderr, "bitnet-run: error: %s: %s\n", o.model, err);
        return EXIT_MODEL;
    }
    if (!o.n_threads) o.threads[o.n_threads++] = bn_model_n_threads(m);
    bn_context *ctx = bn_context_new(m, NULL, err);
    if (!ctx) bench_die("%s", err);
    int max_n = 1, max_depth = 0;
    for (int i = 0; i < o.n_pp; i++) max_n = o.pp[i] > max_n ? o.pp[i] : max_n;
    for (int i = 0; i < o.n_tg; i++) max_n = o.tg[i] > max_n ? o.tg[i] : max_n;
    for (int i = 0; i < o.n_depth; i++) max_depth = o.depth[i] > max_depth ? o.depth[i] : max_depth;
    if (max_depth + max_n >= bn_model_n_ctx_train(m))
        bench_die("%s", "a test (with its -d depth) is longer than the model's context");
    const int n_ids = max_depth + max_n;
    int32_t *ids = malloc((size_t)n_ids * sizeof *ids);
    if (!ids) bench_die("%s", "out of memory for the test's token ids");
    uint32_t lcg = 12345;
    int range = bn_model_n_vocab(m) < RANDOM_ID_RANGE ? bn_model_n_vocab(m) : RANDOM_ID_RANGE;
    for (int i = 0; i < n_ids; i++) ids[i] = (int32_t)((lcg = lcg * 1664525u + 1013904223u) >> 8) % range;

    int json = !strcmp(o.format, "json"), first = 1;
    if (json) printf("[\n");
    else
        printf("| model | kernel | threads | type_k | type_v | test | t/s | read/token | GB/s "
               "| read-loop GB/s |\n"
               "| --- | --- | ---: | --- | --- | --- | ---: | ---: | ---: | ---: |\n");
    for (int ti = 0; ti < o.n_threads; ti++) {
        if (bn_context_set_threads(ctx, o.threads[ti])) bench_die("%s", "cannot start the threads");
        for (int di = 0; di < o.n_depth; di++)
            for (int kind = 0; kind < 2; kind++) {
                const int *list = kind == 0 ? o.pp : o.tg;
                int count = kind == 0 ? o.n_pp : o.n_tg;
                for (int i = 0; i < count; i++) {
                    if (list[i] == 0) continue;
                    bench_row r = {.test_kind = kind == 0 ? "pp" : "tg", .n = list[i],
                                   .depth = o.depth[di], .threads = o.threads[ti]};
                    run_row(m, ctx, &o, ids, &r);
                    print_row(&o, m, &r, first);
                    first = 0;
                }
            }
    }
    if (json) printf("\n]\n");
    free(ids);
    bn_context_free(ctx);
    bn_model_free(m);
    return 0;
}
