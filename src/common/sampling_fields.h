/*
 * sampling_fields.h - the sampling and length fields of a JSON request (a
 * --batch line, a server request body). Each caller's table names its
 * fields, their ranges and what each sets; one function checks a member
 * against it and stores the value, so both say the same thing about a
 * wrong one.
 */
#ifndef BN_COMMON_SAMPLING_FIELDS_H
#define BN_COMMON_SAMPLING_FIELDS_H

#include "bitnet.h"
#include "json.h"

/* What a field sets. */
typedef enum {
    FIELD_N_PREDICT, /* tokens to generate, -1: no limit */
    FIELD_TEMP,
    FIELD_TOP_K,
    FIELD_TOP_P,
    FIELD_MIN_P,
    FIELD_REPEAT_PENALTY,
    FIELD_SEED,   /* -1 (a seed from the clock) or 0 to 2^64 - 1; lo and hi unused */
    FIELD_LOOKUP, /* most lookup draft tokens a pass */
    FIELD_PRESENCE_PENALTY,
    FIELD_FREQUENCY_PENALTY,
    FIELD_REPEAT_LAST_N,
    FIELD_TYPICAL_P,
} field_target;

typedef struct {
    const char *key;
    field_target target;
    double lo, hi;    /* the values accepted (whole numbers for the integer targets) */
    const char *note; /* what hi is, for the message (NULL: nothing) */
} sampling_field;

/* Where a request's values go, and what its "seed" said. */
typedef struct {
    bn_sampler_params *sp;
    int *n_predict;
    int *lookup;     /* NULL when no field sets it */
    int seed_given;  /* "seed" set sp->seed */
    int seed_random; /* "seed" was -1: the caller takes one from the clock */
} sampling_values;

/* Checks member mb against the n fields and stores its value in v: 0;
 * -1 with err saying what the field takes; 1 when mb's key is none of
 * them. */
int sampling_field_apply(const sampling_field *fields, int n, const json_member *mb,
                         sampling_values *v, char err[BN_ERR_LEN]);

#endif
