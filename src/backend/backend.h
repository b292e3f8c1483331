/*
 * backend.h - the seam between the engine and the hardware that runs a
 * pass (internal). A backend uploads a model's weights once, keeps each
 * session's KV cache where its passes read it, and runs one bn_eval pass
 * (engine.h, bn_pass) whole, returning only the logits rows asked for.
 *
 * cpu.c is today's engine (src/engine/forward.c on the context's pool);
 * vulkan/ runs the pass on a GPU. A CUDA or Metal backend would be one
 * more table here and a folder beside vulkan/ (docs/ARCHITECTURE.md).
 */
#ifndef BN_BACKEND_H
#define BN_BACKEND_H

#include "engine/engine.h"

typedef void (*bn_line_fn)(const char *line, void *data);

struct bn_backend {
    const char *name; /* "cpu", "vulkan": what --device names */
    /* Puts the model's weights on device `index`; 0, or -1 with err set. */
    int (*model_open)(bn_model *m, int index, char *err);
    void (*model_close)(bn_model *m);
    /* A session's KV cache on the device (s->dev); NULL: the host caches
     * of session.c. */
    int (*session_open)(bn_session *s, char *err);
    void (*session_close)(bn_session *s);
    /* One pass; 0, BN_ABORTED, or -1 with err set (a lost device). */
    int (*pass)(bn_context *ctx, const bn_pass *p, char *err);
    /* The device's name for --bench and -v ("" on the CPU). */
    const char *(*device_name)(const bn_model *m);
    /* One line per device this backend can open; returns their count. */
    int (*list)(bn_line_fn emit, void *data);
};

extern const bn_backend bn_backend_cpu;
#ifdef BN_VULKAN
extern const bn_backend bn_backend_vulkan;
#endif

/* bn_model_params.device ("cpu", NULL, "vulkan", "vulkan:N") -> the
 * model's backend, its weights uploaded; 0, or -1 with err set. */
int bn_backend_open(bn_model *m, const char *device, char *err);
void bn_backend_close(bn_model *m);

#endif
