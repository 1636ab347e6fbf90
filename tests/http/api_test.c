/* The public API as a user meets it: response accessors, timings, the
 * blocking conveniences, request bodies from memory and from a callback,
 * streamed response bodies, completion callbacks, calls from a worker,
 * IPv6, name resolution and its cache, the headers the client adds, and
 * option checks. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/http/client_util.h"
#include "tests/http/raw_server.h"
#include "tests/support/http_server.h"
#include "tests/support/runtime.h"

/* ---- Response accessors ---- */

static void test_headers(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    test_server_url(server, url, sizeof(url), "/many-headers?count=%d", 5);
    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    gust_response_t *r = out.resp;
    ASSERT_STR_EQ(gust_response_reason(r), "OK");
    ASSERT_EQ(gust_response_http_minor(r), 1);
    /* Content-Type, X-Header-0 .. X-Header-4, Content-Length, in order. */
    ASSERT_UEQ(gust_response_num_headers(r), 7);
    const char *name, *value;
    gust_response_header_at(r, 0, &name, &value);
    ASSERT_STR_EQ(name, "Content-Type");
    ASSERT_STR_EQ(value, "text/plain");
    for (size_t i = 0; i < 5; i++) {
        char want_name[32], want_value[32];
        snprintf(want_name, sizeof(want_name), "X-Header-%zu", i);
        snprintf(want_value, sizeof(want_value), "%zu", i);
        gust_response_header_at(r, i + 1, &name, &value);
        ASSERT_STR_EQ(name, want_name);
        ASSERT_STR_EQ(value, want_value);
    }
    gust_response_header_at(r, 6, &name, &value);
    ASSERT_STR_EQ(name, "Content-Length");
    ASSERT_STR_EQ(value, "2");
    /* Names compare without regard to case. */
    ASSERT_STR_EQ(gust_response_header(r, "x-header-3"), "3");
    ASSERT_STR_EQ(gust_response_header(r, "X-HEADER-4"), "4");
    ASSERT_STR_EQ(gust_response_header(r, "content-length"), "2");
    ASSERT_NULL(gust_response_header(r, "X-Header-5"));
    ASSERT_NULL(gust_response_header(r, "X-Header"));
    size_t index = 0;
    ASSERT_STR_EQ(gust_response_header_next(r, "x-header-2", &index), "2");
    ASSERT_UEQ(index, 3);
    index++;
    ASSERT_NULL(gust_response_header_next(r, "x-header-2", &index));
    /* The body is followed by a NUL. */
    size_t len;
    const char *body = gust_response_body(r, &len);
    ASSERT_UEQ(len, 2);
    ASSERT_STR_EQ(body, "ok");
    outcome_clear(&out);

    /* An empty body is an empty string. */
    test_server_url(server, url, sizeof(url), "/status?code=%d", 204);
    out = get_wait(client, url);
    ASSERT_RESPONSE(out, 204);
    ASSERT_STR_EQ(gust_response_reason(out.resp), "No Content");
    body = gust_response_body(out.resp, &len);
    ASSERT_UEQ(len, 0);
    ASSERT_NOT_NULL(body);
    ASSERT_EQ(body[0], '\0');
    outcome_clear(&out);
    gust_client_free(client);
    test_server_stop(server);
}

/* The test server sends no repeated header (every route's names differ), so
 * a raw server does: repeated names, odd case and whitespace, an empty
 * value, after an interim response whose headers must not survive. */
static bool repeated_handler(void *arg, raw_conn_t *conn, const raw_request_t *req)
{
    (void)arg;
    (void)req;
    return raw_send(conn, "HTTP/1.1 103 Early Hints\r\n"
                          "Link: </a.css>; rel=preload\r\n"
                          "Set-Cookie: early=1\r\n"
                          "\r\n"
                          "HTTP/1.1 200 \r\n"
                          "Set-Cookie: a=1\r\n"
                          "X-Other:   padded value \t \r\n"
                          "set-COOKIE: b=2\r\n"
                          "X-Empty:\r\n"
                          "SET-COOKIE:c=3\r\n"
                          "Content-Length: 2\r\n"
                          "\r\n"
                          "ok");
}

static void test_repeated_headers(void)
{
    raw_server_t *server = raw_server_start(repeated_handler, NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    raw_server_url(server, url, sizeof(url), "/");
    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    gust_response_t *r = out.resp;
    ASSERT_STR_EQ(gust_response_reason(r), "");
    ASSERT_UEQ(gust_response_num_headers(r), 6);
    ASSERT_NULL(gust_response_header(r, "Link"));
    ASSERT_STR_EQ(gust_response_header(r, "set-cookie"), "a=1");
    const char *want[] = {"a=1", "b=2", "c=3"};
    size_t index = 0;
    for (size_t i = 0; i < 3; i++, index++) {
        const char *v = gust_response_header_next(r, "Set-Cookie", &index);
        ASSERT_STR_EQ(v, want[i]);
    }
    ASSERT_NULL(gust_response_header_next(r, "Set-Cookie", &index));
    /* The name as received. */
    const char *name, *value;
    gust_response_header_at(r, 2, &name, &value);
    ASSERT_STR_EQ(name, "set-COOKIE");
    ASSERT_STR_EQ(value, "b=2");
    /* Values without the whitespace around them. */
    ASSERT_STR_EQ(gust_response_header(r, "X-Other"), "padded value");
    ASSERT_STR_EQ(gust_response_header(r, "X-Empty"), "");
    assert_body(&out, "ok");
    outcome_clear(&out);
    gust_client_free(client);
    raw_server_stop(server);
}

/* ---- Timings ---- */

static void test_timings(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_t *client = new_client(runtime, NULL);
    char url[256];
    test_server_url(server, url, sizeof(url), "/delay?ms=%d", 50);

    /* A new connection to an IP literal: no DNS, a connect. */
    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    gust_timings_t t = gust_response_timings(out.resp);
    fprintf(stderr, "  new: queued %llu dns %llu connect %llu first byte %llu total %llu ns\n",
            (unsigned long long)t.queued_ns, (unsigned long long)t.dns_ns,
            (unsigned long long)t.connect_ns, (unsigned long long)t.first_byte_ns,
            (unsigned long long)t.total_ns);
    ASSERT_UGT(t.connect_ns, 0);
    ASSERT_UGE(t.first_byte_ns, 50 * MS);
    ASSERT_UGE(t.total_ns, t.first_byte_ns);
    ASSERT_UGE(t.total_ns, t.queued_ns + t.connect_ns + t.first_byte_ns);
    ASSERT_ULE(t.total_ns, out.elapsed_ns);
    outcome_clear(&out);

    /* A reused connection: neither DNS nor connect. */
    out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    ASSERT_TRUE(gust_response_reused(out.resp));
    t = gust_response_timings(out.resp);
    ASSERT_UEQ(t.dns_ns, 0);
    ASSERT_UEQ(t.connect_ns, 0);
    ASSERT_UGE(t.first_byte_ns, 50 * MS);
    ASSERT_UGE(t.total_ns, t.first_byte_ns);
    ASSERT_ULE(t.total_ns, out.elapsed_ns);
    outcome_clear(&out);
    gust_client_free(client);

    /* A redirect whose last hop reuses the first hop's connection: the
     * timings are the last hop's (no connect), except total. */
    client = new_client(runtime, NULL);
    char redirect[256];
    test_server_url(server, redirect, sizeof(redirect), "/redirect?code=302&to=%s",
                    "/delay%3Fms%3D50");
    out = get_wait(client, redirect);
    ASSERT_RESPONSE(out, 200);
    ASSERT_UEQ(gust_response_num_redirects(out.resp), 1);
    ASSERT_TRUE(gust_response_reused(out.resp));
    ASSERT_UEQ(client_stats(client).connections_opened, 1);
    t = gust_response_timings(out.resp);
    fprintf(stderr, "  redirect, last hop reused: connect %llu first byte %llu total %llu ns\n",
            (unsigned long long)t.connect_ns, (unsigned long long)t.first_byte_ns,
            (unsigned long long)t.total_ns);
    ASSERT_UEQ(t.connect_ns, 0);
    ASSERT_UGE(t.first_byte_ns, 50 * MS);
    ASSERT_UGE(t.total_ns, t.first_byte_ns);
    outcome_clear(&out);
    gust_client_free(client);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

/* ---- Request bodies ---- */

static void test_post(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256], echo[256];
    test_server_url(server, url, sizeof(url), "/echo-body");
    test_server_url(server, echo, sizeof(echo), "/echo");

    gust_response_t *resp = NULL;
    char *message = NULL;
    ASSERT_EQ(gust_http_post(client, url, "hello, server", 13, "text/plain", &resp, &message), 0);
    ASSERT_NULL(message);
    ASSERT_EQ(gust_response_status(resp), 200);
    size_t len;
    const char *body = gust_response_body(resp, &len);
    ASSERT_UEQ(len, 13);
    ASSERT_STR_EQ(body, "hello, server");
    gust_response_free(resp);

    /* The head: method, Content-Type and Content-Length. */
    ASSERT_EQ(gust_http_post(client, echo, "abc", 3, "text/plain", &resp, NULL), 0);
    outcome_t out = {.resp = resp};
    echo_t e = echo_parse(&out);
    ASSERT_STR_EQ(e.request_line, "POST /echo HTTP/1.1");
    char *type = echo_header(&e, "Content-Type");
    char *length = echo_header(&e, "Content-Length");
    ASSERT_STR_EQ(type, "text/plain");
    ASSERT_STR_EQ(length, "3");
    ASSERT_UEQ(e.body_len, 3);
    ASSERT_EQ(memcmp(e.body, "abc", 3), 0);
    free(type);
    free(length);
    echo_clear(&e);
    outcome_clear(&out);

    /* An empty POST announces its length; no Content-Type without one. */
    ASSERT_EQ(gust_http_post(client, echo, NULL, 0, NULL, &resp, NULL), 0);
    out = (outcome_t){.resp = resp};
    e = echo_parse(&out);
    length = echo_header(&e, "Content-Length");
    ASSERT_STR_EQ(length, "0");
    ASSERT_NULL(echo_header(&e, "Content-Type"));
    free(length);
    echo_clear(&e);
    outcome_clear(&out);

    /* Binary bytes, NULs included, 1 MiB of them. */
    size_t big_len = 1 << 20;
    unsigned char *big = malloc(big_len);
    ASSERT_NOT_NULL(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)(i * 7 + i / 251);
    ASSERT_EQ(gust_http_post(client, url, big, big_len, "application/octet-stream", &resp, NULL),
              0);
    body = gust_response_body(resp, &len);
    ASSERT_UEQ(len, big_len);
    ASSERT_EQ(memcmp(body, big, big_len), 0);
    gust_response_free(resp);
    free(big);

    /* The blocking calls' failure: the code, no response, a message. */
    char bad[256];
    snprintf(bad, sizeof(bad), "ftp://127.0.0.1:%u/", test_server_port(server));
    resp = (gust_response_t *)1;
    ASSERT_EQ(gust_http_get(client, bad, &resp, &message), GUST_ERR_SCHEME);
    ASSERT_NULL(resp);
    ASSERT_CONTAINS(message, bad);
    free(message);
    gust_client_free(client);
    test_server_stop(server);
}

/* A body produced by a callback, in pieces of a few sizes. */
typedef struct reader_s {
    const unsigned char *data;
    size_t len;
    size_t off;
    size_t piece; /* the most returned per call */
    unsigned calls;
    gust_runtime_t *runtime; /* NULL: the client's own */
    bool on_worker;
    ssize_t fail_at; /* return -1 once this many bytes are out; -1: never */
    long delay_ms;   /* slept before each piece */
} reader_t;

static ssize_t read_cb(void *arg, void *buf, size_t cap)
{
    reader_t *r = arg;
    r->calls++;
    r->on_worker = r->on_worker || gust_runtime_current() != NULL;
    if (r->fail_at >= 0 && r->off >= (size_t)r->fail_at)
        return -1;
    if (r->delay_ms > 0 && r->off < r->len) {
        struct timespec pause = {0, r->delay_ms * 1000000L};
        nanosleep(&pause, NULL);
    }
    size_t n = r->len - r->off;
    if (n > cap)
        n = cap;
    if (n > r->piece)
        n = r->piece;
    memcpy(buf, r->data + r->off, n);
    r->off += n;
    return (ssize_t)n;
}

static void test_body_callback(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char echo_body[256], echo[256];
    test_server_url(server, echo_body, sizeof(echo_body), "/echo-body");
    test_server_url(server, echo, sizeof(echo), "/echo");
    size_t len = 100000;
    unsigned char *data = malloc(len);
    ASSERT_NOT_NULL(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i % 253);

    static const size_t pieces[] = {1000000, 4096, 777};
    for (int chunked = 0; chunked <= 1; chunked++) {
        for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
            fprintf(stderr, "  %s, pieces of at most %zu\n", chunked ? "chunked" : "known length",
                    pieces[p]);
            reader_t r = {.data = data, .len = len, .piece = pieces[p], .fail_at = -1};
            gust_request_t req = {
                .method = "PUT",
                .url = echo_body,
                .body_read = read_cb,
                .body_read_arg = &r,
                .body_len = chunked ? -1 : (ssize_t)len,
            };
            outcome_t out = send_wait(client, &req);
            ASSERT_RESPONSE(out, 200);
            size_t got;
            const char *body = body_of(&out, &got);
            ASSERT_UEQ(got, len);
            ASSERT_EQ(memcmp(body, data, len), 0);
            ASSERT_TRUE(r.on_worker);
            outcome_clear(&out);
        }
    }

    /* The framing on the wire. */
    reader_t r = {
        .data = (const unsigned char *)"0123456789", .len = 10, .piece = 4, .fail_at = -1};
    gust_request_t req = {
        .method = "POST", .url = echo, .body_read = read_cb, .body_read_arg = &r, .body_len = -1};
    outcome_t out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 200);
    echo_t e = echo_parse(&out);
    char *te = echo_header(&e, "Transfer-Encoding");
    ASSERT_STR_EQ(te, "chunked");
    ASSERT_NULL(echo_header(&e, "Content-Length"));
    ASSERT_UEQ(e.body_len, strlen("4\r\n0123\r\n4\r\n4567\r\n2\r\n89\r\n0\r\n\r\n"));
    ASSERT_EQ(memcmp(e.body, "4\r\n0123\r\n4\r\n4567\r\n2\r\n89\r\n0\r\n\r\n", e.body_len), 0);
    free(te);
    echo_clear(&e);
    outcome_clear(&out);

    r = (reader_t){
        .data = (const unsigned char *)"0123456789", .len = 10, .piece = 4, .fail_at = -1};
    req.body_len = 10;
    out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 200);
    e = echo_parse(&out);
    char *length = echo_header(&e, "Content-Length");
    ASSERT_STR_EQ(length, "10");
    ASSERT_NULL(echo_header(&e, "Transfer-Encoding"));
    ASSERT_UEQ(e.body_len, 10);
    ASSERT_EQ(memcmp(e.body, "0123456789", 10), 0);
    free(length);
    echo_clear(&e);
    outcome_clear(&out);

    /* A slow upload (six pieces 40 ms apart, on loopback all written at
     * once) does not count against the header timeout: it starts once the
     * body is out, and the answer comes 50 ms after that. */
    char delayed[256];
    test_server_url(server, delayed, sizeof(delayed), "/delay?ms=50");
    r = (reader_t){.data = data, .len = 6000, .piece = 1000, .fail_at = -1, .delay_ms = 40};
    req = (gust_request_t){.method = "PUT",
                           .url = delayed,
                           .body_read = read_cb,
                           .body_read_arg = &r,
                           .body_len = 6000,
                           .header_timeout_ns = 150 * MS};
    out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 200);
    ASSERT_UGE(out.elapsed_ns, 240 * MS);
    outcome_clear(&out);

    /* A callback that ends before the length it announced, or fails. */
    r = (reader_t){.data = data, .len = 500, .piece = 100, .fail_at = -1};
    req = (gust_request_t){
        .method = "POST", .url = echo, .body_read = read_cb, .body_read_arg = &r, .body_len = 1000};
    out = send_wait(client, &req);
    ASSERT_ERROR(out, GUST_ERR_IO);
    ASSERT_CONTAINS(out.message, echo);
    outcome_clear(&out);
    r = (reader_t){.data = data, .len = len, .piece = 100, .fail_at = 300};
    req.body_len = -1;
    out = send_wait(client, &req);
    ASSERT_ERROR(out, GUST_ERR_IO);
    ASSERT_CONTAINS(out.message, echo);
    outcome_clear(&out);

    free(data);
    gust_client_free(client);
    test_server_stop(server);
}

/* ---- Streamed response bodies ---- */

typedef struct sink_s {
    char *data;
    size_t len;
    size_t cap;
    unsigned calls;
    bool off_worker;
    size_t stop_after; /* return 1 once this many bytes came; 0: never */
} sink_t;

static int on_body(void *arg, const void *chunk, size_t len)
{
    sink_t *s = arg;
    s->calls++;
    s->off_worker = s->off_worker || gust_runtime_current() == NULL;
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->data = realloc(s->data, s->cap);
        ASSERT_NOT_NULL(s->data);
    }
    memcpy(s->data + s->len, chunk, len);
    s->len += len;
    return s->stop_after != 0 && s->len >= s->stop_after ? 1 : 0;
}

static void test_streaming(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    static const char *const paths[] = {
        "/bytes?n=300000",
        "/chunked?n=300000&chunk=1000",
        "/gzip?n=300000",
        "/close-delimited?n=300000",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        fprintf(stderr, "  %s\n", paths[i]);
        char url[256];
        test_server_url(server, url, sizeof(url), "%s", paths[i]);
        sink_t sink = {0};
        gust_request_t req = {.url = url, .on_body = on_body, .on_body_arg = &sink};
        outcome_t out = send_wait(client, &req);
        ASSERT_RESPONSE(out, 200);
        /* Every byte, in order, to the callback; none buffered. */
        ASSERT_UEQ(sink.len, 300000);
        assert_pattern(sink.data, sink.len, 0);
        ASSERT_UGT(sink.calls, 0);
        ASSERT_FALSE(sink.off_worker);
        size_t len;
        const char *body = gust_response_body(out.resp, &len);
        ASSERT_UEQ(len, 0);
        ASSERT_EQ(body[0], '\0');
        outcome_clear(&out);
        free(sink.data);
    }

    /* A callback that says stop ends the request as cancelled. */
    char url[256];
    test_server_url(server, url, sizeof(url), "/bytes?n=%d", 1000000);
    sink_t sink = {.stop_after = 1};
    gust_request_t req = {.url = url, .on_body = on_body, .on_body_arg = &sink};
    outcome_t out = send_wait(client, &req);
    ASSERT_ERROR(out, GUST_ERR_CANCELLED);
    ASSERT_CONTAINS(out.message, url);
    ASSERT_ULT(sink.len, 1000000);
    outcome_clear(&out);
    free(sink.data);

    /* The client goes on. */
    test_server_url(server, url, sizeof(url), "/bytes?n=%d", 10);
    out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    assert_pattern_body(&out, 10);
    outcome_clear(&out);
    gust_client_free(client);
    test_server_stop(server);
}

/* ---- Completion callbacks, and requests sent from workers ---- */

typedef struct chain_s {
    gust_client_t *client;
    gust_runtime_t *runtime;
    char url[256];
    atomic_int step;
    atomic_int bad;
    sem_t done;
    gust_future_t *futures[101];
} chain_t;

enum { CHAIN_STEPS = 100 };

/* On a worker: checks the response, then sends the next request from here. */
static void chain_next(gust_future_t *future, void *arg)
{
    chain_t *c = arg;
    gust_response_t *resp = gust_http_response(future);
    if (gust_runtime_current() != c->runtime || resp == NULL || gust_response_status(resp) != 200)
        atomic_fetch_add(&c->bad, 1);
    int step = atomic_fetch_add(&c->step, 1) + 1;
    if (step == CHAIN_STEPS) {
        ASSERT_EQ(sem_post(&c->done), 0);
        return;
    }
    gust_request_t req = {.url = c->url, .on_done = chain_next, .on_done_arg = c};
    c->futures[step] = gust_http_send(c->client, &req);
    ASSERT_NOT_NULL(c->futures[step]);
}

static void test_callbacks_and_workers(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(2, 1);
    chain_t *c = calloc(1, sizeof(*c));
    ASSERT_NOT_NULL(c);
    c->runtime = runtime;
    c->client = new_client(runtime, NULL);
    ASSERT_PTR_EQ(gust_client_runtime(c->client), runtime);
    ASSERT_EQ(sem_init(&c->done, 0, 0), 0);
    test_server_url(server, c->url, sizeof(c->url), "/bytes?n=%d", 10);
    gust_request_t req = {.url = c->url, .on_done = chain_next, .on_done_arg = c};
    c->futures[0] = gust_http_send(c->client, &req);
    ASSERT_NOT_NULL(c->futures[0]);
    wait_sem(&c->done, 10, "a chain of 100 requests sent from completion callbacks");
    ASSERT_EQ(atomic_load(&c->bad), 0);
    for (int i = 0; i < CHAIN_STEPS; i++) {
        ASSERT_EQ(gust_future_wait_for(c->futures[i], 5000 * MS), GUST_FUTURE_VALUE);
        gust_future_free(c->futures[i]);
    }
    /* One after another: one connection does for all. */
    ASSERT_UEQ(client_stats(c->client).connections_opened, 1);
    gust_client_free(c->client);
    ASSERT_EQ(sem_destroy(&c->done), 0);
    free(c);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

/* gust_client_free while completion callbacks still run, each of which
 * sends one more request on the client: of a request refused by
 * gust_http_send (its callback a task on the pool) and of one answered.
 * The client outlives every callback (client.h), so free returns only once
 * all have returned. With one worker, a post that free makes can run before
 * a task queued earlier; each callback takes a millisecond, so one that
 * outlived the client would be seen returning late (and under ASan,
 * sending on a freed client). */
typedef struct free_race_s {
    gust_client_t *client;
    char url[256];
    atomic_int returned; /* callbacks that have returned */
} free_race_t;

enum { FREE_RACE_ROUNDS = 300 };

/* Sends the same URL again, without a callback. */
static void free_race_send_again(gust_future_t *future, void *arg)
{
    free_race_t *race = arg;
    sleep_ms(1);
    const char *url = gust_future_error(future) == GUST_ERR_URL ? "not a URL" : race->url;
    gust_request_t req = {.url = url};
    gust_future_t *again = gust_http_send(race->client, &req);
    ASSERT_NOT_NULL(again);
    gust_future_free(again);
    atomic_fetch_add(&race->returned, 1);
}

static void test_free_while_callbacks_send(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(1, 1);
    free_race_t race;
    test_server_url(server, race.url, sizeof(race.url), "/bytes?n=%d", 10);
    gust_request_t reqs[] = {
        {.url = "not a URL", .on_done = free_race_send_again, .on_done_arg = &race},
        {.url = race.url, .on_done = free_race_send_again, .on_done_arg = &race},
    };
    uint64_t start = now_ns();
    int rounds = 0;
    /* Bounded in time too: under TSan a round is slow. */
    for (; rounds < FREE_RACE_ROUNDS && now_ns() - start < 5000 * MS; rounds++) {
        /* The refused request alone, or with an answered one. */
        size_t num_sent = 1 + (size_t)rounds % 2;
        race.client = new_client(runtime, NULL);
        atomic_init(&race.returned, 0);
        gust_future_t *futures[2];
        for (size_t i = 0; i < num_sent; i++)
            futures[i] = gust_http_send(race.client, &reqs[i]);
        gust_client_free(race.client);
        int returned = atomic_load(&race.returned);
        ASSERT_EQ(returned, num_sent);
        ASSERT_EQ(gust_future_error(futures[0]), GUST_ERR_URL);
        for (size_t i = 0; i < num_sent; i++)
            gust_future_free(futures[i]);
    }
    fprintf(stderr, "  %d rounds\n", rounds);
    ASSERT_GT(rounds, 0);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

/* The blocking call from a worker of a one-worker runtime: its wait must
 * run the I/O it waits for. */
typedef struct blocking_s {
    gust_client_t *client;
    char url[256];
    int err;
    int status;
} blocking_t;

static void blocking_on_worker(void *arg)
{
    blocking_t *b = arg;
    gust_response_t *resp = NULL;
    b->err = gust_http_get(b->client, b->url, &resp, NULL);
    if (resp != NULL)
        b->status = gust_response_status(resp);
    gust_response_free(resp);
}

static void test_blocking_on_worker(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(1, 1);
    blocking_t b = {.client = new_client(runtime, NULL)};
    test_server_url(server, b.url, sizeof(b.url), "/delay?ms=%d", 20);
    run_on(runtime, 0, blocking_on_worker, &b, "gust_http_get on the only worker");
    ASSERT_EQ(b.err, 0);
    ASSERT_EQ(b.status, 200);
    gust_client_free(b.client);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

/* Requests sent on a worker share the parse of the URL sent before when it
 * is the same text (see gust__session_parse_url): each must still go to
 * its own URL, whichever came before, and one too long to keep too. */
enum { URL_RUNS = 9 };

typedef struct url_runs_s {
    gust_client_t *client;
    char urls[URL_RUNS][400];
    char request_lines[URL_RUNS][400];
} url_runs_t;

static void send_url_runs(void *arg)
{
    url_runs_t *runs = arg;
    for (int i = 0; i < URL_RUNS; i++) {
        outcome_t out = get_wait(runs->client, runs->urls[i]);
        ASSERT_RESPONSE(out, 200);
        echo_t e = echo_parse(&out);
        snprintf(runs->request_lines[i], sizeof(runs->request_lines[i]), "%s", e.request_line);
        echo_clear(&e);
        outcome_clear(&out);
    }
}

static void test_same_url_on_a_worker(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(1, 1);
    url_runs_t runs = {.client = new_client(runtime, NULL)};
    char a[64], b[64], via_localhost[64], long_query[300];
    test_server_url(server, a, sizeof(a), "/echo?a");
    test_server_url(server, b, sizeof(b), "/echo?b");
    snprintf(via_localhost, sizeof(via_localhost), "http://localhost:%u/echo?a",
             test_server_port(server));
    memset(long_query, 'q', sizeof(long_query) - 1);
    long_query[sizeof(long_query) - 1] = '\0';
    const char *order[URL_RUNS] = {a, a, b, a, via_localhost, a, NULL, NULL, a};
    for (int i = 0; i < URL_RUNS; i++) {
        if (order[i] != NULL)
            snprintf(runs.urls[i], sizeof(runs.urls[i]), "%s", order[i]);
        else
            snprintf(runs.urls[i], sizeof(runs.urls[i]), "%s%s", b, long_query);
    }
    run_on(runtime, 0, send_url_runs, &runs, "GETs of alternating URLs on the only worker");
    for (int i = 0; i < URL_RUNS; i++) {
        const char *query = strchr(runs.urls[i], '?');
        char want[400];
        snprintf(want, sizeof(want), "GET /echo%s HTTP/1.1", query);
        ASSERT_STR_EQ(runs.request_lines[i], want);
    }
    gust_client_free(runs.client);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

/* ---- Addresses and names ---- */

static bool ipv6_loopback_works(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 addr = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 && listen(fd, 1) == 0;
    close(fd);
    return ok;
}

/* GETs /echo at `host` (a name, or an IPv6 literal in brackets) and the
 * server's port, and checks the Host header sent: the host as written, with
 * the port. */
static void assert_host_sent(gust_client_t *client, const test_server_t *server, const char *host)
{
    char url[256], want[64];
    snprintf(url, sizeof(url), "http://%s:%u/echo", host, test_server_port(server));
    snprintf(want, sizeof(want), "%s:%u", host, test_server_port(server));
    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    echo_t e = echo_parse(&out);
    char *sent = echo_header(&e, "Host");
    ASSERT_STR_EQ(sent, want);
    free(sent);
    echo_clear(&e);
    outcome_clear(&out);
}

static void test_ipv6(void)
{
    if (!ipv6_loopback_works()) {
        fprintf(stderr, "  SKIPPED: no IPv6 loopback here\n");
        return;
    }
    test_server_opts_t opts = test_server_opts_default();
    opts.ipv6 = true;
    test_server_t *server = test_server_start(&opts);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    snprintf(url, sizeof(url), "http://[::1]:%u/bytes?n=1000", test_server_port(server));
    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    assert_pattern_body(&out, 1000);
    ASSERT_STR_EQ(gust_response_url(out.resp), url);
    outcome_clear(&out);
    /* Host names the literal in brackets. */
    assert_host_sent(client, server, "[::1]");
    ASSERT_UEQ(client_stats(client).dns_lookups, 0);
    gust_client_free(client);
    test_server_stop(server);
}

/* `localhost` goes through the resolver once; later connections take the
 * cached answer. */
static void test_dns_cache(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    /* Connection: close, so each request needs a new connection and an
     * address. */
    snprintf(url, sizeof(url), "http://localhost:%u/conn-close", test_server_port(server));
    for (int i = 0; i < 5; i++) {
        outcome_t out = get_wait(client, url);
        ASSERT_RESPONSE(out, 200);
        assert_body(&out, "ok");
        ASSERT_STR_EQ(gust_response_url(out.resp), url);
        outcome_clear(&out);
    }
    gust_client_stats_t stats = client_stats(client);
    ASSERT_UEQ(stats.connections_opened, 5);
    ASSERT_UEQ(stats.dns_lookups, 1);
    /* Host is the name as written. */
    assert_host_sent(client, server, "localhost");
    gust_client_free(client);

    /* Many connections wanting the name at once share one lookup. */
    client = new_client(NULL, NULL);
    get_many_ok(client, url, 20);
    ASSERT_UEQ(client_stats(client).dns_lookups, 1);
    gust_client_free(client);

    /* An answer older than dns_ttl_ns is looked up again. */
    gust_client_opts_t opts = gust_client_opts_default();
    opts.dns_ttl_ns = 50 * MS;
    client = new_client(NULL, &opts);
    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    outcome_clear(&out);
    sleep_ms(150);
    out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    outcome_clear(&out);
    ASSERT_UEQ(client_stats(client).dns_lookups, 2);
    gust_client_free(client);
    test_server_stop(server);
}

/* dns_ns is the time of a lookup, and 0 where there was none: an IP
 * literal, or an answer from the cache. */
static void test_dns_timing(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    test_server_url(server, url, sizeof(url), "/conn-close");
    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    gust_timings_t t = gust_response_timings(out.resp);
    fprintf(stderr, "  127.0.0.1: dns_ns %llu\n", (unsigned long long)t.dns_ns);
    outcome_clear(&out);
    uint64_t literal_dns_ns = t.dns_ns;

    snprintf(url, sizeof(url), "http://localhost:%u/conn-close", test_server_port(server));
    out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    t = gust_response_timings(out.resp);
    fprintf(stderr, "  localhost, looked up: dns_ns %llu\n", (unsigned long long)t.dns_ns);
    ASSERT_UGT(t.dns_ns, 0);
    outcome_clear(&out);
    out = get_wait(client, url); /* a new connection, the name cached */
    ASSERT_RESPONSE(out, 200);
    t = gust_response_timings(out.resp);
    fprintf(stderr, "  localhost, cached: dns_ns %llu\n", (unsigned long long)t.dns_ns);
    outcome_clear(&out);
    ASSERT_UEQ(client_stats(client).dns_lookups, 1);
    ASSERT_UEQ(literal_dns_ns, 0);
    ASSERT_UEQ(t.dns_ns, 0);
    gust_client_free(client);
    test_server_stop(server);
}

/* ---- What the client adds to a request ---- */

static void test_added_headers(void)
{
    test_server_t *server = test_server_start(NULL);
    char url[256];
    test_server_url(server, url, sizeof(url), "/echo");
    char authority[64];
    snprintf(authority, sizeof(authority), "127.0.0.1:%u", test_server_port(server));

    /* The defaults: Host, User-Agent, Accept-Encoding; a GET announces no
     * body. */
    gust_client_t *client = new_client(NULL, NULL);
    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    echo_t e = echo_parse(&out);
    ASSERT_STR_EQ(e.request_line, "GET /echo HTTP/1.1");
    char *host = echo_header(&e, "Host");
    char *ua = echo_header(&e, "User-Agent");
    char *ae = echo_header(&e, "Accept-Encoding");
    ASSERT_STR_EQ(host, authority);
    ASSERT_STR_EQ(ua, "gust/0.1");
    ASSERT_STR_EQ(ae, "gzip, deflate");
    ASSERT_NULL(echo_header(&e, "Content-Length"));
    ASSERT_NULL(echo_header(&e, "Transfer-Encoding"));
    free(host);
    free(ua);
    free(ae);
    echo_clear(&e);
    outcome_clear(&out);

    /* A fragment stays with the client. */
    char with_fragment[300];
    snprintf(with_fragment, sizeof(with_fragment), "%s?q=1#part", url);
    out = get_wait(client, with_fragment);
    ASSERT_RESPONSE(out, 200);
    e = echo_parse(&out);
    ASSERT_STR_EQ(e.request_line, "GET /echo?q=1 HTTP/1.1");
    echo_clear(&e);
    outcome_clear(&out);

    /* The request's headers win over the client's; a custom method. */
    gust_header_t mine[] = {{"user-agent", "mine/1"}, {"X-Req", "r"}};
    gust_request_t req = {.method = "PROPFIND", .url = url, .headers = mine, .num_headers = 2};
    out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 200);
    e = echo_parse(&out);
    ASSERT_STR_EQ(e.request_line, "PROPFIND /echo HTTP/1.1");
    ua = echo_header(&e, "User-Agent");
    ASSERT_STR_EQ(ua, "mine/1");
    free(ua);
    ASSERT_NOT_CONTAINS(e.raw, "gust/0.1");
    echo_clear(&e);
    outcome_clear(&out);
    gust_client_free(client);

    /* No User-Agent, no decoding (so no Accept-Encoding), default headers
     * the request may override. */
    gust_header_t defaults[] = {{"X-Default", "d"}, {"X-Both", "client"}};
    gust_client_opts_t opts = gust_client_opts_default();
    opts.user_agent = NULL;
    opts.decompress = false;
    opts.headers = defaults;
    opts.num_headers = 2;
    client = new_client(NULL, &opts);
    gust_header_t both = {"x-both", "request"};
    req = (gust_request_t){.url = url, .headers = &both, .num_headers = 1};
    out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 200);
    e = echo_parse(&out);
    ASSERT_NULL(echo_header(&e, "User-Agent"));
    ASSERT_NULL(echo_header(&e, "Accept-Encoding"));
    char *d = echo_header(&e, "X-Default");
    char *b = echo_header(&e, "X-Both");
    ASSERT_STR_EQ(d, "d");
    ASSERT_STR_EQ(b, "request");
    ASSERT_NOT_CONTAINS(e.raw, "client");
    free(d);
    free(b);
    echo_clear(&e);
    outcome_clear(&out);
    /* A request with no headers of its own gets all the client's. */
    out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    e = echo_parse(&out);
    ASSERT_NULL(echo_header(&e, "User-Agent"));
    ASSERT_NULL(echo_header(&e, "Accept-Encoding"));
    d = echo_header(&e, "X-Default");
    b = echo_header(&e, "X-Both");
    ASSERT_STR_EQ(d, "d");
    ASSERT_STR_EQ(b, "client");
    free(d);
    free(b);
    echo_clear(&e);
    outcome_clear(&out);
    gust_client_free(client);
    test_server_stop(server);
}

/* ---- Options ---- */

static void test_bad_options(void)
{
    gust_client_opts_t opts = gust_client_opts_default();
    char why[256] = "";
    opts.user_agent = "a\r\nX-Injected: 1";
    opts.error_buf = why;
    opts.error_buf_len = sizeof(why);
    errno = 0;
    ASSERT_NULL(gust_client_new(NULL, &opts));
    ASSERT_EQ(errno, EINVAL);
    ASSERT_STR_EQ(why, "user_agent has control characters");

    gust_header_t bad[] = {{"X-Ok", "v"}, {"X-Ok", "v\r\nX-Injected: 1"}};
    opts = gust_client_opts_default();
    opts.headers = bad;
    opts.num_headers = 2;
    errno = 0;
    ASSERT_NULL(gust_client_new(NULL, &opts));
    ASSERT_EQ(errno, EINVAL);

    /* The message is cut to the buffer, and always terminated. */
    char small[9];
    opts.error_buf = small;
    opts.error_buf_len = sizeof(small);
    ASSERT_NULL(gust_client_new(NULL, &opts));
    ASSERT_STR_EQ(small, "headers[");
    opts.error_buf = why;
    opts.error_buf_len = sizeof(why);
    ASSERT_NULL(gust_client_new(NULL, &opts));
    ASSERT_TRUE(strncmp(why, "headers[1]: ", 12) == 0);

    opts = gust_client_opts_default();
    opts.max_header_bytes = GUST_MAX_HEADER_BYTES + 1;
    opts.error_buf = why;
    opts.error_buf_len = sizeof(why);
    ASSERT_NULL(gust_client_new(NULL, &opts));
    ASSERT_EQ(errno, EINVAL);
    ASSERT_PTR_NE(strstr(why, "max_header_bytes 81921"), NULL);

    gust_client_free(NULL);
}

/* num_headers without headers: refused, like a bad header. */
static void test_null_headers(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    test_server_url(server, url, sizeof(url), "/echo");
    gust_request_t no_headers = {.url = url, .num_headers = 2};
    outcome_t out = send_wait(client, &no_headers);
    ASSERT_ERROR(out, GUST_ERR_BAD_REQUEST);
    ASSERT_CONTAINS(out.message, url);
    outcome_clear(&out);
    ASSERT_UEQ(test_server_connections_accepted(server), 0);
    gust_client_free(client);
    test_server_stop(server);
}

/* Requests the client refuses before sending anything. */
static void test_bad_requests(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    test_server_url(server, url, sizeof(url), "/echo");

    gust_request_t no_url = {0};
    outcome_t out = send_wait(client, &no_url);
    ASSERT_ERROR(out, GUST_ERR_URL);
    outcome_clear(&out);

    gust_request_t negative = {.method = "POST", .url = url, .body = "x", .body_len = -1};
    out = send_wait(client, &negative);
    ASSERT_ERROR(out, GUST_ERR_BAD_REQUEST);
    outcome_clear(&out);

    gust_header_t empty_name = {"", "v"};
    gust_request_t bad_name = {.url = url, .headers = &empty_name, .num_headers = 1};
    out = send_wait(client, &bad_name);
    ASSERT_ERROR(out, GUST_ERR_BAD_REQUEST);
    outcome_clear(&out);

    gust_request_t empty_method = {.method = "", .url = url};
    out = send_wait(client, &empty_method);
    ASSERT_ERROR(out, GUST_ERR_BAD_REQUEST);
    outcome_clear(&out);

    ASSERT_UEQ(client_stats(client).connections_opened, 0);
    ASSERT_UEQ(test_server_connections_accepted(server), 0);
    gust_client_free(client);
    test_server_stop(server);
}

/* A redirect whose Location is `arg`, then 200 for anything else. */
static bool long_location_handler(void *arg, raw_conn_t *conn, const raw_request_t *req)
{
    if (strcmp(req->target, "/") != 0)
        return raw_send(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    return raw_send(conn, "HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: ") &&
           raw_send(conn, arg) && raw_send(conn, "\r\n\r\n");
}

/* A URL over GUST_URL_MAX_LEN fails with GUST_ERR_URL_TOO_LONG, whether the
 * caller sent it or a redirect's Location resolved to it, and nothing of it
 * goes out. */
static void test_url_too_long(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_header_bytes = GUST_MAX_HEADER_BYTES; /* room for a 64 KiB Location */
    gust_client_t *client = new_client(NULL, &opts);
    enum { LONG_LEN = 100000 };
    char *url = malloc(LONG_LEN + 1);
    ASSERT_NOT_NULL(url);
    test_server_url(server, url, LONG_LEN, "/echo?q=");
    size_t prefix_len = strlen(url);
    memset(url + prefix_len, 'a', LONG_LEN - prefix_len);
    url[LONG_LEN] = '\0';
    outcome_t out = get_wait(client, url);
    ASSERT_ERROR(out, GUST_ERR_URL_TOO_LONG);
    ASSERT_CONTAINS(out.message, "URL of 100000 bytes is longer than the limit of 32768");
    outcome_clear(&out);
    ASSERT_UEQ(test_server_connections_accepted(server), 0);

    /* Relative, over the limit once resolved; and absolute, where
     * http-parser's offsets would wrap to host 127.0.0.1, port 80. */
    char *relative = malloc(40001);
    ASSERT_NOT_NULL(relative);
    memset(relative, 'a', 40000);
    relative[0] = '/';
    relative[40000] = '\0';
    char *wraps = malloc(65555);
    ASSERT_NOT_NULL(wraps);
    memset(wraps, 'a', 65554);
    memcpy(wraps, "http://127.0.0.1", 16);
    memcpy(wraps + 16 + 65524, ".example.com/x", 15);
    const char *locations[] = {relative, wraps};
    for (size_t i = 0; i < 2; i++) {
        raw_server_t *raw = raw_server_start(long_location_handler, (void *)locations[i]);
        char start[256];
        raw_server_url(raw, start, sizeof(start), "/");
        out = get_wait(client, start);
        ASSERT_ERROR(out, GUST_ERR_URL_TOO_LONG);
        ASSERT_CONTAINS(out.message, "is longer than the limit of 32768 (Location: ");
        outcome_clear(&out);
        ASSERT_UEQ(raw_server_requests(raw), 1);
        raw_server_stop(raw);
    }
    free(wraps);
    free(relative);
    free(url);
    gust_client_free(client);
    test_server_stop(server);
}

int main(void)
{
    static const test_t tests[] = {
        {.name = "response headers", .fn = test_headers},
        {.name = "repeated headers, after a 103", .fn = test_repeated_headers},
        {.name = "timings", .fn = test_timings},
        {.name = "POST from memory", .fn = test_post},
        {.name = "bodies from a read callback", .fn = test_body_callback},
        {.name = "streamed response bodies", .fn = test_streaming},
        {.name = "requests sent from completion callbacks", .fn = test_callbacks_and_workers},
        {.name = "client freed while callbacks send", .fn = test_free_while_callbacks_send},
        {.name = "gust_http_get on a worker", .fn = test_blocking_on_worker},
        {.name = "one URL again and again on a worker", .fn = test_same_url_on_a_worker},
        {.name = "IPv6", .fn = test_ipv6},
        {.name = "localhost and the DNS cache", .fn = test_dns_cache},
        {.name = "dns_ns without a lookup", .fn = test_dns_timing},
        {.name = "headers the client adds", .fn = test_added_headers},
        {.name = "bad options", .fn = test_bad_options},
        {.name = "bad requests", .fn = test_bad_requests},
        {.name = "URLs too long, sent or redirected to", .fn = test_url_too_long},
        {.name = "num_headers without headers", .fn = test_null_headers},
    };
    return run_tests(tests, sizeof(tests) / sizeof(tests[0]), 20);
}
