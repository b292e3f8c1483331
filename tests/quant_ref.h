/*
 * quant_ref.h - test-side writers of ggml's 4-bit block types (the engine
 * only reads them): a Q4_K block from its parts, and plain quantizers for
 * Q4_0 and Q4_K rows, written from the layouts independently of quants.c.
 */
#ifndef BN_QUANT_REF_H
#define BN_QUANT_REF_H

#include <stdint.h>

#define QREF_Q4_0_BYTES 18  /* per 32 values */
#define QREF_Q4_K_BYTES 144 /* per 256 values */

/* Stores fp16(v) at p (unaligned). */
void qref_put_f16(uint8_t *p, float v);
/* A Q4_K block from d, dmin, 6-bit scales sc[8] and mins mn[8] and 4-bit
 * q[256]: scales/mins of sub-blocks 0-3 in the low 6 bits of bytes 0-3 /
 * 4-7; sub-blocks 4-7 keep their low 4 bits in the nibbles of bytes 8-11
 * and their top 2 bits in bits 7:6 of bytes 0-3 (scale) / 4-7 (min); qs
 * has 32 bytes per 64 values, low nibbles first. */
void qref_pack_q4_k(float d, float dmin, const int sc[8], const int mn[8], const int q[256],
                    uint8_t blk[QREF_Q4_K_BYTES]);
/* n values (a multiple of 32 / 256) into Q4_0 / Q4_K blocks. */
void qref_quantize_q4_0(const float *x, int n, uint8_t *dst);
void qref_quantize_q4_k(const float *x, int n, uint8_t *dst);

#endif
