/*
 * panel_x86.h - the AVX-512 prompt-batch products over a row panel
 * (panel_x86.c): a call's rows are unpacked once into one code byte a
 * weight with 16 rows in the lanes of a vector, then every token of the
 * batch runs over them with broadcast activations and no horizontal sums.
 * Include only under __x86_64__.
 */
#ifndef BN_PANEL_X86_H
#define BN_PANEL_X86_H

#include "act.h"
#include "qk256.h"

/* Most tokens per call the tables ask for (table.h, matmat_tokens): each
 * decoded panel serves them all. */
#define BN_PANEL_TOKENS 256
/* Rows decoded at a time, and the rows per call the tables ask for
 * (table.h, matmat_rows): a multiple of 32, the rows of a tile. */
#define BN_PANEL_ROWS 64

/* qk256_matmat (table.h) over panels for rows [r0, r1), with vpdpbusd
 * (vnni) or vpmaddubsw (bw). Return 0 when done, -1 when they do not take
 * this call (per-block scales, Q16 rows, fewer tokens than decoding the
 * panel pays for, no memory): the
 * caller then runs its row tiles, and nothing has been written. */
int bn_x86_panel_matmat_vnni(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                             int r0, int r1);
int bn_x86_panel_matmat_bw(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                           int r0, int r1);
/* The same in AVX2 (8 rows a vector, vpmaddubsw), for the avx2 table. */
int bn_x86_panel_matmat_avx2(const qk256_matrix *w, const bn_qact *a, int n_tok, float *y, int ldy,
                             int r0, int r1);

#endif
