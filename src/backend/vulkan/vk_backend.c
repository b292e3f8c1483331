/*
 * vk_backend.c - the Vulkan backend: the model's weights in one device
 * buffer (uploaded once, at load), each session's KV cache in device
 * buffers of its own, and a pass recorded into one command buffer:
 *
 *   embed -> per layer: attn_norm+quantize -> Q, K, V -> RoPE + cache
 *   store -> attention -> [attn_sub_norm]+quantize -> attn_output ->
 *   residual+ffn_norm+quantize -> gate, up -> activation ->
 *   [ffn_sub_norm]+quantize -> down; then residual+output_norm of the
 *   rows whose logits are wanted -> output layer.
 *
 * A barrier sits only where a step reads what the one before wrote (Q, K
 * and V run side by side, as do gate and up). The host writes the pass's
 * token ids, positions, RoPE tables and sessions into a host-visible
 * buffer and reads back only the logits rows asked for. Passes over one
 * model take its lock in turn. The shaders are in shaders/, one per step.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "engine/ops.h"
#include "runtime/errors.h"
#include "vk.h"

#define WEIGHT_ALIGN 256  /* bytes between the tensors of the weights buffer */
#define MAX_BLOCKS 128    /* QK256 blocks of a row: ternary.comp and norm_quant.comp */
#define MAX_GROUPS 65535u /* workgroups along one dimension every device allows */
#define TERNARY_ROWS 64   /* ternary.comp: rows and tokens a workgroup */
#define TERNARY_TOKENS 8
#define DENSE_ROWS 4 /* dense.comp: rows and tokens a workgroup */
#define DENSE_TOKENS 8
#define ACT_THREADS 256 /* act.comp: elements a workgroup */

typedef struct {
    VkDeviceAddress codes, bscale; /* bscale 0: one scale for the tensor */
    float scale;
    int rows, nb;
} vk_matrix;

typedef struct {
    VkDeviceAddress attn_norm, attn_sub_norm, ffn_norm, ffn_sub_norm; /* sub-norms may be 0 */
    vk_matrix wq, wk, wv, wo, wgate, wup, wdown;
} vk_layer;

/* A dense table (embedding, output layer): F16 as in the file, or the
 * CPU's rows dequantized to floats at load. */
typedef struct {
    VkDeviceAddress addr;
    int f16;
} vk_table;

/* The pass's device buffers, `cap` tokens over up to n_ctx positions. */
typedef struct {
    VkDeviceAddress x, xn, xo, q, k, v, att, gate, up, scores, qa_q, qa_bsum, qa_sum, qa_scale;
} vk_scratch;

/* The host-visible buffer: what the host writes before a pass and the
 * logits it reads after. */
typedef struct {
    size_t ids, sess, cs, rows, logits; /* byte offsets */
} vk_io;

typedef struct {
    bn_vk vk;
    pthread_mutex_t lock;
    bn_vkbuf weights;
    vk_layer *layers;
    VkDeviceAddress output_norm;
    vk_table embd, out;
    bn_vkbuf scratch_buf;
    vk_scratch sc;
    int cap, n_ctx;
    bn_vkbuf io_buf;
    vk_io io;
    int io_cap;
} vk_model;

typedef struct {
    bn_vkbuf k, v;
} vk_session;

/* ------------------------------------------------------------ weights */

/* Lays tensors out in the weights buffer: run once to size it, once to
 * upload. */
typedef struct {
    vk_model *vm;
    size_t used;
    int write;
    int rc;
    char *err;
} placer;

static VkDeviceAddress place(placer *pl, const void *src, size_t bytes)
{
    const size_t off = (pl->used + WEIGHT_ALIGN - 1) / WEIGHT_ALIGN * WEIGHT_ALIGN;
    pl->used = off + bytes;
    if (pl->write && !pl->rc && src && bytes)
        pl->rc = bn_vk_upload(&pl->vm->vk, &pl->vm->weights, off, src, bytes, pl->err);
    return pl->vm->weights.addr + off;
}

static VkDeviceAddress place_norm(placer *pl, const float *w, int n)
{
    return w ? place(pl, w, (size_t)n * sizeof *w) : 0;
}

static vk_matrix place_matrix(placer *pl, const qk256_matrix *w)
{
    vk_matrix d = {.scale = w->scale, .rows = w->rows, .nb = w->blocks_per_row};
    d.codes = place(pl, w->codes, qk256_codes_bytes(w->rows, w->cols));
    if (w->block_scales)
        d.bscale = place(pl, w->block_scales, (size_t)w->rows * w->blocks_per_row * sizeof(float));
    return d;
}

static vk_table place_table(placer *pl, const bn_dense *d)
{
    if (d->type == GGML_TYPE_F16)
        return (vk_table){place(pl, d->data, (size_t)d->rows * d->cols * sizeof(uint16_t)), 1};
    const size_t n = (size_t)d->rows * d->cols;
    float *rows = pl->write ? malloc(n * sizeof *rows) : NULL;
    if (pl->write && !rows) {
        pl->rc = bn_errf(pl->err, "out of memory dequantizing a %d x %d table", d->rows, d->cols);
        return (vk_table){0, 0};
    }
    for (int r = 0; rows && r < d->rows; r++) bn_dense_row(d, r, rows + (size_t)r * d->cols);
    const vk_table t = {place(pl, rows, n * sizeof(float)), 0};
    free(rows);
    return t;
}

static void place_model(placer *pl, const bn_model *m)
{
    vk_model *vm = pl->vm;
    vm->embd = place_table(pl, &m->tok_embd);
    const int tied = m->output.data == m->tok_embd.data && m->output.type == m->tok_embd.type;
    vm->out = tied ? vm->embd : place_table(pl, &m->output);
    vm->output_norm = place_norm(pl, m->output_norm, m->hp.n_embd);
    const int ne = m->hp.n_embd, q_dim = m->hp.n_head * m->hp.head_dim;
    for (int il = 0; il < m->hp.n_layer; il++) {
        const bn_layer *l = &m->layers[il];
        vk_layer *d = &vm->layers[il];
        d->attn_norm = place_norm(pl, l->attn_norm, ne);
        d->attn_sub_norm = place_norm(pl, l->attn_sub_norm, q_dim);
        d->ffn_norm = place_norm(pl, l->ffn_norm, ne);
        d->ffn_sub_norm = place_norm(pl, l->ffn_sub_norm, m->hp.n_ff);
        d->wq = place_matrix(pl, &l->wq);
        d->wk = place_matrix(pl, &l->wk);
        d->wv = place_matrix(pl, &l->wv);
        d->wo = place_matrix(pl, &l->wo);
        d->wgate = place_matrix(pl, &l->wgate);
        d->wup = place_matrix(pl, &l->wup);
        d->wdown = place_matrix(pl, &l->wdown);
    }
}

static int upload_weights(vk_model *vm, const bn_model *m, char *err)
{
    placer pl = {.vm = vm, .err = err};
    place_model(&pl, m);
    if (bn_vk_buffer(&vm->vk, &vm->weights, pl.used, 0, "the weights", err)) return -1;
    pl = (placer){.vm = vm, .write = 1, .err = err};
    place_model(&pl, m);
    return pl.rc;
}

static int blocks_of(int n) { return (n + QK256_BLOCK - 1) / QK256_BLOCK; }

/* The shapes the shaders take: rows of at most MAX_BLOCKS blocks, and
 * grids within MAX_GROUPS. */
static int check_shapes(const bn_model *m, char *err)
{
    const bn_hparams *hp = &m->hp;
    const int widest = hp->n_ff > hp->n_embd ? hp->n_ff : hp->n_embd;
    if (blocks_of(widest) > MAX_BLOCKS || blocks_of(hp->n_head * hp->head_dim) > MAX_BLOCKS)
        return bn_errf(err, "vulkan: rows of more than %d weights are not supported",
                       MAX_BLOCKS * QK256_BLOCK);
    if (widest > (int)MAX_GROUPS || hp->n_head > (int)MAX_GROUPS || hp->head_dim % 2)
        return bn_errf(err, "vulkan: this model's shape is not supported");
    if (m->has_qk_norm || m->has_norm_in || m->act_groups || m->output.grouped)
        return bn_errf(err, "vulkan: arch qwen3 (q/k norms, input norms, Q1_0/Q2_0) runs on the "
                            "CPU only (leave out --device)");
    return 0;
}

/* ------------------------------------------------------------ buffers */

static int max_blocks(const bn_hparams *hp)
{
    int w = hp->n_embd > hp->n_ff ? hp->n_embd : hp->n_ff;
    if (hp->n_head * hp->head_dim > w) w = hp->n_head * hp->head_dim;
    return blocks_of(w);
}

/* The pass's device buffers for cap tokens over n_ctx positions, grown
 * (never shrunk) as passes need. */
static int ensure_scratch(vk_model *vm, const bn_hparams *hp, int cap, int n_ctx, char *err)
{
    if (vm->scratch_buf.buf && cap <= vm->cap && n_ctx <= vm->n_ctx) return 0;
    cap = cap > vm->cap ? cap : vm->cap;
    n_ctx = n_ctx > vm->n_ctx ? n_ctx : vm->n_ctx;
    const size_t c = (size_t)cap, ne = (size_t)hp->n_embd, nf = (size_t)hp->n_ff;
    const size_t qd = (size_t)hp->n_head * hp->head_dim, kvd = (size_t)hp->n_head_kv * hp->head_dim;
    const size_t nb = (size_t)max_blocks(hp);
    const size_t words[] = {c * ne,
                            c * ne,
                            c * ne,
                            c * qd,
                            c * kvd,
                            c * kvd,
                            c * qd,
                            c * nf,
                            c * nf,
                            c * hp->n_head * (size_t)n_ctx,
                            c * nb * QK256_BLOCK / 4,
                            c * nb,
                            c,
                            c};
    VkDeviceAddress *dst[] = {&vm->sc.x,      &vm->sc.xn,      &vm->sc.xo,   &vm->sc.q,
                              &vm->sc.k,      &vm->sc.v,       &vm->sc.att,  &vm->sc.gate,
                              &vm->sc.up,     &vm->sc.scores,  &vm->sc.qa_q, &vm->sc.qa_bsum,
                              &vm->sc.qa_sum, &vm->sc.qa_scale};
    size_t offs[sizeof words / sizeof *words], total = 0;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        offs[i] = total;
        total += (words[i] * 4 + WEIGHT_ALIGN - 1) / WEIGHT_ALIGN * WEIGHT_ALIGN;
    }
    bn_vk_buffer_free(&vm->vk, &vm->scratch_buf);
    vm->cap = vm->n_ctx = 0;
    if (bn_vk_buffer(&vm->vk, &vm->scratch_buf, total, 0, "a pass's buffers", err)) return -1;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        *dst[i] = vm->scratch_buf.addr + offs[i];
    vm->cap = cap;
    vm->n_ctx = n_ctx;
    return 0;
}

/* The host-visible buffer for cap tokens. */
static int ensure_io(vk_model *vm, const bn_hparams *hp, int cap, char *err)
{
    if (vm->io_buf.buf && cap <= vm->io_cap) return 0;
    const size_t c = (size_t)cap;
    vk_io io;
    io.ids = 0;
    io.sess = io.ids + c * sizeof(uint32_t);
    io.cs = io.sess + c * SESS_WORDS * sizeof(uint32_t);
    io.rows = io.cs + c * hp->head_dim * sizeof(float);
    io.logits = io.rows + c * sizeof(uint32_t);
    const size_t total = io.logits + c * hp->n_vocab * sizeof(float);
    bn_vk_buffer_free(&vm->vk, &vm->io_buf);
    vm->io_cap = 0;
    if (bn_vk_buffer(&vm->vk, &vm->io_buf, total, 1, "a pass's inputs and logits", err)) return -1;
    vm->io = io;
    vm->io_cap = cap;
    return 0;
}

/* ------------------------------------------------------------ a pass */

static void *io_at(vk_model *vm, size_t off) { return (char *)vm->io_buf.map + off; }
static VkDeviceAddress io_addr(const vk_model *vm, size_t off) { return vm->io_buf.addr + off; }

/* Token ids, sessions, RoPE tables (ops.c, as the CPU computes them) and
 * the rows whose logits are wanted. */
static void fill_io(vk_model *vm, const bn_model *m, const bn_pass *p)
{
    uint32_t *ids = io_at(vm, vm->io.ids), *sess = io_at(vm, vm->io.sess);
    uint32_t *rows = io_at(vm, vm->io.rows);
    float *cs = io_at(vm, vm->io.cs);
    const int hd = m->hp.head_dim;
    for (int t = 0; t < p->n; t++) {
        const bn_session *s = p->sess[t];
        const vk_session *vs = s->dev;
        uint32_t *r = sess + (size_t)t * SESS_WORDS;
        r[0] = (uint32_t)vs->k.addr;
        r[1] = (uint32_t)(vs->k.addr >> 32);
        r[2] = (uint32_t)vs->v.addr;
        r[3] = (uint32_t)(vs->v.addr >> 32);
        r[4] = (uint32_t)s->n_ctx;
        r[5] = s->type_k == BN_CACHE_F16;
        r[6] = s->type_v == BN_CACHE_F16;
        r[7] = (uint32_t)p->pos[t];
        ids[t] = (uint32_t)p->ids[t];
        bn_rope_angles(cs + (size_t)t * hd, hd, p->pos[t], m->hp.rope_base);
    }
    for (int i = 0; i < p->n_logits; i++) rows[i] = (uint32_t)p->logit_rows[i];
}

/* RMSNorm (w not 0) and/or quantization of n-wide rows of x for n_tok
 * tokens, after x += add (add not 0). */
static void norm_quant(vk_model *vm, const bn_model *m, VkDeviceAddress x, VkDeviceAddress add,
                       VkDeviceAddress w, VkDeviceAddress out, int n, int n_tok)
{
    const push_norm pc = {x,
                          add,
                          w,
                          out,
                          vm->sc.qa_q,
                          vm->sc.qa_bsum,
                          vm->sc.qa_sum,
                          vm->sc.qa_scale,
                          0,
                          (uint32_t)n,
                          (add ? NQ_ADD : 0) | (w ? NQ_NORM : 0) | NQ_QUANT,
                          m->hp.rms_eps,
                          (uint32_t)blocks_of(n)};
    bn_vk_dispatch(&vm->vk, BN_VK_NORM_QUANT, &pc, sizeof pc, (uint32_t)n_tok, 1, 1);
    bn_vk_barrier(&vm->vk);
}

/* y = w * the quantized activations of n_tok tokens (no barrier: the
 * products that share an input run side by side). */
static void ternary(vk_model *vm, const vk_matrix *w, VkDeviceAddress y, int n_tok)
{
    const push_ternary pc = {
        w->codes,          w->bscale, vm->sc.qa_q,     vm->sc.qa_bsum,    vm->sc.qa_sum,
        vm->sc.qa_scale,   y,         (uint32_t)w->nb, (uint32_t)w->rows, (uint32_t)n_tok,
        (uint32_t)w->rows, w->scale,  w->bscale != 0};
    bn_vk_dispatch(&vm->vk, BN_VK_TERNARY, &pc, sizeof pc,
                   (uint32_t)(w->rows + TERNARY_ROWS - 1) / TERNARY_ROWS,
                   (uint32_t)(n_tok + TERNARY_TOKENS - 1) / TERNARY_TOKENS, 1);
}

/* A grid of `groups` workgroups in at most MAX_GROUPS along x. */
static void split_groups(uint32_t groups, uint32_t *gx, uint32_t *gy)
{
    *gx = groups < MAX_GROUPS ? groups : MAX_GROUPS;
    *gy = (groups + *gx - 1) / *gx;
}

static void layer_record(vk_model *vm, const bn_model *m, int il, int n)
{
    const bn_hparams *hp = &m->hp;
    const vk_layer *l = &vm->layers[il];
    const vk_scratch *s = &vm->sc;
    bn_vk *vk = &vm->vk;
    const int q_dim = hp->n_head * hp->head_dim;

    /* the residual of the layer before (its down projection, in xn) */
    norm_quant(vm, m, s->x, il ? s->xn : 0, l->attn_norm, s->xn, hp->n_embd, n);
    ternary(vm, &l->wq, s->q, n);
    ternary(vm, &l->wk, s->k, n);
    ternary(vm, &l->wv, s->v, n);
    bn_vk_barrier(vk);
    const push_rope pr = {s->q,
                          s->k,
                          s->v,
                          io_addr(vm, vm->io.cs),
                          io_addr(vm, vm->io.sess),
                          (uint32_t)hp->n_head,
                          (uint32_t)hp->n_head_kv,
                          (uint32_t)hp->head_dim,
                          (uint32_t)il,
                          m->rope == BN_ROPE_NEOX};
    bn_vk_dispatch(vk, BN_VK_ROPE_KV, &pr, sizeof pr, (uint32_t)n, 1, 1);
    bn_vk_barrier(vk);
    const push_attn pa = {s->q,
                          s->scores,
                          s->att,
                          io_addr(vm, vm->io.sess),
                          (uint32_t)hp->n_head,
                          (uint32_t)hp->n_head_kv,
                          (uint32_t)hp->head_dim,
                          (uint32_t)il,
                          (uint32_t)vm->n_ctx,
                          1.0f / sqrtf((float)hp->head_dim)};
    bn_vk_dispatch(vk, BN_VK_ATTENTION, &pa, sizeof pa, (uint32_t)hp->n_head, (uint32_t)n, 1);
    bn_vk_barrier(vk);
    norm_quant(vm, m, s->att, 0, l->attn_sub_norm, s->att, q_dim, n);
    ternary(vm, &l->wo, s->xn, n);
    bn_vk_barrier(vk);

    norm_quant(vm, m, s->x, s->xn, l->ffn_norm, s->xn, hp->n_embd, n);
    ternary(vm, &l->wgate, s->gate, n);
    ternary(vm, &l->wup, s->up, n);
    bn_vk_barrier(vk);
    uint32_t gx, gy;
    const uint32_t total = (uint32_t)n * (uint32_t)hp->n_ff;
    split_groups((total + ACT_THREADS - 1) / ACT_THREADS, &gx, &gy);
    const push_act pact = {s->gate, s->up, total, m->act == BN_ACT_SILU};
    bn_vk_dispatch(vk, BN_VK_ACT, &pact, sizeof pact, gx, gy, 1);
    bn_vk_barrier(vk);
    norm_quant(vm, m, s->gate, 0, l->ffn_sub_norm, s->gate, hp->n_ff, n);
    ternary(vm, &l->wdown, s->xn, n);
    bn_vk_barrier(vk);
}

/* The last residual and output_norm of the rows whose logits are wanted
 * (gathered into xo), then the output layer into the host's buffer. */
static void output_record(vk_model *vm, const bn_model *m, int n_logits)
{
    const vk_scratch *s = &vm->sc;
    const int ne = m->hp.n_embd, n_vocab = m->hp.n_vocab;
    const push_norm pn = {s->x,
                          s->xn,
                          vm->output_norm,
                          s->xo,
                          0,
                          0,
                          0,
                          0,
                          io_addr(vm, vm->io.rows),
                          (uint32_t)ne,
                          NQ_ADD | NQ_NORM | NQ_ROWS,
                          m->hp.rms_eps,
                          0};
    bn_vk_dispatch(&vm->vk, BN_VK_NORM_QUANT, &pn, sizeof pn, (uint32_t)n_logits, 1, 1);
    bn_vk_barrier(&vm->vk);
    uint32_t gx, gz;
    split_groups((uint32_t)(n_vocab + DENSE_ROWS - 1) / DENSE_ROWS, &gx, &gz);
    const push_dense pd = {vm->out.addr,
                           s->xo,
                           io_addr(vm, vm->io.logits),
                           (uint32_t)n_vocab,
                           (uint32_t)ne,
                           (uint32_t)n_logits,
                           (uint32_t)vm->out.f16,
                           (uint32_t)n_vocab,
                           gx};
    bn_vk_dispatch(&vm->vk, BN_VK_DENSE, &pd, sizeof pd, gx,
                   (uint32_t)(n_logits + DENSE_TOKENS - 1) / DENSE_TOKENS, gz);
    bn_vk_barrier(&vm->vk);
}

static void pass_record(vk_model *vm, const bn_model *m, const bn_pass *p)
{
    bn_vk_begin(&vm->vk);
    const push_embed pe = {vm->embd.addr, vm->sc.x, io_addr(vm, vm->io.ids), (uint32_t)m->hp.n_embd,
                           (uint32_t)vm->embd.f16};
    bn_vk_dispatch(&vm->vk, BN_VK_EMBED, &pe, sizeof pe, (uint32_t)p->n, 1, 1);
    bn_vk_barrier(&vm->vk);
    for (int il = 0; il < m->hp.n_layer; il++) layer_record(vm, m, il, p->n);
    if (p->n_logits) output_record(vm, m, p->n_logits);
}

/* One pass as one command buffer. The abort callback is asked before it
 * is submitted: a pass on the device runs whole. */
static int vk_pass(bn_context *ctx, const bn_pass *p, char *err)
{
    const bn_model *m = ctx->m;
    vk_model *vm = m->dev;
    if (ctx->abort && ctx->abort(ctx->abort_data)) return BN_ABORTED;
    int n_ctx = 0;
    for (int t = 0; t < p->n; t++)
        if (p->sess[t]->n_ctx > n_ctx) n_ctx = p->sess[t]->n_ctx;
    pthread_mutex_lock(&vm->lock);
    int rc = ensure_scratch(vm, &m->hp, p->n, n_ctx, err) || ensure_io(vm, &m->hp, p->n, err);
    if (!rc) {
        fill_io(vm, m, p);
        pass_record(vm, m, p);
        rc = bn_vk_run(&vm->vk, err);
    }
    if (!rc && p->n_logits)
        memcpy(p->logits, io_at(vm, vm->io.logits),
               (size_t)p->n_logits * m->hp.n_vocab * sizeof(float));
    pthread_mutex_unlock(&vm->lock);
    return rc ? -1 : 0;
}

/* ----------------------------------------------------- model, session */

static void vk_model_close(bn_model *m)
{
    vk_model *vm = m->dev;
    if (!vm) return;
    if (vm->vk.dev) {
        bn_vk_buffer_free(&vm->vk, &vm->weights);
        bn_vk_buffer_free(&vm->vk, &vm->scratch_buf);
        bn_vk_buffer_free(&vm->vk, &vm->io_buf);
    }
    bn_vk_close(&vm->vk);
    pthread_mutex_destroy(&vm->lock);
    free(vm->layers);
    free(vm);
    m->dev = NULL;
}

static int vk_model_open(bn_model *m, int index, char *err)
{
    vk_model *vm = calloc(1, sizeof *vm);
    if (!vm) return bn_errf(err, "out of memory");
    pthread_mutex_init(&vm->lock, NULL);
    m->dev = vm;
    int rc = check_shapes(m, err) || bn_vk_open(&vm->vk, index, err);
    if (!rc && !(vm->layers = calloc((size_t)m->hp.n_layer, sizeof *vm->layers)))
        rc = bn_errf(err, "out of memory");
    if (!rc) rc = upload_weights(vm, m, err);
    if (rc) {
        vk_model_close(m);
        return -1;
    }
    if (m->verbose)
        fprintf(stderr, "bitnet-run: vulkan:%d: %s, %.1f MiB of weights on the device%s\n", index,
                vm->vk.name, (double)vm->weights.size / (1024.0 * 1024.0),
                vm->vk.f64 ? "" : " (float sums: no shaderFloat64)");
    return 0;
}

static void vk_session_close(bn_session *s)
{
    vk_session *vs = s->dev;
    vk_model *vm = s->m->dev;
    pthread_mutex_lock(&vm->lock);
    bn_vk_buffer_free(&vm->vk, &vs->k);
    bn_vk_buffer_free(&vm->vk, &vs->v);
    pthread_mutex_unlock(&vm->lock);
    free(vs);
    s->dev = NULL;
}

static int vk_session_open(bn_session *s, char *err)
{
    const bn_hparams *hp = &s->m->hp;
    vk_model *vm = s->m->dev;
    vk_session *vs = calloc(1, sizeof *vs);
    if (!vs) return bn_errf(err, "out of memory for a session");
    s->dev = vs;
    const size_t elems = (size_t)hp->n_layer * s->n_ctx * hp->n_head_kv * hp->head_dim;
    pthread_mutex_lock(&vm->lock);
    int rc = bn_vk_buffer(&vm->vk, &vs->k, elems * (s->type_k == BN_CACHE_F16 ? 2 : 4), 0,
                          "the KV cache", err) ||
             bn_vk_buffer(&vm->vk, &vs->v, elems * (s->type_v == BN_CACHE_F16 ? 2 : 4), 0,
                          "the KV cache", err);
    pthread_mutex_unlock(&vm->lock);
    return rc ? -1 : 0;
}

static const char *vk_device_name(const bn_model *m) { return ((const vk_model *)m->dev)->vk.name; }

const bn_backend bn_backend_vulkan = {
    .name = "vulkan",
    .model_open = vk_model_open,
    .model_close = vk_model_close,
    .session_open = vk_session_open,
    .session_close = vk_session_close,
    .pass = vk_pass,
    .device_name = vk_device_name,
    .list = bn_vk_list,
};
