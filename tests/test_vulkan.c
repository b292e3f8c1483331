/*
 * test_vulkan.c - the Vulkan backend end to end (--device vulkan): the
 * greedy ids of every shared reference, logits against the CPU's, F16
 * caches, passes that mix sessions, and its errors. Tests skip, saying
 * why, in a build without Vulkan or on a machine without a Vulkan device
 * (CI installs Mesa's lavapipe, so they run there).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitnet.h"
#include "ref_check.h"
#include "test.h"

#define VK_MIN_COSINE 0.9999 /* device logits against the CPU's */
#define PROMPT_TOKENS 80     /* a prompt: two passes of 64 on the device, one position past 64 */

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

#define VULKAN_OR_SKIP()                                                                           \
    do {                                                                                           \
        const char *why_ = vulkan_missing();                                                       \
        if (why_) SKIP(why_);                                                                      \
    } while (0)

static bn_model *load_on(const char *path, const char *device)
{
    bn_model_params p = bn_model_default_params();
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
            compare_prompt(cpu, dev, &sp, PROMPT_TOKENS, &worst, &exact);
            CHECK_MSG(worst >= VK_MIN_COSINE, "%s (%s cache): worst cosine %.7f", models[k][0],
                      f16 ? "f16" : "f32", worst);
            printf("    %s, %s cache: worst cosine %.9f, %d of %d rows bitwise equal\n",
                   models[k][0], f16 ? "f16" : "f32", worst, exact, PROMPT_TOKENS);
        }
        bn_model_free(cpu);
        bn_model_free(dev);
    }
}

/* ------------------------------------------------------------ the CLI */

/* bitnet-run on bitnet-tiny with args; its exit status, stdout and stderr
 * (malloc'd, may be NULL). */
static int tiny(const char *args, char **out, char **err)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s -m %s -t 2 %s", test_bitnet_run(),
             test_shared_path("models/bitnet-tiny.gguf"), args);
    return test_run(cmd, out, err);
}

/* Each line of s cut where its "timings" start (they differ run to run). */
static void drop_timings(char *s)
{
    for (char *line = s; line && *line;) {
        char *nl = strchr(line, '\n'), *t = strstr(line, "\"timings\"");
        if (t && (!nl || t < nl))
            memmove(t, nl ? nl : t + strlen(t), strlen(nl ? nl : t + strlen(t)) + 1);
        line = strchr(line, '\n');
        if (line) line++;
    }
}

/* The same command on the CPU and on the device prints the same (but for
 * the timings of --json). */
static void same_on_both(const char *args)
{
    char a[2048], b[2048], *cpu = NULL, *dev = NULL;
    snprintf(a, sizeof a, "--device cpu %s", args);
    snprintf(b, sizeof b, "--device vulkan %s", args);
    CHECK_EQ_INT(tiny(a, &cpu, NULL), 0);
    CHECK_EQ_INT(tiny(b, &dev, NULL), 0);
    if (cpu) drop_timings(cpu);
    if (dev) drop_timings(dev);
    CHECK_MSG(cpu && dev && *cpu && !strcmp(cpu, dev), "%s:\ncpu:    %s\nvulkan: %s", args, cpu,
              dev);
    free(cpu);
    free(dev);
}

static char *temp_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/bn-vulkan-test-XXXXXX");
    const int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) return NULL;
    close(fd);
    return path;
}

TEST(vulkan_cli_generate_batch_lookup_and_perplexity_equal_the_cpu)
{
    VULKAN_OR_SKIP();
    same_on_both("-p 'The capital of France is' --temp 0 -n 12 -q");
    same_on_both("-p 'Monday, Tuesday,' --temp 0.8 --seed 7 -n 16 -q -ctk f16 -ctv f16");
    same_on_both("-p 'Monday, Tuesday, Wednesday, Monday, Tuesday,' --temp 0 -n 16 -q --lookup 4");
    char *batch = temp_file("2+2=\nThe capital of Italy is\nThe dog says\nMarch, April,\n");
    CHECK(batch != NULL);
    if (!batch) return;
    char args[256];
    snprintf(args, sizeof args, "--batch %s --parallel 3 --temp 0 --seed 5 -n 10 -q", batch);
    same_on_both(args);
    char *text = temp_file("The capital of France is Paris. The capital of Italy is Rome. "
                           "Monday, Tuesday, Wednesday, Thursday, Friday. 2+2=4. 3+5=8.\n");
    snprintf(args, sizeof args, "--perplexity %s -c 16 --json", text);
    same_on_both(args);
    unlink(batch);
    unlink(text);
    /* -ngl 99 is --device vulkan, -ngl 0 the CPU */
    char *ngl = NULL, *dev = NULL;
    CHECK_EQ_INT(tiny("-ngl 99 -p 2+2= --temp 0 -q -v", &ngl, &dev), 0);
    CHECK_MSG(dev && strstr(dev, "vulkan:0: "), "-ngl 99 did not load onto the device: %s", dev);
    free(ngl);
    free(dev);
}

TEST(vulkan_errors_are_one_line)
{
    VULKAN_OR_SKIP();
    char *err = NULL;
    CHECK(tiny("--device vulkan:9 -p x", NULL, &err) != 0);
    CHECK_MSG(err && strstr(err, "vulkan: no device 9") && !strchr(strchr(err, '\n') + 1, '\n'),
              "%s", err);
    free(err);
    err = NULL;
    CHECK(tiny("--device metal -p x", NULL, &err) != 0);
    CHECK_MSG(err && strstr(err, "--device: unknown device 'metal'"), "%s", err);
    free(err);
    /* a loader that finds no driver */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "VK_ICD_FILENAMES=/nonexistent.json VK_DRIVER_FILES=/nonexistent.json "
             "%s -m %s --device vulkan -p x",
             test_bitnet_run(), test_shared_path("models/bitnet-tiny.gguf"));
    err = NULL;
    CHECK(test_run(cmd, NULL, &err) != 0);
    CHECK_MSG(err && strstr(err, "vulkan: ") && strchr(err, '\n') == err + strlen(err) - 1, "%s",
              err);
    free(err);
}

/* A pass that mixes two sessions gives each the logits it gets alone. */
TEST(vulkan_mixed_batch_equals_sessions_alone)
{
    VULKAN_OR_SKIP();
    bn_model *m = load_on(test_shared_path("models/tiny-llama-i2s.gguf"), "vulkan");
    if (!m) return;
    const int nv = bn_model_n_vocab(m);
    char err[BN_ERR_LEN];
    bn_session_params sp = bn_session_default_params();
    sp.n_ctx = 64;
    bn_session *a = bn_session_new(m, &sp, err), *b = bn_session_new(m, &sp, err);
    bn_session *solo = bn_session_new(m, &sp, err);
    sp.context = bn_session_context(a);
    CHECK(a && b && solo);
    const int32_t pa[] = {5, 17, 300, 42}, pb[] = {9, 8};
    bn_batch_entry e[6];
    for (int i = 0; i < 4; i++) e[i] = (bn_batch_entry){a, pa[i], i, i == 3};
    for (int i = 0; i < 2; i++) e[4 + i] = (bn_batch_entry){b, pb[i], i, i == 1};
    float *mixed = malloc(2 * (size_t)nv * sizeof *mixed);
    CHECK_MSG(bn_eval(bn_session_context(a), e, 6, mixed, err) == 0, "%s", err);
    const float *alone;
    CHECK(bn_session_eval(solo, pa, 4, &alone, err) == 0 && same_floats(alone, mixed, nv));
    bn_session_reset(solo);
    CHECK(bn_session_eval(solo, pb, 2, &alone, err) == 0 && same_floats(alone, mixed + nv, nv));
    free(mixed);
    bn_session_free(a);
    bn_session_free(b);
    bn_session_free(solo);
    bn_model_free(m);
}
