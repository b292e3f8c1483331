/*
 * test_vulkan_ops.c - the backend-ops test: each shader of the Vulkan
 * backend run alone on random shapes and compared with the CPU's scalar
 * kernels. Integer products (the ternary sums, the int8 quantization)
 * must be bit-exact; the float steps must be within FLOAT_TOLERANCE of the
 * CPU in normalized error (max |device - cpu| / max |cpu|), and on a
 * device with shaderFloat64 (lavapipe, NVIDIA, AMD) they come out
 * bitwise, which the test reports. Skips, saying why, without Vulkan.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#ifndef BN_VULKAN
TEST(vulkan_ops_match_the_cpu) { SKIP("built without Vulkan (no glslc/headers)"); }
#else
#include "backend/vulkan/vk.h"
#include "engine/ops.h"
#include "kernels/kernels.h"

#define FLOAT_TOLERANCE 1e-5 /* normalized error of a float step */
#define CASES 12             /* random shapes per operation */
#define ATTN_VALUE_CHUNK 128 /* attention.c's chunk of positions */

static bn_vk vk;
static int vk_state; /* 0 untried, 1 open, -1 unavailable */
static char vk_why[BN_ERR_LEN + 64];

static void close_device(void) { bn_vk_close(&vk); }

/* The first device, opened once for all the tests; NULL with a reason. */
static const char *device_missing(void)
{
    if (!vk_state) {
        char err[BN_ERR_LEN];
        vk_state = bn_vk_open(&vk, 0, err) ? -1 : 1;
        if (vk_state < 0)
            snprintf(vk_why, sizeof vk_why, "no usable Vulkan device: %s", err);
        else
            atexit(close_device);
    }
    return vk_state > 0 ? NULL : vk_why;
}

#define DEVICE_OR_SKIP()                                                                           \
    do {                                                                                           \
        const char *why_ = device_missing();                                                       \
        if (why_) SKIP(why_);                                                                      \
    } while (0)

/* A host-visible buffer the test reads and writes directly. */
static void *hbuf(bn_vkbuf *b, size_t bytes)
{
    char err[BN_ERR_LEN];
    if (bn_vk_buffer(&vk, b, bytes ? bytes : 4, 1, "a test buffer", err)) {
        test_fail(__FILE__, __LINE__, "%s", err);
        return NULL;
    }
    memset(b->map, 0, bytes);
    return b->map;
}

static void run_one(bn_vk_shader s, const void *push, size_t bytes, uint32_t gx, uint32_t gy,
                    uint32_t gz)
{
    char err[BN_ERR_LEN];
    bn_vk_begin(&vk);
    bn_vk_dispatch(&vk, s, push, bytes, gx, gy, gz);
    bn_vk_barrier(&vk);
    CHECK_MSG(bn_vk_run(&vk, err) == 0, "%s", err);
}

/* max |a - b| / max |b| over n values. */
static double normalized_error(const float *a, const float *b, int n)
{
    double d = 0, m = 0;
    for (int i = 0; i < n; i++) {
        if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
        if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
    }
    return m > 0 ? d / m : d;
}

static void check_floats(const char *what, const float *dev, const float *cpu, int n, int *exact)
{
    const double e = normalized_error(dev, cpu, n);
    CHECK_MSG(e <= FLOAT_TOLERANCE, "%s: normalized error %.3g", what, e);
    *exact += same_floats(dev, cpu, n);
}

static void random_floats(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) x[i] = rng_float(-scale, scale);
}

/* Activations of n_tok tokens quantized by the CPU, copied where the
 * ternary shader reads them. */
static void upload_acts(const bn_qact *a, int n_tok, int nb, uint8_t *q, int32_t *bsum,
                        int32_t *sum, float *scale)
{
    for (int t = 0; t < n_tok; t++) {
        memcpy(q + (size_t)t * nb * QK256_BLOCK, a[t].q, (size_t)nb * QK256_BLOCK);
        memcpy(bsum + (size_t)t * nb, a[t].block_sums, (size_t)nb * sizeof *bsum);
        sum[t] = a[t].sum;
        scale[t] = a[t].scale;
    }
}

TEST(vulkan_op_ternary_products_are_bit_exact)
{
    DEVICE_OR_SKIP();
    rng_seed(261);
    for (int c = 0; c < CASES; c++) {
        const int rows = rng_int(1, 150),
                  cols = rng_int(1, 5) * 256 - (c % 3 ? 0 : rng_int(1, 200));
        const int n_tok = rng_int(1, 19), block_scales = c % 2;
        qk256_matrix w;
        CHECK(qk256_alloc(&w, rows, cols, block_scales) == 0);
        const int nb = w.blocks_per_row;
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < cols; k++) qk256_set(&w, r, k, rng_int(-1, 1));
        w.scale = rng_float(0.1f, 2.0f);
        for (int i = 0; block_scales && i < rows * nb; i++)
            w.block_scales[i] = rng_float(0.1f, 2.0f);
        bn_qact *a = calloc((size_t)n_tok, sizeof *a);
        float *x = malloc((size_t)cols * sizeof *x),
              *want = malloc((size_t)n_tok * rows * sizeof *want);
        for (int t = 0; t < n_tok; t++) {
            random_floats(x, (size_t)cols, 3.0f);
            CHECK(bn_qact_alloc(&a[t], cols) == 0);
            bn_kernels_scalar.quantize(x, cols, &a[t]);
            bn_kernels_scalar.qk256_matvec(&w, &a[t], want + (size_t)t * rows, 0, rows);
        }
        bn_vkbuf bc, bs, bq, bbs, bsum, bsc, by;
        uint8_t *codes = hbuf(&bc, qk256_codes_bytes(rows, cols));
        float *sc = hbuf(&bs, (size_t)rows * nb * sizeof(float));
        uint8_t *q = hbuf(&bq, (size_t)n_tok * nb * QK256_BLOCK);
        int32_t *bsums = hbuf(&bbs, (size_t)n_tok * nb * sizeof(int32_t));
        int32_t *sums = hbuf(&bsum, (size_t)n_tok * sizeof(int32_t));
        float *scales = hbuf(&bsc, (size_t)n_tok * sizeof(float));
        float *y = hbuf(&by, (size_t)n_tok * rows * sizeof(float));
        if (codes && sc && q && bsums && sums && scales && y) {
            memcpy(codes, w.codes, qk256_codes_bytes(rows, cols));
            if (block_scales) memcpy(sc, w.block_scales, (size_t)rows * nb * sizeof(float));
            upload_acts(a, n_tok, nb, q, bsums, sums, scales);
            const push_ternary pc = {bc.addr,
                                     block_scales ? bs.addr : 0,
                                     bq.addr,
                                     bbs.addr,
                                     bsum.addr,
                                     bsc.addr,
                                     by.addr,
                                     (uint32_t)nb,
                                     (uint32_t)rows,
                                     (uint32_t)n_tok,
                                     (uint32_t)rows,
                                     w.scale,
                                     (uint32_t)block_scales};
            run_one(BN_VK_TERNARY, &pc, sizeof pc, (uint32_t)(rows + 63) / 64,
                    (uint32_t)(n_tok + 7) / 8, 1);
            CHECK_MSG(same_floats(y, want, n_tok * rows),
                      "ternary %d x %d, %d tokens, %s scales: not bitwise the CPU's", rows, cols,
                      n_tok, block_scales ? "block" : "tensor");
        }
        bn_vkbuf *all[] = {&bc, &bs, &bq, &bbs, &bsum, &bsc, &by};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) bn_vk_buffer_free(&vk, all[i]);
        for (int t = 0; t < n_tok; t++) bn_qact_free(&a[t]);
        free(a), free(x), free(want);
        qk256_free(&w);
    }
}

TEST(vulkan_op_norm_and_quantize_match_the_cpu)
{
    DEVICE_OR_SKIP();
    rng_seed(262);
    int exact = 0, compared = 0;
    for (int c = 0; c < CASES; c++) {
        const int n = rng_int(1, 3000), n_tok = rng_int(1, 5), nb = (n + 255) / 256;
        const int norm = c % 4 != 3; /* the last of four: quantization alone */
        bn_vkbuf bx, badd, bw, bo, bq, bbs, bsum, bsc;
        float *x = hbuf(&bx, (size_t)n_tok * n * 4), *add = hbuf(&badd, (size_t)n_tok * n * 4);
        float *w = hbuf(&bw, (size_t)n * 4), *out = hbuf(&bo, (size_t)n_tok * n * 4);
        uint8_t *q = hbuf(&bq, (size_t)n_tok * nb * 256);
        int32_t *bsums = hbuf(&bbs, (size_t)n_tok * nb * 4), *sums = hbuf(&bsum, (size_t)n_tok * 4);
        float *scales = hbuf(&bsc, (size_t)n_tok * 4);
        if (x && add && w && out && q && bsums && sums && scales) {
            random_floats(x, (size_t)n_tok * n, 4.0f);
            random_floats(add, (size_t)n_tok * n, 1.0f);
            random_floats(w, (size_t)n, 2.0f);
            float *cx = malloc((size_t)n_tok * n * 4), *co = malloc((size_t)n_tok * n * 4);
            memcpy(cx, x, (size_t)n_tok * n * 4);
            const push_norm pc = {bx.addr,
                                  badd.addr,
                                  norm ? bw.addr : 0,
                                  bo.addr,
                                  bq.addr,
                                  bbs.addr,
                                  bsum.addr,
                                  bsc.addr,
                                  0,
                                  (uint32_t)n,
                                  NQ_ADD | (norm ? NQ_NORM : 0) | NQ_QUANT,
                                  1e-5f,
                                  (uint32_t)nb};
            run_one(BN_VK_NORM_QUANT, &pc, sizeof pc, (uint32_t)n_tok, 1, 1);
            bn_qact a;
            CHECK(bn_qact_alloc(&a, n) == 0);
            for (int t = 0; t < n_tok; t++) {
                float *xr = cx + (size_t)t * n, *orow = co + (size_t)t * n;
                bn_add_into(xr, add + (size_t)t * n, n);
                if (norm)
                    bn_kernels_scalar.rmsnorm(orow, xr, w, n, 1e-5f);
                else
                    memcpy(orow, xr, (size_t)n * 4);
                bn_kernels_scalar.quantize(orow, n, &a);
                CHECK_MSG(same_floats(x + (size_t)t * n, xr, n), "residual add, n %d", n);
                if (norm) check_floats("rmsnorm", out + (size_t)t * n, orow, n, &exact), compared++;
                /* the same inputs quantize to the same bytes, sums and scale */
                if (!same_floats(out + (size_t)t * n, orow, n) && norm) continue;
                CHECK_MSG(!memcmp(q + (size_t)t * nb * 256, a.q, (size_t)nb * 256) &&
                              !memcmp(bsums + (size_t)t * nb, a.block_sums, (size_t)nb * 4) &&
                              sums[t] == a.sum && same_bits(scales[t], a.scale),
                          "quantization of %d values differs from the CPU's", n);
            }
            bn_qact_free(&a);
            free(cx), free(co);
        }
        bn_vkbuf *all[] = {&bx, &badd, &bw, &bo, &bq, &bbs, &bsum, &bsc};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) bn_vk_buffer_free(&vk, all[i]);
    }
    printf("    rmsnorm: %d of %d rows bitwise the CPU's\n", exact, compared);
}

TEST(vulkan_op_activations_and_output_layer_match_the_cpu)
{
    DEVICE_OR_SKIP();
    rng_seed(263);
    int exact = 0, compared = 0;
    for (int c = 0; c < CASES; c++) {
        /* gate = act(gate) * up */
        const int n = rng_int(1, 5000), silu = c % 2;
        bn_vkbuf bg, bu;
        float *g = hbuf(&bg, (size_t)n * 4), *u = hbuf(&bu, (size_t)n * 4);
        if (g && u) {
            random_floats(g, (size_t)n, 8.0f);
            random_floats(u, (size_t)n, 2.0f);
            float *want = malloc((size_t)n * 4);
            memcpy(want, g, (size_t)n * 4);
            bn_ffn_activate(&bn_kernels_scalar, silu ? BN_ACT_SILU : BN_ACT_RELU2, want, u, n);
            const push_act pc = {bg.addr, bu.addr, (uint32_t)n, (uint32_t)silu};
            run_one(BN_VK_ACT, &pc, sizeof pc, (uint32_t)(n + 255) / 256, 1, 1);
            check_floats(silu ? "silu" : "relu2", g, want, n, &exact), compared++;
            free(want);
        }
        bn_vk_buffer_free(&vk, &bg), bn_vk_buffer_free(&vk, &bu);
        /* the F16 output layer for several inputs */
        const int rows = rng_int(1, 300), cols = rng_int(1, 700), n_tok = rng_int(1, 11);
        bn_vkbuf bw, bx, by;
        uint16_t *w = hbuf(&bw, (size_t)rows * cols * 2 + 4);
        float *x = hbuf(&bx, (size_t)n_tok * cols * 4), *y = hbuf(&by, (size_t)n_tok * rows * 4);
        if (w && x && y) {
            for (size_t i = 0; i < (size_t)rows * cols; i++) w[i] = bn_f32_to_f16(rng_float(-1, 1));
            random_floats(x, (size_t)n_tok * cols, 2.0f);
            float *want = malloc((size_t)n_tok * rows * 4);
            for (int t = 0; t < n_tok; t++)
                bn_kernels_scalar.f16_matvec(w, cols, x + (size_t)t * cols, want + (size_t)t * rows,
                                             0, rows);
            const push_dense pc = {
                bw.addr,         bx.addr, by.addr,        (uint32_t)rows,          (uint32_t)cols,
                (uint32_t)n_tok, 1,       (uint32_t)rows, (uint32_t)(rows + 3) / 4};
            run_one(BN_VK_DENSE, &pc, sizeof pc, (uint32_t)(rows + 3) / 4,
                    (uint32_t)(n_tok + 7) / 8, 1);
            check_floats("f16 output layer", y, want, n_tok * rows, &exact), compared++;
            free(want);
        }
        bn_vk_buffer_free(&vk, &bw), bn_vk_buffer_free(&vk, &bx), bn_vk_buffer_free(&vk, &by);
    }
    printf("    activations and output layer: %d of %d cases bitwise the CPU's\n", exact, compared);
}

/* The CPU's attention of one query head (attention.c's attend, one head):
 * scores, softmax, then the value sums chunk by chunk. */
static void cpu_attend(const float *q, const void *k, const void *v, int f16k, int f16v, int n,
                       int hd, float *scores, float *out)
{
    const bn_kernels *kt = &bn_kernels_scalar;
    const float scale = 1.0f / sqrtf((float)hd);
    if (f16k)
        kt->attn_scores_f16(q, 1, k, (size_t)hd, n, hd, scale, scores, 0, 0);
    else
        kt->attn_scores(q, 1, k, (size_t)hd, n, hd, scale, scores, 0, 0);
    bn_softmax(kt, scores, n);
    float part[512];
    for (int p0 = 0; p0 < n; p0 += ATTN_VALUE_CHUNK) {
        const int len = n - p0 < ATTN_VALUE_CHUNK ? n - p0 : ATTN_VALUE_CHUNK;
        float *dst = p0 ? part : out;
        if (f16v)
            kt->attn_values_f16(scores + p0, 0, 1, (const uint16_t *)v + (size_t)p0 * hd,
                                (size_t)hd, len, hd, dst);
        else
            kt->attn_values(scores + p0, 0, 1, (const float *)v + (size_t)p0 * hd, (size_t)hd, len,
                            hd, dst);
        if (p0) bn_add_into(out, part, hd);
    }
}

TEST(vulkan_op_rope_cache_and_attention_match_the_cpu)
{
    DEVICE_OR_SKIP();
    rng_seed(264);
    int exact = 0, compared = 0;
    for (int c = 0; c < CASES; c++) {
        const int hd = 16 * rng_int(1, 8), n_kv = rng_int(1, 3), n_head = n_kv * rng_int(1, 4);
        const int n_ctx = rng_int(1, 400), pos = rng_int(0, n_ctx - 1), layer = rng_int(0, 1);
        const int f16k = c % 2, f16v = c / 2 % 2, neox = c / 4 % 2;
        const size_t cache_elems = 2 * (size_t)n_kv * n_ctx * hd;
        bn_vkbuf bq, bk, bv, bcs, bsess, bkc, bvc, bsc, bo;
        float *q = hbuf(&bq, (size_t)n_head * hd * 4), *k = hbuf(&bk, (size_t)n_kv * hd * 4);
        float *v = hbuf(&bv, (size_t)n_kv * hd * 4), *cs = hbuf(&bcs, (size_t)hd * 4);
        uint32_t *sess = hbuf(&bsess, SESS_WORDS * 4);
        void *kc = hbuf(&bkc, cache_elems * (f16k ? 2 : 4)),
             *vc = hbuf(&bvc, cache_elems * (f16v ? 2 : 4));
        float *scores = hbuf(&bsc, (size_t)n_head * n_ctx * 4),
              *out = hbuf(&bo, (size_t)n_head * hd * 4);
        if (!(q && k && v && cs && sess && kc && vc && scores && out)) continue;
        random_floats(q, (size_t)n_head * hd, 1.0f);
        random_floats(k, (size_t)n_kv * hd, 1.0f);
        random_floats(v, (size_t)n_kv * hd, 1.0f);
        for (size_t i = 0; i < cache_elems; i++) {
            const float r = rng_float(-1, 1);
            if (f16k)
                ((uint16_t *)kc)[i] = bn_f32_to_f16(r);
            else
                ((float *)kc)[i] = r;
            if (f16v)
                ((uint16_t *)vc)[i] = bn_f32_to_f16(-r);
            else
                ((float *)vc)[i] = -r;
        }
        bn_rope_angles(cs, hd, pos, 10000.0f);
        const uint32_t rec[SESS_WORDS] = {(uint32_t)bkc.addr, (uint32_t)(bkc.addr >> 32),
                                          (uint32_t)bvc.addr, (uint32_t)(bvc.addr >> 32),
                                          (uint32_t)n_ctx,    (uint32_t)f16k,
                                          (uint32_t)f16v,     (uint32_t)pos};
        memcpy(sess, rec, sizeof rec);
        /* the CPU: RoPE, the cache store, attention */
        float *cq = malloc((size_t)n_head * hd * 4), *ck = malloc((size_t)n_kv * hd * 4);
        memcpy(cq, q, (size_t)n_head * hd * 4);
        memcpy(ck, k, (size_t)n_kv * hd * 4);
        void (*rope)(float *, int, const float *) = neox ? bn_rope_apply : bn_rope_apply_norm;
        for (int h = 0; h < n_head; h++) rope(cq + (size_t)h * hd, hd, cs);
        for (int h = 0; h < n_kv; h++) rope(ck + (size_t)h * hd, hd, cs);
        const size_t ek = f16k ? 2 : 4, ev = f16v ? 2 : 4;
        char *ckc = malloc(cache_elems * ek), *cvc = malloc(cache_elems * ev);
        memcpy(ckc, kc, cache_elems * ek);
        memcpy(cvc, vc, cache_elems * ev);
        for (int h = 0; h < n_kv; h++)
            for (int i = 0; i < hd; i++) {
                const size_t off = (((size_t)layer * n_kv + h) * n_ctx + pos) * hd + i;
                if (f16k)
                    ((uint16_t *)ckc)[off] = bn_f32_to_f16(ck[h * hd + i]);
                else
                    ((float *)ckc)[off] = ck[h * hd + i];
                if (f16v)
                    ((uint16_t *)cvc)[off] = bn_f32_to_f16(v[h * hd + i]);
                else
                    ((float *)cvc)[off] = v[h * hd + i];
            }
        const push_rope pr = {bq.addr,         bk.addr,          bv.addr,        bcs.addr,
                              bsess.addr,      (uint32_t)n_head, (uint32_t)n_kv, (uint32_t)hd,
                              (uint32_t)layer, (uint32_t)neox};
        run_one(BN_VK_ROPE_KV, &pr, sizeof pr, 1, 1, 1);
        CHECK_MSG(same_floats(q, cq, n_head * hd) && same_floats(k, ck, n_kv * hd), "rope differs");
        CHECK_MSG(!memcmp(kc, ckc, cache_elems * ek) && !memcmp(vc, cvc, cache_elems * ev),
                  "cache store differs (f16 k %d, v %d)", f16k, f16v);
        const push_attn pa = {bq.addr,          bsc.addr,
                              bo.addr,          bsess.addr,
                              (uint32_t)n_head, (uint32_t)n_kv,
                              (uint32_t)hd,     (uint32_t)layer,
                              (uint32_t)n_ctx,  1.0f / sqrtf((float)hd)};
        run_one(BN_VK_ATTENTION, &pa, sizeof pa, (uint32_t)n_head, 1, 1);
        float *want = malloc((size_t)n_head * hd * 4), *sc = malloc((size_t)n_ctx * 4);
        const int group = n_head / n_kv;
        for (int h = 0; h < n_head; h++) {
            const size_t base = ((size_t)layer * n_kv + h / group) * n_ctx * hd;
            cpu_attend(cq + (size_t)h * hd, ckc + base * ek, cvc + base * ev, f16k, f16v, pos + 1,
                       hd, sc, want + (size_t)h * hd);
        }
        check_floats("attention", out, want, n_head * hd, &exact), compared++;
        free(cq), free(ck), free(ckc), free(cvc), free(want), free(sc);
        bn_vkbuf *all[] = {&bq, &bk, &bv, &bcs, &bsess, &bkc, &bvc, &bsc, &bo};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) bn_vk_buffer_free(&vk, all[i]);
    }
    printf("    attention: %d of %d cases bitwise the CPU's\n", exact, compared);
}
#endif
