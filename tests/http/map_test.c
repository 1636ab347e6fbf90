/* map and imap against the test server: input order, error slots filled by
 * the handler, every index reported exactly once, per-host limits, retries,
 * and a large map with faults mixed in that accounts for every slot. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gust/client.h"
#include "gust/err.h"
#include "gust/map.h"
#include "tests/support/check.h"
#include "tests/support/http_server.h"

static gust_client_t *new_client(unsigned threads)
{
    gust_runtime_opts_t ro = gust_runtime_opts_default();
    ro.pool.num_threads = threads;
    gust_runtime_t *runtime = gust_runtime_new(&ro);
    ASSERT_PTR_NE(runtime, NULL);
    gust_client_opts_t co = gust_client_opts_default();
    co.total_timeout_ns = 10000000000ull;
    gust_client_t *client = gust_client_new(runtime, &co);
    ASSERT_PTR_NE(client, NULL);
    return client;
}

static void free_client(gust_client_t *client)
{
    gust_runtime_t *runtime = gust_client_runtime(client);
    gust_client_free(client);
    gust_runtime_free(runtime);
}

/* The handler's substitute for a failed slot: a marker the test finds. */
static gust_response_t *marker;

static gust_response_t *substitute(const gust_request_t *req, int err, const char *message,
                                   void *arg)
{
    atomic_int *failures = arg;
    ASSERT_EQ(err, GUST_ERR_CONNECT_REFUSED);
    ASSERT_PTR_NE(strstr(message, req->url), NULL);
    atomic_fetch_add(failures, 1);
    return gust_response_up_ref(marker);
}

/* Odd slots ask for a different length, every tenth goes to a dead port. */
static void map_keeps_input_order(gust_client_t *client, test_server_t *server)
{
    enum { N = 300 };
    static char urls[N][128];
    static gust_request_t reqs[N];
    for (int i = 0; i < N; i++) {
        if (i % 10 == 9)
            snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:1/dead/%d", i);
        else
            test_server_url(server, urls[i], sizeof(urls[i]), "/bytes?n=%d", 100 + i);
        reqs[i] = (gust_request_t){.url = urls[i]};
    }
    /* A response to stand in for failures: any real one will do. */
    char *msg = NULL;
    ASSERT_EQ(gust_http_get(client, urls[0], &marker, &msg), 0);

    atomic_int failures = 0;
    gust_map_opts_t o = gust_map_opts_default();
    o.size = 16;
    o.on_error = substitute;
    o.arg = &failures;
    static gust_response_t *out[N];
    ASSERT_EQ(gust_http_map(client, reqs, N, &o, out), 0);
    for (int i = 0; i < N; i++) {
        ASSERT_PTR_NE(out[i], NULL);
        if (i % 10 == 9) {
            ASSERT_PTR_EQ(out[i], marker);
        } else {
            size_t len;
            gust_response_body(out[i], &len);
            ASSERT_UEQ(len, 100 + i);
        }
        gust_response_free(out[i]);
    }
    ASSERT_EQ(atomic_load(&failures), N / 10);
    gust_response_free(marker);
}

typedef struct gen_s {
    test_server_t *server;
    size_t count;
    char url[128];
} gen_t;

static bool generate(void *arg, size_t index, gust_request_t *out)
{
    gen_t *g = arg;
    if (index >= g->count)
        return false;
    /* The same buffer every time: imap must have copied the last one. */
    test_server_url(g->server, g->url, sizeof(g->url), "/bytes?n=%zu", index % 50);
    *out = (gust_request_t){.url = g->url};
    return true;
}

static void imap_reports_each_index_once(gust_client_t *client, test_server_t *server)
{
    gen_t g = {.server = server, .count = 5000};
    gust_map_opts_t o = gust_map_opts_default();
    o.size = 64;
    gust_imap_t *it = gust_http_imap(client, generate, &g, &o);
    ASSERT_PTR_NE(it, NULL);
    unsigned char *seen = calloc(g.count, 1);
    size_t results = 0;
    gust_map_result_t r;
    while (gust_imap_next(it, &r)) {
        ASSERT_UEQ(r.err, 0);
        ASSERT_LT(r.index, g.count);
        ASSERT_EQ(seen[r.index], 0);
        seen[r.index] = 1;
        size_t len;
        gust_response_body(r.response, &len);
        ASSERT_UEQ(len, r.index % 50);
        gust_response_free(r.response);
        results++;
    }
    ASSERT_UEQ(results, g.count);
    free(seen);
    gust_imap_free(it);
}

static void per_host_limit_holds(gust_client_t *client, test_server_t *server)
{
    enum { N = 20 };
    char urls[N][128];
    gust_request_t reqs[N];
    for (int i = 0; i < N; i++) {
        test_server_url(server, urls[i], sizeof(urls[i]), "/delay?ms=20");
        reqs[i] = (gust_request_t){.url = urls[i]};
    }
    unsigned long before = test_server_connections_accepted(server);
    gust_map_opts_t o = gust_map_opts_default();
    o.size = 20;
    o.per_host = 2;
    gust_response_t *out[N];
    ASSERT_EQ(gust_http_map(client, reqs, N, &o, out), 0);
    for (int i = 0; i < N; i++) {
        ASSERT_PTR_NE(out[i], NULL);
        gust_response_free(out[i]);
    }
    /* Two at a time over kept-alive connections: the idle ones are reused,
     * so the server sees at most a few new connections (one per worker and
     * slot), never twenty. */
    ASSERT_ULE(test_server_connections_accepted(server) - before, 4);
}

static void note_attempts(const gust_map_result_t *result, void *arg)
{
    *(unsigned *)arg = result->attempts;
}

/* A 503 is retried `retries` times, then delivered as it is; a refused
 * connection likewise ends as its error. */
static void retries_503_and_refused(gust_client_t *client, test_server_t *server)
{
    char url[128];
    test_server_url(server, url, sizeof(url), "/status?code=503");
    gust_request_t reqs[2] = {{.url = url}, {.url = "http://127.0.0.1:1/"}};
    unsigned attempts = 0;
    gust_map_opts_t o = gust_map_opts_default();
    o.size = 1; /* one at a time: the last result's attempts is the second's */
    o.retries = 2;
    o.backoff_ns = 1000000; /* 1 ms */
    o.on_result = note_attempts;
    o.arg = &attempts;
    unsigned long served = test_server_requests_served(server);
    gust_response_t *out[2];
    ASSERT_EQ(gust_http_map(client, reqs, 2, &o, out), 0);
    ASSERT_EQ(gust_response_status(out[0]), 503);
    ASSERT_UEQ(test_server_requests_served(server) - served, 3);
    ASSERT_PTR_EQ(out[1], NULL);
    ASSERT_UEQ(attempts, 3);
    gust_response_free(out[0]);

    gust_imap_t *it = gust_http_imap(client, NULL, NULL, &o);
    gust_imap_free(it); /* an iterator never started frees cleanly */
}

int main(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(2);
    map_keeps_input_order(client, server);
    imap_reports_each_index_once(client, server);
    per_host_limit_holds(client, server);
    retries_503_and_refused(client, server);
    free_client(client);
    test_server_stop(server);
    return 0;
}
