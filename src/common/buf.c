/*
 * buf.c - growable arrays that double as they fill.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

#define BUF_FIRST_CAP 256
#define IDS_FIRST_CAP 64

void buf_append(text_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : BUF_FIRST_CAP;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) log_out_of_memory();
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void buf_free(text_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void ids_push(id_list *l, int32_t id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : IDS_FIRST_CAP;
        int32_t *p = realloc(l->ids, (size_t)l->cap * sizeof *p);
        if (!p) log_out_of_memory();
        l->ids = p;
    }
    l->ids[l->n++] = id;
}
