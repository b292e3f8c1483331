/*
 * backend.c - the backends this build has, and which one a model runs
 * on: bn_model_params.device names it ("cpu", "vulkan", "vulkan:N").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "runtime/errors.h"

static const bn_backend *const BACKENDS[] = {
    &bn_backend_cpu,
#ifdef BN_VULKAN
    &bn_backend_vulkan,
#endif
};
#define N_BACKENDS ((int)(sizeof BACKENDS / sizeof(const bn_backend *)))

/* "name" or "name:N" -> the backend and N (0 when absent); NULL when the
 * name is unknown or N is not a small number. */
static const bn_backend *parse_device(const char *device, int *index)
{
    const char *colon = strchr(device, ':');
    const size_t len = colon ? (size_t)(colon - device) : strlen(device);
    *index = 0;
    if (colon) {
        char *end;
        const long n = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || n < 0 || n > 255) return NULL;
        *index = (int)n;
    }
    for (int i = 0; i < N_BACKENDS; i++)
        if (strlen(BACKENDS[i]->name) == len && !strncmp(BACKENDS[i]->name, device, len))
            return BACKENDS[i];
    return NULL;
}

/* The model's backend from bn_model_params.device, its weights uploaded;
 * 0, or -1 with err set. */
static int backend_open(bn_model *m, const char *device, char *err)
{
    if (!device || !*device) device = "cpu";
    int index;
    const bn_backend *b = parse_device(device, &index);
    if (!b) {
        if (!strncmp(device, "vulkan", 6) && (device[6] == ':' || !device[6]) &&
            !strstr(bn_backends_built(), "vulkan"))
            return bn_errf(err, "this bitnet-run was built without Vulkan (make finds glslc "
                                "and the Vulkan headers to build it)");
        return bn_errf(err, "unknown device '%s' (expected cpu or vulkan[:N])", device);
    }
    if (b == &bn_backend_cpu && index != 0)
        return bn_errf(err, "unknown device '%s' (the CPU is device cpu)", device);
    if (b->model_open(m, index, err)) return -1;
    m->backend = b;
    return 0;
}

/* The model in host memory (src/model/load.c), then on its backend. */
bn_model *bn_model_load(const char *path, const bn_model_params *params, char err[BN_ERR_LEN])
{
    bn_model *m = bn_model_open(path, params, err);
    if (!m || m->vocab_only) return m;
    const char *device = params ? params->device : NULL;
    int rc = 0;
    if (m->q16 && device && strcmp(device, "cpu"))
        rc = bn_errf(err, "--weights q16 is a CPU layout: the %s backend reads the 2-bit codes",
                     device);
    if (rc || backend_open(m, device, err)) {
        bn_model_close(m);
        return NULL;
    }
    return m;
}

void bn_model_free(bn_model *m)
{
    if (!m) return;
    if (m->backend) m->backend->model_close(m);
    bn_model_close(m);
}

const char *bn_backends_built(void)
{
#ifdef BN_VULKAN
    return "cpu vulkan";
#else
    return "cpu";
#endif
}

int bn_list_devices(void (*emit)(const char *line, void *data), void *data)
{
    int n = 0;
    for (int i = 0; i < N_BACKENDS; i++) n += BACKENDS[i]->list(emit, data);
    return n;
}

/* A vocab_only model opens no backend: it runs no pass. */
const char *bn_model_backend_name(const bn_model *m)
{
    return m->backend ? m->backend->name : bn_backend_cpu.name;
}

const char *bn_model_device_name(const bn_model *m)
{
    return m->backend ? m->backend->device_name(m) : "";
}
