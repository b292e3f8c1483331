/*
 * cpu.c - the CPU backend: today's engine. The weights stay where the
 * model loaded them, the sessions' caches are session.c's, and a pass is
 * bn_forward on the context's pool.
 */
#include <stdio.h>

#include "backend.h"

static int cpu_open(bn_model *m, int index, char *err)
{
    (void)m;
    (void)index;
    (void)err;
    return 0;
}

static void cpu_close(bn_model *m) { (void)m; }

static int cpu_pass(bn_context *ctx, const bn_pass *p, char *err)
{
    (void)err;
    return bn_forward(ctx, p);
}

static const char *cpu_device_name(const bn_model *m)
{
    (void)m;
    return "";
}

static int cpu_list(bn_line_fn emit, void *data)
{
    char line[128];
    snprintf(line, sizeof line, "cpu: %d cores", bn_available_cores());
    emit(line, data);
    return 1;
}

const bn_backend bn_backend_cpu = {
    .name = "cpu",
    .model_open = cpu_open,
    .model_close = cpu_close,
    .pass = cpu_pass,
    .device_name = cpu_device_name,
    .list = cpu_list,
};
