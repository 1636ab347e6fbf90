/* Requests handed to imap and not yet reported, by index. A result carries
 * only its index, and results come in completion order, so the URL and the
 * start time wait here; the table holds what is in flight and queued, never
 * the whole input. */
#include <stdlib.h>
#include <string.h>

#include "tools/gust/internal.h"

static size_t slot(size_t index, size_t num_buckets)
{
    /* Consecutive indexes are the common keys: spread them by a multiply. */
    return (size_t)((index * UINT64_C(0x9e3779b97f4a7c15)) >> 16) & (num_buckets - 1);
}

/* Doubles the buckets; on failure the table stays as it was (just slower). */
static void grow(pending_t *p)
{
    size_t n = p->num_buckets != 0 ? p->num_buckets * 2 : 256;
    pending_entry_t **buckets = calloc(n, sizeof(*buckets));
    if (buckets == NULL)
        return;
    for (size_t b = 0; b < p->num_buckets; b++) {
        while (p->buckets[b] != NULL) {
            pending_entry_t *e = p->buckets[b];
            p->buckets[b] = e->next;
            size_t s = slot(e->index, n);
            e->next = buckets[s];
            buckets[s] = e;
        }
    }
    free(p->buckets);
    p->buckets = buckets;
    p->num_buckets = n;
}

pending_entry_t *pending_put(pending_t *p, size_t index, const char *url, uint64_t start_ns)
{
    if (p->count >= p->num_buckets)
        grow(p);
    if (p->num_buckets == 0)
        return NULL;
    size_t len = strlen(url);
    pending_entry_t *e = malloc(sizeof(*e) + len + 1);
    if (e == NULL)
        return NULL;
    e->index = index;
    e->start_ns = start_ns;
    e->body = NULL;
    memcpy(e->url, url, len + 1);
    size_t s = slot(index, p->num_buckets);
    e->next = p->buckets[s];
    p->buckets[s] = e;
    p->count++;
    return e;
}

pending_entry_t *pending_take(pending_t *p, size_t index)
{
    if (p->num_buckets == 0)
        return NULL;
    for (pending_entry_t **link = &p->buckets[slot(index, p->num_buckets)]; *link != NULL;
         link = &(*link)->next) {
        pending_entry_t *e = *link;
        if (e->index == index) {
            *link = e->next;
            p->count--;
            return e;
        }
    }
    return NULL;
}

void pending_clear(pending_t *p)
{
    for (size_t b = 0; b < p->num_buckets; b++) {
        while (p->buckets[b] != NULL) {
            pending_entry_t *e = p->buckets[b];
            p->buckets[b] = e->next;
            free(e->body);
            free(e);
        }
    }
    free(p->buckets);
    *p = (pending_t){0};
}
