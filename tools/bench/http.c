/* tools/bench/http.c: the HTTP client benchmark.
 *
 *     bazel run -c opt //tools/bench:http [-- --requests=N --runs=R --threads=T
 *                                             --concurrency=10,100 --nginx-workers=W]
 *
 * Starts nginx (tests/support/nginx.h) and, for each concurrency, has three
 * clients send N keep-alive GETs of /1k.bin (default 100,000) with that many
 * requests in flight over as many connections:
 *
 *   1. gust's client, on a runtime of T workers (default 1), each completion
 *      sending the next request (http_gust.c);
 *   2. libcurl's multi interface on one thread (http_curl.c), in curl_peer, a
 *      process of its own, so that its OpenSSL never meets gust's BoringSSL
 *      (http_curl_child.c);
 *   3. nghttp2's h2load --h1 with one thread (http_h2load.c).
 *
 * The peers take turns within each run, so that drift on the machine hits
 * them alike; each runs once untimed first (N/10 requests) to warm nginx
 * and the page cache (suite.h). Figures are the medians over R runs
 * (default 3) of requests per second and of the client's CPU time (user +
 * system, all its threads) per request. Ratios are to gust in the same run: req/s over
 * gust's (above 1 is faster than gust) and CPU per request over gust's
 * (above 1 costs more than gust). Responses are checked (status 200, body
 * bytes); times never are. A markdown table closes the output.
 *
 * nginx shares the machine: on two cores, its worker and the client compete
 * for them, which caps req/s for every client alike; CPU per request is the
 * client's own and the fairer figure there. */
#include "tests/support/nginx.h"
#include "tools/bench/http_peer.h"
#include "tools/bench/measure.h"
#include "tools/bench/suite.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_LEN 1024

static bench_flags_t flags = {
    .requests = 100000,
    .runs = 3,
    /* One worker, as many client threads as each peer has: on two cores the
     * second one is nginx's, and a second gust worker only competes with it
     * (--threads=2 measures that). */
    .threads = 1,
    .nginx_workers = 1,
    .concurrencies = {10, 100},
    .num_concurrencies = 2,
};

static const bench_peer_t peers[] = {
    {.name = "gust", .run = bench_gust},
    {.name = "libcurl multi", .run = bench_curl_child},
    {.name = "h2load --h1", .run = bench_h2load},
};

/* One case per concurrency. */
static bench_case_t cases[BENCH_MAX_CONCURRENCIES];

static bench_suite_t suite(void)
{
    return (bench_suite_t){
        .peers = peers,
        .num_peers = sizeof(peers) / sizeof(peers[0]),
        .num_runs = flags.runs,
        .only = flags.only,
    };
}

/* ---- The report --------------------------------------------------------- */

static void print_table(void)
{
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&now));
    printf("\n## HTTP/1.1 keep-alive GETs of a 1 KiB file from nginx (markdown)\n\n");
    printf("%s; nginx %u worker%s on 127.0.0.1; %ld CPUs online; %lu requests per run, "
           "median of %d run%s; %s, %s.\n\n",
           date, flags.nginx_workers, flags.nginx_workers == 1 ? "" : "s",
           sysconf(_SC_NPROCESSORS_ONLN), flags.requests, flags.runs, flags.runs == 1 ? "" : "s",
           bench_curl_child_version(), bench_h2load_version());
    bench_print_table_head(NULL, "req/s", "req", false);
    bench_suite_t s = suite();
    for (int ci = 0; ci < flags.num_concurrencies; ci++)
        bench_case_print_rows(&s, &cases[ci], NULL, false);
    printf("\nthreads: the client's threads doing requests (gust: runtime workers, --threads). "
           "CPU: user + system of the client only (gust, libcurl: getrusage of this process "
           "around the run; h2load: wait4 of the whole program). Ratios: the row's figure over "
           "gust's; req/s above 1 is faster than gust, CPU/req above 1 costs more.\n");
}

/* ---- Options ------------------------------------------------------------- */

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--requests=N] [--runs=R] [--threads=T] [--concurrency=C1,C2,...]\n"
            "          [--nginx-workers=W] [--only=NAME]\n"
            "  --requests       keep-alive GETs per client, run and concurrency (100000)\n"
            "  --runs           timed runs; figures are medians (3, at most %d)\n"
            "  --threads        gust's runtime workers (1)\n"
            "  --concurrency    requests in flight, one run set each (10,100; at most %d)\n"
            "  --nginx-workers  nginx worker processes (1)\n"
            "  --only           run only the peer whose name starts with NAME (profiling)\n",
            prog, BENCH_MAX_RUNS, BENCH_MAX_CONCURRENCIES);
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!bench_flag(argv[i], &flags))
            usage(argv[0]);
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    /* A connection the server closed must fail a request, not the program. */
    signal(SIGPIPE, SIG_IGN);

    nginx_opts_t o = nginx_opts_default();
    o.worker_processes = flags.nginx_workers;
    o.cache_open_files = true;
    nginx_t *server = nginx_start(&o);
    if (server == NULL) {
        fprintf(stderr, "bench: cannot start nginx (see above)\n");
        return 1;
    }
    char url[128];
    snprintf(url, sizeof(url), "%s/1k.bin", nginx_origin(server));
    printf("HTTP benchmark: %s, nginx %u worker%s; gust %u worker%s, libcurl 1 thread, "
           "h2load 1 thread\n",
           url, flags.nginx_workers, flags.nginx_workers == 1 ? "" : "s", flags.threads,
           flags.threads == 1 ? "" : "s");
    bench_suite_t s = suite();
    for (int ci = 0; ci < flags.num_concurrencies; ci++) {
        cases[ci] = (bench_case_t){
            .load = {.url = url,
                     .concurrency = flags.concurrencies[ci],
                     .requests = flags.requests,
                     .threads = flags.threads},
            .body_len = BODY_LEN,
            .rate = "req/s",
            .unit = "req",
        };
        printf("\n== concurrency %u: %lu requests per run ==\n", flags.concurrencies[ci],
               flags.requests);
        bench_case_run(&s, &cases[ci]);
    }
    nginx_stop(server);
    print_table();
    return 0;
}
