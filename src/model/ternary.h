/*
 * ternary.h - turns a ternary tensor of any supported file encoding (I2_S,
 * TQ2_0, TQ1_0, Q2_0, Q1_0, or ternary-valued F32/F16/BF16) into a QK256 matrix
 * (ternary.c).
 */
#ifndef BN_TERNARY_H
#define BN_TERNARY_H

#include "gguf/gguf.h"
#include "kernels/qk256.h"
#include "runtime/threadpool.h"

/* Q2_0 or Q1_0: a group-scaled type, whose products take Q8 activations
 * (kernels/grouped.h). */
int bn_ternary_is_grouped(uint32_t type);
/* Checks that tensor t (ne = [cols, rows]) has an encoding this engine can
 * repack; returns 0, or -1 with err naming the tensor. Allocates nothing. */
int bn_ternary_check(const gguf_tensor *t, const char *name, char *err);
/* The same, and float weights must already be ternary-valued rather than
 * latent weights to quantize (scans them: arch llama, where floats that
 * are not ternary mean an ordinary, non-BitNet Llama). */
int bn_ternary_check_strict(const gguf_tensor *t, const char *name, char *err);
/* Allocates *out (in arena when not NULL and it has room) and repacks t
 * into it, rows split over the pool; with q16 set, a matrix with a
 * per-tensor scale then goes into the 1.6-bit layout (q16.h) instead of
 * the 2-bit codes. Data errors found while repacking (a TQ2_0 code 3, NaN
 * among float weights) return -1 with err naming the tensor, and *out is
 * freed. */
int bn_ternary_load(const gguf_tensor *t, const char *name, bn_pool *pool, bn_arena *arena, int q16,
                    qk256_matrix *out, char *err);

#endif
