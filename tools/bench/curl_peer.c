/* tools/bench/curl_peer.c: libcurl's multi interface (http_curl.c) as a
 * program of its own, for the HTTPS benchmark (see bench_curl_child in
 * http_peer.h for why).
 *
 *     curl_peer --version
 *     curl_peer [--concurrency=C] [--requests=N] [--ca-file=PEM]
 *               [--new-conn-per-request] URL
 *
 * Runs bench_curl once and prints its result as one line
 * (bench_result_write); the wall and CPU times are measured around the run
 * alone, as in process. Exits 0 when it printed a result, whatever the
 * result says; 2 for bad arguments. --version prints "libcurl 7.88.1,
 * OpenSSL/3.0.19". */
#include "tools/bench/http_peer.h"
#include "tools/bench/measure.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fprintf(stderr, "usage: curl_peer --version\n"
                    "       curl_peer [--concurrency=C] [--requests=N] [--ca-file=PEM]\n"
                    "                 [--new-conn-per-request] URL\n");
    exit(2);
}

int main(int argc, char **argv)
{
    bench_load_t load = {.concurrency = 1, .requests = 1, .threads = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned long v;
        if (strcmp(a, "--version") == 0) {
            printf("%s, %s\n", bench_curl_version(), bench_curl_ssl_version());
            return 0;
        } else if (bench_flag_ulong(a, "--concurrency", 1, 100000, &v)) {
            load.concurrency = (unsigned)v;
        } else if (bench_flag_ulong(a, "--requests", 1, 1000000000, &v)) {
            load.requests = v;
        } else if (strncmp(a, "--ca-file=", 10) == 0) {
            load.ca_file = a + 10;
        } else if (strcmp(a, "--new-conn-per-request") == 0) {
            load.new_conn_per_request = true;
        } else if (a[0] != '-' && load.url == NULL) {
            load.url = a;
        } else {
            usage();
        }
    }
    if (load.url == NULL)
        usage();
    /* A connection the server closed must fail a request, not the program. */
    signal(SIGPIPE, SIG_IGN);
    bench_result_t r = bench_curl(&load);
    bench_result_write(stdout, &r);
    return 0;
}
