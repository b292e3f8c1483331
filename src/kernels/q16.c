/*
 * q16.c - the Q16 layout (q16.h): repacking QK256 rows into it, and the
 * portable integer row product that defines its results.
 */
#include "q16.h"

#define TRIT_BASE 3
#define TRIT_VALUES 243 /* 3^5 */
#define BYTE_VALUES 256

/* The stored byte of five codes (code 0 most significant). */
static uint8_t pack5(const int code[Q16_TRITS])
{
    unsigned v = 0;
    for (int n = 0; n < Q16_TRITS; n++) v = v * TRIT_BASE + (unsigned)code[n];
    const unsigned b = (v * BYTE_VALUES + TRIT_VALUES - 1) / TRIT_VALUES;
    return (uint8_t)(b ^ Q16_SIGN);
}

/* Rows [r0, r1) of the QK256 codes packed five weights a byte. */
void q16_pack_rows(const qk256_matrix *m, uint8_t *q16, int r0, int r1)
{
    const int weights = m->blocks_per_row * QK256_BLOCK, groups = q16_groups(m->blocks_per_row);
    for (int r = r0; r < r1; r++) {
        uint8_t *row = q16 + (size_t)r * q16_row_bytes(m->blocks_per_row);
        for (int g = 0; g < groups; g++) {
            const int trits = q16_group_trits(weights, g);
            for (int j = 0; j < Q16_GROUP_BYTES; j++) {
                int code[Q16_TRITS];
                for (int n = 0; n < Q16_TRITS; n++) {
                    const int c = g * Q16_GROUP + n * Q16_GROUP_BYTES + j;
                    /* qk256_get reads the padding as weight 0 too */
                    code[n] = n < trits ? qk256_get(m, r, c) + 1 : QK256_CODE_ZERO;
                }
                row[(size_t)g * Q16_GROUP_BYTES + j] = pack5(code);
            }
        }
    }
}

/* code_n of a stored byte s_n (q16.h); *s becomes s_n+1. */
static int next_code(int8_t *s)
{
    const int code = (*s > Q16_LOW) + (*s > Q16_HIGH);
    *s = (int8_t)(uint8_t)((unsigned)(uint8_t)*s * TRIT_BASE);
    return code;
}

/* sum(code * q) over a Q16 row: the definition the SIMD dots reproduce. */
int32_t q16_row_dot_ref(const uint8_t *row, const int8_t *q, int nb)
{
    const int weights = nb * QK256_BLOCK;
    int32_t sum = 0;
    for (int g = 0; g < q16_groups(nb); g++) {
        const int trits = q16_group_trits(weights, g);
        for (int j = 0; j < Q16_GROUP_BYTES; j++) {
            int8_t s = (int8_t)row[(size_t)g * Q16_GROUP_BYTES + j];
            for (int n = 0; n < trits; n++)
                sum += next_code(&s) * q[g * Q16_GROUP + n * Q16_GROUP_BYTES + j];
        }
    }
    return sum;
}
