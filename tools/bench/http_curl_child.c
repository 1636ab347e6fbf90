/* tools/bench/http_curl_child.c: the libcurl peer run as the program
 * curl_peer, built beside the benchmark (see http_peer.h). The program is
 * found in the directory of this one's executable, where Bazel puts a
 * cc_binary's data dependency of the same package. */
#include "tools/bench/http_peer.h"
#include "tools/bench/measure.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* bench_curl ends its own run well before this; a hang fails the run. */
#define CURL_PEER_TIMEOUT_NS (600ull * 1000000000ull)

/* The path of curl_peer beside this program's executable, if it is there. */
static bool find_curl_peer(char *buf, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL)
        return false;
    *slash = '\0';
    int len = snprintf(buf, cap, "%s/curl_peer", self);
    return len > 0 && (size_t)len < cap && access(buf, X_OK) == 0;
}

bench_result_t bench_curl_child(const bench_load_t *load)
{
    bench_result_t r = {.status = BENCH_OK, .threads = 1};
    char path[PATH_MAX];
    if (!find_curl_peer(path, sizeof(path))) {
        bench_set_why(&r, BENCH_MISSING,
                      "no curl_peer beside this program (//tools/bench:curl_peer)");
        return r;
    }
    char concurrency[48], requests[48], ca_file[PATH_MAX + 16];
    snprintf(concurrency, sizeof(concurrency), "--concurrency=%u", load->concurrency);
    snprintf(requests, sizeof(requests), "--requests=%lu", load->requests);
    char *argv[8];
    int argc = 0;
    argv[argc++] = path;
    argv[argc++] = concurrency;
    argv[argc++] = requests;
    if (load->ca_file != NULL) {
        snprintf(ca_file, sizeof(ca_file), "--ca-file=%s", load->ca_file);
        argv[argc++] = ca_file;
    }
    if (load->new_conn_per_request)
        argv[argc++] = "--new-conn-per-request";
    argv[argc++] = (char *)load->url;
    argv[argc] = NULL;

    bench_child_t child;
    if (!bench_run_peer(argv, "curl_peer", CURL_PEER_TIMEOUT_NS, &child, &r))
        return r;
    if (!bench_result_read(child.output, &r))
        bench_set_why(&r, BENCH_FAILED, "cannot read curl_peer's result: %.120s", child.output);
    bench_child_free(&child);
    return r;
}

const char *bench_curl_child_version(void)
{
    static char version[96];
    if (version[0] != '\0')
        return version;
    snprintf(version, sizeof(version), "libcurl: curl_peer missing");
    char path[PATH_MAX];
    if (!find_curl_peer(path, sizeof(path)))
        return version;
    bench_program_version(path, version, sizeof(version)); /* "libcurl 7.88.1, OpenSSL/3.0.19" */
    return version;
}
