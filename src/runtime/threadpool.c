/*
 * threadpool.c - persistent worker threads (threadpool.h).
 *
 * Workers sleep on a condition variable between runs and poll for a while
 * before sleeping, because a decode step issues a few hundred short runs
 * per token and waking a sleeping thread costs tens of microseconds: a
 * dispatch + join to a polling worker costs well under a microsecond
 * (bench/bench_kernels.c prints it).
 * A run is published by bumping a generation counter; each worker runs its
 * share and the last one to finish signals the caller.
 */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#define SPIN_ITERATIONS 20000 /* polling steps before sleeping on the condition variable */
#define PAUSE_SPINS 1000      /* of which busy-wait steps (tens of us) before yielding */

struct bn_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t done;
    bn_task_fn fn;
    void *arg;
    atomic_uint generation;
    atomic_int pending; /* workers still running the current generation */
    atomic_int stop;
    int oversubscribed; /* more threads than cores: yield instead of spinning */
};

typedef struct {
    bn_pool *pool;
    int ith;
} worker_arg;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Polling step i. Spinning on `pause` is the fastest handoff while the
 * thread we wait for runs on another core. When it shares our core (more
 * threads than cores, or other busy processes), spinning would hold it
 * back until the scheduler's time slice ends (milliseconds): so after a
 * short spin, and from the start when the pool itself oversubscribes the
 * cores, give the core away on every step instead. */
static void poll_pause(const bn_pool *p, int i)
{
    if (p->oversubscribed || i >= PAUSE_SPINS)
        sched_yield();
    else
        cpu_relax();
}

static unsigned wait_for_generation(bn_pool *p, unsigned seen)
{
    for (int i = 0; i < SPIN_ITERATIONS; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load(&p->stop)) return g;
        poll_pause(p, i);
    }
    pthread_mutex_lock(&p->lock);
    unsigned g;
    while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->wake, &p->lock);
    pthread_mutex_unlock(&p->lock);
    return g;
}

static void *worker_main(void *varg)
{
    worker_arg *wa = varg;
    bn_pool *p = wa->pool;
    const int ith = wa->ith;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_generation(p, seen);
        if (atomic_load(&p->stop)) break;
        p->fn(p->arg, ith, p->n_threads);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
    return NULL;
}

bn_pool *bn_pool_new(int n_threads)
{
    if (n_threads < 1) n_threads = 1;
    bn_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads;
    p->oversubscribed = n_threads > bn_available_cores();
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->pool = p;
            wa->ith = i;
        }
        if (!wa || pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            p->n_threads = i; /* shut down the ones that started */
            bn_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void bn_pool_free(bn_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int bn_pool_size(const bn_pool *p) { return p->n_threads; }

void bn_pool_run(bn_pool *p, bn_task_fn fn, void *arg)
{
    if (p->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n_threads - 1);
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    fn(arg, 0, p->n_threads);
    for (int i = 0; i < SPIN_ITERATIONS && atomic_load(&p->pending); i++) poll_pause(p, i);
    if (atomic_load(&p->pending)) {
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->pending)) pthread_cond_wait(&p->done, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
}

void bn_split_range(int n, int ith, int nth, int align, int *begin, int *end)
{
    if (align < 1) align = 1;
    int chunks = (n + align - 1) / align;
    int per = chunks / nth, extra = chunks % nth;
    int c0 = ith * per + (ith < extra ? ith : extra);
    int c1 = c0 + per + (ith < extra ? 1 : 0);
    *begin = c0 * align < n ? c0 * align : n;
    *end = c1 * align < n ? c1 * align : n;
}

void bn_chunks_init(bn_chunks *c, int n, int align, int nth)
{
    atomic_init(&c->next, 0);
    c->n = n;
    c->align = align < 1 ? 1 : align;
    c->nth = nth < 1 ? 1 : nth;
}

int bn_chunks_claim(bn_chunks *c, int *begin, int *end)
{
    int cur = atomic_load_explicit(&c->next, memory_order_relaxed);
    for (;;) {
        if (cur >= c->n) return 0;
        const int left = c->n - cur;
        int size = left / (2 * c->nth);
        size = (size + c->align - 1) / c->align * c->align;
        if (size < c->align) size = c->align;
        if (size > left) size = left;
        if (atomic_compare_exchange_weak_explicit(&c->next, &cur, cur + size, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *begin = cur;
            *end = cur + size;
            return 1;
        }
    }
}
