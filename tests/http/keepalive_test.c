/* Keep-alive: reuse, stale connections and their retry, a server that
 * closes right after its responses, the idle timeout and the server's
 * Keep-Alive: timeout, unsolicited bytes, HTTP/1.0, and the
 * requests-per-connection limit.
 *
 * Connections belong to workers, and a request runs on whichever worker
 * takes it, so the tests that count exactly which connection a request uses
 * run on a runtime of one worker; the others run on the client's own. */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tests/http/client_util.h"
#include "tests/http/raw_server.h"
#include "tests/support/http_server.h"
#include "tests/support/runtime.h"

#define OK_RESPONSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

/* 1,000 sequential GETs from the main thread: one connection, reused from
 * the second request on, whichever worker runs each request. */
static void sequential_reuse(gust_runtime_t *runtime)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(runtime, NULL);
    char url[256];
    test_server_url(server, url, sizeof(url), "/bytes?n=%d", 100);
    unsigned not_reused = 0;
    for (int i = 0; i < 1000; i++) {
        outcome_t out = get_wait(client, url);
        ASSERT_RESPONSE(out, 200);
        assert_pattern_body(&out, 100);
        if (i == 0)
            ASSERT_FALSE(gust_response_reused(out.resp));
        else if (!gust_response_reused(out.resp))
            not_reused++;
        outcome_clear(&out);
    }
    gust_client_stats_t stats = client_stats(client);
    fprintf(stderr, "  connections opened %llu, reused %llu, not reused after the first %u\n",
            (unsigned long long)stats.connections_opened,
            (unsigned long long)stats.connections_reused, not_reused);
    ASSERT_UEQ(stats.requests, 1000);
    ASSERT_UEQ(stats.retries, 0);
    ASSERT_UEQ(not_reused, 0);
    ASSERT_UEQ(stats.connections_opened, 1);
    ASSERT_UEQ(stats.connections_reused, 999);
    ASSERT_UEQ(test_server_connections_accepted(server), 1);
    gust_client_free(client);
    test_server_stop(server);
}

/* On the client's own runtime (a worker per CPU). */
static void test_sequential_reuse(void)
{
    sequential_reuse(NULL);
}

/* On 8 workers, more than this machine may have CPUs. */
static void test_sequential_reuse_8_workers(void)
{
    gust_runtime_t *runtime = new_runtime(8, 1);
    sequential_reuse(runtime);
    gust_runtime_free(runtime);
}

/* The same on one worker: there the guarantee is exact whatever the pool
 * does. */
static void test_sequential_reuse_one_worker(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_t *client = new_client(runtime, NULL);
    unsigned long accepted = test_server_connections_accepted(server);
    char url[256];
    test_server_url(server, url, sizeof(url), "/chunked?n=%d&chunk=%d", 1000, 100);
    for (int i = 0; i < 1000; i++) {
        outcome_t out = get_wait(client, url);
        ASSERT_RESPONSE(out, 200);
        assert_pattern_body(&out, 1000);
        ASSERT_EQ(gust_response_reused(out.resp), i > 0);
        outcome_clear(&out);
    }
    gust_client_stats_t stats = client_stats(client);
    ASSERT_UEQ(stats.connections_opened, 1);
    ASSERT_UEQ(stats.connections_reused, 999);
    ASSERT_UEQ(stats.open_connections, 1);
    ASSERT_UEQ(test_server_connections_accepted(server) - accepted, 1);
    gust_client_free(client);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

/* A kept-alive connection the server closes while it is idle: the client
 * sees the close and drops the connection, so the next request of any
 * method opens a new one without needing a retry. */
static void test_server_closes_idle(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_t *client = new_client(runtime, NULL);
    unsigned long accepted = test_server_connections_accepted(server);
    char url[256];
    test_server_url(server, url, sizeof(url), "/keepalive-then-close?ms=%d", 50);
    char echo_url[256];
    test_server_url(server, echo_url, sizeof(echo_url), "/echo-body");

    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    outcome_clear(&out);
    sleep_ms(200);
    ASSERT_UEQ(client_stats(client).open_connections, 0);
    ASSERT_GET_REUSED(client, url, false);

    sleep_ms(200);
    gust_request_t post = {.method = "POST", .url = echo_url, .body = "once", .body_len = 4};
    out = send_wait(client, &post);
    ASSERT_RESPONSE(out, 200);
    assert_body(&out, "once");
    ASSERT_FALSE(gust_response_reused(out.resp));
    outcome_clear(&out);

    gust_client_stats_t stats = client_stats(client);
    ASSERT_UEQ(stats.retries, 0);
    ASSERT_UEQ(stats.connections_opened, 3);
    ASSERT_UEQ(test_server_connections_accepted(server) - accepted, 3);
    ASSERT_UEQ(test_server_requests_served(server) >= 3, 1);
    gust_client_free(client);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

/* ---- Stale connections the client cannot see: the server reads the next
 * request on a kept-alive connection and closes without a byte ---- */

typedef struct stale_s {
    /* Connections from this index on close at once, even on their first
     * request. */
    unsigned close_from_conn;
} stale_t;

static bool stale_handler(void *arg, raw_conn_t *conn, const raw_request_t *req)
{
    const stale_t *stale = arg;
    if (req->index_on_conn > 0 || req->conn_index >= stale->close_from_conn)
        return false; /* read, never answered */
    return raw_send(conn, OK_RESPONSE);
}

typedef struct body_src_s {
    const char *data;
    size_t len;
    size_t off;
} body_src_t;

static ssize_t read_body(void *arg, void *buf, size_t cap)
{
    body_src_t *src = arg;
    size_t n = src->len - src->off < cap ? src->len - src->off : cap;
    memcpy(buf, src->data + src->off, n);
    src->off += n;
    return (ssize_t)n;
}

/* Sends a first GET that leaves a kept-alive connection, then `req` on it;
 * returns how `req` ended. */
static outcome_t after_keepalive(gust_client_t *client, raw_server_t *server,
                                 const gust_request_t *req)
{
    char url[256];
    raw_server_url(server, url, sizeof(url), "/first");
    outcome_t first = get_wait(client, url);
    ASSERT_RESPONSE(first, 200);
    assert_body(&first, "ok");
    outcome_clear(&first);
    return send_wait(client, req);
}

typedef struct stale_case_s {
    const char *name;
    const char *method;
    bool retry_non_idempotent;
    bool body_from_callback;
    unsigned close_from_conn; /* see stale_t */
    int err;                  /* 0: a 200 "ok" after one retry */
    unsigned retries;
    unsigned connections;
} stale_case_t;

static const stale_case_t stale_cases[] = {
    {"stale: GET is retried on a new connection", "GET", false, false, 1000, 0, 1, 2},
    {"stale: HEAD is retried", "HEAD", false, false, 1000, 0, 1, 2},
    {"stale: PUT is retried", "PUT", false, false, 1000, 0, 1, 2},
    {"stale: DELETE is retried", "DELETE", false, false, 1000, 0, 1, 2},
    {"stale: POST is not retried", "POST", false, false, 1000, GUST_ERR_CONN_CLOSED, 0, 1},
    {"stale: PATCH is not retried", "PATCH", false, false, 1000, GUST_ERR_CONN_CLOSED, 0, 1},
    {"stale: POST with retry_non_idempotent is retried", "POST", true, false, 1000, 0, 1, 2},
    {"stale: PUT with a body from a callback is not retried", "PUT", false, true, 1000,
     GUST_ERR_CONN_CLOSED, 0, 1},
    {"stale: GET is retried once only", "GET", false, false, 1, GUST_ERR_CONN_CLOSED, 1, 2},
};

static void run_stale_case(const void *arg)
{
    const stale_case_t *c = arg;
    stale_t stale = {.close_from_conn = c->close_from_conn};
    raw_server_t *server = raw_server_start(stale_handler, &stale);
    /* One worker: the second request surely finds the first's
     * connection. */
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_t *client = new_client(runtime, NULL);
    char url[256];
    raw_server_url(server, url, sizeof(url), "/second");
    body_src_t src = {.data = "body!", .len = 5};
    gust_request_t req = {
        .method = c->method,
        .url = url,
        .retry_non_idempotent = c->retry_non_idempotent,
    };
    if (c->body_from_callback) {
        req.body_read = read_body;
        req.body_read_arg = &src;
        req.body_len = 5;
    } else if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0) {
        req.body = "body!";
        req.body_len = 5;
    }
    outcome_t out = after_keepalive(client, server, &req);
    if (c->err == 0) {
        ASSERT_RESPONSE(out, 200);
        assert_body(&out, strcmp(c->method, "HEAD") == 0 ? "" : "ok");
        ASSERT_FALSE(gust_response_reused(out.resp));
    } else {
        ASSERT_ERROR(out, c->err);
        ASSERT_CONTAINS(out.message, url);
        ASSERT_CONTAINS(out.message, c->method);
        fprintf(stderr, "  -> %s: %s\n", gust_err_name(out.err), out.message);
    }
    outcome_clear(&out);
    gust_client_stats_t stats = client_stats(client);
    ASSERT_UEQ(stats.retries, c->retries);
    ASSERT_UEQ(stats.connections_opened, c->connections);
    ASSERT_UEQ(raw_server_accepted(server), c->connections);
    /* The first request, the second, and its retry if any. */
    ASSERT_UEQ(raw_server_requests(server), 2 + c->retries);
    gust_client_free(client);
    gust_runtime_free(runtime);
    raw_server_stop(server);
}

/* Every kept-alive connection is stale, and 50 GETs share 2 connections:
 * each retry waits for the limit, and must get a new connection then, never
 * a kept-alive one that a finished request hands on. */
static void test_retry_waits_for_new_connection(void)
{
    stale_t stale = {.close_from_conn = UINT_MAX};
    raw_server_t *server = raw_server_start(stale_handler, &stale);
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_per_host = 2;
    gust_client_t *client = new_client(runtime, &opts);
    char url[128];
    raw_server_url(server, url, sizeof(url), "/");
    get_many_ok(client, url, 50);
    gust_client_stats_t stats = client_stats(client);
    fprintf(stderr, "  connections opened %llu, retries %llu\n",
            (unsigned long long)stats.connections_opened, (unsigned long long)stats.retries);
    ASSERT_UGT(stats.retries, 0);
    gust_client_free(client);
    gust_runtime_free(runtime);
    raw_server_stop(server);
}

/* The server closes each connection right after its response, racing the
 * client's next request: whether the client sees the close first or sends
 * into it and retries, every GET succeeds. */
static void test_close_race(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char closing[256], plain[256];
    test_server_url(server, closing, sizeof(closing), "/keepalive-then-close?ms=%d", 0);
    test_server_url(server, plain, sizeof(plain), "/bytes?n=%d", 10);
    /* A total timeout well under the test's wait, so that a request stuck on
     * a dead connection reports itself. */
    gust_request_t closing_req = {.url = closing, .total_timeout_ns = 3000 * MS};
    gust_request_t plain_req = {.url = plain, .total_timeout_ns = 3000 * MS};
    for (int i = 0; i < 200; i++) {
        outcome_t out = send_wait(client, &closing_req);
        ASSERT_RESPONSE(out, 200);
        assert_body(&out, "ok");
        outcome_clear(&out);
        out = send_wait(client, &plain_req);
        if (out.resp == NULL)
            fprintf(stderr, "  round %d: %s: %s\n", i, gust_err_name(out.err), out.message);
        ASSERT_RESPONSE(out, 200);
        assert_pattern_body(&out, 10);
        outcome_clear(&out);
    }
    gust_client_stats_t stats = client_stats(client);
    fprintf(stderr, "  connections opened %llu, retries %llu\n",
            (unsigned long long)stats.connections_opened, (unsigned long long)stats.retries);
    gust_client_free(client);
    test_server_stop(server);
}

/* ---- What the server says about the connection ---- */

/* Answers with `Keep-Alive: timeout=<arg>` and never closes by itself. */
static bool keepalive_header_handler(void *arg, raw_conn_t *conn, const raw_request_t *req)
{
    (void)req;
    char response[128];
    snprintf(response, sizeof(response),
             "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=%d\r\nContent-Length: 2\r\n\r\nok",
             *(const int *)arg);
    return raw_send(conn, response);
}

/* A server that announces `Keep-Alive: timeout=<seconds>`: the client
 * closes the idle connection before then (client.h: "or sooner if the
 * server's Keep-Alive header says it will close first"), so a request
 * `wait_ms` later opens a new one. */
static void server_keepalive_timeout(int seconds, long wait_ms)
{
    raw_server_t *server = raw_server_start(keepalive_header_handler, &seconds);
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_t *client = new_client(runtime, NULL); /* idle timeout 15 s */
    char url[256];
    raw_server_url(server, url, sizeof(url), "/");
    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    outcome_clear(&out);
    ASSERT_GET_REUSED(client, url, true); /* at once */
    sleep_ms(wait_ms);
    out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    fprintf(stderr, "  timeout=%d, %ld ms later: %s\n", seconds, wait_ms,
            gust_response_reused(out.resp) ? "reused" : "a new connection");
    ASSERT_FALSE(gust_response_reused(out.resp));
    outcome_clear(&out);
    ASSERT_UEQ(client_stats(client).connections_opened, 2);
    ASSERT_UEQ(raw_server_accepted(server), 2);
    gust_client_free(client);
    gust_runtime_free(runtime);
    raw_server_stop(server);
}

/* The client keeps an idle connection until half a second before the
 * server's announced timeout: at 1.7 s of 2 it must be gone. */
static void test_server_keepalive_timeout_2(void)
{
    server_keepalive_timeout(2, 1700);
}

/* The server closes 1 s after the last response: at 1.1 s the connection
 * must not be reused. */
static void test_server_keepalive_timeout_1(void)
{
    server_keepalive_timeout(1, 1100);
}

/* Answers with two responses to one request. */
static bool two_answers_handler(void *arg, raw_conn_t *conn, const raw_request_t *req)
{
    (void)arg;
    (void)req;
    return raw_send(conn, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
                          "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
}

/* Bytes after a response that nobody asked for: the response is the
 * first, and the connection is not used again (the extra answer would be
 * taken for the next request's). */
static void test_unsolicited_bytes(void)
{
    raw_server_t *server = raw_server_start(two_answers_handler, NULL);
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_t *client = new_client(runtime, NULL);
    char url[256];
    raw_server_url(server, url, sizeof(url), "/");
    for (int i = 0; i < 3; i++) {
        outcome_t out = get_wait(client, url);
        ASSERT_RESPONSE(out, 200);
        assert_body(&out, "one");
        ASSERT_FALSE(gust_response_reused(out.resp));
        outcome_clear(&out);
    }
    ASSERT_UEQ(client_stats(client).connections_opened, 3);
    ASSERT_UEQ(raw_server_accepted(server), 3);
    gust_client_free(client);
    gust_runtime_free(runtime);
    raw_server_stop(server);
}

/* Answers each request with its target as the body; the first connection's
 * first answer is followed, 50 ms later, by a whole response nobody asked
 * for, in a segment of its own; then *arg (an atomic_bool) is set. */
static bool late_extra_handler(void *arg, raw_conn_t *conn, const raw_request_t *req)
{
    atomic_bool *extra_sent = arg;
    char response[1200];
    snprintf(response, sizeof(response), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(req->target), req->target);
    if (!raw_send(conn, response))
        return false;
    if (req->conn_index == 0 && req->index_on_conn == 0) {
        bool sent = raw_sleep(conn, 50) &&
                    raw_send(conn, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n/stale");
        atomic_store(extra_sent, true);
        return sent;
    }
    return true;
}

typedef struct send_later_s {
    gust_client_t *client;
    gust_request_t req;
    gust_future_t *future;
    atomic_bool *extra_sent;
} send_later_t;

/* On a worker: keeps it busy until the server has sent its extra response
 * (on loopback it is in the socket by then), so that its reactor hears of
 * nothing meanwhile, then sends the request. */
static void send_after_extra(void *arg)
{
    send_later_t *later = arg;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!atomic_load(later->extra_sent)) {
        ASSERT_LT(elapsed_ms(&start), 10000);
        sleep_ms(1);
    }
    later->future = gust_http_send(later->client, &later->req);
}

/* A whole response comes on a connection after it fell idle, while its
 * worker is too busy to hear of it: the next request still checks the
 * connection, leaves it, and gets its own answer on a new one, without a
 * retry. */
static void test_bytes_while_idle(void)
{
    atomic_bool extra_sent = false;
    raw_server_t *server = raw_server_start(late_extra_handler, &extra_sent);
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_t *client = new_client(runtime, NULL);
    char first[256], second[256];
    raw_server_url(server, first, sizeof(first), "/first");
    raw_server_url(server, second, sizeof(second), "/second");
    outcome_t out = get_wait(client, first);
    ASSERT_RESPONSE(out, 200);
    assert_body(&out, "/first");
    outcome_clear(&out);
    send_later_t later = {.client = client, .req = {.url = second}, .extra_sent = &extra_sent};
    run_on(runtime, 0, send_after_extra, &later, "send after the extra response");
    ASSERT_NOT_NULL(later.future);
    out = outcome_of(later.future, second, REQUEST_WAIT_S);
    ASSERT_RESPONSE(out, 200);
    assert_body(&out, "/second");
    ASSERT_FALSE(gust_response_reused(out.resp));
    outcome_clear(&out);
    gust_client_stats_t stats = client_stats(client);
    ASSERT_UEQ(stats.retries, 0);
    ASSERT_UEQ(stats.connections_opened, 2);
    ASSERT_UEQ(raw_server_accepted(server), 2);
    gust_client_free(client);
    gust_runtime_free(runtime);
    raw_server_stop(server);
}

/* HTTP/1.0 answers: closed after each, unless they say keep-alive. */
static bool http10_handler(void *arg, raw_conn_t *conn, const raw_request_t *req)
{
    (void)req;
    bool keep_alive = *(const bool *)arg;
    return raw_send(conn, keep_alive ? "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                                       "Content-Length: 2\r\n\r\nok"
                                     : "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

static void http10(bool keep_alive)
{
    raw_server_t *server = raw_server_start(http10_handler, &keep_alive);
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_t *client = new_client(runtime, NULL);
    char url[256];
    raw_server_url(server, url, sizeof(url), "/");
    for (int i = 0; i < 3; i++) {
        outcome_t out = get_wait(client, url);
        ASSERT_RESPONSE(out, 200);
        ASSERT_EQ(gust_response_http_minor(out.resp), 0);
        assert_body(&out, "ok");
        ASSERT_EQ(gust_response_reused(out.resp), keep_alive && i > 0);
        outcome_clear(&out);
    }
    ASSERT_UEQ(client_stats(client).connections_opened, keep_alive ? 1 : 3);
    ASSERT_UEQ(raw_server_accepted(server), keep_alive ? 1 : 3);
    gust_client_free(client);
    gust_runtime_free(runtime);
    raw_server_stop(server);
}

static void test_http10_close(void)
{
    http10(false);
}

static void test_http10_keep_alive(void)
{
    http10(true);
}

/* A client whose idle timeout is 100 ms on a runtime of one worker, and
 * the URL of a 10-byte answer from the test server. */
typedef struct idle_case_s {
    test_server_t *server;
    gust_runtime_t *runtime;
    gust_client_opts_t opts;
    gust_client_t *client;
    char url[256];
} idle_case_t;

static void idle_case_start(idle_case_t *c)
{
    c->server = test_server_start(NULL);
    c->runtime = new_runtime(1, 1);
    c->opts = gust_client_opts_default();
    c->opts.idle_timeout_ns = 100 * MS;
    c->client = new_client(c->runtime, &c->opts);
    test_server_url(c->server, c->url, sizeof(c->url), "/bytes?n=%d", 10);
}

static void idle_case_stop(idle_case_t *c)
{
    gust_client_free(c->client);
    gust_runtime_free(c->runtime);
    test_server_stop(c->server);
}

/* idle_timeout_ns: an idle connection closes after it; one used sooner is
 * reused. */
static void test_idle_timeout(void)
{
    idle_case_t c;
    idle_case_start(&c);
    gust_client_t *client = c.client;
    const char *url = c.url;
    unsigned long accepted = test_server_connections_accepted(c.server);

    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    outcome_clear(&out);
    ASSERT_UEQ(client_stats(client).open_connections, 1);
    sleep_ms(20);
    ASSERT_GET_REUSED(client, url, true); /* within the idle timeout */

    sleep_ms(300);
    ASSERT_UEQ(client_stats(client).open_connections, 0);
    ASSERT_GET_REUSED(client, url, false);
    gust_client_stats_t stats = client_stats(client);
    ASSERT_UEQ(stats.connections_opened, 2);
    ASSERT_UEQ(stats.retries, 0);
    ASSERT_UEQ(test_server_connections_accepted(c.server) - accepted, 2);
    idle_case_stop(&c);
}

/* A connection's one timer is lazy (http/conn.c): it stays where the idle
 * state armed it while a reused connection is busy. Two ways that could go
 * wrong: the idle deadline passing during a longer header timeout must not
 * fail the request, and a header timeout sooner than the idle deadline must
 * still fire on time. */
static void test_lazy_timer_states(void)
{
    idle_case_t c;
    idle_case_start(&c);
    const char *url = c.url;
    char slow[256];

    /* Idle until +100 ms; the answer comes 300 ms after the reuse. */
    ASSERT_GET_REUSED(c.client, url, false);
    test_server_url(c.server, slow, sizeof(slow), "/delay?ms=%d", 300);
    gust_request_t req = {.url = slow, .header_timeout_ns = 2000 * MS};
    outcome_t out = send_wait(c.client, &req);
    ASSERT_RESPONSE(out, 200);
    ASSERT_TRUE(gust_response_reused(out.resp));
    outcome_clear(&out);
    /* Idle again: the idle deadline is the connection's own once more. */
    sleep_ms(400);
    ASSERT_UEQ(client_stats(c.client).open_connections, 0);

    /* Idle until +5 s; then a header timeout of 50 ms on that connection,
     * sooner than where the timer stands. */
    gust_client_free(c.client);
    c.opts.idle_timeout_ns = 5000 * MS;
    c.client = new_client(c.runtime, &c.opts);
    ASSERT_GET_REUSED(c.client, url, false);
    test_server_url(c.server, slow, sizeof(slow), "/delay?ms=%d", 3000);
    req = (gust_request_t){.url = slow, .header_timeout_ns = 50 * MS};
    out = send_wait(c.client, &req);
    ASSERT_ERROR(out, GUST_ERR_HEADER_TIMEOUT);
    ASSERT_UGE(out.elapsed_ns, 50 * MS);
    ASSERT_ULT(out.elapsed_ns, 2500 * MS); /* not the idle timer's 5 s */
    outcome_clear(&out);
    idle_case_stop(&c);
}

/* max_requests_per_conn = 3: 10 requests use 4 connections, 3 + 3 + 3 + 1. */
static void test_max_requests_per_conn(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_requests_per_conn = 3;
    gust_client_t *client = new_client(runtime, &opts);
    unsigned long accepted = test_server_connections_accepted(server);
    char url[256];
    test_server_url(server, url, sizeof(url), "/bytes?n=%d", 10);
    for (int i = 0; i < 10; i++) {
        outcome_t out = get_wait(client, url);
        ASSERT_RESPONSE(out, 200);
        ASSERT_EQ(gust_response_reused(out.resp), i % 3 != 0);
        outcome_clear(&out);
    }
    gust_client_stats_t stats = client_stats(client);
    ASSERT_UEQ(stats.connections_opened, 4);
    ASSERT_UEQ(stats.connections_reused, 6);
    ASSERT_UEQ(test_server_connections_accepted(server) - accepted, 4);
    /* The fourth connection has served one request and stays open. */
    ASSERT_UEQ(stats.open_connections, 1);
    gust_client_free(client);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

int main(void)
{
    enum { NUM_STALE = sizeof(stale_cases) / sizeof(stale_cases[0]) };
    test_t tests[16 + NUM_STALE] = {
        {.name = "sequential reuse on one worker", .fn = test_sequential_reuse_one_worker},
        {.name = "the server closes an idle connection", .fn = test_server_closes_idle},
    };
    size_t n = 2;
    for (size_t i = 0; i < NUM_STALE; i++)
        tests[n++] = (test_t){
            .name = stale_cases[i].name, .with_arg = run_stale_case, .arg = &stale_cases[i]};
    tests[n++] =
        (test_t){.name = "the server closes right after each response", .fn = test_close_race};
    tests[n++] = (test_t){.name = "a retry waits for a new connection, not a kept-alive one",
                          .fn = test_retry_waits_for_new_connection};
    tests[n++] = (test_t){.name = "idle timeout", .fn = test_idle_timeout};
    tests[n++] = (test_t){.name = "the lazy timer across states", .fn = test_lazy_timer_states};
    tests[n++] = (test_t){.name = "Keep-Alive: timeout=2", .fn = test_server_keepalive_timeout_2};
    tests[n++] = (test_t){.name = "Keep-Alive: timeout=1", .fn = test_server_keepalive_timeout_1};
    tests[n++] = (test_t){.name = "two answers to one request", .fn = test_unsolicited_bytes};
    tests[n++] = (test_t){.name = "a response that comes while idle", .fn = test_bytes_while_idle};
    tests[n++] = (test_t){.name = "HTTP/1.0 closes", .fn = test_http10_close};
    tests[n++] = (test_t){.name = "HTTP/1.0 with keep-alive", .fn = test_http10_keep_alive};
    tests[n++] = (test_t){.name = "max_requests_per_conn", .fn = test_max_requests_per_conn};
    tests[n++] = (test_t){.name = "1,000 sequential GETs on the client's own runtime",
                          .fn = test_sequential_reuse};
    tests[n++] = (test_t){.name = "1,000 sequential GETs on 8 workers",
                          .fn = test_sequential_reuse_8_workers};
    ASSERT_ULE(n, sizeof(tests) / sizeof(tests[0]));
    return run_tests(tests, n, 20);
}
