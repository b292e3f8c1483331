/*
 * test_formats.c - the decoders of every weight encoding on hand-made
 * blocks: the ternary ones into QK256 (I2_S, TQ2_0, TQ1_0, floats), the
 * non-ternary ones of the embedding and output layer (quants.h), and
 * bn_ternary_load's choices and errors on in-memory tensors.
 * test_formats_files.c runs whole model files.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "kernels/qk256.h"
#include "quant_ref.h"
#include "kernels/quants.h"
#include "model/ternary.h"
#include "test.h"
#include "runtime/threadpool.h"

#define TQ2_BYTES 66
#define TQ1_BYTES 54
#define I2S_TAIL 32

/* A deterministic pseudo-random stream (xorshift), so failures repeat. */
static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}
static int random_trit(void) { return (int)(rng() % 3) - 1; }
static float random_float(void) { return (float)((int)(rng() % 20001) - 10000) / 10000.0f; }

/* A fake tensor over caller-owned bytes, as gguf.c would describe it. */
static gguf_tensor fake_tensor(uint32_t type, int cols, int rows, const void *data)
{
    gguf_tensor t;
    memset(&t, 0, sizeof t);
    t.n_dims = 2;
    t.ne[0] = cols;
    t.ne[1] = rows;
    t.ne[2] = t.ne[3] = 1;
    t.type = type;
    t.n_elements = (uint64_t)cols * rows;
    t.n_bytes = ggml_tensor_nbytes(type, t.ne);
    t.data = data;
    return t;
}

/* Counts weights of m that differ from want[r * cols + c]. */
static int count_wrong(const qk256_matrix *m, const int8_t *want)
{
    int wrong = 0;
    for (int r = 0; r < m->rows; r++)
        for (int c = 0; c < m->cols; c++) wrong += qk256_get(m, r, c) != want[r * m->cols + c];
    return wrong;
}

/* ------------------------------------------------------------ encoders */

/* I2_S (docs/FORMAT.md, I2_S): element j of a flat 128-block in byte j%32 at shift
 * 6-2*(j/32); raw[] holds codes 0..3 (3 = unused, decoded as 0). */
static uint8_t *encode_i2s(const uint8_t *raw, int rows, int cols, float scale)
{
    size_t n = (size_t)rows * cols;
    uint8_t *out = calloc(n / 4 + I2S_TAIL, 1);
    for (size_t e = 0; e < n; e++) {
        size_t b = e / 128, j = e % 128;
        out[32 * b + j % 32] |= (uint8_t)(raw[e] << (6 - 2 * (j / 32)));
    }
    memcpy(out + n / 4, &scale, sizeof scale);
    return out;
}

/* TQ2_0 (docs/FORMAT.md, TQ2_0): element 32l + m of 128-chunk h in byte
 * 32h + m, bits 2l. */
static void encode_tq2_block(const uint8_t *codes, float d, uint8_t *blk)
{
    memset(blk, 0, TQ2_BYTES);
    for (int j = 0; j < 256; j++) {
        int h = j / 128, l = (j % 128) / 32, m = j % 32;
        blk[32 * h + m] |= (uint8_t)(codes[j] << (2 * l));
    }
    qref_put_f16(blk + 64, d);
}

/* A byte of base-3 digits: first digit most significant, scaled by 256/243
 * and rounded up (docs/FORMAT.md, TQ1_0). */
static uint8_t tq1_byte(const uint8_t *trits, int n_trits)
{
    int v = 0;
    for (int i = 0; i < n_trits; i++) v = v * 3 + trits[i];
    for (int i = n_trits; i < 5; i++) v *= 3; /* qh bytes: 4 trits, x3 */
    return (uint8_t)((v * 256 + 242) / 243);
}

/* TQ1_0: qs[0..32) hold elements 32n + m, qs[32..48) 160 + 16n + m,
 * qh[0..4) 240 + 4n + m (n = digit index). */
static void encode_tq1_block(const uint8_t *codes, float d, uint8_t *blk)
{
    uint8_t t[5];
    for (int m = 0; m < 32; m++) {
        for (int n = 0; n < 5; n++) t[n] = codes[32 * n + m];
        blk[m] = tq1_byte(t, 5);
    }
    for (int m = 0; m < 16; m++) {
        for (int n = 0; n < 5; n++) t[n] = codes[160 + 16 * n + m];
        blk[32 + m] = tq1_byte(t, 5);
    }
    for (int m = 0; m < 4; m++) {
        for (int n = 0; n < 4; n++) t[n] = codes[240 + 4 * n + m];
        blk[48 + m] = tq1_byte(t, 4);
    }
    qref_put_f16(blk + 52, d);
}

/* ---------------------------------------------------------- I2_S decoder */

TEST(formats_i2s_decoder_hand_made_blocks)
{
    /* 384 columns: a QK256 row of 1.5 blocks, so the padding is exercised */
    enum { ROWS = 3, COLS = 384 };
    uint8_t raw[ROWS * COLS];
    int8_t want[ROWS * COLS];
    for (int e = 0; e < ROWS * COLS; e++) {
        int r = e / COLS;
        raw[e] = r == 1 ? 1 : (uint8_t)(rng() % 4); /* row 1: all zero weights */
        want[e] = (int8_t)(raw[e] == 3 ? 0 : raw[e] - 1);
    }
    raw[5] = 3; /* the unused code for sure */
    want[5] = 0;
    uint8_t *bytes = encode_i2s(raw, ROWS, COLS, 0.25f);
    qk256_matrix m;
    CHECK(qk256_alloc(&m, ROWS, COLS, 0) == 0);
    qk256_from_i2s_rows(&m, bytes, 0, ROWS);
    CHECK_EQ_INT(count_wrong(&m, want), 0);
    /* the padding of the half-filled last block reads as weight 0 */
    for (int c = COLS; c < 512; c++) CHECK(qk256_get(&m, 0, c) == 0);
    CHECK(i2s_tensor_scale(bytes, ROWS, COLS) == 0.25f);
    qk256_free(&m);
    free(bytes);
}

/* --------------------------------------------------------- TQ decoders */

typedef void (*tq_encoder)(const uint8_t *codes, float d, uint8_t *blk);

/* rows x 512 weights, random ternary except an all-zero block; returns
 * the number of wrong weights after decoding. */
static void check_tq_decoder(const qk256_tq_format *f, tq_encoder enc)
{
    enum { ROWS = 2, COLS = 512, NB = ROWS * COLS / 256 };
    int8_t want[ROWS * COLS];
    uint8_t codes[256];
    uint8_t *data = calloc(NB, f->block_bytes);
    const float d[NB] = {0.5f, 0.25f, 0.125f, 2.0f};
    for (int b = 0; b < NB; b++) {
        for (int j = 0; j < 256; j++) {
            int w = b == 1 ? 0 : random_trit(); /* block 1: all zero */
            want[b * 256 + j] = (int8_t)w;
            codes[j] = (uint8_t)(w + 1);
        }
        enc(codes, d[b], data + (size_t)b * f->block_bytes);
    }
    qk256_matrix m;
    CHECK(qk256_alloc(&m, ROWS, COLS, 1) == 0);
    CHECK_EQ_INT(qk256_from_tq_rows(&m, f, data, 0, ROWS), 0);
    CHECK_MSG(count_wrong(&m, want) == 0, "%s: %d wrong weights", f->name, count_wrong(&m, want));
    for (int b = 0; b < NB; b++) {
        CHECK(m.block_scales[b] == d[b]);
        CHECK(qk256_tq_scale(f, data, (size_t)b) == d[b]);
    }
    qk256_free(&m);
    free(data);
}

TEST(formats_tq2_decoder_hand_made_blocks) { check_tq_decoder(&qk256_tq2_0, encode_tq2_block); }

TEST(formats_tq1_decoder_hand_made_blocks) { check_tq_decoder(&qk256_tq1_0, encode_tq1_block); }

/* Every trit pattern of a qs byte and of a qh byte (the last 16 weights). */
TEST(formats_tq1_every_digit_pattern)
{
    uint8_t codes[256], blk[TQ1_BYTES];
    qk256_matrix m;
    CHECK(qk256_alloc(&m, 1, 256, 0) == 0);
    int wrong = 0;
    for (int v = 0; v < 243; v++) {
        int8_t want[256];
        for (int j = 0; j < 256; j++) codes[j] = 1;
        /* the digits of v on element m=7 of every group, in qs and qh */
        for (int n = 0, x = v; n < 5; n++, x /= 3) {
            codes[32 * (4 - n) + 7] = (uint8_t)(x % 3);
            codes[160 + 16 * (4 - n) + 7] = (uint8_t)(x % 3);
            if (n < 4) codes[240 + 4 * (3 - n) + 3] = (uint8_t)(x % 3);
        }
        for (int j = 0; j < 256; j++) want[j] = (int8_t)(codes[j] - 1);
        encode_tq1_block(codes, 1.0f, blk);
        qk256_from_tq_rows(&m, &qk256_tq1_0, blk, 0, 1);
        wrong += count_wrong(&m, want);
    }
    CHECK_EQ_INT(wrong, 0);
    qk256_free(&m);
}

TEST(formats_tq2_code_3_is_reported)
{
    uint8_t codes[256], blk[TQ2_BYTES];
    memset(codes, 1, sizeof codes);
    encode_tq2_block(codes, 1.0f, blk);
    blk[10] |= 3 << 4; /* element 64 + 10 of the first chunk: code 3 (+2) */
    qk256_matrix m;
    CHECK(qk256_alloc(&m, 1, 256, 0) == 0);
    CHECK_EQ_INT(qk256_from_tq_rows(&m, &qk256_tq2_0, blk, 0, 1), 1);
    CHECK(qk256_get(&m, 0, 74) == 0); /* the matrix stays valid */
    qk256_free(&m);
}

/* ------------------------------------------------------ floats, scales */

TEST(formats_ternarize_rounds_half_to_even_and_pads)
{
    const int cols = 300; /* not a multiple of 256: the second block is padded */
    float w[300];
    int8_t want[300];
    const float in[] = {0.5f, 1.5f, -0.5f, -1.5f, 0.49f, -0.51f, 7.0f, -7.0f, 0.0f, -0.0f};
    const int8_t out[] = {0, 1, 0, -1, 0, -1, 1, -1, 0, 0};
    for (int c = 0; c < cols; c++) {
        w[c] = in[c % 10] * 2.0f; /* scale 2 */
        want[c] = out[c % 10];
    }
    qk256_matrix m;
    CHECK(qk256_alloc(&m, 1, cols, 0) == 0);
    qk256_ternarize_row(&m, 0, w, 2.0f);
    CHECK_EQ_INT(count_wrong(&m, want), 0);
    for (int c = cols; c < 512; c++) CHECK(qk256_get(&m, 0, c) == 0);
    qk256_free(&m);
}

TEST(formats_scale_by_multiplies_every_scale)
{
    qk256_matrix a, b;
    CHECK(qk256_alloc(&a, 2, 256, 0) == 0);
    CHECK(qk256_alloc(&b, 2, 512, 1) == 0);
    if (!b.block_scales) return;
    a.scale = 0.5f;
    for (int i = 0; i < 4; i++) b.block_scales[i] = (float)(i + 1);
    qk256_scale_by(&a, 3.0f);
    qk256_scale_by(&b, 0.5f);
    CHECK(a.scale == 1.5f);
    for (int i = 0; i < 4; i++) CHECK(b.block_scales[i] == (float)(i + 1) * 0.5f);
    qk256_free(&a);
    qk256_free(&b);
}

/* -------------------------------------------------- bn_ternary_load paths */

static bn_pool *test_pool(void)
{
    static bn_pool *pool;
    if (!pool) pool = bn_pool_new(2);
    return pool;
}

/* Builds a rows x 512 TQ2_0 tensor with the given block scales. */
static uint8_t *tq2_tensor(int rows, const float *d, int8_t *want)
{
    const int nb = rows * 2;
    uint8_t *data = malloc((size_t)nb * TQ2_BYTES), codes[256];
    for (int b = 0; b < nb; b++) {
        for (int j = 0; j < 256; j++) {
            int w = random_trit();
            want[b * 256 + j] = (int8_t)w;
            codes[j] = (uint8_t)(w + 1);
        }
        encode_tq2_block(codes, d[b], data + (size_t)b * TQ2_BYTES);
    }
    return data;
}

TEST(formats_tq_equal_block_scales_become_one_scale)
{
    int8_t want[4 * 256];
    const float same[4] = {0.75f, 0.75f, 0.75f, 0.75f}, mixed[4] = {0.75f, 0.75f, 0.5f, 0.75f};
    char err[BN_ERR_LEN];
    for (int k = 0; k < 2; k++) {
        uint8_t *data = tq2_tensor(2, k ? mixed : same, want);
        gguf_tensor t = fake_tensor(GGML_TYPE_TQ2_0, 512, 2, data);
        qk256_matrix m;
        CHECK_MSG(bn_ternary_load(&t, "w", test_pool(), NULL, 0, &m, err) == 0, "%s", err);
        CHECK_EQ_INT(count_wrong(&m, want), 0);
        if (k == 0) {
            CHECK(m.block_scales == NULL && m.scale == 0.75f);
        } else {
            CHECK(m.block_scales != NULL);
            for (int b = 0; m.block_scales && b < 4; b++) CHECK(m.block_scales[b] == mixed[b]);
        }
        qk256_free(&m);
        free(data);
    }
}

/* Matrices loaded into an arena (the model's huge-page mapping) decode the
 * same, sit 64-byte aligned one after another, and go on the heap once it
 * is full; freeing them and the arena frees each block once (sanitizers). */
TEST(formats_ternary_load_into_an_arena)
{
    int8_t want[2 * 256];
    const float d[2] = {0.5f, 0.5f};
    char err[BN_ERR_LEN];
    uint8_t *data = tq2_tensor(1, d, want);
    gguf_tensor t = fake_tensor(GGML_TYPE_TQ2_0, 512, 1, data);
    const size_t bytes = qk256_codes_bytes(1, 512);
    CHECK_EQ_INT((long)bytes, 2 * QK256_BLOCK_BYTES);
    bn_arena arena, none;
    CHECK(bn_arena_init(&arena, 2 * bytes + 1) == 0 && bn_arena_init(&none, 0) == 0);
    CHECK(bn_arena_alloc(&none, 1, 1) == NULL);
    qk256_matrix m[4];
    for (int i = 0; i < 4; i++) {
        CHECK_MSG(bn_ternary_load(&t, "w", test_pool(), &arena, 0, &m[i], err) == 0, "%s", err);
        CHECK_EQ_INT(count_wrong(&m[i], want), 0);
        CHECK((uintptr_t)m[i].codes % QK256_BLOCK_BYTES == 0);
    }
    /* the arena rounds up to whole huge pages: the first matrices fill it
     * in order; any that did not fit are on the heap */
    CHECK(m[0].codes_in_arena && m[1].codes_in_arena && m[1].codes == m[0].codes + bytes);
    while (arena.size - arena.used >= bytes) {
        qk256_matrix more;
        CHECK(qk256_alloc_unset(&more, 1, 512, 0, &arena) == 0 && more.codes_in_arena);
        qk256_free(&more);
    }
    qk256_matrix heap;
    CHECK(qk256_alloc_unset(&heap, 1, 512, 0, &arena) == 0 && !heap.codes_in_arena);
    qk256_free(&heap);
    for (int i = 0; i < 4; i++) qk256_free(&m[i]);
    bn_arena_free(&arena);
    bn_arena_free(&none);
    free(data);
}

TEST(formats_float_ternary_values_keep_their_scale)
{
    /* ternary-valued floats {-s, 0, s} (what converters write): scale s */
    enum { ROWS = 16, COLS = 200 };
    static float w[ROWS * COLS];
    static uint16_t h[ROWS * COLS], bf[ROWS * COLS];
    int8_t want[ROWS * COLS];
    const float s = 0.0123f;
    for (int i = 0; i < ROWS * COLS; i++) {
        want[i] = (int8_t)random_trit();
        w[i] = want[i] * s;
        h[i] = bn_f32_to_f16(w[i]);
        uint32_t bits;
        memcpy(&bits, &w[i], 4);
        bf[i] = (uint16_t)(bits >> 16); /* truncation keeps all values equal in size */
    }
    const struct {
        uint32_t type;
        const void *data;
        float scale;
    } cases[] = {{GGML_TYPE_F32, w, s},
                 {GGML_TYPE_F16, h, bn_f16_to_f32(bn_f32_to_f16(s))},
                 {GGML_TYPE_BF16, bf, 0.0f}};
    char err[BN_ERR_LEN];
    for (int k = 0; k < 3; k++) {
        gguf_tensor t = fake_tensor(cases[k].type, COLS, ROWS, cases[k].data);
        qk256_matrix m;
        CHECK_MSG(bn_ternary_load(&t, "w", test_pool(), NULL, 0, &m, err) == 0, "%s", err);
        CHECK_EQ_INT(count_wrong(&m, want), 0);
        CHECK(m.block_scales == NULL);
        if (cases[k].scale > 0.0f) CHECK(m.scale == cases[k].scale);
        CHECK(fabsf(m.scale - s) < 1e-4f);
        qk256_free(&m);
    }
}

TEST(formats_float_latent_weights_use_absmean)
{
    /* not ternary-valued: BitNet's absmean quantizer, scale = mean|W| */
    enum { ROWS = 8, COLS = 256 };
    static float w[ROWS * COLS];
    int8_t want[ROWS * COLS];
    double sum = 0;
    for (int i = 0; i < ROWS * COLS; i++) {
        w[i] = random_float();
        sum += fabs((double)w[i]);
    }
    const float scale = (float)(sum / (ROWS * COLS));
    for (int i = 0; i < ROWS * COLS; i++) {
        float q = rintf(w[i] / scale);
        want[i] = (int8_t)(q > 1 ? 1 : q < -1 ? -1 : q);
    }
    gguf_tensor t = fake_tensor(GGML_TYPE_F32, COLS, ROWS, w);
    qk256_matrix m;
    char err[BN_ERR_LEN];
    CHECK_MSG(bn_ternary_load(&t, "w", test_pool(), NULL, 0, &m, err) == 0, "%s", err);
    CHECK(m.scale == scale);
    CHECK_EQ_INT(count_wrong(&m, want), 0);
    qk256_free(&m);
}

TEST(formats_ternary_load_errors_name_the_tensor)
{
    char err[BN_ERR_LEN];
    qk256_matrix m;
    /* NaN among float weights */
    static float w[2 * 256];
    w[300] = NAN;
    gguf_tensor t = fake_tensor(GGML_TYPE_F32, 256, 2, w);
    CHECK(bn_ternary_load(&t, "blk.0.attn_q.weight", test_pool(), NULL, 0, &m, err) == -1);
    CHECK_MSG(strstr(err, "blk.0.attn_q.weight") && strstr(err, "NaN"), "%s", err);
    /* a TQ2_0 weight of code 3 (+2) */
    int8_t want[512];
    const float d[2] = {1.0f, 1.0f};
    uint8_t *data = tq2_tensor(1, d, want);
    data[TQ2_BYTES + 3] |= 3;
    t = fake_tensor(GGML_TYPE_TQ2_0, 512, 1, data);
    CHECK(bn_ternary_load(&t, "blk.1.ffn_up.weight", test_pool(), NULL, 0, &m, err) == -1);
    CHECK_MSG(strstr(err, "blk.1.ffn_up.weight") && strstr(err, "not ternary"), "%s", err);
    /* a non-finite block scale */
    data[TQ2_BYTES + 3] &= (uint8_t)~3;
    qref_put_f16(data + TQ2_BYTES + 64, INFINITY);
    CHECK(bn_ternary_check(&t, "blk.1.ffn_up.weight", err) == -1);
    CHECK_MSG(strstr(err, "blk.1.ffn_up.weight") && strstr(err, "scale"), "%s", err);
    free(data);
    /* TQ rows must be whole 256-blocks; I2_S rows whole 128-blocks */
    static uint8_t zeros[4096];
    t = fake_tensor(GGML_TYPE_TQ2_0, 320, 1, zeros);
    CHECK(bn_ternary_check(&t, "x.weight", err) == -1 && strstr(err, "x.weight") &&
          strstr(err, "256"));
    t = fake_tensor(GGML_TYPE_I2_S, 192, 2, zeros);
    CHECK(bn_ternary_check(&t, "y.weight", err) == -1 && strstr(err, "y.weight") &&
          strstr(err, "128"));
    /* not a ternary encoding */
    t = fake_tensor(GGML_TYPE_Q4_K, 256, 1, zeros);
    CHECK(bn_ternary_check(&t, "blk.2.attn_v.weight", err) == -1);
    CHECK_MSG(strstr(err, "blk.2.attn_v.weight") && strstr(err, "Q4_K"), "%s", err);
}

/* ------------------------------------------------ non-ternary decoders */

TEST(formats_q8_0_and_q4_0_hand_made_blocks)
{
    uint8_t q8[34], q4[18];
    float out[32];
    qref_put_f16(q8, 0.5f);
    for (int i = 0; i < 32; i++) q8[2 + i] = (uint8_t)(int8_t)(i * 8 - 128);
    bn_dequantize_row(GGML_TYPE_Q8_0, q8, out, 32);
    for (int i = 0; i < 32; i++) CHECK(out[i] == (float)(i * 8 - 128) * 0.5f);
    /* Q4_0: low nibbles are values 0..15, high nibbles 16..31, minus 8 */
    qref_put_f16(q4, 0.25f);
    for (int i = 0; i < 16; i++) q4[2 + i] = (uint8_t)(i | (15 - i) << 4);
    bn_dequantize_row(GGML_TYPE_Q4_0, q4, out, 32);
    for (int i = 0; i < 16; i++) {
        CHECK(out[i] == (float)(i - 8) * 0.25f);
        CHECK(out[16 + i] == (float)(15 - i - 8) * 0.25f);
    }
    memset(q4 + 2, 0x88, 16); /* all nibbles 8: zero */
    bn_dequantize_row(GGML_TYPE_Q4_0, q4, out, 32);
    for (int i = 0; i < 32; i++) CHECK(out[i] == 0.0f);
}

TEST(formats_q4_k_hand_made_block)
{
    int sc[8], mn[8], q[256];
    for (int j = 0; j < 8; j++) {
        sc[j] = (int)(rng() % 64);
        mn[j] = (int)(rng() % 64);
    }
    sc[5] = 63; /* both top bits set */
    mn[6] = 48;
    for (int i = 0; i < 256; i++) q[i] = (int)(rng() % 16);
    uint8_t blk[144];
    qref_pack_q4_k(0.125f, 0.0625f, sc, mn, q, blk);
    float out[256];
    bn_dequantize_row(GGML_TYPE_Q4_K, blk, out, 256);
    int wrong = 0;
    for (int i = 0; i < 256; i++) {
        const int j = i / 32; /* the sub-block of value i */
        wrong += out[i] != 0.125f * (float)sc[j] * (float)q[i] - 0.0625f * (float)mn[j];
    }
    CHECK_EQ_INT(wrong, 0);
}

/* Q6_K from its parts, written in the shape of ggml's reference loop: per
 * half of 128 values and l < 32, ql[l] holds values l (low nibble) and
 * l + 64 (high), ql[l + 32] values l + 32 and l + 96, qh[l] the top two
 * bits of l, l + 32, l + 64, l + 96 at shifts 0, 2, 4, 6. */
static void pack_q6_k(float d, const int sc[16], const int q[256], uint8_t blk[210])
{
    uint8_t *ql = blk, *qh = blk + 128;
    for (int half = 0; half < 2; half++, ql += 64, qh += 32) {
        const int *v = q + (size_t)half * 128;
        for (int l = 0; l < 32; l++) {
            ql[l] = (uint8_t)((v[l] & 15) | (v[l + 64] & 15) << 4);
            ql[l + 32] = (uint8_t)((v[l + 32] & 15) | (v[l + 96] & 15) << 4);
            qh[l] = (uint8_t)(v[l] >> 4 | (v[l + 32] >> 4) << 2 | (v[l + 64] >> 4) << 4 |
                              (v[l + 96] >> 4) << 6);
        }
    }
    for (int j = 0; j < 16; j++) blk[192 + j] = (uint8_t)(int8_t)sc[j];
    qref_put_f16(blk + 208, d);
}

TEST(formats_q6_k_hand_made_block)
{
    int sc[16], q[256];
    for (int j = 0; j < 16; j++) sc[j] = (int)(rng() % 256) - 128;
    for (int i = 0; i < 256; i++) q[i] = (int)(rng() % 64);
    q[0] = 0;
    q[255] = 63;
    uint8_t blk[210];
    pack_q6_k(0.03125f, sc, q, blk);
    float out[256];
    bn_dequantize_row(GGML_TYPE_Q6_K, blk, out, 256);
    int wrong = 0;
    for (int i = 0; i < 256; i++) {
        const int j = i / 16; /* the sub-block of value i */
        wrong += out[i] != 0.03125f * (float)sc[j] * (float)(q[i] - 32);
    }
    CHECK_EQ_INT(wrong, 0);
}

TEST(formats_f16_bf16_f32_rows)
{
    uint16_t h[3] = {0x3c00, 0xc000, 0x0000}, bf[3] = {0x3f80, 0xc040, 0x8000};
    const float f[3] = {1.5f, -2.25f, 1e-30f};
    float out[3];
    bn_dequantize_row(GGML_TYPE_F16, (const uint8_t *)h, out, 3);
    CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0.0f);
    bn_dequantize_row(GGML_TYPE_BF16, (const uint8_t *)bf, out, 3);
    CHECK(out[0] == 1.0f && out[1] == -3.0f && out[2] == 0.0f && signbit(out[2]));
    bn_dequantize_row(GGML_TYPE_F32, (const uint8_t *)f, out, 3);
    CHECK(out[0] == f[0] && out[1] == f[1] && out[2] == f[2]);
}

/* The largest |x[i]| for i in [b, b + n). */
static float block_amax(const float *x, int b, int n)
{
    float m = 0;
    for (int i = b; i < b + n; i++) m = fmaxf(m, fabsf(x[i]));
    return m;
}

/* How far a value may move in a round trip through `type`: half a
 * quantization step, plus 1% for the fp16 rounding of the scales. */
static float round_trip_tolerance(uint32_t type, const float *x, int i)
{
    switch (type) {
    case GGML_TYPE_F16: return fabsf(x[i]) / 2048.0f + 1e-7f;
    case GGML_TYPE_Q8_0: return block_amax(x, i / 32 * 32, 32) / 127.0f * 0.5f * 1.01f;
    default: /* Q6_K: step = sub-block max / 32, rounded up by up to d = block max / 4096 */
        return (block_amax(x, i / 16 * 16, 16) / 32.0f +
                block_amax(x, i / 256 * 256, 256) / 4096.0f) *
               0.5f * 1.01f;
    }
}

/* Quantize -> dequantize round trips of the --lm-head types, and the dot
 * product against the dequantized row. */
TEST(formats_quantizers_round_trip_within_half_a_step)
{
    enum { N = 512 };
    float x[N], y[N], v[N];
    uint8_t buf[N * 2];
    for (int i = 0; i < N; i++) {
        x[i] = random_float() * (i % 37 == 0 ? 4.0f : 1.0f); /* a few outliers */
        x[i] *= i < 16 ? 0.01f : 1.0f;                       /* a quiet sub-block */
        v[i] = random_float();
    }
    x[7] = 0.0f;
    const uint32_t types[] = {GGML_TYPE_F16, GGML_TYPE_Q8_0, GGML_TYPE_Q6_K};
    for (int k = 0; k < 3; k++) {
        CHECK(bn_quant_can_quantize(types[k]));
        bn_quantize_row(types[k], x, buf, N);
        bn_dequantize_row(types[k], buf, y, N);
        int bad = 0;
        for (int i = 0; i < N; i++)
            bad += fabsf(y[i] - x[i]) > round_trip_tolerance(types[k], x, i);
        CHECK_MSG(bad == 0, "%s: %d values off by more than half a step", gguf_type_name(types[k]),
                  bad);
        CHECK(y[7] == 0.0f);
        double dot = 0;
        for (int i = 0; i < N; i++) dot += (double)y[i] * v[i];
        CHECK(fabs(bn_quant_dot(types[k], buf, v, N) - dot) < 1e-3);
    }
    CHECK(!bn_quant_can_quantize(GGML_TYPE_Q4_K) && bn_quant_can_dequantize(GGML_TYPE_Q4_K));
    CHECK(!bn_quant_can_dequantize(GGML_TYPE_Q5_K) && !bn_quant_can_dequantize(GGML_TYPE_TQ2_0));
    CHECK_EQ_INT(bn_quant_row_bytes(GGML_TYPE_Q6_K, 512), 420);
    CHECK_EQ_INT(bn_quant_row_bytes(GGML_TYPE_Q6_K, 500), 0);
}

/* bn_quant_dot of the decode-only types against their dequantized rows. */
TEST(formats_dot_matches_dequantized_row)
{
    enum { N = 768 }; /* three 256-chunks */
    static uint8_t row[N * 4];
    float v[N], y[N];
    for (size_t i = 0; i < sizeof row; i++) row[i] = (uint8_t)rng();
    for (int i = 0; i < N; i++) v[i] = random_float();
    const uint32_t types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_BF16};
    for (int k = 0; k < 3; k++) {
        const uint32_t t = types[k];
        /* give every block a small finite fp16 scale: random bytes may be NaN */
        if (t == GGML_TYPE_Q4_0)
            for (int b = 0; b < N / 32; b++)
                qref_put_f16(row + (size_t)b * QREF_Q4_0_BYTES, 0.01f * (float)(b + 1));
        if (t == GGML_TYPE_Q4_K)
            for (int b = 0; b < N / 256; b++) {
                qref_put_f16(row + (size_t)b * QREF_Q4_K_BYTES, 0.01f);
                qref_put_f16(row + (size_t)b * QREF_Q4_K_BYTES + 2, 0.002f);
            }
        if (t == GGML_TYPE_BF16)
            for (int i = 0; i < N; i++) row[2 * i + 1] = (uint8_t)(0x3c + rng() % 4); /* exp */
        bn_dequantize_row(t, row, y, N);
        double dot = 0;
        for (int i = 0; i < N; i++) dot += (double)y[i] * v[i];
        float got = bn_quant_dot(t, row, v, N);
        CHECK_MSG(fabs(got - dot) < 1e-4 * (1 + fabs(dot)), "%s: %f vs %f", gguf_type_name(t), got,
                  dot);
    }
}
