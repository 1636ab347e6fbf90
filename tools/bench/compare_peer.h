/* tools/bench/compare_peer.h: the C peers of tools/bench/compare (gust's
 * library in gust_peer.c, libcurl's multi interface in curl_multi_peer.c)
 * share their command line and their output through peer_main.c:
 *
 *     PEER --version
 *     PEER load [--concurrency=C] [--requests=N] [--threads=T] URL
 *     PEER urls [--limit=L] [--threads=T] URL...
 *     PEER hold [--connections=N] [--threads=T] URL
 *
 * load: N keep-alive GETs of URL, C in flight over at most C connections.
 * urls: one GET of each URL, all sent at once, at most L connections open
 * in all (0: no limit). hold: N GETs of URL at once with no limit, so N
 * connections open (the delay server answers URL /hold/N only when all N
 * wait), kept alive until the program ends.
 *
 * Each prints one line, as the script's other peers do (peers/peerlib.py):
 *
 *     compare-result ok=N failed=F wall_s=S connections=K why=TEXT
 *
 * wall_s is the time from the first request to the last answer; the script
 * measures CPU time and peak RSS itself, with wait4, for every peer alike.
 * Exit status 0 when the line is printed (failures are in it), 2 for bad
 * arguments. */
#ifndef GUST_TOOLS_BENCH_COMPARE_PEER_H
#define GUST_TOOLS_BENCH_COMPARE_PEER_H

#include "tools/bench/http_peer.h"

#include <stddef.h>

/* What urls and hold ask of a peer: every URL once, all at once. */
typedef struct peer_urls_s {
    char *const *urls;
    size_t num_urls;
    /* Open connections in all; 0 = no limit. */
    unsigned limit;
    /* Client threads, for gust; 0 = one per CPU. */
    unsigned threads;
} peer_urls_t;

typedef struct peer_ops_s {
    const char *name;
    const char *(*version)(void);
    bench_result_t (*load)(const bench_load_t *load);
    bench_result_t (*urls)(const peer_urls_t *urls);
} peer_ops_t;

/* What a peer program defines: peer_main.c's main parses the command line
 * above, runs the mode with these and prints the line. */
extern const peer_ops_t compare_peer_ops;

/* Defines compare_peer_ops: COMPARE_PEER("gust_peer", version, load, urls); */
#define COMPARE_PEER(NAME, VERSION, LOAD, URLS)                                                    \
    const peer_ops_t compare_peer_ops = {                                                          \
        .name = (NAME), .version = (VERSION), .load = (LOAD), .urls = (URLS)}

#endif
