/*
 * arena.c - one anonymous mapping for the model's repacked ternary weights,
 * handed out in aligned pieces and unmapped all at once.
 *
 * Why: decoding streams these weights (0.5 GB for 2B-4T) once per token. In
 * 4 KB pages that is a TLB miss every 4 KB, each a page walk (a two-level
 * one in a VM); one mapping advised for transparent huge pages
 * (MADV_HUGEPAGE, which Linux honours in its default "madvise" mode) needs
 * one TLB entry per 2 MB, which makes the ternary products from RAM
 * measurably faster (docs/PERFORMANCE.md). Separate allocations would each
 * round up to a whole huge page; one arena wastes at most one.
 */
#include "arena.h"

#include <string.h>

#include "platform.h"

#define HUGE_PAGE ((size_t)2 << 20) /* x86-64 and arm64 with 4 KB base pages */

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

int bn_arena_init(bn_arena *a, size_t bytes)
{
    memset(a, 0, sizeof *a);
    if (!bytes) return 0;
    if (bytes > SIZE_MAX - 2 * HUGE_PAGE) return -1;
    const size_t size = round_up(bytes, HUGE_PAGE);
    /* one huge page more, so that base can start on a huge-page boundary */
    void *map = bn_pages_map(size + HUGE_PAGE, 1);
    if (!map) return -1;
    a->map = map;
    a->map_bytes = size + HUGE_PAGE;
    a->base = (uint8_t *)round_up((uintptr_t)map, HUGE_PAGE);
    a->size = size;
    return 0;
}

void *bn_arena_alloc(bn_arena *a, size_t bytes, size_t align)
{
    if (!a || !a->base) return NULL;
    const size_t at = round_up(a->used, align);
    if (at > a->size || bytes > a->size - at) return NULL;
    a->used = at + bytes;
    return a->base + at;
}

void bn_arena_free(bn_arena *a)
{
    if (a->map) bn_pages_unmap(a->map, a->map_bytes);
    memset(a, 0, sizeof *a);
}
