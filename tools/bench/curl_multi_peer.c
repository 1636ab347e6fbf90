/* tools/bench/curl_multi_peer.c: libcurl's multi interface as a peer of
 * tools/bench/compare (command line and output in compare_peer.h).
 *
 * load is the HTTP benchmark's peer (http_curl.c). urls adds an easy handle
 * per URL to one multi handle at once, with CURLMOPT_MAX_TOTAL_CONNECTIONS
 * as the limit (libcurl queues the rest) and a connection cache as large as
 * the number of URLs, so hold keeps every connection it opened. */
#include "tools/bench/compare_peer.h"
#include "tools/bench/measure.h"

#include <curl/curl.h>
#include <stdlib.h>

static const char *version(void)
{
    static char v[96];
    snprintf(v, sizeof(v), "%s, %s (multi)", bench_curl_version(), bench_curl_ssl_version());
    return v;
}

static size_t discard(char *data, size_t size, size_t num, void *arg)
{
    (void)data;
    (void)arg;
    return size * num;
}

/* Counts the transfers libcurl reports done. */
static void drain(CURLM *multi, bench_result_t *r, size_t *finished)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        long code = 0, conns = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(msg->easy_handle, CURLINFO_NUM_CONNECTS, &conns);
        r->connections += (unsigned long)conns;
        if (msg->data.result == CURLE_OK && code == 200)
            r->requests++;
        else if (r->failures++ == 0)
            bench_set_why(r, BENCH_FAILED, "curl: %s, status %ld",
                          curl_easy_strerror(msg->data.result), code);
        (*finished)++;
    }
}

static bench_result_t add_all(const peer_urls_t *u)
{
    bench_result_t r = {.status = BENCH_OK, .threads = 1};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    CURL **easy = calloc(u->num_urls, sizeof(*easy));
    if (multi == NULL || easy == NULL) {
        bench_set_why(&r, BENCH_FAILED, "curl: out of memory");
        goto done;
    }
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)u->limit);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)u->num_urls);
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < u->num_urls; i++) {
        if ((easy[i] = curl_easy_init()) == NULL) {
            bench_set_why(&r, BENCH_FAILED, "curl_easy_init failed");
            goto done;
        }
        curl_easy_setopt(easy[i], CURLOPT_URL, u->urls[i]);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy[i], CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_multi_add_handle(multi, easy[i]);
    }
    size_t finished = 0;
    while (finished < u->num_urls) {
        int running;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc == CURLM_OK)
            drain(multi, &r, &finished);
        if (mc == CURLM_OK && finished < u->num_urls)
            mc = curl_multi_poll(multi, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK) {
            bench_set_why(&r, BENCH_FAILED, "curl multi: %s", curl_multi_strerror(mc));
            goto done;
        }
    }
    r.wall_ns = bench_now_ns() - t0;

done:
    for (size_t i = 0; easy != NULL && i < u->num_urls && easy[i] != NULL; i++) {
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    free(easy);
    if (multi != NULL)
        curl_multi_cleanup(multi);
    return r;
}

COMPARE_PEER("curl_multi_peer", version, bench_curl, add_all);
