/* tools/bench/peer_main.c: main of the C peers of tools/bench/compare: the
 * command line and the output (see compare_peer.h) around the peer's
 * compare_peer_ops. */
#include "tools/bench/compare_peer.h"
#include "tools/bench/measure.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void usage(const char *name)
{
    fprintf(stderr,
            "usage: %s --version\n"
            "       %s load [--concurrency=C] [--requests=N] [--threads=T] URL\n"
            "       %s urls [--limit=L] [--threads=T] URL...\n"
            "       %s hold [--connections=N] [--threads=T] URL\n",
            name, name, name, name);
    exit(2);
}

static void print_result(const bench_result_t *r)
{
    /* `why` ends the line: keep it on one. */
    char why[sizeof(r->why)];
    snprintf(why, sizeof(why), "%s", r->status == BENCH_OK ? "" : r->why);
    for (char *p = why; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    printf("compare-result ok=%lu failed=%lu wall_s=%.6f connections=%lu why=%s\n", r->requests,
           r->failures, (double)r->wall_ns / 1e9, r->connections, why);
}

int main(int argc, char **argv)
{
    const peer_ops_t *ops = &compare_peer_ops;
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("%s\n", ops->version());
        return 0;
    }
    if (argc < 3)
        usage(ops->name);
    const char *mode = argv[1];
    bench_load_t load = {.concurrency = 1, .requests = 1};
    unsigned long connections = 1, limit = 0, threads = 0, v;
    char **urls = calloc((size_t)argc, sizeof(*urls));
    size_t num_urls = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (bench_flag_ulong(a, "--concurrency", 1, 100000, &v))
            load.concurrency = (unsigned)v;
        else if (bench_flag_ulong(a, "--requests", 1, 1000000000, &v))
            load.requests = v;
        else if (bench_flag_ulong(a, "--connections", 1, 1000000, &connections))
            continue;
        else if (bench_flag_ulong(a, "--limit", 0, 1000000, &limit))
            continue;
        else if (bench_flag_ulong(a, "--threads", 0, 1024, &threads))
            continue;
        else if (a[0] != '-')
            urls[num_urls++] = argv[i];
        else
            usage(ops->name);
    }
    /* A connection the server closed must fail a request, not the program;
     * and hold needs a descriptor per connection. */
    signal(SIGPIPE, SIG_IGN);
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    bench_result_t r;
    if (strcmp(mode, "load") == 0 && num_urls == 1) {
        load.url = urls[0];
        load.threads = (unsigned)threads;
        r = ops->load(&load);
    } else if (strcmp(mode, "urls") == 0 && num_urls >= 1) {
        peer_urls_t u = {urls, num_urls, (unsigned)limit, (unsigned)threads};
        r = ops->urls(&u);
    } else if (strcmp(mode, "hold") == 0 && num_urls == 1) {
        char **same = calloc(connections, sizeof(*same));
        if (same == NULL) {
            fprintf(stderr, "%s: out of memory\n", ops->name);
            return 1;
        }
        for (unsigned long i = 0; i < connections; i++)
            same[i] = urls[0];
        peer_urls_t u = {same, connections, 0, (unsigned)threads};
        r = ops->urls(&u);
        free(same);
    } else {
        usage(ops->name);
    }
    print_result(&r);
    free(urls);
    return 0;
}
