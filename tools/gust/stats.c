/* Outcomes of many requests: counts by status code and by error name, and
 * latencies in a log-linear histogram (HdrHistogram's layout, fixed size), so
 * a run of ten million requests takes no more memory than a run of ten. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gust/internal.h"

stats_t *stats_new(void)
{
    /* Zeroed memory is a valid state for every atomic counter here. */
    return calloc(1, sizeof(stats_t));
}

void stats_free(stats_t *s)
{
    free(s);
}

static size_t bucket_of(uint64_t us)
{
    if (us < 2 * STATS_SUB)
        return (size_t)us;
    if (us >= UINT64_C(1) << STATS_MAX_EXP)
        us = (UINT64_C(1) << STATS_MAX_EXP) - 1;
    unsigned e = 63 - (unsigned)__builtin_clzll(us); /* >= STATS_SUB_BITS + 1 */
    uint64_t m = us >> (e - STATS_SUB_BITS);         /* in [STATS_SUB, 2 * STATS_SUB) */
    return 2 * STATS_SUB + (e - STATS_SUB_BITS - 1) * STATS_SUB + (size_t)(m - STATS_SUB);
}

/* The middle of bucket i. */
static uint64_t bucket_value(size_t i)
{
    if (i < 2 * STATS_SUB)
        return i;
    size_t k = i - 2 * STATS_SUB;
    unsigned shift = (unsigned)(k / STATS_SUB) + 1;
    uint64_t m = k % STATS_SUB + STATS_SUB;
    return (m << shift) + (UINT64_C(1) << shift) / 2;
}

/* Every code with a gust name, in the order the summary lists them. */
static const int err_codes[STATS_NUM_ERRS] = {
#define STATS_ERR_CODE_(name, code, message) code,
    GUST_ERR_MAP(STATS_ERR_CODE_) GUST_HTTP_ERR_MAP(STATS_ERR_CODE_)
#undef STATS_ERR_CODE_
};

/* err's counter in by_err: 1 + its index in err_codes, or 0 for a code
 * without a gust name. A failure costs a short scan; a success none. */
static size_t err_slot(int err)
{
    for (size_t i = 0; i < STATS_NUM_ERRS; i++) {
        if (err_codes[i] == err)
            return i + 1;
    }
    return 0;
}

void stats_record(stats_t *s, int status, int err, uint64_t bytes, uint64_t latency_ns)
{
    /* Relaxed throughout: see stats_t. */
    if (err != 0) {
        atomic_fetch_add_explicit(&s->by_err[err_slot(err)], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->failed, 1, memory_order_relaxed);
    } else {
        int i = status >= 0 && status < STATS_STATUSES ? status : 0;
        atomic_fetch_add_explicit(&s->by_status[i], 1, memory_order_relaxed);
        if (status >= 400)
            atomic_fetch_add_explicit(&s->http_errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->bytes, bytes, memory_order_relaxed);
    }
    uint64_t us = latency_ns / 1000;
    atomic_fetch_add_explicit(&s->hist[bucket_of(us)], 1, memory_order_relaxed);
    unsigned long long max = atomic_load_explicit(&s->max_us, memory_order_relaxed);
    while (us > max && !atomic_compare_exchange_weak_explicit(
                           &s->max_us, &max, us, memory_order_relaxed, memory_order_relaxed)) {
    }
    atomic_fetch_add_explicit(&s->done, 1, memory_order_relaxed);
}

uint64_t stats_percentile(const stats_t *s, double p)
{
    unsigned long long total = 0;
    for (size_t i = 0; i < STATS_BUCKETS; i++)
        total += atomic_load_explicit(&s->hist[i], memory_order_relaxed);
    if (total == 0)
        return 0;
    unsigned long long rank = (unsigned long long)ceil(p * (double)total);
    if (rank < 1)
        rank = 1;
    uint64_t max = atomic_load_explicit(&s->max_us, memory_order_relaxed);
    unsigned long long seen = 0;
    for (size_t i = 0; i < STATS_BUCKETS; i++) {
        seen += atomic_load_explicit(&s->hist[i], memory_order_relaxed);
        if (seen >= rank) {
            uint64_t v = bucket_value(i);
            return v < max ? v : max;
        }
    }
    return max;
}

const char *stats_ms(char *buf, size_t len, uint64_t us)
{
    double ms = (double)us / 1000.0;
    if (ms < 1)
        snprintf(buf, len, "%.3f", ms);
    else if (ms < 10)
        snprintf(buf, len, "%.2f", ms);
    else if (ms < 100)
        snprintf(buf, len, "%.1f", ms);
    else
        snprintf(buf, len, "%.0f", ms);
    return buf;
}

void stats_summary(const stats_t *s, FILE *out, const char *label, uint64_t wall_ns,
                   const gust_client_stats_t *client)
{
    unsigned long done = atomic_load_explicit(&s->done, memory_order_relaxed);
    unsigned long failed = atomic_load_explicit(&s->failed, memory_order_relaxed);
    unsigned long long bytes = atomic_load_explicit(&s->bytes, memory_order_relaxed);
    double secs = (double)wall_ns / 1e9;
    double rate = secs > 0 ? (double)done / secs : 0;
    double mbps = secs > 0 ? (double)bytes / 1e6 / secs : 0;
    fprintf(out, "%s: %lu requests in %.2f s: %.1f req/s, %.2f MB/s (%.2f MB of bodies)\n", label,
            done, secs, rate, mbps, (double)bytes / 1e6);

    fprintf(out, "%s:   responses %lu:", label, done - failed);
    bool any = false;
    for (int code = 0; code < STATS_STATUSES; code++) {
        unsigned long n = atomic_load_explicit(&s->by_status[code], memory_order_relaxed);
        if (n != 0) {
            fprintf(out, "%s %d x %lu", any ? "," : "", code, n);
            any = true;
        }
    }
    fputs(any ? "\n" : " none\n", out);

    fprintf(out, "%s:   errors %lu:", label, failed);
    any = false;
    for (int i = 1; i <= STATS_NUM_ERRS; i++) {
        unsigned long n = atomic_load_explicit(&s->by_err[i], memory_order_relaxed);
        if (n != 0) {
            fprintf(out, "%s %s x %lu", any ? "," : "", gust_err_name(err_codes[i - 1]), n);
            any = true;
        }
    }
    unsigned long unknown = atomic_load_explicit(&s->by_err[0], memory_order_relaxed);
    if (unknown != 0) {
        fprintf(out, "%s UNKNOWN x %lu", any ? "," : "", unknown);
        any = true;
    }
    fputs(any ? "\n" : " none\n", out);

    if (done > 0) {
        char p50[32], p90[32], p99[32], max[32];
        fprintf(out, "%s:   latency ms: p50 %s, p90 %s, p99 %s, max %s\n", label,
                stats_ms(p50, sizeof(p50), stats_percentile(s, 0.50)),
                stats_ms(p90, sizeof(p90), stats_percentile(s, 0.90)),
                stats_ms(p99, sizeof(p99), stats_percentile(s, 0.99)),
                stats_ms(max, sizeof(max), atomic_load_explicit(&s->max_us, memory_order_relaxed)));
    }
    if (client != NULL)
        fprintf(out,
                "%s:   connections: %llu opened, %llu requests on reused ones (%llu pipelined), "
                "%llu stale ones retried\n",
                label, (unsigned long long)client->connections_opened,
                (unsigned long long)client->connections_reused,
                (unsigned long long)client->pipelined, (unsigned long long)client->retries);
}
