/* tools/bench/http.c: the HTTP client benchmark.
 *
 *     bazel run -c opt //tools/bench:http [-- --requests=N --runs=R --threads=T
 *                                             --concurrency=10,100 --nginx-workers=W]
 *
 * Starts nginx (tests/support/nginx.h) and, for each concurrency, has three
 * clients send N keep-alive GETs of /1k.bin (default 100,000) with that many
 * requests in flight over as many connections:
 *
 *   1. gust's client, on a runtime of T workers (default 2), each completion
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

#define MAX_CONCURRENCIES 8
#define BODY_LEN 1024

static unsigned long num_requests = 100000;
static int num_runs = 3;
static unsigned num_threads = 2;
static unsigned nginx_workers = 1;
static unsigned concurrencies[MAX_CONCURRENCIES] = {10, 100};
static int num_concurrencies = 2;
static const char *only_peer; /* --only=NAME: one peer (for profiling) */

static const bench_peer_t peers[] = {
    {.name = "gust", .run = bench_gust},
    {.name = "libcurl multi", .run = bench_curl_child},
    {.name = "h2load --h1", .run = bench_h2load},
};

/* One case per concurrency. */
static bench_case_t cases[MAX_CONCURRENCIES];

static bench_suite_t suite(void)
{
    return (bench_suite_t){
        .peers = peers,
        .num_peers = sizeof(peers) / sizeof(peers[0]),
        .num_runs = num_runs,
        .only = only_peer,
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
           date, nginx_workers, nginx_workers == 1 ? "" : "s", sysconf(_SC_NPROCESSORS_ONLN),
           num_requests, num_runs, num_runs == 1 ? "" : "s", bench_curl_child_version(),
           bench_h2load_version());
    printf("| client | threads | concurrency | req/s | CPU us/req | req/s vs gust | "
           "CPU/req vs gust |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    bench_suite_t s = suite();
    for (int ci = 0; ci < num_concurrencies; ci++)
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
            "  --threads        gust's runtime workers (2)\n"
            "  --concurrency    requests in flight, one run set each (10,100; at most %d)\n"
            "  --nginx-workers  nginx worker processes (1)\n"
            "  --only           run only the peer whose name starts with NAME (profiling)\n",
            prog, BENCH_MAX_RUNS, MAX_CONCURRENCIES);
    exit(2);
}

static void parse_concurrencies(const char *list)
{
    num_concurrencies = 0;
    for (const char *p = list; *p != '\0';) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || v == 0 || v > 100000 || num_concurrencies == MAX_CONCURRENCIES ||
            (*end != ',' && *end != '\0')) {
            fprintf(stderr, "bench: --concurrency wants up to %d numbers, e.g. 10,100\n",
                    MAX_CONCURRENCIES);
            exit(2);
        }
        concurrencies[num_concurrencies++] = (unsigned)v;
        p = *end == ',' ? end + 1 : end;
    }
    if (num_concurrencies == 0)
        usage("http");
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned long v;
        if (bench_flag_ulong(a, "--requests", 1, 1000000000, &v))
            num_requests = v;
        else if (bench_flag_ulong(a, "--runs", 1, BENCH_MAX_RUNS, &v))
            num_runs = (int)v;
        else if (bench_flag_ulong(a, "--threads", 1, 256, &v))
            num_threads = (unsigned)v;
        else if (bench_flag_ulong(a, "--nginx-workers", 1, 64, &v))
            nginx_workers = (unsigned)v;
        else if (strncmp(a, "--concurrency=", 14) == 0)
            parse_concurrencies(a + 14);
        else if (strncmp(a, "--only=", 7) == 0)
            only_peer = a + 7;
        else
            usage(argv[0]);
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    /* A connection the server closed must fail a request, not the program. */
    signal(SIGPIPE, SIG_IGN);

    nginx_opts_t o = nginx_opts_default();
    o.worker_processes = nginx_workers;
    nginx_t *server = nginx_start(&o);
    if (server == NULL) {
        fprintf(stderr, "bench: cannot start nginx (see above)\n");
        return 1;
    }
    char url[128];
    snprintf(url, sizeof(url), "%s/1k.bin", nginx_origin(server));
    printf("HTTP benchmark: %s, nginx %u worker%s; gust %u worker%s, libcurl 1 thread, "
           "h2load 1 thread\n",
           url, nginx_workers, nginx_workers == 1 ? "" : "s", num_threads,
           num_threads == 1 ? "" : "s");
    bench_suite_t s = suite();
    for (int ci = 0; ci < num_concurrencies; ci++) {
        cases[ci] = (bench_case_t){
            .load = {.url = url,
                     .concurrency = concurrencies[ci],
                     .requests = num_requests,
                     .threads = num_threads},
            .body_len = BODY_LEN,
            .rate = "req/s",
            .unit = "req",
        };
        printf("\n== concurrency %u: %lu requests per run ==\n", concurrencies[ci], num_requests);
        bench_case_run(&s, &cases[ci]);
    }
    nginx_stop(server);
    print_table();
    return 0;
}
