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
 *   2. libcurl's multi interface on one thread (http_curl.c);
 *   3. nghttp2's h2load --h1 with one thread (http_h2load.c).
 *
 * The peers take turns within each run, so that drift on the machine hits
 * them alike; each runs once untimed first (N/10 requests) to warm nginx
 * and the page cache. Figures are the medians over R runs (default 3) of
 * requests per second and of the client's CPU time (user + system, all its
 * threads) per request. Ratios are to gust in the same run: req/s over
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

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 50
#define MAX_CONCURRENCIES 8
#define BODY_LEN 1024

static unsigned long num_requests = 100000;
static int num_runs = 3;
static unsigned num_threads = 2;
static unsigned nginx_workers = 1;
static unsigned concurrencies[MAX_CONCURRENCIES] = {10, 100};
static int num_concurrencies = 2;
static const char *only_peer; /* --only=NAME: one peer (for profiling) */

/* ---- The peers --------------------------------------------------------- */

static bench_result_t run_gust(const char *url, unsigned concurrency, unsigned long requests)
{
    return bench_gust(url, concurrency, requests, num_threads);
}

typedef struct peer_s {
    const char *name;
    bench_result_t (*run)(const char *url, unsigned concurrency, unsigned long requests);
    /* Per concurrency: the runs' figures, and why the peer stopped. */
    double per_s[MAX_CONCURRENCIES][MAX_RUNS];
    double cpu_us[MAX_CONCURRENCIES][MAX_RUNS];
    int num[MAX_CONCURRENCIES];
    unsigned threads;
    bench_status_t status[MAX_CONCURRENCIES];
    char why[MAX_CONCURRENCIES][256];
} peer_t;

static peer_t peers[] = {
    {.name = "gust", .run = run_gust},
    {.name = "libcurl multi", .run = bench_curl},
    {.name = "h2load --h1", .run = bench_h2load},
};
enum { NUM_PEERS = sizeof(peers) / sizeof(peers[0]) };

/* ---- Running ------------------------------------------------------------ */

/* A result that ran but got wrong answers counts as failed. */
static void check_result(bench_result_t *r, unsigned long requests)
{
    if (r->status != BENCH_OK)
        return;
    if (r->requests != requests)
        bench_set_why(r, BENCH_FAILED, "%lu of %lu requests answered 200", r->requests, requests);
    else if (r->body_bytes != (uint64_t)requests * BODY_LEN)
        bench_set_why(r, BENCH_FAILED, "%llu body bytes, want %llu",
                      (unsigned long long)r->body_bytes, (unsigned long long)requests * BODY_LEN);
    else if (r->wall_ns == 0)
        bench_set_why(r, BENCH_FAILED, "no wall time measured");
}

/* One run of peer `p` at concurrency index `ci`: `timed` records it. */
static void run_peer(peer_t *p, int ci, const char *url, unsigned long requests, bool timed,
                     int run)
{
    if (p->status[ci] != BENCH_OK)
        return; /* missing or failed earlier: not again at this concurrency */
    if (only_peer != NULL && strncmp(p->name, only_peer, strlen(only_peer)) != 0)
        return;
    unsigned concurrency = concurrencies[ci];
    bench_result_t r = p->run(url, concurrency, requests);
    check_result(&r, requests);
    p->threads = r.threads;
    if (r.status != BENCH_OK) {
        p->status[ci] = r.status;
        snprintf(p->why[ci], sizeof(p->why[ci]), "%s", r.why);
        printf("  %-14s c=%-4u %s: %s\n", p->name, concurrency,
               r.status == BENCH_MISSING ? "missing" : "FAILED", r.why);
        fflush(stdout);
        return;
    }
    if (!timed)
        return;
    double per_s = (double)requests / ((double)r.wall_ns / 1e9);
    double cpu_us = (double)r.cpu_ns / 1e3 / (double)requests;
    p->per_s[ci][p->num[ci]] = per_s;
    p->cpu_us[ci][p->num[ci]] = cpu_us;
    p->num[ci]++;
    char conns[48] = "";
    if (r.connections > 0)
        snprintf(conns, sizeof(conns), ", %lu connections", r.connections);
    printf("  %-14s c=%-4u run %d: %9.0f req/s  %7.2f us CPU/req  (%u thread%s%s)\n", p->name,
           concurrency, run + 1, per_s, cpu_us, r.threads, r.threads == 1 ? "" : "s", conns);
    fflush(stdout);
}

static void bench_concurrency(int ci, const char *url)
{
    printf("\n== concurrency %u: %lu requests per run ==\n", concurrencies[ci], num_requests);
    unsigned long warm =
        num_requests / 10 > concurrencies[ci] ? num_requests / 10 : concurrencies[ci];
    for (int i = 0; i < NUM_PEERS; i++)
        run_peer(&peers[i], ci, url, warm, false, 0);
    for (int run = 0; run < num_runs; run++) {
        for (int i = 0; i < NUM_PEERS; i++)
            run_peer(&peers[i], ci, url, num_requests, true, run);
    }
}

/* ---- The report --------------------------------------------------------- */

static void format_ratio(char *buf, size_t cap, double value, double gust, bool have_gust)
{
    if (have_gust && gust > 0)
        snprintf(buf, cap, "%.2fx", value / gust);
    else
        snprintf(buf, cap, "-");
}

static void print_table(void)
{
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&now));
    printf("\n## HTTP/1.1 keep-alive GETs of a 1 KiB file from nginx (markdown)\n\n");
    printf("%s; nginx %u worker%s on 127.0.0.1; %ld CPUs online; %lu requests per run, "
           "median of %d run%s; %s, %s.\n\n",
           date, nginx_workers, nginx_workers == 1 ? "" : "s", sysconf(_SC_NPROCESSORS_ONLN),
           num_requests, num_runs, num_runs == 1 ? "" : "s", bench_curl_version(),
           bench_h2load_version());
    printf("| client | threads | concurrency | req/s | CPU us/req | req/s vs gust | "
           "CPU/req vs gust |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (int ci = 0; ci < num_concurrencies; ci++) {
        const peer_t *gust = &peers[0];
        bool have_gust = gust->status[ci] == BENCH_OK && gust->num[ci] > 0;
        double gust_per_s = have_gust ? bench_median(gust->per_s[ci], gust->num[ci]) : 0;
        double gust_cpu = have_gust ? bench_median(gust->cpu_us[ci], gust->num[ci]) : 0;
        for (int i = 0; i < NUM_PEERS; i++) {
            const peer_t *p = &peers[i];
            char threads[16];
            snprintf(threads, sizeof(threads), "%u", p->threads);
            if (p->status[ci] != BENCH_OK || p->num[ci] == 0) {
                printf("| %s | %s | %u | %s: %s | | | |\n", p->name, p->threads > 0 ? threads : "-",
                       concurrencies[ci], p->status[ci] == BENCH_MISSING ? "missing" : "failed",
                       p->why[ci]);
                continue;
            }
            double per_s = bench_median(p->per_s[ci], p->num[ci]);
            double cpu = bench_median(p->cpu_us[ci], p->num[ci]);
            char r_per_s[16], r_cpu[16];
            format_ratio(r_per_s, sizeof(r_per_s), per_s, gust_per_s, have_gust);
            format_ratio(r_cpu, sizeof(r_cpu), cpu, gust_cpu, have_gust);
            printf("| %s | %s | %u | %.0f | %.2f | %s | %s |\n", p->name, threads,
                   concurrencies[ci], per_s, cpu, r_per_s, r_cpu);
        }
    }
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
            prog, MAX_RUNS, MAX_CONCURRENCIES);
    exit(2);
}

static bool parse_ulong(const char *arg, const char *name, unsigned long min, unsigned long max,
                        unsigned long *out)
{
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0 || arg[len] != '=')
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg + len + 1, &end, 10);
    if (errno != 0 || end == arg + len + 1 || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "bench: %s wants a number from %lu to %lu\n", name, min, max);
        exit(2);
    }
    *out = v;
    return true;
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
        if (parse_ulong(a, "--requests", 1, 1000000000, &v))
            num_requests = v;
        else if (parse_ulong(a, "--runs", 1, MAX_RUNS, &v))
            num_runs = (int)v;
        else if (parse_ulong(a, "--threads", 1, 256, &v))
            num_threads = (unsigned)v;
        else if (parse_ulong(a, "--nginx-workers", 1, 64, &v))
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
    for (int ci = 0; ci < num_concurrencies; ci++)
        bench_concurrency(ci, url);
    nginx_stop(server);
    print_table();
    return 0;
}
