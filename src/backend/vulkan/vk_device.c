/*
 * vk_device.c - the Vulkan device: libvulkan.so.1 opened with dlopen, an
 * instance and one device with a compute queue, buffers reached by device
 * address (Vulkan 1.2's bufferDeviceAddress: the shaders take pointers as
 * push constants, so there are no descriptor sets), and the command
 * buffer a pass is recorded into and run from.
 */
#include "vk.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "runtime/errors.h"

#define VK_LOADER "libvulkan.so.1"
#define STAGING_BYTES ((size_t)64 << 20) /* uploads go through this much at a time */
#define MIB (1024.0 * 1024.0)

static const char *vk_result_name(VkResult r)
{
    switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case VK_ERROR_DEVICE_LOST: return "the device was lost";
    case VK_ERROR_INITIALIZATION_FAILED: return "initialization failed";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "no compatible Vulkan driver";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "a feature is missing";
    default: return "error";
    }
}

static int vk_fail(char *err, const char *what, VkResult r)
{
    return bn_errf(err, "vulkan: %s: %s (VkResult %d)", what, vk_result_name(r), (int)r);
}

/* The loader and an instance: 0, or -1 with err set. */
static int open_instance(bn_vk *vk, char *err)
{
    vk->lib = dlopen(VK_LOADER, RTLD_NOW | RTLD_LOCAL);
    if (!vk->lib)
        return bn_errf(err,
                       "vulkan: cannot load %s: no Vulkan loader installed (Debian: "
                       "libvulkan1 and a driver such as mesa-vulkan-drivers)",
                       VK_LOADER);
    vk->gipa = (PFN_vkGetInstanceProcAddr)dlsym(vk->lib, "vkGetInstanceProcAddr");
    PFN_vkCreateInstance create = vk->gipa
                                      ? (PFN_vkCreateInstance)vk->gipa(NULL, "vkCreateInstance")
                                      : NULL;
    if (!create) return bn_errf(err, "vulkan: %s has no vkCreateInstance", VK_LOADER);
    const VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                                   .pApplicationName = "bitnet-run",
                                   .apiVersion = VK_API_VERSION_1_2};
    const VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                     .pApplicationInfo = &app};
    VkResult r = create(&ci, NULL, &vk->inst);
    if (r != VK_SUCCESS) return vk_fail(err, "cannot create an instance", r);
#define BN_VK_LOAD_INSTANCE(f)                                                                     \
    if (!(vk->f = (PFN_##f)vk->gipa(vk->inst, #f))) return bn_errf(err, "vulkan: no " #f);
    BN_VK_INSTANCE_FNS(BN_VK_LOAD_INSTANCE)
#undef BN_VK_LOAD_INSTANCE
    return 0;
}

/* The physical devices (up to max) and their count. */
static uint32_t physical_devices(bn_vk *vk, VkPhysicalDevice *out, uint32_t max)
{
    uint32_t n = max;
    VkResult r = vk->vkEnumeratePhysicalDevices(vk->inst, &n, out);
    return r == VK_SUCCESS || r == VK_INCOMPLETE ? n : 0;
}

static const char *device_type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU, emulated";
    default: return "other";
    }
}

static double device_local_mib(const VkPhysicalDeviceMemoryProperties *mp)
{
    double mib = 0;
    for (uint32_t i = 0; i < mp->memoryHeapCount; i++)
        if (mp->memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            mib += (double)mp->memoryHeaps[i].size / MIB;
    return mib;
}

#define MAX_DEVICES 16

int bn_vk_list(void (*emit)(const char *line, void *data), void *data)
{
    bn_vk vk = {0};
    char err[BN_ERR_LEN];
    if (open_instance(&vk, err)) {
        emit(err, data);
        bn_vk_close(&vk);
        return 0;
    }
    VkPhysicalDevice devs[MAX_DEVICES];
    const uint32_t n = physical_devices(&vk, devs, MAX_DEVICES);
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties pr;
        VkPhysicalDeviceMemoryProperties mp;
        vk.vkGetPhysicalDeviceProperties(devs[i], &pr);
        vk.vkGetPhysicalDeviceMemoryProperties(devs[i], &mp);
        char line[512];
        snprintf(line, sizeof line, "vulkan:%u: %s (%s, %.0f MiB, Vulkan %u.%u)", i, pr.deviceName,
                 device_type_name(pr.deviceType), device_local_mib(&mp),
                 VK_API_VERSION_MAJOR(pr.apiVersion), VK_API_VERSION_MINOR(pr.apiVersion));
        emit(line, data);
    }
    if (n == 0) emit("vulkan: the loader finds no device", data);
    bn_vk_close(&vk);
    return (int)n;
}

/* The first queue family that computes, or -1. */
static int compute_family(bn_vk *vk)
{
    VkQueueFamilyProperties fam[32];
    uint32_t n = 32;
    vk->vkGetPhysicalDeviceQueueFamilyProperties(vk->phys, &n, fam);
    for (uint32_t i = 0; i < n; i++)
        if (fam[i].queueFlags & VK_QUEUE_COMPUTE_BIT) return (int)i;
    return -1;
}

/* The physical device `index` checked for what the shaders need, then the
 * logical device with bufferDeviceAddress (and shaderFloat64 when there). */
static int open_device(bn_vk *vk, int index, int *family, char *err)
{
    VkPhysicalDevice devs[MAX_DEVICES];
    const uint32_t n = physical_devices(vk, devs, MAX_DEVICES);
    if (n == 0) return bn_errf(err, "vulkan: the loader finds no Vulkan device (no driver?)");
    if ((uint32_t)index >= n)
        return bn_errf(err, "vulkan: no device %d (%u found: --list-devices)", index, n);
    vk->phys = devs[index];
    VkPhysicalDeviceProperties pr;
    vk->vkGetPhysicalDeviceProperties(vk->phys, &pr);
    snprintf(vk->name, sizeof vk->name, "%s (%s)", pr.deviceName, device_type_name(pr.deviceType));
    if (pr.apiVersion < VK_API_VERSION_1_2)
        return bn_errf(err, "vulkan: %s supports Vulkan %u.%u; bitnet-run needs 1.2", vk->name,
                       VK_API_VERSION_MAJOR(pr.apiVersion), VK_API_VERSION_MINOR(pr.apiVersion));
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                    .pNext = &f12};
    vk->vkGetPhysicalDeviceFeatures2(vk->phys, &f2);
    if (!f12.bufferDeviceAddress)
        return bn_errf(err, "vulkan: %s lacks bufferDeviceAddress", vk->name);
    vk->f64 = f2.features.shaderFloat64 != 0;
    if ((*family = compute_family(vk)) < 0)
        return bn_errf(err, "vulkan: %s has no compute queue", vk->name);
    vk->vkGetPhysicalDeviceMemoryProperties(vk->phys, &vk->mem);
    const float prio = 1.0f;
    const VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                        .queueFamilyIndex = (uint32_t)*family,
                                        .queueCount = 1,
                                        .pQueuePriorities = &prio};
    VkPhysicalDeviceVulkan12Features want12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .bufferDeviceAddress = VK_TRUE};
    VkPhysicalDeviceFeatures2 want = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                      .pNext = &want12};
    want.features.shaderFloat64 = vk->f64 ? VK_TRUE : VK_FALSE;
    const VkDeviceCreateInfo di = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                                   .pNext = &want,
                                   .queueCreateInfoCount = 1,
                                   .pQueueCreateInfos = &qi};
    VkResult r = vk->vkCreateDevice(vk->phys, &di, NULL, &vk->dev);
    if (r != VK_SUCCESS) return vk_fail(err, "cannot create the device", r);
#define BN_VK_LOAD_DEVICE(f)                                                                       \
    if (!(vk->f = (PFN_##f)vk->vkGetDeviceProcAddr(vk->dev, #f)))                                  \
        return bn_errf(err, "vulkan: no " #f);
    BN_VK_DEVICE_FNS(BN_VK_LOAD_DEVICE)
#undef BN_VK_LOAD_DEVICE
    vk->vkGetDeviceQueue(vk->dev, (uint32_t)*family, 0, &vk->queue);
    return 0;
}

/* The command buffer, its fence, the pipeline layout (push constants
 * only) and a pipeline per shader. */
static int open_pipelines(bn_vk *vk, int family, char *err)
{
    const VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                        .queueFamilyIndex = (uint32_t)family};
    VkResult r = vk->vkCreateCommandPool(vk->dev, &pi, NULL, &vk->pool);
    if (r != VK_SUCCESS) return vk_fail(err, "cannot create a command pool", r);
    const VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                            .commandPool = vk->pool,
                                            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                            .commandBufferCount = 1};
    if ((r = vk->vkAllocateCommandBuffers(vk->dev, &ai, &vk->cmd)) != VK_SUCCESS)
        return vk_fail(err, "cannot allocate a command buffer", r);
    const VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if ((r = vk->vkCreateFence(vk->dev, &fi, NULL, &vk->fence)) != VK_SUCCESS)
        return vk_fail(err, "cannot create a fence", r);
    const VkPushConstantRange pc = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
                                    .size = BN_VK_PUSH_BYTES};
    const VkPipelineLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                           .pushConstantRangeCount = 1,
                                           .pPushConstantRanges = &pc};
    if ((r = vk->vkCreatePipelineLayout(vk->dev, &li, NULL, &vk->layout)) != VK_SUCCESS)
        return vk_fail(err, "cannot create the pipeline layout", r);
    for (int s = 0; s < BN_VK_N_SHADERS; s++) {
        const bn_vk_spirv *sp = &bn_vk_shaders[s];
        const VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                             .codeSize = vk->f64 ? sp->f64_bytes : sp->f32_bytes,
                                             .pCode = vk->f64 ? sp->f64 : sp->f32};
        VkShaderModule mod;
        if ((r = vk->vkCreateShaderModule(vk->dev, &mi, NULL, &mod)) != VK_SUCCESS)
            return vk_fail(err, sp->name, r);
        const VkComputePipelineCreateInfo ci = {
            .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
            .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                      .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                      .module = mod,
                      .pName = "main"},
            .layout = vk->layout};
        r = vk->vkCreateComputePipelines(vk->dev, VK_NULL_HANDLE, 1, &ci, NULL, &vk->pipes[s]);
        vk->vkDestroyShaderModule(vk->dev, mod, NULL);
        if (r != VK_SUCCESS) return vk_fail(err, sp->name, r);
    }
    return 0;
}

int bn_vk_open(bn_vk *vk, int index, char *err)
{
    memset(vk, 0, sizeof *vk);
    int family;
    if (open_instance(vk, err) || open_device(vk, index, &family, err) ||
        open_pipelines(vk, family, err)) {
        bn_vk_close(vk);
        return -1;
    }
    return 0;
}

void bn_vk_close(bn_vk *vk)
{
    if (vk->dev) {
        vk->vkDeviceWaitIdle(vk->dev);
        bn_vk_buffer_free(vk, &vk->staging);
        for (int s = 0; s < BN_VK_N_SHADERS; s++)
            if (vk->pipes[s]) vk->vkDestroyPipeline(vk->dev, vk->pipes[s], NULL);
        if (vk->layout) vk->vkDestroyPipelineLayout(vk->dev, vk->layout, NULL);
        if (vk->fence) vk->vkDestroyFence(vk->dev, vk->fence, NULL);
        if (vk->pool) vk->vkDestroyCommandPool(vk->dev, vk->pool, NULL);
        vk->vkDestroyDevice(vk->dev, NULL);
    }
    if (vk->inst) vk->vkDestroyInstance(vk->inst, NULL);
    if (vk->lib) dlclose(vk->lib);
    memset(vk, 0, sizeof *vk);
}

/* A memory type allowed by `bits` with all of `want`, else -1. */
static int memory_type(const bn_vk *vk, uint32_t bits, VkMemoryPropertyFlags want)
{
    for (uint32_t i = 0; i < vk->mem.memoryTypeCount; i++)
        if ((bits >> i & 1) && (vk->mem.memoryTypes[i].propertyFlags & want) == want) return (int)i;
    return -1;
}

int bn_vk_buffer(bn_vk *vk, bn_vkbuf *b, size_t size, int host, const char *what, char *err)
{
    memset(b, 0, sizeof *b);
    const VkBufferCreateInfo bi = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size ? size : 4,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT};
    VkResult r = vk->vkCreateBuffer(vk->dev, &bi, NULL, &b->buf);
    if (r != VK_SUCCESS) return vk_fail(err, what, r);
    VkMemoryRequirements req;
    vk->vkGetBufferMemoryRequirements(vk->dev, b->buf, &req);
    const VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                     VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int type = host ? memory_type(vk, req.memoryTypeBits, hv | VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
                    : memory_type(vk, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0) type = memory_type(vk, req.memoryTypeBits, host ? hv : 0);
    const VkMemoryAllocateFlagsInfo fl = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
                                          .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT};
    const VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                     .pNext = &fl,
                                     .allocationSize = req.size,
                                     .memoryTypeIndex = (uint32_t)type};
    if (type < 0 || (r = vk->vkAllocateMemory(vk->dev, &ai, NULL, &b->mem)) != VK_SUCCESS) {
        vk->vkDestroyBuffer(vk->dev, b->buf, NULL);
        b->buf = VK_NULL_HANDLE;
        return bn_errf(err, "vulkan: out of device memory for %.1f MiB of %s", (double)size / MIB,
                       what);
    }
    if ((r = vk->vkBindBufferMemory(vk->dev, b->buf, b->mem, 0)) != VK_SUCCESS) {
        bn_vk_buffer_free(vk, b);
        return vk_fail(err, what, r);
    }
    const int mappable = (vk->mem.memoryTypes[type].propertyFlags & hv) == hv;
    if (mappable &&
        (r = vk->vkMapMemory(vk->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map)) != VK_SUCCESS) {
        bn_vk_buffer_free(vk, b);
        return vk_fail(err, what, r);
    }
    const VkBufferDeviceAddressInfo ai2 = {.sType = VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO,
                                           .buffer = b->buf};
    b->addr = vk->vkGetBufferDeviceAddress(vk->dev, &ai2);
    b->size = size;
    return 0;
}

void bn_vk_buffer_free(bn_vk *vk, bn_vkbuf *b)
{
    if (b->buf) vk->vkDestroyBuffer(vk->dev, b->buf, NULL);
    if (b->mem) vk->vkFreeMemory(vk->dev, b->mem, NULL); /* unmaps it */
    memset(b, 0, sizeof *b);
}

int bn_vk_upload(bn_vk *vk, bn_vkbuf *b, size_t off, const void *src, size_t n, char *err)
{
    if (b->map) {
        memcpy((char *)b->map + off, src, n);
        return 0;
    }
    if (!vk->staging.buf && bn_vk_buffer(vk, &vk->staging, STAGING_BYTES, 1, "staging", err))
        return -1;
    for (size_t done = 0; done < n; done += STAGING_BYTES) {
        const size_t len = n - done < STAGING_BYTES ? n - done : STAGING_BYTES;
        memcpy(vk->staging.map, (const char *)src + done, len);
        bn_vk_begin(vk);
        const VkBufferCopy c = {.srcOffset = 0, .dstOffset = off + done, .size = len};
        vk->vkCmdCopyBuffer(vk->cmd, vk->staging.buf, b->buf, 1, &c);
        if (bn_vk_run(vk, err)) return -1;
    }
    return 0;
}

void bn_vk_begin(bn_vk *vk)
{
    const VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                         .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    vk->vkBeginCommandBuffer(vk->cmd, &bi); /* resets it (the pool allows that) */
}

void bn_vk_dispatch(bn_vk *vk, bn_vk_shader s, const void *push, size_t push_bytes, uint32_t gx,
                    uint32_t gy, uint32_t gz)
{
    vk->vkCmdBindPipeline(vk->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, vk->pipes[s]);
    vk->vkCmdPushConstants(vk->cmd, vk->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                           (uint32_t)push_bytes, push);
    vk->vkCmdDispatch(vk->cmd, gx, gy, gz);
}

void bn_vk_barrier(bn_vk *vk)
{
    const VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                         VK_ACCESS_HOST_READ_BIT};
    vk->vkCmdPipelineBarrier(vk->cmd,
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0,
                             1, &mb, 0, NULL, 0, NULL);
}

int bn_vk_run(bn_vk *vk, char *err)
{
    VkResult r = vk->vkEndCommandBuffer(vk->cmd);
    if (r != VK_SUCCESS) return vk_fail(err, "cannot record a pass", r);
    const VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                             .commandBufferCount = 1,
                             .pCommandBuffers = &vk->cmd};
    if ((r = vk->vkQueueSubmit(vk->queue, 1, &si, vk->fence)) != VK_SUCCESS)
        return vk_fail(err, "cannot submit a pass", r);
    r = vk->vkWaitForFences(vk->dev, 1, &vk->fence, VK_TRUE, UINT64_MAX);
    vk->vkResetFences(vk->dev, 1, &vk->fence);
    return r == VK_SUCCESS ? 0 : vk_fail(err, "a pass failed", r);
}
