/*
 * sampling_fields.c - checking and storing the sampling and length fields
 * of JSON requests against a caller's table (sampling_fields.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sampling_fields.h"

#define SEED_LIMIT 18446744073709551616.0 /* 2^64: seeds are below it */

static int is_integer_target(field_target t)
{
    return t == FIELD_N_PREDICT || t == FIELD_TOP_K || t == FIELD_SEED || t == FIELD_LOOKUP ||
           t == FIELD_REPEAT_LAST_N;
}

/* "seed": -1 asks for a seed from the clock; other values must be whole
 * numbers below 2^64, read exactly from their digits (a double holds only
 * 53 bits). */
static int parse_seed(const json_member *mb, sampling_values *v)
{
    double d;
    if (mb->kind == JSON_NUMBER && mb->raw_len == 2 && !memcmp(mb->raw, "-1", 2)) {
        v->seed_random = 1;
        v->seed_given = 0;
        return 0;
    }
    if (json_number_in(mb, 0, SEED_LIMIT, 1, &d)) return -1;
    uint64_t seed = (uint64_t)(d < SEED_LIMIT ? d : 0);
    if (strspn(mb->raw, "0123456789") == mb->raw_len) { /* exact, beyond 2^53 too */
        char tmp[32];
        if (mb->raw_len >= sizeof tmp) return -1;
        memcpy(tmp, mb->raw, mb->raw_len);
        tmp[mb->raw_len] = 0;
        errno = 0;
        seed = strtoull(tmp, NULL, 10);
        if (errno) return -1;
    } else if (d >= SEED_LIMIT) {
        return -1;
    }
    v->sp->seed = seed;
    v->seed_given = 1;
    v->seed_random = 0;
    return 0;
}

/* Stores a checked value x where field f says. */
static void store(const sampling_field *f, double x, sampling_values *v)
{
    switch (f->target) {
    case FIELD_N_PREDICT: *v->n_predict = (int)x; break;
    case FIELD_TEMP: v->sp->temp = (float)x; break;
    case FIELD_TOP_K: v->sp->top_k = (int)x; break;
    case FIELD_TOP_P: v->sp->top_p = (float)x; break;
    case FIELD_MIN_P: v->sp->min_p = (float)x; break;
    case FIELD_REPEAT_PENALTY: v->sp->repeat_penalty = (float)x; break;
    case FIELD_LOOKUP: *v->lookup = (int)x; break;
    case FIELD_PRESENCE_PENALTY: v->sp->presence_penalty = (float)x; break;
    case FIELD_FREQUENCY_PENALTY: v->sp->frequency_penalty = (float)x; break;
    case FIELD_REPEAT_LAST_N: v->sp->repeat_last_n = (int)x; break;
    case FIELD_TYPICAL_P: v->sp->typical_p = (float)x; break;
    case FIELD_SEED: break;
    }
}

/* Finds mb's field, checks its value against the range and stores it. */
int sampling_field_apply(const sampling_field *fields, int n, const json_member *mb,
                         sampling_values *v, char err[BN_ERR_LEN])
{
    const sampling_field *f = NULL;
    for (int i = 0; i < n && !f; i++)
        if (!strcmp(fields[i].key, mb->key)) f = &fields[i];
    if (!f) return 1;
    if (f->target == FIELD_SEED) {
        if (!parse_seed(mb, v)) return 0;
        snprintf(err, BN_ERR_LEN,
                 "\"%s\" must be -1 (a random seed) or an integer from 0 to "
                 "2^64 - 1",
                 f->key);
        return -1;
    }
    const int integer = is_integer_target(f->target);
    double x;
    if (!json_number_in(mb, f->lo, f->hi, integer, &x)) {
        store(f, x, v);
        return 0;
    }
    snprintf(err, BN_ERR_LEN, "\"%s\" must be %s from %.15g to %.15g%s%s%s", f->key,
             integer ? "an integer" : "a number", f->lo, f->hi, f->note ? " (" : "",
             f->note ? f->note : "", f->note ? ")" : "");
    return -1;
}
