/*
 * test_threadpool.c - the worker pool (threadpool.h): every index runs
 * exactly once per run over many runs, the caller takes index 0, a pool
 * of one runs inline, bn_split_range covers [0, n) exactly in aligned
 * chunks, and bn_chunks hands out every item exactly once in aligned,
 * shrinking chunks to threads claiming at the same time.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "test.h"
#include "runtime/threadpool.h"

#define MAX_POOL 6
#define MANY_RUNS 10000

typedef struct {
    atomic_int count[MAX_POOL];
    atomic_int bad_nth;
    pthread_t caller;
    atomic_int caller_ran_zero; /* 1 while index 0 ran on the calling thread */
} run_record;

static void record_index(void *arg, int ith, int nth)
{
    run_record *rec = arg;
    if (ith < 0 || ith >= MAX_POOL || nth < 1 || nth > MAX_POOL) {
        atomic_fetch_add(&rec->bad_nth, 1);
        return;
    }
    atomic_fetch_add(&rec->count[ith], 1);
    if (ith == 0 && !pthread_equal(pthread_self(), rec->caller))
        atomic_store(&rec->caller_ran_zero, 0);
}

/* Runs a pool of n threads `runs` times; after each run every index must
 * have run exactly once more. */
static void check_each_index_once(int n, int runs)
{
    bn_pool *pool = bn_pool_new(n);
    CHECK(pool != NULL);
    if (!pool) return;
    CHECK_EQ_INT(bn_pool_size(pool), n);
    static run_record rec;
    memset(&rec, 0, sizeof rec);
    rec.caller = pthread_self();
    atomic_store(&rec.caller_ran_zero, 1);
    for (int run = 1; run <= runs; run++) {
        bn_pool_run(pool, record_index, &rec);
        for (int i = 0; i < n; i++) {
            if (atomic_load(&rec.count[i]) != run) {
                CHECK_MSG(0, "pool of %d, run %d: index %d ran %d times", n, run, i,
                          atomic_load(&rec.count[i]));
                bn_pool_free(pool);
                return;
            }
        }
    }
    for (int i = n; i < MAX_POOL; i++) CHECK_EQ_INT(atomic_load(&rec.count[i]), 0);
    CHECK_EQ_INT(atomic_load(&rec.bad_nth), 0);
    CHECK(atomic_load(&rec.caller_ran_zero));
    bn_pool_free(pool);
}

TEST(threadpool_every_index_once_per_run)
{
    check_each_index_once(2, MANY_RUNS);
    check_each_index_once(3, MANY_RUNS);
    /* more threads than this machine may have cores */
    check_each_index_once(MAX_POOL, MANY_RUNS / 10);
}

TEST(threadpool_pool_of_one_runs_inline)
{
    check_each_index_once(1, 100);
    bn_pool *pool = bn_pool_new(0); /* fewer than one thread means one */
    CHECK(pool && bn_pool_size(pool) == 1);
    bn_pool_free(pool);
    CHECK(bn_available_cores() >= 1);
}

TEST(threadpool_split_range_covers_exactly)
{
    static const int aligns[] = {1, 3, 16, 64};
    for (int n = 0; n <= 300; n++)
        for (int nth = 1; nth <= 9; nth++)
            for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
                const int align = aligns[a];
                int expect_begin = 0, min_chunks = n, max_chunks = 0;
                for (int ith = 0; ith < nth; ith++) {
                    int b, e;
                    bn_split_range(n, ith, nth, align, &b, &e);
                    /* contiguous and in order, aligned starts, aligned
                     * lengths except where the share ends at n */
                    const int misaligned = (b != n && b % align) || (e != n && e % align);
                    if (b != expect_begin || e < b || misaligned) {
                        CHECK_MSG(0, "n=%d nth=%d align=%d ith=%d: [%d, %d)", n, nth, align, ith, b,
                                  e);
                        return;
                    }
                    const int chunks = (e - b + align - 1) / align;
                    min_chunks = chunks < min_chunks ? chunks : min_chunks;
                    max_chunks = chunks > max_chunks ? chunks : max_chunks;
                    expect_begin = e;
                }
                CHECK_MSG(expect_begin == n, "n=%d nth=%d align=%d ends at %d", n, nth, align,
                          expect_begin);
                /* balanced: shares differ by at most one chunk */
                CHECK_MSG(max_chunks - min_chunks <= 1, "n=%d nth=%d align=%d", n, nth, align);
            }
}

#define CHUNK_ITEMS 10007 /* not a multiple of the alignment: a short last chunk */
#define CHUNK_ALIGN 16
#define CHUNK_RUNS 200

typedef struct {
    bn_chunks chunks;
    atomic_int claimed[CHUNK_ITEMS];
    atomic_int misaligned, growing; /* chunks starting off alignment; a chunk after a smaller one */
} chunk_record;

static void claim_all(void *arg, int ith, int nth)
{
    (void)ith;
    (void)nth;
    chunk_record *rec = arg;
    int begin, end, last_size = CHUNK_ITEMS;
    while (bn_chunks_claim(&rec->chunks, &begin, &end)) {
        if (begin % CHUNK_ALIGN) atomic_fetch_add(&rec->misaligned, 1);
        if (end - begin > last_size) atomic_fetch_add(&rec->growing, 1);
        last_size = end - begin;
        for (int i = begin; i < end; i++) atomic_fetch_add(&rec->claimed[i], 1);
    }
}

TEST(threadpool_chunks_claim_every_item_once)
{
    static chunk_record rec;
    for (int n = 1; n <= MAX_POOL; n++) {
        bn_pool *pool = bn_pool_new(n);
        CHECK(pool != NULL);
        if (!pool) return;
        for (int run = 0; run < CHUNK_RUNS; run++) {
            memset(&rec, 0, sizeof rec);
            bn_chunks_init(&rec.chunks, CHUNK_ITEMS, CHUNK_ALIGN, n);
            bn_pool_run(pool, claim_all, &rec);
            int wrong = 0;
            for (int i = 0; i < CHUNK_ITEMS; i++) wrong += atomic_load(&rec.claimed[i]) != 1;
            CHECK_MSG(!wrong, "%d threads, run %d: %d items not claimed exactly once", n, run,
                      wrong);
            CHECK_MSG(!atomic_load(&rec.misaligned), "%d threads: a chunk starts off alignment", n);
            CHECK_MSG(!atomic_load(&rec.growing), "%d threads: a thread's chunks grew", n);
            if (wrong) break;
        }
        bn_pool_free(pool);
    }
    bn_chunks c;
    int begin, end;
    bn_chunks_init(&c, 0, CHUNK_ALIGN, 2);
    CHECK(!bn_chunks_claim(&c, &begin, &end)); /* nothing to hand out */
}
