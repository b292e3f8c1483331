/*
 * vk.h - the Vulkan calls the backend makes (internal): the loader opened
 * with dlopen (no link-time dependency), one device with a compute queue,
 * the pipelines of the shaders (vk_shaders.c), buffers reached by device
 * address, and one command buffer recorded and run per pass.
 */
#ifndef BN_VK_H
#define BN_VK_H

#include <stddef.h>
#include <stdint.h>

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

/* The entry points used, loaded through vkGetInstanceProcAddr and
 * vkGetDeviceProcAddr. */
/* clang-format off */
#define BN_VK_INSTANCE_FNS(X)                                                                      \
    X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties)             \
    X(vkGetPhysicalDeviceFeatures2) X(vkGetPhysicalDeviceQueueFamilyProperties)                     \
    X(vkGetPhysicalDeviceMemoryProperties) X(vkCreateDevice) X(vkGetDeviceProcAddr)
#define BN_VK_DEVICE_FNS(X)                                                                        \
    X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkCreateBuffer) X(vkDestroyBuffer)                     \
    X(vkGetBufferMemoryRequirements) X(vkAllocateMemory) X(vkFreeMemory) X(vkBindBufferMemory)      \
    X(vkMapMemory) X(vkGetBufferDeviceAddress) X(vkCreateShaderModule) X(vkDestroyShaderModule)     \
    X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout) X(vkCreateComputePipelines)               \
    X(vkDestroyPipeline) X(vkCreateCommandPool) X(vkDestroyCommandPool)                            \
    X(vkAllocateCommandBuffers) X(vkBeginCommandBuffer) X(vkEndCommandBuffer)                      \
    X(vkCmdBindPipeline) X(vkCmdPushConstants) X(vkCmdDispatch) X(vkCmdPipelineBarrier)            \
    X(vkCmdCopyBuffer) X(vkQueueSubmit) X(vkCreateFence) X(vkDestroyFence) X(vkWaitForFences)      \
    X(vkResetFences) X(vkDeviceWaitIdle)
/* clang-format on */

/* The shaders, in the order of vk_shaders.c. */
typedef enum {
    BN_VK_EMBED,
    BN_VK_NORM_QUANT,
    BN_VK_TERNARY,
    BN_VK_ROPE_KV,
    BN_VK_ATTENTION,
    BN_VK_ACT,
    BN_VK_DENSE,
    BN_VK_N_SHADERS
} bn_vk_shader;

/* A shader's SPIR-V: with double sums (f64) and with float ones. */
typedef struct {
    const char *name;
    const uint32_t *f64, *f32;
    size_t f64_bytes, f32_bytes;
} bn_vk_spirv;
extern const bn_vk_spirv bn_vk_shaders[BN_VK_N_SHADERS];

/* Push constants: every shader's block fits the 128 bytes all devices
 * give. The structs below mirror the shaders' blocks (device addresses
 * first, then 32-bit values). */
#define BN_VK_PUSH_BYTES 128
typedef struct {
    VkDeviceAddress table, x, ids;
    uint32_t n_embd, f16;
} push_embed;
typedef struct {
    VkDeviceAddress x, add, w, out, q, bsum, qsum, qscale, rows;
    uint32_t n, flags;
    float eps;
    uint32_t nb;
} push_norm;
typedef struct {
    VkDeviceAddress codes, bscale, q, bsum, qsum, qscale, y;
    uint32_t nb, rows, ntok, ldy;
    float wscale;
    uint32_t has_bscale;
} push_ternary;
typedef struct {
    VkDeviceAddress q, k, v, cs, sess;
    uint32_t n_head, n_kv, hd, layer, neox;
} push_rope;
typedef struct {
    VkDeviceAddress q, scores, out, sess;
    uint32_t n_head, n_kv, hd, layer, ld;
    float scale;
} push_attn;
typedef struct {
    VkDeviceAddress gate, up;
    uint32_t n, silu;
} push_act;
typedef struct {
    VkDeviceAddress w, x, y;
    uint32_t rows, cols, ntok, f16, ldy, row_groups;
} push_dense;

#define SESS_WORDS 8 /* common.glsl: a token's session record */
#define NQ_ADD 1u    /* norm_quant.comp's flags */
#define NQ_NORM 2u
#define NQ_QUANT 4u
#define NQ_ROWS 8u

typedef struct {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceAddress addr;
    void *map; /* host-visible buffers: their mapping */
    size_t size;
} bn_vkbuf;

typedef struct {
    void *lib;
    PFN_vkGetInstanceProcAddr gipa;
#define BN_VK_DECLARE(f) PFN_##f f;
    BN_VK_INSTANCE_FNS(BN_VK_DECLARE)
    BN_VK_DEVICE_FNS(BN_VK_DECLARE)
#undef BN_VK_DECLARE
    VkInstance inst;
    VkPhysicalDevice phys;
    VkPhysicalDeviceMemoryProperties mem;
    VkDevice dev;
    VkQueue queue;
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    VkPipelineLayout layout;
    VkPipeline pipes[BN_VK_N_SHADERS];
    int f64;        /* shaderFloat64: the double-sum shaders */
    char name[300]; /* "llvmpipe (LLVM 15.0.6, 256 bits) (cpu)" */
    bn_vkbuf staging;
} bn_vk;

/* Opens device `index`: 0, or -1 with err set (no loader, no such device,
 * a device without what the shaders need). */
int bn_vk_open(bn_vk *vk, int index, char *err);
void bn_vk_close(bn_vk *vk);
/* One line per Vulkan device; returns their count (0 without a loader). */
int bn_vk_list(void (*emit)(const char *line, void *data), void *data);

/* A storage buffer of `size` bytes: on the device, or host-visible and
 * mapped (host set); 0, or -1 with err set (out of device memory). */
int bn_vk_buffer(bn_vk *vk, bn_vkbuf *b, size_t size, int host, const char *what, char *err);
void bn_vk_buffer_free(bn_vk *vk, bn_vkbuf *b);
/* Copies n bytes from src into b at off (through a staging buffer when b
 * is not host-visible). */
int bn_vk_upload(bn_vk *vk, bn_vkbuf *b, size_t off, const void *src, size_t n, char *err);

/* Recording a pass: begin, dispatches and barriers, then run (submit and
 * wait). */
void bn_vk_begin(bn_vk *vk);
void bn_vk_dispatch(bn_vk *vk, bn_vk_shader s, const void *push, size_t push_bytes, uint32_t gx,
                    uint32_t gy, uint32_t gz);
/* Every shader write so far is visible to what comes after. */
void bn_vk_barrier(bn_vk *vk);
int bn_vk_run(bn_vk *vk, char *err);

#endif
