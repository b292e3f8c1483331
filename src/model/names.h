/*
 * names.h - the names of a layer's seven ternary projections, as a GGUF
 * file spells them in blk.N.<name>.weight (and arch "bitnet"'s
 * blk.N.<name>.scale), in the order bn_layer holds them (names.c).
 */
#ifndef BN_MODEL_NAMES_H
#define BN_MODEL_NAMES_H

#define BN_N_PROJ 7
/* Their indexes. */
enum { BN_PROJ_Q, BN_PROJ_K, BN_PROJ_V, BN_PROJ_OUTPUT, BN_PROJ_GATE, BN_PROJ_UP, BN_PROJ_DOWN };

/* attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down */
extern const char *const bn_proj_names[BN_N_PROJ];

#endif
