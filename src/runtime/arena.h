/*
 * arena.h - one mapping for the model's repacked ternary weights (arena.c).
 */
#ifndef BN_ARENA_H
#define BN_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *map; /* the whole mapping, NULL when there is none */
    size_t map_bytes;
    uint8_t *base;     /* its first huge-page boundary */
    size_t size, used; /* bytes from base, and how many are handed out */
} bn_arena;

/* Maps `bytes` (plus alignment slack) for bn_arena_alloc. 0 on success;
 * -1 when the mapping failed, and the arena then hands out nothing. */
int bn_arena_init(bn_arena *a, size_t bytes);
/* `bytes` at a multiple of `align` (a power of two), or NULL when they do
 * not fit: the caller allocates on its own then. Freed with the arena. */
void *bn_arena_alloc(bn_arena *a, size_t bytes, size_t align);
void bn_arena_free(bn_arena *a);

#endif
