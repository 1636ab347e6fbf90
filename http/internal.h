/* What the files of http/ share. Not installed.
 *
 * The pieces and who owns what:
 * - call_t: one gust_http_send, across redirects and a retry. It starts on
 *   whichever worker runs its start task and stays on that worker; its total
 *   timer lives on that worker's heap.
 * - conn_t: one socket, owned by the worker that opened it; never moves.
 *   While it serves a call, call->conn and conn->call point at each other.
 * - origin_t: shared by all workers, one per (scheme, host, port), in a
 *   lock-free hash table; never freed before the client. It counts the open
 *   connections for the per-host limit and keeps, per worker, that worker's
 *   idle connections and waiting calls (touched only by that worker).
 * - session_t: one per worker: its idle connections oldest first, its calls
 *   waiting for the total limit, a read buffer. Touched only by its worker. */
#ifndef GUST_HTTP_INTERNAL_H
#define GUST_HTTP_INTERNAL_H

#include <http_parser.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <urcu/list.h>
#include <urcu/rculfhash.h>
#include <zlib.h>

#include "gust/client.h"
#include "gust/url.h"

typedef struct origin_s origin_t;
typedef struct session_s session_t;
typedef struct conn_s conn_t;
typedef struct call_s call_t;
typedef struct dns_cache_s dns_cache_t;
struct dns_waiter_s;

/* Sleeps in 1 ms steps until *n is 0 (acquire: what the decrements release
 * is visible after). For teardown, where nothing is left to wait on but
 * callbacks already queued. */
static inline void gust__await_zero(atomic_uint_fast64_t *n)
{
    while (atomic_load_explicit(n, memory_order_acquire) != 0) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

/* ---- buf.c: a growing byte buffer ---- */

typedef struct buf_s {
    char *data; /* malloc'd; a NUL follows the content */
    size_t len;
    size_t cap;
} buf_t;
/* Makes the capacity at least `need` bytes, doubling; false when out of
 * memory. */
bool gust__buf_grow(buf_t *b, size_t need);
/* Makes the capacity at least `cap` bytes, exactly that if it grows; false
 * when out of memory. */
bool gust__buf_reserve(buf_t *b, size_t cap);
/* gust__buf_append's path when the bytes do not fit. */
bool gust__buf_append_grow(buf_t *b, const void *at, size_t len);

/* Appends `len` bytes (and keeps the NUL after them); false, with `b` as it
 * was, when out of memory. Inline: a response head is some forty appends,
 * and nearly all of them fit. */
static inline bool gust__buf_append(buf_t *b, const void *at, size_t len)
{
    if (b->len + len >= b->cap)
        return gust__buf_append_grow(b, at, len);
    if (len > 0) /* `at` may be NULL then */
        memcpy(b->data + b->len, at, len);
    b->len += len;
    b->data[b->len] = '\0';
    return true;
}

/* ---- response.c ---- */

/* Builds a response while it is parsed; gust_response_t is then read-only. */
gust_response_t *gust__response_new(void);

/* Which part of the head a piece the parser handed over belongs to. */
typedef enum head_part_e {
    HEAD_REASON,      /* (more of) the reason phrase */
    HEAD_NEW_NAME,    /* the start of a new header's name */
    HEAD_NAME,        /* more of the current name */
    HEAD_FIRST_VALUE, /* the start of the current header's value */
    HEAD_VALUE,       /* more of it */
} head_part_t;

typedef struct head_piece_s {
    const char *at;
    size_t len;
    head_part_t part;
} head_piece_t;

/* Adds pieces of the head, in the order they came, in one go (a head is
 * some twenty pieces). Returns 0 or GUST_ERR_NOMEM. */
int gust__response_add_head(gust_response_t *r, const head_piece_t *pieces, size_t num);
/* Appends to the body; bytes already at the body's end (read into the room
 * gust__response_body_room gave) are taken where they are. False when out
 * of memory. */
bool gust__response_add_body(gust_response_t *r, const void *at, size_t len);
/* The body's spare room: where its next bytes would go, and how many fit
 * (*out_room, keeping the NUL's byte; 0 before any is set aside). */
char *gust__response_body_room(gust_response_t *r, size_t *out_room);
/* Sets aside room for a body of `content_length` bytes (up to 1 MiB; 0 or
 * more does nothing), so that one that arrives in pieces is not copied
 * again as it grows. Returns false on ENOMEM. */
bool gust__response_reserve_body(gust_response_t *r, uint64_t content_length);
/* Drops headers and reason (after a 1xx interim response). */
void gust__response_reset_head(gust_response_t *r);
/* Sets the status once the head is complete and finishes the headers;
 * false when out of memory. */
bool gust__response_set_status(gust_response_t *r, int status, int http_minor);
/* The response's final URL, a malloc'd string it frees from now on. */
void gust__response_take_url(gust_response_t *r, char *url);
void gust__response_set_meta(gust_response_t *r, bool reused, unsigned num_redirects,
                             const gust_timings_t *timings);

/* ---- request.c ---- */

bool gust__is_token(const char *s);
bool gust__is_field_value(const char *s);
bool gust__method_is_idempotent(const char *method);
/* Appends the request head for one hop to `out`: request line, Host, the
 * caller's headers, then the client's User-Agent, Accept-Encoding and
 * default headers where the caller did not set them, and the body's framing.
 * Returns false, leaving `out` as it was, when out of memory. */
bool gust__request_head_append(const call_t *call, buf_t *out);
/* Writes client->default_lines, once the client's options are in place;
 * false when out of memory. */
bool gust__request_default_lines(gust_client_t *client);

/* ---- decode.c: Content-Encoding gzip and deflate, stacked ---- */

/* The most content codings undone in a row: each is work and a zlib stream
 * a server makes the client spend, so a longer list is refused. */
#define GUST_MAX_CODINGS 4

/* One coding being undone. */
typedef struct inflater_s {
    z_stream zs;
    bool started;        /* inflateInit2 done */
    bool deflate;        /* "deflate": zlib wrapper, or raw if the first bytes say so */
    bool finished;       /* the stream's end was seen */
    bool have_first;     /* "deflate" whose first piece was one byte: held in `first` */
    unsigned char first; /* until the second byte tells zlib from raw */
    size_t decoded;      /* bytes out so far */
} inflater_t;

typedef struct decoder_s {
    /* The codings in the order they were applied (true: deflate, false:
     * gzip), identity left out; undone last first. */
    bool deflate[GUST_MAX_CODINGS];
    unsigned num_codings;
    bool refused; /* a coding gust cannot undo, or too many: `why` says */
    char why[64];
    inflater_t *stages; /* one per coding, the last applied first: `one`, or allocated */
    inflater_t one;
    size_t decoded; /* bytes out of the last stage */
} decoder_t;

/* Starts an empty list of codings. */
void gust__decoder_init(decoder_t *d);
/* Adds the codings of one Content-Encoding value ("gzip", "deflate, gzip";
 * x-gzip is gzip, identity is skipped); call it for each such header in
 * order. A coding it cannot undo, or more than GUST_MAX_CODINGS, makes the
 * first byte fed fail. */
void gust__decoder_add(decoder_t *d, const char *value);
/* Whether the body has codings to undo (or to refuse). */
bool gust__decoder_active(const decoder_t *d);
/* Feeds coded bytes; emit(arg, out, n) receives decoded bytes. Returns 0,
 * GUST_ERR_DECODE (d->why says why when it is not corrupt data),
 * GUST_ERR_DECODED_TOO_LARGE (some stage's output past `cap`, 0 = none),
 * GUST_ERR_NOMEM, or what emit returned when not 0. */
int gust__decoder_feed(decoder_t *d, const void *in, size_t len, size_t cap,
                       int (*emit)(void *arg, const void *out, size_t n), void *arg);
/* At the end of the body: GUST_ERR_DECODE if a stream was cut short. */
int gust__decoder_finish(const decoder_t *d);
void gust__decoder_clear(decoder_t *d);

/* ---- reader.c: one response parsed from bytes ---- */

typedef struct reader_opts_s {
    size_t max_header_bytes;
    unsigned max_headers;
    size_t max_body_bytes;    /* 0 = none */
    size_t max_decoded_bytes; /* 0 = none */
    bool decompress;
    bool head_request;    /* the answer to HEAD has no body */
    gust_body_cb on_body; /* the body goes here instead of the response */
    void *on_body_arg;
    /* Called once the final head is in, before any body byte: returns 0 to
     * take the body, READER_DROP_BODY to read it and drop it, or an error
     * code to stop. NULL: take it. */
    int (*on_head)(void *arg, gust_response_t *head);
    void *on_head_arg;
} reader_opts_t;

/* What on_head returns for a body nobody will see (a redirect's). Such a
 * body is not decoded; one of more than READER_DRAIN_MAX bytes, or one that
 * ends only with the connection, is not read at all: the response is
 * complete at once and `cut` says the connection cannot go on. */
#define READER_DROP_BODY 1
#define READER_DRAIN_MAX (64 * 1024)

/* Pieces of a head collected before they go into the response together:
 * a reason and sixteen headers. */
enum { HEAD_PIECES = 33 };

typedef struct reader_s {
    reader_opts_t opts;
    http_parser parser;
    gust_response_t *response;
    decoder_t decoder;
    bool decoding;
    bool header_value; /* the parser's last header callback was a value */
    bool head_done;    /* the final response's headers are in */
    bool interim;      /* the head being parsed is a 1xx */
    bool complete;
    bool keep_alive; /* the complete response lets the connection live */
    bool drop_body;  /* on_head asked for the body to be dropped */
    bool cut;        /* complete before its body's end (see READER_DROP_BODY) */
    unsigned num_interim;
    size_t body_bytes;
    /* The head being parsed, counted as the response's text will be (for
     * the limits) while its pieces wait in `pieces`. */
    size_t head_bytes;
    size_t num_headers;
    int err;         /* why reading stopped */
    const char *why; /* and in words, if gust_strerror is not enough */
    /* Only while bytes are parsed: the pieces point into them, so they go
     * into the response before the parse returns (at the end of the head,
     * when the array is full, or at the end of the bytes), and the array is
     * on the parsing call's stack rather than in every connection. */
    head_piece_t *pieces;
    size_t num_pieces;
} reader_t;

/* Starts reading a response into `r`, which is zeroed or was started
 * before. False when out of memory. */
bool gust__reader_start(reader_t *r, const reader_opts_t *opts);
/* Parses received bytes. Returns 0 (more wanted, or r->complete: then
 * *out_used tells where the response ended) or an error code. */
int gust__reader_feed(reader_t *r, const char *data, size_t len, size_t *out_used);
/* Where the body's next bytes may be received straight into the response,
 * and how many (0 when they may not: no head yet, a chunked, decoded or
 * streamed body, or no spare room in the body's buffer). No more than is
 * left of the body: none belongs to a response after it. */
size_t gust__reader_body_room(reader_t *r, char **out_at);
/* The connection ended: 0 if that completed the response (close-delimited
 * body), GUST_ERR_CONN_CLOSED if it cut it short, or a parse error. */
int gust__reader_end(reader_t *r);
/* The error in words, valid until the reader is cleared or started again. */
const char *gust__reader_why(const reader_t *r);
/* Hands the response over (the caller frees it). */
gust_response_t *gust__reader_take(reader_t *r);
/* Frees what the reader holds. */
void gust__reader_clear(reader_t *r);

/* ---- dns.c: the shared DNS cache ---- */

#define GUST_MAX_ADDRS 8

typedef struct addr_list_s {
    unsigned num;
    socklen_t lens[GUST_MAX_ADDRS];
    struct sockaddr_storage addrs[GUST_MAX_ADDRS];
} addr_list_t;

dns_cache_t *gust__dns_new(gust_runtime_t *runtime, uint64_t ttl_ns);
void gust__dns_free(dns_cache_t *dns);
/* done(conn, err, why, addrs) gets the addresses of `host` with `port` set:
 * at once on a cache hit, an IP literal or an error, else later on the
 * calling worker after a lookup (which sets conn->looked_up). err is 0,
 * GUST_ERR_DNS or GUST_ERR_NOMEM, with `why` a static message. On a worker. */
typedef void (*dns_done_fn)(conn_t *conn, int err, const char *why, const addr_list_t *addrs);
void gust__dns_resolve(dns_cache_t *dns, const char *host, uint16_t port, conn_t *conn,
                       dns_done_fn done);
uint64_t gust__dns_lookups(const dns_cache_t *dns);
/* Fills *out with `host` if it is an IPv4 or IPv6 literal (port 0). */
bool gust__ip_literal(const char *host, addr_list_t *out);
/* A connection that closes while its lookup runs tells the waiter (which
 * gust__dns_resolve left in conn->dns_waiter) to drop it. On its worker. */
void gust__dns_forget(struct dns_waiter_s *waiter);

/* ---- table.c: lock-free interning tables shared by the workers ---- */

/* The head of every entry: the table's node and the key. */
typedef struct interned_s {
    struct cds_lfht_node node;
    char *key;
    /* Set (release) before the entry goes into the table and read
     * (acquire) before a lookup looks at it: the table's own ordering is
     * inside liburcu, which the thread sanitizer cannot see. */
    atomic_bool published;
} interned_t;

struct cds_lfht *gust__table_new(void);
/* Returns the entry for `key`, adding make(key, arg) if there is none (then
 * destroy(entry) drops a duplicate that lost a race); NULL when out of
 * memory. Any thread. */
interned_t *gust__table_intern(struct cds_lfht *table, const char *key,
                               interned_t *(*make)(const char *key, void *arg),
                               void (*destroy)(interned_t *entry), void *arg);
/* Destroys every entry and the table, when no other thread uses it. */
void gust__table_free(struct cds_lfht *table, void (*destroy)(interned_t *entry));

/* ---- call: one request (client.c, redirect.c) ---- */

struct call_s {
    gust_client_t *client;
    gust_future_t *future;
    session_t *session; /* the worker the call runs on, once started */
    origin_t *origin;
    conn_t *conn;

    char *method; /* method_inline, or a heap copy of a longer one */
    char method_inline[16];
    char *url_text;
    gust_url_t url;
    gust_header_t *headers; /* names and values in one block with the array */
    size_t num_headers;
    void *body;
    size_t body_len;
    gust_body_read_cb body_read;
    void *body_read_arg;
    ssize_t body_read_len; /* -1: chunked */

    uint64_t connect_timeout_ns; /* 0 = none */
    uint64_t header_timeout_ns;
    uint64_t total_timeout_ns;
    size_t max_body_bytes;
    size_t max_decoded_bytes;
    unsigned max_redirects;
    bool decompress;
    bool retry_non_idempotent;
    bool insecure;
    gust_body_cb on_body;
    void *on_body_arg;
    gust_head_cb on_head;
    void *on_head_arg;
    gust_future_cb on_done; /* called by call_free */
    void *on_done_arg;

    uint64_t sent_ns; /* gust_http_send */
    uint64_t hop_start_ns;
    uint64_t received_ns; /* the read that completed the response */
    gust_timings_t timings;
    unsigned num_redirects;
    bool retried;
    bool want_fresh_conn; /* a retry: do not take an idle connection */
    bool migrated;        /* moved to another worker during this hop */
    gust_timer_t total_timer;
    struct cds_list_head wait_link;   /* in an origin's or a session's wait list */
    struct cds_list_head pipe_link;   /* in its connection's pipeline */
    uint64_t pipe_head_end;           /* where its head ends in the pipeline's output */
    gust_response_t *response;        /* complete, to be delivered (conn.c) */
    bool reused;                      /* and whether its connection had served before */
    struct cds_list_head active_link; /* in its session's active list */
    enum { WAIT_NONE, WAIT_ORIGIN, WAIT_TOTAL } waiting;
};

/* Completes the call with an error (message: "<METHOD> <url>: <cause>") or
 * with its response, and frees it. The connection must be detached. */
void gust__call_fail(call_t *call, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gust__call_respond(call_t *call, gust_response_t *response);
/* The call's connection could not deliver: stale keep-alive retry where
 * allowed, else fail. `received` tells whether any response byte came. */
void gust__call_conn_failed(call_t *call, bool reused, bool received, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A complete response arrived (on a connection that had served others
 * before if `reused`): follow a redirect, or deliver it. */
void gust__call_got_response(call_t *call, gust_response_t *response, bool reused);
/* The call was cancelled: drop its connection or its place in a queue, and
 * free it (its future is already complete). */
void gust__call_abandon(call_t *call);
/* Starts (again) on the current worker: find a connection and send. `now`
 * is gust_now_ns(), just read (a request's first clock read serves its
 * start, and the exchange's when a connection is idle). */
void gust__call_run(call_t *call, uint64_t now);
bool gust__call_cancelled(const call_t *call);
/* Arms the total timeout on this worker if it is not armed yet. */
void gust__call_arm_total(call_t *call);
/* Sets the call's method to a copy of `method`. Returns false (ENOMEM) with
 * the method unchanged if a long one could not be copied. */
bool gust__call_set_method(call_t *call, const char *method);
/* redirect.c: whether `response` is a redirect the call would follow (or
 * fail on, when it has followed too many or the target is refused): either
 * way its body is nobody's answer. */
bool gust__redirect_wanted(const call_t *call, const gust_response_t *response);
/* If `response` asks to be followed, points the call at the next
 * hop and returns 1; returns 0 to deliver the response as it is, or an error
 * (then *out_why says why). */
int gust__redirect(call_t *call, const gust_response_t *response, const char **out_why);

/* ---- conn.c ---- */

typedef enum conn_state_e {
    CONN_RESOLVING,
    CONN_CONNECTING,
    CONN_HANDSHAKING,
    CONN_SENDING,
    CONN_RECEIVING,
    CONN_IDLE,
} conn_state_t;

struct conn_s {
    session_t *session;
    origin_t *origin;
    call_t *call;
    conn_state_t state;
    int fd;
    SSL *ssl; /* NULL for plain TCP */
    /* The first bytes the server sent under TLS, to name what it speaks if
     * the handshake fails; and the BoringSSL error that failed the last
     * TLS read or write (tls.c). */
    uint8_t tls_first[5];
    uint8_t tls_first_len;
    uint32_t tls_error;
    bool io_started;
    gust_io_t io;
    gust_timer_t timer;    /* connect, header or idle timeout, by state; lazy (conn.c) */
    uint64_t timer_due_ns; /* the deadline the state wants; 0: none */
    addr_list_t addrs;
    unsigned next_addr;
    struct dns_waiter_s *dns_waiter; /* while resolving */
    bool looked_up;                  /* the addresses came from getaddrinfo */
    unsigned requests_served;
    uint64_t server_idle_ns; /* from the last response's Keep-Alive, 0 = none */
    uint64_t phase_start_ns;
    uint64_t recv_ns; /* when the last read returned: the time of what it brought */

    /* The exchange in progress. */
    reader_t reader;
    buf_t head; /* the request head, its buffer kept for the next */
    size_t head_sent;
    size_t body_sent;
    char *chunk; /* a pending piece of a streamed body, with its framing */
    size_t chunk_len;
    size_t chunk_sent;
    bool body_done;
    bool received; /* a response byte arrived */

    /* Pipelining: calls sent after conn->call, oldest first, and their
     * request heads not yet written. */
    struct cds_list_head pipeline;
    unsigned num_pipelined;
    buf_t out;
    size_t out_sent;
    /* Bytes of `out` written before its present content: out.data[i] is
     * byte out_base + i of all the pipelined heads, and an answer cannot
     * begin before its request's last byte went out. */
    uint64_t out_base;
    bool pipelinable;     /* in its origin's busy list: may take more */
    bool answered_http11; /* a response came with HTTP/1.1 keep-alive */
    struct cds_list_head busy_link;
    struct cds_list_head unflushed_link; /* in session->unflushed */

    struct cds_list_head idle_link; /* the origin's idle list on this worker */
    struct cds_list_head lru_link;  /* the session's idle list, oldest first */
};

/* Opens a connection for `call` on this worker (the slot is reserved). */
void gust__conn_open(session_t *session, origin_t *origin, call_t *call);
/* Sends `call` on an idle, connected `conn`; `now` is gust_now_ns(), just
 * read. */
void gust__conn_send(conn_t *conn, call_t *call, uint64_t now);
/* Marks a connection idle (the session has put it in its lists) and starts
 * its idle timeout. */
void gust__conn_idle(conn_t *conn);
/* Whether an idle connection may carry another request: the server has
 * sent nothing since the last answer, no byte (the next request would take
 * it for its answer), no close, no error. The reactor tells of those only
 * when the worker next polls it, which a busy worker may not have done yet;
 * this asks the socket (a zero-wait peek) and the TLS layer now. */
bool gust__conn_reusable(const conn_t *conn);
/* Closes and frees; hands its slot on (gust__session_slot_freed). */
void gust__conn_close(conn_t *conn);
/* Closes and frees an idle connection whose total slot the caller takes
 * over; returns the origin whose per-host slot it held. */
origin_t *gust__conn_evict(conn_t *conn);
/* `call` gives up on its connection (timeout, cancel): closes it; other
 * calls pipelined on it run again. */
void gust__conn_abort(conn_t *conn, call_t *call);

/* Sends `call` behind those in flight on `conn` (pipelining); `now` is
 * gust_now_ns(), just read. */
void gust__conn_pipeline(conn_t *conn, call_t *call, uint64_t now);
/* Queues `call` on `conn` the same way, to be written by the connection's
 * next flush; false (nothing changed) when out of memory. */
bool gust__conn_queue(conn_t *conn, call_t *call, uint64_t now);

/* ---- pipeline.c: HTTP/1.1 pipelining ---- */

/* The call may be pipelined: safe to send twice. */
bool gust__pipeline_allows(const call_t *call);
/* Puts `conn` in or out of its origin's busy list, as it may take more
 * requests or not. */
void gust__pipeline_update(conn_t *conn);
/* A busy connection on this worker that `call` may pipeline on, or NULL. */
conn_t *gust__pipeline_find(session_t *session, const call_t *call);
/* Queues the call's request head on `conn` to be written and the call to
 * be answered; false (nothing changed) when out of memory. */
bool gust__pipeline_push(conn_t *conn, call_t *call);
/* The next call to be answered, out of the queue; NULL if none. */
call_t *gust__pipeline_pop(conn_t *conn);
/* Moves every queued call to `out` (by pipe_link), detached from `conn`. */
void gust__pipeline_take_all(conn_t *conn, struct cds_list_head *out);
/* Runs each call of the list again, from the start of its hop. */
void gust__pipeline_rerun(struct cds_list_head *calls);

/* ---- tls.c ---- */

/* Loads the options' CA and client certificate once to check them; returns
 * 0 or GUST_ERR_TLS with *why. */
int gust__tls_check_opts(const gust_client_opts_t *opts, char *why, size_t why_len);
void gust__tls_client_free(gust_client_t *client);
void gust__tls_origin_free(origin_t *origin);
/* Sets up TLS on a connected socket (SNI, name to verify, session to
 * resume). Returns 0 or an error code with *why. */
int gust__tls_start(conn_t *conn, char *why, size_t why_len);
/* One step of the handshake: 0 done, 1 wait for the socket, or an error
 * code with *why: a certificate error (each failure its own) when
 * verification failed, GUST_ERR_TLS_HANDSHAKE otherwise. */
int gust__tls_handshake(conn_t *conn, char *why, size_t why_len);
/* As recv and send: bytes, 0 at the end (read), or -1 with errno (EAGAIN
 * when the socket must be waited for, EPROTO when TLS itself failed). */
ssize_t gust__tls_read(conn_t *conn, void *buf, size_t len);
ssize_t gust__tls_write(conn_t *conn, const void *buf, size_t len);
/* After EPROTO: the error code (GUST_ERR_TLS_RENEGOTIATION for a server
 * that asked to renegotiate, else GUST_ERR_TLS) with *why. */
int gust__tls_read_error(const conn_t *conn, char *why, size_t why_len);
/* Whether the server's close_notify has come: the end of the stream, as
 * opposed to a TCP close that anyone on the path could have forged. */
bool gust__tls_close_notified(const conn_t *conn);
/* Whether decrypted bytes wait in the TLS layer, read from the socket
 * already (no event will tell of them). */
bool gust__tls_pending(const conn_t *conn);
void gust__tls_free(conn_t *conn);

/* ---- session.c: per-worker connection pools and the limits ---- */

/* A worker's part of an origin, on cache lines of its own: its worker
 * changes the lists and counts for every request, and a line shared with
 * another worker's slot would bounce between their cores. */
typedef struct origin_slot_s {
    _Alignas(64) struct cds_list_head idle; /* most recently used first */
    struct cds_list_head busy;    /* connections a request may pipeline on */
    struct cds_list_head waiting; /* calls in arrival order */
    atomic_uint num_idle;
    atomic_uint num_waiting;
    atomic_uint num_busy; /* in `busy`, for other workers to see */
} origin_slot_t;

struct origin_s {
    interned_t head; /* the key: the URL's origin ("http://host:port") */
    gust_client_t *client;
    char *host;
    uint16_t port;
    bool https;
    bool insecure; /* TLS without verification: part of the key */
    /* A connection failed with requests pipelined on it: pipeline no more. */
    atomic_bool no_pipelining;
    pthread_mutex_t tls_lock;
    SSL_SESSION *tls_session; /* the newest resumable one, under tls_lock */
    atomic_uint num_open;
    atomic_uint num_waiting; /* over all workers */
    origin_slot_t slots[];   /* one per worker */
};

struct session_s {
    gust_client_t *client;
    unsigned index;
    struct cds_list_head idle_lru;
    struct cds_list_head starved; /* calls waiting for the total limit */
    struct cds_list_head active;  /* calls running on this worker */
    gust_timer_t sweep;           /* looks for cancelled calls among them */
    atomic_uint num_starved;
    atomic_uint num_idle;
    char *read_buf;
    size_t read_buf_len;
    /* Where this worker's last request went: the next most often goes
     * there too, and a key compared is cheaper than a table lookup. */
    origin_t *last_origin;
    /* The last URL parsed here and its text: a load tool or a poller sends
     * one URL again and again, and a shared parse saves redoing it. Longer
     * URLs are not kept. */
    gust_url_t last_url;
    char last_url_text[256];
    /* While responses are delivered, the requests their callbacks pipeline
     * collect here and go out in one write per connection afterwards. */
    unsigned delivering;
    struct cds_list_head unflushed;
    /* Counters, written by this worker only. */
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t opened;
    atomic_uint_fast64_t reused;
    atomic_uint_fast64_t retries;
    atomic_uint_fast64_t pipelined;
};

/* The calling worker's session, or NULL off the client's runtime. */
session_t *gust__session_current(gust_client_t *client);
/* gust_url_parse, through the session's last URL when `text` is that one;
 * `session` may be NULL (off the client's workers: no cache). */
int gust__session_parse_url(session_t *session, const char *text, gust_url_t *out,
                            const char **out_why);
/* The origin entry for `url` with those TLS settings, made on first use;
 * NULL when out of memory. On the session's worker only. */
origin_t *gust__origin_get(session_t *session, const gust_url_t *url, bool insecure);
void gust__origin_destroy(interned_t *origin);
/* Finds a connection for `call` (idle, new, or a place in a queue); `now`
 * is gust_now_ns(), just read. */
void gust__session_acquire(session_t *session, call_t *call, uint64_t now);
/* Moves calls waiting here for the origin of `conn` onto it while it may
 * take more (pipelining); their heads are written by the caller's next
 * flush. Runs no callback. */
void gust__session_fill_pipeline(conn_t *conn);
/* Takes `call` out of the wait list it is in (timeout, cancel). */
void gust__session_unwait(session_t *session, call_t *call);
/* Takes an idle connection out of the idle lists (before it closes). */
void gust__session_unidle(conn_t *conn);
/* A connection finished an exchange and may be reused: give it to a waiting
 * call, keep it idle, or close it when others wait for a slot. */
void gust__session_release(conn_t *conn);
/* A connection closed: hand its slot to a waiting call. */
void gust__session_slot_freed(session_t *session, origin_t *origin);
/* Closes every idle connection of this worker and stops its timers. */
void gust__session_close_idle(session_t *session);
/* A call runs on this worker from now on / no longer. A cancelled future
 * gives no event, so the session looks for cancelled calls every
 * GUST_SWEEP_NS while it has any, and abandons them. */
#define GUST_SWEEP_NS 100000000ull
void gust__session_track(session_t *session, call_t *call);
void gust__session_untrack(call_t *call);

/* ---- client.c ---- */

struct gust_client_s {
    gust_runtime_t *runtime;
    gust_runtime_t *own_runtime;
    gust_pool_t *pool;
    gust_client_opts_t opts;
    char *user_agent;
    gust_header_t *headers;
    /* The lines a request that sets no headers of its own gets from the
     * client (see gust__request_head_append), written once: [1] with
     * Accept-Encoding, [0] without. */
    buf_t default_lines[2];
    unsigned num_workers;
    session_t *sessions;
    struct cds_lfht *origins;
    dns_cache_t *dns;
    atomic_uint total_open;
    atomic_uint num_starved; /* over all sessions */
    atomic_uint_fast64_t in_flight;
    atomic_uint_fast64_t requests;
    char *ca_file;
    char *ca_dir;
    char *client_cert_file;
    char *client_key_file;
    pthread_mutex_t tls_lock;
    SSL_CTX *tls_verify; /* made on first use, under tls_lock */
    SSL_CTX *tls_insecure;
    BIO_METHOD *tls_bio; /* sockets written with MSG_NOSIGNAL */
};

#endif
