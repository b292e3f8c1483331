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
 *
 * -s K makes each generation step a verify pass of K tokens of the one
 * sequence (logits after each, as --lookup's passes), after which the
 * session is rolled back to one new token: the row "tgN s=K" gives passes
 * per second, to compare with tgN (K = 1) for what a pass of K costs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitnet-perf.h"
#include "bitnet.h"
#include "cli.h"
#include "json.h"
#include "timing.h"

#define READ_BW_BYTES ((size_t)512 << 20)
#define READ_BW_REPS 1         /* passes after a warm-up pass, before each repetition */
#define RANDOM_ID_RANGE 128000 /* below the special tokens of a LLaMA-3 vocabulary */

/* A usage error with one string argument: one line, exit code 1. */
static void bench_die(const char *fmt, const char *arg)
{
    fprintf(stderr, "bitnet-run: error: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(EXIT_USAGE);
}

typedef struct {
    const char *test_kind;
    int n, depth, threads, n_batch;
    int spec;                /* tokens per generation pass */
    double *seconds;         /* one per repetition */
    double mean, sd;         /* tokens per second */
    double mean_ns, sd_ns;   /* nanoseconds per run */
    double read_gbs;         /* the read loop's bandwidth around the runs */
    double kv_bytes_per_pos; /* KV cache bytes of one position, keys and values */
    double exact_rows;       /* output rows computed exactly per generated token */
    char test_time[32];      /* when the row started, ISO 8601 UTC */
} bench_row;

/* What every row of one model shares (llama-bench's model and build fields). */
typedef struct {
    const char *path;
    bn_model *m;
    char type[96];
    unsigned long long size, n_params;
    char cpu[128];
    char gpu[320];       /* the device's name, "" on the CPU */
    const char *backend; /* llama-bench's name: "CPU", "Vulkan" */
} bench_model;

/* The logits generation with the default sampler has exact (top-k 40):
 * generation tests time what generation reads. */
static int default_logits_top(const bn_model *m)
{
    const bn_sampler_params sp = bn_sampler_default_params();
    bn_sampler *s = bn_sampler_new(&sp, bn_model_n_vocab(m));
    if (!s) log_out_of_memory();
    const int top = bn_sampler_logits_top(s);
    bn_sampler_free(s);
    return top;
}

/* n verify passes of row->spec tokens, each rolled back to one new token. */
static int time_passes(bn_model *m, bn_session *s, const int32_t *ids, const bench_row *row,
                       char err[BN_ERR_LEN])
{
    const size_t rows = (size_t)row->spec * (size_t)bn_model_n_vocab(m);
    float *logits = malloc(rows * sizeof *logits);
    if (!logits) bench_die("%s", "out of memory for the logits of a pass");
    int rc = 0;
    for (int i = 0; i < row->n && !rc; i++) {
        const int n_past = bn_session_n_past(s);
        rc = bn_session_eval_all(s, &ids[i], row->spec, logits, err);
        if (!rc) bn_session_truncate(s, n_past + 1);
    }
    free(logits);
    return rc;
}

/* Seconds for one run of a test after `depth` untimed tokens: pp (n ids at
 * once) or tg (n single steps, or passes of -s tokens). */
static double time_test(bn_model *m, bn_context *ctx, const run_opts *o, bench_row *row,
                        const int32_t *ids)
{
    char err[BN_ERR_LEN];
    const int is_pp = row->test_kind[0] == 'p', n = row->n, depth = row->depth;
    const bn_session_params p = {
        .n_ctx = depth + n + row->spec, .type_k = o->cache_k, .type_v = o->cache_v, .context = ctx};
    bn_session *s = bn_session_new(m, &p, err);
    if (!s) bench_die("%s", err);
    bn_session_set_logits_top(s, default_logits_top(m));
    row->kv_bytes_per_pos = (double)bn_session_kv_bytes(s) / bn_session_n_ctx(s);
    int rc = depth ? bn_session_eval(s, ids, depth, NULL, err) : 0;
    if (rc) bench_die("%s", err);
    ids += depth;
    double t0 = bn_seconds();
    if (is_pp) {
        rc = bn_session_eval(s, ids, n, NULL, err);
    } else if (row->spec == 1) {
        for (int i = 0; i < n && !rc; i++) rc = bn_session_eval(s, &ids[i], 1, NULL, err);
    } else {
        rc = time_passes(m, s, ids, row, err);
    }
    double dt = bn_seconds() - t0;
    if (rc) bench_die("%s", err);
    long vectors;
    const long rows = bn_session_exact_rows(s, &vectors);
    if (!is_pp && vectors) row->exact_rows = (double)rows / vectors;
    bn_session_free(s);
    return dt;
}

/* The mean and sample standard deviation of n values. */
static void mean_sd(const double *v, int n, double *mean, double *sd)
{
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; i++) sum += v[i], sum2 += v[i] * v[i];
    *mean = sum / n;
    *sd = n > 1 ? sqrt(fmax(0.0, (sum2 - sum * sum / n) / (n - 1))) : 0.0;
}

/* A generation test reads the weights from memory, so its share of the read
 * loop matters: the loop runs right before each repetition and the row
 * shows their mean, the bandwidth the machine gave around the same time
 * (on a shared machine it moves by 2x within minutes). */
static void run_row(bn_model *m, bn_context *ctx, const run_opts *o, const int32_t *ids,
                    bench_row *row)
{
    const bench_opts *b = &o->bench;
    double read = 0;
    const int is_pp = row->test_kind[0] == 'p', n = row->n;
    const time_t now = time(NULL);
    strftime(row->test_time, sizeof row->test_time, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    double *tps = malloc((size_t)b->reps * sizeof *tps), *ns = malloc((size_t)b->reps * sizeof *ns);
    row->seconds = malloc((size_t)b->reps * sizeof *row->seconds);
    if (!tps || !ns || !row->seconds) log_out_of_memory();
    time_test(m, ctx, o, row, ids); /* warm-up */
    for (int r = 0; r < b->reps; r++) {
        if (!is_pp) read += bn_read_bandwidth_gbs(ctx, READ_BW_BYTES, READ_BW_REPS);
        row->seconds[r] = time_test(m, ctx, o, row, ids);
        tps[r] = n / row->seconds[r];
        ns[r] = row->seconds[r] * 1e9;
    }
    row->read_gbs = read / b->reps;
    mean_sd(tps, b->reps, &row->mean, &row->sd);
    mean_sd(ns, b->reps, &row->mean_ns, &row->sd_ns);
    free(tps);
    free(ns);
}

/* Bytes a generated token reads: the weights, and the KV cache rows of
 * the positions before it and its own (depth + i + 1 for the i-th of n),
 * at their mean. */
static double bytes_per_token(bn_model *m, const bench_row *r)
{
    const double mean_rows = r->depth + (r->n + 1) / 2.0;
    return (double)bn_model_bytes_per_token_rows(m, r->exact_rows) +
           mean_rows * r->kv_bytes_per_pos;
}

/* ---------------------------------------------------------- output */

#define MIB (1024.0 * 1024.0)
#define GIB (MIB * 1024.0)

/* The CPU's name as /proc/cpuinfo gives it (llama-bench's cpu_info). */
static void read_cpu_name(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (!colon || strncmp(line, "model name", 10)) continue;
        colon += strspn(colon + 1, " \t") + 1;
        snprintf(buf, cap, "%.*s", (int)strcspn(colon, "\n"), colon);
        break;
    }
    fclose(f);
}

/* The row fields of a model: its type ("bitnet-b1.58 2.4B"), size, parameters, the CPU and
 * the device. */
static void describe_model(bench_model *bm)
{
    char arch[64] = "unknown";
    bn_model_meta_str(bm->m, "general.architecture", arch, sizeof arch);
    bm->size = bn_model_tensor_bytes(bm->m);
    bm->n_params = bn_model_n_params(bm->m);
    const double p = (double)bm->n_params;
    if (p >= 1e9)
        snprintf(bm->type, sizeof bm->type, "%s %.1fB", arch, p / 1e9);
    else
        snprintf(bm->type, sizeof bm->type, "%s %.1fM", arch, p / 1e6);
    read_cpu_name(bm->cpu, sizeof bm->cpu);
    snprintf(bm->gpu, sizeof bm->gpu, "%s", bn_model_device_name(bm->m));
    bm->backend = strcmp(bn_model_backend_name(bm->m), "vulkan") ? "CPU" : "Vulkan";
}

/* The per-repetition samples of a row, as tokens/s or as nanoseconds. */
static void json_samples(const bench_row *r, int reps, int per_second)
{
    for (int i = 0; i < reps; i++) {
        const double v = per_second ? r->n / r->seconds[i] : r->seconds[i] * 1e9;
        printf(per_second ? "%s%.6f" : "%s%.0f", i ? ", " : "", v);
    }
}

/* One result as llama-bench's JSON object, then bitnet-run's own fields
 * (null where they do not apply: a prompt test reads no bytes per token). */
static void print_json(const run_opts *o, const bench_model *bm, const bench_row *r)
{
    const int tg = r->test_kind[0] == 't';
    printf("{\"build_commit\": \"%s\", \"cpu_info\": ", cli_build_commit());
    json_string(stdout, bm->cpu, strlen(bm->cpu));
    printf(", \"gpu_info\": ");
    json_string(stdout, bm->gpu, strlen(bm->gpu));
    printf(", \"backends\": \"%s\", \"model_filename\": ", bm->backend);
    json_string(stdout, bm->path, strlen(bm->path));
    printf(", \"model_type\": \"%s\", \"model_size\": %llu, \"model_n_params\": %llu, "
           "\"n_batch\": %d, \"n_threads\": %d, \"type_k\": \"%s\", \"type_v\": \"%s\", "
           "\"n_prompt\": %d, \"n_gen\": %d, \"n_depth\": %d, \"test_time\": \"%s\", "
           "\"avg_ns\": %.0f, \"stddev_ns\": %.0f, \"avg_ts\": %.6f, \"stddev_ts\": %.6f, "
           "\"samples_ns\": [",
           bm->type, bm->size, bm->n_params, r->n_batch, r->threads, bn_cache_type_name(o->cache_k),
           bn_cache_type_name(o->cache_v), tg ? 0 : r->n, tg ? r->n : 0, r->depth, r->test_time,
           r->mean_ns, r->sd_ns, r->mean, r->sd);
    json_samples(r, o->bench.reps, 0);
    fputs("], \"samples_ts\": [", stdout);
    json_samples(r, o->bench.reps, 1);
    printf("], \"kernel\": \"%s\", \"tokens_per_pass\": %d, ", bn_model_kernel_name(bm->m),
           r->spec);
    if (tg) {
        const double bytes = bytes_per_token(bm->m, r);
        printf("\"bytes_per_token\": %.0f, \"read_gbs\": %.3f, \"read_loop_gbs\": %.3f, "
               "\"exact_rows_per_token\": %.1f}",
               bytes, bytes * r->mean / 1e9, r->read_gbs, r->exact_rows);
    } else {
        fputs("\"bytes_per_token\": null, \"read_gbs\": null, \"read_loop_gbs\": null, "
              "\"exact_rows_per_token\": null}",
              stdout);
    }
}

static const char CSV_HEADER[] =
    "build_commit,cpu_info,gpu_info,backends,model_filename,model_type,model_size,model_n_params,n_"
    "batch,"
    "n_threads,type_k,type_v,n_prompt,n_gen,n_depth,test_time,avg_ns,stddev_ns,avg_ts,stddev_ts,"
    "kernel,tokens_per_pass,bytes_per_token,read_gbs,read_loop_gbs,exact_rows_per_token\n";

/* A CSV field in quotes, quotes doubled (RFC 4180). */
static void csv_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* One result as a CSV line with the fields of CSV_HEADER. */
static void print_csv(const run_opts *o, const bench_model *bm, const bench_row *r)
{
    const int tg = r->test_kind[0] == 't';
    printf("\"%s\",", cli_build_commit());
    csv_string(bm->cpu);
    putchar(',');
    csv_string(bm->gpu);
    printf(",\"%s\",", bm->backend);
    csv_string(bm->path);
    printf(",\"%s\",%llu,%llu,%d,%d,\"%s\",\"%s\",%d,%d,%d,\"%s\",%.0f,%.0f,%.6f,%.6f,\"%s\",%d,",
           bm->type, bm->size, bm->n_params, r->n_batch, r->threads, bn_cache_type_name(o->cache_k),
           bn_cache_type_name(o->cache_v), tg ? 0 : r->n, tg ? r->n : 0, r->depth, r->test_time,
           r->mean_ns, r->sd_ns, r->mean, r->sd, bn_model_kernel_name(bm->m), r->spec);
    if (tg) {
        const double bytes = bytes_per_token(bm->m, r);
        printf("%.0f,%.3f,%.3f,%.1f\n", bytes, bytes * r->mean / 1e9, r->read_gbs, r->exact_rows);
    } else {
        fputs(",,,\n", stdout);
    }
}

/* The Markdown table's header (llama-bench's columns, then ours). */
static void print_md_header(void)
{
    printf("| model | size | params | backend | kernel | threads | n_batch | type_k | type_v "
           "| test | t/s | read/token | GB/s | read-loop GB/s | exact rows/token |\n"
           "| --- | ---: | ---: | --- | --- | ---: | ---: | --- | --- | --- | ---: | ---: "
           "| ---: | ---: | ---: |\n");
}

/* One result as a row of the Markdown table. */
static void print_md(const run_opts *o, const bench_model *bm, const bench_row *r)
{
    const char *name = strrchr(bm->path, '/') ? strrchr(bm->path, '/') + 1 : bm->path;
    const double size = (double)bm->size, params = (double)bm->n_params;
    char test[64];
    int len = snprintf(test, sizeof test, "%s%d", r->test_kind, r->n);
    if (r->spec > 1) len += snprintf(test + len, sizeof test - (size_t)len, " s=%d", r->spec);
    if (o->weights && *o->weights)
        len += snprintf(test + len, sizeof test - (size_t)len, " %s", o->weights);
    if (r->depth) snprintf(test + len, sizeof test - (size_t)len, " @ d%d", r->depth);
    printf("| %s | %.2f %s | %.2f %s | %s | %s | %d | %d | %s | %s | %s | %.2f ± %.2f ", name,
           size >= GIB ? size / GIB : size / MIB, size >= GIB ? "GiB" : "MiB",
           params >= 1e9 ? params / 1e9 : params / 1e6, params >= 1e9 ? "B" : "M", bm->backend,
           bn_model_kernel_name(bm->m), r->threads, r->n_batch, bn_cache_type_name(o->cache_k),
           bn_cache_type_name(o->cache_v), test, r->mean, r->sd);
    if (r->test_kind[0] == 't') {
        const double bytes = bytes_per_token(bm->m, r), gbs = bytes * r->mean / 1e9;
        printf("| %.1f MB | %.1f | %.0f%% of %.1f | %.1f |\n", bytes / 1e6, gbs,
               100.0 * gbs / r->read_gbs, r->read_gbs, r->exact_rows);
    } else {
        printf("| - | - | - | - |\n");
    }
}

/* One result in the format of -o. */
static void print_row(const run_opts *o, const bench_model *bm, const bench_row *r, int first)
{
    if (!strcmp(o->bench.format, "json")) {
        fputs(first ? "  " : ",\n  ", stdout);
        print_json(o, bm, r);
    } else if (!strcmp(o->bench.format, "jsonl")) {
        print_json(o, bm, r);
        putchar('\n');
    } else if (!strcmp(o->bench.format, "csv")) {
        print_csv(o, bm, r);
    } else {
        print_md(o, bm, r);
    }
    cli_check_output(stdout);
}

/* ---------------------------------------------------------- the runs */

/* Random ids for the longest test with its depth, or exits naming the
 * numbers when it does not fit the model's context. */
static int32_t *test_ids(const run_opts *o, bn_model *m)
{
    const bench_opts *b = &o->bench;
    int max_n = 1, max_depth = 0, max_spec = 1;
    for (int i = 0; i < b->spec.n; i++)
        max_spec = b->spec.v[i] > max_spec ? b->spec.v[i] : max_spec;
    for (int i = 0; i < b->pp.n; i++) max_n = b->pp.v[i] > max_n ? b->pp.v[i] : max_n;
    for (int i = 0; i < b->tg.n; i++) max_n = b->tg.v[i] > max_n ? b->tg.v[i] : max_n;
    for (int i = 0; i < b->depth.n; i++)
        max_depth = b->depth.v[i] > max_depth ? b->depth.v[i] : max_depth;
    if (max_depth + max_n + max_spec > bn_model_n_ctx_train(m))
        cli_die(EXIT_USAGE,
                "a test of %d tokens at depth -d %d needs %d positions, but the model's context "
                "holds %d",
                max_n, max_depth, max_depth + max_n + max_spec, bn_model_n_ctx_train(m));
    const int n_ids = max_depth + max_n + max_spec;
    int32_t *ids = malloc((size_t)n_ids * sizeof *ids);
    if (!ids) cli_die(EXIT_MODEL, "out of memory for the test's token ids");
    uint32_t lcg = 12345;
    int range = bn_model_n_vocab(m) < RANDOM_ID_RANGE ? bn_model_n_vocab(m) : RANDOM_ID_RANGE;
    for (int i = 0; i < n_ids; i++)
        ids[i] = (int32_t)((lcg = lcg * 1664525u + 1013904223u) >> 8) % range;
    return ids;
}

/* Every test of one model on one context: threads, depths, pp then tg. */
static void run_context(const run_opts *o, const bench_model *bm, bn_context *ctx, int n_batch,
                        const int32_t *ids, int *first)
{
    const bench_opts *b = &o->bench;
    for (int ti = 0; ti < b->threads.n; ti++) {
        if (bn_context_set_threads(ctx, b->threads.v[ti]))
            bench_die("%s", "cannot start the threads");
        for (int di = 0; di < b->depth.n; di++)
            for (int kind = 0; kind < 2; kind++) {
                const int *list = kind == 0 ? b->pp.v : b->tg.v;
                int count = kind == 0 ? b->pp.n : b->tg.n;
                for (int i = 0; i < count; i++)
                    for (int si = 0; si < (kind == 0 ? 1 : b->spec.n); si++) {
                        if (list[i] == 0) continue;
                        bench_row r = {.test_kind = kind == 0 ? "pp" : "tg",
                                       .n = list[i],
                                       .depth = b->depth.v[di],
                                       .threads = bn_context_n_threads(ctx),
                                       .n_batch = n_batch,
                                       .spec = kind == 0 ? 1 : b->spec.v[si]};
                        run_row(bm->m, ctx, o, ids, &r);
                        print_row(o, bm, &r, *first);
                        free(r.seconds);
                        *first = 0;
                    }
            }
    }
}

/* Loads one -m model and runs every test on it, for each -b. */
static void run_model(run_opts *o, const char *path, int *first)
{
    bench_opts *b = &o->bench;
    char err[BN_ERR_LEN];
    bn_model_params mp = bn_model_default_params();
    mp.kernel = o->kernel;
    mp.lm_head = o->lm_head;
    mp.weights = o->weights;
    mp.device = o->device;
    mp.lm_copy = o->no_lm_copy ? -1 : 0;
    bench_model bm = {.path = path, .m = bn_model_load(path, &mp, err)};
    if (!bm.m) cli_die(EXIT_MODEL, "%s: %s", path, err);
    describe_model(&bm);
    const int default_threads = !b->threads.n;
    if (default_threads) b->threads.v[b->threads.n++] = 0; /* the cores available */
    int32_t *ids = test_ids(o, bm.m);
    for (int bi = 0; bi < b->batches.n; bi++) {
        const bn_context_params cp = {.n_threads = b->threads.v[0], .n_batch = b->batches.v[bi]};
        bn_context *ctx = bn_context_new(bm.m, &cp, err);
        if (!ctx) bench_die("%s", err);
        run_context(o, &bm, ctx, b->batches.v[bi], ids, first);
        bn_context_free(ctx);
    }
    if (default_threads) b->threads.n = 0;
    free(ids);
    bn_model_free(bm.m);
}

/* --bench: the header of the format, every model's rows, the closing. */
int run_bench(const run_opts *opts)
{
    run_opts o = *opts; /* run_model fills in the default thread count */
    int first = 1;
    if (!strcmp(o.bench.format, "json"))
        puts("[");
    else if (!strcmp(o.bench.format, "csv"))
        fputs(CSV_HEADER, stdout);
    else if (!strcmp(o.bench.format, "md"))
        print_md_header();
    for (int i = 0; i < o.bench.n_models; i++) run_model(&o, o.bench.models[i], &first);
    if (!strcmp(o.bench.format, "json")) puts("\n]");
    return 0;
}
