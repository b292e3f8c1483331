/*
 * table.h - the compute kernels' table, one per instruction set.
 *
 * A bn_kernels table holds the few functions where the time goes: int8
 * activation quantization, the QK256 ternary products (matrix-vector for
 * decoding, matrix-matrix for prompt batches), the output layer's products
 * (F16, Q8_0, Q6_K), the two halves of attention and the float row
 * operations (softmax's exps, RMSNorm, SiLU; rows.h). scalar.c is the
 * definition of the results; every SIMD table must give bitwise identical
 * output (integer sums are exact, and the float work follows the same order).
 * Each table's file includes this; kernels.h picks one for the CPU.
 *
 * A table's file sets every entry but the few marked optional below, which
 * it may leave NULL where it has nothing faster than the scalar table's.
 * The table the engine gets (bn_kernels_select) is complete: kernels.c
 * fills the optional entries from the scalar table and the *_matmat_from
 * choices once, when it picks the table, so callers never test an entry.
 */
#ifndef BN_TABLE_H
#define BN_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "act.h"
#include "f16.h"
#include "qk256.h"
#include "rows.h"

/* Lanes of the F16 dot product: element k (k < cols rounded down to a
 * multiple of 16) is accumulated, as float(w)*x with a separate multiply
 * and add (no FMA), into lane k % 16; the lanes are then folded as
 * lane[i] += lane[i + w] for w = 8, 4, 2, 1 and the leftover elements are
 * added to lane 0 one by one in order. SIMD kernels reproduce this order. */
#define BN_F16_LANES 16
#define BN_F16_INPUTS 4 /* inputs per pass over a row of f16_matmat */

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
/* The levels again, interleaved for the prompt-batch products of Q2_0 and
 * Q1_0 matrices: runs of BN_Q8_RUN groups (the last run padded with zero
 * levels), each run BN_Q8_RUN_SLICES slices of BN_Q8_RUN * 4 bytes, slice
 * i holding bytes 4i..4i+3 of each of the run's groups in turn. A 4-byte
 * lane of a vector read there belongs to one group, so a dot product into
 * 32-bit lanes sums each group apart, with no horizontal sums. */
#define BN_Q8_RUN 16        /* groups per run: the float lanes */
#define BN_Q8_SLICE 4       /* bytes of a group per slice */
#define BN_Q8_RUN_SLICES 8  /* BN_Q8_GROUP / BN_Q8_SLICE */
#define BN_Q8_RUN_BYTES 512 /* BN_Q8_RUN * BN_Q8_GROUP */
_Static_assert(BN_Q8_RUN_BYTES == BN_Q8_RUN * BN_Q8_GROUP, "a run is BN_Q8_RUN groups");
typedef struct bn_q8act {
    int n;         /* values: a multiple of BN_Q8_GROUP */
    int8_t *q;     /* n levels */
    float *d;      /* n / BN_Q8_GROUP group scales */
    int16_t *sums; /* n / BN_Q8_SUM_SPAN sums of 16 consecutive levels (for
                    * kernels that multiply offset weight levels) */
    int8_t *qi;    /* the n levels interleaved (above), whole runs, 64-byte aligned */
} bn_q8act;

/* A group's scale from its max|x| (above): *d = amax / 127; returns the
 * factor that maps x to levels before the rounding. */
static inline float bn_q8_inverse(float amax, float *d)
{
    *d = amax / BN_Q8_LEVELS;
    return amax >= BN_Q8_TINY ? BN_Q8_LEVELS / amax : 0.0f;
}

/* The ternary products' types: y[r] for rows r in [r0, r1) of w times one
 * quantized activation vector, and times n_tok of them (y[t * ldy + r]). */
typedef void (*bn_qk256_matvec_fn)(const qk256_matrix *w, const bn_qact *a, float *y, int r0,
                                   int r1);
typedef void (*bn_qk256_matmat_fn)(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y,
                                   int ldy, int r0, int r1);

/* y[r] for rows r in [r0, r1) of a Q8_0 or Q6_K matrix w (rows of `cols`
 * values in the type's blocks) times a. */
typedef void (*bn_q8_matvec_fn)(const uint8_t *w, int cols, const bn_q8act *a, float *y, int r0,
                                int r1);

struct bn_q8rows; /* q8rows.h: the output layer's int8-row copy */
/* y[r] for rows r in [r0, r1) of a group-scaled matrix w (grouped.h). */
typedef void (*bn_grouped_matvec_fn)(const qk256_matrix *w, const bn_q8act *a, float *y, int r0,
                                     int r1);
/* The same times n_tok activations at once: y[t * ldy + r]. */
typedef void (*bn_grouped_matmat_fn)(const qk256_matrix *w, const bn_q8act *a, int n_tok, float *y,
                                     int ldy, int r0, int r1);

typedef struct {
    const char *name;
    /* x[0..n) -> a (a allocated for at least n). */
    void (*quantize)(const float *x, int n, bn_qact *a);
    /* y[r] for rows r in [r0, r1) of W times the quantized activation. */
    bn_qk256_matvec_fn qk256_matvec;
    /* Optional, the two together: the same for a matrix held as Q16
     * (w->q16, q16.h), bitwise, and its prompt-batch product (qk256_matmat
     * below). */
    bn_qk256_matvec_fn q16_matvec;
    bn_qk256_matmat_fn q16_matmat;
    /* y[r] = dot(f16 row r of w (cols wide), x) for r in [r0, r1). */
    void (*f16_matvec)(const uint16_t *w, int cols, const float *x, float *y, int r0, int r1);
    /* The same for n inputs x + i * cols at once (a verify pass, logits of
     * several tokens): y[i * ldy + r] = what f16_matvec gives for input i,
     * bitwise, each row converted once for BN_F16_INPUTS inputs, or
     * f16_matvec per input where that is faster (bn_f16_matmat_per_input). */
    void (*f16_matmat)(const uint16_t *w, int cols, const float *x, int n, float *y, size_t ldy,
                       int r0, int r1);
    /* The product for n_tok activations at once (prompt batches): for rows
     * r in [r0, r1), y[t * ldy + r] = what qk256_matvec gives for a[t],
     * bitwise, with each weight block decoded once for many tokens (the
     * scalar table's runs qk256_matvec per token). */
    bn_qk256_matmat_fn qk256_matmat;
    /* Set when qk256_matmat does only the work of its own tokens for any
     * count (no tile padded with repeated tokens): then it beats
     * qk256_matvec per token from 2 tokens on. */
    int matmat_pads_no_tile;
    /* Filled by kernels.c: the fewest tokens a pass gives qk256_matmat
     * (q16_matmat); fewer take qk256_matvec (q16_matvec) per token. */
    int qk256_matmat_from, q16_matmat_from;
    /* Filled by kernels.c: the fewest tokens a pass gives q2_matmat and
     * b1_matmat (below); fewer take the matvec per token. */
    int grouped_matmat_from;
    /* Optional: the products of a Q8_0 or Q6_K output layer (--lm-head,
     * see bn_q8act above): x[0..n) -> a, and the matrix products. The
     * scalar table's are the portable reference of quants.h, which defines
     * the results. */
    void (*q8_quantize)(const float *x, int n, bn_q8act *a);
    bn_q8_matvec_fn q8_0_matvec;
    bn_q8_matvec_fn q6_k_matvec;
    /* The product of the output layer's int8-row copy (q8rows.h defines
     * it) for rows [r0, r1). NULL: bn_q8rows_matvec_ref. */
    void (*q8rows_matvec)(const struct bn_q8rows *w, const bn_q8act *a, float *y, int r0, int r1);
    /* Optional, the four together: the products of the group-scaled
     * matrices of Q2_0 and Q1_0 files (grouped.h) on Q8 activations,
     * bitwise grouped.c's, and their prompt-batch products: for rows r in
     * [r0, r1), y[t * ldy + r] = what the matvec gives for a[t], bitwise,
     * each weight run decoded once for a tile of tokens and multiplied
     * with their interleaved levels (bn_q8act.qi); the scalar table's run
     * the matvec per token. */
    bn_grouped_matvec_fn q2_matvec;
    bn_grouped_matvec_fn b1_matvec;
    bn_grouped_matmat_fn q2_matmat;
    bn_grouped_matmat_fn b1_matmat;
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
    void (*attn_scores_f16)(const float *q, int n_q, const uint16_t *k, size_t stride, int n, int d,
                            float scale, float *scores, size_t ld, int hot);
    void (*attn_values_f16)(const float *w, size_t ld, int n_q, const uint16_t *v, size_t stride,
                            int n, int d, float *out);
    /* The float row operations, as the steps of rows.h define them over a
     * whole row (scalar.c): the exps of a softmax, x[p] = bn_expf(x[p] -
     * max) for p < n, returning their sum in BN_SUM_LANES double lanes;
     * out = RMSNorm(x) * w (squares in BN_SUM_LANES double lanes); and
     * gate[i] = gate[i] / (1 + bn_expf(-gate[i])) * up[i]. */
    double (*exp_sum)(float *x, int n, float max);
    void (*rmsnorm)(float *out, const float *x, const float *w, int n, float eps);
    void (*silu_mul)(float *gate, const float *up, int n);
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
 * with the target attribute ATTR, which may be empty; BN_ATTN_ENTRIES_LINKED
 * takes the linkage, empty for entries another table's file takes too) from
 * its two inline bodies
 *   SCORES(q, n_q, const void *k, int f16, stride, n, d, scale, scores, ld, hot)
 *   VALUES(w, ld, n_q, const void *v, int f16, stride, n, d, out)
 * which read rows of floats when f16 is 0 and of F16 halves when it is 1:
 * a constant, so each entry compiles to one kind of row load and the two
 * kinds share every other step. */
/* NOLINTBEGIN(bugprone-macro-parentheses): ATTR is an attribute, not an expression */
#define BN_ATTN_ENTRIES(ATTR, NAME, SCORES, VALUES)                                                \
    BN_ATTN_ENTRIES_LINKED(static, ATTR, NAME, SCORES, VALUES)
#define BN_ATTN_ENTRIES_LINKED(LINK, ATTR, NAME, SCORES, VALUES)                                   \
    ATTR LINK void attn_scores_##NAME(const float *q, int n_q, const float *k, size_t stride,      \
                                      int n, int d, float scale, float *scores, size_t ld,         \
                                      int hot)                                                     \
    {                                                                                              \
        SCORES(q, n_q, k, 0, stride, n, d, scale, scores, ld, hot);                                \
    }                                                                                              \
    ATTR LINK void attn_values_##NAME(const float *w, size_t ld, int n_q, const float *v,          \
                                      size_t stride, int n, int d, float *out)                     \
    {                                                                                              \
        VALUES(w, ld, n_q, v, 0, stride, n, d, out);                                               \
    }                                                                                              \
    ATTR LINK void attn_scores_f16_##NAME(const float *q, int n_q, const uint16_t *k,              \
                                          size_t stride, int n, int d, float scale, float *scores, \
                                          size_t ld, int hot)                                      \
    {                                                                                              \
        SCORES(q, n_q, k, 1, stride, n, d, scale, scores, ld, hot);                                \
    }                                                                                              \
    ATTR LINK void attn_values_f16_##NAME(const float *w, size_t ld, int n_q, const uint16_t *v,   \
                                          size_t stride, int n, int d, float *out)                 \
    {                                                                                              \
        VALUES(w, ld, n_q, v, 1, stride, n, d, out);                                               \
    }
/* NOLINTEND(bugprone-macro-parentheses) */

/* The F16 dot product's end after the folded lanes: the leftover
 * elements [k, n) are added to lane 0 one by one (see BN_F16_LANES). */
static inline float bn_f16_dot_tail(float lane0, const uint16_t *w, const float *x, int k, int n)
{
    for (; k < n; k++) lane0 += bn_f16_to_f32(w[k]) * x[k];
    return lane0;
}

/* The tables as their files define them: scalar.c's everywhere (complete:
 * it is the definition); each SIMD one only on its own architecture
 * (x86-64: avx2, avx-vnni, avx512-vnni, avx512-bw; aarch64: neon-dotprod,
 * neon-plain). Reach them through bn_kernels_select() or
 * bn_kernels_available() (kernels.h), which know what the running CPU
 * supports and give the complete tables. */
extern const bn_kernels bn_kernels_scalar;
extern const bn_kernels bn_kernels_avx2;
extern const bn_kernels bn_kernels_avx_vnni;
extern const bn_kernels bn_kernels_avx512_vnni;
extern const bn_kernels bn_kernels_avx512_bw;
extern const bn_kernels bn_kernels_neon_dotprod;
extern const bn_kernels bn_kernels_neon_plain;

#endif
