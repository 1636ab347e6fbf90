/* tools/bench/https.c: the HTTPS client benchmark.
 *
 *     bazel run -c opt //tools/bench:https [-- --requests=N --handshakes=H --runs=R
 *                                               --threads=T --concurrency=10,100
 *                                               --handshake-concurrency=C
 *                                               --nginx-workers=W]
 *
 * Makes a test CA and a certificate for 127.0.0.1 (tests/support/
 * tls_certs.h) and starts three nginx servers with it (tests/support/
 * nginx.h), all TLS 1.2 and 1.3:
 *
 *   keep-alive  the fixture's TLS: a shared session cache and tickets;
 *   resumes     the same, closing each connection after one response
 *               (keepalive_requests 1);
 *   refuses     the same as resumes, but with ssl_session_cache off and
 *               ssl_session_tickets off: every handshake is a full one, for
 *               every client alike.
 *
 * Three clients, as in http.c, take turns:
 *
 *   1. gust's client on a runtime of T workers (default 1), trusting the
 *      test CA (http_gust.c);
 *   2. libcurl's multi interface (OpenSSL) on one thread, trusting the test
 *      CA, with its TLS sessions shared by its handles; in a program of its
 *      own, curl_peer, so that OpenSSL and gust's BoringSSL never share a
 *      process (http_curl_child.c);
 *   3. nghttp2's h2load --h1 with one thread, which verifies nothing
 *      (http_h2load.c).
 *
 * Part 1, keep-alive: for each concurrency, N GETs of /1k.bin (default
 * 20,000) from the keep-alive server with that many requests in flight over
 * as many connections. Part 2, handshakes: H GETs (default 2,000), each on a
 * new connection, C in flight (default 10), from the resuming server and
 * from the refusing one. gust closes each connection after its request
 * (max_requests_per_conn = 1) and resumes through the origin's shared
 * session, as it does by default; libcurl sets CURLOPT_FORBID_REUSE; h2load
 * has no such option and reconnects because the server closes. Every
 * connection is checked: the servers log each connection's first request
 * with whether its session was resumed, and its TLS version, cipher and
 * group, which the table reports.
 *
 * Figures are the medians over R runs (default 3) of requests (or
 * handshakes) per second and of the client's CPU time (user + system, all
 * its threads) per request (suite.h). Ratios are to gust in the same run.
 * A markdown table closes the output. nginx shares the machine with the
 * client; on two cores the server's handshake work caps every client's
 * handshakes per second alike, and CPU per handshake is the fairer figure
 * there. */
#include "tests/support/nginx.h"
#include "tests/support/tls_certs.h"
#include "tools/bench/http_peer.h"
#include "tools/bench/measure.h"
#include "tools/bench/suite.h"

#include <errno.h>
#include <limits.h>
#include <openssl/base.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_LEN 1024
/* How long the server may take to log a run's last connections. */
#define LOG_WAIT_NS (2ull * 1000000000ull)

static bench_flags_t flags = {
    .requests = 20000,
    .runs = 3,
    /* One worker, as many client threads as each peer has: on two cores the
     * second one is nginx's, and a second gust worker only competes with it
     * (--threads=2 measures that). */
    .threads = 1,
    .nginx_workers = 1,
    .concurrencies = {10, 100},
    .num_concurrencies = 2,
};
static unsigned long num_handshakes = 2000;
static unsigned handshake_concurrency = 10;

static const bench_peer_t peers[] = {
    {.name = "gust", .run = bench_gust},
    {.name = "libcurl multi", .run = bench_curl_child},
    {.name = "h2load --h1", .run = bench_h2load},
};
enum { NUM_PEERS = sizeof(peers) / sizeof(peers[0]) };

static bench_suite_t suite(void)
{
    return (bench_suite_t){
        .peers = peers,
        .num_peers = NUM_PEERS,
        .num_runs = flags.runs,
        .only = flags.only,
    };
}

/* ---- The servers and what they log --------------------------------------- */

/* Each server logs the first request of every connection, as "r" (resumed)
 * or "." (full handshake), then the TLS version, cipher and group. */
#define LOG_HTTP_CONF                                                                              \
    "map $connection_requests $gust_bench_first { 1 1; default 0; }\n"                             \
    "    log_format gust_bench_tls \"$ssl_session_reused $ssl_protocol $ssl_cipher $ssl_curve\";"

typedef struct tls_server_s {
    const char *name;  /* "keep-alive", "resumes", "refuses" */
    const char *extra; /* server directives besides the log */
    nginx_t *nginx;
    char url[128];
    char log_path[PATH_MAX];
    long log_read; /* bytes of whole lines read so far */
} tls_server_t;

enum { SERVER_KEEP_ALIVE, SERVER_RESUMES, SERVER_REFUSES, NUM_SERVERS };

static tls_server_t servers[NUM_SERVERS] = {
    [SERVER_KEEP_ALIVE] = {.name = "keep-alive", .extra = ""},
    [SERVER_RESUMES] = {.name = "resumes", .extra = "keepalive_requests 1;"},
    [SERVER_REFUSES] = {.name = "refuses",
                        .extra = "keepalive_requests 1; ssl_session_cache off; "
                                 "ssl_session_tickets off;"},
};

static bool start_server(tls_server_t *s, const tls_certs_t *certs, int index)
{
    int n = snprintf(s->log_path, sizeof(s->log_path), "%s/bench-%d.log", certs->dir, index);
    if (n < 0 || (size_t)n >= sizeof(s->log_path))
        return false;
    char server_conf[PATH_MAX + 256];
    snprintf(server_conf, sizeof(server_conf),
             "access_log %s gust_bench_tls if=$gust_bench_first; %s", s->log_path, s->extra);
    nginx_opts_t o = nginx_opts_default();
    o.worker_processes = flags.nginx_workers;
    o.cache_open_files = true;
    o.cert_file = certs->leaf[TLS_CERT_GOOD].cert_file;
    o.key_file = certs->leaf[TLS_CERT_GOOD].key_file;
    o.extra_http_conf = LOG_HTTP_CONF;
    o.extra_server_conf = server_conf;
    s->nginx = nginx_start(&o);
    if (s->nginx == NULL)
        return false;
    snprintf(s->url, sizeof(s->url), "%s/1k.bin", nginx_origin(s->nginx));
    return true;
}

/* Adds the whole lines logged since the last call to `r`. */
static void read_log(tls_server_t *s, bench_result_t *r)
{
    FILE *f = fopen(s->log_path, "re");
    if (f == NULL)
        return;
    if (fseek(f, s->log_read, SEEK_SET) == 0) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        /* A line without its newline is still being written: next time. */
        while ((n = getline(&line, &cap, f)) > 0 && line[n - 1] == '\n') {
            s->log_read += (long)n;
            line[n - 1] = '\0';
            r->server_connections++;
            if (line[0] == 'r')
                r->server_resumed++;
            const char *tls = strchr(line, ' ');
            snprintf(r->server_tls, sizeof(r->server_tls), "%s", tls != NULL ? tls + 1 : "");
        }
        free(line);
    }
    fclose(f);
}

/* bench_case_t.observe: what the server logged of the run just ended.
 * nginx logs a request when it is done with it, which may be just after the
 * client has its response: wait for a line per request when each has its
 * own connection (else for one), so that none is left to the next run. */
static void observe(void *arg, const bench_load_t *load, bench_result_t *r)
{
    tls_server_t *s = arg;
    r->server_seen = true;
    if (r->status == BENCH_MISSING)
        return;
    unsigned long want = load->new_conn_per_request ? load->requests : 1;
    if (r->status != BENCH_OK) {
        want = 0; /* how many is unknown: give stragglers a moment */
        usleep(200 * 1000);
    }
    uint64_t deadline = bench_now_ns() + LOG_WAIT_NS;
    for (;;) {
        read_log(s, r);
        if (r->server_connections >= want || bench_now_ns() >= deadline)
            break;
        usleep(2000);
    }
}

/* ---- The cases ----------------------------------------------------------- */

static bench_case_t keep_alive[BENCH_MAX_CONCURRENCIES];
static bench_case_t handshakes[2]; /* resumes, refuses */

static bench_case_t make_case(tls_server_t *s, const tls_certs_t *certs, unsigned concurrency,
                              unsigned long requests, bool new_conn)
{
    return (bench_case_t){
        .load = {.url = s->url,
                 .concurrency = concurrency,
                 .requests = requests,
                 .threads = flags.threads,
                 .ca_file = certs->ca_file,
                 .new_conn_per_request = new_conn},
        .body_len = BODY_LEN,
        .rate = new_conn ? "handshakes/s" : "req/s",
        .unit = new_conn ? "handshake" : "req",
        .observe = observe,
        .observe_arg = s,
    };
}

/* ---- The report ---------------------------------------------------------- */

/* "nginx/1.22.1", from nginx -v. */
static const char *nginx_version(void)
{
    static char version[64] = "nginx";
    char *argv[] = {"/usr/sbin/nginx", "-v", NULL};
    bench_child_t child;
    if (bench_run_child(argv, 10ull * 1000000000ull, &child) == 0) {
        const char *v = strstr(child.output, "nginx/");
        if (v != NULL)
            snprintf(version, sizeof(version), "%.*s", (int)strcspn(v, " \n"), v);
        bench_child_free(&child);
    }
    return version;
}

static double median_per_s(const bench_figures_t *fig)
{
    return fig->status == BENCH_OK && fig->num > 0 ? bench_median(fig->per_s, fig->num) : 0;
}

/* gust's req/s over libcurl's, per concurrency: the goal is at least 2. */
static void print_goal(void)
{
    printf("\ngust's keep-alive req/s over libcurl multi's (goal: at least 2x):");
    for (int ci = 0; ci < flags.num_concurrencies; ci++) {
        double gust = median_per_s(&keep_alive[ci].fig[0]);
        double curl = median_per_s(&keep_alive[ci].fig[1]);
        if (gust > 0 && curl > 0)
            printf(" c=%u %.2fx%s", flags.concurrencies[ci], gust / curl,
                   ci + 1 < flags.num_concurrencies ? "," : ".");
        else
            printf(" c=%u -%s", flags.concurrencies[ci],
                   ci + 1 < flags.num_concurrencies ? "," : ".");
    }
    printf("\n");
}

/* The TLS parameters nginx saw for each peer, over every case. */
static void print_tls_seen(void)
{
    printf("\nTLS as nginx saw it (version, cipher, key exchange group):");
    for (int i = 0; i < NUM_PEERS; i++) {
        const char *seen[BENCH_MAX_CONCURRENCIES + 2];
        int num_seen = 0;
        for (int k = 0; k < flags.num_concurrencies + 2; k++) {
            const bench_case_t *c = k < flags.num_concurrencies
                                        ? &keep_alive[k]
                                        : &handshakes[k - flags.num_concurrencies];
            const char *tls = c->fig[i].server_tls;
            bool dup = tls[0] == '\0';
            for (int j = 0; j < num_seen && !dup; j++)
                dup = strcmp(seen[j], tls) == 0;
            if (!dup)
                seen[num_seen++] = tls;
        }
        printf("%s %s:", i == 0 ? "" : ";", peers[i].name);
        for (int j = 0; j < num_seen; j++)
            printf("%s %s", j == 0 ? "" : " /", seen[j]);
        if (num_seen == 0)
            printf(" -");
    }
    printf(".\n");
}

static void print_table(void)
{
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&now));
    bench_suite_t s = suite();
    printf("\n## HTTPS GETs of a 1 KiB file from nginx (markdown)\n\n");
    printf("%s; %s, %u worker%s on 127.0.0.1, TLS 1.2 and 1.3, an ECDSA P-256 certificate; "
           "%ld CPUs online; median of %d run%s. gust: BoringSSL (API version %d), %u runtime "
           "worker%s; %s, 1 thread, in a process of its own; %s, 1 thread.\n",
           date, nginx_version(), flags.nginx_workers, flags.nginx_workers == 1 ? "" : "s",
           sysconf(_SC_NPROCESSORS_ONLN), flags.runs, flags.runs == 1 ? "" : "s",
           BORINGSSL_API_VERSION, flags.threads, flags.threads == 1 ? "" : "s",
           bench_curl_child_version(), bench_h2load_version());

    printf("\n### Keep-alive: %lu GETs per run\n\n", flags.requests);
    bench_print_table_head(NULL, "req/s", "req", false);
    for (int ci = 0; ci < flags.num_concurrencies; ci++)
        bench_case_print_rows(&s, &keep_alive[ci], NULL, false);
    print_goal();

    printf("\n### Handshakes: %lu GETs per run, each on a new connection\n\n", num_handshakes);
    bench_print_table_head("server", "handshakes/s", "handshake", true);
    bench_case_print_rows(&s, &handshakes[0], "resumes", true);
    bench_case_print_rows(&s, &handshakes[1], "refuses", true);
    print_tls_seen();

    printf("\nthreads: the client's threads doing requests (gust: runtime workers, --threads). "
           "CPU: user + system of the client only (gust, libcurl: getrusage of the client's "
           "process around the run; h2load: wait4 of the whole program). Ratios: the row's "
           "figure over gust's; above 1 is faster (or costs more) than gust. Verification: gust "
           "and libcurl verify the certificate against the test CA; h2load verifies nothing. "
           "Handshakes: each GET pays a TCP connect, a TLS handshake, the request and a close; "
           "server \"resumes\" has a session cache and tickets, \"refuses\" has both off "
           "(every handshake full); both close after one response (keepalive_requests 1), "
           "which h2load needs; gust (max_requests_per_conn = 1) and libcurl "
           "(CURLOPT_FORBID_REUSE) close as well. gust resumes through the origin's shared "
           "session, libcurl through a CURLSH sharing SSL sessions, h2load per client. "
           "resumed: the share of connections nginx logged as resumed (each run starts a new "
           "client, whose first connections are full handshakes).\n");
}

/* ---- Options ------------------------------------------------------------- */

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--requests=N] [--handshakes=H] [--runs=R] [--threads=T]\n"
            "          [--concurrency=C1,C2,...] [--handshake-concurrency=C]\n"
            "          [--nginx-workers=W] [--only=NAME]\n"
            "  --requests               keep-alive GETs per client, run and concurrency (20000)\n"
            "  --handshakes             GETs on new connections per client, run and server (2000)\n"
            "  --runs                   timed runs; figures are medians (3, at most %d)\n"
            "  --threads                gust's runtime workers (1)\n"
            "  --concurrency            keep-alive requests in flight, a part each (10,100; at "
            "most %d)\n"
            "  --handshake-concurrency  handshakes in flight (10)\n"
            "  --nginx-workers          nginx worker processes per server (1)\n"
            "  --only                   run only the peer whose name starts with NAME\n",
            prog, BENCH_MAX_RUNS, BENCH_MAX_CONCURRENCIES);
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned long v;
        if (bench_flag_ulong(a, "--handshakes", 1, 100000000, &v))
            num_handshakes = v;
        else if (bench_flag_ulong(a, "--handshake-concurrency", 1, 10000, &v))
            handshake_concurrency = (unsigned)v;
        else if (!bench_flag(a, &flags))
            usage(argv[0]);
    }
}

static void stop_servers(void)
{
    for (int i = 0; i < NUM_SERVERS; i++) {
        nginx_stop(servers[i].nginx);
        servers[i].nginx = NULL;
        if (servers[i].log_path[0] != '\0')
            unlink(servers[i].log_path);
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    /* A connection the server closed must fail a request, not the program. */
    signal(SIGPIPE, SIG_IGN);

    tls_certs_t *certs = tls_certs_make(NULL);
    if (certs == NULL) {
        fprintf(stderr, "bench: cannot make certificates (see above)\n");
        return 1;
    }
    for (int i = 0; i < NUM_SERVERS; i++) {
        if (!start_server(&servers[i], certs, i)) {
            fprintf(stderr, "bench: cannot start nginx (see above)\n");
            stop_servers();
            tls_certs_free(certs);
            return 1;
        }
    }
    printf("HTTPS benchmark: nginx %u worker%s per server; gust %u worker%s, libcurl 1 thread "
           "(curl_peer), h2load 1 thread\n",
           flags.nginx_workers, flags.nginx_workers == 1 ? "" : "s", flags.threads,
           flags.threads == 1 ? "" : "s");
    for (int i = 0; i < NUM_SERVERS; i++)
        printf("  server %-10s %s\n", servers[i].name, servers[i].url);

    bench_suite_t s = suite();
    for (int ci = 0; ci < flags.num_concurrencies; ci++) {
        keep_alive[ci] = make_case(&servers[SERVER_KEEP_ALIVE], certs, flags.concurrencies[ci],
                                   flags.requests, false);
        printf("\n== keep-alive, concurrency %u: %lu requests per run ==\n",
               flags.concurrencies[ci], flags.requests);
        bench_case_run(&s, &keep_alive[ci]);
    }
    for (int k = 0; k < 2; k++) {
        tls_server_t *server = &servers[k == 0 ? SERVER_RESUMES : SERVER_REFUSES];
        handshakes[k] = make_case(server, certs, handshake_concurrency, num_handshakes, true);
        printf("\n== handshakes, server %s resumption, concurrency %u: %lu per run ==\n",
               k == 0 ? "allows" : "refuses", handshake_concurrency, num_handshakes);
        bench_case_run(&s, &handshakes[k]);
    }
    stop_servers();
    tls_certs_free(certs);
    print_table();
    return 0;
}
