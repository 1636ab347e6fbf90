/* tools/bench/http_peer.h: the clients of the HTTP and HTTPS benchmarks
 * (http.c, https.c).
 *
 * Each peer sends `requests` GETs of one URL with `concurrency` requests in
 * flight over at most `concurrency` connections, kept alive unless the load
 * asks for a new connection per request, and reports the wall time from its
 * first request to its last response and the CPU time the client spent
 * meanwhile (user + system, all its threads). The in-process peers measure
 * with getrusage(RUSAGE_SELF) around the run; a peer that is a program of
 * its own (h2load) is measured by wait4. */
#ifndef GUST_TOOLS_BENCH_HTTP_PEER_H
#define GUST_TOOLS_BENCH_HTTP_PEER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* What a peer is asked to do. */
typedef struct bench_load_s {
    const char *url;
    unsigned concurrency;
    unsigned long requests;
    /* Client threads, for a peer that can use several (gust); the others
     * use one. */
    unsigned threads;
    /* https: the CA certificate (PEM) to verify the server with; NULL for
     * plain http. h2load verifies nothing. */
    const char *ca_file;
    /* Close each connection after its one request, so that every request
     * pays a connect and a TLS handshake. */
    bool new_conn_per_request;
} bench_load_t;

typedef enum bench_status_e {
    BENCH_OK,
    BENCH_MISSING, /* not installed or not built: `why` says which */
    BENCH_FAILED,  /* ran, but a request failed or the run broke: `why` */
} bench_status_t;

typedef struct bench_result_s {
    bench_status_t status;
    char why[256];
    unsigned threads;          /* client threads that did the work */
    unsigned long requests;    /* answered with 200 */
    unsigned long failures;    /* anything else */
    uint64_t body_bytes;       /* response body bytes received */
    unsigned long connections; /* opened; 0 when the peer does not say */
    uint64_t wall_ns;
    uint64_t cpu_ns;
    /* What the server saw of the run, where the benchmark asks it (https.c
     * reads nginx's log): connections opened and, of those, TLS sessions
     * resumed; the TLS version, cipher and group of the last one. */
    bool server_seen;
    unsigned long server_connections;
    unsigned long server_resumed;
    char server_tls[96];
} bench_result_t;

/* Sets the status and the reason of `r`. */
static inline void bench_set_why(bench_result_t *r, bench_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void bench_set_why(bench_result_t *r, bench_status_t status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r->status = status;
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
}

/* A result as one line of text, for a peer that runs as a program of its
 * own and hands its result to the benchmark (curl_peer.c), and back
 * (http_curl_child.c). The server_ fields do not travel. bench_result_read
 * finds the line anywhere in `text`; false if there is none or it is
 * malformed. */
void bench_result_write(FILE *f, const bench_result_t *r);
bool bench_result_read(const char *text, bench_result_t *out);

/* gust's client on a runtime of load->threads workers; each completion
 * sends the next request from its on_done callback (http_gust.c). */
bench_result_t bench_gust(const bench_load_t *load);

/* libcurl's multi interface on the calling thread: `concurrency` easy
 * handles, each re-added when its transfer is done (http_curl.c). */
bench_result_t bench_curl(const bench_load_t *load);

/* "libcurl 7.88.1" (static storage). */
const char *bench_curl_version(void);

/* "OpenSSL/3.0.19": the TLS library libcurl was built with (static
 * storage). Only true in a process that has no other library of the same
 * symbols, such as curl_peer (see http_curl_child.c). */
const char *bench_curl_ssl_version(void);

/* bench_curl in the program curl_peer (curl_peer.c, built beside the
 * benchmark), so that libcurl's OpenSSL never shares a process with gust's
 * BoringSSL: BoringSSL's unversioned symbols satisfy libcurl's references
 * to OpenSSL's versioned ones, and the dynamic linker binds each to
 * whichever library comes first, mixing the two. The program measures its
 * run as bench_curl does in process (http_curl_child.c). */
bench_result_t bench_curl_child(const bench_load_t *load);

/* "libcurl 7.88.1, OpenSSL/3.0.19" as curl_peer reports it, or "libcurl:
 * curl_peer missing" (static storage; runs curl_peer --version the first
 * time). */
const char *bench_curl_child_version(void);

/* nghttp2's h2load --h1 with one thread, as a child process
 * (http_h2load.c). It does not verify certificates, and has no option for a
 * new connection per request: it reconnects when the server closes, so the
 * server must close after each response for such a load. */
bench_result_t bench_h2load(const bench_load_t *load);

/* "h2load nghttp2/1.52.0", or "h2load missing" (static storage; runs
 * h2load --version the first time). */
const char *bench_h2load_version(void);

#endif
