/* A growing byte buffer that keeps a NUL after its content, for response
 * text and bodies and for request heads. */
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

bool gust__buf_reserve(buf_t *b, size_t cap)
{
    if (cap <= b->cap)
        return true;
    char *data = realloc(b->data, cap);
    if (data == NULL)
        return false;
    b->data = data;
    b->cap = cap;
    return true;
}

bool gust__buf_grow(buf_t *b, size_t need)
{
    if (need <= b->cap)
        return true;
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need)
        cap *= 2;
    return gust__buf_reserve(b, cap);
}

bool gust__buf_append_grow(buf_t *b, const void *at, size_t len)
{
    /* Grown, the bytes fit and the inline path appends them. */
    return gust__buf_grow(b, b->len + len + 1) && gust__buf_append(b, at, len);
}
