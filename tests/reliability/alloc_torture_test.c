/* Allocation-failure torture (curl's method): a small request is run once
 * for every N, with the Nth allocation failing (alloc_fail.h), from N = 1
 * until a run makes fewer than N allocations. The request: a runtime and a
 * client made, one GET to the test server that is redirected to a gzip'd
 * body, everything freed. Each run must either succeed or fail cleanly, with
 * ENOMEM from a constructor or GUST_ERR_NOMEM on the future; never crash,
 * never hang (each run is bounded), and free every allocation and fd it
 * made. With $ALLOC_FAIL_BACKTRACE set, each run prints where its failure
 * was injected.
 *
 * Each run is a child process, so a crash ends only it and names its N. The
 * server runs in a process of its own: its allocations are not numbered. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gust/reactor.h"
#include "tests/http/client_util.h"
#include "tests/reliability/alloc_fail.h"
#include "tests/support/fds.h"
#include "tests/support/http_server_process.h"

/* Seconds one run may take. */
enum { RUN_LIMIT_S = 20 };

/* Runs past this many allocations mean the loop never ends: fail. */
enum { MAX_N = 20000 };

enum { BODY_LEN = 1000 };

/* What a run reports to the parent, in memory both share. */
typedef struct report_s {
    bool injected;          /* the Nth allocation was made, and failed */
    unsigned long numbered; /* allocations made during the run */
    int outcome;            /* 0: a response; else the error (or -ENOMEM from a constructor) */
} report_t;

typedef struct run_s {
    const char *url;
    const char *final_url;
    unsigned long fail_at;
    report_t *report;
} run_t;

/* The request, under the armed allocator. Returns 0 for a good response,
 * -ENOMEM for a constructor's clean failure, or the future's error. */
static int request_once(const run_t *run)
{
    gust_runtime_opts_t ro = gust_runtime_opts_default();
    /* One worker and one blocking thread: allocations come in nearly the
     * same order each run, so N names nearly the same site. */
    ro.pool.num_threads = 1;
    ro.blocking_threads = 1;
    gust_runtime_t *runtime = gust_runtime_new(&ro);
    if (runtime == NULL) {
        ASSERT_EQ(errno, ENOMEM);
        return -ENOMEM;
    }
    int outcome = -ENOMEM;
    gust_client_t *client = gust_client_new(runtime, NULL);
    if (client == NULL) {
        ASSERT_EQ(errno, ENOMEM);
        goto free_runtime;
    }
    gust_request_t req = {.url = run->url};
    gust_future_t *future = gust_http_send(client, &req);
    if (future == NULL)
        goto free_client;
    gust_future_state_t state =
        gust_future_wait_for(future, (uint64_t)RUN_LIMIT_S * 1000000000u / 2);
    if (state == GUST_FUTURE_PENDING)
        CHECK_FAIL_("N=%lu: the request did not complete", run->fail_at);
    outcome = gust_future_error(future);
    if (state == GUST_FUTURE_VALUE) {
        ASSERT_EQ(outcome, 0);
        gust_response_t *resp = gust_http_response(future);
        ASSERT_EQ(gust_response_status(resp), 200);
        ASSERT_STR_EQ(gust_response_url(resp), run->final_url);
        size_t len;
        const char *body = gust_response_body(resp, &len);
        ASSERT_UEQ(len, BODY_LEN);
        assert_pattern(body, len, 0);
    } else {
        ASSERT_EQ(state, GUST_FUTURE_ERROR);
        if (outcome != GUST_ERR_NOMEM)
            CHECK_FAIL_("N=%lu: the request failed with %s (%s), not NOMEM", run->fail_at,
                        gust_err_name(outcome), gust_future_message(future));
    }
    gust_future_free(future);
free_client:
    gust_client_free(client);
free_runtime:
    gust_runtime_free(runtime);
    return outcome;
}

/* In a child process (run_in_child). */
static void run_child(const void *arg)
{
    const run_t *run = arg;
    int fds_before = count_fds();
    alloc_fail_arm(run->fail_at);
    int outcome = request_once(run);
    run->report->numbered = alloc_fail_disarm();
    run->report->injected = alloc_fail_injected();
    run->report->outcome = outcome;
    /* A run without the failure must succeed. */
    if (!run->report->injected)
        ASSERT_EQ(outcome, 0);
    long live = alloc_fail_live();
    int fds_after = count_fds();
    if (live != 0 || fds_after != fds_before)
        CHECK_FAIL_("N=%lu: %ld allocations and %d fds not freed (outcome %s)", run->fail_at, live,
                    fds_after - fds_before, gust_err_name(outcome));
}

int main(void)
{
    /* Before any thread: the server's process is a fork. */
    test_server_process_t *server = test_server_process_start(NULL);
    char url[256], final_url[256];
    snprintf(url, sizeof(url), "%s/redirect?code=302&to=/gzip%%3Fn%%3D%d",
             test_server_process_origin(server), BODY_LEN);
    snprintf(final_url, sizeof(final_url), "%s/gzip?n=%d", test_server_process_origin(server),
             BODY_LEN);
    report_t *report =
        mmap(NULL, sizeof(*report), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_PTR_NE(report, MAP_FAILED);

    size_t failed = 0, nomem = 0, succeeded = 0;
    unsigned long n;
    for (n = 1; n <= MAX_N; n++) {
        memset(report, 0, sizeof(*report));
        run_t run = {.url = url, .final_url = final_url, .fail_at = n, .report = report};
        if (!run_in_child(run_child, &run, RUN_LIMIT_S)) {
            fprintf(stderr, "N=%lu FAILED (the child's output is above)\n", n);
            failed++;
            continue;
        }
        if (!report->injected)
            break;
        if (report->outcome == 0)
            succeeded++;
        else
            nomem++;
    }
    ASSERT_ULE(n, MAX_N);
    fprintf(stderr,
            "N = 1..%lu: %lu runs with a failed allocation: %zu failed cleanly with out of "
            "memory, %zu succeeded anyway, %zu FAILED; the run without a failure made %lu "
            "allocations\n",
            n - 1, n - 1, nomem, succeeded, failed, report->numbered);
    munmap(report, sizeof(*report));
    test_server_process_stop(server);
    return failed > 0 ? 1 : 0;
}
