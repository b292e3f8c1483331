/*
 * kernels.h - the compute kernels, one implementation per instruction set.
 *
 * A bn_kernels table holds the few functions where the time goes: int8
 * activation quantization, the QK256 ternary products (matrix-vector for
 * decoding, matrix-matrix for prompt batches), the output layer's products
 * (F16, Q8_0, Q6_K) and the two halves of attention. scalar.c is the
 * definition of the results; every SIMD table must give bitwise identical
 * output (integer sums are exact, and the float work follows the same order).
 * bn_kernels_select() picks a table from CPUID/HWCAP at startup.
 */
#ifndef BN_KERNELS_H
#define BN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "qk256.h"

/* One token's activation vector quantized to int8 (docs/FORWARD.md,
 * Activation quantization). A NaN activation gives q = 0 in every table
 * (and is skipped by max|x|). */
typedef struct {
    int n;              /* logical length */
    int n_blocks;       /* ceil(n / 256); q is padded with zeros to n_blocks*256 */
    int8_t *q;          /* 64-byte aligned */
    int32_t *block_sums; /* sum of q over each 256-block */
    int32_t sum;        /* sum of all q */
    float scale;        /* 127 / max|x| (max floored at 1e-5) */
} bn_qact;

int bn_qact_alloc(bn_qact *a, int n);
void bn_qact_free(bn_qact *a);

/* Lanes of the F16 dot product: element k (k < cols rounded down to a
 * multiple of 16) is accumulated, as float(w)*x with a separate multiply
 * and add (no FMA), into lane k % 16; the lanes are then folded as
 * lane[i] += lane[i + w] for w = 8, 4, 2, 1 and the leftover elements are
 * added to lane 0 one by one in order. SIMD kernels reproduce this order. */
#define BN_F16_LANES 16

/* An activation vector quantized for the Q8_0 / Q6_K output layer, once
 * per token: groups of BN_Q8_GROUP values, each with its own float scale
 * d = max|x| / 127 and q = round-half-even(x * 127 / max|x|) clamped to
 * [-127, 127] (NaN -> -127; a group whose max|x| is below BN_Q8_TINY is
 * all zeros). The products then take, for each group g of a row, the
 * exact int32 sum isum_g of weight level * q over the group (times the
 * int8 sub-block scales for Q6_K) and add (dw_g * d_g) * (float)isum_g,
 * dw_g being the weight block's fp16 scale, separately multiplied and
 * added, into lane g % BN_Q8_LANES; the lanes are folded as
 * lane[i] += lane[i + w] for w = 8, 4, 2, 1 (quants.c is the definition). */
#define BN_Q8_GROUP 32
#define BN_Q8_LANES 16
#define BN_Q8_LEVELS 127.0f
#define BN_Q8_TINY 1e-30f /* 127 / BN_Q8_TINY is finite */
#define BN_Q8_SUM_SPAN 16 /* values per entry of sums */
typedef struct bn_q8act {
    int n;          /* values: a multiple of BN_Q8_GROUP */
    int8_t *q;      /* n levels */
    float *d;       /* n / BN_Q8_GROUP group scales */
    int16_t *sums;  /* n / BN_Q8_SUM_SPAN sums of 16 consecutive levels (for
                     * kernels that multiply offset weight levels) */
} bn_q8act;

/* A group's scale from its max|x| (above): *d = amax / 127; returns the
 * factor that maps x to levels before the rounding. */
static inline float bn_q8_inverse(float amax, float *d)
{
    *d = amax / BN_Q8_LEVELS;
    return amax >= BN_Q8_TINY ? BN_Q8_LEVELS / amax : 0.0f;
}

/* y[r] for rows r in [r0, r1) of a Q8_0 or Q6_K matrix w (rows of `cols`
 * values in the type's blocks) times a. */
typedef void (*bn_q8_matvec_fn)(const uint8_t *w, int cols, const bn_q8act *a, float *y, int r0,
                                int r1);

typedef struct {
    const char *name;
    /* x[0..n) -> a (a allocated for at least n). */
    void (*quantize)(const float *x, int n, bn_qact *a);
    /* y[r] for rows r in [r0, r1) of W times the quantized activation. */
    void (*qk256_matvec)(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1);
    /* y[r] = dot(f16 row r of w (cols wide), x) for r in [r0, r1). */
    void (*f16_matvec)(const uint16_t *w, int cols, const float *x, float *y, int r0, int r1);
    /* The product for n_tok activations at once (prompt batches): for rows
     * r in [r0, r1), y[t * ldy + r] = what qk256_matvec gives for a[t],
     * bitwise, with each weight block decoded once for many tokens. NULL
     * in tables without one: callers then use qk256_matvec per token. */
    void (*qk256_matmat)(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                         int r0, int r1);
    /* The products of a Q8_0 or Q6_K output layer (--lm-head, see
     * bn_q8act above): x[0..n) -> a, and the matrix products. NULL: dense.c
     * uses the portable reference of quants.h, which defines the results. */
    void (*q8_quantize)(const float *x, int n, bn_q8act *a);
    bn_q8_matvec_fn q8_0_matvec;
    bn_q8_matvec_fn q6_k_matvec;
    /* Attention of n_q query heads sharing one kv head over n rows of the
     * F32 KV cache, `stride` floats apart (docs/FORWARD.md, Attention;
     * BN_ATTN_LANES says the order). Query j is q + j*d and its scores
     * are scores + j*ld: scores[j*ld + p] = dot(q_j, k_p) * scale. Its
     * output is out + j*d: out[j*d + i] = sum over p of w[j*ld + p] *
     * v_p[i], for i < d. Each cache row is read once for all n_q heads.
     * hot says that the rows were read just before (a prompt's tokens each
     * read the rows of the ones before them), so a kernel may read several
     * side by side; cold rows (decoding) come from RAM in one pass, which
     * reading rows one after another streams fastest. The results do not
     * depend on it. */
    void (*attn_scores)(const float *q, int n_q, const float *k, size_t stride, int n, int d,
                        float scale, float *scores, size_t ld, int hot);
    void (*attn_values)(const float *w, size_t ld, int n_q, const float *v, size_t stride, int n,
                        int d, float *out);
    /* The same over an F16 KV cache (rows of halves, `stride` halves
     * apart): the results of attn_scores / attn_values, bit for bit, on
     * the rows widened to f32 (bn_f16_to_f32, exact). */
    void (*attn_scores_f16)(const float *q, int n_q, const uint16_t *k, size_t stride, int n,
                            int d, float scale, float *scores, size_t ld, int hot);
    void (*attn_values_f16)(const float *w, size_t ld, int n_q, const uint16_t *v, size_t stride,
                            int n, int d, float *out);
} bn_kernels;

/* Lanes of the attention dot product: element i of q * k_p (multiply, then
 * add) goes into lane i % 16 in increasing i; the lanes are folded as for
 * the F16 product (lane[i] += lane[i + w], w = 8, 4, 2, 1) and lane 0 is
 * multiplied by the scale. A weighted sum of values adds w[p] * v_p[i]
 * (multiply, then add) into out[i] from 0 in increasing p: its elements
 * are independent, so any vector width gives the same bits. */
#define BN_ATTN_LANES 16

/* Defines a table's four attention entries attn_scores_NAME,
 * attn_values_NAME, attn_scores_f16_NAME and attn_values_f16_NAME (static,
 * with the target attribute ATTR, which may be empty) from its two inline
 * bodies
 *   SCORES(q, n_q, const void *k, int f16, stride, n, d, scale, scores, ld, hot)
 *   VALUES(w, ld, n_q, const void *v, int f16, stride, n, d, out)
 * which read rows of floats when f16 is 0 and of F16 halves when it is 1:
 * a constant, so each entry compiles to one kind of row load and the two
 * kinds share every other step. */
/* NOLINTBEGIN(bugprone-macro-parentheses): ATTR is an attribute, not an expression */
#define BN_ATTN_ENTRIES(ATTR, NAME, SCORES, VALUES)                                             \
    ATTR static void attn_scores_##NAME(const float *q, int n_q, const float *k, size_t stride, \
                                        int n, int d, float scale, float *scores, size_t ld,    \
                                        int hot)                                                \
    {                                                                                           \
        SCORES(q, n_q, k, 0, stride, n, d, scale, scores, ld, hot);                             \
    }                                                                                           \
    ATTR static void attn_values_##NAME(const float *w, size_t ld, int n_q, const float *v,     \
                                        size_t stride, int n, int d, float *out)                \
    {                                                                                           \
        VALUES(w, ld, n_q, v, 0, stride, n, d, out);                                            \
    }                                                                                           \
    ATTR static void attn_scores_f16_##NAME(const float *q, int n_q, const uint16_t *k,         \
                                            size_t stride, int n, int d, float scale,           \
                                            float *scores, size_t ld, int hot)                  \
    {                                                                                           \
        SCORES(q, n_q, k, 1, stride, n, d, scale, scores, ld, hot);                             \
    }                                                                                           \
    ATTR static void attn_values_f16_##NAME(const float *w, size_t ld, int n_q,                 \
                                            const uint16_t *v, size_t stride, int n, int d,     \
                                            float *out)                                         \
    {                                                                                           \
        VALUES(w, ld, n_q, v, 1, stride, n, d, out);                                            \
    }
/* NOLINTEND(bugprone-macro-parentheses) */

extern const bn_kernels bn_kernels_scalar;

/* "auto"/NULL picks the best the CPU supports; "scalar", a family name
 * ("avx2", "avx512", "neon": the best table of that family the CPU
 * supports) or a table name ("avx512-vnni", "avx512-bw", "neon-dotprod",
 * "neon-plain") asks for one. A kernel the CPU lacks, or an unknown name,
 * returns NULL with a one-line message in err. */
const bn_kernels *bn_kernels_select(const char *name, char *err, size_t errlen);

/* The SIMD tables. Each is defined only on its own architecture (x86-64:
 * avx2, avx512-vnni, avx512-bw; aarch64: neon-dotprod, neon-plain): reach
 * them through bn_kernels_select() or bn_kernels_available(), which know
 * what the running CPU supports. */
extern const bn_kernels bn_kernels_avx2;
extern const bn_kernels bn_kernels_avx512_vnni;
extern const bn_kernels bn_kernels_avx512_bw;
extern const bn_kernels bn_kernels_neon_dotprod;
extern const bn_kernels bn_kernels_neon_plain;

#define BN_KERNELS_MAX 8 /* more than the tables of any architecture */

/* The tables this CPU can run, best first and "scalar" last; stores up to
 * max of them and returns how many it stored. */
int bn_kernels_available(const bn_kernels **tables, int max);
/* Their names as "avx512-vnni, avx512-bw, avx2, scalar" (for --info). */
void bn_kernels_available_names(char *buf, size_t len);

/* Helpers of the kernel tables, the scalar one included (kernels.c). Each
 * instruction set provides the integer core, exact in int32: */
/* sum(code * q) over a whole row of n blocks (per-tensor scale). */
typedef int32_t (*bn_row_dot_fn)(const uint8_t *codes, const int8_t *q, int n);
/* sum(code * q) of each of n consecutive blocks (per-block scales). */
typedef void (*bn_block_dots_fn)(const uint8_t *codes, const int8_t *q, int n, int32_t *dots);
/* Rows [r0, r1) of the QK256 product from those integer sums, with the
 * float epilogue (docs/FORWARD.md, Ternary products) in the order scalar.c
 * evaluates it. */
/* sum(code * q[t]) over the nb blocks of `rows` consecutive rows (row_bytes
 * apart) for a tile of tokens: sums[i * tile + t] for row i, token t. */
typedef void (*bn_row_tile_fn)(const uint8_t *codes, size_t row_bytes, const int8_t *const *q,
                               int nb, int32_t *sums);
/* A tile's epilogue in one go, for a shape that has its own: sums as the
 * tile function left them, tok_sum / tok_scale the tile's tokens' (float)
 * sum and scale; y[t * ldy + i] for row i and token t < nt only. */
typedef void (*bn_tile_epilogue_fn)(const int32_t *sums, const float *tok_sum,
                                    const float *tok_scale, int nt, float w_scale, float *y,
                                    size_t ldy);
/* qk256_matmat from a tile function covering `rows` rows x `tile` tokens:
 * a short last token tile repeats its last token (the extra sums are
 * dropped), rows left over at the end go through matvec, and so do
 * per-block-scale matrices; the epilogue is bn_ternary_epilogue. */
typedef struct {
    int tile, rows; /* tile: a multiple of 4 (the epilogue's vectors), at most 32; rows <= 4 */
    bn_row_tile_fn row_tile;
    void (*matvec)(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1);
    bn_tile_epilogue_fn epilogue; /* NULL: the portable one, row by row */
} bn_matmat_shape;
void bn_qk256_matmat_tiles(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                           int r0, int r1, const bn_matmat_shape *shape);
/* x + i when the len floats from i are all below `valid`, else a copy of
 * those that are in pad (len floats), zero-padded: padding quantizes to 0. */
const float *bn_act_chunk(const float *x, int valid, int i, int len, float *pad);
void bn_qk256_matvec_rows(const qk256_matrix *w, const bn_qact *a, float *y, int r0, int r1,
                          bn_row_dot_fn row_dot, bn_block_dots_fn block_dots);
/* The activation scale given max|x_i| of the vector (NaNs skipped):
 * (float)(127 / max(absmax, 1e-5)) computed in double (docs/FORWARD.md,
 * Activation quantization). */
float bn_act_scale(float absmax);

/* The plain read loop the kernels' bandwidth is measured against (--bench,
 * bench/bench_kernels.c): the sum of `bytes` bytes (a multiple of
 * BN_READ_BYTES, 16-byte aligned) read as 16-byte vectors into four
 * independent sums, so that several loads are in flight as in the kernels. */
#define BN_READ_BYTES 64
uint64_t bn_read_sum(const void *buf, size_t bytes);

/* Shared helpers of every kernel (defined in scalar.c). */
float bn_f16_to_f32(uint16_t h);
uint16_t bn_f32_to_f16(float f);
/* The F16 dot product of the scalar kernel (the definition of the lanes). */
float bn_f16_dot_scalar(const uint16_t *w, const float *x, int n);
/* The end of the F16 dot product after the folded lanes: the leftover
 * elements [k, n) are added to lane 0 one by one (see BN_F16_LANES). */
static inline float bn_f16_dot_tail(float lane0, const uint16_t *w, const float *x, int k, int n)
{
    for (; k < n; k++) lane0 += bn_f16_to_f32(w[k]) * x[k];
    return lane0;
}
/* The float epilogue (docs/FORWARD.md, Ternary products) for a
 * per-tensor scale. */
static inline float bn_ternary_epilogue(int32_t sumi, const bn_qact *a, float w_scale)
{
    return ((float)sumi - (float)a->sum) / a->scale * w_scale;
}

#endif
