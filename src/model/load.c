/*
 * load.c - loads a GGUF file into the model structs of model.h, and
 * frees them: the metadata (hparams.c) and the tensor table checked whole
 * (validate.c), then the norms copied, the ternary projections repacked
 * into QK256 on the thread pool (docs/FORMAT.md, Tensor names and shapes)
 * with arch "bitnet"'s per-projection scales folded in (docs/FORWARD.md,
 * Architectures), the embedding and output layer bound to the file, and the
 * output layer requantized when asked (lm_head.c). Nothing is allocated
 * for weights until every tensor has been validated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels/grouped.h"
#include "kernels/quants.h"
#include "load.h"
#include "names.h"
#include "runtime/clock.h"
#include "runtime/errors.h"
#include "runtime/memory.h"
#include "ternary.h"
#include "tokenizer/load.h"

bn_model_params bn_model_default_params(void)
{
    return (bn_model_params){
        .kernel = "auto", .verbose = 0, .n_batch = 0, .lm_head = NULL, .weights = NULL};
}

/* A copy of a norm weight vector (pass 1 checked it, validate.c). */
static float *load_norm(const bn_model *m, const char *name, int n, char *err)
{
    const gguf_tensor *t = gguf_find_tensor(m->file, name);
    float *w = malloc((size_t)n * sizeof *w);
    if (!w) {
        bn_errf(err, "out of memory");
        return NULL;
    }
    bn_dequantize_row(t->type, t->data, w, n);
    return w;
}

/* d reads tensor t in the file's type, from the mapping. */
static void bind_dense(const gguf_tensor *t, bn_dense *d)
{
    d->type = t->type;
    d->cols = (int)t->ne[0];
    d->rows = (int)t->ne[1];
    d->row_bytes = bn_quant_row_bytes(t->type, d->cols);
    d->data = t->data;
    d->owned = NULL;
    d->owned_in_arena = 0;
    d->grouped = NULL;
}

/* A Q2_0 / Q1_0 output layer (Bonsai's, 1 bit like the rest) is repacked
 * for the Q8 products, as its projections are. */
static int group_output(bn_model *m, const gguf_tensor *t, char *err)
{
    if (m->output.type != t->type || !bn_ternary_is_grouped(t->type)) return 0;
    qk256_matrix *g = calloc(1, sizeof *g);
    if (!g) return bn_errf(err, "out of memory for the output layer");
    if (bn_ternary_load(t, "output layer", m->pool, NULL, 0, g, err)) {
        free(g);
        return -1;
    }
    m->output.grouped = g;
    return 0;
}

/* Layer il's norms copied, its projections repacked (their file pages
 * released) and scaled. */
static int load_layer(bn_model *m, int il, char *err)
{
    bn_layer *l = &m->layers[il];
    char name[BN_NAME_LEN];
    bn_norm_slot norms[BN_N_NORMS];
    const int n_norms = bn_layer_norms(m, l, norms);
    for (int i = 0; i < n_norms; i++) {
        snprintf(name, sizeof name, "blk.%d.%.*s.weight", il, BN_NORM_SUFFIX, norms[i].suffix);
        if (!(*norms[i].dst = load_norm(m, name, norms[i].n, err))) return -1;
    }
    for (size_t i = 0; i < BN_N_PROJ; i++) {
        snprintf(name, sizeof name, "blk.%d.%s.weight", il, bn_proj_names[i]);
        qk256_matrix *w = bn_layer_proj(l, i);
        const gguf_tensor *t = gguf_find_tensor(m->file, name);
        if (bn_ternary_load(t, name, m->pool, &m->weights, m->q16, w, err)) return -1;
        bn_release_tensor_pages(m, t);
        float s = 1.0f;
        if (bn_proj_scale(m, il, bn_proj_names[i], &s, err) == 1) qk256_scale_by(w, s);
    }
    return 0;
}

/* The bytes of every layer's repacked projections (pass 1 checked them). */
static size_t ternary_bytes(const bn_model *m)
{
    char name[BN_NAME_LEN];
    size_t total = 0;
    for (int il = 0; il < m->hp.n_layer; il++)
        for (size_t i = 0; i < BN_N_PROJ; i++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", il, bn_proj_names[i]);
            const gguf_tensor *t = gguf_find_tensor(m->file, name);
            total += t->type == GGML_TYPE_Q1_0 ? bn_bits_bytes((int)t->ne[1], (int)t->ne[0])
                                               : qk256_codes_bytes((int)t->ne[1], (int)t->ne[0]);
        }
    return total;
}

/* Pass 2: allocate and repack. */
static int load_weights(bn_model *m, uint32_t out_type, char *err)
{
    const bn_hparams *hp = &m->hp;
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return bn_errf(err, "out of memory");
    /* without the mapping each matrix goes on the heap: slower, not wrong */
    (void)bn_arena_init(&m->weights, ternary_bytes(m) + bn_lm_head_bytes(m, out_type));
    for (int il = 0; il < hp->n_layer; il++)
        if (load_layer(m, il, err)) return -1;
    if (!(m->output_norm = load_norm(m, "output_norm.weight", hp->n_embd, err))) return -1;
    bind_dense(gguf_find_tensor(m->file, "token_embd.weight"), &m->tok_embd);
    const gguf_tensor *out = gguf_find_tensor(m->file, "output.weight");
    if (out)
        bind_dense(out, &m->output);
    else
        m->output = m->tok_embd; /* tied (docs/FORMAT.md, Tensor names and shapes) */
    if (bn_lm_head_requantize(m, out_type, err)) return -1;
    return group_output(m, out ? out : gguf_find_tensor(m->file, "token_embd.weight"), err);
}

/* bn_model_params.weights: the 2-bit layout (NULL, "", "q2") or "q16". */
static int weights_layout(bn_model *m, const char *weights, char *err)
{
    m->q16 = weights && !strcasecmp(weights, "q16");
    if (weights && *weights && !m->q16 && strcasecmp(weights, "q2"))
        return bn_errf(err, "unknown weights layout '%s' (expected q2 or q16)", weights);
    return 0;
}

/* The vocabulary, hyperparameters and tensor table, all checked. */
static int load_metadata(bn_model *m, const char *path, const bn_model_params *p, char *err)
{
    if (weights_layout(m, p->weights, err)) return -1;
    m->file = p->no_mmap ? gguf_open_read(path, err, BN_ERR_LEN) : gguf_open(path, err, BN_ERR_LEN);
    if (!m->file) return -1;
    if (bn_read_arch(m, err) || bn_read_hparams(m, err)) return -1;
    if (!(m->tok = bn_tokenizer_from_gguf(m->file, err, BN_ERR_LEN))) return -1;
    if (bn_read_vocab_size(m, err) || bn_validate_tensors(m, p->lm_head, &m->out_type, err))
        return -1;
    if (!(m->kernels = bn_kernels_select(p->kernel, err, BN_ERR_LEN))) return -1;
    return 0;
}

/* The metadata, then (unless vocab_only) the weights on a pool of the
 * cores available, locked in RAM with use_mlock. */
/* bn_model_params.lm_copy: never, always, or for an output layer larger
 * than the caches. */
static int wants_lm_copy(const bn_model *m, int lm_copy)
{
    if (lm_copy) return lm_copy > 0;
    return (size_t)m->output.rows * m->output.row_bytes >= BN_LM_COPY_MIN_BYTES;
}

static int load_all(bn_model *m, const char *path, const bn_model_params *p, char *err)
{
    if (load_metadata(m, path, p, err)) return -1;
    m->vocab_only = p->vocab_only;
    if (m->vocab_only) return 0;
    if (!(m->pool = bn_pool_new(bn_available_cores())))
        return bn_errf(err, "cannot start %d threads", bn_available_cores());
    int rc = load_weights(m, m->out_type, err);
    if (!rc && wants_lm_copy(m, p->lm_copy) && bn_lm_copy_build(m) && m->verbose)
        fprintf(stderr, "bitnet-run: no memory for the output layer's copy: every logit computed "
                        "in full\n");
    bn_pool_free(m->pool); /* contexts bring their own threads */
    m->pool = NULL;
    if (!rc && p->use_mlock) rc = bn_lock_weights(m, err);
    return rc;
}

/* -v: the load's time, layers, kernel, threads and memory. */
static void report_load(const bn_model *m, const char *path, double seconds)
{
    const int threads = bn_available_cores();
    fprintf(stderr, "bitnet-run: loaded %s in %.0f ms (%d layers, kernel %s, %d thread%s)\n", path,
            seconds * 1e3, m->hp.n_layer, m->kernels->name, threads, threads == 1 ? "" : "s");
    double rss = bn_resident_mib(), hwm = bn_peak_resident_mib();
    if (rss >= 0.0 && hwm >= 0.0)
        fprintf(stderr, "bitnet-run: memory after load: resident %.1f MiB, peak %.1f MiB\n", rss,
                hwm);
}

/* The model in host memory from path (params NULL: the defaults); NULL
 * with err set. */
bn_model *bn_model_open(const char *path, const bn_model_params *params, char *err)
{
    bn_model_params defaults = bn_model_default_params();
    const bn_model_params *p = params ? params : &defaults;
    bn_model *m = calloc(1, sizeof *m);
    if (!m) {
        bn_errf(err, "out of memory");
        return NULL;
    }
    m->verbose = p->verbose;
    m->n_batch = p->n_batch > 0 ? p->n_batch : BN_DEFAULT_BATCH;
    double t0 = bn_seconds();
    if (load_all(m, path, p, err)) {
        bn_model_close(m);
        return NULL;
    }
    if (m->verbose) report_load(m, path, bn_seconds() - t0);
    return m;
}

/* Frees the layers, the arena, the tokenizer and the file (NULL is fine). */
void bn_model_close(bn_model *m)
{
    if (!m) return;
    if (m->layers) {
        for (int il = 0; il < m->hp.n_layer; il++) {
            bn_layer *l = &m->layers[il];
            free(l->attn_norm);
            free(l->attn_sub_norm);
            free(l->ffn_norm);
            free(l->ffn_sub_norm);
            free(l->attn_q_norm);
            free(l->attn_k_norm);
            for (size_t i = 0; i < BN_N_PROJ; i++) free(l->norm_in[i]);
            for (size_t i = 0; i < BN_N_PROJ; i++) qk256_free(bn_layer_proj(l, i));
        }
        free(m->layers);
    }
    bn_arena_free(&m->weights);
    free(m->output_norm);
    if (!m->output.owned_in_arena) free(m->output.owned);
    if (m->output.grouped) qk256_free(m->output.grouped);
    free(m->output.grouped);
    bn_lm_copy_free(&m->lm_copy);
    bn_tokenizer_free(m->tok);
    bn_pool_free(m->pool);
    gguf_close(m->file);
    free(m);
}

const bn_tokenizer *bn_model_tokenizer(const bn_model *m) { return m->tok; }
int bn_model_n_vocab(const bn_model *m) { return m->hp.n_vocab; }
int bn_model_n_embd(const bn_model *m) { return m->hp.n_embd; }
bn_pooling bn_model_pooling(const bn_model *m) { return m->pooling; }
int bn_model_embedding_only(const bn_model *m)
{
    return m->pooling != BN_POOL_NONE && !gguf_find_tensor(m->file, "output.weight");
}
int bn_model_n_ctx_train(const bn_model *m) { return m->hp.n_ctx_train; }
const char *bn_model_kernel_name(const bn_model *m) { return m->kernels->name; }
