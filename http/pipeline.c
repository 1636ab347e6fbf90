/* HTTP/1.1 pipelining, opt-in (gust_client_opts_t.pipeline_depth): requests
 * sent on a connection before the answers to those ahead of them.
 *
 * A connection answers in order, so its calls form a queue: conn->call is
 * being answered, conn->pipeline holds those sent after it. Only requests
 * safe to send twice join (idempotent, no body), only behind one such, and
 * only on a connection whose server has already answered with HTTP/1.1
 * keep-alive: if the connection fails, every call on it that got no answer
 * can simply run again. Connections that may take more requests are kept in
 * their origin's busy list on their worker, where a request that finds the
 * connection limit reached looks before it waits. */
#include "http/internal.h"

bool gust__pipeline_allows(const call_t *call)
{
    return call->body_len == 0 && call->body_read == NULL && !call->want_fresh_conn &&
           gust__method_is_idempotent(call->method);
}

/* May `conn` take one more request now? */
static bool has_room(const conn_t *conn)
{
    const gust_client_opts_t *opts = &conn->session->client->opts;
    unsigned in_flight = 1 + conn->num_pipelined;
    unsigned max = opts->max_requests_per_conn;
    return conn->state == CONN_RECEIVING && conn->answered_http11 && conn->call != NULL &&
           in_flight < opts->pipeline_depth &&
           (max == 0 || conn->requests_served + in_flight < max) &&
           gust__pipeline_allows(conn->call) &&
           !atomic_load_explicit(&conn->origin->no_pipelining, memory_order_relaxed);
}

void gust__pipeline_update(conn_t *conn)
{
    bool room = conn->session->client->opts.pipeline_depth > 1 && has_room(conn);
    if (room == conn->pipelinable)
        return;
    conn->pipelinable = room;
    origin_slot_t *slot = &conn->origin->slots[conn->session->index];
    if (room) {
        cds_list_add_tail(&conn->busy_link, &slot->busy);
        atomic_fetch_add_explicit(&slot->num_busy, 1, memory_order_relaxed);
    } else {
        cds_list_del_init(&conn->busy_link);
        atomic_fetch_sub_explicit(&slot->num_busy, 1, memory_order_relaxed);
    }
}

conn_t *gust__pipeline_find(session_t *session, const call_t *call)
{
    if (session->client->opts.pipeline_depth < 2 || !gust__pipeline_allows(call))
        return NULL;
    struct cds_list_head *busy = &call->origin->slots[session->index].busy;
    if (cds_list_empty(busy))
        return NULL;
    /* Round robin: the one chosen goes to the back, so the connections
     * fill evenly. */
    conn_t *conn = cds_list_first_entry(busy, conn_t, busy_link);
    cds_list_del(&conn->busy_link);
    cds_list_add_tail(&conn->busy_link, busy);
    return conn;
}

bool gust__pipeline_push(conn_t *conn, call_t *call)
{
    if (!gust__request_head_append(call, &conn->out))
        return false;
    call->pipe_head_end = conn->out_base + conn->out.len;
    cds_list_add_tail(&call->pipe_link, &conn->pipeline);
    conn->num_pipelined++;
    call->conn = conn;
    gust__pipeline_update(conn);
    return true;
}

call_t *gust__pipeline_pop(conn_t *conn)
{
    if (cds_list_empty(&conn->pipeline))
        return NULL;
    call_t *call = cds_list_first_entry(&conn->pipeline, call_t, pipe_link);
    cds_list_del_init(&call->pipe_link);
    conn->num_pipelined--;
    return call;
}

void gust__pipeline_take_all(conn_t *conn, struct cds_list_head *out)
{
    call_t *call;
    while ((call = gust__pipeline_pop(conn)) != NULL) {
        call->conn = NULL;
        cds_list_add_tail(&call->pipe_link, out);
    }
}

void gust__pipeline_rerun(struct cds_list_head *calls)
{
    while (!cds_list_empty(calls)) {
        call_t *call = cds_list_first_entry(calls, call_t, pipe_link);
        cds_list_del_init(&call->pipe_link);
        gust__call_run(call, gust_now_ns());
    }
}
