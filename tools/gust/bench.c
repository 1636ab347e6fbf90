/* `gust bench`: a wrk-like load generator. N lanes each keep one request in
 * flight: a request's on_done callback (on a worker) records it and sends the
 * lane's next, until the count (-n) or the time (-d) runs out; the last lane
 * to retire posts the semaphore the calling thread waits on.
 *
 * The future gust_http_send returns is not kept: its reference passes to the
 * on_done callback, which drops it (the future stays alive for the
 * callback's whole call), so a sender never touches a future that may
 * already be complete and freed. */
#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gust/internal.h"

static const char usage[] =
    "usage: gust bench [-c N] [-n N | -d SECONDS] [--pipeline D] [-k] [--threads T]\n"
    "                  [--timeout S] [--cacert FILE] [-H 'Name: value']... [-X METHOD] URL\n";

static const char help[] =
    "\n"
    "Load URL with N requests in flight at a time, like wrk, and report requests\n"
    "per second, transfer rate, latency percentiles, status codes and errors by\n"
    "name, and the connections opened, on stdout.\n"
    "\n"
    "  -c, --concurrency N  connections, each with one request in flight (default 50)\n"
    "      --pipeline D     HTTP/1.1 pipelining: D requests in flight per connection\n"
    "                       (N x D in all; GET and HEAD only) (default 1: none)\n"
    "  -n, --requests N     requests in all (default 10000)\n"
    "  -d, --duration S     run for S seconds instead (at most 3600)\n"
    "  -k, --insecure       do not verify TLS certificates\n"
    "      --threads T      worker threads (default: one per CPU)\n"
    "      --timeout S      total seconds per request (default 30)\n"
    "      --cacert FILE    trust the CAs in FILE (PEM) instead of the system's\n"
    "  -H, --header H       add the header 'Name: value' (repeatable)\n"
    "  -X, --request METHOD the method (default GET)\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 once the run is done (failed requests are counted, not\n"
    "fatal), 1 if it could not start, 2 for bad arguments.\n";

enum {
    OPT_HELP = 1,
    OPT_CONCURRENCY,
    OPT_REQUESTS,
    OPT_DURATION,
    OPT_REQUEST,
    OPT_PIPELINE,
};

static const args_opt_t options[] = {
    {OPT_HELP, "help", 'h', false},
    {OPT_CONCURRENCY, "concurrency", 'c', true},
    {OPT_REQUESTS, "requests", 'n', true},
    {OPT_DURATION, "duration", 'd', true},
    {OPT_INSECURE, "insecure", 'k', false},
    {OPT_THREADS, "threads", 0, true},
    {OPT_TIMEOUT, "timeout", 0, true},
    {OPT_CACERT, "cacert", 0, true},
    {OPT_HEADER, "header", 'H', true},
    {OPT_REQUEST, "request", 'X', true},
    {OPT_PIPELINE, "pipeline", 0, true},
    {0, NULL, 0, false},
};

typedef struct bench_s bench_t;

/* One request in flight at a time; only the callback of its current request
 * touches it, so it needs no lock. */
typedef struct lane_s {
    bench_t *bench;
    uint64_t start_ns;
} lane_t;

struct bench_s {
    gust_client_t *client;
    gust_request_t req;
    stats_t *stats;
    unsigned long target; /* requests in all, or 0 to run until deadline_ns */
    uint64_t deadline_ns;
    /* Claimed sends: a lane that claims a number >= target retires.
     * Relaxed: only the count matters. */
    atomic_ulong sent;
    /* Retired lanes. acq_rel: the last retirement acquires every other
     * lane's recordings and hands them to the waiter through `finished`. */
    atomic_uint retired;
    unsigned num_lanes;
    sem_t finished;
};

static void lane_send(lane_t *lane);

/* On a worker, once a lane's request is complete. */
static void on_done(gust_future_t *future, void *arg)
{
    lane_t *lane = arg;
    uint64_t latency = now_ns() - lane->start_ns;
    gust_response_t *resp = gust_http_response(future);
    size_t len = 0;
    if (resp != NULL) {
        gust_response_body(resp, &len);
        stats_record(lane->bench->stats, gust_response_status(resp), 0, len, latency);
    } else {
        stats_record(lane->bench->stats, 0, gust_future_error(future), 0, latency);
    }
    /* The sender's reference, handed over at gust_http_send. */
    gust_future_free(future);
    lane_send(lane);
}

static void lane_send(lane_t *lane)
{
    bench_t *b = lane->bench;
    for (;;) {
        bool go = b->target != 0
                      ? atomic_fetch_add_explicit(&b->sent, 1, memory_order_relaxed) < b->target
                      : now_ns() < b->deadline_ns;
        if (!go)
            break;
        gust_request_t req = b->req;
        req.on_done = on_done;
        req.on_done_arg = lane;
        lane->start_ns = now_ns();
        /* Nothing of the lane may be touched after a successful send: its
         * callback may already be running. */
        if (gust_http_send(b->client, &req) != NULL)
            return;
        stats_record(b->stats, 0, GUST_ERR_NOMEM, 0, 0);
    }
    if (atomic_fetch_add_explicit(&b->retired, 1, memory_order_acq_rel) + 1 == b->num_lanes)
        sem_post(&b->finished);
}

static int run(bench_t *b, const client_opts_t *co, const char *url, unsigned concurrency,
               uint64_t duration_ns)
{
    int rc = EXIT_FAILED;
    client_t c;
    lane_t *lanes = calloc(concurrency, sizeof(*lanes));
    b->stats = stats_new();
    if (lanes == NULL || b->stats == NULL) {
        fprintf(stderr, "gust bench: out of memory\n");
        goto fail;
    }
    if (!client_new(&c, co))
        goto fail;
    b->client = c.client;
    b->num_lanes = concurrency;
    sem_init(&b->finished, 0, 0);
    unsigned threads = gust_pool_num_threads(gust_runtime_pool(c.runtime));
    if (b->target != 0)
        printf("gust bench: %s %s: %lu requests, %u in flight, %u threads\n",
               b->req.method != NULL ? b->req.method : "GET", url, b->target, concurrency, threads);
    else
        printf("gust bench: %s %s: for %.1f s, %u in flight, %u threads\n",
               b->req.method != NULL ? b->req.method : "GET", url, (double)duration_ns / 1e9,
               concurrency, threads);
    fflush(stdout);

    progress_t progress;
    uint64_t start = now_ns();
    b->deadline_ns = duration_ns != 0 ? start + duration_ns : 0;
    progress_start(&progress, b->stats, true, b->target, NULL, b->deadline_ns);
    for (unsigned i = 0; i < concurrency; i++) {
        lanes[i].bench = b;
        lane_send(&lanes[i]);
    }
    while (sem_wait(&b->finished) != 0 && errno == EINTR) {
    }
    uint64_t wall = now_ns() - start;
    progress_stop(&progress);

    gust_client_stats_t cs;
    gust_client_stats(c.client, &cs);
    stats_summary(b->stats, stdout, "gust bench", wall, &cs);
    rc = EXIT_DONE;
    sem_destroy(&b->finished);
    client_free(&c);
fail:
    stats_free(b->stats);
    free(lanes);
    return rc;
}

int bench_main(int argc, char **argv)
{
    bench_t b = {.target = 10000};
    client_opts_t co = {.total_timeout_ns = 30 * NS_PER_S};
    client_headers_t headers = {0};
    unsigned concurrency = 50;
    unsigned depth = 1;
    uint64_t duration_ns = 0;
    bool have_n = false;
    const char *url = NULL;
    unsigned long n;
    int rc = EXIT_USAGE;
    args_t a;
    args_init(&a, argc, argv);
    for (int opt; (opt = args_next(&a, options)) != ARGS_END;) {
        bool ok = true;
        switch (opt) {
        case OPT_HELP:
            rc = args_help(usage, help);
            goto done;
        case OPT_CONCURRENCY:
            if ((ok = args_uint(&a, "-c", a.value, 1, 10000, &n)))
                concurrency = (unsigned)n;
            break;
        case OPT_REQUESTS:
            if ((ok = args_uint(&a, "-n", a.value, 1, 1000000000, &n)))
                b.target = n;
            have_n = true;
            break;
        case OPT_DURATION:
            ok = args_seconds(&a, "-d", a.value, 3600, &duration_ns);
            break;
        case OPT_REQUEST:
            b.req.method = a.value;
            break;
        case OPT_PIPELINE:
            if ((ok = args_uint(&a, "--pipeline", a.value, 1, 1024, &n)))
                depth = (unsigned)n;
            break;
        case ARGS_ARGUMENT:
            ok = args_one(&a, "URL", &url);
            break;
        default:
            ok = client_option(&a, opt, &co, &headers);
        }
        if (!ok) {
            rc = args_usage_error("gust bench", usage, "%s", a.error);
            goto done;
        }
    }
    if (url == NULL) {
        rc = args_usage_error("gust bench", usage, "a URL is needed");
        goto done;
    }
    if (have_n && duration_ns != 0) {
        rc = args_usage_error("gust bench", usage, "-n and -d exclude each other");
        goto done;
    }
    if (duration_ns != 0)
        b.target = 0;
    /* Like wrk: N connections, each with one request in flight, or D with
     * pipelining. */
    co.max_per_host = concurrency;
    co.pipeline_depth = depth;
    b.req.url = url;
    b.req.headers = headers.list;
    b.req.num_headers = headers.num;
    rc = run(&b, &co, url, concurrency * depth, duration_ns);
done:
    client_headers_free(&headers);
    return rc;
}
