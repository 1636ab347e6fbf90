/* What the test server's files share: the server and connection structs, a
 * connection's I/O (http_server_conn.c) and its TLS (http_server_tls.c),
 * reading requests (http_server_request.c) and the routes
 * (http_server_routes.c). Only http_server_tls.c includes BoringSSL. */
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

/* BoringSSL's SSL_CTX and SSL, named here without its headers. */
struct ssl_ctx_st;
struct ssl_st;

/* A connection's transport: the socket itself, or TLS over it. Both calls
 * block (test_server_stop ends a blocked one by shutting the socket down)
 * and return as recv and send do: the number of bytes moved, 0 at the end of
 * the stream, -1 on an error (a TLS stream cut without close_notify
 * included). */
typedef struct conn_io_s {
    long (*read)(conn_t *c, void *buf, size_t len);
    long (*write)(conn_t *c, const void *data, size_t len);
    /* Whether read has bytes to return that poll on the socket would not
     * show (TLS records already taken off the socket). */
    bool (*buffered)(const conn_t *c);
} conn_io_t;

struct test_server_s {
    int listen_fd;
    /* An eventfd written once by test_server_stop and never read: every wait
     * of every thread polls it, and it stays readable from then on. */
    int stop_fd;
    uint16_t port;
    char origin[64];
    pthread_t acceptor;

    /* TLS: the context each connection's SSL comes from; NULL for plain
     * HTTP, and with handshake_stall, where connections never get that far.
     * Read-only while the server runs (BoringSSL locks its session cache). */
    struct ssl_ctx_st *tls_ctx;
    bool handshake_stall;

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
    /* Incremented when a TLS handshake completes, before the connection
     * reads its first request. */
    atomic_ulong tls_handshakes;
    atomic_ulong tls_resumed;
    /* Bytes handed to the transport (before TLS), counted as each send
     * returns. */
    atomic_ulong bytes_sent;
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
    const conn_io_t *io; /* plain until a TLS handshake completes */
    struct ssl_st *ssl;  /* NULL on a plain connection */
    /* A route asks for the TLS connection to end without close_notify. */
    bool skip_close_notify;
    /* A route asks for the connection to end with a TCP reset (SO_LINGER 0)
     * instead of a FIN; it sets skip_close_notify too. */
    bool reset;
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

/* The plain transport: recv and send on the socket. */
extern const conn_io_t test_server__plain_io;

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
 * ms milliseconds pass (-1: no limit) or the server stops. It reads the
 * socket itself, under any TLS: the bytes are dropped unread, and a TLS
 * connection may have ended (or never begun) by then. */
void test_server__drain(conn_t *c, long ms);

/* test_server__buf_append appends len bytes to b; aborts if out of memory. */
void test_server__buf_append(buf_t *b, const void *data, size_t len);

/* ---- TLS (http_server_tls.c) ---------------------------------------------- */

/* test_server__tls_new_ctx returns an SSL_CTX serving o->cert_file and
 * o->key_file (and asking for client certificates if o->client_ca_file is
 * set), which test_server__tls_free_ctx frees. Aborts the test, with
 * BoringSSL's errors, if a file does not load. */
struct ssl_ctx_st *test_server__tls_new_ctx(const test_server_opts_t *o);
void test_server__tls_free_ctx(struct ssl_ctx_st *ctx);

/* test_server__tls_accept runs the server side of a TLS handshake on c's
 * socket, counts it, and switches c->io to TLS. Returns false if the
 * handshake failed: the client left, sent something else, or refused the
 * certificate; or the server is stopping. */
bool test_server__tls_accept(conn_t *c);

/* test_server__tls_end sends close_notify (unless c->skip_close_notify, or
 * the handshake never completed) and frees c's SSL. Does nothing on a plain
 * connection. */
void test_server__tls_end(conn_t *c);

/* test_server__tls_peer_cn writes the subject CN of the client's
 * certificate to buf; false if the connection is not TLS, the client sent
 * none, or it has no CN that fits in len bytes. */
bool test_server__tls_peer_cn(const conn_t *c, char *buf, size_t len);

/* test_server__tls_describe writes what /tls-info answers to buf; false if
 * the connection is not TLS. */
bool test_server__tls_describe(const conn_t *c, char *buf, size_t len);

/* test_server__tls_hello_request sends a HelloRequest, the TLS 1.2 message
 * by which a server asks for renegotiation, in a record sealed with c's
 * keys (BoringSSL's server never sends one itself); the connection's TLS
 * state is behind the socket after it, so the connection must end without
 * close_notify. False if c is not TLS 1.2 with an AEAD cipher, or the
 * send failed. */
bool test_server__tls_hello_request(conn_t *c);

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
