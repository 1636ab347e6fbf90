/* map and imap: see http/map.h.
 *
 * One engine serves both. All scheduling happens on the caller's thread:
 * it pulls requests (from the array or the generator), starts those that the
 * limits allow, and waits for completions, which the workers hand over
 * through a mutex-protected list. A request that waits (its host is at its
 * limit or delay, or a retry's backoff runs) stays in the start queue, and
 * only a bounded window of requests is ever pulled ahead. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gust/err.h"
#include "gust/map.h"
#include "http/internal.h"

/* Requests pulled ahead of the ones in flight, at most. */
#define LOOKAHEAD 1024
#define HOST_BUCKETS 256

typedef struct host_s {
    struct host_s *next; /* hash chain */
    unsigned in_flight;
    uint64_t next_start_ns;
    char key[];
} host_t;

typedef struct item_s {
    struct item_s *next; /* in the start queue or the done list */
    struct item_s *prev_active, *next_active; /* while in flight */
    gust_imap_t *it;
    size_t index;
    gust_request_t req;
    void *copy; /* the block req points into (imap), or NULL (map) */
    host_t *host;
    unsigned attempts;
    uint64_t not_before_ns;
    gust_future_t *future;
} item_t;

struct gust_imap_s {
    gust_client_t *client;
    gust_map_opts_t opts;
    gust_request_gen gen;
    void *gen_arg;
    const gust_request_t *array; /* map: borrowed */
    size_t num;
    size_t next_index;
    bool gen_done;
    size_t outstanding; /* pulled and not yet reported */
    unsigned in_flight;
    item_t *queue; /* to start, in order */
    size_t queue_len;
    item_t active;  /* in flight: a ring with this as its head */
    host_t *hosts[HOST_BUCKETS];
    uint64_t rng;
    char *message; /* of the last reported failure */

    pthread_mutex_t lock;
    pthread_cond_t cond;
    item_t *done_head; /* completed by workers, under lock */
    item_t **done_tail;
};

gust_map_opts_t gust_map_opts_default(void)
{
    return (gust_map_opts_t){
        .size = 100,
        .backoff_ns = 200000000ull,
        .max_backoff_ns = 30000000000ull,
    };
}

/* ---- hosts ---- */

static host_t *host_for(gust_imap_t *it, const char *url)
{
    gust_url_t parsed;
    const char *key = "";
    if (gust_url_parse(url, &parsed, NULL) == 0)
        key = parsed.origin;
    unsigned long h = 5381;
    for (const char *p = key; *p != '\0'; p++)
        h = h * 33 + (unsigned char)*p;
    host_t **bucket = &it->hosts[h % HOST_BUCKETS];
    host_t *host;
    for (host = *bucket; host != NULL; host = host->next) {
        if (strcmp(host->key, key) == 0)
            break;
    }
    if (host == NULL && (host = calloc(1, sizeof(*host) + strlen(key) + 1)) != NULL) {
        strcpy(host->key, key);
        host->next = *bucket;
        *bucket = host;
    }
    gust_url_clear(&parsed);
    return host;
}

/* ---- copying a generated request ---- */

/* Copies what req points to into one block, so the generator may reuse its
 * buffers. A body_read callback is kept as it is. */
static void *copy_request(gust_request_t *req)
{
    size_t size = req->num_headers * sizeof(gust_header_t);
    const char *method = req->method != NULL ? req->method : "GET";
    size += strlen(method) + 1 + strlen(req->url != NULL ? req->url : "") + 1;
    for (size_t i = 0; i < req->num_headers; i++)
        size += strlen(req->headers[i].name) + strlen(req->headers[i].value) + 2;
    size_t body_len = req->body_read == NULL && req->body_len > 0 ? (size_t)req->body_len : 0;
    char *block = malloc(size + body_len);
    if (block == NULL)
        return NULL;
    gust_header_t *headers = (gust_header_t *)block;
    char *text = block + req->num_headers * sizeof(gust_header_t);
#define PUT(dst, src)                                                                              \
    do {                                                                                           \
        dst = strcpy(text, src);                                                                   \
        text += strlen(text) + 1;                                                                  \
    } while (0)
    for (size_t i = 0; i < req->num_headers; i++) {
        PUT(headers[i].name, req->headers[i].name);
        PUT(headers[i].value, req->headers[i].value);
    }
    PUT(req->method, method);
    PUT(req->url, req->url != NULL ? req->url : "");
#undef PUT
    if (body_len > 0) {
        memcpy(text, req->body, body_len);
        req->body = text;
    }
    req->headers = headers;
    return block;
}

/* ---- completions, on the workers ---- */

static void on_done(gust_future_t *future, void *arg)
{
    (void)future;
    item_t *item = arg;
    gust_imap_t *it = item->it;
    if (item->req.on_done != NULL)
        item->req.on_done(future, item->req.on_done_arg);
    pthread_mutex_lock(&it->lock);
    item->next = NULL;
    *it->done_tail = item;
    it->done_tail = &item->next;
    pthread_cond_signal(&it->cond);
    pthread_mutex_unlock(&it->lock);
}

/* ---- scheduling, on the caller's thread ---- */

/* Gives the item a future failed with `message`, or leaves it NULL. */
static void set_failure(item_t *item, int err, const char *message)
{
    gust_future_t *f = gust_future_new(gust_runtime_pool(item->it->client->runtime));
    if (f != NULL)
        gust_future_set_error(f, err, "%s %s: %s", item->req.method != NULL ? item->req.method : "GET",
                              item->req.url, message);
    item->future = f;
}

static void start(gust_imap_t *it, item_t *item, uint64_t now)
{
    gust_request_t req = item->req;
    req.on_done = on_done;
    req.on_done_arg = item;
    /* Linked as active first: the completion may run before send returns. */
    item->attempts++;
    item->host->in_flight++;
    item->host->next_start_ns = now + it->opts.host_delay_ns;
    it->in_flight++;
    item->prev_active = &it->active;
    item->next_active = it->active.next_active;
    it->active.next_active->prev_active = item;
    it->active.next_active = item;
    item->future = gust_http_send(it->client, &req);
    if (item->future != NULL)
        return;
    /* Out of memory before a future existed: report it like any failure,
     * or, with not even that, try again a little later. */
    set_failure(item, GUST_ERR_NOMEM, "out of memory");
    if (item->future != NULL) {
        on_done(item->future, item);
        return;
    }
    item->attempts--;
    item->host->in_flight--;
    it->in_flight--;
    item->prev_active->next_active = item->next_active;
    item->next_active->prev_active = item->prev_active;
    item->not_before_ns = now + 10000000ull;
    item->next = it->queue;
    it->queue = item;
    it->queue_len++;
}

static bool eligible(const gust_imap_t *it, const item_t *item, uint64_t now)
{
    if (now < item->not_before_ns)
        return false;
    if (it->opts.per_host != 0 && item->host->in_flight >= it->opts.per_host)
        return false;
    return it->opts.host_delay_ns == 0 || now >= item->host->next_start_ns;
}

/* Pulls the next request into the queue; false when there is none. */
static bool pull(gust_imap_t *it)
{
    if (it->gen_done)
        return false;
    item_t *item = calloc(1, sizeof(*item));
    if (item == NULL)
        return false;
    size_t index = it->next_index;
    bool more;
    if (it->array != NULL) {
        more = index < it->num;
        if (more)
            item->req = it->array[index];
    } else {
        more = it->gen(it->gen_arg, index, &item->req);
        if (more && (item->copy = copy_request(&item->req)) == NULL) {
            free(item);
            return false; /* tried again on the next round */
        }
    }
    if (!more) {
        free(item);
        it->gen_done = true;
        return false;
    }
    item->it = it;
    item->index = index;
    item->host = host_for(it, item->req.url != NULL ? item->req.url : "");
    if (item->host == NULL) {
        free(item->copy);
        free(item);
        return false;
    }
    it->next_index++;
    it->outstanding++;
    item_t **tail = &it->queue;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = item;
    it->queue_len++;
    return true;
}

/* Starts what the limits allow; returns when the next waiting request may
 * become eligible by time alone (UINT64_MAX: none). */
static uint64_t launch(gust_imap_t *it)
{
    uint64_t now = gust_now_ns();
    uint64_t wake = UINT64_MAX;
    while (it->opts.size == 0 || it->in_flight < it->opts.size) {
        item_t **link = &it->queue;
        while (*link != NULL && !eligible(it, *link, now))
            link = &(*link)->next;
        if (*link == NULL) {
            if (it->queue_len < LOOKAHEAD && pull(it))
                continue;
            break;
        }
        item_t *item = *link;
        *link = item->next;
        it->queue_len--;
        start(it, item, now);
    }
    for (item_t *item = it->queue; item != NULL; item = item->next) {
        uint64_t t = item->not_before_ns;
        if (it->opts.host_delay_ns != 0 && item->host->next_start_ns > t)
            t = item->host->next_start_ns;
        if (t > now && t < wake && (it->opts.per_host == 0 || item->host->in_flight < it->opts.per_host))
            wake = t;
    }
    return wake;
}

static bool retryable(const item_t *item)
{
    int err = gust_future_error(item->future);
    if (err == GUST_ERR_CONNECT_REFUSED || err == GUST_ERR_CONNECT || err == GUST_ERR_CONNECT_TIMEOUT)
        return true;
    const gust_response_t *r = gust_http_response(item->future);
    return r != NULL && (gust_response_status(r) == 429 || gust_response_status(r) == 503);
}

static uint64_t backoff(gust_imap_t *it, const item_t *item)
{
    const gust_map_opts_t *o = &it->opts;
    uint64_t delay = o->backoff_ns;
    for (unsigned i = 1; i < item->attempts && delay < o->max_backoff_ns; i++)
        delay *= 2;
    it->rng = it->rng * 6364136223846793005ull + 1442695040888963407ull;
    delay += delay / 2 * ((it->rng >> 33) % 1024) / 1024; /* jitter: up to half again */
    const gust_response_t *r = gust_http_response(item->future);
    const char *after = r != NULL ? gust_response_header(r, "Retry-After") : NULL;
    if (after != NULL && *after >= '0' && *after <= '9')
        delay = strtoull(after, NULL, 10) * 1000000000ull;
    return delay < o->max_backoff_ns ? delay : o->max_backoff_ns;
}

/* A completion: either goes back in the queue for a retry (returns false)
 * or is final (fills *out, returns true). */
static bool complete(gust_imap_t *it, item_t *item, gust_map_result_t *out)
{
    it->in_flight--;
    item->host->in_flight--;
    item->prev_active->next_active = item->next_active;
    item->next_active->prev_active = item->prev_active;
    if (item->attempts <= it->opts.retries && retryable(item)) {
        item->not_before_ns = gust_now_ns() + backoff(it, item);
        gust_future_free(item->future);
        item->future = NULL;
        item->next = it->queue;
        it->queue = item;
        it->queue_len++;
        return false;
    }
    *out = (gust_map_result_t){.index = item->index, .attempts = item->attempts};
    out->err = gust_future_error(item->future);
    if (out->err == 0) {
        out->response = gust_response_up_ref(gust_http_response(item->future));
    } else {
        free(it->message);
        it->message = strdup(gust_future_message(item->future));
        out->message = it->message != NULL ? it->message : gust_strerror(out->err);
    }
    return true;
}

static void free_item(item_t *item)
{
    gust_future_free(item->future);
    free(item->copy);
    free(item);
}

static void wait_for_done(gust_imap_t *it, uint64_t wake_ns)
{
    if (wake_ns == UINT64_MAX) {
        pthread_cond_wait(&it->cond, &it->lock);
        return;
    }
    uint64_t now = gust_now_ns();
    if (wake_ns <= now)
        return;
    /* The condition variable runs on CLOCK_MONOTONIC, like gust_now_ns. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t at = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + (wake_ns - now);
    ts.tv_sec = (time_t)(at / 1000000000ull);
    ts.tv_nsec = (long)(at % 1000000000ull);
    pthread_cond_timedwait(&it->cond, &it->lock, &ts);
}

bool gust_imap_next(gust_imap_t *it, gust_map_result_t *out)
{
    for (;;) {
        uint64_t wake = launch(it);
        pthread_mutex_lock(&it->lock);
        item_t *item = it->done_head;
        if (item == NULL && it->outstanding == 0 && it->gen_done) {
            pthread_mutex_unlock(&it->lock);
            return false;
        }
        if (item == NULL) {
            wait_for_done(it, wake);
            item = it->done_head;
        }
        if (item != NULL) {
            it->done_head = item->next;
            if (it->done_head == NULL)
                it->done_tail = &it->done_head;
        }
        pthread_mutex_unlock(&it->lock);
        if (item == NULL || !complete(it, item, out))
            continue;
        it->outstanding--;
        if (it->opts.on_result != NULL)
            it->opts.on_result(out, it->opts.arg);
        free_item(item);
        return true;
    }
}

static gust_imap_t *imap_new(gust_client_t *client, const gust_map_opts_t *opts)
{
    gust_imap_t *it = calloc(1, sizeof(*it));
    if (it == NULL)
        return NULL;
    it->client = client;
    it->opts = opts != NULL ? *opts : gust_map_opts_default();
    it->active.next_active = it->active.prev_active = &it->active;
    it->done_tail = &it->done_head;
    it->rng = (uint64_t)(uintptr_t)it ^ gust_now_ns();
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&it->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&it->lock, NULL);
    return it;
}

gust_imap_t *gust_http_imap(gust_client_t *client, gust_request_gen gen, void *gen_arg,
                            const gust_map_opts_t *opts)
{
    gust_imap_t *it = imap_new(client, opts);
    if (it != NULL) {
        it->gen = gen;
        it->gen_arg = gen_arg;
    }
    return it;
}

void gust_imap_free(gust_imap_t *it)
{
    if (it == NULL)
        return;
    for (item_t *a = it->active.next_active; a != &it->active; a = a->next_active)
        gust_future_cancel(a->future);
    /* Every request in flight still reports (cancelled): collect them. */
    pthread_mutex_lock(&it->lock);
    while (it->in_flight > 0) {
        while (it->done_head == NULL)
            pthread_cond_wait(&it->cond, &it->lock);
        item_t *item = it->done_head;
        it->done_head = item->next;
        if (it->done_head == NULL)
            it->done_tail = &it->done_head;
        it->in_flight--;
        free_item(item);
    }
    pthread_mutex_unlock(&it->lock);
    while (it->queue != NULL) {
        item_t *item = it->queue;
        it->queue = item->next;
        free_item(item);
    }
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        while (it->hosts[b] != NULL) {
            host_t *h = it->hosts[b];
            it->hosts[b] = h->next;
            free(h);
        }
    }
    pthread_cond_destroy(&it->cond);
    pthread_mutex_destroy(&it->lock);
    free(it->message);
    free(it);
}

int gust_http_map(gust_client_t *client, const gust_request_t *reqs, size_t num,
                  const gust_map_opts_t *opts, gust_response_t **out)
{
    if (num > 0 && (reqs == NULL || out == NULL))
        return GUST_ERR_INVAL;
    gust_imap_t *it = imap_new(client, opts);
    if (it == NULL)
        return GUST_ERR_NOMEM;
    it->array = reqs;
    it->num = num;
    for (size_t i = 0; i < num; i++)
        out[i] = NULL;
    gust_map_result_t r;
    while (gust_imap_next(it, &r)) {
        if (r.err == 0)
            out[r.index] = r.response;
        else if (it->opts.on_error != NULL)
            out[r.index] = it->opts.on_error(&reqs[r.index], r.err, r.message, it->opts.arg);
    }
    gust_imap_free(it);
    return 0;
}
