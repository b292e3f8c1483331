/*
 * backend.h - the backends this build has and how a model picks one
 * (internal). The interface itself, struct bn_backend, is in
 * src/engine/engine.h: the engine calls it, the backends here implement it.
 * A backend uploads a model's weights once, keeps each session's KV cache
 * where its passes read it, and runs one bn_eval pass whole, returning
 * only the logits rows asked for.
 *
 * cpu.c is today's engine (src/engine/forward.c on the context's pool);
 * vulkan/ runs the pass on a GPU. A CUDA or Metal backend would be one
 * more table here and a folder beside vulkan/ (docs/ARCHITECTURE.md).
 */
#ifndef BN_BACKEND_H
#define BN_BACKEND_H

#include "engine/engine.h"

extern const bn_backend bn_backend_cpu;
#ifdef BN_VULKAN
extern const bn_backend bn_backend_vulkan;
#endif

#endif
