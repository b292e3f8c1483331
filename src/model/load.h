/*
 * load.h - what the files that load and describe a model share
 * (internal to src/model): load.c runs a load through hparams.c (the
 * metadata), validate.c (the tensor table, pass 1), lm_head.c (--lm-head)
 * and residency.c (file pages released, --mlock); describe.c tells about
 * the result (--info).
 */
#ifndef BN_MODEL_LOAD_H
#define BN_MODEL_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define BN_NAME_LEN 128 /* a metadata key or tensor name */
#define BN_BYTES_PER_MIB (1024.0 * 1024.0)

/* hparams.c: general.architecture, printable; the architecture (m->arch,
 * act, rope); the hyperparameters; n_vocab, checked against the
 * vocabulary. The readers return 0, or -1 with err set. */
const char *bn_arch_name(const bn_model *m);
int bn_read_arch(bn_model *m, char *err);
int bn_read_hparams(bn_model *m, char *err);
int bn_read_vocab_size(bn_model *m, char *err);

/* validate.c: the norm weights of a layer (name suffix, width,
 * destination); bn_layer_norms fills them and returns how many the model
 * has. */
#define BN_N_NORMS (6 + BN_N_PROJ)
#define BN_NORM_SUFFIX 32 /* "ffn_down_norm_in" and shorter */
typedef struct {
    char suffix[BN_NORM_SUFFIX];
    int n;
    float **dst;
} bn_norm_slot;
int bn_layer_norms(const bn_model *m, bn_layer *l, bn_norm_slot out[BN_N_NORMS]);
/* Arch "bitnet"'s blk.<il>.<proj>.scale: 1 with *s, 0 when absent, -1. */
int bn_proj_scale(const bn_model *m, int il, const char *proj, float *s, char *err);
/* Pass 1: every tensor, and the output layer's type once loaded. */
int bn_validate_tensors(bn_model *m, const char *lm_head, uint32_t *out_type, char *err);

/* lm_head.c: the output layer's type for an --lm-head name (NULL or empty:
 * the file's type); the bytes of its requantized copy (0 when it keeps
 * the file's type); the requantization, on m->pool. */
int bn_lm_head_type(const bn_model *m, const char *lm_head, uint32_t file_type, uint32_t *type,
                    char *err);
size_t bn_lm_head_bytes(const bn_model *m, uint32_t type);
int bn_lm_head_requantize(bn_model *m, uint32_t type, char *err);

/* residency.c: mapped file bytes whose contents now live elsewhere leave
 * the resident set; --mlock. */
void bn_release_pages(const bn_model *m, const uint8_t *p, size_t n);
void bn_release_tensor_pages(const bn_model *m, const gguf_tensor *t);
int bn_lock_weights(const bn_model *m, char *err);

#endif
