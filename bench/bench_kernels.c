/*
 * bench_kernels.c - speed of every kernel table this CPU supports on the
 * matrix shapes of bitnet-b1.58-2B-4T, at 1 and N threads on the worker
 * pool, next to a plain memory read loop over a buffer of the same size;
 * also the pool's dispatch + join cost. Prints markdown tables. The output
 * layer is measured in F16 and in the --lm-head types Q8_0 and Q6_K (their
 * baseline, in the "x scalar" column, is the portable C of quants.c).
 *
 * Each shape is measured twice: "cache", the one matrix read over and over
 * (it stays in the caches), and "memory", STREAM_BYTES of stacked copies
 * read in one pass, as decoding reads each layer's weights once per token
 * from RAM. Times are per matrix.
 *
 * The prompt-batch product (qk256_matmat) is measured apart, in GMAC/s
 * (multiply-adds of weights by activations per second): the matrix of each
 * shape times BATCH_TOKENS activation vectors, split over the pool in
 * chunks of rows as the forward pass does; the scalar table's matmat runs
 * its matrix-vector product token by token. Its "% of peak"
 * column sets each table against its peak probe: a loop of that table's
 * inner-loop multiply instructions on registers only, with enough
 * independent accumulators that latency does not bound it, so it shows the
 * most multiply-adds a core can issue (N threads: N copies on the pool).
 *
 * Usage: bench_kernels [THREADS] [VOCAB] [output|batch|peak]
 *   THREADS  N for the multi-thread rows (default: all available cores)
 *   VOCAB    rows of the output-layer matrices (default 128256)
 *   output   measure only the output layer
 *   batch    measure only the peak probes and the prompt-batch product
 *   peak     measure only the peak probes
 *   grouped  measure only the Q2_0 / Q1_0 prompt-batch rows (Bonsai-8B
 *            shapes: the one-token product per token against the
 *            prompt-batch one)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "kernels/grouped.h"
#include "kernels/kernels.h"
#include "kernels/quants.h"
#include "runtime/clock.h"
#include "runtime/cpu.h"
#include "runtime/threadpool.h"

#define HIDDEN 2560
#define DEFAULT_VOCAB 128256
#define ROW_ALIGN 16     /* rows per chunk: 64 bytes of float output, no false sharing */
#define MIN_SECONDS 0.25 /* time each measurement at least this long */
#define DISPATCH_RUNS 200000
#define MAX_THREADS 256
#define STREAM_BYTES (256u << 20) /* more than any last-level cache here */
#define BATCH_TOKENS 256          /* the default prompt batch (-b) */
#define BATCH_ROW_CHUNK 16        /* rows per call, as engine/ternary_matmul.c's ROW_CHUNK */

static const struct {
    int rows, cols;
    const char *what;
} shapes[] = {
    {2560, 2560, "attn q/o"},
    {640, 2560, "attn k/v"},
    {6912, 2560, "ffn gate/up"},
    {2560, 6912, "ffn down"},
};

/* Seconds per run of fn on the pool: one warm-up run, then doubling
 * batches until a batch lasts min_seconds. */
static double seconds_per_run_for(bn_pool *pool, bn_task_fn fn, void *arg, double min_seconds)
{
    bn_pool_run(pool, fn, arg);
    for (long reps = 1;; reps *= 2) {
        const double t0 = bn_seconds();
        for (long i = 0; i < reps; i++) bn_pool_run(pool, fn, arg);
        const double dt = bn_seconds() - t0;
        if (dt >= min_seconds) return dt / (double)reps;
    }
}

static double seconds_per_run(bn_pool *pool, bn_task_fn fn, void *arg)
{
    return seconds_per_run_for(pool, fn, arg, MIN_SECONDS);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng_next(void) /* xorshift64 */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ------------------------------------------------------------- tasks */

typedef struct {
    const bn_kernels *k;
    const qk256_matrix *w;
    const bn_qact *a;
    float *y;
} ternary_job;

static void ternary_task(void *arg, int ith, int nth)
{
    const ternary_job *j = arg;
    int r0, r1;
    bn_split_range(j->w->rows, ith, nth, ROW_ALIGN, &r0, &r1);
    if (r0 < r1) j->k->qk256_matvec(j->w, j->a, j->y, r0, r1);
}

/* The output layer: F16 on the float activation, or a Q8_0 / Q6_K product
 * (q8_matvec) on the quantized activation. Decoding quantizes it once per
 * token (dense.c): a few microseconds, left out of the timing here. */
typedef struct {
    const bn_kernels *k;
    const uint8_t *w;
    int rows, cols;
    const float *x;
    bn_q8_matvec_fn q8_matvec; /* NULL: F16 */
    const bn_q8act *a;
    float *y;
} output_job;

static void output_task(void *arg, int ith, int nth)
{
    const output_job *j = arg;
    int r0, r1;
    bn_split_range(j->rows, ith, nth, ROW_ALIGN, &r0, &r1);
    if (r0 >= r1) return;
    if (j->q8_matvec)
        j->q8_matvec(j->w, j->cols, j->a, j->y, r0, r1);
    else
        j->k->f16_matvec((const uint16_t *)j->w, j->cols, j->x, j->y, r0, r1);
}

typedef struct {
    const uint8_t *buf;
    int n_chunks;
    uint64_t sink[MAX_THREADS]; /* keeps the reads alive */
} read_job;

static void read_task(void *arg, int ith, int nth)
{
    read_job *j = arg;
    int c0, c1;
    bn_split_range(j->n_chunks, ith, nth, 1, &c0, &c1);
    j->sink[ith] = bn_read_sum(j->buf + (size_t)c0 * BN_READ_BYTES,
                               (size_t)(c1 - c0) * BN_READ_BYTES);
}

static void nothing_task(void *arg, int ith, int nth)
{
    (void)arg;
    (void)ith;
    (void)nth;
}

/* ------------------------------------------------------------ output */

static double gbps(size_t bytes, double seconds) { return (double)bytes / seconds * 1e-9; }

/* GB/s of the read loop over `bytes` bytes at this pool's thread count. */
static double read_gbps(bn_pool *pool, const void *buf, size_t bytes)
{
    read_job j = {.buf = buf, .n_chunks = (int)(bytes / BN_READ_BYTES)};
    return gbps(bytes, seconds_per_run(pool, read_task, &j));
}

static void random_ternary(qk256_matrix *w)
{
    const size_t n = (size_t)w->rows * w->blocks_per_row * QK256_BLOCK_BYTES;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng_next();
        uint8_t byte = 0;
        for (int f = 0; f < 4; f++) byte |= (uint8_t)((r >> (8 * f)) % 3) << (2 * f);
        w->codes[i] = byte;
    }
    w->scale = 0.5f;
}

/* One table row: time per matrix, GB/s, speedup and share of the read loop. */
static void print_row(const char *shape, const char *where, double mib, const char *kernel, int nth,
                      double sec_per_matrix, double gb_s, double scalar_s, double read)
{
    printf("| %s | %s | %.2f | %s | %d | %.1f | %.2f | %.2f | %.0f%% |\n", shape, where, mib,
           kernel, nth, sec_per_matrix * 1e6, gb_s, scalar_s > 0 ? scalar_s / sec_per_matrix : 0.0,
           100.0 * gb_s / read);
}

/* The shape's matrix stacked `copies` times (rows independent, so one
 * matvec over the stack is `copies` matvecs of the shape). */
static void bench_shape(bn_pool *pools[2], const bn_kernels **tables, int n_tables, int s,
                        int copies)
{
    qk256_matrix w;
    bn_qact a;
    const int rows = shapes[s].rows * copies, cols = shapes[s].cols;
    float *x = malloc((size_t)cols * sizeof *x), *y = malloc((size_t)rows * sizeof *y);
    if (!x || !y || qk256_alloc(&w, rows, cols, 0) || bn_qact_alloc(&a, cols)) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    random_ternary(&w);
    for (int i = 0; i < cols; i++) x[i] = (float)(rng_next() % 2001) / 1000.0f - 1.0f;
    bn_kernels_scalar.quantize(x, cols, &a);
    const size_t bytes = (size_t)rows * w.blocks_per_row * QK256_BLOCK_BYTES;
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%d %s", shapes[s].rows, cols, shapes[s].what);
    const char *where = copies > 1 ? "memory" : "cache";
    const double mib = (double)bytes / copies / (1 << 20);
    for (int p = 0; p < 2; p++) {
        const int nth = bn_pool_size(pools[p]);
        const double read = read_gbps(pools[p], w.codes, bytes);
        double scalar_s = 0;
        for (int t = 0; t < n_tables; t++) {
            ternary_job j = {tables[t], &w, &a, y};
            const double sec = seconds_per_run(pools[p], ternary_task, &j) / copies;
            if (tables[t] == &bn_kernels_scalar) scalar_s = sec;
            print_row(shape, where, mib, tables[t]->name, nth, sec, gbps(bytes / copies, sec),
                      scalar_s, read);
        }
        print_row(shape, where, mib, "read loop", nth, (double)bytes / copies / (read * 1e9), read,
                  0, read);
        if (bn_pool_size(pools[1]) == 1) break; /* N = 1: one pass is enough */
    }
    free(x);
    free(y);
    qk256_free(&w);
    bn_qact_free(&a);
}

/* --------------------------------------------------------- peak probes */

#define PROBE_CHAINS                                                                               \
    12                         /* independent accumulators, above latency x issue width (and the   \
                                * count of the unroll pragmas below) */
#define PROBE_STEPS (1L << 18) /* steps of every chain per run: long against a dispatch */
#define PROBE_SECONDS 0.1      /* time each probe at least this long */

/* A register-only loop: `steps` times, each of PROBE_CHAINS accumulators
 * takes STEP(acc, a, b), with a and b opaque (OPAQUE: an empty asm that
 * claims to change a, so the compiler neither hoists the products out of
 * the loop nor computes one product for all chains); KEEP, an empty asm
 * reading each accumulator at the end, keeps the work. */
/* NOLINTBEGIN(bugprone-macro-parentheses): ATTR and VEC are not expressions */
#define PROBE_LOOP(ATTR, NAME, VEC, SPLAT, STEP)                                                   \
    ATTR static void NAME(long steps)                                                              \
    {                                                                                              \
        VEC acc[PROBE_CHAINS], a = SPLAT(1), b = SPLAT(2);                                         \
        _Pragma("GCC unroll 12") for (int i = 0; i < PROBE_CHAINS; i++) acc[i] = SPLAT(i);         \
        for (long s = 0; s < steps; s++) {                                                         \
            _Pragma("GCC unroll 12") for (int i = 0; i < PROBE_CHAINS; i++)                        \
            {                                                                                      \
                OPAQUE(a);                                                                         \
                STEP(acc[i], a, b);                                                                \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 12") for (int i = 0; i < PROBE_CHAINS; i++) KEEP(acc[i]);              \
    }
/* NOLINTEND(bugprone-macro-parentheses) */

#if defined(__x86_64__)
#include <immintrin.h>

#define OPAQUE(v) __asm__ volatile("" : "+x"(v))
#define KEEP(v) __asm__ volatile("" : : "x"(v))
#define AVX2_ATTR __attribute__((target("avx2")))
#define AVX512_ATTR __attribute__((target("avx2,avx512f,avx512bw")))
#define AVX512VNNI_ATTR __attribute__((target("avx2,avx512f,avx512bw,avx512vnni")))
#define AVXVNNI_ATTR __attribute__((target("avx2,avxvnni")))

/* The AVX2 tiles' mix: per 32 products one vpmaddubsw and one 16-bit add. */
#define MADDUBS_ADD_YMM(acc, a, b) acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(a, b))
/* vpmaddubsw alone: each chain runs through it (its own result taken as
 * the unsigned operand), so the 16-bit adds' cost shows against the above. */
#define MADDUBS_YMM(acc, a, b) acc = _mm256_maddubs_epi16(acc, b)
#define DPBUSD_YMM(acc, a, b) acc = _mm256_dpbusd_avx_epi32(acc, a, b)
#define MADDUBS_ADD_ZMM(acc, a, b) acc = _mm512_add_epi16(acc, _mm512_maddubs_epi16(a, b))
#define DPBUSD_ZMM(acc, a, b) acc = _mm512_dpbusd_epi32(acc, a, b)

PROBE_LOOP(AVX2_ATTR, probe_maddubs_add_ymm, __m256i, _mm256_set1_epi8, MADDUBS_ADD_YMM)
PROBE_LOOP(AVX2_ATTR, probe_maddubs_ymm, __m256i, _mm256_set1_epi8, MADDUBS_YMM)
PROBE_LOOP(AVXVNNI_ATTR, probe_dpbusd_ymm, __m256i, _mm256_set1_epi8, DPBUSD_YMM)
PROBE_LOOP(AVX512_ATTR, probe_maddubs_add_zmm, __m512i, _mm512_set1_epi8, MADDUBS_ADD_ZMM)
PROBE_LOOP(AVX512VNNI_ATTR, probe_dpbusd_zmm, __m512i, _mm512_set1_epi8, DPBUSD_ZMM)

static int has_avx2(const bn_cpu_features *f) { return f->avx2; }
static int has_avxvnni(const bn_cpu_features *f) { return f->avxvnni; }
static int has_avx512bw(const bn_cpu_features *f) { return f->avx512bw; }
static int has_avx512vnni(const bn_cpu_features *f) { return f->avx512vnni; }

#elif defined(__aarch64__)
#include <arm_neon.h>

#define OPAQUE(v) __asm__ volatile("" : "+w"(v))
#define KEEP(v) __asm__ volatile("" : : "w"(v))
#if defined(__clang__)
#define DOTPROD_ATTR __attribute__((target("dotprod")))
#else
#define DOTPROD_ATTR __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#define NO_ATTR

/* sdot as an instruction: clang (14) declares vdotq_s32 only when the
 * whole file is compiled for dotprod (neon.c says the same). */
#define SDOT(acc, a, b) __asm__("sdot %0.4s, %1.16b, %2.16b" : "+w"(acc) : "w"(a), "w"(b))
/* The neon-plain tiles' mix: smlal and smlal2 into int16 lanes. */
#define SMLAL_PAIR(acc, a, b)                                                                      \
    acc = vreinterpretq_s8_s16(                                                                    \
        vmlal_high_s8(vmlal_s8(vreinterpretq_s16_s8(acc), vget_low_s8(a), vget_low_s8(b)), a, b))

PROBE_LOOP(DOTPROD_ATTR, probe_sdot, int32x4_t, vdupq_n_s32, SDOT)
PROBE_LOOP(NO_ATTR, probe_smlal, int8x16_t, vdupq_n_s8, SMLAL_PAIR)

static int has_neon(const bn_cpu_features *f) { return f->neon; }
static int has_neon_dotprod(const bn_cpu_features *f) { return f->neon_dotprod; }
#endif

typedef struct {
    const char *mix;   /* the instructions of one step, as printed */
    const char *table; /* the kernel table measured against it; NULL: none */
    int macs;          /* multiply-adds of one step */
    void (*loop)(long steps);
    int (*supported)(const bn_cpu_features *f);
} peak_probe;

static const peak_probe probes[] = {
#if defined(__x86_64__)
    {"vpdpbusd zmm", "avx512-vnni", 64, probe_dpbusd_zmm, has_avx512vnni},
    {"vpmaddubsw + vpaddw zmm", "avx512-bw", 64, probe_maddubs_add_zmm, has_avx512bw},
    {"vpmaddubsw + vpaddw ymm", "avx2", 32, probe_maddubs_add_ymm, has_avx2},
    {"vpmaddubsw ymm", NULL, 32, probe_maddubs_ymm, has_avx2},
    {"vpdpbusd ymm (VEX)", "avx-vnni", 32, probe_dpbusd_ymm, has_avxvnni},
#elif defined(__aarch64__)
    {"sdot", "neon-dotprod", 16, probe_sdot, has_neon_dotprod},
    {"smlal + smlal2", "neon-plain", 16, probe_smlal, has_neon},
#endif
    {NULL, NULL, 0, NULL, NULL}, /* an end, so that no architecture has an empty list */
};
#define N_PROBES (sizeof probes / sizeof probes[0] - 1)

static void probe_task(void *arg, int ith, int nth)
{
    (void)ith;
    (void)nth;
    ((const peak_probe *)arg)->loop(PROBE_STEPS);
}

/* GMAC/s of each probe the CPU supports, at 1 and N threads (0: not run). */
typedef struct {
    double gmacs[N_PROBES + 1][2]; /* + 1: no empty array where there are no probes */
} peak_figures;

/* Runs the probes and prints their table. */
static void bench_peaks(bn_pool *pools[2], peak_figures *peaks)
{
    const bn_cpu_features f = bn_cpu_detect();
    memset(peaks, 0, sizeof *peaks);
    printf("\n| peak probe (registers only) | kernel | threads | GMAC/s |\n");
    printf("|---|---|---|---|\n");
    for (size_t i = 0; i < N_PROBES; i++) {
        if (!probes[i].supported(&f)) continue;
        for (int p = 0; p < 2; p++) {
            const int nth = bn_pool_size(pools[p]);
            const double sec = seconds_per_run_for(pools[p], probe_task, (void *)&probes[i],
                                                   PROBE_SECONDS);
            peaks->gmacs[i][p] = (double)nth * PROBE_STEPS * PROBE_CHAINS * probes[i].macs / sec *
                                 1e-9;
            printf("| %s | %s | %d | %.1f |\n", probes[i].mix,
                   probes[i].table ? probes[i].table : "-", nth, peaks->gmacs[i][p]);
            if (bn_pool_size(pools[1]) == 1) break; /* N = 1: one pass is enough */
        }
    }
}

/* "NN%" of the table's probe at pool p, or "-" for a table without one. */
static void peak_share(const peak_figures *peaks, const char *table, int p, double gmacs, char *buf,
                       size_t len)
{
    snprintf(buf, len, "-");
    for (size_t i = 0; i < N_PROBES; i++)
        if (probes[i].table && !strcmp(probes[i].table, table) && peaks->gmacs[i][p] > 0)
            snprintf(buf, len, "%.0f%%", 100.0 * gmacs / peaks->gmacs[i][p]);
}

/* ------------------------------------------------------ prompt batches */

typedef struct {
    const bn_kernels *k;
    const qk256_matrix *w;
    const bn_qact *a; /* BATCH_TOKENS */
    float *y;         /* [BATCH_TOKENS][rows] */
} batch_job;

static void batch_task(void *arg, int ith, int nth)
{
    const batch_job *j = arg;
    int r0, r1;
    bn_split_range(j->w->rows, ith, nth, BATCH_ROW_CHUNK, &r0, &r1);
    for (int c = r0; c < r1; c += BATCH_ROW_CHUNK) {
        const int c1 = c + BATCH_ROW_CHUNK < r1 ? c + BATCH_ROW_CHUNK : r1;
        j->k->qk256_matmat(j->w, j->a, BATCH_TOKENS, j->y, j->w->rows, c, c1);
    }
}

static void bench_batch_shape(bn_pool *pools[2], const bn_kernels **tables, int n_tables, int s,
                              const peak_figures *peaks)
{
    const int rows = shapes[s].rows, cols = shapes[s].cols;
    qk256_matrix w;
    bn_qact *a = calloc(BATCH_TOKENS, sizeof *a);
    float *x = malloc((size_t)cols * sizeof *x);
    float *y = malloc((size_t)BATCH_TOKENS * rows * sizeof *y);
    if (!a || !x || !y || qk256_alloc(&w, rows, cols, 0)) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    random_ternary(&w);
    for (int t = 0; t < BATCH_TOKENS; t++) {
        for (int i = 0; i < cols; i++) x[i] = (float)(rng_next() % 2001) / 1000.0f - 1.0f;
        if (bn_qact_alloc(&a[t], cols)) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        bn_kernels_scalar.quantize(x, cols, &a[t]);
    }
    const double macs = (double)rows * cols * BATCH_TOKENS;
    for (int p = 0; p < 2; p++) {
        double scalar_s = 0;
        for (int t = 0; t < n_tables; t++) {
            batch_job j = {tables[t], &w, a, y};
            const double sec = seconds_per_run(pools[p], batch_task, &j);
            if (tables[t] == &bn_kernels_scalar) scalar_s = sec;
            char share[16];
            peak_share(peaks, tables[t]->name, p, macs / sec * 1e-9, share, sizeof share);
            printf("| %dx%d %s | %d | %s | %d | %.1f | %.1f | %.2f | %s |\n", rows, cols,
                   shapes[s].what, BATCH_TOKENS, tables[t]->name, bn_pool_size(pools[p]), sec * 1e3,
                   macs / sec * 1e-9, scalar_s > 0 ? scalar_s / sec : 0.0, share);
        }
        if (bn_pool_size(pools[1]) == 1) break; /* N = 1: one pass is enough */
    }
    for (int t = 0; t < BATCH_TOKENS; t++) bn_qact_free(&a[t]);
    free(a);
    free(x);
    free(y);
    qk256_free(&w);
}

/* The peak probes, then the prompt-batch product against them. */
static void bench_batches(bn_pool *pools[2], const bn_kernels **tables, int n_tables)
{
    peak_figures peaks;
    bench_peaks(pools, &peaks);
    printf(
        "\n| prompt batch (rows x cols) | tokens | kernel | threads | ms/batch | GMAC/s | x scalar "
        "| of peak |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        bench_batch_shape(pools, tables, n_tables, (int)s, &peaks);
}

/* ------------------------------------- prompt batches of Q2_0 and Q1_0 */

/* The Bonsai-8B shapes (qwen3, 4096 wide, ffn 12288) of the group-scaled
 * files, measured as the engine runs a pass (engine/ternary_matmul.c):
 * BATCH_TOKEN_BLOCK tokens at a time, BATCH_ROW_CHUNK rows per call;
 * "matvec" is the one-token product token by token, "matmat" the
 * prompt-batch one. */
#define BATCH_TOKEN_BLOCK 64 /* as ternary_matmul.c's TOKEN_BLOCK */
#define GROUPED_BLOCK_BYTES 18

static const struct {
    int rows, cols;
    const char *what;
} grouped_shapes[] = {
    {4096, 4096, "attn q/o"},
    {1024, 4096, "attn k/v"},
    {12288, 4096, "ffn gate/up"},
    {4096, 12288, "ffn down"},
};

typedef struct {
    const bn_kernels *k;
    const qk256_matrix *w;
    const bn_q8act *a; /* BATCH_TOKENS */
    float *y;          /* [BATCH_TOKENS][rows] */
    int matmat;
} grouped_job;

static void grouped_task(void *arg, int ith, int nth)
{
    const grouped_job *j = arg;
    const int binary = j->w->bits != NULL, rows = j->w->rows;
    int r0, r1;
    bn_split_range(rows, ith, nth, BATCH_ROW_CHUNK, &r0, &r1);
    for (int t0 = 0; t0 < BATCH_TOKENS; t0 += BATCH_TOKEN_BLOCK) {
        float *y = j->y + (size_t)t0 * rows;
        for (int c = r0; c < r1; c += BATCH_ROW_CHUNK) {
            const int c1 = c + BATCH_ROW_CHUNK < r1 ? c + BATCH_ROW_CHUNK : r1;
            if (j->matmat)
                (binary ? j->k->b1_matmat : j->k->q2_matmat)(j->w, j->a + t0, BATCH_TOKEN_BLOCK, y,
                                                             rows, c, c1);
            else
                for (int t = 0; t < BATCH_TOKEN_BLOCK; t++)
                    (binary ? j->k->b1_matvec : j->k->q2_matvec)(j->w, j->a + t0 + t,
                                                                 y + (size_t)t * rows, c, c1);
        }
    }
}

/* A random Q2_0 (codes 0..3) or Q1_0 tensor in w. */
static void random_grouped(qk256_matrix *w, int rows, int cols, int binary)
{
    const size_t blocks = (size_t)rows * cols / (binary ? BN_Q1_0_BLOCK : BN_Q2_0_BLOCK);
    uint8_t *t = malloc(blocks * GROUPED_BLOCK_BYTES);
    if (!t || (binary ? bn_grouped_alloc_b1 : bn_grouped_alloc_q2)(w, rows, cols, NULL)) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t b = 0; b < blocks; b++) {
        uint8_t *blk = t + b * GROUPED_BLOCK_BYTES;
        const uint16_t d = bn_f32_to_f16((float)(rng_next() % 1000 + 1) / 1e5f);
        memcpy(blk, &d, sizeof d);
        for (int i = 2; i < GROUPED_BLOCK_BYTES; i++) blk[i] = (uint8_t)rng_next();
    }
    if (binary)
        bn_grouped_from_q1_0_rows(w, t, 0, rows);
    else
        bn_grouped_from_q2_0_rows(w, t, 0, rows);
    free(t);
}

static void bench_grouped_shape(bn_pool *pools[2], const bn_kernels **tables, int n_tables, int s,
                                int binary)
{
    const int rows = grouped_shapes[s].rows, cols = grouped_shapes[s].cols;
    qk256_matrix w;
    random_grouped(&w, rows, cols, binary);
    bn_q8act *a = calloc(BATCH_TOKENS, sizeof *a);
    float *x = malloc((size_t)cols * sizeof *x);
    float *y = malloc((size_t)BATCH_TOKENS * rows * sizeof *y);
    if (!a || !x || !y) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int t = 0; t < BATCH_TOKENS; t++) {
        for (int i = 0; i < cols; i++) x[i] = (float)(rng_next() % 2001) / 1000.0f - 1.0f;
        if (bn_q8act_alloc(&a[t], cols)) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        bn_kernels_scalar.q8_quantize(x, cols, &a[t]);
    }
    const double macs = (double)rows * cols * BATCH_TOKENS;
    for (int p = 0; p < 2; p++) {
        for (int t = 0; t < n_tables; t++) {
            if (tables[t] == &bn_kernels_scalar) continue; /* minutes a row on these shapes */
            double matvec_s = 0;
            for (int mm = 0; mm <= 1; mm++) {
                grouped_job j = {tables[t], &w, a, y, mm};
                const double sec = seconds_per_run(pools[p], grouped_task, &j);
                if (!mm) matvec_s = sec;
                printf("| %s %dx%d %s | %d | %s | %s | %d | %.1f | %.1f | %.2f |\n",
                       binary ? "Q1_0" : "Q2_0", rows, cols, grouped_shapes[s].what, BATCH_TOKENS,
                       tables[t]->name, mm ? "matmat" : "matvec", bn_pool_size(pools[p]), sec * 1e3,
                       macs / sec * 1e-9, matvec_s / sec);
            }
        }
        if (bn_pool_size(pools[1]) == 1) break; /* N = 1: one pass is enough */
    }
    for (int t = 0; t < BATCH_TOKENS; t++) bn_q8act_free(&a[t]);
    free(a);
    free(x);
    free(y);
    qk256_free(&w);
}

/* The Q2_0 and Q1_0 prompt-batch rows. */
static void bench_grouped_batches(bn_pool *pools[2], const bn_kernels **tables, int n_tables)
{
    printf("\n| Q2_0 / Q1_0 batch (rows x cols) | tokens | kernel | product | threads | ms/batch "
           "| GMAC/s | x matvec |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (int binary = 0; binary <= 1; binary++)
        for (size_t s = 0; s < sizeof grouped_shapes / sizeof grouped_shapes[0]; s++)
            bench_grouped_shape(pools, tables, n_tables, (int)s, binary);
}

/* A random matrix of the output-layer type: F16 values in +-0.01, or
 * random Q8_0 / Q6_K levels and sub-block scales with small block scales. */
static void random_output(uint32_t type, uint8_t *w, size_t bytes, size_t block_bytes,
                          size_t d_offset)
{
    if (type == GGML_TYPE_F16) {
        for (size_t i = 0; i < bytes / 2; i++) {
            const uint16_t h = bn_f32_to_f16((float)(rng_next() % 2001) / 1e5f - 0.01f);
            memcpy(w + 2 * i, &h, sizeof h);
        }
        return;
    }
    for (size_t i = 0; i < bytes; i += sizeof(uint64_t)) {
        const uint64_t r = rng_next();
        memcpy(w + i, &r, bytes - i < sizeof r ? bytes - i : sizeof r);
    }
    const uint16_t d = bn_f32_to_f16(1e-3f);
    for (size_t b = 0; b < bytes / block_bytes; b++) memcpy(w + b * block_bytes + d_offset, &d, 2);
}

/* The product a table runs for the type (the scalar table's is the
 * portable C of quants.c). */
static bn_q8_matvec_fn output_kernel(const bn_kernels *k, uint32_t type)
{
    return type == GGML_TYPE_Q8_0 ? k->q8_0_matvec : k->q6_k_matvec;
}

static void bench_output(bn_pool *pools[2], const bn_kernels **tables, int n_tables, int vocab,
                         uint32_t type)
{
    const size_t row_bytes = bn_quant_row_bytes(type, HIDDEN), bytes = (size_t)vocab * row_bytes;
    uint8_t *w = malloc(bytes);
    float *x = malloc(HIDDEN * sizeof *x), *y = malloc((size_t)vocab * sizeof *y);
    bn_q8act a;
    if (!w || !x || !y || bn_q8act_alloc(&a, HIDDEN)) {
        fprintf(stderr, "out of memory for the %dx%d output matrix (try a smaller VOCAB)\n", vocab,
                HIDDEN);
        exit(1);
    }
    random_output(type, w, bytes, type == GGML_TYPE_Q6_K ? BN_Q6_K_BYTES : BN_Q8_0_BYTES,
                  type == GGML_TYPE_Q6_K ? BN_Q6_K_D : 0);
    for (int i = 0; i < HIDDEN; i++) x[i] = (float)(rng_next() % 2001) / 1000.0f - 1.0f;
    bn_q8act_quantize_ref(x, HIDDEN, &a);
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%d %s output", vocab, HIDDEN, gguf_type_name(type));
    const double mib = (double)bytes / (1 << 20);
    for (int p = 0; p < 2; p++) {
        const int nth = bn_pool_size(pools[p]);
        const double read = read_gbps(pools[p], w, bytes);
        double scalar_s = 0;
        for (int t = 0; t < n_tables; t++) {
            output_job j = {tables[t], w, vocab, HIDDEN, x, NULL, &a, y};
            if (type != GGML_TYPE_F16) j.q8_matvec = output_kernel(tables[t], type);
            const double sec = seconds_per_run(pools[p], output_task, &j);
            if (tables[t] == &bn_kernels_scalar) scalar_s = sec;
            print_row(shape, "memory", mib,
                      tables[t] == &bn_kernels_scalar && type != GGML_TYPE_F16 ? "portable C"
                                                                               : tables[t]->name,
                      nth, sec, gbps(bytes, sec), scalar_s, read);
        }
        print_row(shape, "memory", mib, "read loop", nth, (double)bytes / (read * 1e9), read, 0,
                  read);
        if (bn_pool_size(pools[1]) == 1) break;
    }
    free(w);
    free(x);
    free(y);
    bn_q8act_free(&a);
}

static void bench_dispatch(bn_pool *pool)
{
    bn_pool_run(pool, nothing_task, NULL);
    const double t0 = bn_seconds();
    for (int i = 0; i < DISPATCH_RUNS; i++) bn_pool_run(pool, nothing_task, NULL);
    printf("pool dispatch + join, %d threads, empty task: %.3f us per run (%d runs)\n",
           bn_pool_size(pool), (bn_seconds() - t0) / DISPATCH_RUNS * 1e6, DISPATCH_RUNS);
}

/* argv[i] as a number, fallback when absent, -1 when not a number. */
static int int_arg(int argc, char **argv, int i, int fallback)
{
    if (argc <= i) return fallback;
    char *end;
    const long v = strtol(argv[i], &end, 10);
    return end == argv[i] || *end || v < 0 || v > INT32_MAX ? -1 : (int)v;
}

int main(int argc, char **argv)
{
    const int threads = int_arg(argc, argv, 1, bn_available_cores());
    const int vocab = int_arg(argc, argv, 2, DEFAULT_VOCAB);
    const int output_only = argc > 3 && !strcmp(argv[3], "output");
    const int batch_only = argc > 3 && !strcmp(argv[3], "batch");
    const int peak_only = argc > 3 && !strcmp(argv[3], "peak");
    const int grouped_only = argc > 3 && !strcmp(argv[3], "grouped");
    if (threads < 1 || threads > MAX_THREADS || vocab < 1 ||
        (argc > 3 && !output_only && !batch_only && !peak_only && !grouped_only)) {
        fprintf(stderr, "usage: %s [THREADS 1..%d] [VOCAB >= 1] [output|batch|peak|grouped]\n",
                argv[0], MAX_THREADS);
        return 2;
    }
    const bn_kernels *tables[BN_KERNELS_MAX], *ordered[BN_KERNELS_MAX];
    const int n_tables = bn_kernels_available(tables, BN_KERNELS_MAX);
    /* scalar first, the baseline of the speedup column */
    ordered[0] = &bn_kernels_scalar;
    for (int i = 0, m = 1; i < n_tables; i++)
        if (strcmp(tables[i]->name, "scalar") != 0) ordered[m++] = tables[i];
    bn_pool *pools[2] = {bn_pool_new(1), bn_pool_new(threads)};
    if (!pools[0] || !pools[1]) {
        fprintf(stderr, "cannot start %d threads\n", threads);
        return 1;
    }
    if (peak_only) {
        peak_figures peaks;
        bench_peaks(pools, &peaks);
    } else if (batch_only) {
        bench_batches(pools, ordered, n_tables);
        bench_grouped_batches(pools, ordered, n_tables);
    } else if (grouped_only) {
        bench_grouped_batches(pools, ordered, n_tables);
    }
    if (peak_only || batch_only || grouped_only) {
        bn_pool_free(pools[0]);
        bn_pool_free(pools[1]);
        return 0;
    }
    bench_dispatch(pools[1]);
    printf("\n| shape (rows x cols) | weights in | MiB | kernel | threads | us/matvec | GB/s "
           "| x scalar | of read loop |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (size_t s = 0; !output_only && s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t bytes = (size_t)shapes[s].rows * qk256_blocks(shapes[s].cols) *
                             QK256_BLOCK_BYTES;
        bench_shape(pools, ordered, n_tables, (int)s, 1);
        bench_shape(pools, ordered, n_tables, (int)s, (int)((STREAM_BYTES + bytes - 1) / bytes));
    }
    const uint32_t output_types[] = {GGML_TYPE_F16, GGML_TYPE_Q8_0, GGML_TYPE_Q6_K};
    for (int t = 0; t < 3; t++) bench_output(pools, ordered, n_tables, vocab, output_types[t]);
    if (!output_only) {
        bench_batches(pools, ordered, n_tables);
        bench_grouped_batches(pools, ordered, n_tables);
    }
    bn_pool_free(pools[0]);
    bn_pool_free(pools[1]);
    return 0;
}
