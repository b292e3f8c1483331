/*
 * vk_shaders.c - the shaders' SPIR-V, compiled from the .comp files of shaders/ by
 * glslc at build time into .inc files of $(BUILD)/vulkan/ (generated, never
 * committed), twice each: with double sums (BN_F64=1) and float ones.
 */
#include "vk.h"

/* clang-format off */
#define ENTRY(name) {#name, name##_f64, name##_f32, sizeof name##_f64, sizeof name##_f32}

static const uint32_t embed_f64[] = {
#include "embed.f64.inc"
};
static const uint32_t embed_f32[] = {
#include "embed.f32.inc"
};
static const uint32_t norm_quant_f64[] = {
#include "norm_quant.f64.inc"
};
static const uint32_t norm_quant_f32[] = {
#include "norm_quant.f32.inc"
};
static const uint32_t ternary_f64[] = {
#include "ternary.f64.inc"
};
static const uint32_t ternary_f32[] = {
#include "ternary.f32.inc"
};
static const uint32_t rope_kv_f64[] = {
#include "rope_kv.f64.inc"
};
static const uint32_t rope_kv_f32[] = {
#include "rope_kv.f32.inc"
};
static const uint32_t attention_f64[] = {
#include "attention.f64.inc"
};
static const uint32_t attention_f32[] = {
#include "attention.f32.inc"
};
static const uint32_t act_f64[] = {
#include "act.f64.inc"
};
static const uint32_t act_f32[] = {
#include "act.f32.inc"
};
static const uint32_t dense_f64[] = {
#include "dense.f64.inc"
};
static const uint32_t dense_f32[] = {
#include "dense.f32.inc"
};

const bn_vk_spirv bn_vk_shaders[BN_VK_N_SHADERS] = {
    [BN_VK_EMBED] = ENTRY(embed),
    [BN_VK_NORM_QUANT] = ENTRY(norm_quant),
    [BN_VK_TERNARY] = ENTRY(ternary),
    [BN_VK_ROPE_KV] = ENTRY(rope_kv),
    [BN_VK_ATTENTION] = ENTRY(attention),
    [BN_VK_ACT] = ENTRY(act),
    [BN_VK_DENSE] = ENTRY(dense),
};
/* clang-format on */
