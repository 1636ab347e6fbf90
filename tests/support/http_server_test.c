/* The test server, driven with plain blocking sockets:
 *
 *   - exact: for most routes, one request with `Connection: close` and the
 *     whole response byte for byte, up to the close (a table);
 *   - keep-alive: requests one after another and pipelined on one socket,
 *     and the counters;
 *   - echo: the raw request back, with a Content-Length and a chunked body,
 *     and /echo-body de-chunking it; `Expect: 100-continue`;
 *   - framing rules: HEAD, HTTP/1.0, a malformed request, a stale keep-alive
 *     connection closed after its idle time;
 *   - compression: /gzip and /deflate inflate to the pattern, /gzip-bomb to
 *     zeros;
 *   - faults: /reset resets, /malformed-header's lines, /endless-headers up
 *     to its limit and test_server_bytes_sent, /random as
 *     test_server_random_fault says;
 *   - a client that leaves mid-body; IPv6; test_server_url;
 *   - the server in a process of its own, and its counts;
 *   - stop: returns within a second while a /no-response and a trickling
 *     connection are open, and leaves no fd behind.
 *
 * Every socket has a receive timeout, so a server that hangs fails the test. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "tests/support/check.h"
#include "tests/support/fds.h"
#include "tests/support/http_server.h"
#include "tests/support/http_server_process.h"
#include "tests/support/wait.h"

/* How long a read may wait for the server before the test fails. */
enum { RECV_TIMEOUT_S = 10 };

/* ---- A blocking client --------------------------------------------------------- */

static int connect_to(const test_server_t *s, bool ipv6)
{
    struct sockaddr_storage addr = {0};
    socklen_t addr_len;
    if (ipv6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(test_server_port(s));
        addr_len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&addr;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(test_server_port(s));
        addr_len = sizeof(*a);
    }
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    struct timeval timeout = {.tv_sec = RECV_TIMEOUT_S};
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&addr, addr_len), 0);
    return fd;
}

static void send_str(int fd, const char *data)
{
    size_t len = strlen(data);
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        ASSERT_GT(n, 0);
        data += n;
        len -= (size_t)n;
    }
}

/* recv that fails the test on an error or a timeout. */
static size_t recv_some(int fd, char *buf, size_t len)
{
    ssize_t n = recv(fd, buf, len, 0);
    if (n < 0)
        CHECK_FAIL_("recv: %s", strerror(errno));
    return (size_t)n;
}

/* Reads until the server closes; returns the bytes, NUL-terminated, which
 * the caller frees. */
static char *recv_all(int fd, size_t *out_len)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ASSERT_NOT_NULL(buf);
    for (;;) {
        if (cap - len < 2048) {
            cap *= 2;
            buf = realloc(buf, cap);
            ASSERT_NOT_NULL(buf);
        }
        size_t n = recv_some(fd, buf + len, cap - len - 1);
        if (n == 0)
            break;
        len += n;
    }
    buf[len] = '\0';
    *out_len = len;
    return buf;
}

static void recv_exact(int fd, char *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        size_t n = recv_some(fd, buf + got, len - got);
        ASSERT_UGT(n, 0);
        got += n;
    }
}

/* Reads a response head a byte at a time, leaving its body in the socket;
 * returns it NUL-terminated in buf. */
static void recv_head(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0) {
        ASSERT_ULT(len + 1, cap);
        recv_exact(fd, buf + len, 1);
        len++;
    }
    buf[len] = '\0';
}

/* The Content-Length in a response head. */
static size_t content_length(const char *head)
{
    const char *cl = strstr(head, "\r\nContent-Length: ");
    ASSERT_NOT_NULL(cl);
    return strtoul(cl + strlen("\r\nContent-Length: "), NULL, 10);
}

/* Sends `request` on a new connection and returns all the server sends
 * before it closes (the caller frees it). */
static char *exchange(const test_server_t *s, const char *request, size_t *out_len)
{
    int fd = connect_to(s, false);
    send_str(fd, request);
    char *response = recv_all(fd, out_len);
    close(fd);
    return response;
}

/* Bytes [0, len) of the pattern the server sends. */
static char *pattern(size_t len)
{
    char *p = malloc(len + 1);
    ASSERT_NOT_NULL(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)('a' + i % 26);
    p[len] = '\0';
    return p;
}

/* ---- Exact responses ------------------------------------------------------------ */

#define OCTET "Content-Type: application/octet-stream\r\n"
#define TEXT "Content-Type: text/plain\r\n"
#define CLOSE "Connection: close\r\n\r\n"
#define OK_CLOSE TEXT "Content-Length: 2\r\n" CLOSE "ok"

static const struct exact_case_s {
    const char *target;
    const char *response; /* everything up to the server's close */
} exact_cases[] = {
    {"/bytes?n=30",
     "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 30\r\n" CLOSE "abcdefghijklmnopqrstuvwxyzabcd"},
    {"/bytes?n=0", "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 0\r\n" CLOSE},
    {"/chunked?n=10&chunk=4",
     "HTTP/1.1 200 OK\r\n" OCTET "Transfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n" CLOSE
     "4\r\nabcd\r\n4\r\nefgh\r\n2\r\nij\r\n0\r\nX-Trailer: done\r\n\r\n"},
    {"/chunked?n=0",
     "HTTP/1.1 200 OK\r\n" OCTET "Transfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n" CLOSE
     "0\r\nX-Trailer: done\r\n\r\n"},
    {"/close-delimited?n=5", "HTTP/1.1 200 OK\r\n" OCTET CLOSE "abcde"},
    {"/status", "HTTP/1.1 200 OK\r\n" TEXT "Content-Length: 6\r\n" CLOSE "200 OK"},
    {"/status?code=204", "HTTP/1.1 204 No Content\r\n" CLOSE},
    {"/status?code=304", "HTTP/1.1 304 Not Modified\r\n" CLOSE},
    {"/status?code=418",
     "HTTP/1.1 418 I'm a teapot\r\n" TEXT "Content-Length: 16\r\n" CLOSE "418 I'm a teapot"},
    {"/status?code=503&x=1", "HTTP/1.1 503 Service Unavailable\r\n" TEXT
                             "Content-Length: 23\r\n" CLOSE "503 Service Unavailable"},
    {"/status?code=99",
     "HTTP/1.1 400 Bad Request\r\n" TEXT "Content-Length: 21\r\n" CLOSE "code must be 200..599"},
    {"/delay?ms=20", "HTTP/1.1 200 OK\r\n" OK_CLOSE},
    {"/slow-body?n=3&ms=5", "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 3\r\n" CLOSE "abc"},
    {"/close-mid-headers", "HTTP/1.1 200 OK\r\nContent-Le"},
    {"/close-mid-body?n=10", "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 10\r\n" CLOSE "abcde"},
    {"/bad-chunk",
     "HTTP/1.1 200 OK\r\n" OCTET "Transfer-Encoding: chunked\r\n" CLOSE "zz\r\nhello\r\n0\r\n\r\n"},
    {"/many-headers?count=2", "HTTP/1.1 200 OK\r\n" TEXT
                              "X-Header-0: 0\r\nX-Header-1: 1\r\nContent-Length: 2\r\n" CLOSE "ok"},
    {"/conn-close", "HTTP/1.1 200 OK\r\n" OK_CLOSE},
    {"/redirect?code=307&to=%2Fbytes%3Fn%3D5%26a=b",
     "HTTP/1.1 307 Temporary Redirect\r\n" TEXT "Location: /bytes?n=5&a=b\r\n"
     "Content-Length: 11\r\n" CLOSE "redirecting"},
    {"/redirect?to=http://example.test/x%2",
     "HTTP/1.1 302 Found\r\n" TEXT "Location: http://example.test/x%2\r\n"
     "Content-Length: 11\r\n" CLOSE "redirecting"},
    {"/redirect?code=301",
     "HTTP/1.1 400 Bad Request\r\n" TEXT "Content-Length: 13\r\n" CLOSE "to is missing"},
    {"/redirect-chain?n=2", "HTTP/1.1 302 Found\r\n" TEXT "Location: /redirect-chain?n=1\r\n"
                            "Content-Length: 11\r\n" CLOSE "redirecting"},
    {"/redirect-chain?n=0", "HTTP/1.1 200 OK\r\n" TEXT "Content-Length: 4\r\n" CLOSE "done"},
    {"/one-byte-per-second?ms=2", "HTTP/1.1 200 OK\r\n" OK_CLOSE},
    {"/100-continue", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n" OK_CLOSE},
    {"/many-1xx?count=2", "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                          "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                          "HTTP/1.1 200 OK\r\n" OK_CLOSE},
    {"/cl-and-te", "HTTP/1.1 200 OK\r\n" OCTET "Transfer-Encoding: chunked\r\n"
                   "Content-Length: 5\r\n" CLOSE "5\r\nhello\r\n0\r\n\r\n"},
    {"/two-cl",
     "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 6\r\nContent-Length: 5\r\n" CLOSE "hello!"},
    {"/nowhere", "HTTP/1.1 404 Not Found\r\n" TEXT "Content-Length: 9\r\n" CLOSE "not found"},
    {"/malformed-header?kind=0",
     "HTTP/1.1 200 OK\r\n" TEXT "X-No-Colon\r\nContent-Length: 2\r\n" CLOSE "ok"},
    {"/malformed-header?kind=1",
     "HTTP/1.1 200 OK\r\n" TEXT "X-Ctl\x01: v\r\nContent-Length: 2\r\n" CLOSE "ok"},
};

static void exact(test_server_t *s)
{
    for (size_t i = 0; i < sizeof(exact_cases) / sizeof(exact_cases[0]); i++) {
        const struct exact_case_s *t = &exact_cases[i];
        char request[512];
        snprintf(request, sizeof(request),
                 "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", t->target);
        size_t len;
        char *response = exchange(s, request, &len);
        if (strcmp(response, t->response) != 0)
            CHECK_FAIL_("GET %s:\n--- got\n%s\n--- want\n%s", t->target, response, t->response);
        ASSERT_UEQ(len, strlen(t->response));
        free(response);
    }
    printf("ok exact (%zu routes)\n", sizeof(exact_cases) / sizeof(exact_cases[0]));
}

/* /big-headers sends at least n bytes of headers of about 1000 bytes each. */
static void big_headers(test_server_t *s)
{
    int fd = connect_to(s, false);
    send_str(fd, "GET /big-headers?n=20000 HTTP/1.1\r\nHost: x\r\n\r\n");
    static char head[64 * 1024];
    recv_head(fd, head, sizeof(head));
    ASSERT_UGE(strlen(head), 20000);
    ASSERT_ULT(strlen(head), 20000 + 2 * 1024);
    ASSERT_NOT_NULL(strstr(head, "\r\nX-Fill-0: xxxxxxxxxx"));
    ASSERT_UEQ(content_length(head), 2);
    char body[2];
    recv_exact(fd, body, 2);
    ASSERT_EQ(memcmp(body, "ok", 2), 0);
    close(fd);
    printf("ok big_headers\n");
}

/* ---- Keep-alive ------------------------------------------------------------------ */

static void keep_alive(test_server_t *s)
{
    unsigned long accepted = test_server_connections_accepted(s);
    unsigned long served = test_server_requests_served(s);
    int fd = connect_to(s, false);
    char head[1024], body[64];

    /* One after another. */
    send_str(fd, "GET /bytes?n=5 HTTP/1.1\r\nHost: x\r\n\r\n");
    recv_head(fd, head, sizeof(head));
    ASSERT_STR_EQ(head, "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 5\r\n\r\n");
    recv_exact(fd, body, 5);
    ASSERT_EQ(memcmp(body, "abcde", 5), 0);
    ASSERT_UEQ(test_server_requests_served(s), served + 1);
    ASSERT_UEQ(test_server_connections_accepted(s), accepted + 1);

    send_str(fd, "GET /status?code=204 HTTP/1.1\r\nHost: x\r\n\r\n");
    recv_head(fd, head, sizeof(head));
    ASSERT_STR_EQ(head, "HTTP/1.1 204 No Content\r\n\r\n");
    ASSERT_UEQ(test_server_requests_served(s), served + 2);

    /* Pipelined in one send: answered in order. */
    send_str(fd, "GET /bytes?n=3 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /redirect-chain?n=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    recv_head(fd, head, sizeof(head));
    ASSERT_UEQ(content_length(head), 3);
    recv_exact(fd, body, 3);
    ASSERT_EQ(memcmp(body, "abc", 3), 0);
    recv_head(fd, head, sizeof(head));
    ASSERT_UEQ(content_length(head), 4);
    recv_exact(fd, body, 4);
    ASSERT_EQ(memcmp(body, "done", 4), 0);

    ASSERT_UEQ(test_server_requests_served(s), served + 4);
    ASSERT_UEQ(test_server_connections_accepted(s), accepted + 1);
    close(fd);
    printf("ok keep_alive\n");
}

/* /keepalive-then-close: no `Connection: close`, and the server closes when
 * no request follows within ms. */
static void stale_keep_alive(test_server_t *s)
{
    int fd = connect_to(s, false);
    send_str(fd, "GET /keepalive-then-close?ms=30 HTTP/1.1\r\nHost: x\r\n\r\n");
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t len;
    char *response = recv_all(fd, &len);
    ASSERT_STR_EQ(response, "HTTP/1.1 200 OK\r\n" TEXT "Content-Length: 2\r\n\r\nok");
    ASSERT_GE(elapsed_ms(&start), 25);
    free(response);
    close(fd);

    /* A request within the idle time is served as usual. */
    fd = connect_to(s, false);
    send_str(fd, "GET /keepalive-then-close?ms=2000 HTTP/1.1\r\nHost: x\r\n\r\n");
    char head[1024], body[2];
    recv_head(fd, head, sizeof(head));
    recv_exact(fd, body, 2);
    send_str(fd, "GET /bytes?n=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    response = recv_all(fd, &len);
    ASSERT_STR_EQ(response, "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 1\r\n" CLOSE "a");
    free(response);
    close(fd);
    printf("ok stale_keep_alive\n");
}

/* ---- Requests --------------------------------------------------------------------- */

static void echo(test_server_t *s)
{
    static const char *requests[] = {
        "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Basic eDp5\r\nContent-Length: 5\r\n"
        "Connection: close\r\n\r\nhello",
        "PUT /echo?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        size_t len;
        char *response = exchange(s, requests[i], &len);
        char want[1024];
        snprintf(want, sizeof(want),
                 "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: %zu\r\n" CLOSE "%s",
                 strlen(requests[i]), requests[i]);
        ASSERT_STR_EQ(response, want);
        free(response);
    }

    size_t len;
    char *response = exchange(s,
                              "POST /echo-body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                              "Connection: close\r\n\r\n3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n",
                              &len);
    ASSERT_STR_EQ(response,
                  "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 13\r\n" CLOSE "abc0123456789");
    free(response);

    /* The server asks for the body before the client sends it. */
    int fd = connect_to(s, false);
    send_str(fd, "POST /echo-body HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n"
                 "Connection: close\r\n\r\n");
    char head[256];
    recv_head(fd, head, sizeof(head));
    ASSERT_STR_EQ(head, "HTTP/1.1 100 Continue\r\n\r\n");
    send_str(fd, "body");
    response = recv_all(fd, &len);
    ASSERT_STR_EQ(response, "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 4\r\n" CLOSE "body");
    free(response);
    close(fd);
    printf("ok echo\n");
}

static void framing_rules(test_server_t *s)
{
    size_t len;
    /* HEAD: the GET's headers, no body. */
    char *response = exchange(s, "HEAD /bytes?n=100 HTTP/1.1\r\nConnection: close\r\n\r\n", &len);
    ASSERT_STR_EQ(response, "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 100\r\n" CLOSE);
    free(response);
    response = exchange(s, "HEAD /chunked HTTP/1.1\r\nConnection: close\r\n\r\n", &len);
    ASSERT_STR_EQ(response, "HTTP/1.1 200 OK\r\n" OCTET
                            "Transfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n" CLOSE);
    free(response);

    /* HTTP/1.0 closes unless it asks for keep-alive. */
    response = exchange(s, "GET /bytes?n=2 HTTP/1.0\r\n\r\n", &len);
    ASSERT_STR_EQ(response, "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 2\r\n" CLOSE "ab");
    free(response);
    int fd = connect_to(s, false);
    send_str(fd, "GET /bytes?n=2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    char head[256], body[2];
    recv_head(fd, head, sizeof(head));
    ASSERT_STR_EQ(head, "HTTP/1.1 200 OK\r\n" OCTET
                        "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n");
    recv_exact(fd, body, 2);
    send_str(fd, "GET /bytes?n=1 HTTP/1.0\r\n\r\n");
    response = recv_all(fd, &len);
    ASSERT_STR_EQ(response, "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 1\r\n" CLOSE "a");
    free(response);
    close(fd);

    /* Malformed requests: rejected, not counted, connection closed. */
    static const struct {
        const char *request;
        const char *response;
    } bad[] = {
        {"garbage\r\n\r\n",
         "HTTP/1.1 400 Bad Request\r\n" TEXT "Content-Length: 11\r\n" CLOSE "Bad Request"},
        {"GET / HTTP/2.0\r\n\r\n",
         "HTTP/1.1 400 Bad Request\r\n" TEXT "Content-Length: 11\r\n" CLOSE "Bad Request"},
        {"GET / HTTP/1.1\r\n folded: header\r\n\r\n",
         "HTTP/1.1 400 Bad Request\r\n" TEXT "Content-Length: 11\r\n" CLOSE "Bad Request"},
        {"POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
         "HTTP/1.1 400 Bad Request\r\n" TEXT "Content-Length: 11\r\n" CLOSE "Bad Request"},
        {"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "HTTP/1.1 400 Bad Request\r\n" TEXT "Content-Length: 11\r\n" CLOSE "Bad Request"},
        {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
         "HTTP/1.1 400 Bad Request\r\n" TEXT "Content-Length: 11\r\n" CLOSE "Bad Request"},
        {"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
         "HTTP/1.1 501 Not Implemented\r\n" TEXT "Content-Length: 15\r\n" CLOSE "Not Implemented"},
        {"POST /echo HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
         "HTTP/1.1 413 Content Too Large\r\n" TEXT "Content-Length: 17\r\n" CLOSE
         "Content Too Large"},
    };
    unsigned long served = test_server_requests_served(s);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        response = exchange(s, bad[i].request, &len);
        ASSERT_STR_EQ(response, bad[i].response);
        free(response);
    }
    ASSERT_UEQ(test_server_requests_served(s), served);
    printf("ok framing_rules\n");
}

/* ---- Compression --------------------------------------------------------------- */

/* Inflates body (gzip or zlib format, told apart by zlib) into a new buffer. */
static unsigned char *inflate_all(const char *body, size_t len, size_t cap, size_t *out_len)
{
    unsigned char *out = malloc(cap);
    ASSERT_NOT_NULL(out);
    z_stream z = {0};
    ASSERT_EQ(inflateInit2(&z, 15 + 32), Z_OK);
    z.next_in = (Bytef *)body;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ASSERT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
    ASSERT_UEQ(z.avail_in, 0);
    *out_len = z.total_out;
    inflateEnd(&z);
    return out;
}

/* The body after the head of a whole response. */
static const char *body_of(const char *response, size_t len, size_t *out_len)
{
    const char *end = strstr(response, "\r\n\r\n");
    ASSERT_NOT_NULL(end);
    *out_len = len - (size_t)(end + 4 - response);
    ASSERT_UEQ(*out_len, content_length(response));
    return end + 4;
}

static void compression(test_server_t *s)
{
    static const struct {
        const char *target;
        const char *encoding;
    } cases[] = {{"/gzip?n=100000", "gzip"}, {"/deflate?n=100000", "deflate"}};
    char *want = pattern(100000);
    for (size_t i = 0; i < 2; i++) {
        char request[256];
        snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nConnection: close\r\n\r\n",
                 cases[i].target);
        size_t len, body_len, plain_len;
        char *response = exchange(s, request, &len);
        char header[64];
        snprintf(header, sizeof(header), "\r\nContent-Encoding: %s\r\n", cases[i].encoding);
        ASSERT_NOT_NULL(strstr(response, header));
        const char *body = body_of(response, len, &body_len);
        ASSERT_ULT(body_len, 100000 / 10);
        /* gzip starts 1f 8b; the zlib format 78. */
        ASSERT_UEQ((unsigned char)body[0], i == 0 ? 0x1f : 0x78);
        unsigned char *plain = inflate_all(body, body_len, 200000, &plain_len);
        ASSERT_UEQ(plain_len, 100000);
        ASSERT_EQ(memcmp(plain, want, plain_len), 0);
        free(plain);
        free(response);
    }
    free(want);

    size_t len, body_len, plain_len;
    char *response = exchange(s, "GET /gzip-bomb?mb=4 HTTP/1.1\r\nConnection: close\r\n\r\n", &len);
    const char *body = body_of(response, len, &body_len);
    ASSERT_ULT(body_len, 16 * 1024);
    unsigned char *plain = inflate_all(body, body_len, (4 << 20) + 1, &plain_len);
    ASSERT_UEQ(plain_len, 4 << 20);
    for (size_t i = 0; i < plain_len; i++)
        ASSERT_UEQ(plain[i], 0);
    free(plain);
    free(response);
    printf("ok compression\n");
}

/* ---- Faults beyond the exact table ------------------------------------------------ */

/* Sends `target` with Connection: close; true if the server reset the
 * connection, false if it closed it after sending *out_len bytes (the
 * caller frees *out_response). */
static bool reset_or_response(const test_server_t *s, const char *target, char **out_response,
                              size_t *out_len)
{
    int fd = connect_to(s, false);
    char request[256];
    snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nConnection: close\r\n\r\n", target);
    send_str(fd, request);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ASSERT_NOT_NULL(buf);
    ssize_t n;
    while ((n = recv(fd, buf + len, cap - len, 0)) > 0) {
        len += (size_t)n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ASSERT_NOT_NULL(buf);
        }
    }
    close(fd);
    if (n < 0) {
        ASSERT_EQ(errno, ECONNRESET);
        ASSERT_UEQ(len, 0);
        free(buf);
        return true;
    }
    *out_response = buf;
    *out_len = len;
    return false;
}

static void faults(test_server_t *s)
{
    char *response;
    size_t len;
    ASSERT_TRUE(reset_or_response(s, "/reset", &response, &len));

    static const char nul_line[] =
        "HTTP/1.1 200 OK\r\n" TEXT "X-Nul: a\0b\r\nContent-Length: 2\r\n" CLOSE "ok";
    ASSERT_FALSE(reset_or_response(s, "/malformed-header?kind=2", &response, &len));
    ASSERT_UEQ(len, sizeof(nul_line) - 1);
    ASSERT_EQ(memcmp(response, nul_line, len), 0);
    free(response);

    /* 1 MiB of header lines, each whole, then a close; every byte counted. */
    unsigned long sent_before = test_server_bytes_sent(s);
    ASSERT_FALSE(reset_or_response(s, "/endless-headers?mb=1", &response, &len));
    ASSERT_UGE(len, 1u << 20);
    ASSERT_ULT(len, (1u << 20) + 1100);
    ASSERT_EQ(memcmp(response, "HTTP/1.1 200 OK\r\nX-Fill-0: xxx", 30), 0);
    ASSERT_EQ(memcmp(response + len - 2, "\r\n", 2), 0);
    ASSERT_NULL(memmem(response, len, "\r\n\r\n", 4));
    ASSERT_UEQ(test_server_bytes_sent(s) - sent_before, len);
    free(response);

    /* Each kind of random fault at least once, as its seed says. */
    bool seen[TEST_FAULT_MALFORMED_HEADER + 1] = {false};
    for (unsigned long seed = 0; seed < 200; seed++) {
        test_server_fault_t f = test_server_random_fault(seed);
        ASSERT_EQ(test_server_random_fault(seed).kind, f.kind);
        seen[f.kind] = true;
        char target[64];
        snprintf(target, sizeof(target), "/random?seed=%lu", seed);
        bool reset = reset_or_response(s, target, &response, &len);
        ASSERT_EQ(reset, f.kind == TEST_FAULT_RESET);
        if (reset)
            continue;
        if (f.kind == TEST_FAULT_MALFORMED_HEADER) {
            ASSERT_NOT_NULL(strstr(response, "HTTP/1.1 200 OK\r\n"));
        } else {
            size_t want_body = f.kind == TEST_FAULT_CLOSE_MID_BODY ? f.body_len / 2 : f.body_len;
            char *end = strstr(response, "\r\n\r\n");
            ASSERT_NOT_NULL(end);
            ASSERT_UEQ(content_length(response), f.body_len);
            ASSERT_UEQ(len - (size_t)(end + 4 - response), want_body);
        }
        free(response);
    }
    for (int kind = 0; kind <= TEST_FAULT_MALFORMED_HEADER; kind++)
        ASSERT_TRUE(seen[kind]);
    printf("ok faults\n");
}

/* ---- Clients and addresses --------------------------------------------------------- */

/* A client that leaves mid-body ends only its own connection. */
static void client_leaves(test_server_t *s)
{
    int fd = connect_to(s, false);
    send_str(fd, "GET /bytes?n=100000000 HTTP/1.1\r\n\r\n");
    char buf[4096];
    recv_exact(fd, buf, sizeof(buf));
    close(fd);
    fd = connect_to(s, false);
    send_str(fd, "GET /slow-body?n=100&ms=10 HTTP/1.1\r\n\r\n");
    char head[256];
    recv_head(fd, head, sizeof(head));
    close(fd);

    size_t len;
    char *response = exchange(s, "GET /bytes?n=1 HTTP/1.1\r\nConnection: close\r\n\r\n", &len);
    ASSERT_STR_EQ(response, "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 1\r\n" CLOSE "a");
    free(response);
    printf("ok client_leaves\n");
}

static void addresses(test_server_t *s)
{
    char want[64], url[64];
    snprintf(want, sizeof(want), "http://127.0.0.1:%u", (unsigned)test_server_port(s));
    ASSERT_STR_EQ(test_server_origin(s), want);
    test_server_url(s, url, sizeof(url), "/bytes?n=%d", 7);
    snprintf(want, sizeof(want), "http://127.0.0.1:%u/bytes?n=7", (unsigned)test_server_port(s));
    ASSERT_STR_EQ(url, want);

    test_server_opts_t opts = test_server_opts_default();
    opts.ipv6 = true;
    test_server_t *s6 = test_server_start(&opts);
    snprintf(want, sizeof(want), "http://[::1]:%u", (unsigned)test_server_port(s6));
    ASSERT_STR_EQ(test_server_origin(s6), want);
    int fd = connect_to(s6, true);
    send_str(fd, "GET /bytes?n=3 HTTP/1.1\r\nConnection: close\r\n\r\n");
    size_t len;
    char *response = recv_all(fd, &len);
    ASSERT_STR_EQ(response, "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 3\r\n" CLOSE "abc");
    free(response);
    close(fd);
    ASSERT_UEQ(test_server_connections_accepted(s6), 1);
    ASSERT_UEQ(test_server_requests_served(s6), 1);
    test_server_stop(s6);
    printf("ok addresses\n");
}

/* ---- A server in a process of its own ------------------------------------------ */

/* Run before this process has threads: the server's process is a fork. */
static void in_a_process(void)
{
    int fds_before = count_fds();
    test_server_process_t *p = test_server_process_start(NULL);
    test_server_counts_t counts = test_server_process_counts(p);
    ASSERT_UEQ(counts.requests_served, 0);
    ASSERT_UEQ(counts.bytes_sent, 0);

    unsigned port;
    ASSERT_EQ(sscanf(test_server_process_origin(p), "http://127.0.0.1:%u", &port), 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                               .sin_port = htons((uint16_t)port)};
    ASSERT_EQ(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    send_str(fd, "GET /bytes?n=3 HTTP/1.1\r\nConnection: close\r\n\r\n");
    size_t len;
    char *response = recv_all(fd, &len);
    ASSERT_STR_EQ(response, "HTTP/1.1 200 OK\r\n" OCTET "Content-Length: 3\r\n" CLOSE "abc");
    close(fd);

    counts = test_server_process_counts(p);
    ASSERT_UEQ(counts.connections_accepted, 1);
    ASSERT_UEQ(counts.requests_served, 1);
    ASSERT_UEQ(counts.bytes_sent, len);
    free(response);
    test_server_process_stop(p);
    ASSERT_EQ(count_fds(), fds_before);
    printf("ok in_a_process\n");
}

/* ---- Stop --------------------------------------------------------------------- */

/* Stopping does not wait for a connection that never gets an answer nor for
 * one that trickles its headers a byte a second. */
static void stop_interrupts(void)
{
    test_server_t *s = test_server_start(NULL);
    int silent = connect_to(s, false);
    send_str(silent, "GET /no-response HTTP/1.1\r\n\r\n");
    int trickle = connect_to(s, false);
    send_str(trickle, "GET /one-byte-per-second HTTP/1.1\r\n\r\n");
    char first;
    recv_exact(trickle, &first, 1);
    ASSERT_EQ(first, 'H');
    for (int waited_ms = 0; test_server_requests_served(s) < 2; waited_ms++) {
        ASSERT_LT(waited_ms, RECV_TIMEOUT_S * 1000);
        sleep_ms(1);
    }

    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    test_server_stop(s);
    ASSERT_LT(elapsed_ms(&start), 1000);

    char buf[16];
    ASSERT_UEQ(recv_some(silent, buf, sizeof(buf)), 0);
    ASSERT_UEQ(recv_some(trickle, buf, sizeof(buf)), 0);
    close(silent);
    close(trickle);
    printf("ok stop_interrupts\n");
}

int main(void)
{
    /* Progress lines reach the log even if a check aborts later. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fds_at_start = count_fds();
    in_a_process();

    test_server_t *s = test_server_start(NULL);
    exact(s);
    big_headers(s);
    keep_alive(s);
    stale_keep_alive(s);
    echo(s);
    framing_rules(s);
    compression(s);
    faults(s);
    client_leaves(s);
    addresses(s);
    test_server_stop(s);
    test_server_stop(NULL);

    stop_interrupts();
    ASSERT_EQ(count_fds(), fds_at_start);
    return 0;
}
