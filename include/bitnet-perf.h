/*
 * bitnet-perf.h - what benchmarks need from the engine, beside bitnet.h:
 * the weights one token reads, the machine's plain read bandwidth (the
 * roof decoding is measured against), resident memory and a clock.
 */
#ifndef BITNET_PERF_H
#define BITNET_PERF_H

#include <stddef.h>

#include "bitnet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of weights that generating one token reads (ternary + output layer). */
size_t bn_model_bytes_per_token(const bn_model *model);
/* The same when exact_rows rows of the output layer are computed exactly
 * (bn_session_exact_rows per token): fewer than all add the copy the
 * first stage reads (bn_session_set_logits_top). */
size_t bn_model_bytes_per_token_rows(const bn_model *model, double exact_rows);
/* Best-of-reps read bandwidth in GB/s of a plain read loop over `bytes` on
 * the context's threads. */
double bn_read_bandwidth_gbs(bn_context *ctx, size_t bytes, int reps);
/* The process's resident memory now and its peak so far, in MiB (Linux's
 * VmRSS and VmHWM); -1 where the system does not report them. */
double bn_resident_mib(void);
double bn_peak_resident_mib(void);
/* The kernels this build can run on this CPU, as "scalar, avx2, ...". */
void bn_kernel_names(char *buf, size_t len);
/* Parameters (elements of every tensor) and bytes of tensor data of the
 * model's file, as llama-bench reports a model's size. */
unsigned long long bn_model_n_params(const bn_model *model);
unsigned long long bn_model_tensor_bytes(const bn_model *model);
/* Rows of the output layer computed exactly over the session's life, and
 * in *n_vectors (may be NULL) the logit vectors written: their ratio is the
 * rows a token recomputes (bn_session_set_logits_top). */
long bn_session_exact_rows(const bn_session *session, long *n_vectors);
/* Seconds on a monotonic clock (for timing; not wall time). */
double bn_seconds(void);

#ifdef __cplusplus
}
#endif

#endif
