/*
 * sampler.c - turns a logit vector into the next token id (bn_sampler_*).
 *
 * The chain follows llama.cpp's classic sampler (llama-cli defaults,
 * docs/FORWARD.md, Sampling: temp 0.8, top_k 40, top_p 0.95, min_p 0.05,
 * repeat penalty 1.0 = off, last_n 64; presence, frequency 0 and typical
 * 1 = off). In order:
 *
 *   0. logit bias   each listed token's bias is added to its logit;
 *   1. penalties    every DISTINCT token among the last repeat_last_n
 *                   accepted tokens (-1: all accepted since new/reset) is
 *                   penalized once: logit > 0 -> logit / penalty,
 *                   else logit * penalty; then minus presence_penalty,
 *                   minus frequency_penalty times its count there;
 *   2. sanitize     NaN -> -inf (never drawn), +inf -> FLT_MAX (so the
 *                   shift by the max logit stays finite; several +inf
 *                   tokens then share the probability equally);
 *   3. greedy       when temp <= 0: argmax, ties -> lowest id; stop here;
 *   4. top-k        keep the k best (0 = off; ties -> lowest id first);
 *   4b. typical     softmax over the survivors; keep the tokens whose
 *                   surprise -log p is closest to the entropy, fewest
 *                   first, until their probability reaches typical_p;
 *   5. top-p        softmax (temperature 1) over the survivors, sorted by
 *                   probability; keep the shortest prefix whose cumulative
 *                   probability reaches top_p (at least one token);
 *   6. min-p        keep tokens whose probability (temperature 1) is at
 *                   least min_p times the largest one;
 *   7. temperature  logits / temp;
 *   8. softmax and draw one token with the sampler's own PRNG.
 *
 * bn_sampler_probs returns the distribution of step 8; bn_sampler_sample_draft
 * draws from the same distribution given a speculative draft token. With
 * n_probs set, each draw also keeps its token's probability and the best
 * alternatives for bn_sampler_last_probs (logprobs of the server).
 *
 * "Better" always means higher logit, then lower id, so every step is a
 * deterministic function of the logits. Implementation note: min-p is
 * evaluated before top-p. Both keep a prefix of the same sorted order and
 * the top-p cumulative sum is normalized over all top-k survivors either
 * way, so the result is identical; this way only min-p survivors get sorted.
 *
 * Reproducibility: randomness is xoshiro256** seeded by splitmix64 from
 * params.seed (default BN_SAMPLER_DEFAULT_SEED), never rand(). One uniform
 * double from 53 random bits per draw. Probabilities are computed in
 * double with libm's exp(); libms may differ by 1 ulp there, which could
 * change a draw only if the uniform lands within ~1e-16 of a bucket edge,
 * so in practice the same seed gives the same tokens everywhere (the build
 * uses -ffp-contract=off, so no FMA contraction changes the arithmetic).
 *
 * Memory: all buffers are sized by bn_sampler_new; sampling allocates
 * nothing. Top-k is a bounded min-heap (O(n log k)), not a full sort.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet.h"

/* llama-cli's defaults (FORK:common/common.h l.108-117). */
#define DEFAULT_TEMP 0.8f
#define DEFAULT_TOP_K 40
#define DEFAULT_TOP_P 0.95f
#define DEFAULT_MIN_P 0.05f
#define DEFAULT_REPEAT_PENALTY 1.0f
#define DEFAULT_REPEAT_LAST_N 64
#define DEFAULT_TYPICAL_P 1.0f

/* repeat_last_n value meaning "every accepted token". */
#define WINDOW_ALL (-1)

typedef struct {
    float logit;
    int32_t id;
    double weight; /* exp(logit - max logit) */
    double key;    /* typical sampling's sort key */
} candidate;

struct bn_sampler {
    bn_sampler_params params;
    int n_vocab;
    candidate *cand;  /* n_vocab working entries */
    uint32_t *counts; /* occurrences of each id inside the penalty window */
    int32_t *window;  /* ring of the last repeat_last_n ids (when > 0) */
    int window_len;
    int window_head;     /* slot the next accepted id goes to */
    uint64_t rng[4];     /* xoshiro256** state */
    bn_logit_bias *bias; /* params.logit_bias, copied */
    int drawn;           /* a draw was made (capture) */
    float last_logprob;  /* of the token drawn */
    int n_top;
    int32_t top_ids[BN_MAX_PROBS];
    float top_logprobs[BN_MAX_PROBS];
};

/* ------------------------------------------------------------------ PRNG */

static uint64_t splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** (Blackman and Vigna): the next 64 random bits. */
static uint64_t xoshiro_next(uint64_t s[4])
{
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

/* splitmix64 expands the seed so that even seed 0 gives a non-zero state. */
static void rng_seed(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++) s[i] = splitmix64_next(&seed);
}

/* Uniform in [0, 1) from the top 53 bits (exact in a double). */
static double rng_uniform(uint64_t s[4]) { return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53; }

/* ---------------------------------------------------------------- params */

bn_sampler_params bn_sampler_default_params(void)
{
    bn_sampler_params p = {
        .temp = DEFAULT_TEMP,
        .top_k = DEFAULT_TOP_K,
        .top_p = DEFAULT_TOP_P,
        .min_p = DEFAULT_MIN_P,
        .repeat_penalty = DEFAULT_REPEAT_PENALTY,
        .repeat_last_n = DEFAULT_REPEAT_LAST_N,
        .seed = BN_SAMPLER_DEFAULT_SEED,
        .typical_p = DEFAULT_TYPICAL_P,
    };
    return p;
}

/* Every parameter in its range, or a message saying which is not. */
int bn_sampler_params_check(const bn_sampler_params *p, int n_vocab, char err[BN_ERR_LEN])
{
    const char *why = NULL;
    if (!p)
        why = "no sampler parameters";
    else if (n_vocab <= 0)
        why = "vocabulary size must be positive";
    else if (isnan(p->temp))
        why = "temperature is not a number";
    else if (p->top_k < 0)
        why = "top-k must be >= 0 (0 = off)";
    else if (isnan(p->top_p))
        why = "top-p is not a number";
    else if (isnan(p->min_p))
        why = "min-p is not a number";
    else if (!isfinite(p->repeat_penalty) || p->repeat_penalty <= 0)
        why = "repeat penalty must be a positive number (1 = off)";
    else if (p->repeat_last_n < WINDOW_ALL)
        why = "repeat-last-n must be >= -1 (-1 = all tokens, 0 = off)";
    else if (!isfinite(p->presence_penalty) || !isfinite(p->frequency_penalty))
        why = "presence and frequency penalties must be finite numbers (0 = off)";
    else if (isnan(p->typical_p))
        why = "typical-p is not a number";
    else if (p->n_probs < 0 || p->n_probs > BN_MAX_PROBS)
        why = "n-probs must be from 0 to 20";
    else if (p->n_logit_bias < 0 || (p->n_logit_bias && !p->logit_bias))
        why = "no logit bias array";
    for (int i = 0; !why && i < p->n_logit_bias; i++)
        if (p->logit_bias[i].id < 0 || p->logit_bias[i].id >= n_vocab)
            why = "a logit bias names a token id outside the vocabulary";
        else if (isnan(p->logit_bias[i].bias))
            why = "a logit bias is not a number";
    if (!why) return 0;
    if (err) snprintf(err, BN_ERR_LEN, "%s", why);
    return -1;
}

/* ------------------------------------------------------------- lifetime */

bn_sampler *bn_sampler_new(const bn_sampler_params *params, int n_vocab)
{
    char err[BN_ERR_LEN];
    if (bn_sampler_params_check(params, n_vocab, err) != 0) return NULL;
    bn_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->params = *params;
    s->n_vocab = n_vocab;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    if (params->repeat_last_n > 0)
        s->window = malloc((size_t)params->repeat_last_n * sizeof *s->window);
    if (params->n_logit_bias) {
        s->bias = malloc((size_t)params->n_logit_bias * sizeof *s->bias);
        if (s->bias)
            memcpy(s->bias, params->logit_bias, (size_t)params->n_logit_bias * sizeof *s->bias);
    }
    s->params.logit_bias = s->bias;
    if (!s->cand || !s->counts || (params->repeat_last_n > 0 && !s->window) ||
        (params->n_logit_bias && !s->bias)) {
        bn_sampler_free(s);
        return NULL;
    }
    rng_seed(s->rng, params->seed);
    return s;
}

/* Frees the sampler and its buffers (NULL is fine). */
void bn_sampler_free(bn_sampler *sampler)
{
    if (!sampler) return;
    free(sampler->cand);
    free(sampler->counts);
    free(sampler->window);
    free(sampler->bias);
    free(sampler);
}

/* Back to the state bn_sampler_new left: no history, PRNG reseeded (as
 * llama.cpp's dist sampler does on reset). */
void bn_sampler_reset(bn_sampler *sampler)
{
    if (!sampler) return;
    memset(sampler->counts, 0, (size_t)sampler->n_vocab * sizeof *sampler->counts);
    sampler->window_len = 0;
    sampler->window_head = 0;
    rng_seed(sampler->rng, sampler->params.seed);
}

/* ------------------------------------------------------ penalty history */

/* Ids out of range cannot be penalized (no logit to change): ignored. */
void bn_sampler_accept(bn_sampler *sampler, int32_t id)
{
    if (!sampler || id < 0 || id >= sampler->n_vocab) return;
    int cap = sampler->params.repeat_last_n;
    if (cap == 0) return;
    if (cap > 0) {
        if (sampler->window_len == cap)
            sampler->counts[sampler->window[sampler->window_head]]--;
        else
            sampler->window_len++;
        sampler->window[sampler->window_head] = id;
        sampler->window_head = (sampler->window_head + 1) % cap;
    }
    /* Saturate: with WINDOW_ALL only "seen or not" matters. */
    if (sampler->counts[id] != UINT32_MAX) sampler->counts[id]++;
}

static float penalize(float logit, float penalty)
{
    return logit > 0 ? logit / penalty : logit * penalty;
}

static float sanitize(float logit)
{
    if (isnan(logit)) return -INFINITY;
    if (logit == INFINITY) return FLT_MAX;
    return logit;
}

/* Step 1 for a token seen `count` times in the window. */
static float penalize_seen(const bn_sampler_params *p, float logit, uint32_t count)
{
    if (p->repeat_penalty != 1.0f) logit = penalize(logit, p->repeat_penalty);
    return logit - p->presence_penalty - p->frequency_penalty * (float)count;
}

/* Steps 0-2: fills s->cand with every token's biased, penalized, sanitized
 * logit. Sanitizing last also catches a penalty that overflows to +-inf. */
static void load_candidates(bn_sampler *s, const float *logits)
{
    const bn_sampler_params *p = &s->params;
    const int penalize_on = (p->repeat_penalty != 1.0f || p->presence_penalty != 0.0f ||
                             p->frequency_penalty != 0.0f) &&
                            p->repeat_last_n != 0;
    for (int i = 0; i < s->n_vocab; i++) {
        float l = logits[i];
        if (penalize_on && s->counts[i]) l = penalize_seen(p, l, s->counts[i]);
        s->cand[i].logit = sanitize(l);
        s->cand[i].id = i;
    }
    for (int i = 0; i < p->n_logit_bias; i++) { /* again, biased first */
        const int32_t id = p->logit_bias[i].id;
        float l = logits[id] + p->logit_bias[i].bias;
        if (penalize_on && s->counts[id]) l = penalize_seen(p, l, s->counts[id]);
        s->cand[id].logit = sanitize(l);
    }
}

int bn_sampler_logits_top(const bn_sampler *s)
{
    if (!s) return 0;
    const bn_sampler_params *p = &s->params;
    if (p->repeat_penalty != 1.0f && p->repeat_last_n != 0) return 0;
    /* a negative penalty or a bias can lift any token into the best, and
     * n_probs reports a distribution over all of them */
    if (p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f || p->n_logit_bias ||
        p->n_probs)
        return 0;
    if (!(p->temp > 0)) return 1;
    return p->top_k > 0 && p->top_k < s->n_vocab ? p->top_k : 0;
}

/* ----------------------------------------------------------- filtering */

static int is_better(const candidate *a, const candidate *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int compare_best_first(const void *pa, const void *pb)
{
    const candidate *a = pa, *b = pb;
    return is_better(a, b) ? -1 : is_better(b, a) ? 1 : 0;
}

/* The index of the best candidate (is_better's order). */
static int best_index(const candidate *c, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (is_better(&c[i], &c[best])) best = i;
    return best;
}

/* Restores the heap property below slot i of a heap whose root is the
 * WORST kept candidate. */
static void sift_down_worst(candidate *heap, int n, int i)
{
    for (;;) {
        int worst = i, l = 2 * i + 1, r = l + 1;
        if (l < n && is_better(&heap[worst], &heap[l])) worst = l;
        if (r < n && is_better(&heap[worst], &heap[r])) worst = r;
        if (worst == i) return;
        candidate t = heap[i];
        heap[i] = heap[worst];
        heap[worst] = t;
        i = worst;
    }
}

/* Step 4: moves the k best of c[0..n) into c[0..k), best first, and
 * returns the new count. A heap of the k best seen so far: each later
 * candidate only has to beat the worst of them. The sort gives the draw
 * an order that depends on the k best alone, not on the tokens below
 * them, so logits exact only for the best (bn_sampler_logits_top) draw the
 * same tokens. */
static int keep_top_k(candidate *c, int n, int k)
{
    if (k <= 0 || k >= n) return n;
    for (int i = k / 2 - 1; i >= 0; i--) sift_down_worst(c, k, i);
    for (int i = k; i < n; i++) {
        if (is_better(&c[i], &c[0])) {
            c[0] = c[i];
            sift_down_worst(c, k, 0);
        }
    }
    qsort(c, (size_t)k, sizeof *c, compare_best_first);
    return k;
}

/* Sets each weight to exp(logit - max_logit) and returns their sum. */
static double compute_weights(candidate *c, int n, float max_logit)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        c[i].weight = exp((double)c[i].logit - (double)max_logit);
        total += c[i].weight;
    }
    return total;
}

/* Less typical after: a larger distance of surprise from the entropy. */
static int compare_typical_first(const void *pa, const void *pb)
{
    const candidate *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Step 4b over c[0..n) with weights summing to *total: keeps the tokens
 * whose surprise is closest to the entropy until typical_p of the mass,
 * then rescales the survivors' weights so the largest is 1 again (min-p
 * and top-p read them so) and sets *total to their sum. */
static int keep_typical(candidate *c, int n, float typical_p, double *total)
{
    if (!(typical_p > 0.0f && typical_p < 1.0f) || n == 1) return n;
    double entropy = 0;
    for (int i = 0; i < n; i++) {
        const double p = c[i].weight / *total;
        if (p > 0) entropy -= p * log(p);
    }
    for (int i = 0; i < n; i++) {
        const double p = c[i].weight / *total;
        c[i].key = p > 0 ? fabs(-log(p) - entropy) : DBL_MAX;
    }
    qsort(c, (size_t)n, sizeof *c, compare_typical_first);
    double cumulative = 0;
    int kept = n;
    for (int i = 0; i < n && kept == n; i++) {
        cumulative += c[i].weight / *total;
        if (cumulative >= (double)typical_p) kept = i + 1;
    }
    double max_w = 0;
    for (int i = 0; i < kept; i++)
        if (c[i].weight > max_w) max_w = c[i].weight;
    *total = 0;
    for (int i = 0; i < kept; i++) *total += c[i].weight /= max_w;
    return kept;
}

/* Step 6: probability / max probability = weight, since the max has 1. */
static int keep_min_p(candidate *c, int n, float min_p)
{
    if (!(min_p > 0)) return n;
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (c[i].weight >= (double)min_p) c[kept++] = c[i];
    return kept;
}

/* Step 5 over the min-p survivors (a prefix of the sorted top-k
 * survivors, see the opening comment); total = sum of ALL top-k weights. */
static int keep_top_p(candidate *c, int n, float top_p, double total)
{
    if (top_p >= 1.0f || n == 1) return n;
    qsort(c, (size_t)n, sizeof *c, compare_best_first);
    double cumulative = 0;
    for (int i = 0; i < n; i++) {
        cumulative += c[i].weight / total;
        if (cumulative >= (double)top_p) return i + 1;
    }
    return n;
}

/* Step 7: each survivor's weight becomes exp((logit - max) / temp), their
 * softmax numerator; returns the sum. The max logit survived every filter,
 * so it is still the right shift for exp(). */
static double temper(const bn_sampler *s, candidate *c, int n, float max_logit)
{
    double temp = s->params.temp, total = 0;
    for (int i = 0; i < n; i++) {
        c[i].weight = exp(((double)c[i].logit - (double)max_logit) / temp);
        total += c[i].weight;
    }
    return total;
}

/* Steps 1-7: leaves the tokens the chain keeps in s->cand[0..n) with their
 * weights, stores their sum in *total and returns n. Greedy (temp <= 0, or
 * every logit -inf: nothing is likelier than anything, so the greedy choice
 * rather than a division by a zero total) keeps the argmax alone, weight 1,
 * and sets *decided: no random draw is made then. */
static int run_chain(bn_sampler *s, const float *logits, double *total, int *decided)
{
    candidate *c = s->cand;
    load_candidates(s, logits);
    int n = s->n_vocab;
    int best = best_index(c, n);
    *decided = !(s->params.temp > 0) || c[best].logit == -INFINITY;
    if (*decided) {
        c[0] = c[best];
        c[0].weight = *total = 1.0;
        return 1;
    }
    float max_logit = c[best].logit;
    n = keep_top_k(c, n, s->params.top_k);
    double top_k_total = compute_weights(c, n, max_logit);
    n = keep_typical(c, n, s->params.typical_p, &top_k_total);
    n = keep_min_p(c, n, s->params.min_p);
    n = keep_top_p(c, n, s->params.top_p, top_k_total);
    *total = temper(s, c, n, max_logit);
    return n;
}

/* Step 8: one draw from c[0..n) in proportion to the weights, leaving out
 * token `skip` (-1: none) whose weights sum to total without it. */
static int32_t draw(bn_sampler *s, const candidate *c, int n, double total, int32_t skip)
{
    double target = rng_uniform(s->rng) * total, cumulative = 0;
    int last_possible = -1;
    for (int i = 0; i < n; i++) {
        if (c[i].weight <= 0 || c[i].id == skip) continue;
        cumulative += c[i].weight;
        if (target < cumulative) return c[i].id;
        last_possible = i;
    }
    /* rounding left target >= the final sum */
    return last_possible >= 0 ? c[last_possible].id : c[best_index(c, n)].id;
}

/* With n_probs: keeps the drawn token's log probability and the n_probs
 * best of the distribution c[0..n) (weights summing to total) it came
 * from. A greedy chain kept only the argmax: its distribution is then the
 * softmax at temperature 1 of all the (biased, penalized) logits. */
static int32_t capture(bn_sampler *s, const float *logits, int n, double total, int decided,
                       int32_t id)
{
    if (!s->params.n_probs) return id;
    candidate *c = s->cand;
    if (decided) {
        load_candidates(s, logits);
        n = s->n_vocab;
        total = compute_weights(c, n, c[best_index(c, n)].logit);
    }
    s->last_logprob = -INFINITY;
    for (int i = 0; i < n; i++)
        if (c[i].id == id) s->last_logprob = (float)log(c[i].weight / total);
    n = keep_top_k(c, n, s->params.n_probs);
    qsort(c, (size_t)n, sizeof *c, compare_best_first);
    s->n_top = 0;
    for (int i = 0; i < n && c[i].weight > 0; i++, s->n_top++) {
        s->top_ids[i] = c[i].id;
        s->top_logprobs[i] = (float)log(c[i].weight / total);
    }
    s->drawn = 1;
    return id;
}

/* The next id: the filter chain, then greedy or a draw. */
int32_t bn_sampler_sample(bn_sampler *sampler, const float *logits)
{
    if (!sampler || !logits) return -1;
    double total;
    int decided;
    const int n = run_chain(sampler, logits, &total, &decided);
    const int32_t id = decided ? sampler->cand[0].id : draw(sampler, sampler->cand, n, total, -1);
    return capture(sampler, logits, n, total, decided, id);
}

int bn_sampler_last_probs(const bn_sampler *sampler, float *logprob, int32_t *ids, float *logprobs)
{
    if (!sampler || !sampler->params.n_probs || !sampler->drawn) return -1;
    if (logprob) *logprob = sampler->last_logprob;
    for (int i = 0; i < sampler->n_top; i++) {
        if (ids) ids[i] = sampler->top_ids[i];
        if (logprobs) logprobs[i] = sampler->top_logprobs[i];
    }
    return sampler->n_top;
}

/* The speculative rule for a draft that was certain to be proposed: keep it
 * with probability p(draft); otherwise draw from p with the draft left out
 * (the normalized residual max(p - q, 0) when q puts all its mass on the
 * draft). A token y != draft then comes out with probability
 * (1 - p(draft)) * p(y) / (1 - p(draft)) = p(y). */
int32_t bn_sampler_sample_draft(bn_sampler *sampler, const float *logits, int32_t draft)
{
    if (!sampler || !logits) return -1;
    double total;
    int decided;
    const int n = run_chain(sampler, logits, &total, &decided);
    const candidate *c = sampler->cand;
    if (decided) return capture(sampler, logits, n, total, decided, c[0].id);
    double w_draft = 0;
    for (int i = 0; i < n; i++)
        if (c[i].id == draft) w_draft = c[i].weight;
    const int32_t id = w_draft > 0 && rng_uniform(sampler->rng) * total < w_draft
                           ? draft
                           : draw(sampler, c, n, total - w_draft, draft);
    return capture(sampler, logits, n, total, decided, id);
}

/* The candidates left by the chain and their probabilities. */
int bn_sampler_probs(bn_sampler *sampler, const float *logits, int32_t *ids, double *probs)
{
    if (!sampler || !logits || !ids || !probs) return -1;
    double total;
    int decided;
    const int n = run_chain(sampler, logits, &total, &decided);
    for (int i = 0; i < n; i++) {
        ids[i] = sampler->cand[i].id;
        probs[i] = sampler->cand[i].weight / total;
    }
    return n;
}
