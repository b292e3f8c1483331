/*
 * names.h - the names of a layer's seven ternary projections, as a GGUF
 * file spells them in blk.N.<name>.weight (and arch "bitnet"'s
 * blk.N.<name>.scale), in the order bn_layer holds them (names.c).
 */
#ifndef BN_MODEL_NAMES_H
#define BN_MODEL_NAMES_H

#define BN_N_PROJ 7

/* attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down */
extern const char *const bn_proj_names[BN_N_PROJ];

#endif
