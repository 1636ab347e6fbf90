/* gust/client.h: an HTTP/1.1 client whose every request returns a future.
 *
 * A client holds the configuration, the limits, and the caches shared by all
 * workers of a runtime (DNS answers, per-origin connection counts). Each
 * worker keeps its own idle keep-alive connections; a request runs on
 * whichever worker picks it up, and a connection never changes worker.
 *
 *     gust_client_t *client = gust_client_new(NULL, NULL);
 *     gust_request_t req = {.url = "http://127.0.0.1:8080/"};
 *     gust_future_t *f = gust_http_send(client, &req);
 *     if (gust_future_wait(f) == GUST_FUTURE_VALUE)
 *         printf("%d\n", gust_response_status(gust_http_response(f)));
 *     else
 *         printf("%s\n", gust_future_message(f)); // names the URL and the cause
 *     gust_future_free(f);
 *     gust_client_free(client);
 *
 * Timeouts: `connect` covers DNS and connecting, over every address of the
 * name tried in turn (curl's meaning); `header` runs from the end of sending the request
 * (its start, a syscall earlier, for a request that goes out in one write)
 * to the end of the response headers; `total` runs from gust_http_send to the
 * last body byte across redirects and retries, and counts the time spent
 * waiting for a connection under the limits unless total_after_queue is set.
 * A timeout of 0 in the client options means none; GUST_TIMEOUT_NONE in a
 * request removes the client's. */
#ifndef GUST_CLIENT_H
#define GUST_CLIENT_H

#include "gust/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gust/future.h"
#include "gust/http_err.h"
#include "gust/reactor.h"
#include "gust/response.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gust_client_s gust_client_t;

/* A header to send. Names must be HTTP tokens; values must not contain CR,
 * LF or other control characters but tab. Content-Length and
 * Transfer-Encoding follow from the body and may not be set (such a request
 * fails with GUST_ERR_BAD_REQUEST). Copied by gust_http_send. */
typedef struct gust_header_s {
    const char *name;
    const char *value;
} gust_header_t;

#define GUST_TIMEOUT_NONE UINT64_MAX

/* http-parser's own limit on a response head (HTTP_MAX_HEADER_SIZE). */
#define GUST_MAX_HEADER_BYTES (80 * 1024)

/* Options for gust_client_new; start from gust_client_opts_default(), whose
 * values are given with each field. */
typedef struct gust_client_opts_s {
    /* Open connections (idle, busy or connecting) to one origin, across all
     * workers; 0 = no limit. Default 0. Requests beyond it wait in a queue. */
    unsigned max_per_host;
    /* Open connections in all; 0 = no limit. Default 0. When reached, an idle
     * connection to another origin is closed to make room, else the request
     * waits. */
    unsigned max_total;
    /* An idle keep-alive connection is closed after this long, or sooner if
     * the server's Keep-Alive header says it will close first. Default 15 s. */
    uint64_t idle_timeout_ns;
    /* Requests served by one connection before it is closed; 0 = no limit.
     * Default 0. */
    unsigned max_requests_per_conn;
    /* HTTP/1.1 pipelining, off by default (0 or 1). When a request finds the
     * per-host or total limit reached, it may be sent on a busy connection
     * to its origin that has fewer than this many requests in flight,
     * instead of waiting for one to free. Only requests that are safe to
     * send twice are pipelined (GET, HEAD, OPTIONS and the like without a
     * body), only behind such a request, and only on a connection that has
     * already answered once with HTTP/1.1 keep-alive. If a connection fails
     * with requests pipelined on it, those that got no answer are sent
     * again, and the origin is not pipelined to again: a server that cannot
     * pipeline is used without it. */
    unsigned pipeline_depth;
    /* Timeouts (see the top of this file); 0 = none. Defaults: connect 10 s,
     * header 0, total 300 s. */
    uint64_t connect_timeout_ns;
    uint64_t header_timeout_ns;
    uint64_t total_timeout_ns;
    /* Start the total timeout when a connection is found, not at send.
     * Default false. */
    bool total_after_queue;
    /* Response header bytes (status line included) and header count.
     * Defaults 64 KiB and 100. http-parser stops any head past
     * GUST_MAX_HEADER_BYTES (80 KiB), so larger values are refused. */
    size_t max_header_bytes;
    unsigned max_headers;
    /* Response body bytes as received, and after decoding; 0 = no limit.
     * Defaults 1 GiB and 1 GiB. */
    size_t max_body_bytes;
    size_t max_decoded_bytes;
    /* Redirects followed; 0 = none (3xx responses are returned). Default 10. */
    unsigned max_redirects;
    /* Send Accept-Encoding: gzip, deflate and decode such bodies (zlib).
     * Default true. */
    bool decompress;
    /* User-Agent; NULL = none. Default "gust/0.1". Copied. */
    const char *user_agent;
    /* Headers added to every request unless it sets the same name. Copied. */
    const gust_header_t *headers;
    size_t num_headers;
    /* How long a DNS answer is reused. Default 60 s. */
    uint64_t dns_ttl_ns;
    /* TLS (https URLs). Certificates are verified against the system bundle
     * (/etc/ssl/certs/ca-certificates.crt), or ca_file and/or ca_dir when
     * set, and must match the host name. `insecure` turns verification off
     * for every request (a request can turn it off for itself); it is never
     * on unless asked for. A client certificate (PEM, with its key in
     * client_key_file or in the same file) is offered when a server asks.
     * Paths are copied; files are read when the client is made and a bad one
     * fails gust_client_new with EINVAL (error_buf says which and why). The
     * TLS handshake is part of the connect timeout. */
    bool insecure;
    const char *ca_file;
    const char *ca_dir;
    const char *client_cert_file;
    const char *client_key_file;
    /* Where gust_client_new says why it failed, as curl's
     * CURLOPT_ERRORBUFFER does: when error_buf is not NULL, a failed
     * gust_client_new writes a NUL-terminated message there, cut to
     * error_buf_len bytes, naming the option and, for a file, its path and
     * what is wrong with it ("cannot load the client key from key.pem:
     * ..."; 256 bytes hold it unless a path is long). Left alone on success,
     * and not kept: only gust_client_new writes it. Default NULL. */
    char *error_buf;
    size_t error_buf_len;
} gust_client_opts_t;

/* gust_client_opts_default returns the defaults listed above. */
GUST_EXTERN gust_client_opts_t gust_client_opts_default(void);

/* gust_client_new makes a client on `runtime` (borrowed; it must outlive the
 * client), or on a runtime of its own with default options when `runtime` is
 * NULL. `opts` NULL means the defaults. Returns NULL on failure with errno
 * set (see gust/err.h): EINVAL for a bad option or TLS file, ENOMEM, or
 * gust_runtime_new's; opts->error_buf, if set, then says why. Any thread. */
GUST_EXTERN gust_client_t *gust_client_new(gust_runtime_t *runtime, const gust_client_opts_t *opts);

/* gust_client_free waits for the requests still in flight (each is bounded by
 * its total timeout; cancel them to end sooner), closes every connection and
 * frees the client, and its own runtime if it made one. NULL does nothing.
 * Not from a worker of the client's runtime. */
GUST_EXTERN void gust_client_free(gust_client_t *client);

/* gust_client_runtime returns the client's runtime (borrowed). */
GUST_EXTERN gust_runtime_t *gust_client_runtime(const gust_client_t *client);

/* A streamed body: called on a worker with each chunk of the decoded body in
 * order; return 0 to go on, anything else to stop the request with
 * GUST_ERR_CANCELLED. Only the final response's body streams: the body of a
 * redirect the client follows is read and dropped unseen (or, when it is
 * longer than 64 KiB or ends only with the connection, left unread and the
 * connection closed). */
typedef int (*gust_body_cb)(void *arg, const void *chunk, size_t len);

/* A streamed response's head: called on a worker once per request, when the
 * final response's status line and headers are in and before its first
 * body byte (for a response without a body too), never for a redirect the
 * client follows. `head` is borrowed for the call: its status, reason,
 * version and headers are readable, and so are gust_response_url,
 * gust_response_num_redirects and gust_response_reused; its body and
 * timings are not there yet. Return 0 to go on, anything else to stop the
 * request with GUST_ERR_CANCELLED. */
typedef int (*gust_head_cb)(void *arg, const gust_response_t *head);

/* A request body produced on demand: write up to `cap` bytes to `buf` and
 * return how many (0 at the end), or -1 to fail the request with GUST_ERR_IO.
 * Called on a worker; it must not block for long. A request with a read
 * callback is never retried or redirected with its body (307/308 then fail
 * with GUST_ERR_REDIRECT_REFUSED). */
typedef ssize_t (*gust_body_read_cb)(void *arg, void *buf, size_t cap);

/* One request. Zero-initialise it and set what you need: fields left 0 or
 * NULL take the client's values. Everything is copied by gust_http_send,
 * except the read callback's state and the callbacks' args. */
typedef struct gust_request_s {
    const char *method; /* any token; NULL = "GET" */
    const char *url;
    const gust_header_t *headers;
    size_t num_headers;
    /* A body from memory (copied), or from body_read (then body_len is its
     * length, or -1 to send it chunked). */
    const void *body;
    ssize_t body_len;
    gust_body_read_cb body_read;
    void *body_read_arg;
    /* Per-request overrides; 0 = the client's. Timeouts may be
     * GUST_TIMEOUT_NONE. max_redirects: -1 = do not follow. */
    uint64_t connect_timeout_ns;
    uint64_t header_timeout_ns;
    uint64_t total_timeout_ns;
    size_t max_body_bytes;
    int max_redirects;
    /* Retry a POST or PATCH whose reused connection failed before any
     * response byte (idempotent methods always are, once). */
    bool retry_non_idempotent;
    /* Leave Content-Encoding alone for this request. */
    bool no_decompress;
    /* Do not verify the server's certificate (https only). Such a request
     * never shares a connection with one that verifies. */
    bool insecure;
    /* Called once the future completes, like requests-futures' background
     * callback: on the worker that ran the request, right after (or, for a
     * request refused by gust_http_send, as a task on the pool). The future
     * stays alive for the call; the client is not freed before it returns.
     * It may send requests; it should not block for long. */
    gust_future_cb on_done;
    void *on_done_arg;
    /* Stream the body instead of buffering it. */
    gust_body_cb on_body;
    void *on_body_arg;
    /* Hear of the final response's head before its body (see gust_head_cb);
     * with on_body, tells where the body streamed starts. */
    gust_head_cb on_head;
    void *on_head_arg;
} gust_request_t;

/* gust_http_send starts `req` and returns its future at once (one reference
 * for the caller): it completes with a gust_response_t (read it with
 * gust_http_response) for any status code, or with an error whose message
 * names the URL and the cause. Bad requests (malformed URL, CR or LF in a
 * header) fail the future at once with GUST_ERR_URL, GUST_ERR_URL_TOO_LONG,
 * GUST_ERR_SCHEME or GUST_ERR_BAD_REQUEST and send nothing. Cancelling the
 * future stops the request within about 100 ms and closes its connection.
 * Returns NULL only when out of memory, with errno ENOMEM (and then never
 * calls on_done). Any thread. */
GUST_EXTERN gust_future_t *gust_http_send(gust_client_t *client, const gust_request_t *req);

/* Blocking conveniences for simple programs: send, wait, and hand over the
 * response (*out_resp, which the caller frees with gust_response_free).
 * Return 0, or the error code (< 0); then *out_resp is NULL and, if
 * out_message is not NULL, *out_message is a message the caller frees with
 * free(). Any thread; on a worker, the wait runs other tasks meanwhile. */
GUST_EXTERN int gust_http_request(gust_client_t *client, const gust_request_t *req,
                                  gust_response_t **out_resp, char **out_message);
GUST_EXTERN int gust_http_get(gust_client_t *client, const char *url, gust_response_t **out_resp,
                              char **out_message);
GUST_EXTERN int gust_http_post(gust_client_t *client, const char *url, const void *body,
                               size_t body_len, const char *content_type,
                               gust_response_t **out_resp, char **out_message);

/* Counters of a client since it was made, for tests and monitoring. */
typedef struct gust_client_stats_s {
    uint64_t requests; /* started by gust_http_send */
    uint64_t connections_opened;
    uint64_t connections_reused; /* requests sent on an already-used connection */
    uint64_t retries;            /* stale keep-alive retries */
    uint64_t pipelined;          /* requests sent behind others on a connection */
    uint64_t dns_lookups;        /* getaddrinfo calls (cache misses) */
    uint64_t open_connections;   /* now */
} gust_client_stats_t;

GUST_EXTERN void gust_client_stats(const gust_client_t *client, gust_client_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif
