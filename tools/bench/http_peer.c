/* tools/bench/http_peer.c: a peer's result as one line of text (see
 * http_peer.h). */
#include "tools/bench/http_peer.h"

#include <string.h>

#define RESULT_TAG "bench-result "

void bench_result_write(FILE *f, const bench_result_t *r)
{
    /* `why` ends the line: keep it on one. */
    char why[sizeof(r->why)];
    snprintf(why, sizeof(why), "%s", r->why);
    for (char *p = why; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    fprintf(f,
            RESULT_TAG "status=%d threads=%u requests=%lu failures=%lu body_bytes=%llu "
                       "connections=%lu wall_ns=%llu cpu_ns=%llu why=%s\n",
            (int)r->status, r->threads, r->requests, r->failures, (unsigned long long)r->body_bytes,
            r->connections, (unsigned long long)r->wall_ns, (unsigned long long)r->cpu_ns, why);
}

bool bench_result_read(const char *text, bench_result_t *out)
{
    const char *line = text;
    while (strncmp(line, RESULT_TAG, strlen(RESULT_TAG)) != 0) {
        line = strchr(line, '\n');
        if (line == NULL)
            return false;
        line++;
    }
    bench_result_t r = {0};
    int status, why_at = -1;
    unsigned long long body_bytes, wall_ns, cpu_ns;
    if (sscanf(line,
               RESULT_TAG "status=%d threads=%u requests=%lu failures=%lu body_bytes=%llu "
                          "connections=%lu wall_ns=%llu cpu_ns=%llu why=%n",
               &status, &r.threads, &r.requests, &r.failures, &body_bytes, &r.connections, &wall_ns,
               &cpu_ns, &why_at) != 8 ||
        why_at < 0 || status < BENCH_OK || status > BENCH_FAILED)
        return false;
    r.status = (bench_status_t)status;
    r.body_bytes = body_bytes;
    r.wall_ns = wall_ns;
    r.cpu_ns = cpu_ns;
    const char *why = line + why_at;
    snprintf(r.why, sizeof(r.why), "%.*s", (int)strcspn(why, "\n"), why);
    *out = r;
    return true;
}
