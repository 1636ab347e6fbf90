/* The DNS cache shared by all workers.
 *
 * Names live in a lock-free interning table (table.c), so every worker finds
 * its entry without a lock; entries stay until the cache is freed. An
 * entry's answer is read and written under the entry's own mutex, taken only
 * when a connection is opened, never per request. A miss runs getaddrinfo on
 * the runtime's blocking threads, so a slow resolver never stalls a worker
 * (the lesson of pools whose workers all sat in getaddrinfo); connections
 * that want the same name meanwhile wait on the same lookup instead of
 * starting their own. Failures are not cached. */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gust/err.h"
#include "http/internal.h"

typedef struct dns_entry_s {
    interned_t head; /* the key is the host name */
    dns_cache_t *dns;
    pthread_mutex_t lock;
    /* Under lock: */
    addr_list_t answer;
    uint64_t expires_ns; /* 0: no answer yet */
    gust_future_t *pending; /* the lookup in flight, if any */
} dns_entry_t;

struct dns_cache_s {
    gust_runtime_t *runtime;
    struct cds_lfht *table;
    uint64_t ttl_ns;
    atomic_uint_fast64_t lookups;
    /* Lookups whose publishing callback, and waiters whose delivery, has
     * not finished yet; the cache is not freed under them. */
    atomic_uint_fast64_t busy;
};

/* A connection waiting for a lookup. It is posted back to the connection's
 * worker; the connection may be gone by then (conn NULL). */
struct dns_waiter_s {
    dns_cache_t *dns;
    conn_t *conn;
    dns_done_fn done;
    gust_future_t *lookup;
    unsigned worker;
    uint16_t port;
};

/* The value of a lookup's future. */
typedef struct lookup_result_s {
    int gai_err;
    addr_list_t addrs;
} lookup_result_t;

static void destroy_entry(interned_t *head)
{
    dns_entry_t *entry = (dns_entry_t *)head;
    pthread_mutex_destroy(&entry->lock);
    free(entry->head.key);
    free(entry);
}

dns_cache_t *gust__dns_new(gust_runtime_t *runtime, uint64_t ttl_ns)
{
    dns_cache_t *dns = calloc(1, sizeof(*dns));
    if (dns == NULL)
        return NULL;
    dns->runtime = runtime;
    dns->ttl_ns = ttl_ns;
    dns->table = gust__table_new();
    if (dns->table == NULL) {
        free(dns);
        return NULL;
    }
    return dns;
}

void gust__dns_free(dns_cache_t *dns)
{
    if (dns == NULL)
        return;
    /* A finished lookup's publishing callback may still be queued. */
    gust__await_zero(&dns->busy);
    gust__table_free(dns->table, destroy_entry);
    free(dns);
}

uint64_t gust__dns_lookups(const dns_cache_t *dns)
{
    return atomic_load_explicit(&dns->lookups, memory_order_relaxed);
}

static void set_port(addr_list_t *list, uint16_t port)
{
    for (unsigned i = 0; i < list->num; i++) {
        struct sockaddr *sa = (struct sockaddr *)&list->addrs[i];
        if (sa->sa_family == AF_INET)
            ((struct sockaddr_in *)sa)->sin_port = htons(port);
        else
            ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
    }
}

/* An IP literal needs no lookup. */
bool gust__ip_literal(const char *host, addr_list_t *out)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->addrs[0];
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->addrs[0];
    memset(&out->addrs[0], 0, sizeof(out->addrs[0]));
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        out->lens[0] = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        out->lens[0] = sizeof(*v6);
    } else {
        return false;
    }
    out->num = 1;
    return true;
}

/* On a blocking thread. */
static void *lookup(void *arg)
{
    lookup_result_t *result = calloc(1, sizeof(*result));
    if (result == NULL)
        return NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    result->gai_err = getaddrinfo(arg, NULL, &hints, &list);
    for (struct addrinfo *ai = list; ai != NULL && result->addrs.num < GUST_MAX_ADDRS;
         ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        memcpy(&result->addrs.addrs[result->addrs.num], ai->ai_addr, ai->ai_addrlen);
        result->addrs.lens[result->addrs.num++] = ai->ai_addrlen;
    }
    if (list != NULL)
        freeaddrinfo(list);
    if (result->gai_err == 0 && result->addrs.num == 0)
        result->gai_err = EAI_NONAME;
    return result;
}

static void free_result(void *value)
{
    free(value);
}

/* The lookup's first callback, on any worker: store a good answer and let
 * the next miss start a new lookup. */
static void publish(gust_future_t *lookup_future, void *arg)
{
    dns_entry_t *entry = arg;
    dns_cache_t *dns = entry->dns;
    const lookup_result_t *result = gust_future_value(lookup_future);
    uint64_t now = gust_now_ns();
    pthread_mutex_lock(&entry->lock);
    if (result != NULL && result->gai_err == 0) {
        entry->answer = result->addrs;
        entry->expires_ns = now + dns->ttl_ns;
    }
    entry->pending = NULL;
    pthread_mutex_unlock(&entry->lock);
    gust_future_free(lookup_future);
    /* Release: everything above happens before gust__dns_free's acquire. */
    atomic_fetch_sub_explicit(&dns->busy, 1, memory_order_release);
}

/* On the connection's worker. */
static void deliver(void *arg)
{
    struct dns_waiter_s *waiter = arg;
    conn_t *conn = waiter->conn;
    if (conn != NULL) {
        conn->dns_waiter = NULL;
        conn->looked_up = true;
        const lookup_result_t *result = gust_future_value(waiter->lookup);
        if (result == NULL) {
            waiter->done(conn, GUST_ERR_NOMEM, "out of memory", NULL);
        } else if (result->gai_err != 0) {
            waiter->done(conn, GUST_ERR_DNS, gai_strerror(result->gai_err), NULL);
        } else {
            addr_list_t addrs = result->addrs;
            set_port(&addrs, waiter->port);
            waiter->done(conn, 0, NULL, &addrs);
        }
    }
    dns_cache_t *dns = waiter->dns;
    gust_future_free(waiter->lookup);
    free(waiter);
    atomic_fetch_sub_explicit(&dns->busy, 1, memory_order_release);
}

/* On whichever worker ran the future's callback: hop to the connection's. */
static void post_back(gust_future_t *lookup_future, void *arg)
{
    (void)lookup_future;
    struct dns_waiter_s *waiter = arg;
    if (!gust_runtime_post(waiter->dns->runtime, waiter->worker, deliver, waiter)) {
        /* Out of memory for the post: the connection's timeout ends it. */
        waiter->conn = NULL;
        deliver(waiter);
    }
}

static interned_t *make_entry(const char *host, void *arg)
{
    dns_entry_t *entry = calloc(1, sizeof(*entry));
    if (entry == NULL)
        return NULL;
    entry->dns = arg;
    entry->head.key = strdup(host);
    if (entry->head.key == NULL) {
        free(entry);
        return NULL;
    }
    pthread_mutex_init(&entry->lock, NULL);
    return &entry->head;
}

void gust__dns_resolve(dns_cache_t *dns, const char *host, uint16_t port, conn_t *conn,
                       dns_done_fn done)
{
    addr_list_t addrs;
    if (gust__ip_literal(host, &addrs)) {
        set_port(&addrs, port);
        done(conn, 0, NULL, &addrs);
        return;
    }
    dns_entry_t *entry = (dns_entry_t *)gust__table_intern(dns->table, host, make_entry,
                                                           destroy_entry, dns);
    struct dns_waiter_s *waiter = entry != NULL ? calloc(1, sizeof(*waiter)) : NULL;
    if (waiter == NULL) {
        done(conn, GUST_ERR_NOMEM, "out of memory", NULL);
        return;
    }
    uint64_t now = gust_now_ns();
    pthread_mutex_lock(&entry->lock);
    if (entry->expires_ns != 0 && now < entry->expires_ns) {
        addrs = entry->answer;
        pthread_mutex_unlock(&entry->lock);
        free(waiter);
        set_port(&addrs, port);
        done(conn, 0, NULL, &addrs);
        return;
    }
    if (entry->pending == NULL) {
        entry->pending = gust_runtime_block(dns->runtime, lookup, entry->head.key, free_result);
        if (entry->pending != NULL) {
            /* The entry's reference goes to publish, which frees it. */
            atomic_fetch_add_explicit(&dns->busy, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&dns->lookups, 1, memory_order_relaxed);
            if (gust_future_on_done(entry->pending, publish, entry) != 0) {
                /* The lookup runs on unwatched; its future is kept by the
                 * blocking thread until it ends. */
                gust_future_free(entry->pending);
                entry->pending = NULL;
                atomic_fetch_sub_explicit(&dns->busy, 1, memory_order_relaxed);
            }
        }
    }
    waiter->dns = dns;
    waiter->conn = conn;
    waiter->done = done;
    waiter->port = port;
    waiter->worker = (unsigned)gust_worker_index();
    waiter->lookup = entry->pending != NULL ? gust_future_up_ref(entry->pending) : NULL;
    /* Counted before the callback can run, so the count never dips below
     * what is still to come. */
    atomic_fetch_add_explicit(&dns->busy, 1, memory_order_relaxed);
    if (waiter->lookup != NULL && gust_future_on_done(waiter->lookup, post_back, waiter) != 0) {
        gust_future_free(waiter->lookup);
        waiter->lookup = NULL;
    }
    pthread_mutex_unlock(&entry->lock);
    if (waiter->lookup == NULL) {
        free(waiter);
        atomic_fetch_sub_explicit(&dns->busy, 1, memory_order_relaxed);
        done(conn, GUST_ERR_NOMEM, "out of memory", NULL);
        return;
    }
    conn->dns_waiter = waiter;
}

void gust__dns_forget(struct dns_waiter_s *waiter)
{
    waiter->conn = NULL;
}
