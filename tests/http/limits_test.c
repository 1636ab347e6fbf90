/* Connection limits and the queue behind them, the total timeout over the
 * queue, cancellation, and thousands of requests in flight at once.
 *
 * How many connections are open at once is measured twice: by the servers
 * here, which count the requests in progress (a request leaves the count
 * before its response is sent, so a client that keeps to its limit can never
 * be seen over it), and by sampling the client's own open_connections. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tests/http/client_util.h"
#include "tests/http/raw_server.h"
#include "tests/support/http_server.h"
#include "tests/support/runtime.h"

/* ---- A server that counts the requests in progress ---- */

typedef struct busy_s {
    long delay_ms;
    atomic_uint in_progress; /* may be shared by several servers */
    atomic_uint max_in_progress;
} busy_t;

static bool busy_handler(void *arg, raw_conn_t *conn, const raw_request_t *req)
{
    (void)req;
    busy_t *busy = arg;
    unsigned now = atomic_fetch_add(&busy->in_progress, 1) + 1;
    unsigned max = atomic_load(&busy->max_in_progress);
    while (now > max && !atomic_compare_exchange_weak(&busy->max_in_progress, &max, now)) {
    }
    raw_sleep(conn, busy->delay_ms);
    /* Out of the count before the client can see the response. */
    atomic_fetch_sub(&busy->in_progress, 1);
    return raw_send(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

/* ---- Sampling the client's open connections ---- */

typedef struct sampler_s {
    gust_client_t *client;
    atomic_bool stop;
    uint64_t max_open;
    pthread_t thread;
} sampler_t;

static void *sampler_main(void *arg)
{
    sampler_t *s = arg;
    while (!atomic_load(&s->stop)) {
        uint64_t open = client_stats(s->client).open_connections;
        if (open > s->max_open)
            s->max_open = open;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void sampler_start(sampler_t *s, gust_client_t *client)
{
    memset(s, 0, sizeof(*s));
    s->client = client;
    ASSERT_EQ(pthread_create(&s->thread, NULL, sampler_main, s), 0);
}

static uint64_t sampler_stop(sampler_t *s)
{
    atomic_store(&s->stop, true);
    ASSERT_EQ(pthread_join(s->thread, NULL), 0);
    return s->max_open;
}

/* Sends `n` GETs of `urls[i % num_urls]` at once and checks each is a 200
 * "ok", sampling the client's open connections meanwhile. Returns the time
 * they took, with the most connections seen open in *out_max_open. */
static uint64_t send_all_ok(gust_client_t *client, char (*urls)[256], size_t num_urls, size_t n,
                            uint64_t *out_max_open)
{
    gust_future_t **futures = calloc(n, sizeof(*futures));
    ASSERT_NOT_NULL(futures);
    sampler_t sampler;
    sampler_start(&sampler, client);
    uint64_t start = now_ns();
    for (size_t i = 0; i < n; i++) {
        gust_request_t req = {.url = urls[i % num_urls]};
        futures[i] = gust_http_send(client, &req);
        ASSERT_NOT_NULL(futures[i]);
    }
    for (size_t i = 0; i < n; i++) {
        outcome_t out = outcome_of(futures[i], urls[i % num_urls], REQUEST_WAIT_S);
        ASSERT_RESPONSE(out, 200);
        assert_body(&out, "ok");
        outcome_clear(&out);
    }
    uint64_t elapsed = now_ns() - start;
    *out_max_open = sampler_stop(&sampler);
    free(futures);
    return elapsed;
}

/* max_per_host = 2: 20 requests of 50 ms at once all succeed, never more
 * than 2 at a time, so in no less than 10 rounds. */
static void per_host(gust_runtime_t *runtime)
{
    busy_t busy = {.delay_ms = 50};
    raw_server_t *server = raw_server_start(busy_handler, &busy);
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_per_host = 2;
    gust_client_t *client = new_client(runtime, &opts);
    char urls[1][256];
    raw_server_url(server, urls[0], sizeof(urls[0]), "/delay");
    uint64_t max_open;
    uint64_t elapsed = send_all_ok(client, urls, 1, 20, &max_open);
    gust_client_stats_t stats = client_stats(client);
    fprintf(stderr,
            "  %llu ms; at most %u in progress at the server, %llu open at the client; "
            "%u connections accepted, %llu opened\n",
            (unsigned long long)(elapsed / MS), atomic_load(&busy.max_in_progress),
            (unsigned long long)max_open, raw_server_accepted(server),
            (unsigned long long)stats.connections_opened);
    ASSERT_ULE(atomic_load(&busy.max_in_progress), 2);
    ASSERT_ULE(max_open, 2);
    ASSERT_ULE(stats.open_connections, 2);
    ASSERT_UGE(elapsed, 450 * MS);
    ASSERT_UEQ(raw_server_requests(server), 20);
    ASSERT_UEQ(stats.connections_opened, raw_server_accepted(server));
    gust_client_free(client);
    raw_server_stop(server);
}

static void test_per_host(void)
{
    per_host(NULL);
}

/* On one worker every connection can serve every queued request: exactly
 * 2 connections, each reused. */
static void test_per_host_one_worker(void)
{
    gust_runtime_t *runtime = new_runtime(1, 1);
    per_host(runtime);
    gust_runtime_free(runtime);
}

/* max_total = 3 over two origins. */
static void test_total(void)
{
    busy_t busy = {.delay_ms = 30};
    raw_server_t *a = raw_server_start(busy_handler, &busy);
    raw_server_t *b = raw_server_start(busy_handler, &busy);
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_total = 3;
    gust_client_t *client = new_client(NULL, &opts);
    char urls[2][256];
    raw_server_url(a, urls[0], sizeof(urls[0]), "/a");
    raw_server_url(b, urls[1], sizeof(urls[1]), "/b");
    uint64_t max_open;
    uint64_t elapsed = send_all_ok(client, urls, 2, 30, &max_open);
    fprintf(stderr, "  %llu ms; at most %u in progress, %llu open; %u + %u accepted\n",
            (unsigned long long)(elapsed / MS), atomic_load(&busy.max_in_progress),
            (unsigned long long)max_open, raw_server_accepted(a), raw_server_accepted(b));
    ASSERT_ULE(atomic_load(&busy.max_in_progress), 3);
    ASSERT_ULE(max_open, 3);
    ASSERT_ULE(client_stats(client).open_connections, 3);
    /* 30 requests of 30 ms, 3 at a time. */
    ASSERT_UGE(elapsed, 290 * MS);
    ASSERT_UEQ(raw_server_requests(a), 15);
    ASSERT_UEQ(raw_server_requests(b), 15);
    gust_client_free(client);
    raw_server_stop(b);
    raw_server_stop(a);
}

/* Completion order, recorded by the callbacks. */
typedef struct finish_order_s {
    atomic_uint next;
} finish_order_t;

typedef struct order_slot_s {
    finish_order_t *order;
    unsigned place; /* the order this request finished in */
} order_slot_t;

static void record_finish(gust_future_t *future, void *arg)
{
    (void)future;
    order_slot_t *slot = arg;
    /* Release: the place is written before the count that covers it. */
    slot->place = atomic_load_explicit(&slot->order->next, memory_order_relaxed);
    atomic_store_explicit(&slot->order->next, slot->place + 1, memory_order_release);
}

/* Under the total limit a connection that finishes goes on with a call
 * queued for its own origin instead of closing, but a call for an origin
 * with no connection still gets the next freed slot in its turn. */
static void test_total_reuses_for_own_origin(void)
{
    test_server_t *a = test_server_start(NULL);
    test_server_t *b = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_total = 2;
    gust_client_t *client = new_client(runtime, &opts);
    char url_a[256], url_b[256];
    test_server_url(a, url_a, sizeof(url_a), "/delay?ms=30");
    test_server_url(b, url_b, sizeof(url_b), "/delay?ms=30");
    /* 6 for a, 1 for b, 6 more for a. */
    enum { NUM = 13, B_INDEX = 6 };
    finish_order_t order = {0};
    order_slot_t slots[NUM];
    gust_future_t *futures[NUM];
    for (unsigned i = 0; i < NUM; i++) {
        slots[i] = (order_slot_t){.order = &order};
        gust_request_t req = {.url = i == B_INDEX ? url_b : url_a,
                              .on_done = record_finish,
                              .on_done_arg = &slots[i]};
        futures[i] = gust_http_send(client, &req);
        ASSERT_NOT_NULL(futures[i]);
    }
    for (unsigned i = 0; i < NUM; i++) {
        outcome_t out = outcome_of(futures[i], i == B_INDEX ? url_b : url_a, REQUEST_WAIT_S);
        ASSERT_RESPONSE(out, 200);
        outcome_clear(&out);
    }
    /* A future completes before its callback runs: wait for the last. */
    for (int i = 0; atomic_load_explicit(&order.next, memory_order_acquire) < NUM; i++) {
        ASSERT_LT(i, 5000);
        sleep_ms(1);
    }
    gust_client_stats_t stats = client_stats(client);
    fprintf(stderr, "  %llu connections opened (%lu to a, %lu to b); b finished %u of %u\n",
            (unsigned long long)stats.connections_opened, test_server_connections_accepted(a),
            test_server_connections_accepted(b), slots[B_INDEX].place + 1, NUM);
    /* Two to a, one to b when its turn came, one to a again after it:
     * closing each finished connection would have opened 13. */
    ASSERT_ULE(stats.connections_opened, 4);
    /* b was not left until a's queue ran dry. */
    ASSERT_ULT(slots[B_INDEX].place, slots[NUM - 1].place);
    gust_client_free(client);
    gust_runtime_free(runtime);
    test_server_stop(b);
    test_server_stop(a);
}

/* Waits (at most 5 s) until the server has read `n` requests. */
static void wait_served(const test_server_t *server, unsigned long n)
{
    for (int i = 0; test_server_requests_served(server) < n; i++) {
        if (i == 5000)
            CHECK_FAIL_("the server did not get %lu requests within 5 s", n);
        sleep_ms(1);
    }
}

/* The total timeout counts the time queued for a connection, unless the
 * client says total_after_queue. */
static void queued_behind(bool total_after_queue)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_per_host = 1;
    opts.total_after_queue = total_after_queue;
    gust_client_t *client = new_client(NULL, &opts);
    char slow[256], quick[256];
    test_server_url(server, slow, sizeof(slow), "/delay?ms=%d", 400);
    test_server_url(server, quick, sizeof(quick), "/delay?ms=%d", 10);
    gust_request_t slow_req = {.url = slow, .total_timeout_ns = 5000 * MS};
    gust_request_t quick_req = {.url = quick, .total_timeout_ns = 200 * MS};
    gust_future_t *first = gust_http_send(client, &slow_req);
    ASSERT_NOT_NULL(first);
    wait_served(server, 1); /* it holds the only connection */
    outcome_t second = send_wait(client, &quick_req);
    if (!total_after_queue) {
        ASSERT_ERROR(second, GUST_ERR_TOTAL_TIMEOUT);
        ASSERT_CONTAINS(second.message, quick);
        ASSERT_UGE(second.elapsed_ns, 200 * MS);
    } else {
        ASSERT_RESPONSE(second, 200);
        /* It waited for the first to finish. */
        ASSERT_UGE(second.elapsed_ns, 250 * MS);
    }
    outcome_clear(&second);
    outcome_t out = outcome_of(first, slow, REQUEST_WAIT_S);
    ASSERT_RESPONSE(out, 200);
    outcome_clear(&out);
    /* A request that timed out in the queue was never sent. */
    ASSERT_UEQ(test_server_requests_served(server), total_after_queue ? 2 : 1);
    gust_client_free(client);
    test_server_stop(server);
}

static void test_total_timeout_covers_queue(void)
{
    queued_behind(false);
}

static void test_total_after_queue(void)
{
    queued_behind(true);
}

/* ---- Cancellation ---- */

typedef struct free_arg_s {
    gust_client_t *client;
    sem_t done;
} free_arg_t;

static void *free_main(void *arg)
{
    free_arg_t *f = arg;
    gust_client_free(f->client);
    ASSERT_EQ(sem_post(&f->done), 0);
    return NULL;
}

/* gust_client_free, failing the test if it takes more than `seconds`. */
static void client_free_within(gust_client_t *client, int seconds)
{
    free_arg_t f = {.client = client};
    ASSERT_EQ(sem_init(&f.done, 0, 0), 0);
    pthread_t thread;
    uint64_t start = now_ns();
    ASSERT_EQ(pthread_create(&thread, NULL, free_main, &f), 0);
    wait_sem(&f.done, seconds, "gust_client_free after the requests were cancelled");
    ASSERT_EQ(pthread_join(thread, NULL), 0);
    fprintf(stderr, "  gust_client_free took %llu ms\n",
            (unsigned long long)((now_ns() - start) / MS));
    ASSERT_EQ(sem_destroy(&f.done), 0);
}

static void assert_cancelled(gust_future_t *future)
{
    ASSERT_EQ(gust_future_state(future), GUST_FUTURE_CANCELLED);
    ASSERT_EQ(gust_future_error(future), GUST_ERR_CANCELLED);
    ASSERT_NULL(gust_http_response(future));
}

/* A request the server never answers: cancelling completes its future at
 * once, and the client can then be freed promptly. */
static void test_cancel_no_response(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    test_server_url(server, url, sizeof(url), "/no-response");
    gust_request_t req = {.url = url};
    gust_future_t *future = gust_http_send(client, &req);
    ASSERT_NOT_NULL(future);
    wait_served(server, 1);
    ASSERT_TRUE(gust_future_cancel(future));
    assert_cancelled(future);
    ASSERT_EQ(gust_future_wait_for(future, 0), GUST_FUTURE_CANCELLED);
    gust_future_free(future);
    client_free_within(client, 3);
    test_server_stop(server);
}

/* A request waiting in the queue behind one the server never answers:
 * cancelling the queued one, then the other, lets the client go. */
static void test_cancel_queued(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_per_host = 1;
    gust_client_t *client = new_client(NULL, &opts);
    char hold[256], queued[256];
    test_server_url(server, hold, sizeof(hold), "/no-response");
    test_server_url(server, queued, sizeof(queued), "/bytes?n=%d", 10);
    gust_request_t hold_req = {.url = hold};
    gust_request_t queued_req = {.url = queued};
    gust_future_t *first = gust_http_send(client, &hold_req);
    ASSERT_NOT_NULL(first);
    wait_served(server, 1);
    gust_future_t *second = gust_http_send(client, &queued_req);
    ASSERT_NOT_NULL(second);
    sleep_ms(50);
    ASSERT_EQ(gust_future_state(second), GUST_FUTURE_PENDING);
    ASSERT_TRUE(gust_future_cancel(second));
    assert_cancelled(second);
    ASSERT_TRUE(gust_future_cancel(first));
    assert_cancelled(first);
    gust_future_free(second);
    gust_future_free(first);
    client_free_within(client, 3);
    /* The queued request was never sent. */
    ASSERT_UEQ(test_server_requests_served(server), 1);
    test_server_stop(server);
}

/* A request cancelled while its response is on the way: the late response
 * is dropped with its connection, and the client goes on. */
static void test_cancel_then_continue(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(1, 1);
    gust_client_t *client = new_client(runtime, NULL);
    char slow[256], quick[256];
    test_server_url(server, slow, sizeof(slow), "/delay?ms=%d", 200);
    test_server_url(server, quick, sizeof(quick), "/bytes?n=%d", 10);
    gust_request_t req = {.url = slow};
    gust_future_t *future = gust_http_send(client, &req);
    ASSERT_NOT_NULL(future);
    wait_served(server, 1);
    ASSERT_TRUE(gust_future_cancel(future));
    assert_cancelled(future);
    gust_future_free(future);
    sleep_ms(400); /* the response arrives meanwhile */
    outcome_t out = get_wait(client, quick);
    ASSERT_RESPONSE(out, 200);
    assert_pattern_body(&out, 10);
    /* The cancelled request's connection was closed, not reused. */
    ASSERT_FALSE(gust_response_reused(out.resp));
    outcome_clear(&out);
    ASSERT_UEQ(client_stats(client).connections_opened, 2);
    gust_client_free(client);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

/* ---- Thousands at once ---- */

enum { NUM_MANY = 2000 };

static size_t many_len(size_t i)
{
    return (i * 37) % 5000;
}

typedef struct many_s {
    atomic_uint done;
    atomic_uint bad;
    sem_t all_done;
} many_t;

typedef struct many_arg_s {
    many_t *many;
    size_t len;
} many_arg_t;

/* On a worker, once each request completes. */
static void many_done(gust_future_t *future, void *arg)
{
    many_arg_t *a = arg;
    gust_response_t *resp = gust_http_response(future);
    size_t len = 0;
    if (resp == NULL) {
        fprintf(stderr, "request failed: %s\n", gust_future_message(future));
        atomic_fetch_add(&a->many->bad, 1);
    } else if (gust_response_status(resp) != 200 ||
               (gust_response_body(resp, &len), len != a->len)) {
        fprintf(stderr, "status %d, %zu bytes, want 200 and %zu\n", gust_response_status(resp), len,
                a->len);
        atomic_fetch_add(&a->many->bad, 1);
    }
    if (atomic_fetch_add(&a->many->done, 1) + 1 == NUM_MANY)
        ASSERT_EQ(sem_post(&a->many->all_done), 0);
}

/* 2,000 requests at once on a runtime of 2 workers, counted by completion
 * callbacks. */
static void test_many_callbacks(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(2, 2);
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_per_host = 64;
    gust_client_t *client = new_client(runtime, &opts);
    many_t many = {0};
    ASSERT_EQ(sem_init(&many.all_done, 0, 0), 0);
    many_arg_t *args = calloc(NUM_MANY, sizeof(*args));
    gust_future_t **futures = calloc(NUM_MANY, sizeof(*futures));
    ASSERT_NOT_NULL(args);
    ASSERT_NOT_NULL(futures);
    uint64_t start = now_ns();
    for (size_t i = 0; i < NUM_MANY; i++) {
        char url[256];
        args[i] = (many_arg_t){&many, many_len(i)};
        test_server_url(server, url, sizeof(url), "/bytes?n=%zu", many_len(i));
        gust_request_t req = {.url = url, .on_done = many_done, .on_done_arg = &args[i]};
        futures[i] = gust_http_send(client, &req);
        ASSERT_NOT_NULL(futures[i]);
    }
    wait_sem(&many.all_done, 30, "2,000 completion callbacks");
    fprintf(stderr, "  %d requests in %llu ms over %llu connections\n", NUM_MANY,
            (unsigned long long)((now_ns() - start) / MS),
            (unsigned long long)client_stats(client).connections_opened);
    ASSERT_UEQ(atomic_load(&many.done), NUM_MANY);
    ASSERT_UEQ(atomic_load(&many.bad), 0);
    for (size_t i = 0; i < NUM_MANY; i++)
        gust_future_free(futures[i]);
    ASSERT_UEQ(client_stats(client).requests, NUM_MANY);
    ASSERT_ULE(client_stats(client).open_connections, 64);
    gust_client_free(client);
    gust_runtime_free(runtime);
    ASSERT_EQ(sem_destroy(&many.all_done), 0);
    free(futures);
    free(args);
    test_server_stop(server);
}

/* 2,000 requests at once, up to 256 connections (a thread each at the
 * server), each future waited for from the main thread. */
static void test_many_futures(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(2, 2);
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_per_host = 256;
    gust_client_t *client = new_client(runtime, &opts);
    gust_future_t **futures = calloc(NUM_MANY, sizeof(*futures));
    ASSERT_NOT_NULL(futures);
    uint64_t start = now_ns();
    char url[256];
    for (size_t i = 0; i < NUM_MANY; i++) {
        test_server_url(server, url, sizeof(url), "/chunked?n=%zu&chunk=1000", many_len(i));
        gust_request_t req = {.url = url};
        futures[i] = gust_http_send(client, &req);
        ASSERT_NOT_NULL(futures[i]);
    }
    for (size_t i = 0; i < NUM_MANY; i++) {
        test_server_url(server, url, sizeof(url), "/chunked?n=%zu&chunk=1000", many_len(i));
        outcome_t out = outcome_of(futures[i], url, 30);
        ASSERT_RESPONSE(out, 200);
        assert_pattern_body(&out, many_len(i));
        outcome_clear(&out);
    }
    fprintf(stderr, "  %d requests in %llu ms over %llu connections\n", NUM_MANY,
            (unsigned long long)((now_ns() - start) / MS),
            (unsigned long long)client_stats(client).connections_opened);
    gust_client_free(client);
    gust_runtime_free(runtime);
    free(futures);
    test_server_stop(server);
}

int main(void)
{
    static const test_t tests[] = {
        {.name = "max_per_host 2, one worker", .fn = test_per_host_one_worker},
        {.name = "max_per_host 2, the client's own runtime", .fn = test_per_host},
        {.name = "max_total 3 over two origins", .fn = test_total},
        {.name = "max_total 2: reuse for the own origin, a slot for one with none",
         .fn = test_total_reuses_for_own_origin},
        {.name = "the total timeout covers the queue", .fn = test_total_timeout_covers_queue},
        {.name = "total_after_queue", .fn = test_total_after_queue},
        {.name = "cancel a request with no response", .fn = test_cancel_no_response},
        {.name = "cancel a queued request", .fn = test_cancel_queued},
        {.name = "cancel, then go on", .fn = test_cancel_then_continue},
        {.name = "2,000 at once, completion callbacks", .fn = test_many_callbacks},
        {.name = "2,000 at once, futures", .fn = test_many_futures},
    };
    return run_tests(tests, sizeof(tests) / sizeof(tests[0]), 40);
}
