/*
 * kernels.c - picks the kernel table for this CPU (kernels.h), completing
 * it once (the optional entries, the matvec/matmat choice: table.h), and
 * the plain read loop that bandwidth figures are measured with.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "runtime/cpu.h"
#include "kernels.h"

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
    const char *name;        /* the table's own name */
    const char *family;      /* a name that picks the best supported table of a family */
    const bn_kernels *table; /* NULL when not built for this architecture */
    int (*supported)(const bn_cpu_features *f);
} kernel_entry;

static int has_avx512vnni(const bn_cpu_features *f) { return f->avx512vnni; }
static int has_avx512bw(const bn_cpu_features *f) { return f->avx512bw; }
static int has_avx2(const bn_cpu_features *f) { return f->avx2; }
static int has_avxvnni(const bn_cpu_features *f) { return f->avxvnni; }
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
    /* Opt-in until tested on hardware: no machine at hand runs AVX-VNNI,
     * so it is checked against scalar only where one does (tests/). After
     * avx2 and in a family of its own, neither "auto" nor "avx2" reaches
     * it on any CPU (each has AVX2); only "avx-vnni" does. */
    {"avx-vnni", "avx-vnni", X86_TABLE(bn_kernels_avx_vnni), has_avxvnni},
    {"neon-dotprod", "neon", ARM_TABLE(bn_kernels_neon_dotprod), has_neon_dotprod},
    {"neon-plain", "neon", ARM_TABLE(bn_kernels_neon_plain), has_neon},
    {"scalar", "scalar", &bn_kernels_scalar, always},
};
#define N_ENTRIES ((int)(sizeof registry / sizeof registry[0]))

/* ================================================= the complete tables */

/* A tile kernel that pads a short pass to its full tile width (repeating
 * its last token) pays for a full tile from here on; below, qk256_matvec
 * per token over rows that stay in L1 costs less (a --lookup verify pass
 * is a few tokens). One that pads no tile, Q16's included, pays from
 * 2 tokens on. */
#define PADDED_MATMAT_FROM 5
#define UNPADDED_MATMAT_FROM 2

static bn_kernels complete_tables[N_ENTRIES];
static pthread_once_t completed = PTHREAD_ONCE_INIT;

/* The table t as the engine calls it: the optional entries t leaves NULL
 * taken from the scalar table (which has every one), and the number of
 * tokens from which each prompt-batch product runs. */
static bn_kernels complete(const bn_kernels *t)
{
    const bn_kernels *s = &bn_kernels_scalar;
    bn_kernels c = *t;
    if (!c.q16_matvec) {
        c.q16_matvec = s->q16_matvec;
        c.q16_matmat = s->q16_matmat;
    }
    if (!c.q8_quantize) c.q8_quantize = s->q8_quantize;
    if (!c.q8_0_matvec) c.q8_0_matvec = s->q8_0_matvec;
    if (!c.q6_k_matvec) c.q6_k_matvec = s->q6_k_matvec;
    if (!c.q2_matvec) {
        c.q2_matvec = s->q2_matvec;
        c.b1_matvec = s->b1_matvec;
        c.q2_matmat = s->q2_matmat;
        c.b1_matmat = s->b1_matmat;
    }
    c.grouped_matmat_from = UNPADDED_MATMAT_FROM;
    c.qk256_matmat_from = c.matmat_pads_no_tile ? UNPADDED_MATMAT_FROM : PADDED_MATMAT_FROM;
    c.q16_matmat_from = UNPADDED_MATMAT_FROM;
    return c;
}

static void complete_all(void)
{
    for (int i = 0; i < N_ENTRIES; i++)
        if (registry[i].table) complete_tables[i] = complete(registry[i].table);
}

/* Entry i's complete table (pthread_once: models may load in parallel). */
static const bn_kernels *complete_table(int i)
{
    pthread_once(&completed, complete_all);
    return &complete_tables[i];
}

/* ===================================================== picking a table */

static int entry_usable(const kernel_entry *e, const bn_cpu_features *f)
{
    return e->table && e->supported(f);
}

/* The complete tables this CPU can run, best first. */
int bn_kernels_available(const bn_kernels **tables, int max)
{
    const bn_cpu_features f = bn_cpu_detect();
    int n = 0;
    for (int i = 0; i < N_ENTRIES && n < max; i++)
        if (entry_usable(&registry[i], &f)) tables[n++] = complete_table(i);
    return n;
}

/* Appends ", name" (or just name to an empty buf), truncating safely. */
static void append_name(char *buf, size_t len, const char *name)
{
    const size_t used = strlen(buf);
    if (used + 1 < len) snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
}

/* Their names, comma separated. */
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

/* The complete table for a name, or NULL with a message listing the valid ones. */
const bn_kernels *bn_kernels_select(const char *name, char *err, size_t errlen)
{
    if (!name || !strcmp(name, "auto")) name = "";
    const bn_cpu_features f = bn_cpu_detect();
    int known = 0;
    for (int i = 0; i < N_ENTRIES; i++) {
        const kernel_entry *e = &registry[i];
        const int wanted = !*name || !strcmp(name, e->name) || !strcmp(name, e->family);
        known |= wanted;
        if (wanted && entry_usable(e, &f)) return complete_table(i);
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

/* ======================================================= the read loop */

typedef uint64_t u64x2 __attribute__((vector_size(16))); /* plain C: SSE2 or NEON */
_Static_assert(BN_READ_BYTES == 4 * sizeof(u64x2), "one vector per sum per step");

/* The read loop: four independent sums of 16-byte vectors. */
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
