/*
 * kernels.h - the compute kernels for their users: picks the table of
 * table.h for this CPU from CPUID/HWCAP at startup (kernels.c), and the
 * plain read loop bandwidth figures are measured against. Includes the
 * table, the activation buffers (act.h) and F16 conversion (f16.h), so a
 * caller of the kernels needs this one header.
 */
#ifndef BN_KERNELS_H
#define BN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "act.h"
#include "f16.h"
#include "table.h"

/* "auto"/NULL picks the best the CPU supports; "scalar", a family name
 * ("avx2", "avx512", "neon": the best table of that family the CPU
 * supports) or a table name ("avx512-vnni", "avx512-bw", "neon-dotprod",
 * "neon-plain", "avx-vnni") asks for one. "avx-vnni" is only ever chosen
 * by name (kernels.c says why). A kernel the CPU lacks, or an unknown name,
 * returns NULL with a one-line message in err. */
const bn_kernels *bn_kernels_select(const char *name, char *err, size_t errlen);

#define BN_KERNELS_MAX 8 /* more than the tables of any architecture */

/* The tables this CPU can run, best first and "scalar" last; stores up to
 * max of them and returns how many it stored. */
int bn_kernels_available(const bn_kernels **tables, int max);
/* Their names as "avx512-vnni, avx512-bw, avx2, avx-vnni, scalar" (for --info). */
void bn_kernels_available_names(char *buf, size_t len);

/* The plain read loop the kernels' bandwidth is measured against (--bench,
 * bench/bench_kernels.c): the sum of `bytes` bytes (a multiple of
 * BN_READ_BYTES, 16-byte aligned) read as 16-byte vectors into four
 * independent sums, so that several loads are in flight as in the kernels. */
#define BN_READ_BYTES 64
uint64_t bn_read_sum(const void *buf, size_t bytes);

#endif
