/* tools/bench/gust_peer.c: gust's library as a peer of tools/bench/compare
 * (command line and output in compare_peer.h), written against gust's
 * public headers only.
 *
 * load is the HTTP benchmark's peer (http_gust.c): each completion sends
 * the next request from its callback. urls sends every request at once and
 * waits for each future in turn; the client's limits (max_per_host and
 * max_total) queue what does not fit. */
#include "tools/bench/compare_peer.h"
#include "tools/bench/measure.h"

#include "gust/client.h"
#include "gust/reactor.h"
#include "gust/response.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *version(void)
{
    return "gust library (gust_http_send)";
}

static bench_result_t send_all(const peer_urls_t *u)
{
    bench_result_t r = {.status = BENCH_OK, .threads = u->threads};
    gust_runtime_opts_t ro = gust_runtime_opts_default();
    ro.pool.num_threads = u->threads;
    ro.blocking_threads = 1;
    gust_runtime_t *runtime = gust_runtime_new(&ro);
    gust_client_opts_t co = gust_client_opts_default();
    co.max_per_host = u->limit;
    co.max_total = u->limit;
    co.decompress = false; /* no Accept-Encoding, like the other peers */
    gust_client_t *client = runtime != NULL ? gust_client_new(runtime, &co) : NULL;
    gust_future_t **futures = calloc(u->num_urls, sizeof(*futures));
    if (client == NULL || futures == NULL) {
        bench_set_why(&r, BENCH_FAILED, "gust: setup: %s", strerror(errno));
        goto done;
    }
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < u->num_urls; i++) {
        futures[i] = gust_http_send(client, &(gust_request_t){.url = u->urls[i]});
        if (futures[i] == NULL) {
            bench_set_why(&r, BENCH_FAILED, "gust_http_send: out of memory");
            goto done;
        }
    }
    for (size_t i = 0; i < u->num_urls; i++) {
        gust_future_wait(futures[i]);
        gust_response_t *resp = gust_http_response(futures[i]);
        int status = resp != NULL ? gust_response_status(resp) : 0;
        if (status == 200) {
            r.requests++;
        } else if (r.failures++ == 0) {
            if (status != 0)
                bench_set_why(&r, BENCH_FAILED, "%s: status %d", u->urls[i], status);
            else
                bench_set_why(&r, BENCH_FAILED, "%s", gust_future_message(futures[i]));
        }
    }
    r.wall_ns = bench_now_ns() - t0;
    gust_client_stats_t stats;
    gust_client_stats(client, &stats);
    r.connections = (unsigned long)stats.connections_opened;

done:
    for (size_t i = 0; futures != NULL && i < u->num_urls; i++)
        gust_future_free(futures[i]);
    free(futures);
    gust_client_free(client);
    gust_runtime_free(runtime);
    return r;
}

COMPARE_PEER("gust_peer", version, bench_gust, send_all);
