/*
 * f16.h - IEEE half <-> single precision conversion (f16.c): exact when
 * widening, round half to even when narrowing. The kernels, the QK256 and
 * quant decoders and the synthetic-model writer all convert through it.
 */
#ifndef BN_F16_H
#define BN_F16_H

#include <stdint.h>

float bn_f16_to_f32(uint16_t h);
uint16_t bn_f32_to_f16(float f);

#endif
