/* tools/bench/http_curl.c: the libcurl peer of the HTTP and HTTPS
 * benchmarks.
 *
 * One thread drives curl_multi with `concurrency` easy handles. A handle
 * whose transfer is done is removed and added again while requests remain:
 * its options stay, and the multi handle's connection cache gives it back
 * an idle keep-alive connection, so `concurrency` connections carry every
 * request. Bodies are counted and dropped.
 *
 * For https the handles verify the server against the load's CA and share
 * one TLS session cache (a CURLSH with CURL_LOCK_DATA_SSL_SESSION), as
 * gust's connections to one origin share a session; without it each easy
 * handle would keep its own. A load of a new connection per request sets
 * CURLOPT_FORBID_REUSE, which closes each connection after its transfer. */
#include "tools/bench/http_peer.h"
#include "tools/bench/measure.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct curl_run_s {
    uint64_t body_bytes;
} curl_run_t;

static size_t discard(char *data, size_t size, size_t num, void *arg)
{
    (void)data;
    curl_run_t *run = arg;
    run->body_bytes += size * num;
    return size * num;
}

static bool global_init(bench_result_t *r)
{
    /* Once, before any transfer; the benchmark calls peers from one thread. */
    static CURLcode init = CURL_LAST;
    if (init == CURL_LAST)
        init = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (init != CURLE_OK)
        bench_set_why(r, BENCH_FAILED, "curl_global_init: %s", curl_easy_strerror(init));
    return init == CURLE_OK;
}

const char *bench_curl_version(void)
{
    static char version[64];
    snprintf(version, sizeof(version), "libcurl %s", curl_version_info(CURLVERSION_NOW)->version);
    return version;
}

const char *bench_curl_ssl_version(void)
{
    const char *ssl = curl_version_info(CURLVERSION_NOW)->ssl_version;
    return ssl != NULL ? ssl : "no TLS library";
}

bench_result_t bench_curl(const bench_load_t *load)
{
    unsigned concurrency = load->concurrency;
    unsigned long requests = load->requests;
    bench_result_t r = {.status = BENCH_OK, .threads = 1};
    if (!global_init(&r))
        return r;
    unsigned num_handles = (unsigned long)concurrency < requests ? concurrency : (unsigned)requests;
    curl_run_t run = {0};
    bool https = strncmp(load->url, "https:", 6) == 0;
    CURLSH *share = NULL;
    CURLM *multi = curl_multi_init();
    CURL **easy = calloc(num_handles, sizeof(*easy));
    if (https) {
        /* One thread: the share needs no lock callbacks. */
        share = curl_share_init();
        if (share != NULL &&
            curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
            bench_set_why(&r, BENCH_FAILED, "curl_share_setopt(CURL_LOCK_DATA_SSL_SESSION) failed");
            goto done;
        }
    }
    if (multi == NULL || easy == NULL || (https && share == NULL)) {
        bench_set_why(&r, BENCH_FAILED, "curl: out of memory");
        goto done;
    }
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)concurrency);
    for (unsigned i = 0; i < num_handles; i++) {
        easy[i] = curl_easy_init();
        if (easy[i] == NULL) {
            bench_set_why(&r, BENCH_FAILED, "curl_easy_init failed");
            goto done;
        }
        curl_easy_setopt(easy[i], CURLOPT_URL, load->url);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &run);
        curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy[i], CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        if (https) {
            curl_easy_setopt(easy[i], CURLOPT_SHARE, share);
            if (load->ca_file != NULL)
                curl_easy_setopt(easy[i], CURLOPT_CAINFO, load->ca_file);
        }
        if (load->new_conn_per_request)
            curl_easy_setopt(easy[i], CURLOPT_FORBID_REUSE, 1L);
    }

    uint64_t cpu0 = bench_self_cpu_ns();
    uint64_t t0 = bench_now_ns();
    unsigned long started = 0, finished = 0;
    for (unsigned i = 0; i < num_handles; i++, started++)
        curl_multi_add_handle(multi, easy[i]);
    while (finished < requests) {
        int running;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            bench_set_why(&r, BENCH_FAILED, "curl_multi_perform: %s", curl_multi_strerror(mc));
            goto done;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            CURLcode result = msg->data.result;
            long code = 0, conns = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
            r.connections += (unsigned long)conns;
            if (result == CURLE_OK && code == 200) {
                r.requests++;
            } else {
                if (r.failures++ == 0)
                    bench_set_why(&r, BENCH_FAILED, "curl: %s, status %ld",
                                  curl_easy_strerror(result), code);
            }
            finished++;
            curl_multi_remove_handle(multi, e);
            if (started < requests) {
                curl_multi_add_handle(multi, e);
                started++;
            }
        }
        if (finished < requests) {
            mc = curl_multi_poll(multi, NULL, 0, 1000, NULL);
            if (mc != CURLM_OK) {
                bench_set_why(&r, BENCH_FAILED, "curl_multi_poll: %s", curl_multi_strerror(mc));
                goto done;
            }
        }
    }
    r.wall_ns = bench_now_ns() - t0;
    r.cpu_ns = bench_self_cpu_ns() - cpu0;
    r.body_bytes = run.body_bytes;

done:
    for (unsigned i = 0; easy != NULL && i < num_handles; i++) {
        if (easy[i] != NULL) {
            curl_multi_remove_handle(multi, easy[i]);
            curl_easy_cleanup(easy[i]);
        }
    }
    free(easy);
    if (multi != NULL)
        curl_multi_cleanup(multi);
    /* After the handles that used it. */
    if (share != NULL)
        curl_share_cleanup(share);
    return r;
}
