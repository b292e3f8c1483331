/*
 * quants.c - decoding of the non-ternary ggml types (quants.h) and the
 * quantizers of --lm-head. ggml's block layouts, little-endian, fp16 being
 * IEEE half precision:
 *
 *   Q8_0  32 values in 34 bytes: fp16 d, int8 qs[32];  x[i] = qs[i] * d.
 *   Q4_0  32 values in 18 bytes: fp16 d, uint8 qs[16]; value i < 16 is the
 *         low nibble of qs[i], value i + 16 its high nibble; x = (nibble - 8) * d.
 *   Q4_K  256 values in 144 bytes: fp16 d, fp16 dmin, uint8 scales[12],
 *         uint8 qs[128]. Eight sub-blocks of 32 values, each with a 6-bit
 *         scale sc and a 6-bit min m packed into scales[] (k4_scale_min);
 *         x = d*sc*nibble - dmin*m. Each 32 bytes of qs hold 64 values: the
 *         low nibbles are sub-block 2k, the high nibbles sub-block 2k + 1.
 *   Q6_K  256 values in 210 bytes: uint8 ql[128], uint8 qh[64], int8
 *         scales[16], fp16 d. Sixteen sub-blocks of 16 values with an int8
 *         scale; x = d * scale * (q - 32) with a 6-bit q whose 4 low bits
 *         come from ql and 2 high bits from qh. Each half of 128 values uses
 *         64 bytes of ql and 32 of qh: value 32k + l (k < 4, l < 32) has its
 *         low bits in nibble k/2 of ql[l + 32*(k%2)] and its high bits in
 *         bits 2k+1:2k of qh[l].
 *   F32, F16 and BF16 (the upper half of an f32) are one value per "block".
 *
 * bn_quant_dot dequantizes a chunk and multiplies, in plain C written so
 * the compiler can vectorize it (independent partial sums). The output
 * layer in Q8_0 or Q6_K takes the integer products at the end of this
 * file instead (the portable reference of kernels.h's lm-head kernels).
 */
#include "quants.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "f16.h"
#include "runtime/platform.h"
#include "table.h"

#define QK8_0 BN_Q8_0_BLOCK
#define Q8_0_BYTES BN_Q8_0_BYTES
#define Q8_0_MAX 127 /* int8 codes span [-127, 127] */
#define QK4_0 32
#define Q4_0_BYTES 18
#define Q4_0_OFFSET 8 /* nibble 8 is zero */
#define QK_K BN_Q6_K_BLOCK
#define Q4_K_BYTES 144
#define Q4_K_SUB 32 /* values per Q4_K sub-block */
#define Q6_K_BYTES BN_Q6_K_BYTES
#define Q6_K_SUB BN_Q6_K_SUB
#define Q6_K_OFFSET BN_Q6_K_OFFSET /* q - 32 spans [-32, 31] */
#define Q6_K_SCALE_LO (-128)       /* the int8 sub-block scales */
#define Q6_K_SCALE_HI 127
#define F16_BYTES 2

#define QK2_0 64
#define QK1_0 128
#define GROUPED_BYTES 18 /* Q2_0 and Q1_0: fp16 d and 16 bytes */
#define DOT_CHUNK 256    /* values dequantized at a time: a multiple of every block */
#define DOT_LANES 16     /* independent partial sums, so the compiler can vectorize */

static float load_f16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return bn_f16_to_f32(h);
}

static void store_f16(uint8_t *p, float v)
{
    uint16_t h = bn_f32_to_f16(v);
    memcpy(p, &h, sizeof h);
}

/* ------------------------------------------------------------- decoders */

static void dequant_f32(const uint8_t *src, float *out, int n)
{
    memcpy(out, src, (size_t)n * sizeof *out);
}

static void dequant_f16(const uint8_t *src, float *out, int n)
{
    for (int i = 0; i < n; i++) out[i] = load_f16(src + F16_BYTES * (size_t)i);
}

/* BF16 values widened to floats. */
static void dequant_bf16(const uint8_t *src, float *out, int n)
{
    for (int i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * (size_t)i, sizeof h);
        uint32_t bits = (uint32_t)h << 16;
        memcpy(&out[i], &bits, sizeof bits);
    }
}

/* Q8_0 blocks: d * q. */
static void dequant_q8_0(const uint8_t *src, float *restrict out, int n)
{
    for (int b = 0; b < n / QK8_0; b++, src += Q8_0_BYTES, out += QK8_0) {
        const float d = load_f16(src);
        const int8_t *restrict q = (const int8_t *)(src + F16_BYTES);
        for (int i = 0; i < QK8_0; i++) out[i] = (float)q[i] * d;
    }
}

/* Q4_0 blocks: d * (q - 8). */
static void dequant_q4_0(const uint8_t *src, float *restrict out, int n)
{
    for (int b = 0; b < n / QK4_0; b++, src += Q4_0_BYTES, out += QK4_0) {
        const float d = load_f16(src);
        const uint8_t *restrict qs = src + F16_BYTES;
        for (int i = 0; i < QK4_0 / 2; i++) {
            out[i] = (float)((qs[i] & 0xF) - Q4_0_OFFSET) * d;
            out[i + QK4_0 / 2] = (float)((qs[i] >> 4) - Q4_0_OFFSET) * d;
        }
    }
}

/* Q2_0 (docs/FORMAT.md, Q2_0): blocks of 64, fp16 d then 2-bit codes,
 * value (code - 1) * d; Q1_0: blocks of 128, fp16 d then bits, +-d. A
 * Bonsai file may hold its embedding and output layer so. */
static void dequant_q2_0(const uint8_t *src, float *restrict out, int n)
{
    for (int b = 0; b < n / QK2_0; b++, src += GROUPED_BYTES, out += QK2_0) {
        const float d = load_f16(src);
        for (int i = 0; i < QK2_0; i++)
            out[i] = (float)((int)((src[F16_BYTES + i / 4] >> (2 * (i % 4))) & 3) - 1) * d;
    }
}

static void dequant_q1_0(const uint8_t *src, float *restrict out, int n)
{
    for (int b = 0; b < n / QK1_0; b++, src += GROUPED_BYTES, out += QK1_0) {
        const float d = load_f16(src);
        for (int i = 0; i < QK1_0; i++) out[i] = src[F16_BYTES + i / 8] >> (i % 8) & 1 ? d : -d;
    }
}

/* The 6-bit scale and min of Q4_K sub-block j (0..7): sub-blocks 0-3 keep
 * them in the low 6 bits of scales[j] and scales[j + 4]; sub-blocks 4-7
 * keep their low 4 bits in the nibbles of scales[j + 4] and their top 2
 * bits in the spare top bits of scales[j - 4] (scale) and scales[j] (min). */
static void k4_scale_min(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

/* Q4_K super-blocks: d * scale * q - dmin * min per sub-block. */
static void dequant_q4_k(const uint8_t *src, float *restrict out, int n)
{
    for (int b = 0; b < n / QK_K; b++, src += Q4_K_BYTES, out += QK_K) {
        const float d = load_f16(src), dmin = load_f16(src + F16_BYTES);
        const uint8_t *scales = src + (size_t)2 * F16_BYTES, *qs = scales + 12;
        for (int sub = 0; sub < QK_K / Q4_K_SUB; sub++) {
            int sc, m;
            k4_scale_min(scales, sub, &sc, &m);
            const float ds = d * (float)sc, dm = dmin * (float)m;
            const uint8_t *restrict q = qs + Q4_K_SUB * (size_t)(sub / 2);
            const int shift = 4 * (sub % 2);
            for (int l = 0; l < Q4_K_SUB; l++)
                out[Q4_K_SUB * sub + l] = ds * (float)((q[l] >> shift) & 0xF) - dm;
        }
    }
}

#define Q6_K_RUN 32 /* values sharing one ql/qh byte range */
#define Q6_K_QH BN_Q6_K_QH
#define Q6_K_SCALES BN_Q6_K_SCALES
#define Q6_K_D BN_Q6_K_D

/* Byte offsets of the 6-bit value i (0..255) of a Q6_K block (see top). */
static void q6_k_place(int i, int *ql, int *ql_shift, int *qh, int *qh_shift)
{
    const int half = i / BN_Q6_K_HALF, k = (i % BN_Q6_K_HALF) / Q6_K_RUN, l = i % Q6_K_RUN;
    *ql = BN_Q6_K_HALF_QL * half + l + Q6_K_RUN * (k % 2);
    *ql_shift = 4 * (k / 2);
    *qh = Q6_K_QH + Q6_K_RUN * half + l;
    *qh_shift = 2 * k;
}

/* The 256 levels q - 32 of a Q6_K block. */
static void q6_k_levels(const uint8_t *restrict src, int8_t *restrict out)
{
    for (int half = 0; half < QK_K / BN_Q6_K_HALF; half++)
        for (int k = 0; k < BN_Q6_K_HALF / Q6_K_RUN; k++) {
            const uint8_t *restrict ql = src + BN_Q6_K_HALF_QL * (size_t)half +
                                         Q6_K_RUN * (size_t)(k % 2);
            const uint8_t *restrict qh = src + Q6_K_QH + Q6_K_RUN * (size_t)half;
            const int ql_shift = 4 * (k / 2), qh_shift = 2 * k;
            int8_t *restrict o = out + BN_Q6_K_HALF * (size_t)half + Q6_K_RUN * (size_t)k;
            for (int l = 0; l < Q6_K_RUN; l++)
                o[l] = (int8_t)((((ql[l] >> ql_shift) & 0xF) | ((qh[l] >> qh_shift) & 3) << 4) -
                                Q6_K_OFFSET);
        }
}

/* Q6_K super-blocks: d * scale * q per sub-block. */
static void dequant_q6_k(const uint8_t *src, float *restrict out, int n)
{
    int8_t q[QK_K];
    for (int b = 0; b < n / QK_K; b++, src += Q6_K_BYTES, out += QK_K) {
        q6_k_levels(src, q);
        const float d = load_f16(src + Q6_K_D);
        const int8_t *sc = (const int8_t *)(src + Q6_K_SCALES);
        for (int j = 0; j < QK_K / Q6_K_SUB; j++) {
            const float ds = d * (float)sc[j];
            for (int l = Q6_K_SUB * j; l < Q6_K_SUB * (j + 1); l++) out[l] = ds * (float)q[l];
        }
    }
}

/* ----------------------------------------------------------- quantizers */

static void quant_f16(const float *x, uint8_t *dst, int n)
{
    for (int i = 0; i < n; i++) store_f16(dst + F16_BYTES * (size_t)i, x[i]);
}

/* max |x_i|; a NaN never compares greater. */
static float abs_max(const float *x, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > m) m = fabsf(x[i]);
    return m;
}

/* The value of largest magnitude, with its sign. */
static float signed_max(const float *x, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > fabsf(m)) m = x[i];
    return m;
}

static int clamp_int(float v, int lo, int hi)
{
    return v < (float)lo ? lo : v > (float)hi ? hi : (int)v;
}

/* Rounded and clamped x / scale, or 0 when the scale is 0. */
static int quant_level(float x, float scale, int lo, int hi)
{
    return scale != 0.0f ? clamp_int(rintf(x / scale), lo, hi) : 0;
}

/* d = max|x| / 127 per block; the stored (fp16) d is used for the codes. */
static void quant_q8_0(const float *x, uint8_t *dst, int n)
{
    for (int b = 0; b < n / QK8_0; b++, x += QK8_0, dst += Q8_0_BYTES) {
        store_f16(dst, abs_max(x, QK8_0) / (float)Q8_0_MAX);
        const float d = load_f16(dst);
        for (int i = 0; i < QK8_0; i++)
            dst[F16_BYTES + i] = (uint8_t)(int8_t)quant_level(x[i], d, -Q8_0_MAX, Q8_0_MAX);
    }
}

/* Each sub-block's scale maps its value of largest magnitude to -32 (the
 * end of [-32, 31] with room for it); the sub-block scales are stored as
 * int8 multiples of d, the largest one as -128, rounded away from zero so
 * no value of the sub-block falls outside the range. */
static void quant_q6_k_block(const float *x, uint8_t *dst)
{
    float sub[QK_K / Q6_K_SUB];
    float big = 0.0f;
    for (int j = 0; j < QK_K / Q6_K_SUB; j++) {
        sub[j] = signed_max(x + Q6_K_SUB * (size_t)j, Q6_K_SUB) / -(float)Q6_K_OFFSET;
        if (fabsf(sub[j]) > fabsf(big)) big = sub[j];
    }
    memset(dst, 0, Q6_K_BYTES);
    store_f16(dst + Q6_K_D, big / (float)Q6_K_SCALE_LO);
    const float d = load_f16(dst + Q6_K_D);
    int8_t *sc = (int8_t *)(dst + Q6_K_SCALES);
    for (int j = 0; j < QK_K / Q6_K_SUB; j++) {
        const float r = d != 0.0f ? sub[j] / d : 0.0f;
        sc[j] = (int8_t)clamp_int(r < 0.0f ? floorf(r) : ceilf(r), Q6_K_SCALE_LO, Q6_K_SCALE_HI);
    }
    for (int i = 0; i < QK_K; i++) {
        const int sub_block = i / Q6_K_SUB;
        const float ds = d * (float)sc[sub_block];
        const int q = quant_level(x[i], ds, -Q6_K_OFFSET, Q6_K_OFFSET - 1) + Q6_K_OFFSET;
        int ql, qls, qh, qhs;
        q6_k_place(i, &ql, &qls, &qh, &qhs);
        dst[ql] |= (uint8_t)((q & 0xF) << qls);
        dst[qh] |= (uint8_t)((q >> 4) << qhs);
    }
}

static void quant_q6_k(const float *x, uint8_t *dst, int n)
{
    for (int b = 0; b < n / QK_K; b++)
        quant_q6_k_block(x + QK_K * (size_t)b, dst + Q6_K_BYTES * (size_t)b);
}

/* ---------------------------------------------------------------- table */

typedef struct {
    uint32_t type;
    void (*dequant)(const uint8_t *src, float *out, int n);
    void (*quant)(const float *x, uint8_t *dst, int n); /* NULL: not a --lm-head target */
} codec;

static const codec codecs[] = {
    {GGML_TYPE_F32, dequant_f32, NULL},         {GGML_TYPE_F16, dequant_f16, quant_f16},
    {GGML_TYPE_BF16, dequant_bf16, NULL},       {GGML_TYPE_Q8_0, dequant_q8_0, quant_q8_0},
    {GGML_TYPE_Q4_0, dequant_q4_0, NULL},       {GGML_TYPE_Q4_K, dequant_q4_k, NULL},
    {GGML_TYPE_Q6_K, dequant_q6_k, quant_q6_k}, {GGML_TYPE_Q2_0, dequant_q2_0, NULL},
    {GGML_TYPE_Q1_0, dequant_q1_0, NULL},
};

static const codec *find_codec(uint32_t type)
{
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (codecs[i].type == type) return &codecs[i];
    return NULL;
}

int bn_quant_can_dequantize(uint32_t type) { return find_codec(type) != NULL; }

int bn_quant_can_quantize(uint32_t type)
{
    const codec *c = find_codec(type);
    return c && c->quant;
}

size_t bn_quant_row_bytes(uint32_t type, int n)
{
    const int64_t ne[GGUF_MAX_DIMS] = {n, 1, 1, 1};
    return (size_t)ggml_tensor_nbytes(type, ne);
}

void bn_dequantize_row(uint32_t type, const uint8_t *src, float *out, int n)
{
    find_codec(type)->dequant(src, out, n);
}

void bn_quantize_row(uint32_t type, const float *x, uint8_t *dst, int n)
{
    find_codec(type)->quant(x, dst, n);
}

/* lane[k % DOT_LANES] += w[k] * x[k] for the whole lanes of n. */
static void add_products(float *restrict lane, const float *restrict w, const float *restrict x,
                         int n)
{
    int k = 0;
    for (; k + DOT_LANES <= n; k += DOT_LANES)
        for (int l = 0; l < DOT_LANES; l++) lane[l] += w[k + l] * x[k + l];
    for (; k < n; k++) lane[0] += w[k] * x[k];
}

/* Dequantize a chunk, then multiply. */
static float dot_by_chunks(uint32_t type, const uint8_t *row, const float *x, int n)
{
    const codec *c = find_codec(type);
    float buf[DOT_CHUNK], lane[DOT_LANES] = {0};
    for (int k = 0; k < n; k += DOT_CHUNK) {
        const int len = n - k < DOT_CHUNK ? n - k : DOT_CHUNK;
        c->dequant(row + bn_quant_row_bytes(type, k), buf, len);
        add_products(lane, buf, x + k, len);
    }
    for (int width = DOT_LANES / 2; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) lane[l] += lane[l + width];
    return lane[0];
}

float bn_quant_dot(uint32_t type, const uint8_t *row, const float *x, int n)
{
    return dot_by_chunks(type, row, x, n);
}

/* ----------------------------------------------- lm-head products (kernels.h) */

/* Runs of the interleaved levels of n values (table.h, bn_q8act.qi). */
static size_t q8_runs(int n) { return ((size_t)n + BN_Q8_RUN_BYTES - 1) / BN_Q8_RUN_BYTES; }

int bn_q8act_alloc(bn_q8act *a, int n)
{
    const int groups = n / BN_Q8_GROUP;
    a->n = n;
    /* + 1: never a zero-size allocation */
    a->q = malloc((size_t)n + 1);
    a->d = malloc(((size_t)groups + 1) * sizeof *a->d);
    a->sums = malloc(((size_t)n / BN_Q8_SUM_SPAN + 1) * sizeof *a->sums);
    a->qi = bn_aligned_alloc(BN_Q8_QI_ALIGN, q8_runs(n) * BN_Q8_RUN_BYTES + BN_Q8_QI_ALIGN);
    if (a->q && a->d && a->sums && a->qi) return 0;
    bn_q8act_free(a);
    return -1;
}

/* Frees the buffers of a. */
void bn_q8act_free(bn_q8act *a)
{
    free(a->q);
    free(a->d);
    free(a->sums);
    bn_aligned_free(a->qi);
    a->q = NULL;
    a->d = NULL;
    a->sums = NULL;
    a->qi = NULL;
}

void bn_q8act_interleave(bn_q8act *a)
{
    const size_t runs = q8_runs(a->n), groups = (size_t)a->n / BN_Q8_GROUP;
    memset(a->qi + (runs ? runs - 1 : 0) * BN_Q8_RUN_BYTES, 0, runs ? BN_Q8_RUN_BYTES : 0);
    for (size_t g = 0; g < groups; g++) {
        int8_t *run = a->qi + g / BN_Q8_RUN * BN_Q8_RUN_BYTES + g % BN_Q8_RUN * BN_Q8_SLICE;
        for (int i = 0; i < BN_Q8_RUN_SLICES; i++)
            memcpy(run + (size_t)i * BN_Q8_RUN * BN_Q8_SLICE,
                   a->q + g * BN_Q8_GROUP + (size_t)i * BN_Q8_SLICE, BN_Q8_SLICE);
    }
}

/* v rounded half to even after clamping to [-127, 127] in float, NaN to
 * -127: the order of the SIMD max (keeps the bound when v is NaN), min
 * and convert. */
static int8_t q8_level(float v)
{
    v = v > -BN_Q8_LEVELS ? v : -BN_Q8_LEVELS;
    v = v < BN_Q8_LEVELS ? v : BN_Q8_LEVELS;
    return (int8_t)rintf(v);
}

/* x quantized by groups (table.h, bn_q8act): the definition. */
void bn_q8act_quantize_ref(const float *x, int n, bn_q8act *a)
{
    a->n = n;
    for (int g = 0; g < n / BN_Q8_GROUP; g++, x += BN_Q8_GROUP) {
        const float inv = bn_q8_inverse(abs_max(x, BN_Q8_GROUP), &a->d[g]);
        for (int i = 0; i < BN_Q8_GROUP; i++) a->q[g * BN_Q8_GROUP + i] = q8_level(x[i] * inv);
    }
    for (int s = 0; s < n / BN_Q8_SUM_SPAN; s++) {
        int sum = 0;
        for (int i = 0; i < BN_Q8_SUM_SPAN; i++) sum += a->q[s * BN_Q8_SUM_SPAN + i];
        a->sums[s] = (int16_t)sum;
    }
    bn_q8act_interleave(a);
}

/* sum(w[i] * q[i]) for i < n, exact in int32. */
static int32_t int8_dot(const int8_t *w, const int8_t *q, int n)
{
    int32_t sum = 0;
    for (int i = 0; i < n; i++) sum += (int32_t)w[i] * q[i];
    return sum;
}

/* Group g's share of a row (kernels.h): (dw * d_g) * isum into lane g % 16. */
static void add_group(float *lane, int g, float dw, const bn_q8act *a, int32_t isum)
{
    lane[g % BN_Q8_LANES] += dw * a->d[g] * (float)isum;
}

float bn_q8_fold_lanes(float *lane)
{
    for (int width = BN_Q8_LANES / 2; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) lane[l] += lane[l + width];
    return lane[0];
}

/* Rows [r0, r1) of a Q8_0 matrix times a: the definition. */
void bn_q8_0_matvec_ref(const uint8_t *w, int cols, const bn_q8act *a, float *y, int r0, int r1)
{
    const int nb = cols / QK8_0;
    for (int r = r0; r < r1; r++) {
        const uint8_t *block = w + (size_t)r * nb * Q8_0_BYTES;
        float lane[BN_Q8_LANES] = {0};
        for (int g = 0; g < nb; g++, block += Q8_0_BYTES) {
            const int32_t isum = int8_dot((const int8_t *)(block + F16_BYTES),
                                          a->q + (size_t)g * QK8_0, QK8_0);
            add_group(lane, g, load_f16(block), a, isum);
        }
        y[r] = bn_q8_fold_lanes(lane);
    }
}

#define Q6_K_SUBS_PER_GROUP (BN_Q8_GROUP / Q6_K_SUB)

/* Rows [r0, r1) of a Q6_K matrix times a: the definition. */
void bn_q6_k_matvec_ref(const uint8_t *w, int cols, const bn_q8act *a, float *y, int r0, int r1)
{
    const int nb = cols / QK_K;
    int8_t level[QK_K];
    for (int r = r0; r < r1; r++) {
        const uint8_t *block = w + (size_t)r * nb * Q6_K_BYTES;
        float lane[BN_Q8_LANES] = {0};
        for (int b = 0; b < nb; b++, block += Q6_K_BYTES) {
            q6_k_levels(block, level);
            const int8_t *sc = (const int8_t *)(block + Q6_K_SCALES);
            const float dw = load_f16(block + Q6_K_D);
            for (int k = 0; k < BN_Q6_K_GROUPS; k++) {
                const int g = b * BN_Q6_K_GROUPS + k;
                int32_t isum = 0;
                for (int s = k * Q6_K_SUBS_PER_GROUP; s < (k + 1) * Q6_K_SUBS_PER_GROUP; s++)
                    isum += sc[s] * int8_dot(level + (size_t)s * Q6_K_SUB,
                                             a->q + (size_t)b * QK_K + (size_t)s * Q6_K_SUB,
                                             Q6_K_SUB);
                add_group(lane, g, dw, a, isum);
            }
        }
        y[r] = bn_q8_fold_lanes(lane);
    }
}
