/* tools/bench/http_gust.c: gust's client as a peer of the HTTP and HTTPS
 * benchmarks.
 *
 * A runtime of `threads` workers and a client limited to `concurrency`
 * connections to the one origin, trusting the load's CA for https, and
 * closing each connection after one request when the load asks for a new
 * connection per request (max_requests_per_conn = 1); TLS sessions are then
 * resumed as the client does by default, through the origin's shared
 * session. The calling thread sends the first `concurrency` requests; from
 * then on each request's on_done callback (on a worker) counts the response
 * and sends the next one, so exactly `concurrency` requests are in flight
 * until the last ones drain. The last completion posts a semaphore the
 * calling thread waits on.
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

typedef struct gust_run_s {
    gust_client_t *client;
    gust_request_t req;
    unsigned long target;
    /* Claimed sends: a sender that gets a number >= target sends nothing.
     * Relaxed: only the count matters; completions are ordered by `done`. */
    atomic_ulong sent;
    /* Completed requests. acq_rel: the last increment (the one that reaches
     * target) acquires every earlier completion's counts, and publishes
     * them to the waiter through the semaphore. */
    atomic_ulong done;
    atomic_ulong ok;
    atomic_ulong failed;
    atomic_ullong body_bytes;
    /* The first failure's message, written by whoever wins the flag. */
    atomic_flag failure_noted;
    char failure[200];
    /* sem_post/sem_wait order everything before the last completion before
     * the waiter's reads. */
    sem_t finished;
} gust_run_t;

static void send_next(gust_run_t *run);

static void note_failure(gust_run_t *run, gust_future_t *future, int status)
{
    atomic_fetch_add_explicit(&run->failed, 1, memory_order_relaxed);
    if (atomic_flag_test_and_set_explicit(&run->failure_noted, memory_order_relaxed))
        return;
    if (status != 0)
        snprintf(run->failure, sizeof(run->failure), "status %d", status);
    else
        snprintf(run->failure, sizeof(run->failure), "%s", gust_future_message(future));
}

/* On a worker, once a request is complete. */
static void on_done(gust_future_t *future, void *arg)
{
    gust_run_t *run = arg;
    gust_response_t *resp = gust_http_response(future);
    int status = resp != NULL ? gust_response_status(resp) : 0;
    if (status == 200) {
        size_t len = 0;
        gust_response_body(resp, &len);
        atomic_fetch_add_explicit(&run->ok, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&run->body_bytes, len, memory_order_relaxed);
    } else {
        note_failure(run, future, status);
    }
    /* The sender's reference, handed over at gust_http_send. */
    gust_future_free(future);
    send_next(run);
    /* Last: once `done` reaches its end the waiter frees `run`, so no
     * callback may touch it after its own increment. */
    unsigned long done = atomic_fetch_add_explicit(&run->done, 1, memory_order_acq_rel) + 1;
    if (done == run->target)
        sem_post(&run->finished);
}

static void send_next(gust_run_t *run)
{
    unsigned long n = atomic_fetch_add_explicit(&run->sent, 1, memory_order_relaxed);
    if (n >= run->target)
        return;
    /* NULL only when out of memory: nothing would complete it, and the
     * count could never reach its end. */
    if (gust_http_send(run->client, &run->req) == NULL) {
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
    gust_client_t *client = gust_client_new(runtime, &co);
    if (run == NULL || client == NULL) {
        bench_set_why(&r, BENCH_FAILED, "gust_client_new: %s", strerror(errno));
        gust_client_free(client);
        gust_runtime_free(runtime);
        free(run);
        return r;
    }
    run->client = client;
    run->target = requests;
    run->req = (gust_request_t){.url = load->url, .on_done = on_done, .on_done_arg = run};
    atomic_flag_clear(&run->failure_noted);
    sem_init(&run->finished, 0, 0);

    uint64_t cpu0 = bench_self_cpu_ns();
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < concurrency; i++)
        send_next(run);
    if (!wait_finished(run)) {
        /* Requests still reference `run`: stop here rather than free it. */
        fprintf(stderr, "bench: gust: %lu of %lu requests done after %d s\n",
                atomic_load(&run->done), requests, GUST_RUN_TIMEOUT_S);
        exit(1);
    }
    r.wall_ns = bench_now_ns() - t0;
    r.cpu_ns = bench_self_cpu_ns() - cpu0;

    gust_client_stats_t stats;
    gust_client_stats(client, &stats);
    r.connections = (unsigned long)stats.connections_opened;
    r.requests = atomic_load(&run->ok);
    r.failures = atomic_load(&run->failed);
    r.body_bytes = atomic_load(&run->body_bytes);
    if (r.failures > 0)
        bench_set_why(&r, BENCH_FAILED, "gust: %lu of %lu requests failed; first: %s", r.failures,
                      requests, run->failure);

    gust_client_free(client);
    gust_runtime_free(runtime);
    sem_destroy(&run->finished);
    free(run);
    return r;
}
