/*
 * threadpool.h - persistent worker threads that split work by index.
 *
 * bn_pool_run(pool, fn, arg) calls fn(arg, ith, nth) once for every
 * ith in [0, nth) - the calling thread takes ith = 0 - and returns when all
 * have finished. Workers are created once and wait between runs.
 */
#ifndef BN_THREADPOOL_H
#define BN_THREADPOOL_H

#include <stdatomic.h>

typedef struct bn_pool bn_pool;
typedef void (*bn_task_fn)(void *arg, int ith, int nth);

bn_pool *bn_pool_new(int n_threads);
void bn_pool_free(bn_pool *pool);
int bn_pool_size(const bn_pool *pool);
void bn_pool_run(bn_pool *pool, bn_task_fn fn, void *arg);

/* The share [*begin, *end) of n items for worker ith of nth, in chunks
 * that are multiples of `align` items (except the last). */
void bn_split_range(int n, int ith, int nth, int align, int *begin, int *end);

/* Items handed out at run time in shrinking chunks (guided scheduling):
 * a claim takes about 1/(2*nth) of what is left, rounded up to a multiple
 * of `align`, so threads start on long contiguous stretches (streams the
 * prefetchers follow) and end on short ones, and a thread that falls
 * behind (its core taken by another process a while) leaves its work to
 * the others instead of making them wait at the end of the run. Set up by
 * the caller before bn_pool_run; claims from any thread. */
typedef struct {
    atomic_int next;
    int n, align, nth;
} bn_chunks;

void bn_chunks_init(bn_chunks *c, int n, int align, int nth);
/* The next chunk [*begin, *end); 0 when none is left. */
int bn_chunks_claim(bn_chunks *c, int *begin, int *end);

/* Cores this process may run on (its affinity mask), at least 1
 * (platform_posix.c, platform_win32.c). */
int bn_available_cores(void);

#endif
