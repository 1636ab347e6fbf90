/* Per-worker sessions: idle keep-alive connections, and the connection
 * limits that hold across all workers.
 *
 * Each worker keeps, per origin, its idle connections (most recent first)
 * and the calls waiting for a connection there; only that worker touches
 * them, so the common path (take an idle connection, or open one under the
 * limits) takes no lock. The limits are shared counters: an origin's open
 * connections (idle, busy or connecting) and the client's total.
 *
 * A call that finds a limit reached waits on its own worker, where its
 * timers are. The pairing that keeps a freed slot from being missed is
 * store-buffering: a waiter counts itself waiting, then (after a seq_cst
 * fence) tries the limit again; whoever frees a slot lowers the open count
 * with a seq_cst RMW, then reads the waiters' count with a seq_cst load. By
 * C11's fence rules one of the two sees the other; without the fence the
 * limit's relaxed load could read the old count on a weakly ordered machine
 * (x86's locked add orders it anyway). A freed slot is handed on
 * by posting to a worker with waiters, never by a nested call, so handing
 * on cannot recurse. A connection never changes worker, but a call without
 * one may: it moves (once per hop) to a worker with an idle connection to
 * its origin rather than open a new one or wait. At the total limit, a
 * connection that falls idle while calls for other origins wait closes to
 * free its slot, and a worker that waits asks the others to close one. */
#include <stdlib.h>
#include <string.h>

#include "gust/err.h"
#include "http/internal.h"

typedef enum reserve_e {
    RESERVED,
    PER_HOST_FULL,
    TOTAL_FULL,
} reserve_t;

session_t *gust__session_current(gust_client_t *client)
{
    if (gust_runtime_current() != client->runtime)
        return NULL;
    return &client->sessions[gust_worker_index()];
}

int gust__session_parse_url(session_t *session, const char *text, gust_url_t *out,
                            const char **out_why)
{
    if (session != NULL && session->last_url.host != NULL &&
        strcmp(session->last_url_text, text) == 0) {
        gust_url_share(&session->last_url, out);
        return 0;
    }
    int err = gust_url_parse(text, out, out_why);
    size_t len = session != NULL && err == 0 ? strlen(text) : SIZE_MAX;
    if (len < sizeof(session->last_url_text)) {
        gust_url_clear(&session->last_url);
        gust_url_share(out, &session->last_url);
        memcpy(session->last_url_text, text, len + 1);
    }
    return err;
}

/* ---- origins ---- */

typedef struct origin_args_s {
    gust_client_t *client;
    const gust_url_t *url;
    bool insecure;
} origin_args_t;

static interned_t *make_origin(const char *key, void *arg)
{
    const origin_args_t *args = arg;
    unsigned n = args->client->num_workers;
    /* Aligned so that each worker's slot has its lines to itself. */
    size_t size = sizeof(origin_t) + n * sizeof(origin_slot_t);
    origin_t *origin = aligned_alloc(_Alignof(origin_t), size);
    if (origin == NULL)
        return NULL;
    memset(origin, 0, size);
    origin->head.key = strdup(key);
    origin->host = strdup(args->url->host);
    if (origin->head.key == NULL || origin->host == NULL) {
        free(origin->head.key);
        free(origin->host);
        free(origin);
        return NULL;
    }
    origin->client = args->client;
    origin->port = args->url->port;
    origin->https = args->url->https;
    origin->insecure = args->insecure;
    pthread_mutex_init(&origin->tls_lock, NULL);
    for (unsigned i = 0; i < n; i++) {
        CDS_INIT_LIST_HEAD(&origin->slots[i].idle);
        CDS_INIT_LIST_HEAD(&origin->slots[i].waiting);
        CDS_INIT_LIST_HEAD(&origin->slots[i].busy);
    }
    return &origin->head;
}

void gust__origin_destroy(interned_t *head)
{
    origin_t *origin = (origin_t *)head;
    gust__tls_origin_free(origin);
    pthread_mutex_destroy(&origin->tls_lock);
    free(origin->head.key);
    free(origin->host);
    free(origin);
}

origin_t *gust__origin_get(session_t *session, const gust_url_t *url, bool insecure)
{
    /* The TLS settings are part of the key: an unverified connection is
     * never reused for a request that verifies (the other settings are the
     * client's own, and each client has its own table). */
    insecure = insecure && url->https;
    char key[512];
    const char *k = url->origin;
    if (insecure) {
        if ((size_t)snprintf(key, sizeof(key), "%s insecure", url->origin) >= sizeof(key))
            return NULL;
        k = key;
    }
    /* Entries live as long as the table, so the pointer kept is good. */
    origin_t *last = session->last_origin;
    if (last != NULL && strcmp(last->head.key, k) == 0)
        return last;
    gust_client_t *client = session->client;
    origin_args_t args = {client, url, insecure};
    origin_t *origin = (origin_t *)gust__table_intern(client->origins, k, make_origin,
                                                      gust__origin_destroy, &args);
    if (origin != NULL)
        session->last_origin = origin;
    return origin;
}

/* ---- waiting ---- */

static void wait_on_origin(session_t *session, call_t *call)
{
    origin_slot_t *slot = &call->origin->slots[session->index];
    cds_list_add_tail(&call->wait_link, &slot->waiting);
    call->waiting = WAIT_ORIGIN;
    /* Relaxed: a hint for wake_waiters, which only picks a worker. */
    atomic_fetch_add_explicit(&slot->num_waiting, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&call->origin->num_waiting, 1, memory_order_relaxed);
    /* Orders the add before the caller's retry of the limit (add_below's
     * loads); pairs with the seq_cst sub and load in put_back_host_slot. */
    atomic_thread_fence(memory_order_seq_cst);
}

static void wait_for_total(session_t *session, call_t *call)
{
    cds_list_add_tail(&call->wait_link, &session->starved);
    call->waiting = WAIT_TOTAL;
    /* Relaxed: a hint for wake_starved, which only picks a worker. */
    atomic_fetch_add_explicit(&session->num_starved, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&session->client->num_starved, 1, memory_order_relaxed);
    /* Orders the add before the caller's retry of the limit (add_below's
     * loads); pairs with the seq_cst sub and load in
     * gust__session_slot_freed. */
    atomic_thread_fence(memory_order_seq_cst);
}

void gust__session_unwait(session_t *session, call_t *call)
{
    cds_list_del(&call->wait_link);
    if (call->waiting == WAIT_ORIGIN) {
        atomic_fetch_sub_explicit(&call->origin->slots[session->index].num_waiting, 1,
                                  memory_order_relaxed);
        atomic_fetch_sub_explicit(&call->origin->num_waiting, 1, memory_order_relaxed);
    } else {
        atomic_fetch_sub_explicit(&session->num_starved, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&session->client->num_starved, 1, memory_order_relaxed);
    }
    call->waiting = WAIT_NONE;
}

/* ---- idle connections ---- */

static void make_idle(session_t *session, conn_t *conn)
{
    origin_slot_t *slot = &conn->origin->slots[session->index];
    cds_list_add(&conn->idle_link, &slot->idle);
    cds_list_add_tail(&conn->lru_link, &session->idle_lru);
    atomic_fetch_add_explicit(&slot->num_idle, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&session->num_idle, 1, memory_order_relaxed);
    gust__conn_idle(conn);
}

void gust__session_unidle(conn_t *conn)
{
    session_t *session = conn->session;
    cds_list_del_init(&conn->idle_link);
    cds_list_del_init(&conn->lru_link);
    atomic_fetch_sub_explicit(&conn->origin->slots[session->index].num_idle, 1,
                              memory_order_relaxed);
    atomic_fetch_sub_explicit(&session->num_idle, 1, memory_order_relaxed);
}

/* The most recently used idle connection to `origin` that is still fit to
 * reuse, out of the idle lists; those the server wrote to or closed while
 * they were idle close on the way. */
static conn_t *take_idle(session_t *session, origin_t *origin)
{
    origin_slot_t *slot = &origin->slots[session->index];
    while (!cds_list_empty(&slot->idle)) {
        conn_t *conn = cds_list_first_entry(&slot->idle, conn_t, idle_link);
        if (gust__conn_reusable(conn)) {
            gust__session_unidle(conn);
            return conn;
        }
        gust__conn_close(conn);
    }
    return NULL;
}

void gust__session_close_idle(session_t *session)
{
    while (!cds_list_empty(&session->idle_lru))
        gust__conn_close(cds_list_first_entry(&session->idle_lru, conn_t, lru_link));
    gust_timer_stop(&session->sweep);
}

/* ---- cancelled calls ---- */

static void sweep(gust_timer_t *timer)
{
    session_t *session = timer->data;
    call_t *call, *next;
    cds_list_for_each_entry_safe (call, next, &session->active, active_link) {
        if (gust__call_cancelled(call))
            gust__call_abandon(call);
    }
    if (!cds_list_empty(&session->active))
        (void)gust_timer_start(&session->sweep, GUST_SWEEP_NS, sweep, session);
}

void gust__session_track(session_t *session, call_t *call)
{
    cds_list_add(&call->active_link, &session->active);
    /* Out of memory for the timer: cancelled calls then end at their next
     * event or timeout, as they would without the sweep. */
    if (!gust_timer_active(&session->sweep))
        (void)gust_timer_start(&session->sweep, GUST_SWEEP_NS, sweep, session);
}

void gust__session_untrack(call_t *call)
{
    cds_list_del_init(&call->active_link);
}

/* ---- the limits ---- */

/* Adds one to *n unless that would pass max (0: no max). */
static bool add_below(atomic_uint *n, unsigned max)
{
    /* Relaxed, here and on a failed exchange: after a waiter counts itself,
     * its fence in wait_on_origin or wait_for_total orders these loads (see
     * the top); the exchange's own success order is the fence's partner's
     * concern, not this read's. */
    unsigned v = atomic_load_explicit(n, memory_order_relaxed);
    do {
        if (max != 0 && v >= max)
            return false;
        /* seq_cst: a slot taken is in the single total order that the
         * freers' seq_cst sub and the waiters' fences are in. */
    } while (!atomic_compare_exchange_weak_explicit(n, &v, v + 1, memory_order_seq_cst,
                                                    memory_order_relaxed));
    return true;
}

static void serve_origin_task(void *arg);
static void serve_starved_task(void *arg);

/* Asks a worker with calls waiting for `origin` (this one first, unless
 * `others`) to serve them. Out of memory for the post: they wait for the
 * next freed slot or their timeout. */
static void wake_waiters(session_t *session, origin_t *origin, bool others)
{
    gust_client_t *client = session->client;
    for (unsigned k = others ? 1 : 0; k < client->num_workers; k++) {
        unsigned w = (session->index + k) % client->num_workers;
        if (atomic_load_explicit(&origin->slots[w].num_waiting, memory_order_relaxed) > 0) {
            gust_runtime_post(client->runtime, w, serve_origin_task, origin);
            return;
        }
    }
}

static void wake_origin(session_t *session, origin_t *origin)
{
    wake_waiters(session, origin, false);
}

static void wake_starved(session_t *session)
{
    gust_client_t *client = session->client;
    for (unsigned k = 0; k < client->num_workers; k++) {
        unsigned w = (session->index + k) % client->num_workers;
        if (atomic_load_explicit(&client->sessions[w].num_starved, memory_order_relaxed) > 0) {
            gust_runtime_post(client->runtime, w, serve_starved_task, &client->sessions[w]);
            return;
        }
    }
}

static void put_back_host_slot(session_t *session, origin_t *origin)
{
    /* seq_cst sub, then seq_cst load: the freer's side of the pairing with
     * the fence in wait_on_origin (see the top). */
    atomic_fetch_sub_explicit(&origin->num_open, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&origin->num_waiting, memory_order_seq_cst) > 0)
        wake_origin(session, origin);
}

void gust__session_slot_freed(session_t *session, origin_t *origin)
{
    gust_client_t *client = session->client;
    /* seq_cst sub, then (after the origin's) seq_cst load: pairs with the
     * fence in wait_for_total (see the top). */
    atomic_fetch_sub_explicit(&client->total_open, 1, memory_order_seq_cst);
    put_back_host_slot(session, origin);
    if (atomic_load_explicit(&client->num_starved, memory_order_seq_cst) > 0)
        wake_starved(session);
}

/* Takes a slot for a new connection to `origin`. At the total limit, this
 * worker's oldest idle connection (to any origin) gives up its slot. */
static reserve_t reserve(session_t *session, origin_t *origin)
{
    gust_client_t *client = session->client;
    if (!add_below(&origin->num_open, client->opts.max_per_host))
        return PER_HOST_FULL;
    if (add_below(&client->total_open, client->opts.max_total))
        return RESERVED;
    if (!cds_list_empty(&session->idle_lru)) {
        conn_t *oldest = cds_list_first_entry(&session->idle_lru, conn_t, lru_link);
        put_back_host_slot(session, gust__conn_evict(oldest));
        return RESERVED;
    }
    put_back_host_slot(session, origin);
    return TOTAL_FULL;
}

/* ---- moving calls to connections ---- */

/* Another worker holding idle connections to `origin` (or, with `busy`,
 * connections it may pipeline on), or -1. */
static int worker_with(const session_t *session, const origin_t *origin, bool busy)
{
    unsigned n = session->client->num_workers;
    for (unsigned k = 1; k < n; k++) {
        unsigned w = (session->index + k) % n;
        const origin_slot_t *slot = &origin->slots[w];
        if (atomic_load_explicit(busy ? &slot->num_busy : &slot->num_idle, memory_order_relaxed) >
            0)
            return (int)w;
    }
    return -1;
}

static int worker_with_idle(const session_t *session, const origin_t *origin)
{
    return worker_with(session, origin, false);
}

static bool may_pipeline(const session_t *session, const call_t *call)
{
    return session->client->opts.pipeline_depth > 1 && gust__pipeline_allows(call);
}

static void resume_task(void *arg)
{
    call_t *call = arg;
    gust__session_track(call->session, call);
    if (gust__call_cancelled(call)) {
        gust__call_abandon(call);
        return;
    }
    gust__call_arm_total(call);
    gust__session_acquire(call->session, call, gust_now_ns());
}

/* Sends a call that has no connection yet to worker `w`, where a kept-alive
 * connection is idle: a connection never moves, so the call does, once per
 * hop. Its total timer is re-armed there. Returns false (and changes
 * nothing) if the post failed. */
static bool migrate(session_t *session, call_t *call, int w)
{
    gust_client_t *client = session->client;
    gust_timer_stop(&call->total_timer);
    gust__session_untrack(call);
    call->migrated = true;
    call->session = &client->sessions[w];
    if (gust_runtime_post(client->runtime, (unsigned)w, resume_task, call))
        return true;
    call->session = session;
    gust__session_track(session, call);
    gust__call_arm_total(call);
    return false;
}

/* ---- serving waiting calls ---- */

/* Starts the calls waiting here for `origin` while slots allow. */
static void serve_origin(session_t *session, origin_t *origin)
{
    origin_slot_t *slot = &origin->slots[session->index];
    while (!cds_list_empty(&slot->waiting)) {
        call_t *call = cds_list_first_entry(&slot->waiting, call_t, wait_link);
        conn_t *conn;
        if (gust__call_cancelled(call)) {
            gust__call_abandon(call);
        } else if (!call->want_fresh_conn && (conn = take_idle(session, origin)) != NULL) {
            gust__session_unwait(session, call);
            gust__conn_send(conn, call, gust_now_ns());
        } else {
            /* Still counted as waiting while it tries (see the top). */
            reserve_t got = reserve(session, origin);
            int w;
            if (got == PER_HOST_FULL && call->want_fresh_conn && !cds_list_empty(&slot->idle)) {
                /* A retry needs a new connection: an idle one makes room. */
                gust__conn_close(cds_list_entry(slot->idle.prev, conn_t, idle_link));
                continue;
            }
            if (got == PER_HOST_FULL) {
                /* Idle connections elsewhere, or ones to pipeline on: one
                 * waiting call goes there. */
                if (!call->migrated && ((w = worker_with_idle(session, origin)) >= 0 ||
                                        (may_pipeline(session, call) &&
                                         (w = worker_with(session, origin, true)) >= 0))) {
                    gust__session_unwait(session, call);
                    if (!migrate(session, call, w))
                        wait_on_origin(session, call);
                }
                return;
            }
            gust__session_unwait(session, call);
            if (got == RESERVED) {
                gust__conn_open(session, origin, call);
            } else {
                wait_for_total(session, call);
                wake_starved(session);
            }
        }
    }
}

static void serve_starved(session_t *session)
{
    while (!cds_list_empty(&session->starved)) {
        call_t *call = cds_list_first_entry(&session->starved, call_t, wait_link);
        if (gust__call_cancelled(call)) {
            gust__call_abandon(call);
            continue;
        }
        reserve_t got = reserve(session, call->origin);
        if (got == TOTAL_FULL)
            return;
        gust__session_unwait(session, call);
        if (got == RESERVED) {
            gust__conn_open(session, call->origin, call);
        } else {
            wait_on_origin(session, call);
            wake_origin(session, call->origin);
        }
    }
}

static void serve_origin_task(void *arg)
{
    origin_t *origin = arg;
    serve_origin(gust__session_current(origin->client), origin);
}

static void serve_starved_task(void *arg)
{
    serve_starved(arg);
}

/* On a worker holding idle connections that others wait for. */
static void close_idle_of_origin_task(void *arg)
{
    origin_t *origin = arg;
    session_t *session = gust__session_current(origin->client);
    origin_slot_t *slot = &origin->slots[session->index];
    if (!cds_list_empty(&slot->idle))
        gust__conn_close(cds_list_entry(slot->idle.prev, conn_t, idle_link));
}

static void close_oldest_idle_task(void *arg)
{
    session_t *session = arg;
    if (!cds_list_empty(&session->idle_lru))
        gust__conn_close(cds_list_first_entry(&session->idle_lru, conn_t, lru_link));
}

/* The slots are held, some of them by idle connections on other workers:
 * ask one of those workers to close one. */
static void nudge_idle_holder(session_t *session, call_t *call)
{
    gust_client_t *client = session->client;
    if (call->waiting == WAIT_ORIGIN) {
        int w = worker_with_idle(session, call->origin);
        if (w >= 0)
            gust_runtime_post(client->runtime, (unsigned)w, close_idle_of_origin_task,
                              call->origin);
        return;
    }
    for (unsigned k = 1; k < client->num_workers; k++) {
        unsigned w = (session->index + k) % client->num_workers;
        if (atomic_load_explicit(&client->sessions[w].num_idle, memory_order_relaxed) > 0) {
            gust_runtime_post(client->runtime, w, close_oldest_idle_task, &client->sessions[w]);
            return;
        }
    }
}

void gust__session_acquire(session_t *session, call_t *call, uint64_t now)
{
    origin_t *origin = call->origin;
    origin_slot_t *slot = &origin->slots[session->index];
    conn_t *conn = call->want_fresh_conn ? NULL : take_idle(session, origin);
    if (conn != NULL) {
        gust__conn_send(conn, call, now);
        return;
    }
    /* A kept-alive connection on another worker beats a new one here. */
    int w;
    if (!call->want_fresh_conn && !call->migrated && (w = worker_with_idle(session, origin)) >= 0 &&
        migrate(session, call, w))
        return;
    /* First come, first served: behind calls already waiting here. */
    if (cds_list_empty(&slot->waiting)) {
        reserve_t got = reserve(session, origin);
        if (got == RESERVED) {
            gust__conn_open(session, origin, call);
            return;
        }
        /* At a limit: pipelining, where asked for, beats waiting, here or
         * on the worker where the connections are. */
        if ((conn = gust__pipeline_find(session, call)) != NULL) {
            gust__conn_pipeline(conn, call, now);
            return;
        }
        if (!call->migrated && may_pipeline(session, call) &&
            (w = worker_with(session, origin, true)) >= 0 && migrate(session, call, w))
            return;
        switch (got) {
        case RESERVED:
            break;
        case PER_HOST_FULL:
            wait_on_origin(session, call);
            serve_origin(session, origin); /* a slot may have freed meanwhile */
            break;
        case TOTAL_FULL:
            wait_for_total(session, call);
            serve_starved(session);
            break;
        }
    } else {
        wait_on_origin(session, call);
    }
    if (call->waiting != WAIT_NONE)
        nudge_idle_holder(session, call);
}

void gust__session_fill_pipeline(conn_t *conn)
{
    session_t *session = conn->session;
    origin_slot_t *slot = &conn->origin->slots[session->index];
    call_t *call, *next;
    cds_list_for_each_entry_safe (call, next, &slot->waiting, wait_link) {
        if (!conn->pipelinable)
            return;
        /* A cancelled call is left to the sweep: abandoning it here would
         * run its callback in the middle of the connection's work. */
        if (gust__call_cancelled(call) || !gust__pipeline_allows(call))
            continue;
        gust__session_unwait(session, call);
        if (!gust__conn_queue(conn, call, gust_now_ns())) {
            wait_on_origin(session, call);
            return;
        }
    }
    /* Room left, and calls waiting on other workers: one of them comes. */
    if (conn->pipelinable && atomic_load_explicit(&conn->origin->num_waiting,
                                                  memory_order_relaxed) >
                                 atomic_load_explicit(&slot->num_waiting, memory_order_relaxed))
        wake_waiters(session, conn->origin, true);
}

/* How far into the starved calls a released connection looks for one to
 * its origin: bounded, so that a long queue costs no more per release. */
enum { STARVED_LOOKAHEAD = 16 };

/* An early call starved on this worker for `origin` that may take a
 * kept-alive connection, or NULL. None when the oldest starved call is for
 * an origin with no connection at all: reuse lets every other origin go on,
 * that one only a freed slot. */
static call_t *starved_for(session_t *session, const origin_t *origin)
{
    if (cds_list_empty(&session->starved))
        return NULL;
    const call_t *oldest = cds_list_first_entry(&session->starved, call_t, wait_link);
    if (oldest->origin != origin &&
        atomic_load_explicit(&oldest->origin->num_open, memory_order_relaxed) == 0)
        return NULL;
    unsigned looked = 0;
    call_t *call;
    cds_list_for_each_entry (call, &session->starved, wait_link) {
        if (++looked > STARVED_LOOKAHEAD)
            break;
        if (call->origin == origin && !call->want_fresh_conn && !gust__call_cancelled(call))
            return call;
    }
    return NULL;
}

void gust__session_release(conn_t *conn)
{
    session_t *session = conn->session;
    origin_t *origin = conn->origin;
    gust_client_t *client = session->client;
    origin_slot_t *slot = &origin->slots[session->index];
    while (!cds_list_empty(&slot->waiting)) {
        call_t *call = cds_list_first_entry(&slot->waiting, call_t, wait_link);
        if (gust__call_cancelled(call)) {
            gust__call_abandon(call);
            continue;
        }
        if (call->want_fresh_conn) {
            /* A retry, which must not go on a kept-alive connection: this
             * one makes room for a new one. */
            gust__conn_close(conn);
            return;
        }
        gust__session_unwait(session, call);
        gust__conn_send(conn, call, gust_now_ns());
        return;
    }
    if (atomic_load_explicit(&client->num_starved, memory_order_relaxed) > 0) {
        /* Calls wait for a slot under the total limit. One for this origin
         * takes the connection as it is; otherwise it closes, and the slot
         * goes to a call for another origin. */
        call_t *call = starved_for(session, origin);
        if (call != NULL) {
            gust__session_unwait(session, call);
            gust__conn_send(conn, call, gust_now_ns());
        } else {
            gust__conn_close(conn);
            /* Here, not in the task the freed slot posted: another
             * connection finishing before that task ran would close too. */
            serve_starved(session);
        }
        return;
    }
    make_idle(session, conn);
    /* Calls for this origin wait on other workers: one of them comes here. */
    if (atomic_load_explicit(&origin->num_waiting, memory_order_relaxed) > 0)
        wake_origin(session, origin);
}
