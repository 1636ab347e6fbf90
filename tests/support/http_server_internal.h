/* What the test server's files share: the server and connection structs, a
 * connection's I/O (http_server_conn.c), reading requests
 * (http_server_request.c) and the routes (http_server_routes.c). */
#ifndef GUST_TESTS_SUPPORT_HTTP_SERVER_INTERNAL_H
#define GUST_TESTS_SUPPORT_HTTP_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "tests/support/http_server.h"

/* Largest request head, and largest request body (as received for
 * Content-Length, decoded for chunked). */
#define TEST_SERVER_MAX_HEAD (1u << 20)
#define TEST_SERVER_MAX_BODY (64u << 20)

typedef struct conn_s conn_t;

struct test_server_s {
    int listen_fd;
    /* An eventfd written once by test_server_stop and never read: every wait
     * of every thread polls it, and it stays readable from then on. */
    int stop_fd;
    uint16_t port;
    char origin[64];
    pthread_t acceptor;

    /* A connection is on `live` from just before its thread starts until the
     * thread has closed its socket, then on `finished` until a joiner (the
     * acceptor, or test_server_stop) takes it off and joins the thread. The
     * socket is closed under the lock, so test_server_stop can shut down the
     * sockets of live connections without racing with fd reuse. */
    pthread_mutex_t lock;
    pthread_cond_t finished_cond; /* signalled when a connection finishes */
    conn_t *live;
    conn_t *finished;
    unsigned num_live;

    /* Counters for the tests' assertions. Relaxed: each is read on its own
     * and publishes nothing else. An increment precedes the send() of the
     * response it counts, and the kernel orders that send() before the
     * client's recv(), so a test that has read the response sees it. */
    atomic_ulong connections_accepted;
    atomic_ulong requests_served;
};

/* A growable byte buffer. */
typedef struct buf_s {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

/* A connection, owned by its thread until it is on the finished list. */
struct conn_s {
    test_server_t *server;
    int fd;
    pthread_t thread;
    conn_t *prev, *next; /* on the server's live or finished list */
    /* Bytes received and not yet consumed: the current request (or the start
     * of it) first, then any pipelined bytes after it. */
    buf_t in;
    buf_t body;  /* the current request's de-chunked body */
    int idle_ms; /* how long to wait for the next request; -1 for ever */
};

/* A complete request, valid until test_server__request_done. */
typedef struct request_s {
    const char *raw; /* the request as received, head and body */
    size_t raw_len;
    char method[32];
    char *target_copy; /* path and query, split at '?' */
    const char *path;
    const char *query; /* after the '?'; "" if none */
    int minor_version; /* HTTP/1.<minor_version> */
    bool head;         /* a HEAD request: its response gets no body */
    bool keep_alive;   /* the client allows another request on the connection */
    const char *body;
    size_t body_len;
} request_t;

/* test_server__die prints what failed with errno's text and aborts. */
_Noreturn void test_server__die(const char *what);

/* ---- A connection's I/O (http_server_conn.c) ----------------------------- */

/* test_server__send sends all of data; false if the peer is gone or the
 * server is stopping. */
bool test_server__send(conn_t *c, const void *data, size_t len);

/* test_server__sleep waits ms milliseconds; false if the server stopped
 * meanwhile. */
bool test_server__sleep(conn_t *c, long ms);

/* test_server__recv appends what the socket has to c->in, growing it to at
 * most `limit` bytes, after waiting at most timeout_ms (-1: no limit) for
 * something to arrive. Returns the number of bytes added; 0 at end of stream,
 * on timeout, on error or when the server stops; -1 if c->in is `limit` bytes
 * long already. */
long test_server__recv(conn_t *c, int timeout_ms, size_t limit);

/* test_server__drain reads and drops whatever arrives until the peer closes,
 * ms milliseconds pass (-1: no limit) or the server stops. */
void test_server__drain(conn_t *c, long ms);

/* test_server__buf_append appends len bytes to b; aborts if out of memory. */
void test_server__buf_append(buf_t *b, const void *data, size_t len);

/* ---- Requests (http_server_request.c) ------------------------------------ */

/* test_server__read_request reads the next request on c into *out_req.
 * Returns 0 when it has one; -1 when the connection should end without a
 * response (the peer closed, the idle time ran out, the server is stopping);
 * or the status of the error response the connection should end with (400,
 * 413, 431, 501). */
int test_server__read_request(conn_t *c, request_t *out_req);

/* test_server__request_done frees what *req holds and drops its bytes from
 * c->in, keeping any pipelined bytes after it. */
void test_server__request_done(conn_t *c, request_t *req);

/* test_server__query_num returns the query parameter `name` of req as a
 * decimal number (saturating at LONG_MAX), or `dflt` if it is absent or not
 * one. */
long test_server__query_num(const request_t *req, const char *name, long dflt);

/* test_server__query_str returns the query parameter `name` of req with its
 * %XX escapes decoded, as a string the caller frees; NULL if it is absent. */
char *test_server__query_str(const request_t *req, const char *name);

/* ---- Routes (http_server_routes.c) --------------------------------------- */

/* test_server__route answers req as its path says. Returns true if the
 * connection may serve another request. */
bool test_server__route(conn_t *c, const request_t *req);

/* test_server__reject answers a malformed request with `status` and
 * `Connection: close`. */
void test_server__reject(conn_t *c, int status);

#endif
