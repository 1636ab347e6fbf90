/* One HTTP/1.1 connection: a state machine on its worker's reactor.
 *
 *   RESOLVING -> CONNECTING -> SENDING -> RECEIVING -> IDLE -> SENDING ...
 *
 * Every transition happens in a callback of this worker (I/O, timer, DNS
 * answer posted back), so a connection needs no lock. The socket is
 * registered once, edge-triggered, for input and output; each callback reads
 * or writes until the kernel says EAGAIN (or a short read says the same).
 * One timer serves whichever deadline the state has: connect, response
 * headers, or idle. It is lazy: a state sets the deadline it wants
 * (set_due), which moves the timer only when that is earlier than where the
 * timer is armed, and the end of a state only clears it (clear_due); a timer
 * that fires before the deadline now wanted re-arms to it. So a reused
 * connection goes from idle to busy and back without touching the timer
 * heap, where it took two heap operations a request. Functions that may
 * free the connection return false when they did. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gust/err.h"
#include "http/internal.h"

static void on_io(gust_io_t *io, uint32_t events);
static void on_timer(gust_timer_t *timer);
static bool start_exchange(conn_t *conn, uint64_t now);

static const char *addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
        snprintf(buf, len, "%s:%u", host, ntohs(v4->sin_port));
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
        snprintf(buf, len, "[%s]:%u", host, ntohs(v6->sin6_port));
    }
    return buf;
}

static int connect_error(int errnum)
{
    switch (errnum) {
    case ECONNREFUSED:
        return GUST_ERR_CONNECT_REFUSED;
    case ETIMEDOUT:
        return GUST_ERR_CONNECT_TIMEOUT;
    case ENOMEM:
    case ENOBUFS:
        return GUST_ERR_NOMEM;
    default:
        return GUST_ERR_CONNECT;
    }
}

/* Stops everything of the connection and frees it, without giving its slot
 * away; returns the origin whose slot it held. */
static origin_t *destroy(conn_t *conn)
{
    origin_t *origin = conn->origin;
    if (conn->dns_waiter != NULL)
        gust__dns_forget(conn->dns_waiter);
    gust_timer_stop(&conn->timer);
    if (conn->io_started)
        gust_io_stop(&conn->io);
    gust__tls_free(conn);
    if (conn->fd >= 0)
        close(conn->fd);
    if (conn->state == CONN_IDLE)
        gust__session_unidle(conn);
    cds_list_del(&conn->unflushed_link);
    if (conn->pipelinable) {
        cds_list_del(&conn->busy_link);
        atomic_fetch_sub_explicit(&conn->origin->slots[conn->session->index].num_busy, 1,
                                  memory_order_relaxed);
    }
    free(conn->head.data);
    free(conn->chunk);
    free(conn->out.data);
    gust__reader_clear(&conn->reader);
    free(conn);
    return origin;
}

void gust__conn_close(conn_t *conn)
{
    session_t *session = conn->session;
    gust__session_slot_freed(session, destroy(conn));
}

origin_t *gust__conn_evict(conn_t *conn)
{
    return destroy(conn);
}

void gust__conn_abort(conn_t *conn, call_t *call)
{
    /* The others on it are safe to send again (see pipeline.c). */
    CDS_LIST_HEAD(rerun);
    gust__pipeline_take_all(conn, &rerun);
    cds_list_del_init(&call->pipe_link);
    call_t *head = conn->call;
    head->conn = NULL;
    conn->call = NULL;
    if (head != call)
        cds_list_add(&head->pipe_link, &rerun);
    gust__conn_close(conn);
    gust__pipeline_rerun(&rerun);
}

/* The connection cannot go on: close it and tell its call. */
static void conn_failed(conn_t *conn, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conn_failed(conn_t *conn, int err, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    call_t *call = conn->call;
    bool reused = conn->requests_served > 0;
    bool received = conn->received;
    /* Calls pipelined behind it got no answer: they run again, and the
     * origin is not pipelined to again. */
    CDS_LIST_HEAD(rerun);
    if (!cds_list_empty(&conn->pipeline)) {
        gust__pipeline_take_all(conn, &rerun);
        atomic_store_explicit(&conn->origin->no_pipelining, true, memory_order_relaxed);
    }
    call->conn = NULL;
    conn->call = NULL;
    gust__conn_close(conn);
    gust__call_conn_failed(call, reused, received, err, "%s", why);
    gust__pipeline_rerun(&rerun);
}

/* The server sent bytes that no request on the connection can own (more
 * after the last answer expected, or an answer before its request was
 * written): it answered some request twice, and nothing on the wire says
 * which. The connection closes; calls pipelined behind get no answer and
 * run again, as in conn_failed, and the origin is not pipelined to again.
 *
 * Which answers still stand: the one to a connection's first request, as
 * nothing was asked before it that an answer could be meant for. Any later
 * answer may be the extra one to the request before it, its own still to
 * come; those delivered after earlier reads cannot be called back, but
 * those completed in this read (`done`) are withdrawn. Each withdrawn call,
 * and conn->call if its answer had not begun, is sent again on a fresh
 * connection where that is safe (gust__call_conn_failed), or fails with
 * GUST_ERR_PIPELINE_DESYNC. */
static void desync(conn_t *conn, struct cds_list_head *done, const char *why)
{
    call_t *head = conn->call;
    bool reused = conn->requests_served > 0;
    bool received = conn->received;
    CDS_LIST_HEAD(rerun);
    gust__pipeline_take_all(conn, &rerun);
    atomic_store_explicit(&conn->origin->no_pipelining, true, memory_order_relaxed);
    if (head != NULL)
        head->conn = NULL;
    conn->call = NULL;
    gust__conn_close(conn);
    CDS_LIST_HEAD(withdrawn);
    call_t *call, *next;
    cds_list_for_each_entry_safe (call, next, done, pipe_link) {
        if (call->reused) {
            cds_list_del(&call->pipe_link);
            cds_list_add_tail(&call->pipe_link, &withdrawn);
        }
    }
    while (!cds_list_empty(&withdrawn)) {
        call = cds_list_first_entry(&withdrawn, call_t, pipe_link);
        cds_list_del_init(&call->pipe_link);
        gust_response_free(call->response);
        call->response = NULL;
        gust__call_conn_failed(call, true, true, GUST_ERR_PIPELINE_DESYNC, "%s", why);
    }
    if (head != NULL)
        gust__call_conn_failed(head, reused, received, GUST_ERR_PIPELINE_DESYNC, "%s", why);
    gust__pipeline_rerun(&rerun);
}

/* The deadline of the connection's state is deadline_ns: the timer fires by
 * then. Returns 0, or -ENOMEM when the timer heap is out of memory. */
static int set_due(conn_t *conn, uint64_t deadline_ns)
{
    conn->timer_due_ns = deadline_ns;
    if (gust_timer_active(&conn->timer) && conn->timer.deadline_ns <= deadline_ns)
        return 0; /* it fires first and re-arms (on_timer) */
    return gust_timer_start_at(&conn->timer, deadline_ns, on_timer, conn);
}

/* The state's deadline is over; the timer, if armed, stays where it is. */
static void clear_due(conn_t *conn)
{
    conn->timer_due_ns = 0;
}

/* Arms the connection's timer `timeout_ns` after the current phase began
 * (0: no timer). Returns false, with the connection failed and gone, when
 * the timer heap is out of memory. */
static bool arm_phase_timer(conn_t *conn, uint64_t timeout_ns)
{
    if (timeout_ns == 0) {
        clear_due(conn);
        return true;
    }
    if (set_due(conn, gust_deadline_after(conn->phase_start_ns, timeout_ns)) == 0)
        return true;
    conn_failed(conn, GUST_ERR_NOMEM, "out of memory");
    return false;
}

/* ---- connecting ---- */

/* Connected, and with TLS the handshake done: the connect timeout ends. */
static void ready(conn_t *conn)
{
    uint64_t now = gust_now_ns();
    conn->call->timings.connect_ns = now - conn->phase_start_ns;
    clear_due(conn);
    start_exchange(conn, now);
}

static void handshake(conn_t *conn)
{
    char why[256];
    int rc = gust__tls_handshake(conn, why, sizeof(why));
    if (rc == 0)
        ready(conn);
    else if (rc < 0)
        conn_failed(conn, rc, "TLS with %s:%u: %s", conn->origin->host, conn->origin->port, why);
}

static void connected(conn_t *conn)
{
    if (!conn->origin->https) {
        ready(conn);
        return;
    }
    char why[256];
    int err = gust__tls_start(conn, why, sizeof(why));
    if (err != 0) {
        conn_failed(conn, err, "TLS with %s:%u: %s", conn->origin->host, conn->origin->port, why);
        return;
    }
    conn->state = CONN_HANDSHAKING;
    handshake(conn);
}

/* Tries the remaining addresses in order until a connect is under way. */
static void connect_next(conn_t *conn, int last_errno)
{
    while (conn->next_addr < conn->addrs.num) {
        unsigned i = conn->next_addr++;
        const struct sockaddr_storage *ss = &conn->addrs.addrs[i];
        if (conn->io_started) {
            gust_io_stop(&conn->io);
            conn->io_started = false;
        }
        if (conn->fd >= 0) {
            close(conn->fd);
            conn->fd = -1;
        }
        int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn->fd = fd;
        int rc = connect(fd, (const struct sockaddr *)ss, conn->addrs.lens[i]);
        if (rc != 0 && errno != EINPROGRESS) {
            last_errno = errno;
            continue;
        }
        int err = gust_io_start(&conn->io, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, on_io, conn);
        if (err != 0) {
            last_errno = -err;
            continue;
        }
        conn->io_started = true;
        conn->state = CONN_CONNECTING;
        if (rc == 0)
            connected(conn);
        return;
    }
    char where[INET6_ADDRSTRLEN + 16] = "";
    if (conn->next_addr > 0)
        addr_text(&conn->addrs.addrs[conn->next_addr - 1], where, sizeof(where));
    conn_failed(conn, connect_error(last_errno), "connect %s: %s", where, strerror(last_errno));
}

static void resolved(conn_t *conn, int err, const char *why, const addr_list_t *addrs)
{
    if (err != 0) {
        conn_failed(conn, err, "resolve %s: %s", conn->origin->host, why);
        return;
    }
    uint64_t now = gust_now_ns();
    if (conn->looked_up)
        conn->call->timings.dns_ns = now - conn->phase_start_ns;
    conn->phase_start_ns = now;
    conn->addrs = *addrs;
    conn->next_addr = 0;
    connect_next(conn, ECONNREFUSED);
}

void gust__conn_open(session_t *session, origin_t *origin, call_t *call)
{
    conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        gust__session_slot_freed(session, origin);
        gust__call_fail(call, GUST_ERR_NOMEM, "out of memory");
        return;
    }
    conn->session = session;
    conn->origin = origin;
    conn->fd = -1;
    conn->call = call;
    call->conn = conn;
    gust_timer_init(&conn->timer);
    CDS_INIT_LIST_HEAD(&conn->pipeline);
    CDS_INIT_LIST_HEAD(&conn->busy_link);
    CDS_INIT_LIST_HEAD(&conn->unflushed_link);
    CDS_INIT_LIST_HEAD(&conn->idle_link);
    CDS_INIT_LIST_HEAD(&conn->lru_link);
    atomic_fetch_add_explicit(&session->opened, 1, memory_order_relaxed);
    conn->state = CONN_RESOLVING;
    conn->phase_start_ns = gust_now_ns();
    gust__call_arm_total(call);
    call->timings.queued_ns = conn->phase_start_ns - call->hop_start_ns;
    if (!arm_phase_timer(conn, call->connect_timeout_ns))
        return;
    gust__dns_resolve(session->client->dns, origin->host, origin->port, conn, resolved);
}

/* ---- reading and writing, over TCP or TLS ---- */

static ssize_t conn_recv(conn_t *conn, void *buf, size_t len)
{
    return conn->ssl != NULL ? gust__tls_read(conn, buf, len) : recv(conn->fd, buf, len, 0);
}

/* Receives into the body's room first, then (over TCP) into `buf`: what is
 * left of a body goes straight into the response, not copied there from
 * `buf` (for a 1 MiB body, 3.5 times less user CPU). TLS decrypts into the
 * room alone, a record at a time. */
static ssize_t conn_recv_body(conn_t *conn, char *room, size_t room_len, void *buf, size_t len)
{
    if (conn->ssl != NULL)
        return gust__tls_read(conn, room, room_len);
    struct iovec iov[2] = {{room, room_len}, {buf, len}};
    return readv(conn->fd, iov, 2);
}

static ssize_t conn_writev(conn_t *conn, const struct iovec *iov, int n_iov)
{
    if (conn->ssl == NULL) {
        /* MSG_NOSIGNAL: a closed peer must give EPIPE, not kill the
         * program with SIGPIPE. */
        struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n_iov};
        return sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
    }
    size_t total = 0;
    for (int i = 0; i < n_iov; i++) {
        ssize_t n = gust__tls_write(conn, iov[i].iov_base, iov[i].iov_len);
        if (n < 0)
            return total > 0 ? (ssize_t)total : -1;
        total += (size_t)n;
        if ((size_t)n < iov[i].iov_len)
            break;
    }
    return (ssize_t)total;
}

/* ---- the exchange ---- */

/* A server's `Keep-Alive: timeout=N` says when it will drop an idle
 * connection; reusing one near that moment races its close. Returns 0 for
 * no such header, UINT64_MAX for timeout=0 (do not keep it at all). */
static uint64_t server_idle_timeout_ns(const gust_response_t *response)
{
    const char *ka = gust_response_header(response, "Keep-Alive");
    const char *t = ka != NULL ? strcasestr(ka, "timeout=") : NULL;
    if (t == NULL || t[8] < '0' || t[8] > '9')
        return 0;
    unsigned long seconds = strtoul(t + 8, NULL, 10);
    if (seconds == 0)
        return UINT64_MAX;
    /* Half a second less than announced, since the server's clock started
     * first (and a second is its granularity). */
    return (uint64_t)seconds * 1000000000ull - 500000000ull;
}

static bool start_reading(conn_t *conn);
static bool flush_out(conn_t *conn);

bool gust__conn_queue(conn_t *conn, call_t *call, uint64_t now)
{
    if (!gust__pipeline_push(conn, call))
        return false;
    call->timings.queued_ns = now - call->hop_start_ns;
    gust__call_arm_total(call);
    atomic_fetch_add_explicit(&conn->session->reused, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&conn->session->pipelined, 1, memory_order_relaxed);
    return true;
}

void gust__conn_pipeline(conn_t *conn, call_t *call, uint64_t now)
{
    if (!gust__conn_queue(conn, call, now)) {
        gust__call_fail(call, GUST_ERR_NOMEM, "out of memory");
        return;
    }
    session_t *session = conn->session;
    if (session->delivering > 0) {
        if (cds_list_empty(&conn->unflushed_link))
            cds_list_add_tail(&conn->unflushed_link, &session->unflushed);
        return;
    }
    flush_out(conn);
}

/* The first pipelined call becomes the one answered, and calls waiting here
 * for the origin take the room it leaves (written by the reader's next
 * flush). Returns false if the connection is gone. */
static bool answer_next(conn_t *conn)
{
    call_t *call = gust__pipeline_pop(conn);
    conn->call = call;
    conn->received = false;
    /* Its exchange starts as the read that finished the one before. */
    conn->phase_start_ns = conn->recv_ns;
    if (!start_reading(conn))
        return false;
    if (!arm_phase_timer(conn, call->header_timeout_ns))
        return false;
    gust__pipeline_update(conn);
    gust__session_fill_pipeline(conn);
    return true;
}

/* The exchange with conn->call is complete: the call, detached with its
 * response, goes to `done`, to be delivered once the connection is settled
 * (a delivery runs the caller's callback, which may send on it). The
 * connection goes on to the next pipelined call, or is released or closed.
 * `more` tells whether bytes follow the response, `peer_closed` whether the
 * server's FIN came with it. Returns false if the connection is gone or
 * given away. */
static bool finish_exchange(conn_t *conn, bool more, bool peer_closed, struct cds_list_head *done)
{
    call_t *call = conn->call;
    call->received_ns = conn->recv_ns;
    call->response = gust__reader_take(&conn->reader);
    bool keep_alive = conn->reader.keep_alive;
    gust__reader_clear(&conn->reader);
    clear_due(conn);
    conn->server_idle_ns = server_idle_timeout_ns(call->response);
    if (conn->server_idle_ns == UINT64_MAX)
        keep_alive = false;
    if (conn->state == CONN_SENDING)
        keep_alive = false; /* answered before the whole request was sent */
    conn->answered_http11 = keep_alive && gust_response_http_minor(call->response) >= 1;
    call->reused = conn->requests_served > 0;
    conn->requests_served++;
    call->conn = NULL;
    conn->call = NULL;
    cds_list_add_tail(&call->pipe_link, done);
    gust__pipeline_update(conn);
    if (more && (!keep_alive || cds_list_empty(&conn->pipeline))) {
        desync(conn, done, "more bytes came after the last answer expected");
        return false;
    }
    if (cds_list_empty(&conn->pipeline)) {
        /* The server's FIN: edge-triggered, no later event would tell an
         * idle connection about it. */
        if (peer_closed)
            keep_alive = false;
        unsigned max = conn->session->client->opts.max_requests_per_conn;
        if (keep_alive && (max == 0 || conn->requests_served < max))
            gust__session_release(conn);
        else
            gust__conn_close(conn);
        return false;
    }
    if (keep_alive)
        return answer_next(conn);
    /* The server ends the connection (Connection: close) with requests
     * pipelined on it: they run again on another. */
    CDS_LIST_HEAD(rerun);
    gust__pipeline_take_all(conn, &rerun);
    gust__conn_close(conn);
    gust__pipeline_rerun(&rerun);
    return false;
}

/* Whether conn->call's request head has all been written: before, the
 * server cannot have read it, so bytes that come are no answer to it. The
 * first request on a connection is let be: a server may refuse one whose
 * head is too large before reading it all, and nothing was asked before
 * that such bytes could be meant for. */
static bool request_written(const conn_t *conn)
{
    if (conn->requests_served == 0)
        return true;
    if (conn->state == CONN_SENDING)
        return conn->head_sent == conn->head.len;
    return conn->out_base + conn->out_sent >= conn->call->pipe_head_end;
}

/* Parses received bytes, which may end one response and begin the next;
 * `more` tells whether bytes received with them follow elsewhere. Returns
 * false if the connection is gone or given away. */
static bool parse(conn_t *conn, const char *data, size_t len, bool more, bool peer_closed,
                  struct cds_list_head *done)
{
    while (len > 0) {
        if (!conn->received) {
            if (!request_written(conn)) {
                desync(conn, done, "an answer began before its request was written");
                return false;
            }
            conn->received = true;
            conn->call->timings.first_byte_ns = conn->recv_ns - conn->phase_start_ns;
        }
        bool had_head = conn->reader.head_done;
        size_t used;
        int err = gust__reader_feed(&conn->reader, data, len, &used);
        data += used;
        len -= used;
        if (conn->reader.complete) {
            /* A response cut short leaves the rest of its body unread. */
            bool rest = !conn->reader.cut && (len > 0 || more);
            if (!finish_exchange(conn, rest, peer_closed, done))
                return false;
        } else if (err != 0) {
            conn_failed(conn, err, "%s", gust__reader_why(&conn->reader));
            return false;
        } else if (!had_head && conn->reader.head_done) {
            clear_due(conn); /* the header timeout */
        }
    }
    return true;
}

/* Reads until the socket is drained; completed calls go to `done`. */
static void receive(conn_t *conn, uint32_t events, struct cds_list_head *done)
{
    session_t *session = conn->session;
    bool peer_closed = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    for (;;) {
        char *room = NULL;
        size_t room_len = gust__reader_body_room(&conn->reader, &room);
        ssize_t n = room_len > 0 ? conn_recv_body(conn, room, room_len, session->read_buf,
                                                  session->read_buf_len)
                                 : conn_recv(conn, session->read_buf, session->read_buf_len);
        /* One clock read a read, for the first byte, the end and the next
         * pipelined exchange's start of all it brings. */
        if (n >= 0)
            conn->recv_ns = gust_now_ns();
        if (n > 0) {
            size_t in_room = (size_t)n < room_len ? (size_t)n : room_len;
            size_t in_buf = (size_t)n - in_room;
            /* Over TLS the read stopped at the body's end, and what followed
             * in its record waits in the TLS layer. */
            bool more = in_buf > 0 || (conn->ssl != NULL && gust__tls_pending(conn));
            if (in_room > 0 && !parse(conn, room, in_room, more, peer_closed, done))
                return;
            if (in_buf > 0 && !parse(conn, session->read_buf, in_buf, false, peer_closed, done))
                return;
            /* A short read drained the socket, unless the peer also closed:
             * then read on to see the end, which gets no event of its own.
             * TLS reads a record at a time and may hold more: read on. */
            if ((size_t)n < room_len + session->read_buf_len &&
                !(events & (EPOLLRDHUP | EPOLLHUP)) && conn->ssl == NULL) {
                flush_out(conn);
                return;
            }
        } else if (n == 0) {
            /* The end of a close-delimited body, or a cut-off response. */
            int err = gust__reader_end(&conn->reader);
            /* Over TLS the end of a close-delimited body is the server's
             * close_notify; a bare TCP close may have cut it short (RFC 9112
             * 9.8). */
            if (err == 0 && conn->ssl != NULL && !gust__tls_close_notified(conn)) {
                conn_failed(conn, GUST_ERR_TLS_TRUNCATED,
                            "TLS connection closed without close_notify: the body that ends "
                            "with the connection may be incomplete");
                return;
            }
            if (err == 0 && !finish_exchange(conn, false, true, done))
                return;
            if (err == 0 || err == GUST_ERR_CONN_CLOSED) {
                conn_failed(conn, GUST_ERR_CONN_CLOSED, "%s",
                            conn->received ? "connection closed in the middle of the response"
                                           : "connection closed before any response");
            } else {
                conn_failed(conn, err, "%s", gust__reader_why(&conn->reader));
            }
            return;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            flush_out(conn);
            return;
        } else if (errno == EPROTO && conn->ssl != NULL) {
            char why[256];
            int err = gust__tls_read_error(conn, why, sizeof(why));
            conn_failed(conn, err, "%s", why);
            return;
        } else if (errno != EINTR) {
            int e = errno;
            conn_failed(conn, e == ECONNRESET ? GUST_ERR_CONN_RESET : GUST_ERR_IO, "%s: %s",
                        conn->ssl != NULL ? "TLS read" : "recv", strerror(e));
            return;
        }
    }
}

/* Hands each completed call its response. */
static void deliver(struct cds_list_head *done)
{
    while (!cds_list_empty(done)) {
        call_t *call = cds_list_first_entry(done, call_t, pipe_link);
        cds_list_del_init(&call->pipe_link);
        gust_response_t *response = call->response;
        call->response = NULL;
        gust__call_got_response(call, response, call->reused);
    }
}

/* Writes what callbacks pipelined while responses were delivered: a read
 * that completes k pipelined responses costs one write, not k. */
static void flush_unflushed(session_t *session)
{
    while (!cds_list_empty(&session->unflushed)) {
        conn_t *conn = cds_list_first_entry(&session->unflushed, conn_t, unflushed_link);
        cds_list_del_init(&conn->unflushed_link);
        flush_out(conn);
    }
}

/* Reads what the server sent, then delivers the responses it completed.
 * The connection may be gone after. */
static void read_some(conn_t *conn, uint32_t events)
{
    session_t *session = conn->session;
    CDS_LIST_HEAD(done);
    session->delivering++;
    receive(conn, events, &done);
    deliver(&done);
    if (--session->delivering == 0)
        flush_unflushed(session);
}

/* Fills conn->chunk with the next piece of a streamed body, framed for
 * chunked encoding when the length is unknown. Returns false if the
 * connection is gone. */
static bool next_chunk(conn_t *conn)
{
    enum { DATA = 16384, FRAME = 16 };
    call_t *call = conn->call;
    bool chunked = call->body_read_len < 0;
    if (conn->chunk == NULL && (conn->chunk = malloc(DATA + 2 * FRAME)) == NULL) {
        conn_failed(conn, GUST_ERR_NOMEM, "out of memory");
        return false;
    }
    char *data = conn->chunk + (chunked ? FRAME : 0);
    ssize_t n = call->body_read(call->body_read_arg, data, DATA);
    if (n < 0 || (size_t)n > DATA) {
        conn_failed(conn, GUST_ERR_IO, "the request body's read callback failed");
        return false;
    }
    conn->body_sent += (size_t)n;
    if (!chunked) {
        if (n == 0 && conn->body_sent != (size_t)call->body_read_len) {
            conn_failed(conn, GUST_ERR_IO, "request body ended after %zu of %zd bytes",
                        conn->body_sent, call->body_read_len);
            return false;
        }
        conn->chunk_len = (size_t)n;
        conn->body_done = conn->body_sent >= (size_t)call->body_read_len;
    } else if (n == 0) {
        memcpy(conn->chunk, "0\r\n\r\n", 5);
        conn->chunk_len = 5;
        conn->body_done = true;
    } else {
        /* Right-align the size line against the data. */
        char line[FRAME + 1];
        int len = snprintf(line, sizeof(line), "%zx\r\n", (size_t)n);
        memcpy(data - len, line, (size_t)len);
        memcpy(data + n, "\r\n", 2);
        memmove(conn->chunk, data - len, (size_t)len + (size_t)n + 2);
        conn->chunk_len = (size_t)len + (size_t)n + 2;
    }
    conn->chunk_sent = 0;
    return true;
}

/* Returns false if the connection is gone. `at_start`: the request went out
 * in the exchange's one write, so the exchange's start time stands for its
 * end. */
static bool sent_all(conn_t *conn, bool at_start)
{
    call_t *call = conn->call;
    conn->state = CONN_RECEIVING;
    if (!at_start)
        conn->phase_start_ns = gust_now_ns();
    if (!conn->reader.head_done && !arm_phase_timer(conn, call->header_timeout_ns))
        return false;
    /* It may take pipelined requests now: those waiting come first. */
    gust__pipeline_update(conn);
    gust__session_fill_pipeline(conn);
    return flush_out(conn);
}

/* After a failed write: true if the socket is only full, else the
 * connection fails (and is gone). */
static bool write_blocked(conn_t *conn)
{
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK)
        return true;
    conn_failed(conn, e == EPIPE || e == ECONNRESET ? GUST_ERR_CONN_RESET : GUST_ERR_IO, "send: %s",
                strerror(e));
    return false;
}

/* Writes the pipelined request heads not written yet. Returns false if the
 * connection is gone. */
static bool flush_out(conn_t *conn)
{
    while (conn->out_sent < conn->out.len) {
        struct iovec iov = {conn->out.data + conn->out_sent, conn->out.len - conn->out_sent};
        ssize_t n = conn_writev(conn, &iov, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return write_blocked(conn);
        conn->out_sent += (size_t)n;
    }
    conn->out_base += conn->out.len;
    conn->out.len = 0;
    conn->out_sent = 0;
    return true;
}

/* Returns false if the connection is gone. `at_start`: called as the
 * exchange starts (not for a later EPOLLOUT). */
static bool write_some(conn_t *conn, bool at_start)
{
    call_t *call = conn->call;
    unsigned writes = 0;
    for (;;) {
        struct iovec iov[2];
        int n_iov = 0;
        if (conn->head_sent < conn->head.len)
            iov[n_iov++] =
                (struct iovec){conn->head.data + conn->head_sent, conn->head.len - conn->head_sent};
        if (call->body_read == NULL) {
            if (conn->body_sent < call->body_len)
                iov[n_iov++] = (struct iovec){(char *)call->body + conn->body_sent,
                                              call->body_len - conn->body_sent};
        } else if (conn->head_sent == conn->head.len) {
            if (conn->chunk_sent == conn->chunk_len && !conn->body_done && !next_chunk(conn))
                return false;
            if (conn->chunk_sent < conn->chunk_len)
                iov[n_iov++] = (struct iovec){conn->chunk + conn->chunk_sent,
                                              conn->chunk_len - conn->chunk_sent};
        }
        /* A request that took one write went out as its exchange began;
         * after more (a streamed body always takes more), its end is read. */
        if (n_iov == 0)
            return sent_all(conn, at_start && writes == 1);
        ssize_t n = conn_writev(conn, iov, n_iov);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return write_blocked(conn);
        }
        writes++;
        size_t left = (size_t)n;
        size_t head = conn->head.len - conn->head_sent;
        size_t step = left < head ? left : head;
        conn->head_sent += step;
        left -= step;
        if (call->body_read == NULL)
            conn->body_sent += left;
        else
            conn->chunk_sent += left;
    }
}

/* The reader's on_head: the final head of conn->call's answer is in. The
 * body of a redirect the call follows is dropped unseen; any other answer's
 * head goes to the caller's on_head, with what it will say of itself when
 * complete (its URL, whether its connection was reused, its redirects). */
static int head_ready(void *arg, gust_response_t *head)
{
    conn_t *conn = arg;
    call_t *call = conn->call;
    if (gust__redirect_wanted(call, head))
        return READER_DROP_BODY;
    if (call->on_head == NULL)
        return 0;
    char *url = strdup(call->url_text);
    if (url == NULL)
        return GUST_ERR_NOMEM;
    gust__response_take_url(head, url);
    gust__response_set_meta(head, conn->requests_served > 0, call->num_redirects, &call->timings);
    return call->on_head(call->on_head_arg, head) == 0 ? 0 : GUST_ERR_CANCELLED;
}

/* Starts reading the answer to conn->call. Returns false if the connection
 * is gone. */
static bool start_reading(conn_t *conn)
{
    const call_t *call = conn->call;
    const gust_client_opts_t *opts = &conn->session->client->opts;
    reader_opts_t reading = {
        .max_header_bytes = opts->max_header_bytes,
        .max_headers = opts->max_headers,
        .max_body_bytes = call->max_body_bytes,
        .max_decoded_bytes = call->max_decoded_bytes,
        .decompress = call->decompress,
        .head_request = strcmp(call->method, "HEAD") == 0,
        .on_body = call->on_body,
        .on_body_arg = call->on_body_arg,
        .on_head = head_ready,
        .on_head_arg = conn,
    };
    if (!gust__reader_start(&conn->reader, &reading)) {
        conn_failed(conn, GUST_ERR_NOMEM, "out of memory");
        return false;
    }
    return true;
}

/* Writes the call's request; `now` is when the exchange starts. */
static bool start_exchange(conn_t *conn, uint64_t now)
{
    conn->head.len = 0;
    conn->call->pipe_head_end = 0; /* its head goes out in `head`, not `out` */
    if (!gust__request_head_append(conn->call, &conn->head)) {
        conn_failed(conn, GUST_ERR_NOMEM, "out of memory");
        return false;
    }
    if (!start_reading(conn))
        return false;
    conn->state = CONN_SENDING;
    conn->head_sent = 0;
    conn->body_sent = 0;
    conn->chunk_len = 0;
    conn->chunk_sent = 0;
    conn->body_done = false;
    conn->received = false;
    conn->phase_start_ns = now;
    return write_some(conn, true);
}

void gust__conn_send(conn_t *conn, call_t *call, uint64_t now)
{
    clear_due(conn); /* the idle timeout */
    conn->call = call;
    call->conn = conn;
    call->timings.queued_ns = now - call->hop_start_ns;
    gust__call_arm_total(call);
    atomic_fetch_add_explicit(&conn->session->reused, 1, memory_order_relaxed);
    start_exchange(conn, now);
}

bool gust__conn_reusable(const conn_t *conn)
{
    if (conn->ssl != NULL && gust__tls_pending(conn))
        return false;
    char byte;
    return recv(conn->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
           (errno == EAGAIN || errno == EWOULDBLOCK);
}

void gust__conn_idle(conn_t *conn)
{
    conn->state = CONN_IDLE;
    uint64_t timeout = conn->session->client->opts.idle_timeout_ns;
    if (conn->server_idle_ns != 0 && (timeout == 0 || conn->server_idle_ns < timeout))
        timeout = conn->server_idle_ns;
    if (timeout == 0)
        clear_due(conn);
    else if (set_due(conn, gust_deadline_after(gust_now_ns(), timeout)) != 0)
        gust__conn_close(conn);
}

/* ---- events ---- */

static void on_io(gust_io_t *io, uint32_t events)
{
    conn_t *conn = io->data;
    if (conn->call != NULL && gust__call_cancelled(conn->call)) {
        gust__call_abandon(conn->call);
        return;
    }
    switch (conn->state) {
    case CONN_RESOLVING:
        break;
    case CONN_CONNECTING: {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            break;
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0)
            connect_next(conn, err);
        else
            connected(conn);
        break;
    }
    case CONN_HANDSHAKING:
        handshake(conn);
        break;
    case CONN_SENDING:
        if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && !write_some(conn, false))
            break;
        /* A server may answer (say, 413) before it has read the body. */
        if (conn->state != CONN_IDLE && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
            read_some(conn, events);
        break;
    case CONN_RECEIVING:
        if ((events & EPOLLOUT) && !flush_out(conn))
            break;
        read_some(conn, events);
        break;
    case CONN_IDLE:
        /* The server closed it, or sent bytes nobody asked for. */
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            gust__conn_close(conn);
        break;
    }
}

static void on_timer(gust_timer_t *timer)
{
    conn_t *conn = timer->data;
    if (conn->timer_due_ns == 0)
        return; /* the state that armed it is over, and the present one has no deadline */
    if (gust_now_ns() < conn->timer_due_ns) {
        /* Armed for an earlier state: on to the deadline of this one. */
        if (gust_timer_start_at(&conn->timer, conn->timer_due_ns, on_timer, conn) != 0) {
            if (conn->state == CONN_IDLE)
                gust__conn_close(conn);
            else
                conn_failed(conn, GUST_ERR_NOMEM, "out of memory");
        }
        return;
    }
    const origin_t *origin = conn->origin;
    unsigned long long connect_ms =
        conn->call != NULL ? conn->call->connect_timeout_ns / 1000000 : 0;
    switch (conn->state) {
    case CONN_RESOLVING:
    case CONN_CONNECTING:
        conn_failed(conn, GUST_ERR_CONNECT_TIMEOUT, "connect to %s:%u timed out after %llu ms",
                    origin->host, origin->port, connect_ms);
        break;
    case CONN_HANDSHAKING:
        conn_failed(conn, GUST_ERR_TLS_HANDSHAKE_TIMEOUT,
                    "TLS handshake with %s:%u not done within the connect timeout (%llu ms)",
                    origin->host, origin->port, connect_ms);
        break;
    case CONN_SENDING:
    case CONN_RECEIVING:
        conn_failed(conn, GUST_ERR_HEADER_TIMEOUT, "no response headers within %llu ms",
                    (unsigned long long)(conn->call->header_timeout_ns / 1000000));
        break;
    case CONN_IDLE:
        gust__conn_close(conn);
        break;
    }
}
