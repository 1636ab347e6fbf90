/* Tables shared by all workers: liburcu's lock-free hash table (cds_lfht)
 * used as an interning table. A key is added once and its entry stays until
 * the table is freed, so a pointer to an entry is good for the table's life
 * and readers never wait for a grace period.
 *
 * liburcu's memb flavour wants every reading thread registered. A worker
 * registers on its first lookup and unregisters when it exits, through a
 * thread-specific key whose destructor runs at thread exit: a thread that
 * exited registered would leave liburcu a dangling pointer. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include "http/internal.h"

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static _Thread_local bool registered;

static void unregister_at_exit(void *unused)
{
    (void)unused;
    urcu_memb_unregister_thread();
    registered = false;
}

static void make_key(void)
{
    /* Fails only when the process has used all its keys (1024); going on
     * would let threads exit registered. */
    if (pthread_key_create(&key, unregister_at_exit) != 0)
        abort();
}

static void register_thread(void)
{
    if (registered)
        return;
    pthread_once(&key_once, make_key);
    urcu_memb_register_thread();
    registered = true;
    /* Any non-NULL value makes the destructor run. */
    (void)pthread_setspecific(key, &registered);
}

static unsigned long hash_key(const char *s)
{
    unsigned long h = 1469598103934665603ul; /* FNV-1a */
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ul;
    return h;
}

static int match_key(struct cds_lfht_node *node, const void *key)
{
    interned_t *entry = caa_container_of(node, interned_t, node);
    /* Acquire: pairs with the release in gust__table_intern, so the entry's
     * fields, written by the thread that added it, are visible here. */
    if (!atomic_load_explicit(&entry->published, memory_order_acquire))
        return 0;
    return strcmp(entry->key, key) == 0;
}

struct cds_lfht *gust__table_new(void)
{
    return cds_lfht_new_flavor(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
                               &urcu_memb_flavor, NULL);
}

interned_t *gust__table_intern(struct cds_lfht *table, const char *key,
                               interned_t *(*make)(const char *key, void *arg),
                               void (*destroy)(interned_t *entry), void *arg)
{
    unsigned long hash = hash_key(key);
    struct cds_lfht_iter iter;
    register_thread();
    urcu_memb_read_lock();
    cds_lfht_lookup(table, hash, match_key, key, &iter);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
    urcu_memb_read_unlock();
    if (node != NULL)
        return caa_container_of(node, interned_t, node); /* match_key acquired it */

    interned_t *entry = make(key, arg);
    if (entry == NULL)
        return NULL;
    cds_lfht_node_init(&entry->node);
    atomic_store_explicit(&entry->published, true, memory_order_release);
    urcu_memb_read_lock();
    node = cds_lfht_add_unique(table, hash, match_key, entry->key, &entry->node);
    urcu_memb_read_unlock();
    if (node != &entry->node)
        destroy(entry); /* another thread added the key first; ours was never visible */
    return caa_container_of(node, interned_t, node);
}

/* Entries unlinked per grace period when a table is freed: a bound on the
 * stack, and few grace periods for a big table. */
enum { FREE_BATCH = 256 };

void gust__table_free(struct cds_lfht *table, void (*destroy)(interned_t *entry))
{
    if (table == NULL)
        return;
    bool was_registered = registered;
    if (!was_registered)
        urcu_memb_register_thread();
    /* No worker reads the table any more, but liburcu's resize worker
     * (CDS_LFHT_AUTO_RESIZE; deleting entries starts a shrink) may still
     * walk the chains inside its own read-side critical sections. So each
     * batch is unlinked, then freed only after a grace period, when no walk
     * that could have seen it is left. */
    interned_t *batch[FREE_BATCH];
    size_t num;
    do {
        struct cds_lfht_iter iter;
        interned_t *entry;
        num = 0;
        urcu_memb_read_lock();
        cds_lfht_for_each_entry (table, &iter, entry, node) {
            if (num == FREE_BATCH)
                break;
            if (cds_lfht_del(table, &entry->node) == 0)
                batch[num++] = entry;
        }
        urcu_memb_read_unlock();
        urcu_memb_synchronize_rcu();
        for (size_t i = 0; i < num; i++)
            destroy(batch[i]);
    } while (num == FREE_BATCH);
    if (!was_registered)
        urcu_memb_unregister_thread();
    cds_lfht_destroy(table, NULL);
}
