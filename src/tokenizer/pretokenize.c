/*
 * pretokenize.c - hand-written matchers for the pre-tokenizer regexes
 * (docs/TOKENIZERS.md, Pre-tokenizers), with no regex library. Each
 * matcher answers "how long is the match of this regex starting exactly at
 * pos?" following the regex's
 * leftmost-first alternation and greedy quantifiers; a split scans the text
 * with it like a regex search, keeping the gaps between matches.
 *
 *   LLaMA-3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 *            | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   Qwen2:   the same with \p{N} for \p{N}{1,3}: digits one at a time
 *   GPT-2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   default: [\p{P}\$\+<=>\^~\|]+ , then GPT-2, then \p{N}+ , then [0-9][0-9][0-9],
 *            each regex splitting every piece the previous one produced.
 *
 * Lookaheads and optional prefixes never look past the piece being split,
 * as in llama.cpp's unicode_regex_split.
 */
#include "pretokenize.h"

#include "unicode.h"

typedef size_t (*matcher_fn)(const bn_cpt_text *t, size_t pos, size_t end);

#define CONTRACTION_QUOTE '\''
#define LONG_S 0x017Fu /* 'ſ': case-folds to 's' under (?i) */
#define DIGIT_GROUP 3  /* \p{N}{1,3} and [0-9][0-9][0-9] */

static int is_cr_or_lf(uint32_t c) { return c == '\r' || c == '\n'; }

/* [^\s\p{L}\p{N}]: anything else, including unassigned code points. */
static int is_other(unsigned flags)
{
    return !(flags & (BN_CPT_SPACE | BN_CPT_LETTER | BN_CPT_NUMBER));
}

static size_t run_end(const bn_cpt_text *t, size_t pos, size_t end, unsigned mask)
{
    while (pos < end && (t->flags[pos] & mask)) pos++;
    return pos;
}

static size_t other_run_end(const bn_cpt_text *t, size_t pos, size_t end)
{
    while (pos < end && is_other(t->flags[pos])) pos++;
    return pos;
}

static uint32_t fold_case(uint32_t c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A' + 'a';
    if (c == LONG_S) return 's';
    return c;
}

/* 's|'t|'re|'ve|'m|'ll|'d, optionally case-insensitive; returns the match
 * end or pos. */
static size_t match_contraction(const bn_cpt_text *t, size_t pos, size_t end, int ignore_case)
{
    if (t->cpts[pos] != CONTRACTION_QUOTE || pos + 1 >= end) return pos;
    uint32_t a = t->cpts[pos + 1];
    uint32_t b = pos + 2 < end ? t->cpts[pos + 2] : 0;
    if (ignore_case) a = fold_case(a), b = fold_case(b);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return pos + 3;
    return pos;
}

/* Whitespace alternatives: [\s*[\r\n]+ |] \s+(?!\S) | \s+ */
static size_t match_whitespace(const bn_cpt_text *t, size_t pos, size_t end, int newline_rule)
{
    size_t e = pos, after_last_newline = 0;
    while (e < end && (t->flags[e] & BN_CPT_SPACE)) {
        if (is_cr_or_lf(t->cpts[e])) after_last_newline = e + 1;
        e++;
    }
    if (e == pos) return pos;
    if (newline_rule && after_last_newline) return after_last_newline; /* \s*[\r\n]+ */
    if (e == end || e - pos == 1) return e; /* \s+(?!\S) at the end, else \s+ */
    return e - 1;                           /* \s+(?!\S): the last space stays with what follows */
}

/* LLaMA-3's regex with runs of at most max_digits numbers (3; Qwen2: 1). */
static size_t match_llama3_digits(const bn_cpt_text *t, size_t pos, size_t end, size_t max_digits)
{
    size_t m = match_contraction(t, pos, end, 1);
    if (m != pos) return m;
    uint32_t c = t->cpts[pos];
    unsigned f = t->flags[pos];
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (f & BN_CPT_LETTER) return run_end(t, pos, end, BN_CPT_LETTER);
    if (!is_cr_or_lf(c) && !(f & BN_CPT_NUMBER) && pos + 1 < end &&
        (t->flags[pos + 1] & BN_CPT_LETTER))
        return run_end(t, pos + 1, end, BN_CPT_LETTER);
    /* \p{N}{1,3} */
    if (f & BN_CPT_NUMBER) {
        size_t e = pos + 1;
        while (e < end && e - pos < max_digits && (t->flags[e] & BN_CPT_NUMBER)) e++;
        return e;
    }
    /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
    size_t s = pos + (c == ' ' && pos + 1 < end && is_other(t->flags[pos + 1]));
    if (is_other(t->flags[s])) {
        size_t e = other_run_end(t, s, end);
        while (e < end && is_cr_or_lf(t->cpts[e])) e++;
        return e;
    }
    return match_whitespace(t, pos, end, 1);
}

static size_t match_llama3(const bn_cpt_text *t, size_t pos, size_t end)
{
    return match_llama3_digits(t, pos, end, DIGIT_GROUP);
}

static size_t match_qwen2(const bn_cpt_text *t, size_t pos, size_t end)
{
    return match_llama3_digits(t, pos, end, 1);
}

static size_t match_gpt2(const bn_cpt_text *t, size_t pos, size_t end)
{
    size_t m = match_contraction(t, pos, end, 0);
    if (m != pos) return m;
    /* ' ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+': the optional space is taken
     * when the class that follows it can match */
    size_t s = pos + (t->cpts[pos] == ' ' && pos + 1 < end);
    unsigned f = t->flags[s];
    if (f & BN_CPT_LETTER) return run_end(t, s, end, BN_CPT_LETTER);
    if (f & BN_CPT_NUMBER) return run_end(t, s, end, BN_CPT_NUMBER);
    if (is_other(f)) return other_run_end(t, s, end);
    return match_whitespace(t, pos, end, 0);
}

/* [\p{P}\$\+<=>\^~\|]+ */
static int is_default_punct(uint32_t c, unsigned flags)
{
    return (flags & BN_CPT_PUNCT) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' ||
           c == '^' || c == '~' || c == '|';
}

static size_t match_punct_run(const bn_cpt_text *t, size_t pos, size_t end)
{
    while (pos < end && is_default_punct(t->cpts[pos], t->flags[pos])) pos++;
    return pos;
}

/* \p{N}+ */
static size_t match_number_run(const bn_cpt_text *t, size_t pos, size_t end)
{
    return run_end(t, pos, end, BN_CPT_NUMBER);
}

/* [0-9][0-9][0-9] */
static size_t match_ascii_digits3(const bn_cpt_text *t, size_t pos, size_t end)
{
    if (end - pos < DIGIT_GROUP) return pos;
    for (size_t i = pos; i < pos + DIGIT_GROUP; i++)
        if (t->cpts[i] < '0' || t->cpts[i] > '9') return pos;
    return pos + DIGIT_GROUP;
}

static const matcher_fn llama3_chain[] = {match_llama3};
static const matcher_fn qwen2_chain[] = {match_qwen2};
static const matcher_fn gpt2_chain[] = {match_gpt2};
static const matcher_fn default_chain[] = {match_punct_run, match_gpt2, match_number_run,
                                           match_ascii_digits3};

typedef struct {
    const bn_cpt_text *t;
    const matcher_fn *chain;
    size_t n_chain;
    bn_pretoken_fn emit;
    void *ctx;
} split_job;

/* Splits [start, end) with regex `level` of the chain; every match and
 * every gap between matches goes on to the next regex. */
static int split(const split_job *job, size_t level, size_t start, size_t end)
{
    if (level == job->n_chain) return job->emit(start, end, job->ctx);
    matcher_fn match = job->chain[level];
    size_t gap = start, pos = start;
    int rc;
    while (pos < end) {
        size_t m = match(job->t, pos, end);
        if (m == pos) {
            pos++;
            continue;
        }
        if (gap < pos && (rc = split(job, level + 1, gap, pos))) return rc;
        if ((rc = split(job, level + 1, pos, m))) return rc;
        gap = pos = m;
    }
    return gap < end ? split(job, level + 1, gap, end) : 0;
}

int bn_pretokenize(bn_pre_type type, const bn_cpt_text *t, bn_pretoken_fn emit, void *ctx)
{
    split_job job = {t, llama3_chain, 1, emit, ctx};
    if (type == BN_PRE_QWEN2) {
        job.chain = qwen2_chain;
    } else if (type == BN_PRE_GPT2) {
        job.chain = gpt2_chain;
    } else if (type == BN_PRE_DEFAULT) {
        job.chain = default_chain;
        job.n_chain = sizeof default_chain / sizeof default_chain[0];
    }
    return split(&job, 0, 0, t->n);
}
