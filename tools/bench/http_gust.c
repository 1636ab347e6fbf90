/* tools/bench/http_gust.c: gust's client as a peer of the HTTP and HTTPS
 * benchmarks.
 *
 * A runtime of `threads` workers and a client limited to `concurrency`
 * connections to the one origin, trusting the load's CA for https, and
 * closing each connection after one request when the load asks for a new
 * connection per request (max_requests_per_conn = 1); TLS sessions are then
 * resumed as the client does by default, through the origin's shared
 * session.
 *
 * `concurrency` lanes each have one request in flight: the calling thread
 * sends each lane's first request, and from then on each request's on_done
 * callback (on a worker) counts the response in its lane and sends the
 * lane's next one, so exactly `concurrency` requests are in flight until
 * the last ones drain. A lane's requests complete one after another, so its
 * counters need no atomics, and lanes sit on cache lines of their own; the
 * one thing shared per request is the claim of the next request number, so
 * that a lane on a faster worker takes more of them and no worker idles
 * through a long tail (as with a fixed share per lane). With four shared
 * counters instead, the library at two workers took 12.1 us of CPU a
 * request against the CLI's 10.3 in one compare run. The last lane to
 * finish posts a semaphore the calling thread waits on.
 *
 * The future gust_http_send returns is not kept: its reference passes to
 * the on_done callback, which drops it (the future stays alive for the
 * callback's whole call), so the sender never touches a future that may
 * already be complete and freed. */
#include "tools/bench/http_peer.h"
#include "tools/bench/measure.h"

#include "gust/client.h"
#include "gust/reactor.h"

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The whole run must end within this, or the benchmark stops. */
#define GUST_RUN_TIMEOUT_S 600

typedef struct gust_run_s gust_run_t;

/* One request in flight at a time. Written only by the callback of its
 * request in flight (and, before the first send, by the calling thread);
 * each completion happens-before the next send's callback through gust. */
typedef struct lane_s {
    _Alignas(64) gust_run_t *run;
    unsigned long ok, failed;
    uint64_t body_bytes;
} lane_t;

struct gust_run_s {
    gust_client_t *client;
    gust_request_t req;
    unsigned long target;
    /* Claimed sends: a lane that gets a number >= target retires. Relaxed:
     * only the count matters. */
    atomic_ulong sent;
    unsigned num_lanes;
    /* Lanes done. acq_rel: the last increment acquires every lane's counts
     * and publishes them to the waiter through the semaphore. */
    atomic_uint retired;
    /* The first failure's message, written by whoever wins the flag. */
    atomic_flag failure_noted;
    char failure[200];
    sem_t finished;
};

static void send_next(lane_t *lane);

static void note_failure(lane_t *lane, gust_future_t *future, int status)
{
    gust_run_t *run = lane->run;
    lane->failed++;
    if (atomic_flag_test_and_set_explicit(&run->failure_noted, memory_order_relaxed))
        return;
    if (status != 0)
        snprintf(run->failure, sizeof(run->failure), "status %d", status);
    else
        snprintf(run->failure, sizeof(run->failure), "%s", gust_future_message(future));
}

/* On a worker, once a lane's request is complete. */
static void on_done(gust_future_t *future, void *arg)
{
    lane_t *lane = arg;
    gust_response_t *resp = gust_http_response(future);
    int status = resp != NULL ? gust_response_status(resp) : 0;
    if (status == 200) {
        size_t len = 0;
        gust_response_body(resp, &len);
        lane->ok++;
        lane->body_bytes += len;
    } else {
        note_failure(lane, future, status);
    }
    /* The sender's reference, handed over at gust_http_send. */
    gust_future_free(future);
    send_next(lane);
}

static void send_next(lane_t *lane)
{
    gust_run_t *run = lane->run;
    if (atomic_fetch_add_explicit(&run->sent, 1, memory_order_relaxed) >= run->target) {
        /* Last: once every lane is retired the waiter frees them. */
        if (atomic_fetch_add_explicit(&run->retired, 1, memory_order_acq_rel) + 1 ==
            run->num_lanes)
            sem_post(&run->finished);
        return;
    }
    gust_request_t req = run->req;
    req.on_done_arg = lane;
    /* NULL only when out of memory: nothing would complete it, and the
     * lane could never retire. */
    if (gust_http_send(run->client, &req) == NULL) {
        fprintf(stderr, "bench: gust_http_send: out of memory\n");
        abort();
    }
}

static bool wait_finished(gust_run_t *run)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += GUST_RUN_TIMEOUT_S;
    while (sem_timedwait(&run->finished, &deadline) != 0) {
        if (errno != EINTR)
            return false;
    }
    return true;
}

bench_result_t bench_gust(const bench_load_t *load)
{
    unsigned concurrency = load->concurrency;
    unsigned long requests = load->requests;
    bench_result_t r = {.status = BENCH_OK, .threads = load->threads};
    gust_runtime_opts_t ro = gust_runtime_opts_default();
    ro.pool.num_threads = load->threads;
    ro.pool.thread_name_prefix = "bench";
    ro.blocking_threads = 1;
    /* A socket per connection and some to spare. */
    if (load->concurrency > ro.fd_table_hint - 64)
        ro.fd_table_hint = load->concurrency + 64;
    gust_runtime_t *runtime = gust_runtime_new(&ro);
    if (runtime == NULL) {
        bench_set_why(&r, BENCH_FAILED, "gust_runtime_new: %s", strerror(errno));
        return r;
    }
    gust_client_opts_t co = gust_client_opts_default();
    co.max_per_host = concurrency; /* as many connections as the other peers */
    co.decompress = false;         /* no Accept-Encoding, like curl and h2load */
    co.ca_file = load->ca_file;
    if (load->new_conn_per_request)
        co.max_requests_per_conn = 1;
    gust_run_t *run = calloc(1, sizeof(*run));
    lane_t *lanes = aligned_alloc(_Alignof(lane_t), concurrency * sizeof(*lanes));
    gust_client_t *client = gust_client_new(runtime, &co);
    if (run == NULL || lanes == NULL || client == NULL) {
        bench_set_why(&r, BENCH_FAILED, "gust_client_new: %s", strerror(errno));
        gust_client_free(client);
        gust_runtime_free(runtime);
        free(lanes);
        free(run);
        return r;
    }
    run->client = client;
    run->target = requests;
    run->req = (gust_request_t){.url = load->url, .on_done = on_done};
    run->num_lanes = concurrency;
    atomic_flag_clear(&run->failure_noted);
    sem_init(&run->finished, 0, 0);
    for (unsigned i = 0; i < concurrency; i++)
        lanes[i] = (lane_t){.run = run};

    uint64_t cpu0 = bench_self_cpu_ns();
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < concurrency; i++)
        send_next(&lanes[i]);
    if (!wait_finished(run)) {
        /* Requests still reference `run`: stop here rather than free it. */
        fprintf(stderr, "bench: gust: %u of %u lanes done after %d s\n",
                atomic_load(&run->retired), concurrency, GUST_RUN_TIMEOUT_S);
        exit(1);
    }
    r.wall_ns = bench_now_ns() - t0;
    r.cpu_ns = bench_self_cpu_ns() - cpu0;

    gust_client_stats_t stats;
    gust_client_stats(client, &stats);
    r.connections = (unsigned long)stats.connections_opened;
    for (unsigned i = 0; i < concurrency; i++) {
        r.requests += lanes[i].ok;
        r.failures += lanes[i].failed;
        r.body_bytes += lanes[i].body_bytes;
    }
    if (r.failures > 0)
        bench_set_why(&r, BENCH_FAILED, "gust: %lu of %lu requests failed; first: %s", r.failures,
                      requests, run->failure);

    gust_client_free(client);
    gust_runtime_free(runtime);
    sem_destroy(&run->finished);
    free(lanes);
    free(run);
    return r;
}
