/* A 100,000-request map with faults mixed in: every slot is accounted for,
 * as a response or as the error handler's substitute, and each failure is
 * the error its fault should give. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gust/client.h"
#include "gust/err.h"
#include "gust/map.h"
#include "tests/support/check.h"
#include "tests/support/http_server.h"

enum { N = 100000 };

/* Request i's fault, by i % 20. */
static const char *path_for(size_t i, int *out_status, int *out_err)
{
    *out_status = 200;
    *out_err = 0;
    switch (i % 20) {
    case 7:
        *out_err = GUST_ERR_CONN_CLOSED;
        return "/close-mid-body?n=200";
    case 11:
        *out_status = 500;
        return "/status?code=500";
    case 13:
        *out_err = GUST_ERR_PARSE;
        return "/bad-chunk";
    case 17:
        return "/conn-close";
    default:
        return "/bytes?n=64";
    }
}

/* The errors path_for's faults give, each counted in its own slot; one
 * more slot counts any other. */
static const int fault_errs[] = {GUST_ERR_CONN_CLOSED, GUST_ERR_PARSE};
enum { NUM_FAULT_ERRS = sizeof(fault_errs) / sizeof(fault_errs[0]) };

static int slot_of(int err)
{
    int i = 0;
    while (i < NUM_FAULT_ERRS && fault_errs[i] != err)
        i++;
    return i;
}

typedef struct tally_s {
    atomic_int by_err[NUM_FAULT_ERRS + 1];
} tally_t;

static gust_response_t *on_error(const gust_request_t *req, int err, const char *message, void *arg)
{
    tally_t *tally = arg;
    ASSERT_PTR_NE(strstr(message, req->url), NULL);
    atomic_fetch_add(&tally->by_err[slot_of(err)], 1);
    return NULL;
}

int main(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = gust_client_new(NULL, NULL);
    ASSERT_PTR_NE(client, NULL);
    char(*urls)[96] = calloc(N, sizeof(*urls));
    gust_request_t *reqs = calloc(N, sizeof(*reqs));
    gust_response_t **out = calloc(N, sizeof(*out));
    int expect_err[NUM_FAULT_ERRS + 1] = {0};
    for (size_t i = 0; i < N; i++) {
        int status, err;
        test_server_url(server, urls[i], sizeof(urls[i]), "%s", path_for(i, &status, &err));
        reqs[i] = (gust_request_t){.url = urls[i]};
        if (err != 0)
            expect_err[slot_of(err)]++;
    }
    tally_t tally = {0};
    gust_map_opts_t o = gust_map_opts_default();
    o.size = 100;
    o.on_error = on_error;
    o.arg = &tally;
    ASSERT_EQ(gust_http_map(client, reqs, N, &o, out), 0);
    size_t responses = 0;
    for (size_t i = 0; i < N; i++) {
        int status, err;
        path_for(i, &status, &err);
        if (err != 0) {
            ASSERT_PTR_EQ(out[i], NULL);
            continue;
        }
        ASSERT_PTR_NE(out[i], NULL);
        ASSERT_EQ(gust_response_status(out[i]), status);
        gust_response_free(out[i]);
        responses++;
    }
    size_t errors = 0;
    for (int e = 0; e <= NUM_FAULT_ERRS; e++) {
        ASSERT_EQ(atomic_load(&tally.by_err[e]), expect_err[e]);
        errors += (size_t)expect_err[e];
    }
    ASSERT_UEQ(responses + errors, N);
    printf("%d requests: %zu responses, %zu errors, each as its fault says\n", N, responses,
           errors);
    free(urls);
    free(reqs);
    free(out);
    gust_client_free(client);
    test_server_stop(server);
    return 0;
}
