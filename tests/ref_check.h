/*
 * ref_check.h - compares a model with the reference greedy outputs and
 * logits of bitnet-tiny (../shared/reference/bitnet-tiny-greedy.jsonl) or
 * of another reference file in its format (tiny-llama-greedy.jsonl),
 * shared by test_model.c, test_formats.c and test_llama.c.
 */
#ifndef BN_REF_CHECK_H
#define BN_REF_CHECK_H

#include "bitnet.h"

#define REF_MIN_COSINE 0.9999 /* the tolerance the reference README states */
#define REF_MAX_DIFF 0.02

typedef struct {
    int records, plain_records;            /* compared; plain = not chat */
    int plain_mismatches, chat_mismatches; /* records whose greedy ids differ */
    int logit_steps;                       /* steps that had reference logits */
    double min_cosine, max_diff;           /* worst over those steps */
} ref_result;

/* Index of the largest of v[0..n). */
int ref_argmax(const float *v, int n);
/* Cosine similarity and largest absolute difference of a and b. */
void ref_logit_distance(const float *a, const float *b, int n, double *cosine, double *max_diff);
/* Greedy-decodes every reference record with m; returns -1 when the file
 * cannot be read. */
int ref_compare(bn_model *m, const char *ref_path, ref_result *r);
/* The same in sessions made with sp (KV cache types; n_ctx 0 gives the
 * model's context, which holds every record). */
int ref_compare_sessions(bn_model *m, const bn_session_params *sp, const char *ref_path,
                         ref_result *r);
/* Greedy ids only, in sessions that want only their top best logits
 * exact (bn_session_set_logits_top): no logit distances. */
int ref_compare_top(bn_model *m, const char *ref_path, int top, ref_result *r);
/* Loads model_path and checks every record's greedy ids and, with_logits,
 * every logit step against REF_MIN_COSINE / REF_MAX_DIFF. SKIPs (ends the
 * calling test) without ../shared. */
void check_against_reference(const char *model_path, int with_logits);
/* The same against the records of ref_path (tiny-llama's, say). */
void check_against_reference_file(const char *model_path, const char *ref_path, int with_logits);
/* The same with the tolerance a fixture's README states. */
void check_against_reference_tol(const char *model_path, const char *ref_path, int with_logits,
                                 double min_cosine, double max_diff);

#endif
