/* A scriptable HTTP/1.1 server for the HTTP client's tests.
 *
 * It listens on loopback and behaves as the request's path and query say:
 * well-formed responses of every framing, and the faults a client must
 * survive (a close mid-body, a bad chunk size, a stale keep-alive connection,
 * headers trickled a byte at a time ...). It shares no code with gust: it
 * tests the client built on gust's runtime, so it runs on its own threads, one
 * per connection, with plain blocking sockets.
 *
 * Requests: the head (request line and headers, at most 1 MiB) is read up to
 * its blank line; a Content-Length or chunked body (at most 64 MiB, and 128
 * MiB with its chunk framing) is read in full before the route runs, so /echo
 * sees every byte. A request with
 * `Expect: 100-continue` and a body gets "100 Continue" before its body is
 * read. HTTP/1.1 connections are kept alive unless the request says
 * `Connection: close`; HTTP/1.0 ones only if it says `Connection: keep-alive`.
 * A malformed request gets 400 (431 for a head too large, 413 for a body too
 * large, 501 for a transfer coding other than chunked) and the connection is
 * closed. Responses are always HTTP/1.1, and a HEAD request never gets a body
 * (its headers are those of the GET).
 *
 * TLS: with a certificate and key in the options, every connection is
 * HTTPS: a TLS 1.2 or 1.3 handshake (ALPN "http/1.1" selected when offered;
 * no ALPN otherwise), then the same requests and routes through it. Sessions
 * resume, by ticket or from the server's session cache, and the handshakes
 * and resumptions are counted. A connection that ends normally sends
 * close_notify before the server's FIN; the faults that close mid-response
 * (/close-mid-headers, /close-mid-body, ...) send it too, so the client sees
 * a clean TLS close with an incomplete HTTP message, except /truncated-tls.
 * With client_ca_file, the server asks for a client certificate, verifies
 * one that is sent (a handshake with one that does not verify fails) and
 * serves clients that send none.
 *
 * Routes: numbers come from the query string (`/bytes?n=1024`); a missing or
 * unparsable one takes its default. "The pattern" is the body whose byte i is
 * 'a' + i % 26. "ok" below is the 2-byte body "ok" with Content-Length 2.
 *
 *   route                   behaviour
 *   ----------------------  ----------------------------------------------------------------
 *   /bytes?n=1024           200, Content-Length n, the pattern.
 *   /chunked?n=1024&        200, chunked: n bytes of the pattern in chunks of `chunk` bytes
 *     chunk=256             (the last one shorter), then the trailer `X-Trailer: done`;
 *                           400 if chunk is 0.
 *   /close-delimited?n=1024 200 with neither Content-Length nor chunked, `Connection: close`:
 *     &close_notify=1       the pattern, then the connection closes; over TLS with
 *                           close_notify=0, without TLS close_notify.
 *   /status?code=200        that status (200..599) with the body "<code> <reason>"; 204 and
 *                           304 have no body and no Content-Length.
 *   /delay?ms=50            waits ms, then "ok".
 *   /slow-body?n=10&ms=100  headers at once (Content-Length n), then each byte of the pattern
 *                           after a further ms.
 *   /unasked?n=4000         Content-Length n and n/2 bytes of the pattern; 5 ms later the rest
 *                           and an answer nobody asked for ("HTTP/1.1 200 OK", Content-Length
 *                           0) in one write (one TLS record); kept alive. n at most 8000.
 *   /close-mid-headers      "HTTP/1.1 200 OK\r\nContent-Le", then closes.
 *   /close-mid-body?n=1024  Content-Length n, n/2 bytes of the pattern, then closes.
 *   /no-close-notify?n=1024 Content-Length n, the pattern, `Connection: close`, then closes the
 *                           TCP connection without TLS close_notify (on plain HTTP, like
 *                           /conn-close with the pattern).
 *   /truncated-tls?n=1024   Content-Length n, n/2 bytes of the pattern, then closes the TCP
 *                           connection without close_notify (plain: like /close-mid-body).
 *   /bad-chunk              chunked, whose first chunk-size line is "zz", then closes.
 *   /big-headers?n=65536    "ok" after at least n bytes of headers `X-Fill-<i>: <1000 x's>`.
 *   /many-headers?count=100 "ok" after count headers `X-Header-<i>: <i>`.
 *   /keepalive-then-close   "ok", kept alive, without `Connection: close`; if no request follows
 *     ?ms=50                within ms the server closes the connection (a stale keep-alive).
 *   /conn-close             "ok" with `Connection: close`, then closes.
 *   /gzip?n=1024            200, `Content-Encoding: gzip`: the pattern gzip-compressed.
 *   /deflate?n=1024         200, `Content-Encoding: deflate`: the pattern in the zlib format.
 *   /coded?codings=L&n=1024 200: the pattern under each coding of the comma-separated list L
 *                           in turn (gzip and deflate applied; identity and other names
 *                           not), announced as Content-Encoding: L, or with lines=1 in one
 *                           header a coding.
 *   /gzip-bomb?mb=1         200, `Content-Encoding: gzip`: mb MiB of zeros, compressed about
 *                           1000:1.
 *   /redirect?code=302&     status `code` (300..399) with `Location: <to, %XX-decoded>` and a
 *     to=<url>              short body; 400 if `to` is missing.
 *   /redirect-chain?n=3     302 to the relative `/redirect-chain?n=<n-1>`; at n=0, 200 "done".
 *   /echo                   200, application/octet-stream: the request exactly as received
 *                           (request line, headers, body with any chunk framing).
 *   /echo-body              200, application/octet-stream: the request's body, de-chunked.
 *   /client-cert            200, the subject CN of the client's TLS certificate; 403 if it sent
 *                           none, or the connection is plain.
 *   /hello-request          over TLS 1.2 (tls_max_version 0x0303): reads the request and
 *                           answers with a HelloRequest, asking the client to renegotiate,
 *                           then closes without close_notify; 403 on other versions and plain.
 *   /tls-info               200, text: lines "version: TLSv1.3", "alpn: http/1.1" (empty if
 *                           none), "sni: <server name the client sent>" (empty if none),
 *                           "resumed: 0|1", "cipher: <standard name>"; 403 on plain HTTP.
 *   /no-response            reads the request and never answers; the connection stays open
 *                           until the client closes it or the server stops.
 *   /one-byte-per-second    the status line and headers of an "ok" response one byte every ms,
 *     ?ms=1000              then the body at once.
 *   /100-continue           "HTTP/1.1 100 Continue", then "ok".
 *   /many-1xx?count=3       count interim `103 Early Hints` responses, then "ok".
 *   /cl-and-te              both Content-Length and `Transfer-Encoding: chunked`, then closes.
 *   /two-cl                 two different Content-Length headers, then closes.
 *   /reset                  reads the request, then resets the connection (SO_LINGER 0): no
 *                           answer, no FIN, no close_notify.
 *   /malformed-header       a 200 head with one header line no parser accepts, by kind: 0 no
 *     ?kind=0               colon, 1 a control character in the name, 2 a NUL in the value;
 *                           then "ok" and closes.
 *   /endless-headers?mb=100 a status line, then `X-Fill-<i>: <1000 x's>` header lines without
 *                           end, until the client stops reading or mb MiB have been sent.
 *   /random?seed=1          the fault test_server_random_fault(seed) picks (below).
 *   anything else           404 "not found".
 *
 * Every wait (delays, trickles, idle connections) ends at once when the server
 * stops, so test_server_stop returns in milliseconds whatever its connections
 * are doing. A client that disconnects at any point only ends its connection.
 */
#ifndef GUST_TESTS_SUPPORT_HTTP_SERVER_H
#define GUST_TESTS_SUPPORT_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct test_server_s test_server_t;

/* Options for test_server_start; start from test_server_opts_default(). The
 * files are read by test_server_start; the strings need not outlive it. */
typedef struct test_server_opts_s {
    /* Listen on [::1] instead of 127.0.0.1. */
    bool ipv6;
    /* HTTPS with this certificate (PEM: the leaf, then any intermediates)
     * and key (PEM). NULL, both: plain HTTP. tests/support/tls_certs.h makes
     * them. */
    const char *cert_file;
    const char *key_file;
    /* With TLS, ask each client for a certificate issued by these CAs (PEM)
     * and verify the one it sends; see /client-cert. NULL: none asked. */
    const char *client_ca_file;
    /* With TLS, the newest version served, as on the wire: 0x0301 (TLS
     * 1.0) to 0x0304 (TLS 1.3); 0 means 0x0304. Below 0x0303 the oldest
     * served is TLS 1.0 rather than 1.2, so the server speaks only what a
     * client that wants 1.2 refuses. */
    unsigned tls_max_version;
    /* Accept TCP connections and never answer: read and drop what arrives
     * until the client closes or the server stops. For TLS handshake
     * timeouts: the origin is https:// with or without a certificate. */
    bool handshake_stall;
} test_server_opts_t;

/* test_server_opts_default: IPv4, plain HTTP. */
test_server_opts_t test_server_opts_default(void);

/* test_server_start listens on an ephemeral loopback port and starts serving.
 * NULL opts means the defaults. Aborts the test, naming the failed call, if it
 * cannot (with BoringSSL's errors, if a certificate or key does not load). The caller owns the
 * server and ends it with test_server_stop. Any thread. */
test_server_t *test_server_start(const test_server_opts_t *opts);

/* test_server_stop closes the listener and every connection (whatever it is
 * waiting for), joins every thread and frees the server. NULL does nothing.
 * Any thread, once. */
void test_server_stop(test_server_t *server);

/* test_server_port returns the port the server listens on. */
uint16_t test_server_port(const test_server_t *server);

/* test_server_origin returns "http://127.0.0.1:PORT" (or "http://[::1]:PORT";
 * "https://..." with TLS or handshake_stall), owned by the server. */
const char *test_server_origin(const test_server_t *server);

/* test_server_url writes the origin followed by the printf-formatted path
 * (which starts with '/') to buf. Aborts the test if it does not fit in len
 * bytes. */
void test_server_url(const test_server_t *server, char *buf, size_t len, const char *path_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* test_server_connections_accepted returns how many connections the server
 * has accepted. A connection is counted when the server accepts it, which may
 * be after the client's connect returns: it is surely counted once the client
 * has read a response on it. Any thread. */
unsigned long test_server_connections_accepted(const test_server_t *server);

/* test_server_requests_served returns how many complete requests the server
 * has read and handed to a route (malformed ones are not counted). A request
 * is counted before any byte of its response is sent, so a client that has
 * read a response sees its request counted. Any thread. */
unsigned long test_server_requests_served(const test_server_t *server);

/* test_server_tls_handshakes returns how many TLS handshakes have completed
 * on the server side, and test_server_tls_resumed how many of them resumed a
 * session (SSL_session_reused). A handshake is counted before its
 * connection reads a request, so it is surely counted once the client has
 * read a response on that connection. 0 on plain HTTP. Any thread. */
unsigned long test_server_tls_handshakes(const test_server_t *server);
unsigned long test_server_tls_resumed(const test_server_t *server);

/* test_server_bytes_sent returns how many bytes the server has sent on all
 * its connections (before any TLS), counted as each send returns. Any thread. */
unsigned long test_server_bytes_sent(const test_server_t *server);

/* ---- Random faults (/random?seed=S) ---------------------------------------------
 *
 * Each seed picks one behaviour, the same every time, so that a client that
 * sent /random?seed=S knows what it must have got. About 80% are good
 * answers; the rest are split among the faults. */

typedef enum test_fault_kind_e {
    TEST_FAULT_NONE,             /* 200, body_len bytes of the pattern */
    TEST_FAULT_DELAY,            /* waits ms, then as NONE */
    TEST_FAULT_SLOW_BODY,        /* 200, body_len bytes of the pattern, each after ms */
    TEST_FAULT_RESET,            /* as /reset */
    TEST_FAULT_CLOSE_MID_BODY,   /* Content-Length body_len, half the body, then a close */
    TEST_FAULT_MALFORMED_HEADER, /* as /malformed-header?kind=variant */
} test_fault_kind_t;

typedef struct test_server_fault_s {
    test_fault_kind_t kind;
    size_t body_len;
    long ms;
    unsigned variant;
} test_server_fault_t;

/* test_server_random_fault returns what /random?seed=<seed> does. Any
 * thread; seed is below 2^63. */
test_server_fault_t test_server_random_fault(uint64_t seed);

#endif
