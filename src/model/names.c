/*
 * names.c - the projection names of names.h.
 */
#include "names.h"

const char *const bn_proj_names[BN_N_PROJ] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                              "ffn_gate", "ffn_up", "ffn_down"};
