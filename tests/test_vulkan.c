/*
 * test_vulkan.c - the Vulkan backend end to end (--device vulkan): the
 * greedy ids of every shared reference, logits against the CPU's, F16
 * caches, passes that mix sessions, and its errors. Tests skip, saying
 * why, in a build without Vulkan or on a machine without a Vulkan device
 * (CI installs Mesa's lavapipe, so they run there).
 */
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "ref_check.h"
#include "test.h"

#define VK_MIN_COSINE 0.9999 /* device logits against the CPU's */

/* Why the Vulkan tests cannot run here, or NULL when they can. */
static const char *vulkan_missing(void)
{
    static char why[BN_ERR_LEN + 64];
    if (!strstr(bn_backends_built(), "vulkan")) return "built without Vulkan (no glslc/headers)";
    const char *tiny = test_shared_path("models/bitnet-tiny.gguf");
    if (!tiny) return "../shared is absent";
    bn_model_params p = bn_model_default_params();
    p.device = "vulkan";
    char err[BN_ERR_LEN];
    bn_model *m = bn_model_load(tiny, &p, err);
    if (m) {
        bn_model_free(m);
        return NULL;
    }
    snprintf(why, sizeof why, "no usable Vulkan device: %s", err);
    return why;
}

#define VULKAN_OR_SKIP()                                                                          \
    do {                                                                                          \
        const char *why_ = vulkan_missing();                                                      \
        if (why_) SKIP(why_);                                                                     \
    } while (0)

static bn_model *load_on(const char *path, const char *device)
{
    bn_model_params p = bn_model_default_params();
    p.n_threads = 2;
    p.device = device;
    char err[BN_ERR_LEN];
    bn_model *m = bn_model_load(path, &p, err);
    CHECK_MSG(m != NULL, "%s on %s: %s", path, device, err);
    return m;
}

static const char *const models[][2] = {
    {"models/bitnet-tiny.gguf", "reference/bitnet-tiny-greedy.jsonl"},
    {"models/bitnet-tiny-tq2_0.gguf", "reference/bitnet-tiny-greedy.jsonl"},
    {"models/bitnet-tiny-tq1_0.gguf", "reference/bitnet-tiny-greedy.jsonl"},
    {"models/bitnet-tiny-arch-bitnet-tq2_0.gguf", "reference/bitnet-tiny-greedy.jsonl"},
    {"models/tiny-llama-i2s.gguf", "reference/tiny-llama-greedy.jsonl"},
    {"models/tiny-llama-tq2_0.gguf", "reference/tiny-llama-greedy.jsonl"},
};
#define N_MODELS (sizeof models / sizeof models[0])

TEST(vulkan_reference_greedy_ids_of_every_shared_model)
{
    VULKAN_OR_SKIP();
    for (size_t k = 0; k < N_MODELS; k++) {
        char ref[4096];
        snprintf(ref, sizeof ref, "%s", test_shared_path(models[k][1]));
        bn_model *m = load_on(test_shared_path(models[k][0]), "vulkan");
        if (!m) continue;
        ref_result r;
        CHECK(ref_compare(m, ref, &r) == 0 && r.records >= 10);
        CHECK_MSG(r.plain_mismatches == 0 && r.chat_mismatches == 0,
                  "%s: %d of %d plain and %d chat records differ on vulkan", models[k][0],
                  r.plain_mismatches, r.plain_records, r.chat_mismatches);
        bn_model_free(m);
    }
}

/* Every row of a prompt's logits on the device and on the CPU. */
static void compare_prompt(bn_model *cpu, bn_model *dev, const bn_session_params *sp, int n,
                           double *worst, int *same_bits_rows)
{
    const int nv = bn_model_n_vocab(cpu);
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    float *a = malloc((size_t)n * nv * sizeof *a), *b = malloc((size_t)n * nv * sizeof *b);
    for (int i = 0; i < n; i++) ids[i] = rng_int(0, nv - 1);
    char err[BN_ERR_LEN];
    bn_session *sa = bn_session_new(cpu, sp, err), *sb = bn_session_new(dev, sp, err);
    CHECK_MSG(sa && sb, "%s", err);
    CHECK(sa && bn_session_eval_all(sa, ids, n, a, err) == 0);
    CHECK_MSG(sb && bn_session_eval_all(sb, ids, n, b, err) == 0, "%s", err);
    for (int i = 0; i < n; i++) {
        double cosine, maxd;
        ref_logit_distance(a + (size_t)i * nv, b + (size_t)i * nv, nv, &cosine, &maxd);
        if (cosine < *worst) *worst = cosine;
        *same_bits_rows += same_floats(a + (size_t)i * nv, b + (size_t)i * nv, nv);
    }
    bn_session_free(sa);
    bn_session_free(sb);
    free(ids);
    free(a);
    free(b);
}

TEST(vulkan_logits_match_the_cpu_with_f32_and_f16_caches)
{
    VULKAN_OR_SKIP();
    rng_seed(26);
    for (size_t k = 0; k < N_MODELS; k++) {
        const char *path = test_shared_path(models[k][0]);
        bn_model *cpu = load_on(path, "cpu"), *dev = load_on(path, "vulkan");
        for (int f16 = 0; cpu && dev && f16 < 2; f16++) {
            bn_session_params sp = bn_session_default_params();
            sp.n_ctx = 256;
            sp.type_k = sp.type_v = f16 ? BN_CACHE_F16 : BN_CACHE_F32;
            double worst = 1.0;
            int exact = 0;
            compare_prompt(cpu, dev, &sp, 150, &worst, &exact);
            CHECK_MSG(worst >= VK_MIN_COSINE, "%s (%s cache): worst cosine %.7f", models[k][0],
                      f16 ? "f16" : "f32", worst);
            printf("    %s, %s cache: worst cosine %.9f, %d of 150 rows bitwise equal\n",
                   models[k][0], f16 ? "f16" : "f32", worst, exact);
        }
        bn_model_free(cpu);
        bn_model_free(dev);
    }
}
