/*
 * kernels.c - picks the kernel table for this CPU (kernels.h), and holds
 * the parts every table shares, the scalar one included: the float
 * epilogue of the QK256 product (written once, so its order is the same
 * everywhere), the prompt-batch tiling, the activation scale, and the plain
 * read loop that bandwidth figures are measured with.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/cpu.h"
#include "kernels.h"

/* The running max starts at 1e-5 (docs/FORWARD.md, Activation quantization). */
#define ACT_MAX_FLOOR 1e-5
#define INT8_LIMIT 127.0
#define DOTS_CHUNK 32      /* blocks whose dots are computed per call */

#if defined(__x86_64__)
#define X86_TABLE(t) (&(t))
#else
#define X86_TABLE(t) NULL
#endif
#if defined(__aarch64__)
#define ARM_TABLE(t) (&(t))
#else
#define ARM_TABLE(t) NULL
#endif

typedef struct {
    const char *name;         /* the table's own name */
    const char *family;       /* a name that picks the best supported table of a family */
    const bn_kernels *table;  /* NULL when not built for this architecture */
    int (*supported)(const bn_cpu_features *f);
} kernel_entry;

static int has_avx512vnni(const bn_cpu_features *f) { return f->avx512vnni; }
static int has_avx512bw(const bn_cpu_features *f) { return f->avx512bw; }
static int has_avx2(const bn_cpu_features *f) { return f->avx2; }
static int has_neon_dotprod(const bn_cpu_features *f) { return f->neon_dotprod; }
static int has_neon(const bn_cpu_features *f) { return f->neon; }
static int always(const bn_cpu_features *f)
{
    (void)f;
    return 1;
}

/* Best first: "auto" takes the first one the CPU supports. */
static const kernel_entry registry[] = {
    {"avx512-vnni", "avx512", X86_TABLE(bn_kernels_avx512_vnni), has_avx512vnni},
    {"avx512-bw", "avx512", X86_TABLE(bn_kernels_avx512_bw), has_avx512bw},
    {"avx2", "avx2", X86_TABLE(bn_kernels_avx2), has_avx2},
    {"neon-dotprod", "neon", ARM_TABLE(bn_kernels_neon_dotprod), has_neon_dotprod},
    {"neon-plain", "neon", ARM_TABLE(bn_kernels_neon_plain), has_neon},
    {"scalar", "scalar", &bn_kernels_scalar, always},
};
#define N_ENTRIES ((int)(sizeof registry / sizeof registry[0]))

static int entry_usable(const kernel_entry *e, const bn_cpu_features *f)
{
    return e->table && e->supported(f);
}

int bn_kernels_available(const bn_kernels **tables, int max)
{
    const bn_cpu_features f = bn_cpu_detect();
    int n = 0;
    for (int i = 0; i < N_ENTRIES && n < max; i++)
        if (entry_usable(&registry[i], &f)) tables[n++] = registry[i].table;
    return n;
}

/* Appends ", name" (or just name to an empty buf), truncating safely. */
static void append_name(char *buf, size_t len, const char *name)
{
    const size_t used = strlen(buf);
    if (used + 1 < len) snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
}

void bn_kernels_available_names(char *buf, size_t len)
{
    const bn_kernels *tables[BN_KERNELS_MAX];
    const int n = bn_kernels_available(tables, BN_KERNELS_MAX);
    if (!len) return;
    buf[0] = 0;
    for (int i = 0; i < n; i++) append_name(buf, len, tables[i]->name);
}

/* "auto, avx512, avx512-vnni, ..." - every name bn_kernels_select() knows:
 * each family name before the first of its tables, then the table names. */
static void valid_names(char *buf, size_t len)
{
    buf[0] = 0;
    append_name(buf, len, "auto");
    for (int i = 0; i < N_ENTRIES; i++) {
        const kernel_entry *e = &registry[i];
        const int first_of_family = i == 0 || strcmp(registry[i - 1].family, e->family) != 0;
        if (first_of_family && strcmp(e->family, e->name) != 0) append_name(buf, len, e->family);
        append_name(buf, len, e->name);
    }
}

const bn_kernels *bn_kernels_select(const char *name, char *err, size_t errlen)
{
    if (!name || !strcmp(name, "auto")) name = "";
    const bn_cpu_features f = bn_cpu_detect();
    int known = 0;
    for (int i = 0; i < N_ENTRIES; i++) {
        const kernel_entry *e = &registry[i];
        const int wanted = !*name || !strcmp(name, e->name) || !strcmp(name, e->family);
        known |= wanted;
        if (wanted && entry_usable(e, &f)) return e->table;
    }
    char list[256];
    if (known) {
        bn_kernels_available_names(list, sizeof list);
        snprintf(err, errlen, "kernel '%s' is not supported by this CPU (available: %s)", name,
                 list);
    } else {
        valid_names(list, sizeof list);
        snprintf(err, errlen, "unknown kernel '%s' (valid: %s)", name, list);
    }
    return NULL;
}

/* docs/FORWARD.md, Ternary products, with per-block scales:
 * acc += d * (sum(code*q) - sum(q)) for each block in order, then
 * acc / act_scale. */
static float block_scales_row(const uint8_t *row, const float *d, const bn_qact *a, int nb,
                              bn_block_dots_fn block_dots)
{
    int32_t dots[DOTS_CHUNK];
    float acc = 0.0f;
    for (int b0 = 0; b0 < nb; b0 += DOTS_CHUNK) {
        const int n = nb - b0 < DOTS_CHUNK ? nb - b0 : DOTS_CHUNK;
        block_dots(row + (size_t)b0 * QK256_BLOCK_BYTES, a->q + (size_t)b0 * QK256_BLOCK, n, dots);
        for (int i = 0; i < n; i++) acc += d[b0 + i] * (float)(dots[i] - a->block_sums[b0 + i]);
    }
    return acc / a->scale;
}

void bn_qk256_matvec_rows(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1,
                          bn_row_dot_fn row_dot, bn_block_dots_fn block_dots)
{
    const int nb = w->blocks_per_row;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w->codes + (size_t)r * nb * QK256_BLOCK_BYTES;
        if (w->block_scales)
            y[r] = block_scales_row(row, w->block_scales + (size_t)r * nb, a, nb, block_dots);
        else
            y[r] = bn_ternary_epilogue(row_dot(row, a->q, nb), a, w->scale);
    }
}

#define MAX_TILE 32      /* tokens */
#define MAX_TILE_ROWS 4
#define EPI_LANES 4      /* tokens per vector of the tile epilogue; every tile is a multiple */

/* GCC/clang vector extensions: SSE2 or NEON lanes in portable C. */
typedef float f32x4 __attribute__((vector_size(EPI_LANES * sizeof(float))));
typedef int32_t i32x4 __attribute__((vector_size(EPI_LANES * sizeof(int32_t))));

/* The token side of bn_ternary_epilogue for a tile, EPI_LANES tokens a
 * vector: (float)sum and scale, the last token repeated past nt. */
typedef struct {
    f32x4 sum[MAX_TILE / EPI_LANES], scale[MAX_TILE / EPI_LANES];
} tile_tokens;

static void tile_tokens_load(tile_tokens *tt, const bn_qact *a, int tile, int nt)
{
    for (int t = 0; t < tile; t++) {
        const bn_qact *at = &a[t < nt ? t : nt - 1];
        tt->sum[t / EPI_LANES][t % EPI_LANES] = (float)at->sum;
        tt->scale[t / EPI_LANES][t % EPI_LANES] = at->scale;
    }
}

/* bn_ternary_epilogue lane by lane (the same IEEE operations in the same
 * order, so bitwise the same), for one row of a tile's sums: one vector
 * division replaces EPI_LANES scalar ones, the slowest part of it. */
static void tile_row_epilogue(const int32_t *sums, const tile_tokens *tt, int nt, float w_scale,
                              float *y, size_t ldy)
{
    for (int t0 = 0; t0 < nt; t0 += EPI_LANES) {
        i32x4 s;
        memcpy(&s, sums + t0, sizeof s);
        const f32x4 v = (__builtin_convertvector(s, f32x4) - tt->sum[t0 / EPI_LANES]) /
                        tt->scale[t0 / EPI_LANES] * w_scale;
        for (int l = 0; l < EPI_LANES && t0 + l < nt; l++) y[(size_t)(t0 + l) * ldy] = v[l];
    }
}

void bn_qk256_matmat_tiles(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                           int r0, int r1, const bn_matmat_shape *shape)
{
    const int tile = shape->tile, rows = shape->rows;
    const int r_tiled = w->block_scales ? r0 : r0 + (r1 - r0) / rows * rows;
    for (int t = 0; t < n_tok && r_tiled < r1; t++)
        shape->matvec(w, &a[t], y + (size_t)t * ldy, r_tiled, r1);
    const int nb = w->blocks_per_row;
    const size_t row_bytes = (size_t)nb * QK256_BLOCK_BYTES;
    const int8_t *q[MAX_TILE];
    int32_t sums[MAX_TILE_ROWS * MAX_TILE];
    tile_tokens tt;
    for (int t0 = 0; t0 < n_tok; t0 += tile) {
        const int nt = n_tok - t0 < tile ? n_tok - t0 : tile;
        for (int t = 0; t < tile; t++) q[t] = a[t0 + (t < nt ? t : nt - 1)].q;
        tile_tokens_load(&tt, a + t0, tile, nt);
        for (int r = r0; r < r_tiled; r += rows) {
            shape->row_tile(w->codes + (size_t)r * row_bytes, row_bytes, q, nb, sums);
            float *yt = y + (size_t)t0 * ldy + r;
            if (shape->epilogue) {
                shape->epilogue(sums, (const float *)tt.sum, (const float *)tt.scale, nt, w->scale,
                                yt, (size_t)ldy);
                continue;
            }
            for (int i = 0; i < rows; i++)
                tile_row_epilogue(sums + (size_t)i * tile, &tt, nt, w->scale, yt + i, (size_t)ldy);
        }
    }
}

const float *bn_act_chunk(const float *x, int valid, int i, int len, float *pad)
{
    if (i + len <= valid) return x + i;
    memset(pad, 0, (size_t)len * sizeof *pad);
    if (valid > i) memcpy(pad, x + i, (size_t)(valid - i) * sizeof *pad);
    return pad;
}

typedef uint64_t u64x2 __attribute__((vector_size(16))); /* plain C: SSE2 or NEON */
_Static_assert(BN_READ_BYTES == 4 * sizeof(u64x2), "one vector per sum per step");

uint64_t bn_read_sum(const void *buf, size_t bytes)
{
    const u64x2 *v = buf;
    u64x2 a0 = {0}, a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < bytes / sizeof *v; i += BN_READ_BYTES / sizeof *v) {
        a0 += v[i];
        a1 += v[i + 1];
        a2 += v[i + 2];
        a3 += v[i + 3];
    }
    const u64x2 s = (a0 + a1) + (a2 + a3);
    return s[0] + s[1];
}

float bn_act_scale(float absmax)
{
    const double max = absmax > ACT_MAX_FLOOR ? (double)absmax : ACT_MAX_FLOOR;
    return (float)(INT8_LIMIT / max);
}
