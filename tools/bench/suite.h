/* tools/bench/suite.h: what the HTTP and HTTPS benchmarks (http.c, https.c)
 * share above the peers: the flags they both take, running every peer over
 * one case (a load) in turns, checking each result, keeping the figures of
 * the timed runs, and printing the case's rows of a markdown table with
 * medians and ratios to gust.
 *
 * Within a case the peers take turns, run after run, so that drift on the
 * machine hits them alike; each runs once untimed first (a tenth of the
 * requests, at least one per concurrent request) to warm the server and
 * the page cache. A peer that fails or is missing is not run again in that
 * case. Results are checked (every request answered 200 with the whole
 * body; for a load of a new connection per request, one connection per
 * request, as the peer counts them and as the server saw them); times
 * never are. */
#ifndef GUST_TOOLS_BENCH_SUITE_H
#define GUST_TOOLS_BENCH_SUITE_H

#include "tools/bench/http_peer.h"

#include <stdbool.h>
#include <stddef.h>

#define BENCH_MAX_RUNS 50
#define BENCH_MAX_PEERS 4
#define BENCH_MAX_CONCURRENCIES 8

typedef struct bench_peer_s {
    const char *name;
    bench_result_t (*run)(const bench_load_t *load);
} bench_peer_t;

/* The peers and the runs. peers[0] is gust: ratios are to it. */
typedef struct bench_suite_s {
    const bench_peer_t *peers;
    int num_peers; /* at most BENCH_MAX_PEERS */
    int num_runs;  /* timed runs per case, at most BENCH_MAX_RUNS */
    /* Run only the peer whose name starts with this (profiling); NULL for
     * all. */
    const char *only;
} bench_suite_t;

/* The flags both benchmarks take; each sets its own defaults. */
typedef struct bench_flags_s {
    unsigned long requests; /* --requests=N: keep-alive GETs per peer, run and concurrency */
    int runs;               /* --runs=R: timed runs, at most BENCH_MAX_RUNS */
    unsigned threads;       /* --threads=T: gust's runtime workers */
    unsigned nginx_workers; /* --nginx-workers=W: nginx's worker processes */
    /* --concurrency=C1,C2,...: requests in flight, a case each. */
    unsigned concurrencies[BENCH_MAX_CONCURRENCIES];
    int num_concurrencies;
    const char *only; /* --only=NAME: bench_suite_t.only */
} bench_flags_t;

/* bench_flag reads `arg` into *f if it is one of those flags and returns
 * true; false if it is another flag (or "--concurrency=" with no number);
 * exits with a message and status 2 if its value is bad. */
bool bench_flag(const char *arg, bench_flags_t *f);

/* One peer's figures in one case. */
typedef struct bench_figures_s {
    double per_s[BENCH_MAX_RUNS];
    double cpu_us[BENCH_MAX_RUNS];
    int num; /* timed runs recorded */
    unsigned threads;
    bench_status_t status; /* BENCH_OK until the peer fails or is missing */
    char why[256];
    /* What the server saw, summed over the timed runs (when observed),
     * and the TLS parameters of the last connection. */
    unsigned long server_connections;
    unsigned long server_resumed;
    char server_tls[96];
} bench_figures_t;

typedef struct bench_case_s {
    bench_load_t load; /* requests: per timed run */
    size_t body_len;   /* bytes of each response body */
    /* What a request is counted as in the progress lines: "req/s" and "us
     * CPU/req", or "handshakes/s" and "us CPU/handshake". */
    const char *rate;
    const char *unit;
    /* Called after each run of a peer, the untimed one included, to fill
     * the server_ fields of `r` (and set server_seen); NULL when the server
     * is not asked. */
    void (*observe)(void *arg, const bench_load_t *load, bench_result_t *r);
    void *observe_arg;
    /* Filled by bench_case_run, one per peer. */
    bench_figures_t fig[BENCH_MAX_PEERS];
} bench_case_t;

/* bench_case_run runs every peer over `c`: once untimed, then
 * suite->num_runs timed runs in turns, printing a line per run (and one
 * per failure). */
void bench_case_run(const bench_suite_t *suite, bench_case_t *c);

/* bench_print_table_head prints the head of a markdown table of
 * bench_case_print_rows's rows, with the same `lead` cell (its column named
 * `lead`; NULL for none) and `resumed` column, and the figures named after
 * the cases' `rate` and `unit`. */
void bench_print_table_head(const char *lead, const char *rate, const char *unit, bool resumed);

/* bench_case_print_rows prints the markdown rows of `c`, one per peer:
 *
 *     | client | threads | concurrency | [lead] | rate | CPU | [resumed] | ratio | ratio |
 *
 * with the medians over the timed runs of the rate and the CPU per request,
 * and their ratios to gust's; `lead` (NULL for none) is a cell the
 * caller names, the same in each row; the resumed cell, when asked for, is
 * the share of the connections the server saw whose TLS session was
 * resumed. A peer without figures gets its status and reason instead. */
void bench_case_print_rows(const bench_suite_t *suite, const bench_case_t *c, const char *lead,
                           bool resumed);

#endif
