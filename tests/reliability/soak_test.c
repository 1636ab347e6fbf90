/* The soak: SOAK_REQUESTS requests (or $GUST_SOAK_REQUESTS) through gust_http_map against the test
 * server's random faults (/random?seed=<i>: resets, closes mid-body, delays,
 * malformed headers, slow bodies, good answers), in batches so that memory
 * holds one batch of responses at a time.
 *
 * Every future completes exactly once (its on_done counts it) and map
 * reports every index exactly once; responses plus errors are the number
 * sent; each outcome is the one the seed chose on the server; the process
 * holds as many fds after the client is freed as before it was made; and
 * the resident set stops growing once warmed up. The server runs in a process
 * of its own, so the fds and memory counted are the client's alone. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gust/map.h"
#include "tests/http/client_util.h"
#include "tests/support/fds.h"
#include "tests/support/http_server_process.h"

/* Set by the BUILD file per configuration. */
#ifndef SOAK_REQUESTS
#define SOAK_REQUESTS 1000000
#endif
/* How far the resident set may grow past its size in the first half. */
#ifndef SOAK_RSS_GROWTH_MIB
#define SOAK_RSS_GROWTH_MIB 16
#endif

enum {
    BATCH = 10000,
    IN_FLIGHT = 64,
    URL_LEN = 80,
};

static size_t num_requests(void)
{
    const char *env = getenv("GUST_SOAK_REQUESTS");
    return env != NULL ? strtoul(env, NULL, 10) : SOAK_REQUESTS;
}

/* One batch's bookkeeping. */
typedef struct batch_s {
    size_t first; /* the global index, and seed, of reqs[0] */
    size_t num;
    char (*urls)[URL_LEN];
    gust_request_t *reqs;
    gust_response_t **out;
    atomic_uint *futures_done; /* per request, by on_done */
    unsigned *results;         /* per request, by on_result */
    int *errs;                 /* per request: what on_result saw */
} batch_t;

static void on_future_done(gust_future_t *future, void *arg)
{
    (void)future;
    /* Relaxed: read after gust_http_map returns, which orders it. */
    atomic_fetch_add_explicit((atomic_uint *)arg, 1, memory_order_relaxed);
}

static void on_result(const gust_map_result_t *result, void *arg)
{
    batch_t *b = arg;
    ASSERT_ULT(result->index, b->num);
    b->results[result->index]++;
    b->errs[result->index] = result->err;
    if (result->err != 0)
        ASSERT_CONTAINS(result->message, b->urls[result->index]);
}

/* The error the client must give for `f`, or 0 for a 200. */
static int expected_err(const test_server_fault_t *f)
{
    switch (f->kind) {
    case TEST_FAULT_NONE:
    case TEST_FAULT_DELAY:
    case TEST_FAULT_SLOW_BODY:
        return 0;
    case TEST_FAULT_RESET:
        return GUST_ERR_CONN_RESET;
    case TEST_FAULT_CLOSE_MID_BODY:
        return GUST_ERR_CONN_CLOSED;
    case TEST_FAULT_MALFORMED_HEADER:
        return GUST_ERR_PARSE;
    }
    CHECK_FAIL_("fault kind %d", (int)f->kind);
}

/* Checks every request of the batch against its seed's fault; adds to the
 * tallies and frees the responses. */
static void check_batch(const batch_t *b, size_t *responses, size_t *errors, size_t *by_kind)
{
    for (size_t i = 0; i < b->num; i++) {
        size_t seed = b->first + i;
        if (atomic_load_explicit(&b->futures_done[i], memory_order_relaxed) != 1 ||
            b->results[i] != 1)
            CHECK_FAIL_("request %zu: its future completed %u times, map reported it %u times",
                        seed, atomic_load(&b->futures_done[i]), b->results[i]);
        test_server_fault_t f = test_server_random_fault(seed);
        by_kind[f.kind]++;
        int want = expected_err(&f);
        if (b->errs[i] != want)
            CHECK_FAIL_("request %zu (%s, fault %d): got %s, want %s", seed, b->urls[i],
                        (int)f.kind, gust_err_name(b->errs[i]), gust_err_name(want));
        if (want != 0) {
            ASSERT_NULL(b->out[i]);
            (*errors)++;
            continue;
        }
        ASSERT_NOT_NULL(b->out[i]);
        ASSERT_EQ(gust_response_status(b->out[i]), 200);
        size_t len;
        const char *body = gust_response_body(b->out[i], &len);
        ASSERT_UEQ(len, f.body_len);
        assert_pattern(body, len, 0);
        gust_response_free(b->out[i]);
        (*responses)++;
    }
}

/* The resident set, in bytes. */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    ASSERT_NOT_NULL(f);
    unsigned long size, resident;
    ASSERT_EQ(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

int main(void)
{
    /* Before any thread of ours: the server's process is a fork. */
    test_server_process_t *server = test_server_process_start(NULL);
    int fds_before = count_fds();
    uint64_t start = now_ns();

    gust_client_t *client = new_client(NULL, NULL);
    batch_t b = {
        .urls = calloc(BATCH, sizeof(*b.urls)),
        .reqs = calloc(BATCH, sizeof(*b.reqs)),
        .out = calloc(BATCH, sizeof(*b.out)),
        .futures_done = calloc(BATCH, sizeof(*b.futures_done)),
        .results = calloc(BATCH, sizeof(*b.results)),
        .errs = calloc(BATCH, sizeof(*b.errs)),
    };
    ASSERT_TRUE(b.urls && b.reqs && b.out && b.futures_done && b.results && b.errs);
    gust_map_opts_t opts = gust_map_opts_default();
    opts.size = IN_FLIGHT;
    opts.on_result = on_result;
    opts.arg = &b;

    size_t responses = 0, errors = 0, by_kind[TEST_FAULT_MALFORMED_HEADER + 1] = {0};
    size_t rss_warm = 0, rss_max = 0;
    size_t n = num_requests();
    size_t num_batches = (n + BATCH - 1) / BATCH;
    for (size_t batch = 0; batch < num_batches; batch++) {
        b.first = batch * BATCH;
        b.num = n - b.first < BATCH ? n - b.first : BATCH;
        for (size_t i = 0; i < b.num; i++) {
            int n = snprintf(b.urls[i], URL_LEN, "%s/random?seed=%zu",
                             test_server_process_origin(server), b.first + i);
            ASSERT_TRUE(n > 0 && n < URL_LEN);
            b.reqs[i] = (gust_request_t){
                .url = b.urls[i],
                .on_done = on_future_done,
                .on_done_arg = &b.futures_done[i],
            };
            atomic_init(&b.futures_done[i], 0);
            b.results[i] = 0;
        }
        ASSERT_EQ(gust_http_map(client, b.reqs, b.num, &opts, b.out), 0);
        check_batch(&b, &responses, &errors, by_kind);

        /* The first half warms up (pools, caches and the allocator's arenas
         * reach their working size, in steps); the second must not grow
         * past it: a leak of 32 bytes a request would, at 1M. */
        size_t rss = rss_bytes();
        if (batch < num_batches / 2 || num_batches == 1)
            rss_warm = rss > rss_warm ? rss : rss_warm;
        else
            rss_max = rss > rss_max ? rss : rss_max;
        if ((batch + 1) % 10 == 0 || batch + 1 == num_batches)
            fprintf(stderr, "%zu requests, %.1f s, rss %zu KiB, %d fds\n", b.first + b.num,
                    (double)(now_ns() - start) / 1e9, rss >> 10, count_fds());
    }
    size_t rss_end = rss_bytes();
    gust_client_free(client);
    int fds_after = count_fds();
    test_server_counts_t counts = test_server_process_counts(server);
    test_server_process_stop(server);

    fprintf(stderr,
            "%zu requests in %.1f s: %zu responses, %zu errors (good %zu, delayed %zu, slow body "
            "%zu, reset %zu, closed mid-body %zu, malformed header %zu); the server accepted %lu "
            "connections and served %lu requests; rss at most %zu KiB in the first half, %zu KiB "
            "in the second, %zu KiB at the end; fds %d before, %d after\n",
            n, (double)(now_ns() - start) / 1e9, responses, errors, by_kind[TEST_FAULT_NONE],
            by_kind[TEST_FAULT_DELAY], by_kind[TEST_FAULT_SLOW_BODY], by_kind[TEST_FAULT_RESET],
            by_kind[TEST_FAULT_CLOSE_MID_BODY], by_kind[TEST_FAULT_MALFORMED_HEADER],
            counts.connections_accepted, counts.requests_served, rss_warm >> 10, rss_max >> 10,
            rss_end >> 10, fds_before, fds_after);
    ASSERT_UEQ(responses + errors, n);
    /* Retries of resets on reused connections make the server's count larger. */
    ASSERT_UGE(counts.requests_served, n);
    ASSERT_EQ(fds_after, fds_before);
    ASSERT_ULE(rss_max, rss_warm + ((size_t)SOAK_RSS_GROWTH_MIB << 20));

    free(b.urls);
    free(b.reqs);
    free(b.out);
    free(b.futures_done);
    free(b.results);
    free(b.errs);
    return 0;
}
