/* A tiny HTTP/1.1 server whose answers the test writes byte for byte, for
 * what tests/support/http_server.h has no route for: a kept-alive
 * connection that closes after reading the next request (a stale keep-alive
 * the client cannot see coming), repeated response headers, an empty reason
 * phrase, and handlers that count the requests in progress at once.
 *
 * It listens on 127.0.0.1 with a thread per connection. Each request head
 * (and its Content-Length body) is read in full, then handed to the test's
 * handler on the connection's thread, which sends what it likes and says
 * whether the connection goes on. Plain blocking sockets, none of gust. */
#ifndef GUST_TESTS_HTTP_RAW_SERVER_H
#define GUST_TESTS_HTTP_RAW_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct raw_server_s raw_server_t;
typedef struct raw_conn_s raw_conn_t;

/* A request as received. Valid during the handler's call. */
typedef struct raw_request_s {
    const char *head; /* request line and headers, NUL-terminated */
    char method[32];
    char target[1024]; /* "/path?query" */
    const char *body;  /* Content-Length bytes (NUL-terminated) */
    size_t body_len;
    unsigned conn_index;    /* 0 for the first connection accepted, ... */
    unsigned index_on_conn; /* 0 for a connection's first request, ... */
} raw_request_t;

/* Answers `req` (with raw_send), or not; returns true to read the next
 * request on the connection, false to close it. */
typedef bool (*raw_handler_fn)(void *arg, raw_conn_t *conn, const raw_request_t *req);

/* raw_server_start listens on an ephemeral port of 127.0.0.1; aborts the
 * test if it cannot. */
raw_server_t *raw_server_start(raw_handler_fn handler, void *arg);

/* raw_server_stop ends every connection (waits in raw_sleep end at once),
 * joins every thread and frees the server. NULL does nothing. */
void raw_server_stop(raw_server_t *server);

uint16_t raw_server_port(const raw_server_t *server);

/* Writes "http://127.0.0.1:PORT<path>" to buf; aborts the test if it does
 * not fit. */
void raw_server_url(const raw_server_t *server, char *buf, size_t len, const char *path);

/* Connections accepted and requests read so far. */
unsigned raw_server_accepted(const raw_server_t *server);
unsigned raw_server_requests(const raw_server_t *server);

/* For handlers: send all of `data` (false if the peer is gone), and sleep
 * (false if the server is stopping). */
bool raw_send(raw_conn_t *conn, const char *data);
/* The same for `len` bytes, NULs included. */
bool raw_write(raw_conn_t *conn, const void *data, size_t len);
bool raw_sleep(raw_conn_t *conn, long ms);

#endif
