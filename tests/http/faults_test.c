/* The client against every behaviour of the test server, as a table: each
 * case names a route (or a URL), the request and client options, and the
 * exact outcome: a status with its body, or the error code with words its
 * message must contain (every message must also name the URL).
 *
 * Most cases then send a second request on the same client, to check what
 * the first one left behind: the connection kept alive and reused (its
 * framing was read exactly), or closed and replaced. The runtime has one
 * worker, so a kept-alive connection is always the next request's to take.
 * Each case runs in a process of its own, so that one failing case does not
 * hide the others. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/http/client_util.h"
#include "tests/support/http_server.h"
#include "tests/support/runtime.h"

typedef enum body_e {
    BODY_ANY,     /* not checked */
    BODY_PATTERN, /* body_len bytes of the pattern */
    BODY_TEXT,    /* exactly `body` */
    BODY_ZEROS,   /* body_len zero bytes */
    BODY_GZIP,    /* body_len bytes (-1: any) starting with the gzip magic */
} body_t;

/* What a second request on the same client must find afterwards. */
typedef enum then_e {
    THEN_NONE,
    THEN_REUSE,        /* the connection is kept alive and reused */
    THEN_NEW_CONN,     /* it was closed; the next request opens another */
    THEN_NOTHING_SENT, /* the request failed before any connection */
} then_t;

typedef struct fault_case_s {
    const char *name;
    /* The request. */
    const char *method; /* NULL: GET */
    const char *path;   /* on the test server */
    const char *url;    /* instead of path: a URL, printf'd with the port `port` names */
    enum { PORT_REFUSED, PORT_UNANSWERED } port;
    const char *header_name;
    const char *header_value;
    const char *body; /* sent from memory */
    unsigned connect_timeout_ms;
    unsigned header_timeout_ms;
    unsigned total_timeout_ms;
    size_t max_body_bytes;
    int max_redirects;
    bool no_decompress;
    /* Client options; 0: the default. */
    size_t max_header_bytes;
    unsigned max_headers;
    size_t max_decoded_bytes;
    /* The outcome: an error ... */
    int err;
    const char *message; /* in the message, printf'd with the same port as url */
    unsigned min_ms;     /* the error came no sooner */
    /* ... or a response. */
    int status;
    body_t body_kind;
    long body_len;
    const char *body_text;
    const char *resp_header; /* a header it must have, with this value */
    const char *resp_value;
    const char *final_path; /* gust_response_url's path; NULL: the request's */
    /* Afterwards. */
    unsigned sleep_ms; /* before the second request */
    then_t then;
} fault_case_t;

#define KIB 1024
#define MIB (1024 * 1024)

/* One case per paragraph reads better than one field per line. */
/* clang-format off */
static const fault_case_t cases[] = {
    /* ---- well-formed framings ---- */
    {.name = "content-length body", .path = "/bytes?n=100000", .status = 200,
     .body_kind = BODY_PATTERN, .body_len = 100000, .then = THEN_REUSE},
    {.name = "empty content-length body", .path = "/bytes?n=0", .status = 200,
     .body_kind = BODY_TEXT, .body_text = "", .resp_header = "Content-Length", .resp_value = "0",
     .then = THEN_REUSE},
    {.name = "chunked with a trailer", .path = "/chunked?n=10000&chunk=333", .status = 200,
     .body_kind = BODY_PATTERN, .body_len = 10000, .resp_header = "transfer-encoding",
     .resp_value = "chunked", .then = THEN_REUSE},
    {.name = "chunked, empty", .path = "/chunked?n=0", .status = 200, .body_kind = BODY_TEXT,
     .body_text = "", .then = THEN_REUSE},
    {.name = "close-delimited body", .path = "/close-delimited?n=70000", .status = 200,
     .body_kind = BODY_PATTERN, .body_len = 70000, .then = THEN_NEW_CONN},
    {.name = "Connection: close", .path = "/conn-close", .status = 200, .body_kind = BODY_TEXT,
     .body_text = "ok", .resp_header = "Connection", .resp_value = "close", .then = THEN_NEW_CONN},
    {.name = "keep-alive the server closes while idle", .path = "/keepalive-then-close?ms=50",
     .status = 200, .body_kind = BODY_TEXT, .body_text = "ok", .sleep_ms = 300,
     .then = THEN_NEW_CONN},
    {.name = "HEAD with Content-Length", .method = "HEAD", .path = "/bytes?n=1000", .status = 200,
     .body_kind = BODY_TEXT, .body_text = "", .resp_header = "Content-Length", .resp_value = "1000",
     .then = THEN_REUSE},
    {.name = "HEAD of a chunked resource", .method = "HEAD", .path = "/chunked?n=1000",
     .status = 200, .body_kind = BODY_TEXT, .body_text = "", .then = THEN_REUSE},
    {.name = "204 has no body", .path = "/status?code=204", .status = 204, .body_kind = BODY_TEXT,
     .body_text = "", .then = THEN_REUSE},
    {.name = "304 has no body", .path = "/status?code=304", .status = 304, .body_kind = BODY_TEXT,
     .body_text = "", .then = THEN_REUSE},
    {.name = "404 is a response", .path = "/status?code=404", .status = 404, .body_kind = BODY_TEXT,
     .body_text = "404 Not Found", .then = THEN_REUSE},
    {.name = "500 is a response", .path = "/status?code=500", .status = 500, .body_kind = BODY_TEXT,
     .body_text = "500 Internal Server Error", .then = THEN_REUSE},
    {.name = "unknown route is a 404", .path = "/no/such/route", .status = 404,
     .body_kind = BODY_TEXT, .body_text = "not found", .then = THEN_REUSE},
    {.name = "POST echoed", .method = "POST", .path = "/echo-body", .body = "hello, body",
     .status = 200, .body_kind = BODY_TEXT, .body_text = "hello, body", .then = THEN_REUSE},

    /* ---- interim responses ---- */
    {.name = "100 Continue, then 200", .path = "/100-continue", .status = 200,
     .body_kind = BODY_TEXT, .body_text = "ok", .resp_header = "Content-Type",
     .resp_value = "text/plain", .then = THEN_REUSE},
    {.name = "3 x 103, then 200", .path = "/many-1xx?count=3", .status = 200,
     .body_kind = BODY_TEXT, .body_text = "ok", .then = THEN_REUSE},
    {.name = "16 x 103 (the most allowed), then 200", .path = "/many-1xx?count=16", .status = 200,
     .body_kind = BODY_TEXT, .body_text = "ok", .then = THEN_REUSE},
    {.name = "17 x 103 is too many", .path = "/many-1xx?count=17", .err = GUST_ERR_PARSE,
     .message = "/many-1xx?count=17", .then = THEN_NEW_CONN},

    /* ---- timeouts ---- */
    {.name = "delay within the header timeout", .path = "/delay?ms=20", .header_timeout_ms = 2000,
     .status = 200, .body_kind = BODY_TEXT, .body_text = "ok", .then = THEN_REUSE},
    {.name = "delay past the header timeout", .path = "/delay?ms=2000", .header_timeout_ms = 100,
     .err = GUST_ERR_HEADER_TIMEOUT, .message = "no response headers", .min_ms = 100,
     .then = THEN_NEW_CONN},
    {.name = "slow body: the header timeout ends at the headers", .path = "/slow-body?n=5&ms=60",
     .header_timeout_ms = 150, .status = 200, .body_kind = BODY_PATTERN, .body_len = 5,
     .then = THEN_REUSE},
    {.name = "slow body past the total timeout", .path = "/slow-body?n=20&ms=100",
     .total_timeout_ms = 300, .err = GUST_ERR_TOTAL_TIMEOUT, .message = "300 ms", .min_ms = 300,
     .then = THEN_NEW_CONN},
    {.name = "no response vs the total timeout", .path = "/no-response", .total_timeout_ms = 200,
     .err = GUST_ERR_TOTAL_TIMEOUT, .message = "200 ms", .min_ms = 200, .then = THEN_NEW_CONN},
    {.name = "no response vs the header timeout", .path = "/no-response", .header_timeout_ms = 200,
     .err = GUST_ERR_HEADER_TIMEOUT, .message = "no response headers", .min_ms = 200,
     .then = THEN_NEW_CONN},
    {.name = "head trickled 1 byte / 50 ms vs the total timeout",
     .path = "/one-byte-per-second?ms=50", .total_timeout_ms = 300, .err = GUST_ERR_TOTAL_TIMEOUT,
     .min_ms = 300, .then = THEN_NEW_CONN},
    {.name = "head trickled 1 byte / 50 ms vs the header timeout (a deadline, not idle time)",
     .path = "/one-byte-per-second?ms=50", .header_timeout_ms = 300, .err = GUST_ERR_HEADER_TIMEOUT,
     .min_ms = 300, .then = THEN_NEW_CONN},
    {.name = "head trickled 1 byte / ms within the header timeout",
     .path = "/one-byte-per-second?ms=1", .header_timeout_ms = 5000, .status = 200,
     .body_kind = BODY_TEXT, .body_text = "ok", .then = THEN_REUSE},

    /* ---- cut-off and malformed responses ---- */
    {.name = "close in the middle of the headers", .path = "/close-mid-headers",
     .err = GUST_ERR_CONN_CLOSED, .message = "closed", .then = THEN_NEW_CONN},
    {.name = "close in the middle of the body", .path = "/close-mid-body?n=100000",
     .err = GUST_ERR_CONN_CLOSED, .message = "closed", .then = THEN_NEW_CONN},
    {.name = "bad chunk size", .path = "/bad-chunk", .err = GUST_ERR_PARSE, .message = "chunk size",
     .then = THEN_NEW_CONN},
    {.name = "Content-Length and Transfer-Encoding", .path = "/cl-and-te", .err = GUST_ERR_PARSE,
     .message = "content-length", .then = THEN_NEW_CONN},
    {.name = "two Content-Lengths", .path = "/two-cl", .err = GUST_ERR_PARSE,
     .message = "content-length", .then = THEN_NEW_CONN},

    /* ---- limits ---- */
    {.name = "headers within max_header_bytes", .path = "/big-headers?n=8192",
     .max_header_bytes = 16 * KIB, .status = 200, .body_kind = BODY_TEXT, .body_text = "ok",
     .then = THEN_REUSE},
    {.name = "60 KB of headers within the default max_header_bytes", .path = "/big-headers?n=60000",
     .status = 200, .body_kind = BODY_TEXT, .body_text = "ok", .then = THEN_REUSE},
    {.name = "100 KB of headers over the highest max_header_bytes (80 KiB)",
     .path = "/big-headers?n=100000", .max_header_bytes = GUST_MAX_HEADER_BYTES,
     .max_headers = 1000, .err = GUST_ERR_HEADER_TOO_LARGE, .then = THEN_NEW_CONN},
    {.name = "headers over max_header_bytes", .path = "/big-headers?n=32768",
     .max_header_bytes = 16 * KIB, .err = GUST_ERR_HEADER_TOO_LARGE, .then = THEN_NEW_CONN},
    {.name = "headers over the default max_header_bytes", .path = "/big-headers?n=200000",
     .err = GUST_ERR_HEADER_TOO_LARGE, .then = THEN_NEW_CONN},
    {.name = "max_headers exactly", .path = "/many-headers?count=8", .max_headers = 10,
     .status = 200, .body_kind = BODY_TEXT, .body_text = "ok", .resp_header = "x-header-7",
     .resp_value = "7", .then = THEN_REUSE},
    {.name = "one header over max_headers", .path = "/many-headers?count=9", .max_headers = 10,
     .err = GUST_ERR_TOO_MANY_HEADERS, .then = THEN_NEW_CONN},
    {.name = "more headers than the default max_headers", .path = "/many-headers?count=200",
     .err = GUST_ERR_TOO_MANY_HEADERS, .then = THEN_NEW_CONN},
    {.name = "body of exactly max_body_bytes", .path = "/bytes?n=1024", .max_body_bytes = 1024,
     .status = 200, .body_kind = BODY_PATTERN, .body_len = 1024, .then = THEN_REUSE},
    {.name = "body one byte over max_body_bytes", .path = "/bytes?n=1025", .max_body_bytes = 1024,
     .err = GUST_ERR_BODY_TOO_LARGE, .then = THEN_NEW_CONN},
    {.name = "chunked body over max_body_bytes", .path = "/chunked?n=5000", .max_body_bytes = 4096,
     .err = GUST_ERR_BODY_TOO_LARGE, .then = THEN_NEW_CONN},
    {.name = "close-delimited body over max_body_bytes", .path = "/close-delimited?n=5000",
     .max_body_bytes = 4096, .err = GUST_ERR_BODY_TOO_LARGE, .then = THEN_NEW_CONN},

    /* ---- content codings ---- */
    {.name = "gzip decoded", .path = "/gzip?n=100000", .status = 200, .body_kind = BODY_PATTERN,
     .body_len = 100000, .then = THEN_REUSE},
    {.name = "deflate (zlib format) decoded", .path = "/deflate?n=100000", .status = 200,
     .body_kind = BODY_PATTERN, .body_len = 100000, .then = THEN_REUSE},
    {.name = "max_body_bytes counts the bytes received, not decoded", .path = "/gzip?n=100000",
     .max_body_bytes = 4096, .status = 200, .body_kind = BODY_PATTERN, .body_len = 100000,
     .then = THEN_REUSE},
    {.name = "gzip of nothing", .path = "/gzip?n=0", .status = 200, .body_kind = BODY_TEXT,
     .body_text = "", .then = THEN_REUSE},
    {.name = "HEAD of a gzip resource", .method = "HEAD", .path = "/gzip?n=1000", .status = 200,
     .body_kind = BODY_TEXT, .body_text = "", .then = THEN_REUSE},
    {.name = "gzip left alone with no_decompress", .path = "/gzip?n=100000", .no_decompress = true,
     .status = 200, .body_kind = BODY_GZIP, .body_len = -1, .resp_header = "Content-Encoding",
     .resp_value = "gzip", .then = THEN_REUSE},
    {.name = "gzip decoded to exactly max_decoded_bytes", .path = "/gzip?n=1000",
     .max_decoded_bytes = 1000, .status = 200, .body_kind = BODY_PATTERN, .body_len = 1000,
     .then = THEN_REUSE},
    {.name = "gzip decoded one byte over max_decoded_bytes", .path = "/gzip?n=1001",
     .max_decoded_bytes = 1000, .err = GUST_ERR_DECODED_TOO_LARGE, .then = THEN_NEW_CONN},
    {.name = "1 MiB gzip bomb under a 1 MiB cap", .path = "/gzip-bomb?mb=1",
     .max_decoded_bytes = MIB, .status = 200, .body_kind = BODY_ZEROS, .body_len = MIB,
     .then = THEN_REUSE},
    {.name = "64 MiB gzip bomb vs a 1 MiB cap", .path = "/gzip-bomb?mb=64",
     .max_decoded_bytes = MIB, .err = GUST_ERR_DECODED_TOO_LARGE, .then = THEN_NEW_CONN},

    /* ---- redirects (the details are in redirect_test) ---- */
    {.name = "redirect followed", .path = "/redirect?code=302&to=/bytes%3Fn%3D10", .status = 200,
     .body_kind = BODY_PATTERN, .body_len = 10, .final_path = "/bytes?n=10", .then = THEN_REUSE},
    {.name = "redirect returned with max_redirects -1", .path = "/redirect?code=302&to=/x",
     .max_redirects = -1, .status = 302, .body_kind = BODY_TEXT, .body_text = "redirecting",
     .resp_header = "Location", .resp_value = "/x", .then = THEN_REUSE},
    {.name = "redirect chain", .path = "/redirect-chain?n=3", .status = 200, .body_kind = BODY_TEXT,
     .body_text = "done", .final_path = "/redirect-chain?n=0", .then = THEN_REUSE},

    /* ---- failures before any response ---- */
    {.name = "connection refused", .url = "http://127.0.0.1:%u/refused",
     .err = GUST_ERR_CONNECT_REFUSED, .message = "127.0.0.1:%u"},
    {.name = "connect timeout (a listener whose backlog is full)",
     .url = "http://127.0.0.1:%u/unanswered", .port = PORT_UNANSWERED, .connect_timeout_ms = 200,
     .err = GUST_ERR_CONNECT_TIMEOUT, .message = "127.0.0.1:%u", .min_ms = 200},
    {.name = "total timeout before the connect timeout", .url = "http://127.0.0.1:%u/unanswered",
     .port = PORT_UNANSWERED, .connect_timeout_ms = 5000, .total_timeout_ms = 200,
     .err = GUST_ERR_TOTAL_TIMEOUT, .min_ms = 200},
    {.name = "DNS failure", .url = "http://nonexistent.invalid/x", .err = GUST_ERR_DNS,
     .message = "nonexistent.invalid"},
    {.name = "malformed URL", .url = "http//127.0.0.1/", .err = GUST_ERR_URL,
     .then = THEN_NOTHING_SENT},
    {.name = "URL without a host", .url = "http:///x", .err = GUST_ERR_URL,
     .then = THEN_NOTHING_SENT},
    {.name = "CR LF in the URL", .path = "/echo\r\nX-Injected: 1", .err = GUST_ERR_URL,
     .then = THEN_NOTHING_SENT},
    {.name = "ftp:// scheme", .url = "ftp://127.0.0.1/file", .err = GUST_ERR_SCHEME,
     .then = THEN_NOTHING_SENT},
    {.name = "CR LF in a header value", .path = "/echo", .header_name = "X-Ok",
     .header_value = "a\r\nX-Injected: 1", .err = GUST_ERR_BAD_REQUEST, .then = THEN_NOTHING_SENT},
    {.name = "LF alone in a header value", .path = "/echo", .header_name = "X-Ok",
     .header_value = "a\nb", .err = GUST_ERR_BAD_REQUEST, .then = THEN_NOTHING_SENT},
    {.name = "colon in a header name", .path = "/echo", .header_name = "X-Bad:",
     .header_value = "v", .err = GUST_ERR_BAD_REQUEST, .then = THEN_NOTHING_SENT},
    {.name = "CR LF in the method", .method = "GET /x HTTP/1.1\r\nX-Injected: 1\r\n",
     .path = "/echo", .err = GUST_ERR_BAD_REQUEST, .then = THEN_NOTHING_SENT},
    {.name = "space in the method", .method = "GE T", .path = "/echo", .err = GUST_ERR_BAD_REQUEST,
     .then = THEN_NOTHING_SENT},
    {.name = "caller's Content-Length", .method = "POST", .path = "/echo",
     .header_name = "Content-Length", .header_value = "5", .body = "hello",
     .err = GUST_ERR_BAD_REQUEST, .then = THEN_NOTHING_SENT},
};
/* clang-format on */

/* A port on 127.0.0.1 where a connect is never answered: a listener with
 * no room in its accept queue, which it never empties, drops every SYN. */
static int unanswered_listener(uint16_t *out_port, int *out_fillers, size_t num_fillers)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ASSERT_EQ(listen(fd, 0), 0);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    *out_port = ntohs(addr.sin_port);
    /* Fill the queue: connects that complete or hang, either way held. */
    for (size_t i = 0; i < num_fillers; i++) {
        out_fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ASSERT_GE(out_fillers[i], 0);
        int rc = connect(out_fillers[i], (struct sockaddr *)&addr, sizeof(addr));
        ASSERT_TRUE(rc == 0 || errno == EINPROGRESS);
    }
    return fd;
}

/* A port on 127.0.0.1 where a connect is refused: bound, never listening,
 * so nobody else can take it while the test runs. */
static int refusing_socket(uint16_t *out_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    *out_port = ntohs(addr.sin_port);
    return fd;
}

static void check_body(const fault_case_t *c, const outcome_t *out)
{
    size_t len;
    const unsigned char *body = (const unsigned char *)body_of(out, &len);
    ASSERT_EQ(body[len], '\0');
    switch (c->body_kind) {
    case BODY_ANY:
        break;
    case BODY_PATTERN:
        assert_pattern_body(out, (size_t)c->body_len);
        break;
    case BODY_TEXT:
        assert_body(out, c->body_text);
        break;
    case BODY_ZEROS:
        ASSERT_UEQ(len, (size_t)c->body_len);
        for (size_t i = 0; i < len; i++) {
            if (body[i] != 0)
                CHECK_FAIL_("byte %zu of the zeros is 0x%02x", i, body[i]);
        }
        break;
    case BODY_GZIP:
        if (c->body_len >= 0)
            ASSERT_UEQ(len, (size_t)c->body_len);
        ASSERT_UGE(len, 18);
        ASSERT_EQ(body[0], 0x1f);
        ASSERT_EQ(body[1], 0x8b);
        break;
    }
}

/* The second request: what the first left behind. */
static void check_then(const fault_case_t *c, gust_client_t *client, test_server_t *server,
                       unsigned long accepted_before, unsigned long served_before)
{
    gust_client_stats_t stats = client_stats(client);
    if (c->then == THEN_NOTHING_SENT) {
        ASSERT_UEQ(stats.connections_opened, 0);
        ASSERT_UEQ(test_server_connections_accepted(server), accepted_before);
        ASSERT_UEQ(test_server_requests_served(server), served_before);
        return;
    }
    if (c->then == THEN_NONE)
        return;
    ASSERT_UEQ(stats.connections_opened, 1);
    if (c->sleep_ms > 0)
        sleep_ms(c->sleep_ms);
    char url[256];
    test_server_url(server, url, sizeof(url), "/bytes?n=%d", 100);
    outcome_t next = get_wait(client, url);
    ASSERT_RESPONSE(next, 200);
    assert_pattern_body(&next, 100);
    stats = client_stats(client);
    if (c->then == THEN_REUSE) {
        ASSERT_TRUE(gust_response_reused(next.resp));
        ASSERT_UEQ(stats.connections_opened, 1);
        ASSERT_UEQ(test_server_connections_accepted(server) - accepted_before, 1);
    } else {
        ASSERT_FALSE(gust_response_reused(next.resp));
        ASSERT_UEQ(stats.connections_opened, 2);
        ASSERT_UEQ(test_server_connections_accepted(server) - accepted_before, 2);
    }
    outcome_clear(&next);
}

static void run_case(const fault_case_t *c, gust_runtime_t *runtime, test_server_t *server,
                     const uint16_t *ports)
{
    gust_client_opts_t opts = gust_client_opts_default();
    if (c->max_header_bytes != 0)
        opts.max_header_bytes = c->max_header_bytes;
    if (c->max_headers != 0)
        opts.max_headers = c->max_headers;
    if (c->max_decoded_bytes != 0)
        opts.max_decoded_bytes = c->max_decoded_bytes;
    gust_client_t *client = new_client(runtime, &opts);

    char url[512];
    if (c->url != NULL)
        snprintf(url, sizeof(url), c->url, ports[c->port]);
    else
        test_server_url(server, url, sizeof(url), "%s", c->path);
    gust_header_t header = {c->header_name, c->header_value};
    gust_request_t req = {
        .method = c->method,
        .url = url,
        .headers = &header,
        .num_headers = c->header_name != NULL ? 1 : 0,
        .body = c->body,
        .body_len = c->body != NULL ? (ssize_t)strlen(c->body) : 0,
        .connect_timeout_ns = c->connect_timeout_ms * MS,
        .header_timeout_ns = c->header_timeout_ms * MS,
        .total_timeout_ns = c->total_timeout_ms * MS,
        .max_body_bytes = c->max_body_bytes,
        .max_redirects = c->max_redirects,
        .no_decompress = c->no_decompress,
    };
    unsigned long accepted_before = test_server_connections_accepted(server);
    unsigned long served_before = test_server_requests_served(server);
    outcome_t out = send_wait(client, &req);

    if (c->err != 0) {
        ASSERT_ERROR(out, c->err);
        ASSERT_EQ(out.state, GUST_FUTURE_ERROR);
        /* The message names the URL and the cause, with the URL's control
         * characters shown as '?' so that no message can forge log lines. */
        char shown[sizeof(url)];
        for (size_t i = 0; i < sizeof(url); i++)
            shown[i] = (url[i] > 0 && url[i] < ' ') || url[i] == 0x7f ? '?' : url[i];
        ASSERT_CONTAINS(out.message, shown);
        ASSERT_PTR_EQ(strpbrk(out.message, "\r\n"), NULL);
        if (c->message != NULL) {
            char want[256];
            snprintf(want, sizeof(want), c->message, ports[c->port]);
            ASSERT_CONTAINS(out.message, want);
        }
        ASSERT_UGE(out.elapsed_ns, c->min_ms * MS);
        fprintf(stderr, "    -> %s: %s\n", gust_err_name(out.err), out.message);
    } else {
        ASSERT_RESPONSE(out, c->status);
        check_body(c, &out);
        if (c->resp_header != NULL)
            ASSERT_STR_EQ(gust_response_header(out.resp, c->resp_header), c->resp_value);
        char final_url[512];
        if (c->final_path != NULL)
            test_server_url(server, final_url, sizeof(final_url), "%s", c->final_path);
        ASSERT_STR_EQ(gust_response_url(out.resp), c->final_path != NULL ? final_url : url);
    }
    outcome_clear(&out);
    check_then(c, client, server, accepted_before, served_before);
    gust_client_free(client);
}

/* Seconds one case may take, its server and runtime included. */
enum { CASE_LIMIT_S = 20 };

typedef struct child_arg_s {
    const fault_case_t *c;
    const uint16_t *ports; /* by port kind */
} child_arg_t;

/* In a child process (see run_in_child): the case with its own server and
 * runtime. */
static void run_case_child(const void *arg)
{
    const child_arg_t *a = arg;
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(1, 2);
    run_case(a->c, runtime, server, a->ports);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

/* A head limit past http-parser's own cannot be kept: the client refuses it. */
static void max_header_bytes_is_capped(void)
{
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_header_bytes = GUST_MAX_HEADER_BYTES + 1;
    errno = 0;
    ASSERT_NULL(gust_client_new(NULL, &opts));
    ASSERT_EQ(errno, EINVAL);
}

int main(void)
{
    max_header_bytes_is_capped();
    uint16_t ports[2];
    int refusing_fd = refusing_socket(&ports[PORT_REFUSED]);
    int fillers[4];
    int unanswered_fd = unanswered_listener(&ports[PORT_UNANSWERED], fillers, 4);

    size_t n = sizeof(cases) / sizeof(cases[0]);
    size_t failed = 0;
    bool passed[sizeof(cases) / sizeof(cases[0])];
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "[%zu/%zu] %s\n", i + 1, n, cases[i].name);
        uint64_t start = now_ns();
        child_arg_t arg = {&cases[i], ports};
        passed[i] = run_in_child(run_case_child, &arg, CASE_LIMIT_S);
        if (passed[i])
            fprintf(stderr, "    ok (%llu ms)\n", (unsigned long long)((now_ns() - start) / MS));
        else
            failed++;
    }
    ASSERT_EQ(close(refusing_fd), 0);
    ASSERT_EQ(close(unanswered_fd), 0);
    for (size_t i = 0; i < 4; i++)
        ASSERT_EQ(close(fillers[i]), 0);

    if (failed > 0) {
        fprintf(stderr, "\n%zu of %zu cases FAILED:\n", failed, n);
        for (size_t i = 0; i < n; i++) {
            if (!passed[i])
                fprintf(stderr, "  [%zu] %s\n", i + 1, cases[i].name);
        }
        return 1;
    }
    fprintf(stderr, "%zu cases passed\n", n);
    return 0;
}
