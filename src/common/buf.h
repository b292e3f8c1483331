/*
 * buf.h - growable arrays: a text buffer kept NUL-terminated, and a list of
 * token ids.
 */
#ifndef BN_COMMON_BUF_H
#define BN_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;
    size_t len, cap;
} text_buf;

typedef struct {
    int32_t *ids;
    int n, cap;
} id_list;

void buf_append(text_buf *b, const char *s, size_t n);
void buf_free(text_buf *b);
void ids_push(id_list *l, int32_t id);

#endif
