/*
 * q16.h - Q16, the 1.6-bit internal ternary layout (--weights q16): a
 * QK256 matrix with per-tensor scale repacked at load into 5 weights a
 * byte, 20% fewer bytes to read per token than QK256's 2 bits.
 *
 * A row is taken as its blocks_per_row * 256 weights (QK256's padding
 * included) cut into groups of Q16_GROUP = 160 weights, each stored in
 * Q16_GROUP_BYTES = 32 bytes: byte j of a group holds the codes (weight +
 * 1, as QK256) of weights j + 32n for n = 0..4, as v = sum of code_n *
 * 3^(4 - n), stored in the fixed-point form TQ1_0 uses, b = ceil(v * 256 /
 * 243), xor 0x80. Then with s_0 = the stored byte read as int8 and s_n+1 =
 * 3 * s_n (wrapping in 8 bits), code_n = [s_n > -43] + [s_n > 42]: byte
 * adds and signed compares, no multiply (q16.c). A row whose weights are
 * not a multiple of 160 ends with one more group of which only the first
 * (weights left) / 32 codes of each byte count.
 *
 * sum(code * q) over a row is the same integer as QK256's, so the products
 * go through the same float epilogue and are bitwise QK256's.
 */
#ifndef BN_Q16_H
#define BN_Q16_H

#include <stddef.h>
#include <stdint.h>

#include "act.h"
#include "qk256.h"

#define Q16_GROUP 160
#define Q16_GROUP_BYTES 32
#define Q16_TRITS 5
#define Q16_SIGN 0x80 /* xored into every stored byte */
#define Q16_LOW (-43) /* code_n = [s_n > Q16_LOW] + [s_n > Q16_HIGH] */
#define Q16_HIGH 42

/* Groups of a row of blocks_per_row QK256 blocks, the last perhaps partial. */
static inline int q16_groups(int blocks_per_row)
{
    return (blocks_per_row * QK256_BLOCK + Q16_GROUP - 1) / Q16_GROUP;
}
static inline size_t q16_row_bytes(int blocks_per_row)
{
    return (size_t)q16_groups(blocks_per_row) * Q16_GROUP_BYTES;
}

/* Codes (trits) per byte in group g of a row of `weights` weights: 5, or
 * fewer in a partial last group. */
static inline int q16_group_trits(int weights, int g)
{
    const int left = (weights - g * Q16_GROUP) / Q16_GROUP_BYTES;
    return left < Q16_TRITS ? left : Q16_TRITS;
}

/* Rows [r0, r1) of m's QK256 codes into q16 (q16_row_bytes a row). */
void q16_pack_rows(const qk256_matrix *m, uint8_t *q16, int r0, int r1);

/* sum(code * q) over a row of nb QK256 blocks stored as Q16: the integer
 * the QK256 row dot gives (the scalar definition). */
int32_t q16_row_dot_ref(const uint8_t *row, const int8_t *q, int nb);

#endif
