/* tools/bench/http_h2load.c: the h2load peer of the HTTP and HTTPS
 * benchmarks.
 *
 * Runs `h2load --h1 -n N -c C -t 1 URL` (Debian's nghttp2-client) and reads
 * its summary:
 *
 *     finished in 443.95ms, 45050.63 req/s, 54.91MB/s
 *     requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, ...
 *     status codes: 20000 2xx, 0 3xx, 0 4xx, 0 5xx
 *     traffic: 24.38MB (25560000) total, ... 19.53MB (20480000) data
 *
 * The wall time is h2load's own "finished in" (its first connect to its last
 * response, as for the other peers); the CPU time is the whole program's,
 * from wait4, so it also counts h2load's start and exit (about 1 ms).
 *
 * For https h2load verifies no certificate. It has no option for a new
 * connection per request; when the server closes each connection after one
 * response (https.c's handshake servers), it reconnects for the next, and
 * resumes its TLS session. It does not count its connections then. */
#include "tools/bench/http_peer.h"
#include "tools/bench/measure.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* h2load should take well under a minute; a hang fails the run. */
#define H2LOAD_TIMEOUT_NS (600ull * 1000000000ull)

/* "443.95ms" and friends (util::format_duration: s, ms, us). */
static bool parse_duration_ns(const char *s, uint64_t *out_ns)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return false;
    double scale = strncmp(end, "ms", 2) == 0   ? 1e6
                   : strncmp(end, "us", 2) == 0 ? 1e3
                   : strncmp(end, "s", 1) == 0  ? 1e9
                                                : 0;
    if (scale == 0)
        return false;
    *out_ns = (uint64_t)(v * scale);
    return true;
}

/* The first line starting with `prefix`, just after the prefix. */
static const char *line_after(const char *text, const char *prefix)
{
    size_t len = strlen(prefix);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, prefix, len) == 0)
            return line + len;
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return NULL;
}

static bool parse_output(const char *out, bench_result_t *r)
{
    const char *finished = line_after(out, "finished in ");
    const char *requests = line_after(out, "requests: ");
    const char *codes = line_after(out, "status codes: ");
    const char *traffic = line_after(out, "traffic: ");
    unsigned long total, started, done, succeeded, failed, errored, timeouts, ok;
    if (finished == NULL || requests == NULL || codes == NULL || traffic == NULL ||
        !parse_duration_ns(finished, &r->wall_ns) ||
        sscanf(
            requests,
            "%lu total, %lu started, %lu done, %lu succeeded, %lu failed, %lu errored, %lu timeout",
            &total, &started, &done, &succeeded, &failed, &errored, &timeouts) != 7 ||
        sscanf(codes, "%lu 2xx", &ok) != 1)
        return false;
    /* "... 19.53MB (20480000) data": the number in brackets before "data". */
    const char *data = strstr(traffic, ") data");
    if (data == NULL)
        return false;
    const char *open = data;
    while (open > traffic && *open != '(')
        open--;
    r->body_bytes = strtoull(open + 1, NULL, 10);
    /* h2load's 2xx are all 200 for a static file. */
    r->requests = ok;
    r->failures = total - ok;
    return true;
}

bench_result_t bench_h2load(const bench_load_t *load)
{
    unsigned long requests = load->requests;
    bench_result_t r = {.status = BENCH_OK, .threads = 1};
    if (!load->new_conn_per_request)
        r.connections = load->concurrency;
    char path[4096];
    if (bench_which("h2load", path, sizeof(path)) == NULL) {
        bench_set_why(&r, BENCH_MISSING, "h2load not found (Debian: nghttp2-client)");
        return r;
    }
    char n[32], c[32];
    snprintf(n, sizeof(n), "%lu", requests);
    snprintf(c, sizeof(c), "%u", load->concurrency);
    char *argv[] = {path, "--h1", "-n", n, "-c", c, "-t", "1", (char *)load->url, NULL};
    bench_child_t child;
    if (!bench_run_peer(argv, "h2load", H2LOAD_TIMEOUT_NS, &child, &r))
        return r;
    r.cpu_ns = bench_rusage_cpu_ns(&child.usage);
    if (!parse_output(child.output, &r)) {
        bench_set_why(&r, BENCH_FAILED, "cannot read h2load's summary: %.120s", child.output);
    } else if (r.failures > 0) {
        bench_set_why(&r, BENCH_FAILED, "h2load: %lu of %lu requests failed", r.failures, requests);
    }
    bench_child_free(&child);
    return r;
}

const char *bench_h2load_version(void)
{
    static char version[64];
    if (version[0] != '\0')
        return version;
    snprintf(version, sizeof(version), "h2load missing");
    char path[4096];
    if (bench_which("h2load", path, sizeof(path)) == NULL)
        return version;
    bench_program_version(path, version, sizeof(version)); /* "h2load nghttp2/1.52.0" */
    return version;
}
