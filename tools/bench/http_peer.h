/* tools/bench/http_peer.h: the clients of the HTTP benchmark (http.c).
 *
 * Each peer sends `requests` keep-alive GETs of one URL with `concurrency`
 * requests in flight over at most `concurrency` connections, and reports
 * the wall time from its first request to its last response and the CPU
 * time the client spent meanwhile (user + system, all its threads). The
 * in-process peers measure with getrusage(RUSAGE_SELF) around the run; a
 * peer that is a program of its own (h2load) is measured by wait4. */
#ifndef GUST_TOOLS_BENCH_HTTP_PEER_H
#define GUST_TOOLS_BENCH_HTTP_PEER_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

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

/* gust's client on a runtime of `threads` workers; each completion sends
 * the next request from its on_done callback (http_gust.c). */
bench_result_t bench_gust(const char *url, unsigned concurrency, unsigned long requests,
                          unsigned threads);

/* libcurl's multi interface on the calling thread: `concurrency` easy
 * handles, each re-added when its transfer is done (http_curl.c). */
bench_result_t bench_curl(const char *url, unsigned concurrency, unsigned long requests);

/* "libcurl 7.88.1" (static storage). */
const char *bench_curl_version(void);

/* nghttp2's h2load --h1 with one thread, as a child process
 * (http_h2load.c). */
bench_result_t bench_h2load(const char *url, unsigned concurrency, unsigned long requests);

/* "h2load nghttp2/1.52.0", or "h2load missing" (static storage; runs
 * h2load --version the first time). */
const char *bench_h2load_version(void);

#endif
