/*
 * ref_check.c - greedy decoding of the reference records (bitnet-tiny's,
 * tiny-llama's) and comparison with their ids and logits (ref_check.h).
 */
#include "ref_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_mini.h"
#include "test.h"

#define REF_FILE "reference/bitnet-tiny-greedy.jsonl"
#define MIN_RECORDS 20

int ref_argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

void ref_logit_distance(const float *a, const float *b, int n, double *cosine, double *max_diff)
{
    double dot = 0, na = 0, nb = 0, maxd = 0;
    for (int i = 0; i < n; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
        double d = fabs((double)a[i] - b[i]);
        if (d > maxd) maxd = d;
    }
    *cosine = dot / sqrt(na * nb);
    *max_diff = maxd;
}

/* Parses step `step` of "logits": [[...], [...]]; returns the count read. */
static int json_logits(const char *line, int step, float *out, int cap)
{
    const char *p = strstr(line, "\"logits\": [");
    if (!p) return -1;
    p += strlen("\"logits\": [");
    for (int s = 0; s <= step; s++) {
        p = strchr(p, '[');
        if (!p) return -1;
        p++;
        if (s < step) p = strchr(p, ']');
        if (!p) return -1;
    }
    int n = 0;
    while (*p && *p != ']') {
        char *end;
        float v = strtof(p, &end);
        if (end == p) break;
        if (n < cap) out[n] = v;
        n++;
        p = end;
        while (*p == ',' || *p == ' ') p++;
    }
    return n;
}

/* One record: greedy ids until a mismatch or the end; folds logit
 * distances into r. Returns 1 when the ids agree. */
static int compare_record(bn_model *m, const bn_session_params *sp, int top, const char *line,
                          const int32_t *prompt, long np, const int32_t *want, long nw, float *ref,
                          ref_result *r)
{
    const int nv = bn_model_n_vocab(m);
    char err[BN_ERR_LEN];
    bn_session *s = bn_session_new(m, sp, err);
    if (s) bn_session_set_logits_top(s, top);
    const float *logits;
    int same = s && bn_session_eval(s, prompt, (int)np, &logits, err) == 0;
    for (long step = 0; same && step < nw; step++) {
        if (!top && json_logits(line, (int)step, ref, nv) == nv) {
            double cosine, maxd;
            ref_logit_distance(logits, ref, nv, &cosine, &maxd);
            if (cosine < r->min_cosine) r->min_cosine = cosine;
            if (maxd > r->max_diff) r->max_diff = maxd;
            r->logit_steps++;
        }
        int32_t id = ref_argmax(logits, nv);
        same = id == want[step];
        if (!same || bn_token_is_eog(bn_model_tokenizer(m), id)) {
            same = same && step == nw - 1;
            break;
        }
        if (step < nw - 1 && bn_session_eval(s, &id, 1, &logits, err)) same = 0;
    }
    bn_session_free(s);
    return same;
}

int ref_compare(bn_model *m, const char *ref_path, ref_result *r)
{
    const bn_session_params sp = bn_session_default_params();
    return ref_compare_sessions(m, &sp, ref_path, r);
}

static int compare_file(bn_model *m, const bn_session_params *sp, int top, const char *ref_path,
                        ref_result *r)
{
    memset(r, 0, sizeof *r);
    r->min_cosine = 1.0;
    size_t len;
    char *data = test_read_file(ref_path, &len);
    if (!data) return -1;
    float *ref = malloc((size_t)bn_model_n_vocab(m) * sizeof *ref);
    for (char *line = data; line < data + len;) {
        char *end = strchr(line, '\n');
        if (!end) end = data + len;
        *end = 0;
        const char *pv = json_find(line, end, "prompt_ids");
        const char *ov = json_find(line, end, "output_ids");
        const char *cv = json_find(line, end, "chat");
        int32_t *prompt = NULL, *want = NULL;
        long np = pv ? json_int_array(pv, end, &prompt) : -1;
        long nw = ov ? json_int_array(ov, end, &want) : -1;
        if (np > 0 && nw > 0) {
            const int chat = cv && json_bool(cv, end) == 1;
            r->records++;
            r->plain_records += !chat;
            if (!compare_record(m, sp, top, line, prompt, np, want, nw, ref, r))
                *(chat ? &r->chat_mismatches : &r->plain_mismatches) += 1;
        }
        free(prompt);
        free(want);
        line = end + 1;
    }
    free(ref);
    free(data);
    return 0;
}

int ref_compare_sessions(bn_model *m, const bn_session_params *sp, const char *ref_path,
                         ref_result *r)
{
    return compare_file(m, sp, 0, ref_path, r);
}

int ref_compare_top(bn_model *m, const char *ref_path, int top, ref_result *r)
{
    const bn_session_params sp = bn_session_default_params();
    return compare_file(m, &sp, top, ref_path, r);
}

void check_against_reference(const char *model_path, int with_logits)
{
    SHARED_OR_SKIP(ref_path, REF_FILE);
    check_against_reference_file(model_path, ref_path, with_logits);
}

void check_against_reference_file(const char *model_path, const char *ref_path, int with_logits)
{
    check_against_reference_tol(model_path, ref_path, with_logits, REF_MIN_COSINE, REF_MAX_DIFF);
}

void check_against_reference_tol(const char *model_path, const char *ref_path, int with_logits,
                                 double min_cosine, double max_diff)
{
    char err[BN_ERR_LEN];
    bn_model_params p = bn_model_default_params();
    bn_model *m = bn_model_load(model_path, &p, err);
    CHECK_MSG(m != NULL, "%s: %s", model_path, err);
    if (!m) return;
    ref_result r;
    CHECK_MSG(ref_compare(m, ref_path, &r) == 0, "cannot read %s", ref_path);
    CHECK_MSG(r.records >= MIN_RECORDS, "only %d reference records read", r.records);
    CHECK_MSG(r.plain_mismatches == 0 && r.chat_mismatches == 0,
              "%s: greedy ids differ in %d plain and %d chat records of %d", model_path,
              r.plain_mismatches, r.chat_mismatches, r.records);
    if (with_logits) {
        CHECK_MSG(r.logit_steps > 0, "no logits compared");
        CHECK_MSG(r.min_cosine >= min_cosine && r.max_diff <= max_diff,
                  "%s: logits: worst cosine %.6f, max diff %.4f over %d steps", model_path,
                  r.min_cosine, r.max_diff, r.logit_steps);
    }
    bn_model_free(m);
}
