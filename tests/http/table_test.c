/* The interning table's teardown while liburcu's resize worker runs: each
 * round fills a table far past its first size (so it grows in the
 * background) and frees it at once (the deletes start a shrink that walks
 * the chains). Entries freed before a grace period would be read by that
 * walk after their free, which ASan reports. A race, not a certainty: a
 * round that loses it passes either way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "tests/support/check.h"

enum { ROUNDS = 20, KEYS = 20000 };

static interned_t *make_entry(const char *key, void *arg)
{
    (void)arg;
    interned_t *entry = calloc(1, sizeof(*entry));
    ASSERT_NOT_NULL(entry);
    entry->key = strdup(key);
    ASSERT_NOT_NULL(entry->key);
    return entry;
}

static unsigned num_destroyed;

static void destroy_entry(interned_t *entry)
{
    free(entry->key);
    free(entry);
    num_destroyed++;
}

int main(void)
{
    for (int round = 0; round < ROUNDS; round++) {
        struct cds_lfht *table = gust__table_new();
        ASSERT_NOT_NULL(table);
        for (int i = 0; i < KEYS; i++) {
            char key[32];
            snprintf(key, sizeof(key), "http://host-%d:80", i);
            interned_t *entry = gust__table_intern(table, key, make_entry, destroy_entry, NULL);
            ASSERT_NOT_NULL(entry);
            ASSERT_STR_EQ(entry->key, key);
        }
        num_destroyed = 0;
        gust__table_free(table, destroy_entry);
        ASSERT_UEQ(num_destroyed, KEYS);
    }
    return 0;
}
